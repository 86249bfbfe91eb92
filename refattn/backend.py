"""The one place in refattn that tells NumPy from CuPy.

Every mechanism receives arrays and asks ``xp = get_array_module(q, k, v)``;
it then calls ``xp.exp``, ``xp.matmul`` and so on, and so runs unchanged on the
CPU (NumPy) and on an NVIDIA GPU (CuPy).  This module is the only one that
imports numpy or cupy for computation (``tests/test_backend.py`` scans the
package to keep it that way).  It also owns

* the default backend, read from the environment variable
  ``REFATTN_BACKEND=numpy|cupy`` (``numpy`` when unset);
* moving arrays between backends: :func:`asarray` and :func:`to_numpy`;
* random generators, SPEC 7 style: :func:`rng` takes ``None``, an ``int`` seed
  or an existing ``Generator``;
* device synchronisation for timing (:func:`synchronize`) and the measurement
  of peak memory (:func:`peak_memory`).

CuPy is imported lazily, only when asked for, so a CPU-only install never pays
for it.  Mixing a NumPy and a CuPy array in one call is a ``TypeError``: a
silent host/device copy would hide exactly the cost a reader wants to see.
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import sys
import tracemalloc
import types
from collections.abc import Callable
from typing import Any

import numpy

__all__ = [
    "BACKENDS",
    "asarray",
    "available_backends",
    "default_backend",
    "erf",
    "get_array_module",
    "gpu_name",
    "indicator",
    "module_for",
    "module_name",
    "pad_axis",
    "peak_memory",
    "rng",
    "synchronize",
    "to_numpy",
    "window_view",
]

#: The names accepted by ``REFATTN_BACKEND`` and by ``backend=`` arguments.
BACKENDS = ("numpy", "cupy")

_GPU_INSTALL_HINT = 'pip install "refattn[gpu]"'


def did_you_mean(value: str, choices) -> str:
    """``" (did you mean 'x'?)"`` for the choice closest to a misspelt ``value``, else ``""``."""
    close = difflib.get_close_matches(value, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _cupy_if_imported():
    """Return the cupy module if something already imported it, else None.

    No cupy array can exist unless cupy was imported, so looking in
    ``sys.modules`` is enough to classify arrays, at no import cost.
    """
    return sys.modules.get("cupy")


def _cupy_or_raise():
    """Import cupy and check that a GPU is visible; raise a helpful error if not."""
    try:
        import cupy
    except ImportError as exc:
        raise RuntimeError(
            f"the cupy backend needs CuPy, which is not installed; install it with "
            f"{_GPU_INSTALL_HINT} (or the cupy wheel matching your CUDA version)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDARuntimeError when no driver is present
        raise RuntimeError(
            f"the cupy backend needs an NVIDIA GPU, but CUDA reports none ({exc}); "
            f"on a GPU machine install CuPy with {_GPU_INSTALL_HINT}"
        ) from exc
    if count < 1:
        raise RuntimeError(
            f"the cupy backend needs an NVIDIA GPU, but CUDA reports 0 devices; "
            f"on a GPU machine install CuPy with {_GPU_INSTALL_HINT}"
        )
    return cupy


def _backend_of(x) -> str | None:
    """'numpy', 'cupy', or None for things that are not arrays (scalars, None)."""
    if isinstance(x, (numpy.ndarray, numpy.generic)):
        return "numpy"
    cupy = _cupy_if_imported()
    if cupy is not None and isinstance(x, cupy.ndarray):
        return "cupy"
    return None


def _named_array_module(named: dict[str, Any]):
    """Array module of several named arguments; TypeError naming the culprits if mixed."""
    seen: dict[str, str] = {}
    for name, x in named.items():
        kind = _backend_of(x)
        if kind is not None:
            seen.setdefault(kind, name)
    if len(seen) > 1:
        raise TypeError(
            f"{seen['numpy']} is a numpy array but {seen['cupy']} is a cupy array; "
            f"all arrays in one call must be on the same backend "
            f"(move one with refattn.backend.asarray(x, backend=...))"
        )
    if "cupy" in seen:
        return _cupy_if_imported()
    return numpy


def get_array_module(*arrays):
    """Return ``numpy`` or ``cupy``, whichever the given arrays belong to.

    Follows CuPy's ``cupy.get_array_module``: arguments that are not arrays
    (Python scalars, ``None``) are ignored, and numpy is returned when no
    argument is a cupy array.  Unlike CuPy's helper, a mix of numpy and cupy
    arrays is an error rather than a silent choice.

    Raises
    ------
    TypeError
        If both numpy and cupy arrays are given.

    Examples
    --------
    >>> import numpy as np
    >>> get_array_module(np.zeros(3), None, 2.0).__name__
    'numpy'
    """
    named = {f"argument {i}": a for i, a in enumerate(arrays)}
    for name, a in named.items():
        if a is None or _backend_of(a) is not None or isinstance(a, numbers.Number):
            continue
        hint = (
            "; pass the arrays as separate arguments, get_array_module(*arrays)"
            if isinstance(a, (list, tuple))
            else ""
        )
        raise TypeError(
            f"{name} must be a numpy or cupy array, a number or None, "
            f"got {type(a).__name__} {_describe(a)}{hint}"
        )
    return _named_array_module(named)


def module_name(xp) -> str:
    """``'numpy'`` or ``'cupy'`` for an array module."""
    return _module_name("xp", xp)


def _module_name(arg: str, xp) -> str:
    """``module_name`` with the argument's own name in the message."""
    if not isinstance(xp, types.ModuleType):
        raise TypeError(
            f"{arg} must be the numpy or cupy module, got {type(xp).__name__} {_describe(xp)}"
        )
    name = getattr(xp, "__name__", None)
    if name not in BACKENDS:
        raise ValueError(f"{arg} must be the numpy or cupy module, got {xp!r}")
    return name


