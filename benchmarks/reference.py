"""The plain PyTorch reference ganfill's speed is measured against.

This is what a user would write from the pytorch/examples DCGAN recipe and the two source
documents, with no tuning: eager fp32, default (NCHW) memory format, the pytorch/examples
networks (nn.Sequential, sigmoid at the end of D, BCELoss), one discriminator step to two
generator steps (the research paper), and for inpainting Yeh et al.'s search as published:
Adam on z at lr 0.01 for 1500 iterations, one restart, importance-weighted L1 contextual loss
plus 0.003 * log(1 - D(G(z))).  It is deliberately *not* a strawman: G and D are frozen with
``requires_grad_(False)`` during the search (so no weight gradients are computed), and training
reads the same in-memory uint8 batches as ganfill (no JPEG decoding).

The networks have exactly the shapes of ganfill's ``dcgan`` preset, so ganfill's weights load
into them (``from_ganfill``) and both sides of a benchmark run the same model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class NetG(nn.Module):
    """pytorch/examples dcgan Generator (64x64): nz -> 3x64x64."""

    def __init__(self, nz: int = 100, ngf: int = 64, nc: int = 3):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),
            nn.Tanh(),
        )

    def forward(self, z):  # z: (N, nz, 1, 1)
        return self.main(z)


class NetD(nn.Module):
    """pytorch/examples dcgan Discriminator (64x64): 3x64x64 -> probability (N,)."""

    def __init__(self, ndf: int = 64, nc: int = 3):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),
            nn.Sigmoid(),
        )

    def forward(self, x):
        return self.main(x).view(-1, 1).squeeze(1)


def from_ganfill(G: nn.Module, D: nn.Module) -> tuple[NetG, NetD]:
    """Reference networks holding the weights of a ganfill ``dcgan`` 64x64 pair (same order, same shapes)."""
    c = G.config
    netG, netD = NetG(c.z_dim, c.g_width, c.channels), NetD(c.d_width, c.channels)
    for ours, ref in ((G, netG), (D, netD)):
        src = list(ours.state_dict().values())
        dst = ref.state_dict()
        assert [t.shape for t in src] == [t.shape for t in dst.values()], "architectures differ"
        ref.load_state_dict(dict(zip(dst, (t.float() for t in src))))
    return netG, netD


def train_steps(
    netG: NetG,
    netD: NetD,
    images: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 2e-4,
    g_steps: int = 2,
    seed: int = 0,
) -> None:
    """pytorch/examples' training loop with the paper's 1 D : ``g_steps`` G schedule.

    images: uint8 (N, H, W, 3) in memory; each step draws a random batch.
    """
    gen = torch.Generator().manual_seed(seed)
    criterion = nn.BCELoss()
    optD = torch.optim.Adam(netD.parameters(), lr=lr, betas=(0.5, 0.999))
    optG = torch.optim.Adam(netG.parameters(), lr=lr, betas=(0.5, 0.999))
    nz = netG.main[0].in_channels
    netG.train(), netD.train()
    for _ in range(steps):
        idx = torch.randint(len(images), (batch_size,), generator=gen)
        real = images[idx].permute(0, 3, 1, 2).float() / 127.5 - 1  # (B, 3, H, W)
        real_label = torch.full((batch_size,), 1.0)
        fake_label = torch.full((batch_size,), 0.0)
        # (1) update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        errD_real = criterion(netD(real), real_label)
        errD_real.backward()
        fake = netG(torch.randn(batch_size, nz, 1, 1, generator=gen))
        errD_fake = criterion(netD(fake.detach()), fake_label)
        errD_fake.backward()
        optD.step()
        # (2) update G: maximize log(D(G(z))), g_steps times (the first reuses the fake above)
        for k in range(g_steps):
            if k > 0:
                fake = netG(torch.randn(batch_size, nz, 1, 1, generator=gen))
            netG.zero_grad()
            errG = criterion(netD(fake), real_label)
            errG.backward()
            optG.step()


def importance_weights(mask: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s W: for known pixels, the fraction of missing pixels in the window; 0 in the hole."""
    ones = torch.ones(1, 1, window, window)
    return mask * F.conv2d(1 - mask, ones, padding=window // 2) / window**2


def inpaint(
    netG: NetG,
    netD: NetD,
    y: torch.Tensor,
    mask: torch.Tensor,
    z: torch.Tensor,
    *,
    steps: int = 1500,
    lr: float = 0.01,
    lam: float = 0.003,
    callback=None,
) -> torch.Tensor:
    """Yeh et al.'s latent search, as published; returns G(z^) (N, 3, H, W).

    y: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W), 1 = known; z: (N, nz) initial latents.
    callback(step, fake) is called after every step (for quality-over-time curves).
    """
    netG.eval(), netD.eval()
    netG.requires_grad_(False), netD.requires_grad_(False)
    W = importance_weights(mask)
    z = z.clone().view(len(z), -1, 1, 1).requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for step in range(steps):
        fake = netG(z)
        contextual = (W * (fake - y).abs()).sum(dim=(1, 2, 3))
        perceptual = torch.log(1 - netD(fake) + 1e-8)
        loss = (contextual + lam * perceptual).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            z.clamp_(-3, 3)
        if callback is not None:
            callback(step + 1, z)
    with torch.no_grad():
        return netG(z)


def discriminator_features(netD: NetD, x: torch.Tensor) -> list[torch.Tensor]:
    """The activations after each LeakyReLU of the pytorch/examples discriminator (4 at 64x64)."""
    feats = []
    for layer in netD.main:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            feats.append(x)
    return feats


def adapt(
    netG: NetG,
    netD: NetD,
    y: torch.Tensor,
    mask: torch.Tensor,
    z: torch.Tensor,
    *,
    steps: int = 100,
    lr_g: float = 1e-4,
    lr_z: float = 1e-3,
    w_features: float = 1.0,
    callback=None,
) -> torch.Tensor:
    """The unoptimised prototype of the adaptive prior (DGP, Pan et al. 2020, as issue 26 first
    tried it): for each image on its own, a copy of G fine-tuned together with z by Adam (G at
    ``lr_g``, z at ``lr_z``) for ``steps`` steps on the mean squared error over the known
    pixels plus ``w_features`` x the L1 distance between D's features of the masked fake and
    the masked image; eager fp32, batch 1.  Returns the adapted G(z) (N, 3, H, W).

    y: (N, 3, H, W) in [-1, 1]; mask: (N, 1, H, W), 1 = known; z: (N, nz) starting latents
    (the search's z^).  callback(i, step, fake) is called after every step of image i.
    """
    import copy

    netD.eval()
    netD.requires_grad_(False)
    out = []
    for i in range(len(y)):
        G = copy.deepcopy(netG).eval().requires_grad_(True)
        yi, mi = y[i : i + 1], mask[i : i + 1]
        zi = z[i : i + 1].clone().view(1, -1, 1, 1).requires_grad_(True)
        opt = torch.optim.Adam([{"params": G.parameters(), "lr": lr_g}, {"params": [zi], "lr": lr_z}])
        target = [f.detach() for f in discriminator_features(netD, yi * mi)]
        for step in range(steps):
            fake = G(zi)
            mse = ((fake - yi) ** 2 * mi).sum() / (mi.sum() * 3)
            feats = discriminator_features(netD, fake * mi)
            loss = mse + w_features * sum((a - b).abs().mean() for a, b in zip(feats, target))
            opt.zero_grad()
            loss.backward()
            opt.step()
            if callback is not None:
                callback(i, step + 1, fake.detach())
        with torch.no_grad():
            out.append(G(zi))
    return torch.cat(out)
