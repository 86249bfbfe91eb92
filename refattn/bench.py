"""Measuring refattn: median wall time, peak memory, and the exact-attention report.

Host-side helpers shared by ``refattn bench`` and the figures.  Speed and memory
goals are reported here and in figures, never asserted in timed tests.

What is timed is the attention itself, not its input checks: each
measurement checks its inputs once, before the clock starts (one finiteness
pass), and then calls the mechanisms with
``check_finite=False``, which skips their own pass over the inputs and its
host sync (:mod:`refattn.mechanisms`).  The peak memory of the same calls is
measured alike.  Every other check, and the guards against overflow, still
run inside the timed region.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable

import numpy as np

from . import complexity
from ._validation import (
    check_all_finite,
    check_choice,
    check_dtype,
    check_int,
    check_int_sequence,
    describe,
)
from .backend import BACKENDS, module_for, module_name, peak_memory, rng, synchronize
from .softmax import chunked_attention, softmax_attention

__all__ = [
    "choice_table",
    "configurations",
    "configured",
    "crossover",
    "exact_report",
    "linformer_report",
    "longformer_report",
    "machine",
    "matmul_rate",
    "median_seconds",
    "peak_bytes",
    "pretrained_report",
    "random_inputs",
    "scaling_grid",
    "slopes",
    "summary",
]


#: The longest sequence a measurement accepts, and the longest one that also runs dense
#: attention (whose n × n float32 scores are 16 GiB there): longer is rejected up front.
MAX_LENGTH = 2**24
MAX_DENSE_LENGTH = 2**16


def _check_xp(xp):
    """``xp``: the numpy or cupy module, or its name; returns the module."""
    if isinstance(xp, str) or xp is None:
        return module_for(xp)
    if getattr(xp, "__name__", None) not in BACKENDS:
        raise TypeError(f"xp must be the numpy or cupy module or its name, got {describe(xp)}")
    return xp


def _check_sizes(maximum=MAX_LENGTH, **sizes) -> dict:
    """Each named size an integer in ``[1, maximum]``."""
    return {name: check_int(name, v, minimum=1, maximum=maximum) for name, v in sizes.items()}


def _check_repeats(repeats, warmup=0):
    return (
        check_int("repeats", repeats, minimum=1, maximum=10**6),
        check_int("warmup", warmup, minimum=0, maximum=10**6),
    )


def _check_rows(rows):
    """Rows of :func:`scaling_grid`: a list of dicts with ``mechanism`` and ``n``."""
    if not isinstance(rows, (list, tuple)) or not all(
        isinstance(r, dict) and "mechanism" in r and "n" in r for r in rows
    ):
        raise TypeError(
            f"rows must be a list of dicts with 'mechanism' and 'n' (scaling_grid's results), "
            f"got {describe(rows)}"
        )
    return rows


def _check_name(name, value):
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a configuration label (str), got {describe(value)}")
    return value


def _check_label(name, value, rows):
    """A configuration label: one of the registry's or one that ``rows`` measured.

    A misspelt label would otherwise match no row and give None silently.
    """
    value = _check_name(name, value)
    known = dict.fromkeys(configurations())
    known.update(dict.fromkeys(r["mechanism"] for r in rows if isinstance(r["mechanism"], str)))
    return check_choice(name, value, known)


def machine() -> str:
    """A one-line description of this machine, for figures and reports that measure time."""
    import os

    return f"{platform.machine()}, {os.cpu_count()} CPU threads, Python {platform.python_version()}"


def median_seconds(fns: dict[str, Callable[[], object]], xp, *, repeats=5, warmup=1) -> dict:
    """Median wall time of each ``fns[name]()``, measured round-robin.

    Each round runs every function once, so a change in the machine's load
    during the measurement affects all of them alike and their *ratios* stay
    meaningful.  ``warmup`` untimed rounds come first.  The device is
    synchronised before each clock read, so GPU times include the queued work
    and not only its launch.
    """
    if not isinstance(fns, dict) or not fns or not all(callable(f) for f in fns.values()):
        raise TypeError(
            f"fns must be a non-empty dict of name → callable taking no arguments, "
            f"got {describe(fns)}"
        )
    xp = _check_xp(xp)
    repeats, warmup = _check_repeats(repeats, warmup)
    times: dict[str, list[float]] = {name: [] for name in fns}
    for round_ in range(warmup + repeats):
        for name, fn in fns.items():
            synchronize(xp)
            start = time.perf_counter()
            fn()
            synchronize(xp)
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def _checked(xp, *arrays):
    """``arrays``, checked finite once (one pass, one host sync) so that the timed calls
    can pass ``check_finite=False``."""
    check_all_finite({f"inputs[{i}]": a for i, a in enumerate(arrays)}, xp)
    return arrays


def random_inputs(xp, n, d=64, *, dtype="float32", seed=0):
    """Gaussian ``q, k, v`` of shape ``(n, d)`` on backend ``xp``; ``dtype`` float32 or float64.

    ``dtype`` may be a name or a NumPy type (``np.float32``); ``n·d`` is at most ``MAX_LENGTH·64``.
    """
    xp = _check_xp(xp)
    n, d = check_int("n", n, minimum=1), check_int("d", d, minimum=1)
    if n * d > MAX_LENGTH * 64:
        raise ValueError(f"n · d must be <= {MAX_LENGTH * 64}, got n = {n} and d = {d}")
    dtype = check_dtype("dtype", dtype)
    g = rng(seed, xp)
    return tuple(g.standard_normal((n, d), dtype=dtype) for _ in range(3))


def peak_bytes(xp, attention, n, d=64, **options) -> int:
    """Peak bytes of one ``attention(q, k, v, **options)`` on random float32 inputs of length n."""
    if not callable(attention):
        raise TypeError(
            f"attention must be a callable of the convention, got {describe(attention)}"
        )
    q, k, v = random_inputs(xp, n, d, seed=n)
    return peak_memory(lambda: attention(q, k, v, **options), xp)[1]


def exact_report(xp, *, n=4096, d=64, chunk=256, memory_n=16384, repeats=5) -> dict:
    """The performance figures of exact attention, as ratios.

    * ``softmax_over_matmuls``: time of :func:`~refattn.softmax_attention`
      over the time of its two matrix products alone (``S = Q Kᵀ``, ``S V``)
      on the same float32 inputs of length ``n``;
    * ``chunked_over_softmax``: time of :func:`~refattn.chunked_attention`
      over that of :func:`~refattn.softmax_attention`;
    * ``chunked_peak_over_model``: peak memory of chunked attention at
      ``memory_n`` over its working set in :mod:`refattn.complexity`, and
      ``chunked_peak_over_dense_scores``: the same peak over the ``n²``
      float32 scores dense attention would hold.
    """
    xp = _check_xp(xp)
    n, d, chunk = _check_sizes(MAX_DENSE_LENGTH, n=n, d=d, chunk=chunk).values()
    memory_n = check_int("memory_n", memory_n, minimum=1, maximum=MAX_LENGTH)
    repeats, _ = _check_repeats(repeats)
    q, k, v = _checked(xp, *random_inputs(xp, n, d))
    k_t = xp.swapaxes(k, -1, -2)
    unchecked = {"check_finite": False}  # checked once above
    seconds = median_seconds(
        {
            "matmuls": lambda: (q @ k_t) @ v,
            "softmax": lambda: softmax_attention(q, k, v, **unchecked),
            "chunked": lambda: chunked_attention(q, k, v, chunk_size=chunk, **unchecked),
        },
        xp,
        repeats=repeats,
    )
    t_matmuls, t_softmax, t_chunked = seconds["matmuls"], seconds["softmax"], seconds["chunked"]
    q, k, v = _checked(xp, *random_inputs(xp, memory_n, d))
    _, peak = peak_memory(lambda: chunked_attention(q, k, v, chunk_size=chunk, **unchecked), xp)
    model = 4 * complexity.chunked_attention_memory(memory_n, d=d, chunk=chunk)
    return {
        "backend": module_name(xp),
        "machine": machine(),
        "n": n,
        "d": d,
        "chunk": chunk,
        "seconds_matmuls": t_matmuls,
        "seconds_softmax": t_softmax,
        "seconds_chunked": t_chunked,
        "softmax_over_matmuls": t_softmax / t_matmuls,
        "chunked_over_softmax": t_chunked / t_softmax,
        "memory_n": memory_n,
        "chunked_peak_bytes": peak,
        "chunked_peak_over_model": peak / model,
        "chunked_peak_over_bound": peak / (4 * 2 * (memory_n * chunk + 4 * memory_n * d)),
        "chunked_peak_over_dense_scores": peak / (4 * memory_n * memory_n),
    }


def longformer_report(xp, *, n=16384, d=64, window=64, memory_n=65536, repeats=3) -> dict:
    """The performance figures of sliding-window attention, as ratios.

    * ``speedup_over_softmax`` and ``memory_ratio_to_softmax``: time and peak
      memory of :func:`~refattn.softmax_attention` over those of
      :func:`~refattn.longformer.sliding_window_attention` at length ``n``;
    * ``peak_bytes_at_memory_n``: peak memory of the sliding window at ``memory_n``;
    * ``flop_rate_fraction``: the flops the sliding window performs
      (:func:`refattn.complexity.sliding_window_flops`) per second, over the
      rate of two plain matrix products with the same total flops as its
      blocked products (``(n, d) @ (d, K)`` then ``(n, K) @ (K, d)``, ``K``
      keys per block), timed in the same run.
    """
    xp = _check_xp(xp)
    n, d = _check_sizes(MAX_DENSE_LENGTH, n=n, d=d).values()
    window = check_int("window", window, minimum=0, maximum=MAX_LENGTH)
    memory_n = check_int("memory_n", memory_n, minimum=1, maximum=MAX_LENGTH)
    repeats, _ = _check_repeats(repeats)
    from .longformer import sliding_window_attention

    q, k, v = _checked(xp, *random_inputs(xp, n, d))
    geo = complexity.band_geometry(n, window)
    k_t, v_part = xp.swapaxes(k[: geo.keys_per_block], -1, -2), v[: geo.keys_per_block]
    unchecked = {"check_finite": False}  # checked once above

    def window_of(q, k, v):
        return sliding_window_attention(q, k, v, window=window, **unchecked)

    seconds = median_seconds(
        {
            "softmax": lambda: softmax_attention(q, k, v, **unchecked),
            "sliding_window": lambda: window_of(q, k, v),
            "matmuls": lambda: (q @ k_t) @ v_part,
        },
        xp,
        repeats=repeats,
    )
    _, peak_softmax = peak_memory(lambda: softmax_attention(q, k, v, **unchecked), xp)
    _, peak_window = peak_memory(lambda: window_of(q, k, v), xp)
    matmul_flops = 2 * n * geo.keys_per_block * 2 * d
    flops = complexity.sliding_window_flops(n, d, window=window)
    big = _checked(xp, *random_inputs(xp, memory_n, d))
    _, peak_large = peak_memory(lambda: window_of(*big), xp)
    return {
        "backend": module_name(xp),
        "machine": machine(),
        "n": n,
        "d": d,
        "window": window,
        "seconds_softmax": seconds["softmax"],
        "seconds_sliding_window": seconds["sliding_window"],
        "speedup_over_softmax": seconds["softmax"] / seconds["sliding_window"],
        "peak_bytes_softmax": peak_softmax,
        "peak_bytes_sliding_window": peak_window,
        "memory_ratio_to_softmax": peak_softmax / peak_window,
        "memory_n": memory_n,
        "peak_bytes_at_memory_n": peak_large,
        "flops_per_second": flops / seconds["sliding_window"],
        "matmul_flops_per_second": matmul_flops / seconds["matmuls"],
        "flop_rate_fraction": (flops / seconds["sliding_window"])
        / (matmul_flops / seconds["matmuls"]),
    }


def performer_report(xp, *, n=16384, d=64, features=256, memory_n=65536, repeats=3) -> dict:
    """The performance figures of FAVOR attention, as ratios.

    * ``speedup_over_softmax``: time of :func:`~refattn.softmax_attention`
      over that of bidirectional :func:`~refattn.favor_attention` with
      ``features`` positive orthogonal features, at length ``n``;
    * ``peak_over_model`` and ``causal_peak_over_model``: peak memory over
      :func:`refattn.complexity.favor_memory`, bidirectional and causal;
    * ``peak_bytes_at_memory_n``: peak memory of causal FAVOR at ``memory_n``.
    """
    xp = _check_xp(xp)
    n, d = _check_sizes(MAX_DENSE_LENGTH, n=n, d=d).values()
    features = check_int("features", features, minimum=1, maximum=2**20)
    memory_n = check_int("memory_n", memory_n, minimum=1, maximum=MAX_LENGTH)
    repeats, _ = _check_repeats(repeats)
    from .performer import favor_attention, random_features

    omega = random_features(features, d, rng=0, xp=xp, dtype="float32")
    q, k, v, omega = _checked(xp, *random_inputs(xp, n, d), omega)
    unchecked = {"check_finite": False}  # checked once above

    def favor(q, k, v, causal=False):
        return favor_attention(q, k, v, omega=omega, causal=causal, **unchecked)

    seconds = median_seconds(
        {
            "softmax": lambda: softmax_attention(q, k, v, **unchecked),
            "favor": lambda: favor(q, k, v),
            "favor_causal": lambda: favor(q, k, v, causal=True),
        },
        xp,
        repeats=repeats,
    )
    _, peak = peak_memory(lambda: favor(q, k, v), xp)
    _, causal_peak = peak_memory(lambda: favor(q, k, v, causal=True), xp)
    model = 4 * complexity.favor_memory(n, d, m=features)
    causal_model = 4 * complexity.favor_memory(n, d, m=features, causal=True)
    big = _checked(xp, *random_inputs(xp, memory_n, d))
    _, peak_large = peak_memory(lambda: favor(*big, causal=True), xp)
    return {
        "backend": module_name(xp),
        "machine": machine(),
        "n": n,
        "d": d,
        "features": features,
        "seconds_softmax": seconds["softmax"],
        "seconds_favor": seconds["favor"],
        "seconds_favor_causal": seconds["favor_causal"],
        "speedup_over_softmax": seconds["softmax"] / seconds["favor"],
        "causal_speedup_over_softmax": seconds["softmax"] / seconds["favor_causal"],
        "peak_bytes": peak,
        "peak_over_model": peak / model,
        "causal_peak_bytes": causal_peak,
        "causal_peak_over_model": causal_peak / causal_model,
        "memory_n": memory_n,
        "peak_bytes_at_memory_n": peak_large,
    }


def linformer_report(xp, *, n=16384, d=64, k=256, memory_n=65536, repeats=3) -> dict:
    """The performance figures of Linformer attention, as ratios.

    * ``speedup_over_softmax``: time of :func:`~refattn.softmax_attention`
      over that of :func:`~refattn.linformer_attention` with ``k``-row
      Gaussian projections, at length ``n``;
    * ``peak_over_model``: peak memory over :func:`refattn.complexity.linformer_memory`;
    * ``flop_rate_fraction``: its flops per second
      (:func:`refattn.complexity.linformer_flops`) over those of one plain
      matmul of a similar size, the key projection ``(k, n) @ (n, d)``,
      timed in the same run.
    """
    xp = _check_xp(xp)
    n, d = _check_sizes(MAX_DENSE_LENGTH, n=n, d=d).values()
    k = check_int("k", k, minimum=1, maximum=n)
    memory_n = check_int("memory_n", memory_n, minimum=1, maximum=MAX_LENGTH)
    repeats, _ = _check_repeats(repeats)
    from .jl import projection
    from .linformer import linformer_attention

    e = projection(n, k, rng=1, xp=xp, dtype="float32")
    f = projection(n, k, rng=2, xp=xp, dtype="float32")
    q, k_, v, e, f = _checked(xp, *random_inputs(xp, n, d), e, f)
    unchecked = {"check_finite": False}  # checked once above
    seconds = median_seconds(
        {
            "softmax": lambda: softmax_attention(q, k_, v, **unchecked),
            "linformer": lambda: linformer_attention(q, k_, v, E=e, F=f, **unchecked),
            "matmul": lambda: e @ k_,
        },
        xp,
        repeats=repeats,
    )
    _, peak = peak_memory(lambda: linformer_attention(q, k_, v, E=e, F=f, **unchecked), xp)
    model = 4 * complexity.linformer_memory(n, d, k=k)
    flops = complexity.linformer_flops(n, d, k=k)
    e_big = projection(memory_n, k, rng=3, xp=xp, dtype="float32")
    *big, e_big = _checked(xp, *random_inputs(xp, memory_n, d), e_big)
    _, peak_large = peak_memory(
        lambda: linformer_attention(*big, E=e_big, F=e_big, **unchecked), xp
    )
    return {
        "backend": module_name(xp),
        "machine": machine(),
        "n": n,
        "d": d,
        "k": k,
        "seconds_softmax": seconds["softmax"],
        "seconds_linformer": seconds["linformer"],
        "speedup_over_softmax": seconds["softmax"] / seconds["linformer"],
        "peak_bytes": peak,
        "peak_over_model": peak / model,
        "flops_per_second": flops / seconds["linformer"],
        "matmul_flops_per_second": 2 * k * n * d / seconds["matmul"],
        "flop_rate_fraction": (flops / seconds["linformer"]) / (2 * k * n * d / seconds["matmul"]),
        "memory_n": memory_n,
        "peak_bytes_at_memory_n": peak_large,
    }


def pretrained_report(xp, *, chunks=50, length=512, batch=10, repeats=1) -> dict:
    """Time and peak memory of encoding real text with the pretrained MiniLM, exact attention.

    ``chunks`` chunks of ``length`` tokens (:func:`refattn.pretrained.text_chunks`)
    run through the whole encoder and pooled to sentence embeddings,
    ``batch`` chunks per forward pass.  The time is the median of ``repeats``
    runs after one warm-up batch; the peak memory (tracemalloc on NumPy) is of
    one further run, the loaded weights excluded.
    """
    xp = _check_xp(xp)
    chunks = check_int("chunks", chunks, minimum=1, maximum=10**6)
    length = check_int("length", length, minimum=3, maximum=MAX_LENGTH)
    batch = check_int("batch", batch, minimum=1, maximum=10**6)
    repeats, _ = _check_repeats(repeats)
    from .pretrained import Encoder, load_minilm, text_chunks

    encoder = load_minilm(xp=xp)
    ids = text_chunks(encoder, count=chunks, length=length)

    def encode_all():
        parts = []
        for start in range(0, chunks, batch):
            out = encoder.forward(ids[start : start + batch])
            parts.append(Encoder.pool(out.last, out.attention_mask))
        return xp.concatenate(parts, axis=0)

    encoder.forward(ids[:batch])  # warm-up
    seconds = median_seconds({"encode": encode_all}, xp, repeats=repeats, warmup=0)["encode"]
    _, peak = peak_memory(encode_all, xp)
    return {
        "backend": module_name(xp),
        "machine": machine(),
        "chunks": chunks,
        "length": length,
        "batch": batch,
        "seconds": seconds,
        "tokens_per_second": chunks * length / seconds,
        "peak_bytes": peak,
    }


# ---------------------------------------------------------------------------
# the scaling grid: every mechanism, n = 256 … 65536


#: Sequence lengths of the full grid and of the quick grid (a CI smoke test).
FULL_SIZES = tuple(2**p for p in range(8, 17))
QUICK_SIZES = (256, 1024, 4096)


def configurations() -> dict[str, str]:
    """Every benchmark configuration of the registry: label → mechanism name.

    A registry entry lists its configurations in ``bench`` (e.g. ``favor`` and
    ``favor_causal``); the grid, the summary and the figures take them from here.
    """
    from .mechanisms import REGISTRY

    return {label: name for name, entry in REGISTRY.items() for label in entry.bench}


def configured(label: str, n: int):
    """The configured callable and ``causal`` flag of configuration ``label`` at length ``n``."""
    label = _check_name("label", label)
    n = check_int("n", n, minimum=1, maximum=MAX_LENGTH)
    from .mechanisms import REGISTRY, mechanism

    known = configurations()
    if label not in known:
        raise ValueError(
            f"label must be a benchmark configuration ({', '.join(known)}), got {label!r}"
        )
    options = dict(REGISTRY[known[label]].bench[label](n))
    causal = options.pop("causal", False)
    return mechanism(known[label], **options), causal


def _runner(label, xp, n, d, heads, configuration=None):
    """Set up (outside the timing) ``(run, attend, causal)`` for ``label`` at length ``n``.

    ``configuration`` is ``configured(label, n)`` when the caller holds it already.
    The inputs are checked here, once; ``run`` calls ``attend`` with ``check_finite=False``.
    """
    attend, causal = configured(label, n) if configuration is None else configuration
    batch = (heads,) if heads > 1 else ()
    g = rng(n, xp)
    q, k, v = _checked(xp, *(g.standard_normal(batch + (n, d), dtype="float32") for _ in range(3)))
    attend.draw_for(q, k, v)  # random features or projections: drawn before the clock starts
    return (lambda: attend(q, k, v, causal=causal, check_finite=False)), attend, causal


def matmul_rate(xp, n=4096, d=64, repeats=3) -> float:
    """The machine's dense matmul flop rate: the two products of attention at length ``n``."""
    xp = _check_xp(xp)
    n, d = _check_sizes(MAX_DENSE_LENGTH, n=n, d=d).values()
    repeats, _ = _check_repeats(repeats)
    q, k, v = random_inputs(xp, n, d)
    k_t = xp.swapaxes(k, -1, -2)
    seconds = median_seconds({"mm": lambda: (q @ k_t) @ v}, xp, repeats=repeats)["mm"]
    return 4 * n * n * d / seconds