def _describe(value) -> str:
    """A short repr for messages (arrays as shape and dtype)."""
    if _backend_of(value) is not None and getattr(value, "ndim", 0):
        return f"an array of shape {value.shape} and dtype {value.dtype}"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _validation():
    """The shared checks; imported late, since ``_validation`` itself imports this module."""
    from . import _validation

    return _validation


def module_for(backend) -> Any:
    """The array module for ``None`` (the default) | ``'numpy'`` | ``'cupy'`` | a module."""
    if backend is None:
        return default_backend()
    if isinstance(backend, str):
        if backend == "numpy":
            return numpy
        if backend == "cupy":
            return _cupy_or_raise()
        hint = did_you_mean(backend, BACKENDS)
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}{hint}")
    if not isinstance(backend, types.ModuleType):
        raise TypeError(
            f"backend must be one of {BACKENDS}, None or the numpy/cupy module, "
            f"got {type(backend).__name__} {_describe(backend)}"
        )
    return numpy if _module_name("backend", backend) == "numpy" else backend


def default_backend():
    """The array module named by ``REFATTN_BACKEND`` (``numpy`` when unset or empty).

    Raises
    ------
    ValueError
        If the variable holds anything but ``numpy`` or ``cupy``.
    RuntimeError
        If it says ``cupy`` but CuPy or a GPU is missing.
    """
    name = os.environ.get("REFATTN_BACKEND", "").strip().lower() or "numpy"
    if name not in BACKENDS:
        raise ValueError(
            f"REFATTN_BACKEND must be one of {', '.join(BACKENDS)}, "
            f"got {os.environ['REFATTN_BACKEND']!r}{did_you_mean(name, BACKENDS)}"
        )
    return module_for(name)


def available_backends() -> dict[str, str]:
    """Each backend name mapped to ``'available'`` or the reason it is not."""
    status = {"numpy": "available"}
    try:
        _cupy_or_raise()
        status["cupy"] = "available"
    except RuntimeError as exc:
        status["cupy"] = str(exc)
    return status


