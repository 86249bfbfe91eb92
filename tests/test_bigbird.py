"""BigBird: block attention equals masked dense attention, in linear memory.

Equation numbers refer to derivations/09-bigbird.md.  The oracle's pattern is
built here from the definition, position by position, not with
refattn.bigbird's own pattern functions.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refattn import complexity, mechanism, softmax_attention
from refattn.backend import peak_memory, rng, to_numpy
from refattn.bigbird import (
    attention_graph_distances,
    bigbird_attention,
    bigbird_pattern,
    block_pattern,
    random_block_assignment,
)
from refattn.testing import assert_attention_close


def _oracle_pattern(n, b, glob, slots):
    """Query p reads key s iff their blocks are neighbours, either is global, or s's block is
    among p's random blocks; every block index ≥ ⌈n/b⌉ names no block."""
    allowed = np.zeros((n, n), dtype=bool)
    for p in range(n):
        for s in range(n):
            i, j = p // b, s // b
            random = slots is not None and j in set(to_numpy(slots)[i].tolist())
            allowed[p, s] = abs(i - j) <= 1 or i in glob or j in glob or random
    return allowed


@st.composite
def bigbird_cases(draw, *, max_n=80):
    """n, b, global blocks (count or indices), random assignment (drawn or arbitrary), padding…"""
    n = draw(st.integers(1, max_n), label="n")
    b = draw(st.integers(1, 9), label="block")
    blocks = -(-n // b)
    if draw(st.booleans(), label="global as a count"):
        global_blocks = draw(st.integers(0, 3))
        glob = set(range(min(global_blocks, blocks)))
    else:
        global_blocks = draw(st.lists(st.integers(0, blocks - 1), max_size=3, unique=True))
        glob = set(global_blocks)
    kind = draw(st.sampled_from(["none", "drawn", "longer", "arbitrary"]), label="random kind")
    slots = None
    if kind in ("drawn", "longer"):
        rows = blocks + (draw(st.integers(1, 5)) if kind == "longer" else 0)
        fewest = min(
            (rows - len({i - 1, i, i + 1} & set(range(rows)) | glob) for i in range(rows)),
            default=0,
        )
        r = draw(st.integers(0, max(0, min(fewest, 3))), label="r")
        slots = random_block_assignment(
            rows, r, global_blocks=sorted(glob), rng=draw(st.integers(0, 99))
        )
    elif kind == "arbitrary":  # another implementation's assignment: repeats, window, -1 …
        rows = blocks + draw(st.integers(0, 3))
        r = draw(st.integers(1, 4))
        slots = np.array(
            draw(st.lists(st.integers(-1, rows - 1), min_size=rows * r, max_size=rows * r))
        ).reshape(rows, r)
    padded = draw(st.booleans(), label="key padding")
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    batch = draw(st.sampled_from([(), (2,)]), label="batch")
    seed = draw(st.integers(0, 2**16), label="seed")
    return n, b, global_blocks, glob, slots, padded, dtype, batch, seed


def _inputs(xp, n, dtype, batch, seed, padded, d=4):
    g = rng(seed, xp)
    q, k, v = (g.standard_normal(batch + (n, d), dtype=dtype) for _ in range(3))
    mask = (g.random(batch + (1, n)) < 0.8) if padded else None  # key padding (..., 1, n)
    return q, k, v, mask


def _on(xp, slots):
    return None if slots is None else xp.asarray(slots)


# --- (9.1)-(9.4) equality with masked dense attention ---------------------------------------


@given(case=bigbird_cases())
def test_equals_masked_dense_attention(xp, case):
    n, b, global_blocks, glob, slots, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, dtype, batch, seed, padded)
    before = [to_numpy(a).copy() for a in (q, k, v)]
    got = bigbird_attention(
        q, k, v, block=b, global_blocks=global_blocks, random_blocks=_on(xp, slots), mask=mask
    )
    allowed = xp.asarray(_oracle_pattern(n, b, glob, slots))
    expected = softmax_attention(q, k, v, mask=allowed if mask is None else allowed & mask)
    assert got.dtype == np.dtype(dtype)
    assert_attention_close(got, expected)
    for a, a0 in zip((q, k, v), before, strict=True):  # inputs are never modified
        np.testing.assert_array_equal(to_numpy(a), a0)


