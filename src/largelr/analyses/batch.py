"""Per-run analyses of the runs of one training job in one process (issue 25 item 3).

The rules ``attribute``, ``attribute_with_method``, ``background_attribution``, ``prune``,
``dynamics`` and ``landscape`` (§3.3, §4.2, §5; Figs 3, 9, 10, 13, 14, 20, 21, 25, 28) run once
per training job, as ``evaluate`` does (:func:`largelr.analyses.evaluation.evaluate_runs`): one
Python and torch start-up and one read of the dataset for all the runs the preset analyses, each
run's files written into its own folder of the job's output (then linked into the run's
``analysis/`` folder by a local ``link_*`` rule). Each module's ``*_runs`` function calls its
per-run function with the dataset already loaded, so a run's files are the ones the per-run
function writes alone (tests/analyses/test_batch.py).

This module holds the loop they share (:func:`analyse_each`) and the names of the files each
analysis writes per run (:data:`RUN_FILES`, also the workflow's per-run output names).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Sequence

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
