"""The CNN realism judge on a tuning split of held-out faces: its scores, their spread over seeds, its cost.

    .venv/bin/python benchmarks/cnn_judge.py DATA [--model faces64] [--mask center] [--first 1000 --count 200]
        [--seeds 4] [--methods telea,fast,faithful] [--out benchmarks/cnn-judge.json] [key=value ...]

DATA: held-out images (a prepared dataset, e.g. celeba64/val as `ganfill prepare ... --crop none`
writes it).  The images at positions ``--first`` to ``--first + --count`` of the seeded order
``ganfill evaluate`` uses (images 0-199, which the reports score, stay out), the same seeded
holes, completed by each of ``--methods`` (registered modes); then ``judges.cnn_detectability``
(its keyword arguments replaced by ``key=value``, e.g. ``steps=100 width=16``) with seeds 0 ..
``--seeds``-1 on each method, and on the originals of one half against the other half, and the
texture judge once.  Prints and writes (JSON) the mean and standard deviation over seeds, and
the judge's wall and CPU seconds per call; the first line names the CPU and the precision.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from ganfill.core.files import atomic_path
from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation.evaluate import load_images, make_holes
from ganfill.evaluation.judges import cnn_detectability, detectability
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.models import files as checkpoint


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data")
    ap.add_argument("--model", default="faces64")
    ap.add_argument("--mask", default="center")
    ap.add_argument("--first", type=int, default=1000)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seeds", type=int, default=4)
    ap.add_argument("--methods", default="telea,fast,faithful")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "cnn-judge.json")
    ap.add_argument("settings", nargs="*", help="cnn_detectability keyword arguments as key=value (numbers)")
    args = ap.parse_intermixed_args()
    runtime = resolve("cpu", "auto")
    print(machine_line(runtime), flush=True)
    settings = {k: float(v) if "." in v or "e" in v else int(v) for k, v in (s.split("=", 1) for s in args.settings)}
    model = checkpoint.load(args.model)
    images, _ = load_images(args.data, model, n=args.first + args.count)
    images = images[args.first :]
    holes = make_holes(args.mask, len(images), model.config.resolution)
    half = len(images) // 2
    pairs = {"originals (one half against the other)": (images[:half], images[half : 2 * half], holes[:half])}
    for mode in args.methods.split(","):
        done = load_inpainter(model, mode, runtime=runtime)(images, ~holes)
        pairs[mode] = (images, done.completed["poisson"], holes)
    rows = []
    for name, (a, b, h) in pairs.items():
        scores, wall, cpu = [], [], []
        for seed in range(args.seeds):
            w0, c0 = time.perf_counter(), time.process_time()
            scores.append(cnn_detectability(a, b, h, seed=seed, runtime=runtime, **settings))
            wall.append(time.perf_counter() - w0)
            cpu.append(time.process_time() - c0)
        row = {
            "method": name,
            "images": len(a),
            "cnn": scores,
            "cnn_mean": float(np.mean(scores)),
            "cnn_sd": float(np.std(scores, ddof=1)) if len(scores) > 1 else None,
            "texture": detectability(a, b),
            "seconds_wall": float(np.mean(wall)),
            "seconds_cpu": float(np.mean(cpu)),
        }
        rows.append(row)
        sd = f" +- {100 * row['cnn_sd']:.1f}" if row["cnn_sd"] is not None else ""
        print(
            f"{name}: cnn {100 * row['cnn_mean']:.1f}%{sd} ({args.seeds} seeds), texture {100 * row['texture']:.1f}%; "
            f"cnn judge {row['seconds_wall']:.1f} s wall, {row['seconds_cpu']:.1f} s CPU per call",
            flush=True,
        )
    record = {"machine": machine_line(runtime), "args": vars(args) | {"out": str(args.out)}, "settings": settings, "rows": rows}
    with atomic_path(args.out) as tmp:
        tmp.write_text(json.dumps(record, indent=1))


if __name__ == "__main__":
    main()
