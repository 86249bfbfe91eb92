"""Sparse Transformer: the strided and fixed patterns equal masked dense attention, in O(n·√n).

Equation numbers refer to derivations/08-sparse-transformer.md.  The dense
oracle's mask is built here, independently, by listing each query's keys
from the paper's sets (loops, not the modular arithmetic of the module).
"""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refattn import complexity, softmax_attention
from refattn.backend import peak_memory, rng, to_numpy
from refattn.sparse_transformer import (
    sparse_transformer_attention,
    sparse_transformer_pattern,
    two_hop_reach,
)
from refattn.testing import assert_attention_close


def _paper_sets(n, kind, l, c, heads, causal):  # noqa: E741  (the paper's l)
    """The pattern as lists of keys per query, from the sets of (8.1)-(8.2), 0-indexed."""
    allowed = np.zeros((n, n), dtype=bool)
    for i in range(n):
        first, second = set(), set()
        if kind == "strided":
            first.update(range(max(0, i - l + 1), i + 1))  # the last l positions
            first.update(() if causal else range(i, min(n, i + l)))  # and the next l − 1
            second.update(range(i, -1, -l))  # every l-th earlier position, i itself
            second.update(() if causal else range(i, n, l))
        else:
            start = (i // l) * l
            first.update(range(start, min(n, start + l)))  # the own block
            for block in range(0, n, l):  # the last c positions of every block
                second.update(range(block + l - c, min(n, block + l)))
        keys = {"union": first | second, "first": first, "second": second}[heads]
        for j in keys:
            if j <= i or not causal:
                allowed[i, j] = True
    return allowed


@st.composite
def sparse_cases(draw, *, max_n=80):
    """n, kind, stride, summary, heads, causal, padding flag, dtype, batch, seed."""
    n = draw(st.integers(1, max_n), label="n")
    kind = draw(st.sampled_from(["strided", "fixed"]), label="kind")
    stride = draw(st.integers(1, n + 3), label="stride")
    summary = draw(st.integers(1, stride), label="summary") if kind == "fixed" else None
    heads = draw(st.sampled_from(["union", "first", "second"]), label="heads")
    causal = draw(st.booleans(), label="causal")
    padded = draw(st.booleans(), label="padding")
    dtype = draw(st.sampled_from(["float32", "float64"]), label="dtype")
    batch = draw(st.sampled_from([(), (2,), (2, 3)]), label="batch")
    seed = draw(st.integers(0, 2**16), label="seed")
    return n, kind, stride, summary, heads, causal, padded, dtype, batch, seed


def _inputs(xp, n, dtype, batch, seed, padded, d=4):
    g = rng(seed, xp)
    q, k, v = (g.standard_normal(batch + (n, d), dtype=dtype) for _ in range(3))
    mask = (g.random(batch + (1, n)) < 0.8) if padded else None  # key padding (..., 1, n)
    return q, k, v, mask


# --- (8.1)-(8.3), (8.5) equality with masked dense attention -------------------------------


@given(case=sparse_cases())
def test_equals_masked_dense_attention(xp, case):
    n, kind, stride, summary, heads, causal, padded, dtype, batch, seed = case
    q, k, v, mask = _inputs(xp, n, dtype, batch, seed, padded)
    options = dict(kind=kind, stride=stride, summary=summary, heads=heads)
    got = sparse_transformer_attention(q, k, v, mask=mask, causal=causal, **options)
    allowed = xp.asarray(_paper_sets(n, kind, stride, summary, heads, causal))
    expected = softmax_attention(q, k, v, mask=allowed if mask is None else allowed & mask)
    assert got.dtype == np.dtype(dtype)
    assert got.shape == batch + (n, 4)
    assert_attention_close(got, expected)


@given(case=sparse_cases(max_n=40))
def test_weights_are_the_dense_weights_on_the_pattern(xp, case):
    n, kind, stride, summary, heads, causal, padded, _, batch, seed = case
    q, k, v, mask = _inputs(xp, n, "float64", batch, seed, padded)
    options = dict(kind=kind, stride=stride, summary=summary, heads=heads)
    out, weights = sparse_transformer_attention(
        q, k, v, mask=mask, causal=causal, return_weights=True, **options
    )
    allowed = xp.asarray(_paper_sets(n, kind, stride, summary, heads, causal))
    full = allowed if mask is None else allowed & mask
    _, dense = softmax_attention(q, k, v, mask=full, return_weights=True)
    assert_attention_close(weights.to_dense(), dense)
    assert_attention_close(weights.to_dense() @ v, out)


@given(
    n=st.integers(1, 60),
    kind=st.sampled_from(["strided", "fixed"]),
    data=st.data(),
    heads=st.sampled_from(["union", "first", "second"]),
    causal=st.booleans(),
)
def test_pattern_is_the_papers_sets_0_indexed(n, kind, data, heads, causal):
    stride = data.draw(st.integers(1, n + 3), label="stride")
    summary = data.draw(st.integers(1, stride), label="summary") if kind == "fixed" else None
    got = sparse_transformer_pattern(
        n, kind=kind, stride=stride, summary=summary, heads=heads, causal=causal
    )
    np.testing.assert_array_equal(got, _paper_sets(n, kind, stride, summary, heads, causal))


def test_pattern_small_examples():
    # strided, l = 3, causal: the last 3 positions, and every 3rd earlier one
    strided = sparse_transformer_pattern(8, kind="strided", stride=3, causal=True)
    assert np.flatnonzero(strided[7]).tolist() == [1, 4, 5, 6, 7]
    # fixed, l = 4, c = 2: the own block and the last 2 positions of every block
    fixed = sparse_transformer_pattern(12, kind="fixed", stride=4, summary=2, causal=True)
    assert np.flatnonzero(fixed[9]).tolist() == [2, 3, 6, 7, 8, 9]
    second = sparse_transformer_pattern(
        12, kind="fixed", stride=4, summary=2, heads="second", causal=False
    )
    assert np.flatnonzero(second[0]).tolist() == [2, 3, 6, 7, 10, 11]


def test_summary_columns_are_the_last_c_of_each_block():
    # (8.2)  the paper writes j mod l ∈ {l − c, …, l} for 1-indexed j; refattn keeps the last c
    # positions of each block, j mod l ∈ {l − c, …, l − 1} 0-indexed, exactly c per block
    n, l, c = 24, 6, 2  # noqa: E741
    second = sparse_transformer_pattern(n, kind="fixed", stride=l, summary=c, heads="second")
    columns = np.flatnonzero(second[0])
    assert columns.tolist() == [4, 5, 10, 11, 16, 17, 22, 23]
    # two other readings found in reference code keep c + 1 columns per block:
    literal = [j for j in range(n) if (j + 1) % l in {*range(l - c, l), 0}]  # {l − c, …, l}
    first_and_last = [j for j in range(n) if j % l == 0 or j % l >= l - c]
    assert literal == [3, 4, 5, 9, 10, 11, 15, 16, 17, 21, 22, 23]
    assert first_and_last == [0, 4, 5, 6, 10, 11, 12, 16, 17, 18, 22, 23]
    assert set(columns) < set(literal)
    assert set(columns) < set(first_and_last)


# --- (8.4) two hops reach every earlier position --------------------------------------------


@pytest.mark.parametrize("kind", ["strided", "fixed"])
@pytest.mark.parametrize(("n", "stride"), [(36, 6), (37, 6), (50, 7), (64, 8), (10, 1), (9, 20)])
def test_two_hops_reach_every_earlier_position(kind, n, stride):
    summary = 2 if kind == "fixed" and stride >= 2 else (1 if kind == "fixed" else None)
    opts = dict(kind=kind, stride=stride, summary=summary, causal=True)
    first = sparse_transformer_pattern(n, heads="first", **opts)
    second = sparse_transformer_pattern(n, heads="second", **opts)
    union = sparse_transformer_pattern(n, heads="union", **opts)
    triangle = np.tril(np.ones((n, n), dtype=bool))
    # head 1, then head 2 (with the residual path): exactly the causal triangle
    np.testing.assert_array_equal(two_hop_reach(first, second), triangle)
    # the merged head reaches everything in two of its own hops
    np.testing.assert_array_equal((union.astype(int) @ union.astype(int)) > 0, triangle)
    if kind == "strided":
        # both strided heads hold the diagonal: the plain boolean product already covers it
        np.testing.assert_array_equal((second.astype(int) @ first.astype(int)) > 0, triangle)


def test_the_summary_head_must_come_second():
    # (8.4)  fixed, in the other order: a query reaches the summaries of earlier blocks, but not
    # their other positions; one head alone covers much less
    n, l, c = 36, 6, 1  # noqa: E741
    opts = dict(kind="fixed", stride=l, summary=c, causal=True)
    first = sparse_transformer_pattern(n, heads="first", **opts)
    second = sparse_transformer_pattern(n, heads="second", **opts)
    reversed_reach = two_hop_reach(second, first)
    assert not reversed_reach[n - 1, 0]
    assert reversed_reach[n - 1, l - 1]  # a summary position
    assert first.sum() < n * (n + 1) // 2 and second.sum() < n * (n + 1) // 2


def test_bidirectional_two_hops_reach_everything_when_blocks_are_whole():
    for kind, summary in (("strided", None), ("fixed", 2)):
        opts = dict(kind=kind, stride=6, summary=summary, causal=False)
        first = sparse_transformer_pattern(36, heads="first", **opts)
        second = sparse_transformer_pattern(36, heads="second", **opts)
        assert two_hop_reach(first, second).all(), kind


# --- (8.6) memory and flops ----------------------------------------------------------------


def _peak_bytes(n, **options):
    q, k, v = (rng(s, np).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3))
    return peak_memory(lambda: sparse_transformer_attention(q, k, v, **options), np)[1]


