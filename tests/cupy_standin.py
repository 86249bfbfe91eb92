"""A strict CuPy stand-in: NumPy underneath, CuPy's rules on top, for machines without a GPU.

The ``xp`` fixture runs every test that takes it on this module as a third
backend, ``cupy-standin``: while such a test runs, ``sys.modules["cupy"]``
(and ``cupyx.scipy.special``) are this stand-in, so refattn's backend takes
it for CuPy and runs its CuPy branches.  The arrays wrap NumPy arrays (a
wrapper, not an ``ndarray`` subclass: NumPy never calls ``__array__`` on a
subclass) and keep the rules of CuPy that NumPy does not:

* no implicit copy to the host: ``__array__`` raises ``TypeError``, so
  ``numpy.asarray`` and ``numpy.testing`` on a device array fail;
* no ``__index__``: a device array is not a Python integer;
* reductions return 0-d arrays, never NumPy scalars;
* only the names and keyword arguments that CuPy itself has, in both releases
  whose API is recorded in ``tests/data/cupy-api-<version>.json`` (generated
  from CuPy's source by ``tests/data/make_cupy_api.py``); ufuncs take only
  CuPy's ufunc keywords (``out``, ``dtype``, ``casting``);
* a NumPy array in an operation with device arrays is a ``TypeError``; only
  the creation functions (``array``, ``asarray``, ``asanyarray``) take host
  data, and copy it;
* every host synchronisation (``float``, ``int``, ``bool``, ``complex``,
  ``.item()``, ``.get()``, ``.tolist()``, and the operations whose output
  size depends on the data: boolean-mask indexing, ``nonzero``) is counted
  by the line of code outside this module that caused it (:func:`counting_syncs`);
* allocations are reported to ``cuda.MemoryHook`` objects as CuPy's memory
  pool reports them (sizes rounded up to 512 bytes), so a peak-memory
  measurement written for CuPy can run here.

What it cannot emulate: the values of CuPy's random generators (it draws with
NumPy's), asynchronous execution, device memory limits, and CuPy's own
numerical differences.  It never replaces a run on a GPU.
"""

from __future__ import annotations

import collections
import contextlib
import json
import operator
import pathlib
import sys
import types
import weakref

import numpy

#: the CuPy releases whose API the stand-in allows: a name must be in both
VERSIONS = ("13.6.0", "14.2.0")
_DATA = pathlib.Path(__file__).parent / "data"
_HERE = __file__

# ---------------------------------------------------------------------------
# the allowlist: CuPy's own API, intersected over VERSIONS


def _merge(entries):
    """One entry allowed by every version: the keyword parameters all of them take."""
    first = dict(entries[0])
    if "params" in first:
        params = set(first["params"])
        for entry in entries[1:]:
            params &= set(entry.get("params", ()))
        first["params"] = sorted(params)
        first["var_kwargs"] = all(entry.get("var_kwargs", False) for entry in entries)
    return first


def load_api(versions=VERSIONS) -> dict:
    """The allowlist of ``versions``: each module's names, ndarray, ufunc and Generator."""
    apis = [json.loads((_DATA / f"cupy-api-{v}.json").read_text()) for v in versions]
    merged = {"versions": list(versions), "modules": {}}
    for module in apis[0]["modules"]:
        names = {}
        for name, entry in apis[0]["modules"][module].items():
            others = [api["modules"].get(module, {}).get(name) for api in apis[1:]]
            if all(other is not None and other["kind"] == entry["kind"] for other in others):
                names[name] = _merge([entry, *others])
        merged["modules"][module] = names
    for section in ("ndarray", "Generator", "ufunc"):
        methods = {}
        for name, entry in apis[0][section]["methods"].items():
            others = [api[section]["methods"].get(name) for api in apis[1:]]
            if all(other is not None for other in others):
                methods[name] = _merge([entry, *others])
        merged[section] = {"methods": methods}
    merged["ndarray"]["attributes"] = sorted(
        set.intersection(*(set(api["ndarray"]["attributes"]) for api in apis))
    )
    merged["ndarray"]["dunders"] = sorted(
        set.intersection(*(set(api["ndarray"].get("dunders", ())) for api in apis))
    )
    merged["ufunc"]["call_params"] = sorted(
        set.intersection(*(set(api["ufunc"]["call_params"]) for api in apis))
    )
    return merged


