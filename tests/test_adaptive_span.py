"""Adaptive attention span: dense attention with the soft mask, renormalised, in O(n·(z + R)).

Equation numbers refer to derivations/12-adaptive-span.md.  The oracle is
built here, independently: dense softmax weights, multiplied by the paper's
mask written out per (query, key) pair in loops, renormalised.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refattn import complexity, mechanism
from refattn.adaptive_span import (
    adaptive_span_attention,
    soft_mask,
    span_gradient,
    span_loss,
    span_reach,
)
from refattn.backend import peak_memory, rng, to_numpy
from refattn.testing import assert_attention_close


def _paper_mask(n, m, spans, ramp, causal):
    """m_z(x) for every head, query and key: (h, n, m), from the paper's formula, in loops."""
    out = np.zeros((len(spans), n, m))
    for h, z in enumerate(spans):
        for i in range(n):
            position = i + (m - n)  # the queries are the last n of the m positions
            for j in range(m):
                x = position - j
                if causal and x < 0:
                    continue
                x = abs(x)
                out[h, i, j] = min(1.0, max(0.0, (ramp + z - x) / ramp))
    return out


def _oracle(q, k, v, spans, ramp, causal, keep=None, scale=None):
    """Dense softmax weights times the mask, renormalised (12.2); float64 on the host."""
    q, k, v = (to_numpy(a).astype(np.float64) for a in (q, k, v))
    n, m, d = q.shape[-2], k.shape[-2], q.shape[-1]
    scale = 1 / math.sqrt(d) if scale is None else scale
    s = scale * q @ np.swapaxes(k, -1, -2)  # (h, n, m)
    p = np.exp(s - s.max(axis=-1, keepdims=True))
    p /= p.sum(axis=-1, keepdims=True)  # the dense softmax weights
    a = p * _paper_mask(n, m, spans, ramp, causal)
    if keep is not None:
        a = a * keep
    total = a.sum(axis=-1, keepdims=True)
    a = a / np.where(total == 0, 1, total)
    return a @ v, a


# --- (12.1) the mask, (12.3) the reach ------------------------------------------------------


def test_soft_mask_is_the_papers_clamp(xp):
    x = xp.asarray([0.0, 1.0, 2.0, 2.5, 3.0, 4.0, 5.0])
    got = to_numpy(soft_mask(x, span=2, ramp=2))
    np.testing.assert_allclose(got, [1, 1, 1, 0.75, 0.5, 0, 0])
    # one span per head broadcasts against the distances
    heads = to_numpy(soft_mask(x, span=xp.asarray([[0.0], [4.0]]), ramp=1))
    np.testing.assert_allclose(heads, [[1, 0, 0, 0, 0, 0, 0], [1, 1, 1, 1, 1, 1, 0]])
    assert span_reach(256, 32) == 287
    assert span_reach(2.5, 1) == 3  # x = 3 < 3.5 still gets weight 0.5
    assert span_reach(2, 2) == 3  # x = 4 = z + R gets 0
    assert span_reach((1.0, 7.5), 2) == 9  # the largest head's


def test_keys_past_the_span_are_never_read(xp):
    # (12.3) keys and values farther back than the reach are never read: setting them to 1e3
    # changes nothing; changing the farthest key inside the reach does
    n, z, ramp = 40, 4.5, 3
    q, k, v = (rng(s, xp).standard_normal((n, 8)) for s in (1, 2, 3))
    out = adaptive_span_attention(q, k, v, span=z, ramp=ramp, causal=True)
    reach = span_reach(z, ramp)  # 7
    i = 30
    k2, v2 = k.copy(), v.copy()
    k2[: i - reach] = 1e3
    v2[: i - reach] = 1e3
    out2 = adaptive_span_attention(q, k2, v2, span=z, ramp=ramp, causal=True)
    assert_attention_close(out2[i], out[i])
    k2[i - reach] = 1e3
    out3 = adaptive_span_attention(q, k2, v2, span=z, ramp=ramp, causal=True)
    assert not np.allclose(to_numpy(out3[i]), to_numpy(out[i]))


