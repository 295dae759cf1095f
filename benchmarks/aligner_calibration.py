"""The face aligner's systematic error, measured on photos the photo benchmark never uses.

Photos made exactly like ``benchmarks/photos.py``'s (``make_photo`` / ``make_hole``: the same
placements and hole kinds, cycled) but from ``celeba128/val`` faces that are not among the
benchmark's picks (its ``default_rng(0).choice(len(files), 100)``), with another seed.  Each
photo's face is found the way the default path finds it (``data.faces.FaceFinder``: detectors,
landmarks, the aligner's coarse and fine passes), and its
canonical frame (``data.align``: the centre 108 box of the aligned frame at 64 px) compared
with the true one: the similarity that takes the found square onto the true square, as
``data.align.prediction_matrix``'s parameters (scale - 1 and rotation about the square's
centre, translation in [-1, 1] units; reported as per cent, degrees and pixels of 64), by hole
kind and for each half of the photos (is the bias consistent?).  Then the mean's correction
composed after every found frame: the corner error (mean distance of the square's corners and
centre, px of 64) without it, with it, and with each half's mean applied to the other half; and
the hole PSNR of the default model (``faces``: faces128 on all these photos) filling each photo
in its found frame, the corrected one, and the true one.

    .venv/bin/python benchmarks/aligner_calibration.py [--n 200] [--seed 1] [--out benchmarks/aligner-calibration.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from ganfill.core.runtime import machine_line  # noqa: E402
from ganfill.data import align  # noqa: E402
from ganfill.data.faces import FaceFinder, face_frame, template_in_square  # noqa: E402
from ganfill.data.framing import Frame  # noqa: E402
from ganfill.data.reading import image_files  # noqa: E402
from photos import HOLES, make_hole, make_photo  # noqa: E402

BENCHMARK_N, BENCHMARK_SEED = 100, 0  # benchmarks/photos.py's defaults: its picks are left out


def true_canonical(m: np.ndarray) -> np.ndarray:
    """3x3: photo -> the aligner's square under the true alignment (``m``: aligned frame -> photo)."""
    s = align.SIZE / align.CROP
    ox, oy = (align.ALIGNED[0] - align.CROP) / 2, (align.ALIGNED[1] - align.CROP) / 2
    to_square = np.array([[s, 0, -ox * s], [0, s, -oy * s], [0, 0, 1]])
    return to_square @ np.linalg.inv(np.vstack([m, [0, 0, 1]]))


