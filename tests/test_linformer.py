"""Johnson–Lindenstrauss, Linformer and low-rank spectra.

Equation numbers refer to derivations/03-johnson-lindenstrauss.md and 04-linformer.md.
"""

import math

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from refattn import complexity, linformer_attention, softmax_attention
from refattn.backend import peak_memory, rng, to_numpy
from refattn.jl import distortion, min_dim, pair_failure_bound, pairwise_sq_distances, projection
from refattn.linformer import lowrank_context, parameter_count, projections
from refattn.softmax import softmax
from refattn.spectra import (
    best_rank_k,
    cumulative_spectrum,
    effective_rank,
    energy_at,
    singular_values,
)
from refattn.testing import assert_attention_close, assert_unbiased, ztest

KINDS = ("gaussian", "orthogonal", "sparse")

# --- (3.1) E‖Rx‖² = ‖x‖² ----------------------------------------------------------------


def _norm_ratios(xp, kind, k=16, d=50, draws=4000, scale=1.0):
    """‖Rx‖²/‖x‖² over independent draws of R, for one fixed x."""
    x = rng(2**20, xp).standard_normal(d)  # a stream no map is drawn from
    ratios = []
    for s in range(draws):
        y = scale * projection(d, k, kind=kind, rng=s, xp=xp) @ x
        ratios.append(float(y @ y) / float(x @ x))
    return np.array(ratios)


@pytest.mark.parametrize("kind", KINDS)
def test_projections_preserve_squared_norms_in_expectation(xp, kind):
    assert_unbiased(_norm_ratios(xp, kind), 1.0)


@pytest.mark.parametrize("kind", KINDS)
def test_a_five_percent_too_long_projection_fails(xp, kind):
    with pytest.raises(AssertionError, match="estimator looks biased"):
        assert_unbiased(_norm_ratios(xp, kind, scale=math.sqrt(1.05)), 1.0)


# --- (3.2) the tail bound for one vector ---------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_one_vector_fails_no_more_often_than_the_tail_bound(xp, kind):
    k, eps, draws = 96, 0.5, 2000
    bound = pair_failure_bound(k, eps)  # 0.037
    failures = (np.abs(_norm_ratios(xp, kind, k=k, d=100, draws=draws) - 1) > eps).astype(float)
    result = ztest(failures, bound)  # one-sided: the failure rate must not exceed the bound
    assert result.z < 5, str(result)
    # the twin: a map 30 % too long fails almost always, far above the bound
    wrong = (np.abs(_norm_ratios(xp, kind, k=k, d=100, draws=300, scale=1.3) - 1) > eps).astype(
        float
    )
    assert ztest(wrong, bound).z > 5


# --- (3.3) m points at min_dim ----------------------------------------------------------------


@given(
    m=st.integers(2, 30),
    eps=st.floats(0.3, 0.9),
    kind=st.sampled_from(KINDS),
    extra=st.integers(0, 200),
    seed=st.integers(0, 2**16),
)
def test_min_dim_keeps_every_pairwise_distance(m, eps, kind, extra, seed):
    k = min_dim(m, eps)
    d_in = k + extra  # orthogonal maps need k <= d_in
    # points and maps from separate streams: R drawn from the points' seed would contain them
    points = np.random.default_rng(2**20 + seed).standard_normal((m, d_in))
    trials = 10
    successes = [
        bool(
            np.all(
                np.abs(
                    distortion(points, points @ projection(d_in, k, kind=kind, rng=seed + t).T) - 1
                )
                < eps
            )
        )
        for t in range(trials)
    ]
    promise = max(0.0, 1 - m * (m - 1) / 2 * pair_failure_bound(k, eps))
    rate = np.mean(successes)
    note(
        f"k = {k}: success rate {rate:.2f} over {trials} draws; the union bound promises {promise:.3f}"
    )
    assert rate > 0  # the lemma: a good map exists, and random draws find it
    assert rate >= promise - 5 * math.sqrt(max(promise * (1 - promise), 1e-12) / trials)


def test_at_twice_min_dim_the_union_bound_promises_almost_sure_success():
    m, eps = 40, 0.5
    k = 2 * min_dim(m, eps)
    promise = 1 - m * (m - 1) / 2 * pair_failure_bound(k, eps)
    assert promise > 0.99
    points = np.random.default_rng(2**20).standard_normal((m, 400))  # not a seed of the maps
    rate = np.mean(
        [
            np.all(np.abs(distortion(points, points @ projection(400, k, rng=t).T) - 1) < eps)
            for t in range(40)
        ]
    )
    assert rate >= promise - 5 * math.sqrt(promise * (1 - promise) / 40)


