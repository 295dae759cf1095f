"""How many of the demo's unseen-font characters a glyph model completes as the right character.

    .venv/bin/python benchmarks/glyph_judge.py GLYPHS --out RUN [--model glyphs32] [--masks center,half]

GLYPHS: the folder ``ganfill glyphs`` wrote (``train/`` and ``val/``, e.g. runs/data/glyphs32).

The judge is a small CNN character classifier (62 classes, 0-9 A-Z a-z) trained here, seeded,
on GLYPHS/train (image i is character ``GLYPH_CHARS[i % 62]``, with +-2 pixel shifts); its
accuracy on GLYPHS/val (font families no model trained on) is printed, so the judge is judged
too. The 24 characters are ``ganfill demo``'s (``apps.demo.glyph_inputs``: matplotlib's DejaVu,
STIX and Computer Modern, fonts outside every training set), completed by ``ganfill demo
--images`` with the model and each mask (the demo's search: its defaults, seed 0) next to
OpenCV's Telea.

A completion counts as *right* when the judge reads it as the character it reads in the
intact original. Reading the original is the reference, not the label, because at 32x32 with
every glyph scaled to its box some pairs are one shape in some fonts (o/O/0, c/C, s/S, x/X,
l/I/1); how often the judge reads the originals as their labels is printed beside the count.
The overview figure (RUN/MASK/overview.png, the demo's) lets a person check by eye.

Writes RUN/results.json and RUN/results.md. The first line printed names the CPU, its flags and
the precision used.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganfill.apps import demo
from ganfill.core.files import write_json
from ganfill.core.images import save_image
from ganfill.core.runtime import machine_line, resolve
from ganfill.data.datasets import open_dataset
from ganfill.data.glyphs import GLYPH_CHARS
from ganfill.data.reading import load_image


def judge_model() -> nn.Module:
    """(N, 1, 32, 32) in [-1, 1] -> (N, 62) logits."""

    def block(i: int, o: int) -> list[nn.Module]:
        return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU(), nn.MaxPool2d(2)]

    return nn.Sequential(
        *block(1, 32),
        *block(32, 64),
        *block(64, 128),  # 32 -> 16 -> 8 -> 4
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(128 * 16, len(GLYPH_CHARS)),
    )


def as_input(images: np.ndarray) -> torch.Tensor:
    """uint8 (N, 32, 32, 3) grey glyphs -> float (N, 1, 32, 32) in [-1, 1]."""
    return torch.from_numpy(images[..., 0].astype(np.float32) / 127.5 - 1.0)[:, None]


def shifted(x: torch.Tensor, generator: torch.Generator, *, max_shift: int = 2) -> torch.Tensor:
    """Each image moved by up to max_shift pixels each way, the border filled with white (1)."""
    n, _, h, w = x.shape
    padded = nn.functional.pad(x, (max_shift,) * 4, value=1.0)
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator)
    return torch.stack([padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)])


def train_judge(train: np.ndarray, *, epochs: int = 2, batch: int = 256, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    x, y = as_input(train), torch.arange(len(train)) % len(GLYPH_CHARS)
    net = judge_model()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    steps = epochs * (len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps)
    net.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=g)
        for k in range(len(x) // batch):
            idx = order[k * batch : (k + 1) * batch]
            loss = nn.functional.cross_entropy(net(shifted(x[idx], g)), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    return net.eval()


@torch.no_grad()
def read(net: nn.Module, images: np.ndarray) -> np.ndarray:
    """The judge's character index for each uint8 (N, 32, 32, 3) image."""
    return torch.cat([net(as_input(images[i : i + 1024])).argmax(1) for i in range(0, len(images), 1024)]).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("glyphs")
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="glyphs32")
    ap.add_argument("--masks", default="center,half")
    ap.add_argument("--n", type=int, default=24, help="characters, as `ganfill demo --glyphs`")
    ap.add_argument("--steps", type=int, default=None, help="as `ganfill demo --steps` (default: the demo's)")
    ap.add_argument("--restarts", type=int, default=demo.DemoConfig.restarts, help="as `ganfill demo --restarts`")
    ap.add_argument(
        "--judge",
        type=Path,
        default=None,
        help="keep the trained judge in this file and reuse it (it is seeded: the same every time)",
    )
    args = ap.parse_args()
    runtime = resolve("auto", "auto")
    print(machine_line(runtime), flush=True)
    out = Path(args.out)
    train, val = open_dataset(Path(args.glyphs) / "train"), open_dataset(Path(args.glyphs) / "val")
    if args.judge is not None and args.judge.is_file():
        net = judge_model()
        net.load_state_dict(torch.load(args.judge))
        net.eval()
    else:
        net = train_judge(train.all())
        if args.judge is not None:
            torch.save(net.state_dict(), args.judge)
    val_acc = float((read(net, val.all()) == np.arange(len(val)) % len(GLYPH_CHARS)).mean())
    print(f"judge: {100 * val_acc:.1f}% of {len(val)} held-out-family glyphs read as their label", flush=True)

    inputs = demo.glyph_inputs(args.n, resolution=32)
    folder = out / "inputs"
    folder.mkdir(parents=True, exist_ok=True)
    for name, image in inputs:
        save_image(image, folder / f"{name}.png")
    labels = np.array([GLYPH_CHARS.index(name.split("-")[2]) for name, _ in inputs])
    originals = np.stack([image for _, image in inputs])
    reference = read(net, originals)
    results = {
        "model": args.model,
        "machine": machine_line(runtime),
        "judge_val_accuracy": val_acc,
        "originals_read_as_label": int((reference == labels).sum()),
        "n": len(inputs),
        "masks": {},
    }
    lines = [
        f"# {args.model}: demo characters completed as the right character (judge: {100 * val_acc:.1f}% "
        f"on held-out families; originals read as their label {results['originals_read_as_label']}/{len(inputs)})",
        "",
        "| mask | method | right | wrong (original -> read) |",
        "|---|---|---:|---|",
    ]
    for mask in args.masks.split(","):
        demo.run(
            out / mask,
            model=args.model,
            images=folder,
            mask=mask,
            runtime=runtime,
            progress=False,
            config=demo.DemoConfig(steps=args.steps, restarts=args.restarts),
            echo=lambda m: None,
        )
        stems = [name for name, _ in inputs]
        section = next(p for p in (out / mask).iterdir() if (p / "completions").is_dir())
        per = {}
        for method, file in (("ganfill", "completed.png"), ("telea", "telea.png")):
            done = np.stack([load_image(section / "completions" / s / file) for s in stems])
            got = read(net, done)
            right = got == reference
            wrong = [f"{GLYPH_CHARS[r]}->{GLYPH_CHARS[g]}" for r, g, ok in zip(reference, got, right) if not ok]
            per[method] = {"right": int(right.sum()), "wrong": wrong}
            lines.append(f"| {mask} | {method} | {int(right.sum())}/{len(stems)} | {' '.join(wrong)} |")
            print(lines[-1], flush=True)
        results["masks"][mask] = per
    write_json(results, out / "results.json")
    (out / "results.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    sys.exit(main())
