"""The registry: every attention mechanism in refattn, behind one calling convention.

Each entry names the mechanism, the paper it comes from (authors, year, arXiv
id), its family in the taxonomy of Tay, Dehghani, Bahri & Metzler 2020,
*Efficient Transformers: A Survey* (arXiv:2009.06732), whether it is exact,
which options of the convention it can honour, its memory and flop formulas
from :mod:`refattn.complexity`, and a factory.  :func:`mechanism` turns a name
and options into a configured callable::

    attend = refattn.mechanism("favor", features=256, rng=0)
    out = attend(q, k, v, causal=True)            # (..., n, d_v)
    out, w = attend(q, k, v, return_weights=True)
    w.to_dense()                                  # (..., n, m), what it effectively used
    attend.memory(16384, 64)                      # elements at the peak, complexity.py

Every callable reads ``attend(q, k, v, *, mask=None, causal=False,
scale=None, return_weights=False, check_finite=True)`` on ``q (..., n, d)``,
``k (..., m, d)``, ``v (..., m, d_v)`` (``derivations/06-calling-convention.md``),
so swapping one mechanism for another is one line.

``check_finite=False``, as in SciPy's linear algebra functions, skips the
finiteness pass over the inputs, e.g. inside timed regions; non-finite input
then gives undefined results.  The pass is one reduction to a single flag over
q, k, v and the arrays a mechanism is given alongside them (FAVOR's ω,
Linformer's E and F, LSH rotations, compressive taps, Longformer's global
projections, an array of adaptive spans) and one host sync, a device-to-host
read on a GPU; False skips exactly that.  The checks of shapes, dtypes and
options stay, and so do the guards that keep finite input from returning NaN
or inf, and the reads of what the computation needs on the host (the largest
of an array of spans, read once with its range checks): given NaN or inf
anyway, a mechanism may return NaN, or one of those guards or reads may raise
(``FloatingPointError`` as if the input had overflowed, or the span's
``ValueError``).  ``refattn bench`` checks its inputs once, before the clock
starts, and times calls with ``check_finite=False``.

``refattn bench``, the figures, the command line and the tests iterate
:data:`REGISTRY`; adding a mechanism is one module, one :func:`register` call
and its derivation.

Random mechanisms (FAVOR's features, Linformer's projections) draw what they
need from ``rng`` the first time they meet a head dimension or a backend, and
keep it: the same callable gives the same answer on every call.  Redraw with
``attend.redraw(rng)``, which returns a new callable with fresh draws (the
Performer paper resamples its features every so many training steps).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from . import complexity
from ._validation import (
    Supports,
    array_module,
    check_array,
    check_bool,
    check_choice,
    check_int,
    check_seed,
    describe,
)
from .backend import did_you_mean, module_for, module_name
from .backend import rng as make_rng

__all__ = [
    "FAMILIES",
    "REGISTRY",
    "Attention",
    "Built",
    "DenseWeights",
    "Mechanism",
    "Paper",
    "dense_weights",
    "mechanism",
    "register",
]

#: The families of Tay et al.'s taxonomy that refattn's mechanisms belong to, plus "exact".
FAMILIES = (
    "exact",
    "fixed patterns",
    "learnable patterns",
    "global memory",
    "low rank",
    "kernels",
    "recurrence",
    "downsampling",
)


@dataclass(frozen=True)
class Paper:
    """A paper, cited as authors, year and arXiv id."""

    authors: str
    year: int
    arxiv: str
    title: str

    def __post_init__(self):
        for name in ("authors", "title"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise TypeError(f"{name} must be a non-empty str, got {describe(value)}")
        object.__setattr__(self, "year", check_int("year", self.year, minimum=1900, maximum=2100))
        if not isinstance(self.arxiv, str) or not re.fullmatch(r"\d{4}\.\d{4,5}", self.arxiv):
            raise ValueError(
                f"arxiv must be an arXiv id like '2004.05150' (YYMM.NNNNN), "
                f"got {describe(self.arxiv)}"
            )

    def cite(self) -> str:
        """``'Beltagy, Peters & Cohan 2020, arXiv:2004.05150'``."""
        return f"{self.authors} {self.year}, arXiv:{self.arxiv}"


@dataclass(frozen=True)
class DenseWeights:
    """An ``(..., n, m)`` weight array with the ``.to_dense()`` every mechanism's weights have."""

    array: Any

    def __post_init__(self):
        check_array("array", self.array, min_ndim=2, finite=False)

    def to_dense(self):
        return self.array


@dataclass(frozen=True)
class Built:
    """What a factory's ``build(**options)`` returns.

    ``call``: the options passed to the attention function on every call;
    ``cost``: the options of its memory and flop formulas; ``draws``: the
    random arrays it draws lazily (FAVOR's ω, Linformer's E and F), or None.
    """

    call: dict
    cost: dict
    draws: Any = None

    def __post_init__(self):
        for name in ("call", "cost"):
            value = getattr(self, name)
            if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
                raise TypeError(
                    f"{name} must be a dict of option name → value, got {describe(value)}"
                )
        if self.draws is not None and not callable(getattr(self.draws, "draw", None)):
            raise TypeError(
                f"draws must be None or an object with a draw(q, k, v) method, "
                f"got {describe(self.draws)}"
            )


def dense_weights(weights):
    """``weights.to_dense()``, or ``weights`` itself for a plain array (exact attention's form)."""
    if hasattr(weights, "to_dense"):
        return weights.to_dense()
    check_array("weights", weights, min_ndim=2, axes="..., n, m", finite=False)
    return weights


