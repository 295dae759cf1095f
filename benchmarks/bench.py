"""ganfill against the plain PyTorch reference (benchmarks/reference.py), side by side in one process.

    .venv/bin/python benchmarks/bench.py DATA MODEL [--images 32] [--figure docs/quality-vs-time.png]

DATA: a prepared 64x64 dataset (e.g. `ganfill prepare ../shared/data/celeba64/val OUT --crop none`);
MODEL: a 64x64 `dcgan` checkpoint or shipped model name (e.g. faces64).  ganfill runs on
`--device` / `--precision` (default auto: bf16 where the hardware has it natively), the reference
always in eager fp32; the first line printed names the CPU, its flags and the precision used.
Four measurements, the timed ones alternating ganfill and the reference for --rounds rounds
(best round kept) so machine noise hits both alike; only ratios are meant to be quoted:

1. training throughput (real images/s): ganfill's `train()` (its default fast mode) against
   pytorch/examples' loop, both 64x64 dcgan, batch 64, 1 D : 2 G steps;
2. inpainting throughput (image-iterations/s) of the latent search on a batch of 64 (center
   mask), and the implied wall time for the batch at the paper's 1500 iterations;
3. quality against time: hole PSNR (Poisson-blended, center mask, --images held-out images)
   as a function of search wall-clock time for ganfill's default settings and for the paper's
   schedule in the reference (1500 Adam steps at lr 0.01, one restart).  The headline is the
   speed-up at equal quality: the wall time of the paper's schedule (what a user following
   the paper waits for) over ganfill's time to reach the hole PSNR it ends with.  A second,
   conservative figure divides instead the time an oracle would need, stopping the paper's
   schedule the first moment it reaches that PSNR (it peaks early and then declines);
4. precision: hole PSNR of ganfill's default search on the same --images faces, holes and z
   in fp32 and in the runtime's precision (when that is bf16): bf16 must not cost quality.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
from ganfill.core.images import to_tensor, to_uint8  # noqa: E402
from ganfill.core.runtime import Runtime, machine_line, resolve  # noqa: E402
from ganfill.data.datasets import open_dataset  # noqa: E402
from ganfill.evaluation.evaluate import complete_ganfill, load_images, make_holes
from ganfill.evaluation.metrics import psnr_hole  # noqa: E402
from ganfill.inpainting.blend import blend  # noqa: E402
from ganfill.inpainting.config import ENCODER_SCHEDULE, CompleteConfig  # noqa: E402
from ganfill.inpainting.inpainter import (
    Sharp,
    initial_z,  # noqa: E402
)
from ganfill.inpainting.search import complete  # noqa: E402
from ganfill.models import files as checkpoint  # noqa: E402
from ganfill.models.config import ModelConfig  # noqa: E402
from ganfill.training.config import TrainConfig
from ganfill.training.gan import train  # noqa: E402

import reference  # noqa: E402


def bench_training(data: str, runtime: Runtime, *, steps: int, rounds: int) -> dict:
    images = torch.from_numpy(open_dataset(data).all())  # uint8 (N, 64, 64, 3)
    best = {"ganfill": 0.0, "reference": 0.0}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            run = Path(tmp) / f"run{r}"
            train(
                data,
                run,
                model=ModelConfig(),
                config=TrainConfig(steps=steps + 2, checkpoint_every=10**9, precision=runtime.precision),
                device=runtime.device.type,
                progress=False,
            )
            rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
            a, b = rows[1], rows[-1]  # skip two warm-up iterations, as for the reference
            best["ganfill"] = max(best["ganfill"], (b["images"] - a["images"]) / (b["seconds"] - a["seconds"]))
            torch.manual_seed(0)
            netG, netD = reference.NetG(), reference.NetD()
            reference.train_steps(netG, netD, images, steps=2)
            t = time.perf_counter()
            reference.train_steps(netG, netD, images, steps=steps)
            best["reference"] = max(best["reference"], 64 * steps / (time.perf_counter() - t))
            print(
                f"  training round {r + 1}: ganfill {best['ganfill']:.1f} img/s, reference {best['reference']:.1f} img/s",
                flush=True,
            )
    return best


def bench_inpainting(model, runtime: Runtime, *, steps: int, rounds: int, batch: int = 64) -> dict:
    G, D = model.G, model.D
    prior = model.prior(runtime)
    netG, netD = reference.from_ganfill(G, D)
    r = G.config.resolution
    x = torch.rand(batch, 3, r, r, generator=torch.Generator().manual_seed(1)) * 2 - 1
    m = torch.from_numpy(~make_holes("center", batch, r)).float()[:, None]
    z = torch.randn(batch, G.z_dim, generator=torch.Generator().manual_seed(2))
    cfg = CompleteConfig(num_steps=steps, restarts=1)
    best = {"ganfill": 0.0, "reference": 0.0}
    complete(prior, x, m, config=CompleteConfig(num_steps=2, restarts=1), z_init=z)  # warm-up
    reference.inpaint(netG, netD, x, m, z, steps=2)
    for i in range(rounds):
        t = time.perf_counter()
        complete(prior, x, m, config=cfg, z_init=z)
        best["ganfill"] = max(best["ganfill"], batch * steps / (time.perf_counter() - t))
        t = time.perf_counter()
        reference.inpaint(netG, netD, x, m, z, steps=steps)
        best["reference"] = max(best["reference"], batch * steps / (time.perf_counter() - t))
        print(
            f"  inpainting round {i + 1}: ganfill {best['ganfill']:.1f}, reference {best['reference']:.1f} image-it/s", flush=True
        )
    return best


def quality_curves(model, data: str, runtime: Runtime, *, n: int, every: int = 25) -> dict:
    """Hole PSNR against search seconds (scoring time excluded) for both methods, same images and z
    (ganfill's seeding rule, ``inpainting.inpainter.initial_z``)."""
    G, D = model.G, model.D
    prior = model.prior(runtime)
    r = G.config.resolution
    images, _ = load_images(data, model, n=n, seed=0)
    holes = make_holes("center", n, r)
    x = to_tensor(images)
    m = torch.from_numpy(~holes).float()[:, None]
    cfg = CompleteConfig(init="prior").resolved(prior)  # the default search from a random z
    z_all = initial_z(prior, images, ~holes, restarts=cfg.restarts, seed=0)  # (n, restarts, z_dim)
    z0 = z_all[:, 0]  # (n, z_dim): the reference's one start is ganfill's first

    def score(fake: torch.Tensor) -> float:
        out = to_uint8(blend(fake.to(x.dtype), x, m, method="poisson"))
        return float(np.mean([min(psnr_hole(images[i], out[i], holes[i]), 100.0) for i in range(n)]))

    curves = {}

    def recorder(name: str):
        points, paused, t0 = [], [0.0], [time.perf_counter()]

        def record(step: int, fake: torch.Tensor) -> None:
            a = time.perf_counter()
            points.append((step, a - t0[0] - paused[0], score(fake)))
            paused[0] += time.perf_counter() - a

        curves[name] = points
        return record

    rec = recorder("ganfill")
    complete(
        prior,
        x,
        m,
        config=cfg,
        z_init=z_all,
        callback=lambda s, fake, losses: rec(s, fake) if s % every == 0 or s == cfg.num_steps else None,
    )
    if prior.has_encoder:  # the encoder's z, then a few steps: scored at every step
        rec = recorder("encoder")
        complete(prior, x, m, config=ENCODER_SCHEDULE, z_init=z0, callback=lambda s, fake, losses: rec(s, fake))
    netG, netD = reference.from_ganfill(G, D)
    rec = recorder("reference")
    with torch.no_grad():
        rec(0, netG(z0.view(n, -1, 1, 1)))

    def ref_cb(step, z):
        if step % every == 0:
            with torch.no_grad():
                rec(step, netG(z))

    reference.inpaint(netG, netD, x, m, z0, callback=ref_cb)
    return curves


def precision_quality(model, data: str, runtime: Runtime, *, n: int) -> dict:
    """Final hole PSNR (dB, Poisson blend, center mask) of the default search in fp32 and in the
    runtime's precision: same images, holes and z (the seeding rule does not depend on precision)."""
    images, _ = load_images(data, model, n=n, seed=0)
    holes = make_holes("center", n, model.config.resolution)
    out = {}
    for rt in dict.fromkeys([Runtime(runtime.device, torch.float32), runtime]):
        prior = model.prior(rt)
        done, seconds = complete_ganfill(Sharp(prior, CompleteConfig(), ("poisson", "paste")), images, holes)["ganfill"]
        psnr = np.mean([min(psnr_hole(images[i], done[i], holes[i]), 100.0) for i in range(n)])
        out[rt.precision] = {"psnr_hole": float(psnr), "seconds_per_image": seconds}
    return out


def first_time(points, target: float) -> float | None:
    return next((t for _, t, p in points if p >= target), None)


def plot(curves: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    labels = {
        "ganfill": "ganfill, random z start (100 steps, 2 restarts)",
        "encoder": "ganfill, encoder start (10 steps)",
        "reference": "paper's schedule (plain PyTorch reference)",
    }
    for name, pts in curves.items():
        ax.plot([t for _, t, _ in pts], [p for _, _, p in pts], label=labels[name])
    ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("search wall-clock time (s)")
    ax.set_ylabel("hole PSNR (dB), center mask")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data")
    ap.add_argument("model")
    ap.add_argument("--images", type=int, default=32, help="held-out images for the quality curve")
    ap.add_argument("--train-steps", type=int, default=8)
    ap.add_argument("--inpaint-steps", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--figure", type=Path)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--skip", nargs="*", default=[], choices=["training", "inpainting", "quality", "precision"])
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    args = ap.parse_args()
    model = checkpoint.load(args.model, kind="gan")  # a shipped name, run, checkpoint folder or model file
    runtime = resolve(args.device, args.precision)
    print(machine_line(runtime), flush=True)
    out: dict = {"machine": machine_line(runtime), "runtime": runtime.to_dict(), "threads": torch.get_num_threads()}
    if "training" not in args.skip:
        tr = bench_training(args.data, runtime, steps=args.train_steps, rounds=args.rounds)
        out["training"] = {**tr, "ratio": tr["ganfill"] / tr["reference"]}
    if "inpainting" not in args.skip:
        ip = bench_inpainting(model, runtime, steps=args.inpaint_steps, rounds=args.rounds)
        out["inpainting"] = {**ip, "ratio": ip["ganfill"] / ip["reference"]}
    if "precision" not in args.skip and runtime.precision != "fp32":
        out["precision"] = precision_quality(model, args.data, runtime, n=args.images)
    if "quality" not in args.skip:
        curves = quality_curves(model, args.data, runtime, n=args.images)
        ref, ours = curves["reference"], curves["ganfill"]
        target = ref[-1][2]
        t_ref, t_ours = first_time(ref, target), first_time(ours, target)
        out["quality"] = {
            "images": args.images,
            "reference_final_psnr": target,
            "reference_seconds": ref[-1][1],
            "reference_seconds_to_target": t_ref,
            "ganfill_final_psnr": ours[-1][2],
            "ganfill_seconds": ours[-1][1],
            "ganfill_seconds_to_target": t_ours,
            "speedup_at_equal_quality": (ref[-1][1] / t_ours) if t_ours else None,
            "speedup_vs_oracle_stop": (t_ref / t_ours) if t_ours else None,
            "curves": curves,
        }
        if "encoder" in curves:
            enc = curves["encoder"]
            t_enc = first_time(enc, target)
            out["quality"] |= {
                "encoder_psnr_at_0_steps": enc[0][2],
                "encoder_final_psnr": enc[-1][2],
                "encoder_seconds": enc[-1][1],
                "encoder_seconds_to_target": t_enc,
                "encoder_speedup_at_equal_quality": (ref[-1][1] / t_enc) if t_enc else None,
            }
        if args.figure:
            plot(curves, args.figure)

    print(f"\n{out['machine']}\nmeasurement | ganfill ({runtime.describe()}) | reference (cpu, fp32) | ratio")
    if "training" in out:
        t = out["training"]
        print(
            f"training, images/s (64x64 dcgan, batch 64, 1D:2G) | {t['ganfill']:.1f} | {t['reference']:.1f} | {t['ratio']:.2f}x"
        )
    if "inpainting" in out:
        t = out["inpainting"]
        print(f"inpainting, image-iterations/s (batch 64) | {t['ganfill']:.1f} | {t['reference']:.1f} | {t['ratio']:.2f}x")
        print(
            f"batch of 64 at 1500 iterations, minutes | {64 * 1500 / t['ganfill'] / 60:.1f} | "
            f"{64 * 1500 / t['reference'] / 60:.1f} | {t['ratio']:.2f}x"
        )
    if "quality" in out:
        q = out["quality"]
        s = q["speedup_at_equal_quality"]
        print(
            f"hole PSNR at the end (dB, {q['images']} images) | {q['ganfill_final_psnr']:.2f} in {q['ganfill_seconds']:.0f} s | "
            f"{q['reference_final_psnr']:.2f} in {q['reference_seconds']:.0f} s | "
        )
        print(
            f"time to the paper schedule's final hole PSNR (s) | {q['ganfill_seconds_to_target'] or float('nan'):.1f} | "
            f"{q['reference_seconds']:.1f} (whole schedule) | " + (f"{s:.1f}x" if s else "not reached")
        )
        o = q["speedup_vs_oracle_stop"]
        print(
            f"  same, if the paper's schedule were stopped the moment it first got there | | "
            f"{q['reference_seconds_to_target']:.1f} | " + (f"{o:.1f}x" if o else "not reached")
        )
        if "encoder_final_psnr" in q:
            e = q["encoder_speedup_at_equal_quality"]
            print(
                f"encoder start: hole PSNR after 0 / {ENCODER_SCHEDULE.num_steps} steps (dB) | "
                f"{q['encoder_psnr_at_0_steps']:.2f} / {q['encoder_final_psnr']:.2f} in {q['encoder_seconds']:.2f} s | | "
            )
            print(
                f"encoder start: time to the paper schedule's final hole PSNR (s) | "
                f"{q['encoder_seconds_to_target'] or float('nan'):.2f} | {q['reference_seconds']:.1f} (whole schedule) | "
                + (f"{e:.0f}x" if e else "not reached")
            )
    if "precision" in out:
        pq = out["precision"]
        print(
            f"hole PSNR of the default search, {args.images} images (dB) | {runtime.precision} "
            f"{pq[runtime.precision]['psnr_hole']:.2f} | fp32 {pq['fp32']['psnr_hole']:.2f} | "
            f"{pq[runtime.precision]['psnr_hole'] - pq['fp32']['psnr_hole']:+.2f} dB"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
