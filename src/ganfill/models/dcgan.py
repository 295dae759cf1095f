"""DCGAN generator and discriminator, in two presets.

* ``dcgan``: Radford et al. 2015 (and pytorch/examples): G is a stack of 4x4 stride-2
  transposed convolutions with batch norm and ReLU, tanh output; D is a stack of 4x4
  stride-2 convolutions with batch norm (not on the first layer) and LeakyReLU(0.2).
* ``paper``: "Research on Image Repair Based on DCGAN" (Huang & Li): z goes through a fully
  connected layer to 4x4x(8*width), then 5x5 stride-2 transposed convolutions with batch norm
  and LeakyReLU, tanh output; D is 5x5 stride-2 convolutions with batch norm and ReLU, then
  flatten and a fully connected layer to one output.
* ``gan``: the plain GAN the paper compares against (Goodfellow et al. 2014): G and D are
  fully connected networks (two hidden layers of ``16 * width`` units; G with batch norm and
  ReLU, tanh output; D with LeakyReLU(0.2)), no convolutions at all.

``ContextEncoder`` is the CNN of the paper's comparison (Pathak et al. 2016): an
encoder-decoder that maps the known pixels straight to the whole image in one pass.

Both discriminators return *logits* of shape (N,); the sigmoid of the papers is applied inside
the losses (``binary_cross_entropy_with_logits``, ``logsigmoid``), which is the numerically
stable form of the same function.
"""

from __future__ import annotations

import torch
from torch import nn

from ganfill.core.constants import LATENT_CLIP
from ganfill.core.runtime import Runtime
from ganfill.data.domain import Domain
from ganfill.models.config import ModelConfig
from ganfill.models.layers import init_weights
from ganfill.models.prior import DCGANPrior
from ganfill.models.registry import Model


