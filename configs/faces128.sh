#!/usr/bin/env bash
# faces128: DCGAN width 32 on CelebA 128x128 (celeba128/train, the same identity split as
# celeba64), trained on the CPU in the background across sessions (the shipped file: 9,750
# iterations, then its encoder of z, 4,000); on a lent GPU, configs/faces128-gpu.sh continues it
# from the latest kept export. NAME and WIDTH train another run of the recipe (configs/faces128-wide.sh),
# ENC_STEPS=0 stops after the GAN.
set -euo pipefail
DATA=${DATA:-../shared/data}; RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}
STEPS=${STEPS:-9750}; NAME=${NAME:-faces128}; WIDTH=${WIDTH:-32}
# the run folder does not survive between sessions: INIT continues from the latest export kept
# in the repository (runs-keep/), whose iteration count carries on
INIT=${INIT:-$(ls runs-keep/"$NAME"-step*.safetensors 2>/dev/null | sort | tail -1 || true)}
[ -d "$RUNS/data/celeba128-train" ] || $GF prepare "$DATA/celeba128/train" "$RUNS/data/celeba128-train" --resolution 128 --crop none
[ -d "$RUNS/data/celeba128-val" ] || $GF prepare "$DATA/celeba128/val" "$RUNS/data/celeba128-val" --resolution 128 --crop none
if [ -d "$RUNS/$NAME/checkpoints" ]; then
  $GF train --out "$RUNS/$NAME" --resume --steps "$STEPS" --quiet
elif [ -n "$INIT" ]; then
  $GF train "$RUNS/data/celeba128-train" --out "$RUNS/$NAME" --init "$INIT" --steps "$STEPS" --quiet
else
  $GF train "$RUNS/data/celeba128-train" --out "$RUNS/$NAME" --arch dcgan --g-width "$WIDTH" --d-width "$WIDTH" \
    --steps "$STEPS" --checkpoint-every 250 --keep 3 --quiet
fi
# keep the latest weights in the repository (fp16, about 13 MB) for the next session's INIT
$GF export "$RUNS/$NAME" "runs-keep/$NAME-step$(printf %05d "$(ls "$RUNS/$NAME/checkpoints" | sort | tail -1 | tr -dc 0-9 | sed 's/^0*//')").safetensors" --crop center:128
# the encoder of z for that G, and the shipped file (G, D and the encoder; the photo path needs --faces)
ENC_STEPS=${ENC_STEPS:-4000}
[ "$ENC_STEPS" -gt 0 ] || exit 0
GAN=$(ls runs-keep/faces128-step*.safetensors | sort | tail -1)
if [ -d "$RUNS/faces128-enc/checkpoints" ]; then
  $GF train-encoder --out "$RUNS/faces128-enc" --resume --steps "$ENC_STEPS" --quiet
else
  $GF train-encoder "$GAN" "$RUNS/data/celeba128-train" --out "$RUNS/faces128-enc" --steps "$ENC_STEPS" \
    --checkpoint-every 250 --quiet
fi
$GF export "$RUNS/faces128-enc" src/ganfill/assets/models/faces128.safetensors --crop center:128 --faces celeba  # ships it
