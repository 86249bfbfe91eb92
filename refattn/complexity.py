"""Analytic working set and flop count of every mechanism in refattn.

These formulas say what each implementation allocates and computes, term by
term, so that tests can hold the code to them (peak memory measured with
tracemalloc, compared by ratio) and figures can draw them next to
measurements.  Conventions:

* **Working set** counts array *elements* allocated inside the call and alive
  at its peak, the result included and the inputs excluded; multiply by the
  dtype's itemsize for bytes.  Terms that are ``O(n)`` (per-row maxima and
  sums) and boolean masks are left out; the docstrings say so where they are
  not negligible.
* **Flops** count a multiply-add as 2, and every elementwise operation
  (``exp`` included) as 1.

One head; leading batch/head axes multiply everything.  Derivations:
``derivations/00-exact-attention.md`` (0.2) and (0.5).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "MECHANISMS",
    "Cost",
    "chunked_attention_flops",
    "chunked_attention_memory",
    "dense_attention_flops",
    "dense_attention_memory",
]


def dense_attention_memory(
    n: int, m: int | None = None, d: int = 64, d_v: int | None = None
) -> int:
    """Elements held by :func:`refattn.softmax_attention` at its peak (0.2).

    The ``n × m`` score matrix (exponentiated and normalised in place) plus the
    scaled queries ``n·d`` and the output ``n·d_v``: ``n·m + n·d + n·d_v``.
    A ``mask`` or ``causal=True`` adds an ``n × m`` boolean array on top.

    >>> dense_attention_memory(1024, d=64)
    1179648
    """
    m, d_v = _defaults(n, m, d, d_v)
    return n * m + n * d + n * d_v


def dense_attention_flops(n: int, m: int | None = None, d: int = 64, d_v: int | None = None) -> int:
    """Flops of :func:`refattn.softmax_attention` (0.2).

    ``2·n·m·d`` for ``Q Kᵀ``, ``2·n·m·d_v`` for ``E V``, ``4·n·m`` for the
    softmax (row max, subtract, exp, row sum), ``n·d`` to scale ``Q`` and
    ``n·d_v`` to divide the output by the row sums.
    """
    m, d_v = _defaults(n, m, d, d_v)
    return 2 * n * m * (d + d_v) + 4 * n * m + n * (d + d_v)


def chunked_attention_memory(
    n: int, m: int | None = None, d: int = 64, d_v: int | None = None, *, chunk: int = 256
) -> int:
    """Elements held by :func:`refattn.chunked_attention` at its peak (0.5).

    One chunk of scores ``n·c`` (with ``c = min(chunk, m)``), the scaled
    queries ``n·d``, the running numerator ``n·d_v`` and the product of the
    chunk with its values ``n·d_v``: ``n·c + n·d + 2·n·d_v``, linear in ``n``
    and independent of ``m``.  About ``8·n`` elements of running maxima and
    sums come on top; ``causal=True`` adds an ``n × c`` boolean array.

    >>> chunked_attention_memory(16384, d=64, chunk=256)
    7340032
    """
    m, d_v = _defaults(n, m, d, d_v, chunk)
    return n * min(chunk, m) + n * d + 2 * n * d_v


def chunked_attention_flops(
    n: int, m: int | None = None, d: int = 64, d_v: int | None = None, *, chunk: int = 256
) -> int:
    """Flops of :func:`refattn.chunked_attention` (0.4).

    Those of dense attention, plus one merge of partial softmaxes per chunk
    after the first (:func:`refattn.softmax.merge_partials_`): rescaling and
    adding the two numerators, ``3·n·d_v``, and ``9·n`` for the new maximum,
    its shift, the two correction factors and the normaliser update.
    """
    m, d_v = _defaults(n, m, d, d_v, chunk)
    merges = -(-m // chunk) - 1
    return dense_attention_flops(n, m, d, d_v) + merges * (3 * n * d_v + 9 * n)


@dataclass(frozen=True)
class Cost:
    """The working-set and flop formulas of one mechanism, by its benchmark name."""

    memory: Callable[..., int]
    flops: Callable[..., int]


#: Formulas by mechanism name (the names ``refattn bench`` and the figures use).
MECHANISMS: dict[str, Cost] = {
    "softmax": Cost(dense_attention_memory, dense_attention_flops),
    "chunked": Cost(chunked_attention_memory, chunked_attention_flops),
}


def _defaults(n, m, d, d_v, chunk=None):
    for name, value in (("n", n), ("m", m), ("d", d), ("d_v", d_v), ("chunk", chunk)):
        if value is not None and value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return (n if m is None else m), (d if d_v is None else d_v)
