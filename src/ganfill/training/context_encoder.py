"""Training the context encoder (Pathak et al. 2016)."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch

from ganfill.core.errors import GanfillError
from ganfill.core.runtime import resolve_device, resolve_precision
from ganfill.data.datasets import manifest_summary, open_dataset
from ganfill.data.domain import Domain
from ganfill.data.masks import make_mask, training_masks
from ganfill.models import files as checkpoint
from ganfill.models.config import CEConfig
from ganfill.models.context_encoder import ContextEncoder, ContextEncoderModel
from ganfill.models.dcgan import Discriminator
from ganfill.training.config import CETrainConfig
from ganfill.training.ema import ema_copy, ema_update, warmed_decay
from ganfill.training.gan import d_loss, g_loss
from ganfill.training.loop import (
    Batches,
    _seeded,
    check_resolution,
    init_point,
    new_or_resumed,
    real_images,
    training_loop,
    triplets,
)

# ---- the context encoder (the CNN of the paper's comparison) ------------------------------


CE_CURVES = (("rec", "tab:red", "hole MSE"), ("loss_d", "tab:blue", "discriminator"))


def ce_loss(
    pred: torch.Tensor, x: torch.Tensor, m: torch.Tensor, adv_logits: torch.Tensor, *, adv_weight: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, rec, adv): rec = mean squared error over the hole's pixels and channels of the batch,
    adv = ``g_loss`` of D's logits for the completed images."""
    hole = 1.0 - m  # (N, 1, R, R)
    rec = (hole * (pred.float() - x).square()).sum() / (hole.sum() * x.shape[1]).clamp_min(1.0)
    adv = g_loss(adv_logits)
    return (1.0 - adv_weight) * rec + adv_weight * adv, rec, adv


class ContextEncoderTask:
    """Training a context encoder as a ``loop.Task``: per iteration one update of the adversarial
    D (real images against completed ones), then one of the network (hole MSE and adversarial
    loss), then of its EMA copy (the network checkpoints save as ``CE``; the raw one is
    ``CE_train``, D is ``CE_D``)."""

    curves = CE_CURVES

    def __init__(
        self,
        model: CEConfig,
        config: CETrainConfig,
        dataset,
        *,
        device: torch.device,
        record: dict,
        start_from: ContextEncoderModel | None = None,
    ):
        self.config, self.dev, self.r = config, device, model.resolution
        self.dtype = resolve_precision(config.precision, device)
        self.fmt = torch.channels_last if config.channels_last else torch.contiguous_format
        torch.manual_seed(config.seed)
        self.CE = ContextEncoder(model).to(device, memory_format=self.fmt)
        if start_from is not None:  # a model file holds the weight average: both start from it
            self.CE.load_state_dict(start_from.nets["CE"].state_dict())
        self.CE_ema = ema_copy(self.CE)  # what is saved and used
        self.D = Discriminator(model.discriminator()).to(device, memory_format=self.fmt)
        self.opt_CE = torch.optim.Adam(self.CE.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
        self.images = torch.from_numpy(dataset.all()).to(device)  # (N, R, R, 3) uint8
        self.batches = Batches(len(self.images), batch_size=config.batch_size, seed=config.seed, rank=0, world=1)
        shown = self.images[torch.randperm(len(self.images), generator=_seeded(config.seed, 5))[:16].to(device)]
        self.shown = shown.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)  # (16, 3, R, R), fixed
        self.shown_masks = self._holes(16, _seeded(config.seed, 6))
        self.record = record | {"device": str(device), "precision": str(self.dtype).removeprefix("torch.")}
        self.model = ContextEncoderModel(model, {"CE": self.CE_ema}, domain=Domain.from_dict(record["domain"]))
        self.training = {"CE_train": self.CE, "CE_D": self.D}
        self.optimizers = {"CE": self.opt_CE, "D": self.opt_D}
        self.images_per_step = config.batch_size
        self.amp = torch.autocast(device.type, self.dtype, enabled=self.dtype != torch.float32)

    def _holes(self, n: int, rng: torch.Generator) -> torch.Tensor:  # (n, 1, R, R), 1 = known
        if self.config.masks == "mix":
            return training_masks(n, self.r, generator=rng).to(self.dev)
        return make_mask(self.config.masks, n, self.r, generator=rng).to(self.dev)

    def step(self, step: int) -> dict[str, float]:
        config, CE, D, amp = self.config, self.CE, self.D, self.amp
        rng = _seeded(config.seed, 7, step)
        x = real_images(self.images, self.batches.indices(step - 1), flip=config.flip, rng=rng)
        x = x.contiguous(memory_format=self.fmt)  # (B, C, R, R)
        m = self._holes(len(x), rng)  # (B, 1, R, R)
        with amp:
            pred = CE(x, m)  # (B, C, R, R)
            completed = (m * x + (1 - m) * pred).contiguous(memory_format=self.fmt)
            loss_d = d_loss(D(x), D(completed.detach()))
        self.opt_D.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_D.step()
        D.requires_grad_(False)
        with amp:
            adv_logits = D(completed)
        loss, rec, adv = ce_loss(pred, x, m, adv_logits, adv_weight=config.adv_weight)
        self.opt_CE.zero_grad(set_to_none=True)
        loss.backward()
        self.opt_CE.step()
        ema_update(self.CE_ema, CE, decay=warmed_decay(config.ema_decay, step))
        D.requires_grad_(True)
        if not (torch.isfinite(loss) and torch.isfinite(loss_d)):
            raise GanfillError(f"losses became non-finite at iteration {step}: lower --lr or use --precision fp32")
        return {"loss": loss.item(), "rec": rec.item(), "adv": adv.item(), "loss_d": loss_d.item()}

    def samples(self) -> np.ndarray:
        with torch.no_grad(), self.amp:
            pred = self.CE_ema(self.shown.contiguous(memory_format=self.fmt), self.shown_masks).float()
        completed = torch.where(self.shown_masks > 0.5, self.shown, pred)
        return triplets(self.shown, self.shown_masks, completed)  # masked | completed | original

    def postfix(self, row: dict) -> str:
        return f"hole MSE {row['rec']:.4f}  D {row['loss_d']:.3f}"


