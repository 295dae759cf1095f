#!/usr/bin/env bash
# faces128 on a lent GPU in one device call (configs/gpu.md): the GAN continued from an export of
# the CPU run (--init), the context encoder trained beside it on the same GPU, then the encoder of
# z; each stage time-boxed so the whole call ends inside one command's limit. Runs THERE:
#   ZIP=gpu/faces128.zip INIT=gpu/init128.safetensors bash configs/faces128-gpu.sh
# Everything that comes back is one tar split into 15 MiB parts ($OUT/faces128.tar.part-*):
#   cat faces128.tar.part-* | tar -x
set -uo pipefail
: "${ZIP:?}" "${INIT:?}" "${OUT:?}"
GAN_S=${GAN_S:-330}; CE_S=${CE_S:-420}; ENC_S=${ENC_S:-120}; DEVICE=${DEVICE:-cuda}; EVERY=${EVERY:-500}
WORK=${WORK:-/tmp/ganfill-gpu}; GF="python3 -m ganfill"; export PYTHONPATH=src OMP_NUM_THREADS=${OMP_NUM_THREADS:-6}
R=$WORK/result; mkdir -p "$WORK" "$R"
t0=$(date +%s); stamp() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
python3 -c "import torch; print(torch.__version__, torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'cpu')"
python3 -m zipfile -e "$ZIP" "$WORK/images"
$GF prepare "$WORK/images" "$WORK/data" --resolution 128 --crop none --overwrite > "$R/prepare.log" 2>&1 || { cat "$R/prepare.log"; exit 1; }
stamp prepared
timeout "$GAN_S" $GF train "$WORK/data" --out "$WORK/gan" --init "$INIT" --steps 100000 --checkpoint-every "$EVERY" --keep 0 \
  --device "$DEVICE" --quiet > "$R/gan.out" 2>&1 &
GAN=$!
timeout "$CE_S" $GF train-ce "$WORK/data" --out "$WORK/ce" --width 32 --bottleneck 256 --adv-width 32 --steps 100000 \
  --checkpoint-every "$EVERY" --keep 2 --device "$DEVICE" --quiet > "$R/ce.out" 2>&1 &
CE=$!
wait $GAN; stamp "gan stopped: $(ls "$WORK/gan/checkpoints" | tail -1)"
cp "$WORK/gan/log.jsonl" "$R/gan-log.jsonl"; cp "$WORK/gan/options.json" "$R/gan-options.json"
$GF export "$WORK/gan" "$WORK/faces128-gan.safetensors" --crop center:128
# one checkpoint half-way, for the quality-against-training figure
ck=( $(ls "$WORK/gan/checkpoints") ); mid=${ck[$(( ${#ck[@]} / 2 ))]}
$GF export "$WORK/gan/checkpoints/$mid" "$R/faces128-$mid.safetensors" --crop center:128
last=$(ls "$WORK/gan/samples" | tail -1); cp "$WORK/gan/samples/$last" "$R/gan-samples-$last"
stamp "encoder"
timeout "$ENC_S" $GF train-encoder "$WORK/faces128-gan.safetensors" "$WORK/data" --out "$WORK/enc" --steps 100000 \
  --checkpoint-every "$EVERY" --keep 2 --device "$DEVICE" --quiet > "$R/enc.out" 2>&1
cp "$WORK/enc/log.jsonl" "$R/enc-log.jsonl"
$GF export "$WORK/enc" "$R/faces128.safetensors" --crop center:128 || cp "$WORK/faces128-gan.safetensors" "$R/"
wait $CE; stamp "ce stopped: $(ls "$WORK/ce/checkpoints" | tail -1)"
cp "$WORK/ce/log.jsonl" "$R/ce-log.jsonl"
$GF export "$WORK/ce" "$R/faces128-ce.safetensors" --crop center:128
rm -f "$R"/*.md
stamp packing; ls -la "$R"
tar -C "$WORK" -cf - result | split -b 15m - "$OUT/faces128.tar.part-"
ls -la "$OUT"; stamp done
