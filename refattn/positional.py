"""Position encodings: the sinusoidal table and Transformer-XL's relative attention scores.

Vaswani et al. 2017 (sinusoids); Dai et al. 2019, *Transformer-XL*,
arXiv:1901.02860, §3.3 (relative positions).  Transformer-XL scores query ``i``
against key ``j`` with four terms that depend on the keys' *content* and on the
*distance* ``i − j`` only, so that cached memory keeps its meaning when the
segment moves on (``derivations/05-compressive.md``):

* (5.3) ``a_ij = q_iᵀk_j + q_iᵀW_R r_{i−j} + uᵀk_j + vᵀW_R r_{i−j}``
  ``= (q_i + u)ᵀk_j + (q_i + v)ᵀ W_R r_{i−j}``, computed for every distance
  once and moved into place by the *relative shift*.
"""

from __future__ import annotations

from ._validation import array_module, check_float_array, check_int
from .backend import module_for

__all__ = ["relative_scores", "relative_shift", "sinusoidal_table"]


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
