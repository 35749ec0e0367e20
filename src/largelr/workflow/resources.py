"""What the rules that run a torch model ask of a machine (snakemake-workflows convention).

mem_mb, runtime (minutes) and gpu_mem_mb (device memory) of one job: at full scale (presets with
``scale: full``, the paper preset: full data and ResNet/WRN models on one GPU of a cluster node)
and at reduced scale (ci, demo, gpu). A profile's set-resources still overrides them
(profiles/slurm). A retry (attempt k) asks k times the runtime and memory (runtime at most the
preset's max_job_minutes). :class:`largelr.workflow.plan.Plan` turns them into resource functions.
"""

from __future__ import annotations

import functools
import os
import shutil

# rule: {resource: (full scale, reduced scale)}. train_group trains every LR x seed of a group
# (at full scale its runtime comes from largelr.workflow.cost, see Plan.train_job_runtime); mem_mb and
# gpu_mem_mb are at least what the job's dataset needs (Plan.data_mb: the uint8 splits on the training
# device, 27.5 GB for CelebA at 224 px, plus headroom); dynamics runs one attribution pass per
# snapshot; landscape points x points full passes over the training subset;
# background_attribution DeepLabV3-ResNet50 on the attributed samples.
RULE_RESOURCES: dict[str, dict[str, tuple[int, int]]] = {
    "generate_dataset": {"mem_mb": (32000, 4000), "runtime": (120, 30)},
    "train_group": {"mem_mb": (32000, 8000), "runtime": (720, 240), "gpu_mem_mb": (24000, 2000)},
    "evaluate": {"mem_mb": (32000, 4000), "runtime": (120, 30), "gpu_mem_mb": (16000, 2000)},
    "attribute": {"mem_mb": (16000, 4000), "runtime": (60, 30), "gpu_mem_mb": (8000, 2000)},
    "attribute_with_method": {"mem_mb": (16000, 4000), "runtime": (60, 30), "gpu_mem_mb": (8000, 2000)},
    "prune": {"mem_mb": (16000, 4000), "runtime": (120, 30), "gpu_mem_mb": (16000, 2000)},
    "dynamics": {"mem_mb": (32000, 4000), "runtime": (240, 60), "gpu_mem_mb": (16000, 2000)},
    "landscape": {"mem_mb": (32000, 4000), "runtime": (240, 60), "gpu_mem_mb": (16000, 2000)},
    "background_attribution": {"mem_mb": (16000, 4000), "runtime": (60, 30)},
}
# a full-scale training job asks RUNTIME_SAFETY x its estimate, at least MIN_TRAIN_RUNTIME minutes
RUNTIME_SAFETY = 1.5
MIN_TRAIN_RUNTIME = 30


@functools.cache
def cuda_available() -> bool:
    """torch.cuda.is_available(), the test of `device: auto`. Importing torch takes seconds, so a
    machine without a GPU driver's tool (nvidia-smi, or rocm-smi for ROCm builds of torch) on
    PATH, or with CUDA_VISIBLE_DEVICES empty, answers False without importing it."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1"):
        return False
    if not (shutil.which("nvidia-smi") or shutil.which("rocm-smi")):
        return False
    import torch

    return torch.cuda.is_available()
