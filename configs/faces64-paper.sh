#!/usr/bin/env bash
# The research paper's architecture (`paper` preset: FC to 4x4, 5x5 kernels, LeakyReLU) against
# `dcgan`, both at width 32 on CelebA 64x64 for the same number of steps (equal images seen),
# compared in the README by hole PSNR (center mask, `ganfill evaluate`) and by how often the
# face detector finds a face in random samples. Run faces64.sh first (it prepares the data).
set -euo pipefail
RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-600}
for arch in paper dcgan; do
  run="$RUNS/faces64-$arch-w32"
  if [ -d "$run/checkpoints" ]; then
    $GF train --out "$run" --resume --steps "$STEPS"
  else
    $GF train "$RUNS/data/celeba64-train" --out "$run" --arch "$arch" --g-width 32 --d-width 32 \
      --steps "$STEPS" --checkpoint-every 200 --keep 8
  fi
done
