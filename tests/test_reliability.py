"""Issue 14, reliability: no silent NaN, no output outside --out, no traceback on any bad input,
no stale temporary files, one writer per --out, the web page's pixel limit in the CLI.

Every bad input ends with one line ``ganfill: error: ...`` on stderr, exit code 2, no
traceback, and nothing written. The kill -9 tests stop a real subprocess in the middle of a
write: a few lines run before ``ganfill.apps.cli.main`` (HOOK) make the one ``os.replace`` that would
put a chosen file in place wait, after touching a signal file, so the kill lands mid-write
every time, without timing guesses. DENY makes every write below one folder fail with a chosen
errno (root ignores file permissions, and no test can fill a disk).
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, safe_open, save_file

from ganfill.apps import fill, study
from ganfill.core.checks import integer
from ganfill.core.errors import GanfillError
from ganfill.core.files import FolderLock, atomic_path, output_name, remove_stale_temps, temp_name, write_json
from ganfill.data.datasets import prepare
from ganfill.data.reading import load_image
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint
from ganfill.models.dcgan import GANModel, build
from ganfill.training.config import TrainConfig
from ganfill.training.gan import train
from ganfill.training.loop import log_rows

from conftest import TINY, TINY_TRAIN_ARGS, blob_images, png_header
from conftest import cli as _cli
from conftest import one_line_error as _one_line_error

FAST = CompleteConfig(num_steps=3)

HOOK = r"""
import os, sys, time
from pathlib import Path
target, signal_file = sys.argv[1], Path(sys.argv[2])
real_replace = os.replace
def replace(src, dst, *args, **kwargs):
    if Path(dst).name == target:  # caught in the act: the temporary file or folder is written
        signal_file.touch()
        time.sleep(600)
    return real_replace(src, dst, *args, **kwargs)
os.replace = replace
from ganfill.apps.cli import main
main(sys.argv[3:])
"""

DENY = r"""
import builtins, errno, io, os, sys
root, code = os.path.realpath(sys.argv[1]), getattr(errno, sys.argv[2])
def under(path):
    if not isinstance(path, (str, os.PathLike)):
        return False  # a file descriptor
    p = os.path.realpath(os.fspath(path))
    return p == root or p.startswith(root + os.sep)
def deny(path):
    raise OSError(code, os.strerror(code), os.fspath(path))
real_open, real_os_open, real_mkdir, real_replace = builtins.open, os.open, os.mkdir, os.replace
def open_(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+") and under(file):
        deny(file)
    return real_open(file, mode, *args, **kwargs)
def os_open(path, flags, *args, **kwargs):
    if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT) and under(path):
        deny(path)
    return real_os_open(path, flags, *args, **kwargs)
def mkdir(path, *args, **kwargs):
    if under(path):
        deny(path)
    return real_mkdir(path, *args, **kwargs)
def replace(src, dst, *args, **kwargs):
    if under(dst):
        deny(dst)
    return real_replace(src, dst, *args, **kwargs)
