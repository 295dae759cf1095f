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

import copy
import math
from dataclasses import asdict, dataclass, fields
from numbers import Integral

import torch
from torch import nn

from ganfill.checks import integer
from ganfill.errors import GanfillError

ARCHS = ("dcgan", "paper", "gan")
RESOLUTIONS = (32, 64, 128)
LIMITS = {"z_dim": 4096, "g_width": 1024, "d_width": 1024, "channels": 4}  # the largest sane value of each


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild G and D; saved with every checkpoint.

    arch: ``dcgan`` or ``paper``.  resolution: 32, 64 or 128 (square images).
    z_dim: size of the latent vector (100 in both source documents).
    g_width / d_width: channels of G's last hidden layer / D's first layer (64 in DCGAN);
    each step towards 4x4 doubles them.  channels: image channels (3, RGB).
    Every field is checked for type and range (``LIMITS``): a config comes from the command line,
    options.json or a checkpoint's metadata, and z_dim 1e9 would try to allocate terabytes.
    """

    arch: str = "dcgan"
    resolution: int = 64
    z_dim: int = 100
    g_width: int = 64
    d_width: int = 64
    channels: int = 3

    def __post_init__(self):
        if not isinstance(self.arch, str) or self.arch not in ARCHS:
            raise GanfillError(f"unknown preset {self.arch!r}: choose one of {', '.join(ARCHS)}")
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, Integral) or self.resolution not in RESOLUTIONS:
            raise GanfillError(
                f"impossible resolution {self.resolution}: choose one of "
                f"{', '.join(map(str, RESOLUTIONS))}"
            )
        for name, hi in LIMITS.items():
            integer(getattr(self, name), name, lo=1, hi=hi)

    @property
    def n_up(self) -> int:
        """Number of stride-2 layers between 4x4 and the full resolution."""
        return int(math.log2(self.resolution // 4))

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        if not isinstance(d, dict):
            raise GanfillError(f"a model config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise GanfillError(f"model config has unknown fields {sorted(unknown)}: was it written by a newer ganfill?")
        return cls(**d)


def _init_weights(module: nn.Module) -> None:
    """DCGAN initialisation: N(0, 0.02) weights, batch norm gamma N(1, 0.02), zero biases."""
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


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
            self.body = nn.Sequential(nn.Linear(hidden, hidden, bias=False), nn.BatchNorm1d(hidden), nn.ReLU(True),
                                      nn.Linear(hidden, pixels), nn.Tanh(),
                                      nn.Unflatten(1, (c.channels, c.resolution, c.resolution)))
            self.apply(_init_weights)
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
            layers += [
                nn.ConvTranspose2d(ch, ch // 2, kernel, 2, pad, out_pad, bias=False),
                nn.BatchNorm2d(ch // 2),
                act(),
            ]
            ch //= 2
        # pytorch/examples' DCGAN has no biases at all; the paper's (TensorFlow) layers keep them
        layers += [nn.ConvTranspose2d(ch, c.channels, kernel, 2, pad, out_pad, bias=c.arch == "paper"), nn.Tanh()]
        self.body = nn.Sequential(*layers)
        self.apply(_init_weights)

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
            self.body = nn.Sequential(nn.Flatten(1), nn.Linear(pixels, hidden), nn.LeakyReLU(0.2, True),
                                      nn.Linear(hidden, hidden), nn.LeakyReLU(0.2, True))
            self.head = nn.Sequential(nn.Linear(hidden, 1), nn.Flatten(0))
            self.apply(_init_weights)
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
        self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert x.ndim == 4 and x.shape[1:] == (self.config.channels, r, r), x.shape
        return self.head(self.body(x))  # (N,)


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


class Encoder(nn.Module):
    """(image, mask) -> z: amortised inversion of G (Zhu et al. 2020's in-domain encoder, for holes).

    images (N, C, R, R) in [-1, 1] (the hole's content is ignored: it is zeroed here) and masks
    (N, 1, R, R) with 1 = known -> z (N, z_dim) in (-clip, clip), the support the latent search
    projects onto.  The body is the dcgan discriminator's (4x4 stride-2 convolutions, batch norm,
    LeakyReLU; width ``d_width``) on C + 1 input channels; a fully connected layer maps the
    4x4 features to z, squashed by ``clip * tanh(h / clip)``.
    """

    def __init__(self, config: ModelConfig, *, clip: float = 3.0):
        super().__init__()
        self.config, self.clip = config, float(clip)
        c = config
        self.body = masked_image_encoder(c.channels, c.d_width, c.n_up)  # (N, d_width * 2**(n_up-1), 4, 4)
        self.head = nn.Sequential(nn.Flatten(1), nn.Linear(c.d_width * 2 ** (c.n_up - 1) * 16, c.z_dim))
        self.apply(_init_weights)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert images.shape[1:] == (self.config.channels, r, r) and masks.shape[1:] == (1, r, r), (images.shape, masks.shape)
        x = torch.cat([images * masks, masks * 2.0 - 1.0], dim=1)  # (N, C + 1, R, R)
        h = self.head(self.body(x))  # (N, z_dim)
        return self.clip * torch.tanh(h / self.clip)


@dataclass(frozen=True)
class CEConfig:
    """Everything needed to rebuild a ``ContextEncoder``; saved with its weights.

    resolution: 32, 64 or 128.  channels: image channels (3).  width: channels of the
    encoder's first layer and of the decoder's last hidden one, doubled at each step towards
    4x4 (64: 64-128-256-512, Pathak et al.'s).  bottleneck: size of the channel-wise fully
    connected code between them (Pathak et al.: 4000; 256 keeps the shipped file at 20 MB in
    fp16, 4000 would be 10x that).  adv_width: width of the DCGAN discriminator of the
    adversarial loss (training only, never shipped; 32 keeps it from costing more than the
    network it trains).
    """

    resolution: int = 64
    channels: int = 3
    width: int = 64
    bottleneck: int = 256
    adv_width: int = 32

    def __post_init__(self):
        if isinstance(self.resolution, bool) or not isinstance(self.resolution, Integral) or self.resolution not in RESOLUTIONS:
            raise GanfillError(f"impossible resolution {self.resolution}: choose one of {', '.join(map(str, RESOLUTIONS))}")
        integer(self.channels, "channels", lo=1, hi=LIMITS["channels"])
        for name in ("width", "bottleneck", "adv_width"):
            integer(getattr(self, name), name, lo=1, hi=LIMITS["g_width"] * 4)

    @property
    def n_up(self) -> int:
        return int(math.log2(self.resolution // 4))

    def discriminator(self) -> ModelConfig:
        """The config of the adversarial loss's discriminator (a dcgan D of ``adv_width``)."""
        return ModelConfig(resolution=self.resolution, channels=self.channels, d_width=self.adv_width)

    to_dict = ModelConfig.to_dict

    @classmethod
    def from_dict(cls, d: dict) -> "CEConfig":
        return ModelConfig.from_dict.__func__(cls, d)


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
            nn.Conv2d(top, c.bottleneck, 4, 1, 0, bias=False), nn.BatchNorm2d(c.bottleneck), nn.LeakyReLU(0.2, True),
            nn.ConvTranspose2d(c.bottleneck, top, 4, 1, 0, bias=False), nn.BatchNorm2d(top), nn.ReLU(True))
        dec: list[nn.Module] = []
        ch = top
        for _ in range(c.n_up - 1):  # each doubles the side and halves the channels
            dec += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        dec += [nn.ConvTranspose2d(ch, c.channels, 4, 2, 1), nn.Tanh()]
        self.decoder = nn.Sequential(*dec)  # (N, C, R, R)
        self.apply(_init_weights)

    def forward(self, images: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
        r = self.config.resolution
        assert images.shape[1:] == (self.config.channels, r, r) and masks.shape[1:] == (1, r, r), (images.shape, masks.shape)
        x = torch.cat([images * masks, masks * 2.0 - 1.0], dim=1)  # (N, C + 1, R, R)
        return self.decoder(self.code(self.encoder(x)))  # (N, C, R, R)


def build(config: ModelConfig) -> tuple[Generator, Discriminator]:
    return Generator(config), Discriminator(config)


def ema_copy(G: Generator) -> Generator:
    """A frozen copy of G to hold the exponential moving average of its weights."""
    G_ema = copy.deepcopy(G).eval()
    G_ema.requires_grad_(False)
    return G_ema


@torch.no_grad()
def ema_update(G_ema: nn.Module, G: nn.Module, *, decay: float = 0.999) -> None:
    """G_ema <- decay * G_ema + (1 - decay) * G for parameters; buffers (BN statistics) are copied."""
    for p_ema, p in zip(G_ema.parameters(), G.parameters()):
        p_ema.lerp_(p.detach().to(p_ema.dtype), 1.0 - decay)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)