def scaling_grid(
    xp,
    *,
    mechanisms=None,
    sizes=FULL_SIZES,
    d=64,
    heads=1,
    repeats=3,
    max_bytes=8 * 2**30,
    log=print,
) -> dict:
    """Time and peak memory of every mechanism at every length, against complexity.py.

    Each row gives the median seconds over ``repeats`` runs after a warm-up,
    the peak bytes of one run, complexity.py's working set and flops for
    ``heads`` heads, and the roofline fraction: achieved flop rate over the
    machine's matmul rate measured in the same run.  A configuration whose
    analytic working set exceeds ``max_bytes`` is skipped, with the reason.
    """
    xp = _check_xp(xp)
    known = configurations()
    if mechanisms is not None:
        if isinstance(mechanisms, str) or not isinstance(mechanisms, (list, tuple)):
            raise TypeError(
                f"mechanisms must be None or a list of configuration labels, "
                f"got {describe(mechanisms)}"
            )
        for label in mechanisms:
            configured(label, 1)  # an unknown label raises with the list of known ones
    sizes = check_int_sequence("sizes", sizes, minimum=1)
    if not sizes:
        raise ValueError("sizes must hold at least one sequence length, got an empty sequence")
    for i, size in enumerate(sizes):
        check_int(f"sizes[{i}]", size, minimum=1, maximum=MAX_LENGTH)
    d, heads = _check_sizes(2**16, d=d, heads=heads).values()
    repeats, _ = _check_repeats(repeats)
    max_bytes = check_int("max_bytes", max_bytes, minimum=1)
    if not callable(log):
        raise TypeError(f"log must be a callable taking one str (e.g. print), got {describe(log)}")
    mechanisms = list(known) if mechanisms is None else list(mechanisms)
    rate = matmul_rate(xp)
    log(f"matmul rate on this machine: {rate / 1e9:.1f} GFLOP/s (float32, n = 4096, d = {d})")
    results, skipped = [], []
    for name in mechanisms:
        for n in sizes:
            attend, causal = configured(name, n)
            model = 4 * heads * attend.memory(n, d, causal=causal)
            if model > max_bytes:
                reason = (
                    f"working set {model / 2**30:.1f} GiB > --max-mem {max_bytes / 2**30:.1f} GiB"
                )
                skipped.append({"mechanism": name, "n": n, "reason": reason})
                log(f"  {name:>22} n = {n:>6}: skipped, {reason}")
                continue
            run, attend, causal = _runner(name, xp, n, d, heads, (attend, causal))
            seconds = median_seconds({name: run}, xp, repeats=repeats)[name]
            _, peak = peak_memory(run, xp)
            flops = heads * attend.flops(n, d, causal=causal)
            row = {
                "mechanism": name,
                "n": n,
                "d": d,
                "heads": heads,
                "seconds": seconds,
                "peak_bytes": peak,
                "model_bytes": model,
                "flops": flops,
                "roofline_fraction": flops / seconds / rate,
            }
            results.append(row)
            log(
                f"  {name:>22} n = {n:>6}: {1e3 * seconds:9.2f} ms, peak {peak / 2**20:8.1f} MiB "
                f"({peak / model:.2f} x model), roofline {row['roofline_fraction']:.2f}"
            )
    return {
        "machine": machine(),
        "backend": module_name(xp),
        "matmul_flops_per_second": rate,
        "results": results,
        "skipped": skipped,
    }


