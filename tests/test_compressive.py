"""Transformer-XL memory, compressed memory, relative positions, reconstruction loss.

Equation numbers refer to derivations/05-compressive.md.
"""

import math
import re
import warnings

import numpy as np
import pytest
from _helpers import random_qkv
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from refattn import complexity, softmax_attention
from refattn.backend import get_array_module, peak_memory, rng, to_numpy
from refattn.compressive import (
    MemoryState,
    Relative,
    attention_reconstruction_loss,
    compressive_attention,
    compressive_memory_attention,
    conv1d,
    conv1d_loss_and_gradient,
    dilated_conv,
    fit_conv_compressor,
    max_pool,
    mean_pool,
    most_used,
    temporal_range,
    update,
    xl_attention,
)
from refattn.positional import relative_scores, sinusoidal_table
from refattn.testing import assert_attention_close, structured_stream

D = 6


def _weights(xp, seed=0, d=D):
    g = rng(seed, xp)
    return tuple(0.5 * g.standard_normal((d, d)) for _ in range(3))


# --- (5.1) the memory update, as a stateful machine --------------------------------------------


class MemoryMachine(RuleBasedStateMachine):
    """Streams tagged segments; every row's first column is its position in the stream."""

    @initialize(n_mem=st.integers(0, 8), n_cmem=st.integers(0, 5), rate=st.integers(1, 4))
    def start(self, n_mem, n_cmem, rate):
        self.state = MemoryState.empty(2, n_mem=n_mem, n_cmem=n_cmem)
        self.rate, self.fed, self.compressed_blocks = rate, 0, []

    def compress(self, rows, rate):
        blocks = rows.reshape(-1, rate, 2)
        self.compressed_blocks += [block[:, 0].tolist() for block in blocks]
        # one row per block: [first tag, last tag] identifies the block
        return np.stack([blocks[:, 0, 0], blocks[:, -1, 0]], axis=1)

    @rule(length=st.integers(1, 7))
    def feed(self, length):
        tags = np.arange(self.fed, self.fed + length, dtype=float)
        h = np.stack([tags, tags], axis=1)
        h_before = h.copy()
        old = self.state
        old_arrays = [a.copy() for a in (old.mem, old.pending, old.cmem)]
        self.state = update(old, h, compress=self.compress, rate=self.rate)
        self.fed += length
        assert np.array_equal(h, h_before)  # the input is not mutated
        for a, b in zip((old.mem, old.pending, old.cmem), old_arrays, strict=True):
            assert np.array_equal(a, b)  # nor is the previous state: states are values

    @invariant()
    def sizes_stay_within_capacity(self):
        assert self.state.mem.shape[0] <= self.state.n_mem
        assert self.state.cmem.shape[0] <= self.state.n_cmem
        assert self.state.pending.shape[0] < self.rate

    @invariant()
    def mem_holds_the_most_recent_inputs_in_order(self):
        mem_tags = self.state.mem[:, 0].tolist()
        expected = list(range(self.fed - len(mem_tags), self.fed))
        assert mem_tags == expected
        assert len(mem_tags) == min(self.fed, self.state.n_mem)

    @invariant()
    def every_evicted_row_is_compressed_exactly_once(self):
        if self.state.n_cmem == 0:
            assert self.compressed_blocks == [] and self.state.pending.shape[0] == 0
            return
        compressed = [tag for block in self.compressed_blocks for tag in block]
        pending = self.state.pending[:, 0].tolist()
        mem = self.state.mem[:, 0].tolist()
        # nothing lost, nothing duplicated, order kept: compressed + pending + mem = the stream
        assert compressed + pending + mem == list(range(self.fed))
        # cmem holds the newest n_cmem compressed blocks
        kept = self.compressed_blocks[len(self.compressed_blocks) - self.state.cmem.shape[0] :]
        assert self.state.cmem.tolist() == [[block[0], block[-1]] for block in kept]


TestMemoryStream = MemoryMachine.TestCase
TestMemoryStream.settings = settings(TestMemoryStream.settings, stateful_step_count=25)


# --- (5.2) Transformer-XL equals dense attention with a band mask --------------------------------


def xl_band_mask(segments, n_mem):
    """Query p of a segment starting at s sees key j iff s − n_mem <= j <= p (derivation 5.2)."""
    starts = np.repeat(np.cumsum([0] + segments[:-1]), segments)
    n = sum(segments)
    j, p = np.arange(n)[None, :], np.arange(n)[:, None]
    return (j <= p) & (j >= starts[:, None] - n_mem)


def _stream(xp, x, segments, state, weights, **update_kw):
    outs, pos = [], 0
    for length in segments:
        h = x[pos : pos + length]
        outs.append(compressive_attention(h, state, *weights))
        state = update(state, h, **update_kw)
        pos += length
    return xp.concatenate(outs, axis=0)


@given(segments=st.lists(st.integers(1, 6), min_size=1, max_size=6), n_mem=st.integers(0, 9))
def test_xl_streaming_equals_dense_attention_with_the_band_mask(xp, segments, n_mem):
    x = rng(1, xp).standard_normal((sum(segments), D))
    weights = _weights(xp)
    got = _stream(xp, x, segments, MemoryState.empty(D, n_mem=n_mem, xp=xp), weights)
    wq, wk, wv = weights
    mask = xp.asarray(xl_band_mask(segments, n_mem))
    assert_attention_close(got, softmax_attention(x @ wq, x @ wk, x @ wv, mask=mask))


def test_rate_one_identity_compression_is_xl_with_the_memories_added(xp):
    segments = [4, 3, 5, 2, 6, 4]
    x = rng(2, xp).standard_normal((sum(segments), D))
    weights = _weights(xp, 3)
    compressive = _stream(
        xp,
        x,
        segments,
        MemoryState.empty(D, n_mem=3, n_cmem=4, xp=xp),
        weights,
        compress=lambda rows, rate: rows,
        rate=1,
    )
    xl = _stream(xp, x, segments, MemoryState.empty(D, n_mem=7, xp=xp), weights)
    assert_attention_close(compressive, xl)


# --- (5.3) relative positions --------------------------------------------------------------------


@pytest.mark.parametrize(("n", "m"), [(1, 1), (3, 3), (4, 9), (6, 6), (2, 11)])
def test_relative_scores_equal_the_four_terms_entry_by_entry(xp, n, m):
    g = rng(n * 10 + m, xp)
    d, d_r = 5, 6
    q, k = g.standard_normal((n, d)), g.standard_normal((m, d))
    w_r, u, v = g.standard_normal((d, d_r)), g.standard_normal(d), g.standard_normal(d)
    got = to_numpy(relative_scores(q, k, w_r, u, v))
    q, k, w_r, u, v = map(to_numpy, (q, k, w_r, u, v))
    for i in range(n):
        position = m - n + i  # queries are the last n of m positions
        for j in range(position + 1):
            r = to_numpy(sinusoidal_table([position - j], d_r))[0]
            direct = q[i] @ k[j] + q[i] @ w_r @ r + u @ k[j] + v @ w_r @ r
            assert got[i, j] == pytest.approx(direct, rel=1e-12, abs=1e-12)


