"""The taxonomy of efficient attention, drawn from refattn's own registry.

Tay, Dehghani, Bahri & Metzler 2020, *Efficient Transformers: A Survey*
(arXiv:2009.06732), Figure 2, groups efficient Transformers into families
(fixed and factorised patterns, learnable patterns, low rank, kernels,
recurrence and memory, downsampling, global memory) whose sets overlap: several
models sit in two.  This figure places every mechanism of
:data:`refattn.mechanisms.REGISTRY` in each of its families, with the order of
its working set and whether it is exact, so a mechanism registered later
appears without any change here.
"""

from __future__ import annotations

import re

from matplotlib.figure import Figure

from .registry import register

#: The survey's names for the registry's families (the column headers).
LABELS = {
    "exact": "exact\n(the oracle)",
    "fixed patterns": "fixed /\nfactorised\npatterns",
    "learnable patterns": "learnable\npatterns",
    "global memory": "global\nmemory",
    "low rank": "low rank",
    "kernels": "kernels",
    "recurrence": "recurrence /\nmemory",
    "downsampling": "down-\nsampling",
}


def mathtext(order: str) -> str:
    r"""The registry's plain-text order of memory (``n·(n_s + n_cm)``) as mathtext.

    Subscripts are braced, ``²`` becomes ``^2``, ``·`` ``\cdot`` and words of
    two or more letters (``rounds``) upright.

    >>> mathtext("n²")
    '$n^2$'
    >>> mathtext("n·c·rounds")
    '$n \\cdot c \\cdot \\mathrm{rounds}$'
    """
    text = re.sub(r"(?<=_)(\w+)", r"{\1}", order)  # braces after each underscore
    text = re.sub(r"(?<![\w{])([A-Za-z]{2,})\b", r"\\mathrm{\1}", text)
    text = text.replace("²", "^2").replace("³", "^3").replace("·", r" \cdot ")
    return f"${text}$"


def taxonomy_data() -> dict:
    """What the figure draws: the families (columns) and one row per registered mechanism.

    Returns
    -------
    dict
        ``families``: tuple of str, :data:`refattn.mechanisms.FAMILIES` in order;
        ``mechanisms``: list of dicts, in registry order, each with ``name``,
        ``families`` (tuple of str), ``memory_order`` (e.g. ``"n·w"``),
        ``exact`` (bool) and ``paper`` (authors, year, arXiv id).
    """
    from ..mechanisms import FAMILIES, REGISTRY

    return {
        "families": tuple(FAMILIES),
        "mechanisms": [
            {
                "name": entry.name,
                "families": tuple(entry.families),
                "memory_order": entry.memory_order,
                "exact": entry.exact,
                "paper": entry.paper.cite(),
            }
            for entry in REGISTRY.values()
        ],
    }


@register(
    "taxonomy",
    title="The taxonomy of efficient attention, drawn from refattn's registry",
    reproduces="Figure 2 of Tay, Dehghani, Bahri & Metzler 2020 (arXiv:2009.06732)",
)
def taxonomy() -> Figure:
    data = taxonomy_data()
    families, rows = data["families"], data["mechanisms"]
    fig = Figure(figsize=(11.5, 0.42 * len(rows) + 2.6))
    ax = fig.subplots()
    x_of = {f: i for i, f in enumerate(families)}
    for y, row in enumerate(rows):
        xs = [x_of[f] for f in row["families"]]
        if len(xs) > 1:  # an overlap: the mechanism sits in several families
            ax.plot([min(xs), max(xs)], [y, y], color="0.55", lw=1.2, zorder=1)
        for x in xs:
            ax.scatter(
                [x],
                [y],
                s=150,
                marker="o",
                facecolor="#1f77b4" if row["exact"] else "white",
                edgecolor="#1f77b4",
                linewidth=1.8,
                zorder=2,
            )
        ax.text(
            len(families) - 0.4, y, mathtext(f"O({row['memory_order']})"), va="center", fontsize=9
        )
    ax.set_xticks(range(len(families)))
    ax.set_xticklabels([LABELS.get(f, f) for f in families], fontsize=9)
    ax.xaxis.tick_top()
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row["name"] for row in rows], fontsize=9)
    ax.set_xlim(-0.6, len(families) + 1.3)
    ax.set_ylim(len(rows) - 0.5, -0.6)
    ax.text(len(families) - 0.4, -0.55, "memory", fontsize=9, fontweight="bold", va="bottom")
    ax.grid(True, axis="x", alpha=0.3)
    ax.grid(False, axis="y")
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    exact = ax.scatter(
        [],
        [],
        s=90,
        facecolor="#1f77b4",
        edgecolor="#1f77b4",
        label="exact: softmax attention under a boolean mask",
    )
    approx = ax.scatter([], [], s=90, facecolor="white", edgecolor="#1f77b4", linewidth=1.8)
    approx.set_label("not equal to softmax attention (an estimate, or another kernel or mask)")
    ax.legend(
        handles=[exact, approx],
        loc="upper center",
        bbox_to_anchor=(0.42, -0.01),
        ncol=2,
        fontsize=9,
    )
    fig.suptitle(
        "The efficient-attention taxonomy of Tay et al. 2020 (Figure 2), with every mechanism "
        "in refattn's registry\none marker per family it belongs to (a line joins a mechanism's "
        "families); memory: the order of its working set",
        fontsize=11,
    )
    return fig
