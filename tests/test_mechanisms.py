"""The registry and its uniform test: every mechanism, every option it claims, one set of checks.

A mechanism gets all of this by registering (``refattn/mechanisms.py``): its
``examples`` give the option sets, its ``supports`` the options to try or to
expect a refusal for, its ``pattern`` (exact mechanisms) the dense mask under
which it must equal ``softmax_attention``.
"""

from __future__ import annotations

import itertools
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from _helpers import random_qkv

import refattn
import refattn._validation
import refattn.performer
from refattn import complexity, mechanism, softmax_attention
from refattn.backend import get_array_module, peak_memory, rng, to_numpy
from refattn.mechanisms import FAMILIES, REGISTRY, DenseWeights, Mechanism, dense_weights
from refattn.testing import assert_attention_close

NAMES = list(REGISTRY)
N, CUT, D, D_V, BATCH = 13, 10, 4, 3, (2,)  # CUT: the length after removing padded keys


def _cases(entry: Mechanism):
    """Every (options, causal, padded, m) combination the entry claims to support."""
    for options in entry.examples:
        supports = mechanism(entry.name, **options).supports
        causal = (False, True) if supports.causal is None else (False,)
        padded = (False, True) if supports.key_padding is None else (False,)
        lengths = (N, N + 4) if supports.cross is None else (N,)
        for c, p, m in itertools.product(causal, padded, lengths):
            yield options, c, p, m


def _case_id(case):
    options, causal, padded, m = case
    opts = ",".join(f"{k}={v}" for k, v in options.items() if k != "rng")
    mode = f"{'causal' if causal else 'bidir'}|{'pad' if padded else 'nopad'}"
    return f"{opts or 'default'}|{mode}|m={m}"


CASES = [
    pytest.param(name, case, id=f"{name}[{_case_id(case)}]")
    for name in NAMES
    for case in _cases(REGISTRY[name])
]


def _inputs(xp, m, dtype, seed=0):
    q, k, v = random_qkv(xp, n=N, m=m, d=D, d_v=D_V, batch=BATCH, dtype=dtype, seed=seed)
    return q, k, v


def _key_padding(xp, m):
    """Key padding (2, 1, m): the last m − CUT keys of every sequence, and one more in the first."""
    keep = np.ones(BATCH + (1, m), dtype=bool)
    keep[..., CUT:] = False
    keep[0, 0, 1] = False
    keep[1, 0, :3] = False  # leading padding: early causal queries see only padded keys
    return xp.asarray(keep)


def _trailing_padding(xp, m):
    keep = np.ones((1, m), dtype=bool)
    keep[..., CUT:] = False
    return xp.asarray(keep)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize(("name", "case"), CASES)
