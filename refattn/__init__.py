"""refattn: readable reference implementations of long-range attention.

Exact attention is the oracle (:mod:`refattn.softmax`); every mechanism runs
unchanged on NumPy and CuPy through :mod:`refattn.backend`, and every attention
function reads ``f(q, k, v, *, mask=None, causal=False, scale=None,
return_weights=False, **own_options)`` — all but :func:`compressive_attention`,
the stateful one-head, one-segment step of a stream (``MemoryState``), whose
q/k/v form is :func:`compressive_memory_attention`.  :func:`mechanism`
configures any registered mechanism by name (:mod:`refattn.mechanisms`), so
swapping one for another is one line.
See README.md for the feature table and derivations/ for the mathematics.
"""

from .adaptive_span import adaptive_span_attention
from .bigbird import bigbird_attention
from .compressive import compressive_attention, compressive_memory_attention, xl_attention
from .funnel import funnel_attention
from .linformer import linformer_attention
from .longformer import sliding_window_attention
from .mechanisms import REGISTRY, mechanism
from .performer import favor_attention, linear_attention
from .reformer import lsh_attention
from .softmax import chunked_attention, softmax_attention
from .sparse_transformer import sparse_transformer_attention

__version__ = "0.1.0"

__all__ = [
    "REGISTRY",
    "__version__",
    "adaptive_span_attention",
    "bigbird_attention",
    "chunked_attention",
    "compressive_attention",
    "compressive_memory_attention",
    "favor_attention",
    "funnel_attention",
    "linear_attention",
    "linformer_attention",
    "lsh_attention",
    "mechanism",
    "sliding_window_attention",
    "softmax_attention",
    "sparse_transformer_attention",
    "xl_attention",
]