def gpu_name() -> str | None:
    """The name of the current CUDA device, or None without cupy/GPU."""
    try:
        cupy = _cupy_or_raise()
    except RuntimeError:
        return None
    props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
    name = props["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def asarray(x, backend=None, dtype=None):
    """Return ``x`` as an array of ``backend`` (default: :func:`default_backend`).

    ``backend`` is ``'numpy'``, ``'cupy'``, an array module, or None.  A cupy
    array asked for on numpy is copied to the host, and a numpy array asked for
    on cupy is copied to the device; an array already on the right backend (and
    of the right dtype) is returned as is, without a copy.
    """
    xp = module_for(backend)
    dtype = _check_numeric_dtype("dtype", dtype)
    if _backend_of(x) is None:
        x = _host_numbers("x", x)  # a list, tuple or number: numbers only, never object arrays
    elif x.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(f"x must hold numbers (bool, int, float or complex), got dtype {x.dtype}")
    if xp is numpy and _backend_of(x) == "cupy":
        x = x.get()
    return xp.asarray(x, dtype=dtype)


#: dtype kinds that asarray and to_numpy accept: bool, integers, floats, complex
_NUMERIC_KINDS = "biufc"


def _check_numeric_dtype(name: str, dtype):
    """None, or a dtype given as a name, a NumPy type or a dtype object, of numeric kind."""
    if dtype is None:
        return None
    if not isinstance(dtype, (str, type, numpy.dtype)):
        raise TypeError(
            f"{name} must be None or a numeric dtype (a name such as 'float32', a NumPy type "
            f"such as numpy.float32, or a dtype), got {type(dtype).__name__} {_describe(dtype)}"
        )
    try:
        parsed = numpy.dtype(dtype)
    except TypeError:
        parsed = None
    if parsed is None or parsed.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name} must be None or a numeric dtype (bool, int, float or complex), "
            f"got {_describe(dtype)}"
        )
    return parsed


def _host_numbers(name: str, x):
    """``x`` (a number or a nested list/tuple of numbers) as a numpy array of numbers."""
    if x is None or isinstance(x, (str, bytes)):
        raise TypeError(
            f"{name} must be an array, a number or a nested list of numbers, "
            f"got {type(x).__name__} {_describe(x)}"
        )
    try:
        host = numpy.asarray(x)
    except ValueError as exc:  # ragged nesting
        raise ValueError(
            f"{name} must be an array, a number or a nested list of numbers of a regular "
            f"(rectangular) shape, got {_describe(x)}"
        ) from exc
    if host.dtype.kind not in _NUMERIC_KINDS:
        raise TypeError(
            f"{name} must be an array, a number or a nested list of numbers "
            f"(bool, int, float or complex), got {_describe(x)} (dtype {host.dtype})"
        )
    return host


def to_numpy(x):
    """Return ``x`` as a numpy array on the host (a no-op for numpy arrays).

    Plotting, file output and :mod:`refattn.testing` call this at their
    boundary, so they accept arrays of either backend.
    """
    kind = _backend_of(x)
    if kind == "cupy":
        return x.get()
    if kind == "numpy":
        return numpy.asarray(x)
    return _host_numbers("x", x)


def rng(seed=None, xp=None):
    """A random Generator of backend ``xp``, following SPEC 7.

    Parameters
    ----------
    seed : None, int, SeedSequence, BitGenerator or Generator
        ``None`` gives fresh OS entropy; a non-negative ``int`` a reproducible
        stream; a ``Generator`` of the same backend is returned unchanged, so
        that callers can thread one generator through several draws.  A
        ``numpy.random.SeedSequence`` or ``BitGenerator`` (e.g.
        ``numpy.random.PCG64(0)``) gives ``numpy.random.default_rng(seed)``
        on numpy (a BitGenerator is wrapped, so its state advances); on cupy a
        SeedSequence seeds the generator with one integer it draws
        (``seed.generate_state(1)[0]``) and a NumPy BitGenerator raises
        ``TypeError``.
    xp : module, str or None
        The backend (default: :func:`default_backend`).

    Notes
    -----
    NumPy and CuPy generators are different algorithms: the same seed gives
    different numbers on the two backends.  Tests therefore compare a backend's
    result with an oracle run on the *same* random draws, never with numbers
    recorded on the other backend.

    Examples
    --------
    >>> g = rng(0, xp="numpy")
    >>> rng(g) is g
    True
    """
    if _is_generator(seed):
        kind = "cupy" if _is_cupy_generator(seed) else "numpy"
        if xp is not None and module_name(module_for(xp)) != kind:
            raise TypeError(
                f"seed is a {kind} Generator but xp is {module_name(module_for(xp))}; "
                f"pass an int seed or a Generator of the same backend"
            )
        return seed
    module = module_for(xp)
    if isinstance(seed, (numpy.random.SeedSequence, numpy.random.BitGenerator)):
        if module_name(module) == "numpy":
            return numpy.random.default_rng(seed)  # a BitGenerator is wrapped, not copied
        if isinstance(seed, numpy.random.BitGenerator):
            raise TypeError(
                f"seed is a NumPy BitGenerator ({type(seed).__name__}) but xp is cupy, whose "
                f"generators cannot use it; pass an int seed, a numpy.random.SeedSequence or "
                f"a cupy Generator"
            )
        # a SeedSequence seeds a cupy Generator through one integer drawn from it
        return module.random.default_rng(int(seed.generate_state(1)[0]))
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)):
            raise TypeError(
                f"seed must be None, a non-negative int or a Generator, got {seed!r} (a "
                f"numpy.random.SeedSequence, or a NumPy BitGenerator on numpy, is also accepted)"
            )
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
    return module.random.default_rng(None if seed is None else int(seed))


