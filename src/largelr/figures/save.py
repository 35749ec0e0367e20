"""Writing a finished figure: every requested file (format from its suffix) atomically, then closed."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from largelr.io import atomic_path

DPI = 200


def save_figure(fig: plt.Figure, *paths: str | Path) -> None:
    """Save ``fig`` to each path (``.pdf``, ``.png``, … at :data:`DPI`) and close it."""
    for path in paths:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=Path(path).suffix.lstrip("."), dpi=DPI)
    plt.close(fig)


__all__ = ["DPI", "save_figure"]