@dataclass(frozen=True)
class Mechanism:
    """One registry entry.

    Attributes
    ----------
    name : str
        The registry name, e.g. ``"sliding_window"``.
    summary : str
        One line.
    function : callable
        The module-level attention function the factory configures.
    paper : Paper
    families : tuple of str
        Its families among :data:`FAMILIES`; a mechanism may sit in several.
    exact : bool
        True if it computes softmax attention exactly under some mask
        (:attr:`pattern`); False for approximations.
    supports : Supports
        What of the convention it honours, with the reason for each refusal.
    memory_order : str
        The order of its working set, e.g. ``"n·w"``.
    build : callable
        ``build(**options) -> Built``: checks the factory's options and splits
        them into what each call needs, the keyword arguments of the cost
        formulas, and the random draws.
    memory, flops : callable
        complexity.py's working set (elements) and flops for one head, called
        as ``f(n, d=d, d_v=d_v, **built.cost)`` plus ``causal=`` when ``f`` takes it.
    pattern : callable or None
        For exact mechanisms: ``pattern(n, m, *, causal, xp, **options)``, the
        boolean ``(n, m)`` mask under which it equals :func:`refattn.softmax_attention`.
    examples : tuple of dict
        Small option sets (sequences of 8–40 tokens) that tests and examples
        run; the first is the default example.
    bench : mapping
        Benchmark configurations: label → ``options(n)``, the factory's options
        at length ``n`` for the scaling grid; a ``"causal"`` key among them is
        not a factory option but the ``causal`` flag of every call.
    narrow : callable or None
        ``narrow(call_options) -> dict``: supports that some option values take
        away (e.g. global tokens cannot be causal), as ``Supports`` fields.
    output_length : callable or None
        ``output_length(n, **call_options) -> int``: the rows of the output for
        ``n`` queries, for a mechanism whose output is shorter than its queries
        (Funnel's pooling, ``derivations/13-funnel.md``); None means ``n``.
        Its weights' ``.to_dense()`` and its :attr:`pattern` then have that many rows.
    queries : callable or None
        ``queries(q, **call_options)``: the ``(..., n_out, d)`` queries that
        actually attend (Funnel's pooled queries), so that an exact mechanism
        equals ``softmax_attention(queries(q), k, v, mask=pattern)``; None means ``q``.
    """

    name: str
    summary: str
    function: Callable
    paper: Paper
    families: tuple[str, ...]
    exact: bool
    supports: Supports
    memory_order: str
    build: Callable[..., Built]
    memory: Callable[..., int]
    flops: Callable[..., int]
    pattern: Callable | None = None
    examples: tuple[dict, ...] = ({},)
    bench: Mapping[str, Callable[[int], dict]] = field(default_factory=dict)
    narrow: Callable[[dict], dict] | None = None
    output_length: Callable[..., int] | None = None
    queries: Callable | None = None

    @property
    def causal(self) -> bool:
        return self.supports.causal is None

    @property
    def key_padding(self) -> bool:
        return self.supports.key_padding is None

    @property
    def general_mask(self) -> bool:
        return self.supports.general_mask is None

    @property
    def cross(self) -> bool:
        return self.supports.cross is None

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise TypeError(
                f"name must be a str such as 'sliding_window', got {describe(self.name)}"
            )
        if not isinstance(self.paper, Paper):
            raise TypeError(f"paper must be a Paper, got {describe(self.paper)}")
        if not isinstance(self.supports, Supports):
            raise TypeError(f"supports must be a Supports, got {describe(self.supports)}")
        if not isinstance(self.families, tuple) or not self.families:
            raise TypeError(
                f"families must be a non-empty tuple of names among {FAMILIES}, "
                f"got {describe(self.families)}"
            )
        for family in self.families:
            check_choice("families[...]", family, FAMILIES)
        check_bool("exact", self.exact)
        for name in ("function", "build", "memory", "flops"):
            if not callable(getattr(self, name)):
                raise TypeError(f"{name} must be callable, got {describe(getattr(self, name))}")
        for name in ("pattern", "narrow", "output_length", "queries"):
            value = getattr(self, name)
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be None or callable, got {describe(value)}")
        if self.exact and self.pattern is None:
            raise ValueError(f"pattern must be given for an exact mechanism ({self.name})")
        if not isinstance(self.examples, tuple) or not all(
            isinstance(e, dict) for e in self.examples
        ):
            raise TypeError(f"examples must be a tuple of dicts, got {describe(self.examples)}")

    def __call__(self, **options) -> Attention:
        return mechanism(self.name, **options)


#: Every registered mechanism by name, in the order of the taxonomy.
REGISTRY: dict[str, Mechanism] = {}


def register(entry: Mechanism) -> Mechanism:
    """Add ``entry`` to :data:`REGISTRY` (a name may be registered once)."""
    if not isinstance(entry, Mechanism):
        raise TypeError(f"entry must be a Mechanism, got {describe(entry)}")
    if entry.name in REGISTRY:
        raise ValueError(f"mechanism {entry.name!r} is registered twice")
    REGISTRY[entry.name] = entry
    return entry


def mechanism(name: str, **options) -> Attention:
    """The mechanism ``name`` configured with ``options``: a callable of the convention.

    Examples
    --------
    >>> import numpy as np
    >>> q = k = np.zeros((4, 2)); v = np.array([[0.0], [3.0], [6.0], [9.0]])
    >>> mechanism("sliding_window", window=1)(q, k, v)
    array([[1.5], [3. ], [6. ], [7.5]])
    >>> mechanism("favor", features=16, rng=0)(q, k, v, causal=True)
    array([[0. ], [1.5], [3. ], [4.5]])
    """
    if not isinstance(name, str) or name not in REGISTRY:
        hint = did_you_mean(name, REGISTRY) if isinstance(name, str) else ""
        error = ValueError if isinstance(name, str) else TypeError
        raise error(
            f"name must be a registered mechanism ({', '.join(REGISTRY)}), "
            f"got {describe(name)}{hint}"
        )
    entry = REGISTRY[name]
    _check_option_names(entry, options)
    return Attention(entry, options, entry.build(**options))


