"""Figures about linear attention (elu + 1 features): the feature map, the weights, the memory."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from ..backend import rng
from ..bench import configured, peak_bytes
from ..performer import elu_features, linear_attention
from ..softmax import softmax_attention
from .registry import register
from .style import COLORS, machine_note, memory_axes

WEIGHTS_N, WEIGHTS_D = 24, 16
MEMORY_SIZES = tuple(2**p for p in range(10, 17))  # 1024 … 65536
D = 64


def linear_attention_data() -> dict:
    """Everything the figure draws, computed by refattn (fixed seeds).

    ``x``, ``elu``, ``exp``: the feature map against ``exp`` on a grid;
    ``softmax``, ``linear``: the ``(n, n)`` weights of softmax and linear
    attention on the same Gaussian queries and keys (causal, ``d = 16``);
    ``memory``: per benchmark configuration, measured peak bytes (float32,
    ``d = 64``) and ``4 ×`` complexity.py's working set at each length.
    """
    x = np.linspace(-4.0, 3.0, 141)
    g = rng(3, np)
    q, k, v = (g.standard_normal((WEIGHTS_N, WEIGHTS_D)) for _ in range(3))
    _, soft = softmax_attention(q, k, v, causal=True, return_weights=True)
    _, lin = linear_attention(q, k, v, causal=True, return_weights=True)
    memory = {}
    for label in ("linear", "linear_causal"):
        measured, model = [], []
        for n in MEMORY_SIZES:
            attend, causal = configured(label, n)
            measured.append(peak_bytes(np, attend, n, D, causal=causal))
            model.append(4 * attend.memory(n, D, causal=causal))
        memory[label] = {"measured": np.array(measured), "model": np.array(model)}
    return {
        "x": x,
        "elu": elu_features(x),
        "exp": np.exp(x),
        "softmax": soft,
        "linear": lin.to_dense(),
        "n": np.array(MEMORY_SIZES),
        "memory": memory,
    }


@register(
    "linear-attention",
    title="Linear attention: the elu + 1 feature map, its weights, and its linear memory",
    reproduces="the feature map φ(x) = elu(x) + 1 of Katharopoulos et al. 2020 (arXiv:2006.16236)",
)
def linear_attention_figure() -> Figure:
    data = linear_attention_data()
    fig = Figure(figsize=(13.0, 8.6))
    grid = fig.add_gridspec(2, 3, height_ratios=(1.0, 1.0), hspace=0.42, wspace=0.3)
    ax_phi = fig.add_subplot(grid[0, 0])
    ax_soft = fig.add_subplot(grid[0, 1])
    ax_lin = fig.add_subplot(grid[0, 2])
    ax_mem = fig.add_subplot(grid[1, :])

    x = data["x"]
    ax_phi.plot(x, data["exp"], color=COLORS["softmax"], label="exp(x): softmax's kernel, one axis")
    ax_phi.plot(x, data["elu"], color=COLORS["linear"], lw=2.2, label="φ(x) = elu(x) + 1")
    ax_phi.axvline(0, color="0.6", lw=0.8)
    ax_phi.set_ylim(0, 8)
    ax_phi.set_xlabel("x")
    ax_phi.set_title(
        "(a) the feature map: exp(x) for x ≤ 0,\nx + 1 above (positive, grows linearly)"
    )
    ax_phi.legend(fontsize=8, loc="upper left")

    top = max(float(data["softmax"].max()), float(data["linear"].max()))
    for ax, key, title in (
        (ax_soft, "softmax", "(b) softmax weights, causal"),
        (ax_lin, "linear", "(c) linear attention, D⁻¹(φ(Q)φ(K)ᵀ ⊙ C)"),
    ):
        image = ax.imshow(data[key], cmap="viridis", vmin=0, vmax=top, interpolation="nearest")
        ax.set_title(f"{title}\nn = {WEIGHTS_N}, d = {WEIGHTS_D}, same q, k", fontsize=10)
        ax.set_xlabel("key j")
        ax.set_ylabel("query i")
        ax.grid(False)
    fig.colorbar(image, ax=[ax_soft, ax_lin], shrink=0.8, label="weight")

    mib = 2.0**20
    memory_axes(ax_mem, "sequence length n (d = 64, float32, one head)")
    names = {"linear": "bidirectional", "linear_causal": "causal, chunks of 256 keys"}
    for label, series in data["memory"].items():
        ax_mem.plot(
            data["n"],
            series["measured"] / mib,
            "o",
            color=COLORS[label],
            label=f"linear attention, {names[label]}: measured",
        )
        ax_mem.plot(
            data["n"],
            series["model"] / mib,
            "--",
            color=COLORS[label],
            label=f"{names[label]}: complexity.linear_attention_memory",
        )
    n = data["n"].astype(float)
    ax_mem.plot(
        n, 4 * n**2 / mib, ":", color="0.3", label="the n² float32 scores dense attention holds"
    )
    ax_mem.set_title(
        r"(d) peak memory is linear in $n$: $4 n d$ elements bidirectional, $n (2d + d_v) + O(c^2)$ causal"
    )
    ax_mem.legend(fontsize=8, loc="upper left")
    fig.suptitle(
        "Linear attention (Katharopoulos et al. 2020, arXiv:2006.16236): "
        "softmax's exp replaced by φ(q)ᵀφ(k), φ = elu + 1\n"
        "(b) and (c) share one colour scale: linear attention's weights are much flatter"
    )
    machine_note(fig, "memory: tracemalloc peak inside one call")
    return fig