# --- (12.2) equal to the renormalised masked dense attention --------------------------------


@st.composite
def span_cases(draw):
    n = draw(st.integers(1, 40), label="n")
    m = draw(st.integers(max(1, n - 6), n + 6), label="m")
    heads = draw(st.integers(1, 3), label="heads")
    spans = draw(
        st.lists(st.floats(0, 45, allow_nan=False), min_size=heads, max_size=heads),
        label="spans",
    )
    ramp = draw(st.floats(0.25, 12, allow_nan=False), label="ramp")
    causal = draw(st.booleans(), label="causal")
    padded = draw(st.booleans(), label="padding")
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    seed = draw(st.integers(0, 2**16), label="seed")
    return n, m, spans, ramp, causal, padded, dtype, seed


@settings(max_examples=60, deadline=None)
@given(span_cases())
def test_equals_dense_attention_with_the_mask_renormalised(xp, case):
    n, m, spans, ramp, causal, padded, dtype, seed = case
    g = rng(seed, xp)
    heads = len(spans)
    q = g.standard_normal((heads, n, 5), dtype=dtype)
    k = g.standard_normal((heads, m, 5), dtype=dtype)
    v = g.standard_normal((heads, m, 3), dtype=dtype)
    keep = None
    if padded:
        keep = to_numpy(g.random((heads, 1, m)) > 0.3)
    mask = None if keep is None else xp.asarray(keep)
    out, w = adaptive_span_attention(
        q, k, v, span=tuple(spans), ramp=ramp, causal=causal, mask=mask, return_weights=True
    )
    want, weights = _oracle(q, k, v, spans, ramp, causal, keep)
    assert out.shape == (heads, n, 3) and str(out.dtype) == dtype
    assert_attention_close(out, xp.asarray(want.astype(dtype)))
    assert_attention_close(w.to_dense(), xp.asarray(weights.astype(dtype)))


def test_one_span_per_head_as_an_array_and_a_scalar(xp):
    # a (h, 1, 1) array of spans for q (b, h, n, d), and a scalar for every head
    b, h, n = 2, 3, 17
    g = rng(4, xp)
    q, k, v = (g.standard_normal((b, h, n, 6)) for _ in range(3))
    spans = [0.5, 3.25, 9.0]
    z = xp.asarray(spans).reshape(h, 1, 1)
    out = adaptive_span_attention(q, k, v, span=z, ramp=2, causal=True)
    for batch in range(b):
        want, _ = _oracle(q[batch], k[batch], v[batch], spans, 2, True)
        assert_attention_close(out[batch], xp.asarray(want))
    same = adaptive_span_attention(q, k, v, span=4.0, ramp=2, causal=True)
    want, _ = _oracle(q[0], k[0], v[0], [4.0] * h, 2, True)
    assert_attention_close(same[0], xp.asarray(want))


def test_bidirectional_span_is_symmetric(xp):
    # (12.4) causal=False reads |i − j| < z + R: reversing the sequence reverses the output
    q, k, v = (rng(s, xp).standard_normal((2, 23, 4)) for s in (5, 6, 7))
    out = adaptive_span_attention(q, k, v, span=(2.5, 6.0), ramp=3)
    flipped = adaptive_span_attention(
        q[:, ::-1].copy(), k[:, ::-1].copy(), v[:, ::-1].copy(), span=(2.5, 6.0), ramp=3
    )
    assert_attention_close(flipped[:, ::-1], out)


def test_a_span_past_the_sequence_is_full_attention(xp):
    from refattn import softmax_attention

    q, k, v = (rng(s, xp).standard_normal((19, 4)) for s in (1, 2, 3))
    for causal in (False, True):
        assert_attention_close(
            adaptive_span_attention(q, k, v, span=18, ramp=1, causal=causal),
            softmax_attention(q, k, v, causal=causal),
        )


def test_doc_example(xp):
    q = k = xp.zeros((4, 2))
    v = xp.asarray([[0.0], [3.0], [6.0], [9.0]])
    out = adaptive_span_attention(q, k, v, span=1, ramp=2, causal=True)
    # query 3 weights keys 3, 2, 1 by 1, 1, 1/2: (9 + 6 + 1.5) / 2.5
    np.testing.assert_allclose(to_numpy(out[:, 0]), [0, 1.5, 3.6, 6.6])


