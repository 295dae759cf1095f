"""`ganfill demo`: the shipped models on built-in images (or the user's), Telea, the HTML report."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ganfill.apps import demo
from ganfill.core.errors import GanfillError
from ganfill.data.domain import to_domain
from ganfill.data.glyphs import GLYPH_CHARS, matplotlib_font_dir
from ganfill.data.reading import load_image
from ganfill.evaluation.judges import faces_found
from ganfill.evaluation.metrics import METRICS, capped
from ganfill.inpainting.baselines import BASELINES
from ganfill.models import files as checkpoint

from conftest import blob_images, shared


def _demo(*args):
    return subprocess.run([sys.executable, "-m", "ganfill", "demo", *map(str, args)], capture_output=True, text=True, timeout=600)


def _check_report(out: Path, proc, *, sections: dict[str, tuple[int, int]]) -> dict:
    """The report and metrics.json agree with the files: every image exists at model resolution,
    ganfill keeps the known pixels, Telea and every number are recomputable. sections: name ->
    (number of images, resolution)."""
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip().splitlines()[-1] == f"report: {(out / 'report.html').resolve()}"
    page = (out / "report.html").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert [s["model"] for s in metrics["sections"]] == list(sections)
    for sec in metrics["sections"]:
        n, r = sections[sec["model"]]
        assert len(sec["images"]) == n
        assert f"src='{sec['overview']}'" in page and (out / sec["overview"]).is_file()
        for row in sec["images"]:
            images = {}
            for key in ("masked", "mask", "completed", "fake", "telea", "original"):
                assert f"src='{row[key]}'" in page and not Path(row[key]).is_absolute()
                images[key] = np.asarray(Image.open(out / row[key]).convert("RGB"))
                assert images[key].shape == (r, r, 3), (key, images[key].shape)
            hole = images["mask"][..., 0] > 127
            assert 0 < hole.mean() < 1 and row["hole_fraction"] == hole.mean()
            original = images["original"]
            # ganfill and Telea keep every known pixel and change the hole
            for method in ("completed", "telea"):
                assert np.array_equal(images[method][~hole], original[~hole])
            assert np.array_equal(images["telea"], BASELINES["telea"](original, hole))
            for method, key in (("ganfill", "completed"), ("telea", "telea")):
                for metric, value in row["scores"][method].items():
                    assert value == capped(METRICS[metric](original, images[key], hole))
            psnr = row["scores"]["ganfill"]["psnr_hole"], row["scores"]["telea"]["psnr_hole"]
            assert all(np.isfinite(psnr))
            assert f"<td>{psnr[0]:.2f} / {psnr[1]:.2f}</td>" in page
        mean = np.mean([row["scores"]["ganfill"]["psnr_hole"] for row in sec["images"]])
        assert sec["mean"]["ganfill"]["psnr_hole"] == pytest.approx(mean)
    return metrics


def test_default_demo_runs_end_to_end_in_fast_mode(tmp_path):
    out = tmp_path / "demo"
    proc = _demo("--out", out, "--quiet", "--steps", "20", "--glyphs", "6")
    sections = {"glyphs32": (6, 32), "faces64": (1, 64), "faces128": (1, 128), "photo": (1, 512)}
    metrics = _check_report(out, proc, sections=sections)
    assert "train" not in proc.stdout.lower()  # nothing is trained
    glyphs, faces, faces128, photo = (s["images"] for s in metrics["sections"])
    # the whole photo, repaired where it is by the model its face's size calls for (its square spans 128+ pixels)
    assert metrics["sections"][3]["title"] == "photo: 512x512, repaired in place by faces128"
    assert photo[0]["scores"]["ganfill"]["psnr_hole"] > photo[0]["scores"]["telea"]["psnr_hole"]
    # characters spread over digits, capitals and small letters, each from a different bundled font
    names = [row["name"] for row in glyphs]
    assert [n.split("-")[2] for n in names] == [GLYPH_CHARS[i * 62 // 6] for i in range(6)]
    fonts = [n.split("-", 3)[3] for n in names]
    assert len(set(fonts)) == 6 and all((matplotlib_font_dir() / f"{f}.ttf").is_file() for f in fonts)
    # the face is framed like a CelebA crop: the evaluation's face detector finds it
    face = np.asarray(Image.open(out / faces[0]["original"]).convert("RGB"))
    assert faces_found(face[None])[0]
    page = (out / "report.html").read_text()
    assert "Wall time:" in page and "steps 20" in page and re.search(r"<h2 id='faces64'>", page)


def test_demo_completes_your_own_images(tmp_path):
    src = tmp_path / "mine"
    src.mkdir()
    for i, image in enumerate(blob_images(2, 48, seed=3)):
        Image.fromarray(image[:, 8:]).save(src / f"blob{i}.png")  # 48x40: not square
    out = tmp_path / "demo"
    proc = _demo("--images", src, "--model", "glyphs32", "--out", out, "--quiet", "--steps", "5")
    metrics = _check_report(out, proc, sections={"glyphs32": (2, 32)})
    for row in metrics["sections"][0]["images"]:
        # the original shown is the input brought into the model's square (pad on white)
        mine = to_domain(load_image(src / f"{row['name']}.png"), resolution=32, crop="pad")
        assert np.array_equal(np.asarray(Image.open(out / row["original"]).convert("RGB")), mine)
    assert not (out / "faces64").exists()


@pytest.mark.parametrize(
    "args, words",
    [
        (["--images", "{empty}"], "no images"),
        (["--images", "{missing}"], "does not exist"),
        (["--model", "nope"], f"no model named 'nope': shipped models are {', '.join(sorted(checkpoint.shipped_models()))}"),
        (["--model", "pokemon64"], "pokemon64 has no built-in demo images"),
        (["--mask", "nonsense"], "is neither a mask name"),
        (["--steps", "0"], "Invalid value for '--steps': 0 is not in the range 1<=x<=100000"),
    ],
)
def test_demo_bad_input_is_one_line_and_exit_code_2(tmp_path, args, words):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "out"
    proc = _demo("--out", out, "--quiet", *[a.format(empty=tmp_path / "empty", missing=tmp_path / "missing") for a in args])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("ganfill: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert words in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists()


def test_glyph_inputs_spread_over_characters_and_fonts():
    inputs = demo.glyph_inputs(24, resolution=32)
    assert len(inputs) == 24 and len({name for name, _ in inputs}) == 24
    chars = [name.split("-")[2] for name, _ in inputs]
    assert sum(c.isdigit() for c in chars) >= 3 and sum(c.isupper() for c in chars) >= 8 and sum(c.islower() for c in chars) >= 8
    families = {name.split("-", 3)[3][:5] for name, _ in inputs}  # DejaV(u Sans), STIXG(eneral), cmr10, ...
    assert {"DejaV", "STIXG"} <= families and any(f.startswith("cm") for f in families)
    for _, image in inputs:
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
        assert image[0].min() > 200 and image.min() < 60  # black ink on a white border
    with pytest.raises(GanfillError, match="at least 1"):
        demo.glyph_inputs(0, resolution=32)


def test_face_box_frames_faces_as_celeba_does():
    """On CelebA's aligned photos, the box found is CelebA's own centre 108x108 crop (IoU)."""
    folder = shared("celeba-aligned-sample")
    truth = (35, 55, 143, 163)  # the centre 108x108 square of 178x218
    ious, files = [], sorted(folder.glob("*.jpg"))[:24]
    for path in files:
        try:
            l, t, r, b = demo.face_box(load_image(path), min_neighbours=2)
        except GanfillError:
            continue  # the cascade misses a few (turned heads, occlusions)
        w = max(0, min(r, truth[2]) - max(l, truth[0])) * max(0, min(b, truth[3]) - max(t, truth[1]))
        ious.append(w / ((r - l) * (b - t) + 108 * 108 - w))
    assert len(ious) >= 0.75 * len(files) and np.median(ious) > 0.8, ious


def test_face_box_finds_the_astronaut_and_refuses_a_photo_without_face():
    from skimage.data import astronaut, coffee

    l, t, r, b = demo.face_box(astronaut())
    assert r - l == b - t and 90 < r - l < 130  # her face, not the larger space shuttle model
    assert 150 < l < 200 and 30 < t < 80
    with pytest.raises(GanfillError, match="no frontal face"):
        demo.face_box(coffee())
