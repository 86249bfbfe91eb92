"""Figures about Performer / FAVOR+: the estimators' error, Lemma 2, and attention error."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..performer import favor_attention, lemma2_mse, per_feature_estimates, random_features
from ..softmax import softmax_attention
from ..testing import vector_pair
from .registry import register
from .style import COLORS

D = 16
FEATURE_COUNTS = (8, 16, 32, 64, 128, 256, 512)
TRIALS = 300


def _pair(norm, cos, d=D):
    return vector_pair(norm, norm, cos, d=d)


def estimator_mse(x, y, m, *, kind, orthogonal, trials=TRIALS, seed=0):
    """Empirical MSE of the m-feature estimate of exp(xᵀy) over independent draws of ω."""
    omega = random_features(trials * m, x.shape[-1], orthogonal=orthogonal, rng=seed)
    estimates = per_feature_estimates(x, y, omega, kind=kind).reshape(trials, m).mean(axis=1)
    return float(np.mean((estimates - np.exp(x @ y)) ** 2))


@register(
    "performer-mse-features",
    title="MSE of softmax-kernel estimators vs number of features",
    reproduces="Figure 3 of Choromanski et al. 2021 (positive vs trig, iid vs orthogonal)",
)
def performer_mse_features() -> Figure:
    fig = Figure(figsize=(10.0, 4.4))
    axes = fig.subplots(1, 2, sharey=False)
    cases = (
        ("small kernel: x ≈ −y", _pair(1.0, -0.95)),
        ("large kernel: x ≈ y", _pair(1.0, 0.95)),
    )
    styles = {
        ("positive", False): ("positive, iid", COLORS["favor"], "o-"),
        ("positive", True): ("positive, orthogonal", COLORS["favor"], "s--"),
        ("trig", False): ("trig, iid", COLORS["linformer"], "o-"),
        ("trig", True): ("trig, orthogonal", COLORS["linformer"], "s--"),
    }
    m = np.array(FEATURE_COUNTS)
    for ax, (title, (x, y)) in zip(axes, cases, strict=True):
        kernel = float(np.exp(x @ y))
        for (kind, orthogonal), (label, color, style) in styles.items():
            mse = [estimator_mse(x, y, k, kind=kind, orthogonal=orthogonal, seed=k) for k in m]
            ax.plot(m, np.array(mse) / kernel**2, style, color=color, label=label, markersize=4)
            if not orthogonal:
                theory = float(lemma2_mse(x, y, kind=kind)) / m / kernel**2
                ax.plot(m, theory, ":", color=color, linewidth=1)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of random features m")
        ax.set_title(f"{title}, exp(xᵀy) = {kernel:.2f}", fontsize=10)
    axes[0].set_ylabel("MSE / exp(xᵀy)²")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "Softmax-kernel estimators (Choromanski et al. 2021, Lemma 2): positive features win "
        "where the kernel is small\n"
        f"d = {D}, ‖x‖ = ‖y‖ = 1, {TRIALS} independent draws per point; "
        "dotted: Lemma 2 for iid features",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.8, wspace=0.25)
    return fig


@register(
    "performer-lemma2",
    title="Lemma 2: empirical MSE against the closed forms across ‖x+y‖",
    reproduces="Lemma 2 of Choromanski et al. 2021 (MSE of positive and trig features)",
)
def performer_lemma2() -> Figure:
    fig = Figure()
    ax = fig.subplots()
    draws = 20_000
    cosines = np.linspace(-0.98, 0.98, 13)
    norm = 0.8
    for kind, color in (("positive", COLORS["favor"]), ("trig", COLORS["linformer"])):
        plus, empirical, closed = [], [], []
        for i, cos in enumerate(cosines):
            x, y = _pair(norm, cos)
            omega = random_features(draws, D, orthogonal=False, rng=100 + i)
            errors = (per_feature_estimates(x, y, omega, kind=kind) - np.exp(x @ y)) ** 2
            plus.append(np.linalg.norm(x + y))
            empirical.append(errors.mean())
            closed.append(float(lemma2_mse(x, y, kind=kind)))
        ax.plot(plus, empirical, "o", color=color, label=f"{kind}: empirical ({draws} draws)")
        fine = np.linspace(-0.999, 0.999, 200)
        curve = [
            (np.linalg.norm(sum(_pair(norm, c))), float(lemma2_mse(*_pair(norm, c), kind=kind)))
            for c in fine
        ]
        ax.plot(*zip(*curve, strict=True), "-", color=color, label=f"{kind}: Lemma 2")
    ax.set_yscale("log")
    ax.set_xlabel("‖x + y‖   (‖x‖ = ‖y‖ = 0.8, d = 16)")
    ax.set_ylabel("MSE of one-feature estimate of exp(xᵀy)")
    ax.set_title(
        "Lemma 2 (Choromanski et al. 2021): the closed-form MSE, checked by sampling\n"
        "small ‖x + y‖ = small kernel: trig explodes, positive vanishes",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return fig


@register(
    "performer-attention-error",
    title="Relative error of FAVOR attention vs number of features",
    reproduces="the approximation-error experiments of Choromanski et al. 2021 (Figure 4 style)",
)
def performer_attention_error() -> Figure:
    fig = Figure(figsize=(10.0, 4.4))
    axes = fig.subplots(1, 2, sharey=True)
    g = np.random.default_rng(7)
    n, d = 256, D
    q, k = (0.3 * g.standard_normal((n, d)) for _ in range(2))
    v = g.standard_normal((n, d))
    m = np.array(FEATURE_COUNTS)
    seeds = range(6)
    variants = (
        ("positive", True, "positive, orthogonal (FAVOR+)", COLORS["favor"], "s-"),
        ("positive", False, "positive, iid", COLORS["favor"], "o--"),
        ("trig", False, "trig, iid", COLORS["linformer"], "o--"),
    )
    for ax, causal in zip(axes, (False, True), strict=True):
        exact = softmax_attention(q, k, v, causal=causal)
        for kind, orthogonal, label, color, style in variants:
            errors = []
            for features in m:
                trials = [
                    np.linalg.norm(
                        favor_attention(
                            q,
                            k,
                            v,
                            omega=random_features(features, d, orthogonal=orthogonal, rng=s),
                            kind=kind,
                            causal=causal,
                        )
                        - exact
                    )
                    / np.linalg.norm(exact)
                    for s in seeds
                ]
                errors.append(np.mean(trials))
            ax.plot(m, errors, style, color=color, label=label, markersize=4)
        ax.plot(m, errors[0] * np.sqrt(m[0] / m), ":", color="0.5", label="∝ m^(−1/2)")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of random features m")
        ax.set_title("causal" if causal else "bidirectional", fontsize=10)
    axes[0].set_ylabel("‖FAVOR − softmax attention‖ / ‖softmax attention‖")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        "FAVOR attention error falls like m^(−1/2) (Choromanski et al. 2021)\n"
        f"n = {n}, d = {d}, entries of q, k ~ N(0, 0.3²), mean over {len(seeds)} draws of ω",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.8)
    return fig
