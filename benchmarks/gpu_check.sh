#!/usr/bin/env bash
# GPU check, one command (< 9 minutes on one GPU): what the `paper` preset's cost rests on, measured.
#
#   1. device facts (torch, CUDA, GPU name); 1b. the ci parity weights digest on this machine's CPU
#      (tests/data/portable_digests.json: bit-identical on any AVX2 CPU?);
#   2. stacked vs single-model training on the device: the same losses and weights, for the parity
#      FCN (3 cells) and for ResNet18 with its batch-norm statistics (3 cells, 200 steps, float64;
#      skipped, with the engine's reason, where the stacked engine refuses batch-norm models);
#   3. benchmarks/paper_cost.py's per-step and check timings on the device, for the `paper` and `gpu`
#      presets (baseline engine vs this one; --json beside the report);
#   4. one Colored MNIST ResNet18 training group of the `paper` grid (full 60 000 images, 2 LRs x
#      2 seeds) trained to 100 % training accuracy or a 6-minute limit; its finished runs then
#      calibrate paper_cost.py's iteration rule (--calibrate-from), printed with the same timings;
#   5. a short report: $OUT_DIR/gpu_report.md (the full logs beside it).
#   With FULL=1 also: the `ci` preset through Snakemake on the device, and benchmarks/train_throughput.py.
#
# Usage:  bash benchmarks/gpu_check.sh [OUT_DIR]        (default OUT_DIR: $OUT or gpu_check_out)
# Environment: DATA_ROOT (MNIST/ and cifar-10-batches-py/; default: .gpudata, then ../shared/data),
#   DEVICE (default cuda; `DEVICE=cpu` dry-runs this script on a CPU), and the budgets, whose defaults
#   are the GPU run's: EXACT_STEPS (200), COST_ARGS (paper_cost.py arguments, "--steps 3 --stack-sizes 4,16"),
#   COST_LIMIT (s, 80; the gpu preset is measured first, the second, recalibrated run reuses the times),
#   TRAIN_SUBSET (Colored MNIST training images, default all 60 000), TRAIN_LIMIT (s, 360), FULL (0).
#   A CPU dry run in a few minutes:
#     DEVICE=cpu EXACT_STEPS=3 COST_ARGS="--quick --only parity" TRAIN_SUBSET=100 TRAIN_LIMIT=150 \
#       bash benchmarks/gpu_check.sh /tmp/gpu_check_cpu
# Packages missing on the machine can come as wheels in .whl/ (installed to /tmp/site).
set -uo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT_DIR=${1:-${OUT:-gpu_check_out}}
mkdir -p "$OUT_DIR"
OUT_DIR=$(cd "$OUT_DIR" && pwd)
DEVICE=${DEVICE:-cuda}
EXACT_STEPS=${EXACT_STEPS:-200}
COST_ARGS=${COST_ARGS:---steps 3 --stack-sizes 4,16}
COST_LIMIT=${COST_LIMIT:-80}
TRAIN_SUBSET=${TRAIN_SUBSET:-0}
TRAIN_LIMIT=${TRAIN_LIMIT:-360}
FULL=${FULL:-0}
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

echo "== 1b. the ci parity digest on this machine's CPU (issue 26: pinned kernels, a second CPU)" | tee -a "$report"
python3 benchmarks/portable_digest.py > "$OUT_DIR/portable_digest.json" 2> "$OUT_DIR/portable_digest.log"
python3 - "$OUT_DIR/portable_digest.json" <<'PY' 2>&1 | tee -a "$report"
import json, sys
cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
recorded = json.load(open("tests/data/portable_digests.json"))["ci_parity"]
try:
    report = json.load(open(sys.argv[1]))
except ValueError:
    sys.exit(f"- portable_digest.py failed on {cpu}: see portable_digest.log")
same = report["digest"] == recorded["digest"] and report["cells"] == recorded["cells"]
print(f"- CPU {cpu}, kernels {report['kernels'].get('cpu_capability')}: digest {report['digest'][:12]}... "
      f"{'EQUALS' if same else 'DIFFERS FROM'} the recorded {recorded['digest'][:12]}... (checked on {recorded['checked_on']})")
PY

echo "== 2. stacked vs single on $DEVICE (losses to 1e-5 relative, weights and running statistics to 1e-4)" \
  | tee -a "$report"
timeout 240 python3 - "$DEVICE" "$EXACT_STEPS" <<'PY' 2>&1 | tee "$OUT_DIR/exactness.log" | grep -v "^  " | tee -a "$report"
import sys, torch
from largelr.datasets.synthetic import generate_parity
from largelr.training.protocol import TensorSplit, TrainSettings
from largelr.training.single import train
from largelr.training.runs import _start, init_model, to_tensor_split
from largelr.training.stacked import train_stacked, why_not_stackable

