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
#: Independent m-feature estimates per point of ``performer-mse-features``.
TRIALS = 2000
#: Draws of ω per point of ``performer-attention-error``.
ATTENTION_SEEDS = 8


def _pair(norm, cos, d=D):
    return vector_pair(norm, norm, cos, d=d)


def squared_errors(x, y, omega, m, *, kind):
    """Squared errors of the m-feature estimates of exp(xᵀy), one per block of m rows of ω."""
    trials = omega.shape[0] // m
    estimates = per_feature_estimates(x, y, omega[: trials * m], kind=kind)
    return (estimates.reshape(trials, m).mean(axis=1) - np.exp(x @ y)) ** 2


def estimator_mse(x, y, m, *, kind, orthogonal, trials=TRIALS, seed=0):
    """Empirical MSE of the m-feature estimate of exp(xᵀy) over independent draws of ω."""
    omega = random_features(trials * m, x.shape[-1], orthogonal=orthogonal, rng=seed)
    return float(np.mean(squared_errors(x, y, omega, m, kind=kind)))


@register(
    "performer-mse-features",
    title="MSE of softmax-kernel estimators vs number of features",
    reproduces="Figure 3 of Choromanski et al. 2021 (positive vs trig, iid vs orthogonal)",
)
def performer_mse_features() -> Figure:
    fig = Figure(figsize=(10.0, 4.6))
    axes = fig.subplots(1, 2, sharey=False)
    cases = (
        (r"small kernel: $x \approx -y$", _pair(1.0, -0.95)),
        (r"large kernel: $x \approx y$", _pair(1.0, 0.95)),
    )
    styles = {
        ("positive", False): ("positive, iid", COLORS["favor"], "o", "-"),
        ("positive", True): ("positive, orthogonal", COLORS["favor"], "s", "--"),
        ("trig", False): ("trig, iid", COLORS["linformer"], "o", "-"),
        ("trig", True): ("trig, orthogonal", COLORS["linformer"], "s", "--"),
    }
    m = np.array(FEATURE_COUNTS)
    # one set of draws of ω per (orthogonal, m), shared by both kinds and both panels
    omegas = {
        (orthogonal, k): random_features(TRIALS * k, D, orthogonal=orthogonal, rng=int(k))
        for orthogonal in (False, True)
        for k in m
    }
    for ax, (title, (x, y)) in zip(axes, cases, strict=True):
        kernel = float(np.exp(x @ y))
        for (kind, orthogonal), (label, color, marker, line) in styles.items():
            errors = [squared_errors(x, y, omegas[orthogonal, k], k, kind=kind) for k in m]
            mse = np.array([e.mean() for e in errors]) / kernel**2
            se = np.array([e.std(ddof=1) / np.sqrt(e.size) for e in errors]) / kernel**2
            shift = 1.06 if orthogonal else 1 / 1.06  # side by side, not on top of each other
            ax.errorbar(
                m * shift,
                mse,
                yerr=[np.minimum(2 * se, 0.95 * mse), 2 * se],
                marker=marker,
                linestyle=line,
                color=color,
                label=label,
                markersize=4,
                capsize=2,
                linewidth=1.2,
            )
            if not orthogonal:
                theory = float(lemma2_mse(x, y, kind=kind)) / m / kernel**2
                ax.plot(m, theory, ":", color=color, linewidth=1.2)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("number of random features $m$")
        ax.set_title(rf"{title}, $\exp(x^{{\mathrm{{T}}}} y) = {kernel:.2f}$", fontsize=10)
    axes[0].set_ylabel(r"MSE $\,/\, \exp(x^{\mathrm{T}} y)^2$")
    axes[0].legend(fontsize=8)
    axes[1].text(
        0.03,
        0.43,
        "positive features here: the squared errors are\n"
        "log-normal-tailed, so the sample MSE (and its bar)\n"
        "falls below Lemma 2: the mean is carried by draws\n"
        r"rarer than 1 in $10^4$",
        transform=axes[1].transAxes,
        fontsize=7.5,
        color=COLORS["favor"],
        va="bottom",
    )
    fig.suptitle(
        "Softmax-kernel estimators (Choromanski et al. 2021, arXiv:2009.14794, Lemma 2): "
        "positive features win where the kernel is small\n"
        rf"$d = {D}$, $\|x\| = \|y\| = 1$, sample MSE of {TRIALS} independent $m$-feature "
        r"estimates per point, bars $\pm 2$ standard errors; dotted: Lemma 2 for iid features",
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
        plus, empirical, se = [], [], []
        for i, cos in enumerate(cosines):
            x, y = _pair(norm, cos)
            omega = random_features(draws, D, orthogonal=False, rng=100 + i)
            errors = (per_feature_estimates(x, y, omega, kind=kind) - np.exp(x @ y)) ** 2
            plus.append(np.linalg.norm(x + y))
            empirical.append(errors.mean())
            se.append(errors.std(ddof=1) / np.sqrt(draws))
        empirical, se = np.array(empirical), np.array(se)
        ax.errorbar(
            plus,
            empirical,
            yerr=[np.minimum(2 * se, 0.95 * empirical), 2 * se],
            fmt="o",
            color=color,
            capsize=2,
            markersize=4,
            label=rf"{kind}: empirical ({draws} draws, $\pm 2$ s.e.)",
        )
        fine = np.linspace(-0.999, 0.999, 200)
        curve = [
            (np.linalg.norm(sum(_pair(norm, c))), float(lemma2_mse(*_pair(norm, c), kind=kind)))
            for c in fine
        ]
        ax.plot(*zip(*curve, strict=True), "-", color=color, label=f"{kind}: Lemma 2")
    ax.set_yscale("log")
    ax.set_xlabel(rf"$\|x + y\|$   ($\|x\| = \|y\| = {norm}$, $d = {D}$)")
    ax.set_ylabel(r"MSE of the one-feature estimate of $\exp(x^{\mathrm{T}} y)$")
    ax.set_title(
        "Lemma 2 (Choromanski et al. 2021): the closed-form MSE, checked by sampling\n"
        r"small $\|x + y\|$ = small kernel: positive's MSE vanishes, trig's stays at its largest;"
        "\n"
        r"bars $\pm 2$ standard errors (too short where positive's errors are heavy-tailed)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return fig


#: The two regimes of ``performer-attention-error``: (title, entry scale of q and k, d).
REGIMES = (
    ("(a) small logits: trig features win", 0.3, 16),
    ("(b) larger logits: positive features win", 1.0, 64),
)


def attention_errors(q, k, v, m, *, kind, orthogonal, causal, seeds=ATTENTION_SEEDS, exact=None):
    """‖FAVOR − softmax attention‖ / ‖softmax attention‖ for each of ``seeds`` draws of ω.

    ``exact``: the softmax attention of ``q, k, v`` (with ``causal``) if already computed.
    """
    if exact is None:
        exact = softmax_attention(q, k, v, causal=causal)
    return np.array(
        [
            np.linalg.norm(
                favor_attention(
                    q,
                    k,
                    v,
                    omega=random_features(int(m), q.shape[1], orthogonal=orthogonal, rng=s),
                    kind=kind,
                    causal=causal,
                )
                - exact
            )
            / np.linalg.norm(exact)
            for s in range(seeds)
        ]
    )


@register(
    "performer-attention-error",
    title="Relative error of FAVOR attention vs number of features, in two logit regimes",
    reproduces="the approximation-error experiments of Choromanski et al. 2021 (Figure 4 style)",
)
def performer_attention_error() -> Figure:
    fig = Figure(figsize=(10.0, 8.2))
    grid = fig.subplots(2, 2, sharex=True)
    n = 256
    m = np.array(FEATURE_COUNTS)
    variants = (
        ("positive", True, "positive, orthogonal (FAVOR+)", COLORS["favor"], "s", "-", 1.0),
        ("positive", False, "positive, iid", COLORS["favor"], "o", "--", 1.06),
        ("trig", False, "trig, iid", COLORS["linformer"], "^", "--", 1 / 1.06),
    )
    for row, (regime, scale, d) in zip(grid, REGIMES, strict=True):
        g = np.random.default_rng(7)
        q, k = (scale * g.standard_normal((n, d)) for _ in range(2))
        v = g.standard_normal((n, d))
        for ax, causal in zip(row, (False, True), strict=True):
            exact = softmax_attention(q, k, v, causal=causal)  # shared by every variant and m
            for kind, orthogonal, label, color, marker, line, shift in variants:
                errors = np.array(
                    [
                        attention_errors(
                            q, k, v, f, kind=kind, orthogonal=orthogonal, causal=causal, exact=exact
                        )
                        for f in m
                    ]
                )
                median = np.median(errors, axis=1)
                ax.plot(m * shift, median, marker=marker, linestyle=line, color=color, label=label)
                ax.fill_between(
                    m * shift, errors.min(axis=1), errors.max(axis=1), color=color, alpha=0.15
                )
                if kind == "positive" and orthogonal:
                    favor_plus = median
            if scale < 1:
                ax.plot(
                    m,
                    favor_plus[0] * np.sqrt(m[0] / m),
                    ":",
                    color="0.5",
                    label=r"$\propto m^{-1/2}$",
                )
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_title(
                f"{regime}, {'causal' if causal else 'bidirectional'}\n"
                rf"entries of $q, k \sim N(0, {scale:g}^2)$, $d = {d}$",
                fontsize=9.5,
            )
        row[0].set_ylabel(r"$\|$FAVOR $-$ softmax$\| \,/\, \|$softmax$\|$")
        row[0].legend(fontsize=8)
    for ax in grid[1]:
        ax.set_xlabel("number of random features $m$")
    fig.suptitle(
        "FAVOR attention error (Choromanski et al. 2021, arXiv:2009.14794), "
        rf"$n = {n}$, softmax scale $1/\sqrt{{d}}$" + "\n"
        "(a) small logits: every kernel value is near 1, trig features win and the error falls "
        r"like $m^{-1/2}$" + "\n"
        "(b) larger logits, the regime the paper argues for: many kernel values are tiny, "
        "trig's normaliser crosses zero,\n"
        r"positive features win by orders of magnitude (neither is accurate at $m \leq 512$); "
        f"line: median over {ATTENTION_SEEDS} draws of ω, band: min to max",
        fontsize=10,
    )
    fig.subplots_adjust(top=0.82, hspace=0.3)
    return fig
