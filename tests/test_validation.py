"""Bad input gets a clear exception naming the argument, its value and the allowed domain."""

import numpy as np
import pytest

from refattn import chunked_attention, complexity, softmax_attention
from refattn.softmax import softmax


def _qkv(n=4, m=5, d=3, d_v=2, dtype="float64"):
    g = np.random.default_rng(0)
    return (
        g.standard_normal((n, d)).astype(dtype),
        g.standard_normal((m, d)).astype(dtype),
        g.standard_normal((m, d_v)).astype(dtype),
    )


Q, K, V = _qkv()
NAN_Q = Q.copy()
NAN_Q[1, 2] = np.nan
INF_V = V.copy()
INF_V[0, 0] = np.inf

# fmt: off
# (arguments, keyword arguments, error type, message fragment); shared by both attention functions
ATTENTION_CASES = {
    "q-1d": ((Q[0], K, V), {}, ValueError, r"q must have shape \(\.\.\., n, d\) with ndim >= 2, got shape \(3,\)"),
    "k-1d": ((Q, K[0], V), {}, ValueError, r"k must have shape \(\.\.\., m, d\)"),
    "v-1d": ((Q, K, V[0]), {}, ValueError, r"v must have shape \(\.\.\., m, d_v\)"),
    "d-mismatch": ((Q, K[:, :2], V), {}, ValueError, r"k must have the same last axis d as q, got q.shape \(4, 3\) and k.shape \(5, 2\)"),
    "m-mismatch": ((Q, K, V[:4]), {}, ValueError, r"v must have as many rows m as k, got k.shape \(5, 3\) and v.shape \(4, 2\)"),
    "batch-mismatch": ((np.stack([Q, Q]), np.stack([K, K, K]), V), {}, ValueError, r"leading \(batch\) axes must broadcast together, got q \(2,\), k \(3,\), v \(\)"),
    "int-dtype": ((Q.astype(int), K, V), {}, TypeError, r"q must have a floating dtype \(float32 or float64\), got int64"),
    "float16": ((Q, K.astype("float16"), V), {}, TypeError, r"k must have a floating dtype .* got float16"),
    "complex": ((Q, K, V.astype(complex)), {}, TypeError, r"v must have a floating dtype .* got complex128"),
    "list": (([[1.0]], K, V), {}, TypeError, r"q must be a numpy or cupy array, got list"),
    "nan": ((NAN_Q, K, V), {}, ValueError, r"q must contain only finite values, got NaN or inf"),
    "inf": ((Q, K, INF_V), {}, ValueError, r"v must contain only finite values"),
    "empty-n": ((Q[:0], K, V), {}, ValueError, r"n \(q.shape\[-2\]\) must be >= 1, got 0"),
    "empty-d": ((Q[:, :0], K[:, :0], V), {}, ValueError, r"d must be >= 1, got 0"),
    "mask-not-bool": ((Q, K, V), {"mask": np.ones((4, 5))}, TypeError, r"mask must be a boolean array \(True = may attend\), got dtype float64"),
    "mask-shape": ((Q, K, V), {"mask": np.ones((4, 6), bool)}, ValueError, r"mask must be broadcastable to \(\.\.\., n, m\) = \(4, 5\), got shape \(4, 6\)"),
    "mask-grows-batch": ((Q, K, V), {"mask": np.ones((2, 4, 5), bool)}, ValueError, r"mask must be broadcastable to .* = \(4, 5\), got shape \(2, 4, 5\)"),
    "mask-list": ((Q, K, V), {"mask": [[True]]}, TypeError, r"mask must be a numpy or cupy array, got list"),
    "causal-not-bool": ((Q, K, V), {"causal": "yes"}, TypeError, r"causal must be True or False, got 'yes'"),
    "scale-zero": ((Q, K, V), {"scale": 0.0}, ValueError, r"scale must be a finite real number > 0 or None, got 0.0"),
    "scale-nan": ((Q, K, V), {"scale": float("nan")}, ValueError, r"scale must be a finite real number > 0 or None, got nan"),
    "scale-str": ((Q, K, V), {"scale": "1"}, TypeError, r"scale must be a finite real number > 0 or None, got '1'"),
}

