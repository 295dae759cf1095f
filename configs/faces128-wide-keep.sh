#!/usr/bin/env bash
# Before a session ends: the wide faces128 run's latest checkpoint exported (fp16) into runs-keep/,
# replacing the previous one, for the next session's configs/faces128-wide.sh to continue from.
set -euo pipefail
RUNS=${RUNS:-runs}; GF=${GF:-.venv/bin/ganfill}; RUN=$RUNS/faces128w48
step=$(ls "$RUN/checkpoints" | sort | tail -1 | tr -dc 0-9 | sed 's/^0*//')
out=runs-keep/faces128w48-step$(printf %05d "$step").safetensors
$GF export "$RUN" "$out" --crop center:128
for old in runs-keep/faces128w48-step*.safetensors; do [ "$old" = "$out" ] || git rm -q --cached "$old" 2>/dev/null || true; [ "$old" = "$out" ] || rm -f "$old" "${old%.safetensors}.md"; done
echo "$out"
