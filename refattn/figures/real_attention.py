"""Figures of the attention of a real pretrained model (all-MiniLM-L6-v2 on real text).

Spectra and their value at k = 128 (Linformer's Figure 1), locality of the
heads (Longformer's premise), and Linformer with random projections (a
question of the reading-group post), all from :mod:`refattn.real_attention`.
The encoder, the chunks and the spectra are computed once per process and
shared by the figures that need them.
"""

from __future__ import annotations

import functools

import numpy as np
from matplotlib.figure import Figure

from ..real_attention import (
    attention_locality,
    attention_spectra,
    linformer_projection_errors,
    random_attention_spectra,
    spectrum_heatmap,
)
from .registry import PRETRAINED, register
from .style import COLORS

#: Chunks of 512 tokens per experiment: all 50 where cheap, else as many as fit the time
#: budget of ``refattn figures`` (each chunk's attention is 72 matrices of 512 × 512, and the
#: spectra and the rank-k bound take one symmetric eigendecomposition of each).
TEXT_CHUNKS = 50
SPECTRUM_CHUNKS = 50
LOCALITY_CHUNKS = 50
LINFORMER_CHUNKS = 5
#: Independent draws of each random projection.
SEEDS = 4
N = 512
SPECTRUM_K = 128


@functools.cache
def _chunks():
    from ..pretrained import load_minilm, text_chunks

    encoder = load_minilm()
    return encoder, text_chunks(encoder, count=TEXT_CHUNKS, length=N)


@functools.cache
def _spectra():
    encoder, ids = _chunks()
    return attention_spectra(encoder, ids[:SPECTRUM_CHUNKS])


def _layer_colors(layers):
    from matplotlib import colormaps

    return colormaps["viridis"](np.linspace(0.0, 0.85, layers))


@register(
    "spectrum-real",
    title="Cumulative singular-value spectra of real attention, per layer",
    reproduces="Figure 1 (left) of Wang et al. 2020 (Linformer), on all-MiniLM-L6-v2",
    requires=PRETRAINED,
    extra="pretrained",
)
def spectrum_real() -> Figure:
    spectra = _spectra()
    synthetic = random_attention_spectra(n=N)
    index = spectra["index"]
    layers = spectra["mean"].shape[0]
    chunks = spectra["c"].shape[0]
    fig = Figure(figsize=(11.0, 4.6))
    per_layer, contrast = fig.subplots(1, 2, sharey=True)
    for layer, color in enumerate(_layer_colors(layers)):
        per_layer.fill_between(
            index, spectra["low"][layer], spectra["high"][layer], color=color, alpha=0.12
        )
        per_layer.plot(
            index,
            spectra["mean"][layer],
            color=color,
            label=f"layer {layer + 1}: $c_{{128}}$ = {spectra['mean'][layer][SPECTRUM_K - 1]:.2f}",
        )
    per_layer.set_title("real heads: mean, band 10–90 % over heads and chunks", fontsize=10)
    per_layer.set_ylabel(
        r"cumulative spectrum  $c_i = \Sigma_{j \leq i}\, \sigma_j \,/\, \Sigma_j\, \sigma_j$"
    )

    real = spectra["c"].reshape(-1, index.size)  # (chunks · layers · heads, n)
    contrast.fill_between(
        index, *np.quantile(real, (0.1, 0.9), axis=0), color="0.2", alpha=0.12, linewidth=0
    )
    contrast.plot(
        index,
        real.mean(axis=0),
        color="0.1",
        label=f"real heads, all layers: $c_{{128}}$ = {real.mean(axis=0)[SPECTRUM_K - 1]:.2f}",
    )
    matched = spectra["random"].reshape(-1, index.size)  # (layers · heads, n)
    contrast.plot(
        index,
        matched.mean(axis=0),
        "--",
        color=COLORS["linformer"],
        label="random Q, K at each head's own logit spread, d = 32: "
        f"$c_{{128}}$ = {matched.mean(axis=0)[SPECTRUM_K - 1]:.2f}",
    )
    grays = ("0.75", "0.6", "0.45", "0.3")
    for gray, scale, c in zip(grays, synthetic["scale"], synthetic["c"], strict=True):
        contrast.plot(
            index,
            c,
            ":",
            color=gray,
            label=f"linformer-spectrum-synthetic, N(0, {scale:g}²), d = 64: "
            f"$c_{{128}}$ = {c[SPECTRUM_K - 1]:.2f}",
        )
    contrast.set_title("real vs random attention (mean, band 10–90 %)", fontsize=10)
    contrast.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0.0, -0.14))
    for ax in (per_layer, contrast):
        ax.axvline(SPECTRUM_K, color="0.5", linestyle=":", linewidth=1)
        ax.set_xlabel("singular value index i")
        ax.set_xlim(0, N)
    fig.suptitle(
        f"Linformer Figure 1 (left) on real attention: all-MiniLM-L6-v2, n = {N}, "
        f"{chunks} of the {TEXT_CHUNKS} text chunks"
        f"{' (time budget)' if chunks < TEXT_CHUNKS else ''} × 12 heads per layer\n"
        "cumulative singular values (the paper plots eigenvalue mass; P is not symmetric, "
        "so its singular values are what give the best rank-k error)",
        fontsize=10,
    )
    per_layer.legend(fontsize=8, loc="upper left", bbox_to_anchor=(0.0, -0.14), ncol=2)
    fig.subplots_adjust(top=0.84, wspace=0.1)
    return fig