def slopes(rows, mechanism, key, lo=4096, hi=65536):
    """Log-log slope of ``key`` against n between ``lo`` and ``hi`` (None below 2 points)."""
    rows = _check_rows(rows)
    mechanism = _check_label("mechanism", mechanism, rows)
    if not isinstance(key, str) or not all(key in r for r in rows):
        columns = [c for c in (rows[0] if rows else {}) if all(c in r for r in rows)]
        check_choice("key (a column of every row)", key, [c for c in columns if c != "mechanism"])
    lo, hi = _check_sizes(None, lo=lo, hi=hi).values()
    if lo >= hi:
        raise ValueError(f"lo must be < hi, got lo = {lo} and hi = {hi}")
    points = [(r["n"], r[key]) for r in rows if r["mechanism"] == mechanism and lo <= r["n"] <= hi]
    if len(points) < 2:
        return None
    for n, value in points:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not (np.isfinite(value) and value > 0)
        ):
            raise ValueError(
                f"rows[...][{key!r}] must be a finite number > 0 (a log-log slope), "
                f"got {value!r} at n = {n} for {mechanism}"
            )
    n, y = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(n, y, 1)[0])


def crossover(rows, mechanism, reference="softmax"):
    """The smallest n from which ``mechanism`` stays faster than ``reference``, or None."""
    rows = _check_rows(rows)
    mechanism = _check_label("mechanism", mechanism, rows)
    reference = _check_label("reference", reference, rows)
    ref = {r["n"]: r["seconds"] for r in rows if r["mechanism"] == reference}
    mine = sorted(
        (r["n"], r["seconds"]) for r in rows if r["mechanism"] == mechanism and r["n"] in ref
    )
    for i, (n, _) in enumerate(mine):
        if all(s < ref[m] for m, s in mine[i:]):
            return n
    return None


