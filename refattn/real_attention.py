"""What the attention of a real pretrained model looks like: spectra, locality, Linformer on it.

The papers argue from *trained* attention.  Linformer (Wang et al. 2020,
arXiv:2006.04768, Figure 1) finds the attention matrices of pretrained RoBERTa
close to low-rank; Longformer (Beltagy, Peters & Cohan 2020, arXiv:2004.05150)
finds pretrained heads mostly local; the reading-group post ("Long-range
Transformers", Hugging Face, February 2021) asks whether Linformer's
projections could simply be random.  These functions measure each question on
the exact attention of all-MiniLM-L6-v2 (:mod:`refattn.pretrained`) over
512-token chunks of real text, one chunk at a time (one chunk's attention is
6 layers × 12 heads × 512² weights; all of them at once would not fit).

Items of ``derivations/07-pretrained.md``:

* (7.5) the cumulative singular-value spectrum of real attention, per layer:
  :func:`attention_spectra`, with random attention for contrast
  (:func:`random_attention_spectra`, :func:`random_attention_like`);
* (7.6) its value at ``k = 128`` for every layer × head: :func:`spectrum_heatmap`;
* (7.7) the mass inside a sliding window as the window grows: :func:`attention_locality`
  (:func:`window_mass`);
* (7.8) Linformer with random and mean-pooling projections on real q, k, v,
  against the best rank-``k`` approximation of ``P``: :func:`linformer_projection_errors`.

Every function returns a dict of NumPy arrays; the heavy work runs on the
encoder's backend.
"""

from __future__ import annotations

import math

from ._validation import (
    array_module,
    check_all_finite,
    check_array,
    check_choice,
    check_dtype,
    check_generator,
    check_int,
    check_int_sequence,
    check_module,
    check_output,
    check_real,
    check_working_set,
    describe,
    quiet,
)
from .backend import module_for, to_numpy
from .jl import KINDS, projection
from .linformer import _RNG_DOMAIN, linformer_attention
from .pretrained import _check_token_ids
from .softmax import softmax, softmax_attention
from .spectra import _power_of_two_scale, cumulative_spectrum

#: Results are gathered on the host (NumPy), whatever backend the encoder runs on.
host = module_for("numpy")

__all__ = [
    "KS",
    "WIDTHS",
    "attention_locality",
    "attention_singular_values",
    "attention_spectra",
    "chunk_outputs",
    "linformer_projection_errors",
    "mean_pooling",
    "random_attention_like",
    "random_attention_spectra",
    "spectrum_heatmap",
    "window_mass",
]