def _option_names(entry: Mechanism) -> tuple[str, ...]:
    """The options ``entry.build`` takes."""
    parameters = inspect.signature(entry.build).parameters.values()
    return tuple(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)


def _check_option_names(entry: Mechanism, options: dict) -> None:
    """Every option must be one ``entry``'s build takes; the message lists them."""
    valid = _option_names(entry)
    unknown = [key for key in options if key not in valid]
    if not unknown:
        return
    if not valid:
        raise TypeError(f"{entry.name} takes no options, got option {unknown[0]!r}")
    hint = did_you_mean(unknown[0], valid)
    raise TypeError(
        f"{entry.name} has no option {unknown[0]!r}{hint}; its options are {', '.join(valid)}"
    )


def _check_rng(rng):
    """``rng``: None, an integer >= 0 (NumPy integers and 0-d arrays too), a Generator, or
    (SPEC 7) a NumPy ``SeedSequence`` or bit generator; :func:`refattn.backend.rng` makes the
    Generator of each backend from it."""
    domain = "None, an integer >= 0, a Generator, a SeedSequence or a bit generator"
    return check_seed("rng", rng, domain=domain)


#: The most random features, projection or rotation elements a factory draws per head
#: dimension: a bigger request is rejected when configured, not when the first call allocates it.
MAX_DRAWN = 2**26


class Attention:
    """A configured mechanism: ``attend(q, k, v, *, mask, causal, scale, return_weights,
    check_finite)``.

    Attributes
    ----------
    mechanism : Mechanism
        The registry entry.
    options : dict
        The options it was configured with, as given.
    """

    def __init__(self, entry: Mechanism, options: dict, built: Built):
        self.mechanism = entry
        self.options = dict(options)
        self._built = built

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"refattn.mechanism({self.mechanism.name!r}{', ' if opts else ''}{opts})"

    def __call__(
        self,
        q,
        k,
        v,
        *,
        mask=None,
        causal=False,
        scale=None,
        return_weights=False,
        check_finite=True,
    ):
        """Attend: the mechanism's function with this configuration's options.

        Parameters
        ----------
        q, k, v : arrays (..., n, d), (..., m, d), (..., m, d_v)
        mask : bool array broadcastable to (..., n, m), optional
            True = may attend; ``(..., 1, m)`` is key padding.
        causal : bool
            Query ``i`` reads keys ``j <= i + (m − n)``.
        scale : float > 0, optional
            Multiplies the logits; default ``1/sqrt(d)``.
        return_weights : bool
            Also return weights with ``.to_dense()`` (``(..., n, m)``).
        check_finite : bool
            False skips the finiteness pass over the inputs, e.g. inside timed
            regions; non-finite input then gives undefined results (module docstring).

        Returns
        -------
        out : array (..., n, d_v), and weights when ``return_weights``.
            ``(..., n_out, d_v)`` for a mechanism with a shorter output
            (:meth:`output_length`).

        Raises
        ------
        ValueError
            For an option the configuration cannot honour, with the reason
            (:attr:`supports`).
        """
        own = dict(self._built.call)
        if self._built.draws is not None:
            own.update(self._built.draws.draw(q, k, v))
        result = self.mechanism.function(
            q,
            k,
            v,
            mask=mask,
            causal=causal,
            scale=scale,
            return_weights=return_weights,
            check_finite=check_finite,
            **own,
        )
        if return_weights:
            out, weights = result
            return out, weights if hasattr(weights, "to_dense") else DenseWeights(weights)
        return result

    @property
    def supports(self) -> Supports:
        """What this configuration honours: the mechanism's supports, narrowed by its options."""
        entry = self.mechanism
        if entry.narrow is None:
            return entry.supports
        return replace(entry.supports, **entry.narrow(self._built.call))

    def pattern(self, n: int, m: int | None = None, *, causal: bool = False, xp=None):
        """The boolean ``(n, m)`` mask under which this exact mechanism is softmax attention.

        Tests and figures only (it is ``n × m``); raises for approximations.
        """
        if self.mechanism.pattern is None:
            raise ValueError(f"{self.mechanism.name} is not exact: it has no dense pattern")
        n = check_int("n", n, minimum=1)
        m = n if m is None else check_int("m", m, minimum=1)
        causal = self._check_causal(causal)
        xp = module_for(xp)
        own = dict(self._built.call)
        if self._built.draws is not None:  # random structure that is part of the pattern
            own.update(self._built.draws.draw_on(xp))  # (BigBird's random blocks)
        return self.mechanism.pattern(n, m, causal=causal, xp=xp, **own)

    def output_length(self, n: int) -> int:
        """The rows of the output for ``n`` queries: ``n``, except for pooling (Funnel)."""
        entry = self.mechanism
        n = check_int("n", n, minimum=1)
        return n if entry.output_length is None else entry.output_length(n, **self._built.call)

    def queries(self, q):
        """The queries that attend, ``(..., n_out, d)``: ``q`` itself, or Funnel's pooled ones."""
        entry = self.mechanism
        check_array("q", q, min_ndim=2, axes="..., n, d")  # named q, before a pooling reads it
        return q if entry.queries is None else entry.queries(q, **self._built.call)

    def draw_for(self, q, k, v) -> dict:
        """Draw (and keep) the random arrays for inputs like these; ``{}`` if it has none.

        Calls draw them on first use anyway; a measurement calls this first so
        that the drawing is not part of what it measures.
        """
        named = (("q", q, "..., n, d"), ("k", k, "..., m, d"), ("v", v, "..., m, d_v"))
        for name, x, axes in named:
            check_array(name, x, min_ndim=2, axes=axes, finite=False)
        return {} if self._built.draws is None else self._built.draws.draw(q, k, v)

    def memory(self, n: int, d: int = 64, d_v: int | None = None, *, causal: bool = False) -> int:
        """complexity.py's working set in elements, one head, ``m = n``."""
        causal = self._check_causal(causal)
        return _evaluate(self.mechanism.memory, n, d, d_v, causal, self._built.cost)

    def flops(self, n: int, d: int = 64, d_v: int | None = None, *, causal: bool = False) -> int:
        """complexity.py's flop count, one head, ``m = n``."""
        causal = self._check_causal(causal)
        return _evaluate(self.mechanism.flops, n, d, d_v, causal, self._built.cost)

    def _check_causal(self, causal) -> bool:
        """``causal`` a bool this configuration can honour (else the reason it cannot)."""
        causal = check_bool("causal", causal)
        reason = self.supports.causal
        if causal and reason is not None:
            raise ValueError(f"causal cannot be True for {self.mechanism.name}: {reason}")
        return causal

    def redraw(self, rng=None) -> Attention:
        """A new callable with the same options and fresh random draws from ``rng``.

        For a mechanism without random draws it returns a copy.
        """
        rng = _check_rng(rng)
        if self._built.draws is None:
            return mechanism(self.mechanism.name, **self.options)
        return mechanism(self.mechanism.name, **{**self.options, "rng": rng})


