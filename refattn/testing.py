"""Testing helpers for attention code, in the spirit of :mod:`numpy.testing`.

refattn's own tests use these, and so can anyone who property-tests an
approximation of their own against refattn:

* :func:`assert_attention_close`: compare an output with a reference using
  tolerances that follow the dtype (float64 ``1e-10``, float32 ``1e-5``,
  relative to the reference's scale), with a failure message that shows the
  worst position.
* :func:`ztest` and :func:`assert_unbiased`: the house z-test for estimators,
  ``z = (mean − target) / (sd/√N)``
  over ``N`` independent draws made with a fixed seed, pass when ``|z| < 5``;
  the report states the smallest bias the test would catch, ``≈ 8·sd/√N``.
* :func:`attention_inputs`: a hypothesis strategy for ``q, k, v`` with
  broadcasting leading axes, a dtype, an optional boolean mask and a causal
  flag (needs hypothesis, installed by ``pip install "refattn[test]"``).

This module is host-side: it moves arrays to NumPy with
:func:`refattn.backend.to_numpy` and so accepts arrays of either backend.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backend import to_numpy

__all__ = [
    "TOLERANCES",
    "AttentionInputs",
    "ZTest",
    "assert_attention_close",
    "assert_unbiased",
    "attention_inputs",
    "structured_stream",
    "vector_pair",
    "ztest",
]

#: Default relative tolerance by dtype: a few hundred ulps of accumulated rounding.
TOLERANCES = {"float64": 1e-10, "float32": 1e-5}


def assert_attention_close(actual, desired, *, rtol=None, atol=None, err_msg=""):
    """Assert ``|actual − desired| <= atol + rtol·|desired|`` everywhere.

    Parameters
    ----------
    actual, desired : arrays of the same shape (numpy or cupy)
        The output under test and the reference (e.g. from
        :func:`refattn.softmax_attention`).
    rtol : float, optional
        Default from :data:`TOLERANCES` for the *less* precise of the two
        dtypes (float32 beats float64): ``1e-5`` or ``1e-10``.
    atol : float, optional
        Default ``rtol · max|desired| + tiny``: entries near zero are judged
        on the scale of the whole reference rather than on their own tiny
        magnitude, which for attention outputs (convex combinations of
        values) is the scale that rounding errors follow.  ``tiny`` is the
        smallest normal number of the less precise dtype (``1.2e-38`` for
        float32): below it a dtype has no relative precision at all.
    err_msg : str
        Prepended to the failure message.

    Raises
    ------
    AssertionError
        Naming the number of mismatches, the worst index, both values there,
        the error and what was allowed.
    """
    a, b = to_numpy(actual), to_numpy(desired)
    prefix = f"{err_msg}\n" if err_msg else ""
    if a.shape != b.shape:
        raise AssertionError(f"{prefix}shapes differ: actual {a.shape}, desired {b.shape}")
    coarse = max((a, b), key=lambda x: TOLERANCES.get(str(x.dtype), TOLERANCES["float32"]))
    if rtol is None:
        rtol = TOLERANCES.get(str(coarse.dtype), TOLERANCES["float32"])
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    if not np.isfinite(b64).all():
        raise AssertionError(f"{prefix}desired holds NaN or inf; a reference must be finite")
    scale = float(np.abs(b64).max()) if b64.size else 0.0
    if atol is None:
        tiny = float(np.finfo(coarse.dtype).tiny) if coarse.dtype.kind == "f" else 0.0
        atol = rtol * scale + tiny
    allowed = atol + rtol * np.abs(b64)
    error = np.abs(a64 - b64)
    bad = ~(error <= allowed)  # NaN in actual counts as bad
    if not bad.any():
        return
    excess = np.where(np.isnan(error), np.inf, error / np.maximum(allowed, np.finfo(float).tiny))
    worst = np.unravel_index(int(np.argmax(excess)), a.shape)
    raise AssertionError(
        f"{prefix}attention outputs differ at {int(bad.sum())} of {a.size} positions "
        f"(rtol={rtol:g}, atol={atol:g}, reference scale max|desired|={scale:g})\n"
        f"worst at index {tuple(int(i) for i in worst)}: actual {a64[worst]!r}, "
        f"desired {b64[worst]!r}, |error| {error[worst]:.3g} > allowed {allowed[worst]:.3g}"
    )


@dataclass(frozen=True)
class ZTest:
    """Result of :func:`ztest`: elementwise arrays plus a summary of the worst element."""

    mean: Any
    target: Any
    sd: Any
    n_samples: int
    z: Any
    z_max: float

    @property
    def max_abs_z(self) -> float:
        return float(np.max(np.abs(self.z)))

    @property
    def worst_index(self) -> tuple[int, ...]:
        return tuple(
            int(i) for i in np.unravel_index(int(np.argmax(np.abs(self.z))), np.shape(self.z))
        )

    @property
    def detectable_bias(self):
        """The smallest bias the test catches reliably, ``8·sd/√N``.

        A bias of that size puts ``z`` near 8, and then ``|z| >= 5`` with
        probability above 0.998.
        """
        return 8.0 * self.sd / math.sqrt(self.n_samples)

    @property
    def passed(self) -> bool:
        return self.max_abs_z < self.z_max

    def __str__(self) -> str:
        i = self.worst_index
        pick = (lambda x: float(np.asarray(x)[i])) if i else (lambda x: float(x))
        where = f" at index {i}" if i else ""
        return (
            f"z-test over N={self.n_samples} draws: |z|={self.max_abs_z:.3g}{where} "
            f"({'<' if self.passed else '>='} {self.z_max:g}); mean {pick(self.mean):.6g}, "
            f"target {pick(self.target):.6g}, sd {pick(self.sd):.4g}, "
            f"smallest detectable bias there ~{pick(self.detectable_bias):.3g}"
        )


def ztest(samples, target, *, axis=0, z_max=5.0) -> ZTest:
    """z-test of the hypothesis that ``samples`` are unbiased draws of ``target``.

    Parameters
    ----------
    samples : array
        Independent draws of an estimator along ``axis`` (at least 2), made
        with a fixed seed so that the test is repeatable.  Other axes are
        separate estimates, each tested (the worst one is reported).
    target : scalar or array broadcastable to one sample
        The exact value the estimator should average to.
    axis : int
        The axis of the draws.
    z_max : float
        The pass threshold on ``|z|``; the house value 5 makes a false failure
        a ``6·10⁻⁷`` event per estimate.

    Notes
    -----
    ``sd`` is the sample standard deviation.  For heavy-tailed estimators
    (positive random features at large ``‖x + y‖`` are log-normal) it
    underestimates the true one, and the test becomes too strict; keep
    inputs moderate there.

    Examples
    --------
    >>> draws = np.random.default_rng(0).normal(1.0, 2.0, size=10_000)
    >>> result = ztest(draws, 1.0)
    >>> result.passed, round(float(result.detectable_bias), 2)
    (True, 0.16)
    >>> ztest(draws + 0.2, 1.0).passed  # a bias above the detectable 0.16 fails
    False
    """
    x = to_numpy(samples).astype(np.float64)
    x = np.moveaxis(x, axis, 0)
    n = x.shape[0]
    if n < 2:
        raise ValueError(f"samples must hold at least 2 draws along axis {axis}, got {n}")
    if not np.isfinite(x).all():
        raise ValueError("samples must be finite; an estimator returned NaN or inf")
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1)
    target = np.broadcast_to(to_numpy(target).astype(np.float64), mean.shape)
    diff = mean - target
    with np.errstate(divide="ignore", invalid="ignore"):
        # zero spread: the mean is exact, and z is 0 or infinite with the sign of the difference
        z = np.where(
            sd > 0, diff / (sd / math.sqrt(n)), np.sign(diff) * np.where(diff == 0, 0, np.inf)
        )
    return ZTest(mean=mean, target=target, sd=sd, n_samples=n, z=z, z_max=float(z_max))


def assert_unbiased(samples, target, *, axis=0, z_max=5.0) -> ZTest:
    """Assert that ``samples`` average to ``target`` (:func:`ztest` with ``|z| < z_max``).

    Returns the :class:`ZTest` so a caller can also check how small a bias the
    test could see (``result.detectable_bias``).

    Raises
    ------
    AssertionError
        With the z-score, mean, target, sd, N and detectable bias of the
        worst element.
    """
    result = ztest(samples, target, axis=axis, z_max=z_max)
    if not result.passed:
        raise AssertionError(f"estimator looks biased: {result}")
    return result


def vector_pair(norm_x, norm_y, cos, *, d=8, seed=0):
    """Two vectors of ``R^d`` with the given norms and cosine (numpy, float64).

    For testing kernel estimators at chosen ``‖x‖``, ``‖y‖`` and ``xᵀy``.

    >>> x, y = vector_pair(2.0, 1.0, 0.5, d=3)
    >>> round(float(np.linalg.norm(x)), 6), round(float(x @ y), 6)
    (2.0, 1.0)
    """
    if not -1.0 <= cos <= 1.0:
        raise ValueError(f"cos must be in [-1, 1], got {cos}")
    if d < 2:
        raise ValueError(f"d must be >= 2 for two directions, got {d}")
    g = np.random.default_rng(seed)
    a = g.standard_normal(d)
    a /= np.linalg.norm(a)
    b = g.standard_normal(d)
    b -= a * (a @ b)
    b /= np.linalg.norm(b)
    return norm_x * a, norm_y * (cos * a + math.sqrt(1 - cos**2) * b)


def structured_stream(n=600, d=6, *, seed=0):
    """A stream ``(n, d)`` with structure: sinusoids from slow to fast plus a little noise.

    Neighbouring rows are similar, as in real activations, so compression has
    something to keep; used by the compressive tests and figures.
    """
    g = np.random.default_rng(seed)
    t = np.arange(n)[:, None]
    frequencies = np.geomspace(0.02, 2.0, d)
    return np.sin(t * frequencies[None, :] + g.uniform(0, 6, d)) + 0.1 * g.standard_normal((n, d))


# ---------------------------------------------------------------------------
# hypothesis strategies


@dataclass(frozen=True)
class AttentionInputs:
    """One draw of :func:`attention_inputs`: host (numpy) arrays and flags."""

    q: Any
    k: Any
    v: Any
    mask: Any
    causal: bool

    def to(self, xp) -> AttentionInputs:
        """The same inputs as arrays of backend ``xp``."""
        move = xp.asarray
        mask = None if self.mask is None else move(self.mask)
        return AttentionInputs(move(self.q), move(self.k), move(self.v), mask, self.causal)


def attention_inputs(
    *,
    dtypes=("float32", "float64"),
    max_batch_dims=2,
    max_batch_side=3,
    max_n=12,
    max_m=12,
    max_d=6,
    masks=True,
    causal=(False, True),
    bound=2.0,
):
    """Hypothesis strategy drawing :class:`AttentionInputs` for exact attention.

    ``q (..., n, d)``, ``k (..., m, d)``, ``v (..., m, d_v)`` of one dtype,
    whose leading axes broadcast together (some of size 1, some missing);
    values in ``[-bound, bound]``; a boolean mask broadcastable to
    ``(..., n, m)`` (it may leave a query with no allowed key) or None;
    ``causal`` drawn from the given values.  Built on
    :mod:`hypothesis.extra.numpy`.

    Examples
    --------
    >>> from hypothesis import given, settings
    >>> from refattn import chunked_attention, softmax_attention
    >>> @settings(derandomize=True, max_examples=25, deadline=None)
    ... @given(attention_inputs(dtypes=("float64",)))
    ... def test_chunked_is_exact(inputs):
    ...     kw = dict(mask=inputs.mask, causal=inputs.causal)
    ...     q, k, v = inputs.q, inputs.k, inputs.v
    ...     assert_attention_close(chunked_attention(q, k, v, chunk_size=3, **kw),
    ...                            softmax_attention(q, k, v, **kw))
    >>> test_chunked_is_exact()
    """
    try:
        import hypothesis.extra.numpy as hnp
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'refattn.testing.attention_inputs needs hypothesis: pip install "refattn[test]"'
        ) from exc

    @st.composite
    def draw_inputs(draw):
        dtype = np.dtype(draw(st.sampled_from(tuple(dtypes))))
        shapes = draw(
            hnp.mutually_broadcastable_shapes(
                num_shapes=3, min_dims=0, max_dims=max_batch_dims, max_side=max_batch_side
            )
        )
        n = draw(st.integers(1, max_n))
        m = draw(st.integers(1, max_m))
        d = draw(st.integers(1, max_d))
        d_v = draw(st.integers(1, max_d))
        elements = st.floats(
            -bound, bound, width=8 * dtype.itemsize, allow_nan=False, allow_subnormal=False
        )
        bq, bk, bv = shapes.input_shapes
        q = draw(hnp.arrays(dtype, bq + (n, d), elements=elements))
        k = draw(hnp.arrays(dtype, bk + (m, d), elements=elements))
        v = draw(hnp.arrays(dtype, bv + (m, d_v), elements=elements))
        mask = None
        if masks and draw(st.booleans()):
            # a mask shape that broadcasts to (..., n, m) without growing it
            full = shapes.result_shape + (n, m)
            ndim = draw(st.integers(2, len(full)))
            mask_shape = tuple(draw(st.sampled_from((1, size))) for size in full[-ndim:])
            mask = draw(hnp.arrays(np.bool_, mask_shape))
        return AttentionInputs(q, k, v, mask, draw(st.sampled_from(tuple(causal))))

    return draw_inputs()
