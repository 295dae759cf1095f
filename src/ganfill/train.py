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
from contextlib import contextmanager
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
from ganfill.files import FolderLock, remove_stale_temps
from ganfill.images import atomic_path, grid, save_image, to_uint8, write_json
from ganfill.masks import training_masks
from ganfill.models import CEConfig, Discriminator, Encoder, Generator, ModelConfig, build, ema_copy, ema_update
from ganfill.prior import DCGANPrior, inference_copy
from ganfill.runtime import PRECISIONS, Runtime, resolve_device, resolve_precision


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


# ---- augmentation -----------------------------------------------------------------------

AUGMENTS = ("color", "translation", "cutout")


def augment_policy(text: str) -> tuple[str, ...]:
    """``"color,translation,cutout"`` -> ("color", "translation", "cutout"); "" -> ()."""
    policy = tuple(dict.fromkeys(t.strip() for t in str(text).split(",") if t.strip()))
    bad = [t for t in policy if t not in AUGMENTS]
    if bad:
        raise GanfillError(f"unknown augmentation {bad[0]!r} in --augment: use a comma-separated subset of {', '.join(AUGMENTS)}")
    return policy


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], generator: torch.Generator) -> torch.Tensor:
    """DiffAugment (Zhao et al., NeurIPS 2020) of images (N, C, H, W) in [-1, 1], differentiable in x.

    ``color``: random brightness (+U[-0.5, 0.5]), saturation (x U[0, 2] around the pixel's
    channel mean) and contrast (x U[0.5, 1.5] around the image mean); ``translation``: a shift
    of up to 1/8 of the side in each direction, zeros (mid-grey) coming in; ``cutout``: a
    zeroed square of half the side at a random place.  Every image draws its own parameters
    from ``generator`` (a CPU generator: resumed runs draw the same).
    """
    n, _, h, w = x.shape
    dev = x.device

    def rand(*shape) -> torch.Tensor:
        return torch.rand(*shape, generator=generator).to(dev)

    if "color" in policy:
        x = x + (rand(n, 1, 1, 1) - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * (rand(n, 1, 1, 1) + 0.5) + mean
    rows, cols = torch.arange(h, device=dev), torch.arange(w, device=dev)
    if "translation" in policy:
        sy, sx = int(h * 0.125 + 0.5), int(w * 0.125 + 0.5)
        dy = (rand(n) * (2 * sy + 1)).long() - sy  # (N,) in [-sy, sy]
        dx = (rand(n) * (2 * sx + 1)).long() - sx
        padded = F.pad(x, (1, 1, 1, 1))  # a zero border: out-of-image pixels read it
        iy = (rows[None, :] + dy[:, None] + 1).clamp(0, h + 1)  # (N, H)
        ix = (cols[None, :] + dx[:, None] + 1).clamp(0, w + 1)  # (N, W)
        batch = torch.arange(n, device=dev)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, iy[:, :, None], ix[:, None, :]].permute(0, 3, 1, 2)  # (N, C, H, W)
    if "cutout" in policy:
        ch, cw = int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
        cy = (rand(n) * (h + 1 - ch % 2)).long()  # the square's centre
        cx = (rand(n) * (w + 1 - cw % 2)).long()
        inside_y = ((rows[None, :] - cy[:, None] + ch // 2) >= 0) & ((rows[None, :] - cy[:, None] + ch // 2) < ch)
        inside_x = ((cols[None, :] - cx[:, None] + cw // 2) >= 0) & ((cols[None, :] - cx[:, None] + cw // 2) < cw)
        keep = ~(inside_y[:, :, None] & inside_x[:, None, :])  # (N, H, W)
        x = x * keep[:, None].to(x.dtype)
    return x


# ---- losses ---------------------------------------------------------------------------------


def d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-[log D(x) + log(1 - D(G(z)))], averaged over the batch (the report's D objective)."""
    real = F.binary_cross_entropy_with_logits(real_logits.float(), torch.ones_like(real_logits, dtype=torch.float32))
    fake = F.binary_cross_entropy_with_logits(fake_logits.float(), torch.zeros_like(fake_logits, dtype=torch.float32))
    return real + fake


def g_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(G(z)): the non-saturating form of minimising log(1 - D(G(z)))."""
    return F.binary_cross_entropy_with_logits(fake_logits.float(), torch.ones_like(fake_logits, dtype=torch.float32))


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


def real_images(images: torch.Tensor, idx: torch.Tensor, *, flip: bool, rng: torch.Generator) -> torch.Tensor:
    """uint8 (N, R, R, 3) rows ``idx`` -> float (B, 3, R, R) in [-1, 1], each flipped left-right
    with probability 1/2 (drawn from ``rng``) when ``flip``."""
    x = images[idx.to(images.device)].permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)  # (B, 3, R, R)
    if flip:
        flips = (torch.rand(len(x), generator=rng) < 0.5).to(images.device)[:, None, None, None]
        x = torch.where(flips, x.flip(3), x)
    return x


def save_triplets(shown: torch.Tensor, masks: torch.Tensor, result: torch.Tensor, path: Path) -> None:
    """A sample grid of fixed images: per image masked input | ``result`` | original, 4 per row."""
    masked = torch.where(masks > 0.5, shown, torch.zeros(()))
    save_image(grid(to_uint8(torch.stack([masked, result.clamp(-1, 1), shown], 1).flatten(0, 1)), nrow=12), path)


def log_iteration(log, bar, row: dict, postfix: str, *, config: RunOptions, checkpoint_now) -> None:
    """One iteration's bookkeeping in the amortised-model loops: the log row, the progress bar,
    and a checkpoint when one is due (after flushing the log, so the two agree)."""
    log.write(json.dumps(row) + "\n")
    bar.set_postfix_str(postfix, refresh=False)
    bar.update(1)
    step = row["step"]
    if step % config.checkpoint_every == 0 or step == config.steps:
        log.flush()
        checkpoint_now(step)


def open_run(run_dir: Path, record: dict, *, start: int) -> None:
    """Make the run folder ready to (re)start at iteration ``start``: temp files of a run killed
    mid-write removed, options.json written, log rows after ``start`` (and a torn line) dropped.
    The caller holds the folder's ``FolderLock``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(run_dir, run_dir / "checkpoints", run_dir / "samples")
    write_json(record, run_dir / "options.json", indent=2)
    _truncate_log(run_dir / "log.jsonl", start)


@contextmanager
def logged_run(run_dir: Path, record: dict, *, start: int, config: RunOptions, progress: bool, checkpoint_now):
    """The frame of an amortised-model training loop: the run folder locked (one process trains
    a run at a time) and opened (``open_run``), the first checkpoint of a new run, then (log
    file open for appending, progress bar) for the iterations, the bar closed whatever happens."""
    with FolderLock(run_dir):
        open_run(run_dir, record, start=start)
        if start == 0:
            checkpoint_now(0)
        bar = tqdm(total=config.steps, initial=start, disable=not progress, unit="it", dynamic_ncols=True)
        try:
            with open(run_dir / "log.jsonl", "a") as log:
                yield log, bar
        finally:
            bar.close()


def resume_point(run_dir: Path, *, what: str, read) -> tuple:
    """``read(options)`` of RUN/options.json and the latest finished checkpoint, or a one-line error."""
    try:
        saved = read(json.loads((run_dir / "options.json").read_text()))
    except (OSError, KeyError, TypeError, json.JSONDecodeError, GanfillError):
        raise GanfillError(f"{run_dir} is not {what} run folder (no usable options.json): "
                           "start a new run without --resume") from None
    ckpt = checkpoint.latest_training_checkpoint(run_dir)
    if ckpt is None:
        raise GanfillError(f"{run_dir} has no finished checkpoint to resume from: start it again without --resume")
    return saved, ckpt


# ---- run folder --------------------------------------------------------------------------


GAN_CURVES = (("loss_g", "tab:red", "generator"), ("loss_d", "tab:blue", "discriminator"))


def plot_losses(log_path: Path, out_png: Path, *, curves: tuple = GAN_CURVES) -> None:
    """Draw the ``curves`` (log key, colour, label; default G and D loss) per iteration, raw
    (faint) and smoothed, like the paper's Figure 4."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = log_rows(log_path)
    if not rows:
        return
    steps = np.array([r["step"] for r in rows])
    fig, ax = plt.subplots(figsize=(8, 4), dpi=100)
    for key, colour, label in curves:
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


def recorded_config(recorded: dict, overrides: dict | None = None) -> TrainConfig:
    """A TrainConfig from recorded options (options.json, a model file's metadata; keys of
    other versions ignored), then ``overrides``."""
    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**({k: v for k, v in recorded.items() if k in names} | (overrides or {})))


def load_options(run_dir: Path) -> tuple[Path, ModelConfig, TrainConfig, dict | None]:
    """A run's (data, model config, training options, the ``init`` it started from or None)."""
    try:
        opts = json.loads((run_dir / "options.json").read_text())
        return Path(opts["data"]), ModelConfig.from_dict(opts["model"]), recorded_config(opts["train"]), opts.get("init")
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        raise GanfillError(f"{run_dir} is not a ganfill run folder (no readable options.json): start a new run without --resume") from None
    except GanfillError as e:
        raise GanfillError(f"{run_dir / 'options.json'} holds unusable options ({e}): fix it, or start a new run") from None


# ---- the loop ---------------------------------------------------------------------------


def init_config(init: str | os.PathLike, overrides: dict) -> TrainConfig:
    """The training options of a run started from model ``init`` (``--init``): those its
    metadata records it was trained with, then ``overrides`` (e.g. a larger ``steps``)."""
    return recorded_config(checkpoint.describe(init).meta.get("train") or {}, overrides)


def train(data: str | os.PathLike | None, run_dir: str | os.PathLike, *, model: ModelConfig | None = None,
          config: TrainConfig | None = None, resume: bool = False, init: str | os.PathLike | None = None,
          device: str = "auto", progress: bool = True) -> Path:
    """Train (or resume) a DCGAN; returns the last checkpoint folder.

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
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    dev = resolve_device(device)
    if resume:
        data_saved, model, saved, started_from = load_options(run_dir)
        data = data or data_saved
        config = replace(saved, steps=max(saved.steps, config.steps if config else 0))
        ckpt = checkpoint.latest_training_checkpoint(run_dir)
        if ckpt is None:
            raise GanfillError(f"{run_dir} has no finished checkpoint to resume from: start it again without --resume")
    else:
        model, config, ckpt, started_from = model or ModelConfig(), config or TrainConfig(), None, None
        if checkpoint.latest_training_checkpoint(run_dir) is not None:
            raise GanfillError(f"{run_dir} already holds a training run: pass --resume to continue it, or choose another --out")
    start_from, start = None, 0
    if init is not None:
        if resume:
            raise GanfillError("--init starts a new run from a model's weights, --resume continues a run: give one of them")
        start_from = checkpoint.load(init)
        model, start = start_from.config, int(checkpoint.generator_record(start_from).get("step", 0))
        started_from = {"model": str(start_from.path), "step": start}
        if start >= config.steps:
            raise GanfillError(f"{init} was already trained for {start:,} iterations: pass a larger --steps to continue it")
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
    if ckpt is not None:
        start = checkpoint.load_training(ckpt, G=G, G_ema=G_ema, D=D, opt_G=opt_G, opt_D=opt_D)["step"]
    if start_from is not None:
        for net, weights in ((G, start_from.G), (G_ema, start_from.G), (D, start_from.D)):
            net.load_state_dict(weights.state_dict())
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
        "domain": checkpoint.domain_of(dataset.manifest).to_dict(),
    }
    if started_from is not None:
        record["init"] = started_from
    with FolderLock(run_dir, shared=world > 1):  # one job trains a run at a time; torchrun's ranks share it
        if rank == 0:
            open_run(run_dir, record, start=start)

        def real_batch(b: int, rng: torch.Generator) -> torch.Tensor:
            return real_images(images, batches.indices(b), flip=config.flip, rng=rng).contiguous(memory_format=fmt)

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

        def augment(x: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
            if config.policy:
                x = diff_augment(x, config.policy, rng)
            return x.contiguous(memory_format=fmt)

        if ckpt is None:  # a new run: its starting point (step 0, or the --init model's step)
            checkpoint_now(start)
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
                        real_logits = D_par(augment(real, rng))
                        fake_logits = D_par(augment(fake.detach(), rng))
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
                        loss_G = g_loss(D(augment(fake, rng)))
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


def sample(G: Generator, n: int, *, seed: int = 0, batch_size: int = 256, runtime: Runtime = Runtime()) -> np.ndarray:
    """n samples from G (an eval-mode inference copy on ``runtime``) as uint8 (n, R, R, 3), reproducible given seed."""
    z = torch.randn(n, G.z_dim, generator=torch.Generator().manual_seed(seed))
    fast = inference_copy(G, runtime)
    with torch.no_grad():
        return np.concatenate([to_uint8(fast(zb.to(runtime.device, runtime.dtype))) for zb in z.split(batch_size)])


# ---- the encoder of z ------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class EncoderConfig(RunOptions):
    """Training options of an encoder of z (``models.Encoder``) for a fixed, frozen G (and ``RunOptions``').

    Each iteration takes a batch of ``batch_size``: a ``real_fraction`` of real images and the
    rest G's own samples G(z) (z ~ N(0, I) clamped to [-3, 3], so their z is known), each with
    a hole from ``masks.training_masks`` (every test mask kind and random boxes).  The encoder
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


ENCODER_CURVES = (("loss", "tab:purple", "total"), ("latent", "tab:blue", "latent (G's samples)"),
                  ("pixel", "tab:red", "pixel L1 (all)"))


def encoder_loss(z_hat: torch.Tensor, z: torch.Tensor, rec: torch.Tensor, x: torch.Tensor, *,
                 latent_weight: float, pixel_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, latent, pixel): latent = mean((z^ - z)^2) over the first len(z) rows (G's samples,
    whose z is known), pixel = mean|G(z^) - x| over every pixel of every row."""
    latent = (z_hat[: len(z)].float() - z).square().mean() if len(z) else z_hat.new_zeros(()).float()
    pixel = (rec.float() - x).abs().mean()
    return latent_weight * latent + pixel_weight * pixel, latent, pixel


def train_encoder(model: str | os.PathLike | None, data: str | os.PathLike | None, run_dir: str | os.PathLike, *,
                  config: EncoderConfig | None = None, resume: bool = False, init: str | os.PathLike | None = None,
                  device: str = "auto", progress: bool = True) -> Path:
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
    if resume:
        (saved, model, data, init), ckpt = resume_point(run_dir, what="an encoder", read=lambda o: (
            EncoderConfig(**o["encoder"]), o["model"], data or o["data"], o.get("init")))
        config = replace(saved, steps=max(saved.steps, config.steps if config else 0))
    else:
        config, ckpt = config or EncoderConfig(), None
        if model is None or data is None:
            raise GanfillError("give the MODEL (a shipped name or checkpoint) and the DATA folder made by `ganfill prepare`")
        if checkpoint.latest_training_checkpoint(run_dir) is not None:
            raise GanfillError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")
    base = checkpoint.load(model)
    dataset = open_dataset(data)
    r = base.config.resolution
    if dataset.resolution != r:
        raise GanfillError(f"the dataset is {dataset.resolution}x{dataset.resolution} but the model is {r}x{r}: "
                           f"prepare the data at {r}")
    dev = resolve_device(device)
    dtype = resolve_precision(config.precision, dev)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    prior = DCGANPrior(base.G, base.D, domain=base.domain, runtime=Runtime(dev, dtype))  # frozen G, layers in dtype
    torch.manual_seed(config.seed)
    E = Encoder(base.config)
    if init is not None and ckpt is None:
        start_from = checkpoint.load(init).E
        if start_from is None or start_from.config != base.config:
            raise GanfillError(f"{init} has no encoder for a {base.config.arch} {r}x{r} model like {base.path.name}: "
                               "start the encoder from scratch (no --init)")
        E.load_state_dict(start_from.state_dict())
    E = E.to(dev, memory_format=fmt)
    opt = torch.optim.Adam(E.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    start = 0
    if ckpt is not None:
        start = checkpoint.load_training(ckpt, G=None, G_ema=base.G, D=base.D, opt_G=None, opt_D=None, E=E, opt_E=opt)["step"]

    images = torch.from_numpy(dataset.all()).to(dev)  # (N, R, R, 3) uint8
    n_real = int(round(config.batch_size * config.real_fraction))
    batches = Batches(len(images), batch_size=max(1, n_real), seed=config.seed, rank=0, world=1)
    shown = images[torch.randperm(len(images), generator=_seeded(config.seed, 5))[:16].to(dev)]
    shown = shown.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)  # (16, 3, R, R), fixed
    shown_masks = training_masks(16, r, generator=_seeded(config.seed, 6)).to(dev)
    log_path = run_dir / "log.jsonl"
    record = {"model": str(base.path), "data": str(Path(data).resolve()), "encoder": asdict(config),
              "base": checkpoint.generator_record(base),  # how G was trained, for `ganfill export`
              "model_config": base.config.to_dict(), "device": str(dev), "precision": str(dtype).removeprefix("torch."),
              "domain": base.domain.to_dict()}
    if init is not None:
        record["init"] = str(init)
    amp = torch.autocast(dev.type, dtype, enabled=dtype != torch.float32)

    def checkpoint_now(step: int) -> None:
        E.eval()
        with torch.no_grad(), amp:
            rec = prior.decode(E(shown.contiguous(memory_format=fmt), shown_masks).float())
        E.train()
        save_triplets(shown, shown_masks, rec, run_dir / "samples" / f"step-{step:08d}.png")  # masked | G(E(x)) | original
        checkpoint.save_training(run_dir, step=step, G=None, G_ema=base.G, D=base.D, opt_G=None, opt_D=None,
                                 E=E, opt_E=opt, record=record, keep=config.keep)
        plot_losses(log_path, run_dir / "loss.png", curves=ENCODER_CURVES)

    t0, step = time.perf_counter(), start
    with logged_run(run_dir, record, start=start, config=config, progress=progress, checkpoint_now=checkpoint_now) as (log, bar):
        E.train()
        for step in range(start + 1, config.steps + 1):
            rng = _seeded(config.seed, 4, step)
            real = real_images(images, batches.indices(step - 1)[:n_real], flip=config.flip, rng=rng)
            z = torch.randn(config.batch_size - n_real, base.config.z_dim, generator=rng).clamp_(-3, 3).to(dev)
            with torch.no_grad():
                fake = prior.decode(z)  # (B - n_real, C, R, R), z known
            x = torch.cat([fake, real]).contiguous(memory_format=fmt)  # (B, C, R, R)
            m = training_masks(len(x), r, generator=rng).to(dev)  # (B, 1, R, R)
            with amp:
                z_hat = E(x, m).float()  # (B, z_dim)
            rec = prior.decode(z_hat)  # gradients flow through the frozen G into E
            loss, latent, pixel = encoder_loss(z_hat, z, rec, x, latent_weight=config.latent_weight,
                                               pixel_weight=config.pixel_weight)
            if not torch.isfinite(loss):
                raise GanfillError(f"the encoder's loss became non-finite at iteration {step}: lower --lr")
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            row = {"step": step, "loss": loss.item(), "latent": latent.item(), "pixel": pixel.item(),
                   "images": config.batch_size * step, "seconds": round(time.perf_counter() - t0, 4)}
            log_iteration(log, bar, row, f"latent {row['latent']:.3f}  pixel {row['pixel']:.3f}", config=config,
                          checkpoint_now=checkpoint_now)
    return run_dir / "checkpoints" / f"step-{step:08d}"


# ---- the context encoder (the CNN of the paper's comparison) ------------------------------


@dataclass(frozen=True, kw_only=True)
class CETrainConfig(RunOptions):
    """Training options of a ``models.ContextEncoder`` (and ``RunOptions``'): Pathak et al. 2016.

    Every iteration takes ``batch_size`` real images with holes (``masks``: ``mix``, the
    default, draws each from ``masks.training_masks``: every test mask kind and random boxes,
    so one model repairs any hole; or one mask kind of ``masks.MASKS`` for a specialist).
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
        from ganfill.masks import MASKS

        self.check(fractions=("adv_weight", "ema_decay"))
        if self.masks != "mix" and self.masks not in MASKS:
            raise GanfillError(f"unknown --masks {self.masks!r}: choose mix or one of {', '.join(MASKS)}")


CE_CURVES = (("rec", "tab:red", "hole MSE"), ("loss_d", "tab:blue", "discriminator"))


def ce_loss(pred: torch.Tensor, x: torch.Tensor, m: torch.Tensor, adv_logits: torch.Tensor, *,
            adv_weight: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, rec, adv): rec = mean squared error over the hole's pixels and channels of the batch,
    adv = ``g_loss`` of D's logits for the completed images."""
    hole = 1.0 - m  # (N, 1, R, R)
    rec = (hole * (pred.float() - x).square()).sum() / (hole.sum() * x.shape[1]).clamp_min(1.0)
    adv = g_loss(adv_logits)
    return (1.0 - adv_weight) * rec + adv_weight * adv, rec, adv


def train_context_encoder(data: str | os.PathLike | None, run_dir: str | os.PathLike, *, model: CEConfig | None = None,
                          config: CETrainConfig | None = None, resume: bool = False, device: str = "auto",
                          progress: bool = True) -> Path:
    """Train (or resume) a context encoder on ``data`` (a dataset made by ``prepare``); returns the last checkpoint.

    The run folder is like ``train``'s: options.json, log.jsonl, loss.png, samples/ (fixed
    training images with fixed holes: masked input | completed | original) and checkpoints/
    whose model.safetensors is a complete context encoder (``ganfill export RUN NAME`` ships it).
    ``resume`` takes everything from RUN/options.json; only ``steps`` may be raised.
    """
    from ganfill.masks import make_mask
    from ganfill.models import ContextEncoder

    run_dir = Path(run_dir)
    if resume:
        (saved, model, data), ckpt = resume_point(run_dir, what="a context-encoder", read=lambda o: (
            CETrainConfig(**o["train"]), CEConfig.from_dict(o["model"]), data or o["data"]))
        config = replace(saved, steps=max(saved.steps, config.steps if config else 0))
    else:
        config, ckpt = config or CETrainConfig(), None
        if data is None:
            raise GanfillError("give the DATA folder made by `ganfill prepare`")
        if checkpoint.latest_training_checkpoint(run_dir) is not None:
            raise GanfillError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")
    dataset = open_dataset(data)
    model = model or CEConfig(resolution=dataset.resolution)
    r = model.resolution
    if dataset.resolution != r:
        raise GanfillError(f"the dataset is {dataset.resolution}x{dataset.resolution} but the model is {r}x{r}: prepare the data at {r}")
    dev = resolve_device(device)
    dtype = resolve_precision(config.precision, dev)
    fmt = torch.channels_last if config.channels_last else torch.contiguous_format
    torch.manual_seed(config.seed)
    CE = ContextEncoder(model).to(dev, memory_format=fmt)
    CE_ema = ema_copy(CE)  # what is saved and used
    D = Discriminator(model.discriminator()).to(dev, memory_format=fmt)
    opt_CE = torch.optim.Adam(CE.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    opt_D = torch.optim.Adam(D.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
    start = 0
    if ckpt is not None:
        start = checkpoint.load_ce_training(ckpt, CE=CE, CE_ema=CE_ema, D=D, opt_CE=opt_CE, opt_D=opt_D)["step"]

    images = torch.from_numpy(dataset.all()).to(dev)  # (N, R, R, 3) uint8
    batches = Batches(len(images), batch_size=config.batch_size, seed=config.seed, rank=0, world=1)

    def holes(n: int, rng: torch.Generator) -> torch.Tensor:  # (n, 1, R, R), 1 = known
        if config.masks == "mix":
            return training_masks(n, r, generator=rng).to(dev)
        return make_mask(config.masks, n, r, generator=rng).to(dev)

    shown = images[torch.randperm(len(images), generator=_seeded(config.seed, 5))[:16].to(dev)]
    shown = shown.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)  # (16, 3, R, R), fixed
    shown_masks = holes(16, _seeded(config.seed, 6))
    log_path = run_dir / "log.jsonl"
    manifest = dataset.manifest
    record = {"data": str(Path(data).resolve()), "model": model.to_dict(), "train": asdict(config), "device": str(dev),
              "precision": str(dtype).removeprefix("torch."), "domain": checkpoint.domain_of(manifest).to_dict(),
              "dataset": {k: v for k, v in manifest.items() if k not in ("shards", "sources", "fonts", "skipped")}}
    amp = torch.autocast(dev.type, dtype, enabled=dtype != torch.float32)

    def checkpoint_now(step: int) -> None:
        with torch.no_grad(), amp:
            pred = CE_ema(shown.contiguous(memory_format=fmt), shown_masks).float()
        completed = torch.where(shown_masks > 0.5, shown, pred)
        save_triplets(shown, shown_masks, completed, run_dir / "samples" / f"step-{step:08d}.png")  # masked | completed | original
        checkpoint.save_ce_training(run_dir, step=step, CE=CE, CE_ema=CE_ema, D=D, opt_CE=opt_CE, opt_D=opt_D,
                                    record=record, keep=config.keep)
        plot_losses(log_path, run_dir / "loss.png", curves=CE_CURVES)

    t0, step = time.perf_counter(), start
    with logged_run(run_dir, record, start=start, config=config, progress=progress, checkpoint_now=checkpoint_now) as (log, bar):
        CE.train(), D.train()
        for step in range(start + 1, config.steps + 1):
            rng = _seeded(config.seed, 7, step)
            x = real_images(images, batches.indices(step - 1), flip=config.flip, rng=rng)
            x = x.contiguous(memory_format=fmt)  # (B, C, R, R)
            m = holes(len(x), rng)  # (B, 1, R, R)
            with amp:
                pred = CE(x, m)  # (B, C, R, R)
                completed = (m * x + (1 - m) * pred).contiguous(memory_format=fmt)
                loss_d = d_loss(D(x), D(completed.detach()))
            opt_D.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_D.step()
            D.requires_grad_(False)
            with amp:
                adv_logits = D(completed)
            loss, rec, adv = ce_loss(pred, x, m, adv_logits, adv_weight=config.adv_weight)
            opt_CE.zero_grad(set_to_none=True)
            loss.backward()
            opt_CE.step()
            ema_update(CE_ema, CE, decay=min(config.ema_decay, (1 + step) / (10 + step)))
            D.requires_grad_(True)
            if not (torch.isfinite(loss) and torch.isfinite(loss_d)):
                raise GanfillError(f"losses became non-finite at iteration {step}: lower --lr or use --precision fp32")
            row = {"step": step, "loss": loss.item(), "rec": rec.item(), "adv": adv.item(), "loss_d": loss_d.item(),
                   "images": config.batch_size * step, "seconds": round(time.perf_counter() - t0, 4)}
            log_iteration(log, bar, row, f"hole MSE {row['rec']:.4f}  D {row['loss_d']:.3f}", config=config,
                          checkpoint_now=checkpoint_now)
    return run_dir / "checkpoints" / f"step-{step:08d}"
