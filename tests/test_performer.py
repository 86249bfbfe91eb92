"""Performer / FAVOR+: the estimators' statistics, and the attention built from them.

Statistical tests follow the house practice of refattn.testing: fixed seeds, z-scores against exact values,
|z| < 5, and a twin that must fail.  Equation numbers refer to derivations/02-performer.md.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import hyp0f1, ndtr

from refattn import complexity, favor_attention, softmax_attention
from refattn.backend import get_array_module, peak_memory, rng, to_numpy
from refattn.performer import (
    FEATURE_KINDS,
    favor_dense,
    feature_map,
    lemma2_mse,
    orthogonal_mse_reduction,
    per_feature_estimates,
    random_features,
    softmax_kernel_estimate,
)
from refattn.testing import assert_attention_close, assert_unbiased, vector_pair, ztest


def _pair(norm_x, norm_y, cos, d=8):
    return vector_pair(norm_x, norm_y, cos, d=d)


def _single_estimates(x, y, omega, kind):
    """One estimate of exp(xᵀy) per row ω_i of omega, on the host."""
    xp = get_array_module(omega)
    return to_numpy(per_feature_estimates(xp.asarray(x), xp.asarray(y), omega, kind=kind))


N_DRAWS = 100_000
X, Y = _pair(0.6, 0.6, 0.3)
KERNEL = float(np.exp(X @ Y))

# --- (2.1), (2.2) unbiasedness, and the twin that must fail ------------------------------


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
def test_iid_features_are_unbiased(xp, kind):
    omega = random_features(N_DRAWS, 8, orthogonal=False, rng=1, xp=xp)
    result = assert_unbiased(_single_estimates(X, Y, omega, kind), KERNEL)
    assert result.detectable_bias < 0.05 * KERNEL  # the 5 % twin below is within reach


def test_orthogonal_features_with_chi_norms_are_unbiased(xp):
    d = 8
    omega = random_features(N_DRAWS // d * d, d, orthogonal=True, norms="chi", rng=2, xp=xp)
    # rows of one block are dependent: one sample per block (its mean), blocks independent
    blocks = _single_estimates(X, Y, omega, "positive").reshape(-1, d).mean(axis=1)
    assert_unbiased(blocks, KERNEL)


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
def test_a_five_percent_biased_estimator_fails(xp, kind):
    omega = random_features(N_DRAWS, 8, orthogonal=False, rng=1, xp=xp)
    with pytest.raises(AssertionError, match="estimator looks biased"):
        assert_unbiased(1.05 * _single_estimates(X, Y, omega, kind), KERNEL)


def test_sqrt_d_norms_are_biased_low_by_the_documented_amount(xp):
    # fixed row length √d: E[exp(ωᵀz)] = ₀F₁(; d/2; d‖z‖²/4) instead of exp(‖z‖²/2)
    d = 8
    x, y = _pair(0.7, 0.7, 0.9)
    z = x + y
    omega = random_features(N_DRAWS // d * d, d, orthogonal=True, norms="sqrt_d", rng=3, xp=xp)
    blocks = _single_estimates(x, y, omega, "positive").reshape(-1, d).mean(axis=1)
    biased = ztest(blocks, np.exp(x @ y))
    assert biased.z < -5  # visibly biased, and low
    expected = np.exp(-0.5 * (x @ x + y @ y)) * hyp0f1(d / 2, d * (z @ z) / 4)
    assert expected < np.exp(x @ y)
    assert_unbiased(blocks, expected)


# --- (2.3) Lemma 2: the mean squared error ----------------------------------------------


LEMMA2_CASES = [  # (norm, cosine, seed): a moderate kernel, a small one, one with x ≈ −y
    (0.5, 0.2, 10),
    (0.6, -0.9, 11),
    (1.2, -0.999, 12),
]


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
@pytest.mark.parametrize(("norm", "cos", "seed"), LEMMA2_CASES)
def test_lemma2_mse_matches_the_closed_form(xp, kind, norm, cos, seed):
    x, y = _pair(norm, norm, cos)
    omega = random_features(N_DRAWS, 8, orthogonal=False, rng=seed, xp=xp)
    squared_errors = (_single_estimates(x, y, omega, kind) - np.exp(x @ y)) ** 2
    mse = float(lemma2_mse(x, y, kind=kind))
    if mse < 1e-3 and kind == "positive":
        assert squared_errors.mean() < 1e-3  # x ≈ −y: the positive estimator is near exact
    assert_unbiased(squared_errors, mse)
    # the twin: a closed form 20 % too large is rejected
    assert not ztest(squared_errors, 1.2 * mse).passed


def test_trig_error_explodes_where_the_kernel_is_small_and_positive_does_not():
    x, y = _pair(1.2, 1.2, -0.999)  # exp(xᵀy) = 0.24
    kernel = np.exp(x @ y)
    assert float(lemma2_mse(x, y, kind="trig")) > 100 * kernel**2
    assert float(lemma2_mse(x, y, kind="positive")) < 0.01 * kernel**2
    assert float(lemma2_mse(x, y, kind="positive", m=10)) == pytest.approx(
        float(lemma2_mse(x, y, kind="positive")) / 10
    )


def _naive_lemma2(x, y, kind, m):
    """Lemma 2 as printed in the paper, in float64 (1 − e^{−t} as −expm1(−t), exact at small t)."""
    sm, plus, minus = np.exp(x @ y), np.sum((x + y) ** 2), np.sum((x - y) ** 2)
    positive = np.exp(plus) * sm**2 * -np.expm1(-plus) / m
    if kind == "positive":
        return positive
    if kind == "hyperbolic":
        return -np.expm1(-plus) / 2 * positive  # the paper's relation to the positive MSE
    return np.exp(plus) / sm**2 * np.expm1(-minus) ** 2 / (2 * m)


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
@pytest.mark.parametrize(
    ("norm", "cos"), [(0.5, 0.2), (1.3, -0.7), (0.05, 0.99), (2.0, 0.3), (1e-5, 0.3), (3e-4, -1.0)]
)
def test_lemma2_log_form_equals_the_printed_formula(kind, norm, cos):
    x, y = _pair(norm, 1.1 * norm, cos)
    got = float(lemma2_mse(x, y, kind=kind, m=3))
    assert got == pytest.approx(_naive_lemma2(x, y, kind, 3), rel=1e-12, abs=0)


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
def test_lemma2_is_exactly_zero_where_an_estimator_is_exact_at_any_norm(kind):
    # trig is exact at x = y (cos 0 = 1), positive and hyperbolic at x = −y (x + y = 0)
    x = np.full(4, 30.0)
    y = x if kind == "trig" else -x
    assert float(lemma2_mse(x, y, kind=kind)) == 0.0
    if kind == "trig":
        with np.errstate(over="ignore", invalid="ignore"):
            assert np.isnan(_naive_lemma2(x, y, kind, 1))  # inf/inf: what the log form avoids


@pytest.mark.parametrize("size", [1e-200, 1.0, 1e100, 1e155, 1e200, 1e300])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
def test_lemma2_exact_estimators_give_zero_for_any_finite_input(kind, dtype, size):
    # ‖x‖² overflows above about 1.3e154 (float64) or 1.8e19 (float32); the norms are taken
    # rescaled, so the exact zero of 1 − e^{−‖x∓y‖²} wins over e^{‖x‖²+‖y‖²} = e^{inf}.
    # Before: "the trig MSE exceeds the largest float64", and overflow warnings (errors here)
    size = min(size, float(np.finfo(dtype).max) / 4)
    x = np.full(4, size, dtype=dtype)
    y = x if kind == "trig" else -x
    got = lemma2_mse(x, y, kind=kind)
    assert got.dtype == dtype
    assert float(got) == 0.0
    if kind != "trig":  # and the reduction of Theorem 2 vanishes with x + y = 0
        assert float(orthogonal_mse_reduction(x, y, m=2, d=4)) == 0.0


@pytest.mark.parametrize("kind", ["positive", "hyperbolic", "trig"])
def test_lemma2_beyond_the_float_range_raises_the_right_reason_without_warnings(kind):
    # x = y (positive, hyperbolic) or x ≈ y (trig) at 1e200: the MSE is e^{~1e401}
    x = np.full(4, 1e200)
    y = x * (1 - 1e-10) if kind == "trig" else x
    with pytest.raises(FloatingPointError, match=rf"the {kind} MSE exceeds the largest float64"):
        lemma2_mse(x, y, kind=kind)
    with pytest.raises(FloatingPointError, match=r"the reduction exceeds the largest float64"):
        orthogonal_mse_reduction(x, y, m=2, d=4)


def test_lemma2_underflows_to_zero_where_the_true_mse_is_tiny_at_huge_norms():
    # positive with y = −x(1 + 1e-10) at 1e200: log MSE = 2xᵀy + ‖x+y‖² ≈ −8e400, so the MSE is
    # 0 to float64, where the unscaled form met −inf + inf = NaN and raised
    x = np.full(4, 1e200)
    y = -x * (1 + 1e-10)
    assert float(lemma2_mse(x, y, kind="positive")) == 0.0
    assert float(lemma2_mse(x, y, kind="hyperbolic")) == 0.0
    assert float(orthogonal_mse_reduction(x, y, m=2, d=4)) == 0.0


def test_lemma2_and_the_reduction_scale_each_pair_of_a_batch_on_its_own():
    # a batch mixing an ordinary pair with a huge one: the ordinary row keeps its value
    x = np.array([[0.3, -0.2, 0.1], [1e200, 1e200, 1e200]])
    y = np.array([[0.1, 0.4, -0.3], [1e200, 1e200, 1e200]])
    got = lemma2_mse(x, y, kind="trig")
    assert got[1] == 0.0
    assert got[0] == pytest.approx(_naive_lemma2(x[0], y[0], "trig", 1), rel=1e-12)
    reduction = orthogonal_mse_reduction(x[:1], y[:1], m=2, d=3)
    assert float(reduction[0]) > 0.0


@pytest.mark.parametrize(("kind", "expected"), [("positive", 1.0), ("hyperbolic", 0.5)])
def test_lemma2_is_finite_where_the_printed_formula_overflows(kind, expected):
    # ‖x‖² = ‖y‖² = 800, xᵀy = −400: e^{‖x+y‖²} = e^{800} overflows and SM² = e^{−800}
    # underflows, while the MSE is e^{0}(1 − e^{−800}) = 1 (positive) and half that (hyperbolic)
    x, y = _pair(800**0.5, 800**0.5, -0.5, d=4)
    assert float(lemma2_mse(x, y, kind=kind)) == pytest.approx(expected, rel=1e-10)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        assert np.isnan(_naive_lemma2(x, y, kind, 1))
    with pytest.raises(FloatingPointError, match=r"the trig MSE exceeds the largest float64"):
        lemma2_mse(x, y, kind="trig")  # e^{‖x‖²+‖y‖²} = e^{1600}: genuinely beyond float64


# --- (2.4) Theorem 2: orthogonal features lower the error -----------------------------------


def test_orthogonal_mse_reduction_is_the_printed_closed_form():
    # by hand: x = (1, 0), y = 0, m = d = 2: SM = 1, floor = e^{−1/2},
    # 2(m−1)/(m(d+2)) = 1/4, so the term is (1 − e^{−1/2})²/4 = 0.3934693²/4 = 0.03870453
    x, y = np.array([1.0, 0.0]), np.zeros(2)
    assert float(orthogonal_mse_reduction(x, y, m=2, d=2)) == pytest.approx(
        (1 - np.exp(-0.5)) ** 2 / 4, rel=1e-14
    )
    assert float(orthogonal_mse_reduction(x, y, m=2, d=2)) == pytest.approx(0.03870453, abs=1e-8)
    for m, d, norm, cos in [
        (3, 5, 0.7, 0.4),
        (8, 8, 1.2, -0.6),
        (1, 4, 0.5, 0.5),
        (16, 64, 2.0, 0.9),
    ]:
        x, y = _pair(norm, 0.8 * norm, cos, d=d)
        printed = 2 * (m - 1) / (m * (d + 2)) * (np.exp(x @ y) - np.exp(-(x @ x + y @ y) / 2)) ** 2
        assert float(orthogonal_mse_reduction(x, y, m=m, d=d)) == pytest.approx(
            printed, rel=1e-12, abs=0
        )


def _chi4_mgf(t):
    """E[exp(t·r)] for r ~ χ(4): ∫ e^{tr} r³ e^{−r²/2}/2 dr by Gaussian partial moments."""
    return (t**2 + 2) / 2 + np.sqrt(np.pi / 2) * (t**3 + 3 * t) * np.exp(t**2 / 2) * ndtr(t)


def _exact_orthogonal_mse(x, y, m):
    """The MSE of one block of m <= d = 4 orthogonal positive features with χ norms, exactly.

    MSE = Var₁/m + (m−1)/m · Cov, with Var₁ the one-feature variance (Lemma 2, m = 1) and
    Cov = e^{−‖x‖²−‖y‖²} (E[e^{ω₁ᵀz + ω₂ᵀz}] − e^{‖z‖²}), z = x + y.  For two orthonormal
    Haar directions u₁, u₂, (u₁ᵀẑ, u₂ᵀẑ) are two coordinates of a uniform point of S³, which
    are uniform on the unit disk; the χ(4) lengths are independent of them.  So
    E[e^{ω₁ᵀz + ω₂ᵀz}] = (1/π) ∫_disk h(‖z‖c₁) h(‖z‖c₂) dc with h the χ(4) MGF, integrated
    here by Gauss–Legendre in the radius and the trapezoid rule in the angle.
    """
    s = np.linalg.norm(x + y)
    nodes, weights = np.polynomial.legendre.leggauss(80)
    rho, w_rho = (nodes + 1) / 2, weights / 2
    theta = np.linspace(0, 2 * np.pi, 512, endpoint=False)
    r, t = np.meshgrid(rho, theta, indexing="ij")
    ring = (_chi4_mgf(s * r * np.cos(t)) * _chi4_mgf(s * r * np.sin(t))).mean(axis=1)
    pair_mgf = 2 * np.sum(ring * rho * w_rho)  # (1/π) · 2π · ∫ ring(ρ) ρ dρ
    var_1 = np.exp(2 * (x @ y)) * np.expm1(s**2)
    cov = np.exp(-(x @ x + y @ y)) * (pair_mgf - np.exp(s**2))
    return var_1 / m + (m - 1) / m * cov


def test_the_exact_orthogonal_mse_meets_theorem2_and_the_bound_is_tight_at_small_norms():
    for m in (2, 3, 4):
        for norm, cos in [(0.2, 0.5), (0.5, 0.5), (0.6, 0.9)]:
            x, y = _pair(norm, norm, cos, d=4)
            iid = float(lemma2_mse(x, y, m=m))
            reduction = float(orthogonal_mse_reduction(x, y, m=m, d=4))
            exact = _exact_orthogonal_mse(x, y, m)
            assert exact <= iid - reduction  # Theorem 2
            if norm == 0.2:
                # the bound is tight to leading order in ‖x+y‖: the true reduction is within
                # 7 % of the printed term, so a term 7 % too large would break the theorem
                assert exact > iid - 1.07 * reduction, (m, iid - exact, reduction)


def test_orthogonal_block_mse_matches_its_exact_value_to_within_seven_percent(xp):
    d = m = 4
    x, y = _pair(0.5, 0.5, 0.5, d=d)
    exact = _exact_orthogonal_mse(x, y, m)
    blocks = 200_000
    omega = random_features(blocks * m, d, orthogonal=True, norms="chi", rng=7, xp=xp)
    estimates = _single_estimates(x, y, omega, "positive").reshape(blocks, m).mean(axis=1)
    squared_errors = (estimates - np.exp(x @ y)) ** 2
    result = assert_unbiased(squared_errors, exact)
    assert result.detectable_bias < 0.07 * exact  # 8·sd/√N: the 7 % twin below is within reach
    assert not ztest(squared_errors, 1.07 * exact).passed  # the twin: 7 % off is rejected
    assert not ztest(squared_errors, 0.93 * exact).passed
    iid = random_features(blocks * m, d, orthogonal=False, rng=8, xp=xp)
    iid_errors = (_single_estimates(x, y, iid, "positive").reshape(blocks, m).mean(axis=1)
                  - np.exp(x @ y)) ** 2  # fmt: skip
    assert not ztest(iid_errors, exact).passed  # iid features do not reach the orthogonal MSE


def test_theorem2_orthogonal_mse_is_below_the_bound_and_iid_is_not(xp):
    d = m = 16
    x, y = _pair(0.5, 0.5, 0.9, d=d)
    kernel = np.exp(x @ y)
    bound = float(lemma2_mse(x, y, kind="positive", m=m) - orthogonal_mse_reduction(x, y, m=m, d=d))
    blocks = 60_000

    def block_squared_errors(orthogonal, seed):
        omega = random_features(blocks * m, d, orthogonal=orthogonal, rng=seed, xp=xp)
        estimates = _single_estimates(x, y, omega, "positive").reshape(blocks, m).mean(axis=1)
        return (estimates - kernel) ** 2

    orthogonal = ztest(block_squared_errors(True, 5), bound)
    assert orthogonal.z < 5  # cannot be shown above the bound (it is well below: z ≈ −8)
    assert orthogonal.z < 0
    iid = ztest(block_squared_errors(False, 6), bound)
    assert iid.z > 5  # the twin: iid features do exceed the bound (z ≈ 14)


# --- feature maps -----------------------------------------------------------------------------


@given(x=st.lists(st.floats(-50, 50), min_size=3, max_size=3), seed=st.integers(0, 100))
def test_positive_and_hyperbolic_features_are_positive(xp, x, seed):
    omega = random_features(5, 3, rng=seed, xp=xp)
    x = xp.asarray(x) / 10.0  # ‖x‖ up to ~9: exp(−‖x‖²/2) stays above float64's underflow
    for kind in ("positive", "hyperbolic"):
        assert bool((feature_map(x, omega, kind=kind) > 0).all())


def _features_by_definition(x, omega, kind):
    """(2.1), (2.2) written out in float64 on the host, independently of refattn."""
    m = omega.shape[0]
    u = x @ omega.T
    half = 0.5 * np.sum(x * x, axis=-1, keepdims=True)
    if kind == "positive":
        return np.exp(u - half) / np.sqrt(m)
    if kind == "hyperbolic":
        return np.exp(-half) / np.sqrt(2 * m) * np.concatenate([np.exp(u), np.exp(-u)], axis=-1)
    if kind == "trig":
        return np.exp(half) / np.sqrt(m) * np.concatenate([np.sin(u), np.cos(u)], axis=-1)
    return np.maximum(u, 0) / np.sqrt(m)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
def test_feature_maps_equal_their_definitions_for_a_few_features(xp, kind):
    g = np.random.default_rng(9)
    x, y = 0.6 * g.standard_normal((2, 5, 4))
    omega = g.standard_normal((3, 4))  # m = 3: a normaliser off by m/(m+1) is 25 %
    got = to_numpy(feature_map(xp.asarray(x), xp.asarray(omega), kind=kind))
    np.testing.assert_allclose(got, _features_by_definition(x, omega, kind), rtol=1e-12)
    phi_x, phi_y = (_features_by_definition(a, omega, kind) for a in (x, y))
    estimate = to_numpy(
        softmax_kernel_estimate(xp.asarray(x), xp.asarray(y), xp.asarray(omega), kind=kind)
    )
    np.testing.assert_allclose(estimate, np.sum(phi_x * phi_y, axis=-1), rtol=1e-12)
    each = to_numpy(
        per_feature_estimates(xp.asarray(x), xp.asarray(y), xp.asarray(omega), kind=kind)
    )
    product = 3 * phi_x * phi_y
    if kind in ("hyperbolic", "trig"):
        product = product[:, :3] + product[:, 3:]
    np.testing.assert_allclose(each, product, rtol=1e-12)


def test_trig_features_can_be_negative_and_relu_ones_cannot(xp):
    omega = random_features(16, 4, rng=0, xp=xp)
    x = xp.asarray(np.random.default_rng(0).standard_normal((8, 4)))
    assert bool((feature_map(x, omega, kind="trig") < 0).any())
    assert bool((feature_map(x, omega, kind="relu") >= 0).all())
    assert feature_map(x, omega, kind="trig").shape == (8, 32)
    assert feature_map(x, omega, kind="positive").shape == (8, 16)


def test_the_kernel_estimate_is_the_inner_product_of_features(xp):
    omega = random_features(32, 4, rng=1, xp=xp)
    x, y = (xp.asarray(a) for a in _pair(0.5, 0.5, 0.1, d=4))
    for kind in FEATURE_KINDS:
        estimate = softmax_kernel_estimate(x, y, omega, kind=kind)
        assert float(estimate) == pytest.approx(
            float(feature_map(x, omega, kind=kind) @ feature_map(y, omega, kind=kind))
        )


def test_per_feature_estimates_average_to_the_kernel_estimate(xp):
    omega = random_features(24, 4, rng=2, xp=xp)
    x, y = (xp.asarray(a) for a in _pair(0.5, 0.7, -0.3, d=4))
    for kind in FEATURE_KINDS:
        each = per_feature_estimates(x, y, omega, kind=kind)
        assert each.shape == (24,)
        assert float(each.mean()) == pytest.approx(
            float(softmax_kernel_estimate(x, y, omega, kind=kind))
        )


def test_random_features_are_deterministic_per_seed_and_orthogonal_in_blocks(xp):
    a = to_numpy(random_features(40, 16, rng=7, xp=xp))
    assert np.array_equal(a, to_numpy(random_features(40, 16, rng=7, xp=xp)))
    assert not np.array_equal(a, to_numpy(random_features(40, 16, rng=8, xp=xp)))  # a redraw
    assert a.shape == (40, 16)
    for block in (a[:16], a[16:32], a[32:]):
        gram = block @ block.T
        assert np.allclose(gram - np.diag(np.diag(gram)), 0, atol=1e-10)
    fixed = to_numpy(random_features(20, 16, norms="sqrt_d", rng=7, xp=xp))
    assert np.allclose(np.linalg.norm(fixed, axis=1), 4.0)
    g = rng(3, xp)
    assert not np.array_equal(
        to_numpy(random_features(4, 4, rng=g, xp=xp)), to_numpy(random_features(4, 4, rng=g, xp=xp))
    )  # a generator advances


@pytest.mark.parametrize("orthogonal", [False, True])
def test_row_lengths_of_both_norms_on_both_paths(xp, orthogonal):
    d = 9
    fixed = to_numpy(random_features(50, d, orthogonal=orthogonal, norms="sqrt_d", rng=3, xp=xp))
    np.testing.assert_allclose(np.linalg.norm(fixed, axis=1), 3.0, rtol=1e-12)
    chi = to_numpy(random_features(40_000, d, orthogonal=orthogonal, norms="chi", rng=4, xp=xp))
    squared = np.sum(chi**2, axis=1)  # χ²(d): mean d, and not all equal
    assert_unbiased(squared, float(d))
    assert not ztest(squared, 1.07 * d).passed
    assert squared.std() > 1.0


def test_a_remainder_block_is_orthonormal_and_the_features_do_not_depend_on_m_beyond_it():
    d = 6
    omega = random_features(15, d, norms="sqrt_d", rng=2)  # two full blocks and 3 rows
    for rows in (omega[:6], omega[6:12], omega[12:]):
        np.testing.assert_allclose(rows @ rows.T, d * np.eye(len(rows)), atol=1e-10)


def test_remainder_rows_have_haar_distributed_signs():
    # rows 4 and 5 of m = 6, d = 4 come from the QR of one 4 × 2 Gaussian matrix: without the
    # sign correction LAPACK's convention fixes the sign of their first entries
    rows = np.array([random_features(6, 4, norms="sqrt_d", rng=s)[4:, :2] / 2 for s in range(3000)])
    for i in range(2):
        assert abs(ztest(rows[:, i, i], 0.0).z) < 5
    assert not ztest(np.abs(rows[:, 0, 0]), 0.0).passed  # the twin: one sign is caught


def test_orthogonal_blocks_have_haar_distributed_signs():
    # without the sign correction, QR's Q has a biased diagonal; with it, E[diag] = 0
    firsts = np.array([random_features(4, 4, norms="sqrt_d", rng=s)[0, 0] / 2 for s in range(4000)])
    assert abs(ztest(firsts, 0.0).z) < 5


# --- (2.5), (2.6) attention: exact for a fixed omega, causal, convergent ------------------------


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(("n", "m", "chunk"), [(17, 17, 4), (9, 20, 3), (20, 9, 50), (1, 1, 1)])
def test_favor_equals_its_dense_form_for_a_fixed_omega(xp, kind, causal, n, m, chunk):
    g = rng(n * 100 + m, xp)
    q, k = (0.7 * g.standard_normal((2, size, 5)) for size in (n, m))
    v = g.standard_normal((2, m, 3))
    omega = random_features(12, 5, rng=4, xp=xp)
    got = favor_attention(q, k, v, omega=omega, kind=kind, causal=causal, chunk_size=chunk)
    assert_attention_close(got, favor_dense(q, k, v, omega=omega, kind=kind, causal=causal))


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("scale", [1.0, 40.0])
def test_causal_outputs_ignore_later_keys(xp, kind, scale):
    g = rng(21, xp)
    n, d = 48, 8
    q, k, v = (g.standard_normal((n, d)) for _ in range(3))
    omega = random_features(32, d, rng=5, xp=xp)
    before = to_numpy(favor_attention(q, k, v, omega=omega, kind=kind, causal=True, chunk_size=16))
    for i in (0, 7, 20, 40):
        k2, v2 = k.copy(), v.copy()
        k2[i + 1 :] *= scale
        k2[i + 1 :] += 3.0
        v2[i + 1 :] = -5.0
        after = to_numpy(
            favor_attention(q, k2, v2, omega=omega, kind=kind, causal=True, chunk_size=16)
        )
        assert_attention_close(after[: i + 1], before[: i + 1], rtol=1e-9)


def _leaky_causal(q, k, v, omega):
    """The anchors' stabiliser: one key shift, the max of ωᵀk over the *whole* sequence."""
    d = q.shape[-1]
    qs, ks = q / d**0.25, k / d**0.25
    u_k = ks @ omega.T
    phi_q = np.exp(
        qs @ omega.T - 0.5 * (qs**2).sum(-1, keepdims=True) - (qs @ omega.T).max(-1, keepdims=True)
    )
    phi_k = np.exp(u_k - 0.5 * (ks**2).sum(-1, keepdims=True) - u_k.max())
    a = np.tril(phi_q @ phi_k.T)
    total = a.sum(-1, keepdims=True)
    return np.where(total == 0, 0, (a @ v) / np.where(total == 0, 1, total))


