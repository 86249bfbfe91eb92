"""BigBird attention (ITC): window, global and random blocks.

Zaheer et al. 2020, *Big Bird: Transformers for Longer Sequences*,
arXiv:2007.14062.  The sequence is cut into blocks of ``b`` tokens; each query
block attends the three blocks around it (itself and its neighbours), ``g``
global blocks that attend to, and are attended by, every position, and ``r``
random blocks of its own.  Window and global blocks keep the cost linear; the
random blocks make the attention graph a small world, so that information
crosses the sequence in few layers even without the global blocks.

refattn's conventions (``derivations/09-bigbird.md``):

* (9.1) Block ``i`` holds positions ``i·b … i·b + b − 1``.  A length ``n`` that
  is not a multiple of ``b`` is **padded** to ``B = ⌈n/b⌉`` blocks: the padded
  positions are keys nobody attends and queries whose output is dropped.
  The pattern is the union of the window, global and random blocks; a block
  that is in two of them counts once.
* (9.2) Each part is computed in block form and the three partial softmaxes
  (window, global columns, random) are merged exactly; nothing of size
  ``n × n`` is allocated.
* (9.3) Random blocks: for every non-global query block, ``r`` distinct blocks
  drawn uniformly among those that are neither in its window nor global (the
  rule of Google's BigBird code and Hugging Face transformers' BigBird),
  drawn once and kept.  An assignment drawn
  for ``L ≥ B`` blocks applies to shorter inputs through its first ``B`` rows,
  its entries ``≥ B`` dropped: exactly what padding the input to ``L·b``
  positions and masking the padded keys would give.
* (9.4) Global blocks are given as block indices, or as a count ``g``: the
  first ``g`` blocks (Google's BigBird code makes the first and the
  last block global; pass ``global_blocks=(0, B − 1)`` for that).
* (9.5) Memory ``O(n·b·(3 + g + r))``, :func:`refattn.complexity.bigbird_memory`.
* (9.6) The attention graph: diameter and mean shortest path,
  :func:`attention_graph_distances`.
"""

from __future__ import annotations

import numbers
from collections import deque
from typing import Any, NamedTuple

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    broadcast_shapes,
    check_array,
    check_attention_call,
    check_finite_result,
    check_generator,
    check_int,
    check_module,
    describe,
    finite_flag,
    quiet_overflow,
)
from .backend import indicator, pad_axis, to_numpy, window_view
from .complexity import bigbird_memory
from .softmax import (
    SoftmaxPartial,
    _fill_blocked,
    _finite_or_zero,
    _nonzero,
    _refuse_working_set,
    finish_partial,
    merge_partials_,
    softmax_attention,
    softmax_partial,
)

__all__ = [
    "BigBirdWeights",
    "attention_graph_distances",
    "bigbird_attention",
    "bigbird_pattern",
    "block_pattern",
    "random_block_assignment",
]

#: What :func:`bigbird_attention` can honour of the calling convention.
SUPPORTS = Supports(
    causal=(
        "BigBird's global blocks attend to every key and its random blocks may lie "
        "in the future (the ITC pattern is bidirectional)"
    ),
    general_mask=LINEAR_TIME_MASK,
    cross="BigBird pairs query block i with key block i: self-attention over one sequence",
)


