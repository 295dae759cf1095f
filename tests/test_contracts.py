"""Contract suites: what every ``Prior`` and every ``Inpainter`` promises, run against each one.

The priors: the DCGAN prior (plain, and with an encoder of z) and the linear prior registered
from outside the package (tests/plugins/linear_prior.py); those that can adapt their generator
to an image (``Adaptable``, what the closest mode needs) also pass its contract.  The
inpainters: every mode in ``MODES`` (sharp, faithful, fast, closest and the classical
baselines) built by ``load_inpainter`` from
one tiny GAN with a tiny context encoder beside it, plus the plugins' modes.  A new prior or
mode that passes these works in every front end.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ganfill.core.runtime import Runtime
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import MODES, Completion, Inpainter, load_inpainter
from ganfill.inpainting.search import complete
from ganfill.models.encoder import Encoder
from ganfill.models.prior import Adaptable, Prior

from conftest import blob_images, tiny_gan, tiny_pair

N, R = 3, 32


def _linear_prior(plugins):
    lp = plugins["linear_prior"]
    config = lp.LinearConfig(resolution=R, z_dim=6)
    torch.manual_seed(0)
    return lp.LinearModel(config, lp.LinearModel.networks(config, set(), {})).prior(Runtime())


def _dcgan_with_encoder():
    model = tiny_gan(calibrate=256)
    torch.manual_seed(1)
    model.nets["E"] = Encoder(model.G.config).eval()
    return model.prior(Runtime())


PRIORS = {
    "dcgan": lambda plugins: tiny_gan(calibrate=256).prior(Runtime()),
    "dcgan+encoder": lambda plugins: _dcgan_with_encoder(),
    "linear (from outside)": _linear_prior,
}


@pytest.fixture(params=list(PRIORS))
def prior(request, plugins) -> Prior:
    return PRIORS[request.param](plugins)


def _batch(n=N, seed=0):
    x = torch.from_numpy(blob_images(n, R, seed=seed)).permute(0, 3, 1, 2).float() / 127.5 - 1  # (N, 3, R, R)
    m = torch.ones(n, 1, R, R)
    m[:, :, 8:24, 8:24] = 0  # 1 = known
    return x, m


# ---------------------------------------------------------------------------------- Prior


def test_prior_has_the_interface(prior):
    assert isinstance(prior, Prior)
    assert (prior.resolution, prior.channels) == (R, 3) and prior.z_dim > 0


def test_prior_samples_seeded_latents(prior):
    z1 = prior.sample_z(5, generator=torch.Generator().manual_seed(3))
    z2 = prior.sample_z(5, generator=torch.Generator().manual_seed(3))
    assert z1.shape == (5, prior.z_dim) and z1.dtype == torch.float32 and z1.device.type == "cpu"
    assert torch.equal(z1, z2) and not torch.equal(z1, prior.sample_z(5, generator=torch.Generator().manual_seed(4)))


def test_prior_projects_in_place_onto_the_clip(prior):
    z = prior.sample_z(64, generator=torch.Generator().manual_seed(0)) * 4
    out = prior.project(z, clip=1.5)
    assert out is z and z.abs().max() <= 1.5 and torch.equal(prior.project(z.clone(), clip=1.5), z)


def test_prior_decodes_differentiably_without_changing_itself(prior):
    z = prior.sample_z(N, generator=torch.Generator().manual_seed(0)).requires_grad_(True)
    params = {id(p): p.detach().clone() for p in _parameters(prior)}
    images = prior.decode(z)
    assert images.shape == (N, 3, R, R) and images.dtype == torch.float32
    assert images.abs().max() <= 1.0
    logits = prior.realism_logits(images)
    assert logits.shape == (N,) and logits.dtype == torch.float32
    (images.square().mean() + logits.sum()).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0  # the search's way back into z
    assert all(p.grad is None for p in _parameters(prior))  # frozen
    assert all(torch.equal(p, params[id(p)]) for p in _parameters(prior))
    assert not torch.equal(prior.decode(z[:1].detach()), prior.decode(-z[:1].detach()))  # depends on z


def test_prior_encodes_only_with_an_encoder(prior):
    x, m = _batch()
    z = prior.encode(x, m)
    if prior.has_encoder:
        assert z.shape == (N, prior.z_dim) and z.dtype == torch.float32 and torch.isfinite(z).all()
    else:
        assert z is None


def test_prior_drives_the_latent_search_deterministically(prior):
    x, m = _batch()
    config = CompleteConfig(num_steps=25, restarts=2).resolved(prior)
    runs = [complete(prior, x, m, config=config, generator=torch.Generator().manual_seed(0)) for _ in range(2)]
    first, second = runs
    assert first.fake.shape == (N, 3, R, R) and first.z.shape[-1] == prior.z_dim
    assert torch.equal(first.fake, second.fake)
    assert first.losses.shape == (26, N) and (first.losses[-1] < first.losses[0]).all()  # the search lowers the loss


def test_adaptable_prior_adapts_each_image_without_changing_itself(prior):
    if not isinstance(prior, Adaptable):
        pytest.skip(f"{type(prior).__name__} does not adapt its generator (the closest mode refuses it)")
    z = prior.sample_z(N, generator=torch.Generator().manual_seed(0))
    params = {id(p): p.detach().clone() for p in _parameters(prior)}
    blocks = prior.adaptation(N)
    assert blocks and all(set(b) == {"scale", "shift", "offset"} for b in blocks)
    assert all(t.dtype == torch.float32 and t.shape[0] == N and not t.any() for b in blocks for t in b.values())
    assert torch.equal(prior.decode_adapted(z, blocks), prior.decode(z))  # zeros: the generator itself
    tensors = [t.requires_grad_(True) for b in blocks for t in b.values()]
    images = prior.decode_adapted(z, blocks)
    features = prior.realism_features(images)
    assert features and all(f.shape[0] == N and f.dtype == torch.float32 for f in features)
    (images.square().mean() + sum(f.mean() for f in features)).backward()
    assert any(t.grad is not None and t.grad.abs().sum() > 0 for t in tensors)
    assert all(p.grad is None for p in _parameters(prior))
    assert all(torch.equal(p, params[id(p)]) for p in _parameters(prior))
    with torch.no_grad():
        blocks[0]["offset"][0] += 1.0  # image 0's adaptation changes image 0 only
        changed = prior.decode_adapted(z, blocks)
    assert not torch.equal(changed[0], images[0].detach()) and torch.equal(changed[1:], images[1:].detach())


def _parameters(prior):
    """The tensors a prior computes with: its modules' parameters, wherever it keeps them."""
    found = []
    for value in vars(prior).values():
        if isinstance(value, torch.nn.Module):
            found += list(value.parameters())
    return found


