"""Bad inputs to refattn.longformer: each names the argument, the value and the allowed domain."""

import numpy as np
from _helpers import Bad, bad_input_params

from refattn.longformer import (
    layer_schedule,
    receptive_field,
    sliding_window_attention,
    window_pattern,
)

G = np.random.default_rng(0)
Q, K, V = G.standard_normal((8, 3)), G.standard_normal((8, 3)), G.standard_normal((8, 2))
NAN_V = V.copy()
NAN_V[3, 0] = np.nan
HUGE = np.full((8, 3), 1e20, np.float32)
swa = sliding_window_attention
SCHEDULE = dict(layers=4, heads=4, first_window=2, last_window=8)


def schedule(**kwargs):
    return layer_schedule(**(SCHEDULE | kwargs))


# fmt: off
CASES = [
    # sliding_window_attention: the arrays
    Bad("swa-q-none", swa, None, K, V, window=1, raises=TypeError, arg="q", match=r"numpy or cupy array, got None"),
    Bad("swa-k-list", swa, Q, K.tolist(), V, window=1, raises=TypeError, arg="k", match=r"numpy or cupy array, got list"),
    Bad("swa-v-1d", swa, Q, K, V[:, 0], window=1, raises=ValueError, arg="v", match=r"\(\.\.\., m, d_v\) with ndim >= 2, got shape \(8,\)"),
    Bad("swa-q-int", swa, Q.astype(int), K, V, window=1, raises=TypeError, arg="q", match=r"floating dtype .* got int64"),
    Bad("swa-k-float16", swa, Q, K.astype(np.float16), V, window=1, raises=TypeError, arg="k", match=r"got float16"),
    Bad("swa-v-complex", swa, Q, K, V.astype(complex), window=1, raises=TypeError, arg="v", match=r"got complex128"),
    Bad("swa-q-object", swa, Q.astype(object), K, V, window=1, raises=TypeError, arg="q", match=r"got object"),
    Bad("swa-v-nan", swa, Q, K, NAN_V, window=1, raises=ValueError, arg="v", match=r"only finite values, got NaN or inf"),
    Bad("swa-k-inf", swa, Q, np.full_like(K, np.inf), V, window=1, raises=ValueError, arg="k", match=r"only finite values"),
    Bad("swa-cross", swa, Q, K[:5], V[:5], window=1, raises=ValueError, arg="sliding_window_attention", match=r"as many keys as queries \(m = n\), got n = 8 and m = 5"),
    Bad("swa-mask-2d", swa, Q, K, V, window=1, mask=np.ones((8, 8), bool), raises=ValueError, arg="mask", match=r"with a query axis: an n×m mask cannot be applied in linear time"),
    Bad("swa-mask-float", swa, Q, K, V, window=1, mask=np.ones(8), raises=TypeError, arg="mask", match=r"boolean array"),
    Bad("swa-mask-ambiguous", swa, np.stack([Q] * 2)[:, None], K, V, window=1, mask=np.ones((2, 1, 8), bool), raises=ValueError, arg="mask", match=r"ambiguous for q of shape \(2, 1, 8, 3\)"),
    Bad("swa-overflow", swa, HUGE, HUGE, np.ones((8, 2), np.float32), window=1, raises=FloatingPointError, arg="q·k", match=r"overflows float32: scale·d·max\|q\|·max\|k\| ≈ 1.7e\+40 > 3.4e\+38; rescale"),
    Bad("swa-global-overflow", swa, HUGE, HUGE, np.ones((8, 2), np.float32), window=0, global_tokens=[3], raises=FloatingPointError, arg="q·k", match=r"overflows float32"),
    # the scalars
    Bad("swa-window-missing", swa, Q, K, V, raises=TypeError, arg="window", match=r"missing 1 required keyword-only argument"),
    Bad("swa-window-negative", swa, Q, K, V, window=-1, raises=ValueError, arg="window", match=r"integer >= 0, got -1"),
    Bad("swa-window-float", swa, Q, K, V, window=2.0, raises=TypeError, arg="window", match=r"integer >= 0, got 2.0"),
    Bad("swa-window-nan", swa, Q, K, V, window=float("nan"), raises=TypeError, arg="window", match=r"got nan"),
    Bad("swa-window-bool", swa, Q, K, V, window=True, raises=TypeError, arg="window", match=r"got True"),
    Bad("swa-window-none", swa, Q, K, V, window=None, raises=TypeError, arg="window", match=r"got None"),
    Bad("swa-dilation-zero", swa, Q, K, V, window=1, dilation=0, raises=ValueError, arg="dilation", match=r"integer >= 1, got 0"),
    Bad("swa-dilation-negative", swa, Q, K, V, window=1, dilation=-2, raises=ValueError, arg="dilation", match=r"integer >= 1, got -2"),
    Bad("swa-dilation-inf", swa, Q, K, V, window=1, dilation=float("inf"), raises=TypeError, arg="dilation", match=r"got inf"),
    Bad("swa-dilation-list", swa, Q, K, V, window=1, dilation=[2], raises=TypeError, arg="dilation", match=r"got \[2\]"),
    Bad("swa-scale-zero", swa, Q, K, V, window=1, scale=0.0, raises=ValueError, arg="scale", match=r"> 0 or None, got 0.0"),
    Bad("swa-scale-nan", swa, Q, K, V, window=1, scale=float("nan"), raises=ValueError, arg="scale", match=r"got nan"),
    Bad("swa-causal-str", swa, Q, K, V, window=1, causal="no", raises=TypeError, arg="causal", match=r"True or False, got 'no'"),
    Bad("swa-return-weights-int", swa, Q, K, V, window=1, return_weights=0, raises=TypeError, arg="return_weights", match=r"True or False, got 0"),
    # global tokens and their projections
    Bad("swa-global-int", swa, Q, K, V, window=1, global_tokens=1, raises=TypeError, arg="global_tokens", match=r"sequence of integer positions in \[0, n\) = \[0, 8\) or None, got 1"),
    Bad("swa-global-str", swa, Q, K, V, window=1, global_tokens="01", raises=TypeError, arg="global_tokens", match=r"got '01'"),
    Bad("swa-global-float", swa, Q, K, V, window=1, global_tokens=[1.0], raises=TypeError, arg="global_tokens", match=r"integer positions, got 1.0"),
    Bad("swa-global-bool", swa, Q, K, V, window=1, global_tokens=[True], raises=TypeError, arg="global_tokens", match=r"got True"),
    Bad("swa-global-huge", swa, Q, K, V, window=1, global_tokens=[10**30], raises=ValueError, arg="global_tokens", match=r"positions in \[0, n\) = \[0, 8\), got 10{30}"),
    Bad("swa-global-negative", swa, Q, K, V, window=1, global_tokens=[-1], raises=ValueError, arg="global_tokens", match=r"got -1"),
    Bad("swa-global-repeated", swa, Q, K, V, window=1, global_tokens=[2, 2], raises=ValueError, arg="global_tokens", match=r"must not repeat a position, got 2"),
    Bad("swa-global-2d", swa, Q, K, V, window=1, global_tokens=np.zeros((1, 1), int), raises=ValueError, arg="global_tokens", match=r"1-D sequence of positions, got shape \(1, 1\)"),
    Bad("swa-global-causal", swa, Q, K, V, window=1, global_tokens=[0], causal=True, raises=ValueError, arg="global_tokens", match=r"cannot be combined with causal=True"),
    Bad("swa-global-qkv-alone", swa, Q, K, V, window=1, global_qkv=(Q, K, V), raises=ValueError, arg="global_qkv", match=r"only used with global_tokens"),
    Bad("swa-global-qkv-pair", swa, Q, K, V, window=1, global_tokens=[0], global_qkv=(Q, K), raises=TypeError, arg="global_qkv", match=r"tuple \(q_g, k_g, v_g\), got tuple"),
    Bad("swa-global-qkv-none", swa, Q, K, V, window=1, global_tokens=[0], global_qkv=(None, K, V), raises=TypeError, arg="q_g", match=r"numpy or cupy array, got None"),
    Bad("swa-global-qkv-shape", swa, Q, K, V, window=1, global_tokens=[0], global_qkv=(Q, K[:, :2], V), raises=ValueError, arg="k_g", match=r"shape of k \(8, 3\), got \(8, 2\)"),
    Bad("swa-global-qkv-nan", swa, Q, K, V, window=1, global_tokens=[0], global_qkv=(Q, K, NAN_V), raises=ValueError, arg="v_g", match=r"^global_qkv v_g must contain only finite values"),
    Bad("swa-global-qkv-int", swa, Q, K, V, window=1, global_tokens=[0], global_qkv=(Q.astype(int), K, V), raises=TypeError, arg="q_g", match=r"^global_qkv q_g must have a floating dtype"),
    # window_pattern
    Bad("pattern-n-zero", window_pattern, 0, window=1, raises=ValueError, arg="n", match=r"integer >= 1, got 0"),
    Bad("pattern-n-float", window_pattern, 4.0, window=1, raises=TypeError, arg="n", match=r"got 4.0"),
    Bad("pattern-n-huge", window_pattern, 10**7, window=1, raises=ValueError, arg="n = 10000000", match=r"dense \(n, n\) pattern .* needs 2.24e\+06 GiB, more than"),
    Bad("pattern-window-negative", window_pattern, 5, window=-1, raises=ValueError, arg="window", match=r"integer >= 0, got -1"),
    Bad("pattern-dilation-nan", window_pattern, 5, window=1, dilation=float("nan"), raises=TypeError, arg="dilation", match=r"got nan"),
    Bad("pattern-causal-none", window_pattern, 5, window=1, causal=None, raises=TypeError, arg="causal", match=r"True or False, got None"),
    Bad("pattern-global-range", window_pattern, 5, window=1, global_tokens=[5], raises=ValueError, arg="global_tokens", match=r"\[0, 5\), got 5"),
    Bad("pattern-global-int", window_pattern, 5, window=1, global_tokens=2, raises=TypeError, arg="global_tokens", match=r"got 2"),
    Bad("pattern-xp-misspelled", window_pattern, 5, window=1, xp="nupy", raises=ValueError, arg="backend", match=r"one of \('numpy', 'cupy'\) or None, got 'nupy' \(did you mean 'numpy'\?\)"),
    Bad("pattern-xp-module", window_pattern, 5, window=1, xp=np.random, raises=ValueError, arg="backend", match=r"numpy or cupy module, got <module 'numpy.random'"),
    # layer_schedule
    Bad("schedule-layers-zero", schedule, layers=0, raises=ValueError, arg="layers", match=r"integer >= 1, got 0", target=layer_schedule),
    Bad("schedule-layers-huge", schedule, layers=10**30, raises=ValueError, arg="layers", match=r"layers·heads must be <= 10000000 .*got layers = 10{30} and heads = 4", target=layer_schedule),
    Bad("schedule-heads-huge", schedule, heads=10**8, raises=ValueError, arg="heads", match=r"got layers = 4 and heads = 100000000", target=layer_schedule),
    Bad("schedule-heads-float", schedule, heads=4.0, raises=TypeError, arg="heads", match=r"integer >= 1, got 4.0", target=layer_schedule),
    Bad("schedule-first-window-negative", schedule, first_window=-1, raises=ValueError, arg="first_window", match=r"integer >= 0, got -1", target=layer_schedule),
    Bad("schedule-last-window-nan", schedule, last_window=float("nan"), raises=TypeError, arg="last_window", match=r"got nan", target=layer_schedule),
    Bad("schedule-last-dilation-zero", schedule, last_dilation=0, raises=ValueError, arg="last_dilation", match=r"integer >= 1, got 0", target=layer_schedule),
    Bad("schedule-last-dilation-bool", schedule, last_dilation=True, raises=TypeError, arg="last_dilation", match=r"got True", target=layer_schedule),
    Bad("schedule-dilated-from-negative", schedule, dilated_from=-1, raises=ValueError, arg="dilated_from", match=r"integer >= 0, got -1", target=layer_schedule),
    Bad("schedule-dilated-heads-int", schedule, dilated_heads=1, raises=TypeError, arg="dilated_heads", match=r"list or tuple of integers >= 0, got 1", target=layer_schedule),
    Bad("schedule-dilated-heads-range", schedule, dilated_heads=(4,), raises=ValueError, arg="dilated_heads[0]", match=r"integer >= 0 and <= 3, got 4", target=layer_schedule),
    Bad("schedule-dilated-heads-float", schedule, dilated_heads=(0, 1.0), raises=TypeError, arg="dilated_heads[1]", match=r"got 1.0", target=layer_schedule),
    # receptive_field
    Bad("field-windows-int", receptive_field, 64, raises=TypeError, arg="windows", match=r"list or tuple of integers >= 0, got 64"),
    Bad("field-windows-none", receptive_field, None, raises=TypeError, arg="windows", match=r"got None"),
    Bad("field-windows-negative", receptive_field, [4, -1], raises=ValueError, arg="windows[1]", match=r"integer >= 0, got -1"),
    Bad("field-windows-nan", receptive_field, [float("nan")], raises=TypeError, arg="windows[0]", match=r"got nan"),
    Bad("field-windows-2d", receptive_field, np.ones((2, 2), int), raises=ValueError, arg="windows", match=r"1-D sequence of integers, got shape \(2, 2\)"),
    Bad("field-dilations-zero", receptive_field, [4, 4], [1, 0], raises=ValueError, arg="dilations[1]", match=r"integer >= 1, got 0"),
    Bad("field-dilations-bool", receptive_field, [4], [True], raises=TypeError, arg="dilations[0]", match=r"got True"),
    Bad("field-dilations-length", receptive_field, [4, 4], [1], raises=ValueError, arg="dilations", match=r"one entry per layer \(2\), got 1"),
]
# fmt: on

