"""Hard-sample gallery selection (suppl. E.1; Figs 8, 29–34) on hand-built maps with known answers."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from largelr.datasets import CORE, SPURIOUS, Split, SpuriousDataset, save_dataset
from largelr.analyses.gallery import kept_learning_rates, rank_samples, select_gallery, write_gallery
from largelr.io import atomic_write_json

ATTRIBUTED = np.array([5, 3, 0, 1])  # test indices of every maps file, in file order
# correctness per (lr, seed) on the 4 attributed samples (positions 0..3)
CORRECT = {
    (0.01, 0): [0, 0, 1, 0], (0.01, 1): [0, 1, 1, 0],  # frac low  = [0, .5, 1, 0]
    (0.1, 0): [1, 1, 0, 1], (0.1, 1): [1, 1, 0, 0],  # frac high = [1, 1, 0, .5]
    (1.0, 0): [1, 1, 1, 1], (1.0, 1): [0, 1, 1, 1],  # frac high = [.5, 1, 1, 1] (when LR 1 is kept)
}


def _dataset() -> SpuriousDataset:
    rng = np.random.default_rng(0)
    region = np.full((6, 4, 4), CORE, dtype=np.uint8)
    region[:, 2:, :] = SPURIOUS  # bottom half: spurious feature
    test = Split(x=rng.integers(0, 256, (6, 3, 4, 4), dtype=np.uint8), y=np.array([0, 1, 2, 0, 1, 2]),
                 b=np.array([0, 2, 2, 1, 1, 0]), region=region)
    train = Split(x=test.x[:2], y=test.y[:2], b=test.b[:2], region=region[:2])
    return SpuriousDataset(name="toy", num_classes=3, train=train, test=test)


def _maps_npz(path, dataset: SpuriousDataset, correct: list[int], on: int, seed: int) -> np.ndarray:
    """Maps with positive random values inside region ``on`` only; predictions right where ``correct``."""
    rng = np.random.default_rng(seed)
    region = dataset.test.region[ATTRIBUTED]
    maps = (rng.uniform(0.5, 2.0, region.shape) * (region == on)).astype(np.float16)
    y = dataset.test.y[ATTRIBUTED]
    predictions = np.where(np.array(correct, bool), y, (y + 1) % 3)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, indices=ATTRIBUTED, maps=maps, y=y, predictions=predictions)
    path.write_bytes(buffer.getvalue())
    return maps


def _run(root, name: str, lr: float, seed: int, status: str = "converged") -> str:
    path = root / name / "run.json"
    cell = {"dataset": "toy", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": seed}
    atomic_write_json(path, {"cell": cell, "status": status, "model": {"arch": "fcn", "width": 4, "depth": 1}})
    return str(path)


@pytest.fixture
def group(tmp_path):
    """Runs at LRs 0.01, 0.1, 1.0 (2 seeds each), a diverged third seed at 0.1 and a diverged LR 10."""
    dataset = _dataset()
    save_dataset(dataset, tmp_path / "toy.npz")
    runs, maps, raw = [], [], {}
    for (lr, seed), correct in CORRECT.items():
        runs.append(_run(tmp_path, f"lr{lr}_s{seed}", lr, seed))
        maps.append(tmp_path / f"lr{lr}_s{seed}" / "maps.npz")
        # low-LR models attribute to the spurious half, higher LRs to the core half
        raw[(lr, seed)] = _maps_npz(maps[-1], dataset, correct, SPURIOUS if lr == 0.01 else CORE, seed=len(maps))
    for name, lr in (("lr0.1_s2", 0.1), ("lr10_s0", 10.0)):  # diverged: would change every fraction if counted
        runs.append(_run(tmp_path, name, lr, 2, status="diverged"))
        maps.append(tmp_path / name / "maps.npz")
        _maps_npz(maps[-1], dataset, [1, 1, 1, 1], SPURIOUS, seed=99)
    return {"runs": runs, "maps": [str(m) for m in maps], "dataset": tmp_path / "toy.npz", "raw": raw,
            "data": dataset}


def test_strict_hard_samples_come_first_then_the_ranked_fallback(group):
    g = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=3, kept_lrs=[0.01, 0.1])
    # position 0 is strictly hard (1.0 vs 0.0); positions 1 and 3 tie at +.5 (ties by position); 2 is last
    np.testing.assert_array_equal(g["indices"], [5, 3, 1])
    np.testing.assert_array_equal(g["is_hard"], [True, False, False])
    np.testing.assert_allclose(g["frac_correct_high"], [1.0, 1.0, 0.5])
    np.testing.assert_allclose(g["frac_correct_low"], [0.0, 0.5, 0.0])
    assert float(g["low_lr"]) == 0.01 and float(g["high_lr"]) == 0.1
    assert int(g["n_seeds_low"]) == 2 and int(g["n_seeds_high"]) == 2  # the diverged seed is ignored
    data = group["data"]
    np.testing.assert_array_equal(g["x"], data.test.x[[5, 3, 1]])
    np.testing.assert_array_equal(g["y"], data.test.y[[5, 3, 1]])
    np.testing.assert_array_equal(g["b"], data.test.b[[5, 3, 1]])
    np.testing.assert_array_equal(g["region"], data.test.region[[5, 3, 1]])
    all_four = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=10, kept_lrs=[0.01, 0.1])
    np.testing.assert_array_equal(all_four["indices"], [5, 3, 1, 0])


def test_aggregated_maps_are_seed_means_of_normalised_maps_with_known_shares(group):
    g = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=3, kept_lrs=[0.01, 0.1])
    positions = [0, 1, 3]
    for which, lr in (("low", 0.01), ("high", 0.1)):
        maps = g[f"maps_{which}"]
        assert maps.shape == (3, 4, 4)
        np.testing.assert_allclose(maps.reshape(3, -1).sum(axis=1), 1.0)
        seeds = [group["raw"][(lr, s)][positions].astype(np.float64) for s in (0, 1)]
        expected = np.mean([m / m.sum(axis=(1, 2), keepdims=True) for m in seeds], axis=0)
        np.testing.assert_allclose(maps, expected)
    np.testing.assert_allclose(g["spurious_share_low"], 1.0)
    np.testing.assert_allclose(g["core_share_low"], 0.0)
    np.testing.assert_allclose(g["core_share_high"], 1.0)
    np.testing.assert_allclose(g["noise_share_high"], 0.0)


def test_kept_lrs_restrict_the_high_lr_and_diverged_lrs_never_count(group):
    g = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=1)
    # all LRs: high = 1.0 (LR 10 diverged) → only position 3 is strictly hard (1.0 vs 0.0)
    assert float(g["high_lr"]) == 1.0
    np.testing.assert_array_equal(g["indices"], [1])
    np.testing.assert_array_equal(g["is_hard"], [True])
    only_low = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=2, kept_lrs=[0.01])
    assert float(only_low["low_lr"]) == float(only_low["high_lr"]) == 0.01
    assert not only_low["is_hard"].any()  # nothing is right for > 75 % and < 25 % of the same seeds


def test_no_usable_run_gives_an_empty_gallery_that_still_writes(group, tmp_path):
    g = select_gallery(group["runs"], group["maps"], group["dataset"], kept_lrs=[10.0])
    assert len(g["indices"]) == 0 and g["maps_low"].shape == (0, 4, 4) and np.isnan(g["low_lr"])
    write_gallery(g, tmp_path / "g.npz", tmp_path / "g.csv")
    assert len(pd.read_csv(tmp_path / "g.csv")) == 0


def test_write_gallery_round_trip(group, tmp_path):
    g = select_gallery(group["runs"], group["maps"], group["dataset"], n_samples=3, kept_lrs=[0.01, 0.1])
    write_gallery(g, tmp_path / "out" / "g.npz", tmp_path / "out" / "g.csv")
    with np.load(tmp_path / "out" / "g.npz", allow_pickle=False) as saved:
        assert set(saved.files) == set(g)
        for key in g:
            np.testing.assert_array_equal(saved[key], g[key])
    table = pd.read_csv(tmp_path / "out" / "g.csv")
    assert table["index"].tolist() == [5, 3, 1] and table["rank"].tolist() == [0, 1, 2]
    assert table["is_hard"].tolist() == [True, False, False]
    assert (table["low_lr"] == 0.01).all() and (table["n_seeds_high"] == 2).all()
    np.testing.assert_allclose(table["spurious_share_low"], 1.0)


def test_rank_samples_orders_strict_first_then_by_score():
    order = rank_samples(np.array([1.0, 0.5, 1.0, 1.0]), np.array([0.0, 0.0, 0.2, 0.0]),
                         np.array([False, False, True, True]))
    # strict: 3 (score 1) before 2 (score .8); then 0 (score 1) before 1 (score .5)
    np.testing.assert_array_equal(order, [3, 2, 0, 1])


def test_kept_learning_rates_reads_the_lr_filter_csv(tmp_path):
    decisions = pd.DataFrame([
        {"dataset": "toy", "model": "fcn", "recipe": "sgd", "intervention": "none", "lr": 0.01, "kept": True, "reason": ""},
        {"dataset": "toy", "model": "fcn", "recipe": "sgd", "intervention": "none", "lr": 0.1, "kept": True, "reason": ""},
        {"dataset": "toy", "model": "fcn", "recipe": "sgd", "intervention": "none", "lr": 1.0, "kept": False, "reason": "x"},
        {"dataset": "toy", "model": "fcn", "recipe": "sgd", "intervention": "l2=0.1", "lr": 1.0, "kept": True, "reason": ""},
        {"dataset": "toy", "model": "cnn", "recipe": "sgd", "intervention": "none", "lr": 5.0, "kept": True, "reason": ""},
    ])
    decisions.to_csv(tmp_path / "f.csv", index=False)
    read_back = pd.read_csv(tmp_path / "f.csv")
    cell = {"dataset": "toy", "model": "fcn", "recipe": "sgd"}
    assert kept_learning_rates(read_back, cell) == [0.01, 0.1]
    assert kept_learning_rates(read_back, {**cell, "recipe": "adam"}) is None
