"""Tests for ganfill.data: image decoding, crop policies, prepare/open_dataset, glyphs.

All inputs are synthetic images made in tmp_path, except the CelebA checks, which read the
team's shared data folder (skipped when it is absent, as in a fresh clone).
"""

from __future__ import annotations

import hashlib
import io
import json
import pickle
import shutil
from pathlib import Path

import matplotlib
import numpy as np
import pytest
from PIL import Image

from ganfill.core.errors import GanfillError
from ganfill.data import datasets as data
from ganfill.data import glyphs
from ganfill.data.datasets import open_dataset, prepare
from ganfill.data.domain import CropPolicy, domain_box, parse_crop, to_domain
from ganfill.data.glyphs import GLYPH_CHARS, find_fonts, render_glyphs
from ganfill.data.reading import load_image

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CELEBA_SAMPLE = SHARED / "celeba-aligned-sample"
CELEBA64_TRAIN = SHARED / "celeba64" / "train"
MPL_FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def rng_image(seed: int, height: int, width: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def leftovers(parent: Path, name: str) -> list[Path]:
    """Hidden temporary siblings that prepare/render_glyphs may have left behind."""
    return [p for p in parent.iterdir() if p.name.startswith(f".{name}.")]


# -----------------------------------------------------------------------------
# load_image: modes and formats


def test_greyscale_is_replicated(tmp_path):
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8) * 5
    Image.fromarray(grey, "L").save(tmp_path / "g.png")
    out = load_image(tmp_path / "g.png")
    assert out.dtype == np.uint8 and out.shape == (6, 8, 3)
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], grey)


def test_la_transparent_pixels_take_background(tmp_path):
    la = np.zeros((4, 4, 2), np.uint8)
    la[..., 0] = 200
    la[:2, :, 1] = 255  # top half opaque, bottom half fully transparent
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    out = load_image(tmp_path / "la.png", background=(10, 20, 30))
    assert (out[:2] == 200).all()
    assert (out[2:] == (10, 20, 30)).all()


def test_rgba_composites_onto_background(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., :3] = (255, 0, 0)
    rgba[:, :2, 3] = 255  # opaque red
    rgba[:, 2:4, 3] = 128  # half transparent red
    rgba[:, 4:, 3] = 0  # transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = load_image(tmp_path / "a.png").astype(int)  # default background: white
    assert (out[:, :2] == (255, 0, 0)).all()
    assert (out[:, 4:] == (255, 255, 255)).all()
    half = out[:, 2:4]
    assert (half[..., 0] == 255).all() and (abs(half[..., 1:] - 127) <= 2).all()
    blue = load_image(tmp_path / "a.png", background="#0000ff")
    assert (blue[:, 4:] == (0, 0, 255)).all()


def test_palette_transparency(tmp_path):
    p = Image.new("P", (4, 2))
    p.putpalette([255, 0, 0, 0, 255, 0] + [0] * (256 * 3 - 6))
    p.putdata([0, 1, 0, 1, 1, 1, 0, 0])
    p.save(tmp_path / "p.png", transparency=1)  # palette entry 1 (green) is transparent
    out = load_image(tmp_path / "p.png", background=(0, 0, 255))
    index = np.array([0, 1, 0, 1, 1, 1, 0, 0]).reshape(2, 4)
    assert (out[index == 0] == (255, 0, 0)).all()
    assert (out[index == 1] == (0, 0, 255)).all()


def test_16bit_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32768, 65535]], np.uint16)
    Image.fromarray(values).save(tmp_path / "i16.png")
    assert Image.open(tmp_path / "i16.png").mode.startswith("I")
    out = load_image(tmp_path / "i16.png")[0, :, 0].astype(int)
    assert out[0] == 0 and out[1] == 1 and out[3] == 255
    assert abs(out[2] - 128) <= 1


def test_float_image_in_unit_range(tmp_path):
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F").save(tmp_path / "f.tif")
    out = load_image(tmp_path / "f.tif")[0, :, 0].astype(int)
    assert out[0] == 0 and abs(out[1] - 128) <= 1 and out[2] == 255


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    assert Image.open(tmp_path / "c.jpg").mode == "CMYK"
    out = load_image(tmp_path / "c.jpg").astype(int)
    assert out.shape == (16, 16, 3)
    assert (out[..., 0] > 240).all() and (out[..., 1:] < 15).all()  # red


