"""The backend shim, and the rule that nothing else imports numpy or cupy."""

import ast
import sys
import types
from pathlib import Path

import numpy as np
import pytest

from refattn import backend
from refattn.backend import asarray, default_backend, get_array_module, peak_memory, rng, to_numpy
from refattn.mechanisms import REGISTRY, mechanism

PACKAGE = Path(backend.__file__).parent

# host-side modules: plotting, file output, testing helpers, benchmarking, the CLI
# host-side: the command line, testing kit and benchmarks
HOST_SIDE = {"backend.py", "cli.py", "testing.py", "bench.py", "pretrained.py"}


def _imports_array_library(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [
            f"line {node.lineno}: {name}"
            for name in names
            if name.split(".")[0] in ("numpy", "cupy")
        ]
    return found


def test_only_the_backend_imports_numpy_or_cupy():
    offenders = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "figures" or str(rel) in HOST_SIDE:
            continue
        if found := _imports_array_library(path):
            offenders[str(rel)] = found
    assert not offenders, f"mechanism modules must take xp from refattn.backend: {offenders}"


def test_the_import_scan_does_see_imports(tmp_path):
    # the twin: the scanner is not blind
    p = tmp_path / "m.py"
    p.write_text("def f():\n    import numpy as np\n    from cupy import ndarray\n")
    assert _imports_array_library(p) == ["line 2: numpy", "line 3: cupy"]


# --- get_array_module --------------------------------------------------------------------


def test_get_array_module_reads_numpy_and_ignores_non_arrays():
    assert get_array_module(np.zeros(2), None, 3.0) is np
    assert get_array_module(np.float32(1.0)) is np
    assert get_array_module() is np


@pytest.fixture
def fake_cupy(monkeypatch):
    """A stand-in 'cupy' module, so the mixing rules are tested without a GPU."""
    fake = types.ModuleType("cupy")

    class ndarray:  # noqa: N801 - mirrors cupy's class name
        pass

    fake.ndarray = ndarray
    monkeypatch.setitem(sys.modules, "cupy", fake)
    return fake


def test_get_array_module_returns_cupy_for_cupy_arrays(fake_cupy):
    assert get_array_module(fake_cupy.ndarray(), None) is fake_cupy


def test_mixing_numpy_and_cupy_is_a_type_error_naming_both(fake_cupy):
    with pytest.raises(TypeError, match="argument 0 is a numpy array but argument 1 is a cupy"):
        get_array_module(np.zeros(2), fake_cupy.ndarray())


def test_mixing_backends_in_attention_names_the_arguments(fake_cupy):
    from refattn import softmax_attention

    with pytest.raises(TypeError, match="q is a numpy array but k is a cupy array"):
        softmax_attention(np.zeros((2, 2)), fake_cupy.ndarray(), np.zeros((2, 2)))


def test_mixing_real_backends_is_a_type_error(xp):
    if xp is np:  # nothing to mix: numpy with numpy is numpy
        assert get_array_module(np.zeros(2), xp.zeros(2)) is np
        return
    with pytest.raises(TypeError, match="numpy array but .* cupy array"):
        get_array_module(np.zeros(2), xp.zeros(2))


# --- default backend ------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "numpy", " NumPy "])
def test_default_backend_numpy(monkeypatch, value):
    monkeypatch.setenv("REFATTN_BACKEND", value)
    assert default_backend() is np


def test_default_backend_unset_is_numpy(monkeypatch):
    monkeypatch.delenv("REFATTN_BACKEND", raising=False)
    assert default_backend() is np


def test_unknown_backend_lists_the_allowed_ones(monkeypatch):
    monkeypatch.setenv("REFATTN_BACKEND", "torch")
    with pytest.raises(
        ValueError, match=r"REFATTN_BACKEND must be one of numpy, cupy, got 'torch'"
    ):
        default_backend()


def test_cupy_backend_without_cupy_names_the_install_command(monkeypatch):
    monkeypatch.setitem(sys.modules, "cupy", None)  # makes `import cupy` fail
    monkeypatch.setenv("REFATTN_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match=r'pip install "refattn\[gpu\]"'):
        default_backend()
    assert "not installed" in backend.available_backends()["cupy"]


def test_cupy_backend_without_a_gpu_names_the_install_command(monkeypatch, fake_cupy):
    def no_device():
        raise RuntimeError("cudaErrorNoDevice")

    fake_cupy.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=no_device))
    monkeypatch.setenv("REFATTN_BACKEND", "cupy")
    with pytest.raises(RuntimeError, match=r'needs an NVIDIA GPU.*pip install "refattn\[gpu\]"'):
        default_backend()