# --- (12.5) the gradient in z, (12.6) the span loss -----------------------------------------


def _loss(q, k, v, g, z, ramp, causal, mask=None):
    """A loss linear in the output, L = Σ g ⊙ out, so ∂L/∂out = g."""
    out = adaptive_span_attention(q, k, v, span=z, ramp=ramp, causal=causal, mask=mask)
    return float((out * g).sum())


@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("m_extra", [0, 5])
def test_span_gradient_matches_finite_differences(xp, causal, m_extra):
    b, h, n, ramp = 2, 3, 21, 2.5
    m = n + m_extra
    g = rng(11, xp)
    q = g.standard_normal((b, h, n, 4))
    k = g.standard_normal((b, h, m, 4))
    v = g.standard_normal((b, h, m, 3))
    grad_out = g.standard_normal((b, h, n, 3))
    mask = xp.asarray(to_numpy(g.random((b, 1, 1, m)) > 0.2))
    spans = np.array([1.3, 4.6, 7.1])  # away from the kinks at integer distances
    z = xp.asarray(spans).reshape(h, 1, 1)
    grad = to_numpy(span_gradient(q, k, v, grad_out, span=z, ramp=ramp, causal=causal, mask=mask))
    assert grad.shape == (h, 1, 1)
    eps = 1e-6
    for head in range(h):
        up, down = spans.copy(), spans.copy()
        up[head] += eps
        down[head] -= eps
        numeric = (
            _loss(q, k, v, grad_out, tuple(up), ramp, causal, mask)
            - _loss(q, k, v, grad_out, tuple(down), ramp, causal, mask)
        ) / (2 * eps)
        assert abs(grad[head, 0, 0] - numeric) <= 1e-6 * max(1.0, abs(numeric)), head
    assert np.abs(grad).max() > 1e-3  # the ramp is populated: the check is not vacuous
    # a scalar span gets the sum over every head
    one = span_gradient(q, k, v, grad_out, span=3.7, ramp=ramp, causal=causal, mask=mask)
    numeric = (
        _loss(q, k, v, grad_out, 3.7 + eps, ramp, causal, mask)
        - _loss(q, k, v, grad_out, 3.7 - eps, ramp, causal, mask)
    ) / (2 * eps)
    assert isinstance(one, float) and abs(one - numeric) <= 1e-6 * max(1.0, abs(numeric))


def test_span_loss_is_lambda_times_the_sum_and_its_gradient_is_lambda(xp):
    assert span_loss([10.0, 30.0], weight=2e-6) == pytest.approx(8e-5)
    assert span_loss(xp.asarray([[[1.5]], [[2.5]]]), weight=0.5) == pytest.approx(2.0)
    # total objective L + λ·Σz: its gradient is span_gradient + λ per head (12.6)
    q, k, v = (rng(s, xp).standard_normal((2, 15, 4)) for s in (1, 2, 3))
    grad_out = rng(4, xp).standard_normal((2, 15, 4))
    spans, lam, eps = np.array([2.2, 5.4]), 0.3, 1e-6

    def objective(s):
        return _loss(q, k, v, grad_out, tuple(s), 2.0, True) + span_loss(tuple(s), weight=lam)

    grad = to_numpy(span_gradient(q, k, v, grad_out, span=tuple(spans), ramp=2.0, causal=True))
    for head in range(2):
        e = np.zeros(2)
        e[head] = eps
        numeric = (objective(spans + e) - objective(spans - e)) / (2 * eps)
        assert grad[head, 0, 0] + lam == pytest.approx(numeric, rel=1e-6, abs=1e-7)


def test_a_span_past_every_key_has_no_gradient(xp):
    # every key is on the flat part of the mask: nothing depends on z
    q, k, v = (rng(s, xp).standard_normal((9, 4)) for s in (1, 2, 3))
    grad_out = rng(4, xp).standard_normal((9, 4))
    assert span_gradient(q, k, v, grad_out, span=20.0, ramp=3, causal=True) == 0.0


