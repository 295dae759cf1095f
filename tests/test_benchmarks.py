"""The plain PyTorch reference of benchmarks/ must run the very model ganfill runs."""

import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from ganfill.data.masks import center  # noqa: E402
from ganfill.inpainting.config import PAPER_SCHEDULE, CompleteConfig  # noqa: E402
from ganfill.inpainting.search import complete, importance_weights  # noqa: E402
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import build  # noqa: E402
from ganfill.models.prior import DCGANPrior  # noqa: E402

import reference  # noqa: E402


def _pair():
    torch.manual_seed(0)
    G, D = build(ModelConfig(resolution=64, g_width=8, d_width=8, z_dim=16))
    G.train(), D.train()
    with torch.no_grad():  # calibrate batch norm statistics
        D(G(torch.randn(64, 16)))
    return G.eval(), D.eval()


def test_reference_networks_hold_ganfill_weights():
    G, D = _pair()
    netG, netD = reference.from_ganfill(G, D)
    netG.eval(), netD.eval()
    z = torch.randn(4, 16)
    with torch.no_grad():
        torch.testing.assert_close(netG(z.view(4, 16, 1, 1)), G(z))
        torch.testing.assert_close(netD(G(z)), torch.sigmoid(D(G(z))))
    assert torch.equal(reference.importance_weights(center(1, 64)), importance_weights(center(1, 64)))


def test_reference_search_matches_ganfill_paper_schedule():
    """Same z, same loss, same Adam: the reference's G(z^) equals ganfill's at the paper's settings."""
    G, D = _pair()
    netG, netD = reference.from_ganfill(G, D)
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    m = center(3, 64)
    z = torch.randn(3, 16, generator=torch.Generator().manual_seed(2)).clamp(-3, 3)
    ours = complete(DCGANPrior(G, D), x, m, config=replace(PAPER_SCHEDULE, num_steps=20), z_init=z)
    ref = reference.inpaint(netG, netD, x, m, z, steps=20)
    torch.testing.assert_close(ref, ours.fake, atol=2e-3, rtol=0)


