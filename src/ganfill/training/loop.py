"""The training loop: one for every model that ganfill trains, with the task injected.

``training_loop(task, run_dir, ...)`` owns what every run shares: the run folder and its lock
(one process trains a run at a time; the ranks of one torchrun job share it), resuming from
the latest checkpoint, the log (one JSON line per iteration), checkpoints and sample grids
every ``checkpoint_every`` iterations, the progress bar, and the torch.distributed process
group.  A ``Task`` (``training.gan``, ``training.encoder``, ``training.context_encoder``)
holds the networks, optimisers and data, and does one iteration at a time.

Randomness is a pure function of (seed, iteration, rank): the data order of epoch e is a
permutation seeded by (seed, e), and every iteration draws its noise from a generator seeded
by (seed, iteration, rank). The RNG state at a checkpoint is therefore its step number, and
``--resume`` reproduces the uninterrupted run's losses exactly.

Run folder::

    RUN/options.json              the task's resolved options, data path
    RUN/log.jsonl                 one line per iteration: the task's losses, images seen,
                                  seconds since this process started training (for throughput)
    RUN/loss.png                  the task's loss curves (as the paper's Figure 4)
    RUN/samples/step-NNNNNNNN.png the task's sample grid at every checkpoint
    RUN/checkpoints/step-NNNNNNNN/{model,state}.safetensors + config.json
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from tqdm import tqdm

from ganfill.core.checks import integer
from ganfill.core.errors import GanfillError
from ganfill.core.files import FolderLock, atomic_path, remove_stale_temps, write_json
from ganfill.core.images import grid, save_image, to_uint8
from ganfill.models import files as checkpoint
from ganfill.models.config import ModelConfig
from ganfill.models.registry import Model

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


def triplets(shown: torch.Tensor, masks: torch.Tensor, result: torch.Tensor) -> np.ndarray:
    """A sample grid of fixed images: per image masked input | ``result`` | original, 4 per row."""
    masked = torch.where(masks > 0.5, shown, torch.zeros(()))
    return grid(to_uint8(torch.stack([masked, result.clamp(-1, 1), shown], 1).flatten(0, 1)), nrow=12)


@runtime_checkable
class Task(Protocol):
    """One kind of training run, as ``training_loop`` sees it.

    record: what options.json holds (enough to resume).  config: its training options.  model: the ``Model`` a checkpoint's
    model file holds (the networks to use: EMA copies where there are).  training: networks
    only training checkpoints hold (the raw networks behind EMA copies, an adversarial D).
    optimizers: by name.  curves: the loss plot's (log key, colour, label).  images_per_step:
    real images seen per iteration, all processes together.
    """

    record: dict
    config: Any  # the training options: steps, checkpoint_every, keep and the task's own
    model: Model
    training: dict[str, nn.Module]
    optimizers: dict[str, torch.optim.Optimizer]
    curves: tuple[tuple[str, str, str], ...]
    images_per_step: int

    def step(self, step: int) -> dict[str, float]:
        """Train iteration ``step`` (1-based); the losses for its log row."""

    def samples(self) -> np.ndarray:
        """uint8 image grid for RUN/samples at a checkpoint."""

    def postfix(self, row: dict) -> str:
        """The progress bar's text for a log row."""


