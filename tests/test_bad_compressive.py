"""Bad inputs to refattn.compressive: each names the argument, the value and the allowed domain."""

import numpy as np
import pytest
from _helpers import Bad, bad_input_params

from refattn.compressive import (
    MemoryState,
    Relative,
    attention_reconstruction_loss,
    compressive_attention,
    compressive_memory_attention,
    conv1d,
    conv1d_loss_and_gradient,
    dilated_conv,
    fit_conv_compressor,
    max_pool,
    mean_pool,
    most_used,
    temporal_range,
    update,
    xl_attention,
)

D = 4
NAN = np.nan
ROWS = np.arange(24.0).reshape(6, D) / 10  # (6, d)
H = ROWS[:3]  # a segment (3, d)
EYE = np.eye(D)
W3 = np.stack([EYE, 2 * EYE, 3 * EYE]) / 6  # conv weights (3, d, d)
STATE = MemoryState.empty(D, n_mem=3, n_cmem=2)
XL_STATE = MemoryState.empty(D, n_mem=3)
EMPTY = np.zeros((0, D))
Q = np.ones((5, D))
STREAM = np.ones((12, D))


def with_value(x, index, value):
    """A copy of ``x`` with ``x[index] = value`` (the NaN and inf cases)."""
    y = np.array(x, dtype=float)
    y[index] = value
    return y


