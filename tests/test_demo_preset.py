"""The default `demo` preset end to end (≈70 min on 2 cores): `pytest -m slow`."""

from __future__ import annotations

import pandas as pd
import pytest

from helpers import run_snakemake


@pytest.mark.slow
@pytest.mark.workflow
def test_demo_preset_runs_end_to_end_and_accuracy_rises_with_lr_on_parity(shared_data, shipped_config, tmp_path):
    result = run_snakemake(tmp_path, "--cores", "all", "--config", f"data_root={shared_data}", timeout=3 * 3600)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = pd.read_csv(tmp_path / "results/demo/summary/runs.csv")
    sgd = (runs["dataset"] == "parity") & (runs["optimizer"] == "sgd") & (runs["hp"] == "none")
    parity = runs[sgd].groupby("lr")["test_acc"].mean()  # (the recipe / intervention cells aside)
    # Fig 3 / Table 1: 55 % -> 86 % from LR 0.01 to 0.75 (demo measured: 50 % -> 96 %)
    assert parity.iloc[-1] > parity.iloc[0] + 0.1
    # the protocol decides (§4.2): the demo's runs train to 100 % training accuracy (measured: 65 of 74)
    finished = runs[runs["status"] != "diverged"]
    assert (finished["status"] == "converged").mean() >= 0.85
    assert (runs[sgd]["status"] == "converged").all()
    for figure in shipped_config["presets"]["demo"]["figures"]:
        assert (tmp_path / f"results/demo/figures/{figure}.png").stat().st_size > 5000