def _is_cupy_generator(g) -> bool:
    cupy = _cupy_if_imported()
    return cupy is not None and isinstance(g, cupy.random.Generator)


def _is_generator(g) -> bool:
    return isinstance(g, numpy.random.Generator) or _is_cupy_generator(g)


def erf(x):
    """The error function, elementwise, on the backend of ``x``.

    NumPy has no ``erf``; SciPy's (``scipy.special.erf``) serves NumPy arrays
    and CuPy's (``cupyx.scipy.special.erf``) CuPy arrays.  BERT's exact GELU
    needs it.

    >>> import numpy as np
    >>> float(erf(np.array(0.5)))
    0.5204998778130465
    """
    v = _validation()
    xp = v.check_array("x", x, dtype="float", finite=False)
    if bool(xp.isnan(x).any()):
        raise ValueError("x must not contain NaN (erf(±inf) = ±1 is allowed)")
    if module_name(xp) == "cupy":
        from cupyx.scipy.special import erf as device_erf

        return device_erf(x)
    from scipy.special import erf as host_erf

    return host_erf(x)


def pad_axis(x, axis: int, before: int, after: int, *, value=0):
    """``x`` with ``before`` and ``after`` entries of ``value`` added along ``axis``.

    Returns ``x`` itself (not a copy) when there is nothing to add, so callers
    must treat the result as read-only.  The mechanisms pad their sequences to
    whole blocks, windows or chunks with it.  ``value`` must be finite and
    exactly representable in ``x``'s dtype; a result larger than the memory
    available is refused (``ValueError``) before anything is allocated.

    >>> import numpy as np
    >>> pad_axis(np.ones((2, 2)), -2, 1, 0)
    array([[0., 0.],
           [1., 1.],
           [1., 1.]])
    """
    v = _validation()
    xp = v.check_array("x", x, min_ndim=1, dtype=None, finite=False)
    axis = v.check_int("axis", axis, minimum=-x.ndim, maximum=x.ndim - 1)
    before = v.check_int("before", before, minimum=0)
    after = v.check_int("after", after, minimum=0)
    _check_pad_value(value, x.dtype)
    if before == 0 and after == 0:
        return x
    shape = list(x.shape)
    shape[axis] += before + after
    _refuse_allocation(
        math.prod(shape) * x.dtype.itemsize,
        xp,
        f"padding x of shape {x.shape} by before = {before} and after = {after} rows",
        error=ValueError,
    )
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return xp.pad(x, widths, constant_values=value)


def _check_pad_value(value, dtype) -> None:
    """The fill of :func:`pad_axis`: a finite number that ``dtype`` holds exactly."""
    plain = _validation()._scalar(value)  # a NumPy scalar or a 0-d array as a Python one
    is_bool = isinstance(plain, bool)
    if not isinstance(plain, numbers.Real):
        raise TypeError(f"value must be a finite real number or a bool, got {_describe(value)}")
    if not is_bool and not numpy.isfinite(float(plain)):
        raise ValueError(f"value must be a finite real number or a bool, got {_describe(value)}")
    kind = dtype.kind
    if (kind == "b" and plain not in (0, 1)) or (kind in "iu" and plain != int(plain)):
        raise ValueError(
            f"value must be representable in x's dtype {dtype}, got {_describe(value)}"
        )


def _available_bytes(xp) -> int:
    """Memory a new allocation may take: free device memory (cupy), else available host RAM."""
    if module_name(xp) == "cupy":
        free, _ = xp.cuda.runtime.memGetInfo()
        return int(free) + int(xp.get_default_memory_pool().free_bytes())
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 2**63  # unknown: do not refuse


#: allocations below this size are not checked against the free memory (no system call)
_ALWAYS_AFFORDABLE = 2**26


