import math

import pytest
import torch

from ganfill.core.errors import GanfillError
from ganfill.data.masks import center, half
from ganfill.inpainting.blend import blend
from ganfill.inpainting.config import CompleteConfig
from ganfill.inpainting.search import complete, contextual_loss, importance_weights, perceptual_loss
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import build
from ganfill.models.prior import DCGANPrior, project_latents, sample_latents

from conftest import tiny_gan

Z = 8


def gen(seed):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def gd():
    """Tiny seeded G and D.  Freshly initialised DCGAN weights shrink the signal at every layer
    when batch norm uses its initial running statistics (mean 0, var 1), so G(z) would be ~1e-4
    everywhere; one pass in train mode (cumulative averages) calibrates the statistics so that G
    has outputs of a realistic size that depend on z."""
    model = tiny_gan(z_dim=Z, calibrate=256)
    return model.G, model.D


@pytest.fixture(scope="module")
def prior(gd):
    return DCGANPrior(*gd)


def target(G, n, seed=1):
    z = torch.randn(n, Z, generator=gen(seed))
    with torch.no_grad():
        return z, G(z)


# ----------------------------------------------------------------------------- losses


def test_importance_weights_hand_checked():
    mask = torch.ones(1, 1, 6, 6)
    mask[..., 2:4, 2:4] = 0  # 2x2 hole
    w = importance_weights(mask, window=3)[0, 0]
    assert w[2:4, 2:4].eq(0).all()  # zero on the hole
    assert w[1, 1] == pytest.approx(1 / 9)  # diagonal corner: 1 missing neighbour
    assert w[1, 2] == pytest.approx(2 / 9)  # above the hole: 2 missing neighbours
    assert w[2, 4] == pytest.approx(2 / 9)
    assert w[0, 0] == 0 and w[0, 3] == 0 and w[5, 5] == 0  # two pixels away
    # brute force for the default window 7 on a random mask
    m = (torch.rand(1, 1, 12, 12, generator=gen(0)) > 0.3).float()
    w7 = importance_weights(m)[0, 0]
    for i in range(12):
        for j in range(12):
            count = sum(
                1 for a in range(i - 3, i + 4) for b in range(j - 3, j + 4) if 0 <= a < 12 and 0 <= b < 12 and m[0, 0, a, b] == 0
            )
            assert w7[i, j].item() == pytest.approx(m[0, 0, i, j].item() * count / 49)


def test_importance_weights_not_inverted():
    """Catches the public bug W = fraction of KNOWN neighbours."""
    mask = center(1, 64)  # hole rows/cols 16..47
    w = importance_weights(mask)[0, 0]
    assert w[0, 0] == 0 and w[8, 32] == 0 and w[12, 32] == 0  # far from the hole: ignored
    assert w[16:48, 16:48].eq(0).all()  # missing pixels: 0
    assert w[15, 32] == pytest.approx(21 / 49)  # bordering the hole (3 hole rows x 7)
    assert w.max() == w[15, 32]  # the largest weights are on the border
    row = w[:16, 32]
    assert (row[1:] >= row[:-1]).all() and row[13] > 0  # grows towards the hole


def test_importance_weights_image_border_counts_as_known():
    w = importance_weights(half(1, 64, side="left"))[0, 0]  # columns 0..31 missing
    # top-left known pixel next to the hole: only 4 in-image rows x 3 missing columns
    assert w[0, 32] == pytest.approx(12 / 49)
    assert w[10, 32] == pytest.approx(21 / 49)
    with pytest.raises(GanfillError):
        importance_weights(half(1, 8), window=4)


