"""The sdist runs its own tests and reads its derivations; the wheel draws the committed run.

Builds both into a temporary folder, without build isolation (setuptools and
wheel come with ``refattn[test]``): the sdist from the clone, the wheel from
the unpacked sdist, as ``python -m build`` does.
"""

import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BENCH = "refattn/data/bench-numpy.json"

pytest.importorskip("setuptools", reason='building needs setuptools: pip install "refattn[test]"')

BUILD = """
import sys
from setuptools import build_meta

kind, out = sys.argv[1], sys.argv[2]
name = build_meta.build_sdist(out) if kind == "sdist" else build_meta.build_wheel(out)
print(name)
"""


def _build(kind: str, source: Path, out: Path) -> Path:
    done = subprocess.run(
        [sys.executable, "-c", BUILD, kind, str(out)],
        cwd=source,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return out / done.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(sdist member names, the unpacked sdist's root, wheel member names, the wheel's path)."""
    tmp = tmp_path_factory.mktemp("dist")
    sdist = _build("sdist", ROOT, tmp)
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
        # the "data" filter where this Python has it (3.10.12, 3.11.4 and later)
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        tar.extractall(tmp / "unpacked", **safe)
    source = tmp / "unpacked" / top
    wheel = _build("wheel", source, tmp)
    with zipfile.ZipFile(wheel) as whl:
        wheel_names = set(whl.namelist())
    return names, source, wheel_names, wheel


def _tracked(folder: str, pattern: str = "*") -> set[str]:
    return {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / folder).glob(pattern)
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_the_sdist_carries_the_tests_their_data_the_derivations_and_the_ci_script(built):
    names, source, *_ = built
    needed = {
        "LICENSE",
        "CITATION.cff",
        "README.md",
        "setup.cfg",
        "pyproject.toml",
        "MANIFEST.in",
        ".ci/run",
        BENCH,
        "refattn/pytest_plugin.py",
        "tests/conftest.py",
        "tests/_helpers.py",
    }
    needed |= _tracked("tests", "test_*.py") | _tracked("tests/data") | _tracked("derivations")
    assert _tracked("tests/data") and len(_tracked("derivations", "*.md")) >= 15
    assert needed <= names, sorted(needed - names)
    # one committed run, no copy of it beside the figures; no caches
    assert "figures/bench-numpy.json" not in names
    assert not [n for n in names if ".hypothesis" in n or "__pycache__" in n or n.endswith(".pyc")]
    # the unpacked sdist is a clone to `refattn figures`: it writes into its figures/
    from refattn.cli import in_a_clone

    assert in_a_clone(source)


def test_the_wheel_carries_the_committed_run_the_license_and_both_entry_points(built):
    _, _, names, wheel = built
    assert BENCH in names
    assert not [n for n in names if n.startswith(("tests/", "derivations/", "figures/"))]
    (info,) = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    assert {f"{info}/LICENSE", f"{info}/licenses/LICENSE"} & names, sorted(names)
    with zipfile.ZipFile(wheel) as whl:
        assert json.loads(whl.read(BENCH)) == json.loads((ROOT / BENCH).read_text())
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    sections = dict(
        (part.split("]", 1)[0], part.split("]", 1)[1].split())
        for part in entry_points.split("[")[1:]
    )
    assert sections["console_scripts"] == ["refattn", "=", "refattn.cli:main"]
    assert sections["pytest11"] == ["refattn.pytest_plugin", "=", "refattn.pytest_plugin"]


def test_the_scaling_figures_read_the_run_inside_the_installed_package(built, tmp_path):
    _, _, _, wheel = built
    with zipfile.ZipFile(wheel) as whl:
        whl.extractall(tmp_path / "site")
    code = (
        "import refattn\n"
        "from refattn.figures.scaling import BENCH_JSON, describe_run\n"
        "print(refattn.__file__)\n"
        "print(BENCH_JSON)\n"
        "print(describe_run())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""},
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    module, bench, described = done.stdout.splitlines()
    site = str(tmp_path / "site")
    assert module.startswith(site) and bench == f"{site}/{BENCH}"
    assert described.startswith(bench) and "measured " in described


def test_the_wheel_offers_cupy_for_cuda_12_and_for_cuda_13(built):
    _, _, names, wheel = built
    (info,) = {n.split("/", 1)[0] for n in names if n.split("/", 1)[0].endswith(".dist-info")}
    with zipfile.ZipFile(wheel) as whl:
        metadata = whl.read(f"{info}/METADATA").decode()
    requires = {
        line.split(": ", 1)[1]
        for line in metadata.splitlines()
        if line.startswith("Requires-Dist: ")
    }
    assert 'cupy-cuda12x>=13; extra == "gpu"' in requires
    assert 'cupy-cuda13x>=14; extra == "gpu-cuda13"' in requires