CHUNKED_CASES = {
    "chunk-zero": ((Q, K, V), {"chunk_size": 0}, ValueError, r"chunk_size must be an integer >= 1, got 0"),
    "chunk-float": ((Q, K, V), {"chunk_size": 2.5}, TypeError, r"chunk_size must be an integer >= 1, got 2.5"),
    "chunk-bool": ((Q, K, V), {"chunk_size": True}, TypeError, r"chunk_size must be an integer >= 1, got True"),
}

DENSE_CASES = {
    "return-weights-not-bool": ((Q, K, V), {"return_weights": 1}, TypeError, r"return_weights must be True or False, got 1"),
}

SOFTMAX_CASES = {
    "int": ((np.arange(3),), {}, TypeError, r"x must have a floating dtype \(float32 or float64\), got int64"),
    "nan": ((np.array([0.0, np.nan]),), {}, ValueError, r"x must not contain NaN or \+inf \(-inf is allowed and means masked\)"),
    "posinf": ((np.array([0.0, np.inf]),), {}, ValueError, r"x must not contain NaN or \+inf"),
    "0d": ((np.float64(1.0) * np.ones(()),), {}, ValueError, r"x must have ndim >= 1 and no empty axis, got shape \(\)"),
    "empty": ((np.ones((2, 0)),), {}, ValueError, r"x must have ndim >= 1 and no empty axis, got shape \(2, 0\)"),
    "axis-out-of-range": ((np.ones((2, 3)),), {"axis": 2}, ValueError, r"axis must be in \[-2, 1\] for x.ndim 2, got 2"),
    "axis-too-negative": ((np.ones((2, 3)),), {"axis": -3}, ValueError, r"axis must be an integer >= -2, got -3"),
    "axis-float": ((np.ones((2, 3)),), {"axis": 1.0}, TypeError, r"axis must be an integer >= -2, got 1.0"),
    "list": (([1.0, 2.0],), {}, TypeError, r"x must be a numpy or cupy array, got list"),
}
# fmt: on


def _cases(table):
    return [pytest.param(*case, id=name) for name, case in table.items()]


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"), _cases(ATTENTION_CASES | DENSE_CASES)
)
def test_softmax_attention_rejects(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        softmax_attention(*args, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"), _cases(ATTENTION_CASES | CHUNKED_CASES)
)
def test_chunked_attention_rejects(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        chunked_attention(*args, **kwargs)


@pytest.mark.parametrize(("args", "kwargs", "error", "fragment"), _cases(SOFTMAX_CASES))
def test_softmax_rejects(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        softmax(*args, **kwargs)


@pytest.mark.parametrize(
    ("fn", "kwargs", "fragment"),
    [
        (complexity.dense_attention_memory, {"n": 0}, r"n must be an integer >= 1, got 0"),
        (complexity.dense_attention_flops, {"n": 4, "d": -1}, r"d must be an integer >= 1, got -1"),
        (
            complexity.chunked_attention_memory,
            {"n": 4, "m": 0},
            r"m must be an integer >= 1, got 0",
        ),
        (
            complexity.chunked_attention_flops,
            {"n": 4, "chunk": 0},
            r"chunk must be an integer >= 1, got 0",
        ),
    ],
)
def test_complexity_rejects(fn, kwargs, fragment):
    with pytest.raises(ValueError, match=fragment):
        fn(**kwargs)


@pytest.mark.parametrize("fn", [softmax_attention, chunked_attention])
def test_good_edge_inputs_are_accepted(fn):
    # the other side of the table: what the domains allow does run
    q, k, v = _qkv(n=1, m=1, d=1, d_v=1, dtype="float32")
    assert fn(q, k, v, mask=np.ones((), bool), scale=1, causal=True).shape == (1, 1)
    assert fn(q, k, v, mask=np.ones((1,), bool)).shape == (1, 1)
