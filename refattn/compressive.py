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
* (5.6) the attention-reconstruction loss and its gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ._validation import array_module, check_float_array, check_int
from .backend import module_for
from .positional import relative_scores
from .softmax import _finite_or_zero, _nonzero, softmax, softmax_attention

__all__ = [
    "MemoryState",
    "Relative",
    "attention_reconstruction_loss",
    "compressive_attention",
    "conv1d",
    "conv1d_loss_and_gradient",
    "dilated_conv",
    "fit_conv_compressor",
    "max_pool",
    "mean_pool",
    "most_used",
    "temporal_range",
    "update",
]

Compressor = Callable[[Any, int], Any]


@dataclass(frozen=True)
class MemoryState:
    """The memories of one layer: an immutable value; :func:`update` returns a new one.

    Attributes
    ----------
    mem : array (≤ n_mem, d)
        The most recent inputs, oldest first.
    pending : array (< rate, d)
        Rows evicted from ``mem`` but not yet compressed: compression takes
        blocks of ``rate`` rows, and these wait for the rest of their block.
    cmem : array (≤ n_cmem, d)
        Compressed memory, oldest first.
    n_mem, n_cmem : int
        The capacities.
    """

    mem: Any
    pending: Any
    cmem: Any
    n_mem: int
    n_cmem: int

    @classmethod
    def empty(cls, d, *, n_mem, n_cmem=0, xp=None, dtype="float64"):
        """Empty memories for inputs of width ``d``."""
        d = check_int("d", d, minimum=1)
        n_mem = check_int("n_mem", n_mem, minimum=0)
        n_cmem = check_int("n_cmem", n_cmem, minimum=0)
        xp = module_for(xp)

        def nothing():
            return xp.zeros((0, d), dtype=dtype)

        return cls(nothing(), nothing(), nothing(), n_mem, n_cmem)

    @property
    def d(self) -> int:
        return self.mem.shape[-1]

    def context(self, xp):
        """``[cmem; pending; mem]``, oldest first: what a segment attends to before itself."""
        return xp.concatenate([self.cmem, self.pending, self.mem], axis=0)


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
    """
    xp = array_module(h=h, mem=state.mem)
    check_float_array("h", h)
    if h.ndim != 2 or h.shape[1] != state.d:
        raise ValueError(
            f"h must have shape (n_s, d) with d = {state.d} (the state's width), got {h.shape}"
        )
    rate = check_int("rate", rate, minimum=1)
    # (5.1)  M' = the last n_m rows of [M; H]; the rows before them are evicted
    joined = xp.concatenate([state.mem, h], axis=0)
    cut = max(0, joined.shape[0] - state.n_mem)
    evicted, mem = joined[:cut], joined[cut:]
    if state.n_cmem == 0:
        return MemoryState(mem, state.pending, state.cmem, state.n_mem, 0)  # Transformer-XL
    if compress is None:
        raise ValueError("compress must be given when n_cmem > 0 (a compression function)")
    waiting = xp.concatenate([state.pending, evicted], axis=0)
    whole = (waiting.shape[0] // rate) * rate
    cmem = state.cmem
    if whole:
        # (5.1)  f_c maps the complete blocks, rate rows each, to whole/rate rows
        compressed = compress(waiting[:whole], rate)
        cmem = xp.concatenate([cmem, compressed], axis=0)[-state.n_cmem :]
    return MemoryState(mem, waiting[whole:], cmem, state.n_mem, state.n_cmem)


# ---------------------------------------------------------------------------
# (5.5) compression functions: (e, d) -> (⌊e/c⌋, d), blocks of c consecutive rows


def _blocks(rows, rate):
    """(e, d) -> (⌊e/c⌋, c, d): consecutive blocks of ``rate`` rows (a remainder is left out)."""
    rate = check_int("rate", rate, minimum=1)
    count = rows.shape[0] // rate
    return rows[: count * rate].reshape(count, rate, rows.shape[1])


def max_pool(rows, rate):
    """Each block of ``rate`` rows to its elementwise maximum."""
    return _blocks(rows, rate).max(axis=1)


def mean_pool(rows, rate):
    """Each block of ``rate`` rows to its mean."""
    return _blocks(rows, rate).mean(axis=1)


def conv1d(weights) -> Compressor:
    """A 1-D convolution with kernel = stride = ``c``: ``y_t = Σ_s x_{tc+s} W_s``.

    ``weights (c, d, d)``; the compressor it returns checks that the rate is ``c``.
    """
    check_float_array("weights", weights)
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"weights must have shape (c, d, d), got {weights.shape}")

    def compress(rows, rate):
        if rate != weights.shape[0] or rows.shape[1] != weights.shape[1]:
            raise ValueError(
                f"conv1d weights {weights.shape} need rate {weights.shape[0]} and width "
                f"{weights.shape[1]}, got rate {rate} and rows {rows.shape}"
            )
        xp = array_module(rows=rows, weights=weights)
        return xp.einsum("tsd,sde->te", _blocks(rows, rate), weights)

    return compress


def dilated_conv(weights, dilation) -> Compressor:
    """A dilated convolution inside each block: ``y_t = Σ_{s<K} x_{tc + s·δ} W_s``.

    ``weights (K, d, d)`` with ``(K − 1)·δ < c``, so each output reads only its
    own block of ``c`` rows (stride ``c``).
    """
    check_float_array("weights", weights)
    dilation = check_int("dilation", dilation, minimum=1)
    if weights.ndim != 3 or weights.shape[1] != weights.shape[2]:
        raise ValueError(f"weights must have shape (K, d, d), got {weights.shape}")
    taps = weights.shape[0]

    def compress(rows, rate):
        if (taps - 1) * dilation >= rate:
            raise ValueError(
                f"a dilated kernel of {taps} taps with dilation {dilation} spans "
                f"{(taps - 1) * dilation + 1} rows, more than the rate {rate}"
            )
        xp = array_module(rows=rows, weights=weights)
        picked = _blocks(rows, rate)[:, ::dilation][:, :taps]  # (t, K, d)
        return xp.einsum("tsd,sde->te", picked, weights)

    return compress


def most_used(usage) -> Compressor:
    """Keep, of every ``rate`` rows, as many as blocks: those with the most attention received.

    ``usage (e,)`` is the attention each row being compressed received; the
    ``⌊e/c⌋`` rows with the largest usage are kept, in their original order.
    """
    check_float_array("usage", usage)

    def compress(rows, rate):
        xp = array_module(rows=rows, usage=usage)
        if usage.shape != (rows.shape[0],):
            raise ValueError(
                f"usage must have one entry per row ({rows.shape[0]}), got {usage.shape}"
            )
        keep = rows.shape[0] // check_int("rate", rate, minimum=1)
        chosen = xp.sort(xp.argsort(-usage, kind="stable")[:keep])  # top usage, original order
        return rows[chosen]

    return compress


# ---------------------------------------------------------------------------
# attention over [cmem; pending; mem; h]


@dataclass(frozen=True)
class Relative:
    """Transformer-XL's relative-position parameters: ``W_R (d, d_r)`` and biases ``u, v (d,)``."""

    w_r: Any
    u: Any
    v: Any


