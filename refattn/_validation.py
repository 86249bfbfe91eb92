"""Input checks shared by every public function.

Each check raises at the public boundary with a message that names the
argument, the value or shape it got, and the domain it allows, e.g.
``chunk_size must be an integer >= 1, got 0``.  Mechanisms call these before
doing any work, and never modify the arrays they check.
"""

from __future__ import annotations

import contextlib
import functools
import math
import numbers
from dataclasses import dataclass
from typing import Any

from . import backend as _backend
from .backend import (
    _backend_of,
    _is_generator,
    _named_array_module,
    did_you_mean,
    module_for,
    module_name,
)

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


def describe(value) -> str:
    """How a rejected value reads in a message: ``repr`` for scalars, shape and dtype for arrays."""
    if _backend_of(value) is not None and getattr(value, "ndim", None) is not None:
        if value.ndim == 0:
            return f"{value.item()!r} (0-d array)"
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def array_module(*, optional=(), **named):
    """The common array module of the named arrays.

    Every argument must be a numpy or cupy array; those named in ``optional``
    may also be None (and are then skipped).  Raises ``TypeError`` naming the
    argument for anything else (``None``, lists, scalars), and for a mix of the
    two backends.
    """
    for name, x in named.items():
        if x is None and name in optional:
            continue
        if _backend_of(x) is None:
            got = "None" if x is None else f"{type(x).__name__} {describe(x)}"
            raise TypeError(f"{name} must be a numpy or cupy array, got {got}")
    return _named_array_module({k: x for k, x in named.items() if x is not None})


def check_float_array(name: str, x) -> None:
    """``x`` must have dtype float32 or float64."""
    if str(x.dtype) not in FLOAT_DTYPES:
        raise TypeError(
            f"{name} must have a floating dtype ({' or '.join(FLOAT_DTYPES)}), got {x.dtype}"
        )


def check_finite(name: str, x, xp) -> None:
    """``x`` must hold no NaN or infinity: attention of non-finite input is undefined."""
    check_all_finite({name: x}, xp)


def extremes(xp, *arrays):
    """The max and min of each non-empty array, in one vector: finite iff all ``arrays`` are.

    Max and min propagate NaN and reach any infinity, so one :func:`check_output`
    of this short vector checks several arrays at once, without a boolean copy
    of any of them.
    """
    peaks = [end for x in arrays if x.size for end in (x.max(), x.min())]
    return xp.stack(peaks) if peaks else xp.zeros(0)


def check_all_finite(named: dict[str, Any], xp) -> None:
    """Every named array must hold only finite values; one reduction and one host sync in all.

    On failure the arrays are looked at one by one (more syncs, but only on
    the way to the exception) so that the message names the first culprit.
    """
    arrays = [(name, x) for name, x in named.items() if x is not None]
    if not arrays:
        return
    flags = [xp.isfinite(x).all() for _, x in arrays]
    ok = flags[0]
    for flag in flags[1:]:
        ok = ok & flag
    if bool(ok):
        return
    for (name, _), flag in zip(arrays, flags, strict=True):
        if not bool(flag):
            raise ValueError(f"{name} must contain only finite values, got NaN or inf")


def check_array(
    name: str,
    x,
    *,
    ndim: int | None = None,
    min_ndim: int | None = None,
    axes: str | None = None,
    dtype: str = "float",
    finite: bool = True,
    optional: bool = False,
):
    """Check one array argument and return its array module.

    ``x`` must be a numpy or cupy array (None only if ``optional``), with
    exactly ``ndim`` or at least ``min_ndim`` axes (``axes`` names them in the
    message, e.g. ``'n, d'``), and a dtype of the kind ``dtype``: ``'float'``
    (float32/float64), ``'bool'``, ``'int'`` (signed or unsigned integers),
    ``'real'`` (float or int, not bool) or None for any; with ``finite`` its
    values must be finite (floats only).
    """
    if x is None and optional:
        return None
    xp = array_module(**{name: x})
    shape_text = f"({axes})" if axes else None
    if ndim is not None and x.ndim != ndim:
        want = shape_text or f"{ndim} axes"
        raise ValueError(f"{name} must have shape {want} (ndim {ndim}), got shape {x.shape}")
    if min_ndim is not None and x.ndim < min_ndim:
        want = shape_text or f"at least {min_ndim} axes"
        raise ValueError(
            f"{name} must have shape {want} with ndim >= {min_ndim}, got shape {x.shape}"
        )
    kind = x.dtype.kind
    if dtype == "float":
        check_float_array(name, x)
    elif dtype == "bool" and kind != "b":
        raise TypeError(f"{name} must be a boolean array, got dtype {x.dtype}")
    elif dtype == "int" and kind not in "iu":
        raise TypeError(f"{name} must be an integer array, got dtype {x.dtype}")
    elif dtype == "real" and (kind not in "iuf" or str(x.dtype) == "float16"):
        raise TypeError(
            f"{name} must be a real array (float32, float64 or integer), got dtype {x.dtype}"
        )
    if finite and kind == "f":
        check_finite(name, x, xp)
    return xp