API = load_api()
_RELEASES = " and ".join(VERSIONS)


def _check_keywords(where: str, entry: dict, kwargs: dict) -> None:
    if entry.get("var_kwargs"):
        return
    allowed = entry.get("params", ())
    for key in kwargs:
        if key not in allowed:
            raise TypeError(
                f"{where}() got an unexpected keyword argument {key!r}: CuPy {_RELEASES} "
                f"accept {sorted(allowed)} (CuPy stand-in)"
            )


# ---------------------------------------------------------------------------
# host synchronisations, counted by the line that caused them

_counters: list[collections.Counter] = []


def _caller() -> tuple[str, int, str]:
    frame = sys._getframe(2)
    while frame is not None and frame.f_code.co_filename == _HERE:
        frame = frame.f_back
    if frame is None:  # pragma: no cover - the stand-in is always called from somewhere
        return ("?", 0, "?")
    path = pathlib.Path(frame.f_code.co_filename)
    parts = path.parts
    for top in ("refattn", "tests"):
        if top in parts:
            path = pathlib.Path(*parts[len(parts) - 1 - parts[::-1].index(top) :])
            break
    return (path.as_posix(), frame.f_lineno, frame.f_code.co_name)


def _sync(kind: str) -> None:
    if _counters:
        where = _caller()
        for counter in _counters:
            counter[(*where, kind)] += 1


@contextlib.contextmanager
def counting_syncs():
    """Count the host syncs inside the block: a Counter of ``(file, line, function, kind)``."""
    counter: collections.Counter = collections.Counter()
    _counters.append(counter)
    try:
        yield counter
    finally:
        _counters.remove(counter)


# ---------------------------------------------------------------------------
# allocations, reported to memory hooks as CuPy's pool reports them

_hooks: list = []
_live: dict[int, int] = {}  # mem_ptr -> mem_size of the arrays alive now
_tracked: dict[int, weakref.finalize] = {}


