"""Bad inputs to refattn.real_attention: each names the argument, the value and the allowed domain.

The experiments take an encoder; these cases use the tiny random stand-in of
tests/test_real_attention.py (every argument is checked before the encoder
runs), so none of them needs the pretrained weights.
"""

import numpy as np
import pytest
from _helpers import Bad, bad_input_params
from test_real_attention import TinyEncoder

from refattn.real_attention import (
    attention_locality,
    attention_singular_values,
    attention_spectra,
    chunk_outputs,
    linformer_projection_errors,
    mean_pooling,
    random_attention_like,
    random_attention_spectra,
    spectrum_heatmap,
    window_mass,
)

ENC = TinyEncoder()  # vocab_size 50, max_positions 64
IDS = np.arange(16).reshape(2, 8)
NAN, INF = float("nan"), float("inf")
P = np.full((2, 4, 4), 0.25)
SPECTRA = {"c": np.ones((1, 2, 2, 8)), "random": np.ones((2, 2, 8))}


def _with(x, value):
    y = x.copy()
    y.flat[0] = value
    return y


def _chunk_list(encoder, ids):
    return list(chunk_outputs(encoder, ids))


def _experiment_cases(name, func):
    """The encoder and ids of each experiment (as chunk_outputs checks them)."""
    cases = [
        Bad(
            f"{name}-encoder-none",
            func,
            None,
            IDS,
            raises=TypeError,
            arg="encoder",
            match=r"refattn.pretrained.Encoder .* got NoneType None",
        ),
        Bad(
            f"{name}-encoder-str",
            func,
            "minilm",
            IDS,
            raises=TypeError,
            arg="encoder",
            match="got str 'minilm'",
        ),
        Bad(
            f"{name}-encoder-object",
            func,
            object(),
            IDS,
            raises=TypeError,
            arg="encoder",
            match="got object",
        ),
        Bad(
            f"{name}-ids-none",
            func,
            ENC,
            None,
            raises=TypeError,
            arg="ids",
            match="got None",
        ),
        Bad(
            f"{name}-ids-list",
            func,
            ENC,
            IDS.tolist(),
            raises=TypeError,
            arg="ids",
            match="got list",
        ),
        Bad(
            f"{name}-ids-1d",
            func,
            ENC,
            IDS[0],
            raises=ValueError,
            arg="ids",
            match=r"\(N, n\) \(ndim 2\), got shape \(8,\)",
        ),
        Bad(
            f"{name}-ids-float",
            func,
            ENC,
            IDS * 1.0,
            raises=TypeError,
            arg="ids",
            match="integer array, got dtype float64",
        ),
        Bad(
            f"{name}-ids-bool",
            func,
            ENC,
            IDS > 3,
            raises=TypeError,
            arg="ids",
            match="integer array, got dtype bool",
        ),
        Bad(
            f"{name}-ids-one-token",
            func,
            ENC,
            IDS[:, :1],
            raises=ValueError,
            arg="ids",
            match=r"n >= 2, got \(2, 1\)",
        ),
        Bad(
            f"{name}-ids-no-chunk",
            func,
            ENC,
            IDS[:0],
            raises=ValueError,
            arg="ids",
            match=r"N >= 1 .* got \(0, 8\)",
        ),
        Bad(
            f"{name}-ids-too-long",
            func,
            ENC,
            np.zeros((1, 65), dtype=int),
            raises=ValueError,
            arg="ids",
            match=r"at most n = 64 positions .* got shape \(1, 65\)",
        ),
        Bad(
            f"{name}-ids-out-of-vocab",
            func,
            ENC,
            IDS + 40,
            raises=ValueError,
            arg="ids",
            match=r"token ids in \[0, 50\), got values in \[40, 55\]",
        ),
        Bad(
            f"{name}-ids-negative",
            func,
            ENC,
            IDS - 1,
            raises=ValueError,
            arg="ids",
            match=r"got values in \[-1, 14\]",
        ),
    ]
    for case in cases:  # the list form counts for chunk_outputs
        case.target = chunk_outputs if func is _chunk_list else func
    return cases


