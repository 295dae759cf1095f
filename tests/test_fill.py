"""File-level inpainting (`ganfill inpaint`): domain and fit modes, masks, outputs, errors, sharding."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.apps import fill
from ganfill.core.images import to_tensor
from ganfill.data.framing import Frame
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint

from conftest import blob_images, shared, train_tiny

FAST = CompleteConfig(num_steps=30, record_every=10)


@pytest.fixture(scope="session")
def tiny_run(tiny_dataset, tmp_path_factory):
    """A tiny DCGAN (32x32, width 8) trained for 200 iterations on the blob images (~8 s)."""
    run = tmp_path_factory.mktemp("tiny-run") / "run"
    train_tiny(tiny_dataset, run, steps=200)
    return run


@pytest.fixture
def photos(tmp_path):
    """Inputs of several sizes and modes: RGB, RGBA, greyscale JPEG, palette, 16-bit."""
    folder = tmp_path / "in"
    folder.mkdir()
    imgs = blob_images(5, 48, seed=3)
    Image.fromarray(imgs[0]).resize((50, 70)).save(folder / "rgb.png")
    rgba = Image.fromarray(imgs[1]).convert("RGBA")
    rgba.putalpha(200)
    rgba.save(folder / "rgba.png")
    Image.fromarray(imgs[2]).convert("L").resize((100, 80)).save(folder / "grey.jpg", quality=90)
    Image.fromarray(imgs[3]).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    Image.fromarray(imgs[4][..., 0].astype(np.uint16) * 257).save(folder / "deep.png")
    return folder


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ganfill", *map(str, args)], capture_output=True, text=True, **kw)


def _png(path):
    return np.asarray(Image.open(path).convert("RGB"))


def test_total_loss_falls_with_a_trained_model(tiny_run):
    model = checkpoint.load(tiny_run)
    m = torch.ones(6, 1, 32, 32)
    m[:, :, 8:24, 8:24] = 0
    cfg = CompleteConfig(num_steps=150)
    # real images of the training domain: the loss falls for every one of them
    x = to_tensor(blob_images(6, 32, seed=9))
    prior = model.prior()
    res = complete(prior, x, m, config=cfg, generator=torch.Generator().manual_seed(0))
    assert res.losses.shape == (151, 6)
    assert (res.losses[-1] < res.losses[0]).all() and (res.losses[-1] < res.losses[50]).all()
    assert not torch.equal(res.fake[:, :, 8:24, 8:24], x[:, :, 8:24, 8:24])
    # images G can draw exactly: the search finds them (loss falls by more than half)
    with torch.no_grad():
        target = model.G(torch.randn(6, 8, generator=torch.Generator().manual_seed(5)))
    res = complete(prior, target, m, config=cfg, generator=torch.Generator().manual_seed(0))
    assert (res.contextual[-1] < 0.5 * res.contextual[0]).all()


def test_domain_mode_any_size_and_mode(tiny_run, photos, tmp_path):
    model = checkpoint.load(tiny_run)
    counts = fill.run(load_inpainter(model, "sharp", config=FAST), [photos], tmp_path / "out", batch_size=3, progress=False)
    assert counts == {"done": 5, "unchanged": 0, "skipped": 0, "total": 5, "failed": []}
    for name in ("rgb", "rgba", "grey", "palette", "deep"):
        out = tmp_path / "out" / name
        completed, masked, fake = (_png(out / f) for f in ("completed.png", "masked.png", "fake.png"))
        assert completed.shape == fake.shape == (32, 32, 3)
        known = np.ones((32, 32), bool)
        known[8:24, 8:24] = False
        assert np.array_equal(completed[known], masked[known])  # known pixels bit-exact
        assert (masked[~known] == fill.HOLE_GREY).all()
        record = json.loads((out / "record.json").read_text())
        assert (
            record["framing"] == "domain"
            and record["mode"] == "sharp"
            and len(record["loss"]) == 31
            and record["hole_fraction"] == 0.25
        )
        assert sorted(p.name for p in (out / "frames").iterdir()) == [f"step-{s:05d}.png" for s in (0, 10, 20, 30)]
        gif = Image.open(out / "progress.gif")
        assert gif.n_frames >= 4
        assert Image.open(out / "figure.png").size[0] > 4 * 32


def test_same_seed_same_result_whatever_the_batching(tiny_run, photos, tmp_path):
    model = checkpoint.load(tiny_run)
    inpainter = load_inpainter(model, "sharp", config=FAST)
    for folder, batch_size, seed in (("a", 5, 7), ("b", 2, 7), ("c", 5, 8)):
        fill.run(inpainter, [photos], tmp_path / folder, mask="pattern", batch_size=batch_size, seed=seed, progress=False)
    for name in ("rgb", "deep"):
        a, b, c = (_png(tmp_path / d / name / "completed.png") for d in "abc")
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)


def test_fit_mode_touches_only_the_hole_at_full_resolution(tiny_run, tmp_path):
    photo = np.asarray(Image.fromarray(blob_images(1, 64, seed=4)[0]).resize((160, 120)))
    (tmp_path / "in").mkdir()
    Image.fromarray(photo).save(tmp_path / "in" / "big.png")
    hole = np.zeros((120, 160), np.uint8)
    hole[40:70, 90:130] = 255
    Image.fromarray(hole).save(tmp_path / "hole.png")
    model = checkpoint.load(tiny_run)
    fill.run(
        load_inpainter(model, "sharp", config=FAST),
        [tmp_path / "in"],
        tmp_path / "out",
        mask=str(tmp_path / "hole.png"),
        framing="fit",
        progress=False,
    )
    completed = _png(tmp_path / "out" / "big" / "completed.png")
    assert completed.shape == photo.shape
    inside = hole > 0
    assert np.array_equal(completed[~inside], photo[~inside])
    assert not np.array_equal(completed[inside], photo[inside])
    record = json.loads((tmp_path / "out" / "big" / "record.json").read_text())
    assert record["framing"] == "fit" and len(record["frames"]) == 1
    corners = Frame(np.array(record["frames"][0]["matrix"]), 32).corners()  # the square's box in the photo
    (left, top), (right, bottom) = corners.min(0), corners.max(0)
    assert np.isclose(right - left, bottom - top) and left <= 90 and right >= 130 and top <= 40 and bottom >= 70


def test_mask_folder_is_matched_by_stem(tiny_run, photos, tmp_path):
    masks = tmp_path / "masks"
    masks.mkdir()
    for p in photos.iterdir():
        w, h = Image.open(p).size
        m = np.zeros((h, w), np.uint8)
        m[: h // 2] = 255 if p.stem != "grey" else 0  # top half missing; grey's mask has no hole
        Image.fromarray(m).save(masks / f"{p.stem}.png")
    model = checkpoint.load(tiny_run)
    notes = []
    counts = fill.run(
        load_inpainter(model, "sharp", config=FAST),
        [photos],
        tmp_path / "out",
        mask=str(masks),
        progress=False,
        notify=notes.append,
    )
    assert counts["done"] == 4 and counts["unchanged"] == 1
    assert len(notes) == 1 and "grey.jpg" in notes[0] and "unchanged" in notes[0]
    # grey's result is its input, untouched
    from ganfill.data.reading import load_image

    assert np.array_equal(_png(tmp_path / "out" / "grey" / "completed.png"), load_image(photos / "grey.jpg"))
    completed = _png(tmp_path / "out" / "rgb" / "completed.png")
    masked = _png(tmp_path / "out" / "rgb" / "masked.png")
    assert (masked[:14] == fill.HOLE_GREY).all() and np.array_equal(completed[18:], masked[18:])


def test_rerun_skips_what_is_done(tiny_run, photos, tmp_path):
    model = checkpoint.load(tiny_run)
    fill.run(load_inpainter(model, "sharp", config=FAST), [photos / "rgb.png"], tmp_path / "out", progress=False)
    record = tmp_path / "out" / "rgb" / "record.json"
    before = record.stat().st_mtime_ns
    counts = fill.run(load_inpainter(model, "sharp", config=FAST), [photos], tmp_path / "out", progress=False)
    assert counts["skipped"] == 1 and counts["done"] == 4 and record.stat().st_mtime_ns == before


def test_cli_on_real_celeba_originals(tiny_run, tmp_path):
    src = shared("celeba-aligned-sample")
    files = sorted(src.glob("*.jpg"))[:2]
    proc = _cli("inpaint", tiny_run, *files, "--out", tmp_path / "out", "--num-steps", 10, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert "2 image(s) completed" in proc.stdout
    for f in files:
        assert _png(tmp_path / "out" / f.stem / "completed.png").shape == (32, 32, 3)


@pytest.mark.parametrize(
    "case, words",
    [
        ("unreadable", "bad.png"),
        ("mismatched mask", "cannot be matched"),
        ("not a checkpoint", "not a readable safetensors"),
        ("unknown mask", "neither a mask name"),
        ("missing input", "does not exist"),
    ],
)
def test_cli_bad_input(tiny_run, photos, tmp_path, case, words):
    ckpt = tiny_run
    args = [photos / "rgb.png"]
    extra = []
    if case == "unreadable":
        (tmp_path / "bad.png").write_text("not an image")
        args = [tmp_path / "bad.png"]
    elif case == "mismatched mask":
        Image.new("L", (200, 50), 255).save(tmp_path / "wide.png")
        extra = ["--mask", tmp_path / "wide.png"]
    elif case == "not a checkpoint":
        ckpt = tmp_path / "fake.safetensors"
        ckpt.write_bytes(b"\0" * 100)
    elif case == "unknown mask":
        extra = ["--mask", "triangle"]
    elif case == "missing input":
        args = [tmp_path / "nothing.png"]
    proc = _cli("inpaint", ckpt, *args, "--out", tmp_path / "out", "--num-steps", 5, "--quiet", *extra)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ganfill: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert words in proc.stderr
    assert not (tmp_path / "out").exists()


def test_cli_mask_that_hides_everything_warns_pure_generation(tiny_run, photos, tmp_path):
    Image.new("L", (50, 70), 255).save(tmp_path / "all.png")
    proc = _cli(
        "inpaint",
        tiny_run,
        photos / "rgb.png",
        "--out",
        tmp_path / "out",
        "--mask",
        tmp_path / "all.png",
        "--num-steps",
        5,
        "--quiet",
    )
    assert proc.returncode == 0, proc.stderr
    assert "pure generation" in proc.stderr and "Traceback" not in proc.stderr
    # auto framing: the model's square would shrink the photo more than 2x, so a box around the hole,
    # the photo back at its size
    assert _png(tmp_path / "out" / "rgb" / "completed.png").shape == _png(photos / "rgb.png").shape


def test_torchrun_two_process_sharded_run(tiny_run, photos, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        2,
        "--master_port",
        29518,
        "-m",
        "ganfill",
        "inpaint",
        tiny_run,
        photos,
        "--out",
        tmp_path / "out",
        "--num-steps",
        5,
        "--quiet",
    ]
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    done = sorted(p.name for p in (tmp_path / "out").iterdir() if (p / "record.json").is_file())
    assert done == ["deep", "grey", "palette", "rgb", "rgba"]
    # each process reported its own share: 3 + 2
    assert sorted(int(line.split()[0]) for line in proc.stdout.splitlines() if "completed" in line) == [2, 3]
