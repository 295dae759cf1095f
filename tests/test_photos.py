"""Photos repaired where they are: frames into the model's square and back, faces found by their
landmarks, the guard for a face model on a hole that touches no face, and the Python API."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter
from skimage.data import astronaut

import ganfill
from ganfill.apps import fill
from ganfill.core.errors import GanfillError
from ganfill.data.domain import Domain
from ganfill.data.framing import Frame, box_frame, domain_frame, fit_frame
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.models import files as checkpoint

from conftest import REPO, blob_images, cli, one_line_error, tiny_gan, tiny_pair

FAST = CompleteConfig(num_steps=3)
EYES = (slice(88, 118), slice(185, 266))  # the astronaut's eyes (skimage.data.astronaut, 512x512)


@pytest.fixture(scope="module")
def face_model(tmp_path_factory):
    """A tiny GAN whose domain says it is a face model (CelebA-aligned, centre 108 box)."""
    path = tmp_path_factory.mktemp("face") / "tinyface.safetensors"
    return checkpoint.save(path, tiny_gan(calibrate=256, domain=Domain("center:108", faces="celeba")))


def _rotated_frame(r=32):
    angle, scale = np.radians(12), 0.21
    c, s = np.cos(angle) * scale, np.sin(angle) * scale
    return Frame(np.array([[c, -s, -10.0], [s, c, -30.0]]), r, "frame")


def test_a_frame_warps_in_and_back_and_leaves_known_pixels_bit_exact(face_model):
    photo = blob_images(1, 240, seed=4)[0]
    hole = np.zeros((240, 240), bool)
    hole[100:140, 90:170] = True
    inpainter = load_inpainter(face_model, "sharp", config=FAST)
    for frame in (_rotated_frame(), box_frame(60, 50, 150, 32), fit_frame(hole, 32)):
        item = fill.make_item(photo, inpainter, hole=hole, frames=[frame])
        assert item.xs.shape == (1, 32, 32, 3) and item.masks.shape == (1, 32, 32)
        assert not item.masks[0].all() and item.masks[0].any()
        _, finals, _ = fill.complete_items(inpainter, [item], seed=0)
        out = finals[0]
        assert out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole])
        assert not np.array_equal(out[hole], photo[hole])
    # into the square and back is the identity up to resampling where the square covers the photo
    frame = box_frame(40, 40, 64, 64)
    back = frame.from_square(frame.to_square(photo), 240, 240)
    inside = frame.covers(240, 240)
    assert inside[41:103, 41:103].all() and not inside[:30].any()
    assert np.abs(back[inside].astype(int) - photo[inside]).mean() < 3


def test_a_frame_gives_back_its_box_and_the_domain_frame_is_the_training_crop():
    assert np.allclose(box_frame(12.5, -7, 90, 64).box(), (12.5, -7, 90))
    turned = _rotated_frame()  # a turned square: its box has the same centre and side
    x, y, side = turned.box()
    assert np.isclose(side, 32 / turned.scale) and np.allclose([x + side / 2, y + side / 2], turned.corners().mean(0))
    for crop, (h, w), corners in [
        ("center:108", (218, 178), [[35, 55], [143, 55], [143, 163], [35, 163]]),
        ("none", (100, 300), [[0, 0], [300, 0], [300, 100], [0, 100]]),
        ("pad", (100, 300), [[0, -100], [300, -100], [300, 200], [0, 200]]),
    ]:
        frame = domain_frame(Domain(crop), h, w, 64)
        assert frame.kind == "domain" and np.allclose(frame.corners(), corners)
        # the domain frame's square is the model's square of the image: to_domain's crop and resize
        image = blob_images(1, 64, seed=3)[0]
        photo = np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))
        if crop != "pad":
            same = Domain(crop).square(photo, 64).astype(int) - frame.to_square(photo).astype(int)
            assert np.abs(same).mean() < 6


def test_find_frames_for_each_framing(face_model):
    photo = blob_images(1, 200, seed=1)[0]
    hole = np.zeros((200, 200), bool)
    hole[80:100, 120:150] = True
    plain, face = Domain(), checkpoint.load(face_model).domain
    assert [f.kind for f in fill.find_frames(photo, hole, plain, 32, "domain")] == ["domain"]
    assert fill.find_frames(photo, None, plain, 32, "fit") == []  # no hole, no box around it
    (fit,) = fill.find_frames(photo, hole, plain, 32, "fit")
    assert fit.kind == "fit" and (fit.covers(200, 200) & hole).sum() == hole.sum()
    with pytest.raises(GanfillError, match="face framing needs a face model"):
        fill.find_frames(photo, hole, plain, 32, "face")
    assert fill.find_frames(photo, hole, face, 32, "face") == []  # no face here: the caller's guard says so
    # auto keeps any photo at its size when asked (the page and the API): a box around the hole
    assert fill.resolve_framing("auto", plain, (90, 90), 64) == "domain"
    assert fill.resolve_framing("auto", plain, (90, 90), 64, fit_above=0) == "fit"
    assert fill.resolve_framing("auto", plain, (64, 64), 64, fit_above=0) == "domain"
    assert fill.resolve_framing("auto", face, (90, 90), 64, fit_above=0) == "face"


def test_pixels_of_the_square_outside_the_photo_count_as_missing():
    frame = box_frame(-20, -20, 80, 40)  # the square's top-left quarter lies outside the photo
    known = frame.known_in_square(np.zeros((100, 100), bool))
    assert not known[:9, :].any() and not known[:, :9].any() and known[12:, 12:].all()


def test_a_face_model_on_a_hole_that_touches_no_face_stops_with_one_line(face_model, tmp_path):
    Image.fromarray(blob_images(1, 200, seed=1)[0]).save(tmp_path / "blob.png")
    mask = np.zeros((200, 200), np.uint8)
    mask[80:120, 80:120] = 255
    Image.fromarray(mask).save(tmp_path / "hole.png")
    args = ["inpaint", face_model, tmp_path / "blob.png", "--mask", tmp_path / "hole.png", "--out", tmp_path / "out"]
    proc = subprocess.run([sys.executable, "-m", "ganfill", *map(str, args), "--quiet"], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and "touches no face" in proc.stderr and "--frame X,Y,SIZE" in proc.stderr
    assert not (tmp_path / "out").exists()
    # the frame given by hand repairs it: the whole photo back at its size
    proc = subprocess.run(
        [sys.executable, "-m", "ganfill", *map(str, args), "--frame", "40,40,120", "--num-steps", "3", "--quiet"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    record = json.loads((tmp_path / "out" / "blob" / "record.json").read_text())
    assert record["framing"] == "frame" and np.asarray(Image.open(tmp_path / "out" / "blob" / "completed.png")).shape == (
        200,
        200,
        3,
    )


def test_the_face_a_hole_touches_is_framed_by_its_landmarks(face_model):
    photo = astronaut()
    hole = np.zeros(photo.shape[:2], bool)
    hole[EYES] = True
    item = fill.make_item(photo, load_inpainter(face_model, "sharp", config=FAST), framing="auto", hole=hole)
    assert item.framing == "face" and len(item.frames) == 1
    corners = item.frames[0].corners()
    side = np.hypot(*(corners[1] - corners[0]))
    centre = corners.mean(0)  # the eyes (x 225, y 103) sit about the middle of CelebA's 108 box
    assert 100 < side < 260 and abs(centre[0] - 225) < 0.15 * side and abs(centre[1] - 103) < 0.2 * side


def test_a_mask_that_hides_most_of_the_image_is_warned_about(face_model, tmp_path):
    Image.fromarray(blob_images(1, 32, seed=1)[0]).save(tmp_path / "p.png")
    Image.fromarray(np.full((32, 32), 255, np.uint8) * (np.arange(32)[:, None] > 3)).save(tmp_path / "m.png")
    notes = []
    fill.run(load_inpainter(face_model, "sharp", config=FAST), [tmp_path / "p.png"], tmp_path / "out",
             mask=str(tmp_path / "m.png"), progress=False, notify=notes.append)  # fmt: skip
    assert any("is it inverted?" in n for n in notes), notes


def test_repair_returns_the_photo_at_its_size_as_it_was_given(face_model):
    photo = blob_images(1, 150, seed=2)[0]
    hole = np.zeros((150, 150), bool)
    hole[60:90, 50:100] = True
    repairer = ganfill.load(face_model, mode="sharp", config=FAST)
    out = repairer.repair(photo, hole, frame=(20, 20, 110))
    assert isinstance(out, np.ndarray) and out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole])
    pil = repairer.repair(Image.fromarray(photo), Image.fromarray(hole.astype(np.uint8) * 255), frame=(20, 20, 110))
    assert isinstance(pil, Image.Image) and np.array_equal(np.asarray(pil), out)  # PIL in, PIL out, the same repair
    with pytest.raises(GanfillError, match="touches no face"):
        repairer.repair(photo, hole)
    with pytest.raises(GanfillError, match="the hole is 10x10 but the image is 150x150"):
        repairer.repair(photo, np.ones((10, 10), bool))


def test_the_readme_photo_example_runs(tmp_path, monkeypatch):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("### Your photo, from Python") :]
    start = section.index("```python\n") + len("```python\n")
    code = section[start : section.index("```\n", start)]
    monkeypatch.chdir(tmp_path)
    photo = astronaut()
    Image.fromarray(photo).save("photo.jpg", quality=95)
    hole = np.zeros(photo.shape[:2], np.uint8)
    hole[EYES] = 255
    Image.fromarray(hole).save("hole.png")
    exec(compile(code, "README.md", "exec"), {})
    repaired = np.asarray(Image.open("repaired.png"))
    original = np.asarray(Image.open("photo.jpg"))
    assert repaired.shape == original.shape and np.array_equal(repaired[hole == 0], original[hole == 0])
    assert not np.array_equal(repaired[hole > 0], original[hole > 0])


def test_recentred_puts_another_face_models_square_on_the_same_face():
    """faces64's square (the centred 108 box of the aligned frame at 64) moved to faces128's
    (the centred 128 box at 128): the same centre, a side 128/108 as long, and every point of
    the aligned frame where it was."""
    from ganfill.data.framing import recentred

    small = _rotated_frame(64)
    big = recentred(small, 108, 128, 128)
    assert big.resolution == 128 and big.kind == small.kind
    a, b = small.corners(), big.corners()
    assert np.allclose(a.mean(0), b.mean(0))
    assert np.isclose(np.hypot(*(b[1] - b[0])) / np.hypot(*(a[1] - a[0])), 128 / 108)
    # a photo point at square64 (u, v) sits in the aligned frame at 35 + u * 108 / 64 (the 108 box starts
    # 35 px in from the left of the 178-wide frame, the 128 box 25 px): square128 (u * 108 / 64 + 10)
    photo_point = np.array([100.0, 200.0])
    u = small.matrix[:, :2] @ photo_point + small.matrix[:, 2]
    assert np.allclose(big.matrix[:, :2] @ photo_point + big.matrix[:, 2], u * 108 / 64 + 10)


def test_of_several_face_models_a_photo_gets_the_one_its_face_size_calls_for(tmp_path):
    """A list of face models (like the default ``faces``: faces64 and faces128): the larger model
    where its square covers at least its resolution in photo pixels, the smaller one otherwise;
    either way the photo comes back at its size with its known pixels exact."""
    face = Domain("center:108", faces="celeba")
    small = checkpoint.save(tmp_path / "face32.safetensors", tiny_gan(calibrate=256, domain=face))
    big = checkpoint.save(
        tmp_path / "face64.safetensors", tiny_gan(calibrate=256, domain=Domain("center:128", faces="celeba"), resolution=64)
    )
    repairer = ganfill.load([big, small], mode="sharp", config=FAST)  # any order: by resolution
    assert [i.resolution for i in repairer.inpainters] == [32, 64]
    for side, want in ((40, 32), (100, 64)):  # the small model's square: 40 px -> the big one's 47 px < 64; 100 -> 119 px
        chosen, frames = repairer.pick([box_frame(30, 30, side, 32)])
        assert chosen.resolution == want and frames[0].resolution == want
    photo = blob_images(1, 200, seed=5)[0]
    hole = np.zeros((200, 200), bool)
    hole[80:110, 70:120] = True
    out = repairer.repair(photo, hole, frame=(40, 40, 120))
    assert out.shape == photo.shape and np.array_equal(out[~hole], photo[~hole]) and not np.array_equal(out[hole], photo[hole])
    with pytest.raises(GanfillError, match="a context encoder goes with one model"):
        ganfill.load([big, small], mode="fast", cnn=small)
    with pytest.raises(GanfillError, match="face models of one landmark template"):
        ganfill.load([small, checkpoint.save(tmp_path / "plain.safetensors", tiny_gan(resolution=64))], mode="sharp")


def test_a_moved_square_shifts_scales_and_turns_about_its_centre():
    from ganfill.data.framing import moved, square_to_square

    frame = _rotated_frame(64)
    assert np.allclose(moved(frame, 0, 0, 0, 0).matrix, frame.matrix)
    c = (64 - 1) / 2  # the square's centre (pixel centres at integers)
    inverse = np.linalg.inv(np.vstack([frame.matrix, [0, 0, 1]]))
    centre = (inverse @ [c, c, 1])[:2]  # the photo point there
    shifted = moved(frame, 0.25, -0.1, 0.0, 0.0)  # that point now sits a quarter side right, a tenth up
    assert np.allclose(shifted.matrix[:, :2] @ centre + shifted.matrix[:, 2], [c + 16, c - 6.4])
    bigger = moved(frame, 0, 0, 0.1, 0)  # the photo 10 % larger in the square: the square 10 % smaller on the photo
    assert np.isclose(bigger.scale, frame.scale * 1.1) and np.allclose(bigger.matrix[:, :2] @ centre + bigger.matrix[:, 2], c)
    turned = moved(frame, 0, 0, 0, 90)
    to_turned = square_to_square(frame, turned)  # a square pixel right of the centre goes below it
    assert np.allclose(to_turned @ [c + 10, c, 1], [c, c + 10])
    assert np.allclose(square_to_square(frame, frame), np.eye(3)[:2])


def test_a_found_faces_fill_is_averaged_over_the_moves_of_its_square(tmp_path):
    """On a face's square found in a photo, an estimating mode (faithful, fast) is also run in
    the squares ``framing.SPREAD`` moves it to and the fills are averaged, each warped into the
    found square; a sample (sharp) and a square given by hand are completed once.  Known pixels
    stay exact."""
    from ganfill.apps.fill import averaged_fill, spread_items
    from ganfill.data.framing import SPREAD, moved

    face = Domain("center:108", faces="celeba")
    gan = checkpoint.save(tmp_path / "face.safetensors", tiny_gan(calibrate=256, domain=face))
    tiny_pair(tmp_path, "pair")  # its context encoder, beside our face GAN
    (tmp_path / "pair-ce.safetensors").rename(tmp_path / "face-ce.safetensors")
    photo = blob_images(1, 200, seed=6)[0]
    hole = np.zeros((200, 200), bool)
    hole[80:110, 70:120] = True
    found = Frame(box_frame(40, 40, 120, 32).matrix, 32, "face")
    rows, seen = {}, []
    for mode, frame in (("fast", found), ("faithful", found), ("sharp", found), ("fast", box_frame(40, 40, 120, 32))):
        inpainter = load_inpainter(gan, mode, config=FAST)
        item = fill.make_item(photo, inpainter, hole=hole, frames=[frame])
        seen.clear()  # the callback (progress, live frames) sees the item's own square only
        done, finals, starts = fill.complete_items(inpainter, [item], seed=0, callback=lambda s, f, l: seen.append(len(f)))
        assert set(seen) <= {1} and (mode == "fast" or seen)
        rows[mode, frame.kind] = len(done.fake)
        assert (
            starts == [0] and np.array_equal(finals[0][~hole], photo[~hole]) and not np.array_equal(finals[0][hole], photo[hole])
        )
    assert rows == {
        ("fast", "face"): 1 + len(SPREAD),
        ("faithful", "face"): 1 + len(SPREAD),
        ("sharp", "face"): 1,
        ("fast", "frame"): 1,
    }
    # the averaging warps each moved square's fill onto the found square: fills that are the photo
    # itself seen through each (here far) moved square average back to the found square's view of it
    inpainter = load_inpainter(gan, "fast", config=FAST)
    textured = np.asarray(
        Image.fromarray(astronaut()).resize((200, 200), Image.Resampling.BOX).filter(ImageFilter.GaussianBlur(1))
    )
    item = fill.make_item(textured, inpainter, hole=hole, frames=[found])
    moves = ((0.15, 0, 0, 0), (0, -0.15, 0, 0), (0, 0, 0.2, 0), (0, 0, 0, 10))
    spread = [fill.make_item(textured, inpainter, hole=hole, frames=[moved(found, *m)]) for m in moves]
    warped = averaged_fill(item, item.xs, [(s, s.xs) for s in spread]).astype(int)
    assert np.abs(warped - item.xs)[:, 4:-4, 4:-4].mean() < 1.0
    unwarped = averaged_fill(item, item.xs, [(item, s.xs) for s in spread]).astype(int)  # as if all one square
    assert np.abs(unwarped - item.xs)[:, 4:-4, 4:-4].mean() > 10
    assert len(spread_items(inpainter, item)) == len(SPREAD)


def test_the_command_line_picks_faces64_or_faces128_by_the_face_size(tmp_path):
    """``ganfill inpaint faces``: the astronaut's face (a 512 px photo) gets faces128, the same
    photo at 200 px faces64, in one run, both back at their own size with known pixels exact."""
    photo = astronaut()
    small = np.asarray(Image.fromarray(photo).resize((200, 200), Image.Resampling.BOX))
    hole = np.zeros((512, 512), bool)
    hole[EYES] = True
    small_hole = np.asarray(Image.fromarray(hole).resize((200, 200), Image.Resampling.NEAREST))
    (tmp_path / "in").mkdir()
    (tmp_path / "masks").mkdir()
    for name, image, h in (("large", photo, hole), ("small", small, small_hole)):
        Image.fromarray(image).save(tmp_path / "in" / f"{name}.png")
        Image.fromarray(h.astype(np.uint8) * 255).save(tmp_path / "masks" / f"{name}.png")
    out = tmp_path / "out"
    proc = cli("inpaint", "faces", tmp_path / "in", "--mask", tmp_path / "masks", "--out", out, "--mode", "fast", "--quiet")
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = cli("inpaint", "faces", tmp_path / "in", "--mask", tmp_path / "masks", "--out", out, "--cnn", "faces64-ce")
    one_line_error(proc, "a context encoder goes with one model", "faces")
    for name, image, h, model in (("large", photo, hole, "faces128"), ("small", small, small_hole, "faces64")):
        record = json.loads((out / name / "record.json").read_text())
        assert Path(record["checkpoint"]).stem == model and record["frames"][0]["resolution"] == int(model[5:])
        done = np.asarray(Image.open(out / name / "completed.png").convert("RGB"))
        assert done.shape == image.shape and np.array_equal(done[~h], image[~h]) and not np.array_equal(done[h], image[h])