@pytest.mark.parametrize("suffix", [".webp", ".bmp", ".png"])
def test_lossless_formats_round_trip(tmp_path, suffix):
    image = rng_image(1, 9, 13)
    kwargs = {"lossless": True} if suffix == ".webp" else {}
    Image.fromarray(image).save(tmp_path / f"x{suffix}", **kwargs)
    np.testing.assert_array_equal(load_image(tmp_path / f"x{suffix}"), image)


def test_file_object_source(tmp_path):
    image = rng_image(2, 5, 7)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "PNG")
    buffer.seek(0)
    np.testing.assert_array_equal(load_image(buffer), image)


@pytest.mark.parametrize("orientation", [6, 8])
def test_exif_orientation(tmp_path, orientation):
    # Stored 80 wide x 40 high, black with a red block in the stored top-left corner.
    stored = np.zeros((40, 80, 3), np.uint8)
    stored[:16, :16] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(stored).save(tmp_path / "o.jpg", quality=95, exif=exif.tobytes())
    out = load_image(tmp_path / "o.jpg")
    assert out.shape == (80, 40, 3)  # displayed upright: transposed
    red = (out[..., 0] > 200) & (out[..., 1] < 60)
    # 6 = "rotate 90 clockwise to display": stored top-left ends up top-right.
    # 8 = "rotate 90 counter-clockwise": stored top-left ends up bottom-left.
    corner = red[:16, -16:] if orientation == 6 else red[-16:, :16]
    assert corner.mean() > 0.9
    assert red.mean() < 0.1


