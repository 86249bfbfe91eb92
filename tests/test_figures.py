"""The figure registry and the data behind each figure."""

import numpy as np
import pytest

from refattn.figures import FIGURES, generate, register
from refattn.figures.exact import exact_memory_data


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
        assert 'skipped, needs no_such_module_xyz (pip install "refattn[pretrained]")' in lines[0]
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
