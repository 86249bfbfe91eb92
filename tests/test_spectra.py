"""Spectra at the ends of the float range: no NaN, no inf, the same ratios at every magnitude.

Equation numbers refer to derivations/04-linformer.md.
"""

import numpy as np
import pytest

from refattn.spectra import (
    best_rank_k,
    cumulative_spectrum,
    effective_rank,
    energy_at,
    singular_values,
)

# powers of ten from the subnormal range to just below the largest float64
MAGNITUDES = [1e-310, 1e-200, 1e-150, 1.0, 1e150, 1e200, 1e300, 1e307]


@pytest.mark.parametrize("magnitude", MAGNITUDES)
def test_ratios_do_not_depend_on_the_magnitude(magnitude):
    s = np.array([4.0, 2.0, 2.0, 1.0, 0.0])
    scaled = s * magnitude
    # the exact values of the ratios (4.5): c_k = Σσ/Σσ, energy Σσ²/Σσ², entropy of σ/Σσ
    np.testing.assert_allclose(cumulative_spectrum(scaled), [4 / 9, 6 / 9, 8 / 9, 1.0, 1.0])
    assert float(energy_at(scaled, 1)) == pytest.approx(16 / 25)
    assert float(energy_at(scaled, 3)) == pytest.approx(24 / 25)
    p = s[:4] / 9
    assert float(effective_rank(scaled)) == pytest.approx(np.exp(-(p * np.log(p)).sum()))


@pytest.mark.parametrize("magnitude", [1e-200, 1e308])
def test_equal_singular_values_at_the_extremes(magnitude):
    s = np.array([magnitude, magnitude])
    assert float(energy_at(s, 1)) == 0.5  # was 0/0 = NaN for 1e-200
    assert float(effective_rank(s)) == pytest.approx(2.0)  # was 1 for 1e308 (Σσ overflowed)
    np.testing.assert_array_equal(cumulative_spectrum(s), [0.5, 1.0])


@pytest.mark.parametrize("magnitude", [1e-310, 1e-200, 1e200, 1e307])
def test_singular_values_and_best_rank_k_at_the_extremes(magnitude):
    p = np.diag([4.0, 2.0, 1.0]) * magnitude
    p[0, 1] = magnitude  # not diagonal: the SVD has work to do
    expected = np.linalg.svd(p / magnitude, compute_uv=False) * magnitude
    s = singular_values(p)
    assert np.all(np.isfinite(s))
    np.testing.assert_allclose(s, expected, rtol=1e-12 if magnitude > 1e-300 else 1e-3)
    full = best_rank_k(p, 3)
    assert np.all(np.isfinite(full))
    np.testing.assert_allclose(
        full, p, rtol=0, atol=1e-12 * magnitude if magnitude > 1e-300 else 1e-312
    )
    # (4.4) the error of the best rank-1 approximation is the tail of the spectrum
    tail = np.linalg.norm((p - best_rank_k(p, 1)) / magnitude)
    assert tail == pytest.approx(np.linalg.norm(expected[1:] / magnitude))


def test_overflowing_singular_values_raise_with_the_reason():
    p = np.full((4, 4), 1.5e308)  # σ₁ = 4 · 1.5e308 exceeds the float range
    with pytest.raises(
        FloatingPointError, match="singular_values produced NaN or inf .* float range"
    ):
        singular_values(p)
    # its best rank-1 approximation is p itself, finite: σ₁ = inf must not reach the product
    np.testing.assert_allclose(best_rank_k(p, 1), p, rtol=1e-14)


def test_energy_at_k_zero_and_all():
    s = np.array([[3.0, 1.0], [2.0, 2.0]])
    np.testing.assert_array_equal(energy_at(s, 0), [0.0, 0.0])
    np.testing.assert_array_equal(energy_at(s, 2), [1.0, 1.0])
    np.testing.assert_allclose(energy_at(s, 1), [0.9, 0.5])


def test_the_scale_is_that_of_the_largest_magnitude_not_the_largest_value():
    # the largest |entry| is negative: a scale taken from max(p) = 1e-300 would overflow p / scale
    p = np.array([[-1e300, 0.0], [0.0, 1e-300]])
    # σ₂ = 1e-300 is below the rounding of σ₁: exact up to 1e-16·σ₁, as any SVD is
    np.testing.assert_allclose(singular_values(p), [1e300, 1e-300], rtol=1e-15, atol=1e284)
    np.testing.assert_allclose(best_rank_k(p, 1), [[-1e300, 0.0], [0.0, 0.0]], rtol=1e-15)
    np.testing.assert_allclose(best_rank_k(-p, 2), -p, rtol=1e-15, atol=1e284)
