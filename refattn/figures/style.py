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
    "compressive": "#8c564b",
}
