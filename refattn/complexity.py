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
  (``exp`` included) as 1: a matrix product ``(a × b)·(b × c)`` is
  ``2·a·b·c``, an elementwise operation with ``N`` floating results ``N``,
  and a reduction (sum, max) along an axis over ``N`` floating elements
  ``N``.  Copies, padding, gathers, comparisons and other boolean or integer
  work are not flops, nor are input checks (finiteness flags, overflow
  bounds) and arithmetic on single numbers.  ``tests/test_flop_counts.py``
  counts the operations of the implementations this way and holds these
  formulas to the count (exactly, or to the precision of a formula that says
  it counts only the leading terms).

Every formula checks its arguments as the mechanisms do: sizes are integers
(NumPy integers and 0-d integer arrays accepted, bool and floats not) in their
domain, ``causal`` and ``keep_cls`` are booleans, ``kind`` and ``heads`` one
of their choices; a wrong one raises ``TypeError`` or ``ValueError`` naming it.

One head; leading batch/head axes multiply everything.  Derivations:
``derivations/00-exact-attention.md`` (0.2) and (0.5).
"""

from __future__ import annotations

import functools
import inspect
import math
from dataclasses import dataclass

from ._validation import check_bool, check_choice, check_int, check_real
from .backend import did_you_mean

__all__ = [
    "absolute_position_flops",
    "alibi_flops",
    "band_geometry",
    "bigbird_flops",
    "bigbird_memory",
    "chunked_attention_flops",
    "chunked_attention_memory",
    "compressive_attention_flops",
    "compressive_attention_memory",
    "compressive_memory_flops",
    "compressive_memory_memory",
    "dense_attention_flops",
    "dense_attention_memory",
    "favor_flops",
    "favor_memory",
    "funnel_flops",
    "funnel_memory",
    "linear_attention_flops",
    "linear_attention_memory",
    "linformer_flops",
    "linformer_memory",
    "lsh_attention_flops",
    "lsh_attention_memory",
    "position_infused_flops",
    "relative_position_flops",
    "rotary_flops",
    "sliding_window_flops",
    "sliding_window_memory",
    "sparse_transformer_flops",
    "sparse_transformer_memory",
    "span_geometry",
    "xl_attention_flops",
    "xl_attention_memory",
    "xl_flops",
    "xl_memory",
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
    m, d_v = _defaults(n, m, d, d_v)
    return n * min(chunk, m) + n * d + 2 * n * d_v


def chunked_attention_flops(
    n: int, m: int | None = None, d: int = 64, d_v: int | None = None, *, chunk: int = 256
) -> int:
    """Flops of :func:`refattn.chunked_attention` (0.4).

    Those of dense attention, plus one merge of partial softmaxes per chunk
    after the first (:func:`refattn.softmax.merge_partials_`): rescaling and
    adding the two numerators, ``3·n·d_v``, and ``8·n`` for the new maximum
    (``n``), the two shifts and their exponentials (``4·n``, the correction
    factors) and the normaliser update (``3·n``).
    """
    m, d_v = _defaults(n, m, d, d_v)
    merges = -(-m // chunk) - 1
    return dense_attention_flops(n, m, d, d_v) + merges * (3 * n * d_v + 8 * n)


# --- Longformer (derivations/01-longformer.md) ------------------------------------------

#: Queries per block are at least this many (when the sequence is that long), so
#: that a small window still feeds the matrix products reasonably sized blocks.
MIN_BLOCK = 16


@dataclass(frozen=True)
class BandGeometry:
    """How :func:`refattn.longformer.sliding_window_attention` lays out the band (1.2)-(1.3).

    Position ``i = s·δ + r`` is step ``s`` of residue class ``r``; each class has
    ``length = ⌈n/δ⌉`` steps, cut into ``blocks`` blocks of ``block`` queries.
    A block reads the ``keys_per_block = block + left + right`` steps starting
    ``left`` before it.  ``window`` is the one-sided reach, capped at
    ``length − 1`` (a longer reach adds no key).
    """

    n: int
    dilation: int
    length: int
    window: int
    left: int
    right: int
    block: int
    blocks: int

    @property
    def keys_per_block(self) -> int:
        return self.block + self.left + self.right

    @property
    def padded(self) -> int:
        """Query positions after padding every class to whole blocks: ``δ·B·c >= n``."""
        return self.dilation * self.blocks * self.block


def band_geometry(n: int, window: int, dilation: int = 1, causal: bool = False) -> BandGeometry:
    """The block layout of a sliding window: ``c = max(w, min(MIN_BLOCK, L))``, ``L = ⌈n/δ⌉``.

    >>> g = band_geometry(4096, 64)
    >>> g.block, g.blocks, g.keys_per_block
    (64, 64, 192)
    """
    dilation = min(dilation, n)  # (1.5)  a dilation of n or more is computed as n
    length = -(-n // dilation)
    w = min(window, length - 1)
    block = max(w, min(MIN_BLOCK, length))
    return BandGeometry(n, dilation, length, w, w, 0 if causal else w, block, -(-length // block))


def full_attention_scores(n: int) -> int:
    """Scores of full self-attention over ``n`` tokens: ``n²`` (the reading-group post's count)."""
    return n * n


def window_scores(n: int, window: int, *, causal: bool = False) -> int:
    """Scores of a sliding window with one-sided reach ``w``: ``(2w + 1)·n``, ``(w + 1)·n`` causal.

    The reading-group post's ``w·n`` with ``w`` the *total* window; positions that fall off
    the ends of the sequence are counted too (an upper bound by ``w²``).
    """
    return (window + 1 if causal else 2 * window + 1) * n


def window_global_scores(n: int, window: int, g: int) -> int:
    """Window plus ``g`` symmetric global tokens: ``(2w + 1)·n + 2·g·n`` (the post: ``w·n + g·n``).

    The global rows add ``g·n`` scores and the global columns another ``g·n``.
    """
    return window_scores(n, window) + 2 * g * n


def led_full_scores(n_s: int, n_t: int) -> int:
    """Encoder–decoder with full attention: ``n_s² + n_s·n_t + n_t²``."""
    return n_s * n_s + n_s * n_t + n_t * n_t


def led_scores(n_s: int, n_t: int, window: int, g: int) -> int:
    """LED: local+global encoder, full cross- and decoder attention.

    ``(2w + 1)·n_s + 2·g·n_s + n_s·n_t + n_t²`` (the post's ``w·n_s + g·n_s + n_s·n_t + n_t²``).
    """
    return window_global_scores(n_s, window, g) + n_s * n_t + n_t * n_t


def pattern_flops(scores: int, d: int = 64, d_v: int | None = None) -> int:
    """Flops of attention restricted to a pattern of ``scores`` allowed pairs.

    Each pair costs a ``d``-dot product (``2d``), its share of the weighted
    sum of values (``2d_v``) and 4 softmax operations (max, subtract, exp, sum).
    Apply it to any of the score counts above.
    """
    d_v = d if d_v is None else d_v
    return scores * (2 * d + 2 * d_v + 4)


def sliding_window_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    window: int = 64,
    dilation: int = 1,
    causal: bool = False,
    g: int = 0,
) -> int:
    """Elements held by :func:`refattn.longformer.sliding_window_attention` at its peak (1.5).

    With ``N = δ·B·c`` padded positions and ``K`` keys per block
    (:func:`band_geometry`), the largest of three moments:

    * scores computed: the scaled queries ``n·d``, their padded block copy
      ``N·d`` (only when ``N > n``: otherwise the blocks are a reshaped view),
      padded copies of the keys and values ``δ·(B·c + left + right)·(d + d_v)``
      (only when there is padding: the overlapping key windows themselves are
      a strided view, never copies) and the block scores ``N·K``;
    * the weighted sum of values: the scaled queries, the padded values, the
      scores and the numerator ``N·d_v``;
    * padding the values when ``n`` is not a multiple of ``δ``: the residue
      copy ``δ·L·d_v`` and the block-padded copy are briefly both alive;
    * the global part (``g > 0``): ``n·d + 2·n·d_v + 2·g·n``.

    Without ``return_weights``; boolean masks, ``O(n)`` terms and a constant
    of about a megabyte (the matrix product's buffers for the strided key
    windows) left out.

    >>> sliding_window_memory(4096, window=64)  # ≈ 388·n
    1589248
    """
    d_v = d if d_v is None else d_v
    geo = band_geometry(n, window, dilation, causal)
    key_steps = geo.dilation * (geo.blocks * geo.block + geo.left + geo.right)  # after padding
    padded = key_steps > n
    query_copy = geo.padded * d if geo.padded > n else 0
    keys_copy, values_copy = (key_steps * d, key_steps * d_v) if padded else (0, 0)
    scores = geo.padded * geo.keys_per_block
    scores_phase = n * d + query_copy + keys_copy + values_copy + scores
    values_phase = n * d + values_copy + scores + geo.padded * d_v
    residues = geo.dilation * geo.length
    padding_phase = n * d + query_copy + keys_copy + values_copy
    if residues > n and key_steps > residues:
        padding_phase += residues * d_v
    global_phase = n * d + 2 * n * d_v + 2 * g * n if g else 0
    return max(scores_phase, values_phase, padding_phase, global_phase)