def summary(data, *, at=16384, lo=4096, hi=65536) -> list[dict]:
    """Per mechanism: slopes over ``[lo, hi]``, roofline and memory ratio at ``at``, crossover n."""
    if not isinstance(data, dict) or "results" not in data:
        raise TypeError(
            f"data must be scaling_grid's result (a dict with 'results'), got {describe(data)}"
        )
    _check_rows(data["results"])
    at, lo, hi = _check_sizes(None, at=at, lo=lo, hi=hi).values()
    if lo >= hi:
        raise ValueError(f"lo must be < hi, got lo = {lo} and hi = {hi}")
    rows = data["results"]
    table = []
    for name in configurations():
        mine = {r["n"]: r for r in rows if r["mechanism"] == name}
        if not mine:
            continue
        here = mine.get(at)
        table.append(
            {
                "mechanism": name,
                "time_slope": slopes(rows, name, "seconds", lo, hi),
                "memory_slope": slopes(rows, name, "peak_bytes", lo, hi),
                "roofline_fraction": None if here is None else here["roofline_fraction"],
                "memory_ratio": None if here is None else here["peak_bytes"] / here["model_bytes"],
                "crossover_n": None if name == "softmax" else crossover(rows, name),
                "largest_n": max(mine),
            }
        )
    return table