def test_relative_attention_equals_the_softmax_of_the_four_terms(xp):
    # the oracle: a_ij of (5.3) entry by entry, scaled by 1/√d_k, causal over [memory; h]
    g = rng(16, xp)
    d_k = 3
    wq, wk, wv = (g.standard_normal((D, d_k)) for _ in range(3))
    relative = Relative(g.standard_normal((d_k, 4)), g.standard_normal(d_k), g.standard_normal(d_k))
    state = update(MemoryState.empty(D, n_mem=3, xp=xp), g.standard_normal((4, D)))
    h = g.standard_normal((2, D))
    got = to_numpy(compressive_attention(h, state, wq, wk, wv, relative=relative))
    context = to_numpy(xp.concatenate([state.mem, h], axis=0))
    q, k, v = to_numpy(h) @ to_numpy(wq), context @ to_numpy(wk), context @ to_numpy(wv)
    w_r, u, b = map(to_numpy, (relative.w_r, relative.u, relative.v))
    n, m = q.shape[0], k.shape[0]
    expected = np.zeros((n, v.shape[1]))
    for i in range(n):
        position = m - n + i
        scores = np.array([
            q[i] @ k[j] + q[i] @ w_r @ r + u @ k[j] + b @ w_r @ r
            for j in range(position + 1)
            for r in [to_numpy(sinusoidal_table([position - j], 4))[0]]
        ]) / math.sqrt(d_k)  # fmt: skip
        weights = np.exp(scores - scores.max())
        expected[i] = weights @ v[: position + 1] / weights.sum()
    assert np.allclose(got, expected, rtol=1e-10, atol=1e-12)


def test_sinusoidal_table_values():
    table = sinusoidal_table([0, 1, 2], 4)
    assert np.allclose(table[:, 0], np.sin([0, 1, 2]))
    assert np.allclose(table[:, 1], np.cos([0, 1, 2]))
    assert np.allclose(table[:, 2], np.sin(np.array([0, 1, 2]) / 100.0))


def test_relative_attention_is_causal_and_uses_positions(xp):
    g = rng(4, xp)
    weights = _weights(xp, 5)
    relative = Relative(g.standard_normal((D, 8)), g.standard_normal(D), g.standard_normal(D))
    state = update(MemoryState.empty(D, n_mem=4, xp=xp), g.standard_normal((5, D)))
    h = g.standard_normal((3, D))
    out = compressive_attention(h, state, *weights, relative=relative)
    h2 = h.copy()
    h2[2] = 7.0  # changing the last query's input changes no earlier output
    out2 = compressive_attention(h2, state, *weights, relative=relative)
    assert np.array_equal(to_numpy(out[:2]), to_numpy(out2[:2]))
    plain = compressive_attention(h, state, *weights)
    assert not np.allclose(to_numpy(out), to_numpy(plain))  # the position terms matter


# --- (5.5) compression functions -------------------------------------------------------------------


def test_pools_of_a_constant_are_the_constant(xp):
    rows = xp.full((6, D), 2.5)
    for pool in (max_pool, mean_pool):
        assert to_numpy(pool(rows, 3)).tolist() == [[2.5] * D] * 2  # 6/3 = 2 rows


def test_conv1d_with_averaging_weights_is_mean_pool(xp):
    rows = rng(6, xp).standard_normal((9, D))
    averaging = xp.broadcast_to(xp.eye(D) / 3, (3, D, D)).copy()
    assert_attention_close(conv1d(averaging)(rows, 3), mean_pool(rows, 3))


def test_dilated_conv_reads_every_dilation_th_row_of_its_block(xp):
    rows = xp.asarray(np.arange(12.0).reshape(12, 1))
    picked = xp.ones((2, 1, 1))  # two taps, dilation 2, rate 4: rows tc and tc + 2
    assert to_numpy(dilated_conv(picked, 2)(rows, 4)).ravel().tolist() == [0 + 2, 4 + 6, 8 + 10]
    weights = rng(7, xp).standard_normal((3, D, D))
    rows = rng(8, xp).standard_normal((9, D))
    assert_attention_close(dilated_conv(weights, 1)(rows, 3), conv1d(weights)(rows, 3))


def test_most_used_keeps_the_most_attended_rows_in_order(xp):
    rows = xp.asarray(np.arange(6.0).reshape(6, 1))
    usage = xp.asarray([0.1, 0.9, 0.05, 0.3, 0.8, 0.2])
    assert to_numpy(most_used(usage)(rows, 2)).ravel().tolist() == [1.0, 3.0, 4.0]
    assert to_numpy(most_used(usage)(rows, 6)).ravel().tolist() == [1.0]  # the argmax