def test_every_mechanism_keeps_the_convention(xp, name, case, dtype):
    entry = REGISTRY[name]
    options, causal, padded, m = case
    attend = mechanism(name, **options)
    q, k, v = _inputs(xp, m, dtype)
    mask = _key_padding(xp, m) if padded else None
    before = [to_numpy(a).copy() for a in (q, k, v) + (() if mask is None else (mask,))]

    out = attend(q, k, v, mask=mask, causal=causal)
    # shape and dtype; a pooling mechanism (Funnel) has fewer output rows than queries
    n_out = attend.output_length(N)
    assert out.shape == BATCH + (n_out, D_V)
    assert str(out.dtype) == dtype
    assert bool(xp.isfinite(out).all())
    # check_finite=False skips the finiteness pass over the inputs and nothing else
    unchecked = attend(q, k, v, mask=mask, causal=causal, check_finite=False)
    np.testing.assert_array_equal(to_numpy(unchecked), to_numpy(out))

    # return_weights: the same output, and a dense form that reproduces it
    out_w, weights = attend(q, k, v, mask=mask, causal=causal, return_weights=True)
    assert_attention_close(out_w, out)
    dense = weights.to_dense()
    assert dense.shape == BATCH + (n_out, m)
    assert_attention_close(dense @ v, out, err_msg=f"{name}: to_dense() @ v != out")
    if mask is not None:  # a padded key gets no weight
        assert not bool((xp.abs(dense) * ~mask).any())

    # exact mechanisms equal softmax attention of the queries that attend (q itself, or
    # Funnel's pooled ones) under their dense pattern, at any scale
    if entry.exact:
        pattern = attend.pattern(N, m, causal=causal, xp=xp)
        full = pattern if mask is None else pattern & mask
        q_att = attend.queries(q)
        assert_attention_close(out, softmax_attention(q_att, k, v, mask=full))
        assert_attention_close(
            dense, softmax_attention(q_att, k, v, mask=full, return_weights=True)[1]
        )
        assert_attention_close(
            attend(q, k, v, mask=mask, causal=causal, scale=0.3),
            softmax_attention(q_att, k, v, mask=full, scale=0.3),
        )

    # causal: perturbing later keys and values leaves earlier outputs unchanged
    if causal:
        t = 6  # keys j > t change; query i sees only j <= i + (m − n)
        g = rng(99, xp)
        k2, v2 = k.copy(), v.copy()
        k2[..., t + 1 :, :] = 5 * g.standard_normal(k2[..., t + 1 :, :].shape, dtype=dtype)
        v2[..., t + 1 :, :] = 5 * g.standard_normal(v2[..., t + 1 :, :].shape, dtype=dtype)
        rows = t - (m - N) + 1  # queries i with i + (m − n) <= t
        if n_out != N:  # pooled rows: those whose pattern reads no key after t
            later = to_numpy(attend.pattern(N, m, causal=True, xp=xp))[:, t + 1 :].any(axis=1)
            rows = int(np.argmax(later)) if later.any() else n_out
        out2 = attend(q, k2, v2, mask=mask, causal=True)
        assert_attention_close(out2[..., :rows, :], out[..., :rows, :])
        assert not np.allclose(to_numpy(out2[..., rows:, :]), to_numpy(out[..., rows:, :]))

    # inputs are never modified
    after = [to_numpy(a) for a in (q, k, v) + (() if mask is None else (mask,))]
    for b, a in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize(
    ("name", "options", "causal"),
    [
        pytest.param(name, options, causal, id=f"{name}-{i}-{'causal' if causal else 'bidir'}")
        for name in NAMES
        for i, options in enumerate(REGISTRY[name].examples)
        if mechanism(name, **options).supports.key_padding is None
        for causal in (
            (False, True) if mechanism(name, **options).supports.causal is None else (False,)
        )
    ],
)
def test_key_padding_equals_removing_the_padded_keys(xp, name, options, causal):
    # trailing padding, as in a padded batch: the padded call's first CUT rows must equal
    # the call on the first CUT positions alone
    attend = mechanism(name, **options)
    q, k, v = _inputs(xp, N, "float64", seed=3)
    padded = attend(q, k, v, mask=_trailing_padding(xp, N), causal=causal)
    alone = attend(q[..., :CUT, :], k[..., :CUT, :], v[..., :CUT, :], causal=causal)
    # the rows whose attending queries are the same either way: the first CUT, or the
    # pooled queries (Funnel) whose groups lie within the first CUT positions
    q_all, q_cut = (to_numpy(attend.queries(x)) for x in (q, q[..., :CUT, :]))
    same = (q_all[..., : q_cut.shape[-2], :] == q_cut).all(axis=(0, -1))
    rows = int(np.argmin(same)) if not same.all() else len(same)
    assert rows >= 1
    assert_attention_close(padded[..., :rows, :], alone[..., :rows, :])


def _refusals():
    for name in NAMES:
        for i, options in enumerate(REGISTRY[name].examples):
            supports = mechanism(name, **options).supports
            for option in ("causal", "key_padding", "general_mask", "cross"):
                reason = getattr(supports, option)
                if reason is not None:
                    yield pytest.param(name, options, option, reason, id=f"{name}-{i}-{option}")


