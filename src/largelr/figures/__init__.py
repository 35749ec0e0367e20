"""Paper figures (SPEC §6), one module per kind of figure."""
