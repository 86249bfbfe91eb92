"""Singular-value spectra of attention matrices: how low-rank attention is.

Linformer (Wang et al. 2020, arXiv:2006.04768, Figure 1) observes that the
context matrix ``P = softmax(QKᵀ/√d)`` has most of its mass in a few singular
values.  These helpers measure that, for ``derivations/04-linformer.md``:

* (4.4) Eckart–Young: the best rank-``k`` approximation in Frobenius norm keeps
  the top ``k`` singular triples, and ``‖P − P_k‖_F² = Σ_{i>k} σ_i²``;
* (4.5) the normalised cumulative spectrum ``c_k = Σ_{i<=k} σ_i / Σ_i σ_i``
  (singular values, not their squares, as Linformer plots) and the effective
  rank ``exp(H(p))``, ``p_i = σ_i/Σσ`` (Roy & Vetterli 2007).
"""

from __future__ import annotations

from ._validation import array_module, check_float_array, check_int

__all__ = ["best_rank_k", "cumulative_spectrum", "effective_rank", "energy_at", "singular_values"]


def singular_values(p):
    """Singular values of ``p (..., n, m)``, descending: ``(..., min(n, m))``.

    >>> import numpy as np
    >>> singular_values(np.diag([1.0, 3.0, 2.0]))
    array([3., 2., 1.])
    """
    xp = array_module(p=p)
    check_float_array("p", p)
    if p.ndim < 2:
        raise ValueError(f"p must have shape (..., n, m) with ndim >= 2, got shape {p.shape}")
    return xp.linalg.svd(p, compute_uv=False)


def cumulative_spectrum(s):
    """``c_k = Σ_{i<=k} σ_i / Σ_i σ_i`` along the last axis: non-decreasing, ending at 1.

    >>> import numpy as np
    >>> cumulative_spectrum(np.array([3.0, 1.0]))
    array([0.75, 1.  ])
    """
    _check_spectrum(s)
    return (s.cumsum(axis=-1)) / s.sum(axis=-1, keepdims=True)


def effective_rank(s):
    """Effective rank ``exp(−Σ p_i ln p_i)``, ``p_i = σ_i / Σσ`` (0·ln 0 = 0), in ``[1, len(s)]``.

    Equals ``r`` for ``r`` equal non-zero singular values.

    >>> import numpy as np
    >>> float(effective_rank(np.array([2.0, 2.0, 2.0, 0.0])))
    3.0
    """
    xp = _check_spectrum(s)
    p = s / s.sum(axis=-1, keepdims=True)
    logs = xp.log(xp.where(p > 0, p, 1))  # 0·ln 0 = 0
    return xp.exp(-(p * logs).sum(axis=-1))


def energy_at(s, k):
    """Share of ``‖P‖_F²`` in the top ``k`` singular values: ``Σ_{i<k} σ_i² / Σ σ_i²``."""
    _check_spectrum(s)
    k = check_int("k", k, minimum=0)
    sq = s * s
    return sq[..., :k].sum(axis=-1) / sq.sum(axis=-1)


def best_rank_k(p, k):
    """The best rank-``k`` approximation of ``p (..., n, m)``, in Frobenius norm (4.4)."""
    xp = array_module(p=p)
    check_float_array("p", p)
    k = check_int("k", k, minimum=0)
    u, s, vt = xp.linalg.svd(p, full_matrices=False)
    return (u[..., :, :k] * s[..., None, :k]) @ vt[..., :k, :]


def _check_spectrum(s):
    xp = array_module(s=s)
    check_float_array("s", s)
    if s.ndim < 1 or s.shape[-1] < 1:
        raise ValueError(f"s must hold singular values along its last axis, got shape {s.shape}")
    if bool((s < 0).any()) or not bool((s.sum(axis=-1) > 0).all()):
        raise ValueError("s must be non-negative with a positive sum (singular values)")
    return xp
