import json
import math
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.core.errors import GanfillError
from ganfill.models import files as checkpoint
from ganfill.models.config import ModelConfig
from ganfill.training.config import TrainConfig
from ganfill.training.gan import d_loss, g_loss, train
from ganfill.training.loop import Batches

from conftest import TINY, TINY_TRAIN_ARGS


def _cfg(**kw):
    return TrainConfig(**({"steps": 6, "batch_size": 8, "checkpoint_every": 2, "n_samples": 4, "precision": "fp32"} | kw))


def _log(run, timing=False):
    rows = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    return rows if timing else [{k: v for k, v in r.items() if k != "seconds"} for r in rows]


def test_losses_are_the_gan_objective():
    real, fake = torch.tensor([2.0, -1.0]), torch.tensor([-3.0, 0.5])
    expected_d = -(torch.log(torch.sigmoid(real)) + torch.log(1 - torch.sigmoid(fake))).mean()
    torch.testing.assert_close(d_loss(real, fake), expected_d)
    torch.testing.assert_close(g_loss(fake), -torch.log(torch.sigmoid(fake)).mean())
    assert torch.isfinite(d_loss(torch.tensor([100.0]), torch.tensor([-100.0])))


def test_a_few_iterations_give_finite_changing_losses_and_a_run_folder(tmp_path, tiny_dataset):
    run = tmp_path / "run"
    last = train(tiny_dataset, run, model=TINY, config=_cfg(), progress=False)
    rows = _log(run)
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    losses = np.array([[r["loss_d"], r["loss_g"]] for r in rows])
    assert np.isfinite(losses).all() and len(np.unique(losses[:, 0])) == 6 and len(np.unique(losses[:, 1])) == 6
    assert last == run / "checkpoints" / "step-00000006"
    # checkpoints at 0, 2, 4, 6; the newest 3 are kept, every sample grid is kept
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-00000002", "step-00000004", "step-00000006"]
    grids = sorted((run / "samples").iterdir())
    assert [g.name for g in grids] == [f"step-0000000{i}.png" for i in (0, 2, 4, 6)]
    first, final = (np.asarray(Image.open(g)) for g in (grids[0], grids[-1]))
    assert first.shape == final.shape and not np.array_equal(first, final)  # progress is visible
    assert Image.open(run / "loss.png").size[0] > 100
    opts = json.loads((run / "options.json").read_text())
    assert opts["model"] == TINY.to_dict() and opts["train"]["g_steps"] == 2 and opts["dataset"]["count"] == 48
    info = json.loads((last / "config.json").read_text())
    assert info["step"] == 6 and info["model"] == TINY.to_dict()
    loaded = checkpoint.load(run)  # a run folder resolves to its latest checkpoint
    assert loaded.path.parent == last


def test_resume_reproduces_the_uninterrupted_run(tmp_path, tiny_dataset):
    a, b = tmp_path / "a", tmp_path / "b"
    train(tiny_dataset, a, model=TINY, config=_cfg(), progress=False)
    train(tiny_dataset, b, model=TINY, config=_cfg(), progress=False)
    # kill b "after iteration 6 but before its checkpoint": its log runs ahead of step-4
    shutil.rmtree(b / "checkpoints" / "step-00000006")
    assert len(_log(b)) == 6
    train(None, b, resume=True, progress=False)
    assert _log(b) == _log(a)
    wa = checkpoint.load(a, raw=True)
    wb = checkpoint.load(b, raw=True)
    for ma, mb in ((wa.G, wb.G), (wa.D, wb.D)):
        sa, sb = ma.state_dict(), mb.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    ea, eb = checkpoint.load(a).G.state_dict(), checkpoint.load(b).G.state_dict()
    assert all(torch.equal(ea[k], eb[k]) for k in ea)


def test_resume_can_extend_a_finished_run(tmp_path, tiny_dataset):
    run = tmp_path / "run"
    train(tiny_dataset, run, model=TINY, config=_cfg(steps=2), progress=False)
    train(None, run, config=_cfg(steps=4), resume=True, progress=False)
    assert [r["step"] for r in _log(run)] == [1, 2, 3, 4]


def test_epochs_cover_every_image_once_and_ranks_are_disjoint():
    seen = [Batches(20, batch_size=3, seed=1, rank=r, world=2) for r in (0, 1)]
    idx = [torch.cat([s.indices(b) for b in range(3)]) for s in seen]  # 3 batches x 3 x 2 ranks = 18 of 20
    both = torch.cat(idx)
    assert len(set(both.tolist())) == 18 and not set(idx[0].tolist()) & set(idx[1].tolist())
    assert not torch.equal(seen[0].indices(3), seen[0].indices(0))  # a new epoch, a new order


