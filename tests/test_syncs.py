"""Host syncs per mechanism call, counted on the CuPy stand-in.

On a GPU every read of a device value by the host (``float(x)``, ``bool(x)``,
``.item()``, ``.tolist()``, boolean-mask indexing, ...) waits for all queued
work: a sync inside a loop over chunks or segments stalls the device once per
iteration.  The stand-in counts each sync by the line that caused it.  For
every benchmark configuration of every registered mechanism, one call:

* syncs at most once per array it validates (q, k, v, and BigBird's random
  block assignment): the finiteness pass over all inputs is one sync, an
  overflow guard's bound another;
* syncs the same number of times, on the same lines, at n = 1024 and
  n = 2048, so no sync sits in a loop whose length grows with n;
* with ``check_finite=False``, syncs exactly once less, the finiteness pass;
* syncs in exactly the functions listed for it in ``SITES`` (a new sync,
  even one that does not grow with n, must be added there, with its reason).

Every example of the registry, with and without ``return_weights``, keeps the
budget too (the benchmark configurations are the large, chunked cases; the
examples cover the options: separate query and key hashing, arrays of spans,
explicit compressor taps, ...).
"""

import collections

import cupy_standin
import numpy as np
import pytest

from refattn.bench import configured
from refattn.mechanisms import REGISTRY

CONFIGURATIONS = [label for entry in REGISTRY.values() for label in entry.bench]
D = 16
#: arrays a configuration validates besides q, k, v: BigBird's random block assignment
#: (its entries' range and the most valid slots of any row are read in one sync)
EXTRA_ARRAYS = {"bigbird": 1}

#: where each benchmark configuration reads the device, as (file, function):
#:   check_all_finite     the finiteness pass over all inputs (check_finite=False skips it)
#:   softmax __init__     the overflow guard of exact (or block-exact) scores: one bound
#:   check_output / check_finite_result   the output is finite, or the guard says why
#:   _random_slots        BigBird: the assignment's range and its most valid slots, together
#:   _check_projected     Linformer: the projected keys and values did not overflow
#:   _hash                Reformer: the rotated queries (and keys) did not overflow
#:   _pool                Funnel: the pooled queries did not overflow
FINITE = ("refattn/_validation.py", "check_all_finite")
GUARD = ("refattn/softmax.py", "__init__")
SEGMENT_GUARD = ("refattn/compressive.py", "__init__")  # the same bound, with the taps' gain
OUTPUT = ("refattn/_validation.py", "check_output")
RESULT = ("refattn/_validation.py", "check_finite_result")
SITES = {
    "softmax": {FINITE, GUARD},
    "chunked": {FINITE, GUARD},
    "sliding_window": {FINITE, GUARD},
    "sliding_window_global": {FINITE, GUARD},
    "favor": {FINITE, OUTPUT},
    "favor_causal": {FINITE, OUTPUT},
    "linformer": {FINITE, GUARD, ("refattn/linformer.py", "_check_projected")},
    "xl": {FINITE, SEGMENT_GUARD},
    "compressive": {FINITE, SEGMENT_GUARD},
    "bigbird": {FINITE, GUARD, RESULT, ("refattn/bigbird.py", "_random_slots")},
    "reformer": {FINITE, RESULT, ("refattn/reformer.py", "_hash")},
    "sparse_strided": {FINITE, RESULT},
    "sparse_fixed": {FINITE, RESULT},
    "linear": {FINITE, OUTPUT},
    "linear_causal": {FINITE, OUTPUT},
    "funnel": {FINITE, GUARD, ("refattn/funnel.py", "_pool")},
    "adaptive_span": {FINITE, GUARD},
}


def _syncs(standin, label, n, **call):
    attend, causal = configured(label, n)
    g = standin.random.default_rng(0)
    q, k, v = (g.standard_normal((n, D), dtype="float32") for _ in range(3))
    attend(q, k, v, causal=causal)  # the first call draws what a random mechanism keeps
    with cupy_standin.counting_syncs() as syncs:
        attend(q, k, v, causal=causal, **call)
    return syncs


def _table(syncs) -> str:
    return "\n".join(f"  {count} x {kind} at {path}:{line} ({fn})"
                     for (path, line, fn, kind), count in sorted(syncs.items()))  # fmt: skip


@pytest.mark.parametrize("label", CONFIGURATIONS)
def test_a_call_syncs_at_most_once_per_input_and_never_per_chunk(standin, label):
    small, large = _syncs(standin, label, 1024), _syncs(standin, label, 2048)
    budget = 3 + EXTRA_ARRAYS.get(label, 0)
    assert sum(small.values()) <= budget, f"{label} syncs too often:\n{_table(small)}"
    assert small == large, (
        f"{label}'s syncs depend on n (a sync in a loop):\n"
        f"n = 1024:\n{_table(small)}\nn = 2048:\n{_table(large)}"
    )


@pytest.mark.parametrize("label", CONFIGURATIONS)
def test_a_call_reads_the_device_only_where_listed(standin, label):
    syncs = _syncs(standin, label, 1024)
    assert {(path, function) for path, _, function, _ in syncs} == SITES[label], _table(syncs)


EXAMPLES = [
    pytest.param(name, options, id=f"{name}-{i}")
    for name, entry in REGISTRY.items()
    for i, options in enumerate(entry.examples)
]


@pytest.mark.parametrize(("name", "options"), EXAMPLES)
@pytest.mark.parametrize("return_weights", [False, True])
def test_every_example_syncs_at_most_once_per_checked_array(standin, name, options, return_weights):
    attend = REGISTRY[name](**options)
    g = np.random.default_rng(0)
    q, k, v = (standin.asarray(g.standard_normal((2, 16, 8))) for _ in range(3))
    attend(q, k, v)  # the first call draws what a random mechanism keeps
    with cupy_standin.counting_syncs() as syncs:
        attend(q, k, v, return_weights=return_weights)
    budget = 3 + EXTRA_ARRAYS.get(name, 0)
    assert sum(syncs.values()) <= budget, f"{name} {options} syncs too often:\n{_table(syncs)}"


@pytest.mark.parametrize("label", CONFIGURATIONS)
def test_check_finite_false_skips_exactly_the_finiteness_sync(standin, label):
    checked, unchecked = _syncs(standin, label, 1024), _syncs(standin, label, 1024,
                                                             check_finite=False)  # fmt: skip
    skipped = checked - unchecked
    assert sum(skipped.values()) == 1 and not unchecked - checked, (
        f"{label}: with check_finite=True\n{_table(checked)}\nand False\n{_table(unchecked)}"
    )
    ((path, _, function, _),) = skipped
    assert (path, function) == ("refattn/_validation.py", "check_all_finite")


def test_the_count_fails_a_sync_in_a_loop(standin, monkeypatch):
    # the twin: the same call, plus one host read per chunk of 256 queries, is caught
    def per_chunk(label, n, configured=configured):
        attend, causal = configured(label, n)

        def leaky(q, k, v, **kw):
            for start in range(0, q.shape[-2], 256):
                float(q[start, 0])  # one host read per chunk
            return attend(q, k, v, **kw)

        return leaky, causal

    monkeypatch.setitem(globals(), "configured", per_chunk)
    small, large = _syncs(standin, "chunked", 1024), _syncs(standin, "chunked", 2048)
    assert small != large
    assert large - small == collections.Counter({next(iter(large - small)): 4})
