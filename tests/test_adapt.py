"""The closest mode: the generator adapted to each image (inpainting.adapt), on tiny seeded models."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from ganfill.core.errors import GanfillError
from ganfill.core.images import to_tensor
from ganfill.core.runtime import Runtime
from ganfill.inpainting.adapt import AdaptConfig, adapt, mix, near_weights
from ganfill.inpainting.blend import blend
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.inpainter import load_inpainter
from ganfill.inpainting.search import complete
from ganfill.models import files as checkpoint
from ganfill.models.prior import Adaptable

from conftest import blob_images, tiny_gan, tiny_pair

N, R = 4, 32
SEARCH = CompleteConfig(num_steps=5, restarts=1)


def _batch(n=N, seed=0):
    images = blob_images(n, R, seed=seed)
    known = np.ones((n, R, R), bool)
    known[:, 8:24, 6:22] = False
    return images, known


def _tensors(images, known):
    return to_tensor(images), torch.from_numpy(known).float()[:, None]


@pytest.fixture(scope="module")
def prior():
    return tiny_gan(calibrate=256).prior(Runtime())


def _start(prior, x, m):
    return complete(prior, x, m, config=SEARCH, generator=torch.Generator().manual_seed(0))


def test_identity_adaptation_is_the_generator(prior):
    """All zeros decodes exactly as decode(z); the tensors are per image, float32 and differentiable."""
    assert isinstance(prior, Adaptable)
    z = prior.sample_z(3, generator=torch.Generator().manual_seed(1))
    blocks = prior.adaptation(3)
    assert len(blocks) == 4  # 4x4, 8x8, 16x16 and the image at 32x32
    assert [tuple(b["offset"].shape) for b in blocks] == [(3, 32, 4, 4), (3, 16, 8, 8), (3, 8, 16, 16), (3, 3, 32, 32)]
    assert all(b["scale"].shape == b["shift"].shape == b["offset"].shape[:2] for b in blocks)
    assert all(t.dtype == torch.float32 and not t.any() for b in blocks for t in b.values())
    assert torch.equal(prior.decode_adapted(z, blocks), prior.decode(z))
    assert torch.equal(prior.decode_adapted(z, []), prior.decode(z))
    for t in (t for b in blocks for t in b.values()):
        t.requires_grad_(True)
    prior.decode_adapted(z, blocks).square().sum().backward()
    assert all(t.grad is not None and t.grad.abs().sum() > 0 for b in blocks for t in b.values())


@pytest.mark.parametrize("arch", ["paper", "gan"])
def test_every_preset_adapts(arch):
    """The blocks are found by their activations, so the paper's and the plain GAN's generators adapt too."""
    prior = tiny_gan(calibrate=256, arch=arch).prior(Runtime())
    z = prior.sample_z(2, generator=torch.Generator().manual_seed(1))
    blocks = prior.adaptation(2)
    assert len(blocks) == (3 if arch == "gan" else 4)
    assert torch.equal(prior.decode_adapted(z, blocks), prior.decode(z))
    x, m = _tensors(*_batch(2))
    done = adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=5))
    assert done.losses[-1].sum() < done.losses[0].sum()


def test_adaptation_is_per_image(prior):
    """Changing image 0's tensors changes image 0 only: one shared G serves the batch."""
    z = prior.sample_z(3, generator=torch.Generator().manual_seed(1))
    blocks = prior.adaptation(3)
    blocks[1]["offset"][0] += 0.5
    blocks[0]["scale"][0] -= 0.3
    before, after = prior.decode(z), prior.decode_adapted(z, blocks)
    assert not torch.equal(after[0], before[0])
    assert torch.equal(after[1:], before[1:])


def test_realism_features_are_the_discriminators_layers(prior):
    x, _ = _tensors(*_batch())
    x.requires_grad_(True)
    feats = prior.realism_features(x)
    assert [tuple(f.shape) for f in feats] == [(N, 8, 16, 16), (N, 16, 8, 8), (N, 32, 4, 4)]
    assert all(f.dtype == torch.float32 for f in feats)
    sum(f.sum() for f in feats).backward()
    assert x.grad.abs().sum() > 0


def test_adapt_fits_the_known_pixels_better_than_the_search(prior):
    x, m = _tensors(*_batch())
    start = _start(prior, x, m)
    done = adapt(prior, x, m, z_init=start.z, config=AdaptConfig(steps=30))
    assert done.fake.shape == x.shape and done.z.shape == start.z.shape and done.steps_run == 30
    assert done.losses.shape == (31, N) and (done.losses[-1] < done.losses[0]).all()

    def known_error(fake):
        return (((fake - x) ** 2) * m).sum(dim=(1, 2, 3))

    assert (known_error(done.fake) < known_error(start.fake)).all()


def test_adapt_is_deterministic_and_batch_independent(prior):
    x, m = _tensors(*_batch())
    z = _start(prior, x, m).z
    config = AdaptConfig(steps=8)
    a, b = adapt(prior, x, m, z_init=z, config=config), adapt(prior, x, m, z_init=z, config=config)
    assert torch.equal(a.fake, b.fake) and torch.equal(a.z, b.z)
    alone = adapt(prior, x[1:2], m[1:2], z_init=z[1:2], config=config)  # one image adapted on its own
    torch.testing.assert_close(alone.fake[0], a.fake[1], atol=1e-4, rtol=1e-4)