@pytest.mark.parametrize(("name", "options", "option", "reason"), list(_refusals()))
def test_each_unsupported_option_raises_with_its_reason(xp, name, options, option, reason):
    attend = mechanism(name, **options)
    m = N + 4 if option == "cross" else N
    q, k, v = _inputs(xp, m, "float64")
    kwargs = {
        "causal": {"causal": True},
        "key_padding": {"mask": _trailing_padding(xp, m)},
        "general_mask": {"mask": xp.asarray(np.tril(np.ones((N, m), dtype=bool)))},
        "cross": {},
    }[option]
    with pytest.raises(ValueError, match=re.escape(reason)):
        attend(q, k, v, **kwargs)


# --- the registry's metadata ---------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_every_entry_is_complete(name):
    entry = REGISTRY[name]
    assert entry.name == name
    assert re.fullmatch(r"\d{4}\.\d{5}", entry.paper.arxiv), entry.paper
    assert entry.paper.cite().endswith(f"arXiv:{entry.paper.arxiv}")
    assert entry.families and set(entry.families) <= set(FAMILIES)
    assert (entry.pattern is not None) == entry.exact
    assert entry.examples and entry.memory_order
    attend = mechanism(name, **entry.examples[0])
    for n in (256, 4096):
        assert attend.memory(n, 64) > 0 and attend.flops(n, 64) > 0
    # the function is importable from refattn itself
    assert getattr(refattn, entry.function.__name__) is entry.function


def test_families_cover_the_survey_and_every_mechanism_has_one():
    used = {f for entry in REGISTRY.values() for f in entry.families}
    assert {"exact", "fixed patterns", "low rank", "kernels", "recurrence"} <= used


def test_factories_reject_bad_options():
    with pytest.raises(ValueError, match=r"name must be a registered mechanism .*got 'nope'"):
        mechanism("nope")
    with pytest.raises(ValueError, match=r"window must be an integer >= 0, got -1"):
        mechanism("sliding_window", window=-1)
    with pytest.raises(ValueError, match=r"features must be an integer >= 1 and <= \d+, got 0"):
        mechanism("favor", features=0)
    with pytest.raises(ValueError, match=r"kind must be one of .*got 'dct'"):
        mechanism("linformer", kind="dct")
    with pytest.raises(TypeError, match=r"favor has no option 'window'; its options are features,"):
        mechanism("favor", window=3)
    with pytest.raises(TypeError, match=r"takes no options, got option 'chunk_size'"):
        mechanism("softmax", chunk_size=3)
    with pytest.raises(
        ValueError,
        match=r"compress must be 'mean' or a 1-D float array \(or tuple of floats\) of rate = 4",
    ):
        mechanism("compressive", compress="max")
    with pytest.raises(TypeError, match=r"global_tokens must be a sequence of positions, got 1"):
        mechanism("sliding_window", global_tokens=1)
    with pytest.raises(ValueError, match=r"global_tokens\[0\] must be an integer >= 0"):
        mechanism("sliding_window", global_tokens=[-1])


def test_random_mechanisms_keep_their_draws_and_redraw_on_request():
    q, k, v = random_qkv(np, n=20, d=8)
    favor = mechanism("favor", features=32, rng=0)
    np.testing.assert_array_equal(favor(q, k, v), favor(q, k, v))
    np.testing.assert_array_equal(favor(q, k, v), mechanism("favor", features=32, rng=0)(q, k, v))
    other = favor.redraw(1)
    assert not np.allclose(other(q, k, v), favor(q, k, v))
    # the draws follow the head dimension and the dtype of each call
    q8, k8, v8 = random_qkv(np, n=20, d=16)
    assert favor(q8, k8, v8).shape == (20, 16)
    assert (
        favor(q.astype(np.float32), k.astype(np.float32), v.astype(np.float32)).dtype == np.float32
    )
    np.testing.assert_array_equal(favor(q, k, v), mechanism("favor", features=32, rng=0)(q, k, v))
    lin = mechanism("linformer", k=8, max_length=20, rng=0)
    assert not np.allclose(lin.redraw(1)(q, k, v), lin(q, k, v))
    with pytest.raises(ValueError, match="E projects sequences of at most L = 20 positions"):
        lin(*random_qkv(np, n=21, d=8))