class Generator(nn.Module):
    """z (N, z_dim) -> image (N, C, R, R) in [-1, 1]."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        top = c.g_width * 2 ** (c.n_up - 1)  # channels at 4x4: 512 for width 64 at 64x64
        layers: list[nn.Module] = []
        if c.arch == "gan":
            hidden, pixels = 16 * c.g_width, c.channels * c.resolution**2
            # (N, z) -> (N, hidden) -> (N, hidden) -> (N, C*R*R) -> (N, C, R, R)
            self.project = nn.Sequential(nn.Linear(c.z_dim, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True))
            self.body = nn.Sequential(
                nn.Linear(hidden, hidden, bias=False),
                nn.BatchNorm1d(hidden),
                nn.ReLU(True),
                nn.Linear(hidden, pixels),
                nn.Tanh(),
                nn.Unflatten(1, (c.channels, c.resolution, c.resolution)),
            )
            self.apply(init_weights)
            return
        if c.arch == "dcgan":
            # (N, z, 1, 1) -> (N, top, 4, 4)
            self.project = nn.Sequential(
                nn.Unflatten(1, (c.z_dim, 1, 1)),
                nn.ConvTranspose2d(c.z_dim, top, 4, 1, 0, bias=False),
                nn.BatchNorm2d(top),
                nn.ReLU(True),
            )
            kernel, pad, out_pad, act = 4, 1, 0, lambda: nn.ReLU(True)
        else:
            # (N, z) -> (N, top*16) -> (N, top, 4, 4)
            self.project = nn.Sequential(
                nn.Linear(c.z_dim, top * 16, bias=False),
                nn.Unflatten(1, (top, 4, 4)),
                nn.BatchNorm2d(top),
                nn.LeakyReLU(0.2, True),
            )
            kernel, pad, out_pad, act = 5, 2, 1, lambda: nn.LeakyReLU(0.2, True)
        ch = top
        for _ in range(c.n_up - 1):  # each doubles the side and halves the channels
            layers += [nn.ConvTranspose2d(ch, ch // 2, kernel, 2, pad, out_pad, bias=False), nn.BatchNorm2d(ch // 2), act()]
            ch //= 2
        # pytorch/examples' DCGAN has no biases at all; the paper's (TensorFlow) layers keep them
        layers += [nn.ConvTranspose2d(ch, c.channels, kernel, 2, pad, out_pad, bias=c.arch == "paper"), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.apply(init_weights)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        assert z.ndim == 2 and z.shape[1] == self.config.z_dim, z.shape
        return self.body(self.project(z))  # (N, C, R, R)


class Discriminator(nn.Module):
    """image (N, C, R, R) in [-1, 1] -> logits (N,)."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        c = config
        layers: list[nn.Module] = []
        if c.arch == "gan":
            hidden, pixels = 16 * c.d_width, c.channels * c.resolution**2
            # (N, C, R, R) -> (N, C*R*R) -> (N, hidden) -> (N, hidden) -> (N,)
            self.body = nn.Sequential(
                nn.Flatten(1),
                nn.Linear(pixels, hidden),
                nn.LeakyReLU(0.2, True),
                nn.Linear(hidden, hidden),
                nn.LeakyReLU(0.2, True),
            )
            self.head = nn.Sequential(nn.Linear(hidden, 1), nn.Flatten(0))
            self.apply(init_weights)
            return
        ch_in, ch = c.channels, c.d_width
        for i in range(c.n_up):  # each halves the side and doubles the channels
            if c.arch == "dcgan":
                layers.append(nn.Conv2d(ch_in, ch, 4, 2, 1, bias=False))
                if i > 0:
                    layers.append(nn.BatchNorm2d(ch))
                layers.append(nn.LeakyReLU(0.2, True))
            else:
                layers += [nn.Conv2d(ch_in, ch, 5, 2, 2, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
            ch_in, ch = ch, ch * 2
        self.body = nn.Sequential(*layers)  # (N, ch_in, 4, 4)
        if c.arch == "dcgan":
            self.head = nn.Sequential(nn.Conv2d(ch_in, 1, 4, 1, 0, bias=False), nn.Flatten(0))
        else:
            self.head = nn.Sequential(nn.Flatten(1), nn.Linear(ch_in * 16, 1), nn.Flatten(0))
        self.apply(init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert x.ndim == 4 and x.shape[1:] == (self.config.channels, r, r), x.shape
        return self.head(self.body(x))  # (N,)


def build(config: ModelConfig) -> tuple[Generator, Discriminator]:
    return Generator(config), Discriminator(config)


class GANModel(Model):
    """A GAN model file: G (the weights to sample with: the EMA copy of a training run) and D
    (for the perceptual loss), and ``E``, the encoder of z trained for this G, when it has one
    (``E_clip`` in the metadata).  Its prior is a ``DCGANPrior`` over all three."""

    kind, title, config_class, config_key, roles = "gan", "DCGAN", ModelConfig, "model_config", ("G", "D")

    @classmethod
    def networks(cls, config: ModelConfig, roles: set[str], meta: dict) -> dict[str, nn.Module]:
        from ganfill.models.encoder import Encoder

        G, D = build(config)
        nets = {"G": G, "D": D}
        if "E" in roles:
            nets["E"] = Encoder(config, clip=float(meta.get("E_clip", LATENT_CLIP)))
        return nets

    @classmethod
    def from_nets(cls, G: Generator, D: Discriminator, E: nn.Module | None = None, *, domain: Domain = Domain()) -> GANModel:
        """A model (unsaved) of networks in hand: G, D and optionally the encoder of z."""
        return cls(G.config, {"G": G, "D": D} | ({"E": E} if E is not None else {}), domain=domain)

    G = property(lambda self: self.nets["G"])
    D = property(lambda self: self.nets["D"])
    E = property(lambda self: self.nets.get("E"))

    def file_meta(self) -> dict:
        return {"E_clip": self.E.clip} if self.E is not None else {}

    def prior(self, runtime: Runtime = Runtime()) -> DCGANPrior:
        return self.inference("prior", runtime, lambda: DCGANPrior(self.G, self.D, domain=self.domain, runtime=runtime, E=self.E))

    def card_rows(self, sizes: dict[str, int]) -> list[str]:
        c = self.config
        return [
            f"| architecture | `{c.arch}` preset, {c.resolution}x{c.resolution} RGB, z: {c.z_dim}-dim N(0, I) |",
            f"| widths | G {c.g_width}, D {c.d_width} |",
            f"| parameters | G {sizes['G']:,}, D {sizes['D']:,} |",
            "| weights | G: the EMA copy of the generator; D: the discriminator (for the perceptual loss) |",
            f"| domain | crop `{self.domain.crop}`, background {self.domain.background} |",
        ]
