"""Paper figures (Figs 1–34), one module per kind of figure."""