def check_ndim(name: str, x, axes: str) -> None:
    """``x`` must have at least the two trailing axes named in ``axes``, e.g. ``'n, d'``."""
    if x.ndim < 2:
        raise ValueError(
            f"{name} must have shape (..., {axes}) with ndim >= 2, got shape {x.shape}"
        )


def check_bool(name: str, value) -> bool:
    """``value`` must be ``True`` or ``False`` (also a NumPy bool); returns a Python bool."""
    if isinstance(value, bool):
        return value
    if (
        _backend_of(value) is not None  # a NumPy bool or a 0-d boolean array
        and getattr(value, "shape", None) == ()
        and str(value.dtype) == "bool"
    ):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {describe(value)}")


def _scalar(value):
    """A 0-d numpy/cupy array as its Python scalar (one host sync); anything else unchanged."""
    if _backend_of(value) is not None and getattr(value, "shape", None) == ():
        return value.item()
    return value


def check_int(name: str, value, *, minimum: int, maximum: int | None = None) -> int:
    """``value`` must be an integer (bool excluded) in ``[minimum, maximum]``; returns it as int.

    Python ints, NumPy integer scalars and 0-d integer arrays (what CuPy
    reductions return) are accepted; floats are not, even when integral.
    """
    domain = f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum}")
    plain = _scalar(value)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Integral):
        raise TypeError(f"{name} must be {domain}, got {describe(value)}")
    if plain < minimum or (maximum is not None and plain > maximum):
        raise ValueError(f"{name} must be {domain}, got {describe(value)}")
    return int(plain)


def check_real(
    name: str,
    value,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    open_min: bool = False,
    open_max: bool = False,
) -> float:
    """``value`` must be a finite real number (bool excluded) in the given interval.

    ``open_min``/``open_max`` exclude the end points.  Python and NumPy
    numbers and 0-d real arrays are accepted; returns a Python float.
    """
    parts = ["a finite real number"]
    if minimum is not None:
        parts.append(f"{'>' if open_min else '>='} {minimum}")
    if maximum is not None:
        parts.append(f"{'<' if open_max else '<='} {maximum}")
    domain = " ".join(parts[:1]) + ("" if len(parts) == 1 else " " + " and ".join(parts[1:]))
    plain = _scalar(value)  # a NumPy bool becomes a Python bool here
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise TypeError(f"{name} must be {domain}, got {describe(value)}")
    plain = float(plain)
    too_low = minimum is not None and (plain <= minimum if open_min else plain < minimum)
    too_high = maximum is not None and (plain >= maximum if open_max else plain > maximum)
    if not math.isfinite(plain) or too_low or too_high:
        raise ValueError(f"{name} must be {domain}, got {describe(value)}")
    return plain


def check_choice(name: str, value, choices) -> str:
    """``value`` must be one of the strings ``choices``; the message suggests the nearest."""
    choices = tuple(choices)
    listed = ", ".join(repr(c) for c in choices)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {listed}, got {describe(value)}")
    if value not in choices:
        hint = did_you_mean(value, choices)
        raise ValueError(f"{name} must be one of {listed}, got {value!r}{hint}")
    return value


def check_dtype(name: str, dtype, allowed=FLOAT_DTYPES) -> str:
    """A dtype given as a string, a NumPy/CuPy type or a ``dtype`` object; returns its name."""
    text = None
    if isinstance(dtype, str):
        text = dtype
    elif isinstance(dtype, type) or hasattr(dtype, "kind"):
        text = getattr(dtype, "__name__", None) if isinstance(dtype, type) else str(dtype)
    if text not in allowed:
        raise TypeError(f"{name} must be one of {', '.join(allowed)}, got {describe(dtype)}")
    return text


def check_int_sequence(
    name: str, value, *, minimum: int, length: int | None = None, maximum: int | None = None
):
    """A tuple or list of integers each in ``[minimum, maximum]`` (``length`` of them if given)."""
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a tuple of integers >= {minimum}, got {describe(value)}")
    if length is not None and len(value) != length:
        raise ValueError(f"{name} must hold {length} integers, got {len(value)}: {value!r}")
    return tuple(
        check_int(f"{name}[{i}]", x, minimum=minimum, maximum=maximum) for i, x in enumerate(value)
    )


