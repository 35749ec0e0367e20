"""The `slurm` profile on a real SLURM cluster: the `ci` preset end to end through sbatch.

Left out of the default run; `pytest -m cluster` runs it. It starts a single-node SLURM
(slurmctld + slurmd + munged on localhost, tests/cluster/start_slurm.sh: installs slurm-wlm and
munge with apt-get when they are missing, so it needs root on Debian/Ubuntu) and needs the
executor plugin (`pip install snakemake-executor-plugin-slurm`). It runs

    snakemake --profile profiles/slurm --workflow-profile <overlay> --config preset=ci ...

where the overlay, derived from profiles/slurm/config.yaml, only names the local partition,
takes the GPU requests away (this machine has none), shrinks memory requests to fit it and
polls with squeue (no accounting database: sacct would hang). Every job, the grouped per-run
analyses included, goes through sbatch; then one training job's allocation is cancelled with
scancel mid-run and the rerun must resume from its checkpoint to the same weights.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from helpers import local_rules

pytestmark = pytest.mark.cluster

CLUSTER_SCRIPTS = Path(__file__).resolve().parent / "cluster"
PARTITION = "debug"
# GPU request keys of the plugin: a CPU-only test cluster must not see them
GPU_KEYS = ("gpu", "gpu_model", "gres", "slurm_extra", "tasks_per_gpu")
JOB_MEM_MB = 2000  # every test job's memory request; the group limit below keeps grouped jobs in series
# the parity SGD group: 5 cells, 1500 iterations, a checkpoint every 500 (about 10 s of training)
KILLED_GROUP = "results/ci/training/dataset~parity/model~fcn_parity/recipe~sgd/intervention~none"
SUBMITTED = re.compile(r"Job (\S+) has been submitted with SLURM jobid (\d+) \(log: ([^)]*)\)")


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A running single-node cluster: the environment (SLURM_CONF) that talks to it."""
    if shutil.which("apt-get") is None and shutil.which("sbatch") is None:
        pytest.skip("no slurm-wlm and no apt-get to install it")
    pytest.importorskip("snakemake_executor_plugin_slurm",
                        reason="pip install snakemake-executor-plugin-slurm")
    state = tmp_path_factory.mktemp("slurm")
    started = subprocess.run(["bash", str(CLUSTER_SCRIPTS / "start_slurm.sh"), str(state)],
                             capture_output=True, text=True, timeout=600)
    try:
        assert started.returncode == 0, started.stderr[-3000:]
        env = dict(os.environ)
        for name, value in re.findall(r"(\w+)=(\S+)", started.stdout.splitlines()[-1]):
            env[name] = value.replace("$PATH", os.environ["PATH"])  # PATH: the state folder's srun first
        env["OMP_NUM_THREADS"] = "1"
        yield {"env": env, "state": state}
    finally:
        subprocess.run(["bash", str(CLUSTER_SCRIPTS / "stop_slurm.sh"), str(state)], timeout=120)


@pytest.fixture(scope="module")
def checkout(repo, slurm, tmp_path_factory) -> Path:
    """A snapshot of the workflow (Snakefile, rules, scripts, src, profiles) that the jobs run from.

    The run takes minutes; the working tree it was started from may change meanwhile. The jobs
    import largelr from the snapshot's src/ (PYTHONPATH comes before the editable install)."""
    folder = tmp_path_factory.mktemp("checkout")
    for name in ("Snakefile", "config.yaml", "pyproject.toml"):
        shutil.copy2(repo / name, folder / name)
    for name in ("workflow", "scripts", "src", "envs", "profiles"):
        shutil.copytree(repo / name, folder / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    slurm["env"]["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder / "src"), os.environ.get("PYTHONPATH")]))
    return folder


@pytest.fixture(scope="module")
def overlay(checkout, tmp_path_factory) -> Path:
    """A workflow profile over profiles/slurm: the local partition, no GPU requests, small memory."""
    profile = yaml.safe_load((checkout / "profiles/slurm/config.yaml").read_text())

    def local(resources: dict) -> dict:
        kept = {key: value for key, value in resources.items() if key not in GPU_KEYS}
        return {**kept, "slurm_partition": PARTITION, "mem_mb": JOB_MEM_MB, "cpus_per_task": 1}

    folder = tmp_path_factory.mktemp("overlay")
    overlay = {
        # a workflow profile overrides the --profile per top-level key: these are whole copies
        "default-resources": local(profile["default-resources"]),
        "set-resources": {rule: local(res) for rule, res in profile["set-resources"].items()},
        # one grouped job at a time within a submission, as the GPU limit does on a real cluster
        "resources": [f"mem_mb={JOB_MEM_MB}"],
        "slurm-no-account": True,
        "slurm-status-command": "squeue",
        "slurm-init-seconds-before-status-checks": 2,
        "seconds-between-status-checks": 2,
        "latency-wait": 10,
        "printshellcmds": True,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))
    return folder


def snakemake(repo, workdir, overlay, shared_data, *args, env, timeout=1800, **popen):
    command = [sys.executable, "-m", "snakemake", "-s", str(repo / "Snakefile"), "--directory", str(workdir),
               "--profile", str(repo / "profiles/slurm"), "--workflow-profile", str(overlay),
               "--config", "preset=ci", f"data_root={shared_data}", *args]
    if popen:
        return subprocess.Popen(command, env=env, text=True, **popen)
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)