def test_dense_weights_gives_every_form_the_same_method():
    w = np.eye(3)
    assert dense_weights(w) is w
    assert DenseWeights(w).to_dense() is w
    _, weights = mechanism("softmax")(w, w, w, return_weights=True)
    assert isinstance(weights, DenseWeights)


def test_memory_and_flops_follow_the_options():
    window = mechanism("sliding_window", window=32)
    assert window.memory(4096) < mechanism("sliding_window", window=128).memory(4096)
    assert mechanism("favor", features=64).flops(4096) < mechanism("favor", features=256).flops(
        4096
    )
    assert mechanism("softmax").memory(8192, 32) == complexity.dense_attention_memory(8192, d=32)
    assert mechanism("favor").memory(4096, causal=True) == complexity.favor_memory(
        4096, m=256, causal=True
    )


# --- measured memory of every benchmark configuration against its formula ----------------


BENCH = [
    pytest.param(name, label, make, id=label)
    for name in NAMES
    for label, make in REGISTRY[name].bench.items()
]


def _bench_peak(name, make, n):
    options = make(n)
    causal = options.pop("causal", False)
    attend = mechanism(name, **options)
    q, k, v = (rng(s, np).standard_normal((n, 64), dtype=np.float32) for s in (1, 2, 3))
    attend.draw_for(q, k, v)  # the random arrays are drawn (and kept) outside the measurement
    return peak_memory(lambda: attend(q, k, v, causal=causal), np)[1], attend.memory(
        n, 64, causal=causal
    )


@pytest.mark.parametrize(("name", "label", "make"), BENCH)
def test_measured_peak_memory_is_the_formula(name, label, make):
    n = 4096
    peak, model = _bench_peak(name, make, n)
    assert 0.9 <= peak / (4 * model) <= 1.1, (label, peak, 4 * model)


# --- (6.3) the scale, (6.6) the support table, (6.9) old spellings ---------------------------


@pytest.mark.parametrize(
    ("name", "options"),
    [
        pytest.param(name, options, id=f"{name}-{i}")
        for name in NAMES
        for i, options in enumerate(REGISTRY[name].examples)
    ],
)
def test_scale_is_the_logit_multiplier_for_every_mechanism(xp, name, options):
    # f(q, k, v; τ) = f(c·q, c·k, v; τ/c²) exactly, FAVOR's √τ·q, √τ·k included (6.3)
    attend = mechanism(name, **options)
    q, k, v = _inputs(xp, N, "float64", seed=5)
    tau = 0.3
    # shared-QK Reformer: the keys are the unit queries, the logit τ·q_i·q_j/‖q_j‖ has degree one
    c2 = 2 if name == "reformer" and options.get("shared_qk", True) else 4
    assert_attention_close(attend(q, k, v, scale=tau), attend(2 * q, 2 * k, v, scale=tau / c2))
    assert_attention_close(attend(q, k, v, scale=D**-0.5), attend(q, k, v))
    if name == "favor_relu":
        # ReLU features are positively homogeneous, φ(√τ·x) = √τ·φ(x): the scale cancels in D⁻¹
        assert_attention_close(attend(q, k, v, scale=tau), attend(q, k, v))
    else:
        assert not np.allclose(to_numpy(attend(q, k, v, scale=tau)), to_numpy(attend(q, k, v)))


def test_the_support_table_matches_the_registry():
    text = Path(__file__).resolve().parent.parent / "derivations" / "06-calling-convention.md"
    section = text.read_text().split("## (6.6)", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in section.splitlines()
        if line.startswith("| ") and not line.startswith("| mechanism")
    ]
    table = {row[0]: row[1:] for row in rows}
    assert list(table) == NAMES

    def yes(flag):
        return "yes" if flag else "no"

    for name, entry in REGISTRY.items():
        expected = [
            yes(entry.exact),
            yes(entry.causal),
            yes(entry.key_padding),
            yes(entry.general_mask),
            yes(entry.cross),
        ]
        assert table[name] == expected, name


