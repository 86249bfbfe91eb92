"""The JL helpers against independent computations: exact values, the maps' entries, edge cases.

Equation numbers refer to derivations/03-johnson-lindenstrauss.md.  Statistical tests use fixed
generators, the house z-test (|z| < 5) and a twin that must fail.
"""

import math

import numpy as np
import pytest

from refattn.jl import distortion, min_dim, pair_failure_bound, pairwise_sq_distances, projection
from refattn.testing import assert_unbiased, ztest

# --- (3.1) the maps themselves ------------------------------------------------------------


def test_orthogonal_projection_rows_are_orthonormal_times_the_scale():
    r = projection(50, 7, kind="orthogonal", rng=1)
    np.testing.assert_allclose(r @ r.T, 50 / 7 * np.eye(7), atol=1e-12)


def test_orthogonal_projections_have_haar_distributed_signs():
    # without the sign of diag(R) folded in, QR's Q has a biased diagonal
    firsts = np.array([projection(4, 4, kind="orthogonal", rng=s)[0, 0] for s in range(4000)])
    assert abs(ztest(firsts, 0.0).z) < 5
    assert not ztest(np.abs(firsts), 0.0).passed  # the twin: a one-signed draw is caught


@pytest.mark.parametrize(("d_in", "density"), [(400, None), (400, 0.3), (30, 1.0)])
def test_sparse_entries_are_plus_minus_a_with_probability_density_over_two(d_in, density):
    k = 400  # 400·d_in >= 12 000 entries: a 15 % error in the rate is visible
    r = projection(d_in, k, kind="sparse", density=density, rng=2)
    s = 1 / math.sqrt(d_in) if density is None else density  # the documented default
    a = 1 / math.sqrt(s * k)
    assert set(np.unique(r)) <= {-a, 0.0, a}
    for sign in (-1, 1):
        hits = (r == sign * a).ravel().astype(float)
        assert_unbiased(hits, s / 2)
        assert not ztest(hits, 1.15 * s / 2).passed  # the twin: a rate 15 % off is rejected


def test_float32_projections_are_the_float64_draw_rounded():
    for kind in ("gaussian", "orthogonal", "sparse"):
        wide = projection(20, 5, kind=kind, rng=3)
        narrow = projection(20, 5, kind=kind, rng=3, dtype="float32")
        assert narrow.dtype == np.float32
        np.testing.assert_array_equal(narrow, wide.astype(np.float32))


# --- (3.2) the tail bound, (3.3) min_dim --------------------------------------------------


def test_pair_failure_bound_by_hand():
    # k = 96, ε = 1/2: ε²/2 − ε³/3 = 1/8 − 1/24 = 1/12, so the bound is 2·exp(−96/24) = 2e⁻⁴
    assert pair_failure_bound(96, 0.5) == pytest.approx(2 * math.exp(-4), rel=1e-14)


@pytest.mark.parametrize("bound", ["dasgupta-gupta", "rule-of-thumb"])
def test_min_dim_is_the_smallest_integer_meeting_the_bound(bound):
    for m in (2, 10, 1000, 10**6, 10**9):
        for eps in (0.01, 0.1, 0.3, 0.5, 0.9):
            if bound == "dasgupta-gupta":
                exact = 4 * math.log(m) / (eps**2 / 2 - eps**3 / 3)
            else:
                exact = 8 * math.log(m) / eps**2
            k = min_dim(m, eps, bound=bound)
            assert isinstance(k, int)
            assert k >= exact * (1 - 1e-12) and k - 1 < exact, (m, eps, k, exact)


@pytest.mark.parametrize("bound", ["dasgupta-gupta", "rule-of-thumb"])
def test_min_dim_arrays_equal_the_scalar_values(bound):
    ms = np.array([2, 10, 1000, 10**6])[:, None]
    eps = np.array([0.05, 0.3, 0.7])
    got = min_dim(ms, eps, bound=bound)
    assert got.shape == (4, 3) and got.dtype.kind == "i"
    expected = [[min_dim(int(m), float(e), bound=bound) for e in eps] for m in ms[:, 0]]
    np.testing.assert_array_equal(got, expected)
    # float arrays of whole numbers (as the figures pass them) give the same
    np.testing.assert_array_equal(min_dim(ms.astype(float), eps, bound=bound), expected)


def test_min_dim_at_tiny_eps_is_exact_or_raises_never_nan_or_zero_division():
    k = min_dim(10, 1e-152)  # ε² underflows in float64, the bound (~1.8e305) does not
    assert k == pytest.approx(4 * math.log(10) / 1e-152 / 1e-152 / 0.5, rel=1e-12)
    with pytest.raises(FloatingPointError, match=r"eps is too small"):
        min_dim(10, 1e-300)
    assert min_dim(1, 1e-300) == 0  # one point: no pair, whatever ε
    with pytest.raises(FloatingPointError, match=r"int64 range"):
        min_dim(np.array([10, 1000]), 1e-12)  # the bound, ~1e25, does not fit an int64


# --- distances ----------------------------------------------------------------------------------


def _brute_sq_distances(x):
    return ((x[..., :, None, :] - x[..., None, :, :]) ** 2).sum(axis=-1)


def test_pairwise_sq_distances_equal_brute_force_and_are_never_negative():
    g = np.random.default_rng(5)
    x = g.standard_normal((2, 6, 4))
    np.testing.assert_allclose(pairwise_sq_distances(x), _brute_sq_distances(x), atol=1e-12)
    # near-identical points far from the origin: the Gram form rounds below 0, the result may not
    base = 1e4 * g.standard_normal(16)
    close = base + 1e-9 * g.standard_normal((8, 16))
    got = pairwise_sq_distances(close)
    assert (got >= 0).all()
    raw = (close * close).sum(-1)[:, None] + (close * close).sum(-1)[None, :] - 2 * close @ close.T
    assert (raw < 0).any()  # the case the clip exists for does occur here


def test_distortion_is_the_ratio_over_pairs_i_below_j_in_order():
    g = np.random.default_rng(6)
    x = g.standard_normal((5, 7))
    y = x @ g.standard_normal((7, 3))
    i, j = np.triu_indices(5, k=1)
    before = _brute_sq_distances(x)[i, j]
    after = _brute_sq_distances(y)[i, j]
    np.testing.assert_allclose(distortion(x, y), after / before, rtol=1e-10)
