"""Bad inputs to refattn.mechanisms: each names the argument, the value and the allowed domain.

Every registered mechanism gets at least six bad options to :func:`mechanism`
(a misspelled option name, whose message lists the valid ones, and wrong
types, NaN, inf, bool, negative, zero and huge values); the configured
callable's methods and the registry's own classes get their tables too.
"""

import dataclasses
import math

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn._validation import Supports
from refattn.mechanisms import (
    REGISTRY,
    Attention,
    Built,
    DenseWeights,
    Mechanism,
    Paper,
    dense_weights,
    mechanism,
    register,
)

NAN, INF, HUGE = math.nan, math.inf, 10**30
Q = np.zeros((6, 4))
NOT_AN_ARRAY = r"must be a numpy or cupy array, got"

# option, value, error, what the message must match (after the option's name)
INT_OPTION = [
    (0, ValueError, r"must be an integer >= 1.*got 0"),
    (-3, ValueError, r"must be an integer >= 1.*got -3"),
    (2.5, TypeError, r"must be an integer >= 1.*got 2.5"),
    (NAN, TypeError, r"must be an integer >= 1.*got nan"),
    (True, TypeError, r"must be an integer >= 1.*got True"),
    ("8", TypeError, r"must be an integer >= 1.*got '8'"),
]


def _ints(option, values=INT_OPTION):
    return [(option, value, error, match) for value, error, match in values]


def _misspelt(name, wrong, right):
    return (
        wrong,
        1,
        TypeError,
        rf"{name} has no option '{wrong}' \(did you mean '{right}'\?\); its options are .*{right}",
    )


FAVOR = [
    _misspelt("{name}", "featurs", "features"),
    *_ints("features")[:5],
    ("features", HUGE, ValueError, r"features must be an integer >= 1 and <= \d+, got 10{30}$"),
    ("features", INF, TypeError, r"must be an integer >= 1.*got inf"),
    ("orthogonal", "yes", TypeError, r"must be True or False, got 'yes'"),
    ("orthogonal", 1, TypeError, r"must be True or False, got 1"),
    ("norms", "chii", ValueError, r"must be one of .*'chi'.*got 'chii' \(did you mean 'chi'\?\)"),
    ("chunk_size", 0, ValueError, r"must be an integer >= 1, got 0"),
    (
        "rng",
        -1,
        ValueError,
        r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got -1",
    ),
    (
        "rng",
        "x",
        TypeError,
        r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got 'x'",
    ),
    (
        "rng",
        1.5,
        TypeError,
        r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got 1.5",
    ),
    (
        "rng",
        NAN,
        TypeError,
        r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got nan",
    ),
    (
        "rng",
        True,
        TypeError,
        r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got True",
    ),
]