def test_contextual_kinds_and_sum_normalisation():
    g = gen(2)
    Gz = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    y = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    mask = center(2, 8)
    y_nan = y.masked_fill(mask.expand_as(y) == 0, float("nan"))  # hole content never matters
    diff = (Gz - y) * mask
    l1 = contextual_loss(Gz, y_nan, mask, kind="l1")
    l2 = contextual_loss(Gz, y_nan, mask, kind="l2")
    assert l1.shape == (2,)
    assert torch.allclose(l1, diff.abs().sum((1, 2, 3)))  # per-image SUM over pixels, channels
    assert torch.allclose(l2, diff.square().sum((1, 2, 3)))
    W = importance_weights(mask)
    lw = contextual_loss(Gz, y_nan, mask)
    assert torch.allclose(lw, (W * (Gz - y)).abs().sum((1, 2, 3)))
    assert torch.isfinite(lw).all() and (lw < l1).all()
    # per image: the loss of image 0 does not depend on image 1
    assert torch.allclose(contextual_loss(Gz[:1], y[:1], mask[:1]), lw[:1])
    with pytest.raises(GanfillError, match="weighted"):
        contextual_loss(Gz, y, mask, kind="huber")


def test_perceptual_loss_stable():
    logits = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0])
    expected = torch.log(1 - torch.sigmoid(logits))
    assert torch.allclose(perceptual_loss(logits), expected, atol=1e-6)
    big = torch.tensor([-100.0, 100.0], requires_grad=True)
    out = perceptual_loss(big)
    assert torch.isfinite(out).all()
    assert out[0].item() == pytest.approx(0.0, abs=1e-30) and out[1].item() == pytest.approx(-100.0)
    out.sum().backward()
    assert torch.isfinite(big.grad).all() and big.grad[1] == pytest.approx(-1.0)


def test_prior_sampling_and_projection():
    u = sample_latents(1000, 4, latent="uniform", generator=gen(0))
    assert u.min() >= -1 and u.max() <= 1
    z = torch.tensor([[-5.0, -2.0, 0.5, 4.0]])
    assert torch.equal(project_latents(z.clone(), latent="normal", clip=3.0), torch.tensor([[-3.0, -2.0, 0.5, 3.0]]))
    assert torch.equal(project_latents(z.clone(), latent="uniform"), torch.tensor([[-1.0, -1.0, 0.5, 1.0]]))
    assert torch.equal(project_latents(z.clone(), latent="normal", clip=None), z)
    with pytest.raises(GanfillError):
        sample_latents(1, 4, latent="cauchy")


# ----------------------------------------------------------------------------- complete()


def test_complete_recovers_generated_target(gd, prior):
    G, D = gd
    z_star, y = target(G, 2)
    mask = center(1, 32)
    cfg = CompleteConfig(num_steps=80, lr=0.05, schedule="constant")
    res = complete(prior, y, mask, config=cfg, generator=gen(2))
    assert res.steps_run == 80 and res.losses.shape == (81, 2) and res.z.shape == (2, Z)
    assert (res.contextual[-1] < 0.1 * res.contextual[0]).all(), res.contextual[[0, -1]]
    hole = (mask < 0.5).expand_as(y)
    start = G(sample_latents(2, Z, generator=gen(2))).detach()
    err0 = (start - y)[hole].abs().mean()
    err = (blend(res.fake, y, mask) - y)[hole].abs().mean()
    assert err < 0.2 * err0, (err, err0)
    assert torch.allclose(res.losses, res.contextual + cfg.lam * res.perceptual, atol=1e-6)
    assert torch.allclose(res.fake, G(res.z).detach(), atol=1e-6)


@pytest.mark.parametrize("method", ["poisson", "paste"])
def test_complete_known_pixels_bit_exact(gd, prior, method):
    G, D = gd
    _, y = target(G, 2, seed=3)
    y = y + 0.01 * torch.randn(y.shape, generator=gen(4))  # not exactly reachable by G
    mask = torch.cat([center(1, 32), half(1, 32, side="bottom")])
    res = complete(prior, y, mask, config=CompleteConfig(num_steps=3), generator=gen(0))
    completed = blend(res.fake, y, mask, method=method)
    known = (mask > 0.5).expand_as(y)
    assert torch.equal(completed[known], y[known])
    assert not torch.equal(completed[~known], y[~known])


