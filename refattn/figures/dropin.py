"""Figures on every mechanism dropped into the pretrained MiniLM encoder, without fine-tuning."""

from __future__ import annotations

import textwrap

import numpy as np
from matplotlib.figure import Figure

from .registry import PRETRAINED, register
from .style import COLORS

#: Chunks of 512 tokens each experiment runs on: as many as the time budget of
#: ``refattn figures`` allows on a 2-core CPU (one full pass over 16 chunks takes ~4 s).
DROPIN_CHUNKS = 5
PROPAGATION_CHUNKS = 2
COMPONENT_CHUNKS = 2
LENGTH = 512

#: Colours of the mechanisms style.py does not list, then for any registered later.
EXTRA_COLORS = {"favor_hyperbolic": "#6b6ecf", "favor_trig": "#e7ba52", "favor_relu": "#7f7f7f"}
SPARE_COLORS = ("#393b79", "#843c39", "#637939", "#d6616b", "#31a354", "#7b4173")
MODEL = "all-MiniLM-L6-v2"
#: Mechanisms whose sizes dropin-real writes next to the points: (panel, text offset).
#: The window on the log panel, FAVOR+ and Linformer on the linear one.
LABELLED = {"sliding_window": (1, (2, 4)), "favor": (0, (-4, 7)), "linformer": (0, (-4, -12))}


def _encoder_and_chunks(count):
    from ..pretrained import load_minilm, text_chunks

    encoder = load_minilm()
    return encoder, text_chunks(encoder, count=count, length=LENGTH)


def _label(option, size):
    """``$w = 64$`` for a size the plot marks: its symbol in mathtext, else the option's name."""
    short = {"window": "w", "features": "m", "segment": "n_s", "chunk_size": "c", "k": "k"}
    if not option:
        return ""
    return f"${short[option]} = {size}$" if option in short else f"{option} = {size}"


@register(
    "dropin-real",
    title="Every registered mechanism dropped into pretrained MiniLM: embedding cosine vs memory",
    reproduces=(
        "the drop-in premise of Beltagy et al. 2020 (Longformer), tested for every registered "
        "mechanism on pretrained weights without fine-tuning"
    ),
    requires=PRETRAINED,
    extra="pretrained",
)
def dropin_real() -> Figure:
    from ..dropin import dropin_sweep

    encoder, ids = _encoder_and_chunks(DROPIN_CHUNKS)
    data = dropin_sweep(encoder, ids)
    fig = Figure(figsize=(12.5, 5.0))
    axes = fig.subplots(1, 2)
    names = list(dict.fromkeys(data["mechanism"]))
    spare = iter(SPARE_COLORS * len(names))
    for name in names:
        rows = np.flatnonzero(data["mechanism"] == name)
        memory = data["memory_relative"][rows]
        cos = data["cosine"][rows]  # (rows, N)
        color = COLORS.get(name) or EXTRA_COLORS.get(name) or next(spare)
        for ax, y, low, high in (
            (axes[0], cos.mean(1), cos.min(1), cos.max(1)),
            (axes[1], *(np.maximum(1 - c, 1e-8) for c in (cos.mean(1), cos.max(1), cos.min(1)))),
        ):
            ax.errorbar(
                memory, y, yerr=(y - low, high - y), fmt="o-" if len(rows) > 1 else "o",
                color=color, label=name, capsize=2, markersize=4,
            )  # fmt: skip
        if name in LABELLED:
            ax, offset = axes[LABELLED[name][0]], LABELLED[name][1]
            for r in rows:
                y = data["cosine"][r].mean()
                ax.annotate(
                    _label(data["option"][r], data["size"][r]),
                    (data["memory_relative"][r], y if ax is axes[0] else max(1 - y, 1e-8)),
                    xytext=offset, textcoords="offset points", fontsize=6, color=color,
                )  # fmt: skip
    unrelated = float(data["unrelated_cosine"])
    for ax, y in ((axes[0], unrelated), (axes[1], 1 - unrelated)):
        ax.axhline(
            y, color="0.5", linewidth=1, linestyle="--",
            label=f"for scale: exact model,\ndifferent chunks ({unrelated:.2f})",
        )  # fmt: skip
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.axvline(1.0, color="0.6", linewidth=0.8, linestyle=":")
    fig.supxlabel(
        "working set of one layer's attention over exact attention's "
        f"(complexity.py formulas, n = {LENGTH}, 12 heads)",
        fontsize=10,
    )
    axes[0].set_ylabel("cosine of sentence embedding to the exact model's")
    axes[0].set_ylim(min(-0.1, float(data["cosine"].min()) - 0.05), 1.05)
    axes[0].set_title(f"cosine: mean over the {ids.shape[0]} chunks, bars min–max", fontsize=10)
    axes[1].set_yscale("log")
    axes[1].set_ylabel(r"$1 - $cosine (log; exact rounding floored at $10^{-8}$)")
    axes[1].set_title(r"the same as $1 - $cosine", fontsize=10)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", fontsize=8, bbox_to_anchor=(0.85, 0.45))
    unmarked = []  # the swept sizes the plot does not label
    for name in names:
        rows = np.flatnonzero(data["mechanism"] == name)
        if name not in LABELLED and data["option"][rows[0]]:
            sizes = ", ".join(str(size) for size in data["size"][rows])
            unmarked.append(f"{name} {data['option'][rows[0]]} {sizes}")
    fig.suptitle(
        f"Every registered mechanism in all 6 layers of {MODEL}, no fine-tuning: "
        f"{ids.shape[0]} chunks of {LENGTH} tokens of pydoc_data.topics\n"
        "sliding window with [CLS] global; Linformer with Gaussian $E$, $F$; FAVOR+ with "
        r"orthogonal features, $\chi$ norms; each mechanism one fixed draw of its randomness"
        "\n"
        "xl and compressive (as much memory as segment): bidirectional within a segment, "
        "the memory holds only the past\n"
        + textwrap.fill(f"sizes not marked: {'; '.join(unmarked)}", 140),
        fontsize=10,
    )
    fig.subplots_adjust(top=0.74, bottom=0.13, right=0.84, wspace=0.25)
    return fig


