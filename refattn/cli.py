"""The ``refattn`` command (also ``python -m refattn``).

refattn info                      versions, backends, GPU
refattn list                      every registered mechanism: family, exact, causal, memory, paper
refattn figures                   regenerate every figure into figures/ (in a clone)
refattn figures NAME ... --out D  some figures, into D (--out is required outside a clone)
refattn figures --list            what can be drawn
refattn bench                     the scaling grid of every mechanism (--quick: a smoke test)
refattn bench --report NAME ...   the goal reports (exact, longformer, performer, ...)

Every option is checked before any work starts; a value outside its domain, a
backend that cannot be used here (``--backend`` or ``REFATTN_BACKEND``) or an
output path that cannot be written is a usage error: exit status 2 and a
message on stderr naming the option, the value and the allowed domain.
"""

from __future__ import annotations

import argparse
import configparser
import datetime
import json
import math
import os
import platform
import re
import sys
import tempfile
from importlib import metadata

from . import __version__

__all__ = ["main"]

REPORTS = ("exact", "longformer", "performer", "linformer", "pretrained")
BACKEND_NAMES = ("numpy", "cupy")

#: Upper bounds of the numeric options: beyond them a run would need absurd memory or time.
MAX_LENGTH = 2**22
MAX_WIDTH = 2**16
MAX_HEADS = 4096
MAX_REPEATS = 1000


def _integer(minimum: int, maximum: int):
    """An argparse ``type=`` for an integer in ``[minimum, maximum]``, the domain in its message.

    argparse turns the ``ArgumentTypeError`` into ``argument --x: <message>``
    and exit status 2.
    """

    def parse(text: str) -> int:
        domain = f"must be an integer >= {minimum} and <= {maximum}"
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{domain}, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"{domain}, got {value}")
        return value

    parse.__name__ = "integer"
    return parse


def _positive_real(text: str) -> float:
    """An argparse ``type=`` for a finite real number > 0."""
    domain = "must be a finite real number > 0"
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{domain}, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{domain}, got {text!r}")
    return value


def _writable_file(text: str) -> str:
    """An argparse ``type=`` for an output file: checked before any work is done."""
    path = os.path.abspath(text)
    folder = os.path.dirname(path)
    if os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"must be a writable file path, got {text!r}: a directory")
    if not os.path.isdir(folder):
        why = "is not a directory" if os.path.exists(folder) else "does not exist"
        raise argparse.ArgumentTypeError(
            f"must be a writable file path, got {text!r}: {folder} {why}"
        )
    # os.access answers for the real uid and ignores read-only mounts and pseudo file
    # systems such as /proc (where root "may" write): try it instead
    existed = os.path.exists(path)
    try:
        if existed:  # appending nothing leaves the file as it is; never blocks on a FIFO
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_NONBLOCK))
        else:
            with open(path, "x"):
                pass
            os.remove(path)
    except OSError as exc:
        what = "the file" if existed else f"a file in {folder}"
        raise argparse.ArgumentTypeError(
            f"must be a writable file path, got {text!r}: cannot open {what} for writing "
            f"({exc.strerror or exc})"
        ) from None
    return text


def _output_folder(text: str) -> str:
    """An argparse ``type=`` for an output folder, created if missing: checked before any work.

    An existing file is an error, and so is a folder that could not be created or
    written to: the nearest existing ancestor must be a directory in which a
    (removed at once) probe folder can be made.
    """
    path = os.path.abspath(text)
    if os.path.exists(path) and not os.path.isdir(path):
        raise argparse.ArgumentTypeError(f"must be a folder, got {text!r}: an existing file")
    ancestor = path
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    if not os.path.isdir(ancestor):
        raise argparse.ArgumentTypeError(
            f"must be a folder, got {text!r}: {ancestor} is an existing file, not a directory"
        )
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".refattn-probe-", dir=ancestor))
    except OSError as exc:
        raise argparse.ArgumentTypeError(
            f"must be a writable folder (created if missing), got {text!r}: cannot create "
            f"anything in {ancestor}: {exc.strerror or exc}"
        ) from None
    return text