OPTIONS = {
    "softmax": [
        (option, 3, TypeError, r"softmax takes no options, got option")
        for option in ("chunk_size", "window", "rng", "features", "causal", "mask")
    ],
    "chunked": [_misspelt("chunked", "chunksize", "chunk_size"), *_ints("chunk_size")],
    "sliding_window": [
        _misspelt("sliding_window", "windw", "window"),
        ("window", -1, ValueError, r"must be an integer >= 0, got -1"),
        ("window", NAN, TypeError, r"must be an integer >= 0, got nan"),
        ("window", INF, TypeError, r"must be an integer >= 0, got inf"),
        ("window", True, TypeError, r"must be an integer >= 0, got True"),
        ("window", 2.0, TypeError, r"must be an integer >= 0, got 2.0"),
        ("dilation", 0, ValueError, r"must be an integer >= 1, got 0"),
        ("global_tokens", 1, TypeError, r"must be a sequence of positions, got 1"),
        ("global_tokens", "0", TypeError, r"must be a sequence of positions, got '0'"),
        ("global_tokens", (0, -1), ValueError, r"\[1\] must be an integer >= 0, got -1"),
        ("global_tokens", (0.5,), TypeError, r"\[0\] must be an integer >= 0, got 0.5"),
    ],
    **{name: FAVOR for name in ("favor", "favor_hyperbolic", "favor_trig", "favor_relu")},
    "linformer": [
        _misspelt("linformer", "max_len", "max_length"),
        *_ints("k")[:4],
        ("k", HUGE, ValueError, r"k must be an integer >= 1 and <= \d+"),
        ("max_length", NAN, TypeError, r"must be an integer >= 1.*got nan"),
        ("max_length", 2**25, ValueError, r"k · max_length must be <= \d+"),
        ("kind", "gausian", ValueError, r"must be one of .*got 'gausian' \(did you mean"),
        ("share_kv", 1, TypeError, r"must be True or False, got 1"),
        (
            "rng",
            True,
            TypeError,
            r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got True",
        ),
    ],
    "xl": [
        _misspelt("xl", "segmnt", "segment"),
        *_ints("segment")[:4],
        ("memory", -1, ValueError, r"must be an integer >= 0, got -1"),
        ("memory", True, TypeError, r"must be an integer >= 0, got True"),
        ("memory", INF, TypeError, r"must be an integer >= 0, got inf"),
    ],
    "compressive": [
        _misspelt("compressive", "compresed", "compressed"),
        ("rate", 0, ValueError, r"must be an integer >= 1, got 0"),
        ("rate", 1.5, TypeError, r"must be an integer >= 1, got 1.5"),
        ("compressed", -1, ValueError, r"must be an integer >= 0, got -1"),
        ("segment", NAN, TypeError, r"must be an integer >= 1, got nan"),
        ("memory", True, TypeError, r"must be an integer >= 0, got True"),
        ("compress", "max", ValueError, r"must be 'mean' or a 1-D float array"),
        ("compress", (0.5, 0.5), ValueError, r"of rate = 4 taps"),
    ],
    "bigbird": [
        _misspelt("bigbird", "blocks", "block"),
        *_ints("block")[:4],
        ("global_blocks", -1, ValueError, r"must be an integer >= 0, got -1"),
        ("r", NAN, TypeError, r"must be an integer >= 0, got nan"),
        ("max_length", HUGE, ValueError, r"must be an integer >= 1 and <= \d+"),
        (
            "rng",
            "x",
            TypeError,
            r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got 'x'",
        ),
        ("random_blocks", [[0]], ValueError, r"must be an integer array \(n_blocks, r\)"),
    ],
    "reformer": [
        _misspelt("reformer", "bucket", "buckets"),
        ("buckets", 3, ValueError, r"must be an even integer >= 2.*got 3"),
        ("buckets", 0, ValueError, r"must be an integer >= 2, got 0"),
        ("buckets", HUGE, ValueError, r"rounds · buckets must be <= \d+"),
        ("chunk", 0, ValueError, r"must be an integer >= 1, got 0"),
        ("rounds", True, TypeError, r"must be an integer >= 1, got True"),
        ("rounds", NAN, TypeError, r"must be an integer >= 1, got nan"),
        ("shared_qk", "no", TypeError, r"must be True or False, got 'no'"),
        (
            "rng",
            -1,
            ValueError,
            r"must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got -1",
        ),
    ],
    "sparse_transformer": [
        _misspelt("sparse_transformer", "strid", "stride"),
        ("kind", "strided2", ValueError, r"got 'strided2'"),
        ("kind", 3, TypeError, r"got 3"),
        ("stride", 0, ValueError, r"must be an integer >= 1, got 0"),
        ("stride", NAN, TypeError, r"must be an integer >= 1, got nan"),
        ("stride", True, TypeError, r"must be an integer >= 1, got True"),
        ("heads", "both", ValueError, r"got 'both'"),
    ],
    "linear": [_misspelt("linear", "chunk", "chunk_size"), *_ints("chunk_size")],
    "funnel": [
        _misspelt("funnel", "strid", "stride"),
        *_ints("stride")[:4],
        ("keep_cls", "yes", TypeError, r"must be True or False, got 'yes'"),
        ("keep_cls", 1, TypeError, r"must be True or False, got 1"),
        ("chunk_size", 0, ValueError, r"must be an integer >= 1, got 0"),
    ],
    "adaptive_span": [
        _misspelt("adaptive_span", "spam", "span"),
        ("span", -1, ValueError, r"got -1"),
        ("span", NAN, ValueError, r"got nan"),
        ("span", "x", TypeError, r"got 'x'"),
        ("span", True, TypeError, r"got True"),
        ("ramp", 0, ValueError, r"got 0"),
        ("ramp", INF, ValueError, r"got inf"),
    ],
}


def _option_cases():
    cases = []
    for name, rows in OPTIONS.items():
        for option, value, error, match in rows:
            match = match.replace("{name}", name)
            cases.append(
                Bad(
                    f"mechanism-{name}-{option}-{value!r:.12}",
                    mechanism,
                    name,
                    **{option: value},
                    raises=error,
                    match=match,
                    arg=option if "has no option" not in match else option,
                )
            )
    return cases