#: One-sided windows of the locality experiment (``window = w`` keeps ``|i − j| <= w``).
WIDTHS = (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
#: Projected lengths of the Linformer experiment.
KS = (16, 32, 64, 128, 256)


def chunk_outputs(encoder, ids):
    """Run the exact encoder on one chunk at a time, with its attention weights.

    Parameters
    ----------
    encoder : refattn.pretrained.Encoder
    ids : int array (N, n)
        Token ids without padding, e.g. :func:`refattn.pretrained.text_chunks`.

    Returns
    -------
    iterator of EncoderOutput
        One per chunk (computed as it is read; the arguments are checked at
        the call): ``hidden_states`` ``(1, n, hidden)`` per layer and
        ``attentions`` ``(1, heads, n, n)`` per layer.
    """
    ids = _check_ids(encoder, ids)  # checked now, not at the first chunk
    return _chunks(encoder, ids)


def _chunks(encoder, ids):
    for row in range(ids.shape[0]):
        yield encoder.forward(ids[row : row + 1], return_attention=True)


# ---------------------------------------------------------------------------
# (7.5), (7.6)  spectra


def attention_singular_values(p):
    """Singular values of attention matrices ``p (..., n, n)``, descending, in float64.

    Computed as the square roots of the eigenvalues of the symmetric ``P Pᵀ``
    (``eigvalsh``), which is about twice as fast as an SVD at ``n = 512``
    and matches it to ``~1e-8·σ₁`` (squaring loses the relative accuracy of the
    smallest values, not their absolute accuracy, and ``c_k`` only sums them).
    ``P`` is first divided by a power of two near its largest entry (exact),
    so entries near the ends of the float range do not overflow or underflow.
    """
    xp = _check_square("p", p)
    p = p.astype("float64")
    # divide by a power of two near max|p| (exact) so that P Pᵀ neither overflows nor underflows
    scale = _power_of_two_scale(xp, xp.abs(p).max(axis=(-2, -1), keepdims=True))  # (..., 1, 1)
    p = p / scale
    gram = p @ xp.swapaxes(p, -1, -2)  # (..., n, n)  P Pᵀ = U Σ² Uᵀ
    eigenvalues = xp.linalg.eigvalsh(gram)[..., ::-1]  # (..., n)  σ², descending
    return xp.sqrt(xp.maximum(eigenvalues, 0.0)) * scale[..., 0]


def random_attention_spectra(*, n=512, d=64, scales=(0.5, 1.0, 2.0, 4.0), seed=3):
    """Cumulative spectra of attention from random queries and keys, for contrast with real heads.

    ``P = softmax(QKᵀ/√d)`` with ``Q, K`` of iid ``N(0, scale²)`` entries, one
    ``n × n`` matrix per scale, drawn in order from one generator seeded with
    ``seed`` (the figure ``linformer-spectrum-synthetic`` draws these).

    Returns
    -------
    dict
        ``scale`` ``(S,)``; ``c`` ``(S, n)``: ``c[s, i−1] = Σ_{j<=i} σ_j / Σ σ_j``.
    """
    n, d = check_int("n", n, minimum=1), check_int("d", d, minimum=1)
    scales = _check_reals("scales", scales, minimum=0.0)
    _check_size("random_attention_spectra", n, d, len(scales))
    # a NumPy stream: the same curves on every backend
    g = check_generator("seed", seed, "numpy", domain=_RNG_DOMAIN)
    curves = []
    for scale in scales:
        q, k = (scale * g.standard_normal((n, d)) for _ in range(2))  # (n, d)
        with quiet(host):  # by _check_logits, not as a warning
            logits = q @ k.T / math.sqrt(d)  # (n, n)
        _check_logits("random_attention_spectra", logits, f"scales entry {scale!r}")
        curves.append(cumulative_spectrum(attention_singular_values(softmax(logits))))
    return {"scale": host.asarray(scales, dtype=float), "c": host.stack(curves)}


def attention_spectra(encoder, ids, *, quantiles=(0.1, 0.9), seed=0):
    """Normalised cumulative singular values of every head's exact attention, per chunk (7.5).

    For each chunk, layer and head, ``c_k = Σ_{i<=k} σ_i / Σ_i σ_i`` of the
    ``n × n`` attention matrix ``P``.  Singular values, not eigenvalues: ``P``
    is not symmetric, its eigenvalues are complex in general, and it is the
    singular values that give the best rank-``k`` error (Eckart–Young).

    For contrast, each head also gets random attention *at its own
    temperature*: ``softmax(G)`` with ``G = s·Z Wᵀ/√d``, ``Z, W`` of iid
    ``N(0, 1)`` entries ``(n, d)``, scaled so that the spread of its logits
    (the standard deviation over keys, averaged over queries) equals the
    head's own (:func:`random_attention_like`).

    Parameters
    ----------
    encoder : refattn.pretrained.Encoder
    ids : int array (N, n)
        Chunks without padding.
    quantiles : pair of floats in [0, 1]
        The band reported over heads and chunks.
    seed : int
        Seed of the random attention.

    Returns
    -------
    dict of numpy arrays
        ``index`` ``(n,)``: ``1 … n``; ``c`` ``(N, layers, heads, n)``; ``mean``,
        ``low``, ``high`` ``(layers, n)``: the mean and the two quantiles over
        heads and chunks; ``logit_spread`` ``(layers, heads)``: each head's
        logit spread, mean over chunks; ``random`` ``(layers, heads, n)``: the
        spectrum of random attention at that spread.
    """
    lo, hi = _check_quantiles(quantiles)
    ids = _check_ids(encoder, ids)
    seed = check_int("seed", seed, minimum=0)
    xp = module_for(encoder.xp)
    curves, spreads = [], []
    for out in _chunks(encoder, ids):
        per_layer, spread = [], []
        for layer, p in enumerate(out.attentions):
            per_layer.append(cumulative_spectrum(attention_singular_values(p[0])))  # (heads, n)
            q, k, _ = encoder.qkv(layer, out.hidden_states[layer])  # (1, heads, n, d)
            spread.append(_logit_spread(q[0], k[0]))  # (heads,)
        curves.append(to_numpy(xp.stack(per_layer)))  # (layers, heads, n)
        spreads.append(to_numpy(xp.stack(spread)))  # (layers, heads)
    c = host.stack(curves)  # (N, layers, heads, n)
    pooled = host.swapaxes(c, 0, 1).reshape(c.shape[1], -1, c.shape[-1])  # (layers, N·heads, n)
    logit_spread = host.mean(spreads, axis=0)  # (layers, heads)
    random = random_attention_like(
        logit_spread, n=c.shape[-1], d=encoder.config.head_dim, seed=seed
    )
    return {
        "index": host.arange(1, c.shape[-1] + 1),
        "c": c,
        "mean": pooled.mean(axis=1),
        "low": host.quantile(pooled, lo, axis=1),
        "high": host.quantile(pooled, hi, axis=1),
        "logit_spread": logit_spread,
        "random": random,
    }


def _logit_spread(q, k):
    """Standard deviation of the logits ``q·k/√d`` over keys, mean over queries: ``(...)``."""
    xp = array_module(q=q, k=k)
    logits = q @ xp.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])  # (..., n, m)
    return logits.astype("float64").std(axis=-1).mean(axis=-1)


