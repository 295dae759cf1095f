"""Photos repaired where they are: held-out CelebA faces placed into larger photos, holes over
the face, every method measured at the photo's resolution on the same photos and holes.

Each photo is one ``celeba128/val`` face (held-out identities; the native 128x128 centre of the
aligned original) put into a canvas by a random similarity transform (scale 1.3-2.6 of the
aligned frame, rotation up to 18 degrees, shift) over a blurred background; its hole is one of
eyes, eyes+nose, mouth, lower half, strokes (20 photos each), placed by the face template and
kept on the face's own pixels (``ON_FACE``: outside the 128x128 crop the photo is the made-up
background), so the ground truth is known at photo resolution.  Methods:

* ``telea``: OpenCV at the photo's resolution;
* ``fit``: ganfill with ``framing="fit"`` (a box twice the hole's size);
* ``ganfill``: the default path, ``ganfill.repair(photo, hole)`` (landmark framing);
* ``found square only``: the same without averaging the fill over the frame's errors
  (``apps.fill.complete_items(..., moves=())``);
* ``true-frame``: the same model given the true alignment (the CelebA crop the face was made
  from: it also knows where the hidden features sit in CelebA's own alignment);
* ``intact-landmarks``: the landmark framing with dlib's landmarks found on the intact photo
  (what the best landmark estimate under the hole could reach).

Scores: hole PSNR and SSIM (over the hole's bounding box) at photo resolution; in the face's
aligned 128x128 crop of each repaired photo against the intact photos, faces found
(``evaluation.judges.faces_found``) and how often the two realism judges tell repaired from
intact (``evaluation.judges.JUDGES``: texture, CNN; 50% = not at all); known pixels
bit-identical; seconds per photo.
Then one 1-megapixel photo end to end.

    .venv/bin/python benchmarks/photos.py [--n 100] [--model faces] [--mode auto] [--out benchmarks/photos.json]

``--model faces`` (the API's default) picks faces64 or faces128 per photo by the face's size
(``apps.api.Repairer.pick``; the fit row always uses faces64, the first); ``--model faces64``
or ``faces128`` uses that one everywhere.  Each row records the face's width (``face_px``), and
the summary gives the mean over the faces 150 px wide or more.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage.metrics import structural_similarity

import ganfill
from ganfill.core.errors import GanfillError
from ganfill.core.runtime import machine_line
from ganfill.data.domain import parse_crop
from ganfill.data.faces import FaceFinder, face_frame, load_template, template_in_square
from ganfill.data.framing import Frame
from ganfill.data.reading import image_files
from ganfill.evaluation.judges import JUDGES, faces_found

HOLES = ("eyes", "eyes+nose", "mouth", "lower half", "strokes")
CROP_ORIGIN = np.array([25.0, 45.0])  # the 128x128 crop's corner in the 178x218 aligned frame
# Where a hole may lie in the aligned frame: on the face's own pixels, 2 px inside the 128x128 crop.
# Outside the crop a photo is the made-up background, which no method can be scored against.
ON_FACE = (slice(45 + 2, 173 - 2), slice(25 + 2, 153 - 2))


def make_photo(face: np.ndarray, rng: np.random.Generator, *, side: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A photo (H, W, 3) with ``face`` (128x128 crop) in it and the 2x3 map aligned frame -> photo."""
    scale, angle = rng.uniform(1.3, 2.6), rng.uniform(-18, 18)
    size = 218 * scale
    w = side or int(rng.uniform(1.6, 2.6) * size)
    h = side or int(rng.uniform(1.3, 2.0) * size)
    cx, cy = rng.uniform(0.35, 0.65) * w, rng.uniform(0.4, 0.6) * h
    m = cv2.getRotationMatrix2D((89.0, 109.0), angle, scale)
    m[:, 2] += [cx - 89.0, cy - 109.0]
    crop_to_photo = m.copy()
    crop_to_photo[:, 2] += m[:, :2] @ CROP_ORIGIN
    noise = rng.integers(0, 256, (max(4, h // 48), max(4, w // 48), 3)).astype(np.float32)
    noise = 0.5 * noise + 0.5 * noise.mean(axis=2, keepdims=True)  # muted colours
    background = cv2.GaussianBlur(cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC), (0, 0), 6).clip(0, 255)
    background = background.astype(np.uint8)
    photo = cv2.warpAffine(face, crop_to_photo, (w, h), dst=background, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_TRANSPARENT)
    return photo, m


# the holes drawn as a box around landmarks of the template: (its landmarks, padding (x, y) in
# aligned-frame pixels); benchmarks/train_aligner.py draws its training holes from the same
FEATURE_BOXES = {"eyes": (slice(36, 48), (8, 8)), "eyes+nose": (slice(27, 48), (8, 6)), "mouth": (slice(48, 68), (8, 7))}


def make_hole(kind: str, m: np.ndarray, shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """bool (H, W): the hole ``kind``, drawn in the aligned frame from the template, mapped to the photo."""
    points, _ = load_template("celeba")
    nose = points[27:36]
    frame = np.zeros((218, 178), np.uint8)
    if kind in FEATURE_BOXES:
        landmarks, pad = FEATURE_BOXES[kind]
        x0, y0 = points[landmarks].min(0) - pad
        x1, y1 = points[landmarks].max(0) + pad
        cv2.rectangle(frame, (int(x0), int(y0)), (int(x1), int(y1)), 1, -1)
    elif kind == "lower half":
        frame[int(nose[:, 1].mean()) :, 40:138] = 1
    else:  # strokes: a few thick random lines over the face
        for _ in range(4):
            a, b = rng.uniform([55, 80], [125, 175], (2, 2)).astype(int)
            cv2.line(frame, tuple(a), tuple(b), 1, int(rng.integers(6, 12)))
    on_face = np.zeros_like(frame)
    on_face[ON_FACE] = 1
    return cv2.warpAffine(frame * on_face, m, shape[::-1], flags=cv2.INTER_NEAREST) > 0


def hole_psnr(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    err = np.mean((out[hole].astype(np.float64) - truth[hole]) ** 2)
    return float(10 * np.log10(255**2 / max(err, 1e-10)))


def hole_ssim(out: np.ndarray, truth: np.ndarray, hole: np.ndarray) -> float:
    ys, xs = np.nonzero(hole)
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    if min(y1 - y0, x1 - x0) < 7:
        y0, x0 = max(0, y0 - 4), max(0, x0 - 4)
        y1, x1 = y1 + 4, x1 + 4
    return float(structural_similarity(out[y0:y1, x0:x1], truth[y0:y1, x0:x1], channel_axis=2, data_range=255))


def aligned_crop(photo: np.ndarray, m: np.ndarray) -> np.ndarray:
    """The face's 128x128 aligned crop out of a photo (the judge's view)."""
    crop_to_photo = m.copy()
    crop_to_photo[:, 2] += m[:, :2] @ CROP_ORIGIN
    return cv2.warpAffine(photo, crop_to_photo, (128, 128), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP)


def face_px(m: np.ndarray) -> float:
    """How wide the face is in the photo: the side of faces64's square (the aligned frame's
    centre 108x108 box, forehead to chin) in photo pixels."""
    return float(108 * np.sqrt(abs(np.linalg.det(m[:, :2]))))


def true_frame(m: np.ndarray, repairer) -> Frame:
    """The model's square under the true alignment: its crop box of the aligned frame."""
    inp = repairer.inpainter
    crop = int(inp.domain.crop.split(":")[1])
    r = inp.resolution
    origin = np.array([(178 - crop) / 2, (218 - crop) / 2])
    to_square = np.array([[r / crop, 0, -origin[0] * r / crop], [0, r / crop, -origin[1] * r / crop], [0, 0, 1]])
    photo_to_frame = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
    return Frame((to_square @ photo_to_frame)[:2], r, "true")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared/data/celeba128/val")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--model", default="faces")
    ap.add_argument("--mode", default="auto", help="ganfill's mode for every ganfill method (auto: the model's default)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "photos.json")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    from ganfill.apps import fill

    repairer = ganfill.load(args.model, mode=args.mode)
    inp = repairer.inpainter
    finder, target = FaceFinder(), template_in_square(inp.domain.faces, parse_crop(inp.domain.crop).size, inp.resolution)
    rng = np.random.default_rng(args.seed)
    files = image_files(args.data)
    picks = rng.choice(len(files), args.n, replace=False)
    methods = ("telea", "fit", "ganfill", "found square only", "intact-landmarks", "true-frame")
    rows, misses, crops, hole_crops = [], [], {name: [] for name in ("intact", *methods)}, []
    for i, k in enumerate(picks):
        face = np.asarray(Image.open(files[k]).convert("RGB"))
        photo, m = make_photo(face, rng)
        kind = HOLES[i % len(HOLES)]
        hole = make_hole(kind, m, photo.shape[:2], rng)
        crops["intact"].append(aligned_crop(photo, m))
        hole_crops.append(aligned_crop(hole.astype(np.uint8) * 255, m) > 127)
        outs, seconds = {}, {}
        zeroed = np.where(hole[..., None], 0, photo).astype(np.uint8)
        t0 = time.perf_counter()
        outs["telea"] = cv2.inpaint(zeroed, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
        seconds["telea"] = time.perf_counter() - t0
        for name, kw in (("fit", {"framing": "fit"}), ("ganfill", {})):
            t0 = time.perf_counter()
            try:
                outs[name] = repairer.repair(zeroed, hole, seed=args.seed, **kw)
            except GanfillError:  # no face found: what the user is told to do, --framing fit
                misses.append(files[k].name)
                outs[name] = repairer.repair(zeroed, hole, seed=args.seed, framing="fit")
            seconds[name] = time.perf_counter() - t0
        t0 = time.perf_counter()
        try:
            chosen, item = repairer.prepare(zeroed, hole)
            outs["found square only"] = fill.complete_items(chosen, [item], seed=args.seed, moves=())[1][0]
        except GanfillError:
            outs["found square only"] = outs["ganfill"]  # fit, as above: not averaged either
        seconds["found square only"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        intact = finder.find(photo)  # the landmarks of the face the hole covers, seen whole
        frames = [Frame(face_frame(intact[0], target), inp.resolution, "face")] if intact else [true_frame(m, repairer)]
        chosen, frames = repairer.pick(frames)  # the model the face's size calls for (of several)
        item = fill.make_item(zeroed, chosen, hole=hole, frames=frames)
        outs["intact-landmarks"] = fill.complete_items(chosen, [item], seed=args.seed)[1][0]
        seconds["intact-landmarks"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        chosen, frames = repairer.pick([true_frame(m, repairer)])
        item = fill.make_item(zeroed, chosen, hole=hole, frames=frames)
        outs["true-frame"] = fill.complete_items(chosen, [item], seed=args.seed)[1][0]
        seconds["true-frame"] = time.perf_counter() - t0
        for name, out in outs.items():
            crops[name].append(aligned_crop(out, m))
            rows.append(
                {
                    "photo": files[k].name,
                    "size": list(photo.shape[1::-1]),
                    "face_px": face_px(m),
                    "hole": kind,
                    "method": name,
                    "psnr": hole_psnr(out, photo, hole),
                    "ssim": hole_ssim(out, photo, hole),
                    "known_exact": bool(np.array_equal(out[~hole], photo[~hole])),
                    "seconds": seconds[name],
                }
            )
        if (i + 1) % 10 == 0:
            print(f"{i + 1}/{args.n}", flush=True)
    found = {name: float(faces_found(np.stack(c)).mean()) for name, c in crops.items()}
    intact_crops, holes = np.stack(crops["intact"]), np.stack(hole_crops)
    judged = {
        name: {j: JUDGES[j](intact_crops, np.stack(crops[name]), holes, seed=args.seed) for j in JUDGES} for name in methods
    }
    table = {}
    for name in methods:
        mine = [r for r in rows if r["method"] == name]
        table[name] = {
            "psnr": float(np.mean([r["psnr"] for r in mine])),
            "ssim": float(np.mean([r["ssim"] for r in mine])),
            "faces_found": found[name],
            "detectable": judged[name],
            "known_exact": all(r["known_exact"] for r in mine),
            "seconds": float(np.median([r["seconds"] for r in mine])),
            "by_hole": {h: float(np.mean([r["psnr"] for r in mine if r["hole"] == h])) for h in HOLES},
            "psnr_faces_150px": float(np.mean([r["psnr"] for r in mine if r["face_px"] >= 150])),
        }
    # one 1-megapixel photo with one face, end to end (the model already loaded)
    face = np.asarray(Image.open(files[picks[0]]).convert("RGB"))
    photo, m = make_photo(face, np.random.default_rng(1), side=1000)
    hole = make_hole("eyes", m, photo.shape[:2], rng)
    t0 = time.perf_counter()
    repairer.repair(photo, hole, seed=args.seed)
    megapixel = time.perf_counter() - t0
    result = {
        "machine": machine_line(),
        "python": platform.python_version(),
        "model": args.model,
        "mode": repairer.inpainter.mode,
        "n": args.n,
        "faces_found_intact": found["intact"],
        "no_face_found": misses,
        "methods": table,
        "megapixel_seconds": megapixel,
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"| method | hole PSNR (dB) | SSIM | faces found ({found['intact']:.0%} intact) | detectable: texture / CNN |", end="")
    print(" known exact | s / photo |\n|---|---|---|---|---|---|---|")
    for name, t in table.items():
        d = t["detectable"]
        print(
            f"| {name} | {t['psnr']:.2f} | {t['ssim']:.3f} | {t['faces_found']:.0%} | {d['texture']:.0%} / {d['cnn']:.0%} "
            f"| {t['known_exact']} | {t['seconds']:.2f} |"
        )
    print("by hole (PSNR):", {n: {h: round(v, 2) for h, v in t["by_hole"].items()} for n, t in table.items()})
    large = sum(r["face_px"] >= 150 for r in rows if r["method"] == "telea")
    print(f"faces 150 px or wider ({large} photos), PSNR:", {n: round(t["psnr_faces_150px"], 2) for n, t in table.items()})
    print(f"1-megapixel photo, one face, end to end: {megapixel:.2f} s; no face found (fit used) in {len(misses)} photos")


if __name__ == "__main__":
    main()
