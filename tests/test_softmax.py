"""Exact attention: the oracle itself, and chunked attention against it.

Equation numbers refer to derivations/00-exact-attention.md.
"""

import math

import numpy as np
import pytest
from _helpers import random_qkv
from hypothesis import given
from hypothesis import strategies as st

from refattn import chunked_attention, complexity, softmax_attention
from refattn.backend import peak_memory, to_numpy
from refattn.softmax import softmax
from refattn.testing import assert_attention_close, attention_inputs


def python_attention(q, k, v, *, causal=False, mask=None):
    """Attention of one head by plain Python loops and math.exp: an independent oracle."""
    n, d = q.shape
    m = k.shape[0]
    out = np.zeros((n, v.shape[1]))
    for i in range(n):
        allowed = [
            j for j in range(m) if (not causal or j <= i + (m - n)) and (mask is None or mask[i, j])
        ]
        if not allowed:
            continue
        logits = {j: sum(q[i, t] * k[j, t] for t in range(d)) / math.sqrt(d) for j in allowed}
        top = max(logits.values())
        w = {j: math.exp(s - top) for j, s in logits.items()}
        total = sum(w.values())
        for j in allowed:
            out[i] += w[j] / total * v[j]
    return out


# --- (0.1) the definition -------------------------------------------------------------


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("with_mask", [False, True])
@pytest.mark.parametrize(("n", "m"), [(5, 5), (4, 7), (7, 3), (1, 1)])
def test_matches_python_loops(xp, n, m, causal, with_mask):
    q, k, v = random_qkv(xp, n=n, m=m, d=3, d_v=2, seed=n * 10 + m)
    mask = None
    if with_mask:
        mask = np.random.default_rng(1).random((n, m)) < 0.7
    expected = python_attention(*map(to_numpy, (q, k, v)), causal=causal, mask=mask)
    got = softmax_attention(q, k, v, causal=causal, mask=None if mask is None else xp.asarray(mask))
    assert_attention_close(got, expected)


def test_scale_multiplies_logits(xp):
    q, k, v = random_qkv(xp, n=6, m=5, d=4, seed=3)
    assert_attention_close(
        softmax_attention(q, k, v, scale=0.3), softmax_attention(q * (0.3 * 2.0), k, v)
    )


def test_batch_axes_broadcast_like_matmul(xp):
    q, _, _ = random_qkv(xp, n=4, d=3, batch=(2, 1), seed=4)
    _, k, v = random_qkv(xp, n=5, d=3, batch=(3,), seed=5)
    out = softmax_attention(q, k, v)
    assert out.shape == (2, 3, 4, 3)
    for a in range(2):
        for b in range(3):
            assert_attention_close(out[a, b], softmax_attention(q[a, 0], k[b], v[b]))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_output_dtype_follows_inputs(xp, fn, dtype):
    q, k, v = random_qkv(xp, n=4, d=3, dtype=dtype)
    assert fn(q, k, v).dtype == np.dtype(dtype)


# --- weights --------------------------------------------------------------------------


@given(inputs=attention_inputs())
def test_weight_rows_sum_to_one_or_zero(xp, inputs):
    inputs = inputs.to(xp)
    _, weights = softmax_attention(
        inputs.q, inputs.k, inputs.v, mask=inputs.mask, causal=inputs.causal, return_weights=True
    )
    w = to_numpy(weights).astype(np.float64)
    assert (w >= 0).all()
    sums = w.sum(axis=-1)
    empty = (w == 0).all(axis=-1)
    assert np.allclose(sums[~empty], 1.0, rtol=0, atol=1e-5)


def test_weights_are_the_softmax_of_the_logits(xp):
    q, k, v = random_qkv(xp, n=5, m=6, d=4, seed=7)
    out, weights = softmax_attention(q, k, v, return_weights=True)
    expected = softmax(q @ xp.swapaxes(k, -1, -2) / 2.0)
    assert_attention_close(weights, expected)
    assert_attention_close(out, weights @ v)


# --- (0.7) queries with nothing to attend -----------------------------------------------


@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_query_with_no_allowed_key_gets_zeros(xp, fn):
    q, k, v = random_qkv(xp, n=4, m=5, d=3, seed=8)
    mask = xp.ones((4, 5), dtype=bool)
    mask[2] = False
    out = to_numpy(fn(q, k, v, mask=mask))
    assert np.isfinite(out).all()
    assert (out[2] == 0).all()
    assert_attention_close(out[[0, 1, 3]], to_numpy(softmax_attention(q, k, v))[[0, 1, 3]])


# --- no silent NaN: scores that overflow the dtype ------------------------------------------


