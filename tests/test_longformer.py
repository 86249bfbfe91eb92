"""Longformer: banded attention equals masked dense attention, in linear memory.

Equation numbers refer to derivations/01-longformer.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refattn import complexity, softmax_attention
from refattn.backend import peak_memory, rng, to_numpy
from refattn.longformer import (
    layer_schedule,
    receptive_field,
    sliding_window_attention,
    window_pattern,
)
from refattn.testing import assert_attention_close


@st.composite
def longformer_cases(draw, *, max_n=256, causal=(False, True)):
    """n, window, dilation, causal flag, global set, padding flag, dtype, batch, seed."""
    n = draw(st.integers(1, max_n), label="n")
    window = draw(st.integers(0, 2 * n), label="window")
    dilation = draw(st.integers(1, 6), label="dilation")
    is_causal = draw(st.sampled_from(causal), label="causal")
    kind = (
        "none"
        if is_causal
        else draw(
            st.sampled_from(["none", "first", "last", "several", "adjacent"]), label="global kind"
        )
    )
    if kind == "none":
        glob = []
    elif kind == "first":
        glob = [0]
    elif kind == "last":
        glob = [n - 1]
    elif kind == "several":
        glob = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=5, unique=True))
    else:
        start = draw(st.integers(0, n - 1))
        glob = list(range(start, min(n, start + draw(st.integers(1, 4)))))
    padded = draw(st.booleans(), label="padding mask")
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    batch = draw(st.sampled_from([(), (2,)]), label="batch")
    seed = draw(st.integers(0, 2**16), label="seed")
    return n, window, dilation, is_causal, glob, padded, dtype, batch, seed


def _inputs(xp, n, dtype, batch, seed, padded, d=4):
    g = rng(seed, xp)
    q, k, v = (g.standard_normal(batch + (n, d), dtype=dtype) for _ in range(3))
    mask = (g.random(batch + (1, n)) < 0.8) if padded else None  # key padding (..., 1, n)
    return q, k, v, mask


def _dense_oracle(q, k, v, xp, *, window, dilation, causal, glob, mask, return_weights=False):
    n = q.shape[-2]
    pattern = window_pattern(
        n, window=window, dilation=dilation, causal=causal, global_tokens=glob, xp=xp
    )
    full = pattern if mask is None else pattern & mask
    return softmax_attention(q, k, v, mask=full, return_weights=return_weights)


# --- (1.1)-(1.4) equality with masked dense attention --------------------------------------


@given(case=longformer_cases())
def test_equals_masked_dense_attention(xp, case):
    n, window, dilation, causal, glob, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, dtype, batch, seed, padded)
    kw = dict(window=window, dilation=dilation, causal=causal, mask=mask)
    got = sliding_window_attention(q, k, v, global_tokens=glob or None, **kw)
    expected = _dense_oracle(q, k, v, xp, glob=glob, **kw)
    assert got.dtype == np.dtype(dtype)
    assert_attention_close(got, expected)


@given(case=longformer_cases(max_n=64))
def test_weights_match_the_dense_weights_on_the_pattern(xp, case):
    n, window, dilation, causal, glob, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, "float64", batch, seed, padded)
    kw = dict(window=window, dilation=dilation, causal=causal, mask=mask)
    out, weights = sliding_window_attention(
        q, k, v, global_tokens=glob or None, return_weights=True, **kw
    )
    _, dense = _dense_oracle(q, k, v, xp, glob=glob, return_weights=True, **kw)
    assert_attention_close(weights.to_dense(), dense)
    # each row's band and global-key weights sum to 1 (or 0 if it may attend nothing)
    sums = to_numpy(weights.band).sum(-1)
    if glob:
        sums = sums + to_numpy(weights.global_keys).sum(-1)
        sums[..., glob] = to_numpy(weights.global_rows).sum(-1)
    empty = to_numpy(dense).sum(-1) == 0
    assert np.allclose(sums[~empty], 1.0, atol=1e-12)
    assert np.all(sums[empty] == 0)


def test_band_weights_are_indexed_by_offset(xp):
    q, k, v, _ = _inputs(xp, 10, "float64", (), 3, False)
    _, weights = sliding_window_attention(q, k, v, window=2, dilation=3, return_weights=True)
    _, dense = softmax_attention(
        q, k, v, mask=window_pattern(10, window=2, dilation=3, xp=xp), return_weights=True
    )
    assert weights.band.shape == (10, 5)
    # band[i, u] is the weight of key i + (u − 2)·3: for query 6, keys 0, 3, 6, 9, (12)
    for u, key in enumerate((0, 3, 6, 9)):
        assert float(weights.band[6, u]) == pytest.approx(float(dense[6, key]))
    assert float(weights.band[6, 4]) == 0.0  # key 12 does not exist
    assert float(weights.band[0, 0]) == 0.0  # nor does key −6


def test_global_qkv_projections_drive_only_the_global_rows(xp):
    n, glob = 40, [0, 17]
    q, k, v, mask = _inputs(xp, n, "float64", (), 5, True)
    q_g, k_g, v_g, _ = _inputs(xp, n, "float64", (), 6, False)
    out = sliding_window_attention(
        q, k, v, window=3, global_tokens=glob, global_qkv=(q_g, k_g, v_g), mask=mask
    )
    local = _dense_oracle(q, k, v, xp, window=3, dilation=1, causal=False, glob=glob, mask=mask)
    rows = softmax_attention(q_g[glob], k_g, v_g, mask=mask)
    others = [i for i in range(n) if i not in glob]
    assert_attention_close(out[others], local[others])
    assert_attention_close(out[glob], rows)


@pytest.mark.parametrize("dilation", [1, 3])
def test_a_window_covering_the_sequence_is_full_attention(xp, dilation):
    q, k, v, _ = _inputs(xp, 30, "float64", (2,), 7, False)
    for window in (29, 30, 100):
        got = sliding_window_attention(q, k, v, window=window, dilation=1)
        assert_attention_close(got, softmax_attention(q, k, v))
    # with dilation δ, a window of ⌈n/δ⌉ − 1 covers every key of the query's class
    got = sliding_window_attention(q, k, v, window=10, dilation=dilation)
    pattern = window_pattern(30, window=10, dilation=dilation, xp=xp)
    assert_attention_close(got, softmax_attention(q, k, v, mask=pattern))


# --- (1.7) causality ---------------------------------------------------------------------------


@given(case=longformer_cases(max_n=80, causal=(True,)), data=st.data())
def test_causal_outputs_ignore_later_keys_bit_for_bit(xp, case, data):
    n, window, dilation, _, _, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, dtype, batch, seed, padded)
    i = data.draw(st.integers(0, n - 1), label="i")
    kw = dict(window=window, dilation=dilation, causal=True, mask=mask)
    before = to_numpy(sliding_window_attention(q, k, v, **kw))[..., : i + 1, :]
    k2, v2 = k.copy(), v.copy()
    k2[..., i + 1 :, :] = 50.0
    v2[..., i + 1 :, :] = -3.0
    after = to_numpy(sliding_window_attention(q, k2, v2, **kw))[..., : i + 1, :]
    assert np.array_equal(before, after)


# --- the pattern -----------------------------------------------------------------------------


def test_window_pattern_small_examples(xp):
    dilated = to_numpy(window_pattern(7, window=1, dilation=2, xp=xp)).astype(int)
    assert dilated[3].tolist() == [0, 1, 0, 1, 0, 1, 0]
    causal = to_numpy(window_pattern(5, window=2, causal=True, xp=xp)).astype(int)
    assert causal[4].tolist() == [0, 0, 1, 1, 1]
    assert causal[0].tolist() == [1, 0, 0, 0, 0]
    glob = to_numpy(window_pattern(6, window=0, global_tokens=[2], xp=xp))
    assert glob[2].all() and glob[:, 2].all() and glob.sum() == 6 + 2 * 5


@given(
    n=st.integers(1, 40),
    window=st.integers(0, 10),
    dilation=st.integers(1, 4),
    glob=st.lists(st.integers(0, 39), max_size=3, unique=True),
)
def test_window_pattern_is_symmetric_and_counts_as_the_formula_says(n, window, dilation, glob):
    glob = [g for g in glob if g < n]
    pattern = window_pattern(n, window=window, dilation=dilation, global_tokens=glob)
    assert (pattern == pattern.T).all()  # (1.4): global rows and columns together
    assert pattern[glob, :].all() and pattern[:, glob].all()
    plain = window_pattern(n, window=window, dilation=dilation)
    # (1.5): (2w + 1)·n minus the offsets that fall off the two ends
    lost = sum(2 * max(0, n - t * dilation) for t in range(1, window + 1))
    assert plain.sum() == complexity.window_scores(n, window) - 2 * window * n + lost
    assert plain.sum() <= complexity.window_scores(n, window)


def test_global_tokens_in_the_window_count_once(xp):
    # the key 3 is both a neighbour of 2 and global: weights must still sum to 1
    q, k, v, _ = _inputs(xp, 6, "float64", (), 8, False)
    _, weights = sliding_window_attention(q, k, v, window=1, global_tokens=[3], return_weights=True)
    assert float(weights.band[2, 2]) == 0.0  # the band leaves key 3 to the global column
    assert float(weights.band[2].sum() + weights.global_keys[2].sum()) == pytest.approx(1.0)


def test_global_rows_have_no_band_or_global_key_weights(xp):
    # a global row's weights live in global_rows only: its band and global-key entries are 0,
    # or to_dense() would count them twice (it adds the band and the global keys, then
    # overwrites the global rows)
    glob = [2, 7]
    q, k, v, mask = _inputs(xp, 12, "float64", (), 12, True)
    _, weights = sliding_window_attention(
        q, k, v, window=2, global_tokens=glob, mask=mask, return_weights=True
    )
    band, keys = to_numpy(weights.band), to_numpy(weights.global_keys)
    assert (band[glob] == 0).all() and (keys[glob] == 0).all()
    others = [i for i in range(12) if i not in glob]
    assert (band[others] > 0).any() and (keys[others] > 0).any()
    _, dense = _dense_oracle(
        q, k, v, xp, window=2, dilation=1, causal=False, glob=glob, mask=mask, return_weights=True
    )
    assert_attention_close(weights.to_dense(), dense)


@pytest.mark.parametrize("dilation", [5, 6, 10**9])
def test_a_dilation_of_n_or_more_is_self_attention_at_linear_cost(dilation):
    # δ >= n reaches no key but the query itself, whatever the window: the output is v, and
    # the layout must not grow with δ (δ = 10⁹ once asked for 22 GiB of padding at n = 5)
    q, k, v, _ = _inputs(np, 5, "float64", (), 13, False)
    (out, weights), peak = peak_memory(
        lambda: sliding_window_attention(q, k, v, window=3, dilation=dilation, return_weights=True),
        np,
    )
    np.testing.assert_array_equal(out, v)
    np.testing.assert_array_equal(weights.to_dense(), np.eye(5))
    assert peak < 20_000


def test_overflowing_band_scores_raise_instead_of_silent_zeros(xp):
    # every q·k ≈ −3e40 in float32 would read as "masked" and give a row of zeros
    q = xp.full((8, 3), 1e20, dtype="float32")
    with pytest.raises(FloatingPointError, match=r"sliding_window_attention cannot compute"):
        sliding_window_attention(q, -q, xp.ones((8, 2), dtype="float32"), window=1)


def test_an_overflow_outside_the_band_does_not_count(xp):
    # query 0 and key 7 would overflow, but key 7 is outside query 0's window: the result is
    # computed (the block of scores holds that pair, and the guard must ignore it)
    q, k, v, _ = _inputs(xp, 8, "float32", (), 14, False)
    q[0], k[7] = 1e20, 1e20
    got = to_numpy(sliding_window_attention(q, k, v, window=1))
    assert np.isfinite(got).all()
    expected = sliding_window_attention(*(a.astype("float64") for a in (q, k, v)), window=1)
    np.testing.assert_allclose(got, to_numpy(expected), rtol=1e-5, atol=1e-6)


def test_window_pattern_is_unchanged_past_n():
    for w, d in [(1, 7), (7, 1), (2, 10**30), (10**30, 2)]:
        small = window_pattern(7, window=min(w, 7), dilation=min(d, 7), global_tokens=[3])
        np.testing.assert_array_equal(
            window_pattern(7, window=w, dilation=d, global_tokens=[3]), small
        )


# --- (1.6) layer schedule and receptive field -----------------------------------------------------


def test_layer_schedule_grows_windows_and_dilates_only_chosen_upper_heads():
    schedule = layer_schedule(
        6,
        8,
        first_window=32,
        last_window=512,
        dilated_heads=(0, 1),
        last_dilation=4,
        dilated_from=3,
    )
    windows = [s.window for s in schedule]
    assert windows[0] == 32 and windows[-1] == 512
    assert windows == sorted(windows)
    for layer, setting in enumerate(schedule):
        assert len(setting.dilations) == 8
        assert all(d == 1 for d in setting.dilations[2:])
        assert (setting.dilations[0] > 1) == (layer >= 3)
    assert schedule[-1].dilations[:2] == (4, 4)


def test_layer_schedule_rounds_steps_that_are_not_integers():
    # windows 0, 10/3, 20/3, 10 round to 0, 3, 7, 10; dilations 1 + (1/3, 2/3, 1)·2 round to
    # 2, 2, 3 (int() would give 6 and 1, 2, 3)
    schedule = layer_schedule(
        4, 2, first_window=0, last_window=10, dilated_heads=(1,), last_dilation=3, dilated_from=1
    )
    assert [s.window for s in schedule] == [0, 3, 7, 10]
    assert [s.dilations for s in schedule] == [(1, 1), (1, 2), (1, 2), (1, 3)]


def test_receptive_field_of_constant_layers_is_l_delta_w():
    assert receptive_field([32] * 12, [2] * 12) == 12 * 2 * 32
    assert receptive_field([3, 5], None) == 8


@given(
    windows=st.lists(st.integers(0, 3), min_size=1, max_size=4),
    dilations=st.lists(st.integers(1, 3), min_size=4, max_size=4),
)
def test_receptive_field_is_the_reach_of_the_stacked_patterns(windows, dilations):
    dilations = dilations[: len(windows)]
    reach = receptive_field(windows, dilations)
    n = 2 * reach + 9
    centre = n // 2
    seen = np.zeros(n, dtype=bool)
    seen[centre] = True  # which positions information from the centre has reached
    for w, d in zip(windows, dilations, strict=True):
        seen = (window_pattern(n, window=w, dilation=d).astype(int) @ seen) > 0
    reached = np.flatnonzero(seen)
    assert reached.max() - centre == reach and centre - reached.min() == reach


# --- memory, measured against complexity.py -------------------------------------------


def _peak_bytes(n, glob):
    q, k, v, _ = _inputs(np, n, "float32", (), n, False, d=64)
    return peak_memory(
        lambda: sliding_window_attention(q, k, v, window=64, global_tokens=glob), np
    )[1]


@pytest.mark.parametrize("g", [0, 8])
def test_memory_is_linear_and_matches_the_formula(g):
    peaks = {}
    for n in (4096, 16384):
        glob = [i * (n // 8) for i in range(g)] or None
        peaks[n] = peak = _peak_bytes(n, glob)
        model = 4 * complexity.sliding_window_memory(n, 64, window=64, g=g)
        assert model <= peak <= 1.04 * model, (n, peak, model)  # measured: 1.009–1.024
    assert 3.6 <= peaks[16384] / peaks[4096] <= 4.4
    # the performance goal, at n = 16384: > 40x below dense attention (measured: 42.5x)
    assert peaks[16384] < 4 * complexity.dense_attention_memory(16384, d=64) / 40


def test_scores_and_flop_formulas():
    assert complexity.full_attention_scores(1000) == 10**6
    assert complexity.window_scores(1000, 64) == 129_000
    assert complexity.window_scores(1000, 64, causal=True) == 65_000
    assert complexity.window_global_scores(1000, 64, 2) == 129_000 + 4000
    # LED: local+global encoder instead of a full one
    full = complexity.led_full_scores(16384, 1024)
    led = complexity.led_scores(16384, 1024, 512, 4)
    assert full - led == 16384**2 - (1025 * 16384 + 8 * 16384)
    assert complexity.pattern_flops(10, d=64) == 10 * (128 + 128 + 4)
    geo = complexity.band_geometry(4096, 64)
    # the block scores, scaling the queries (n·d) and dividing the output by the normalisers (n·d_v)
    assert complexity.sliding_window_flops(4096, window=64) == (
        complexity.pattern_flops(geo.padded * geo.keys_per_block) + 4096 * (64 + 64)
    )


# --- inputs --------------------------------------------------------------------------------------


@given(case=longformer_cases(max_n=40))
def test_inputs_are_never_modified(xp, case):
    n, window, dilation, causal, glob, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, dtype, batch, seed, padded)
    before = [to_numpy(a).copy() for a in (q, k, v) + (() if mask is None else (mask,))]
    sliding_window_attention(
        q,
        k,
        v,
        window=window,
        dilation=dilation,
        causal=causal,
        global_tokens=glob or None,
        mask=mask,
        return_weights=True,
    )
    after = [to_numpy(a) for a in (q, k, v) + (() if mask is None else (mask,))]
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a, b)


Q, K, V = (np.random.default_rng(0).standard_normal((8, 3)) for _ in range(3))

# fmt: off
BAD_INPUTS = {
    "window-negative": ({"window": -3}, ValueError, r"window must be an integer >= 0, got -3"),
    "window-float": ({"window": 2.0}, TypeError, r"window must be an integer >= 0, got 2.0"),
    "dilation-zero": ({"window": 2, "dilation": 0}, ValueError, r"dilation must be an integer >= 1, got 0"),
    "global-out-of-range": ({"window": 2, "global_tokens": [8]}, ValueError, r"global_tokens must be positions in \[0, n\) = \[0, 8\), got 8"),
    "global-negative": ({"window": 2, "global_tokens": [-1]}, ValueError, r"global_tokens must be positions in \[0, n\) = \[0, 8\), got -1"),
    "global-duplicate": ({"window": 2, "global_tokens": [3, 3]}, ValueError, r"global_tokens must not repeat a position, got 3 more than once"),
    "global-float": ({"window": 2, "global_tokens": [1.0]}, TypeError, r"global_tokens must hold integer positions, got 1.0"),
    "global-2d": ({"window": 2, "global_tokens": np.zeros((1, 1), int)}, ValueError, r"global_tokens must be a 1-D sequence of positions, got shape \(1, 1\)"),
    "global-with-causal": ({"window": 2, "global_tokens": [0], "causal": True}, ValueError, r"global_tokens cannot be combined with causal=True"),
    "global-qkv-without-global": ({"window": 2, "global_qkv": (Q, K, V)}, ValueError, r"global_qkv is only used with global_tokens"),
    "global-qkv-not-triple": ({"window": 2, "global_tokens": [0], "global_qkv": (Q, K)}, TypeError, r"global_qkv must be a tuple \(q_g, k_g, v_g\)"),
    "global-qkv-shape": ({"window": 2, "global_tokens": [0], "global_qkv": (Q, K[:, :2], V)}, ValueError, r"global_qkv k_g must have the shape of k \(8, 3\), got \(8, 2\)"),
    "mask-shape": ({"window": 2, "mask": np.ones(7, bool)}, ValueError, r"mask must be broadcastable to \(\.\.\., n, m\) = \(8, 8\), got shape \(7,\)"),
    "mask-2d": ({"window": 2, "mask": np.ones((8, 8), bool)}, ValueError, r"sliding_window_attention cannot apply a mask of shape \(8, 8\) with a query axis: an n×m mask cannot be applied in linear time.*mask\[\.\.\., None, :\]"),
    "mask-old-form": ({"window": 2, "mask": np.ones((3, 8), bool)}, ValueError, r"mask must be broadcastable to \(\.\.\., n, m\) = \(8, 8\), got shape \(3, 8\); key padding is a mask of shape \(\.\.\., 1, m\)"),
    "mask-not-bool": ({"window": 2, "mask": np.ones(8)}, TypeError, r"mask must be a boolean array"),
    "causal-not-bool": ({"window": 2, "causal": 1}, TypeError, r"causal must be True or False, got 1"),
}
# fmt: on


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in BAD_INPUTS.items()],
)
def test_sliding_window_attention_rejects(xp, kwargs, error, fragment):
    def on_xp(value):  # the same bad input, on the backend under test
        if isinstance(value, tuple):
            return tuple(on_xp(x) for x in value)
        return xp.asarray(value) if isinstance(value, np.ndarray) else value

    kwargs = {key: on_xp(value) for key, value in kwargs.items()}
    with pytest.raises(error, match=fragment):
        sliding_window_attention(xp.asarray(Q), xp.asarray(K), xp.asarray(V), **kwargs)


def test_cross_attention_is_rejected(xp):
    q, k, v = (xp.asarray(a) for a in (Q, K[:5], V[:5]))
    with pytest.raises(
        ValueError,
        match=r"sliding_window_attention needs as many keys as queries \(m = n\), got n = 8 and m = 5: the sliding window is self-attention",
    ):
        sliding_window_attention(q, k, v, window=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"layers": 0}, ValueError, r"layers must be an integer >= 1, got 0"),
        (
            {"dilated_heads": (4,)},
            ValueError,
            r"dilated_heads\[0\] must be an integer >= 0 and <= 3, got 4",
        ),
        ({"last_dilation": 0}, ValueError, r"last_dilation must be an integer >= 1, got 0"),
    ],
)
def test_layer_schedule_rejects(kwargs, error, fragment):
    base = dict(layers=3, heads=4, first_window=8, last_window=32)
    with pytest.raises(error, match=fragment):
        layer_schedule(**(base | kwargs))


def test_receptive_field_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match=r"dilations must have one entry per layer \(2\), got 1"):
        receptive_field([1, 2], [1])


def test_window_pattern_rejects():
    with pytest.raises(ValueError, match=r"n must be an integer >= 1, got 0"):
        window_pattern(0, window=1)


# --- the working-set refusal (1.5) --------------------------------------------------------


@pytest.mark.parametrize("window", [10**9, 63])
def test_a_window_whose_working_set_cannot_fit_is_refused_before_allocating(monkeypatch, window):
    from refattn import backend

    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: 1000)
    q = np.zeros((64, 1))
    needed = complexity.sliding_window_memory(64, 1, 1, window=window) * 8

    def refused():
        with pytest.raises(
            MemoryError,
            match=rf"sliding_window_attention with window = {window}: its working set .*"
            rf"\({needed} bytes\) needs .* GiB, more than .* available; pass a smaller window",
        ):
            sliding_window_attention(q, q, q, window=window)

    _, peak = peak_memory(refused, np)
    assert peak < needed


def test_the_window_refusal_agrees_with_the_memory_formula(monkeypatch):
    from refattn import backend

    g = rng(0, xp="numpy")
    q, k, v = (g.normal(size=(2, 30, 3)) for _ in range(3))
    expected = sliding_window_attention(q, k, v, window=4, dilation=2, global_tokens=[1])
    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    per_head = complexity.sliding_window_memory(30, 3, 3, window=4, dilation=2, g=1)
    # the global rows' dense softmax is far smaller than the band: the formula is the peak
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: per_head * 2 * 8)
    out = sliding_window_attention(q, k, v, window=4, dilation=2, global_tokens=[1])
    assert np.array_equal(out, expected)
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: per_head * 2 * 8 - 1)
    with pytest.raises(MemoryError, match="window = 4, dilation = 2"):
        sliding_window_attention(q, k, v, window=4, dilation=2, global_tokens=[1])


@pytest.mark.parametrize("window", [10**9, 59_999])
def test_a_real_window_over_sixty_thousand_positions_is_refused(window):
    from refattn import backend

    n = 60_000
    if complexity.sliding_window_memory(n, 1, 1, window=window) * 8 <= backend._available_bytes(np):
        pytest.skip("this machine has the memory the band needs")
    q = np.zeros((n, 1))
    with pytest.raises(MemoryError, match=rf"sliding_window_attention with window = {window}"):
        sliding_window_attention(q, q, q, window=window)


def test_the_global_projections_are_checked_in_the_one_finiteness_pass(standin):
    import cupy_standin

    g = standin.random.default_rng(14)
    q, k, v, q_g, k_g, v_g = (g.standard_normal((2, 32, 4)) for _ in range(6))
    kw = dict(window=2, global_tokens=[0, 9], global_qkv=(q_g, k_g, v_g))
    counts = {}
    for check in (True, False):
        with cupy_standin.counting_syncs() as syncs:
            sliding_window_attention(q, k, v, check_finite=check, **kw)
        counts[check] = syncs
    skipped = counts[True] - counts[False]
    assert sum(skipped.values()) == 1 and not counts[False] - counts[True], sorted(skipped.items())
    ((path, _, function, _),) = skipped
    assert (path, function) == ("refattn/_validation.py", "check_all_finite")
    # the pass covers them: a NaN in v_g is named, and with check_finite=False not looked for
    v_g[1, 3, 2] = standin.nan
    kw["global_qkv"] = (q_g, k_g, v_g)
    with cupy_standin.counting_syncs() as syncs:
        with pytest.raises(ValueError, match=r"^global_qkv v_g must contain only finite values"):
            sliding_window_attention(q, k, v, **kw)
    reads = [key for key in syncs if key[2] != "check_all_finite"]
    assert reads == [], sorted(syncs.items())  # nothing else was read before the pass refused
    sliding_window_attention(q, k, v, check_finite=False, **kw)  # NaN rows, no error