def planned(dry_run: str, local: set[str]) -> tuple[set[str], int]:
    """Output files of a dry run and the number of submissions it implies (groups count once; ``local``:
    the workflow's local rules, :func:`helpers.local_rules`)."""
    outputs = set()
    for line in dry_run.splitlines():
        if line.strip().startswith("output:"):
            outputs.update(path.strip() for path in line.split(":", 1)[1].split(","))
    rules = re.findall(r"^rule (\w+):", dry_run, flags=re.M)  # top-level jobs: not part of a group
    submissions = sum(rule not in local for rule in rules) + dry_run.count("Group job ")
    return outputs, submissions


@pytest.fixture(scope="module")
def ci_on_slurm(checkout, shared_data, slurm, overlay, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ci_slurm")
    dry = snakemake(checkout, workdir, overlay, shared_data, "-n", env=slurm["env"])
    assert dry.returncode == 0, dry.stderr[-3000:]
    outputs, submissions = planned(dry.stdout + dry.stderr, local_rules(checkout))
    started = time.monotonic()
    result = snakemake(checkout, workdir, overlay, shared_data, env=slurm["env"])
    seconds = time.monotonic() - started
    log = result.stdout + result.stderr
    (workdir / "snakemake_slurm.log").write_text(log)
    assert result.returncode == 0, log[-6000:]
    return {"workdir": workdir, "log": log, "outputs": outputs, "submissions": submissions, "seconds": seconds}


def test_profile_requests_a_gpu_for_every_rule_that_gets_the_gpu_partition(repo):
    profile = yaml.safe_load((repo / "profiles/slurm/config.yaml").read_text())
    gpu_rules = {"train_group", "evaluate", "attribute", "attribute_with_method", "prune", "dynamics",
                 "landscape"}
    # background_attribution runs DeepLabV3 on the CPU, alone since the analyses are batched (issue 25)
    gpu_partition = gpu_rules
    for rule, resources in profile["set-resources"].items():
        asks = resources.get("gpu") or "gpu" in str(resources.get("gres", "")) or "gpu" in str(
            resources.get("slurm_extra", ""))
        assert bool(asks) == (rule in gpu_rules), rule
        assert (resources.get("slurm_partition") == "gpu") == (rule in gpu_partition), rule
        assert not {"runtime", "mem_mb"} & set(resources), rule  # the rules declare their own
    assert profile["slurm-requeue"] is True and profile["jobs"] <= 500
    # one job per training job each, with runtimes that grow with the job's runs: never 8 in one allocation
    assert "groups" not in profile and "group-components" not in profile


def test_ci_preset_runs_every_job_through_sbatch(ci_on_slurm, slurm):
    workdir, log = ci_on_slurm["workdir"], ci_on_slurm["log"]
    missing = sorted(path for path in ci_on_slurm["outputs"] if not (workdir / path).exists())
    assert not missing, missing[:20]
    assert len(ci_on_slurm["outputs"]) > 100

    submitted = SUBMITTED.findall(log)
    slurm_ids = [int(slurm_id) for _, slurm_id, _ in submitted]
    retried = log.count("Trying to restart job")  # the profile's retries: 1
    assert retried == 0, log[-6000:]
    assert len(slurm_ids) == len(set(slurm_ids)) == ci_on_slurm["submissions"]
    # the per-run analyses went out as one job per training job (issue 25 item 3), as training did
    assert any("/rule_attribute/" in path for _, _, path in submitted)
    assert any("/rule_train_group/" in path for _, _, path in submitted)

    # the controller accepted each of them as a batch job, and each ended with exit status 0
    controller = (slurm["state"] / "log/slurmctld.log").read_text()
    for slurm_id in slurm_ids:
        assert re.search(rf"_slurm_rpc_submit_batch_job: JobId={slurm_id}\b", controller), slurm_id
        assert re.search(rf"_job_complete: JobId={slurm_id} WEXITSTATUS 0\b", controller), slurm_id
    # and squeue still lists the recent ones (finished jobs stay visible for MinJobAge = 300 s)
    listed = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i %T"], env=slurm["env"], capture_output=True,
                            text=True, check=True).stdout.split()
    assert str(slurm_ids[-1]) in listed
    print(f"\nci preset on SLURM: {len(slurm_ids)} sbatch submissions, {ci_on_slurm['seconds']:.0f} s")