def sliding_window_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    window: int = 64,
    dilation: int = 1,
    causal: bool = False,
    g: int = 0,
) -> int:
    """Flops :func:`refattn.longformer.sliding_window_attention` performs (1.5).

    Every block multiplies ``c`` queries by ``K`` keys: ``N·K`` scores at
    :func:`pattern_flops` each (about ``1.5×`` the useful band for ``c = w``).
    Global tokens add ``n·g`` column scores, ``g·n`` row scores, scaling and
    dividing the ``g`` global rows ``g·(d + d_v)`` and one merge
    (``3·n·d_v + 8·n``); scaling the queries costs ``n·d`` and dividing the
    output by the normalisers ``n·d_v``.
    """
    d_v = d if d_v is None else d_v
    geo = band_geometry(n, window, dilation, causal)
    band = pattern_flops(geo.padded * geo.keys_per_block, d, d_v)
    glob = pattern_flops(2 * g * n, d, d_v) + (3 * n * d_v + 8 * n + g * (d + d_v) if g else 0)
    return band + glob + n * (d + d_v)


# --- Performer / FAVOR (derivations/02-performer.md) -----------------------------------------


def _favor_features(m: int, kind: str) -> int:
    return 2 * m if kind in ("hyperbolic", "trig") else m


def favor_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    m: int = 256,
    kind: str = "positive",
    causal: bool = False,
    chunk: int = 256,
) -> int:
    """Elements held by :func:`refattn.performer.favor_attention` at its peak (2.5), (2.6).

    With ``M`` features (``m``, or ``2m`` for hyperbolic and trig):

    * computing the key features while the query features are held:
      ``2·n·M + 2·n·d`` (two ``n × M`` feature arrays, the scaled keys and
      their squares);
    * causal, inside a chunk of ``c = min(chunk, n)`` keys: the query and key
      feature exponents ``2·n·M``, the output ``n·d_v``, the chunk's key
      features twice ``2·c·M`` and about ``3.5·c²`` for the diagonal block.
      Nothing of size ``n·M·d`` is ever held: the prefix sums are one
      ``M × d_v`` state.

    For positive and ReLU features; the trig and hyperbolic maps add transient
    copies while they are built.  ``O(n)`` and ``O(M·d_v)`` terms left out.

    >>> favor_memory(16384, m=256)  # = 640·n
    10485760
    """
    d_v = d if d_v is None else d_v
    features = _favor_features(m, kind)
    total = 2 * n * features + 2 * n * d
    if causal:
        c = min(chunk, n)
        total = max(total, 2 * n * features + n * d_v + 2 * c * features + 7 * c * c // 2)
    return total


def favor_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    m: int = 256,
    kind: str = "positive",
    causal: bool = False,
    chunk: int = 256,
) -> int:
    """Flops of :func:`refattn.performer.favor_attention` (2.5), (2.6).

    The projections ``ωᵀx`` of queries and keys, ``2·(2·n·m·d)``; about
    ``4·n·M`` elementwise operations per feature array (shift, exp, norms);
    ``φ(K)ᵀV`` and ``φ(Q)(φ(K)ᵀV)``, ``2·(2·n·M·d_v)``; the normaliser
    ``4·n·M``.  Causal adds the diagonal blocks, ``n·c·(2M + 2d_v + 3)``.
    """
    d_v = d if d_v is None else d_v
    features = _favor_features(m, kind)
    total = 4 * n * m * d + 8 * n * features + 4 * n * features * d_v + 4 * n * features
    if causal:
        total += n * min(chunk, n) * (2 * features + 2 * d_v + 3)
    return total