def _rounded(nbytes: int) -> int:
    return max(512, -(-nbytes // 512) * 512)


def _freed(ptr: int, mem_size: int) -> None:
    _live.pop(ptr, None)
    _tracked.pop(ptr, None)
    for hook in list(_hooks):
        hook.free_postprocess(device_id=0, mem_size=mem_size, mem_ptr=ptr, pmem_id=0)


def _owner(a):
    """The array that owns ``a``'s buffer (NumPy may return a view of a fresh copy)."""
    while isinstance(a.base, numpy.ndarray):
        a = a.base
    return a


def _track(a) -> None:
    """Report a fresh buffer once (through the array that owns it), and its release."""
    a = _owner(a)
    if a.base is not None or not a.flags.owndata or a.nbytes == 0:
        return
    ptr = a.ctypes.data
    if ptr in _tracked and _tracked[ptr].alive:
        return
    mem_size = _rounded(a.nbytes)
    _live[ptr] = mem_size
    _tracked[ptr] = weakref.finalize(a, _freed, ptr, mem_size)
    for hook in list(_hooks):
        hook.malloc_postprocess(device_id=0, size=a.nbytes, mem_size=mem_size, mem_ptr=ptr,
                                pmem_id=0)  # fmt: skip


# ---------------------------------------------------------------------------
# the array


def _silent():
    """CuPy never warns of overflow, invalid values or division by zero: NumPy must not either."""
    return numpy.errstate(all="ignore")


def _numpy_in(where: str):
    return TypeError(
        f"{where}: a numpy.ndarray cannot mix with CuPy arrays (CuPy raises TypeError: "
        f"Unsupported type <class 'numpy.ndarray'>); move it with cupy.asarray first "
        f"(CuPy stand-in)"
    )


def _unwrap(x, where: str):
    """The NumPy array inside ``x``; NumPy arrays refused; sequences and scalars unwrapped."""
    if isinstance(x, ndarray):
        return x._a
    if isinstance(x, numpy.ndarray):
        raise _numpy_in(where)
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(item, where) for item in x)
    return x


#: keywords that CuPy reads as Python integers (or tuples of them): a device array has no
#: ``__index__``, so CuPy raises TypeError where NumPy would take a 0-d integer array
_INT_KEYWORDS = {"axis", "axes", "axis1", "axis2", "shape", "newshape", "size", "k", "n", "N",
                 "M", "num", "repeats", "kth", "decimals", "ndmin"}  # fmt: skip


def _no_device_integers(x, where: str):
    """Refuse a device array where CuPy reads Python integers (shapes, axes, sizes)."""
    if isinstance(x, ndarray) or (
        isinstance(x, (list, tuple)) and any(isinstance(item, ndarray) for item in x)
    ):
        raise TypeError(
            f"{where}: a cupy.ndarray where CuPy reads a Python integer or a sequence of them "
            f"(a shape, an axis, a size): it has no __index__; read it with int() first, a "
            f"host sync (CuPy stand-in)"
        )
    return x


def _no_device_integer_keywords(kwargs, where: str):
    for key, value in kwargs.items():
        if key in _INT_KEYWORDS:
            _no_device_integers(value, f"{where}({key}=...)")


def _no_nested_device_arrays(args, where: str):
    """Lists and tuples of arguments (shapes, axes, pad widths) hold no device arrays."""
    for x in args:
        if isinstance(x, (list, tuple)):
            _no_device_integers(x, where)


def _array_operand(x, where: str):
    """An operand that must be an array or a scalar: lists are not converted by CuPy."""
    if isinstance(x, (list, tuple)):
        raise TypeError(
            f"{where}: CuPy does not convert a {type(x).__name__} to an array here "
            f"(Unsupported type {type(x)}); use cupy.asarray (CuPy stand-in)"
        )
    return _unwrap(x, where)


def _wrap(r, inputs=()):
    """Device arrays for NumPy results; NumPy scalars become 0-d arrays, as CuPy gives."""
    if isinstance(r, numpy.ndarray):
        for x in inputs:
            if isinstance(x, ndarray) and x._a is r:
                return x
        _track(r)
        return ndarray(r)
    if isinstance(r, numpy.generic):
        a = numpy.asarray(r)
        _track(a)
        return ndarray(a)
    if isinstance(r, tuple):  # NumPy's named results (eigh, svd, qr) are plain tuples in CuPy
        return tuple(_wrap(item, inputs) for item in r)
    if isinstance(r, list):
        return [_wrap(item, inputs) for item in r]
    return r


class _Flags:
    """CuPy's flags: contiguity and ownership, and no ``writeable``."""

    def __init__(self, a):
        self.c_contiguous = bool(a.flags.c_contiguous)
        self.f_contiguous = bool(a.flags.f_contiguous)
        self.owndata = bool(a.flags.owndata)

    def __getitem__(self, key):
        names = {"C_CONTIGUOUS": "c_contiguous", "F_CONTIGUOUS": "f_contiguous",
                 "OWNDATA": "owndata"}  # fmt: skip
        return getattr(self, names[key])


class _Device:
    id = 0

    def __init__(self, device=0):
        self.id = int(device)

    def synchronize(self):
        _sync("synchronize")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


#: CuPy's ``flat`` (a device iterator), ``data`` (a device pointer) and ``cstruct`` have no
#: NumPy counterpart that keeps CuPy's rules: refused rather than faked
_ATTRIBUTES = set(API["ndarray"]["attributes"]) - {"flat", "data", "cstruct"}
_METHODS = API["ndarray"]["methods"]
#: attributes whose value is an array (wrapped); the others are plain values
_ARRAY_ATTRIBUTES = {"T", "mT", "real", "imag", "base"}


class ndarray:  # noqa: N801 - CuPy's name
    """A device array of the stand-in: a NumPy array inside, CuPy's rules outside."""

    __slots__ = ("_a", "__weakref__")
    __hash__ = None

    def __init__(self, a):
        if not isinstance(a, numpy.ndarray):
            raise TypeError(
                "cupy.ndarray(...) of the stand-in wraps arrays made by its functions; "
                "use cupy.asarray (CuPy stand-in)"
            )
        object.__setattr__(self, "_a", a)

    # -- what CuPy forbids -------------------------------------------------------------
    def __array__(self, *args, **kwargs):
        raise TypeError(
            "Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
            "construct a NumPy array explicitly. (CuPy stand-in)"
        )

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # CuPy runs a NumPy ufunc on its arrays with its own ufunc of the same name
        own = _MODULES["cupy"].__dict__.get(ufunc.__name__)
        if not isinstance(own, _Ufunc):
            return NotImplemented
        if "out" in kwargs:  # NumPy passes out as a tuple
            (kwargs["out"],) = kwargs["out"]
        return (own if method == "__call__" else getattr(own, method))(*inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        # CuPy runs a NumPy function on its arrays with its own function of the same name
        module = _MODULES.get(func.__module__.replace("numpy", "cupy", 1))
        own = None if module is None else module.__dict__.get(func.__name__)
        if own is None:
            return NotImplemented
        return own(*args, **kwargs)

    def __getattr__(self, name):
        if name in _METHODS:
            return _Method(self, name)
        if name in _ATTRIBUTES:
            if name == "flags":
                return _Flags(self._a)
            if name == "device":
                return _Device(0)
            value = getattr(self._a, name)
            return _wrap(value) if name in _ARRAY_ATTRIBUTES and value is not None else value
        if name in API["ndarray"]["attributes"]:
            raise AttributeError(f"cupy.ndarray.{name} is not emulated by the CuPy stand-in")
        raise AttributeError(
            f"'cupy.ndarray' object has no attribute {name!r} (not in CuPy {_RELEASES}; "
            f"CuPy stand-in)"
        )

    def __setattr__(self, name, value):
        if name == "shape":
            self._a.shape = value
            return
        raise AttributeError(f"cannot set attribute {name!r} of a cupy.ndarray (CuPy stand-in)")

    # -- host synchronisations ---------------------------------------------------------
    def _scalar(self, kind):
        if self._a.size != 1:
            raise (TypeError if kind != "bool" else ValueError)(
                f"only size-1 arrays can be converted to Python scalars, got shape "
                f"{self._a.shape} (CuPy stand-in)"
            )
        _sync(kind)
        return self._a.reshape(())[()]

    def __bool__(self):
        return bool(self._scalar("bool"))

    def __float__(self):
        return float(self._scalar("float"))

    def __int__(self):
        return int(self._scalar("int"))

    def __complex__(self):
        return complex(self._scalar("complex"))

    def item(self):
        _sync("item")
        return self._a.item()

    def tolist(self):
        _sync("tolist")
        return self._a.tolist()

    def get(self, stream=None, order="C", out=None, blocking=True):
        _sync("get")
        if out is not None:
            out[...] = self._a
            return out
        return numpy.array(self._a, order=order)

    def set(self, arr, stream=None):
        if not isinstance(arr, numpy.ndarray):
            raise TypeError(f"set() takes a numpy.ndarray, got {type(arr).__name__}")
        if arr.shape != self._a.shape or arr.dtype != self._a.dtype:
            raise ValueError("set(): shape and dtype must match (CuPy stand-in)")
        self._a[...] = arr

    # -- the array protocol as CuPy has it ---------------------------------------------
    def __len__(self):
        return len(self._a)

    def __iter__(self):
        if self._a.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self._a.shape[0]))

    def __repr__(self):
        _sync("repr")
        return repr(self._a)

    def __str__(self):
        _sync("str")
        return str(self._a)

    def __format__(self, spec):
        if self._a.ndim == 0:
            _sync("format")
            return format(self._a[()], spec)
        return format(str(self), spec)

    def _index(self, key):
        if isinstance(key, tuple):
            return tuple(self._index_part(k) for k in key)
        return self._index_part(key)

    def _index_part(self, key):
        if isinstance(key, ndarray):
            if key._a.dtype == bool:
                _sync("boolean mask indexing")  # the output size is read from the device
            return key._a
        if isinstance(key, numpy.ndarray):  # CuPy copies a NumPy index array to the device
            if key.dtype == bool:
                _sync("boolean mask indexing")
            return key
        return key

    def __getitem__(self, key):
        return _wrap(self._a[self._index(key)], (self,))

    def __setitem__(self, key, value):
        if not isinstance(value, numpy.ndarray):  # CuPy copies a NumPy value to the device
            value = _unwrap(value, "__setitem__ value")
        with _silent():
            self._a[self._index(key)] = value

    def __neg__(self):  # the unary operators cannot raise floating-point errors
        return _wrap(-self._a)

    def __pos__(self):
        return _wrap(+self._a)

    def __abs__(self):
        return _wrap(abs(self._a))

    def __invert__(self):
        return _wrap(~self._a)


