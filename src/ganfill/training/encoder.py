"""Training the encoder of z for a frozen generator (amortised inversion)."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ganfill.core.constants import LATENT_CLIP
from ganfill.core.errors import GanfillError
from ganfill.core.runtime import Runtime, resolve_device, resolve_precision
from ganfill.data.datasets import manifest_summary, open_dataset
from ganfill.data.masks import training_masks
from ganfill.models import files as checkpoint
from ganfill.models.dcgan import GANModel
from ganfill.models.encoder import Encoder
from ganfill.models.prior import DCGANPrior
from ganfill.training.config import EncoderConfig
from ganfill.training.loop import Batches, _seeded, check_resolution, new_or_resumed, real_images, training_loop, triplets

# ---- the encoder of z ------------------------------------------------------------------


ENCODER_CURVES = (
    ("loss", "tab:purple", "total"),
    ("latent", "tab:blue", "latent (G's samples)"),
    ("pixel", "tab:red", "pixel L1 (all)"),
)


def encoder_loss(
    z_hat: torch.Tensor, z: torch.Tensor, rec: torch.Tensor, x: torch.Tensor, *, latent_weight: float, pixel_weight: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, latent, pixel): latent = mean((z^ - z)^2) over the first len(z) rows (G's samples,
    whose z is known), pixel = mean|G(z^) - x| over every pixel of every row."""
    latent = (z_hat[: len(z)].float() - z).square().mean() if len(z) else z_hat.new_zeros(()).float()
    pixel = (rec.float() - x).abs().mean()
    return latent_weight * latent + pixel_weight * pixel, latent, pixel


class EncoderTask:
    """Training the encoder of z for a frozen G as a ``loop.Task``: each batch mixes real images
    and G's own samples (whose z is known), each with a training hole; the checkpoint's model is
    the GAN with its encoder (G, D fixed, E trained)."""

    curves = ENCODER_CURVES

    def __init__(
        self,
        base: GANModel,
        config: EncoderConfig,
        dataset,
        *,
        device: torch.device,
        record: dict,
        init_E: nn.Module | None = None,
    ):
        self.config, self.dev, r = config, device, base.config.resolution
        self.dtype = resolve_precision(config.precision, device)
        self.fmt = torch.channels_last if config.channels_last else torch.contiguous_format
        self.prior = DCGANPrior(base.G, base.D, domain=base.domain, runtime=Runtime(device, self.dtype))  # frozen G
        torch.manual_seed(config.seed)
        E = Encoder(base.config)
        if init_E is not None:
            E.load_state_dict(init_E.state_dict())
        self.E = E.to(device, memory_format=self.fmt)
        self.opt = torch.optim.Adam(self.E.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
        self.z_dim = base.config.z_dim
        self.images = torch.from_numpy(dataset.all()).to(device)  # (N, R, R, 3) uint8
        self.n_real = int(round(config.batch_size * config.real_fraction))
        self.batches = Batches(len(self.images), batch_size=max(1, self.n_real), seed=config.seed, rank=0, world=1)
        shown = self.images[torch.randperm(len(self.images), generator=_seeded(config.seed, 5))[:16].to(device)]
        self.shown = shown.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)  # (16, 3, R, R), fixed
        self.shown_masks = training_masks(16, r, generator=_seeded(config.seed, 6)).to(device)
        self.record = record | {
            "device": str(device),
            "precision": str(self.dtype).removeprefix("torch."),
            "domain": base.domain.to_dict(),
        }
        self.model = GANModel(base.config, {"G": base.G, "D": base.D, "E": self.E}, domain=base.domain)
        self.training, self.optimizers = {}, {"E": self.opt}
        self.images_per_step = config.batch_size
        self.amp = torch.autocast(device.type, self.dtype, enabled=self.dtype != torch.float32)

    def step(self, step: int) -> dict[str, float]:
        config = self.config
        rng = _seeded(config.seed, 4, step)
        real = real_images(self.images, self.batches.indices(step - 1)[: self.n_real], flip=config.flip, rng=rng)
        z = torch.randn(config.batch_size - self.n_real, self.z_dim, generator=rng).clamp_(-LATENT_CLIP, LATENT_CLIP).to(self.dev)
        with torch.no_grad():
            fake = self.prior.decode(z)  # (B - n_real, C, R, R), z known
        x = torch.cat([fake, real]).contiguous(memory_format=self.fmt)  # (B, C, R, R)
        m = training_masks(len(x), x.shape[-1], generator=rng).to(self.dev)  # (B, 1, R, R)
        with self.amp:
            z_hat = self.E(x, m).float()  # (B, z_dim)
        rec = self.prior.decode(z_hat)  # gradients flow through the frozen G into E
        loss, latent, pixel = encoder_loss(z_hat, z, rec, x, latent_weight=config.latent_weight, pixel_weight=config.pixel_weight)
        if not torch.isfinite(loss):
            raise GanfillError(f"the encoder's loss became non-finite at iteration {step}: lower --lr")
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"loss": loss.item(), "latent": latent.item(), "pixel": pixel.item()}

    def samples(self) -> np.ndarray:
        self.E.eval()
        with torch.no_grad(), self.amp:
            rec = self.prior.decode(self.E(self.shown.contiguous(memory_format=self.fmt), self.shown_masks).float())
        self.E.train()
        return triplets(self.shown, self.shown_masks, rec)  # masked | G(E(x)) | original

    def postfix(self, row: dict) -> str:
        return f"latent {row['latent']:.3f}  pixel {row['pixel']:.3f}"


