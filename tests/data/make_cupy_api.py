"""Write ``cupy-api-<version>.json``: CuPy's public API, read from CuPy's own source.

Usage::

    python tests/data/make_cupy_api.py 14.2.0 13.6.0
    python tests/data/make_cupy_api.py /path/to/cupy-14.2.0.tar.gz

A version is fetched as its source distribution with ``pip download --no-deps
--no-binary cupy``.  pip prepares the metadata of what it downloads, which for
some CuPy releases (14.x) runs CuPy's build configuration and fails without a
CUDA toolkit; the script then reads the file's address and sha256 from PyPI's
simple index (PEP 691, the index pip itself reads) and downloads it directly,
checking the sha256.  A path to an already downloaded sdist is used as is.

Nothing is imported from CuPy and nothing is compiled.  The sdist is unpacked
in a temporary directory and its ``.py`` files are read with :mod:`ast`, its
Cython ``.pyx``/``.pxd``/``.pxi`` files with the small tokenizer below (logical
lines, then ``def``/``cpdef`` signatures, ``cdef class`` bodies and module-level
assignments).  Public names are resolved by following the package's imports
(``from m import x as y``, ``import m``, star imports, ``x = y`` and ``x =
m.y`` aliases, a module ``__getattr__`` that answers fixed names).  Names CuPy
borrows from NumPy (``from numpy import float32``) are classified by looking
them up in the NumPy installed next to this script: they carry ``"origin":
"numpy"``, and a NumPy function's keywords are those of that NumPy.

The output is the input of ``tests/test_cupy_api.py``, which checks refattn's
own use of ``xp.<name>``, array methods and generator methods against it.
"""

from __future__ import annotations

import argparse
import ast
import builtins
import hashlib
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

#: the modules whose public names the JSON lists under "modules" (refattn's erf takes
#: cupyx.scipy.special.erf)
PUBLIC_MODULES = (
    "cupy",
    "cupy.linalg",
    "cupy.random",
    "cupy.lib.stride_tricks",
    "cupyx.scipy.special",
)

#: the cupy.cuda namespaces listed under "cuda" (refattn reaches a few names there)
CUDA_MODULES = ("cupy.cuda", "cupy.cuda.runtime")

#: cupy.cuda classes whose members are listed under "cuda"
CUDA_CLASSES = ("MemoryHook", "MemoryPool", "Stream", "Device")

#: the methods CuPy's memory pool calls on every registered MemoryHook
HOOK_METHODS = (
    "alloc_preprocess",
    "alloc_postprocess",
    "malloc_preprocess",
    "malloc_postprocess",
    "free_preprocess",
    "free_postprocess",
)

#: top-level packages read from the sdist
PACKAGES = ("cupy", "cupy_backends", "cupyx")

#: statements that open a block without opening a new scope
_CONTROL = ("if", "elif", "else", "try", "except", "finally", "with", "for", "while")


# ---------------------------------------------------------------------------
# Cython: logical lines
# ---------------------------------------------------------------------------


@dataclass
class Line:
    """One logical line of Cython source: comments dropped, continuations joined."""

    start: int  # first physical line, 1-based
    end: int  # last physical line
    indent: int
    text: str


def _string_end(text: str, i: int) -> int:
    """Index just past the string literal whose opening quote is at ``text[i]``."""
    quote = text[i]
    triple = text[i : i + 3] == quote * 3
    delim = quote * 3 if triple else quote
    j = i + len(delim)
    while j < len(text):
        if text[j] == "\\":
            j += 2
            continue
        if text.startswith(delim, j):
            return j + len(delim)
        if not triple and text[j] == "\n":
            return j  # unterminated: stop at the line end
        j += 1
    return len(text)


def logical_lines(text: str) -> list[Line]:
    """Split Cython (or Python) source into logical lines.

    Brackets and backslashes join physical lines; comments are removed; string
    literals, triple-quoted ones included, are kept verbatim.
    """
    lines: list[Line] = []
    buf: list[str] = []
    depth = 0
    line_no = 1
    start = 1
    indent = 0
    at_start = True  # no code seen yet on this logical line
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if at_start:
            if ch in " \t":
                indent += 4 if ch == "\t" else 1
                i += 1
                continue
            if ch == "\n":
                line_no += 1
                indent = 0
                i += 1
                continue
            if ch == "#":
                while i < n and text[i] != "\n":
                    i += 1
                continue
            at_start = False
            start = line_no
        if ch in "\"'":
            j = _string_end(text, i)
            literal = text[i:j]
            buf.append(literal)
            line_no += literal.count("\n")
            i = j
            continue
        if ch == "#":
            while i < n and text[i] != "\n":
                i += 1
            continue
        if ch == "\\" and i + 1 < n and text[i + 1] == "\n":
            buf.append(" ")
            line_no += 1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        if ch == "\n":
            line_no += 1
            if depth > 0:
                buf.append(" ")
                i += 1
                continue
            code = "".join(buf).strip()
            if code:
                lines.append(Line(start, line_no - 1, indent, code))
            buf = []
            indent = 0
            at_start = True
            i += 1
            continue
        buf.append(ch)
        i += 1
    code = "".join(buf).strip()
    if code:
        lines.append(Line(start, line_no, indent, code))
    return lines


def code_of(source: str) -> str:
    """``source`` without comments and docstrings, one logical line per line."""
    kept = []
    for line in logical_lines(source):
        if re.match(r"[rRbBuUfF]*['\"]", line.text):
            try:
                tree = ast.parse(line.text)
            except SyntaxError:
                tree = None
            if (
                tree is not None
                and len(tree.body) == 1
                and isinstance(tree.body[0], ast.Expr)
                and isinstance(tree.body[0].value, ast.Constant)
            ):
                continue  # a bare string: a docstring
        kept.append(line.text)
    return "\n".join(kept)