def nan_compressor(rows, rate):
    return np.full((rows.shape[0] // rate, rows.shape[1]), np.nan)


def short_compressor(rows, rate):
    return rows[:1]


def list_compressor(rows, rate):
    return [[0.0] * rows.shape[1]]


def make_state(mem=EMPTY, pending=EMPTY, cmem=EMPTY, n_mem=3, n_cmem=2):
    return MemoryState(mem, pending, cmem, n_mem, n_cmem)


W_R, BIAS = np.ones((D, 6)), np.ones(D)
USAGE = np.linspace(0, 1, 6)


def relative(w_r=W_R, u=BIAS, v=BIAS):
    return Relative(w_r, u, v)


def xl(q=Q, k=Q, v=Q, **kw):
    kw = {"segment": 2, "memory": 1, **kw}
    return xl_attention(q, k, v, **kw)


def cma(q=Q, k=Q, v=Q, **kw):
    kw = {"segment": 2, "memory": 1, "compressed": 1, "rate": 2, **kw}
    return compressive_memory_attention(q, k, v, **kw)


def conv_call(weights=W3, rows=ROWS, rate=3):
    return conv1d(weights)(rows, rate)


def dilated_call(weights=W3[:2], dilation=2, rows=ROWS, rate=3):
    return dilated_conv(weights, dilation)(rows, rate)


def most_used_call(usage=USAGE, rows=ROWS, rate=2):
    return most_used(usage)(rows, rate)


def arl(h=H, old_mem=ROWS, compressed=ROWS[:2], wq=EYE, wk=EYE, wv=EYE):
    return attention_reconstruction_loss(h, old_mem, compressed, wq, wk, wv)


def clg(h=H, old_mem=ROWS, weights=W3, wq=EYE, wk=EYE, wv=EYE):
    return conv1d_loss_and_gradient(h, old_mem, weights, wq, wk, wv)


def fit(stream=STREAM, wq=EYE, wk=EYE, wv=EYE, **kw):
    kw = {"rate": 2, "segment": 4, "steps": 2, **kw}
    return fit_conv_compressor(stream, wq, wk, wv, **kw)


def ca(h=H, state=XL_STATE, wq=EYE, wk=EYE, wv=EYE, **kw):
    return compressive_attention(h, state, wq, wk, wv, **kw)


FINITE = r"must contain only finite values, got NaN or inf"
ARRAY = r"must be a numpy or cupy array, got"
FLOAT = r"must have a floating dtype \(float32 or float64\), got"
MS, RL = MemoryState, Relative

# fmt: off
CASES = [
    # MemoryState: built directly, and by MemoryState.empty
    Bad("state-mem-none", make_state, target=MS, mem=None, raises=TypeError, arg="mem", match=ARRAY + " None"),
    Bad("state-mem-list", make_state, target=MS, mem=[[1.0] * D], raises=TypeError, arg="mem", match=ARRAY + " list"),
    Bad("state-mem-nan", make_state, target=MS, mem=with_value(ROWS[:2], (0, 1), NAN), raises=ValueError, arg="mem", match=FINITE),
    Bad("state-cmem-inf", make_state, target=MS, cmem=with_value(ROWS[:1], (0, 0), np.inf), raises=ValueError, arg="cmem", match=FINITE),
    Bad("state-pending-nan", make_state, target=MS, pending=with_value(ROWS[:1], (0, 0), NAN), raises=ValueError, arg="pending", match=FINITE),
    Bad("state-mem-int", make_state, target=MS, mem=np.ones((2, D), int), raises=TypeError, arg="mem", match=FLOAT + " int64"),
    Bad("state-mem-1d", make_state, target=MS, mem=np.ones(D), raises=ValueError, arg="mem", match=r"shape \(rows, d\) \(ndim 2\), got shape \(4,\)"),
    Bad("state-pending-width", make_state, target=MS, pending=np.ones((1, D + 1)), raises=ValueError, arg="pending", match=r"with d = 4 \(the width of mem\), got shape \(1, 5\)"),
    Bad("state-mem-too-long", make_state, target=MS, mem=ROWS, raises=ValueError, arg="mem", match=r"at most n_mem = 3 rows, got shape \(6, 4\)"),
    Bad("state-cmem-too-long", make_state, target=MS, cmem=ROWS[:3], raises=ValueError, arg="cmem", match=r"at most n_cmem = 2 rows, got shape \(3, 4\)"),
    Bad("state-pending-without-cmem", make_state, target=MS, pending=ROWS[:1], n_cmem=0, raises=ValueError, arg="pending", match=r"empty when n_cmem = 0"),
    Bad("state-n-mem-bool", make_state, target=MS, n_mem=True, raises=TypeError, arg="n_mem", match=r"an integer >= 0, got True"),
    Bad("state-n-cmem-float", make_state, target=MS, n_cmem=2.0, raises=TypeError, arg="n_cmem", match=r"an integer >= 0, got 2.0"),
    Bad("state-n-mem-huge", make_state, target=MS, n_mem=10**12, raises=ValueError, arg="n_mem", match=r"would need 29.1 TiB when full, more than the limit of 1 TiB"),
    Bad("empty-d-zero", MS.empty, 0, n_mem=2, target=MS, raises=ValueError, arg="d", match=r"an integer >= 1, got 0"),
    Bad("empty-d-float", MS.empty, 4.0, n_mem=2, target=MS, raises=TypeError, arg="d", match=r"an integer >= 1, got 4.0"),
    Bad("empty-d-huge", MS.empty, 10**30, n_mem=2, target=MS, raises=ValueError, arg="d", match=r"TiB when full, more than the limit"),
    Bad("empty-n-mem-negative", MS.empty, D, n_mem=-1, target=MS, raises=ValueError, arg="n_mem", match=r"an integer >= 0, got -1"),
    Bad("empty-n-mem-nan", MS.empty, D, n_mem=NAN, target=MS, raises=TypeError, arg="n_mem", match=r"an integer >= 0, got nan"),
    Bad("empty-n-mem-none", MS.empty, D, n_mem=None, target=MS, raises=TypeError, arg="n_mem", match=r"an integer >= 0, got None"),
    Bad("empty-n-mem-huge", MS.empty, D, n_mem=10**12, target=MS, raises=ValueError, arg="n_mem", match=r"1000000000000 \+ 0 rows of width d = 4 in float64 would need"),
    Bad("empty-n-cmem-huge", MS.empty, D, n_mem=2, n_cmem=10**12, target=MS, raises=ValueError, arg="n_cmem", match=r"2 \+ 1000000000000 rows"),
    Bad("empty-n-cmem-bool", MS.empty, D, n_mem=2, n_cmem=False, target=MS, raises=TypeError, arg="n_cmem", match=r"got False"),
    Bad("empty-dtype-float16", MS.empty, D, n_mem=2, dtype="float16", target=MS, raises=TypeError, arg="dtype", match=r"one of float32, float64, got 'float16'"),
    Bad("empty-dtype-int", MS.empty, D, n_mem=2, dtype=int, target=MS, raises=TypeError, arg="dtype", match=r"one of float32, float64"),
    Bad("empty-xp-misspelled", MS.empty, D, n_mem=2, xp="numpi", target=MS, raises=ValueError, arg="backend", match=r"'numpi'"),
    # Relative
    Bad("relative-w-r-none", relative, w_r=None, target=RL, raises=TypeError, arg="w_r", match=ARRAY + " None"),
    Bad("relative-w-r-nan", relative, w_r=with_value(np.ones((D, 6)), (1, 2), NAN), target=RL, raises=ValueError, arg="w_r", match=FINITE),
    Bad("relative-u-inf", relative, u=with_value(np.ones(D), 0, np.inf), target=RL, raises=ValueError, arg="u", match=FINITE),
    Bad("relative-v-nan", relative, v=with_value(np.ones(D), 3, NAN), target=RL, raises=ValueError, arg="v", match=FINITE),
    Bad("relative-w-r-1d", relative, w_r=np.ones(D), target=RL, raises=ValueError, arg="w_r", match=r"shape \(d_k, d_r\) \(ndim 2\), got shape \(4,\)"),
    Bad("relative-u-shape", relative, u=np.ones(D + 1), target=RL, raises=ValueError, arg="u", match=r"shape \(d_k,\) = \(4,\) \(the rows of w_r\), got shape \(5,\)"),
    Bad("relative-v-int", relative, v=np.ones(D, int), target=RL, raises=TypeError, arg="v", match=FLOAT + " int64"),
    Bad("relative-w-r-complex", relative, w_r=np.ones((D, 6), complex), target=RL, raises=TypeError, arg="w_r", match=FLOAT + " complex128"),
    Bad("relative-u-list", relative, u=[1.0] * D, target=RL, raises=TypeError, arg="u", match=ARRAY + " list"),
    # update
    Bad("update-state-none", update, None, H, raises=TypeError, arg="state", match=r"must be a MemoryState .*, got NoneType None"),
    Bad("update-state-array", update, ROWS, H, raises=TypeError, arg="state", match=r"must be a MemoryState .*, got ndarray an array of shape"),
    Bad("update-h-none", update, XL_STATE, None, raises=TypeError, arg="h", match=ARRAY + " None"),
    Bad("update-h-nan", update, XL_STATE, with_value(H, (1, 1), NAN), raises=ValueError, arg="h", match=FINITE),
    Bad("update-h-inf", update, STATE, with_value(H, (0, 3), -np.inf), compress=mean_pool, raises=ValueError, arg="h", match=FINITE),
    Bad("update-h-width", update, XL_STATE, np.ones((3, D + 1)), raises=ValueError, arg="h", match=r"with d = 4 \(the state's width\), got shape \(3, 5\)"),
    Bad("update-h-float16", update, XL_STATE, H.astype(np.float16), raises=TypeError, arg="h", match=FLOAT + " float16"),
    Bad("update-h-empty", update, XL_STATE, EMPTY, raises=ValueError, arg="h", match=r"at least 1 row, got shape \(0, 4\)"),
    Bad("update-rate-zero", update, STATE, H, compress=mean_pool, rate=0, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    Bad("update-rate-float", update, STATE, H, compress=mean_pool, rate=2.5, raises=TypeError, arg="rate", match=r"an integer >= 1, got 2.5"),
    Bad("update-rate-bool", update, STATE, H, compress=mean_pool, rate=True, raises=TypeError, arg="rate", match=r"got True"),
    Bad("update-compress-missing", update, STATE, ROWS, raises=ValueError, arg="compress", match=r"must be given when n_cmem > 0"),
    Bad("update-compress-int", update, STATE, ROWS, compress=3, raises=TypeError, arg="compress", match=r"must be a function \(rows, rate\) .*, got int 3"),
    Bad("update-compress-string", update, STATE, ROWS, compress="mean", raises=TypeError, arg="compress", match=r"got str 'mean'"),
    Bad("update-compress-returns-nan", update, STATE, np.ones((7, D)), compress=nan_compressor, rate=2, raises=FloatingPointError, arg="compress", match=r"NaN or inf"),
    Bad("update-compress-returns-short", update, STATE, np.ones((7, D)), compress=short_compressor, rate=2, raises=ValueError, arg="compress", match=r"shape \(blocks, d\) = \(2, 4\).*got shape \(1, 4\)"),
    Bad("update-compress-returns-list", update, STATE, np.ones((7, D)), compress=list_compressor, rate=2, raises=TypeError, arg="compress", match=r"must return an array .*, got list"),
    # compressive_attention
    Bad("ca-h-none", ca, h=None, target=compressive_attention, raises=TypeError, arg="h", match=ARRAY + " None"),
    Bad("ca-h-nan", ca, h=with_value(H, (2, 0), NAN), target=compressive_attention, raises=ValueError, arg="h", match=FINITE),
    Bad("ca-state-none", ca, state=None, target=compressive_attention, raises=TypeError, arg="state", match=r"must be a MemoryState"),
    Bad("ca-wq-nan", ca, wq=with_value(EYE, (0, 0), NAN), target=compressive_attention, raises=ValueError, arg="wq", match=FINITE),
    Bad("ca-wk-inf", ca, wk=with_value(EYE, (1, 2), np.inf), target=compressive_attention, raises=ValueError, arg="wk", match=FINITE),
    Bad("ca-wv-nan", ca, wv=with_value(EYE, (3, 3), NAN), target=compressive_attention, raises=ValueError, arg="wv", match=FINITE),
    Bad("ca-wk-d-k", ca, wk=np.ones((D, D + 2)), target=compressive_attention, raises=ValueError, arg="wk", match=r"d_k = 4 \(the columns of wq\), got shape \(4, 6\)"),
    Bad("ca-wq-rows", ca, wq=np.ones((D + 1, D)), target=compressive_attention, raises=ValueError, arg="wq", match=r"with d = 4 \(the state's width\) and d_k >= 1, got shape \(5, 4\)"),
    Bad("ca-wv-1d", ca, wv=np.ones(D), target=compressive_attention, raises=ValueError, arg="wv", match=r"shape \(d, d_v\) \(ndim 2\)"),
    Bad("ca-wq-float16", ca, wq=EYE.astype(np.float16), target=compressive_attention, raises=TypeError, arg="wq", match=FLOAT + " float16"),
    Bad("ca-h-int", ca, h=np.ones((3, D), int), target=compressive_attention, raises=TypeError, arg="h", match=FLOAT + " int64"),
    Bad("ca-relative-int", ca, relative=3, target=compressive_attention, raises=TypeError, arg="relative", match=r"a Relative\(w_r, u, v\) or None, got int 3"),
    Bad("ca-relative-width", ca, relative=relative(np.ones((D + 1, 6)), np.ones(D + 1), np.ones(D + 1)), target=compressive_attention, raises=ValueError, arg="relative.w_r", match=r"d_k = 4 \(the columns of wq\), got shape \(5, 6\)"),
    # temporal_range
    Bad("range-layers-zero", temporal_range, layers=0, n_mem=1, n_cmem=1, rate=1, raises=ValueError, arg="layers", match=r"an integer >= 1, got 0"),
    Bad("range-layers-bool", temporal_range, layers=True, n_mem=1, n_cmem=1, rate=1, raises=TypeError, arg="layers", match=r"got True"),
    Bad("range-n-mem-negative", temporal_range, layers=1, n_mem=-4, n_cmem=1, rate=1, raises=ValueError, arg="n_mem", match=r"an integer >= 0, got -4"),
    Bad("range-n-mem-float", temporal_range, layers=1, n_mem=4.5, n_cmem=1, rate=1, raises=TypeError, arg="n_mem", match=r"got 4.5"),
    Bad("range-n-cmem-nan", temporal_range, layers=1, n_mem=1, n_cmem=NAN, rate=1, raises=TypeError, arg="n_cmem", match=r"got nan"),
    Bad("range-rate-zero", temporal_range, layers=1, n_mem=1, n_cmem=1, rate=0, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    Bad("range-rate-string", temporal_range, layers=1, n_mem=1, n_cmem=1, rate="3", raises=TypeError, arg="rate", match=r"got '3'"),
    # max_pool and mean_pool
    Bad("max-rows-none", max_pool, None, 2, raises=TypeError, arg="rows", match=ARRAY + " None"),
    Bad("max-rows-list", max_pool, [[1.0, 2.0]], 1, raises=TypeError, arg="rows", match=ARRAY + " list"),
    Bad("max-rows-nan", max_pool, with_value(ROWS, (5, 3), NAN), 2, raises=ValueError, arg="rows", match=FINITE),
    Bad("max-rows-1d", max_pool, np.ones(6), 2, raises=ValueError, arg="rows", match=r"shape \(e, d\) \(ndim 2\), got shape \(6,\)"),
    Bad("max-rows-bool", max_pool, np.ones((6, D), bool), 2, raises=TypeError, arg="rows", match=FLOAT + " bool"),
    Bad("max-rate-zero", max_pool, ROWS, 0, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    Bad("max-rate-float", max_pool, ROWS, 2.0, raises=TypeError, arg="rate", match=r"got 2.0"),
    Bad("max-rows-partial-block", max_pool, np.ones((7, D)), 2, raises=ValueError, arg="rows", match=r"whole blocks of rate = 2 rows .*got 7 rows: a remainder of 1"),
    Bad("mean-rows-none", mean_pool, None, 2, raises=TypeError, arg="rows", match=ARRAY + " None"),
    Bad("mean-rows-inf", mean_pool, with_value(ROWS, (0, 0), np.inf), 2, raises=ValueError, arg="rows", match=FINITE),
    Bad("mean-rows-complex", mean_pool, ROWS.astype(complex), 2, raises=TypeError, arg="rows", match=FLOAT + " complex128"),
    Bad("mean-rows-3d", mean_pool, ROWS[None], 2, raises=ValueError, arg="rows", match=r"\(ndim 2\), got shape \(1, 6, 4\)"),
    Bad("mean-rate-negative", mean_pool, ROWS, -2, raises=ValueError, arg="rate", match=r"an integer >= 1, got -2"),
    Bad("mean-rate-bool", mean_pool, ROWS, True, raises=TypeError, arg="rate", match=r"got True"),
    Bad("mean-rate-nan", mean_pool, ROWS, NAN, raises=TypeError, arg="rate", match=r"got nan"),
    Bad("mean-rows-short-of-a-block", mean_pool, np.ones((3, D)), 4, raises=ValueError, arg="rows", match=r"whole blocks of rate = 4 rows .*got 3 rows: a remainder of 3"),
    # conv1d: the weights, then the compressor's own arguments
    Bad("conv-weights-none", conv1d, None, raises=TypeError, arg="weights", match=ARRAY + " None"),
    Bad("conv-weights-list", conv1d, [[[1.0]]], raises=TypeError, arg="weights", match=ARRAY + " list"),
    Bad("conv-weights-nan", conv1d, with_value(W3, (2, 1, 0), NAN), raises=ValueError, arg="weights", match=FINITE),
    Bad("conv-weights-inf", conv1d, with_value(W3, (0, 3, 3), np.inf), raises=ValueError, arg="weights", match=FINITE),
    Bad("conv-weights-2d", conv1d, EYE, raises=ValueError, arg="weights", match=r"shape \(c, d, d\) \(ndim 3\), got shape \(4, 4\)"),
    Bad("conv-weights-not-square", conv1d, np.ones((3, D, D + 1)), raises=ValueError, arg="weights", match=r"equal last two axes .*, got shape \(3, 4, 5\)"),
    Bad("conv-weights-empty", conv1d, np.ones((0, D, D)), raises=ValueError, arg="weights", match=r"no empty axis, got shape \(0, 4, 4\)"),
    Bad("conv-weights-int", conv1d, np.ones((3, D, D), int), raises=TypeError, arg="weights", match=FLOAT + " int64"),
    Bad("conv-rows-nan", conv_call, rows=with_value(ROWS, (4, 2), NAN), target=conv1d, raises=ValueError, arg="rows", match=FINITE),
    Bad("conv-rows-none", conv_call, rows=None, target=conv1d, raises=TypeError, arg="rows", match=ARRAY + " None"),
    Bad("conv-rows-width", conv_call, rows=np.ones((6, D + 1)), target=conv1d, raises=ValueError, arg="rows", match=r"need rate 3 and width 4, got rate 3 and rows \(6, 5\)"),
    Bad("conv-rate-other", conv_call, rate=2, target=conv1d, raises=ValueError, arg="rate", match=r"need rate 3 .*, got rate 2"),
    Bad("conv-rate-bool", conv_call, rate=True, target=conv1d, raises=TypeError, arg="rate", match=r"got True"),
    Bad("conv-overflow", conv_call, weights=np.full((3, D, D), 1e300), rows=np.full((6, D), 1e300), target=conv1d, raises=FloatingPointError, arg="conv1d", match=r"NaN or inf from finite input: the weights times the rows overflowed"),
    # dilated_conv
    Bad("dilated-weights-nan", dilated_conv, with_value(W3, (1, 0, 0), NAN), 1, raises=ValueError, arg="weights", match=FINITE),
    Bad("dilated-weights-none", dilated_conv, None, 1, raises=TypeError, arg="weights", match=ARRAY + " None"),
    Bad("dilated-weights-2d", dilated_conv, EYE, 1, raises=ValueError, arg="weights", match=r"shape \(K, d, d\) \(ndim 3\)"),
    Bad("dilated-weights-float16", dilated_conv, W3.astype(np.float16), 1, raises=TypeError, arg="weights", match=FLOAT + " float16"),
    Bad("dilated-dilation-zero", dilated_conv, W3, 0, raises=ValueError, arg="dilation", match=r"an integer >= 1, got 0"),
    Bad("dilated-dilation-bool", dilated_conv, W3, True, raises=TypeError, arg="dilation", match=r"got True"),
    Bad("dilated-dilation-float", dilated_conv, W3, 1.0, raises=TypeError, arg="dilation", match=r"got 1.0"),
    Bad("dilated-dilation-huge", dilated_call, dilation=10**30, target=dilated_conv, raises=ValueError, arg="dilation", match=r"spans 1000000000000000000000000000001 rows, more than the rate 3"),
    Bad("dilated-span", dilated_call, weights=W3, dilation=2, rate=4, target=dilated_conv, raises=ValueError, arg="dilation", match=r"3 taps with dilation 2 spans 5 rows, more than the rate 4"),
    Bad("dilated-rows-inf", dilated_call, rows=with_value(ROWS, (0, 1), np.inf), target=dilated_conv, raises=ValueError, arg="rows", match=FINITE),
    Bad("dilated-rows-width", dilated_call, rows=np.ones((6, D + 2)), target=dilated_conv, raises=ValueError, arg="rows", match=r"d = 4 \(the width of the weights\), got shape \(6, 6\)"),
    Bad("dilated-rate-zero", dilated_call, rate=0, target=dilated_conv, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    # most_used
    Bad("most-used-usage-none", most_used, None, raises=TypeError, arg="usage", match=ARRAY + " None"),
    Bad("most-used-usage-list", most_used, [0.1, 0.9], raises=TypeError, arg="usage", match=ARRAY + " list"),
    Bad("most-used-usage-nan", most_used, np.array([0.1, NAN]), raises=ValueError, arg="usage", match=FINITE),
    Bad("most-used-usage-inf", most_used, np.array([np.inf, 0.1]), raises=ValueError, arg="usage", match=FINITE),
    Bad("most-used-usage-2d", most_used, np.ones((2, 3)), raises=ValueError, arg="usage", match=r"shape \(e\) \(ndim 1\), got shape \(2, 3\)"),
    Bad("most-used-usage-int", most_used, np.ones(6, int), raises=TypeError, arg="usage", match=FLOAT + " int64"),
    Bad("most-used-usage-length", most_used_call, usage=np.ones(5), target=most_used, raises=ValueError, arg="usage", match=r"one entry per row \(6\), got \(5,\)"),
    Bad("most-used-rows-nan", most_used_call, rows=with_value(ROWS, (3, 3), NAN), target=most_used, raises=ValueError, arg="rows", match=FINITE),
    Bad("most-used-rate-zero", most_used_call, rate=0, target=most_used, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    # attention_reconstruction_loss
    Bad("arl-h-none", arl, h=None, target=attention_reconstruction_loss, raises=TypeError, arg="h", match=ARRAY + " None"),
    Bad("arl-h-nan", arl, h=with_value(H, (0, 0), NAN), target=attention_reconstruction_loss, raises=ValueError, arg="h", match=FINITE),
    Bad("arl-old-mem-inf", arl, old_mem=with_value(ROWS, (5, 0), np.inf), target=attention_reconstruction_loss, raises=ValueError, arg="old_mem", match=FINITE),
    Bad("arl-compressed-nan", arl, compressed=with_value(ROWS[:2], (1, 1), NAN), target=attention_reconstruction_loss, raises=ValueError, arg="compressed", match=FINITE),
    Bad("arl-wq-nan", arl, wq=with_value(EYE, (2, 2), NAN), target=attention_reconstruction_loss, raises=ValueError, arg="wq", match=FINITE),
    Bad("arl-wk-inf", arl, wk=with_value(EYE, (2, 1), np.inf), target=attention_reconstruction_loss, raises=ValueError, arg="wk", match=FINITE),
    Bad("arl-wv-nan", arl, wv=with_value(EYE, (0, 3), NAN), target=attention_reconstruction_loss, raises=ValueError, arg="wv", match=FINITE),
    Bad("arl-compressed-width", arl, compressed=np.ones((2, D + 1)), target=attention_reconstruction_loss, raises=ValueError, arg="compressed", match=r"d = 4 \(the width of h\), got shape \(2, 5\)"),
    Bad("arl-compressed-empty", arl, compressed=EMPTY, target=attention_reconstruction_loss, raises=ValueError, arg="compressed", match=r"at least 1 row, got shape \(0, 4\)"),
    Bad("arl-old-mem-list", arl, old_mem=ROWS.tolist(), target=attention_reconstruction_loss, raises=TypeError, arg="old_mem", match=ARRAY + " list"),
    Bad("arl-wk-int", arl, wk=np.eye(D, dtype=int), target=attention_reconstruction_loss, raises=TypeError, arg="wk", match=FLOAT + " int64"),
    Bad("arl-overflow", arl, h=np.full((3, D), 1e200), old_mem=np.full((6, D), 1e200), compressed=np.full((2, D), 1e200), target=attention_reconstruction_loss, raises=FloatingPointError, arg="attention_reconstruction_loss", match=r"NaN or inf from finite input: the projections or the scores overflowed"),
    # conv1d_loss_and_gradient
    Bad("clg-h-none", clg, h=None, target=conv1d_loss_and_gradient, raises=TypeError, arg="h", match=ARRAY + " None"),
    Bad("clg-h-nan", clg, h=with_value(H, (1, 2), NAN), target=conv1d_loss_and_gradient, raises=ValueError, arg="h", match=FINITE),
    Bad("clg-old-mem-inf", clg, old_mem=with_value(ROWS, (0, 0), -np.inf), target=conv1d_loss_and_gradient, raises=ValueError, arg="old_mem", match=FINITE),
    Bad("clg-weights-nan", clg, weights=with_value(W3, (1, 1, 1), NAN), target=conv1d_loss_and_gradient, raises=ValueError, arg="weights", match=FINITE),
    Bad("clg-wq-inf", clg, wq=with_value(EYE, (3, 0), np.inf), target=conv1d_loss_and_gradient, raises=ValueError, arg="wq", match=FINITE),
    Bad("clg-wk-nan", clg, wk=with_value(EYE, (0, 1), NAN), target=conv1d_loss_and_gradient, raises=ValueError, arg="wk", match=FINITE),
    Bad("clg-wv-inf", clg, wv=with_value(EYE, (1, 3), np.inf), target=conv1d_loss_and_gradient, raises=ValueError, arg="wv", match=FINITE),
    Bad("clg-weights-width", clg, weights=np.ones((3, D + 1, D + 1)), target=conv1d_loss_and_gradient, raises=ValueError, arg="weights", match=r"d = 4 \(the width of h\), got shape \(3, 5, 5\)"),
    Bad("clg-weights-2d", clg, weights=EYE, target=conv1d_loss_and_gradient, raises=ValueError, arg="weights", match=r"\(ndim 3\), got shape \(4, 4\)"),
    Bad("clg-old-mem-short", clg, old_mem=ROWS[:2], target=conv1d_loss_and_gradient, raises=ValueError, arg="old_mem", match=r"at least c = 3 rows .*, got shape \(2, 4\)"),
    Bad("clg-wk-d-k", clg, wk=np.ones((D, 2)), target=conv1d_loss_and_gradient, raises=ValueError, arg="wk", match=r"d_k = 4 \(the columns of wq\)"),
    Bad("clg-h-3d", clg, h=H[None], target=conv1d_loss_and_gradient, raises=ValueError, arg="h", match=r"shape \(n, d\) \(ndim 2\)"),
    Bad("clg-overflow", clg, h=np.full((3, D), 1e100), old_mem=np.full((6, D), 1e100), weights=np.full((3, D, D), 1e100), target=conv1d_loss_and_gradient, raises=FloatingPointError, arg="conv1d_loss_and_gradient", match=r"NaN or inf from finite input: .*overflowed"),
    # fit_conv_compressor
    Bad("fit-stream-none", fit, stream=None, target=fit_conv_compressor, raises=TypeError, arg="stream", match=ARRAY + " None"),
    Bad("fit-stream-nan", fit, stream=with_value(STREAM, (11, 3), NAN), target=fit_conv_compressor, raises=ValueError, arg="stream", match=FINITE),
    Bad("fit-stream-1d", fit, stream=np.ones(12), target=fit_conv_compressor, raises=ValueError, arg="stream", match=r"shape \(N, d\) \(ndim 2\)"),
    Bad("fit-stream-int", fit, stream=np.ones((12, D), int), target=fit_conv_compressor, raises=TypeError, arg="stream", match=FLOAT + " int64"),
    Bad("fit-stream-short", fit, stream=np.ones((7, D)), target=fit_conv_compressor, raises=ValueError, arg="stream", match=r"at least 2·segment = 8 rows, got 7"),
    Bad("fit-wq-nan", fit, wq=with_value(EYE, (0, 0), NAN), target=fit_conv_compressor, raises=ValueError, arg="wq", match=FINITE),
    Bad("fit-wk-inf", fit, wk=with_value(EYE, (0, 0), np.inf), target=fit_conv_compressor, raises=ValueError, arg="wk", match=FINITE),
    Bad("fit-wv-rows", fit, wv=np.ones((D + 1, D)), target=fit_conv_compressor, raises=ValueError, arg="wv", match=r"d = 4 \(the width of stream\)"),
    Bad("fit-rate-zero", fit, rate=0, target=fit_conv_compressor, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    Bad("fit-segment-below-rate", fit, segment=1, target=fit_conv_compressor, raises=ValueError, arg="segment", match=r"an integer >= 2, got 1"),
    Bad("fit-steps-zero", fit, steps=0, target=fit_conv_compressor, raises=ValueError, arg="steps", match=r"an integer >= 1 and <= 100000000, got 0"),
    Bad("fit-steps-huge", fit, steps=10**30, target=fit_conv_compressor, raises=ValueError, arg="steps", match=r"an integer >= 1 and <= 100000000, got 1000000000000000000000000000000"),
    Bad("fit-steps-bool", fit, steps=True, target=fit_conv_compressor, raises=TypeError, arg="steps", match=r"got True"),
    Bad("fit-lr-zero", fit, lr=0.0, target=fit_conv_compressor, raises=ValueError, arg="lr", match=r"a finite real number > 0, got 0.0"),
    Bad("fit-lr-negative", fit, lr=-0.1, target=fit_conv_compressor, raises=ValueError, arg="lr", match=r"> 0, got -0.1"),
    Bad("fit-lr-nan", fit, lr=NAN, target=fit_conv_compressor, raises=ValueError, arg="lr", match=r"> 0, got nan"),
    Bad("fit-lr-inf", fit, lr=np.inf, target=fit_conv_compressor, raises=ValueError, arg="lr", match=r"> 0, got inf"),
    Bad("fit-lr-bool", fit, lr=True, target=fit_conv_compressor, raises=TypeError, arg="lr", match=r"got True"),
    Bad("fit-clip-zero", fit, clip=0, target=fit_conv_compressor, raises=ValueError, arg="clip", match=r"> 0, got 0"),
    Bad("fit-clip-negative", fit, clip=-1.0, target=fit_conv_compressor, raises=ValueError, arg="clip", match=r"> 0, got -1.0"),
    Bad("fit-clip-string", fit, clip="1", target=fit_conv_compressor, raises=TypeError, arg="clip", match=r"got '1'"),
    # xl_attention
    Bad("xl-q-none", xl, q=None, target=xl_attention, raises=TypeError, arg="q", match=ARRAY + " None"),
    Bad("xl-q-nan", xl, q=with_value(Q, (4, 3), NAN), target=xl_attention, raises=ValueError, arg="q", match=FINITE),
    Bad("xl-k-inf", xl, k=with_value(Q, (0, 0), np.inf), target=xl_attention, raises=ValueError, arg="k", match=FINITE),
    Bad("xl-v-nan", xl, v=with_value(Q, (2, 1), NAN), target=xl_attention, raises=ValueError, arg="v", match=FINITE),
    Bad("xl-v-list", xl, v=Q.tolist(), target=xl_attention, raises=TypeError, arg="v", match=ARRAY + " list"),
    Bad("xl-q-complex", xl, q=Q.astype(complex), target=xl_attention, raises=TypeError, arg="q", match=FLOAT + " complex128"),
    Bad("xl-k-float16", xl, k=Q.astype(np.float16), target=xl_attention, raises=TypeError, arg="k", match=FLOAT + " float16"),
    Bad("xl-segment-zero", xl, segment=0, target=xl_attention, raises=ValueError, arg="segment", match=r"an integer >= 1, got 0"),
    Bad("xl-segment-float", xl, segment=2.0, target=xl_attention, raises=TypeError, arg="segment", match=r"got 2.0"),
    Bad("xl-segment-nan", xl, segment=NAN, target=xl_attention, raises=TypeError, arg="segment", match=r"got nan"),
    Bad("xl-memory-negative", xl, memory=-1, target=xl_attention, raises=ValueError, arg="memory", match=r"an integer >= 0, got -1"),
    Bad("xl-memory-bool", xl, memory=False, target=xl_attention, raises=TypeError, arg="memory", match=r"got False"),
    Bad("xl-mask-int", xl, mask=np.ones(5, int), target=xl_attention, raises=TypeError, arg="mask", match=r"boolean array .*, got dtype int64"),
    Bad("xl-scale-nan", xl, scale=NAN, target=xl_attention, raises=ValueError, arg="scale", match=r"> 0 or None, got nan"),
    Bad("xl-scale-negative", xl, scale=-1.0, target=xl_attention, raises=ValueError, arg="scale", match=r"> 0 or None, got -1.0"),
    Bad("xl-return-weights-string", xl, return_weights="yes", target=xl_attention, raises=TypeError, arg="return_weights", match=r"True or False, got 'yes'"),
    Bad("xl-overflow", xl, q=np.full((5, D), 1e200), k=np.full((5, D), 1e200), target=xl_attention, raises=FloatingPointError, arg="xl_attention", match=r"NaN or inf from finite input: q·k overflows float64"),
    # compressive_memory_attention
    Bad("cma-q-none", cma, q=None, target=compressive_memory_attention, raises=TypeError, arg="q", match=ARRAY + " None"),
    Bad("cma-k-nan", cma, k=with_value(Q, (1, 1), NAN), target=compressive_memory_attention, raises=ValueError, arg="k", match=FINITE),
    Bad("cma-v-inf", cma, v=with_value(Q, (1, 1), np.inf), target=compressive_memory_attention, raises=ValueError, arg="v", match=FINITE),
    Bad("cma-compressed-negative", cma, compressed=-1, target=compressive_memory_attention, raises=ValueError, arg="compressed", match=r"an integer >= 0, got -1"),
    Bad("cma-compressed-float", cma, compressed=1.5, target=compressive_memory_attention, raises=TypeError, arg="compressed", match=r"got 1.5"),
    Bad("cma-rate-zero", cma, rate=0, target=compressive_memory_attention, raises=ValueError, arg="rate", match=r"an integer >= 1, got 0"),
    Bad("cma-rate-bool", cma, rate=True, target=compressive_memory_attention, raises=TypeError, arg="rate", match=r"got True"),
    Bad("cma-compress-misspelled", cma, compress="maen", target=compressive_memory_attention, raises=ValueError, arg="compress", match=r"'mean' or a 1-D float array .*, got 'maen'"),
    Bad("cma-compress-taps-nan", cma, compress=np.array([0.5, NAN]), target=compressive_memory_attention, raises=ValueError, arg="compress", match=FINITE),
    Bad("cma-compress-taps-inf", cma, compress=np.array([np.inf, 0.5]), target=compressive_memory_attention, raises=ValueError, arg="compress", match=FINITE),
    Bad("cma-compress-tuple-nan", cma, compress=(0.5, NAN), target=compressive_memory_attention, raises=ValueError, arg="compress[1]", match=r"a finite real number, got nan"),
    Bad("cma-compress-tuple-bool", cma, compress=(True, 0.5), target=compressive_memory_attention, raises=TypeError, arg="compress[0]", match=r"a finite real number, got True"),
    Bad("cma-compress-tuple-length", cma, compress=(0.5, 0.25, 0.25), target=compressive_memory_attention, raises=ValueError, arg="compress", match=r"rate = 2 taps .*, got 3 taps"),
    Bad("cma-compress-list", cma, compress=[0.5, 0.5], target=compressive_memory_attention, raises=TypeError, arg="compress", match=r"got list"),
    Bad("cma-compress-float16", cma, compress=np.ones(2, np.float16), target=compressive_memory_attention, raises=TypeError, arg="compress", match=FLOAT + " float16"),
    Bad("cma-compress-2d", cma, compress=np.ones((2, 1)), target=compressive_memory_attention, raises=ValueError, arg="compress", match=r"got an array of shape \(2, 1\)"),
    Bad("cma-mask", cma, mask=np.ones(5, bool), target=compressive_memory_attention, raises=ValueError, arg="compressive_memory_attention", match=r"cannot apply key padding"),
    Bad("cma-causal-int", cma, causal=1, target=compressive_memory_attention, raises=TypeError, arg="causal", match=r"True or False, got 1"),
    Bad("cma-overflow", cma, q=np.full((5, D), 1e200), k=np.full((5, D), 1e200), target=compressive_memory_attention, raises=FloatingPointError, arg="compressive_memory_attention", match=r"NaN or inf from finite input: q·k overflows float64"),
]
# fmt: on

EXEMPT = {
    "refattn.compressive.SegmentWeights": (
        "built only by xl_attention and compressive_memory_attention; to_dense takes no arguments"
    ),
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


# --- the reverse check: valid NumPy scalars and 0-d arrays are accepted ---------------------------


def test_numpy_scalars_and_zero_d_arrays_are_accepted():
    state = MemoryState.empty(np.int64(D), n_mem=np.int32(4), n_cmem=np.array(2), dtype=np.float32)
    assert (state.n_mem, state.n_cmem, state.mem.dtype) == (4, 2, np.float32)
    assert type(state.n_mem) is int and type(state.n_cmem) is int
    built = MemoryState(EMPTY, EMPTY, EMPTY, np.int64(3), np.uint8(1))
    assert (built.n_mem, built.n_cmem) == (3, 1) and type(built.n_mem) is int
    assert MemoryState.empty(D, n_mem=2, dtype=np.dtype("float32")).mem.dtype == np.float32
    after = update(state, ROWS.astype(np.float32), compress=mean_pool, rate=np.int64(2))
    assert after.cmem.shape == (1, D) and after.pending.shape == (0, D)
    plain = update(state, ROWS.astype(np.float32), compress=mean_pool, rate=2)
    assert np.array_equal(after.cmem, plain.cmem)
    assert temporal_range(
        layers=np.int16(2), n_mem=np.array(3), n_cmem=np.uint32(1), rate=np.int64(2)
    ) == 2 * (3 + 2 * 1)
    for pool in (mean_pool, max_pool):
        assert np.array_equal(pool(ROWS, np.int64(2)), pool(ROWS, 2))
        assert np.array_equal(pool(ROWS, np.array(3)), pool(ROWS, 3))
    assert np.array_equal(conv1d(W3)(ROWS, np.int32(3)), conv1d(W3)(ROWS, 3))
    assert np.array_equal(dilated_conv(W3[:2], np.int64(2))(ROWS, 3), dilated_call())
    usage = np.linspace(0, 1, 6)
    assert np.array_equal(most_used(usage)(ROWS, np.int8(2)), most_used(usage)(ROWS, 2))
    q = np.random.default_rng(0).standard_normal((7, D))
    kw = dict(segment=3, memory=2, causal=True)
    expected = xl_attention(q, q, q, **kw)
    got = xl_attention(q, q, q, segment=np.int64(3), memory=np.array(2), causal=np.bool_(True))
    assert np.array_equal(got, expected)
    assert np.array_equal(xl_attention(q, q, q, scale=np.float32(0.5), **kw),
                          xl_attention(q, q, q, scale=0.5, **kw))  # fmt: skip
    taps = (np.float32(0.25), np.float64(0.75))
    ckw = dict(segment=3, memory=2, compressed=np.int64(1), rate=np.int32(2), causal=True)
    got = compressive_memory_attention(q, q, q, compress=taps, **ckw)
    expected = compressive_memory_attention(q, q, q, compress=np.array([0.25, 0.75]), **ckw)
    assert np.array_equal(got, expected)
    zero_d = (np.array(0.25), np.array(0.75))
    assert np.array_equal(compressive_memory_attention(q, q, q, compress=zero_d, **ckw), expected)
    stream = np.random.default_rng(1).standard_normal((8, D))
    weights, losses = fit_conv_compressor(
        stream, EYE, EYE, EYE, rate=np.int64(2), segment=np.int32(4), steps=np.array(2),
        lr=np.float32(0.01), clip=np.array(1.0),
    )  # fmt: skip
    reference = fit_conv_compressor(
        stream, EYE, EYE, EYE, rate=2, segment=4, steps=2, lr=float(np.float32(0.01)), clip=1.0
    )
    assert np.array_equal(weights, reference[0]) and losses == reference[1]


def test_full_memories_built_directly_are_accepted():
    full = MemoryState(ROWS[:3], ROWS[3:4], ROWS[4:6], 3, 2)  # mem and cmem at capacity
    assert full.context(np).shape == (6, D)
    after = update(full, H, compress=mean_pool, rate=2)
    assert after.mem.shape == (3, D) and after.cmem.shape == (2, D)
    assert MemoryState(ROWS[:3], EMPTY, EMPTY, 3, 0).mem.shape == (3, D)


@pytest.mark.parametrize("n_mem", [0, 2**20])
def test_a_large_but_sane_capacity_is_accepted_and_allocates_nothing(n_mem):
    state = MemoryState.empty(512, n_mem=n_mem, n_cmem=n_mem)
    assert state.mem.shape == state.cmem.shape == (0, 512)