def train_context_encoder(
    data: str | os.PathLike | None,
    run_dir: str | os.PathLike,
    *,
    model: CEConfig | None = None,
    config: CETrainConfig | None = None,
    resume: bool = False,
    init: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Train (or resume) a context encoder on ``data`` (a dataset made by ``prepare``); returns the last checkpoint.

    The run folder is like ``train``'s: options.json, log.jsonl, loss.png, samples/ (fixed
    training images with fixed holes: masked input | completed | original) and checkpoints/
    whose model.safetensors is a complete context encoder (``ganfill export RUN NAME`` ships it).
    ``resume`` takes everything from RUN/options.json; only ``steps`` may be raised.
    ``init`` (a context encoder's file) starts a new run from its weights, config and iteration
    count, like ``gan.train``'s; its adversarial discriminator, not in the file, starts afresh.
    """
    run_dir = Path(run_dir)
    saved, ckpt = new_or_resumed(
        run_dir,
        resume=resume,
        what="a context-encoder",
        read=lambda o: (CETrainConfig(**o["train"]), CEConfig.from_dict(o["model"]), data or o["data"], o.get("init")),
    )
    started_from, start_from, start = None, None, 0
    if saved is not None:
        recorded, model, data, started_from = saved
        config = replace(recorded, steps=max(recorded.steps, config.steps if config else 0))
    else:
        config = config or CETrainConfig()
        if data is None:
            raise GanfillError("give the DATA folder made by `ganfill prepare`")
    if init is not None:
        start_from, start, started_from = init_point(init, kind="context-encoder", resume=resume, steps=config.steps)
        model = start_from.config
    dataset = open_dataset(data)
    model = model or CEConfig(resolution=dataset.resolution)
    check_resolution(dataset.resolution, model.resolution)
    manifest = dataset.manifest
    record = {
        "data": str(Path(data).resolve()),
        "model": model.to_dict(),
        "train": asdict(config),
        "device": None,
        "precision": None,
        "domain": checkpoint.domain_of(manifest).to_dict(),
        "dataset": manifest_summary(manifest),
    }
    if started_from is not None:
        record["init"] = started_from
    task = ContextEncoderTask(model, config, dataset, device=resolve_device(device), record=record, start_from=start_from)
    return training_loop(task, run_dir, resume_from=ckpt, start=start, progress=progress)
