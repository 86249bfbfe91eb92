"""Bad inputs to refattn.backend: each names the argument, the value and the allowed domain."""

import os

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.backend import (
    asarray,
    default_backend,
    erf,
    get_array_module,
    indicator,
    module_for,
    module_name,
    pad_axis,
    peak_memory,
    rng,
    synchronize,
    to_numpy,
    window_view,
)

X = np.arange(12.0).reshape(6, 2)


def with_backend_variable(value):
    """default_backend() with REFATTN_BACKEND set to ``value``, restored afterwards."""
    before = os.environ.get("REFATTN_BACKEND")
    os.environ["REFATTN_BACKEND"] = value
    try:
        return default_backend()
    finally:
        if before is None:
            del os.environ["REFATTN_BACKEND"]
        else:
            os.environ["REFATTN_BACKEND"] = before


def env(id, value, match):
    return Bad(
        id,
        with_backend_variable,
        value,
        raises=ValueError,
        arg="REFATTN_BACKEND",
        match=match,
        target=default_backend,
    )


# fmt: off
CASES = [
    env("env-bogus", "bogus", r"must be one of numpy, cupy, got 'bogus'$"),
    env("env-misspelled", "nunpy", r"got 'nunpy' \(did you mean 'numpy'\?\)"),
    env("env-cupy-misspelled", "cuppy", r"got 'cuppy' \(did you mean 'cupy'\?\)"),
    env("env-list", "numpy,cupy", r"got 'numpy,cupy'"),
    env("env-number", "1", r"got '1'"),
    env("env-torch", "torch", r"one of numpy, cupy, got 'torch'"),
    # module_for
    Bad("module-for-misspelled", module_for, "numpi", raises=ValueError, arg="backend", match=r"one of \('numpy', 'cupy'\) or None, got 'numpi' \(did you mean 'numpy'\?\)"),
    Bad("module-for-empty", module_for, "", raises=ValueError, arg="backend", match=r"got ''"),
    Bad("module-for-int", module_for, 1, raises=TypeError, arg="backend", match=r"None or the numpy/cupy module, got int 1"),
    Bad("module-for-bool", module_for, True, raises=TypeError, arg="backend", match=r"got bool True"),
    Bad("module-for-array", module_for, X, raises=TypeError, arg="backend", match=r"got ndarray an array of shape \(6, 2\)"),
    Bad("module-for-other-module", module_for, os, raises=ValueError, arg="backend", match=r"numpy or cupy module, got <module 'os'"),
    Bad("module-for-nan", module_for, float("nan"), raises=TypeError, arg="backend", match=r"got float nan"),
    # module_name
    Bad("module-name-str", module_name, "numpy", raises=TypeError, arg="xp", match=r"numpy or cupy module, got str 'numpy'"),
    Bad("module-name-none", module_name, None, raises=TypeError, arg="xp", match=r"got NoneType None"),
    Bad("module-name-os", module_name, os, raises=ValueError, arg="xp", match=r"got <module 'os'"),
    Bad("module-name-submodule", module_name, np.linalg, raises=ValueError, arg="xp", match=r"got <module 'numpy.linalg'"),
    Bad("module-name-array", module_name, X, raises=TypeError, arg="xp", match=r"array of shape \(6, 2\)"),
    Bad("module-name-int", module_name, 0, raises=TypeError, arg="xp", match=r"got int 0"),
    # synchronize
    Bad("sync-str", synchronize, "cupy", raises=TypeError, arg="xp", match=r"numpy or cupy module, got str 'cupy'"),
    Bad("sync-none", synchronize, None, raises=TypeError, arg="xp", match=r"got NoneType None"),
    Bad("sync-os", synchronize, os, raises=ValueError, arg="xp", match=r"got <module 'os'"),
    Bad("sync-array", synchronize, X, raises=TypeError, arg="xp", match=r"array of shape"),
    Bad("sync-float", synchronize, 1.5, raises=TypeError, arg="xp", match=r"got float 1.5"),
    Bad("sync-bool", synchronize, False, raises=TypeError, arg="xp", match=r"got bool False"),
    # get_array_module
    Bad("gam-list", get_array_module, [X, X], raises=TypeError, arg="argument 0", match=r"array, a number or None, got list [\s\S]*separate arguments"),
    Bad("gam-tuple", get_array_module, X, (X,), raises=TypeError, arg="argument 1", match=r"got tuple"),
    Bad("gam-str", get_array_module, "numpy", raises=TypeError, arg="argument 0", match=r"got str 'numpy'"),
    Bad("gam-module", get_array_module, np, raises=TypeError, arg="argument 0", match=r"got module"),
    Bad("gam-dict", get_array_module, {"q": X}, raises=TypeError, arg="argument 0", match=r"got dict"),
    Bad("gam-object", get_array_module, object(), raises=TypeError, arg="argument 0", match=r"got object"),
    # asarray
    Bad("asarray-none", asarray, None, raises=TypeError, arg="x", match=r"array, a number or a nested list of numbers, got NoneType None"),
    Bad("asarray-str", asarray, "1.0", raises=TypeError, arg="x", match=r"got str '1.0'"),
    Bad("asarray-ragged", asarray, [[1.0], [1.0, 2.0]], raises=ValueError, arg="x", match=r"regular \(rectangular\) shape"),
    Bad("asarray-object", asarray, X.astype(object), raises=TypeError, arg="x", match=r"numbers \(bool, int, float or complex\), got dtype object"),
    Bad("asarray-backend", asarray, X, backend="jax", raises=ValueError, arg="backend", match=r"got 'jax'"),
    Bad("asarray-backend-int", asarray, X, backend=0, raises=TypeError, arg="backend", match=r"got int 0"),
    Bad("asarray-dtype-name", asarray, X, dtype="flaot32", raises=TypeError, arg="dtype", match=r"numeric dtype .* got 'flaot32'"),
    Bad("asarray-dtype-scalar", asarray, X, dtype=np.float64(2.0), raises=TypeError, arg="dtype", match=r"NumPy type such as numpy.float32, or a dtype\), got float64"),
    Bad("asarray-dtype-object", asarray, X, dtype=object, raises=TypeError, arg="dtype", match=r"numeric dtype \(bool, int, float or complex\), got <class 'object'>"),
    Bad("asarray-dtype-str", asarray, X, dtype="U3", raises=TypeError, arg="dtype", match=r"got 'U3'"),
    Bad("asarray-dtype-int", asarray, X, dtype=3, raises=TypeError, arg="dtype", match=r"got int 3"),
    # to_numpy
    Bad("to-numpy-none", to_numpy, None, raises=TypeError, arg="x", match=r"nested list of numbers, got NoneType None"),
    Bad("to-numpy-str", to_numpy, "abc", raises=TypeError, arg="x", match=r"got str 'abc'"),
    Bad("to-numpy-ragged", to_numpy, [[1], [1, 2]], raises=ValueError, arg="x", match=r"regular \(rectangular\) shape"),
    Bad("to-numpy-dict", to_numpy, {"a": 1}, raises=TypeError, arg="x", match=r"\(dtype object\)"),
    Bad("to-numpy-strings", to_numpy, ["a", "b"], raises=TypeError, arg="x", match=r"\(dtype <U1\)"),
    Bad("to-numpy-module", to_numpy, np, raises=TypeError, arg="x", match=r"\(dtype object\)"),
    # rng
    Bad("rng-negative", rng, -1, "numpy", raises=ValueError, arg="seed", match=r"non-negative int, got -1"),
    Bad("rng-float", rng, 1.5, "numpy", raises=TypeError, arg="seed", match=r"None, a non-negative int or a Generator, got 1.5"),
    Bad("rng-nan", rng, float("nan"), "numpy", raises=TypeError, arg="seed", match=r"got nan"),
    Bad("rng-bool", rng, True, "numpy", raises=TypeError, arg="seed", match=r"got True"),
    Bad("rng-str", rng, "0", "numpy", raises=TypeError, arg="seed", match=r"got '0'"),
    Bad("rng-legacy", rng, np.random.RandomState(0), "numpy", raises=TypeError, arg="seed", match=r"got RandomState"),
    Bad("rng-xp", rng, 0, "nmupy", raises=ValueError, arg="backend", match=r"got 'nmupy'"),
    # erf
    Bad("erf-none", erf, None, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("erf-list", erf, [0.5], raises=TypeError, arg="x", match=r"got list \[0.5\]"),
    Bad("erf-float", erf, 0.5, raises=TypeError, arg="x", match=r"got float 0.5"),
    Bad("erf-int", erf, np.arange(3), raises=TypeError, arg="x", match=r"floating dtype .* got int64"),
    Bad("erf-complex", erf, np.ones(2, complex), raises=TypeError, arg="x", match=r"got complex128"),
    Bad("erf-float16", erf, np.ones(2, np.float16), raises=TypeError, arg="x", match=r"got float16"),
    Bad("erf-nan", erf, np.array([0.0, np.nan]), raises=ValueError, arg="x", match=r"must not contain NaN \(erf\(±inf\) = ±1 is allowed\)"),
    # pad_axis
    Bad("pad-x-none", pad_axis, None, 0, 1, 1, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("pad-x-list", pad_axis, [1.0], 0, 1, 1, raises=TypeError, arg="x", match=r"got list"),
    Bad("pad-x-0d", pad_axis, np.float64(2.0), 0, 1, 1, raises=ValueError, arg="x", match=r"ndim >= 1, got shape \(\)"),
    Bad("pad-axis-range", pad_axis, X, 2, 1, 1, raises=ValueError, arg="axis", match=r"integer >= -2 and <= 1, got 2"),
    Bad("pad-axis-huge", pad_axis, X, 10**30, 1, 1, raises=ValueError, arg="axis", match=r"got 10{30}"),
    Bad("pad-axis-float", pad_axis, X, 0.0, 1, 1, raises=TypeError, arg="axis", match=r"got 0.0"),
    Bad("pad-before-negative", pad_axis, X, 0, -1, 0, raises=ValueError, arg="before", match=r"integer >= 0, got -1"),
    Bad("pad-after-nan", pad_axis, X, 0, 0, float("nan"), raises=TypeError, arg="after", match=r"got nan"),
    Bad("pad-after-bool", pad_axis, X, 0, 0, True, raises=TypeError, arg="after", match=r"got True"),
    Bad("pad-before-huge", pad_axis, X, 0, 10**12, 0, raises=ValueError, arg="before = 1000000000000", match=r"padding x of shape \(6, 2\) .* needs 1.49e\+04 GiB, more than"),
    Bad("pad-value-nan", pad_axis, X, 0, 1, 1, value=float("nan"), raises=ValueError, arg="value", match=r"finite real number or a bool, got nan"),
    Bad("pad-value-none", pad_axis, X, 0, 1, 1, value=None, raises=TypeError, arg="value", match=r"got None"),
    Bad("pad-value-str", pad_axis, X, 0, 1, 1, value="0", raises=TypeError, arg="value", match=r"got '0'"),
    Bad("pad-value-fraction-in-int", pad_axis, np.arange(3), 0, 1, 1, value=0.5, raises=ValueError, arg="value", match=r"representable in x's dtype int64, got 0.5"),
    Bad("pad-value-int-in-bool", pad_axis, np.ones(3, bool), 0, 1, 1, value=2, raises=ValueError, arg="value", match=r"representable in x's dtype bool, got 2"),
    # indicator
    Bad("indicator-n-zero", indicator, 0, [], np, raises=ValueError, arg="n", match=r"integer >= 1, got 0"),
    Bad("indicator-n-float", indicator, 5.0, [0], np, raises=TypeError, arg="n", match=r"got 5.0"),
    Bad("indicator-n-huge", indicator, 10**13, [0], np, raises=ValueError, arg="n = 10000000000000", match=r"needs 9.31e\+03 GiB, more than"),
    Bad("indicator-positions-none", indicator, 5, None, np, raises=TypeError, arg="positions", match=r"sequence of integers in \[0, 5\), got NoneType None"),
    Bad("indicator-positions-int", indicator, 5, 2, np, raises=TypeError, arg="positions", match=r"got int 2"),
    Bad("indicator-positions-negative", indicator, 5, [-1], np, raises=ValueError, arg="positions[0]", match=r"integer >= 0 and <= 4, got -1"),
    Bad("indicator-positions-range", indicator, 5, [1, 5], np, raises=ValueError, arg="positions[1]", match=r"got 5"),
    Bad("indicator-positions-float", indicator, 5, [1.0], np, raises=TypeError, arg="positions[0]", match=r"got 1.0"),
    Bad("indicator-positions-nan", indicator, 5, [float("nan")], np, raises=TypeError, arg="positions[0]", match=r"got nan"),
    Bad("indicator-positions-float-array", indicator, 5, np.array([1.0]), np, raises=TypeError, arg="positions", match=r"1-D integer array .* dtype float64"),
    Bad("indicator-positions-array-range", indicator, 5, np.array([0, 7]), np, raises=ValueError, arg="positions", match=r"\[0, n\) = \[0, 5\), got values in \[0, 7\]"),
    Bad("indicator-positions-2d", indicator, 5, np.zeros((1, 1), int), np, raises=TypeError, arg="positions", match=r"shape \(1, 1\)"),
    Bad("indicator-xp-none", indicator, 5, [0], None, raises=TypeError, arg="xp", match=r"numpy or cupy module, got NoneType None"),
    Bad("indicator-xp-os", indicator, 5, [0], os, raises=ValueError, arg="xp", match=r"got <module 'os'"),
    # window_view
    Bad("view-x-none", window_view, None, size=2, step=1, count=2, raises=TypeError, arg="x", match=r"numpy or cupy array, got None"),
    Bad("view-x-list", window_view, [[1.0]], size=1, step=1, count=1, raises=TypeError, arg="x", match=r"got list"),
    Bad("view-x-1d", window_view, np.arange(6.0), size=2, step=1, count=2, raises=ValueError, arg="x", match=r"\(\.\.\., L, f\) with ndim >= 2, got shape \(6,\)"),
    Bad("view-step-zero", window_view, X, size=2, step=0, count=2, raises=ValueError, arg="step", match=r"integer >= 1, got 0"),
    Bad("view-step-negative", window_view, X, size=2, step=-3, count=2, raises=ValueError, arg="step", match=r"integer >= 1, got -3"),
    Bad("view-size-zero", window_view, X, size=0, step=1, count=2, raises=ValueError, arg="size", match=r"integer >= 1, got 0"),
    Bad("view-count-zero", window_view, X, size=2, step=1, count=0, raises=ValueError, arg="count", match=r"integer >= 1, got 0"),
    Bad("view-size-float", window_view, X, size=2.0, step=1, count=2, raises=TypeError, arg="size", match=r"got 2.0"),
    Bad("view-step-nan", window_view, X, size=2, step=float("nan"), count=2, raises=TypeError, arg="step", match=r"got nan"),
    Bad("view-count-bool", window_view, X, size=2, step=1, count=True, raises=TypeError, arg="count", match=r"got True"),
    Bad("view-count-huge", window_view, X, size=2, step=1, count=10**30, raises=ValueError, arg="count", match=r"count = 10{30} windows of size = 2 rows every step = 1 rows do not fit in the 6 rows of x"),
    Bad("view-size-huge", window_view, X, size=10**30, step=1, count=1, raises=ValueError, arg="size", match=r"count = 1 windows of size = 10{30} rows every step = 1 rows do not fit in the 6 rows of x"),
    # peak_memory
    Bad("peak-fn-none", peak_memory, None, np, raises=TypeError, arg="fn", match=r"callable taking no arguments, got NoneType None"),
    Bad("peak-fn-array", peak_memory, X, np, raises=TypeError, arg="fn", match=r"got ndarray"),
    Bad("peak-fn-str", peak_memory, "f", np, raises=TypeError, arg="fn", match=r"got str 'f'"),
    Bad("peak-xp-str", peak_memory, lambda: None, "numpy", raises=TypeError, arg="xp", match=r"numpy or cupy module, got str 'numpy'"),
    Bad("peak-xp-none", peak_memory, lambda: None, None, raises=TypeError, arg="xp", match=r"got NoneType None"),
    Bad("peak-xp-os", peak_memory, lambda: None, os, raises=ValueError, arg="xp", match=r"got <module 'os'"),
]
# fmt: on

EXEMPT = {
    "refattn.backend.available_backends": "takes no arguments: it only reports what is installed",
    "refattn.backend.gpu_name": "takes no arguments: it only reports the current CUDA device",
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_and_dtypes_are_accepted():
    # the other side of the table: NumPy types, integers and 0-d arrays are valid
    for dtype in (np.float32, "float32", np.dtype("float32")):
        assert asarray([1.0, 2.0], backend="numpy", dtype=dtype).dtype == np.float32
    assert asarray(X, backend=np).dtype == np.float64
    np.testing.assert_array_equal(to_numpy(np.float32(2.0)), np.array(2.0, np.float32))
    np.testing.assert_array_equal(to_numpy([[1, 2]]), np.array([[1, 2]]))
    view = window_view(X, size=np.int64(2), step=np.int32(2), count=np.array(3))
    np.testing.assert_array_equal(view, X.reshape(3, 2, 2))
    padded = pad_axis(X, np.int64(-2), np.int32(1), np.array(0), value=np.float32(7))
    np.testing.assert_array_equal(padded[0], [7.0, 7.0])
    np.testing.assert_array_equal(padded[1:], X)
    assert pad_axis(np.ones(2, bool), 0, 0, 1, value=np.bool_(False)).tolist() == [
        True,
        True,
        False,
    ]
    flags = indicator(np.int64(5), (np.int64(1), np.int32(3)), np)
    assert flags.tolist() == [False, True, False, True, False]
    assert indicator(5, np.array([4, 0]), np).tolist() == [True, False, False, False, True]
    assert indicator(3, [], np).tolist() == [False] * 3
    assert rng(np.int64(3), np).integers(100) == rng(3, np).integers(100)
    assert get_array_module(X, np.float32(1.0), 2, None, 1.5) is np
    np.testing.assert_allclose(erf(np.array([-np.inf, 0.0, np.inf])), [-1.0, 0.0, 1.0])