def _evaluate(formula, n, d, d_v, causal, options) -> int:
    """``formula(n, d=d, d_v=d_v, **options)``, with ``causal`` when the formula takes it."""
    if "causal" in inspect.signature(formula).parameters:
        options = {**options, "causal": causal}
    return formula(n, d=d, d_v=d_v, **options)


# ---------------------------------------------------------------------------
# random draws, made lazily per backend and shape, then kept


class _Draws:
    """Random arrays drawn from ``rng`` the first time a call of a new kind is met, then kept.

    ``make(generator, xp, q) -> dict`` draws them; the kind of a call is its
    backend, the dtype of ``q`` and, with ``per_head_dim``, its head
    dimension ``d`` (FAVOR's ω is ``M × d``; Linformer's E and F do not
    depend on ``d``).  With an int seed every kind gets its own generator
    seeded alike, so a result never depends on which calls came first (a
    Generator passed as ``rng`` is drawn from in the order calls come).
    With ``per_dtype=False`` the draws depend on the backend alone (BigBird's
    integer random blocks): :meth:`draw_on` then gives them without arrays,
    for :meth:`Attention.pattern`.
    """

    def __init__(
        self,
        rng,
        make: Callable[[Any, Any, Any], dict],
        *,
        per_head_dim: bool,
        per_dtype: bool = True,
    ):
        self._seed = _check_rng(rng)  # checked now, not at the first call
        self._make = make
        self._per_head_dim = per_head_dim
        self._per_dtype = per_dtype
        self._cache: dict[tuple, dict] = {}

    def draw(self, q, k, v) -> dict:
        xp = array_module(q=q, k=k, v=v)
        dtype = str(q.dtype) if self._per_dtype else None
        key = (module_name(xp), dtype, q.shape[-1] if self._per_head_dim else None)
        if key not in self._cache:
            self._cache[key] = self._make(make_rng(self._seed, xp), xp, q)
        return self._cache[key]

    def draw_on(self, xp) -> dict:
        """The draws of backend ``xp``, for draws that depend on nothing else (``make`` gets no q).

        Draws that depend on the dtype or head dimension give ``{}``: they are no part
        of a dense pattern.
        """
        if self._per_dtype or self._per_head_dim:
            return {}
        key = (module_name(xp), None, None)
        if key not in self._cache:
            self._cache[key] = self._make(make_rng(self._seed, xp), xp, None)
        return self._cache[key]


# ---------------------------------------------------------------------------
# the entries


def _no_options():
    """The build of a mechanism without options (:func:`mechanism` rejects any given)."""
    return Built({}, {})


def _dense_pattern(n, m, *, causal, xp, **_):
    """All-True, or the causal rule ``j <= i + (m − n)`` (0.6)."""
    allowed = xp.ones((n, m), dtype=bool)
    if causal:
        allowed = xp.arange(m)[None, :] <= xp.arange(n)[:, None] + (m - n)
    return allowed


