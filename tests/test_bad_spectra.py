"""Bad inputs to refattn.spectra: each names the argument, the value and the allowed domain."""

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn.spectra import (
    best_rank_k,
    cumulative_spectrum,
    effective_rank,
    energy_at,
    singular_values,
)

P = np.eye(3)
S = np.array([3.0, 2.0, 1.0])
NAN, INF = float("nan"), float("inf")


def _with(x, value, index=0):
    """A copy of ``x`` with ``value`` at flat position ``index``."""
    y = x.copy()
    y.flat[index] = value
    return y


def _matrix_cases(name, func, *extra):
    """Bad matrices ``p`` for the function ``func`` (named ``name`` in the case ids)."""
    return [
        Bad(f"{name}-p-none", func, None, *extra, raises=TypeError, arg="p", match="got None"),
        Bad(
            f"{name}-p-list", func, P.tolist(), *extra, raises=TypeError, arg="p", match="got list"
        ),
        Bad(f"{name}-p-scalar", func, 1.0, *extra, raises=TypeError, arg="p", match="got float"),
        Bad(
            f"{name}-p-1d",
            func,
            S,
            *extra,
            raises=ValueError,
            arg="p",
            match=r"ndim >= 2, got shape \(3,\)",
        ),
        Bad(
            f"{name}-p-empty",
            func,
            np.ones((0, 3)),
            *extra,
            raises=ValueError,
            arg="p",
            match=r"n >= 1 rows .* got shape \(0, 3\)",
        ),
        Bad(
            f"{name}-p-int",
            func,
            np.eye(3, dtype=int),
            *extra,
            raises=TypeError,
            arg="p",
            match="floating dtype.*got int64",
        ),
        Bad(
            f"{name}-p-bool",
            func,
            np.eye(3, dtype=bool),
            *extra,
            raises=TypeError,
            arg="p",
            match="floating dtype.*got bool",
        ),
        Bad(
            f"{name}-p-float16",
            func,
            np.eye(3, dtype=np.float16),
            *extra,
            raises=TypeError,
            arg="p",
            match="got float16",
        ),
        Bad(
            f"{name}-p-complex",
            func,
            np.eye(3, dtype=complex),
            *extra,
            raises=TypeError,
            arg="p",
            match="got complex128",
        ),
        Bad(
            f"{name}-p-object",
            func,
            np.eye(3).astype(object),
            *extra,
            raises=TypeError,
            arg="p",
            match="got object",
        ),
        Bad(
            f"{name}-p-nan",
            func,
            _with(P, NAN),
            *extra,
            raises=ValueError,
            arg="p",
            match="finite values, got NaN or inf",
        ),
        Bad(
            f"{name}-p-inf",
            func,
            _with(P, INF),
            *extra,
            raises=ValueError,
            arg="p",
            match="finite values, got NaN or inf",
        ),
    ]


def _spectrum_cases(name, func, *extra, descending):
    cases = [
        Bad(f"{name}-s-none", func, None, *extra, raises=TypeError, arg="s", match="got None"),
        Bad(
            f"{name}-s-list", func, [3.0, 1.0], *extra, raises=TypeError, arg="s", match="got list"
        ),
        Bad(
            f"{name}-s-scalar", func, 3.0, *extra, raises=TypeError, arg="s", match="got float 3.0"
        ),
        Bad(
            f"{name}-s-0d",
            func,
            np.array(3.0),
            *extra,
            raises=ValueError,
            arg="s",
            match=r"ndim >= 1, got shape \(\)",
        ),
        Bad(
            f"{name}-s-empty",
            func,
            np.ones((2, 0)),
            *extra,
            raises=ValueError,
            arg="s",
            match=r"at least one singular value .* got shape \(2, 0\)",
        ),
        Bad(
            f"{name}-s-int",
            func,
            np.array([3, 1]),
            *extra,
            raises=TypeError,
            arg="s",
            match="floating dtype.*got int64",
        ),
        Bad(
            f"{name}-s-bool",
            func,
            np.array([True]),
            *extra,
            raises=TypeError,
            arg="s",
            match="got bool",
        ),
        Bad(
            f"{name}-s-float16",
            func,
            S.astype(np.float16),
            *extra,
            raises=TypeError,
            arg="s",
            match="got float16",
        ),
        Bad(
            f"{name}-s-complex",
            func,
            S.astype(complex),
            *extra,
            raises=TypeError,
            arg="s",
            match="got complex128",
        ),
        Bad(
            f"{name}-s-nan",
            func,
            _with(S, NAN),
            *extra,
            raises=ValueError,
            arg="s",
            match="finite values, got NaN or inf",
        ),
        Bad(
            f"{name}-s-inf",
            func,
            _with(S, INF),
            *extra,
            raises=ValueError,
            arg="s",
            match="finite values, got NaN or inf",
        ),
        Bad(
            f"{name}-s-negative",
            func,
            np.array([3.0, -1.0]),
            *extra,
            raises=ValueError,
            arg="s",
            match=r"non-negative .* minimum -1.0",
        ),
        Bad(
            f"{name}-s-all-zero-row",
            func,
            np.array([[1.0, 0.0], [0.0, 0.0]]),
            *extra,
            raises=ValueError,
            arg="s",
            match="positive sum .* all-zero row",
        ),
    ]
    if descending:
        cases.append(
            Bad(
                f"{name}-s-ascending",
                func,
                np.array([1.0, 3.0]),
                *extra,
                raises=ValueError,
                arg="s",
                match="descending order",
            )
        )
    return cases


