"""refattn's figures: one module per figure family, all in one registry.

``refattn figures`` regenerates every registered figure into figures/;
importing this package registers them all.
"""

from . import compressive, exact, linformer, longformer, performer, scaling  # noqa: F401
from .registry import FIGURES, Figure, generate, register

__all__ = ["FIGURES", "Figure", "generate", "register"]