def compressive_attention(h, state: MemoryState, wq, wk, wv, *, relative: Relative | None = None):
    """One head: queries from ``h``, keys and values from ``[cmem; pending; mem; h]`` (5.2).

    Causal inside the segment, every memory row visible.  ``wq, wk (d, d_k)``,
    ``wv (d, d_v)``.  With ``relative``, the scores are Transformer-XL's four
    terms (:func:`refattn.positional.relative_scores`) instead of ``qᵀk``,
    positions counted along the concatenation.  Returns ``(n_s, d_v)``.
    """
    xp = array_module(h=h, mem=state.mem, wq=wq, wk=wk, wv=wv)
    for name, w in (("wq", wq), ("wk", wk), ("wv", wv)):
        check_float_array(name, w)
        if w.ndim != 2 or w.shape[0] != state.d:
            raise ValueError(f"{name} must have shape (d, ·) with d = {state.d}, got {w.shape}")
    if h.ndim != 2 or h.shape[1] != state.d:
        raise ValueError(
            f"h must have shape (n_s, d) with d = {state.d} (the state's width), got {h.shape}"
        )
    context = xp.concatenate([state.context(xp), h], axis=0)  # (m, d), oldest first
    q, k, v = h @ wq, context @ wk, context @ wv
    if relative is None:
        # (0.6)  causal with m > n: every memory row is visible, the segment is causal
        return softmax_attention(q, k, v, causal=True)
    n, m = q.shape[0], k.shape[0]
    scores = relative_scores(q, k, relative.w_r, relative.u, relative.v) / math.sqrt(q.shape[1])
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


def _content_attention(q, keys, values):
    """Attention of queries over all given keys (no mask, no positions)."""
    return softmax_attention(q, keys, values, scale=1.0 / math.sqrt(q.shape[-1]))


