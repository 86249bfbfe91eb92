"""refattn's use of CuPy, checked against CuPy's own source, without CuPy.

``tests/data/cupy-api-<version>.json`` lists CuPy's public API: the names of
``cupy``, ``cupy.linalg``, ``cupy.random``, ``cupy.lib.stride_tricks`` (and
``cupyx.scipy.special``) with the keywords each callable takes, the methods
and attributes of ``cupy.ndarray`` and ``cupy.random.Generator``, and the
parts of ``cupy.cuda`` refattn reaches.  ``tests/data/make_cupy_api.py``
writes it from CuPy's source distribution (it reads the Python and Cython
files; it imports nothing from CuPy), for the newest release of each of the
two newest major lines.  Regenerate with::

    python tests/data/make_cupy_api.py 14.2.0 13.6.0

The tests here

1. check the files (version, sdist, sha256) and the parser that wrote them,
   on small snippets in CuPy's own styles, so a broken parser fails here;
2. scan every module of refattn (figures included) for ``xp.<name>``
   chains -- ``xp`` being any name or attribute that holds an array module --
   and require each name, and each keyword passed to it, in both versions;
3. do the same for ndarray methods and attributes (any ``<expr>.<name>`` whose
   name is public on ``numpy.ndarray``) and for Generator methods called on a
   generator, with short tables of the exceptions and why each is one;
4. feed the scanner snippets that misuse CuPy, to show each check fails.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import inspect
import json
import re
import sys
import tarfile
import textwrap
from functools import cache
from pathlib import Path

import numpy
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
PACKAGE = ROOT / "refattn"
VERSIONS = ("14.2.0", "13.6.0")
TOP_KEYS = {
    "cupy_version",
    "sdist",
    "sha256",
    "generator",
    "modules",
    "ufunc",
    "ndarray",
    "Generator",
    "cuda",
}
KINDS = {"function", "ufunc", "reduction", "callable", "class", "dtype", "constant", "module"}
KINDS_WITH_PARAMS = {"function", "ufunc", "reduction", "callable"}


def _load_generator():
    """tests/data/make_cupy_api.py as a module (tests/data is no package)."""
    name = "make_cupy_api"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, DATA / "make_cupy_api.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


@cache
def api(version: str) -> dict:
    return json.loads((DATA / f"cupy-api-{version}.json").read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------
# 1. the data files, and the parser that wrote them
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_data_file_names_its_version_and_source(version):
    data = api(version)
    assert set(data) == TOP_KEYS
    assert data["cupy_version"] == version
    assert data["sdist"] == f"cupy-{version}.tar.gz"
    assert re.fullmatch(r"[0-9a-f]{64}", data["sha256"])
    assert data["generator"] == "tests/data/make_cupy_api.py"
    assert (ROOT / data["generator"]).is_file()
    assert set(data["modules"]) >= {"cupy", "cupy.linalg", "cupy.random", "cupy.lib.stride_tricks"}


@pytest.mark.parametrize("version", VERSIONS)
def test_data_entries_are_well_formed(version):
    data = api(version)
    for module, names in data["modules"].items():
        assert len(names) >= 2, module
        for name, entry in names.items():
            where = f"{module}.{name}"
            assert name.isidentifier() and not name.startswith("_"), where
            assert entry["kind"] in KINDS | {"other"}, where
            if entry["kind"] in KINDS_WITH_PARAMS:
                assert all(p.isidentifier() for p in entry["params"]), where
                assert isinstance(entry["var_kwargs"], bool), where
    for section in (data["ndarray"], data["Generator"]):
        assert section["attributes"] == sorted(section["attributes"])
        for name, method in section["methods"].items():
            assert name.isidentifier() and not name.startswith("_"), name
            assert all(p.isidentifier() and p != "self" for p in method["params"]), name


@pytest.mark.parametrize("version", VERSIONS)
def test_data_agrees_with_what_is_known_of_cupy(version):
    """Facts about CuPy known independently of the parser (its documentation and source)."""
    data = api(version)
    top, linalg = data["modules"]["cupy"], data["modules"]["cupy.linalg"]
    assert "mode" in linalg["qr"]["params"]
    # einsum(*operands, **kwargs) takes dtype and optimize out of kwargs, rejects the rest
    assert top["einsum"]["declares_var_kwargs"] is True
    assert top["einsum"]["var_kwargs"] is False
    assert set(top["einsum"]["params"]) == {"dtype", "optimize"}
    assert top["take_along_axis"]["params"] == ["a", "indices", "axis"]
    stride_tricks = data["modules"]["cupy.lib.stride_tricks"]
    assert stride_tricks["as_strided"]["params"] == ["x", "shape", "strides"]
    assert top["where"]["kind"] == top["broadcast_to"]["kind"] == "function"
    for ufunc in ("ldexp", "frexp", "exp", "maximum", "isfinite", "add"):
        assert top[ufunc]["kind"] == "ufunc", ufunc
        assert top[ufunc]["params"] == ["casting", "dtype", "out"], ufunc
    assert top["sum"]["params"] == ["a", "axis", "dtype", "out", "keepdims"]
    assert "where" not in top["sum"]["params"]
    assert "errstate" not in top  # CuPy has no errstate: it never warns of overflow
    assert top["isneginf"]["kind"] == "function"
    assert data["modules"]["cupy.random"]["default_rng"]["params"] == ["seed"]
    assert data["modules"]["cupy.random"]["Generator"]["kind"] == "class"
    assert top["get_default_memory_pool"]["params"] == []
    assert top["cuda"] == {"kind": "module", "module": "cupy.cuda"}
    assert top["linalg"]["kind"] == top["random"]["kind"] == top["lib"]["kind"] == "module"
    assert top["float32"]["kind"] == top["int64"]["kind"] == top["finfo"]["kind"] == "dtype"
    assert top["inf"]["kind"] == top["pi"]["kind"] == top["newaxis"]["kind"] == "constant"
    assert top["matmul"]["kind"] == "callable"  # a generalized ufunc object
    assert data["ufunc"]["call_params"] == ["casting", "dtype", "out"]
    assert set(data["ufunc"]["methods"]) == {"reduce", "accumulate", "reduceat", "outer", "at"}
    ndarray = data["ndarray"]
    assert {"shape", "dtype", "ndim", "size", "strides", "T", "real", "imag"} <= set(
        ndarray["attributes"]
    )
    assert ndarray["methods"]["sum"]["params"] == ["axis", "dtype", "out", "keepdims"]
    assert ndarray["methods"]["get"]["params"] == ["stream", "order", "out", "blocking"]
    assert "__index__" not in ndarray["dunders"]  # a 0-d cupy array is no index
    assert {"__bool__", "__float__", "__int__", "__matmul__", "__dlpack__"} <= set(
        ndarray["dunders"]
    )
    assert ndarray["always_raise"] == ["__array__"]  # no implicit copy to the host
    generator = data["Generator"]["methods"]
    assert generator["standard_normal"]["params"] == ["size", "dtype", "out"]
    assert "normal" not in generator  # CuPy's Generator has no normal(loc, scale)
    cuda = data["cuda"]
    assert cuda["MemoryHook_exists"] is True
    hook = cuda["classes"]["MemoryHook"]
    for method in ("malloc_preprocess", "malloc_postprocess", "free_postprocess"):
        assert hook["methods"][method] == {
            "declares_var_kwargs": True,
            "params": [],
            "var_args": False,
            "var_kwargs": True,
        }
    assert cuda["hook_call_keywords"]["malloc_postprocess"] == [
        "device_id",
        "mem_ptr",
        "mem_size",
        "pmem_id",
        "size",
    ]
    pool = cuda["classes"]["MemoryPool"]["methods"]
    assert pool["used_bytes"]["params"] == pool["total_bytes"]["params"] == []
    assert pool["free_all_blocks"]["params"] == ["stream"]
    assert cuda["modules"]["cupy.cuda.runtime"]["memGetInfo"]["kind"] == "function"


def test_the_newer_line_adds_what_numpy_2_added():
    """A difference between the two files that the releases' change logs document."""
    new, old = api("14.2.0")["modules"]["cupy"], api("13.6.0")["modules"]["cupy"]
    assert {"cumulative_sum", "unique_values", "permute_dims"} <= set(new) - set(old)
    assert "mT" in api("14.2.0")["ndarray"]["attributes"]
    assert "mT" not in api("13.6.0")["ndarray"]["attributes"]