def test_min_dim_regression_values_and_monotonicity():
    assert min_dim(10**6, 0.5) == 664  # scikit-learn truncates to 663
    assert min_dim(10**6, 0.5, bound="rule-of-thumb") == 443
    assert min_dim(1, 0.5) == 0  # one point: no pair to keep
    assert min_dim(100, 0.1) == 3948
    ms = np.array([10, 100, 1000, 10**4, 10**5])
    ks = min_dim(ms, 0.3)
    assert ks.dtype.kind == "i" and np.all(np.diff(ks) > 0)  # grows with m
    ks = min_dim(1000, np.array([0.1, 0.2, 0.4, 0.8]))
    assert np.all(np.diff(ks) < 0)  # shrinks as ε grows
    bound = 4 * np.log(1000) / (0.3**2 / 2 - 0.3**3 / 3)
    assert min_dim(1000, 0.3) == math.ceil(bound) and min_dim(1000, 0.3) - 1 < bound


def test_pairwise_distances_and_distortion(xp):
    x = xp.asarray([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])
    assert to_numpy(pairwise_sq_distances(x)).tolist() == [[0, 25, 100], [25, 0, 25], [100, 25, 0]]
    assert to_numpy(distortion(x, 2 * x)).tolist() == [4.0, 4.0, 4.0]


# --- (4.1) Linformer equals its oracle; k = n with identity projections is exact attention ---------


def test_linformer_equals_its_oracle(xp):
    g = rng(3, xp)
    q, k_, v = (g.standard_normal((2, 3, 40, 8)) for _ in range(3))
    E, F = projection(40, 12, rng=4, xp=xp), projection(40, 12, rng=5, xp=xp)
    expected = softmax(q @ xp.swapaxes(E @ k_, -1, -2) / math.sqrt(8)) @ (F @ v)
    assert_attention_close(linformer_attention(q, k_, v, E=E, F=F), expected)
    per_head = xp.stack([projection(40, 12, rng=s, xp=xp) for s in range(3)])  # (h, k, n)
    got = linformer_attention(q, k_, v, E=per_head, F=per_head)
    for h in range(3):
        head = softmax(q[:, h] @ xp.swapaxes(per_head[h] @ k_[:, h], -1, -2) / math.sqrt(8))
        assert_attention_close(got[:, h], head @ (per_head[h] @ v[:, h]))


def test_identity_projections_give_exact_attention(xp):
    g = rng(6, xp)
    q, k_, v = (g.standard_normal((2, 30, 8)) for _ in range(3))
    eye = xp.eye(30)
    assert_attention_close(linformer_attention(q, k_, v, E=eye, F=eye), softmax_attention(q, k_, v))


def test_shorter_inputs_use_the_first_columns_and_longer_ones_raise(xp):
    g = rng(7, xp)
    E, F = projection(50, 10, rng=1, xp=xp), projection(50, 10, rng=2, xp=xp)
    q, k_, v = (g.standard_normal((20, 4)) for _ in range(3))
    assert_attention_close(
        linformer_attention(q, k_, v, E=E, F=F),
        linformer_attention(q, k_, v, E=E[:, :20], F=F[:, :20]),
    )
    long = g.standard_normal((60, 4))
    with pytest.raises(
        ValueError,
        match="E projects sequences of at most L = 50 positions, got inputs of length 60",
    ):
        linformer_attention(long, long, long, E=E, F=F)


def test_causal_linformer_is_refused_with_the_reason():
    x = np.ones((4, 2))
    with pytest.raises(
        ValueError,
        match="linformer_attention cannot be causal: E·K mixes every position, later ones included",
    ):
        linformer_attention(x, x, x, E=np.eye(4), F=np.eye(4), causal=True)


# --- (4.6) sharing modes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sharing", "distinct"),
    [("none", 2 * 3 * 2), ("headwise", 2 * 3), ("key-value", 3), ("layerwise", 1)],
)
def test_sharing_modes_share_the_very_same_arrays(xp, sharing, distinct):
    p = projections(32, 8, heads=2, layers=3, sharing=sharing, rng=0, xp=xp)
    arrays = {id(a) for layer in p for pair in layer for a in pair}
    assert len(arrays) == distinct
    assert parameter_count(32, 8, heads=2, layers=3, sharing=sharing) == distinct * 32 * 8
    if sharing in ("key-value", "layerwise"):
        assert all(e is f for layer in p for e, f in layer)
    if sharing == "headwise":
        assert p[0][0] == p[0][1] and p[0][0][0] is not p[1][0][0]


def test_projections_are_successive_draws_of_one_generator(xp):
    p = projections(16, 4, heads=2, layers=2, sharing="none", rng=3, xp=xp)
    drawn = [a for layer in p for pair in layer for a in pair]  # layer, head, then E, F
    g = rng(3, xp)
    for got in drawn:
        assert_attention_close(got, projection(16, 4, rng=g, xp=xp), atol=0)
    assert len({float(a[0, 0]) for a in drawn}) == 8  # eight different matrices
    again = projections(16, 4, heads=2, layers=2, sharing="none", rng=3, xp=xp)
    assert_attention_close(again[1][1][1], p[1][1][1], atol=0)


