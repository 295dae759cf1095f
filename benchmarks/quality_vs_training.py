"""Completion quality against training: every checkpoint of a run, scored the same way.

    .venv/bin/python benchmarks/quality_vs_training.py RUN DATA --out DIR [-n 200] [--mask center]
        [--figure docs/quality-vs-training-NAME.png] [--model EXPORT.safetensors ...]

RUN: a training run folder (``ganfill train --out RUN``); DATA: held-out images. Each checkpoint
``RUN/checkpoints/step-*`` (its EMA generator and its discriminator), and each ``--model``
(an exported model file of the same run, e.g. the ones a run that trains across sessions kept
for ``--init``: its step and images seen are in its metadata) completes the same ``-n``
images with the same seeded holes by ganfill's search from a random z (``SEARCH``: 100 steps at
lr 0.05, one start, fixed so that scores measured in different sessions, docs/ included, stay
comparable whatever the current defaults; training checkpoints carry no encoder of z, so every
point uses the same search), scored by
``ganfill evaluate``'s metrics: hole PSNR, the texture judge's realism score (detectable %: 50 means a
classifier cannot tell completions from originals) and, on faces, the rate at which the face
detector finds a face, against the images the generator had seen.

DIR/results.json keeps one entry per checkpoint and is reused: a rerun scores only the new
checkpoints (a run that trains on across sessions adds points). ``--compare LABEL=RESULTS``
(repeatable) draws another run's results.json, scored the same way, beside this one (for
example two architecture presets on the same images and holes). The first line printed names
the CPU, its flags and the precision used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ganfill.core.files import atomic_path, write_json  # noqa: E402
from ganfill.core.runtime import machine_line, resolve  # noqa: E402
from ganfill.evaluation import evaluate as ev  # noqa: E402
from ganfill.inpainting.config import CompleteConfig  # noqa: E402
from ganfill.models import files as checkpoint  # noqa: E402

SEARCH = CompleteConfig(init="prior", num_steps=100, lr=0.05, restarts=1)  # what every recorded score used


def training_point(source: Path) -> tuple[int, int]:
    """(step, images seen) of a training checkpoint folder or an exported model file."""
    if source.is_file():
        meta = checkpoint.describe(source).meta
        return int(meta["step"]), int(meta["images_seen"])
    config = json.loads((source / "config.json").read_text())
    step = int(source.name.split("-")[1])
    return step, step * config.get("train", {}).get("batch_size", 64)


def score(source: Path, images, names, *, mask: str, runtime) -> dict:
    """One checkpoint's scores on the images (ganfill from a random z, ``mask``)."""
    model = checkpoint.load(source, kind="gan")
    run = ev.evaluate(
        model, images, names=names, masks=[mask], methods=["ganfill", "telea"], config=SEARCH, runtime=runtime, judges=["texture"]
    )
    res, telea = run.results  # in the order of methods
    step, images_seen = training_point(source)
    return {
        "step": step,
        "images_seen": images_seen,
        "psnr_hole": res["psnr_hole"],
        "ssim": res["ssim"],
        "detectability": res["detectability_texture"],
        "face_rate": res["face_rate"],
        "telea": {k: telea[k] for k in ("psnr_hole", "ssim", "face_rate")} | {"detectability": telea["detectability_texture"]},
        "face_rate_originals": run.reference["face_rate_originals"],
        "detectability_originals": run.reference["detectability_originals"]["texture"][mask],
    }


def plot(
    points: list[dict], path: Path, *, title: str, label: str = "ganfill", others: dict[str, list[dict]] | None = None
) -> None:
    """One panel per score against images seen; ``others`` (label -> points) drawn beside."""
    runs = {label: points, **(others or {})}
    panels = [("psnr_hole", "hole PSNR (dB)", 1), ("detectability", "detectable (%)", 100)]
    if points[0]["face_rate"] is not None:
        panels.append(("face_rate", "faces found (%)", 100))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), dpi=110)
    for ax, (key, ylabel, scale) in zip(axes, panels):
        for name, pts in runs.items():
            ax.plot([p["images_seen"] / 1e3 for p in pts], [p[key] * scale for p in pts], "o-", ms=4, label=name)
        if points[-1]["telea"][key] is not None:
            ax.axhline(points[-1]["telea"][key] * scale, ls="--", c="k", alpha=0.6, label="Telea, same holes")
        if key == "face_rate":
            ax.axhline(points[0]["face_rate_originals"] * 100, ls="-.", c="grey", label="originals")
        if key == "detectability":
            ax.axhline(50, ls=":", c="grey", label="indistinguishable")
        ax.legend(fontsize=8)
        ax.set_xlabel("images seen (thousands)")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("data")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--mask", default="center")
    ap.add_argument("--figure", type=Path, default=None, help="default: OUT/quality-vs-training.png")
    ap.add_argument("--label", default="ganfill", help="this run's name in the figure")
    ap.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="LABEL=RESULTS",
        help="another run's results.json (same -n and --mask) drawn beside; repeatable",
    )
    ap.add_argument(
        "--model", action="append", default=[], type=Path, metavar="EXPORT", help="an exported model file of the run; repeatable"
    )
    args = ap.parse_args()
    others = {}
    for item in args.compare:
        name, sep, path = item.partition("=")
        if not sep or not Path(path).is_file():
            sys.exit(f"quality_vs_training: --compare {item!r}: give LABEL=PATH to an existing results.json")
        other = json.loads(Path(path).read_text())
        if (other.get("n"), other.get("mask")) != (args.n, args.mask):
            sys.exit(
                f"quality_vs_training: {path} holds -n {other.get('n')} --mask {other.get('mask')}, "
                f"this run -n {args.n} --mask {args.mask}: compare like with like"
            )
        others[name] = other["points"]
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    sources = sorted(p for p in (args.run / "checkpoints").glob("step-*") if (p / "model.safetensors").is_file())
    sources += [p for p in args.model if p.is_file()]
    if not sources:
        sys.exit(f"quality_vs_training: no checkpoints in {args.run / 'checkpoints'} and no --model file")
    args.out.mkdir(parents=True, exist_ok=True)
    store = args.out / "results.json"
    record = json.loads(store.read_text()) if store.is_file() else {}
    if record.get("n") not in (None, args.n) or record.get("mask") not in (None, args.mask):
        sys.exit(f"quality_vs_training: {store} holds -n {record['n']} --mask {record['mask']}: use another --out")
    points = {p["step"]: p for p in record.get("points", [])}
    images, names = ev.load_images(args.data, checkpoint.load(sources[0], kind="gan"), n=args.n, seed=0)
    for source in sources:
        step = training_point(source)[0]
        if step in points:
            continue
        points[step] = score(source, images, names, mask=args.mask, runtime=runtime)
        p = points[step]
        print(
            f"step {step:>6}: hole PSNR {p['psnr_hole']:.2f} dB, detectable {100 * p['detectability']:.1f}%"
            + (f", faces {100 * p['face_rate']:.1f}%" if p["face_rate"] is not None else ""),
            flush=True,
        )
        write_json(
            {
                "run": str(args.run),
                "data": str(args.data),
                "n": args.n,
                "mask": args.mask,
                "machine": machine_line(runtime),
                "points": sorted(points.values(), key=lambda q: q["step"]),
            },
            store,
        )
    ordered = sorted(points.values(), key=lambda q: q["step"])
    plot(
        ordered,
        args.figure or args.out / "quality-vs-training.png",
        label=args.label,
        others=others,
        title=f"{args.run.name}: {args.n} held-out images, {args.mask} mask, search from a random z (100 steps)",
    )


if __name__ == "__main__":
    main()
