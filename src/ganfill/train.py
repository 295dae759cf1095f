"""DCGAN training: one loop, as the source documents describe, that can stop and resume exactly.

One *iteration* (the unit of ``steps`` and ``checkpoint_every``) is ``d_steps`` discriminator
updates followed by ``g_steps`` generator updates. The research paper's fix for a
discriminator loss that collapses to zero is 1 D step : 2 G steps, which is the default (it is
also what carpedm20/DCGAN-tensorflow, the code behind Yeh et al.'s models, does).

Randomness is a pure function of (seed, iteration, rank): the data order of epoch e is a
permutation seeded by (seed, e), and every iteration draws its z and flips from a generator
seeded by (seed, iteration, rank). The RNG state at a checkpoint is therefore its step number,
and ``--resume`` reproduces the uninterrupted run's losses exactly.

Run folder::

    RUN/options.json              resolved model and training options, data path
    RUN/log.jsonl                 one line per iteration: losses, D's mean verdicts, images seen,
                                  seconds since this process started training (for throughput)
    RUN/loss.png                  G and D loss curves (as the paper's Figure 4)
    RUN/samples/step-NNNNNNNN.png sample grid from a fixed z at every checkpoint
    RUN/checkpoints/step-NNNNNNNN/{model,state}.safetensors + config.json
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from tqdm import tqdm

from ganfill import checkpoint
from ganfill.checks import flag, integer, number
from ganfill.data import open_dataset
from ganfill.errors import GanfillError
from ganfill.files import remove_stale_temps
from ganfill.images import atomic_path, grid, save_image, to_uint8, write_json
from ganfill.models import Generator, ModelConfig, build, ema_copy, ema_update

PRECISIONS = ("auto", "fp32", "bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Training options; every default is the source documents' or DCGAN's.

    steps: iterations to train for (the report stopped at 50k for characters, 100k for Pokemon).
    batch_size: images per D step per process (64 in DCGAN).
    lr, beta1, beta2: Adam for both nets (0.0002, 0.5, 0.999: Radford et al., the paper).
    d_steps, g_steps: updates of D then G per iteration (paper: 1 and 2).
    flip: random horizontal flips of real images.
    ema_decay: moving average of G's weights used for samples and inpainting; warmed up as
        min(ema_decay, (1 + t) / (10 + t)) after t generator updates, so early checkpoints
        are not dominated by the initial weights.
    checkpoint_every: iterations between checkpoints and sample grids (the report: 2000).
    keep: training checkpoints kept (sample grids are all kept); 0 keeps every checkpoint.
    seed: seeds data order, z, flips and the fixed sample z.
    precision: ``auto`` picks bf16 autocast where the hardware runs it natively (AVX-512 BF16 /
        AMX CPUs, CUDA with bf16), else fp32; ``fp32`` and ``bf16`` force one.
    channels_last: NHWC memory layout (faster on CPU for these convolutions).
    n_samples: images in each sample grid.
    """

    steps: int = 20_000
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    d_steps: int = 1
    g_steps: int = 2
    flip: bool = True
    ema_decay: float = 0.999
    checkpoint_every: int = 2000
    keep: int = 3
    seed: int = 0
    precision: str = "auto"
    channels_last: bool = True
    n_samples: int = 64

    def __post_init__(self):
        """Types and ranges of every option (they come from the command line or options.json)."""
        if self.precision not in PRECISIONS:
            raise GanfillError(f"unknown precision {self.precision!r}: choose one of {', '.join(PRECISIONS)}")

        def option(name: str) -> str:
            return "--" + name.replace("_", "-")

        for name in ("steps", "batch_size", "d_steps", "g_steps", "checkpoint_every", "n_samples"):
            integer(getattr(self, name), option(name), lo=1)
        integer(self.keep, "--keep", lo=0)
        integer(self.seed, "--seed", lo=-(2**63))
        number(self.lr, "--lr", lambda v: v > 0, "greater than 0")
        for name in ("beta1", "beta2", "ema_decay"):
            number(getattr(self, name), option(name), lambda v: 0 <= v < 1, "in [0, 1)")
        for name in ("flip", "channels_last"):
            flag(getattr(self, name), option(name))


# ---- losses ---------------------------------------------------------------------------------


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], averaged over the batch (the report's D objective)."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32))
    return real + fake


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating form of minimising log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float32))