def test_a_whole_sequence_key_max_leaks_the_future():
    # the twin of the test above: the anchors' shift lets ×40 later keys change earlier outputs
    g = np.random.default_rng(21)
    n, d = 48, 8
    q, k, v = (g.standard_normal((n, d)).astype(np.float32) for _ in range(3))
    omega = random_features(32, d, rng=5, dtype="float32")
    before = _leaky_causal(q, k, v, omega)
    k2 = k.copy()
    k2[21:] *= 40.0
    with pytest.raises(AssertionError):
        assert_attention_close(_leaky_causal(q, k2, v, omega)[:21], before[:21], rtol=1e-9)


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("causal", [False, True])
def test_no_nan_or_inf_for_inputs_of_norm_30_in_float32(xp, kind, causal):
    g = rng(30, xp)
    q, k = (g.standard_normal((64, 16), dtype="float32") for _ in range(2))
    q = q / xp.linalg.norm(q, axis=-1, keepdims=True) * 30
    k = k / xp.linalg.norm(k, axis=-1, keepdims=True) * 30
    v = g.standard_normal((64, 16), dtype="float32")
    omega = random_features(64, 16, rng=0, xp=xp, dtype="float32")
    out = favor_attention(q, k, v, omega=omega, kind=kind, causal=causal)
    assert out.dtype == xp.float32
    assert bool(xp.isfinite(out).all())


