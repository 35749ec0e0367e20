"""The figure-kind registry: one module per kind, each defining its :class:`~largelr.figures.kind.FigureKind`
as ``KIND`` (named as the module). Adding a kind is adding its module here, the kind to the preset
schema's ``figures.*.kind`` enum (``workflow/schemas/preset.schema.yaml``; a test compares the two)
and a figure of that kind to a preset.

The modules are found, not listed, so a new kind touches no other file. They import their
plotting code inside ``draw``: the workflow imports this registry while building the DAG.
"""

from __future__ import annotations

import importlib
import pkgutil

from largelr.figures.kind import FigureKind


def _discover() -> dict[str, FigureKind]:
    kinds = {}
    for module_info in sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name):
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        kind = getattr(module, "KIND", None)
        if not isinstance(kind, FigureKind) or kind.name != module_info.name:
            raise TypeError(f"{module.__name__}: a figure-kind module defines "
                            f"KIND = FigureKind({module_info.name!r}, ...)")
        kinds[kind.name] = kind
    return kinds


KINDS: dict[str, FigureKind] = _discover()


def figure_kind(name: str) -> FigureKind:
    """The kind called ``name`` (a preset's ``figures.<figure>.kind``)."""
    try:
        return KINDS[name]
    except KeyError:
        raise KeyError(f"unknown figure kind {name!r}; known: {', '.join(KINDS)}") from None


__all__ = ["KINDS", "figure_kind"]