def choice_table(data, *, at=16384) -> list[tuple[str, ...]]:
    """The README's "Which mechanism should I use?" table, from a benchmark run.

    One row per benchmark configuration: its mechanism, whether it is exact,
    whether the configuration is causal, the memory order, and the measured
    time and peak memory at ``n = at`` as multiples of ``softmax_attention``'s
    in the same run ("—" where softmax or the configuration was not measured
    there, e.g. skipped for memory).  The first row is the header.
    """
    if not isinstance(data, dict) or "results" not in data:
        raise TypeError(
            f"data must be scaling_grid's result (a dict with 'results'), got {describe(data)}"
        )
    _check_rows(data["results"])
    at = check_int("at", at, minimum=1, maximum=MAX_LENGTH)
    from .mechanisms import REGISTRY

    measured = {r["mechanism"]: r for r in data["results"] if r["n"] == at}
    dense = measured.get("softmax")
    rows = [
        ("configuration", "mechanism", "exact", "causal", "memory", "speed-up", "memory saving")
    ]
    for label, name in configurations().items():
        entry = REGISTRY[name]
        causal = bool(entry.bench[label](at).get("causal", False))
        here = measured.get(label)
        if dense is None or here is None:
            speed = saving = "—"
        else:
            speed = f"{dense['seconds'] / here['seconds']:.1f}×"
            saving = f"{dense['peak_bytes'] / here['peak_bytes']:.0f}×"
        rows.append(
            (
                f"`{label}`",
                name,
                "yes" if entry.exact else "no",
                "yes" if causal else "no",
                f"O({entry.memory_order})",
                speed,
                saving,
            )
        )
    return rows
