"""Bad inputs to refattn.sparse_transformer: each names the argument, the value and the domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.sparse_transformer import (
    SparseTransformerWeights,
    check_pattern_options,
    sparse_transformer_attention,
    sparse_transformer_pattern,
    two_hop_reach,
)

G = np.random.default_rng(0)
Q, K, V = (G.standard_normal((8, 3)) for _ in range(3))
NAN = Q.copy()
NAN[2, 1] = np.nan
INF = K.copy()
INF[0, 0] = np.inf
EYE = np.eye(4, dtype=bool)
ATT, PAT, OPT, HOP = (
    sparse_transformer_attention,
    sparse_transformer_pattern,
    check_pattern_options,
    two_hop_reach,
)

# fmt: off
CASES = [
    Bad("att-q-none", ATT, None, K, V, stride=2, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("att-k-list", ATT, Q, [[1.0]], V, stride=2, raises=TypeError, arg="k", match=r"got list"),
    Bad("att-v-nan", ATT, Q, K, NAN, stride=2, raises=ValueError, arg="v", match=r"finite"),
    Bad("att-k-inf", ATT, Q, INF, V, stride=2, raises=ValueError, arg="k", match=r"finite"),
    Bad("att-q-int", ATT, Q.astype(int), K, V, stride=2, raises=TypeError, arg="q", match=r"floating dtype.*int64"),
    Bad("att-q-f16", ATT, Q.astype(np.float16), K, V, stride=2, raises=TypeError, arg="q", match=r"float16"),
    Bad("att-v-complex", ATT, Q, K, V.astype(complex), stride=2, raises=TypeError, arg="v", match=r"complex128"),
    Bad("att-q-1d", ATT, Q[0], K, V, stride=2, raises=ValueError, arg="q", match=r"ndim >= 2"),
    Bad("att-k-cross", ATT, Q, K[:5], V[:5], stride=2, raises=ValueError, arg="m = n", match=r"n = 8 and m = 5"),
    Bad("att-stride-zero", ATT, Q, K, V, stride=0, raises=ValueError, arg="stride", match=r">= 1, got 0"),
    Bad("att-stride-float", ATT, Q, K, V, stride=2.0, raises=TypeError, arg="stride", match=r"integer >= 1, got 2.0"),
    Bad("att-stride-bool", ATT, Q, K, V, stride=True, raises=TypeError, arg="stride", match=r"integer >= 1, got True"),
    Bad("att-stride-nan", ATT, Q, K, V, stride=float("nan"), raises=TypeError, arg="stride", match=r"got nan"),
    Bad("att-stride-tuple", ATT, Q, K, V, stride=(2,), raises=TypeError, arg="stride", match=r"got \(2,\)"),
    Bad("att-kind-typo", ATT, Q, K, V, kind="strided ", stride=2, raises=ValueError, arg="kind", match=r"'strided', 'fixed'.*did you mean 'strided'"),
    Bad("att-kind-array", ATT, Q, K, V, kind=np.ones(3), stride=2, raises=TypeError, arg="kind", match=r"'strided', 'fixed', got an array"),
    Bad("att-heads-typo", ATT, Q, K, V, heads="unoin", stride=2, raises=ValueError, arg="heads", match=r"'union', 'first', 'second'.*did you mean 'union'"),
    Bad("att-summary-strided", ATT, Q, K, V, stride=2, summary=1, raises=ValueError, arg="summary", match=r"only used with kind='fixed'"),
    Bad("att-summary-huge", ATT, Q, K, V, kind="fixed", stride=2, summary=10**30, raises=ValueError, arg="summary", match=r"\[1, stride\] = \[1, 2\]"),
    Bad("att-summary-float", ATT, Q, K, V, kind="fixed", stride=2, summary=1.0, raises=TypeError, arg="summary", match=r"integer >= 1, got 1.0"),
    Bad("att-scale-nan", ATT, Q, K, V, stride=2, scale=float("nan"), raises=ValueError, arg="scale", match=r"> 0 or None, got nan"),
    Bad("att-scale-zero", ATT, Q, K, V, stride=2, scale=0, raises=ValueError, arg="scale", match=r"> 0 or None, got 0"),
    Bad("att-causal-int", ATT, Q, K, V, stride=2, causal=1, raises=TypeError, arg="causal", match=r"True or False, got 1"),
    Bad("att-weights-str", ATT, Q, K, V, stride=2, return_weights="yes", raises=TypeError, arg="return_weights", match=r"True or False"),
    Bad("att-mask-2d", ATT, Q, K, V, stride=2, mask=np.ones((8, 8), bool), raises=ValueError, arg="mask", match=r"linear time"),
    Bad("att-mask-float", ATT, Q, K, V, stride=2, mask=np.ones((1, 8)), raises=TypeError, arg="mask", match=r"boolean array"),

    Bad("pat-n-zero", PAT, 0, stride=2, raises=ValueError, arg="n", match=r">= 1 and <= 32768, got 0"),
    Bad("pat-n-huge", PAT, 10**30, stride=2, raises=ValueError, arg="n", match=r"<= 32768, got 10{30}"),
    Bad("pat-n-float", PAT, 8.0, stride=2, raises=TypeError, arg="n", match=r"integer >= 1.*got 8.0"),
    Bad("pat-n-array", PAT, np.arange(3), stride=2, raises=TypeError, arg="n", match=r"got an array of shape \(3,\)"),
    Bad("pat-stride-neg", PAT, 8, stride=-1, raises=ValueError, arg="stride", match=r">= 1, got -1"),
    Bad("pat-kind-typo", PAT, 8, kind="fixd", stride=2, raises=ValueError, arg="kind", match=r"did you mean 'fixed'"),
    Bad("pat-heads-none", PAT, 8, stride=2, heads=None, raises=TypeError, arg="heads", match=r"got None"),
    Bad("pat-causal-str", PAT, 8, stride=2, causal="no", raises=TypeError, arg="causal", match=r"True or False, got 'no'"),
    Bad("pat-xp-typo", PAT, 8, stride=2, xp="nunpy", raises=ValueError, arg="xp", match=r"'numpy', 'cupy'.*got 'nunpy'"),
    Bad("pat-xp-list", PAT, 8, stride=2, xp=[1], raises=TypeError, arg="xp", match=r"got \[1\]"),

    Bad("opt-kind-int", OPT, 1, 2, None, "union", raises=TypeError, arg="kind", match=r"'strided', 'fixed', got 1"),
    Bad("opt-stride-none", OPT, "strided", None, None, "union", raises=TypeError, arg="stride", match=r"integer >= 1, got None"),
    Bad("opt-stride-inf", OPT, "strided", float("inf"), None, "union", raises=TypeError, arg="stride", match=r"got inf"),
    Bad("opt-summary-zero", OPT, "fixed", 4, 0, "union", raises=ValueError, arg="summary", match=r">= 1, got 0"),
    Bad("opt-summary-tuple", OPT, "fixed", 4, (1,), "union", raises=TypeError, arg="summary", match=r"got \(1,\)"),
    Bad("opt-heads-typo", OPT, "fixed", 4, 1, "scond", raises=ValueError, arg="heads", match=r"did you mean 'second'"),

    Bad("hop-first-none", HOP, None, EYE, raises=TypeError, arg="first", match=r"got None"),
    Bad("hop-second-list", HOP, EYE, [[True]], raises=TypeError, arg="second", match=r"got list"),
    Bad("hop-first-float", HOP, EYE.astype(float), EYE, raises=TypeError, arg="first", match=r"boolean array, got dtype float64"),
    Bad("hop-second-int", HOP, EYE, EYE.astype(int), raises=TypeError, arg="second", match=r"boolean array, got dtype int64"),
    Bad("hop-first-0d", HOP, np.array(True), EYE, raises=ValueError, arg="first", match=r"\(ndim 2\), got shape \(\)"),
    Bad("hop-first-1d", HOP, EYE[0], EYE, raises=ValueError, arg="first", match=r"shape \(n, n\) \(ndim 2\), got shape \(4,\)"),
    Bad("hop-second-not-square", HOP, EYE, EYE[:3], raises=ValueError, arg="second", match=r"square \(n, n\).*\(3, 4\)"),
    Bad("hop-shapes-differ", HOP, EYE, np.eye(5, dtype=bool), raises=ValueError, arg="first and second", match=r"\(4, 4\) and \(5, 5\)"),
]
# fmt: on

EXEMPT = {
    "refattn.sparse_transformer.SparseTransformerWeights": (
        "a result container built only by sparse_transformer_attention; to_dense takes no argument"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_are_accepted():
    want = sparse_transformer_attention(Q, K, V, kind="fixed", stride=3, summary=2)
    got = sparse_transformer_attention(
        Q, K, V, kind="fixed", stride=np.int64(3), summary=np.int32(2), causal=np.bool_(False)
    )
    np.testing.assert_array_equal(got, want)
    got = sparse_transformer_attention(
        Q, K, V, kind="fixed", stride=np.array(3), summary=np.array(2), scale=np.float32(3**-0.5)
    )
    np.testing.assert_allclose(got, want, rtol=1e-6)
    pattern = sparse_transformer_pattern(np.int64(8), stride=np.array(2), causal=np.bool_(True))
    assert (pattern == sparse_transformer_pattern(8, stride=2, causal=True)).all()
    assert check_pattern_options("fixed", np.uint8(4), np.int16(2), "first") == (
        "fixed",
        4,
        2,
        "first",
    )
    _, weights = sparse_transformer_attention(Q, K, V, stride=2, return_weights=np.bool_(True))
    assert isinstance(weights, SparseTransformerWeights) and weights.stride == 2