def _huge(xp, sign=1.0):
    """q (4, 3) of entries 1e20 and k of entries ±1e20 in float32: q·k ≈ ±3e40 overflows."""
    q = xp.full((4, 3), 1e20, dtype="float32")
    return q, sign * q.copy(), xp.ones((4, 2), dtype="float32")


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_overflowing_scores_raise_instead_of_nan_or_zeros(xp, fn, sign):
    # +inf scores would give NaN; -inf ones would read as "masked" and give silent zeros
    q, k, v = _huge(xp, sign)
    with pytest.raises(FloatingPointError, match=r"q·k overflows float32: .*≈ 1.7e\+40 > 3.4e\+38"):
        fn(q, k, v)


def test_overflow_in_a_later_chunk_is_seen(xp):
    # the device flag is carried across chunks and read once at the end
    q, k, v = random_qkv(xp, n=4, m=9, d=3, dtype="float32", seed=40)
    k[8] = 1e20
    q = q + 1e19 * xp.sign(q)
    with pytest.raises(FloatingPointError, match=r"chunked_attention cannot compute the scores"):
        chunked_attention(q, k, v, chunk_size=4)


@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_a_large_bound_without_overflow_still_computes_the_result(xp, fn):
    # q and k of size 2e19: the bound scale·d·max|q|·max|k| = 8e38 exceeds float32, the scores
    # (0 and ±2e38) do not; the guard checks instead of refusing, and the result is exact
    q = xp.zeros((3, 4), dtype="float32")
    k = xp.zeros((3, 4), dtype="float32")
    q[:, 0] = 2e19
    k[0, 1], k[1, 0], k[2, 0] = 2e19, 2e19, -2e19  # scores 0, +2e38, −2e38
    v = xp.asarray(np.arange(6.0).reshape(3, 2), dtype="float32")
    got = to_numpy(fn(q, k, v))
    assert np.isfinite(got).all()
    expected = to_numpy(softmax_attention(*(a.astype("float64") for a in (q, k, v))))
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_array_equal(got, np.tile(to_numpy(v)[1], (3, 1)))


@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_an_overflowing_score_that_is_masked_does_not_count(xp, fn):
    q, k, v = _huge(xp)
    k[1:] = 0.0  # only key 0 overflows against q, and the mask hides it
    mask = xp.asarray([False, True, True, True])[None, :]
    out = to_numpy(fn(q, k, v, mask=mask))
    np.testing.assert_array_equal(out, np.ones((4, 2)))


@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_a_weighted_sum_of_values_that_overflows_raises(xp, fn):
    q, k, _ = random_qkv(xp, n=4, m=5, d=3, dtype="float32", seed=41)
    v = xp.full((5, 2), 3e38, dtype="float32")  # Σ_j e_ij v_j with e ≤ 1 can reach 1.5e39
    with pytest.raises(FloatingPointError, match=r"weighted sum of v overflows float32"):
        fn(q, k, v)


def test_the_dense_score_matrix_is_refused_before_it_is_allocated():
    # q (2·10⁵, 1) as a broadcast view costs nothing; its 2·10⁵ × 2·10⁵ scores would be 298 GiB
    q = np.broadcast_to(np.zeros((1, 1)), (200_000, 1))

    def refused():
        with pytest.raises(
            MemoryError, match=r"\(200000, 200000\) needs 298 GiB.*chunked_attention"
        ):
            softmax_attention(q, q, q)

    _, peak = peak_memory(refused, np)
    assert peak < 10_000_000


# --- (0.3) the softmax and its max shift -------------------------------------------------


def test_softmax_shift_invariant(xp):
    x = random_qkv(xp, n=6, d=9, seed=9)[0]
    assert_attention_close(softmax(x + 123.0), softmax(x))
    assert_attention_close(softmax(x, axis=0), softmax(x - 50.0, axis=0))


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_normalises_along_the_axis_it_is_given(xp, axis):
    x = random_qkv(xp, n=3, d=4, batch=(2,), seed=11)[0]  # (2, 3, 4): every axis a different size
    got = to_numpy(softmax(x, axis=axis))
    host = to_numpy(x)
    expected = np.exp(host) / np.exp(host).sum(axis=axis, keepdims=True)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(got.sum(axis=axis), 1.0, rtol=1e-12)


