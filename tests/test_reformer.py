"""Reformer LSH attention against masked dense attention built here, independently (10.1)-(10.8).

The oracle takes the same hashes (:func:`refattn.reformer.lsh_buckets`) and
builds the pattern with Python loops over explicit slot dictionaries: sort
by (bucket, position), chunk ``a`` meets chunks ``a`` and ``a − 1``, same
bucket only; then dense attention with weights ``count_ij·exp(s_ij)``.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from refattn import complexity, lsh_attention, mechanism, softmax_attention
from refattn.backend import peak_memory, to_numpy
from refattn.reformer import SELF_SCORE, lsh_buckets, random_rotations
from refattn.testing import assert_attention_close, assert_unbiased, vector_pair, ztest


def dense_lsh_oracle(
    q, k, v, rotations, *, chunk, causal=False, scale=None, keep=None, shared_qk=True
):
    """Weights and output of LSH attention for one sequence, from the pattern written out."""
    q, k, v = (to_numpy(a).astype(np.float64) for a in (q, k, v))
    n, d = q.shape
    tau = d**-0.5 if scale is None else scale
    b = 2 * rotations.shape[-1]
    keep = np.ones(n, dtype=bool) if keep is None else np.asarray(keep)
    hq = to_numpy(lsh_buckets(q, rotations))
    hk = hq if shared_qk else to_numpy(lsh_buckets(k, rotations))
    if shared_qk:
        norms = np.linalg.norm(q, axis=1, keepdims=True)
        keys = q / np.where(norms == 0, 1, norms)
    else:
        keys = k
    s = tau * q @ keys.T
    if shared_qk:
        np.fill_diagonal(s, SELF_SCORE)
    count = np.zeros((n, n))
    for r in range(rotations.shape[0]):
        bq = [int(hq[r, i]) if keep[i] else b for i in range(n)]  # padding: a bucket of its own
        bk = [int(hk[r, j]) if keep[j] else b for j in range(n)]
        q_slot = {p: slot for slot, p in enumerate(sorted(range(n), key=lambda p: (bq[p], p)))}
        k_slot = {p: slot for slot, p in enumerate(sorted(range(n), key=lambda p: (bk[p], p)))}
        for i in range(n):
            for j in range(n):
                own, other = q_slot[i] // chunk, k_slot[j] // chunk
                if (
                    keep[j]
                    and bq[i] == bk[j]
                    and other in (own, own - 1)
                    and not (causal and j > i)
                ):
                    count[i, j] += 1  # once per round in which the pair meets (10.5)
    logits = np.where(count > 0, s, -np.inf)
    top = logits.max(axis=1, keepdims=True)
    w = count * np.exp(logits - np.where(np.isinf(top), 0, top))
    total = w.sum(axis=1, keepdims=True)
    w /= np.where(total == 0, 1, total)
    dense_lsh_oracle.count = count  # the pattern, for tests that need it
    return w @ v, w


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 28),
    d=st.integers(1, 5),
    half=st.integers(1, 4),
    rounds=st.integers(1, 4),
    chunk=st.integers(1, 9),
    causal=st.booleans(),
    shared_qk=st.booleans(),
    padding=st.integers(0, 5),
    seed=st.integers(0, 2**16),
)
def test_equals_masked_dense_attention_built_independently(
    xp, n, d, half, rounds, chunk, causal, shared_qk, padding, seed
):
    causal = causal and shared_qk  # separate keys refuse causal (10.2)
    g = np.random.default_rng(seed)
    q, k, v = (g.standard_normal((n, w)) for w in (d, d, 3))
    keep = g.random(n) >= padding / 10  # padding anywhere, up to about half the keys
    rotations = random_rotations(d, buckets=2 * half, rounds=rounds, rng=seed)
    out, weights = lsh_attention(
        *(xp.asarray(a) for a in (q, k, v)),
        mask=xp.asarray(keep[None, :]),
        causal=causal,
        chunk=chunk,
        rotations=xp.asarray(rotations),
        shared_qk=shared_qk,
        return_weights=True,
    )
    want, w = dense_lsh_oracle(
        q, k, v, rotations, chunk=chunk, causal=causal, keep=keep, shared_qk=shared_qk
    )
    assert_attention_close(out, want)
    assert_attention_close(weights.to_dense(), w)
    # the pattern itself is equal exactly: the same pairs get weight, no more, no less
    np.testing.assert_array_equal(to_numpy(weights.to_dense()) > 0, to_numpy(w) > 0)


def test_batched_float32_call_equals_the_oracle_per_sequence(xp):
    g = np.random.default_rng(1)
    q = g.standard_normal((2, 3, 17, 4)).astype(np.float32)
    v = g.standard_normal((3, 17, 2)).astype(np.float32)
    keep = np.ones((2, 1, 1, 17), dtype=bool)
    keep[0, ..., 12:] = False
    rotations = random_rotations(4, buckets=4, rounds=2, rng=3, dtype="float32")
    out = lsh_attention(
        xp.asarray(q),
        xp.asarray(q),
        xp.asarray(v),
        mask=xp.asarray(keep),
        causal=True,
        chunk=3,
        rotations=xp.asarray(rotations),
    )
    assert out.shape == (2, 3, 17, 2) and str(out.dtype) == "float32"
    for a in range(2):
        for h in range(3):
            want, _ = dense_lsh_oracle(
                q[a, h], q[a, h], v[h], rotations, chunk=3, causal=True, keep=keep[a, 0, 0]
            )
            assert_attention_close(out[a, h], want.astype(np.float32))


def test_hash_is_the_argmax_over_rotated_and_negated(xp):
    g = np.random.default_rng(2)
    x = g.standard_normal((3, 50, 6))
    rotations = random_rotations(6, buckets=10, rounds=4, rng=5)
    got = to_numpy(lsh_buckets(xp.asarray(x), xp.asarray(rotations)))
    for r in range(4):
        proj = x @ rotations[r]
        np.testing.assert_array_equal(got[r], np.argmax(np.concatenate([proj, -proj], -1), -1))
    # angular: a positive multiple hashes alike, the negation moves by b/2
    np.testing.assert_array_equal(
        to_numpy(lsh_buckets(xp.asarray(3 * x), xp.asarray(rotations))), got
    )
    np.testing.assert_array_equal(
        to_numpy(lsh_buckets(xp.asarray(-x), xp.asarray(rotations))), (got + 5) % 10
    )


def test_self_is_attended_only_when_nothing_else_is(xp):
    # the first causal query has only itself: output v_0; with others available, self weighs 0
    g = np.random.default_rng(4)
    q, v = g.standard_normal((12, 4)), g.standard_normal((12, 3))
    rotations = random_rotations(4, buckets=2, rounds=1, rng=0)
    out, weights = lsh_attention(
        xp.asarray(q),
        xp.asarray(q),
        xp.asarray(v),
        causal=True,
        chunk=12,
        rotations=xp.asarray(rotations),
        return_weights=True,
    )
    dense = to_numpy(weights.to_dense())
    np.testing.assert_allclose(to_numpy(out)[0], v[0])
    others = (dense > 0).sum(axis=1) - (np.diag(dense) > 0)
    alone = np.diag(dense) == 1
    assert alone[0] and np.all(np.diag(dense)[others > 0] == 0)
    # the self score is finite: a query alone in its bucket still has an output (not 0)
    assert np.all(np.abs(to_numpy(out)[alone]) > 0)


def test_rounds_combine_through_their_log_sum_exp(xp):
    # out = Σ_r exp(lse_r − logsumexp_r lse_r) out_r, each round computed on its own (10.5)
    g = np.random.default_rng(6)
    q, v = g.standard_normal((20, 4)), g.standard_normal((20, 3))
    rotations = random_rotations(4, buckets=4, rounds=3, rng=1)
    tau = 0.5
    outs, lses = [], []
    for r in range(3):
        one = rotations[r : r + 1]
        outs.append(
            to_numpy(
                lsh_attention(
                    xp.asarray(q),
                    xp.asarray(q),
                    xp.asarray(v),
                    chunk=4,
                    rotations=xp.asarray(one),
                    scale=tau,
                )
            )
        )
        dense_lsh_oracle(q, q, v, one, chunk=4, scale=tau)
        logits = tau * q @ (q / np.linalg.norm(q, axis=1, keepdims=True)).T
        np.fill_diagonal(logits, SELF_SCORE)
        lses.append(np.logaddexp.reduce(np.where(dense_lsh_oracle.count > 0, logits, -np.inf), 1))
    lse = np.stack(lses)  # (3, n)
    mix = np.exp(lse - np.logaddexp.reduce(lse, axis=0))[..., None]
    combined = lsh_attention(
        xp.asarray(q),
        xp.asarray(q),
        xp.asarray(v),
        chunk=4,
        rotations=xp.asarray(rotations),
        scale=tau,
    )
    assert_attention_close(combined, (mix * np.stack(outs)).sum(axis=0))


def test_a_pair_found_in_several_rounds_counts_once_per_round(xp):
    # two identical rounds and one other: pairs of the repeated round weigh twice
    g = np.random.default_rng(7)
    q, v = g.standard_normal((16, 4)), g.standard_normal((16, 3))
    a, b = random_rotations(4, buckets=4, rounds=2, rng=2)
    rotations = np.stack([a, a, b])
    _, weights = lsh_attention(
        xp.asarray(q),
        xp.asarray(q),
        xp.asarray(v),
        chunk=4,
        rotations=xp.asarray(rotations),
        return_weights=True,
    )
    _, want = dense_lsh_oracle(q, q, v, rotations, chunk=4)
    assert_attention_close(weights.to_dense(), want)
    _, dedup = dense_lsh_oracle(q, q, v, np.stack([a, b]), chunk=4)
    assert not np.allclose(to_numpy(weights.to_dense()), dedup)


def test_trailing_padding_equals_the_shorter_sequence(xp):
    # (10.6) padded positions sort after every real one, so the real chunks do not move
    g = np.random.default_rng(8)
    for n, cut, chunk in ((30, 17, 4), (25, 24, 5), (9, 1, 2)):
        q, v = g.standard_normal((n, 4)), g.standard_normal((n, 2))
        keep = np.arange(n) < cut
        attend = mechanism("reformer", buckets=4, chunk=chunk, rounds=2, rng=0)
        padded = attend(xp.asarray(q), xp.asarray(q), xp.asarray(v), mask=xp.asarray(keep[None]))
        alone = attend(*(xp.asarray(a[:cut]) for a in (q, q, v)))
        assert_attention_close(padded[:cut], alone)
        assert not bool(xp.abs(padded[cut:]).any())  # a padding token's query attends nothing


def test_causal_outputs_never_read_later_values_but_the_sort_sees_later_hashes(xp):
    # the values and keys after t are never read by queries <= t; which earlier keys a query
    # meets, though, depends on where later positions hash (10.6): moving one later query
    # to another bucket can change an earlier output
    g = np.random.default_rng(9)
    n, t = 24, 15
    q, v = g.standard_normal((n, 4)), g.standard_normal((n, 3))
    rotations = random_rotations(4, buckets=2, rounds=1, rng=0)
    run = lambda qq, vv: to_numpy(  # noqa: E731
        lsh_attention(
            xp.asarray(qq),
            xp.asarray(qq),
            xp.asarray(vv),
            causal=True,
            chunk=2,
            rotations=xp.asarray(rotations),
        )
    )
    out = run(q, v)
    v2 = v.copy()
    v2[t + 1 :] = 100 * g.standard_normal(v2[t + 1 :].shape)
    np.testing.assert_array_equal(run(q, v2)[: t + 1], out[: t + 1])
    changed = False
    for seed in range(20):
        q2 = q.copy()
        q2[t + 1 :] = np.random.default_rng(seed).standard_normal(q2[t + 1 :].shape)
        changed |= not np.allclose(run(q2, v)[: t + 1], out[: t + 1])
    assert changed


# --- (10.8) the collision probability of two buckets, and its biased twin ------------------


ANGLES = np.linspace(0.1, 3.0, 7)
DRAWS = 4000


def _collisions(angles, rotations):
    """(draws, len(angles)) indicators of h(x) = h(y) for pairs at the given angles."""
    pairs = np.stack(
        [np.stack(vector_pair(1.0, 1.5, math.cos(a), d=8, rng=i)) for i, a in enumerate(angles)]
    )  # (angles, 2, d)
    h = lsh_buckets(pairs, rotations)  # (draws, angles, 2)
    return (h[..., 0] == h[..., 1]).astype(float)


def test_two_bucket_collision_probability_is_one_minus_angle_over_pi():
    rotations = random_rotations(8, buckets=2, rounds=DRAWS, rng=11)
    result = assert_unbiased(_collisions(ANGLES, rotations), 1 - ANGLES / np.pi)
    assert np.all(result.detectable_bias < 0.07)


def test_the_collision_z_test_catches_a_biased_hash():
    # the twin: projections with a common offset are not rotation invariant, and the test fails
    rotations = random_rotations(8, buckets=2, rounds=DRAWS, rng=11) + 1.0
    assert not ztest(_collisions(ANGLES, rotations), 1 - ANGLES / np.pi).passed


# --- (10.7) memory, measured -----------------------------------------------------------------


def _peak(n, options):
    attend = mechanism("reformer", **options)
    q, k, v = (
        np.random.default_rng(s).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3)
    )
    attend.draw_for(q, k, v)
    return peak_memory(lambda: attend(q, k, v), np)[1], 4 * attend.memory(n, 64)


@pytest.mark.parametrize("n", [4096, 16384])
def test_measured_peak_memory_is_the_formula_and_grows_linearly(n):
    options = {"buckets": 64, "chunk": 64, "rounds": 1, "rng": 0}
    peak, model = _peak(n, options)
    # the formula leaves out about five int64 index arrays per slot (measured: 1.052, 1.054)
    assert 1.03 <= peak / model <= 1.08, (peak, model)
    peak_half, _ = _peak(n // 2, options)
    assert 1.8 <= peak / peak_half <= 2.2, (peak, peak_half)


def test_memory_grows_with_rounds_and_formula_counts_them():
    options = {"buckets": 16, "chunk": 32, "rng": 0}
    peak1, model1 = _peak(2048, {**options, "rounds": 1})
    peak3, model3 = _peak(2048, {**options, "rounds": 3})
    assert 0.9 <= peak3 / model3 <= 1.1 and 2.6 <= peak3 / peak1 <= 3.2
    assert complexity.lsh_attention_memory(2048, chunk=32, rounds=3) == 3 * (
        complexity.lsh_attention_memory(2048, chunk=32, rounds=1)
    )


def test_no_n_by_n_array_and_flops_grow_linearly():
    f = complexity.lsh_attention_flops
    assert f(32768, buckets=64) / f(16384, buckets=64) == pytest.approx(2, rel=0.01)
    assert complexity.lsh_attention_memory(16384) < 300 * 16384


# --- bad inputs --------------------------------------------------------------------------------


def _qkv(n=8, d=4):
    g = np.random.default_rng(0)
    return g.standard_normal((n, d)), g.standard_normal((n, d)), g.standard_normal((n, 2))


BAD = [
    (
        {"buckets": 3},
        ValueError,
        "buckets must be an even integer >= 2 (argmax over [xR ; −xR]), got 3",
    ),
    ({"buckets": 0}, ValueError, "buckets must be an integer >= 2, got 0"),
    ({"buckets": 2.0}, TypeError, "buckets must be an integer >= 2, got 2.0"),
    ({}, ValueError, "buckets must be an even integer >= 2 when no rotations are given"),
    ({"buckets": 4, "rounds": 0}, ValueError, "rounds must be an integer >= 1, got 0"),
    ({"buckets": 4, "chunk": 0}, ValueError, "chunk must be an integer >= 1, got 0"),
    (
        {"rotations": np.zeros((1, 3, 2))},
        ValueError,
        "rotations must have shape (rounds, d, b/2) = (rounds, 4, b/2)",
    ),
    ({"rotations": np.zeros((4, 2))}, ValueError, "got shape (4, 2)"),
    ({"rotations": np.zeros((0, 4, 2))}, ValueError, "rotations must hold at least one round"),
    ({"rotations": np.zeros((1, 4, 2), dtype=int)}, TypeError, "rotations must have a floating"),
    ({"rotations": np.full((1, 4, 2), np.nan)}, ValueError, "rotations must contain only finite"),
    (
        {"rotations": np.zeros((1, 4, 2)), "buckets": 6},
        ValueError,
        "buckets must equal 2·rotations.shape[-1] = 4 when rotations are given, got 6",
    ),
    (
        {"rotations": np.zeros((1, 4, 2)), "rounds": 2},
        ValueError,
        "rounds must equal rotations.shape[0] = 1 when rotations are given, got 2",
    ),
    ({"buckets": 4, "shared_qk": 1}, TypeError, "shared_qk must be True or False, got 1"),
    (
        {"buckets": 4, "shared_qk": False, "causal": True},
        ValueError,
        "lsh_attention cannot be causal: with separate keys",
    ),
    (
        {"buckets": 4, "mask": np.ones((8, 8), bool)},
        ValueError,
        "lsh_attention cannot apply a mask of shape (8, 8) with a query axis",
    ),
    (
        {"buckets": 4, "k": np.zeros((9, 4)), "v": np.zeros((9, 2))},
        ValueError,
        "lsh_attention needs as many keys as queries (m = n), got n = 8 and m = 9",
    ),
]


@pytest.mark.parametrize(("options", "error", "fragment"), BAD, ids=[b[2][:40] for b in BAD])
def test_lsh_attention_rejects(options, error, fragment):
    q, k, v = _qkv()
    options = dict(options)
    k, v = options.pop("k", k), options.pop("v", v)
    with pytest.raises(error, match=re.escape(fragment)):
        lsh_attention(q, k, v, **options)


def test_the_registry_factory_rejects_bad_options():
    with pytest.raises(ValueError, match=re.escape("buckets must be an even integer >= 2")):
        mechanism("reformer", buckets=5)
    with pytest.raises(ValueError, match="rounds must be an integer >= 1, got 0"):
        mechanism("reformer", rounds=0)
    with pytest.raises(ValueError, match="chunk must be an integer >= 1, got -1"):
        mechanism("reformer", chunk=-1)


def test_one_bucket_and_one_chunk_is_exact_attention_without_self(xp):
    # b = 2 with every query on one side and a chunk holding everything: full attention, minus
    # the diagonal, over the unit keys
    g = np.random.default_rng(12)
    q = np.abs(g.standard_normal((10, 3)))
    v = g.standard_normal((10, 2))
    rotations = np.ones((1, 3, 1))  # every x·r > 0: one bucket
    out = lsh_attention(
        xp.asarray(q), xp.asarray(q), xp.asarray(v), chunk=10, rotations=xp.asarray(rotations)
    )
    keys = q / np.linalg.norm(q, axis=1, keepdims=True)
    want = softmax_attention(q, keys, v, mask=~np.eye(10, dtype=bool))
    assert_attention_close(out, xp.asarray(want))


def test_the_collision_figure_draws_the_closed_form_for_two_buckets():
    from refattn.figures.reformer import ANGLES as FIGURE_ANGLES
    from refattn.figures.reformer import collision_rates

    mean, se = collision_rates(2, seed=2)
    target = 1 - FIGURE_ANGLES / np.pi
    spread = se > 0
    np.testing.assert_array_equal(mean[~spread], target[~spread])  # θ = 0 and π: certain
    assert np.all(np.abs((mean - target)[spread] / se[spread]) < 5)


# --- (10.9) large inputs: exact rescaling, then a clear error ------------------------------


def test_huge_queries_are_hashed_and_normalised_exactly():
    x = np.random.default_rng(8).standard_normal((40, 64)).astype(np.float32)
    rotations = random_rotations(64, buckets=8, rounds=2, rng=0, dtype="float32")
    huge = x * np.float32(2.0**126)  # entries near 1e38: x·R overflows float32
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(huge @ rotations[0]).all()  # the rescaled path is taken
    np.testing.assert_array_equal(lsh_buckets(huge, rotations), lsh_buckets(x, rotations))
    # f(c·q; τ/c) = f(q; τ) (10.2), bit for bit for c a power of two, at ‖q‖ ~ 1e20 in float32
    q, v = x[:, :8], np.random.default_rng(9).standard_normal((40, 3)).astype(np.float32)
    r8 = random_rotations(8, buckets=4, rounds=2, rng=1, dtype="float32")
    c = np.float32(2.0**66)
    want = lsh_attention(q, q, v, rotations=r8, chunk=8)
    got = lsh_attention(q * c, q * c, v, rotations=r8, chunk=8, scale=8**-0.5 / 2.0**66)
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shared_qk", [True, False])
def test_overflowing_logits_raise(shared_qk):
    q, k, v = (np.random.default_rng(10).standard_normal((16, 4)) for _ in range(3))
    r = random_rotations(4, buckets=4, rng=0)
    # float64 holds the logits: the result is the oracle's
    big = dict(scale=1e14) if shared_qk else {}  # τ·q ~ 1e39 with shared keys
    # separate keys: q·k all negative, so that an overflow to -inf (taken for 'masked') is caught
    bq, bk = (1e25 * q, 1e25 * k) if shared_qk else (1e25 * abs(q), -1e25 * abs(k))
    want, _ = dense_lsh_oracle(bq, bk, v, r, chunk=4, shared_qk=shared_qk, **big)
    got = lsh_attention(bq, bk, v, rotations=r, chunk=4, shared_qk=shared_qk, **big)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    f32 = [x.astype(np.float32) for x in (bq, bk, v)]
    what = r"τ·q·q_j/‖q_j‖" if shared_qk else r"scale·q·k"
    with pytest.raises(FloatingPointError, match=rf"a logit {what} .*overflows float32"):
        lsh_attention(*f32, rotations=r.astype(np.float32), chunk=4, shared_qk=shared_qk, **big)
    huge_v = np.full((16, 4), 3e38, dtype=np.float32)
    with pytest.raises(FloatingPointError, match=r"weighted sum of v overflows float32"):
        lsh_attention(f32[0], f32[1], huge_v, rotations=r.astype(np.float32), chunk=16, scale=1e-30)


def test_a_chunk_beyond_n_is_one_chunk():
    n = 10
    q, k, v = (np.random.default_rng(11).standard_normal((n, 4)) for _ in range(3))
    r = random_rotations(4, buckets=2, rounds=3, rng=0)
    want, peak_n = peak_memory(lambda: lsh_attention(q, k, v, rotations=r, chunk=n), np)
    for chunk in (n + 5, 10**30):
        got, peak = peak_memory(lambda c=chunk: lsh_attention(q, k, v, rotations=r, chunk=c), np)
        np.testing.assert_array_equal(got, want)
        assert peak <= 1.25 * peak_n, (chunk, peak, peak_n)
        oracle, _ = dense_lsh_oracle(q, k, v, r, chunk=chunk)
        np.testing.assert_allclose(got, oracle, rtol=1e-10, atol=1e-12)


def test_a_hash_tie_goes_to_the_first_half_as_argmax_of_the_concatenation():
    rotations = np.array([[[1.0, -1.0], [0.0, 0.0]]])  # x = (1, 0): xR = (1, −1), −xR = (−1, 1)
    x = np.array([[1.0, 0.0], [0.0, 0.0], [-2.0, 5.0]])  # a tie; all zero; another tie
    want = np.argmax(np.concatenate([x @ rotations[0], -(x @ rotations[0])], axis=-1), axis=-1)
    np.testing.assert_array_equal(want, [0, 0, 1])
    np.testing.assert_array_equal(lsh_buckets(x, rotations), want[None])


# --- host syncs: keys hashed apart from the queries cost no extra read ------------------------


def _syncs_in(module: str, syncs) -> dict:
    return {key: count for key, count in syncs.items() if key[0] == module}


def test_separate_keys_are_hashed_with_the_same_one_host_read(standin):
    import cupy_standin

    g = standin.random.default_rng(12)
    q, k, v = (g.standard_normal((2, 64, 8)) for _ in range(3))
    r = random_rotations(8, buckets=4, rounds=2, rng=0, xp=standin)
    counts = {}
    for shared_qk in (True, False):
        with cupy_standin.counting_syncs() as syncs:
            lsh_attention(q, k, v, rotations=r, chunk=16, shared_qk=shared_qk)
        counts[shared_qk] = syncs
    for shared_qk, syncs in counts.items():
        hashing = _syncs_in("refattn/reformer.py", syncs)
        assert sum(hashing.values()) == 1, (shared_qk, sorted(syncs.items()))
    assert counts[True] == counts[False], sorted(counts.items())


def test_huge_keys_hashed_apart_are_rescaled_alone():
    from refattn.reformer import _hash

    x = np.random.default_rng(13).standard_normal((2, 40, 64)).astype(np.float32)
    q, k = x
    r = random_rotations(64, buckets=8, rounds=2, rng=0, dtype="float32")
    top = math.ceil(math.log2(np.abs(k).max()))
    huge_k = k * np.float32(2.0 ** (127 - top))  # the largest entry near 2^127: exact, finite
    with np.errstate(over="ignore", invalid="ignore"):
        assert not np.isfinite(huge_k @ r[0]).all()  # x·R overflows for the keys only
    assert np.isfinite(huge_k).all() and np.isfinite(q @ r[0]).all()
    for xs in ([q, huge_k], [huge_k, q]):
        with np.errstate(over="ignore", invalid="ignore"):  # as lsh_attention runs it
            got = _hash(np, xs, r)
        want = [lsh_buckets(q if x is q else k, r) for x in xs]
        for g, w in zip(got, want, strict=True):
            np.testing.assert_array_equal(g, w)
