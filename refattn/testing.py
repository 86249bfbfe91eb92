"""Testing helpers for attention code, in the spirit of :mod:`numpy.testing`.

refattn's own tests use these, and so can anyone who property-tests an
approximation of their own against refattn:

* :func:`assert_attention_close`: compare an output with a reference using
  tolerances that follow the dtype (float64 ``1e-10``, float32 ``1e-5``,
  relative to the reference's scale), with a failure message that shows the
  worst position.
* :func:`ztest` and :func:`assert_unbiased`: the house z-test for estimators,
  ``z = (mean − target) / (sd/√N)``
  over ``N`` independent draws made with a fixed generator, pass when
  ``|z| < 5``; the report states the smallest bias the test would catch,
  ``≈ 8·sd/√N``.
* :func:`vector_pair` and :func:`structured_stream`: reproducible test data;
  both take ``rng=`` as in SPEC 7 (None, an int, a
  :class:`numpy.random.SeedSequence`, a bit generator or a
  :class:`numpy.random.Generator`, with :func:`numpy.random.default_rng`'s
  meaning).
* :func:`attention_inputs`: a hypothesis strategy for ``q, k, v`` with
  broadcasting leading axes, a dtype, an optional boolean mask and a causal
  flag (needs hypothesis, installed by ``pip install "refattn[test]"``).

Every helper checks its arguments (a wrong one is a ``TypeError`` or
``ValueError`` naming it, its value and the allowed domain) and hides its own
frames from pytest tracebacks (``__tracebackhide__``), so that a failure ends
at the caller's line.

This module is host-side: it moves arrays to NumPy with
:func:`refattn.backend.to_numpy` and so accepts arrays of either backend.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._validation import (
    broadcasts_to,
    check_array,
    check_bool,
    check_choice,
    check_dtype,
    check_int,
    check_real,
    check_seed,
    describe,
)
from .backend import BACKENDS, _backend_of, module_for, to_numpy

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

_RNG_DOMAIN = (
    "None, an integer >= 0, a numpy.random.SeedSequence, a numpy.random.BitGenerator "
    "or a numpy.random.Generator"
)


_OWN_FILES = tuple(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    for name in ("testing.py", "_validation.py", "backend.py")
)


def _ends_at_the_call(func):
    """Make ``func``'s argument errors end at the caller's line in a traceback.

    Every frame of a helper sets ``__tracebackhide__`` for pytest; an error
    raised by refattn's own checks (frames of this module, ``_validation`` and
    ``backend`` only) is re-raised without those frames, so that plain Python
    tracebacks end at the call too.  An error from anywhere else (NumPy,
    hypothesis: a bug) keeps its whole traceback.
    """

    @functools.wraps(func)
    def call(*args, **kwargs):
        __tracebackhide__ = True
        try:
            return func(*args, **kwargs)
        except (TypeError, ValueError) as exc:
            tb, own = exc.__traceback__.tb_next, True
            while tb is not None:
                own = own and os.path.abspath(tb.tb_frame.f_code.co_filename) in _OWN_FILES
                tb = tb.tb_next
            if not own:
                raise
            raise exc.with_traceback(None) from exc.__cause__

    return call


def _generator(rng) -> np.random.Generator:
    """``numpy.random.default_rng(rng)`` for the SPEC 7 forms only, with our messages.

    A Generator is returned unchanged (the caller's stream advances), as
    :func:`numpy.random.default_rng` does.
    """
    __tracebackhide__ = True
    if "cupy" in type(rng).__module__:  # a CuPy Generator or 0-d array
        raise TypeError(
            f"rng must be {_RNG_DOMAIN}, got {describe(rng)}; "
            f"these helpers draw on the host, pass a NumPy generator or an int"
        )
    return np.random.default_rng(check_seed("rng", rng, domain=_RNG_DOMAIN))


def _host_float_array(name: str, x):
    """``x`` as a NumPy array after checking it is a float32/float64 numpy or cupy array."""
    __tracebackhide__ = True
    check_array(name, x, finite=False)
    return to_numpy(x)


@_ends_at_the_call
def assert_attention_close(actual, desired, *, rtol=None, atol=None, err_msg=""):
    """Assert ``|actual − desired| <= atol + rtol·|desired|`` everywhere.

    Parameters
    ----------
    actual, desired : float32 or float64 arrays of the same shape (numpy or cupy)
        The output under test and the reference (e.g. from
        :func:`refattn.softmax_attention`).  The shapes must be equal (no
        broadcasting: an output of the wrong shape is a failure); ``desired``
        must be finite, while NaN or inf in ``actual`` is a mismatch.
    rtol : float in ``[0, 1)``, optional
        Default from :data:`TOLERANCES` for the *less* precise of the two
        dtypes (float32 beats float64): ``1e-5`` or ``1e-10``.
    atol : float >= 0, optional
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
        the error and what was allowed; or that the shapes differ.
    TypeError, ValueError
        For arguments outside their domain: non-arrays, dtypes other than
        float32/float64 (complex included), a non-finite ``desired``, a
        negative or non-finite tolerance.
    """
    __tracebackhide__ = True
    a = _host_float_array("actual", actual)
    b = _host_float_array("desired", desired)
    if rtol is not None:
        rtol = check_real("rtol", rtol, minimum=0.0, maximum=1.0, open_max=True)
    if atol is not None:
        atol = check_real("atol", atol, minimum=0.0)
    if not isinstance(err_msg, str):
        raise TypeError(f"err_msg must be a str, got {describe(err_msg)}")
    prefix = f"{err_msg}\n" if err_msg else ""
    if a.shape != b.shape:
        raise AssertionError(
            f"{prefix}shapes differ: actual {a.shape}, desired {b.shape}; "
            f"actual must have exactly the shape of desired (no broadcasting)"
        )
    if not np.isfinite(b).all():
        raise ValueError("desired must contain only finite values (a reference), got NaN or inf")
    coarse = a.dtype if TOLERANCES[str(a.dtype)] >= TOLERANCES[str(b.dtype)] else b.dtype
    if rtol is None:
        rtol = TOLERANCES[str(coarse)]
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    scale = float(np.abs(b64).max()) if b64.size else 0.0
    if atol is None:
        atol = rtol * scale + float(np.finfo(coarse).tiny)
    allowed = atol + rtol * np.abs(b64)
    error = np.abs(a64 - b64)
    bad = ~(error <= allowed)  # NaN in actual counts as bad
    if not bad.any():
        return
    with np.errstate(over="ignore"):
        excess = np.where(
            np.isnan(error), np.inf, error / np.maximum(allowed, np.finfo(float).tiny)
        )
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


def _target_array(target, sample_shape):
    """``target`` (a real scalar or array) as float64, broadcast to one sample's shape."""
    __tracebackhide__ = True
    if _backend_of(target) is None:
        # NumPy scalars count as arrays for _backend_of; here a Python number or a wrong type
        if isinstance(target, bool) or not isinstance(target, numbers.Real):
            raise TypeError(
                f"target must be a finite real number or a real numpy or cupy array, "
                f"got {describe(target)}"
            )
        return np.full(sample_shape, check_real("target", target))
    check_array("target", target, dtype="real")
    t = to_numpy(target)
    if not broadcasts_to(t.shape, sample_shape):
        raise ValueError(
            f"target must broadcast to the shape of one sample {sample_shape} "
            f"(samples without the draws axis) without growing it, got shape {t.shape}"
        )
    return np.broadcast_to(t.astype(np.float64), sample_shape)


#: The largest z_max accepted: beyond it a z-test passes any estimator of practical size.
_MAX_Z = 100.0


@_ends_at_the_call
def ztest(samples, target, *, axis=0, z_max=5.0) -> ZTest:
    """z-test of the hypothesis that ``samples`` are unbiased draws of ``target``.

    Parameters
    ----------
    samples : real array (numpy or cupy), finite
        Independent draws of an estimator along ``axis`` (at least 2), made
        with a fixed generator so that the test is repeatable.  Other axes
        are separate estimates, each tested (the worst one is reported).
    target : finite real scalar or array broadcastable to one sample
        The exact value the estimator should average to.
    axis : int
        The axis of the draws, in ``[-samples.ndim, samples.ndim)``.
    z_max : float in ``(0, 100]``
        The pass threshold on ``|z|``; the house value 5 makes a false failure
        a ``6·10⁻⁷`` event per estimate.

    Notes
    -----
    ``sd`` is the sample standard deviation (``ddof=1``).  For heavy-tailed
    estimators (positive random features at large ``‖x + y‖`` are log-normal)
    it underestimates the true one, and the test becomes too strict; keep
    inputs moderate there.  ``z`` is computed on samples and target rescaled
    by their largest magnitude (``z`` does not change), so that huge finite
    draws cannot overflow the mean or the spread.

    Examples
    --------
    >>> draws = np.random.default_rng(0).normal(1.0, 2.0, size=10_000)
    >>> result = ztest(draws, 1.0)
    >>> result.passed, round(float(result.detectable_bias), 2)
    (True, 0.16)
    >>> ztest(draws + 0.2, 1.0).passed  # a bias above the detectable 0.16 fails
    False
    """
    __tracebackhide__ = True
    check_array("samples", samples, min_ndim=1, dtype="real")
    ndim = samples.ndim
    axis = check_int("axis", axis, minimum=-ndim, maximum=ndim - 1)
    z_max = check_real("z_max", z_max, minimum=0.0, maximum=_MAX_Z, open_min=True)
    x = np.moveaxis(to_numpy(samples).astype(np.float64), axis, 0)
    n = x.shape[0]
    if n < 2:
        raise ValueError(
            f"samples must hold at least 2 draws along axis {axis}, got {n} "
            f"(samples shape {samples.shape})"
        )
    target = _target_array(target, x.shape[1:])
    # z is invariant to a common rescaling; dividing by the largest magnitude keeps sums finite
    s = max(float(np.abs(x).max()), float(np.abs(target).max()) if target.size else 0.0)
    s = s if s > 0 else 1.0
    xs, ts = x / s, target / s
    mean_s = xs.mean(axis=0)
    sd_s = xs.std(axis=0, ddof=1)
    diff = mean_s - ts
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        # zero spread: the mean is exact, and z is 0 or infinite with the sign of the difference
        z = np.where(
            sd_s > 0, diff / (sd_s / math.sqrt(n)), np.sign(diff) * np.where(diff == 0, 0, np.inf)
        )
    return ZTest(mean=mean_s * s, target=target, sd=sd_s * s, n_samples=n, z=z, z_max=z_max)


@_ends_at_the_call
def assert_unbiased(samples, target, *, axis=0, z_max=5.0) -> ZTest:
    """Assert that ``samples`` average to ``target`` (:func:`ztest` with ``|z| < z_max``).

    Takes the arguments of :func:`ztest` and returns its :class:`ZTest`, so a
    caller can also check how small a bias the test could see
    (``result.detectable_bias``).

    Raises
    ------
    AssertionError
        With the z-score, mean, target, sd, N and detectable bias of the
        worst element.
    """
    __tracebackhide__ = True
    result = ztest(samples, target, axis=axis, z_max=z_max)
    if not result.passed:
        raise AssertionError(f"estimator looks biased: {result}")
    return result


#: Upper bounds that keep a helper from allocating absurd memory by mistake.
_MAX_D = 1_000_000
_MAX_ELEMENTS = 2**27  # 1 GiB of float64


@_ends_at_the_call
def vector_pair(norm_x, norm_y, cos, *, d=8, rng=0):
    """Two vectors of ``R^d`` with the given norms and cosine (numpy, float64).

    For testing kernel estimators at chosen ``‖x‖``, ``‖y‖`` and ``xᵀy``.

    Parameters
    ----------
    norm_x, norm_y : finite real >= 0
        The norms.
    cos : finite real in ``[-1, 1]``
        The cosine of the angle between them.
    d : int >= 2
        The dimension (two directions are needed).
    rng : None, int, SeedSequence, BitGenerator or Generator
        The random directions, as :func:`numpy.random.default_rng` reads it
        (a Generator is used, and advanced, as it is); default 0, reproducible.

    >>> x, y = vector_pair(2.0, 1.0, 0.5, d=3)
    >>> round(float(np.linalg.norm(x)), 6), round(float(x @ y), 6)
    (2.0, 1.0)
    """
    __tracebackhide__ = True
    norm_x = check_real("norm_x", norm_x, minimum=0.0)
    norm_y = check_real("norm_y", norm_y, minimum=0.0)
    cos = check_real("cos", cos, minimum=-1.0, maximum=1.0)
    d = check_int("d", d, minimum=2, maximum=_MAX_D)
    g = _generator(rng)
    a = g.standard_normal(d)
    a /= np.linalg.norm(a)
    b = g.standard_normal(d)
    b -= a * (a @ b)
    b /= np.linalg.norm(b)
    return norm_x * a, norm_y * (cos * a + math.sqrt(1 - cos**2) * b)


@_ends_at_the_call
def structured_stream(n=600, d=6, *, rng=0):
    """A stream ``(n, d)`` with structure: sinusoids from slow to fast plus a little noise.

    Column ``j`` is ``sin(ω_j·t + φ_j)`` plus Gaussian noise of sd 0.1, with
    angular frequencies ``ω`` geometrically spaced from 0.02 to 2 radians per
    row and random phases ``φ``.  Neighbouring rows are similar, as in real
    activations, so compression has something to keep; used by the
    compressive tests and figures.  ``n`` and
    ``d`` are integers >= 1 (``n·d`` at most ``2**27`` values); ``rng`` as in
    :func:`vector_pair` (default 0, reproducible).
    """
    __tracebackhide__ = True
    n = check_int("n", n, minimum=1, maximum=_MAX_ELEMENTS)
    d = check_int("d", d, minimum=1, maximum=_MAX_ELEMENTS)
    if n * d > _MAX_ELEMENTS:
        raise ValueError(
            f"n·d must be <= {_MAX_ELEMENTS} values (1 GiB of float64), got n = {n} and d = {d}"
        )
    g = _generator(rng)
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

    @_ends_at_the_call
    def to(self, xp) -> AttentionInputs:
        """The same inputs as arrays of backend ``xp`` (``'numpy'``, ``'cupy'`` or the module)."""
        __tracebackhide__ = True
        if isinstance(xp, str):
            check_choice("xp", xp, BACKENDS)
        elif getattr(xp, "__name__", None) not in BACKENDS:
            raise TypeError(
                f"xp must be one of 'numpy', 'cupy' or the numpy or cupy module, got {describe(xp)}"
            )
        move = module_for(xp).asarray
        mask = None if self.mask is None else move(self.mask)
        return AttentionInputs(move(self.q), move(self.k), move(self.v), mask, self.causal)


#: Bounds of attention_inputs' size options: the strategy draws small test inputs.
_STRATEGY_LIMITS = {
    "max_batch_dims": (0, 8),
    "max_batch_side": (1, 16),
    "max_n": (1, 1024),
    "max_m": (1, 1024),
    "max_d": (1, 1024),
}


def _largest_within(bound: float, dtype) -> float:
    """The largest value of ``dtype`` <= ``bound`` (hypothesis needs a representable bound)."""
    edge = dtype.type(bound)
    if float(edge) > bound:
        edge = np.nextafter(edge, dtype.type(0))
    return float(edge)


def _nonempty_tuple(name, value, what):
    """``value`` must be a non-empty tuple or list (of ``what``); returns a tuple."""
    __tracebackhide__ = True
    if not isinstance(value, (tuple, list)):
        raise TypeError(f"{name} must be a non-empty tuple of {what}, got {describe(value)}")
    if not value:
        raise ValueError(f"{name} must be a non-empty tuple of {what}, got {value!r}")
    return tuple(value)


@_ends_at_the_call
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

    Parameters
    ----------
    dtypes : non-empty tuple of float32 / float64 (names, types or dtypes)
    max_batch_dims : int in ``[0, 8]``
    max_batch_side : int in ``[1, 16]``
    max_n, max_m, max_d : int in ``[1, 1024]``
    masks : bool
        Whether a mask may be drawn.
    causal : non-empty tuple of bools
    bound : finite real in ``[1e-6, 1e6]``

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
    __tracebackhide__ = True
    dtype_names = tuple(
        check_dtype(f"dtypes[{i}]", dt)
        for i, dt in enumerate(_nonempty_tuple("dtypes", dtypes, "float32/float64 dtypes"))
    )
    sizes = {}
    for name, value in (
        ("max_batch_dims", max_batch_dims),
        ("max_batch_side", max_batch_side),
        ("max_n", max_n),
        ("max_m", max_m),
        ("max_d", max_d),
    ):
        lo, hi = _STRATEGY_LIMITS[name]
        sizes[name] = check_int(name, value, minimum=lo, maximum=hi)
    masks = check_bool("masks", masks)
    causal = tuple(
        check_bool(f"causal[{i}]", c)
        for i, c in enumerate(_nonempty_tuple("causal", causal, "True/False"))
    )
    bound = check_real("bound", bound, minimum=1e-6, maximum=1e6)
    try:
        import hypothesis.extra.numpy as hnp
        from hypothesis import strategies as st
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            'refattn.testing.attention_inputs needs hypothesis: pip install "refattn[test]"'
        ) from exc

    @st.composite
    def draw_inputs(draw):
        dtype = np.dtype(draw(st.sampled_from(dtype_names)))
        shapes = draw(
            hnp.mutually_broadcastable_shapes(
                num_shapes=3,
                min_dims=0,
                max_dims=sizes["max_batch_dims"],
                max_side=sizes["max_batch_side"],
            )
        )
        n = draw(st.integers(1, sizes["max_n"]))
        m = draw(st.integers(1, sizes["max_m"]))
        d = draw(st.integers(1, sizes["max_d"]))
        d_v = draw(st.integers(1, sizes["max_d"]))
        edge = _largest_within(bound, dtype)
        elements = st.floats(
            -edge, edge, width=8 * dtype.itemsize, allow_nan=False, allow_subnormal=False
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
        return AttentionInputs(q, k, v, mask, draw(st.sampled_from(causal)))

    return draw_inputs()
