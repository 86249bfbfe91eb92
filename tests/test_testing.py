"""refattn.testing: the helpers must pass what is right and fail what is wrong."""

import numpy as np
import pytest
from hypothesis import given

from refattn._validation import check_attention_inputs
from refattn.testing import (
    TOLERANCES,
    AttentionInputs,
    assert_attention_close,
    assert_unbiased,
    attention_inputs,
    structured_stream,
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
    with pytest.raises(AssertionError, match="differ at 1 of 2"):
        assert_attention_close(np.array([1.0, -np.inf]), np.array([1.0, 1.0]))
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(2,\), desired \(2, 1\)"):
        assert_attention_close(np.zeros(2), np.zeros((2, 1)))
    # a broadcastable shape is still a failure: an output of the wrong shape is wrong
    with pytest.raises(AssertionError, match=r"shapes differ: actual \(3,\), desired \(2, 3\)"):
        assert_attention_close(np.zeros(3), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="desired must contain only finite values"):
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
        (np.array([1.0, np.nan]), ValueError, "samples must contain only finite values"),
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
    x, y = vector_pair(0.5, 2.0, -0.8, d=6, rng=3)
    assert np.linalg.norm(x) == pytest.approx(0.5)
    assert np.linalg.norm(y) == pytest.approx(2.0)
    assert x @ y / (0.5 * 2.0) == pytest.approx(-0.8)
    with pytest.raises(ValueError, match=r"cos must be a finite real number >= -1.0 and <= 1.0"):
        vector_pair(1.0, 1.0, 1.5)
    with pytest.raises(ValueError, match="d must be an integer >= 2 and <= 1000000, got 1"):
        vector_pair(1.0, 1.0, 0.5, d=1)


# --- strictness: complex, tolerances, shapes ------------------------------------------------


def test_close_rejects_complex_instead_of_comparing_real_parts():
    # the imaginary parts differ by 5: no tolerance may let this pass
    with pytest.raises(TypeError, match="actual must have a floating dtype"):
        assert_attention_close(np.array([1 + 0j]), np.array([1 + 5j]))


def test_close_default_rtol_is_the_coarser_dtype():
    off = np.full(4, 1 + 5e-6)  # within float32's 1e-5, far outside float64's 1e-10
    one = np.ones(4)
    assert_attention_close(off.astype(np.float32), one)
    assert_attention_close(off, one.astype(np.float32))
    with pytest.raises(AssertionError, match="rtol=1e-10"):
        assert_attention_close(off, one)


@pytest.mark.parametrize(("dtype", "documented"), [("float64", 1e-10), ("float32", 1e-5)])
def test_close_default_rtol_is_the_documented_value(dtype, documented):
    desired = np.ones(3, dtype)
    assert_attention_close(np.full(3, 1 + 0.5 * documented, dtype), desired)
    with pytest.raises(AssertionError, match=f"rtol={documented:g}"):
        assert_attention_close(np.full(3, 1 + 5 * documented, dtype), desired)


def test_close_default_atol_has_the_dtype_floor():
    # an all-zero reference has scale 0: only the smallest normal number remains as atol
    zero = np.zeros(3, np.float32)
    assert_attention_close(np.full(3, 1e-39, np.float32), zero)  # subnormal: below float32's tiny
    with pytest.raises(AssertionError, match="atol=1.17549e-38"):
        assert_attention_close(np.full(3, 1e-37, np.float32), zero)
    assert_attention_close(np.full(3, 1e-309), np.zeros(3))
    with pytest.raises(AssertionError):
        assert_attention_close(np.full(3, 1e-300), np.zeros(3))


def test_close_honours_explicit_tolerances_and_numpy_scalars():
    desired = np.array([1.0, 2.0])
    assert_attention_close(desired + 0.05, desired, atol=0.1, rtol=0.0)
    with pytest.raises(AssertionError, match=r"rtol=0, atol=0.1"):
        assert_attention_close(desired + 0.2, desired, atol=0.1, rtol=0.0)
    assert_attention_close(desired * 1.01, desired, rtol=np.float64(0.02), atol=np.array(0.0))
    with pytest.raises(AssertionError):
        assert_attention_close(desired * 1.03, desired, rtol=np.float32(0.02), atol=np.array(0.0))
    # rtol = atol = 0 is exact equality
    assert_attention_close(desired.copy(), desired, rtol=0, atol=0)
    with pytest.raises(AssertionError):
        assert_attention_close(np.nextafter(desired, 3.0), desired, rtol=0, atol=0)


def test_close_accepts_zero_d_and_empty_arrays():
    assert_attention_close(np.float64(1.0), np.array(1.0))
    assert_attention_close(np.zeros((0, 3)), np.zeros((0, 3)))
    with pytest.raises(AssertionError, match=r"worst at index \(\)"):
        assert_attention_close(np.array(1.5), np.array(1.0))


# --- the z-test's formula, axis and target ---------------------------------------------------


def test_ztest_formula_on_a_hand_computed_case():
    # draws 0 and 2: mean 1, sample sd (ddof=1) sqrt(2), N = 2, so z = 1 / (sqrt(2)/sqrt(2)) = 1
    result = ztest(np.array([0.0, 2.0]), 0.0)
    assert float(result.z) == pytest.approx(1.0, rel=1e-15)
    assert float(result.sd) == pytest.approx(np.sqrt(2.0), rel=1e-15)
    assert float(result.mean) == 1.0 and result.n_samples == 2
    assert float(result.detectable_bias) == pytest.approx(8.0, rel=1e-15)  # 8·sqrt(2)/sqrt(2)
    # the threshold is strict: |z| = z_max fails
    assert not ztest(np.array([0.0, 2.0]), 0.0, z_max=1.0).passed
    assert ztest(np.array([0.0, 2.0]), 0.0, z_max=1.0 + 1e-9).passed
    # a negative difference keeps its sign
    assert float(ztest(np.array([0.0, 2.0]), 3.0).z) == pytest.approx(-2.0, rel=1e-15)


def test_ztest_survives_huge_finite_draws():
    # the sum of the draws overflows float64; z is scale-free and still exact: 0.35 / (0.7/2) = 1
    result = ztest(np.array([1.0e308, 1.7e308]), 1.0e308)
    assert float(result.z) == pytest.approx(1.0, rel=1e-12)
    assert float(result.mean) == pytest.approx(1.35e308, rel=1e-12)
    assert np.isfinite(result.sd)


def test_ztest_draws_along_the_last_axis():
    g = np.random.default_rng(7)
    draws = g.normal(0.0, 1.0, (3, 2, 2000))
    draws[1, 0] += 0.5
    for axis in (2, -1):
        result = ztest(draws, np.zeros((3, 2)), axis=axis)
        assert result.z.shape == (3, 2) and result.n_samples == 2000
        assert result.worst_index == (1, 0)
        np.testing.assert_array_equal(result.z, ztest(np.moveaxis(draws, 2, 0), 0.0).z)


@pytest.mark.parametrize("axis", [1, -2, np.int64(1)])
def test_ztest_draws_along_any_axis(axis):
    g = np.random.default_rng(4)
    draws = g.normal(0.0, 1.0, (3, 2000, 2))  # draws on axis 1
    draws[2, :, 1] += 0.5
    along = ztest(draws, 0.0, axis=axis)
    first = ztest(np.moveaxis(draws, 1, 0), 0.0)
    np.testing.assert_array_equal(along.z, first.z)
    assert along.z.shape == (3, 2) and along.n_samples == 2000
    assert along.worst_index == (2, 1) and not along.passed
    # the wrong axis would average over the 3 estimates instead
    assert ztest(draws, 0.0, axis=0).n_samples == 3


def test_ztest_target_broadcasts_to_one_sample():
    g = np.random.default_rng(5)
    draws = g.normal(0.0, 1.0, (4000, 2, 3)) + np.array([[0.0], [10.0]])  # rows 0 and 10
    assert_unbiased(draws, np.array([[0.0], [10.0]]))  # (2, 1) broadcasts to (2, 3)
    assert_unbiased(draws - np.array([[0.0], [10.0]]), np.zeros(3))  # (3,) broadcasts
    assert_unbiased(draws[:, 0, :], np.float32(0.0))  # a NumPy scalar
    assert_unbiased(draws[:, 0, :], np.array(0))  # a 0-d integer array
    with pytest.raises(AssertionError, match=r"at index \(1, 0\)"):
        assert_unbiased(draws, np.array([[0.0], [10.5]]))


def test_ztest_accepts_integer_draws_and_numpy_scalar_options():
    counts = np.random.default_rng(6).poisson(3.0, 20_000)
    assert_unbiased(counts, 3, axis=np.int32(0), z_max=np.float64(5.0))
    assert_unbiased(counts, np.int64(3), z_max=np.array(5.0))
    with pytest.raises(AssertionError):
        assert_unbiased(counts, 3.2)


# --- rng= as in SPEC 7 -----------------------------------------------------------------------


def _same_pair(p, q):
    return all(np.array_equal(a, b) for a, b in zip(p, q, strict=True))


@pytest.mark.parametrize(
    "make",
    [
        lambda: 7,
        lambda: np.int64(7),
        lambda: np.array(7),
        lambda: np.random.SeedSequence(7),
        lambda: np.random.PCG64(7),
        lambda: np.random.default_rng(7),
    ],
    ids=["int", "numpy-int", "0d-array", "SeedSequence", "BitGenerator", "Generator"],
)
def test_every_rng_form_means_what_default_rng_means(make):
    expected_pair = vector_pair(1.0, 2.0, 0.3, d=5, rng=np.random.default_rng(7))
    expected_stream = structured_stream(20, 3, rng=np.random.default_rng(7))
    assert _same_pair(vector_pair(1.0, 2.0, 0.3, d=5, rng=make()), expected_pair)
    np.testing.assert_array_equal(structured_stream(20, 3, rng=make()), expected_stream)
    assert not _same_pair(vector_pair(1.0, 2.0, 0.3, d=5, rng=8), expected_pair)


def test_rng_none_draws_fresh_and_a_generator_advances():
    x, y = vector_pair(1.0, 1.0, 0.5, d=4, rng=None)
    assert np.linalg.norm(x) == pytest.approx(1.0) and x @ y == pytest.approx(0.5)
    assert structured_stream(5, 2, rng=None).shape == (5, 2)
    g = np.random.default_rng(1)
    first, second = vector_pair(1.0, 1.0, 0.5, rng=g), vector_pair(1.0, 1.0, 0.5, rng=g)
    assert not _same_pair(first, second)  # the caller's stream moved on
    assert _same_pair(vector_pair(1.0, 1.0, 0.5, rng=1), first)
    # the default is reproducible
    assert _same_pair(vector_pair(1.0, 1.0, 0.5), vector_pair(1.0, 1.0, 0.5, rng=0))
    np.testing.assert_array_equal(structured_stream(), structured_stream(rng=0))


def test_structured_stream_shape_and_numpy_integer_sizes():
    stream = structured_stream(np.int64(50), np.int32(4), rng=2)
    assert stream.shape == (50, 4) and stream.dtype == np.float64
    # neighbouring rows are close (slow sinusoids), far rows are not
    assert np.abs(np.diff(stream[:, 0])).max() < 0.6
    x, y = vector_pair(np.float32(0.5), np.float64(2.0), np.array(-0.25), d=np.int64(4))
    assert x @ y == pytest.approx(-0.25)


def test_structured_stream_frequencies_are_geometric_from_slow_to_fast():
    n, d = 8192, 5
    stream = structured_stream(n, d, rng=3)
    spectrum = np.abs(np.fft.rfft(stream - stream.mean(axis=0), axis=0))
    peaks = 2 * np.pi * np.argmax(spectrum, axis=0) / n  # radians per row
    np.testing.assert_allclose(peaks, np.geomspace(0.02, 2.0, d), atol=2 * np.pi / n)
    residual = stream - np.sin(np.arange(n)[:, None] * np.geomspace(0.02, 2.0, d))
    assert 0.05 < np.median(np.abs(np.diff(residual, axis=0))) < 1.5  # noise and phase remain


# --- pytest tracebacks end at the caller -----------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda: assert_attention_close(np.ones(2), np.zeros(2)),
        lambda: assert_attention_close(np.ones(2), np.zeros(2), rtol=-1.0),
        lambda: assert_unbiased(np.arange(10.0), 100.0),
        lambda: ztest(np.ones(3), 0.0, axis=4),
        lambda: vector_pair(1.0, 1.0, 0.5, rng=-1),
        lambda: structured_stream(0),
        lambda: attention_inputs(max_n=0),
    ],
)
def test_tracebacks_end_at_the_call(call):
    with pytest.raises((AssertionError, TypeError, ValueError)) as info:
        call()
    shown = info.traceback.filter(info)
    assert shown[-1].frame.code.name == "<lambda>", [e.frame.code.path for e in shown]


