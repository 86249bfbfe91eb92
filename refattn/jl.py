"""Johnson–Lindenstrauss: random linear maps that keep pairwise distances.

Johnson & Lindenstrauss 1984; the bound below is Dasgupta & Gupta 2003
("An elementary proof of a theorem of Johnson and Lindenstrauss").  For ``m``
points in ``R^D`` and ``0 < ε < 1``, a random ``k × D`` Gaussian map keeps every
pairwise squared distance within a factor ``1 ± ε`` with positive probability
once ``k >= 4 ln m / (ε²/2 − ε³/3)``.  Linformer's Theorem 1 rests on this
lemma (``derivations/04-linformer.md``); the proof is in
``derivations/03-johnson-lindenstrauss.md``:

* (3.1) ``E‖Rx‖² = ‖x‖²`` for every map :func:`projection` draws;
* (3.2) the tail bound ``Pr(|‖Rx‖²/‖x‖² − 1| > ε) <= 2 exp(−k(ε²/2 − ε³/3)/2)``;
* (3.3) the union bound over the ``m(m−1)/2`` pairs, giving :func:`min_dim`.
"""

from __future__ import annotations

import difflib
import math
import numbers

from ._validation import (
    _scalar,
    array_module,
    broadcast_shapes,
    check_all_finite,
    check_array,
    check_dtype,
    check_generator,
    check_int,
    check_module,
    check_output,
    check_working_set,
    describe,
)
from .backend import _backend_of

__all__ = ["distortion", "min_dim", "pair_failure_bound", "pairwise_sq_distances", "projection"]

BOUNDS = ("dasgupta-gupta", "rule-of-thumb")
KINDS = ("gaussian", "orthogonal", "sparse")


def min_dim(n_points, eps, *, bound="dasgupta-gupta"):
    """The smallest target dimension ``k`` the JL bound allows for ``n_points`` points (3.3).

    ``bound="dasgupta-gupta"``: the smallest integer ``k >= 4 ln m / (ε²/2 − ε³/3)``.
    ``bound="rule-of-thumb"``: ``⌈8 ln m / ε²⌉``, the looser form the reading-group post
    post quotes.  Vectorised: ``n_points`` and ``eps`` may be arrays that
    broadcast together (the result is then an integer array).

    scikit-learn's ``johnson_lindenstrauss_min_dim`` truncates instead of
    rounding up: it returns 663 for ``m = 10⁶, ε = 0.5``, where the bound is
    663.1 and the smallest integer meeting it is 664.

    Raises ``FloatingPointError`` where ``ε`` is so small that the bound
    exceeds the float range (below about ``1e-154``).

    >>> min_dim(10**6, 0.5)
    664
    >>> min_dim(10**6, 0.5, bound="rule-of-thumb")
    443
    """
    _choice("bound", bound, BOUNDS)
    m_array = _is_array(n_points)
    e_array = _is_array(eps)
    if not (m_array or e_array):
        m = _count("n_points", n_points)
        e = _real_in("eps", eps, 0.0, 1.0)
        k = _bound(math.log(m), e, bound)
        if not math.isfinite(k):
            raise FloatingPointError(
                f"min_dim(n_points={m}, eps={e!r}): the bound is beyond the float range; "
                "eps is too small for any realisable target dimension"
            )
        return math.ceil(k)
    xp = array_module(**{n: a for n, a in (("n_points", n_points), ("eps", eps)) if _is_array(a)})
    if m_array:
        check_array("n_points", n_points, dtype="real")
        m = xp.asarray(n_points, dtype=float)
        if bool(((m < 1) | (m != xp.floor(m))).any()):
            raise ValueError(
                f"n_points must be >= 1 everywhere (whole numbers), got {describe(n_points)} "
                f"with values in [{float(m.min())!r}, {float(m.max())!r}]"
            )
    else:
        m = _count("n_points", n_points)
    if e_array:
        check_array("eps", eps, dtype="real")
        e = xp.asarray(eps, dtype=float)
        if bool(((e <= 0) | (e >= 1)).any()):
            raise ValueError(
                f"eps must lie in (0, 1) everywhere, got {describe(eps)} "
                f"with values in [{float(e.min())!r}, {float(e.max())!r}]"
            )
    else:
        e = _real_in("eps", eps, 0.0, 1.0)
    shapes = {name: a.shape for name, a in (("n_points", m), ("eps", e)) if _is_array(a)}
    try:
        broadcast_shapes(shapes)
    except ValueError:
        raise ValueError(
            f"n_points and eps must broadcast together, got shapes {tuple(shapes.values())}"
        ) from None
    log_m = xp.log(xp.asarray(m, dtype=float))
    # k = c·ln m / (ε²·f(ε)) must fit the int64 result: c·ln m <= ε²·f(ε)·2⁶³ (no division here)
    factor = (0.5 - e / 3) / 4 if bound == "dasgupta-gupta" else 1 / 8
    if bool((log_m > e * e * factor * 2.0**63).any()):
        raise FloatingPointError(
            "min_dim: the bound is beyond the int64 range of the result where eps is this small "
            f"(smallest eps {float(xp.min(e))!r}); no target dimension that large is realisable"
        )
    return xp.ceil(_bound(log_m, e, bound)).astype(int)


