"""Every public function and class has a table of at least six bad inputs.

The tables live in ``tests/test_bad_<module>.py`` as ``CASES`` (lists of
``_helpers.Bad``), each run there.  This module gathers them and checks that
every callable in every module's ``__all__`` is covered, so a new public
function without a table fails here.  It also checks the bookkeeping itself:
every ``EXEMPT`` key must name an existing public function or class (a stale
exemption fails), and every table module must run its ``CASES`` (a
``test_bad_input`` parametrized over them).
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


def test_every_exemption_names_an_existing_public_callable():
    public = set(_public_callables().values())
    stale = {
        f"{table.__name__}: {key}"
        for table in _tables()
        for key in getattr(table, "EXEMPT", {})
        if key not in public
    }
    assert not stale, f"EXEMPT names no public function or class (remove or rename it): {stale}"


def test_every_table_runs_its_cases():
    for table in _tables():
        cases = getattr(table, "CASES", None)
        assert isinstance(cases, list) and cases, f"{table.__name__} lists no CASES"
        test = getattr(table, "test_bad_input", None)
        assert callable(test), f"{table.__name__} defines no test_bad_input running its CASES"
        marks = [m for m in getattr(test, "pytestmark", ()) if m.name == "parametrize"]
        params = [value for m in marks for value in m.args[1]]
        assert any(m.args[0] == "case" for m in marks) and params == cases, (
            f"{table.__name__}.test_bad_input is not parametrized over CASES "
            f"(use @bad_input_params(CASES))"
        )
