"""Per-run analyses of the runs of one training job in one process (issue 25 item 3).

The rules ``attribute``, ``attribute_with_method``, ``background_attribution``, ``prune``,
``dynamics`` and ``landscape`` (§3.3, §4.2, §5; Figs 3, 9, 10, 13, 14, 20, 21, 25, 28) run once
per training job, as ``evaluate`` does (:func:`largelr.analyses.evaluation.evaluate_runs`): one
Python and torch start-up and one read of the dataset for all the runs the preset analyses, each
run's files written into its own folder of the job's output (then linked into the run's
``analysis/`` folder by a local ``link_*`` rule). Each module's ``*_runs`` function calls its
per-run function with the dataset already loaded, so a run's files are the ones the per-run
function writes alone (tests/analyses/test_batch.py).

This module holds the loop they share (:func:`analyse_each`), the dataset-once batching of a
per-run function (:func:`analyse_runs`, and :func:`runs_of`, which makes a module's ``*_runs`` from
its per-run function) and the names of the files each analysis writes per run (:data:`RUN_FILES`,
also the workflow's per-run output names).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from largelr.datasets import load_dataset
from largelr.io import atomic_write_json

#: the files one run's analysis writes, by rule (attribute_with_method: :func:`attribution_files`)
RUN_FILES: dict[str, tuple[str, ...]] = {
    "attribute": ("attribution.json", "attribution_maps.npz"),
    "background_attribution": ("background.json",),
    "prune": ("pruning.json",),
    "dynamics": ("dynamics.csv", "dynamics_maps.npz"),
    "landscape": ("landscape.npz",),
}


def attribution_files(method: str | None = None) -> tuple[str, str]:
    """The statistics and maps files of an attribution: the preset's method (``method`` None,
    rule ``attribute``) or a named one (rule ``attribute_with_method``, Fig 14)."""
    if method is None:
        return RUN_FILES["attribute"]  # type: ignore[return-value]
    return f"attribution_{method}.json", f"attribution_maps_{method}.npz"


def analyse_each(label: str, sources: Sequence[str | Path], output_dirs: Sequence[str | Path],
                 analyse: Callable[[Path, Path], str], log: logging.Logger | None = None) -> list[dict[str, str]]:
    """``analyse(source, output folder)`` for each run of a job, in order (the folders are made
    first), with a progress line per run; returns {source, result} per run, the job's manifest."""
    log = log or logging.getLogger(__name__)
    start, records = time.monotonic(), []
    for k, (source, folder) in enumerate(zip(sources, output_dirs, strict=True), start=1):
        Path(folder).mkdir(parents=True, exist_ok=True)
        result = analyse(Path(source), Path(folder))
        records.append({"source": str(source), "result": str(result)})
        log.info("%s: %d of %d runs (%s: %s), %.1f s per run", label, k, len(sources), source, result,
                 (time.monotonic() - start) / k)
    return records


def _status(result: Any) -> str:
    """The run's status, what a per-run analysis that returns a dict with a ``status`` reports."""
    return result["status"]


def analyse_runs(label: str, analyse_run: Callable[..., Any], files: Sequence[str], dataset_path: str | Path,
                 run_dirs: Sequence[str | Path], output_dirs: Sequence[str | Path], analysis: dict[str, Any],
                 device: str = "auto", log: logging.Logger | None = None,
                 describe: Callable[[Any], str] = _status) -> list[dict[str, str]]:
    """``analyse_run(dataset_path, run_dir, *output files, analysis, device, dataset)`` for each run of one
    training job, the dataset read once, each run's ``files`` in its own output folder (:func:`analyse_each`);
    ``describe`` turns a run's result into its manifest line (by default the run's status)."""
    dataset = load_dataset(dataset_path)

    def one(run_dir: Path, folder: Path) -> str:
        return describe(analyse_run(dataset_path, run_dir, *(folder / name for name in files), analysis, device,
                                    dataset))

    return analyse_each(label, run_dirs, output_dirs, one, log)


def runs_of(analyse_run: Callable[..., Any], rule: str, label: str | None = None,
            describe: Callable[[Any], str] = _status) -> Callable[..., list[dict[str, str]]]:
    """The ``*_runs`` function of a per-run analysis: :func:`analyse_runs` of ``analyse_run`` with the files
    of ``rule`` (:data:`RUN_FILES`), called as ``(dataset_path, run_dirs, output_dirs, analysis,
    device="auto", log=None)``."""

    def runs(dataset_path: str | Path, run_dirs: Sequence[str | Path], output_dirs: Sequence[str | Path],
             analysis: dict[str, Any], device: str = "auto",
             log: logging.Logger | None = None) -> list[dict[str, str]]:
        return analyse_runs(label or rule, analyse_run, RUN_FILES[rule], dataset_path, run_dirs, output_dirs,
                            analysis, device, log, describe)

    runs.__name__ = runs.__qualname__ = f"{analyse_run.__name__}s"
    runs.__module__ = analyse_run.__module__
    runs.__doc__ = (f":func:`{analyse_run.__name__}` for each run of one training job, the dataset read once "
                    f"(rule ``{rule}``; :mod:`largelr.analyses.batch`).")
    return runs


def run_batched_rule(job: Any, analyse: Callable[..., list[dict[str, str]]], log: logging.Logger,
                     **extra: Any) -> None:
    """The body of a batched per-run rule's script: ``analyse`` (a ``*_runs`` function) over the runs whose
    ``run.json`` are ``job.input.runs``, with the rule's ``output_dirs`` / ``analysis`` / ``device`` params;
    writes the job's manifest (``job.output.manifest``: one line per run). ``job`` is Snakemake's object."""
    records = analyse(dataset_path=job.input.dataset, run_dirs=[Path(run).parent for run in job.input.runs],
                      output_dirs=job.params.output_dirs, analysis=job.params.analysis, device=job.params.device,
                      log=log, **extra)
    atomic_write_json(job.output.manifest, {"cells": records})

