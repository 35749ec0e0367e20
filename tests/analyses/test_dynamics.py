"""Training dynamics from snapshots (Fig 3 right, Fig 13, Fig 28 bottom): per-snapshot table, maps, figures."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TINY_FCN, assert_figure, tiny_parity, torch_threads, train_tiny_run
from largelr.datasets.synthetic import generate_parity
from largelr.analyses.dynamics import (
    DYNAMICS_COLUMNS,
    MAP_SAMPLES,
    choose_neuron,
    dynamics_run,
    incoming_weight_norm,
    merge_history,
    neuron_attributions,
    neuron_spurious_share,
)
from largelr.analyses.evaluation import representation_sample_indices
from largelr.figures.dynamics import (
    MapsRow,
    dynamics_table,
    map_rows,
    pick_snapshots,
    plot_attribution_dynamics,
    plot_dynamics_maps,
    plot_single_neuron,
)
from largelr.training.models import FCN
from largelr.training.runs import init_model, load_snapshots, to_tensor_split
from largelr.training.protocol import TrainSettings

ANALYSIS = {"attribution_method": "integrated_gradients", "attribution_samples": 40, "ig_steps": 8, "repr_seed": 0}
CELLS = {"low": 0.01, "high": 0.5, "diverged": 1e6}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Three tiny parity runs with snapshots every 10 iterations, and their dynamics outputs."""
    root = tmp_path_factory.mktemp("dynamics")
    out = {"root": root, "dataset": tiny_parity(root), "tables": {}}
    with torch_threads(1):
        for name, lr in CELLS.items():
            settings = TrainSettings(lr=lr, seed=0, batch_size=50, max_iters=40, eval_interval=10,
                                     snapshot_interval=10)
            cell = {"dataset": "parity", "model": "fcn_tiny", "recipe": "sgd", "intervention": "none", "lr": lr, "seed": 0}
            train_tiny_run(root, root / name, cell, settings)
            out["tables"][name] = dynamics_run(root / "parity.npz", root / name, root / name / "dynamics.csv",
                                               root / name / "dynamics_maps.npz", ANALYSIS, device="cpu")
    return out


def _sample(runs):
    test = to_tensor_split(runs["dataset"], "test", torch.device("cpu"))
    idx = representation_sample_indices(len(test), ANALYSIS["attribution_samples"], ANALYSIS["repr_seed"])
    return test.x[idx], test.y[idx], idx.numpy()


def test_one_row_per_snapshot_with_shares_summing_to_one(runs):
    for name in ("low", "high"):
        table = runs["tables"][name]
        assert list(table.columns) == list(DYNAMICS_COLUMNS)
        assert list(table["iteration"]) == sorted(load_snapshots(runs["root"] / name)) == [0, 10, 20, 30, 40]
        shares = table[["core_attribution", "spurious_attribution", "noise_attribution"]].to_numpy()
        assert np.allclose(shares.sum(axis=1), 1.0, atol=1e-6) and (shares >= 0).all()
        assert table["neuron"].nunique() == 1 and 0 <= table["neuron"].iloc[0] < TINY_FCN["width"]
        assert table["attribution_entropy"].between(0, np.log(8) + 1e-9).all()
        on_disk = pd.read_csv(runs["root"] / name / "dynamics.csv")
        assert np.allclose(on_disk["spurious_attribution"], table["spurious_attribution"])


def test_iteration_zero_row_is_the_initial_model(runs):
    x, y, _ = _sample(runs)
    initial = init_model(runs["dataset"], TINY_FCN, seed=0).eval()
    with torch.no_grad():
        accuracy = float((initial(x).argmax(dim=1) == y).float().mean())
    table = runs["tables"]["high"]
    row0 = table.iloc[0]
    assert row0["iteration"] == 0 and row0["test_acc"] == pytest.approx(accuracy)
    unit = int(row0["neuron"])
    assert row0["neuron_weight_norm"] == pytest.approx(float(initial.hidden[-1].weight[unit].detach().norm()), rel=1e-6)
    assert table["neuron_weight_norm"].iloc[-1] != pytest.approx(row0["neuron_weight_norm"])  # it moved


def test_history_columns_come_from_the_nearest_logged_iteration(runs):
    table = runs["tables"]["low"]
    history = pd.read_csv(runs["root"] / "low" / "history.csv").set_index("iteration")
    assert list(table["history_iteration"]) == [10, 10, 20, 30, 40]  # iteration 0 takes the first row
    for _, row in table.iterrows():
        logged = history.loc[int(row["history_iteration"])]
        for column in ("bc_loss_ratio_max", "logit_norm", "param_norm", "train_acc"):
            assert row[column] == pytest.approx(logged[column])


def test_merge_history_known_values():
    table = pd.DataFrame({"iteration": [0, 24, 60]})
    history = pd.DataFrame({"iteration": [10, 20, 30, 40, 50, 60], "bc_loss_ratio_max": [.1, .2, .3, .4, .5, .6],
                            "logit_norm": 1.0, "param_norm": 2.0, "train_acc": 0.5})
    merged = merge_history(table, history)
    assert list(merged["history_iteration"]) == [10, 20, 60]
    assert list(merged["bc_loss_ratio_max"]) == pytest.approx([.1, .2, .6])
    assert merge_history(table, history.iloc[:0])["train_acc"].isna().all()