SOFTMAX = mechanism("softmax")
FAVOR_ATTEND = mechanism("favor", features=8, rng=0)
LINFORMER = mechanism("linformer", k=4, max_length=8, rng=0)
FUNNEL = mechanism("funnel", stride=2)
WINDOW = mechanism("sliding_window", window=1)
ENTRY = REGISTRY["softmax"]
PAPER = ENTRY.paper


def _replace_entry(**changes):
    return dataclasses.replace(ENTRY, **changes)


def _replace_paper(**changes):
    return dataclasses.replace(PAPER, **changes)


CASES = [
    *_option_cases(),
    Bad(
        "mechanism-name-misspelt",
        mechanism,
        "favr",
        raises=ValueError,
        arg="name",
        match=r"registered mechanism \(softmax, .*got 'favr' \(did you mean 'favor'\?\)",
    ),
    Bad(
        "mechanism-name-none",
        mechanism,
        None,
        raises=TypeError,
        arg="name",
        match=r"registered mechanism .*got None",
    ),
    Bad("mechanism-name-int", mechanism, 3, raises=TypeError, arg="name", match=r"got 3"),
    # the configured callable's methods
    Bad(
        "attention-memory-n-zero",
        SOFTMAX.memory,
        0,
        raises=ValueError,
        arg="n",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "attention-memory-n-nan",
        SOFTMAX.memory,
        NAN,
        raises=TypeError,
        arg="n",
        match=r"integer >= 1, got nan",
    ),
    Bad(
        "attention-memory-d-bool",
        SOFTMAX.memory,
        16,
        True,
        raises=TypeError,
        arg="d",
        match=r"integer >= 1, got True",
    ),
    Bad(
        "attention-memory-causal-str",
        SOFTMAX.memory,
        16,
        causal="yes",
        raises=TypeError,
        arg="causal",
        match=r"True or False, got 'yes'",
    ),
    Bad(
        "attention-memory-causal-refused",
        LINFORMER.memory,
        16,
        causal=True,
        raises=ValueError,
        arg="causal",
        match=r"cannot be True for linformer: ",
    ),
    Bad(
        "attention-flops-n-inf",
        FAVOR_ATTEND.flops,
        INF,
        raises=TypeError,
        arg="n",
        match=r"integer >= 1, got inf",
    ),
    Bad(
        "attention-flops-d_v-zero",
        FAVOR_ATTEND.flops,
        16,
        4,
        0,
        raises=ValueError,
        arg="d_v",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "attention-flops-causal-int",
        FAVOR_ATTEND.flops,
        16,
        causal=1,
        raises=TypeError,
        arg="causal",
        match=r"True or False, got 1",
    ),
    Bad(
        "attention-flops-causal-refused",
        LINFORMER.flops,
        16,
        causal=True,
        raises=ValueError,
        arg="causal",
        match=r"cannot be True for linformer",
    ),
    Bad(
        "attention-redraw-rng-str",
        FAVOR_ATTEND.redraw,
        "x",
        raises=TypeError,
        arg="rng",
        match=r"None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got 'x'",
    ),
    Bad(
        "attention-redraw-rng-negative",
        SOFTMAX.redraw,
        -2,
        raises=ValueError,
        arg="rng",
        match=r"None, an integer >= 0, a Generator, a SeedSequence or a bit generator, got -2",
    ),
    Bad(
        "attention-draw_for-none",
        FAVOR_ATTEND.draw_for,
        None,
        Q,
        Q,
        raises=TypeError,
        arg="q",
        match=NOT_AN_ARRAY + " None",
    ),
    Bad(
        "attention-draw_for-list",
        FAVOR_ATTEND.draw_for,
        Q,
        [[1.0]],
        Q,
        raises=TypeError,
        arg="k",
        match=NOT_AN_ARRAY + r" list",
    ),
    Bad(
        "attention-draw_for-1d",
        FAVOR_ATTEND.draw_for,
        Q,
        Q,
        np.zeros(4),
        raises=ValueError,
        arg="v",
        match=r"shape \(\.\.\., m, d_v\) with ndim >= 2, got shape \(4,\)",
    ),
    Bad(
        "attention-draw_for-int",
        FAVOR_ATTEND.draw_for,
        Q.astype(int),
        Q,
        Q,
        raises=TypeError,
        arg="q",
        match=r"floating dtype .*got int64",
    ),
    Bad(
        "attention-output_length-zero",
        FUNNEL.output_length,
        0,
        raises=ValueError,
        arg="n",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "attention-output_length-float",
        FUNNEL.output_length,
        8.0,
        raises=TypeError,
        arg="n",
        match=r"integer >= 1, got 8.0",
    ),
    Bad(
        "attention-output_length-bool",
        SOFTMAX.output_length,
        True,
        raises=TypeError,
        arg="n",
        match=r"integer >= 1, got True",
    ),
    Bad(
        "attention-queries-none",
        FUNNEL.queries,
        None,
        raises=TypeError,
        arg="q",
        match=NOT_AN_ARRAY + " None",
    ),
    Bad(
        "attention-queries-1d",
        FUNNEL.queries,
        np.zeros(4),
        raises=ValueError,
        arg="q",
        match=r"ndim >= 2, got shape \(4,\)",
    ),
    Bad(
        "attention-queries-nan",
        SOFTMAX.queries,
        np.full((2, 2), np.nan),
        raises=ValueError,
        arg="q",
        match=r"finite values",
    ),
    Bad(
        "attention-pattern-n-zero",
        WINDOW.pattern,
        0,
        raises=ValueError,
        arg="n",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "attention-pattern-m-nan",
        WINDOW.pattern,
        4,
        NAN,
        raises=TypeError,
        arg="m",
        match=r"integer >= 1, got nan",
    ),
    Bad(
        "attention-pattern-causal-str",
        WINDOW.pattern,
        4,
        causal="no",
        raises=TypeError,
        arg="causal",
        match=r"True or False, got 'no'",
    ),
    Bad(
        "attention-pattern-approximate",
        FAVOR_ATTEND.pattern,
        4,
        raises=ValueError,
        arg="favor",
        match=r"is not exact: it has no dense pattern",
    ),
    Bad(
        "attention-call-q-none",
        SOFTMAX,
        None,
        Q,
        Q,
        raises=TypeError,
        arg="q",
        match=NOT_AN_ARRAY + " None",
        target=Attention,
    ),
    Bad(
        "attention-call-v-nan",
        SOFTMAX,
        Q,
        Q,
        np.full((6, 4), np.nan),
        raises=ValueError,
        arg="v",
        match=r"finite values",
        target=Attention,
    ),
    # check_finite, a bool like return_weights, through the callable and straight to a mechanism
    *(
        Bad(
            f"attention-call-check-finite-{label}",
            attend,
            Q,
            Q,
            Q,
            check_finite=value,
            raises=TypeError,
            arg="check_finite",
            match=rf"True or False, got {match}",
            target=Attention,
        )
        for label, attend, value, match in (
            ("yes", SOFTMAX, "yes", "'yes'"),
            ("none", FAVOR_ATTEND, None, "None"),
            ("one", LINFORMER, 1, "1"),
            ("zero", WINDOW, 0, "0"),
            ("array", FUNNEL, np.array([True, False]), r"an array of shape \(2,\)"),
        )
    ),
    # register
    Bad(
        "register-none",
        register,
        None,
        raises=TypeError,
        arg="entry",
        match=r"must be a Mechanism, got None",
    ),
    Bad(
        "register-name",
        register,
        "softmax",
        raises=TypeError,
        arg="entry",
        match=r"must be a Mechanism, got 'softmax'",
    ),
    Bad(
        "register-dict",
        register,
        {"name": "x"},
        raises=TypeError,
        arg="entry",
        match=r"must be a Mechanism, got \{",
    ),
    Bad(
        "register-int",
        register,
        3,
        raises=TypeError,
        arg="entry",
        match=r"must be a Mechanism, got 3",
    ),
    Bad(
        "register-twice",
        register,
        ENTRY,
        raises=ValueError,
        arg="softmax",
        match=r"is registered twice",
    ),
    Bad(
        "register-class",
        register,
        Mechanism,
        raises=TypeError,
        arg="entry",
        match=r"must be a Mechanism, got <class",
    ),
    # dense_weights
    Bad(
        "dense_weights-none",
        dense_weights,
        None,
        raises=TypeError,
        arg="weights",
        match=NOT_AN_ARRAY + " None",
    ),
    Bad(
        "dense_weights-list",
        dense_weights,
        [[1.0]],
        raises=TypeError,
        arg="weights",
        match=NOT_AN_ARRAY + " list",
    ),
    Bad(
        "dense_weights-scalar",
        dense_weights,
        0.5,
        raises=TypeError,
        arg="weights",
        match=NOT_AN_ARRAY + " float",
    ),
    Bad(
        "dense_weights-1d",
        dense_weights,
        np.ones(3),
        raises=ValueError,
        arg="weights",
        match=r"ndim >= 2, got shape \(3,\)",
    ),
    Bad(
        "dense_weights-0d",
        dense_weights,
        np.array(1.0),
        raises=ValueError,
        arg="weights",
        match=r"ndim >= 2, got shape \(\)",
    ),
    Bad(
        "dense_weights-object",
        dense_weights,
        np.array([[None]]),
        raises=TypeError,
        arg="weights",
        match=r"floating dtype .*got object",
    ),
    Bad(
        "dense_weights-complex",
        dense_weights,
        np.ones((2, 2), complex),
        raises=TypeError,
        arg="weights",
        match=r"floating dtype .*got complex128",
    ),
    # the dataclasses: Mechanism, Paper, Built, DenseWeights
    Bad(
        "Mechanism-name-int",
        _replace_entry,
        name=3,
        raises=TypeError,
        arg="name",
        match=r"str such as 'sliding_window', got 3",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-name-space",
        _replace_entry,
        name="my attention",
        raises=TypeError,
        arg="name",
        match=r"got 'my attention'",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-family-misspelt",
        _replace_entry,
        families=("kernel",),
        raises=ValueError,
        arg="families",
        match=r"got 'kernel' \(did you mean 'kernels'\?\)",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-families-str",
        _replace_entry,
        families="exact",
        raises=TypeError,
        arg="families",
        match=r"non-empty tuple .*got 'exact'",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-exact-int",
        _replace_entry,
        exact=1,
        raises=TypeError,
        arg="exact",
        match=r"True or False, got 1",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-supports-dict",
        _replace_entry,
        supports={},
        raises=TypeError,
        arg="supports",
        match=r"must be a Supports, got \{\}",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-flops-none",
        _replace_entry,
        flops=None,
        raises=TypeError,
        arg="flops",
        match=r"must be callable, got None",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-pattern-missing",
        _replace_entry,
        pattern=None,
        raises=ValueError,
        arg="pattern",
        match=r"must be given for an exact mechanism",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-paper-str",
        _replace_entry,
        paper="Vaswani 2017",
        raises=TypeError,
        arg="paper",
        match=r"must be a Paper, got 'Vaswani 2017'",
        target=Mechanism,
    ),
    Bad(
        "Mechanism-call-option",
        ENTRY,
        window=3,
        raises=TypeError,
        arg="window",
        match=r"softmax takes no options",
        target=Mechanism,
    ),
    Bad(
        "Paper-year-float",
        _replace_paper,
        year=2017.0,
        raises=TypeError,
        arg="year",
        match=r"integer >= 1900 and <= 2100, got 2017.0",
        target=Paper,
    ),
    Bad(
        "Paper-year-small",
        _replace_paper,
        year=17,
        raises=ValueError,
        arg="year",
        match=r"integer >= 1900 and <= 2100, got 17",
        target=Paper,
    ),
    Bad(
        "Paper-year-bool",
        _replace_paper,
        year=True,
        raises=TypeError,
        arg="year",
        match=r"got True",
        target=Paper,
    ),
    Bad(
        "Paper-arxiv-prefixed",
        _replace_paper,
        arxiv="arXiv:1706.03762",
        raises=ValueError,
        arg="arxiv",
        match=r"like '2004.05150' \(YYMM.NNNNN\), got 'arXiv:1706.03762'",
        target=Paper,
    ),
    Bad(
        "Paper-arxiv-float",
        _replace_paper,
        arxiv=1706.03762,
        raises=ValueError,
        arg="arxiv",
        match=r"got 1706.03762",
        target=Paper,
    ),
    Bad(
        "Paper-authors-empty",
        _replace_paper,
        authors="",
        raises=TypeError,
        arg="authors",
        match=r"non-empty str, got ''",
        target=Paper,
    ),
    Bad(
        "Paper-title-none",
        _replace_paper,
        title=None,
        raises=TypeError,
        arg="title",
        match=r"non-empty str, got None",
        target=Paper,
    ),
    Bad(
        "Built-call-none",
        Built,
        None,
        {},
        raises=TypeError,
        arg="call",
        match=r"dict of option name → value, got None",
    ),
    Bad(
        "Built-cost-list",
        Built,
        {},
        [1],
        raises=TypeError,
        arg="cost",
        match=r"dict of option name → value, got \[1\]",
    ),
    Bad(
        "Built-call-int-keys",
        Built,
        {1: 2},
        {},
        raises=TypeError,
        arg="call",
        match=r"dict of option name → value, got \{1: 2\}",
    ),
    Bad(
        "Built-draws-int",
        Built,
        {},
        {},
        3,
        raises=TypeError,
        arg="draws",
        match=r"draw\(q, k, v\) method, got 3",
    ),
    Bad(
        "Built-draws-str",
        Built,
        {},
        {},
        "favor",
        raises=TypeError,
        arg="draws",
        match=r"got 'favor'",
    ),
    Bad(
        "Built-cost-tuple",
        Built,
        {},
        (("k", 1),),
        raises=TypeError,
        arg="cost",
        match=r"got \(\('k', 1\),\)",
    ),
    Bad(
        "DenseWeights-none",
        DenseWeights,
        None,
        raises=TypeError,
        arg="array",
        match=NOT_AN_ARRAY + " None",
    ),
    Bad(
        "DenseWeights-list",
        DenseWeights,
        [[0.5]],
        raises=TypeError,
        arg="array",
        match=NOT_AN_ARRAY + " list",
    ),
    Bad(
        "DenseWeights-1d",
        DenseWeights,
        np.ones(2),
        raises=ValueError,
        arg="array",
        match=r"got shape \(2,\)",
    ),
    Bad(
        "DenseWeights-int",
        DenseWeights,
        np.ones((2, 2), int),
        raises=TypeError,
        arg="array",
        match=r"floating dtype .*got int64",
    ),
    Bad(
        "DenseWeights-bool",
        DenseWeights,
        np.ones((2, 2), bool),
        raises=TypeError,
        arg="array",
        match=r"floating dtype .*got bool",
    ),
    Bad(
        "DenseWeights-float16",
        DenseWeights,
        np.ones((2, 2), np.float16),
        raises=TypeError,
        arg="array",
        match=r"floating dtype .*got float16",
    ),
]


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_every_mechanism_has_six_bad_options():
    assert set(OPTIONS) == set(REGISTRY)
    assert all(len(rows) >= 6 for rows in OPTIONS.values())


