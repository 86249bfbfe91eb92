"""Bad inputs to refattn.linformer: each names the argument, the value and the allowed domain."""

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn.linformer import (
    LinformerWeights,
    linformer_attention,
    lowrank_context,
    parameter_count,
    projections,
)

X = np.ones((6, 3))
EYE = np.eye(6)
NAN, INF = float("nan"), float("inf")


def _with(x, value):
    y = x.copy()
    y.flat[0] = value
    return y


def _batched(name, p):
    """Two batches of q, k, v with ``name`` (E or F) set to ``p``."""
    x = np.ones((2, 6, 3))
    return linformer_attention(x, x, x, **{"E": EYE, "F": EYE, name: p})


def _one_projection(name, p):
    """linformer_attention(X, X, X) with ``name`` (E or F) set to ``p``, the other the identity."""
    return linformer_attention(X, X, X, **{"E": EYE, "F": EYE, name: p})


# fmt: off
PROJECTION_BAD = [
    ("none", None, TypeError, r"numpy or cupy array of shape \(\.\.\., k, L\), got None"),
    ("list", EYE.tolist(), TypeError, "got list"),
    ("scalar", 1.0, TypeError, "got float 1.0"),
    ("1d", np.ones(6), ValueError, r"ndim >= 2, got shape \(6,\)"),
    ("k0", np.ones((0, 6)), ValueError, r"k >= 1 rows, got shape \(0, 6\)"),
    ("short", np.ones((3, 4)), ValueError, "at most L = 4 positions, got inputs of length 6"),
    ("int", np.eye(6, dtype=int), TypeError, "floating dtype.*got int64"),
    ("bool", np.eye(6, dtype=bool), TypeError, "got bool"),
    ("float16", np.eye(6, dtype=np.float16), TypeError, "got float16"),
    ("complex", np.eye(6, dtype=complex), TypeError, "got complex128"),
    ("object", np.eye(6).astype(object), TypeError, "got object"),
    ("nan", _with(EYE, NAN), ValueError, "finite values, got NaN or inf"),
    ("inf", _with(EYE, INF), ValueError, "finite values, got NaN or inf"),
]
# fmt: on


def _projection_cases():
    cases = []
    for name in ("E", "F"):
        cases += [
            Bad(
                f"E/F-{name}-{case}",
                _one_projection,
                name,
                p,
                raises=raises,
                arg=name,
                match=match,
                target=linformer_attention,
            )
            for case, p, raises, match in PROJECTION_BAD
        ]
        cases.append(
            Bad(
                f"E/F-{name}-batch",
                _batched,
                name,
                np.ones((4, 6, 6)),
                raises=ValueError,
                arg=name,
                match=r"must broadcast together",
                target=linformer_attention,
            )
        )
    return cases


def _size_cases(func, name):
    """The integer sizes n, k, heads, layers and the sharing mode, of projections or parameter_count."""
    cases = []
    for arg in ("n", "k", "heads", "layers"):
        for case, value, raises, match in (
            ("none", None, TypeError, "integer >= 1, got None"),
            ("zero", 0, ValueError, "integer >= 1, got 0"),
            ("negative", -3, ValueError, "integer >= 1, got -3"),
            ("float", 4.0, TypeError, "integer >= 1, got 4.0"),
            ("nan", NAN, TypeError, "got nan"),
            ("inf", INF, TypeError, "got inf"),
            ("bool", True, TypeError, "got True"),
            ("tuple", (4,), TypeError, r"got \(4,\)"),
        ):
            kwargs = {"n": 6, "k": 3, arg: value}
            n, k = kwargs.pop("n"), kwargs.pop("k")
            cases.append(
                Bad(
                    f"{name}-{arg}-{case}",
                    func,
                    n,
                    k,
                    raises=raises,
                    arg=arg,
                    match=match,
                    **kwargs,
                )
            )
    cases += [
        Bad(
            f"{name}-sharing-typo",
            func,
            6,
            3,
            sharing="head-wise",
            raises=ValueError,
            arg="sharing",
            match=r"one of 'none', 'headwise', 'key-value', 'layerwise', got 'head-wise' \(did you mean 'headwise'\?\)",
        ),
        Bad(
            f"{name}-sharing-none",
            func,
            6,
            3,
            sharing=None,
            raises=TypeError,
            arg="sharing",
            match="got None",
        ),
        Bad(
            f"{name}-sharing-bool",
            func,
            6,
            3,
            sharing=True,
            raises=TypeError,
            arg="sharing",
            match="got True",
        ),
    ]
    return cases


