import pytest
import torch
from torch import nn

from ganfill.core.errors import GanfillError
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import build
from ganfill.training.ema import ema_copy, ema_update


@pytest.mark.parametrize("arch", ["dcgan", "paper"])
@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_shapes_every_preset_and_resolution(arch, resolution):
    torch.manual_seed(0)
    cfg = ModelConfig(arch=arch, resolution=resolution, z_dim=16, g_width=4, d_width=4)
    G, D = build(cfg)
    z = torch.randn(3, 16)
    x = G(z)
    assert x.shape == (3, 3, resolution, resolution)
    assert x.min() >= -1 and x.max() <= 1
    assert D(x).shape == (3,)
    # the 4x4 bottleneck doubles channels per step: width * 2**(n_up-1) at 4x4 in G
    assert cfg.n_up == {32: 3, 64: 4, 128: 5}[resolution]


def test_dcgan_64_matches_radford_layer_sizes():
    G, D = build(ModelConfig())
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(m.in_channels, m.out_channels, m.kernel_size) for m in convs] == [
        (100, 512, (4, 4)),
        (512, 256, (4, 4)),
        (256, 128, (4, 4)),
        (128, 64, (4, 4)),
        (64, 3, (4, 4)),
    ]
    assert sum(isinstance(m, nn.ReLU) for m in G.modules()) == 4
    assert sum(isinstance(m, nn.LeakyReLU) for m in D.modules()) == 4
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 3  # none on the first layer
    assert sum(p.numel() for p in G.parameters()) == 3_576_704  # pytorch/examples' netG
    assert sum(p.numel() for p in D.parameters()) == 2_765_568  # pytorch/examples' netD


def test_paper_preset_follows_the_paper():
    G, D = build(ModelConfig(arch="paper"))
    fc = G.project[0]
    assert isinstance(fc, nn.Linear) and (fc.in_features, fc.out_features) == (100, 8192)  # 4*4*512
    convs = [m for m in G.modules() if isinstance(m, nn.ConvTranspose2d)]
    assert len(convs) == 4 and all(m.kernel_size == (5, 5) and m.stride == (2, 2) for m in convs)
    assert any(isinstance(m, nn.LeakyReLU) for m in G.modules()) and isinstance(G.body[-1], nn.Tanh)
    dconvs = [m for m in D.modules() if isinstance(m, nn.Conv2d)]
    assert len(dconvs) == 4 and all(m.kernel_size == (5, 5) and m.stride == (2, 2) for m in dconvs)
    assert sum(isinstance(m, nn.BatchNorm2d) for m in D.modules()) == 4
    assert sum(isinstance(m, nn.ReLU) for m in D.modules()) == 4
    head = [m for m in D.head if isinstance(m, nn.Linear)]
    assert head and head[0].in_features == 4 * 4 * 512 and head[0].out_features == 1


@pytest.mark.parametrize(
    "kwargs, words",
    [({"arch": "stylegan"}, "unknown preset"), ({"resolution": 48}, "impossible resolution"), ({"z_dim": 0}, "z_dim")],
)
def test_bad_config_is_a_clear_error(kwargs, words):
    with pytest.raises(GanfillError, match=words):
        ModelConfig(**kwargs)


def test_config_round_trip_and_unknown_fields():
    cfg = ModelConfig(arch="paper", resolution=32, z_dim=7)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(GanfillError, match="unknown fields"):
        ModelConfig.from_dict(cfg.to_dict() | {"mystery": 1})


def test_ema_update_is_a_moving_average(tiny_models):
    G, _ = tiny_models
    G_ema = ema_copy(G)
    before = [p.clone() for p in G_ema.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(1.0)
        G.project[2].running_mean.fill_(0.5)
    ema_update(G_ema, G, decay=0.9)
    for b, p_ema, p in zip(before, G_ema.parameters(), G.parameters()):
        torch.testing.assert_close(p_ema, 0.9 * b + 0.1 * p)
    assert torch.equal(G_ema.project[2].running_mean, G.project[2].running_mean)
    assert not any(p.requires_grad for p in G_ema.parameters())