def test_maps_keep_bias_conflicting_samples_at_every_snapshot(runs):
    _, _, idx = _sample(runs)
    with np.load(runs["root"] / "high" / "dynamics_maps.npz") as maps:
        assert list(maps["iterations"]) == [0, 10, 20, 30, 40]
        assert maps["maps"].shape == (5, MAP_SAMPLES, 8) and maps["maps"].dtype == np.float16
        assert set(maps["indices"]) <= set(idx.tolist())
        assert (maps["y"] != maps["b"]).all()  # the first MAP_SAMPLES samples are bias-conflicting
        test = runs["dataset"].test
        assert np.array_equal(maps["x"], test.x[maps["indices"]])
        assert np.array_equal(maps["region"], test.region[maps["indices"]])


def test_diverged_run_gives_a_header_only_csv_and_empty_maps(runs):
    assert runs["tables"]["diverged"].empty
    on_disk = pd.read_csv(runs["root"] / "diverged" / "dynamics.csv")
    assert on_disk.empty and list(on_disk.columns) == list(DYNAMICS_COLUMNS)
    with np.load(runs["root"] / "diverged" / "dynamics_maps.npz") as maps:
        assert all(maps[key].size == 0 for key in maps.files)


def _hand_built_fcn() -> FCN:
    """Parity layout [core 0-2 | spurious 3 | noise 4-7]: unit 0 reads core bit 0, units 1 and 3 the
    spurious bit (with opposite signs), unit 2 noise bit 4."""
    model = FCN(8, 2, width=4, depth=1)
    weight = torch.zeros(4, 8)
    weight[0, 0], weight[1, 3], weight[2, 4], weight[3, 3] = 1.0, 2.0, 1.0, -1.0
    with torch.no_grad():
        model.hidden[0].weight.copy_(weight)
        model.head.weight.copy_(torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 1.0]]))
    return model.eval()


def test_neuron_attributions_known_values_and_choice():
    dataset = generate_parity(seed=1, n_train=10, n_test=64, core_bits=3, spurious_bits=1, noise_bits=4)
    test = to_tensor_split(dataset, "test", torch.device("cpu"))
    model = _hand_built_fcn()
    attr = neuron_attributions(model, test.x, unit=0, n_steps=16)
    # the unit is relu(x_0): IG puts exactly that on feature 0 (completeness), nothing elsewhere
    assert torch.allclose(attr[:, 0], torch.relu(test.x[:, 0]), atol=1e-5)
    assert torch.allclose(attr[:, 1:], torch.zeros_like(attr[:, 1:]))
    region = dataset.test.region
    assert neuron_spurious_share(model, test.x, region, unit=1, n_steps=8) == pytest.approx(1.0)
    assert neuron_spurious_share(model, test.x, region, unit=0, n_steps=8) == pytest.approx(0.0)
    # units 1 and 3 are perfectly bias-selective and fully spurious: the lower index wins the tie
    assert choose_neuron(model, test.x, test.b, region, n_steps=8) == 1
    assert incoming_weight_norm(model, 1) == pytest.approx(2.0)
    assert np.isnan(incoming_weight_norm(model, -1))


def test_pick_snapshots_keeps_first_and_last():
    assert list(pick_snapshots(np.arange(10), 4)) == [0, 3, 6, 9]
    assert list(pick_snapshots(np.arange(3), 6)) == [0, 1, 2]


def _assert_figure(tmp_path, stem):
    assert_figure(tmp_path / f"{stem}.pdf", tmp_path / f"{stem}.png")


def _image_maps_row() -> MapsRow:
    """A synthetic image run (2 snapshots, 6×6 images, spurious left half) for the image branch."""
    rng = np.random.default_rng(0)
    region = np.zeros((2, 6, 6), dtype=np.uint8)
    region[:, :, :3] = 1
    arrays = {"iterations": np.array([0, 50]), "indices": np.array([3, 7]),
              "maps": rng.random((2, 2, 6, 6)).astype(np.float16),
              "x": rng.integers(0, 255, (2, 3, 6, 6), dtype=np.uint8), "y": np.array([0, 1]),
              "b": np.array([1, 0]), "region": region}
    return MapsRow("images · cnn\nhigh LR", "high LR", arrays)


def test_figures_are_written(runs, tmp_path):
    root = runs["root"]
    run_jsons = [root / name / "run.json" for name in CELLS]
    table = dynamics_table(run_jsons, [root / name / "dynamics.csv" for name in CELLS])
    assert len(table) == 10 and set(table["lr"]) == {0.01, 0.5}  # the diverged run adds no rows
    rows = map_rows(run_jsons, [root / name / "dynamics_maps.npz" for name in CELLS])
    assert [(r.role, r.arrays["maps"].shape[0]) for r in rows] == [("low LR", 5), ("high LR", 5)]
    # a second seed, so the mean ± s.d. bands have something to spread over
    table = pd.concat([table, table.assign(seed=1, spurious_attribution=lambda d: d["spurious_attribution"] * 0.9)])
    plot_attribution_dynamics(table, tmp_path / "a.pdf", tmp_path / "a.png", "Fig 3 right", note="preset 'test'")
    plot_dynamics_maps(rows + [_image_maps_row()], tmp_path / "m.pdf", tmp_path / "m.png", "Fig 13",
                       note="preset 'test'", table=table)
    plot_single_neuron(table, tmp_path / "n.pdf", tmp_path / "n.png", "Fig 28 bottom")
    plot_attribution_dynamics(table.iloc[:0], tmp_path / "e.pdf", tmp_path / "e.png", "no data")
    for stem in ("a", "m", "n", "e"):
        _assert_figure(tmp_path, stem)