# --- Linformer (derivations/04-linformer.md) -----------------------------------------------------


def linformer_memory(n: int, d: int = 64, d_v: int | None = None, *, k: int = 256) -> int:
    """Elements held by :func:`refattn.linformer.linformer_attention` at its peak (4.1).

    The projected keys and values ``k·(d + d_v)``, then exact attention of the
    ``n`` queries over those ``k`` keys (:func:`dense_attention_memory` with
    ``m = k``): ``n·k + n·d + n·d_v``.  Linear in ``n`` for a fixed ``k``.

    >>> linformer_memory(16384, k=256)  # ≈ 384·n
    6324224
    """
    d_v = d if d_v is None else d_v
    return k * (d + d_v) + dense_attention_memory(n, k, d, d_v)


def linformer_flops(n: int, d: int = 64, d_v: int | None = None, *, k: int = 256) -> int:
    """Flops of :func:`refattn.linformer.linformer_attention`: the projections ``2·k·n·(d + d_v)``
    plus exact attention of ``n`` queries over ``k`` keys (:func:`dense_attention_flops`)."""
    d_v = d if d_v is None else d_v
    return 2 * k * n * (d + d_v) + dense_attention_flops(n, k, d, d_v)


# --- Transformer-XL and the Compressive Transformer (derivations/05-compressive.md) ----------


def _segment_projections(n_s, m, d, d_v):
    """The context ``m·d``, its keys and values ``m·(d + d_v)``, the queries ``n_s·d``."""
    return m * d + m * (d + d_v) + n_s * d


def xl_attention_memory(n_s: int, d: int = 64, d_v: int | None = None, *, n_mem: int = 512) -> int:
    """Elements of one segment step of ``compressive_attention`` without cmem (5.4).

    The context ``[memory; segment]`` of ``m = n_mem + n_s`` rows, its keys and
    values and the queries, then :func:`dense_attention_memory` with ``n_s``
    queries and ``m`` keys: ``O(n_s² + n_s·n_mem)`` per layer.
    """
    d_v = d if d_v is None else d_v
    m = n_mem + n_s
    return _segment_projections(n_s, m, d, d_v) + dense_attention_memory(n_s, m, d, d_v)


def xl_attention_flops(n_s: int, d: int = 64, d_v: int | None = None, *, n_mem: int = 512) -> int:
    """Flops of one segment step: projections ``2·(n_s·d² + m·d·(d + d_v))``, attention (5.4)."""
    d_v = d if d_v is None else d_v
    m = n_mem + n_s
    return 2 * (n_s * d * d + m * d * (d + d_v)) + dense_attention_flops(n_s, m, d, d_v)


def compressive_attention_memory(
    n_s: int, d: int = 64, d_v: int | None = None, *, n_mem: int = 512, n_cmem: int = 512
) -> int:
    """Elements of one segment step over ``[cmem; mem; segment]`` (5.4).

    As :func:`xl_attention_memory` with ``n_mem + n_cmem`` memories:
    ``O(n_s² + n_s·n_m + n_s·n_cm)``.
    """
    return xl_attention_memory(n_s, d, d_v, n_mem=n_mem + n_cmem)


def compressive_attention_flops(
    n_s: int, d: int = 64, d_v: int | None = None, *, n_mem: int = 512, n_cmem: int = 512
) -> int:
    """Flops of one segment step over ``[cmem; mem; segment]`` (5.4)."""
    return xl_attention_flops(n_s, d, d_v, n_mem=n_mem + n_cmem)


