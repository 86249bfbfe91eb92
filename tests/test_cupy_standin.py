"""The CuPy stand-in catches CuPy-only bugs: snippets that run on NumPy and fail on it.

Each snippet below is code that NumPy accepts and CuPy refuses (or answers
differently), written as refattn might have written it.  The suite runs every
``xp`` test on the stand-in, so code like this cannot land unseen; these
tests show, one rule at a time, that the stand-in enforces the rule, and that
NumPy alone would not have caught it.  The second half checks the stand-in's
own bookkeeping: host syncs counted by call site, allocations reported to
memory hooks.
"""

import gc
import math

import cupy_standin
import numpy as np
import pytest

from refattn.backend import peak_memory, window_view

# (id, snippet(xp, x), the exception on the stand-in, a fragment of its message)
SNIPPETS = [
    ("numpy.asarray of a device array", lambda xp, x: np.asarray(x), TypeError,
     "Implicit conversion to a NumPy array"),
    ("numpy.testing on device arrays", lambda xp, x: np.testing.assert_allclose(x, x), TypeError,
     "Implicit conversion"),
    ("a device integer used as a Python index", lambda xp, x: [0, 1, 2, 3][x.argmax()],
     TypeError, "list indices must be integers"),
    ("range over a device integer", lambda xp, x: range(x.argmax()), TypeError,
     "cannot be interpreted as an integer"),
    ("a reduction used as a dict key (NumPy gives a hashable scalar)",
     lambda xp, x: {x.argmax(): "top"}, TypeError, "unhashable"),
    ("a float method of a reduction (CuPy gives a 0-d array)",
     lambda xp, x: x.sum().is_integer(), AttributeError, "is_integer"),
    ("a keyword CuPy's sum does not take", lambda xp, x: xp.sum(x, where=x > 0), TypeError,
     "unexpected keyword argument 'where'"),
    ("a ufunc keyword CuPy does not take", lambda xp, x: xp.exp(x, where=x > 0, out=xp.ones(4)),
     TypeError,
     "unexpected keyword argument 'where'"),
    ("a NumPy array mixed into an operation", lambda xp, x: x + np.ones(x.shape), TypeError,
     "cannot mix"),
    ("a NumPy array mixed in from the left", lambda xp, x: np.ones(x.shape) * x, TypeError,
     "cannot mix"),
    ("a NumPy array as a function argument", lambda xp, x: xp.maximum(x, np.zeros(x.shape)),
     TypeError, "cannot mix"),
    ("a device integer as a shape", lambda xp, x: xp.zeros((x.argmax(), 2)), TypeError,
     "no __index__"),
    ("a device integer as an axis", lambda xp, x: x.reshape(2, 2).sum(axis=x.argmin() - 3),
     TypeError, "no __index__"),
    ("a device integer as a method's axis", lambda xp, x: x.reshape(2, 2).swapaxes(
        x.argmin() - 3, 0), TypeError, "no __index__"),
    ("a device integer as a size", lambda xp, x: xp.arange(x.argmax()), TypeError,
     "no __index__"),
    ("a list mixing a device scalar and a number", lambda xp, x: xp.asarray([x.sum(), 1.0]),
     TypeError, "mixing cupy.ndarray with host values"),
    ("iterating over x.flat, a device iterator", lambda xp, x: list(x.flat), AttributeError,
     "flat is not emulated"),
    ("a list where an array is expected", lambda xp, x: xp.exp([1.0, 2.0]), TypeError,
     "does not convert a list"),
    ("errstate, which CuPy does not have",
     lambda xp, x: xp.errstate(over="ignore").__enter__(), AttributeError, "errstate"),
    ("the writeable flag, which CuPy does not have",
     lambda xp, x: x.flags.writeable, AttributeError, "writeable"),
    ("as_strided's writeable keyword, which CuPy does not take",
     lambda xp, x: xp.lib.stride_tricks.as_strided(x, x.shape, x.strides, writeable=False),
     TypeError, "unexpected keyword argument 'writeable'"),
    ("an ndarray method CuPy does not have", lambda xp, x: x.setflags(write=False),
     AttributeError, "setflags"),
    ("a Generator method CuPy does not have",
     lambda xp, x: xp.random.default_rng(0).bytes(4), AttributeError, "bytes"),
    ("a NumPy Generator passed to CuPy's default_rng",
     lambda xp, x: xp.random.default_rng(np.random.PCG64(0)), TypeError, "int or None"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("snippet", "error", "match"),
    [pytest.param(s, e, m, id=i) for i, s, e, m in SNIPPETS],
)
def test_numpy_accepts_what_the_standin_refuses(snippet, error, match, standin):
    x = np.array([1.0, 3.0, 2.0, 0.5])
    snippet(np, x)  # NumPy runs it: a NumPy-only suite would not see the bug
    with pytest.raises(error, match=match):
        snippet(standin, standin.asarray(x))


def test_the_snippets_name_what_cupy_lacks_in_both_recorded_releases():
    # the refusals above are CuPy's, not the stand-in's invention: the allowlist says so
    api = cupy_standin.API
    assert "errstate" not in api["modules"]["cupy"]
    assert "where" not in api["modules"]["cupy"]["sum"]["params"]
    assert "where" not in api["ufunc"]["call_params"]
    assert "writeable" not in api["modules"]["cupy.lib.stride_tricks"]["as_strided"]["params"]
    assert "setflags" not in api["ndarray"]["methods"]
    assert "bytes" not in api["Generator"]["methods"]
    assert "flags" in api["ndarray"]["attributes"]


def test_what_cupy_accepts_the_standin_accepts(standin):
    # the stand-in must not refuse CuPy's own conveniences, or tests would fail for nothing
    x = standin.asarray(np.arange(6.0))
    assert x[np.array([0, 2])].tolist() == [0.0, 2.0]  # NumPy index arrays are copied over
    x[np.array([1])] = np.array([9.0])  # and so are NumPy values
    assert x[1].item() == 9.0
    assert np.add.reduce(x).item() == 23.0  # NumPy's ufunc methods run CuPy's
    assert standin.asarray([x[0], x[1]]).tolist() == [0.0, 9.0]  # device arrays joined
    assert standin.full((2,), x[1]).tolist() == [9.0, 9.0]  # a device fill value
    assert isinstance(standin.allclose(x, x), standin.ndarray)  # a 0-d array, as CuPy's


def test_reductions_return_0d_arrays_and_conversions_are_counted_syncs(standin):
    x = standin.asarray(np.arange(6.0).reshape(2, 3))
    top = x.max()
    assert isinstance(top, standin.ndarray) and top.shape == ()
    assert isinstance(standin.sum(x), standin.ndarray)
    with cupy_standin.counting_syncs() as syncs:
        assert float(top) == 5.0  # line A
        assert bool(x.sum() > 1)  # line B
        assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
        assert int(x[1, 2]) == 5
        assert math.isclose(x.mean().item(), 2.5)
        x.get()
    kinds = sorted(kind for *_, kind in syncs)
    assert kinds == ["bool", "float", "get", "int", "item", "tolist"]
    sites = {(path, function) for path, _, function, _ in syncs}
    assert sites == {("tests/test_cupy_standin.py", "test_reductions_return_0d_arrays_and_"
                      "conversions_are_counted_syncs")}  # fmt: skip
    assert len({line for _, line, _, _ in syncs}) == 6  # one line each
    with cupy_standin.counting_syncs() as syncs:
        y = standin.exp(x) @ x.T + 1.0  # device work alone never syncs
        del y
    assert not syncs


def test_operations_that_size_their_output_on_the_device_are_syncs(standin):
    x = standin.asarray(np.array([1.0, -2.0, 3.0]))
    with cupy_standin.counting_syncs() as syncs:
        x[x > 0]
        x[x < 0] = 0.0  # a boolean-mask assignment counts its True entries too
        standin.nonzero(x > 0)
        x.nonzero()
        standin.where(x > 0)  # where with one argument is nonzero
        standin.bincount(standin.asarray(np.array([0, 2, 2])))
        standin.compress(x > 0, x)
    assert sorted(kind for *_, kind in syncs) == [
        "bincount",
        "boolean mask indexing",
        "boolean mask indexing",
        "compress",
        "nonzero",
        "nonzero",
        "where",
    ]
    with cupy_standin.counting_syncs() as syncs:
        standin.where(x > 0, x, 0.0)  # three arguments: elementwise, no sync
    assert not syncs


def test_host_data_is_copied_to_the_device_and_device_arrays_are_not(standin):
    host = np.array([1.0, 2.0])
    device = standin.asarray(host)
    host[0] = 99.0  # the device copy does not see the host's later writes
    assert device.get().tolist() == [1.0, 2.0]
    assert standin.asarray(device) is device  # no copy, as CuPy
    assert standin.asarray(device, dtype="float32") is not device
    assert standin.array(device) is not device


def test_keywords_are_checked_against_both_releases(standin):
    x = standin.asarray(np.ones((2, 3)))
    assert x.sum(axis=0, keepdims=True).shape == (1, 3)  # CuPy's keywords pass
    with pytest.raises(TypeError, match="unexpected keyword argument 'initial'"):
        x.sum(initial=1.0)
    with pytest.raises(TypeError, match="unexpected keyword argument 'where'"):
        standin.add(x, x, where=x > 0)


def test_allocations_and_releases_reach_memory_hooks(standin):
    events = []

    class Recorder(standin.cuda.MemoryHook):
        def malloc_postprocess(self, **kw):
            events.append(("malloc", kw["size"], kw["mem_size"], kw["mem_ptr"]))

        def free_postprocess(self, **kw):
            events.append(("free", kw["mem_size"], kw["mem_ptr"]))

    with Recorder():
        a = standin.zeros((10, 10))  # 800 bytes, rounded to 1024
        b = a[:5]  # a view: no allocation
        del a, b
        gc.collect()
    (malloc, *_), ptr = events, events[0][-1]
    assert malloc == ("malloc", 800, 1024, ptr)
    # buffers made before the hook may be freed meanwhile, as on CuPy: the hook sees those too
    assert [e for e in events if e[-1] == ptr] == [malloc, ("free", 1024, ptr)]


def test_a_copy_returned_as_a_view_is_an_allocation_and_hook_names_are_unique(standin):
    sizes = []

    class Recorder(standin.cuda.MemoryHook):
        name = "recorder"

        def malloc_postprocess(self, **kw):
            sizes.append(kw["size"])

    x = standin.zeros((4, 8))
    with Recorder():
        flat = x.T.reshape(-1)  # NumPy copies, then returns a view of the copy
        with pytest.raises(KeyError, match="memory hook recorder already exists"), Recorder():
            pass
    assert flat.shape == (32,) and sizes == [256]


def test_peak_memory_on_the_standin_counts_live_bytes(standin):
    def work():
        a = standin.zeros(1000)  # 8000 bytes
        b = standin.zeros(1000)
        del a, b
        return standin.zeros(500)  # 4000 bytes, alive at the end

    result, peak = peak_memory(work, standin)
    assert result.shape == (500,)
    assert peak == 2 * 8192  # two live 8000-byte buffers, each rounded up to 512 bytes


def test_window_view_writes_are_not_blocked_on_cupy_only_by_contract(standin):
    # CuPy has no read-only flag: refattn must never write to the view (see window_view)
    x = standin.asarray(np.arange(12.0).reshape(6, 2))
    windows = window_view(x, size=3, step=1, count=4)
    windows[0, 1, 0] = -1.0  # accepted, and it changes the overlapping windows too
    assert windows[1, 0, 0].item() == -1.0
    with pytest.raises(ValueError, match="read-only"):
        window_view(np.arange(12.0).reshape(6, 2), size=3, step=1, count=4)[0, 1, 0] = -1.0
