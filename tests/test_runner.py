"""One runner, one seeding rule: every front end gives the same completion of the same image."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.apps import fill
from ganfill.apps.cli import main
from ganfill.data.domain import Domain
from ganfill.evaluation import evaluate as ev
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import complete_images, latent_seed, load_inpainter
from ganfill.models import files as checkpoint

from conftest import blob_images, tiny_gan

CFG = CompleteConfig(num_steps=6)


@pytest.fixture(scope="module")
def model_file(tmp_path_factory):
    """A tiny 32x32 model with calibrated batch norm (so G(z) depends on z), saved as a model file."""
    path = tmp_path_factory.mktemp("runner") / "tiny.safetensors"
    return checkpoint.save(path, tiny_gan(calibrate=256, domain=Domain("none")))


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three 32x32 PNGs, already in the model's square."""
    out = tmp_path_factory.mktemp("images")
    for i, img in enumerate(blob_images(3, 32, seed=4)):
        Image.fromarray(img).save(out / f"img{i}.png")
    return out


def _center_known(n: int, r: int = 32) -> np.ndarray:
    known = np.ones((n, r, r), bool)
    known[:, r // 4 : 3 * r // 4, r // 4 : 3 * r // 4] = False
    return known


def test_inpaint_evaluate_api_and_web_give_bit_identical_completions(model_file, folder, tmp_path):
    images = np.stack([np.asarray(Image.open(folder / f"img{i}.png").convert("RGB")) for i in range(3)])
    known = _center_known(3)
    model = checkpoint.load(model_file)
    prior = model.prior()

    # the Python API
    api = complete_images(prior, images, known, config=CFG, seed=7)

    # ganfill inpaint (the CLI, one batch) and ganfill evaluate (a folder, another order and batch size)
    out = tmp_path / "inpaint"
    main(
        [
            "inpaint",
            str(model_file),
            str(folder),
            "--out",
            str(out),
            "--mask",
            "center",
            "--num-steps",
            "6",
            "--seed",
            "7",
            "--quiet",
            "--device",
            "cpu",
            "--precision",
            "fp32",
        ]
    )
    evaluation = ev.evaluate(
        model,
        images[::-1].copy(),
        names=["img2", "img1", "img0"],
        masks=["center"],
        methods=["ganfill"],
        config=CFG,
        batch_size=2,
        seed=7,
        face_detector=False,
    )
    assert np.array_equal(evaluation.holes["center"], ~known)

    for i in range(3):
        from_cli = np.asarray(Image.open(out / f"img{i}" / "completed.png").convert("RGB"))
        from_eval = evaluation.completed["ganfill", "center"][2 - i]
        assert np.array_equal(from_cli, api.completed["poisson"][i]), i
        assert np.array_equal(from_eval, api.completed["poisson"][i]), i
        record = json.loads((out / f"img{i}" / "record.json").read_text())
        assert record["runtime"] == {"device": "cpu", "precision": "fp32"} and record["blend"] == "poisson"

    # the web page's path (same fill.Item as the page builds, streamed through a worker thread)
    web = pytest.importorskip("ganfill.apps.web")
    inpainter = load_inpainter(model, "sharp", config=CFG)
    item = fill.make_item(images[1], inpainter, hole_domain=~known[1], path=folder / "renamed-upload.png")
    messages = list(web.stream_completion(inpainter, item, seed=7))
    kind, final, fake, *_ = messages[-1]
    assert kind == "done" and np.array_equal(final, api.completed["poisson"][1]) and np.array_equal(fake, api.fake[1])


def test_seed_depends_on_known_content_only(model_file):
    prior = checkpoint.load(model_file).prior()
    images = blob_images(3, 32, seed=8)
    known = _center_known(3)
    base = complete_images(prior, images, known, config=CFG, seed=1, blends=("poisson", "paste"))
    # another hole content (grey, as a masked upload has it): same seed, same completion
    grey = images.copy()
    grey[~known] = 128
    again = complete_images(prior, grey, known, config=CFG, seed=1)
    assert np.array_equal(again.completed["poisson"], base.completed["poisson"])
    # one image alone, or in another batch: the same (images do not influence each other)
    alone = complete_images(prior, images[2:], known[2:], config=CFG, seed=1)
    assert np.array_equal(alone.fake[0], base.fake[2])
    # another seed or another known pixel: another start
    assert latent_seed(1, images[0], known[0]) != latent_seed(2, images[0], known[0])
    changed = images[0].copy()
    changed[0, 0] ^= 1
    assert latent_seed(1, images[0], known[0]) != latent_seed(1, changed, known[0])
    assert latent_seed(1, images[0], known[0]) == latent_seed(1, grey[0], known[0])
    # blends: known pixels exact in both, and both from the same G(z^)
    for method in ("poisson", "paste"):
        assert np.array_equal(base.completed[method][known], images[known])
    assert np.array_equal(base.completed["paste"][~known], base.fake[~known])
    assert set(base.blend_seconds) == {"poisson", "paste"} and base.search_seconds > 0


def test_complete_images_rejects_bad_input(model_file):
    from ganfill.core.errors import GanfillError

    prior = checkpoint.load(model_file).prior()
    images, known = blob_images(2, 32), _center_known(2)
    with pytest.raises(GanfillError, match="uint8"):
        complete_images(prior, images.astype(np.float32), known)
    with pytest.raises(GanfillError, match="known"):
        complete_images(prior, images, known[:1])
    with pytest.raises(GanfillError, match="blend"):
        complete_images(prior, images, known, blends=("smear",))


def test_inference_runs_in_bf16_when_asked(model_file, folder, tmp_path):
    """--precision bf16 runs (emulated where not native: slow but correct); known pixels stay exact."""
    out = tmp_path / "bf16"
    main(
        [
            "inpaint",
            str(model_file),
            str(folder / "img0.png"),
            "--out",
            str(out),
            "--num-steps",
            "3",
            "--quiet",
            "--precision",
            "bf16",
            "--device",
            "cpu",
        ]
    )
    record = json.loads((out / "img0" / "record.json").read_text())
    assert record["runtime"] == {"device": "cpu", "precision": "bf16"}
    completed = np.asarray(Image.open(out / "img0" / "completed.png").convert("RGB"))
    original = np.asarray(Image.open(folder / "img0.png").convert("RGB"))
    known = _center_known(1)[0]
    assert np.array_equal(completed[known], original[known]) and not np.array_equal(completed, original)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (CI is CPU-only)")
def test_cuda_search_matches_cpu(model_file):
    from ganfill.core.runtime import Runtime

    model = checkpoint.load(model_file)
    images, known = blob_images(4, 32, seed=9), _center_known(4)
    cpu = complete_images(model.prior(), images, known, config=CFG, seed=3)
    gpu_prior = model.prior(Runtime(torch.device("cuda"), torch.float32))
    gpu = complete_images(gpu_prior, images, known, config=CFG, seed=3)
    assert gpu.result.fake.device.type == "cuda"
    assert np.abs(gpu.fake.astype(int) - cpu.fake.astype(int)).max() <= 2  # same z, same search, other kernels
    assert np.array_equal(gpu.completed["poisson"][known], images[known])
