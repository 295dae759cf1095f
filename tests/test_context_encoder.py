"""The context encoder (the CNN of the paper's comparison), the plain GAN preset and the
completion modes built on them: sharp, faithful, fast."""

import json
import shutil

import numpy as np
import pytest
import torch

from ganfill.apps.cli import main
from ganfill.core.errors import GanfillError
from ganfill.core.images import to_tensor, to_uint8
from ganfill.evaluation import evaluate as ev
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import complete_images, load_inpainter, predict_images
from ganfill.inpainting.search import faithful_fill
from ganfill.models import cards
from ganfill.models import files as checkpoint
from ganfill.models.config import CEConfig, ModelConfig
from ganfill.models.context_encoder import ContextEncoder
from ganfill.models.dcgan import GANModel, build
from ganfill.training.config import CETrainConfig
from ganfill.training.context_encoder import train_context_encoder

from conftest import TINY, train_tiny

TINY_CE = CEConfig(resolution=32, width=8, bottleneck=16, adv_width=8)


def _cfg(**kw):
    return CETrainConfig(**({"steps": 6, "batch_size": 8, "checkpoint_every": 3, "precision": "fp32"} | kw))


def _log(run):
    return [{k: v for k, v in json.loads(l).items() if k != "seconds"} for l in (run / "log.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def ce_run(tiny_dataset, tmp_path_factory):
    run = tmp_path_factory.mktemp("ce") / "run"
    train_context_encoder(
        tiny_dataset, run, model=TINY_CE, config=_cfg(steps=80, checkpoint_every=40, lr=2e-3, batch_size=16), progress=False
    )
    return run


@pytest.fixture(scope="module")
def pair(tmp_path_factory, ce_run):
    """A tiny GAN model file with its context encoder beside it (NAME.safetensors + NAME-ce.safetensors)."""
    folder = tmp_path_factory.mktemp("pair")
    torch.manual_seed(0)
    G, D = build(TINY)
    gan = checkpoint.save(folder / "tiny.safetensors", GANModel.from_nets(G=G.eval(), D=D.eval()))
    checkpoint.export(ce_run, folder / "tiny-ce.safetensors", dtype=torch.float32)
    return gan, folder / "tiny-ce.safetensors"


def _batch(n=4, r=32, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, r, r, 3), dtype=np.uint8)
    known = np.ones((n, r, r), dtype=bool)
    known[:, 8:24, 8:24] = False
    return images, known


def test_context_encoder_shapes_and_hole_content_ignored():
    torch.manual_seed(0)
    ce = ContextEncoder(TINY_CE).eval()
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    m = torch.ones(3, 1, 32, 32)
    m[:, :, 8:24, 8:24] = 0
    out = ce(x, m)
    assert out.shape == (3, 3, 32, 32) and out.abs().max() <= 1
    other = torch.where(m > 0.5, x, torch.randn_like(x))  # different hole content: the same prediction
    assert torch.equal(out, ce(other, m))
    with pytest.raises(GanfillError, match="resolution"):
        CEConfig(resolution=48)


def test_training_lowers_the_hole_loss_and_resumes_exactly(ce_run, tiny_dataset, tmp_path):
    rows = _log(ce_run)
    first, last = np.mean([r["rec"] for r in rows[:10]]), np.mean([r["rec"] for r in rows[-10:]])
    assert last < 0.85 * first, (first, last)
    assert (ce_run / "samples" / "step-00000080.png").is_file() and (ce_run / "loss.png").is_file()
    # an interrupted run resumed gives the same losses as an uninterrupted one
    a, b = tmp_path / "a", tmp_path / "b"
    train_context_encoder(tiny_dataset, a, model=TINY_CE, config=_cfg(steps=6), progress=False)
    train_context_encoder(tiny_dataset, b, model=TINY_CE, config=_cfg(steps=3), progress=False)
    train_context_encoder(None, b, config=_cfg(steps=6), resume=True, progress=False)
    assert _log(a) == _log(b)
    with pytest.raises(GanfillError, match="already holds a run"):
        train_context_encoder(tiny_dataset, a, model=TINY_CE, config=_cfg(), progress=False)
    # the network used is the moving average; the trained one is kept beside it for resuming
    from safetensors.torch import load_file

    tensors = load_file(str(checkpoint.find_checkpoint(ce_run)))
    used, trained = tensors["CE.decoder.0.weight"], tensors["CE_train.decoder.0.weight"]
    assert not torch.equal(used, trained)
    assert torch.equal(checkpoint.load(ce_run, kind="context-encoder").CE.state_dict()["decoder.0.weight"], used)


def test_init_continues_a_context_encoder_file_from_the_iteration_it_records(ce_run, tiny_dataset, tmp_path):
    from ganfill.training.loop import init_config

    file = checkpoint.export(ce_run, tmp_path / "ce.safetensors", dtype=torch.float32)
    run = tmp_path / "more"
    train_context_encoder(tiny_dataset, run, config=init_config(CETrainConfig, file, {"steps": 84}), init=file, progress=False)
    rows = _log(run)
    assert [r["step"] for r in rows] == [81, 82, 83, 84]  # the iteration count carries on
    opts = json.loads((run / "options.json").read_text())
    assert opts["init"] == {"model": str(file), "step": 80} and opts["model"] == TINY_CE.to_dict()
    # it started from the file's weights: its first checkpoint is the file itself
    start = checkpoint.load(run / "checkpoints" / "step-00000080", kind="context-encoder").CE.state_dict()
    assert all(torch.equal(v, checkpoint.load(file).CE.state_dict()[k]) for k, v in start.items())
    with pytest.raises(GanfillError, match="already trained for 80"):
        train_context_encoder(tiny_dataset, tmp_path / "x", config=_cfg(steps=80), init=file, progress=False)
    assert main(
        ["train-ce", str(tiny_dataset), "--out", str(tmp_path / "cli"), "--init", str(file), "--steps", "81", "--quiet"]
    ) in (0, None)


def test_trained_context_encoder_keeps_known_pixels_exact(ce_run):
    ce = checkpoint.load(ce_run, kind="context-encoder")
    images, known = _batch()
    for blend in ("poisson", "paste"):
        done = predict_images(ce.predictor(), images, known, blends=(blend,))
        out = done.completed[blend]
        assert np.array_equal(out[known], images[known]) and done.result is None
        assert not np.array_equal(out[~known], images[~known])
    again = predict_images(ce.predictor(), images, known)
    assert np.array_equal(again.completed["poisson"], predict_images(ce.predictor(), images, known).completed["poisson"])


def test_a_network_trained_on_flips_gives_the_faithful_mode_its_mirror_mean(ce_run, pair, tiny_dataset, tmp_path):
    ce = checkpoint.load(ce_run, kind="context-encoder")
    assert ce.training_options["flip"] and ce.mirrored and ce.predictor().mirrored
    exported = checkpoint.load(checkpoint.export(ce_run, tmp_path / "ce.safetensors"), kind="context-encoder")
    assert exported.meta["train"]["flip"] and exported.mirrored
    torch.manual_seed(0)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    m = torch.ones(4, 1, 32, 32)
    m[:, :, 6:26, 4:14] = 0  # a hole off the vertical axis: its mirror image is another question
    cnn = ce.predictor()
    direct, mirror = cnn.predict(x, m), cnn.predict(x.flip(-1), m.flip(-1)).flip(-1)
    assert (direct - mirror).abs().max() > 0.05  # the network alone is not mirror-symmetric
    mean = cnn.mirror_mean(x, m)
    torch.testing.assert_close(mean, (direct + mirror) / 2, atol=1e-5, rtol=0)
    torch.testing.assert_close(cnn.mirror_mean(x.flip(-1), m.flip(-1)), mean.flip(-1), atol=1e-5, rtol=0)
    # the faithful mode's structure is the mean; the fast mode shows the one pass
    gan, ce_file = pair
    images, known = _batch()
    fast = load_inpainter(gan, mode="fast")(images, known)
    xt, mt = to_tensor(images), torch.from_numpy(known).float()[:, None]
    paired = checkpoint.load(ce_file, kind="context-encoder").predictor()
    assert paired.mirrored and np.array_equal(fast.fake, to_uint8(paired.predict(xt, mt)))
    faithful = load_inpainter(gan, mode="faithful")(images, known)
    expected = faithful_fill(paired.mirror_mean(xt, mt).cpu(), faithful.result.fake.cpu())
    assert np.abs(faithful.fake.astype(int) - to_uint8(expected).astype(int)).max() <= 1
    # a network trained without flips has one answer
    run = tmp_path / "noflip"
    train_context_encoder(tiny_dataset, run, model=TINY_CE, config=_cfg(steps=2, flip=False), progress=False)
    plain = checkpoint.load(run, kind="context-encoder").predictor()
    assert not plain.mirrored and torch.equal(plain.mirror_mean(x, m), plain.predict(x, m))


def test_a_context_encoder_file_is_not_a_gan(pair):
    gan, ce = pair
    assert checkpoint.describe(ce).kind == "context-encoder" and checkpoint.describe(gan).kind == "gan"
    with pytest.raises(GanfillError, match="context encoder"):
        checkpoint.load(ce, kind="gan")
    with pytest.raises(GanfillError, match="not a context encoder"):
        checkpoint.load(gan, kind="context-encoder")
    assert checkpoint.context_encoder_for(gan) == ce and checkpoint.context_encoder_for(ce) is None
    d = checkpoint.describe(ce)
    assert isinstance(d.config, CEConfig) and d.meta["step"] == 80
    assert "context encoder" in cards.card_skeleton(ce)


def test_faithful_fill_is_the_predictions_low_and_the_samples_high_frequencies():
    torch.manual_seed(0)
    fake = torch.rand(2, 3, 32, 32)
    # a prediction that differs from the sample by a constant (all low frequency): the fill is the sample moved by it
    assert torch.allclose(faithful_fill(fake + 0.3, fake, detail=1.0), fake + 0.3, atol=1e-5)
    # a smooth prediction and a sample = other smooth image + fine checkerboard detail: the fill keeps
    # the prediction's smooth image and the sample's detail
    yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    smooth_a, smooth_b = (torch.sin(yy / 9 + k)[None, None].expand(2, 3, 32, 32) * 0.5 for k in (0.0, 2.0))
    checker = ((yy + xx) % 2 * 2 - 1)[None, None] * 0.2
    out = faithful_fill(smooth_a, smooth_b + checker, blur=2.0, detail=1.0)
    inner = (slice(None), slice(None), slice(8, 24), slice(8, 24))  # away from the border's padding
    assert (out - (smooth_a + checker))[inner].abs().max() < 0.03
    assert (out - (smooth_b + checker))[inner].abs().max() > 0.3
    # the detail gain scales the sample's high frequencies only
    louder = faithful_fill(smooth_a, smooth_b + checker, blur=2.0, detail=1.5)
    assert (louder - (smooth_a + 1.5 * checker))[inner].abs().max() < 0.04
    with pytest.raises(GanfillError, match="blur"):
        faithful_fill(fake, fake, blur=0)
    with pytest.raises(GanfillError, match="detail"):
        faithful_fill(fake, fake, detail=float("nan"))


def test_modes_are_deterministic_and_keep_known_pixels(pair):
    gan, ce = pair
    prior = checkpoint.load(gan).prior()
    cnn = checkpoint.load(ce, kind="context-encoder").predictor()
    images, known = _batch()
    config = CompleteConfig(num_steps=4)
    sharp = complete_images(prior, images, known, config=config, seed=3)
    faithful = complete_images(prior, images, known, cnn=cnn, config=config, seed=3)
    again = complete_images(prior, images, known, cnn=cnn, config=config, seed=3)
    assert np.array_equal(faithful.completed["poisson"], again.completed["poisson"])
    assert np.array_equal(faithful.completed["poisson"][known], images[known])
    assert not np.array_equal(faithful.completed["poisson"], sharp.completed["poisson"])  # the CNN changed the fill
    assert np.array_equal(faithful.result.z, sharp.result.z)  # ... not the search (no encoder of z to guide)
    other = complete_images(prior, images, known, cnn=cnn, config=config, seed=4)
    assert not np.array_equal(other.completed["poisson"], faithful.completed["poisson"])  # the seed matters


def test_inpaint_modes_from_the_command_line(pair, tmp_path, capsys):
    gan, ce = pair
    image = tmp_path / "in" / "face.png"
    image.parent.mkdir()
    from PIL import Image

    Image.fromarray(_batch(1)[0][0]).save(image)
    outs = {}
    alone = tmp_path / "alone" / gan.name  # the same GAN without a context encoder beside it
    alone.parent.mkdir()
    shutil.copy(gan, alone)

    def inpaint(*args):
        out = tmp_path / f"out{len(list(tmp_path.glob('out*')))}"
        main(["inpaint", *args, str(image), "--out", str(out), "--num-steps", "3", "--quiet"])
        record = json.loads((out / "face" / "record.json").read_text())
        return record["mode"], np.asarray(Image.open(out / "face" / "completed.png"))

    for args in (
        ["--model", str(ce)],
        ["--model", str(gan), "--mode", "faithful"],
        ["--model", str(gan), "--mode", "fast"],
        ["--model", str(gan), "--mode", "sharp"],
    ):
        method, completed = inpaint(*args)
        outs[method, args[1] == str(ce)] = completed
    assert set(outs) == {("fast", True), ("faithful", False), ("fast", False), ("sharp", False)}
    assert np.array_equal(outs["fast", True], outs["fast", False])  # the GAN's companion is the same network
    assert not np.array_equal(outs["faithful", False], outs["sharp", False])
    # auto: faithful where a context encoder is beside the GAN (or given), sharp where none is
    method, completed = inpaint("--model", str(gan))
    assert method == "faithful" and np.array_equal(completed, outs["faithful", False])
    method, completed = inpaint("--model", str(alone))
    assert method == "sharp" and np.array_equal(completed, outs["sharp", False])
    method, completed = inpaint("--model", str(alone), "--cnn", str(ce))
    assert method == "faithful" and np.array_equal(completed, outs["faithful", False])
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["inpaint", "--model", str(ce), "--mode", "sharp", str(image), "--out", str(tmp_path / "x"), "--quiet"])
    assert e.value.code == 2 and "only completes in the fast mode" in capsys.readouterr().err