# --- moving arrays ---------------------------------------------------------------------------


def test_asarray_and_to_numpy_round_trip(xp):
    host = np.arange(6.0).reshape(2, 3)
    dev = asarray(host, backend=xp)
    assert get_array_module(dev) is xp
    assert np.array_equal(to_numpy(dev), host)
    assert isinstance(to_numpy(dev), np.ndarray)
    assert asarray(dev, backend=xp) is dev  # no copy when already there
    assert asarray(host, backend="numpy") is host
    assert asarray([1.0, 2.0], backend="numpy", dtype="float32").dtype == np.float32


def test_asarray_rejects_unknown_backend():
    with pytest.raises(
        ValueError, match=r"backend must be one of \('numpy', 'cupy'\) or None, got 'jax'"
    ):
        asarray([1.0], backend="jax")


def test_module_name_rejects_other_modules():
    with pytest.raises(ValueError, match="xp must be the numpy or cupy module"):
        backend.module_name(ast)


def test_synchronize_is_harmless(xp):
    backend.synchronize(xp)


# --- random generators (SPEC 7) -------------------------------------------------------------


def test_rng_int_seed_is_reproducible(xp):
    a = to_numpy(rng(42, xp).standard_normal(5))
    b = to_numpy(rng(42, xp).standard_normal(5))
    c = to_numpy(rng(43, xp).standard_normal(5))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_rng_passes_a_generator_through(xp):
    g = rng(0, xp)
    assert rng(g) is g
    assert rng(g, xp) is g


def test_rng_none_gives_fresh_entropy():
    assert not np.array_equal(rng(None, "numpy").random(4), rng(None, "numpy").random(4))


@pytest.mark.parametrize(
    ("seed", "error", "fragment"),
    [
        (-1, ValueError, "seed must be a non-negative int, got -1"),
        (1.5, TypeError, "seed must be None, a non-negative int or a Generator, got 1.5"),
        (True, TypeError, "got True"),
        (np.random.RandomState(0), TypeError, "got RandomState"),
    ],
)
def test_rng_rejects_bad_seeds(seed, error, fragment):
    with pytest.raises(error, match=fragment):
        rng(seed, "numpy")


def test_rng_rejects_a_generator_of_the_other_backend(fake_cupy):
    fake_cupy.random = types.SimpleNamespace(Generator=type("Generator", (), {}))
    with pytest.raises(TypeError, match="seed is a numpy Generator but xp is cupy"):
        rng(np.random.default_rng(0), fake_cupy)


# --- peak memory ------------------------------------------------------------------------------


def test_peak_memory_sees_a_known_allocation():
    _, peak = peak_memory(lambda: np.ones(1_000_000), np)
    assert 8_000_000 <= peak < 8_100_000


def test_peak_memory_counts_temporaries_that_are_freed():
    result, peak = peak_memory(lambda: float(np.ones(2_000_000).sum()), np)
    assert result == 2_000_000.0
    assert peak >= 16_000_000


def test_peak_memory_refuses_to_nest():
    import tracemalloc

    tracemalloc.start()
    try:
        with pytest.raises(RuntimeError, match="tracemalloc to be stopped"):
            peak_memory(lambda: None, np)
    finally:
        tracemalloc.stop()