@given(case=bigbird_cases(max_n=48))
def test_weights_match_the_dense_weights_on_the_pattern(xp, case):
    n, b, global_blocks, glob, slots, padded, _, batch, seed = case
    q, k, v, mask = _inputs(xp, n, "float64", batch, seed, padded)
    out, weights = bigbird_attention(
        q,
        k,
        v,
        block=b,
        global_blocks=global_blocks,
        random_blocks=_on(xp, slots),
        mask=mask,
        return_weights=True,
    )
    allowed = xp.asarray(_oracle_pattern(n, b, glob, slots))
    _, dense = softmax_attention(
        q, k, v, mask=allowed if mask is None else allowed & mask, return_weights=True
    )
    assert_attention_close(weights.to_dense(), dense)
    assert_attention_close(weights.to_dense() @ v, out)


@given(case=bigbird_cases(max_n=60))
def test_pattern_functions_agree_with_the_definition(case):
    n, b, global_blocks, glob, slots, *_ = case
    np.testing.assert_array_equal(
        bigbird_pattern(n, block=b, global_blocks=global_blocks, random_blocks=slots),
        _oracle_pattern(n, b, glob, slots),
    )


def test_a_block_in_two_parts_counts_once(xp):
    # block 2 of query block 0 is both random and global; block 1 both window and random
    q, k, v, _ = _inputs(xp, 12, "float64", (), 4, False)
    slots = xp.asarray([[2, 1, 2], [3, 3, -1], [0, 0, 0], [1, 0, 0], [2, 1, 2], [0, 1, 2]])
    got = bigbird_attention(q, k, v, block=2, global_blocks=[2], random_blocks=slots)
    pattern = xp.asarray(_oracle_pattern(12, 2, {2}, slots))
    assert_attention_close(got, softmax_attention(q, k, v, mask=pattern))


def test_a_length_not_a_multiple_of_the_block_is_padded(xp):
    # (9.1)  n = 10, b = 4: blocks {0..3}, {4..7}, {8, 9}; the last block is partial
    q, k, v, _ = _inputs(xp, 10, "float64", (), 5, False)
    got = bigbird_attention(q, k, v, block=4)
    assert_attention_close(got[..., :4, :], softmax_attention(q[:4], k[:8], v[:8]))
    assert_attention_close(got[..., 8:, :], softmax_attention(q[8:], k[4:], v[4:]))


def test_the_ends_of_the_window_have_two_blocks():
    pattern = block_pattern(5)
    assert pattern.sum(1).tolist() == [2, 3, 3, 3, 2]


# --- (9.3) the random blocks -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("blocks", "r", "glob"),
    # the last two draw as many blocks as the middle rows have: each must take all of them
    [(12, 3, 1), (40, 5, (0, 39)), (7, 2, 0), (7, 4, 0), (8, 4, 1)],
)
def test_random_blocks_follow_the_reference_rule(blocks, r, glob):
    slots = random_block_assignment(blocks, r, global_blocks=glob, rng=0)
    globals_ = set(range(glob)) if isinstance(glob, int) else set(glob)
    assert slots.shape == (blocks, r) and slots.dtype == np.int64
    for i, row in enumerate(slots.tolist()):
        if i in globals_:
            assert row == [-1] * r
            continue
        assert len(set(row)) == r  # distinct
        assert all(0 <= j < blocks and abs(j - i) > 1 and j not in globals_ for j in row)


def _uniformity_z(draw_row, *, draws=3000, blocks=12, r=3, row=5):
    """z-scores of how often each allowed block is drawn for ``row`` against r / (allowed)."""
    allowed = [j for j in range(1, blocks) if abs(j - row) > 1]  # block 0 is global
    p = r / len(allowed)
    counts = np.zeros(blocks)
    for seed in range(draws):
        counts[list(draw_row(seed))] += 1
    sd = np.sqrt(draws * p * (1 - p))
    return (counts[allowed] - draws * p) / sd


