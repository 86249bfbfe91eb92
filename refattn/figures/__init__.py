"""refattn's figures: one module per figure family, all in one registry.

``refattn figures`` regenerates every registered figure into figures/;
importing this package registers them all.
"""

from . import (  # noqa: F401
    adaptive_span,
    bigbird,
    compressive,
    dropin,
    exact,
    funnel,
    linear_attention,
    linformer,
    longformer,
    performer,
    positions,
    real_attention,
    reformer,
    scaling,
    sparse_transformer,
    taxonomy,
)
from .registry import FIGURES, Figure, generate, register

__all__ = ["FIGURES", "Figure", "generate", "register"]