def _lines(source: str) -> list[str]:
    return [line.text for line in gen.logical_lines(textwrap.dedent(source))]


def test_logical_lines_join_brackets_and_continuations_and_drop_comments():
    source = """
        x = f(a,  # a comment (with a parenthesis
              b)
        y = 1 + \\
            2
        s = '''a docstring
        def not_a_def(x):
        '''  # trailing
        cdef class C:
            pass
    """
    assert [" ".join(line.split()) for line in _lines(source)] == [
        "x = f(a, b)",
        "y = 1 + 2",
        "s = '''a docstring def not_a_def(x): '''",
        "cdef class C:",
        "pass",
    ]
    assert _lines(source)[2] == "s = '''a docstring\ndef not_a_def(x):\n'''"  # verbatim


@pytest.mark.parametrize(
    ("header", "params", "var_args", "var_kwargs"),
    [
        (
            # a multi-line cpdef with types and defaults, as core.pyx writes them
            """
            cpdef _ndarray_base sum(
                    self, axis=None, dtype=None, _ndarray_base out=None,
                    bint keepdims=False):
            """,
            ["self", "axis", "dtype", "out", "keepdims"],
            False,
            False,
        ),
        (
            "cpdef (Py_ssize_t, Py_ssize_t) _block(const shape_t& shape, int n=4) except *:",
            ["shape", "n"],
            False,
            False,
        ),
        (
            "def __call__(self, object a, axis=None, _ndarray_base out not None, *, kind='x'):",
            ["self", "a", "axis", "out", "kind"],
            False,
            False,
        ),
        ("def einsum(*operands, **kwargs):", [], True, True),
        ("def f(a, b=(1, 2), /, c={'k': 1}, *rest, d: int = 3, **kw):", ["c", "d"], True, True),
        ("cpdef inline str _hex(char* buf, double[:] view=None) noexcept:", ["buf", "view"], 0, 0),
    ],
)
def test_parse_signature(header, params, var_args, var_kwargs):
    (line,) = _lines(header)
    func = gen.parse_signature(line)
    assert func.params == params
    assert func.var_args == bool(var_args)
    assert func.var_kwargs == bool(var_kwargs)


def test_parse_signature_names_the_positional_only_parameters():
    func = gen.parse_signature("def f(a, b=(1, 2), /, c=0):")
    assert (func.name, func.positional_only, func.params) == ("f", ["a", "b"], ["c"])


