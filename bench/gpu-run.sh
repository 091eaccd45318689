#!/usr/bin/env bash
# The GPU machine's measurements in one device call (see bench/RESULTS.md, "H100"): both matmul
# variants that suit a GPU over 10 epochs, the kernel microbenchmarks, and the CLI's 10-epoch run.
# Needs .gpu/ (../shared/device/pack.sh) and dist/node (scripts/build-node.mjs) carried along;
# writes 7 files under $OUT (the device tool brings back at most 8). Here (no GPU) it runs on the CPU
# adapter all the same, only slowly: pass EPOCHS=1 to try it.
set -uo pipefail
cd "$(dirname "$0")/.."
[ -f .gpu/setup.sh ] && source .gpu/setup.sh
out=${OUT:-bench/results}
epochs=${EPOCHS:-10}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$out/device.txt" 2>&1 || true
for variant in split tiles; do
  node dist/node/bench-node.mjs --data "$MNIST_DIR" --epochs "$epochs" --matmul "$variant" --out "$out/node-$variant.json" > "$out/node-$variant.txt" 2>&1
done
node dist/node/bench-kernels.mjs --out "$out/kernels.json" > "$out/kernels.txt" 2>&1
node dist/node/train.mjs --data "$MNIST_DIR" --epochs "$epochs" >> "$out/device.txt" 2>&1
tail -n 4 "$out"/node-*.txt "$out/device.txt"