class _ScriptedPool:
    """What ``peak_memory`` uses of CuPy, and a pool whose allocations a test scripts.

    ``module`` is named ``cupy`` and has ``cuda.MemoryHook`` (installed on a list with
    ``with hook:``, a second hook of one name refused with ``KeyError`` as CuPy does),
    ``cuda.get_current_stream().synchronize()``, ``get_default_memory_pool()`` (one pool,
    with ``malloc`` and ``free_all_blocks()``) and ``cuda.get_allocator()``, which returns
    :attr:`allocator`: the default pool's bound ``malloc``, as after ``import cupy``, unless
    a test sets another.  :meth:`malloc` and :meth:`free` call
    the installed hooks with the keywords CuPy's pool passes (cupy/cuda/memory.pyx):
    sizes rounded up to 512-byte blocks, ``mem_ptr`` and ``pmem_id`` 0 for a failed malloc.
    """

    def __init__(self):
        self.installed = []
        installed = self.installed

        class MemoryHook:
            name = "MemoryHook"

            def __enter__(self):
                if any(hook.name == self.name for hook in installed):
                    raise KeyError(f"memory hook {self.name} already exists")
                installed.append(self)
                return self

            def __exit__(self, *exc):
                installed.remove(self)

            def malloc_postprocess(self, **kwargs):
                pass

            def free_postprocess(self, **kwargs):
                pass

        class MemoryPool:
            def malloc(self, size):
                raise AssertionError("the scripted pool allocates through its test's script")

            def free_all_blocks(self):
                pass

        pool = MemoryPool()
        self.allocator = pool.malloc  # a bound method: equal to pool.malloc, not identical
        self.module = types.ModuleType("cupy")
        self.module.cuda = types.SimpleNamespace(
            MemoryHook=MemoryHook,
            get_current_stream=lambda: types.SimpleNamespace(synchronize=lambda: None),
            get_allocator=lambda: self.allocator,
        )
        self.module.get_default_memory_pool = lambda: pool

    def malloc(self, ptr, size):
        rounded = -(-size // 512) * 512
        for hook in list(self.installed):
            hook.malloc_postprocess(
                device_id=0, size=size, mem_size=rounded, mem_ptr=ptr, pmem_id=ptr and ptr + 1
            )

    def free(self, ptr, size):
        for hook in list(self.installed):
            hook.free_postprocess(device_id=0, mem_size=size, mem_ptr=ptr, pmem_id=ptr + 1)


def test_peak_memory_on_cupy_is_the_peak_of_live_pool_blocks():
    pool = _ScriptedPool()

    def script():
        pool.free(0x100, 4096)  # an array from before the call dies: not counted, not subtracted
        pool.malloc(0x200, 1000)  # a block of 1024 bytes           live 1024
        pool.malloc(0x300, 512)  # 512                              live 1536
        pool.free(0x200, 1024)  #                                   live 512
        pool.malloc(0x400, 2000)  # 2048                            live 2560, the peak
        pool.malloc(0, 8192)  # a failed malloc: mem_ptr 0, nothing held
        pool.free(0x300, 512)  #                                    live 2048
        pool.free(0x400, 2048)  #                                   live 0
        pool.malloc(0x600, 1)  # the result, alive at the end: 512  live 512
        return "result"

    result, peak = peak_memory(script, pool.module)
    assert result == "result" and peak == 2560 and pool.installed == []
    # (the growth of a pool that keeps every block it ever handed out, the former measure,
    # would be 1024 + 512 + 2048 + 512 = 4096)
    # a second measurement starts from nothing
    assert peak_memory(lambda: pool.malloc(0x700, 512), pool.module) == (None, 512)


def test_peak_memory_on_cupy_refuses_to_nest_as_on_numpy():
    pool = _ScriptedPool()
    inner = []

    def nested():
        pool.malloc(0x100, 512)
        inner.append(True)
        return peak_memory(lambda: inner.append("the inner call ran"), pool.module)

    # CuPy's own KeyError (one hook of a name per thread) becomes the RuntimeError of numpy
    with pytest.raises(RuntimeError, match=r"^peak_memory cannot measure inside another "
                       r"measurement: its memory hook 'refattn.peak_memory' is already "
                       r"installed on this thread$"):  # fmt: skip
        peak_memory(nested, pool.module)
    assert inner == [True] and pool.installed == []  # the outer hook is removed as well
    # the fake refuses the duplicate name as CuPy does: without the translation, a KeyError
    with pool.module.cuda.MemoryHook():
        with pytest.raises(KeyError, match="already exists"):
            pool.module.cuda.MemoryHook().__enter__()
    # a KeyError of fn itself is not mistaken for a nested measurement
    with pytest.raises(KeyError, match="fn's own"):
        peak_memory(lambda: {}["fn's own"], pool.module)
    assert pool.installed == []


def _raw_malloc(size):  # stands for cupy.cuda.memory._malloc, the allocator of set_allocator(None)
    raise AssertionError("not called")


class MemoryAsyncPool:  # stands for cupy.cuda.MemoryAsyncPool, which calls no memory hooks
    def malloc(self, size):
        raise AssertionError("not called")


@pytest.mark.parametrize(
    ("allocator", "named"),
    [
        (_raw_malloc, "test_backend._raw_malloc"),
        (MemoryAsyncPool().malloc, "test_backend.MemoryAsyncPool.malloc"),
        (lambda size: None, "test_backend.<lambda>"),
    ],
    ids=["set_allocator(None)", "MemoryAsyncPool", "a function"],
)
def test_peak_memory_on_cupy_refuses_an_allocator_that_calls_no_memory_hooks(allocator, named):
    pool = _ScriptedPool()
    pool.allocator = allocator
    called = []
    with pytest.raises(RuntimeError) as info:
        peak_memory(lambda: called.append(pool.malloc(0x100, 4096)), pool.module)
    message = str(info.value)
    assert f"needs the default pool's malloc as the allocator, got {named} " in message, message
    assert "MemoryAsyncPool call no memory hooks: the peak would read 0" in message, message
    assert called == [] and pool.installed == []  # refused before fn runs or a hook is installed
    # another pool's malloc is refused too; the default pool's, given again, is measured
    pool.allocator = type(pool.module.get_default_memory_pool())().malloc
    with pytest.raises(RuntimeError, match=r"got test_backend\..*MemoryPool\.malloc "):
        peak_memory(lambda: None, pool.module)
    pool.allocator = pool.module.get_default_memory_pool().malloc
    assert peak_memory(lambda: pool.malloc(0x100, 4096), pool.module) == (None, 4096)


# --- overlapping windows as a view ---------------------------------------------------------------


def test_window_view_holds_the_overlapping_windows_without_copying(xp):
    x = xp.arange(20.0).reshape(10, 2)
    view = backend.window_view(x, size=4, step=3, count=3)  # rows 0-3, 3-6, 6-9
    assert view.shape == (3, 4, 2)
    for b in range(3):
        assert np.array_equal(to_numpy(view[b]), to_numpy(x[3 * b : 3 * b + 4]))
    assert xp.shares_memory(view, x) if xp is np else True


def test_window_view_is_read_only_on_numpy():
    view = backend.window_view(np.zeros((6, 1)), size=3, step=1, count=4)
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0, 0] = 1.0


