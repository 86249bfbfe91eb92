"""Figure about the adaptive attention span: the soft mask, and what a span costs."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import complexity
from ..adaptive_span import adaptive_span_attention, soft_mask
from ..backend import peak_memory, rng
from ..softmax import softmax_attention
from .registry import register
from .style import COLORS, machine_note

RAMP = 32  # the paper's R
MASK_SPANS = (0, 24, 64)
N, D = 4096, 64
COST_SPANS = (0, 16, 64, 128, 256, 512, 1024, 2048, 4096)


def adaptive_span_cost_data() -> dict:
    """Measured peak bytes and complexity.py's formulas against the span, n = 4096, causal."""
    q, k, v = (rng(s, np).standard_normal((N, D), dtype=np.float32) for s in (1, 2, 3))
    measured, model, flops = [], [], []
    for z in COST_SPANS:
        _, peak = peak_memory(
            lambda z=z: adaptive_span_attention(q, k, v, span=z, ramp=RAMP, causal=True), np
        )
        measured.append(peak)
        model.append(4 * complexity.adaptive_span_memory(N, D, span=z, ramp=RAMP, causal=True))
        flops.append(complexity.adaptive_span_flops(N, D, span=z, ramp=RAMP, causal=True))
    _, dense_peak = peak_memory(lambda: softmax_attention(q, k, v, causal=True), np)
    return {
        "span": np.array(COST_SPANS, float),
        "measured": np.array(measured, float),
        "model": np.array(model, float),
        "flops": np.array(flops, float),
        "dense_measured": float(dense_peak),
        "dense_model": 4.0 * complexity.dense_attention_memory(N, d=D),
        "dense_flops": float(complexity.dense_attention_flops(N, d=D)),
    }


@register(
    "adaptive-span",
    title="Adaptive attention span: the soft mask m_z(x), and memory and flops against the span",
    reproduces="Figure 1 (the soft mask) of Sukhbaatar et al. 2019 (arXiv:1905.07799); "
    "its cost claim measured",
)
def adaptive_span_figure() -> Figure:
    fig = Figure(figsize=(15.5, 4.8))
    mask_ax, memory_ax, flops_ax = fig.subplots(1, 3, gridspec_kw={"wspace": 0.32})

    # (a) the mask function (12.1)
    x = np.linspace(0, 130, 1041)
    shades = ("#9ecae1", "#4292c6", "#08519c")
    for z, color in zip(MASK_SPANS, shades, strict=True):
        mask_ax.plot(x, soft_mask(x, span=z, ramp=RAMP), color=color, label=f"z = {z}")
    z = MASK_SPANS[1]
    mask_ax.axvspan(z, z + RAMP, color="#fdae6b", alpha=0.35, lw=0)
    mask_ax.annotate(
        f"ramp z < x < z + R:\n∂m/∂z = 1/R = 1/{RAMP}\n(the only part that\ndepends on z)",
        xy=(z + RAMP / 2, 0.5),
        xytext=(99, 0.45),
        fontsize=8,
        arrowprops={"arrowstyle": "->", "color": "0.4"},
    )
    mask_ax.set_xlabel("distance x = i − j (causal)")
    mask_ax.set_ylabel(r"$m_z(x) = \mathrm{clamp}((R + z - x)/R,\, 0,\, 1)$")
    mask_ax.set_title(f"(a) the soft mask, R = {RAMP}: weights × m, renormalised", fontsize=10)
    mask_ax.set_ylim(-0.03, 1.08)
    mask_ax.legend(loc="lower left", fontsize=8)

    # (b) memory against the span (12.7)
    data = adaptive_span_cost_data()
    mib = 2.0**20
    z = data["span"]
    reach = z + RAMP  # keys read back (before the cap at n − 1)
    color = COLORS["adaptive_span"]
    memory_ax.plot(reach, data["measured"] / mib, "o", color=color, label="adaptive span: measured")
    memory_ax.plot(reach, data["model"] / mib, "--", color=color, label="complexity.py formula")
    memory_ax.axhline(
        data["dense_measured"] / mib,
        color=COLORS["softmax"],
        ls=":",
        label="dense softmax_attention: measured",
    )
    _span_axis(memory_ax)
    memory_ax.set_yscale("log")
    memory_ax.set_ylabel("peak memory allocated in the call (MiB)")
    memory_ax.set_title(f"(b) peak memory, n = {N}, d = {D}, float32, causal", fontsize=10)
    memory_ax.legend(loc="upper left", bbox_to_anchor=(0.0, 0.9), fontsize=8)
    memory_ax.annotate(
        "at z ≈ n the band costs more\nthan the dense matrix: its blocks\n"
        "read a quarter band more keys",
        xy=(reach[-1], data["measured"][-1] / mib),
        xytext=(40, data["dense_measured"] / mib / 5),
        fontsize=8,
        arrowprops={"arrowstyle": "->", "color": "0.4"},
    )

    # (c) flops against the span, relative to dense attention
    flops_ax.plot(
        reach, data["flops"] / data["dense_flops"], "-o", color=color, label="adaptive span"
    )
    flops_ax.axhline(1.0, color=COLORS["softmax"], ls=":", label="dense softmax_attention")
    _span_axis(flops_ax)
    flops_ax.set_yscale("log")
    flops_ax.set_ylabel("flops / flops of dense attention")
    flops_ax.set_title(f"(c) flops (complexity.py), n = {N}, causal", fontsize=10)
    flops_ax.legend(loc="lower right", fontsize=8)

    fig.suptitle(
        "Adaptive attention span (Sukhbaatar et al. 2019): each head reads only the keys "
        "within z + R",
        fontsize=11,
        y=1.02,
    )
    machine_note(fig, "peak measured with tracemalloc, NumPy")
    return fig


def _span_axis(ax):
    """x axis: z + R on a log scale, ticks labelled with the span z."""
    ax.set_xscale("log", base=2)
    ticks = [z + RAMP for z in COST_SPANS]
    ax.set_xticks(ticks)
    ax.set_xticklabels([str(z) for z in COST_SPANS], fontsize=8)
    ax.minorticks_off()
    ax.set_xlabel(f"span z (log scale of z + R, R = {RAMP})")
