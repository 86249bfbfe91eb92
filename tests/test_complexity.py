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
    chunk = 64  # 5 chunks of keys: 4 merges, each 3·n·d_v + 9·n
    extra = 4 * (3 * n * d_v + 9 * n)
    assert complexity.chunked_attention_flops(n, m, d, d_v, chunk=chunk) == (
        complexity.dense_attention_flops(n, m, d, d_v) + extra
    )


def test_chunk_larger_than_m_holds_at_most_m_scores_per_row():
    assert (
        complexity.chunked_attention_memory(10, m=3, d=2, chunk=256) == 10 * 3 + 10 * 2 + 2 * 10 * 2
    )