def test_window_view_of_a_read_only_array_reads_it():
    x = np.arange(12.0).reshape(6, 2)
    x.flags.writeable = False
    view = backend.window_view(x, size=3, step=2, count=2)
    assert np.array_equal(view[1], x[2:5]) and not view.flags.writeable


def _read_only_cases():
    """Every example configuration of the registry, with causal masking and key padding where
    the configuration honours them."""
    for name, entry in REGISTRY.items():
        for i, options in enumerate(entry.examples):
            supports = mechanism(name, **options).supports
            for causal in (False, True)[: 1 + (supports.causal is None)]:
                for padded in (False, True)[: 1 + (supports.key_padding is None)]:
                    yield pytest.param(
                        name, options, causal, padded, id=f"{name}-{i}-{causal}-{padded}"
                    )


@pytest.mark.parametrize(("name", "options", "causal", "padded"), list(_read_only_cases()))
def test_every_mechanism_runs_on_read_only_inputs(name, options, causal, padded):
    # the mechanisms that read windows of their inputs through window_view (sliding window,
    # segment memories, BigBird, Reformer, Sparse Transformer, adaptive span) and the rest
    # never write to an input or through a view: read-only inputs give the same result
    attend = mechanism(name, **options)
    g = np.random.default_rng(3)
    for n in (11, 12, 15):  # lengths with and without padding to whole blocks or segments
        q, k, v = (g.standard_normal((2, n, 4)) for _ in range(3))
        mask = np.ones((2, 1, n), dtype=bool)
        mask[0, 0, 8:] = False
        kw = dict(mask=mask if padded else None, causal=causal)
        expected = attend(q, k, v, **kw)
        for x in (q, k, v, mask):
            x.flags.writeable = False
        np.testing.assert_array_equal(attend(q, k, v, **kw), expected)