# --- (12.7) memory: measured against the formula, linear growth -----------------------------


def _peak(n, causal, span=256, ramp=32):
    q, k, v = (rng(s, np).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3))
    _, peak = peak_memory(
        lambda: adaptive_span_attention(q, k, v, span=span, ramp=ramp, causal=causal), np
    )
    return peak, 4 * complexity.adaptive_span_memory(n, span=span, ramp=ramp, causal=causal)


@pytest.mark.parametrize("causal", [True, False])
def test_measured_memory_is_the_formula_and_linear(causal):
    peaks = {}
    for n in (4096, 8192, 16384):
        peak, model = _peak(n, causal)
        assert 0.99 <= peak / model <= 1.01, (n, peak, model)  # measured: 1.001–1.002
        peaks[n] = peak
    # linear in n: doubling n doubles the peak (a quadratic term would give 4)
    for n in (4096, 8192):
        assert 1.9 <= peaks[2 * n] / peaks[n] <= 2.1, (n, peaks)
    # and far below the n × n scores of dense attention
    assert peaks[16384] < 0.1 * 4 * 16384**2


@pytest.mark.parametrize(("span", "ramp", "n"), [(0, 1, 4096), (3.3, 2, 4100), (1000, 32, 4096)])
def test_memory_formula_holds_for_small_and_large_spans(span, ramp, n):
    peak, model = _peak(n, True, span, ramp)
    assert 0.9 <= peak / model <= 1.1, (peak, model)


def test_the_figure_draws_the_mask_from_soft_mask_and_is_registered():
    from refattn.figures import FIGURES
    from refattn.figures import adaptive_span as figure

    assert "adaptive-span" in FIGURES
    assert FIGURES["adaptive-span"].make is figure.adaptive_span_figure
    assert "arXiv:1905.07799" in FIGURES["adaptive-span"].reproduces


def test_the_registry_entry_uses_the_formula():
    attend = mechanism("adaptive_span", span=(10.0, 40.0), ramp=8)
    assert attend.memory(4096, causal=True) == complexity.adaptive_span_memory(
        4096, span=40.0, ramp=8, causal=True
    )
    assert attend.flops(4096) > 0


# --- bad inputs -----------------------------------------------------------------------------


def _qkv(n=6, m=6):
    g = rng(0, np)
    return g.standard_normal((n, 4)), g.standard_normal((m, 4)), g.standard_normal((m, 4))


BAD = [
    ({"span": -1.0}, ValueError, r"span must be a finite real >= 0.*got -1"),
    ({"span": float("nan")}, ValueError, r"span must be a finite real >= 0.*got nan"),
    ({"span": True}, TypeError, r"span must be a finite real >= 0.*got True"),
    ({"span": "wide"}, TypeError, r"span must be a finite real >= 0.*got 'wide'"),
    ({"span": ()}, ValueError, r"span must be .*got an empty sequence"),
    ({"span": (1.0, -2.0)}, ValueError, r"span must be .*got -2"),
    ({"span": np.array([[1.0, 2.0]])}, ValueError, r"span must be .*got shape \(1, 2\)"),
    ({"span": np.array([[[1.0]], [[2.0]]])}, ValueError, r"broadcast with the inputs' \(\)"),
    ({"span": np.array([[-1.0]])}, ValueError, r"span must be .*got a negative value"),
    ({"span": np.array([[1]])}, TypeError, r"span must have a floating dtype"),
    ({"span": 2, "ramp": 0}, ValueError, r"ramp must be a finite real number > 0, got 0"),
    ({"span": 2, "ramp": math.inf}, ValueError, r"ramp must be a finite real number > 0, got inf"),
    ({"span": 2, "ramp": "32"}, TypeError, r"ramp must be a finite real number > 0, got '32'"),
    (
        {"span": 2, "mask": np.tril(np.ones((6, 6), bool))},
        ValueError,
        r"adaptive_span_attention cannot apply a mask of shape \(6, 6\) with a query axis: "
        r"an n×m mask cannot be applied in linear time",
    ),
    ({"span": 2, "causal": 1}, TypeError, r"causal must be True or False, got 1"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), BAD)