def _segment_sizes(n, segment, memory, compressed=0, rate=1):
    """The layout of the q/k/v form of XL and compressed memory (5.7), (5.9).

    Returns ``(N, S, W, P, C, NB)``: ``S`` segments of ``n_s = min(segment, n)``
    queries, ``N = S·n_s`` after padding the last; ``W`` raw keys per segment
    (the memory, capped at the last segment's start, plus up to ``rate − 1``
    pending rows with compressed memory, plus the segment); ``P = N + W − n_s``
    rows of padded keys; ``C`` compressed blocks per segment out of the ``NB``
    that are ever read.
    """
    length = min(segment, n)
    count = -(-n // length)
    last = (count - 1) * length
    memory = min(memory, last)
    evicted = last - memory  # positions the last segment no longer holds in memory
    extra = min(rate - 1, evicted) if compressed else 0
    blocks = evicted // rate if compressed else 0
    width = memory + extra + length
    padded = count * length
    return padded, count, width, padded + width - length, min(compressed, blocks), blocks


def _segment_working_set(n, d, d_v, sizes):
    """The peak of the q/k/v form over its phases (5.9); see :func:`xl_memory`."""
    padded, count, width, keys, c, blocks = sizes
    keys_copy, values_copy = (keys * d, keys * d_v) if keys > n else (0, 0)
    held = padded * d_v if c else 0  # the compressed part's numerator, held for the merge
    phases = [
        padded * d + keys_copy + padded * width + held,  # raw scores computed
        padded * width + values_copy + padded * d_v + held,  # raw numerator computed
    ]
    if c:
        gathered = count * c
        phases += [
            padded * d + blocks * d + gathered * d,  # compressed keys gathered per segment
            padded * d + gathered * d + padded * c,  # compressed scores computed
            padded * d + padded * c + blocks * d_v + gathered * d_v,  # compressed values
            padded * d + padded * c + gathered * d_v + padded * d_v,  # compressed numerator
        ]
    return max(phases)


def xl_memory(n: int, d: int = 64, d_v: int | None = None, *, segment=512, memory=512) -> int:
    """Elements held by :func:`refattn.compressive.xl_attention` at its peak (5.9).

    With ``N = S·n_s`` padded queries, ``W = memory + n_s`` keys per segment
    and ``P = N + memory`` rows of padded keys (:func:`_segment_sizes`; the
    memory capped at the last segment's start), the larger of two moments:

    * the scores computed: the scaled queries ``N·d``, the padded keys ``P·d``
      (the per-segment windows are a strided view of them, never copies) and
      the scores ``N·W``;
    * the weighted sum: the scores, the padded values ``P·d_v`` and the
      numerator ``N·d_v``.

    Padding copies are left out when there is none (``memory = 0`` and ``n``
    a multiple of the segment).  Without ``return_weights``; boolean masks and
    ``O(n)`` terms left out.  Linear in ``n`` for a fixed segment and memory:
    about ``n·(W + 2d)``.

    >>> xl_memory(16384, segment=512, memory=512)  # ≈ 1154·n
    18907136
    """
    d_v = d if d_v is None else d_v
    return _segment_working_set(n, d, d_v, _segment_sizes(n, segment, memory))


def xl_flops(n: int, d: int = 64, d_v: int | None = None, *, segment=512, memory=512) -> int:
    """Flops of :func:`refattn.compressive.xl_attention` (5.9).

    Every segment multiplies its ``n_s`` queries by ``W`` keys: ``N·W`` scores
    at :func:`pattern_flops` each, plus ``N·d`` to scale the queries and
    ``N·d_v`` to divide by the normalisers.
    """
    d_v = d if d_v is None else d_v
    padded, _, width, _, _, _ = _segment_sizes(n, segment, memory)
    return pattern_flops(padded * width, d, d_v) + padded * (d + d_v)


def compressive_memory_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    segment=512,
    memory=512,
    compressed=512,
    rate=4,
) -> int:
    """Elements held by :func:`refattn.compressive.compressive_memory_attention` at its peak (5.9).

    The compressed part comes first: the ``NB`` compressed keys ``NB·d``
    gathered per segment ``S·C·d``, their scores ``N·C``, the compressed values
    likewise, and its numerator ``N·d_v``, which is held while the raw part
    runs as in :func:`xl_memory` (with ``W = memory + (rate − 1) + n_s``
    keys per segment for the pending rows).  The largest moment is usually the
    raw scores: ``N·d + P·d + N·W + N·d_v``.  Without ``return_weights``;
    boolean masks and ``O(n)`` terms left out.

    >>> compressive_memory_memory(16384)  # ≈ 1221·n
    20005056
    """
    d_v = d if d_v is None else d_v
    sizes = _segment_sizes(n, segment, memory, compressed, rate)
    return _segment_working_set(n, d, d_v, sizes)


def compressive_memory_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    segment=512,
    memory=512,
    compressed=512,
    rate=4,
) -> int:
    """Flops of :func:`refattn.compressive.compressive_memory_attention` (5.9).

    :func:`xl_flops` with ``W`` raw keys per segment; compressing the keys and
    values, ``2·NB·rate·(d + d_v)``; ``N·C`` compressed scores at
    :func:`pattern_flops` each; one merge of the two partial softmaxes,
    ``3·N·d_v + 8·N`` (as in :func:`chunked_attention_flops`).
    """
    d_v = d if d_v is None else d_v
    padded, _, width, _, c, blocks = _segment_sizes(n, segment, memory, compressed, rate)
    total = pattern_flops(padded * width, d, d_v) + padded * (d + d_v)
    if c:
        total += 2 * blocks * rate * (d + d_v) + pattern_flops(padded * c, d, d_v)
        total += 3 * padded * d_v + 8 * padded
    return total


# --- Funnel Transformer pooling (derivations/13-funnel.md) -----------------------------------


def _funnel_length(n, stride, keep_cls):
    return 1 + -(-(n - 1) // stride) if keep_cls else -(-n // stride)


def funnel_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    stride: int = 2,
    keep_cls: bool = True,
    chunk: int = 256,
    m: int | None = None,
) -> int:
    """Elements held by :func:`refattn.funnel.funnel_attention` at its peak (13.6).

    With ``n' = 1 + ⌈(n − 1)/s⌉`` pooled queries (``⌈n/s⌉`` without
    ``keep_cls``) over ``m`` keys (default ``n``): the pooled, scaled queries
    ``n'·d``, one chunk of scores ``n'·c`` (``c = min(chunk, m)``), the
    running numerator and the chunk's ``n'·d_v`` each, that is
    :func:`chunked_attention_memory` with ``n'`` queries plus nothing more,
    since the pooling writes straight into its ``n'·d`` result.  Linear in
    ``n``; boolean masks and ``O(n')`` row terms left out.

    >>> funnel_memory(4096)  # ≈ 224·n
    917952
    """
    n_out = _funnel_length(n, stride, keep_cls)
    m = n if m is None else m
    return chunked_attention_memory(n_out, m, d, d_v, chunk=chunk)


def funnel_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    stride: int = 2,
    keep_cls: bool = True,
    chunk: int = 256,
    m: int | None = None,
) -> int:
    """Flops of :func:`refattn.funnel.funnel_attention` (13.6).

    The pooling, ``n·d`` additions (each query element summed into its
    group once) plus ``n'·d`` divisions by the group size (with ``keep_cls``
    the [CLS] row is copied, not pooled: ``(n − 1)·d + (n' − 1)·d``); then
    :func:`chunked_attention_flops` with ``n'`` queries and ``m`` keys:
    ``≈ 2·n'·m·(d + d_v)``, that is ``1/s``
    of exact attention's.  Quadratic in ``n``: pooling the queries halves the
    work of this layer (and shortens every later one), it does not change its order.
    """
    n_out = _funnel_length(n, stride, keep_cls)
    m = n if m is None else m
    pooled = (n - 1, n_out - 1) if keep_cls else (n, n_out)
    return sum(pooled) * d + chunked_attention_flops(n_out, m, d, d_v, chunk=chunk)


