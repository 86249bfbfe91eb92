"""refattn's pytest plugin: run a test suite on NumPy and on CuPy, as refattn's own.

Installing refattn registers it (a ``pytest11`` entry point; ``refattn[test]``
adds pytest and hypothesis), so any suite gets, with nothing in its conftest.py:

* the ``xp`` fixture: the array module a test runs on. Every test that takes
  it runs once on numpy and once on cupy; the cupy run is skipped, with the
  reason, when CuPy or a GPU is missing. The fixture also makes its module
  refattn's default backend (``REFATTN_BACKEND``) for the test.
* the option ``--backend {numpy,cupy,cupy-standin,all}`` (default: the
  environment variable ``REFATTN_TEST_BACKEND``, else ``all``) to pick one.
* a CuPy stand-in, if the suite registers one (:func:`register_stand_in`;
  refattn's own suite registers ``tests/cupy_standin.py``): a third backend,
  ``cupy-standin``, that poses as CuPy while a test runs, so that CuPy's code
  paths run on a machine without a GPU.  Where CuPy is missing, ``all`` then
  means numpy and the stand-in, and the report header says why CuPy is absent.
  The ``standin`` fixture installs the stand-in alone, for a test about it.
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

import functools
import os
import sys
import types

import pytest

__all__ = ["BACKEND_CHOICES", "register_stand_in", "standin", "xp"]

#: The values of ``--backend``; ``all`` runs every test that takes ``xp`` on each backend.
BACKEND_CHOICES = ("numpy", "cupy", "cupy-standin", "all")

#: the modules that make up the registered CuPy stand-in, by their ``sys.modules`` names
_STAND_IN: dict = {}


def register_stand_in(modules: dict) -> None:
    """Register a CuPy stand-in: ``modules`` maps ``sys.modules`` names to module objects.

    ``modules["cupy"]`` must be a module named ``cupy`` whose arrays and
    functions behave as CuPy's.  While a ``cupy-standin`` test runs, each
    entry replaces ``sys.modules[name]`` (CuPy's own modules, if imported, are
    put back afterwards) and ``REFATTN_BACKEND`` is ``cupy``, so refattn takes
    the stand-in for CuPy.  Call it from a conftest.py, at import time.
    """
    if not isinstance(modules, dict):
        raise TypeError(
            f"modules must be a dict of sys.modules names to modules, got "
            f"{type(modules).__name__} {modules!r:.80}"
        )
    for name, module in modules.items():
        if not isinstance(name, str) or not isinstance(module, types.ModuleType):
            raise TypeError(
                f"modules must map names (str) to module objects, got {name!r:.40} -> "
                f"{type(module).__name__}"
            )
    if "cupy" not in modules:
        raise ValueError(f"modules must have a 'cupy' entry, got the keys {sorted(modules)}")
    if modules["cupy"].__name__ != "cupy":
        raise ValueError(
            f"modules['cupy'] must be a module named 'cupy', got {modules['cupy'].__name__!r}"
        )
    _STAND_IN.clear()
    _STAND_IN.update(modules)


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
    if chosen == "cupy-standin" and not _STAND_IN:
        raise pytest.UsageError(
            "--backend cupy-standin: this suite registers no CuPy stand-in "
            "(refattn.pytest_plugin.register_stand_in, from a conftest.py)"
        )
    if chosen not in ("all", "numpy", "cupy-standin") and (why := _unavailable(chosen)):
        # asked for by name, a missing backend is an error: skipping every test would pass
        raise pytest.UsageError(f"--backend {chosen}: the {chosen} backend is unavailable: {why}")


def _backends(config) -> list[str]:
    """The backends the xp fixture runs on under this configuration."""
    chosen = config.getoption("--backend")
    if chosen != "all":
        return [chosen]
    if not _STAND_IN:
        return ["numpy", "cupy"]  # the cupy run skips, with the reason, where CuPy is missing
    return ["numpy", "cupy-standin"] + ([] if _unavailable("cupy") else ["cupy"])


def pytest_report_header(config):
    names = _backends(config)
    line = f"refattn: xp fixture on {', '.join(names)}"
    if "cupy-standin" in names and "cupy" not in names:
        line += f" (not on cupy: {_unavailable('cupy')})"
    return line


def pytest_generate_tests(metafunc):
    if "xp" in metafunc.fixturenames:
        metafunc.parametrize("xp", _backends(metafunc.config), indirect=True)


@functools.cache  # asked once per session: Python does not cache a failed import
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
    if name == "cupy-standin":
        return _install_stand_in(monkeypatch)
    if why := _unavailable(name):
        pytest.skip(f"{name} backend unavailable: {why}")
    monkeypatch.setenv("REFATTN_BACKEND", name)
    from refattn.backend import module_for

    return module_for(name)


def _install_stand_in(monkeypatch):
    """Put the registered stand-in in place of ``cupy`` for one test; return its module."""
    for module_name, module in _STAND_IN.items():
        monkeypatch.setitem(sys.modules, module_name, module)
    monkeypatch.setenv("REFATTN_BACKEND", "cupy")
    return _STAND_IN["cupy"]


@pytest.fixture
def standin(monkeypatch):
    """The registered CuPy stand-in, installed as ``cupy`` for a test that wants it alone."""
    if not _STAND_IN:
        pytest.skip("no CuPy stand-in registered (refattn.pytest_plugin.register_stand_in)")
    return _install_stand_in(monkeypatch)