def test_bad_inputs_raise_with_argument_value_and_domain(kwargs, error, message):
    q, k, v = _qkv()
    with pytest.raises(error, match=message):
        adaptive_span_attention(q, k, v, **kwargs)


BAD_OTHER = [
    (
        lambda: span_gradient(*_qkv(), np.ones((5, 4)), span=2),
        ValueError,
        r"grad_out must be broadcastable to the output shape \(\.\.\., n, d_v\) = \(6, 4\), "
        r"got shape \(5, 4\)",
    ),
    (
        lambda: span_gradient(*_qkv(), np.ones((6, 4), np.int64), span=2),
        TypeError,
        r"grad_out must have a floating dtype",
    ),
    (
        lambda: span_gradient(*_qkv(), np.full((6, 4), np.nan), span=2),
        ValueError,
        r"grad_out must contain only finite values",
    ),
    (lambda: span_loss([1.0], weight=-1), ValueError, r"weight must be a finite real .*got -1"),
    (lambda: span_loss([-1.0], weight=1), ValueError, r"span must be .*got -1"),
    (lambda: span_reach(3, ramp=-2), ValueError, r"ramp must be a finite real number > 0"),
    (lambda: soft_mask(np.arange(3.0), span=-1), ValueError, r"span must be .*got -1"),
    (lambda: mechanism("adaptive_span", span=-1), ValueError, r"span must be .*got -1"),
    (lambda: mechanism("adaptive_span", ramp=0), ValueError, r"ramp must be .* > 0, got 0"),
]


@pytest.mark.parametrize(("call", "error", "message"), BAD_OTHER)
def test_bad_inputs_of_the_other_functions(call, error, message):
    with pytest.raises(error, match=message):
        call()


# --- no silent NaN: extreme but finite spans and ramps ------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_soft_mask_with_extreme_ramps_and_spans_is_the_clamp(dtype):
    x = np.arange(5, dtype=dtype)
    cases = [  # (span, ramp, the mask of the clamp (12.1) at x = 0 … 4)
        (0, 1e-320, [1, 0, 0, 0, 0]),  # a ramp shorter than any step: a hard mask
        (1.5, 1e-300, [1, 1, 0, 0, 0]),
        (1e300, 1e300, [1, 1, 1, 1, 1]),  # past float32: still "everything"
        (3e38, 3e38, [1, 1, 1, 1, 1]),  # R + z overflows float64 on the way
        (0, 1e300, [1, 1 - 1e-300, 1 - 2e-300, 1, 1]),  # 1 − x/R rounds to 1
        (2, 4.0, [1, 1, 1, 0.75, 0.5]),
    ]
    for span, ramp, want in cases:
        got = soft_mask(x, span=span, ramp=ramp)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, np.asarray(want, dtype=dtype), err_msg=f"{span} {ramp}")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_spans_past_the_dtype_are_full_attention_at_no_extra_cost(dtype):
    g = rng(4, np)
    q, k, v = (g.standard_normal((9, 4), dtype=dtype) for _ in range(3))
    full = adaptive_span_attention(q, k, v, span=8, ramp=1, causal=True)
    for span, ramp in ((1e300, 1.0), (1e30, 1e300), (3e38, 3e38)):
        out, weights = adaptive_span_attention(
            q, k, v, span=span, ramp=ramp, causal=True, return_weights=True
        )
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, full, rtol=1e-6 if dtype == "float32" else 1e-13)
        assert weights.band.shape == (9, 9)  # the band stops at the first key: m − 1 = 8
        grad = span_gradient(q, k, v, np.ones_like(v), span=span, ramp=ramp, causal=True)
        assert grad == 0  # no key lies on the ramp
    assert span_reach(1e308, 1e308) == int(1e308) * 2 - 1  # exact, not an overflow
    assert span_reach(2.0**53, 1) == 2**53  # in floats 2**53 + 1 rounds down to 2**53


