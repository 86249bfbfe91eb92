"""The command line: refattn info | figures | bench, also as python -m refattn."""

import json
import os
import re
import subprocess
import sys

import pytest

from refattn.cli import main
from refattn.figures import FIGURES


def test_info_prints_versions_backends_and_gpu(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("refattn ")
    for fragment in ("numpy ", "matplotlib ", "backend numpy: available", "backend cupy:", "GPU:"):
        assert fragment in out


def test_figures_list_names_every_figure(capsys):
    assert main(["figures", "--list"]) == 0
    out = capsys.readouterr().out
    for name in FIGURES:
        assert name in out
    assert "exact-memory" in out


def test_unknown_figure_is_an_error_naming_it(tmp_path, capsys):
    assert main(["figures", "no-such-figure", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "unknown figure(s) ['no-such-figure']" in err
    assert "exact-memory" in err


def test_figures_writes_the_exact_memory_png(tmp_path, capsys):
    assert main(["figures", "exact-memory", "--out", str(tmp_path)]) == 0
    png = tmp_path / "exact-memory.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert "[1/1] exact-memory" in out and " s -> " in out


def test_bench_reports_ratios_and_json(tmp_path, capsys):
    path = tmp_path / "bench.json"
    args = [
        "bench",
        "--report",
        "exact",
        "longformer",
        "performer",
        "linformer",
        "--n",
        "512",
        "--memory-n",
        "512",
        "--k",
        "64",
        "--repeats",
        "1",
        "--json",
        str(path),
    ]
    assert main(args) == 0
    reports = json.loads(path.read_text())
    assert set(reports) == {"exact", "longformer", "performer", "linformer"}
    assert 0.9 < reports["linformer"]["peak_over_model"] < 1.5
    assert 0.9 < reports["performer"]["peak_over_model"] < 1.5
    assert reports["exact"]["backend"] == "numpy"
    assert reports["exact"]["softmax_over_matmuls"] > 0
    assert 1.0 <= reports["exact"]["chunked_peak_over_model"] < 1.1
    assert reports["longformer"]["window"] == 64
    assert reports["longformer"]["flop_rate_fraction"] > 0
    out = capsys.readouterr().out
    assert "x the matmuls" in out and "x faster than softmax_attention" in out


def test_bench_runs_one_report(capsys):
    assert (
        main(
            ["bench", "--report", "longformer", "--n", "128", "--memory-n", "256", "--repeats", "1"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "sliding-window attention" in out and "exact attention" not in out


def test_bench_rejects_unknown_reports(capsys):
    assert main(["bench", "--report", "reformer"]) == 2
    assert (
        "unknown report(s) ['reformer']; known: exact, longformer, performer"
        in capsys.readouterr().err
    )


def test_bench_quick_grid_writes_the_contracted_json(tmp_path, capsys):
    from refattn.bench import configurations

    path = tmp_path / "grid.json"
    assert main(["bench", "--quick", "--json", str(path)]) == 0
    data = json.loads(path.read_text())
    assert {"machine", "backend", "results"} <= set(data)
    assert {r["mechanism"] for r in data["results"]} == set(configurations())
    for row in data["results"]:
        assert {
            "mechanism",
            "n",
            "d",
            "seconds",
            "peak_bytes",
            "model_bytes",
            "flops",
            "roofline_fraction",
        } <= set(row)
        assert row["seconds"] > 0 and row["peak_bytes"] > 0
        assert 0.5 < row["peak_bytes"] / row["model_bytes"] < 2.5
        # one timing per size is no rate measurement: no roofline, and the reason
        assert row["roofline_fraction"] is None
        assert row["roofline_note"].startswith("quick run")
    out = capsys.readouterr().out
    assert "matmul rate on this machine" in out
    assert re.search(r"roofline [0-9]", out) is None
    assert out.count("roofline n/a (quick run: ") == len(data["results"])


def test_bench_skips_what_exceeds_max_mem_and_names_unknown_mechanisms(tmp_path, capsys):
    path = tmp_path / "grid.json"
    args = [
        "bench",
        "--mechanisms",
        "softmax",
        "--n",
        "4096",
        "--max-mem",
        "0.01",
        "--json",
        str(path),
    ]
    assert main(args) == 0
    data = json.loads(path.read_text())
    assert data["results"] == []
    assert data["skipped"][0]["mechanism"] == "softmax"
    assert "> --max-mem 0.0 GiB" in data["skipped"][0]["reason"]
    captured = capsys.readouterr()
    assert "skipped, working set" in captured.out
    assert "every configuration was skipped" in captured.err
    assert main(["bench", "--mechanisms", "bogus"]) == 2
    assert "--mechanisms: unknown mechanism(s) ['bogus']" in capsys.readouterr().err


def test_crossover_and_slopes():
    from refattn.bench import crossover, slopes

    rows = [{"mechanism": "softmax", "n": n, "seconds": n**2 * 1e-9} for n in (1024, 2048, 4096)]
    rows += [{"mechanism": "fast", "n": n, "seconds": n * 2e-6} for n in (1024, 2048, 4096)]
    assert slopes(rows, "softmax", "seconds", lo=1024) == pytest.approx(2.0)
    assert slopes(rows, "fast", "seconds", lo=1024) == pytest.approx(1.0)
    assert slopes(rows, "fast", "seconds", lo=8192) is None
    assert crossover(rows, "fast") == 2048  # 2048: 4.10e-3 s against 4.19e-3 s, and faster after
    rows.append({"mechanism": "fast", "n": 8192, "seconds": 1.0})  # slower again at the end
    rows.append({"mechanism": "softmax", "n": 8192, "seconds": 8192**2 * 1e-9})
    assert crossover(rows, "fast") is None  # "for good" means up to the largest n measured


def test_python_dash_m_runs_the_same_command():
    result = subprocess.run(
        [sys.executable, "-m", "refattn", "figures", "--list"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert "exact-memory" in result.stdout


def test_missing_subcommand_is_a_usage_error():
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2


def test_list_prints_the_registry_as_a_table(capsys):
    from refattn.mechanisms import REGISTRY

    assert main(["list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["name", "family", "exact"]
    body = out[2:]
    assert [line.split()[0] for line in body] == list(REGISTRY)
    for line, entry in zip(body, REGISTRY.values(), strict=True):
        assert entry.paper.cite() in line
        assert f"O({entry.memory_order})" in line
        assert (" yes " if entry.exact else " no ") in line


# --- options: defaults shown, domains checked before any work, rooflines never above 1 -------


def test_help_shows_the_defaults(capsys):
    with pytest.raises(SystemExit) as info:
        main(["bench", "--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())  # help text wraps lines
    for fragment in (
        "--d D head dimension (default: 64)",
        "(default: 8.0)",
        "heads per call (default: 1)",
        "timed rounds per measurement (--quick: 1) (default: 3)",
        "random features of FAVOR (default: 256)",
        "(default: REFATTN_BACKEND, or numpy when it is unset)",
    ):
        assert fragment in out
    assert "(default: None)" not in out and "(default: False)" not in out
    with pytest.raises(SystemExit):
        main(["figures", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "output folder, created if missing, with its parents (default: figures)" in out
    assert "checked (an existing file, or a place that cannot be written, is an error)" in out


def test_a_bad_option_writes_no_json_and_runs_nothing(tmp_path, capsys):
    path = tmp_path / "out.json"
    with pytest.raises(SystemExit) as info:
        main(["bench", "--n", "64", "--heads", "0", "--json", str(path)])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == "" and not path.exists()
    assert "argument --heads: must be an integer >= 1 and <= 4096, got 0" in captured.err


def test_numeric_options_accept_their_domain_edges(tmp_path, capsys):
    path = tmp_path / "one.json"
    args = ["bench", "--mechanisms", "softmax", "--n", "16", "--d", "1", "--heads", "2"]
    assert main([*args, "--repeats", "1", "--max-mem", "1e-3", "--json", str(path)]) == 0
    (row,) = json.loads(path.read_text())["results"]
    assert (row["n"], row["d"], row["heads"]) == (16, 1, 2)
    assert "written to" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("line", "shown"),
    [
        ("  softmax n =    256:  0.35 ms, peak 0.4 MiB (1.09 x model), roofline 0.45", "0.45"),
        ("  softmax n =    256:  0.35 ms, peak 0.4 MiB (1.09 x model), roofline 1.00", "1.00"),
        ("  softmax n =    256:  0.35 ms, peak 0.4 MiB (1.09 x model), roofline 1.29", "n/a"),
        ("  softmax n =    256:  0.35 ms, peak 0.4 MiB (1.09 x model), roofline nan", "n/a"),
    ],
)
def test_a_full_run_prints_no_roofline_above_one(line, shown, capsys):
    from refattn.cli import ABOVE_ROOFLINE, _grid_log

    _grid_log(quick=False)(line)
    out = capsys.readouterr().out.rstrip("\n")
    if shown == "n/a":
        assert out.endswith(f"roofline n/a ({ABOVE_ROOFLINE})")
    else:
        assert out == line
    _grid_log(quick=True)(line)
    assert "roofline n/a (quick run: " in capsys.readouterr().out
    _grid_log(quick=False)("matmul rate on this machine: 37.4 GFLOP/s")
    assert capsys.readouterr().out == "matmul rate on this machine: 37.4 GFLOP/s\n"


def test_bench_quick_at_one_length_marks_every_roofline(tmp_path, capsys):
    path = tmp_path / "quick.json"
    assert main(["bench", "--quick", "--n", "32", "--mechanisms", "softmax", "linformer",
                 "--json", str(path)]) == 0  # fmt: skip
    rows = json.loads(path.read_text())["results"]
    assert [r["mechanism"] for r in rows] == ["softmax", "linformer"]
    assert all(r["roofline_fraction"] is None for r in rows)
    out = capsys.readouterr().out
    assert out.count("roofline n/a (quick run: single timings") == 2
    assert re.search(r"roofline [0-9]", out) is None


def test_info_names_the_backend_it_would_use(capsys, monkeypatch):
    monkeypatch.setenv("REFATTN_BACKEND", "NumPy ")
    assert main(["info"]) == 0
    assert "default backend (REFATTN_BACKEND): numpy" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("argv", "env", "fragment"),
    [
        (["bench", "--n", "-5"], {}, "argument --n: must be an integer >= 1"),
        (["info"], {"REFATTN_BACKEND": "bogus"}, "REFATTN_BACKEND must be one of numpy, cupy"),
    ],
)
def test_the_console_command_fails_cleanly(argv, env, fragment):
    result = subprocess.run(
        [sys.executable, "-m", "refattn", *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
    )
    assert result.returncode == 2
    assert fragment in result.stderr
    assert "Traceback" not in result.stderr and "bogus" not in result.stdout


# --- figures: --out outside a clone, and which benchmark run the scaling figures draw ------


def _fake_clone(folder, *, setup_cfg=None, pyproject=None):
    """A folder that looks like the root of a clone: refattn/ and the given project files."""
    (folder / "refattn").mkdir()
    (folder / "refattn" / "__init__.py").write_text("")
    if setup_cfg is not None:
        (folder / "setup.cfg").write_text(setup_cfg)
    if pyproject is not None:
        (folder / "pyproject.toml").write_text(pyproject)
    return folder


@pytest.mark.parametrize(
    ("setup_cfg", "pyproject"),
    [
        ("[metadata]\nname = refattn\nversion = 0.1\n", None),
        (None, '[build-system]\nrequires = []\n\n[project]\nname = "refattn"\n'),
    ],
    ids=["setup.cfg", "pyproject.toml"],
)
def test_figures_writes_into_figures_at_the_root_of_a_clone(
    tmp_path, monkeypatch, capsys, setup_cfg, pyproject
):
    from refattn.cli import in_a_clone

    monkeypatch.chdir(_fake_clone(tmp_path, setup_cfg=setup_cfg, pyproject=pyproject))
    assert in_a_clone()
    assert main(["figures", "taxonomy"]) == 0
    assert (tmp_path / "figures" / "taxonomy.png").read_bytes()[:4] == b"\x89PNG"
    assert "-> figures/taxonomy.png" in capsys.readouterr().out


def _project_files_only(folder):
    (folder / "setup.cfg").write_text("[metadata]\nname = refattn\n")
    return folder


@pytest.mark.parametrize(
    "make",
    [
        lambda folder: folder,  # an empty folder
        lambda folder: _fake_clone(folder, setup_cfg="[metadata]\nname = other\n"),
        lambda folder: _fake_clone(folder, pyproject='[tool.x]\nname = "refattn"\n'),
        lambda folder: _project_files_only(folder),
    ],
    ids=["empty", "another-project", "name-outside-project-table", "no-package"],
)
def test_figures_outside_a_clone_requires_out_and_writes_nothing(
    tmp_path, monkeypatch, capsys, make
):
    from refattn.cli import in_a_clone

    monkeypatch.chdir(make(tmp_path))
    assert not in_a_clone()
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(SystemExit) as info:
        main(["figures", "taxonomy"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert "argument --out: required outside a clone of refattn" in err
    assert "--out refattn-figures" in err
    assert sorted(tmp_path.rglob("*")) == before
    # --list needs no folder, and --out is enough anywhere
    assert main(["figures", "--list"]) == 0
    assert main(["figures", "taxonomy", "--out", "mine"]) == 0
    assert (tmp_path / "mine" / "taxonomy.png").is_file()


def test_scaling_figures_name_the_committed_run_they_are_drawn_from(tmp_path, capsys):
    from refattn.figures.scaling import BENCH_JSON, bench_data

    data = bench_data()
    assert BENCH_JSON.parent.name == "data" and BENCH_JSON.parent.parent.name == "refattn"
    assert main(["figures", "taxonomy", "scaling-memory", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    (line,) = [line for line in out.splitlines() if "benchmark run" in line]
    assert line.startswith("scaling-memory: drawn from the committed benchmark run ")
    assert str(BENCH_JSON) in line
    assert data["machine"] in line and f"measured {data['date']}" in line
    assert "taxonomy" not in line
    assert main(["figures", "taxonomy", "--out", str(tmp_path)]) == 0
    assert "benchmark run" not in capsys.readouterr().out  # said only for the scaling figures


def test_scaling_figures_refuse_when_the_committed_run_is_missing(tmp_path, monkeypatch, capsys):
    from refattn.figures import scaling

    monkeypatch.setattr(scaling, "BENCH_JSON", tmp_path / "gone.json")
    with pytest.raises(FileNotFoundError, match="committed benchmark run .*gone.json is missing"):
        scaling.bench_data()
    assert main(["figures", "scaling-time", "--out", str(tmp_path)]) == 1
    assert "reinstall refattn" in capsys.readouterr().err
    assert not (tmp_path / "scaling-time.png").exists()


def test_bench_json_records_its_date_and_repeats(tmp_path):
    import datetime

    path = tmp_path / "run.json"
    assert main(["bench", "--mechanisms", "softmax", "--n", "16", "--repeats", "2",
                 "--json", str(path)]) == 0  # fmt: skip
    data = json.loads(path.read_text())
    assert data["repeats"] == 2
    assert datetime.date.fromisoformat(data["date"]) <= datetime.date.today()


# --- output paths: checked before any work, never a traceback --------------------------


def test_figures_creates_a_missing_nested_out(tmp_path, capsys):
    out = tmp_path / "a" / "b" / "c"
    assert main(["figures", "taxonomy", "--out", str(out)]) == 0
    assert (out / "taxonomy.png").read_bytes()[:4] == b"\x89PNG"


def _usage_error(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    assert info.value.code == 2 and "Traceback" not in captured.err
    assert captured.out == "", "work started before the path was checked"
    return captured.err


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
def test_out_that_cannot_be_created_is_a_usage_error(capsys):
    err = _usage_error(["figures", "exact-memory", "--out", "/proc/refattn-x/y"], capsys)
    assert "argument --out: must be a writable folder (created if missing)" in err
    assert "cannot create anything in /proc" in err


def test_out_below_a_file_is_a_usage_error_and_creates_nothing(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    err = _usage_error(["figures", "taxonomy", "--out", str(blocker / "a" / "b")], capsys)
    assert f"{blocker} is an existing file, not a directory" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_out_probe_leaves_the_folder_as_it_was(tmp_path, capsys):
    assert main(["figures", "no-such-figure", "--out", str(tmp_path)]) == 2
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc")
@pytest.mark.parametrize(
    "mode", [["--quick"], ["--report", "exact"], ["--mechanisms", "softmax", "--n", "16"]]
)
def test_unwritable_json_is_refused_before_any_work(mode, capsys):
    err = _usage_error(["bench", *mode, "--json", "/proc/refattn-x.json"], capsys)
    assert "argument --json: must be a writable file path, got '/proc/refattn-x.json'" in err
    assert "cannot open a file in /proc for writing" in err


def test_json_probe_keeps_an_existing_file_and_leaves_no_new_one(tmp_path, capsys):
    kept, fresh = tmp_path / "kept.json", tmp_path / "fresh.json"
    kept.write_text("old contents")
    for path in (kept, fresh):
        with pytest.raises(SystemExit):
            main(["bench", "--json", str(path), "--heads", "0"])  # --json probed first
    assert kept.read_text() == "old contents" and not fresh.exists()
