"""Bad inputs to refattn.dropin: each names the argument, the value and the allowed domain.

The experiments take an encoder; here it is the tiny random BERT of
``test_bad_pretrained`` (no MiniLM weights needed), and every bad call is
rejected before the model runs.
"""

import math

import numpy as np
from _helpers import Bad, bad_input_params
from test_bad_pretrained import tiny_encoder

from refattn.dropin import (
    default_sweeps,
    dropin_sweep,
    error_propagation,
    favor_components,
    host,
    relative_error,
)

NAN, INF = math.nan, math.inf
ENCODER = tiny_encoder()
IDS = np.arange(16).reshape(2, 8) % 20
X = np.ones((2, 3))


def _sweep_case(id, sweeps, raises, arg, match):
    return Bad(id, dropin_sweep, ENCODER, IDS, sweeps=sweeps, raises=raises, arg=arg, match=match)


def _ids_cases(func, name):
    return [
        Bad(
            f"{name}-encoder-none",
            func,
            None,
            IDS,
            raises=TypeError,
            arg="encoder",
            match=r"must be an Encoder \(load_minilm\(\)\), got None",
        ),
        Bad(
            f"{name}-encoder-name",
            func,
            "minilm",
            IDS,
            raises=TypeError,
            arg="encoder",
            match=r"got 'minilm'",
        ),
        Bad(
            f"{name}-ids-list",
            func,
            ENCODER,
            IDS.tolist(),
            raises=TypeError,
            arg="ids",
            match=r"numpy or cupy array, got list",
        ),
        Bad(
            f"{name}-ids-float",
            func,
            ENCODER,
            IDS.astype(float),
            raises=TypeError,
            arg="ids",
            match=r"integer array, got dtype float64",
        ),
        Bad(
            f"{name}-ids-out-of-vocab",
            func,
            ENCODER,
            IDS + 100,
            raises=ValueError,
            arg="ids",
            match=r"token ids in \[0, 20\), got values in \[100, 115\]",
        ),
        Bad(
            f"{name}-ids-3d",
            func,
            ENCODER,
            IDS[None],
            raises=ValueError,
            arg="ids",
            match=r"shape \(N, n\) \(ndim 2\), got shape \(1, 2, 8\)",
        ),
    ]