def random_attention_like(logit_spread, *, n, d, seed=0):
    """Cumulative spectra of random attention whose logits have the given spreads.

    For each entry ``s`` of ``logit_spread``: ``P = softmax(G)``, ``G = Z Wᵀ/√d``
    with ``Z, W`` iid ``N(0, 1)`` of shape ``(n, d)`` (a fresh draw per entry),
    rescaled so that its logit spread (:func:`attention_spectra`) is exactly ``s``.

    Returns
    -------
    numpy array (*logit_spread.shape, n)
    """
    check_array("logit_spread", logit_spread, dtype="real")
    spreads = host.asarray(to_numpy(logit_spread), dtype=float)
    if not bool((spreads >= 0).all()):
        raise ValueError(
            f"logit_spread must be >= 0 everywhere, got {describe(logit_spread)} "
            f"with minimum {float(spreads.min())!r}"
        )
    n, d = check_int("n", n, minimum=1), check_int("d", d, minimum=1)
    _check_size("random_attention_like", n, d, spreads.size)
    g = check_generator("seed", seed, "numpy", domain=_RNG_DOMAIN)
    curves = []
    for s in spreads.ravel():
        z, w = g.standard_normal((n, d)), g.standard_normal((n, d))  # (n, d)
        logits = z @ w.T / math.sqrt(d)  # (n, n)
        with quiet(host):
            logits *= s / _logit_spread(z, w)  # spread exactly s
        _check_logits("random_attention_like", logits, f"logit_spread entry {float(s)!r}")
        curves.append(cumulative_spectrum(attention_singular_values(softmax(logits))))
    return host.reshape(curves, (*spreads.shape, n))


def spectrum_heatmap(spectra, *, k=128):
    """``c_k`` for every layer × head, mean over chunks (7.6): Linformer Figure 1, right.

    Parameters
    ----------
    spectra : dict
        What :func:`attention_spectra` returns.
    k : int, 1 <= k <= n

    Returns
    -------
    dict of numpy arrays
        ``c_k`` ``(layers, heads)``: mean over chunks; ``spread`` ``(layers,
        heads)``: the standard deviation over chunks; ``random`` ``(layers,
        heads)``: ``c_k`` of random attention at each head's logit spread;
        ``k``: the scalar, as a 0-d array.
    """
    c, random = _check_spectra(spectra)  # (N, layers, heads, n), (layers, heads, n)
    k = check_int("k", k, minimum=1)
    if k > c.shape[-1]:
        raise ValueError(f"k must be at most n = {c.shape[-1]}, got {k}")
    at_k = c[..., k - 1]  # (N, layers, heads)
    return {
        "k": host.asarray(k),
        "c_k": at_k.mean(axis=0),
        "spread": at_k.std(axis=0),
        "random": random[..., k - 1],
    }


# ---------------------------------------------------------------------------
# (7.7)  locality