def test_old_spellings_name_the_new_ones():
    q, k, v = random_qkv(np, n=6, d=4)
    omega = refattn.performer.random_features(8, 4, rng=0)
    with pytest.raises(TypeError, match=r"favor_attention\(q, k, v, omega=omega\)"):
        refattn.favor_attention(q, k, v, omega)
    with pytest.raises(TypeError, match=r"linformer_attention\(q, k, v, E=E, F=F\)"):
        refattn.linformer_attention(q, k, v, np.eye(6), np.eye(6))
    with pytest.raises(ValueError, match=r"key padding is a mask of shape \(\.\.\., 1, m\)"):
        refattn.sliding_window_attention(
            q[None], k[None], v[None], window=1, mask=np.ones((3, 6), bool)
        )
    with pytest.raises(ValueError, match=r"mask\[\.\.\., None, :\]"):
        refattn.sliding_window_attention(q, k, v, window=1, mask=np.ones((6, 6), bool))
    with pytest.raises(AttributeError, match=r"refattn\.mechanisms\.REGISTRY"):
        complexity.MECHANISMS  # noqa: B018
    with pytest.raises(TypeError, match=r"favor_dense\(q, k, v, omega=omega\)"):
        refattn.performer.favor_dense(q, k, v, omega)
    # a former (b, 1, n) key-padding mask for q (b, h, n, d) would now meet the heads axis
    q4 = np.broadcast_to(q, (3, 3, 6, 4))
    with pytest.raises(ValueError, match=r"ambiguous .* is now mask\[:, None\]"):
        refattn.sliding_window_attention(q4, q4, q4, window=1, mask=np.ones((3, 1, 6), bool))
    out = refattn.sliding_window_attention(q4, q4, q4, window=1, mask=np.ones((3, 1, 1, 6), bool))
    assert out.shape == (3, 3, 6, 4)


def test_every_benchmark_configuration_has_a_colour():
    from refattn.bench import configurations
    from refattn.figures.style import COLORS

    assert set(configurations()) <= set(COLORS)


def test_draws_follow_the_dtype_and_never_depend_on_the_order_of_calls():
    q64, k64, v64 = random_qkv(np, n=20, d=8)
    q32, k32, v32 = (x.astype(np.float32) for x in (q64, k64, v64))
    for name, options in (("favor", {"features": 16}), ("linformer", {"k": 6, "max_length": 20})):
        attend = mechanism(name, rng=4, **options)
        attend(q64, k64, v64)  # float64 first: its draws must not be reused for float32
        drawn = attend.draw_for(q32, k32, v32)
        assert all(x.dtype == np.float32 for x in drawn.values()), name
        fresh = mechanism(name, rng=4, **options)
        np.testing.assert_array_equal(attend(q32, k32, v32), fresh(q32, k32, v32))


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_output_length_is_the_rows_the_mechanism_returns(name):
    for options in REGISTRY[name].examples:
        attend = mechanism(name, **options)
        for n in (8, 13):
            q, k, v = random_qkv(np, n=n, d=4, batch=(2,))  # two heads: one span each
            assert attend(q, k, v).shape[-2] == attend.output_length(n), (options, n)
            assert attend.queries(q).shape[-2] == attend.output_length(n)


@pytest.mark.parametrize("magnitude", [1e-30, 1e2, 1e5, 1e10, 1e20])
@pytest.mark.parametrize(("name", "case"), CASES)
def test_finite_input_gives_a_finite_output_or_a_floating_point_error(name, case, magnitude):
    # derivations/06 (6.10): never NaN or inf silently, whatever the size of the inputs; a
    # RuntimeWarning on the way fails too (the suite turns them into errors)
    options, causal, padded, m = case
    q, k, v = _inputs(np, m, "float32")
    mask = _key_padding(np, m) if padded else None
    attend = mechanism(name, **options)
    try:
        out = attend(magnitude * q, magnitude * k, magnitude * v, mask=mask, causal=causal)
    except FloatingPointError as error:
        assert "overflow" in str(error) or "NaN or inf" in str(error), str(error)
        return
    assert np.isfinite(to_numpy(out)).all(), (name, magnitude)