def train_encoder(
    model: str | os.PathLike | None,
    data: str | os.PathLike | None,
    run_dir: str | os.PathLike,
    *,
    config: EncoderConfig | None = None,
    resume: bool = False,
    init: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Train (or resume) an encoder of z for ``model``'s G (a shipped name or any checkpoint),
    on the real images of ``data`` (a dataset made by ``prepare``); returns the last checkpoint.

    The run folder is like ``train``'s: options.json, log.jsonl, loss.png, samples/ (fixed real
    images: masked input, G(E(x)), original) and checkpoints/ whose model.safetensors holds G,
    D and E: a complete model for every command (``ganfill export RUN NAME`` ships it).
    ``resume`` takes everything from RUN/options.json; only ``steps`` may be raised.
    ``init``: a model with an encoder (e.g. the shipped one of an earlier G of the same
    architecture) whose encoder E starts from, instead of random weights: after G is trained
    on, fine-tuning its old encoder takes a fraction of the iterations of a new one.
    """
    run_dir = Path(run_dir)
    saved, ckpt = new_or_resumed(
        run_dir,
        resume=resume,
        what="an encoder",
        read=lambda o: (EncoderConfig(**o["encoder"]), o["model"], data or o["data"], o.get("init")),
    )
    if saved is not None:
        recorded, model, data, init = saved
        config = replace(recorded, steps=max(recorded.steps, config.steps if config else 0))
    else:
        config = config or EncoderConfig()
        if model is None or data is None:
            raise GanfillError("give the MODEL (a shipped name or checkpoint) and the DATA folder made by `ganfill prepare`")
    base = checkpoint.load(model, kind="gan")
    dataset = open_dataset(data)
    check_resolution(dataset.resolution, base.config.resolution)
    init_E = None
    if init is not None and ckpt is None:
        init_E = checkpoint.load(init, kind="gan").E
        if init_E is None or init_E.config != base.config:
            r = base.config.resolution
            raise GanfillError(
                f"{init} has no encoder for a {base.config.arch} {r}x{r} model like {base.path.name}: "
                "start the encoder from scratch (no --init)"
            )
    record = {
        "model": str(base.path),
        "data": str(Path(data).resolve()),
        "encoder": asdict(config),
        "base": checkpoint.generator_record(base),  # how G was trained, for `ganfill export`
        "model_config": base.config.to_dict(),
        "dataset": manifest_summary(dataset.manifest),
        "device": None,
        "precision": None,
        "domain": None,
    }
    if init is not None:
        record["init"] = str(init)
    task = EncoderTask(base, config, dataset, device=resolve_device(device), record=record, init_E=init_E)
    return training_loop(task, run_dir, resume_from=ckpt, progress=progress)