def test_a_span_shared_by_heads_gets_the_sum_of_their_gradients():
    # ∂L/∂z of a z broadcast along an axis is the sum over that axis of the per-element ones
    g = rng(5, np)
    q, k, v, grad_out = (g.standard_normal((3, 7, 4)) for _ in range(4))
    per_head = span_gradient(q, k, v, grad_out, span=np.full((3, 1, 1), 2.5), ramp=2, causal=True)
    assert per_head.shape == (3, 1, 1) and np.all(np.abs(per_head) > 1e-6)
    shared = span_gradient(q, k, v, grad_out, span=np.full((1, 1, 1), 2.5), ramp=2, causal=True)
    assert shared.shape == (1, 1, 1)
    np.testing.assert_allclose(shared[0, 0, 0], per_head.sum(), rtol=1e-12)
    scalar = span_gradient(q, k, v, grad_out, span=2.5, ramp=2, causal=True)
    np.testing.assert_allclose(scalar, per_head.sum(), rtol=1e-12)


# --- host syncs: an array of spans is read once, and checked in the call's finiteness pass ------


@pytest.mark.parametrize("function", [adaptive_span_attention, span_gradient])
def test_an_array_span_is_read_once_and_checked_in_the_one_finiteness_pass(standin, function):
    import cupy_standin

    g = standin.random.default_rng(15)
    q, k, v = (g.standard_normal((2, 64, 8)) for _ in range(3))
    grad_out = (v,) if function is span_gradient else ()
    spans = standin.asarray([[[3.0]], [[7.5]]])  # one per batch element

    def call(span, **kw):
        return function(q, k, v, *grad_out, span=span, ramp=2, **kw)

    counts = {}
    for check in (True, False):
        with cupy_standin.counting_syncs() as syncs:
            call(spans, check_finite=check)
        counts[check] = syncs
    for check, syncs in counts.items():
        # the span: one read of its smallest and largest entries, with or without the pass
        span_reads = {key: n for key, n in syncs.items() if key[0] == "refattn/adaptive_span.py"}
        assert [(key[2], n) for key, n in span_reads.items()] == [("_span_values", 1)], (
            check, sorted(syncs.items()))  # fmt: skip
    skipped = counts[True] - counts[False]
    assert sum(skipped.values()) == 1 and not counts[False] - counts[True], sorted(skipped.items())
    ((path, _, name, _),) = skipped
    assert (path, name) == ("refattn/_validation.py", "check_all_finite")
    # the pass, the span, the overflow guard's bound (and the gradient's check of its result)
    assert sum(counts[True].values()) == 3 + len(grad_out), sorted(counts[True].items())
    # a NaN span is refused by the pass itself, before the span is read ...
    bad = standin.asarray([[[3.0]], [[standin.nan]]])
    with cupy_standin.counting_syncs() as syncs:
        with pytest.raises(ValueError, match=r"^span must contain only finite values"):
            call(bad)
    assert {key[2] for key in syncs} == {"check_all_finite"}, sorted(syncs.items())
    # ... and without the pass, by the read of its range, which the band's width needs
    with cupy_standin.counting_syncs() as syncs:
        with pytest.raises(ValueError, match=r"^span must contain only finite values"):
            call(bad, check_finite=False)
    assert {key[2] for key in syncs} == {"_span_values"}, sorted(syncs.items())


def test_the_span_helpers_read_an_array_of_spans_once(standin):
    import cupy_standin

    spans = standin.asarray([[[3.0]], [[7.5]]])
    distance = standin.arange(12.0)[:, None]
    calls = {
        "span_reach": (lambda: span_reach(spans, 2), 9),
        "span_loss": (lambda: span_loss(spans, weight=0.5), 5.25),
        "soft_mask": (lambda: float(soft_mask(distance, span=spans, ramp=2).sum()), None),
    }
    for name, (call, want) in calls.items():
        with cupy_standin.counting_syncs() as syncs:
            got = call()
        assert want is None or got == want, (name, got)
        span_reads = {key: n for key, n in syncs.items() if key[0] == "refattn/adaptive_span.py"}
        assert list(span_reads.values()) == [1], (name, sorted(syncs.items()))