def test_random_blocks_are_a_uniform_subset_of_the_allowed_ones():
    # |z| < 5 per block; the smallest bias in a block's probability this catches is about
    # 8·sqrt(p(1 − p)/N) ≈ 0.07 at N = 3000, p = 3/8
    z = _uniformity_z(lambda s: random_block_assignment(12, 3, global_blocks=1, rng=s)[5])
    assert np.all(np.abs(z) < 5), z


def test_the_uniformity_test_catches_a_biased_draw():
    def biased(seed):  # allowed blocks weighted by their index
        allowed = np.array([j for j in range(1, 12) if abs(j - 5) > 1])
        weights = allowed / allowed.sum()
        return np.random.default_rng(seed).choice(allowed, 3, replace=False, p=weights)

    z = _uniformity_z(biased)
    assert np.any(np.abs(z) >= 5), z


def test_an_assignment_for_longer_inputs_equals_padding_to_that_length(xp):
    # (9.3)  the first B rows of an L-block assignment, entries >= B dropped, are exactly
    # what the padded input of L·b positions with its padded keys masked computes
    b, length, n = 4, 64, 37
    slots = xp.asarray(random_block_assignment(length // b, 3, global_blocks=2, rng=3))
    q, k, v, _ = _inputs(xp, length, "float64", (2,), 6, False)
    keep = xp.asarray(np.arange(length) < n)[None, :]  # (1, L)
    padded = bigbird_attention(q, k, v, block=b, global_blocks=2, random_blocks=slots, mask=keep)
    alone = bigbird_attention(
        q[..., :n, :], k[..., :n, :], v[..., :n, :], block=b, global_blocks=2, random_blocks=slots
    )
    assert_attention_close(padded[..., :n, :], alone)


def test_the_registry_keeps_its_assignment_and_puts_it_in_the_pattern(xp):
    attend = mechanism("bigbird", block=2, global_blocks=1, r=2, max_length=40, rng=7)
    q, k, v, _ = _inputs(xp, 30, "float64", (), 8, False)
    slots = attend.draw_for(q, k, v)["random_blocks"]
    assert slots.shape == (20, 2)
    np.testing.assert_array_equal(to_numpy(attend(q, k, v)), to_numpy(attend(q, k, v)))
    # float32 calls use the same assignment: the draws depend on the backend only
    assert attend.draw_for(q.astype("float32"), k, v)["random_blocks"] is slots
    pattern = attend.pattern(30, xp=xp)
    np.testing.assert_array_equal(to_numpy(pattern), _oracle_pattern(30, 2, {0}, slots[:15]))
    other = attend.redraw(8)
    assert not np.array_equal(to_numpy(other.draw_for(q, k, v)["random_blocks"]), to_numpy(slots))
    # an explicit assignment, e.g. another implementation's, instead of a drawn one
    first = to_numpy(slots)[:15]
    given_slots = xp.asarray(np.where(first < 15, first, -1))  # blocks past n = 30 dropped
    explicit = mechanism("bigbird", block=2, global_blocks=1, random_blocks=given_slots)
    assert_attention_close(explicit(q, k, v), attend(q, k, v))
    same = mechanism("bigbird", block=2, global_blocks=1, r=2)
    assert explicit.memory(4096) == same.memory(4096)


# --- (9.6) the attention graph ---------------------------------------------------------------


def test_window_graph_is_a_path_and_global_blocks_give_diameter_two():
    blocks = 40
    diameter, mean = attention_graph_distances(block_pattern(blocks))
    assert diameter == blocks - 1
    assert mean == pytest.approx((blocks + 1) / 3)  # mean distance on a path
    assert attention_graph_distances(block_pattern(blocks, global_blocks=1))[0] == 2
    assert attention_graph_distances(block_pattern(blocks, global_blocks=[20]))[0] == 2


def test_random_blocks_make_the_graph_a_small_world():
    blocks = 256
    slots = random_block_assignment(blocks, 3, rng=0)
    diameter, mean = attention_graph_distances(block_pattern(blocks, random_blocks=slots))
    # a path of 256 blocks has diameter 255; random edges bring it to about log2(256)
    assert diameter <= 12 and mean <= 6, (diameter, mean)


def test_graph_distances_refuse_a_disconnected_pattern():
    pattern = np.eye(3, dtype=bool)
    with pytest.raises(ValueError, match="block 1 is unreachable from block 0"):
        attention_graph_distances(pattern)


# --- (9.5) memory and flops -------------------------------------------------------------------


def _peak_bytes(n, b=64, g=2, r=3):
    q, k, v = (rng(s, np).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3))
    slots = random_block_assignment(-(-n // b), r, global_blocks=g, rng=0) if r else None
    return peak_memory(
        lambda: bigbird_attention(q, k, v, block=b, global_blocks=g, random_blocks=slots), np
    )[1]


@pytest.mark.parametrize(("b", "g", "r"), [(64, 2, 3), (32, 0, 0), (64, 1, 5)])
def test_memory_is_linear_and_matches_the_formula(b, g, r):
    peaks = {}
    for n in (4096, 8192, 16384):
        peaks[n] = peak = _peak_bytes(n, b, g, r)
        model = 4 * complexity.bigbird_memory(n, 64, block=b, g=g, r=r)
        assert 0.99 * model <= peak <= 1.01 * model, (n, peak, model)  # measured: 1.005–1.008
    assert 1.8 <= peaks[8192] / peaks[4096] <= 2.2
    assert 1.8 <= peaks[16384] / peaks[8192] <= 2.2
    # at n = 16384 far below dense attention's n² scores (measured: 23x at b, g, r = 64, 2, 3)
    below = 20 if (b, g, r) == (64, 2, 3) else 10
    assert peaks[16384] < 4 * complexity.dense_attention_memory(16384, d=64) / below


def test_a_padded_length_matches_the_formula():
    n = 4000  # 62.5 blocks of 64
    model = 4 * complexity.bigbird_memory(n, 64, block=64, g=2, r=3)
    assert 0.99 * model <= _peak_bytes(n) <= 1.01 * model  # measured: 1.007


def test_flop_formula_counts_the_block_scores():
    n, b = 4096, 64
    scores = n * (3 * b + 3 * b + 2 * b) + 2 * b * n
    assert complexity.bigbird_flops(n, block=b, g=2, r=3) == (
        # two merges, the global rows' scaling and division, scaling the queries, the division
        complexity.pattern_flops(scores) + 2 * (3 * n * 64 + 8 * n) + 2 * b * 128 + 2 * n * 64
    )
    assert complexity.bigbird_flops(n, block=b, g=0, r=0) == (
        complexity.pattern_flops(3 * b * n) + 2 * n * 64
    )


# --- bad inputs -------------------------------------------------------------------------------


Q, K, V = (np.random.default_rng(0).standard_normal((8, 3)) for _ in range(3))
SLOTS = np.array([[3], [3], [0], [0]])  # valid for block = 2 (B = 4)

# fmt: off
BAD_INPUTS = {
    "block-zero": ({"block": 0}, ValueError, r"block must be an integer >= 1, got 0"),
    "block-float": ({"block": 2.0}, TypeError, r"block must be an integer >= 1, got 2.0"),
    "global-negative": ({"block": 2, "global_blocks": -1}, ValueError, r"global_blocks must be a count >= 0 or a sequence of block indices, got -1"),
    "global-out-of-range": ({"block": 2, "global_blocks": [4]}, ValueError, r"global_blocks must be block indices in \[0, B\) = \[0, 4\), got 4"),
    "global-duplicate": ({"block": 2, "global_blocks": [1, 1]}, ValueError, r"global_blocks must not repeat a block, got 1 more than once"),
    "global-float": ({"block": 2, "global_blocks": [1.0]}, TypeError, r"global_blocks must hold integer block indices in \[0, B\) = \[0, 4\), got 1.0"),
    "global-string": ({"block": 2, "global_blocks": "0"}, TypeError, r"global_blocks must be a count >= 0 or a sequence of block indices, got '0'"),
    "random-list": ({"block": 2, "random_blocks": [[3], [3], [0], [0]]}, TypeError, r"random_blocks must be an integer array \(n_blocks, r\), got list"),
    "random-float": ({"block": 2, "random_blocks": SLOTS.astype(float)}, TypeError, r"random_blocks must be an integer array \(n_blocks, r\), got dtype float64"),
    "random-1d": ({"block": 2, "random_blocks": SLOTS[:, 0]}, ValueError, r"random_blocks must have shape \(n_blocks, r\), got shape \(4,\)"),
    "random-too-few-rows": ({"block": 2, "random_blocks": SLOTS[:3]}, ValueError, r"random_blocks must have a row per block, at least B = ⌈n/b⌉ = 4, got shape \(3, 1\) \(it serves sequences of at most 6 positions\)"),
    "random-too-large": ({"block": 2, "random_blocks": SLOTS + 1}, ValueError, r"random_blocks entries must be block indices in \[0, 4\) or -1 \(unused\), got values in \[1, 4\]"),
    "random-below-minus-one": ({"block": 2, "random_blocks": SLOTS - 2}, ValueError, r"random_blocks entries must be block indices in \[0, 4\) or -1 \(unused\), got values in \[-2, 1\]"),
    "causal": ({"block": 2, "causal": True}, ValueError, r"bigbird_attention cannot be causal: BigBird's global blocks attend to every key"),
    "mask-2d": ({"block": 2, "mask": np.ones((8, 8), bool)}, ValueError, r"bigbird_attention cannot apply a mask of shape \(8, 8\) with a query axis: an n×m mask cannot be applied in linear time"),
    "mask-not-bool": ({"block": 2, "mask": np.ones(8)}, TypeError, r"mask must be a boolean array"),
    "scale-zero": ({"block": 2, "scale": 0.0}, ValueError, r"scale must be a finite real number > 0 or None, got 0.0"),
}
# fmt: on


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in BAD_INPUTS.items()],
)
def test_bigbird_attention_rejects(xp, kwargs, error, fragment):
    kwargs = {
        key: xp.asarray(value) if isinstance(value, np.ndarray) else value
        for key, value in kwargs.items()
    }
    with pytest.raises(error, match=fragment):
        bigbird_attention(xp.asarray(Q), xp.asarray(K), xp.asarray(V), **kwargs)


def test_cross_attention_is_rejected(xp):
    q, k, v = (xp.asarray(a) for a in (Q, K[:5], V[:5]))
    with pytest.raises(ValueError, match=r"needs as many keys as queries .*self-attention"):
        bigbird_attention(q, k, v, block=2)


# fmt: off
ASSIGNMENT_BAD_INPUTS = {
    "r-too-large": ((8, 5), {"global_blocks": 1}, ValueError, r"r must be <= 4, the blocks available to every query block \(n_blocks = 8 less its window of 3 and 1 global blocks\), got 5"),
    "r-negative": ((8, -1), {}, ValueError, r"r must be an integer >= 0, got -1"),
    "no-blocks": ((0, 1), {}, ValueError, r"n_blocks must be an integer >= 1 and <= 65536, got 0"),
    "global-out-of-range": ((8, 1), {"global_blocks": [8]}, ValueError, r"global_blocks must be block indices in \[0, B\) = \[0, 8\), got 8"),
}
# fmt: on


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in ASSIGNMENT_BAD_INPUTS.items()],
)
def test_random_block_assignment_rejects(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        random_block_assignment(*args, **kwargs)


def test_the_factory_rejects_bad_options():
    with pytest.raises(ValueError, match=r"r must be <= 1, the blocks available"):
        mechanism("bigbird", block=8, global_blocks=2, r=2, max_length=48)
    with pytest.raises(ValueError, match=r"block must be an integer >= 1, got 0"):
        mechanism("bigbird", block=0)
    with pytest.raises(ValueError, match=r"random_blocks must be an integer array \(n_blocks, r\)"):
        mechanism("bigbird", random_blocks=np.zeros(3, int))
    attend = mechanism("bigbird", block=2, global_blocks=0, r=1, max_length=8, rng=0)
    with pytest.raises(ValueError, match=r"at most 8 positions"):
        attend(*(np.zeros((10, 2)) for _ in range(3)))


# --- figures ----------------------------------------------------------------------------------


def test_bigbird_figures_draw_refattns_own_patterns_and_distances(monkeypatch):
    import refattn.figures.bigbird as figures
    from refattn.figures import FIGURES

    assert {"bigbird-pattern", "bigbird-graph"} <= set(FIGURES)
    panels = figures.bigbird_pattern_panels()
    slots = random_block_assignment(16, 2, global_blocks=2, rng=figures.SEED)
    np.testing.assert_array_equal(
        panels[-1][1] > 0, block_pattern(16, global_blocks=2, random_blocks=slots)
    )
    assert len(figures.bigbird_pattern_figure().axes) == 4
    monkeypatch.setattr(figures, "GRAPH_BLOCKS", (16, 32))
    monkeypatch.setattr(figures, "GRAPH_R", (0, 2))
    monkeypatch.setattr(figures, "GRAPH_AT", 32)
    monkeypatch.setattr(figures, "SEEDS", (0,))
    data = figures.bigbird_graph_data()
    assert data["by_blocks"]["window"][:, 0].tolist() == [15, 31]
    assert data["by_blocks"]["global"][:, 0].tolist() == [2, 2]
    assert data["by_r"][0][1, 0] < data["by_r"][0][0, 0]  # random blocks shrink the diameter


# --- (9.7) sizes that cannot change the result, and logits that overflow -------------------


def test_a_block_beyond_n_is_one_block_of_n():
    n = 9
    q, k, v = (rng(5, np).standard_normal((n, 4)) for _ in range(3))
    slots = np.array([[-1]])
    _, peak_n = peak_memory(lambda: bigbird_attention(q, k, v, block=n, random_blocks=slots), np)
    full = softmax_attention(q, k, v)  # one block: every query reads every key
    for block in (n + 3, 10**30):
        assert bigbird_pattern(n, block=block).all()
        got, peak = peak_memory(
            lambda b=block: bigbird_attention(q, k, v, block=b, random_blocks=slots), np
        )
        assert_attention_close(got, full)
        assert peak <= 1.25 * peak_n, (block, peak, peak_n)
        out, w = bigbird_attention(q, k, v, block=block, global_blocks=1, return_weights=True)
        assert_attention_close(out, full)
        np.testing.assert_allclose(w.to_dense(), softmax_attention(q, k, v, return_weights=True)[1])


def test_unused_random_slots_cost_nothing():
    n, b = 48, 4  # B = 12 blocks
    q, k, v = (rng(6, np).standard_normal((n, 4)) for _ in range(3))
    compact = random_block_assignment(12, 2, global_blocks=1, rng=0)
    # the same blocks, then 400 columns of repeats, window blocks and -1
    noise = np.concatenate([compact, np.arange(12)[:, None], np.full((12, 1), -1)], axis=1)
    wide = np.concatenate([compact] + [noise] * 100, axis=1)  # (12, 402)
    want, peak_compact = peak_memory(
        lambda: bigbird_attention(q, k, v, block=b, global_blocks=1, random_blocks=compact), np
    )
    got, peak_wide = peak_memory(
        lambda: bigbird_attention(q, k, v, block=b, global_blocks=1, random_blocks=wide), np
    )
    np.testing.assert_array_equal(got, want)
    # checking the (12, 402) assignment costs a few copies of it; gathering 402 slots of
    # keys and values and their scores would cost 3·B·r·b·d·8 bytes
    gathered = 3 * 12 * 402 * b * 4 * 8
    assert peak_wide <= peak_compact + 6 * wide.nbytes < gathered, (peak_wide, peak_compact)
    _, w = bigbird_attention(
        q, k, v, block=b, global_blocks=1, random_blocks=wide, return_weights=True
    )
    assert w.random_blocks.shape == (12, 2)
    mask = bigbird_pattern(n, block=b, global_blocks=1, random_blocks=compact)
    np.testing.assert_allclose(
        w.to_dense(), softmax_attention(q, k, v, mask=mask, return_weights=True)[1]
    )


@pytest.mark.parametrize("sign", [1.0, -1.0])
@pytest.mark.parametrize("glob", [0, 1])
def test_overflowing_logits_raise(sign, glob):
    n, b = 12, 2
    q, k, v = (rng(7, np).standard_normal((n, 4)) for _ in range(3))
    slots = random_block_assignment(6, 1, global_blocks=glob, rng=0)
    # query 0's logits are ±1e40, finite in float64, not float32, all of one sign; the
    # others' ~1e20 fit: a check that misses -inf (an overflow taken for 'masked') fails
    big_q, big_k = abs(q), sign * 1e20 * abs(k)
    big_q[0] *= 1e20
    options = dict(block=b, global_blocks=glob, random_blocks=slots)
    mask = bigbird_pattern(n, **options)
    assert_attention_close(
        bigbird_attention(big_q, big_k, v, **options), softmax_attention(big_q, big_k, v, mask=mask)
    )
    f32 = [x.astype(np.float32) for x in (big_q, big_k, v)]
    # the message is bigbird's, or the oracle's for the rows of the global blocks
    with pytest.raises(FloatingPointError, match=r"q·k overflows float32"):
        bigbird_attention(*f32, **options)
    huge_v = np.full((n, 4), 3e38, dtype=np.float32)
    with pytest.raises(FloatingPointError, match=r"weighted sum of v overflows float32"):
        bigbird_attention(f32[0] * 0, f32[1] * 0, huge_v, **options)


def test_a_global_count_beyond_the_blocks_makes_every_block_global():
    n, b = 12, 2  # B = 6
    q, k, v = (rng(12, np).standard_normal((n, 4)) for _ in range(3))
    for count in (6, 10**30):
        np.testing.assert_array_equal(
            random_block_assignment(6, 3, global_blocks=count, rng=0), np.full((6, 3), -1)
        )
        assert block_pattern(6, global_blocks=count).all()
        out, w = bigbird_attention(q, k, v, block=b, global_blocks=count, return_weights=True)
        assert w.global_blocks == tuple(range(6))
        assert_attention_close(out, softmax_attention(q, k, v))


# --- the working-set refusal (9.5) --------------------------------------------------------


def test_a_block_whose_working_set_cannot_fit_is_refused_before_allocating(monkeypatch):
    from refattn import backend

    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: 1000)
    q = np.zeros((64, 1))
    needed = complexity.bigbird_memory(64, 1, 1, block=64, g=0, r=0) * 8

    def refused():
        with pytest.raises(
            MemoryError,
            match=rf"bigbird_attention with block = 64: its working set .*\({needed} bytes\) "
            r"needs .* GiB, more than .* available; pass a smaller block",
        ):
            bigbird_attention(q, q, q, block=64)

    _, peak = peak_memory(refused, np)
    assert peak < needed


