#!/usr/bin/env bash
# faces64: DCGAN (pytorch/examples architecture, width 64) on CelebA 64x64, train identities only.
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-2500}
[ -d "$RUNS/data/celeba64-train" ] || $GF prepare "$DATA/celeba64/train" "$RUNS/data/celeba64-train" --crop none
[ -d "$RUNS/data/celeba64-val" ] || $GF prepare "$DATA/celeba64/val" "$RUNS/data/celeba64-val" --crop none
# INIT=faces64 (with a larger STEPS) trains the shipped model on where no run folder survived:
# G, D and the iteration count come from the file, the encoder below is fine-tuned from its own
INIT=${INIT:-}
if [ -d "$RUNS/faces64-dcgan/checkpoints" ]; then
  $GF train --out "$RUNS/faces64-dcgan" --resume --steps "$STEPS"
elif [ -n "$INIT" ]; then
  $GF train "$RUNS/data/celeba64-train" --out "$RUNS/faces64-dcgan" --init "$INIT" --steps "$STEPS"
else
  $GF train "$RUNS/data/celeba64-train" --out "$RUNS/faces64-dcgan" --arch dcgan --g-width 64 --d-width 64 \
    --steps "$STEPS" --checkpoint-every 500 --keep 2
fi
$GF export "$RUNS/faces64-dcgan" "$RUNS/faces64-gan.safetensors" --crop center:108
# the encoder of z for that G (amortised inversion: the search starts from its guess)
ENC_STEPS=${ENC_STEPS:-$([ -n "$INIT" ] && echo 1500 || echo 6000)}
if [ -d "$RUNS/faces64-encoder/checkpoints" ]; then
  $GF train-encoder --out "$RUNS/faces64-encoder" --resume --steps "$ENC_STEPS"
else
  $GF train-encoder "$RUNS/faces64-gan.safetensors" "$RUNS/data/celeba64-train" --out "$RUNS/faces64-encoder" \
    --steps "$ENC_STEPS" --checkpoint-every 500 ${INIT:+--init "$INIT"}
fi
$GF export "$RUNS/faces64-encoder" src/ganfill/assets/models/faces64.safetensors  # ships it