def test_keywords_taken_out_of_kwargs_count_as_parameters():
    source = '''
        def __call__(self, *args, **kwargs):
            """Uses kwargs.pop('documented', 0) in its docstring only."""
            # where = kwargs.pop('where', None)
            out = kwargs.pop('out', None)
            where = kwargs.pop('_where', None)
            dtype = kwargs.get("dtype")
            if kwargs:
                raise TypeError('Wrong arguments %s' % kwargs)
    '''
    text = textwrap.dedent(source)
    func = gen.parse_signature(gen.logical_lines(text)[0].text)
    func.body = text
    effective = func.effective()
    assert effective.params == ["self", "dtype", "out"]
    assert effective.var_kwargs is False
    func.body = text.replace("if kwargs:", "if not kwargs:")
    assert func.effective().var_kwargs is True


#: a miniature CuPy: each file copies a pattern of the real one
MINI_CUPY = {
    "cupy/_version.py": "__version__ = '0.0.1'\n",
    "cupy/__init__.py": """
        from __future__ import annotations
        import sys as _sys
        import numpy as _numpy
        from cupy import _core
        from cupy import linalg  # NOQA
        from cupy import random  # NOQA
        from cupy._core import ndarray  # NOQA
        from cupy._core import ufunc  # NOQA
        from numpy import inf  # NOQA
        from numpy import float32  # NOQA
        from numpy import dtype  # NOQA
        from cupy._math.explog import exp  # NOQA
        from cupy._math.arithmetic import power  # NOQA
        from cupy._math.sumprod import sum  # NOQA
        from cupy.lib._shape_base import apply_along_axis  # NOQA
        pow = power
        NINF = -inf
        if _numpy.__version__ < "2":
            from numpy import bool_ as bool  # NOQA
        else:
            from numpy import bool  # NOQA
        def get_default_memory_pool():
            return None
    """,
    "cupy/_core/__init__.py": """
        from cupy._core._kernel import create_ufunc  # NOQA
        from cupy._core._kernel import ufunc  # NOQA
        from cupy._core._routines_math import power  # NOQA
        from cupy._core.core import ndarray  # NOQA
    """,
    "cupy/_core/_kernel.pyx": """
        cdef class ufunc:
            cdef:
                readonly Py_ssize_t nin
                readonly object name
            def __init__(self, name, nin):
                self.name = name
            def __call__(self, *args, **kwargs):
                out = kwargs.pop('out', None)
                dtype = kwargs.pop('dtype', None)
                if kwargs:
                    raise TypeError('Wrong arguments %s' % kwargs)
            def reduce(self, array, axis=0, dtype=None, out=None, keepdims=False):
                pass

        cpdef create_ufunc(name, ops, routine=None, preamble='', doc='',
                           default_casting=None):
            return ufunc(name, 1)
    """,
    "cupy/_core/_routines_math.pyx": """
        from cupy._core._kernel import create_ufunc

        cdef create_arithmetic(name, op, doc):
            return create_ufunc('cupy_' + name, (), 'out0 = in0 %s in1' % op, doc=doc)

        cdef _power = create_arithmetic(
            'power', '**',
            '''Elementwise power.''')

        power = _power
    """,
    "cupy/_core/core.pxd": """
        cdef class _ndarray_base:
            cdef:
                readonly Py_ssize_t size
                public shape_t _shape
                readonly object dtype
            cpdef _ndarray_base sum(self, axis=*, dtype=*, out=*, keepdims=*)
    """,
    "cupy/_core/core.pyx": '''
        class ndarray(_ndarray_base):
            __module__ = 'cupy'
            def view(self, dtype=None, type=None):
                pass

        cdef class _ndarray_base:
            property shape:
                def __get__(self):
                    return tuple(self._shape)
            @property
            def ndim(self):
                return self._shape.size()
            cpdef _ndarray_base sum(
                    self, axis=None, dtype=None, out=None,
                    bint keepdims=False):
                """Returns the sum."""
                return None
            cpdef _ndarray_base view(self, dtype=None, array_class=None):
                pass
            cdef object hidden_helper(self):
                pass
            def __richcmp__(object self, object other, int op):
                pass
            def __nonzero__(self):
                return True
            def __array__(self, dtype=None):
                raise TypeError('Implicit conversion to a NumPy array is not allowed.')
    ''',
    "cupy/_math/__init__.py": "",
    "cupy/_math/explog.py": """
        from cupy import _core
        from cupy._math import ufunc

        exp = ufunc.create_math_ufunc('exp', 1, 'cupy_exp', 'Elementwise exp.')
    """,
    "cupy/_math/ufunc.py": """
        from cupy import _core

        def create_math_ufunc(math_name, nargs, name, doc):
            return _core.create_ufunc(name, ('f->f',), 'out0 = %s(in0)' % math_name, doc=doc)
    """,
    "cupy/_math/arithmetic.py": "from cupy import _core\n\npower = _core.power\n",
    "cupy/_math/sumprod.py": """
        def sum(a, axis=None, dtype=None, out=None, keepdims=False):
            return a.sum(axis, dtype, out, keepdims)
    """,
    "cupy/lib/__init__.py": "from cupy.lib import stride_tricks  # NOQA\n",
    "cupy/lib/_shape_base.py": "def apply_along_axis(func1d, axis, arr, *args, **kw):\n  pass\n",
    "cupy/lib/stride_tricks.py": "import numpy as np\n"
    "def as_strided(x, shape=None, strides=None):\n  pass",
    "cupy/linalg/__init__.py": """
        from cupy.linalg._decomposition import *  # NOQA
        from cupy.linalg._norms import norm  # NOQA
    """,
    "cupy/linalg/_decomposition.py": """
        __all__ = ['qr']
        def qr(a, mode='reduced'):
            pass
        def helper(a):
            pass
    """,
    "cupy/linalg/_norms.py": "def norm(x, ord=None, axis=None, keepdims=False):\n  pass\n",
    "cupy/random/__init__.py": """
        def default_rng(seed=None):
            pass

        def __getattr__(key):
            if key == 'Generator':
                import cupy.random._generator_api
                Generator = cupy.random._generator_api.Generator
                return Generator
            raise AttributeError(key)
    """,
    "cupy/random/_generator_api.pyx": """
        class Generator:
            def __init__(self, bit_generator):
                self.bit_generator = bit_generator
            def standard_normal(self, size=None, dtype=numpy.float64, out=None):
                pass
            def integers(
                    self, low, high=None, size=None, dtype=numpy.int64,
                    endpoint=False):
                pass
    """,
    "cupy/cuda/__init__.py": """
        from cupy.cuda import memory_hook  # NOQA
        from cupy.cuda.memory_hook import MemoryHook  # NOQA
        from cupy.cuda.memory import MemoryPool  # NOQA
    """,
    "cupy/cuda/memory_hook.pyx": """
        class MemoryHook(object):
            name = 'MemoryHook'
            def malloc_postprocess(self, **kwargs):
                pass
    """,
    "cupy/cuda/memory.pyx": """
        cdef class MemoryPool:
            cpdef size_t used_bytes(self):
                return 0
            cpdef _malloc(self, size_t size):
                for hook in hooks:
                    hook.malloc_postprocess(device_id=0,
                                            mem_size=size,
                                            mem_ptr=0)
    """,
}