def _refuse_allocation(nbytes: int, xp, what: str, *, hint: str = "", error=MemoryError):
    """Raise ``error`` before allocating ``nbytes`` if they exceed the memory available."""
    if nbytes < _ALWAYS_AFFORDABLE:
        return
    available = _available_bytes(xp)
    if nbytes > available:
        where = "GPU" if module_name(xp) == "cupy" else "host"
        raise error(
            f"{what} needs {nbytes / 2**30:.3g} GiB, more than the {available / 2**30:.3g} GiB "
            f"of {where} memory available{hint}"
        )


def indicator(n: int, positions, xp):
    """A boolean ``(n,)`` array on backend ``xp``, True at ``positions``."""
    v = _validation()
    n = v.check_int("n", n, minimum=1)
    xp = module_for(xp) if isinstance(xp, str) else xp
    _module_name("xp", xp)
    if _backend_of(positions) is not None:
        # an integer array: one reduction for the range, no per-element Python work
        if positions.ndim != 1 or positions.dtype.kind not in "iu":
            raise TypeError(
                f"positions must be a 1-D integer array or a sequence of integers in "
                f"[0, {n}), got {_describe(positions)}"
            )
        index = xp.asarray(positions)
        if index.size:
            lo, hi = xp.stack([index.min(), index.max()]).tolist()
            if lo < 0 or hi >= n:
                raise ValueError(
                    f"positions must be integers in [0, n) = [0, {n}), got values in [{lo}, {hi}]"
                )
    elif isinstance(positions, (tuple, list)):
        index = [
            v.check_int(f"positions[{i}]", p, minimum=0, maximum=n - 1)
            for i, p in enumerate(positions)
        ]
    else:
        raise TypeError(
            f"positions must be a sequence of integers in [0, {n}), got "
            f"{type(positions).__name__} {_describe(positions)}"
        )
    _refuse_allocation(n, xp, f"an indicator of n = {n} flags", error=ValueError)
    flags = xp.zeros(n, dtype=bool)
    if len(index):
        flags[xp.asarray(index)] = True
    return flags


def window_view(x, *, size: int, step: int, count: int):
    """Overlapping windows along axis −2 as a view, without copying: ``(..., count, size, f)``.

    Window ``b`` holds rows ``b·step … b·step + size − 1`` of ``x (..., L, f)``.
    The view is read-only by contract: its windows overlap and share memory
    with ``x``, so a write through one window would change its neighbours and
    ``x`` itself.  On numpy it is marked read-only (a write raises
    ``ValueError``); CuPy arrays have no read-only flag, so nothing stops a
    write there, and refattn never writes to it (its NumPy tests, where such
    a write would raise, run every mechanism that uses it).  ``x`` itself may
    be read-only.
    ``size``, ``step`` and ``count`` are integers >= 1 (a step of 0 would
    repeat one window, a negative one would read before ``x``), and the
    windows must fit: ``(count − 1)·step + size <= L``.
    """
    v = _validation()
    xp = v.check_array("x", x, min_ndim=2, axes="..., L, f", dtype=None, finite=False)
    size = v.check_int("size", size, minimum=1)
    step = v.check_int("step", step, minimum=1)
    count = v.check_int("count", count, minimum=1)
    *lead, length, f = x.shape
    if (count - 1) * step + size > length:
        raise ValueError(
            f"count = {count} windows of size = {size} rows every step = {step} rows do not "
            f"fit in the {length} rows of x: (count − 1)·step + size = "
            f"{(count - 1) * step + size} > {length}"
        )
    shape = (*lead, count, size, f)
    strides = (*x.strides[:-2], step * x.strides[-2], x.strides[-2], x.strides[-1])
    if xp is numpy:
        return numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return xp.lib.stride_tricks.as_strided(x, shape, strides)


def synchronize(xp) -> None:
    """Wait for queued device work to finish (no-op on numpy); call before reading a clock."""
    if module_name(xp) == "cupy":
        xp.cuda.get_current_stream().synchronize()