def test_the_block_refusal_agrees_with_the_memory_formula(monkeypatch):
    from refattn import backend

    g = rng(0, xp="numpy")
    q, k, v = (g.normal(size=(32, 3)) for _ in range(3))
    slots = random_block_assignment(8, 2, global_blocks=1, rng=1, xp="numpy")
    expected = bigbird_attention(q, k, v, block=4, global_blocks=1, random_blocks=slots)
    monkeypatch.setattr(backend, "_ALWAYS_AFFORDABLE", 0)
    needed = complexity.bigbird_memory(32, 3, 3, block=4, g=1, r=slots.shape[-1]) * 8
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: needed)
    out = bigbird_attention(q, k, v, block=4, global_blocks=1, random_blocks=slots)
    assert np.array_equal(out, expected)
    monkeypatch.setattr(backend, "_available_bytes", lambda xp: needed - 1)
    with pytest.raises(MemoryError, match="block = 4"):
        bigbird_attention(q, k, v, block=4, global_blocks=1, random_blocks=slots)


def test_a_real_block_of_sixty_thousand_is_refused():
    from refattn import backend

    n = 60_000
    if complexity.bigbird_memory(n, 1, 1, block=n, g=0, r=0) * 8 <= backend._available_bytes(np):
        pytest.skip("this machine has the memory the block needs")
    q = np.zeros((n, 1))
    with pytest.raises(MemoryError, match=r"bigbird_attention with block = 60000"):
        bigbird_attention(q, q, q, block=n)