def _binary(op, reflected=False):
    def method(self, other):
        if isinstance(other, numpy.ndarray):
            raise _numpy_in(f"the operator {op.__name__}")
        if isinstance(other, (list, tuple)):
            return NotImplemented
        other = other._a if isinstance(other, ndarray) else other
        with _silent():
            return _wrap(op(other, self._a) if reflected else op(self._a, other))

    return method


def _inplace(op):
    def method(self, other):
        if isinstance(other, numpy.ndarray):
            raise _numpy_in(f"the operator {op.__name__}")
        with _silent():
            op(self._a, other._a if isinstance(other, ndarray) else other)
        return self

    return method


for _name, _op in {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "floordiv": operator.floordiv, "mod": operator.mod, "pow": operator.pow,
    "matmul": operator.matmul, "and": operator.and_, "or": operator.or_, "xor": operator.xor,
    "lshift": operator.lshift, "rshift": operator.rshift,
}.items():  # fmt: skip
    setattr(ndarray, f"__{_name}__", _binary(_op))
    setattr(ndarray, f"__r{_name}__", _binary(_op, reflected=True))
    setattr(ndarray, f"__i{_name}__", _inplace(getattr(operator, f"i{_name}")))
for _name, _op in {
    "eq": operator.eq, "ne": operator.ne, "lt": operator.lt, "le": operator.le,
    "gt": operator.gt, "ge": operator.ge,
}.items():  # fmt: skip
    setattr(ndarray, f"__{_name}__", _binary(_op))