# ---- devices and precision ---------------------------------------------------------------


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device not in ("cpu", "cuda"):
        raise GanfillError(f"unknown device {device!r}: choose auto, cpu or cuda")
    if device == "cuda" and not torch.cuda.is_available():
        raise GanfillError("--device cuda was asked for but no CUDA device is available: use --device cpu")
    return torch.device(device)


def native_bf16(device: torch.device) -> bool:
    """True where bf16 matrix work is fast: CUDA with bf16, or a CPU with AVX-512 BF16 / AMX.

    On CPUs without it (AVX2-only machines) PyTorch emulates bf16 convolutions, which
    measured ~100x slower than fp32 here, so ``auto`` must not pick it.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def resolve_precision(precision: str, device: torch.device) -> torch.dtype:
    if precision == "auto":
        return torch.bfloat16 if native_bf16(device) else torch.float32
    return torch.bfloat16 if precision == "bf16" else torch.float32


# ---- data order -------------------------------------------------------------------------


def _seeded(*parts: int) -> torch.Generator:
    seed = 0
    for p in parts:
        seed = (seed * 1_000_003 + int(p)) % (2**63 - 1)
    return torch.Generator().manual_seed(seed)


class Batches:
    """Global batch b of epoch e is a slice of a permutation seeded by (seed, e); ranks take disjoint slices."""

    def __init__(self, n: int, *, batch_size: int, seed: int, rank: int, world: int):
        self.n, self.batch_size, self.seed, self.rank, self.world = n, batch_size, seed, rank, world
        self.per_epoch = n // (batch_size * world)
        if self.per_epoch < 1:
            raise GanfillError(
                f"the dataset has {n} images, fewer than one batch of {batch_size} x {world} process(es): "
                "lower --batch-size or add images"
            )
        self._epoch, self._perm = -1, None

    def indices(self, b: int) -> torch.Tensor:
        epoch, within = divmod(b, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._perm = epoch, torch.randperm(self.n, generator=_seeded(self.seed, 1, epoch))
        start = (within * self.world + self.rank) * self.batch_size
        return self._perm[start : start + self.batch_size]


def fixed_z(model: ModelConfig, n: int, seed: int) -> torch.Tensor:
    return torch.randn(n, model.z_dim, generator=_seeded(seed, 2))


# ---- run folder --------------------------------------------------------------------------


def plot_losses(log_path: Path, out_png: Path) -> None:
    """Draw G and D loss per iteration (raw, faint) and smoothed, like the paper's Figure 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = log_rows(log_path)
    if not rows:
        return
    steps = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for key, colour, label in (("loss_g", "tab:red", "generator"), ("loss_d", "tab:blue", "discriminator")):
        y = np.array([r[key] for r in rows])
        k = max(1, len(y) // 100)
        smooth = np.convolve(y, np.ones(k) / k, mode="valid")
        ax.plot(steps, y, color=colour, alpha=0.2, linewidth=0.5)
        ax.plot(steps[k - 1 :], smooth, color=colour, label=label)
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(out_png) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)


def log_rows(log_path: Path) -> list[dict]:
    """The rows of log.jsonl (none if it is absent). A torn last line, from a run killed while it
    wrote it, is dropped; a damaged line anywhere else is a GanfillError."""
    lines = [line for line in log_path.read_text().splitlines() if line.strip()] if log_path.exists() else []
    rows = []
    for i, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
            integer(row["step"], "step", lo=0)
        except (ValueError, KeyError, TypeError, GanfillError):
            if i == len(lines):
                break
            raise GanfillError(f"{log_path} line {i} is damaged (not a log row): repair or delete the line, then resume") from None
        rows.append(row)
    return rows


def _truncate_log(log_path: Path, step: int) -> None:
    """Drop log lines written after the checkpoint we resume from (a run killed between checkpoints),
    and a torn last line."""
    if not log_path.exists():
        return
    keep = [row for row in log_rows(log_path) if row["step"] <= step]
    with atomic_path(log_path) as tmp:
        tmp.write_text("".join(json.dumps(row) + "\n" for row in keep))


