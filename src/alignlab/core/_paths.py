"""Where alignlab keeps caches (converted models, generated clean responses)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_dir"]


def cache_dir(*parts: str) -> Path:
    """``$ALIGNLAB_CACHE`` (default ``~/.cache/alignlab``) joined with ``parts``, created on demand."""
    root = Path(os.environ.get("ALIGNLAB_CACHE") or Path.home() / ".cache" / "alignlab")
    path = root.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path
