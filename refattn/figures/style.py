"""One look for every figure: sizes, fonts, grid, and a fixed colour per mechanism."""

STYLE = {
    "figure.figsize": (7.0, 4.6),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "lines.linewidth": 1.6,
    "lines.markersize": 5,
}

#: The same mechanism has the same colour in every figure.
COLORS = {
    "softmax": "#1f77b4",
    "chunked": "#ff7f0e",
    "sliding_window": "#2ca02c",
    "sliding_window_global": "#98df8a",
    "linformer": "#d62728",
    "favor": "#9467bd",
    "favor_causal": "#c5b0d5",
    "xl": "#e377c2",
    "compressive": "#8c564b",
    "reformer": "#bcbd22",
    "bigbird": "#17becf",
    "sparse_strided": "#393b79",
    "sparse_fixed": "#637939",
    "funnel": "#7b4173",
    "linear": "#e7969c",
    "linear_causal": "#ad494a",
    "adaptive_span": "#8ca252",
}


def memory_axes(ax, xlabel: str) -> None:
    """Log-log axes of peak memory (MiB) against the sequence length."""
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel("peak memory allocated in the call (MiB)")


def machine_note(fig, how: str, machine: str | None = None) -> None:
    """A footnote saying how and on what machine (default: this one) a figure was measured."""
    from ..bench import machine as this_machine

    where = this_machine() if machine is None else machine
    fig.text(0.99, -0.02, f"{how}; {where}", ha="right", va="top", fontsize=7, color="0.4")
