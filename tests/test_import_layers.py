"""The layering of the package is checked, not claimed (issue 27): import-linter's ``layers``
contract in pyproject.toml (``[tool.importlinter]``) holds, so a lower layer never imports a higher one."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from helpers import REPO


def _lint_imports() -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
    exe = shutil.which("lint-imports") or pytest.skip("import-linter is not installed (pip install -e '.[test]')")
    return subprocess.run([exe, "--no-cache"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_the_layers_contract_is_kept() -> None:
    done = _lint_imports()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Contracts: 1 kept, 0 broken." in done.stdout


def test_the_contract_names_every_top_level_module() -> None:
    """A new top-level module or package has its place in the layers (else the contract says nothing of it)."""
    import tomllib

    layers = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"][0]["layers"]
    named = {name.strip() for layer in layers for name in layer.split("|")}
    package = REPO / "src" / "largelr"
    modules = {f"largelr.{p.stem}" for p in package.glob("*.py") if p.stem != "__init__"}
    modules |= {f"largelr.{p.parent.name}" for p in package.glob("*/__init__.py")}
    assert modules == named
