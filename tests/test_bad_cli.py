"""Bad invocations of the refattn command: exit status 2, the option, value and domain on stderr."""

import contextlib
import io
import os
import tempfile

from _helpers import Bad, bad_input_params

from refattn.backend import available_backends
from refattn.cli import main


class UsageError(Exception):
    """``main`` ended with exit status 2; the message is what it wrote to stderr."""


def refattn(*argv, env=None):
    """Run ``main(list(argv))`` with stdout/stderr captured; exit status 2 raises UsageError.

    Any other exception (a traceback) propagates and fails the case, and so
    does a status other than 2 (a bad invocation must not succeed).
    """
    err, out = io.StringIO(), io.StringIO()
    saved = {k: os.environ.get(k) for k in env or {}}
    try:
        os.environ.update(env or {})
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                code = main(list(argv))
            except SystemExit as exc:
                code = exc.code
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    message = err.getvalue()
    assert "Traceback" not in message, message
    if code == 2:
        raise UsageError(message)
    raise AssertionError(f"exit status {code} (expected 2); stderr {message!r}")


NOWHERE = os.path.join(os.path.sep, "no-such-directory-refattn", "bench.json")
NOT_A_FOLDER = os.path.abspath(__file__)  # an existing file
INT_DOMAIN = r"must be an integer >= 1 and <= "