def _backend(text: str) -> str:
    """An argparse ``type=`` for ``--backend``: a known name whose backend is usable here."""
    from .backend import available_backends, did_you_mean

    if text not in BACKEND_NAMES:
        raise argparse.ArgumentTypeError(
            f"must be one of {', '.join(BACKEND_NAMES)}, got {text!r}"
            f"{did_you_mean(text, BACKEND_NAMES)}"
        )
    status = available_backends()[text]
    if status != "available":
        raise argparse.ArgumentTypeError(f"{text!r} is not usable here: {status}")
    return text


def _environment_backend():
    """REFATTN_BACKEND's module, or the message that says why it cannot be used."""
    from .backend import default_backend

    try:
        return default_backend(), None
    except (ValueError, RuntimeError) as exc:
        value = os.environ.get("REFATTN_BACKEND")
        text = str(exc)
        if "REFATTN_BACKEND" not in text:
            text = f"REFATTN_BACKEND={value!r} cannot be used: {text}"
        return None, text


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _info(args) -> int:
    from .backend import available_backends, gpu_name

    xp, problem = _environment_backend()
    if problem is not None:
        print(f"refattn info: {problem}", file=sys.stderr)
        return 2
    print(f"refattn {__version__}")
    print(f"python {platform.python_version()} ({sys.executable})")
    for package in ("numpy", "scipy", "matplotlib", "cupy"):
        print(f"{package} {_version(package)}")
    for name, status in available_backends().items():
        print(f"backend {name}: {status}")
    print(f"GPU: {gpu_name() or 'none'}")
    print(f"default backend (REFATTN_BACKEND): {xp.__name__}")
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


def in_a_clone(folder=".") -> bool:
    """Whether ``folder`` is the root of a clone of refattn (or an unpacked sdist).

    That is: it holds the ``refattn/`` package and a ``setup.cfg`` or
    ``pyproject.toml`` that names the project ``refattn``.
    """
    root = os.path.abspath(folder)
    if not os.path.isfile(os.path.join(root, "refattn", "__init__.py")):
        return False
    cfg = configparser.ConfigParser(interpolation=None)
    try:
        cfg.read(os.path.join(root, "setup.cfg"), encoding="utf-8")
    except (configparser.Error, OSError, UnicodeDecodeError):
        cfg = None
    if cfg is not None and cfg.get("metadata", "name", fallback="").strip() == "refattn":
        return True
    try:
        with open(os.path.join(root, "pyproject.toml"), encoding="utf-8") as f:
            pyproject = f.read()
    except (OSError, UnicodeDecodeError):
        return False
    project = re.search(r"^\[project\]\s*$(.*?)(?=^\[|\Z)", pyproject, flags=re.M | re.S)
    return bool(project and re.search(r"^name\s*=\s*[\"']refattn[\"']", project.group(1), re.M))


#: Where ``refattn figures`` writes inside a clone when --out is not given.
CLONE_FIGURES = "figures"


def _check_figures_out(parser, args) -> None:
    """--out defaults to figures/ inside a clone only; anywhere else it is required (exit 2)."""
    if args.out is not None or args.list:
        return
    if not in_a_clone():
        parser.error(
            f"argument --out: required outside a clone of refattn ({os.getcwd()} is not the "
            "root of one); name the folder to write the PNGs to, e.g. --out refattn-figures"
        )
    args.out = CLONE_FIGURES