def test_factories_take_every_spec7_form_of_rng():
    # a SeedSequence reproduces its draws; a bit generator is used like the Generator it makes
    q = np.random.default_rng(0).standard_normal((5, 4))
    seeded = [mechanism("favor", features=8, rng=np.random.SeedSequence(3)) for _ in range(2)]
    assert np.array_equal(seeded[0](q, q, q), seeded[1](q, q, q))
    from_bits = mechanism("favor", features=8, rng=np.random.PCG64(3))
    from_generator = mechanism("favor", features=8, rng=np.random.Generator(np.random.PCG64(3)))
    assert np.array_equal(from_bits(q, q, q), from_generator(q, q, q))


# --- check_finite: the finiteness pass over the inputs, and its host sync, on request -----------


def _count_finiteness_passes(monkeypatch):
    """Replace ``check_all_finite`` in every refattn module that holds it by a wrapper that
    records, for each pass, the names of the arrays it checks; returns that record."""
    real = refattn._validation.check_all_finite
    passes = []

    def counting(named, xp):
        passes.append(tuple(name for name, x in named.items() if x is not None))
        return real(named, xp)

    patched = 0
    for module in list(sys.modules.values()):
        if getattr(module, "__name__", "").split(".")[0] != "refattn":
            continue
        if getattr(module, "check_all_finite", None) is real:
            monkeypatch.setattr(module, "check_all_finite", counting)
            patched += 1
    assert patched > 1  # _validation itself, and the modules that imported it
    return passes


@pytest.mark.parametrize(("name", "case"), CASES)
def test_check_finite_false_runs_no_finiteness_pass(xp, monkeypatch, name, case):
    options, causal, padded, m = case
    attend = mechanism(name, **options)
    q, k, v = _inputs(xp, m, "float64")
    mask = _key_padding(xp, m) if padded else None
    attend.draw_for(q, k, v)  # random draws made before the count
    passes = _count_finiteness_passes(monkeypatch)
    attend(q, k, v, mask=mask, causal=causal, check_finite=False)
    attend(q, k, v, mask=mask, causal=causal, check_finite=False, return_weights=True)
    assert passes == []
    # the default: one pass (one reduction, one host sync) over q, k, v and what comes with them
    attend(q, k, v, mask=mask, causal=causal)
    assert len(passes) == 1 and {"q", "k", "v"} <= set(passes[0]), passes


@pytest.mark.parametrize("name", NAMES)
def test_check_finite_false_leaves_non_finite_input_undetected(xp, name):
    attend = mechanism(name, **REGISTRY[name].examples[0])
    q, k, v = _inputs(xp, N, "float64")
    q[0, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"^q must contain only finite values"):
        attend(q, k, v)
    # undefined results, as documented: NaN in the output, or an overflow guard that mistakes
    # the NaN for an overflow; never the check of the inputs
    try:
        out = attend(q, k, v, check_finite=False)
    except FloatingPointError as error:
        assert "overflow" in str(error) or "NaN or inf" in str(error), str(error)
    else:
        assert out.shape == BATCH + (attend.output_length(N), D_V)


def _favor_dense(q, k, v, check_finite):
    omega = refattn.performer.random_features(8, D, rng=0, xp=get_array_module(q))
    return refattn.performer.favor_dense(q, k, v, omega=omega, check_finite=check_finite)


def _lsh_with_rotations(q, k, v, check_finite):
    from refattn.reformer import lsh_attention, random_rotations

    rotations = random_rotations(D, buckets=4, rng=0, xp=get_array_module(q))
    return lsh_attention(q, k, v, rotations=rotations, chunk=4, check_finite=check_finite)


