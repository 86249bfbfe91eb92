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
* with ``check_finite=False``, syncs exactly once less, the finiteness pass.
"""

import collections

import cupy_standin
import pytest

from refattn.bench import configured
from refattn.mechanisms import REGISTRY

CONFIGURATIONS = [label for entry in REGISTRY.values() for label in entry.bench]
D = 16
#: arrays a configuration validates besides q, k, v: BigBird's random block assignment
#: (its entries' range and the most valid slots of any row are read in one sync)
EXTRA_ARRAYS = {"bigbird": 1}


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