def distributed(device: torch.device) -> tuple[int, int, torch.device]:
    """(rank, world size, this process's device) under torchrun (WORLD_SIZE > 1; the process
    group is started here: nccl on CUDA, gloo on the CPU), else (0, 1, device)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    return rank, world, device


def init_point(init: str | os.PathLike, *, kind: str, resume: bool, steps: int) -> tuple[Model, int, dict]:
    """A new run started from model file ``init`` (``--init``) of ``kind``: (the model, the
    iteration it was trained to, the run's record of it).  Its weights go into the task's
    networks; the optimisers start afresh, as a model file holds no optimiser state."""
    if resume:
        raise GanfillError("--init starts a new run from a model's weights, --resume continues a run: give one of them")
    model = checkpoint.load(init, kind=kind)
    start = int(checkpoint.generator_record(model).get("step", 0))
    if start >= steps:
        raise GanfillError(f"{init} was already trained for {start:,} iterations: pass a larger --steps to continue it")
    return model, start, {"model": str(model.path), "step": start}


def init_config(config_class, init: str | os.PathLike, overrides: dict):
    """The training options of a run started from model ``init`` (``--init``): those its
    metadata records it was trained with, then ``overrides``."""
    return config_class.recorded(checkpoint.describe(init).meta.get("train") or {}, overrides)


def new_or_resumed(run_dir: Path, *, resume: bool, what: str, read) -> tuple[object, Path | None]:
    """A run's starting point: for ``resume``, ``read(options)`` of RUN/options.json and its
    latest finished checkpoint (one-line errors for a folder that is not ``what`` run, or has
    no checkpoint); for a new run, (None, None) after checking that the folder holds no run."""
    if not resume:
        if checkpoint.training_checkpoints(run_dir):
            raise GanfillError(f"{run_dir} already holds a run: pass --resume to continue it, or choose another --out")
        return None, None
    try:
        saved = read(json.loads((run_dir / "options.json").read_text()))
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        raise GanfillError(
            f"{run_dir} is not {what} run folder (no usable options.json): start a new run without --resume"
        ) from None
    except GanfillError as e:
        raise GanfillError(f"{run_dir / 'options.json'} holds unusable options ({e}): fix it, or start a new run") from None
    ckpt = checkpoint.latest_training_checkpoint(run_dir)
    if ckpt is None:
        raise GanfillError(f"{run_dir} has no finished checkpoint to resume from: start it again without --resume")
    return saved, ckpt


def check_resolution(dataset_resolution: int, model_resolution: int) -> None:
    r, d = model_resolution, dataset_resolution
    if d != r:
        raise GanfillError(f"the dataset is {d}x{d} but the model is {r}x{r}: pass --resolution {d} or prepare the data at {r}")


def training_loop(
    task: Task,
    run_dir: str | os.PathLike,
    *,
    resume_from: Path | None = None,
    start: int = 0,
    progress: bool = True,
    rank: int = 0,
    world: int = 1,
) -> Path:
    """Run ``task`` from iteration ``start`` (or from checkpoint ``resume_from``, whose networks
    and optimisers are restored into the task's) to ``task.config.steps``, a checkpoint every
    ``checkpoint_every`` iterations (the last ``keep`` kept); returns the last checkpoint.

    A new run writes its starting point as its first checkpoint.  Only rank 0 writes; the
    process group of a torchrun job is closed at the end, whatever happens.
    """
    run_dir = Path(run_dir)
    steps, checkpoint_every, keep = task.config.steps, task.config.checkpoint_every, task.config.keep
    nets = task.model.nets | task.training
    if resume_from is not None:
        start = checkpoint.load_training(resume_from, nets=nets, optimizers=task.optimizers)["step"]
    log_path = run_dir / "log.jsonl"

    def checkpoint_now(step: int) -> None:
        if rank != 0:
            return
        save_image(task.samples(), run_dir / "samples" / f"step-{step:08d}.png")
        checkpoint.save_training(
            run_dir,
            step=step,
            model=task.model,
            training=task.training,
            optimizers=task.optimizers,
            record=task.record,
            keep=keep,
        )
        plot_losses(log_path, run_dir / "loss.png", curves=task.curves)

    step = start
    try:
        with FolderLock(run_dir, shared=world > 1):
            if rank == 0:
                open_run(run_dir, task.record, start=start)
            if resume_from is None:
                checkpoint_now(start)
            if progress and rank == 0:
                tqdm.write(start_line(task, run_dir, start=start, world=world))
            bar = tqdm(total=steps, initial=start, disable=not progress or rank != 0, unit="it", dynamic_ncols=True)
            log = open(log_path, "a") if rank == 0 else None
            t0 = time.perf_counter()
            try:
                for step in range(start + 1, steps + 1):
                    losses = task.step(step)
                    if log is not None:
                        elapsed = time.perf_counter() - t0
                        row = {"step": step, **losses, "images": task.images_per_step * step, "seconds": round(elapsed, 4)}
                        log.write(json.dumps(row) + "\n")
                        rate = task.images_per_step * (step - start) / elapsed
                        bar.set_postfix_str(f"{rate:.0f} img/s  {task.postfix(row)}", refresh=False)
                    bar.update(1)
                    if step % checkpoint_every == 0 or step == steps:
                        if log is not None:
                            log.flush()
                        checkpoint_now(step)
            finally:
                bar.close()
                if log is not None:
                    log.close()
    finally:
        if world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
    return run_dir / "checkpoints" / f"step-{step:08d}"


def start_line(task: Task, run_dir: Path, *, start: int, world: int = 1) -> str:
    """What a run says when it starts (``--quiet`` silences it): where it writes, on which device in
    which precision, the data, and the iterations ahead."""
    record, config = task.record, task.config
    dataset = record.get("dataset") or {}
    size = f"{dataset['count']:,} images at {dataset['resolution']}x{dataset['resolution']}" if "count" in dataset else "?"
    processes = f" x {world} processes" if world > 1 else ""
    return (
        f"training {run_dir} on {record.get('device')}{processes} in {record.get('precision')}: "
        f"data {record.get('data')} ({size}); iterations {start + 1:,} to {config.steps:,}, batch {config.batch_size}"
    )


def open_run(run_dir: Path, record: dict, *, start: int) -> None:
    """Make the run folder ready to (re)start at iteration ``start``: temp files of a run killed
    mid-write removed, options.json written, log rows after ``start`` (and a torn line) dropped.
    The caller holds the folder's ``FolderLock``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(run_dir, run_dir / "checkpoints", run_dir / "samples")
    write_json(record, run_dir / "options.json", indent=2)
    _truncate_log(run_dir / "log.jsonl", start)


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
            raise GanfillError(
                f"{log_path} line {i} is damaged (not a log row): repair or delete the line, then resume"
            ) from None
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
