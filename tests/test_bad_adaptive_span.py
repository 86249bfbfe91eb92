"""Bad inputs to refattn.adaptive_span: each names the argument, the value and the domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.adaptive_span import (
    adaptive_span_attention,
    soft_mask,
    span_gradient,
    span_loss,
    span_reach,
)

_g = np.random.default_rng(0)
Q, K, V = (_g.standard_normal((6, 4)) for _ in range(3))
G = np.ones((6, 4))
D = np.arange(5.0)
NAN, INF = Q.copy(), Q.copy()
NAN[2, 1] = np.nan
INF[0, 3] = np.inf
HUGE32 = (Q * 1e20).astype(np.float32)  # finite, but q·k ≈ 1e40 overflows float32
FINITE = r"must contain only finite values, got NaN or inf"
SPAN = r"span must be a finite real >= 0, a sequence of them \(one per head\) or a float array"
RAMP = r"ramp must be a finite real number > 0, got"
NOT_ARRAY = r"must be a numpy or cupy array, got"
FLOAT_DTYPE = r"must have a floating dtype \(float32 or float64\), got"


def _attention_cases(name, func, *pre, **fixed):
    """The bad calls shared by the two functions of the calling convention."""
    g = (G,) if func is span_gradient else ()

    def call(q=Q, k=K, v=V, **kwargs):
        return func(q, k, v, *g, **{**fixed, **kwargs})

    cases = [
        Bad(f"{name}-q-none", call, q=None, raises=TypeError, arg="q", match=NOT_ARRAY + " None"),
        Bad(f"{name}-k-list", call, k=K.tolist(), raises=TypeError, arg="k", match=NOT_ARRAY),
        Bad(f"{name}-v-scalar", call, v=1.0, raises=TypeError, arg="v", match=NOT_ARRAY),
        Bad(f"{name}-q-1d", call, q=Q[0], raises=ValueError, arg="q", match=r"ndim >= 2"),
        Bad(f"{name}-k-d", call, k=K[:, :3], raises=ValueError, arg="k", match=r"same last axis d"),
        Bad(f"{name}-v-rows", call, v=V[:5], raises=ValueError, arg="v", match=r"as many rows m"),
        Bad(f"{name}-q-int", call, q=Q.astype(int), raises=TypeError, arg="q", match=FLOAT_DTYPE),
        Bad(f"{name}-k-bool", call, k=K > 0, raises=TypeError, arg="k", match=FLOAT_DTYPE),
        Bad(
            f"{name}-v-f16",
            call,
            v=V.astype(np.float16),
            raises=TypeError,
            arg="v",
            match=FLOAT_DTYPE + " float16",
        ),
        Bad(
            f"{name}-q-complex",
            call,
            q=Q.astype(complex),
            raises=TypeError,
            arg="q",
            match=FLOAT_DTYPE + " complex128",
        ),
        Bad(
            f"{name}-k-object",
            call,
            k=K.astype(object),
            raises=TypeError,
            arg="k",
            match=FLOAT_DTYPE + " object",
        ),
        Bad(f"{name}-q-nan", call, q=NAN, raises=ValueError, arg="q", match=FINITE),
        Bad(f"{name}-k-inf", call, k=INF, raises=ValueError, arg="k", match=FINITE),
        Bad(f"{name}-v-nan", call, v=NAN, raises=ValueError, arg="v", match=FINITE),
        Bad(
            f"{name}-span-nan",
            call,
            span=float("nan"),
            raises=ValueError,
            arg="span",
            match=SPAN + r".*got nan",
        ),
        Bad(
            f"{name}-span-inf",
            call,
            span=float("inf"),
            raises=ValueError,
            arg="span",
            match=SPAN + r".*got inf",
        ),
        Bad(
            f"{name}-span-negative",
            call,
            span=-1,
            raises=ValueError,
            arg="span",
            match=SPAN + r".*got -1",
        ),
        Bad(
            f"{name}-span-bool",
            call,
            span=True,
            raises=TypeError,
            arg="span",
            match=SPAN + r".*got True",
        ),
        Bad(
            f"{name}-span-none",
            call,
            span=None,
            raises=TypeError,
            arg="span",
            match=SPAN + r".*got None",
        ),
        Bad(
            f"{name}-span-str",
            call,
            span="2",
            raises=TypeError,
            arg="span",
            match=SPAN + r".*got '2'",
        ),
        Bad(
            f"{name}-span-array-nan",
            call,
            span=np.array([[np.nan]]),
            raises=ValueError,
            arg="span",
            match=FINITE,
        ),
        Bad(
            f"{name}-span-array-nan-unchecked",  # the band's width reads the span anyway
            call,
            span=np.array([[np.nan]]),
            check_finite=False,
            raises=ValueError,
            arg="span",
            match="^span " + FINITE,
        ),
        Bad(
            f"{name}-span-array-negative",
            call,
            span=np.array([[[2.0]], [[-0.5]]]),
            q=np.stack([Q, Q]),
            raises=ValueError,
            arg="span",
            match=SPAN + r".*got a negative value",
        ),
        Bad(
            f"{name}-span-array-empty",
            call,
            span=np.zeros((0, 1, 1)),
            raises=ValueError,
            arg="span",
            match=SPAN + r".*got an empty array of shape \(0, 1, 1\)",
        ),
        Bad(
            f"{name}-span-array-int",
            call,
            span=np.array([[2]]),
            raises=TypeError,
            arg="span",
            match=FLOAT_DTYPE + " int64",
        ),
        Bad(
            f"{name}-span-heads-mismatch",
            call,
            span=(1.0, 2.0, 3.0),
            q=np.stack([Q, Q]),
            raises=ValueError,
            arg="span",
            match=r"broadcast with the inputs' \(2,\), got shape \(3, 1, 1\)",
        ),
        Bad(f"{name}-ramp-zero", call, ramp=0, raises=ValueError, arg="ramp", match=RAMP + " 0"),
        Bad(
            f"{name}-ramp-negative",
            call,
            ramp=-2.0,
            raises=ValueError,
            arg="ramp",
            match=RAMP + r" -2.0",
        ),
        Bad(
            f"{name}-ramp-nan",
            call,
            ramp=float("nan"),
            raises=ValueError,
            arg="ramp",
            match=RAMP + " nan",
        ),
        Bad(
            f"{name}-ramp-inf",
            call,
            ramp=float("inf"),
            raises=ValueError,
            arg="ramp",
            match=RAMP + " inf",
        ),
        Bad(
            f"{name}-ramp-bool", call, ramp=True, raises=TypeError, arg="ramp", match=RAMP + " True"
        ),
        Bad(
            f"{name}-ramp-list",
            call,
            ramp=[2],
            raises=TypeError,
            arg="ramp",
            match=RAMP + r" \[2\]",
        ),
        Bad(
            f"{name}-scale-zero",
            call,
            scale=0.0,
            raises=ValueError,
            arg="scale",
            match=r"finite real number > 0 or None, got 0.0",
        ),
        Bad(
            f"{name}-scale-nan",
            call,
            scale=float("nan"),
            raises=ValueError,
            arg="scale",
            match=r"finite real number > 0 or None, got nan",
        ),
        Bad(
            f"{name}-causal-int",
            call,
            causal=1,
            raises=TypeError,
            arg="causal",
            match=r"must be True or False, got 1",
        ),
        Bad(
            f"{name}-mask-query-axis",
            call,
            mask=np.ones((6, 6), bool),
            raises=ValueError,
            arg="mask",
            match=r"cannot apply a mask of shape \(6, 6\) with a query axis",
        ),
        Bad(
            f"{name}-mask-float",
            call,
            mask=np.ones((1, 6)),
            raises=TypeError,
            arg="mask",
            match=r"must be a boolean array",
        ),
        Bad(
            f"{name}-mask-length",
            call,
            mask=np.ones((1, 5), bool),
            raises=ValueError,
            arg="mask",
            match=r"broadcastable to \(\.\.\., n, m\) = \(6, 6\), got shape \(1, 5\)",
        ),
        Bad(
            f"{name}-qk-overflow",
            call,
            q=HUGE32,
            k=HUGE32,
            v=V.astype(np.float32),
            raises=FloatingPointError,
            arg=name,
            match=r"q·k overflows float32",
        ),
    ]
    for case in cases:  # they count for func, called through call
        case.target = func
    return cases


# fmt: off
CASES = [
    *_attention_cases("adaptive_span_attention", adaptive_span_attention, span=2, ramp=2),
    Bad("attention-return-weights-int", adaptive_span_attention, Q, K, V, span=2,
        return_weights=1, raises=TypeError, arg="return_weights", match=r"True or False, got 1"),
    *_attention_cases("span_gradient", span_gradient, span=2, ramp=2),
    Bad("gradient-grad-out-none", span_gradient, Q, K, V, None, span=2, raises=TypeError,
        arg="grad_out", match=NOT_ARRAY + " None"),
    Bad("gradient-grad-out-list", span_gradient, Q, K, V, G.tolist(), span=2, raises=TypeError,
        arg="grad_out", match=NOT_ARRAY + " list"),
    Bad("gradient-grad-out-int", span_gradient, Q, K, V, G.astype(int), span=2, raises=TypeError,
        arg="grad_out", match=FLOAT_DTYPE + " int64"),
    Bad("gradient-grad-out-shape", span_gradient, Q, K, V, np.ones((5, 4)), span=2,
        raises=ValueError, arg="grad_out",
        match=r"output shape \(\.\.\., n, d_v\) = \(6, 4\), got shape \(5, 4\)"),
    Bad("gradient-grad-out-1d", span_gradient, Q, K, V, np.ones(4), span=2, raises=ValueError,
        arg="grad_out", match=r"ndim >= 2, got shape \(4,\)"),
    Bad("gradient-grad-out-nan", span_gradient, Q, K, V, NAN, span=2, raises=ValueError,
        arg="grad_out", match=FINITE),
    Bad("gradient-grad-out-inf", span_gradient, Q, K, V, INF, span=2, raises=ValueError,
        arg="grad_out", match=FINITE),
    Bad("gradient-overflows", span_gradient, Q, K, V * 1e300, G * 1e300, span=1.5, ramp=1,
        raises=FloatingPointError, arg="span_gradient", match=r"the gradient .* overflows float64"),
    # soft_mask(distance, *, span, ramp)
    Bad("soft-mask-distance-none", soft_mask, None, span=2, raises=TypeError, arg="distance",
        match=NOT_ARRAY + " None"),
    Bad("soft-mask-distance-list", soft_mask, [0.0, 1.0], span=2, raises=TypeError,
        arg="distance", match=NOT_ARRAY + r" list \[0.0, 1.0\]"),
    Bad("soft-mask-distance-bool", soft_mask, D > 1, span=2, raises=TypeError, arg="distance",
        match=r"must be a real array \(float32, float64 or integer\), got dtype bool"),
    Bad("soft-mask-distance-f16", soft_mask, D.astype(np.float16), span=2, raises=TypeError,
        arg="distance", match=r"real array .*got dtype float16"),
    Bad("soft-mask-distance-complex", soft_mask, D.astype(complex), span=2, raises=TypeError,
        arg="distance", match=r"real array .*got dtype complex128"),
    Bad("soft-mask-distance-object", soft_mask, D.astype(object), span=2, raises=TypeError,
        arg="distance", match=r"real array .*got dtype object"),
    Bad("soft-mask-distance-nan", soft_mask, np.array([0.0, np.nan]), span=2, raises=ValueError,
        arg="distance", match=FINITE),
    Bad("soft-mask-distance-inf", soft_mask, np.array([np.inf]), span=2, raises=ValueError,
        arg="distance", match=FINITE),
    Bad("soft-mask-span-negative", soft_mask, D, span=-1, raises=ValueError, arg="span",
        match=SPAN + r".*got -1"),
    Bad("soft-mask-span-nan", soft_mask, D, span=np.nan, raises=ValueError, arg="span",
        match=SPAN + r".*got nan"),
    Bad("soft-mask-span-array-negative", soft_mask, D, span=np.array([[-1.0]]), raises=ValueError,
        arg="span", match=SPAN + r".*got a negative value"),
    Bad("soft-mask-ramp-zero", soft_mask, D, span=2, ramp=0.0, raises=ValueError, arg="ramp",
        match=RAMP + r" 0.0"),
    Bad("soft-mask-ramp-str", soft_mask, D, span=2, ramp="32", raises=TypeError, arg="ramp",
        match=RAMP + r" '32'"),
    # span_reach(span, ramp)
    Bad("reach-span-none", span_reach, None, raises=TypeError, arg="span", match=SPAN + r".*None"),
    Bad("reach-span-negative", span_reach, -0.5, raises=ValueError, arg="span",
        match=SPAN + r".*got -0.5"),
    Bad("reach-span-inf", span_reach, float("inf"), raises=ValueError, arg="span",
        match=SPAN + r".*got inf"),
    Bad("reach-span-empty", span_reach, (), raises=ValueError, arg="span",
        match=SPAN + r".*got an empty sequence"),
    Bad("reach-span-array-nan", span_reach, np.array([np.nan]), raises=ValueError, arg="span",
        match=FINITE),
    Bad("reach-span-array-int", span_reach, np.array([3]), raises=TypeError, arg="span",
        match=FLOAT_DTYPE + " int64"),
    Bad("reach-ramp-zero", span_reach, 3, 0, raises=ValueError, arg="ramp", match=RAMP + " 0"),
    Bad("reach-ramp-nan", span_reach, 3, float("nan"), raises=ValueError, arg="ramp",
        match=RAMP + " nan"),
    Bad("reach-ramp-bool", span_reach, 3, False, raises=TypeError, arg="ramp",
        match=RAMP + " False"),
    # span_loss(span, *, weight)
    Bad("loss-weight-negative", span_loss, [1.0], weight=-1, raises=ValueError, arg="weight",
        match=r"weight must be a finite real number >= 0, got -1"),
    Bad("loss-weight-nan", span_loss, [1.0], weight=float("nan"), raises=ValueError, arg="weight",
        match=r">= 0, got nan"),
    Bad("loss-weight-inf", span_loss, [1.0], weight=float("inf"), raises=ValueError,
        arg="weight", match=r">= 0, got inf"),
    Bad("loss-weight-bool", span_loss, [1.0], weight=True, raises=TypeError, arg="weight",
        match=r">= 0, got True"),
    Bad("loss-weight-none", span_loss, [1.0], weight=None, raises=TypeError, arg="weight",
        match=r">= 0, got None"),
    Bad("loss-span-negative", span_loss, [-1.0], weight=1, raises=ValueError, arg="span",
        match=SPAN + r".*got -1"),
    Bad("loss-span-array-negative", span_loss, np.array([1.0, -1.0]), weight=1,
        raises=ValueError, arg="span", match=r"got a negative value"),
    Bad("loss-span-array-nan", span_loss, np.array([np.nan]), weight=1, raises=ValueError,
        arg="span", match=FINITE),
    Bad("loss-span-str", span_loss, "10", weight=1, raises=TypeError, arg="span",
        match=SPAN + r".*got '10'"),
    Bad("loss-overflows", span_loss, [1e308, 1e308], weight=10.0, raises=FloatingPointError,
        arg="span_loss", match=r"weight·Σ z = 10·inf overflows float64"),
]
# fmt: on
EXEMPT = {
    "refattn.adaptive_span.AdaptiveSpanWeights": (
        "a result container built by adaptive_span_attention; its one method, to_dense, "
        "takes no arguments"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_0d_arrays_are_accepted():
    base = adaptive_span_attention(Q, K, V, span=2.5, ramp=3, causal=True)
    for span, ramp in (
        (np.float64(2.5), np.int64(3)),
        (np.array(2.5), np.array(3)),
        (np.float32(2.5), np.float64(3.0)),
    ):
        out = adaptive_span_attention(Q, K, V, span=span, ramp=ramp, causal=True)
        np.testing.assert_allclose(np.squeeze(out), base, rtol=1e-12)
    assert span_reach(np.int64(2), np.array(2)) == span_reach(2, 2) == 3
    assert span_loss(np.array([1.0, 2.0]), weight=np.float32(0.5)) == 1.5
    assert span_loss(np.array(3.0), weight=np.int64(2)) == 6.0
    np.testing.assert_allclose(
        soft_mask(D.astype(np.int64), span=np.int64(1), ramp=np.float32(2)),
        [1, 1, 0.5, 0, 0],
    )
    grad = span_gradient(Q, K, V, G, span=np.float64(1.5), ramp=np.int64(2))
    assert grad == span_gradient(Q, K, V, G, span=1.5, ramp=2)
