"""The options of every training loop (torch-free: the command line reads them without importing torch)."""

from __future__ import annotations

from dataclasses import dataclass, fields

from ganfill.core.checks import flag, integer, number
from ganfill.core.constants import PRECISIONS
from ganfill.core.errors import GanfillError


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    """The options every training loop here takes (``TrainConfig``, ``EncoderConfig``).

    steps: iterations to train for.  batch_size: images per iteration (per D step, per process).
    lr, beta1, beta2: Adam.  flip: random horizontal flips of real images.
    checkpoint_every: iterations between checkpoints and sample grids.
    keep: training checkpoints kept (sample grids are all kept); 0 keeps every checkpoint.
    seed: seeds data order, noise, flips, masks and the fixed samples.
    precision: ``auto`` picks bf16 autocast where the hardware runs it natively (AVX-512 BF16 /
        AMX CPUs, CUDA with bf16), else fp32; ``fp32`` and ``bf16`` force one.
    channels_last: NHWC memory layout (faster on CPU for these convolutions).
    """

    steps: int = 1000
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    flip: bool = True
    checkpoint_every: int = 1000
    keep: int = 3
    seed: int = 0
    precision: str = "auto"
    channels_last: bool = True

    @classmethod
    def recorded(cls, recorded: dict, overrides: dict | None = None):
        """The options recorded in options.json or a model file's metadata (keys of other
        versions ignored), then ``overrides`` (e.g. a larger ``steps``)."""
        names = {f.name for f in fields(cls)}
        return cls(**({k: v for k, v in recorded.items() if k in names} | (overrides or {})))

    def check(self, *, counts: tuple[str, ...] = (), fractions: tuple[str, ...] = ()) -> None:
        """Types and ranges (options come from the command line or options.json): steps,
        batch_size, checkpoint_every and ``counts`` integers >= 1, beta1, beta2 and
        ``fractions`` in [0, 1), lr > 0, keep >= 0, flags booleans."""
        if self.precision not in PRECISIONS:
            raise GanfillError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")
        for name in ("steps", "batch_size", "checkpoint_every", *counts):
            integer(getattr(self, name), _option(name), lo=1)
        integer(self.keep, "--keep", lo=0)
        integer(self.seed, "--seed", lo=-(2**63))
        number(self.lr, "--lr", lambda v: v > 0, "greater than 0")
        for name in ("beta1", "beta2", *fractions):
            number(getattr(self, name), _option(name), lambda v: 0 <= v < 1, "in [0, 1)")
        for name in ("flip", "channels_last"):
            flag(getattr(self, name), _option(name))


@dataclass(frozen=True, kw_only=True)
class TrainConfig(RunOptions):
    """GAN training options (and ``RunOptions``'); every default is the source documents' or DCGAN's.

    steps: 20,000 (the report stopped at 50k for characters, 100k for Pokemon).
    batch_size: 64 as DCGAN.  lr, beta1, beta2: 0.0002, 0.5, 0.999 for both nets (Radford et
    al., the paper).  checkpoint_every: 2000 (the report).
    d_steps, g_steps: updates of D then G per iteration (paper: 1 and 2).
    ema_decay: moving average of G's weights used for samples and inpainting; warmed up as
        min(ema_decay, (1 + t) / (10 + t)) after t generator updates, so early checkpoints
        are not dominated by the initial weights.
    n_samples: images in each sample grid (from a fixed z).
    augment: differentiable augmentation of every image D sees, real and fake alike, in D's
        and G's losses (DiffAugment, Zhao et al. 2020; for small datasets): a comma-separated
        subset of ``color``, ``translation``, ``cutout`` (their paper's policy is all three),
        or empty (default: none).
    """

    steps: int = 20_000
    checkpoint_every: int = 2000
    d_steps: int = 1
    g_steps: int = 2
    ema_decay: float = 0.999
    n_samples: int = 64
    augment: str = ""

    def __post_init__(self):
        self.check(counts=("d_steps", "g_steps", "n_samples"), fractions=("ema_decay",))
        augment_policy(self.augment)  # validates

    @property
    def policy(self) -> tuple[str, ...]:
        return augment_policy(self.augment)


AUGMENTS = ("color", "translation", "cutout")


def augment_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> ("color", "translation", "cutout"); "" -> ()."""
    policy = tuple(dict.fromkeys(t.strip() for t in str(text).split(",") if t.strip()))
    bad = [t for t in policy if t not in AUGMENTS]
    if bad:
        raise GanfillError(f"unknown augmentation {bad[0]!r} in --augment: use a comma-separated subset of {', '.join(AUGMENTS)}")
    return policy


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(RunOptions):
    """Training options of an encoder of z (``models.encoder.Encoder``) for a fixed, frozen G (and ``RunOptions``').

    Each iteration takes a batch of ``batch_size``: a ``real_fraction`` of real images and the
    rest G's own samples G(z) (z ~ N(0, I) clamped to [-3, 3], so their z is known), each with
    a hole from ``data.masks.training_masks`` (every test mask kind and random boxes).  The encoder
    sees the known pixels and the mask and predicts z^; the loss is
    ``latent_weight * mean((z^ - z)^2)`` on G's samples (keeps z^ where the prior lives) plus
    ``pixel_weight * mean|G(z^) - x|`` over ALL pixels of both halves (the hole too: the
    encoder learns to guess what is missing, so the search starts near the answer).
    """

    steps: int = 4000
    lr: float = 5e-4
    beta1: float = 0.9
    checkpoint_every: int = 500
    real_fraction: float = 0.5
    latent_weight: float = 1.0
    pixel_weight: float = 1.0

    def __post_init__(self):
        self.check()
        number(self.real_fraction, "--real-fraction", lambda v: 0 <= v <= 1, "in [0, 1]")
        for name in ("latent_weight", "pixel_weight"):
            number(getattr(self, name), _option(name), lambda v: v >= 0, "at least 0")
        if self.latent_weight + self.pixel_weight == 0:
            raise GanfillError("--latent-weight and --pixel-weight cannot both be 0: the encoder would learn nothing")


@dataclass(frozen=True, kw_only=True)
class CETrainConfig(RunOptions):
    """Training options of a ``models.context_encoder.ContextEncoder`` (and ``RunOptions``'): Pathak et al. 2016.

    Every iteration takes ``batch_size`` real images with holes (``masks``: ``mix``, the
    default, draws each from ``data.masks.training_masks``: every test mask kind and random boxes,
    so one model repairs any hole; or one mask kind of ``data.masks.MASKS`` for a specialist).
    The loss is ``(1 - adv_weight) * L_rec + adv_weight * L_adv``: L_rec the mean squared
    error over the hole's pixels, L_adv the non-saturating GAN loss of a dcgan discriminator
    that sees the completed image (the prediction pasted into the known pixels) against real
    images; Pathak et al. weigh them 0.999 and 0.001 and train with Adam 2e-4, beta1 0.5.
    ema_decay: the network that is saved and used is a moving average of the trained one's
    weights (warmed up as the GAN's EMA generator), which at a constant learning rate is the
    cheap way to the accuracy a decaying one would reach.
    """

    steps: int = 8000
    checkpoint_every: int = 1000
    adv_weight: float = 0.001
    masks: str = "mix"
    ema_decay: float = 0.999

    def __post_init__(self):
        from ganfill.data.masks import MASKS

        self.check(fractions=("adv_weight", "ema_decay"))
        if self.masks != "mix" and self.masks not in MASKS:
            raise GanfillError(f"unknown --masks {self.masks!r}: choose mix or one of {', '.join(MASKS)}")