def _figures(args) -> int:
    from .figures import FIGURES, generate
    from .figures.scaling import describe_run

    if args.list:
        width = max(map(len, FIGURES))
        for fig in FIGURES.values():
            print(f"{fig.name:<{width}}  {fig.title}  [reproduces {fig.reproduces}]")
        return 0
    scaling = [
        name
        for name in (args.names or FIGURES)
        if name in FIGURES and FIGURES[name].make.__module__ == "refattn.figures.scaling"
    ]
    if scaling:
        try:
            print(f"{', '.join(scaling)}: drawn from the committed benchmark run {describe_run()}")
        except FileNotFoundError as exc:
            print(f"refattn figures: {exc}", file=sys.stderr)
            return 1
    try:
        generate(args.names or None, out_dir=args.out)
    except ValueError as exc:
        print(f"refattn figures: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # checked up front, so only e.g. a full disk gets here
        print(f"refattn figures: cannot write into --out {args.out!r}: {exc}", file=sys.stderr)
        return 1
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


#: How ``refattn bench`` shows a roofline fraction it did not measure.
QUICK_ROOFLINE = "quick run: single timings at small n, too noisy for a roofline"
ABOVE_ROOFLINE = "measured above 1: the n = 4096 matmul rate is no ceiling at this size"
_ROOFLINE = re.compile(r"roofline (\S+)$")


def _roofline_note(fraction, quick: bool):
    """Why a roofline fraction is not shown (None when it is): quick runs and values above 1."""
    if quick:
        return QUICK_ROOFLINE
    if not fraction <= 1.0:  # a flop rate above the machine's matmul rate is not a fraction
        return ABOVE_ROOFLINE
    return None


def _grid_log(quick: bool):
    """A ``log`` for :func:`refattn.bench.scaling_grid` that prints unmeasured rooflines as n/a."""

    def log(line: str) -> None:
        found = _ROOFLINE.search(line)
        if found:
            try:
                note = _roofline_note(float(found.group(1)), quick)
            except ValueError:
                note = ABOVE_ROOFLINE
            if note is not None:
                line = f"{line[: found.start()]}roofline n/a ({note})"
        print(line)

    return log


_REPORT_SIZES = ("n", "memory_n", "d", "chunk", "window", "features", "k")


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

    if args.backend is None:
        xp, problem = _environment_backend()
        if problem is not None:
            print(f"refattn bench: {problem}; or choose one with --backend", file=sys.stderr)
            return 2
    else:
        xp = module_for(args.backend)
    if args.report:
        unknown = sorted(set(args.report) - set(REPORTS))
        if unknown:
            known = ", ".join(REPORTS)
            print(
                f"refattn bench: --report: unknown report(s) {unknown}; known: {known}",
                file=sys.stderr,
            )
            return 2
    else:
        unknown = sorted(set(args.mechanisms or ()) - set(MECHANISMS))
        if unknown:
            known = ", ".join(MECHANISMS)
            print(
                f"refattn bench: --mechanisms: unknown mechanism(s) {unknown}; known: {known}",
                file=sys.stderr,
            )
            return 2
    try:
        if args.report:
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
            sizes = QUICK_SIZES if args.quick else FULL_SIZES
            if args.n is not None:
                sizes = (args.n,)
            print(f"scaling grid on {xp.__name__}: n = {', '.join(map(str, sizes))}, d = {args.d}")
            repeats = 1 if args.quick else args.repeats
            result = scaling_grid(
                xp,
                mechanisms=args.mechanisms or None,
                sizes=sizes,
                d=args.d,
                heads=args.heads,
                repeats=repeats,
                max_bytes=int(args.max_mem * 2**30),
                log=_grid_log(args.quick),
            )
            # which run this is, for whoever draws figures from the JSON later
            result["date"] = datetime.date.today().isoformat()
            result["repeats"] = repeats
            for row in result["results"]:
                note = _roofline_note(row["roofline_fraction"], args.quick)
                if note is not None:
                    row["roofline_fraction"], row["roofline_note"] = None, note
            if not result["results"]:
                print(
                    "refattn bench: every configuration was skipped (see the reasons above); "
                    "raise --max-mem or lower --n to measure something",
                    file=sys.stderr,
                )
    except ValueError as exc:  # an option outside a mechanism's domain, e.g. --k > --n
        given = " ".join(
            f"--{name.replace('_', '-')} {value}"
            for name, value in vars(args).items()
            if name in (_REPORT_SIZES if args.report else ("n", "d", "heads")) and value is not None
        )
        print(
            f"refattn bench: a measurement rejected the options ({given}): {exc}", file=sys.stderr
        )
        return 2
    if args.json:
        try:
            with open(args.json, "w") as f:
                json.dump(result, f, indent=2)
        except OSError as exc:
            print(f"refattn bench: cannot write --json {args.json!r}: {exc}", file=sys.stderr)
            return 2
        print(f"written to {args.json}")
    return 0


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` after every option whose default is a value (not None/False)."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


def _check_bench_combination(parser, args) -> None:
    """Options that the chosen mode would silently ignore are usage errors (exit 2)."""
    if args.report:
        if args.quick:
            parser.error("argument --quick: applies to the grid, not to --report")
        if args.mechanisms:
            parser.error("argument --mechanisms: applies to the grid, not to --report")
    elif args.memory_n is not None:
        parser.error("argument --memory-n: applies to --report, not to the grid")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="refattn",
        description="Reference implementations of long-range attention.",
        formatter_class=_HelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"refattn {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser(
        "info", help="versions, available backends and GPU", formatter_class=_HelpFormatter
    ).set_defaults(run=_info)
    sub.add_parser(
        "list",
        help="every registered mechanism: family, exact, causal, memory order, paper",
        formatter_class=_HelpFormatter,
    ).set_defaults(run=_list)

    fig = sub.add_parser(
        "figures",
        help="regenerate the figures (all, or the NAMEs given)",
        formatter_class=_HelpFormatter,
    )
    fig.add_argument("names", nargs="*", metavar="NAME", help="figures to make (default: all)")
    fig.add_argument("--list", action="store_true", help="list the figures and exit")
    fig.add_argument(
        "--out",
        default=None,
        type=_output_folder,
        help=f"output folder, created if missing, with its parents (default: {CLONE_FIGURES}) "
        "when run at the root of a clone of refattn; required anywhere else, so that an "
        "installed refattn never writes into whatever folder it is started in; checked "
        "(an existing file, or a place that cannot be written, is an error) before any work",
    )
    fig.set_defaults(run=_figures, parser=fig)

    bench = sub.add_parser(
        "bench",
        help="scaling grid of every mechanism (or, with --report, one goal report)",
        formatter_class=_HelpFormatter,
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
    length = _integer(1, MAX_LENGTH)
    width = _integer(1, MAX_WIDTH)
    bench.add_argument("--heads", type=_integer(1, MAX_HEADS), default=1, help="heads per call")
    bench.add_argument(
        "--max-mem",
        type=_positive_real,
        default=8.0,
        metavar="GIB",
        help="skip configurations whose analytic working set exceeds this many GiB",
    )
    bench.add_argument(
        "--report",
        nargs="+",
        metavar="REPORT",
        help="instead of the grid, the goal reports: " + ", ".join(REPORTS),
    )
    bench.add_argument(
        "--backend",
        type=_backend,
        default=None,
        metavar="{numpy,cupy}",
        help="array backend (default: REFATTN_BACKEND, or numpy when it is unset)",
    )
    bench.add_argument(
        "--n",
        type=length,
        default=None,
        help="one sequence length (grid; default: the grid's lengths) or the timing "
        "length (reports; default: each report's own)",
    )
    bench.add_argument(
        "--memory-n",
        type=length,
        default=None,
        help="reports: sequence length for the memory measurement (default: each report's own)",
    )
    bench.add_argument("--d", type=_integer(1, 4096), default=64, help="head dimension")
    bench.add_argument(
        "--chunk", type=length, default=256, help="reports: chunk size of chunked_attention"
    )
    bench.add_argument(
        "--window", type=length, default=64, help="reports: one-sided window of the sliding window"
    )
    bench.add_argument(
        "--features", type=width, default=256, help="reports: random features of FAVOR"
    )
    bench.add_argument(
        "--k", type=width, default=256, help="reports: projected length of Linformer"
    )
    bench.add_argument(
        "--repeats",
        type=_integer(1, MAX_REPEATS),
        default=3,
        help="timed rounds per measurement (--quick: 1)",
    )
    bench.add_argument(
        "--json",
        metavar="PATH",
        type=_writable_file,
        help="also write the results as JSON (the path is checked before any work)",
    )
    bench.set_defaults(run=_bench, parser=bench)
    return parser


def main(argv=None) -> int:
    """Run ``refattn`` with ``argv`` (default: ``sys.argv[1:]``); returns the exit status.

    A usage error (an option outside its domain, a backend that cannot be
    used) exits with status 2 and a message on stderr naming the option, the
    value and the allowed domain.
    """
    if argv is not None and (
        isinstance(argv, (str, bytes))
        or not isinstance(argv, (list, tuple))
        or not all(isinstance(a, str) for a in argv)
    ):
        got = repr(argv) if len(repr(argv)) <= 80 else repr(argv)[:77] + "..."
        raise TypeError(f"argv must be None or a list of strings, got {got}")
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "bench":
        _check_bench_combination(args.parser, args)
    elif args.command == "figures":
        _check_figures_out(args.parser, args)
    return args.run(args)
