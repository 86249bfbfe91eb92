"""Bad inputs to refattn.performer: each names the argument, the value and the allowed domain."""

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn.performer import (
    elu_features,
    favor_attention,
    favor_dense,
    feature_map,
    lemma2_mse,
    linear_attention,
    linear_attention_recurrent,
    linear_dense,
    orthogonal_mse_reduction,
    per_feature_estimates,
    random_features,
    softmax_kernel_estimate,
)

X = np.ones((5, 3)) * 0.1
OMEGA = np.ones((4, 3)) * 0.5
OMEGA_NAN = OMEGA.copy()
OMEGA_NAN[1, 2] = np.nan
OMEGA_INF = OMEGA.copy()
OMEGA_INF[0, 0] = np.inf
X_NAN = X.copy()
X_NAN[2, 1] = np.nan
X_INF = X.copy()
X_INF[0, 0] = -np.inf
OMEGA_BIG = np.full((4, 3), 100.0)  # exp(ωᵀx − ‖x‖²/2) peaks at exp(‖ω‖²/2) = exp(15000)
BIG = np.full((5, 3), 1e200)  # finite, but ‖x‖² overflows float64
V_HUGE = np.full((5, 3), 1e308)  # finite, but Σ over 5 keys overflows float64
KINDS = r"'positive', 'hyperbolic', 'trig', 'relu'"
FINITE = r"must contain only finite values, got NaN or inf"

