"""Figures about Transformer-XL and the Compressive Transformer."""

from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from .. import complexity
from ..compressive import (
    MemoryState,
    attention_reconstruction_loss,
    conv1d,
    dilated_conv,
    fit_conv_compressor,
    max_pool,
    mean_pool,
    most_used,
    temporal_range,
    update,
)
from ..softmax import softmax_attention
from ..testing import structured_stream
from .registry import register


@register(
    "compressive-memory-layout",
    title="Which token positions sit in memory and in compressed memory, segment by segment",
    reproduces="Figure 1 of Rae et al. 2019 (the memory layout), from a simulated stream",
)
def compressive_memory_layout() -> Figure:
    n_s, n_mem, n_cmem, rate, segments = 5, 12, 6, 3, 16  # n_s not a multiple of the rate
    state = MemoryState.empty(1, n_mem=n_mem, n_cmem=n_cmem)
    blocks = []  # the positions each compressed row stands for, oldest first

    def record(rows, c):
        grouped = rows[:, 0].reshape(-1, c)
        blocks.extend(grouped.tolist())
        return grouped[:, :1]  # any value: the layout is read from `blocks`

    total = n_s * segments
    layout = np.zeros(
        (segments, total), dtype=int
    )  # 0 gone/future, 1 cmem, 2 pending, 3 mem, 4 segment
    for s in range(segments):
        segment = np.arange(s * n_s, (s + 1) * n_s, dtype=float)[:, None]
        kept = blocks[len(blocks) - state.cmem.shape[0] :]
        for block in kept:
            layout[s, [int(p) for p in block]] = 1
        layout[s, state.pending[:, 0].astype(int)] = 2
        layout[s, state.mem[:, 0].astype(int)] = 3
        layout[s, segment[:, 0].astype(int)] = 4
        state = update(state, segment, compress=record, rate=rate)
    fig = Figure(figsize=(9.0, 4.6))
    ax = fig.subplots()
    colours = ["#f4f4f4", "#7570b3", "#e7298a", "#1b9e77", "#d95f02"]
    ax.imshow(
        layout, cmap=ListedColormap(colours), vmin=0, vmax=4, aspect="auto", interpolation="nearest"
    )
    ax.set_xlabel("token position in the stream")
    ax.set_ylabel("segment (time →)")
    ax.grid(False)
    names = [
        "discarded / not yet seen",
        f"compressed memory ($n_{{cm}} = {n_cmem}$, rate {rate})",
        "pending (waiting for a full block)",
        f"memory ($n_m = {n_mem}$)",
        f"current segment ($n_s = {n_s}$)",
    ]
    ax.legend(
        handles=[Patch(color=c, label=n) for c, n in zip(colours, names, strict=True)],
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
    )
    ax.set_title(
        "Compressive Transformer memory, simulated with refattn.compressive.update\n"
        rf"each segment sees $n_m + \mathrm{{rate}} \cdot n_{{cm}} = {n_mem + rate * n_cmem}$ past positions "
        f"through {n_mem + n_cmem} memory slots",
        fontsize=10,
    )
    return fig


@register(
    "compressive-range-cost",
    title="Temporal range vs attention cost at equal memory: Transformer-XL vs Compressive",
    reproduces="the range/cost argument of Rae et al. 2019, §3 (range l·(n_m + c·n_cm))",
)
def compressive_range_cost() -> Figure:
    n_s, layers = 512, 18
    slots = np.array([256, 512, 1024, 2048, 4096])
    fig = Figure()
    ax = fig.subplots()
    cost = [complexity.xl_attention_flops(n_s, n_mem=int(m)) for m in slots]
    ax.plot(
        cost,
        [temporal_range(layers=layers, n_mem=int(m), n_cmem=0, rate=1) for m in slots],
        "o-",
        color="#1b9e77",
        label="Transformer-XL: $n_m$ = slots",
    )
    for colour, rate in zip(("#d95f02", "#7570b3", "#e7298a"), (2, 3, 4), strict=True):
        half = slots // 2
        cost = [
            complexity.compressive_attention_flops(n_s, n_mem=int(m), n_cmem=int(m)) for m in half
        ]
        reach = [
            temporal_range(layers=layers, n_mem=int(m), n_cmem=int(m), rate=rate) for m in half
        ]
        ax.plot(
            cost,
            reach,
            "s--",
            color=colour,
            label=f"Compressive, $n_m = n_{{cm}}$ = slots/2, rate {rate}",
        )
    for m, c in zip(
        slots, [complexity.xl_attention_flops(n_s, n_mem=int(m)) for m in slots], strict=True
    ):
        ax.annotate(
            f"{m} slots",
            (c, temporal_range(layers=layers, n_mem=int(m), n_cmem=0, rate=1)),
            textcoords="offset points",
            xytext=(4, -12),
            fontsize=7,
            color="0.4",
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"attention flops per layer and segment ($n_s = {n_s}$, $d = 64$)")
    ax.set_ylabel(f"temporal range of {layers} layers (positions)")
    ax.set_title(
        "Same attention cost, longer reach: compressed memory (Rae et al. 2019)\n"
        r"range = layers $\times$ ($n_m$ + rate $\times$ $n_{cm}$)",
        fontsize=10,
    )
    ax.legend(fontsize=8)
    return fig


