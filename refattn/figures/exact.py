"""Figures about exact attention: the memory of dense versus chunked (online-softmax) attention."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import complexity
from ..backend import peak_memory
from ..bench import machine, random_inputs
from ..softmax import chunked_attention, softmax_attention
from .registry import register
from .style import COLORS

SIZES = tuple(2**p for p in range(8, 15))  # n = 256 … 16384
D, CHUNK = 64, 256


def _peak_bytes(attention, q, k, v, **options) -> int:
    return peak_memory(lambda: attention(q, k, v, **options), np)[1]


def exact_memory_data(sizes=SIZES, d=D, chunk=CHUNK) -> dict:
    """Measured peak bytes (tracemalloc, float32) and the complexity.py model, per n."""
    rows = {"n": [], "softmax": [], "chunked": [], "softmax_model": [], "chunked_model": []}
    for n in sizes:
        q, k, v = random_inputs(np, n, d, seed=n)
        rows["n"].append(n)
        rows["softmax"].append(_peak_bytes(softmax_attention, q, k, v))
        rows["chunked"].append(_peak_bytes(chunked_attention, q, k, v, chunk_size=chunk))
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
        ("softmax", "softmax_attention (dense)", "n·m + n·d + n·d_v"),
        ("chunked", f"chunked_attention (chunk c = {CHUNK})", "n·c + n·d + 2·n·d_v"),
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
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n  (= m, d = 64, float32, one head)")
    ax.set_ylabel("peak memory allocated in the call (MiB)")
    ax.set_title(
        "Exact attention without the n×n matrix: dense vs online softmax\n"
        "(the O(n) memory claim of Rabe & Staats 2021, arXiv:2112.05682)"
    )
    ax.legend(loc="upper left", fontsize=8)
    fig.text(
        0.99,
        -0.02,
        f"peak measured with tracemalloc, NumPy; {machine()}",
        ha="right",
        va="top",
        fontsize=7,
        color="0.4",
    )
    return fig
