"""The attribute rule's work on a real (tiny) trained run: shares, entropy, saved maps."""

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TINY_CELL, tiny_parity, train_tiny_run
from largelr.analyses.attribution import attribute_run
from largelr.io import atomic_write_json, read_json
from largelr.training.protocol import TrainSettings

ANALYSIS = {"attribution_method": "integrated_gradients", "attribution_samples": 50, "ig_steps": 16, "repr_seed": 0}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("run")
    tiny_parity(root)
    settings = TrainSettings(lr=0.2, seed=0, batch_size=50, max_iters=100, eval_interval=50)
    train_tiny_run(root, root / "run", {"lr": 0.2, "seed": 0}, settings)
    return root


def test_attribution_shares_sum_to_one_and_maps_are_saved(trained_run):
    result = attribute_run(trained_run / "parity.npz", trained_run / "run", trained_run / "a.json",
                           trained_run / "maps.npz", ANALYSIS, device="cpu")
    shares = [result[f"{r}_attribution"] for r in ("core", "spurious", "noise")]
    assert sum(shares) == pytest.approx(1.0) and all(0 <= s <= 1 for s in shares)
    assert 0 <= result["attribution_entropy"] <= np.log(8) + 1e-9
    assert read_json(trained_run / "a.json")["samples"] == 50
    with np.load(trained_run / "maps.npz") as maps:
        assert maps["maps"].shape == (50, 8) and len(np.unique(maps["indices"])) == 50


def test_a_model_reading_only_the_spurious_bit_puts_its_attribution_there(trained_run):
    model_path = trained_run / "run" / "model.pt"
    state = torch.load(model_path)
    first = next(k for k in state if k.startswith("hidden.0"))
    state[first][:, :3] = 0  # core bits
    state[first][:, 4:] = 0  # noise bits
    torch.save(state, model_path)
    result = attribute_run(trained_run / "parity.npz", trained_run / "run", trained_run / "b.json",
                           trained_run / "maps_b.npz", ANALYSIS, device="cpu")
    assert result["spurious_attribution"] >= 0.99


def test_masks_without_a_spurious_region_give_nan_shares_and_a_note_in_runs_csv(trained_run, tmp_path):
    import dataclasses

    from largelr.columns import NOTES_COLUMN
    from largelr.datasets.format import CORE, SPURIOUS, load_dataset, save_dataset
    from largelr.reporting.summary import add_analysis_file_columns

    dataset = load_dataset(trained_run / "parity.npz")  # the spurious bit's pixels marked core, as Colored MNIST's
    merged = np.where(dataset.test.region == SPURIOUS, CORE, dataset.test.region).astype(np.uint8)
    save_dataset(dataclasses.replace(dataset, test=dataclasses.replace(dataset.test, region=merged)),
                 tmp_path / "merged.npz")
    result = attribute_run(tmp_path / "merged.npz", trained_run / "run", tmp_path / "a.json", tmp_path / "maps.npz",
                           ANALYSIS, device="cpu")
    assert np.isnan(result["core_attribution"]) and np.isnan(result["spurious_attribution"])
    assert 0 <= result["noise_attribution"] <= 1
    atomic_write_json(tmp_path / "run.json", {"cell": TINY_CELL, "status": "converged"})
    frame = pd.DataFrame([{**TINY_CELL, "status": "converged"}])
    table = add_analysis_file_columns(frame, [tmp_path / "run.json"], [tmp_path / "a.json"], "attributions")
    assert np.isnan(table["core_attribution"].iloc[0])
    assert "do not separate core from spurious" in table[NOTES_COLUMN].iloc[0]
