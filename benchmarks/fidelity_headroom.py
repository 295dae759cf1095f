"""How much fidelity the faithful mode could still buy from its two sources, band by band, on
held-out faces kept apart from the ones the reports use.

    .venv/bin/python benchmarks/fidelity_headroom.py MODEL DATA [--skip 200] [-n 400]
        [--masks center,half] [--out benchmarks/fidelity-headroom-MODEL.json]

MODEL is a GAN with its context encoder beside it.  On ``ganfill evaluate``'s seeded holes of
images ``skip`` to ``skip + n`` of its seeded order, it runs the faithful mode's guided search
(the searched sample S = G(z^)) and the network's mirror mean M, each Poisson-blended into the
image as the modes blend their fills, splits the truth T, M and S
into frequency bands (differences of Gaussians, sigma 0 / 0.8 / 1.6 / 3.2 / 6.4 / 12.8 / beyond
pixels) and, over the hole's pixels, fits T_b ~ beta M_b + w S_b by least squares in each band.
It prints and writes each band's energy (mean square) in T, M and S, the mean's squared error
and the best mix's, and the hole PSNR the best mix of every band would gain over M: the most
any fill that mixes the two (the faithful fill is one) can be more faithful than the network's
mean.  The realism that the sample's detail buys costs its energy in squared error beyond that
(a sample's deviation from the mean carries little of the truth's: w is small).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np
import torch

from ganfill.core.files import write_json
from ganfill.core.images import to_tensor
from ganfill.core.runtime import machine_line, resolve
from ganfill.data.masks import gaussian_blur
from ganfill.evaluation.evaluate import load_images, make_holes
from ganfill.inpainting.inpainter import blend_fill, load_inpainter
from ganfill.models import files as checkpoint

SIGMAS = (0.8, 1.6, 3.2, 6.4, 12.8)  # band edges (Gaussian sigma, pixels of the model's square)


def bands(x: torch.Tensor) -> list[torch.Tensor]:
    """(N, C, R, R) -> its bands, finest first, that add up to ``x``: x - g(0.8), g(0.8) - g(1.6), ..., g(12.8)."""
    lows = [x] + [gaussian_blur(x, s) for s in SIGMAS]
    return [a - b for a, b in zip(lows, lows[1:])] + [lows[-1]]


def headroom(truth: torch.Tensor, mean: torch.Tensor, sample: torch.Tensor, hole: torch.Tensor) -> dict:
    """Per band over the pixels where bool ``hole`` (N, 1, R, R) is True: energies, the mean's
    squared error, the least-squares mix's (beta, w) and error; then the squared error over the
    hole of the mean and of the image that every band's best mix adds up to, and the dB between."""
    where = hole.expand_as(truth)
    rows, mix = [], torch.zeros(int(where.sum()), dtype=torch.float64)
    edges = ("0", *map(str, SIGMAS), "inf")
    for k, (t, m, s) in enumerate(zip(bands(truth), bands(mean), bands(sample))):
        t, m, s = (v[where].double() for v in (t, m, s))
        (beta, w), *_ = np.linalg.lstsq(torch.stack([m, s], 1).numpy(), t.numpy(), rcond=None)
        mix += beta * m + w * s
        rows.append(
            {
                "band": f"sigma {edges[k]}-{edges[k + 1]}",
                "energy": {"truth": float((t**2).mean()), "mean": float((m**2).mean()), "sample": float((s**2).mean())},
                "mse_mean": float(((t - m) ** 2).mean()),
                "mse_sample": float(((t - s) ** 2).mean()),
                "beta": float(beta),
                "w": float(w),
                "mse_best_mix": float(((t - beta * m - w * s) ** 2).mean()),
            }
        )
    t = truth[where].double()
    before, after = float(((t - mean[where].double()) ** 2).mean()), float(((t - mix) ** 2).mean())
    return {"bands": rows, "mse_mean": before, "mse_best_mix": after, "db_gain": 10 * math.log10(before / after)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("model")
    ap.add_argument("data")
    ap.add_argument("--skip", type=int, default=200, help="images of the seeded order the reports use (skipped)")
    ap.add_argument("-n", type=int, default=400)
    ap.add_argument("--masks", default="center,half")
    ap.add_argument("--batch-size", type=int, default=100)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    gan = checkpoint.load(args.model, kind="gan")
    faithful = load_inpainter(gan, "faithful", runtime=runtime)
    images = load_images(args.data, gan, n=args.skip + args.n, seed=0)[0][args.skip :]
    results = {}
    for mask in args.masks.split(","):
        holes = make_holes(mask, len(images), gan.resolution, seed=0)  # the evaluation's seeded holes
        samples, means = [], []
        for i in range(0, len(images), args.batch_size):
            part, known = images[i : i + args.batch_size], ~holes[i : i + args.batch_size]
            samples.append(faithful(part, known).result.fake.cpu().float())  # G(z^) of the guided search
            means.append(faithful.cnn.mirror_mean(to_tensor(part), torch.from_numpy(known).float()[:, None]).cpu().float())
        # (n, C, R, R) each, as the completed images: the fills Poisson-blended into the known pixels
        mean, sample = (
            to_tensor(blend_fill(torch.cat(f), images, ~holes, blends=("poisson",))[0]["poisson"]) for f in (means, samples)
        )
        results[mask] = r = headroom(to_tensor(images), mean, sample, torch.from_numpy(holes)[:, None])
        print(f"{mask}: the best mix of the network's mean and the sample gains {r['db_gain']:.3f} dB over the mean")
        for b in r["bands"]:
            e = b["energy"]
            print(
                f"  {b['band']:16s} energy truth {e['truth']:.5f} mean {e['mean']:.5f} sample {e['sample']:.5f} | "
                f"mse mean {b['mse_mean']:.5f} mix {b['mse_best_mix']:.5f} (beta {b['beta']:.2f}, w {b['w']:.3f})",
                flush=True,
            )
    out = args.out or Path(__file__).parent / f"fidelity-headroom-{Path(str(args.model)).stem}.json"
    write_json(
        {
            "model": str(args.model),
            "data": str(args.data),
            "images": f"{args.skip}-{args.skip + args.n - 1} of evaluate's seeded order (seed 0)",
            "machine": machine_line(runtime),
            "command": "benchmarks/fidelity_headroom.py " + " ".join(f"{k}={v}" for k, v in vars(args).items()),
            "results": results,
        },
        out,
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
