"""Singular-value spectra of attention matrices: how low-rank attention is.

Linformer (Wang et al. 2020, arXiv:2006.04768, Figure 1) observes that the
context matrix ``P = softmax(QKᵀ/√d)`` has most of its mass in a few singular
values.  These helpers measure that, for ``derivations/04-linformer.md``:

* (4.4) Eckart–Young: the best rank-``k`` approximation in Frobenius norm keeps
  the top ``k`` singular triples, and ``‖P − P_k‖_F² = Σ_{i>k} σ_i²``;
* (4.5) the normalised cumulative spectrum ``c_k = Σ_{i<=k} σ_i / Σ_i σ_i``
  (singular values, not their squares, as Linformer plots) and the effective
  rank ``exp(H(p))``, ``p_i = σ_i/Σσ`` (Roy & Vetterli 2007).

Every function first divides its input by a power of two close to its largest
entry (exact in floating point), so that spectra of matrices with entries near
the ends of the float range (``1e-300`` or ``1e300``) neither underflow to 0
nor overflow to inf when summed or squared; the ratios they return do not
depend on that scale.
"""

from __future__ import annotations

from ._validation import check_array, check_int, check_output, describe, quiet

__all__ = ["best_rank_k", "cumulative_spectrum", "effective_rank", "energy_at", "singular_values"]


def singular_values(p):
    """Singular values of ``p (..., n, m)``, descending: ``(..., min(n, m))``.

    >>> import numpy as np
    >>> singular_values(np.diag([1.0, 3.0, 2.0]))
    array([3., 2., 1.])
    """
    xp = _check_matrix(p)
    scale = _power_of_two_scale(xp, xp.abs(p).max(axis=(-2, -1), keepdims=True))  # (..., 1, 1)
    with quiet(xp):  # by check_output, not as a warning
        s = xp.linalg.svd(p / scale, compute_uv=False) * scale[..., 0]  # (..., min(n, m))
    check_output(
        "singular_values", s, xp, reason="the largest singular value exceeds the float range"
    )
    return s


def cumulative_spectrum(s):
    """``c_k = Σ_{i<=k} σ_i / Σ_i σ_i`` along the last axis: non-decreasing, ending at 1.

    ``s`` must be sorted in descending order, as :func:`singular_values` returns it.

    >>> import numpy as np
    >>> cumulative_spectrum(np.array([3.0, 1.0]))
    array([0.75, 1.  ])
    """
    xp = _check_spectrum(s, descending=True)
    t = _rescaled(xp, s)  # (..., r), largest entry in [1, 2)
    return t.cumsum(axis=-1) / t.sum(axis=-1, keepdims=True)


def effective_rank(s):
    """Effective rank ``exp(−Σ p_i ln p_i)``, ``p_i = σ_i / Σσ`` (0·ln 0 = 0), in ``[1, len(s)]``.

    Equals ``r`` for ``r`` equal non-zero singular values, at any magnitude.

    >>> import numpy as np
    >>> float(effective_rank(np.array([2.0, 2.0, 2.0, 0.0])))
    3.0
    """
    xp = _check_spectrum(s)
    t = _rescaled(xp, s)
    p = t / t.sum(axis=-1, keepdims=True)
    logs = xp.log(xp.where(p > 0, p, 1))  # 0·ln 0 = 0
    return xp.exp(-(p * logs).sum(axis=-1))


def energy_at(s, k):
    """Share of ``‖P‖_F²`` in the top ``k`` singular values: ``Σ_{i<k} σ_i² / Σ σ_i²``.

    ``s`` must be sorted in descending order; ``0 <= k <= len(s)``.

    >>> import numpy as np
    >>> float(energy_at(np.array([3.0, 1.0]), 1))
    0.9
    """
    xp = _check_spectrum(s, descending=True)
    k = check_int("k", k, minimum=0, maximum=s.shape[-1])
    t = _rescaled(xp, s)
    sq = t * t  # the largest is in [1, 4): no overflow, and the total is >= 1
    return sq[..., :k].sum(axis=-1) / sq.sum(axis=-1)


def best_rank_k(p, k):
    """The best rank-``k`` approximation of ``p (..., n, m)``, in Frobenius norm (4.4).

    ``0 <= k <= min(n, m)``; ``k = min(n, m)`` gives ``p`` back up to rounding.
    """
    xp = _check_matrix(p)
    k = check_int("k", k, minimum=0, maximum=min(p.shape[-2:]))
    scale = _power_of_two_scale(xp, xp.abs(p).max(axis=(-2, -1), keepdims=True))  # (..., 1, 1)
    u, s, vt = xp.linalg.svd(p / scale, full_matrices=False)
    with quiet(xp):
        out = ((u[..., :, :k] * s[..., None, :k]) @ vt[..., :k, :]) * scale  # (..., n, m)
    check_output(
        "best_rank_k",
        out,
        xp,
        reason="an entry of the rank-k approximation exceeds the float range",
    )
    return out


# ---------------------------------------------------------------------------
# checks and the rescaling


def _power_of_two_scale(xp, largest):
    """``2^(e−1)`` for ``largest = f·2^e``, ``f ∈ [0.5, 1)``: dividing by it is exact.

    It lies in ``(largest/2, largest]``, so it never overflows (``2^1023`` for
    float64's maximum); it is ``0.5`` where ``largest`` is 0 (no division by 0).
    """
    _, exponent = xp.frexp(largest)
    return xp.ldexp(xp.ones_like(largest), exponent - 1)


def _rescaled(xp, s):
    """``s`` divided by a power of two so that its largest entry per row is in ``[1, 2)``."""
    return s / _power_of_two_scale(xp, s.max(axis=-1, keepdims=True))


def _check_matrix(p):
    """``p``: a finite float array ``(..., n, m)`` with ``n, m >= 1``; returns its module."""
    xp = check_array("p", p, min_ndim=2, axes="..., n, m")
    if p.shape[-1] < 1 or p.shape[-2] < 1:
        raise ValueError(f"p must have n >= 1 rows and m >= 1 columns, got shape {p.shape}")
    return xp


def _check_spectrum(s, *, descending=False):
    """``s``: finite, non-negative singular values along the last axis, not all zero.

    One reduction per property and one host sync for all of them; with
    ``descending`` the values must also be sorted largest first.
    """
    xp = check_array("s", s, min_ndim=1, axes="..., r", finite=False)
    if s.shape[-1] < 1:
        raise ValueError(
            f"s must hold at least one singular value on its last axis, got shape {s.shape}"
        )
    checks = {
        "finite": xp.isfinite(s).all(),
        "non-negative": (s >= 0).all(),
        "not all zero": (s.max(axis=-1) > 0).all(),
    }
    if descending:
        checks["descending"] = (s[..., 1:] <= s[..., :-1]).all()
    flags = xp.stack(list(checks.values())).tolist()  # one host sync
    if all(flags):
        return xp
    failed = [name for name, ok in zip(checks, flags, strict=True) if not ok][0]
    got = describe(s)
    if failed == "finite":
        raise ValueError(f"s must contain only finite values, got NaN or inf in {got}")
    if failed == "non-negative":
        raise ValueError(
            f"s must be non-negative (singular values), got {got} with minimum {float(s.min())!r}"
        )
    if failed == "not all zero":
        raise ValueError(
            f"s must have a positive sum along its last axis (singular values, not all zero), "
            f"got {got} with an all-zero row"
        )
    raise ValueError(
        f"s must be sorted in descending order along its last axis (singular values, largest "
        f"first, as singular_values returns them), got {got} with an increase"
    )
