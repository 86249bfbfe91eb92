"""Position encodings: the sinusoidal table and Transformer-XL's relative attention scores.

Vaswani et al. 2017 (sinusoids); Dai et al. 2019, *Transformer-XL*,
arXiv:1901.02860, §3.3 (relative positions).  Transformer-XL scores query ``i``
against key ``j`` with four terms that depend on the keys' *content* and on the
*distance* ``i − j`` only, so that cached memory keeps its meaning when the
segment moves on (``derivations/05-compressive.md``):

* (5.3) ``a_ij = q_iᵀk_j + q_iᵀW_R r_{i−j} + uᵀk_j + vᵀW_R r_{i−j}``
  ``= (q_i + u)ᵀk_j + (q_i + v)ᵀ W_R r_{i−j}``, computed for every distance
  once and moved into place by the *relative shift*.

Three further schemes (``derivations/14-positions.md``):

* **Position-infused attention** (Press, Smith & Lewis 2021, *Shortformer*,
  arXiv:2012.15832): ``q = (x + p) W_q``, ``k = (x + p) W_k``, ``v = x W_v``
  (14.1).  Positions enter queries and keys only, so the hidden states carry
  none, and a cached previous subsequence can be read again at new positions.
* **Rotary positions** (Su et al. 2021, *RoFormer*, arXiv:2104.09864): rotate
  each pair of query and key coordinates by ``position · θ_t``; then
  ``q_iᵀ k_j`` depends on ``i − j`` only (14.3).
* **ALiBi** (Press, Smith & Lewis 2022, arXiv:2108.12409): no positions in
  ``q`` or ``k``; add ``−m_h · (i − j)`` to the scores of head ``h``, with
  slopes ``m_h`` geometric in ``h`` (14.4).
"""

from __future__ import annotations

import math

from ._validation import (
    array_module,
    broadcast_shapes,
    check_bool,
    check_float_array,
    check_int,
)
from .backend import module_for
from .softmax import softmax_attention

__all__ = [
    "add_positions",
    "alibi_bias",
    "alibi_slopes",
    "position_infused_attention",
    "position_infused_qk",
    "projected_attention",
    "relative_scores",
    "relative_shift",
    "rotary",
    "sinusoidal_table",
]


def sinusoidal_table(positions, d, *, xp=None, dtype="float64"):
    """Sinusoidal encodings ``(len(positions), d)``: ``sin`` on even, ``cos`` on odd columns.

    Column ``2i`` is ``sin(p / 10000^{2i/d})`` and column ``2i + 1`` the matching
    ``cos``.  ``positions`` may be any integers or floats (Transformer-XL feeds
    the distances ``m − 1, …, 0``).

    >>> sinusoidal_table([0], 4)
    array([[0., 1., 0., 1.]])
    """
    d = check_int("d", d, minimum=1)
    xp = module_for(xp)
    p = xp.asarray(positions, dtype=dtype).reshape(-1, 1)  # (P, 1)
    pair = xp.arange(d) // 2  # frequency index of each column
    inverse_frequency = 10000.0 ** (-(2.0 * pair) / d)  # (d,)
    angle = p * inverse_frequency[None, :]  # (P, d)
    return xp.where(xp.arange(d) % 2 == 0, xp.sin(angle), xp.cos(angle)).astype(dtype)


def relative_shift(x):
    """Move ``x[..., i, c]``, indexed by distance ``m − 1 − c``, to key column ``j`` (5.3).

    For ``n`` queries that are the last ``n`` of ``m`` positions (query ``i``
    sits at absolute position ``m − n + i``), column ``c`` of ``x`` holds
    distance ``m − 1 − c``; the result's column ``j`` holds distance
    ``m − n + i − j``.  Entries whose distance would be negative (keys after
    the query) come out as garbage and must be masked, as in Transformer-XL.
    Done with Transformer-XL's trick: pad one zero column, reshape, drop a row.
    """
    xp = array_module(x=x)
    *batch, n, m = x.shape
    widths = [(0, 0)] * (x.ndim - 1) + [(1, 0)]
    padded = xp.pad(x, widths)  # (..., n, m + 1)
    padded = padded.reshape(*batch, m + 1, n)  # (..., m + 1, n): the same numbers, re-rowed
    return padded[..., 1:, :].reshape(*batch, n, m)  # (..., n, m)