builtins.open = io.open = open_
os.open, os.mkdir, os.replace = os_open, mkdir, replace
from ganfill.apps.cli import main
main(sys.argv[3:])
"""


def _script(code: str, *args, **kw):
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], capture_output=True, text=True, **kw)


def _temps(folder: Path) -> list[Path]:
    """Everything below folder named like an interrupted write's leftovers."""
    return [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp-" in p.name]


@pytest.fixture(scope="module")
def model_file(tmp_path_factory) -> Path:
    """An untrained tiny model file (32x32): enough for every path through inpainting."""
    torch.manual_seed(0)
    G, D = build(TINY)
    return checkpoint.save(tmp_path_factory.mktemp("model") / "tiny.safetensors", GANModel.from_nets(G=G, D=D))


def _rewrite(src: Path, dst: Path, *, tensors=None, **meta) -> Path:
    """A copy of a model file with some tensors and metadata entries replaced (metadata as JSON)."""
    with safe_open(str(src), framework="pt") as f:
        metadata = f.metadata()
    save_file(load_file(str(src)) | (tensors or {}), str(dst), metadata=metadata | {k: json.dumps(v) for k, v in meta.items()})
    return dst


# ---- 1. silent NaN ----------------------------------------------------------------------------


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_weights_are_refused_at_load_naming_the_tensor(model_file, tmp_path, value):
    w = load_file(str(model_file))["G.body.0.weight"].clone()
    w[0, 0, 0, 0] = value
    bad = _rewrite(model_file, tmp_path / "bad.safetensors", tensors={"G.body.0.weight": w})
    with pytest.raises(GanfillError, match=r"tensor G\.body\.0\.weight holds NaN or infinite values"):
        checkpoint.load(bad)


def test_cli_inpaint_with_nan_weights_is_an_error_and_writes_nothing(model_file, photo, tmp_path):
    bn = load_file(str(model_file))["D.body.3.running_var"].clone()
    bn[:] = math.nan
    bad = _rewrite(model_file, tmp_path / "nan.safetensors", tensors={"D.body.3.running_var": bn})
    proc = _cli("inpaint", bad, photo, "--out", tmp_path / "out", "--num-steps", 3, "--quiet")
    _one_line_error(proc, "D.body.3.running_var", "NaN")
    assert not (tmp_path / "out").exists()


def test_cli_export_of_nan_weights_writes_nothing(model_file, tmp_path):
    w = load_file(str(model_file))["D.head.0.weight"].clone()
    w[:] = math.inf
    bad = _rewrite(model_file, tmp_path / "inf.safetensors", tensors={"D.head.0.weight": w})
    proc = _cli("export", bad, tmp_path / "exported.safetensors")
    _one_line_error(proc, "D.head.0.weight")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["inf.safetensors"]


def test_export_refuses_weights_that_overflow_fp16(tmp_path):
    G, D = build(TINY)
    with torch.no_grad():
        G.body[0].weight[0, 0, 0, 0] = 1e6  # finite in fp32, infinite in fp16
    src = checkpoint.save(tmp_path / "big.safetensors", GANModel.from_nets(G=G, D=D))
    with pytest.raises(GanfillError, match=r"G\.body\.0\.weight does not fit in float16.*--dtype fp32"):
        checkpoint.export(src, tmp_path / "small.safetensors")
    assert not (tmp_path / "small.safetensors").exists()
    checkpoint.export(src, tmp_path / "exact.safetensors", dtype=torch.float32)  # the way out it names
    assert checkpoint.load(tmp_path / "exact.safetensors").G.body[0].weight[0, 0, 0, 0] == 1e6


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(lam=math.inf), "lam must be a finite number"),
        (dict(lam=math.nan), "lam must be a finite number"),
        (dict(lr=math.inf), "lr must be a finite number"),
        (dict(tol=math.inf), "tol must be a finite number"),
        (dict(window=99_999), "window must be an odd number from 1 to 255"),
    ],
)
def test_inpainting_config_refuses_infinite_and_huge_values(kw, words):
    with pytest.raises(GanfillError, match=words):
        CompleteConfig(**kw)


def test_cli_lam_inf_is_an_error(model_file, photo, tmp_path):
    proc = _cli("inpaint", model_file, photo, "--out", tmp_path / "out", "--lam", "inf", "--quiet")
    _one_line_error(proc, "lam must be a finite number")
    assert not (tmp_path / "out").exists()


def test_a_search_whose_loss_becomes_non_finite_stops_with_an_error(model_file):
    model = checkpoint.load(model_file)
    x, m = torch.zeros(1, 3, 32, 32), torch.ones(1, 1, 32, 32)
    m[..., 8:24, 8:24] = 0
    with pytest.raises(GanfillError, match="NaN or infinite at step 0 .*lower lambda"):
        complete(model.prior(), x, m, config=CompleteConfig(num_steps=5, lam=1e300))  # lam * L_p overflows float32


def test_cli_extreme_lam_writes_no_result(model_file, photo, tmp_path):
    proc = _cli("inpaint", model_file, photo, "--out", tmp_path / "out", "--lam", "1e300", "--num-steps", 3, "--quiet")
    _one_line_error(proc, "NaN or infinite", "--lam")
    assert not (tmp_path / "out").exists()


def test_web_page_extreme_lambda_is_a_message_not_a_black_hole(model_file):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    from ganfill.apps import web

    inpainter = load_inpainter(model_file, "sharp", config=CompleteConfig(num_steps=5, lam=1e300))
    item = web.make_item(
        blob_images(1, 32)[0], "x.png", inpainter, hole_choice="center", editor=None, framing="domain", frames=[], seed=0
    )
    messages = list(web.stream_completion(inpainter, item, seed=0))
    assert messages[-1][0] == "error" and isinstance(messages[-1][1], GanfillError)
    assert "NaN or infinite" in str(messages[-1][1])