CASES = [
    # numeric options: argparse type= checks with the domain
    Bad(
        "n-negative",
        refattn,
        "bench",
        "--n",
        "-5",
        raises=UsageError,
        target=main,
        arg="--n",
        match=INT_DOMAIN + r"4194304, got -5",
    ),
    Bad(
        "n-zero",
        refattn,
        "bench",
        "--n",
        "0",
        raises=UsageError,
        target=main,
        arg="--n",
        match=INT_DOMAIN + r"4194304, got 0",
    ),
    Bad(
        "n-float",
        refattn,
        "bench",
        "--n",
        "1e3",
        raises=UsageError,
        target=main,
        arg="--n",
        match=r"got '1e3'",
    ),
    Bad(
        "n-word",
        refattn,
        "bench",
        "--n",
        "many",
        raises=UsageError,
        target=main,
        arg="--n",
        match=r"got 'many'",
    ),
    Bad(
        "n-huge",
        refattn,
        "bench",
        "--n",
        str(10**30),
        raises=UsageError,
        target=main,
        arg="--n",
        match=r"<= 4194304, got 10{30}",
    ),
    Bad(
        "memory-n-zero",
        refattn,
        "bench",
        "--report",
        "exact",
        "--memory-n",
        "0",
        raises=UsageError,
        target=main,
        arg="--memory-n",
        match=INT_DOMAIN + r".*got 0",
    ),
    Bad(
        "d-zero",
        refattn,
        "bench",
        "--d",
        "0",
        raises=UsageError,
        target=main,
        arg="--d",
        match=INT_DOMAIN + r"4096, got 0",
    ),
    Bad(
        "d-huge",
        refattn,
        "bench",
        "--d",
        "100000",
        raises=UsageError,
        target=main,
        arg="--d",
        match=r"<= 4096, got 100000",
    ),
    Bad(
        "heads-zero",
        refattn,
        "bench",
        "--heads",
        "0",
        raises=UsageError,
        target=main,
        arg="--heads",
        match=INT_DOMAIN + r"4096, got 0",
    ),
    Bad(
        "heads-negative",
        refattn,
        "bench",
        "--heads",
        "-2",
        raises=UsageError,
        target=main,
        arg="--heads",
        match=r"got -2",
    ),
    Bad(
        "heads-float",
        refattn,
        "bench",
        "--heads",
        "1.5",
        raises=UsageError,
        target=main,
        arg="--heads",
        match=r"got '1.5'",
    ),
    Bad(
        "repeats-zero",
        refattn,
        "bench",
        "--repeats",
        "0",
        raises=UsageError,
        target=main,
        arg="--repeats",
        match=INT_DOMAIN + r"1000, got 0",
    ),
    Bad(
        "repeats-negative",
        refattn,
        "bench",
        "--repeats",
        "-1",
        raises=UsageError,
        target=main,
        arg="--repeats",
        match=r"got -1",
    ),
    Bad(
        "features-zero",
        refattn,
        "bench",
        "--features",
        "0",
        raises=UsageError,
        target=main,
        arg="--features",
        match=INT_DOMAIN + r"65536, got 0",
    ),
    Bad(
        "k-zero",
        refattn,
        "bench",
        "--k",
        "0",
        raises=UsageError,
        target=main,
        arg="--k",
        match=r"got 0",
    ),
    Bad(
        "chunk-zero",
        refattn,
        "bench",
        "--chunk",
        "0",
        raises=UsageError,
        target=main,
        arg="--chunk",
        match=r"got 0",
    ),
    Bad(
        "window-negative",
        refattn,
        "bench",
        "--window",
        "-64",
        raises=UsageError,
        target=main,
        arg="--window",
        match=r"got -64",
    ),
    Bad(
        "max-mem-negative",
        refattn,
        "bench",
        "--max-mem",
        "-1",
        raises=UsageError,
        target=main,
        arg="--max-mem",
        match=r"finite real number > 0, got '-1'",
    ),
    Bad(
        "max-mem-zero",
        refattn,
        "bench",
        "--max-mem",
        "0",
        raises=UsageError,
        target=main,
        arg="--max-mem",
        match=r"> 0, got '0'",
    ),
    Bad(
        "max-mem-nan",
        refattn,
        "bench",
        "--max-mem",
        "nan",
        raises=UsageError,
        target=main,
        arg="--max-mem",
        match=r"got 'nan'",
    ),
    Bad(
        "max-mem-inf",
        refattn,
        "bench",
        "--max-mem",
        "inf",
        raises=UsageError,
        target=main,
        arg="--max-mem",
        match=r"got 'inf'",
    ),
    Bad(
        "max-mem-word",
        refattn,
        "bench",
        "--max-mem",
        "lots",
        raises=UsageError,
        target=main,
        arg="--max-mem",
        match=r"got 'lots'",
    ),
    # paths: checked before any work
    Bad(
        "json-missing-folder",
        refattn,
        "bench",
        "--json",
        NOWHERE,
        raises=UsageError,
        target=main,
        arg="--json",
        match=r"writable file path, got .*does not exist",
    ),
    Bad(
        "json-file-as-folder",
        refattn,
        "bench",
        "--json",
        os.path.join(NOT_A_FOLDER, "x.json"),
        raises=UsageError,
        target=main,
        arg="--json",
        match=r"is not a directory",
    ),
    Bad(
        "json-is-a-directory",
        refattn,
        "bench",
        "--json",
        os.path.dirname(NOT_A_FOLDER),
        raises=UsageError,
        target=main,
        arg="--json",
        match=r"writable file path, got .*: a directory",
    ),
    Bad(
        "figures-out-is-a-file",
        refattn,
        "figures",
        "exact-memory",
        "--out",
        NOT_A_FOLDER,
        raises=UsageError,
        target=main,
        arg="--out",
        match=r"must be a folder, got .*an existing file",
    ),
    Bad(
        "figures-out-under-a-file",
        refattn,
        "figures",
        "exact-memory",
        "--out",
        os.path.join(NOT_A_FOLDER, "a", "b"),
        raises=UsageError,
        target=main,
        arg="--out",
        match=r"must be a folder, got .*: .*test_bad_cli.py is an existing file, not a directory",
    ),
    Bad(
        "figures-out-under-a-file-with-list",
        refattn,
        "figures",
        "--list",
        "--out",
        os.path.join(NOT_A_FOLDER, "a"),
        raises=UsageError,
        target=main,
        arg="--out",
        match=r"is an existing file, not a directory",
    ),
    # backends
    Bad(
        "backend-misspelled",
        refattn,
        "bench",
        "--backend",
        "nump",
        raises=UsageError,
        target=main,
        arg="--backend",
        match=r"one of numpy, cupy, got 'nump' \(did you mean 'numpy'\?\)",
    ),
    Bad(
        "backend-unknown",
        refattn,
        "bench",
        "--backend",
        "torch",
        raises=UsageError,
        target=main,
        arg="--backend",
        match=r"one of numpy, cupy, got 'torch'",
    ),
    Bad(
        "env-backend-info",
        refattn,
        "info",
        env={"REFATTN_BACKEND": "bogus"},
        raises=UsageError,
        target=main,
        arg="REFATTN_BACKEND",
        match=r"one of numpy, cupy, got 'bogus'",
    ),
    Bad(
        "env-backend-bench",
        refattn,
        "bench",
        "--mechanisms",
        "softmax",
        "--n",
        "64",
        env={"REFATTN_BACKEND": "bogus"},
        raises=UsageError,
        target=main,
        arg="REFATTN_BACKEND",
        match=r"got 'bogus'; or choose one with --backend",
    ),
    # names and combinations
    Bad(
        "report-unknown",
        refattn,
        "bench",
        "--report",
        "reformer",
        raises=UsageError,
        target=main,
        arg="--report",
        match=r"unknown report\(s\) \['reformer'\]; known: exact, longformer",
    ),
    Bad(
        "mechanism-unknown",
        refattn,
        "bench",
        "--mechanisms",
        "bogus",
        raises=UsageError,
        target=main,
        arg="--mechanisms",
        match=r"unknown mechanism\(s\) \['bogus'\]; known: softmax",
    ),
    Bad(
        "quick-with-report",
        refattn,
        "bench",
        "--report",
        "exact",
        "--quick",
        raises=UsageError,
        target=main,
        arg="--quick",
        match=r"applies to the grid, not to --report",
    ),
    Bad(
        "mechanisms-with-report",
        refattn,
        "bench",
        "--report",
        "exact",
        "--mechanisms",
        "softmax",
        raises=UsageError,
        target=main,
        arg="--mechanisms",
        match=r"not to --report",
    ),
    Bad(
        "memory-n-without-report",
        refattn,
        "bench",
        "--memory-n",
        "512",
        raises=UsageError,
        target=main,
        arg="--memory-n",
        match=r"applies to --report, not to the grid",
    ),
    Bad(
        "figure-unknown",
        refattn,
        "figures",
        "no-such-figure",
        "--out",  # so that the case does not depend on the working directory
        tempfile.gettempdir(),
        raises=UsageError,
        target=main,
        arg="no-such-figure",
        match=r"unknown figure\(s\)",
    ),
    Bad(
        "command-missing", refattn, raises=UsageError, target=main, arg="command", match=r"required"
    ),
    Bad(
        "command-misspelled",
        refattn,
        "bnech",
        raises=UsageError,
        target=main,
        arg="'bnech'",
        match=r"invalid choice",
    ),
    Bad(
        "option-unknown",
        refattn,
        "bench",
        "--seed",
        "0",
        raises=UsageError,
        target=main,
        arg="--seed",
        match=r"unrecognized arguments",
    ),
    # a value that only the measurement can reject: still a usage error naming the option
    Bad(
        "k-above-n",
        refattn,
        "bench",
        "--report",
        "linformer",
        "--n",
        "64",
        "--memory-n",
        "64",
        "--k",
        "1000",
        "--repeats",
        "1",
        raises=UsageError,
        target=main,
        arg="--k 1000",
        match=r"k must be an integer >= 1 and <= 64, got 1000",
    ),
    # argv itself
    Bad(
        "argv-str",
        main,
        "bench",
        raises=TypeError,
        arg="argv",
        match=r"None or a list of strings, got 'bench'",
    ),
    Bad(
        "argv-ints",
        main,
        ["bench", "--n", 5],
        raises=TypeError,
        arg="argv",
        match=r"got \['bench', '--n', 5\]",
    ),
]

