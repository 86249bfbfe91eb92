"""Reformer LSH attention: hash, sort, chunk, and attend within the bucket.

Kitaev, Kaiser & Levskaya 2020, *Reformer: The Efficient Transformer*,
arXiv:2001.04451.  A random rotation hashes every vector to one of ``b``
buckets so that near vectors (small angle) tend to share a bucket; sorting the
positions by bucket and cutting the sorted sequence into chunks of ``c`` lets
each query attend only the keys of its own bucket in its own and the previous
chunk, ``O(n·c)`` scores instead of ``n²``.  Several independent hash rounds
catch pairs one round missed, and their outputs are combined with weights
given by each round's log-normaliser.

refattn's conventions (``derivations/10-reformer.md``):

* (10.1) ``h(x) = argmax([xR ; −xR])`` with ``R (d, b/2)`` Gaussian, one per
  round: :func:`lsh_buckets`, :func:`random_rotations`.
* (10.2) Shared-QK (default, the paper's): the hash and the keys come from
  ``q``; key ``j`` is the unit vector ``q_j/‖q_j‖``, and the ``k`` argument is
  **ignored** (it is checked like any input, never read).  The logit
  ``τ·q_i·q_j/‖q_j‖`` is of degree one in ``q``, so
  ``f(c·q; τ/c) = f(q; τ)``.  ``shared_qk=False`` hashes ``k`` on its own and
  sorts the keys separately (not in the paper; causal is then refused).
* (10.3) Sort by ``(bucket, position)``, pad the sorted sequence to ``B·c``
  slots, chunk ``a`` attends chunks ``a`` and ``a − 1`` (the first chunk has no
  previous one: no wrap-around), same bucket only, causal by original
  positions.
* (10.4) Self: the logit of ``q_i`` against its own key is replaced by the
  finite ``SELF_SCORE = −1e5`` (as Hugging Face transformers' Reformer does), so a query
  attends itself only when nothing else is available.
* (10.5) Rounds: ``out = Σ_r exp(lse_r − logsumexp_r lse_r)·out_r``; a pair
  found in several rounds is counted once per round (no de-duplication), so
  the effective weight is ``count_ij·exp(s_ij) / Σ_j count_ij·exp(s_ij)``.
* (10.6) Key padding: a padded position is hashed into a bucket of its own
  (``b``, after every real bucket), so the sorted order and the chunks of the
  real positions are those of the sequence without the padding.
* (10.7) Memory ``O(n·c·rounds)``: :func:`refattn.complexity.lsh_attention_memory`.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    check_all_finite,
    check_array,
    check_attention_call,
    check_bool,
    check_dtype,
    check_finite_result,
    check_float_array,
    check_generator,
    check_int,
    check_module,
    describe,
    finite_flag,
    quiet_overflow,
)
from .backend import pad_axis, window_view
from .softmax import _finite_or_zero, _nonzero, softmax_partial
from .spectra import _power_of_two_scale

__all__ = [
    "SELF_SCORE",
    "SUPPORTS",
    "ReformerWeights",
    "lsh_attention",
    "lsh_buckets",
    "random_rotations",
]

#: How :func:`random_rotations` words a rejected ``rng``.
_RNG_DOMAIN = "None, an integer >= 0 or a Generator of xp's backend"

#: The logit of a query against its own key (shared-QK): large, negative and finite (10.4).
SELF_SCORE = -1e5

#: What :func:`lsh_attention` can honour of the calling convention.
SUPPORTS = Supports(
    general_mask=LINEAR_TIME_MASK,
    cross=(
        "LSH attention sorts one sequence: query chunk a meets key chunks a and a − 1 of "
        "the same sort, and with shared QK the keys are the queries"
    ),
)

#: Why ``shared_qk=False`` refuses ``causal=True`` (used by the registry's ``narrow``).
SEPARATE_KEYS_NOT_CAUSAL = (
    "with separate keys (shared_qk=False) the keys are sorted by their own hashes, so which "
    "earlier keys a query meets would depend on the later keys"
)


class ReformerWeights(NamedTuple):
    """Attention weights of :func:`lsh_attention`, per round in chunk form.

    Attributes
    ----------
    window : array (rounds, ..., B, c, 2c)
        ``window[r, ..., a, t, u]``: the weight (rounds already combined,
        (10.5)) that the query in sorted slot ``a·c + t`` of round ``r`` gives
        the key in slot ``(a − 1)·c + u``.
    query_slots : int array (rounds, ..., B·c)
        Original position of each sorted query slot; ``n`` marks a padding slot.
    key_slots : int array (rounds, ..., c + B·c)
        Original position of each key slot, the first ``c`` (the chunk before
        the first) and the padding slots marked ``n``.
    n : int
    """

    window: Any
    query_slots: Any
    key_slots: Any
    n: int

    def to_dense(self):
        """The weights as an ``(..., n, n)`` array, the rounds summed (tests and figures only)."""
        xp = array_module(window=self.window)
        rounds, *batch, blocks, c, width = self.window.shape
        n = self.n
        w = self.window.reshape((rounds, -1, blocks * c, width))
        rows = xp.broadcast_to(self.query_slots, (rounds, *batch, blocks * c))
        rows = rows.reshape((rounds, -1, blocks * c))
        keys = xp.broadcast_to(self.key_slots, (rounds, *batch, c + blocks * c))
        keys = window_view(
            keys.reshape((rounds, -1, c + blocks * c))[..., None], size=width, step=c, count=blocks
        )[..., 0]  # (rounds, b, B, 2c)
        dense = xp.zeros((w.shape[1], n + 1, n + 1), dtype=self.window.dtype)
        for r in range(rounds):
            for b in range(w.shape[1]):
                cols = xp.repeat(keys[r, b], c, axis=0)  # (B·c, 2c): each query's key window
                one = xp.zeros((n + 1, n + 1), dtype=self.window.dtype)
                one[rows[r, b][:, None], cols] = w[r, b]  # each pair at most once per round
                dense[b] += one
        return dense[:, :n, :n].reshape((*batch, n, n))


def random_rotations(d, *, buckets, rounds=1, rng=None, xp=None, dtype="float64"):
    """Random projections ``R (rounds, d, buckets/2)`` with i.i.d. standard normal entries (10.1).

    Examples
    --------
    >>> random_rotations(4, buckets=6, rounds=2, rng=0).shape
    (2, 4, 3)
    """
    d = check_int("d", d, minimum=1)
    buckets = _check_buckets(buckets)
    rounds = check_int("rounds", rounds, minimum=1)
    dtype = check_dtype("dtype", dtype)
    entries = rounds * d * (buckets // 2)
    if entries > MAX_ROTATION_ENTRIES:
        raise ValueError(
            f"rounds · d · buckets/2 must be <= {MAX_ROTATION_ENTRIES} (the entries of the "
            f"rotations), got rounds = {rounds}, d = {d} and buckets = {buckets}"
        )
    xp = check_module("xp", xp, default="numpy")
    g = check_generator("rng", rng, xp, domain=_RNG_DOMAIN)
    return g.standard_normal((rounds, d, buckets // 2)).astype(dtype)


@quiet_overflow
def lsh_buckets(x, rotations):
    """Angular LSH of each row of ``x``: ``h(x) = argmax([xR ; −xR])``, one hash per round (10.1).

    Parameters
    ----------
    x : array (..., n, d)
    rotations : array (rounds, d, b/2)

    Returns
    -------
    int array (rounds, ..., n) with values in ``[0, b)``.  Ties go to the
    first maximum of the concatenation, as ``argmax`` does.

    Examples
    --------
    >>> import numpy as np
    >>> R = np.array([[[1.0, 0.0], [0.0, 1.0]]])  # b = 4: buckets +e1, +e2, −e1, −e2
    >>> lsh_buckets(np.array([[2.0, 1.0], [0.0, 3.0], [-2.0, 1.0], [0.5, -3.0]]), R)
    array([[0, 1, 2, 3]])
    """
    xp = array_module(x=x, rotations=rotations)
    check_array("x", x, min_ndim=2, axes="..., n, d", dtype="float", finite=False)
    _check_rotations(rotations, None)
    if x.shape[-1] != rotations.shape[1]:
        raise ValueError(
            f"x must have shape (..., n, d) with d = rotations.shape[1] = {rotations.shape[1]}, "
            f"got shape {x.shape}"
        )
    check_all_finite({"rotations": rotations, "x": x}, xp)  # one sync for both
    (buckets,) = _hash(xp, [x], rotations)
    return buckets


def _hash(xp, xs, rotations):
    """(10.1) for each checked array of ``xs`` (q, and k when hashed apart): one host read for all.

    Rows are rescaled by a power of two where ``x·R`` overflows (a second read, only then).
    """
    half = rotations.shape[-1]
    rots = [rotations.reshape((rotations.shape[0],) + (1,) * (x.ndim - 2) + rotations.shape[1:])
            for x in xs]  # fmt: skip
    projs = [x[None] @ rot for x, rot in zip(xs, rots, strict=True)]  # (rounds, ..., n, b/2)
    flags = [finite_flag(xp, p) for p in projs]  # None for an empty p: nothing overflowed
    finite = xp.stack([xp.asarray(True) if f is None else f for f in flags]).tolist()
    overflowed = [i for i, ok in enumerate(finite) if not ok]
    if overflowed:
        # argmax is unchanged by a positive factor per row: divide each row of x by the power
        # of two at its largest entry (exact), so that |x| < 2 and x·R cannot overflow
        for i in overflowed:
            projs[i] = (xs[i] / _power_of_two_scale(xp, _row_top(xp, xs[i])))[None] @ rots[i]
        if not all(xp.stack([finite_flag(xp, projs[i]) for i in overflowed]).tolist()):
            raise FloatingPointError(
                f"lsh_buckets: x·rotations overflows {projs[overflowed[0]].dtype} even for rows "
                f"of x scaled to |x| < 2; the rotations are too large"
            )
    # argmax over [xR ; −xR] without building it: the larger of max(xR) and max(−xR) = −min(xR);
    # a tie goes to the first half, as argmax of the concatenation would
    buckets = []
    for proj in projs:
        first = proj.max(axis=-1) >= -proj.min(axis=-1)  # (rounds, ..., n)
        buckets.append(xp.where(first, proj.argmax(axis=-1), proj.argmin(axis=-1) + half))
    return buckets


@quiet_overflow
def lsh_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    buckets=None,
    chunk=64,
    rounds=None,
    rotations=None,
    rng=None,
    shared_qk=True,
):
    """Reformer LSH self-attention, memory ``O(n·c·rounds)``.

    Equals softmax attention whose weights are ``count_ij·exp(s_ij)``
    normalised, where ``count_ij`` is the number of rounds in which key ``j``
    shares query ``i``'s bucket and lies in its chunk or the previous one
    (10.3)-(10.5), and ``s_ii = SELF_SCORE``: no ``n × n`` array is built.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., n, d), (..., n, d_v)
        Self-attention over one sequence.  With ``shared_qk=True`` (default)
        ``k`` is ignored: the keys are the unit queries ``q_j/‖q_j‖`` (a zero
        query gives a zero key).
    mask : bool array broadcastable to (..., 1, n), optional
        Key padding (True = may attend).  A padded position gets a bucket of
        its own (10.6); with shared QK its query attends nothing (output 0).
    causal : bool
        Query ``i`` reads keys ``j <= i`` by original position.  Which earlier
        keys it meets depends on where the later positions hash (10.6).
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.  Not applied to ``SELF_SCORE``.
    return_weights : bool
        Also return a :class:`ReformerWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs (given ``rotations``
        too), e.g. inside timed regions; non-finite input then gives undefined
        results (:mod:`refattn.mechanisms`).
    buckets : even int >= 2
        Number of buckets ``b``; taken from ``rotations`` when they are given.
    chunk : int >= 1
        Chunk length ``c`` in the sorted sequence.
    rounds : int >= 1, optional
        Hash rounds (default 1); taken from ``rotations`` when given.
    rotations : array (rounds, d, b/2), optional
        Explicit projections (e.g. another implementation's); otherwise drawn
        from ``rng`` by :func:`random_rotations` (in ``q``'s dtype).
    rng : None, int or Generator
        For the rotations when none are given.
    shared_qk : bool
        The paper's shared query-key space (True), or separate keys hashed on their own.

    Returns
    -------
    out : array (..., n, d_v)
    weights : ReformerWeights
        Only when ``return_weights``.

    Examples
    --------
    Two buckets (the sign of ``x·r``): the first query is alone in its bucket
    and attends itself; the others share one and, chunk 4, see each other:

    >>> import numpy as np
    >>> R = np.array([[[1.0], [0.0]]])
    >>> q = np.array([[-1.0, 0.0], [1.0, 0.0], [2.0, 0.0], [1.0, 1.0]])
    >>> v = np.array([[1.0], [2.0], [4.0], [8.0]])
    >>> lsh_attention(q, q, v, rotations=R, chunk=4, causal=True, scale=1e-9)
    array([[1.], [2.], [2.], [3.]])
    """
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "lsh_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=False,  # below, with the rotations: one pass
        supports=SUPPORTS,
    )
    dims, tau, key_mask = call.dims, call.scale, call.key_mask
    xp, n, d = dims.xp, dims.n, dims.d
    check_bool("shared_qk", shared_qk)
    if causal and not shared_qk:
        raise ValueError(f"lsh_attention cannot be causal: {SEPARATE_KEYS_NOT_CAUSAL}")
    # (10.9)  a chunk beyond n is one chunk of the whole sorted sequence, as chunk = n
    chunk = min(check_int("chunk", chunk, minimum=1), n)
    given = rotations is not None  # drawn ones are finite by construction
    rotations = _rotations(rotations, buckets, rounds, rng, d, xp, q.dtype)
    if check_finite:
        named = {"q": q, "k": k, "v": v, **({"rotations": rotations} if given else {})}
        check_all_finite(named, xp)
    b = 2 * rotations.shape[-1]
    c = chunk
    blocks = -(-n // c)  # B = ⌈n/c⌉ chunks per round
    slots = blocks * c  # N = B·c sorted slots, the last N − n are padding
    lead = dims.batch  # q, k, v (and the mask's) leading axes broadcast
    pos = xp.arange(n)

    # (10.1)  hashes, one per round: (R, ..., n); (10.6) padded positions get bucket b
    hashed = _hash(xp, [q] if shared_qk else [q, k], rotations)  # one host read for both
    q_buckets = _broadcast_lead(hashed[0], lead)
    k_buckets = q_buckets if shared_qk else _broadcast_lead(hashed[1], lead)
    if key_mask is not None:  # a padded position is a padding token, query and key alike
        k_buckets = xp.where(key_mask, k_buckets, b)  # (R, ..., n)
        q_buckets = k_buckets if shared_qk else xp.where(key_mask, q_buckets, b)

    # (10.3)  sort by (bucket, position); slot s holds position order[s]
    q_order = _sort(xp, q_buckets, pos, n)  # (R, ..., n)
    k_order = q_order if shared_qk else _sort(xp, k_buckets, pos, n)
    q_slots = pad_axis(q_order, -1, 0, slots - n, value=n)  # (R, ..., N), n = padding slot
    k_slots = pad_axis(k_order, -1, c, slots - n, value=n)  # (R, ..., c + N): one chunk before
    q_bucket_s = _take(xp, q_buckets, q_slots, b + 1)  # (R, ..., N)
    k_bucket_s = _take(xp, k_buckets, k_slots, b + 1)  # (R, ..., c + N)
    k_ok = k_bucket_s < b  # not padded (bucket b), not a padding slot (b + 1)

    # gathered, sorted queries (scaled) and keys; the keys' first chunk is padding
    q_sorted = _gather(xp, q, q_slots, n)  # (R, ..., N, d)
    q_sorted *= tau
    keys = _gather(xp, q if shared_qk else k, k_slots, n)  # (R, ..., c + N, d)
    if shared_qk:
        # (10.2)  k_j = q_j/‖q_j‖ (a zero query gives a zero key); (10.9) first divided by
        # the power of two at its largest entry (exact), so that ‖q_j‖² cannot overflow
        keys /= _power_of_two_scale(xp, _row_top(xp, keys))
        norm = xp.sqrt(xp.einsum("...i,...i->...", keys, keys))[..., None]  # (R, ..., c + N, 1)
        keys /= xp.where(norm == 0, 1, norm)
    # (10.3)  chunk a reads key slots (a − 1)·c … (a + 1)·c − 1: a strided view, no copy
    q_blocks = q_sorted.reshape(q_sorted.shape[:-2] + (blocks, c, d))  # (R, ..., B, c, d)
    k_windows = window_view(keys, size=2 * c, step=c, count=blocks)  # (R, ..., B, 2c, d)
    scores = q_blocks @ xp.swapaxes(k_windows, -1, -2)  # (R, ..., B, c, 2c)
    logits_ok = finite_flag(xp, scores)  # (10.9) synced at the end
    del q_sorted, q_blocks, k_windows, keys
    if shared_qk:
        # (10.4)  the query's own key sits at window column c + t: a finite, large negative score
        t = xp.arange(c)
        scores[..., t, c + t] = SELF_SCORE
    _block_pairs(xp, scores, q_bucket_s, k_bucket_s, k_ok, q_slots, k_slots, causal, c)
    del q_bucket_s, k_bucket_s, k_ok

    values = _gather(xp, v, k_slots, n)  # (R, ..., c + N, d_v)
    v_windows = window_view(values, size=2 * c, step=c, count=blocks)  # (R, ..., B, 2c, d_v)
    part = softmax_partial(scores, v_windows)  # scores now hold exp(s − M_r)
    del values, v_windows
    if not return_weights:
        del scores

    # back to original order: slot s of q_order holds position q_order[s]
    inverse = xp.argsort(q_order, axis=-1)  # (R, ..., n)
    row_max = _unsort(xp, part.row_max, inverse, n)  # (R, ..., n, 1)
    row_sum = _unsort(xp, part.row_sum, inverse, n)  # (R, ..., n, 1)
    numerator = _unsort(xp, part.numerator, inverse, n)  # (R, ..., n, d_v)
    del part

    # (10.5)  out = Σ_r exp(lse_r − LSE)·out_r = Σ_r e^{M_r − M} a_r / Σ_r e^{M_r − M} l_r
    top = row_max.max(axis=0)  # (..., n, 1)
    shift = _finite_or_zero(xp, top)
    round_scale = xp.exp(row_max - shift)  # (R, ..., n, 1)
    numerator *= round_scale
    out = numerator.sum(axis=0) if numerator.shape[0] > 1 else numerator[0]  # (..., n, d_v)
    del numerator
    total = _nonzero((row_sum * round_scale).sum(axis=0))  # (..., n, 1)
    out /= total
    check_finite_result(
        "lsh_attention",
        xp,
        [logits_ok],
        out,
        q.dtype,
        **(dict(logit="τ·q·q_j/‖q_j‖", large="‖q‖") if shared_qk else {}),
    )
    if not return_weights:
        return out

    # weights: exp(s − M_r)·exp(M_r − M)/total, each in the sorted slots of its round
    per_row = round_scale / total  # (R, ..., n, 1)
    per_slot = _gather(xp, per_row, q_slots, n)  # (R, ..., N, 1)
    scores *= per_slot.reshape(per_slot.shape[:-2] + (blocks, c, 1))
    weights = ReformerWeights(scores, q_slots, k_slots, n)
    return out, weights


# ---------------------------------------------------------------------------
# helpers


def _block_pairs(xp, scores, q_bucket, k_bucket, k_ok, q_slots, k_slots, causal, c):
    """Set ``-inf`` where a pair is not allowed (10.3), one query row of the chunks at a time.

    A pair is allowed when the key is real (not padded, not a padding slot),
    in the query's bucket and, when causal, not after the query.  Row by row,
    so that no boolean array as large as the scores is ever built.
    """
    lead = scores.shape[:-3]
    blocks = scores.shape[-3]
    kb = window_view(k_bucket[..., None], size=2 * c, step=c, count=blocks)[..., 0]  # (.., B, 2c)
    ok = window_view(k_ok[..., None], size=2 * c, step=c, count=blocks)[..., 0]
    kp = window_view(k_slots[..., None], size=2 * c, step=c, count=blocks)[..., 0]
    qb = q_bucket.reshape(lead + (blocks, c))  # (R, ..., B, c)
    qp = q_slots.reshape(lead + (blocks, c))
    for t in range(c):
        blocked = (kb != qb[..., t, None]) | ~ok  # (R, ..., B, 2c)
        if causal:
            blocked |= kp > qp[..., t, None]  # (0.6) by original positions, m = n
        xp.copyto(scores[..., t, :], -xp.inf, where=blocked)


#: The most entries ``rounds · d · buckets/2`` :func:`random_rotations` draws (2 GiB in float64).
MAX_ROTATION_ENTRIES = 2**28


def _row_top(xp, x):
    """Per row of ``x (..., f)``: its largest ``|entry|`` ``(..., 1)``, without a copy of ``|x|``.

    Divided by :func:`refattn.spectra._power_of_two_scale` of it (the power of
    two at or below it, exact), ``x`` keeps every direction bit for bit while
    its entries are below 2 in magnitude (a zero row stays zero).
    """
    return xp.maximum(x.max(axis=-1, keepdims=True), -x.min(axis=-1, keepdims=True))


def _rotations(rotations, buckets, rounds, rng, d, xp, dtype):
    """The given rotations, checked but for finiteness (the caller's, with q, k and v), or
    rotations drawn from ``rng``."""
    if rotations is not None and rng is not None:
        raise ValueError(
            f"rng must be None when rotations are given (it only draws rotations), "
            f"got {describe(rng)}"
        )
    if rotations is None:
        if buckets is None:
            raise ValueError("buckets must be an even integer >= 2 when no rotations are given")
        return random_rotations(
            d,
            buckets=buckets,
            rounds=1 if rounds is None else rounds,
            rng=rng,
            xp=xp,
            dtype=str(dtype),
        )
    array_module(q=xp.zeros(0), rotations=rotations)
    _check_rotations(rotations, d)
    half = rotations.shape[-1]
    if buckets is not None and _check_buckets(buckets) != 2 * half:
        raise ValueError(
            f"buckets must equal 2·rotations.shape[-1] = {2 * half} when rotations are given, "
            f"got {buckets}"
        )
    if rounds is not None and check_int("rounds", rounds, minimum=1) != rotations.shape[0]:
        raise ValueError(
            f"rounds must equal rotations.shape[0] = {rotations.shape[0]} when rotations are "
            f"given, got {rounds}"
        )
    return rotations


def _check_buckets(buckets) -> int:
    buckets = check_int("buckets", buckets, minimum=2)
    if buckets % 2:
        raise ValueError(
            f"buckets must be an even integer >= 2 (argmax over [xR ; −xR]), got {buckets}"
        )
    return buckets


def _check_rotations(rotations, d) -> None:
    """``rotations`` float ``(rounds, d, b/2)`` (any ``d`` if None), rounds, b/2 >= 1; the
    caller checks that they are finite, with its other arrays (one sync)."""
    want = "d" if d is None else d
    if (
        getattr(rotations, "ndim", None) != 3
        or (d is not None and rotations.shape[1] != d)
        or rotations.shape[2] < 1
    ):
        raise ValueError(
            f"rotations must have shape (rounds, d, b/2) = (rounds, {want}, b/2) with rounds, "
            f"b/2 >= 1, got shape {getattr(rotations, 'shape', None)}"
        )
    if rotations.shape[0] < 1:
        raise ValueError(f"rotations must hold at least one round, got shape {rotations.shape}")
    check_float_array("rotations", rotations)


def _broadcast_lead(x, lead):
    """(R, ..., n) broadcast to (R, *lead, n), as a view."""
    xp = array_module(x=x)
    x = x.reshape((x.shape[0],) + (1,) * (len(lead) + 2 - x.ndim) + x.shape[1:])
    return xp.broadcast_to(x, (x.shape[0], *lead, x.shape[-1]))


def _sort(xp, bucket, pos, n):
    """Positions sorted by (bucket, position): (R, ..., n)."""
    return xp.argsort(bucket * n + pos, axis=-1)


def _take(xp, x, slots, fill):
    """``x[..., slots]`` for x (R, ..., n), with ``fill`` at the padding slots (marked ``n``)."""
    n = x.shape[-1]
    got = _rows(xp, x[..., None], xp.minimum(slots, n - 1))[..., 0]
    return xp.where(slots == n, fill, got)


def _gather(xp, x, slots, n):
    """Rows ``x[..., slots, :]`` for every round: (R, ..., S, f); padding slots read row 0."""
    return _rows(xp, x, xp.where(slots == n, 0, slots))


def _unsort(xp, x, inverse, n):
    """Sorted slots (R, ..., B, c, f) back to positions (R, ..., n, f)."""
    return _rows(xp, x.reshape(x.shape[:-3] + (-1, x.shape[-1])), inverse)


def _rows(xp, x, index):
    """``x[b, index[..., b, s], :]`` for x (*xb, L, f) and index (..., *lead, S): (..., S, f).

    The leading axes of ``x`` broadcast against those of ``index``; one ``take``
    from the flattened rows, with each batch's row offset added to its indices.
    """
    *xb, length, f = x.shape
    offset = xp.arange(math.prod(xb)).reshape(tuple(xb) + (1,)) * length  # (*xb, 1)
    return xp.take(x.reshape(-1, f), index + offset, axis=0)