# --- position schemes (derivations/14-positions.md) -------------------------------------------
# Extra flops a position scheme adds to one head's n × m scores, over plain q_iᵀk_j (2·d per
# score); tables (sinusoids, rotation angles, ALiBi's bias) are constants of the length, made once
# and not counted.


def absolute_position_flops(n: int, d: int = 64) -> int:
    """Sinusoids added at the input (14.2): ``n·d`` additions, once per model, not per layer."""
    return n * d


def position_infused_flops(n: int, m: int | None = None, d: int = 64) -> int:
    """Shortformer (14.1): positions added to the queries' and the keys' input, ``(n + m)·d``.

    Per layer: every layer adds them again; the values read the position-free states.
    """
    m, _ = _defaults(n, m, d, None)
    return (n + m) * d


def rotary_flops(n: int, m: int | None = None, d: int = 64) -> int:
    """RoPE (14.3): ``3·(n + m)·d``.

    Each coordinate of q and k becomes ``x·cos + partner·sin``: a multiply and a multiply-add.
    """
    m, _ = _defaults(n, m, d, None)
    return 3 * (n + m) * d


def alibi_flops(n: int, m: int | None = None) -> int:
    """ALiBi (14.4): the bias added to each of the ``n·m`` scores."""
    m, _ = _defaults(n, m, 1, None)
    return n * m


def relative_position_flops(
    n: int, m: int | None = None, d: int = 64, d_r: int | None = None
) -> int:
    """Transformer-XL's relative scores (5.3) beyond ``q_iᵀk_j``.

    As :func:`refattn.positional.relative_scores` computes them:
    the biases ``q + u`` and ``q + v``, ``2·n·d``; projecting the encodings
    ``W_R r``, ``2·m·d_r·d``; the position scores ``(q + v)ᵀ W_R r`` for every
    distance, ``2·n·m·d``; adding the shifted position scores, ``n·m``.  About
    ``2·d + 1`` per score: the position term costs as much as the content term.
    """
    m, _ = _defaults(n, m, d, None)
    d_r = d if d_r is None else d_r
    return 2 * n * d + 2 * m * d_r * d + 2 * n * m * d + n * m


# --- BigBird (derivations/09-bigbird.md) -------------------------------------------------------