def test_quality_vs_training_scores_every_checkpoint_once(tiny_dataset, tiny_config, tmp_path):
    """benchmarks/quality_vs_training.py: one point per checkpoint, images seen from the run's
    batch size, and a rerun reuses the points it has (a run trained on adds only new ones)."""
    import json
    import subprocess

    from ganfill.training.config import TrainConfig
    from ganfill.training.gan import train

    run = tmp_path / "run"
    train(
        tiny_dataset,
        run,
        model=tiny_config,
        config=TrainConfig(steps=4, batch_size=8, checkpoint_every=2, n_samples=4),
        progress=False,
    )
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "quality_vs_training.py"
    out = tmp_path / "qvt"
    args = [sys.executable, str(script), str(run), str(tiny_dataset), "--out", str(out), "-n", "12"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    points = json.loads((out / "results.json").read_text())["points"]
    assert [p["step"] for p in points] == [0, 2, 4] and [p["images_seen"] for p in points] == [0, 16, 32]
    assert all(0 < p["psnr_hole"] < 100 and 0 <= p["detectability"] <= 1 for p in points)
    assert all(p["telea"]["psnr_hole"] == points[0]["telea"]["psnr_hole"] for p in points)  # the same holes
    assert (out / "quality-vs-training.png").stat().st_size > 0
    again = subprocess.run(args, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "step" not in again.stdout.split("\n", 1)[1]  # nothing re-scored
    assert json.loads((out / "results.json").read_text())["points"] == points
    wrong = subprocess.run(args[:-1] + ["10"], capture_output=True, text=True, timeout=600)
    assert wrong.returncode != 0 and "use another --out" in wrong.stderr
    # --compare: another run's results.json drawn beside, only if scored the same way
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"n": 12, "mask": "center", "points": points[1:]}))
    beside = subprocess.run(
        args + ["--compare", f"other={other}", "--figure", str(tmp_path / "both.png")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert beside.returncode == 0, beside.stderr
    assert (tmp_path / "both.png").stat().st_size > (out / "quality-vs-training.png").stat().st_size  # a second line
    other.write_text(json.dumps({"n": 100, "mask": "center", "points": points}))
    unlike = subprocess.run(args + ["--compare", f"other={other}"], capture_output=True, text=True, timeout=600)
    assert unlike.returncode != 0 and "compare like with like" in unlike.stderr
    missing = subprocess.run(args + ["--compare", str(other)], capture_output=True, text=True, timeout=600)
    assert missing.returncode != 0 and "LABEL=PATH" in missing.stderr
    # --model: an exported model of the run (kept between sessions) is a point at its recorded step
    from ganfill.models import files as checkpoint

    kept = checkpoint.export(run / "checkpoints" / "step-00000002", tmp_path / "kept.safetensors", dtype=torch.float32)
    (tmp_path / "gone" / "checkpoints").mkdir(parents=True)  # the run folder did not survive
    only = [sys.executable, str(script), str(tmp_path / "gone"), str(tiny_dataset), "--out", str(tmp_path / "q2"), "-n", "12"]
    done = subprocess.run(only + ["--model", str(kept)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    (point,) = json.loads((tmp_path / "q2" / "results.json").read_text())["points"]
    assert (point["step"], point["images_seen"]) == (2, 16) and point["psnr_hole"] == points[1]["psnr_hole"]


def test_search_schedule_scores_settings_on_the_same_images_and_z(tiny_dataset, tiny_config, tmp_path):
    """benchmarks/search_schedule.py: one line per setting, the same setting scores the same (same
    images, holes and z), what the setting asks for is what runs; ``paper`` is PAPER_SCHEDULE."""
    import subprocess

    import search_schedule
    from ganfill.training.config import TrainConfig
    from ganfill.training.gan import train

    assert search_schedule.parse("paper") == replace(PAPER_SCHEDULE, init="prior")
    assert search_schedule.parse("num_steps=7,lr=0.2") == CompleteConfig(init="prior", num_steps=7, lr=0.2)
    with pytest.raises(SystemExit, match="not key=value"):
        search_schedule.parse("steps=7")
    run = tmp_path / "run"
    train(tiny_dataset, run, model=tiny_config, config=TrainConfig(steps=2, batch_size=8, n_samples=4), progress=False)
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "search_schedule.py"
    settings = ["num_steps=3,restarts=1", "num_steps=3,restarts=2", "num_steps=3,restarts=1"]
    done = subprocess.run(
        [sys.executable, str(script), str(tiny_dataset), str(run), *settings, "--first", "12", "--count", "20"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[0].startswith("CPU: ") and "20 images, mask center" in lines[1]
    rows = [line.split(" | ") for line in lines[3:]]
    assert [r[0] for r in rows] == [f"{s} (3 steps, lr 0.1, cosine, {k} restart(s))" for s, k in zip(settings, (1, 2, 1))]
    assert rows[0][1:3] == rows[2][1:3] and 0 < float(rows[0][1]) < 100  # deterministic: same PSNR and realism


def test_cnn_judge_benchmark_scores_each_method_over_seeds(tiny_dataset, tmp_path):
    """benchmarks/cnn_judge.py: one row per method and the originals, the judge's keyword
    arguments as key=value, the seeds' spread, the texture judge beside it, a JSON record."""
    import json
    import subprocess

    from ganfill.models import files as checkpoint

    from conftest import tiny_gan

    model = checkpoint.save(tmp_path / "tiny.safetensors", tiny_gan())
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "cnn_judge.py"
    out = tmp_path / "judge.json"
    args = [str(tiny_dataset), "--model", str(model), "--methods", "mean,telea", "--first", "8", "--count", "24"]
    done = subprocess.run(
        [sys.executable, str(script), *args, "--seeds", "2", "--out", str(out), "steps=20"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    record = json.loads(out.read_text())
    assert record["settings"] == {"steps": 20}
    rows = {r["method"]: r for r in record["rows"]}
    assert list(rows) == ["originals (one half against the other)", "mean", "telea"]
    assert rows["mean"]["images"] == 24 and rows["originals (one half against the other)"]["images"] == 12
    for r in rows.values():
        assert len(r["cnn"]) == 2 and r["cnn_mean"] == pytest.approx(sum(r["cnn"]) / 2) and 0 <= r["texture"] <= 1


def test_reference_adaptation_fits_the_known_pixels_and_leaves_g_alone():
    """The closest mode's prototype (reference.adapt): a copy of G per image, G itself unchanged."""
    G, D = _pair()
    netG, netD = reference.from_ganfill(G, D)
    before = {k: v.clone() for k, v in netG.state_dict().items()}
    z = torch.randn(2, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = G(torch.randn(2, 16, generator=torch.Generator().manual_seed(2)))  # targets G can nearly reach
    mask = center(2, 64)
    errors = []

    def record(i, step, fake):
        errors.append(float(((fake - y[i]) ** 2 * mask[i]).sum()))

    reference.adapt(netG, netD, y, mask, z, steps=20, callback=record)
    assert errors[19] < errors[0] and errors[39] < errors[20]  # each image's known-pixel error falls
    assert all(torch.equal(v, before[k]) for k, v in netG.state_dict().items())


def test_photo_benchmark_holes_lie_on_the_faces_own_pixels():
    """The photo holds only the face's 128x128 crop; around it a made-up background no method can
    be scored against.  Every kind of hole stays on the crop, mapped into the photo with the face."""
    import numpy as np

    import photos

    rng = np.random.default_rng(3)
    face = np.full((128, 128, 3), 200, np.uint8)
    for kind in photos.HOLES * 4:
        photo, m = photos.make_photo(face, rng)
        hole = photos.make_hole(kind, m, photo.shape[:2], rng)
        crop_to_photo = m.copy()
        crop_to_photo[:, 2] += m[:, :2] @ photos.CROP_ORIGIN
        on_face = photos.cv2.warpAffine(np.ones((128, 128), np.uint8), crop_to_photo, photo.shape[1::-1]) > 0
        assert hole.sum() > 200, kind
        assert not (hole & ~on_face).any(), kind


def test_fidelity_headroom_bands_add_up_and_the_mix_finds_what_the_sample_knows():
    """benchmarks/fidelity_headroom.py: the bands sum to the image; a sample that is the truth is
    all weight (w 1, no error left), one independent of it buys next to nothing (w ~ 0)."""
    import fidelity_headroom as fh

    gen = torch.Generator().manual_seed(0)
    mean, residual, noise = (torch.rand(6, 3, 32, 32, generator=gen) - 0.5 for _ in range(3))
    truth = mean + residual  # the mean is the truth's conditional mean: nothing independent of both helps
    torch.testing.assert_close(sum(fh.bands(truth)), truth)
    hole = torch.zeros(6, 1, 32, 32, dtype=torch.bool)
    hole[..., 8:24, 8:24] = True
    exact = fh.headroom(truth, mean, truth, hole)
    assert all(b["w"] == pytest.approx(1, abs=1e-6) and b["mse_best_mix"] < 1e-10 for b in exact["bands"])
    assert exact["db_gain"] > 50
    blind = fh.headroom(truth, mean, noise, hole)
    assert abs(blind["bands"][0]["w"]) < 0.1 and 0 <= blind["db_gain"] < 0.5  # (the coarse bands hold few samples)
    assert blind["mse_mean"] == pytest.approx(float(((truth - mean) ** 2)[hole.expand_as(truth)].mean()), rel=1e-4)