def _k_cases(name, func, first, top):
    return [
        Bad(
            f"{name}-k-none",
            func,
            first,
            None,
            raises=TypeError,
            arg="k",
            match=f"integer >= 0 and <= {top}, got None",
        ),
        Bad(f"{name}-k-float", func, first, 1.0, raises=TypeError, arg="k", match="got 1.0"),
        Bad(f"{name}-k-nan", func, first, NAN, raises=TypeError, arg="k", match="got nan"),
        Bad(f"{name}-k-inf", func, first, INF, raises=TypeError, arg="k", match="got inf"),
        Bad(f"{name}-k-bool", func, first, True, raises=TypeError, arg="k", match="got True"),
        Bad(f"{name}-k-str", func, first, "2", raises=TypeError, arg="k", match="got '2'"),
        Bad(f"{name}-k-tuple", func, first, (1,), raises=TypeError, arg="k", match=r"got \(1,\)"),
        Bad(f"{name}-k-negative", func, first, -1, raises=ValueError, arg="k", match="got -1"),
        Bad(
            f"{name}-k-above-top",
            func,
            first,
            top + 1,
            raises=ValueError,
            arg="k",
            match=f"<= {top}, got {top + 1}",
        ),
        Bad(
            f"{name}-k-huge",
            func,
            first,
            10**30,
            raises=ValueError,
            arg="k",
            match=f"<= {top}, got {10**30}",
        ),
    ]


# fmt: off
CASES = [
    *_matrix_cases("singular_values", singular_values),
    *_matrix_cases("best_rank_k", best_rank_k, 1),
    *_k_cases("best_rank_k", best_rank_k, P, 3),
    Bad("best_rank_k-k-above-min-n-m", best_rank_k, np.ones((2, 3)), 3, raises=ValueError, arg="k", match="integer >= 0 and <= 2, got 3"),
    Bad("best_rank_k-k-above-min-m-n", best_rank_k, np.ones((3, 2)), 3, raises=ValueError, arg="k", match="integer >= 0 and <= 2, got 3"),
    *_spectrum_cases("cumulative_spectrum", cumulative_spectrum, descending=True),
    *_spectrum_cases("effective_rank", effective_rank, descending=False),
    *_spectrum_cases("energy_at", energy_at, 1, descending=True),
    *_k_cases("energy_at", energy_at, S, 3),
]
# fmt: on


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_0d_arrays_are_accepted():
    s = np.array([3.0, 1.0])
    for k in (np.int64(1), np.int32(1), np.array(1)):
        assert float(energy_at(s, k)) == pytest.approx(0.9)
        np.testing.assert_allclose(best_rank_k(np.diag([3.0, 1.0]), k), np.diag([3.0, 0.0]))
    assert singular_values(np.eye(2, dtype=np.float32)).dtype == np.float32


def test_inputs_are_not_modified():
    p, s = np.diag([3.0, 1.0]), np.array([4.0, 2.0])
    p0, s0 = p.copy(), s.copy()
    singular_values(p), best_rank_k(p, 1), cumulative_spectrum(s), effective_rank(s)
    energy_at(s, 1)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_array_equal(s, s0)