def _register_all():
    from . import compressive, linformer, longformer, performer, softmax

    vaswani = Paper("Vaswani et al.", 2017, "1706.03762", "Attention Is All You Need")
    register(
        Mechanism(
            name="softmax",
            summary="exact attention holding the n×m score matrix: the oracle",
            function=softmax.softmax_attention,
            paper=vaswani,
            families=("exact",),
            exact=True,
            supports=Supports(),
            memory_order="n²",
            build=_no_options,
            memory=complexity.dense_attention_memory,
            flops=complexity.dense_attention_flops,
            pattern=_dense_pattern,
            bench={"softmax": lambda n: {}},
        )
    )

    def chunked_build(*, chunk_size=256):
        options = {"chunk_size": check_int("chunk_size", chunk_size, minimum=1)}
        return Built(options, {"chunk": options["chunk_size"]})

    register(
        Mechanism(
            name="chunked",
            summary="exact attention over key chunks (online softmax), O(n·chunk) memory",
            function=softmax.chunked_attention,
            paper=Paper(
                "Rabe & Staats", 2021, "2112.05682", "Self-attention Does Not Need O(n²) Memory"
            ),
            families=("exact",),
            exact=True,
            supports=Supports(),
            memory_order="n·c",
            build=chunked_build,
            memory=complexity.chunked_attention_memory,
            flops=complexity.chunked_attention_flops,
            pattern=_dense_pattern,
            examples=({"chunk_size": 3},),
            bench={"chunked": lambda n: {"chunk_size": 256}},
        )
    )

    def window_build(*, window=64, dilation=1, global_tokens=None):
        window = check_int("window", window, minimum=0)
        dilation = check_int("dilation", dilation, minimum=1)
        if global_tokens is not None:
            if isinstance(global_tokens, (str, bytes)) or not hasattr(global_tokens, "__len__"):
                raise TypeError(
                    f"global_tokens must be a sequence of positions, got {global_tokens!r}"
                )
            # the range is checked per call
            global_tokens = tuple(
                check_int(f"global_tokens[{i}]", p, minimum=0) for i, p in enumerate(global_tokens)
            )
        options = {"window": window, "dilation": dilation}
        if global_tokens is not None:
            options["global_tokens"] = global_tokens
        cost = {"window": window, "dilation": dilation, "g": len(global_tokens or ())}
        return Built(options, cost)

    def window_pattern(n, m, *, causal, xp, window, dilation, global_tokens=None):
        return longformer.window_pattern(
            n, window=window, dilation=dilation, causal=causal, global_tokens=global_tokens, xp=xp
        )

    register(
        Mechanism(
            name="sliding_window",
            summary="Longformer: sliding, dilated or causal window, symmetric global tokens",
            function=longformer.sliding_window_attention,
            paper=Paper(
                "Beltagy, Peters & Cohan",
                2020,
                "2004.05150",
                "Longformer: The Long-Document Transformer",
            ),
            families=("fixed patterns", "global memory"),
            exact=True,
            supports=longformer.SUPPORTS,
            memory_order="n·w",
            build=window_build,
            memory=complexity.sliding_window_memory,
            flops=complexity.sliding_window_flops,
            pattern=window_pattern,
            narrow=lambda call: (
                {"causal": "a global row attends to every key, including later ones"}
                if call.get("global_tokens")
                else {}
            ),
            examples=(
                {"window": 2},
                {"window": 1, "dilation": 2},
                {"window": 2, "global_tokens": (0, 5)},
            ),
            bench={
                "sliding_window": lambda n: {"window": 64},
                "sliding_window_global": lambda n: {
                    "window": 64,
                    "global_tokens": tuple(i * (n // 16) for i in range(16)),
                },
            },
        )
    )

    performer_paper = Paper(
        "Choromanski et al.", 2021, "2009.14794", "Rethinking Attention with Performers"
    )
    for kind, label, summary in (
        ("positive", "favor", "Performer FAVOR+: positive orthogonal random features"),
        ("hyperbolic", "favor_hyperbolic", "Performer: hyperbolic positive random features"),
        ("trig", "favor_trig", "Performer: trigonometric random features (can go negative)"),
        ("relu", "favor_relu", "Performer: ReLU features, a different kernel than softmax"),
    ):
        _register_favor(kind, label, summary, performer_paper, performer, complexity)

    def linformer_build(*, k=256, max_length=512, kind="gaussian", share_kv=False, rng=None):
        from .jl import KINDS as PROJECTION_KINDS

        k = check_int("k", k, minimum=1, maximum=MAX_DRAWN)
        max_length = check_int("max_length", max_length, minimum=1, maximum=MAX_DRAWN)
        if k * max_length > MAX_DRAWN:
            raise ValueError(
                f"k · max_length must be <= {MAX_DRAWN} (the elements of each projection "
                f"E, F drawn at the first call), got k = {k} and max_length = {max_length}"
            )
        kind = check_choice("kind", kind, PROJECTION_KINDS)
        share_kv = check_bool("share_kv", share_kv)

        def make(g, xp, q):
            from .jl import projection

            dtype = str(q.dtype)
            e = projection(max_length, k, kind=kind, rng=g, xp=xp, dtype=dtype)
            f = e if share_kv else projection(max_length, k, kind=kind, rng=g, xp=xp, dtype=dtype)
            return {"E": e, "F": f}

        return Built({}, {"k": k}, _Draws(rng, make, per_head_dim=False))

    register(
        Mechanism(
            name="linformer",
            summary="Linformer: keys and values projected along the sequence to k rows",
            function=linformer.linformer_attention,
            paper=Paper(
                "Wang et al.",
                2020,
                "2006.04768",
                "Linformer: Self-Attention with Linear Complexity",
            ),
            families=("low rank",),
            exact=False,
            supports=linformer.SUPPORTS,
            memory_order="n·k",
            build=linformer_build,
            memory=complexity.linformer_memory,
            flops=complexity.linformer_flops,
            examples=({"k": 8, "max_length": 40, "rng": 0},),
            bench={"linformer": lambda n: {"k": 256, "max_length": n, "rng": 1}},
        )
    )

    _register_memories(compressive, complexity)


def _register_favor(kind, label, summary, paper, performer, complexity):
    def build(*, features=256, orthogonal=True, norms="chi", chunk_size=256, rng=None):
        # ω is features × d: at most MAX_DRAWN elements for head dimensions up to 64
        features = check_int("features", features, minimum=1, maximum=MAX_DRAWN // 64)
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
        orthogonal = check_bool("orthogonal", orthogonal)
        norms = check_choice("norms", norms, performer.NORMS)

        def make(g, xp, q):
            omega = performer.random_features(
                features,
                q.shape[-1],
                orthogonal=orthogonal,
                norms=norms,
                rng=g,
                xp=xp,
                dtype=str(q.dtype),
            )
            return {"omega": omega}

        return Built(
            {"kind": kind, "chunk_size": chunk_size},
            {"kind": kind, "chunk": chunk_size, "m": features},
            _Draws(rng, make, per_head_dim=True),
        )

    register(
        Mechanism(
            name=label,
            summary=summary,
            function=performer.favor_attention,
            paper=paper,
            families=("kernels",),
            exact=False,
            supports=performer.SUPPORTS,
            memory_order="n·M",
            build=build,
            memory=complexity.favor_memory,
            flops=complexity.favor_flops,
            examples=({"features": 64, "rng": 0, "chunk_size": 5},),
            bench=(
                {
                    "favor": lambda n: {"features": 256, "rng": 0},
                    "favor_causal": lambda n: {"features": 256, "rng": 0, "causal": True},
                }
                if kind == "positive"
                else {}
            ),
        )
    )


def _register_memories(compressive, complexity):
    """Transformer-XL memory and compressive memory in their q/k/v form (5.7)."""
    xl_paper = Paper(
        "Dai et al.",
        2019,
        "1901.02860",
        "Transformer-XL: Attentive Language Models Beyond a Fixed-Length Context",
    )

    def xl_build(*, segment=512, memory=512):
        segment = check_int("segment", segment, minimum=1)
        memory = check_int("memory", memory, minimum=0)
        options = {"segment": segment, "memory": memory}
        return Built(options, options)

    def xl_pattern(n, m, *, causal, xp, segment, memory):
        # (5.2)  query p sees key j iff s(p) − n_m <= j, and j <= p (causal) or j < s(p) + n_s
        p = xp.arange(n)[:, None]
        j = xp.arange(m)[None, :]
        start = (p // segment) * segment
        upper = j <= p if causal else j < start + segment
        return (j >= start - memory) & upper

    register(
        Mechanism(
            name="xl",
            summary="Transformer-XL: segments attending to themselves and a memory of the past",
            function=compressive.xl_attention,
            paper=xl_paper,
            families=("recurrence",),
            exact=True,
            supports=compressive.XL_SUPPORTS,
            memory_order="n·(n_s + n_m)",
            build=xl_build,
            memory=complexity.xl_memory,
            flops=complexity.xl_flops,
            pattern=xl_pattern,
            examples=({"segment": 4, "memory": 3}, {"segment": 5, "memory": 0}),
            bench={"xl": lambda n: {"segment": 512, "memory": 512}},
        )
    )

    def compressive_build(*, segment=512, memory=512, compressed=512, rate=4, compress="mean"):
        segment = check_int("segment", segment, minimum=1)
        memory = check_int("memory", memory, minimum=0)
        compressed = check_int("compressed", compressed, minimum=0)
        rate = check_int("rate", rate, minimum=1)
        mean = isinstance(compress, str) and compress == "mean"
        taps = (isinstance(compress, tuple) and len(compress) == rate) or (
            getattr(compress, "shape", None) == (rate,)
        )
        if not (mean or taps):  # the values themselves are checked per call
            raise ValueError(
                f"compress must be 'mean' or a 1-D float array (or tuple of floats) of "
                f"rate = {rate} taps (a compressor linear along the sequence axis), "
                f"got {compress!r:.60}"
            )
        cost = dict(segment=segment, memory=memory, compressed=compressed, rate=rate)
        return Built({**cost, "compress": compress}, cost)

    register(
        Mechanism(
            name="compressive",
            summary="Compressive Transformer: XL plus a memory of older keys pooled c to 1",
            function=compressive.compressive_memory_attention,
            paper=Paper(
                "Rae et al.",
                2019,
                "1911.05507",
                "Compressive Transformers for Long-Range Sequence Modelling",
            ),
            families=("recurrence",),
            exact=False,
            supports=compressive.COMPRESSIVE_SUPPORTS,
            memory_order="n·(n_s + n_m + n_cm)",
            build=compressive_build,
            memory=complexity.compressive_memory_memory,
            flops=complexity.compressive_memory_flops,
            examples=(
                {"segment": 4, "memory": 3, "compressed": 2, "rate": 2},
                {
                    "segment": 5,
                    "memory": 2,
                    "compressed": 3,
                    "rate": 3,
                    "compress": (0.5, 0.3, 0.2),
                },
            ),
            bench={
                "compressive": lambda n: {
                    "segment": 512,
                    "memory": 512,
                    "compressed": 512,
                    "rate": 4,
                }
            },
        )
    )


def _register_bigbird():
    """BigBird (ITC): window, global and random blocks (derivations/09-bigbird.md)."""
    from . import bigbird

    def build(*, block=64, global_blocks=2, r=3, max_length=4096, random_blocks=None, rng=None):
        block = check_int("block", block, minimum=1)
        g = check_int("global_blocks", global_blocks, minimum=0)
        r = check_int("r", r, minimum=0)
        max_length = check_int("max_length", max_length, minimum=1, maximum=MAX_DRAWN)
        call = {"block": block, "global_blocks": g}
        if random_blocks is not None:  # an explicit assignment, checked per call
            if getattr(random_blocks, "ndim", None) != 2:
                raise ValueError(
                    f"random_blocks must be an integer array (n_blocks, r), "
                    f"got {random_blocks!r:.60}"
                )
            r = int(random_blocks.shape[1])
            return Built({**call, "random_blocks": random_blocks}, {"block": block, "g": g, "r": r})
        max_blocks = -(-max_length // block)
        # (9.3)  drawn once for the longest input, ⌈max_length/b⌉ blocks; shorter inputs use
        # its first rows, as if padded to max_length.  Drawing one here checks r now.
        bigbird.random_block_assignment(max_blocks, r, global_blocks=g, rng=0, xp="numpy")

        def make(generator, xp, q):
            assignment = bigbird.random_block_assignment(
                max_blocks, r, global_blocks=g, rng=generator, xp=xp
            )
            return {"random_blocks": assignment}

        draws = _Draws(rng, make, per_head_dim=False, per_dtype=False) if r else None
        return Built(call, {"block": block, "g": g, "r": r}, draws)

    def pattern(n, m, *, causal, xp, block, global_blocks, random_blocks=None):
        if random_blocks is not None:
            random_blocks = xp.asarray(random_blocks)
        return bigbird.bigbird_pattern(
            n, block=block, global_blocks=global_blocks, random_blocks=random_blocks, xp=xp
        )

    register(
        Mechanism(
            name="bigbird",
            summary="BigBird (ITC): window, global and random blocks (random edges: a small world)",
            function=bigbird.bigbird_attention,
            paper=Paper(
                "Zaheer et al.", 2020, "2007.14062", "Big Bird: Transformers for Longer Sequences"
            ),
            families=("fixed patterns", "global memory"),
            exact=True,
            supports=bigbird.SUPPORTS,
            memory_order="n·b·(3 + g + r)",
            build=build,
            memory=complexity.bigbird_memory,
            flops=complexity.bigbird_flops,
            pattern=pattern,
            examples=(
                {"block": 2, "global_blocks": 1, "r": 2, "max_length": 40, "rng": 0},
                {"block": 3, "global_blocks": 0, "r": 1, "max_length": 17, "rng": 1},
                {"block": 4, "global_blocks": 2, "r": 0},
            ),
            bench={
                "bigbird": lambda n: {
                    "block": 64,
                    "global_blocks": 2,
                    # 3 random blocks where a query block has that many left to draw from
                    "r": min(3, max(0, -(-n // 64) - 3 - 2)),
                    "max_length": n,
                    "rng": 0,
                }
            },
        )
    )


def _register_reformer():
    """Reformer LSH attention (10.1)-(10.7): hashed, sorted and chunked; rotations kept per d."""
    from . import reformer

    def build(*, buckets=8, chunk=4, rounds=1, shared_qk=True, rng=None):
        buckets = reformer._check_buckets(buckets)
        chunk = check_int("chunk", chunk, minimum=1)
        rounds = check_int("rounds", rounds, minimum=1)
        # the rotations are d × rounds × buckets/2: at most MAX_DRAWN for d up to 64
        if rounds * buckets > 2 * MAX_DRAWN // 64:
            raise ValueError(
                f"rounds · buckets must be <= {2 * MAX_DRAWN // 64} (the random rotations drawn "
                f"at the first call), got rounds = {rounds} and buckets = {buckets}"
            )
        shared_qk = check_bool("shared_qk", shared_qk)

        def make(g, xp, q):
            rotations = reformer.random_rotations(
                q.shape[-1], buckets=buckets, rounds=rounds, rng=g, xp=xp, dtype=str(q.dtype)
            )
            return {"rotations": rotations}

        return Built(
            {"chunk": chunk, "shared_qk": shared_qk},
            {"buckets": buckets, "chunk": chunk, "rounds": rounds},
            _Draws(rng, make, per_head_dim=True),
        )

    register(
        Mechanism(
            name="reformer",
            summary="Reformer: LSH buckets, sorted and chunked; several hash rounds",
            function=reformer.lsh_attention,
            paper=Paper(
                "Kitaev, Kaiser & Levskaya",
                2020,
                "2001.04451",
                "Reformer: The Efficient Transformer",
            ),
            families=("learnable patterns",),
            exact=False,
            supports=reformer.SUPPORTS,
            memory_order="n·c·rounds",
            build=build,
            memory=complexity.lsh_attention_memory,
            flops=complexity.lsh_attention_flops,
            narrow=lambda call: (
                {} if call.get("shared_qk", True) else {"causal": reformer.SEPARATE_KEYS_NOT_CAUSAL}
            ),
            examples=(
                {"buckets": 2, "chunk": 4, "rng": 0},
                {"buckets": 4, "chunk": 3, "rounds": 3, "rng": 1},
                {"buckets": 6, "chunk": 5, "rounds": 2, "shared_qk": False, "rng": 2},
            ),
            bench={"reformer": lambda n: {"buckets": 64, "chunk": 64, "rounds": 1, "rng": 0}},
        )
    )


def _register_sparse_transformer():
    """Sparse Transformer: the strided and fixed factorised patterns, one call per head choice."""
    import math

    from . import sparse_transformer as st

    def build(*, kind="strided", stride=64, summary=None, heads="union"):
        kind, stride, summary, heads = st.check_pattern_options(kind, stride, summary, heads)
        options = {"kind": kind, "stride": stride, "heads": heads}
        if summary is not None:
            options["summary"] = summary
        cost = {"kind": kind, "stride": stride, "summary": summary or 1, "heads": heads}
        return Built(options, cost)

    def pattern(n, m, *, causal, xp, kind, stride, heads, summary=None):
        return st.sparse_transformer_pattern(
            n, kind=kind, stride=stride, summary=summary, heads=heads, causal=causal, xp=xp
        )

    register(
        Mechanism(
            name="sparse_transformer",
            summary="Sparse Transformer: strided or fixed factorised patterns, l ≈ √n",
            function=st.sparse_transformer_attention,
            paper=Paper(
                "Child, Gray, Radford & Sutskever",
                2019,
                "1904.10509",
                "Generating Long Sequences with Sparse Transformers",
            ),
            families=("fixed patterns",),
            exact=True,
            supports=st.SUPPORTS,
            memory_order="n·(l + n/l)",
            build=build,
            memory=complexity.sparse_transformer_memory,
            flops=complexity.sparse_transformer_flops,
            pattern=pattern,
            examples=(
                {"kind": "strided", "stride": 4},
                {"kind": "fixed", "stride": 4, "summary": 2},
                {"kind": "strided", "stride": 3, "heads": "second"},
                {"kind": "fixed", "stride": 5, "heads": "first"},
                {"kind": "fixed", "stride": 6, "summary": 3, "heads": "second"},
            ),
            bench={
                # l = ⌈√n⌉: the paper's l ≈ √n
                "sparse_strided": lambda n: {
                    "kind": "strided",
                    "stride": math.isqrt(n - 1) + 1,
                    "causal": True,
                },
                # l = ⌈√(c·n)⌉ balances the block head's l keys and the summary head's c·n/l
                "sparse_fixed": lambda n: {
                    "kind": "fixed",
                    "stride": math.isqrt(8 * n - 1) + 1,
                    "summary": 8,
                    "causal": True,
                },
            },
        )
    )


def _register_linear():
    """Linear attention, elu + 1 features (derivations/11-linear-attention.md)."""
    from . import performer

    def build(*, chunk_size=256):
        options = {"chunk_size": check_int("chunk_size", chunk_size, minimum=1)}
        return Built(options, {"chunk": options["chunk_size"]})

    register(
        Mechanism(
            name="linear",
            summary="Linear attention: deterministic elu(x) + 1 features, an RNN when causal",
            function=performer.linear_attention,
            paper=Paper(
                "Katharopoulos, Vyas, Pappas & Fleuret",
                2020,
                "2006.16236",
                "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
            ),
            families=("kernels",),
            exact=False,
            supports=performer.SUPPORTS,
            memory_order="n·d",
            build=build,
            memory=complexity.linear_attention_memory,
            flops=complexity.linear_attention_flops,
            examples=({"chunk_size": 5}, {"chunk_size": 64}),
            bench={
                "linear": lambda n: {},
                "linear_causal": lambda n: {"causal": True},
            },
        )
    )


def _register_funnel():
    """Funnel Transformer: queries mean-pooled with stride s, keys and values full length."""
    from . import funnel

    def build(*, stride=2, keep_cls=True, chunk_size=256):
        stride = funnel._check_pooling(stride, keep_cls)
        keep_cls = check_bool("keep_cls", keep_cls)
        chunk_size = check_int("chunk_size", chunk_size, minimum=1)
        options = {"stride": stride, "keep_cls": keep_cls, "chunk_size": chunk_size}
        return Built(options, {"stride": stride, "keep_cls": keep_cls, "chunk": chunk_size})

    def pattern(n, m, *, causal, xp, stride, keep_cls, chunk_size):
        # (13.5)  (n', m): every key, or causal: pooled query g reads j <= last(g) + (m − n)
        last = funnel.pool_last(n, stride=stride, keep_cls=keep_cls, xp=xp)
        allowed = xp.ones((last.shape[0], m), dtype=bool)
        if causal:
            allowed = xp.arange(m)[None, :] <= last[:, None] + (m - n)
        return allowed

    register(
        Mechanism(
            name="funnel",
            summary="Funnel Transformer: queries mean-pooled with stride 2, [CLS] kept apart",
            function=funnel.funnel_attention,
            paper=Paper(
                "Dai, Lai, Yang & Le",
                2020,
                "2006.03236",
                "Funnel-Transformer: Filtering out Sequential Redundancy for Efficient "
                "Language Processing",
            ),
            families=("downsampling",),
            exact=True,
            supports=funnel.SUPPORTS,
            memory_order="(n/s)·c",
            build=build,
            memory=complexity.funnel_memory,
            flops=complexity.funnel_flops,
            pattern=pattern,
            output_length=lambda n, *, stride, keep_cls, chunk_size: funnel.pooled_length(
                n, stride=stride, keep_cls=keep_cls
            ),
            queries=lambda q, *, stride, keep_cls, chunk_size: funnel.pool_queries(
                q, stride=stride, keep_cls=keep_cls
            ),
            examples=(
                {"chunk_size": 5},
                {"stride": 3, "keep_cls": False, "chunk_size": 4},
                {"stride": 4, "keep_cls": True},
                {"stride": 1, "keep_cls": False, "chunk_size": 7},
            ),
            bench={"funnel": lambda n: {"stride": 2, "chunk_size": 256}},
        )
    )


def _register_adaptive_span():
    """Adaptive attention span (12.1)-(12.7): a soft mask of the distance, one span per head."""
    from . import adaptive_span

    def build(*, span=256, ramp=32):
        adaptive_span.span_reach(span, ramp)  # checks both now, not at the first call
        span = tuple(span) if isinstance(span, (list, tuple)) else span
        largest = adaptive_span._largest_span(span)
        return Built({"span": span, "ramp": ramp}, {"span": largest, "ramp": ramp})

    register(
        Mechanism(
            name="adaptive_span",
            summary="Adaptive span: a learned soft mask of the distance per head, O(n·(z + R))",
            function=adaptive_span.adaptive_span_attention,
            paper=Paper(
                "Sukhbaatar, Grave, Bojanowski & Joulin",
                2019,
                "1905.07799",
                "Adaptive Attention Span in Transformers",
            ),
            # a local band (a fixed pattern) whose width each head learns (12.8)
            families=("fixed patterns", "learnable patterns"),
            exact=False,  # soft weights, not a boolean pattern: its own tests hold it to (12.2)
            supports=adaptive_span.SUPPORTS,
            memory_order="n·(z + R)",
            build=build,
            memory=complexity.adaptive_span_memory,
            flops=complexity.adaptive_span_flops,
            examples=(
                {"span": 3.5, "ramp": 2},
                {"span": (1.25, 6.0), "ramp": 2.5},  # one span per head (the batch axis here)
                {"span": 0, "ramp": 1.5},  # z = 0: the query itself, and a ramp of 1.5
                {"span": 30, "ramp": 8},
            ),
            bench={"adaptive_span": lambda n: {"span": 256, "ramp": 32, "causal": True}},
        )
    )


_register_all()
_register_bigbird()
_register_reformer()
_register_sparse_transformer()
_register_linear()
_register_funnel()
_register_adaptive_span()
