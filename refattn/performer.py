r"""Performer / FAVOR+: softmax attention through random features, in linear time.

Choromanski et al. 2021, *Rethinking Attention with Performers*,
arXiv:2009.14794.  The softmax kernel ``SM(x, y) = exp(xᵀy)`` is an expectation
over Gaussian ``ω``, so it is estimated by an inner product of random
features, ``exp(xᵀy) ≈ φ(x)ᵀφ(y)``.  Attention then becomes
``D⁻¹ φ(Q) (φ(K)ᵀ V)``, computed right to left in ``O(n·m·d)`` time without the
``n × n`` matrix.  FAVOR+ uses *positive* features (no negative weights, and
small error where the kernel is small) drawn as blocks of *orthogonal* rows.

Equations, numbered as in ``derivations/02-performer.md``:

* (2.1) positive features ``φ(x) = exp(ωᵀx − ‖x‖²/2)/√m``: ``E[φ(x)ᵀφ(y)] = exp(xᵀy)``;
* (2.2) hyperbolic, trigonometric and ReLU features;
* (2.3) Lemma 2: the mean squared error of the positive and trig estimators;
* (2.4) orthogonal random features and Theorem 2;
* (2.5) linear attention ``D⁻¹ φ(Q)(φ(K)ᵀV)`` and its stabiliser, which cancels;
* (2.6) causal attention by prefix sums, with a prefix-safe stabiliser.

Linear attention (Katharopoulos, Vyas, Pappas & Fleuret 2020, *Transformers
are RNNs*, arXiv:2006.16236) is the same computation with the deterministic
feature map ``φ(x) = elu(x) + 1``: :func:`linear_attention` shares the
bidirectional and causal code above, :func:`linear_attention_recurrent` is its
recurrent form (one state update per token) and :func:`linear_dense` its dense
form, numbered as in ``derivations/11-linear-attention.md`` (11.1)–(11.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._validation import (
    LINEAR_TIME_MASK,
    Supports,
    array_module,
    broadcast_shapes,
    broadcasts_to,
    check_all_finite,
    check_array,
    check_attention_call,
    check_bool,
    check_choice,
    check_dtype,
    check_float_array,
    check_int,
    check_output,
    quiet_overflow,
)
from .jl import _backend, _check_working_set, _generator
from .softmax import _fill_blocked, _finite_or_zero, _nonzero

__all__ = [
    "FEATURE_KINDS",
    "FavorWeights",
    "favor_attention",
    "favor_dense",
    "feature_map",
    "elu_features",
    "lemma2_mse",
    "linear_attention",
    "linear_attention_recurrent",
    "linear_dense",
    "orthogonal_mse_reduction",
    "per_feature_estimates",
    "random_features",
    "softmax_kernel_estimate",
]

#: Feature kinds; the first three estimate the softmax kernel, ``relu`` is a different kernel.
FEATURE_KINDS = ("positive", "hyperbolic", "trig", "relu")
NORMS = ("chi", "sqrt_d")


def random_features(m, d, *, orthogonal=True, norms="chi", rng=None, xp=None, dtype="float64"):
    """Draw the ``m × d`` projection ``ω`` of the random features (2.4).

    Parameters
    ----------
    m : int >= 1
        Number of features.
    d : int >= 1
        Input dimension.
    orthogonal : bool
        False: iid rows ``ω_i ~ N(0, I_d)``.  True: blocks of ``d`` exactly
        orthogonal directions, each block the Q of a QR decomposition of a
        Gaussian matrix with the signs of ``diag(R)`` folded in, which makes
        it Haar-distributed.  ``m > d`` uses ``⌈m/d⌉`` independent blocks,
        the last one cut to size.
    norms : ``"chi"`` or ``"sqrt_d"``
        ``"chi"``: each row's length is drawn from the χ(d) distribution (the
        length of a fresh Gaussian vector), so every row is marginally
        ``N(0, I_d)`` and the softmax estimators stay unbiased.  ``"sqrt_d"``:
        every row has length ``√d`` (the paper's "regularised" variant).  That
        estimator is **biased low** for positive features: a fixed length
        removes the large-norm rows that the exponential weighs most (2.4).
    rng : None, int or Generator
        SPEC 7 seed; the same seed gives the same ``ω`` on the same backend.
    xp : module or name, optional
        Backend (default: :func:`refattn.backend.default_backend`).
    dtype : float32 or float64
        A name, a NumPy/CuPy type or a ``dtype``.

    Raises
    ------
    ValueError
        Before allocating anything, if the float64 working set (the Gaussian
        draws, their QR factors and the result, about ``7·m·d·8`` bytes) exceeds
        the memory the backend has available.

    Notes
    -----
    All full blocks are one batched QR of a ``(⌊m/d⌋, d, d)`` stack; a
    remainder of ``r`` rows is the QR of one ``d × r`` Gaussian matrix (its
    ``r`` orthonormal columns are Haar-distributed, like the first ``r`` rows
    of a full block).

    *Redrawing* the features during training (the paper resamples them every
    so many steps) is a new call with a new generator, e.g.
    ``omega = random_features(m, d, rng=1 + step // 1000)``: the draws for
    different seeds are independent, and the same seed reproduces a draw.

    Examples
    --------
    >>> import numpy as np
    >>> omega = random_features(4, 4, rng=0)
    >>> np.allclose(omega @ omega.T * (1 - np.eye(4)), 0)  # rows of a block are orthogonal
    True
    """
    m = check_int("m", m, minimum=1)
    d = check_int("d", d, minimum=1)
    orthogonal = check_bool("orthogonal", orthogonal)
    check_choice("norms", norms, NORMS)
    dtype = check_dtype("dtype", dtype)
    xp = _backend("xp", xp)
    # float64 working set: Gaussian draws, Q and R (orthogonal), the χ draws, the result
    _check_working_set(f"random_features(m={m}, d={d})", 7 * 8 * m * d, "7·m·d·8", xp)
    g = _generator(rng, xp)
    if orthogonal:
        full, rest = divmod(m, d)
        parts = []
        if full:
            # all full blocks in one batched QR; folding in the signs of diag(R) makes Q Haar
            q, r = xp.linalg.qr(g.standard_normal((full, d, d)))  # NumPy and CuPy: batched
            q *= xp.sign(xp.diagonal(r, axis1=-2, axis2=-1))[:, None, :]
            parts.append(xp.swapaxes(q, -1, -2).reshape(full * d, d))  # rows: orthonormal
        if rest:
            q, r = xp.linalg.qr(g.standard_normal((d, rest)))  # (d, rest): a Haar rest-frame
            parts.append((q * xp.sign(xp.diagonal(r))[None, :]).T)
        directions = parts[0] if len(parts) == 1 else xp.concatenate(parts, axis=0)  # (m, d)
        lengths = (
            xp.linalg.norm(g.standard_normal((m, d)), axis=1)  # χ(d)
            if norms == "chi"
            else xp.full(m, math.sqrt(d))
        )
        omega = directions * lengths[:, None]
    else:
        omega = g.standard_normal((m, d))
        if norms == "sqrt_d":
            omega = omega / xp.linalg.norm(omega, axis=1, keepdims=True) * math.sqrt(d)
    return omega.astype(dtype)


@quiet_overflow
def feature_map(x, omega, *, kind="positive"):
    """Random features ``φ(x)``, unscaled and unstabilised (2.1), (2.2).

    ``φ(x)ᵀφ(y)`` is an unbiased estimate of ``exp(xᵀy)`` for the kinds
    ``positive``, ``hyperbolic`` and ``trig`` when the rows of ``omega`` are
    ``N(0, I)``; ``relu`` gives the features ``max(ωᵀx, 0)/√m`` of a different
    kernel.  With ``u = ωᵀx`` and ``m`` rows of ``omega``:

    * positive: ``exp(u − ‖x‖²/2)/√m``
    * hyperbolic: ``exp(−‖x‖²/2)/√(2m) · [exp(u), exp(−u)]``
    * trig: ``exp(‖x‖²/2)/√m · [sin u, cos u]``
    * relu: ``max(u, 0)/√m``

    Parameters
    ----------
    x : array (..., d)
    omega : array (m, d)
    kind : one of :data:`FEATURE_KINDS`

    Returns
    -------
    array (..., m), or (..., 2m) for ``hyperbolic`` and ``trig``.

    Raises
    ------
    FloatingPointError
        If a feature overflows (``ωᵀx`` or ``‖x‖²/2`` beyond the exponent
        range of the dtype): these features are unstabilised by design;
        :func:`favor_attention` shifts the exponents and does not overflow.

    Examples
    --------
    >>> import numpy as np
    >>> feature_map(np.zeros(2), np.eye(2))  # exp(0)/√2
    array([0.70710678, 0.70710678])
    """
    xp = _check_features(x, omega, kind)
    out = _features(xp, x, omega, kind)
    check_output("feature_map", out, xp, reason=_unstabilised(kind, x.dtype))
    return out


def _unstabilised(kind, dtype):
    """Why unstabilised features of ``kind`` overflow."""
    what = {
        "positive": "exp(ωᵀx − ‖x‖²/2)",
        "hyperbolic": "exp(±ωᵀx − ‖x‖²/2)",
        "trig": "exp(‖x‖²/2)",
        "relu": "ωᵀx",
    }[kind]
    return (
        f"the unstabilised {kind} features {what} overflowed {dtype} for inputs this large "
        "(favor_attention stabilises its features)"
    )


@quiet_overflow
def per_feature_estimates(x, y, omega, *, kind="positive"):
    """The ``m`` one-feature estimates of ``exp(xᵀy)``, one per row of ``omega``: ``(..., m)``.

    Their mean is :func:`softmax_kernel_estimate`; with iid rows they are
    independent, which is what the statistical tests of (2.1)–(2.3) sample.
    For ``hyperbolic`` and ``trig`` the two features of a row are summed.
    ``x`` and ``y`` have shapes ``(..., d)`` whose leading axes broadcast.
    """
    xp = _check_pair(x, y, omega, kind)
    product = _features(xp, x, omega, kind) * _features(xp, y, omega, kind)
    m = omega.shape[0]
    if kind in ("hyperbolic", "trig"):
        product = product[..., :m] + product[..., m:]
    product *= m
    check_output("per_feature_estimates", product, xp, reason=_unstabilised(kind, x.dtype))
    return product


@quiet_overflow
def softmax_kernel_estimate(x, y, omega, *, kind="positive"):
    """The random-feature estimate ``φ(x)ᵀφ(y)`` of ``exp(xᵀy)``; ``x, y`` of shape ``(..., d)``.

    >>> import numpy as np
    >>> float(softmax_kernel_estimate(np.zeros(3), np.zeros(3), np.eye(3)))  # exp(0), exactly
    1.0
    """
    xp = _check_pair(x, y, omega, kind)
    out = (_features(xp, x, omega, kind) * _features(xp, y, omega, kind)).sum(axis=-1)
    check_output("softmax_kernel_estimate", out, xp, reason=_unstabilised(kind, x.dtype))
    return out


def _check_pair(x, y, omega, kind):
    """``x, y (..., d)`` with broadcasting leading axes, and ``omega (m, d)``: all finite."""
    xp = _check_features(x, omega, kind, finite=False)
    _check_features(y, omega, kind, name="y", finite=False)
    broadcast_shapes({"x": x.shape[:-1], "y": y.shape[:-1]})
    check_all_finite({"x": x, "y": y, "omega": omega}, xp)
    return xp


@quiet_overflow
def lemma2_mse(x, y, *, kind="positive", m=1):
    """Closed-form mean squared error of the ``m``-feature iid estimate of ``exp(xᵀy)`` (2.3).

    Lemma 2 of the paper, for ``x, y`` of shape ``(..., d)`` (leading axes
    broadcast), with ``SM = exp(xᵀy)``:

    * positive: ``exp(‖x+y‖²) · SM² · (1 − exp(−‖x+y‖²)) / m``
    * hyperbolic: ``(1 − exp(−‖x+y‖²)) / 2`` times the positive MSE
    * trig: ``exp(‖x+y‖²) · SM⁻² · (1 − exp(−‖x−y‖²))² / (2m)``

    Positive features are exact where the kernel is small and ``x ≈ −y``;
    trig features are at their worst there.  Each form is evaluated as
    ``exp`` of its logarithm (``exp(‖x+y‖²)·SM⁻²`` is ``exp(‖x‖² + ‖y‖²)``),
    so that no ``inf/inf`` arises.  The squared norms and inner products are
    taken of ``x, y`` divided by a power of two above their largest magnitude
    and scaled back exactly, combined before they are scaled back, so that no
    square overflows on the way: a factor ``1 − exp(−t)`` that is exactly 0
    (``x = y`` for trig, ``x = −y`` for positive and hyperbolic) gives an MSE
    of exactly 0 for any finite input, and an MSE beyond the largest float of
    the dtype raises ``FloatingPointError``.

    >>> import numpy as np
    >>> float(lemma2_mse(np.array([1.0, 0.0]), np.array([-1.0, 0.0])))  # x = −y: exact
    0.0
    """
    xp = _check_vectors(x, y)
    check_choice("kind", kind, LEMMA2_KINDS)
    m = check_int("m", m, minimum=1)
    xs, ys, two_k = _scaled_pair(xp, x, y)
    sq_x, sq_y = (xs * xs).sum(axis=-1), (ys * ys).sum(axis=-1)  # ‖x‖², ‖y‖² over 4^k
    plus = ((xs + ys) ** 2).sum(axis=-1)  # ‖x+y‖² over 4^k
    if kind == "positive":
        # SM² (e^{‖x+y‖²} − 1) / m
        main = xp.ldexp(2 * (xs * ys).sum(axis=-1) + plus, two_k)
        tail = _log1mexp(xp, xp.ldexp(plus, two_k))
        log_m = math.log(m)
    elif kind == "hyperbolic":
        # e^{−‖x‖²−‖y‖²} (e^{‖x+y‖²} − 1)² / (2m)
        main = xp.ldexp(2 * plus - sq_x - sq_y, two_k)
        tail = 2 * _log1mexp(xp, xp.ldexp(plus, two_k))
        log_m = math.log(2 * m)
    else:
        # e^{‖x‖²+‖y‖²} (1 − e^{−‖x−y‖²})² / (2m)
        minus = ((xs - ys) ** 2).sum(axis=-1)  # ‖x−y‖² over 4^k
        main = xp.ldexp(sq_x + sq_y, two_k)
        tail = 2 * _log1mexp(xp, xp.ldexp(minus, two_k))
        log_m = math.log(2 * m)
    return _exp_checked(xp, _log_product(xp, main, tail) - log_m, "lemma2_mse", f"the {kind} MSE")


@quiet_overflow
def orthogonal_mse_reduction(x, y, *, m, d):
    """Theorem 2's guaranteed MSE reduction of orthogonal over iid positive features (2.4).

    For ``m <= d`` exactly orthogonal features,
    ``MSE_ort <= MSE_iid − 2(m−1)/(m(d+2)) · (SM − exp(−(‖x‖² + ‖y‖²)/2))²``;
    this returns the subtracted term, evaluated as
    ``2(m−1)/(m(d+2)) · SM² · (1 − exp(−‖x+y‖²/2))²`` in log form, so that a
    large ``SM`` raises ``FloatingPointError`` only where the term itself is
    beyond the float range (the norms are rescaled as in :func:`lemma2_mse`).
    ``d`` is the dimension of ``x`` and ``y``: it must equal their last axis.
    """
    xp = _check_vectors(x, y)
    m = check_int("m", m, minimum=1)
    d = check_int("d", d, minimum=m)
    if d != x.shape[-1]:
        raise ValueError(
            f"d must be the dimension of x and y (their last axis, {x.shape[-1]}), got {d}"
        )
    xs, ys, two_k = _scaled_pair(xp, x, y)
    plus = ((xs + ys) ** 2).sum(axis=-1)  # ‖x+y‖² over 4^k
    if m == 1:
        return xp.zeros_like(plus)  # one feature: nothing to be orthogonal to
    factor = math.log(2 * (m - 1)) - math.log(m) - math.log(d + 2)
    main = factor + xp.ldexp(2 * (xs * ys).sum(axis=-1), two_k)  # + 2xᵀy
    tail = 2 * _log1mexp(xp, xp.ldexp(plus, two_k - 1))  # ‖x+y‖²/2
    return _exp_checked(
        xp, _log_product(xp, main, tail), "orthogonal_mse_reduction", "the reduction"
    )


def _scaled_pair(xp, x, y):
    """``x / 2^k``, ``y / 2^k`` (exact), ``2^k`` above every ``|x_t|, |y_t|`` of a pair; and ``2k``.

    A sum of products of the scaled vectors lies within ``4d``, so it never
    overflows; ``xp.ldexp(sum, 2k)`` scales it back exactly (to ``±inf`` only
    where the true value is beyond the float range).
    """
    top = xp.maximum(xp.abs(x).max(axis=-1), xp.abs(y).max(axis=-1))  # (...,)
    _, k = xp.frexp(top)  # top = f·2^k with f in [0.5, 1), or k = 0 for top = 0
    return xp.ldexp(x, -k[..., None]), xp.ldexp(y, -k[..., None]), 2 * k


def _log_product(xp, main, tail):
    """``main + tail``, the logarithm of ``exp(main)·exp(tail)``: ``−inf`` wherever ``tail`` is
    (an exact zero factor), even where ``main`` is ``+inf``."""
    return xp.where(xp.isneginf(tail), -xp.inf, main + tail)


#: The kinds Lemma 2 covers: the three estimators of the softmax kernel.
LEMMA2_KINDS = ("positive", "hyperbolic", "trig")


def _check_vectors(x, y):
    """``x, y (..., d)``: finite float arrays, the same ``d``, leading axes that broadcast."""
    xp = array_module(x=x, y=y)
    for name, a in (("x", x), ("y", y)):
        check_array(name, a, min_ndim=1, axes="..., d", finite=False)
    if x.shape[-1] != y.shape[-1]:
        raise ValueError(
            f"y must have the same last axis d as x, got x.shape {x.shape} and y.shape {y.shape}"
        )
    broadcast_shapes({"x": x.shape[:-1], "y": y.shape[:-1]})
    check_all_finite({"x": x, "y": y}, xp)
    return xp


def _log1mexp(xp, t):
    """``log(1 − exp(−t))`` for ``t >= 0``, accurate at both ends; ``−inf`` at ``t = 0``."""
    big = t > math.log(2)
    # each branch evaluated only where it is accurate (and never at t = 0)
    far = xp.log1p(-xp.exp(-xp.where(big, t, 1.0)))
    near = xp.log(-xp.expm1(-xp.where(big | (t <= 0), 0.5, t)))
    return xp.where(t > 0, xp.where(big, far, near), -xp.inf)


def _exp_checked(xp, log_value, name, what):
    """``exp(log_value)``, raising ``FloatingPointError`` where it would overflow or is NaN."""
    limit = math.log(float(xp.finfo(log_value.dtype).max))
    if bool(((log_value > limit) | xp.isnan(log_value)).any()):
        raise FloatingPointError(
            f"{name} produced NaN or inf from finite input: {what} exceeds the largest "
            f"{log_value.dtype} (its logarithm passes {limit:.1f}); the inputs' norms are too large"
        )
    return xp.exp(log_value)


#: What :func:`favor_attention` and :func:`linear_attention` can honour of the calling convention.
SUPPORTS = Supports(general_mask=LINEAR_TIME_MASK)


@quiet_overflow
def favor_attention(
    q,
    k,
    v,
    *args,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    omega=None,
    kind="positive",
    chunk_size=256,
):
    """FAVOR attention: ``D⁻¹ φ(Q) (φ(K)ᵀ V)``, approximating ``softmax_attention(q, k, v)``.

    The temperature ``scale`` of softmax attention (default ``1/√d``) is
    applied as ``scale^{1/2}`` on both ``q`` and ``k``, so that
    ``φ(q')ᵀφ(k') ≈ exp(scale · qᵀk)``.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
    mask : bool array broadcastable to (..., 1, m), optional
        Key padding: a padded key's features are set to zero (exactly: its
        feature exponent becomes ``−inf``), so it adds nothing to either
        ``φ(K)ᵀV`` or the normaliser.  A mask with a query axis raises: it
        cannot be applied in linear time.
    causal : bool
        Query ``i`` uses keys ``j <= i + (m − n)`` only, through prefix sums
        over key chunks of ``chunk_size`` (2.6).  The stabiliser is prefix-safe:
        no key changes the output of an earlier query, however large it is.
    scale : float > 0, optional
        Default ``1/√d``.
    return_weights : bool
        Also return a :class:`FavorWeights`, whose ``.to_dense()`` is the
        approximate attention matrix ``D⁻¹ (φ(Q)φ(K)ᵀ ⊙ causal mask)``.
    check_finite : bool
        False skips the finiteness pass over the inputs (``omega`` too), e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).
    omega : array (M, d)
        The random projection, from :func:`random_features` (keyword-only;
        ``refattn.mechanism("favor", features=M, rng=...)`` draws it for you).
    kind : one of :data:`FEATURE_KINDS`
    chunk_size : int >= 1
        Keys per chunk of the causal prefix sums.

    Returns
    -------
    out : array (..., n, d_v)
        A query whose estimated normaliser is 0 (all features underflowed, or
        ``trig`` features cancelling exactly) gets zeros, never NaN.
    weights : FavorWeights
        Only when ``return_weights``.

    Notes
    -----
    Bidirectional: time ``O(n·m·d)``, memory ``O(n·M + M·d_v)`` with ``M``
    features (:func:`refattn.complexity.favor_memory`).  Causal: the same time
    plus ``O(n·c)`` for the diagonal blocks, memory
    ``O(n·M + c² + M·d_v)`` — no ``n·M·d`` prefix array is ever held.

    The stabiliser (2.5) subtracts from each query's feature exponents their
    row maximum, and from the keys' exponents one constant; both cancel
    between numerator and denominator.  Bidirectionally the key constant is
    the maximum over the whole sequence; causally each key is shifted by the
    running maximum up to its own position and the prefix sums are rescaled
    when it grows, so a later key never touches an earlier output.

    Examples
    --------
    With one feature per direction of an orthonormal basis and zero inputs,
    every weight is equal and the output is the mean of the values:

    >>> import numpy as np
    >>> q = k = np.zeros((3, 2))
    >>> v = np.array([[0.0], [3.0], [6.0]])
    >>> favor_attention(q, k, v, omega=np.eye(2))
    array([[3.], [3.], [3.]])
    >>> favor_attention(q, k, v, omega=np.eye(2), causal=True)
    array([[0. ], [1.5], [3. ]])
    """
    if args:
        raise TypeError(
            "favor_attention takes omega as a keyword argument: "
            "favor_attention(q, k, v, omega=omega), or use "
            "refattn.mechanism('favor', features=M, rng=seed), which draws it"
        )
    if omega is None:
        raise TypeError(
            "favor_attention needs omega=, an (M, d) array from random_features(M, d, rng=...)"
        )
    check_finite = check_bool("check_finite", check_finite)
    call = check_attention_call(
        "favor_attention",
        q,
        k,
        v,
        mask=mask,
        causal=causal,
        scale=scale,
        return_weights=return_weights,
        check_finite=False,  # below, together with omega: one pass
        supports=SUPPORTS,
    )
    xp = _check_features(q, omega, kind, name="q", finite=False)
    if check_finite:
        check_all_finite({"q": q, "k": k, "v": v, "omega": omega}, xp)
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    return _kernel_attention(
        xp,
        call,
        q,
        k,
        v,
        lambda x: _features_in_parts(xp, x, omega, kind),
        chunk_size,
        name="favor_attention",
        reason=(
            "ωᵀq, ωᵀk or ‖q‖², ‖k‖² overflowed (inputs or omega too large for "
            f"{call.dims.dtype}), or φ(K)ᵀV overflowed (values too large)"
        ),
    )


def _kernel_attention(xp, call, q, k, v, parts, chunk_size, *, name, reason):
    """``D⁻¹ φ(Q)(φ(K)ᵀV)`` for features given as ``parts(x) = (exponent, multiplier)`` (2.5).

    Shared by FAVOR (random features) and linear attention (elu + 1): the
    exponents are shifted per query and per sequence (bidirectional) or by the
    running maximum (causal, (2.6)); every shift cancels in ``D⁻¹``.  The
    stabilised exponents never overflow, but absurdly large inputs or values
    still can: the output is checked once (one host sync) and ``name`` raises
    ``FloatingPointError`` with ``reason`` rather than return NaN or inf.
    """
    dims = call.dims
    root = call.scale**0.5  # (2.5)  scale·q·k = (q·√scale)·(k·√scale)
    q_exp, q_mult = parts(q * root)
    # (2.5)  query features shifted by their own row maximum: cancels per query
    q_exp -= q_exp.max(axis=-1, keepdims=True)
    phi_q = _exp_times(xp, q_exp, q_mult)  # (..., n, M)
    del q_exp, q_mult
    k_exp, k_mult = parts(k * root)
    if call.key_mask is not None:
        # key padding: exponent −inf, so a padded key's features are exactly 0
        k_exp = _fill_blocked(k_exp, ~call.key_mask[..., :, None])  # (..., m, M or 1)
    if call.causal:
        out = _causal(xp, phi_q, k_exp, k_mult, v, dims, chunk_size)
        check_output(name, out, xp, reason=reason)
        if not call.return_weights:
            return out
        k_exp -= _finite_or_zero(xp, k_exp.max(axis=(-2, -1), keepdims=True))
        return out, FavorWeights(phi_q, _exp_times(xp, k_exp, k_mult), True)
    # (2.5)  key features shifted by one constant per sequence: cancels for all queries
    k_exp -= _finite_or_zero(xp, k_exp.max(axis=(-2, -1), keepdims=True))
    phi_k = _exp_times(xp, k_exp, k_mult)  # (..., m, M)
    del k_exp, k_mult
    kv = xp.swapaxes(phi_k, -1, -2) @ v  # (..., M, d_v)   φ(K)ᵀ V
    k_sum = phi_k.sum(axis=-2)[..., :, None]  # (..., M, 1)     φ(K)ᵀ 1
    weights = FavorWeights(phi_q, phi_k, False) if call.return_weights else None
    del phi_k
    numerator = phi_q @ kv  # (..., n, d_v)
    denominator = phi_q @ k_sum  # (..., n, 1)      D = diag(φ(Q) φ(K)ᵀ 1)
    out = _divide(xp, numerator, denominator)
    check_output(name, out, xp, reason=reason)
    return (out, weights) if call.return_weights else out


@dataclass(frozen=True)
class FavorWeights:
    """The attention matrix FAVOR or linear attention used, kept as its factors ``φ(Q)``, ``φ(K)``.

    ``to_dense()`` forms ``D⁻¹ (φ(Q)φ(K)ᵀ ⊙ C)`` with ``C`` the causal mask
    (all ones when bidirectional): tests and figures only.  Both factors are
    stabilised by constants that cancel in ``D⁻¹`` (2.5); the causal output
    itself uses the prefix-safe shift (2.6), which equals this up to rounding.
    """

    phi_q: Any  # (..., n, M)
    phi_k: Any  # (..., m, M)
    causal: bool

    def to_dense(self):
        xp = array_module(phi_q=self.phi_q, phi_k=self.phi_k)
        n, m = self.phi_q.shape[-2], self.phi_k.shape[-2]
        a = self.phi_q @ xp.swapaxes(self.phi_k, -1, -2)  # (..., n, m)
        if self.causal:
            a = a * (xp.arange(m)[None, :] <= xp.arange(n)[:, None] + (m - n))  # (0.6)
        return _divide(xp, a, a.sum(axis=-1, keepdims=True))


@quiet_overflow
def favor_dense(
    q, k, v, *args, omega=None, kind="positive", causal=False, scale=None, check_finite=True
):
    """The dense form ``D⁻¹ (φ(Q)φ(K)ᵀ ⊙ mask) V`` of :func:`favor_attention`: n×n, tests only.

    Unstabilised features, one explicit ``n × m`` matrix: the oracle that
    :func:`favor_attention` must equal for a fixed ``omega``.  ``check_finite``
    as in :func:`favor_attention`.
    """
    if args or omega is None:
        raise TypeError(
            "favor_dense takes omega as a keyword argument: favor_dense(q, k, v, omega=omega)"
        )
    check_finite = check_bool("check_finite", check_finite)
    # q, k and v are checked below, together with omega: one pass
    call = check_attention_call(
        "favor_dense", q, k, v, causal=causal, scale=scale, check_finite=False
    )
    dims = call.dims
    xp = _check_features(q, omega, kind, name="q", finite=False)
    if check_finite:
        check_all_finite({"q": q, "k": k, "v": v, "omega": omega}, xp)
    root = call.scale**0.5
    a = _features(xp, q * root, omega, kind) @ xp.swapaxes(
        _features(xp, k * root, omega, kind), -1, -2
    )  # (..., n, m)
    if causal:
        n, m = dims.n, dims.m
        a = a * (xp.arange(m)[None, :] <= xp.arange(n)[:, None] + (m - n))
    out = _divide(xp, a @ v, a.sum(axis=-1, keepdims=True))
    check_output("favor_dense", out, xp, reason=_unstabilised(kind, dims.dtype))
    return out


# ---------------------------------------------------------------------------
# linear attention: the deterministic feature map elu(x) + 1 (derivations/11-linear-attention.md)


def elu_features(x):
    """The feature map ``φ(x) = elu(x) + 1`` of linear attention, elementwise (11.1).

    ``elu(x) + 1 = x + 1`` for ``x > 0`` and ``exp(x)`` for ``x <= 0``, that is
    ``max(x, 0) + exp(min(x, 0))``: positive everywhere, and growing only
    linearly, so it never overflows where its input is finite.

    Parameters
    ----------
    x : float array (..., d)

    Returns
    -------
    array (..., d), the dtype of ``x``.

    Examples
    --------
    >>> import numpy as np
    >>> elu_features(np.array([-1.0, 0.0, 2.0]))  # exp(−1), 1, 3
    array([0.36787944, 1.        , 3.        ])
    """
    xp = check_array("x", x)
    return _elu(xp, x)


def _elu(xp, x):
    """(11.1)  ``φ(x) = max(x, 0) + exp(min(x, 0))``, for checked input."""
    return xp.maximum(x, 0) + xp.exp(xp.minimum(x, 0))


@quiet_overflow
def linear_attention(
    q,
    k,
    v,
    *,
    mask=None,
    causal=False,
    scale=None,
    return_weights=False,
    check_finite=True,
    chunk_size=256,
):
    """Linear attention ``D⁻¹ φ(Q)(φ(K)ᵀ V)`` with ``φ(x) = elu(x) + 1`` (11.1), (11.2).

    Katharopoulos et al. 2020 (arXiv:2006.16236).  The same code as
    :func:`favor_attention` with a deterministic feature map in place of the
    random one: no ``omega``, ``d`` features, and nothing drawn.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
    mask : bool array broadcastable to (..., 1, m), optional
        Key padding: a padded key's features are exactly 0.  A mask with a
        query axis raises: it cannot be applied in linear time.
    causal : bool
        Query ``i`` uses keys ``j <= i + (m − n)`` only, by prefix sums over
        key chunks (11.3); :func:`linear_attention_recurrent` is the same
        causal attention written one token at a time.
    scale : float > 0, optional
        Default ``1/√d``.  Applied as ``φ(√scale·q)ᵀφ(√scale·k)``, the
        convention of :func:`favor_attention` (11.5).  The paper applies
        ``φ`` to ``q`` and ``k`` unscaled: pass ``scale=1.0`` for that.
    return_weights : bool
        Also return a :class:`FavorWeights` (the two factors ``φ(Q)``,
        ``φ(K)``), whose ``.to_dense()`` is ``D⁻¹(φ(Q)φ(K)ᵀ ⊙ C)``.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).
    chunk_size : int >= 1
        Keys per chunk of the causal prefix sums.

    Returns
    -------
    out : array (..., n, d_v)
        A query with no visible key (all padded, or none yet) gets zeros.
    weights : FavorWeights
        Only when ``return_weights``.

    Notes
    -----
    Time ``O(n·d·d_v)``, memory ``O(n·(d + d_v))`` bidirectional, plus
    ``O(c²)`` causal (:func:`refattn.complexity.linear_attention_memory`).
    The features are factored as ``φ(x) = exp(e(x))·ψ(x)`` with
    ``e(x) = min(maxₜ xₜ, 0)``, and ``e`` is shifted exactly like FAVOR's
    exponents: a query or key whose coordinates are all far below 0 does not
    underflow to zero features (11.4).

    Examples
    --------
    Zero queries and keys give equal weights (every feature is 1):

    >>> import numpy as np
    >>> q = k = np.zeros((3, 2))
    >>> v = np.array([[0.0], [3.0], [6.0]])
    >>> linear_attention(q, k, v)
    array([[3.], [3.], [3.]])
    >>> linear_attention(q, k, v, causal=True)
    array([[0. ], [1.5], [3. ]])
    """
    call = check_attention_call(
        "linear_attention",
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
    chunk_size = check_int("chunk_size", chunk_size, minimum=1)
    xp = call.dims.xp
    return _kernel_attention(
        xp,
        call,
        q,
        k,
        v,
        lambda x: _elu_parts(xp, x),
        chunk_size,
        name="linear_attention",
        reason=_LINEAR_OVERFLOW.format(dtype=call.dims.dtype),
    )


_LINEAR_OVERFLOW = (
    "φ(q)ᵀφ(k) or φ(K)ᵀV overflowed {dtype}: q, k or v are too large "
    "(elu + 1 features grow linearly with the input)"
)


@quiet_overflow
def linear_attention_recurrent(q, k, v, *, mask=None, scale=None, check_finite=True):
    """Causal linear attention as a recurrence: one state update per key (11.3).

    The paper's RNN form: with ``φ(x) = elu(x) + 1`` and the state
    ``S_j = S_{j−1} + φ(k_j) v_jᵀ`` (``d × d_v``), ``z_j = z_{j−1} + φ(k_j)``
    (``d``), query ``i`` reads ``out_i = φ(q_i)ᵀ S_j / φ(q_i)ᵀ z_j`` at its
    last visible key ``j = i + (m − n)``.  A loop over the ``m`` keys in
    Python: readable, not fast, and equal to :func:`linear_attention` up to
    rounding.  It is stabilised the same way (11.4): ``φ(k_j) = exp(e_j)·ψ(k_j)``
    and the state is kept shifted by the running maximum ``M_j`` of the ``e_j``
    (rescaled by ``exp(M_{j−1} − M_j)`` when it grows); the query's own factor
    ``exp(e(q_i))`` cancels in the ratio.  So keys whose coordinates are all far
    below 0 do not underflow to an empty state.

    Parameters
    ----------
    q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
    mask : bool array broadcastable to (..., 1, m), optional
        Key padding: a padded key leaves the state unchanged.
    scale : float > 0, optional
        Default ``1/√d``, applied as in :func:`linear_attention`.
    check_finite : bool
        False skips the finiteness pass over the inputs, e.g. inside timed
        regions; non-finite input then gives undefined results (:mod:`refattn.mechanisms`).

    Returns
    -------
    array (..., n, d_v); a query with no visible key gets zeros.

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.zeros((3, 2))
    >>> linear_attention_recurrent(q, k, np.array([[0.0], [3.0], [6.0]]))
    array([[0. ], [1.5], [3. ]])
    """
    call = check_attention_call(
        "linear_attention_recurrent",
        q,
        k,
        v,
        mask=mask,
        causal=True,
        scale=scale,
        check_finite=check_finite,
        supports=SUPPORTS,
    )
    dims = call.dims
    xp, n, m, offset = dims.xp, dims.n, dims.m, dims.m - dims.n
    root = call.scale**0.5
    # (11.4)  φ(x) = exp(e(x))·ψ(x); a query's exp(e(q_i)) cancels in out_i
    _, psi_q = _elu_parts(xp, q * root)  # (..., n, d)
    k_exp, psi_k = _elu_parts(xp, k * root)  # (..., m, 1), (..., m, d)
    if call.key_mask is not None:
        # a padded key: exponent −inf, so φ(k_j) = 0 and the state is unchanged
        k_exp = _fill_blocked(k_exp, ~call.key_mask[..., :, None])
    state = xp.zeros(dims.batch + (dims.d, dims.d_v), dtype=dims.dtype)  # S_0 = 0
    norm = xp.zeros(dims.batch + (dims.d,), dtype=dims.dtype)  # z_0 = 0
    state_max = xp.full(dims.batch + (1,), -xp.inf, dtype=dims.dtype)  # M_0: no key yet
    out = xp.zeros(dims.batch + (n, dims.d_v), dtype=dims.dtype)
    for j in range(m):
        # (11.3)  S_j = S_{j−1} + φ(k_j) v_jᵀ,   z_j = z_{j−1} + φ(k_j),  both shifted by
        # exp(−M_j): S and z at M_{j−1} are brought to M_j = max(M_{j−1}, e_j) first
        e_j = k_exp[..., j, :]  # (..., 1)
        new_max = xp.maximum(state_max, e_j)
        keep = xp.exp(_shifted(xp, state_max, new_max))  # (..., 1)  exp(M_{j−1} − M_j) <= 1
        phi_k = psi_k[..., j, :] * xp.exp(_shifted(xp, e_j, new_max))  # (..., d)
        state = state * keep[..., None] + phi_k[..., :, None] * v[..., j, None, :]
        norm = norm * keep + phi_k
        state_max = new_max
        i = j - offset  # the query whose last visible key is j
        if 0 <= i < n:
            # out_i = ψ(q_i)ᵀ S_j / ψ(q_i)ᵀ z_j
            numerator = (psi_q[..., i, :, None] * state).sum(axis=-2)  # (..., d_v)
            denominator = (psi_q[..., i, :] * norm).sum(axis=-1)[..., None]  # (..., 1)
            out[..., i, :] = _divide(xp, numerator, denominator)
    check_output(
        "linear_attention_recurrent", out, xp, reason=_LINEAR_OVERFLOW.format(dtype=dims.dtype)
    )
    return out


@quiet_overflow
def linear_dense(q, k, v, *, mask=None, causal=False, scale=None, check_finite=True):
    """The dense form ``D⁻¹ (φ(Q)φ(K)ᵀ ⊙ C) V`` of :func:`linear_attention`: n×m, tests only (11.2).

    One explicit ``n × m`` matrix of ``elu + 1`` feature products, times the
    causal rule ``C`` and any boolean ``mask`` broadcastable to ``(..., n, m)``
    (a general mask is fine here: it is dense anyway).  Stabilised as
    :func:`linear_attention` is (11.4): with ``φ(x) = exp(e(x))·ψ(x)``, the
    query's ``exp(e(q_i))`` cancels in its row, and the keys' ``exp(e(k_j))``
    are shifted by their maximum over the keys row ``i`` sees; so inputs whose
    coordinates are all far below 0 give the same weights as
    :func:`linear_attention`, not an underflowed row of zeros.  ``check_finite``
    as in :func:`linear_attention`.
    """
    call = check_attention_call(
        "linear_dense", q, k, v, mask=mask, causal=causal, scale=scale, check_finite=check_finite
    )
    dims = call.dims
    xp = dims.xp
    root = call.scale**0.5
    _, psi_q = _elu_parts(xp, q * root)  # (..., n, d)
    k_exp, psi_k = _elu_parts(xp, k * root)  # (..., m, 1), (..., m, d)
    a = psi_q @ xp.swapaxes(psi_k, -1, -2)  # (..., n, m)
    exponent = xp.swapaxes(k_exp, -1, -2)  # (..., 1, m)  e(k_j)
    blocked = None
    if causal:
        blocked = xp.arange(dims.m)[None, :] > xp.arange(dims.n)[:, None] + (dims.m - dims.n)
    if mask is not None:
        blocked = ~mask if blocked is None else blocked | ~mask
    if blocked is not None:
        exponent = xp.where(blocked, -xp.inf, exponent)  # (..., n, m) where a mask applies
    # (11.4)  each row's key exponents shifted by their visible maximum: cancels in D⁻¹
    row_max = exponent.max(axis=-1, keepdims=True)
    a = a * xp.exp(_shifted(xp, exponent, row_max))  # a row with no visible key: all 0
    out = _divide(xp, a @ v, a.sum(axis=-1, keepdims=True))
    check_output("linear_dense", out, xp, reason=_LINEAR_OVERFLOW.format(dtype=dims.dtype))
    return out


def _elu_parts(xp, x):
    """``φ(x) = elu(x) + 1`` as ``exp(e) · ψ`` with ``e = min(maxₜ xₜ, 0)`` per row (11.4).

    ``x`` is ours (a scaled copy).  Where some ``xₜ >= 0``, ``e = 0`` and
    ``ψ = φ``; where every ``xₜ < 0``, ``φ = exp(x)`` and ``ψ = exp(x − e)``,
    whose largest coordinate is 1.  So ``ψ`` never underflows as a whole, and
    ``e`` goes through the same shifts as FAVOR's exponents.
    """
    e = xp.minimum(x.max(axis=-1, keepdims=True), 0)  # (..., n, 1)
    psi = xp.minimum(x, 0)  # (..., n, d)
    psi -= e
    xp.exp(psi, out=psi)  # exp(min(x, 0) − e)
    xp.maximum(x, 0, out=x)
    psi += x  # + max(x, 0), which is 0 wherever e < 0
    return e, psi


# ---------------------------------------------------------------------------


def _features(xp, x, omega, kind):
    """``φ(x)``, unscaled and unstabilised: :func:`_features_in_parts` multiplied out."""
    return _exp_times(xp, *_features_in_parts(xp, x, omega, kind))


def _features_in_parts(xp, x, omega, kind):
    """``φ(x) = exp(exponent) · multiplier``, split so that the exponent can be shifted.

    Returns ``exponent`` of shape ``(..., n, M)`` or ``(..., n, 1)`` and a
    ``multiplier`` broadcasting against it.
    """
    omega = omega.astype(x.dtype, copy=False)
    u = x @ omega.T  # (..., n, m)  u_i = ω_iᵀx
    half_sq = 0.5 * (x * x).sum(axis=-1, keepdims=True)  # (..., n, 1)  ‖x‖²/2
    m = omega.shape[0]
    if kind == "positive":
        u -= half_sq + 0.5 * math.log(m)  # in place: u is ours
        return u, 1.0
    if kind == "hyperbolic":
        return xp.concatenate([u, -u], axis=-1) - half_sq - 0.5 * math.log(2 * m), 1.0
    if kind == "trig":
        return half_sq - 0.5 * math.log(m), xp.concatenate([xp.sin(u), xp.cos(u)], axis=-1)
    return xp.zeros_like(half_sq), xp.maximum(u, 0) / math.sqrt(m)  # relu


def _causal(xp, phi_q, k_exp, k_mult, v, dims, chunk):
    """Causal FAVOR by prefix sums over key chunks, with a prefix-safe stabiliser (2.6).

    Every shift below is ``exp(a − b)`` with ``a <= b`` (a key exponent or an
    earlier running maximum, against a later running maximum).  A padded key
    has exponent ``−inf``, and so can a running maximum that has seen only
    padded keys; :func:`_shifted` makes ``a = −inf`` give 0 in every case.
    """
    n, m = dims.n, dims.m
    batch, n_feat, dtype = dims.batch, phi_q.shape[-1], dims.dtype
    # e_j: the largest exponent of key j; each key is shifted by the running max of e up to j
    key_max = k_exp.max(axis=-1)  # (..., m)
    state = xp.zeros(batch + (n_feat, dims.d_v), dtype=dtype)  # S = Σ φ(k_j) v_jᵀ, shifted by M
    state_sum = xp.zeros(batch + (n_feat, 1), dtype=dtype)  # z = Σ φ(k_j), shifted by M
    state_max = xp.full(batch + (1,), -xp.inf, dtype=dtype)  # M: the running max so far
    out = xp.zeros(batch + (n, dims.d_v), dtype=dtype)
    offset = m - n  # query i sees keys j <= i + offset (0.6)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        c = stop - start
        local = xp.arange(c)
        earlier = local[None, :] <= local[:, None]  # (c, c)  j' <= j within the chunk
        # running max at each key of the chunk: max(M, max of e over the chunk up to j)
        e = key_max[..., start:stop]  # (..., c)
        prefix = xp.where(earlier, e[..., None, :], -xp.inf).max(axis=-1)  # (..., c)
        run = xp.maximum(state_max, prefix)  # (..., c)  r_j
        phi_k = _exp_times(
            xp, _shifted(xp, k_exp[..., start:stop, :], run[..., None]), _rows(k_mult, start, stop)
        )
        # queries whose last visible key falls in this chunk: i with start <= i + offset < stop
        q_lo, q_hi = max(start - offset, 0), min(stop - offset, n)
        if q_lo < q_hi:
            rows = slice(q_lo, q_hi)
            last = xp.arange(q_lo, q_hi) + offset - start  # (r,)  last visible key, chunk index
            r_i = run[..., last]  # (..., r)  the shift every key of query i is brought to
            pq = phi_q[..., rows, :]  # (..., r, M)
            # diagonal block: keys j <= last_i, each rescaled by exp(r_j − r_i) <= 1
            visible = local[None, :] <= last[:, None]  # (r, c)
            rescale = xp.where(visible, _shifted(xp, run[..., None, :], r_i[..., :, None]), -xp.inf)
            xp.exp(rescale, out=rescale)  # (..., r, c)  exp(r_j − r_i), 0 for later keys
            a = pq @ xp.swapaxes(phi_k, -1, -2)  # (..., r, c)
            a *= rescale
            del rescale
            # earlier chunks: the state, shifted by M, brought to r_i
            carry = xp.exp(_shifted(xp, state_max, r_i))[..., :, None]  # (..., r, 1)
            numerator = a @ v[..., start:stop, :] + (pq @ state) * carry
            denominator = a.sum(axis=-1, keepdims=True) + (pq @ state_sum) * carry
            out[..., rows, :] = _divide(xp, numerator, denominator)
        # fold the chunk into the state, at the new running max r_last
        new_max = run[..., -1:]  # (..., 1)
        keep = xp.exp(_shifted(xp, state_max, new_max))[..., None]  # (..., 1, 1)
        weighted = phi_k * xp.exp(_shifted(xp, run, new_max))[..., None]  # (..., c, M)
        state = state * keep + xp.swapaxes(weighted, -1, -2) @ v[..., start:stop, :]
        state_sum = state_sum * keep + weighted.sum(axis=-2)[..., :, None]
        state_max = new_max
    return out


def _shifted(xp, a, b):
    """``a − b`` for ``a <= b``, and ``−inf`` where ``a`` is ``−inf`` (also when ``b`` is)."""
    return xp.where(xp.isneginf(a), -xp.inf, a - _finite_or_zero(xp, b))


def _exp_times(xp, exponent, multiplier):
    """``exp(exponent) · multiplier``, exponentiating in place (``exponent`` is ours)."""
    features = xp.exp(exponent, out=exponent)
    if isinstance(multiplier, float) and multiplier == 1.0:
        return features
    if broadcasts_to(xp.shape(multiplier), features.shape):
        features *= multiplier
        return features
    return features * multiplier


def _rows(multiplier, start, stop):
    """Rows ``start:stop`` of a multiplier that may be a scalar or have a size-1 row axis."""
    if isinstance(multiplier, float) or multiplier.shape[-2] == 1:
        return multiplier
    return multiplier[..., start:stop, :]


def _divide(xp, numerator, denominator):
    """``numerator / denominator``, and 0 where the denominator is 0 (2.5)."""
    return xp.where(denominator == 0, 0, numerator / _nonzero(denominator))


def _check_features(x, omega, kind, *, name="x", finite=True):
    """``x (..., d)`` and ``omega (m, d)`` float arrays; ``finite``: both checked, one sync."""
    xp = array_module(**{name: x, "omega": omega})
    check_choice("kind", kind, FEATURE_KINDS)
    check_float_array(name, x)
    check_float_array("omega", omega)
    if x.ndim < 1:
        raise ValueError(f"{name} must have shape (..., d) with ndim >= 1, got shape {x.shape}")
    if omega.ndim != 2:
        raise ValueError(f"omega must be a 2-D array (m, d), got shape {omega.shape}")
    if omega.shape[0] < 1:
        raise ValueError(f"omega must have at least one row (m >= 1), got shape {omega.shape}")
    if omega.shape[1] != x.shape[-1]:
        raise ValueError(
            f"omega must have the inputs' last axis d = {x.shape[-1]} "
            f"as its second axis, got omega.shape {omega.shape}"
        )
    if finite:
        check_all_finite({name: x, "omega": omega}, xp)
    return xp
