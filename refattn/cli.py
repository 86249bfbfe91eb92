"""The ``refattn`` command (also ``python -m refattn``).

refattn info                      versions, backends, GPU
refattn list                      every registered mechanism: family, exact, causal, memory, paper
refattn figures                   regenerate every figure into figures/
refattn figures NAME ... --out D  some figures, elsewhere
refattn figures --list            what can be drawn
refattn bench                     exact attention's speed and memory ratios
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from importlib import metadata

from . import __version__

REPORTS = ("exact", "longformer", "performer", "linformer", "pretrained")


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _info(args) -> int:
    from .backend import available_backends, gpu_name

    print(f"refattn {__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    for package in ("numpy", "scipy", "matplotlib", "cupy"):
        print(f"{package} {_version(package)}")
    for name, status in available_backends().items():
        print(f"backend {name}: {status}")
    print(f"GPU: {gpu_name() or 'none'}")
    print(f"default backend (REFATTN_BACKEND): {os.environ.get('REFATTN_BACKEND') or 'numpy'}")
    return 0


def registry_table() -> list[tuple[str, ...]]:
    """The rows of ``refattn list``: a header, then one row per registered mechanism."""
    from .mechanisms import REGISTRY

    rows = [("name", "family", "exact", "causal", "key padding", "memory", "paper")]
    for entry in REGISTRY.values():
        rows.append(
            (
                entry.name,
                " + ".join(entry.families),
                "yes" if entry.exact else "no",
                "yes" if entry.causal else "no",
                "yes" if entry.key_padding else "no",
                f"O({entry.memory_order})",
                entry.paper.cite(),
            )
        )
    return rows


def _list(args) -> int:
    rows = registry_table()
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for i, row in enumerate(rows):
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    return 0


def _figures(args) -> int:
    from .figures import FIGURES, generate

    if args.list:
        width = max(map(len, FIGURES))
        for fig in FIGURES.values():
            print(f"{fig.name:<{width}}  {fig.title}  [reproduces {fig.reproduces}]")
        return 0
    try:
        generate(args.names or None, out_dir=args.out)
    except ValueError as exc:
        print(f"refattn figures: {exc}", file=sys.stderr)
        return 2
    return 0


def _print_exact(r) -> None:
    print(f"exact attention on {r['backend']} ({r['machine']})")
    print(f"  n = {r['n']}, d = {r['d']}, float32; median over round-robin runs")
    print(f"  two matmuls alone      {1e3 * r['seconds_matmuls']:9.1f} ms")
    print(
        f"  softmax_attention      {1e3 * r['seconds_softmax']:9.1f} ms"
        f"   = {r['softmax_over_matmuls']:.2f} x the matmuls"
    )
    print(
        f"  chunked_attention      {1e3 * r['seconds_chunked']:9.1f} ms"
        f"   = {r['chunked_over_softmax']:.2f} x softmax_attention (chunk {r['chunk']})"
    )
    print(
        f"  chunked peak memory at n = {r['memory_n']}: "
        f"{r['chunked_peak_bytes'] / 2**20:.1f} MiB = "
        f"{r['chunked_peak_over_model']:.3f} x complexity.py, "
        f"{r['chunked_peak_over_dense_scores']:.4f} x the n² float32 scores"
    )
    print(
        f"  (and {r['chunked_peak_over_bound']:.3f} x the bound 2·(n·chunk + 4·n·d) "
        f"elements, the goal for chunked attention)"
    )


def _print_longformer(r) -> None:
    print(f"sliding-window attention on {r['backend']} ({r['machine']})")
    print(f"  n = {r['n']}, d = {r['d']}, window = {r['window']}, float32")
    print(
        f"  sliding_window_attention {1e3 * r['seconds_sliding_window']:9.1f} ms, "
        f"{r['speedup_over_softmax']:.1f} x faster than softmax_attention "
        f"({1e3 * r['seconds_softmax']:.1f} ms)"
    )
    print(
        f"  peak memory {r['peak_bytes_sliding_window'] / 2**20:.1f} MiB, "
        f"{r['memory_ratio_to_softmax']:.1f} x less than softmax_attention"
    )
    print(
        f"  flop rate {r['flops_per_second'] / 1e9:.1f} GFLOP/s = "
        f"{r['flop_rate_fraction']:.2f} x plain matmuls of the same size "
        f"({r['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s)"
    )
    print(f"  peak memory at n = {r['memory_n']}: {r['peak_bytes_at_memory_n'] / 2**20:.1f} MiB")


def _print_performer(r) -> None:
    print(f"FAVOR attention on {r['backend']} ({r['machine']})")
    print(f"  n = {r['n']}, d = {r['d']}, {r['features']} positive orthogonal features, float32")
    print(
        f"  favor_attention        {1e3 * r['seconds_favor']:9.1f} ms, "
        f"{r['speedup_over_softmax']:.1f} x faster than softmax_attention "
        f"({1e3 * r['seconds_softmax']:.1f} ms)"
    )
    print(
        f"  causal                 {1e3 * r['seconds_favor_causal']:9.1f} ms, "
        f"{r['causal_speedup_over_softmax']:.1f} x faster"
    )
    print(
        f"  peak memory {r['peak_bytes'] / 2**20:.1f} MiB = {r['peak_over_model']:.3f} x "
        f"complexity.py; causal {r['causal_peak_bytes'] / 2**20:.1f} MiB = "
        f"{r['causal_peak_over_model']:.3f} x"
    )
    large = r["peak_bytes_at_memory_n"] / 2**20
    print(f"  causal peak memory at n = {r['memory_n']}: {large:.1f} MiB")


def _print_linformer(r) -> None:
    print(f"Linformer attention on {r['backend']} ({r['machine']})")
    print(f"  n = {r['n']}, d = {r['d']}, k = {r['k']} Gaussian projections, float32")
    print(
        f"  linformer_attention    {1e3 * r['seconds_linformer']:9.1f} ms, "
        f"{r['speedup_over_softmax']:.1f} x faster than softmax_attention "
        f"({1e3 * r['seconds_softmax']:.1f} ms)"
    )
    print(
        f"  flop rate {r['flops_per_second'] / 1e9:.1f} GFLOP/s = {r['flop_rate_fraction']:.2f} x "
        f"a plain matmul of similar size ({r['matmul_flops_per_second'] / 1e9:.1f} GFLOP/s)"
    )
    peak = r["peak_bytes"] / 2**20
    print(f"  peak memory {peak:.1f} MiB = {r['peak_over_model']:.3f} x complexity.py")
    large = r["peak_bytes_at_memory_n"] / 2**20
    print(f"  peak memory at n = {r['memory_n']}: {large:.1f} MiB")


def _print_pretrained(r) -> None:
    print(f"pretrained all-MiniLM-L6-v2 on {r['backend']} ({r['machine']})")
    print(
        f"  {r['chunks']} chunks of {r['length']} tokens, exact attention, {r['batch']} per batch: "
        f"{r['seconds']:.1f} s ({r['tokens_per_second']:.0f} tokens/s)"
    )
    print(f"  peak memory {r['peak_bytes'] / 2**20:.0f} MiB (weights excluded)")


def _bench(args) -> int:
    from .backend import module_for
    from .bench import (
        FULL_SIZES,
        QUICK_SIZES,
        configurations,
        exact_report,
        linformer_report,
        longformer_report,
        performer_report,
        pretrained_report,
        scaling_grid,
    )

    MECHANISMS = configurations()

    xp = module_for(args.backend)
    if args.report:
        unknown = sorted(set(args.report) - set(REPORTS))
        if unknown:
            known = ", ".join(REPORTS)
            print(f"refattn bench: unknown report(s) {unknown}; known: {known}", file=sys.stderr)
            return 2
        sizes = {k: v for k, v in (("n", args.n), ("memory_n", args.memory_n)) if v is not None}
        reports = {}
        for name in args.report:
            if name == "exact":
                reports[name] = exact_report(
                    xp, d=args.d, chunk=args.chunk, repeats=args.repeats, **sizes
                )
                _print_exact(reports[name])
            elif name == "longformer":
                reports[name] = longformer_report(
                    xp, d=args.d, window=args.window, repeats=args.repeats, **sizes
                )
                _print_longformer(reports[name])
            elif name == "pretrained":
                reports[name] = pretrained_report(xp, repeats=args.repeats)
                _print_pretrained(reports[name])
            elif name == "linformer":
                reports[name] = linformer_report(
                    xp, d=args.d, k=args.k, repeats=args.repeats, **sizes
                )
                _print_linformer(reports[name])
            else:
                reports[name] = performer_report(
                    xp, d=args.d, features=args.features, repeats=args.repeats, **sizes
                )
                _print_performer(reports[name])
        result = reports
    else:
        unknown = sorted(set(args.mechanisms or ()) - set(MECHANISMS))
        if unknown:
            known = ", ".join(MECHANISMS)
            print(f"refattn bench: unknown mechanism(s) {unknown}; known: {known}", file=sys.stderr)
            return 2
        sizes = QUICK_SIZES if args.quick else FULL_SIZES
        if args.n is not None:
            sizes = (args.n,)
        print(f"scaling grid on {xp.__name__}: n = {', '.join(map(str, sizes))}, d = {args.d}")
        result = scaling_grid(
            xp,
            mechanisms=args.mechanisms or None,
            sizes=sizes,
            d=args.d,
            heads=args.heads,
            repeats=1 if args.quick else args.repeats,
            max_bytes=int(args.max_mem * 2**30),
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
        print(f"written to {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refattn", description="Reference implementations of long-range attention."
    )
    parser.add_argument("--version", action="version", version=f"refattn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="versions, available backends and GPU").set_defaults(run=_info)
    sub.add_parser(
        "list", help="every registered mechanism: family, exact, causal, memory order, paper"
    ).set_defaults(run=_list)

    fig = sub.add_parser("figures", help="regenerate the figures (all, or the NAMEs given)")
    fig.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all)")
    fig.add_argument("--list", action="store_true", help="list the figures and exit")
    fig.add_argument("--out", default="figures", help="output folder (default: figures)")
    fig.set_defaults(run=_figures)

    bench = sub.add_parser(
        "bench", help="scaling grid of every mechanism (or, with --report, one goal report)"
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="a reduced grid (n = 256, 1024, 4096; one run each): a smoke test",
    )
    bench.add_argument(
        "--mechanisms",
        nargs="+",
        metavar="NAME",
        help="benchmark configurations to measure (default: every one in the registry)",
    )
    bench.add_argument("--heads", type=int, default=1, help="heads per call (default 1)")
    bench.add_argument(
        "--max-mem",
        type=float,
        default=8.0,
        help="skip configurations whose analytic working set exceeds this (GiB)",
    )
    bench.add_argument(
        "--report",
        nargs="+",
        metavar="REPORT",
        help="instead of the grid, the goal reports: " + ", ".join(REPORTS),
    )
    bench.add_argument(
        "--backend",
        choices=("numpy", "cupy"),
        default=None,
        help="array backend (default: REFATTN_BACKEND or numpy)",
    )
    bench.add_argument(
        "--n",
        type=int,
        default=None,
        help="one sequence length (grid) or the timing length (reports)",
    )
    bench.add_argument(
        "--memory-n",
        type=int,
        default=None,
        help="reports: sequence length for the memory measurement",
    )
    bench.add_argument("--d", type=int, default=64, help="head dimension")
    bench.add_argument("--chunk", type=int, default=256, help="chunk size of chunked_attention")
    bench.add_argument(
        "--window", type=int, default=64, help="one-sided window of the sliding window"
    )
    bench.add_argument("--features", type=int, default=256, help="random features of FAVOR")
    bench.add_argument("--k", type=int, default=256, help="projected length of Linformer")
    bench.add_argument("--repeats", type=int, default=3, help="timed rounds per measurement")
    bench.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    bench.set_defaults(run=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
