"""Figures about the Sparse Transformer: its factorised patterns, and the two hops that cover."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch, Rectangle

from ..sparse_transformer import sparse_transformer_pattern, two_hop_reach
from .registry import register

N, STRIDE, SUMMARY = 36, 6, 1  # the l-grid is 6 × 6, as in the paper's picture
QUERY = 27  # the query whose keys the lower row shows on the grid
EMPTY, HEAD1, HEAD2, BOTH = "#f4f4f4", "#3182bd", "#e6550d", "#756bb1"
CMAP = ListedColormap([EMPTY, HEAD1, HEAD2, BOTH])


def _heads(kind):
    """Head 1 and head 2 of ``kind`` at n = 36, l = 6, causal (full: the triangle twice)."""
    if kind == "full":
        triangle = np.tril(np.ones((N, N), dtype=bool))
        return triangle, np.zeros_like(triangle)
    opts = dict(kind=kind, stride=STRIDE, summary=SUMMARY if kind == "fixed" else None)
    return tuple(
        sparse_transformer_pattern(N, heads=h, causal=True, **opts) for h in ("first", "second")
    )


def _image(first, second):
    """0 empty, 1 head 1 only, 2 head 2 only, 3 both."""
    return first.astype(int) + 2 * second.astype(int)


def _matrix_axes(ax, title):
    ax.set_title(title, fontsize=10)
    ax.set_xlabel("key j")
    ax.set_ylabel("query i")
    ax.grid(False)
    ticks = list(range(0, N, STRIDE)) + [N - 1]
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)


@register(
    "sparse-transformer-patterns",
    title="Sparse Transformer patterns at n = 36, l = 6",
    reproduces="Figure 3 of Child, Gray, Radford & Sutskever 2019 (arXiv:1904.10509)",
)
def sparse_transformer_patterns() -> Figure:
    panels = [
        ("(a) full causal attention", "full"),
        (f"(b) strided, l = {STRIDE}", "strided"),
        (f"(c) fixed, l = {STRIDE}, c = {SUMMARY}", "fixed"),
    ]
    fig = Figure(figsize=(11.0, 7.6))
    axes = fig.subplots(2, 3, gridspec_kw={"height_ratios": [3, 2]})
    for column, (title, kind) in enumerate(panels):
        first, second = _heads(kind)
        image = _image(first, second)
        ax = axes[0, column]
        ax.imshow(image, cmap=CMAP, vmin=0, vmax=3, interpolation="nearest")
        count = int((first | second).sum())
        _matrix_axes(ax, f"{title}\n{count} of {N * (N + 1) // 2} causal scores")
        ax.axhline(QUERY, color="0.2", lw=0.6, ls=":")
        # lower row: query QUERY's keys on the 6 × 6 grid of positions (row b, column r)
        grid = image[QUERY].reshape(N // STRIDE, STRIDE)
        ax = axes[1, column]
        ax.imshow(grid, cmap=CMAP, vmin=0, vmax=3, interpolation="nearest")
        ax.add_patch(_outline(QUERY))
        for b in range(N // STRIDE):
            for r in range(STRIDE):
                ax.text(r, b, str(b * STRIDE + r), ha="center", va="center", fontsize=6.5)
        ax.set_title(f"keys of query {QUERY} on the {STRIDE} × {STRIDE} grid", fontsize=9)
        ax.set_xticks(range(STRIDE))
        ax.set_yticks(range(N // STRIDE))
        ax.set_xlabel("column r = j mod l")
        ax.set_ylabel("row b = ⌊j / l⌋")
        ax.grid(False)
    legend = [
        Patch(color=HEAD1, label="head 1 (full: all; strided: last l; fixed: own block)"),
        Patch(color=HEAD2, label="head 2 (strided: every l-th; fixed: last c of each block)"),
        Patch(color=BOTH, label="both heads (counted once by the merged head)"),
    ]
    fig.legend(handles=legend, loc="lower center", ncol=3, fontsize=8, bbox_to_anchor=(0.5, -0.01))
    fig.suptitle(
        "Sparse Transformer factorised attention (Child et al. 2019, Figure 3), causal, "
        f"n = {N}, l = {STRIDE}, 0-indexed\n"
        "top: connectivity matrices; bottom: the keys one query reads, on the l-grid "
        "(the outlined cell is the query)"
    )
    fig.subplots_adjust(bottom=0.1, hspace=0.35)
    return fig


def _outline(position):
    b, r = divmod(position, STRIDE)
    return Rectangle((r - 0.5, b - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.6)


@register(
    "sparse-transformer-coverage",
    title="Two hops through the two factorised heads reach every earlier position",
    reproduces="the claim of Child et al. 2019 (arXiv:1904.10509, §4.2) that p + 1 = 3 "
    "positions connect any pair, checked as a boolean matrix product",
)
def sparse_transformer_coverage() -> Figure:
    fig = Figure(figsize=(11.0, 8.6))
    axes = fig.subplots(2, 3, gridspec_kw={"hspace": 0.45})
    triangle = np.tril(np.ones((N, N), dtype=bool))
    for row, kind in enumerate(("strided", "fixed")):
        first, second = _heads(kind)
        reach = two_hop_reach(first, second)
        reversed_reach = two_hop_reach(second, first)
        panels = [
            (_image(first, second), f"{kind}: head 1 and head 2\n{int((first | second).sum())} "
             "scores in one layer"),
            (3 * reach.astype(int), f"{kind}: head 1, then head 2\nreaches "
             f"{int(reach.sum())} of {int(triangle.sum())} causal pairs"),
            (3 * reversed_reach.astype(int), f"{kind}: head 2, then head 1\nreaches "
             f"{int(reversed_reach.sum())} of {int(triangle.sum())}"),
        ]  # fmt: skip
        for column, (image, title) in enumerate(panels):
            ax = axes[row, column]
            ax.imshow(image, cmap=CMAP, vmin=0, vmax=3, interpolation="nearest")
            _matrix_axes(ax, title)
    fig.suptitle(
        "Two hops of the factorised heads cover the causal triangle (Child et al. 2019, §4.2); "
        f"n = {N}, l = {STRIDE}, c = {SUMMARY}\n"
        "reach = (I ∨ second)·(I ∨ first) as a boolean product (the residual path keeps each "
        "position); fixed needs the summary head second"
    )
    return fig
