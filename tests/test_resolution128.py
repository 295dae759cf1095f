"""128x128 (issue 25): a tiny 128x128 GAN and context encoder train, resume exactly, export as a
pair and complete with every mode; the masks scale with the resolution."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import MODES, load_inpainter
from ganfill.models import files as checkpoint
from ganfill.models.config import CEConfig, ModelConfig
from ganfill.training.config import CETrainConfig, TrainConfig
from ganfill.training.context_encoder import train_context_encoder
from ganfill.training.gan import train

from conftest import blob_images

R = 128
TINY128 = ModelConfig(resolution=R, z_dim=8, g_width=4, d_width=4)
TINY128_CE = CEConfig(resolution=R, width=4, bottleneck=8, adv_width=4)


def _log(run):
    return [
        {k: v for k, v in json.loads(line).items() if k != "seconds"} for line in (run / "log.jsonl").read_text().splitlines()
    ]


def _gan_cfg(steps: int) -> TrainConfig:
    return TrainConfig(steps=steps, batch_size=8, checkpoint_every=2, n_samples=4, precision="fp32")


def _ce_cfg(steps: int) -> CETrainConfig:
    return CETrainConfig(steps=steps, batch_size=8, checkpoint_every=2, precision="fp32")


@pytest.fixture(scope="module")
def data128(tmp_path_factory):
    """24 blob images prepared at 128x128 with ganfill's own `prepare`."""
    from ganfill.data.datasets import prepare

    src = tmp_path_factory.mktemp("blobs128-src")
    for i, img in enumerate(blob_images(24, 136, seed=3)):
        Image.fromarray(img).save(src / f"{i:03d}.png")
    out = tmp_path_factory.mktemp("blobs128") / "data"
    prepare(src, out, resolution=R, crop="none", progress=False)
    return out


@pytest.fixture(scope="module")
def runs128(data128, tmp_path_factory):
    """A 4-iteration GAN run and a 4-iteration context-encoder run at 128x128."""
    root = tmp_path_factory.mktemp("runs128")
    train(data128, root / "gan", model=TINY128, config=_gan_cfg(4), progress=False)
    train_context_encoder(data128, root / "ce", model=TINY128_CE, config=_ce_cfg(4), progress=False)
    return root


def test_a_128_gan_and_context_encoder_resume_exactly(data128, runs128, tmp_path):
    """Stopped after 2 iterations and resumed to 4: the same losses and weights as 4 in one go."""
    gan, ce = tmp_path / "gan", tmp_path / "ce"
    train(data128, gan, model=TINY128, config=_gan_cfg(2), progress=False)
    train(None, gan, config=_gan_cfg(4), resume=True, progress=False)
    assert _log(gan) == _log(runs128 / "gan") and len(_log(gan)) == 4
    a, b = checkpoint.load(runs128 / "gan", raw=True), checkpoint.load(gan, raw=True)
    assert a.G(torch.zeros(1, TINY128.z_dim)).shape == (1, 3, R, R)
    for na, nb in ((a.G, b.G), (a.D, b.D)):
        sa, sb = na.state_dict(), nb.state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    train_context_encoder(data128, ce, model=TINY128_CE, config=_ce_cfg(2), progress=False)
    train_context_encoder(None, ce, config=_ce_cfg(4), resume=True, progress=False)
    assert _log(ce) == _log(runs128 / "ce") and len(_log(ce)) == 4


@pytest.fixture(scope="module")
def pair128(runs128, tmp_path_factory):
    """The two runs exported as a pair: tiny128.safetensors with tiny128-ce.safetensors beside it."""
    folder = tmp_path_factory.mktemp("pair128")
    gan = checkpoint.export(runs128 / "gan", folder / "tiny128.safetensors", dtype=torch.float32)
    checkpoint.export(runs128 / "ce", folder / "tiny128-ce.safetensors", dtype=torch.float32)
    return gan


@pytest.mark.parametrize("mode", list(MODES))
def test_every_mode_completes_128x128_images(pair128, mode):
    """Every registered mode fills a 64x64 hole in 128x128 images, known pixels bit-exact."""
    inp = load_inpainter(pair128, mode, config=CompleteConfig(num_steps=3, restarts=1))
    assert inp.resolution == R
    images = blob_images(2, R, seed=5)
    known = np.ones((2, R, R), bool)
    known[:, 32:96, 32:96] = False
    done = inp(images, known, seed=0)
    for out in done.completed.values():
        assert out.shape == images.shape and out.dtype == np.uint8
        assert np.array_equal(out[known], images[known])
        assert not np.array_equal(out[~known], images[~known])


def test_named_masks_scale_with_the_resolution():
    """The center mask hides the central square of half the side, the half mask the left half, at 128 as at 64."""
    from ganfill.data.masks import center, half

    for r in (64, R):
        hole = center(1, r)[0, 0] < 0.5  # mask 1 = known
        rows, cols = np.nonzero(hole.numpy())
        assert (rows.min(), rows.max() + 1, cols.min(), cols.max() + 1) == (r // 4, 3 * r // 4, r // 4, 3 * r // 4)
        assert (half(1, r)[0, 0] < 0.5).sum() == r * r // 2