def test_softmax_all_masked_row_is_zero_not_nan(xp):
    x = xp.asarray([[0.0, -np.inf], [-np.inf, -np.inf]])
    assert to_numpy(softmax(x)).tolist() == [[1.0, 0.0], [0.0, 0.0]]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_logits_of_magnitude_1e4_stay_finite(xp, fn, dtype):
    q, k, v = random_qkv(xp, n=16, m=16, d=4, dtype=dtype, seed=10)
    q = q / xp.linalg.norm(q, axis=-1, keepdims=True) * 200.0
    k = k / xp.linalg.norm(k, axis=-1, keepdims=True) * 200.0  # |logit| up to 2e4
    logits = to_numpy(q @ xp.swapaxes(k, -1, -2)) / 2.0
    assert np.abs(logits).max() > 1e4
    out = to_numpy(fn(q, k, v, causal=True))
    assert np.isfinite(out).all()
    # such logits make the softmax one-hot: each query copies the value of its best key
    best = np.argmax(np.where(np.tril(np.ones((16, 16), bool)), logits, -np.inf), axis=-1)
    assert_attention_close(out, to_numpy(v)[best], rtol=1e-5)


# --- (0.6) causality ----------------------------------------------------------------------


@given(inputs=attention_inputs(causal=(True,), masks=False), data=st.data())
def test_causal_outputs_ignore_later_keys_bit_for_bit(xp, inputs, data):
    q, k, v = (xp.asarray(a) for a in (inputs.q, inputs.k, inputs.v))
    n, m = q.shape[-2], k.shape[-2]
    i = data.draw(st.integers(0, n - 1), label="i")
    first_hidden = max(0, i + (m - n) + 1)  # keys from here on are hidden from query i
    if first_hidden >= m:
        return
    k2, v2 = k.copy(), v.copy()
    k2[..., first_hidden:, :] = 1e3
    v2[..., first_hidden:, :] = -7.0
    for fn in (softmax_attention, chunked_attention):
        before = to_numpy(fn(q, k, v, causal=True))[..., : i + 1, :]
        after = to_numpy(fn(q, k2, v2, causal=True))[..., : i + 1, :]
        assert np.array_equal(before, after), fn.__name__


def test_causal_with_more_keys_aligns_queries_with_the_last_keys(xp):
    # queries = the last n of m positions: same as full causal attention over m, last n rows
    q, k, v = random_qkv(xp, n=7, m=7, d=3, seed=11)
    full = softmax_attention(q, k, v, causal=True)
    for fn in (softmax_attention, chunked_attention):
        assert_attention_close(fn(q[3:], k, v, causal=True), full[3:])


# --- permutation invariance ----------------------------------------------------------------


@given(inputs=attention_inputs(causal=(False,)), seed=st.integers(0, 2**16))
def test_permuting_keys_and_values_together_changes_nothing(xp, inputs, seed):
    inputs = inputs.to(xp)
    m = inputs.k.shape[-2]
    perm = xp.asarray(np.random.default_rng(seed).permutation(m))
    mask = inputs.mask
    permuted_mask = None
    if mask is not None:
        full = xp.broadcast_to(mask, mask.shape[:-1] + (m,))
        permuted_mask = full[..., perm]
    expected = softmax_attention(inputs.q, inputs.k, inputs.v, mask=mask)
    got = softmax_attention(
        inputs.q, inputs.k[..., perm, :], inputs.v[..., perm, :], mask=permuted_mask
    )
    assert_attention_close(got, expected)


# --- (0.4) chunked equals dense ---------------------------------------------------------------


@given(inputs=attention_inputs(), chunk_size=st.integers(1, 20))
def test_chunked_equals_dense(xp, inputs, chunk_size):
    inputs = inputs.to(xp)
    kw = dict(mask=inputs.mask, causal=inputs.causal)
    assert_attention_close(
        chunked_attention(inputs.q, inputs.k, inputs.v, chunk_size=chunk_size, **kw),
        softmax_attention(inputs.q, inputs.k, inputs.v, **kw),
    )


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("n", "chunk"), [(1, 1), (1, 256), (100, 7), (100, 100), (64, 16)])
def test_chunked_equals_dense_at_edge_sizes(xp, n, chunk, causal):
    q, k, v = random_qkv(xp, n=n, d=8, seed=n + chunk)
    assert_attention_close(
        chunked_attention(q, k, v, chunk_size=chunk, causal=causal),
        softmax_attention(q, k, v, causal=causal),
    )


@given(inputs=attention_inputs(dtypes=("float64",)))
def test_float32_agrees_with_float64(xp, inputs):
    inputs = inputs.to(xp)
    kw = dict(mask=inputs.mask, causal=inputs.causal)
    single = [a.astype(xp.float32) for a in (inputs.q, inputs.k, inputs.v)]
    # the reference sees the same (float32-rounded) inputs: only the arithmetic differs
    exact = softmax_attention(*(a.astype(xp.float64) for a in single), **kw)
    for fn in (softmax_attention, chunked_attention):
        got = fn(*single, **kw)
        assert got.dtype == xp.float32
        assert_attention_close(got, exact, rtol=1e-5)


