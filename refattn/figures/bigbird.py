"""Figures about BigBird: its block pattern, and the small world its random blocks make."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from ..bigbird import attention_graph_distances, block_pattern, random_block_assignment
from .registry import register
from .style import COLORS

PATTERN_N, PATTERN_BLOCK = 64, 4  # 16 blocks of 4 tokens
PATTERN_R, PATTERN_G = 2, 2
SEED = 0


def _token_image(blocks_image, block):
    """A (B, B) block-level image as (B·b, B·b) tokens."""
    return np.kron(blocks_image, np.ones((block, block), dtype=int))


def bigbird_pattern_panels() -> list[tuple[str, np.ndarray]]:
    """The four panels' images at block level: 0 = not attended, 1 random, 2 window, 3 global.

    Computed with refattn's own :func:`block_pattern` and
    :func:`random_block_assignment` (the rule excludes window and global
    blocks, and global rows draw none); in the combined panel a block in two
    parts takes the colour of the later one (random < window < global).
    """
    blocks = PATTERN_N // PATTERN_BLOCK
    slots = random_block_assignment(blocks, PATTERN_R, global_blocks=PATTERN_G, rng=SEED)
    window = block_pattern(blocks)
    rows_and_columns = np.zeros((blocks, blocks), dtype=bool)
    rows_and_columns[:PATTERN_G, :] = rows_and_columns[:, :PATTERN_G] = True
    glob = block_pattern(blocks, global_blocks=PATTERN_G) & rows_and_columns
    random = block_pattern(blocks, random_blocks=slots) & ~window
    combined = np.zeros((blocks, blocks), dtype=int)
    combined[random] = 1
    combined[window] = 2
    combined[glob & ~window] = 3
    return [
        (f"(a) random attention, $r = {PATTERN_R}$", random.astype(int)),
        ("(b) window attention, 3 blocks", 2 * window.astype(int)),
        (f"(c) global attention, $g = {PATTERN_G}$", 3 * glob.astype(int)),
        ("(d) BigBird: (a) + (b) + (c)", combined),
    ]


@register(
    "bigbird-pattern",
    title="BigBird's block pattern: random, window, global and combined",
    reproduces="Figure 1 of Zaheer et al. 2020 (arXiv:2007.14062)",
)
def bigbird_pattern_figure() -> Figure:
    fig = Figure(figsize=(9.0, 9.4))
    axes = fig.subplots(2, 2)
    cmap = ListedColormap(["#f4f4f4", "#7570b3", COLORS["bigbird"], "#d95f02"])
    n, b = PATTERN_N, PATTERN_BLOCK
    ticks = list(range(0, n + 1, 16))
    for ax, (title, image) in zip(axes.flat, bigbird_pattern_panels(), strict=True):
        tokens = _token_image(image, b)
        ax.imshow(tokens, cmap=cmap, vmin=0, vmax=3, interpolation="nearest")
        count = int((tokens > 0).sum())
        ax.set_title(f"{title}\n{count} of {n * n} scores", fontsize=10)
        ax.set_xlabel("key $j$")
        ax.set_ylabel("query $i$")
        ax.grid(False)
        ax.set_xticks([t - 0.5 for t in ticks], [str(t) for t in ticks])
        ax.set_yticks([t - 0.5 for t in ticks], [str(t) for t in ticks])
        for edge in range(b, n, b):  # block boundaries
            ax.axhline(edge - 0.5, color="white", linewidth=0.4)
            ax.axvline(edge - 0.5, color="white", linewidth=0.4)
    fig.suptitle(
        f"BigBird's attention pattern (Zaheer et al. 2020, Figure 1), $n = {n}$, "
        f"blocks of $b = {b}$\n"
        "random blocks purple, window teal, global rows and columns orange; "
        "each cell is a token pair"
    )
    fig.subplots_adjust(hspace=0.3)
    return fig


GRAPH_BLOCKS = (16, 32, 64, 128, 256, 512, 1024)
GRAPH_R = (0, 1, 2, 3, 4, 6, 8)
GRAPH_AT = 256  # blocks in panel (b): n = 16384 tokens at b = 64
#: Independent draws of the random blocks behind each point of bigbird-graph.
SEEDS = tuple(range(6))


def bigbird_graph_data() -> dict:
    """Diameter and mean shortest path of the block graph, by breadth-first search (9.6).

    ``by_blocks``: against the number of blocks ``B`` for the window alone, the
    window with 3 random blocks and with 3 random plus 2 global blocks;
    ``by_r``: against ``r`` at ``B = 256`` for 0, 1 and 2 global blocks.  Each
    is an array ``(points, 2)`` of (diameter, mean shortest path), averaged over
    the draws of :data:`SEEDS` for the random graphs; ``by_blocks_draws`` and
    ``by_r_draws`` hold every draw, ``(draws, points, 2)`` (one draw where
    ``r = 0``: the graph is then fixed).
    """

    def distances(blocks, r, g):
        if r == 0:
            return [attention_graph_distances(block_pattern(blocks, global_blocks=g))]
        return [
            attention_graph_distances(
                block_pattern(
                    blocks,
                    global_blocks=g,
                    random_blocks=random_block_assignment(blocks, r, global_blocks=g, rng=seed),
                )
            )
            for seed in SEEDS
        ]

    def stack(points):  # (points, draws, 2) -> (draws, points, 2); r = 0 repeats its one draw
        draws = max(len(p) for p in points)
        return np.array([p * (draws // len(p)) for p in points], dtype=float).transpose(1, 0, 2)

    by_blocks = {
        key: stack([distances(blocks, r, g) for blocks in GRAPH_BLOCKS])
        for key, (r, g) in {"window": (0, 0), "random": (3, 0), "global": (3, 2)}.items()
    }
    by_r = {g: stack([distances(GRAPH_AT, r, g) for r in GRAPH_R]) for g in (0, 1, 2)}
    return {
        "blocks": np.array(GRAPH_BLOCKS),
        "by_blocks": {key: draws.mean(axis=0) for key, draws in by_blocks.items()},
        "by_blocks_draws": by_blocks,
        "r": np.array(GRAPH_R),
        "by_r": {g: draws.mean(axis=0) for g, draws in by_r.items()},
        "by_r_draws": by_r,
        "draws": len(SEEDS),
    }


@register(
    "bigbird-graph",
    title="BigBird's attention graph: diameter and mean shortest path against r and g",
    reproduces="the small-world argument of Zaheer et al. 2020 (arXiv:2007.14062), §2",
)
def bigbird_graph_figure() -> Figure:
    data = bigbird_graph_data()
    fig = Figure(figsize=(11.0, 4.6))
    left, right = fig.subplots(1, 2)

    def draw(ax, x, draws, linestyle, label, look):
        """Mean over the draws, bars min–max over them (none where the graph is fixed)."""
        mean = draws.mean(axis=0)
        bars = np.maximum(0, (mean - draws.min(axis=0), draws.max(axis=0) - mean))  # rounding
        ax.errorbar(x, mean, yerr=bars, linestyle=linestyle, label=label, capsize=3, **look)

    blocks = data["blocks"]
    styles = {
        "window": ("window only (3 blocks)", "0.4", "s"),
        "random": ("window + 3 random blocks", "#7570b3", "o"),
        "global": ("window + 3 random + 2 global", "#d95f02", "^"),
    }
    for key, (label, colour, marker) in styles.items():
        draws = data["by_blocks_draws"][key]
        look = {"marker": marker, "color": colour}
        draw(left, blocks, draws[..., 0], "-", f"{label}: diameter", look)
        draw(left, blocks, draws[..., 1], ":", "   mean path", look)
    left.plot(blocks, np.log2(blocks), "--", color="0.7", label=r"$\log_2 B$")
    left.set_xscale("log", base=2)
    left.set_yscale("log", base=2)
    left.set_ylim(top=2**13)  # room for the legend above the window's lines
    left.set_xlabel(r"blocks $B$ ($n = 64 B$ tokens at $b = 64$)")
    left.set_ylabel("layers (edges of the shortest path)")
    left.set_title("(a) against the sequence length, $r = 3$")
    left.legend(fontsize=7, loc="upper left")

    r = data["r"]
    window = data["by_r"][0][0]  # r = 0, g = 0: the window alone
    looks = {0: ("#7570b3", "o", 5), 1: ("#e7298a", "s", 8), 2: ("#d95f02", "^", 5)}
    for g, draws in data["by_r_draws"].items():
        colour, marker, size = looks[g]
        look = {"marker": marker, "markersize": size, "color": colour}
        draw(right, r, draws[..., 0], "-", f"$g = {g}$: diameter", look)
        draw(right, r, draws[..., 1], ":", f"$g = {g}$: mean shortest path", look)
    right.axhline(window[0], color="0.4", linestyle="--", linewidth=1)
    right.text(
        0.2, 2.25, "$g = 1$ and $g = 2$: every pair within 2 hops", ha="left", fontsize=8,
        color="0.3",
    )  # fmt: skip
    right.annotate(
        f"window only: diameter {window[0]:.0f}, mean {window[1]:.1f}",
        xy=(r[-1], window[0]),
        xytext=(r[-1], window[0] / 2.2),
        ha="right",
        fontsize=8,
        color="0.3",
    )
    right.set_yscale("log", base=2)
    right.set_xlabel("random blocks per query block $r$")
    right.set_ylabel("layers (edges of the shortest path)")
    right.set_title(f"(b) against $r$ and $g$, $B = {GRAPH_AT}$ blocks")
    right.legend(fontsize=7, loc="center right")
    fig.suptitle(
        "BigBird's attention graph is a small world (Zaheer et al. 2020, §2): random blocks bring "
        r"the diameter from $B - 1$ to about $\log B$, global blocks to 2"
        "\ndirected block graph 'query block $i$ attends key block $j$', breadth-first search; "
        f"random graphs: mean over {data['draws']} independent draws, bars min–max over the draws",
        fontsize=10,
        y=1.04,
    )
    return fig
