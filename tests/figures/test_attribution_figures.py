"""Figures 8/29–34 (galleries), 14 (IG vs DeepLift) and 9 (landscapes) from tiny hand-built inputs."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from helpers import assert_figure
from largelr.datasets import CORE, NOISE, SPURIOUS, Split, SpuriousDataset, save_dataset
from largelr.figures.attribution_gallery import map_image, plot_attribution_gallery
from largelr.figures.attribution_methods import (
    AGREEMENT_COLUMNS,
    plot_attribution_methods,
    spearman_per_sample,
)
from largelr.figures.landscape import plot_landscapes, run_label
from largelr.io import atomic_write_json


def _gallery(x: np.ndarray, n: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(0)
    shape = (n, *(x.shape[2:] if x.ndim == 4 else x.shape[1:]))
    maps = rng.uniform(size=shape)
    return {"indices": np.arange(n), "x": x[:n], "y": np.arange(n) % 2, "b": np.zeros(n, int),
            "is_hard": np.arange(n) == 0, "maps_low": maps, "maps_high": maps[::-1],
            "spurious_share_low": np.full(n, 0.8), "spurious_share_high": np.full(n, np.nan),
            "low_lr": np.array(0.01), "high_lr": np.array(0.5), "n_seeds_low": np.array(2),
            "n_seeds_high": np.array(1)}


def test_gallery_figure_with_image_vector_and_empty_panels(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (3, 3, 8, 8), dtype=np.uint8)
    gray = rng.integers(0, 256, (2, 1, 8, 16), dtype=np.uint8)
    vectors = rng.normal(size=(2, 20)).astype(np.float32)
    empty = {**_gallery(images, 0), "low_lr": np.array(np.nan), "high_lr": np.array(np.nan)}
    galleries = {"Colored MNIST": _gallery(images, 3), "Double MNIST": _gallery(gray, 2),
                 "Parity": _gallery(vectors, 2), "nothing": empty}
    plot_attribution_gallery(galleries, tmp_path / "g.pdf", tmp_path / "g.png", title="Fig 8", note="preset 'x'")
    assert_figure(tmp_path / "g.pdf", tmp_path / "g.png")


def test_map_image_scales_each_map_to_its_own_maximum():
    image, kwargs = map_image(np.array([[0.0, 2.0], [1.0, 4.0]]))
    assert kwargs["vmin"] == 0.0 and kwargs["vmax"] == 4.0
    strip, kwargs = map_image(np.zeros(5))
    assert strip.shape == (1, 5) and kwargs["vmax"] == 1.0  # all-zero map: no division by zero


def test_spearman_per_sample_matches_scipy_and_is_rank_invariant():
    rng = np.random.default_rng(2)
    a, b = rng.uniform(size=(4, 3, 5)), rng.uniform(size=(4, 3, 5))
    b[0, 0, :2] = b[0, 0, 2]  # ties
    ours = spearman_per_sample(a, b)
    expected = [spearmanr(a[i].ravel(), b[i].ravel()).statistic for i in range(4)]
    np.testing.assert_allclose(ours, expected)
    np.testing.assert_allclose(spearman_per_sample(a, a**3), 1.0)  # monotone transform
    np.testing.assert_allclose(spearman_per_sample(a, -a), -1.0)
    assert np.isnan(spearman_per_sample(np.ones((1, 6)), a[:1].reshape(1, -1)[:, :6]))[0]


def test_figure_modules_import_without_torch():
    """The figure rules run in envs/plot.yaml, which has no torch."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'torchvision', 'captum'):\n"
        "            raise ImportError(name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import largelr.figures.attribution_gallery, largelr.figures.attribution_methods, largelr.figures.landscape\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.fixture