def _conv_by_loop(rows, weights, rate, dilation=1):
    """y_t = Σ_s x_{t·rate + s·dilation} W_s, one block and one tap at a time (5.5)."""
    rows, weights = to_numpy(rows), to_numpy(weights)
    out = np.zeros((rows.shape[0] // rate, weights.shape[2]))
    for t in range(out.shape[0]):
        for s in range(weights.shape[0]):
            out[t] += rows[t * rate + s * dilation] @ weights[s]
    return out


@pytest.mark.parametrize(("rate", "e"), [(1, 4), (3, 9), (3, 11), (4, 13)])
def test_conv1d_with_distinct_taps_equals_the_hand_written_sum(xp, rate, e):
    # distinct matrix taps, rows not a multiple of the rate: tap s must meet row t·c + s
    g = rng(30 + rate, xp)
    weights, rows = g.standard_normal((rate, D, D)), g.standard_normal((e, D))
    got = conv1d(weights)(rows, rate)
    assert got.shape == (e // rate, D)
    assert_attention_close(got, xp.asarray(_conv_by_loop(rows, weights, rate)))
    flipped = _conv_by_loop(rows, weights[::-1], rate)  # reversed taps give another result
    assert rate == 1 or not np.allclose(to_numpy(got), flipped)


@pytest.mark.parametrize(
    ("taps", "dilation", "rate", "e"), [(3, 2, 5, 17), (2, 3, 4, 8), (1, 7, 3, 7)]
)
def test_dilated_conv_with_distinct_taps_equals_the_hand_written_sum(xp, taps, dilation, rate, e):
    g = rng(40 + taps, xp)
    weights, rows = g.standard_normal((taps, D, D)), g.standard_normal((e, D))
    got = dilated_conv(weights, dilation)(rows, rate)
    assert got.shape == (e // rate, D)
    assert_attention_close(got, xp.asarray(_conv_by_loop(rows, weights, rate, dilation)))
    if taps > 1:
        assert not np.allclose(to_numpy(got), _conv_by_loop(rows, weights[::-1], rate, dilation))


def test_pools_with_distinct_rows_match_the_hand_written_blocks(xp):
    rows = rng(45, xp).standard_normal((9, D))
    host = to_numpy(rows).reshape(3, 3, D)  # 9/3 = 3 blocks
    assert np.array_equal(to_numpy(max_pool(rows, 3)), host.max(axis=1))
    assert_attention_close(mean_pool(rows, 3), xp.asarray(host.sum(axis=1) / 3))


@pytest.mark.parametrize(("e", "rate"), [(7, 2), (3, 4), (1, 2), (11, 3)])
def test_pools_reject_a_partial_block_rather_than_drop_it(xp, e, rate):
    # pooling works on whole blocks: 7 rows at rate 2 dropped the last row, and 3 rows at
    # rate 4 returned an empty (0, d) array; both are a caller's mistake and now raise
    rows = rng(46, xp).standard_normal((e, D))
    for pool in (max_pool, mean_pool):
        with pytest.raises(ValueError, match=rf"rows must be whole blocks of rate = {rate} rows.*"
                           rf"got {e} rows: a remainder of {e % rate}"):  # fmt: skip
            pool(rows, rate)
        assert pool(rows[: e - e % rate], rate).shape == ((e - e % rate) // rate, D)


def test_update_pools_whole_blocks_and_keeps_the_remainder_pending(xp):
    # the one internal caller: 5 evicted rows at rate 2 pool 2 blocks, and 1 row waits
    rows = xp.asarray(np.arange(5.0 * D).reshape(5, D))
    for pool in (max_pool, mean_pool):
        state = update(MemoryState.empty(D, n_mem=0, n_cmem=4, xp=xp), rows, compress=pool, rate=2)
        assert state.cmem.shape == (2, D)
        assert to_numpy(state.pending).tolist() == to_numpy(rows[4:]).tolist()
        assert to_numpy(state.cmem).tolist() == to_numpy(pool(rows[:4], 2)).tolist()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_mean_pool_of_huge_rows_is_their_mean_not_inf(xp, dtype):
    top = float(np.finfo(dtype).max)
    rows = xp.asarray(np.array([[0.9, -0.5], [0.7, -0.9], [0.8, -0.7]]) * top,
                      dtype=dtype)  # fmt: skip
    got = to_numpy(mean_pool(rows, 3))
    expected = np.array([[0.8, -0.7]]) * top
    assert np.isfinite(got).all()
    assert np.allclose(got / top, expected / top, rtol=1e-6)


# --- no NaN or inf returned from finite input ----------------------------------------------------


def test_compressive_attention_refuses_overflowing_scores():
    big = np.full((3, D), 1e200)
    with pytest.raises(FloatingPointError, match="compressive_attention produced NaN or inf"):
        compressive_attention(big, STATE, *W)
    relative = Relative(np.full((D, 6), 1e200), np.ones(D), np.ones(D))
    with pytest.raises(FloatingPointError, match="compressive_attention produced NaN or inf"):
        compressive_attention(np.full((3, D), 1e150), STATE, *W, relative=relative)


def test_segment_forms_compute_large_but_harmless_inputs_exactly(xp):
    # the a-priori bound scale·d·max|q|·max|k| overflows, the scores do not (q ⟂ k):
    # the guard is armed and the result is still exact attention with the band mask
    n = 6
    q = xp.zeros((n, D))
    q[:, 0] = 1e160
    k = xp.zeros((n, D))
    k[:, 1] = 1e160
    v = rng(46, xp).standard_normal((n, 3))
    band = xp.asarray(segment_band(n, 2, 1, True))
    expected = softmax_attention(xp.zeros((n, D)), xp.zeros((n, D)), v, mask=band)
    assert_attention_close(xl_attention(q, k, v, segment=2, memory=1, causal=True), expected)
    got = compressive_memory_attention(q, k, v, segment=2, memory=1, compressed=0, rate=2,
                                       causal=True)  # fmt: skip
    assert_attention_close(got, expected)


def test_segment_forms_refuse_scores_just_past_the_bound():
    # scale·d·c² = 2c² ≈ 3.9e308 overflows, though c² / 2 (the bound without d) does not
    c = np.full((4, D), 1.4e154)
    kw = dict(segment=2, memory=1)
    with pytest.raises(FloatingPointError, match="xl_attention produced NaN or inf"):
        xl_attention(c, c, c, scale=0.5, **kw)
    with pytest.raises(FloatingPointError, match="compressive_memory_attention produced NaN"):
        compressive_memory_attention(c, c, c, scale=0.5, compressed=1, rate=1, **kw)


def test_scores_overflowing_to_minus_inf_are_not_read_as_masked():
    # every score of every query is a huge negative number: exact attention reads the
    # least negative key, a score overflowing to -inf would read as masked and give 0
    q = np.full((4, 1), 1e200)
    k = -1e200 * np.arange(1.0, 5.0)[:, None]
    v = np.arange(1.0, 5.0)[:, None]
    with pytest.raises(FloatingPointError, match="xl_attention produced NaN or inf"):
        xl_attention(q, k, v, segment=2, memory=1)
    with pytest.raises(FloatingPointError, match="compressive_memory_attention produced NaN"):
        compressive_memory_attention(q, k, v, segment=2, memory=1, compressed=1, rate=1)


def test_segment_forms_refuse_scores_that_overflow_through_the_taps():
    # raw keys are harmless, the compressed key 1e300·(taps 1e10 + 1e10) overflows
    q = np.ones((6, 1))
    k = np.full((6, 1), 1e300 / 4)
    v = np.ones((6, 1))
    kw = dict(segment=2, memory=1, compressed=2, rate=2, causal=True)
    assert np.isfinite(compressive_memory_attention(q, k, v, **kw)).all()
    with pytest.raises(FloatingPointError, match=r"q·k overflows float64: .*Σ\|taps\|"):
        compressive_memory_attention(q, k, v, compress=(1e10, 1e10), **kw)


def test_a_rate_beyond_the_sequence_allocates_no_taps():
    q = np.random.default_rng(47).standard_normal((5, D))
    # no block ever completes: every evicted row stays pending and is read raw, so each
    # segment reads its whole past, as XL with a memory of the whole sequence
    got = compressive_memory_attention(q, q, q, segment=2, memory=1, compressed=3, rate=10**12)
    assert np.array_equal(got, xl_attention(q, q, q, segment=2, memory=5))


def _fit_by_hand(stream, weights, *, rate, segment, steps, lr, clip):
    """The loop of fit_conv_compressor written out: windows, clipping, descent."""
    w = np.broadcast_to(np.eye(stream.shape[1]) / rate, (rate,) + weights[0].shape).copy()
    losses = []
    windows = stream.shape[0] // segment - 1
    for step in range(steps):
        t = step % windows
        old, h = (
            stream[t * segment : (t + 1) * segment],
            stream[(t + 1) * segment : (t + 2) * segment],
        )
        loss, g = conv1d_loss_and_gradient(h, old, w, *weights)
        losses.append(loss)
        norm = np.sqrt((g**2).sum())
        w = w - lr * (g * (clip / norm) if norm > clip else g)
    return w, losses


@pytest.mark.parametrize("clip", [1e-3, 1e3])
def test_fit_conv_compressor_is_clipped_gradient_descent_over_the_windows(clip):
    stream = structured_stream()[:120]
    weights = _weights(np, 14)
    kw = dict(rate=3, segment=24, steps=7, lr=0.01, clip=clip)  # 4 windows: wraps around
    got, losses = fit_conv_compressor(stream, *weights, **kw)
    expected, expected_losses = _fit_by_hand(stream, weights, **kw)
    assert np.allclose(got, expected, rtol=1e-12, atol=1e-15)
    assert np.allclose(losses, expected_losses, rtol=1e-12)
    assert len(set(np.round(losses, 12))) == 7  # every step saw new weights or a new window


def _fit_step_by_step(stream, wq, wk, wv, *, rate, segment, steps, lr, clip):
    """fit_conv_compressor as it was written with a host read in every step: the loss and the
    gradient's norm read each step, the clipping decided on the host, and the first step that
    overflows raising at once.  The loop that keeps everything on the device must equal it."""
    d = stream.shape[1]
    weights = np.broadcast_to(np.eye(d, dtype=stream.dtype) / rate, (rate, d, d)).copy()
    windows = stream.shape[0] // segment - 1
    losses = []

    def diverged(step, why):
        return FloatingPointError(
            f"the reconstruction loss diverged at step {step} (lr = {lr}, clip = {clip}): "
            f"{why}; lower lr or clip"
        )

    for step in range(steps):
        t = step % windows
        old_mem = stream[t * segment : (t + 1) * segment]
        h = stream[(t + 1) * segment : (t + 2) * segment]
        try:
            loss, gradient = conv1d_loss_and_gradient(h, old_mem, weights, wq, wk, wv)
        except FloatingPointError as error:
            raise diverged(step, str(error).split("finite input: ", 1)[1]) from None
        losses.append(loss)
        with np.errstate(over="ignore", invalid="ignore"):
            peak = np.abs(gradient).max()
            peak = np.where(peak > 0, peak, 1)
            norm = float(peak * np.sqrt(((gradient / peak) ** 2).sum()))
            if norm > clip:
                gradient = gradient * (clip / norm)
            weights = weights - lr * gradient
    if not np.isfinite(weights).all():
        raise diverged(steps - 1, "the last step made the weights overflow")
    return weights, losses


_CONVERGING = [
    (1, 0.01, 1e-3, 9),  # every step clipped
    (1, 0.01, 1e3, 9),  # none clipped
    (1, 0.05, 0.05, 30),  # some clipped, some not
]
_DIVERGING = [  # float64 sizes
    (1, 1e150, 1e3, 12),  # the loss or the gradient overflows after a few steps
    (50, 1e300, 1e100, 6),  # the scores overflow at the second step
    (1, 1e307, 1e300, 1),  # the last step makes the weights overflow
]


@pytest.mark.parametrize(
    ("scale", "lr", "clip", "steps", "dtype"),
    [(*case, "float64") for case in _CONVERGING + _DIVERGING]
    + [(*case, "float32") for case in _CONVERGING],
)
def test_a_fit_on_the_device_equals_the_fit_read_step_by_step(scale, lr, clip, steps, dtype):
    stream = (scale * structured_stream()[:120]).astype(dtype)
    weights = tuple(w.astype(dtype) for w in _weights(np, 13))
    kw = dict(rate=3, segment=24, steps=steps, lr=lr, clip=clip)
    try:
        expected = _fit_step_by_step(stream, *weights, **kw)
    except FloatingPointError as error:
        with pytest.raises(FloatingPointError) as info:
            fit_conv_compressor(stream, *weights, **kw)
        assert str(info.value) == str(error)
        return
    got, losses = fit_conv_compressor(stream, *weights, **kw)
    assert got.dtype == expected[0].dtype and type(losses) is list and len(losses) == steps
    assert all(type(x) is float for x in losses)
    if dtype == "float64":  # the same operations in the same order: the same numbers
        np.testing.assert_array_equal(got, expected[0])
        assert losses == expected[1]
        return
    # float32: the clipping factor clip/‖g‖ is rounded to float32 once, instead of being
    # computed in float64 and then rounded, so each step may differ by one rounding of the
    # update: at most steps·ε of the weights' size (relative errors of entries near 0 are large)
    bound = steps * np.finfo(np.float32).eps
    np.testing.assert_allclose(got, expected[0], rtol=bound, atol=bound * np.abs(expected[0]).max())
    np.testing.assert_allclose(losses, expected[1], rtol=bound, atol=0)


def test_the_device_fit_reports_the_step_that_diverged_first():
    # the reference raises at a step strictly inside the fit: the device loop, which runs on
    # over NaN, must name that step and not a later one
    stream, weights = structured_stream()[:120], _weights(np, 13)
    kw = dict(rate=3, segment=24, steps=12, lr=1e150, clip=1e3)
    with pytest.raises(FloatingPointError) as reference:
        _fit_step_by_step(stream, *weights, **kw)
    step = int(re.search(r"at step (\d+)", str(reference.value)).group(1))
    assert 0 < step < kw["steps"] - 1
    with pytest.raises(FloatingPointError, match=rf"at step {step} \(.*the loss or its gradient"):
        fit_conv_compressor(stream, *weights, **kw)


def test_the_fit_syncs_as_often_in_5_steps_as_in_50(standin):
    # on a GPU a host read inside the loop would stall the device once per step: on the
    # stand-in, which counts every sync by its line, a fit of 50 steps syncs exactly where
    # and as often as a fit of 5 (the finiteness check before the loop, the reads after it)
    import cupy_standin

    weights = _weights(standin, 13)
    stream = standin.asarray(structured_stream()[:120])
    counts = {}
    for steps in (5, 50):
        with cupy_standin.counting_syncs() as syncs:
            _, losses = fit_conv_compressor(stream, *weights, rate=3, segment=24, steps=steps)
        assert len(losses) == steps
        counts[steps] = syncs
    table = {steps: sorted(syncs.items()) for steps, syncs in counts.items()}
    assert counts[5] == counts[50], f"a sync in the loop of fit_conv_compressor: {table}"
    assert 1 <= sum(counts[5].values()) <= 3, table  # the check, the flags, the losses


def test_a_fit_whose_last_step_overflows_raises():
    # one step: the loss is finite (about 6), the update lr·g (|g| up to 28) is not
    weights = _weights(np, 13)
    with pytest.raises(FloatingPointError, match="the last step made the weights overflow"):
        fit_conv_compressor(
            structured_stream(), *weights, rate=3, segment=24, steps=1, lr=1e307, clip=1e300
        )
    weights_out, _ = fit_conv_compressor(  # the same step, small enough, is returned
        structured_stream(), *weights, rate=3, segment=24, steps=1, lr=1e300, clip=1e300
    )
    assert np.isfinite(weights_out).all()


def test_a_diverging_fit_raises_without_warnings_first():
    # the suite turns RuntimeWarnings into errors: the overflow must surface as the error
    weights = _weights(np, 13)
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+ \(lr = 1e\+300"):
        fit_conv_compressor(50 * structured_stream(), *weights, rate=3, segment=24, steps=10,
                            lr=1e300, clip=1e9)  # fmt: skip


# --- (5.6) the attention-reconstruction loss ---------------------------------------------------------


def test_reconstruction_loss_is_zero_for_identity_and_positive_for_pooling(xp):
    g = rng(9, xp)
    weights = _weights(xp, 10)
    h, old = g.standard_normal((5, D)), g.standard_normal((12, D))
    assert attention_reconstruction_loss(h, old, old, *weights) == 0.0
    assert attention_reconstruction_loss(h, old, mean_pool(old, 3), *weights) > 0.0


def test_reconstruction_gradient_matches_finite_differences(xp):
    g = rng(11, xp)
    weights = _weights(xp, 12)
    h, old = g.standard_normal((8, D)), g.standard_normal((12, D))
    w = 0.3 * g.standard_normal((3, D, D))
    loss, gradient = conv1d_loss_and_gradient(h, old, w, *weights)
    assert loss == pytest.approx(attention_reconstruction_loss(h, old, conv1d(w)(old, 3), *weights))
    numeric = np.zeros(w.shape)
    step = 1e-6
    w_host = to_numpy(w)
    for index in np.ndindex(w.shape):
        plus, minus = w_host.copy(), w_host.copy()
        plus[index] += step
        minus[index] -= step
        numeric[index] = (
            conv1d_loss_and_gradient(h, old, xp.asarray(plus), *weights)[0]
            - conv1d_loss_and_gradient(h, old, xp.asarray(minus), *weights)[0]
        ) / (2 * step)
    gradient = to_numpy(gradient)
    assert np.abs(numeric - gradient).max() / np.abs(gradient).max() < 1e-8  # measured: 3e-10


def test_fitting_a_conv_compressor_lowers_the_loss(xp):
    weights = _weights(xp, 13)
    stream = xp.asarray(structured_stream())
    _, losses = fit_conv_compressor(stream, *weights, rate=3, segment=24, steps=300)
    assert np.mean(losses[-24:]) < 0.7 * np.mean(losses[:24])


def test_a_diverging_fit_raises_instead_of_returning_nan():
    weights = _weights(np, 13)
    stream = 50 * structured_stream()
    # numpy warns about the overflow on the way (the suite turns warnings into errors);
    # under default warning settings what reaches the caller is this error, not NaN weights
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(FloatingPointError, match="the reconstruction loss diverged"):
            fit_conv_compressor(stream, *weights, rate=3, segment=24, steps=10, lr=1e300, clip=1e9)


# --- (5.4) range and cost ------------------------------------------------------------------------------


def test_temporal_range_and_costs():
    assert temporal_range(layers=18, n_mem=512, n_cmem=512, rate=3) == 18 * (512 + 3 * 512)
    assert temporal_range(layers=4, n_mem=100, n_cmem=0, rate=5) == 400  # XL
    # equal attention cost, longer range: 512 + 512 compressed at rate 3 vs 1024 plain memories
    assert complexity.compressive_attention_memory(512, n_mem=512, n_cmem=512) == (
        complexity.xl_attention_memory(512, n_mem=1024)
    )
    assert temporal_range(layers=1, n_mem=512, n_cmem=512, rate=3) == 2 * 1024
    # without memory: the projections of the segment plus dense attention over it
    assert complexity.xl_attention_flops(64, n_mem=0) == 2 * (64 * 64 * 64 + 64 * 64 * 128) + (
        complexity.dense_attention_flops(64)
    )


# --- bad inputs -------------------------------------------------------------------------------------------

STATE = MemoryState.empty(D, n_mem=4, n_cmem=2)
W = tuple(np.eye(D) for _ in range(3))
# fmt: off
BAD_INPUTS = [
    (lambda: update(STATE, np.ones((3, D)), compress=max_pool, rate=0), ValueError, r"rate must be an integer >= 1, got 0"),
    (lambda: update(STATE, np.ones((3, D + 1)), compress=max_pool), ValueError, r"h must have shape \(n_s, d\) with d = 6 \(the state's width\), got shape \(3, 7\)"),
    (lambda: update(STATE, np.ones((9, D))), ValueError, r"compress must be given when n_cmem > 0"),
    (lambda: MemoryState.empty(D, n_mem=-1), ValueError, r"n_mem must be an integer >= 0, got -1"),
    (lambda: MemoryState.empty(D, n_mem=2, n_cmem=-2), ValueError, r"n_cmem must be an integer >= 0, got -2"),
    (lambda: conv1d(np.ones((3, D, D + 1))), ValueError, r"weights must have shape \(c, d, d\) with equal last two axes and no empty axis, got shape \(3, 6, 7\)"),
    (lambda: conv1d(np.ones((3, D, D)))(np.ones((8, D)), 2), ValueError, r"conv1d weights \(3, 6, 6\) need rate 3 and width 6, got rate 2"),
    (lambda: dilated_conv(np.ones((3, D, D)), 2)(np.ones((8, D)), 4), ValueError, r"a dilated kernel of 3 taps with dilation 2 spans 5 rows, more than the rate 4"),
    (lambda: most_used(np.ones(3))(np.ones((4, D)), 2), ValueError, r"usage must have one entry per row \(4\), got \(3,\)"),
    (lambda: compressive_attention(np.ones((3, D)), STATE, np.eye(D + 1), *W[1:]), ValueError, r"wq must have shape \(d, d_k\) with d = 6 \(the state's width\) and d_k >= 1, got shape \(7, 7\)"),
    (lambda: compressive_attention(np.ones((3, D + 2)), STATE, *W), ValueError, r"h must have shape \(n_s, d\) with d = 6"),
    (lambda: temporal_range(layers=2, n_mem=4, n_cmem=2, rate=0), ValueError, r"rate must be an integer >= 1, got 0"),
    (lambda: relative_scores(np.ones((3, 4)), np.ones((2, 4)), np.ones((4, 2)), np.ones(4), np.ones(4)), ValueError, r"need at least as many keys as queries, got n = 3 and m = 2"),
    (lambda: relative_scores(np.ones((2, 4)), np.ones((3, 4)), np.ones((5, 2)), np.ones(4), np.ones(4)), ValueError, r"shapes must be q \(\.\.\., n, d\)"),
    (lambda: fit_conv_compressor(np.ones((10, D)), *W, rate=3, segment=6), ValueError, r"stream must hold at least 2·segment = 12 rows, got 10"),
]
# fmt: on


@pytest.mark.parametrize(("call", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs_are_rejected(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


def test_a_state_of_another_width_is_rejected_by_attention_too():
    wide = MemoryState.empty(D + 2, n_mem=3)
    with pytest.raises(ValueError, match=r"must have shape \(.*\) with d = 8"):
        compressive_attention(np.ones((2, D)), wide, *W)
    with pytest.raises(ValueError, match=r"h must have shape \(n_s, d\) with d = 8"):
        update(wide, np.ones((2, D)))
    assert math.isfinite(float(to_numpy(compressive_attention(np.ones((2, D)), STATE, *W)).sum()))


# --- (5.7) the q/k/v form: XL over a whole sequence ------------------------------------------------


def segment_band(n, segment, memory, causal):
    """Query p, in the segment starting at s(p), reads j >= s(p) − memory and j <= p (causal)
    or j < s(p) + segment (not): the dense (n, n) mask of (5.2) and (5.7), for the oracle."""
    start = (np.arange(n) // segment * segment)[:, None]  # (n, 1)  s(p)
    j, p = np.arange(n)[None, :], np.arange(n)[:, None]
    return (j >= start - memory) & ((j <= p) if causal else (j < start + segment))


@st.composite
def segment_cases(draw, *, max_n=24):
    """n, segment, memory, causal, dtype, batch, seed: n is often not a multiple of segment."""
    return dict(
        n=draw(st.integers(1, max_n), label="n"),
        segment=draw(st.integers(1, 8), label="segment"),
        memory=draw(st.integers(0, 10), label="memory"),
        causal=draw(st.booleans(), label="causal"),
        dtype=draw(st.sampled_from(["float64", "float32"]), label="dtype"),
        batch=draw(st.sampled_from([(), (2,), (2, 3)]), label="batch"),
        seed=draw(st.integers(0, 2**16), label="seed"),
    )


def _inputs(xp, case, d=5):
    q, k, v = random_qkv(
        xp, n=case["n"], d=d, batch=case["batch"], dtype=case["dtype"], seed=case["seed"]
    )
    if len(case["batch"]) == 2:
        q = q[:, :1]  # (2, 1, n, d): the leading axes broadcast
    return q, k, v


@given(case=segment_cases(), padding=st.sampled_from([None, "keys", "batched keys"]))
def test_xl_attention_equals_softmax_with_the_band_mask(xp, case, padding):
    q, k, v = _inputs(xp, case)
    n, segment, memory, causal = case["n"], case["segment"], case["memory"], case["causal"]
    band = xp.asarray(segment_band(n, segment, memory, causal))  # (n, n)
    mask = oracle_mask = None
    if padding is not None:
        g = np.random.default_rng(case["seed"])
        shape = (n,) if padding == "keys" else case["batch"] + (1, n)
        mask = xp.asarray(g.random(shape) < 0.8)
        oracle_mask = band & (mask if mask.ndim > 1 else mask[None, :])
    got = xl_attention(q, k, v, segment=segment, memory=memory, causal=causal, mask=mask)
    expected = softmax_attention(q, k, v, mask=band if mask is None else oracle_mask)
    assert got.dtype == expected.dtype == q.dtype
    assert_attention_close(got, expected)


# --- (5.7), (5.8) compressed memory in the q/k/v form ---------------------------------------------


def _chunks(n, segment):
    return [min(segment, n - s) for s in range(0, n, segment)]


@given(
    n=st.integers(1, 30),
    segment=st.integers(1, 6),
    memory=st.integers(0, 8),
    compressed=st.integers(0, 4),
    rate=st.integers(1, 4),
    kind=st.sampled_from(["mean", "taps"]),
)
@settings(max_examples=40)
def test_compressive_memory_attention_equals_streaming_the_stateful_api(
    xp, n, segment, memory, compressed, rate, kind
):
    g = rng(n + 31 * rate, xp)
    h = g.standard_normal((n, D))
    weights = _weights(xp, rate)
    wq, wk, wv = weights
    if kind == "mean":
        compress, compressor = "mean", mean_pool
    else:
        compress = g.standard_normal(rate)  # scalar taps: conv1d with W_s = a_s·I (5.8)
        compressor = conv1d(compress[:, None, None] * xp.eye(D))
    state = MemoryState.empty(D, n_mem=memory, n_cmem=compressed, xp=xp)
    streamed = _stream(xp, h, _chunks(n, segment), state, weights, compress=compressor, rate=rate)
    got = compressive_memory_attention(
        h @ wq, h @ wk, h @ wv, segment=segment, memory=memory, compressed=compressed,
        rate=rate, compress=compress, causal=True,
    )  # fmt: skip
    assert_attention_close(got, streamed)


def compressive_oracle(q, k, v, *, segment, memory, compressed, rate, taps, causal):
    """Dense attention over [every compressed block; every position] with the keys of (5.7)."""
    xp = get_array_module(q)
    n = q.shape[-2]
    blocks = n // rate
    taps = xp.asarray(taps, dtype=q.dtype)

    def pool(x):  # (..., n, f) -> (..., n // rate, f)
        rows = x[..., : blocks * rate, :].reshape(x.shape[:-2] + (blocks, rate, x.shape[-1]))
        return xp.einsum("s,...bsf->...bf", taps, rows)

    mask = np.zeros((n, blocks + n), dtype=bool)
    for p in range(n):
        start = p // segment * segment
        evicted = max(0, start - memory)
        first_raw = evicted
        if compressed:
            first_raw = evicted // rate * rate  # pending rows are read raw
            mask[p, max(0, evicted // rate - compressed) : evicted // rate] = True
        last = p if causal else min(n, start + segment) - 1
        mask[p, blocks + first_raw : blocks + last + 1] = True
    keys = xp.concatenate([pool(k), k], axis=-2)
    values = xp.concatenate([pool(v), v], axis=-2)
    return softmax_attention(q, keys, values, mask=xp.asarray(mask))


@given(case=segment_cases(max_n=30), compressed=st.integers(0, 4), rate=st.integers(1, 4))
def test_compressive_memory_attention_equals_a_dense_oracle(xp, case, compressed, rate):
    q, k, v = _inputs(xp, case)
    taps = np.linspace(0.5, 1.5, rate)
    kw = dict(segment=case["segment"], memory=case["memory"], compressed=compressed, rate=rate)
    got = compressive_memory_attention(
        q, k, v, compress=xp.asarray(taps), causal=case["causal"], **kw
    )
    expected = compressive_oracle(q, k, v, taps=taps, causal=case["causal"], **kw)
    assert got.dtype == q.dtype
    assert_attention_close(got, expected)


@given(case=segment_cases(), rate=st.integers(1, 4))
def test_no_compressed_memory_is_xl_attention(xp, case, rate):
    q, k, v = _inputs(xp, case)
    kw = dict(segment=case["segment"], memory=case["memory"], causal=case["causal"])
    got = compressive_memory_attention(q, k, v, compressed=0, rate=rate, **kw)
    assert np.array_equal(to_numpy(got), to_numpy(xl_attention(q, k, v, **kw)))


def test_max_pooling_does_not_commute_with_the_projection(xp):
    # the counterexample of (5.8): two rows, one block, a projection to one dimension
    h = xp.asarray([[1.0, 0.0], [0.0, 1.0]])
    w = xp.asarray([[1.0], [-1.0]])
    assert to_numpy(max_pool(h, 2) @ w).tolist() == [[0.0]]  # project the pooled hidden states
    assert to_numpy(max_pool(h @ w, 2)).tolist() == [[1.0]]  # pool the projected keys
    assert to_numpy(mean_pool(h, 2) @ w).tolist() == to_numpy(mean_pool(h @ w, 2)).tolist()
    # and on random data: linear compressors commute, max pooling and matrix taps do not
    g = rng(21, xp)
    h, w = g.standard_normal((12, D)), g.standard_normal((D, 3))
    taps = g.standard_normal(3)
    scalar = conv1d(taps[:, None, None] * xp.eye(D))
    assert_attention_close(scalar(h, 3) @ w, conv1d(taps[:, None, None] * xp.eye(3))(h @ w, 3))
    assert not np.allclose(to_numpy(max_pool(h, 3) @ w), to_numpy(max_pool(h @ w, 3)))
    # matrix taps: no convolution of the projected rows gives f_c(H) W; the best one
    # (least squares over 40 blocks, 9 unknowns per output) leaves a residual
    matrix, h = g.standard_normal((3, D, D)), g.standard_normal((120, D))
    pooled_then_projected = to_numpy(conv1d(matrix)(h, 3) @ w)  # (40, 3)
    blocks = to_numpy(h @ w).reshape(40, 9)  # each block's projected rows, flattened
    _, residual, *_ = np.linalg.lstsq(blocks, pooled_then_projected, rcond=None)
    assert residual.sum() > 1.0
    with pytest.raises(ValueError, match="compress must be 'mean' or a 1-D float array"):
        compressive_memory_attention(
            h, h, h, segment=4, memory=4, compressed=2, rate=3, compress="max"
        )


# --- weights, causality, inputs -------------------------------------------------------------------------


@given(case=segment_cases(max_n=20), compressed=st.integers(0, 3), rate=st.integers(1, 3))
@settings(max_examples=30)
def test_weights_to_dense_reproduce_the_output(xp, case, compressed, rate):
    q, k, v = _inputs(xp, case)
    kw = dict(segment=case["segment"], memory=case["memory"], causal=case["causal"])
    taps = xp.asarray(np.linspace(1.0, 2.0, rate))
    out, weights = compressive_memory_attention(
        q, k, v, compressed=compressed, rate=rate, compress=taps, return_weights=True, **kw
    )
    dense = weights.to_dense()  # (..., n, n)
    assert dense.shape == out.shape[:-1] + (case["n"],)
    assert_attention_close(dense @ v, out)
    # XL's weights are exact attention's weights with the band mask
    out, weights = xl_attention(q, k, v, return_weights=True, **kw)
    band = xp.asarray(segment_band(case["n"], case["segment"], case["memory"], case["causal"]))
    _, expected = softmax_attention(q, k, v, mask=band, return_weights=True)
    assert_attention_close(weights.to_dense(), expected)
    assert_attention_close(weights.to_dense() @ v, out)


@pytest.mark.parametrize("cut", [1, 5, 8, 13])
def test_causal_never_reads_the_future(xp, cut):
    q, k, v = random_qkv(xp, n=17, d=D, batch=(2,), seed=cut)
    later_k, later_v = k.copy(), v.copy()
    later_k[..., cut:, :] = 100.0
    later_v[..., cut:, :] = -7.0
    calls = [
        lambda k, v: xl_attention(q, k, v, segment=4, memory=3, causal=True),
        lambda k, v: compressive_memory_attention(
            q, k, v, segment=4, memory=3, compressed=2, rate=2, causal=True
        ),
    ]
    for call in calls:
        before, after = to_numpy(call(k, v)), to_numpy(call(later_k, later_v))
        assert np.array_equal(before[..., :cut, :], after[..., :cut, :])
        assert not np.allclose(before[..., cut:, :], after[..., cut:, :])


def test_qkv_form_does_not_modify_its_inputs(xp):
    q, k, v = random_qkv(xp, n=11, d=D, batch=(2,), seed=3)
    taps = xp.asarray([0.25, 0.75])
    mask = xp.asarray(np.arange(11) % 4 != 1)
    copies = [x.copy() for x in (q, k, v, taps, mask)]
    xl_attention(q, k, v, segment=3, memory=2, mask=mask, causal=True, return_weights=True)
    compressive_memory_attention(
        q, k, v, segment=3, memory=2, compressed=2, rate=2, compress=taps, return_weights=True
    )
    for x, copy in zip((q, k, v, taps, mask), copies, strict=True):
        assert np.array_equal(to_numpy(x), to_numpy(copy))


def test_a_query_with_no_allowed_key_gets_zero(xp):
    q, k, v = random_qkv(xp, n=6, d=D, seed=4)
    mask = xp.asarray([True, True, False, False, False, True])
    out = to_numpy(xl_attention(q, k, v, segment=2, memory=0, mask=mask))
    assert np.array_equal(out[2:4], np.zeros((2, D)))  # segment [2, 4) reads only padded keys
    assert np.isfinite(out).all()


# --- (5.9) working set and flops ------------------------------------------------------------------------

QKV_FORMS = {
    "xl": (
        lambda q, k, v, c: xl_attention(q, k, v, segment=c["segment"], memory=c["memory"]),
        lambda n, c: complexity.xl_memory(n, 64, segment=c["segment"], memory=c["memory"]),
    ),
    "compressive": (
        lambda q, k, v, c: compressive_memory_attention(q, k, v, **c),
        lambda n, c: complexity.compressive_memory_memory(n, 64, **c),
    ),
}
CONFIGS = {
    "paper": dict(segment=512, memory=512, compressed=512, rate=4),
    "ragged": dict(segment=384, memory=256, compressed=128, rate=3),  # 4096 = 10·384 + 256
}


@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("form", QKV_FORMS)
def test_qkv_form_memory_matches_the_formula_and_is_linear(form, config):
    call, formula = QKV_FORMS[form]
    c = CONFIGS[config]
    peaks = {}
    for n in (4096, 8192, 16384):
        q, k, v = random_qkv(np, n=n, d=64, dtype="float32", seed=n)
        peaks[n] = peak = peak_memory(lambda q=q, k=k, v=v: call(q, k, v, c), np)[1]
        model = 4 * formula(n, c)  # float32: 4 bytes an element
        assert 0.99 * model <= peak <= 1.01 * model, (n, peak, model)  # measured: 1.002–1.006
    assert 1.8 <= peaks[8192] / peaks[4096] <= 2.2
    assert 1.8 <= peaks[16384] / peaks[8192] <= 2.2
    # nothing of size n×n: at n = 16384 that alone would be 1 GiB
    assert peaks[16384] < 4 * 16384 * 16384 / 10


def test_qkv_form_flop_formulas():
    # n = 8 in segments of 4 with a memory of 2: 8 queries read W = 6 keys each
    assert complexity.xl_flops(8, 2, segment=4, memory=2) == 48 * (4 + 4 + 4) + 8 * 4
    assert complexity.compressive_memory_flops(8, 2, segment=4, memory=2, compressed=0) == (
        complexity.xl_flops(8, 2, segment=4, memory=2)
    )
    # n = 12, segments of 4, memory 2, rate 2: the last segment starts at 8, has evicted
    # [0, 6): 3 blocks of which 2 are read; W = 2 + 1 + 4 keys (one possible pending row)
    xl_part = complexity.pattern_flops(12 * 7, 2) + 12 * 4
    compressed_part = 2 * 3 * 2 * 4 + complexity.pattern_flops(12 * 2, 2) + 3 * 12 * 2 + 8 * 12
    assert (
        complexity.compressive_memory_flops(12, 2, segment=4, memory=2, compressed=2, rate=2)
        == xl_part + compressed_part
    )
    assert complexity.compressive_memory_memory(4096, compressed=0) == complexity.xl_memory(4096)
    # linear in n for a fixed segment and memory
    for formula in (complexity.xl_flops, complexity.compressive_memory_flops):
        assert 1.9 <= formula(32768) / formula(16384) <= 2.1


# --- bad inputs of the q/k/v form -------------------------------------------------------------------------

Q4 = np.ones((4, 3))
Q5 = np.ones((5, 3))
# fmt: off
XL_BAD_INPUTS = [
    (lambda: xl_attention(Q4, Q4, Q4, segment=0, memory=1), ValueError, r"segment must be an integer >= 1, got 0"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=True, memory=1), TypeError, r"segment must be an integer >= 1, got True"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=2, memory=-1), ValueError, r"memory must be an integer >= 0, got -1"),
    (lambda: xl_attention(Q4, Q5, Q5, segment=2, memory=1), ValueError, r"xl_attention needs as many keys as queries \(m = n\), got n = 4 and m = 5: the segments and the memory are positions of one sequence"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=2, memory=1, mask=np.ones((4, 4), bool)), ValueError, r"xl_attention cannot apply a mask of shape \(4, 4\) with a query axis: an n×m mask cannot be applied in linear time"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=2, memory=1, mask=np.ones(5, bool)), ValueError, r"mask must be broadcastable to \(\.\.\., n, m\) = \(4, 4\), got shape \(5,\)"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=2, memory=1, causal=1), TypeError, r"causal must be True or False, got 1"),
    (lambda: xl_attention(Q4, Q4, Q4, segment=2, memory=1, scale=0.0), ValueError, r"scale must be a finite real number > 0 or None, got 0.0"),
    (lambda: xl_attention(Q4.astype(int), Q4, Q4, segment=2, memory=1), TypeError, r"q must have a floating dtype"),
]
COMPRESSIVE_BAD_INPUTS = [
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=0, memory=1, compressed=1, rate=2), ValueError, r"segment must be an integer >= 1, got 0"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=-1, compressed=1, rate=2), ValueError, r"memory must be an integer >= 0, got -1"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=-1, rate=2), ValueError, r"compressed must be an integer >= 0, got -1"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=0), ValueError, r"rate must be an integer >= 1, got 0"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, compress="max"), ValueError, r"compress must be 'mean' or a 1-D float array \(or tuple of floats\) of rate = 2 taps \(a compressor linear along the sequence axis, .*\), got 'max'"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, compress=max_pool), TypeError, r"compress must be 'mean' or a 1-D float array .*, got function"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, compress=np.ones(3)), ValueError, r"compress must be 'mean' or a 1-D float array \(or tuple of floats\) of rate = 2 taps .*, got an array of shape \(3,\)"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, compress=np.ones(2, int)), TypeError, r"compress must have a floating dtype"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, compress=np.array([1.0, np.nan])), ValueError, r"compress must contain only finite values"),
    (lambda: compressive_memory_attention(Q4, Q5, Q5, segment=2, memory=1, compressed=1, rate=2), ValueError, r"compressive_memory_attention needs as many keys as queries \(m = n\), got n = 4 and m = 5"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, mask=np.ones((1, 4), bool)), ValueError, r"compressive_memory_attention cannot apply key padding: a masked key would be pooled into a compressed block"),
    (lambda: compressive_memory_attention(Q4, Q4, Q4, segment=2, memory=1, compressed=1, rate=2, mask=np.ones((4, 4), bool)), ValueError, r"compressive_memory_attention cannot apply a mask of shape \(4, 4\) with a query axis: a masked key would be pooled"),
]
# fmt: on


@pytest.mark.parametrize(("call", "error", "fragment"), XL_BAD_INPUTS)
def test_xl_attention_bad_inputs_are_rejected(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


@pytest.mark.parametrize(("call", "error", "fragment"), COMPRESSIVE_BAD_INPUTS)
def test_compressive_memory_attention_bad_inputs_are_rejected(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
