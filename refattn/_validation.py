"""Input checks shared by every public function.

Each check raises at the public boundary with a message that names the
argument, the value or shape it got, and the domain it allows, e.g.
``chunk_size must be an integer >= 1, got 0``.  Mechanisms call these before
doing any work, and never modify the arrays they check.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

from .backend import _backend_of, _named_array_module

FLOAT_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class AttentionDims:
    """Dimensions of a checked call: ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)``."""

    xp: Any
    batch: tuple[int, ...]  # of the output: q, k and v's leading axes broadcast together
    score_batch: tuple[int, ...]  # of the scores: q, k and the mask's leading axes
    n: int
    m: int
    d: int
    d_v: int
    dtype: Any


def array_module(**named):
    """The common array module of the named arrays (None entries skipped).

    Raises ``TypeError`` for anything that is not a numpy or cupy array, and
    for a mix of the two backends.
    """
    for name, x in named.items():
        if x is not None and _backend_of(x) is None:
            raise TypeError(f"{name} must be a numpy or cupy array, got {type(x).__name__}")
    return _named_array_module({k: x for k, x in named.items() if x is not None})


def check_float_array(name: str, x) -> None:
    """``x`` must have dtype float32 or float64."""
    if str(x.dtype) not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating dtype ({' or '.join(FLOAT_DTYPES)}), got {x.dtype}"
        )


def check_finite(name: str, x, xp) -> None:
    """``x`` must hold no NaN or infinity: attention of non-finite input is undefined."""
    if not bool(xp.isfinite(x).all()):
        raise ValueError(f"{name} must contain only finite values, got NaN or inf")


def check_ndim(name: str, x, axes: str) -> None:
    """``x`` must have at least the two trailing axes named in ``axes``, e.g. ``'n, d'``."""
    if x.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., {axes}) with ndim >= 2, got shape {x.shape}"
        )


def check_bool(name: str, value) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def check_int(name: str, value, *, minimum: int) -> int:
    """``value`` must be an integer (bool excluded) ``>= minimum``; returns it as int."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_scale(scale, d: int) -> float:
    """The softmax temperature: default ``1/sqrt(d)``; otherwise a finite real > 0."""
    if scale is None:
        return 1.0 / math.sqrt(d)
    if isinstance(scale, bool) or not isinstance(scale, numbers.Real):
        raise TypeError(f"scale must be a finite real number > 0 or None, got {scale!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite real number > 0 or None, got {scale}")
    return float(scale)


def broadcast_shapes(named: dict[str, tuple[int, ...]]) -> tuple[int, ...]:
    """Broadcast the named shapes together (NumPy rules) or raise naming them all."""
    ndim = max((len(s) for s in named.values()), default=0)
    result = []
    for axis in range(-ndim, 0):
        sizes = {s[axis] for s in named.values() if len(s) >= -axis} - {1}
        if len(sizes) > 1:
            shapes = ", ".join(f"{name} {shape}" for name, shape in named.items())
            raise ValueError(
                f"leading (batch) axes must broadcast together, got {shapes}; "
                f"each axis must have equal sizes or size 1"
            )
        result.append(sizes.pop() if sizes else 1)
    return tuple(result)


def broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True if an array of ``shape`` broadcasts to ``target`` without growing it."""
    return len(shape) <= len(target) and all(
        s in (1, t) for s, t in zip(shape[::-1], target[::-1], strict=False)
    )


def check_mask(mask, target: tuple[int, ...], *, axes="(..., n, m)") -> None:
    """``mask`` must be boolean and broadcast to ``target`` (named ``axes``) without growing it."""
    if str(mask.dtype) != "bool":
        raise TypeError(f"mask must be a boolean array (True = may attend), got dtype {mask.dtype}")
    if not broadcasts_to(mask.shape, target):
        hint = (
            ""
            if mask.ndim >= 2 and mask.shape[-2] == 1
            else ("; key padding is a mask of shape (..., 1, m)")
        )
        raise ValueError(
            f"mask must be broadcastable to {axes} = {target}, got shape {mask.shape}{hint}"
        )


def check_attention_inputs(q, k, v, *, mask=None, causal=False) -> AttentionDims:
    """Check the arguments of an exact-attention style call and return its dimensions.

    ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` with float32/float64
    dtype, finite values, leading axes that broadcast together, ``n, m, d >= 1``;
    ``mask`` boolean and broadcastable to ``(..., n, m)``; ``causal`` a bool.
    """
    xp = array_module(q=q, k=k, v=v, mask=mask)
    for name, x, axes in (("q", q, "n, d"), ("k", k, "m, d"), ("v", v, "m, d_v")):
        check_ndim(name, x, axes)
        check_float_array(name, x)
    *bq, n, d = q.shape
    *bk, m, d_k = k.shape
    *bv, m_v, d_v = v.shape
    if d_k != d:
        raise ValueError(
            f"k must have the same last axis d as q, got q.shape {q.shape} and k.shape {k.shape}"
        )
    if m_v != m:
        raise ValueError(
            f"v must have as many rows m as k, got k.shape {k.shape} and v.shape {v.shape}"
        )
    for name, size in (("n (q.shape[-2])", n), ("m (k.shape[-2])", m), ("d", d), ("d_v", d_v)):
        if size < 1:
            raise ValueError(f"{name} must be >= 1, got {size}")
    batch = broadcast_shapes({"q": tuple(bq), "k": tuple(bk), "v": tuple(bv)})
    score_batch = broadcast_shapes({"q": tuple(bq), "k": tuple(bk)})
    if mask is not None:
        check_mask(mask, batch + (n, m))
        score_batch = broadcast_shapes({"q·kᵀ": score_batch, "mask": mask.shape[:-2]})
    check_bool("causal", causal)
    for name, x in (("q", q), ("k", k), ("v", v)):
        check_finite(name, x, xp)
    return AttentionDims(xp, batch, score_batch, n, m, d, d_v, xp.result_type(q, k, v))


# ---------------------------------------------------------------------------
# the calling convention shared by every mechanism (derivations/06-calling-convention.md)


@dataclass(frozen=True)
class Supports:
    """What a mechanism can honour; ``None`` means supported, a string is the reason it is not.

    Attributes
    ----------
    causal : str or None
        Why ``causal=True`` cannot be honoured.
    key_padding : str or None
        Why a key-padding mask (query axis of size 1, ``(..., 1, m)``) cannot be.
    general_mask : str or None
        Why a mask with a query axis (``(..., n, m)``) cannot be.
    cross : str or None
        Why keys of another length than the queries (``m != n``) cannot be.
    """

    causal: str | None = None
    key_padding: str | None = None
    general_mask: str | None = None
    cross: str | None = None


#: The reason shared by every mechanism that reads keys in linear time.
LINEAR_TIME_MASK = (
    "an n×m mask cannot be applied in linear time; give key padding as a mask "
    "of shape (..., 1, m) (True = may attend)"
)


@dataclass(frozen=True)
class AttentionCall:
    """A checked call of the convention: dimensions, the scale, and the mask in its two forms.

    ``key_mask`` is the mask as key padding ``(..., m)`` (a view of the
    caller's array) when its query axis has size 1, else None; ``mask`` is
    the caller's mask unchanged.
    """

    dims: AttentionDims
    scale: float
    mask: Any
    key_mask: Any
    causal: bool
    return_weights: bool


def check_attention_call(
    name: str,
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    supports: Supports = Supports(),
) -> AttentionCall:
    """Check a call ``name(q, k, v, mask=, causal=, scale=, return_weights=)`` of the convention.

    Everything :func:`check_attention_inputs` checks, plus ``scale`` and
    ``return_weights``; then each option the mechanism cannot honour raises
    ``ValueError("<name> ...: <reason>")`` with the reason from ``supports``.
    """
    check_bool("return_weights", return_weights)
    dims = check_attention_inputs(q, k, v, mask=mask, causal=causal)
    scale = check_scale(scale, dims.d)
    if causal and supports.causal is not None:
        raise ValueError(f"{name} cannot be causal: {supports.causal}")
    if dims.m != dims.n and supports.cross is not None:
        raise ValueError(
            f"{name} needs as many keys as queries (m = n), got n = {dims.n} and "
            f"m = {dims.m}: {supports.cross}"
        )
    key_mask = None
    if mask is not None:
        if mask.ndim >= 2 and mask.shape[-2] != 1:
            if supports.general_mask is not None:
                raise ValueError(
                    f"{name} cannot apply a mask of shape {mask.shape} with a query axis: "
                    f"{supports.general_mask}"
                )
        else:
            if supports.key_padding is not None:
                raise ValueError(f"{name} cannot apply key padding: {supports.key_padding}")
            # (..., m), a view; a 0-d or size-1 key axis allows or blocks every key alike
            key_mask = mask[..., 0, :] if mask.ndim >= 2 else dims.xp.reshape(mask, (-1,))
            key_mask = dims.xp.broadcast_to(key_mask, key_mask.shape[:-1] + (dims.m,))
    return AttentionCall(dims, scale, mask, key_mask, causal, return_weights)