BENCH_LIKE = {
    "strided": lambda n: dict(kind="strided", stride=math.isqrt(n - 1) + 1),
    "fixed": lambda n: dict(kind="fixed", stride=math.isqrt(8 * n - 1) + 1, summary=8),
}


@pytest.mark.parametrize("kind", ["strided", "fixed"])
def test_memory_matches_the_formula_and_grows_as_n_sqrt_n(kind):
    peaks = {}
    for n in (4096, 16384):
        options = BENCH_LIKE[kind](n)
        peaks[n] = peak = _peak_bytes(n, causal=True, **options)
        model = 4 * complexity.sparse_transformer_memory(n, 64, causal=True, **options)
        assert 0.9 * model <= peak <= 1.1 * model, (n, peak, model)
    # 4× the length: the formula's growth, between linear (4×) and quadratic (16×): its
    # n·√n scores grow 8×, its n·d terms (queries, keys, values, numerators) 4×
    growth = peaks[16384] / peaks[4096]
    model_growth = complexity.sparse_transformer_memory(
        16384, 64, causal=True, **BENCH_LIKE[kind](16384)
    ) / complexity.sparse_transformer_memory(4096, 64, causal=True, **BENCH_LIKE[kind](4096))
    assert 0.95 <= growth / model_growth <= 1.05, (growth, model_growth)  # measured: 0.99, 1.00
    assert 4.4 <= growth <= 12, peaks
    # and far below dense attention's n² scores
    assert peaks[16384] < 4 * complexity.dense_attention_memory(16384, d=64) / 10