def _write_tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return root


def test_build_api_follows_cupys_patterns(tmp_path):
    doc = gen.build_api(_write_tree(tmp_path, MINI_CUPY))
    top = doc["modules"]["cupy"]
    ufunc = {"kind": "ufunc", "params": ["dtype", "out"], "var_kwargs": False}
    assert top["exp"] == {**ufunc, "factory": "create_math_ufunc"}
    assert top["power"] == {**ufunc, "factory": "create_arithmetic"}  # via a cdef factory
    assert top["pow"] == top["power"]  # a plain alias
    assert top["sum"] == {
        "kind": "function",
        "params": ["a", "axis", "dtype", "out", "keepdims"],
        "var_args": False,
        "var_kwargs": False,
    }
    assert top["apply_along_axis"]["var_kwargs"] is True
    assert top["get_default_memory_pool"]["params"] == []
    assert top["inf"] == {"kind": "constant", "origin": "numpy"}
    assert top["NINF"] == {"kind": "constant", "value": "-inf"}
    assert top["float32"]["kind"] == top["dtype"]["kind"] == top["bool"]["kind"] == "dtype"
    assert top["linalg"] == {"kind": "module", "module": "cupy.linalg"}
    assert top["lib"] == {"kind": "module", "module": "cupy.lib"}  # imported, so an attribute
    assert top["ndarray"]["kind"] == top["ufunc"]["kind"] == "class"
    assert not any(name.startswith("_") for name in top)
    assert set(doc["modules"]["cupy.linalg"]) == {"qr", "norm"}  # the star import obeys __all__
    assert doc["modules"]["cupy.linalg"]["qr"]["params"] == ["a", "mode"]
    assert doc["modules"]["cupy.lib.stride_tricks"] == {
        "as_strided": {
            "kind": "function",
            "params": ["x", "shape", "strides"],
            "var_args": False,
            "var_kwargs": False,
        }
    }
    generator_class = doc["modules"]["cupy.random"]["Generator"]
    assert generator_class["lazy"] is True and generator_class["kind"] == "class"
    assert doc["ufunc"]["call_params"] == ["dtype", "out"]
    assert doc["ufunc"]["methods"]["reduce"]["params"] == [
        "array",
        "axis",
        "dtype",
        "out",
        "keepdims",
    ]
    assert doc["ufunc"]["factories"] == ["create_arithmetic", "create_math_ufunc", "create_ufunc"]
    ndarray = doc["ndarray"]
    assert ndarray["attributes"] == ["dtype", "ndim", "shape", "size"]  # pxd, property, @property
    assert set(ndarray["methods"]) == {"sum", "view"}  # the cdef method is invisible
    assert ndarray["methods"]["sum"]["params"] == ["axis", "dtype", "out", "keepdims"]
    assert ndarray["methods"]["view"]["params"] == ["dtype", "type"]  # ndarray overrides the base
    assert {"__eq__", "__lt__", "__bool__", "__array__"} <= set(ndarray["dunders"])
    assert "__richcmp__" not in ndarray["dunders"] and "__index__" not in ndarray["dunders"]
    assert ndarray["always_raise"] == ["__array__"]
    assert doc["Generator"]["attributes"] == ["bit_generator"]
    assert doc["Generator"]["methods"]["integers"]["params"] == [
        "low",
        "high",
        "size",
        "dtype",
        "endpoint",
    ]
    cuda = doc["cuda"]
    assert cuda["MemoryHook_exists"] is True
    assert cuda["classes"]["MemoryHook"]["class_attributes"] == ["name"]
    assert cuda["classes"]["MemoryPool"]["methods"]["used_bytes"]["params"] == []
    assert cuda["hook_call_keywords"] == {
        "malloc_postprocess": ["device_id", "mem_ptr", "mem_size"]
    }


def test_make_records_the_sdist_and_is_deterministic(tmp_path):
    tree = _write_tree(tmp_path / "cupy-0.0.1", MINI_CUPY)
    sdist = tmp_path / "cupy-0.0.1.tar.gz"
    with tarfile.open(sdist, "w:gz") as archive:
        archive.add(tree, arcname="cupy-0.0.1")
    first = gen.make(sdist, tmp_path)
    assert first.name == "cupy-api-0.0.1.json"
    text = first.read_text(encoding="utf-8")
    doc = json.loads(text)
    assert set(doc) == TOP_KEYS
    assert doc["cupy_version"] == "0.0.1" and doc["sdist"] == "cupy-0.0.1.tar.gz"
    assert doc["sha256"] == hashlib.sha256(sdist.read_bytes()).hexdigest()
    assert gen.make(sdist, tmp_path).read_text(encoding="utf-8") == text


