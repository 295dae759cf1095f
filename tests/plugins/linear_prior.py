"""A prior from outside the package: one linear layer from z to the image, as a model kind."""

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ganfill.models.registry import Model, register_kind


@dataclass(frozen=True)
class LinearConfig:
    resolution: int = 16
    z_dim: int = 4
    channels: int = 3
    to_dict = asdict
    from_dict = classmethod(lambda cls, d: cls(**d))


class LinearPrior:  # the Prior interface: tanh(W z) decodes, darker images look "more real"
    has_encoder = False

    def __init__(self, W, config, domain, runtime):
        self.W, self.domain, self.runtime = W.requires_grad_(False), domain, runtime
        self.z_dim, self.resolution, self.channels = config.z_dim, config.resolution, config.channels

    def sample_z(self, n, *, generator=None):
        return torch.randn(n, self.z_dim, generator=generator)

    @torch.no_grad()
    def project(self, z, *, clip):
        return z if clip is None else z.clamp_(-clip, clip)

    def decode(self, z):
        return torch.tanh(self.W(z)).view(len(z), self.channels, self.resolution, self.resolution)

    def realism_logits(self, images):
        return -images.mean(dim=(1, 2, 3))

    def encode(self, images, masks):
        return None


@register_kind
class LinearModel(Model):
    kind, title, config_class, roles = "linear", "linear prior", LinearConfig, ("W",)

    @classmethod
    def networks(cls, config, roles, meta):
        return {"W": nn.Linear(config.z_dim, config.channels * config.resolution**2)}

    def prior(self, runtime):
        return LinearPrior(self.nets["W"], self.config, self.domain, runtime)