def _square_cases(name, func):
    return [
        Bad(f"{name}-p-none", func, None, raises=TypeError, arg="p", match="got None"),
        Bad(f"{name}-p-list", func, P.tolist(), raises=TypeError, arg="p", match="got list"),
        Bad(
            f"{name}-p-1d",
            func,
            np.ones(4),
            raises=ValueError,
            arg="p",
            match=r"ndim >= 2, got shape \(4,\)",
        ),
        Bad(
            f"{name}-p-not-square",
            func,
            np.ones((3, 4)),
            raises=ValueError,
            arg="p",
            match=r"\(\.\.\., n, n\) with n >= 1, got shape \(3, 4\)",
        ),
        Bad(
            f"{name}-p-empty",
            func,
            np.ones((0, 0)),
            raises=ValueError,
            arg="p",
            match=r"n >= 1, got shape \(0, 0\)",
        ),
        Bad(
            f"{name}-p-int",
            func,
            np.eye(4, dtype=int),
            raises=TypeError,
            arg="p",
            match="floating dtype.*got int64",
        ),
        Bad(
            f"{name}-p-bool",
            func,
            np.eye(4, dtype=bool),
            raises=TypeError,
            arg="p",
            match="got bool",
        ),
        Bad(
            f"{name}-p-float16",
            func,
            np.eye(4, dtype=np.float16),
            raises=TypeError,
            arg="p",
            match="got float16",
        ),
        Bad(
            f"{name}-p-complex",
            func,
            np.eye(4, dtype=complex),
            raises=TypeError,
            arg="p",
            match="got complex128",
        ),
        Bad(
            f"{name}-p-nan",
            func,
            _with(P, NAN),
            raises=ValueError,
            arg="p",
            match="finite values, got NaN or inf",
        ),
        Bad(
            f"{name}-p-inf",
            func,
            _with(P, INF),
            raises=ValueError,
            arg="p",
            match="finite values, got NaN or inf",
        ),
    ]


def _size_cases(name, func, arg, **fixed):
    """An integer size ``arg`` >= 1 of ``func``."""
    return [
        Bad(
            f"{name}-{arg}-{case}",
            func,
            raises=raises,
            arg=arg,
            match=match,
            **fixed,
            **{arg: value},
        )
        for case, value, raises, match in (
            ("zero", 0, ValueError, "integer >= 1, got 0"),
            ("negative", -2, ValueError, "integer >= 1, got -2"),
            ("float", 4.0, TypeError, "got 4.0"),
            ("nan", NAN, TypeError, "got nan"),
            ("bool", True, TypeError, "got True"),
            ("none", None, TypeError, "got None"),
        )
    ]