#: ndarray methods whose positional arguments are axes, shapes or counts
_INTEGER_ARGUMENTS = {
    "reshape", "transpose", "swapaxes", "squeeze", "diagonal", "trace", "repeat", "flatten",
    "ravel", "partition", "argpartition", "round", "all", "any", "argmax", "argmin", "cumprod",
    "cumsum", "max", "min", "mean", "prod", "ptp", "std", "sum", "var", "sort", "argsort",
}  # fmt: skip
#: ndarray methods that read the device: the output's size, or the bytes themselves
_SYNCING_METHODS = {"nonzero", "compress", "tobytes", "tofile", "dump", "dumps"}


class _Method:
    """``x.name(...)`` of an allowlisted ndarray method, on the NumPy array inside."""

    __slots__ = ("array", "name")

    def __init__(self, array, name):
        self.array, self.name = array, name

    def __call__(self, *args, **kwargs):
        where = f"cupy.ndarray.{self.name}"
        _check_keywords(where, _METHODS[self.name], kwargs)
        if self.name in _SYNCING_METHODS:
            _sync(self.name)
        if self.name in _INTEGER_ARGUMENTS:  # shapes, axes, counts: Python integers in CuPy
            for x in args:
                _no_device_integers(x, where)
        _no_device_integer_keywords(kwargs, where)
        _no_nested_device_arrays(args, where)
        args = _unwrap(args, where)
        kwargs = _unwrap_kwargs(where, kwargs)
        with _silent():
            result = getattr(self.array._a, self.name)(*args, **kwargs)
        return _wrap(result, (self.array,))


# ---------------------------------------------------------------------------
# functions and ufuncs