def test_errors(tmp_path, tiny_dataset):
    run = tmp_path / "run"
    train(tiny_dataset, run, model=TINY, config=_cfg(steps=1), progress=False)
    with pytest.raises(GanfillError, match="--resume"):
        train(tiny_dataset, run, model=TINY, config=_cfg(steps=1), progress=False)
    with pytest.raises(GanfillError, match="not a ganfill run folder"):
        train(None, tmp_path / "empty", resume=True, progress=False)
    with pytest.raises(GanfillError, match="fewer than one batch"):
        train(tiny_dataset, tmp_path / "big", model=TINY, config=_cfg(batch_size=64), progress=False)
    with pytest.raises(GanfillError, match="--resolution 32"):
        train(
            tiny_dataset, tmp_path / "res", model=ModelConfig(resolution=64, g_width=4, d_width=4), config=_cfg(), progress=False
        )
    with pytest.raises(GanfillError, match="precision"):
        TrainConfig(precision="fp8")


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ganfill", *map(str, args)], capture_output=True, text=True, **kw)


@pytest.mark.parametrize(
    "args, words",
    [
        (["train", "{missing}", "--out", "{run}"], "does not exist"),
        (["train", "{data}", "--out", "{run}", "--arch", "stylegan"], "stylegan"),
        (["train", "{data}", "--out", "{run}", "--resolution", "48"], "'48' is not one of '32', '64', '128'"),
        (
            ["train", "{data}", "--out", "{run}", "--steps", "0"],
            "Invalid value for '--steps': 0 is not in the range 1<=x<=10000000",
        ),
        (["sample", "{missing}", "--out", "{run}/grid.png"], "does not exist"),
    ],
)
def test_cli_bad_input_is_one_line_and_writes_nothing(tmp_path, tiny_dataset, args, words):
    fill = {"missing": tmp_path / "missing", "run": tmp_path / "run", "data": tiny_dataset}
    proc = _cli(*[a.format(**fill) for a in args])
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("ganfill: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert words in proc.stderr
    assert not (tmp_path / "run").exists()


def test_cli_train_then_sample(tmp_path, tiny_dataset):
    run = tmp_path / "run"
    proc = _cli("train", tiny_dataset, "--out", run, *TINY_TRAIN_ARGS, "--steps", 2, "--checkpoint-every", 1)
    assert proc.returncode == 0, proc.stderr
    proc = _cli("sample", run, "-n", 6, "--out", tmp_path / "grid.png")
    assert proc.returncode == 0, proc.stderr
    img = np.asarray(Image.open(tmp_path / "grid.png"))
    assert img.shape == (2 + 2 * 34, 2 + 3 * 34, 3)  # 6 samples of 32x32 in a 3x2 grid
    proc = _cli("train", "--out", run, "--resume", "--steps", 3, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert [r["step"] for r in _log(run)] == [1, 2, 3]


def test_torchrun_two_process_gloo_smoke(tmp_path, tiny_dataset):
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    ddp = ["-m", "torch.distributed.run", "--nproc_per_node", 2, "--master_port", 29517]
    args = [*ddp, "-m", "ganfill", "train", tiny_dataset, "--out", run, *TINY_TRAIN_ARGS, "--steps", 3, "--checkpoint-every", 3]
    proc = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads((run / "options.json").read_text())["world_size"] == 2
    rows = _log(run)
    assert [r["step"] for r in rows] == [1, 2, 3] and all(math.isfinite(r["loss_d"]) for r in rows)
    assert (run / "checkpoints" / "step-00000003" / "model.safetensors").is_file()


def test_diff_augment_is_random_per_image_differentiable_and_seeded():
    from ganfill.training.augment import diff_augment
    from ganfill.training.config import augment_policy

    x = torch.rand(6, 3, 16, 16) * 2 - 1
    g = lambda: torch.Generator().manual_seed(3)  # noqa: E731
    # translation: each image is its own shifted copy (up to 2 pixels here), zeros coming in
    t = diff_augment(x, ("translation",), g())
    for i in range(6):
        found = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(t[i], torch.roll(x[i], (-dy, -dx), (1, 2)) * _inside(16, dy, dx))
        ]
        assert found, i
    # cutout: a quarter of the pixels zeroed when the square lies inside, never more
    c = diff_augment(x, ("cutout",), g())
    zeroed = (c == 0).all(dim=1).float().mean(dim=(1, 2))
    assert (zeroed <= 0.25 + 1e-6).all() and (zeroed > 0.05).all()
    # colour: per-image affine changes, different per image
    col = diff_augment(x, ("color",), g())
    assert not torch.allclose(col, x) and len({round(float((col[i] - x[i]).mean()), 4) for i in range(6)}) > 1
    # the same generator state gives the same augmentation; gradients reach the input
    xa = x.clone().requires_grad_(True)
    out = diff_augment(xa, augment_policy("color,translation,cutout"), g())
    assert torch.equal(out, diff_augment(x, ("color", "translation", "cutout"), g()))
    out.square().sum().backward()
    assert xa.grad is not None and xa.grad.abs().sum() > 0
    with pytest.raises(GanfillError, match="unknown augmentation 'flip'"):
        TrainConfig(augment="color,flip")


def _inside(size, dy, dx):
    """(1, H, W) 1 where a pixel shifted by (dy, dx) still comes from inside the image."""
    rows, cols = torch.arange(size), torch.arange(size)
    ok_y = ((rows + dy) >= 0) & ((rows + dy) < size)
    ok_x = ((cols + dx) >= 0) & ((cols + dx) < size)
    return (ok_y[:, None] & ok_x[None, :]).float()[None]


def test_training_with_diffaugment_resumes_exactly(tmp_path, tiny_dataset):
    a, b = tmp_path / "a", tmp_path / "b"
    cfg = _cfg(augment="color,translation,cutout")
    train(tiny_dataset, a, model=TINY, config=cfg, progress=False)
    train(tiny_dataset, b, model=TINY, config=cfg, progress=False)
    shutil.rmtree(b / "checkpoints" / "step-00000006")
    train(None, b, resume=True, progress=False)
    assert _log(b) == _log(a)
    plain = tmp_path / "plain"
    train(tiny_dataset, plain, model=TINY, config=_cfg(), progress=False)
    assert _log(plain) != _log(a)  # the augmentation changes what D sees
    assert json.loads((a / "options.json").read_text())["train"]["augment"] == "color,translation,cutout"


def test_init_continues_a_model_file_from_the_iteration_it_records(tmp_path, tiny_dataset):
    from ganfill.training.loop import init_config

    a = tmp_path / "a"
    train(tiny_dataset, a, model=TINY, config=_cfg(steps=4), progress=False)
    file = checkpoint.export(a, tmp_path / "a.safetensors", dtype=torch.float32)  # the run folder may now go
    shipped = checkpoint.load(file)
    config = init_config(TrainConfig, file, {"steps": 6})
    assert (config.batch_size, config.n_samples, config.steps) == (8, 4, 6)  # the file's options, then the given ones
    b = tmp_path / "b"
    train(tiny_dataset, b, config=config, init=file, progress=False)
    rows = _log(b)
    assert [r["step"] for r in rows] == [5, 6] and [r["images"] for r in rows] == [40, 48]  # 8 images per iteration
    opts = json.loads((b / "options.json").read_text())
    assert opts["init"] == {"model": str(file), "step": 4} and opts["model"] == TINY.to_dict()
    first = checkpoint.load(b / "checkpoints" / "step-00000004")  # where it started: the file's weights
    raw = checkpoint.load(b / "checkpoints" / "step-00000004", raw=True)
    for start, kept in ((first.G, shipped.G), (raw.G, shipped.G), (first.D, shipped.D)):
        s, k = start.state_dict(), kept.state_dict()
        assert all(torch.equal(s[n], k[n]) for n in k)
    last = checkpoint.load(b)
    trained, kept = last.G.state_dict(), shipped.G.state_dict()
    assert any(not torch.equal(trained[n], kept[n]) for n in kept)  # and trained on from there
    assert checkpoint.generator_record(last)["step"] == 6
    train(None, b, config=_cfg(steps=8), resume=True, progress=False)  # an --init run resumes like any other
    assert [r["step"] for r in _log(b)] == [5, 6, 7, 8]
    assert json.loads((b / "options.json").read_text())["init"]["step"] == 4
    with pytest.raises(GanfillError, match="already trained for 4 iterations"):
        train(tiny_dataset, tmp_path / "c", config=init_config(TrainConfig, file, {"steps": 4}), init=file, progress=False)
    with pytest.raises(GanfillError, match="give one of them"):
        train(tiny_dataset, b, config=config, init=file, resume=True, progress=False)
    assert not (tmp_path / "c").exists()
    proc = _cli("train", tiny_dataset, "--out", tmp_path / "d", "--init", file, "--steps", 5, "--quiet")
    assert proc.returncode == 0, proc.stderr
    assert [r["step"] for r in _log(tmp_path / "d")] == [5]


@pytest.mark.parametrize("loop", ["gan", "context-encoder"])
def test_a_run_folder_in_use_is_refused_and_left_alone(tmp_path, tiny_dataset, loop):
    from ganfill.core.files import FolderLock
    from ganfill.training.config import CETrainConfig
    from ganfill.training.context_encoder import train_context_encoder

    run = tmp_path / "run"
    with FolderLock(run):  # another process training this run
        with pytest.raises(GanfillError, match="in use by another ganfill process"):
            if loop == "gan":
                train(tiny_dataset, run, model=TINY, config=_cfg(steps=2), progress=False)
            else:
                train_context_encoder(
                    tiny_dataset, run, config=CETrainConfig(steps=2, batch_size=8, precision="fp32"), progress=False
                )
        assert [p.name for p in run.iterdir()] == [".ganfill.lock"]  # nothing written beside the holder's lock
    assert not run.exists()