# --- (4.2) Theorem 1, checked empirically ------------------------------------------------------------


@pytest.mark.parametrize("n", [256, 512])
def test_theorem1_construction_keeps_each_entry_within_the_jl_bound(xp, n):
    eps = 0.5
    kdim = math.ceil(5 * math.log(n) / (eps**2 - eps**3))  # 222, 250: below n
    assert kdim < n
    g = rng(n, xp)
    q, k_, w = (g.standard_normal((n, 64)) for _ in range(3))
    approx, p = lowrank_context(q, k_, kdim, rng=1)
    error = to_numpy(xp.abs(approx @ w - p @ w))  # (n, columns)
    # what JL proves, entry by entry: |p̃_iᵀw − p_iᵀw| <= ε ‖p_i‖ ‖w‖
    allowed = (
        eps
        * to_numpy(xp.linalg.norm(p, axis=1))[:, None]
        * to_numpy(xp.linalg.norm(w, axis=0))[None, :]
    )
    within = float(np.mean(error <= allowed))
    assert within >= 1 - 2 * pair_failure_bound(kdim, eps) - 0.001, within
    # the paper's relative form ‖P̃w − Pw‖ <= ε‖Pw‖ is NOT what this k gives (derivation 4.2):
    relative = to_numpy(xp.linalg.norm(approx @ w - p @ w, axis=0) / xp.linalg.norm(p @ w, axis=0))
    assert np.median(relative) == pytest.approx(math.sqrt(n / kdim), rel=0.25)


def test_theorem1_error_shrinks_like_one_over_root_k(xp):
    n = 256
    g = rng(9, xp)
    q, k_, w = (g.standard_normal((n, 64)) for _ in range(3))
    sizes = [32, 128, 512]
    errors = []
    for kdim in sizes:
        trials = []
        for s in range(4):
            approx, p = lowrank_context(q, k_, kdim, rng=s)
            trials.append(float(xp.linalg.norm(approx @ w - p @ w) / xp.linalg.norm(p @ w)))
        errors.append(np.mean(trials))
    assert errors[0] > errors[1] > errors[2]
    slope = np.polyfit(np.log(sizes), np.log(errors), 1)[0]
    assert -0.6 < slope < -0.4


# --- (4.4), (4.5) spectra ------------------------------------------------------------------------------


def test_eckart_young_error_is_the_tail_of_the_spectrum(xp):
    p = softmax(rng(10, xp).standard_normal((2, 40, 40)) * 2.0)
    s = singular_values(p)
    for k in (0, 1, 5, 20, 40):
        error = xp.linalg.norm(p - best_rank_k(p, k), axis=(-2, -1)) ** 2
        assert_attention_close(error, (s[..., k:] ** 2).sum(axis=-1) + 0 * error, atol=1e-12)
    # no other rank-k matrix does better, e.g. a truncation of the matrix itself
    assert float(xp.linalg.norm(p[0] - best_rank_k(p[0], 5))) <= float(
        xp.linalg.norm(p[0] - p[0] * (xp.arange(40) < 5))
    )


def test_cumulative_spectrum_energy_and_effective_rank(xp):
    s = singular_values(softmax(rng(11, xp).standard_normal((30, 30))))
    c = to_numpy(cumulative_spectrum(s))
    assert np.all(np.diff(c) >= 0) and c[-1] == pytest.approx(1.0)
    assert 1.0 <= float(effective_rank(s)) <= 30.0
    assert float(energy_at(s, 30)) == pytest.approx(1.0) and float(energy_at(s, 0)) == 0.0
    equal = xp.asarray([2.0] * 7 + [0.0] * 3)
    assert float(effective_rank(equal)) == pytest.approx(7.0)
    assert float(effective_rank(xp.asarray([1.0, 0.0]))) == pytest.approx(1.0)


