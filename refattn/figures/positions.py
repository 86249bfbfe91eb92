"""Figure on position schemes: does an attention pattern set up at length L hold at 2L and 4L?

The task needs position and nothing else: query ``i`` must attend the key at
``i − δ`` (the previous token, ``δ = 1``).  The inputs carry no content
(token states are zero), so every score is the scheme's position term alone.
Nothing is trained: each scheme's parameters are the minimum-norm least-squares
fit, in closed form, of the target logits ``β·[i − j = δ]`` over the causal
pairs ``j ≤ i < L`` (``derivations/14-positions.md`` (14.5)).  Then the same
parameters run on sequences of ``2L`` and ``4L`` tokens, and the figure shows
the softmax weight each query puts on the key at ``i − δ``.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from .. import complexity
from ..positional import (
    alibi_bias,
    alibi_slopes,
    position_infused_attention,
    relative_scores,
    rotary,
    sinusoidal_table,
)
from ..softmax import softmax_attention
from .registry import register

L = 32  # the length the patterns are set up for
D = 64  # width of the positions (and of q, k)
OFFSET = 1  # δ: the key each query must attend is i − δ
BETA = 10.0  # the target logit of the correct key; all others 0
LENGTHS = (L, 2 * L, 4 * L)
ALIBI_HEADS = 8
COST_N = 4096  # the length at which the flops per score are given

SCHEMES = {
    "absolute": "absolute sinusoids at the input",
    "relative": "Transformer-XL relative, whole sequence",
    "relative_memory": "Transformer-XL relative, segments + memory",
    "infused": "position-infused (Shortformer), with cache",
    "rotary": "rotary (RoPE)",
    "alibi": f"ALiBi (best of {ALIBI_HEADS} fixed slopes)",
}
SCHEME_COLORS = {
    "absolute": "#d62728",
    "relative": "#e377c2",
    "relative_memory": "#8c564b",
    "infused": "#ff7f0e",
    "rotary": "#2ca02c",
    "alibi": "#1f77b4",
}


def _pairs(n):
    """The causal pairs ``j ≤ i < n`` and their target logits ``β·[i − j = δ]``."""
    i, j = np.tril_indices(n)
    return i, j, BETA * (i - j == OFFSET)


def _weights(scores):
    """Causal softmax of ``(..., n, m)`` scores (scale 1); the queries are the last n of m."""
    n, m = scores.shape[-2:]
    _, weights = softmax_attention(
        scores, np.eye(m), np.zeros((m, 1)), causal=True, scale=1.0, return_weights=True
    )
    return weights


def _on_target(weights, first=0):
    """Weight of query ``i`` on key ``i − δ``, for ``i = δ … n − 1``.

    The queries are the last ``n`` of ``m`` positions; ``first`` skips queries
    whose key ``i − δ`` lies before the window.
    """
    n, m = weights.shape[-2:]
    i = np.arange(max(OFFSET - (m - n), first), n)
    return weights[..., i, m - n + i - OFFSET]


def _fit_bilinear():
    """``W`` (d × d) with ``p_iᵀ W p_j`` closest to the targets on the pairs below L, minimum norm.

    Linear least squares in the ``d²`` entries of ``W``, one equation per causal
    pair; ``W`` is ``W_q W_kᵀ`` of a head reading absolute positions.
    """
    i, j, target = _pairs(L)
    p = sinusoidal_table(np.arange(L), D)  # (L, d)
    pair_features = (p[i][:, :, None] * p[j][:, None, :]).reshape(len(i), D * D)  # (pairs, d²)
    return np.linalg.lstsq(pair_features, target, rcond=None)[0].reshape(D, D)


def _fit_distance(features):
    """Least-squares weights ``w`` with ``wᵀ f(i − j)`` closest to the targets on pairs below L."""
    i, j, target = _pairs(L)
    return np.linalg.lstsq(features(i - j), target, rcond=None)[0]


def extrapolation_data() -> dict:
    """Per scheme and length ``T`` in ``LENGTHS``: the weight of each query on its key ``i − δ``.

    Returns ``{scheme: {T: array (T − δ,)}}`` plus ``"slope"`` (ALiBi's chosen
    head slope) and ``"flops"`` (extra flops per score at ``n = m = COST_N``).
    """
    w_abs = _fit_bilinear()
    # Transformer-XL with zero content: a_ij = vᵀ W_R r_{i−j}; W_R = I, so v is the fitted w
    w_rel = _fit_distance(lambda delta: sinusoidal_table(delta, D))
    # RoPE with k = rotary(b, j): q_iᵀk_j = rotary(a, i)ᵀ rotary(b, j) = aᵀ rotary(b, j − i)
    b = np.tile([1.0, 0.0], D // 2)
    w_rot = _fit_distance(lambda delta: rotary(np.tile(b, (len(delta), 1)), -delta))
    # ALiBi: no position in q or k; the head whose slope best serves the task at length L
    slopes = alibi_slopes(ALIBI_HEADS)
    at_l = _on_target(_weights(alibi_bias(L, L, ALIBI_HEADS)))  # (H, L − δ)
    head = int(np.argmax(at_l.mean(axis=-1)))

    sub = L // 2
    zeros = np.zeros((sub, D))

    def infused(c):  # W_q W_kᵀ = W with W_q = W, W_k = I; the values do not matter here
        cache = zeros[:c] if c else None
        return position_infused_attention(
            zeros, w_abs, np.eye(D), np.zeros((D, 1)), cache=cache, scale=1.0, return_weights=True
        )[1]

    def xl_memory(c):
        return _weights(relative_scores(zeros, np.zeros((c + sub, D)), np.eye(D), zeros[0], w_rel))

    data = {name: {} for name in SCHEMES}
    for t in LENGTHS:
        zeros_t = np.zeros((t, D))
        p = sinusoidal_table(np.arange(t), D)  # (T, d)
        data["absolute"][t] = _on_target(_weights(p @ w_abs @ p.T))
        relative = relative_scores(zeros_t, zeros_t, np.eye(D), np.zeros(D), w_rel)
        data["relative"][t] = _on_target(_weights(relative))
        data["relative_memory"][t] = _in_windows(t, xl_memory)
        data["infused"][t] = _in_windows(t, infused)
        q = rotary(np.tile(w_rot, (t, 1)), np.arange(t))
        k = rotary(np.tile(b, (t, 1)), np.arange(t))
        data["rotary"][t] = _on_target(_weights(q @ k.T))
        data["alibi"][t] = _on_target(_weights(alibi_bias(t, t, ALIBI_HEADS)[head]))
    data["slope"] = slopes[head]
    n = COST_N
    scores = n * n
    data["flops"] = {
        "absolute": complexity.absolute_position_flops(n, D) / scores,
        "relative": complexity.relative_position_flops(n, n, D) / scores,
        "relative_memory": complexity.relative_position_flops(n, n, D) / scores,
        "infused": complexity.position_infused_flops(n, n, D) / scores,
        "rotary": complexity.rotary_flops(n, n, D) / scores,
        "alibi": complexity.alibi_flops(n, n) / scores,
    }
    return data


def _in_windows(t, weights_of_window):
    """Run ``t`` tokens as subsequences of L/2, each reading the previous one (a cache, a memory).

    Positions (or distances) restart with every window, so none reaches L.
    ``weights_of_window(c)`` gives the ``(L/2, c + L/2)`` weights of one window
    with ``c`` cached rows.  Returns each query's weight on its key ``i − δ``.
    """
    sub = L // 2
    return np.concatenate(
        [_on_target(weights_of_window(min(start, sub))) for start in range(0, t, sub)]
    )


@register(
    "positions-extrapolation",
    title="Position schemes set up at length L, run at 2L and 4L; their cost per score",
    reproduces=(
        "the comparison of absolute, relative and position-infused positions in the "
        "reading-group post (Press et al. 2021, arXiv:2012.15832; Su et al. 2021, "
        "arXiv:2104.09864; Press et al. 2022, arXiv:2108.12409)"
    ),
)
def positions_extrapolation() -> Figure:
    data = extrapolation_data()
    fig = Figure(figsize=(13.0, 4.8))
    ax_line, ax_bar, ax_cost = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.5, 1.0, 1.0]})
    longest = LENGTHS[-1]
    queries = np.arange(OFFSET, longest)
    # the curves that coincide are told apart by line style and width
    styles = {"absolute": ("-", 3.0), "relative": ("--", 1.8), "rotary": (":", 1.4)}
    styles |= {"relative_memory": ("-", 3.0), "infused": ("--", 1.4), "alibi": ("-", 1.4)}
    for name, label in SCHEMES.items():
        style, lw = styles[name]
        ax_line.plot(queries, data[name][longest], style, color=SCHEME_COLORS[name], lw=lw)
        ax_line.plot([], [], style, color=SCHEME_COLORS[name], lw=lw, label=label)
    for t in LENGTHS[:-1]:
        ax_line.axvline(t, color="0.5", lw=0.8, ls=":")
    ax_line.text(L, 1.04, " L", color="0.4", fontsize=8)
    ax_line.text(2 * L, 1.04, " 2L", color="0.4", fontsize=8)
    ax_line.set_ylim(-0.03, 1.1)
    ax_line.set_xlabel(f"query position i  (a sequence of 4L = {longest} tokens)")
    ax_line.set_ylabel(f"softmax weight on the key at i − {OFFSET}")
    ax_line.set_title(f"(a) weight on the correct key, set up at L = {L}")
    ax_line.legend(fontsize=7, loc="center right", framealpha=0.9, frameon=True)

    width = 0.8 / len(SCHEMES)
    x = np.arange(len(LENGTHS))
    for s, name in enumerate(SCHEMES):
        means = [data[name][t].mean() for t in LENGTHS]
        offset = (s - (len(SCHEMES) - 1) / 2) * width
        ax_bar.bar(x + offset, means, width, color=SCHEME_COLORS[name], label=name)
    ax_bar.set_xticks(x, [f"{t // L}L = {t}" for t in LENGTHS])
    ax_bar.set_ylim(0, 1.05)
    ax_bar.set_xlabel("sequence length")
    ax_bar.set_ylabel("mean over queries")
    ax_bar.set_title("(b) mean weight on the correct key\n(colours as in (a))", fontsize=10)

    names = list(SCHEMES)
    flops = [data["flops"][name] for name in names]
    short = {"absolute": "absolute (per model)", "relative": "XL relative"}
    short |= {"relative_memory": "XL + memory", "infused": "infused (per layer)"}
    ax_cost.barh([short.get(n, n) for n in names], flops, color=[SCHEME_COLORS[n] for n in names])
    ax_cost.set_xscale("log")
    ax_cost.axvline(2 * D, color="0.3", ls="--", lw=1)
    ax_cost.text(2 * D, -0.6, f" qᵀk itself: 2d = {2 * D}", fontsize=7, color="0.3")
    for yy, f in enumerate(flops):
        ax_cost.text(f, yy, f" {f:.3g}", va="center", fontsize=7)
    ax_cost.set_xlim(1e-3, 2e3)
    ax_cost.invert_yaxis()
    ax_cost.set_xlabel(f"extra flops per score (n = m = {COST_N}, d = {D}; complexity.py)")
    ax_cost.set_title("(c) cost of the position scheme")
    fig.suptitle(
        f"Attend to the token at i − {OFFSET} from positions alone (no content); each scheme's "
        f"parameters: the least-squares fit, in closed form, of logits β = {BETA:g}\n"
        f"at length L = {L} (d = {D}); no training.  Past L, positions and distances never seen "
        "take the weight; windows that restart\n"
        "(Shortformer's cache, XL's memory) never leave L; ALiBi holds at every length, but a "
        f"head with no position in qᵀk can only favour recency (slope {data['slope']:g})",
        fontsize=10,
    )
    fig.subplots_adjust(wspace=0.6, top=0.76)
    return fig
