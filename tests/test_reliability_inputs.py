"""Issue 27, reliability: every bad input clean, batches that finish, writes only where asked.

1. Huge or odd numbers are refused where options are parsed (click's ranges, shown in --help)
   and by the configs the Python API builds (the same ranges: ``core.checks.option``).
2. A batch skips what it cannot read or match, names each, completes the rest and ends with
   exit code 3; an image that fails (a full disk) leaves no half-made folder in --out.
3. Nothing is skipped silently: GIF and TIFF are read, every file ``prepare`` leaves out is
   listed with the reason, a file named ``..png`` in a folder is found.
4. ``export`` writes only its target: a name goes to the user's models folder (GANFILL_HOME,
   never the installed package), an existing folder is an error; lock files go when a run ends.
5. What a rater types is shown as text; a run whose latest checkpoint is damaged falls back to
   the newest intact one with a warning.
6. The Python API checks types and values with one-line messages; a NaN fill never blends.

Each bad input ends with one line ``ganfill: error: ...`` (exit 2) or, for a batch, one warning
per skipped input and exit code 3; nothing is written outside --out, nothing half-made.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganfill
from ganfill.apps import fill, study
from ganfill.apps.cli import PARTIAL
from ganfill.core.errors import GanfillError, GanfillTypeError, GanfillWarning
from ganfill.core.files import LOCK_FILE
from ganfill.data.datasets import open_dataset, prepare
from ganfill.data.domain import to_domain
from ganfill.inpainting.blend import blend
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import blend_fill, complete_images, load_inpainter
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint

from conftest import TINY_TRAIN_ARGS, blob_images, tiny_gan
from conftest import cli as _cli
from conftest import one_line_error as _one_line_error

STEPS = ["--num-steps", 1, "--record-every", 0, "--quiet"]


def _half_made(folder: Path) -> list[Path]:
    """Image folders without a record.json, and leftovers of interrupted writes."""
    return [p for p in folder.iterdir() if p.name.startswith(".") or (p.is_dir() and not (p / "record.json").is_file())]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    return checkpoint.save(tmp_path_factory.mktemp("model") / "tiny.safetensors", tiny_gan(calibrate=16))


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, Path]:
    """(data, run): 24 blob images prepared at 32x32 and a tiny GAN trained on them for 4
    iterations, checkpoints at 0, 2 and 4."""
    root = tmp_path_factory.mktemp("run")
    (root / "src").mkdir()
    for i, image in enumerate(blob_images(24, 32)):
        Image.fromarray(image).save(root / "src" / f"{i:02d}.png")
    data = root / "data"
    prepare(root / "src", data, resolution=32, crop="none", progress=False)
    proc = _cli("train", data, "--out", root / "run", *TINY_TRAIN_ARGS, "--steps", 4, "--checkpoint-every", 2, "--keep", 0)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return data, root / "run"


# ---- 1. huge or odd numbers ------------------------------------------------------------------


BIG = 10**30  # was taken as a number of steps and ran until killed
HUGE = 1_000_000_000  # allocated gigabytes, then a traceback


@pytest.mark.parametrize(
    "command, option, value",
    [
        ("inpaint", "--num-steps", BIG),
        ("inpaint", "--restarts", HUGE),
        ("inpaint", "--seed", 2**64),
        ("inpaint", "--seed", -(2**64)),
        ("inpaint", "--mask-level", 300),
        ("inpaint", "--mask-level", -1),
        ("inpaint", "--batch-size", 0),
        ("inpaint", "--max-pixels", 0),
        ("inpaint", "--window", 10**9),
        ("inpaint", "--record-every", BIG),
        ("train", "--steps", BIG),
        ("train", "--d-steps", HUGE),
        ("train", "--g-steps", HUGE),
        ("train", "--n-samples", HUGE),
        ("train", "--batch-size", HUGE),
        ("train", "--seed", 2**64),
        ("train", "--z-dim", HUGE),
        ("train", "--checkpoint-every", 0),
        ("train-encoder", "--steps", BIG),
        ("train-encoder", "--real-fraction", 1.5),
        ("train-ce", "--steps", BIG),
        ("train-ce", "--bottleneck", HUGE),
        ("sample", "-n", HUGE),
        ("sample", "--seed", 2**64),
        ("evaluate", "--figure-rows", -1),
        ("evaluate", "-n", HUGE),
        ("evaluate", "--seed", 2**64),
        ("demo", "--steps", BIG),
        ("demo", "--restarts", HUGE),
        ("demo", "--glyphs", HUGE),
        ("glyphs", "--seed", 2**64),
        ("glyphs", "--holdout", 1.5),
    ],
)
def test_out_of_range_numbers_are_refused_where_options_are_parsed(model_file, photo, tiny_run, tmp_path, command, option, value):
    data, run = tiny_run
    out = tmp_path / "out"
    args = {
        "inpaint": ["inpaint", model_file, photo, "--out", out, "--quiet"],
        "train": ["train", data, "--out", out, "--quiet"],
        "train-encoder": ["train-encoder", model_file, data, "--out", out, "--quiet"],
        "train-ce": ["train-ce", data, "--out", out, "--quiet"],
        "sample": ["sample", model_file, "--out", out / "grid.png"],
        "evaluate": ["evaluate", model_file, data, "--out", out, "--quiet"],
        "demo": ["demo", "--out", out, "--quiet"],
        "glyphs": ["glyphs", out],
    }[command]
    proc = _cli(*args, option, value)
    _one_line_error(proc, f"Invalid value for '{option}'", "is not in the range")
    assert not out.exists()


@pytest.mark.parametrize("port", [70000, -1, 0])
def test_serve_on_an_impossible_port_is_one_line(model_file, port):
    proc = _cli("serve", "--models", model_file, "--port", port)
    _one_line_error(proc, "--port", "is not in the range 1<=x<=65535")


def test_serve_and_study_on_a_port_in_use_are_one_line(model_file, tmp_path):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = _cli("serve", "--models", model_file, "--port", port)
    _one_line_error(proc, f"cannot serve on 127.0.0.1:{port}", "is the port in use?")


def test_launch_from_python_on_an_impossible_port_is_a_ganfill_error(model_file):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    from ganfill.apps import web

    app = web.build_app({"tiny": model_file})
    with pytest.raises(GanfillError, match="cannot serve on 127.0.0.1:70000"):
        web.launch(app, port=70000, block=False, quiet=True)


def test_evaluate_checks_the_context_encoder_given_even_when_no_method_needs_it(model_file, tiny_run, tmp_path):
    data, _ = tiny_run
    args = ["evaluate", model_file, data, "--out", tmp_path / "out", "--methods", "mean", "-n", 4, "--quiet"]
    _one_line_error(_cli(*args, "--cnn", "/etc/passwd"), "/etc/passwd is not a readable safetensors checkpoint")
    _one_line_error(_cli(*args, "--cnn", model_file), "is a gan model, not a context encoder")
    assert not (tmp_path / "out").exists()


def test_the_api_takes_the_same_ranges(model_file):
    for kw, words in [
        (dict(num_steps=BIG), "num_steps must be from 0 to 100000"),
        (dict(restarts=HUGE), "restarts must be from 1 to 64"),
        (dict(record_every=BIG), "record_every must be from 0 to 100000"),
    ]:
        with pytest.raises(GanfillError, match=words):
            CompleteConfig(**kw)
    x, known = blob_images(1, 32), np.ones((1, 32, 32), bool)
    known[:, 8:24, 8:24] = False
    prior = checkpoint.load(model_file).prior()
    for seed, error in [(2**64, GanfillError), (-(2**63) - 1, GanfillError), (1.5, GanfillTypeError), ("0", GanfillTypeError)]:
        with pytest.raises(error, match="seed must be"):
            complete_images(prior, x, known, config=CompleteConfig(num_steps=1), seed=seed)


# ---- 2. batches that finish ----------------------------------------------------------------


def test_a_batch_of_200_with_3_unreadable_and_2_without_masks_completes_the_other_195(model_file, tmp_path):
    src, masks, out = tmp_path / "in", tmp_path / "masks", tmp_path / "out"
    src.mkdir(), masks.mkdir()
    images = blob_images(200, 32, seed=7)
    hole = np.zeros((32, 32), np.uint8)
    hole[8:24, 8:24] = 255
    bad = {"i003.png": b"", "i077.png": b"not a png at all", "i150.jpg": b"\xff\xd8\xff\xe0 cut short"}
    unmasked = {"i020", "i199"}
    for i, image in enumerate(images):
        Image.fromarray(image).save(src / f"i{i:03d}.png")
        if f"i{i:03d}" not in unmasked:
            Image.fromarray(hole).save(masks / f"i{i:03d}.png")
    (src / "i003.png").write_bytes(bad["i003.png"])
    (src / "i077.png").write_bytes(bad["i077.png"])
    (src / "i150.png").unlink()
    (src / "i150.jpg").write_bytes(bad["i150.jpg"])
    Image.fromarray(hole).save(masks / "i150.png")

    proc = _cli("inpaint", model_file, src, "--mask", masks, "--out", out, "--batch-size", 64, *STEPS)
    assert proc.returncode == PARTIAL == 3, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    warned = [line for line in proc.stderr.splitlines() if line.startswith("ganfill: warning: skipped ")]
    assert len(warned) == 5 and len(proc.stderr.splitlines()) == 5, proc.stderr
    for name in [*bad, *(f"{stem}.png" for stem in unmasked)]:
        assert sum(name in line for line in warned) >= 1, (name, warned)
    assert "195 image(s) completed" in proc.stdout and "5 skipped" in proc.stdout
    done = sorted(p.name for p in out.iterdir())
    assert len(done) == 195 and not _half_made(out)
    assert not {"i003", "i077", "i150", "i020", "i199"} & set(done)
    # a rerun finds the 195 done and names the 5 again
    again = _cli("inpaint", model_file, src, "--mask", masks, "--out", out, *STEPS)
    assert again.returncode == 3 and "195 already done" in again.stdout and len(again.stderr.splitlines()) == 5


def test_a_single_unreadable_input_is_one_line_and_exit_2(model_file, tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    _one_line_error(_cli("inpaint", model_file, tmp_path / "bad.png", "--out", tmp_path / "out", *STEPS), "bad.png")
    assert not (tmp_path / "out").exists()


def test_a_batch_where_nothing_can_be_read_is_an_error_that_writes_nothing(model_file, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for name in ("a.png", "b.png"):
        (src / name).write_bytes(b"nope")
    proc = _cli("inpaint", model_file, src, "--out", tmp_path / "out", *STEPS)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert (
        proc.stderr.splitlines()[-1]
        == "ganfill: error: none of the 2 inputs could be completed (each is named above with the reason)"
    )
    assert not (tmp_path / "out").exists()


def test_a_mask_folder_that_matches_no_image_is_an_error(model_file, photo, tmp_path):
    (tmp_path / "masks").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "masks" / "other.png")
    _one_line_error(
        _cli("inpaint", model_file, photo.parent, "--mask", tmp_path / "masks", "--out", tmp_path / "out", *STEPS), "no mask in"
    )


FULL_DISK = r"""
import builtins, errno, io, os, sys
out, victim = os.path.realpath(sys.argv[1]), sys.argv[2]
def hit(path):  # a file of the victim's results, under its own name or a temporary one
    if not isinstance(path, (str, os.PathLike)):
        return False
    p = os.path.realpath(os.fspath(path))
    if not p.startswith(out + os.sep):
        return False
    top = os.path.relpath(p, out).split(os.sep)[0]
    return os.sep in os.path.relpath(p, out) and (top == victim or top.startswith("." + victim + "."))