def bigbird_memory(
    n: int, d: int = 64, d_v: int | None = None, *, block: int = 64, g: int = 2, r: int = 3
) -> int:
    """Elements held by :func:`refattn.bigbird.bigbird_attention` at its peak (9.5).

    With ``B = ⌈n/b⌉`` blocks, ``N = B·b`` padded positions, ``P = N + 2b``
    rows of padded keys and values and ``G = min(g·b, n)`` global positions,
    the largest of these moments (the scaled queries ``N·d`` and the padded
    keys and values ``P·(d + d_v)`` held through the first three):

    * window scores ``3·N·b``, and either one neighbour's product ``N·b``
      before it is copied in or the numerator ``N·d_v`` (the key blocks and
      value windows are views of the padded keys and values, never copies);
    * random keys gathered ``N·r·d`` and their scores ``N·r·b``, with the
      window's numerator held;
    * random values gathered ``N·r·d_v``, the scores and two numerators: usually the peak;
    * global columns: ``N·d + 2·N·d_v + N·G``;
    * global rows: ``N·d_v + G·n + G·(d + d_v)``.

    Without ``return_weights``; boolean masks and ``O(n)`` terms left out.
    Linear in ``n`` for a fixed block: ``O(n·b·(3 + g + r))``.

    >>> bigbird_memory(16384, block=64, g=2, r=3)  # ≈ 705·n
    11550720
    """
    d_v = d if d_v is None else d_v
    block = min(block, n)  # (9.7)  a block beyond n is one block of n
    blocks = -(-n // block)
    padded = blocks * block
    rows = padded + 2 * block
    globals_ = min(g * block, n)
    held = padded * d + rows * (d + d_v)
    phases = [held + 3 * padded * block + padded * max(block, d_v)]
    if r:
        phases += [
            held + padded * d_v + padded * r * (d + block),
            held + 2 * padded * d_v + padded * r * (block + d_v),
        ]
    if g:
        phases += [
            padded * d + 2 * padded * d_v + padded * globals_,
            padded * d_v + globals_ * n + globals_ * (d + d_v),
        ]
    return max(phases)


def bigbird_flops(
    n: int, d: int = 64, d_v: int | None = None, *, block: int = 64, g: int = 2, r: int = 3
) -> int:
    """Flops of :func:`refattn.bigbird.bigbird_attention` (9.5).

    Every query block multiplies ``b`` queries by ``3b`` window keys, ``r·b``
    random keys and the ``G`` global keys: ``N·(3b + r·b + G)`` scores at
    :func:`pattern_flops` each; the global rows ``G·n`` more, with ``G·(d + d_v)``
    to scale their queries and divide their outputs; one merge per extra part
    (``3·N·d_v + 8·N``); scaling the queries ``n·d`` and dividing the padded
    output by the normalisers ``N·d_v``.
    """
    d_v = d if d_v is None else d_v
    block = min(block, n)  # (9.7)  a block beyond n is one block of n
    padded = -(-n // block) * block
    globals_ = min(g * block, n)
    scores = padded * (3 * block + r * block + globals_) + globals_ * n
    merges = (r > 0) + (g > 0)
    rows = globals_ * (d + d_v) if g else 0
    total = pattern_flops(scores, d, d_v) + merges * (3 * padded * d_v + 8 * padded) + rows
    return total + n * d + padded * d_v


# --- Sparse Transformer (derivations/08-sparse-transformer.md) -----------------------------


def _stride_within(n, kind, stride, c):
    """``(l, c)`` computed: a stride beyond n is n, fixed keeping its summary inside (8.8)."""
    if stride <= n:
        return stride, c
    return n, (max(1, c - (stride - n)) if kind == "fixed" else c)


def _sparse_transformer_sizes(n, kind, stride, summary, heads, causal):
    """``(B, N, P, K, c)``: rows of the l-grid, padded positions, padded key rows, local keys
    and summary columns (1 for strided); a stride beyond ``n`` is computed as ``n`` (8.8)."""
    stride, c = _stride_within(n, kind, stride, summary if kind == "fixed" else 1)
    rows = -(-n // stride)
    padded = rows * stride
    if kind == "strided":
        # one block of l zero rows before (and after, bidirectional): the local head's windows
        key_rows = stride + padded + (0 if causal else stride)
        local = (2 if causal else 3) * stride
    else:
        key_rows, local = padded, stride
    return rows, padded, key_rows, local, c


def sparse_transformer_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    kind: str = "strided",
    stride: int = 64,
    summary: int = 1,
    heads: str = "union",
    causal: bool = False,
) -> int:
    """Elements held by :func:`refattn.sparse_transformer.sparse_transformer_attention` (8.6).

    With ``B = ⌈n/l⌉`` rows of the l-grid and ``N = B·l`` padded positions,
    the scaled queries ``N·d`` and the padded keys and values ``P·(d + d_v)``
    (``P = l + N`` rows for strided, ``+ l`` bidirectional; for fixed only when
    ``N > n``) are held throughout; on top, the largest of:

    * the local head (strided): its scores ``N·K`` (``K = 2l`` causal, ``3l``)
      and numerator ``N·d_v``; the block head (fixed): ``N·l + N·d_v``;
    * the stride head: the first head's numerator (union), the scores ``N·B``
      and the numerator ``N·d_v``; then the numerator's copy back to sequence
      order ``N·d_v``;
    * the summary head: the first head's numerator (union), the summary keys
      ``B·c·d`` and scores ``N·B·c``; then the summary values ``B·c·d_v`` and
      the numerator ``N·d_v``; alone (``heads="second"``), the own block's
      summaries add ``N·c + N·d_v``.

    So ``O(n·(l + n/l))`` for strided and ``O(n·(l + c·n/l))`` for fixed, at
    ``l ≈ √n`` (``√(c·n)``) ``O(n·√n)``.  Without ``return_weights``; boolean
    masks and ``O(n)`` terms left out.

    >>> sparse_transformer_memory(4096, stride=64, causal=True)  # ≈ 386·n
    1581056
    """
    d_v = d if d_v is None else d_v
    rows, padded, key_rows, local, c = _sparse_transformer_sizes(
        n, kind, stride, summary, heads, causal
    )
    first, second = heads in ("union", "first"), heads in ("union", "second")
    copies = key_rows > n  # strided always pads; fixed only when N > n
    held = padded * d + (key_rows * (d + d_v) if copies else 0)
    start = n * d + padded * d if padded > n else 0  # q·scale, then its padded copy
    phases = [start]
    numerator = padded * d_v
    first_held = numerator if first else 0
    if first:
        phases.append(padded * local + numerator)
    if second and kind == "strided":
        phases.append(first_held + padded * rows + numerator)  # the stride scores
        phases.append(first_held + 2 * numerator)  # its copy back to sequence order
    if second and kind == "fixed":
        scores = padded * rows * c
        phases.append(first_held + rows * c * d + scores)  # the summary scores
        phases.append(first_held + scores + rows * c * d_v + numerator)  # their values
        if heads == "second":  # the own block's summaries
            phases.append(2 * numerator + padded * c)
    return held + max(phases)


def sparse_transformer_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    kind: str = "strided",
    stride: int = 64,
    summary: int = 1,
    heads: str = "union",
    causal: bool = False,
) -> int:
    """Flops of :func:`refattn.sparse_transformer.sparse_transformer_attention` (8.6).

    Every score the grid products compute, masked or not, at
    :func:`pattern_flops` each: the local head ``N·K`` or the block head
    ``N·l``; the stride head ``N·B`` or the summary head ``N·B·c`` (plus
    ``N·c`` for the own block's summaries when alone); ``n·d`` to scale the
    queries and ``N·d_v`` to divide by the normalisers, and one merge
    ``3·N·d_v + 8·N`` for each part after the first.
    """
    d_v = d if d_v is None else d_v
    rows, padded, _, local, c = _sparse_transformer_sizes(n, kind, stride, summary, heads, causal)
    first, second = heads in ("union", "first"), heads in ("union", "second")
    scores, parts = 0, 0
    if first:
        scores, parts = scores + padded * local, parts + 1
    if second:
        scores, parts = scores + padded * rows * c, parts + 1
    if second and kind == "fixed" and heads == "second":
        scores, parts = scores + padded * c, parts + 1
    merges = (parts - 1) * (3 * padded * d_v + 8 * padded)
    return pattern_flops(scores, d, d_v) + n * d + padded * d_v + merges


# --- Reformer LSH attention (derivations/10-reformer.md) -------------------------------------


def lsh_attention_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    buckets: int = 64,
    chunk: int = 64,
    rounds: int = 1,
) -> int:
    """Elements held by :func:`refattn.reformer.lsh_attention` at its peak (10.7).

    With ``N = ⌈n/c⌉·c`` sorted slots per round, every round at once, the
    largest of three moments:

    * hashing: the projections ``R·n·b/2``;
    * scores computed: the sorted scaled queries ``R·N·d``, the sorted unit
      keys with one chunk in front ``R·(c + N)·d`` (the key windows of ``2c``
      are a strided view, not copies) and the chunk scores ``R·N·2c``;
    * the weighted sum: the scores, the sorted values ``R·(c + N)·d_v`` and
      the numerator ``R·N·d_v``.

    Without ``return_weights``.  Left out: boolean masks, ``O(n)`` row terms,
    and about five int64 index arrays per slot and round (hashes, sort order,
    slots, the buckets in sorted order: ≈ 10 float32 elements a slot, 5% of
    the total at ``d = c = 64``).

    >>> lsh_attention_memory(4096, chunk=64)  # ≈ 257·n
    1052672
    """
    d_v = d if d_v is None else d_v
    chunk = min(chunk, n)  # (10.9)  a chunk beyond n is one chunk of the whole sequence
    slots = -(-n // chunk) * chunk
    hashing = rounds * n * (buckets // 2)
    scores = rounds * slots * 2 * chunk
    scores_phase = rounds * (slots * d + (chunk + slots) * d) + scores
    values_phase = scores + rounds * ((chunk + slots) * d_v + slots * d_v)
    return max(hashing, scores_phase, values_phase)


def lsh_attention_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    buckets: int = 64,
    chunk: int = 64,
    rounds: int = 1,
) -> int:
    """Flops of :func:`refattn.reformer.lsh_attention` (10.7).

    Per round: hashing ``2·n·d·b/2`` plus ``2·n·b/2`` for the max and min;
    scaling and normalising ``N·d`` queries and ``(c + N)`` keys
    (``N·d + 3·(c + N)·d``); ``N·2c`` chunk scores at :func:`pattern_flops`
    each (twice the at most ``c``-to-``2c`` same-bucket pairs a query has).
    Combining the rounds: ``R·n·(d_v + 3)`` and ``n·d_v`` for the division.
    The sort (``O(n log n)`` comparisons) is not counted.
    """
    d_v = d if d_v is None else d_v
    chunk = min(chunk, n)  # (10.9)  a chunk beyond n is one chunk of the whole sequence
    slots = -(-n // chunk) * chunk
    half = buckets // 2
    per_round = 2 * n * d * half + 2 * n * half + slots * d + 3 * (chunk + slots) * d
    per_round += pattern_flops(slots * 2 * chunk, d, d_v)
    return rounds * (per_round + n * (d_v + 3)) + n * d_v


# --- Linear attention, elu + 1 (derivations/11-linear-attention.md) -----------------------------


def linear_attention_memory(
    n: int, d: int = 64, d_v: int | None = None, *, causal: bool = False, chunk: int = 256
) -> int:
    """Elements held by :func:`refattn.performer.linear_attention` at its peak (11.2), (11.3).

    The features are ``d`` wide (``M = d``) and there is no ``ω``:

    * bidirectional: the larger of the key-feature step, ``3·n·d`` (the query
      features, the scaled keys and their features), and the division at the
      end, ``n·d + 3·n·d_v`` (the query features, the numerator ``φ(Q)(φ(K)ᵀV)``,
      the quotient and the output);
    * causal, inside a chunk of ``c = min(chunk, n)`` keys: the query and key
      features ``2·n·d``, the output ``n·d_v``, the chunk's key features twice
      ``2·c·d``, three ``c × d_v`` partial outputs and about ``3.5·c²`` for the
      diagonal block.  The prefix sums are one ``d × d_v`` state.

    ``O(n)`` and ``O(d·d_v)`` terms left out.  Linear in ``n``.

    >>> linear_attention_memory(16384)  # = 4·n·d at d = d_v = 64
    4194304
    """
    d_v = d if d_v is None else d_v
    if causal:
        c = min(chunk, n)
        return 2 * n * d + n * d_v + 2 * c * d + 3 * c * d_v + 7 * c * c // 2
    return max(3 * n * d, n * d + 3 * n * d_v)


def linear_attention_flops(
    n: int, d: int = 64, d_v: int | None = None, *, causal: bool = False, chunk: int = 256
) -> int:
    """Flops of :func:`refattn.performer.linear_attention` (11.2), (11.3).

    The features ``φ(√τ·x)`` of queries and keys, about ``8·n·d`` each (scale,
    row maximum, min, shift, exp, max, add, and the product with ``exp(e)``);
    ``φ(K)ᵀV`` and ``φ(Q)(φ(K)ᵀV)``, ``2·(2·n·d·d_v)``; the normaliser
    ``φ(K)ᵀ1`` and ``φ(Q)z``, ``3·n·d``; the division ``n·d_v``.  Causal adds
    the diagonal blocks, ``n·c·(2d + 2d_v + 7)`` with ``c = min(chunk, n)``.
    """
    d_v = d if d_v is None else d_v
    total = 4 * n * d * d_v + 19 * n * d + n * d_v
    if causal:
        total += n * min(chunk, n) * (2 * d + 2 * d_v + 7)
    return total


# ---------------------------------------------------------------------------
# adaptive attention span (derivations/12-adaptive-span.md)


@dataclass(frozen=True)
class SpanGeometry:
    """How :func:`refattn.adaptive_span.adaptive_span_attention` lays out its band (12.3).

    Query ``i`` (position ``p_i = i + m − n``) reads keys ``p_i − left … p_i + right``;
    the ``n`` queries are cut into ``blocks`` blocks of ``block`` queries, and a
    block reads the ``keys_per_block = block + left + right`` keys around it.
    """

    n: int
    m: int
    left: int
    right: int
    block: int
    blocks: int

    @property
    def keys_per_block(self) -> int:
        return self.block + self.left + self.right


def span_geometry(n: int, m: int, reach: int, causal: bool = True) -> SpanGeometry:
    """Band layout for a reach ``⌈z + R⌉ − 1``: ``c = max(MIN_BLOCK, ⌈(left + right)/4⌉)``, ≤ n.

    ``left`` is the reach capped at ``m − 1``, ``right`` the reach capped at
    ``n − 1`` (0 when causal): farther keys lie outside ``[0, m)``.  A block of
    a quarter of the band keeps the scores computed outside the band to about a
    quarter of it, while the matrix products stay reasonably sized.

    >>> g = span_geometry(4096, 4096, 287)
    >>> g.block, g.blocks, g.keys_per_block
    (72, 57, 359)
    """
    left = min(reach, m - 1)
    right = 0 if causal else min(reach, n - 1)
    block = min(n, max(MIN_BLOCK, -(-(left + right) // 4)))
    return SpanGeometry(n, m, left, right, block, -(-n // block))


def adaptive_span_memory(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    span: float = 256,
    ramp: float = 32,
    causal: bool = True,
) -> int:
    """Elements held by :func:`refattn.adaptive_span.adaptive_span_attention` at its peak (12.7).

    With ``N = B·c`` padded queries, ``K = c + left + right`` keys per block and
    ``P = B·c + left + right`` rows of padded keys (:func:`span_geometry`,
    reach ``⌈z + R⌉ − 1``, ``m = n``), at the moment the block scores exist:
    the log-mask ``c·K``, the scaled queries in blocks ``N·d`` (the padded
    copy replaces the scaled queries when ``N > n``), the padded keys and
    values ``P·(d + d_v)`` (only when ``P > n``; the windows are a strided view
    of them) and the scores ``N·K``; the numerator ``N·d_v`` comes once the
    queries and keys are freed, and is smaller.  Linear in ``n`` for a fixed
    span: about ``n·(1.25·(z + R) + 2d + d_v)`` causal.  Without
    ``return_weights``; boolean masks and ``O(n)`` terms left out.

    >>> adaptive_span_memory(4096, span=256, ramp=32)  # ≈ 567·n
    2323888
    """
    d_v = d if d_v is None else d_v
    geo = span_geometry(n, n, math.ceil(span + ramp) - 1, causal)
    padded = geo.blocks * geo.block
    rows = padded + geo.left + geo.right
    width = geo.keys_per_block
    copies = rows if rows > n else 0  # the keys and values are padded when the band is
    scores_phase = width * geo.block + padded * d + copies * (d + d_v) + padded * width
    values_phase = width * geo.block + copies * d_v + padded * width + padded * d_v
    return max(scores_phase, values_phase)


def adaptive_span_flops(
    n: int,
    d: int = 64,
    d_v: int | None = None,
    *,
    span: float = 256,
    ramp: float = 32,
    causal: bool = True,
) -> int:
    """Flops of :func:`refattn.adaptive_span.adaptive_span_attention` (12.7).

    ``N·K`` scores at :func:`pattern_flops` each, plus one addition of the
    log-mask per score, ``n·d`` to scale the queries and ``N·d_v`` for the
    division by the normalisers (the mask itself, ``c·K``, is negligible).
    """
    d_v = d if d_v is None else d_v
    geo = span_geometry(n, n, math.ceil(span + ramp) - 1, causal)
    scores = geo.blocks * geo.block * geo.keys_per_block
    return pattern_flops(scores, d, d_v) + scores + n * d + geo.blocks * geo.block * d_v


def __getattr__(name):
    # the per-mechanism formula table moved into the registry, the one list of mechanisms
    if name in ("MECHANISMS", "Cost"):
        raise AttributeError(
            f"refattn.complexity.{name} is gone: each mechanism's memory and flop formulas "
            f"are in its registry entry, refattn.mechanisms.REGISTRY[name].memory / .flops, "
            f"or refattn.mechanism(name, ...).memory(n, d)"
        )
    raise AttributeError(f"module 'refattn.complexity' has no attribute {name!r}")


#: The domain of every size argument of the formulas: its smallest value.
_SIZES = {
    **dict.fromkeys(
        ("n", "m", "d", "d_v", "d_r", "n_s", "n_t", "chunk", "dilation", "k", "block", "stride"),
        1,
    ),
    **dict.fromkeys(("summary", "rounds", "segment", "rate"), 1),
    **dict.fromkeys(("window", "g", "r", "memory", "compressed", "n_mem", "n_cmem"), 0),
    **dict.fromkeys(("reach", "scores"), 0),
    "buckets": 2,
}
_FAVOR_KINDS = ("positive", "hyperbolic", "trig", "relu")
_SPARSE_KINDS = ("strided", "fixed")
_SPARSE_HEADS = ("union", "first", "second")


def _check_argument(formula: str, name: str, value, default):
    """One argument of a formula, checked and returned as a Python int, float, bool or str."""
    if value is None and default is None:
        return None  # an optional size (m, d_v, d_r): its default is derived
    if name in _SIZES:
        return check_int(name, value, minimum=_SIZES[name])
    if name in ("causal", "keep_cls"):
        return check_bool(name, value)
    if name == "kind":
        return check_choice(name, value, _SPARSE_KINDS if "sparse" in formula else _FAVOR_KINDS)
    if name == "heads":
        return check_choice(name, value, _SPARSE_HEADS)
    if name == "span":
        return check_real(name, value, minimum=0)
    if name == "ramp":
        return check_real(name, value, minimum=0, open_min=True)
    return value


def _checked(formula):
    """``formula`` with every argument checked (:func:`_check_argument`) before it runs.

    Python ints reach the formula, never NumPy integers (whose products wrap
    around silently at 2**63) or 0-d arrays.
    """
    signature = inspect.signature(formula)
    names = tuple(signature.parameters)

    @functools.wraps(formula)
    def checked(*args, **kwargs):
        unknown = [key for key in kwargs if key not in signature.parameters]
        if unknown:
            raise TypeError(
                f"{formula.__name__}() got an unexpected argument {unknown[0]!r}"
                f"{did_you_mean(unknown[0], names)}; "
                f"its arguments are {', '.join(names)}"
            )
        bound = signature.bind(*args, **kwargs)
        for name, value in bound.arguments.items():
            default = signature.parameters[name].default
            bound.arguments[name] = _check_argument(formula.__name__, name, value, default)
        return formula(*bound.args, **bound.kwargs)

    return checked


# the public formulas; the score counts (window_scores, ...) stay unchecked: figures
# evaluate them on whole arrays of lengths at once
for _name in __all__:
    globals()[_name] = _checked(globals()[_name])
del _name


def _defaults(n, m, d, d_v):
    """``(m, d_v)`` with None read as ``n`` and ``d``; :func:`_checked` checked them all."""
    return (n if m is None else m), (d if d_v is None else d_v)
