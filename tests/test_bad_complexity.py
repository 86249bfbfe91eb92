"""Bad inputs to refattn.complexity: each names the argument, the value and the allowed domain.

Every formula checks its arguments as the mechanisms do: sizes are integers
in their domain (``n >= 1``, ``window >= 0``, ``buckets >= 2``, ...), never
bools, floats, NaN or inf; ``causal`` and ``keep_cls`` are booleans; ``kind``
and ``heads`` are one of their choices.  Huge sizes are *valid* here: the
formulas are exact integer arithmetic and allocate nothing (a positive test
below checks that 10**30 gives the exact Python integer).
"""

import inspect
import math
import re

import numpy as np
from _helpers import Bad, bad_input_params

from refattn import complexity

NAN, INF = math.nan, math.inf
FORMULAS = [getattr(complexity, name) for name in complexity.__all__]

#: a valid value of every required positional argument
REQUIRED = {"n": 64, "n_s": 64, "m": 48, "window": 3, "reach": 5}


def _valid_call(formula):
    """Positional arguments of a valid call of ``formula``."""
    return [
        REQUIRED[p.name]
        for p in inspect.signature(formula).parameters.values()
        if p.default is inspect.Parameter.empty
    ]


def _size_cases(formula, name, minimum, positional):
    """Six bad values of one size argument: below the domain, negative, float, NaN, inf, bool."""
    below = minimum - 1
    rows = [
        (below, ValueError, rf"integer >= {minimum}, got {below}"),
        (-7, ValueError, rf"integer >= {minimum}, got -7"),
        (2.5, TypeError, rf"integer >= {minimum}, got 2.5"),
        (NAN, TypeError, rf"integer >= {minimum}, got nan"),
        (INF, TypeError, rf"integer >= {minimum}, got inf"),
        (True, TypeError, rf"integer >= {minimum}, got True"),
        ("8", TypeError, rf"integer >= {minimum}, got '8'"),
        (np.float64(4.0), TypeError, rf"integer >= {minimum}, got 4.0"),
    ]
    args = _valid_call(formula)
    cases = []
    for value, error, match in rows:
        call_args, kwargs = list(args), {}
        if name in positional:
            call_args[positional.index(name)] = value
        else:
            kwargs[name] = value
        cases.append(
            Bad(
                f"{formula.__name__}-{name}-{value!r}",
                formula,
                *call_args,
                raises=error,
                arg=name,
                match=match,
                **kwargs,
            )
        )
    return cases


def _cases():
    cases = []
    for formula in FORMULAS:
        parameters = inspect.signature(formula).parameters
        positional = [
            p for p, spec in parameters.items() if spec.default is inspect.Parameter.empty
        ]
        args = _valid_call(formula)
        name = formula.__name__
        for p in parameters:
            if p in complexity._SIZES:
                cases += _size_cases(formula, p, complexity._SIZES[p], positional)
            elif p in ("causal", "keep_cls"):
                for value in ("yes", 1, None, NAN):
                    kwargs = {p: value}
                    cases.append(
                        Bad(
                            f"{name}-{p}-{value!r}",
                            formula,
                            *args,
                            raises=TypeError,
                            arg=p,
                            match=rf"True or False, got {value!r}",
                            **kwargs,
                        )
                    )
            elif p == "kind":
                wrong = "strided2" if "sparse" in name else "postive"
                for value, error in ((wrong, ValueError), (3, TypeError), (None, TypeError)):
                    cases.append(
                        Bad(
                            f"{name}-kind-{value!r}",
                            formula,
                            *args,
                            raises=error,
                            arg="kind",
                            match=rf"one of .*got {value!r}",
                            kind=value,
                        )
                    )
            elif p == "heads":
                cases.append(
                    Bad(
                        f"{name}-heads-both",
                        formula,
                        *args,
                        raises=ValueError,
                        arg="heads",
                        match=r"'union', 'first', 'second', got 'both'",
                        heads="both",
                    )
                )
            elif p in ("span", "ramp"):
                rows = [
                    (-1, ValueError),
                    (NAN, ValueError),
                    (INF, ValueError),
                    (True, TypeError),
                    ("8", TypeError),
                ]
                if p == "ramp":
                    rows.append((0, ValueError))
                bound = ">= 0" if p == "span" else "> 0"
                for value, error in rows:
                    cases.append(
                        Bad(
                            f"{name}-{p}-{value!r}",
                            formula,
                            *args,
                            raises=error,
                            arg=p,
                            match=rf"finite real number {bound}, got {re.escape(repr(value))}",
                            **{p: value},
                        )
                    )
        cases.append(
            Bad(
                f"{name}-misspelt",
                formula,
                *args,
                raises=TypeError,
                arg="chunck",
                match=rf"{name}\(\) got an unexpected argument 'chunck'.*its arguments are n",
                chunck=3,
            )
        )
    return cases


CASES = _cases()


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_integers_and_0d_arrays_are_accepted_and_give_python_ints():
    for formula in FORMULAS:
        args = _valid_call(formula)
        plain = formula(*args)
        for kind in (np.int64, np.int32, np.array):
            assert formula(*[kind(a) for a in args]) == plain
    assert isinstance(
        complexity.favor_flops(np.int64(64), np.array(16), causal=np.bool_(True)), int
    )
    assert complexity.funnel_memory(64, keep_cls=np.bool_(False)) == complexity.funnel_memory(
        64, keep_cls=False
    )


def test_numpy_integers_do_not_wrap_around():
    # n² at n = 2**40 overflows int64; the formulas compute with Python ints
    n = np.int64(2**40)
    assert complexity.dense_attention_flops(n, d=64) == complexity.dense_attention_flops(
        2**40, d=64
    )
    assert complexity.dense_attention_flops(n, d=64) > 2**80


def test_huge_sizes_are_exact_python_integers():
    n = 10**30
    assert complexity.dense_attention_memory(n, d=64) == n * n + 128 * n
    assert complexity.linformer_flops(n, 64, k=256) == 2 * 256 * n * 128 + (
        2 * n * 256 * 128 + 4 * n * 256 + n * 128
    )


def test_every_formula_has_a_table():
    targets = {case.target for case in CASES}
    assert set(FORMULAS) <= targets
    for formula in FORMULAS:
        assert sum(case.target is formula for case in CASES) >= 6, formula.__name__