device, steps = _start(sys.argv[1]), int(sys.argv[2])


def compare(name, data, spec, splits, lrs, dtype=torch.float32):
    settings = [TrainSettings(lr=lr, seed=s, max_iters=steps, eval_interval=max(1, steps // 10), stop_loss=1e-12,
                              checkpoint_interval=10 * steps) for s, lr in enumerate(lrs)]
    models = [init_model(data, spec, s.seed).to(dtype) for s in settings]
    reason = why_not_stackable(models[0], settings)
    if reason is not None:
        print(f"- {name}: skipped, the stacked engine refuses it here ({reason})")
        return
    outcomes = train_stacked([m.to(device) for m in models], *splits, settings)
    worst_loss = worst_weight = 0.0
    for s, o in zip(settings, outcomes):
        model = init_model(data, spec, s.seed).to(device, dtype)
        r = train(model, *splits, s)
        a = torch.tensor([h["train_loss"] for h in r.history])
        b = torch.tensor([h["train_loss"] for h in o.result.history])
        worst_loss = max(worst_loss, float(((a - b).abs() / a.abs()).max()))
        state = model.state_dict()
        worst_weight = max(worst_weight, max(float((state[k].cpu().double() - o.state[k].double()).abs().max())
                                             for k in state if k in o.state))
        missing = sorted(set(state) - set(o.state))
        if missing:
            print(f"  {name}: the stacked state lacks {missing[:3]}")
    ok = worst_loss <= 1e-5 and worst_weight <= 1e-4
    print(f"- {name}, {len(lrs)} cells, {steps} steps: max relative loss difference {worst_loss:.2e}, max weight / "
          f"statistic difference {worst_weight:.2e} -> {'OK' if ok else 'DIFFERENT'}")


torch.use_deterministic_algorithms(True, warn_only=True)
parity = generate_parity(seed=0, n_train=2000, n_test=2000)
splits = to_tensor_split(parity, "train", device), to_tensor_split(parity, "test", device)
compare("parity FCN 3x200", parity, {"arch": "fcn", "width": 200, "depth": 3}, splits, [0.05, 0.3, 0.75])


class Shaped:  # what init_model reads of a dataset: Colored MNIST's input shape and classes
    input_shape, num_classes = (3, 28, 28), 10


g = torch.Generator().manual_seed(0)
def split(n):
    y = torch.randint(10, (n,), generator=g)
    x = torch.rand((n, 3, 28, 28), generator=g, dtype=torch.float64)
    return TensorSplit(x.to(device), y.to(device), y.to(device))
# float64, as tests/training/test_stacked_batch_norm.py: in float32 a batch-norm ResNet's trajectories
# separate chaotically (rounding differences of the grouped convolutions grow ~10x per 20 steps)
n = 1000 if device.type == "cuda" else 64  # a CPU dry run: fewer samples per log row
compare("ResNet18 (stock stem, Colored MNIST shape, float64)", Shaped(),
        {"arch": "torchvision", "name": "resnet18", "small_input": False}, (split(n), split(n // 2)), [0.01, 0.05, 0.1],
        torch.float64)
PY
rc=${PIPESTATUS[0]}
[ "$rc" = 0 ] || echo "- stopped (exit $rc; 124 = the 240 s limit)" | tee -a "$report"

echo "== 3. paper_cost.py timings on $DEVICE (gpu and paper presets; full log: paper_cost.txt)" | tee -a "$report"
timeout "$COST_LIMIT" python3 benchmarks/paper_cost.py --preset gpu,paper --device "$DEVICE" $COST_ARGS \
  --cache "$OUT_DIR/paper_cost_times.json" --json "$OUT_DIR/paper_cost.json" > "$OUT_DIR/paper_cost.txt" \
  2> "$OUT_DIR/paper_cost.err"
echo "- exit $? (124 = stopped at COST_LIMIT=${COST_LIMIT} s)" | tee -a "$report"
grep -E "^(#|paper|gpu|ratio|- )" "$OUT_DIR/paper_cost.txt" | tee -a "$report"

echo "== 4. Colored MNIST ResNet18 group of the paper grid (2 LRs x 2 seeds) to 100 % or ${TRAIN_LIMIT} s" \
  | tee -a "$report"
mkdir -p "$OUT_DIR/calibration"
timeout 300 python3 - "$DATA_ROOT" "$TRAIN_SUBSET" "$OUT_DIR/calibration" <<'PY' > "$OUT_DIR/train_group.log" 2>&1
import json, sys, time
from largelr.datasets import save_dataset
from largelr.datasets.semisynthetic import generate_colored_mnist

data_root, subset, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
t0 = time.time()
data = generate_colored_mnist(seed=0, data_root=data_root, subset_train=subset or None, subset_test=1000)
save_dataset(data, f"{out}/colored_mnist.npz")
with open(f"{out}/n_train.json", "w") as handle:  # paper_cost.py --calibrate-from reads the epochs from it
    json.dump({"colored_mnist": len(data.train)}, handle)
print(f"dataset: {len(data.train)} training images, built in {time.time() - t0:.0f} s", flush=True)
PY
t0=$(date +%s)
# the paper grid's cells (config.yaml: paper, colored_mnist / resnet18 / sgd), stopped at TRAIN_LIMIT
timeout "$TRAIN_LIMIT" python3 - "$DEVICE" "$OUT_DIR/calibration" <<'PY' >> "$OUT_DIR/train_group.log" 2>&1
import logging, sys
from largelr.training.recipes import train_settings
from largelr.training.runs import train_group

device, out = sys.argv[1], sys.argv[2]
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
cells = [{"dataset": "colored_mnist", "model": "resnet18", "recipe": "sgd", "lr": lr, "intervention": "none", "seed": s}
         for lr in (0.01, 0.1) for s in (0, 1)]
training = {"max_iters": 200000, "eval_interval": 100, "checkpoint_interval": 5000, "test_eval_samples": 1000}
train_group(f"{out}/colored_mnist.npz", [f"{out}/runs/lr~{c['lr']}/seed~{c['seed']}" for c in cells], cells,
            {"arch": "torchvision", "name": "resnet18", "small_input": False},
            [train_settings(c, {"kind": "sgd"}, training) for c in cells], device=device, checkpoint_dir=out)
PY
status=$?
echo "training: $([ $status = 0 ] && echo finished || echo "stopped (exit $status; 124 = the limit)") after \
$(( $(date +%s) - t0 )) s" >> "$OUT_DIR/train_group.log"
echo "- $(grep -E '^dataset:' "$OUT_DIR/train_group.log")" | tee -a "$report"
echo "- $(grep -E '^training:' "$OUT_DIR/train_group.log")" | tee -a "$report"
python3 - "$OUT_DIR/calibration" "$OUT_DIR/train_group.log" <<'PY' 2>&1 | tee -a "$report"
import json, pathlib, sys
runs = sorted(pathlib.Path(sys.argv[1]).glob("runs/**/run.json"))
sizes = pathlib.Path(sys.argv[1]) / "n_train.json"
n = json.loads(sizes.read_text())["colored_mnist"] if sizes.exists() else 60000
for path in runs:
    r = json.loads(path.read_text())
    print(f"- lr {r['cell']['lr']}, seed {r['cell']['seed']}: {r['status']} after {r['iterations']} iterations "
          f"({r['iterations'] * 100 / n:.1f} epochs of {n}), {r['wall_time_s']:.0f} s, engine {r['engine']}")
progress = [line for line in pathlib.Path(sys.argv[2]).read_text().splitlines() if " iter " in line]
print(f"- {len(runs)} of 4 cells finished" + (f"; last log line: {progress[-1].split(' ', 3)[-1]}" if progress else ""))
PY
if compgen -G "$OUT_DIR/calibration/runs/*/*/run.json" >/dev/null; then
  echo "- paper_cost.py with the iteration rule refitted on these runs:" | tee -a "$report"
  timeout "$COST_LIMIT" python3 benchmarks/paper_cost.py --preset gpu,paper --device "$DEVICE" $COST_ARGS \
    --cache "$OUT_DIR/paper_cost_times.json" --calibrate-from "$OUT_DIR/calibration" --json "$OUT_DIR/paper_cost_calibrated.json" \
    > "$OUT_DIR/paper_cost_calibrated.txt" 2>> "$OUT_DIR/paper_cost.err"
  grep -E "^(paper|gpu|ratio|- iterations)" "$OUT_DIR/paper_cost_calibrated.txt" | tee -a "$report"
fi

if [ "$FULL" = 1 ]; then
  echo "== 5. ci preset with device: $DEVICE" | tee -a "$report"
  workdir=$(mktemp -d)
  t0=$(date +%s)
  timeout 330 python3 -m snakemake -s "$REPO/Snakefile" --directory "$workdir" --cores 8 --scheduler greedy \
    --config preset=ci device="$DEVICE" data_root="$DATA_ROOT" > "$OUT_DIR/ci_snakemake.log" 2>&1
  echo "- snakemake exit $? after $(( $(date +%s) - t0 )) s (log: ci_snakemake.log)" | tee -a "$report"
  echo "== 6. throughput (per cell, ratios against a plain DataLoader loop)" | tee -a "$report"
  timeout 240 python3 benchmarks/train_throughput.py --dataset all --device "$DEVICE" --steps "$STEPS" \
    --data-root "$DATA_ROOT" 2>&1 | tee "$OUT_DIR/throughput.txt" | tee -a "$report"
fi

echo "== total $(( $(date +%s) - started )) s" | tee -a "$report"
