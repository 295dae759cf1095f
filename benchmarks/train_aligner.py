"""Train the face aligner of ``data.align`` (or its fine stage) and write its weights to the
package (``ganfill/assets/face_aligner.safetensors``, ``face_aligner_fine.safetensors``; fp16).

Training pairs are free: ``celeba128/train`` faces are aligned (the aligner's square is the
centre 108 box of the aligned frame), so each face is put into the square through a random
similarity (small, as dlib's landmarks under a hole miss; larger, as a rough detector box does),
with a random hole (eyes, eyes+nose, mouth, lower half, strokes, boxes, none) and a random
background where the square leaves the 128 crop; the target, the similarity back, is known
exactly.  Negatives for the face logit: zoomed-in parts of faces, squares shifted off the face,
``pokemon128`` pictures and bare backgrounds.  Seeded; CPU, one thread.

    .venv/bin/python benchmarks/train_aligner.py [--steps 2500] [--out src/ganfill/assets/face_aligner.safetensors]

The shipped weights: ``--steps 2500`` (the default), seed 0: about nine minutes on two busy
cores; validation (500 held-out train faces, jittered): corner error 7.5 -> 2.2 px of 64.

The fine stage (``--stage fine``) starts from the shipped aligner and learns only the small errors
its passes leave (jitter of about 1-4 px of 64 at the corners), with fewer negatives:

    .venv/bin/python benchmarks/train_aligner.py --stage fine

(its defaults: ``--init`` the shipped aligner, ``--steps 1500 --lr 1e-3 --neg 0.1``, ``--out``
``face_aligner_fine.safetensors``; seed 0, about four minutes on one thread; validation on the
fine jitter: corner error 2.7 -> 1.1 px of 64.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch import nn

from ganfill.data.align import CROP, SIZE, build_aligner, load_aligner, save_aligner
from ganfill.data.faces import ALIGNER_FILE, FINE_ALIGNER_FILE, template_in_square
from ganfill.data.reading import image_files

sys.path.insert(0, str(Path(__file__).parent))
from photos import FEATURE_BOXES  # noqa: E402  (the photo benchmark's holes around landmarks)

SHARED = Path(__file__).parents[1].parent / "shared/data"
SMALL = 76  # the 128 crops are kept at about the square's scale (128 * 64 / 108)
GRID = torch.tensor([[x, y] for x in (-0.75, 0, 0.75) for y in (-0.75, 0, 0.75)], dtype=torch.float32)


def load(folder: Path, limit: int | None = None) -> np.ndarray:
    files = image_files(folder)[:limit]
    out = np.empty((len(files), SMALL, SMALL, 3), np.uint8)
    for i, f in enumerate(files):
        out[i] = cv2.resize(np.asarray(Image.open(f).convert("RGB")), (SMALL, SMALL), interpolation=cv2.INTER_AREA)
    return out


def similarity(s: float, angle: float, t: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """3x3: p -> s R(angle) (p - centre) + centre + t."""
    c, si = np.cos(angle) * s, np.sin(angle) * s
    r = np.array([[c, -si], [si, c]])
    m = np.eye(3)
    m[:2, :2] = r
    m[:2, 2] = centre + t - r @ centre
    return m


def small_to_square() -> np.ndarray:
    """3x3: pixels of a SMALL px copy of a 128 crop -> the true square (the crop's (10, 10)
    corner is the 108 box's)."""
    k = 128 / SMALL
    to128 = np.array([[k, 0, 0.5 * k - 0.5], [0, k, 0.5 * k - 0.5], [0, 0, 1]])
    s = SIZE / CROP
    return np.array([[s, 0, -10 * s], [0, s, -10 * s], [0, 0, 1]]) @ to128


def draw_hole(rng: np.random.Generator, template: np.ndarray) -> np.ndarray:
    """uint8 (SIZE, SIZE): a random hole in the true square."""
    hole = np.zeros((SIZE, SIZE), np.uint8)
    k = SIZE / CROP
    nose = template[27:36]
    kinds = ["eyes", "eyes+nose", "mouth", "lower", "strokes", "box", "none", "two"]
    kind = rng.choice(kinds, p=[0.15, 0.15, 0.1, 0.1, 0.15, 0.15, 0.1, 0.1])

    def box(pts, pad):
        pad = np.asarray(pad) * k * rng.uniform(0.6, 1.6, 2)
        off = rng.normal(0, 1.5, 2)
        x0, y0 = pts.min(0) - pad + off
        x1, y1 = pts.max(0) + pad + off
        cv2.rectangle(hole, (int(x0), int(y0)), (int(x1), int(y1)), 1, -1)

    def random_box():
        w, h = rng.uniform(8, 40, 2)
        x, y = rng.uniform(4, SIZE - 4, 2)
        cv2.rectangle(hole, (int(x - w / 2), int(y - h / 2)), (int(x + w / 2), int(y + h / 2)), 1, -1)

    if kind in FEATURE_BOXES:
        landmarks, pad = FEATURE_BOXES[kind]
        box(template[landmarks], pad)
    elif kind == "lower":
        y = int(nose[:, 1].mean() + rng.normal(0, 3))
        x0, x1 = int(rng.uniform(0, 6)), int(SIZE - rng.uniform(0, 6))
        hole[y : int(SIZE * rng.uniform(0.85, 1.0)), x0:x1] = 1
    elif kind == "strokes":
        for _ in range(int(rng.integers(1, 7))):
            a, b = rng.uniform(8, 56, (2, 2)).astype(int)
            cv2.line(hole, tuple(int(v) for v in a), tuple(int(v) for v in b), 1, int(rng.integers(3, 8)))
    elif kind == "box":
        random_box()
    elif kind == "two":
        random_box()
        random_box()
    return hole


def backgrounds(rng: np.random.Generator, n: int) -> np.ndarray:
    """Blurred coloured noise like the photo benchmark's canvases (n, SIZE, SIZE, 3) uint8."""
    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for i in range(n):
        g = int(rng.integers(3, 10))
        noise = rng.integers(0, 256, (g, g, 3)).astype(np.float32)
        noise = 0.5 * noise + 0.5 * noise.mean(axis=2, keepdims=True)
        big = cv2.resize(noise, (SIZE, SIZE), interpolation=cv2.INTER_CUBIC)
        out[i] = cv2.GaussianBlur(big, (0, 0), rng.uniform(1, 4)).clip(0, 255).astype(np.uint8)
    return out


JITTER = {  # (probability, scale sd, angle sd (degrees), shift sd (px of 64)) per level
    "coarse": [(0.35, 0.04, 3.0, 2.0), (0.4, 0.1, 7.0, 5.0), (0.25, 0.2, 14.0, 10.0)],
    # the fine stage: what the coarse passes leave (about 1-4 px of 64 at the corners)
    "fine": [(0.6, 0.03, 2.5, 1.5), (0.3, 0.05, 4.0, 3.0), (0.1, 0.015, 1.0, 0.7)],
}


def jitter(rng: np.random.Generator, stage: str = "coarse") -> tuple[float, float, np.ndarray]:
    levels = JITTER[stage]
    level = rng.choice(len(levels), p=[lv[0] for lv in levels])
    ss, sa, st = levels[level][1:]
    s = float(np.exp(np.clip(rng.normal(0, ss), -0.5, 0.5)))
    a = float(np.radians(np.clip(rng.normal(0, sa), -35, 35)))
    t = np.clip(rng.normal(0, st, 2), -24, 24)
    return s, a, t


def sample(rng, faces, pokemon, bank, template, base, *, negative: bool, stage: str = "coarse"):
    """One input (4, SIZE, SIZE) float32, its target (4,) and its label."""
    centre = np.array([SIZE / 2, SIZE / 2])
    target = np.zeros(4, np.float32)
    source, bg_mode = None, rng.choice(3, p=[0.5, 0.25, 0.25])
    if not negative:
        s, a, t = jitter(rng, stage)
        j = similarity(s, a, t, centre)
        source = faces[rng.integers(len(faces))]
        inv = np.linalg.inv(j)
        n = np.array([[2 / SIZE, 0, -1], [0, 2 / SIZE, -1], [0, 0, 1]])
        m = n @ inv @ np.linalg.inv(n)  # est square -> true square, in [-1, 1]
        target = np.array([m[0, 0] - 1, m[1, 0], m[0, 2], m[1, 2]], np.float32)
        hole = draw_hole(rng, template)
    else:
        kind = rng.choice(4, p=[0.35, 0.3, 0.2, 0.15])
        hole = draw_hole(rng, template)
        if kind == 0:  # a part of a face, zoomed in
            q = rng.uniform(0, SIZE, 2)
            j = similarity(rng.uniform(2.2, 5), rng.uniform(-0.6, 0.6), centre - q, q)
            source = faces[rng.integers(len(faces))]
        elif kind == 1:  # the square shifted off the face
            d = rng.uniform(0, 2 * np.pi)
            off = rng.uniform(44, 80) * np.array([np.cos(d), np.sin(d)])
            j = similarity(rng.uniform(0.6, 1.6), rng.uniform(-0.6, 0.6), off, centre)
            source = faces[rng.integers(len(faces))]
        elif kind == 2:  # another kind of picture
            j = similarity(rng.uniform(0.7, 3), rng.uniform(-0.5, 0.5), rng.uniform(-24, 24, 2), centre)
            source = pokemon[rng.integers(len(pokemon))]
        else:
            j = np.eye(3)
            bg_mode = 0
    a = (j @ base)[:2]
    if source is None:
        x = bank[rng.integers(len(bank))].copy()
    elif bg_mode == 0:
        x = cv2.warpAffine(source, a, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        inside = cv2.warpAffine(np.ones(source.shape[:2], np.float32), a, (SIZE, SIZE), flags=cv2.INTER_LINEAR)[..., None]
        x = (x * inside + bank[rng.integers(len(bank))] * (1 - inside)).astype(np.uint8)
    else:
        border = cv2.BORDER_REPLICATE if bg_mode == 1 else cv2.BORDER_REFLECT101
        x = cv2.warpAffine(source, a, (SIZE, SIZE), flags=cv2.INTER_LINEAR, borderMode=border)
    if rng.random() < 0.2:  # a small or soft photo
        k = rng.uniform(1.5, 3)
        x = cv2.resize(cv2.resize(x, (int(SIZE / k), int(SIZE / k)), interpolation=cv2.INTER_AREA), (SIZE, SIZE))
    x = x.astype(np.float32) / 127.5 - 1
    x = x * rng.uniform(0.75, 1.25) + rng.uniform(-0.2, 0.2) + rng.normal(0, 0.04, 3)
    hole = cv2.warpAffine(hole.astype(np.float32), j[:2], (SIZE, SIZE), flags=cv2.INTER_LINEAR) > 1e-2
    known = ~hole
    x = np.clip(x, -1, 1) * known[..., None]
    return np.concatenate([x.transpose(2, 0, 1), known[None]]).astype(np.float32), target, float(not negative)


def batch(rng, faces, pokemon, bank, template, base, n, *, negatives=0.15, stage="coarse"):
    items = [sample(rng, faces, pokemon, bank, template, base, negative=rng.random() < negatives, stage=stage) for _ in range(n)]
    xs, ts, ys = zip(*items)
    return torch.from_numpy(np.stack(xs)), torch.from_numpy(np.stack(ts)), torch.tensor(ys)


def points(p: torch.Tensor) -> torch.Tensor:
    """(N, 4) parameters -> (N, 9, 2) the grid's points mapped."""
    a, b, tx, ty = (p[:, i, None] for i in range(4))
    x, y = GRID[None, :, 0], GRID[None, :, 1]
    return torch.stack([(1 + a) * x - b * y + tx, b * x + (1 + a) * y + ty], -1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=SHARED / "celeba128/train")
    ap.add_argument("--negatives", type=Path, default=SHARED / "pokemon128")
    ap.add_argument("--steps", type=int, default=None, help="2500; the fine stage: 1500")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--width", type=int, default=16)
    ap.add_argument("--limit", type=int, default=None, help="use only the first N training faces")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--stage", choices=sorted(JITTER), default="coarse", help="the frames' errors it learns to undo")
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (the fine stage: the shipped aligner)")
    ap.add_argument("--lr", type=float, default=None, help="2e-3; the fine stage: 1e-3")
    ap.add_argument("--neg", type=float, default=None, help="the share of pictures with no face: 0.15; the fine stage: 0.1")
    ap.add_argument("--out", type=Path, default=None, help="the package's weights of the stage")
    ap.add_argument("--log", type=Path, default=None, help="write the validation log here (JSON)")
    args = ap.parse_args()
    fine = args.stage == "fine"
    defaults = {"steps": 1500 if fine else 2500, "lr": 1e-3 if fine else 2e-3, "neg": 0.1 if fine else 0.15,
                "out": FINE_ALIGNER_FILE if fine else ALIGNER_FILE, "init": ALIGNER_FILE if fine else None}  # fmt: skip
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    faces, pokemon = load(args.data, args.limit), load(args.negatives)
    held, faces = faces[-500:], faces[:-500]
    bank = backgrounds(rng, 2000)
    template = template_in_square("celeba", CROP, SIZE)
    base = small_to_square()
    print(f"{len(faces)} faces, {len(pokemon)} other pictures loaded in {time.time() - t0:.0f} s", flush=True)
    vrng = np.random.default_rng(12345)
    val = [batch(vrng, held, pokemon, bank, template, base, 250, stage=args.stage) for _ in range(4)]
    model = build_aligner(width=args.width) if args.init is None else load_aligner(args.init)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.05)
    bce = nn.BCEWithLogitsLoss()
    log = []
    for step in range(1, args.steps + 1):
        model.train()
        x, t, y = batch(rng, faces, pokemon, bank, template, base, args.batch, negatives=args.neg, stage=args.stage)
        out = model(x)
        pos = y > 0.5
        reg = nn.functional.smooth_l1_loss(points(out[pos, :4]), points(t[pos]), beta=0.02)
        loss = reg + 0.1 * bce(out[:, 4], y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps:
            model.eval()
            errs, before, acc = [], [], []
            with torch.no_grad():
                for vx, vt, vy in val:
                    vo = model(vx)
                    vp = vy > 0.5
                    errs.append((points(vo[vp, :4]) - points(vt[vp])).norm(dim=-1).mean(1) * SIZE / 2)
                    before.append((points(torch.zeros_like(vt[vp])) - points(vt[vp])).norm(dim=-1).mean(1) * SIZE / 2)
                    acc.append(((vo[:, 4] > 0) == vp).float())
            e, b, a = torch.cat(errs), torch.cat(before), torch.cat(acc)
            rec = {"step": step, "loss": loss.item(), "val_err_px": float(e.mean()), "val_err_median": float(e.median()),
                   "val_before_px": float(b.mean()), "face_acc": float(a.mean()), "seconds": round(time.time() - t0)}  # fmt: skip
            log.append(rec)
            print(json.dumps(rec), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_aligner(model.eval(), args.out)
    if args.log:
        record = {"command": " ".join(sys.argv), "log": log}
        args.log.write_text(json.dumps(record, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