def test_progressive_adapts_the_first_block_first(prior):
    """With progressive=k only the first block adapts in the first k steps: the same as adapting it alone."""
    x, m = _tensors(*_batch())
    z = _start(prior, x, m).z
    staged = adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=4, progressive=4))
    first = adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=4, modulate=1, offsets=1))
    assert torch.equal(staged.fake, first.fake)
    later = adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=6, progressive=4))
    assert not torch.equal(later.fake, adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=6, modulate=1, offsets=1)).fake)


def test_adapt_stops_when_asked_and_checks_its_input(prior):
    x, m = _tensors(*_batch())
    z = _start(prior, x, m).z
    steps = []
    done = adapt(prior, x, m, z_init=z, config=AdaptConfig(steps=10), callback=lambda s, f, l: steps.append(s) or s == 3)
    assert steps == [0, 1, 2, 3] and done.steps_run == 3
    with pytest.raises(GanfillError, match="z_init must be"):
        adapt(prior, x, m, z_init=z[:2])
    with pytest.raises(GanfillError, match="steps must be"):
        AdaptConfig(steps=-1)
    with pytest.raises(GanfillError, match="cannot adapt"):
        adapt(object(), x, m, z_init=z)


def test_near_weights_and_mix():
    m = torch.ones(1, 1, 9, 9)
    m[..., :, :5] = 0  # the left 5 columns missing
    w = near_weights(m, near=2.0)[0, 0]
    assert torch.equal(w[:, 5:], torch.ones(9, 4))  # known
    assert torch.equal(w[:, 4], torch.ones(9))  # next to a known pixel
    torch.testing.assert_close(w[0, :5], torch.exp(-torch.tensor([4.0, 3.0, 2.0, 1.0, 0.0]) / 2.0))
    assert not near_weights(torch.zeros(1, 1, 4, 4), near=2.0).any()  # nothing known: nothing near
    a, b = torch.rand(1, 3, 9, 9), torch.rand(1, 3, 9, 9)
    b[..., 5:] = a[..., 5:]
    out = mix(a, b, near_weights(m, near=2.0))
    assert torch.equal(out[..., 5:], a[..., 5:])  # where both agree, exactly them


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A tiny GAN file with a tiny context encoder beside it, and one without."""
    folder = tmp_path_factory.mktemp("adapt")
    return tiny_pair(folder), checkpoint.save(folder / "alone.safetensors", tiny_gan(calibrate=256))


def _closest(spec, **kw):
    return load_inpainter(spec, "closest", config=SEARCH, blends=("poisson", "paste"), **kw)


@pytest.mark.parametrize("which", [0, 1], ids=["with a context encoder", "alone"])
def test_closest_keeps_known_pixels_bit_exact(pair, which):
    inp = _closest(pair[which])
    assert (inp.cnn is not None) == (which == 0) and inp.steps == SEARCH.num_steps + inp.adaptation.steps
    images, known = _batch()
    done = inp(images, known, seed=0)
    for out in done.completed.values():
        assert np.array_equal(out[known], images[known])
        assert not np.array_equal(out[~known], images[~known])
    assert done.result is not None and done.fake.shape == images.shape


def test_closest_without_a_context_encoder_fills_with_the_adapted_sample(pair):
    images, known = _batch()
    inp = _closest(pair[1])
    done = inp(images, known, seed=0)
    x, m = _tensors(images, known)
    adapted = adapt(inp.prior, x, m, z_init=done.result.z, config=inp.adaptation).fake
    expected = (blend(adapted, x, m, method="poisson") + 1) * 127.5
    assert np.abs(done.completed["poisson"].astype(float) - expected.round().clamp(0, 255).permute(0, 2, 3, 1).numpy()).max() <= 1


def test_closest_is_deterministic_under_a_seed(pair):
    images, known = _batch()
    inp = _closest(pair[0])
    a, b, c = inp(images, known, seed=3), inp(images, known, seed=3), inp(images, known, seed=4)
    assert np.array_equal(a.completed["poisson"], b.completed["poisson"])
    assert not np.array_equal(a.completed["poisson"], c.completed["poisson"])  # another seed, another start


def test_closest_never_changes_the_model_in_memory_or_on_disk(pair):
    path = pair[0]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    model = checkpoint.load(path)
    before = {role: {k: v.clone() for k, v in net.state_dict().items()} for role, net in model.nets.items()}
    images, known = _batch()
    _closest(model)(images, known, seed=0)
    for role, net in model.nets.items():
        after = net.state_dict()
        assert after.keys() == before[role].keys()
        assert all(torch.equal(after[k], before[role][k]) for k in after), role
        assert not net.training and all(p.grad is None for p in net.parameters())
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest


def test_closest_numbers_the_adaptation_after_the_search_and_stops(pair):
    images, known = _batch()
    inp = _closest(pair[0])
    steps = []
    inp(images, known, seed=0, callback=lambda s, f, l: steps.append(s))
    assert steps == list(range(inp.steps + 1))  # search 0..5, then adaptation 6..steps
    steps.clear()
    inp(images, known, seed=0, callback=lambda s, f, l: steps.append(s) or s == SEARCH.num_steps + 2)
    assert steps == list(range(SEARCH.num_steps + 3))


def test_closest_needs_an_adaptable_prior(plugins, tmp_path):
    lp = plugins["linear_prior"]
    config = lp.LinearConfig(resolution=R, z_dim=6)
    model = lp.LinearModel(config, lp.LinearModel.networks(config, set(), {}))
    path = checkpoint.save(tmp_path / "linear.safetensors", model)
    with pytest.raises(GanfillError, match="cannot do: use --mode sharp"):
        _closest(path)