def window_mass(p, *, global_tokens=()):
    """Attention mass a sliding window keeps, for every one-sided window ``w = 0 … n−1``.

    ``mass[..., w] = Σ_{(i, j) kept} P_ij / n``, the mean over queries of the
    weight exact attention puts on the keys that
    ``refattn.mechanism("sliding_window", window=w, global_tokens=…)`` keeps:
    ``|i − j| <= w``, or ``i`` or ``j`` global.  It is non-decreasing in ``w``
    and reaches 1 at ``w = n − 1``.

    Parameters
    ----------
    p : array (..., n, n)
        Attention weights, rows summing to 1.
    global_tokens : sequence of int
        Positions that attend, and are attended by, every position.

    Returns
    -------
    array (..., n)
    """
    xp = _check_square("p", p)
    *batch, n, _ = p.shape
    glob = check_int_sequence("global_tokens", global_tokens, minimum=0)
    if any(g >= n for g in glob):
        raise ValueError(f"global_tokens must lie in [0, {n}), got {list(global_tokens)}")
    positions = xp.arange(n)
    distance = xp.abs(positions[:, None] - positions[None, :])  # (n, n)  |i − j|
    if glob:
        is_global = xp.zeros(n, dtype=bool)
        is_global[xp.asarray(glob)] = True
        # a global row or column is kept by every window: give it distance 0
        distance = xp.where(is_global[:, None] | is_global[None, :], 0, distance)
    stacked = p.reshape(-1, n * n)  # (B, n²)
    count = stacked.shape[0]
    # the weight at each distance, per matrix: one bincount over (matrix, distance) bins
    bins = (xp.arange(count)[:, None] * n + distance.reshape(1, -1)).ravel()  # (B·n²,)
    per_distance = xp.bincount(bins, weights=stacked.ravel(), minlength=count * n)
    per_distance = per_distance.reshape(*batch, n) / n  # (..., n)
    return xp.cumsum(per_distance, axis=-1)  # (..., n)  window w keeps distances <= w


def attention_locality(encoder, ids, *, widths=WIDTHS, global_tokens=(0, -1), level=0.9):
    """How local real heads are: the mass inside a sliding window of each width (7.7).

    For every chunk, layer and head, :func:`window_mass` of the exact
    attention, without and with ``global_tokens`` (default ``[CLS]`` and
    ``[SEP]``, the first and last positions of every chunk).

    Parameters
    ----------
    encoder : refattn.pretrained.Encoder
    ids : int array (N, n)
    widths : sequence of int in [0, n)
        The one-sided windows reported.
    global_tokens : sequence of int
        Positions made global for the second measurement; negative ones count
        from the end.
    level : float in (0, 1]
        The share of the mass a window must keep (``w_level`` below).

    Returns
    -------
    dict of numpy arrays
        ``widths`` ``(W,)``; ``mass``, ``mass_global`` ``(layers, heads, W)``:
        mean over chunks; ``mass_chunks`` ``(N, layers, heads, W)``;
        ``w_level``, ``w_level_global`` ``(layers, heads)``: the smallest
        window whose mean mass reaches ``level``; ``uniform`` ``(W,)``: the
        mass uniform attention ``P = 1/n`` would keep (no locality at all).
    """
    ids = _check_ids(encoder, ids)
    n = ids.shape[1]
    widths = host.asarray(check_int_sequence("widths", widths, minimum=0), dtype=int)
    if widths.size == 0 or widths.max() >= n:
        raise ValueError(f"widths must be non-empty and lie in [0, {n}), got {widths.tolist()}")
    level = check_real("level", level, minimum=0.0, maximum=1.0, open_min=True)
    glob = check_int_sequence("global_tokens", global_tokens, minimum=-n)
    if any(g >= n for g in glob):
        raise ValueError(f"global_tokens must lie in [-{n}, {n}), got {list(global_tokens)}")
    glob = sorted({g % n for g in glob})
    plain, with_global = [], []
    for out in _chunks(encoder, ids):
        plain.append([to_numpy(window_mass(p[0])) for p in out.attentions])
        with_global.append(
            [to_numpy(window_mass(p[0], global_tokens=glob)) for p in out.attentions]
        )
    profile = host.asarray(plain).mean(axis=0)  # (layers, heads, n)
    profile_global = host.asarray(with_global).mean(axis=0)  # (layers, heads, n)
    uniform = window_mass(host.full((n, n), 1.0 / n))  # (n,)
    return {
        "widths": widths,
        "mass": profile[..., widths],
        "mass_global": profile_global[..., widths],
        "mass_chunks": host.asarray(plain)[..., widths],
        "w_level": _first_reaching(profile, level),
        "w_level_global": _first_reaching(profile_global, level),
        "uniform": uniform[widths],
    }