@register(
    "spectrum-heatmap-real",
    title="c_128 of real attention for every layer × head",
    reproduces="Figure 1 (right) of Wang et al. 2020 (Linformer), on all-MiniLM-L6-v2",
    requires=PRETRAINED,
    extra="pretrained",
)
def spectrum_heatmap_real() -> Figure:
    spectra = _spectra()
    heat = spectrum_heatmap(spectra, k=SPECTRUM_K)
    chunks = spectra["c"].shape[0]
    layers, heads = heat["c_k"].shape
    above = int((heat["c_k"] > heat["random"]).sum())
    low = float(min(heat["c_k"].min(), heat["random"].min()))
    fig = Figure(figsize=(11.0, 4.2))
    axes = fig.subplots(1, 2)
    panels = (
        (heat["c_k"], f"real heads (mean over {chunks} of the {TEXT_CHUNKS} text chunks)"),
        (heat["random"], "random Q, K at each head's own logit spread"),
    )
    for ax, (values, title) in zip(axes, panels, strict=True):
        image = ax.imshow(values, cmap="viridis", vmin=low, vmax=1.0, aspect="auto")
        for (row, col), value in np.ndenumerate(values):
            ax.text(
                col,
                row,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if value < (low + 1) / 2 else "black",
            )
        ax.set_xticks(range(heads), [str(h + 1) for h in range(heads)])
        ax.set_yticks(range(layers), [str(layer + 1) for layer in range(layers)])
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.grid(False)
        ax.set_title(title, fontsize=10)
    fig.colorbar(
        image,
        ax=axes,
        label=rf"$c_{{{SPECTRUM_K}}} = \Sigma_{{i \leq {SPECTRUM_K}}}\, \sigma_i \,/\, \Sigma_i\, \sigma_i$",
    )
    fig.suptitle(
        f"Linformer Figure 1 (right) on real attention: $c_{{{SPECTRUM_K}}}$ per layer × head, "
        f"all-MiniLM-L6-v2, n = {N} (singular values)\n"
        f"{above} of {layers * heads} real heads are more low-rank than random attention "
        "at the same temperature",
        fontsize=10,
        y=1.04,
    )
    return fig


#: The windows of the locality figure: the experiment's, then n − 1 (everything).
LOCALITY_WIDTHS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256, N - 1)


@register(
    "locality-real",
    title="Attention mass inside a sliding window of real heads, as the window grows",
    reproduces="the locality premise of Beltagy et al. 2020 (Longformer), on all-MiniLM-L6-v2",
    requires=PRETRAINED,
    extra="pretrained",
)
def locality_real() -> Figure:
    encoder, ids = _chunks()
    data = attention_locality(encoder, ids[:LOCALITY_CHUNKS], widths=LOCALITY_WIDTHS)
    widths = data["widths"]
    layers, heads, _ = data["mass"].shape
    fig = Figure(figsize=(11.0, 6.6))
    axes = fig.subplots(2, 3, sharex=True, sharey=True).ravel()
    color = COLORS["sliding_window"]
    for layer, ax in enumerate(axes[:layers]):
        for head in range(heads):
            ax.plot(widths, data["mass"][layer, head], color=color, linewidth=0.6, alpha=0.45)
        ax.plot(widths, data["mass"][layer].mean(axis=0), color=color, linewidth=2.2)
        ax.plot(
            widths,
            data["mass_global"][layer].mean(axis=0),
            "--",
            color=COLORS["sliding_window_global"],
            linewidth=2.0,
        )
        ax.plot(widths, data["uniform"], ":", color="0.3", linewidth=1.4)
        ax.axhline(0.9, color="0.5", linewidth=0.8)
        w90 = data["w_level"][layer]
        ax.plot(w90, np.full(heads, 0.9), "|", color="black", markersize=9)
        ax.set_xscale("symlog", linthresh=1, linscale=0.5)
        ax.set_xticks([0, 1, 4, 16, 64, 256], ["0", "1", "4", "16", "64", "256"])
        ax.set_title(
            f"layer {layer + 1}: $w_{{90}}$ median {int(np.median(w90))} "
            f"(heads {int(w90.min())}–{int(w90.max())})\n"
            f"with [CLS], [SEP] global: median {int(np.median(data['w_level_global'][layer]))}",
            fontsize=9,
        )
    for ax in axes[3:]:
        ax.set_xlabel("one-sided window w (symlog)")
    for ax in axes[::3]:
        ax.set_ylabel(r"mass kept: $\Sigma\, P_{ij} \,/\, n$ over $|i - j| \leq w$")
    handles = [
        axes[0].lines[0],
        axes[0].lines[heads],
        axes[0].lines[heads + 1],
        axes[0].lines[heads + 2],
        axes[0].lines[-1],
    ]
    labels = [
        "one head (mean over chunks)",
        "mean over heads",
        "mean, [CLS] and [SEP] global",
        "uniform attention (no locality)",
        "$w_{90}$ of each head: the window keeping 90 %",
    ]
    fig.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, bbox_to_anchor=(0.5, -0.02))
    fig.suptitle(
        f"How local are real heads? Mass of exact attention within ±w of the diagonal, "
        f"what sliding_window(window=w) keeps\n"
        f"all-MiniLM-L6-v2, n = {N}, {ids[:LOCALITY_CHUNKS].shape[0]} text chunks; "
        "cf. the locality premise of Longformer (Beltagy et al. 2020)",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.85, bottom=0.14, hspace=0.38, wspace=0.08)
    return fig


