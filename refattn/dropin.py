"""Every mechanism dropped into a pretrained encoder, without fine-tuning: what it costs.

Longformer (Beltagy, Peters & Cohan 2020, arXiv:2004.05150) argues that a
pretrained checkpoint takes a new attention pattern as a drop-in; Linformer
(Wang et al. 2020, arXiv:2006.04768) and the Performer (Choromanski et al. 2021,
arXiv:2009.14794) approximate softmax attention and so, in principle, can be
swapped in too.  The reading-group post "Long-range Transformers" (Hugging
Face, February 2021) leaves two questions about FAVOR+ open: do its small
errors grow through the layers, and which of its components matters most?
This module measures all three on all-MiniLM-L6-v2 (:mod:`refattn.pretrained`)
over real text, with no training of any kind:

* (7.9) :func:`dropin_sweep`: every registered mechanism in every layer, over a
  sweep of its size parameter; the cosine of the sentence embeddings to the
  exact model's, against the working set of :mod:`refattn.complexity`;
* (7.10) the exact drop-ins, chunked attention and a window covering the
  sequence, give the exact model's embeddings to float32 rounding;
* (7.11) :func:`error_propagation`: the hidden states' relative error when
  FAVOR+ replaces the attention of every layer, against one layer at a time;
* (7.12) :func:`favor_components`: the attention-output error of FAVOR on the
  model's own queries, keys and values, for positive vs trigonometric
  features × iid vs orthogonal × χ vs √d norms.

Numbers as in ``derivations/07-pretrained.md``.  The model runs on either
backend; the results are host-side NumPy arrays (:func:`refattn.backend.to_numpy`).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence

from ._validation import check_all_finite, check_array, check_int, check_int_sequence, describe
from .backend import module_for, to_numpy
from .mechanisms import REGISTRY, mechanism
from .performer import favor_attention, random_features
from .pretrained import Encoder, _check_encoder
from .softmax import softmax_attention

#: Results are gathered on the host (NumPy), whatever backend the encoder runs on.
host = module_for("numpy")

__all__ = [
    "COMPONENTS",
    "EFFECTS",
    "default_sweeps",
    "dropin_sweep",
    "error_propagation",
    "favor_components",
    "relative_error",
]

#: The FAVOR variants of :func:`favor_components`: (kind, orthogonal, norms).
COMPONENTS = tuple(itertools.product(("positive", "trig"), (False, True), ("chi", "sqrt_d")))
#: The error ratios :func:`favor_components` reports, one per component.
EFFECTS = ("trig / positive", "iid / orthogonal", "√d norms / χ norms")


def default_sweeps(n: int = 512) -> dict[str, tuple[str | None, tuple[dict, ...]]]:
    """The sweep of :func:`dropin_sweep` for sequences of ``n`` tokens.

    ``name → (size option, configurations)``; each configuration is the
    options of ``refattn.mechanism(name, **options)``, and the size option
    names the one that is plotted.

    * ``sliding_window``: ``window`` 8 … 256, the [CLS] token (position 0) global;
    * ``linformer``: ``k`` 16 … 256, Gaussian projections of ``max_length = n``;
    * ``favor``: ``features`` 16 … 512, positive orthogonal features with χ
      norms; the other feature kinds at 256;
    * ``chunked``: one chunk size (it is exact: the cosine must be 1);
    * ``xl`` and ``compressive``: segments of ``n/8`` and ``n/4`` tokens with a
      memory as long as the segment; the compressive memory adds ``n/32``
      blocks, each pooling 4 older positions;
    * ``bigbird``: blocks of ``n/32`` and ``n/16`` tokens (2 global blocks, 3 random);
    * ``reformer``: separate keys (the model's own), chunks of ``n/16`` and
      ``n/4`` tokens with ``n / chunk`` buckets, one hash round;
    * ``sparse_transformer``: the strided pattern, strides 16 and 32;
    * ``funnel``: queries pooled with strides 2 and 4 ([CLS] apart) in every layer, so
      the sequence shrinks layer by layer and the embedding is the mean of what is left;
    * ``softmax``: the exact model itself (cosine 1 by definition).

    A mechanism registered later and missing here runs once with its defaults.
    """
    n = check_int("n", n, minimum=8)

    def sweep(option, values, **fixed):
        return option, tuple({**fixed, option: value} for value in values)

    favor = {"orthogonal": True, "norms": "chi", "rng": 0}
    segments = (n // 8, n // 4)
    return {
        "softmax": (None, ({},)),
        "chunked": sweep("chunk_size", (n // 4,)),
        "sliding_window": sweep("window", (8, 16, 32, 64, 128, 256), global_tokens=(0,)),
        "favor": sweep("features", (16, 32, 64, 128, 256, 512), **favor),
        "favor_hyperbolic": sweep("features", (256,), **favor),
        "favor_trig": sweep("features", (256,), **favor),
        "favor_relu": sweep("features", (256,), **favor),
        "linformer": sweep("k", (16, 32, 64, 128, 256), max_length=n, kind="gaussian", rng=0),
        "xl": ("segment", tuple({"segment": s, "memory": s} for s in segments)),
        "compressive": (
            "segment",
            tuple({"segment": s, "memory": s, "compressed": n // 32, "rate": 4} for s in segments),
        ),
        "bigbird": sweep("block", (n // 32, n // 16), max_length=n, rng=0),
        "reformer": (
            "chunk",
            tuple(
                {"chunk": c, "buckets": max(2, n // c), "shared_qk": False, "rng": 0}
                for c in (n // 16, n // 4)
            ),
        ),
        "sparse_transformer": sweep("stride", (16, 32), kind="strided"),
        "funnel": sweep("stride", (2, 4)),
    }


def relative_error(approx, exact) -> float:
    """``‖approx − exact‖ / ‖exact‖`` over all entries (Frobenius), as a host float.

    Both norms are taken of arrays rescaled by powers of two (exact scalings): the
    difference ``approx − exact`` is formed after dividing both by ``2^k ≥`` their
    largest magnitude, so it cannot overflow; each norm is then taken of its array
    divided by its own largest magnitude, so no square overflows or underflows.  The
    result is right for entries anywhere in the float64 range (``2e200`` against
    ``1e200`` or ``2e-200`` against ``1e-200``: 1.0), and ``FloatingPointError`` is
    raised only when the ratio itself exceeds the largest float64.
    """
    check_array("approx", approx, dtype="real", finite=False)
    check_array("exact", exact, dtype="real", finite=False)
    if approx.shape != exact.shape:
        raise ValueError(f"approx must have the shape of exact {exact.shape}, got {approx.shape}")
    a, e = to_numpy(approx).astype(host.float64), to_numpy(exact).astype(host.float64)
    check_all_finite({"approx": a, "exact": e}, host)
    top_e = float(host.abs(e).max()) if e.size else 0.0
    if not top_e > 0:
        raise ValueError("exact must not be all zeros: the relative error to zero is undefined")
    # 2^k > every |entry| of both: the scaled difference lies in (−2, 2)
    k = math.frexp(max(top_e, float(host.abs(a).max())))[1]
    diff = host.ldexp(a, -k) - host.ldexp(e, -k)
    top_d = float(host.abs(diff).max())
    if top_d == 0:
        return 0.0
    k_d, k_e = math.frexp(top_d)[1], math.frexp(top_e)[1]
    # ‖a − e‖ = 2^(k + k_d)·‖diff/2^k_d‖ and ‖e‖ = 2^k_e·‖e/2^k_e‖, each norm of entries < 1
    ratio = float(host.linalg.norm(host.ldexp(diff, -k_d)) / host.linalg.norm(host.ldexp(e, -k_e)))
    try:
        return math.ldexp(ratio, k + k_d - k_e)
    except OverflowError:
        raise FloatingPointError(
            f"relative_error produced inf from finite input: ‖approx − exact‖ / ‖exact‖ ≈ "
            f"{ratio}·2^{k + k_d - k_e} exceeds the largest float64 (exact is tiny, "
            f"max |exact| = {top_e:.3g}, against a difference of about {top_d:.3g}·2^{k})"
        ) from None


def _check_encoder_ids(encoder, ids):
    """``encoder`` an :class:`Encoder`; ``ids`` its token ids ``(N, n)`` (checked by it)."""
    _check_encoder(encoder)
    return encoder._check_ids(ids)


def _check_features_seeds(features, seeds):
    """``features``: integers >= 1; ``seeds``: integers >= 0; both non-empty; as tuples."""
    features = check_int_sequence("features", features, minimum=1)
    seeds = check_int_sequence("seeds", seeds, minimum=0)
    if not features or not seeds:
        raise ValueError(f"features and seeds must not be empty, got {features!r}, {seeds!r}")
    return features, seeds


def _check_sweeps(sweeps):
    """``sweeps``: name → (size option or None, configurations), as :func:`default_sweeps`."""
    if not isinstance(sweeps, Mapping):
        raise TypeError(
            f"sweeps must be a mapping name → (option, configurations), got {describe(sweeps)}"
        )
    for name, entry in sweeps.items():
        if name not in REGISTRY:
            raise ValueError(
                f"sweeps must name registered mechanisms ({', '.join(REGISTRY)}), got {name!r}"
            )
        if not (isinstance(entry, tuple) and len(entry) == 2):
            raise TypeError(
                f"sweeps[{name!r}] must be a pair (size option or None, configurations), "
                f"got {describe(entry)}"
            )
        option, configurations = entry
        if option is not None and not isinstance(option, str):
            raise TypeError(f"sweeps[{name!r}]'s option must be a str or None, got {option!r}")
        if not isinstance(configurations, (tuple, list)) or not all(
            isinstance(c, dict) for c in configurations
        ):
            raise TypeError(
                f"sweeps[{name!r}]'s configurations must be a tuple of option dicts, "
                f"got {describe(configurations)}"
            )
        for options in configurations:
            if option is not None and option not in options:
                raise ValueError(
                    f"sweeps[{name!r}]: every configuration must set its size option "
                    f"{option!r}, got {options!r}"
                )
            mechanism(name, **options)  # a bad option raises now, before the model runs
    return sweeps


def _embeddings(encoder: Encoder, ids, attention=None):
    out = encoder.forward(ids, attention=attention)
    return to_numpy(Encoder.pool(out.last, out.attention_mask)).astype(host.float64)


def dropin_sweep(
    encoder: Encoder, ids, *, sweeps: Mapping[str, tuple] | None = None
) -> dict[str, host.ndarray]:
    """Sentence-embedding cosine to the exact model for every registered mechanism (7.9).

    Each configuration replaces the attention of *every* layer; nothing is
    retrained.  Iterates :data:`refattn.mechanisms.REGISTRY`, so every
    registered mechanism appears: with its entry of ``sweeps``, or else once
    with its defaults.  ``xl`` and ``compressive`` are called with
    ``causal=False``, as the encoder calls everything: each segment attends to
    itself both ways and to its memory of the *past*, never to later segments.

    Parameters
    ----------
    encoder : Encoder
    ids : int array (N, n)
        Unpadded token ids (e.g. :func:`refattn.pretrained.text_chunks`).
    sweeps : mapping, optional
        ``name → (size option or None, configurations)``, default
        :func:`default_sweeps` ``(n)``; a name given no configurations is
        left out.

    Returns
    -------
    dict of numpy arrays, one row per configuration (C rows)
        ``mechanism`` (C,) str: registry name; ``option`` (C,) str: the size
        option swept ("" if none); ``size`` (C,) int: its value (−1 if none);
        ``cosine`` (C, N): cosine of each chunk's embedding to the exact
        model's; ``memory_bytes`` (C,): complexity.py's working set of one
        layer's attention at this ``n``, all heads, in bytes of the model's
        dtype; ``memory_relative`` (C,): the same over exact attention's;
        ``unrelated_cosine`` (): for scale, the exact model's mean cosine
        between the embeddings of *different* chunks (NaN for one chunk).
    """
    ids = _check_encoder_ids(encoder, ids)
    n = ids.shape[-1]
    sweeps = default_sweeps(n) if sweeps is None else _check_sweeps(sweeps)
    config = encoder.config
    exact = _embeddings(encoder, ids)
    itemsize = host.dtype(str(encoder._embed(ids[:1, :1]).dtype)).itemsize
    exact_memory = mechanism("softmax").memory(n, config.head_dim)
    rows = {k: [] for k in ("mechanism", "option", "size", "cosine", "memory_bytes")}
    for name in REGISTRY:
        option, configurations = sweeps.get(name, (None, ({},)))
        for options in configurations:
            attend = mechanism(name, **options)
            if name == "softmax":
                cos = host.ones(ids.shape[0])
            else:
                cos = host.sum(_embeddings(encoder, ids, attend) * exact, axis=-1)  # (N,)
            rows["mechanism"].append(name)
            rows["option"].append(option or "")
            rows["size"].append(int(options[option]) if option else -1)
            rows["cosine"].append(cos)
            rows["memory_bytes"].append(attend.memory(n, config.head_dim) * config.heads * itemsize)
    result = {k: host.array(v) for k, v in rows.items()}
    result["memory_relative"] = result["memory_bytes"] / (exact_memory * config.heads * itemsize)
    # what unrelated text looks like: the exact model's cosine between different chunks
    pairs = exact @ exact.T  # (N, N)
    others = ~host.eye(len(exact), dtype=bool)
    result["unrelated_cosine"] = host.array(pairs[others].mean() if others.any() else host.nan)
    return result


def error_propagation(
    encoder: Encoder,
    ids,
    *,
    features: Sequence[int] = (32, 128, 512),
    seeds: Sequence[int] = (0, 1, 2),
) -> dict[str, host.ndarray]:
    """Do FAVOR+'s errors grow through the layers? (7.11)

    For each number of features ``m`` and seed, FAVOR+ (positive orthogonal
    features, χ norms) replaces the attention of all ``L`` layers, each layer
    with its own draw ``ω`` (seed ``1000·seed + layer``); then each layer
    alone, with the same draw, the others exact.  Measured: the relative error
    ``‖h_l − h_l^exact‖ / ‖h_l^exact‖`` of the hidden states over all chunks
    and tokens.

    Parameters
    ----------
    encoder : Encoder
    ids : int array (N, n)
    features : sequence of int
        The ``m`` values (F of them).
    seeds : sequence of int
        Independent draws (S of them), for the spread.

    Returns
    -------
    dict of numpy arrays
        ``features`` (F,), ``seeds`` (S,); ``all_layers`` (F, S, L): error of
        layer ``l``'s output with FAVOR in every layer; ``one_layer`` (F, S, L):
        error of layer ``l``'s output with FAVOR in layer ``l`` only (the error
        a layer adds by itself); ``one_layer_last`` (F, S, L): error of the last
        layer's output with FAVOR in layer ``l`` only (how that error has
        grown or shrunk by the top).
    """
    ids = _check_encoder_ids(encoder, ids)
    features, seeds = _check_features_seeds(features, seeds)
    layers = encoder.config.layers
    exact = encoder.forward(ids).hidden_states[1:]  # L arrays (N, n, hidden)
    shape = (len(features), len(seeds), layers)
    everywhere, own, last = host.empty(shape), host.empty(shape), host.empty(shape)
    for (i, m), (j, seed) in itertools.product(enumerate(features), enumerate(seeds)):
        favor = [mechanism("favor", features=m, rng=1000 * seed + at) for at in range(layers)]
        hidden = encoder.forward(ids, attention=favor).hidden_states[1:]
        everywhere[i, j] = [relative_error(h, e) for h, e in zip(hidden, exact, strict=True)]
        for layer in range(layers):
            single = [None] * layers
            single[layer] = favor[layer]
            hidden = encoder.forward(ids, attention=single).hidden_states[1:]
            own[i, j, layer] = relative_error(hidden[layer], exact[layer])
            last[i, j, layer] = relative_error(hidden[-1], exact[-1])
    return {
        "features": host.array(features),
        "seeds": host.array(seeds),
        "all_layers": everywhere,
        "one_layer": own,
        "one_layer_last": last,
    }


def favor_components(
    encoder: Encoder,
    ids,
    *,
    features: Sequence[int] = (64, 256),
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
    layers: Sequence[int] | None = None,
) -> dict[str, host.ndarray]:
    """Which FAVOR+ component matters most, on the model's own q, k, v? (7.12)

    The exact model is run once; each layer's real queries, keys and values
    come from :meth:`Encoder.qkv`.  Every variant of :data:`COMPONENTS`,
    positive vs trigonometric features × iid vs orthogonal ``ω`` × χ vs √d
    row norms, draws ``ω`` with :func:`refattn.performer.random_features`
    (``m`` rows for every variant: trig features are then ``2m`` wide, as in
    the paper's comparison at equal ``m``) and approximates attention with
    :func:`refattn.performer.favor_attention`.  Measured: each head's relative
    output error ``‖FAVOR − softmax‖ / ‖softmax‖`` over all chunks and tokens.

    Parameters
    ----------
    encoder : Encoder
    ids : int array (N, n)
    features : sequence of int
        The ``m`` values (F of them).
    seeds : sequence of int
        Draws of ``ω`` (S of them); a seed draws the same ``ω`` for every layer.
    layers : sequence of int, optional
        The layers to measure (default all, L of them).

    Returns
    -------
    dict of numpy arrays
        ``kind`` (V,) str, ``orthogonal`` (V,) bool, ``norms`` (V,) str: the
        V = 8 variants; ``features`` (F,); ``seeds`` (S,); ``layers`` (L,);
        ``error`` (V, F, S, L, H): per-head relative error;
        ``effect_names`` (3,): :data:`EFFECTS`; ``effect`` (3, F, S): for
        each component, the error with its first setting over the error with
        its second (trig/positive, iid/orthogonal, √d/χ), the other two
        components, the layer and the head held fixed: the median of those
        ratios (geometric: the median of the log ratio), per seed;
        ``uniform_error`` (L, H): for scale, the same error of uniform
        attention (every query outputs the mean of the values).
    """
    ids = _check_encoder_ids(encoder, ids)
    features, seeds = _check_features_seeds(features, seeds)
    count = encoder.config.layers
    if layers is None:
        layers = list(range(count))
    else:
        layers = list(check_int_sequence("layers", layers, minimum=0))
        for i, layer in enumerate(layers):
            check_int(f"layers[{i}]", layer, minimum=0, maximum=count - 1)
    hidden = encoder.forward(ids).hidden_states
    config = encoder.config
    error = host.empty((len(COMPONENTS), len(features), len(seeds), len(layers), config.heads))
    uniform = host.empty((len(layers), config.heads))
    for c, layer in enumerate(layers):
        q, k, v = encoder.qkv(layer, hidden[layer])  # (N, heads, n, head_dim)
        exact = to_numpy(softmax_attention(q, k, v)).astype(host.float64)
        scale = host.sqrt(host.sum(exact**2, axis=(0, 2, 3)))  # (heads,)
        mean = to_numpy(v).astype(host.float64).mean(axis=-2, keepdims=True)  # (N, heads, 1, d)
        uniform[c] = host.sqrt(host.sum((mean - exact) ** 2, axis=(0, 2, 3))) / scale
        for (a, (kind, orthogonal, norms)), (b, m), (s, seed) in itertools.product(
            enumerate(COMPONENTS), enumerate(features), enumerate(seeds)
        ):
            omega = random_features(
                m, config.head_dim, orthogonal=orthogonal, norms=norms, rng=seed,
                xp=encoder.xp, dtype=str(q.dtype),
            )  # fmt: skip
            approx = to_numpy(favor_attention(q, k, v, omega=omega, kind=kind))
            diff = host.sqrt(host.sum((approx - exact) ** 2, axis=(0, 2, 3)))  # (heads,)
            error[a, b, s, c] = diff / scale
    kinds, orthogonals, norms = zip(*COMPONENTS, strict=True)
    kinds, orthogonals, norms = host.array(kinds), host.array(orthogonals), host.array(norms)
    # (7.12) the effect of a component: the error ratio of its two settings, the other two
    # components, the layer and the head held fixed; the median ratio over those, per seed
    cube = host.log(error).reshape(
        2, 2, 2, *error.shape[1:]
    )  # (kind, orthogonal, norms, F, S, L, H)
    ratios = (
        cube[1] - cube[0],  # trig / positive: (orthogonal, norms, F, S, L, H)
        cube[:, 0] - cube[:, 1],  # iid / orthogonal: (kind, norms, ...)
        cube[:, :, 1] - cube[:, :, 0],  # √d / χ: (kind, orthogonal, ...)
    )
    effect = host.stack([host.exp(host.median(r, axis=(0, 1, 4, 5))) for r in ratios])  # (3, F, S)
    return {
        "kind": kinds,
        "orthogonal": orthogonals,
        "norms": norms,
        "features": host.array(features),
        "seeds": host.array(seeds),
        "layers": host.array(layers),
        "error": error,
        "uniform_error": uniform,
        "effect_names": host.array(EFFECTS),
        "effect": effect,
    }
