"""DCGAN training: D and G steps (the paper's 1 : 2), EMA of G, exact resume, DistributedDataParallel."""

from __future__ import annotations

import os
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ganfill.core.errors import GanfillError
from ganfill.core.images import grid, to_uint8
from ganfill.core.runtime import Runtime, resolve_device, resolve_precision
from ganfill.data.datasets import manifest_summary, open_dataset
from ganfill.data.domain import Domain
from ganfill.models import files as checkpoint
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import GANModel, Generator, build
from ganfill.models.fast import inference_copy
from ganfill.training.augment import diff_augment
from ganfill.training.config import TrainConfig
from ganfill.training.ema import ema_copy, ema_update, warmed_decay
from ganfill.training.loop import (
    GAN_CURVES,
    Batches,
    _seeded,
    check_resolution,
    distributed,
    fixed_z,
    init_point,
    new_or_resumed,
    real_images,
    training_loop,
)

# ---- losses ---------------------------------------------------------------------------------


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], averaged over the batch (the report's D objective)."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32))
    return real + fake


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating form of minimising log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float32))


# ---- the loop ---------------------------------------------------------------------------


class GANTask:
    """GAN training as a ``loop.Task``: per iteration ``d_steps`` D updates, then ``g_steps`` G
    updates, each followed by an update of G's EMA copy (the G that checkpoints save as ``G``;
    the raw G is ``G_train``).  Under torchrun G and D run through DistributedDataParallel."""

    curves = GAN_CURVES

    def __init__(
        self,
        model: ModelConfig,
        config: TrainConfig,
        dataset,
        *,
        device: torch.device,
        record: dict,
        start_from: GANModel | None = None,
        rank: int = 0,
        world: int = 1,
    ):
        self.config, self.z_dim, self.dev = config, model.z_dim, device
        self.dtype = resolve_precision(config.precision, device)
        self.fmt = torch.channels_last if config.channels_last else torch.contiguous_format
        torch.manual_seed(config.seed)
        G, D = build(model)
        G_ema = ema_copy(G)
        self.G, self.D, self.G_ema = (m.to(device, memory_format=self.fmt) for m in (G, D, G_ema))
        betas = (config.beta1, config.beta2)
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        if start_from is not None:
            for net, weights in ((self.G, start_from.G), (self.G_ema, start_from.G), (self.D, start_from.D)):
                net.load_state_dict(weights.state_dict())
        self.G_par, self.D_par = self.G, self.D
        if world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            self.G_par, self.D_par = DDP(self.G), DDP(self.D)
        self.images = torch.from_numpy(dataset.all()).to(device)  # (N, R, R, 3) uint8, kept whole in memory
        self.batches = Batches(len(self.images), batch_size=config.batch_size, seed=config.seed, rank=rank, world=world)
        self.sample_z = fixed_z(model, config.n_samples, config.seed).to(device)
        self.rank = rank
        self.record = record | {"device": str(device), "precision": str(self.dtype).removeprefix("torch."), "world_size": world}
        self.model = GANModel(model, {"G": self.G_ema, "D": self.D}, domain=Domain.from_dict(record["domain"]))
        self.training = {"G_train": self.G}
        self.optimizers = {"G": self.opt_G, "D": self.opt_D}
        self.images_per_step = config.batch_size * config.d_steps * world
        self.amp = torch.autocast(device.type, self.dtype, enabled=self.dtype != torch.float32)

    def _augment(self, x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
        if self.config.policy:
            x = diff_augment(x, self.config.policy, rng)
        return x.contiguous(memory_format=self.fmt)

    def step(self, step: int) -> dict[str, float]:
        config, G, D, amp = self.config, self.G, self.D, self.amp
        rng = _seeded(config.seed, 3, step, self.rank)
        for j in range(config.d_steps):
            b = (step - 1) * config.d_steps + j
            real = real_images(self.images, self.batches.indices(b), flip=config.flip, rng=rng).contiguous(memory_format=self.fmt)
            z = torch.randn(config.batch_size, self.z_dim, generator=rng).to(self.dev)
            last_d = j == config.d_steps - 1
            with amp:
                # the last D step's fake keeps its graph: the first G step reuses it (as
                # pytorch/examples does), saving one generator forward per iteration
                with torch.set_grad_enabled(last_d):
                    fake = self.G_par(z) if last_d else G(z)
                real_logits = self.D_par(self._augment(real, rng))
                fake_logits = self.D_par(self._augment(fake.detach(), rng))
            loss_D = d_loss(real_logits, fake_logits)
            self.opt_D.zero_grad(set_to_none=True)
            loss_D.backward()
            self.opt_D.step()
        D.requires_grad_(False)
        for k in range(config.g_steps):
            if k > 0:  # G changed: a fresh fake
                z = torch.randn(config.batch_size, self.z_dim, generator=rng).to(self.dev)
                with amp:
                    fake = self.G_par(z)
            with amp:
                loss_G = g_loss(D(self._augment(fake, rng)))
            self.opt_G.zero_grad(set_to_none=True)
            loss_G.backward()
            self.opt_G.step()
            ema_update(self.G_ema, G, decay=warmed_decay(config.ema_decay, (step - 1) * config.g_steps + k + 1))
        D.requires_grad_(True)
        if not (torch.isfinite(loss_D) and torch.isfinite(loss_G)):
            raise GanfillError(f"losses became non-finite at iteration {step}: lower --lr or use --precision fp32")
        return {
            "loss_d": loss_D.item(),
            "loss_g": loss_G.item(),
            "d_real": torch.sigmoid(real_logits.float()).mean().item(),
            "d_fake": torch.sigmoid(fake_logits.float()).mean().item(),
        }

    def samples(self) -> np.ndarray:
        with torch.no_grad(), self.amp:
            return grid(to_uint8(self.G_ema.eval()(self.sample_z).float()))

    def postfix(self, row: dict) -> str:
        return f"D {row['loss_d']:.3f}  G {row['loss_g']:.3f}"


def train(
    data: str | os.PathLike | None,
    run_dir: str | os.PathLike,
    *,
    model: ModelConfig | None = None,
    config: TrainConfig | None = None,
    resume: bool = False,
    init: str | os.PathLike | None = None,
    device: str = "auto",
    progress: bool = True,
) -> Path:
    """Train (or resume) a GAN; returns the last checkpoint folder.

    With ``resume``, model and training options come from RUN/options.json; only ``steps`` may
    be raised (pass a config whose ``steps`` is larger), so a run can be extended.
    With ``init`` (a shipped model's name or a model file), a new run starts from that model's
    weights: G and its EMA copy from the file's G, D from its D, the model config from its
    metadata, the iteration count from the step it records (so ``steps`` counts from the
    model's first iteration and the log's images seen add up); the optimisers start afresh, as
    a model file holds no optimiser state. This continues a run whose training folder is gone
    (another machine, another session) from the weights that were kept.
    Under torchrun (WORLD_SIZE > 1) every process trains on its own slice of each batch
    through DistributedDataParallel; only rank 0 writes.
    """
    run_dir = Path(run_dir)
    saved, ckpt = new_or_resumed(
        run_dir,
        resume=resume,
        what="a ganfill",
        read=lambda o: (Path(o["data"]), ModelConfig.from_dict(o["model"]), TrainConfig.recorded(o["train"]), o.get("init")),
    )
    if saved is not None:
        data_saved, model, recorded, started_from = saved
        data = data or data_saved
        config = replace(recorded, steps=max(recorded.steps, config.steps if config else 0))
    else:
        model, config, started_from = model or ModelConfig(), config or TrainConfig(), None
    start_from, start = None, 0
    if init is not None:
        start_from, start, started_from = init_point(init, kind="gan", resume=resume, steps=config.steps)
        model = start_from.config
    if data is None:
        raise GanfillError("no dataset given: pass the DATA folder made by `ganfill prepare` or `ganfill glyphs`")
    dataset = open_dataset(data)
    check_resolution(dataset.resolution, model.resolution)
    rank, world, dev = distributed(resolve_device(device))
    record = {"data": str(Path(data).resolve()), "model": model.to_dict(), "train": asdict(config)}
    record |= {
        "device": None,
        "precision": None,
        "world_size": world,  # filled in by the task, in this order
        "dataset": manifest_summary(dataset.manifest),
        "domain": checkpoint.domain_of(dataset.manifest).to_dict(),
    }
    if started_from is not None:
        record["init"] = started_from
    task = GANTask(model, config, dataset, device=dev, record=record, start_from=start_from, rank=rank, world=world)
    return training_loop(task, run_dir, resume_from=ckpt, start=start, progress=progress, rank=rank, world=world)


def sample(G: Generator, n: int, *, seed: int = 0, batch_size: int = 256, runtime: Runtime = Runtime()) -> np.ndarray:
    """n samples from G (an eval-mode inference copy on ``runtime``) as uint8 (n, R, R, 3), reproducible given seed."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    fast = inference_copy(G, runtime)
    with torch.no_grad():
        return np.concatenate([to_uint8(fast(zb.to(runtime.device, runtime.dtype))) for zb in z.split(batch_size)])