def test_window_view_rejects_windows_that_do_not_fit():
    with pytest.raises(
        ValueError,
        match=r"count = 3 windows of size = 4 rows every step = 3 rows do not fit in the 9 rows "
        r"of x: \(count − 1\)·step \+ size = 10 > 9",
    ):
        backend.window_view(np.zeros((9, 2)), size=4, step=3, count=3)


def test_window_view_names_count_when_ten_windows_do_not_fit():
    with pytest.raises(ValueError, match=r"count = 10 windows"):
        backend.window_view(np.zeros((6, 1)), size=2, step=1, count=10)


def test_rng_accepts_a_seed_sequence_on_numpy():
    g = backend.rng(np.random.SeedSequence(7), xp="numpy")
    assert isinstance(g, np.random.Generator)
    expected = np.random.default_rng(np.random.SeedSequence(7)).random(3)
    assert np.array_equal(g.random(3), expected)


def test_rng_accepts_a_bit_generator_on_numpy_and_wraps_it():
    bits = np.random.PCG64(3)
    g = backend.rng(bits, xp="numpy")
    assert isinstance(g, np.random.Generator)
    assert g.bit_generator is bits  # default_rng semantics: wrapped, not copied
    assert np.array_equal(g.random(3), np.random.default_rng(3).random(3))


@pytest.mark.parametrize("seed", [np.random.SeedSequence(1), np.random.PCG64(1)])
def test_functions_taking_rng_accept_seed_sequences_and_bit_generators(seed):
    from refattn import bigbird, jl, performer, reformer

    jl.projection(8, 4, rng=seed, xp="numpy")
    performer.random_features(4, 4, rng=seed, xp="numpy")
    reformer.random_rotations(4, buckets=4, rng=seed, xp="numpy")
    bigbird.random_block_assignment(6, 2, rng=seed, xp="numpy")


def test_rng_still_rejects_other_objects_naming_the_forms():
    with pytest.raises(
        TypeError,
        match=r"seed must be None, a non-negative int or a Generator, got '0' "
        r"\(a numpy\.random\.SeedSequence, or a NumPy BitGenerator on numpy",
    ):
        backend.rng("0", xp="numpy")


def test_window_view_refuses_a_step_that_is_not_positive():
    # a step of 0 repeats one window; a negative one would stride before the array's memory
    for step in (0, -3):
        with pytest.raises(ValueError, match=rf"step must be an integer >= 1, got {step}"):
            backend.window_view(np.zeros((9, 2)), size=2, step=step, count=2)


# --- padding and indicators ---------------------------------------------------------------------


def test_pad_axis_adds_value_rows_before_and_after_along_the_axis(xp):
    x = xp.arange(6.0).reshape(2, 3)
    padded = to_numpy(backend.pad_axis(x, -1, 1, 2, value=-5.0))
    assert padded.shape == (2, 6)
    np.testing.assert_array_equal(padded[:, 1:4], to_numpy(x))
    assert (padded[:, [0, 4, 5]] == -5.0).all()
    assert backend.pad_axis(x, 0, 0, 0) is x  # nothing to add: no copy
    rows = to_numpy(backend.pad_axis(x, 0, 0, 1))
    np.testing.assert_array_equal(rows, np.vstack([to_numpy(x), np.zeros((1, 3))]))


def test_pad_axis_refuses_a_result_that_cannot_fit_before_allocating():
    _, peak = peak_memory(
        lambda: pytest.raises(ValueError, backend.pad_axis, np.zeros((2, 3)), 0, 10**12, 0),
        np,
    )
    assert peak < 1_000_000


def test_indicator_flags_exactly_the_positions(xp):
    assert to_numpy(backend.indicator(6, (0, 4), xp)).tolist() == [1, 0, 0, 0, 1, 0]
    assert to_numpy(backend.indicator(6, xp.asarray([5, 1]), xp)).tolist() == [0, 1, 0, 0, 0, 1]
