"""refattn: readable reference implementations of long-range attention.

Exact attention is the oracle (:mod:`refattn.softmax`); every mechanism runs
unchanged on NumPy and CuPy through :mod:`refattn.backend`.  See README.md for
the feature table and derivations/ for the mathematics.
"""

from .linformer import linformer_attention
from .performer import favor_attention
from .softmax import chunked_attention, softmax_attention

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "chunked_attention",
    "favor_attention",
    "linformer_attention",
    "softmax_attention",
]