# --- strategy options and AttentionInputs.to -------------------------------------------------


@given(
    inputs=attention_inputs(
        dtypes=(np.float32, np.dtype("float32")),
        max_batch_dims=np.int64(0),
        max_n=np.int64(2),
        causal=(np.bool_(False),),
        bound=0.1,
    )
)
def test_strategy_takes_numpy_types_and_an_inexact_bound(inputs):
    assert inputs.q.dtype == np.float32 and inputs.q.ndim == 2
    assert inputs.q.shape[0] <= 2 and inputs.causal is False
    assert np.abs(inputs.q).max() <= 0.1


@pytest.mark.parametrize("bound", [0.1, 2.0, 1e-6, 1e6, 1 / 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_strategy_bound_is_the_largest_value_of_the_dtype_within_it(bound, dtype):
    from refattn.testing import _largest_within

    edge = _largest_within(bound, np.dtype(dtype))
    assert edge <= bound and float(dtype(edge)) == edge  # within, and exactly representable
    assert float(np.nextafter(dtype(edge), dtype(np.inf))) > bound  # and the largest such


def test_attention_inputs_move_to_a_backend_by_name_or_module():
    host = AttentionInputs(
        np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 2)), np.ones(4, bool), True
    )
    for xp in ("numpy", np):
        moved = host.to(xp)
        assert isinstance(moved.q, np.ndarray) and moved.causal is True
        np.testing.assert_array_equal(moved.mask, host.mask)