@pytest.mark.parametrize("heads", ["union", "first", "second"])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize(
    "options",
    [
        {"kind": "strided", "stride": 50},
        {"kind": "fixed", "stride": 37, "summary": 3},
        {"kind": "fixed", "stride": 64, "summary": 8},
    ],
    ids=["strided-50", "fixed-37-3", "fixed-64-8"],
)
def test_memory_formula_holds_for_every_head_choice(options, causal, heads):
    peak = _peak_bytes(4000, causal=causal, heads=heads, **options)
    model = 4 * complexity.sparse_transformer_memory(
        4000, 64, causal=causal, heads=heads, **options
    )
    assert 0.9 * model <= peak <= 1.1 * model, (peak, model)


def test_flop_formula_counts_the_grid_products():
    n, l = 16384, 128  # noqa: E741
    pairs = n * (2 * l + n // l)  # local 2l keys per row, stride n/l per column, causal
    flops = complexity.sparse_transformer_flops(n, kind="strided", stride=l, causal=True)
    assert flops == complexity.pattern_flops(pairs) + n * 128 + 3 * n * 64 + 8 * n
    dense = complexity.dense_attention_flops(n)
    assert dense / flops > 40  # 384 scores per query instead of 16384
    fixed = complexity.sparse_transformer_flops(n, kind="fixed", stride=363, summary=8, causal=True)
    assert dense / fixed > 20


# --- bad inputs ------------------------------------------------------------------------------


Q, K, V = (np.random.default_rng(0).standard_normal((8, 3)) for _ in range(3))

# fmt: off
BAD_INPUTS = {
    "kind-unknown": ({"kind": "dilated", "stride": 2}, ValueError, r"kind must be one of 'strided', 'fixed', got 'dilated'"),
    "stride-missing": ({"kind": "strided"}, TypeError, r"missing 1 required keyword-only argument: 'stride'"),
    "stride-zero": ({"stride": 0}, ValueError, r"stride must be an integer >= 1, got 0"),
    "stride-float": ({"stride": 2.0}, TypeError, r"stride must be an integer >= 1, got 2.0"),
    "summary-with-strided": ({"kind": "strided", "stride": 2, "summary": 1}, ValueError, r"summary is only used with kind='fixed'"),
    "summary-zero": ({"kind": "fixed", "stride": 4, "summary": 0}, ValueError, r"summary must be an integer >= 1, got 0"),
    "summary-above-stride": ({"kind": "fixed", "stride": 4, "summary": 5}, ValueError, r"summary must be an integer in \[1, stride\] = \[1, 4\].*got 5"),
    "heads-unknown": ({"stride": 2, "heads": "both"}, ValueError, r"heads must be one of 'union', 'first', 'second', got 'both'"),
    "mask-2d": ({"stride": 2, "mask": np.ones((8, 8), bool)}, ValueError, r"cannot apply a mask of shape \(8, 8\) with a query axis: an n×m mask cannot be applied in linear time"),
    "mask-shape": ({"stride": 2, "mask": np.ones(7, bool)}, ValueError, r"mask must be broadcastable to \(\.\.\., n, m\) = \(8, 8\), got shape \(7,\)"),
    "mask-not-bool": ({"stride": 2, "mask": np.ones((1, 8))}, TypeError, r"mask must be a boolean array"),
    "causal-not-bool": ({"stride": 2, "causal": 1}, TypeError, r"causal must be True or False, got 1"),
    "scale-negative": ({"stride": 2, "scale": -1.0}, ValueError, r"scale must be a finite real number > 0 or None, got -1.0"),
}
# fmt: on


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in BAD_INPUTS.items()],
)
def test_sparse_transformer_attention_rejects(xp, kwargs, error, fragment):
    kwargs = {
        key: xp.asarray(value) if isinstance(value, np.ndarray) else value
        for key, value in kwargs.items()
    }
    with pytest.raises(error, match=fragment):
        sparse_transformer_attention(xp.asarray(Q), xp.asarray(K), xp.asarray(V), **kwargs)


