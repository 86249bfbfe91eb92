"""refattn's pytest plugin: the README's test file runs as a user's suite would run it."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from refattn.backend import available_backends

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
PLUGIN = "refattn.pytest_plugin"


def _readme_test_file() -> str:
    section = README.split("## Testing your own attention code", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return block


def _pytest(folder, *args, env=None):
    """Run pytest in ``folder`` as a user would, in a fresh process, outside refattn's tree."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HYPOTHESIS_"))}
    environ.pop("CI", None)
    environ.pop("REFATTN_TEST_BACKEND", None)
    environ.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        env=environ,
        timeout=300,
    )


def test_the_plugin_is_a_pytest11_entry_point_named_after_its_module(tmp_path):
    # asked from another folder: a refattn.egg-info left in the clone's root would answer first
    code = (
        "from importlib import metadata\n"
        "for e in metadata.entry_points(group='pytest11'):\n"
        "    print(e.dist.metadata['Name'], e.name, e.value)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    # the name is the module's: -p refattn.pytest_plugin beside the entry point registers it once
    assert f"refattn {PLUGIN} {PLUGIN}" in done.stdout.splitlines(), done.stdout


@pytest.mark.parametrize(
    ("how", "args", "env"),
    [
        ("entry point", (), {}),
        ("entry point and -p", ("-p", PLUGIN), {}),
        ("-p without autoload", ("-p", PLUGIN), {"PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}),
    ],
)
def test_the_readme_test_file_passes_on_numpy_and_skips_cupy_with_the_reason(
    tmp_path, how, args, env
):
    (tmp_path / "test_my_attention.py").write_text(_readme_test_file())
    done = _pytest(tmp_path, *args, "-W", "error::RuntimeWarning", env=env)
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    if available_backends()["cupy"] == "available":
        assert "4 passed" in out, out
    else:
        assert "2 passed, 2 skipped" in out, out
        reasons = re.findall(r"SKIPPED \[1\] test_my_attention\.py:\d+: (.*)", out)
        assert len(reasons) == 2 and all(
            r.startswith("cupy backend unavailable: the cupy backend needs") for r in reasons
        ), out
    assert "test_my_attention.py" in out


def test_backend_option_picks_one_backend_and_is_defined_once(tmp_path):
    (tmp_path / "test_my_attention.py").write_text(_readme_test_file())
    done = _pytest(tmp_path, "--backend", "numpy", "-p", PLUGIN)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout and "skipped" not in done.stdout
    done = _pytest(tmp_path, env={"REFATTN_TEST_BACKEND": "numpy"})
    assert "2 passed" in done.stdout and "skipped" not in done.stdout, done.stdout
    helped = _pytest(tmp_path, "--help")
    assert helped.stdout.count("--backend={numpy,cupy,cupy-standin,all}") == 1, helped.stdout


PROFILE_PROBE = """
import os

from hypothesis import settings


def test_profile():
    assert settings.get_current_profile_name() == os.environ["EXPECTED_PROFILE"]
    assert settings().derandomize is (os.environ["EXPECTED_PROFILE"] == "ci")
    assert settings().deadline is None
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "dev"),
        ({"CI": "true"}, "ci"),
        ({"HYPOTHESIS_PROFILE": "stress"}, "stress"),
    ],
)
def test_hypothesis_profiles(tmp_path, env, expected):
    (tmp_path / "test_probe.py").write_text(PROFILE_PROBE)
    done = _pytest(tmp_path, env={**env, "EXPECTED_PROFILE": expected})
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_unknown_hypothesis_profile_is_a_usage_error(tmp_path):
    (tmp_path / "test_probe.py").write_text(PROFILE_PROBE)
    done = _pytest(tmp_path, env={"HYPOTHESIS_PROFILE": "fast"})
    assert done.returncode == 4, done.stdout + done.stderr
    assert "HYPOTHESIS_PROFILE='fast' is not a registered hypothesis profile" in done.stderr


def test_a_conftest_that_loads_its_own_profile_keeps_it(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from hypothesis import settings\n"
        "settings.register_profile('mine', max_examples=5)\n"
        "settings.load_profile('mine')\n"
    )
    (tmp_path / "test_probe.py").write_text(
        "from hypothesis import settings\n\n\n"
        "def test_profile():\n"
        "    assert settings.get_current_profile_name() == 'mine'\n"
        "    assert settings().max_examples == 5\n"
    )
    done = _pytest(tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_plugin_imports_neither_cupy_nor_hypothesis():
    code = (
        "import sys, refattn.pytest_plugin\n"
        "print(sorted(m for m in ('cupy', 'hypothesis') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.skipif(
    available_backends()["cupy"] == "available", reason="CuPy and a GPU are present here"
)
def test_asking_for_a_missing_backend_by_name_is_a_usage_error_not_a_green_run(tmp_path):
    # skipping every xp test would pass a CI job that asked for CuPy and tested nothing
    (tmp_path / "test_probe.py").write_text("def test_uses_xp(xp):\n    assert xp\n")
    done = _pytest(tmp_path, "--backend", "cupy")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "--backend cupy: the cupy backend is unavailable" in done.stderr


def test_the_standin_backend_without_a_registered_standin_is_a_usage_error(tmp_path):
    (tmp_path / "test_probe.py").write_text("def test_uses_xp(xp):\n    assert xp\n")
    done = _pytest(tmp_path, "--backend", "cupy-standin")
    assert done.returncode == 4, done.stdout + done.stderr
    assert "this suite registers no CuPy stand-in" in done.stderr


def test_a_registered_standin_runs_beside_numpy_and_replaces_the_skipped_cupy_run(tmp_path):
    # a minimal stand-in: a module named cupy that the xp fixture hands to the test
    (tmp_path / "conftest.py").write_text(
        "import types\n"
        "from refattn.pytest_plugin import register_stand_in\n"
        "fake = types.ModuleType('cupy')\n"
        "fake.IS_STAND_IN = True\n"
        "register_stand_in({'cupy': fake})\n"
    )
    (tmp_path / "test_probe.py").write_text(
        "import os, sys\n\n\n"
        "def test_uses_xp(xp):\n"
        "    if getattr(xp, 'IS_STAND_IN', False):\n"
        "        assert sys.modules['cupy'] is xp and os.environ['REFATTN_BACKEND'] == 'cupy'\n"
        "    else:\n"
        "        assert xp.__name__ in ('numpy', 'cupy')\n"
    )
    done = _pytest(tmp_path, "-rA", "-v")  # -v undoes -q: the report header is printed
    out = done.stdout + done.stderr
    assert done.returncode == 0, out
    assert "PASSED test_probe.py::test_uses_xp[numpy]" in out, out
    assert "PASSED test_probe.py::test_uses_xp[cupy-standin]" in out, out
    if available_backends()["cupy"] != "available":
        assert "2 passed in" in out and "skipped" not in out, out
        assert "refattn: xp fixture on numpy, cupy-standin (not on cupy: the cupy" in out, out
