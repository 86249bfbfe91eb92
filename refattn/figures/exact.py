"""Figures about exact attention: the memory of dense versus chunked (online-softmax) attention."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import complexity
from ..bench import peak_bytes
from ..softmax import chunked_attention, softmax_attention
from .registry import register
from .style import COLORS, machine_note, memory_axes

SIZES = tuple(2**p for p in range(8, 15))  # n = 256 … 16384
D, CHUNK = 64, 256


def exact_memory_data(sizes=SIZES, d=D, chunk=CHUNK) -> dict:
    """Measured peak bytes (tracemalloc, float32) and the complexity.py model, per n."""
    rows = {"n": [], "softmax": [], "chunked": [], "softmax_model": [], "chunked_model": []}
    for n in sizes:
        rows["n"].append(n)
        rows["softmax"].append(peak_bytes(np, softmax_attention, n, d))
        rows["chunked"].append(peak_bytes(np, chunked_attention, n, d, chunk_size=chunk))
        rows["softmax_model"].append(4 * complexity.dense_attention_memory(n, d=d))
        rows["chunked_model"].append(4 * complexity.chunked_attention_memory(n, d=d, chunk=chunk))
    return {key: np.array(values) for key, values in rows.items()}


@register(
    "exact-memory",
    title="Peak memory of exact attention: dense vs chunked (online softmax)",
    reproduces="the O(n) memory claim of Rabe & Staats 2021 (arXiv:2112.05682)",
)
def exact_memory() -> Figure:
    data = exact_memory_data()
    fig = Figure()
    ax = fig.subplots()
    mib = 2.0**20
    curves = (
        ("softmax", "softmax_attention (dense)", r"$n m + n d + n d_v$"),
        ("chunked", f"chunked_attention (chunk c = {CHUNK})", r"$n c + n d + 2 n d_v$"),
    )
    for name, label, formula in curves:
        ax.plot(data["n"], data[name] / mib, "o", color=COLORS[name], label=f"{label}: measured")
        ax.plot(
            data["n"],
            data[f"{name}_model"] / mib,
            "--",
            color=COLORS[name],
            label=f"complexity.py: 4 bytes × ({formula})",
        )
    n, dense, chunked = data["n"][-1], data["softmax"][-1], data["chunked"][-1]
    ax.annotate(
        f"{dense / chunked:.0f}× less memory at n = {n}",
        xy=(n, chunked / mib),
        xytext=(n / 4, chunked / mib / 25),
        ha="center",
        arrowprops={"arrowstyle": "->", "color": "0.4"},
    )
    memory_axes(ax, "sequence length n  (= m, d = 64, float32, one head)")
    ax.set_title(
        "Exact attention without the n×n matrix: dense vs online softmax\n"
        "(the O(n) memory claim of Rabe & Staats 2021, arXiv:2112.05682)"
    )
    ax.legend(loc="upper left", fontsize=8)
    machine_note(fig, "peak measured with tracemalloc, NumPy")
    return fig