# ---------------------------------------------------------------------------------- Inpainter


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A tiny GAN model file with a tiny context encoder beside it (NAME-ce.safetensors)."""
    return tiny_pair(tmp_path_factory.mktemp("contract"))


def _inpainter(name, pair) -> Inpainter:
    return load_inpainter(pair, name, config=CompleteConfig(num_steps=6, restarts=2), blends=("poisson", "paste"))


def _images(seed=0):
    images = blob_images(N, R, seed=seed)
    known = np.ones((N, R, R), bool)
    known[:, 6:20, 10:26] = False
    return images, known


def _modes():
    return sorted(MODES)


@pytest.mark.parametrize("name", _modes())
def test_inpainter_keeps_known_pixels_and_shapes(name, pair):
    inp = _inpainter(name, pair)
    assert isinstance(inp, Inpainter) and inp.mode == name and (inp.resolution, inp.channels) == (R, 3)
    assert inp.describe()["mode"] == name
    images, known = _images()
    done = inp(images, known, seed=0)
    assert isinstance(done, Completion) and done.fake.shape == images.shape and done.fake.dtype == np.uint8
    assert set(done.completed) == {"poisson", "paste"}
    for out in done.completed.values():
        assert out.shape == images.shape and out.dtype == np.uint8
        assert np.array_equal(out[known], images[known])
        assert not np.array_equal(out[~known], images[~known])  # the hole was filled, not kept


@pytest.mark.parametrize("name", _modes())
def test_inpainter_is_deterministic_and_never_reads_the_hole(name, pair):
    inp = _inpainter(name, pair)
    images, known = _images()
    scribbled = images.copy()
    scribbled[~known] = np.random.default_rng(0).integers(0, 256, scribbled[~known].shape, dtype=np.uint8)
    a, b, c = inp(images, known, seed=1), inp(images, known, seed=1), inp(scribbled, known, seed=1)
    for blend in ("poisson", "paste"):
        assert np.array_equal(a.completed[blend], b.completed[blend])
        assert np.array_equal(a.completed[blend][~known], c.completed[blend][~known])


@pytest.mark.parametrize("name", _modes())
def test_inpainter_reports_progress_and_stops_when_asked(name, pair):
    inp = _inpainter(name, pair)
    images, known = _images()
    calls = []

    def stop_at_once(step, fake, losses):
        calls.append((step, tuple(fake.shape), tuple(losses.shape)))
        return True

    inp(images, known, seed=0, callback=stop_at_once)
    if inp.steps:
        assert calls == [(0, (N, 3, R, R), (N,))]  # called at step 0, then stopped
    else:
        assert calls == []  # nothing to report without a search


def test_plugin_modes_pass_the_same_contract(plugins, pair):
    assert {"nearest-sample", "mirror"} <= set(MODES)
    for name in ("nearest-sample", "mirror"):
        test_inpainter_keeps_known_pixels_and_shapes(name, pair)
        test_inpainter_is_deterministic_and_never_reads_the_hole(name, pair)
