"""Building blocks shared by the networks: DCGAN initialisation and the masked-image encoder body."""

from __future__ import annotations

from torch import nn


def init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, batch norm gamma N(1, 0.02), zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def masked_image_encoder(channels: int, width: int, n_down: int) -> nn.Sequential:
    """(N, channels + 1, R, R) (a masked image and its mask) -> (N, width * 2**(n_down-1), R / 2**n_down, ...):
    the dcgan discriminator's body, 4x4 stride-2 convolutions with batch norm (not on the first,
    which has a bias instead) and LeakyReLU(0.2), each halving the side and doubling the channels."""
    layers: list[nn.Module] = []
    ch_in, ch = channels + 1, width
    for i in range(n_down):
        layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=i == 0))
        if i > 0:
            layers.append(nn.BatchNorm2d(ch))
        layers.append(nn.LeakyReLU(0.2, True))
        ch_in, ch = ch, ch * 2
    return nn.Sequential(*layers)