@register(
    "compression-functions",
    title="Attention-reconstruction loss of the compression functions on a structured stream",
    reproduces="the compression-function comparison of Rae et al. 2019, §5 (Table 1 style)",
)
def compression_functions() -> Figure:
    d, rate, segment = 8, 4, 32
    g = np.random.default_rng(1)
    wq, wk, wv = (0.5 * g.standard_normal((d, d)) for _ in range(3))
    stream = structured_stream(1200, d)
    train, test = stream[:600], stream[600:]
    fitted, _ = fit_conv_compressor(
        train, wq, wk, wv, rate=rate, segment=segment, steps=600, lr=0.01
    )
    random_conv = 0.3 * g.standard_normal((rate, d, d))
    dilated = np.stack([np.eye(d) / 2, np.eye(d) / 2])  # two taps, dilation 2, averaging

    def usage_of(h, old):
        _, weights = softmax_attention(h @ wq, old @ wk, old @ wv, return_weights=True)
        return weights.sum(axis=0)  # attention each old row received

    compressors = {
        "max pool": lambda h, old: max_pool(old, rate),
        "mean pool": lambda h, old: mean_pool(old, rate),
        "conv1d, random": lambda h, old: conv1d(random_conv)(old, rate),
        "dilated conv (δ = 2)": lambda h, old: dilated_conv(dilated, 2)(old, rate),
        "most used": lambda h, old: most_used(usage_of(h, old))(old, rate),
        "conv1d, fitted": lambda h, old: conv1d(fitted)(old, rate),
    }
    windows = test.shape[0] // segment - 1
    losses, spread = {}, {}  # mean over windows, and 2 standard errors of it
    for name, compress in compressors.items():
        values = []
        for w in range(windows):
            old = test[w * segment : (w + 1) * segment]
            h = test[(w + 1) * segment : (w + 2) * segment]
            values.append(attention_reconstruction_loss(h, old, compress(h, old), wq, wk, wv))
        losses[name] = np.mean(values)
        spread[name] = 2 * np.std(values, ddof=1) / np.sqrt(len(values))
    fig = Figure()
    ax = fig.subplots()
    names = list(losses)
    colours = ["#1b9e77", "#1b9e77", "#7570b3", "#7570b3", "#e7298a", "#d95f02"]
    ax.barh(
        names,
        [losses[n] for n in names],
        xerr=[spread[n] for n in names],
        color=colours,
        error_kw={"capsize": 3, "elinewidth": 1, "ecolor": "0.25"},
    )
    for i, n in enumerate(names):
        ax.text(
            losses[n] + spread[n], i, f" {losses[n]:.3f} ± {spread[n]:.3f}", va="center", fontsize=8
        )
    ax.invert_yaxis()
    ax.set_xlabel(
        r"attention-reconstruction loss $\|\mathrm{attn}(h, M) - \mathrm{attn}(h, f_c(M))\|^2$"
        f"\nmean over {windows} held-out windows, bars $\\pm 2$ standard errors"
    )
    ax.set_title(
        f"Compression functions at rate {rate}, structured stream, $d = {d}$, segments of {segment}\n"
        "the fitted conv is trained on the first half of the stream, scored on the second",
        fontsize=10,
    )
    return fig