def parameters(found: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(a - 1, b, tx, ty): ``prediction_matrix``'s parameters of the map from the found square
    (canonical 3x3 ``found``) onto the true one."""
    h = align.SIZE / 2
    norm = np.array([[1 / h, 0, -1.0], [0, 1 / h, -1.0], [0, 0, 1]])  # square px -> [-1, 1]
    e = norm @ true @ np.linalg.inv(found) @ np.linalg.inv(norm)
    return np.array([e[0, 0] - 1, e[1, 0], e[0, 2], e[1, 2]])


def corner_error(found: np.ndarray, true: np.ndarray) -> float:
    """Mean distance (px of the 64 square) between the found square's corners and centre and
    where they belong."""
    c = np.array([[0, 0, 1], [64, 0, 1], [64, 64, 1], [0, 64, 1], [32, 32, 1]], np.float64).T
    return float(np.linalg.norm((true @ np.linalg.inv(found) @ c)[:2] - c[:2], axis=0).mean())


def readable(p: np.ndarray) -> dict:
    """Parameters as scale (%), rotation (degrees, counterclockwise in the image), shift (px of 64)."""
    a, b, tx, ty = p
    return {
        "scale_pct": float((np.hypot(1 + a, b) - 1) * 100),
        "rotation_deg": float(np.degrees(np.arctan2(b, 1 + a))),
        "shift_x_px": float(tx * align.SIZE / 2),
        "shift_y_px": float(ty * align.SIZE / 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(__file__).parents[1].parent / "shared/data/celeba128/val")
    ap.add_argument("--n", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "aligner-calibration.json")
    args = ap.parse_args()
    print(machine_line(), flush=True)
    files = image_files(args.data)
    used = set(np.random.default_rng(BENCHMARK_SEED).choice(len(files), BENCHMARK_N, replace=False).tolist())
    pool = np.array([k for k in range(len(files)) if k not in used])
    rng = np.random.default_rng(args.seed)
    picks = pool[rng.choice(len(pool), args.n, replace=False)]
    assert not used & set(picks.tolist())
    finder = FaceFinder()
    target = template_in_square("celeba", align.CROP, align.SIZE)
    rows, cases, t0 = [], [], time.perf_counter()
    for i, k in enumerate(picks):
        face = np.asarray(Image.open(files[k]).convert("RGB"))
        photo, m = make_photo(face, rng)
        kind = HOLES[i % len(HOLES)]
        hole = make_hole(kind, m, photo.shape[:2], rng)
        zeroed = np.where(hole[..., None], 0, photo).astype(np.uint8)
        row = {"photo": files[k].name, "hole": kind, "found": False}
        for f in finder.find(zeroed, hole):  # the first face whose square holds the hole (face_frames')
            frame = f.frame if f.frame is not None else face_frame(f, target, hole)
            if (Frame(frame, align.SIZE).covers(*hole.shape) & hole).any():
                found, true = np.vstack([frame, [0, 0, 1]]), true_canonical(m)
                row.update(
                    found=True,
                    aligned=f.frame is not None,
                    params=parameters(found, true).tolist(),
                    corner_px=corner_error(found, true),
                )
                cases.append((len(rows), photo, zeroed, hole, found, true))
                break
        rows.append(row)
        if (i + 1) % 20 == 0:
            print(f"{i + 1}/{args.n} {time.perf_counter() - t0:.0f} s", flush=True)

    ok = [r for r in rows if r["found"] and r["aligned"]]
    mean = np.mean([r["params"] for r in ok], 0)
    halves = [ok[: len(ok) // 2], ok[len(ok) // 2 :]]
    half_means = [np.mean([r["params"] for r in h], 0) for h in halves]
    import ganfill
    from ganfill.apps import fill
    from photos import hole_psnr

    repairer = ganfill.load("faces")
    for j, photo, zeroed, hole, found, true in cases:
        row = rows[j]
        if not row["aligned"]:
            continue
        other = half_means[1] if row in halves[0] else half_means[0]
        row["corner_px_corrected"] = corner_error(align.prediction_matrix(mean) @ found, true)
        row["corner_px_corrected_other_half"] = corner_error(align.prediction_matrix(other) @ found, true)
        for name, frame in (("found", found), ("corrected", align.prediction_matrix(mean) @ found), ("true", true)):
            chosen, frames = repairer.pick([Frame(frame[:2], align.SIZE, "face")])  # the aligner's square is faces64's
            item = fill.make_item(zeroed, chosen, hole=hole, frames=frames)
            row[f"psnr_{name}"] = hole_psnr(fill.complete_items(chosen, [item], seed=0)[1][0], photo, hole)
        row["model_resolution"] = chosen.resolution

    def summary(sel: list[dict]) -> dict:
        p = np.array([r["params"] for r in sel])
        se = p.std(0, ddof=1) / np.sqrt(len(p))
        keys = ("corner_px", "corner_px_corrected", "corner_px_corrected_other_half", "psnr_found", "psnr_corrected", "psnr_true")
        return {
            "n": len(sel),
            "mean": readable(p.mean(0)),
            "standard_error": {k: abs(v) for k, v in readable(se).items()},
            "params": p.mean(0).tolist(),
            **{k: float(np.mean([r[k] for r in sel])) for k in keys},
        }

    gain = np.array([r["psnr_corrected"] - r["psnr_found"] for r in ok])
    result = {
        "machine": machine_line(),
        "n": args.n,
        "seed": args.seed,
        "found_and_aligned": len(ok),
        "all": summary(ok),
        "psnr_gain_of_the_correction": {
            "mean": float(gain.mean()),
            "standard_error": float(gain.std(ddof=1) / np.sqrt(len(gain))),
        },
        "halves": [summary(h) for h in halves],
        "by_hole": {h: summary([r for r in ok if r["hole"] == h]) for h in HOLES},
        "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]),
        "rows": rows,
    }
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    for name, s in [("all", result["all"]), *(("half", h) for h in result["halves"]), *result["by_hole"].items()]:
        m, e = s["mean"], s["standard_error"]
        print(
            f"{name:10s} n={s['n']:3d} scale {m['scale_pct']:+.2f}±{e['scale_pct']:.2f}% "
            f"rot {m['rotation_deg']:+.2f}±{e['rotation_deg']:.2f}° "
            f"shift ({m['shift_x_px']:+.2f}±{e['shift_x_px']:.2f}, {m['shift_y_px']:+.2f}±{e['shift_y_px']:.2f}) px; "
            f"corner {s['corner_px']:.2f} -> {s['corner_px_corrected']:.2f} "
            f"(other half's {s['corner_px_corrected_other_half']:.2f}) px; "
            f"PSNR {s['psnr_found']:.2f} -> {s['psnr_corrected']:.2f} (true {s['psnr_true']:.2f})"
        )
    print("params (a-1, b, tx, ty):", [round(v, 5) for v in result["all"]["params"]])
    g = result["psnr_gain_of_the_correction"]
    print(f"PSNR gain of the correction: {g['mean']:+.3f} +- {g['standard_error']:.3f} dB")


if __name__ == "__main__":
    main()