def test_finished_run_has_nothing_left_to_do(checkout, shared_data, ci_on_slurm, slurm, overlay):
    # by modification times: a code or parameter edit in the checkout during the long run must not count
    result = snakemake(checkout, ci_on_slurm["workdir"], overlay, shared_data, "-n", "--rerun-triggers", "mtime",
                       env=slurm["env"])
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_scancelled_training_job_resumes_to_the_weights_of_an_uninterrupted_run(checkout, shared_data, slurm, overlay,
                                                                             ci_on_slurm, tmp_path):
    """The reference is the same group, trained uninterrupted by the ci run above (same cluster)."""
    env = slurm["env"]
    group = tmp_path / KILLED_GROUP
    target = KILLED_GROUP + "/group.json"
    output = (tmp_path / "first.log").open("w")
    first = snakemake(checkout, tmp_path, overlay, shared_data, "--retries", "0", target, env=env,
                      stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 600
    while not list(group.glob("checkpoint*.pt")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    assert first.poll() is None, "Snakemake ended before a checkpoint was written"
    assert list(group.glob("checkpoint*.pt")), "no checkpoint within 10 minutes"
    jobs = dict(line.split(maxsplit=1) for line in subprocess.run(
        ["squeue", "-h", "-o", "%i %k"], env=env, capture_output=True, text=True, check=True).stdout.splitlines())
    training = [slurm_id for slurm_id, comment in jobs.items() if comment.startswith("rule_train_group")]
    assert len(training) == 1, jobs
    subprocess.run(["scancel", training[0]], env=env, check=True)
    assert first.wait(timeout=600) != 0  # the cancelled job fails the run (no retries here)
    output.close()
    first_log = (tmp_path / "first.log").read_text()
    assert f"SLURM jobid {training[0]}" in first_log
    assert not (group / "group.json").exists()
    checkpoint = next(group.glob("checkpoint*.pt"))
    killed_at = torch.load(checkpoint, weights_only=False)["iteration"]
    assert 0 < killed_at < 1500

    rerun = snakemake(checkout, tmp_path, overlay, shared_data, "--retries", "0", target, env=env)
    assert rerun.returncode == 0, (rerun.stdout + rerun.stderr)[-4000:]
    assert SUBMITTED.search(rerun.stdout + rerun.stderr)  # the rerun went through sbatch too
    train_log = (tmp_path / "results/ci/logs/train/dataset~parity/model~fcn_parity/recipe~sgd/intervention~none.log")
    assert re.search(rf"resumed \d+ stacked models from .* at iteration {killed_at}\b", train_log.read_text())
    assert not list(group.glob("checkpoint*.pt"))

    reference = ci_on_slurm["workdir"] / KILLED_GROUP
    models = sorted(group.rglob("model.pt"))
    assert len(models) == 5
    for path in models:
        ours = torch.load(path, weights_only=True)
        theirs = torch.load(reference / path.relative_to(group), weights_only=True)
        assert ours.keys() == theirs.keys()
        assert all(torch.equal(ours[name], theirs[name]) for name in ours), path
    print(f"\nscancel at iteration {killed_at}: resumed run's {len(models)} models are bit-identical")
