"""Sparse Transformer attention: the strided and the fixed factorised patterns.

Child, Gray, Radford & Sutskever 2019, *Generating Long Sequences with Sparse
Transformers*, arXiv:1904.10509.  Full causal attention is factorised into two
heads whose patterns each hold about ``√n`` keys per query, chosen so that two
hops (one through each head) reach every earlier position.  The *strided*
pattern pairs a local head (the last ``l`` positions) with a head reading every
``l``-th earlier position; the *fixed* pattern pairs a head reading its own
block of ``l`` positions with a head reading the last ``c`` "summary" positions
of every block.  With stride ``l ≈ √n`` each query reads ``O(√n)`` keys, so
memory and time are ``O(n·√n)`` instead of ``O(n²)``.

refattn's conventions (``derivations/08-sparse-transformer.md``), 0-indexed
positions ``i`` (query) and ``j`` (key):

* (8.1) strided, head 1: ``i − l < j ≤ i``; head 2: ``(i − j) mod l = 0``, ``j ≤ i``.
  Bidirectional: head 1 ``|i − j| < l``, head 2 ``(i − j) mod l = 0``.
* (8.2) fixed, head 1: ``⌊j/l⌋ = ⌊i/l⌋``; head 2: ``j mod l ∈ {l − c, …, l − 1}``,
  the last ``c`` positions of each block; causal adds ``j ≤ i`` to both.
  Bidirectional: the same sets without ``j ≤ i``.  (The paper writes its
  sets 1-indexed, and reference code differs on which columns it keeps.)
* (8.3) ``heads="union"`` (default) is one head attending the union of both
  sets, the paper's "merged" head; ``"first"`` and ``"second"`` are each
  factorised head alone.  A key in both sets counts once.
* (8.4) Two hops, head 1 then head 2, reach every earlier position.
* (8.5) Computed on the ``l``-grid (position ``i = b·l + r``: row ``b``, column
  ``r``): the local and block heads are dense products of each row with its
  neighbouring rows, the stride head one product per column, the summary head
  one product with the ``c`` summary columns of every row.  Nothing of size
  ``n × n`` is allocated.
* (8.6) Memory and flops: :func:`refattn.complexity.sparse_transformer_memory`,
  :func:`refattn.complexity.sparse_transformer_flops`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    broadcast_shapes,
    check_array,
    check_attention_call,
    check_bool,
    check_choice,
    check_finite_result,
    check_int,
    check_module,
    finite_flag,
    quiet_overflow,
)
from .backend import pad_axis, window_view
from .softmax import (
    SoftmaxPartial,
    _fill_blocked,
    _finite_or_zero,
    _nonzero,
    finish_partial,
    merge_partials_,
    softmax_partial,
)

__all__ = [
    "HEADS",
    "KINDS",
    "SparseTransformerWeights",
    "check_pattern_options",
    "sparse_transformer_attention",
    "sparse_transformer_pattern",
    "two_hop_reach",
]

#: The two factorised patterns of the paper (its §4.3).
KINDS = ("strided", "fixed")

#: How the two factorised heads become one attention call (8.3).
HEADS = ("union", "first", "second")

#: What :func:`sparse_transformer_attention` can honour of the calling convention.
SUPPORTS = Supports(
    general_mask=LINEAR_TIME_MASK,
    cross="the strided and fixed patterns are defined on one sequence of n positions",
)


@dataclass(frozen=True)
class SparseTransformerWeights:
    """Attention weights of :func:`sparse_transformer_attention`, as key lists per query.

    Attributes
    ----------
    parts : tuple of (keys, weights)
        One pair per computed part (local, stride, block, summary, …).
        ``keys`` is an integer ``(n, width)`` array: ``keys[i, u]`` is the key
        position whose weight for query ``i`` is ``weights[..., i, u]``
        (``weights`` is ``(..., n, width)``).  Positions outside ``[0, n)``
        carry weight 0.  The parts are disjoint: no ``(i, j)`` appears twice.
    n : int
        The sequence length.
    kind, stride, summary, heads, causal
        The pattern the weights belong to.
    """

    parts: tuple[tuple[Any, Any], ...]
    n: int
    kind: str
    stride: int
    summary: int | None
    heads: str
    causal: bool

    def to_dense(self):
        """The weights as an ``(..., n, n)`` array, for tests and figures only."""
        xp = array_module(weights=self.parts[0][1])
        batch = broadcast_shapes({f"part {p}": w.shape[:-2] for p, (_, w) in enumerate(self.parts)})
        dtype = xp.result_type(*(w for _, w in self.parts))
        dense = xp.zeros((*batch, self.n, self.n), dtype=dtype)
        for keys, w in self.parts:
            rows = xp.broadcast_to(xp.arange(self.n)[:, None], keys.shape)
            inside = (keys >= 0) & (keys < self.n)
            dense[..., rows[inside], keys[inside]] += w[..., inside]
        return dense


@quiet_overflow
def sparse_transformer_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    kind="strided",
    stride,
    summary=None,
    heads="union",
):
    """Sparse Transformer self-attention (strided or fixed), memory ``O(n·(l + n/l))``.

    Equals ``softmax_attention(q, k, v, mask=sparse_transformer_pattern(...))``
    (and the key padding) up to rounding, without the ``n × n`` matrix: each
    head is a batch of dense products on the ``l``-grid (8.5).  Working set
    :func:`refattn.complexity.sparse_transformer_memory`; at ``l ≈ √n`` it is
    ``O(n·√n)``.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., n, d), (..., n, d_v)
        Self-attention: one sequence of ``n`` positions.  Leading axes broadcast.
    mask : bool array broadcastable to (..., 1, n), optional
        Key padding (True = may attend).  A mask with a query axis raises: it
        cannot be applied in linear time.
    causal : bool
        The paper's (autoregressive) patterns: no query reads a later key.
        False gives the bidirectional patterns of (8.1) and (8.2).
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.
    return_weights : bool
        Also return a :class:`SparseTransformerWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).
    kind : {"strided", "fixed"}
        The factorised pattern (8.1), (8.2).
    stride : int >= 1
        ``l``: the local reach and the stride (strided), the block length (fixed).
    summary : int in [1, stride], optional
        ``c``: summary positions at the end of each block (fixed only; default 1).
    heads : {"union", "first", "second"}
        One head attending the union of both factorised sets (the paper's
        merged head), or one of them alone (8.3).

    Returns
    -------
    out : array (..., n, d_v)
        A query that may attend no key gets 0 (0.7).
    weights : SparseTransformerWeights
        Only when ``return_weights``.

    Examples
    --------
    Equal scores average what each query reads; strided, l = 2:

    >>> import numpy as np
    >>> q = k = np.zeros((5, 2))
    >>> v = np.array([[0.0], [2.0], [4.0], [6.0], [8.0]])
    >>> sparse_transformer_attention(q, k, v, causal=True, stride=2)[:, 0]
    array([0. , 1. , 2. , 4. , 4.5])
    >>> sparse_transformer_attention(q, k, v, causal=True, stride=2, heads="second")[:, 0]
    array([0., 2., 2., 4., 4.])
    """
    call = check_attention_call(
        "sparse_transformer_attention", q, k, v, mask=mask, causal=causal, scale=scale,
        return_weights=return_weights, check_finite=check_finite, supports=SUPPORTS,
    )  # fmt: skip
    kind, ell, c, heads = check_pattern_options(kind, stride, summary, heads)  # ell: the paper's l
    dims, key_mask = call.dims, call.key_mask  # key_mask: (..., n) key padding or None
    xp, n = dims.xp, dims.n
    # (8.8)  a stride beyond n gives the pattern of a smaller one: never pay for it
    ell_run, c_run, no_keys = _effective_stride(kind, ell, c, heads, n)
    grid = _Grid(n, ell_run)  # B rows of l columns, N = B·l >= n positions
    N = grid.padded

    # (8.5)  the l-grid: pad the sequence to N = B·l positions; padded keys are never read
    before, after = (ell_run, (0 if causal else ell_run)) if kind == "strided" else (0, 0)
    key_ok = xp.ones(n, dtype=bool) if key_mask is None else key_mask  # (..., n)
    if no_keys:  # (8.8)  every summary position lies past n: no query reads any key
        key_ok = xp.zeros(n, dtype=bool)
    key_ok = pad_axis(key_ok, -1, before, N - n + after, value=False)  # (..., before + N + after)
    q_scaled = pad_axis(q * call.scale, -2, 0, N - n)  # (..., N, d)
    k_pad = pad_axis(k, -2, before, N - n + after)  # (..., before + N + after, d)
    v_pad = pad_axis(v, -2, before, N - n + after)  # (..., before + N + after, d_v)
    first, second = heads in ("union", "first"), heads in ("union", "second")
    # each part: (partial softmax in sequence order (..., N, ·), kept) with kept =
    # (exp(s − M_part) (..., N, width), key positions (N, width)) when return_weights, else None
    flags = []  # (8.8) one device flag per product, synced once below
    args = (xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, return_weights, flags)
    parts = []
    if kind == "strided":
        if first:
            parts.append(_local_part(*args))
        if second:  # the union leaves j = i to the local head
            parts.append(_stride_part(*args, own=heads == "second"))
    else:
        if first:
            parts.append(_block_part(*args))
        if second:
            parts.append(_summary_part(*args, c=c_run))
        if heads == "second":  # the union leaves the own block's summaries to head 1
            parts.append(_own_summary_part(*args, c=c_run))
    del q_scaled, k_pad, v_pad, args

    # (0.4)  merge the disjoint parts' partial softmaxes, then normalise (0.7)
    maxima = [part.row_max for part, _ in parts]
    total = parts[0][0]
    for part, _ in parts[1:]:
        total = merge_partials_(total, part)
    out = finish_partial(total)[..., :n, :]  # (..., n, d_v)
    check_finite_result("sparse_transformer_attention", xp, flags, out, q.dtype)
    if not return_weights:
        return out

    # weights: each part's exp(s − M_part), rescaled to the merged maximum and normaliser
    shift, norm = _finite_or_zero(xp, total.row_max), _nonzero(total.row_sum)  # (..., N, 1)
    weight_parts = []
    for (_, (e, keys)), m in zip(parts, maxima, strict=True):
        w = e * (xp.exp(m - shift) / norm)  # (..., N, width)
        weight_parts.append((keys[:n], w[..., :n, :]))
    weights = SparseTransformerWeights(tuple(weight_parts), n, kind, ell, c, heads, causal)
    return out, weights


def sparse_transformer_pattern(
    n, *, kind="strided", stride, summary=None, heads="union", causal=False, xp=None
):
    """The Sparse Transformer pattern as a dense boolean ``(n, n)`` array (tests, figures).

    True where query ``i`` may attend key ``j`` under (8.1)-(8.3).  The
    attention itself never builds this array.

    Examples
    --------
    >>> sparse_transformer_pattern(6, kind="fixed", stride=3, causal=True).astype(int)
    array([[1, 0, 0, 0, 0, 0],
           [1, 1, 0, 0, 0, 0],
           [1, 1, 1, 0, 0, 0],
           [0, 0, 1, 1, 0, 0],
           [0, 0, 1, 1, 1, 0],
           [0, 0, 1, 1, 1, 1]])
    """
    n = check_int("n", n, minimum=1, maximum=MAX_DENSE_N)
    kind, ell, c, heads = check_pattern_options(kind, stride, summary, heads)
    causal = check_bool("causal", causal)
    xp = check_module("xp", xp, default="numpy")
    i = xp.arange(n)[:, None]  # (n, 1)
    j = xp.arange(n)[None, :]  # (1, n)
    if kind == "strided":
        ell = min(ell, n)  # (8.8)  |i − j| < n and (i − j) mod n = 0 ⇔ i = j, as for any l >= n
        # (8.1)  head 1: |i − j| < l;  head 2: (i − j) mod l = 0
        head1 = (i - j < ell) & (j - i < ell)
        head2 = (i - j) % ell == 0
    elif ell >= n:  # (8.8)  one block; the summary positions l − c … l − 1 that are < n
        head1 = xp.ones((n, n), dtype=bool)
        head2 = xp.broadcast_to(j >= min(ell - c, n), (n, n))
    else:
        # (8.2)  head 1: the same block;  head 2: the last c positions of every block
        head1 = (i // ell) == (j // ell)
        head2 = xp.broadcast_to(j % ell >= ell - c, (n, n))
    allowed = {"union": head1 | head2, "first": head1, "second": head2}[heads]
    if causal:
        allowed = allowed & (j <= i)
    return allowed


def two_hop_reach(first, second):
    """Boolean ``(n, n)``: query ``i`` reaches key ``j`` through head ``first`` then ``second``.

    A layer's output keeps its input through the residual connection, so a
    query reads ``j`` in two hops if ``j`` is in reach of one head alone or
    ``i →(second) k →(first) j`` for some ``k``: ``(I ∨ S)·(I ∨ F)`` as a
    boolean product (8.4).  Tests and figures only.
    """
    xp = array_module(first=first, second=second)
    for name, x in (("first", first), ("second", second)):
        check_array(name, x, ndim=2, axes="n, n", dtype="bool")
        if x.shape[0] != x.shape[1]:
            raise ValueError(f"{name} must be a square (n, n) pattern, got shape {x.shape}")
    if first.shape != second.shape:
        raise ValueError(
            f"first and second must have the same shape (n, n), got {first.shape} and "
            f"{second.shape}"
        )
    eye = xp.eye(first.shape[-1], dtype=bool)
    f = (first | eye).astype(xp.int64)
    s = (second | eye).astype(xp.int64)
    return (s @ f) > 0


# ---------------------------------------------------------------------------
# the options and the l-grid (8.5)


def check_pattern_options(kind, stride, summary, heads):
    """Check the pattern's options; returns ``(kind, l, c, heads)`` with ``c = None`` for strided.

    ``summary`` defaults to 1 for ``kind="fixed"`` and must be None for
    ``kind="strided"``, which has no summary positions.
    """
    kind = check_choice("kind", kind, KINDS)
    ell = check_int("stride", stride, minimum=1)  # the paper's l
    if kind == "strided":
        if summary is not None:
            raise ValueError(
                f"summary is only used with kind='fixed' (the summary columns c), got {summary!r}"
            )
        c = None
    else:
        c = 1 if summary is None else check_int("summary", summary, minimum=1)
        if c > ell:
            raise ValueError(
                f"summary must be an integer in [1, stride] = [1, {ell}] (c of the l positions "
                f"of a block), got {c}"
            )
    heads = check_choice("heads", heads, HEADS)
    return kind, ell, c, heads


#: The largest ``n`` of the dense ``(n, n)`` pattern (tests and figures): 1 GiB of booleans.
MAX_DENSE_N = 2**15


def _effective_stride(kind, ell, c, heads, n):
    """``(l, c, no_keys)`` to compute with: the pattern of the given ``l``, with ``l <= n`` (8.8).

    Strided: every ``l >= n`` gives head 1 = all ``|i − j| < n`` and head 2 =
    ``{i}``, as ``l = n`` does.  Fixed: every ``l >= n`` makes one block, and
    head 2 keeps the positions ``l − c … n − 1``: the last ``c − (l − n)`` of a
    block of ``n``, or none (``no_keys``: with ``heads="second"`` nothing is read).
    """
    if ell <= n:
        return ell, c, False
    if kind == "strided":
        return n, None, False
    kept = c - (ell - n)  # summary positions inside the sequence
    if kept >= 1:
        return n, kept, False
    # union and first read the whole block; second reads nothing
    return n, 1, heads == "second"


@dataclass(frozen=True)
class _Grid:
    """Position ``i = b·l + r`` is row ``b``, column ``r`` of ``rows = ⌈n/l⌉`` rows."""

    n: int
    stride: int

    @property
    def rows(self) -> int:
        return -(-self.n // self.stride)

    @property
    def padded(self) -> int:
        return self.rows * self.stride

    def to_grid(self, x):
        """(..., N, f) -> (..., B, l, f), a view."""
        return x.reshape(x.shape[:-2] + (self.rows, self.stride, x.shape[-1]))

    def to_sequence(self, x):
        """(..., B, l, f) -> (..., N, f)."""
        return x.reshape(x.shape[:-3] + (self.padded, x.shape[-1]))


def _sequence_partial(grid, part):
    return SoftmaxPartial(
        *(grid.to_sequence(a) for a in (part.row_max, part.row_sum, part.numerator))
    )


def _local_part(xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, keep, flags):
    """Strided head 1 (8.1): row ``b`` reads rows ``b − 1, b`` (``b + 1`` too, bidirectional)."""
    ell, B = grid.stride, grid.rows
    K = (2 if causal else 3) * ell  # keys per row
    k_win = window_view(k_pad, size=K, step=ell, count=B)  # (..., B, K, d), strided view
    v_win = window_view(v_pad, size=K, step=ell, count=B)  # (..., B, K, d_v)
    ok_win = window_view(key_ok[..., None], size=K, step=ell, count=B)[..., 0]  # (..., B, K)
    scores = grid.to_grid(q_scaled) @ xp.swapaxes(k_win, -1, -2)  # (..., B, l, K)
    flags.append(finite_flag(xp, scores))
    # (8.1)  query i = b·l + a, key j = (b − 1)·l + κ:  i − l < j ⇔ a < κ,
    #        j ≤ i ⇔ κ ≤ a + l,  j < i + l ⇔ κ < a + 2l
    a = xp.arange(ell)[:, None]  # (l, 1)
    kappa = xp.arange(K)[None, :]  # (1, K)
    in_band = (kappa > a) & ((kappa <= a + ell) if causal else (kappa < a + 2 * ell))  # (l, K)
    scores = _fill_blocked(scores, ~in_band)
    scores = _fill_blocked(scores, ~ok_win[..., None, :])  # padding, before 0 or past n
    part = _sequence_partial(grid, softmax_partial(scores, v_win))  # scores hold exp(s − M)
    if not keep:
        return part, None
    i = xp.arange(grid.padded)[:, None]
    return part, (grid.to_sequence(scores), (i // ell - 1) * ell + kappa)  # keys (N, K)


def _columns(grid, x):
    """(..., N, f) -> (..., l, B, f): column ``r`` holds positions ``r, r + l, …`` (a view)."""
    return grid.to_grid(x).swapaxes(-3, -2)


def _stride_part(xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, keep, flags, *, own):
    """Strided head 2 (8.1): every query reads the earlier rows of its own column."""
    ell, B, N = grid.stride, grid.rows, grid.padded
    k_seq = k_pad[..., ell : ell + N, :]  # (..., N, d): without the leading pad
    v_seq = v_pad[..., ell : ell + N, :]  # (..., N, d_v)
    ok_col = _columns(grid, key_ok[..., ell : ell + N, None])[..., 0]  # (..., l, B)
    scores = _columns(grid, q_scaled) @ xp.swapaxes(_columns(grid, k_seq), -1, -2)  # (..., l, B, B)
    flags.append(finite_flag(xp, scores))
    # (8.1)  column r: query i = b·l + r, key j = b'·l + r;  j ≤ i ⇔ b' ≤ b
    b = xp.arange(B)[:, None]
    b_key = xp.arange(B)[None, :]
    if causal:
        allowed = (b_key <= b) if own else (b_key < b)  # (B, B)
    else:
        allowed = None if own else (b_key != b)
    if allowed is not None:
        scores = _fill_blocked(scores, ~allowed)
    scores = _fill_blocked(scores, ~ok_col[..., None, :])
    part = softmax_partial(scores, _columns(grid, v_seq))  # numerator (..., l, B, d_v)
    kept = None
    if keep:
        i = xp.arange(N)[:, None]
        kept = (grid.to_sequence(scores.swapaxes(-3, -2)), b_key * ell + i % ell)  # (N, B)
    del scores  # before the copy below
    # back to sequence order (..., N, ·): the column-major grid to row-major (a copy)
    rows = (a.swapaxes(-3, -2) for a in (part.row_max, part.row_sum, part.numerator))
    return _sequence_partial(grid, SoftmaxPartial(*rows)), kept


def _block_part(xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, keep, flags):
    """Fixed head 1 (8.2): every row reads itself."""
    ell = grid.stride
    ok = grid.to_grid(key_ok[..., None])[..., 0]  # (..., B, l)
    scores = grid.to_grid(q_scaled) @ xp.swapaxes(grid.to_grid(k_pad), -1, -2)  # (..., B, l, l)
    flags.append(finite_flag(xp, scores))
    a = xp.arange(ell)
    if causal:  # (8.2)  j ≤ i inside the row
        scores = _fill_blocked(scores, a[None, :] > a[:, None])
    scores = _fill_blocked(scores, ~ok[..., None, :])
    part = _sequence_partial(grid, softmax_partial(scores, grid.to_grid(v_pad)))
    if not keep:
        return part, None
    i = xp.arange(grid.padded)[:, None]
    return part, (grid.to_sequence(scores), (i // ell) * ell + a[None, :])


def _summaries(grid, c, x):
    """The last ``c`` columns of every row, (..., N, f) -> (..., B·c, f) (a copy)."""
    s = grid.to_grid(x)[..., grid.stride - c :, :]  # (..., B, c, f)
    return s.reshape(s.shape[:-3] + (grid.rows * c, s.shape[-1]))


def _summary_part(xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, keep, flags, *, c):
    """Fixed head 2 (8.2), other rows: every query reads the summaries of the rows before it."""
    ell, B = grid.stride, grid.rows
    k_sum = _summaries(grid, c, k_pad)  # (..., B·c, d)
    ok_sum = grid.to_grid(key_ok[..., None])[..., ell - c :, 0]  # (..., B, c)
    q_rows = grid.to_grid(q_scaled)  # (..., B, l, d)
    scores = q_rows @ xp.swapaxes(k_sum, -1, -2)[..., None, :, :]  # (..., B, l, B·c)
    flags.append(finite_flag(xp, scores))
    del k_sum
    # (8.2)  query in row b, summary key in row b':  b' < b (causal) or b' ≠ b; own row: head 1
    blocks = scores.reshape(scores.shape[:-1] + (B, c))  # (..., B, l, B, c), a view
    b = xp.arange(B)
    other = (b[None, :] < b[:, None]) if causal else (b[None, :] != b[:, None])  # (B, B)
    blocks = _fill_blocked(blocks, ~other[:, None, :, None])
    blocks = _fill_blocked(blocks, ~ok_sum[..., None, None, :, :])
    scores = blocks.reshape(blocks.shape[:-2] + (B * c,))
    v_sum = _summaries(grid, c, v_pad)  # (..., B·c, d_v)
    part = _sequence_partial(grid, softmax_partial(scores, v_sum[..., None, :, :]))
    if not keep:
        return part, None
    keys = (xp.arange(B)[:, None] * ell + (ell - c) + xp.arange(c)[None, :]).reshape(1, B * c)
    return part, (grid.to_sequence(scores), xp.broadcast_to(keys, (grid.padded, B * c)))


def _own_summary_part(xp, grid, q_scaled, k_pad, v_pad, key_ok, causal, keep, flags, *, c):
    """Fixed head 2 alone (``heads="second"``), own row: the summaries of the query's own block."""
    ell = grid.stride
    k_own = grid.to_grid(k_pad)[..., ell - c :, :]  # (..., B, c, d), a view
    v_own = grid.to_grid(v_pad)[..., ell - c :, :]  # (..., B, c, d_v)
    ok_own = grid.to_grid(key_ok[..., None])[..., ell - c :, 0]  # (..., B, c)
    scores = grid.to_grid(q_scaled) @ xp.swapaxes(k_own, -1, -2)  # (..., B, l, c)
    flags.append(finite_flag(xp, scores))
    a = xp.arange(ell)[:, None]
    u = xp.arange(c)[None, :]
    if causal:  # (8.2)  key l − c + u of the row, query a:  j ≤ i ⇔ l − c + u ≤ a
        scores = _fill_blocked(scores, (ell - c + u) > a)
    scores = _fill_blocked(scores, ~ok_own[..., None, :])
    part = _sequence_partial(grid, softmax_partial(scores, v_own))
    if not keep:
        return part, None
    i = xp.arange(grid.padded)[:, None]
    return part, (grid.to_sequence(scores), (i // ell) * ell + (ell - c) + u)
