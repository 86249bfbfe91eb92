"""Figures about Funnel pooling: which keys each pooled query reads, and what pooling saves."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from .. import complexity
from ..funnel import funnel_attention, pool_last, pooled_length
from .registry import register
from .style import COLORS

PATTERN_N = 16
SIZES = tuple(2**p for p in range(9, 17))  # 512 … 65536
STRIDES = (1, 2, 4, 8)


def funnel_pattern_data(n: int = PATTERN_N) -> dict:
    """The pooling groups and the causal pattern at length ``n`` (stride 2, [CLS] apart).

    ``pooling`` (n', n): 1 where position i is pooled into query g, the groups
    running between the last members :func:`refattn.funnel.pool_last` gives;
    ``causal`` (n', n): the keys each pooled query reads with ``causal=True``,
    the nonzero weights of refattn's own ``funnel_attention`` (equal scores).
    """
    eye = np.eye(n)
    zeros = np.zeros((n, 2))
    _, weights = funnel_attention(zeros, zeros, eye, causal=True, return_weights=True)
    causal = weights.to_dense() > 0  # (n', n)
    last = pool_last(n)
    pooling = np.zeros((pooled_length(n), n))
    first = np.concatenate([[0], last[:-1] + 1])  # each group runs from first to last
    for g, (a, b) in enumerate(zip(first, last, strict=True)):
        pooling[g, a : b + 1] = 1
    return {"pooling": pooling, "causal": causal, "last": last}


def funnel_cost_data() -> dict:
    """complexity.py's flops and working set of Funnel over exact attention's, per stride."""
    flops = {s: [] for s in STRIDES}
    memory = {s: [] for s in STRIDES}
    for n in SIZES:
        for s in STRIDES:
            flops[s].append(
                complexity.funnel_flops(n, stride=s) / complexity.dense_attention_flops(n)
            )
            memory[s].append(
                complexity.funnel_memory(n, stride=s) / complexity.dense_attention_memory(n)
            )
    return {"sizes": SIZES, "flops": flops, "memory": memory}


@register(
    "funnel-pooling",
    title="Funnel pooling: pooled queries over full-length keys, and what it saves",
    reproduces="Figure 1 of Dai, Lai, Yang & Le 2020 (arXiv:2006.03236), the pooling step",
)
def funnel_pooling() -> Figure:
    pattern = funnel_pattern_data()
    cost = funnel_cost_data()
    fig = Figure(figsize=(13.0, 5.0))
    axes = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.1, 1.1, 1.4], "wspace": 0.4})
    n = PATTERN_N
    color = COLORS["funnel"]
    for ax, key, title in (
        (
            axes[0],
            "pooling",
            "(a) pooling: [CLS] alone, then pairs\n$\\bar{q}_g$ = mean of its members",
        ),
        (
            axes[1],
            "causal",
            "(b) causal: pooled query g reads\nkeys j ≤ last(g) (bidirectional: all)",
        ),
    ):
        ax.imshow(
            pattern[key].astype(int),
            cmap=ListedColormap(["#f4f4f4", color]),
            vmin=0,
            vmax=1,
            interpolation="nearest",
        )
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("position i" if key == "pooling" else "key j")
        ax.set_ylabel("pooled query g")
        ax.grid(False)
        ax.set_xticks(range(0, n, 3))
        ax.set_yticks(range(pooled_length(n)))
    ax = axes[2]
    for s, style in zip(STRIDES, ("-", "--", "-.", ":"), strict=True):
        ax.plot(cost["sizes"], cost["flops"][s], style, color=color, label=f"flops, s = {s}")
        ax.plot(cost["sizes"], cost["memory"][s], style, color="0.45", label=f"memory, s = {s}")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("Funnel / exact attention (complexity.py)")
    ax.set_title(
        "(c) this layer's cost: flops ≈ 1/s (still n²),\nmemory linear (key chunks of 256)"
    )
    ax.legend(fontsize=7, ncol=2)
    fig.suptitle(
        f"Funnel pooling (Dai et al. 2020), n = {n}, stride 2: queries pooled, keys and values "
        "full length; output length 1 + ⌈(n − 1)/2⌉",
        y=1.06,
    )
    return fig
