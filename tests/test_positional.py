"""Position schemes: position-infused attention, rotary positions, ALiBi, their costs.

Equation numbers refer to derivations/14-positions.md.  (Sinusoids and
Transformer-XL's relative scores are tested in test_compressive.py.)
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refattn import complexity
from refattn.backend import rng, to_numpy
from refattn.positional import (
    add_positions,
    alibi_bias,
    alibi_slopes,
    position_infused_attention,
    position_infused_qk,
    projected_attention,
    rotary,
    sinusoidal_table,
)


def _draw(xp, seed, *shapes):
    g = rng(seed, xp)
    return [g.standard_normal(shape) for shape in shapes]


def _softmax_rows(scores):
    scores = scores - scores.max(axis=-1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=-1, keepdims=True)


# --- (14.1) position-infused attention --------------------------------------------------------


@settings(max_examples=40)
@given(
    n=st.integers(1, 9),
    c=st.integers(0, 7),
    d=st.integers(1, 6),
    d_v=st.integers(1, 4),
    causal=st.booleans(),
    batch=st.sampled_from([(), (2,), (2, 1)]),
    seed=st.integers(0, 2**16),
)
def test_position_infused_attention_equals_its_definition(xp, n, c, d, d_v, causal, batch, seed):
    x, cache, w_q, w_k, w_v = _draw(
        xp, seed, (*batch, n, d), (*batch, c, d), (d, 3), (d, 3), (d, d_v)
    )
    out = position_infused_attention(x, w_q, w_k, w_v, cache=cache if c else None, causal=causal)
    # the oracle, entry by entry on the host: window positions 0 … c + n − 1
    x, cache, w_q, w_k, w_v = map(to_numpy, (x, cache, w_q, w_k, w_v))
    window = np.concatenate([cache, x], axis=-2)
    p = np.array([[_sinusoid(pos, col, d) for col in range(d)] for pos in range(c + n)])
    q = (x + p[c:]) @ w_q  # positions in the queries' input
    k = (window + p) @ w_k  # … and the keys'
    v = window @ w_v  # … never in the values'
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(3)
    if causal:
        scores = np.where(np.arange(c + n)[None, :] <= c + np.arange(n)[:, None], scores, -np.inf)
    expected = _softmax_rows(scores) @ v
    assert out.shape == (*batch, n, d_v)
    np.testing.assert_allclose(to_numpy(out), expected, rtol=1e-10, atol=1e-12)


def _sinusoid(position, column, d):
    angle = position / 10000.0 ** (2 * (column // 2) / d)
    return math.sin(angle) if column % 2 == 0 else math.cos(angle)


def test_cached_states_equal_recomputing_only_without_positions_in_them(xp):
    """Shortformer's motivation, on a stream of three subsequences of n tokens, windows of 2n.

    Subsequence 2 reads subsequence 1 as its cache.  What was cached is the
    state subsequence 1 had when it was current (window [x0; x1], positions
    n … 2n − 1).  Position-infused states carry no position: reusing them equals
    recomputing the window [x1; x2] from the tokens.  Absolute positions added at
    the input were baked in at n … 2n − 1, while recomputing puts x1 at 0 … n − 1.
    """
    n, d = 5, 6
    x0, x1, x2, w_q, w_k, w_v = _draw(xp, 3, (n, d), (n, d), (n, d), (d, d), (d, d), (d, d))
    # position-infused: the cache is x1 itself
    cached = position_infused_attention(x2, w_q, w_k, w_v, cache=x1)
    window = xp.concatenate([x1, x2])
    recomputed = position_infused_attention(window, w_q, w_k, w_v)[n:]
    np.testing.assert_allclose(to_numpy(cached), to_numpy(recomputed), rtol=1e-12, atol=1e-13)
    # absolute positions at the input: the cache holds x1 + p_{n … 2n−1}
    stored = add_positions(x1, start=n)
    cached = projected_attention(add_positions(x2, start=n), w_q, w_k, w_v, cache=stored)
    recomputed = projected_attention(add_positions(window), w_q, w_k, w_v)[n:]
    assert not np.allclose(to_numpy(cached), to_numpy(recomputed), rtol=1e-3)
    # the twin: had positions been recomputed too, absolute would agree (the test can pass)
    cached = projected_attention(add_positions(x2, start=n), w_q, w_k, w_v, cache=add_positions(x1))
    np.testing.assert_allclose(to_numpy(cached), to_numpy(recomputed), rtol=1e-12, atol=1e-13)


def test_position_infused_values_carry_no_position(xp):
    # with zero query and key maps every weight is equal: the output is the mean of x W_v,
    # whatever the positions; absolute positions at the input would move it
    n, d = 4, 6
    (x, w_v) = _draw(xp, 5, (n, d), (d, 2))
    zero = xp.zeros((d, d))
    out = position_infused_attention(x, zero, zero, w_v, causal=False)
    expected = to_numpy(x @ w_v).mean(axis=0)
    np.testing.assert_allclose(to_numpy(out), np.tile(expected, (n, 1)), rtol=1e-12)
    absolute = projected_attention(add_positions(x), zero, zero, w_v, causal=False)
    assert not np.allclose(to_numpy(absolute), to_numpy(out))


def test_position_infused_qk_and_add_positions_use_the_sinusoids(xp):
    (x,) = _draw(xp, 6, (5, 4))
    table = sinusoidal_table(np.arange(2, 7), 4)
    eye = xp.eye(4)
    q, k = position_infused_qk(x, xp.arange(2, 7), eye, 2 * eye)
    np.testing.assert_allclose(to_numpy(q), to_numpy(x) + table, rtol=1e-12)
    np.testing.assert_allclose(to_numpy(k), 2 * (to_numpy(x) + table), rtol=1e-12)
    np.testing.assert_allclose(to_numpy(add_positions(x, start=2)), to_numpy(x) + table)


def test_inputs_are_not_modified(xp):
    x, cache, w = _draw(xp, 7, (2, 3, 4), (2, 2, 4), (4, 4))
    before = [to_numpy(a).copy() for a in (x, cache, w)]
    position_infused_attention(x, w, w, w, cache=cache)
    projected_attention(x, w, w, w, cache=cache)
    rotary(x, [0, 1, 2])
    add_positions(x, start=3)
    for a, b in zip((x, cache, w), before, strict=True):
        assert np.array_equal(to_numpy(a), b)


# --- (14.3) rotary positions --------------------------------------------------------------------


@settings(max_examples=60)
@given(
    half=st.integers(1, 8),
    i=st.integers(0, 500),
    j=st.integers(0, 500),
    shift=st.integers(-200, 2000),
    base=st.sampled_from([10000, 500.0, 2]),
    seed=st.integers(0, 2**16),
)
def test_rotary_scores_depend_only_on_the_offset(xp, half, i, j, shift, base, seed):
    d = 2 * half
    q, k = _draw(xp, seed, (1, d), (1, d))
    at = float(to_numpy(rotary(q, [i], base=base) @ rotary(k, [j], base=base).T)[0, 0])
    moved = rotary(q, [i + shift], base=base) @ rotary(k, [j + shift], base=base).T
    assert float(to_numpy(moved)[0, 0]) == pytest.approx(at, rel=1e-9, abs=1e-9)
    # and q_iᵀk_j = qᵀ R_{j−i} k: the key rotated by the offset alone
    offset = to_numpy(q @ rotary(k, [j - i], base=base).T)[0, 0]
    assert float(offset) == pytest.approx(at, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rotary_is_complex_multiplication_pair_by_pair(xp, dtype):
    n, d = 6, 8
    (x,) = _draw(xp, 8, (2, n, d))
    x = x.astype(dtype)
    positions = [0, 1, 2, 5, 17, 300]
    got = rotary(x, positions)
    assert got.dtype == x.dtype
    host = to_numpy(x).astype(np.float64)
    pairs = host[..., 0::2] + 1j * host[..., 1::2]  # (2, n, d/2)
    theta = 10000.0 ** (-2.0 * np.arange(d // 2) / d)
    turned = pairs * np.exp(1j * np.outer(positions, theta))  # (14.3)
    expected = np.stack([turned.real, turned.imag], axis=-1).reshape(host.shape)
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(to_numpy(got), expected, rtol=tol, atol=tol)
    np.testing.assert_array_equal(to_numpy(rotary(x, [0] * n)), to_numpy(x))  # position 0


# --- (14.4) ALiBi ---------------------------------------------------------------------------------


@pytest.mark.parametrize("heads", [1, 2, 4, 8, 16])
def test_alibi_slopes_are_geometric(heads):
    slopes = np.array(alibi_slopes(heads))
    ratio = 2.0 ** (-8.0 / heads)
    assert slopes[0] == pytest.approx(ratio)
    np.testing.assert_allclose(slopes[1:] / slopes[:-1], ratio, rtol=1e-12)
    assert slopes[-1] == pytest.approx(2.0**-8)


def test_alibi_slopes_between_powers_of_two_follow_the_reference_rule():
    # six heads: the four slopes of four heads, then the first and third of eight
    assert alibi_slopes(6) == pytest.approx([2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])
    assert alibi_slopes(3) == pytest.approx([2**-4, 2**-8, 2**-2])


@settings(max_examples=40)
@given(n=st.integers(1, 12), extra=st.integers(0, 10), heads=st.integers(1, 12))
def test_alibi_bias_is_linear_in_the_distance(xp, n, extra, heads):
    m = n + extra
    bias = to_numpy(alibi_bias(n, m, heads, xp=xp))
    assert bias.shape == (heads, n, m)
    slopes = np.array(alibi_slopes(heads))
    for i in range(n):
        distance = (m - n + i) - np.arange(m)  # query i is position m − n + i
        np.testing.assert_allclose(bias[:, i, :], -slopes[:, None] * distance, rtol=1e-12)
    # linear: every step one key further back lowers the score by exactly m_h
    np.testing.assert_allclose(
        np.diff(bias, axis=-1), np.broadcast_to(slopes[:, None, None], (heads, n, m - 1))
    )


def test_alibi_attention_depends_on_the_distance_only(xp):
    # with no content, query i's weights over keys i, i − 1, … are the same at every length
    n = 40
    bias = alibi_bias(n, n, 4, xp=xp)
    scores = to_numpy(bias)
    scores = np.where(np.tril(np.ones((n, n), bool)), scores, -np.inf)
    weights = _softmax_rows(scores)
    # query 39's weights on its last 10 keys, renormalised, equal query 9's on all of its keys
    tail = weights[:, 39, 30:] / weights[:, 39, 30:].sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(tail, weights[:, 9, :10], rtol=1e-12)


# --- (14.5) the costs, and the extrapolation figure's measurement -------------------------------


def test_position_flops_per_score():
    n, d = 4096, 64
    assert complexity.absolute_position_flops(n, d) == n * d
    assert complexity.position_infused_flops(n, n, d) == 2 * n * d
    assert complexity.rotary_flops(n, 2 * n, d) == 3 * 3 * n * d
    assert complexity.alibi_flops(n, n) == n * n
    # XL's position term costs as much again as qᵀk: 2d + 1 per score, plus W_R r and the biases
    per_score = complexity.relative_position_flops(n, n, d) / (n * n)
    assert per_score == pytest.approx(2 * d + 1 + 2 * d * d / n + 2 * d / n)


def test_extrapolation_figure_measures_what_it_says():
    from refattn.figures.positions import LENGTHS, L, extrapolation_data

    data = extrapolation_data()
    for name in ("absolute", "relative", "relative_memory", "infused", "rotary"):
        assert data[name][L].min() > 0.99, name  # each fit solves the task at length L
    for name in ("relative_memory", "infused"):  # windows restart: never past L
        assert data[name][LENGTHS[-1]].min() > 0.99, name
    for name in ("absolute", "relative", "rotary"):  # past L the weight goes elsewhere
        assert data[name][LENGTHS[-1]][L:].max() < 0.01, name
    alibi = [data["alibi"][t].mean() for t in LENGTHS]
    assert max(alibi) - min(alibi) < 0.01 and max(alibi) < 0.26  # holds, but only recency
    # the table of (14.5), to half a unit of its last printed digit
    table = {
        "absolute": ((0.999, 3), (0.49, 2), (0.24, 2)),
        "relative": ((0.999, 3), (0.49, 2), (0.24, 2)),
        "relative_memory": ((0.999, 3), (0.999, 3), (0.999, 3)),
        "infused": ((0.999, 3), (0.999, 3), (0.999, 3)),
        "rotary": ((0.999, 3), (0.49, 2), (0.24, 2)),
        "alibi": ((0.248, 3), (0.243, 3), (0.241, 3)),
    }
    for name, row in table.items():
        for t, (printed, digits) in zip(LENGTHS, row, strict=True):
            assert abs(float(data[name][t].mean()) - printed) <= 0.5 * 10.0**-digits, (name, t)


# --- bad inputs -------------------------------------------------------------------------------------

X = np.ones((3, 4))
W = np.eye(4)

BAD_INPUTS = [
    (lambda: rotary(np.ones((3, 5)), [0, 1, 2]), ValueError, r"x must have an even last axis d \(coordinate pairs\), got d = 5"),
    (lambda: rotary(X, [0, 1]), ValueError, r"positions must have shape \(n,\) with n = 3 .*got \(2,\)"),
    (lambda: rotary(X, [0, 1, 2], base=1), ValueError, r"base must be a finite real number > 1, got 1"),
    (lambda: rotary(X.astype(int), [0, 1, 2]), TypeError, r"x must have a floating dtype"),
    (lambda: rotary(np.ones(4), [0]), ValueError, r"x must have shape \(\.\.\., n, d\) with ndim >= 2"),
    (lambda: alibi_slopes(0), ValueError, r"heads must be an integer >= 1 and <= \d+, got 0"),
    (lambda: alibi_slopes(2.0), TypeError, r"heads must be an integer >= 1 and <= \d+, got 2.0"),
    (lambda: alibi_bias(3, 2, 1), ValueError, r"need at least as many keys as queries, got n = 3 and m = 2"),
    (lambda: alibi_bias(0, 2, 1), ValueError, r"n must be an integer >= 1, got 0"),
    (lambda: add_positions(X, start=-1), ValueError, r"start must be an integer >= 0 and <= \d+, got -1"),
    (lambda: position_infused_qk(X, [0, 1, 2], np.eye(5), W), ValueError, r"w_q must have shape \(d, ·\) with d = 4 .*got \(5, 5\)"),
    (lambda: position_infused_qk(X, [0, 1], W, W), ValueError, r"positions must have shape \(n,\) with n = 3 .*got \(2,\)"),
    (lambda: position_infused_attention(X, W, W, np.eye(3)), ValueError, r"w_v must have shape \(d, ·\) with d = 4 .*got \(3, 3\)"),
    (lambda: position_infused_attention(X, W, W, W, cache=np.ones((2, 5))), ValueError, r"cache must have shape \(\.\.\., c, d\) with d = 4 .*got \(2, 5\)"),
    (lambda: position_infused_attention(X, W, W, W, causal=1), TypeError, r"causal must be True or False, got 1"),
    (lambda: position_infused_attention(X, W, W, W, scale=0.0), ValueError, r"scale must be a finite real number > 0 or None, got 0.0"),
    (lambda: projected_attention(X, W, W, np.eye(2)), ValueError, r"w_v must have shape \(d, ·\) with d = 4 .*got \(2, 2\)"),
    (lambda: projected_attention(X, W, W, W, cache=[[1.0]]), TypeError, r"cache must be a numpy or cupy array, got list"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), BAD_INPUTS)
def test_bad_inputs_raise_with_their_domain(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- no silent NaN: extreme but finite inputs ----------------------------------------------------


def test_sinusoids_of_huge_positions_and_odd_d_are_finite_and_rounded_from_float64():
    positions = [0, 7, 1e30, 3.0e39, -1e300]  # 3e39 is past float32's range: still a position
    wide = sinusoidal_table(positions, 5)
    narrow = sinusoidal_table(positions, 5, dtype="float32")
    assert np.isfinite(wide).all() and narrow.dtype == np.float32
    np.testing.assert_array_equal(narrow, wide.astype(np.float32))
    # the odd last column is the sine of the third frequency, 10000^(−4/5)
    np.testing.assert_allclose(wide[1, 4], math.sin(7 * 10000 ** (-4 / 5)), rtol=1e-14)
    with pytest.raises(TypeError, match=r"positions must be .*, got None"):
        sinusoidal_table(None, 4)  # used to give a row of NaN


def test_rotary_of_huge_positions_is_finite_and_rounded_from_float64():
    x = np.random.default_rng(1).standard_normal((3, 4))
    positions = [1e39, -1e300, 5.0]
    wide = rotary(x, positions)
    narrow = rotary(x.astype(np.float32), positions)
    assert np.isfinite(wide).all()
    np.testing.assert_allclose(narrow, wide, rtol=1e-6, atol=1e-6)
    pairs = np.hypot(wide[:, ::2], wide[:, 1::2])
    np.testing.assert_allclose(pairs, np.hypot(x[:, ::2], x[:, 1::2]), rtol=1e-12)


def test_alibi_bias_is_exact_for_long_float32_rows():
    # (j − i) taken in integers, then rounded once: 2**24 + 1 keys would collide in a float32 arange
    bias = alibi_bias(1, 2**24 + 3, 1, dtype="float32")[0, 0]  # the query at 2**24 + 2
    assert bias.dtype == np.float32 and bias[-1] == 0
    assert bias[2**24 + 1] == np.float32(-1 / 256)  # float32(2**24 + 1) is 2**24: it would say −2