#: creation functions that take host data (and copy it to the device)
_HOST_DATA = {"array", "asarray", "asanyarray"}
#: functions whose first argument is a sequence of arrays
_SEQUENCE_FIRST = {"concatenate", "stack", "hstack", "vstack", "dstack", "column_stack"}
#: functions whose leading positional arguments are shapes or sizes, never device arrays
_SHAPE_ARGUMENTS = {
    "zeros", "ones", "empty", "full", "arange", "linspace", "logspace", "eye", "identity",
    "tri", "triu_indices", "tril_indices", "indices", "diag_indices",
}  # fmt: skip
#: functions whose arguments are shapes, sizes, dtypes or other non-array values
_NOT_ARRAYS = _SHAPE_ARGUMENTS | {
    "result_type", "can_cast", "promote_types", "dtype", "finfo", "iinfo", "broadcast_shapes",
    "einsum", "isscalar", "ndim", "shape", "size",
}  # fmt: skip
#: functions that read the device to size their output (or to size a histogram)
_SYNCING = {"nonzero", "argwhere", "flatnonzero", "unique", "compress", "extract", "bincount",
            "histogram"}  # fmt: skip
#: functions whose NumPy versions return a Python bool, CuPy's a 0-d device array
_DEVICE_BOOL = {"allclose", "array_equal", "array_equiv"}


def _host_copy(x, where: str):
    """Host data (a NumPy array, a list, a scalar) copied, as CuPy copies it to the device.

    A list of device arrays is joined on the device; a list that mixes device arrays
    with host values goes through NumPy in CuPy, which refuses the device arrays.
    """
    if isinstance(x, (list, tuple)):
        flat = list(_leaves(x))
        on_device = [isinstance(item, ndarray) for item in flat]
        if any(on_device) and not all(on_device):
            raise TypeError(
                f"{where}: a list mixing cupy.ndarray with host values: CuPy hands it to "
                f"NumPy, and Implicit conversion to a NumPy array is not allowed (CuPy stand-in)"
            )
        x = _unwrap(x, where)
    return numpy.array(x)


def _leaves(x):
    for item in x:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


class _Function:
    """A module function of the allowlist, run by NumPy's function of the same name."""

    def __init__(self, module: str, name: str, entry: dict, impl):
        self.module, self.name, self.entry, self.impl = module, name, entry, impl
        self.__name__ = name

    def __repr__(self):
        return f"<function {self.module}.{self.name} (CuPy stand-in)>"

    def __call__(self, *args, **kwargs):
        where = f"{self.module}.{self.name}"
        _check_keywords(where, self.entry, kwargs)
        if self.name in _SYNCING or (self.name == "where" and len(args) == 1 and not kwargs):
            _sync(self.name)  # where(condition) is nonzero(condition)
        _no_device_integer_keywords(kwargs, where)
        if self.name in _HOST_DATA:
            x = args[0] if args else kwargs.pop("a", kwargs.pop("obj", None))
            if isinstance(x, ndarray):
                result = self.impl(x._a, *args[1:], **_unwrap_kwargs(where, kwargs))
                return _wrap(result, (x,))
            return _wrap(self.impl(_host_copy(x, where), *args[1:], **kwargs))
        if self.name in _SHAPE_ARGUMENTS:
            # all positional arguments are sizes, but full's fill_value, which may be on the device
            for x in args[:1] if self.name == "full" else args:
                _no_device_integers(x, where)
        if self.name in _SEQUENCE_FIRST and args:
            first = args[0]
            if not isinstance(first, (list, tuple)) or not all(
                isinstance(item, ndarray) for item in first
            ):
                raise TypeError(f"{where}: every array of the sequence must be a cupy.ndarray "
                                f"(CuPy stand-in)")  # fmt: skip
            args = (_unwrap(first, where), *_unwrap(args[1:], where))
        elif self.name in _NOT_ARRAYS:
            args = _unwrap(args, where)
        elif args:
            _no_nested_device_arrays(args[1:], where)
            args = (_array_operand(args[0], where), *_unwrap(args[1:], where))
        kwargs = _unwrap_kwargs(where, kwargs)
        inputs = [a for a in args if isinstance(a, ndarray)]
        with _silent():
            result = self.impl(*args, **kwargs)
        if self.name in _DEVICE_BOOL:
            result = numpy.asarray(result)
        return _wrap(result, inputs)


def _unwrap_kwargs(where, kwargs):
    return {key: _unwrap(value, where) for key, value in kwargs.items()}