def test_record_json_is_always_strict_json(model_file, photo, tmp_path):
    inpainter = load_inpainter(model_file, "sharp", config=FAST)
    fill.run(inpainter, [photo], tmp_path / "out", progress=False)

    def refuse(token):
        raise AssertionError(f"{token} in record.json")

    json.loads((tmp_path / "out" / "photo" / "record.json").read_text(), parse_constant=refuse)
    item = fill.load_item(photo, inpainter, fill.MaskSource("center"), seed=0)
    with pytest.raises(GanfillError, match="not finite"):
        fill.write_outputs(tmp_path / "nan", item, item.x, item.x, [], {"loss": [1.0, math.nan]})
    assert not (tmp_path / "nan" / "record.json").exists() and not _temps(tmp_path / "nan")


# ---- 2. outputs stay inside --out -------------------------------------------------------------


@pytest.mark.parametrize(
    "stem, name",
    [
        ("..", "_.."),
        (".", "_."),
        ("", "_"),
        (".hidden", "_.hidden"),
        ("a\\b", "a_b"),
        ("tab\there", "tab_here"),
        ("photo", "photo"),
        ("my photo (1)", "my photo (1)"),
    ],
)
def test_output_names_are_safe(stem, name):
    assert output_name(stem) == name


def test_inputs_named_dot_dot_write_inside_out(model_file, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, file in enumerate(["...png", "..png"]):  # stems ".." and "."
        Image.fromarray(blob_images(1, 32, seed=i)[0]).save(src / file, format="PNG")
    out = tmp_path / "deep" / "out"
    counts = fill.run(
        load_inpainter(checkpoint.load(model_file), "sharp", config=FAST), [src / "...png", src / "..png"], out, progress=False
    )
    assert counts["done"] == 2
    assert sorted(p.name for p in (tmp_path / "deep").iterdir()) == ["out"]  # nothing beside --out
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["_.", "_.."]
    assert not [p for p in out.iterdir() if p.is_file() and p.name != ".ganfill.lock"]  # nothing loose in --out
    assert json.loads((out / "_..").joinpath("record.json").read_text())["input"] == str(src / "...png")


def test_inputs_whose_names_would_share_a_folder_are_an_error(model_file, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for file in ["..png", "_..png"]:  # "." is made "_.", the other one's own stem
        Image.fromarray(blob_images(1, 32)[0]).save(src / file, format="PNG")
    with pytest.raises(GanfillError, match=r"two inputs would write their results to _\./"):
        fill.run(
            load_inpainter(checkpoint.load(model_file), "sharp", config=FAST),
            [src / "..png", src / "_..png"],
            tmp_path / "out",
            progress=False,
        )
    assert not (tmp_path / "out").exists()


def test_a_rerun_with_out_inside_the_input_folder_does_not_repair_its_own_results(model_file, tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(2):
        Image.fromarray(blob_images(1, 32, seed=i)[0]).save(src / f"p{i}.png")
    model = checkpoint.load(model_file)
    assert fill.run(load_inpainter(model, "sharp", config=FAST), [src], src / "out", progress=False)["done"] == 2
    assert fill.run(load_inpainter(model, "sharp", config=FAST), [src], src / "out", progress=False) == {
        "done": 0,
        "unchanged": 0,
        "skipped": 2,
        "total": 2,
        "failed": [],
    }


# ---- 3. one line, never a traceback -----------------------------------------------------------


def test_cli_mask_image_claiming_30000_squared_pixels(model_file, photo, tmp_path):
    (tmp_path / "bomb.png").write_bytes(png_header(30000, 30000))
    proc = _cli("inpaint", model_file, photo, "--out", tmp_path / "out", "--mask", tmp_path / "bomb.png", "--quiet")
    _one_line_error(proc, "bomb.png", "too many pixels")
    assert not (tmp_path / "out").exists()


def test_cli_pixel_limit_of_inputs_and_no_raw_warning(model_file, tmp_path):
    (tmp_path / "big.png").write_bytes(png_header(13000, 13000))  # 169 MP in a few bytes: Pillow only warns
    proc = _cli("inpaint", model_file, tmp_path / "big.png", "--out", tmp_path / "out", "--quiet")
    _one_line_error(proc, "big.png is 13000x13000 = 169 megapixels: the limit is 40 megapixels")
    assert "DecompressionBomb" not in proc.stderr and not (tmp_path / "out").exists()


def test_a_raised_limit_reads_the_image_without_pillows_warning(tmp_path, monkeypatch):
    Image.fromarray(blob_images(1, 40)[0]).save(tmp_path / "photo.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow warns above this, errs above twice as much
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_image(tmp_path / "photo.png", max_pixels=None).shape == (40, 40, 3)  # 1600 pixels: a warning
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 500)  # now past twice Pillow's limit: its error, as one line
    with pytest.raises(GanfillError, match="photo.png has too many pixels, more than Pillow opens at all"):
        load_image(tmp_path / "photo.png", max_pixels=None)


def test_max_pixels_overrides_the_limit(model_file, photo, tmp_path):
    inpainter = load_inpainter(checkpoint.load(model_file), "sharp", config=FAST)  # photo: 40x40 = 1600 pixels
    with pytest.raises(GanfillError, match="photo.png is 40x40 = 0.0016 megapixels: the limit is 0.001 megapixels"):
        fill.run(inpainter, [photo], tmp_path / "out", progress=False, max_pixels=1000)
    mask = np.zeros((80, 80), np.uint8)
    mask[20:60, 20:60] = 255
    Image.fromarray(mask).save(tmp_path / "mask.png")  # 6400 pixels
    masked = {"mask": str(tmp_path / "mask.png"), "progress": False}
    with pytest.raises(GanfillError, match="mask.png is 80x80 = 0.0064 megapixels: the limit is 0.002"):  # masks too
        fill.run(inpainter, [photo], tmp_path / "out", max_pixels=2000, **masked)
    assert not (tmp_path / "out").exists()
    assert fill.run(inpainter, [photo], tmp_path / "out", max_pixels=6400, **masked)["done"] == 1
    with pytest.raises(GanfillError, match="--max-pixels must be at least 1"):
        fill.run(inpainter, [photo], tmp_path / "out", progress=False, max_pixels=0)


@pytest.mark.parametrize("command", ["inpaint", "inpaint --framing fit", "train", "evaluate"])
def test_cli_out_that_is_an_existing_file(model_file, photo, tiny_dataset, tmp_path, command):
    out = tmp_path / "taken"
    out.write_text("mine\n")
    args = {
        "inpaint": ["inpaint", model_file, photo],
        "inpaint --framing fit": ["inpaint", model_file, photo, "--framing", "fit", "--mask", photo],
        "train": ["train", tiny_dataset, *TINY_TRAIN_ARGS],
        "evaluate": ["evaluate", model_file, tiny_dataset, "--quiet"],
    }[command]
    proc = _cli(*args, "--out", out)
    _one_line_error(proc, f"--out {out} is a file, not a folder")
    assert out.read_text() == "mine\n"


def test_cli_sample_out_that_is_a_folder(model_file, tmp_path):
    proc = _cli("sample", model_file, "-n", 4, "--out", tmp_path)
    _one_line_error(proc, f"--out {tmp_path} is a folder", "samples.png")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_where_a_file_goes_is_refused_before_writing(tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    with pytest.raises(GanfillError, match="is a folder, not a file"):
        with atomic_path(tmp_path / "model.safetensors") as tmp:
            tmp.write_text("x")
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


@pytest.mark.parametrize(
    "command, code, words",
    [
        ("prepare", "EACCES", "permission denied"),
        ("train", "EACCES", "permission denied"),
        ("inpaint", "EACCES", "permission denied"),
        ("sample", "EACCES", "permission denied"),
        ("export", "EACCES", "permission denied"),
        ("inpaint", "ENOSPC", "no space left on the device"),
        ("train", "EROFS", "read-only"),
    ],
)
def test_cli_os_errors_writing_outputs_are_one_line(model_file, photo, tiny_dataset, tmp_path, command, code, words):
    root = tmp_path / "locked"
    root.mkdir()
    args = {
        "prepare": ["prepare", photo.parent, root / "data", "--resolution", 32],
        "train": ["train", tiny_dataset, "--out", root / "run", *TINY_TRAIN_ARGS],
        "inpaint": ["inpaint", model_file, photo, "--out", root / "out", "--quiet"],
        "sample": ["sample", model_file, "-n", 4, "--out", root / "grid.png"],
        "export": ["export", model_file, root / "m.safetensors"],
    }[command]
    proc = _script(DENY, root, code, *args)
    _one_line_error(proc, words, root)
    assert list(root.iterdir()) == [] and not _temps(tmp_path)


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--lr", "nan", "--lr must be a finite number greater than 0, got nan"),
        ("--lr", "-1", "Invalid value for '--lr': -1.0 is not in the range x>0"),  # click's range, at parse time
        ("--beta1", "1.5", "Invalid value for '--beta1': 1.5 is not in the range 0<=x<1"),
    ],
)
def test_cli_train_bad_optimiser_numbers(tiny_dataset, tmp_path, option, value, words):
    proc = _cli("train", tiny_dataset, "--out", tmp_path / "run", *TINY_TRAIN_ARGS, "--steps", 1, option, value)
    _one_line_error(proc, words)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "kw, words",
    [
        (dict(beta2=math.nan), "--beta2 must be a finite number in"),
        (dict(ema_decay=math.inf), "--ema-decay"),
        (dict(keep=-1), "--keep must be at least 0"),
        (dict(steps=2.5), "--steps must be an integer"),
        (dict(batch_size="64"), "--batch-size must be an integer"),
        (dict(flip="no"), "--flip must be true or false"),
        (dict(lr=True), "--lr must be a finite number"),
    ],
)
def test_training_config_checks_types_and_ranges(kw, words):
    with pytest.raises(GanfillError, match=words):
        TrainConfig(**kw)


@pytest.mark.parametrize(
    "change, words",
    [
        (dict(model_config=TINY.to_dict() | {"z_dim": 2.5}), "z_dim must be an integer, got 2.5"),
        (dict(model_config=TINY.to_dict() | {"z_dim": "eight"}), "z_dim must be an integer"),
        (dict(model_config=TINY.to_dict() | {"z_dim": 10**9}), "z_dim must be from 1 to 4096, got 1000000000"),
        (dict(model_config=TINY.to_dict() | {"g_width": 5000}), "g_width must be from 1 to 1024"),
        (dict(model_config=TINY.to_dict() | {"d_width": True}), "d_width must be an integer"),
        (dict(model_config=TINY.to_dict() | {"resolution": 32.0}), "impossible resolution"),
        (dict(model_config=[1, 2]), "must be a JSON object"),
        (dict(domain=[1, 2]), "domain must be a JSON object, got list"),
        (dict(domain="center:108"), "domain must be a JSON object, got str"),
        (dict(domain={"crop": 5}), "unknown crop policy"),
        (dict(domain={"crop": "none", "background": [1, 2]}), "three integers"),
    ],
)
def test_checkpoint_metadata_is_checked_for_types_and_ranges(model_file, tmp_path, change, words):
    bad = _rewrite(model_file, tmp_path / "meta.safetensors", **change)
    for read in (checkpoint.load, checkpoint.describe):  # describe: `ganfill models`, export's report
        with pytest.raises(GanfillError, match=words) as e:
            read(bad)
        assert str(bad) in str(e.value) and "\n" not in str(e.value)


def test_cli_huge_z_dim_in_metadata_is_refused_before_allocating(model_file, tmp_path):
    bad = _rewrite(model_file, tmp_path / "huge.safetensors", model_config=TINY.to_dict() | {"z_dim": 10**9})
    proc = _cli("sample", bad, "--out", tmp_path / "grid.png")
    _one_line_error(proc, "z_dim must be from 1 to 4096")
    assert not (tmp_path / "grid.png").exists()


def test_checkpoint_record_that_is_not_an_object(tmp_path):
    G, D = build(TINY)
    folder = tmp_path / "step-00000001"
    checkpoint.save(folder / "model.safetensors", GANModel.from_nets(G=G, D=D))
    (folder / "config.json").write_text("[1, 2, 3]")
    with pytest.raises(GanfillError, match="not a checkpoint record"):
        checkpoint.load(folder)


def _results_with_record(tmp_path: Path, record) -> Path:
    results = tmp_path / "results"
    (results / "x").mkdir(parents=True)
    Image.fromarray(blob_images(1, 32)[0]).save(results / "x" / "completed.png")
    Image.fromarray(blob_images(1, 32)[0]).save(tmp_path / "x.png")
    (results / "x" / "record.json").write_text(json.dumps(record))
    return results


@pytest.mark.parametrize(
    "record",
    [
        {"input": "{input}", "framing": "domain"},  # no "model"
        {"input": "{input}", "model": {"resolution": "big"}},
        {"input": "{input}", "model": {"resolution": 32}, "domain": [1]},
        [1, 2],
    ],
)
def test_study_leaves_out_a_record_without_a_model(tmp_path, record):
    record = json.loads(json.dumps(record).replace("{input}", str(tmp_path / "x.png")))
    pairs, skipped = study.find_pairs(_results_with_record(tmp_path, record))
    assert pairs == [] and len(skipped) == 1 and skipped[0].startswith("x: record.json")


def test_cli_study_on_records_without_a_model(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    results = _results_with_record(tmp_path, {"input": str(tmp_path / "x.png")})
    proc = _cli("study", results, "--port", 7)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr[-3000:]
    warning, error = proc.stderr.splitlines()
    assert warning.startswith("ganfill: warning: left out x: record.json has no usable model")
    assert error.startswith("ganfill: error:") and "holds no completed image" in error


def test_resume_drops_a_torn_last_log_line(tiny_dataset, tmp_path):
    cfg = TrainConfig(steps=2, batch_size=8, checkpoint_every=2, n_samples=4, precision="fp32")
    run = train(tiny_dataset, tmp_path / "run", model=TINY, config=cfg, progress=False).parent.parent
    log = run / "log.jsonl"
    whole = log.read_text()
    log.write_text(whole + '{"step": 3, "loss_d": 1.38')  # killed while writing a line
    train(None, run, config=TrainConfig(steps=3), resume=True, progress=False)
    rows = log_rows(log)
    assert [r["step"] for r in rows] == [1, 2, 3] and log.read_text().startswith(whole)
    log.write_text(whole.replace('"step": 1,', '"step": 1') + whole)  # damage in the middle: not dropped quietly
    with pytest.raises(GanfillError, match="log.jsonl line 1 is damaged"):
        train(None, run, config=TrainConfig(steps=4), resume=True, progress=False)


def test_web_page_names_a_truncated_upload_by_its_file_name_only(tmp_path):
    pytest.importorskip("gradio", reason="the web app needs Gradio")
    from ganfill.apps import web

    upload = tmp_path / "gradio" / "0123456789abcdef" / "holiday.png"
    upload.parent.mkdir(parents=True)
    Image.fromarray(blob_images(1, 64)[0]).save(upload)
    upload.write_bytes(upload.read_bytes()[:200])  # the upload stopped halfway
    with pytest.raises(GanfillError) as e:
        web.read_upload(upload)
    assert "holiday.png" in str(e.value) and str(upload.parent) not in str(e.value) and "gradio" not in str(e.value)


# ---- 4. temporary files from interrupted writes ----------------------------------------------


def _start_stuck(target: str, signal_file: Path, *args) -> subprocess.Popen:
    """A ganfill command that stops, for good, just before it renames `target` into place."""
    return subprocess.Popen(
        [sys.executable, "-c", HOOK, target, str(signal_file), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(proc: subprocess.Popen, signal_file: Path) -> None:
    deadline = time.monotonic() + 300  # a bound against hanging, not a timing assertion
    while not signal_file.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} before the write: {proc.stderr.read()[-3000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("never reached the write")
        time.sleep(0.05)


def _kill9(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close(), proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL


def _losses(rows: list[dict]) -> list[tuple]:
    return [(r["step"], r["loss_d"], r["loss_g"], r["d_real"], r["d_fake"], r["images"]) for r in rows]


def test_kill_9_during_a_checkpoint_write_then_resume(tiny_dataset, tmp_path):
    run, flag = tmp_path / "run", tmp_path / "caught"
    proc = _start_stuck(
        "step-00000004", flag, "train", tiny_dataset, "--out", run, *TINY_TRAIN_ARGS, "--steps", 4, "--checkpoint-every", 2
    )
    _wait_for(proc, flag)
    _kill9(proc)
    left = [p.name for p in _temps(run)]
    assert any(name.startswith(".step-00000004.") for name in left), left  # killed mid-write
    before = _losses(log_rows(run / "log.jsonl"))  # steps 1-4 of the killed process
    assert [r[0] for r in before] == [1, 2, 3, 4]
    proc = _cli("train", "--out", run, "--resume", "--quiet")  # resumes at step 2, redoes 3 and 4
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert _temps(run) == []
    assert _losses(log_rows(run / "log.jsonl")) == before  # exactly the interrupted run's losses
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000000", "step-00000002", "step-00000004"]


def test_kill_9_during_inpaint_output_then_rerun_and_a_second_writer_is_refused(model_file, tmp_path):
    src, out, flag = tmp_path / "in", tmp_path / "out", tmp_path / "caught"
    src.mkdir()
    for i in range(2):
        Image.fromarray(blob_images(1, 40, seed=i)[0]).save(src / f"p{i}.png")
    args = ["inpaint", model_file, src, "--out", out, "--num-steps", 3, "--quiet"]
    proc = _start_stuck("completed.png", flag, *args)
    try:
        _wait_for(proc, flag)
        second = _cli(*args)  # the first one holds --out
        _one_line_error(second, f"{out} is in use by another ganfill process")
    finally:
        _kill9(proc)
    folder, tmp = sorted(_temps(out))  # p0's folder is made whole under a temporary name, then renamed
    assert folder.parent == out and folder.name.startswith(".p0.") and folder.is_dir()
    assert tmp.parent == folder and tmp.name.startswith(".completed.png.")
    written = np.asarray(Image.open(tmp).convert("RGB"))  # what the killed run had computed
    assert not (out / "p0").exists()  # nothing half-made under the image's own name
    proc = _cli(*args)
    assert proc.returncode == 0 and "2 image(s) completed" in proc.stdout, proc.stderr[-3000:]
    assert _temps(out) == []
    assert np.array_equal(load_image(out / "p0" / "completed.png"), written)
    assert all((out / f"p{i}" / "record.json").is_file() for i in range(2))


def test_a_new_run_removes_only_its_own_kind_of_leftovers(tmp_path):
    folder = tmp_path / "out" / "photo"
    folder.mkdir(parents=True)
    stale_file, stale_dir = temp_name(folder / "completed.png"), temp_name(folder / "frames")
    stale_file.write_text("half")
    stale_dir.mkdir()
    keep = [folder / ".notes.tmp", folder / "draft.tmp", folder / ".completed.png.xyz.tmp", folder / "completed.png"]
    for p in keep:
        p.write_text("user's")
    assert remove_stale_temps(folder, tmp_path / "missing") == 2
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in keep)


def test_prepare_removes_what_a_killed_prepare_left(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, img in enumerate(blob_images(3, 40)):
        Image.fromarray(img).save(src / f"{i}.png")
    stale = temp_name(tmp_path / "data")
    stale.mkdir()
    (stale / "images-00000.npy").write_bytes(b"half a shard")
    other = temp_name(tmp_path / "other-data")  # another output's: not this run's to remove
    other.mkdir()
    prepare(src, tmp_path / "data", resolution=32, crop="none", progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["src", "data", other.name])


# ---- 6. one writer per --out ------------------------------------------------------------------


def test_folder_lock_refuses_a_second_writer_and_leaves_nothing_it_made(tmp_path):
    out = tmp_path / "out"
    with FolderLock(out):
        with pytest.raises(GanfillError, match="in use by another ganfill process"):
            FolderLock(out)
        with pytest.raises(GanfillError, match="in use"):
            FolderLock(out, shared=True)
    assert not out.exists()  # made by the lock, nothing written: gone again
    with FolderLock(out, shared=True) as first, FolderLock(out, shared=True):  # the ranks of one torchrun job
        with pytest.raises(GanfillError, match="in use"):
            FolderLock(out)
        (out / "result").mkdir()
        first.release()  # the other rank still holds it: the lock file stays
        assert sorted(p.name for p in out.iterdir()) == [".ganfill.lock", "result"]
    assert sorted(p.name for p in out.iterdir()) == ["result"]  # the last holder removes the lock file
    with FolderLock(out):  # free again
        pass
    assert sorted(p.name for p in out.iterdir()) == ["result"]


# ---- helpers ---------------------------------------------------------------------------------


def test_os_errors_name_the_file_written_not_its_temporary_name(tmp_path, monkeypatch):
    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(src), None, str(dst))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(GanfillError) as e:
        write_json({"a": 1}, tmp_path / "record.json")
    assert (
        str(e.value)
        == f"cannot write {tmp_path / 'record.json'}: no space left on the device: free some space, or write somewhere else"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("value, words", [(True, "an integer"), (2.0, "an integer"), (0, "from 1 to 3"), (4, "from 1 to 3")])
def test_integer_check(value, words):
    with pytest.raises(GanfillError, match=words):
        integer(value, "x", lo=1, hi=3)
    assert integer(np.int64(2), "x", lo=1, hi=3) == 2
