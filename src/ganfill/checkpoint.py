"""Checkpoints: safetensors weights with the model config inside, never pickled code.

A *model file* (``model.safetensors``) alone rebuilds G and D: its metadata holds the
``ModelConfig`` as JSON and the *domain* (the crop policy and background colour its training
images were prepared with, so user images can be brought into the same square), its tensors are ``G.*`` (the weights to sample with: the EMA copy when
there is one), ``D.*``, in training checkpoints ``G_train.*`` (the raw G being optimised), and
``E.*`` when the model has an encoder of z (``models.Encoder``, trained by ``train.train_encoder``
for this very G: ``E_clip`` in the metadata).

A *training checkpoint* is a folder ``RUN/checkpoints/step-NNNNNNNN/`` holding
``model.safetensors``, ``state.safetensors`` (optimizer tensors) and ``config.json`` (model
config, resolved training options, step, optimizer hyperparameters, dataset manifest summary).
Every file is written under a temporary name and renamed into place, so a run killed at any
moment leaves either the previous checkpoint or the new one, never half of one.

A *shipped model* is a bare model file inside the package, ``ganfill/assets/models/NAME.safetensors``
(fp16 by default: the EMA generator and the discriminator, config and domain in the metadata,
training step and images seen in ``step`` / ``images_seen``), next to its hand-written model card
``NAME.md``. ``export`` writes one from a training checkpoint; ``resolve`` turns a shipped name
or a path into a model file, and every command that takes a checkpoint goes through it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save, save_file, safe_open

from ganfill import __version__
from ganfill.data import Domain
from ganfill.errors import GanfillError
from ganfill.files import temp_name, writing
from ganfill.images import atomic_path
from ganfill.models import CEConfig, ContextEncoder, Discriminator, Encoder, Generator, ModelConfig, build

FORMAT = "ganfill-model"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
CKPT_GLOB = "step-*"
SHIPPED_DIR = Path(__file__).parent / "assets" / "models"  # package data: NAME.safetensors + NAME.md
CARD_SUFFIX = ".md"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a shipped model's name: letters, digits, - and _
DTYPES = {"fp16": torch.float16, "fp32": torch.float32}
CE_KIND = "context-encoder"  # metadata "kind" of a context encoder's model file (a GAN's has none)


@dataclass
class Loaded:
    """What a checkpoint rebuilds: models in eval mode, their config, and the JSON record."""

    G: Generator
    D: Discriminator
    config: ModelConfig
    info: dict  # config.json of a training checkpoint, or {} for a bare model file
    path: Path
    domain: Domain  # how images were brought into the model's square
    E: Encoder | None = None  # the encoder of z trained for this G, if the model has one


def _prefixed(prefix: str, module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()}


def _cast(tensors: dict[str, torch.Tensor], dtype: torch.dtype | None) -> dict[str, torch.Tensor]:
    """The floating-point tensors in ``dtype`` (None: as they are)."""
    if dtype is None:
        return tensors
    return {k: v.to(dtype) if v.is_floating_point() else v for k, v in tensors.items()}


def domain_of(manifest: dict) -> Domain:
    """The domain of a dataset manifest; rendered glyphs map to ``pad`` for user images."""
    return Domain.from_dict({k: manifest[k] for k in ("crop", "background") if k in manifest})


def save_model(path: str | os.PathLike, *, G: Generator, D: Discriminator, G_train: Generator | None = None,
               E: Encoder | None = None, domain: Domain | None = None, dtype: torch.dtype | None = None,
               extra: dict | None = None) -> Path:
    """Write G (sampling weights), D, optionally the raw training G and an encoder E into one safetensors file."""
    path = Path(path)
    tensors = _prefixed("G", G) | _prefixed("D", D)
    for prefix, module in (("G_train", G_train), ("E", E)):
        if module is not None:
            tensors |= _prefixed(prefix, module)
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(f"not writing {path}: tensor {bad} holds NaN or infinite values, which no model can use: "
                           "take an earlier checkpoint")
    tensors = _cast(tensors, dtype)
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(f"not writing {path}: tensor {bad} does not fit in {str(dtype).removeprefix('torch.')} "
                           "(its values overflow to infinity): export with --dtype fp32")
    meta = {"format": FORMAT, "ganfill_version": __version__, "model_config": json.dumps(G.config.to_dict())}
    if E is not None:
        meta["E_clip"] = json.dumps(E.clip)
    meta["domain"] = json.dumps((domain or Domain()).to_dict())
    meta |= {k: json.dumps(v) for k, v in (extra or {}).items()}
    with atomic_path(path) as tmp:
        tmp.write_bytes(save(tensors, metadata=meta))  # through Python: the usual file permissions (save_file: 0600)
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


def shipped_models() -> dict[str, Path]:
    """The models that ship with ganfill, by name (the file stem), in name order: GANs and
    context encoders (``NAME-ce``, see ``context_encoder_for``)."""
    return {p.stem: p for p in sorted(SHIPPED_DIR.glob("*.safetensors"), key=lambda p: p.stem)}


def _shipped_list() -> str:
    names = list(shipped_models())
    return ", ".join(names) if names else f"none installed in {SHIPPED_DIR}"


def resolve(spec: str | os.PathLike) -> Path:
    """The model file a model spec names: a shipped model's name (``faces64``), a .safetensors
    file, a run folder (its latest checkpoint) or a checkpoint folder.

    An existing path wins over a shipped name of the same spelling. Anything else is a
    one-line ``GanfillError`` that lists the shipped names.
    """
    path = Path(spec)
    if path.exists():
        return find_checkpoint(path)
    text = str(spec)
    shipped = shipped_models()
    if text in shipped:
        return shipped[text]
    if NAME_PATTERN.fullmatch(text):
        raise GanfillError(f"no model named {text!r}: shipped models are {_shipped_list()}; "
                           "or give a run folder, a checkpoint folder or a .safetensors model file")
    raise GanfillError(f"checkpoint {path} does not exist and is not a shipped model ({_shipped_list()}): "
                       "give a shipped model's name, a run folder, a checkpoint folder or a .safetensors model file")


def _unreadable(path: Path, error: Exception) -> GanfillError:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return GanfillError(f"{path} is not a readable safetensors checkpoint ({first}): is the file complete?")


_READ_ERRORS = (SafetensorError, OSError, ValueError, RuntimeError)


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, or None."""
    return next((k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)


def _config_of(file: Path, text: str) -> ModelConfig:
    """The ModelConfig of a model file's ``model_config`` metadata, checked for types and ranges."""
    try:
        return ModelConfig.from_dict(json.loads(text))
    except (json.JSONDecodeError, TypeError, GanfillError) as e:
        raise GanfillError(f"{file} has an unusable model config ({e}): the checkpoint is damaged") from None


def _domain_of(file: Path, domain) -> Domain:
    """A domain record checked (a JSON object with a crop policy and an RGB background)."""
    try:
        return Domain.from_dict(domain)
    except GanfillError as e:
        raise GanfillError(f"{file} has an unusable domain record ({e}): the checkpoint is damaged") from None


def _check_ganfill(file: Path, meta: dict) -> None:
    if meta.get("format") == FORMAT and meta.get("kind") == CE_KIND:
        raise GanfillError(f"{file} is a context encoder (a one-pass CNN), not a GAN: it has no generator to search "
                           "or sample; complete with it by `ganfill inpaint --model` it, or give a GAN model here")
    if meta.get("format") != FORMAT or "model_config" not in meta:
        raise GanfillError(f"{file} is a safetensors file but not a ganfill model (no ganfill metadata)")


def _read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(f"{path}: tensor {bad} holds NaN or infinite values (the file is damaged or its training "
                           "diverged): use an earlier checkpoint")
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


def _read_domain(file: Path, meta: dict) -> Domain:
    try:
        record = json.loads(meta["domain"])
    except json.JSONDecodeError:
        raise GanfillError(f"{file} has an unreadable domain record: the checkpoint is damaged") from None
    return _domain_of(file, record)


def _read_info(file: Path) -> dict:
    """The config.json beside a training checkpoint's model file ({} for a bare model file)."""
    if not (file.parent / CONFIG_FILE).is_file():
        return {}
    try:
        info = json.loads((file.parent / CONFIG_FILE).read_text())
    except json.JSONDecodeError:
        raise GanfillError(f"{file.parent / CONFIG_FILE} is not valid JSON: the checkpoint is damaged") from None
    if not isinstance(info, dict) or not isinstance(info.get("dataset", {}), dict):
        raise GanfillError(f"{file.parent / CONFIG_FILE} is not a checkpoint record (a JSON object): the checkpoint is damaged")
    return info


def load(path: str | os.PathLike, *, raw_generator: bool = False) -> Loaded:
    """Rebuild G and D (eval mode, fp32) from a checkpoint alone.

    path: anything ``resolve`` takes (a shipped model's name, a model file, a run or checkpoint folder).
    raw_generator: load the G being trained instead of its EMA copy (training checkpoints only).
    """
    file = resolve(path)
    tensors, meta = _read_tensors(file)
    _check_ganfill(file, meta)
    config = _config_of(file, meta["model_config"])
    G, D = build(config)
    _load_into(G, tensors, "G_train" if raw_generator and any(k.startswith("G_train.") for k in tensors) else "G", file)
    _load_into(D, tensors, "D", file)
    E = None
    if any(k.startswith("E.") for k in tensors):
        E = Encoder(config, clip=float(json.loads(meta.get("E_clip", "3.0"))))
        _load_into(E, tensors, "E", file)
        E.eval()
    info = _read_info(file)
    domain = _read_domain(file, meta) if "domain" in meta else _domain_of(file, info.get("dataset", {}))
    return Loaded(G.eval(), D.eval(), config, info, file, domain, E)


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


def _optimizers(**opts: torch.optim.Optimizer | None) -> dict[str, torch.optim.Optimizer]:
    return {name.removeprefix("opt_"): o for name, o in opts.items() if o is not None}


def save_training(run_dir: str | os.PathLike, *, step: int, G: Generator | None, G_ema: Generator, D: Discriminator,
                  opt_G: torch.optim.Optimizer | None, opt_D: torch.optim.Optimizer | None, record: dict,
                  keep: int = 3, E: Encoder | None = None, opt_E: torch.optim.Optimizer | None = None) -> Path:
    """Write RUN/checkpoints/step-NNNNNNNN atomically, then prune all but the newest `keep`.

    A GAN run saves G (raw), G_ema, D and both optimizers; an encoder run (``train_encoder``)
    saves its fixed G_ema and D, the encoder E and E's optimizer (G and opt_G, opt_D None)."""
    domain = Domain.from_dict(record["domain"]) if "domain" in record else None

    def write(file: Path) -> None:
        save_model(file, G=G_ema, D=D, G_train=G, E=E, domain=domain, extra={"step": step})

    return _save_folder(run_dir, step=step, write_model=write, record=record, keep=keep,
                        optimizers=_optimizers(opt_G=opt_G, opt_D=opt_D, opt_E=opt_E))


def _save_folder(run_dir: str | os.PathLike, *, step: int, write_model, optimizers: dict[str, torch.optim.Optimizer],
                 record: dict, keep: int) -> Path:
    """The checkpoint folder of any training loop: ``write_model(path)`` writes model.safetensors,
    the optimizers' tensors go to state.safetensors, ``record`` and the step to config.json;
    all under a temporary name renamed into place, then all but the newest ``keep`` pruned."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = temp_name(final)
    try:
        with writing(final, tmp):
            tmp.mkdir()
            write_model(tmp / MODEL_FILE)
            tensors, metas = {}, {}
            for name, opt in optimizers.items():
                t, metas[name] = _optimizer_split(opt, f"opt_{name}")
                tensors |= t
            save_file(tensors, str(tmp / STATE_FILE))
            info = dict(record, step=step, ganfill_version=__version__, optimizers=metas)
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


def load_training(ckpt_dir: Path, *, G: Generator | None, G_ema: Generator, D: Discriminator,
                  opt_G: torch.optim.Optimizer | None, opt_D: torch.optim.Optimizer | None,
                  E: Encoder | None = None, opt_E: torch.optim.Optimizer | None = None) -> dict:
    """Restore weights and optimizer state in place (what ``save_training`` wrote); returns the
    checkpoint's config.json."""
    modules = {"G": G_ema, "D": D, "G_train": G, "E": E}
    return _load_folder(ckpt_dir, modules={k: m for k, m in modules.items() if m is not None},
                        optimizers=_optimizers(opt_G=opt_G, opt_D=opt_D, opt_E=opt_E))


def _load_folder(ckpt_dir: Path, *, modules: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore ``modules`` (tensor prefix -> module) and ``optimizers`` in place from a checkpoint
    folder written by ``_save_folder``; returns its config.json."""
    file = ckpt_dir / MODEL_FILE
    tensors, _ = _read_tensors(file)
    for prefix, module in modules.items():
        _load_into(module, tensors, prefix, file)
    try:
        info = json.loads((ckpt_dir / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise GanfillError(f"{ckpt_dir / CONFIG_FILE} is missing or damaged: cannot resume from {ckpt_dir}") from None
    state, _ = _read_tensors(ckpt_dir / STATE_FILE)
    for name, opt in optimizers.items():
        opt.load_state_dict(_optimizer_join(state, info["optimizers"][name], f"opt_{name}"))
    return info


def latest_training_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    root = Path(run_dir) / "checkpoints"
    done = [p for p in sorted(root.glob(CKPT_GLOB)) if (p / CONFIG_FILE).is_file()] if root.is_dir() else []
    return done[-1] if done else None


# ---- context encoders ---------------------------------------------------------------------


@dataclass
class LoadedCE:
    """What a context encoder's checkpoint rebuilds (eval mode, fp32)."""

    CE: ContextEncoder
    config: CEConfig
    info: dict  # config.json of a training checkpoint, or {} for a bare model file
    path: Path
    domain: Domain


def kind(spec: str | os.PathLike) -> str:
    """``"context-encoder"`` or ``"gan"``: what the model file ``spec`` names holds (metadata only)."""
    file = resolve(spec)
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
    except _READ_ERRORS as e:
        raise _unreadable(file, e) from None
    return CE_KIND if meta.get("format") == FORMAT and meta.get("kind") == CE_KIND else "gan"


CE_SUFFIX = "-ce"  # NAME-ce.safetensors beside NAME.safetensors: the context encoder trained on NAME's images


def context_encoder_for(model_file: str | os.PathLike) -> Path | None:
    """The context encoder that goes with a GAN's model file: ``NAME-ce.safetensors`` in the
    same folder as ``NAME.safetensors`` (how the shipped ``faces64`` finds ``faces64-ce``), or None."""
    path = Path(model_file)
    companion = path.with_name(path.stem + CE_SUFFIX + ".safetensors")
    return companion if path.suffix == ".safetensors" and companion.is_file() else None


def save_ce(path: str | os.PathLike, *, CE: ContextEncoder, D: Discriminator | None = None,
            CE_train: ContextEncoder | None = None, domain: Domain | None = None, dtype: torch.dtype | None = None,
            extra: dict | None = None) -> Path:
    """Write a context encoder (the weights to use: the EMA copy in training) and, in training
    checkpoints, the network being trained (``CE_train``) and its adversarial D, into one safetensors file."""
    path = Path(path)
    tensors = _prefixed("CE", CE)
    for prefix, module in (("CE_train", CE_train), ("CE_D", D)):
        if module is not None:
            tensors |= _prefixed(prefix, module)
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(f"not writing {path}: tensor {bad} holds NaN or infinite values: take an earlier checkpoint")
    tensors = _cast(tensors, dtype)
    if _non_finite(tensors) is not None:
        raise GanfillError(f"not writing {path}: a tensor overflows {str(dtype).removeprefix('torch.')}: export with --dtype fp32")
    meta = {"format": FORMAT, "kind": CE_KIND, "ganfill_version": __version__, "ce_config": json.dumps(CE.config.to_dict()),
            "domain": json.dumps((domain or Domain()).to_dict())} | {k: json.dumps(v) for k, v in (extra or {}).items()}
    with atomic_path(path) as tmp:
        tmp.write_bytes(save(tensors, metadata=meta))
    return path


def _ce_config_of(file: Path, meta: dict) -> CEConfig:
    try:
        return CEConfig.from_dict(json.loads(meta["ce_config"]))
    except (KeyError, json.JSONDecodeError, TypeError, GanfillError) as e:
        raise GanfillError(f"{file} has an unusable context-encoder config ({e}): the checkpoint is damaged") from None


def load_ce(spec: str | os.PathLike) -> LoadedCE:
    """Rebuild a context encoder (eval mode, fp32) from its checkpoint alone (anything ``resolve`` takes)."""
    file = resolve(spec)
    tensors, meta = _read_tensors(file)
    if meta.get("format") != FORMAT or meta.get("kind") != CE_KIND:
        raise GanfillError(f"{file} is not a context encoder: train one with `ganfill train-ce`")
    config = _ce_config_of(file, meta)
    CE = ContextEncoder(config)
    _load_into(CE, tensors, "CE", file)
    info = _read_info(file)
    return LoadedCE(CE.eval(), config, info, file, _read_domain(file, meta))


def save_ce_training(run_dir: str | os.PathLike, *, step: int, CE: ContextEncoder, CE_ema: ContextEncoder,
                     D: Discriminator, opt_CE: torch.optim.Optimizer, opt_D: torch.optim.Optimizer, record: dict,
                     keep: int = 3) -> Path:
    """A context encoder's training checkpoint folder (as ``save_training``'s): the EMA network
    (``CE.*``, what every command uses), the trained one (``CE_train.*``), its D, both optimizers."""
    domain = Domain.from_dict(record["domain"]) if "domain" in record else None
    return _save_folder(run_dir, step=step, record=record, keep=keep, optimizers={"CE": opt_CE, "D": opt_D},
                        write_model=lambda file: save_ce(file, CE=CE_ema, CE_train=CE, D=D, domain=domain,
                                                         extra={"step": step}))


def load_ce_training(ckpt_dir: Path, *, CE: ContextEncoder, CE_ema: ContextEncoder, D: Discriminator,
                     opt_CE: torch.optim.Optimizer, opt_D: torch.optim.Optimizer) -> dict:
    """Restore what ``save_ce_training`` wrote, in place; returns the checkpoint's config.json.  A
    checkpoint without the trained network's own weights (written before the EMA existed) gives
    both networks its one set."""
    tensors, _ = _read_tensors(ckpt_dir / MODEL_FILE)
    trained = "CE_train" if any(k.startswith("CE_train.") for k in tensors) else "CE"
    info = _load_folder(ckpt_dir, modules={"CE": CE_ema, "CE_D": D}, optimizers={"CE": opt_CE, "D": opt_D})
    _load_into(CE, tensors, trained, ckpt_dir / MODEL_FILE)
    return info


# ---- shipped models -----------------------------------------------------------------------


def shipped_path(name_or_path: str | os.PathLike) -> Path:
    """Where ``export`` writes: a bare name (``faces64``) is the shipped model
    ``SHIPPED_DIR/faces64.safetensors``; anything with a folder or a suffix is a path, and must
    end in ``.safetensors``."""
    text = str(name_or_path)
    if NAME_PATTERN.fullmatch(text):
        return SHIPPED_DIR / f"{text}.safetensors"
    path = Path(name_or_path)
    if path.suffix != ".safetensors":
        raise GanfillError(f"{path} is neither a model name (letters, digits, - and _) nor a .safetensors file path")
    return path


def _training_record(file: Path, info: dict) -> dict:
    """Step and images seen of a training checkpoint (from its config.json and the run's log.jsonl)."""
    step = info.get("step")
    if step is None:
        return {}
    record = {"step": int(step)}
    log = file.parent.parent.parent / "log.jsonl"  # RUN/checkpoints/step-N/model.safetensors -> RUN/log.jsonl
    if log.is_file():
        for line in log.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            if row.get("step") == step and "images" in row:
                record["images_seen"] = int(row["images"])
    return record


RECORD_KEYS = ("step", "images_seen", "train", "dataset", "encoder")  # what a model file says of its training


def generator_record(loaded: Loaded) -> dict:
    """How G was trained: step, images seen, training options and dataset summary, from a
    training checkpoint (its config.json and the run's log), an encoder run (its base model's
    record) or a model file's metadata."""
    if "encoder" in loaded.info:
        return dict(loaded.info.get("base", {}))
    if loaded.info:
        record = _training_record(loaded.path, loaded.info)
        if loaded.info.get("train"):
            record["train"] = loaded.info["train"]
        if loaded.info.get("dataset"):
            record["dataset"] = {k: v for k, v in loaded.info["dataset"].items()
                                 if k not in ("shards", "sources", "fonts", "skipped")}
        return record
    return {k: v for k, v in describe(loaded.path).meta.items() if k in RECORD_KEYS[:-1]}


def export(ckpt: str | os.PathLike, out: str | os.PathLike, *, dtype: torch.dtype = torch.float16,
           domain: dict | None = None) -> Path:
    """Write a shipped-model file from a checkpoint: G (the EMA weights of a training
    checkpoint) and D in ``dtype`` (fp16 halves the file; ``load`` computes in fp32), the model
    config, the domain (``domain`` replaces the checkpoint's, e.g. ``{"crop": "center:108",
    "background": [255, 255, 255]}`` for a model trained on already-cropped CelebA faces) and
    the training step, images seen, training options and dataset summary in the metadata.
    The file appears atomically. Returns its path.  A context encoder's checkpoint exports the
    same way (the network alone, without its adversarial D)."""
    if kind(ckpt) == CE_KIND:
        return _export_ce(ckpt, out, dtype=dtype, domain=domain)
    loaded = load(ckpt)
    out = Path(out)
    if out.resolve() == loaded.path.resolve():
        raise GanfillError(f"{out} is the checkpoint being exported: write the shipped model elsewhere")
    new_domain = Domain(**(loaded.domain.to_dict() | (domain or {})))  # validates a replacement
    extra = generator_record(loaded)
    if "encoder" in loaded.info:  # an encoder run: the encoder's own record beside its base model's
        extra["encoder"] = _training_record(loaded.path, loaded.info) | {"config": loaded.info["encoder"]}
    return save_model(out, G=loaded.G, D=loaded.D, E=loaded.E, domain=new_domain, dtype=dtype, extra=extra)


def _export_ce(ckpt: str | os.PathLike, out: str | os.PathLike, *, dtype: torch.dtype, domain: dict | None) -> Path:
    loaded = load_ce(ckpt)
    out = Path(out)
    if out.resolve() == loaded.path.resolve():
        raise GanfillError(f"{out} is the checkpoint being exported: write the shipped model elsewhere")
    new_domain = Domain(**(loaded.domain.to_dict() | (domain or {})))
    extra = _training_record(loaded.path, loaded.info) if loaded.info else {}
    extra |= {k: loaded.info[k] for k in ("train", "dataset") if loaded.info.get(k)}
    return save_ce(out, CE=loaded.CE, domain=new_domain, dtype=dtype, extra=extra)


@dataclass
class Described:
    """A model file's metadata, read without loading its tensors."""

    path: Path
    config: ModelConfig | CEConfig  # a CEConfig for a context encoder (``meta["kind"]``)
    domain: Domain
    size: int  # bytes
    dtype: str  # of the stored weights, e.g. "F16"
    meta: dict  # every other metadata entry, JSON-decoded (step, images_seen, train, dataset, ...)


def describe(spec: str | os.PathLike) -> Described:
    """Config, domain, size and training record of a model (anything ``resolve`` takes)."""
    file = resolve(spec)
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
            dtype = str(f.get_slice(keys[0]).get_dtype()) if keys else "?"
    except _READ_ERRORS as e:
        raise _unreadable(file, e) from None
    is_ce = meta.get("format") == FORMAT and meta.get("kind") == CE_KIND
    if not is_ce:
        _check_ganfill(file, meta)
    decoded = {}
    for k, v in meta.items():
        try:
            decoded[k] = json.loads(v)
        except json.JSONDecodeError:
            decoded[k] = v
    config = _ce_config_of(file, meta) if is_ce else _config_of(file, meta["model_config"])
    decoded.pop("ce_config" if is_ce else "model_config")
    domain = _domain_of(file, decoded.pop("domain")) if "domain" in decoded else Domain()
    return Described(file, config, domain, file.stat().st_size, dtype, decoded)


def card_path(model_file: str | os.PathLike) -> Path:
    """The model card beside a model file: ``NAME.md`` for ``NAME.safetensors``."""
    return Path(model_file).with_suffix(CARD_SUFFIX)


def card_title(model_file: str | os.PathLike) -> str | None:
    """The first non-empty line of a model's card (Markdown heading marks removed), or None."""
    card = card_path(model_file)
    if not card.is_file():
        return None
    for line in card.read_text(encoding="utf-8").splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip()
    return None


def card_skeleton(model_file: str | os.PathLike, *, data: list[str] | tuple[str, ...] = ()) -> str:
    """A Markdown model card to finish by hand: model config, parameter counts, domain, training
    step and images seen, file size; ``data`` lines go under "Training data" (else a TODO)."""
    d = describe(model_file)
    if isinstance(d.config, CEConfig):
        return _ce_card_skeleton(d, data=data)
    G, D = build(d.config)
    n_g, n_d = (sum(p.numel() for p in m.parameters()) for m in (G, D))
    c, r = d.config, d.config.resolution
    name = Path(d.path).stem
    train, dataset = d.meta.get("train", {}), d.meta.get("dataset", {})
    lines = _card_head(f"{name}: {r}x{r} DCGAN ({c.arch} preset), domain {d.domain.text()}") + [
             f"| architecture | `{c.arch}` preset, {r}x{r} RGB, z: {c.z_dim}-dim N(0, I) |",
             f"| widths | G {c.g_width}, D {c.d_width} |",
             f"| parameters | G {n_g:,}, D {n_d:,} |",
             "| weights | G: the EMA copy of the generator; D: the discriminator (for the perceptual loss) |",
             f"| domain | crop `{d.domain.crop}`, background {d.domain.background} |",
             f"| file | `{d.path.name}`, {d.size / 1e6:.1f} MB, {d.dtype} |", "",
             "## Training", "", "| | |", "|---|---|"]
    if "step" in d.meta:
        lines.append(f"| iterations | {d.meta['step']:,} |")
    if "images_seen" in d.meta:
        epochs = f" ({d.meta['images_seen'] / dataset['count']:.1f} epochs)" if dataset.get("count") else ""
        lines.append(f"| images seen | {d.meta['images_seen']:,}{epochs} |")
    if dataset:
        count = f"{dataset['count']:,} images, " if isinstance(dataset.get("count"), int) else ""
        lines.append(f"| dataset | {count}{dataset.get('resolution', '?')}px, crop `{dataset.get('crop', '?')}` |")
    if train:
        lines.append(f"| optimiser | Adam lr {train.get('lr')}, betas ({train.get('beta1')}, {train.get('beta2')}), "
                     f"batch {train.get('batch_size')}, D:G steps {train.get('d_steps')}:{train.get('g_steps')}, "
                     f"EMA decay {train.get('ema_decay')} |")
    encoder = d.meta.get("encoder")
    if isinstance(encoder, dict):
        lines += ["", "## Encoder of z", "", "| | |", "|---|---|",
                  f"| iterations | {encoder.get('step', '?'):,} |" if isinstance(encoder.get("step"), int) else "| iterations | ? |",
                  f"| images seen | {encoder['images_seen']:,} |" if isinstance(encoder.get("images_seen"), int) else "| images seen | ? |",
                  "", "TODO: its effect, measured (`ganfill evaluate` with and without `--init prior`)."]
    lines += ["", "## Training data", ""] + ([f"{line}" for line in data] or ["TODO: source, preprocessing, licence."])
    lines += ["", "## Limitations", "", "TODO", ""]
    return "\n".join(lines)


def _card_head(title: str) -> list[str]:
    return [f"# {title}", "", "<!-- skeleton written by `ganfill export`: finish the TODO parts by hand -->", "",
            "TODO: one paragraph on what the model completes, and how well.", "", "## Model", "", "| | |", "|---|---|"]


def _ce_card_skeleton(d: Described, *, data) -> str:
    c, r = d.config, d.config.resolution
    n = sum(p.numel() for p in ContextEncoder(c).parameters())
    train, dataset = d.meta.get("train", {}), d.meta.get("dataset", {})
    lines = _card_head(f"{Path(d.path).stem}: {r}x{r} context encoder, domain {d.domain.text()}") + [
             f"| architecture | context encoder (Pathak et al. 2016), {r}x{r} RGB, width {c.width}, code {c.bottleneck} |",
             f"| parameters | {n:,} |", f"| file | `{d.path.name}`, {d.size / 1e6:.1f} MB, {d.dtype} |", "",
             "## Training", "", "| | |", "|---|---|"]
    if "step" in d.meta:
        lines.append(f"| iterations | {d.meta['step']:,} |")
    if "images_seen" in d.meta:
        lines.append(f"| images seen | {d.meta['images_seen']:,} |")
    if train:
        lines.append(f"| optimiser | Adam lr {train.get('lr')}, betas ({train.get('beta1')}, {train.get('beta2')}), "
                     f"batch {train.get('batch_size')}, adversarial weight {train.get('adv_weight')}, masks {train.get('masks')} |")
    if dataset:
        lines.append(f"| dataset | {dataset.get('count', '?')} images, {dataset.get('resolution', '?')}px |")
    lines += ["", "## Training data", ""] + (list(data) or ["TODO: source, preprocessing, licence."])
    lines += ["", "## Limitations", "", "TODO", ""]
    return "\n".join(lines)
