"""`ruff check` passes on the whole repository with the [tool.ruff] configuration of pyproject.toml."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys

import pytest


def _ruff() -> list[str] | None:
    """The ruff command: the `ruff` module of this interpreter, else a `ruff` on PATH."""
    if importlib.util.find_spec("ruff") is not None:
        return [sys.executable, "-m", "ruff"]
    path = shutil.which("ruff")
    return [path] if path else None


def test_ruff_check_passes(repo):
    command = _ruff()
    if command is None:
        pytest.skip("ruff is not installed (pip install -e '.[test]')")
    result = subprocess.run([*command, "check", "--no-cache", "."], cwd=repo, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