def test_unreadable_files_raise_ganfill_error(tmp_path):
    (tmp_path / "junk.jpg").write_bytes(np.random.default_rng(0).bytes(500))
    with pytest.raises(GanfillError, match="junk.jpg"):
        load_image(tmp_path / "junk.jpg")
    with pytest.raises(GanfillError, match="does not exist"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(GanfillError, match="colour"):
        load_image(tmp_path / "junk.jpg", background=(300, 0, 0))


# -----------------------------------------------------------------------------
# Crop policies and to_domain


def coordinate_image(width: int, height: int) -> np.ndarray:
    """R = x, G = y, B = 7: every pixel says where it is (for sizes up to 256)."""
    y, x = np.mgrid[:height, :width]
    return np.stack([x, y, np.full_like(x, 7)], axis=-1).astype(np.uint8)


def test_parse_crop():
    assert parse_crop("center:108") == CropPolicy("center", 108)
    assert parse_crop(" Centre:64 ") == CropPolicy("center", 64)
    assert parse_crop("pad") == CropPolicy("pad") and parse_crop("none") == CropPolicy("none")
    assert str(parse_crop("center:108")) == "center:108"
    for bad in ["", "center", "center:", "center:0", "center:-3", "center:x", "crop", "pad:3", "glyph"]:
        with pytest.raises(GanfillError, match="crop"):
            parse_crop(bad)


def test_center_crop_takes_the_centre_region():
    image = coordinate_image(178, 218)
    assert domain_box(178, 218, crop="center:108") == (35, 55, 143, 163)
    out = to_domain(image, resolution=108, crop="center:108")  # same size: no resampling
    np.testing.assert_array_equal(out, image[55:163, 35:143])
    small = to_domain(image, resolution=64, crop="center:108")
    assert small.shape == (64, 64, 3) and small.dtype == np.uint8
    # After resizing, the corners still come from the corners of the centre box.
    assert abs(int(small[0, 0, 0]) - 35) <= 2 and abs(int(small[0, 0, 1]) - 55) <= 2
    assert abs(int(small[-1, -1, 0]) - 142) <= 2 and abs(int(small[-1, -1, 1]) - 162) <= 2


def test_center_crop_larger_than_image_uses_largest_square():
    assert domain_box(100, 150, crop="center:108") == (0, 25, 100, 125)
    image = coordinate_image(100, 150)
    out = to_domain(image, resolution=100, crop="center:108")
    np.testing.assert_array_equal(out, image[25:125, :])


def test_pad_fills_with_background():
    image = np.zeros((30, 60, 3), np.uint8)
    image[...] = (255, 0, 0)
    assert domain_box(60, 30, crop="pad") == (0, -15, 60, 45)
    out = to_domain(image, resolution=60, crop="pad", background=(0, 0, 255))
    assert (out[:15] == (0, 0, 255)).all() and (out[45:] == (0, 0, 255)).all()
    assert (out[15:45] == (255, 0, 0)).all()
    small = to_domain(image, resolution=32, crop="pad", background=(0, 0, 255)).astype(int)
    assert (abs(small[:5] - (0, 0, 255)) <= 3).all() and (abs(small[-5:] - (0, 0, 255)) <= 3).all()
    assert (abs(small[11:21] - (255, 0, 0)) <= 3).all()
    # A tall image is padded left and right instead.
    assert domain_box(31, 50, crop="pad") == (-10, 0, 40, 50)


def test_none_squashes_the_whole_image():
    image = coordinate_image(200, 100)
    assert domain_box(200, 100, crop="none") == (0, 0, 200, 100)
    out = to_domain(image, resolution=32, crop="none").astype(int)
    assert out.shape == (32, 32, 3)
    assert out[0, 0, 0] < 10 and out[0, -1, 0] > 190  # the full width is kept
    assert out[0, 0, 1] < 5 and out[-1, 0, 1] > 94  # and the full height


def test_to_domain_accepts_greyscale_and_rejects_other_arrays():
    grey = np.full((10, 12), 90, np.uint8)
    assert (to_domain(grey, resolution=8, crop="none") == 90).all()
    with pytest.raises(GanfillError, match="uint8"):
        to_domain(np.zeros((8, 8, 3), np.float32), resolution=8, crop="none")
    with pytest.raises(GanfillError, match="uint8"):
        to_domain(np.zeros((8, 8, 4), np.uint8), resolution=8, crop="none")


# -----------------------------------------------------------------------------
# prepare and open_dataset


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Good images of several formats and sizes in nested folders, plus junk."""
    src = tmp_path / "src"
    (src / "sub" / "deeper").mkdir(parents=True)
    good = {
        "a.png": rng_image(10, 40, 50),
        "b.JPG": rng_image(11, 120, 90),
        "sub/c.webp": rng_image(12, 33, 33),
        "sub/d.bmp": rng_image(13, 64, 20),
        "sub/deeper/e.jpeg": rng_image(14, 70, 80),
        "f.png": rng_image(15, 16, 16),
        "g.png": rng_image(16, 200, 100),
    }
    for name, array in good.items():
        Image.fromarray(array).save(src / name, **({"lossless": True} if name.endswith(".webp") else {}))
    (src / "corrupt.jpg").write_bytes(np.random.default_rng(0).bytes(2048))
    full = io.BytesIO()
    Image.fromarray(rng_image(17, 64, 64)).save(full, "PNG")
    (src / "sub" / "truncated.png").write_bytes(full.getvalue()[: len(full.getvalue()) // 2])
    (src / "notes.txt").write_text("not an image")
    (src / ".hidden.png").write_bytes(full.getvalue())
    return src


GOOD = [".hidden.png", "a.png", "b.JPG", "f.png", "g.png", "sub/c.webp", "sub/d.bmp", "sub/deeper/e.jpeg"]
BAD = ["corrupt.jpg", "notes.txt", "sub/truncated.png"]  # each listed with the reason


def test_prepare_stores_good_images_and_lists_bad_ones(image_folder, tmp_path):
    out = tmp_path / "out"
    manifest = prepare(image_folder, out, resolution=32, crop="pad", background=(0, 255, 0), shard_size=3, progress=False)
    assert manifest == json.loads((out / "manifest.json").read_text())
    assert manifest["format"] == "ganfill-dataset" and manifest["version"] == 1
    assert manifest["count"] == len(GOOD) and manifest["resolution"] == 32
    assert manifest["crop"] == "pad" and manifest["background"] == [0, 255, 0]
    assert manifest["created_by"].startswith("ganfill ")
    assert [s["file"] for s in manifest["sources"]] == sorted(GOOD)
    assert sorted(s["file"] for s in manifest["skipped"]) == BAD
    assert all(s["reason"] for s in manifest["skipped"])
    for source in manifest["sources"]:
        assert source["sha256"] == hashlib.sha256((image_folder / source["file"]).read_bytes()).hexdigest()

    assert [s["count"] for s in manifest["shards"]] == [3, 3, 2]
    assert sorted(p.name for p in out.iterdir()) == ["images-00000.npy", "images-00001.npy", "images-00002.npy", "manifest.json"]
    assert not leftovers(tmp_path, "out")

    ds = open_dataset(out)
    assert len(ds) == len(GOOD) and ds.resolution == 32 and ds.manifest == manifest
    expected = np.stack(
        [
            to_domain(
                load_image(image_folder / s["file"], background=(0, 255, 0)), resolution=32, crop="pad", background=(0, 255, 0)
            )
            for s in manifest["sources"]
        ]
    )
    order = np.array([6, 2, 0, 5, 3, 3, 1, -1])  # unsorted within shards, repeats, negative
    batch = ds.read(order)
    assert batch.dtype == np.uint8 and batch.shape == (8, 32, 32, 3)
    np.testing.assert_array_equal(batch, expected[order])
    np.testing.assert_array_equal(ds.all(), expected)
    with pytest.raises(IndexError):
        ds.read([len(GOOD)])
    clone = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(clone.read([4, 2]), expected[[4, 2]])


def test_prepare_is_deterministic(image_folder, tmp_path):
    first = prepare(image_folder, tmp_path / "one", resolution=32, crop="center:40", progress=False)
    second = prepare(image_folder, tmp_path / "two", resolution=32, crop="center:40", progress=False)
    assert first == second
    np.testing.assert_array_equal(open_dataset(tmp_path / "one").all(), open_dataset(tmp_path / "two").all())


def test_prepare_rejects_bad_arguments(image_folder, tmp_path):
    with pytest.raises(GanfillError, match="resolution"):
        prepare(image_folder, tmp_path / "out", resolution=48, progress=False)
    with pytest.raises(GanfillError, match="crop"):
        prepare(image_folder, tmp_path / "out", crop="middle", progress=False)
    with pytest.raises(GanfillError, match="does not exist"):
        prepare(tmp_path / "nowhere", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_prepare_empty_or_unreadable_folder(tmp_path):
    src = tmp_path / "empty"
    src.mkdir()
    (src / "readme.txt").write_text("no images here")
    with pytest.raises(GanfillError, match="no image files"):
        prepare(src, tmp_path / "out", progress=False)
    (src / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(40))
    with pytest.raises(GanfillError, match="could be read"):
        prepare(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert not leftovers(tmp_path, "out")


def test_prepare_existing_output(image_folder, tmp_path):
    out = tmp_path / "out"
    out.mkdir()  # an empty folder is fine to fill
    prepare(image_folder, out, resolution=32, crop="none", progress=False)
    with pytest.raises(GanfillError, match="--overwrite"):
        prepare(image_folder, out, resolution=64, crop="none", progress=False)
    assert open_dataset(out).resolution == 32  # untouched
    prepare(image_folder, out, resolution=64, crop="none", overwrite=True, progress=False)
    assert open_dataset(out).resolution == 64
    assert not leftovers(tmp_path, "out")

    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    with pytest.raises(GanfillError, match="not a ganfill dataset"):
        prepare(image_folder, precious, overwrite=True, progress=False)
    assert (precious / "thesis.txt").read_text() == "do not delete"


@pytest.mark.parametrize("where", ["_write_manifest", "flush"])
def test_prepare_failure_leaves_nothing_behind(image_folder, tmp_path, monkeypatch, where):
    def boom(*args, **kwargs):
        raise OSError("disk full")

    if where == "flush":
        original = data._ShardWriter.flush

        def flush_then_boom(self):  # the first shard is written, then the disk fills up
            original(self)
            if len(self.shards) == 2:
                boom()

        monkeypatch.setattr(data._ShardWriter, "flush", flush_then_boom)
    else:
        monkeypatch.setattr(data, where, boom)
    with pytest.raises(GanfillError, match=r"cannot write .*out: disk full"):  # one line, naming the output
        prepare(image_folder, tmp_path / "out", resolution=32, shard_size=2, progress=False)
    assert not (tmp_path / "out").exists()
    assert not leftovers(tmp_path, "out")


def test_failed_overwrite_keeps_the_old_dataset(image_folder, tmp_path, monkeypatch):
    out = tmp_path / "out"
    before = prepare(image_folder, out, resolution=32, crop="pad", progress=False)
    monkeypatch.setattr(data, "_write_manifest", lambda *a: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(GanfillError, match="disk full"):
        prepare(image_folder, out, resolution=64, crop="pad", overwrite=True, progress=False)
    assert open_dataset(out).manifest == before
    assert not leftovers(tmp_path, "out")


def test_open_dataset_errors(image_folder, tmp_path):
    with pytest.raises(GanfillError, match="ganfill prepare"):
        open_dataset(tmp_path / "nothing-here")
    with pytest.raises(GanfillError, match="ganfill prepare"):
        open_dataset(image_folder)  # a folder of images, not a dataset
    (tmp_path / "fake").mkdir()
    (tmp_path / "fake" / "manifest.json").write_text("{not json")
    with pytest.raises(GanfillError, match="not a ganfill dataset"):
        open_dataset(tmp_path / "fake")

    out = tmp_path / "out"
    prepare(image_folder, out, resolution=32, shard_size=3, progress=False)
    shard = out / "images-00001.npy"
    good_bytes = shard.read_bytes()
    shard.write_bytes(good_bytes[: len(good_bytes) // 2])
    with pytest.raises(GanfillError, match="images-00001.npy"):
        open_dataset(out)
    shard.unlink()
    with pytest.raises(GanfillError, match="images-00001.npy.*missing"):
        open_dataset(out)


# -----------------------------------------------------------------------------
# The real CelebA originals (team data; absent in a fresh clone)


@pytest.mark.skipif(not CELEBA_SAMPLE.is_dir(), reason=f"shared CelebA sample not found at {CELEBA_SAMPLE}")
def test_prepare_real_celeba(tmp_path):
    names = sorted(p.name for p in CELEBA_SAMPLE.glob("*.jpg"))[:40]
    assert len(names) == 40
    src = tmp_path / "celeba"
    src.mkdir()
    for name in names:  # links, not copies
        (src / name).symlink_to(CELEBA_SAMPLE / name)
    manifest = prepare(src, tmp_path / "out", resolution=64, crop="center:108", progress=False)
    assert manifest["count"] == 40 and not manifest["skipped"]
    images = open_dataset(tmp_path / "out").all()
    assert images.shape == (40, 64, 64, 3) and images.dtype == np.uint8

    # Independently with Pillow: centre 108x108 box of the 178x218 original, resized to 64.
    for i in (0, 17, 39):
        original = Image.open(CELEBA_SAMPLE / names[i]).convert("RGB")
        assert original.size == (178, 218)
        left, top = (178 - 108) // 2, (218 - 108) // 2
        expected = np.asarray(original.crop((left, top, left + 108, top + 108)).resize((64, 64), Image.Resampling.BICUBIC))
        assert np.abs(images[i].astype(int) - expected.astype(int)).mean() < 3

    # The team's celeba64 set was made the same way (bicubic, then JPEG q95).
    matches = [i for i, name in enumerate(names) if (CELEBA64_TRAIN / name).is_file()][:3]
    for i in matches:
        reference = np.asarray(Image.open(CELEBA64_TRAIN / names[i]).convert("RGB")).astype(int)
        buffer = io.BytesIO()
        Image.fromarray(images[i]).save(buffer, "JPEG", quality=95)
        ours = np.asarray(Image.open(buffer)).astype(int)
        assert np.abs(ours - reference).mean() < 1.0
        assert np.abs(images[i].astype(int) - reference).mean() < 4.0


# -----------------------------------------------------------------------------
# Glyphs


@pytest.fixture
def font_folder(tmp_path) -> Path:
    """Three DejaVu families (regular + bold each), a symbol font, and a broken file."""
    folder = tmp_path / "fonts"
    (folder / "nested").mkdir(parents=True)
    names = [
        "DejaVuSans.ttf",
        "DejaVuSans-Bold.ttf",
        "DejaVuSerif.ttf",
        "DejaVuSerif-Bold.ttf",
        "DejaVuSansMono.ttf",
        "DejaVuSansMono-Bold.ttf",
    ]
    for name in names:
        if not (MPL_FONTS / name).is_file():
            pytest.skip(f"matplotlib's bundled {name} not found in {MPL_FONTS}")
        shutil.copy(MPL_FONTS / name, folder / ("nested" if "Mono" in name else "") / name)
    if (MPL_FONTS / "cmsy10.ttf").is_file():
        shutil.copy(MPL_FONTS / "cmsy10.ttf", folder / "cmsy10.ttf")  # maps A-Z etc. to maths symbols
    (folder / "broken.ttf").write_bytes(b"\x00\x01\x00\x00" + bytes(100))
    (folder / "README.txt").write_text("not a font")
    return folder


def test_find_fonts(font_folder, tmp_path):
    fonts = find_fonts([font_folder])
    assert all(p.suffix == ".ttf" for p in fonts)
    assert {p.name for p in fonts} >= {"DejaVuSans.ttf", "DejaVuSansMono-Bold.ttf", "broken.ttf"}
    assert "README.txt" not in {p.name for p in fonts}
    assert find_fonts([font_folder, font_folder]) == fonts  # each file once
    with pytest.raises(GanfillError, match="does not exist"):
        find_fonts([tmp_path / "no-fonts-here"])
    assert any(p.parent == MPL_FONTS for p in find_fonts())  # matplotlib's fonts are a default


def test_render_glyphs(font_folder, tmp_path):
    out = tmp_path / "glyphs"
    manifests = render_glyphs(out, font_dirs=[font_folder], resolution=32, holdout=0.3, seed=1, progress=False)
    assert sorted(p.name for p in out.iterdir()) == ["train", "val"]
    assert not leftovers(tmp_path, "glyphs")
    families = {}
    for split in ("train", "val"):
        manifest = manifests[split]
        assert manifest == open_dataset(out / split).manifest
        assert (
            manifest["crop"] == "glyph"
            and manifest["chars"] == GLYPH_CHARS == "0123456789" + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + "abcdefghijklmnopqrstuvwxyz"
        )
        families[split] = {f["family"] for f in manifest["fonts"]}
        assert manifest["count"] == 62 * len(manifest["fonts"]) > 0
        for font in manifest["fonts"]:
            assert font["sha256"] == hashlib.sha256(Path(font["path"]).read_bytes()).hexdigest()
        skipped = {Path(s["file"]).name for s in manifest["skipped"]}
        assert "broken.ttf" in skipped
        assert "cmsy10.ttf" in skipped or not (font_folder / "cmsy10.ttf").exists()
    assert families["train"] | families["val"] == {"DejaVu Sans", "DejaVu Serif", "DejaVu Sans Mono"}
    assert not families["train"] & families["val"] and len(families["val"]) == 1
    assert len(manifests["train"]["fonts"]) + len(manifests["val"]["fonts"]) == 6

    images = open_dataset(out / "train").all()
    assert images.shape == (manifests["train"]["count"], 32, 32, 3)
    assert (images[..., 0] == images[..., 1]).all() and (images[..., 0] == images[..., 2]).all()
    grey = images[..., 0].astype(int)
    assert grey.mean() > 170  # mostly white paper
    assert (grey.reshape(len(grey), -1).min(axis=1) < 80).all()  # every image has dark ink
    assert (grey[:, 0, :] > 245).all() and (grey[:, -1, :] > 245).all()  # 80% fill leaves white margins
    first_font = grey[:62].reshape(62, -1)
    assert len({row.tobytes() for row in first_font}) == 62  # different characters differ
    # Ink box centred, larger side about 80% of the image ("O" is 0-based index 24).
    ink = np.argwhere(grey[24] < 160)
    (top, left), (bottom, right) = ink.min(axis=0), ink.max(axis=0)
    assert abs(max(bottom - top, right - left) + 1 - 0.8 * 32) <= 2.5
    assert abs((top + bottom) / 2 - 15.5) <= 1 and abs((left + right) / 2 - 15.5) <= 1

    again = render_glyphs(tmp_path / "again", font_dirs=[font_folder], resolution=32, holdout=0.3, seed=1, progress=False)
    assert [f["family"] for f in again["val"]["fonts"]] == [f["family"] for f in manifests["val"]["fonts"]]
    with pytest.raises(GanfillError, match="--overwrite"):
        render_glyphs(out, font_dirs=[font_folder], resolution=32, progress=False)


def test_glyph_split_seeds_cover_families():
    families = [f"family {i}" for i in range(20)]
    splits = [glyphs._split_families(families, 0.1, seed) for seed in range(8)]
    assert all(len(s) == 2 for s in splits)
    assert len({frozenset(s) for s in splits}) > 1  # the seed matters
    assert glyphs._split_families(families, 0.1, 3) == glyphs._split_families(list(reversed(families)), 0.1, 3)
    assert len(glyphs._split_families(["a", "b"], 0.01, 0)) == 1  # at least one, never all


def test_render_glyphs_needs_two_families(tmp_path):
    folder = tmp_path / "fonts"
    folder.mkdir()
    shutil.copy(MPL_FONTS / "DejaVuSans.ttf", folder)
    with pytest.raises(GanfillError, match="fonts-dejavu-core") as info:
        render_glyphs(tmp_path / "glyphs", font_dirs=[folder], resolution=32, progress=False)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "glyphs").exists() and not leftovers(tmp_path, "glyphs")
    with pytest.raises(GanfillError, match="holdout"):
        render_glyphs(tmp_path / "glyphs", font_dirs=[folder], holdout=1.0, progress=False)


def test_open_dataset_points_at_glyph_splits(font_folder, tmp_path):
    render_glyphs(tmp_path / "g", font_dirs=[font_folder], resolution=32, progress=False)
    with pytest.raises(GanfillError, match="train"):
        open_dataset(tmp_path / "g")