# --- inputs are never modified ---------------------------------------------------------------


@given(inputs=attention_inputs(), scale=st.none() | st.floats(0.1, 3.0))
def test_inputs_are_never_modified(xp, inputs, scale):
    inputs = inputs.to(xp)
    arrays = [a for a in (inputs.q, inputs.k, inputs.v, inputs.mask) if a is not None]
    before = [a.copy() for a in arrays]
    kw = dict(mask=inputs.mask, causal=inputs.causal, scale=scale)
    softmax_attention(inputs.q, inputs.k, inputs.v, return_weights=True, **kw)
    chunked_attention(inputs.q, inputs.k, inputs.v, chunk_size=2, **kw)
    softmax(inputs.q)
    for a, b in zip(arrays, before, strict=True):
        assert np.array_equal(to_numpy(a), to_numpy(b))


# --- (0.2), (0.5) memory, measured against complexity.py ---------------------------------------


def _peak(fn, n, *, d=64, causal=False, **kw):
    """Peak bytes of one float32 call on the host, measured with tracemalloc."""
    q, k, v = random_qkv(np, n=n, d=d, dtype="float32", seed=n)
    _, peak = peak_memory(lambda: fn(q, k, v, causal=causal, **kw), np)
    return peak


@pytest.mark.parametrize("causal", [False, True])
def test_chunked_memory_is_linear_and_matches_the_formula(causal):
    chunk = 128
    peaks = {n: _peak(chunked_attention, n, chunk_size=chunk, causal=causal) for n in (2048, 4096)}
    for n, peak in peaks.items():
        model = 4 * complexity.chunked_attention_memory(n, d=64, chunk=chunk)
        bools = n * chunk if causal else 0  # the (n, chunk) causal mask of one chunk
        assert model <= peak <= 1.1 * model + bools, (n, peak, model)
        assert peak < 0.2 * 4 * n * n  # far below one n×n float32 array
    assert 1.8 < peaks[4096] / peaks[2048] < 2.2


def test_dense_memory_is_quadratic_and_matches_the_formula():
    # the twin of the test above: the same measurement does see an n×n array
    peaks = {n: _peak(softmax_attention, n) for n in (1024, 2048)}
    for n, peak in peaks.items():
        model = 4 * complexity.dense_attention_memory(n, d=64)
        assert model <= peak <= 1.05 * model, (n, peak, model)
    assert 3.6 < peaks[2048] / peaks[1024] < 4.4


# --- the working-set refusal of chunked_attention (0.5) -----------------------------------


def _working_set_bytes(n, d, chunk):
    return complexity.chunked_attention_memory(n, n, d, d, chunk=chunk) * 8


def test_chunked_attention_refuses_a_chunk_whose_working_set_cannot_fit(monkeypatch):
    from refattn import backend

    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: 1000)
    q = np.zeros((64, 1))
    needed = _working_set_bytes(64, 1, 64)

    def refused():
        with pytest.raises(
            MemoryError,
            match=rf"chunked_attention with chunk_size = 64: its working set .*\({needed} bytes\)"
            r" needs .* GiB, more than the .* GiB of host memory available; pass a smaller "
            r"chunk_size",
        ):
            chunked_attention(q, q, q, chunk_size=64)

    _, peak = peak_memory(refused, np)
    assert peak < needed


def test_chunked_attention_refusal_agrees_with_the_memory_formula(monkeypatch):
    from refattn import backend

    q = k = v = np.random.default_rng(0).normal(size=(40, 3))
    expected = softmax_attention(q, k, v)
    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    needed = complexity.chunked_attention_memory(40, 40, 3, 3, chunk=16) * 8
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: needed)
    assert np.allclose(chunked_attention(q, k, v, chunk_size=16), expected)  # just fits
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: needed - 1)
    with pytest.raises(MemoryError, match="chunk_size = 16"):
        chunked_attention(q, k, v, chunk_size=16)


def test_chunked_attention_refuses_a_real_chunk_of_sixty_thousand():
    from refattn import backend

    n = 60_000
    if _working_set_bytes(n, 1, n) <= backend._available_bytes(np):
        pytest.skip("this machine has the 26.8 GiB the working set needs")
    q = np.zeros((n, 1))
    with pytest.raises(MemoryError, match=r"chunked_attention with chunk_size = 60000.*26\.8 GiB"):
        chunked_attention(q, q, q, chunk_size=n)
    assert chunked_attention(q[:1000], q[:1000], q[:1000], chunk_size=256).shape == (1000, 1)