def test_cross_attention_is_rejected(xp):
    q, k, v = (xp.asarray(a) for a in (Q, K[:5], V[:5]))
    with pytest.raises(ValueError, match=r"needs as many keys as queries .*one sequence of n"):
        sparse_transformer_attention(q, k, v, stride=2)


def test_pattern_rejects():
    with pytest.raises(ValueError, match=r"n must be an integer >= 1 and <= 32768, got 0"):
        sparse_transformer_pattern(0, stride=2)
    with pytest.raises(TypeError, match=r"causal must be True or False, got None"):
        sparse_transformer_pattern(4, stride=2, causal=None)
    with pytest.raises(ValueError, match=r"summary must be an integer in \[1, stride\]"):
        sparse_transformer_pattern(4, kind="fixed", stride=2, summary=3)


def test_inputs_are_never_modified(xp):
    q, k, v, mask = _inputs(xp, 23, "float32", (2,), 1, True)
    before = [to_numpy(a).copy() for a in (q, k, v, mask)]
    for kind, summary in (("strided", None), ("fixed", 2)):
        for heads in ("union", "first", "second"):
            sparse_transformer_attention(
                q, k, v, mask=mask, kind=kind, stride=5, summary=summary, heads=heads,
                causal=True, return_weights=True,
            )  # fmt: skip
    for b, a in zip(before, (q, k, v, mask), strict=True):
        np.testing.assert_array_equal(to_numpy(a), b)


