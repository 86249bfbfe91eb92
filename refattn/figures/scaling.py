"""Figures from the scaling grid of ``refattn bench``: time and peak memory of every mechanism."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..bench import QUICK_SIZES, crossover, scaling_grid
from .registry import register
from .style import COLORS, machine_note, memory_axes

#: The committed benchmark run the figures are drawn from (``refattn bench --json …``).
BENCH_JSON = Path("figures") / "bench-numpy.json"


def bench_data(path=BENCH_JSON) -> dict:
    """The bench JSON at ``path`` or, if there is none, a quick grid measured now."""
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    return scaling_grid(np, sizes=QUICK_SIZES, repeats=1, log=lambda *_: None)


def _series(data, name, key):
    rows = sorted((r["n"], r[key], r) for r in data["results"] if r["mechanism"] == name)
    return (
        np.array([n for n, _, _ in rows]),
        np.array([v for _, v, _ in rows]),
        [r for *_, r in rows],
    )


def _draw(data, key, model_key, ylabel, title) -> Figure:
    fig = Figure(figsize=(8.0, 5.2))
    ax = fig.subplots()
    names = sorted({r["mechanism"] for r in data["results"]}, key=list(COLORS).index)
    rate = data["matmul_flops_per_second"]
    for name in names:
        n, values, rows = _series(data, name, key)
        scale = 1.0 if key == "seconds" else 2.0**-20
        ax.plot(n, values * scale, "o-", color=COLORS[name], label=name, markersize=4)
        model = np.array([r[model_key] for r in rows]) * scale
        if key == "seconds":
            model = model / rate  # the analytic flops at the machine's matmul rate
        ax.plot(n, model, "--", color=COLORS[name], linewidth=1)
        cross = crossover(data["results"], name) if name != "softmax" else None
        if cross is not None and key == "seconds":
            y = values[list(n).index(cross)]
            ax.plot([cross], [y], "*", color=COLORS[name], markersize=12)
    if key == "seconds":
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n  (d = 64, float32, one head)")
        ax.set_ylabel(ylabel)
    else:
        memory_axes(ax, "sequence length n  (d = 64, float32, one head)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7, ncol=2, loc="upper left")
    machine_note(fig, f"refattn bench on {data['backend']}", data["machine"])
    return fig


@register(
    "scaling-time",
    title="Time of every mechanism against n, with the analytic flops at the matmul rate",
    reproduces="the linear-vs-quadratic time claims of all four papers, measured",
)
def scaling_time() -> Figure:
    data = bench_data()
    return _draw(
        data,
        "seconds",
        "flops",
        "median time per call (s)",
        "Time against sequence length (refattn bench)\n"
        "dashed: complexity.py flops at this machine's matmul rate; "
        "★: where a mechanism overtakes dense attention for good",
    )


@register(
    "scaling-memory",
    title="Peak memory of every mechanism against n, with complexity.py's working sets",
    reproduces="the linear-vs-quadratic memory claims of all four papers, measured",
)
def scaling_memory() -> Figure:
    data = bench_data()
    return _draw(
        data,
        "peak_bytes",
        "model_bytes",
        "peak memory (MiB)",
        "Peak memory against sequence length (refattn bench, tracemalloc)\n"
        "dashed: complexity.py working sets; configurations above --max-mem skipped",
    )
