"""Every public function and class has a table of at least six bad inputs.

The tables live in ``tests/test_bad_<module>.py`` as ``CASES`` (lists of
``_helpers.Bad``), each run there.  This module gathers them and checks that
every callable in every module's ``__all__`` is covered, so a new public
function without a table fails here.
"""

import importlib
import inspect
import pathlib

HERE = pathlib.Path(__file__).parent
MODULES = sorted(
    p.stem for p in (HERE.parent / "refattn").glob("*.py") if not p.stem.startswith("_")
)
TABLES = sorted(p.stem for p in HERE.glob("test_bad_*.py") if p.stem != "test_bad_inputs")
MINIMUM = 6


def _tables():
    return [importlib.import_module(name) for name in TABLES]


def _all_cases():
    return [case for table in _tables() for case in table.CASES]


def _exempt():
    """Public classes users never construct (each table says why in its ``EXEMPT``)."""
    exempt = {}
    for table in _tables():
        exempt.update(getattr(table, "EXEMPT", {}))
    return exempt


def _public_callables():
    found = {}
    for module_name in MODULES:
        module = importlib.import_module(f"refattn.{module_name}")
        for name in getattr(module, "__all__", ()):
            obj = getattr(module, name)
            if inspect.isfunction(obj) or inspect.isclass(obj):
                if obj.__module__.startswith("refattn"):
                    found.setdefault(obj, f"{obj.__module__}.{obj.__qualname__}")
    return found


def test_every_public_callable_has_six_bad_inputs():
    counts = {}
    for case in _all_cases():
        counts[case.target] = counts.get(case.target, 0) + 1
    exempt = _exempt()
    assert all(len(reason) > 20 for reason in exempt.values()), "each exemption needs a reason"
    missing = {
        qualified: counts.get(obj, 0)
        for obj, qualified in _public_callables().items()
        if qualified not in exempt and counts.get(obj, 0) < MINIMUM
    }
    assert not missing, f"fewer than {MINIMUM} bad inputs listed: {missing}"
