"""The plain PyTorch reference of benchmarks/ must run the very model ganfill runs."""

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import reference  # noqa: E402

from ganfill.inpaint import CompleteConfig, complete, importance_weights  # noqa: E402
from ganfill.masks import center  # noqa: E402
from ganfill.models import ModelConfig, build  # noqa: E402
from ganfill.prior import DCGANPrior  # noqa: E402


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
    ours = complete(DCGANPrior(G, D), x, m, config=CompleteConfig(num_steps=20, lr=0.01, schedule="constant"), z_init=z)
    ref = reference.inpaint(netG, netD, x, m, z, steps=20)
    torch.testing.assert_close(ref, ours.fake, atol=2e-3, rtol=0)
