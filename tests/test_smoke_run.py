"""The smokes run end to end (issue 25): ``snakemake --config preset=gpu smoke=true`` and the ``paper`` smoke
on ``largelr fixtures``.

* default pytest (CI): a named subset of the ``gpu`` smoke, :func:`gpu_smoke_subset`: one cell per figure
  kind x model family (the per-cell files that kind reads, from the first figure of that kind that draws
  the family), and the whole figures whose inputs are a few cells and no §4.2 LR filter (which reads every
  run of a dataset): 18 targets, 139 jobs (docs/smoke.md has its time); and the subset's coverage (every
  figure kind, the fcn / cnn / resnet families);
* ``pytest -m slow``: the whole ``gpu`` smoke and the whole ``paper`` smoke on the fixtures: every target
  of rule ``all`` built, no failed job, every figure's PNG and CSV non-empty.

Times and disk are measured in docs/smoke.md, never asserted here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from helpers import run_snakemake

from largelr.config import figure_kinds, resolve_config, smoke_name, training_grid

REPO = Path(__file__).resolve().parents[1]
SMALL_FIGURE_CELLS = 4  # a whole figure joins the subset when it reads at most this many cells


def _family(preset: dict, model: str) -> str:
    """fcn, cnn, or the torchvision family (resnet, wide_r, swin_t) of a ``models:`` entry."""
    spec = preset["models"][model]
    return spec["arch"] if spec["arch"] != "torchvision" else spec["name"].rstrip("0123456789_")


def gpu_smoke_subset(config: dict) -> tuple[list[str], set[tuple[str, str]]]:
    """Targets of the named subset of ``gpu-smoke`` and the (kind, family) pairs they cover (the files a
    figure reads, where the workflow keeps them: :meth:`largelr.workflow.inputs.WorkflowPlan.input_paths`)."""
    from largelr.figures.kinds import figure_kind
    from largelr.workflow.inputs import WorkflowPlan
    from largelr.workflow.paths import FIGURE

    name = smoke_name("gpu")
    presets = resolve_config(dict(copy.deepcopy(config), preset="gpu", smoke=True), REPO / "workflow/schemas")
    preset, grid = presets[name], training_grid(presets[name])
    paths = WorkflowPlan(presets, figure_kinds(presets)).input_paths(name)
    targets, covered = [], set()
    for figure, spec in preset["figures"].items():
        inputs = figure_kind(spec["kind"]).inputs(spec, grid, paths)
        files = [f for key, value in inputs.items() if key not in ("lr_filters", "runs")
                 for f in ([value] if isinstance(value, str) else value)]
        drawn = {model: _family(preset, model) for model in preset["models"]
                 if any(f"/model~{model}/" in f for f in files)}
        pairs = {(spec["kind"], family) for family in drawn.values()} or {(spec["kind"], "-")}
        if pairs <= covered:
            continue
        if not inputs.get("lr_filters") and len({f.rsplit("/", 1)[0] for f in files}) <= SMALL_FIGURE_CELLS:
            targets.append(FIGURE.format(preset=name, figure=figure) + ".png")  # the whole figure: a few cells
            covered |= pairs
            continue
        for model, family in drawn.items():
            if (spec["kind"], family) not in covered:
                first = next(f for f in files if f"/model~{model}/" in f)
                targets += [f for f in files if f.startswith(first.rsplit("/", 1)[0] + "/")]
                covered.add((spec["kind"], family))
    return sorted(set(targets)), covered


def test_the_subset_covers_every_figure_kind_and_model_family(shipped_config):
    targets, covered = gpu_smoke_subset(shipped_config)
    kinds = {spec["kind"] for spec in resolve_config(dict(shipped_config, preset="gpu"),
                                                     REPO / "workflow/schemas")["gpu"]["figures"].values()}
    assert {kind for kind, _ in covered} == kinds
    assert {family for _, family in covered} >= {"fcn", "cnn", "resnet"}
    assert all(target.startswith("results/gpu-smoke/") for target in targets)


def _assert_built(workdir: Path, result, preset: str) -> None:
    assert result.returncode == 0, result.stderr[-4000:]
    assert "Error in rule" not in result.stderr
    figures = workdir / "results" / preset / "figures"
    for png in figures.glob("fig*.png"):
        assert png.stat().st_size > 0 and png.with_suffix(".csv").stat().st_size > 0, png


@pytest.mark.workflow  # 139 jobs, 59 of them start Python: the longest test of the default suite
def test_a_named_subset_of_the_gpu_smoke_runs(shared_data, shipped_config, tmp_path):
    targets, _ = gpu_smoke_subset(shipped_config)
    result = run_snakemake(tmp_path, "--cores", "2", *targets, "--config", "preset=gpu", "smoke=true",
                           f"data_root={shared_data}", timeout=3600)
    _assert_built(tmp_path, result, "gpu-smoke")
    for target in targets:
        assert (tmp_path / target).exists(), target


def fixtures_config(shared_data: Path, folder: Path) -> list[str]:
    """``largelr fixtures FOLDER``'s printed ``--config`` words (preset=paper smoke=true data_root=...)."""
    import shlex
    import subprocess
    import sys

    printed = subprocess.run([sys.executable, "-m", "largelr.cli", "fixtures", str(folder),
                              "--link-from", str(shared_data)], capture_output=True, text=True, check=True)
    words = shlex.split(printed.stdout.strip().splitlines()[-1])
    return words[words.index("--config") + 1:]


@pytest.mark.slow
def test_the_whole_gpu_smoke_runs(shared_data, tmp_path):
    # CIFAR-100 is not in the offline copy: the fixtures' tree (MNIST / CIFAR-10 linked from it)
    data_root = next(word for word in fixtures_config(shared_data, tmp_path / "fixtures") if word.startswith("data_"))
    config = ["preset=gpu", "smoke=true", data_root]
    result = run_snakemake(tmp_path, "--cores", "2", "--config", *config, timeout=4 * 3600)
    _assert_built(tmp_path, result, "gpu-smoke")
    assert "Nothing to be done" in run_snakemake(tmp_path, "-n", "--config", *config).stdout


@pytest.mark.slow
def test_the_whole_paper_smoke_runs_on_the_fixtures(shared_data, tmp_path):
    config = fixtures_config(shared_data, tmp_path / "fixtures")
    result = run_snakemake(tmp_path, "--cores", "2", "--config", *config, timeout=4 * 3600)
    _assert_built(tmp_path, result, "paper-smoke")
    assert "Nothing to be done" in run_snakemake(tmp_path, "-n", "--config", *config).stdout