def _bound(log_m, e, bound):
    """``4 ln m / (ε²/2 − ε³/3)`` or ``8 ln m / ε²``, dividing by ``ε`` twice (ε² underflows)."""
    if bound == "dasgupta-gupta":
        return 4 * log_m / e / e / (0.5 - e / 3)
    return 8 * log_m / e / e


def pair_failure_bound(k, eps):
    """Bound on ``Pr(|‖Rx‖²/‖x‖² − 1| > ε)`` for one vector and a ``k``-row Gaussian map (3.2).

    ``2·exp(−k·(ε²/2 − ε³/3)/2)``.

    >>> f"{pair_failure_bound(664, 0.5):.2e}"
    '1.93e-12'
    """
    k = check_int("k", k, minimum=1)
    eps = _real_in("eps", eps, 0.0, 1.0)
    return 2 * math.exp(-k * (eps**2 / 2 - eps**3 / 3) / 2)


def projection(d_in, k, *, kind="gaussian", density=None, rng=None, xp=None, dtype="float64"):
    """A random ``k × d_in`` map ``R`` with ``E‖Rx‖² = ‖x‖²`` for every ``x`` (3.1).

    * ``gaussian``: iid ``N(0, 1/k)`` entries.
    * ``orthogonal``: ``k <= d_in`` orthonormal rows (Haar-distributed, from the
      QR decomposition of a Gaussian matrix with the signs of ``diag(R)``
      folded in), scaled by ``√(d_in/k)``.
    * ``sparse``: Achlioptas (2003) / Li, Hastie & Church (2006): each entry is
      ``±√(s/k)`` with probability ``1/(2s)`` each and 0 otherwise,
      ``s = 1/density``; default ``density = 1/√d_in``.

    A request whose working memory (a few ``k × d_in`` float64 arrays) exceeds
    the memory available on the backend raises ``ValueError`` before anything
    is allocated.

    >>> projection(100, 7, rng=0).shape
    (7, 100)
    """
    d_in = check_int("d_in", d_in, minimum=1)
    k = check_int("k", k, minimum=1)
    _choice("kind", kind, KINDS)
    if density is not None and kind != "sparse":
        raise ValueError(f"density is only used by kind='sparse', got kind={kind!r}")
    dtype = check_dtype("dtype", dtype)
    xp = _backend("xp", xp)
    if kind == "orthogonal" and k > d_in:
        raise ValueError(f"orthogonal projections need k <= d_in, got k={k}, d_in={d_in}")
    if kind == "sparse":
        density = (
            1 / math.sqrt(d_in) if density is None else _real_in("density", density, 0, 1, True)
        )
        if 1 / math.sqrt(density * k) > float(xp.finfo(dtype).max):
            raise ValueError(
                f"density must be large enough that the entries ±1/√(density·k) fit in {dtype}, "
                f"got density={density!r} with k={k}"
            )
    # the Gaussian draw, its QR factors (orthogonal) and the result: four k × d_in float64 arrays
    _check_working_set(f"projection(d_in={d_in}, k={k})", 4 * 8 * k * d_in, "4·k·d_in·8", xp)
    g = _generator(rng, xp)
    if kind == "gaussian":
        r = g.standard_normal((k, d_in)) / math.sqrt(k)
    elif kind == "orthogonal":
        q, upper = xp.linalg.qr(g.standard_normal((d_in, k)))  # (d_in, k)
        q = q * xp.sign(xp.diagonal(upper))[None, :]
        r = q.T * math.sqrt(d_in / k)
    else:
        u = g.random((k, d_in))
        signs = xp.where(u < density / 2, -1.0, xp.where(u < density, 1.0, 0.0))
        r = signs / math.sqrt(density * k)
    return r.astype(dtype)


