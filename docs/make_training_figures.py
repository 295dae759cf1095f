"""Training-progress figures for the README: sample grids at several checkpoints and the loss curve.

    .venv/bin/python docs/make_training_figures.py NAME RUN [--steps 0 500 1000 2000]

Writes docs/training-NAME.png (the run's fixed-z sample grids side by side, as the source
report shows progress) and docs/loss-NAME.png (the run's own loss.png, regenerated).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

from ganfill.training.loop import plot_losses  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("name")
    ap.add_argument("run", type=Path)
    ap.add_argument("--steps", type=int, nargs="*")
    ap.add_argument("--rows", type=int, default=4, help="rows of each 8x8 grid to show")
    args = ap.parse_args()
    grids = sorted((args.run / "samples").glob("step-*.png"))
    if args.steps:
        grids = [g for g in grids if int(g.stem.split("-")[1]) in set(args.steps)]
    fig, axes = plt.subplots(1, len(grids), figsize=(2.6 * len(grids), 2.6 * args.rows / 8 + 0.45), dpi=110)
    for ax, path in zip(axes, grids):
        im = Image.open(path)
        ax.imshow(im.crop((0, 0, im.width, im.height * args.rows // 8)))
        ax.set_title(f"iteration {int(path.stem.split('-')[1]):,}", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    out = Path(__file__).parent
    fig.savefig(out / f"training-{args.name}.png")
    plot_losses(args.run / "log.jsonl", out / f"loss-{args.name}.png")
    print(out / f"training-{args.name}.png", out / f"loss-{args.name}.png")


if __name__ == "__main__":
    main()