# fmt: off
CASES = [
    # random_features(m, d, *, orthogonal, norms, rng, xp, dtype)
    Bad("rf-m-zero", random_features, 0, 3, raises=ValueError, arg="m", match=r"an integer >= 1, got 0"),
    Bad("rf-m-none", random_features, None, 3, raises=TypeError, arg="m", match=r"an integer >= 1, got None"),
    Bad("rf-m-float", random_features, 4.0, 3, raises=TypeError, arg="m", match=r"an integer >= 1, got 4.0"),
    Bad("rf-m-bool", random_features, True, 3, raises=TypeError, arg="m", match=r"an integer >= 1, got True"),
    Bad("rf-m-nan", random_features, float("nan"), 3, raises=TypeError, arg="m", match=r"an integer >= 1, got nan"),
    Bad("rf-m-huge", random_features, 10**30, 3, raises=ValueError, arg="m", match=r"GiB of working memory \(7·m·d·8 bytes\), more than the .* GiB available"),
    Bad("rf-m-d-huge", random_features, 10**7, 10**7, raises=ValueError, arg="random_features", match=r"working memory .* available on numpy"),
    Bad("rf-d-negative", random_features, 4, -1, raises=ValueError, arg="d", match=r"an integer >= 1, got -1"),
    Bad("rf-d-inf", random_features, 4, float("inf"), raises=TypeError, arg="d", match=r"an integer >= 1, got inf"),
    Bad("rf-d-array", random_features, 4, np.array([3]), raises=TypeError, arg="d", match=r"an integer >= 1, got an array of shape \(1,\)"),
    Bad("rf-orthogonal-int", random_features, 4, 3, orthogonal=1, raises=TypeError, arg="orthogonal", match=r"True or False, got 1"),
    Bad("rf-orthogonal-str", random_features, 4, 3, orthogonal="yes", raises=TypeError, arg="orthogonal", match=r"True or False, got 'yes'"),
    Bad("rf-norms-misspelled", random_features, 4, 3, norms="sqrtd", raises=ValueError, arg="norms", match=r"one of 'chi', 'sqrt_d', got 'sqrtd' \(did you mean 'sqrt_d'\?\)"),
    Bad("rf-norms-none", random_features, 4, 3, norms=None, raises=TypeError, arg="norms", match=r"one of 'chi', 'sqrt_d', got None"),
    Bad("rf-dtype-int", random_features, 4, 3, dtype="int32", raises=TypeError, arg="dtype", match=r"one of float32, float64, got 'int32'"),
    Bad("rf-dtype-float16", random_features, 4, 3, dtype=np.float16, raises=TypeError, arg="dtype", match=r"one of float32, float64, got"),
    Bad("rf-dtype-complex", random_features, 4, 3, dtype=np.dtype("complex128"), raises=TypeError, arg="dtype", match=r"one of float32, float64, got dtype\('complex128'\)"),
    Bad("rf-rng-negative", random_features, 4, 3, rng=-1, raises=ValueError, arg="rng", match=r"non-negative int, got -1"),
    Bad("rf-rng-float", random_features, 4, 3, rng=0.5, raises=TypeError, arg="rng", match=r"None, a non-negative int or a Generator, got 0.5"),
    Bad("rf-xp-misspelled", random_features, 4, 3, xp="nunpy", raises=ValueError, arg="xp", match=r"None, 'numpy', 'cupy' or an array module, got 'nunpy'"),
    Bad("rf-xp-int", random_features, 4, 3, xp=3, raises=ValueError, arg="xp", match=r"None, 'numpy', 'cupy' or an array module, got 3"),

    # feature_map(x, omega, *, kind)
    Bad("fm-x-none", feature_map, None, OMEGA, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("fm-x-list", feature_map, [[0.1, 0.2, 0.3]], OMEGA, raises=TypeError, arg="x", match=r"numpy or cupy array, got list"),
    Bad("fm-x-0d", feature_map, np.array(1.0), OMEGA, raises=ValueError, arg="x", match=r"shape \(\.\.\., d\) with ndim >= 1, got shape \(\)"),
    Bad("fm-x-int", feature_map, np.ones((5, 3), int), OMEGA, raises=TypeError, arg="x", match=r"floating dtype \(float32 or float64\), got int64"),
    Bad("fm-x-float16", feature_map, X.astype(np.float16), OMEGA, raises=TypeError, arg="x", match=r"floating dtype .*got float16"),
    Bad("fm-x-complex", feature_map, X.astype(complex), OMEGA, raises=TypeError, arg="x", match=r"floating dtype .*got complex128"),
    Bad("fm-x-nan", feature_map, X_NAN, OMEGA, raises=ValueError, arg="x", match=FINITE),
    Bad("fm-x-inf", feature_map, X_INF, OMEGA, raises=ValueError, arg="x", match=FINITE),
    Bad("fm-omega-nan", feature_map, X, OMEGA_NAN, raises=ValueError, arg="omega", match=FINITE),
    Bad("fm-omega-inf", feature_map, X, OMEGA_INF, raises=ValueError, arg="omega", match=FINITE),
    Bad("fm-omega-1d", feature_map, X, np.ones(3), raises=ValueError, arg="omega", match=r"2-D array \(m, d\), got shape \(3,\)"),
    Bad("fm-omega-no-rows", feature_map, X, np.ones((0, 3)), raises=ValueError, arg="omega", match=r"at least one row \(m >= 1\), got shape \(0, 3\)"),
    Bad("fm-omega-wrong-d", feature_map, X, np.ones((4, 2)), raises=ValueError, arg="omega", match=r"last axis d = 3 as its second axis, got omega.shape \(4, 2\)"),
    Bad("fm-omega-bool", feature_map, X, np.ones((4, 3), bool), raises=TypeError, arg="omega", match=r"floating dtype .*got bool"),
    Bad("fm-omega-object", feature_map, X, OMEGA.astype(object), raises=TypeError, arg="omega", match=r"floating dtype .*got object"),
    Bad("fm-kind-misspelled", feature_map, X, OMEGA, kind="postive", raises=ValueError, arg="kind", match=KINDS + r", got 'postive' \(did you mean 'positive'\?\)"),
    Bad("fm-kind-int", feature_map, X, OMEGA, kind=1, raises=TypeError, arg="kind", match=KINDS + r", got 1"),
    Bad("fm-overflow-trig", feature_map, np.full((2, 3), 30.0), OMEGA, kind="trig", raises=FloatingPointError, arg="feature_map", match=r"NaN or inf from finite input: the unstabilised trig features exp\(‖x‖²/2\) overflowed float64"),

    # per_feature_estimates(x, y, omega, *, kind)
    Bad("pfe-y-none", per_feature_estimates, X, None, OMEGA, raises=TypeError, arg="y", match=r"numpy or cupy array, got None"),
    Bad("pfe-y-int", per_feature_estimates, X, np.ones((5, 3), int), OMEGA, raises=TypeError, arg="y", match=r"floating dtype .*got int64"),
    Bad("pfe-y-nan", per_feature_estimates, X, X_NAN, OMEGA, raises=ValueError, arg="y", match=FINITE),
    Bad("pfe-x-inf", per_feature_estimates, X_INF, X, OMEGA, raises=ValueError, arg="x", match=FINITE),
    Bad("pfe-omega-nan", per_feature_estimates, X, X, OMEGA_NAN, raises=ValueError, arg="omega", match=FINITE),
    Bad("pfe-y-wrong-d", per_feature_estimates, X, np.ones((5, 2)), OMEGA, raises=ValueError, arg="omega", match=r"last axis d = 2 as its second axis"),
    Bad("pfe-batch-mismatch", per_feature_estimates, X, np.ones((4, 3)), OMEGA, raises=ValueError, arg="x (5,)", match=r"must broadcast together, got x \(5,\), y \(4,\)"),
    Bad("pfe-kind", per_feature_estimates, X, X, OMEGA, kind="softmax", raises=ValueError, arg="kind", match=KINDS + r", got 'softmax'"),
    Bad("pfe-overflow", per_feature_estimates, np.full((5, 3), 100.0), X, OMEGA_BIG, kind="hyperbolic", raises=FloatingPointError, arg="per_feature_estimates", match=r"from finite input: the unstabilised hyperbolic features"),

    # softmax_kernel_estimate(x, y, omega, *, kind)
    Bad("ske-x-list", softmax_kernel_estimate, [0.1, 0.2, 0.3], X, OMEGA, raises=TypeError, arg="x", match=r"numpy or cupy array, got list"),
    Bad("ske-y-0d", softmax_kernel_estimate, X, np.array(0.5), OMEGA, raises=ValueError, arg="y", match=r"ndim >= 1, got shape \(\)"),
    Bad("ske-y-inf", softmax_kernel_estimate, X, X_INF, OMEGA, raises=ValueError, arg="y", match=FINITE),
    Bad("ske-omega-inf", softmax_kernel_estimate, X, X, OMEGA_INF, raises=ValueError, arg="omega", match=FINITE),
    Bad("ske-omega-none", softmax_kernel_estimate, X, X, None, raises=TypeError, arg="omega", match=r"numpy or cupy array, got None"),
    Bad("ske-kind-none", softmax_kernel_estimate, X, X, OMEGA, kind=None, raises=TypeError, arg="kind", match=KINDS + r", got None"),
    Bad("ske-overflow", softmax_kernel_estimate, np.full(3, 100.0), np.full(3, 0.1), OMEGA_BIG, raises=FloatingPointError, arg="softmax_kernel_estimate", match=r"from finite input: the unstabilised positive features"),

    # lemma2_mse(x, y, *, kind, m)
    Bad("l2-x-none", lemma2_mse, None, X, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("l2-y-int", lemma2_mse, X, np.ones((5, 3), int), raises=TypeError, arg="y", match=r"floating dtype .*got int64"),
    Bad("l2-x-complex", lemma2_mse, X.astype(complex), X, raises=TypeError, arg="x", match=r"floating dtype .*got complex128"),
    Bad("l2-x-nan", lemma2_mse, X_NAN, X, raises=ValueError, arg="x", match=FINITE),
    Bad("l2-y-inf", lemma2_mse, X, X_INF, raises=ValueError, arg="y", match=FINITE),
    Bad("l2-x-0d", lemma2_mse, np.array(0.5), X, raises=ValueError, arg="x", match=r"shape \(\.\.\., d\) with ndim >= 1, got shape \(\)"),
    Bad("l2-d-mismatch", lemma2_mse, X, np.ones((5, 2)), raises=ValueError, arg="y", match=r"same last axis d as x, got x.shape \(5, 3\) and y.shape \(5, 2\)"),
    Bad("l2-batch-mismatch", lemma2_mse, X, np.ones((4, 3)), raises=ValueError, arg="x (5,)", match=r"must broadcast together"),
    Bad("l2-kind-relu", lemma2_mse, X, X, kind="relu", raises=ValueError, arg="kind", match=r"one of 'positive', 'hyperbolic', 'trig', got 'relu'"),
    Bad("l2-m-zero", lemma2_mse, X, X, m=0, raises=ValueError, arg="m", match=r"an integer >= 1, got 0"),
    Bad("l2-m-float", lemma2_mse, X, X, m=2.0, raises=TypeError, arg="m", match=r"an integer >= 1, got 2.0"),
    Bad("l2-m-bool", lemma2_mse, X, X, m=True, raises=TypeError, arg="m", match=r"an integer >= 1, got True"),
    Bad("l2-overflow", lemma2_mse, np.full(4, 30.0), np.full(4, -30.0), kind="trig", raises=FloatingPointError, arg="lemma2_mse", match=r"the trig MSE exceeds the largest float64"),

    # orthogonal_mse_reduction(x, y, *, m, d)
    Bad("omr-x-list", orthogonal_mse_reduction, [0.1, 0.2], X, m=2, d=3, raises=TypeError, arg="x", match=r"numpy or cupy array, got list"),
    Bad("omr-y-nan", orthogonal_mse_reduction, X, X_NAN, m=2, d=3, raises=ValueError, arg="y", match=FINITE),
    Bad("omr-y-bool", orthogonal_mse_reduction, X, X > 0, m=2, d=3, raises=TypeError, arg="y", match=r"floating dtype .*got bool"),
    Bad("omr-m-zero", orthogonal_mse_reduction, X, X, m=0, d=3, raises=ValueError, arg="m", match=r"an integer >= 1, got 0"),
    Bad("omr-m-none", orthogonal_mse_reduction, X, X, m=None, d=3, raises=TypeError, arg="m", match=r"an integer >= 1, got None"),
    Bad("omr-d-below-m", orthogonal_mse_reduction, X, X, m=8, d=4, raises=ValueError, arg="d", match=r"an integer >= 8, got 4"),
    Bad("omr-d-nan", orthogonal_mse_reduction, X, X, m=2, d=float("nan"), raises=TypeError, arg="d", match=r"an integer >= 2, got nan"),
    Bad("omr-d-not-the-dimension", orthogonal_mse_reduction, np.ones(4), np.ones(4), m=2, d=8, raises=ValueError, arg="d", match=r"the dimension of x and y \(their last axis, 4\), got 8"),
    Bad("l2-huge-positive", lemma2_mse, np.full(4, 1e200), np.full(4, 1e200), raises=FloatingPointError, arg="lemma2_mse", match=r"the positive MSE exceeds the largest float64"),
    Bad("omr-overflow", orthogonal_mse_reduction, np.full(4, 20.0), np.full(4, 20.0), m=2, d=4, raises=FloatingPointError, arg="orthogonal_mse_reduction", match=r"the reduction exceeds the largest float64"),

    # favor_attention(q, k, v, *, mask, causal, scale, return_weights, omega, kind, chunk_size)
    Bad("favor-omega-missing", favor_attention, X, X, X, raises=TypeError, arg="omega", match=r"needs omega=, an \(M, d\) array"),
    Bad("favor-omega-positional", favor_attention, X, X, X, OMEGA, raises=TypeError, arg="omega", match=r"takes omega as a keyword argument"),
    Bad("favor-omega-list", favor_attention, X, X, X, omega=[[0.5] * 3] * 4, raises=TypeError, arg="omega", match=r"numpy or cupy array, got list"),
    Bad("favor-omega-nan", favor_attention, X, X, X, omega=OMEGA_NAN, raises=ValueError, arg="omega", match=FINITE),
    Bad("favor-omega-inf", favor_attention, X, X, X, omega=OMEGA_INF, raises=ValueError, arg="omega", match=FINITE),
    Bad("favor-omega-int", favor_attention, X, X, X, omega=np.ones((4, 3), int), raises=TypeError, arg="omega", match=r"floating dtype .*got int64"),
    Bad("favor-omega-wrong-d", favor_attention, X, X, X, omega=np.ones((4, 2)), raises=ValueError, arg="omega", match=r"last axis d = 3 as its second axis"),
    Bad("favor-q-none", favor_attention, None, X, X, omega=OMEGA, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("favor-k-nan", favor_attention, X, X_NAN, X, omega=OMEGA, raises=ValueError, arg="k", match=FINITE),
    Bad("favor-v-inf", favor_attention, X, X, X_INF, omega=OMEGA, raises=ValueError, arg="v", match=FINITE),
    Bad("favor-v-float16", favor_attention, X, X, X.astype(np.float16), omega=OMEGA, raises=TypeError, arg="v", match=r"floating dtype .*got float16"),
    Bad("favor-k-wrong-d", favor_attention, X, np.ones((5, 2)), X, omega=OMEGA, raises=ValueError, arg="k", match=r"same last axis d as q"),
    Bad("favor-general-mask", favor_attention, X, X, X, omega=OMEGA, mask=np.ones((5, 5), bool), raises=ValueError, arg="mask", match=r"cannot be applied in linear time"),
    Bad("favor-kind", favor_attention, X, X, X, omega=OMEGA, kind="softmax", raises=ValueError, arg="kind", match=KINDS + r", got 'softmax'"),
    Bad("favor-causal-str", favor_attention, X, X, X, omega=OMEGA, causal="yes", raises=TypeError, arg="causal", match=r"True or False, got 'yes'"),
    Bad("favor-scale-nan", favor_attention, X, X, X, omega=OMEGA, scale=float("nan"), raises=ValueError, arg="scale", match=r"finite real number > 0 or None, got nan"),
    Bad("favor-scale-zero", favor_attention, X, X, X, omega=OMEGA, scale=0.0, raises=ValueError, arg="scale", match=r"finite real number > 0 or None, got 0.0"),
    Bad("favor-return-weights-int", favor_attention, X, X, X, omega=OMEGA, return_weights=1, raises=TypeError, arg="return_weights", match=r"True or False, got 1"),
    Bad("favor-chunk-zero", favor_attention, X, X, X, omega=OMEGA, chunk_size=0, raises=ValueError, arg="chunk_size", match=r"an integer >= 1, got 0"),
    Bad("favor-chunk-float", favor_attention, X, X, X, omega=OMEGA, chunk_size=2.5, raises=TypeError, arg="chunk_size", match=r"an integer >= 1, got 2.5"),
    Bad("favor-huge-q", favor_attention, BIG, X, X, omega=OMEGA, raises=FloatingPointError, arg="favor_attention", match=r"NaN or inf from finite input: .*overflowed"),
    Bad("favor-huge-v", favor_attention, X, X, V_HUGE, omega=OMEGA, raises=FloatingPointError, arg="favor_attention", match=r"φ\(K\)ᵀV overflowed \(values too large\)"),
    Bad("favor-huge-v-causal", favor_attention, X, X, V_HUGE, omega=OMEGA, causal=True, raises=FloatingPointError, arg="favor_attention", match=r"from finite input"),

    # favor_dense(q, k, v, *, omega, kind, causal, scale)
    Bad("fd-omega-missing", favor_dense, X, X, X, raises=TypeError, arg="omega", match=r"takes omega as a keyword argument"),
    Bad("fd-omega-nan", favor_dense, X, X, X, omega=OMEGA_NAN, raises=ValueError, arg="omega", match=FINITE),
    Bad("fd-omega-inf", favor_dense, X, X, X, omega=OMEGA_INF, raises=ValueError, arg="omega", match=FINITE),
    Bad("fd-q-int", favor_dense, np.ones((5, 3), int), X, X, omega=OMEGA, raises=TypeError, arg="q", match=r"floating dtype .*got int64"),
    Bad("fd-v-rows", favor_dense, X, X, np.ones((4, 3)), omega=OMEGA, raises=ValueError, arg="v", match=r"as many rows m as k"),
    Bad("fd-kind", favor_dense, X, X, X, omega=OMEGA, kind="cos", raises=ValueError, arg="kind", match=KINDS + r", got 'cos'"),
    Bad("fd-scale-bool", favor_dense, X, X, X, omega=OMEGA, scale=True, raises=TypeError, arg="scale", match=r"finite real number > 0 or None, got True"),
    Bad("fd-overflow-trig", favor_dense, np.full((5, 3), 60.0), X, X, omega=OMEGA, kind="trig", raises=FloatingPointError, arg="favor_dense", match=r"the unstabilised trig features exp\(‖x‖²/2\) overflowed"),

    # elu_features(x)
    Bad("elu-none", elu_features, None, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("elu-list", elu_features, [1.0, 2.0], raises=TypeError, arg="x", match=r"numpy or cupy array, got list"),
    Bad("elu-float", elu_features, 1.0, raises=TypeError, arg="x", match=r"numpy or cupy array, got float 1.0"),
    Bad("elu-int", elu_features, np.ones(3, int), raises=TypeError, arg="x", match=r"floating dtype \(float32 or float64\), got int64"),
    Bad("elu-bool", elu_features, np.ones(3, bool), raises=TypeError, arg="x", match=r"floating dtype .*got bool"),
    Bad("elu-nan", elu_features, X_NAN, raises=ValueError, arg="x", match=FINITE),
    Bad("elu-inf", elu_features, X_INF, raises=ValueError, arg="x", match=FINITE),

    # linear_attention(q, k, v, *, mask, causal, scale, return_weights, chunk_size)
    Bad("lin-q-list", linear_attention, [[1.0]], X, X, raises=TypeError, arg="q", match=r"numpy or cupy array, got list"),
    Bad("lin-v-nan", linear_attention, X, X, X_NAN, raises=ValueError, arg="v", match=FINITE),
    Bad("lin-k-1d", linear_attention, X, np.ones(3), X, raises=ValueError, arg="k", match=r"shape \(\.\.\., m, d\) with ndim >= 2, got shape \(3,\)"),
    Bad("lin-omega", linear_attention, X, X, X, omega=OMEGA, raises=TypeError, arg="omega", match=r"unexpected keyword argument"),
    Bad("lin-chunk-huge-negative", linear_attention, X, X, X, chunk_size=-(10**30), raises=ValueError, arg="chunk_size", match=r"an integer >= 1, got -1000"),
    Bad("lin-mask-int", linear_attention, X, X, X, mask=np.ones((1, 5), int), raises=TypeError, arg="mask", match=r"boolean array"),
    Bad("lin-huge-v", linear_attention, X, X, V_HUGE, raises=FloatingPointError, arg="linear_attention", match=r"φ\(K\)ᵀV overflowed float64"),

    # linear_attention_recurrent(q, k, v, *, mask, scale)
    Bad("linrec-q-none", linear_attention_recurrent, None, X, X, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("linrec-k-inf", linear_attention_recurrent, X, X_INF, X, raises=ValueError, arg="k", match=FINITE),
    Bad("linrec-v-complex", linear_attention_recurrent, X, X, X.astype(complex), raises=TypeError, arg="v", match=r"floating dtype .*got complex128"),
    Bad("linrec-scale-neg", linear_attention_recurrent, X, X, X, scale=-1.0, raises=ValueError, arg="scale", match=r"finite real number > 0 or None, got -1.0"),
    Bad("linrec-general-mask", linear_attention_recurrent, X, X, X, mask=np.ones((5, 5), bool), raises=ValueError, arg="mask", match=r"cannot be applied in linear time"),
    Bad("linrec-causal", linear_attention_recurrent, X, X, X, causal=False, raises=TypeError, arg="causal", match=r"unexpected keyword argument"),
    Bad("linrec-huge-v", linear_attention_recurrent, X, X, V_HUGE, raises=FloatingPointError, arg="linear_attention_recurrent", match=r"overflowed float64"),

    # linear_dense(q, k, v, *, mask, causal, scale)
    Bad("lind-v-object", linear_dense, X, X, X.astype(object), raises=TypeError, arg="v", match=r"floating dtype .*got object"),
    Bad("lind-q-nan", linear_dense, X_NAN, X, X, raises=ValueError, arg="q", match=FINITE),
    Bad("lind-mask-shape", linear_dense, X, X, X, mask=np.ones((4, 5), bool), raises=ValueError, arg="mask", match=r"broadcastable to \(\.\.\., n, m\)"),
    Bad("lind-causal-int", linear_dense, X, X, X, causal=1, raises=TypeError, arg="causal", match=r"True or False, got 1"),
    Bad("lind-scale-inf", linear_dense, X, X, X, scale=float("inf"), raises=ValueError, arg="scale", match=r"finite real number > 0 or None, got inf"),
    Bad("lind-huge-v", linear_dense, X, X, V_HUGE, raises=FloatingPointError, arg="linear_dense", match=r"overflowed float64"),
]
# fmt: on

EXEMPT = {
    "refattn.performer.FavorWeights": (
        "a result container built only by favor_attention/linear_attention; "
        "its one method, to_dense(), takes no arguments"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    with np.errstate(over="ignore", invalid="ignore"):  # the overflow cases warn on the way
        case.check()


# --- the reverse: valid NumPy scalar types are accepted ----------------------------------------


def test_numpy_scalars_and_dtypes_are_accepted():
    a = random_features(np.int64(6), np.int32(3), orthogonal=np.bool_(True), rng=np.int64(0))
    b = random_features(6, 3, orthogonal=True, rng=0)
    assert np.array_equal(a, b)
    assert random_features(4, 3, rng=0, dtype=np.float32).dtype == np.float32
    assert random_features(4, 3, rng=0, dtype=np.dtype("float32")).dtype == np.float32
    assert random_features(np.array(4), np.array(3), rng=0).shape == (4, 3)  # 0-d arrays
    out = favor_attention(
        X, X, X, omega=OMEGA, chunk_size=np.int64(2), causal=np.bool_(True), scale=np.float32(0.5)
    )
    assert np.array_equal(
        out, favor_attention(X, X, X, omega=OMEGA, chunk_size=2, causal=True, scale=0.5)
    )
    assert lemma2_mse(X, X, m=np.int64(3)) == pytest.approx(lemma2_mse(X, X, m=3))
    assert np.array_equal(
        orthogonal_mse_reduction(X, X, m=np.int16(2), d=np.array(3)),
        orthogonal_mse_reduction(X, X, m=2, d=3),
    )
    assert np.array_equal(
        linear_attention(X, X, X, chunk_size=np.uint8(2), causal=True),
        linear_attention(X, X, X, chunk_size=2, causal=True),
    )