def load_options(run_dir: Path) -> tuple[Path, ModelConfig, TrainConfig]:
    try:
        opts = json.loads((run_dir / "options.json").read_text())
        names = {f.name for f in fields(TrainConfig)}
        return Path(opts["data"]), ModelConfig.from_dict(opts["model"]), TrainConfig(**{k: v for k, v in opts["train"].items() if k in names})
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        raise GanfillError(f"{run_dir} is not a ganfill run folder (no readable options.json): start a new run without --resume") from None
    except GanfillError as e:
        raise GanfillError(f"{run_dir / 'options.json'} holds unusable options ({e}): fix it, or start a new run") from None


# ---- the loop ---------------------------------------------------------------------------


def train(data: str | os.PathLike | None, run_dir: str | os.PathLike, *, model: ModelConfig | None = None,
          config: TrainConfig | None = None, resume: bool = False, device: str = "auto",
          progress: bool = True) -> Path:
    """Train (or resume) a DCGAN; returns the last checkpoint folder.

    With ``resume``, model and training options come from RUN/options.json; only ``steps`` may
    be raised (pass a config whose ``steps`` is larger), so a run can be extended.
    Under torchrun (WORLD_SIZE > 1) every process trains on its own slice of each batch
    through DistributedDataParallel; only rank 0 writes.
    """
    run_dir = Path(run_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = resolve_device(device)
    if resume:
        data_saved, model, saved = load_options(run_dir)
        data = data or data_saved
        config = replace(saved, steps=max(saved.steps, config.steps if config else 0))
        ckpt = checkpoint.latest_training_checkpoint(run_dir)
        if ckpt is None:
            raise GanfillError(f"{run_dir} has no finished checkpoint to resume from: start it again without --resume")
    else:
        model, config, ckpt = model or ModelConfig(), config or TrainConfig(), None
        if checkpoint.latest_training_checkpoint(run_dir) is not None:
            raise GanfillError(f"{run_dir} already holds a training run: pass --resume to continue it, or choose another --out")
    if data is None:
        raise GanfillError("no dataset given: pass the DATA folder made by `ganfill prepare` or `ganfill glyphs`")
    dataset = open_dataset(data)
    if dataset.resolution != model.resolution:
        raise GanfillError(
            f"the dataset is {dataset.resolution}x{dataset.resolution} but the model is {model.resolution}: "
            f"pass --resolution {dataset.resolution} or prepare the data at {model.resolution}"
        )

    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
        if dev.type == "cuda":
            dev = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(dev)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    dtype = resolve_precision(config.precision, dev)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format

    torch.manual_seed(config.seed)
    G, D = build(model)
    G_ema = ema_copy(G)
    G, D, G_ema = (m.to(dev, memory_format=fmt) for m in (G, D, G_ema))
    betas = (config.beta1, config.beta2)
    opt_G = torch.optim.Adam(G.parameters(), lr=config.lr, betas=betas)
    opt_D = torch.optim.Adam(D.parameters(), lr=config.lr, betas=betas)
    start = 0
    if ckpt is not None:
        start = checkpoint.load_training(ckpt, G=G, G_ema=G_ema, D=D, opt_G=opt_G, opt_D=opt_D)["step"]
    G_par, D_par = G, D
    if world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        G_par, D_par = DDP(G), DDP(D)

    images = torch.from_numpy(dataset.all()).to(dev)  # (N, R, R, 3) uint8, kept whole in memory
    batches = Batches(len(images), batch_size=config.batch_size, seed=config.seed, rank=rank, world=world)
    sample_z = fixed_z(model, config.n_samples, config.seed).to(dev)
    log_path = run_dir / "log.jsonl"
    record = {
        "data": str(Path(data).resolve()),
        "model": model.to_dict(),
        "train": asdict(config),
        "device": str(dev),
        "precision": str(dtype).removeprefix("torch."),
        "world_size": world,
        "dataset": {k: v for k, v in dataset.manifest.items() if k not in ("sources", "shards", "skipped", "fonts")},
        "domain": checkpoint.domain_of(dataset.manifest),
    }
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(run_dir, run_dir / "checkpoints", run_dir / "samples")  # from a run killed mid-write
        write_json(record, run_dir / "options.json", indent=2)
        _truncate_log(log_path, start)

    def real_batch(b: int, rng: torch.Generator) -> torch.Tensor:
        x = images[batches.indices(b).to(dev)].permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # (B, 3, R, R)
        if config.flip:
            flip = (torch.rand(len(x), generator=rng) < 0.5).to(dev)[:, None, None, None]
            x = torch.where(flip, x.flip(3), x)
        return x.contiguous(memory_format=fmt)

    def checkpoint_now(step: int) -> None:
        if rank != 0:
            return
        G_ema.eval()
        with torch.no_grad(), torch.autocast(dev.type, dtype, enabled=dtype != torch.float32):
            samples = to_uint8(G_ema(sample_z).float())
        save_image(grid(samples), run_dir / "samples" / f"step-{step:08d}.png")
        checkpoint.save_training(run_dir, step=step, G=G, G_ema=G_ema, D=D, opt_G=opt_G, opt_D=opt_D,
                                 record=record, keep=config.keep)
        plot_losses(log_path, run_dir / "loss.png")

    if start == 0:
        checkpoint_now(0)
    amp = torch.autocast(dev.type, dtype, enabled=dtype != torch.float32)
    bar = tqdm(total=config.steps, initial=start, disable=not progress or rank != 0, unit="it", dynamic_ncols=True)
    images_per_it = config.batch_size * config.d_steps * world
    log = open(log_path, "a") if rank == 0 else None
    t0, step = time.perf_counter(), start
    try:
        G.train(), D.train()
        for step in range(start + 1, config.steps + 1):
            rng = _seeded(config.seed, 3, step, rank)
            for j in range(config.d_steps):
                real = real_batch((step - 1) * config.d_steps + j, rng)
                z = torch.randn(config.batch_size, model.z_dim, generator=rng).to(dev)
                last_d = j == config.d_steps - 1
                with amp:
                    # the last D step's fake keeps its graph: the first G step reuses it (as
                    # pytorch/examples does), saving one generator forward per iteration
                    with torch.set_grad_enabled(last_d):
                        fake = G_par(z) if last_d else G(z)
                    real_logits = D_par(real)
                    fake_logits = D_par(fake.detach().contiguous(memory_format=fmt))
                loss_D = d_loss(real_logits, fake_logits)
                opt_D.zero_grad(set_to_none=True)
                loss_D.backward()
                opt_D.step()
            D.requires_grad_(False)
            for k in range(config.g_steps):
                if k > 0:  # G changed: a fresh fake
                    z = torch.randn(config.batch_size, model.z_dim, generator=rng).to(dev)
                    with amp:
                        fake = G_par(z)
                with amp:
                    loss_G = g_loss(D(fake.contiguous(memory_format=fmt)))
                opt_G.zero_grad(set_to_none=True)
                loss_G.backward()
                opt_G.step()
                updates = (step - 1) * config.g_steps + k + 1
                ema_update(G_ema, G, decay=min(config.ema_decay, (1 + updates) / (10 + updates)))
            D.requires_grad_(True)
            if not (torch.isfinite(loss_D) and torch.isfinite(loss_G)):
                raise GanfillError(f"losses became non-finite at iteration {step}: lower --lr or use --precision fp32")
            if log is not None:
                elapsed = time.perf_counter() - t0
                row = {"step": step, "loss_d": loss_D.item(), "loss_g": loss_G.item(),
                       "d_real": torch.sigmoid(real_logits.float()).mean().item(),
                       "d_fake": torch.sigmoid(fake_logits.float()).mean().item(),
                       "images": images_per_it * step, "seconds": round(elapsed, 4)}
                log.write(json.dumps(row) + "\n")
                rate = images_per_it * (step - start) / elapsed
                bar.set_postfix_str(f"{rate:.0f} img/s  D {row['loss_d']:.3f}  G {row['loss_g']:.3f}", refresh=False)
            bar.update(1)
            if step % config.checkpoint_every == 0 or step == config.steps:
                if log is not None:
                    log.flush()
                checkpoint_now(step)
    finally:
        bar.close()
        if log is not None:
            log.close()
        if world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    return run_dir / "checkpoints" / f"step-{step:08d}"


def sample(G: Generator, n: int, *, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """n samples from G (eval mode) as uint8 (n, R, R, 3), reproducible given seed."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    G.eval()
    with torch.no_grad():
        return np.concatenate([to_uint8(G(zb)) for zb in z.split(batch_size)])