class _Ufunc:
    """A CuPy ufunc: array or scalar operands, keywords ``out``/``dtype``/``casting`` only."""

    def __init__(self, name: str, impl):
        self.__name__, self.name, self.impl = name, name, impl
        self.nin, self.nout = impl.nin, impl.nout

    def __repr__(self):
        return f"<ufunc 'cupy_{self.name}' (CuPy stand-in)>"

    def __call__(self, *args, **kwargs):
        where = f"cupy.{self.name}"
        _check_keywords(where, {"params": API["ufunc"]["call_params"]}, kwargs)
        args = tuple(_array_operand(a, where) for a in args)
        kwargs = _unwrap_kwargs(where, kwargs)
        with _silent():
            return _wrap(self.impl(*args, **kwargs))

    def __getattr__(self, name):
        methods = API["ufunc"]["methods"]
        if name not in methods:
            raise AttributeError(f"CuPy's ufunc has no method {name!r} (CuPy stand-in)")
        impl = getattr(self.impl, name)

        def method(*args, **kwargs):
            where = f"cupy.{self.name}.{name}"
            _check_keywords(where, methods[name], kwargs)
            with _silent():
                return _wrap(impl(*_unwrap(args, where), **_unwrap_kwargs(where, kwargs)))

        return method


# ---------------------------------------------------------------------------
# random


class Generator:
    """``cupy.random.Generator``: CuPy's methods and keywords, NumPy's draws."""

    def __init__(self, bit_generator=None):
        self._g = numpy.random.default_rng(bit_generator)

    def __getattr__(self, name):
        methods = API["Generator"]["methods"]
        if name not in methods:
            raise AttributeError(
                f"'cupy.random.Generator' object has no attribute {name!r} (not in CuPy "
                f"{_RELEASES}; CuPy stand-in)"
            )
        impl = getattr(self._g, name)

        def method(*args, **kwargs):
            where = f"cupy.random.Generator.{name}"
            _check_keywords(where, methods[name], kwargs)
            _no_device_integer_keywords(kwargs, where)
            _no_nested_device_arrays(args, where)
            return _wrap(impl(*_unwrap(args, where), **_unwrap_kwargs(where, kwargs)))

        return method


def _default_rng(seed=None):
    if isinstance(seed, (numpy.random.BitGenerator, numpy.random.SeedSequence)):
        raise TypeError("cupy.random.default_rng takes an int or None (CuPy stand-in)")
    if seed is not None and not isinstance(seed, (int, numpy.integer)):
        raise TypeError(f"cupy.random.default_rng takes an int or None, got {seed!r}")
    return Generator(seed)


# ---------------------------------------------------------------------------
# cuda


class MemoryHook:
    """``cupy.cuda.MemoryHook``: installed with ``with hook:``; the pool calls its methods."""

    name = "MemoryHook"

    def __enter__(self):
        if any(hook.name == self.name for hook in _hooks):  # CuPy keys its hooks by name
            raise KeyError(f"memory hook {self.name} already exists")
        _hooks.append(self)
        return self

    def __exit__(self, *exc):
        _hooks.remove(self)
        return False

    def alloc_preprocess(self, **kwargs):
        pass

    def alloc_postprocess(self, **kwargs):
        pass

    def malloc_preprocess(self, **kwargs):
        pass

    def malloc_postprocess(self, **kwargs):
        pass

    def free_preprocess(self, **kwargs):
        pass

    def free_postprocess(self, **kwargs):
        pass


class _MemoryPool:
    """The default pool: every live buffer, nothing cached (freed memory goes back at once)."""

    def used_bytes(self):
        return sum(_live.values())

    def total_bytes(self):
        return sum(_live.values())

    def free_bytes(self):
        return 0

    def free_all_blocks(self, stream=None):
        pass

    def malloc(self, size):  # the default allocator: what cuda.get_allocator() returns
        raise NotImplementedError("the CuPy stand-in allocates through NumPy, not through malloc")


_POOL = _MemoryPool()


class _Stream:
    def synchronize(self):
        _sync("synchronize")


def _mem_info():
    """``(free, total)`` device bytes: the host's available and total memory."""
    fields = {}
    with open("/proc/meminfo") as info:
        for line in info:
            key, value = line.split(":", 1)
            fields[key] = int(value.split()[0]) * 1024
    return fields["MemAvailable"], fields["MemTotal"]


