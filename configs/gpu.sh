#!/usr/bin/env bash
# Train a reference model on a lent GPU machine (see configs/gpu.md); runs THERE, in the repository
# root, with the device's python3 (torch with CUDA and ganfill's dependencies; no install).
#   ZIP: images packed by configs/gpu_pack.py and carried; NAME: the model's name; the rest are
#   `ganfill train` / `train-encoder` options. The exported model (fp16) lands in $OUT.
#   ZIP=gpu/faces.zip NAME=faces64 CROP=center:108 STEPS=20000 bash configs/gpu.sh
set -euo pipefail
: "${ZIP:?ZIP=the packed images}" "${NAME:?NAME=the model name}" "${OUT:?OUT=the folder that comes back}"
STEPS=${STEPS:-20000}; ENC_STEPS=${ENC_STEPS:-6000}; RES=${RES:-64}; PREP_CROP=${PREP_CROP:-none}
CROP=${CROP:-}; TRAIN_ARGS=${TRAIN_ARGS:---arch dcgan --g-width 64 --d-width 64}; DEVICE=${DEVICE:-cuda}
WORK=${WORK:-/tmp/ganfill-gpu}
GF="python3 -m ganfill"
export PYTHONPATH=src
mkdir -p "$WORK"
python3 -m zipfile -e "$ZIP" "$WORK/images"
$GF prepare "$WORK/images" "$WORK/data" --resolution "$RES" --crop "$PREP_CROP" --overwrite
# checkpoints every 2000 iterations (the report's rhythm) so the quality-vs-training figure has points
$GF train "$WORK/data" --out "$WORK/run" $TRAIN_ARGS --steps "$STEPS" --checkpoint-every 2000 --keep 0 \
  --device "$DEVICE" --quiet
$GF export "$WORK/run" "$WORK/$NAME-gan.safetensors" ${CROP:+--crop "$CROP"}
$GF train-encoder "$WORK/$NAME-gan.safetensors" "$WORK/data" --out "$WORK/encoder" --steps "$ENC_STEPS" \
  --device "$DEVICE" --quiet
$GF export "$WORK/encoder" "$OUT/$NAME.safetensors" ${CROP:+--crop "$CROP"}
cp "$WORK/run/log.jsonl" "$OUT/$NAME-log.jsonl"
cp "$WORK/run/samples/step-$(printf %08d "$STEPS").png" "$OUT/$NAME-samples.png" 2>/dev/null || true
ls -la "$OUT"
