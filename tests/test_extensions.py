"""Extension points, each used from outside the package (tests/plugins/, one file and one
registration each): a prior (a new model kind), a mode, a classical baseline, a metric and a
realism judge, then
driven through `ganfill inpaint`, `ganfill evaluate` and the Python API like the built-in ones."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from ganfill.apps.cli import main
from ganfill.evaluation import evaluate as ev
from ganfill.evaluation import judges, metrics
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import MODES, load_inpainter
from ganfill.models import files as checkpoint
from ganfill.models import registry

from conftest import blob_images


@pytest.fixture
def linear_model(plugins, tmp_path):
    lp = plugins["linear_prior"]
    config = lp.LinearConfig()
    import torch

    torch.manual_seed(0)
    model = lp.LinearModel(config, lp.LinearModel.networks(config, set(), {}))
    return checkpoint.save(tmp_path / "linear.safetensors", model)


def _photos(folder, n=3, size=16):
    folder.mkdir(parents=True, exist_ok=True)
    for i, img in enumerate(blob_images(n, size, seed=5)):
        Image.fromarray(img).save(folder / f"p{i}.png")
    return folder


def _cli(*args):
    try:
        main([str(a) for a in args])
    except SystemExit as e:
        assert e.code in (0, None), e.code


def test_a_prior_from_outside_is_one_file_and_one_registration(linear_model, tmp_path, capsys):
    assert checkpoint.describe(linear_model).kind == "linear"  # the file records its kind
    model = checkpoint.load(linear_model)
    assert type(model).__name__ == "LinearModel"
    photos = _photos(tmp_path / "in")
    _cli("inpaint", linear_model, photos, "--out", tmp_path / "out", "--num-steps", "5", "--quiet")
    record = json.loads((tmp_path / "out" / "p0" / "record.json").read_text())
    assert record["mode"] == "sharp" and record["model"]["z_dim"] == 4 and len(record["loss"]) == 6
    images = blob_images(4, 16, seed=1)
    known = np.ones((4, 16, 16), bool)
    known[:, 4:12, 4:12] = False
    api = load_inpainter(linear_model, "sharp", config=CompleteConfig(num_steps=5))  # the Python API
    done = api(images, known, seed=0)
    assert np.array_equal(done.completed["poisson"][known], images[known])
    result = ev.evaluate(
        model, images, masks=["center"], methods=["ganfill", "telea"], face_detector=False, config=CompleteConfig(num_steps=5)
    )
    assert {r["method"] for r in result.results} == {"ganfill", "telea"}


def test_a_mode_a_baseline_a_metric_and_a_judge_from_outside_work_everywhere(plugins, linear_model, tmp_path):
    assert {"nearest-sample", "mirror"} <= set(MODES) and "mse_hole" in metrics.METRICS and "hole_stats" in judges.JUDGES
    photos = _photos(tmp_path / "in", n=6)  # 6: the judge's 5 folds
    for mode in ("nearest-sample", "mirror"):
        _cli("inpaint", linear_model, photos, "--out", tmp_path / mode, "--mode", mode, "--quiet")
        record = json.loads((tmp_path / mode / "p1" / "record.json").read_text())
        assert record["mode"] == mode
        out = np.asarray(Image.open(tmp_path / mode / "p1" / "completed.png"))
        original = np.asarray(Image.open(photos / "p1.png"))
        hole = np.asarray(Image.open(tmp_path / mode / "p1" / "mask.png"))[..., 0] > 127
        assert np.array_equal(out[~hole], original[~hole]) and hole.any()
    _cli(
        "evaluate",
        linear_model,
        photos,
        "--out",
        tmp_path / "eval",
        "--masks",
        "center",
        "-n",
        "6",
        "--methods",
        "nearest-sample,mirror,telea",
        "--judges",
        "texture,hole_stats",
        "--no-face-detector",
        "--num-steps",
        "3",
        "--quiet",
    )
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert {r["method"] for r in results["results"]} == {"nearest-sample", "mirror", "telea"}
    assert all("mse_hole" in r and r["mse_hole"] > 0 for r in results["results"])
    assert all(0 <= r["detectability_hole_stats"] <= 1 for r in results["results"])
    assert "detectable: hole_stats (%)" in (tmp_path / "eval" / "results.md").read_text()
    mirror = plugins["mirror_baseline"].mirror
    images = blob_images(2, 16, seed=2)
    holes = ev.make_holes("center", 2, 16)
    done = load_inpainter(linear_model, "mirror")(images, ~holes)  # the Python API
    assert np.array_equal(done.completed["poisson"][0], mirror(images[0], holes[0]))


def test_registries_are_restored_after_the_plugins(plugins):
    assert "mirror" in MODES  # (the fixture restores them at the end; the next test sees none of it)


def test_no_plugin_is_left_registered():
    assert "mirror" not in MODES and "mse_hole" not in metrics.METRICS and "linear" not in registry.kinds()
    assert "hole_stats" not in judges.JUDGES
