"""The README, .ci/run and derivations/ must say what the code does."""

import ast
import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refattn.testing import assert_attention_close

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
DERIVATIONS = sorted((ROOT / "derivations").glob("[0-9][0-9]-*.md"))


def _shell_blocks(text):
    return re.findall(r"```sh\n(.*?)```", text, flags=re.S)


def _quickstart():
    section = README.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return [line for block in _shell_blocks(section) for line in block.strip().splitlines()]


def test_readme_quickstart_has_exactly_two_commands():
    commands = _quickstart()
    assert len(commands) == 2, commands
    assert commands[0].endswith("refattn figures")
    assert "pytest" in commands[1]


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert _quickstart()[1] in ci


def test_readme_links_every_derivation():
    for path in DERIVATIONS:
        assert f"derivations/{path.name}" in README, path.name
        assert path.name in (ROOT / "derivations" / "README.md").read_text(), path.name


def test_readme_shows_every_committed_figure():
    for png in (ROOT / "figures").glob("*.png"):
        assert f"figures/{png.name}" in README, png.name


# --- every numbered claim ties to code and tests that exist ------------------------------


def _items(path):
    """(label, body) for each numbered item '## (N.k) …' of a derivation."""
    parts = re.split(r"^## (\(\d+\.\d+\))", path.read_text(), flags=re.M)
    return list(zip(parts[1::2], parts[2::2], strict=True))


def _defined_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
    }


@functools.cache
def _collected_ids() -> frozenset[str]:
    """Every test id pytest collects under tests/ (parametrized ids without their brackets)."""
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, f"pytest cannot collect tests/:\n{done.stdout}{done.stderr}"
    ids = set()
    for line in done.stdout.splitlines():
        if line.startswith("tests/") and "::" in line:
            parts = line.split("[", 1)[0].split("::")
            # a class (or a stateful machine's TestCase) counts as well as each test in it
            ids.update("::".join(parts[: i + 1]) for i in range(1, len(parts)))
    return frozenset(ids)


def _check_test_id(where: str, target: str) -> None:
    assert target in _collected_ids(), f"{where}: pytest collects no test {target}"


@pytest.mark.parametrize("path", DERIVATIONS, ids=lambda p: p.name)
def test_derivation_references_resolve(path):
    items = _items(path)
    assert items, f"{path.name} has no numbered items"
    for label, body in items:
        refs = re.findall(r"^— (.*?)(?=\n\n|\Z)", body, flags=re.M | re.S)
        assert refs, f"{path.name} {label} does not end with its code and tests"
        targets = [t.strip() for t in refs[-1].replace("\n", " ").split(",")]
        tests = [t for t in targets if "::" in t]
        assert tests, f"{path.name} {label} names no test"
        for target in targets:
            file, sep, name = target.partition("::" if "::" in target else ":")
            assert sep, f"{path.name} {label}: malformed reference {target!r}"
            assert (ROOT / file).is_file(), f"{path.name} {label}: no file {file}"
            if sep == "::":
                _check_test_id(f"{path.name} {label}", target)
            else:
                assert name in _defined_names(ROOT / file), (
                    f"{path.name} {label}: no {name} in {file}"
                )


def test_the_reference_checker_catches_a_missing_test(tmp_path):
    # the twin: a derivation naming a test that does not exist must fail
    bad = tmp_path / "99-bad.md"
    bad.write_text(
        "## (9.1) A claim\n\ntext\n\n— tests/test_softmax.py::test_that_does_not_exist\n"
    )
    with pytest.raises(AssertionError, match="no test tests/test_softmax.py::test_that_does_"):
        test_derivation_references_resolve(bad)


def test_the_reference_checker_rejects_a_name_that_is_not_a_test(tmp_path):
    # a helper defined in a test file is a name, not a test pytest runs
    bad = tmp_path / "98-bad.md"
    bad.write_text("## (9.1) A claim\n\ntext\n\n— tests/test_softmax.py::python_attention\n")
    assert "python_attention" in _defined_names(ROOT / "tests/test_softmax.py")
    with pytest.raises(AssertionError, match="pytest collects no test"):
        test_derivation_references_resolve(bad)


# --- the README's "Using it" examples run as written --------------------------------------


def _using_it_blocks():
    section = README.split("## Using it", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.S)


def test_readme_examples_run_and_cover_every_mechanism(capsys):
    from refattn.mechanisms import REGISTRY

    namespace = {}
    blocks = [b for b in _using_it_blocks() if "import cupy" not in b]
    assert len(blocks) >= 3
    for block in blocks:
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed] == list(REGISTRY)
    exact_rows = [line for line in printed if line.split()[0] in ("softmax", "chunked")]
    for line in exact_rows:
        assert float(line.split("error")[1].split()[0]) < 1e-5, line
    # every mechanism module's function is called directly in the examples
    for entry in REGISTRY.values():
        assert f"refattn.{entry.function.__name__}(" in "".join(blocks), entry.name


def test_readme_cupy_example_runs_on_cupy_or_the_standin(request):
    # on a GPU with CuPy itself; elsewhere on the strict CuPy stand-in, as `import cupy`
    from refattn import softmax_attention
    from refattn.backend import available_backends

    if available_backends()["cupy"] != "available":
        request.getfixturevalue("standin")
    first, *rest = _using_it_blocks()
    (cupy_block,) = [b for b in rest if "import cupy" in b]
    namespace = {}
    for block in (first, cupy_block):
        exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    out, q, k, v = (namespace[name] for name in ("out", "q", "k", "v"))
    assert type(out).__module__ != "numpy"  # a device array
    assert_attention_close(out.get(), softmax_attention(q, k, v))


def test_readme_real_attention_example_runs():
    from refattn.pretrained import INSTALL_COMMAND, MinilmNotFound, find_minilm

    try:
        find_minilm()
    except MinilmNotFound:
        pytest.skip(f"the MiniLM weights are not installed; install with: {INSTALL_COMMAND}")
    section = README.split("## Real attention", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    namespace = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102
    assert namespace["embeddings"].shape == (2, 384)
    assert namespace["window"].last.shape == (2, 512, 384)


@pytest.mark.parametrize("pytest_status", [0, 1, 5])
def test_ci_passes_on_pytest_s_exit_status_and_fails_when_nothing_was_collected(pytest_status):
    # run what .ci/run does after pytest, with pytest's status given
    ci = (ROOT / ".ci" / "run").read_text()
    after = ci.split("rc=$?", 1)[1]
    done = subprocess.run(
        ["bash", "-c", f"rc={pytest_status}\n{after}"], capture_output=True, text=True, check=False
    )
    assert done.returncode == pytest_status, done.stdout


def test_readme_choice_table_is_the_committed_benchmark_run():
    from refattn.bench import choice_table
    from refattn.figures.scaling import bench_data

    section = README.split("## Which mechanism should I use?", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    cells = [tuple(c.strip() for c in line.strip("|").split("|")) for line in lines]
    rows = choice_table(bench_data())
    assert cells[1:] == rows[1:]
    assert len(cells) == len(rows)


def test_every_python_block_of_the_readme_is_run_by_a_test():
    # the "Using it" blocks run above, the "Real attention" block above, the "Testing your own
    # attention code" file in tests/test_plugin.py: a block anywhere else would run nowhere
    run = {"## Using it", "## Real attention", "## Testing your own attention code"}
    section = None
    for line in README.splitlines():
        if line.startswith("## "):
            section = line.strip()
        if line.startswith("```python"):
            assert section in run, f"a Python block in {section!r} is run by no test"