def check_output(name: str, out, xp, *, reason: str = "") -> None:
    """Raise ``FloatingPointError`` if a result computed from finite input is not finite.

    The last line of defence of the rule in derivations/06: nothing returns
    NaN or inf silently.  ``reason`` says what most likely overflowed.
    """
    if not bool(xp.isfinite(out).all()):
        hint = f": {reason}" if reason else ""
        raise FloatingPointError(f"{name} produced NaN or inf from finite input{hint}")


def check_scale(scale, d: int) -> float:
    """The softmax temperature: default ``1/sqrt(d)``; otherwise a finite real > 0."""
    if scale is None:
        return 1.0 / math.sqrt(d)
    plain = _scalar(scale)
    if isinstance(plain, bool) or not isinstance(plain, numbers.Real):
        raise TypeError(f"scale must be a finite real number > 0 or None, got {describe(scale)}")
    if not (math.isfinite(plain) and plain > 0):
        raise ValueError(f"scale must be a finite real number > 0 or None, got {describe(scale)}")
    return float(plain)


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


def check_attention_inputs(q, k, v, *, mask=None, causal=False, check_finite=True) -> AttentionDims:
    """Check the arguments of an exact-attention style call and return its dimensions.

    ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` with float32/float64
    dtype, finite values (unless ``check_finite`` is False, see
    :func:`check_attention_call`), leading axes that broadcast together,
    ``n, m, d >= 1``; ``mask`` boolean and broadcastable to ``(..., n, m)``;
    ``causal`` a bool.
    """
    xp = array_module(q=q, k=k, v=v, mask=mask, optional=("mask",))
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
    if check_bool("check_finite", check_finite):
        check_all_finite({"q": q, "k": k, "v": v}, xp)
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
    check_finite=True,
    supports: Supports = Supports(),
) -> AttentionCall:
    """Check a call ``name(q, k, v, mask=, causal=, scale=, return_weights=, check_finite=)``.

    Everything :func:`check_attention_inputs` checks, plus ``scale``,
    ``return_weights`` and ``check_finite``; then each option the mechanism
    cannot honour raises ``ValueError("<name> ...: <reason>")`` with the
    reason from ``supports``.

    ``check_finite`` is the convention's switch for the finiteness pass over
    the inputs (its meaning for users: :mod:`refattn.mechanisms`): with False,
    :func:`check_all_finite` is not called and every other check still runs.
    A function that takes arrays besides q, k and v (FAVOR's ``omega``,
    Linformer's ``E`` and ``F``, ...) passes False here and checks them all
    in one :func:`check_all_finite` of its own when its ``check_finite`` is True.
    """
    check_bool("return_weights", return_weights)
    check_finite = check_bool("check_finite", check_finite)
    dims = check_attention_inputs(q, k, v, mask=mask, causal=causal, check_finite=check_finite)
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


# ---------------------------------------------------------------------------
# helpers shared by the mechanisms' modules: backends, generators, memory, overflow


def check_module(
    name: str,
    xp,
    *,
    default: str | None = None,
    accepted: str = "the numpy/cupy module",
    typed: bool = False,
    error: type[Exception] | None = None,
    none: bool = True,
):
    """``backend.module_for(xp)``, with the argument named ``name`` in the message.

    ``default`` is the backend ``None`` stands for (``None``: the default backend).
    A rejected ``xp`` raises ``f"{name} must be None, 'numpy', 'cupy' or {accepted},
    got ..."``: a misspelt name with a did-you-mean hint, any other value by
    :func:`describe` (after its type name where ``typed``).  The error is
    ``module_for``'s (``ValueError`` for an unknown name, ``TypeError`` for
    anything else) unless ``error`` says which; a missing CuPy raises
    ``module_for``'s ``RuntimeError`` unchanged.  With ``none=False``, None is
    refused (``TypeError``) and the message does not offer it.
    """
    allowed = f"None, 'numpy', 'cupy' or {accepted}" if none else f"'numpy', 'cupy' or {accepted}"
    if xp is None and not none:
        raise (error or TypeError)(f"{name} must be {allowed}, got None")
    try:
        return module_for(default if xp is None else xp)
    except (TypeError, ValueError) as caught:
        got, hint = describe(xp), ""
        if isinstance(xp, str):
            hint = did_you_mean(xp, ("numpy", "cupy"))
        elif typed:
            got = f"{type(xp).__name__} {got}"
        raise (error or type(caught))(f"{name} must be {allowed}, got {got}{hint}") from None