@register(
    "linformer-projections-real",
    title="Linformer with random and mean-pooling projections on real q, k, v",
    reproduces="the reading-group post's question whether Linformer's projections could be "
    "random (Wang et al. 2020, Section 4), on all-MiniLM-L6-v2",
    requires=PRETRAINED,
    extra="pretrained",
)
def linformer_projections_real() -> Figure:
    encoder, ids = _chunks()
    data = linformer_projection_errors(encoder, ids[:LINFORMER_CHUNKS], seeds=SEEDS)
    ks = data["k"]
    fig = Figure(figsize=(11.0, 4.6))
    overall, per_layer = fig.subplots(1, 2, sharey=True)
    styles = {
        "gaussian": ("random Gaussian E = F", "#d62728", "o-"),
        "orthogonal": ("random orthogonal E = F", "#ff7f0e", "s-"),
        "sparse": ("random sparse E = F", "#8c564b", "^-"),
        "gaussian_rescaled": (
            "random Gaussian, rescaled by √(k/n) (the scale of a mean)",
            "#e377c2",
            "x-",
        ),
    }
    for kind, (label, color, style) in styles.items():
        per_seed = data[kind].mean(axis=(1, 2))  # (seeds, K): mean over layers and heads
        overall.fill_between(ks, per_seed.min(axis=0), per_seed.max(axis=0), color=color, alpha=0.2)
        overall.plot(ks, per_seed.mean(axis=0), style, color=color, label=label)
    overall.plot(
        ks, data["mean_pool"].mean(axis=(0, 1)), "D-", color="#1f77b4", label="mean-pooling E = F"
    )
    overall.plot(
        ks,
        data["svd"].mean(axis=(0, 1)),
        "k--",
        marker="v",
        label="P_k V, P_k the best rank-k P (Eckart–Young)",
    )
    overall.axhline(1.0, color="0.5", linestyle=":", linewidth=1)
    overall.text(ks[0], 1.05, "error of the output 0", fontsize=7, color="0.4")
    overall.set_title(f"mean over layers and heads; band: min–max over {SEEDS} seeds", fontsize=9)
    overall.set_ylabel(r"$\|\tilde{A} - A\|_F \,/\, \|A\|_F$ per head")
    overall.legend(fontsize=7, loc="lower left")
    layers = data["svd"].shape[0]
    for layer, color in enumerate(_layer_colors(layers)):
        per_layer.plot(
            ks, data["mean_pool"][layer].mean(axis=0), "D-", color=color, label=f"layer {layer + 1}"
        )
        per_layer.plot(ks, data["svd"][layer].mean(axis=0), "v--", color=color)
        per_layer.plot(ks, data["gaussian"][:, layer].mean(axis=(0, 1)), "o:", color=color)
    per_layer.set_title(
        "per layer: mean-pooling (solid), rank-k P (dashed), Gaussian (dotted)", fontsize=9
    )
    per_layer.legend(fontsize=7, loc="lower left", ncol=2)
    for ax in (overall, per_layer):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("projected length k")
    fig.suptitle(
        f"Would random projections work for Linformer? Untrained E = F on real q, k, v of "
        f"all-MiniLM-L6-v2, n = {N}, {ids[:LINFORMER_CHUNKS].shape[0]} of the {TEXT_CHUNKS} "
        "text chunks (time budget)\n"
        "JL maps (variance 1/k) inflate E·K by √(n/k); rank-k P is optimal for P, not for the "
        "output (P V V⁺ has rank 32 and no error)",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.84, wspace=0.1)
    return fig
