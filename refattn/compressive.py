"""Transformer-XL segment memory and the Compressive Transformer's compressed memory.

Dai et al. 2019, *Transformer-XL*, arXiv:1901.02860; Rae et al. 2019,
*Compressive Transformers for Long-Range Sequence Modelling*, arXiv:1911.05507.
A long sequence is fed in segments.  Each layer keeps the inputs of its last
``n_m`` positions as *memory* and attends over ``[memory; segment]``; the
Compressive Transformer does not discard what falls out of the memory but
compresses it, ``c`` rows into one, into a second, *compressed* memory of
``n_cm`` rows, so the layer sees ``n_m + c·n_cm`` past positions.

Equations, numbered as in ``derivations/05-compressive.md``:

* (5.1) the memory update (and the pending rows of an incomplete block);
* (5.2) XL attention equals dense attention with a band mask;
* (5.4) temporal range and cost;
* (5.5) the compression functions;
* (5.6) the attention-reconstruction loss and its gradient;
* (5.7) the q/k/v form: which keys each query of a whole sequence reads;
* (5.8) compressors linear along the sequence axis commute with the projections;
* (5.9) the q/k/v form's working set and flops.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    check_all_finite,
    check_array,
    check_attention_call,
    check_bool,
    check_dtype,
    check_finite,
    check_float_array,
    check_int,
    check_output,
    check_real,
    describe,
    extremes,
    quiet,
)
from .backend import module_for, pad_axis, to_numpy, window_view
from .positional import relative_scores
from .softmax import (
    _fill_blocked,
    _finite_or_zero,
    _nonzero,
    finish_partial,
    merge_partials_,
    softmax,
    softmax_attention,
    softmax_partial,
)

__all__ = [
    "MemoryState",
    "COMPRESSIVE_SUPPORTS",
    "Relative",
    "SegmentWeights",
    "XL_SUPPORTS",
    "attention_reconstruction_loss",
    "compressive_attention",
    "compressive_memory_attention",
    "conv1d",
    "conv1d_loss_and_gradient",
    "dilated_conv",
    "fit_conv_compressor",
    "max_pool",
    "mean_pool",
    "most_used",
    "temporal_range",
    "update",
    "xl_attention",
]

Compressor = Callable[[Any, int], Any]

#: The most one layer's memories may hold when full, in bytes (1 TiB): more than any one
#: device has, so a larger capacity is a mistake (a byte count given as rows, say),
#: refused up front rather than found out when the memories fill.
_MAX_STATE_BYTES = 2**40


#: The most steps :func:`fit_conv_compressor` takes: it keeps every step's loss, and more
#: steps than this would take days; a larger count is a mistake, refused up front.
_MAX_STEPS = 10**8


# ---------------------------------------------------------------------------
# checks shared by the functions of this module


def _check_rows(name, x, *, axes, d=None, why="", min_rows=1):
    """``x`` a float array ``(rows, d)`` with ``rows >= min_rows`` and width ``d`` if given.

    Its values are checked by the caller, together with the call's other arrays
    (one host sync for all of them).
    """
    check_array(name, x, ndim=2, axes=axes, finite=False)
    if d is not None and x.shape[1] != d:
        raise ValueError(f"{name} must have shape ({axes}) with d = {d}{why}, got shape {x.shape}")
    if x.shape[1] < 1:
        raise ValueError(f"{name} must have shape ({axes}) with d >= 1, got shape {x.shape}")
    if x.shape[0] < min_rows:
        rows = f"{min_rows} row" + ("" if min_rows == 1 else "s")
        raise ValueError(
            f"{name} must have shape ({axes}) with at least {rows}, got shape {x.shape}"
        )


def _check_projections(d, wq, wk, wv, *, why):
    """``wq, wk (d, d_k)`` and ``wv (d, d_v)``: float arrays on the ``d`` input features.

    Their values are checked by the caller, with its other arrays.
    """
    for name, w, axes in (("wq", wq, "d, d_k"), ("wk", wk, "d, d_k"), ("wv", wv, "d, d_v")):
        check_array(name, w, ndim=2, axes=axes, finite=False)
        if w.shape[0] != d or w.shape[1] < 1:
            raise ValueError(
                f"{name} must have shape ({axes}) with d = {d}{why} and {axes[3:]} >= 1, "
                f"got shape {w.shape}"
            )
    if wk.shape[1] != wq.shape[1]:
        raise ValueError(
            f"wk must have shape (d, d_k) with d_k = {wq.shape[1]} (the columns of wq), "
            f"got shape {wk.shape}"
        )


def _finite_flag(xp, *arrays):
    """A 0-d boolean device array: True if every one of ``arrays`` (at least one) is finite."""
    return xp.isfinite(extremes(xp, *arrays)).all()


def _finite_peak(name, x, xp) -> float:
    """``max |x|`` (0 for an empty array), raising if ``x`` holds NaN or inf: one host sync."""
    if x.size == 0:
        return 0.0
    peak = float(xp.abs(x).max())
    if not math.isfinite(peak):
        raise ValueError(f"{name} must contain only finite values, got NaN or inf")
    return peak


def _check_capacity(d, n_mem, n_cmem, dtype):
    """Memories of ``n_mem + n_cmem`` rows of width ``d`` must fit in ``_MAX_STATE_BYTES``."""
    itemsize = 4 if str(dtype) == "float32" else 8
    need = max(1, n_mem + n_cmem) * d * itemsize
    if need > _MAX_STATE_BYTES:
        raise ValueError(
            f"n_mem + n_cmem = {n_mem} + {n_cmem} rows of width d = {d} in {dtype} would need "
            f"{need / 2**40:.3g} TiB when full, more than the limit of "
            f"{_MAX_STATE_BYTES // 2**40} TiB; n_mem, n_cmem and d count rows and features, "
            f"not bytes"
        )


def _check_state(state):
    """``state`` must be a :class:`MemoryState`."""
    if not isinstance(state, MemoryState):
        raise TypeError(
            f"state must be a MemoryState (e.g. MemoryState.empty(d, n_mem=...)), got "
            f"{type(state).__name__} {describe(state)}"
        )


@dataclass(frozen=True)
class MemoryState:
    """The memories of one layer: an immutable value; :func:`update` returns a new one.

    Built by :meth:`empty` and :func:`update`; built directly, its arrays and
    capacities are checked as :func:`update` would leave them.

    Attributes
    ----------
    mem : array (≤ n_mem, d)
        The most recent inputs, oldest first.
    pending : array (< rate, d)
        Rows evicted from ``mem`` but not yet compressed: compression takes
        blocks of ``rate`` rows, and these wait for the rest of their block.
        Empty when ``n_cmem = 0``.
    cmem : array (≤ n_cmem, d)
        Compressed memory, oldest first.
    n_mem, n_cmem : int
        The capacities, in rows.
    """

    mem: Any
    pending: Any
    cmem: Any
    n_mem: int
    n_cmem: int

    def __post_init__(self):
        xp = array_module(mem=self.mem, pending=self.pending, cmem=self.cmem)
        _check_rows("mem", self.mem, axes="rows, d", min_rows=0)
        d = self.mem.shape[1]
        for name in ("pending", "cmem"):
            _check_rows(name, getattr(self, name), axes="rows, d", d=d,
                        why=" (the width of mem)", min_rows=0)  # fmt: skip
        n_mem = check_int("n_mem", self.n_mem, minimum=0)
        n_cmem = check_int("n_cmem", self.n_cmem, minimum=0)
        _check_capacity(d, n_mem, n_cmem, self.mem.dtype)
        if self.mem.shape[0] > n_mem:
            raise ValueError(
                f"mem must hold at most n_mem = {n_mem} rows, got shape {self.mem.shape}"
            )
        if self.cmem.shape[0] > n_cmem:
            raise ValueError(
                f"cmem must hold at most n_cmem = {n_cmem} rows, got shape {self.cmem.shape}"
            )
        if n_cmem == 0 and self.pending.shape[0]:
            raise ValueError(
                f"pending must be empty when n_cmem = 0 (nothing is compressed), "
                f"got shape {self.pending.shape}"
            )
        check_all_finite({"mem": self.mem, "pending": self.pending, "cmem": self.cmem}, xp)
        object.__setattr__(self, "n_mem", n_mem)  # plain ints, also from NumPy integers
        object.__setattr__(self, "n_cmem", n_cmem)

    @classmethod
    def empty(cls, d, *, n_mem, n_cmem=0, xp=None, dtype="float64"):
        """Empty memories for inputs of width ``d``, holding up to ``n_mem`` and ``n_cmem`` rows."""
        d = check_int("d", d, minimum=1)
        n_mem = check_int("n_mem", n_mem, minimum=0)
        n_cmem = check_int("n_cmem", n_cmem, minimum=0)
        dtype = check_dtype("dtype", dtype)
        _check_capacity(d, n_mem, n_cmem, dtype)
        xp = module_for(xp)

        def nothing():
            return xp.zeros((0, d), dtype=dtype)

        return _state(nothing(), nothing(), nothing(), n_mem, n_cmem)  # checked above: not again

    @property
    def d(self) -> int:
        return self.mem.shape[-1]

    def context(self, xp):
        """``[cmem; pending; mem]``, oldest first: what a segment attends to before itself."""
        return xp.concatenate([self.cmem, self.pending, self.mem], axis=0)


def _state(mem, pending, cmem, n_mem, n_cmem) -> MemoryState:
    """A MemoryState from arrays :func:`update` has already checked (no second check)."""
    state = object.__new__(MemoryState)
    for name, value in zip(
        ("mem", "pending", "cmem", "n_mem", "n_cmem"), (mem, pending, cmem, n_mem, n_cmem),
        strict=True,
    ):  # fmt: skip
        object.__setattr__(state, name, value)
    return state


def update(state: MemoryState, h, *, compress: Compressor = None, rate: int = 1) -> MemoryState:
    """The memories after segment ``h (n_s, d)`` (5.1).

    ``h`` is appended to ``mem``; the rows beyond ``n_mem`` (the oldest) are
    evicted.  Without compressed memory (``n_cmem = 0``) they are dropped:
    Transformer-XL.  Otherwise they join ``pending``, every complete block of
    ``rate`` rows is compressed by ``compress`` into one row appended to
    ``cmem``, and ``cmem`` keeps its newest ``n_cmem`` rows.  A remainder of
    fewer than ``rate`` rows stays in ``pending`` (and is attended, like
    memory) until later evictions complete its block, so every row is
    compressed exactly once and nothing is lost.

    ``compress(rows, rate)`` must return one finite row of width ``d`` per
    block of ``rate`` rows.
    """
    _check_state(state)
    xp = array_module(h=h, **{"state.mem": state.mem})
    _check_rows("h", h, axes="n_s, d", d=state.d, why=" (the state's width)")
    rate = check_int("rate", rate, minimum=1)
    if state.n_cmem and compress is None:
        raise ValueError(
            "compress must be given when n_cmem > 0 (a compression function "
            "(rows, rate) -> one row per block of rate rows), got None"
        )
    if compress is not None and not callable(compress):
        raise TypeError(
            f"compress must be a function (rows, rate) -> one row per block of rate rows, "
            f"got {type(compress).__name__} {describe(compress)}"
        )
    check_all_finite({"h": h}, xp)
    # (5.1)  M' = the last n_m rows of [M; H]; the rows before them are evicted
    joined = xp.concatenate([state.mem, h], axis=0)
    cut = max(0, joined.shape[0] - state.n_mem)
    evicted, mem = joined[:cut], joined[cut:]
    if state.n_cmem == 0:
        return _state(mem, state.pending, state.cmem, state.n_mem, 0)  # Transformer-XL
    waiting = xp.concatenate([state.pending, evicted], axis=0)
    whole = (waiting.shape[0] // rate) * rate
    cmem = state.cmem
    if whole:
        # (5.1)  f_c maps the complete blocks, rate rows each, to whole/rate rows
        compressed = compress(waiting[:whole], rate)
        _check_compressed(compressed, whole // rate, state.d, h)
        cmem = xp.concatenate([cmem, compressed], axis=0)[-state.n_cmem :]
    return _state(mem, waiting[whole:], cmem, state.n_mem, state.n_cmem)


def _check_compressed(out, blocks, d, h):
    """What a compressor returned: ``(blocks, d)`` finite floats on the backend of ``h``."""
    domain = f"an array of shape (blocks, d) = ({blocks}, {d}), one row per block of rate rows"
    if getattr(out, "shape", None) is None or getattr(out, "dtype", None) is None:
        raise TypeError(f"compress must return {domain}, got {type(out).__name__}")
    xp = array_module(**{"compress(rows, rate)": out, "h": h})
    if out.shape != (blocks, d):
        raise ValueError(f"compress must return {domain}, got shape {out.shape}")
    check_float_array("compress(rows, rate)", out)
    check_output("compress", out, xp, reason="the compressor returned NaN or inf for finite rows")


# ---------------------------------------------------------------------------
# (5.5) compression functions: (e, d) -> (⌊e/c⌋, d), blocks of c consecutive rows


def _blocks(rows, rate):
    """(e, d) -> (⌊e/c⌋, c, d): consecutive blocks of ``rate`` rows (a remainder is left out)."""
    count = rows.shape[0] // rate
    return rows[: count * rate].reshape(count, rate, rows.shape[1])


def _check_compress_call(rows, rate):
    """The arguments of every compressor: ``rows (e, d)`` float, ``rate >= 1``; values unchecked."""
    xp = check_array("rows", rows, ndim=2, axes="e, d", finite=False)
    return xp, check_int("rate", rate, minimum=1)


def _check_whole_blocks(rows, rate):
    """A pooling compressor's ``rows (e, d)`` are whole blocks: ``e`` a multiple of ``rate``.

    :func:`update` passes only complete blocks (a remainder waits in ``pending``),
    so a partial block here is a caller's mistake, not a row to drop silently.
    """
    if rows.shape[0] % rate:
        raise ValueError(
            f"rows must be whole blocks of rate = {rate} rows (a number of rows divisible by "
            f"rate), got {rows.shape[0]} rows: a remainder of {rows.shape[0] % rate} would be "
            "dropped (update() keeps such rows pending until their block is complete)"
        )


def max_pool(rows, rate):
    """Each block of ``rate`` rows to its elementwise maximum: ``(e, d) -> (e/rate, d)``.

    ``e`` must be a multiple of ``rate`` (``ValueError`` otherwise): pooling
    works on whole blocks, and :func:`update` hands over only those.
    """
    xp, rate = _check_compress_call(rows, rate)
    _check_whole_blocks(rows, rate)
    check_finite("rows", rows, xp)
    return _blocks(rows, rate).max(axis=1)


def mean_pool(rows, rate):
    """Each block of ``rate`` rows to its mean: ``(e, d) -> (e/rate, d)``.

    ``e`` must be a multiple of ``rate`` (``ValueError`` otherwise): pooling
    works on whole blocks, and :func:`update` hands over only those.  Rows so
    large that their sum would overflow are divided by ``rate`` before they
    are summed (the mean of finite rows is always finite).
    """
    xp, rate = _check_compress_call(rows, rate)
    _check_whole_blocks(rows, rate)
    peak = _finite_peak("rows", rows, xp)
    blocks = _blocks(rows, rate)
    if peak * rate <= float(xp.finfo(rows.dtype).max):
        return blocks.mean(axis=1)
    return (blocks / rate).sum(axis=1)  # no partial sum exceeds the largest row


def _check_kernel(weights, axes, *, finite=True):
    """Convolution weights ``(taps, d, d)``: floats, finite unless ``finite=False``; square taps."""
    check_array("weights", weights, ndim=3, axes=axes, finite=finite)
    if weights.shape[1] != weights.shape[2] or 0 in weights.shape:
        raise ValueError(
            f"weights must have shape ({axes}) with equal last two axes and no empty axis, "
            f"got shape {weights.shape}"
        )


def conv1d(weights) -> Compressor:
    """A 1-D convolution with kernel = stride = ``c``: ``y_t = Σ_s x_{tc+s} W_s``.

    ``weights (c, d, d)``; the compressor it returns checks that the rate is ``c``.
    """
    _check_kernel(weights, "c, d, d")

    def compress(rows, rate):
        xp, rate = _check_compress_call(rows, rate)
        if rate != weights.shape[0] or rows.shape[1] != weights.shape[1]:
            raise ValueError(
                f"conv1d weights {weights.shape} need rate {weights.shape[0]} and width "
                f"{weights.shape[1]}, got rate {rate} and rows {rows.shape}"
            )
        xp = array_module(rows=rows, weights=weights)
        check_finite("rows", rows, xp)
        with quiet(xp):
            out = xp.einsum("tsd,sde->te", _blocks(rows, rate), weights)
        check_output("conv1d", out, xp, reason="the weights times the rows overflowed")
        return out

    return compress


def dilated_conv(weights, dilation) -> Compressor:
    """A dilated convolution inside each block: ``y_t = Σ_{s<K} x_{tc + s·δ} W_s``.

    ``weights (K, d, d)`` with ``(K − 1)·δ < c``, so each output reads only its
    own block of ``c`` rows (stride ``c``).
    """
    _check_kernel(weights, "K, d, d")
    dilation = check_int("dilation", dilation, minimum=1)
    taps = weights.shape[0]

    def compress(rows, rate):
        xp, rate = _check_compress_call(rows, rate)
        if (taps - 1) * dilation >= rate:
            raise ValueError(
                f"a dilated kernel of {taps} taps with dilation {dilation} spans "
                f"{(taps - 1) * dilation + 1} rows, more than the rate {rate}"
            )
        if rows.shape[1] != weights.shape[1]:
            raise ValueError(
                f"rows must have shape (e, d) with d = {weights.shape[1]} (the width of the "
                f"weights), got shape {rows.shape}"
            )
        xp = array_module(rows=rows, weights=weights)
        check_finite("rows", rows, xp)
        step = min(dilation, rate)  # = dilation unless there is one tap, which reads row 0
        picked = _blocks(rows, rate)[:, ::step][:, :taps]  # (t, K, d)
        with quiet(xp):
            out = xp.einsum("tsd,sde->te", picked, weights)
        check_output("dilated_conv", out, xp, reason="the weights times the rows overflowed")
        return out

    return compress


def most_used(usage) -> Compressor:
    """Keep, of every ``rate`` rows, as many as blocks: those with the most attention received.

    ``usage (e,)`` is the attention each row being compressed received; the
    ``⌊e/c⌋`` rows with the largest usage are kept, in their original order.
    """
    check_array("usage", usage, ndim=1, axes="e")

    def compress(rows, rate):
        xp, rate = _check_compress_call(rows, rate)
        xp = array_module(rows=rows, usage=usage)
        if usage.shape != (rows.shape[0],):
            raise ValueError(
                f"usage must have one entry per row ({rows.shape[0]}), got {usage.shape}"
            )
        check_finite("rows", rows, xp)
        keep = rows.shape[0] // rate
        chosen = xp.sort(xp.argsort(-usage, kind="stable")[:keep])  # top usage, original order
        return rows[chosen]

    return compress


# ---------------------------------------------------------------------------
# attention over [cmem; pending; mem; h]


@dataclass(frozen=True)
class Relative:
    """Transformer-XL's relative-position parameters: ``W_R (d_k, d_r)`` and biases ``u, v (d_k,)``.

    ``d_k`` is the width of the queries and keys (the columns of ``wq`` and ``wk``).
    """

    w_r: Any
    u: Any
    v: Any

    def __post_init__(self):
        xp = array_module(w_r=self.w_r, u=self.u, v=self.v)
        _check_rows("w_r", self.w_r, axes="d_k, d_r")
        d_k = self.w_r.shape[0]
        for name in ("u", "v"):
            x = getattr(self, name)
            check_array(name, x, ndim=1, axes="d_k", finite=False)
            if x.shape != (d_k,):
                raise ValueError(
                    f"{name} must have shape (d_k,) = ({d_k},) (the rows of w_r), "
                    f"got shape {x.shape}"
                )
        check_all_finite({"w_r": self.w_r, "u": self.u, "v": self.v}, xp)


def compressive_attention(h, state: MemoryState, wq, wk, wv, *, relative: Relative | None = None):
    """One head: queries from ``h``, keys and values from ``[cmem; pending; mem; h]`` (5.2).

    Causal inside the segment, every memory row visible.  ``wq, wk (d, d_k)``,
    ``wv (d, d_v)``.  With ``relative``, the scores are Transformer-XL's four
    terms (:func:`refattn.positional.relative_scores`) instead of ``qᵀk``,
    positions counted along the concatenation.  Returns ``(n_s, d_v)``.
    """
    _check_state(state)
    xp = array_module(h=h, wq=wq, wk=wk, wv=wv, **{"state.mem": state.mem})
    _check_rows("h", h, axes="n_s, d", d=state.d, why=" (the state's width)")
    _check_projections(state.d, wq, wk, wv, why=" (the state's width)")
    if relative is not None:
        if not isinstance(relative, Relative):
            raise TypeError(
                f"relative must be a Relative(w_r, u, v) or None, got "
                f"{type(relative).__name__} {describe(relative)}"
            )
        array_module(h=h, **{"relative.w_r": relative.w_r})
        if relative.w_r.shape[0] != wq.shape[1]:
            raise ValueError(
                f"relative.w_r must have shape (d_k, d_r) with d_k = {wq.shape[1]} (the "
                f"columns of wq), got shape {relative.w_r.shape}"
            )
    check_all_finite({"h": h, "wq": wq, "wk": wk, "wv": wv}, xp)
    context = xp.concatenate([state.context(xp), h], axis=0)  # (m, d), oldest first
    with quiet(xp):
        q, k, v = h @ wq, context @ wk, context @ wv
    check_output(
        "compressive_attention", extremes(xp, q, k, v), xp,
        reason="the projections h @ wq, [memories; h] @ wk or @ wv overflowed",
    )  # fmt: skip
    try:
        out = _attend_context(xp, q, k, v, relative)
    except FloatingPointError as error:  # the scores overflowed: say whose call it was
        raise FloatingPointError(
            f"compressive_attention produced NaN or inf from finite input: {error}"
        ) from None
    check_output("compressive_attention", out, xp, reason="the scores q·kᵀ overflowed")
    return out


def _attend_context(xp, q, k, v, relative):
    """Causal attention of the segment's queries over ``[memories; segment]``'s keys."""
    if relative is None:
        # (0.6)  causal with m > n: every memory row is visible, the segment is causal
        return softmax_attention(q, k, v, causal=True, check_finite=False)  # checked by the caller
    n, m = q.shape[0], k.shape[0]
    scores = relative_scores(q, k, relative.w_r, relative.u, relative.v)  # checked: finite
    scores = scores / math.sqrt(q.shape[1])  # finite still: divided by √d_k >= 1
    future = xp.arange(m)[None, :] > xp.arange(n)[:, None] + (m - n)
    scores = xp.where(future, -xp.inf, scores)
    return softmax(scores) @ v


def temporal_range(*, layers, n_mem, n_cmem, rate):
    """How far back the stack can see: ``layers × (n_mem + rate × n_cmem)`` positions (5.4).

    >>> temporal_range(layers=18, n_mem=512, n_cmem=512, rate=3)
    36864
    """
    layers = check_int("layers", layers, minimum=1)
    n_mem = check_int("n_mem", n_mem, minimum=0)
    n_cmem = check_int("n_cmem", n_cmem, minimum=0)
    rate = check_int("rate", rate, minimum=1)
    return layers * (n_mem + rate * n_cmem)


# ---------------------------------------------------------------------------
# (5.6) the attention-reconstruction loss


def _content_attention(scores, values):
    """Attention with the finite ``scores`` (no mask, no positions), and its weights."""
    xp = array_module(scores=scores, values=values)
    p = xp.exp(scores - scores.max(axis=-1, keepdims=True))  # finite scores: no mask here
    p = p / p.sum(axis=-1, keepdims=True)  # P
    return p @ values, p


def _check_loss_inputs(h, old_mem, wq, wk, wv, **other):
    """The common arguments of the reconstruction losses; returns the array module."""
    xp = array_module(h=h, old_mem=old_mem, wq=wq, wk=wk, wv=wv, **other)
    _check_rows("h", h, axes="n, d")
    d = h.shape[1]
    _check_rows("old_mem", old_mem, axes="e, d", d=d, why=" (the width of h)")
    _check_projections(d, wq, wk, wv, why=" (the width of h)")
    return xp


def attention_reconstruction_loss(h, old_mem, compressed, wq, wk, wv):
    """``‖attn(h, M) − attn(h, f_c(M))‖²``: what compression changes in what attention reads (5.6).

    Content-only attention (no positions, no mask) with the layer's own
    projections; the sum of squares over queries and value dimensions.
    ``h (n, d)``, ``old_mem (e, d)``, ``compressed (e_c, d)`` with ``e, e_c >= 1``.
    """
    xp = _check_loss_inputs(h, old_mem, wq, wk, wv, compressed=compressed)
    _check_rows("compressed", compressed, axes="e_c, d", d=h.shape[1], why=" (the width of h)")
    named = {"h": h, "old_mem": old_mem, "compressed": compressed, "wq": wq, "wk": wk, "wv": wv}
    check_all_finite(named, xp)
    with quiet(xp):
        q = h @ wq
        scale = 1.0 / math.sqrt(q.shape[-1])
        keys = (old_mem @ wk, compressed @ wk)
        values = (old_mem @ wv, compressed @ wv)
        scores = [q @ k.T * scale for k in keys]
        check_output(
            "attention_reconstruction_loss", extremes(xp, *values, *scores), xp,
            reason="the projections or the scores overflowed",
        )  # fmt: skip
        exact, _ = _content_attention(scores[0], values[0])
        approx, _ = _content_attention(scores[1], values[1])
        loss = float(((exact - approx) ** 2).sum())
        if not math.isfinite(loss):
            raise FloatingPointError(
                "attention_reconstruction_loss produced NaN or inf from finite input: the "
                "squared difference of the outputs overflowed"
            )
    return loss


def conv1d_loss_and_gradient(h, old_mem, weights, wq, wk, wv):
    """The reconstruction loss of :func:`conv1d` compression and its gradient in the weights (5.6).

    Derived by hand: with ``C = conv(old_mem; W)``, ``K = C W_k``, ``V = C W_v``,
    ``S = Q Kᵀ/√d_k``, ``P = softmax(S)``, ``O = P V`` and ``E = O − O_exact``:
    ``∂L/∂O = 2E``, ``∂L/∂V = Pᵀ ∂L/∂O``, ``∂L/∂P = ∂L/∂O Vᵀ``,
    ``∂L/∂S = P ⊙ (∂L/∂P − rowsum(P ⊙ ∂L/∂P))``, ``∂L/∂K = (∂L/∂S)ᵀ Q/√d_k``,
    ``∂L/∂C = ∂L/∂K W_kᵀ + ∂L/∂V W_vᵀ`` and ``∂L/∂W_s = Σ_t x_{tc+s}ᵀ (∂L/∂C)_t``.

    ``h (n, d)``, ``old_mem (e, d)`` with ``e >= c`` (at least one block),
    ``weights (c, d, d)``.  Returns ``(loss, gradient)`` with the gradient
    shaped like ``weights``.
    """
    xp = _check_loss_inputs(h, old_mem, wq, wk, wv, weights=weights)
    _check_kernel(weights, "c, d, d", finite=False)  # finite: checked below, with the rest
    d, rate = h.shape[1], weights.shape[0]
    if weights.shape[1] != d:
        raise ValueError(
            f"weights must have shape (c, d, d) with d = {d} (the width of h), "
            f"got shape {weights.shape}"
        )
    if old_mem.shape[0] < rate:
        raise ValueError(
            f"old_mem must hold at least c = {rate} rows (one block of the weights' rate), "
            f"got shape {old_mem.shape}"
        )
    named = {"weights": weights, "h": h, "old_mem": old_mem, "wq": wq, "wk": wk, "wv": wv}
    check_all_finite(named, xp)
    try:
        return _conv_loss_and_gradient(xp, h, old_mem, weights, wq, wk, wv)
    except FloatingPointError as error:
        raise FloatingPointError(
            f"conv1d_loss_and_gradient produced NaN or inf from finite input: {error}"
        ) from None


#: Why a step of the reconstruction loss failed, by the flag of :func:`_conv_step` that is False.
_SCORES_OVERFLOWED = "the compressed rows, their projections or the scores overflowed"
_GRADIENT_OVERFLOWED = "the loss or its gradient overflowed"


def _conv_loss_and_gradient(xp, h, old_mem, weights, wq, wk, wv):
    """:func:`conv1d_loss_and_gradient` on checked arguments; ``FloatingPointError`` on overflow.

    One host sync, for the flags and the loss together.
    """
    loss, gradient, scores_ok, gradient_ok = _conv_step(xp, h, old_mem, weights, wq, wk, wv)
    scores_ok, gradient_ok, loss = xp.stack(
        [scores_ok.astype(loss.dtype), gradient_ok.astype(loss.dtype), loss]
    ).tolist()
    if not scores_ok:
        raise FloatingPointError(_SCORES_OVERFLOWED)
    if not gradient_ok:
        raise FloatingPointError(_GRADIENT_OVERFLOWED)
    return loss, gradient


def _conv_step(xp, h, old_mem, weights, wq, wk, wv):
    """The reconstruction loss and its gradient, all on the device: no host sync.

    Returns ``(loss, gradient, scores_ok, gradient_ok)``: the 0-d loss, the
    gradient shaped like ``weights``, and two 0-d boolean flags, False if the
    compressed rows, their projections or the scores overflowed, resp. if the
    loss or the gradient did.  After an overflow the loss and the gradient
    are not finite, and nothing has warned (NumPy's overflow warnings are off).
    """
    with quiet(xp):
        rate = weights.shape[0]
        blocks = _blocks(old_mem, rate)  # (t, c, d)
        compressed = xp.einsum("tsd,sde->te", blocks, weights)  # C
        q = h @ wq
        scale = 1.0 / math.sqrt(q.shape[-1])
        old_keys, old_values = old_mem @ wk, old_mem @ wv
        keys, values = compressed @ wk, compressed @ wv
        old_scores, scores = q @ old_keys.T * scale, q @ keys.T * scale
        scores_ok = _finite_flag(xp, old_values, values, old_scores, scores)
        exact, _ = _content_attention(old_scores, old_values)
        approx, p = _content_attention(scores, values)
        error = approx - exact  # E
        d_out = 2 * error
        d_values = p.T @ d_out
        d_p = d_out @ values.T
        d_scores = p * (d_p - (p * d_p).sum(axis=-1, keepdims=True))
        d_keys = d_scores.T @ q * scale
        d_compressed = d_keys @ wk.T + d_values @ wv.T  # (t, d)
        gradient = xp.einsum("tsd,te->sde", blocks, d_compressed)
        loss = (error**2).sum()
        return loss, gradient, scores_ok, _finite_flag(xp, loss, gradient)


def fit_conv_compressor(stream, wq, wk, wv, *, rate, segment, steps=200, lr=0.002, clip=1.0):
    """Learn :func:`conv1d` weights that lower the reconstruction loss on ``stream (N, d)``.

    Gradient descent from the mean-pool weights (``W_s = I/c``), each step on
    the next window of ``segment`` rows (queries) and the ``segment`` rows
    before it (the memory to compress), with the gradient ``g`` scaled by
    ``min(1, clip/‖g‖)`` so that its norm is at most ``clip``.  Raises
    ``FloatingPointError`` naming the first step that diverged (the loss, the
    gradient or the weights stop being finite: a learning rate too large)
    instead of returning NaN weights.  Returns ``(weights, losses)``, the
    losses a list of Python floats, one per step.

    The steps run on the device without a host sync: the clipping factor is
    a device scalar, the losses and the steps' overflow flags are kept in
    device arrays and read once, after the last step.  So a fit that
    diverges runs all its ``steps`` (on NaN, after the divergence) before it
    raises.
    """
    xp = array_module(stream=stream, wq=wq, wk=wk, wv=wv)
    _check_rows("stream", stream, axes="N, d")
    d = stream.shape[1]
    _check_projections(d, wq, wk, wv, why=" (the width of stream)")
    rate = check_int("rate", rate, minimum=1)
    segment = check_int("segment", segment, minimum=rate)
    steps = check_int("steps", steps, minimum=1, maximum=_MAX_STEPS)
    lr = check_real("lr", lr, minimum=0, open_min=True)
    clip = check_real("clip", clip, minimum=0, open_min=True)
    if stream.shape[0] < 2 * segment:
        raise ValueError(
            f"stream must hold at least 2·segment = {2 * segment} rows, got {stream.shape[0]}"
        )
    check_all_finite({"stream": stream, "wq": wq, "wk": wk, "wv": wv}, xp)
    weights = xp.broadcast_to(xp.eye(d, dtype=stream.dtype) / rate, (rate, d, d)).copy()
    windows = stream.shape[0] // segment - 1
    losses = xp.empty(steps, dtype="float64")  # float64 holds a loss of any dtype exactly
    healthy = xp.empty((steps, 2), dtype=bool)  # per step: scores finite, gradient finite

    for step in range(steps):
        w = step % windows
        old_mem = stream[w * segment : (w + 1) * segment]
        h = stream[(w + 1) * segment : (w + 2) * segment]
        loss, gradient, scores_ok, gradient_ok = _conv_step(xp, h, old_mem, weights, wq, wk, wv)
        losses[step] = loss  # device to device: no sync
        healthy[step, 0] = scores_ok
        healthy[step, 1] = gradient_ok
        with quiet(xp):
            # ‖g‖ = max|g|·‖g / max|g|‖: no overflow in the squares
            peak = xp.abs(gradient).max()
            peak = xp.where(peak > 0, peak, 1)
            norm = peak * xp.sqrt(((gradient / peak) ** 2).sum())
            # min(1, clip/‖g‖) as clip / max(‖g‖, clip): no division by a zero norm
            gradient = gradient * (clip / xp.maximum(norm, clip))
            weights = weights - lr * gradient

    # after the loop: one host sync for the flags, and one read of the losses
    if not bool(healthy.all() & xp.isfinite(weights).all()):
        flags = to_numpy(healthy)
        failed = ~flags.all(axis=1)
        if failed.any():
            step = int(failed.argmax())  # the first step that failed, as if it had stopped there
            why = _SCORES_OVERFLOWED if not flags[step, 0] else _GRADIENT_OVERFLOWED
        else:
            step, why = steps - 1, "the last step made the weights overflow"
        raise FloatingPointError(
            f"the reconstruction loss diverged at step {step} (lr = {lr}, clip = {clip}): "
            f"{why}; lower lr or clip"
        )
    return weights, losses.tolist()


# ---------------------------------------------------------------------------
# (5.7)-(5.9) the q/k/v form: a whole sequence, every segment at once

#: Why the q/k/v form is self-attention only.
_ONE_SEQUENCE = (
    "the segments and the memory are positions of one sequence, so queries and keys "
    "are the same tokens (self-attention)"
)
#: Why compressed memory takes no mask.
_POOLED = (
    "a masked key would be pooled into a compressed block together with the keys "
    "around it, which no mask can undo"
)

#: What :func:`xl_attention` honours: causal or not, key padding; not a general mask, not m ≠ n.
XL_SUPPORTS = Supports(general_mask=LINEAR_TIME_MASK, cross=_ONE_SEQUENCE)
#: What :func:`compressive_memory_attention` honours: causal or not; no mask, not m ≠ n.
COMPRESSIVE_SUPPORTS = Supports(key_padding=_POOLED, general_mask=_POOLED, cross=_ONE_SEQUENCE)


@dataclass(frozen=True)
class _Segments:
    """How ``n`` positions are cut into segments, and which keys each segment reads (5.7).

    ``count`` segments of ``length`` queries (the last one padded up to
    ``length``: ``padded = count·length >= n``).  Segment ``t`` starts at
    ``s_t = t·length`` and reads the ``width = reach + length`` raw keys
    ``s_t − reach … s_t + length − 1`` and, with compressed memory, the
    ``compressed`` blocks ``B_t − compressed … B_t − 1``.
    """

    n: int
    length: int
    count: int
    memory: int  # min(memory, s_last): no segment reaches further back than position 0
    extra: int  # pending rows read beyond the memory: < rate, 0 without compressed memory
    keep: bool  # whether evicted rows are kept (compressed memory) or dropped (XL)
    rate: int
    blocks: int  # blocks any segment reads: B_last = ⌊max(0, s_last − memory)/rate⌋
    compressed: int  # min(compressed, blocks)

    @property
    def padded(self) -> int:
        return self.count * self.length

    @property
    def reach(self) -> int:
        return self.memory + self.extra

    @property
    def width(self) -> int:
        return self.reach + self.length

    def starts(self, xp):
        return xp.arange(self.count) * self.length  # (S,)  s_t

    def evicted(self, xp):
        """``E_t = max(0, s_t − memory)``: the positions ``[0, E_t)`` have left the memory (5.1)."""
        return xp.maximum(self.starts(xp) - self.memory, 0)  # (S,)

    def first_raw(self, xp):
        """The first raw key of each segment: ``E_t`` (XL), or ``B_t·c`` (pending rows read raw)."""
        evicted = self.evicted(xp)
        return evicted if not self.keep else (evicted // self.rate) * self.rate  # (S,)

    def first_block(self) -> tuple[int, ...]:
        """Host ints ``B_t − compressed``: each segment's oldest compressed block (may be < 0)."""
        return tuple(
            max(0, t * self.length - self.memory) // self.rate - self.compressed
            for t in range(self.count)
        )


def _segments(n, segment, memory, compressed=0, rate=1) -> _Segments:
    length = min(segment, n)
    count = -(-n // length)
    last = (count - 1) * length  # s_last, the start of the last segment
    memory = min(memory, last)
    evicted_last = last - memory  # E_last
    keep = compressed > 0
    extra = min(rate - 1, evicted_last) if keep else 0
    blocks = evicted_last // rate if keep else 0
    return _Segments(n, length, count, memory, extra, keep, rate, blocks, min(compressed, blocks))


@dataclass(frozen=True)
class SegmentWeights:
    """Attention weights of :func:`xl_attention` and :func:`compressive_memory_attention`.

    Stored per segment, ``O(n·width)``; :meth:`to_dense` builds the ``(..., n, n)``
    matrix (tests and figures only).  Query ``t·length + r`` is row ``r`` of segment ``t``.

    Attributes
    ----------
    raw : array (..., S, length, width)
        ``raw[..., t, r, w]`` is the weight of key position ``t·length − reach + w``
        (0 where that key may not be read).
    compressed : array (..., S, length, C) or None
        ``compressed[..., t, r, c]`` is the weight of compressed block
        ``first_block[t] + c`` (0 where that block does not exist).
    first_block : tuple of int
        Each segment's oldest compressed block.
    taps : array (rate,) or None
        The compressor's taps ``a_s``: block ``b`` is ``Σ_s a_s x_{b·rate+s}``.
    n, length, reach : int
    """

    raw: Any
    compressed: Any
    first_block: tuple[int, ...]
    taps: Any
    n: int
    length: int
    reach: int

    def to_dense(self):
        """The ``(..., n, n)`` matrix ``P`` with ``P @ v == out``.

        A compressed block's weight ``w`` is spread onto the positions it
        pools, ``w·a_s`` on position ``b·rate + s``: the effective weight of
        each original value (5.8).
        """
        xp = array_module(raw=self.raw)
        *batch, count, length, width = self.raw.shape
        n = self.n
        dense = xp.zeros((*batch, count * length, n), dtype=self.raw.dtype)  # (..., N, n)
        for t in range(count):
            rows = slice(t * length, (t + 1) * length)
            start = t * length - self.reach  # the position of raw column 0
            lo, hi = max(0, start), min(n, start + width)
            dense[..., rows, lo:hi] += self.raw[..., t, :, lo - start : hi - start]
            if self.compressed is None:
                continue
            first = self.first_block[t]
            own = max(0, first)  # blocks before 0 do not exist
            last = first + self.compressed.shape[-1]
            rate = self.taps.shape[0]
            for s in range(rate):
                # (5.8)  block b's weight w reaches value b·rate + s with weight w·a_s
                cols = slice(own * rate + s, last * rate + s, rate)
                dense[..., rows, cols] += self.compressed[..., t, :, own - first :] * self.taps[s]
        return xp.ascontiguousarray(dense[..., :n, :])


def xl_attention(
    q,
    k,
    v,
    *,
    segment,
    memory,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
):
    """Transformer-XL attention over a whole sequence fed in segments, in one call (5.7).

    The sequence is cut into segments of ``segment`` tokens (the last may be
    shorter); the query at position ``p``, in the segment starting at
    ``s(p)``, attends the keys ``j`` with ``s(p) − memory <= j`` and

    * ``j <= p`` when ``causal`` (the paper's language model, (5.2));
    * ``j < s(p) + segment`` when not: bidirectional inside the segment, the
      memory is the past.

    This is the band mask of (5.2), applied in linear time: each segment's
    queries read a window of ``memory + segment`` keys (a strided view, no
    copy), so nothing of size ``n × n`` is allocated; working set and flops
    are :func:`refattn.complexity.xl_memory` and
    :func:`refattn.complexity.xl_flops` (5.9).

    Parameters
    ----------
    q : array (..., n, d)
        Queries.  Leading axes of q, k, v (and mask) broadcast together.
    k : array (..., n, d)
        Keys of the same positions (self-attention: ``m = n``).
    v : array (..., n, d_v)
        Values.
    segment : int >= 1
        Tokens per segment.
    memory : int >= 0
        Positions before its segment that a query may read (``n_m``).
    mask : bool array (..., 1, n) or (n,), optional
        Key padding: False marks a key no query attends.  A mask with a
        query axis is refused (it cannot be applied in linear time).
    causal : bool
        Causal inside the segment (see above).
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.
    return_weights : bool
        Also return a :class:`SegmentWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).

    Returns
    -------
    out : array (..., n, d_v)
        In the inputs' dtype.  A query with no allowed key gets 0 (0.7).
    weights : SegmentWeights
        Only when ``return_weights``.

    Examples
    --------
    Equal scores average what each query reads; segments of 2 with a memory of 1:

    >>> import numpy as np
    >>> q = k = np.zeros((4, 2))
    >>> v = np.array([[0.0], [3.0], [6.0], [9.0]])
    >>> xl_attention(q, k, v, segment=2, memory=1, causal=True)
    array([[0. ], [1.5], [4.5], [6. ]])
    >>> xl_attention(q, k, v, segment=2, memory=1)
    array([[1.5], [1.5], [6. ], [6. ]])
    """
    call = check_attention_call(
        "xl_attention", q, k, v, mask=mask, causal=causal, scale=scale,
        return_weights=return_weights, check_finite=check_finite, supports=XL_SUPPORTS,
    )  # fmt: skip
    segment = check_int("segment", segment, minimum=1)
    memory = check_int("memory", memory, minimum=0)
    geo = _segments(call.dims.n, segment, memory)
    return _segment_attention("xl_attention", call, q, k, v, geo, None)


def compressive_memory_attention(
    q,
    k,
    v,
    *,
    segment,
    memory,
    compressed,
    rate,
    compress="mean",
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
):
    """Compressive-Transformer attention over a whole sequence, in one call (5.7), (5.8).

    As :func:`xl_attention`, plus the compressed memory that :func:`update`
    builds position by position.  Before the segment starting at ``s``, the
    positions ``[0, E)``, ``E = max(0, s − memory)``, have left the memory;
    their whole blocks of ``rate`` rows, ``B = ⌊E/rate⌋`` of them, are
    compressed, and the segment reads

    * the newest ``compressed`` compressed blocks, ``b ∈ [max(0, B − compressed), B)``,
      block ``b`` pooling positions ``[b·rate, (b + 1)·rate)``;
    * the pending positions ``[B·rate, E)`` (an incomplete block), raw;
    * the memory ``[E, s)`` and the segment, as in :func:`xl_attention`.

    With ``q = H W_q``, ``k = H W_k``, ``v = H W_v`` and ``causal=True`` this
    equals streaming :func:`compressive_attention` and :func:`update` segment
    by segment, because the compressor is linear along the sequence axis and
    so commutes with the projections, ``f_c(H W) = f_c(H) W`` (5.8).  That is
    why only such compressors are accepted: max pooling, :func:`most_used`
    and convolutions with matrix taps do not commute.  ``compressed=0``
    is :func:`xl_attention`.  Working set and flops:
    :func:`refattn.complexity.compressive_memory_memory` and
    :func:`refattn.complexity.compressive_memory_flops` (5.9).

    Parameters
    ----------
    q, k, v, segment, memory, causal, scale, check_finite
        As in :func:`xl_attention`; ``check_finite`` covers taps given as an array too.
    compressed : int >= 0
        Compressed blocks a segment may read (``n_cm``).
    rate : int >= 1
        Rows per compressed block (``c``).
    compress : ``"mean"`` or array (rate,)
        The compressor: ``"mean"`` (taps ``1/rate``) or float taps ``a_s``,
        block ``b`` being ``Σ_s a_s x_{b·rate+s}`` (:func:`conv1d` with
        weights ``a_s·I``).  Cast to the inputs' dtype.
    mask : None
        No mask is accepted: a masked key would be pooled into a block.
    return_weights : bool
        Also return a :class:`SegmentWeights`.

    Returns
    -------
    out : array (..., n, d_v)
    weights : SegmentWeights
        Only when ``return_weights``.

    Examples
    --------
    Segments of 2, a memory of 1, one compressed block of 2: position 4 reads
    the mean of positions 0 and 1, the pending position 2, the memory 3 and itself.

    >>> import numpy as np
    >>> q = k = np.zeros((6, 2))
    >>> v = np.arange(6.0)[:, None]
    >>> compressive_memory_attention(
    ...     q, k, v, segment=2, memory=1, compressed=1, rate=2, causal=True)[:, 0]
    array([0.   , 0.5  , 1.   , 1.5  , 2.375, 2.9  ])
    """
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "compressive_memory_attention", q, k, v, mask=mask, causal=causal, scale=scale,
        return_weights=return_weights, check_finite=False,  # below, with the taps: one pass
        supports=COMPRESSIVE_SUPPORTS,
    )  # fmt: skip
    segment = check_int("segment", segment, minimum=1)
    memory = check_int("memory", memory, minimum=0)
    compressed = check_int("compressed", compressed, minimum=0)
    rate = check_int("rate", rate, minimum=1)
    geo = _segments(call.dims.n, segment, memory, compressed, rate)
    taps = _check_taps(compress, rate, q, call.dims, needed=geo.compressed > 0)
    if check_finite:  # an array of taps is the caller's; the others are finite by construction
        named = {"q": q, "k": k, "v": v}
        if not isinstance(compress, (str, tuple)):
            named["compress"] = compress
        check_all_finite(named, call.dims.xp)
    return _segment_attention("compressive_memory_attention", call, q, k, v, geo, taps)


def _check_taps(compress, rate, q, dims, needed):
    """``compress`` as taps ``(rate,)`` in the inputs' dtype: ``"mean"``, a float array or a
    tuple of floats (host numbers, moved to the inputs' backend).  ``"mean"`` builds its
    taps only when a segment reads a compressed block (``needed``), so that a ``rate``
    beyond the sequence allocates nothing."""
    domain = (
        f"'mean' or a 1-D float array (or tuple of floats) of rate = {rate} taps (a compressor "
        f"linear along the sequence axis, the only kind that commutes with the key and value "
        f"projections)"
    )
    xp = dims.xp
    if isinstance(compress, str):
        if compress != "mean":
            raise ValueError(f"compress must be {domain}, got {compress!r}")
        return xp.full(rate, 1.0 / rate, dtype=dims.dtype) if needed else None
    if isinstance(compress, tuple):
        taps = [check_real(f"compress[{i}]", a) for i, a in enumerate(compress)]
        if len(compress) != rate:
            raise ValueError(f"compress must be {domain}, got {len(compress)} taps: {compress!r}")
        return xp.asarray(taps, dtype=dims.dtype)
    if not hasattr(compress, "dtype") or not hasattr(compress, "shape"):
        raise TypeError(f"compress must be {domain}, got {type(compress).__name__}")
    array_module(q=q, compress=compress)  # the same backend as the inputs
    check_float_array("compress", compress)
    if compress.shape != (rate,):
        raise ValueError(f"compress must be {domain}, got an array of shape {compress.shape}")
    # finite: checked by the caller, with q, k and v, unless check_finite=False
    return compress.astype(dims.dtype)  # (c,)  a copy: the caller's taps are never touched


def _compress_rows(x, taps, blocks):
    """``(..., n, f) -> (..., blocks, f)``: block ``b`` is ``Σ_s a_s x_{b·c+s}`` (5.8)."""
    rate = taps.shape[0]
    rows = x[..., : blocks * rate, :]  # (..., NB·c, f)
    rows = rows.reshape(rows.shape[:-2] + (blocks, rate, rows.shape[-1]))  # (..., NB, c, f)
    return taps @ rows  # (..., NB, f)


class _ScoreGuard:
    """Nothing returns NaN or inf from finite input: the a-priori bounds of the scores and sums.

    One reduction pass and one host sync give ``|scale·q·k| <= scale·d·max|q|·max|k|·g``
    and ``|Σ e·v| <= keys·max|v|·g`` with ``g = max(1, Σ_s |a_s|)`` (a compressed key or
    value is at most ``Σ_s |a_s|`` times the largest raw one).  Below the largest finite
    number of the dtypes nothing can overflow and the guard does nothing more; otherwise it
    is *armed*: every block of scores is checked on the device before the masks are
    applied (an overflow to ``-inf`` would read as "masked") and :meth:`finish` raises
    ``FloatingPointError`` with the bound.
    """

    def __init__(self, name, call, q, k, v, keys, taps):
        xp = call.dims.xp
        self.name, self.xp, self.ok = name, xp, None
        parts = [xp.abs(x).max().astype("float64") for x in (q, k, v)]
        if taps is not None:
            parts.append(xp.abs(taps).sum().astype("float64"))
        top_q, top_k, top_v, *gain = xp.stack(parts).tolist()
        gain = max([1.0, *gain])
        score_dtype, out_dtype = xp.result_type(q, k), xp.result_type(q, k, v)
        score_max = float(xp.finfo(score_dtype).max)
        out_max = float(xp.finfo(out_dtype).max)
        scale, d = call.scale, call.dims.d
        with quiet(xp):  # the bounds themselves may overflow a Python float: inf > max
            bound = scale * d * top_q * top_k * gain
            total = keys * top_v * gain
        reasons = []
        if scale * top_q > score_max or bound > score_max:
            reasons.append(
                f"q·k overflows {score_dtype}: scale·d·max|q|·max|k|·max(1, Σ|taps|) ≈ "
                f"{bound:.2g} > {score_max:.2g}"
            )
        if total > out_max:
            reasons.append(
                f"the weighted sum of v overflows {out_dtype}: keys·max|v|·max(1, Σ|taps|) ≈ "
                f"{total:.2g} > {out_max:.2g}"
            )
        self.reason = "; ".join(reasons)
        self.armed = bool(reasons)

    def see(self, scores):
        """Record on the device whether every score (before masking) is finite."""
        if self.armed:
            flag = self.xp.isfinite(scores).all()
            self.ok = flag if self.ok is None else self.ok & flag

    def finish(self, out):
        """Raise ``FloatingPointError`` if the armed guard saw a non-finite score or output."""
        if not self.armed:
            return
        advice = "; rescale the inputs or lower scale"
        if self.ok is not None and not bool(self.ok):
            raise FloatingPointError(
                f"{self.name} produced NaN or inf from finite input: {self.reason}{advice}"
            )
        check_output(self.name, out, self.xp, reason=self.reason + advice)


def _segment_attention(name, call, q, k, v, geo: _Segments, taps):
    """:func:`_segment_attention_` under a :class:`_ScoreGuard`."""
    guard = _ScoreGuard(name, call, q, k, v, geo.width + geo.compressed, taps)
    with quiet(call.dims.xp) if guard.armed else contextlib.nullcontext():
        result = _segment_attention_(call, q, k, v, geo, taps, guard)
    guard.finish(result[0] if call.return_weights else result)
    return result


def _segment_attention_(call, q, k, v, geo: _Segments, taps, guard):
    """Every segment's queries against its raw key window and its compressed blocks (5.7).

    Two partial softmaxes, merged by the online-softmax identity (0.4).
    """
    xp, scale = call.dims.xp, call.scale
    n, d = call.dims.n, call.dims.d
    count, length, width, reach = geo.count, geo.length, geo.width, geo.reach
    tail = geo.padded - n  # padding rows after the last position

    # (0.1)  the segments' scaled queries; padding rows are computed, then dropped
    if tail:
        q_seg = pad_axis(q, -2, 0, tail)  # (..., N, d)
        q_seg *= scale
    else:
        q_seg = q * scale  # (..., N, d)
    q_seg = q_seg.reshape(q_seg.shape[:-2] + (count, length, d))  # (..., S, n_s, d)

    compressed_part = compressed_e = None
    if geo.compressed:
        # (5.7)  segment t reads blocks B_t − C … B_t − 1; those before block 0 do not exist
        first = xp.asarray(geo.first_block())  # (S,)
        index = first[:, None] + xp.arange(geo.compressed)[None, :]  # (S, C)
        exists = index >= 0
        index = xp.maximum(index, 0)
        # (5.8)  compressing the keys = projecting the compressed hidden states
        c_keys = _compress_rows(k, taps, geo.blocks)[..., index, :]  # (..., S, C, d)
        c_scores = q_seg @ xp.swapaxes(c_keys, -1, -2)  # (..., S, n_s, C)
        guard.see(c_scores)
        del c_keys
        c_scores = _fill_blocked(c_scores, ~exists[:, None, :])  # (S, 1, C)
        c_values = _compress_rows(v, taps, geo.blocks)[..., index, :]  # (..., S, C, d_v)
        compressed_part = softmax_partial(c_scores, c_values)  # c_scores: exp(s − M_c)
        del c_values
        compressed_e = c_scores if call.return_weights else None
        del c_scores

    # (5.7)  segment t reads the raw keys s_t − reach … s_t + n_s − 1: a window of the
    #        keys padded with `reach` rows in front, as a read-only strided view
    k_pad = pad_axis(k, -2, reach, tail)  # (..., reach + N, d)
    k_win = window_view(k_pad, size=width, step=length, count=count)  # (..., S, W, d)
    scores = q_seg @ xp.swapaxes(k_win, -1, -2)  # (..., S, n_s, W)
    guard.see(scores)
    del q_seg, k_pad, k_win
    # a key is readable iff first_raw(t) <= position < n: not before 0, not compressed,
    # not evicted (XL), not past the end
    position = geo.starts(xp)[:, None] - reach + xp.arange(width)[None, :]  # (S, W)
    readable = (position >= geo.first_raw(xp)[:, None]) & (position < n)
    scores = _fill_blocked(scores, ~readable[:, None, :])  # (S, 1, W)
    del position, readable
    if call.causal:
        # (5.2)  j <= p: key column w of query row r is position s_t − reach + w <= s_t + r
        future = xp.arange(width)[None, :] > xp.arange(length)[:, None] + reach  # (n_s, W)
        scores = _fill_blocked(scores, future)
    if call.key_mask is not None:
        key_ok = pad_axis(call.key_mask[..., None], -2, reach, tail)  # (..., reach + N, 1)
        key_ok = window_view(key_ok, size=width, step=length, count=count)[..., 0]  # (..., S, W)
        scores = _fill_blocked(scores, ~key_ok[..., None, :])  # padded keys
        del key_ok
    v_pad = pad_axis(v, -2, reach, tail)  # (..., reach + N, d_v)
    v_win = window_view(v_pad, size=width, step=length, count=count)  # (..., S, W, d_v)
    part = softmax_partial(scores, v_win)  # scores now hold exp(s − M_raw)
    del v_pad, v_win
    raw_e = scores if call.return_weights else None
    del scores
    raw_max = part.row_max
    if compressed_part is not None:
        compressed_max = compressed_part.row_max
        part = merge_partials_(part, compressed_part)  # (0.4)
        del compressed_part
    out = finish_partial(part)  # (..., S, n_s, d_v)  0 for a query that read nothing (0.7)
    out = out.reshape(out.shape[:-3] + (geo.padded, out.shape[-1]))  # (..., N, d_v)
    if tail:
        out = xp.ascontiguousarray(out[..., :n, :])  # (..., n, d_v)
    if not call.return_weights:
        return out

    # weights: each part's exp(s − M_part), rescaled to the merged maximum and normaliser
    shift, total = _finite_or_zero(xp, part.row_max), _nonzero(part.row_sum)
    raw_e *= xp.exp(raw_max - shift) / total  # (..., S, n_s, W)
    if compressed_e is not None:
        compressed_e *= xp.exp(compressed_max - shift) / total  # (..., S, n_s, C)
    first = geo.first_block() if geo.compressed else ()
    weights = SegmentWeights(raw_e, compressed_e, first, taps, n, length, reach)
    return out, weights
