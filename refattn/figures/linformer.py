"""Figures about Johnson–Lindenstrauss projections and Linformer's low-rank attention."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..jl import distortion, min_dim, projection
from ..linformer import linformer_attention, lowrank_context
from ..real_attention import random_attention_spectra
from ..softmax import softmax, softmax_attention
from ..spectra import best_rank_k
from .registry import register

PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a")
#: Independent Gaussian maps per target dimension in ``jl-distortion``.
JL_MAPS = 5


@register(
    "jl-distortion",
    title="Distribution of squared-distance ratios after random projection",
    reproduces="the Johnson–Lindenstrauss lemma (Dasgupta & Gupta 2003) as measured",
)
def jl_distortion() -> Figure:
    m, d_in = 100, 2000
    points = np.random.default_rng(2**20).standard_normal((m, d_in))
    fig = Figure()
    ax = fig.subplots()
    for color, eps in zip(PALETTE, (0.6, 0.4, 0.25), strict=False):
        k = min_dim(m, eps)
        runs = [
            distortion(points, points @ projection(d_in, k, rng=k + 1000 * s).T)
            for s in range(JL_MAPS)
        ]
        inside = 100 * np.array([np.mean(np.abs(r - 1) < eps) for r in runs])
        ax.hist(
            np.concatenate(runs),
            bins=80,
            histtype="step",
            color=color,
            density=True,
            label=rf"$k = $ min_dim({m}, $\varepsilon = {eps}$) $= {k}$: "
            rf"{inside.mean():.1f} % of pairs within $1 \pm \varepsilon$ "
            f"({inside.min():.1f} to {inside.max():.1f} % over the {JL_MAPS} maps)",
        )
        for edge in (1 - eps, 1 + eps):
            ax.axvline(edge, color=color, linestyle="--", linewidth=1)
    ax.set_xlabel(r"$\|R x_i - R x_j\|^2 \,/\, \|x_i - x_j\|^2$   over all pairs $i < j$")
    ax.set_ylabel("density")
    ax.set_title(
        rf"Johnson–Lindenstrauss: {m} Gaussian points in $\mathbb{{R}}^{{{d_in}}}$, "
        rf"Gaussian maps $\mathbb{{R}}^{{{d_in}}} \to \mathbb{{R}}^k$, {JL_MAPS} maps per $k$ pooled"
        "\n"
        r"dashed: $1 \pm \varepsilon$ for the $\varepsilon$ each $k$ was chosen for",
        fontsize=10,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14))
    return fig


@register(
    "jl-min-dim",
    title="min_dim against ε for 10² to 10⁶ points, both bounds",
    reproduces="the JL dimension bound 4 ln m / (ε²/2 − ε³/3) vs the rule of thumb 8 ln m / ε²",
)
def jl_min_dim() -> Figure:
    eps = np.linspace(0.05, 0.95, 91)
    fig = Figure()
    ax = fig.subplots()
    for color, m in zip(PALETTE, (10**2, 10**4, 10**6), strict=False):
        ax.plot(
            eps,
            min_dim(np.full_like(eps, m), eps),
            "-",
            color=color,
            label=rf"$m = 10^{{{int(np.log10(m))}}}$: Dasgupta–Gupta",
        )
        ax.plot(
            eps,
            min_dim(np.full_like(eps, m), eps, bound="rule-of-thumb"),
            "--",
            color=color,
            label=rf"$m = 10^{{{int(np.log10(m))}}}$: $8 \ln m / \varepsilon^2$",
        )
    ax.set_yscale("log")
    ax.set_xlabel(r"$\varepsilon$ (allowed relative distortion of squared distances)")
    ax.set_ylabel("target dimension $k$")
    ax.set_title(
        "Johnson–Lindenstrauss target dimension: the proven bound vs the rule of thumb of\n"
        "the reading-group post; "
        r"$8 \ln m / \varepsilon^2$ always asks for fewer dimensions, by the factor "
        r"$1 - 2\varepsilon/3$",
        fontsize=10,
    )
    ax.legend(fontsize=7, ncol=2)
    return fig


SCALES = (0.5, 1.0, 2.0, 4.0)
SPECTRUM_SEEDS = (3, 4, 5, 6, 7)
#: Independent draws of each random projection in ``linformer-approx-error``.
APPROX_SEEDS = 6


@register(
    "linformer-spectrum-synthetic",
    title="Cumulative singular-value spectra of attention from random Q, K",
    reproduces="the style of Figure 1 of Wang et al. 2020 (Linformer), on synthetic attention",
)
def linformer_spectrum_synthetic() -> Figure:
    n, d = 512, 64
    # seed 3 is the draw spectrum-real contrasts with; the others give the spread
    draws = np.stack(
        [
            random_attention_spectra(n=n, d=d, scales=SCALES, seed=seed)["c"]
            for seed in SPECTRUM_SEEDS
        ]
    )  # (seeds, scales, n)
    fig = Figure()
    ax = fig.subplots()
    index = np.arange(1, n + 1)
    for color, scale, c, runs in zip(
        PALETTE, SCALES, draws[0], draws.transpose(1, 0, 2), strict=True
    ):
        ax.fill_between(index, runs.min(axis=0), runs.max(axis=0), color=color, alpha=0.25, lw=0)
        ax.plot(
            index,
            c,
            color=color,
            label=rf"$q, k$ entries $\sim N(0, {scale:g}^2)$: $c_{{128}} = {c[127]:.2f}$ "
            f"({runs[:, 127].min():.2f} to {runs[:, 127].max():.2f})",
        )
    ax.axvline(128, color="0.5", linestyle=":", linewidth=1)
    ax.set_xlabel("singular value index $i$")
    ax.set_ylabel(
        r"cumulative spectrum  $c_i = \Sigma_{j \leq i}\, \sigma_j \,/\, \Sigma_j\, \sigma_j$"
    )
    ax.set_title(
        rf"Spectra of $P = \mathrm{{softmax}}(QK^{{\mathrm{{T}}}}/\sqrt{{d}})$, $n = {n}$, $d = {d}$ "
        "(cf. Linformer Figure 1)\n"
        r"larger logits spread the spectrum; small logits give $P \approx$ uniform, "
        "rank-one dominated\n"
        f"line: one draw of $Q, K$; band and range: {len(SPECTRUM_SEEDS)} independent draws",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower right")
    return fig


@register(
    "linformer-approx-error",
    title="Linformer output error vs projected length k, against the best rank-k bound",
    reproduces="the approximation argument of Wang et al. 2020, Theorem 1 vs Eckart–Young",
)
def linformer_approx_error() -> Figure:
    n, d = 512, 64
    g = np.random.default_rng(4)
    ks = np.array([16, 32, 64, 128, 256])
    q, k = (g.standard_normal((n, d)) for _ in range(2))
    v = g.standard_normal((n, d))
    exact = softmax_attention(q, k, v)
    p = softmax(q @ k.T / np.sqrt(d))
    norm = np.linalg.norm(exact)
    runs = {"theorem": [], "linformer": []}  # (k, seeds) relative errors
    svd = []
    for kdim in ks:
        theorem, untrained = [], []
        for s in range(APPROX_SEEDS):
            approx, _ = lowrank_context(q, k, int(kdim), rng=s)
            theorem.append(np.linalg.norm(approx @ v - exact) / norm)
            e = projection(n, int(kdim), rng=100 + s)
            untrained.append(np.linalg.norm(linformer_attention(q, k, v, E=e, F=e) - exact) / norm)
        runs["theorem"].append(theorem)
        runs["linformer"].append(untrained)
        svd.append(np.linalg.norm(best_rank_k(p, int(kdim)) @ v - exact) / norm)
    fig = Figure()
    ax = fig.subplots()
    sampled = (
        ("theorem", r"Theorem 1's construction $P R^{\mathrm{T}} R V$, random Gaussian $R$", "o-"),
        ("linformer", "Linformer with untrained random $E = F$", "^-"),
    )
    for color, (key, label, style) in zip(PALETTE, sampled, strict=False):
        errors = np.array(runs[key])
        ax.plot(ks, errors.mean(axis=1), style, color=color, label=label)
        ax.fill_between(ks, errors.min(axis=1), errors.max(axis=1), color=color, alpha=0.2, lw=0)
    ax.plot(
        ks,
        svd,
        "s--",
        color=PALETTE[2],
        label=r"$P_k V$, $P_k$ the best rank-$k$ approximation of $P$ (Eckart–Young), applied to $V$",
    )
    theorem = np.array(runs["theorem"]).mean(axis=1)
    ax.plot(ks, theorem[0] * np.sqrt(ks[0] / ks), ":", color="0.5", label=r"$\propto k^{-1/2}$")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("projected length $k$")
    ax.set_ylabel(r"$\|$output $-$ softmax attention$\| \,/\, \|$softmax attention$\|$")
    ax.set_title(
        rf"Rank-$k$ attention, $n = {n}$, $d = {d}$: random projections vs the best rank-$k$ $P$"
        "\n"
        r"random JL maps need $k \approx n/\varepsilon^2$ for relative output error $\varepsilon$ (not the JL bound's $\log n/\varepsilon^2$: that is per entry); "
        "Linformer must learn $E, F$\n"
        f"lines: mean over {APPROX_SEEDS} draws of the projection, bands: min to max; "
        r"$P_k V$ is optimal for $P$, not for the output",
        fontsize=10,
    )
    ax.legend(fontsize=7)
    return fig
