"""complexity.py: the formulas agree with each other and with the mechanisms' names."""

import pytest

from refattn import complexity


def test_the_old_formula_table_names_the_registry():
    # the per-mechanism formulas now live in the registry; the old name says where
    with pytest.raises(AttributeError, match=r"refattn\.mechanisms\.REGISTRY"):
        complexity.MECHANISMS  # noqa: B018


def test_dense_memory_is_quadratic_and_chunked_linear():
    d = complexity.dense_attention_memory
    c = complexity.chunked_attention_memory
    assert d(4096) / d(2048) == pytest.approx(4, rel=0.1)
    assert c(4096) / c(2048) == 2
    assert c(2048, m=10**6) == c(2048, m=2048)  # independent of the number of keys


def test_flops_count_the_two_matmuls_and_the_softmax():
    n, m, d, d_v = 100, 300, 16, 8
    matmuls = 2 * n * m * d + 2 * n * m * d_v
    assert complexity.dense_attention_flops(n, m, d, d_v) == matmuls + 4 * n * m + n * (d + d_v)
    chunk = 64  # 5 chunks of keys: 4 merges, each 3·n·d_v + 8·n (counted in test_flop_counts)
    extra = 4 * (3 * n * d_v + 8 * n)
    assert complexity.chunked_attention_flops(n, m, d, d_v, chunk=chunk) == (
        complexity.dense_attention_flops(n, m, d, d_v) + extra
    )


def test_chunk_larger_than_m_holds_at_most_m_scores_per_row():
    assert (
        complexity.chunked_attention_memory(10, m=3, d=2, chunk=256) == 10 * 3 + 10 * 2 + 2 * 10 * 2
    )


def test_a_window_past_the_sequence_adds_no_key():
    # (1.2)  the one-sided reach is capped at L − 1: a longer window reads the same keys,
    # so the layout and both formulas are those of window = L − 1
    n = 37
    capped = complexity.band_geometry(n, n - 1)
    for window in (n, n + 1, 10 * n):
        assert complexity.band_geometry(n, window) == capped
        assert complexity.sliding_window_flops(n, 5, window=window) == (
            complexity.sliding_window_flops(n, 5, window=n - 1)
        )
        assert complexity.sliding_window_memory(n, 5, window=window) == (
            complexity.sliding_window_memory(n, 5, window=n - 1)
        )
    assert complexity.band_geometry(n, n - 2) != capped  # below the cap the window matters


def test_causal_bands_read_no_key_to_the_right():
    for causal_flops, full_flops in (
        (
            complexity.adaptive_span_flops(512, span=30, ramp=8, causal=True),
            complexity.adaptive_span_flops(512, span=30, ramp=8, causal=False),
        ),
        (
            complexity.sliding_window_flops(512, window=30, causal=True),
            complexity.sliding_window_flops(512, window=30, causal=False),
        ),
    ):
        assert causal_flops < full_flops
    assert complexity.span_geometry(64, 64, 9, causal=True).right == 0
    assert complexity.band_geometry(64, 9, causal=True).right == 0


@pytest.mark.parametrize(
    ("formula", "beyond", "at_n"),
    [
        ("sliding_window", {"dilation": 10**9}, {"dilation": 37}),
        ("bigbird", {"block": 10**9}, {"block": 37}),
        ("lsh_attention", {"chunk": 10**9}, {"chunk": 37}),
        ("sparse_transformer", {"stride": 10**9}, {"stride": 37}),
        (
            "sparse_transformer",
            {"kind": "fixed", "stride": 40, "summary": 5},
            {"kind": "fixed", "stride": 37, "summary": 2},
        ),
    ],
)
def test_a_size_beyond_n_costs_what_the_mechanism_computes_instead(formula, beyond, at_n):
    # the mechanisms compute a dilation, block, chunk or stride beyond n as n (the fixed
    # pattern keeping only its summary positions inside the sequence): so must the formulas
    n = 37
    for kind in ("memory", "flops"):
        f = getattr(complexity, f"{formula}_{kind}")
        assert f(n, **beyond) == f(n, **at_n), (formula, kind)