def method_inputs(tmp_path):
    rng = np.random.default_rng(3)
    region = np.full((8, 4, 4), NOISE, dtype=np.uint8)
    region[:, :2, :2], region[:, 2:, 2:] = CORE, SPURIOUS
    test = Split(rng.integers(0, 256, (8, 3, 4, 4), dtype=np.uint8), np.arange(8) % 2, np.zeros(8, int), region)
    save_dataset(SpuriousDataset("toy", 2, train=test, test=test), tmp_path / "toy.npz")
    runs, ig, squared = [], [], []
    indices = np.array([7, 2, 4, 0, 5])
    for name, lr, status in (("low", 0.01, "converged"), ("high", 0.5, "max_iters"), ("div", 5.0, "diverged")):
        cell = {"dataset": "toy", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": 0}
        atomic_write_json(tmp_path / name / "run.json", {"cell": cell, "status": status})
        runs.append(str(tmp_path / name / "run.json"))
        idx = indices if status != "diverged" else np.zeros(0, np.int64)
        maps = rng.uniform(size=(len(idx), 4, 4)).astype(np.float16)
        for tag, files, values in (("ig", ig, maps), ("squared", squared, maps.astype(np.float32) ** 2)):
            buffer = io.BytesIO()
            np.savez_compressed(buffer, indices=idx, maps=values, y=test.y[idx], predictions=test.y[idx])
            files.append(tmp_path / name / f"maps_{tag}.npz")
            files[-1].write_bytes(buffer.getvalue())
    return tmp_path, runs, ig, squared


def test_methods_figure_and_agreement_csv(method_inputs):
    root, runs, ig, _ = method_inputs
    table = plot_attribution_methods(runs, ig, ig, root / "toy.npz", root / "m.pdf", root / "m.png",
                                     root / "m_agreement.csv", title="Fig 14", note="demo", n_samples=3)
    assert_figure(root / "m.pdf", root / "m.png")
    saved = pd.read_csv(root / "m_agreement.csv")
    assert list(saved.columns) == AGREEMENT_COLUMNS and len(saved) == 3
    usable = saved[saved["status"] != "diverged"]
    np.testing.assert_allclose(usable["spearman"], 1.0)  # identical inputs: perfect agreement
    np.testing.assert_allclose(usable["spurious_share_ig"], usable["spurious_share_deeplift"])
    assert ((usable["spurious_share_ig"] > 0) & (usable["spurious_share_ig"] < 1)).all()
    assert usable["samples"].tolist() == [5, 5]
    diverged = saved[saved["status"] == "diverged"].iloc[0]
    assert np.isnan(diverged["spearman"]) and diverged["samples"] == 0
    assert table["lr"].tolist() == [0.01, 0.5, 5.0]


def test_agreement_under_a_monotone_map_transform(method_inputs):
    root, runs, ig, squared = method_inputs
    table = plot_attribution_methods(runs[:2], ig[:2], squared[:2], root / "toy.npz", root / "s.pdf", root / "s.png",
                                     root / "s.csv", title="Fig 14")
    np.testing.assert_allclose(table["spearman"], 1.0, atol=1e-12)  # same ranking, different values
    assert not np.allclose(table["spurious_share_ig"], table["spurious_share_deeplift"])


def _landscape_npz(path, points: int, status: str = "converged", scale: float = 1.0) -> None:
    grid = np.linspace(-1, 1, points)
    a, b = np.meshgrid(grid, grid, indexing="ij")
    arrays = {"alphas": grid, "betas": grid, "loss": scale * (0.01 + a**2 + 2 * b**2),
              "accuracy": 1 - (a**2 + b**2) / 2, "spurious_utilisation": 0.5 + a * b / 2,
              "spurious_split_accuracy": 1 - (a**2 + b**2) / 3, "status": np.array(status),
              "train_samples": np.array(10)}
    if status == "diverged":
        grids = ("loss", "accuracy", "spurious_utilisation", "spurious_split_accuracy")
        arrays = {**arrays, "alphas": np.zeros(0), "betas": np.zeros(0), **{k: np.zeros((0, 0)) for k in grids}}
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())


def test_landscape_figure(tmp_path):
    runs, npzs = [], []
    for name, lr, intervention, status in (("c", 1.0, "focal=2", "converged"), ("a", 0.01, "none", "converged"),
                                 ("d", 10.0, "none", "diverged")):
        cell = {"dataset": "toy", "model": "fcn", "recipe": "sgd", "lr": lr, "intervention": intervention, "seed": 1}
        atomic_write_json(tmp_path / name / "run.json", {"cell": cell, "status": status})
        runs.append(tmp_path / name / "run.json")
        npzs.append(tmp_path / name / "landscape.npz")
        _landscape_npz(npzs[-1], 5, status, scale=lr * 100)
    plot_landscapes(runs, npzs, tmp_path / "l.pdf", tmp_path / "l.png", title="Fig 9", note="demo")
    assert_figure(tmp_path / "l.pdf", tmp_path / "l.png")
    assert run_label({"lr": 0.01, "seed": 0, "intervention": "none"}) == "LR 0.01, seed 0"
    assert run_label({"lr": 1.0, "seed": 2, "intervention": "focal=2"}) == "LR 1, focal=2, seed 2"
