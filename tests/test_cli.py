"""The command line: refattn info | figures | bench, also as python -m refattn."""

import json
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


def test_unknown_figure_is_an_error_naming_it(capsys):
    assert main(["figures", "no-such-figure"]) == 2
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
    assert main(["bench", "longformer", "--n", "128", "--memory-n", "256", "--repeats", "1"]) == 0
    out = capsys.readouterr().out
    assert "sliding-window attention" in out and "exact attention" not in out


def test_bench_rejects_unknown_reports(capsys):
    assert main(["bench", "reformer"]) == 2
    assert (
        "unknown report(s) ['reformer']; known: exact, longformer, performer"
        in capsys.readouterr().err
    )


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