def check_seed(name: str, rng, *, domain: str | None = None):
    """``rng`` in one of the SPEC 7 forms, an integer as a Python int, anything else unchanged.

    None, a Generator (of either backend), a ``numpy.random.SeedSequence`` or a
    bit generator is returned as is; an integer >= 0 (NumPy integers and 0-d
    integer arrays too) as a Python int.  Anything else raises
    ``f"{name} must be {domain}, got ..."`` (``TypeError``, or ``ValueError``
    for a negative integer), or with ``domain`` None :func:`check_int`'s message.
    """
    host = module_for("numpy").random
    if rng is None or _is_generator(rng) or isinstance(rng, (host.SeedSequence, host.BitGenerator)):
        return rng
    try:
        return check_int(name, rng, minimum=0)
    except (TypeError, ValueError) as error:
        if domain is None:
            raise
        raise type(error)(f"{name} must be {domain}, got {describe(rng)}") from None


def check_generator(name: str, rng, xp, *, domain: str | None = None):
    """``backend.rng(rng, xp)``: a random Generator of backend ``xp``, naming ``name``.

    ``rng`` is None, an integer >= 0 (NumPy integers and 0-d integer arrays
    too), a Generator, a ``numpy.random.SeedSequence`` or a bit generator
    (SPEC 7).  Anything else raises ``f"{name} must be {domain}, got ..."``, or
    with ``domain`` None ``backend.rng``'s own message with ``seed`` read as
    ``name``; a Generator or bit generator of the wrong backend always gets
    ``backend.rng``'s message (it says which backends met).
    """
    try:
        rng = check_seed(name, rng, domain=domain)
    except (TypeError, ValueError):
        if domain is not None:
            raise
        # backend.rng words it below
    try:
        return _backend.rng(rng, xp)
    except (TypeError, ValueError) as error:
        raise type(error)(str(error).replace("seed", name, 1)) from None


def check_working_set(
    what: str, nbytes: int, formula: str, xp, *, hint: str = "ask for smaller sizes"
) -> None:
    """Raise ``ValueError`` before allocating if ``nbytes`` exceed the memory available.

    The bound is what ``backend._available_bytes`` reports free right now
    (``MemAvailable`` on the host, free device memory plus CuPy's pool on a
    GPU): beyond it the request would fail with the allocator's own error or
    swap for minutes.  ``formula`` says how ``nbytes`` was counted.
    """
    available = _backend._available_bytes(xp)
    if available is not None and nbytes > available:
        raise ValueError(
            f"{what} would need about {nbytes / 2**30:.3g} GiB of working memory ({formula} "
            f"bytes), more than the {available / 2**30:.3g} GiB available on "
            f"{module_name(xp)}: {hint}"
        )


def finite_flag(xp, scores):
    """A device flag: True if ``scores`` hold no NaN or inf (two reductions, no copy).

    None for an empty array (nothing can have overflowed).
    """
    if scores.size == 0:
        return None
    return xp.isfinite(scores.max()) & xp.isfinite(scores.min())


_LOGIT_OVERFLOW = (
    "a logit {logit} overflows {dtype} ({large} too large for it); "
    "rescale q or k, lower scale, or compute in float64"
)
_OUTPUT_OVERFLOW = "the weighted sum of v overflows {dtype}; rescale v or compute in float64"


def check_finite_result(
    name: str,
    xp,
    flags,
    out,
    dtype,
    *,
    logit: str = "scale·q·k",
    large: str = "|q|, |k|",
    output: str = _OUTPUT_OVERFLOW,
) -> None:
    """Raise ``FloatingPointError`` if a logit or the output overflowed; one host sync.

    ``flags`` are the :func:`finite_flag` of each block of logits (None ones
    skipped).  The message names ``name``, and the reason: the logit ``logit``
    overflowed (``large`` being too large for ``dtype``), or else the output
    did, as the template ``output`` (formatted with ``dtype``) says.
    """
    flags = [f for f in flags if f is not None]
    logits_ok = flags[0] if flags else xp.asarray(True)
    for flag in flags[1:]:
        logits_ok = logits_ok & flag
    if bool(logits_ok & xp.isfinite(out).all()):
        return
    if not bool(logits_ok):
        reason = _LOGIT_OVERFLOW.format(logit=logit, dtype=dtype, large=large)
    else:
        reason = output.format(dtype=dtype)
    raise FloatingPointError(f"{name} produced NaN or inf from finite input: {reason}")


def quiet(xp):
    """A context in which backend ``xp`` does not warn of overflow (NumPy's ``errstate``).

    For code whose results are checked afterwards, raising with the reason: the
    warnings would only repeat it.  CuPy does not warn: a null context there.
    """
    errstate = getattr(xp, "errstate", None)
    return (
        contextlib.nullcontext() if errstate is None else errstate(over="ignore", invalid="ignore")
    )


def quiet_overflow(function):
    """Run ``function`` with NumPy's overflow warnings off: it checks its results itself."""

    @functools.wraps(function)
    def checked(*args, **kwargs):
        with module_for("numpy").errstate(over="ignore", invalid="ignore"):
            return function(*args, **kwargs)

    return checked
