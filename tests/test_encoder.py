"""The encoder of z (amortised inversion): training, storage with the model, the encoder start."""

import json
import shutil

import numpy as np
import pytest
import torch

from ganfill.core.errors import GanfillError
from ganfill.data.masks import TRAINING_MIX, training_masks
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import complete_images
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint
from ganfill.models.encoder import Encoder
from ganfill.training.config import EncoderConfig
from ganfill.training.encoder import train_encoder

from conftest import TINY, blob_images, train_tiny


def _cfg(**kw):
    return EncoderConfig(**({"steps": 6, "batch_size": 8, "checkpoint_every": 3, "precision": "fp32"} | kw))


def _log(run):
    return [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def gan(tiny_dataset, tmp_path_factory):
    """A tiny GAN run (40 iterations): the G an encoder is trained for."""
    run = tmp_path_factory.mktemp("gan") / "run"
    train_tiny(tiny_dataset, run, steps=40)
    return run


@pytest.fixture(scope="module")
def encoder_run(gan, tiny_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("enc") / "run"
    train_encoder(
        gan,
        tiny_dataset,
        run,
        config=_cfg(steps=60, checkpoint_every=30, lr=2e-3, batch_size=32, real_fraction=0.25),
        progress=False,
    )
    return run


def test_training_masks_mix_every_kind():
    m = training_masks(600, 32, generator=torch.Generator().manual_seed(0))
    assert m.shape == (600, 1, 32, 32) and set(torch.unique(m).tolist()) == {0.0, 1.0}
    missing = 1 - m.mean(dim=(1, 2, 3))
    assert (missing > 0).all() and (missing < 1).all()  # every mask has a hole and some context
    # the kinds show up as distinct hole fractions: 25% (center), 50% (halves), ~80% (random80)
    assert (missing == 0.25).any() and (missing == 0.5).any() and ((missing - 0.8).abs() < 0.01).any()
    again = training_masks(600, 32, generator=torch.Generator().manual_seed(0))
    assert torch.equal(m, again) and len(TRAINING_MIX) == 6


def test_encoder_shapes_and_support():
    torch.manual_seed(0)
    E = Encoder(TINY, clip=2.0)
    z = E(torch.randn(3, 3, 32, 32) * 50, torch.ones(3, 1, 32, 32))  # huge inputs: still inside (-clip, clip)
    assert z.shape == (3, 8) and z.abs().max() < 2.0
    masks = torch.ones(2, 1, 32, 32)
    masks[:, :, 8:24, 8:24] = 0
    x = torch.randn(2, 3, 32, 32)
    y = x.clone()
    y[:, :, 8:24, 8:24] = 7.0  # the hole's content never matters
    E.eval()
    assert torch.equal(E(x, masks), E(y, masks))


def test_encoder_training_lowers_its_loss_and_writes_a_model(encoder_run):
    rows = _log(encoder_run)
    assert [r["step"] for r in rows] == list(range(1, 61))
    first, last = np.mean([r["loss"] for r in rows[:10]]), np.mean([r["loss"] for r in rows[-10:]])
    assert last < 0.8 * first, (first, last)
    assert np.mean([r["latent"] for r in rows[-10:]]) < np.mean([r["latent"] for r in rows[:10]])
    loaded = checkpoint.load(encoder_run)  # the run folder is a complete model: G, D and E
    assert isinstance(loaded.E, Encoder) and not loaded.E.training
    assert sorted(p.name for p in (encoder_run / "samples").iterdir()) == [
        "step-00000000.png",
        "step-00000030.png",
        "step-00000060.png",
    ]


def test_encoder_resume_reproduces_the_uninterrupted_run(gan, tiny_dataset, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    train_encoder(gan, tiny_dataset, a, config=_cfg(), progress=False)
    train_encoder(gan, tiny_dataset, b, config=_cfg(), progress=False)
    shutil.rmtree(b / "checkpoints" / "step-00000006")  # killed after iteration 6, before its checkpoint
    train_encoder(None, None, b, resume=True, progress=False)
    assert _log(b) == _log(a)
    ea, eb = checkpoint.load(a).E.state_dict(), checkpoint.load(b).E.state_dict()
    assert all(torch.equal(ea[k], eb[k]) for k in ea)
    with pytest.raises(GanfillError, match="already holds a run"):
        train_encoder(gan, tiny_dataset, a, config=_cfg(), progress=False)


def test_encoder_init_starts_from_another_models_encoder(gan, encoder_run, tiny_dataset, tmp_path):
    old = checkpoint.load(encoder_run).E.state_dict()
    run = tmp_path / "tuned"
    train_encoder(gan, tiny_dataset, run, config=_cfg(steps=3), init=encoder_run, progress=False)
    first = checkpoint.load(run / "checkpoints" / "step-00000000").E.state_dict()
    assert all(torch.equal(first[k], old[k]) for k in old)  # not random: the given encoder
    assert json.loads((run / "options.json").read_text())["init"] == str(encoder_run)
    train_encoder(None, None, run, config=_cfg(steps=4), resume=True, progress=False)
    assert json.loads((run / "options.json").read_text())["init"] == str(encoder_run)  # kept on resume
    with pytest.raises(GanfillError, match="has no encoder"):
        train_encoder(gan, tiny_dataset, tmp_path / "none", config=_cfg(steps=1), init=gan, progress=False)
    assert not (tmp_path / "none").exists()


def test_encoder_start_is_exact_on_known_pixels_and_deterministic(encoder_run):
    model = checkpoint.load(encoder_run)
    prior = model.prior()
    assert prior.has_encoder
    images = blob_images(3, 32, seed=11)
    known = np.ones((3, 32, 32), bool)
    known[:, 8:24, 8:24] = False
    cfg = CompleteConfig(num_steps=4, restarts=2)
    a = complete_images(prior, images, known, config=cfg, seed=5)
    b = complete_images(prior, images, known, config=cfg, seed=5)
    assert a.result.init == "encoder"
    assert np.array_equal(a.completed["poisson"], b.completed["poisson"]) and torch.equal(a.result.z, b.result.z)
    assert np.array_equal(a.completed["poisson"][known], images[known])
    # 0 steps: the encoder's own guess, z = E(known pixels) for restart 0
    zero = complete(
        prior,
        torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1,
        torch.from_numpy(known).float()[:, None],
        config=CompleteConfig(num_steps=0),
    )
    assert zero.init == "encoder" and zero.steps_run == 0
    prior_start = complete_images(prior, images, known, config=CompleteConfig(num_steps=4, restarts=2, init="prior"), seed=5)
    assert prior_start.result.init == "prior" and not torch.equal(prior_start.result.z, a.result.z)


def test_a_model_without_encoder_still_completes(gan):
    prior = checkpoint.load(gan).prior()
    assert not prior.has_encoder
    images, known = blob_images(2, 32, seed=12), np.ones((2, 32, 32), bool)
    known[:, :, :16] = False
    done = complete_images(prior, images, known, config=CompleteConfig(num_steps=3), seed=0)
    assert done.result.init == "prior" and np.array_equal(done.completed["poisson"][known], images[known])
    with pytest.raises(GanfillError, match="no encoder"):
        complete_images(prior, images, known, config=CompleteConfig(num_steps=3, init="encoder"))


def test_export_ships_the_encoder_with_its_generator_record(encoder_run, gan, tmp_path):
    out = checkpoint.export(encoder_run, tmp_path / "tiny.safetensors")
    shipped = checkpoint.load(out)
    assert shipped.E is not None and next(shipped.E.parameters()).dtype == torch.float32
    d = checkpoint.describe(out)
    assert d.meta["step"] == 40  # G's own training, not the encoder's
    assert d.meta["encoder"]["step"] == 60 and d.meta["encoder"]["config"]["steps"] == 60
    ref, ours = checkpoint.load(encoder_run).E.state_dict(), shipped.E.state_dict()
    assert all(torch.allclose(ref[k], ours[k], atol=1e-2, rtol=1e-2) for k in ref if ref[k].is_floating_point())  # fp16 on disk


def test_defaults_follow_the_model(encoder_run, gan):
    """num_steps None: 10 steps from the encoder's z, 100 from a random z; init auto: the encoder when there is one."""
    from ganfill.inpainting.config import ENCODER_STEPS, PRIOR_STEPS, START_DEFAULTS

    with_e, without = (checkpoint.load(run).prior() for run in (encoder_run, gan))
    assert (CompleteConfig().resolved(with_e).init, CompleteConfig().resolved(with_e).num_steps) == ("encoder", ENCODER_STEPS)
    assert (CompleteConfig().resolved(without).init, CompleteConfig().resolved(without).num_steps) == ("prior", PRIOR_STEPS)
    assert CompleteConfig(init="prior").resolved(with_e).num_steps == PRIOR_STEPS
    assert CompleteConfig(num_steps=3).resolved(with_e).num_steps == 3
    # lr and restarts follow the start too (START_DEFAULTS); what is given is kept
    for prior, init in ((with_e, "encoder"), (without, "prior")):
        cfg = CompleteConfig().resolved(prior)
        assert {k: getattr(cfg, k) for k in START_DEFAULTS[init]} == START_DEFAULTS[init]
    assert START_DEFAULTS["prior"]["restarts"] > 1 and START_DEFAULTS["encoder"]["restarts"] == 1
    assert (CompleteConfig(lr=0.2, restarts=3).resolved(without).lr, CompleteConfig(restarts=3).resolved(without).restarts) == (
        0.2,
        3,
    )
    images, known = blob_images(1, 32, seed=13), np.ones((1, 32, 32), bool)
    known[:, 8:24, 8:24] = False
    done = complete_images(with_e, images, known)
    assert done.result.steps_run == ENCODER_STEPS and done.result.losses.shape == (ENCODER_STEPS + 1, 1)
    done = complete_images(without, images, known, config=CompleteConfig(num_steps=2))
    assert done.result.z.shape == (1, without.z_dim) and done.result.restart.tolist() in ([0], [1])
    # z_init alone says how many starts there are: (N, z_dim) is one, with the default restarts
    x, m = torch.zeros(1, 3, 32, 32), torch.from_numpy(known[:, None].astype(np.float32))
    one = complete(without, x, m, config=CompleteConfig(num_steps=2), z_init=torch.zeros(1, without.z_dim))
    assert one.restart.tolist() == [0]


def test_evaluate_compares_the_encoder_start_with_a_random_start(encoder_run, gan):
    from ganfill.evaluation import evaluate as ev

    images = blob_images(12, 32, seed=14)
    model = checkpoint.load(encoder_run)
    result = ev.evaluate(
        model,
        images,
        masks=["center"],
        methods=["ganfill", ev.RANDOM_START],
        face_detector=False,
        config=CompleteConfig(num_steps=3),
    )
    ours, random = result.completed["ganfill", "center"], result.completed[ev.RANDOM_START, "center"]
    assert not np.array_equal(ours, random)
    hole = result.holes["center"]
    assert np.array_equal(ours[~hole], images[~hole]) and np.array_equal(random[~hole], images[~hole])
    assert result.config.init == "encoder"
    with pytest.raises(GanfillError, match="without an encoder"):
        ev.evaluate(checkpoint.load(gan), images, masks=["center"], methods=[ev.RANDOM_START], face_detector=False)


def test_a_guide_is_what_the_encoder_start_sees_and_the_faithful_mode_guides_with_its_network(encoder_run):
    from ganfill.inpainting.blend import paste
    from ganfill.models.config import CEConfig
    from ganfill.models.context_encoder import ContextEncoder, ContextEncoderModel

    prior = checkpoint.load(encoder_run).prior()
    images = blob_images(3, 32, seed=12)
    known = np.ones((3, 32, 32), bool)
    known[:, 6:26, 4:20] = False
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1  # (3, 3, 32, 32)
    m = torch.from_numpy(known).float()[:, None]  # (3, 1, 32, 32)
    guide = torch.flip(x, dims=[3])  # another whole image: its pixels, not x's, decide the start
    zero = CompleteConfig(num_steps=0)
    plain = complete(prior, x, m, config=zero).z
    guided = complete(prior, x, m, config=zero, guide=guide).z
    seen_whole = prior.project(prior.encode(guide, torch.ones_like(m)), clip=zero.clip)  # the guide, every pixel known
    assert torch.allclose(guided, seen_whole, atol=1e-6) and not torch.allclose(guided, plain)
    # the loss still sees only x's known pixels: the searches from the two starts differ, both fit x
    steps = CompleteConfig(num_steps=3)
    assert not torch.equal(complete(prior, x, m, config=steps, guide=guide).z, complete(prior, x, m, config=steps).z)
    # a random start does not use it
    rnd = CompleteConfig(num_steps=2, init="prior", restarts=1)
    z0 = prior.sample_z(3, generator=torch.Generator().manual_seed(0))
    unguided = complete(prior, x, m, config=rnd, z_init=z0).z
    assert torch.equal(complete(prior, x, m, config=rnd, z_init=z0, guide=guide).z, unguided)
    for bad, says in ((guide[:2], "the images' shape"), (guide * 3, "in \\[-1, 1\\]"), (guide * float("nan"), "finite")):
        with pytest.raises(GanfillError, match=says):
            complete(prior, x, m, config=zero, guide=bad)
    # the faithful mode's start is the encoder's guess for the image with its network's mean in the hole
    torch.manual_seed(4)
    cnn = ContextEncoderModel.from_nets(ContextEncoder(CEConfig(resolution=32, width=8, bottleneck=16, adv_width=8)).eval())
    cnn = cnn.predictor()
    faithful = complete_images(prior, images, known, cnn=cnn, config=zero)
    expected = complete(prior, x, m, config=zero, guide=paste(cnn.mirror_mean(x, m).cpu(), x, m)).z
    assert torch.allclose(faithful.result.z, expected, atol=1e-6) and not torch.allclose(faithful.result.z, plain)