# --- (8.8) a stride beyond n, and logits that overflow -------------------------------------


@pytest.mark.parametrize(
    ("kind", "summary", "heads"),
    [
        ("strided", None, "union"),
        ("strided", None, "second"),
        ("fixed", 2, "union"),
        ("fixed", 3, "second"),  # stride n + 2 keeps 1 summary position, 10**30 none
        ("fixed", 1, "second"),  # no summary position inside the sequence
    ],
)
@pytest.mark.parametrize("causal", [False, True])
def test_a_stride_beyond_n_costs_what_stride_n_costs(kind, summary, heads, causal):
    n = 7
    q, k, v = (rng(3, np).standard_normal((n, 4)) for _ in range(3))
    options = dict(kind=kind, summary=summary, heads=heads, causal=causal)
    _, peak_n = peak_memory(lambda: sparse_transformer_attention(q, k, v, stride=n, **options), np)
    for stride in (n + 2, 10**30):
        allowed = _paper_sets(n, kind, stride, summary, heads, causal)
        assert (sparse_transformer_pattern(n, stride=stride, **options) == allowed).all()
        got, peak = peak_memory(
            lambda s=stride: sparse_transformer_attention(q, k, v, stride=s, **options), np
        )
        assert_attention_close(got, softmax_attention(q, k, v, mask=allowed))
        assert peak <= 1.25 * peak_n, (stride, peak, peak_n)


@pytest.mark.parametrize("kind", ["strided", "fixed"])
@pytest.mark.parametrize("sign", [1.0, -1.0])
def test_overflowing_logits_raise(kind, sign):
    q, k, v = (rng(4, np).standard_normal((12, 4)) for _ in range(3))
    # query 0's logits are ±1e40, finite in float64, not float32, all of one sign; the
    # others' ~1e20 fit: a check that misses -inf (an overflow taken for 'masked') fails
    big_q, big_k = abs(q), sign * 1e20 * abs(k)
    big_q[0] *= 1e20
    want = softmax_attention(
        big_q, big_k, v, mask=sparse_transformer_pattern(12, kind=kind, stride=3)
    )
    got = sparse_transformer_attention(big_q, big_k, v, kind=kind, stride=3)
    assert_attention_close(got, want)
    f32 = [x.astype(np.float32) for x in (big_q, big_k, v)]
    with pytest.raises(FloatingPointError, match=r"logit scale·q·k overflows float32"):
        sparse_transformer_attention(*f32, kind=kind, stride=3)
    huge_v = np.full((12, 4), 3e38, dtype=np.float32)
    with pytest.raises(FloatingPointError, match=r"weighted sum of v overflows float32"):
        sparse_transformer_attention(f32[0] * 0, f32[1] * 0, huge_v, kind=kind, stride=3)