CASES = [
    Bad(
        "default_sweeps-n-small",
        default_sweeps,
        7,
        raises=ValueError,
        arg="n",
        match=r"integer >= 8, got 7",
    ),
    Bad(
        "default_sweeps-n-negative",
        default_sweeps,
        -512,
        raises=ValueError,
        arg="n",
        match=r"integer >= 8, got -512",
    ),
    Bad(
        "default_sweeps-n-float",
        default_sweeps,
        512.0,
        raises=TypeError,
        arg="n",
        match=r"got 512.0",
    ),
    Bad("default_sweeps-n-nan", default_sweeps, NAN, raises=TypeError, arg="n", match=r"got nan"),
    Bad("default_sweeps-n-inf", default_sweeps, INF, raises=TypeError, arg="n", match=r"got inf"),
    Bad(
        "default_sweeps-n-bool", default_sweeps, True, raises=TypeError, arg="n", match=r"got True"
    ),
    Bad(
        "default_sweeps-n-str", default_sweeps, "512", raises=TypeError, arg="n", match=r"got '512'"
    ),
    Bad(
        "relative_error-none",
        relative_error,
        None,
        X,
        raises=TypeError,
        arg="approx",
        match=r"numpy or cupy array, got None",
    ),
    Bad(
        "relative_error-list",
        relative_error,
        X,
        [[1.0]],
        raises=TypeError,
        arg="exact",
        match=r"numpy or cupy array, got list",
    ),
    Bad(
        "relative_error-shapes",
        relative_error,
        X,
        np.ones((3, 2)),
        raises=ValueError,
        arg="approx",
        match=r"shape of exact \(3, 2\), got \(2, 3\)",
    ),
    Bad(
        "relative_error-nan-approx",
        relative_error,
        np.full((2, 3), np.nan),
        X,
        raises=ValueError,
        arg="approx",
        match=r"finite values",
    ),
    Bad(
        "relative_error-inf-exact",
        relative_error,
        X,
        np.full((2, 3), np.inf),
        raises=ValueError,
        arg="exact",
        match=r"finite values",
    ),
    Bad(
        "relative_error-zero-exact",
        relative_error,
        X,
        np.zeros((2, 3)),
        raises=ValueError,
        arg="exact",
        match=r"all zeros: the relative error to zero is undefined",
    ),
    Bad(
        "relative_error-complex",
        relative_error,
        X.astype(complex),
        X,
        raises=TypeError,
        arg="approx",
        match=r"real array .*got dtype complex128",
    ),
    Bad(
        "relative_error-bool",
        relative_error,
        X,
        X > 0,
        raises=TypeError,
        arg="exact",
        match=r"real array .*got dtype bool",
    ),
    *_ids_cases(dropin_sweep, "dropin_sweep"),
    _sweep_case(
        "dropin_sweep-sweeps-list",
        [("favor", None)],
        TypeError,
        "sweeps",
        r"mapping name → \(option, configurations\), got \[",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-name",
        {"favr": (None, ({},))},
        ValueError,
        "sweeps",
        r"registered mechanisms .*got 'favr'",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-entry",
        {"favor": {"features": 8}},
        TypeError,
        "sweeps['favor']",
        r"pair \(size option or None, configurations\)",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-configs",
        {"favor": ("features", {"features": 8})},
        TypeError,
        "sweeps['favor']",
        r"tuple of option dicts",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-size-missing",
        {"favor": ("features", ({"rng": 0},))},
        ValueError,
        "sweeps['favor']",
        r"must set its size option 'features'",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-bad-option",
        {"favor": ("features", ({"features": 0},))},
        ValueError,
        "features",
        r"integer >= 1 and <= \d+, got 0",
    ),
    _sweep_case(
        "dropin_sweep-sweeps-misspelt",
        {"favor": (None, ({"featurs": 8},))},
        TypeError,
        "featurs",
        r"did you mean 'features'",
    ),
    *_ids_cases(error_propagation, "error_propagation"),
    Bad(
        "error_propagation-features-int",
        error_propagation,
        ENCODER,
        IDS,
        features=32,
        raises=TypeError,
        arg="features",
        match=r"tuple of integers >= 1, got 32",
    ),
    Bad(
        "error_propagation-features-zero",
        error_propagation,
        ENCODER,
        IDS,
        features=(0,),
        raises=ValueError,
        arg="features[0]",
        match=r"integer >= 1, got 0",
    ),
    Bad(
        "error_propagation-features-nan",
        error_propagation,
        ENCODER,
        IDS,
        features=(NAN,),
        raises=TypeError,
        arg="features[0]",
        match=r"got nan",
    ),
    Bad(
        "error_propagation-seeds-negative",
        error_propagation,
        ENCODER,
        IDS,
        seeds=(-1,),
        raises=ValueError,
        arg="seeds[0]",
        match=r"integer >= 0, got -1",
    ),
    Bad(
        "error_propagation-seeds-empty",
        error_propagation,
        ENCODER,
        IDS,
        seeds=(),
        raises=ValueError,
        arg="seeds",
        match=r"must not be empty",
    ),
    *_ids_cases(favor_components, "favor_components"),
    Bad(
        "favor_components-layers-out",
        favor_components,
        ENCODER,
        IDS,
        layers=(0, 2),
        raises=ValueError,
        arg="layers[1]",
        match=r"integer >= 0 and <= 1, got 2",
    ),
    Bad(
        "favor_components-layers-int",
        favor_components,
        ENCODER,
        IDS,
        layers=1,
        raises=TypeError,
        arg="layers",
        match=r"tuple of integers >= 0, got 1",
    ),
    Bad(
        "favor_components-layers-bool",
        favor_components,
        ENCODER,
        IDS,
        layers=(True,),
        raises=TypeError,
        arg="layers[0]",
        match=r"got True",
    ),
    Bad(
        "favor_components-features-str",
        favor_components,
        ENCODER,
        IDS,
        features="64",
        raises=TypeError,
        arg="features",
        match=r"got '64'",
    ),
    Bad(
        "favor_components-seeds-float",
        favor_components,
        ENCODER,
        IDS,
        seeds=(0.5,),
        raises=TypeError,
        arg="seeds[0]",
        match=r"got 0.5",
    ),
]


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_integers_are_accepted_and_the_tiny_experiments_run():
    assert default_sweeps(np.int64(64)) == default_sweeps(64)
    assert relative_error(np.array([[3.0, 4.0]]), np.array([[3.0, 0.0]])) == 4.0 / 3.0
    data = error_propagation(ENCODER, IDS, features=(np.int64(8),), seeds=(np.int32(0),))
    assert data["all_layers"].shape == (1, 1, 2) and np.isfinite(data["all_layers"]).all()
    data = favor_components(ENCODER, IDS, features=(8,), seeds=(0, 1), layers=(np.int64(1),))
    assert data["error"].shape == (8, 1, 2, 1, 2) and np.isfinite(data["error"]).all()
    sweep = dropin_sweep(ENCODER, IDS, sweeps={"favor": ("features", ({"features": 8, "rng": 0},))})
    assert isinstance(sweep["cosine"], host.ndarray)
