"""Golden results, recorded before the package was reorganised (issue 23): behaviour must not move.

Fixed images (made here, no data files), fixed masks and seeds go through every mode of the
command line with the shipped models, and three tiny training runs (GAN, encoder of z, context
encoder) log their losses; ``tests/golden/golden.npz`` holds what the code gave when it was
recorded.  On a machine of the same kind as the recording (torch's CPU capability, the CPU
model and the thread count, the same precision) every completion must be bit-identical and every loss equal; on
another kind of CPU the convolution kernels round differently, so there the completions must
agree to within a few grey levels and the losses to 1e-3.  Recorded again when the faithful
mode's structure became the context encoder's mirror mean, and when its search started from
that mean with detail 1.2 (intended changes).

Record again (only when a change of behaviour is intended, and say so in the commit):
``.venv/bin/python tests/test_golden.py --record``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

GOLDEN = Path(__file__).parent / "golden" / "golden.npz"
INPAINT = [  # (model, mode, mask)
    ("faces64", "sharp", "center"),
    ("faces64", "faithful", "center"),
    ("faces64", "fast", "half"),
    ("faces64", "faithful", "random80"),
    ("pokemon64", "faithful", "center"),
    ("pokemon64", "sharp", "pattern"),
    ("glyphs32", "sharp", "center"),
]


THREADS = min(2, os.cpu_count() or 1)  # torch's threads while the golden quantities are made


def machine() -> str:
    """The kind of machine bit-identical results need: torch's capability, the CPU model (an
    AVX-512 Intel and an AVX-512 AMD take different kernel paths) and the threads (a reduction
    split another way rounds another way)."""
    from ganfill.core.runtime import cpu_info

    return f"{torch.backends.cpu.get_cpu_capability()} {cpu_info()['model']}, {THREADS} threads"


def inputs(folder: Path) -> dict[str, Path]:
    """Three small photo-like inputs per domain, written as PNG files (made here, deterministic)."""
    from matplotlib import font_manager
    from PIL import ImageDraw, ImageFont
    from skimage.data import astronaut, chelsea, coffee

    folder.mkdir(parents=True, exist_ok=True)
    faces = folder / "faces"
    faces.mkdir(exist_ok=True)
    photo = astronaut()
    for name, (top, left, side) in {"a": (20, 150, 140), "b": (0, 120, 200), "c": (40, 170, 110)}.items():
        Image.fromarray(photo[top : top + side, left : left + side]).save(faces / f"{name}.png")
    sprites = folder / "sprites"
    sprites.mkdir(exist_ok=True)
    for name, image in {"cat": chelsea(), "cup": coffee()}.items():
        Image.fromarray(image).resize((96, 96)).save(sprites / f"{name}.png")
    glyphs = folder / "glyphs"
    glyphs.mkdir(exist_ok=True)
    font = ImageFont.truetype(font_manager.findfont("DejaVu Sans"), 44)
    for ch in "aG7":
        img = Image.new("RGB", (48, 48), "white")
        ImageDraw.Draw(img).text((24, 24), ch, fill="black", font=font, anchor="mm")
        img.save(glyphs / f"{ch}.png")
    return {"faces64": faces, "pokemon64": sprites, "glyphs32": glyphs}


def run_cli(args: list[str]) -> None:
    from ganfill.apps.cli import main

    try:
        main(args)
    except SystemExit as e:
        assert e.code in (0, None), f"ganfill {' '.join(args)} exited {e.code}"


def results(tmp: Path) -> dict[str, np.ndarray]:
    """Every golden quantity: completions and fakes (uint8) and training losses (float64)."""
    from conftest import blob_images

    torch.set_num_threads(THREADS)  # whatever the tests before left
    out: dict[str, np.ndarray] = {}
    folders = inputs(tmp / "in")
    for model, mode, mask in INPAINT:
        dest = tmp / f"{model}-{mode}-{mask}"
        options = ["--out", str(dest), "--mode", mode, "--mask", mask, "--seed", "3", "--precision", "fp32", "--quiet"]
        run_cli(["inpaint", model, str(folders[model]), *options])
        for item in sorted(p for p in dest.iterdir() if p.is_dir()):
            for what in ("completed", "fake"):
                out[f"{model}/{mode}/{mask}/{item.name}/{what}"] = np.asarray(Image.open(item / f"{what}.png"))
    src = tmp / "blobs"
    src.mkdir()
    for i, img in enumerate(blob_images(48, 40)):
        Image.fromarray(img).save(src / f"{i:03d}.png")
    run_cli(["prepare", str(src), str(tmp / "data"), "--resolution", "32", "--crop", "none"])
    data = str(tmp / "data")
    tiny = ["--z-dim", "8", "--g-width", "8", "--d-width", "8"]
    short = "--batch-size 16 --precision fp32 --quiet".split()
    run_cli(["train", data, "--out", str(tmp / "gan"), *tiny, "--steps", "4", "--checkpoint-every", "2", *short])
    run_cli(
        ["train-encoder", str(tmp / "gan"), data, "--out", str(tmp / "enc"), "--steps", "3", "--checkpoint-every", "3", *short]
    )
    ce_shape = "--width 8 --bottleneck 16 --adv-width 8".split()
    run_cli(["train-ce", data, "--out", str(tmp / "ce"), *ce_shape, "--steps", "3", "--checkpoint-every", "3", *short])
    for run, keys in (("gan", ("loss_g", "loss_d")), ("enc", ("loss", "latent", "pixel")), ("ce", ("loss", "rec", "loss_d"))):
        rows = [json.loads(line) for line in (tmp / run / "log.jsonl").read_text().splitlines()]
        out[f"train/{run}"] = np.array([[row[k] for k in keys] for row in rows], dtype=np.float64)
    return out


@pytest.fixture(scope="module")
def now(tmp_path_factory):
    if not GOLDEN.is_file():
        pytest.fail(f"{GOLDEN} is missing: record it with `python tests/test_golden.py --record`")
    return results(tmp_path_factory.mktemp("golden"))


def golden() -> tuple[dict[str, np.ndarray], str]:
    with np.load(GOLDEN) as f:
        arrays = {k: f[k] for k in f.files}
    return arrays, str(arrays.pop("__machine__"))


def test_every_golden_quantity_is_still_produced(now):
    arrays, _ = golden()
    assert sorted(now) == sorted(arrays)


def test_completions_match_the_golden_ones(now):
    arrays, recorded_on = golden()
    for key, want in arrays.items():
        if key.startswith("train/"):
            continue
        got = now[key]
        assert got.shape == want.shape, key
        if machine() == recorded_on:
            assert np.array_equal(got, want), f"{key} changed (recorded on {recorded_on}, this machine too)"
        else:  # other CPU kernels round differently; a search amplifies it a little
            diff = np.abs(got.astype(int) - want.astype(int))
            assert diff.mean() < 4.0, f"{key}: mean difference {diff.mean():.2f} grey levels"


def test_training_losses_match_the_golden_ones(now):
    arrays, recorded_on = golden()
    for key, want in arrays.items():
        if not key.startswith("train/"):
            continue
        if machine() == recorded_on:
            assert np.array_equal(now[key], want), f"{key} changed: {now[key]} against {want}"
        else:
            np.testing.assert_allclose(now[key], want, rtol=1e-3, atol=1e-4, err_msg=key)


if __name__ == "__main__" and "--record" in sys.argv:
    import tempfile

    sys.path.insert(0, str(Path(__file__).parent))
    with tempfile.TemporaryDirectory() as tmp:
        arrays = results(Path(tmp))
    GOLDEN.parent.mkdir(exist_ok=True)
    np.savez_compressed(GOLDEN, __machine__=np.array(machine()), **arrays)
    print(f"{len(arrays)} golden quantities recorded on a {machine()} CPU in {GOLDEN}")