def pairwise_sq_distances(x):
    """Squared Euclidean distances between the rows of ``x (..., m, D)``: ``(..., m, m)``.

    Computed from the Gram matrix, ``‖x_i‖² + ‖x_j‖² − 2 x_iᵀx_j``, clipped at
    0 (rounding can make it slightly negative for near-identical points).
    Raises ``FloatingPointError`` if a squared norm overflows the dtype.
    """
    xp = check_array("x", x, min_ndim=2, axes="..., m, D")
    out = _sq_distances(xp, x)
    check_output("pairwise_sq_distances", out, xp, reason=_OVERFLOW)
    return out


def _sq_distances(xp, x):
    sq = (x * x).sum(axis=-1)
    gram = x @ xp.swapaxes(x, -1, -2)
    return xp.maximum(sq[..., :, None] + sq[..., None, :] - 2 * gram, 0)


_OVERFLOW = "a squared norm ‖x_i‖² is beyond the dtype's range; rescale the points"


def distortion(x, y):
    """Ratios ``‖y_i − y_j‖² / ‖x_i − x_j‖²`` over the pairs ``i < j``: ``(..., m(m−1)/2)``.

    ``y`` is the image of ``x`` (e.g. ``x @ R.T``); the JL lemma bounds these
    ratios in ``(1 − ε, 1 + ε)``.  Raises if two points of ``x`` coincide.
    """
    xp = array_module(x=x, y=y)
    check_array("x", x, min_ndim=2, axes="..., m, D", finite=False)
    check_array("y", y, min_ndim=2, axes="..., m, k", finite=False)
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"x and y must hold the same points (..., m, ·), got shapes {x.shape} and {y.shape}"
        )
    check_all_finite({"x": x, "y": y}, xp)
    m = x.shape[-2]
    i, j = xp.triu_indices(m, k=1)
    before = _sq_distances(xp, x)[..., i, j]
    after = _sq_distances(xp, y)[..., i, j]
    check_output("distortion", before, xp, reason="x: " + _OVERFLOW)
    check_output("distortion", after, xp, reason="y: " + _OVERFLOW)
    if bool((before == 0).any()):
        raise ValueError("x has coinciding points: their distance ratio is undefined")
    ratio = after / before
    check_output(
        "distortion", ratio, xp, reason="a ratio overflowed: two points of x nearly coincide"
    )
    return ratio


# ---------------------------------------------------------------------------
# private checks (_is_array shared with refattn.adaptive_span)


def _is_array(value) -> bool:
    """A numpy/cupy array with at least one axis (0-d arrays and NumPy scalars are scalars)."""
    return _backend_of(value) is not None and getattr(value, "ndim", 0) > 0


def _count(name, value):
    """A whole number ``>= 1`` (Python/NumPy integer or 0-d integer array); returns an int."""
    plain = _scalar(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= 1, got {describe(value)}")
    if plain < 1:
        raise ValueError(f"{name} must be >= 1, got {describe(value)}")
    return int(plain)


def _real_in(name, value, low, high, closed_high=False):
    """A finite real in ``(low, high)`` (or ``(low, high]``), bool excluded; returns a float."""
    domain = f"({low:g}, {high:g}{']' if closed_high else ')'}"
    plain = _scalar(value)
    if (
        isinstance(plain, bool)
        or type(plain).__name__ == "bool_"
        or not isinstance(plain, numbers.Real)
    ):
        raise TypeError(f"{name} must be a real number in {domain}, got {describe(value)}")
    plain = float(plain)
    if not (low < plain < high or (closed_high and plain == high)):
        raise ValueError(f"{name} must lie in {domain}, got {describe(value)}")
    return plain


def _choice(name, value, choices):
    """One of the strings ``choices``; the message lists them and suggests the nearest."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {choices}, got {describe(value)}")
    if value not in choices:
        close = difflib.get_close_matches(value, choices, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(f"{name} must be one of {choices}, got {value!r}{hint}")
    return value


# the checks refattn.performer imports from here, as jl words them


def _backend(name, xp):
    """``module_for(xp)``, with the argument named ``name`` in the message (a ``ValueError``)."""
    return check_module(name, xp, accepted="an array module", error=ValueError)


def _generator(rng, xp):
    """``backend.rng(rng, xp)``, with the argument named ``rng`` in the message."""
    return check_generator("rng", rng, xp)


def _check_working_set(what, nbytes, formula, xp):
    """:func:`check_working_set`, asking for fewer rows or a smaller dimension."""
    check_working_set(what, nbytes, formula, xp, hint="ask for fewer rows or a smaller dimension")
