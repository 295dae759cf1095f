"""Checkpoints: safetensors weights with the model config inside, never pickled code.

A *model file* (``model.safetensors``) alone rebuilds G and D: its metadata holds the
``ModelConfig`` as JSON and the *domain* (the crop policy and background colour its training
images were prepared with, so user images can be brought into the same square), its tensors are ``G.*`` (the weights to sample with: the EMA copy when
there is one), ``D.*`` and, in training checkpoints, ``G_train.*`` (the raw G being optimised).

A *training checkpoint* is a folder ``RUN/checkpoints/step-NNNNNNNN/`` holding
``model.safetensors``, ``state.safetensors`` (optimizer tensors) and ``config.json`` (model
config, resolved training options, step, optimizer hyperparameters, dataset manifest summary).
Every file is written under a temporary name and renamed into place, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import shutil
import secrets
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file, safe_open

from ganfill import __version__
from ganfill.errors import GanfillError
from ganfill.images import atomic_path
from ganfill.models import Discriminator, Generator, ModelConfig, build

FORMAT = "ganfill-model"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
CKPT_GLOB = "step-*"


@dataclass
class Loaded:
    """What a checkpoint rebuilds: models in eval mode, their config, and the JSON record."""

    G: Generator
    D: Discriminator
    config: ModelConfig
    info: dict  # config.json of a training checkpoint, or {} for a bare model file
    path: Path
    domain: dict  # how images were brought into the model's square: {"crop": ..., "background": [r, g, b]}


def _prefixed(prefix: str, module: torch.nn.Module, dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    out = {}
    for k, v in module.state_dict().items():
        v = v.detach().cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[f"{prefix}.{k}"] = v.contiguous()
    return out


def domain_of(manifest: dict) -> dict:
    """The domain of a dataset manifest; rendered glyphs map to ``pad`` for user images."""
    crop = manifest.get("crop", "none")
    return {"crop": "pad" if crop == "glyph" else crop, "background": list(manifest.get("background", (255, 255, 255)))}


def save_model(path: str | os.PathLike, *, G: Generator, D: Discriminator, G_train: Generator | None = None,
               domain: dict | None = None, dtype: torch.dtype | None = None, extra: dict | None = None) -> Path:
    """Write G (sampling weights), D and optionally the raw training G into one safetensors file."""
    path = Path(path)
    tensors = _prefixed("G", G, dtype) | _prefixed("D", D, dtype)
    if G_train is not None:
        tensors |= _prefixed("G_train", G_train, dtype)
    meta = {"format": FORMAT, "ganfill_version": __version__, "model_config": json.dumps(G.config.to_dict())}
    meta["domain"] = json.dumps(domain or {"crop": "none", "background": [255, 255, 255]})
    meta |= {k: json.dumps(v) for k, v in (extra or {}).items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=meta)
    return path


def find_checkpoint(path: str | os.PathLike) -> Path:
    """Resolve a run folder (latest checkpoint), a checkpoint folder, or a model file to a model file."""
    path = Path(path)
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        steps = sorted((path / "checkpoints").glob(CKPT_GLOB)) if (path / "checkpoints").is_dir() else []
        steps = [s for s in steps if (s / MODEL_FILE).is_file()]
        if not steps:
            raise GanfillError(f"{path} holds no checkpoint: give a run folder, a checkpoint folder or a .safetensors model file")
        return steps[-1] / MODEL_FILE
    if not path.exists():
        raise GanfillError(f"checkpoint {path} does not exist: give a run folder, a checkpoint folder or a .safetensors model file")
    return path


def _read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        first = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise GanfillError(f"{path} is not a readable safetensors checkpoint ({first}): is the file complete?") from None
    return tensors, meta


def _load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, path: Path) -> None:
    own = module.state_dict()
    sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    missing, unexpected = own.keys() - sub.keys(), sub.keys() - own.keys()
    bad = [k for k in own.keys() & sub.keys() if own[k].shape != sub[k].shape]
    if missing or unexpected or bad:
        what = sorted(missing)[:1] or sorted(unexpected)[:1] or bad[:1]
        raise GanfillError(f"{path} does not match its own model config ({prefix}.{what[0]}): the checkpoint is incompatible or damaged")
    module.load_state_dict({k: v.to(own[k].dtype) for k, v in sub.items()})


def load(path: str | os.PathLike, *, raw_generator: bool = False) -> Loaded:
    """Rebuild G and D (eval mode, fp32) from a checkpoint alone.

    raw_generator: load the G being trained instead of its EMA copy (training checkpoints only).
    """
    file = find_checkpoint(path)
    tensors, meta = _read_tensors(file)
    if meta.get("format") != FORMAT or "model_config" not in meta:
        raise GanfillError(f"{file} is a safetensors file but not a ganfill model (no ganfill metadata)")
    try:
        config = ModelConfig.from_dict(json.loads(meta["model_config"]))
    except (json.JSONDecodeError, TypeError) as e:
        raise GanfillError(f"{file} has an unreadable model config ({e})") from None
    G, D = build(config)
    _load_into(G, tensors, "G_train" if raw_generator and any(k.startswith("G_train.") for k in tensors) else "G", file)
    _load_into(D, tensors, "D", file)
    info = {}
    if (file.parent / CONFIG_FILE).is_file():
        try:
            info = json.loads((file.parent / CONFIG_FILE).read_text())
        except json.JSONDecodeError:
            raise GanfillError(f"{file.parent / CONFIG_FILE} is not valid JSON: the checkpoint is damaged") from None
    try:
        domain = json.loads(meta["domain"]) if "domain" in meta else domain_of(info.get("dataset", {}))
    except json.JSONDecodeError:
        raise GanfillError(f"{file} has an unreadable domain record: the checkpoint is damaged") from None
    return Loaded(G.eval(), D.eval(), config, info, file, domain)


# ---- training checkpoints ---------------------------------------------------------------


def _optimizer_split(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    sd = opt.state_dict()
    tensors = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            tensors[f"{prefix}.{pid}.{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    return tensors, {"param_groups": sd["param_groups"]}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict, prefix: str) -> dict:
    state: dict[int, dict] = {}
    for k, v in tensors.items():
        if k.startswith(prefix + "."):
            _, pid, key = k.split(".", 2)
            state.setdefault(int(pid), {})[key] = v
    return {"state": state, "param_groups": meta["param_groups"]}


def save_training(run_dir: str | os.PathLike, *, step: int, G: Generator, G_ema: Generator, D: Discriminator,
                  opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer, record: dict, keep: int = 3) -> Path:
    """Write RUN/checkpoints/step-NNNNNNNN atomically, then prune all but the newest `keep`."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = root / f".{final.name}.{secrets.token_hex(6)}.tmp"
    tmp.mkdir()
    try:
        save_model(tmp / MODEL_FILE, G=G_ema, D=D, G_train=G, domain=record.get("domain"), extra={"step": step})
        tg, mg = _optimizer_split(opt_G, "opt_G")
        td, md = _optimizer_split(opt_D, "opt_D")
        save_file(tg | td, str(tmp / STATE_FILE))
        info = dict(record, step=step, ganfill_version=__version__, optimizers={"G": mg, "D": md})
        (tmp / CONFIG_FILE).write_text(json.dumps(info, indent=2))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)
    if keep > 0:
        for old in sorted(root.glob(CKPT_GLOB))[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_training(ckpt_dir: Path, *, G: Generator, G_ema: Generator, D: Discriminator,
                  opt_G: torch.optim.Optimizer, opt_D: torch.optim.Optimizer) -> dict:
    """Restore weights and optimizer state in place; returns the checkpoint's config.json."""
    file = ckpt_dir / MODEL_FILE
    tensors, _ = _read_tensors(file)
    _load_into(G_ema, tensors, "G", file)
    _load_into(G, tensors, "G_train", file)
    _load_into(D, tensors, "D", file)
    try:
        info = json.loads((ckpt_dir / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise GanfillError(f"{ckpt_dir / CONFIG_FILE} is missing or damaged: cannot resume from {ckpt_dir}") from None
    state, _ = _read_tensors(ckpt_dir / STATE_FILE)
    opt_G.load_state_dict(_optimizer_join(state, info["optimizers"]["G"], "opt_G"))
    opt_D.load_state_dict(_optimizer_join(state, info["optimizers"]["D"], "opt_D"))
    return info


def latest_training_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    root = Path(run_dir) / "checkpoints"
    done = [p for p in sorted(root.glob(CKPT_GLOB)) if (p / CONFIG_FILE).is_file()] if root.is_dir() else []
    return done[-1] if done else None