def _cuda():
    cuda = types.ModuleType("cupy.cuda")
    cuda.MemoryHook = MemoryHook
    cuda.Device = _Device
    cuda.get_current_stream = lambda: _Stream()
    cuda.get_allocator = lambda: _POOL.malloc  # the default pool's, so memory hooks see it all
    runtime = types.ModuleType("cupy.cuda.runtime")
    runtime.getDeviceCount = lambda: 1
    runtime.getDeviceProperties = lambda device: {"name": b"CuPy stand-in (NumPy on the host)"}
    runtime.memGetInfo = _mem_info
    cuda.runtime = runtime
    cuda.get_device_id = lambda: 0
    return cuda


# ---------------------------------------------------------------------------
# the modules

_SPECIAL = {
    "cupy": {
        "ndarray": ndarray,
        "asnumpy": lambda a, stream=None, order="C", out=None, blocking=True: (
            a.get(order=order, out=out) if isinstance(a, ndarray) else numpy.asarray(a)
        ),
        "get_array_module": lambda *args: (
            _MODULES["cupy"] if any(isinstance(a, ndarray) for a in args) else numpy
        ),
        "get_default_memory_pool": lambda: _POOL,
    },
    "cupy.random": {"Generator": Generator, "default_rng": _default_rng},
}
_NUMPY_OF = {
    "cupy": numpy,
    "cupy.linalg": numpy.linalg,
    "cupy.random": numpy.random,
    "cupy.lib.stride_tricks": numpy.lib.stride_tricks,
}


def _build() -> dict[str, types.ModuleType]:
    modules = {name: types.ModuleType(name, f"{name} (CuPy stand-in)") for name in _NUMPY_OF}
    for module_name, names in API["modules"].items():
        if module_name not in modules:
            continue
        module, host = modules[module_name], _NUMPY_OF[module_name]
        special = _SPECIAL.get(module_name, {})
        for name, entry in names.items():
            kind = entry["kind"]
            if name in special:
                value = special[name]
            elif kind == "module":
                continue
            elif kind == "ufunc" and isinstance(getattr(host, name, None), numpy.ufunc):
                value = _Ufunc(name, getattr(host, name))
            elif kind in ("function", "callable") and callable(getattr(host, name, None)):
                value = _Function(module_name, name, entry, getattr(host, name))
            elif kind in ("dtype", "constant", "class") and hasattr(host, name):
                value = getattr(host, name)
            else:
                continue  # CuPy-only (kernels, fusion, ...): not emulated
            setattr(module, name, value)
        module.__getattr__ = _missing(module_name)
    cupy = modules["cupy"]
    cupy.linalg = modules["cupy.linalg"]
    cupy.random = modules["cupy.random"]
    cupy.lib = types.ModuleType("cupy.lib")
    cupy.lib.stride_tricks = modules["cupy.lib.stride_tricks"]
    cupy.cuda = _cuda()
    cupy.__version__ = f"{VERSIONS[-1]} (CuPy stand-in)"
    return modules


def _missing(module_name):
    def __getattr__(name):  # noqa: N807 - PEP 562
        raise AttributeError(
            f"module '{module_name}' has no attribute {name!r} (not in CuPy {_RELEASES}, or "
            f"not emulated by the CuPy stand-in)"
        )

    return __getattr__


_MODULES = _build()
cupy = _MODULES["cupy"]


def _cupyx():
    """``cupyx.scipy.special.erf``: the one cupyx function refattn calls."""
    from scipy import special

    cupyx = types.ModuleType("cupyx")
    scipy_ = types.ModuleType("cupyx.scipy")
    special_ = types.ModuleType("cupyx.scipy.special")
    special_.erf = _Ufunc("erf", special.erf)
    cupyx.scipy, scipy_.special = scipy_, special_
    return {"cupyx": cupyx, "cupyx.scipy": scipy_, "cupyx.scipy.special": special_}


def installed_modules() -> dict[str, types.ModuleType]:
    """The ``sys.modules`` entries that make this stand-in CuPy while a test runs."""
    return {"cupy": cupy, **_cupyx()}
