r"""Funnel Transformer pooling: queries pooled, keys and values at full length.

Dai, Lai, Yang & Le 2020, *Funnel-Transformer: Filtering out Sequential
Redundancy for Efficient Language Processing* (arXiv:2006.03236).  An encoder
need not keep one hidden state per token in every layer: Funnel shortens the
sequence block by block.  At the start of a block the *queries* are
mean-pooled with stride ``s`` while the keys and values keep the full,
unpooled sequence, so every pooled position still reads every token
("pool-query-only"); the output, and every later layer, is ``s`` times
shorter.  The [CLS] token, whose state the classifier reads, is kept apart
from the pooling.

Equations, numbered as in ``derivations/13-funnel.md``:

* (13.1) the groups: with ``keep_cls``, position 0 alone, then positions
  ``1 … n−1`` in consecutive groups of ``s`` (the last one shorter when
  ``s`` does not divide ``n − 1``); without, positions ``0 … n−1`` in groups
  of ``s``;
* (13.2) the output length ``n' = 1 + ⌈(n − 1)/s⌉`` (``keep_cls``) or ``⌈n/s⌉``;
* (13.3) the pooled query ``q̄_g = (1/|G_g|) Σ_{i ∈ G_g} q_i``;
* (13.4) ``out = softmax(τ Q̄ Kᵀ) V``: exact attention of the pooled queries;
* (13.5) causal: pooled query ``g`` reads keys ``j <= last(g) + (m − n)``;
* (13.6) the working set ``n'·(d + c + 2·d_v)``: key chunks, never ``n' × m``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    check_array,
    check_attention_call,
    check_bool,
    check_int,
    check_module,
    quiet,
)
from .positional import check_size
from .softmax import (
    _fill_blocked,
    _finite_or_zero,
    _nonzero,
    _OverflowGuard,
    finish_partial,
    merge_partials_,
    softmax_partial,
)

__all__ = [
    "SUPPORTS",
    "FunnelWeights",
    "funnel_attention",
    "pool_last",
    "pool_queries",
    "pooled_length",
]

#: What :func:`funnel_attention` honours: key padding, causal (13.5) and m ≠ n.
SUPPORTS = Supports(
    general_mask=(
        "a mask row belongs to one query position, and a pooled query mixes several; "
        + LINEAR_TIME_MASK
    )
)


def _check_pooling(stride, keep_cls) -> int:
    stride = check_int("stride", stride, minimum=1)
    check_bool("keep_cls", keep_cls)
    return stride


def pooled_length(n: int, *, stride: int = 2, keep_cls: bool = True) -> int:
    """The number of pooled positions ``n'`` (13.2).

    ``1 + ⌈(n − 1)/s⌉`` with ``keep_cls`` ([CLS] apart, the rest in groups of
    ``s``), else ``⌈n/s⌉``.

    >>> pooled_length(512), pooled_length(512, keep_cls=False), pooled_length(7, stride=3)
    (257, 256, 3)
    """
    n = check_int("n", n, minimum=1)
    stride = _check_pooling(stride, keep_cls)
    if keep_cls:
        return 1 + -(-(n - 1) // stride)
    return -(-n // stride)


def pool_last(n: int, *, stride: int = 2, keep_cls: bool = True, xp=None):
    """The last position of each group, ``last(g)`` (13.1): an int array ``(n',)``.

    What a causal pooled query may read up to (13.5).

    >>> pool_last(6).tolist(), pool_last(6, keep_cls=False).tolist()
    ([0, 2, 4, 5], [1, 3, 5])
    """
    n_out = pooled_length(n, stride=stride, keep_cls=keep_cls)
    check_size(f"pool_last(n = {n}, stride = {stride})", n_out)
    xp = check_module("xp", xp, typed=True)
    n, stride = int(n), min(int(stride), int(n))  # a stride past n makes the same single group
    first = 1 if keep_cls else 0  # the first pooled position
    g = xp.arange(n_out - first)
    last = xp.minimum(first + (g + 1) * stride - 1, n - 1)  # (n' − first,)
    if keep_cls:
        last = xp.concatenate([xp.zeros(1, dtype=last.dtype), last])
    return last


def pool_queries(x, *, stride: int = 2, keep_cls: bool = True):
    """Mean-pool ``x (..., n, d)`` along the sequence: ``(..., n', d)`` (13.1)-(13.3).

    With ``keep_cls`` row 0 is copied unchanged and rows ``1 … n−1`` are
    averaged in consecutive groups of ``stride``; a last group that is shorter
    is averaged over the rows it has (as ``ceil_mode`` pooling does).
    Without, rows ``0 … n−1`` are grouped alike.  ``x`` is not modified.

    Parameters
    ----------
    x : array (..., n, d), float32 or float64
    stride : int >= 1
        Rows per group (Funnel's ``s = 2``); 1 returns a copy.
    keep_cls : bool
        Keep row 0 (the [CLS] token) apart.

    Returns
    -------
    array (..., n', d) of ``x``'s dtype, ``n' = pooled_length(n)``.

    Examples
    --------
    >>> import numpy as np
    >>> pool_queries(np.arange(6.0)[:, None]).ravel().tolist()
    [0.0, 1.5, 3.5, 5.0]
    """
    stride = _check_pooling(stride, keep_cls)
    xp = check_array("x", x, min_ndim=2, axes="..., n, d")
    if x.shape[-2] < 1:
        raise ValueError(f"n (x.shape[-2]) must be >= 1, got {x.shape[-2]}")
    return _pool(xp, x, stride, keep_cls)


def _pool(xp, x, stride, keep_cls):
    """(13.1)-(13.3) on checked input; the mean of finite rows is finite, so never inf."""
    *batch, n, d = x.shape
    n_out = pooled_length(n, stride=stride, keep_cls=keep_cls)
    first = 1 if keep_cls else 0
    pooled = xp.empty((*batch, n_out, d), dtype=x.dtype)  # (..., n', d)
    if keep_cls:
        pooled[..., 0, :] = x[..., 0, :]  # [CLS] kept apart
    rest = x[..., first:, :]  # (..., L, d), L = n − first, a view
    with quiet(xp):  # an overflow is redone below
        _group_means(xp, rest, pooled[..., first:, :], stride, divide_first=False)
        # a sum of s finite rows may overflow where their mean does not: then divide first
        if not bool(xp.isfinite(pooled).all()):
            _group_means(xp, rest, pooled[..., first:, :], stride, divide_first=True)
    return pooled


def _group_means(xp, rest, out, stride, *, divide_first):
    """(13.3) the means of consecutive groups of ``stride`` rows of ``rest`` into ``out``.

    ``rest (..., L, d)``; ``out (..., ⌈L/s⌉, d)``; the last group may be shorter.
    """
    *batch, length, d = rest.shape
    full = length // stride  # groups of exactly s rows
    if full:
        # q̄_g = (1/s) Σ_{i in G_g} q_i, over a (..., full, s, d) view of the rows
        groups = rest[..., : full * stride, :].reshape(*batch, full, stride, d)
        _mean(xp, groups, out[..., :full, :], divide_first)
    if full * stride < length:  # the shorter last group
        _mean(xp, rest[..., full * stride :, :], out[..., -1, :], divide_first)


def _mean(xp, rows, out, divide_first):
    """The mean over axis −2 into ``out``: ``Σ x / s``, or ``Σ (x / s)`` that does not overflow."""
    if divide_first:
        xp.sum(rows / rows.shape[-2], axis=-2, out=out)
        # the mean lies within the rows' range: a rounding past the largest float is clipped
        top = float(xp.finfo(out.dtype).max)
        xp.clip(out, -top, top, out=out)
    else:
        xp.mean(rows, axis=-2, out=out)


def funnel_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    stride=2,
    keep_cls=True,
    chunk_size=256,
):
    """Funnel's pool-query-only attention: pooled queries over full-length keys (13.4).

    ``softmax(τ · pool(Q) Kᵀ) V`` exactly, computed over key chunks with the
    online softmax, so no ``n' × m`` array is held (13.6).  The output is
    *shorter* than the queries: ``n' = pooled_length(n)`` rows, the one
    extension of the calling convention (``derivations/13-funnel.md``).

    Parameters
    ----------
    q : array (..., n, d)
        Queries, pooled by :func:`pool_queries` before they attend.
    k : array (..., m, d)
        Keys, full length.
    v : array (..., m, d_v)
        Values, full length.
    mask : bool array (..., 1, m) or (m,), optional
        Key padding (True = may attend).  A mask with a query axis is refused:
        its rows belong to unpooled positions.
    causal : bool
        Pooled query ``g`` reads keys ``j <= last(g) + (m − n)``, ``last(g)``
        the last position it pools (13.5): it sees what its own members see.
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.
    return_weights : bool
        Also return :class:`FunnelWeights` (``.to_dense()`` is ``(..., n', m)``).
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).
    stride : int >= 1
        Query positions per pooled position (the paper's 2).
    keep_cls : bool
        Keep position 0 ([CLS]) apart from the pooling.
    chunk_size : int >= 1
        Keys per chunk; any value gives the same result up to rounding.

    Returns
    -------
    out : array (..., n', d_v)
    weights : FunnelWeights
        Only when ``return_weights``.

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.zeros((5, 2)); v = np.arange(5.0)[:, None]
    >>> funnel_attention(q, k, v).ravel().tolist()
    [2.0, 2.0, 2.0]
    >>> funnel_attention(q, k, v, causal=True).ravel().tolist()
    [0.0, 1.0, 2.0]
    """
    stride = _check_pooling(stride, keep_cls)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    call = check_attention_call(
        "funnel_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=check_finite,
        supports=SUPPORTS,
    )
    dims, xp = call.dims, call.dims.xp
    n, m = dims.n, dims.m

    # (13.1)-(13.3)  the pooled queries, scaled in place (they are ours)
    q_pooled = _pool(xp, q, stride, keep_cls)  # (..., n', d)
    q_pooled *= call.scale
    last = pool_last(n, stride=stride, keep_cls=keep_cls, xp=xp) if causal else None  # (n',)
    k_t = xp.swapaxes(k, -1, -2)  # (..., d, m), a view
    running = None  # the partial softmax over the keys seen so far (0.4)
    # |q̄_g| <= max|q|: the guard's bounds on q hold for the pooled queries
    guard = _OverflowGuard("funnel_attention", q, k, v, call.scale, m)
    with guard:
        for start in range(0, m, chunk_size):
            stop = min(start + chunk_size, m)
            scores = q_pooled @ k_t[..., start:stop]  # (..., n', c)
            blocked = _blocked(xp, last, call.key_mask, start, stop, offset=m - n)
            guard.see(scores, blocked)  # a device flag: no sync inside the loop
            scores = _fill_blocked(scores, blocked)  # −inf where g may not read j: in place
            del blocked
            part = softmax_partial(scores, v[..., start:stop, :])
            del scores  # one n'×c array and two n'×d_v arrays alive at a time (13.6)
            running = part if running is None else merge_partials_(running, part)
            del part
        out = finish_partial(running)  # (..., n', d_v)
        guard.finish(out)
    if not return_weights:
        return out
    weights = FunnelWeights(
        q_pooled, k, last, call.key_mask, m - n, running.row_max, running.row_sum
    )
    return out, weights


def _blocked(xp, last, key_mask, start, stop, *, offset):
    """Boolean ``(..., n', stop − start)``, True where pooled query g may NOT read key j."""
    blocked = None
    if last is not None:
        # (13.5)  g reads j iff j <= last(g) + (m − n)
        blocked = xp.arange(start, stop)[None, :] > last[:, None] + offset  # (n', c)
    if key_mask is not None:
        padded = ~key_mask[..., None, start:stop]  # (..., 1, c)
        blocked = padded if blocked is None else blocked | padded
    return blocked


@dataclass(frozen=True)
class FunnelWeights:
    """The weights of :func:`funnel_attention`, recomputed on demand from ``O(n')`` statistics.

    ``to_dense()`` is the ``(..., n', m)`` matrix ``W`` with ``W V = out``:
    ``w_gj = exp(τ q̄_g·k_j − M_g) / l_g`` from the final row maximum ``M_g``
    and normaliser ``l_g`` (0.4).
    """

    q_scaled: Any  # (..., n', d), the pooled queries times τ
    k: Any  # (..., m, d), the caller's array
    last: Any  # (n',) or None (not causal)
    key_mask: Any  # (..., m) or None
    offset: int  # m − n
    row_max: Any  # (..., n', 1)
    row_sum: Any  # (..., n', 1)

    def to_dense(self):
        """The ``(..., n', m)`` weights; each row sums to 1 (or is all zero, (0.7))."""
        xp = array_module(q=self.q_scaled, k=self.k)
        m = self.k.shape[-2]
        scores = self.q_scaled @ xp.swapaxes(self.k, -1, -2)  # (..., n', m)
        scores = _fill_blocked(
            scores, _blocked(xp, self.last, self.key_mask, 0, m, offset=self.offset)
        )
        scores = scores - _finite_or_zero(xp, self.row_max)  # (0.4)  s_gj − M_g
        return xp.exp(scores) / _nonzero(self.row_sum)
