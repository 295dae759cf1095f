"""The context encoder (Pathak et al. 2016): the CNN of the paper's comparison, one pass from known pixels to the whole image."""

from __future__ import annotations

import torch
from torch import nn

from ganfill.core.runtime import Runtime
from ganfill.data.domain import Domain
from ganfill.models.config import CEConfig
from ganfill.models.layers import init_weights, masked_image_encoder
from ganfill.models.prior import OnePass
from ganfill.models.registry import Model


class ContextEncoder(nn.Module):
    """(image, mask) -> the whole image in one pass (Pathak et al., CVPR 2016, "Context Encoders").

    images (N, C, R, R) in [-1, 1] (the hole's content is ignored: zeroed here), masks
    (N, 1, R, R) with 1 = known -> (N, C, R, R) in [-1, 1]; callers keep its hole only.
    Encoder: 4x4 stride-2 convolutions (batch norm except the first, LeakyReLU(0.2)) from
    C + 1 channels (the masked image and the mask) down to 4x4; the code: a 4x4 convolution to
    ``bottleneck`` channels at 1x1 (a fully connected layer over the 4x4 map) and back by a 4x4
    transposed convolution; decoder: the dcgan generator's stride-2 transposed convolutions
    with batch norm and ReLU, tanh output.
    """

    def __init__(self, config: CEConfig):
        super().__init__()
        self.config = c = config
        top = c.width * 2 ** (c.n_up - 1)  # channels at 4x4: 512 for width 64 at 64x64
        self.encoder = masked_image_encoder(c.channels, c.width, c.n_up)  # (N, top, 4, 4)
        self.code = nn.Sequential(  # (N, top, 4, 4) -> (N, bottleneck, 1, 1) -> (N, top, 4, 4)
            nn.Conv2d(top, c.bottleneck, 4, 1, 0, bias=False),
            nn.BatchNorm2d(c.bottleneck),
            nn.LeakyReLU(0.2, True),
            nn.ConvTranspose2d(c.bottleneck, top, 4, 1, 0, bias=False),
            nn.BatchNorm2d(top),
            nn.ReLU(True),
        )
        dec: list[nn.Module] = []
        ch = top
        for _ in range(c.n_up - 1):  # each doubles the side and halves the channels
            dec += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        dec += [nn.ConvTranspose2d(ch, c.channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)  # (N, C, R, R)
        self.apply(init_weights)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert images.shape[1:] == (self.config.channels, r, r) and masks.shape[1:] == (1, r, r), (images.shape, masks.shape)
        x = torch.cat([images * masks, masks * 2.0 - 1.0], dim=1)  # (N, C + 1, R, R)
        return self.decoder(self.code(self.encoder(x)))  # (N, C, R, R)


class ContextEncoderModel(Model):
    """A context encoder's model file: the network (``CE``: the EMA weights of a training run);
    its predictor is a ``OnePass`` (``mirrored`` when the network was trained on flipped images)."""

    kind, title, config_class, config_key, roles = "context-encoder", "context encoder", CEConfig, "ce_config", ("CE",)

    @classmethod
    def networks(cls, config: CEConfig, roles: set[str], meta: dict) -> dict[str, nn.Module]:
        return {"CE": ContextEncoder(config)}

    @classmethod
    def from_nets(cls, CE: ContextEncoder, *, domain: Domain = Domain()) -> ContextEncoderModel:
        """A model (unsaved) of a network in hand."""
        return cls(CE.config, {"CE": CE}, domain=domain)

    CE = property(lambda self: self.nets["CE"])

    @property
    def mirrored(self) -> bool:
        """Whether training flipped the images left-right (its training options say so)."""
        return bool(self.training_options.get("flip", False))

    def predictor(self, runtime: Runtime = Runtime()) -> OnePass:
        return self.inference(
            "predictor", runtime, lambda: OnePass(self.CE, domain=self.domain, runtime=runtime, mirrored=self.mirrored)
        )

    def card_rows(self, sizes: dict[str, int]) -> list[str]:
        c, r = self.config, self.config.resolution
        return [
            f"| architecture | context encoder (Pathak et al. 2016), {r}x{r} RGB, width {c.width}, code {c.bottleneck} |",
            f"| parameters | {sizes['CE']:,} |",
        ]
