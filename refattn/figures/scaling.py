"""Figures from the scaling grid of ``refattn bench``: time and peak memory of every mechanism."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from ..bench import QUICK_SIZES, crossover, scaling_grid
from .registry import register
from .style import COLORS, machine_note, memory_axes

#: The committed benchmark run the figures are drawn from (``refattn bench --json …``),
#: shipped as package data so that an installed refattn draws the same run as a clone.
BENCH_JSON = Path(__file__).resolve().parent.parent / "data" / "bench-numpy.json"


def bench_data(path=None) -> dict:
    """The benchmark run at ``path`` (default: the committed run, :data:`BENCH_JSON`).

    The committed run is package data: if it is missing the installation is
    broken, and this refuses (``FileNotFoundError``) rather than draw noise.
    A ``path`` that does not exist means "measure now": a quick one-repeat grid
    at n = 256, 1024, 4096, with a ``UserWarning`` that its times are noise.
    """
    if path is None:
        if not BENCH_JSON.is_file():
            raise FileNotFoundError(
                f"refattn's committed benchmark run {BENCH_JSON} is missing from this "
                "installation; reinstall refattn (the scaling figures are drawn from that run)"
            )
        path = BENCH_JSON
    path = Path(path)
    if path.is_file():
        return json.loads(path.read_text())
    warnings.warn(
        f"no benchmark run at {path}: measuring a quick one-repeat grid now "
        f"(n = {', '.join(map(str, QUICK_SIZES))}); its times are noise, not a benchmark",
        UserWarning,
        stacklevel=2,
    )
    return scaling_grid(np, sizes=QUICK_SIZES, repeats=1, log=lambda *_: None)


def describe_run(path=None) -> str:
    """Which benchmark run :func:`bench_data` reads: its path, backend, machine and date."""
    data = bench_data(path)
    path = BENCH_JSON if path is None else Path(path)
    date = f"measured {data['date']}" if "date" in data else "date not recorded"
    return f"{path} (refattn bench on {data['backend']}, {data['machine']}, {date})"


def _mechanisms(data) -> list[str]:
    """The mechanisms measured in ``data``, in the drawing order of :data:`COLORS`."""
    return sorted({r["mechanism"] for r in data["results"]}, key=list(COLORS).index)


def _series(data, name, key):
    rows = sorted((r["n"], r[key], r) for r in data["results"] if r["mechanism"] == name)
    return (
        np.array([n for n, _, _ in rows]),
        np.array([v for _, v, _ in rows]),
        [r for *_, r in rows],
    )


#: One marker per mechanism, in the order of :data:`COLORS` (★ marks crossovers).
MARKERS = ("o", "s", "^", "v", "D", "<", ">", "p", "h", "P", "X", "d", "H", "8", "o", "s", "^")


def coinciding(data, key, tolerance=0.05) -> list[tuple[list[str], str]]:
    """Groups of mechanisms whose ``key`` values agree within ``tolerance`` at 3 or more n.

    Each group comes with where it agrees: "" for every common n, else the
    range of n.  Groups follow the drawing order of :data:`COLORS`.
    """
    names = _mechanisms(data)
    values = {name: dict(zip(*_series(data, name, key)[:2], strict=True)) for name in names}
    groups: list[tuple[list[str], str]] = []
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            common = sorted(set(values[a]) & set(values[b]))
            close = [n for n in common if abs(values[b][n] / values[a][n] - 1) < tolerance]
            if len(close) < 3:
                continue
            if close == common:
                where = ""
            elif close == common[-len(close) :]:
                where = f"n ≥ {close[0]}"
            elif close == common[: len(close)]:
                where = f"n ≤ {close[-1]}"
            else:
                where = f"at {len(close)} of {len(common)} n"
            for group, at in groups:
                if a in group and at == where == "":
                    group.append(b) if b not in group else None
                    break
            else:
                if not any(a in g and b in g for g, _ in groups):
                    groups.append(([a, b], where))
    return groups


def _draw(data, key, model_key, ylabel, title) -> Figure:
    fig = Figure(figsize=(8.0, 5.2))
    ax = fig.subplots()
    names = _mechanisms(data)
    rate = data["matmul_flops_per_second"]
    groups = coinciding(data, key)
    rank = {name: i for group, _ in groups for i, name in enumerate(group)}
    for i, name in enumerate(names):
        n, values, rows = _series(data, name, key)
        scale = 1.0 if key == "seconds" else 2.0**-20
        # a distinct marker for every mechanism; a series drawn over another that it
        # coincides with gets a larger hollow marker, so the one beneath stays visible
        over = rank.get(name, 0)
        ax.plot(
            n,
            values * scale,
            marker=MARKERS[i % len(MARKERS)],
            linestyle=("-", "-.", ":")[min(over, 2)],
            color=COLORS[name],
            label=name,
            markersize=4 + 3 * over,
            markerfacecolor="none" if over else COLORS[name],
            zorder=3 - 0.1 * over,
        )
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
    if groups:
        parts = [" = ".join(group) + (f" ({where})" if where else "") for group, where in groups]
        title += "\nthese coincide within 5 % (larger hollow markers drawn over filled ones):\n" + (
            "\n".join("; ".join(parts[i : i + 2]) for i in range(0, len(parts), 2))
        )
    ax.set_title(title, fontsize=9)
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
