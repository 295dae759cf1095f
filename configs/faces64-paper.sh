#!/usr/bin/env bash
# The research paper's architecture (`paper` preset: FC to 4x4, 5x5 kernels, LeakyReLU) against
# `dcgan` on CelebA 64x64 for the same number of steps (equal images seen), compared in the
# README by hole PSNR (center mask, `ganfill evaluate`) and by how often the face detector finds
# a face in random samples. Run faces64.sh first (it prepares the data).
#   WIDTH=32 STEPS=600 (default): both presets, the README's short comparison (docs/compare_presets.py)
#   WIDTH=64 ARCHS=paper STEPS=6500: the paper preset at faces64's width, scored checkpoint by
#     checkpoint beside the faces64 run (benchmarks/quality_vs_training.py ... --compare)
set -euo pipefail
RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-600}; WIDTH=${WIDTH:-32}; ARCHS=${ARCHS:-paper dcgan}
EVERY=$([ "$WIDTH" = 32 ] && echo 200 || echo 500)
for arch in $ARCHS; do
  run="$RUNS/faces64-$arch-w$WIDTH"
  if [ -d "$run/checkpoints" ]; then
    $GF train --out "$run" --resume --steps "$STEPS"
  else
    $GF train "$RUNS/data/celeba64-train" --out "$run" --arch "$arch" --g-width "$WIDTH" --d-width "$WIDTH" \
      --steps "$STEPS" --checkpoint-every "$EVERY" --keep 40
  fi
done
