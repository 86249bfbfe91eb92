"""Figures about Longformer: its attention patterns, and the memory they need."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .. import complexity
from ..bench import configured, peak_bytes
from ..longformer import window_pattern
from .registry import register
from .style import COLORS, machine_note, memory_axes

PATTERN_N = 32


@register(
    "longformer-patterns",
    title="Longformer attention patterns at n = 32",
    reproduces="Figure 2 of Beltagy, Peters & Cohan 2020 (arXiv:2004.05150)",
)
def longformer_patterns() -> Figure:
    n = PATTERN_N
    glob = (0, 1, 16)
    panels = [
        ("(a) full n² attention", np.ones((n, n), dtype=bool), ()),
        ("(b) sliding window, w = 3", window_pattern(n, window=3), ()),
        ("(c) dilated sliding window, w = 3, δ = 2", window_pattern(n, window=3, dilation=2), ()),
        (
            "(d) global + sliding window, w = 3",
            window_pattern(n, window=3, global_tokens=glob),
            glob,
        ),
    ]
    fig = Figure(figsize=(9.0, 9.4))
    axes = fig.subplots(2, 2)
    cmap = ListedColormap(["#f4f4f4", COLORS["sliding_window"], "#d95f02"])
    for ax, (title, pattern, g) in zip(axes.flat, panels, strict=True):
        image = pattern.astype(int)
        if g:  # global rows and columns in their own colour
            rows = np.zeros_like(pattern)
            rows[list(g), :] = rows[:, list(g)] = True
            image[rows] = 2
        ax.imshow(image, cmap=cmap, vmin=0, vmax=2, interpolation="nearest")
        ax.set_title(f"{title}\n{int(pattern.sum())} of {n * n} scores", fontsize=10)
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        ax.grid(False)
        ax.set_xticks([0, 8, 16, 24, 31])
        ax.set_yticks([0, 8, 16, 24, 31])
    fig.suptitle(
        "Longformer attention patterns (Beltagy et al. 2020, Figure 2), n = 32\n"
        "w is the one-sided reach: the paper's window size 2w; global tokens 0, 1, 16 in orange"
    )
    return fig


DENSE_SIZES = tuple(2**p for p in range(8, 15))  # 256 … 16384
CHUNKED_SIZES = tuple(2**p for p in range(8, 16))  # … 32768: linear memory, quadratic time
WINDOW_SIZES = tuple(2**p for p in range(8, 17))  # … 65536
D = 64


def _series() -> dict:
    """The registry's benchmark configurations this figure compares, with the lengths measured."""
    return {
        "softmax": DENSE_SIZES,
        "chunked": CHUNKED_SIZES,
        "sliding_window": WINDOW_SIZES,
        "sliding_window_global": WINDOW_SIZES,
    }


def longformer_memory_data() -> dict:
    """Measured peak bytes (float32, d = 64) and complexity.py's working sets, per configuration.

    The configurations (window 64; 16 global tokens spread evenly; chunk 256)
    are the registry's benchmark configurations, the same ``refattn bench`` runs.
    """
    data = {}
    for label, sizes in _series().items():
        measured, model = [], []
        for n in sizes:
            attend, causal = configured(label, n)
            measured.append(peak_bytes(np, attend, n, D, causal=causal))
            model.append(4 * attend.memory(n, D, causal=causal))
        data[label] = {
            "n": np.array(sizes),
            "measured": np.array(measured),
            "model": np.array(model),
        }
    return data


@register(
    "longformer-memory",
    title="Peak memory of Longformer attention vs dense and chunked exact attention",
    reproduces="the memory claims of Beltagy et al. 2020 (w·n, w·n + g·n vs n²) as measured",
)
def longformer_memory() -> Figure:
    data = longformer_memory_data()
    fig = Figure()
    ax = fig.subplots()
    mib = 2.0**20
    window = configured("sliding_window", 1024)[0].options["window"]
    g = len(configured("sliding_window_global", 1024)[0].options["global_tokens"])
    labels = {
        "softmax": "softmax_attention (dense)",
        "chunked": "chunked_attention (exact, chunk 256)",
        "sliding_window": f"sliding window, w = {window}",
        "sliding_window_global": f"sliding window + {g} global tokens",
    }
    for name, series in data.items():
        ax.plot(
            series["n"],
            series["measured"] / mib,
            "x" if name == "sliding_window_global" else "o",  # the two windows nearly coincide
            color=COLORS[name],
            label=f"{labels[name]}: measured",
        )
        ax.plot(series["n"], series["model"] / mib, "--", color=COLORS[name])
    n = np.array(WINDOW_SIZES)
    ax.plot(
        n,
        4 * complexity.window_scores(n, window) / mib,
        ":",
        color="0.5",
        label="score count only: 4 bytes × (2w + 1)·n",
    )
    ax.plot(
        np.array(DENSE_SIZES),
        4 * np.array(DENSE_SIZES, float) ** 2 / mib,
        ":",
        color="0.2",
        label="score count only: 4 bytes × n²",
    )
    dense = data["softmax"]["measured"][-1]
    banded = data["sliding_window"]["measured"][list(WINDOW_SIZES).index(DENSE_SIZES[-1])]
    ax.annotate(
        f"{dense / banded:.0f}× less at n = {DENSE_SIZES[-1]}",
        xy=(DENSE_SIZES[-1], banded / mib),
        xytext=(2**11, banded / mib / 20),
        arrowprops={"arrowstyle": "->", "color": "0.4"},
    )
    memory_axes(ax, "sequence length n  (d = 64, float32, one head)")
    ax.set_title(
        "Longformer attention in linear memory (Beltagy et al. 2020)\n"
        "dashed: refattn.complexity working sets; dotted: the score counts alone"
    )
    ax.legend(loc="upper left", fontsize=7)
    machine_note(fig, "peak measured with tracemalloc, NumPy")
    return fig
