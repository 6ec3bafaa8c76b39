#!/usr/bin/env bash
# The runs behind docs/results/architectures.md: every architecture × {mean, pcgrad} × 3 seeds on MultiMNIST, 10 epochs,
# Adam lr 5e-4, batch 256. Finished runs are skipped and interrupted ones resumed, so the script can be re-run after a
# stop. Usage: bash docs/results/run-architectures.sh [DATA_DIR] [EPOCHS] [PARALLEL]
#   DATA_DIR holds mnist/ (default ../shared/data); PARALLEL runs at once (default 2, one per core).
set -euo pipefail
cd "$(dirname "$0")/../.."
data=${1:-../shared/data}
epochs=${2:-10}
parallel=${3:-2}
# Run from a private copy of the build so that rebuilding the tree meanwhile cannot change the binary mid-way.
bin=$(mktemp -d)
dotnet publish src/GradientSurgery.Cli -c Release -o "$bin" >/dev/null
run() {
  local arch=$1 method=$2 seed=$3
  local out=runs/architectures/multimnist-$arch-$method-seed$seed
  if [ -f "$out/model.bin" ]; then return; fi
  local resume=(); [ -f "$out/checkpoint.bin" ] && resume=(--resume)
  # One thread per run: the runs themselves fill the cores.
  OMP_NUM_THREADS=1 TERM=dumb dotnet "$bin/gsurg.dll" train --benchmark multimnist --arch "$arch" --method "$method" --data "$data" \
    --epochs "$epochs" --seed "$seed" --out "$out" "${resume[@]}" > "$out.log" 2>&1 || echo "failed: $out (see $out.log)"
}
mkdir -p runs/architectures
for seed in 0 1 2; do
  for arch in hps crossstitch mmoe mtan routing; do
    for method in mean pcgrad; do
      while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do sleep 5; done
      run "$arch" "$method" "$seed" &
    done
  done
done
wait
dotnet "$bin/gsurg.dll" summarize runs/architectures/*/ --markdown runs/architectures/summary.md --plot runs/architectures/accuracy.png
