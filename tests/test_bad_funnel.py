"""Bad inputs to refattn.funnel: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.funnel import funnel_attention, pool_last, pool_queries, pooled_length

_g = np.random.default_rng(0)
Q, K, V = (_g.standard_normal((7, 4)) for _ in range(3))
NAN, INF = Q.copy(), Q.copy()
NAN[3, 2] = np.nan
INF[6, 0] = -np.inf
HUGE32 = (Q * 1e20).astype(np.float32)  # finite, but q·k ≈ 1e40 overflows float32
FINITE = r"must contain only finite values, got NaN or inf"
NOT_ARRAY = r"must be a numpy or cupy array, got"
FLOAT_DTYPE = r"must have a floating dtype \(float32 or float64\), got"
INT1 = r"must be an integer >= 1, got"
BOOL = r"must be True or False, got"


def _attend(q=Q, k=K, v=V, **kwargs):
    return funnel_attention(q, k, v, **kwargs)


# fmt: off
CASES = [
    # funnel_attention(q, k, v, *, mask, causal, scale, return_weights, stride, keep_cls, ...)
    Bad("attention-q-none", _attend, q=None, raises=TypeError, arg="q", match=NOT_ARRAY + " None",
        target=funnel_attention),
    Bad("attention-k-list", _attend, k=K.tolist(), raises=TypeError, arg="k",
        match=NOT_ARRAY + " list", target=funnel_attention),
    Bad("attention-v-tuple", _attend, v=tuple(map(tuple, V)), raises=TypeError, arg="v",
        match=NOT_ARRAY + " tuple", target=funnel_attention),
    Bad("attention-q-1d", _attend, q=Q[0], raises=ValueError, arg="q",
        match=r"ndim >= 2, got shape \(4,\)", target=funnel_attention),
    Bad("attention-k-width", _attend, k=K[:, :3], raises=ValueError, arg="k",
        match=r"same last axis d", target=funnel_attention),
    Bad("attention-batch", _attend, q=np.ones((2, 7, 4)), k=np.ones((3, 7, 4)),
        raises=ValueError, arg="q", match=r"must broadcast together", target=funnel_attention),
    Bad("attention-q-int", _attend, q=Q.astype(int), raises=TypeError, arg="q",
        match=FLOAT_DTYPE + " int64", target=funnel_attention),
    Bad("attention-k-bool", _attend, k=K > 0, raises=TypeError, arg="k",
        match=FLOAT_DTYPE + " bool", target=funnel_attention),
    Bad("attention-v-f16", _attend, v=V.astype(np.float16), raises=TypeError, arg="v",
        match=FLOAT_DTYPE + " float16", target=funnel_attention),
    Bad("attention-q-complex", _attend, q=Q.astype(complex), raises=TypeError, arg="q",
        match=FLOAT_DTYPE + " complex128", target=funnel_attention),
    Bad("attention-v-object", _attend, v=V.astype(object), raises=TypeError, arg="v",
        match=FLOAT_DTYPE + " object", target=funnel_attention),
    Bad("attention-q-nan", _attend, q=NAN, raises=ValueError, arg="q", match=FINITE,
        target=funnel_attention),
    Bad("attention-k-inf", _attend, k=INF, raises=ValueError, arg="k", match=FINITE,
        target=funnel_attention),
    Bad("attention-v-nan", _attend, v=NAN, raises=ValueError, arg="v", match=FINITE,
        target=funnel_attention),
    Bad("attention-stride-zero", _attend, stride=0, raises=ValueError, arg="stride",
        match=INT1 + " 0", target=funnel_attention),
    Bad("attention-stride-float", _attend, stride=2.0, raises=TypeError, arg="stride",
        match=INT1 + " 2.0", target=funnel_attention),
    Bad("attention-stride-bool", _attend, stride=True, raises=TypeError, arg="stride",
        match=INT1 + " True", target=funnel_attention),
    Bad("attention-stride-nan", _attend, stride=float("nan"), raises=TypeError, arg="stride",
        match=INT1 + " nan", target=funnel_attention),
    Bad("attention-stride-tuple", _attend, stride=(2,), raises=TypeError, arg="stride",
        match=INT1 + r" \(2,\)", target=funnel_attention),
    Bad("attention-chunk-negative", _attend, chunk_size=-4, raises=ValueError, arg="chunk_size",
        match=INT1 + " -4", target=funnel_attention),
    Bad("attention-chunk-inf", _attend, chunk_size=float("inf"), raises=TypeError,
        arg="chunk_size", match=INT1 + " inf", target=funnel_attention),
    Bad("attention-keep-cls-int", _attend, keep_cls=1, raises=TypeError, arg="keep_cls",
        match=BOOL + " 1", target=funnel_attention),
    Bad("attention-keep-cls-str", _attend, keep_cls="no", raises=TypeError, arg="keep_cls",
        match=BOOL + " 'no'", target=funnel_attention),
    Bad("attention-causal-none", _attend, causal=None, raises=TypeError, arg="causal",
        match=BOOL + " None", target=funnel_attention),
    Bad("attention-return-weights-int", _attend, return_weights=0, raises=TypeError,
        arg="return_weights", match=BOOL + " 0", target=funnel_attention),
    Bad("attention-scale-negative", _attend, scale=-1.0, raises=ValueError, arg="scale",
        match=r"finite real number > 0 or None, got -1.0", target=funnel_attention),
    Bad("attention-scale-inf", _attend, scale=float("inf"), raises=ValueError, arg="scale",
        match=r"> 0 or None, got inf", target=funnel_attention),
    Bad("attention-scale-bool", _attend, scale=True, raises=TypeError, arg="scale",
        match=r"> 0 or None, got True", target=funnel_attention),
    Bad("attention-mask-query-axis", _attend, mask=np.ones((7, 7), bool), raises=ValueError,
        arg="mask", match=r"cannot apply a mask of shape \(7, 7\) with a query axis",
        target=funnel_attention),
    Bad("attention-mask-int", _attend, mask=np.ones((1, 7), int), raises=TypeError, arg="mask",
        match=r"must be a boolean array", target=funnel_attention),
    Bad("attention-qk-overflow", _attend, q=HUGE32, k=HUGE32, v=V.astype(np.float32),
        raises=FloatingPointError, arg="funnel_attention", match=r"q·k overflows float32",
        target=funnel_attention),
    Bad("attention-v-sum-overflow", _attend, v=np.full((7, 4), 1e308), raises=FloatingPointError,
        arg="funnel_attention", match=r"weighted sum of v overflows float64",
        target=funnel_attention),
    # pool_queries(x, *, stride, keep_cls)
    Bad("pool-x-none", pool_queries, None, raises=TypeError, arg="x", match=NOT_ARRAY + " None"),
    Bad("pool-x-list", pool_queries, [[1.0]], raises=TypeError, arg="x", match=NOT_ARRAY + " list"),
    Bad("pool-x-scalar", pool_queries, 1.0, raises=TypeError, arg="x", match=NOT_ARRAY + " float"),
    Bad("pool-x-1d", pool_queries, np.ones(4), raises=ValueError, arg="x",
        match=r"ndim >= 2, got shape \(4,\)"),
    Bad("pool-x-empty", pool_queries, np.ones((0, 3)), raises=ValueError, arg="x",
        match=r"n \(x.shape\[-2\]\) must be >= 1, got 0"),
    Bad("pool-x-int", pool_queries, np.ones((4, 2), int), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " int64"),
    Bad("pool-x-bool", pool_queries, np.ones((4, 2), bool), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " bool"),
    Bad("pool-x-f16", pool_queries, np.ones((4, 2), np.float16), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " float16"),
    Bad("pool-x-complex", pool_queries, np.ones((4, 2), complex), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " complex128"),
    Bad("pool-x-object", pool_queries, np.ones((4, 2), object), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " object"),
    Bad("pool-x-nan", pool_queries, NAN, raises=ValueError, arg="x", match=FINITE),
    Bad("pool-x-inf", pool_queries, INF, raises=ValueError, arg="x", match=FINITE),
    Bad("pool-stride-negative", pool_queries, Q, stride=-2, raises=ValueError, arg="stride",
        match=INT1 + " -2"),
    Bad("pool-stride-float", pool_queries, Q, stride=1.5, raises=TypeError, arg="stride",
        match=INT1 + " 1.5"),
    Bad("pool-keep-cls-none", pool_queries, Q, keep_cls=None, raises=TypeError, arg="keep_cls",
        match=BOOL + " None"),
    # pooled_length(n, *, stride, keep_cls)
    Bad("length-n-zero", pooled_length, 0, raises=ValueError, arg="n", match=INT1 + " 0"),
    Bad("length-n-float", pooled_length, 4.0, raises=TypeError, arg="n", match=INT1 + " 4.0"),
    Bad("length-n-none", pooled_length, None, raises=TypeError, arg="n", match=INT1 + " None"),
    Bad("length-n-bool", pooled_length, True, raises=TypeError, arg="n", match=INT1 + " True"),
    Bad("length-n-list", pooled_length, [4], raises=TypeError, arg="n", match=INT1 + r" \[4\]"),
    Bad("length-stride-zero", pooled_length, 4, stride=0, raises=ValueError, arg="stride",
        match=INT1 + " 0"),
    Bad("length-keep-cls-str", pooled_length, 4, keep_cls="yes", raises=TypeError,
        arg="keep_cls", match=BOOL + " 'yes'"),
    # pool_last(n, *, stride, keep_cls, xp)
    Bad("last-n-zero", pool_last, 0, raises=ValueError, arg="n", match=INT1 + " 0"),
    Bad("last-n-nan", pool_last, float("nan"), raises=TypeError, arg="n", match=INT1 + " nan"),
    Bad("last-n-huge", pool_last, 10**12, raises=ValueError, arg="n",
        match=r"would hold 500000000001 elements, more than the 2147483648"),
    Bad("last-stride-zero", pool_last, 6, stride=0, raises=ValueError, arg="stride",
        match=INT1 + " 0"),
    Bad("last-stride-bool", pool_last, 6, stride=False, raises=TypeError, arg="stride",
        match=INT1 + " False"),
    Bad("last-keep-cls-int", pool_last, 6, keep_cls=0, raises=TypeError, arg="keep_cls",
        match=BOOL + " 0"),
    Bad("last-xp-misspelled", pool_last, 6, xp="nunpy", raises=ValueError, arg="xp",
        match=r"got 'nunpy' \(did you mean 'numpy'\?\)"),
    Bad("last-xp-int", pool_last, 6, xp=3, raises=TypeError, arg="xp", match=r"got int 3"),
]
# fmt: on
EXEMPT = {
    "refattn.funnel.FunnelWeights": (
        "a result container built by funnel_attention; its one method, to_dense, takes no arguments"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_0d_arrays_are_accepted():
    base = funnel_attention(Q, K, V, stride=3, chunk_size=2, causal=True)
    for stride, chunk, keep in (
        (np.int64(3), np.int32(2), np.bool_(True)),
        (np.array(3), np.array(2), np.array(True)),
    ):
        out = funnel_attention(Q, K, V, stride=stride, chunk_size=chunk, keep_cls=keep, causal=True)
        np.testing.assert_array_equal(out, base)
        np.testing.assert_array_equal(pool_queries(Q, stride=stride), pool_queries(Q, stride=3))
        assert pooled_length(np.int64(7), stride=stride, keep_cls=keep) == 3
        assert pool_last(np.array(7), stride=stride).tolist() == [0, 3, 6]
    out = funnel_attention(Q, K, V, scale=np.float32(0.5))
    np.testing.assert_array_equal(out, funnel_attention(Q, K, V, scale=0.5))
