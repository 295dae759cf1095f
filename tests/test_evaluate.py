"""`ganfill evaluate`: metrics with known answers, baselines' wiring, the realism score, the whole loop."""

import functools
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.apps.cli import main
from ganfill.core.errors import GanfillError
from ganfill.data.domain import Domain
from ganfill.evaluation import evaluate as ev
from ganfill.evaluation import judges
from ganfill.inpainting import baselines
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import Sharp, load_inpainter
from ganfill.inpainting.search import FAITHFUL_DETAIL
from ganfill.models import files as checkpoint
from ganfill.models.config import CEConfig
from ganfill.models.context_encoder import ContextEncoder, ContextEncoderModel
from ganfill.models.dcgan import GANModel

from conftest import blob_images, shared


def textured(n: int, size: int, seed: int = 0) -> np.ndarray:
    """Blob images with a shading gradient and sensor-like noise: texture everywhere, like photos."""
    rng = np.random.default_rng(seed)
    base = blob_images(n, size, seed=seed).astype(np.float64)
    ramp = np.linspace(-20, 20, size)[None, :, None, None] * rng.uniform(-1, 1, (n, 1, 1, 1))
    noise = rng.normal(0, 6, base.shape)
    return np.clip(np.rint(base * 0.8 + 25 + ramp + noise), 0, 255).astype(np.uint8)