class BigBirdWeights(NamedTuple):
    """Attention weights of :func:`bigbird_attention`, in block form.

    Attributes
    ----------
    window : array (..., B, b, 3b)
        ``window[..., i, a, s]`` is the weight of key ``(i − 1)·b + s`` for
        query ``i·b + a`` (0 outside ``[0, n)``, for padded or global keys, and
        for global query rows).
    random : array (..., B, b, r·b) or None
        ``random[..., i, a, t·b + s]`` is the weight of key ``R[i, t]·b + s``.
    global_keys : array (..., B·b, G) or None
        Weight of each global position (``G`` of them) for each query.
    global_rows : array (..., G, n) or None
        The full weight rows of the global positions.
    random_blocks : array (B, r) or None
        The random blocks used, ``−1`` where a slot is unused (dropped,
        repeated, in the window or global).
    block, n : int
    global_blocks : tuple of int
    """

    window: Any
    random: Any
    global_keys: Any
    global_rows: Any
    random_blocks: Any
    block: int
    n: int
    global_blocks: tuple[int, ...]

    def to_dense(self):
        """The weights as an ``(..., n, n)`` array, for tests and figures only."""
        xp = array_module(window=self.window)
        *batch, blocks, b, width = self.window.shape
        n = self.n
        dense = xp.zeros((*batch, n, n), dtype=self.window.dtype)
        rows = xp.arange(blocks * b).reshape(blocks, b, 1)  # (B, b, 1) query positions
        cols = (xp.arange(blocks) - 1).reshape(blocks, 1, 1) * b + xp.arange(width)  # (B, 1, 3b)
        rows, cols = xp.broadcast_arrays(rows, cols)  # (B, b, 3b)
        keep = (rows < n) & (cols >= 0) & (cols < n)
        dense[..., rows[keep], cols[keep]] += self.window[..., keep]
        if self.random is not None:
            r = self.random_blocks.shape[-1]
            slots = self.random_blocks.reshape(blocks, 1, r, 1)  # (B, 1, r, 1)
            cols = slots * b + xp.arange(b)  # (B, 1, r, b)
            rows = xp.arange(blocks * b).reshape(blocks, b, 1, 1)
            rows, cols = xp.broadcast_arrays(rows, cols)  # (B, b, r, b)
            keep = (rows < n) & (slots >= 0) & (cols < n)
            weights = self.random.reshape(self.random.shape[:-1] + (r, b))
            dense[..., rows[keep], cols[keep]] += weights[..., keep]
        if self.global_blocks:
            positions = _global_positions(xp, self.global_blocks, b, n)
            dense[..., :, positions] += self.global_keys[..., :n, :]
            dense[..., positions, :] = self.global_rows
        return dense