def attention_reconstruction_loss(h, old_mem, compressed, wq, wk, wv):
    """``‖attn(h, M) − attn(h, f_c(M))‖²``: what compression changes in what attention reads (5.6).

    Content-only attention (no positions, no mask) with the layer's own
    projections; the sum of squares over queries and value dimensions.
    """
    array_module(h=h, old_mem=old_mem, compressed=compressed)
    q = h @ wq
    exact = _content_attention(q, old_mem @ wk, old_mem @ wv)
    approx = _content_attention(q, compressed @ wk, compressed @ wv)
    return float(((exact - approx) ** 2).sum())


def conv1d_loss_and_gradient(h, old_mem, weights, wq, wk, wv):
    """The reconstruction loss of :func:`conv1d` compression and its gradient in the weights (5.6).

    Derived by hand: with ``C = conv(old_mem; W)``, ``K = C W_k``, ``V = C W_v``,
    ``S = Q Kᵀ/√d_k``, ``P = softmax(S)``, ``O = P V`` and ``E = O − O_exact``:
    ``∂L/∂O = 2E``, ``∂L/∂V = Pᵀ ∂L/∂O``, ``∂L/∂P = ∂L/∂O Vᵀ``,
    ``∂L/∂S = P ⊙ (∂L/∂P − rowsum(P ⊙ ∂L/∂P))``, ``∂L/∂K = (∂L/∂S)ᵀ Q/√d_k``,
    ``∂L/∂C = ∂L/∂K W_kᵀ + ∂L/∂V W_vᵀ`` and ``∂L/∂W_s = Σ_t x_{tc+s}ᵀ (∂L/∂C)_t``.

    Returns ``(loss, gradient)`` with the gradient shaped like ``weights (c, d, d)``.
    """
    xp = array_module(h=h, old_mem=old_mem, weights=weights)
    rate = weights.shape[0]
    blocks = _blocks(old_mem, rate)  # (t, c, d)
    compressed = xp.einsum("tsd,sde->te", blocks, weights)  # C
    q = h @ wq
    scale = 1.0 / math.sqrt(q.shape[-1])
    exact = _content_attention(q, old_mem @ wk, old_mem @ wv)
    keys, values = compressed @ wk, compressed @ wv
    scores = q @ keys.T * scale
    p = xp.exp(scores - _finite_or_zero(xp, scores.max(axis=-1, keepdims=True)))
    p = p / _nonzero(p.sum(axis=-1, keepdims=True))  # P
    error = p @ values - exact  # E
    d_out = 2 * error
    d_values = p.T @ d_out
    d_p = d_out @ values.T
    d_scores = p * (d_p - (p * d_p).sum(axis=-1, keepdims=True))
    d_keys = d_scores.T @ q * scale
    d_compressed = d_keys @ wk.T + d_values @ wv.T  # (t, d)
    gradient = xp.einsum("tsd,te->sde", blocks, d_compressed)
    return float((error**2).sum()), gradient


def fit_conv_compressor(stream, wq, wk, wv, *, rate, segment, steps=200, lr=0.002, clip=1.0):
    """Learn :func:`conv1d` weights that lower the reconstruction loss on ``stream (N, d)``.

    Gradient descent from the mean-pool weights (``W_s = I/c``), each step on
    the next window of ``segment`` rows (queries) and the ``segment`` rows
    before it (the memory to compress), with the gradient's norm clipped to
    ``clip``.  Raises if the loss stops being finite (a learning rate too
    large) instead of returning NaN weights.  Returns ``(weights, losses)``.
    """
    xp = array_module(stream=stream)
    rate = check_int("rate", rate, minimum=1)
    segment = check_int("segment", segment, minimum=rate)
    steps = check_int("steps", steps, minimum=1)
    d = stream.shape[1]
    if stream.shape[0] < 2 * segment:
        raise ValueError(
            f"stream must hold at least 2·segment = {2 * segment} rows, got {stream.shape[0]}"
        )
    weights = xp.broadcast_to(xp.eye(d, dtype=stream.dtype) / rate, (rate, d, d)).copy()
    windows = stream.shape[0] // segment - 1
    losses = []
    for step in range(steps):
        w = step % windows
        old_mem = stream[w * segment : (w + 1) * segment]
        h = stream[(w + 1) * segment : (w + 2) * segment]
        loss, gradient = conv1d_loss_and_gradient(h, old_mem, weights, wq, wk, wv)
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"the reconstruction loss diverged at step {step} (lr = {lr}): lower lr or clip"
            )
        losses.append(loss)
        norm = float(xp.sqrt((gradient * gradient).sum()))
        if norm > clip:
            gradient = gradient * (clip / norm)
        weights = weights - lr * gradient
    return weights, losses