def relative_scores(q, k, w_r, u, v, *, r=None):
    """Transformer-XL's unscaled scores ``a_ij`` of ``n`` queries against ``m >= n`` keys (5.3).

    Parameters
    ----------
    q : array (..., n, d)
        Queries: the last ``n`` of ``m`` positions.
    k : array (..., m, d)
        Keys of ``[memory; segment]``.
    w_r : array (d, d_r)
        Projection of the relative encodings.
    u, v : arrays (d,)
        The global content and position biases.
    r : array (m, d_r), optional
        Encodings of the distances ``m − 1, m − 2, …, 0`` (row ``c`` is distance
        ``m − 1 − c``); default the sinusoidal table of width ``d_r``.

    Returns
    -------
    array (..., n, m)
        ``a_ij`` for every key ``j`` not after query ``i``; entries with
        ``j > m − n + i`` are not meaningful and must be masked.
    """
    xp = array_module(q=q, k=k, w_r=w_r, u=u, v=v)
    for name, x in (("q", q), ("k", k), ("w_r", w_r), ("u", u), ("v", v)):
        check_float_array(name, x)
    *_, n, d = q.shape
    m = k.shape[-2]
    if k.shape[-1] != d or w_r.ndim != 2 or w_r.shape[0] != d or u.shape != (d,) or v.shape != (d,):
        raise ValueError(
            f"shapes must be q (..., n, d), k (..., m, d), w_r (d, d_r), u (d,), v (d,) with "
            f"d = {d}, got k {k.shape}, w_r {w_r.shape}, u {u.shape}, v {v.shape}"
        )
    if m < n:
        raise ValueError(f"need at least as many keys as queries, got n = {n} and m = {m}")
    if r is None:
        r = sinusoidal_table(xp.arange(m - 1, -1, -1), w_r.shape[1], xp=xp, dtype=str(q.dtype))
    # (5.3)  content terms: (q_i + u)ᵀ k_j
    content = (q + u) @ xp.swapaxes(k, -1, -2)  # (..., n, m)
    # (5.3)  position terms for every distance once: (q_i + v)ᵀ W_R r_δ, δ = m − 1 … 0
    by_distance = (q + v) @ (r @ w_r.T).T  # (..., n, m)
    return content + relative_shift(by_distance)


# --- absolute positions at the input, and Shortformer's position-infused attention (14.1)-(14.2)


def add_positions(x, *, start=0):
    """Absolute sinusoidal positions added at the input: ``x_i + p_{start + i}`` (14.2).

    Vaswani et al. 2017: the hidden states then carry their positions into
    every layer, values included.

    Parameters
    ----------
    x : array (..., n, d)
        Position-free states (token embeddings).
    start : int >= 0
        Position of the first row.

    >>> import numpy as np
    >>> add_positions(np.zeros((1, 2)))
    array([[0., 1.]])
    """
    xp = array_module(x=x)
    check_float_array("x", x)
    _check_rows("x", x)
    start = check_int("start", start, minimum=0)
    n, d = x.shape[-2:]
    return x + sinusoidal_table(xp.arange(start, start + n), d, xp=xp, dtype=str(x.dtype))


def position_infused_qk(x, positions, w_q, w_k):
    """Queries and keys of position-infused attention: ``(x + p) W_q`` and ``(x + p) W_k`` (14.1).

    Parameters
    ----------
    x : array (..., n, d)
        Position-free states.
    positions : sequence of n integers
        The position of each row (Shortformer counts from the start of the window).
    w_q, w_k : arrays (d, d_k)

    Returns
    -------
    q, k : arrays (..., n, d_k)
    """
    xp = array_module(x=x, w_q=w_q, w_k=w_k)
    for name, a in (("x", x), ("w_q", w_q), ("w_k", w_k)):
        check_float_array(name, a)
    _check_rows("x", x)
    n, d = x.shape[-2:]
    _check_projection("w_q", w_q, d)
    _check_projection("w_k", w_k, d)
    positions = xp.asarray(positions)
    if positions.shape != (n,):
        raise ValueError(f"positions must have shape (n,) with n = {n}, got {positions.shape}")
    # (14.1)  p enters the queries' and keys' input only
    infused = x + sinusoidal_table(positions, d, xp=xp, dtype=str(x.dtype))  # (..., n, d)
    return infused @ w_q, infused @ w_k  # (..., n, d_k) each