# ---------------------------------------------------------------------------
# 2-3. refattn's use of CuPy
# ---------------------------------------------------------------------------

#: functions that return an array module: a name bound to their result is one too
ARRAY_MODULE_FUNCS = {
    "module_for",
    "get_array_module",
    "default_backend",
    "_cupy_or_raise",
    "_cupy_if_imported",
    "_named_array_module",
    "check_array",
}

#: attributes every module has; the data lists only public names
MODULE_DUNDERS = {"__name__"}

#: the names of numpy.ndarray and numpy.random.Generator: candidates for array and
#: generator methods when they appear as ``<expr>.<name>``
NDARRAY_NAMES = {n for n in dir(numpy.ndarray) if not n.startswith("_")}
GENERATOR_NAMES = {n for n in dir(numpy.random.Generator) if not n.startswith("_")}

#: receivers taken for random generators: these names, and names bound to ``...rng(...)``
GENERATOR_RECEIVER = re.compile(r"^(g|gen|generator|rng|\w+_rng|\w+_generator)$")

#: ``<expr>.<name>`` uses of numpy.ndarray names that CuPy's ndarray lacks (in either
#: version), where the receiver is never a CuPy array: (file, name) -> why
EXEMPT_ARRAY_NAMES: dict[tuple[str, str], str] = {}

#: ndarray-method calls whose keywords numpy's own method rejects too, so the receiver
#: is no array (e.g. ``list.sort(key=...)``): (file, name, keyword) -> what the receiver is
NOT_ARRAY_CALLS: dict[tuple[str, str, str], str] = {
    ("refattn/cli.py", "dump", "indent"): "json.dump(..., indent=...): the json module",
}

#: array-module uses the scanner does not check against the data because the code makes
#: them safe where CuPy lacks the name; each is listed so that a new one is seen:
#: (file, chain) -> how the code is safe
GUARDED: dict[tuple[str, str], str] = {
    ("refattn/_validation.py", "getattr(xp, 'errstate', None)"): (
        "quiet(): getattr with a default; a null context where the module has no errstate "
        "(CuPy, which never warns)"
    ),
}


#: array-module uses in branches that run only on numpy (none today: refattn's numpy-only
#: branches call numpy itself): (file, chain) -> why the branch is numpy-only
NUMPY_ONLY: dict[tuple[str, str], str] = {}


class Use:
    """One use of CuPy's API found in refattn's source."""

    def __init__(self, file, line, kind, text, segments=(), keywords=(), status="checked"):
        self.file = file
        self.line = line
        self.kind = kind  # "module" | "array" | "generator" | "subclass" | "import"
        self.text = text
        self.segments = tuple(segments)
        self.keywords = tuple(keywords)  # None for a ** mapping
        self.status = status  # "checked" | "hasattr" | "getattr-default" | "numpy-only"

    def __repr__(self):
        return f"{self.file}:{self.line}: {self.text}"


def _call_name(node) -> str:
    func = node.func if isinstance(node, ast.Call) else node
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""


