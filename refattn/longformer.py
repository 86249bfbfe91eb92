"""Longformer attention: sliding, dilated and causal windows, and symmetric global tokens.

Beltagy, Peters & Cohan 2020, *Longformer: The Long-Document Transformer*,
arXiv:2004.05150.  Each token attends only to the keys within a fixed reach on
either side (a band of the attention matrix), so memory and time grow linearly
with the sequence length.  Dilation spreads the same number of keys over a
wider span, and a few *global* tokens attend to, and are attended by, every
position, so information can still cross the whole sequence in one layer.

refattn's conventions (``derivations/01-longformer.md``):

* (1.1) ``window = w`` is the **one-sided** reach: query ``i`` attends keys
  ``i + t·δ`` for integer ``t ∈ [−w, w]`` (``[−w, 0]`` when causal) inside
  ``[0, n)``.  The paper's "window size" counts both sides, so the paper's
  ``w_paper`` corresponds to ``window = w_paper / 2`` here, ``2w + 1`` keys per
  query.
* (1.2) Dilation ``δ`` splits the positions by residue ``i mod δ``; each class
  is an ordinary (undilated) sliding-window problem of length ``⌈n/δ⌉``.
* (1.3) The band is computed in blocks of ``c`` queries that read the
  ``c + 2w`` keys around them, one dense matrix product per block: nothing of
  size ``n × n`` is ever allocated.
* (1.4) Global tokens are symmetric; a key that is both in the window and
  global counts once.
* (1.5) Memory and flops: :mod:`refattn.complexity`.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, NamedTuple

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    check_all_finite,
    check_attention_call,
    check_bool,
    check_float_array,
    check_int,
    describe,
)
from .backend import _refuse_allocation, indicator, module_for, pad_axis, to_numpy, window_view
from .complexity import BandGeometry, band_geometry, sliding_window_memory
from .softmax import (
    SoftmaxPartial,
    _fill_blocked,
    _finite_or_zero,
    _nonzero,
    _OverflowGuard,
    _refuse_working_set,
    finish_partial,
    merge_partials_,
    softmax_attention,
    softmax_partial,
)

__all__ = [
    "LayerSetting",
    "LongformerWeights",
    "layer_schedule",
    "receptive_field",
    "sliding_window_attention",
    "window_pattern",
]


#: What :func:`sliding_window_attention` can honour of the calling convention.
SUPPORTS = Supports(
    general_mask=LINEAR_TIME_MASK
    + " (the former (..., n) key-padding vector is mask[..., None, :])",
    cross="the sliding window is self-attention over one sequence of n positions",
)


class LongformerWeights(NamedTuple):
    """Attention weights of :func:`sliding_window_attention`, in banded form.

    Attributes
    ----------
    band : array (..., n, left + right + 1)
        ``band[..., i, u]`` is the weight of key ``i + (u − left)·dilation``
        for query ``i`` (0 where that key is outside ``[0, n)``, padded,
        global, or when ``i`` is a global row).  ``left = right = window``,
        or ``right = 0`` when causal (``window`` capped at ``⌈n/δ⌉ − 1``).
    global_keys : array (..., n, g) or None
        Weight of each global key for each non-global query.
    global_rows : array (..., g, n) or None
        The full weight rows of the global queries.
    window, dilation, causal, global_tokens
        The (effective) pattern the weights belong to.
    """

    band: Any
    global_keys: Any
    global_rows: Any
    window: int
    dilation: int
    causal: bool
    global_tokens: tuple[int, ...]

    def to_dense(self):
        """The weights as an ``(..., n, n)`` array, for tests and figures only."""
        xp = array_module(band=self.band)
        *batch, n, width = self.band.shape
        size = math.prod(batch) * n * n * self.band.dtype.itemsize
        _refuse_allocation(
            size, xp, f"LongformerWeights.to_dense: the dense weights {(*batch, n, n)}"
        )
        dense = xp.zeros((*batch, n, n), dtype=self.band.dtype)
        rows = xp.arange(n)
        left = self.window
        for u in range(width):
            keys = rows + (u - left) * self.dilation
            inside = (keys >= 0) & (keys < n)
            dense[..., rows[inside], keys[inside]] = self.band[..., rows[inside], u]
        if self.global_tokens:
            g = xp.asarray(self.global_tokens)
            dense[..., :, g] += self.global_keys
            dense[..., g, :] = self.global_rows
        return dense


def sliding_window_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    window,
    dilation=1,
    global_tokens=None,
    global_qkv=None,
):
    """Longformer self-attention in banded form, memory linear in ``n``.

    Equals ``softmax_attention(q, k, v, mask=window_pattern(...))`` (with the
    padding mask applied to the keys) up to rounding, without the ``n × n``
    matrix: working memory about ``n·(c + 2w)`` scores with ``c`` the block size,
    plus the gathered key and value windows
    (:func:`refattn.complexity.sliding_window_memory`, block layout
    :func:`refattn.complexity.band_geometry`).

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., n, d), (..., n, d_v)
        Self-attention: one sequence of ``n`` positions.  Leading axes broadcast.
    mask : bool array broadcastable to (..., 1, n), optional
        Key padding (True = may attend): a padded key is attended by no query.
        A mask with a query axis, ``(..., n, n)``, raises: it cannot be
        applied in linear time.  (The former key-padding vector of shape
        ``(..., n)`` is now ``mask[..., None, :]``.)
    causal : bool
        Only ``t ∈ [−w, 0]``: no query reads a later key.
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.  Also used by the global rows.
    return_weights : bool
        Also return a :class:`LongformerWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs (``global_qkv`` too),
        e.g. inside timed regions; non-finite input then gives undefined
        results (:mod:`refattn.mechanisms`).
    window : int >= 0
        One-sided reach ``w``: the paper's window size is ``2w`` (plus the
        query itself, ``2w + 1`` keys).  ``w >= ⌈n/δ⌉ − 1`` gives full attention.
    dilation : int >= 1
        Gap ``δ`` between attended keys: keys ``i + t·δ``, ``t ∈ [−w, w]``.
        ``δ >= n`` reaches no key but the query itself; it costs what ``δ = n``
        costs (the layout never grows with ``δ`` past ``n``).
    global_tokens : sequence of int, optional
        Positions ``G`` that attend to every key and that every query attends
        to.  Not allowed with ``causal=True`` (a global row would read the future).
    global_qkv : (q_g, k_g, v_g), optional
        Separate projections for the global rows, shaped like q, k, v: a
        global row ``i`` computes ``softmax(q_g[i]·k_gᵀ/√d) v_g``, as in the
        paper.  The other rows still read the global keys through k and v.

    Returns
    -------
    out : array (..., n, d_v)
    weights : LongformerWeights
        Only when ``return_weights``.

    Raises
    ------
    FloatingPointError
        If finite inputs give a score inside the pattern, or an output, that
        is not finite (see :func:`refattn.softmax_attention`).
    MemoryError
        Before allocating anything, when the working set
        (:func:`refattn.complexity.sliding_window_memory` × batch × itemsize)
        exceeds the memory available; a smaller ``window`` helps.

    Examples
    --------
    A one-sided window of 1 averages each position with its neighbours:

    >>> import numpy as np
    >>> q = k = np.zeros((4, 2))
    >>> v = np.array([[0.0], [3.0], [6.0], [9.0]])
    >>> sliding_window_attention(q, k, v, window=1)
    array([[1.5], [3. ], [6. ], [7.5]])
    >>> sliding_window_attention(q, k, v, window=1, global_tokens=[3])[:, 0]
    array([4. , 4.5, 6. , 4.5])
    """
    _refuse_ambiguous_mask(mask, q)
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "sliding_window_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=False,  # below, with the global projections: one pass
        supports=SUPPORTS,
    )
    dims, scale, key_mask = call.dims, call.scale, call.key_mask  # (..., n) key padding
    xp, n = dims.xp, dims.n
    window = check_int("window", window, minimum=0)
    dilation = check_int("dilation", dilation, minimum=1)
    glob = _check_global_tokens(global_tokens, n, causal)
    q_g, k_g, v_g = _check_global_qkv(global_qkv, q, k, v, glob)
    if check_finite:
        named = {"q": q, "k": k, "v": v}
        if global_qkv is not None:
            named.update({"global_qkv q_g": q_g, "global_qkv k_g": k_g, "global_qkv v_g": v_g})
        check_all_finite(named, xp)
    # a dilation of n or more reaches no key but the query itself, as does δ = n: clamping it
    # keeps the residue layout (δ classes of ⌈n/δ⌉ steps, padded to δ·⌈n/δ⌉) within 2n rows
    dilation = min(dilation, n)

    # (1.2)  residue classes i mod δ are undilated problems of length L = ⌈n/δ⌉;
    # (1.3)  each is cut into blocks of c queries reading c + left + right keys
    geo = band_geometry(n, window, dilation, causal)
    # (1.5)  refuse, before allocating, a band whose working set cannot fit
    _refuse_working_set(
        "sliding_window_attention",
        f"window = {window}" + (f", dilation = {dilation}" if dilation > 1 else ""),
        sliding_window_memory(
            n, dims.d, dims.d_v, window=window, dilation=dilation, causal=causal, g=len(glob)
        ),
        dims,
        hint=f"; pass a smaller window (the band holds about n·(block + 2·window) scores; "
        f"window >= ⌈n/dilation⌉ − 1 = {geo.length - 1} is full attention, which "
        f"chunked_attention computes in less memory)",
    )
    guard = _OverflowGuard("sliding_window_attention", q, k, v, scale, n)
    with guard:
        layout = _BlockLayout(xp, geo)
        c, left, right = geo.block, geo.left, geo.right

        # keys the band may read: real (not padding) and not global, since global keys
        # get their own columns (1.4)
        key_ok = xp.ones(n, dtype=bool) if key_mask is None else key_mask  # (..., n)
        if glob:
            key_ok = key_ok & ~indicator(n, glob, xp)
        # (1.3)  block layout: query r of a block reads key s of its window iff
        #        0 <= s − r <= left + right, and the key is allowed
        q_scaled = q * scale  # (..., n, d)
        q_blocks = layout.queries(q_scaled)  # (..., δ, B, c, d)
        k_blocks = layout.keys(k)  # (..., δ, B, c + l + r, d)
        v_blocks = layout.keys(v)  # (..., δ, B, c + l + r, d_v)
        ok_blocks = layout.keys(key_ok[..., None])[..., 0]  # (..., δ, B, c + l + r)
        offset = xp.arange(c + left + right)[None, :] - xp.arange(c)[:, None]  # (c, c + l + r)
        in_band = (offset >= 0) & (offset <= left + right)
        scores = q_blocks @ xp.swapaxes(k_blocks, -1, -2)  # (..., δ, B, c, c + l + r)
        if guard.armed:  # only scores inside the band, of keys that may be read, count
            guard.see(scores, ~in_band | ~ok_blocks[..., None, :])
        # two broadcast fills, so that no boolean array as large as the scores is built
        scores = _fill_blocked(scores, ~in_band)  # (c, c + l + r): outside the band
        scores = _fill_blocked(scores, ~ok_blocks[..., None, :])  # padding, global or past the end
        del q_blocks, k_blocks, ok_blocks
        band_part = softmax_partial(scores, v_blocks)  # scores now hold exp(s − M_band)
        del v_blocks
        band_e = layout.band(scores) if return_weights else None  # (..., n, l + r + 1)
        del scores
        part = SoftmaxPartial(  # back to sequence order: (..., n, 1), (..., n, 1), (..., n, d_v)
            layout.rows(band_part.row_max),
            layout.rows(band_part.row_sum),
            layout.rows(band_part.numerator),
        )
        band_max = part.row_max

        if glob:
            g = xp.asarray(glob)
            # (1.4)  every query also attends the global keys, through k and v
            g_scores = q_scaled @ xp.swapaxes(k[..., g, :], -1, -2)  # (..., n, g)
            g_blocked = None if key_mask is None else ~key_mask[..., None, g]  # padded global keys
            guard.see(g_scores, g_blocked)
            g_scores = _fill_blocked(g_scores, g_blocked)
            keys_part = softmax_partial(g_scores, v[..., g, :])  # g_scores hold exp(s − M_g)
            keys_max = keys_part.row_max
            part = merge_partials_(part, keys_part)
        out = finish_partial(part)  # (..., n, d_v)

        rows_w = None
        if glob:
            # (1.4)  global rows attend every (real) key, with their own projections
            rows_mask = None if key_mask is None else key_mask[..., None, :]
            rows = softmax_attention(  # rows of checked inputs: not checked again
                q_g[..., g, :], k_g, v_g, mask=rows_mask, scale=scale,
                return_weights=return_weights, check_finite=False,
            )  # fmt: skip
            rows, rows_w = rows if return_weights else (rows, None)
            out[..., g, :] = rows
        guard.finish(out)
    if not return_weights:
        return out

    # weights: each part's exp(s − M_part), rescaled to the merged maximum and normaliser
    shift, total = _finite_or_zero(xp, part.row_max), _nonzero(part.row_sum)
    band_w = band_e * (xp.exp(band_max - shift) / total)  # (..., n, l + r + 1)
    keys_w = None
    if glob:
        keys_w = g_scores * (xp.exp(keys_max - shift) / total)  # (..., n, g)
        band_w[..., g, :] = 0
        keys_w[..., g, :] = 0
    weights = LongformerWeights(band_w, keys_w, rows_w, geo.window, dilation, causal, glob)
    return out, weights


def window_pattern(n, *, window, dilation=1, causal=False, global_tokens=None, xp=None):
    """The Longformer pattern as a dense boolean ``(n, n)`` array (tests and figures only).

    True where query ``i`` may attend key ``j``: ``j = i + t·δ`` with
    ``|t| <= window`` (``−window <= t <= 0`` when causal), or ``i`` or ``j`` in
    ``global_tokens``.  The attention itself never builds this array.

    Examples
    --------
    >>> window_pattern(5, window=1, global_tokens=[4]).astype(int)
    array([[1, 1, 0, 0, 1],
           [1, 1, 1, 0, 1],
           [0, 1, 1, 1, 1],
           [0, 0, 1, 1, 1],
           [1, 1, 1, 1, 1]])
    """
    n = check_int("n", n, minimum=1)
    window = check_int("window", window, minimum=0)
    dilation = check_int("dilation", dilation, minimum=1)
    check_bool("causal", causal)
    glob = _check_global_tokens(global_tokens, n, causal)
    xp = module_for("numpy" if xp is None else xp)
    # past n, neither the reach nor the gap changes the pattern (|j − i| < n)
    window, dilation = min(window, n), min(dilation, n)
    # three (n, n) integer arrays at the peak: j − i, its quotient and the pattern
    _refuse_allocation(
        3 * 8 * n * n, xp, f"window_pattern: the dense (n, n) pattern for n = {n}", error=ValueError
    )
    offset = xp.arange(n)[None, :] - xp.arange(n)[:, None]  # (n, n)  j − i
    steps = offset // dilation
    pattern = (offset % dilation == 0) & (steps >= -window) & (steps <= (0 if causal else window))
    if glob:
        g = xp.asarray(glob)
        pattern[g, :] = True
        pattern[:, g] = True
    return pattern


# ---------------------------------------------------------------------------
# the layer schedule of the paper's autoregressive model, and the receptive field


#: The largest ``layers·heads`` :func:`layer_schedule` builds (a Python tuple entry each).
MAX_SCHEDULE = 10**7


@dataclass(frozen=True)
class LayerSetting:
    """One layer of a schedule: its one-sided window and each head's dilation."""

    window: int
    dilations: tuple[int, ...]


def layer_schedule(
    layers,
    heads,
    *,
    first_window,
    last_window,
    dilated_heads=(),
    last_dilation=1,
    dilated_from=None,
):
    """Windows growing with depth and dilation on a few heads of the upper layers.

    The paper's autoregressive character LM (§4.1) uses small windows in the
    lower layers and larger ones higher up, and dilation only on 2 heads of the
    upper layers.  Here the window grows linearly from ``first_window`` (layer
    0) to ``last_window`` (last layer), rounded to integers; from layer
    ``dilated_from`` (default: the upper half) on, the heads in
    ``dilated_heads`` get a dilation growing linearly to ``last_dilation``, and
    every other head keeps dilation 1.  Run :func:`sliding_window_attention`
    once per distinct dilation of a layer.

    Examples
    --------
    >>> for s in layer_schedule(4, 4, first_window=16, last_window=64,
    ...                         dilated_heads=(0, 1), last_dilation=3):
    ...     print(s.window, s.dilations)
    16 (1, 1, 1, 1)
    32 (1, 1, 1, 1)
    48 (2, 2, 1, 1)
    64 (3, 3, 1, 1)
    """
    layers = check_int("layers", layers, minimum=1)
    heads = check_int("heads", heads, minimum=1)
    first_window = check_int("first_window", first_window, minimum=0)
    last_window = check_int("last_window", last_window, minimum=0)
    last_dilation = check_int("last_dilation", last_dilation, minimum=1)
    if layers * heads > MAX_SCHEDULE:
        raise ValueError(
            f"layers·heads must be <= {MAX_SCHEDULE} (the schedule holds a dilation per head "
            f"and layer), got layers = {layers} and heads = {heads}"
        )
    dilated_from = layers // 2 if dilated_from is None else dilated_from
    dilated_from = check_int("dilated_from", dilated_from, minimum=0)
    dilated_heads = _int_list("dilated_heads", dilated_heads, minimum=0, maximum=heads - 1)
    settings = []
    for layer in range(layers):
        frac = layer / (layers - 1) if layers > 1 else 1.0
        window = round(first_window + frac * (last_window - first_window))
        dilation = 1
        if layer >= dilated_from:
            span = layers - dilated_from
            step = (layer - dilated_from + 1) / span
            dilation = 1 + round(step * (last_dilation - 1))
        dilations = tuple(dilation if h in dilated_heads else 1 for h in range(heads))
        settings.append(LayerSetting(window, dilations))
    return settings


def receptive_field(windows, dilations=None) -> int:
    """How far (one-sided) information can travel through the stacked layers (1.6).

    Each layer moves information by at most ``w_ℓ·δ_ℓ`` positions, so after
    the stack the reach is ``Σ_ℓ w_ℓ·δ_ℓ``; for ``ℓ`` equal layers that is the
    paper's ``ℓ·δ·w``.  For a layer with several dilations, pass the largest.

    >>> receptive_field([64] * 12, [2] * 12)
    1536
    """
    windows = _int_list("windows", windows, minimum=0)
    if dilations is None:
        dilations = [1] * len(windows)
    dilations = _int_list("dilations", dilations, minimum=1)
    if len(dilations) != len(windows):
        raise ValueError(
            f"dilations must have one entry per layer ({len(windows)}), got {len(dilations)}"
        )
    return sum(w * d for w, d in zip(windows, dilations, strict=True))


# ---------------------------------------------------------------------------
# the block layout (1.2)-(1.3)


@dataclass(frozen=True)
class _BlockLayout:
    """Moves per-position arrays between sequence order and the block layout of ``geo``.

    Position ``i = s·δ + r`` is step ``s`` of residue class ``r``; step ``s``
    lies in block ``s // c`` at row ``s % c``.  A block's key window is the
    ``c + left + right`` steps starting ``left`` before the block.
    """

    xp: Any
    geo: BandGeometry

    def _residues(self, x):
        """(..., n, f) -> (..., δ, L, f), zero-padded past n."""
        xp, geo = self.xp, self.geo
        x = pad_axis(x, -2, 0, geo.length * geo.dilation - geo.n)
        x = x.reshape(x.shape[:-2] + (geo.length, geo.dilation, x.shape[-1]))
        return xp.swapaxes(x, -3, -2)

    def queries(self, x):
        """(..., n, f) -> (..., δ, B, c, f)."""
        geo = self.geo
        x = pad_axis(self._residues(x), -2, 0, geo.blocks * geo.block - geo.length)
        return x.reshape(x.shape[:-2] + (geo.blocks, geo.block, x.shape[-1]))

    def keys(self, x):
        """(..., n, f) -> (..., δ, B, K, f): each block's window of K = c + left + right keys.

        Neighbouring windows overlap by ``left + right`` keys; they are a
        read-only strided view of the padded keys, not copies.
        """
        geo = self.geo
        tail = geo.blocks * geo.block - geo.length + geo.right
        x = pad_axis(self._residues(x), -2, geo.left, tail)  # (..., δ, l + B·c + r, f)
        return window_view(x, size=geo.keys_per_block, step=geo.block, count=geo.blocks)

    def rows(self, x):
        """(..., δ, B, c, f) -> (..., n, f): back to sequence order."""
        xp, geo = self.xp, self.geo
        x = x.reshape(x.shape[:-3] + (geo.blocks * geo.block, x.shape[-1]))[..., : geo.length, :]
        x = xp.swapaxes(x, -3, -2)  # (..., L, δ, f)
        x = x.reshape(x.shape[:-3] + (geo.length * geo.dilation, x.shape[-1]))
        return x[..., : geo.n, :]

    def band(self, e):
        """Block scores (..., δ, B, c, K) -> band (..., n, left + right + 1)."""
        xp, geo = self.xp, self.geo
        width = geo.left + geo.right + 1
        index = xp.arange(geo.block)[:, None] + xp.arange(width)[None, :]  # (c, width)
        index = xp.broadcast_to(index, e.shape[:-1] + (width,))
        return self.rows(xp.take_along_axis(e, index, axis=-1))


def _refuse_ambiguous_mask(mask, q) -> None:
    """Refuse key padding ``(b, 1, n)`` given with fewer axes than ``q``: its meaning changed.

    Key padding used to be ``(..., n)``; it is now ``(..., 1, n)``.  A former
    mask ``(b, 1, n)`` for ``q (b, h, n, d)`` (batch ``b``, heads broadcast)
    would now be read with its batch axis against the heads, silently.  So a
    key-padding mask of 3 or more axes must have as many axes as ``q``.
    """
    if mask is None or not hasattr(mask, "ndim") or not hasattr(q, "ndim"):
        return
    if mask.ndim >= 3 and mask.shape[-2] == 1 and mask.ndim < q.ndim:
        raise ValueError(
            f"mask of shape {mask.shape} is ambiguous for q of shape {q.shape}: key padding "
            f"is (..., 1, n) with all of q's leading axes, e.g. {(*q.shape[:-2], 1, q.shape[-2])}; "
            f"a former (b, 1, n) mask (batch, heads broadcast, n) is now mask[:, None]"
        )


def _int_list(name, values, *, minimum, maximum=None) -> list[int]:
    """A list, tuple or 1-D integer array of integers in range (NumPy integers accepted)."""
    if hasattr(values, "dtype") and hasattr(values, "ndim"):
        if values.ndim != 1:
            raise ValueError(f"{name} must be a 1-D sequence of integers, got shape {values.shape}")
        values = to_numpy(values).tolist()
    if not isinstance(values, (list, tuple)):
        raise TypeError(
            f"{name} must be a list or tuple of integers >= {minimum}, got {describe(values)}"
        )
    return [
        check_int(f"{name}[{i}]", x, minimum=minimum, maximum=maximum) for i, x in enumerate(values)
    ]


def _check_global_tokens(global_tokens, n, causal) -> tuple[int, ...]:
    """Sorted, unique, in-range integer positions; () for None or empty."""
    if global_tokens is None:
        return ()
    values = to_numpy(global_tokens) if hasattr(global_tokens, "dtype") else global_tokens
    if hasattr(values, "ndim") and values.ndim != 1:
        raise ValueError(
            f"global_tokens must be a 1-D sequence of positions, got shape {values.shape}"
        )
    if not hasattr(values, "ndim") and not isinstance(values, (list, tuple, range)):
        raise TypeError(
            f"global_tokens must be a sequence of integer positions in [0, n) = [0, {n}) "
            f"or None, got {describe(global_tokens)}"
        )
    positions = []
    for p in list(values):
        if isinstance(p, bool) or not isinstance(p, numbers.Integral):
            raise TypeError(f"global_tokens must hold integer positions, got {p!r}")
        p = int(p)
        if not 0 <= p < n:
            raise ValueError(f"global_tokens must be positions in [0, n) = [0, {n}), got {p}")
        if p in positions:
            raise ValueError(f"global_tokens must not repeat a position, got {p} more than once")
        positions.append(p)
    if positions and causal:
        raise ValueError(
            "global_tokens cannot be combined with causal=True: a global row attends to "
            "every key, including later ones"
        )
    return tuple(sorted(positions))


def _check_global_qkv(global_qkv, q, k, v, glob):
    """The global rows' projections: arrays of q's backend, float, shaped like q, k, v.

    Their values are checked with q, k and v, in the call's one finiteness pass.
    """
    if global_qkv is None:
        return q, k, v
    if not glob:
        raise ValueError(
            "global_qkv is only used with global_tokens, but no global_tokens were given"
        )
    if not isinstance(global_qkv, (tuple, list)) or len(global_qkv) != 3:
        raise TypeError(
            f"global_qkv must be a tuple (q_g, k_g, v_g), got {type(global_qkv).__name__}"
        )
    q_g, k_g, v_g = global_qkv
    array_module(q=q, q_g=q_g, k_g=k_g, v_g=v_g)
    for name, x, ref, ref_name in (
        ("q_g", q_g, q, "q"),
        ("k_g", k_g, k, "k"),
        ("v_g", v_g, v, "v"),
    ):
        if getattr(x, "shape", None) != ref.shape:
            raise ValueError(
                f"global_qkv {name} must have the shape of {ref_name} {ref.shape}, "
                f"got {getattr(x, 'shape', None)}"
            )
        check_float_array(f"global_qkv {name}", x)
    return q_g, k_g, v_g
