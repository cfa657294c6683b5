"""A local emulator of the Google Cloud APIs the collection calls (test infrastructure, not product)."""

from . import compute, gke, others  # noqa: F401  (register their handlers)
from .core import ApiError, Emulator, serve

__all__ = ["ApiError", "Emulator", "serve"]
