"""Figures about Reformer's LSH: how often two vectors share a bucket, and what it recovers."""

from __future__ import annotations

import math

import numpy as np
from matplotlib.figure import Figure

from ..reformer import lsh_buckets, random_rotations
from ..softmax import softmax_attention
from ..testing import vector_pair
from .registry import register

D = 64
ANGLES = np.linspace(0.0, math.pi, 25)
DRAWS = 2000
#: Independent draws of the rotations behind each point of lsh-recall.
RECALL_DRAWS = 50


def collision_rates(buckets: int, rounds: int = 1, *, draws: int = DRAWS, seed: int = 0):
    """Monte-Carlo P[h(x) = h(y) in at least one of ``rounds``] at each angle of :data:`ANGLES`.

    Returns ``(mean, sd_of_mean)`` over ``draws`` independent rotation sets (d = 64).
    """
    pairs = np.stack(
        [np.stack(vector_pair(1.0, 1.0, math.cos(a), d=D, rng=i)) for i, a in enumerate(ANGLES)]
    )  # (angles, 2, d)
    rotations = random_rotations(D, buckets=buckets, rounds=draws * rounds, rng=seed)
    h = lsh_buckets(pairs, rotations).reshape(draws, rounds, len(ANGLES), 2)
    hit = (h[..., 0] == h[..., 1]).any(axis=1).astype(float)  # (draws, angles)
    return hit.mean(axis=0), hit.std(axis=0, ddof=1) / math.sqrt(draws)


#: Monte-Carlo rates with ±2 standard errors.
POINTS = {"marker": "o", "ms": 3, "capsize": 2, "lw": 1.2}


@register(
    "lsh-collision",
    title="Angular LSH: collision probability against the angle",
    reproduces="the hashing scheme of Kitaev, Kaiser & Levskaya 2020 (arXiv:2001.04451), §2",
)
def lsh_collision() -> Figure:
    fig = Figure(figsize=(10.5, 4.4))
    left, right = fig.subplots(1, 2, sharey=True)
    degrees = np.degrees(ANGLES)
    for b, color in zip((2, 4, 8, 16, 32), ("C0", "C1", "C2", "C3", "C4"), strict=True):
        mean, se = collision_rates(b, seed=b)
        left.errorbar(degrees, mean, yerr=2 * se, color=color, label=f"$b = {b}$", **POINTS)
    closed = r"$1 - \theta/\pi$ ($b = 2$, closed form)"
    left.plot(degrees, 1 - ANGLES / math.pi, "k--", lw=1.2, label=closed)
    left.set_title("(a) one round, $b$ buckets")
    for r, color in zip((1, 2, 4, 8), ("C2", "C5", "C6", "C7"), strict=True):
        mean, se = collision_rates(8, r, draws=DRAWS // 2, seed=100 + r)
        right.errorbar(degrees, mean, yerr=2 * se, color=color, label=f"$r = {r}$", **POINTS)
    right.set_title("(b) $b = 8$: shared a bucket in at least one of $r$ rounds")
    for ax in (left, right):
        ax.set_xlabel(r"angle $\theta$ between $x$ and $y$ (degrees)")
        ax.set_xticks([0, 45, 90, 135, 180])
        ax.legend(fontsize=8)
    left.set_ylabel(r"$P[h(x) = h(y)]$")
    fig.suptitle(
        r"Angular LSH $h(x) = \mathrm{argmax}([xR;\, {-xR}])$, $R$ ($d \times b/2$) Gaussian, "
        f"$d = {D}$ (Kitaev et al. 2020, §2)\nMonte Carlo over {DRAWS} rotation draws per point "
        rf"({DRAWS // 2} in (b)); bars $\pm 2$ standard errors",
        y=1.0,
    )
    fig.subplots_adjust(top=0.8, wspace=0.08)
    return fig


def recall_by_rounds(q, buckets, max_rounds, *, top=8, draws=RECALL_DRAWS, seed=0):
    """Fraction of each query's ``top`` largest exact weights whose key shares its bucket.

    Shared-QK attention from the exact oracle (keys the unit queries, no
    self); a pair counts when it shares a bucket in any of the first ``r``
    rounds, for ``r = 1 … max_rounds``.  Returns an array ``(draws,
    max_rounds)``: one row per independent draw of the ``max_rounds``
    rotations, the queries fixed.
    """
    n = q.shape[0]
    keys = q / np.linalg.norm(q, axis=1, keepdims=True)
    _, weights = softmax_attention(
        q, keys, np.zeros((n, 1)), mask=~np.eye(n, dtype=bool), return_weights=True
    )
    best = np.argsort(-weights, axis=1)[:, :top]  # (n, top)
    rotations = random_rotations(q.shape[1], buckets=buckets, rounds=draws * max_rounds, rng=seed)
    h = lsh_buckets(q, rotations).reshape(draws, max_rounds, n)
    same = h[:, :, :, None] == h[:, :, best]  # (draws, rounds, n, top)
    return np.logical_or.accumulate(same, axis=1).mean(axis=(2, 3))


def clustered_queries(n=1024, d=D, clusters=16, spread=0.6, seed=0):
    """Queries around a few random centres: the topics attention tends to find in real text."""
    g = np.random.default_rng(seed)
    centres = g.standard_normal((clusters, d))
    return centres[g.integers(clusters, size=n)] + spread * g.standard_normal((n, d))


@register(
    "lsh-recall",
    title="LSH recall of the exact top-k keys against the number of hash rounds",
    reproduces="the multi-round hashing argument of Kitaev, Kaiser & Levskaya 2020 "
    "(arXiv:2001.04451), §2, multi-round LSH",
)
def lsh_recall() -> Figure:
    rounds = np.arange(1, 9)
    fig = Figure(figsize=(10.5, 4.4))
    left, right = fig.subplots(1, 2, sharey=True)
    inputs = (
        ("(a) clustered queries (16 centres)", clustered_queries()),
        ("(b) isotropic random queries", np.random.default_rng(1).standard_normal((1024, D))),
    )
    for ax, (title, q) in zip((left, right), inputs, strict=True):
        for b, color in zip((4, 16, 64), ("C0", "C1", "C3"), strict=True):
            recall = recall_by_rounds(q, b, len(rounds), seed=b)  # (draws, rounds)
            se = recall.std(axis=0, ddof=1) / np.sqrt(len(recall))
            ax.errorbar(rounds, recall.mean(axis=0), yerr=2 * se, color=color, label=f"$b = {b}$",
                        **POINTS)  # fmt: skip
            ax.fill_between(rounds, recall.min(axis=0), recall.max(axis=0), color=color, alpha=0.15)
        ax.set_title(title)
        ax.set_xlabel("hash rounds")
        ax.set_xticks(rounds)
        ax.set_ylim(0, 1.02)
        ax.legend(fontsize=8)
    left.set_ylabel("fraction of the top-8 keys sharing a bucket")
    fig.suptitle(
        f"Shared-QK attention, $n = 1024$, $d = {D}$: of each query's 8 largest exact weights, "
        "how many keys share its bucket\nin at least one round "
        "(more rounds recover more; more buckets fewer); queries fixed, "
        f"{RECALL_DRAWS} independent draws of the rotations\n"
        r"per point: mean, bars $\pm 2$ standard errors of the mean, band min–max over the draws",
        y=1.02,
    )
    fig.subplots_adjust(top=0.78, wspace=0.08)
    return fig
