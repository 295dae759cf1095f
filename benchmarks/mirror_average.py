"""The context encoder's prediction averaged with its mirror image's, against one pass, on held-out
faces kept apart from the ones the reports use.

    .venv/bin/python benchmarks/mirror_average.py MODEL DATA [--skip 200] [-n 150]
        [--masks center,half] [--out benchmarks/mirror-average-MODEL.json]

MODEL is a GAN with its context encoder beside it (faces64, faces128).  DATA is taken in
``ganfill evaluate``'s seeded order (seed 0): images ``skip`` to ``skip + n`` (default 200-349),
which no report uses.  On the same seeded holes and the same searched samples G(z^) it scores,
side by side in one process, the context encoder alone (the fast mode) and the faithful mode
built on it, each with the network's one pass (``OnePass.predict``) and with the mean of it and
its mirror image's (``OnePass.mirror_mean``): hole PSNR (dB) and SSIM after the Poisson blend,
how often the two realism judges tell the completions from the originals, and the network's
seconds per image.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ganfill.core.files import write_json
from ganfill.core.images import to_tensor
from ganfill.core.runtime import machine_line, resolve
from ganfill.evaluation.evaluate import load_images, make_holes
from ganfill.evaluation.judges import JUDGES
from ganfill.evaluation.metrics import capped, psnr_hole, ssim
from ganfill.inpainting.inpainter import blend_fill, complete_images
from ganfill.inpainting.search import faithful_fill
from ganfill.models import files as checkpoint


def scores(fill: torch.Tensor, images: np.ndarray, holes: np.ndarray) -> dict:
    """Hole PSNR and SSIM of ``fill`` blended into ``images``, and each judge's score of the
    completions against the originals (as ``ganfill evaluate`` scores them)."""
    done = blend_fill(fill, images, ~holes, blends=("poisson",))[0]["poisson"]
    return {
        "psnr_hole": float(np.mean([capped(psnr_hole(t, d, h)) for t, d, h in zip(images, done, holes)])),
        "ssim": float(np.mean([ssim(t, d, h) for t, d, h in zip(images, done, holes)])),
        **{f"detectability_{j}": float(judge(images, done, holes, seed=0)) for j, judge in JUDGES.items()},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--skip", type=int, default=200, help="images of the seeded order the reports use (skipped)")
    ap.add_argument("-n", type=int, default=150)
    ap.add_argument("--masks", default="center,half")
    ap.add_argument("--batch-size", type=int, default=50)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    gan = checkpoint.load(args.model, kind="gan")
    ce = checkpoint.load(checkpoint.context_encoder_for(gan.path), kind="context-encoder")
    prior, cnn = gan.prior(runtime), ce.predictor(runtime)
    assert cnn.mirrored, f"{ce.path.name} was not trained on flipped images: its mirror image is not as good a question"
    images = load_images(args.data, gan, n=args.skip + args.n, seed=0)[0][args.skip :]
    rows = []
    for mask in args.masks.split(","):
        holes = make_holes(mask, len(images), gan.resolution, seed=0)  # the evaluation's seeded holes
        fakes = [
            complete_images(prior, images[i : i + args.batch_size], ~holes[i : i + args.batch_size]).result.fake.cpu()
            for i in range(0, len(images), args.batch_size)
        ]
        fake = torch.cat(fakes).float()  # (n, C, R, R): the same searched samples for every row
        x, m = to_tensor(images), torch.from_numpy(~holes).float()[:, None]
        for name, predict in (("one pass", cnn.predict), ("mirror mean", cnn.mirror_mean)):
            t0 = time.perf_counter()
            prediction = predict(x, m).cpu()
            seconds = (time.perf_counter() - t0) / len(images)
            for method, fill in (("context-encoder", prediction), ("faithful", faithful_fill(prediction, fake))):
                row = {"mask": mask, "method": method, "network": name, **scores(fill, images, holes)}
                rows.append(row | {"network_seconds": seconds})
                print(
                    f"{mask:8s} {method:16s} {name:12s} {row['psnr_hole']:.2f} dB  SSIM {row['ssim']:.3f}  detectable "
                    f"{100 * row['detectability_texture']:.1f}% / {100 * row['detectability_cnn']:.1f}%",
                    flush=True,
                )
    out = args.out or Path(__file__).parent / f"mirror-average-{Path(str(args.model)).stem}.json"
    write_json(
        {
            "model": str(args.model),
            "context_encoder": str(ce.path.name),
            "data": str(args.data),
            "images": f"{args.skip}-{args.skip + args.n - 1} of evaluate's seeded order (seed 0)",
            "machine": machine_line(runtime),
            "command": "benchmarks/mirror_average.py " + " ".join(f"{k}={v}" for k, v in vars(args).items()),
            "results": rows,
        },
        out,
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
