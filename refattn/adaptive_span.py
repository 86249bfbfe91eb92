"""Adaptive attention span: each head learns how far back it reads.

Sukhbaatar, Grave, Bojanowski & Joulin 2019, *Adaptive Attention Span in
Transformers*, arXiv:1905.07799.  Each head multiplies its attention weights
by a soft mask of the distance, 1 up to a span ``z`` and then a linear ramp
down to 0 over ``R`` more positions, and renormalises.  The span ``z`` is a
parameter learned per head (the mask is differentiable in it), with a penalty
``λ·Σ z`` that keeps spans short; keys farther than ``z + R`` get no weight,
so a head costs ``O(n·(z + R))`` instead of ``O(n²)``.

Equations, numbered as in ``derivations/12-adaptive-span.md``:

* (12.1) the soft mask ``m_z(x) = clamp((R + z − x)/R, 0, 1)``;
* (12.2) the weights ``a_ij = m_z(i−j) exp(s_ij) / Σ_k m_z(i−k) exp(s_ik)``, computed
  as a softmax of ``s_ij + log m_z(i − j)``;
* (12.3) the reach ``⌈z + R⌉ − 1``: only those keys are read, in blocks, as a band;
* (12.4) ``causal=False`` (a choice: the paper's model is a causal LM) is the
  symmetric span, distance ``|i − j|``;
* (12.5) the gradient of a loss with respect to ``z``; (12.6) the span loss ``λ·Σ z``;
* (12.7) memory and flops: :func:`refattn.complexity.adaptive_span_memory`.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction
from typing import Any, NamedTuple

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    _scalar,
    array_module,
    broadcasts_to,
    check_all_finite,
    check_array,
    check_attention_call,
    check_bool,
    check_float_array,
    check_output,
    check_real,
    describe,
    quiet,
)
from .backend import window_view
from .complexity import SpanGeometry, span_geometry
from .jl import _is_array
from .softmax import _fill_blocked, _nonzero, _OverflowGuard, finish_partial, softmax_partial

__all__ = [
    "SUPPORTS",
    "AdaptiveSpanWeights",
    "adaptive_span_attention",
    "soft_mask",
    "span_gradient",
    "span_loss",
    "span_reach",
]

#: What :func:`adaptive_span_attention` can honour of the calling convention.
SUPPORTS = Supports(general_mask=LINEAR_TIME_MASK)


def soft_mask(distance, *, span, ramp=32):
    """The soft mask ``m_z(x) = clamp((R + z − x)/R, 0, 1)`` of the paper (12.1).

    1 for ``x <= z``, a linear ramp to 0 on ``z <= x <= z + R``, 0 beyond.

    Parameters
    ----------
    distance : array
        Distances ``x`` (``i − j``; for the symmetric span, ``|i − j|``).
    span : real >= 0 or array
        ``z``; an array broadcasts with ``distance``.
    ramp : real > 0
        ``R``, the length of the ramp.

    Examples
    --------
    >>> import numpy as np
    >>> soft_mask(np.arange(6.0), span=2, ramp=2)
    array([1. , 1. , 1. , 0.5, 0. , 0. ])
    """
    xp = check_array("distance", distance, dtype="real")
    ramp = _check_ramp(ramp)
    z = _as_span(span, xp)
    if _is_array(span):
        _span_values(span)  # finite and >= 0: one host read
    return _mask(xp, distance, z, ramp).astype(
        distance.dtype if distance.dtype.kind == "f" else "float64", copy=False
    )


def _mask(xp, distance, span, ramp):
    """(12.1) in float64 as ``clip(R + z − x, 0, R) / R``: no overflow, no NaN, for any finite R."""
    top = xp.clip(ramp + span - distance.astype("float64", copy=False), 0, ramp)
    return top / ramp  # in [0, 1]: the clip's 0 and R give exactly 0 and 1


def span_reach(span, ramp=32) -> int:
    """The largest distance with a nonzero mask, ``⌈z + R⌉ − 1`` (12.3); ``z`` its largest value.

    ``m_z(x) > 0`` iff ``x < z + R``, so query ``i`` reads keys ``i − reach … i``.

    >>> span_reach(256, 32), span_reach(2.5, 1)
    (287, 3)
    """
    ramp = _check_ramp(ramp)
    return _reach(_largest_span(span), ramp)


def _reach(z: float, ramp: float) -> int:
    """``⌈z + R⌉ − 1`` exactly, in rationals: no rounding, no overflow for any finite z, R."""
    return math.ceil(Fraction(z) + Fraction(ramp)) - 1


class AdaptiveSpanWeights(NamedTuple):
    """Attention weights of :func:`adaptive_span_attention`, in banded form.

    Attributes
    ----------
    band : array (..., n, left + right + 1)
        ``band[..., i, u]`` is the weight of key ``j = i + (m − n) − left + u``
        (0 where that key is outside ``[0, m)``, padded, or past the span).
    m, left, right : int
        Keys, and the reach of the band before and after the query's position.
    """

    band: Any
    m: int
    left: int
    right: int

    def to_dense(self):
        """The weights as an ``(..., n, m)`` array, for tests and figures only."""
        xp = array_module(band=self.band)
        *batch, n, width = self.band.shape
        dense = xp.zeros((*batch, n, self.m), dtype=self.band.dtype)
        rows = xp.arange(n)
        for u in range(width):
            keys = rows + (self.m - n) - self.left + u
            inside = (keys >= 0) & (keys < self.m)
            dense[..., rows[inside], keys[inside]] = self.band[..., rows[inside], u]
        return dense


def adaptive_span_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    span,
    ramp=32,
):
    """Softmax attention with the soft span mask of each head, memory ``O(n·(z + R))``.

    Query ``i`` sits at position ``p_i = i + (m − n)`` (the last ``n`` of the
    ``m`` keys, as with a cache) and gives key ``j`` the weight (12.2)

    ``a_ij = m_z(x_ij) exp(s_ij) / Σ_k m_z(x_ik) exp(s_ik)``,  ``s_ij = τ q_i·k_j``,

    with ``x_ij = p_i − j`` and ``j <= p_i`` when causal (the paper's language
    model), ``x_ij = |p_i − j|`` otherwise (12.4).  Equal, up to rounding, to
    dense softmax weights multiplied by the mask and renormalised.  Only the
    keys with ``x < z + R`` are read, in blocks of queries against a strided
    window of keys (12.3); the band's width is that of the largest span among
    the heads, as in the authors' code, which trims its cache to the largest
    span; a head with a shorter span gets mask 0 on the rest of the band.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
        Leading axes broadcast.
    mask : bool array broadcastable to (..., 1, m), optional
        Key padding (True = may attend).  A mask with a query axis raises: it
        cannot be applied in linear time.
    causal : bool
        Only keys ``j <= p_i``; otherwise the span is symmetric.
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.
    return_weights : bool
        Also return an :class:`AdaptiveSpanWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs (an array ``span``
        too), e.g. inside timed regions; non-finite input then gives undefined
        results (:mod:`refattn.mechanisms`).  An array ``span`` is read once
        either way, its smallest and largest entries together, for the band's
        width: a negative or non-finite span raises ``ValueError`` there.
    span : real >= 0, sequence of reals >= 0, or array (..., 1, 1)
        ``z``.  A sequence gives one span per head, the head axis being the
        one before ``n`` (shape ``(h, 1, 1)``); an array (of the inputs'
        backend) broadcasts with the leading axes of q and k.
    ramp : real > 0
        ``R``, the length of the ramp (the paper uses 32).

    Returns
    -------
    out : array (..., n, d_v)
        In the inputs' dtype; 0 for a query whose span holds no real key.
    weights : AdaptiveSpanWeights
        Only when ``return_weights``.

    Examples
    --------
    Equal scores: query 3 with ``z = 1, R = 2`` weights keys 3, 2, 1 by 1, 1, 1/2:

    >>> import numpy as np
    >>> q = k = np.zeros((4, 2))
    >>> v = np.array([[0.0], [3.0], [6.0], [9.0]])
    >>> adaptive_span_attention(q, k, v, span=1, ramp=2, causal=True)[:, 0]
    array([0. , 1.5, 3.6, 6.6])
    """
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "adaptive_span_attention", q, k, v, mask=mask, causal=causal, scale=scale,
        return_weights=return_weights, check_finite=False,  # below, with the span: one pass
        supports=SUPPORTS,
    )  # fmt: skip
    ramp = _check_ramp(ramp)
    z = _check_span(span, call.dims)
    if check_finite:
        check_all_finite({"q": q, "k": k, "v": v, **_span_arrays(span)}, call.dims.xp)
    out, band, _ = _span_attention(call, q, k, v, z, ramp, "adaptive_span_attention", span)
    if not return_weights:
        return out
    geo = band.geo
    return out, AdaptiveSpanWeights(band.weights, call.dims.m, geo.left, geo.right)


def span_gradient(
    q, k, v, grad_out, *, span, ramp=32, mask=None, causal=False, scale=None, check_finite=True
):
    """The gradient ``∂L/∂z`` of a loss ``L`` of the output, given ``g = ∂L/∂out`` (12.5).

    Only the ramp, ``z < x < z + R``, depends on ``z``, with ``∂m/∂z = 1/R``
    there, so

    ``∂out_i/∂z = (1/R) Σ_{j in the ramp} (a_ij / m_ij) (v_j − out_i)``

    and ``∂L/∂z`` is ``Σ_i g_i·∂out_i/∂z``, summed over every axis that ``z``
    broadcasts along.  Computed on the same band as the attention, memory
    ``O(n·(z + R))``.  At the kinks ``x = z`` and ``x = z + R`` the mask has
    no derivative; this gives the one from the right for ``x = z`` and from
    the left for ``x = z + R`` (the ramp is the open interval).

    Parameters
    ----------
    q, k, v, span, ramp, mask, causal, scale, check_finite
        As in :func:`adaptive_span_attention`; ``check_finite`` covers ``grad_out`` too.
    grad_out : array (..., n, d_v)
        ``∂L/∂out``, broadcastable to the output.

    Returns
    -------
    grad : float, or array of the shape of ``span`` (``(h, 1, 1)`` for a sequence)
    """
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "span_gradient", q, k, v, mask=mask, causal=causal, scale=scale,
        return_weights=True, check_finite=False,  # below, with grad_out and the span: one pass
        supports=SUPPORTS,
    )  # fmt: skip
    dims, xp = call.dims, call.dims.xp
    ramp = _check_ramp(ramp)
    z = _check_span(span, dims)
    array_module(q=q, grad_out=grad_out)  # the inputs' backend, or TypeError
    check_array("grad_out", grad_out, min_ndim=2, axes="..., n, d_v", finite=False)
    out_shape = dims.batch + (dims.n, dims.d_v)
    if not broadcasts_to(grad_out.shape, out_shape):
        raise ValueError(
            f"grad_out must be broadcastable to the output shape (..., n, d_v) = {out_shape}, "
            f"got shape {grad_out.shape}"
        )
    if check_finite:
        named = {"q": q, "k": k, "v": v, "grad_out": grad_out, **_span_arrays(span)}
        check_all_finite(named, xp)
    out, band, blocks = _span_attention(call, q, k, v, z, ramp, "span_gradient", span)
    geo = band.geo
    # (12.5)  with g_i = ∂L/∂out_i:  ∂L/∂z = (1/R) Σ_i Σ_{j ramp} (a_ij/m_ij)(g_i·v_j − g_i·out_i)
    with quiet(xp):  # an overflow is reported below, with the reason
        g = xp.broadcast_to(grad_out, out_shape).astype(dims.dtype, copy=False)
        g_blocks = _query_blocks(xp, g, geo)  # (..., B, c, d_v)
        g_dot_v = g_blocks @ xp.swapaxes(blocks.v, -1, -2)  # (..., B, c, K)
        g_dot_out = (g * out).sum(axis=-1)  # (..., n)
        g_dot_out = _query_blocks(xp, g_dot_out[..., None], geo)  # (..., B, c, 1)
        per_key = blocks.a_over_m * (g_dot_v - g_dot_out)  # (..., B, c, K), 0 outside the ramp
        total = per_key.sum(axis=(-3, -2, -1))  # (...)  one value per batch element
        # divided by R in float64: R may be past the inputs' dtype (a float32 R of 0 or inf)
        total = (total.astype("float64") / ramp).astype(dims.dtype)
    grad = _reduce_to_span(xp, total, span, z)
    check_output(
        "span_gradient", grad, xp,
        reason=f"the gradient (1/R)·Σ (a/m)·g·(v − out) overflows {total.dtype} (ramp = {ramp:g}, "
        f"max|v|, max|grad_out|); rescale the inputs or use float64",
    )  # fmt: skip
    return grad


def span_loss(span, *, weight):
    """The paper's penalty on the spans, ``λ·Σ_heads z`` (12.6); its gradient is ``λ`` per head.

    >>> span_loss([10.0, 30.0], weight=2e-6)
    8e-05
    """
    weight = check_real("weight", weight, minimum=0)
    total = _span_sum(span)
    loss = weight * total
    if not math.isfinite(loss):
        raise FloatingPointError(
            f"span_loss produced NaN or inf from finite input: weight·Σ z = {weight:g}·{total:g} "
            "overflows float64"
        )
    return loss


# ---------------------------------------------------------------------------
# the banded computation (12.2)-(12.3)


class _Band(NamedTuple):
    geo: SpanGeometry
    weights: Any  # (..., n, left + right + 1) or None


class _Blocks(NamedTuple):
    v: Any  # (..., B, K, d_v), a strided view
    a_over_m: Any  # (..., B, c, K): a_ij / m_ij on the ramp, 0 elsewhere (for the gradient)


def _span_attention(call, q, k, v, z, ramp, name, span):
    """Blocks of ``c`` queries against their window of ``K = c + left + right`` keys (12.3)."""
    dims, xp, scale = call.dims, call.dims.xp, call.scale
    n, m = dims.n, dims.m
    # the band's width needs the largest span on the host: known there for spans given as
    # numbers, one device read for an array of spans (with its sign check)
    largest = _largest_span(span)
    geo = span_geometry(n, m, _reach(largest, ramp), call.causal)
    c, left, width = geo.block, geo.left, geo.keys_per_block

    # (12.2)  the log of the soft mask on the block layout, first (its temporaries are
    #         freed before the scores exist): query row r, key column s has distance
    #         x = p_i − j = left + r − s; the future (x < 0) is blocked when causal.
    #         In float64 (z and R may be past float32), then rounded to the inputs' dtype.
    distance = xp.arange(c, dtype="float64")[:, None] + left  # (c, 1)
    distance = distance - xp.arange(width, dtype="float64")[None, :]  # (c, K)
    if not call.causal:
        distance = xp.abs(distance)  # (12.4)  the symmetric span
    soft = _mask(xp, distance, z[..., None, :, :], ramp)  # (..., 1, c, K)
    if call.causal:  # (where, not a boolean-mask assignment: no device read on a GPU)
        soft = xp.where(distance < 0, 0, soft)  # the future
    del distance
    log_soft = xp.log(xp.where(soft > 0, soft, 1)).astype(dims.dtype)  # (..., 1, c, K)  log m_z(x)
    soft = soft.astype(dims.dtype)
    log_soft = xp.where(soft == 0, -xp.inf, log_soft)  # the keys past the span, and the future
    if not call.return_weights:
        del soft

    # keys are read through a window per block: key j of block b is column
    # s = j − (b·c + (m − n) − left); rows outside [0, m) are padding
    key_ok = xp.ones(m, dtype=bool) if call.key_mask is None else call.key_mask  # (..., m)
    guard = _OverflowGuard(name, q, k, v, scale, m)
    with guard:
        q_blocks = _query_blocks(xp, q * scale, geo)  # (..., B, c, d)
        k_blocks = _key_windows(xp, k, geo)  # (..., B, K, d)
        v_blocks = _key_windows(xp, v, geo)  # (..., B, K, d_v)
        ok_blocks = _key_windows(xp, key_ok[..., None], geo)[..., 0]  # (..., B, K)
        scores = q_blocks @ xp.swapaxes(k_blocks, -1, -2)  # (..., B, c, K)  s_ij = τ q_i·k_j
        del q_blocks, k_blocks
        if guard.armed:  # only the scores that get weight count
            guard.see(scores, xp.isneginf(log_soft) | ~ok_blocks[..., None, :])
        # (12.2)  s_ij + log m_z(x_ij): its softmax is m·exp(s) / Σ m·exp(s)
        if broadcasts_to(log_soft.shape, scores.shape):
            scores += log_soft
        else:  # z has batch axes that q·kᵀ lacks
            scores = scores + log_soft
        scores = _fill_blocked(scores, ~ok_blocks[..., None, :])  # padded or outside [0, m)
        del ok_blocks
        part = softmax_partial(scores, v_blocks)  # scores now hold exp(s + log m − M)
        row_sum = part.row_sum
        out = finish_partial(part)  # (..., B, c, d_v)  0 for a query that read nothing
        out = _rows(out, geo)  # (..., n, d_v)
        guard.finish(out)
    if not call.return_weights:
        return out, _Band(geo, None), None

    scores /= _nonzero(row_sum)  # (..., B, c, K)  a_ij
    band = _band(xp, scores, geo)  # (..., n, left + right + 1)
    # a_ij / m_ij on the ramp (12.5); m > 0 there
    ramp_part = (soft > 0) & (soft < 1)  # (..., 1, c, K)  where m depends on z (12.5)
    a_over_m = xp.where(ramp_part, scores / xp.where(ramp_part, soft, 1), 0)
    return out, _Band(geo, band), _Blocks(v_blocks, a_over_m)


def _query_blocks(xp, x, geo: SpanGeometry):
    """(..., n, f) -> (..., B, c, f), zero-padded past n."""
    pad = geo.blocks * geo.block - geo.n
    if pad:
        x = xp.concatenate([x, xp.zeros(x.shape[:-2] + (pad, x.shape[-1]), x.dtype)], axis=-2)
    return x.reshape(x.shape[:-2] + (geo.blocks, geo.block, x.shape[-1]))


def _key_windows(xp, x, geo: SpanGeometry):
    """(..., m, f) -> (..., B, K, f): block b's keys ``b·c + (m − n) − left + s``, s < K.

    A read-only strided view of the keys, padded with zero rows (False for a
    mask) where the windows reach before key 0 or past key m − 1.
    """
    first = geo.m - geo.n - geo.left  # key index of block 0's column 0
    rows = geo.blocks * geo.block + geo.left + geo.right  # rows the windows cover
    front = max(0, -first)
    x = x[..., max(0, first) :, :]
    tail = rows - front - x.shape[-2]
    if tail < 0:
        x = x[..., : x.shape[-2] + tail, :]
    if front or tail > 0:
        parts = [xp.zeros(x.shape[:-2] + (front, x.shape[-1]), x.dtype)] if front else []
        parts.append(x)
        if tail > 0:
            parts.append(xp.zeros(x.shape[:-2] + (tail, x.shape[-1]), x.dtype))
        x = xp.concatenate(parts, axis=-2)
    return window_view(x, size=geo.keys_per_block, step=geo.block, count=geo.blocks)


def _rows(x, geo: SpanGeometry):
    """(..., B, c, f) -> (..., n, f): back to sequence order (a view)."""
    x = x.reshape(x.shape[:-3] + (geo.blocks * geo.block, x.shape[-1]))
    return x[..., : geo.n, :]


def _band(xp, e, geo: SpanGeometry):
    """Block weights (..., B, c, K) -> band (..., n, left + right + 1): column u = s − r."""
    width = geo.left + geo.right + 1
    index = xp.arange(geo.block)[:, None] + xp.arange(width)[None, :]  # (c, width)
    index = xp.broadcast_to(index, e.shape[:-1] + (width,))
    return _rows(xp.take_along_axis(e, index, axis=-1), geo)


# ---------------------------------------------------------------------------
# checks


def _check_ramp(ramp) -> float:
    return check_real("ramp", ramp, minimum=0, open_min=True)


_SPAN_DOMAIN = (
    "span must be a finite real >= 0, a sequence of them (one per head) or a float array "
    "of shape (..., 1, 1)"
)


def _check_real_span(z) -> float:
    plain = _scalar(z)
    if (
        isinstance(plain, bool)
        or type(plain).__name__ == "bool_"
        or not isinstance(plain, numbers.Real)
    ):
        raise TypeError(f"{_SPAN_DOMAIN}, got {describe(z)}")
    if not (math.isfinite(plain) and plain >= 0):
        raise ValueError(f"{_SPAN_DOMAIN}, got {describe(z)}")
    return float(plain)


def _check_span_array(span, xp=None):
    """An array of spans: its backend (``xp``'s, when given), float dtype, at least one entry.

    Host-side checks only; its values are checked where they are read: the
    finiteness pass of the call (``check_finite``) and :func:`_span_values`.
    """
    if xp is not None:
        array_module(span=span, inputs=xp.zeros(0))  # same backend, or TypeError
    xp = array_module(span=span)
    check_float_array("span", span)
    if span.size == 0:
        raise ValueError(f"{_SPAN_DOMAIN}, got an empty array of shape {tuple(span.shape)}")
    return xp


def _span_values(span, *more):
    """The smallest and largest entries of a checked span array, and ``more``: one host read.

    ``more`` are further 0-d reductions of the same array (its sum) read in the
    same :meth:`tolist`.  A NaN or an infinity shows in the smallest or the
    largest entry, so a non-finite span is refused here as well, with the
    message of the finiteness pass, when ``check_finite=False`` skipped it:
    the band's width cannot be computed from it.  Returns ``[lowest, largest, *more]``.
    """
    xp = array_module(span=span)
    values = xp.stack([span.min(), span.max(), *more]).tolist()
    lowest, largest = values[0], values[1]
    if not (math.isfinite(lowest) and math.isfinite(largest)):
        raise ValueError("span must contain only finite values, got NaN or inf")
    if lowest < 0:
        raise ValueError(f"{_SPAN_DOMAIN}, got a negative value")
    return values


def _as_span(span, xp):
    """``span`` as a float64 array of backend ``xp``: a real (0-d), a sequence (h, 1, 1), an array.

    Float64 whatever the inputs' dtype: a span past float32's range still means "read
    everything", and the mask (12.1) is computed in float64.  An array's values are not
    read here (:func:`_span_values` does, once).
    """
    if _is_array(span):
        _check_span_array(span, xp)
        return span.astype("float64", copy=False)
    if isinstance(span, (list, tuple)):
        if not span:
            raise ValueError(f"{_SPAN_DOMAIN}, got an empty sequence")
        values = [_check_real_span(z) for z in span]
        return xp.asarray(values, dtype="float64").reshape(-1, 1, 1)
    return xp.asarray(_check_real_span(span), dtype="float64")


def _check_span(span, dims):
    """``z`` as an array ``(..., 1, 1)`` whose leading axes broadcast with the inputs'."""
    z = _as_span(span, dims.xp)
    if z.ndim < 2:
        z = z.reshape((1, 1))
    if z.shape[-2:] != (1, 1) or not broadcasts_to(z.shape[:-2], dims.batch):
        raise ValueError(
            f"{_SPAN_DOMAIN} whose leading axes broadcast with the inputs' {dims.batch}, "
            f"got shape {tuple(z.shape)}"
        )
    return z


def _span_arrays(span) -> dict:
    """The span, for the call's finiteness pass, when it is an array (numbers are checked)."""
    return {"span": span} if _is_array(span) else {}


def _largest_span(span) -> float:
    """The largest span; an array's is read from the device once, with its range checks."""
    if _is_array(span):
        _check_span_array(span)
        return _span_values(span)[1]
    if isinstance(span, (list, tuple)):
        if not span:
            raise ValueError(f"{_SPAN_DOMAIN}, got an empty sequence")
        return max(_check_real_span(z) for z in span)
    return _check_real_span(span)


def _span_sum(span) -> float:
    if _is_array(span):
        _check_span_array(span)
        return _span_values(span, span.sum())[2]
    if isinstance(span, (list, tuple)):
        if not span:
            raise ValueError(f"{_SPAN_DOMAIN}, got an empty sequence")
        return sum(_check_real_span(z) for z in span)
    return _check_real_span(span)


def _reduce_to_span(xp, total, span, z):
    """Sum the per-batch-element gradient over the axes along which ``z`` broadcasts."""
    lead = z.shape[:-2]  # z's leading axes, broadcasting with total's
    extra = total.ndim - len(lead)
    total = total.sum(axis=tuple(range(extra))) if extra else total
    axes = tuple(i for i, s in enumerate(lead) if s == 1 and total.shape[i] != 1)
    if axes:
        total = total.sum(axis=axes, keepdims=True)
    if _is_array(span):
        return total.reshape(span.shape)
    if isinstance(span, (list, tuple)):
        return total.reshape(len(span), 1, 1)
    return float(total.sum())
