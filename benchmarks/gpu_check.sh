#!/usr/bin/env bash
# GPU check, one command (< 8 minutes on one GPU): the CUDA path of the pipeline, end to end.
#
#   1. device facts (torch, CUDA, GPU name);
#   2. stacked vs single-model training on the GPU: the same losses and weights (3 parity cells);
#   3. the `ci` preset with `device: cuda` (every rule, through Snakemake), timed;
#   4. the throughput benchmark (benchmarks/train_throughput.py) on every workload, with the
#      paper preset's GPU-hour estimate;
#   5. a short report: $OUT_DIR/gpu_report.md (plus the full logs beside it).
#
# Usage:  bash benchmarks/gpu_check.sh [OUT_DIR]        (default OUT_DIR: $OUT or gpu_check_out)
# Environment: DATA_ROOT (MNIST/ and cifar-10-batches-py/; default: .gpudata, then ../shared/data),
#   DEVICE (default cuda; `DEVICE=cpu` dry-runs this script on a CPU), CI_TARGET (a Snakemake
#   target instead of the whole ci preset), STEPS (benchmark steps, default 500), BENCH_DATASET
#   (one benchmark workload instead of all).
# Packages missing on the machine can come as wheels in .whl/ (installed to /tmp/site).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT_DIR=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
DEVICE=${DEVICE:-cuda}
STEPS=${STEPS:-500}
if [ -z "${DATA_ROOT:-}" ]; then
  for candidate in "$REPO/.gpudata" "$REPO/../shared/data"; do
    [ -d "$candidate/MNIST" ] && DATA_ROOT=$(cd "$candidate" && pwd) && break
  done
fi
DATA_ROOT=${DATA_ROOT:?no MNIST/CIFAR folder found: set DATA_ROOT}
if compgen -G ".whl/*.whl" >/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=$REPO/src${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1 CUBLAS_WORKSPACE_CONFIG=:4096:8
report=$OUT_DIR/gpu_report.md
started=$(date +%s)
{ echo "# GPU check ($(date -u +%F' '%H:%M' UTC'), device=$DEVICE)"; echo; } > "$report"

echo "== 1. device" | tee -a "$report"
python3 - "$DEVICE" <<'PY' 2>&1 | tee -a "$report"
import platform, sys, torch
device = torch.device(sys.argv[1])
print(f"- python {platform.python_version()}, torch {torch.__version__}, CUDA {torch.version.cuda}")
if device.type == "cuda":
    p = torch.cuda.get_device_properties(0)
    print(f"- GPU: {p.name}, {p.total_memory / 2**30:.0f} GiB, {p.multi_processor_count} SMs")
PY

echo "== 2. stacked vs single on $DEVICE" | tee -a "$report"
python3 - "$DEVICE" <<'PY' 2>&1 | tee -a "$report"
import sys, torch
from largelr.datasets.synthetic import generate_parity
from largelr.training.runs import init_model, to_tensor_split
from largelr.training.stacked import train_stacked
from largelr.training.loop import TrainSettings, train
torch.use_deterministic_algorithms(True, warn_only=True)
device = torch.device(sys.argv[1])
data = generate_parity(seed=0, n_train=2000, n_test=2000)
spec = {"arch": "fcn", "width": 200, "depth": 3}
splits = to_tensor_split(data, "train", device), to_tensor_split(data, "test", device)
settings = [TrainSettings(lr=lr, seed=s, max_iters=200, eval_interval=1, stop_loss=1e-12) for lr, s in [(0.05, 0), (0.3, 1), (0.75, 2)]]
outcomes = train_stacked([init_model(data, spec, s.seed).to(device) for s in settings], *splits, settings)
worst_loss = worst_weight = 0.0
for s, o in zip(settings, outcomes):
    model = init_model(data, spec, s.seed).to(device)
    r = train(model, *splits, s)
    a = torch.tensor([h["train_loss"] for h in r.history]); b = torch.tensor([h["train_loss"] for h in o.result.history])
    worst_loss = max(worst_loss, float(((a - b).abs() / a.abs()).max()))
    worst_weight = max(worst_weight, max(float((v.cpu() - o.state[k]).abs().max()) for k, v in model.state_dict().items()))
print(f"- 3 parity cells, 200 steps: max relative loss difference {worst_loss:.2e}, max weight difference {worst_weight:.2e}"
      f" -> {'OK' if worst_loss <= 1e-5 and worst_weight <= 1e-4 else 'DIFFERENT'}")
PY

echo "== 3. ci preset with device: $DEVICE" | tee -a "$report"
workdir=$(mktemp -d)
t0=$(date +%s)
timeout 330 python3 -m snakemake ${CI_TARGET:-} -s "$REPO/Snakefile" --directory "$workdir" --cores 8 --scheduler greedy \
  --config preset=ci device="$DEVICE" data_root="$DATA_ROOT" > "$OUT_DIR/ci_snakemake.log" 2>&1
status=$?
t1=$(date +%s)
echo "- snakemake exit $status after $((t1 - t0)) s (log: ci_snakemake.log)" | tee -a "$report"
python3 - "$workdir" <<'PY' 2>&1 | tee -a "$report"
import json, pathlib, sys
import pandas as pd
root = pathlib.Path(sys.argv[1]) / "results/ci"
records = [json.loads(p.read_text()) for p in root.glob("runs/**/run.json")]
if records:
    frame = pd.DataFrame({"status": [r["status"] for r in records], "device": [r["device"] for r in records],
                          "engine": [r.get("engine", {}).get("kind") for r in records],
                          "wall_s": [r["wall_time_s"] for r in records]})
    print(f"- {len(records)} runs: " + ", ".join(f"{k} {v}" for k, v in frame["status"].value_counts().items())
          + "; devices " + ", ".join(sorted(set(frame["device"]))) + "; engines "
          + ", ".join(f"{k} {v}" for k, v in frame["engine"].value_counts().items()))
    bench = [pd.read_csv(p, sep="\t")["s"].iloc[0] for p in root.glob("benchmarks/train/**/*.tsv")]
    print(f"- training jobs: {len(bench)}, {sum(bench):.0f} s of job time in all")
figures = sorted(p.stem for p in root.glob("figures/*.png"))
print(f"- figures drawn: {len(figures)} ({' '.join(figures)})")
PY
tail -n 40 "$OUT_DIR/ci_snakemake.log" | grep -iE "error|exception" | head -5 | sed 's/^/  /' | tee -a "$report"

echo "== 4. throughput (per cell, ratios against a plain DataLoader loop)" | tee -a "$report"
timeout 240 python3 benchmarks/train_throughput.py --dataset "${BENCH_DATASET:-all}" --device "$DEVICE" --steps "$STEPS" \
  --data-root "$DATA_ROOT" --paper-estimate 2>&1 | tee "$OUT_DIR/throughput.txt" | tee -a "$report"

echo "== total $(( $(date +%s) - started )) s" | tee -a "$report"
