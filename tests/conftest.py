"""Shared test harness.

* ``xp``: the array module a test runs on. Every test that takes it runs once
  on numpy and once on cupy; the cupy run is skipped, with the reason, when
  CuPy or a GPU is missing. Pick one backend with ``pytest --backend numpy``
  (or ``cupy``), or the environment variable ``REFATTN_TEST_BACKEND``.
* hypothesis profiles: ``dev`` (default) and ``ci`` (``derandomize=True``,
  no deadline), chosen automatically when the ``CI`` variable is set;
  ``HYPOTHESIS_PROFILE=ci`` forces it locally.  ``HYPOTHESIS_PROFILE=stress``
  runs 1000 fresh random examples per property (not derandomized): a bug hunt
  to run by hand before a release, too slow and too random for CI.
"""

import os

import pytest
from hypothesis import HealthCheck, settings

from refattn.backend import BACKENDS, available_backends, default_backend

_COMMON = dict(
    deadline=None,
    # the xp fixture is a module, not state: sharing it across examples is safe
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=60, **_COMMON)
settings.register_profile("ci", max_examples=60, derandomize=True, print_blob=True, **_COMMON)
settings.register_profile("stress", max_examples=1000, print_blob=True, **_COMMON)
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=(*BACKENDS, "all"),
        default=os.environ.get("REFATTN_TEST_BACKEND", "all"),
        help="array backend for tests taking the xp fixture (default: all available)",
    )


def pytest_generate_tests(metafunc):
    if "xp" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        names = list(BACKENDS) if chosen == "all" else [chosen]
        metafunc.parametrize("xp", names, indirect=True)


@pytest.fixture
def xp(request, monkeypatch):
    """The array module under test; also made the default backend for the test."""
    status = available_backends()[request.param]
    if status != "available":
        pytest.skip(f"{request.param} backend unavailable: {status}")
    monkeypatch.setenv("REFATTN_BACKEND", request.param)
    return default_backend()
