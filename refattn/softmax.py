r"""Exact attention: the oracle every approximation in refattn is checked against.

Scaled dot-product attention (Vaswani et al. 2017, arXiv:1706.03762) mixes the
values with weights ``softmax(Q Kᵀ / √d)``, row by row.  :func:`softmax_attention`
computes it the direct way, holding the whole ``n × m`` score matrix.
:func:`chunked_attention` gives the same numbers without that matrix: it visits
the keys in chunks and keeps, per query, a running maximum, a running
normaliser and a running weighted sum, rescaling the last two whenever the
maximum grows (the "online softmax" of Milakov & Gimelshein 2018,
arXiv:1805.02867; used for attention by Rabe & Staats 2021, arXiv:2112.05682,
and by FlashAttention, Dao et al. 2022, arXiv:2205.14135).

Equations, numbered as in ``derivations/00-exact-attention.md``:

* (0.1) ``s_ij = scale · q_i·k_j``, ``A = softmax(S) V`` with the softmax over keys;
* (0.3) ``softmax(x) = softmax(x − c)``: subtract the row maximum before ``exp``;
* (0.4) the online-softmax update that makes chunked equal to dense;
* (0.6) the causal rule ``j ≤ i + (m − n)`` (queries aligned with the *last* keys);
* (0.7) a query with no allowed key gets output 0 and weights 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._validation import (
    array_module,
    broadcasts_to,
    check_attention_call,
    check_float_array,
    check_int,
    check_output,
    quiet,
)
from .backend import _refuse_allocation
from .complexity import chunked_attention_memory

__all__ = ["ChunkedWeights", "chunked_attention", "softmax", "softmax_attention"]


def softmax(x, axis=-1):
    """Numerically stable softmax of ``x`` along ``axis``.

    ``-inf`` entries mean "masked" and get weight 0; a slice that is entirely
    ``-inf`` gets all zeros rather than NaN (0.7).  The maximum of each slice is
    subtracted before exponentiating (0.3), so large logits do not overflow.

    Parameters
    ----------
    x : array, float32 or float64
        Logits; may contain ``-inf``, not NaN or ``+inf``.  Not modified.
    axis : int
        The axis that sums to one.

    Returns
    -------
    array of the same shape and dtype as ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([[1.0, 1.0, 1.0, 1.0], [0.0, -np.inf, -np.inf, -np.inf]]))
    array([[0.25, 0.25, 0.25, 0.25],
           [1.  , 0.  , 0.  , 0.  ]])
    """
    xp = array_module(x=x)
    check_float_array("x", x)
    if x.ndim < 1 or 0 in x.shape:
        raise ValueError(f"x must have ndim >= 1 and no empty axis, got shape {x.shape}")
    axis = check_int("axis", axis, minimum=-x.ndim)
    if axis >= x.ndim:
        raise ValueError(
            f"axis must be in [{-x.ndim}, {x.ndim - 1}] for x.ndim {x.ndim}, got {axis}"
        )
    if not bool((x < xp.inf).all()):  # one pass: false for NaN and +inf alike
        raise ValueError("x must not contain NaN or +inf (-inf is allowed and means masked)")
    e = x.copy()
    _exp_minus_max_(e, axis)
    e /= _nonzero(e.sum(axis=axis, keepdims=True))
    return e


def softmax_attention(
    q, k, v, *, mask=None, causal=False, scale=None, return_weights=False, check_finite=True
):
    """Exact scaled dot-product attention, ``softmax(scale · Q Kᵀ) V``.

    Holds the full ``(..., n, m)`` score matrix: memory ``n·m`` per head
    (see :func:`refattn.complexity.dense_attention_memory`).  This is the oracle.

    Parameters
    ----------
    q : array (..., n, d)
        Queries.  Leading axes of q, k and v broadcast together.
    k : array (..., m, d)
        Keys.
    v : array (..., m, d_v)
        Values.
    causal : bool
        If True, query ``i`` attends only keys ``j <= i + (m - n)``.  With
        ``m == n`` this is the usual lower-triangular mask; with ``m > n`` the
        queries are the *last* ``n`` positions of the key sequence (as when
        keys include a cache or memory of earlier tokens).  (0.6)
    mask : bool array broadcastable to (..., n, m), optional
        True where query ``i`` may attend key ``j``.  Combined with ``causal``
        by logical and.
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.
    return_weights : bool
        Also return the attention weights ``(..., n, m)``.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).

    Returns
    -------
    out : array (..., n, d_v)
        Dtype is the common dtype of q, k and v.  A query that may attend no
        key gets a row of zeros (0.7), never NaN.
    weights : array (..., n, m)
        Only when ``return_weights``; each row sums to 1 (or is all zero).
        Exact attention's weights are already the dense matrix, so they are
        returned as a plain array; :func:`refattn.mechanisms.dense_weights`
        (and the registry's callables) give every mechanism's weights the
        same ``.to_dense()`` form.

    Raises
    ------
    FloatingPointError
        If finite inputs give a score or an output that is not finite (e.g.
        float32 entries near 1e20, whose ``q·k`` overflows); the message gives
        the bound that was exceeded.
    MemoryError
        Before allocating a score matrix larger than the memory available.

    Examples
    --------
    Equal scores average the values; causal attention averages the prefix:

    >>> import numpy as np
    >>> q = k = np.zeros((3, 2))
    >>> v = np.array([[0.0], [3.0], [6.0]])
    >>> softmax_attention(q, k, v)
    array([[3.], [3.], [3.]])
    >>> softmax_attention(q, k, v, causal=True)
    array([[0. ], [1.5], [3. ]])
    """
    call = check_attention_call(
        "softmax_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=check_finite,
    )
    dims, xp, scale = call.dims, call.dims.xp, call.scale
    _refuse_dense_scores(
        "softmax_attention", dims, q, k, hint="; chunked_attention gives the same without it"
    )
    with _OverflowGuard("softmax_attention", q, k, v, scale, dims.m) as guard:
        # (0.1)  s_ij = scale · q_i·k_j   (scaling q costs n·d, scaling S would cost n·m)
        scores = (q * scale) @ xp.swapaxes(k, -1, -2)  # (..., n, m)
        blocked = _blocked(xp, dims.n, dims.m, 0, dims.m, causal=causal, mask=mask)
        guard.see(scores, blocked)
        scores = _fill_blocked(scores, blocked)
        del blocked
        # (0.3)  e_ij = exp(s_ij − max_j s_ij), in place; masked entries become 0
        _exp_minus_max_(scores, -1)
        # (0.2)  l_i = Σ_j e_ij, with 1 in place of 0 for rows that attend nothing (0.7)
        row_sum = _nonzero(scores.sum(axis=-1, keepdims=True))  # (..., n, 1)
        if return_weights:
            scores /= row_sum  # (..., n, m) rows of P sum to 1
            out = scores @ v
            guard.finish(out)
            return out, scores
        # A = (E V) / l: dividing the (n, d_v) product is cheaper than dividing E
        out = (scores @ v) / row_sum  # (..., n, d_v)
        guard.finish(out)
        return out


def chunked_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    chunk_size=256,
):
    """Exact attention computed over key chunks, never holding an ``n × m`` array.

    Gives :func:`softmax_attention`'s result up to rounding.  Keys and values
    are read ``chunk_size`` at a time; per query it keeps the running maximum
    ``M_i``, the running normaliser ``l_i`` and the running numerator
    ``a_i = Σ_j exp(s_ij − M_i) v_j``, and rescales ``l_i`` and ``a_i`` by
    ``exp(M_old − M_new)`` when the maximum grows (0.4).  Working memory is
    ``n·chunk + n·d + 2·n·d_v`` elements (0.5,
    :func:`refattn.complexity.chunked_attention_memory`), linear in ``n`` for a
    fixed chunk.  A dense ``mask`` argument is itself ``n × m`` (the caller's
    array; it is only read chunk by chunk); ``causal=True`` needs no mask.

    Parameters
    ----------
    q, k, v, mask, causal, scale, check_finite
        As in :func:`softmax_attention`.
    return_weights : bool
        Also return a :class:`ChunkedWeights`: it keeps only the per-query
        maximum and normaliser (``O(n)``) and recomputes the ``(..., n, m)``
        weights on demand with ``.to_dense()``.
    chunk_size : int >= 1
        Keys per chunk.  Any value gives the same result; larger chunks use
        more memory and fewer, larger matrix products.

    Returns
    -------
    out : array (..., n, d_v)
    weights : ChunkedWeights
        Only when ``return_weights``.

    Raises
    ------
    FloatingPointError
        As :func:`softmax_attention`; the chunks' checks stay on the device
        and are read once, after the last chunk.
    MemoryError
        Before allocating anything, when the working set
        (:func:`refattn.complexity.chunked_attention_memory` × batch × itemsize)
        exceeds the memory available; a smaller ``chunk_size`` helps.

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.zeros((3, 2))
    >>> v = np.array([[0.0], [3.0], [6.0]])
    >>> chunked_attention(q, k, v, causal=True, chunk_size=2)
    array([[0. ], [1.5], [3. ]])
    """
    call = check_attention_call(
        "chunked_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=check_finite,
    )
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    dims, xp, scale = call.dims, call.dims.xp, call.scale
    n, m = dims.n, dims.m
    # (0.5)  n·c + n·d + 2·n·d_v elements, before the first chunk is allocated
    _refuse_working_set(
        "chunked_attention",
        f"chunk_size = {chunk_size}",
        chunked_attention_memory(n, m, dims.d, dims.d_v, chunk=chunk_size),
        dims,
        hint=f"; pass a smaller chunk_size (the result does not depend on it; memory is "
        f"about n·chunk_size = {n}·chunk_size scores)",
    )

    with _OverflowGuard("chunked_attention", q, k, v, scale, m) as guard:
        q_scaled = q * scale  # (..., n, d)
        k_t = xp.swapaxes(k, -1, -2)  # (..., d, m), a view
        running = None  # the partial softmax over the keys seen so far
        for start in range(0, m, chunk_size):
            stop = min(start + chunk_size, m)
            scores = q_scaled @ k_t[..., start:stop]  # (..., n, c)
            blocked = _blocked(xp, n, m, start, stop, causal=causal, mask=mask)
            guard.see(scores, blocked)  # a device flag: no sync inside the loop
            scores = _fill_blocked(scores, blocked)
            del blocked
            part = softmax_partial(scores, v[..., start:stop, :])
            # free this chunk's scores, and its numerator once merged, before the next chunk:
            # one n×c array and two n×d_v arrays alive at a time (0.5)
            del scores
            running = part if running is None else merge_partials_(running, part)
            del part
        # (0.4, 0.7)  A_i = a_i / l_i, and 0 for a query that attended nothing
        out = finish_partial(running)
        guard.finish(out)
    if not return_weights:
        return out
    return out, ChunkedWeights(q_scaled, k, mask, causal, running.row_max, running.row_sum)


@dataclass(frozen=True)
class ChunkedWeights:
    """The weights of :func:`chunked_attention`, recomputed on demand from ``O(n)`` statistics.

    After the last chunk each query's maximum ``M_i`` and normaliser ``l_i``
    are final, so ``p_ij = exp(s_ij − M_i) / l_i`` (0.4) gives any weight
    without having stored it.  Holds the scaled queries, a reference to the
    keys and the mask (not copies) and two ``(..., n, 1)`` arrays.
    """

    q_scaled: Any  # (..., n, d)
    k: Any  # (..., m, d), the caller's array
    mask: Any  # the caller's mask or None
    causal: bool
    row_max: Any  # (..., n, 1)
    row_sum: Any  # (..., n, 1)

    def to_dense(self):
        """The ``(..., n, m)`` weights; each row sums to 1 (or is all zero, (0.7))."""
        xp = array_module(q=self.q_scaled, k=self.k)
        n, m = self.q_scaled.shape[-2], self.k.shape[-2]
        batch = self.row_max.shape[:-2]
        itemsize = xp.result_type(self.q_scaled, self.k).itemsize
        _refuse_allocation(
            math.prod(batch) * n * m * itemsize,
            xp,
            f"ChunkedWeights.to_dense: the dense weights {(*batch, n, m)}",
        )
        scores = self.q_scaled @ xp.swapaxes(self.k, -1, -2)  # (..., n, m)
        scores = _fill_blocked(scores, _blocked(xp, n, m, 0, m, causal=self.causal, mask=self.mask))
        scores = scores - _finite_or_zero(xp, self.row_max)  # (0.4)  s_ij − M_i
        return xp.exp(scores) / _nonzero(self.row_sum)


# ---------------------------------------------------------------------------
# partial softmaxes: the online-softmax identity (0.4), shared with other mechanisms


@dataclass
class SoftmaxPartial:
    """Softmax attention of some queries over *part* of their keys, not yet normalised.

    ``row_max`` is ``M_i`` (``-inf`` if the part held no allowed key),
    ``row_sum`` is ``l_i = Σ_j exp(s_ij − M_i)`` and ``numerator`` is
    ``a_i = Σ_j exp(s_ij − M_i) v_j``, the sums running over the part's keys.
    Two partials over disjoint key sets merge exactly (0.4), and
    ``numerator / row_sum`` of the merge of all parts is the attention output.
    """

    row_max: Any  # (..., n, 1)
    row_sum: Any  # (..., n, 1)
    numerator: Any  # (..., n, d_v)


def softmax_partial(scores, v) -> SoftmaxPartial:
    """The partial softmax of ``scores (..., n, c)`` over values ``v (..., c, d_v)``.

    ``-inf`` in ``scores`` marks a key that may not be attended.

    Consumes ``scores``: it is overwritten in place with ``exp(s − M)`` (0.3).
    """
    xp = array_module(scores=scores, v=v)
    row_max = scores.max(axis=-1, keepdims=True)  # (..., n, 1)
    scores -= _finite_or_zero(xp, row_max)
    xp.exp(scores, out=scores)  # (..., n, c)  e_ij = exp(s_ij − M_i)
    return SoftmaxPartial(row_max, scores.sum(axis=-1, keepdims=True), scores @ v)


def merge_partials_(into: SoftmaxPartial, other: SoftmaxPartial) -> SoftmaxPartial:
    """Merge ``other`` into ``into`` (both modified in place) and return it (0.4).

    With ``M = max(M_1, M_2)``, each part's sums are rescaled by
    ``exp(M_k − M) <= 1`` and added.
    """
    xp = array_module(into=into.numerator, other=other.numerator)
    new_max = xp.maximum(into.row_max, other.row_max)  # (..., n, 1)
    shift = _finite_or_zero(xp, new_max)
    into_scale = xp.exp(into.row_max - shift)  # (..., n, 1)  exp(M_1 − M) ≤ 1
    other_scale = xp.exp(other.row_max - shift)  # (..., n, 1)  exp(M_2 − M) ≤ 1
    into.row_sum = into.row_sum * into_scale + other.row_sum * other_scale
    other.numerator *= other_scale
    into.numerator = _scaled_sum_(into.numerator, into_scale, other.numerator)
    into.row_max = new_max
    return into


def finish_partial(part: SoftmaxPartial):
    """The attention output ``a_i / l_i``, and 0 for a query that attended nothing (0.7)."""
    part.numerator /= _nonzero(part.row_sum)
    return part.numerator


def _scaled_sum_(x, scale, y):
    """``x · scale + y``, in place in ``x`` unless ``y`` has batch axes that ``x`` lacks."""
    if broadcasts_to(y.shape, x.shape):
        x *= scale
        x += y
        return x
    return x * scale + y


# ---------------------------------------------------------------------------
# resource and overflow guards, shared with the mechanisms that compute exact scores


def _refuse_dense_scores(name, dims, q, k, *, hint=""):
    """``MemoryError`` before allocating an ``(..., n, m)`` score matrix that cannot fit."""
    itemsize = dims.xp.result_type(q, k).itemsize
    shape = (*dims.score_batch, dims.n, dims.m)
    _refuse_allocation(
        math.prod(shape) * itemsize, dims.xp, f"{name}: the score matrix {shape}", hint=hint
    )


def _refuse_working_set(name, option, elements, dims, *, hint=""):
    """``MemoryError`` before a call whose working set cannot fit in the memory available.

    ``elements`` is the per-head peak of :mod:`refattn.complexity`'s memory
    formula for this call; it is multiplied by the batch (the larger of the
    output's and the scores' leading axes) and the itemsize of the common
    dtype, so that the refusal and the formula agree.  ``option`` names the
    argument responsible (e.g. ``"window = 1000000000"``).
    """
    batch = max(math.prod(dims.batch), math.prod(dims.score_batch))
    nbytes = int(elements) * batch * dims.dtype.itemsize
    _refuse_allocation(
        nbytes,
        dims.xp,
        f"{name} with {option}: its working set of {int(elements) * batch} elements "
        f"({nbytes} bytes)",
        hint=hint,
    )


class _OverflowGuard:
    """Nothing returns NaN or inf from finite input: q·k and the weighted sum of v stay finite.

    One reduction pass and one host sync give the a-priori bounds
    ``|scale·q_i·k_j| <= scale·d·max|q|·max|k|`` (every partial sum of the dot
    product too) and ``|Σ_j e_ij v_j| <= m·max|v|`` (``0 <= e_ij <= 1``).  When
    both stay below the largest finite number of the dtype nothing can
    overflow and the guard does nothing more.  Otherwise it is *armed*: each
    block of scores is checked on the device (no sync; masked scores are
    ignored) and :meth:`finish` raises ``FloatingPointError`` with the bound
    if a score, or the output, is not finite.  An overflow to ``-inf`` would
    otherwise read as "masked" and silently zero a row.
    """

    def __init__(self, name, q, k, v, scale, keys):
        xp = array_module(q=q, k=k, v=v)
        self.name, self.xp = name, xp
        self.ok = None  # the device flag of the armed guard
        top_q, top_k, top_v = xp.stack([xp.abs(q).max(), xp.abs(k).max(), xp.abs(v).max()]).tolist()
        self.score_dtype = xp.result_type(q, k)
        self.out_dtype = xp.result_type(q, k, v)
        score_max = float(xp.finfo(self.score_dtype).max)
        out_max = float(xp.finfo(self.out_dtype).max)
        d = q.shape[-1]
        reasons = []
        if scale * top_q > score_max:
            reasons.append(
                f"scale·q overflows {self.score_dtype}: scale·max|q| ≈ {scale * top_q:.2g} "
                f"> {score_max:.2g}"
            )
        bound = scale * d * top_q * top_k
        if bound > score_max:
            reasons.append(
                f"q·k overflows {self.score_dtype}: scale·d·max|q|·max|k| ≈ {bound:.2g} "
                f"> {score_max:.2g}"
            )
        self.score_reason = "; ".join(reasons)
        self.out_reason = ""
        if keys * top_v > out_max:
            self.out_reason = (
                f"the weighted sum of v overflows {self.out_dtype}: m·max|v| ≈ "
                f"{keys * top_v:.2g} > {out_max:.2g}"
            )
        self.armed = bool(reasons) or bool(self.out_reason)
        self._quiet = None

    def __enter__(self):
        """While armed, NumPy's overflow warnings are silenced: :meth:`finish` reports them."""
        if self.armed:
            self._quiet = quiet(self.xp)
            self._quiet.__enter__()
        return self

    def __exit__(self, *exc):
        if self._quiet is not None:
            self._quiet.__exit__(*exc)
            self._quiet = None
        return False

    def see(self, scores, blocked=None):
        """Record on the device whether every score that counts (not ``blocked``) is finite."""
        if not self.armed:
            return
        bad = ~self.xp.isfinite(scores)
        if blocked is not None:
            bad = bad & ~blocked
        flag = ~bad.any()
        self.ok = flag if self.ok is None else self.ok & flag

    def finish(self, out):
        """Raise ``FloatingPointError`` if the armed guard saw a non-finite score or output."""
        if not self.armed:
            return
        advice = "; rescale the inputs or use float64"
        if self.ok is not None and not bool(self.ok):
            raise FloatingPointError(
                f"{self.name} cannot compute the scores: {self.score_reason or 'q·k overflows'}"
                f"{advice}"
            )
        reason = "; ".join(r for r in (self.score_reason, self.out_reason) if r)
        check_output(self.name, out, self.xp, reason=reason + advice)


# ---------------------------------------------------------------------------
# helpers shared by the two paths (and by mechanisms that build masked scores)


def _blocked(xp, n, m, start, stop, *, causal, mask):
    """Boolean ``(..., n, stop − start)``: True where query i may NOT attend key j.

    Covers keys ``start <= j < stop``; None when nothing is blocked.
    """
    blocked = None
    if causal:
        # (0.6)  query i sees key j iff j ≤ i + (m − n)
        rows = xp.arange(n)[:, None]  # (n, 1)
        cols = xp.arange(start, stop)[None, :]  # (1, c)
        blocked = cols > rows + (m - n)  # (n, c)
    if mask is not None:
        # broadcast a size-1 key axis to m first, so that slicing it is meaningful
        mask_cols = xp.broadcast_to(mask, mask.shape[:-1] + (m,))[..., start:stop]
        blocked = ~mask_cols if blocked is None else blocked | ~mask_cols
    return blocked


def _fill_blocked(scores, blocked):
    """``scores`` with ``-inf`` where ``blocked``.

    In place (``scores`` is ours, never an input) unless the mask carries batch
    axes that ``q·kᵀ`` lacks, in which case the result grows to include them.
    """
    if blocked is None:
        return scores
    xp = array_module(scores=scores, blocked=blocked)
    if broadcasts_to(blocked.shape, scores.shape):
        xp.copyto(scores, -xp.inf, where=blocked)
        return scores
    return xp.where(blocked, -xp.inf, scores)


def _finite_or_zero(xp, row_max):
    """The row maximum, with 0 for rows whose maximum is -inf (nothing allowed yet)."""
    return xp.where(xp.isneginf(row_max), 0, row_max)


def _exp_minus_max_(x, axis) -> None:
    """Replace ``x`` by ``exp(x − max)`` along ``axis``, in place (0.3); ``-inf`` becomes 0."""
    xp = array_module(x=x)
    x -= _finite_or_zero(xp, x.max(axis=axis, keepdims=True))
    xp.exp(x, out=x)


def _nonzero(total):
    """``total`` with zeros replaced by ones, so an all-masked row divides 0 by 1 (0.7)."""
    xp = array_module(total=total)
    return xp.where(total == 0, 1, total)
