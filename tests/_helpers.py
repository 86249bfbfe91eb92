"""Small helpers shared by the tests (imported as a plain module)."""

from refattn.backend import rng


def random_qkv(xp, *, n, m=None, d=8, d_v=None, batch=(), dtype="float64", seed=0, scale=1.0):
    """Gaussian q (…, n, d), k (…, m, d), v (…, m, d_v) on backend xp, reproducible by seed."""
    m = n if m is None else m
    d_v = d if d_v is None else d_v
    g = rng(seed, xp)

    def draw(*shape):
        return scale * g.standard_normal(batch + shape, dtype=dtype)

    return draw(n, d), draw(m, d), draw(m, d_v)


# ---------------------------------------------------------------------------
# bad-input tables: every public function and class lists at least six bad calls


class Bad:
    """One bad call: ``func(*args, **kwargs)`` must raise ``raises`` matching ``match``.

    ``arg`` is the argument the message must name (it is checked to appear in
    the message as a whole word, so ``"n"`` is not found in ``"must"``);
    ``match`` is a regular expression for the rest (the bad value and the
    allowed domain).  ``raises`` is the exact exception type (a subclass such
    as NumPy's ``AxisError`` does not count; a tuple of types, if a case ever
    needs one, allows exactly those).  ``target`` is the public function or
    class the case counts for in the coverage test (default: ``func``, or the
    class of a bound method).
    """

    def __init__(self, id, func, *args, raises, match, arg, target=None, **kwargs):
        self.id, self.func, self.args, self.kwargs = id, func, args, kwargs
        self.raises, self.match, self.arg = raises, match, arg
        owner = getattr(func, "__self__", None)
        if target is None:
            target = type(owner) if owner is not None and not isinstance(owner, type) else func
        self.target = target

    def __repr__(self):
        return self.id

    def check(self):
        import re

        import pytest

        allowed = self.raises if isinstance(self.raises, tuple) else (self.raises,)
        with pytest.raises(allowed) as info:
            self.func(*self.args, **self.kwargs)
        exc = info.value
        assert type(exc) in allowed, (
            f"raised {type(exc).__module__}.{type(exc).__qualname__}, a subclass of "
            f"{' or '.join(t.__name__ for t in allowed)} but not the type itself: {exc}"
        )
        message = str(exc)
        word = rf"(?<![A-Za-z0-9_]){re.escape(self.arg)}(?![A-Za-z0-9_])"
        assert re.search(word, message), (
            f"the message does not name {self.arg!r} as a whole word: {message}"
        )
        assert re.search(self.match, message), f"{self.match!r} not in {message!r}"


def bad_input_params(cases):
    """``pytest.mark.parametrize`` arguments for a list of :class:`Bad` cases, ids unique."""
    import pytest

    ids = [c.id for c in cases]
    duplicated = {i for i in ids if ids.count(i) > 1}
    assert not duplicated, f"duplicate case ids: {sorted(duplicated)}"
    return pytest.mark.parametrize("case", cases, ids=ids)