def test_numpy_scalars_and_0d_arrays_are_accepted_as_options():
    q = np.random.default_rng(0).standard_normal((12, 4))
    reference = mechanism("favor", features=16, rng=3)(q, q, q)
    for features in (np.int64(16), np.array(16), np.int32(16)):
        for rng in (3, np.int64(3), np.array(3)):
            out = mechanism("favor", features=features, rng=rng, orthogonal=np.bool_(True))(q, q, q)
            np.testing.assert_array_equal(out, reference)
    window = mechanism("sliding_window", window=np.int64(2), global_tokens=(np.int32(0),))
    plain = mechanism("sliding_window", window=2, global_tokens=(0,))
    np.testing.assert_array_equal(window(q, q, q), plain(q, q, q))
    assert window.memory(np.int64(64), np.int32(8)) == plain.memory(64, 8)
    assert isinstance(window.memory(np.int64(64)), int)
    assert mechanism("funnel", stride=np.int64(3)).output_length(np.array(7)) == 3
    assert mechanism("xl", segment=np.int64(4), memory=np.array(2)).flops(16) == mechanism(
        "xl", segment=4, memory=2
    ).flops(16)


def test_a_redraw_checks_its_rng_and_keeps_the_options():
    favor = mechanism("favor", features=8, rng=0)
    assert favor.redraw(np.int64(5)).options == {"features": 8, "rng": np.int64(5)}
    with pytest.raises(
        TypeError,
        match=r"rng must be None, an integer >= 0, a Generator, a SeedSequence or a bit generator",
    ):
        mechanism("softmax").redraw(1.5)


def test_memory_and_flops_refuse_causal_where_the_mechanism_does():
    for name, entry in REGISTRY.items():
        attend = mechanism(name, **entry.examples[0])
        if attend.supports.causal is None:
            assert attend.memory(64, 8, causal=True) > 0
        else:
            with pytest.raises(ValueError, match=r"causal cannot be True"):
                attend.flops(64, 8, causal=True)


def test_registering_a_valid_entry_under_a_new_name_works_and_is_listed():
    entry = dataclasses.replace(ENTRY, name="softmax_copy_for_test")
    try:
        register(entry)
        assert mechanism("softmax_copy_for_test").mechanism is entry
    finally:
        REGISTRY.pop("softmax_copy_for_test", None)
    assert isinstance(Supports(), Supports)