def center_hole(size: int) -> np.ndarray:
    hole = np.zeros((size, size), bool)
    hole[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = True
    return hole


# ---------------------------------------------------------------------------------- metrics


def test_metrics_of_identical_images():
    img = textured(1, 32)[0]
    hole = center_hole(32)
    assert ev.METRICS["psnr_full"](img, img, hole) == math.inf
    assert ev.METRICS["psnr_hole"](img, img, hole) == math.inf
    assert ev.METRICS["ssim"](img, img, hole) == pytest.approx(1.0)
    assert ev.METRICS["l1_hole"](img, img, hole) == 0.0
    assert ev.capped(math.inf) == ev.PSNR_CAP == 100.0  # what aggregates and JSON see
    assert ev.capped(31.5) == 31.5


def test_metrics_of_a_constant_error_in_the_hole():
    rng = np.random.default_rng(1)
    truth = rng.integers(20, 230, (32, 32, 3), dtype=np.uint8)  # no clipping at +10
    hole = np.zeros((32, 32), bool)
    hole[4:20, 2:14] = True  # 192 of 1024 pixels
    test = truth.copy()
    test[hole] += 10  # every hole value off by exactly 10 levels
    frac = hole.mean()
    assert ev.METRICS["psnr_hole"](truth, test, hole) == pytest.approx(10 * np.log10(255**2 / 100), abs=1e-9)
    assert ev.METRICS["psnr_full"](truth, test, hole) == pytest.approx(10 * np.log10(255**2 / (100 * frac)), abs=1e-9)
    assert ev.METRICS["l1_hole"](truth, test, hole) == pytest.approx(10 / 255)
    assert 0.5 < ev.METRICS["ssim"](truth, test, hole) < 1.0
    # known pixels play no part in the hole metrics
    worse = test.copy()
    worse[~hole] = 0
    assert ev.METRICS["psnr_hole"](truth, worse, hole) == ev.METRICS["psnr_hole"](truth, test, hole)


def test_area_bins_pool_masks_by_hole_fraction():
    rows = [
        {"method": "m", "mask": k, "hole_fraction": f, "psnr_hole": p, "psnr_full": 1.0, "ssim": 0.5, "l1_hole": 0.1}
        for k, f, p in [("center", 0.25, 10.0), ("pattern", 0.25, 20.0), ("half", 0.5, 30.0), ("full", 1.0, 40.0)]
    ]
    bins = ev.area_bins(rows)
    assert [(b["bin"], b["images"], b["psnr_hole"]) for b in bins] == [
        ("20%-30%", 2, 15.0),
        ("50%-60%", 1, 30.0),
        ("90%-100%", 1, 40.0),
    ]
    assert bins[0]["masks"] == ["center", "pattern"]


# ---------------------------------------------------------------------------------- baselines


@pytest.mark.parametrize("method", list(baselines.BASELINES))
def test_baselines_fill_only_the_hole(method):
    images = textured(3, 32, seed=2)
    fn = baselines.BASELINES[method]
    for mask in ("center", "pattern", "random80", "half"):
        holes = ev.make_holes(mask, 3, 32, seed=0)
        for img, hole in zip(images, holes):
            zeroed = np.where(hole[..., None], 0, img).astype(np.uint8)
            out = fn(zeroed, hole)
            assert out.dtype == np.uint8 and out.shape == img.shape
            assert np.array_equal(out[~hole], img[~hole])  # known pixels untouched
            # the hole's input content is ignored
            assert np.array_equal(fn(np.where(hole[..., None], 255, img).astype(np.uint8), hole), out)
            values = [f(img, out, hole) for f in ev.METRICS.values()]
            assert all(np.isfinite(v) for v in values), values
    flat = np.full((16, 16, 3), 90, np.uint8)
    hole = center_hole(16)
    filled = fn(np.where(hole[..., None], 0, flat).astype(np.uint8), hole)
    assert np.abs(filled.astype(int) - 90).max() <= 2  # a flat image is filled flat


def test_telea_is_opencvs():
    import cv2

    img, hole = textured(1, 32, seed=4)[0], center_hole(32)
    zeroed = np.where(hole[..., None], 0, img).astype(np.uint8)
    assert np.array_equal(baselines.telea(zeroed, hole), cv2.inpaint(zeroed, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA))
    assert not np.array_equal(baselines.telea(zeroed, hole), baselines.navier_stokes(zeroed, hole))


@pytest.fixture
def tiny_model(tmp_path, tiny_models):
    G, D = tiny_models
    path = checkpoint.save(tmp_path / "tiny.safetensors", GANModel.from_nets(G=G, D=D))
    return checkpoint.load(path)


def test_each_search_mode_is_scored_by_its_own_search(tiny_models, tmp_path):
    # with an encoder of z the faithful mode starts from its network's mean, the sharp mode from
    # the known pixels: evaluate's rows are what each mode gives on its own
    from ganfill.models.encoder import Encoder

    G, D = tiny_models
    torch.manual_seed(3)
    model = checkpoint.load(checkpoint.save(tmp_path / "enc.safetensors", GANModel.from_nets(G=G, D=D, E=Encoder(G.config))))
    torch.manual_seed(2)
    ce = ContextEncoder(CEConfig(resolution=32, width=8, bottleneck=16, adv_width=8)).eval()
    cnn = checkpoint.save(tmp_path / "ce.safetensors", ContextEncoderModel.from_nets(ce))
    images = textured(6, 32, seed=9)
    config = CompleteConfig(num_steps=3)
    methods = ["ganfill", "ganfill-faithful"]
    run = ev.evaluate(model, images, masks=["center"], methods=methods, cnn=cnn, config=config, judges=["texture"])
    holes = run.holes["center"]
    for method, mode in (("ganfill", "sharp"), ("ganfill-faithful", "faithful")):
        alone = load_inpainter(model, mode, cnn=cnn, config=config)(images, ~holes, seed=0).completed["poisson"]
        assert np.array_equal(run.completed[method, "center"], alone), method


def test_ganfill_methods_share_one_search_and_ignore_batching(tiny_model):
    images = textured(5, 32, seed=5)
    holes = ev.make_holes("center", 5, 32, seed=0)
    cfg = CompleteConfig(num_steps=4)
    prior = tiny_model.prior()
    a = ev.complete_ganfill(Sharp(prior, cfg, ("poisson", "paste")), images, holes, batch_size=5, seed=0)
    b = ev.complete_ganfill(Sharp(prior, cfg, ("poisson", "paste")), images, holes, batch_size=2, seed=0)
    for m in ev.GANFILL_METHODS:
        out, seconds = a[m]
        assert np.array_equal(out, b[m][0])  # z depends on the image, not on the batch
        assert seconds > 0
        assert np.array_equal(out[~holes], images[~holes])
    paste, poisson = a["ganfill-paste"][0], a["ganfill"][0]
    assert not np.array_equal(paste, poisson)  # the blends differ in the hole only
    # Poisson blending of the same G(z^): the seam at the hole border is far smaller than the paste's
    edge = holes & ~np.roll(holes, 1, axis=2)  # hole pixels whose left neighbour is known

    def border_jump(out):
        return np.abs(out.astype(int) - np.roll(out, 1, axis=2).astype(int))[edge].mean()

    assert border_jump(poisson) < border_jump(paste)


# ---------------------------------------------------------------------------------- realism score


def test_realism_score_originals_near_chance_and_crude_fills_obvious():
    images = textured(120, 32, seed=6)
    holes = ev.make_holes("center", 120, 32, seed=0)
    assert judges.realism_features(images).shape == (120, 18 + 3 * 16)
    same = judges.detectability(images, images)
    assert 0.38 <= same <= 0.62, same
    grey = np.where(holes[..., None], 128, images).astype(np.uint8)  # hole left empty (grey)
    black = np.where(holes[..., None], 0, images).astype(np.uint8)
    mean = np.stack([baselines.mean_fill(im, h) for im, h in zip(images, holes)])
    for name, fake in [("grey", grey), ("black", black), ("mean", mean)]:
        assert judges.detectability(images, fake) >= 0.95, name
    assert judges.detectability(images, mean, seed=1) == judges.detectability(images, mean, seed=1)  # deterministic
    assert math.isnan(judges.detectability(images[:8], images[:8]))  # too few for 5 folds


def test_cnn_judge_tells_a_flat_fill_and_not_originals_from_originals():
    images = textured(120, 32, seed=8)
    holes = ev.make_holes("center", 120, 32, seed=0)
    mean = np.stack([baselines.mean_fill(im, h) for im, h in zip(images, holes)])
    assert judges.cnn_detectability(images, mean, holes) >= 0.85
    # two disjoint halves of the same distribution, and the hole 'filled' with what was there
    halves = judges.cnn_detectability(images[:60], images[60:], holes[:60])
    assert 0.35 <= halves <= 0.65, halves
    same = judges.cnn_detectability(images[:60], images[:60], holes[:60], steps=10)
    assert same == 0.5  # the same pictures: one right, one wrong
    a, b = (judges.cnn_detectability(images[:60], mean[:60], holes[:60], seed=3, steps=40) for _ in range(2))
    assert a == b  # deterministic under a seed
    assert math.isnan(judges.cnn_detectability(images[:8], mean[:8], holes[:8]))  # too few for 5 folds


def test_cnn_judge_on_real_faces():
    model = SimpleNamespace(config=SimpleNamespace(resolution=64), domain=Domain())
    images, _ = ev.load_images(shared("celeba64") / "val", model, n=100, seed=0)
    holes = ev.make_holes("center", 100, 64, seed=0)
    mean = np.stack([baselines.mean_fill(im, h) for im, h in zip(images, holes)])
    assert judges.cnn_detectability(images, mean, holes) >= 0.95
    halves = judges.cnn_detectability(images[:50], images[50:], holes[:50])
    assert 0.35 <= halves <= 0.65, halves


def test_hole_box_covers_every_hole_with_a_margin():
    holes = np.zeros((2, 32, 32), bool)
    holes[0, 10:12, 4:6] = True
    holes[1, 20:22, 25:30] = True
    assert judges.hole_box(holes, (32, 32), margin=3) == (slice(7, 25), slice(1, 32))
    assert judges.hole_box(None, (32, 32), margin=3) == (slice(0, 32), slice(0, 32))


def test_judges_are_registered_by_name():
    images = textured(40, 32, seed=9)
    holes = ev.make_holes("center", 40, 32, seed=0)
    black = np.where(holes[..., None], 0, images).astype(np.uint8)
    assert set(judges.JUDGES) >= {"texture", "cnn"}
    assert judges.JUDGES["texture"](images, black, holes, seed=2) == judges.detectability(images, black, seed=2)
    with pytest.raises(ValueError):
        judges.register_judge("not a name", judges.texture_detectability)


def test_face_detector_finds_no_face_in_noise_or_flat_images():
    rng = np.random.default_rng(7)
    junk = np.concatenate(
        [rng.integers(0, 256, (10, 64, 64, 3), dtype=np.uint8), np.full((3, 64, 64, 3), 128, np.uint8), textured(5, 64)]
    )
    assert ev.faces_found(junk).mean() <= 0.1


def test_face_detector_on_real_faces_from_an_image_folder():
    folder = shared("celeba64") / "val"
    model = SimpleNamespace(config=SimpleNamespace(resolution=64), domain=Domain())
    images, names = ev.load_images(folder, model, n=40, seed=0)
    assert images.shape == (40, 64, 64, 3) and len(set(names)) == 40
    again, names2 = ev.load_images(folder, model, n=10, seed=0)
    assert names2 == names[:10] and np.array_equal(again, images[:10])  # the first n of one seeded order
    rate = ev.faces_found(images).mean()
    assert rate >= 0.8, rate
    holes = ev.make_holes("half", 40, 64, seed=0)
    assert ev.faces_found(np.where(holes[..., None], 128, images).astype(np.uint8)).mean() < rate - 0.2


# ---------------------------------------------------------------------------------- the loop


def test_evaluate_command_on_a_tiny_model(tmp_path, tiny_models, tiny_dataset, capsys):
    G, D = tiny_models
    ckpt = checkpoint.save(tmp_path / "tiny.safetensors", GANModel.from_nets(G=G, D=D))
    out = tmp_path / "eval"
    main(
        [
            "evaluate",
            str(ckpt),
            str(tiny_dataset),
            "--out",
            str(out),
            "-n",
            "12",
            "--masks",
            "center,pattern",
            "--num-steps",
            "5",
            "--batch-size",
            "5",
            "--figure-rows",
            "2",
            "--judges",
            "texture",
            "--quiet",
        ]
    )
    assert capsys.readouterr().out.startswith(f"results: {out / 'results.md'}")
    record = json.loads((out / "results.json").read_text())
    options = json.loads((out / "options.json").read_text())
    md = (out / "results.md").read_text()
    # no encoder: no random start; no context encoder beside it: no CNN methods
    methods, masks = [m for m in ev.method_names() if m != ev.RANDOM_START and m not in ev.NEEDS_CNN], ["center", "pattern"]
    assert options["num_images"] == 12 and options["complete"]["num_steps"] == 5 and options["masks"] == masks
    assert options["command"].startswith(f"ganfill evaluate {ckpt} {tiny_dataset} --out {out}")
    assert "--num-steps 5" in options["command"] and options["command"] in md
    assert {(r["method"], r["mask"]) for r in record["results"]} == {(m, k) for m in methods for k in masks}
    assert len(record["results"]) == len(methods) * len(masks)
    assert len(record["images"]) == len(methods) * len(masks) * 12
    assert "PSNR hole (dB)" in md and "PSNR full (dB)" in md and "detectable: texture (%)" in md
    assert "detectable: cnn" not in md and "--judges texture" in options["command"]
    assert record["reference"]["face_detector"] == "off"  # blobs are no faces: auto leaves it off
    assert set(record["reference"]["detectability_originals"]) == {"texture"}
    assert list(record["reference"]["detectability_originals"]["texture"]) == masks  # None: 6 against 6 is too few
    for r in record["results"]:
        per_image = [row for row in record["images"] if row["method"] == r["method"] and row["mask"] == r["mask"]]
        assert len(per_image) == 12
        for key in ev.METRICS:
            assert r[key] == pytest.approx(np.mean([row[key] for row in per_image]))
        assert r["psnr_hole"] < r["psnr_full"]  # the known pixels are exact, so the whole image scores higher
        assert r["face_rate"] is None and r["seconds_per_image"] > 0 and 0 <= r["detectability_texture"] <= 1
        assert r["base"] == r["method"] and r["peer"] == (r["mode"] in baselines.BASELINES)
        # the Markdown shows the JSON's numbers
        section = md.split(f"## Mask `{r['mask']}`")[1].split("##")[0]
        line = next(l for l in section.splitlines() if l.startswith(f"| {r['method']} |"))
        assert line.split(" | ")[1:4] == [f"{r['psnr_hole']:.2f}", f"{r['psnr_full']:.2f}", f"{r['ssim']:.3f}"]
    # figure: a caption row, then 2 images per mask; columns masked, each method, original
    fig = Image.open(out / "figure.png")
    s = 128
    assert fig.size == (80 + (len(methods) + 2) * (s + 4) + 4, 20 + 2 * (2 * (s + 4) + 4))
    assert Image.open(out / "tradeoff.png").size[0] > 0  # drawn (its content: the next test)
    # the README's perception-distortion figure is drawn from results.json by a script
    script = Path(__file__).resolve().parents[1] / "docs" / "make_tradeoff_figure.py"
    args = [sys.executable, str(script), str(out / "results.json"), "--out", str(tmp_path / "pd.png")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    points = json.loads((tmp_path / "pd.json").read_text())["points"]
    assert len(points) == len(record["results"]) and all(0 <= p["detectability_texture"] <= 1 for p in points)
    assert Image.open(tmp_path / "pd.png").size == Image.open(out / "tradeoff.png").size


def test_evaluate_has_a_column_per_judge_and_runs_modes_with_other_settings(tiny_model, tmp_path, monkeypatch):
    images = textured(12, 32, seed=8)
    cnn_file = tmp_path / "ce.safetensors"
    torch.manual_seed(2)
    ce = ContextEncoder(CEConfig(resolution=32, width=8, bottleneck=16, adv_width=8)).eval()
    checkpoint.save(cnn_file, ContextEncoderModel.from_nets(ce))
    methods = ["mean", "ganfill-faithful", "faithful@detail=0.5", "ganfill-faithful@detail=2"]
    monkeypatch.setitem(judges.JUDGES, "quick", functools.partial(judges.cnn_detectability, steps=5))  # a judge from outside
    result = ev.evaluate(
        tiny_model,
        images,
        masks=["center"],
        methods=methods,
        cnn=cnn_file,
        config=CompleteConfig(num_steps=2),
        batch_size=5,
        judges=["texture", "quick"],
    )
    by = {r["method"]: r for r in result.results}
    assert list(by) == methods
    assert {k for k in by["mean"] if k.startswith("detectability_")} == {"detectability_texture", "detectability_quick"}
    assert all(0 <= r["detectability_quick"] <= 1 for r in result.results)
    assert by["mean"]["peer"] and not by["ganfill-faithful"]["peer"]
    assert set(result.reference["detectability_originals"]) == {"texture", "quick"}
    assert [by[m]["settings"]["detail"] for m in methods[1:]] == [FAITHFUL_DETAIL, 0.5, 2.0]
    assert by["faithful@detail=0.5"]["base"] == "ganfill-faithful" and by["faithful@detail=0.5"]["mode"] == "faithful"
    # the same search, another detail gain: known pixels equal, the hole different; the default gain as given
    same = ev.evaluate(
        tiny_model,
        images,
        masks=["center"],
        methods=[f"ganfill-faithful@detail={FAITHFUL_DETAIL:g}"],
        cnn=cnn_file,
        config=CompleteConfig(num_steps=2),
        judges=["quick"],
    )
    base, low = result.completed["ganfill-faithful", "center"], result.completed["faithful@detail=0.5", "center"]
    hole = result.holes["center"]
    assert np.array_equal(base[~hole], low[~hole]) and not np.array_equal(base[hole], low[hole])
    assert np.array_equal(same.completed[f"ganfill-faithful@detail={FAITHFUL_DETAIL:g}", "center"], base)
    md = ev.markdown(result, bins=ev.area_bins(result.rows), title="t", notes=[])
    assert "detectable: texture (%)" in md and "detectable: quick (%)" in md
    fig = ev.tradeoff_figure(result.results)
    assert len(fig.axes) == 2  # one mask, two judges
    for bad, message in [
        ("faithful@sharpness=2", "the faithful mode has no setting 'sharpness': it takes detail"),
        ("telea@detail=1", "the telea mode has no setting 'detail': it takes none"),
        ("faithful@detail=x", "give a mode's setting as METHOD@name=number"),
        ("nope@detail=1", "unknown method 'nope'"),
    ]:
        with pytest.raises(GanfillError, match=re.escape(message)):
            ev.evaluate(tiny_model, images, masks=["center"], methods=[bad], cnn=cnn_file)
    with pytest.raises(GanfillError, match="unknown judge 'nope'"):
        ev.evaluate(tiny_model, images, masks=["center"], methods=["mean"], judges=["nope"])


def test_judge_seeds_report_the_mean_of_each_judges_runs(tiny_model, monkeypatch):
    images = textured(12, 32, seed=8)
    monkeypatch.setitem(judges.JUDGES, "quick", functools.partial(judges.cnn_detectability, steps=5))
    result = ev.evaluate(tiny_model, images, masks=["half"], methods=["mean"], judges=["texture", "quick"], judge_seeds=3, seed=4)
    (row,) = result.results
    completed, holes = result.completed["mean", "half"], result.holes["half"]
    for name in ("texture", "quick"):
        each = [judges.JUDGES[name](images, completed, holes, seed=s) for s in (4, 5, 6)]
        assert row["judge_runs"][name] == each
        assert row[f"detectability_{name}"] == pytest.approx(np.mean(each))
        assert row[f"detectability_{name}_se"] == pytest.approx(np.std(each, ddof=1) / np.sqrt(3))
    assert len(set(row["judge_runs"]["quick"])) > 1  # the seeds differ: the CNN judge's own noise
    single = ev.evaluate(tiny_model, images, masks=["half"], methods=["mean"], judges=["quick"], seed=4)
    assert single.results[0]["detectability_quick"] == row["judge_runs"]["quick"][0] and "judge_runs" not in single.results[0]
    assert "detectability_quick_se" not in single.results[0]
    # the report's tables give each judge's mean with its standard error over the seeds
    table = ev.markdown(result, bins=[], title="t", notes=[])
    cell = f"{100 * row['detectability_quick']:.1f} ± {100 * row['detectability_quick_se']:.1f}"
    assert cell in table and " ± " not in ev.markdown(single, bins=[], title="t", notes=[])
    # and its trade-off figure one row of panels per judge (not per standard error), with error bars
    fig = ev.tradeoff_figure(result.results)
    assert [ax.get_xlabel() for ax in fig.axes] == ["detectable, texture judge (%)", "detectable, quick judge (%)"]
    assert fig.axes[1].containers  # the CNN judge's seeds differ (above): its point has a bar
    with pytest.raises(GanfillError, match="--judge-seeds must be at least 1, got 0"):
        ev.evaluate(tiny_model, images, masks=["half"], methods=["mean"], judge_seeds=0)


def test_evaluate_reports_face_rates_and_honours_methods(tiny_model):
    images = textured(10, 32, seed=8)
    result = ev.evaluate(tiny_model, images, masks=["half"], methods=["telea", "mean"], face_detector=True)
    assert [r["method"] for r in result.results] == ["telea", "mean"]
    assert set(result.completed) == {("telea", "half"), ("mean", "half")}
    for r in result.results:
        assert r["face_rate"] is not None and r["face_rate"] <= 0.2  # no faces in blobs either way
    with pytest.raises(Exception, match="unknown method 'nope'"):
        ev.evaluate(tiny_model, images, methods=["nope"])
    with pytest.raises(Exception, match="uint8"):
        ev.evaluate(tiny_model, textured(2, 16), methods=["mean"])


@pytest.mark.parametrize(
    "args, message",
    [
        (["--masks", "center,nope"], "unknown mask 'nope'"),
        (["--blend", "paste"], "No such option '--blend'"),  # both blends are methods (ganfill, ganfill-paste)
        (["-n", "0"], "Invalid value for '-n' / '--num-images': 0 is not in the range 1<=x<=100000"),
    ],
)
def test_evaluate_command_errors_are_one_line(tmp_path, tiny_models, tiny_dataset, capsys, args, message):
    G, D = tiny_models
    ckpt = checkpoint.save(tmp_path / "tiny.safetensors", GANModel.from_nets(G=G, D=D))
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(ckpt), str(tiny_dataset), "--out", str(tmp_path / "o"), "--quiet", *args])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ganfill: error: ") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o" / "results.json").exists()