real_open = builtins.open
def open_(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+") and hit(file):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(file))
    return real_open(file, mode, *args, **kwargs)
builtins.open = io.open = open_
from ganfill.apps.cli import main
main(sys.argv[3:])
"""


def test_a_full_disk_leaves_no_half_made_image_folder(model_file, tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i, image in enumerate(blob_images(3, 32)):
        Image.fromarray(image).save(src / f"p{i}.png")
    proc = subprocess.run(
        [sys.executable, "-c", FULL_DISK, out, "p1", "inpaint", model_file, src, "--out", out, *map(str, STEPS)],
        capture_output=True,
        text=True,
    )
    _one_line_error(proc, "no space left on the device")
    assert sorted(p.name for p in out.iterdir()) == ["p0"]  # p1 failed whole; p2 never started
    assert (out / "p0" / "record.json").is_file()
    rerun = _cli("inpaint", model_file, src, "--out", out, *STEPS)
    assert rerun.returncode == 0 and "2 image(s) completed" in rerun.stdout and "1 already done" in rerun.stdout
    assert not _half_made(out)


# ---- 3. nothing skipped silently --------------------------------------------------------------


@pytest.fixture
def odd_folder(tmp_path) -> Path:
    """An animated GIF, a TIFF, a file named ..png, a hidden image, two files that are not images
    by their name, and one that claims to be a PNG and is not."""
    folder = tmp_path / "odd"
    folder.mkdir()
    images = [Image.fromarray(image) for image in blob_images(6, 40, seed=2)]
    images[0].save(folder / "anim.gif", save_all=True, append_images=images[1:3], duration=100, loop=0)
    images[3].save(folder / "scan.tiff")
    images[4].save(folder / "..png", format="PNG")
    images[5].save(folder / ".hidden.PNG", format="PNG")
    images[5].save(folder / "photo.png.bak", format="PNG")
    (folder / "README").write_text("notes\n")
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    return folder


def test_prepare_reads_gif_tiff_and_odd_names_and_lists_every_file_it_leaves_out(odd_folder, tmp_path):
    out = tmp_path / "data"
    proc = _cli("prepare", odd_folder, out, "--resolution", 32, "--crop", "none", "--quiet")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    assert sorted(s["file"] for s in manifest["sources"]) == ["..png", ".hidden.PNG", "anim.gif", "scan.tiff"]
    skipped = {s["file"]: s["reason"] for s in manifest["skipped"]}
    assert sorted(skipped) == ["README", "broken.png", "photo.png.bak"]
    assert "not an image file" in skipped["README"] and "not an image file" in skipped["photo.png.bak"]
    assert len(open_dataset(out)) == 4
    first = np.asarray(Image.open(odd_folder / "anim.gif").convert("RGB"))  # the first frame
    assert np.array_equal(fill.load_image(odd_folder / "anim.gif"), first)
    assert np.array_equal(open_dataset(out).read([2])[0], to_domain(first, resolution=32, crop="none"))
    warned = proc.stderr.splitlines()
    assert len(warned) == 3 and all(line.startswith("ganfill: warning: skipped ") for line in warned)
    assert "3 skipped" in proc.stdout


def test_prepare_quiet_prints_no_progress(odd_folder, tmp_path):
    loud = _cli("prepare", odd_folder, tmp_path / "a", "--resolution", 32)
    quiet = _cli("prepare", odd_folder, tmp_path / "b", "--resolution", 32, "--quiet")
    assert loud.returncode == quiet.returncode == 0, quiet.stderr
    assert "prepare:" in loud.stderr and "prepare:" not in quiet.stderr


def test_inpaint_finds_dot_dot_png_gif_and_tiff_in_a_folder(model_file, odd_folder, tmp_path):
    proc = _cli("inpaint", model_file, odd_folder, "--out", tmp_path / "out", *STEPS)
    assert proc.returncode == PARTIAL, proc.stderr  # broken.png is skipped, by name
    assert "4 image(s) completed" in proc.stdout
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_.", "_.hidden", "anim", "scan"]
    lines = proc.stderr.splitlines()
    assert any("left out 2 file(s)" in line and "README" in line for line in lines)
    assert any(line.startswith("ganfill: warning: skipped") and "broken.png" in line for line in lines)


def test_one_list_of_image_suffixes(tmp_path):
    from ganfill.core.constants import IMAGE_SUFFIXES
    from ganfill.data.reading import scan_folder

    for suffix in IMAGE_SUFFIXES:
        Image.fromarray(blob_images(1, 8)[0]).save(tmp_path / f"x{suffix.upper()}", format=Image.registered_extensions()[suffix])
    found, others = scan_folder(tmp_path)
    assert len(found) == len(IMAGE_SUFFIXES) and others == []
    assert all(fill.load_image(p).shape == (8, 8, 3) for p in found)


# ---- 4. writes only where asked ----------------------------------------------------------------


def test_export_to_an_existing_folder_is_an_error_and_writes_nothing(model_file, tmp_path):
    (tmp_path / "d").mkdir()
    before = sorted(checkpoint.SHIPPED_DIR.iterdir())
    proc = _cli("export", model_file, "d", cwd=tmp_path)
    _one_line_error(proc, "d is an existing folder")
    assert sorted(checkpoint.SHIPPED_DIR.iterdir()) == before
    assert list((tmp_path / "d").iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["d"]
    assert not checkpoint.user_models_dir().exists()
    (tmp_path / "m.md").mkdir()  # the model card's place is taken by a folder: refused before the model is written
    _one_line_error(_cli("export", model_file, tmp_path / "m.safetensors"), "m.md is a folder")
    assert not (tmp_path / "m.safetensors").exists()


def test_export_by_name_goes_to_the_user_folder_that_models_lists(model_file, tmp_path):
    before = sorted(checkpoint.SHIPPED_DIR.iterdir())
    proc = _cli("export", model_file, "mine32")
    assert proc.returncode == 0, proc.stderr
    mine = checkpoint.user_models_dir() / "mine32.safetensors"
    assert mine.is_file() and mine.with_suffix(".md").is_file() and str(mine) in proc.stdout
    assert sorted(checkpoint.SHIPPED_DIR.iterdir()) == before  # the installed package is never written
    listed = _cli("models").stdout.splitlines()
    row = next(line for line in listed if line.startswith("mine32 "))
    assert "32x32" in row and "yours" in row
    assert any(line.startswith("faces64 ") and "shipped" in line for line in listed)
    assert checkpoint.resolve("mine32") == mine
    assert _cli("sample", "mine32", "-n", 4, "--out", tmp_path / "g.png").returncode == 0
    _one_line_error(_cli("export", model_file, "faces64"), "faces64 is the name of a model that ships with ganfill")


def test_lock_files_are_removed_when_a_run_ends(model_file, photo, tiny_run, tmp_path):
    _, run = tiny_run
    assert not (run / LOCK_FILE).exists()
    proc = _cli("inpaint", model_file, photo, "--out", tmp_path / "out", *STEPS)
    assert proc.returncode == 0 and not (tmp_path / "out" / LOCK_FILE).exists()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["photo"]


# ---- 5. the study, damaged checkpoints ----------------------------------------------------------


def test_markdown_text_shows_what_was_typed():
    assert study.markdown_text("<script>alert(1)</script>") == "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"
    assert study.markdown_text("**x** [a](b) _y_ #1") == "\\*\\*x\\*\\* \\[a\\]\\(b\\) \\_y\\_ \\#1"
    assert study.markdown_text("Zoë & co") == "Zoë &amp; co"


def test_the_study_page_escapes_the_rater_name(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    from ganfill.apps import web

    results = tmp_path / "results"
    (results / "x").mkdir(parents=True)
    Image.fromarray(blob_images(1, 32)[0]).save(tmp_path / "x.png")
    Image.fromarray(blob_images(1, 32, seed=1)[0]).save(results / "x" / "completed.png")
    record = {"input": str(tmp_path / "x.png"), "model": {"resolution": 32}, "domain": {"crop": "none"}, "framing": "domain"}
    (results / "x" / "record.json").write_text(json.dumps(record))
    app = web.build_app({}, results_dir=results, db=tmp_path / "a.sqlite3", subject="<b>face</b>")
    on_start = next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == "on_start")
    where = on_start("<script>alert('x')</script>")[2]
    assert "<script>" not in where and "&lt;script&gt;" in where
    table = next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == "current_table")()
    assert "<b>" not in table and "&lt;b&gt;face&lt;/b&gt;" in table


def _damage(run: Path, step: int) -> Path:
    file = run / "checkpoints" / f"step-{step:08d}" / "model.safetensors"
    file.write_bytes(file.read_bytes()[: file.stat().st_size // 2])  # a copy cut short
    return file


def test_a_run_whose_latest_checkpoint_is_damaged_falls_back_with_a_warning(tiny_run, tmp_path):
    import shutil

    _, original = tiny_run
    run = tmp_path / "run"
    shutil.copytree(original, run)
    _damage(run, 4)
    proc = _cli("sample", run, "-n", 4, "--out", tmp_path / "g.png")
    assert proc.returncode == 0, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("ganfill: warning: the latest checkpoint") and "step-00000004 is damaged" in line
    assert "using step-00000002, the newest intact one" in line and "step-00000002" in proc.stdout
    with pytest.warns(GanfillWarning, match="step-00000004 is damaged"):
        assert checkpoint.load(run).path.parent.name == "step-00000002"
    resumed = _cli("train", "--out", run, "--resume", "--quiet")  # from step 2; step 4 is written again
    assert resumed.returncode == 0 and "step-00000004 is damaged" in resumed.stderr, resumed.stderr
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checkpoint.load(run).path.parent.name == "step-00000004"  # whole again
    for step in (0, 2, 4):
        _damage(run, step)
    _one_line_error(_cli("sample", run, "--out", tmp_path / "h.png"), "every checkpoint of", "is damaged")


# ---- 6. the Python API ----------------------------------------------------------------------------


MASK = torch.ones(1, 1, 32, 32)
MASK[..., 8:24, 8:24] = 0


@pytest.fixture(scope="module")
def prior(model_file):
    return checkpoint.load(model_file).prior()


def _batch(n=2):
    known = np.ones((n, 32, 32), bool)
    known[:, 8:24, 8:24] = False
    return blob_images(n, 32), known


@pytest.mark.parametrize(
    "call, error, words",
    [
        (lambda p, x, k: complete_images(p, list(x), k), GanfillTypeError, "images must be a numpy array"),
        (lambda p, x, k: complete_images(p, None, k), GanfillTypeError, "images must be a numpy array"),
        (lambda p, x, k: complete_images(p, x, None), GanfillTypeError, "known must be a numpy array"),
        (lambda p, x, k: complete_images(p, x[:0], k[:0]), GanfillError, "no images to complete"),
        (lambda p, x, k: complete_images(p, x, k, config={"num_steps": 2}), GanfillTypeError, "config must be a CompleteConfig"),
        (lambda p, x, k: complete_images(None, x, k), GanfillTypeError, "takes a Prior"),
        (lambda p, x, k: complete_images(p, x, k, blends="poisson"), GanfillTypeError, "blends must be a tuple"),
        (
            lambda p, x, k: complete(p, torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32), config=None),
            GanfillTypeError,
            "config",
        ),
        (lambda p, x, k: complete(None, torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32)), GanfillTypeError, "takes a Prior"),
        (lambda p, x, k: CompleteConfig(num_steps=2.5), GanfillTypeError, "num_steps must be an integer, got 2.5"),
        (lambda p, x, k: CompleteConfig(num_steps="10"), GanfillTypeError, "num_steps must be an integer, got '10'"),
        (lambda p, x, k: CompleteConfig(restarts=True), GanfillTypeError, "restarts must be an integer"),
        (lambda p, x, k: CompleteConfig(lam="0.1"), GanfillTypeError, "lam must be a finite number"),
        (lambda p, x, k: CompleteConfig(betas=0.9), GanfillTypeError, "betas must be two numbers"),
        (lambda p, x, k: CompleteConfig(schedule=None), GanfillError, "unknown schedule None"),
        (lambda p, x, k: load_inpainter(p, "sharp", config={}), GanfillTypeError, "config must be a CompleteConfig"),
        (lambda p, x, k: load_inpainter("faces64", None), GanfillError, "unknown mode None"),
    ],
)
def test_api_bad_arguments_are_one_line_errors(prior, call, error, words):
    x, known = _batch()
    with pytest.raises(error, match=words.replace("(", r"\(")) as e:
        call(prior, x, known)
    assert "\n" not in str(e.value)
    if error is GanfillTypeError:
        assert isinstance(e.value, TypeError)  # what Python code expects of a wrong type


def test_repair_checks_its_arguments(model_file):
    x, known = _batch(1)
    repairer = ganfill.load(model_file, config=CompleteConfig(num_steps=1))
    for args, kw, error, words in [
        ((None, ~known[0]), {}, GanfillTypeError, "expected a PIL image or a uint8"),
        ((list(x[0]), ~known[0]), {}, GanfillTypeError, "expected a PIL image or a uint8"),
        ((x[0], None), {}, GanfillTypeError, "the hole must be a PIL image or a numpy array"),
        ((x[0], np.array(["a"])), {}, GanfillError, "the hole must be"),
        ((x[0], ~known[0]), {"seed": 1.5}, GanfillTypeError, "seed must be an integer"),
        ((x[0], ~known[0]), {"seed": 2**64}, GanfillError, "seed must be from"),
        ((x[0], ~known[0]), {"frame": (0, 0)}, GanfillTypeError, "frame must be"),
        ((x[0], ~known[0]), {"frame": (0, 0, float("nan"))}, GanfillError, "frame's size must be a finite number"),
        ((x[0], ~known[0]), {"framing": "sideways"}, GanfillError, "unknown framing"),
    ]:
        with pytest.raises(error, match=words):
            repairer.repair(*args, **kw)
    with pytest.raises(GanfillTypeError, match="config must be a CompleteConfig"):
        ganfill.load(model_file, config={"num_steps": 1})
    assert repairer.repair(x[0], ~known[0]).shape == (32, 32, 3)  # and good input still works


def test_a_nan_fill_never_blends(prior):
    x, known = _batch(1)
    nan = torch.full((1, 3, 32, 32), float("nan"))
    image, mask = torch.zeros(1, 3, 32, 32), torch.from_numpy(known).float()[:, None]
    for method in ("poisson", "paste"):
        with pytest.raises(GanfillError, match="the fill holds NaN or infinite values"):
            blend(nan, image, mask, method=method)
    with pytest.raises(GanfillError, match="NaN"):
        blend_fill(nan, x, known, blends=("poisson",))
    inf = torch.zeros(1, 3, 32, 32)
    inf[0, 0, 16, 16] = float("inf")
    with pytest.raises(GanfillError, match="NaN or infinite"):
        blend(inf, image, mask)
