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

from ._validation import (
    array_module,
    broadcast_shapes,
    check_all_finite,
    check_array,
    check_bool,
    check_dtype,
    check_int,
    check_module,
    check_output,
    check_real,
    describe,
    extremes,
    quiet,
)
from .backend import _backend_of
from .softmax import softmax_attention

#: The most elements one array built here may hold (16 GiB of float64): a larger request is
#: refused before anything is allocated, with the arguments that asked for it.
MAX_ELEMENTS = 2**31

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
    ``cos``.  ``positions`` may be any finite integers or floats (Transformer-XL
    feeds the distances ``m − 1, …, 0``): a sequence or a 1-d array.  The
    angles are computed in float64 whatever ``dtype``, so a float32 table is
    the float64 one rounded.

    >>> sinusoidal_table([0], 4)
    array([[0., 1., 0., 1.]])
    """
    d = check_int("d", d, minimum=1)
    dtype = check_dtype("dtype", dtype)
    xp = (
        check_module("xp", xp, typed=True)
        if xp is not None or _backend_of(positions) is None
        else None
    )
    xp = xp or array_module(positions=positions)
    p = _check_positions("positions", positions, xp, columns=d)  # (P,)
    p = p.astype("float64", copy=False)[:, None]  # (P, 1)
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
    xp = check_array("x", x, min_ndim=2, axes="..., n, m")
    *batch, n, m = x.shape
    if n < 1 or m < n:
        raise ValueError(
            f"x must have shape (..., n, m) with 1 <= n <= m (the queries are the last n of m "
            f"positions), got shape {x.shape}"
        )
    return _shift(xp, x)


def _shift(xp, x):
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
    xp = array_module(q=q, k=k, w_r=w_r, u=u, v=v, r=r, optional=("r",))
    for name, x, ndim, axes in (
        ("q", q, 2, "..., n, d"),
        ("k", k, 2, "..., m, d"),
        ("w_r", w_r, None, "d, d_r"),
        ("u", u, None, "d,"),
        ("v", v, None, "d,"),
    ):
        check_array(name, x, min_ndim=ndim, axes=axes, finite=False)
    *_, n, d = q.shape
    m = k.shape[-2]
    if k.shape[-1] != d or w_r.ndim != 2 or w_r.shape[0] != d or u.shape != (d,) or v.shape != (d,):
        raise ValueError(
            f"shapes must be q (..., n, d), k (..., m, d), w_r (d, d_r), u (d,), v (d,) with "
            f"d = {d}, got k {k.shape}, w_r {w_r.shape}, u {u.shape}, v {v.shape}"
        )
    if n < 1 or d < 1 or w_r.shape[1] < 1:
        raise ValueError(f"n, d and d_r must be >= 1, got q {q.shape} and w_r {w_r.shape}")
    if m < n:
        raise ValueError(f"need at least as many keys as queries, got n = {n} and m = {m}")
    broadcast_shapes({"q": q.shape[:-2], "k": k.shape[:-2]})
    if r is not None:
        check_array("r", r, ndim=2, axes="m, d_r", finite=False)
        if r.shape != (m, w_r.shape[1]):
            raise ValueError(
                f"r must have shape (m, d_r) = {(m, w_r.shape[1])} (m from k, d_r from w_r), "
                f"got {r.shape}"
            )
    check_all_finite({"q": q, "k": k, "w_r": w_r, "u": u, "v": v, "r": r}, xp)
    if r is None:
        r = sinusoidal_table(xp.arange(m - 1, -1, -1), w_r.shape[1], xp=xp, dtype=str(q.dtype))
    # (5.3)  content terms: (q_i + u)ᵀ k_j
    with quiet(xp):
        content = (q + u) @ xp.swapaxes(k, -1, -2)  # (..., n, m)
    # (5.3)  position terms for every distance once: (q_i + v)ᵀ W_R r_δ, δ = m − 1 … 0
    with quiet(xp):
        by_distance = (q + v) @ (r @ w_r.T).T  # (..., n, m)
        scores = content + _shift(xp, by_distance)
    check_output(
        "relative_scores", scores, xp,
        reason=f"(q + u)·k or (q + v)·W_R r overflows {scores.dtype}; rescale the inputs or use "
        "float64",
    )  # fmt: skip
    return scores


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
        Position of the first row; ``start + n <= 2**53``, so that every
        position is a distinct float64.

    >>> import numpy as np
    >>> add_positions(np.zeros((1, 2)))
    array([[0., 1.]])
    """
    xp = _check_states("x", x)
    n, d = x.shape[-2:]
    start = check_int("start", start, minimum=0, maximum=MAX_POSITION - n)
    # |p| <= 1 is below half an ulp of the largest float: x + p cannot overflow
    return x + sinusoidal_table(xp.arange(start, start + n), d, xp=xp, dtype=str(x.dtype))


