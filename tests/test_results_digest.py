"""benchmarks/results_digest.py: the weights digest of a results folder (docs/reproduces.md) and the
comparison of two folders' runs.csv without timings (issue 25's "unchanged but wall time")."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest
import torch

from largelr.portable import weights_digest

REPO = Path(__file__).resolve().parents[1]
CELLS = ["dataset~parity/model~fcn/recipe~sgd/lr~0.1/intervention~none/seed~0",
         "dataset~parity/model~fcn/recipe~sgd/lr~0.5/intervention~none/seed~0"]


@pytest.fixture(scope="module")
def digest_script():
    spec = importlib.util.spec_from_file_location("results_digest", REPO / "benchmarks" / "results_digest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _results(folder: Path, scale: float = 1.0, test_acc: float = 0.9, wall: float = 1.0) -> Path:
    """A results folder of two runs: model.pt state dicts and summary/runs.csv, as the workflow writes them."""
    rows = []
    for number, cell in enumerate(CELLS):
        (folder / "runs" / cell).mkdir(parents=True)
        state = {"weight": torch.arange(6, dtype=torch.float32).reshape(2, 3) * scale + number}
        torch.save(state, folder / "runs" / cell / "model.pt")
        rows.append({"dataset": "parity", "model": "fcn", "recipe": "sgd", "lr": [0.1, 0.5][number],
                     "intervention": "none", "seed": 0, "status": "converged", "wall_time_s": wall,
                     "test_acc": test_acc})
    (folder / "summary").mkdir()
    pd.DataFrame(rows).to_csv(folder / "summary" / "runs.csv", index=False)
    return folder


def test_the_digest_is_weights_digest_of_every_run_keyed_by_its_cell(digest_script, tmp_path):
    results = _results(tmp_path / "a")
    expected = weights_digest({cell: torch.load(results / "runs" / cell / "model.pt") for cell in CELLS})
    assert digest_script.results_digest(results) == (expected, 2)


def test_folders_that_differ_only_in_wall_time_are_the_same(digest_script, tmp_path, capsys):
    first, second = _results(tmp_path / "a"), _results(tmp_path / "b", wall=99.0)
    assert digest_script.main([str(first), str(second)]) == 0
    assert '"differing_columns": []' in capsys.readouterr().out


def test_a_changed_weight_or_metric_is_reported(digest_script, tmp_path):
    first = _results(tmp_path / "a")
    assert digest_script.main([str(first), str(_results(tmp_path / "b", scale=1.0 + 1e-7))]) == 1
    assert digest_script.differing_columns(first, _results(tmp_path / "c", test_acc=0.8)) == ["test_acc"]