def position_infused_attention(
    x, w_q, w_k, w_v, *, cache=None, causal=True, scale=None, return_weights=False
):
    """One head of Shortformer's position-infused attention over ``[cache; x]`` (14.1).

    The window is the cached previous subsequence (``c`` rows, may be empty)
    followed by the current one (``n`` rows); positions count from the start of
    the window, ``0 … c + n − 1``, whatever the window's place in the stream.
    Queries are the current rows, keys and values the whole window:

    ``q = (x + p_{c:}) W_q``, ``k = ([cache; x] + p) W_k``, ``v = [cache; x] W_v``.

    Parameters
    ----------
    x : array (..., n, d)
        Position-free states of the current subsequence.
    w_q, w_k : arrays (d, d_k)
    w_v : array (d, d_v)
    cache : array (..., c, d), optional
        Position-free states of the previous subsequence, as they were computed
        when it was current (Shortformer caches them instead of recomputing).
    causal : bool
        Query ``i`` (window position ``c + i``) reads keys ``j <= c + i`` only.
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d_k)``.
    return_weights : bool
        Also return the weights ``(..., n, c + n)``.

    Returns
    -------
    array (..., n, d_v)
        (and the weights when ``return_weights``).
    """
    check_bool("causal", causal)
    xp = array_module(x=x, cache=cache, optional=("cache",))
    window = x if cache is None else _concat_rows(xp, cache, x)  # (..., c + n, d)
    c = window.shape[-2] - x.shape[-2]
    _check_projection("w_v", w_v, x.shape[-1])
    q, k = position_infused_qk(window, xp.arange(window.shape[-2]), w_q, w_k)  # (..., c + n, d_k)
    q = q[..., c:, :]  # (..., n, d_k): the current rows ask
    # (14.1)  the values read the position-free states
    v = window @ w_v  # (..., c + n, d_v)
    return softmax_attention(q, k, v, causal=causal, scale=scale, return_weights=return_weights)


def projected_attention(h, w_q, w_k, w_v, *, cache=None, causal=True, scale=None):
    """One plain head over ``[cache; h]``: ``q = h W_q``, ``k = h' W_k``, ``v = h' W_v`` (14.2).

    The layer of a model with absolute positions at the input
    (:func:`add_positions`): whatever positions ``h`` and ``cache`` carry are
    the ones they were given when computed.  Shapes as in
    :func:`position_infused_attention`.
    """
    check_bool("causal", causal)
    xp = array_module(h=h, cache=cache, w_q=w_q, w_k=w_k, w_v=w_v, optional=("cache",))
    for name, a in (("h", h), ("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        check_float_array(name, a)
    _check_rows("h", h)
    d = h.shape[-1]
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v)):
        _check_projection(name, w, d)
    window = h if cache is None else _concat_rows(xp, cache, h)  # (..., c + n, d)
    return softmax_attention(h @ w_q, window @ w_k, window @ w_v, causal=causal, scale=scale)


def _check_rows(name, x):
    if x.ndim < 2:
        raise ValueError(f"{name} must have shape (..., n, d) with ndim >= 2, got shape {x.shape}")


def _check_projection(name, w, d):
    if w.ndim != 2 or w.shape[0] != d:
        raise ValueError(f"{name} must have shape (d, ·) with d = {d}, got {w.shape}")


def _concat_rows(xp, cache, x):
    check_float_array("cache", cache)
    _check_rows("cache", cache)
    if cache.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"cache must have shape (..., c, d) with d = {x.shape[-1]}, got {cache.shape}"
        )
    batch = broadcast_shapes({"cache": cache.shape[:-2], "x": x.shape[:-2]})
    cache = xp.broadcast_to(cache, (*batch, *cache.shape[-2:]))
    x = xp.broadcast_to(x, (*batch, *x.shape[-2:]))
    return xp.concatenate([cache, x], axis=-2)  # (..., c + n, d)


# --- rotary positions (14.3) ------------------------------------------------------------------