def position_infused_qk(x, positions, w_q, w_k):
    """Queries and keys of position-infused attention: ``(x + p) W_q`` and ``(x + p) W_k`` (14.1).

    Parameters
    ----------
    x : array (..., n, d)
        Position-free states.
    positions : sequence or 1-d array of n finite real numbers
        The position of each row (Shortformer counts from the start of the window).
    w_q, w_k : arrays (d, d_k)

    Returns
    -------
    q, k : arrays (..., n, d_k)
    """
    xp = array_module(x=x, w_q=w_q, w_k=w_k)
    _check_states("x", x, finite=False)
    n, d = x.shape[-2:]
    _check_projections(d, w_q=w_q, w_k=w_k)
    positions = _check_positions("positions", positions, xp, rows=n, columns=d)
    check_all_finite({"x": x, "w_q": w_q, "w_k": w_k}, xp)
    q, k = _infused_qk(xp, x, positions, w_q, w_k)
    _check_products("position_infused_qk", xp, {"q": q, "k": k}, "(x + p)·W")
    return q, k


def _infused_qk(xp, x, positions, w_q, w_k):
    # (14.1)  p enters the queries' and keys' input only
    table = sinusoidal_table(positions, x.shape[-1], xp=xp, dtype=str(x.dtype))  # (n, d)
    with quiet(xp):
        infused = x + table  # (..., n, d)
    with quiet(xp):
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
    check_bool("return_weights", return_weights)
    xp = array_module(x=x, w_q=w_q, w_k=w_k, w_v=w_v, cache=cache, optional=("cache",))
    _check_states("x", x, finite=False)
    d = x.shape[-1]
    _check_projections(d, w_q=w_q, w_k=w_k, w_v=w_v)
    _check_same_width(w_q, w_k)
    window = x if cache is None else _concat_rows(xp, cache, x)  # (..., c + n, d)
    check_all_finite({"x": x, "cache": cache, "w_q": w_q, "w_k": w_k, "w_v": w_v}, xp)
    c = window.shape[-2] - x.shape[-2]
    q, k = _infused_qk(xp, window, xp.arange(window.shape[-2]), w_q, w_k)  # (..., c + n, d_k)
    q = q[..., c:, :]  # (..., n, d_k): the current rows ask
    # (14.1)  the values read the position-free states
    with quiet(xp):
        v = window @ w_v  # (..., c + n, d_v)
    _check_products("position_infused_attention", xp, {"q": q, "k": k, "v": v}, "the projections")
    return softmax_attention(
        q, k, v, causal=causal, scale=scale, return_weights=return_weights, check_finite=False
    )


def projected_attention(h, w_q, w_k, w_v, *, cache=None, causal=True, scale=None):
    """One plain head over ``[cache; h]``: ``q = h W_q``, ``k = h' W_k``, ``v = h' W_v`` (14.2).

    The layer of a model with absolute positions at the input
    (:func:`add_positions`): whatever positions ``h`` and ``cache`` carry are
    the ones they were given when computed.  Shapes as in
    :func:`position_infused_attention`.
    """
    check_bool("causal", causal)
    xp = array_module(h=h, w_q=w_q, w_k=w_k, w_v=w_v, cache=cache, optional=("cache",))
    _check_states("h", h, finite=False)
    d = h.shape[-1]
    _check_projections(d, w_q=w_q, w_k=w_k, w_v=w_v)
    _check_same_width(w_q, w_k)
    window = h if cache is None else _concat_rows(xp, cache, h, name="h")  # (..., c + n, d)
    check_all_finite({"h": h, "cache": cache, "w_q": w_q, "w_k": w_k, "w_v": w_v}, xp)
    with quiet(xp):
        q, k, v = h @ w_q, window @ w_k, window @ w_v
    _check_products("projected_attention", xp, {"q": q, "k": k, "v": v}, "the projections")
    return softmax_attention(q, k, v, causal=causal, scale=scale, check_finite=False)


