"""refattn.testing: the helpers must pass what is right and fail what is wrong."""

import numpy as np
import pytest
from hypothesis import given

from refattn._validation import check_attention_inputs
from refattn.testing import (
    TOLERANCES,
    assert_attention_close,
    assert_unbiased,
    attention_inputs,
    vector_pair,
    ztest,
)

# --- assert_attention_close ---------------------------------------------------------------


def test_close_passes_equal_arrays_and_rounding(xp):
    a = xp.asarray(np.random.default_rng(0).standard_normal((3, 4)))
    assert_attention_close(a, a)
    assert_attention_close(a * (1 + 1e-12), a)
    assert_attention_close(a.astype(xp.float32), a)  # float32 rounding is within 1e-5


@pytest.mark.parametrize(("dtype", "rtol"), list(TOLERANCES.items()))
def test_close_default_tolerance_follows_dtype(dtype, rtol):
    desired = np.ones((2, 2), dtype)
    assert_attention_close(desired * (1 + 0.5 * rtol), desired)
    with pytest.raises(AssertionError, match=f"rtol={rtol:g}"):
        assert_attention_close(desired * (1 + 3 * rtol), desired)


def test_close_is_judged_on_the_reference_scale():
    desired = np.array([1.0, 1e-9])
    # an error of 1e-12 on the tiny entry is small against max|desired| = 1 ...
    assert_attention_close(desired + np.array([0.0, 1e-12]), desired)
    # ... but not one of 1e-8
    with pytest.raises(AssertionError):
        assert_attention_close(desired + np.array([0.0, 1e-8]), desired)


def test_close_failure_message_shows_the_worst_position():
    desired = np.zeros((3, 4))
    desired[0, 0] = 1.0
    actual = desired.copy()
    actual[1, 2] = 0.5
    actual[2, 3] = 0.01
    with pytest.raises(AssertionError) as info:
        assert_attention_close(actual, desired, err_msg="chunked vs dense")
    message = str(info.value)
    assert message.startswith("chunked vs dense\n")
    assert "differ at 2 of 12 positions" in message
    assert "worst at index (1, 2): actual np.float64(0.5), desired np.float64(0.0)" in message


def test_close_fails_on_nan_and_on_shape():
    with pytest.raises(AssertionError, match="differ at 1 of 2"):
        assert_attention_close(np.array([1.0, np.nan]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(2,\), desired \(2, 1\)"):
        assert_attention_close(np.zeros(2), np.zeros((2, 1)))
    with pytest.raises(AssertionError, match="desired holds NaN or inf"):
        assert_attention_close(np.zeros(2), np.array([0.0, np.inf]))


# --- the z-test, with an attention-shaped estimator and its biased twins --------------------
# Estimate the softmax normaliser Z = Σ_j exp(s_j) of one query from k keys sampled
# uniformly with replacement: (m/k) Σ exp(s_J) is unbiased for Z.

M, K_SAMPLED, N_DRAWS = 64, 4, 50_000
_g = np.random.default_rng(2026)
LOGITS = _g.normal(0.0, 1.0, M)
VALUES = _g.normal(0.0, 1.0, M)
Z = np.exp(LOGITS).sum()
ATTENTION = (np.exp(LOGITS) * VALUES).sum() / Z


def _sampled_weights(seed):
    keys = np.random.default_rng(seed).integers(0, M, (N_DRAWS, K_SAMPLED))
    return np.exp(LOGITS[keys]), VALUES[keys]


def test_ztest_passes_an_unbiased_estimator():
    w, _ = _sampled_weights(0)
    result = assert_unbiased(M * w.mean(axis=1), Z)
    assert result.max_abs_z < 5
    # the smallest bias it catches (~3 % of Z here) is below the 5 % of the twin test
    assert result.detectable_bias < 0.05 * Z


def test_ztest_fails_the_same_estimator_biased_by_five_percent():
    w, _ = _sampled_weights(0)
    with pytest.raises(AssertionError, match=r"estimator looks biased: z-test over N=50000 draws"):
        assert_unbiased(1.05 * M * w.mean(axis=1), Z)


def test_ztest_fails_the_self_normalised_attention_estimate():
    # Σ w_J v_J / Σ w_J is a ratio of unbiased estimates, hence biased at small k
    w, v = _sampled_weights(1)
    result = ztest((w * v).sum(axis=1) / w.sum(axis=1), ATTENTION)
    assert not result.passed
    # while the numerator over the exact Z is unbiased
    assert_unbiased(M * (w * v).mean(axis=1) / Z, ATTENTION)


def test_ztest_is_elementwise_and_reports_the_worst():
    g = np.random.default_rng(3)
    samples = g.normal(0.0, 1.0, (20_000, 3))
    samples[:, 2] += 0.1  # one biased column
    result = ztest(samples, np.zeros(3))
    assert result.worst_index == (2,)
    assert not result.passed
    assert "at index (2,)" in str(result)
    assert np.all(np.abs(result.z[:2]) < 5)


def test_ztest_handles_zero_variance():
    assert ztest(np.ones(10), 1.0).passed
    assert not ztest(np.ones(10), 2.0).passed
    # the sign survives: a constant below the target is at −inf (one-sided tests rely on it)
    assert float(ztest(np.zeros(10), 0.5).z) == -np.inf
    assert float(ztest(np.ones(10), 0.5).z) == np.inf


@pytest.mark.parametrize(
    ("samples", "error", "fragment"),
    [
        (np.ones(1), ValueError, "at least 2 draws along axis 0, got 1"),
        (np.array([1.0, np.nan]), ValueError, "samples must be finite"),
    ],
)
def test_ztest_rejects(samples, error, fragment):
    with pytest.raises(error, match=fragment):
        ztest(samples, 1.0)


# --- the hypothesis strategy ---------------------------------------------------------------


@given(inputs=attention_inputs())
def test_strategy_draws_valid_attention_inputs(inputs):
    dims = check_attention_inputs(
        inputs.q, inputs.k, inputs.v, mask=inputs.mask, causal=inputs.causal
    )
    assert inputs.q.dtype == inputs.k.dtype == inputs.v.dtype
    assert dims.dtype in (np.float32, np.float64)
    assert np.abs(inputs.q).max() <= 2.0


@given(inputs=attention_inputs(dtypes=("float32",), masks=False, causal=(True,), max_n=3))
def test_strategy_respects_its_options(inputs):
    assert inputs.q.dtype == np.float32
    assert inputs.mask is None
    assert inputs.causal is True
    assert inputs.q.shape[-2] <= 3


def test_vector_pair_has_the_asked_norms_and_cosine():
    x, y = vector_pair(0.5, 2.0, -0.8, d=6, seed=3)
    assert np.linalg.norm(x) == pytest.approx(0.5)
    assert np.linalg.norm(y) == pytest.approx(2.0)
    assert x @ y / (0.5 * 2.0) == pytest.approx(-0.8)
    with pytest.raises(ValueError, match=r"cos must be in \[-1, 1\], got 1.5"):
        vector_pair(1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="d must be >= 2 for two directions, got 1"):
        vector_pair(1.0, 1.0, 0.5, d=1)
