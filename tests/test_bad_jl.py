"""Bad inputs to refattn.jl: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.jl import distortion, min_dim, pair_failure_bound, pairwise_sq_distances, projection

P = np.arange(12.0).reshape(4, 3)  # four distinct points in R³
P_NAN = P.copy()
P_NAN[1, 1] = np.nan
P_INF = P.copy()
P_INF[3, 0] = np.inf
FINITE = r"must contain only finite values, got NaN or inf"
EPS = r"must lie in \(0, 1\), got "

# fmt: off
CASES = [
    # min_dim(n_points, eps, *, bound)
    Bad("md-n-none", min_dim, None, 0.5, raises=TypeError, arg="n_points", match=r"an integer >= 1, got None"),
    Bad("md-n-zero", min_dim, 0, 0.5, raises=ValueError, arg="n_points", match=r">= 1, got 0"),
    Bad("md-n-bool", min_dim, True, 0.5, raises=TypeError, arg="n_points", match=r"an integer >= 1, got True"),
    Bad("md-n-nan", min_dim, float("nan"), 0.5, raises=TypeError, arg="n_points", match=r"an integer >= 1, got nan"),
    Bad("md-n-inf", min_dim, float("inf"), 0.5, raises=TypeError, arg="n_points", match=r"an integer >= 1, got inf"),
    Bad("md-n-str", min_dim, "100", 0.5, raises=TypeError, arg="n_points", match=r"an integer >= 1, got '100'"),
    Bad("md-n-array-nan", min_dim, np.array([10.0, np.nan]), 0.5, raises=ValueError, arg="n_points", match=FINITE),
    Bad("md-n-array-fraction", min_dim, np.array([10.5]), 0.5, raises=ValueError, arg="n_points", match=r">= 1 everywhere \(whole numbers\), got an array of shape \(1,\)"),
    Bad("md-n-array-bool", min_dim, np.array([True]), 0.5, raises=TypeError, arg="n_points", match=r"real array .*got dtype bool"),
    Bad("md-eps-none", min_dim, 100, None, raises=TypeError, arg="eps", match=r"a real number in \(0, 1\), got None"),
    Bad("md-eps-nan", min_dim, 100, float("nan"), raises=ValueError, arg="eps", match=EPS + "nan"),
    Bad("md-eps-one", min_dim, 100, 1.0, raises=ValueError, arg="eps", match=EPS + r"1\.0"),
    Bad("md-eps-bool", min_dim, 100, True, raises=TypeError, arg="eps", match=r"a real number in \(0, 1\), got True"),
    Bad("md-eps-tiny", min_dim, 100, 1e-300, raises=FloatingPointError, arg="eps", match=r"beyond the float range; eps is too small"),
    Bad("md-eps-array-tiny", min_dim, 100, np.array([0.5, 1e-200]), raises=FloatingPointError, arg="eps", match=r"beyond the int64 range .*smallest eps 1e-200"),
    Bad("md-eps-array-inf", min_dim, 100, np.array([0.5, np.inf]), raises=ValueError, arg="eps", match=FINITE),
    Bad("md-eps-array-out", min_dim, 100, np.array([0.5, 1.5]), raises=ValueError, arg="eps", match=r"\(0, 1\) everywhere, got an array .* values in \[0\.5, 1\.5\]"),
    Bad("md-shapes", min_dim, np.array([[10, 20]]), np.array([0.1, 0.2, 0.3]), raises=ValueError, arg="n_points and eps", match=r"broadcast together, got shapes \(\(1, 2\), \(3,\)\)"),
    Bad("md-bound-misspelled", min_dim, 100, 0.5, bound="dasgupta", raises=ValueError, arg="bound", match=r"\('dasgupta-gupta', 'rule-of-thumb'\), got 'dasgupta' \(did you mean 'dasgupta-gupta'\?\)"),
    Bad("md-bound-none", min_dim, 100, 0.5, bound=None, raises=TypeError, arg="bound", match=r"one of .*got None"),

    # pair_failure_bound(k, eps)
    Bad("pfb-k-zero", pair_failure_bound, 0, 0.5, raises=ValueError, arg="k", match=r"an integer >= 1, got 0"),
    Bad("pfb-k-float", pair_failure_bound, 96.0, 0.5, raises=TypeError, arg="k", match=r"an integer >= 1, got 96.0"),
    Bad("pfb-k-bool", pair_failure_bound, True, 0.5, raises=TypeError, arg="k", match=r"an integer >= 1, got True"),
    Bad("pfb-eps-none", pair_failure_bound, 96, None, raises=TypeError, arg="eps", match=r"a real number in \(0, 1\), got None"),
    Bad("pfb-eps-str", pair_failure_bound, 96, "0.5", raises=TypeError, arg="eps", match=r"a real number in \(0, 1\), got '0.5'"),
    Bad("pfb-eps-inf", pair_failure_bound, 96, float("inf"), raises=ValueError, arg="eps", match=EPS + "inf"),
    Bad("pfb-eps-zero", pair_failure_bound, 96, 0.0, raises=ValueError, arg="eps", match=EPS + r"0\.0"),
    Bad("pfb-eps-array", pair_failure_bound, 96, np.array([0.5]), raises=TypeError, arg="eps", match=r"a real number in \(0, 1\), got an array of shape \(1,\)"),

    # projection(d_in, k, *, kind, density, rng, xp, dtype)
    Bad("proj-d-zero", projection, 0, 3, raises=ValueError, arg="d_in", match=r"an integer >= 1, got 0"),
    Bad("proj-d-none", projection, None, 3, raises=TypeError, arg="d_in", match=r"an integer >= 1, got None"),
    Bad("proj-k-float", projection, 10, 2.0, raises=TypeError, arg="k", match=r"an integer >= 1, got 2.0"),
    Bad("proj-huge", projection, 10**30, 3, raises=ValueError, arg="d_in", match=r"GiB of working memory \(4·k·d_in·8 bytes\), more than the .* GiB available"),
    Bad("proj-k-over-d", projection, 10, 20, kind="orthogonal", raises=ValueError, arg="k", match=r"k <= d_in, got k=20, d_in=10"),
    Bad("proj-kind-misspelled", projection, 10, 3, kind="gausian", raises=ValueError, arg="kind", match=r"\('gaussian', 'orthogonal', 'sparse'\), got 'gausian' \(did you mean 'gaussian'\?\)"),
    Bad("proj-kind-int", projection, 10, 3, kind=0, raises=TypeError, arg="kind", match=r"one of .*got 0"),
    Bad("proj-density-zero", projection, 10, 3, kind="sparse", density=0.0, raises=ValueError, arg="density", match=r"must lie in \(0, 1\], got 0.0"),
    Bad("proj-density-nan", projection, 10, 3, kind="sparse", density=float("nan"), raises=ValueError, arg="density", match=r"must lie in \(0, 1\], got nan"),
    Bad("proj-density-bool", projection, 10, 3, kind="sparse", density=True, raises=TypeError, arg="density", match=r"a real number in \(0, 1\], got True"),
    Bad("proj-density-str", projection, 10, 3, kind="sparse", density="0.1", raises=TypeError, arg="density", match=r"a real number in \(0, 1\], got '0.1'"),
    Bad("proj-density-too-small-f32", projection, 10, 3, kind="sparse", density=1e-300, dtype="float32", raises=ValueError, arg="density", match=r"fit in float32, got density=1e-300"),
    Bad("proj-density-not-sparse", projection, 10, 3, density=0.5, raises=ValueError, arg="density", match=r"only used by kind='sparse', got kind='gaussian'"),
    Bad("proj-dtype-int", projection, 10, 3, dtype="int32", raises=TypeError, arg="dtype", match=r"one of float32, float64, got 'int32'"),
    Bad("proj-dtype-float16", projection, 10, 3, dtype=np.float16, raises=TypeError, arg="dtype", match=r"one of float32, float64"),
    Bad("proj-rng-negative", projection, 10, 3, rng=-2, raises=ValueError, arg="rng", match=r"non-negative int, got -2"),
    Bad("proj-rng-array", projection, 10, 3, rng=np.array([1, 2]), raises=TypeError, arg="rng", match=r"None, a non-negative int or a Generator"),
    Bad("proj-xp-str", projection, 10, 3, xp="torch", raises=ValueError, arg="xp", match=r"None, 'numpy', 'cupy' or an array module, got 'torch'"),

    # pairwise_sq_distances(x)
    Bad("psd-none", pairwise_sq_distances, None, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("psd-list", pairwise_sq_distances, [[0.0, 1.0]], raises=TypeError, arg="x", match=r"numpy or cupy array, got list"),
    Bad("psd-1d", pairwise_sq_distances, np.ones(3), raises=ValueError, arg="x", match=r"shape \(\.\.\., m, D\) with ndim >= 2, got shape \(3,\)"),
    Bad("psd-0d", pairwise_sq_distances, np.array(1.0), raises=ValueError, arg="x", match=r"ndim >= 2, got shape \(\)"),
    Bad("psd-int", pairwise_sq_distances, np.ones((3, 2), int), raises=TypeError, arg="x", match=r"floating dtype .*got int64"),
    Bad("psd-complex", pairwise_sq_distances, np.ones((3, 2), complex), raises=TypeError, arg="x", match=r"floating dtype .*got complex128"),
    Bad("psd-nan", pairwise_sq_distances, P_NAN, raises=ValueError, arg="x", match=FINITE),
    Bad("psd-inf", pairwise_sq_distances, P_INF, raises=ValueError, arg="x", match=FINITE),
    Bad("psd-overflow", pairwise_sq_distances, P * 1e160, raises=FloatingPointError, arg="pairwise_sq_distances", match=r"squared norm .* beyond the dtype's range"),

    # distortion(x, y)
    Bad("dist-x-none", distortion, None, P, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("dist-y-list", distortion, P, [[0.0]], raises=TypeError, arg="y", match=r"numpy or cupy array, got list"),
    Bad("dist-y-int", distortion, P, np.ones((4, 2), int), raises=TypeError, arg="y", match=r"floating dtype .*got int64"),
    Bad("dist-x-1d", distortion, np.ones(4), P, raises=ValueError, arg="x", match=r"ndim >= 2, got shape \(4,\)"),
    Bad("dist-x-nan", distortion, P_NAN, P, raises=ValueError, arg="x", match=FINITE),
    Bad("dist-y-nan", distortion, P, P_NAN, raises=ValueError, arg="y", match=FINITE),
    Bad("dist-y-inf", distortion, P, P_INF, raises=ValueError, arg="y", match=FINITE),
    Bad("dist-points-mismatch", distortion, P, np.ones((3, 2)), raises=ValueError, arg="x and y", match=r"same points \(\.\.\., m, ·\), got shapes \(4, 3\) and \(3, 2\)"),
    Bad("dist-coinciding", distortion, np.zeros((3, 2)), np.ones((3, 2)), raises=ValueError, arg="x", match=r"coinciding points"),
    Bad("dist-overflow", distortion, P, P * 1e160, raises=FloatingPointError, arg="distortion", match=r"y: a squared norm"),
]
# fmt: on


@bad_input_params(CASES)
def test_bad_input(case):
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow cases warn on the way
        case.check()


# --- the reverse: valid NumPy scalar types are accepted ----------------------------------------


def test_numpy_scalars_and_dtypes_are_accepted():
    assert min_dim(np.int64(10**6), np.float32(0.5)) == min_dim(10**6, 0.5) == 664
    assert min_dim(np.array(10**6), np.array(0.5)) == 664  # 0-d arrays are scalars
    assert isinstance(min_dim(np.uint16(1000), 0.3), int)
    assert pair_failure_bound(np.int64(664), np.float64(0.5)) == pair_failure_bound(664, 0.5)
    a = projection(
        np.int64(20), np.int32(4), kind="sparse", density=np.float32(0.5), rng=np.int64(3)
    )
    assert np.array_equal(a, projection(20, 4, kind="sparse", density=0.5, rng=3))
    assert projection(20, 4, rng=0, dtype=np.float32).dtype == np.float32
    assert projection(20, 4, rng=0, dtype=np.dtype("float32")).dtype == np.float32
    assert np.array_equal(min_dim(np.array([10, 100], dtype=np.int32), 0.5), [111, 222])