def peak_memory(fn: Callable[[], Any], xp) -> tuple[Any, int]:
    """Run ``fn()`` and return ``(result, peak_bytes)``: the most array memory it held at once.

    Both backends count the bytes of the arrays ``fn`` allocates and that are
    alive at the same time, at the worst moment of the call; arrays that
    existed before the call are not counted (even if the call frees them),
    and the result, if still alive at the end, is.

    * numpy: the peak of :mod:`tracemalloc`, which NumPy informs of every data
      buffer it allocates (and of other Python allocations, which are small).
    * cupy: the peak of the live bytes that CuPy's default memory pool hands
      out during the call, followed by a memory hook (``cupy.cuda.MemoryHook``):
      each allocation adds its size, each release subtracts it.  Sizes are the
      pool's blocks, a multiple of 512 bytes.  Blocks the pool keeps cached
      for reuse do not count, so unlike the growth of the pool's total size
      this is not inflated by fragmentation.  Memory that CUDA libraries
      allocate outside the pool is not seen.  CuPy calls memory hooks on the
      thread that installed them only: what other threads allocate is not
      seen, and a block allocated during the call but released by another
      thread stays counted as live.

    Raises
    ------
    RuntimeError
        For a measurement inside another one (on numpy, whenever
        :mod:`tracemalloc` is already tracing); on cupy also when CuPy's
        current allocator (``cupy.cuda.get_allocator()``) is not the default
        memory pool's ``malloc``: the raw allocator of ``set_allocator(None)``
        and ``cupy.cuda.MemoryAsyncPool`` call no memory hooks, so the
        measurement would read 0.  Another ``cupy.cuda.MemoryPool`` is refused
        too; measure with the default pool.
    """
    if not callable(fn):
        raise TypeError(
            f"fn must be a callable taking no arguments, got {type(fn).__name__} {_describe(fn)}"
        )
    if module_name(xp) == "numpy":
        if tracemalloc.is_tracing():
            raise RuntimeError("peak_memory needs tracemalloc to be stopped before it is called")
        tracemalloc.start()
        try:
            result = fn()
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        return result, peak
    _refuse_an_allocator_without_hooks(xp)
    counter = _live_bytes_hook(xp)
    synchronize(xp)  # work queued before the call is finished before it starts
    xp.get_default_memory_pool().free_all_blocks()  # as before the first call of a program
    try:
        counter.__enter__()  # installs the hook on this thread; CuPy allows one of a name
    except KeyError:
        raise RuntimeError(
            f"peak_memory cannot measure inside another measurement: its memory hook "
            f"{counter.name!r} is already installed on this thread"
        ) from None
    try:
        result = fn()
        synchronize(xp)
    finally:
        counter.__exit__(None, None, None)
    return result, counter.peak


def _refuse_an_allocator_without_hooks(xp) -> None:
    """``RuntimeError`` unless CuPy allocates through its default pool, which calls memory hooks.

    ``cupy.cuda.get_allocator()`` is the allocator of this thread (that of
    ``cupy.cuda.using_allocator`` inside one); the pool's ``malloc`` is a bound
    method, equal to another one of the same pool.
    """
    allocator = xp.cuda.get_allocator()
    if allocator == xp.get_default_memory_pool().malloc:
        return
    name = getattr(allocator, "__qualname__", None) or type(allocator).__name__
    module = getattr(allocator, "__module__", None)
    name = f"{module}.{name}" if isinstance(module, str) else name
    raise RuntimeError(
        f"peak_memory on cupy counts the blocks that CuPy's memory pool reports to a memory "
        f"hook and needs the default pool's malloc as the allocator, got {name} (the raw "
        f"allocator of cupy.cuda.set_allocator(None) and cupy.cuda.MemoryAsyncPool call no "
        f"memory hooks: the peak would read 0); measure under "
        f"cupy.cuda.set_allocator(cupy.get_default_memory_pool().malloc)"
    )


def _live_bytes_hook(xp):
    """A CuPy memory hook that follows the live bytes of the pool's allocations and their peak.

    The class is defined when a measurement runs on cupy, because
    ``xp.cuda.MemoryHook`` exists only there.  The pool calls
    ``malloc_postprocess`` after handing out a block (``mem_ptr`` 0 if that
    failed) and ``free_postprocess`` after taking one back, with the block's
    size as ``mem_size``; a block is known by its address ``mem_ptr``, so the
    release of a block allocated before the hook was installed changes nothing.
    """

    class LiveBytes(xp.cuda.MemoryHook):
        name = "refattn.peak_memory"

        def __init__(self):
            self.blocks: dict[int, int] = {}  # mem_ptr → mem_size of each live block
            self.live = 0
            self.peak = 0

        def malloc_postprocess(self, *, mem_size, mem_ptr, **_):
            if mem_ptr and mem_ptr not in self.blocks:
                self.blocks[mem_ptr] = mem_size
                self.live += mem_size
                self.peak = max(self.peak, self.live)

        def free_postprocess(self, *, mem_ptr, **_):
            self.live -= self.blocks.pop(mem_ptr, 0)

    return LiveBytes()