def _first_reaching(profile, level):
    """The smallest index ``w`` with ``profile[..., w] >= level`` (a little slack for rounding)."""
    return host.argmax(profile >= level - 1e-9, axis=-1)


# ---------------------------------------------------------------------------
# (7.8)  Linformer with random projections on real attention


def mean_pooling(n, k, *, xp=None, dtype="float64"):
    """A ``(k, n)`` projection whose rows average consecutive blocks of positions.

    Row ``r`` is ``1/b`` on its block of ``b ≈ n/k`` positions (the blocks of
    ``numpy.array_split``) and 0 elsewhere; ``k = n`` gives the identity.

    >>> mean_pooling(4, 2)
    array([[0.5, 0.5, 0. , 0. ],
           [0. , 0. , 0.5, 0.5]])
    """
    n, k = check_int("n", n, minimum=1), check_int("k", k, minimum=1)
    if k > n:
        raise ValueError(f"k must be at most n = {n}, got {k}")
    dtype = check_dtype("dtype", dtype)
    xp = check_module("xp", xp)
    check_working_set(f"mean_pooling(n={n}, k={k})", 8 * k * n, "8·k·n", xp)
    edges = [(r * n) // k for r in range(k + 1)]  # block r is [edges[r], edges[r + 1])
    e = xp.zeros((k, n), dtype=dtype)
    for r in range(k):
        e[r, edges[r] : edges[r + 1]] = 1.0 / (edges[r + 1] - edges[r])
    return e


def linformer_projection_errors(encoder, ids, *, ks=KS, kinds=KINDS, seeds=4):
    """Linformer's output error on real q, k, v, for random and mean-pooling projections (7.8).

    For each chunk, layer and head, the relative error ``‖Ã − A‖_F / ‖A‖_F``
    of the head output ``Ã = softmax(Q (EK)ᵀ/√d) (EV)`` (E = F, untrained,
    the same ``E`` for every head and layer) against exact ``A = P V``, with

    * ``E`` a random JL map of each kind (:func:`refattn.jl.projection`), one
      draw per seed and ``k``; JL maps have entries of variance ``1/k``, so
      ``E K`` is about ``√(n/k)`` times larger than an average of keys, which
      multiplies the logits.  The Gaussian map is therefore also run rescaled
      by ``√(k/n)`` (``gaussian_rescaled``: entries of variance ``1/n``, the
      scale of a mean), which separates the cost of the scale from the cost
      of the randomness;
    * ``E`` = :func:`mean_pooling`;
    * and, as a reference, ``P_k V`` with ``P_k`` the best rank-``k``
      approximation of ``P`` (Eckart–Young).  ``P_k`` is optimal for ``P`` in
      Frobenius norm, not for the output: a rank-``d_v`` matrix
      (``P V V⁺``) reproduces ``A`` exactly, so it is no lower bound on the
      output error of every rank-``k`` scheme.

    Parameters
    ----------
    encoder : refattn.pretrained.Encoder
    ids : int array (N, n)
    ks : sequence of int in [1, n]
    kinds : sequence of str
        Kinds of :func:`refattn.jl.projection`.
    seeds : int >= 1
        Independent draws of every random projection (seeds ``0 … seeds−1``,
        offset by ``1000·k``).

    Returns
    -------
    dict of numpy arrays, all means over chunks
        ``k`` ``(K,)``; one entry per kind, and ``gaussian_rescaled`` when the
        Gaussian kind is run, ``(seeds, layers, heads, K)``; ``mean_pool`` and
        ``svd`` ``(layers, heads, K)``.
    """
    ids = _check_ids(encoder, ids)
    xp = module_for(encoder.xp)
    n = ids.shape[1]
    ks = list(check_int_sequence("ks", ks, minimum=1))
    if not ks or max(ks) > n:
        raise ValueError(f"ks must be non-empty and lie in [1, {n}], got {ks}")
    if not isinstance(kinds, (tuple, list)):
        raise TypeError(f"kinds must be a tuple of strings among {KINDS}, got {describe(kinds)}")
    for i, kind in enumerate(kinds):
        check_choice(f"kinds[{i}]", kind, KINDS)
    seeds = check_int("seeds", seeds, minimum=1)
    # every map is a k × n float32 array: seeds per random kind (two for Gaussian), one mean pool
    maps_bytes = 4 * n * sum(ks) * (seeds * (len(kinds) + ("gaussian" in kinds)) + 1)
    check_working_set(
        f"linformer_projection_errors(ks={ks}, seeds={seeds}) with n = {n}",
        maps_bytes,
        "4·n·Σk·(seeds·kinds + 1)",
        xp,
    )
    # the projections, drawn once: every chunk, layer and head sees the same E = F
    maps = {
        kind: [
            [
                projection(n, kdim, kind=kind, rng=1000 * kdim + s, xp=xp, dtype="float32")
                for kdim in ks
            ]
            for s in range(seeds)
        ]
        for kind in kinds
    }  # maps[kind][seed][K] is (k, n)
    if "gaussian" in maps:  # the same draws at the scale of a mean: entries of variance 1/n
        maps["gaussian_rescaled"] = [
            [e * (kdim / n) ** 0.5 for e, kdim in zip(row, ks, strict=True)]
            for row in maps["gaussian"]
        ]
    maps["mean_pool"] = [[mean_pooling(n, kdim, xp=xp, dtype="float32") for kdim in ks]]
    totals = {}
    for out in _chunks(encoder, ids):
        errors = {name: [] for name in (*maps, "svd")}
        for layer, p in enumerate(out.attentions):
            q, k, v = (x[0] for x in encoder.qkv(layer, out.hidden_states[layer]))  # (heads, n, d)
            exact = softmax_attention(q, k, v)  # (heads, n, d)  A = P V
            for name, draws in maps.items():
                errors[name].append(
                    [
                        [
                            _relative_error(linformer_attention(q, k, v, E=e, F=e), exact)
                            for e in row
                        ]
                        for row in draws
                    ]
                )  # (seeds, K, heads) for this layer
            errors["svd"].append(_best_rank_k_errors(p[0], v, ks))  # (K, heads)
        for name, values in errors.items():
            values = host.asarray(values)  # (layers, seeds, K, heads), or (layers, K, heads)
            totals[name] = totals.get(name, 0.0) + values
    count = ids.shape[0]
    result = {"k": host.asarray(ks)}
    for name in (*[m for m in maps if m != "mean_pool"], "mean_pool"):
        per_seed = host.moveaxis(totals[name] / count, 1, 0)  # (seeds, layers, K, heads)
        result[name] = per_seed.swapaxes(-1, -2)  # (seeds, layers, heads, K)
    result["mean_pool"] = result["mean_pool"][0]  # (layers, heads, K): deterministic
    result["svd"] = (totals["svd"] / count).swapaxes(-1, -2)  # (layers, heads, K)
    return result


def _relative_error(approx, exact):
    """``‖Ã − A‖_F / ‖A‖_F`` over the last two axes, as a NumPy array ``(...)``."""
    xp = array_module(approx=approx, exact=exact)
    difference = xp.linalg.norm(approx - exact, axis=(-2, -1))
    return to_numpy(difference / xp.linalg.norm(exact, axis=(-2, -1)))


def _best_rank_k_errors(p, v, ks):
    """``‖P_k V − P V‖_F / ‖P V‖_F`` per head and ``k``, ``P_k`` the SVD truncation: ``(K, heads)``.

    ``P_k = U_k U_kᵀ P`` with ``U_k`` the top ``k`` left singular vectors
    (eigenvectors of ``P Pᵀ``), so ``P_k V = U_k U_kᵀ (P V)``: one symmetric
    eigendecomposition per head serves every ``k``.
    """
    xp = array_module(p=p, v=v)
    p, v = p.astype("float64"), v.astype("float64")
    exact = p @ v  # (heads, n, d)
    _, u = xp.linalg.eigh(p @ xp.swapaxes(p, -1, -2))  # ascending eigenvalues
    u = u[..., ::-1]  # (heads, n, n)  columns by descending σ
    rows = []
    for k in ks:
        top = u[..., :k]  # (heads, n, k)
        approx = top @ (xp.swapaxes(top, -1, -2) @ exact)  # (heads, n, d)  U_k U_kᵀ P V
        rows.append(_relative_error(approx, exact))
    return host.stack(rows)  # (K, heads)


# ---------------------------------------------------------------------------
# checks


def _check_encoder(encoder):
    """``encoder`` must be like a :class:`refattn.pretrained.Encoder` (config, xp, forward, qkv)."""
    needed = ("config", "xp", "forward", "qkv")
    if encoder is None or not all(hasattr(encoder, a) for a in needed):
        raise TypeError(
            "encoder must be a refattn.pretrained.Encoder (e.g. from "
            f"refattn.pretrained.load_minilm()), got {type(encoder).__name__} {describe(encoder)}"
        )


def _check_ids(encoder, ids):
    """``ids``: integer token ids ``(N, n)``, ``N >= 1``, ``2 <= n <= max_positions``."""
    _check_encoder(encoder)
    check_array("ids", ids, ndim=2, axes="N, n", dtype="int")
    if ids.shape[0] < 1 or ids.shape[1] < 2:
        raise ValueError(f"ids must have shape (N, n) with N >= 1 and n >= 2, got {ids.shape}")
    config = encoder.config
    if ids.shape[1] > config.max_positions:
        raise ValueError(
            f"ids must have at most n = {config.max_positions} positions (the model's), "
            f"got shape {ids.shape}"
        )
    return _check_token_ids(ids, config.vocab_size, module_for(encoder.xp))


def _check_square(name, p):
    """``p``: a finite float array ``(..., n, n)`` with ``n >= 1``; returns its module."""
    xp = check_array(name, p, min_ndim=2, axes="..., n, n")
    if p.shape[-1] != p.shape[-2] or p.shape[-1] < 1:
        raise ValueError(f"{name} must have shape (..., n, n) with n >= 1, got shape {p.shape}")
    return xp


def _check_quantiles(quantiles):
    if not isinstance(quantiles, (tuple, list)) or len(quantiles) != 2:
        raise TypeError(
            f"quantiles must be a pair (low, high) with 0 <= low <= high <= 1, "
            f"got {describe(quantiles)}"
        )
    lo, hi = (
        check_real(f"quantiles[{i}]", x, minimum=0, maximum=1) for i, x in enumerate(quantiles)
    )
    if lo > hi:
        raise ValueError(
            f"quantiles must be a pair (low, high) with 0 <= low <= high <= 1, got {quantiles!r}"
        )
    return lo, hi


def _check_reals(name, values, *, minimum):
    """A non-empty tuple or list of finite reals ``>= minimum``; returns a tuple of floats."""
    if not isinstance(values, (tuple, list)) or not values:
        raise TypeError(
            f"{name} must be a non-empty tuple of finite real numbers >= {minimum}, "
            f"got {describe(values)}"
        )
    return tuple(check_real(f"{name}[{i}]", x, minimum=minimum) for i, x in enumerate(values))


def _check_size(what, n, d, count):
    """Refuse before drawing when ``count`` random ``n × n`` attention matrices cannot fit."""
    # per matrix: two (n, d) draws and about five (n, n) float64 arrays (logits, P, P Pᵀ, eigh)
    check_working_set(
        f"{what}(n={n}, d={d})",
        8 * (2 * n * d + 5 * n * n) + 8 * count * n,
        "8·(2·n·d + 5·n²)",
        host,
    )


def _check_logits(what, logits, entry):
    """Random logits of a huge scale overflow: raise ``FloatingPointError`` naming the entry."""
    check_output(
        what,
        logits,
        host,
        reason=f"the logits at {entry} overflowed the float range; use a smaller value",
    )


def _check_spectra(spectra):
    """``spectra``: what :func:`attention_spectra` returns; its ``c`` and ``random`` arrays."""
    if not isinstance(spectra, dict) or "c" not in spectra or "random" not in spectra:
        raise TypeError(
            "spectra must be the dict attention_spectra returns, with 'c' (N, layers, heads, n) "
            f"and 'random' (layers, heads, n), got {describe(spectra)}"
        )
    c, random = spectra["c"], spectra["random"]
    check_array("spectra['c']", c, ndim=4, axes="N, layers, heads, n", finite=False)
    check_array("spectra['random']", random, ndim=3, axes="layers, heads, n", finite=False)
    if random.shape != c.shape[1:] or c.shape[-1] < 1:
        raise ValueError(
            f"spectra['random'] must have shape (layers, heads, n) = {c.shape[1:]} to match "
            f"spectra['c'] {c.shape}, got {random.shape}"
        )
    check_all_finite({"spectra['c']": c, "spectra['random']": random}, array_module(c=c))
    return c, random
