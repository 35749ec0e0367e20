"""The per-run analyses batched per training job (issue 25 item 3; largelr.analyses.batch): for each
rule, the job of several runs writes for each run the files its per-run function writes alone, a
diverged run included, and the planning (largelr.workflow.analysis_jobs) names the runs the targets read."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from helpers import TINY_CELL, tiny_parity, torch_threads, train_tiny_run, write_diverged_run
from largelr.analyses import background as B
from largelr.analyses.attribution import attribute_run, attribute_runs
from largelr.analyses.dynamics import dynamics_run, dynamics_runs
from largelr.analyses.landscape import landscape_run, landscape_runs
from largelr.analyses.pruning import prune_run, prune_runs
from largelr.training.protocol import TrainSettings
from largelr.workflow.analysis_jobs import batches_of, flat_files, requested_cells

ANALYSIS = {"attribution_method": "integrated_gradients", "attribution_samples": 30, "ig_steps": 8, "repr_seed": 0,
            "prune_kappas": [0.0, 0.5, 0.9], "compress_kappa": 0.1, "compress_q": 2.0,
            "landscape": {"points": 3, "span": 0.5, "samples": 50, "seed": 1}}
RUNS = ("low", "diverged", "high")


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    """Two tiny trained parity runs with snapshots and a diverged one: one training job's runs."""
    root = tmp_path_factory.mktemp("batch")
    tiny_parity(root)
    with torch_threads(1):
        for name, lr in (("low", 0.05), ("high", 0.3)):
            settings = TrainSettings(lr=lr, seed=0, batch_size=50, max_iters=20, eval_interval=10, snapshot_interval=10)
            train_tiny_run(root, root / name, {**TINY_CELL, "lr": lr}, settings)
    write_diverged_run(root / "diverged")
    return root


def _same_files(batched, alone, names):
    for batched_name, alone_name in names:
        first, second = batched / batched_name, alone / alone_name
        if first.suffix == ".npz":
            with np.load(first) as a, np.load(second) as b:
                assert sorted(a.files) == sorted(b.files)
                for key in a.files:
                    np.testing.assert_array_equal(a[key], b[key], err_msg=f"{first}: {key}")
        else:
            assert first.read_text() == second.read_text(), first


BATCHED = {
    "prune": (prune_runs, lambda d, r, o: prune_run(d, r, o / "pruning.json", ANALYSIS, "cpu"), ["pruning.json"]),
    "landscape": (landscape_runs, lambda d, r, o: landscape_run(d, r, o / "landscape.npz", ANALYSIS, "cpu"),
                  ["landscape.npz"]),
    "dynamics": (dynamics_runs, lambda d, r, o: dynamics_run(d, r, o / "dynamics.csv", o / "dynamics_maps.npz",
                                                             ANALYSIS, "cpu"), ["dynamics.csv", "dynamics_maps.npz"]),
    "attribute": (attribute_runs, lambda d, r, o: attribute_run(d, r, o / "attribution.json",
                                                                o / "attribution_maps.npz", ANALYSIS, "cpu"),
                  ["attribution.json", "attribution_maps.npz"]),
}


@pytest.mark.parametrize("rule", sorted(BATCHED))
def test_a_batched_job_writes_what_each_run_alone_writes(job, tmp_path, rule, one_torch_thread):
    batched, alone, names = BATCHED[rule]
    dataset, runs = job / "parity.npz", [job / name for name in RUNS]
    records = batched(dataset, runs, [tmp_path / "job" / name for name in RUNS], ANALYSIS, device="cpu")
    assert [record["source"] for record in records] == [str(run) for run in runs]
    for run in runs:
        (tmp_path / "alone" / run.name).mkdir(parents=True)
        alone(dataset, run, tmp_path / "alone" / run.name)
        _same_files(tmp_path / "job" / run.name, tmp_path / "alone" / run.name, [(n, n) for n in names])
    # two models, two results: the job does not write one run's numbers for all
    first, second = (tmp_path / "job" / name / names[0] for name in ("low", "high"))
    assert first.read_bytes() != second.read_bytes()