# fmt: off
CASES = [
    # the attention inputs (the shared convention) and the projections E, F
    Bad("attention-q-none", linformer_attention, None, X, X, E=EYE, F=EYE, raises=TypeError, arg="q", match="got None"),
    Bad("attention-k-nan", linformer_attention, X, _with(X, NAN), X, E=EYE, F=EYE, raises=ValueError, arg="k", match="finite values"),
    Bad("attention-v-inf", linformer_attention, X, X, _with(X, INF), E=EYE, F=EYE, raises=ValueError, arg="v", match="finite values"),
    Bad("attention-causal", linformer_attention, X, X, X, E=EYE, F=EYE, causal=True, raises=ValueError, arg="causal", match="cannot be causal: E·K mixes every position"),
    Bad("attention-scale-nan", linformer_attention, X, X, X, E=EYE, F=EYE, scale=NAN, raises=ValueError, arg="scale", match="finite real number > 0 or None, got nan"),
    Bad("attention-scale-zero", linformer_attention, X, X, X, E=EYE, F=EYE, scale=0.0, raises=ValueError, arg="scale", match="got 0.0"),
    Bad("attention-general-mask", linformer_attention, X, X, X, E=EYE, F=EYE, mask=np.ones((6, 6), bool), raises=ValueError, arg="mask", match="cannot be applied in linear time"),
    Bad("attention-positional-E", linformer_attention, X, X, X, EYE, EYE, raises=TypeError, arg="E=E, F=F", match="keyword arguments"),
    Bad("attention-E-F-different-k", linformer_attention, X, X, X, E=EYE, F=np.eye(5, 6), raises=ValueError, arg="E and F", match=r"same k, got E.shape \(6, 6\) and F.shape \(5, 6\)"),
    Bad("attention-huge-E-overflows", linformer_attention, X, X, X, E=np.full((6, 6), 1e308), F=EYE, raises=FloatingPointError, arg="E·K", match="overflowed the float range"),
    Bad("attention-huge-F-overflows", linformer_attention, X, X, X, E=EYE, F=np.full((6, 6), 1e308), raises=FloatingPointError, arg="F·V", match="overflowed the float range"),
    Bad("attention-huge-logits", linformer_attention, X * 1e200, X * 1e200, X, E=EYE, F=EYE, raises=FloatingPointError, arg="linformer_attention", match="overflowed .*q·k overflows float64"),
    *_projection_cases(),
    *_size_cases(projections, "projections"),
    *_size_cases(parameter_count, "parameter_count"),
    Bad("projections-k-absurd", projections, 6, 10**12, raises=ValueError, arg="k=1000000000000", match="GiB .* more than the .* GiB available"),
    Bad("projections-heads-absurd", projections, 6, 3, heads=10**30, raises=ValueError, arg=f"heads={10**30}", match="GiB .* available"),
    Bad("projections-kind-typo", projections, 6, 3, kind="gausian", raises=ValueError, arg="kind", match="'gaussian', 'orthogonal', 'sparse'"),
    Bad("projections-rng-negative", projections, 6, 3, rng=-1, raises=ValueError, arg="rng", match="None, an integer >= 0 or a random Generator, got -1"),
    Bad("projections-rng-float", projections, 6, 3, rng=1.5, raises=TypeError, arg="rng", match="got 1.5"),
    Bad("projections-rng-bool", projections, 6, 3, rng=True, raises=TypeError, arg="rng", match="got True"),
    Bad("projections-rng-nan", projections, 6, 3, rng=NAN, raises=TypeError, arg="rng", match="got nan"),
    Bad("projections-xp-typo", projections, 6, 3, xp="nunpy", raises=ValueError, arg="xp", match="None, 'numpy', 'cupy' or the numpy/cupy module, got 'nunpy'"),
    Bad("projections-xp-int", projections, 6, 3, xp=3, raises=TypeError, arg="xp", match="got 3"),
    # lowrank_context
    Bad("lowrank-q-none", lowrank_context, None, X, 2, raises=TypeError, arg="q", match="got None"),
    Bad("lowrank-q-list", lowrank_context, X.tolist(), X, 2, raises=TypeError, arg="q", match="got list"),
    Bad("lowrank-k-int", lowrank_context, X, np.ones((6, 3), dtype=int), 2, raises=TypeError, arg="k", match="floating dtype"),
    Bad("lowrank-k-shape", lowrank_context, X, np.ones((6, 4)), 2, raises=ValueError, arg="k", match=r"same last axis d as q"),
    Bad("lowrank-q-nan", lowrank_context, _with(X, NAN), X, 2, raises=ValueError, arg="q", match="finite values"),
    Bad("lowrank-k-inf", lowrank_context, X, _with(X, INF), 2, raises=ValueError, arg="k", match="finite values"),
    Bad("lowrank-kdim-zero", lowrank_context, X, X, 0, raises=ValueError, arg="kdim", match="integer >= 1, got 0"),
    Bad("lowrank-kdim-float", lowrank_context, X, X, 2.0, raises=TypeError, arg="kdim", match="got 2.0"),
    Bad("lowrank-kdim-bool", lowrank_context, X, X, True, raises=TypeError, arg="kdim", match="got True"),
    Bad("lowrank-kdim-nan", lowrank_context, X, X, NAN, raises=TypeError, arg="kdim", match="got nan"),
    Bad("lowrank-kdim-absurd", lowrank_context, X, X, 10**15, raises=ValueError, arg="kdim=1000000000000000", match="GiB .* available"),
    Bad("lowrank-rng-negative", lowrank_context, X, X, 2, rng=-2, raises=ValueError, arg="rng", match="got -2"),
    Bad("lowrank-huge-logits", lowrank_context, X * 1e200, X * 1e200, 2, raises=FloatingPointError, arg="logits", match="overflowed the float range"),
]
# fmt: on

