"""The one error type of a configuration mistake (issue 20 item 3)."""

from __future__ import annotations


class ConfigError(ValueError):
    """An invalid configuration; the message names the offending key.

    Raised for every config mistake (schema, references, a generator's params, an unknown preset);
    a ``ValueError`` so that callers catching that keep working."""
