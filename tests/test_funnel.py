"""Funnel pooling: pooled queries over full-length keys equal dense attention, in linear memory.

Equation numbers refer to derivations/13-funnel.md.  The oracle's groups, pooled
queries, mask and softmax are built here from the definition, group by group,
with NumPy in float64, not with refattn.funnel's own helpers.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from refattn import complexity, funnel_attention, mechanism
from refattn.backend import peak_memory, rng, to_numpy
from refattn.funnel import pool_last, pool_queries, pooled_length
from refattn.testing import assert_attention_close


def _groups(n, stride, keep_cls):
    """(13.1) the positions each pooled query averages, by the definition."""
    groups = [[0]] if keep_cls else []
    rest = list(range(1 if keep_cls else 0, n))
    groups += [rest[i : i + stride] for i in range(0, len(rest), stride)]
    return groups


def _oracle(q, k, v, *, stride, keep_cls, causal, key_mask, scale):
    """softmax(τ q̄ Kᵀ) V over the allowed keys, float64, one group and one row at a time."""
    q, k, v = (to_numpy(a).astype(np.float64) for a in (q, k, v))
    n, m = q.shape[-2], k.shape[-2]
    groups = _groups(n, stride, keep_cls)
    out = np.zeros(q.shape[:-2] + (len(groups), v.shape[-1]))
    weights = np.zeros(q.shape[:-2] + (len(groups), m))
    for index in np.ndindex(*q.shape[:-2]):
        for g, members in enumerate(groups):
            q_bar = q[index][members].mean(axis=0)  # (13.3)
            allowed = np.ones(m, dtype=bool)
            if causal:
                allowed &= np.arange(m) <= max(members) + (m - n)  # (13.5)
            if key_mask is not None:
                allowed &= to_numpy(key_mask)[index]
            if not allowed.any():
                continue  # (0.7) a row with no key: zeros
            s = scale * (k[index] @ q_bar)  # (m,)
            w = np.where(allowed, np.exp(s - s[allowed].max()), 0.0)
            weights[index + (g,)] = w / w.sum()
            out[index + (g,)] = weights[index + (g,)] @ v[index]
    return out, weights


@st.composite
def funnel_cases(draw):
    n = draw(st.integers(1, 40), label="n")
    m = draw(st.sampled_from([n, n + draw(st.integers(1, 9))]), label="m")
    return {
        "n": n,
        "m": m,
        "stride": draw(st.integers(1, 5), label="stride"),
        "keep_cls": draw(st.booleans(), label="keep_cls"),
        "chunk_size": draw(st.integers(1, 50), label="chunk_size"),
        "causal": draw(st.booleans(), label="causal"),
        "padded": draw(st.booleans(), label="padded"),
        "batch": draw(st.sampled_from([(), (2,), (2, 3)]), label="batch"),
        "scale": draw(st.sampled_from([None, 0.3, 2.0]), label="scale"),
        "dtype": draw(st.sampled_from(["float32", "float64"]), label="dtype"),
        "seed": draw(st.integers(0, 99), label="seed"),
    }


def _inputs(xp, case):
    g = rng(case["seed"], xp)
    batch, n, m, dtype = case["batch"], case["n"], case["m"], case["dtype"]
    q = g.standard_normal(batch + (n, 4), dtype=dtype)
    k = g.standard_normal(batch + (m, 4), dtype=dtype)
    v = g.standard_normal(batch + (m, 3), dtype=dtype)
    key_mask = None
    if case["padded"]:
        keep = np.random.default_rng(case["seed"]).random(batch + (m,)) < 0.7
        key_mask = xp.asarray(keep)
    return q, k, v, key_mask


# --- (13.1)-(13.3) the pooling -----------------------------------------------------------------


@given(n=st.integers(1, 60), stride=st.integers(1, 7), keep_cls=st.booleans())
def test_groups_length_and_last_positions_follow_the_definition(n, stride, keep_cls):
    groups = _groups(n, stride, keep_cls)
    assert pooled_length(n, stride=stride, keep_cls=keep_cls) == len(groups)
    assert pool_last(n, stride=stride, keep_cls=keep_cls).tolist() == [max(g) for g in groups]
    # (13.2)  n' = 1 + ⌈(n − 1)/s⌉ with [CLS] apart, ⌈n/s⌉ without
    expected = 1 + -(-(n - 1) // stride) if keep_cls else -(-n // stride)
    assert len(groups) == expected


def test_the_paper_setting_halves_the_length_and_keeps_cls_apart():
    assert pooled_length(512) == 257  # [CLS] + 511 positions in pairs (the last alone)
    assert pooled_length(513) == 257
    assert pooled_length(512, keep_cls=False) == 256
    x = np.arange(7.0)[:, None]
    assert pool_queries(x).ravel().tolist() == [0.0, 1.5, 3.5, 5.5]
    assert pool_queries(x, keep_cls=False).ravel().tolist() == [0.5, 2.5, 4.5, 6.0]


@given(
    n=st.integers(1, 30),
    stride=st.integers(1, 6),
    keep_cls=st.booleans(),
    batch=st.sampled_from([(), (3,), (2, 1)]),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_pooled_queries_are_the_group_means(xp, n, stride, keep_cls, batch, dtype):
    x = rng(n, xp).standard_normal(batch + (n, 5), dtype=dtype)
    before = to_numpy(x).copy()
    pooled = pool_queries(x, stride=stride, keep_cls=keep_cls)
    assert str(pooled.dtype) == dtype
    host = to_numpy(x).astype(np.float64)
    expected = np.stack([host[..., g, :].mean(axis=-2) for g in _groups(n, stride, keep_cls)], -2)
    assert_attention_close(pooled, expected)
    np.testing.assert_array_equal(to_numpy(x), before)  # not modified


# --- (13.4), (13.5) exact attention of the pooled queries ----------------------------------------


@given(case=funnel_cases())
def test_equals_dense_attention_of_the_pooled_queries(xp, case):
    q, k, v, key_mask = _inputs(xp, case)
    mask = None if key_mask is None else key_mask[..., None, :]
    options = {key: case[key] for key in ("stride", "keep_cls", "chunk_size")}
    out, weights = funnel_attention(
        q, k, v, mask=mask, causal=case["causal"], scale=case["scale"], return_weights=True,
        **options,
    )  # fmt: skip
    expected, expected_w = _oracle(
        q,
        k,
        v,
        stride=case["stride"],
        keep_cls=case["keep_cls"],
        causal=case["causal"],
        key_mask=key_mask,
        scale=case["scale"] or 0.5,  # 1/√d, d = 4
    )
    assert out.shape == case["batch"] + (pooled_length(case["n"], **_pool(case)), 3)
    assert str(out.dtype) == case["dtype"]
    assert_attention_close(out, expected)
    assert_attention_close(weights.to_dense(), expected_w)
    assert_attention_close(weights.to_dense() @ v, out)


def _pool(case):
    return {"stride": case["stride"], "keep_cls": case["keep_cls"]}


def test_a_causal_pooled_query_reads_up_to_its_last_member(xp):
    # n = 9, s = 2, [CLS] apart: groups {0} {1,2} {3,4} {5,6} {7,8}
    q = k = xp.zeros((9, 2))
    v = xp.asarray(np.arange(9.0)[:, None])
    out = funnel_attention(q, k, v, causal=True)
    # equal scores: the mean of the values 0 … last(g)
    np.testing.assert_allclose(to_numpy(out).ravel(), [0.0, 1.0, 2.0, 3.0, 4.0])
    # with a cache of 3 keys before the queries, every limit moves by m − n = 3
    v12 = xp.asarray(np.arange(12.0)[:, None])
    out = funnel_attention(q, xp.zeros((12, 2)), v12, causal=True)
    np.testing.assert_allclose(to_numpy(out).ravel(), [1.5, 2.5, 3.5, 4.5, 5.5])


def test_chunk_size_does_not_change_the_result(xp):
    q, k, v = (rng(s, xp).standard_normal((2, 23, 8)) for s in (1, 2, 3))
    ref = funnel_attention(q, k, v, causal=True, chunk_size=23)
    for chunk in (1, 4, 7, 100):
        assert_attention_close(funnel_attention(q, k, v, causal=True, chunk_size=chunk), ref)


def test_the_registry_entry_pools_and_reports_the_shorter_output(xp):
    attend = mechanism("funnel", stride=3, keep_cls=False)
    q, k, v = (rng(s, xp).standard_normal((10, 4)) for s in (1, 2, 3))
    assert attend.output_length(10) == 4 == attend(q, k, v).shape[-2]
    assert_attention_close(attend.queries(q), pool_queries(q, stride=3, keep_cls=False))
    assert attend.pattern(10, 12, causal=True, xp=xp).shape == (4, 12)
    assert mechanism("softmax").output_length(10) == 10
    assert mechanism("softmax").queries(q) is q


# --- (13.6) memory and flops ---------------------------------------------------------------------


def _peak_bytes(n, **options):
    q, k, v = (rng(s, np).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3))
    return peak_memory(lambda: funnel_attention(q, k, v, **options), np)[1]


@pytest.mark.parametrize(
    "options",
    [{}, {"stride": 4, "keep_cls": False, "chunk_size": 512}],
    ids=["paper", "stride4-chunk512"],
)
def test_memory_is_linear_and_matches_the_formula(options):
    peaks = {}
    cost = {"chunk": options.get("chunk_size", 256), **options}
    cost.pop("chunk_size", None)
    for n in (4096, 8192, 16384):
        peaks[n] = peak = _peak_bytes(n, **options)
        model = 4 * complexity.funnel_memory(n, 64, **cost)
        assert 0.98 * model <= peak <= 1.02 * model, (n, peak, model)  # measured: 1.006–1.010
    assert 1.8 <= peaks[8192] / peaks[4096] <= 2.2
    assert 1.8 <= peaks[16384] / peaks[8192] <= 2.2
    # far below the n'×n scores dense attention of the pooled queries would hold
    assert peaks[16384] < 4 * complexity.dense_attention_memory(8193, 16384, d=64) / 10


def test_flop_formula_is_exact_attention_of_the_pooled_queries():
    n, n_out = 4096, 2049
    # pooling: (n − 1)·d additions and (n' − 1)·d divisions; the [CLS] row is copied
    attend = complexity.chunked_attention_flops(n_out, n, 64, chunk=256)
    assert complexity.funnel_flops(n, chunk=256) == (n - 1) * 64 + (n_out - 1) * 64 + attend
    ratio = complexity.funnel_flops(n) / complexity.dense_attention_flops(n)
    assert 0.5 <= ratio <= 0.52  # half the queries: half the work of this layer


# --- bad inputs ----------------------------------------------------------------------------------


Q, K, V = (np.random.default_rng(0).standard_normal((8, 3)) for _ in range(3))

BAD_INPUTS = {
    "stride-zero": ({"stride": 0}, ValueError, r"stride must be an integer >= 1, got 0"),
    "stride-float": ({"stride": 2.0}, TypeError, r"stride must be an integer >= 1, got 2.0"),
    "keep-cls-int": ({"keep_cls": 1}, TypeError, r"keep_cls must be True or False, got 1"),
    "chunk-zero": ({"chunk_size": 0}, ValueError, r"chunk_size must be an integer >= 1, got 0"),
    "mask-2d": (
        {"mask": np.ones((8, 8), bool)},
        ValueError,
        r"funnel_attention cannot apply a mask of shape \(8, 8\) with a query axis: "
        r"a mask row belongs to one query position",
    ),
    "mask-not-bool": ({"mask": np.ones((1, 8))}, TypeError, r"mask must be a boolean array"),
    "mask-wrong-length": (
        {"mask": np.ones((1, 5), bool)},
        ValueError,
        r"mask must be broadcastable to \(..., n, m\) = \(8, 8\), got shape \(1, 5\)",
    ),
    "scale-negative": (
        {"scale": -1.0},
        ValueError,
        r"scale must be a finite real number > 0 or None, got -1.0",
    ),
    "causal-str": ({"causal": "yes"}, TypeError, r"causal must be True or False, got 'yes'"),
}


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in BAD_INPUTS.items()],
)
def test_funnel_attention_rejects(xp, kwargs, error, fragment):
    kwargs = {
        key: xp.asarray(value) if isinstance(value, np.ndarray) else value
        for key, value in kwargs.items()
    }
    with pytest.raises(error, match=fragment):
        funnel_attention(xp.asarray(Q), xp.asarray(K), xp.asarray(V), **kwargs)


POOL_BAD_INPUTS = {
    "1-d": (
        np.ones(4),
        {},
        ValueError,
        r"x must have shape \(..., n, d\) with ndim >= 2, got shape \(4,\)",
    ),
    "empty": (np.ones((0, 3)), {}, ValueError, r"n \(x.shape\[-2\]\) must be >= 1, got 0"),
    "list": ([[1.0]], {}, TypeError, r"x must be a numpy or cupy array, got list"),
    "stride-negative": (
        np.ones((4, 2)),
        {"stride": -2},
        ValueError,
        r"stride must be an integer >= 1, got -2",
    ),
    "keep-cls-none": (
        np.ones((4, 2)),
        {"keep_cls": None},
        TypeError,
        r"keep_cls must be True or False, got None",
    ),
}


@pytest.mark.parametrize(
    ("x", "kwargs", "error", "fragment"),
    [pytest.param(*case, id=name) for name, case in POOL_BAD_INPUTS.items()],
)
def test_pool_queries_rejects(x, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        pool_queries(x, **kwargs)


@pytest.mark.parametrize(
    ("args", "kwargs", "error", "fragment"),
    [
        pytest.param((0,), {}, ValueError, r"n must be an integer >= 1, got 0", id="n-zero"),
        pytest.param((4,), {"stride": 0}, ValueError, r"stride must be an integer >= 1", id="s0"),
        pytest.param((4.0,), {}, TypeError, r"n must be an integer >= 1, got 4.0", id="n-float"),
    ],
)
def test_pooled_length_rejects(args, kwargs, error, fragment):
    with pytest.raises(error, match=fragment):
        pooled_length(*args, **kwargs)


def test_the_factory_rejects_bad_options():
    with pytest.raises(ValueError, match=r"stride must be an integer >= 1, got 0"):
        mechanism("funnel", stride=0)
    with pytest.raises(TypeError, match=r"keep_cls must be True or False, got 'no'"):
        mechanism("funnel", keep_cls="no")
    with pytest.raises(TypeError, match=r"funnel has no option 'window'"):
        mechanism("funnel", window=3)


# --- figures -------------------------------------------------------------------------------------


def test_the_taxonomy_draws_every_registered_mechanism_in_its_families():
    from refattn.figures import FIGURES
    from refattn.figures.taxonomy import taxonomy, taxonomy_data
    from refattn.mechanisms import FAMILIES, REGISTRY

    data = taxonomy_data()
    assert data["families"] == FAMILIES
    rows = {row["name"]: row for row in data["mechanisms"]}
    assert list(rows) == list(REGISTRY)  # a mechanism registered later appears too
    for name, entry in REGISTRY.items():
        assert rows[name]["families"] == entry.families
        assert rows[name]["memory_order"] == entry.memory_order
        assert rows[name]["exact"] == entry.exact
    assert rows["funnel"]["families"] == ("downsampling",)
    assert "taxonomy" in FIGURES
    fig = taxonomy()
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == list(REGISTRY)


def test_the_funnel_figure_draws_refattns_own_groups_and_costs():
    from refattn.figures import FIGURES
    from refattn.figures.funnel import funnel_cost_data, funnel_pattern_data

    assert "funnel-pooling" in FIGURES
    data = funnel_pattern_data(9)
    expected = np.zeros((5, 9))
    for g, members in enumerate(_groups(9, 2, True)):
        expected[g, members] = 1
    np.testing.assert_array_equal(data["pooling"], expected)
    np.testing.assert_array_equal(
        data["causal"],
        np.arange(9)[None, :] <= np.array([max(g) for g in _groups(9, 2, True)])[:, None],
    )
    cost = funnel_cost_data()
    assert all(0.49 < r < 0.52 for r in cost["flops"][2])


# --- no silent NaN, and no cost from a parameter that changes nothing ----------------------------


def test_pooling_rows_near_the_largest_float_gives_their_finite_mean():
    big = np.finfo(np.float64).max
    x = np.array([[0.0], [big], [big], [0.5 * big], [big], [big], [big]])
    pooled = pool_queries(x, stride=3)
    np.testing.assert_array_equal(pooled[:, 0], [0.0, big * (5 / 6), big])
    pooled32 = pool_queries(np.full((6, 1), 3e38, np.float32), keep_cls=False)
    np.testing.assert_array_equal(pooled32, np.full((3, 1), 3e38, np.float32))


def test_a_stride_past_n_is_one_group_at_no_extra_cost():
    q, k, v = (np.random.default_rng(s).standard_normal((6, 3)) for s in (1, 2, 3))
    for keep_cls in (True, False):
        whole = funnel_attention(q, k, v, stride=6, keep_cls=keep_cls, causal=True)
        huge = funnel_attention(q, k, v, stride=10**30, keep_cls=keep_cls, causal=True)
        np.testing.assert_array_equal(huge, whole)
        assert (
            pool_last(6, stride=10**30, keep_cls=keep_cls).tolist()
            == pool_last(6, stride=6, keep_cls=keep_cls).tolist()
        )
