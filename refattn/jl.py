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

import math
import numbers

from ._validation import array_module, check_float_array, check_int
from .backend import module_for
from .backend import rng as make_rng

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

    >>> min_dim(10**6, 0.5)
    664
    >>> min_dim(10**6, 0.5, bound="rule-of-thumb")
    443
    """
    if bound not in BOUNDS:
        raise ValueError(f"bound must be one of {BOUNDS}, got {bound!r}")
    arrays = [a for a in (n_points, eps) if not isinstance(a, numbers.Real)]
    if arrays:
        xp = array_module(**{f"argument {i}": a for i, a in enumerate(arrays)})
        m, e = xp.asarray(n_points, dtype=float), xp.asarray(eps, dtype=float)
        if bool((m < 1).any()):
            raise ValueError("n_points must be >= 1 everywhere")
        if bool(((e <= 0) | (e >= 1)).any()):
            raise ValueError("eps must lie in (0, 1) everywhere")
        log, ceil = xp.log, xp.ceil
    else:
        m, e = n_points, eps
        if m < 1:
            raise ValueError(f"n_points must be >= 1, got {m}")
        if not 0 < e < 1:
            raise ValueError(f"eps must lie in (0, 1), got {e}")
        log, ceil = math.log, math.ceil
    if bound == "dasgupta-gupta":
        k = ceil(4 * log(m) / (e**2 / 2 - e**3 / 3))
    else:
        k = ceil(8 * log(m) / e**2)
    return int(k) if not arrays else k.astype(int)


def pair_failure_bound(k, eps):
    """Bound on ``Pr(|‖Rx‖²/‖x‖² − 1| > ε)`` for one vector and a ``k``-row Gaussian map (3.2).

    ``2·exp(−k·(ε²/2 − ε³/3)/2)``.

    >>> f"{pair_failure_bound(664, 0.5):.2e}"
    '1.93e-12'
    """
    k = check_int("k", k, minimum=1)
    if not 0 < eps < 1:
        raise ValueError(f"eps must lie in (0, 1), got {eps}")
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

    >>> projection(100, 7, rng=0).shape
    (7, 100)
    """
    d_in = check_int("d_in", d_in, minimum=1)
    k = check_int("k", k, minimum=1)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    if density is not None and kind != "sparse":
        raise ValueError(f"density is only used by kind='sparse', got kind={kind!r}")
    xp = module_for(xp)
    g = make_rng(rng, xp)
    if kind == "gaussian":
        r = g.standard_normal((k, d_in)) / math.sqrt(k)
    elif kind == "orthogonal":
        if k > d_in:
            raise ValueError(f"orthogonal projections need k <= d_in, got k={k}, d_in={d_in}")
        q, upper = xp.linalg.qr(g.standard_normal((d_in, k)))  # (d_in, k)
        q = q * xp.sign(xp.diagonal(upper))[None, :]
        r = q.T * math.sqrt(d_in / k)
    else:
        density = 1 / math.sqrt(d_in) if density is None else density
        if not 0 < density <= 1:
            raise ValueError(f"density must lie in (0, 1], got {density}")
        u = g.random((k, d_in))
        signs = xp.where(u < density / 2, -1.0, xp.where(u < density, 1.0, 0.0))
        r = signs / math.sqrt(density * k)
    return r.astype(dtype)


def pairwise_sq_distances(x):
    """Squared Euclidean distances between the rows of ``x (..., m, D)``: ``(..., m, m)``.

    Computed from the Gram matrix, ``‖x_i‖² + ‖x_j‖² − 2 x_iᵀx_j``, clipped at
    0 (rounding can make it slightly negative for near-identical points).
    """
    xp = array_module(x=x)
    check_float_array("x", x)
    sq = (x * x).sum(axis=-1)
    gram = x @ xp.swapaxes(x, -1, -2)
    return xp.maximum(sq[..., :, None] + sq[..., None, :] - 2 * gram, 0)


def distortion(x, y):
    """Ratios ``‖y_i − y_j‖² / ‖x_i − x_j‖²`` over the pairs ``i < j``: ``(..., m(m−1)/2)``.

    ``y`` is the image of ``x`` (e.g. ``x @ R.T``); the JL lemma bounds these
    ratios in ``(1 − ε, 1 + ε)``.  Raises if two points of ``x`` coincide.
    """
    xp = array_module(x=x, y=y)
    if x.shape[:-1] != y.shape[:-1]:
        raise ValueError(
            f"x and y must hold the same points (..., m, ·), got shapes {x.shape} and {y.shape}"
        )
    m = x.shape[-2]
    i, j = xp.triu_indices(m, k=1)
    before = pairwise_sq_distances(x)[..., i, j]
    if bool((before == 0).any()):
        raise ValueError("x has coinciding points: their distance ratio is undefined")
    return pairwise_sq_distances(y)[..., i, j] / before
