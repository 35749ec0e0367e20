"""Numbers that reproduce on any x86-64 CPU with AVX2 (issue 26 item 7; docs/reproducibility.md).

The ``ci`` preset's parity group (FCN 3×200, LRs 0.05 / 0.5 × seeds 0, 1 and LR 50, stacked),
trained as its Snakemake job trains it with the CPU kernels pinned (``largelr.portable``), must
end in the weights whose SHA-256 ``tests/data/portable_digests.json`` records, on whatever CPU
runs the test. The record names the CPUs it was checked on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import yaml

from helpers import REPO, run_snakemake
from largelr.config import resolve_config
from largelr.config.errors import ConfigError
from largelr.portable import (
    PINNED_ENV,
    PRESETS_ENV,
    check_pinned,
    cpu_flags,
    pin_cpu_kernels,
    pinned_environment,
    pins_preset,
    presets_environment,
    weights_digest,
    why_not_portable,
)

DIGESTS = json.loads((REPO / "tests" / "data" / "portable_digests.json").read_text())
NO_AVX2 = why_not_portable()


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    """A fresh Python (torch not yet imported) with ``src`` first on the path and ``env`` added."""
    environ = {key: value for key, value in os.environ.items() if key not in {*pinned_environment(), PRESETS_ENV}}
    environ.update(PYTHONPATH=str(REPO / "src"), **env)
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=environ, cwd=REPO,
                          timeout=900)


@pytest.mark.skipif(NO_AVX2 is not None, reason=f"pinned kernels need AVX2: {NO_AVX2}")
def test_ci_parity_group_ends_in_the_recorded_weights_on_this_cpu():
    recorded = DIGESTS["ci_parity"]
    result = _run([str(REPO / "benchmarks" / "portable_digest.py")])
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout)
    assert report["pinned"] and report["kernels"]["cpu_capability"] == "AVX2"
    # stopping iterations and statuses first: a mismatch there says more than a digest
    assert report["cells"] == recorded["cells"]
    assert report["digest"] == recorded["digest"], (
        f"the ci parity group's weights differ from the recorded ones on this CPU "
        f"(recorded with torch {recorded['torch']}, checked on {recorded['checked_on']}; this run: torch "
        f"{report['torch']}, kernels {report['kernels']})")


@pytest.mark.workflow
@pytest.mark.skipif(NO_AVX2 is not None, reason=f"pinned kernels need AVX2: {NO_AVX2}")
def test_the_workflows_own_ci_parity_job_ends_in_the_recorded_weights(tmp_path):
    # the real jobs (generate_dataset, train_group) of the ci preset, pinned by start_job
    group = "dataset~parity/model~fcn_parity/recipe~sgd/intervention~none"
    result = run_snakemake(tmp_path, "--cores", "1", f"results/ci/training/{group}/group.json")
    assert result.returncode == 0, result.stderr[-3000:]
    weights = {}
    for model in (tmp_path / "results" / "ci" / "training" / group).glob("*/*/model.pt"):
        cell = json.loads((model.parent / "run.json").read_text())["cell"]
        weights[f"lr={cell['lr']},seed={cell['seed']}"] = torch.load(model, map_location="cpu")
    assert len(weights) == len(DIGESTS["ci_parity"]["cells"])
    assert weights_digest(weights) == DIGESTS["ci_parity"]["digest"]
    log = (tmp_path / "results" / "ci" / "logs" / "train" / f"{group}.log").read_text()
    assert "CPU kernels: {'cpu_capability': 'AVX2'" in log and "'MKL_CBWR': 'COMPATIBLE'" in log


def _start_job(tmp_path, preset: str, listed: str) -> tuple[str, int, dict[str, str | None], str]:
    """What a job of ``preset`` runs first (largelr.jobs.start_job) with ``listed`` as the workflow's
    portable presets, after importing torch and the training / analysis modules as train_group.py
    and evaluate.py do: torch's capability, its threads, the pinned variables and the job's log."""
    code = (
        "import types, torch, json, os\n"
        "import largelr.training.runs, largelr.analyses.evaluation\n"
        "from largelr.jobs import start_job\n"
        f"start_job(types.SimpleNamespace(log=[{str(tmp_path / 'job.log')!r}], threads=1, rule='train_group',"
        f" wildcards=types.SimpleNamespace(preset={preset!r})))\n"
        "print(json.dumps([torch.backends.cpu.get_cpu_capability(), torch.get_num_threads(),"
        " {k: os.environ.get(k) for k in " + repr(sorted(PINNED_ENV)) + "}]))\n"
    )
    result = _run(["-c", code], **{PRESETS_ENV: listed})
    assert result.returncode == 0, result.stderr[-3000:]
    capability, threads, environ = json.loads(result.stdout)
    return capability, threads, environ, (tmp_path / "job.log").read_text()


@pytest.mark.skipif(NO_AVX2 is not None, reason=f"pinned kernels need AVX2: {NO_AVX2}")
def test_a_job_of_a_portable_preset_pins_the_kernels_before_torch_runs_an_op(tmp_path):
    capability, threads, environ, log = _start_job(tmp_path, "ci", "ci,demo")
    assert (capability, threads, environ) == ("AVX2", 1, PINNED_ENV)
    assert "CPU kernels: {'cpu_capability': 'AVX2'" in log


def test_a_job_of_another_preset_runs_the_cpus_own_kernels(tmp_path):
    capability, threads, environ, log = _start_job(tmp_path, "paper", "ci,demo")
    assert threads == 1 and environ == dict.fromkeys(PINNED_ENV)
    assert "not pinned: portable_numbers is off for preset 'paper'" in log


def test_the_workflow_lists_the_presets_with_portable_numbers(monkeypatch):
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    presets = resolve_config(config, REPO / "workflow" / "schemas")
    assert presets["ci"]["portable_numbers"] and presets["demo"]["portable_numbers"]
    assert not presets["paper"]["portable_numbers"]  # a GPU preset: CUDA kernels are not pinned
    listed = presets_environment(presets)[PRESETS_ENV].split(",")
    assert {"ci", "demo"} <= set(listed) and "paper" not in listed
    assert pins_preset("ci", {PRESETS_ENV: ",".join(listed)}) and not pins_preset("paper", {PRESETS_ENV: "ci"})
    assert not pins_preset(None, {PRESETS_ENV: "ci"}) and not pins_preset("ci", {})
    # --config portable_numbers=false: a top-level override, so the chosen preset's only (issue 25)
    off = resolve_config({**config, "portable_numbers": "false"}, REPO / "workflow" / "schemas")
    chosen = config["preset"]
    assert presets[chosen]["portable_numbers"] and not off[chosen]["portable_numbers"]
    assert all(off[name]["portable_numbers"] == presets[name]["portable_numbers"] for name in off if name != chosen)
    config["presets"]["ci"]["portable_numbers"] = "yes"
    with pytest.raises(ConfigError, match="portable_numbers"):
        resolve_config(config, REPO / "workflow" / "schemas")


def test_pin_sets_nothing_on_a_cpu_without_avx2_and_says_why():
    environ: dict[str, str] = {}
    why = pin_cpu_kernels(environ=environ, flags={"sse4_2", "avx", "fma"})
    assert environ == {} and "avx2" in why
    assert pin_cpu_kernels(threads=3, environ=environ, flags={"avx2", "fma"}) is None
    assert environ == {**PINNED_ENV, "OMP_NUM_THREADS": "3", "MKL_NUM_THREADS": "3"}


def test_cpu_flags_read_the_flags_line(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu sse2 avx avx2 fma\n\n")
    assert cpu_flags(cpuinfo) == {"fpu", "sse2", "avx", "avx2", "fma"}
    assert cpu_flags(tmp_path / "missing") is None
    assert why_not_portable(cpu_flags(cpuinfo)) is None


def test_check_pinned_refuses_a_pin_that_came_after_torch_chose_its_kernels(monkeypatch):
    torch.zeros(2).sum()  # torch has chosen its kernels in this process
    if torch.backends.cpu.get_cpu_capability() == "AVX2":
        pytest.skip("this CPU's own kernels are the AVX2 ones: a late pin changes nothing here")
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", PINNED_ENV["ATEN_CPU_CAPABILITY"])
    with pytest.raises(RuntimeError, match="before torch's first op"):
        check_pinned(torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())


def test_weights_digest_sees_one_flipped_bit_and_ignores_order():
    weights = {"b": {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "v": torch.ones(2)},
               "a": {"w": torch.zeros(3)}}
    reordered = {"a": {"w": torch.zeros(3)}, "b": {"v": torch.ones(2), "w": torch.arange(6.0).reshape(2, 3)}}
    assert weights_digest(weights) == weights_digest(reordered)
    flipped = weights["b"]["w"].clone()
    flipped.view(torch.int32)[1, 2] ^= 1  # one ulp of one weight
    assert weights_digest({**weights, "b": {**weights["b"], "w": flipped}}) != weights_digest(weights)
    # the shape is part of the digest: the same bytes as another shape are other weights
    assert weights_digest({"a": {"w": torch.zeros(1, 3)}}) != weights_digest({"a": {"w": torch.zeros(3)}})
