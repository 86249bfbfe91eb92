"""Bad inputs to refattn.bigbird: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.bigbird import (
    attention_graph_distances,
    bigbird_attention,
    bigbird_pattern,
    block_pattern,
    random_block_assignment,
)

G = np.random.default_rng(0)
Q, K, V = (G.standard_normal((8, 3)) for _ in range(3))  # block 2: B = 4 blocks
NAN = V.copy()
NAN[1, 1] = np.nan
INF = Q.copy()
INF[3, 0] = -np.inf
SLOTS = np.array([[3], [3], [0], [0]])
ATT, ASSIGN, BLOCKS, DENSE, GRAPH = (
    bigbird_attention,
    random_block_assignment,
    block_pattern,
    bigbird_pattern,
    attention_graph_distances,
)

# fmt: off
CASES = [
    Bad("att-q-none", ATT, None, K, V, block=2, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("att-v-tuple", ATT, Q, K, (1.0, 2.0), block=2, raises=TypeError, arg="v", match=r"got tuple"),
    Bad("att-v-nan", ATT, Q, K, NAN, block=2, raises=ValueError, arg="v", match=r"finite"),
    Bad("att-q-inf", ATT, INF, K, V, block=2, raises=ValueError, arg="q", match=r"finite"),
    Bad("att-k-int", ATT, Q, K.astype(int), V, block=2, raises=TypeError, arg="k", match=r"int64"),
    Bad("att-q-object", ATT, Q.astype(object), K, V, block=2, raises=TypeError, arg="q", match=r"object"),
    Bad("att-k-shape", ATT, Q, K[:, :2], V, block=2, raises=ValueError, arg="k", match=r"same last axis d"),
    Bad("att-causal", ATT, Q, K, V, block=2, causal=True, raises=ValueError, arg="causal", match=r"bidirectional"),
    Bad("att-block-zero", ATT, Q, K, V, block=0, raises=ValueError, arg="block", match=r"integer >= 1, got 0"),
    Bad("att-block-float", ATT, Q, K, V, block=2.0, raises=TypeError, arg="block", match=r"got 2.0"),
    Bad("att-block-nan", ATT, Q, K, V, block=float("nan"), raises=TypeError, arg="block", match=r"got nan"),
    Bad("att-block-bool", ATT, Q, K, V, block=True, raises=TypeError, arg="block", match=r"got True"),
    Bad("att-block-tuple", ATT, Q, K, V, block=(2,), raises=TypeError, arg="block", match=r"got \(2,\)"),
    Bad("att-global-neg", ATT, Q, K, V, block=2, global_blocks=-1, raises=ValueError, arg="global_blocks", match=r"count >= 0.*got -1"),
    Bad("att-global-float", ATT, Q, K, V, block=2, global_blocks=1.0, raises=TypeError, arg="global_blocks", match=r"count >= 0.*got 1.0"),
    Bad("att-global-str", ATT, Q, K, V, block=2, global_blocks="0", raises=TypeError, arg="global_blocks", match=r"got '0'"),
    Bad("att-global-huge-index", ATT, Q, K, V, block=2, global_blocks=(10**30,), raises=ValueError, arg="global_blocks", match=r"\[0, 4\), got 10{30}"),
    Bad("att-global-repeat", ATT, Q, K, V, block=2, global_blocks=(1, 1), raises=ValueError, arg="global_blocks", match=r"repeat a block"),
    Bad("att-global-bool-in", ATT, Q, K, V, block=2, global_blocks=(True,), raises=TypeError, arg="global_blocks", match=r"integer block indices.*got True"),
    Bad("att-global-2d", ATT, Q, K, V, block=2, global_blocks=np.zeros((1, 1), int), raises=ValueError, arg="global_blocks", match=r"1-D.*\(1, 1\)"),
    Bad("att-random-int", ATT, Q, K, V, block=2, random_blocks=1, raises=TypeError, arg="random_blocks", match=r"integer array \(n_blocks, r\), got int 1"),
    Bad("att-random-nan", ATT, Q, K, V, block=2, random_blocks=np.full((4, 1), np.nan), raises=TypeError, arg="random_blocks", match=r"integer array.*float64"),
    Bad("att-random-bool", ATT, Q, K, V, block=2, random_blocks=np.ones((4, 1), bool), raises=TypeError, arg="random_blocks", match=r"integer array.*bool"),
    Bad("att-random-huge", ATT, Q, K, V, block=2, random_blocks=SLOTS * 10**15, raises=ValueError, arg="random_blocks", match=r"\[0, 4\) or -1"),
    Bad("att-random-rows", ATT, Q, K, V, block=2, random_blocks=SLOTS[:2], raises=ValueError, arg="random_blocks", match=r"at least B = ⌈n/b⌉ = 4"),
    Bad("att-scale-inf", ATT, Q, K, V, block=2, scale=float("inf"), raises=ValueError, arg="scale", match=r"got inf"),
    Bad("att-scale-bool", ATT, Q, K, V, block=2, scale=True, raises=TypeError, arg="scale", match=r"got True"),
    Bad("att-mask-2d", ATT, Q, K, V, block=2, mask=np.ones((8, 8), bool), raises=ValueError, arg="mask", match=r"linear time"),

    Bad("assign-blocks-zero", ASSIGN, 0, 1, raises=ValueError, arg="n_blocks", match=r">= 1 and <= 65536, got 0"),
    Bad("assign-blocks-huge", ASSIGN, 10**30, 1, raises=ValueError, arg="n_blocks", match=r"<= 65536, got 10{30}"),
    Bad("assign-blocks-float", ASSIGN, 8.0, 1, raises=TypeError, arg="n_blocks", match=r"got 8.0"),
    Bad("assign-r-neg", ASSIGN, 8, -1, raises=ValueError, arg="r", match=r"integer >= 0, got -1"),
    Bad("assign-r-huge", ASSIGN, 8, 10**30, raises=ValueError, arg="r", match=r"r must be <= 5.*got 10{30}"),
    Bad("assign-r-nan", ASSIGN, 8, float("nan"), raises=TypeError, arg="r", match=r"got nan"),
    Bad("assign-global-list-float", ASSIGN, 8, 1, global_blocks=[0.5], raises=TypeError, arg="global_blocks", match=r"got 0.5"),
    Bad("assign-rng-float", ASSIGN, 8, 1, rng=1.5, raises=TypeError, arg="rng", match=r"None, an integer >= 0 or a Generator.*SeedSequence.*got 1.5"),
    Bad("assign-rng-neg", ASSIGN, 8, 1, rng=-3, raises=ValueError, arg="rng", match=r"got -3"),
    Bad("assign-xp-typo", ASSIGN, 8, 1, xp="numpi", raises=ValueError, arg="xp", match=r"got 'numpi'"),

    Bad("blocks-n-zero", BLOCKS, 0, raises=ValueError, arg="n_blocks", match=r"got 0"),
    Bad("blocks-n-huge", BLOCKS, 2**40, raises=ValueError, arg="n_blocks", match=r"<= 65536, got 1099511627776"),
    Bad("blocks-global-tuple-big", BLOCKS, 4, global_blocks=(4,), raises=ValueError, arg="global_blocks", match=r"\[0, 4\), got 4"),
    Bad("blocks-random-list", BLOCKS, 4, random_blocks=[[3], [3], [0], [0]], raises=TypeError, arg="random_blocks", match=r"got list"),
    Bad("blocks-random-float", BLOCKS, 4, random_blocks=SLOTS.astype(float), raises=TypeError, arg="random_blocks", match=r"float64"),
    Bad("blocks-random-neg", BLOCKS, 4, random_blocks=SLOTS - 5, raises=ValueError, arg="random_blocks", match=r"or -1 \(unused\), got values in \[-5, -2\]"),
    Bad("blocks-xp-int", BLOCKS, 4, xp=3, raises=TypeError, arg="xp", match=r"got 3"),

    Bad("dense-n-huge", DENSE, 10**30, block=2, raises=ValueError, arg="n", match=r"<= 32768, got 10{30}"),
    Bad("dense-n-neg", DENSE, -4, block=2, raises=ValueError, arg="n", match=r"got -4"),
    Bad("dense-block-zero", DENSE, 8, block=0, raises=ValueError, arg="block", match=r"got 0"),
    Bad("dense-block-str", DENSE, 8, block="2", raises=TypeError, arg="block", match=r"got '2'"),
    Bad("dense-global-neg", DENSE, 8, block=2, global_blocks=-2, raises=ValueError, arg="global_blocks", match=r"got -2"),
    Bad("dense-random-1d", DENSE, 8, block=2, random_blocks=SLOTS[:, 0], raises=ValueError, arg="random_blocks", match=r"shape \(n_blocks, r\), got shape \(4,\)"),

    Bad("graph-none", GRAPH, None, raises=TypeError, arg="pattern", match=r"got None"),
    Bad("graph-list", GRAPH, [[True]], raises=TypeError, arg="pattern", match=r"got list"),
    Bad("graph-float", GRAPH, np.ones((3, 3)), raises=TypeError, arg="pattern", match=r"boolean array, got dtype float64"),
    Bad("graph-1d", GRAPH, np.ones(3, bool), raises=ValueError, arg="pattern", match=r"\(B, B\) \(ndim 2\), got shape \(3,\)"),
    Bad("graph-not-square", GRAPH, np.ones((3, 4), bool), raises=ValueError, arg="pattern", match=r"square.*\(3, 4\)"),
    Bad("graph-empty", GRAPH, np.ones((0, 0), bool), raises=ValueError, arg="pattern", match=r"B >= 1, got shape \(0, 0\)"),
    Bad("graph-disconnected", GRAPH, np.eye(3, dtype=bool), raises=ValueError, arg="pattern", match=r"unreachable"),
]
# fmt: on

EXEMPT = {
    "refattn.bigbird.BigBirdWeights": (
        "a result container built only by bigbird_attention; to_dense takes no argument"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_are_accepted():
    want = bigbird_attention(Q, K, V, block=2, global_blocks=(0, 3), random_blocks=SLOTS)
    got = bigbird_attention(
        Q, K, V, block=np.int64(2), global_blocks=(np.int64(0), np.int32(3)), random_blocks=SLOTS
    )
    np.testing.assert_array_equal(got, want)
    got = bigbird_attention(
        Q, K, V, block=np.array(2), global_blocks=np.array([0, 3]), random_blocks=SLOTS
    )
    np.testing.assert_array_equal(got, want)
    counted = bigbird_attention(Q, K, V, block=2, global_blocks=np.array(1))  # a 0-d count
    np.testing.assert_array_equal(counted, bigbird_attention(Q, K, V, block=2, global_blocks=1))
    assignment = random_block_assignment(
        np.int64(8), np.uint8(2), global_blocks=np.int16(1), rng=np.int64(4)
    )
    np.testing.assert_array_equal(assignment, random_block_assignment(8, 2, global_blocks=1, rng=4))
    assert (
        block_pattern(np.int64(4), random_blocks=SLOTS.astype(np.int32))
        == block_pattern(4, random_blocks=SLOTS)
    ).all()
    assert (bigbird_pattern(np.array(8), block=np.int8(2)) == bigbird_pattern(8, block=2)).all()
    assert attention_graph_distances(block_pattern(np.int64(6))) == (5, 2.3333333333333335)