def test_restarts_keep_lowest_final_loss(gd, prior):
    G, D = gd
    _, y = target(G, 2, seed=5)
    mask = center(1, 32)
    z0 = torch.randn(2, 3, Z, generator=gen(6))
    cfg = CompleteConfig(num_steps=10, lr=0.05, restarts=3)
    res = complete(prior, y, mask, config=cfg, z_init=z0)
    single = [complete(prior, y, mask, config=CompleteConfig(num_steps=10, lr=0.05), z_init=z0[:, k]) for k in range(3)]
    finals = torch.stack([s.losses[-1] for s in single], dim=1)  # (N, restarts)
    assert torch.equal(res.restart, finals.argmin(dim=1))
    assert torch.allclose(res.losses[-1], finals.min(dim=1).values, rtol=1e-4, atol=1e-6)
    for i in range(2):
        k = res.restart[i].item()
        assert torch.allclose(res.z[i], single[k].z[i], atol=1e-4)
        assert torch.allclose(res.losses[:, i], single[k].losses[:, i], rtol=1e-4, atol=1e-6)
    assert len(set(finals.flatten().tolist())) == 6  # the restarts really differ


def test_batch_independence(gd):
    G, D = gd
    _, y = target(G, 2, seed=7)
    mask = torch.cat([center(1, 32), half(1, 32)])
    z0 = torch.randn(2, Z, generator=gen(8))
    cfg = CompleteConfig(num_steps=15, lr=0.05)
    G.train(), D.train()  # the prior's copies must be in eval mode: batch-norm batch statistics would couple images
    try:
        prior = DCGANPrior(G, D)
    finally:
        G.eval(), D.eval()
    both = complete(prior, y, mask, config=cfg, z_init=z0)
    alone = complete(prior, y[:1], mask[:1], config=cfg, z_init=z0[:1])
    assert torch.allclose(both.z[:1], alone.z, atol=1e-5)
    assert torch.allclose(both.losses[:, :1], alone.losses, rtol=1e-5, atol=1e-6)
    assert torch.allclose(both.fake[:1], alone.fake, atol=1e-5)


def test_reproducible_with_generator(gd, prior):
    G, D = gd
    _, y = target(G, 1, seed=9)
    cfg = CompleteConfig(num_steps=5, restarts=2)
    a = complete(prior, y, center(1, 32), config=cfg, generator=gen(11))
    b = complete(prior, y, center(1, 32), config=cfg, generator=gen(11))
    c = complete(prior, y, center(1, 32), config=cfg, generator=gen(12))
    assert torch.equal(a.z, b.z) and torch.equal(a.fake, b.fake)
    assert not torch.equal(a.z, c.z)


def test_models_unchanged_and_modes_restored(gd):
    G, D = gd
    G.train()  # caller's state: G training with grads, D eval without grads on one layer
    D.eval()
    frozen = next(D.parameters())
    frozen.requires_grad_(False)
    before = [(k, v.clone()) for k, v in [*G.state_dict().items(), *D.state_dict().items()]]
    _, y = target(G.eval(), 1, seed=10)
    G.train()
    complete(DCGANPrior(G, D), y, center(1, 32), config=CompleteConfig(num_steps=3), generator=gen(0))
    after = [*G.state_dict().items(), *D.state_dict().items()]
    assert all(torch.equal(v, w) for (_, v), (_, w) in zip(before, after))
    assert G.training and all(m.training for m in G.modules())
    assert not D.training
    assert all(p.requires_grad for p in G.parameters())
    assert not frozen.requires_grad and all(p.requires_grad for p in list(D.parameters())[1:])
    assert all(p.grad is None for p in [*G.parameters(), *D.parameters()])
    G.eval(), D.eval()
    frozen.requires_grad_(True)


def test_early_stop_on_converged_problem(gd, prior):
    G, D = gd
    z_star, y = target(G, 2, seed=12)
    cfg = CompleteConfig(num_steps=300, lr=1e-4, patience=5, tol=1e-2)
    res = complete(prior, y, center(1, 32), config=cfg, z_init=z_star)
    assert res.steps_run < 20
    assert res.losses.shape == (res.steps_run + 1, 2)
    no_stop = complete(prior, y, center(1, 32), config=CompleteConfig(num_steps=30, lr=1e-4), z_init=z_star)
    assert no_stop.steps_run == 30