# --- checks shared by this module's functions (and funnel.py's allocation limit) ---------------

#: The largest position: every integer up to it is a distinct float64.
MAX_POSITION = 2**53


def check_size(what: str, count: int) -> None:
    """Refuse, before allocating, an array of ``count`` elements above :data:`MAX_ELEMENTS`."""
    if count > MAX_ELEMENTS:
        raise ValueError(
            f"{what} would hold {count} elements, more than the {MAX_ELEMENTS} (2**31) that "
            f"refattn allocates at once"
        )


_POSITIONS = "a sequence or 1-d array of finite real numbers"


def _check_positions(name, positions, xp, *, rows=None, columns=1):
    """``positions`` as a 1-d real array of backend ``xp``, checked before any allocation.

    ``rows`` is the length it must have; ``columns`` the width of the table it
    will make, so that ``len(positions) · columns`` is refused up front when it
    exceeds :data:`MAX_ELEMENTS`.
    """
    is_array = _backend_of(positions) is not None
    sequence = hasattr(positions, "__len__") and not isinstance(positions, (str, bytes))
    if not is_array and not sequence:
        raise TypeError(f"{name} must be {_POSITIONS}, got {describe(positions)}")
    if is_array and array_module(**{name: positions}) is not xp:
        raise TypeError(f"{name} must be an array of the same backend as the other arrays")
    count = positions.size if is_array else len(positions)
    check_size(f"a table of {name} (len {count}) by d = {columns}", count * columns)
    if not is_array:
        try:
            positions = xp.asarray(positions)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be {_POSITIONS}, got {describe(positions)}") from None
    if positions.ndim != 1:
        raise ValueError(f"{name} must be {_POSITIONS}, got shape {positions.shape}")
    if positions.dtype.kind not in "iuf" or str(positions.dtype) == "float16":
        raise TypeError(
            f"{name} must be {_POSITIONS} (integer, float32 or float64), got dtype "
            f"{positions.dtype}"
        )
    if rows is not None and positions.shape != (rows,):
        raise ValueError(
            f"{name} must have shape (n,) with n = {rows} (the rows of x), got {positions.shape}"
        )
    if positions.dtype.kind == "f":
        check_all_finite({name: positions}, xp)
    return positions


def _check_states(name, x, *, finite=True):
    """``x (..., n, d)``: float32/float64, ``n, d >= 1``; finite unless told."""
    xp = check_array(name, x, min_ndim=2, axes="..., n, d", finite=finite)
    if x.shape[-2] < 1 or x.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., n, d) with n, d >= 1, got shape {x.shape}")
    return xp


def _check_projections(d, **named):
    """Each named matrix is ``(d, ·)`` float32/float64 with at least one column."""
    for name, w in named.items():
        check_array(name, w, ndim=2, axes="d, ·", finite=False)
        if w.shape[0] != d or w.shape[1] < 1:
            raise ValueError(
                f"{name} must have shape (d, ·) with d = {d} (the states' last axis) and at "
                f"least one column, got {w.shape}"
            )


def _check_same_width(w_q, w_k):
    if w_q.shape[1] != w_k.shape[1]:
        raise ValueError(
            f"w_q and w_k must have the same number of columns d_k, got w_q {w_q.shape} and "
            f"w_k {w_k.shape}"
        )


def _check_products(name, xp, named, what):
    """FloatingPointError if a product of finite inputs overflowed (one host sync for all)."""
    dtype = next(iter(named.values())).dtype
    check_output(
        name, extremes(xp, *named.values()), xp,
        reason=f"{what} overflow {dtype}; rescale the inputs or use float64",
    )  # fmt: skip


def _concat_rows(xp, cache, x, name="x"):
    check_array("cache", cache, min_ndim=2, axes="..., c, d", finite=False)
    if cache.shape[-1] != x.shape[-1]:
        raise ValueError(
            f"cache must have shape (..., c, d) with d = {x.shape[-1]} ({name}.shape[-1]), got "
            f"{cache.shape}"
        )
    batch = broadcast_shapes({"cache": cache.shape[:-2], name: x.shape[:-2]})
    cache = xp.broadcast_to(cache, (*batch, *cache.shape[-2:]))
    x = xp.broadcast_to(x, (*batch, *x.shape[-2:]))
    return xp.concatenate([cache, x], axis=-2)  # (..., c + n, d)


