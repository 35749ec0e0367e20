"""Which runs of a preset each batched per-run analysis covers (issue 25 item 3; the workflow's
planning: :class:`largelr.workflow.inputs.WorkflowPlan` answers the rules' questions with it).

The per-run analyses of §3.3, §4.2 and §5 (attributions, pruning curves, dynamics, landscapes,
background attribution) run as one job per training job (:mod:`largelr.analyses.batch`). A job
analyses the runs of its training job whose files the preset's targets read (summary, figures,
galleries), no more: ``paper`` prunes 202 of its 1046 runs and draws the dynamics of 49. So the
plan starts from the per-run files the targets name (:func:`requested_cells`).

A batch is named by the folder of its outputs (``results/{preset}/batched/{batch}/...``):
``attribution``, ``attribution_{method}`` (Fig 14's named methods), ``background``, ``pruning``,
``dynamics``, ``landscape``. Its files lie under :func:`largelr.workflow.paths.batch_path`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from largelr.analyses.batch import RUN_FILES, attribution_files

#: the batch of each rule whose outputs are per-run files (attribute_with_method: attribution_{method})
BATCHES = {"attribute": "attribution", "background_attribution": "background", "prune": "pruning",
           "dynamics": "dynamics", "landscape": "landscape"}
#: the input key of the per-run file a batched job reads (batch_inputs' ``name``)
INPUT_KEYS = {"model.pt": "models", "snapshots.pt": "snapshots", "attribution_maps.npz": "maps"}
#: a group analysis' file (select_hard_samples: groups/dataset~D/model~M/recipe~R/)
GROUP_FILE = re.compile(r"/groups/dataset~([^/]+)/model~([^/]+)/recipe~([^/]+)/")
#: link_* (shell): each output of a cell, hard-linked (or copied across file systems) from its batch folder
LINK_FILES = (
    'for out in {output:q}; do src={params.source:q}/$(basename "$out");'
    ' ln -f "$src" "$out" 2>/dev/null || cp -p "$src" "$out"; done;'
    " echo 'linked {params.source}' > {log:q}"
)
_METHOD_FILE = re.compile(r"attribution(?:_maps)?_(\w+)\.(?:json|npz)")


def batches_of(file_name: str) -> list[str]:
    """The batches a per-run analysis file needs: its own, and for ``background.json`` also the
    attribution whose maps it reads; [] for a file no batch writes (``metrics.json``)."""
    for rule, names in RUN_FILES.items():
        if file_name in names:
            return [BATCHES[rule], "attribution"] if rule == "background_attribution" else [BATCHES[rule]]
    match = _METHOD_FILE.fullmatch(file_name)
    if match and file_name in attribution_files(match.group(1)):
        return [f"attribution_{match.group(1)}"]
    return []


def requested_cells(files: Iterable[str], analysis_root: str) -> dict[str, set[str]]:
    """{batch: cell patterns (``dataset~.../seed~...``)} of the per-run files under ``analysis_root``
    (``results/{preset}/analysis/``) among ``files``, the inputs of a preset's targets."""
    root = analysis_root.rstrip("/") + "/"
    requested: dict[str, set[str]] = {}
    for file in files:
        if not file.startswith(root):
            continue
        cell, _, name = file[len(root):].rpartition("/")
        for batch in batches_of(name):
            requested.setdefault(batch, set()).add(cell)
    return requested


def flat_files(inputs: Mapping[str, Any] | Sequence[Any] | str) -> list[str]:
    """Every path of an input function's answer (a path, a list, or a dict of either), flattened."""
    if isinstance(inputs, str):
        return [inputs]
    values = inputs.values() if isinstance(inputs, Mapping) else inputs
    return [file for value in values for file in flat_files(value)]


__all__ = ["BATCHES", "GROUP_FILE", "INPUT_KEYS", "LINK_FILES", "batches_of", "flat_files", "requested_cells"]