class Scanner:
    """Collects the uses of array modules, array methods and generator methods of one file."""

    def __init__(self, tree: ast.Module, file: str):
        self.file = file
        self.uses: list[Use] = []
        self.modules = {"xp"}
        self.generators: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                for target in node.targets:
                    if not isinstance(target, ast.Name):
                        continue
                    if self._is_module_call(node.value):
                        self.modules.add(target.id)
                    elif _call_name(node.value).endswith("rng"):
                        self.generators.add(target.id)
        self.visit(tree, numpy_only=False, guards=frozenset())

    # -- what is what ----------------------------------------------------------

    def _is_module_call(self, node) -> bool:
        """``module_for(xp)`` and the like, but not ``module_for("numpy")``."""
        if not isinstance(node, ast.Call) or _call_name(node) not in ARRAY_MODULE_FUNCS:
            return False
        return not any(isinstance(a, ast.Constant) and a.value == "numpy" for a in node.args)

    def is_module(self, node) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.modules
        if isinstance(node, ast.Attribute):
            return node.attr == "xp"
        return self._is_module_call(node)

    def segments(self, node):
        """``['linalg', 'norm']`` for ``xp.linalg.norm`` (or ``self.xp.linalg.norm``), else None."""
        parts = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
            if self.is_module(node):
                return parts[::-1]
        return None

    def is_generator(self, node) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.generators or bool(GENERATOR_RECEIVER.match(node.id))
        if isinstance(node, ast.Attribute):
            return bool(GENERATOR_RECEIVER.match(node.attr))
        return isinstance(node, ast.Call) and _call_name(node).endswith("rng")

    def _numpy_side(self, test):
        """'body' or 'orelse': the branch of ``if test`` that runs only on numpy, if any."""
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            left, op, right = test.left, test.ops[0], test.comparators[0]
            if self.is_module(left) and isinstance(right, ast.Name) and right.id in ("numpy", "np"):
                if isinstance(op, ast.Is):
                    return "body"
                if isinstance(op, ast.IsNot):
                    return "orelse"
            if (
                isinstance(left, ast.Call)
                and _call_name(left).endswith("module_name")
                and isinstance(right, ast.Constant)
                and right.value in ("numpy", "cupy")
            ):
                equal = isinstance(op, ast.Eq)
                if equal or isinstance(op, ast.NotEq):
                    return "body" if equal == (right.value == "numpy") else "orelse"
        return None

    def _hasattr_guards(self, test) -> frozenset:
        """``(receiver, name)`` of each ``hasattr(receiver, "name")`` that ``test`` requires."""
        found = set()
        both = isinstance(test, ast.BoolOp) and isinstance(test.op, ast.And)
        terms = test.values if both else [test]
        for term in terms:
            if (
                isinstance(term, ast.Call)
                and _call_name(term) == "hasattr"
                and len(term.args) == 2
                and isinstance(term.args[1], ast.Constant)
            ):
                found.add((ast.unparse(term.args[0]), term.args[1].value))
        return frozenset(found)

    # -- the walk --------------------------------------------------------------

    def visit(self, node, numpy_only: bool, guards: frozenset):
        if isinstance(node, (ast.If, ast.IfExp)):
            side = self._numpy_side(node.test)
            self.visit(node.test, numpy_only, guards)
            body_guards = guards | self._hasattr_guards(node.test)
            for child in node.body if isinstance(node.body, list) else [node.body]:
                self.visit(child, numpy_only or side == "body", body_guards)
            for child in node.orelse if isinstance(node.orelse, list) else [node.orelse]:
                self.visit(child, numpy_only or side == "orelse", guards)
            return
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
            required = guards  # `hasattr(xp, "a") and xp.a(...)`: earlier terms guard later ones
            for value in node.values:
                self.visit(value, numpy_only, required)
                required = required | self._hasattr_guards(value)
            return
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] in ("cupy", "cupyx")
        ):
            for alias in node.names:
                text = f"from {node.module} import {alias.name}"
                status = "numpy-only" if numpy_only else "checked"
                self.uses.append(
                    Use(
                        self.file,
                        node.lineno,
                        "import",
                        text,
                        [node.module, alias.name],
                        (),
                        status,
                    )
                )
        if isinstance(node, ast.ClassDef):
            for base in node.bases:
                parts = self.segments(base)
                if parts is not None:
                    self._subclass(node, base, parts)
        if isinstance(node, ast.Call):
            if self._call(node, numpy_only, guards):
                return
        if isinstance(node, ast.Attribute):
            parts = self.segments(node)
            if parts is not None:
                self._module_use(node, parts, (), numpy_only, guards)
                return
            self._member(node, None, numpy_only)
        for child in ast.iter_child_nodes(node):
            self.visit(child, numpy_only, guards)

    def _call(self, node: ast.Call, numpy_only, guards) -> bool:
        """Record a call; True if its children are visited here."""
        keywords = tuple(k.arg for k in node.keywords)
        func = node.func
        if (
            isinstance(func, ast.Name)
            and func.id == "getattr"
            and len(node.args) in (2, 3)
            and self.is_module(node.args[0])
            and isinstance(node.args[1], ast.Constant)
        ):
            name = node.args[1].value
            status = (
                "getattr-default" if len(node.args) == 3 and name not in MODULE_DUNDERS else None
            )
            text = ast.unparse(node)
            self._module_use(node, [node.args[1].value], (), numpy_only, guards, status, text)
            for child in node.args[2:]:
                self.visit(child, numpy_only, guards)
            return True
        if isinstance(func, ast.Attribute):
            parts = self.segments(func)
            if parts is not None:
                self._module_use(func, parts, keywords, numpy_only, guards)
            else:
                self._member(func, keywords, numpy_only)
                self.visit(func.value, numpy_only, guards)
            for child in [*node.args, *node.keywords]:
                self.visit(child, numpy_only, guards)
            return True
        return False

    def _module_use(self, node, parts, keywords, numpy_only, guards, status=None, text=None):
        receiver = ast.unparse(node.value) if isinstance(node, ast.Attribute) else ""
        if status is None:
            if (receiver, parts[0]) in guards:
                status = "hasattr"
            elif numpy_only:
                status = "numpy-only"
            else:
                status = "checked"
        text = text or ast.unparse(node)
        self.uses.append(Use(self.file, node.lineno, "module", text, parts, keywords, status))

    def _member(self, node: ast.Attribute, keywords, numpy_only):
        """``<expr>.<name>`` with a numpy.ndarray or Generator name; ``keywords`` if called."""
        status = "numpy-only" if numpy_only else "checked"
        called = keywords is not None
        if node.attr in GENERATOR_NAMES and called and self.is_generator(node.value):
            text = f"{ast.unparse(node.value)}.{node.attr}(...)"
            self.uses.append(
                Use(self.file, node.lineno, "generator", text, [node.attr], keywords, status)
            )
        elif node.attr in NDARRAY_NAMES:
            text = f"<expr>.{node.attr}" + ("(...)" if called else "")
            self.uses.append(
                Use(self.file, node.lineno, "array", text, [node.attr], keywords or (), status)
            )

    def _subclass(self, node: ast.ClassDef, base, parts):
        """``class Hook(xp.cuda.MemoryHook)``: the methods it overrides, with their keywords."""
        for item in node.body:
            if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
                args = item.args
                required = [
                    a.arg
                    for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                    if d is None
                ]
                self.uses.append(
                    Use(
                        self.file,
                        item.lineno,
                        "subclass",
                        f"{ast.unparse(base)}.{item.name}",
                        [*parts, item.name],
                        required,
                    )
                )


def scan_source(source: str, file: str = "<snippet>") -> list[Use]:
    return Scanner(ast.parse(source), file).uses