def test_evaluate_lists_and_runs_the_new_methods(pair, tiny_dataset, tmp_path, capsys):
    gan, _ = pair
    assert {"ganfill-faithful", "context-encoder", "context-encoder-paste"} <= set(ev.method_names())
    out = tmp_path / "eval"
    main(
        [
            "evaluate",
            str(gan),
            str(tiny_dataset),
            "--out",
            str(out),
            "-n",
            "10",
            "--masks",
            "center,half",
            "--num-steps",
            "3",
            "--quiet",
        ]
    )
    record = json.loads((out / "results.json").read_text())
    methods = {r["method"] for r in record["results"]}
    assert {"ganfill", "ganfill-faithful", "context-encoder", "context-encoder-paste", "telea"} <= methods
    assert record["options"]["context_encoder"].endswith("tiny-ce.safetensors")
    # without a context encoder, asking for its methods is a one-line error
    lone = tmp_path / "lone.safetensors"
    lone.write_bytes(gan.read_bytes())
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        main(["evaluate", str(lone), str(tiny_dataset), "--out", str(tmp_path / "e2"), "--methods", "context-encoder", "--quiet"])
    assert e.value.code == 2 and "--cnn" in capsys.readouterr().err


def test_plain_gan_preset_trains_and_completes(tiny_dataset, tmp_path):
    config = ModelConfig(arch="gan", resolution=32, z_dim=8, g_width=4, d_width=4)
    G, D = build(config)
    assert not any(isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) for m in [*G.modules(), *D.modules()])
    run = tmp_path / "gan"
    train_tiny(tiny_dataset, run, steps=30, model=config)
    rows = _log(run)
    assert all(np.isfinite(r["loss_d"]) and np.isfinite(r["loss_g"]) for r in rows)
    loaded = checkpoint.load(run)
    assert loaded.config.arch == "gan"
    images, known = _batch()
    done = complete_images(loaded.prior(), images, known, config=CompleteConfig(num_steps=5))
    assert np.array_equal(done.completed["poisson"][known], images[known])
    # the inference copy computes what the training-time network does
    z = torch.randn(3, 8)
    assert torch.allclose(loaded.prior().decode(z), loaded.G(z), atol=1e-5)


def test_web_page_streams_every_mode(pair):
    from ganfill.apps import fill, web

    gan, ce = pair
    model = checkpoint.load(gan)
    image = _batch(1)[0][0]
    hole = np.zeros((32, 32), bool)
    hole[8:24, 8:24] = True
    config = CompleteConfig(num_steps=4, record_every=2)
    inpainters = {method: load_inpainter(model, method, cnn=ce, config=config) for method in ("sharp", "faithful", "fast")}
    item = fill.make_item(image, inpainters["sharp"], hole_domain=hole)
    finals = {}
    for method in ("sharp", "faithful", "fast"):
        messages = list(web.stream_completion(inpainters[method], item, seed=0))
        kind, final, fake, result, _ = messages[-1]
        assert kind == "done" and (result is None) == (method == "fast")
        assert any(m[0] == "frame" for m in messages) == (method != "fast")  # one pass: nothing to stream
        assert np.array_equal(final[~hole], image[~hole])
        finals[method] = final
    # the same completions as the command line's
    for method in ("sharp", "faithful", "fast"):
        done, out, _ = fill.complete_items(inpainters[method], [item], seed=0)
        assert np.array_equal(out[0], finals[method])