def test_callback_and_frames_schedule(gd, prior):
    G, D = gd
    _, y = target(G, 2, seed=13)
    calls = []

    def cb(step, fake, losses):
        assert fake.shape == (2, 3, 32, 32) and losses.shape == (2,)
        calls.append(step)

    res = complete(prior, y, center(1, 32), config=CompleteConfig(num_steps=10, record_every=3), callback=cb, generator=gen(0))
    assert calls == [0, 3, 6, 9, 10]
    assert [s for s, _ in res.frames] == calls
    assert all(f.shape == (2, 3, 32, 32) for _, f in res.frames)
    known = (center(1, 32) > 0.5).expand(2, 3, 32, 32)
    assert torch.equal(res.frames[0][1][known], y[known])
    # record_every=0: no frames, callback at every step; returning True stops the search
    calls.clear()
    res = complete(
        prior,
        y,
        center(1, 32),
        config=CompleteConfig(num_steps=10),
        callback=lambda s, f, l: calls.append(s) or s == 4,
        generator=gen(0),
    )
    assert calls == [0, 1, 2, 3, 4] and res.steps_run == 4 and res.frames == []


def test_prior_support_respected(gd, prior):
    G, D = gd
    _, y = target(G, 1, seed=14)
    far = torch.full((1, Z), 5.0)  # outside both supports: projected at the start and after every step
    uniform = DCGANPrior(G, D, latent="uniform")
    for p, cfg, bound in [
        (uniform, CompleteConfig(num_steps=5, lr=0.01), 1.0),
        (prior, CompleteConfig(num_steps=5, lr=0.01, clip=2.0), 2.0),
    ]:
        res = complete(p, y, center(1, 32), config=cfg, z_init=far)
        assert res.z.max() <= bound and res.z.min() >= bound - 5 * 0.0101
    # huge Adam steps (~2 per coordinate) end on the boundary, never beyond it
    res = complete(prior, y, center(1, 32), config=CompleteConfig(num_steps=5, lr=2.0, clip=0.5), generator=gen(0))
    assert res.z.abs().max() <= 0.5 and (res.z.abs() == 0.5).any()


def test_all_missing_mask_is_sampling(gd, prior):
    G, D = gd
    _, y = target(G, 1, seed=15)
    res = complete(prior, y, torch.zeros(1, 1, 32, 32), config=CompleteConfig(num_steps=2), generator=gen(0))
    assert torch.equal(res.contextual, torch.zeros(3, 1))
    assert torch.allclose(blend(res.fake, y, torch.zeros(1, 1, 32, 32)), res.fake)


def test_validation_errors(gd, prior):
    G, D = gd
    _, y = target(G, 2, seed=16)
    m = center(1, 32)
    cfg = CompleteConfig(num_steps=1)
    bad = [
        (y[:, :, :16, :16], m, "32"),  # wrong resolution
        (y[:, :1], m, "images"),  # wrong channels
        (y, center(1, 16), "masks"),
        (y, center(3, 32), "masks"),
        (y, torch.ones(1, 1, 32, 32), "no hole"),
        (y, m * 0.5, "0 .hole. or 1"),
        ((y + 1) * 127.5, m, "127.5"),
    ]
    for images, masks, msg in bad:
        with pytest.raises(GanfillError, match=msg):
            complete(prior, images, masks, config=cfg)
    with pytest.raises(GanfillError, match="z_init"):
        complete(prior, y, m, config=cfg, z_init=torch.zeros(2, 5))
    with pytest.raises(GanfillError, match="Prior"):
        complete(G, y, m, config=cfg)  # the pre-Prior signature complete(G, D, ...) is a clear error
    for kw in [
        dict(window=4),
        dict(restarts=0),
        dict(contextual="l3"),
        dict(lam=float("inf")),
        dict(lr=float("nan")),
        dict(lam=-1.0),
        dict(clip=0.0),
    ]:
        with pytest.raises(GanfillError):
            CompleteConfig(**kw)
    assert math.isclose(CompleteConfig().lam, 0.003)
    from ganfill.inpainting.config import PAPER_SCHEDULE

    paper = PAPER_SCHEDULE
    assert (paper.num_steps, paper.lr, paper.schedule, paper.restarts, paper.lam) == (1500, 0.01, "constant", 1, 0.003)


