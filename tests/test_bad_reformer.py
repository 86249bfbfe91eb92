"""Bad inputs to refattn.reformer: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.reformer import ReformerWeights, lsh_attention, lsh_buckets, random_rotations

G = np.random.default_rng(0)
Q, K, V = (G.standard_normal((8, 4)) for _ in range(3))
R = random_rotations(4, buckets=4, rounds=2, rng=0)  # (2, 4, 2)
R_NAN = R.copy()
R_NAN[1, 2, 0] = np.nan
R_INF = R.copy()
R_INF[0, 0, 1] = np.inf
NAN = Q.copy()
NAN[5, 3] = np.nan
ATT, HASH, ROT = lsh_attention, lsh_buckets, random_rotations
ONES = np.ones((8, 4))
R_HUGE = np.full((2, 4, 2), 1e308)  # finite, but x·R overflows even for rows with |x| < 2
TOO_LARGE = r"x·rotations overflows float64 even for rows of x scaled to \|x\| < 2; the rotations are too large"

# fmt: off
CASES = [
    Bad("att-q-none", ATT, None, K, V, buckets=4, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("att-k-float", ATT, Q, 1.0, V, buckets=4, raises=TypeError, arg="k", match=r"got float 1.0"),
    Bad("att-q-nan", ATT, NAN, K, V, buckets=4, raises=ValueError, arg="q", match=r"finite"),
    Bad("att-v-bool", ATT, Q, K, V > 0, buckets=4, raises=TypeError, arg="v", match=r"bool"),
    Bad("att-q-f16", ATT, Q.astype(np.float16), K, V, buckets=4, raises=TypeError, arg="q", match=r"float16"),
    Bad("att-v-rows", ATT, Q, K, V[:5], buckets=4, raises=ValueError, arg="v", match=r"as many rows m as k"),
    Bad("att-buckets-odd", ATT, Q, K, V, buckets=5, raises=ValueError, arg="buckets", match=r"even integer >= 2.*got 5"),
    Bad("att-buckets-missing", ATT, Q, K, V, raises=ValueError, arg="buckets", match=r"even integer >= 2 when no rotations"),
    Bad("att-buckets-huge", ATT, Q, K, V, buckets=2 * 10**30, raises=ValueError, arg="buckets", match=r"rounds · d · buckets/2 must be <= 268435456"),
    Bad("att-buckets-float", ATT, Q, K, V, buckets=4.0, raises=TypeError, arg="buckets", match=r"got 4.0"),
    Bad("att-buckets-disagree", ATT, Q, K, V, rotations=R, buckets=8, raises=ValueError, arg="buckets", match=r"2·rotations.shape\[-1\] = 4.*got 8"),
    Bad("att-rounds-zero", ATT, Q, K, V, buckets=4, rounds=0, raises=ValueError, arg="rounds", match=r">= 1, got 0"),
    Bad("att-rounds-huge", ATT, Q, K, V, buckets=4, rounds=10**30, raises=ValueError, arg="rounds", match=r"<= 268435456"),
    Bad("att-rounds-disagree", ATT, Q, K, V, rotations=R, rounds=3, raises=ValueError, arg="rounds", match=r"rotations.shape\[0\] = 2.*got 3"),
    Bad("att-chunk-zero", ATT, Q, K, V, buckets=4, chunk=0, raises=ValueError, arg="chunk", match=r">= 1, got 0"),
    Bad("att-chunk-bool", ATT, Q, K, V, buckets=4, chunk=True, raises=TypeError, arg="chunk", match=r"got True"),
    Bad("att-chunk-nan", ATT, Q, K, V, buckets=4, chunk=float("nan"), raises=TypeError, arg="chunk", match=r"got nan"),
    Bad("att-chunk-tuple", ATT, Q, K, V, buckets=4, chunk=(4,), raises=TypeError, arg="chunk", match=r"got \(4,\)"),
    Bad("att-rotations-nan", ATT, Q, K, V, rotations=R_NAN, raises=ValueError, arg="rotations", match=r"finite"),
    Bad("att-rotations-inf", ATT, Q, K, V, rotations=R_INF, raises=ValueError, arg="rotations", match=r"finite"),
    Bad("att-rotations-too-large", ATT, ONES, ONES, V, rotations=R_HUGE, shared_qk=False, raises=FloatingPointError, arg="rotations", match=TOO_LARGE),
    Bad("att-rotations-too-large-for-k", ATT, Q * 1e-300, ONES, V, rotations=R_HUGE, shared_qk=False, raises=FloatingPointError, arg="rotations", match=TOO_LARGE),
    Bad("att-rotations-int", ATT, Q, K, V, rotations=R.astype(int), raises=TypeError, arg="rotations", match=r"int64"),
    Bad("att-rotations-list", ATT, Q, K, V, rotations=R.tolist(), raises=TypeError, arg="rotations", match=r"got list"),
    Bad("att-rotations-d", ATT, Q, K, V, rotations=R[:, :3], raises=ValueError, arg="rotations", match=r"\(rounds, 4, b/2\).*\(2, 3, 2\)"),
    Bad("att-rotations-2d", ATT, Q, K, V, rotations=R[0], raises=ValueError, arg="rotations", match=r"got shape \(4, 2\)"),
    Bad("att-rng-with-rotations", ATT, Q, K, V, rotations=R, rng=0, raises=ValueError, arg="rng", match=r"None when rotations are given.*got 0"),
    Bad("att-rng-float", ATT, Q, K, V, buckets=4, rng=0.5, raises=TypeError, arg="rng", match=r"Generator.*got 0.5"),
    Bad("att-shared-int", ATT, Q, K, V, buckets=4, shared_qk=1, raises=TypeError, arg="shared_qk", match=r"True or False, got 1"),
    Bad("att-separate-causal", ATT, Q, K, V, buckets=4, shared_qk=False, causal=True, raises=ValueError, arg="causal", match=r"separate keys"),
    Bad("att-scale-neg", ATT, Q, K, V, buckets=4, scale=-1.0, raises=ValueError, arg="scale", match=r"> 0 or None, got -1.0"),
    Bad("att-mask-2d", ATT, Q, K, V, buckets=4, mask=np.ones((8, 8), bool), raises=ValueError, arg="mask", match=r"linear time"),

    Bad("hash-x-none", HASH, None, R, raises=TypeError, arg="x", match=r"got None"),
    Bad("hash-x-list", HASH, [[1.0] * 4], R, raises=TypeError, arg="x", match=r"got list"),
    Bad("hash-x-nan", HASH, NAN, R, raises=ValueError, arg="x", match=r"finite"),
    Bad("hash-rotations-too-large", HASH, ONES, R_HUGE, raises=FloatingPointError, arg="rotations", match=TOO_LARGE),
    Bad("hash-x-int", HASH, Q.astype(int), R, raises=TypeError, arg="x", match=r"int64"),
    Bad("hash-x-complex", HASH, Q.astype(complex), R, raises=TypeError, arg="x", match=r"complex128"),
    Bad("hash-x-1d", HASH, Q[0], R, raises=ValueError, arg="x", match=r"ndim >= 2, got shape \(4,\)"),
    Bad("hash-x-d", HASH, Q[:, :3], R, raises=ValueError, arg="x", match=r"d = rotations.shape\[1\] = 4, got shape \(8, 3\)"),
    Bad("hash-rot-nan", HASH, Q, R_NAN, raises=ValueError, arg="rotations", match=r"finite"),
    Bad("hash-rot-inf", HASH, Q, R_INF, raises=ValueError, arg="rotations", match=r"finite"),
    Bad("hash-rot-float16", HASH, Q, R.astype(np.float16), raises=TypeError, arg="rotations", match=r"float16"),
    Bad("hash-rot-none", HASH, Q, None, raises=TypeError, arg="rotations", match=r"got None"),
    Bad("hash-rot-empty", HASH, Q, R[:, :, :0], raises=ValueError, arg="rotations", match=r"b/2 >= 1, got shape \(2, 4, 0\)"),

    Bad("rot-d-zero", ROT, 0, buckets=4, raises=ValueError, arg="d", match=r">= 1, got 0"),
    Bad("rot-d-float", ROT, 4.0, buckets=4, raises=TypeError, arg="d", match=r"got 4.0"),
    Bad("rot-d-huge", ROT, 10**30, buckets=4, raises=ValueError, arg="rounds · d · buckets/2", match=r"<= 268435456"),
    Bad("rot-buckets-zero", ROT, 4, buckets=0, raises=ValueError, arg="buckets", match=r">= 2, got 0"),
    Bad("rot-buckets-none", ROT, 4, buckets=None, raises=TypeError, arg="buckets", match=r"got None"),
    Bad("rot-rounds-neg", ROT, 4, buckets=4, rounds=-2, raises=ValueError, arg="rounds", match=r"got -2"),
    Bad("rot-dtype-typo", ROT, 4, buckets=4, dtype="float23", raises=TypeError, arg="dtype", match=r"float32, float64, got 'float23'"),
    Bad("rot-dtype-int", ROT, 4, buckets=4, dtype=int, raises=TypeError, arg="dtype", match=r"float32, float64"),
    Bad("rot-rng-str", ROT, 4, buckets=4, rng="0", raises=TypeError, arg="rng", match=r"got '0'"),
    Bad("rot-xp-typo", ROT, 4, buckets=4, xp="cpu", raises=ValueError, arg="xp", match=r"got 'cpu'"),
]
# fmt: on

EXEMPT = {
    "refattn.reformer.ReformerWeights": (
        "a result container built only by lsh_attention; to_dense takes no argument"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_are_accepted():
    want = lsh_attention(Q, K, V, buckets=4, rounds=2, chunk=3, rng=5)
    got = lsh_attention(
        Q,
        K,
        V,
        buckets=np.int64(4),
        rounds=np.int32(2),
        chunk=np.array(3),
        rng=np.int64(5),
        causal=np.bool_(False),
        shared_qk=np.bool_(True),
    )
    np.testing.assert_array_equal(got, want)
    for dtype in (np.float32, "float32", np.dtype("float32")):
        r = random_rotations(
            np.int64(4), buckets=np.uint8(4), rounds=np.array(2), rng=0, dtype=dtype
        )
        assert r.dtype == np.float32 and r.shape == (2, 4, 2)
    np.testing.assert_array_equal(lsh_buckets(Q, R.astype(np.float32)), lsh_buckets(Q, R))
    _, weights = lsh_attention(Q, K, V, rotations=R, return_weights=np.bool_(True))
    assert isinstance(weights, ReformerWeights) and weights.n == 8
