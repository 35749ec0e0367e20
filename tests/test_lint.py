"""The workflow stays lint-clean: `snakemake --lint` and `snakefmt --check` (issue 13)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_snakemake_lint_is_clean(tmp_path):
    # a scratch working directory: linting writes .snakemake/ there, not into the checkout
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "--directory", str(tmp_path), "--lint"],
        check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]


@pytest.mark.skipif(importlib.util.find_spec("snakefmt") is None,
                    reason="snakefmt is not installed (pip install -e '.[test]' brings it)")
def test_snakefmt_leaves_the_workflow_unchanged():
    result = subprocess.run(
        [sys.executable, "-m", "snakefmt", "--check", "--diff", "Snakefile", "workflow/"],
        cwd=REPO, check=False, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
