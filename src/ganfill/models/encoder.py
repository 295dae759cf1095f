"""The encoder of z: amortised inversion of a generator, for images with holes."""

from __future__ import annotations

import torch
from torch import nn

from ganfill.core.constants import LATENT_CLIP
from ganfill.models.config import ModelConfig
from ganfill.models.layers import init_weights, masked_image_encoder


class Encoder(nn.Module):
    """(image, mask) -> z: amortised inversion of G (Zhu et al. 2020's in-domain encoder, for holes).

    images (N, C, R, R) in [-1, 1] (the hole's content is ignored: it is zeroed here) and masks
    (N, 1, R, R) with 1 = known -> z (N, z_dim) in (-clip, clip), the support the latent search
    projects onto.  The body is the dcgan discriminator's (4x4 stride-2 convolutions, batch norm,
    LeakyReLU; width ``d_width``) on C + 1 input channels; a fully connected layer maps the
    4x4 features to z, squashed by ``clip * tanh(h / clip)``.
    """

    def __init__(self, config: ModelConfig, *, clip: float = LATENT_CLIP):
        super().__init__()
        self.config, self.clip = config, float(clip)
        c = config
        self.body = masked_image_encoder(c.channels, c.d_width, c.n_up)  # (N, d_width * 2**(n_up-1), 4, 4)
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(c.d_width * 2 ** (c.n_up - 1) * 16, c.z_dim))
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert images.shape[1:] == (self.config.channels, r, r) and masks.shape[1:] == (1, r, r), (images.shape, masks.shape)
        x = torch.cat([images * masks, masks * 2.0 - 1.0], dim=1)  # (N, C + 1, R, R)
        h = self.head(self.body(x))  # (N, z_dim)
        return self.clip * torch.tanh(h / self.clip)