@given(rank=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_attention_of_low_rank_logits_gets_more_low_rank_at_higher_temperature(rank, seed):
    # logits A = U Vᵀ of rank r; as the temperature t grows (logits shrink), softmax(A/t)
    # tends to the rank-one uniform matrix plus an O(1/t) perturbation: the spectrum concentrates.
    # (Not from t -> 0: there each row turns one-hot, which is low-rank too; hence t >= 1.)
    g = np.random.default_rng(seed)
    u, v = g.standard_normal((64, rank)), g.standard_normal((64, rank))
    ranks = [float(effective_rank(singular_values(softmax(u @ v.T / t)))) for t in (1.0, 4.0, 16.0)]
    assert ranks[0] > ranks[1] > ranks[2]


# --- memory ---------------------------------------------------------------------------------------------


def test_memory_is_linear_and_matches_the_formula():
    kdim, d = 256, 64
    peaks = {}
    for n in (4096, 16384):
        q, k_, v = (
            np.random.default_rng(n).standard_normal((n, d), dtype=np.float32) for _ in range(3)
        )
        E, F = (projection(n, kdim, rng=s, dtype="float32") for s in (1, 2))
        peaks[n] = peak_memory(
            lambda q=q, k_=k_, v=v, E=E, F=F: linformer_attention(q, k_, v, E=E, F=F), np
        )[1]
        model = 4 * complexity.linformer_memory(n, d, k=kdim)
        # measured 1.009 and 1.004: derivations/04 (4.1) says "within 1 %"
        assert 0.99 * model <= peaks[n] <= 1.01 * model, (n, peaks[n], model)
    assert 3.6 <= peaks[16384] / peaks[4096] <= 4.4


# --- bad inputs -------------------------------------------------------------------------------------------

X = np.ones((6, 3))
# fmt: off
BAD_INPUTS = [
    (lambda: min_dim(100, 1.0), ValueError, r"eps must lie in \(0, 1\), got 1.0"),
    (lambda: min_dim(100, 0.0), ValueError, r"eps must lie in \(0, 1\), got 0.0"),
    (lambda: min_dim(0, 0.5), ValueError, r"n_points must be >= 1, got 0"),
    (lambda: min_dim(np.array([10, 0]), 0.5), ValueError, r"n_points must be >= 1 everywhere"),
    (lambda: min_dim(np.array([10]), np.array([0.5, 1.5])), ValueError, r"eps must lie in \(0, 1\) everywhere"),
    (lambda: min_dim(10, 0.5, bound="sklearn"), ValueError, r"bound must be one of \('dasgupta-gupta', 'rule-of-thumb'\), got 'sklearn'"),
    (lambda: projection(10, 0), ValueError, r"k must be an integer >= 1, got 0"),
    (lambda: projection(10, 3, kind="fourier"), ValueError, r"kind must be one of \('gaussian', 'orthogonal', 'sparse'\), got 'fourier'"),
    (lambda: projection(10, 20, kind="orthogonal"), ValueError, r"orthogonal projections need k <= d_in, got k=20, d_in=10"),
    (lambda: projection(10, 3, kind="sparse", density=0.0), ValueError, r"density must lie in \(0, 1\], got 0.0"),
    (lambda: projection(10, 3, density=0.5), ValueError, r"density is only used by kind='sparse', got kind='gaussian'"),
    (lambda: distortion(np.zeros((3, 2)), np.zeros((3, 2))), ValueError, r"x has coinciding points"),
    (lambda: distortion(np.eye(3), np.eye(2)), ValueError, r"x and y must hold the same points"),
    (lambda: linformer_attention(X, X, X, E=np.eye(6), F=np.eye(5, 6)), ValueError, r"E and F must project to the same k, got E.shape \(6, 6\) and F.shape \(5, 6\)"),
    (lambda: linformer_attention(X, X, X, E=np.ones(6), F=np.ones(6)), ValueError, r"E must have shape \(\.\.\., k, L\) with ndim >= 2, got shape \(6,\)"),
    (lambda: linformer_attention(X, X, X, E=np.eye(6, dtype=int), F=np.eye(6)), TypeError, r"E must have a floating dtype"),
    (lambda: linformer_attention(X, X, X, E=np.ones((2, 6, 6)), F=np.ones((3, 6, 6))), ValueError, r"leading \(batch\) axes must broadcast together"),
    (lambda: projections(10, 3, sharing="all"), ValueError, r"sharing must be one of 'none', 'headwise', 'key-value', 'layerwise', got 'all'"),
    (lambda: parameter_count(10, 3, heads=0), ValueError, r"heads must be an integer >= 1, got 0"),
    (lambda: lowrank_context(X, X, 0), ValueError, r"kdim must be an integer >= 1, got 0"),
    (lambda: singular_values(np.ones(3)), ValueError, r"p must have shape \(\.\.\., n, m\) with ndim >= 2, got shape \(3,\)"),
    (lambda: effective_rank(np.array([-1.0, 2.0])), ValueError, r"s must be non-negative \(singular values\), got an array of shape \(2,\) and dtype float64 with minimum -1.0"),
    (lambda: energy_at(np.ones(3), -1), ValueError, r"k must be an integer >= 0 and <= 3, got -1"),
]
# fmt: on


@pytest.mark.parametrize(("call", "error", "fragment"), BAD_INPUTS)
def test_bad_inputs_are_rejected(call, error, fragment):
    with pytest.raises(error, match=fragment):
        call()