def _split_top(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` characters outside brackets and string literals."""
    parts: list[str] = []
    depth = 0
    cur: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in "\"'":
            j = _string_end(text, i)
            cur.append(text[i:j])
            i = j
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _matching_paren(text: str, i: int) -> int:
    """Index of the parenthesis closing the one at ``text[i]``."""
    depth = 0
    j = i
    while j < len(text):
        ch = text[j]
        if ch in "\"'":
            j = _string_end(text, j)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return j
        j += 1
    raise ValueError(f"unbalanced parentheses in {text!r}")


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------


@dataclass
class Func:
    """A function or method: the names that may be passed by keyword, and the rest."""

    name: str
    params: list[str]  # passable by keyword (no positional-only, no *args/**kwargs)
    positional_only: list[str] = field(default_factory=list)
    var_args: bool = False
    var_kwargs: bool = False
    decorators: list[str] = field(default_factory=list)
    visible: bool = True  # False for Cython cdef functions
    body: str = ""  # the source text, for the factory and **kwargs scans
    kwargs_name: str = ""  # the name of the ** parameter

    def effective(self) -> Func:
        """The signature as callers see it: keywords the body takes out of ``**kwargs``
        (``kwargs.pop('out', None)``) count as parameters, and ``**kwargs`` itself only
        if the body does not reject what is left (``if kwargs: raise ...``)."""
        if not self.var_kwargs or not self.kwargs_name:
            return self
        name = re.escape(self.kwargs_name)
        code = code_of(self.body)
        taken = re.findall(rf"\b{name}\.(?:pop|get)\(\s*['\"](\w+)['\"]", code)
        rejects = re.search(
            rf"\bif\s+(?:len\(\s*{name}\s*\)\s*(?:>\s*0|!=\s*0)?|{name})\s*:\s*\n?\s*raise\b",
            code,
        )
        params = list(self.params)
        params += sorted({t for t in taken if not t.startswith("_") and t not in params})
        return replace(self, params=params, var_kwargs=rejects is None)

    def without_first(self) -> Func:
        """The same signature without its first parameter (``self`` of a method)."""
        if self.positional_only:
            return replace(self, positional_only=self.positional_only[1:])
        return replace(self, params=self.params[1:])


_CPDEF_MODIFIERS = re.compile(r"^(?:(?:inline|api|public|static|noexcept|readonly)\s+)+")


def parse_signature(header: str) -> Func:
    """The signature of one Cython or Python ``def``/``cpdef``/``cdef`` line.

    ``header`` is a logical line such as ``cpdef _ndarray_base sum(self, axis=None,
    dtype=None, out=None, bint keepdims=False):`` or ``def f(a, /, b, *args, c=1,
    **kwargs):``.  Parameter types, ``not None`` clauses, defaults and
    annotations are dropped; the parameter's name is the last identifier left.
    """
    match = re.match(r"^\s*(?:async\s+)?(def|cpdef|cdef)\s+(.*)$", header, re.S)
    if match is None:
        raise ValueError(f"not a function header: {header!r}")
    keyword, rest = match.groups()
    rest = _CPDEF_MODIFIERS.sub("", rest.lstrip())
    if rest.startswith("("):  # a C tuple return type: cpdef (int, int) f(...)
        rest = rest[_matching_paren(rest, 0) + 1 :].lstrip()
    name_match = re.search(r"([A-Za-z_]\w*)\s*\(", rest)
    if name_match is None:
        raise ValueError(f"no function name in {header!r}")
    name = name_match.group(1)
    open_at = name_match.end() - 1
    inner = rest[open_at + 1 : _matching_paren(rest, open_at)]
    func = Func(name, [], visible=keyword != "cdef")
    seen: list[str] = []  # keyword-only parameters are passable by keyword as well
    for raw in _split_top(inner, ","):
        piece = raw.strip()
        if not piece:
            continue
        if piece == "/":
            func.positional_only = seen
            seen = []
            continue
        if piece == "*":
            continue
        if piece.startswith("**"):
            func.var_kwargs = True
            func.kwargs_name = re.sub(r"\W", "", piece)
            continue
        if piece.startswith("*"):
            func.var_args = True
            continue
        left = _split_top(piece, "=")[0]
        left = _split_top(left, ":")[0]
        left = re.sub(r"\s+(?:not|or)\s+None\s*$", "", left.strip())
        ident = re.search(r"([A-Za-z_]\w*)\s*$", left)
        if ident is None:
            raise ValueError(f"no parameter name in {piece!r} of {header!r}")
        seen.append(ident.group(1))
    func.params = seen
    return func


def _ast_signature(node: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> Func:
    args = node.args
    return Func(
        node.name,
        [a.arg for a in args.args] + [a.arg for a in args.kwonlyargs],
        [a.arg for a in args.posonlyargs],
        args.vararg is not None,
        args.kwarg is not None,
        [_dotted(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list],
        True,
        ast.get_source_segment(source, node) or "",
        args.kwarg.arg if args.kwarg is not None else "",
    )


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ast.dump(node)


# ---------------------------------------------------------------------------
# Modules and classes
# ---------------------------------------------------------------------------


@dataclass
class Klass:
    """A class: its bases (as source text), methods, properties and attributes."""

    name: str
    module: str
    bases: list[str] = field(default_factory=list)
    methods: dict[str, Func] = field(default_factory=dict)
    properties: set[str] = field(default_factory=set)
    attributes: set[str] = field(default_factory=set)  # cdef readonly/public, self.x
    class_attributes: set[str] = field(default_factory=set)
    staticmethods: set[str] = field(default_factory=set)


# A binding is a tuple whose first item says what it is:
#   ("def", Func) | ("class", Klass) | ("from", module, name) | ("import", module)
#   | ("expr", ast.expr or None, source text) | ("star", module)


@dataclass
class Module:
    """One parsed module: its module-level bindings, in source order."""

    name: str
    path: str
    entries: list[tuple[str | None, tuple]] = field(default_factory=list)
    getattr_names: dict[str, list[tuple[str | None, tuple]]] = field(default_factory=dict)
    imports: set[str] = field(default_factory=set)  # module-level imports, absolute


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import ``from <level dots><target> import ...``."""
    if level == 0:
        return target or ""
    parts = module.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def _parse_expr(text: str) -> ast.expr | None:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return None


def parse_py(source: str, module: str = "m", is_package: bool = False) -> Module:
    """Module-level bindings and classes of a Python file."""
    tree = ast.parse(source)
    mod = Module(module, "")
    _py_block(tree.body, mod, mod.entries, source, is_package, top=True)
    return mod


def _py_block(body, mod: Module, entries, source: str, is_package: bool, top: bool) -> None:
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if top and node.name == "__getattr__":
                _py_module_getattr(node, mod, source, is_package)
            entries.append((node.name, ("def", _ast_signature(node, source))))
        elif isinstance(node, ast.ClassDef):
            entries.append((node.name, ("class", _py_class(node, mod.name, source))))
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(mod.name, is_package, node.level, node.module)
            if target == "__future__":
                continue
            mod.imports.add(target)
            for alias in node.names:
                if alias.name == "*":
                    entries.append((None, ("star", target)))
                else:
                    mod.imports.add(f"{target}.{alias.name}")
                    entries.append((alias.asname or alias.name, ("from", target, alias.name)))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                mod.imports.add(alias.name)
                if alias.asname:
                    entries.append((alias.asname, ("import", alias.name)))
                else:
                    top_name = alias.name.split(".")[0]
                    entries.append((top_name, ("import", top_name)))
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target_node in targets:
                if isinstance(target_node, ast.Name):
                    entries.append(
                        (target_node.id, ("expr", node.value, ast.get_source_segment(source, node)))
                    )
        elif isinstance(node, ast.If):
            # both branches: NumPy-version shims define a name in each; the later wins
            _py_block(node.body, mod, entries, source, is_package, top)
            _py_block(node.orelse, mod, entries, source, is_package, top)
        elif isinstance(node, ast.Try):
            fallback: list = []
            for handler in node.handlers:
                _py_block(handler.body, mod, fallback, source, is_package, top)
            bound_in_try: list = []
            _py_block(node.body + node.orelse, mod, bound_in_try, source, is_package, top)
            names = {name for name, _ in bound_in_try}
            entries.extend(e for e in fallback if e[0] not in names)
            entries.extend(bound_in_try)
            _py_block(node.finalbody, mod, entries, source, is_package, top)
        elif isinstance(node, ast.With):
            _py_block(node.body, mod, entries, source, is_package, top)


def _py_module_getattr(node, mod: Module, source: str, is_package: bool) -> None:
    """Names a module-level ``__getattr__`` answers: ``if key == 'Name':`` branches."""
    for stmt in ast.walk(node):
        if not isinstance(stmt, ast.If):
            continue
        test = stmt.test
        if (
            isinstance(test, ast.Compare)
            and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)
            and isinstance(test.comparators[0], ast.Constant)
            and isinstance(test.comparators[0].value, str)
        ):
            scope: list = []
            saved = set(mod.imports)
            _py_block(stmt.body, mod, scope, source, is_package, top=False)
            mod.imports = saved  # imports inside __getattr__ run only on demand
            mod.getattr_names[test.comparators[0].value] = scope


def _is_property(decorators: list[str]) -> bool:
    return "property" in decorators or any(d.endswith((".setter", ".getter")) for d in decorators)


def _py_class(node: ast.ClassDef, module: str, source: str) -> Klass:
    klass = Klass(node.name, module, [ast.get_source_segment(source, b) or "" for b in node.bases])
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            decorators = [
                _dotted(d.func if isinstance(d, ast.Call) else d) for d in item.decorator_list
            ]
            if _is_property(decorators):
                klass.properties.add(item.name)
                continue
            func = _ast_signature(item, source)
            if "staticmethod" in decorators:
                klass.staticmethods.add(item.name)
                klass.methods[item.name] = func
            else:
                klass.methods[item.name] = func.without_first()
            if item.name == "__init__":
                for sub in ast.walk(item):
                    if (
                        isinstance(sub, ast.Attribute)
                        and isinstance(sub.ctx, ast.Store)
                        and isinstance(sub.value, ast.Name)
                        and sub.value.id == "self"
                    ):
                        klass.attributes.add(sub.attr)
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Name):
                    klass.class_attributes.add(target.id)
    return klass


# ---------------------------------------------------------------------------
# Cython modules
# ---------------------------------------------------------------------------

_IMPORT_FROM = re.compile(r"^from\s+(\.*)([\w.]*)\s+(c?import)\s+(.*)$", re.S)
_IMPORT = re.compile(r"^(c?import)\s+(.*)$", re.S)
_CLASS = re.compile(
    r"^(?:cdef\s+(?:public\s+|api\s+|final\s+)*)?class\s+(\w+)\s*(\((.*)\))?\s*:$", re.S
)
_ATTR_DECL = re.compile(r"^(?:cdef\s+)?(readonly|public)\s+(.+)$", re.S)
_ASSIGN = re.compile(r"^((?:[A-Za-z_]\w*\s*=\s*)+)(?![=])(.*)$", re.S)
_INCLUDE = re.compile(r"^include\s+(['\"])(.+?)\1$")


def _is_assignment(text: str) -> bool:
    """Whether a statement assigns: an ``=`` before its first parenthesis."""
    head = text.split("(", 1)[0]
    return re.search(r"(?<![=!<>])=(?!=)", head) is not None


def _header_kind(text: str) -> str:
    """What a block header opens: 'class', 'def', 'property', 'cdef', a control word or 'other'."""
    if _CLASS.match(text):
        return "class"
    if re.match(r"^(?:async\s+)?(?:def|cpdef)\s", text):
        return "def"
    if re.match(r"^cdef\s*:$", text):
        return "cdefblock"
    if re.match(r"^cdef\s+extern\b", text):
        return "extern"
    if re.match(r"^cdef\s", text):
        return "def" if "(" in text and not _is_assignment(text) else "other"
    if re.match(r"^property\s+\w+\s*:$", text):
        return "property"
    word = re.match(r"^(\w+)", text)
    if word and word.group(1) in _CONTROL:
        return "control"
    if word and word.group(1) in ("IF", "ELIF", "ELSE"):
        return "control"  # Cython compile-time conditionals
    return "other"


def _expand_includes(text: str, path: Path | None, depth: int = 0) -> str:
    """``include 'x.pxi'`` lines replaced by the included file (relative to ``path``)."""
    if path is None or depth > 8:
        return text
    out = []
    for raw in text.splitlines(keepends=True):
        match = _INCLUDE.match(raw.strip())
        target = path.parent / match.group(2) if match else None
        if target is not None and target.is_file():
            indent = raw[: len(raw) - len(raw.lstrip())]
            included = _expand_includes(target.read_text(encoding="utf-8"), target, depth + 1)
            out.extend(indent + line + "\n" for line in included.splitlines())
        else:
            out.append(raw)
    return "".join(out)


def parse_pyx(
    source: str,
    module: str = "m",
    is_package: bool = False,
    path: Path | None = None,
    pxd: str | None = None,
) -> Module:
    """Module-level bindings and classes of a Cython ``.pyx`` (with its ``.pxd``, if any).

    Python-visible are ``def`` and ``cpdef`` functions, classes and ``cdef
    class``-es, plain assignments and ``import``-s; ``cdef`` functions and
    variables are kept too (``visible`` False), since a public alias may name
    them (``invert = _invert``).
    """
    text = _expand_includes(source, path)
    lines = logical_lines(text)
    raw_lines = text.splitlines()
    mod = Module(module, str(path or ""))
    classes: dict[str, Klass] = {}
    stack: list[tuple[int, str, str, object]] = []  # (indent, kind, text, payload)
    decorators: list[str] = []
    for index, line in enumerate(lines):
        while stack and stack[-1][0] >= line.indent:
            stack.pop()
        scopes = [s for s in stack if s[1] not in ("control",)]
        text_ = line.text
        if text_.startswith("@"):
            decorators.append(text_[1:].split("(")[0].strip())
            continue
        kind = _header_kind(text_) if text_.endswith(":") else "stmt"
        if kind == "stmt" and re.match(r"^(?:async\s+)?(?:def|cpdef|cdef)\s", text_):
            if "(" in text_ and not _is_assignment(text_):
                kind = "def"  # a one-line def, or a declaration without a body (.pxd)
        if not scopes:
            _pyx_module_line(mod, line, kind, text_, lines, index, raw_lines, decorators, classes)
        elif scopes[-1][1] in ("class", "cdefblock") and _class_of(scopes) is not None:
            klass = _class_of(scopes)
            _pyx_class_line(klass, scopes, line, kind, text_, lines, index, raw_lines, decorators)
        if kind != "stmt" and text_.endswith(":"):
            payload = classes.get(_CLASS.match(text_).group(1)) if kind == "class" else None
            stack.append((line.indent, kind, text_, payload))
        decorators = []
    if pxd:
        _merge_pxd(pxd, classes)
    return mod


def _class_of(scopes) -> Klass | None:
    """The class whose body the innermost scopes are, if it is one (maybe via ``cdef:``)."""
    if scopes[-1][1] == "class":
        return scopes[-1][3]
    if scopes[-1][1] == "cdefblock" and len(scopes) >= 2 and scopes[-2][1] == "class":
        return scopes[-2][3]
    return None


def _body_text(lines: list[Line], index: int, raw_lines: list[str]) -> str:
    """The source text of the block opened at ``lines[index]``."""
    head = lines[index]
    end = head.end
    for later in lines[index + 1 :]:
        if later.indent <= head.indent:
            break
        end = later.end
    return "\n".join(raw_lines[head.start - 1 : end])


def _pyx_module_line(mod, line, kind, text, lines, index, raw_lines, decorators, classes) -> None:
    if kind == "class":
        match = _CLASS.match(text)
        klass = Klass(match.group(1), mod.name, _bases(match.group(3)))
        classes[klass.name] = klass
        mod.entries.append((klass.name, ("class", klass)))
        return
    if kind == "def":
        try:
            func = parse_signature(text)
        except ValueError:
            return  # cpdef enum, ctypedef ...: not a function
        func.decorators = list(decorators)
        func.body = _body_text(lines, index, raw_lines)
        if func.name == "__getattr__":
            return
        mod.entries.append((func.name, ("def", func)))
        return
    if kind != "stmt":
        return
    match = _IMPORT_FROM.match(text)
    if match:
        dots, target, word, names = match.groups()
        if word == "cimport":
            return
        absolute = _absolute(mod.name, False, len(dots), target or None)
        mod.imports.add(absolute)
        names = names.strip().strip("()")
        for part in _split_top(names, ","):
            part = part.strip()
            if not part:
                continue
            if part == "*":
                mod.entries.append((None, ("star", absolute)))
                continue
            bits = re.split(r"\s+as\s+", part)
            mod.imports.add(f"{absolute}.{bits[0]}")
            mod.entries.append((bits[-1], ("from", absolute, bits[0])))
        return
    match = _IMPORT.match(text)
    if match:
        if match.group(1) == "cimport":
            return
        for part in _split_top(match.group(2), ","):
            bits = re.split(r"\s+as\s+", part.strip())
            mod.imports.add(bits[0])
            if len(bits) == 2:
                mod.entries.append((bits[1], ("import", bits[0])))
            else:
                top = bits[0].split(".")[0]
                mod.entries.append((top, ("import", top)))
        return
    visible = True
    body = text
    if body.startswith("cdef "):
        visible = False
        body = re.sub(r"^cdef\s+", "", body)
        # cdef <type> name = value: keep the last identifier before '='
        decl = re.match(r"^(?:[\w.\[\]*&]+\s+)*?([A-Za-z_]\w*)\s*=(?!=)\s*(.*)$", body, re.S)
        if decl is None:
            return
        names, value = [decl.group(1)], decl.group(2)
    else:
        match = _ASSIGN.match(body)
        if match is None:
            return
        names = [n.strip() for n in match.group(1).split("=") if n.strip()]
        value = match.group(2)
    for name in names:
        mod.entries.append((name, ("expr", _parse_expr(value), value, visible)))


def _bases(text: str | None) -> list[str]:
    if not text:
        return []
    return [b.strip() for b in _split_top(text, ",") if b.strip()]


def _pyx_class_line(klass, scopes, line, kind, text, lines, index, raw_lines, decorators) -> None:
    in_cdef_block = scopes[-1][1] == "cdefblock"
    if in_cdef_block or (kind == "stmt" and text.startswith("cdef ")):
        decl = _ATTR_DECL.match(text)
        if decl:
            _add_declared(klass, decl.group(2))
        return
    if kind == "property":
        klass.properties.add(re.match(r"^property\s+(\w+)", text).group(1))
        return
    if kind == "def":
        try:
            func = parse_signature(text)
        except ValueError:
            return
        if not func.visible:
            return
        if _is_property(decorators):
            klass.properties.add(func.name)
            return
        func.decorators = list(decorators)
        func.body = _body_text(lines, index, raw_lines)
        if "staticmethod" in decorators:
            klass.staticmethods.add(func.name)
            klass.methods[func.name] = func
        else:
            klass.methods[func.name] = func.without_first()
        if func.name == "__init__":  # attributes a Python class sets on its instances
            klass.attributes.update(re.findall(r"\bself\.(\w+)\s*=(?!=)", code_of(func.body)))
        return
    if kind == "stmt":
        match = _ASSIGN.match(text)
        if match:
            for name in match.group(1).split("="):
                if name.strip():
                    klass.class_attributes.add(name.strip())


def _add_declared(klass: Klass, declaration: str) -> None:
    """``readonly Py_ssize_t size`` or ``public object a, b``: the declared names."""
    for part in _split_top(declaration, ","):
        ident = re.search(r"([A-Za-z_]\w*)\s*$", part.strip())
        if ident:
            klass.attributes.add(ident.group(1))


def _merge_pxd(pxd: str, classes: dict[str, Klass]) -> None:
    """Add the ``readonly``/``public`` attributes a ``.pxd`` declares for each cdef class."""
    current: Klass | None = None
    class_indent = -1
    for line in logical_lines(pxd):
        match = _CLASS.match(line.text)
        if match:
            current = classes.get(match.group(1))
            class_indent = line.indent
            continue
        if current is None or line.indent <= class_indent:
            current = None
            continue
        decl = _ATTR_DECL.match(line.text)
        if decl:
            _add_declared(current, decl.group(2))


# ---------------------------------------------------------------------------
# Resolving names
# ---------------------------------------------------------------------------


@dataclass
class Entity:
    """What a name resolves to."""

    kind: str  # module | external | def | class | ufunc | reduction | instance | constant | unknown
    name: str = ""  # dotted module/external name, or a note
    obj: object = None  # Func or Klass where there is one


class Source:
    """An unpacked CuPy source tree, parsed lazily and resolved by name."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._modules: dict[str, Module | None] = {}
        self._namespaces: dict[str, dict[str, tuple]] = {}
        self._building: set[str] = set()
        self.ufunc_factories: set[str] = set()
        self.reduction_factories: set[str] = set()

    # -- files -------------------------------------------------------------

    def module_file(self, name: str) -> tuple[Path, bool] | None:
        """The file of module ``name`` and whether it is a package, or None."""
        if name.split(".")[0] not in PACKAGES:
            return None
        base = self.root.joinpath(*name.split("."))
        for candidate, package in (
            (base / "__init__.py", True),
            (base.with_suffix(".py"), False),
            (base.with_suffix(".pyx"), False),
        ):
            if candidate.is_file():
                return candidate, package
        return None

    def is_internal(self, name: str) -> bool:
        return self.module_file(name) is not None

    def module(self, name: str) -> Module | None:
        if name not in self._modules:
            found = self.module_file(name)
            if found is None:
                self._modules[name] = None
            else:
                path, package = found
                text = path.read_text(encoding="utf-8")
                if path.suffix == ".pyx":
                    pxd_path = path.with_suffix(".pxd")
                    pxd = pxd_path.read_text(encoding="utf-8") if pxd_path.is_file() else None
                    mod = parse_pyx(text, name, package, path, pxd)
                else:
                    mod = parse_py(text, name, package)
                mod.path = str(path.relative_to(self.root))
                self._modules[name] = mod
        return self._modules[name]

    # -- namespaces --------------------------------------------------------

    def namespace(self, name: str) -> dict[str, tuple]:
        """Module ``name``'s final bindings (later ones win, star imports expanded)."""
        if name in self._namespaces:
            return self._namespaces[name]
        mod = self.module(name)
        if mod is None or name in self._building:
            return {}
        self._building.add(name)
        ns: dict[str, tuple] = {}
        for bound, binding in mod.entries:
            if binding[0] == "star":
                for star_name in self.public_star_names(binding[1]):
                    ns[star_name] = ("from", binding[1], star_name)
            else:
                ns[bound] = binding
        self._building.discard(name)
        self._namespaces[name] = ns
        return ns

    def public_star_names(self, name: str) -> list[str]:
        """What ``from name import *`` binds: ``__all__`` if it is a literal, else public names."""
        ns = self.namespace(name)
        declared = ns.get("__all__")
        if declared and declared[0] == "expr" and isinstance(declared[1], (ast.List, ast.Tuple)):
            return [e.value for e in declared[1].elts if isinstance(e, ast.Constant)]
        return [n for n in ns if not n.startswith("_")]

    # -- resolution --------------------------------------------------------

    def resolve(self, module: str, name: str, seen: frozenset = frozenset()) -> Entity:
        """What ``module.name`` is."""
        key = (module, name)
        if key in seen:
            return Entity("unknown", f"import cycle at {module}.{name}")
        seen = seen | {key}
        if not self.is_internal(module):
            return Entity("external", f"{module}.{name}")
        ns = self.namespace(module)
        if name in ns:
            return self._binding(module, ns[name], seen)
        if self.is_internal(f"{module}.{name}"):
            return Entity("module", f"{module}.{name}")
        mod = self.module(module)
        if mod is not None and name in mod.getattr_names:
            scope = dict(mod.getattr_names[name])
            if name in scope:
                return self._binding(module, scope[name], seen, scope)
        return Entity("unknown", f"{module} has no {name}")

    def _module_entity(self, name: str) -> Entity:
        return Entity("module", name) if self.is_internal(name) else Entity("external", name)

    def _binding(self, module: str, binding: tuple, seen, scope=None) -> Entity:
        kind = binding[0]
        if kind == "def":
            return Entity("def", f"{module}.{binding[1].name}", binding[1])
        if kind == "class":
            return Entity("class", f"{module}.{binding[1].name}", binding[1])
        if kind == "from":
            source, name = binding[1], binding[2]
            if self.is_internal(f"{source}.{name}"):
                # `from cupy import linalg` binds the submodule unless the package
                # itself binds the name to something else
                other = self.namespace(source).get(name)
                if other is None or other == binding:
                    return Entity("module", f"{source}.{name}")
            return self.attribute(self._module_entity(source), name, seen)
        if kind == "import":
            return self._module_entity(binding[1])
        if kind == "expr":
            return self.evaluate(module, binding[1], seen, scope)
        return Entity("unknown", f"binding {kind}")

    def attribute(self, base: Entity, attr: str, seen=frozenset()) -> Entity:
        """What ``base.attr`` is."""
        if base.kind == "module":
            return self.resolve(base.name, attr, seen)
        if base.kind == "external":
            return Entity("external", f"{base.name}.{attr}")
        if base.kind == "class":
            klass = base.obj
            if attr in klass.methods:
                return Entity("def", f"{base.name}.{attr}", klass.methods[attr])
        return Entity("unknown", f"{base.kind} {base.name} has no known attribute {attr}")

    def evaluate(self, module: str, node, seen, scope=None) -> Entity:
        """What a module-level expression evaluates to, as far as the source tells."""
        if node is None:
            return Entity("unknown", "expression not parsed")
        if isinstance(node, ast.Name):
            if scope is not None and node.id in scope:
                return self._binding(module, scope[node.id], seen)
            if node.id in self.namespace(module):
                return self.resolve(module, node.id, seen)
            if hasattr(builtins, node.id):
                return Entity("external", f"builtins.{node.id}")
            return Entity(
                "unknown", f"{node.id}, which no Python-level statement binds (a cimport)"
            )
        if isinstance(node, ast.Attribute):
            return self.attribute(self.evaluate(module, node.value, seen, scope), node.attr, seen)
        if isinstance(node, ast.Constant):
            return Entity("constant", repr(node.value))
        if isinstance(node, ast.UnaryOp):
            inner = self.evaluate(module, node.operand, seen, scope)
            if inner.kind == "constant" or (
                inner.kind == "external" and inner.name in ("numpy.inf", "numpy.nan")
            ):
                return Entity("constant", ast.unparse(node))
            return Entity("unknown", ast.unparse(node))
        if isinstance(node, ast.Call):
            callee = self.evaluate(module, node.func, seen, scope)
            short = callee.name.rsplit(".", 1)[-1]
            if callee.kind == "def" and short in self.ufunc_factories:
                return Entity("ufunc", callee.name)
            if callee.kind == "def" and short in self.reduction_factories:
                return Entity("reduction", callee.name)
            if callee.kind == "class":
                if callee.obj.name == "ufunc":
                    return Entity("ufunc", callee.name)
                return Entity("instance", callee.name, callee.obj)
            if (
                len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and self.is_internal(node.args[0].value)
            ):
                # a lazy import helper: name = _lazy_import("cupy.testing")
                return Entity("module", node.args[0].value)
            return Entity("unknown", f"call of {callee.kind} {callee.name}")
        return Entity("unknown", ast.unparse(node))

    # -- factories -----------------------------------------------------------

    def find_factories(self) -> None:
        """Functions that make ufuncs (or reductions): they return ``ufunc(...)`` or the
        result of another such function, directly or through any number of others."""
        functions: list[Func] = []
        for path in sorted(self.root.joinpath("cupy").rglob("*")):
            if path.suffix not in (".py", ".pyx") or "tests" in path.parts:
                continue
            name = ".".join(path.relative_to(self.root).with_suffix("").parts)
            name = name.removesuffix(".__init__")
            mod = self.module(name)
            if mod is None:
                continue
            functions.extend(b[1] for _, b in mod.entries if b[0] == "def")
        for made, seeds in (
            (self.ufunc_factories, {"ufunc"}),
            (self.reduction_factories, {"_SimpleReductionKernel"}),
        ):
            known = set(seeds)
            changed = True
            while changed:
                changed = False
                for func in functions:
                    if func.name in known:
                        continue
                    called = set(
                        re.findall(r"\breturn\s+(?:[\w.]+\.)?(\w+)\s*\(", code_of(func.body))
                    )
                    if called & known:
                        known.add(func.name)
                        changed = True
            made.update(known - seeds)

    # -- imports -------------------------------------------------------------

    def imported_modules(self, start: str) -> set[str]:
        """Every internal module that importing ``start`` imports at module level."""
        done: set[str] = set()
        todo = [start]
        while todo:
            name = todo.pop()
            if name in done:
                continue
            done.add(name)
            parts = name.split(".")
            for i in range(1, len(parts)):  # importing a.b.c imports a and a.b first
                todo.append(".".join(parts[:i]))
            mod = self.module(name)
            if mod is None:
                continue
            todo.extend(m for m in mod.imports if self.is_internal(m))
        return {m for m in done if self.is_internal(m)}


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------


def _numpy_entry(dotted: str) -> dict:
    """Kind of a name CuPy takes from NumPy, looked up in the installed NumPy."""
    import importlib
    import inspect

    missing = {"kind": "other", "origin": "numpy", "what": f"{dotted} is not in this NumPy"}
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return missing
        break
    else:
        return missing
    import numpy

    entry: dict = {"origin": "numpy"}
    if inspect.ismodule(obj):
        entry.update(kind="other", what="a NumPy module")
    elif isinstance(obj, type) and (issubclass(obj, numpy.generic) or obj is numpy.dtype):
        entry["kind"] = "dtype"
    elif obj in (numpy.finfo, numpy.iinfo):
        entry["kind"] = "dtype"
    elif obj is None or isinstance(obj, (int, float, complex, bool)):
        entry["kind"] = "constant"
    elif isinstance(obj, type):
        entry["kind"] = "class"
    elif isinstance(obj, numpy.ufunc):
        entry["kind"] = "other"
        entry["what"] = "a NumPy ufunc"
    elif callable(obj):
        entry["kind"] = "function"
        try:
            signature = inspect.signature(obj)
        except (TypeError, ValueError):
            entry.update(params=[], var_kwargs=False, var_args=False, signature="unknown")
        else:
            kinds = inspect.Parameter
            entry["params"] = [
                p.name
                for p in signature.parameters.values()
                if p.kind in (kinds.POSITIONAL_OR_KEYWORD, kinds.KEYWORD_ONLY)
            ]
            entry["var_kwargs"] = any(
                p.kind is kinds.VAR_KEYWORD for p in signature.parameters.values()
            )
            entry["var_args"] = any(
                p.kind is kinds.VAR_POSITIONAL for p in signature.parameters.values()
            )
    else:
        entry["kind"] = "other"
        entry["what"] = f"a NumPy {type(obj).__name__}"
    return entry


def _visible(binding: tuple) -> bool:
    """False for a Cython ``cdef`` function or variable, which Python cannot see."""
    if binding[0] == "def":
        return binding[1].visible
    if binding[0] == "expr" and len(binding) > 3:
        return binding[3]
    return True


def _only_raises(func: Func) -> bool:
    """Whether the first statement of ``func``'s body is ``raise``."""
    lines = code_of(func.body).splitlines()
    return len(lines) > 1 and lines[1].startswith("raise")


def _func_entry(func: Func, kind: str = "function") -> dict:
    declared = func.var_kwargs
    func = func.effective()
    entry = {
        "kind": kind,
        "params": list(func.params),
        "var_kwargs": func.var_kwargs,
        "var_args": func.var_args,
    }
    if func.positional_only:
        entry["positional_only"] = list(func.positional_only)
    if declared:
        # the def has **kwargs; "params" adds the keywords its body takes out of it,
        # and "var_kwargs" is false when the body rejects any other (einsum does)
        entry["declares_var_kwargs"] = True
    return entry


class Api:
    """Builds the JSON document from a :class:`Source`."""

    def __init__(self, source: Source):
        self.src = source
        source.find_factories()
        self.ufunc_call = self._ufunc_call()
        self.reduction_call = self._reduction_call()

    def klass(self, module: str, name: str) -> Klass | None:
        entity = self.src.resolve(module, name)
        return entity.obj if entity.kind == "class" else None

    def mro(self, klass: Klass) -> list[Klass]:
        """``klass`` and its bases found in the source, most derived first."""
        out: list[Klass] = []
        todo = [klass]
        while todo:
            current = todo.pop(0)
            if current in out:
                continue
            out.append(current)
            for base in current.bases:
                node = _parse_expr(base)
                entity = self.src.evaluate(current.module, node, frozenset())
                if entity.kind == "class":
                    todo.append(entity.obj)
        return out

    def members(self, klass: Klass) -> dict:
        """Methods (with keyword params), attributes and dunders of a class and its bases."""
        methods: dict[str, Func] = {}
        attributes: set[str] = set()
        for current in reversed(self.mro(klass)):  # derived classes override
            methods.update(current.methods)
            for name in current.properties | current.attributes | current.class_attributes:
                methods.pop(name, None)
                attributes.add(name)
            for name in current.methods:
                attributes.discard(name)
        public = {n: f for n, f in methods.items() if not n.startswith("_")}
        return {
            "methods": {
                n: {k: v for k, v in _func_entry(f).items() if k != "kind"}
                for n, f in sorted(public.items())
            },
            "attributes": sorted(a for a in attributes if not a.startswith("_")),
            "dunders": sorted(
                n for n in set(methods) | attributes if n.startswith("__") and n.endswith("__")
            ),
            # methods whose body is only a raise (ndarray.__array__ refuses implicit copies)
            "always_raise": sorted(n for n, f in methods.items() if _only_raises(f)),
        }

    def _ufunc_call(self) -> dict:
        klass = self.klass("cupy._core._kernel", "ufunc")
        if klass is None or "__call__" not in klass.methods:
            return {"params": [], "var_kwargs": True, "found": False}
        call = klass.methods["__call__"]
        taken = re.findall(r"\bkwargs\.(?:pop|get)\(\s*['\"](\w+)['\"]", code_of(call.body))
        effective = call.effective()
        return {
            "params": effective.params,
            "private_params": sorted({p for p in taken if p.startswith("_")}),
            "var_kwargs": effective.var_kwargs,
            "found": True,
        }

    def _reduction_call(self) -> dict:
        klass = self.klass("cupy._core._reduction", "_SimpleReductionKernel")
        if klass is None or "__call__" not in klass.methods:
            return {"params": [], "var_kwargs": True, "found": False}
        call = klass.methods["__call__"].effective()
        return {"params": call.params, "var_kwargs": call.var_kwargs, "found": True}

    def classify(self, entity: Entity) -> dict:
        kind = entity.kind
        if kind == "module":
            return {"kind": "module", "module": entity.name}
        if kind == "external":
            root = entity.name.split(".")[0]
            if root == "numpy":
                return _numpy_entry(entity.name)
            return {"kind": "other", "what": f"from {entity.name}"}
        if kind == "def":
            return _func_entry(entity.obj)
        if kind == "ufunc":
            return {
                "kind": "ufunc",
                "params": list(self.ufunc_call["params"]),
                "var_kwargs": self.ufunc_call["var_kwargs"],
                "factory": entity.name.rsplit(".", 1)[-1],
            }
        if kind == "reduction":
            return {
                "kind": "reduction",
                "params": list(self.reduction_call["params"]),
                "var_kwargs": self.reduction_call["var_kwargs"],
            }
        if kind == "class":
            entry: dict = {"kind": "class"}
            for current in self.mro(entity.obj):
                init = current.methods.get("__init__") or current.methods.get("__new__")
                if init is not None:
                    init = init.effective()
                    entry.update(params=init.params, var_kwargs=init.var_kwargs)
                    break
            return entry
        if kind == "constant":
            return {"kind": "constant", "value": entity.name}
        if kind == "instance":
            klass = entity.obj
            calls = [c.methods["__call__"] for c in self.mro(klass) if "__call__" in c.methods]
            if calls:  # a callable object: cupy.matmul is a _GUFunc
                entry = _func_entry(calls[0], kind="callable")
                entry["class"] = entity.name
                return entry
            return {"kind": "other", "what": f"instance of {entity.name}"}
        return {"kind": "other", "what": entity.name}

    def module_names(self, module: str, imported: set[str]) -> dict:
        """Every public name of ``module``, classified."""
        ns = self.src.namespace(module)
        names: dict[str, dict] = {}
        for name, binding in ns.items():
            if name.startswith("_") or not _visible(binding):
                continue
            if binding[0] == "import" and not self.src.is_internal(binding[1]):
                continue  # a helper import such as `import numpy as np` or `import warnings`
            names[name] = self.classify(self.src.resolve(module, name))
        mod = self.src.module(module)
        for name in sorted(mod.getattr_names if mod else ()):
            if not name.startswith("_") and name not in names:
                entry = self.classify(self.src.resolve(module, name))
                entry["lazy"] = True  # answered by the module's __getattr__
                names[name] = entry
        prefix = module + "."
        for sub in sorted(imported):
            if sub.startswith(prefix):
                child = sub[len(prefix) :].split(".")[0]
                if not child.startswith("_") and child not in names:
                    names[child] = {"kind": "module", "module": prefix + child}
        return dict(sorted(names.items()))

    def build(self) -> dict:
        imported = self.src.imported_modules("cupy")
        modules = {m: self.module_names(m, imported) for m in PUBLIC_MODULES}
        ufunc_klass = self.klass("cupy._core._kernel", "ufunc")
        ufunc = {
            "call_params": list(self.ufunc_call["params"]),
            "call_private_params": self.ufunc_call.get("private_params", []),
            "call_var_kwargs": self.ufunc_call["var_kwargs"],
            "factories": sorted(self.src.ufunc_factories),
        }
        if ufunc_klass is not None:
            members = self.members(ufunc_klass)
            ufunc.update(methods=members["methods"], attributes=members["attributes"])
        ndarray = self._ndarray()
        generator = self.klass("cupy.random", "Generator")
        random_state = self.klass("cupy.random", "RandomState")
        # the objects create_reduction_func makes (cupy.nanmax and the like wrap them)
        ufunc["reduction"] = {
            "call_params": list(self.reduction_call["params"]),
            "var_kwargs": self.reduction_call["var_kwargs"],
            "factories": sorted(self.src.reduction_factories),
        }
        generator_members = self.members(generator) if generator else {}
        if random_state is not None:
            generator_members["legacy_RandomState"] = self.members(random_state)
        return {
            "modules": modules,
            "ufunc": ufunc,
            "ndarray": ndarray,
            "Generator": generator_members,
            "cuda": self._cuda(imported),
        }

    def _ndarray(self) -> dict:
        klass = self.klass("cupy", "ndarray")
        if klass is None:
            return {}
        members = self.members(klass)
        source_dunders = set(members["dunders"])
        # Cython spells some special methods differently from the Python it makes:
        # __richcmp__ provides the six comparisons, __nonzero__ is __bool__, and
        # __getbuffer__ / __releasebuffer__ are the buffer protocol, not methods.
        visible = set(source_dunders)
        if "__richcmp__" in visible:
            visible |= {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}
        if "__nonzero__" in visible:
            visible.add("__bool__")
        py2_only = {"__div__", "__idiv__", "__oct__", "__hex__", "__nonzero__"}
        visible -= {"__richcmp__", "__getbuffer__", "__releasebuffer__"} | py2_only
        members["dunders"] = sorted(visible)
        members["dunders_in_source"] = sorted(source_dunders)
        return members

    def _cuda(self, imported: set[str]) -> dict:
        out: dict = {
            "modules": {m: self.module_names(m, imported) for m in CUDA_MODULES},
            "classes": {},
        }
        for name in CUDA_CLASSES:
            klass = self.klass("cupy.cuda", name)
            if klass is not None:
                members = self.members(klass)
                members["class_attributes"] = sorted(
                    a for c in self.mro(klass) for a in c.class_attributes if not a.startswith("_")
                )
                inits = [c.methods["__init__"] for c in self.mro(klass) if "__init__" in c.methods]
                if inits:
                    members["init_params"] = inits[0].effective().params
                out["classes"][name] = members
        out["MemoryHook_exists"] = "MemoryHook" in out["classes"]
        out["hook_call_keywords"] = self._hook_calls()
        return out

    def _hook_calls(self) -> dict:
        """The keyword arguments CuPy passes to each MemoryHook method when it calls it."""
        calls: dict[str, set[str]] = {}
        for path in sorted(self.src.root.joinpath("cupy", "cuda").glob("*.pyx")):
            text = path.read_text(encoding="utf-8")
            for match in re.finditer(r"\.(\w+process)\(", text):
                if match.group(1) not in HOOK_METHODS:
                    continue
                open_at = match.end() - 1
                inner = text[open_at + 1 : _matching_paren(text, open_at)]
                keywords = re.findall(r"(\w+)\s*=(?!=)", inner)
                calls.setdefault(match.group(1), set()).update(keywords)
        return {k: sorted(v) for k, v in sorted(calls.items())}


def build_api(root: Path) -> dict:
    """The API document (without the sdist fields) of the CuPy source tree at ``root``."""
    return Api(Source(root)).build()


# ---------------------------------------------------------------------------
# Fetching and writing
# ---------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_sdist(version: str, dest: Path) -> Path:
    """Download ``cupy-<version>.tar.gz`` into ``dest``: pip first, PyPI's simple index if
    pip cannot prepare the package's metadata (CuPy 14 needs CUDA for that)."""
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        "cupy",
        f"cupy=={version}",
        "-d",
        str(dest),
    ]
    print("$", " ".join(command), file=sys.stderr)
    result = subprocess.run(command, capture_output=True, text=True)
    found = sorted(dest.glob(f"cupy-{version}.tar.gz"))
    if result.returncode == 0 and found:
        return found[0]
    print(
        f"pip download failed (exit {result.returncode}); last lines:\n"
        + "\n".join(result.stdout.splitlines()[-3:] + result.stderr.splitlines()[-3:])
        + "\nreading https://pypi.org/simple/cupy/ instead",
        file=sys.stderr,
    )
    request = urllib.request.Request(
        "https://pypi.org/simple/cupy/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        index = json.load(response)
    filename = f"cupy-{version}.tar.gz"
    entry = next((f for f in index["files"] if f["filename"] == filename), None)
    if entry is None:
        raise SystemExit(f"PyPI lists no {filename}")
    target = dest / filename
    with urllib.request.urlopen(entry["url"], timeout=300) as response:
        target.write_bytes(response.read())
    if _sha256(target) != entry["hashes"]["sha256"]:
        raise SystemExit(f"{filename}: sha256 differs from PyPI's {entry['hashes']['sha256']}")
    return target


def _unpack(sdist: Path, dest: Path) -> Path:
    with tarfile.open(sdist) as archive:
        members = [
            m
            for m in archive.getmembers()
            if m.isfile() and m.name.endswith((".py", ".pyx", ".pxd", ".pxi"))
        ]
        archive.extractall(dest, members=members, filter="data")
    roots = [p for p in dest.iterdir() if p.is_dir() and (p / "cupy" / "__init__.py").is_file()]
    if len(roots) != 1:
        raise SystemExit(f"{sdist.name}: expected one directory holding cupy/__init__.py")
    return roots[0]


def _version_of(root: Path) -> str:
    text = (root / "cupy" / "_version.py").read_text(encoding="utf-8")
    match = re.search(r"__version__\s*=\s*['\"]([^'\"]+)['\"]", text)
    if match is None:
        raise SystemExit("no __version__ in cupy/_version.py")
    return match.group(1)


def make(sdist: Path, out_dir: Path) -> Path:
    """Write ``cupy-api-<version>.json`` for the sdist at ``sdist``; return its path."""
    with tempfile.TemporaryDirectory(prefix="cupy-src-") as tmp:
        root = _unpack(sdist, Path(tmp))
        version = _version_of(root)
        document = {
            "cupy_version": version,
            "sdist": sdist.name,
            "sha256": _sha256(sdist),
            "generator": "tests/data/make_cupy_api.py",
        }
        document.update(build_api(root))
    out = out_dir / f"cupy-api-{version}.json"
    out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("what", nargs="+", help="CuPy versions (14.2.0) or paths to sdists")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).resolve().parent, help="output directory"
    )
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cupy-sdist-") as tmp:
        for what in args.what:
            path = Path(what)
            sdist = path if path.is_file() else fetch_sdist(what, Path(tmp))
            print(make(sdist, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
