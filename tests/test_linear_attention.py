"""Linear attention (Katharopoulos et al. 2020, arXiv:2006.16236): elu + 1 features.

The parallel form (:func:`linear_attention`, chunked prefix sums when causal),
the recurrent form (one state update per key) and the dense form must all equal
``D⁻¹(φ(Q)φ(K)ᵀ ⊙ C)V`` built here from the definition, independently of
refattn.  Equation numbers refer to derivations/11-linear-attention.md.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refattn import complexity, linear_attention, mechanism
from refattn.backend import peak_memory, rng, to_numpy
from refattn.performer import elu_features, linear_attention_recurrent, linear_dense
from refattn.testing import assert_attention_close


def _phi(x):
    """elu(x) + 1 from its definition: x + 1 above 0, exp(x) at or below."""
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def _dense_oracle(q, k, v, *, keep=None, causal=False, scale=None):
    """D⁻¹(φ(Q)φ(K)ᵀ ⊙ C ⊙ keep)V in float64 on the host, 0 for a row with no weight."""
    q, k, v = (to_numpy(a).astype(np.float64) for a in (q, k, v))
    n, m, d = q.shape[-2], k.shape[-2], q.shape[-1]
    root = (d**-0.5 if scale is None else scale) ** 0.5
    a = _phi(root * q) @ np.swapaxes(_phi(root * k), -1, -2)  # (..., n, m)
    if causal:
        a = a * (np.arange(m)[None, :] <= np.arange(n)[:, None] + (m - n))
    if keep is not None:
        a = a * to_numpy(keep)
    total = a.sum(axis=-1, keepdims=True)
    return np.where(total == 0, 0.0, (a @ v) / np.where(total == 0, 1.0, total))


@st.composite
def _cases(draw):
    batch = draw(st.sampled_from([(), (2,), (2, 1)]))
    n = draw(st.integers(1, 24))
    m = draw(st.integers(1, 24)) if draw(st.booleans()) else n
    d, d_v = draw(st.integers(1, 6)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**16))
    padded = draw(st.booleans())
    keep = None
    if padded:  # key padding (..., 1, m): a random subset of keys, possibly all of them
        keep = np.random.default_rng(seed).random(batch + (1, m)) < 0.7
    return dict(
        batch=batch,
        n=n,
        m=m,
        d=d,
        d_v=d_v,
        seed=seed,
        keep=keep,
        causal=draw(st.booleans()),
        chunk=draw(st.integers(1, 9)),
        scale=draw(st.sampled_from([None, 1.0, 0.3])),
        dtype=draw(st.sampled_from(["float32", "float64"])),
        spread=draw(st.sampled_from([0.5, 2.0, 6.0])),
    )


@settings(max_examples=60, deadline=None)
@given(case=_cases())
def test_parallel_recurrent_and_dense_forms_equal_the_definition(xp, case):
    # (11.2), (11.3): three forms of one attention, against φ(Q)φ(K)ᵀ built here
    g = rng(case["seed"], xp)
    b, dtype, spread = case["batch"], case["dtype"], case["spread"]
    q = spread * g.standard_normal(b + (case["n"], case["d"]), dtype=dtype)
    k = spread * g.standard_normal(b + (case["m"], case["d"]), dtype=dtype)
    v = g.standard_normal(b + (case["m"], case["d_v"]), dtype=dtype)
    keep = None if case["keep"] is None else xp.asarray(case["keep"])
    causal, scale = case["causal"], case["scale"]
    expected = _dense_oracle(q, k, v, keep=keep, causal=causal, scale=scale)

    out = linear_attention(q, k, v, mask=keep, causal=causal, scale=scale, chunk_size=case["chunk"])
    assert str(out.dtype) == dtype
    assert_attention_close(out, xp.asarray(expected.astype(dtype)))
    dense = linear_dense(q, k, v, mask=keep, causal=causal, scale=scale)
    assert_attention_close(dense, xp.asarray(expected.astype(dtype)))
    if causal:
        recurrent = linear_attention_recurrent(q, k, v, mask=keep, scale=scale)
        assert str(recurrent.dtype) == dtype
        assert_attention_close(recurrent, xp.asarray(expected.astype(dtype)))
        assert_attention_close(recurrent, out)


def test_elu_features_are_elu_plus_one_and_positive(xp):
    # (11.1)  φ(x) = elu(x) + 1 > 0, equal to x + 1 above 0 and exp(x) below
    x = xp.asarray(np.linspace(-30, 30, 601))
    phi = elu_features(x)
    np.testing.assert_allclose(to_numpy(phi), _phi(to_numpy(x)), rtol=1e-15)
    assert bool((phi > 0).all())
    np.testing.assert_allclose(to_numpy(elu_features(xp.asarray([0.0]))), [1.0])


def test_weights_are_the_dense_matrix_and_reproduce_the_output(xp):
    q, k, v = (rng(s, xp).standard_normal((2, 9, 4)) for s in (1, 2, 3))
    for causal in (False, True):
        out, weights = linear_attention(q, k, v, causal=causal, return_weights=True, chunk_size=4)
        dense = to_numpy(weights.to_dense())
        np.testing.assert_allclose(dense.sum(axis=-1), 1.0)
        assert (dense >= 0).all()  # φ > 0: never a negative weight
        assert_attention_close(out, xp.asarray(dense) @ v)


def test_no_underflow_when_every_coordinate_is_far_below_zero_in_float32(xp):
    # (11.4)  φ(x) = exp(x) underflows in float32 below about −104; refattn factors out e(x)
    g = rng(7, xp)
    q = g.standard_normal((6, 4)) - 300.0
    k = g.standard_normal((6, 4)) - 300.0
    v = g.standard_normal((6, 3))
    expected = _dense_oracle(q, k, v, scale=1.0)  # float64: exp(−300) is representable
    q32, k32, v32 = (a.astype("float32") for a in (q, k, v))
    for causal in (False, True):
        want = _dense_oracle(q, k, v, scale=1.0, causal=causal).astype("float32")
        got = linear_attention(q32, k32, v32, scale=1.0, causal=causal, chunk_size=4)
        assert_attention_close(got, xp.asarray(want))
        # the dense and recurrent forms are stabilised the same way: no zero rows either
        assert_attention_close(
            linear_dense(q32, k32, v32, scale=1.0, causal=causal), xp.asarray(want)
        )
        if causal:
            recurrent = linear_attention_recurrent(q32, k32, v32, scale=1.0)
            assert_attention_close(recurrent, xp.asarray(want))
    assert np.abs(expected).max() > 0.1


def _prefix_means(v):
    """Causal attention with equal weights: row i is the mean of v_0 … v_i."""
    v = to_numpy(v).astype(np.float64)
    return np.cumsum(v, axis=-2) / np.arange(1, v.shape[-2] + 1)[:, None]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("scale", [None, 1.0])
def test_three_forms_agree_when_every_feature_product_underflows(xp, dtype, scale):
    # (11.4)  q = k = −800: φ(q)ᵀφ(k) = d·exp(−1600·√scale) underflows even in float64, yet
    # every weight is equal, so the output is the mean of the values (the prefix mean when
    # causal); the dense and recurrent forms returned 0 before they were stabilised
    q = k = xp.full((2, 5, 4), -800.0, dtype=dtype)
    v = rng(3, xp).standard_normal((2, 5, 3), dtype=dtype)
    host_v = to_numpy(v).astype(np.float64)
    mean = np.broadcast_to(host_v.mean(axis=-2, keepdims=True), host_v.shape).astype(dtype)
    for form in (linear_attention, linear_dense):
        assert_attention_close(form(q, k, v, scale=scale), xp.asarray(mean))
    prefix = _prefix_means(v).astype(dtype)
    for got in (
        linear_attention(q, k, v, scale=scale, causal=True, chunk_size=2),
        linear_dense(q, k, v, scale=scale, causal=True),
        linear_attention_recurrent(q, k, v, scale=scale),
    ):
        assert str(got.dtype) == dtype
        assert_attention_close(got, xp.asarray(prefix))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dense_and_recurrent_shift_each_row_by_its_visible_keys(xp, dtype):
    # keys k_j = (−1000 + 50 j)·1 and q = −800·1 with scale 1: weights ∝ exp(k_j), a softmax
    # of the scalars −1000 + 50 j over the visible keys.  One shift for the whole sequence
    # (the latest key's) would underflow every weight of the early causal rows to 0.
    m = 8
    scalars = -1000.0 + 50.0 * np.arange(m)
    k = xp.asarray(np.repeat(scalars[:, None], 3, axis=1), dtype=dtype)
    q = xp.full((m, 3), -800.0, dtype=dtype)
    v = rng(4, xp).standard_normal((m, 2), dtype=dtype)
    host_v = to_numpy(v).astype(np.float64)
    visible = np.arange(m)[None, :] <= np.arange(m)[:, None]
    logits = np.where(visible, scalars[None, :], -np.inf)
    weights = np.exp(logits - logits.max(axis=-1, keepdims=True))
    causal = (weights / weights.sum(axis=-1, keepdims=True)) @ host_v
    full = np.exp(scalars - scalars.max()) / np.exp(scalars - scalars.max()).sum() @ host_v
    want_causal = xp.asarray(causal.astype(dtype))
    want_full = xp.asarray(np.broadcast_to(full, (m, 2)).astype(dtype))
    assert_attention_close(
        linear_attention(q, k, v, scale=1.0, causal=True, chunk_size=3), want_causal
    )
    assert_attention_close(linear_dense(q, k, v, scale=1.0, causal=True), want_causal)
    assert_attention_close(linear_attention_recurrent(q, k, v, scale=1.0), want_causal)
    assert_attention_close(linear_attention(q, k, v, scale=1.0), want_full)
    assert_attention_close(linear_dense(q, k, v, scale=1.0), want_full)
    # key padding goes through the same shift: hide the last key, and its row reads the rest
    keep = xp.asarray(np.arange(m) < m - 1)[None, :]
    padded = linear_dense(q, k, v, scale=1.0, mask=keep)
    assert_attention_close(padded, linear_attention(q, k, v, scale=1.0, mask=keep))
    assert_attention_close(
        linear_attention_recurrent(q, k, v, scale=1.0, mask=keep)[-1],
        xp.asarray(causal[-2].astype(dtype)),
    )


def test_large_inputs_do_not_overflow_in_float32(xp):
    # (11.4)  φ grows linearly: inputs of size 1e8 give sums near 1e27, far below 3.4e38
    g = rng(8, xp)
    q, k = (1e8 * g.standard_normal((64, 8)) for _ in range(2))
    v = 1e8 * g.standard_normal((64, 8))
    for causal in (False, True):
        want = _dense_oracle(q, k, v, causal=causal, scale=1.0).astype("float32")
        got = linear_attention(*(a.astype("float32") for a in (q, k, v)), causal=causal, scale=1.0)
        assert bool(xp.isfinite(got).all())
        assert_attention_close(got, xp.asarray(want), rtol=1e-4, atol=1e-4 * 1e8)


def test_a_query_with_no_visible_key_gets_zeros(xp):
    # (11.4)  D = 0 only when no key is visible: all padded, or none yet (m < n, causal)
    q, k, v = (rng(s, xp).standard_normal((5, 3)) for s in (1, 2, 3))
    none = xp.zeros((1, 5), dtype=bool)
    assert not bool(linear_attention(q, k, v, mask=none).any())
    assert not bool(linear_attention_recurrent(q, k, v, mask=none).any())
    out = linear_attention(q, k[:3], v[:3], causal=True)  # queries 0 and 1 see no key
    assert not bool(out[:2].any()) and bool(xp.isfinite(out).all())
    assert_attention_close(out, linear_attention_recurrent(q, k[:3], v[:3]))


def test_scale_is_applied_as_its_square_root_on_both_sides(xp):
    # (11.5)  φ(√τ·q)ᵀφ(√τ·k): scale=1 is the paper's unscaled form, the default is 1/√d
    q, k, v = (rng(s, xp).standard_normal((7, 4)) for s in (4, 5, 6))
    assert_attention_close(
        linear_attention(q, k, v, scale=1.0), xp.asarray(_dense_oracle(q, k, v, scale=1.0))
    )
    assert_attention_close(
        linear_attention(q, k, v), linear_attention(q / 4**0.25, k / 4**0.25, v, scale=1.0)
    )  # d = 4
    assert_attention_close(
        linear_attention(q, k, v, scale=0.3), linear_attention(2 * q, 2 * k, v, scale=0.3 / 4)
    )


def test_inputs_are_not_modified(xp):
    q, k, v = (rng(s, xp).standard_normal((2, 8, 3)) for s in (1, 2, 3))
    before = [to_numpy(a).copy() for a in (q, k, v)]
    for causal in (False, True):
        linear_attention(q, k, v, causal=causal, return_weights=True)
    linear_attention_recurrent(q, k, v)
    linear_dense(q, k, v)
    elu_features(q)
    for b, a in zip(before, (q, k, v), strict=True):
        np.testing.assert_array_equal(to_numpy(a), b)


def test_registry_entry_is_the_function():
    q, k, v = (rng(s, np).standard_normal((9, 4)) for s in (1, 2, 3))
    attend = mechanism("linear", chunk_size=3)
    assert_attention_close(attend(q, k, v, causal=True), linear_attention(q, k, v, causal=True))
    assert attend.memory(4096, 64) == complexity.linear_attention_memory(4096, 64)
    assert attend.memory(4096, 64, causal=True) == complexity.linear_attention_memory(
        4096, 64, causal=True, chunk=3
    )


# --- memory: measured against the formula, and linear growth ------------------------------


def _peak_bytes(n, causal, d=64):
    q, k, v = (rng(s, np).standard_normal((n, d), dtype=np.float32) for s in (1, 2, 3))
    return peak_memory(lambda: linear_attention(q, k, v, causal=causal), np)[1]


@pytest.mark.parametrize("causal", [False, True])
def test_memory_is_linear_and_matches_the_formula(causal):
    peaks = {n: _peak_bytes(n, causal) for n in (4096, 8192, 16384)}
    for n, peak in peaks.items():
        model = 4 * complexity.linear_attention_memory(n, 64, causal=causal)
        assert 0.98 * model <= peak <= 1.02 * model, (n, peak, model)  # measured: 0.988–1.012
    for n in (4096, 8192):  # doubling n: the formula's growth, and never more than 2×
        growth = peaks[2 * n] / peaks[n]
        model = complexity.linear_attention_memory(
            2 * n, 64, causal=causal
        ) / complexity.linear_attention_memory(n, 64, causal=causal)
        assert abs(growth / model - 1) <= 0.05 and growth <= 2.05, (n, growth, model)


# --- bad inputs -----------------------------------------------------------------------------


X = np.ones((5, 3))
GENERAL = np.ones((5, 5), dtype=bool)

# fmt: off
BAD_INPUTS = [
    (lambda: elu_features(np.ones(3, dtype=int)), TypeError, r"x must have a floating dtype \(float32 or float64\), got int64"),
    (lambda: elu_features([1.0, 2.0]), TypeError, r"x must be a numpy or cupy array, got list"),
    (lambda: linear_attention(X, X, X, mask=GENERAL), ValueError, r"linear_attention cannot apply a mask of shape \(5, 5\) with a query axis: an n×m mask cannot be applied in linear time"),
    (lambda: linear_attention(X, X, X, chunk_size=0), ValueError, r"chunk_size must be an integer >= 1, got 0"),
    (lambda: linear_attention(X, X, X, chunk_size=2.5), TypeError, r"chunk_size must be an integer >= 1, got 2.5"),
    (lambda: linear_attention(X, X, X, causal="yes"), TypeError, r"causal must be True or False, got 'yes'"),
    (lambda: linear_attention(X, X, X, scale=-1.0), ValueError, r"scale must be a finite real number > 0 or None, got -1.0"),
    (lambda: linear_attention(X, np.ones((5, 2)), X), ValueError, r"k must have the same last axis d as q"),
    (lambda: linear_attention(X, X, X, omega=X), TypeError, r"unexpected keyword argument 'omega'"),
    (lambda: linear_attention(X, X, np.full((5, 3), np.nan)), ValueError, r"v must contain only finite values, got NaN or inf"),
    (lambda: linear_attention_recurrent(X, X, X, mask=GENERAL), ValueError, r"linear_attention_recurrent cannot apply a mask of shape \(5, 5\) with a query axis"),
    (lambda: linear_attention_recurrent(X, X, X, scale=0.0), ValueError, r"scale must be a finite real number > 0 or None, got 0.0"),
    (lambda: linear_attention_recurrent(X.astype(int), X, X), TypeError, r"q must have a floating dtype"),
    (lambda: linear_dense(X, X, np.ones((4, 3))), ValueError, r"v must have as many rows m as k"),
    (lambda: linear_dense(X, X, X, mask=np.ones((5, 5))), TypeError, r"mask must be a boolean array \(True = may attend\), got dtype float64"),
    (lambda: mechanism("linear", chunk_size=0), ValueError, r"chunk_size must be an integer >= 1, got 0"),
]
# fmt: on


@pytest.mark.parametrize(("call", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs_are_rejected(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()


# --- the figure -----------------------------------------------------------------------------


def test_linear_attention_figure_is_registered_and_draws_from_refattn(monkeypatch):
    from refattn.figures import FIGURES
    from refattn.figures import linear_attention as module

    assert "linear-attention" in FIGURES
    monkeypatch.setattr(module, "MEMORY_SIZES", (1024, 2048))  # quick: the figure goes to 65536
    data = module.linear_attention_data()
    np.testing.assert_allclose(data["elu"], _phi(data["x"]))
    np.testing.assert_allclose(data["linear"].sum(axis=-1), 1.0)
    assert np.allclose(np.triu(data["linear"], 1), 0)  # causal
    for label, series in data["memory"].items():
        ratio = series["measured"] / series["model"]
        assert ((0.9 <= ratio) & (ratio <= 1.1)).all(), (label, ratio)