def rotary(x, positions, *, base=10000):
    """Rotate each coordinate pair ``(x_{2t}, x_{2t+1})`` of row i by ``positions[i]·θ_t`` (14.3).

    ``θ_t = base^{−2t/d}``, ``t = 0 … d/2 − 1``, the pairs interleaved as in
    Su et al. 2021, eq. (34).  Applied to queries and keys (never values),
    ``rotary(q, i)ᵀ rotary(k, j) = qᵀ R_{j−i} k`` depends on ``i − j`` only.

    Parameters
    ----------
    x : array (..., n, d), d even
        Queries or keys.
    positions : sequence of n numbers
        Position of each row.
    base : float > 1
        Sets the frequencies.

    Returns
    -------
    array (..., n, d)
        Same dtype; norms of every pair unchanged.

    >>> import numpy as np
    >>> rotary(np.array([[1.0, 0.0]]), [1], base=10000).round(4)
    array([[0.5403, 0.8415]])
    """
    xp = array_module(x=x)
    check_float_array("x", x)
    _check_rows("x", x)
    n, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"x must have an even last axis d (coordinate pairs), got d = {d}")
    if isinstance(base, bool) or not isinstance(base, (int, float)) or not base > 1:
        raise ValueError(f"base must be a real number > 1, got {base!r}")
    positions = xp.asarray(positions, dtype=x.dtype)
    if positions.shape != (n,):
        raise ValueError(f"positions must have shape (n,) with n = {n}, got {positions.shape}")
    theta = float(base) ** (-2.0 * xp.arange(d // 2, dtype=x.dtype) / d)  # (d/2,)
    angle = xp.repeat(positions[:, None] * theta[None, :], 2, axis=1)  # (n, d): each angle twice
    # sin with the sign of the pair's rotation folded in: (−sin, +sin) on (even, odd) columns
    signed_sin = xp.sin(angle) * xp.where(xp.arange(d) % 2 == 0, -1.0, 1.0).astype(x.dtype)
    # the partner of each coordinate: (x_{2t+1}, x_{2t}) — a reordering, no arithmetic
    partner = x.reshape(*x.shape[:-1], d // 2, 2)[..., ::-1].reshape(x.shape)  # (..., n, d)
    # (14.3)  (x_{2t}, x_{2t+1}) ↦ (x_{2t} cos − x_{2t+1} sin, x_{2t+1} cos + x_{2t} sin)
    return x * xp.cos(angle) + partner * signed_sin  # (..., n, d)


# --- ALiBi (14.4) -----------------------------------------------------------------------------


def alibi_slopes(heads):
    """ALiBi's head slopes: ``m_h = 2^{−8h/H}``, ``h = 1 … H``, for ``H`` a power of two (14.4).

    For other ``H``, as in the paper's reference code: the ``2^⌊log₂ H⌋`` slopes
    of the nearest smaller power of two, then every other slope of twice that
    many (the ones between) until there are ``H``.

    >>> alibi_slopes(4)
    [0.25, 0.0625, 0.015625, 0.00390625]
    """
    heads = check_int("heads", heads, minimum=1)

    def geometric(count):
        return [2.0 ** (-8.0 * h / count) for h in range(1, count + 1)]

    power = 2 ** int(math.floor(math.log2(heads)))
    return geometric(power) + geometric(2 * power)[::2][: heads - power]


def alibi_bias(n, m, heads, *, xp=None, dtype="float64"):
    """ALiBi's bias ``−m_h · (i − j)`` for ``n`` queries, the last ``n`` of ``m`` keys (14.4).

    Query ``i`` sits at position ``m − n + i`` (as in causal attention with a
    cache).  The bias is defined for keys not after the query; the entries
    with ``j > m − n + i`` are positive and must be masked (ALiBi is causal).
    Added to the scaled scores ``τ q_iᵀ k_j``; nothing is added to q or k.

    Returns
    -------
    array (heads, n, m)

    >>> alibi_bias(2, 3, 2)
    array([[[-0.0625    ,  0.        ,  0.0625    ],
            [-0.125     , -0.0625    ,  0.        ]],
    <BLANKLINE>
           [[-0.00390625,  0.        ,  0.00390625],
            [-0.0078125 , -0.00390625,  0.        ]]])
    """
    n = check_int("n", n, minimum=1)
    m = check_int("m", m, minimum=1)
    if m < n:
        raise ValueError(f"need at least as many keys as queries, got n = {n} and m = {m}")
    xp = module_for(xp)
    slopes = xp.asarray(alibi_slopes(heads), dtype=dtype)  # (H,)
    behind = xp.arange(m, dtype=dtype)[None, :] - xp.arange(m - n, m, dtype=dtype)[:, None]  # j − i
    # (14.4)  b_hij = −m_h · (i − j) = m_h · (j − i)
    return slopes[:, None, None] * behind[None, :, :]  # (H, n, m)
