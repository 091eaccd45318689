#!/usr/bin/env bash
# Every GPU-machine measurement in one device call (bench/RESULTS.md says how to make it):
#   carry [".gpu", "dist"], command `bash bench/gpu-run.sh`, timeout_s ≈ 420.
# Needs .gpu/ (bash ../shared/device/pack.sh) and dist/node (node scripts/build-node.mjs) built here.
# It prints the adapter and nvidia-smi first (a failed driver set-up shows at once), caps every run
# with `timeout` so the whole ends within ~6 minutes even on a GPU 10× slower than expected, and
# writes each result file under $OUT as soon as it finishes (what is there comes back even if the
# call is cut). Here, with no GPU, it runs on lavapipe all the same: EPOCHS=1 tries it.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f .gpu/setup.sh ] && source .gpu/setup.sh
out=${OUT:-bench/results/gpu-run}
epochs=${EPOCHS:-10}
cap=${CAP_SECONDS:-60}
mkdir -p "$out"
data="${MNIST_DIR:-../shared/mnist}"

step() { # step NAME SECONDS COMMAND...: runs with a cap, output to $out/NAME.txt, one status line here
  local name=$1 seconds=$2
  shift 2
  local start=$SECONDS
  timeout -k 5 "$seconds" "$@" > "$out/$name.txt" 2>&1
  local rc=$?
  echo "[$name] exit $rc after $((SECONDS - start)) s (cap ${seconds} s)"
  tail -n 3 "$out/$name.txt" | sed "s/^/[$name]   /"
}

{ date -u +%FT%TZ; git rev-parse --short HEAD 2>/dev/null || echo "(no git)"; } > "$out/run.txt"
timeout 15 nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv,noheader >> "$out/run.txt" 2>&1 || echo "nvidia-smi: not available" >> "$out/run.txt"
cat "$out/run.txt"
step adapter 30 node dist/node/adapter.mjs
# PyTorch with CUDA on the same GPU, eager and with the whole step in a CUDA graph: the ratio to the strongest alternative comes from this run.
if command -v python3 >/dev/null && python3 -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
  step torch-cuda 120 python3 scripts/torch_reference.py --data "$data" --device cuda --epochs "$epochs" --out "$out/torch-cuda.jsonl"
else
  echo "[torch-cuda] skipped: no PyTorch with CUDA here"
fi
for variant in split tiles; do
  step "node-$variant" "$cap" node dist/node/bench-node.mjs --data "$data" --epochs "$epochs" --matmul "$variant" --out "$out/node-$variant.json"
done
step kernels "$cap" node dist/node/bench-kernels.mjs --out "$out/kernels.json"
step cli "$cap" node dist/node/train.mjs --data "$data" --epochs "$epochs" --json
# The peers, when their bundles were built here (npm run bench:peers once, then build-node.mjs).
if [ -f dist/node/peers/tfjs.mjs ] && [ -f dist/node/peers/jax.mjs ]; then
  step peers "$((cap * 2))" node dist/node/bench-peers.mjs --data "$data" --steps 300 --repeats 1 --timeout "$cap" --out "$out/peers.json"
fi
ls -l "$out"
