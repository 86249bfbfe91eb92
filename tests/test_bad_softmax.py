"""Bad inputs to refattn.softmax: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.softmax import chunked_attention, softmax, softmax_attention

G = np.random.default_rng(0)
Q, K, V = G.standard_normal((4, 3)), G.standard_normal((5, 3)), G.standard_normal((5, 2))
NAN_K = K.copy()
NAN_K[2, 1] = np.nan
INF_Q = Q.copy()
INF_Q[0, 0] = -np.inf
HUGE = np.full((4, 3), 1e20, np.float32)  # q·k ≈ 3e40 overflows float32
X = np.array([[0.0, 1.0, -np.inf], [2.0, 2.0, 2.0]])
# the score matrix of q (2·10⁵, 1) against itself as a broadcast view: 3·10⁵ GiB in float64
LONG = np.broadcast_to(np.zeros((1, 1)), (200_000, 1))

A = (softmax_attention, "softmax_attention")
C = (chunked_attention, "chunked_attention")


# fmt: off
def _attention_cases(fn, tag):
    return [
        Bad(f"{tag}-q-none", fn, None, K, V, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
        Bad(f"{tag}-k-list", fn, Q, [[1.0, 2.0, 3.0]], V, raises=TypeError, arg="k", match=r"numpy or cupy array, got list"),
        Bad(f"{tag}-v-scalar", fn, Q, K, 1.0, raises=TypeError, arg="v", match=r"numpy or cupy array, got float 1.0"),
        Bad(f"{tag}-q-1d", fn, Q[0], K, V, raises=ValueError, arg="q", match=r"\(\.\.\., n, d\) with ndim >= 2, got shape \(3,\)"),
        Bad(f"{tag}-d-mismatch", fn, Q, K[:, :2], V, raises=ValueError, arg="k", match=r"same last axis d as q"),
        Bad(f"{tag}-m-mismatch", fn, Q, K, V[:3], raises=ValueError, arg="v", match=r"as many rows m as k"),
        Bad(f"{tag}-batch", fn, np.stack([Q, Q]), np.stack([K, K, K]), V, raises=ValueError, arg="leading (batch) axes", match=r"q \(2,\), k \(3,\)"),
        Bad(f"{tag}-q-int", fn, Q.astype(int), K, V, raises=TypeError, arg="q", match=r"floating dtype .* got int64"),
        Bad(f"{tag}-k-bool", fn, Q, K > 0, V, raises=TypeError, arg="k", match=r"floating dtype .* got bool"),
        Bad(f"{tag}-v-float16", fn, Q, K, V.astype(np.float16), raises=TypeError, arg="v", match=r"floating dtype .* got float16"),
        Bad(f"{tag}-q-complex", fn, Q.astype(complex), K, V, raises=TypeError, arg="q", match=r"got complex128"),
        Bad(f"{tag}-v-object", fn, Q, K, V.astype(object), raises=TypeError, arg="v", match=r"got object"),
        Bad(f"{tag}-k-nan", fn, Q, NAN_K, V, raises=ValueError, arg="k", match=r"only finite values, got NaN or inf"),
        Bad(f"{tag}-q-inf", fn, INF_Q, K, V, raises=ValueError, arg="q", match=r"only finite values"),
        Bad(f"{tag}-v-inf", fn, Q, K, np.full_like(V, np.inf), raises=ValueError, arg="v", match=r"only finite values"),
        Bad(f"{tag}-mask-float", fn, Q, K, V, mask=np.ones((4, 5)), raises=TypeError, arg="mask", match=r"boolean array .* got dtype float64"),
        Bad(f"{tag}-mask-shape", fn, Q, K, V, mask=np.ones((4, 6), bool), raises=ValueError, arg="mask", match=r"broadcastable to .* = \(4, 5\), got shape \(4, 6\)"),
        Bad(f"{tag}-mask-list", fn, Q, K, V, mask=[[True]], raises=TypeError, arg="mask", match=r"numpy or cupy array, got list"),
        Bad(f"{tag}-causal-int", fn, Q, K, V, causal=1, raises=TypeError, arg="causal", match=r"True or False, got 1"),
        Bad(f"{tag}-causal-none", fn, Q, K, V, causal=None, raises=TypeError, arg="causal", match=r"True or False, got None"),
        Bad(f"{tag}-scale-nan", fn, Q, K, V, scale=float("nan"), raises=ValueError, arg="scale", match=r"finite real number > 0 or None, got nan"),
        Bad(f"{tag}-scale-inf", fn, Q, K, V, scale=float("inf"), raises=ValueError, arg="scale", match=r"> 0 or None, got inf"),
        Bad(f"{tag}-scale-negative", fn, Q, K, V, scale=-1.0, raises=ValueError, arg="scale", match=r"> 0 or None, got -1.0"),
        Bad(f"{tag}-scale-zero", fn, Q, K, V, scale=0, raises=ValueError, arg="scale", match=r"> 0 or None, got 0"),
        Bad(f"{tag}-scale-bool", fn, Q, K, V, scale=True, raises=TypeError, arg="scale", match=r"> 0 or None, got True"),
        Bad(f"{tag}-scale-str", fn, Q, K, V, scale="0.5", raises=TypeError, arg="scale", match=r"got '0.5'"),
        Bad(f"{tag}-return-weights-str", fn, Q, K, V, return_weights="yes", raises=TypeError, arg="return_weights", match=r"True or False, got 'yes'"),
        # finite input whose scores overflow: an error naming the bound, not a NaN result
        Bad(f"{tag}-overflow", fn, HUGE, HUGE, np.ones((4, 2), np.float32), raises=FloatingPointError, arg="q·k", match=r"overflows float32: scale·d·max\|q\|·max\|k\| ≈ 1.7e\+40 > 3.4e\+38; rescale"),
        Bad(f"{tag}-scale-overflow", fn, Q.astype(np.float32), K.astype(np.float32), V.astype(np.float32), scale=1e300, raises=FloatingPointError, arg="scale", match=r"overflows float32"),
        Bad(f"{tag}-sum-of-v-overflow", fn, Q.astype(np.float32), K.astype(np.float32), np.full((5, 2), 3e38, np.float32), raises=FloatingPointError, arg="v", match=r"weighted sum of v overflows float32: m·max\|v\| ≈ 1.5e\+39"),
    ]


CASES = [
    Bad("softmax-none", softmax, None, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("softmax-list", softmax, [1.0, 2.0], raises=TypeError, arg="x", match=r"got list \[1.0, 2.0\]"),
    Bad("softmax-scalar", softmax, 2.0, raises=TypeError, arg="x", match=r"got float 2.0"),
    Bad("softmax-int", softmax, np.arange(3), raises=TypeError, arg="x", match=r"floating dtype .* got int64"),
    Bad("softmax-bool", softmax, np.ones(3, bool), raises=TypeError, arg="x", match=r"got bool"),
    Bad("softmax-float16", softmax, np.ones(3, np.float16), raises=TypeError, arg="x", match=r"got float16"),
    Bad("softmax-complex", softmax, np.ones(3, complex), raises=TypeError, arg="x", match=r"got complex128"),
    Bad("softmax-nan", softmax, np.array([0.0, np.nan]), raises=ValueError, arg="x", match=r"must not contain NaN or \+inf \(-inf is allowed"),
    Bad("softmax-posinf", softmax, np.array([0.0, np.inf]), raises=ValueError, arg="x", match=r"NaN or \+inf"),
    Bad("softmax-0d", softmax, np.ones(()), raises=ValueError, arg="x", match=r"ndim >= 1 and no empty axis, got shape \(\)"),
    Bad("softmax-empty", softmax, np.ones((2, 0)), raises=ValueError, arg="x", match=r"no empty axis, got shape \(2, 0\)"),
    Bad("softmax-axis-too-big", softmax, X, axis=2, raises=ValueError, arg="axis", match=r"in \[-2, 1\] for x.ndim 2, got 2"),
    Bad("softmax-axis-huge", softmax, X, axis=10**30, raises=ValueError, arg="axis", match=r"in \[-2, 1\] for x.ndim 2, got 10{30}"),
    Bad("softmax-axis-too-negative", softmax, X, axis=-3, raises=ValueError, arg="axis", match=r"integer >= -2, got -3"),
    Bad("softmax-axis-float", softmax, X, axis=1.0, raises=TypeError, arg="axis", match=r"integer >= -2, got 1.0"),
    Bad("softmax-axis-nan", softmax, X, axis=float("nan"), raises=TypeError, arg="axis", match=r"integer >= -2, got nan"),
    Bad("softmax-axis-bool", softmax, X, axis=True, raises=TypeError, arg="axis", match=r"got True"),
    Bad("softmax-axis-none", softmax, X, axis=None, raises=TypeError, arg="axis", match=r"got None"),
    Bad("softmax-axis-tuple", softmax, X, axis=(0, 1), raises=TypeError, arg="axis", match=r"got \(0, 1\)"),
    *_attention_cases(*A),
    *_attention_cases(*C),
    Bad("softmax_attention-too-big", softmax_attention, LONG, LONG, LONG, raises=MemoryError, arg="score matrix", match=r"\(200000, 200000\) needs 298 GiB, more than .* memory available; chunked_attention"),
    Bad("chunked-chunk-zero", chunked_attention, Q, K, V, chunk_size=0, raises=ValueError, arg="chunk_size", match=r"integer >= 1, got 0"),
    Bad("chunked-chunk-negative", chunked_attention, Q, K, V, chunk_size=-4, raises=ValueError, arg="chunk_size", match=r"integer >= 1, got -4"),
    Bad("chunked-chunk-float", chunked_attention, Q, K, V, chunk_size=2.5, raises=TypeError, arg="chunk_size", match=r"integer >= 1, got 2.5"),
    Bad("chunked-chunk-inf", chunked_attention, Q, K, V, chunk_size=float("inf"), raises=TypeError, arg="chunk_size", match=r"got inf"),
    Bad("chunked-chunk-bool", chunked_attention, Q, K, V, chunk_size=True, raises=TypeError, arg="chunk_size", match=r"got True"),
    Bad("chunked-chunk-none", chunked_attention, Q, K, V, chunk_size=None, raises=TypeError, arg="chunk_size", match=r"got None"),
    Bad("chunked-chunk-array", chunked_attention, Q, K, V, chunk_size=np.array([2, 3]), raises=TypeError, arg="chunk_size", match=r"array of shape \(2,\)"),
]
# fmt: on

EXEMPT = {
    "refattn.softmax.ChunkedWeights": "a result container built only by chunked_attention; its one method, to_dense, takes no arguments",
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_are_accepted():
    # the other side of the table: NumPy integers and 0-d arrays are valid options
    expected = chunked_attention(Q, K, V, chunk_size=2)
    for size in (np.int64(2), np.int32(2), np.array(2), np.uint8(2)):
        np.testing.assert_array_equal(chunked_attention(Q, K, V, chunk_size=size), expected)
    np.testing.assert_array_equal(softmax(X, axis=np.int64(0)), softmax(X, axis=0))
    np.testing.assert_array_equal(softmax(X, axis=np.array(-1)), softmax(X))
    dense = softmax_attention(Q, K, V, scale=0.5)
    for scale in (np.float32(0.5), np.float64(0.5), np.array(0.5), np.int64(1) / 2):
        np.testing.assert_array_equal(softmax_attention(Q, K, V, scale=scale), dense)
    assert softmax_attention(Q, K, V, causal=np.bool_(True)).shape == (4, 2)
