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

import os
import sys
import tracemalloc
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
    return _named_array_module({f"argument {i}": a for i, a in enumerate(arrays)})


def module_name(xp) -> str:
    """``'numpy'`` or ``'cupy'`` for an array module."""
    name = getattr(xp, "__name__", None)
    if name not in BACKENDS:
        raise ValueError(f"xp must be the numpy or cupy module, got {xp!r}")
    return name


def module_for(backend) -> Any:
    """The array module for ``None`` (the default) | ``'numpy'`` | ``'cupy'`` | a module."""
    if backend is None:
        return default_backend()
    if isinstance(backend, str):
        if backend == "numpy":
            return numpy
        if backend == "cupy":
            return _cupy_or_raise()
        raise ValueError(f"backend must be one of {BACKENDS} or None, got {backend!r}")
    return numpy if module_name(backend) == "numpy" else backend


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
            f"got {os.environ['REFATTN_BACKEND']!r}"
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
    if xp is numpy and _backend_of(x) == "cupy":
        x = x.get()
    return xp.asarray(x, dtype=dtype)


def to_numpy(x):
    """Return ``x`` as a numpy array on the host (a no-op for numpy arrays).

    Plotting, file output and :mod:`refattn.testing` call this at their
    boundary, so they accept arrays of either backend.
    """
    if _backend_of(x) == "cupy":
        return x.get()
    return numpy.asarray(x)


def rng(seed=None, xp=None):
    """A random Generator of backend ``xp``, following SPEC 7.

    Parameters
    ----------
    seed : None, int or Generator
        ``None`` gives fresh OS entropy; a non-negative ``int`` a reproducible
        stream; a ``Generator`` of the same backend is returned unchanged, so
        that callers can thread one generator through several draws.
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
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, (int, numpy.integer)):
            raise TypeError(f"seed must be None, a non-negative int or a Generator, got {seed!r}")
        if seed < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}")
    return module_for(xp).random.default_rng(None if seed is None else int(seed))


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
    if module_name(get_array_module(x)) == "cupy":
        from cupyx.scipy.special import erf as device_erf

        return device_erf(x)
    from scipy.special import erf as host_erf

    return host_erf(x)


def pad_axis(x, axis: int, before: int, after: int, *, value=0):
    """``x`` with ``before`` and ``after`` entries of ``value`` added along ``axis``.

    Returns ``x`` itself (not a copy) when there is nothing to add, so callers
    must treat the result as read-only.  The mechanisms pad their sequences to
    whole blocks, windows or chunks with it.

    >>> import numpy as np
    >>> pad_axis(np.ones((2, 2)), -2, 1, 0)
    array([[0., 0.],
           [1., 1.],
           [1., 1.]])
    """
    if before == 0 and after == 0:
        return x
    widths = [(0, 0)] * x.ndim
    widths[axis] = (before, after)
    return get_array_module(x).pad(x, widths, constant_values=value)


def indicator(n: int, positions, xp):
    """A boolean ``(n,)`` array on backend ``xp``, True at ``positions``."""
    flags = xp.zeros(n, dtype=bool)
    flags[xp.asarray(positions)] = True
    return flags


def window_view(x, *, size: int, step: int, count: int):
    """Overlapping windows along axis −2 as a view, without copying: ``(..., count, size, f)``.

    Window ``b`` holds rows ``b·step … b·step + size − 1`` of ``x (..., L, f)``.
    The windows share memory, so the view must only be read: on numpy it is
    marked read-only; CuPy has no such flag, and refattn never writes to it.
    """
    *lead, length, f = x.shape
    if count < 1 or (count - 1) * step + size > length:
        raise ValueError(
            f"{count} windows of {size} rows every {step} rows do not fit in {length} rows"
        )
    shape = (*lead, count, size, f)
    strides = (*x.strides[:-2], step * x.strides[-2], x.strides[-2], x.strides[-1])
    if module_name(get_array_module(x)) == "numpy":
        return numpy.lib.stride_tricks.as_strided(x, shape, strides, writeable=False)
    return get_array_module(x).lib.stride_tricks.as_strided(x, shape, strides)


def synchronize(xp) -> None:
    """Wait for queued device work to finish (no-op on numpy); call before reading a clock."""
    if module_name(xp) == "cupy":
        xp.cuda.get_current_stream().synchronize()


def peak_memory(fn: Callable[[], Any], xp) -> tuple[Any, int]:
    """Run ``fn()`` and return ``(result, peak_bytes)`` of array memory it allocated.

    On numpy the peak comes from :mod:`tracemalloc`, which NumPy informs of
    every data buffer it allocates; arrays that existed before the call are not
    counted, and the result, if still alive at the end, is.  On cupy it is the
    growth of the default memory pool's total size over the call, starting
    from an emptied pool: an upper bound on the peak, as the pool rounds each
    block up to 512 bytes and keeps freed blocks for reuse.
    """
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
    pool = xp.get_default_memory_pool()
    synchronize(xp)
    pool.free_all_blocks()
    before = pool.total_bytes()
    result = fn()
    synchronize(xp)
    return result, pool.total_bytes() - before