@pytest.mark.parametrize("arch", ["dcgan", "paper"])
@pytest.mark.parametrize("resolution", [32, 64])
def test_inference_copy_is_the_same_function(arch, resolution):
    """Batch norm folded, the dcgan first layer as a matmul, the last layer in sub-pixel form,
    channels_last: the same outputs and input gradients, originals untouched."""
    from ganfill.models.fast import _NHWCHead, _NHWCLinear, _SubPixel, inference_copy

    torch.manual_seed(1)
    G, D = build(ModelConfig(arch=arch, resolution=resolution, z_dim=Z, g_width=8, d_width=8))
    G.train(), D.train()
    with torch.no_grad():  # realistic batch-norm statistics
        D(G(torch.randn(64, Z, generator=gen(3))))
    G.eval(), D.eval()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    Gf, Df = inference_copy(G), inference_copy(D)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in [*Df.modules()])
    assert any(isinstance(m, _SubPixel) for m in Gf.modules())
    assert any(isinstance(m, _NHWCLinear) for m in Gf.modules()) == (arch == "dcgan")
    assert any(isinstance(m, _NHWCHead) for m in Df.modules()) == (arch == "dcgan")
    assert not any(p.requires_grad for p in [*Gf.parameters(), *Df.parameters()])
    z = torch.randn(5, Z, generator=gen(7))
    za, zb = z.clone().requires_grad_(True), z.clone().requires_grad_(True)
    ours, ref = Df(Gf(za)), D(G(zb))
    torch.testing.assert_close(Gf(z), G(z), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=1e-4)
    ours.sum().backward(), ref.sum().backward()
    torch.testing.assert_close(za.grad, zb.grad, atol=1e-5, rtol=1e-4)
    assert all(torch.equal(v, before[k]) for k, v in G.state_dict().items())
    assert not G.training and all(p.requires_grad for p in G.parameters())


def test_bf16_prior_tracks_fp32(gd):
    """bf16 layers, float32 interface: decode and realism_logits agree with fp32 to bf16 precision."""
    from ganfill.core.runtime import Runtime

    G, D = gd
    z = torch.randn(4, Z, generator=gen(9))
    p32, p16 = DCGANPrior(G, D), DCGANPrior(G, D, runtime=Runtime(dtype=torch.bfloat16))
    with torch.no_grad():
        a, b = p32.decode(z), p16.decode(z)
        assert a.dtype == b.dtype == torch.float32
        assert (a - b).abs().max() < 0.05 * a.abs().max()
        la, lb = p32.realism_logits(a), p16.realism_logits(a)
        assert lb.dtype == torch.float32 and (la - lb).abs().max() < 0.05 * la.abs().max() + 0.05


def test_cosine_schedule_decays_to_zero_and_still_fits(gd, prior):
    G, D = gd
    target = G.eval()(torch.randn(2, Z, generator=gen(5))).detach()
    mask = center(2, 32)
    cfg = CompleteConfig(num_steps=60, lr=0.05, schedule="cosine", restarts=1)
    res = complete(prior, target, mask, config=cfg, generator=gen(1))
    assert res.losses[-1].mean() < 0.5 * res.losses[0].mean()
    # with lr decayed to 0 the last steps barely move z: the last two losses nearly agree
    assert torch.allclose(res.losses[-1], res.losses[-2], rtol=1e-3)
    with pytest.raises(GanfillError, match="schedule"):
        CompleteConfig(schedule="linear")