# --- rotary positions (14.3) ------------------------------------------------------------------


def rotary(x, positions, *, base=10000):
    """Rotate each coordinate pair ``(x_{2t}, x_{2t+1})`` of row i by ``positions[i]·θ_t`` (14.3).

    ``θ_t = base^{−2t/d}``, ``t = 0 … d/2 − 1``, the pairs interleaved as in
    Su et al. 2021, eq. (34).  Applied to queries and keys (never values),
    ``rotary(q, i)ᵀ rotary(k, j) = qᵀ R_{j−i} k`` depends on ``i − j`` only.
    The angles are computed in float64 whatever the dtype of ``x``.

    Parameters
    ----------
    x : array (..., n, d), d even
        Queries or keys.
    positions : sequence or 1-d array of n finite real numbers
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
    xp = _check_states("x", x, finite=False)
    n, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"x must have an even last axis d (coordinate pairs), got d = {d}")
    base = check_real("base", base, minimum=1, open_min=True)
    positions = _check_positions("positions", positions, xp, rows=n, columns=d)
    check_all_finite({"x": x}, xp)
    theta = base ** (-2.0 * xp.arange(d // 2, dtype="float64") / d)  # (d/2,)
    angle = positions.astype("float64", copy=False)[:, None] * theta[None, :]  # (n, d/2)
    angle = xp.repeat(angle, 2, axis=1)  # (n, d): each angle twice
    cos = xp.cos(angle).astype(x.dtype)
    # sin with the sign of the pair's rotation folded in: (−sin, +sin) on (even, odd) columns
    signed_sin = (xp.sin(angle) * xp.where(xp.arange(d) % 2 == 0, -1.0, 1.0)).astype(x.dtype)
    del angle
    # the partner of each coordinate: (x_{2t+1}, x_{2t}) — a reordering, no arithmetic
    partner = x.reshape(*x.shape[:-1], d // 2, 2)[..., ::-1].reshape(x.shape)  # (..., n, d)
    # (14.3)  (x_{2t}, x_{2t+1}) ↦ (x_{2t} cos − x_{2t+1} sin, x_{2t+1} cos + x_{2t} sin)
    with quiet(xp):
        out = x * cos + partner * signed_sin  # (..., n, d)
    check_output("rotary", out, xp, reason=f"a rotated pair reaches √2·max|x|, past {x.dtype}")
    return out


# --- ALiBi (14.4) -----------------------------------------------------------------------------

#: The most heads :func:`alibi_slopes` lists (its slopes are a Python list).
MAX_HEADS = 2**20


def alibi_slopes(heads):
    """ALiBi's head slopes: ``m_h = 2^{−8h/H}``, ``h = 1 … H``, for ``H`` a power of two (14.4).

    For other ``H``, as in the paper's reference code: the ``2^⌊log₂ H⌋`` slopes
    of the nearest smaller power of two, then every other slope of twice that
    many (the ones between) until there are ``H``.

    >>> alibi_slopes(4)
    [0.25, 0.0625, 0.015625, 0.00390625]
    """
    heads = check_int("heads", heads, minimum=1, maximum=MAX_HEADS)

    def geometric(count):
        return [2.0 ** (-8.0 * h / count) for h in range(1, count + 1)]

    power = 2 ** (heads.bit_length() - 1)  # 2^⌊log₂ H⌋, exact
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
    heads = check_int("heads", heads, minimum=1, maximum=MAX_HEADS)
    dtype = check_dtype("dtype", dtype)
    if m < n:
        raise ValueError(f"need at least as many keys as queries, got n = {n} and m = {m}")
    check_size(f"alibi_bias(n = {n}, m = {m}, heads = {heads})", heads * n * m)
    xp = check_module("xp", xp, typed=True)
    slopes = xp.asarray(alibi_slopes(heads), dtype=dtype)  # (H,)
    behind = xp.arange(m)[None, :] - xp.arange(m - n, m)[:, None]  # (n, m)  j − i, exact
    # (14.4)  b_hij = −m_h · (i − j) = m_h · (j − i)
    return slopes[:, None, None] * behind.astype(dtype)[None, :, :]  # (H, n, m)