def _compressive_with_taps(q, k, v, check_finite):
    from refattn.compressive import compressive_memory_attention

    taps = get_array_module(q).asarray([0.25, 0.75])
    return compressive_memory_attention(
        q, k, v, segment=4, memory=2, compressed=2, rate=2, compress=taps,
        check_finite=check_finite,
    )  # fmt: skip


def _window_with_global_qkv(q, k, v, check_finite):
    from refattn.longformer import sliding_window_attention

    return sliding_window_attention(
        q, k, v, window=1, global_tokens=[0, 5], global_qkv=(q, k, v), check_finite=check_finite
    )


def _span_gradient(q, k, v, check_finite):
    from refattn.adaptive_span import span_gradient

    return span_gradient(q, k, v, v, span=3.0, ramp=2.0, check_finite=check_finite)


def _span_array(name):
    def call(q, k, v, check_finite):
        import refattn.adaptive_span

        function = getattr(refattn.adaptive_span, name)
        spans = get_array_module(q).asarray([[[1.5]], [[3.0]]])  # one per batch element
        grad_out = (v,) if name == "span_gradient" else ()
        return function(q, k, v, *grad_out, span=spans, ramp=2.0, check_finite=check_finite)

    return call


#: Public attention functions, or forms of them, that the registry's callables do not reach:
#: label → (call(q, k, v, check_finite), the finiteness passes of a call with check_finite=True).
#: Arrays given besides q, k and v are checked in the same pass.
DIRECT = {
    "favor_dense(omega=...)": (_favor_dense, 1),
    "linear_dense": (lambda q, k, v, c: refattn.performer.linear_dense(q, k, v, check_finite=c), 1),
    "linear_attention_recurrent": (
        lambda q, k, v, c: refattn.performer.linear_attention_recurrent(q, k, v, check_finite=c),
        1,
    ),
    "span_gradient(grad_out=...)": (_span_gradient, 1),
    "lsh_attention(rotations=...)": (_lsh_with_rotations, 1),
    "compressive_memory_attention(compress=array)": (_compressive_with_taps, 1),
    "sliding_window_attention(global_qkv=...)": (_window_with_global_qkv, 1),
    "adaptive_span_attention(span=array)": (_span_array("adaptive_span_attention"), 1),
    "span_gradient(span=array)": (_span_array("span_gradient"), 1),
}


@pytest.mark.parametrize("label", list(DIRECT))
def test_every_attention_function_takes_check_finite(xp, monkeypatch, label):
    call, passes_when_checked = DIRECT[label]
    q, k, v = _inputs(xp, N, "float64")
    with pytest.raises(TypeError, match=r"^check_finite must be True or False, got 'yes'"):
        call(q, k, v, "yes")
    passes = _count_finiteness_passes(monkeypatch)
    unchecked = call(q, k, v, False)
    assert passes == []
    checked = call(q, k, v, True)
    assert len(passes) == passes_when_checked, passes
    np.testing.assert_array_equal(to_numpy(unchecked), to_numpy(checked))


def test_bench_checks_its_inputs_once_and_times_calls_without_the_check(monkeypatch):
    from refattn import bench

    passes = _count_finiteness_passes(monkeypatch)
    for label in bench.configurations():
        passes.clear()
        run, _, _ = bench._runner(label, np, 64, 8, 2)
        assert len(passes) == 1, label  # the set-up checks the inputs
        run()
        assert len(passes) == 1, label  # what is timed does not check them again
    reports = {
        "exact": lambda: bench.exact_report(np, n=64, d=8, chunk=16, memory_n=64, repeats=1),
        "longformer": lambda: bench.longformer_report(
            np, n=64, d=8, window=4, memory_n=64, repeats=1
        ),
        "performer": lambda: bench.performer_report(
            np, n=64, d=8, features=16, memory_n=64, repeats=1
        ),
        "linformer": lambda: bench.linformer_report(np, n=64, d=8, k=8, memory_n=64, repeats=1),
    }
    for name, report in reports.items():
        passes.clear()
        report()
        # one check of the inputs of the timed calls, one of the larger ones of the memory peak
        assert len(passes) == 2, (name, passes)
