"""Bad inputs to refattn.positional: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.positional import (
    add_positions,
    alibi_bias,
    alibi_slopes,
    position_infused_attention,
    position_infused_qk,
    projected_attention,
    relative_scores,
    relative_shift,
    rotary,
    sinusoidal_table,
)

_g = np.random.default_rng(0)
X = _g.standard_normal((5, 4))
W = _g.standard_normal((4, 4))
W_R = _g.standard_normal((4, 3))
U = np.ones(4)
NAN, INF = X.copy(), X.copy()
NAN[1, 2] = np.nan
INF[4, 0] = np.inf
W_NAN, W_INF = W.copy(), W.copy()
W_NAN[0, 1] = np.nan
W_INF[3, 3] = -np.inf
P5 = [0, 1, 2, 3, 4]
FINITE = r"must contain only finite values, got NaN or inf"
NOT_ARRAY = r"must be a numpy or cupy array, got"
FLOAT_DTYPE = r"must have a floating dtype \(float32 or float64\), got"
POSITIONS = r"positions must be a sequence or 1-d array of finite real numbers"
DTYPE = r"dtype must be one of float32, float64, got"
INT1 = r"must be an integer >= 1"
BOOL = r"must be True or False, got"
OVER = r"produced NaN or inf from finite input"
LIMIT = r"elements, more than the 2147483648 \(2\*\*31\)"

# fmt: off
CASES = [
    # sinusoidal_table(positions, d, *, xp, dtype)
    Bad("table-positions-none", sinusoidal_table, None, 4, raises=TypeError, arg="positions",
        match=POSITIONS + r", got None"),
    Bad("table-positions-scalar", sinusoidal_table, 3, 4, raises=TypeError, arg="positions",
        match=POSITIONS + r", got 3"),
    Bad("table-positions-str", sinusoidal_table, "012", 4, raises=TypeError, arg="positions",
        match=POSITIONS + r", got '012'"),
    Bad("table-positions-nan", sinusoidal_table, [0.0, float("nan")], 4, raises=ValueError,
        arg="positions", match=FINITE),
    Bad("table-positions-inf", sinusoidal_table, np.array([np.inf]), 4, raises=ValueError,
        arg="positions", match=FINITE),
    Bad("table-positions-none-inside", sinusoidal_table, [0, None], 4, raises=TypeError,
        arg="positions", match=POSITIONS + r" \(integer, float32 or float64\), got dtype object"),
    Bad("table-positions-bool", sinusoidal_table, [True, False], 4, raises=TypeError,
        arg="positions", match=r"got dtype bool"),
    Bad("table-positions-complex", sinusoidal_table, np.array([1j]), 4, raises=TypeError,
        arg="positions", match=r"got dtype complex128"),
    Bad("table-positions-f16", sinusoidal_table, np.ones(2, np.float16), 4, raises=TypeError,
        arg="positions", match=r"got dtype float16"),
    Bad("table-positions-2d", sinusoidal_table, np.ones((2, 2)), 4, raises=ValueError,
        arg="positions", match=POSITIONS + r", got shape \(2, 2\)"),
    Bad("table-positions-ragged", sinusoidal_table, [[0], [1, 2]], 4, raises=TypeError,
        arg="positions", match=POSITIONS),
    Bad("table-positions-huge", sinusoidal_table, range(10**12), 4, raises=ValueError,
        arg="positions", match=r"\(len 1000000000000\) by d = 4 would hold 4000000000000 " + LIMIT),
    Bad("table-d-huge", sinusoidal_table, [0], 10**12, raises=ValueError, arg="d",
        match=r"by d = 1000000000000 would hold 1000000000000 " + LIMIT),
    Bad("table-d-zero", sinusoidal_table, [0], 0, raises=ValueError, arg="d",
        match=INT1 + ", got 0"),
    Bad("table-d-float", sinusoidal_table, [0], 4.0, raises=TypeError, arg="d",
        match=INT1 + ", got 4.0"),
    Bad("table-d-bool", sinusoidal_table, [0], True, raises=TypeError, arg="d",
        match=INT1 + ", got True"),
    Bad("table-d-nan", sinusoidal_table, [0], float("nan"), raises=TypeError, arg="d",
        match=INT1 + ", got nan"),
    Bad("table-dtype-int", sinusoidal_table, [0], 4, dtype="int64", raises=TypeError, arg="dtype",
        match=DTYPE + r" 'int64'"),
    Bad("table-dtype-f16", sinusoidal_table, [0], 4, dtype=np.float16, raises=TypeError,
        arg="dtype", match=DTYPE),
    Bad("table-dtype-none", sinusoidal_table, [0], 4, dtype=None, raises=TypeError, arg="dtype",
        match=DTYPE + r" None"),
    Bad("table-xp-misspelled", sinusoidal_table, [0], 4, xp="cuppy", raises=ValueError, arg="xp",
        match=r"got 'cuppy' \(did you mean 'cupy'\?\)"),
    # relative_shift(x)
    Bad("shift-none", relative_shift, None, raises=TypeError, arg="x", match=NOT_ARRAY + " None"),
    Bad("shift-list", relative_shift, [[1.0, 2.0]], raises=TypeError, arg="x",
        match=NOT_ARRAY + " list"),
    Bad("shift-1d", relative_shift, np.ones(3), raises=ValueError, arg="x",
        match=r"ndim >= 2, got shape \(3,\)"),
    Bad("shift-more-queries", relative_shift, np.ones((4, 3)), raises=ValueError, arg="x",
        match=r"1 <= n <= m .*got shape \(4, 3\)"),
    Bad("shift-empty", relative_shift, np.ones((0, 3)), raises=ValueError, arg="x",
        match=r"1 <= n <= m .*got shape \(0, 3\)"),
    Bad("shift-int", relative_shift, np.ones((2, 3), int), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " int64"),
    Bad("shift-complex", relative_shift, np.ones((2, 3), complex), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " complex128"),
    Bad("shift-nan", relative_shift, NAN, raises=ValueError, arg="x", match=FINITE),
    # relative_scores(q, k, w_r, u, v, *, r)
    Bad("scores-q-none", relative_scores, None, X, W_R, U, U, raises=TypeError, arg="q",
        match=NOT_ARRAY + " None"),
    Bad("scores-u-list", relative_scores, X, X, W_R, [1.0] * 4, U, raises=TypeError, arg="u",
        match=NOT_ARRAY + " list"),
    Bad("scores-q-1d", relative_scores, X[0], X, W_R, U, U, raises=ValueError, arg="q",
        match=r"ndim >= 2, got shape \(4,\)"),
    Bad("scores-k-1d", relative_scores, X, X[0], W_R, U, U, raises=ValueError, arg="k",
        match=r"ndim >= 2, got shape \(4,\)"),
    Bad("scores-w-r-rows", relative_scores, X, X, np.ones((5, 3)), U, U, raises=ValueError,
        arg="w_r", match=r"w_r \(d, d_r\).*with d = 4, got .*w_r \(5, 3\)"),
    Bad("scores-more-queries", relative_scores, X, X[:3], W_R, U, U, raises=ValueError, arg="n",
        match=r"at least as many keys as queries, got n = 5 and m = 3"),
    Bad("scores-batch", relative_scores, np.ones((2, 5, 4)), np.ones((3, 5, 4)), W_R, U, U,
        raises=ValueError, arg="q", match=r"must broadcast together"),
    Bad("scores-q-int", relative_scores, X.astype(int), X, W_R, U, U, raises=TypeError, arg="q",
        match=FLOAT_DTYPE + " int64"),
    Bad("scores-v-bool", relative_scores, X, X, W_R, U, U > 0, raises=TypeError, arg="v",
        match=FLOAT_DTYPE + " bool"),
    Bad("scores-q-nan", relative_scores, NAN, X, W_R, U, U, raises=ValueError, arg="q",
        match=FINITE),
    Bad("scores-k-inf", relative_scores, X, INF, W_R, U, U, raises=ValueError, arg="k",
        match=FINITE),
    Bad("scores-w-r-nan", relative_scores, X, X, W_NAN[:, :3], U, U, raises=ValueError, arg="w_r",
        match=FINITE),
    Bad("scores-u-inf", relative_scores, X, X, W_R, np.array([0, 0, np.inf, 0]), U,
        raises=ValueError, arg="u", match=FINITE),
    Bad("scores-v-nan", relative_scores, X, X, W_R, U, np.array([np.nan, 0, 0, 0]),
        raises=ValueError, arg="v", match=FINITE),
    Bad("scores-r-shape", relative_scores, X, X, W_R, U, U, r=np.ones((5, 4)), raises=ValueError,
        arg="r", match=r"r must have shape \(m, d_r\) = \(5, 3\) .*got \(5, 4\)"),
    Bad("scores-r-list", relative_scores, X, X, W_R, U, U, r=[[0.0] * 3] * 5, raises=TypeError,
        arg="r", match=NOT_ARRAY + " list"),
    Bad("scores-r-nan", relative_scores, X, X, W_R, U, U, r=np.full((5, 3), np.nan),
        raises=ValueError, arg="r", match=FINITE),
    Bad("scores-overflow", relative_scores, X * 1e200, X * 1e200, W_R, U, U,
        raises=FloatingPointError, arg="relative_scores", match=OVER + r": .*overflows float64"),
    # add_positions(x, *, start)
    Bad("add-x-none", add_positions, None, raises=TypeError, arg="x", match=NOT_ARRAY + " None"),
    Bad("add-x-1d", add_positions, X[0], raises=ValueError, arg="x",
        match=r"ndim >= 2, got shape \(4,\)"),
    Bad("add-x-empty", add_positions, np.ones((0, 4)), raises=ValueError, arg="x",
        match=r"n, d >= 1, got shape \(0, 4\)"),
    Bad("add-x-int", add_positions, X.astype(int), raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " int64"),
    Bad("add-x-nan", add_positions, NAN, raises=ValueError, arg="x", match=FINITE),
    Bad("add-x-inf", add_positions, INF, raises=ValueError, arg="x", match=FINITE),
    Bad("add-start-negative", add_positions, X, start=-1, raises=ValueError, arg="start",
        match=r">= 0 and <= 9007199254740987, got -1"),
    Bad("add-start-huge", add_positions, X, start=10**30, raises=ValueError, arg="start",
        match=r"<= 9007199254740987, got 10{30}"),
    Bad("add-start-float", add_positions, X, start=1.0, raises=TypeError, arg="start",
        match=r"got 1.0"),
    # position_infused_qk(x, positions, w_q, w_k)
    Bad("qk-x-none", position_infused_qk, None, P5, W, W, raises=TypeError, arg="x",
        match=NOT_ARRAY + " None"),
    Bad("qk-w-q-list", position_infused_qk, X, P5, W.tolist(), W, raises=TypeError, arg="w_q",
        match=NOT_ARRAY + " list"),
    Bad("qk-w-k-rows", position_infused_qk, X, P5, W, np.ones((3, 4)), raises=ValueError,
        arg="w_k", match=r"w_k must have shape \(d, ·\) with d = 4 .*got \(3, 4\)"),
    Bad("qk-positions-length", position_infused_qk, X, P5[:4], W, W, raises=ValueError,
        arg="positions", match=r"shape \(n,\) with n = 5 .*got \(4,\)"),
    Bad("qk-positions-none", position_infused_qk, X, None, W, W, raises=TypeError,
        arg="positions", match=POSITIONS + ", got None"),
    Bad("qk-positions-nan", position_infused_qk, X, [0, 1, 2, 3, np.nan], W, W, raises=ValueError,
        arg="positions", match=FINITE),
    Bad("qk-x-int", position_infused_qk, X.astype(int), P5, W, W, raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " int64"),
    Bad("qk-w-q-complex", position_infused_qk, X, P5, W.astype(complex), W, raises=TypeError,
        arg="w_q", match=FLOAT_DTYPE + " complex128"),
    Bad("qk-x-nan", position_infused_qk, NAN, P5, W, W, raises=ValueError, arg="x", match=FINITE),
    Bad("qk-w-q-nan", position_infused_qk, X, P5, W_NAN, W, raises=ValueError, arg="w_q",
        match=FINITE),
    Bad("qk-w-k-inf", position_infused_qk, X, P5, W, W_INF, raises=ValueError, arg="w_k",
        match=FINITE),
    Bad("qk-overflow", position_infused_qk, X * 1e200, P5, W * 1e200, W, raises=FloatingPointError,
        arg="position_infused_qk", match=OVER + r": \(x \+ p\)·W overflow float64"),
    # position_infused_attention(x, w_q, w_k, w_v, *, cache, causal, scale, return_weights)
    Bad("infused-w-v-none", position_infused_attention, X, W, W, None, raises=TypeError,
        arg="w_v", match=NOT_ARRAY + " None"),
    Bad("infused-x-list", position_infused_attention, X.tolist(), W, W, W, raises=TypeError,
        arg="x", match=NOT_ARRAY + " list"),
    Bad("infused-x-1d", position_infused_attention, X[0], W, W, W, raises=ValueError, arg="x",
        match=r"ndim >= 2, got shape \(4,\)"),
    Bad("infused-x-empty", position_infused_attention, np.ones((0, 4)), W, W, W,
        raises=ValueError, arg="x", match=r"n, d >= 1, got shape \(0, 4\)"),
    Bad("infused-w-v-rows", position_infused_attention, X, W, W, np.eye(3), raises=ValueError,
        arg="w_v", match=r"with d = 4 .*got \(3, 3\)"),
    Bad("infused-w-k-width", position_infused_attention, X, W, np.ones((4, 2)), W,
        raises=ValueError, arg="w_k", match=r"same number of columns d_k, got w_q \(4, 4\)"),
    Bad("infused-cache-width", position_infused_attention, X, W, W, W, cache=np.ones((2, 5)),
        raises=ValueError, arg="cache", match=r"with d = 4 \(x.shape\[-1\]\), got \(2, 5\)"),
    Bad("infused-cache-int", position_infused_attention, X, W, W, W, cache=np.ones((2, 4), int),
        raises=TypeError, arg="cache", match=FLOAT_DTYPE + " int64"),
    Bad("infused-x-nan", position_infused_attention, NAN, W, W, W, raises=ValueError, arg="x",
        match=FINITE),
    Bad("infused-cache-inf", position_infused_attention, X, W, W, W, cache=INF,
        raises=ValueError, arg="cache", match=FINITE),
    Bad("infused-w-q-nan", position_infused_attention, X, W_NAN, W, W, raises=ValueError,
        arg="w_q", match=FINITE),
    Bad("infused-w-v-inf", position_infused_attention, X, W, W, W_INF, raises=ValueError,
        arg="w_v", match=FINITE),
    Bad("infused-w-k-bool", position_infused_attention, X, W, W > 0, W, raises=TypeError,
        arg="w_k", match=FLOAT_DTYPE + " bool"),
    Bad("infused-causal-int", position_infused_attention, X, W, W, W, causal=1, raises=TypeError,
        arg="causal", match=BOOL + " 1"),
    Bad("infused-return-weights-str", position_infused_attention, X, W, W, W,
        return_weights="yes", raises=TypeError, arg="return_weights", match=BOOL + " 'yes'"),
    Bad("infused-scale-zero", position_infused_attention, X, W, W, W, scale=0.0,
        raises=ValueError, arg="scale", match=r"> 0 or None, got 0.0"),
    Bad("infused-overflow", position_infused_attention, X, W, W, np.full((4, 4), 1e308),
        raises=FloatingPointError, arg="position_infused_attention",
        match=OVER + r": the projections overflow float64"),
    # projected_attention(h, w_q, w_k, w_v, *, cache, causal, scale)
    Bad("projected-h-none", projected_attention, None, W, W, W, raises=TypeError, arg="h",
        match=NOT_ARRAY + " None"),
    Bad("projected-cache-list", projected_attention, X, W, W, W, cache=[[1.0]], raises=TypeError,
        arg="cache", match=NOT_ARRAY + " list"),
    Bad("projected-w-v-rows", projected_attention, X, W, W, np.eye(2), raises=ValueError,
        arg="w_v", match=r"with d = 4 .*got \(2, 2\)"),
    Bad("projected-h-f16", projected_attention, X.astype(np.float16), W, W, W, raises=TypeError,
        arg="h", match=FLOAT_DTYPE + " float16"),
    Bad("projected-h-nan", projected_attention, NAN, W, W, W, raises=ValueError, arg="h",
        match=FINITE),
    Bad("projected-w-k-inf", projected_attention, X, W, W_INF, W, raises=ValueError, arg="w_k",
        match=FINITE),
    Bad("projected-cache-nan", projected_attention, X, W, W, W, cache=NAN, raises=ValueError,
        arg="cache", match=FINITE),
    Bad("projected-causal-none", projected_attention, X, W, W, W, causal=None, raises=TypeError,
        arg="causal", match=BOOL + " None"),
    Bad("projected-scale-nan", projected_attention, X, W, W, W, scale=float("nan"),
        raises=ValueError, arg="scale", match=r"> 0 or None, got nan"),
    Bad("projected-overflow", projected_attention, X * 1e200, W * 1e200, W, W,
        raises=FloatingPointError, arg="projected_attention",
        match=OVER + r": the projections overflow float64"),
    # rotary(x, positions, *, base)
    Bad("rotary-x-none", rotary, None, P5, raises=TypeError, arg="x", match=NOT_ARRAY + " None"),
    Bad("rotary-x-odd", rotary, np.ones((5, 3)), P5, raises=ValueError, arg="x",
        match=r"even last axis d \(coordinate pairs\), got d = 3"),
    Bad("rotary-x-int", rotary, X.astype(int), P5, raises=TypeError, arg="x",
        match=FLOAT_DTYPE + " int64"),
    Bad("rotary-x-nan", rotary, NAN, P5, raises=ValueError, arg="x", match=FINITE),
    Bad("rotary-x-inf", rotary, INF, P5, raises=ValueError, arg="x", match=FINITE),
    Bad("rotary-positions-none", rotary, X, None, raises=TypeError, arg="positions",
        match=POSITIONS + ", got None"),
    Bad("rotary-positions-inf", rotary, X, [0, 1, 2, 3, np.inf], raises=ValueError,
        arg="positions", match=FINITE),
    Bad("rotary-positions-length", rotary, X, [0, 1], raises=ValueError, arg="positions",
        match=r"with n = 5 .*got \(2,\)"),
    Bad("rotary-positions-str", rotary, X, ["0", "1", "2", "3", "4"], raises=TypeError,
        arg="positions", match=r"got dtype <U1"),
    Bad("rotary-base-one", rotary, X, P5, base=1, raises=ValueError, arg="base",
        match=r"finite real number > 1, got 1"),
    Bad("rotary-base-inf", rotary, X, P5, base=float("inf"), raises=ValueError, arg="base",
        match=r"> 1, got inf"),
    Bad("rotary-base-nan", rotary, X, P5, base=float("nan"), raises=ValueError, arg="base",
        match=r"> 1, got nan"),
    Bad("rotary-base-bool", rotary, X, P5, base=True, raises=TypeError, arg="base",
        match=r"> 1, got True"),
    Bad("rotary-base-str", rotary, X, P5, base="1e4", raises=TypeError, arg="base",
        match=r"> 1, got '1e4'"),
    Bad("rotary-overflow", rotary, np.full((1, 2), 3e38, np.float32), [1],
        raises=FloatingPointError, arg="rotary",
        match=OVER + r": a rotated pair reaches √2·max\|x\|, past float32"),
    # alibi_slopes(heads)
    Bad("slopes-zero", alibi_slopes, 0, raises=ValueError, arg="heads", match=INT1 + r".*got 0"),
    Bad("slopes-float", alibi_slopes, 2.0, raises=TypeError, arg="heads", match=r"got 2.0"),
    Bad("slopes-bool", alibi_slopes, True, raises=TypeError, arg="heads", match=r"got True"),
    Bad("slopes-none", alibi_slopes, None, raises=TypeError, arg="heads", match=r"got None"),
    Bad("slopes-list", alibi_slopes, [8], raises=TypeError, arg="heads", match=r"got \[8\]"),
    Bad("slopes-huge", alibi_slopes, 10**12, raises=ValueError, arg="heads",
        match=r"<= 1048576, got 1000000000000"),
    # alibi_bias(n, m, heads, *, xp, dtype)
    Bad("bias-n-zero", alibi_bias, 0, 2, 1, raises=ValueError, arg="n", match=INT1 + r", got 0"),
    Bad("bias-m-float", alibi_bias, 2, 3.0, 1, raises=TypeError, arg="m", match=r"got 3.0"),
    Bad("bias-heads-nan", alibi_bias, 2, 3, float("nan"), raises=TypeError, arg="heads",
        match=r"got nan"),
    Bad("bias-more-queries", alibi_bias, 3, 2, 1, raises=ValueError, arg="n",
        match=r"at least as many keys as queries, got n = 3 and m = 2"),
    Bad("bias-huge", alibi_bias, 10**6, 10**6, 8, raises=ValueError, arg="heads",
        match=r"alibi_bias\(n = 1000000, m = 1000000, heads = 8\) would hold 8000000000000 "
        + LIMIT),
    Bad("bias-dtype-int", alibi_bias, 2, 3, 1, dtype="int32", raises=TypeError, arg="dtype",
        match=DTYPE + r" 'int32'"),
    Bad("bias-dtype-float", alibi_bias, 2, 3, 1, dtype=2.5, raises=TypeError, arg="dtype",
        match=DTYPE + r" 2.5"),
    Bad("bias-xp-int", alibi_bias, 2, 3, 1, xp=0, raises=TypeError, arg="xp", match=r"got int 0"),
]
# fmt: on


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_dtypes_and_0d_arrays_are_accepted():
    base = sinusoidal_table([0, 3], 6, dtype="float32")
    for d, dtype in ((np.int64(6), np.float32), (np.array(6), np.dtype("float32"))):
        np.testing.assert_array_equal(sinusoidal_table([np.int64(0), 3], d, dtype=dtype), base)
    np.testing.assert_array_equal(
        sinusoidal_table(np.array([0, 3], np.int32), 6, dtype=np.float32), base
    )
    np.testing.assert_array_equal(add_positions(X, start=np.int64(2)), add_positions(X, start=2))
    np.testing.assert_array_equal(add_positions(X, start=np.array(2)), add_positions(X, start=2))
    np.testing.assert_array_equal(rotary(X, P5, base=np.float32(100)), rotary(X, P5, base=100))
    np.testing.assert_array_equal(
        rotary(X, np.arange(5.0), base=np.array(100)), rotary(X, P5, base=100)
    )
    assert alibi_slopes(np.int64(8)) == alibi_slopes(np.array(8)) == alibi_slopes(8)
    np.testing.assert_array_equal(
        alibi_bias(np.int64(2), np.array(3), np.int32(2), dtype=np.float32),
        alibi_bias(2, 3, 2, dtype="float32"),
    )
    np.testing.assert_array_equal(
        position_infused_attention(X, W, W, W, causal=np.bool_(False), scale=np.float32(0.5)),
        position_infused_attention(X, W, W, W, causal=False, scale=0.5),
    )
