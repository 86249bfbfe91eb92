"""Linformer: attention over keys and values projected along the sequence axis.

Wang, Li, Khabsa, Fang & Ma 2020, *Linformer: Self-Attention with Linear
Complexity*, arXiv:2006.04768.  The attention matrix is approximately low-rank,
so Linformer projects the ``n`` keys and values down to ``k`` rows with
``E, F ∈ R^{k×n}`` before attending: ``softmax(Q (E K)ᵀ/√d) (F V)`` costs
``O(n·k)`` instead of ``O(n²)``.  The projections may be shared between heads,
between keys and values, and between layers.

Equations, numbered as in ``derivations/04-linformer.md``:

* (4.1) ``head = softmax(Q (EK)ᵀ/√d) (FV)`` and its cost;
* (4.2) Theorem 1's rank-``k`` construction ``P̃ = D⁻¹ exp(A) Rᵀ R``;
* (4.3) why there is no causal mode;
* (4.6) the sharing modes and their parameter counts.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    broadcast_shapes,
    check_all_finite,
    check_array,
    check_attention_call,
    check_attention_inputs,
    check_bool,
    check_choice,
    check_generator,
    check_int,
    check_module,
    check_output,
    check_working_set,
    quiet,
)
from .jl import projection
from .softmax import softmax, softmax_attention

__all__ = [
    "SHARING",
    "LinformerWeights",
    "linformer_attention",
    "lowrank_context",
    "parameter_count",
    "projections",
]


#: How :func:`projections` and refattn.real_attention word a rejected ``rng`` or ``seed``.
_RNG_DOMAIN = "None, an integer >= 0 or a random Generator"

SHARING = ("none", "headwise", "key-value", "layerwise")


#: What :func:`linformer_attention` can honour of the calling convention.
SUPPORTS = Supports(
    causal=(
        "E·K mixes every position, later ones included, into each projected key, "
        "so no query can be kept from the future (4.3)"
    ),
    general_mask=LINEAR_TIME_MASK,
)


def linformer_attention(
    q,
    k,
    v,
    *args,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    E=None,
    F=None,
):
    """Linformer attention ``softmax(Q (E K)ᵀ·scale) (F V)`` (4.1).

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
    mask : bool array broadcastable to (..., 1, m), optional
        Key padding: padded keys and values are set to zero *before* the
        projection, so they add nothing to ``E K`` or ``F V`` (4.7).  A mask
        with a query axis raises: it cannot be applied in linear time.
    causal : bool
        Must be False: see (4.3).
    scale : float > 0, optional
        Default ``1/√d``.
    return_weights : bool
        Also return a :class:`LinformerWeights`, whose ``.to_dense()`` is the
        ``(..., n, m)`` matrix ``P̄ F`` (with ``P̄`` the ``n × k`` softmax over the
        projected keys) that multiplies the values.
    check_finite : bool
        False skips the finiteness pass over the inputs (``E`` and ``F`` too),
        e.g. inside timed regions; non-finite input then gives undefined
        results (:mod:`refattn.mechanisms`).
    E, F : arrays (..., k, L), keyword-only
        Projections of the keys and of the values along the sequence axis; a
        ``(k, L)`` matrix is shared by every head, an ``(h, k, L)`` stack gives
        one per head (leading axes broadcast with those of q, k, v).  Inputs
        shorter than the projections (``m < L``) use their first ``m``
        columns, as the reference implementation does: a padded sequence would
        give the same result with zero keys, which here are simply absent.
        Longer inputs raise.  float32 or float64, finite, ``k, L >= 1``.

    Returns
    -------
    out : array (..., n, d_v)
    weights : LinformerWeights
        Only when ``return_weights``.

    Raises
    ------
    FloatingPointError
        When finite inputs overflow: ``E K`` or ``F V``, or the attention over
        them (the logits or the weighted sum of the projected values).

    Examples
    --------
    With ``k = n`` and ``E = F = I``, Linformer is exact attention:

    >>> import numpy as np
    >>> q = k = np.zeros((3, 2)); v = np.array([[0.0], [3.0], [6.0]])
    >>> linformer_attention(q, k, v, E=np.eye(3), F=np.eye(3))
    array([[3.], [3.], [3.]])
    """
    if args:
        raise TypeError(
            "linformer_attention takes the projections as keyword arguments: "
            "linformer_attention(q, k, v, E=E, F=F), or use "
            "refattn.mechanism('linformer', k=..., max_length=..., rng=seed), which draws them"
        )
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "linformer_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=False,  # below, together with E and F: one pass
        supports=SUPPORTS,
    )
    dims = call.dims
    for name, p in (("E", E), ("F", F)):
        if p is None:
            raise TypeError(
                f"{name} must be a numpy or cupy array of shape (..., k, L), got None: "
                "linformer_attention needs E= and F=, the projections of the keys and values"
            )
        check_array(name, p, min_ndim=2, axes="..., k, L", finite=False)
        if p.shape[-2] < 1:
            raise ValueError(f"{name} must project to k >= 1 rows, got shape {p.shape}")
        if p.shape[-1] < dims.m:
            raise ValueError(
                f"{name} projects sequences of at most L = {p.shape[-1]} positions, "
                f"got inputs of length {dims.m}"
            )
    xp = array_module(q=q, E=E, F=F)
    if E.shape[-2] != F.shape[-2]:
        raise ValueError(
            f"E and F must project to the same k, got E.shape {E.shape} and F.shape {F.shape}"
        )
    broadcast_shapes({"q, k, v": dims.batch, "E": E.shape[:-2], "F": F.shape[:-2]})
    if check_finite:
        check_all_finite({"q": q, "k": k, "v": v, "E": E, "F": F}, xp)
    m = dims.m
    if call.key_mask is not None:
        # (4.7)  key padding: zero the padded keys and values before projecting them
        keep = call.key_mask[..., :, None]  # (..., m, 1)
        k, v = k * keep, v * keep  # (..., m, d), (..., m, d_v): new arrays, inputs untouched
    # (4.1)  project the sequence axis: k keys and values instead of m
    with quiet(xp):  # by _check_projected, not as a warning
        projected_k = E[..., :, :m] @ k  # (..., k, d)
        projected_v = F[..., :, :m] @ v  # (..., k, d_v)
    _check_projected(xp, projected_k, projected_v)
    try:
        # (..., n, d_v); q was checked with the inputs, E·K and F·V just above: not again
        result = softmax_attention(
            q,
            projected_k,
            projected_v,
            scale=call.scale,
            return_weights=return_weights,
            check_finite=False,
        )
    except FloatingPointError as error:  # its message names its own inputs: k is E·K here
        raise FloatingPointError(
            f"linformer_attention produced NaN or inf from finite input: the attention over "
            f"the projected keys E·K and values F·V overflowed ({error})"
        ) from None
    if not return_weights:
        return result
    out, p_bar = result
    return out, LinformerWeights(p_bar, F[..., :, :m], call.key_mask)


def _check_projected(xp, projected_k, projected_v):
    """Raise ``FloatingPointError`` if ``E K`` or ``F V`` overflowed; one host sync for both."""
    flags = xp.stack([xp.isfinite(projected_k).all(), xp.isfinite(projected_v).all()]).tolist()
    if all(flags):
        return
    what = "E·K" if not flags[0] else "F·V"
    raise FloatingPointError(
        f"linformer_attention produced NaN or inf from finite input: {what} overflowed the "
        f"float range; rescale k, v or the projections E and F"
    )


@dataclass(frozen=True)
class LinformerWeights:
    """Linformer's effective attention matrix, kept as its factors ``P̄ (n × k)`` and ``F (k × m)``.

    ``out = P̄ (F (V ⊙ mask))``, so the matrix that multiplies ``V`` is
    ``P̄ F`` with padded columns zeroed; ``to_dense()`` forms it (tests and
    figures only).  Its rows need not be positive or sum to 1: ``F`` is a
    random projection, not a stochastic matrix.
    """

    p_bar: Any  # (..., n, k)
    f: Any  # (..., k, m)
    key_mask: Any  # (..., m) or None

    def to_dense(self):
        dense = self.p_bar @ self.f  # (..., n, m)
        if self.key_mask is not None:
            dense = dense * self.key_mask[..., None, :]
        return dense


def projections(n, k, *, heads=1, layers=1, sharing="none", kind="gaussian", rng=None, xp=None):
    """The ``E`` and ``F`` every head of every layer uses, shared as ``sharing`` says (4.6).

    Returns ``result[layer][head] == (E, F)``, each ``(k, n)``, drawn with
    :func:`refattn.jl.projection` (``kind``).  Shared projections are the very
    same array objects:

    * ``none``: every head of every layer has its own ``E`` and ``F``;
    * ``headwise``: one ``E`` and one ``F`` per layer, shared by its heads;
    * ``key-value``: one matrix per layer, ``E = F``, shared by its heads;
    * ``layerwise``: one matrix for every layer, head, keys and values.

    ``rng`` is None, an integer >= 0 or a Generator; every matrix is the next
    draw of one generator (layer by layer, head by head, ``E`` before ``F``).
    Sizes whose matrices would not fit in the memory free on the backend raise
    ``ValueError`` before anything is drawn.

    >>> p = projections(16, 4, heads=2, layers=3, sharing="layerwise", rng=0)
    >>> p[0][0][0] is p[2][1][1]
    True
    """
    n, k, heads, layers = _check_sharing(n, k, heads, layers, sharing)
    xp = check_module("xp", xp)
    # the distinct k × n float64 matrices, the working set of one draw, and the lists
    matrices = parameter_count(n, k, heads=heads, layers=layers, sharing=sharing)
    check_working_set(
        f"projections(n={n}, k={k}, heads={heads}, layers={layers}, sharing={sharing!r})",
        8 * matrices + 32 * k * n + 64 * heads * layers,
        "8·(matrices·k·n) + 32·k·n + 64·heads·layers",
        xp,
    )
    g = check_generator("rng", rng, xp, domain=_RNG_DOMAIN)

    def draw():
        return projection(n, k, kind=kind, rng=g, xp=xp)

    if sharing == "layerwise":
        one = draw()
        return [[(one, one) for _ in range(heads)] for _ in range(layers)]
    result = []
    for _ in range(layers):
        if sharing == "none":
            result.append([(draw(), draw()) for _ in range(heads)])
        elif sharing == "headwise":
            pair = (draw(), draw())
            result.append([pair for _ in range(heads)])
        else:  # key-value
            one = draw()
            result.append([(one, one) for _ in range(heads)])
    return result


def parameter_count(n, k, *, heads=1, layers=1, sharing="none"):
    """Number of projection parameters under each sharing mode (4.6).

    ``k·n`` times ``2·layers·heads`` (none), ``2·layers`` (headwise),
    ``layers`` (key-value) or ``1`` (layerwise).

    >>> parameter_count(512, 128, heads=12, layers=12, sharing="headwise")
    1572864
    """
    n, k, heads, layers = _check_sharing(n, k, heads, layers, sharing)
    matrices = {
        "none": 2 * layers * heads,
        "headwise": 2 * layers,
        "key-value": layers,
        "layerwise": 1,
    }
    return matrices[sharing] * k * n


def _check_sharing(n, k, heads, layers, sharing):
    check_choice("sharing", sharing, SHARING)
    return tuple(
        check_int(name, value, minimum=1)
        for name, value in (("n", n), ("k", k), ("heads", heads), ("layers", layers))
    )


def lowrank_context(q, k, kdim, *, rng=None):
    """Theorem 1's rank-``kdim`` approximation ``P̃ = D⁻¹ exp(A) Rᵀ R`` of ``P = softmax(A)`` (4.2).

    ``A = Q Kᵀ/√d`` are the logits, ``D`` the diagonal of row sums of
    ``exp(A)`` (so ``P = D⁻¹ exp(A)`` row by row) and ``R`` a ``kdim × n``
    Gaussian JL matrix with ``N(0, 1/kdim)`` entries.  For any vector ``w``,
    ``P̃w = P Rᵀ(Rw)`` and JL keeps ``p_iᵀ w ≈ (R p_i)ᵀ(R w)``.  Dense ``n × n``:
    for checking the theorem only, not an efficient mechanism.

    Returns ``(P̃, P)``, each ``(..., n, n)``.  Raises ``FloatingPointError``
    if the logits of finite ``q, k`` overflow, and ``ValueError`` before
    drawing ``R`` if the arrays would not fit in the free memory.
    """
    dims = check_attention_inputs(q, k, k, check_finite=False)
    xp = dims.xp
    check_all_finite({"q": q, "k": k}, xp)  # k passed as v too: its values read once
    kdim = check_int("kdim", kdim, minimum=1)
    itemsize = dims.dtype.itemsize
    batch = math.prod(dims.score_batch)
    check_working_set(
        f"lowrank_context(kdim={kdim}) with n = {dims.n}, m = {dims.m}",
        itemsize * (4 * kdim * dims.m + batch * (3 * dims.n * dims.m + dims.n * kdim)),
        "itemsize·(4·kdim·m + batch·(3·n·m + n·kdim))",
        xp,
    )
    g = check_generator("rng", rng, xp, domain=_RNG_DOMAIN)
    with quiet(xp):
        logits = q @ xp.swapaxes(k, -1, -2) / math.sqrt(dims.d)  # (..., n, m)  A
    check_output(
        "lowrank_context", logits, xp,
        reason="the logits q·kᵀ/√d overflowed the float range; rescale q or k",
    )  # fmt: skip
    p = softmax(logits, axis=-1)  # D⁻¹ exp(A)
    r = projection(dims.m, kdim, rng=g, xp=xp, dtype=str(p.dtype))  # (kdim, m)
    return (p @ r.T) @ r, p  # P Rᵀ R