if os.path.isdir("/proc/self"):  # a folder even root cannot create files in (Linux)
    CASES += [
        Bad(
            "figures-out-in-proc",
            refattn,
            "figures",
            "exact-memory",
            "--out",
            "/proc/no-such-refattn/figures",
            raises=UsageError,
            target=main,
            arg="--out",
            match=r"must be a writable folder \(created if missing\), got "
            r"'/proc/no-such-refattn/figures': cannot create anything in /proc: ",
        ),
        Bad(
            "json-in-proc-quick",
            refattn,
            "bench",
            "--quick",
            "--json",
            "/proc/no-such-refattn.json",
            raises=UsageError,
            target=main,
            arg="--json",
            match=r"writable file path, got '/proc/no-such-refattn.json': "
            r"cannot open a file in /proc for writing",
        ),
        Bad(
            "json-in-proc-report",
            refattn,
            "bench",
            "--report",
            "exact",
            "--json",
            "/proc/no-such-refattn.json",
            raises=UsageError,
            target=main,
            arg="--json",
            match=r"cannot open a file in /proc for writing",
        ),
    ]

if available_backends()["cupy"] != "available":
    CASES.append(
        Bad(
            "backend-cupy-missing",
            refattn,
            "bench",
            "--backend",
            "cupy",
            raises=UsageError,
            target=main,
            arg="--backend",
            match=r"'cupy' is not usable here: the cupy backend needs",
        )
    )
    CASES.append(
        Bad(
            "env-backend-cupy-missing",
            refattn,
            "info",
            env={"REFATTN_BACKEND": "cupy"},
            raises=UsageError,
            target=main,
            arg="REFATTN_BACKEND",
            match=r"'cupy' cannot be used: the cupy backend needs",
        )
    )


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()