@quiet_overflow
def bigbird_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    block,
    global_blocks=0,
    random_blocks=None,
):
    """BigBird self-attention (ITC) in block form, memory linear in ``n``.

    Equals ``softmax_attention(q, k, v, mask=bigbird_pattern(...))`` (with the
    key padding applied) up to rounding, without the ``n × n`` matrix: working
    memory about ``n·b·(3 + r) + n·g·b`` scores plus the gathered random key
    and value blocks (:func:`refattn.complexity.bigbird_memory`).

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., n, d), (..., n, d_v)
        Self-attention: one sequence of ``n`` positions.  Leading axes broadcast.
    mask : bool array broadcastable to (..., 1, n), optional
        Key padding (True = may attend).  A mask with a query axis raises: it
        cannot be applied in linear time.
    causal : bool
        Must be False: the ITC pattern is bidirectional (global rows read every key).
    scale : float > 0, optional
        Multiplies the logits; default ``1/sqrt(d)``.  Also used by the global rows.
    return_weights : bool
        Also return a :class:`BigBirdWeights`.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).
    block : int >= 1
        Block size ``b``; ``n`` is padded up to ``B·b``, ``B = ⌈n/b⌉`` (9.1).
    global_blocks : int >= 0 or sequence of int
        A count ``g`` (the first ``min(g, B)`` blocks), or block indices in
        ``[0, B)``: these blocks attend to every key and every query attends to them.
    random_blocks : int array (L, r), L >= B, optional
        Row ``i`` lists the random key blocks of query block ``i``; ``−1``
        marks an unused slot.  Rows past ``B`` and entries ``>= B`` are ignored
        (an assignment for a longer sequence, 9.3); entries in the row's window
        or global count once.  :func:`random_block_assignment` draws one;
        ``None`` means no random blocks (window and global only).  The
        registry's ``refattn.mechanism("bigbird", r=..., rng=...)`` draws and
        keeps one for you.

    Returns
    -------
    out : array (..., n, d_v)
    weights : BigBirdWeights
        Only when ``return_weights``.

    Raises
    ------
    MemoryError
        Before allocating anything, when the working set
        (:func:`refattn.complexity.bigbird_memory` × batch × itemsize)
        exceeds the memory available; a smaller ``block`` helps.

    Examples
    --------
    Blocks of 2 with the first block global: every query reads block 0.

    >>> import numpy as np
    >>> q = k = np.zeros((8, 2))
    >>> v = np.arange(8.0)[:, None]
    >>> bigbird_attention(q, k, v, block=2)[:, 0]
    array([1.5, 1.5, 2.5, 2.5, 4.5, 4.5, 5.5, 5.5])
    >>> bigbird_attention(q, k, v, block=2, global_blocks=1)[:, 0].round(3).tolist()
    [3.5, 3.5, 2.5, 2.5, 3.5, 3.5, 3.833, 3.833]
    """
    call = check_attention_call(
        "bigbird_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=check_finite,
        supports=SUPPORTS,
    )
    dims, scale, key_mask = call.dims, call.scale, call.key_mask  # key_mask (..., n) or None
    xp, n, d, d_v = dims.xp, dims.n, dims.d, dims.d_v
    # (9.7)  a block beyond n is one block of n, as block = n: never pay for the padding
    b = min(check_int("block", block, minimum=1), n)
    blocks = -(-n // b)  # (9.1)  B = ⌈n/b⌉
    padded = blocks * b
    glob = _check_global_blocks(global_blocks, blocks)
    slots = _random_slots(xp, random_blocks, blocks, b, glob)  # (B, r) or None, −1 = unused
    # (9.5)  refuse, before allocating, blocks whose working set cannot fit
    _refuse_working_set(
        "bigbird_attention",
        f"block = {block}",
        bigbird_memory(
            n, d, d_v, block=b, g=len(glob), r=0 if slots is None else int(slots.shape[-1])
        ),
        dims,
        hint="; pass a smaller block (the window part holds about 3·n·block scores, the "
        "random part r·n·block, the global part g·n·block)",
    )

    # keys the window and random parts may read: real (not padding) and not global,
    # since global keys get their own columns (9.1: a block counts once)
    key_ok = xp.ones(n, dtype=bool) if key_mask is None else key_mask  # (..., n)
    positions = None
    if glob:
        listed = _global_position_list(glob, b, n)  # host integers, listed once
        positions = xp.asarray(listed, dtype=xp.int64)  # as _global_positions builds them
        key_ok = key_ok & ~indicator(n, listed, xp)
    # (9.1)  pad to B·b positions, and one block of nothing on either side of the keys
    q_scaled = pad_axis(q * scale, -2, 0, padded - n)  # (..., N, d)
    q_blocks = q_scaled.reshape(q_scaled.shape[:-2] + (blocks, b, d))  # (..., B, b, d)
    k_pad = pad_axis(k, -2, b, padded - n + b)  # (..., b + N + b, d)
    v_pad = pad_axis(v, -2, b, padded - n + b)  # (..., b + N + b, d_v)
    ok_pad = pad_axis(key_ok[..., None], -2, b, padded - n + b)  # (..., b + N + b, 1)

    # (9.2)  window: query block i reads key blocks i − 1, i, i + 1 (padded blocks i … i + 2),
    # one product per neighbour copied into its third of the scores: no key copies
    k_padded_blocks = k_pad.reshape(k_pad.shape[:-2] + (blocks + 2, b, d))  # a view
    score_batch = broadcast_shapes({"q": q.shape[:-2], "k": k.shape[:-2]})
    scores = xp.empty(score_batch + (blocks, b, 3, b), dtype=xp.result_type(q_blocks, k))
    for offset in range(3):
        k_near = k_padded_blocks[..., offset : offset + blocks, :, :]  # (..., B, b, d)
        scores[..., offset, :] = q_blocks @ xp.swapaxes(k_near, -1, -2)  # (..., B, b, b)
    scores = scores.reshape(score_batch + (blocks, b, 3 * b))  # (..., B, b, 3b)
    flags = [finite_flag(xp, scores)]  # (9.7)  device flags, one host sync at the end
    v_win = window_view(v_pad, size=3 * b, step=b, count=blocks)  # (..., B, 3b, d_v), a view
    ok_win = window_view(ok_pad, size=3 * b, step=b, count=blocks)[..., 0]  # (..., B, 3b)
    scores = _fill_blocked(scores, ~ok_win[..., None, :])
    window_part = softmax_partial(scores, v_win)  # scores now hold exp(s − M_window)
    window_e = scores if return_weights else None
    del scores, v_win, ok_win
    part = _to_rows(window_part)  # (..., N, 1), (..., N, 1), (..., N, d_v)
    window_max = part.row_max

    random_e = random_max = None
    if slots is not None:
        # (9.2)  random: gather each query block's r key blocks, (..., B, r·b, ·)
        r = slots.shape[-1]
        chosen = xp.where(slots >= 0, slots, 0)  # (B, r); unused slots read block 0, masked
        k_blocks = k_padded_blocks[..., 1 : blocks + 1, :, :]  # (..., B, b, d), a view
        k_rand = k_blocks[..., chosen, :, :]  # (..., B, r, b, d), a copy
        k_rand = k_rand.reshape(k_rand.shape[:-4] + (blocks, r * b, d))
        scores = q_blocks @ xp.swapaxes(k_rand, -1, -2)  # (..., B, b, r·b)
        flags.append(finite_flag(xp, scores))
        del k_rand
        ok_blocks = ok_pad[..., b : b + padded, 0].reshape(ok_pad.shape[:-2] + (blocks, b))
        ok_rand = ok_blocks[..., chosen, :] & (slots >= 0)[:, :, None]  # (..., B, r, b)
        ok_rand = ok_rand.reshape(ok_rand.shape[:-3] + (blocks, r * b))
        scores = _fill_blocked(scores, ~ok_rand[..., None, :])
        del ok_rand
        v_blocks = v_pad[..., b : b + padded, :].reshape(v_pad.shape[:-2] + (blocks, b, d_v))
        v_rand = v_blocks[..., chosen, :, :]  # (..., B, r, b, d_v), a copy
        v_rand = v_rand.reshape(v_rand.shape[:-4] + (blocks, r * b, d_v))
        random_part = softmax_partial(scores, v_rand)  # scores hold exp(s − M_random)
        del v_rand, v_blocks
        random_e = scores if return_weights else None
        del scores
        random_part = _to_rows(random_part)
        random_max = random_part.row_max
        part = merge_partials_(part, random_part)
        del random_part
    del k_pad, k_padded_blocks, v_pad, ok_pad

    global_e = global_max = None
    if glob:
        # (9.2)  global columns: every query attends the global positions
        g_scores = q_scaled @ xp.swapaxes(k[..., positions, :], -1, -2)  # (..., N, G)
        flags.append(finite_flag(xp, g_scores))
        if key_mask is not None:
            g_scores = _fill_blocked(g_scores, ~key_mask[..., None, positions])
        global_part = softmax_partial(g_scores, v[..., positions, :])  # exp(s − M_global)
        global_e = g_scores if return_weights else None
        del g_scores
        global_max = global_part.row_max
        part = merge_partials_(part, global_part)
        del global_part
    del q_scaled, q_blocks
    out = finish_partial(part)[..., :n, :]  # (..., n, d_v)

    rows_w = None
    if glob:
        # (9.1)  global rows attend every (real) key
        rows_mask = None if key_mask is None else key_mask[..., None, :]
        rows = softmax_attention(  # rows of the checked inputs: not checked again
            q[..., positions, :], k, v, mask=rows_mask, scale=scale,
            return_weights=return_weights, check_finite=False,
        )  # fmt: skip
        rows, rows_w = rows if return_weights else (rows, None)
        out[..., positions, :] = rows
    check_finite_result("bigbird_attention", xp, flags, out, q.dtype, output=_OUTPUT_OVERFLOW)
    if not return_weights:
        return out

    # weights: each part's exp(s − M_part), rescaled to the merged maximum and normaliser
    shift, total = _finite_or_zero(xp, part.row_max), _nonzero(part.row_sum)  # (..., N, 1)

    def rescale(e, part_max):  # e in row layout (..., N, width)
        return e * (xp.exp(part_max - shift) / total)

    def to_blocks(x):
        return x.reshape(x.shape[:-2] + (blocks, b, x.shape[-1]))

    def rows_of(x):
        return x.reshape(x.shape[:-3] + (padded, x.shape[-1]))

    window_w = to_blocks(rescale(rows_of(window_e), window_max))  # (..., B, b, 3b)
    random_w = None if random_e is None else to_blocks(rescale(rows_of(random_e), random_max))
    global_w = None if global_e is None else rescale(global_e, global_max)  # (..., N, G)
    if glob:  # integer indices, not a boolean mask: no device read for the output's size
        for w in (window_w, random_w):
            if w is not None:
                rows_of(w)[..., positions, :] = 0
        global_w[..., positions, :] = 0
    weights = BigBirdWeights(window_w, random_w, global_w, rows_w, slots, b, n, glob)
    return out, weights


def random_block_assignment(n_blocks, r, *, global_blocks=0, rng=None, xp=None):
    """Draw BigBird's random blocks: ``r`` distinct blocks per query block (9.3).

    For every query block ``i`` that is not global, ``r`` distinct key blocks
    drawn uniformly among those that are neither in its window
    ``{i − 1, i, i + 1}`` nor global (the rule of Google's BigBird code and of
    Hugging Face transformers' BigBird).
    Global rows attend everything already; their slots are ``−1``.

    Parameters
    ----------
    n_blocks : int >= 1
        ``B``, the number of blocks of the longest sequence the assignment serves.
    r : int >= 0
        Random blocks per query block; at most the blocks available to every
        non-global query block.
    global_blocks : int or sequence of int
        As in :func:`bigbird_attention`.
    rng : None, int or Generator
    xp : module or str, optional
        The backend of the returned array.

    Returns
    -------
    int64 array (n_blocks, r)

    Examples
    --------
    >>> random_block_assignment(6, 1, global_blocks=1, rng=0).T
    array([[-1,  5,  5,  1,  1,  2]])
    """
    n_blocks = check_int("n_blocks", n_blocks, minimum=1, maximum=MAX_BLOCKS)
    r = check_int("r", r, minimum=0)
    glob = _check_global_blocks(global_blocks, n_blocks)
    xp = check_module("xp", xp)
    g = check_generator("rng", rng, xp, domain=_RNG_DOMAIN)
    rows = xp.arange(n_blocks)
    chunk = max(1, 2**20 // n_blocks)  # rows at a time: at most about 2^20 candidates
    free = xp.concatenate(
        [
            _random_candidates(xp, rows[start : start + chunk], n_blocks, glob).sum(axis=1)
            for start in range(0, n_blocks, chunk)
        ]
    )  # (B,) blocks available to each query block
    ordinary = ~indicator(n_blocks, glob, xp) if glob else xp.ones(n_blocks, dtype=bool)
    fewest = int(free[ordinary].min()) if bool(ordinary.any()) else n_blocks
    if r > fewest:
        raise ValueError(
            f"r must be <= {fewest}, the blocks available to every query block "
            f"(n_blocks = {n_blocks} less its window of 3 and {len(glob)} global blocks), got {r}"
        )
    assignment = xp.full((n_blocks, r), -1, dtype=xp.int64)
    if r == 0:
        return assignment
    for start in range(0, n_blocks, chunk):
        part = _random_candidates(xp, rows[start : start + chunk], n_blocks, glob)  # (c, B)
        # uniform priorities; the r smallest allowed ones are a uniform r-subset
        priority = g.random(part.shape)
        priority[~part] = 2.0
        chosen = xp.argsort(priority, axis=1)[:, :r]  # (c, r)
        assignment[start : start + chunk] = chosen
    if glob:
        assignment[xp.asarray(glob)] = -1
    return assignment


def block_pattern(n_blocks, *, global_blocks=0, random_blocks=None, xp=None):
    """The pattern between blocks, boolean ``(B, B)``: True where block ``i`` reads block ``j``.

    ``|i − j| <= 1``, or ``i`` or ``j`` global, or ``j`` among the valid
    entries of ``random_blocks[i]`` (as in :func:`bigbird_attention`).

    >>> import numpy as np
    >>> slots = np.array([[-1], [3], [4], [0], [1]])
    >>> block_pattern(5, global_blocks=1, random_blocks=slots).astype(int)
    array([[1, 1, 1, 1, 1],
           [1, 1, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [1, 0, 1, 1, 1],
           [1, 1, 0, 1, 1]])
    """
    n_blocks = check_int("n_blocks", n_blocks, minimum=1, maximum=MAX_BLOCKS)
    glob = _check_global_blocks(global_blocks, n_blocks)
    xp = check_module("xp", xp)
    if random_blocks is not None:
        xp = _random_blocks_module(random_blocks, xp)
    i = xp.arange(n_blocks)
    pattern = abs(i[:, None] - i[None, :]) <= 1  # (B, B)
    if glob:
        g = xp.asarray(glob)
        pattern[g, :] = True
        pattern[:, g] = True
    slots = _random_slots(xp, random_blocks, n_blocks, 1, glob)
    if slots is not None:
        rows, cols = xp.nonzero(slots >= 0)
        pattern[rows, slots[rows, cols]] = True
    return pattern


def bigbird_pattern(n, *, block, global_blocks=0, random_blocks=None, xp=None):
    """The BigBird pattern as a dense boolean ``(n, n)`` array (tests and figures only).

    Query ``p`` may attend key ``s`` iff block ``⌊p/b⌋`` reads block ``⌊s/b⌋``
    (:func:`block_pattern`).  The attention itself never builds this array.

    >>> bigbird_pattern(5, block=2).astype(int)
    array([[1, 1, 1, 1, 0],
           [1, 1, 1, 1, 0],
           [1, 1, 1, 1, 1],
           [1, 1, 1, 1, 1],
           [0, 0, 1, 1, 1]])
    """
    n = check_int("n", n, minimum=1, maximum=MAX_DENSE_N)
    b = min(check_int("block", block, minimum=1), n)  # (9.7)  a block beyond n: one block of n
    blocks = -(-n // b)
    pattern = block_pattern(
        blocks, global_blocks=global_blocks, random_blocks=random_blocks, xp=xp
    )  # (B, B)
    xp = array_module(pattern=pattern)
    index = xp.arange(n) // b  # (n,)
    return pattern[index[:, None], index[None, :]]  # (n, n)


def attention_graph_distances(pattern) -> tuple[int, float]:
    """Diameter and mean shortest path of the directed graph "query ``i`` attends key ``j``".

    Information reaches query ``i`` from position ``j`` in ``L`` layers iff
    there is a path of at most ``L`` edges from ``i`` to ``j`` (9.6).  Breadth
    first search from every node, plain Python; the mean runs over ordered
    pairs ``i ≠ j``.  Raises if some pair is not connected.

    Parameters
    ----------
    pattern : bool array (B, B)
        E.g. :func:`block_pattern`.

    >>> attention_graph_distances(block_pattern(6))
    (5, 2.3333333333333335)
    >>> attention_graph_distances(block_pattern(6, global_blocks=1))
    (2, 1.4)
    """
    check_array("pattern", pattern, ndim=2, axes="B, B", dtype="bool")
    adjacency = to_numpy(pattern)
    if adjacency.shape[0] != adjacency.shape[1] or adjacency.shape[0] < 1:
        raise ValueError(
            f"pattern must be a square (B, B) boolean array with B >= 1, got shape "
            f"{adjacency.shape}"
        )
    count = adjacency.shape[0]
    neighbours = [list(map(int, row.nonzero()[0])) for row in adjacency]
    diameter, total = 0, 0
    for source in range(count):
        distance = [-1] * count
        distance[source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for nxt in neighbours[node]:
                if distance[nxt] < 0:
                    distance[nxt] = distance[node] + 1
                    queue.append(nxt)
        if min(distance) < 0:
            raise ValueError(
                f"pattern must connect every pair, but block {distance.index(-1)} "
                f"is unreachable from block {source}"
            )
        diameter = max(diameter, max(distance))
        total += sum(distance)
    return diameter, (total / (count * (count - 1)) if count > 1 else 0.0)


# ---------------------------------------------------------------------------
# helpers


def _check_global_blocks(global_blocks, n_blocks) -> tuple[int, ...]:
    """A count g (the first min(g, B) blocks) or block indices in [0, B): sorted, unique."""
    if getattr(global_blocks, "shape", None) == () and hasattr(global_blocks, "dtype"):
        if global_blocks.dtype.kind not in "iu":
            raise TypeError(
                f"global_blocks must be a count >= 0 or a sequence of block indices, "
                f"got {describe(global_blocks)}"
            )
        global_blocks = global_blocks.item()  # a 0-d integer array: a count
    if isinstance(global_blocks, numbers.Integral) and not isinstance(global_blocks, bool):
        if global_blocks < 0:
            raise ValueError(
                f"global_blocks must be a count >= 0 or a sequence of block indices, "
                f"got {global_blocks}"
            )
        return tuple(range(min(int(global_blocks), n_blocks)))
    if isinstance(global_blocks, (str, bytes)) or not hasattr(global_blocks, "__len__"):
        raise TypeError(
            f"global_blocks must be a count >= 0 or a sequence of block indices, "
            f"got {describe(global_blocks)}"
        )
    values = to_numpy(global_blocks) if hasattr(global_blocks, "dtype") else global_blocks
    if hasattr(values, "ndim") and values.ndim != 1:
        raise ValueError(
            f"global_blocks must be a 1-D sequence of blocks, got shape {values.shape}"
        )
    chosen = []
    for j in list(values):
        if isinstance(j, bool) or not isinstance(j, numbers.Integral):
            raise TypeError(
                f"global_blocks must hold integer block indices in [0, B) = [0, {n_blocks}), "
                f"got {describe(j)}"
            )
        j = int(j)
        if not 0 <= j < n_blocks:
            raise ValueError(
                f"global_blocks must be block indices in [0, B) = [0, {n_blocks}), got {j}"
            )
        if j in chosen:
            raise ValueError(f"global_blocks must not repeat a block, got {j} more than once")
        chosen.append(j)
    return tuple(sorted(chosen))


def _random_slots(xp, random_blocks, blocks, b, glob):
    """The valid random blocks ``(B, r)`` of an assignment, ``−1`` where unused; None if none.

    Rows past ``B`` and entries ``>= B`` are dropped (9.3); so are entries in
    the row's window, global blocks, repeats within a row and the whole rows
    of global blocks (9.1: counted once).
    """
    if random_blocks is None:
        return None
    _random_blocks_module(random_blocks, xp)
    if random_blocks.dtype.kind not in "iu":
        raise TypeError(
            f"random_blocks must be an integer array (n_blocks, r), got dtype {random_blocks.dtype}"
        )
    if random_blocks.ndim != 2:
        raise ValueError(
            f"random_blocks must have shape (n_blocks, r), got shape {random_blocks.shape}"
        )
    rows, r = random_blocks.shape
    if rows < blocks:
        raise ValueError(
            f"random_blocks must have a row per block, at least B = ⌈n/b⌉ = {blocks}, "
            f"got shape {random_blocks.shape} (it serves sequences of at most {rows * b} positions)"
        )
    if r == 0:
        return None
    slots = random_blocks[:blocks].astype(xp.int64)  # (B, r), a copy
    i = xp.arange(blocks)[:, None]
    drop = (slots >= blocks) | (abs(slots - i) <= 1)  # beyond the input, or in the window
    if glob:
        g = indicator(blocks, glob, xp)
        inside = (slots >= 0) & (slots < blocks)
        drop |= g[xp.where(inside, slots, 0)] & inside  # a global key block
        drop |= g[:, None]  # a global row reads everything already
    for t in range(1, r):  # a block repeated in a row counts once
        drop[:, t] |= (slots[:, :t] == slots[:, t : t + 1]).any(axis=1)
    slots = xp.where(drop, -1, slots)
    # the range of the entries and the most valid slots of any row: one device read
    lo, hi, used = xp.stack(
        [
            x.astype(xp.int64)
            for x in (random_blocks.min(), random_blocks.max(), (slots >= 0).sum(axis=1).max())
        ]
    ).tolist()
    if lo < -1 or hi >= rows:
        raise ValueError(
            f"random_blocks entries must be block indices in [0, {rows}) or -1 (unused), "
            f"got values in [{lo}, {hi}]"
        )
    if used == 0:
        return None
    if used < r:  # (9.7)  slots that are unused in every row cost without changing anything:
        # move each row's valid slots first (in their order) and keep `used` columns
        order = xp.argsort(slots < 0, axis=1, kind="stable")
        slots = xp.take_along_axis(slots, order, axis=1)[:, :used]
    return slots


def _random_blocks_module(random_blocks, xp):
    """Check that ``random_blocks`` is an integer array of ``xp``'s backend; return ``xp``."""
    if not hasattr(random_blocks, "dtype") or not hasattr(random_blocks, "shape"):
        raise TypeError(
            f"random_blocks must be an integer array (n_blocks, r), got "
            f"{type(random_blocks).__name__} {describe(random_blocks)}"
        )
    return array_module(reference=xp.zeros(0), random_blocks=random_blocks)  # same backend


#: How a bad ``rng`` is described, and how an overflowing global row or value sum reads.
_RNG_DOMAIN = (
    "None, an integer >= 0 or a Generator of xp's backend (or a numpy.random.SeedSequence, "
    "or a NumPy BitGenerator on numpy)"
)
_OUTPUT_OVERFLOW = (
    "a global row's logit scale·q·k or the weighted sum of v overflows {dtype}; "
    "rescale q, k or v, or compute in float64"
)

#: The most blocks :func:`random_block_assignment` and :func:`block_pattern` take: both
#: cost ``n_blocks²`` (random numbers, booleans).
MAX_BLOCKS = 2**16

#: The largest ``n`` of the dense ``(n, n)`` pattern (tests and figures): 1 GiB of booleans.
MAX_DENSE_N = 2**15


def _random_candidates(xp, rows, n_blocks, glob):
    """Boolean (B, B): key block j may be a random block of query block i."""
    cols = xp.arange(n_blocks)
    allowed = abs(rows[:, None] - cols[None, :]) > 1
    if glob:
        allowed[:, xp.asarray(glob)] = False
    return allowed


def _global_positions(xp, glob, b, n):
    """The positions of the global blocks inside [0, n), increasing, as a device array.

    Computed on the host from the block numbers (no device read), then copied once.
    """
    return xp.asarray(_global_position_list(glob, b, n), dtype=xp.int64)


def _global_position_list(glob, b, n) -> list[int]:
    """The positions of the global blocks inside [0, n), increasing, as Python integers."""
    return [p for g in glob for p in range(g * b, min(g * b + b, n))]


def _to_rows(part: SoftmaxPartial) -> SoftmaxPartial:
    """A partial in block layout (..., B, b, ·) as rows (..., B·b, ·) (reshaped views)."""

    def rows(x):
        return x.reshape(x.shape[:-3] + (x.shape[-3] * x.shape[-2], x.shape[-1]))

    return SoftmaxPartial(rows(part.row_max), rows(part.row_sum), rows(part.numerator))
