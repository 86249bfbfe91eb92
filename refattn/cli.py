"""The ``refattn`` command (also ``python -m refattn``).

refattn info                      versions, backends, GPU
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


def _bench(args) -> int:
    from .backend import module_for
    from .bench import exact_report

    xp = module_for(args.backend)
    report = exact_report(
        xp, n=args.n, d=args.d, chunk=args.chunk, memory_n=args.memory_n, repeats=args.repeats
    )
    print(f"exact attention on {report['backend']} ({report['machine']})")
    print(f"  n = {args.n}, d = {args.d}, float32; median of {args.repeats} runs")
    print(f"  two matmuls alone      {1e3 * report['seconds_matmuls']:9.1f} ms")
    print(
        f"  softmax_attention      {1e3 * report['seconds_softmax']:9.1f} ms"
        f"   = {report['softmax_over_matmuls']:.2f} x the matmuls"
    )
    print(
        f"  chunked_attention      {1e3 * report['seconds_chunked']:9.1f} ms"
        f"   = {report['chunked_over_softmax']:.2f} x softmax_attention (chunk {args.chunk})"
    )
    print(
        f"  chunked peak memory at n = {args.memory_n}: "
        f"{report['chunked_peak_bytes'] / 2**20:.1f} MiB = "
        f"{report['chunked_peak_over_model']:.3f} x complexity.py, "
        f"{report['chunked_peak_over_dense_scores']:.4f} x the n² float32 scores"
    )
    print(
        f"  (and {report['chunked_peak_over_bound']:.3f} x the bound 2·(n·chunk + 4·n·d) "
        f"elements set in issue 2)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
        print(f"  written to {args.json}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refattn", description="Reference implementations of long-range attention."
    )
    parser.add_argument("--version", action="version", version=f"refattn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="versions, available backends and GPU").set_defaults(run=_info)

    fig = sub.add_parser("figures", help="regenerate the figures (all, or the NAMEs given)")
    fig.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all)")
    fig.add_argument("--list", action="store_true", help="list the figures and exit")
    fig.add_argument("--out", default="figures", help="output folder (default: figures)")
    fig.set_defaults(run=_figures)

    bench = sub.add_parser("bench", help="speed and memory ratios of exact attention")
    bench.add_argument(
        "--backend",
        choices=("numpy", "cupy"),
        default=None,
        help="array backend (default: REFATTN_BACKEND or numpy)",
    )
    bench.add_argument("--n", type=int, default=4096, help="sequence length for timing")
    bench.add_argument("--d", type=int, default=64, help="head dimension")
    bench.add_argument("--chunk", type=int, default=256, help="chunk size of chunked_attention")
    bench.add_argument(
        "--memory-n", type=int, default=16384, help="sequence length for the memory measurement"
    )
    bench.add_argument("--repeats", type=int, default=5, help="timed runs per measurement")
    bench.add_argument("--json", metavar="PATH", help="also write the report as JSON")
    bench.set_defaults(run=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