@cache
def refattn_uses() -> tuple[Use, ...]:
    uses = []
    for path in sorted(PACKAGE.rglob("*.py")):
        file = path.relative_to(ROOT).as_posix()
        uses += scan_source(path.read_text(encoding="utf-8"), file)
    return tuple(uses)


def _namespaces(data: dict) -> dict:
    return {**data["modules"], **data["cuda"]["modules"]}


def _module_entry(data: dict, parts) -> tuple[str | None, dict | None]:
    """Walk ``cupy.<parts>``: (problem, entry of the last name reached)."""
    spaces = _namespaces(data)
    module = "cupy"
    for i, name in enumerate(parts):
        if name in MODULE_DUNDERS:
            return None, None
        deeper = f"{module}.{name}"
        space = spaces.get(module)
        if space is None:
            # cupy.lib itself is not listed, cupy.lib.stride_tricks is
            if deeper in spaces and i < len(parts) - 1:
                module = deeper
                continue
            return f"{module} is not recorded in the data", None
        entry = space.get(name)
        if entry is None:
            return f"{deeper} does not exist", None
        if entry["kind"] == "module" and i < len(parts) - 1:
            module = deeper
            continue
        if entry["kind"] == "ufunc" and i == len(parts) - 2:  # xp.add.reduce(...)
            method = data["ufunc"]["methods"].get(parts[-1])
            if method is None:
                return f"the ufunc {deeper} has no method {parts[-1]}", None
            return None, {"kind": "function", **method}
        return None, entry if i == len(parts) - 1 else None
    return None, None


def _numpy_rejects(name: str, keyword: str) -> bool:
    """Whether ``numpy.ndarray.<name>`` has a known signature without ``keyword``."""
    try:
        signature = inspect.signature(getattr(numpy.ndarray, name))
    except (TypeError, ValueError):
        return False
    parameters = signature.parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return False
    return keyword not in signature.parameters


def _keyword_problems(entry: dict, keywords, what: str) -> list[str]:
    if entry.get("kind") not in KINDS_WITH_PARAMS and "params" not in entry:
        return []  # a dtype, constant or class borrowed from NumPy: NumPy's own object
    problems = []
    for keyword in keywords:
        if keyword is None:
            if not entry.get("var_kwargs"):
                problems.append(f"{what} gets a ** mapping; it takes only {entry['params']}")
        elif keyword not in entry.get("params", ()) and not entry.get("var_kwargs"):
            problems.append(f"{what} takes no keyword {keyword!r}")
    return problems


def check(uses, data: dict, version: str) -> list[str]:
    """Every problem of ``uses`` against the API of one CuPy version."""
    problems = []
    methods = data["ndarray"]["methods"]
    array_names = set(methods) | set(data["ndarray"]["attributes"])
    generator = data["Generator"]["methods"]
    for use in uses:
        if use.status != "checked":
            continue
        where = f"{use.file}:{use.line}: {use.text} (cupy {version})"
        if use.kind == "module":
            problem, entry = _module_entry(data, use.segments)
            if problem:
                problems.append(f"{where}: {problem}")
            elif entry is not None:
                problems += _keyword_problems(entry, use.keywords, where)
        elif use.kind == "array":
            (name,) = use.segments
            if name not in array_names:
                if (use.file, name) not in EXEMPT_ARRAY_NAMES:
                    problems.append(f"{where}: cupy.ndarray has no {name}")
                continue
            if name in methods:
                for keyword in use.keywords:
                    if (use.file, name, keyword) in NOT_ARRAY_CALLS:
                        continue
                    if keyword is not None and _numpy_rejects(name, keyword):
                        problems.append(
                            f"{where}: numpy.ndarray.{name} takes no {keyword!r} either; "
                            f"list the call in NOT_ARRAY_CALLS with what its receiver is"
                        )
                        continue
                    problems += _keyword_problems(
                        {"kind": "function", **methods[name]}, [keyword], where
                    )
        elif use.kind == "generator":
            (name,) = use.segments
            if name not in generator:
                problems.append(f"{where}: cupy.random.Generator has no {name}")
            else:
                problems += _keyword_problems(
                    {"kind": "function", **generator[name]}, use.keywords, where
                )
        elif use.kind == "import":
            module, name = use.segments
            space = data["modules"].get(module)
            if space is None:
                problems.append(f"{where}: {module} is not recorded in the data")
            elif name not in space:
                problems.append(f"{where}: {module}.{name} does not exist")
        elif use.kind == "subclass":
            *base, method = use.segments
            problems += _subclass_problems(data, base, method, use.keywords, where)
    return problems


def _subclass_problems(data, base, method, required, where) -> list[str]:
    """An override in a subclass of a ``cupy.cuda`` class: the method exists in the base,
    and CuPy passes every keyword-only parameter it requires."""
    if base[:1] != ["cuda"] or len(base) != 2:
        return [f"{where}: a subclass of {'.'.join(base)} is not checked"]
    klass = data["cuda"]["classes"].get(base[1])
    if klass is None:
        return [f"{where}: cupy.cuda.{base[1]} is not recorded in the data"]
    if method not in klass["methods"]:
        return [f"{where}: cupy.cuda.{base[1]} has no method {method}"]
    passed = data["cuda"]["hook_call_keywords"].get(method)
    if passed is None:
        return []
    return [f"{where}: CuPy calls {method} without {k!r}" for k in required if k not in passed]


