"""refattn's pytest plugin: run a test suite on NumPy and on CuPy, as refattn's own.

Installing refattn registers it (a ``pytest11`` entry point; ``refattn[test]``
adds pytest and hypothesis), so any suite gets, with nothing in its conftest.py:

* the ``xp`` fixture: the array module a test runs on. Every test that takes
  it runs once on numpy and once on cupy; the cupy run is skipped, with the
  reason, when CuPy or a GPU is missing. The fixture also makes its module
  refattn's default backend (``REFATTN_BACKEND``) for the test.
* the option ``--backend {numpy,cupy,all}`` (default: the environment
  variable ``REFATTN_TEST_BACKEND``, else ``all``) to pick one backend.
* hypothesis profiles: ``dev`` (the default: 60 examples, no deadline),
  ``ci`` (``derandomize=True``, no deadline), chosen automatically when the
  ``CI`` variable is set, and ``stress`` (1000 fresh random examples per
  property: a bug hunt to run by hand before a release, too slow and too
  random for CI). ``HYPOTHESIS_PROFILE=NAME`` picks one outside CI;
  hypothesis's own ``--hypothesis-profile NAME``, or a profile that a
  conftest.py loads, takes precedence.

Without the entry point (``PYTEST_DISABLE_PLUGIN_AUTOLOAD``, or refattn not
installed), load it with ``python -m pytest -p refattn.pytest_plugin``.
The plugin imports hypothesis only if it is installed, and CuPy only when a
test asks for the cupy backend.
"""

from __future__ import annotations

import os

import pytest

__all__ = ["BACKEND_CHOICES", "xp"]

#: The values of ``--backend``; ``all`` runs every test that takes ``xp`` on each backend.
BACKEND_CHOICES = ("numpy", "cupy", "all")

_PROFILES = ("dev", "ci", "stress")


def pytest_addoption(parser):
    parser.addoption(
        "--backend",
        choices=BACKEND_CHOICES,
        default=os.environ.get("REFATTN_TEST_BACKEND", "all"),
        help="refattn: array backend for tests taking the xp fixture "
        "(default: $REFATTN_TEST_BACKEND, else all available)",
    )


def _hypothesis_profiles() -> None:
    """Register dev, ci and stress and load the chosen one; nothing when hypothesis is absent."""
    try:
        from hypothesis import HealthCheck, settings
    except ImportError:  # hypothesis is a test extra: a suite without it has no profiles to load
        return
    common = dict(
        deadline=None,
        # the xp fixture is a module, not state: sharing it across examples is safe
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    settings.register_profile("dev", max_examples=60, **common)
    settings.register_profile("ci", max_examples=60, derandomize=True, print_blob=True, **common)
    settings.register_profile("stress", max_examples=1000, print_blob=True, **common)
    current = getattr(settings, "get_current_profile_name", lambda: settings._current_profile)()
    if current not in ("default", "ci"):  # a conftest chose its own profile: it keeps it
        return
    name = "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
    try:
        settings.load_profile(name)
    except Exception as exc:  # hypothesis' InvalidArgument: a profile nobody registered
        raise pytest.UsageError(
            f"HYPOTHESIS_PROFILE={name!r} is not a registered hypothesis profile; "
            f"refattn's are {', '.join(_PROFILES)} ({exc})"
        ) from None


# first, so that hypothesis's own --hypothesis-profile (its pytest_configure) has the last word
@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    _hypothesis_profiles()
    chosen = config.getoption("--backend", default="all")
    if chosen not in ("all", "numpy") and (why := _unavailable(chosen)):
        # asked for by name, a missing backend is an error: skipping every test would pass
        raise pytest.UsageError(f"--backend {chosen}: the {chosen} backend is unavailable: {why}")


def pytest_report_header(config):
    chosen = config.getoption("--backend")
    return f"refattn: xp fixture on {'numpy and cupy' if chosen == 'all' else chosen}"


def pytest_generate_tests(metafunc):
    if "xp" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--backend")
        names = ["numpy", "cupy"] if chosen == "all" else [chosen]
        metafunc.parametrize("xp", names, indirect=True)


def _unavailable(name: str) -> str | None:
    """Why backend ``name`` cannot run here, or None; CuPy is imported only for ``cupy``."""
    if name == "numpy":
        return None
    from refattn.backend import available_backends

    status = available_backends()[name]
    return None if status == "available" else status


@pytest.fixture
def xp(request, monkeypatch):
    """The array module under test; also made refattn's default backend for the test."""
    name = request.param
    if why := _unavailable(name):
        pytest.skip(f"{name} backend unavailable: {why}")
    monkeypatch.setenv("REFATTN_BACKEND", name)
    from refattn.backend import module_for

    return module_for(name)