def _maths(text):
    """``√d`` and ``χ`` of :data:`refattn.dropin.EFFECTS` in mathtext."""
    return text.replace("√d", r"$\sqrt{d}$").replace("χ", r"$\chi$")


def _band(ax, x, values, color, style, label):
    """Median over seeds as a line, min–max as a band; ``values`` (S, len(x))."""
    ax.plot(x, np.median(values, axis=0), style, color=color, label=label, markersize=4)
    ax.fill_between(x, values.min(axis=0), values.max(axis=0), color=color, alpha=0.15)


@register(
    "error-propagation-real",
    title="Do FAVOR+ errors grow through the layers of a pretrained encoder?",
    reproduces=(
        "the open question of the reading-group post 'Long-range Transformers' (Hugging Face, "
        "2021) on FAVOR+ (Choromanski et al. 2021), measured on pretrained MiniLM"
    ),
    requires=PRETRAINED,
    extra="pretrained",
)
def error_propagation_real() -> Figure:
    from ..dropin import error_propagation

    encoder, ids = _encoder_and_chunks(PROPAGATION_CHUNKS)
    data = error_propagation(encoder, ids)
    layers = np.arange(1, data["all_layers"].shape[-1] + 1)
    fig = Figure(figsize=(11.0, 4.8))
    axes = fig.subplots(1, 2, sharey=True)
    colors = ("#c5b0d5", "#9467bd", "#4b2c6f", "#1b0a33")
    for i, m in enumerate(data["features"]):
        color = colors[i % len(colors)]
        everywhere, alone = f"$m = {m}$: FAVOR in all layers", f"$m = {m}$: in layer $l$ only"
        _band(axes[0], layers, data["all_layers"][i], color, "o-", everywhere)
        _band(axes[0], layers, data["one_layer"][i], color, "s--", alone)
        _band(axes[1], layers, data["one_layer_last"][i], color, "s--", alone)
        last = data["all_layers"][i, :, -1]
        axes[1].axhline(np.median(last), color=color, linewidth=1.2, label=f"$m = {m}$: all layers")
        axes[1].axhspan(last.min(), last.max(), color=color, alpha=0.1)
    axes[0].set_ylabel(
        r"$\|h - h_{\mathrm{exact}}\| \,/\, \|h_{\mathrm{exact}}\|$ of the hidden states"
    )
    axes[0].set_xlabel("layer $l$ (error of its output)")
    axes[0].set_title("error of layer $l$'s output", fontsize=10)
    axes[1].set_xlabel("layer $l$ that FAVOR replaces (error of the last layer's output)")
    axes[1].set_title("error of the last layer's output", fontsize=10)
    for ax in axes:
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.suptitle(
        f"FAVOR+ (positive orthogonal features) in {MODEL}, no fine-tuning: does the error grow "
        "with depth?\n"
        f"{ids.shape[0]} chunks of {LENGTH} tokens, errors over all of them; line: median over "
        rf"{len(data['seeds'])} independent draws of $\omega$ (each layer its own), "
        "band: min–max over the draws",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.84, wspace=0.12)
    return fig


