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
        ratios = distortion(points, points @ projection(d_in, k, rng=k).T)
        inside = np.mean(np.abs(ratios - 1) < eps)
        ax.hist(
            ratios,
            bins=80,
            histtype="step",
            color=color,
            density=True,
            label=f"k = min_dim({m}, ε = {eps}) = {k}: {100 * inside:.1f} % of pairs within 1 ± ε",
        )
        for edge in (1 - eps, 1 + eps):
            ax.axvline(edge, color=color, linestyle="--", linewidth=1)
    ax.set_xlabel("‖R x_i − R x_j‖² / ‖x_i − x_j‖²   over all pairs i < j")
    ax.set_ylabel("density")
    ax.set_title(
        f"Johnson–Lindenstrauss: {m} Gaussian points in R^{d_in}, Gaussian maps R^{d_in} → R^k\n"
        "dashed: 1 ± ε for the ε each k was chosen for",
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
            label=f"m = 10^{int(np.log10(m))}: Dasgupta–Gupta",
        )
        ax.plot(
            eps,
            min_dim(np.full_like(eps, m), eps, bound="rule-of-thumb"),
            "--",
            color=color,
            label=f"m = 10^{int(np.log10(m))}: 8 ln m / ε²",
        )
    ax.set_yscale("log")
    ax.set_xlabel("ε (allowed relative distortion of squared distances)")
    ax.set_ylabel("target dimension k")
    ax.set_title(
        "Johnson–Lindenstrauss target dimension: the proven bound vs the rule of thumb of\n"
        "the reading-group post; "
        "8 ln m / ε² always asks for fewer dimensions, by the factor 1 − 2ε/3",
        fontsize=10,
    )
    ax.legend(fontsize=7, ncol=2)
    return fig


SCALES = (0.5, 1.0, 2.0, 4.0)


@register(
    "linformer-spectrum-synthetic",
    title="Cumulative singular-value spectra of attention from random Q, K",
    reproduces="the style of Figure 1 of Wang et al. 2020 (Linformer), on synthetic attention",
)
def linformer_spectrum_synthetic() -> Figure:
    n, d = 512, 64
    spectra = random_attention_spectra(n=n, d=d, scales=SCALES, seed=3)
    fig = Figure()
    ax = fig.subplots()
    index = np.arange(1, n + 1)
    for color, scale, c in zip(PALETTE, SCALES, spectra["c"], strict=True):
        ax.plot(index, c, color=color, label=f"q, k entries ~ N(0, {scale}²): c_128 = {c[127]:.2f}")
    ax.axvline(128, color="0.5", linestyle=":", linewidth=1)
    ax.set_xlabel("singular value index i")
    ax.set_ylabel("cumulative spectrum  Σ_{j<=i} σ_j / Σ_j σ_j")
    ax.set_title(
        f"Spectra of P = softmax(QKᵀ/√d), n = {n}, d = {d} (cf. Linformer Figure 1)\n"
        "larger logits spread the spectrum; small logits give P ≈ uniform, rank-one dominated",
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
    curves = {"theorem": [], "linformer": [], "svd": []}
    for kdim in ks:
        theorem, untrained = [], []
        for s in range(4):
            approx, _ = lowrank_context(q, k, int(kdim), rng=s)
            theorem.append(np.linalg.norm(approx @ v - exact))
            e = projection(n, int(kdim), rng=100 + s)
            untrained.append(np.linalg.norm(linformer_attention(q, k, v, E=e, F=e) - exact))
        norm = np.linalg.norm(exact)
        curves["theorem"].append(np.mean(theorem) / norm)
        curves["linformer"].append(np.mean(untrained) / norm)
        curves["svd"].append(np.linalg.norm(best_rank_k(p, int(kdim)) @ v - exact) / norm)
    fig = Figure()
    ax = fig.subplots()
    ax.plot(
        ks,
        curves["theorem"],
        "o-",
        color=PALETTE[0],
        label="Theorem 1's construction P RᵀR V, random Gaussian R",
    )
    ax.plot(
        ks,
        curves["linformer"],
        "^-",
        color=PALETTE[1],
        label="Linformer with untrained random E = F",
    )
    ax.plot(ks, curves["svd"], "s--", color=PALETTE[2], label="best rank-k P_k V (Eckart–Young)")
    ax.plot(ks, curves["theorem"][0] * np.sqrt(ks[0] / ks), ":", color="0.5", label="∝ k^(−1/2)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("projected length k")
    ax.set_ylabel("‖output − softmax attention‖ / ‖softmax attention‖")
    ax.set_title(
        f"Rank-k attention, n = {n}, d = {d}: random projections vs the optimum\n"
        "random JL maps need k ≈ n/ε² for relative error ε; Linformer must learn E, F",
        fontsize=10,
    )
    ax.legend(fontsize=7)
    return fig