EXEMPT = {
    "refattn.longformer.LongformerWeights": "a result container built only by sliding_window_attention; its one method, to_dense, takes no arguments",
    "refattn.longformer.LayerSetting": "a record built by layer_schedule, holding the window and dilations it validated",
}


@bad_input_params(CASES)
def test_bad_input(case):
    case.check()


def test_numpy_scalars_are_accepted():
    # the other side of the table: NumPy integers, 0-d arrays and integer arrays are valid
    expected = swa(Q, K, V, window=2, dilation=2, global_tokens=[1, 5])
    for window, dilation, glob in [
        (np.int32(2), np.int64(2), [np.int64(1), np.int16(5)]),
        (np.array(2), np.array(2), np.array([1, 5])),
        (np.uint8(2), np.uint64(2), (np.int32(5), 1)),
    ]:
        got = swa(Q, K, V, window=window, dilation=dilation, global_tokens=glob)
        np.testing.assert_array_equal(got, expected)
    pattern = window_pattern(6, window=1, dilation=2, global_tokens=[0])
    np.testing.assert_array_equal(
        window_pattern(
            np.int64(6), window=np.int32(1), dilation=np.array(2), global_tokens=np.array([0])
        ),
        pattern,
    )
    assert schedule(
        layers=np.int64(4),
        heads=np.int32(4),
        dilated_heads=(np.int64(0),),
        last_dilation=np.int64(3),
    ) == schedule(dilated_heads=(0,), last_dilation=3)
    assert (
        receptive_field(np.array([4, 8]), (np.int64(2), 1)) == receptive_field([4, 8], [2, 1]) == 16
    )