def test_attribute_with_method_names_its_files_after_the_method(job, tmp_path, one_torch_thread):
    analysis = {**ANALYSIS, "attribution_method": "deeplift"}
    runs = [job / "high", job / "low"]
    attribute_runs(job / "parity.npz", runs, [tmp_path / r.name for r in runs], analysis, "cpu", method="deeplift")
    for run in runs:
        attribute_run(job / "parity.npz", run, tmp_path / "a.json", tmp_path / "a.npz", analysis, device="cpu")
        _same_files(tmp_path / run.name, tmp_path, [("attribution_deeplift.json", "a.json"),
                                                    ("attribution_maps_deeplift.npz", "a.npz")])


class DarkIsBackground(torch.nn.Module):
    """Background where the (ImageNet-normalised) image is dark (as tests/analyses/test_background.py)."""

    def __init__(self) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bright = (x.mean(dim=1, keepdim=True) > 0).float()
        return torch.cat([1 - bright, bright], dim=1)


def test_background_job_loads_the_segmenter_once_and_writes_what_each_run_writes(tmp_path, monkeypatch):
    from largelr.datasets.format import CORE, SpuriousDataset, Split, save_dataset

    x = np.zeros((4, 3, 8, 8), dtype=np.uint8)
    x[:, :, :, 4:] = 255
    split = Split(x=x, y=np.zeros(4, dtype=np.int64), b=np.zeros(4, dtype=np.int64),
                  region=np.full((4, 8, 8), CORE, dtype=np.uint8))
    save_dataset(SpuriousDataset("toy", 2, split, split), tmp_path / "toy.npz")
    maps_files = []
    for k, (indices, fill) in enumerate([([0, 2], 1.0), ([1], 2.0), ([], 0.0)]):  # the last: a diverged run's
        maps = np.full((len(indices), 8, 8), fill, dtype=np.float16)
        maps[:, :, 4:] *= k  # different shares per run
        buffer = io.BytesIO()
        np.savez(buffer, indices=np.array(indices, dtype=np.int64), maps=maps)
        maps_files.append(tmp_path / f"maps{k}.npz")
        maps_files[-1].write_bytes(buffer.getvalue())
    loads = []
    monkeypatch.setattr(B, "load_segmenter", lambda *a, **k: loads.append(1) or DarkIsBackground().eval())
    segmenter = {"backend": "torchvision", "weights_path": None, "size": 16}
    B.background_runs(tmp_path / "toy.npz", maps_files, [tmp_path / f"job{k}" for k in range(3)], segmenter)
    assert len(loads) == 1
    for k, maps in enumerate(maps_files):
        B.background_run(tmp_path / "toy.npz", maps, tmp_path / "alone.json", segmenter)
        _same_files(tmp_path / f"job{k}", tmp_path, [("background.json", "alone.json")])
    assert (tmp_path / "job0/background.json").read_text() != (tmp_path / "job1/background.json").read_text()


def test_requested_cells_maps_each_per_run_file_to_its_batch():
    root = "results/p/analysis"
    cell = "dataset~d/model~m/recipe~r/lr~0.1/intervention~none/seed~0"
    files = {"a": [f"{root}/{cell}/attribution.json", f"{root}/{cell}/metrics.json"],
             "b": f"{root}/{cell.replace('seed~0', 'seed~1')}/background.json",
             "c": [f"{root}/{cell}/attribution_maps_deeplift.npz", f"{root}/{cell}/pruning.json",
                   "results/p/groups/dataset~d/model~m/recipe~r/gallery.npz", f"results/q/analysis/{cell}/landscape.npz"]}
    requested = requested_cells(flat_files(files), root + "/")
    assert requested == {"attribution": {cell, cell.replace("seed~0", "seed~1")},  # background needs the maps
                         "background": {cell.replace("seed~0", "seed~1")},
                         "attribution_deeplift": {cell}, "pruning": {cell}}
    assert batches_of("metrics.json") == [] and batches_of("attribution_maps_x.json") == []
    assert batches_of("dynamics_maps.npz") == ["dynamics"] and batches_of("landscape.npz") == ["landscape"]