@register(
    "favor-components-real",
    title="Which FAVOR+ component matters most, on real queries and keys",
    reproduces=(
        "the open question of the reading-group post 'Long-range Transformers' (Hugging Face, "
        "2021): positive vs trig features, orthogonal vs iid, χ vs √d norms "
        "(Choromanski et al. 2021), on pretrained MiniLM"
    ),
    requires=PRETRAINED,
    extra="pretrained",
)
def favor_components_real() -> Figure:
    from ..dropin import favor_components

    encoder, ids = _encoder_and_chunks(COMPONENT_CHUNKS)
    data = favor_components(encoder, ids)
    # each seed's median over layers and heads: (V, F, S)
    per_seed = np.median(data["error"], axis=(-2, -1))
    fig = Figure(figsize=(11.0, 4.8))
    axes = fig.subplots(1, len(data["features"]), sharey=True)
    labels = [
        f"{kind}\n{'orth' if orth else 'iid'}\n{_maths('χ' if norms == 'chi' else '√d')}"
        for kind, orth, norms in zip(data["kind"], data["orthogonal"], data["norms"], strict=True)
    ]
    trig = EXTRA_COLORS["favor_trig"]
    colors = [COLORS["favor"] if k == "positive" else trig for k in data["kind"]]
    x = np.arange(len(labels))
    for ax, f in zip(np.atleast_1d(axes), range(len(data["features"])), strict=True):
        values = per_seed[:, f]  # (V, S)
        middle = np.median(values, axis=1)
        ax.bar(
            x, middle, color=colors, alpha=0.85,
            yerr=(middle - values.min(axis=1), values.max(axis=1) - middle), capsize=3,
        )  # fmt: skip
        for i, value in enumerate(middle):
            ax.annotate(
                f"{value:.2f}", (i, values[i].max()), xytext=(0, 2), textcoords="offset points",
                ha="center", va="bottom", fontsize=7,
            )  # fmt: skip
        uniform = float(np.median(data["uniform_error"]))
        ax.axhline(
            uniform, color="0.3", linestyle="--", linewidth=1,
            label=f"uniform attention: {uniform:.2f}",
        )  # fmt: skip
        ax.legend(fontsize=7, loc="center left")
        ax.set_xticks(x, labels, fontsize=7)
        ax.set_yscale("log")
        effects = "\n".join(
            f"{_maths(name)}: ×{np.median(data['effect'][e, f]):.2f} "
            f"({data['effect'][e, f].min():.2f}–{data['effect'][e, f].max():.2f})"
            for e, name in enumerate(data["effect_names"])
        )
        ax.text(0.02, 0.97, effects, transform=ax.transAxes, va="top", fontsize=7)
        ax.set_title(rf"$m = {data['features'][f]}$ random features $\omega$", fontsize=10)
    np.atleast_1d(axes)[0].set_ylabel(
        r"$\|$FAVOR $-$ softmax$\| \,/\, \|$softmax$\|$ per head (median)"
    )
    fig.suptitle(
        f"FAVOR's components on the real q, k, v of {MODEL} (all {len(data['layers'])} layers × "
        f"{encoder.config.heads} heads, {ids.shape[0]} chunks of {LENGTH} tokens)\n"
        f"bar: median over {len(data['seeds'])} independent draws of $\\omega$ of the median over "
        "layers × heads; whiskers: min–max over the draws;\n"
        "text: median error ratio over the draws (min–max over the draws); "
        "dashed: uniform attention (every query outputs the mean of $v$), median over layers × heads",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.8, wspace=0.08)
    return fig