# fmt: off
CASES = [
    *_experiment_cases("chunk_outputs", _chunk_list),
    *_experiment_cases("chunk_outputs-call", chunk_outputs),
    *_experiment_cases("attention_spectra", attention_spectra),
    Bad("attention_spectra-quantiles-reversed", attention_spectra, ENC, IDS, quantiles=(0.9, 0.1), raises=ValueError, arg="quantiles", match=r"0 <= low <= high <= 1, got \(0.9, 0.1\)"),
    Bad("attention_spectra-quantiles-nan", attention_spectra, ENC, IDS, quantiles=(NAN, 0.9), raises=ValueError, arg="quantiles[0]", match="finite real number >= 0 and <= 1, got nan"),
    Bad("attention_spectra-quantiles-above-1", attention_spectra, ENC, IDS, quantiles=(0.1, 1.5), raises=ValueError, arg="quantiles[1]", match="got 1.5"),
    Bad("attention_spectra-quantiles-scalar", attention_spectra, ENC, IDS, quantiles=0.5, raises=TypeError, arg="quantiles", match=r"pair \(low, high\) .* got 0.5"),
    Bad("attention_spectra-quantiles-three", attention_spectra, ENC, IDS, quantiles=(0.1, 0.5, 0.9), raises=TypeError, arg="quantiles", match=r"got \(0.1, 0.5, 0.9\)"),
    Bad("attention_spectra-quantiles-bool", attention_spectra, ENC, IDS, quantiles=(True, 0.9), raises=TypeError, arg="quantiles[0]", match="got True"),
    Bad("attention_spectra-seed-negative", attention_spectra, ENC, IDS, seed=-1, raises=ValueError, arg="seed", match="integer >= 0, got -1"),
    Bad("attention_spectra-seed-float", attention_spectra, ENC, IDS, seed=1.5, raises=TypeError, arg="seed", match="got 1.5"),
    *_experiment_cases("attention_locality", attention_locality),
    Bad("attention_locality-widths-too-wide", attention_locality, ENC, IDS, widths=(0, 8), raises=ValueError, arg="widths", match=r"lie in \[0, 8\), got \[0, 8\]"),
    Bad("attention_locality-widths-empty", attention_locality, ENC, IDS, widths=(), raises=ValueError, arg="widths", match=r"non-empty .* got \[\]"),
    Bad("attention_locality-widths-int", attention_locality, ENC, IDS, widths=4, raises=TypeError, arg="widths", match="tuple of integers >= 0, got 4"),
    Bad("attention_locality-widths-negative", attention_locality, ENC, IDS, widths=(-1,), raises=ValueError, arg="widths[0]", match="integer >= 0, got -1"),
    Bad("attention_locality-widths-float", attention_locality, ENC, IDS, widths=(1.5,), raises=TypeError, arg="widths[0]", match="got 1.5"),
    Bad("attention_locality-level-zero", attention_locality, ENC, IDS, widths=(0, 1), level=0, raises=ValueError, arg="level", match="> 0.0 and <= 1.0, got 0"),
    Bad("attention_locality-level-nan", attention_locality, ENC, IDS, widths=(0, 1), level=NAN, raises=ValueError, arg="level", match="got nan"),
    Bad("attention_locality-level-huge", attention_locality, ENC, IDS, widths=(0, 1), level=1e30, raises=ValueError, arg="level", match="got 1e\\+30"),
    Bad("attention_locality-level-bool", attention_locality, ENC, IDS, widths=(0, 1), level=True, raises=TypeError, arg="level", match="got True"),
    Bad("attention_locality-global-int", attention_locality, ENC, IDS, widths=(0, 1), global_tokens=0, raises=TypeError, arg="global_tokens", match="tuple of integers >= -8, got 0"),
    Bad("attention_locality-global-out-of-range", attention_locality, ENC, IDS, widths=(0, 1), global_tokens=(8,), raises=ValueError, arg="global_tokens", match=r"lie in \[-8, 8\), got \[8\]"),
    Bad("attention_locality-global-too-negative", attention_locality, ENC, IDS, widths=(0, 1), global_tokens=(-9,), raises=ValueError, arg="global_tokens[0]", match="integer >= -8, got -9"),
    *_experiment_cases("linformer_projection_errors", linformer_projection_errors),
    Bad("lpe-ks-above-n", linformer_projection_errors, ENC, IDS, ks=(9,), raises=ValueError, arg="ks", match=r"lie in \[1, 8\], got \[9\]"),
    Bad("lpe-ks-empty", linformer_projection_errors, ENC, IDS, ks=(), raises=ValueError, arg="ks", match=r"non-empty .* got \[\]"),
    Bad("lpe-ks-int", linformer_projection_errors, ENC, IDS, ks=4, raises=TypeError, arg="ks", match="tuple of integers >= 1, got 4"),
    Bad("lpe-ks-zero", linformer_projection_errors, ENC, IDS, ks=(0,), raises=ValueError, arg="ks[0]", match="integer >= 1, got 0"),
    Bad("lpe-kinds-typo", linformer_projection_errors, ENC, IDS, ks=(4,), kinds=("gausian",), raises=ValueError, arg="kinds[0]", match="got 'gausian' \\(did you mean 'gaussian'\\?\\)"),
    Bad("lpe-kinds-str", linformer_projection_errors, ENC, IDS, ks=(4,), kinds="gaussian", raises=TypeError, arg="kinds", match="tuple of strings .* got 'gaussian'"),
    Bad("lpe-kinds-none-inside", linformer_projection_errors, ENC, IDS, ks=(4,), kinds=(None,), raises=TypeError, arg="kinds[0]", match="got None"),
    Bad("lpe-seeds-zero", linformer_projection_errors, ENC, IDS, ks=(4,), seeds=0, raises=ValueError, arg="seeds", match="integer >= 1, got 0"),
    Bad("lpe-seeds-float", linformer_projection_errors, ENC, IDS, ks=(4,), seeds=2.0, raises=TypeError, arg="seeds", match="got 2.0"),
    Bad("lpe-seeds-absurd", linformer_projection_errors, ENC, IDS, ks=(4,), seeds=10**15, raises=ValueError, arg="seeds=1000000000000000", match="GiB .* available"),
    *_square_cases("attention_singular_values", attention_singular_values),
    *_square_cases("window_mass", window_mass),
    Bad("window_mass-global-int", window_mass, P, global_tokens=1, raises=TypeError, arg="global_tokens", match="tuple of integers >= 0, got 1"),
    Bad("window_mass-global-out-of-range", window_mass, P, global_tokens=(4,), raises=ValueError, arg="global_tokens", match=r"lie in \[0, 4\), got \[4\]"),
    Bad("window_mass-global-negative", window_mass, P, global_tokens=(-1,), raises=ValueError, arg="global_tokens[0]", match="integer >= 0, got -1"),
    Bad("window_mass-global-float", window_mass, P, global_tokens=(1.0,), raises=TypeError, arg="global_tokens[0]", match="got 1.0"),
    Bad("window_mass-global-str", window_mass, P, global_tokens="01", raises=TypeError, arg="global_tokens", match="got '01'"),
    *_size_cases("random_attention_spectra", random_attention_spectra, "n", d=2),
    *_size_cases("random_attention_spectra", random_attention_spectra, "d", n=4),
    Bad("random_attention_spectra-n-absurd", random_attention_spectra, n=10**9, d=2, raises=ValueError, arg="n=1000000000", match="GiB .* available"),
    Bad("random_attention_spectra-scales-scalar", random_attention_spectra, n=4, d=2, scales=1.0, raises=TypeError, arg="scales", match="non-empty tuple of finite real numbers >= 0.0, got 1.0"),
    Bad("random_attention_spectra-scales-empty", random_attention_spectra, n=4, d=2, scales=(), raises=TypeError, arg="scales", match=r"got \(\)"),
    Bad("random_attention_spectra-scales-nan", random_attention_spectra, n=4, d=2, scales=(NAN,), raises=ValueError, arg="scales[0]", match="got nan"),
    Bad("random_attention_spectra-scales-inf", random_attention_spectra, n=4, d=2, scales=(INF,), raises=ValueError, arg="scales[0]", match="got inf"),
    Bad("random_attention_spectra-scales-negative", random_attention_spectra, n=4, d=2, scales=(-1.0,), raises=ValueError, arg="scales[0]", match=">= 0.0, got -1.0"),
    Bad("random_attention_spectra-scales-bool", random_attention_spectra, n=4, d=2, scales=(True,), raises=TypeError, arg="scales[0]", match="got True"),
    Bad("random_attention_spectra-scales-overflow", random_attention_spectra, n=4, d=2, scales=(1e200,), raises=FloatingPointError, arg="scales", match="overflowed the float range"),
    Bad("random_attention_spectra-seed-negative", random_attention_spectra, n=4, d=2, seed=-1, raises=ValueError, arg="seed", match="got -1"),
    Bad("random_attention_spectra-seed-bool", random_attention_spectra, n=4, d=2, seed=True, raises=TypeError, arg="seed", match="got True"),
    Bad("random_attention_like-spread-none", random_attention_like, None, n=4, d=2, raises=TypeError, arg="logit_spread", match="got None"),
    Bad("random_attention_like-spread-list", random_attention_like, [1.0], n=4, d=2, raises=TypeError, arg="logit_spread", match="got list"),
    Bad("random_attention_like-spread-scalar", random_attention_like, 1.0, n=4, d=2, raises=TypeError, arg="logit_spread", match="got float 1.0"),
    Bad("random_attention_like-spread-bool", random_attention_like, np.array([True]), n=4, d=2, raises=TypeError, arg="logit_spread", match="real array .* got dtype bool"),
    Bad("random_attention_like-spread-complex", random_attention_like, np.array([1j]), n=4, d=2, raises=TypeError, arg="logit_spread", match="got dtype complex128"),
    Bad("random_attention_like-spread-float16", random_attention_like, np.array([1.0], np.float16), n=4, d=2, raises=TypeError, arg="logit_spread", match="got dtype float16"),
    Bad("random_attention_like-spread-nan", random_attention_like, np.array([NAN]), n=4, d=2, raises=ValueError, arg="logit_spread", match="finite values"),
    Bad("random_attention_like-spread-inf", random_attention_like, np.array([INF]), n=4, d=2, raises=ValueError, arg="logit_spread", match="finite values"),
    Bad("random_attention_like-spread-negative", random_attention_like, np.array([-1.0]), n=4, d=2, raises=ValueError, arg="logit_spread", match=">= 0 everywhere, got .* minimum -1.0"),
    Bad("random_attention_like-spread-overflow", random_attention_like, np.array([1e308]), n=4, d=2, raises=FloatingPointError, arg="logit_spread", match="overflowed the float range"),
    *_size_cases("random_attention_like", random_attention_like, "n", logit_spread=np.ones(1), d=2),
    *_size_cases("random_attention_like", random_attention_like, "d", logit_spread=np.ones(1), n=4),
    Bad("random_attention_like-d-absurd", random_attention_like, np.ones(1), n=4, d=10**12, raises=ValueError, arg="d=1000000000000", match="GiB .* available"),
    Bad("random_attention_like-seed-nan", random_attention_like, np.ones(1), n=4, d=2, seed=NAN, raises=TypeError, arg="seed", match="got nan"),
    Bad("spectrum_heatmap-none", spectrum_heatmap, None, raises=TypeError, arg="spectra", match="dict attention_spectra returns.* got None"),
    Bad("spectrum_heatmap-empty", spectrum_heatmap, {}, raises=TypeError, arg="spectra", match=r"got \{\}"),
    Bad("spectrum_heatmap-c-list", spectrum_heatmap, {**SPECTRA, "c": [[[[1.0]]]]}, raises=TypeError, arg="spectra['c']", match="got list"),
    Bad("spectrum_heatmap-c-3d", spectrum_heatmap, {**SPECTRA, "c": np.ones((2, 2, 8))}, raises=ValueError, arg="spectra['c']", match=r"\(N, layers, heads, n\) \(ndim 4\), got shape \(2, 2, 8\)"),
    Bad("spectrum_heatmap-c-nan", spectrum_heatmap, {**SPECTRA, "c": _with(SPECTRA["c"], NAN)}, raises=ValueError, arg="spectra['c']", match="finite values"),
    Bad("spectrum_heatmap-random-inf", spectrum_heatmap, {**SPECTRA, "random": _with(SPECTRA["random"], INF)}, raises=ValueError, arg="spectra['random']", match="finite values"),
    Bad("spectrum_heatmap-random-mismatch", spectrum_heatmap, {**SPECTRA, "random": np.ones((2, 3, 8))}, raises=ValueError, arg="spectra['random']", match=r"= \(2, 2, 8\) .* got \(2, 3, 8\)"),
    Bad("spectrum_heatmap-c-int", spectrum_heatmap, {**SPECTRA, "c": np.ones((1, 2, 2, 8), dtype=int)}, raises=TypeError, arg="spectra['c']", match="floating dtype"),
    Bad("spectrum_heatmap-k-zero", spectrum_heatmap, SPECTRA, k=0, raises=ValueError, arg="k", match="integer >= 1, got 0"),
    Bad("spectrum_heatmap-k-above-n", spectrum_heatmap, SPECTRA, k=9, raises=ValueError, arg="k", match="at most n = 8, got 9"),
    Bad("spectrum_heatmap-k-huge", spectrum_heatmap, SPECTRA, k=10**30, raises=ValueError, arg="k", match="at most n = 8"),
    Bad("spectrum_heatmap-k-float", spectrum_heatmap, SPECTRA, k=2.0, raises=TypeError, arg="k", match="got 2.0"),
    Bad("spectrum_heatmap-k-nan", spectrum_heatmap, SPECTRA, k=NAN, raises=TypeError, arg="k", match="got nan"),
    *_size_cases("mean_pooling", mean_pooling, "n", k=1),
    *_size_cases("mean_pooling", mean_pooling, "k", n=4),
    Bad("mean_pooling-k-above-n", mean_pooling, 4, 5, raises=ValueError, arg="k", match="at most n = 4, got 5"),
    Bad("mean_pooling-absurd", mean_pooling, 10**9, 10**9, raises=ValueError, arg="n=1000000000", match="GiB .* available"),
    Bad("mean_pooling-dtype-float16", mean_pooling, 4, 2, dtype="float16", raises=TypeError, arg="dtype", match="float32, float64, got 'float16'"),
    Bad("mean_pooling-dtype-int", mean_pooling, 4, 2, dtype=int, raises=TypeError, arg="dtype", match="got <class 'int'>"),
    Bad("mean_pooling-dtype-typo", mean_pooling, 4, 2, dtype="flaot32", raises=TypeError, arg="dtype", match="got 'flaot32'"),
    Bad("mean_pooling-xp-typo", mean_pooling, 4, 2, xp="torch", raises=ValueError, arg="xp", match="got 'torch'"),
]
# fmt: on


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_0d_arrays_are_accepted():
    e = mean_pooling(np.int64(4), np.array(2), dtype=np.float32)
    assert e.dtype == np.float32 and e.shape == (2, 4)
    assert mean_pooling(4, 2, dtype=np.dtype("float64")).dtype == np.float64
    c = random_attention_like(np.array(1.5), n=np.int32(8), d=np.int64(2), seed=np.int64(1))
    np.testing.assert_allclose(c, random_attention_like(np.array(1.5), n=8, d=2, seed=1))
    data = random_attention_spectra(n=np.int64(8), d=np.array(2), scales=(np.float32(1.0),))
    assert data["c"].shape == (1, 8)
    mass = window_mass(P, global_tokens=(np.int64(1),))
    np.testing.assert_allclose(mass, window_mass(P, global_tokens=(1,)))
    heat = spectrum_heatmap(SPECTRA, k=np.int64(3))
    assert int(heat["k"]) == 3
    data = attention_locality(
        ENC,
        IDS.astype(np.int32),
        widths=(np.int64(1), 7),
        global_tokens=(np.int8(-1),),
        level=np.float64(0.5),
    )
    assert data["mass"].shape == (2, 2, 2)
    data = linformer_projection_errors(
        ENC, IDS[:1], ks=(np.int64(8),), kinds=("gaussian",), seeds=np.int64(1)
    )
    np.testing.assert_allclose(data["mean_pool"], 0.0, atol=1e-5)


def test_inputs_are_not_modified():
    p, spreads, ids = P.copy(), np.array([1.0, 2.0]), IDS.copy()
    attention_singular_values(p), window_mass(p, global_tokens=(0,))
    random_attention_like(spreads, n=4, d=2)
    attention_spectra(ENC, ids)
    np.testing.assert_array_equal(p, P)
    np.testing.assert_array_equal(spreads, [1.0, 2.0])
    np.testing.assert_array_equal(ids, IDS)


@pytest.mark.parametrize(
    "func", [attention_spectra, lambda e, ids: attention_locality(e, ids, widths=(0, 3))]
)
def test_experiments_accept_ids_of_any_integer_dtype(func):
    a, b = func(ENC, IDS.astype(np.int32)), func(ENC, IDS.astype(np.uint16))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


def test_ids_may_fill_every_position_of_the_model():
    ids = np.arange(64).reshape(1, 64) % 50  # n = max_positions = 64: allowed, 65 is not
    (out,) = chunk_outputs(ENC, ids)
    assert out.attentions[0].shape == (1, 2, 64, 64)