@pytest.mark.parametrize("kind", FEATURE_KINDS)
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_overflowing_inputs_or_values_raise_instead_of_returning_nan(kind, causal, dtype):
    # ‖q‖² beyond the dtype's range: the exponents overflow before any shift can help
    huge = 1e20 if dtype == "float32" else 1e160
    g = np.random.default_rng(31)
    q = (g.standard_normal((6, 4)) * huge).astype(dtype)
    v = g.standard_normal((6, 3)).astype(dtype)
    omega = random_features(8, 4, rng=0, dtype=dtype)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"favor_attention"):
        favor_attention(q, q, v, omega=omega, kind=kind, causal=causal)
    # values whose sum over the keys overflows, with ordinary q and k
    big_v = np.full((6, 3), np.finfo(dtype).max / 2, dtype=dtype)
    # (relu features are not shifted: inputs of norm ~20 make them > 1, so that Σ φ·v overflows)
    small = ((20.0 if kind == "relu" else 0.1) * g.standard_normal((6, 4))).astype(dtype)
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match=r"values too large"):
        favor_attention(small, small, big_v, omega=omega, kind=kind, causal=causal)


@pytest.mark.parametrize("causal", [False, True])
def test_error_falls_like_one_over_root_m(xp, causal):
    g = rng(40, xp)
    n, d = 128, 16
    q, k = (
        0.3 * g.standard_normal((n, d)) for _ in range(2)
    )  # moderate norms: log-normal draws stay well estimated
    v = g.standard_normal((n, d))
    exact = softmax_attention(q, k, v, causal=causal)
    sizes = [16, 64, 256, 1024]
    errors = []
    for m in sizes:
        trials = [
            float(
                xp.linalg.norm(
                    favor_attention(
                        q,
                        k,
                        v,
                        omega=random_features(m, d, orthogonal=False, rng=s, xp=xp),
                        causal=causal,
                    )
                    - exact
                )
                / xp.linalg.norm(exact)
            )
            for s in range(8)
        ]
        errors.append(np.mean(trials))
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert -0.7 <= slope <= -0.35, (slope, errors)


# --- memory ---------------------------------------------------------------------------------------


def _peak_bytes(n, omega, causal, d=64):
    q, k, v = (np.random.default_rng(n).standard_normal((n, d), dtype=np.float32) for _ in range(3))
    return peak_memory(lambda: favor_attention(q, k, v, omega=omega, causal=causal), np)[1]


@pytest.mark.parametrize("causal", [False, True])
def test_memory_is_linear_and_matches_the_formula(causal):
    m_features, d = 256, 64
    omega = random_features(m_features, d, rng=0, dtype="float32")
    peaks = {n: _peak_bytes(n, omega, causal) for n in (4096, 16384)}
    for n, peak in peaks.items():
        model = 4 * complexity.favor_memory(n, d, m=m_features, causal=causal)
        assert 0.95 * model <= peak <= 1.1 * model, (n, peak, model)
    assert 3.6 <= peaks[16384] / peaks[4096] <= 4.4
