"""Compare architecture presets trained on faces: the README's `paper` vs `dcgan` table.

    .venv/bin/python docs/compare_presets.py DATA RUN [RUN ...] [-n 100] [--samples 256]

For each run (its latest checkpoint): parameters, the rate at
which the face detector finds a face in random samples (next to its rate on DATA's originals),
and hole PSNR with the center mask on the first -n held-out images of DATA for ganfill's
default search (same images, holes and z for every run; `ganfill.evaluation`'s own functions).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ganfill.core.runtime import resolve
from ganfill.evaluation.evaluate import complete_ganfill, load_images, make_holes
from ganfill.evaluation.judges import faces_found
from ganfill.evaluation.metrics import psnr_hole
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import Sharp
from ganfill.models import files as checkpoint
from ganfill.training.gan import sample


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("-n", type=int, default=100)
    ap.add_argument("--samples", type=int, default=256)
    args = ap.parse_args()
    rows = []
    originals_rate = None
    for run in args.runs:
        m = checkpoint.load(run, kind="gan")
        images, _ = load_images(args.data, m, n=args.n, seed=0)
        if originals_rate is None:
            originals_rate = faces_found(images).mean()
        holes = make_holes("center", args.n, m.config.resolution)
        done, _ = complete_ganfill(Sharp(m.prior(resolve()), CompleteConfig(), ("poisson", "paste")), images, holes)["ganfill"]
        psnr = np.mean([min(psnr_hole(images[i], done[i], holes[i]), 100) for i in range(args.n)])
        face_rate = faces_found(sample(m.G, args.samples, seed=0)).mean()
        params = sum(p.numel() for p in m.G.parameters()), sum(p.numel() for p in m.D.parameters())
        c = m.config
        rows.append(
            f"| `{c.arch}` width {c.g_width} | {params[0] / 1e6:.2f}M / {params[1] / 1e6:.2f}M | "
            f"{m.info.get('step', '?')} | {100 * face_rate:.0f}% | {psnr:.2f} |"
        )
        print(rows[-1], flush=True)
    print(
        f"\n| preset | parameters G / D | iterations | faces found in samples "
        f"(originals: {100 * originals_rate:.0f}%) | hole PSNR, center (dB) |\n|---|---|---:|---:|---:|"
    )
    print("\n".join(rows))


if __name__ == "__main__":
    main()