def test_the_scan_finds_refattns_uses_of_cupy():
    """The scanner sees what refattn is known to use; a blind scanner passes nothing."""
    texts = {use.text for use in refattn_uses() if use.kind == "module"}
    for expected in (
        "xp.exp",
        "xp.linalg.qr",
        "xp.lib.stride_tricks.as_strided",
        "xp.cuda.runtime.memGetInfo",
        "xp.cuda.get_current_stream",
        "module.random.default_rng",
        "xp.take_along_axis",
    ):
        assert expected in texts, expected
    kinds = {use.kind for use in refattn_uses()}
    assert kinds == {"module", "array", "generator", "subclass", "import"}
    imports = {use.text for use in refattn_uses() if use.kind == "import"}
    assert "from cupyx.scipy.special import erf" in imports
    assert sum(use.kind == "module" for use in refattn_uses()) > 200


@pytest.mark.parametrize("version", VERSIONS)
def test_refattn_uses_only_what_cupy_has(version):
    problems = check(refattn_uses(), api(version), version)
    assert not problems, "\n".join(problems)


def test_unchecked_uses_are_the_listed_ones():
    """Uses the code guards (hasattr, getattr with a default) are listed in GUARDED."""
    guarded = {
        (use.file, use.text): use.status
        for use in refattn_uses()
        if use.status in ("hasattr", "getattr-default")
    }
    assert set(guarded) == set(GUARDED)


def test_numpy_only_branches_are_the_listed_ones():
    """Code under ``if xp is numpy:`` (or ``module_name(xp) == "numpy"``) is not checked
    against CuPy; every such use is listed in NUMPY_ONLY, so none hides there unseen."""
    numpy_only = {(use.file, use.text) for use in refattn_uses() if use.status == "numpy-only"}
    assert numpy_only == set(NUMPY_ONLY)


def test_exemption_tables_hold_only_live_entries():
    uses = refattn_uses()
    array_uses = {(u.file, u.segments[0]) for u in uses if u.kind == "array"}
    assert set(EXEMPT_ARRAY_NAMES) <= array_uses
    calls = {(u.file, u.segments[0], k) for u in uses if u.kind == "array" for k in u.keywords}
    assert set(NOT_ARRAY_CALLS) <= calls


# ---------------------------------------------------------------------------
# 4. each check fails on a misuse
# ---------------------------------------------------------------------------


def _problems(source: str) -> list[str]:
    uses = scan_source(textwrap.dedent(source))
    return [p for v in VERSIONS for p in check(uses, api(v), v)]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("xp.nanmean_nonexistent(x)", "cupy.nanmean_nonexistent does not exist"),
        ("xp.sum(x, where=m)", "takes no keyword 'where'"),
        ("xp.exp(x, where=m)", "takes no keyword 'where'"),  # a ufunc
        ("xp.maximum.reduce(x, initial=0)", "takes no keyword 'initial'"),
        ("xp.add.reduce_nonexistent(x)", "has no method reduce_nonexistent"),
        ("xp.linalg.qr(a, mod='r')", "takes no keyword 'mod'"),
        ("self.dims.xp.linalg.nonexistent(a)", "cupy.linalg.nonexistent does not exist"),
        ("xp.errstate(over='ignore')", "cupy.errstate does not exist"),
        ("xp.fft.fft(x)", "cupy.fft is not recorded"),
        ("getattr(xp, 'errstate')(over='ignore')", "cupy.errstate does not exist"),
        ("module = module_for(xp)\nmodule.random.nonexistent(3)", "does not exist"),
        ("xp.einsum('ij->i', a, casting='no')", "takes no keyword 'casting'"),
        ("x.setflags(write=False)", "cupy.ndarray has no setflags"),
        ("y = x.mT", "cupy.ndarray has no mT"),  # CuPy 13.6 lacks it
        ("x.sum(axis=0, where=m)", "takes no keyword 'where'"),
        ("x.sort(key=len)", "NOT_ARRAY_CALLS"),
        ("g = rng(0, xp)\ng.normal(0.0, 1.0, size=3)", "Generator has no normal"),
        ("gen.standard_normal((3,), loc=1.0)", "takes no keyword 'loc'"),
        ("rng(0, xp).permutation(5)", "Generator has no permutation"),
        (
            """
            class Hook(xp.cuda.MemoryHook):
                def malloc_postprocess(self, *, mem_size, size_in_bytes, **_):
                    pass
            """,
            "CuPy calls malloc_postprocess without 'size_in_bytes'",
        ),
        (
            "class Hook(xp.cuda.MemoryHook):\n    def malloc_postproces(self, **_):\n        pass",
            "has no method malloc_postproces",
        ),
    ],
)
def test_each_check_reports_a_misuse(source, message):
    problems = _problems(source)
    assert any(message in p for p in problems), problems


@pytest.mark.parametrize(
    "source",
    [
        "xp.sum(x, axis=0, keepdims=True)",
        "xp.exp(x, out=y)",
        "y = xp.float32(1) + xp.inf",
        "self.xp.linalg.qr(a, mode='reduced')",
        "xp.lib.stride_tricks.as_strided(x, shape=s, strides=t)",
        "xp.cuda.runtime.memGetInfo()",
        "xp.errstate(over='ignore') if hasattr(xp, 'errstate') else None",
        "if hasattr(xp, 'errstate'):\n    xp.errstate(over='ignore')",
        "if xp is numpy:\n    xp.errstate(over='ignore')",
        "if module_name(xp) == 'cupy':\n    pass\nelse:\n    xp.errstate()",
        "x.astype(xp.float32, copy=False).sum(axis=-1)",
        "rng(0, xp).standard_normal((3, 4), dtype=xp.float32)",
        "class Hook(xp.cuda.MemoryHook):\n  def free_postprocess(self, *, mem_ptr, **_):\n    pass",
        "host = module_for('numpy')\nhost.errstate(over='ignore')",
    ],
)
def test_correct_uses_pass(source):
    assert _problems(source) == []