EXEMPT = {
    "refattn.linformer.LinformerWeights": (
        "a result container that linformer_attention builds; its only method, to_dense(), "
        "takes no argument"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_0d_arrays_are_accepted():
    for value in (np.int64(6), np.int32(6), np.array(6)):
        assert parameter_count(value, np.int64(3), heads=np.int16(2), sharing="none") == 72
        p = projections(value, np.array(3), heads=np.int64(2), layers=np.int8(1), rng=np.int64(0))
        assert p[0][0][0].shape == (3, 6)
        approx, _ = lowrank_context(X, X, value, rng=np.array(1))
        assert approx.shape == (6, 6)
    out = linformer_attention(X, X, X, E=EYE, F=EYE, scale=np.float32(0.5), causal=np.bool_(False))
    np.testing.assert_allclose(out, X)


def test_weights_container_gives_the_dense_matrix():
    q = np.random.default_rng(0).standard_normal((6, 3))
    out, weights = linformer_attention(q, q, X, E=EYE[:4], F=EYE[:4], return_weights=True)
    assert isinstance(weights, LinformerWeights)
    np.testing.assert_allclose(weights.to_dense() @ X, out)


def test_inputs_are_not_modified():
    g = np.random.default_rng(1)
    q, k, v = (g.standard_normal((6, 3)) for _ in range(3))
    e = g.standard_normal((4, 6))
    mask = np.ones((1, 6), bool)
    mask[0, 2] = False
    copies = [a.copy() for a in (q, k, v, e, mask)]
    linformer_attention(q, k, v, E=e, F=e, mask=mask)
    lowrank_context(q, k, 3, rng=0)
    for a, b in zip((q, k, v, e, mask), copies, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("magnitude", [1e-150, 1e150])
def test_linformer_at_large_and_small_scales_is_finite(magnitude):
    # values far from 1 but whose products fit: the result is exact attention over E K, F V
    g = np.random.default_rng(2)
    q, k = g.standard_normal((6, 3)) / magnitude, g.standard_normal((6, 3)) * magnitude
    v = g.standard_normal((6, 3)) * magnitude
    out = linformer_attention(q, k, v, E=EYE, F=EYE)
    logits = q @ k.T / np.sqrt(3)
    w = np.exp(logits - logits.max(axis=-1, keepdims=True))
    np.testing.assert_allclose(out, (w / w.sum(axis=-1, keepdims=True)) @ v, rtol=1e-12)
