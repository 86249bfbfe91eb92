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
