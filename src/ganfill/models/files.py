"""Checkpoints: safetensors weights with the model config inside, never pickled code.

A *model file* (``model.safetensors``) alone rebuilds its model, whatever its kind: its
metadata holds the kind (``models.registry``: ``gan``, ``context-encoder``, or one registered
from outside; files without one are GANs), the kind's config as JSON and the *domain* (the crop
policy and background colour its training images were prepared with, so user images can be
brought into the same square); its tensors are the kind's networks by role (``G.*``, ``D.*``,
``E.*`` for a GAN, ``CE.*`` for a context encoder), and in training checkpoints the raw copy
being optimised beside the EMA one (``G_train.*``).

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

A *user's model* is the same kind of file that ``ganfill export RUN NAME`` wrote into the user's
folder (``user_models_dir``: ``GANFILL_HOME/models``, never inside the installed package, so it
survives ``pip uninstall`` and upgrades); a name finds it like a shipped one.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file
from safetensors.torch import save as save_bytes

from ganfill.core.constants import DTYPE_NAMES, GANFILL_VERSION
from ganfill.core.errors import GanfillError, GanfillWarning
from ganfill.core.files import atomic_path, ganfill_home, temp_name, writing
from ganfill.data.datasets import manifest_summary
from ganfill.data.domain import Domain
from ganfill.models.registry import LEGACY_KIND, Model, kind_class

FORMAT = "ganfill-model"
MODEL_FILE = "model.safetensors"
STATE_FILE = "state.safetensors"
CONFIG_FILE = "config.json"
CKPT_GLOB = "step-*"
SHIPPED_DIR = Path(__file__).parents[1] / "assets" / "models"  # package data: NAME.safetensors + NAME.md
CARD_SUFFIX = ".md"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # a shipped model's name: letters, digits, - and _
DTYPES = dict(zip(DTYPE_NAMES, (torch.float16, torch.float32)))


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


def save(
    path: str | os.PathLike,
    model: Model,
    *,
    dtype: torch.dtype | None = None,
    extra: dict | None = None,
    training: dict[str, torch.nn.Module] | None = None,
) -> Path:
    """Write ``model`` (any kind) into one safetensors file: its networks by role (``G.*``,
    ``D.*``, ...) and, in training checkpoints, the ``training`` networks (``G_train.*``, the
    network being optimised beside its EMA copy), in ``dtype`` (None: as they are); the
    metadata holds the kind, its config, its domain, the kind's own entries and ``extra``."""
    path = Path(path)
    tensors = {}
    for prefix, module in (model.nets | (training or {})).items():
        tensors |= _prefixed(prefix, module)
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(
            f"not writing {path}: tensor {bad} holds NaN or infinite values, which no model can use: take an earlier checkpoint"
        )
    tensors = _cast(tensors, dtype)
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(
            f"not writing {path}: tensor {bad} does not fit in {str(dtype).removeprefix('torch.')} "
            "(its values overflow to infinity): export with --dtype fp32"
        )
    meta = {
        "format": FORMAT,
        "kind": model.kind,
        "ganfill_version": GANFILL_VERSION,
        model.config_key: json.dumps(model.config.to_dict()),
        "domain": json.dumps(model.domain.to_dict()),
    }
    meta |= {k: json.dumps(v) for k, v in (model.file_meta() | (extra or {})).items()}
    with atomic_path(path) as tmp:
        tmp.write_bytes(save_bytes(tensors, metadata=meta))  # through Python: the usual file permissions (save_file: 0600)
    return path


def _damage(step_dir: Path, files: tuple[str, ...]) -> str | None:
    """Why the checkpoint folder ``step_dir`` is damaged (a model or state file that is missing,
    truncated or not safetensors; a config.json that is not JSON), or None when it is whole."""
    for name in files:
        try:
            _header(step_dir / name)
        except GanfillError as e:
            return str(e)
    if (step_dir / CONFIG_FILE).is_file():
        try:
            json.loads((step_dir / CONFIG_FILE).read_text())
        except (OSError, ValueError):
            return f"{step_dir / CONFIG_FILE} is not valid JSON"
    return None


def latest_intact(steps: list[Path], *, files: tuple[str, ...] = (MODEL_FILE,)) -> Path | None:
    """The newest of the checkpoint folders ``steps`` (in step order) that is whole; when newer
    ones are damaged (a disk that filled up, a copy cut short), a ``GanfillWarning`` names them
    and the one used. None if ``steps`` is empty; an error when every one is damaged."""
    damaged = []
    for step_dir in reversed(steps):
        why = _damage(step_dir, files)
        if why is None:
            if damaged:
                warnings.warn(
                    f"the latest checkpoint {damaged[0][0]} is damaged ({damaged[0][1]}): "
                    f"using {step_dir.name}, the newest intact one",
                    GanfillWarning,
                    stacklevel=2,
                )
            return step_dir
        damaged.append((step_dir, why))
    if damaged:
        raise GanfillError(f"every checkpoint of {steps[0].parent.parent} is damaged, the latest: {damaged[0][1]}")
    return None


def find_checkpoint(path: str | os.PathLike) -> Path:
    """Resolve a run folder (its latest intact checkpoint, ``latest_intact``), a checkpoint folder,
    or a model file to a model file."""
    path = Path(path)
    if path.is_dir():
        if (path / MODEL_FILE).is_file():
            return path / MODEL_FILE
        steps = sorted((path / "checkpoints").glob(CKPT_GLOB)) if (path / "checkpoints").is_dir() else []
        found = latest_intact([s for s in steps if (s / MODEL_FILE).is_file()])
        if found is None:
            raise GanfillError(f"{path} holds no checkpoint: give a run folder, a checkpoint folder or a .safetensors model file")
        return found / MODEL_FILE
    if not path.exists():
        raise GanfillError(
            f"checkpoint {path} does not exist: give a run folder, a checkpoint folder or a .safetensors model file"
        )
    return path


def _models_in(folder: Path) -> dict[str, Path]:
    return {p.stem: p for p in sorted(folder.glob("*.safetensors"), key=lambda p: p.stem)} if folder.is_dir() else {}


def shipped_models() -> dict[str, Path]:
    """The models that ship with ganfill, by name (the file stem), in name order: GANs and
    context encoders (``NAME-ce``, see ``context_encoder_for``)."""
    return _models_in(SHIPPED_DIR)


def user_models_dir() -> Path:
    """Where ``ganfill export RUN NAME`` writes the user's models: ``GANFILL_HOME/models``
    (``core.files.ganfill_home``), outside the installed package."""
    return ganfill_home() / "models"


def user_models() -> dict[str, Path]:
    """The user's models (``user_models_dir``), by name, in name order."""
    return _models_in(user_models_dir())


def named_models() -> dict[str, Path]:
    """Every model a name finds: the shipped ones, then the user's (a shipped name wins)."""
    shipped = shipped_models()
    return shipped | {k: v for k, v in user_models().items() if k not in shipped}


def _shipped_list() -> str:
    names = list(named_models())
    return ", ".join(names) if names else f"none installed in {SHIPPED_DIR} or {user_models_dir()}"


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
    named = named_models()
    if text in named:
        return named[text]
    if NAME_PATTERN.fullmatch(text):
        raise GanfillError(
            f"no model named {text!r}: shipped models are {_shipped_list()}; "
            "or give a run folder, a checkpoint folder or a .safetensors model file"
        )
    raise GanfillError(
        f"checkpoint {path} does not exist and is not a shipped model ({_shipped_list()}): "
        "give a shipped model's name, a run folder, a checkpoint folder or a .safetensors model file"
    )


def _unreadable(path: Path, error: Exception) -> GanfillError:
    first = str(error).splitlines()[0] if str(error) else type(error).__name__
    return GanfillError(f"{path} is not a readable safetensors checkpoint ({first}): is the file complete?")


_READ_ERRORS = (SafetensorError, OSError, ValueError, RuntimeError)


def _non_finite(tensors: dict[str, torch.Tensor]) -> str | None:
    """The name of the first floating-point tensor holding a NaN or an infinity, or None."""
    return next((k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())), None)


def _domain_of(file: Path, domain) -> Domain:
    """A domain record checked (a JSON object with a crop policy and an RGB background)."""
    try:
        return Domain.from_dict(domain)
    except GanfillError as e:
        raise GanfillError(f"{file} has an unusable domain record ({e}): the checkpoint is damaged") from None


def _read_tensors(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        tensors = load_file(str(path))
    except _READ_ERRORS as e:
        raise _unreadable(path, e) from None
    bad = _non_finite(tensors)
    if bad is not None:
        raise GanfillError(
            f"{path}: tensor {bad} holds NaN or infinite values (the file is damaged or its training "
            "diverged): use an earlier checkpoint"
        )
    return tensors, meta


def _load_into(module: torch.nn.Module, tensors: dict[str, torch.Tensor], prefix: str, path: Path) -> None:
    own = module.state_dict()
    sub = {k[len(prefix) + 1 :]: v for k, v in tensors.items() if k.startswith(prefix + ".")}
    missing, unexpected = own.keys() - sub.keys(), sub.keys() - own.keys()
    bad = [k for k in own.keys() & sub.keys() if own[k].shape != sub[k].shape]
    if missing or unexpected or bad:
        what = sorted(missing)[:1] or sorted(unexpected)[:1] or bad[:1]
        raise GanfillError(
            f"{path} does not match its own model config ({prefix}.{what[0]}): the checkpoint is incompatible or damaged"
        )
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


def _header(file: Path) -> tuple[dict, list[str], str]:
    """(metadata, tensor names, dtype of the first tensor) of a safetensors file, tensors unread."""
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = f.metadata() or {}
            keys = list(f.keys())
            dtype = str(f.get_slice(keys[0]).get_dtype()) if keys else "?"
    except _READ_ERRORS as e:
        raise _unreadable(file, e) from None
    return meta, keys, dtype


def _kind_of(file: Path, meta: dict) -> type[Model]:
    """The registered kind of a model file's metadata, or a one-line error."""
    if meta.get("format") != FORMAT:
        raise GanfillError(f"{file} is a safetensors file but not a ganfill model (no ganfill metadata)")
    cls = kind_class(meta.get("kind", LEGACY_KIND))
    if cls.config_key not in meta:
        raise GanfillError(f"{file} is a safetensors file but not a ganfill model (no ganfill metadata)")
    return cls


def _config_of(file: Path, cls: type[Model], text: str):
    """The config of a model file's metadata, checked for types and ranges."""
    try:
        return cls.config_class.from_dict(json.loads(text))
    except (json.JSONDecodeError, TypeError, GanfillError) as e:
        raise GanfillError(f"{file} has an unusable {cls.title} config ({e}): the checkpoint is damaged") from None


def _wrong_kind(file: Path, found: type[Model], wanted: type[Model]) -> GanfillError:
    if wanted.kind == "context-encoder":
        return GanfillError(f"{file} is a {found.title}, not a context encoder: train one with `ganfill train-ce`")
    return GanfillError(
        f"{file} is a {found.title}, not a {wanted.title}: complete with it by `ganfill inpaint` "
        f"(its modes are in `ganfill inpaint --help`), or give a {wanted.title} model here"
    )


def load(spec: str | os.PathLike, *, kind: str | None = None, raw: bool = False) -> Model:
    """Rebuild a model (eval mode, float32) from its file alone, whatever its kind.

    spec: anything ``resolve`` takes (a shipped model's name, a model file, a run or checkpoint
    folder).  kind: the kind the caller needs (``"gan"``, ``"context-encoder"``; None: any).
    raw: in a training checkpoint, load each network's trained weights (``G_train``) instead of
    its EMA copy.
    """
    file = resolve(spec)
    tensors, meta = _read_tensors(file)
    cls = _kind_of(file, meta)
    if kind is not None and cls is not kind_class(kind):
        raise _wrong_kind(file, cls, kind_class(kind))
    config = _config_of(file, cls, meta[cls.config_key])
    decoded = _decoded(meta)
    roles = {k.split(".", 1)[0] for k in tensors}
    nets = cls.networks(config, roles, decoded)
    for role, net in nets.items():
        source = f"{role}_train" if raw and f"{role}_train" in roles else role
        _load_into(net, tensors, source, file)
        net.eval()
    info = _read_info(file)
    domain = _read_domain(file, meta) if "domain" in meta else _domain_of(file, info.get("dataset", {}))
    return cls(config, nets, domain=domain, path=file, info=info, meta=decoded)


def _decoded(meta: dict) -> dict:
    out = {}
    for k, v in meta.items():
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


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


def save_training(
    run_dir: str | os.PathLike,
    *,
    step: int,
    model: Model,
    training: dict[str, torch.nn.Module],
    optimizers: dict[str, torch.optim.Optimizer],
    record: dict,
    keep: int = 3,
) -> Path:
    """Write RUN/checkpoints/step-NNNNNNNN atomically (model.safetensors: ``model`` and the
    ``training`` networks; state.safetensors: the optimizers' tensors; config.json: ``record``,
    the step and the optimizers' settings), then prune all but the newest ``keep``."""
    root = Path(run_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = temp_name(final)
    try:
        with writing(final, tmp):
            tmp.mkdir()
            save(tmp / MODEL_FILE, model, training=training, extra={"step": step})
            tensors, metas = {}, {}
            for name, opt in optimizers.items():
                t, metas[name] = _optimizer_split(opt, f"opt_{name}")
                tensors |= t
            save_file(tensors, str(tmp / STATE_FILE))
            info = dict(record, step=step, ganfill_version=GANFILL_VERSION, optimizers=metas)
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


def load_training(ckpt_dir: Path, *, nets: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer]) -> dict:
    """Restore ``nets`` (tensor prefix -> module) and ``optimizers`` in place from a checkpoint
    folder written by ``save_training``; returns its config.json.  A trained network
    (``NAME_train``) that a checkpoint written before EMA copies existed lacks is given the one
    set it has (``NAME``)."""
    file = ckpt_dir / MODEL_FILE
    tensors, _ = _read_tensors(file)
    for prefix, module in nets.items():
        if prefix.endswith("_train") and not any(k.startswith(prefix + ".") for k in tensors):
            prefix = prefix.removesuffix("_train")  # written before the EMA existed: one set for both
        _load_into(module, tensors, prefix, file)
    try:
        info = json.loads((ckpt_dir / CONFIG_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        raise GanfillError(f"{ckpt_dir / CONFIG_FILE} is missing or damaged: cannot resume from {ckpt_dir}") from None
    state, _ = _read_tensors(ckpt_dir / STATE_FILE)
    for name, opt in optimizers.items():
        opt.load_state_dict(_optimizer_join(state, info["optimizers"][name], f"opt_{name}"))
    return info


def training_checkpoints(run_dir: str | os.PathLike) -> list[Path]:
    """The finished checkpoint folders of a run (those with a config.json), in step order."""
    root = Path(run_dir) / "checkpoints"
    return [p for p in sorted(root.glob(CKPT_GLOB)) if (p / CONFIG_FILE).is_file()] if root.is_dir() else []


def latest_training_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The checkpoint a ``--resume`` continues from: the newest finished one that is intact
    (``latest_intact``), or None."""
    return latest_intact(training_checkpoints(run_dir), files=(MODEL_FILE, STATE_FILE))


CE_SUFFIX = "-ce"  # NAME-ce.safetensors beside NAME.safetensors: the context encoder trained on NAME's images


def context_encoder_for(model_file: str | os.PathLike) -> Path | None:
    """The context encoder that goes with a GAN's model file: ``NAME-ce.safetensors`` in the
    same folder as ``NAME.safetensors`` (how the shipped ``faces64`` finds ``faces64-ce``), or None."""
    path = Path(model_file)
    companion = path.with_name(path.stem + CE_SUFFIX + ".safetensors")
    return companion if path.suffix == ".safetensors" and companion.is_file() else None


# ---- shipped models -----------------------------------------------------------------------


def export_path(name_or_path: str | os.PathLike) -> Path:
    """Where ``export`` writes: a bare name (``mine64``) is the user's model
    ``user_models_dir()/mine64.safetensors`` (found by that name everywhere, listed by ``ganfill
    models``); anything with a folder or a suffix is a path, and must end in ``.safetensors``.
    A shipped model's name, an existing folder and a path whose model card would be a folder are
    errors, before anything is written."""
    text = str(name_or_path)
    if Path(text).is_dir():
        raise GanfillError(f"{text} is an existing folder: give a model name, or the path of a .safetensors file to write")
    if NAME_PATTERN.fullmatch(text):
        if text in shipped_models():
            raise GanfillError(
                f"{text} is the name of a model that ships with ganfill: choose another name, or give a .safetensors path"
            )
        path = user_models_dir() / f"{text}.safetensors"
    else:
        path = Path(name_or_path)
        if path.suffix != ".safetensors":
            raise GanfillError(f"{path} is neither a model name (letters, digits, - and _) nor a .safetensors file path")
    card = path.with_suffix(CARD_SUFFIX)
    if card.is_dir():
        raise GanfillError(f"{card} is a folder where the model card goes: give another name")
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


def generator_record(model: Model) -> dict:
    """How the model was trained: step, images seen, training options and dataset summary, from
    a training checkpoint (its config.json and the run's log), an encoder run (its base model's
    record) or a model file's metadata."""
    if "encoder" in model.info:
        return dict(model.info.get("base", {}))
    if model.info:
        record = _training_record(model.path, model.info)
        if model.training_options:
            record["train"] = model.training_options
        if model.info.get("dataset"):
            record["dataset"] = manifest_summary(model.info["dataset"])
        return record
    return {k: v for k, v in model.meta.items() if k in RECORD_KEYS[:-1]}


def export(
    ckpt: str | os.PathLike, out: str | os.PathLike, *, dtype: torch.dtype = torch.float16, domain: dict | None = None
) -> Path:
    """Write a shipped-model file from a checkpoint of any kind: its networks (the EMA weights
    of a training checkpoint; no training-only network) in ``dtype`` (fp16 halves the file;
    ``load`` computes in fp32), its config, the domain (``domain`` replaces the checkpoint's,
    e.g. ``{"crop": "center:108", "background": [255, 255, 255]}`` for a model trained on
    already-cropped CelebA faces) and the training step, images seen, training options and
    dataset summary in the metadata.  The file appears atomically.  Returns its path."""
    model = load(ckpt)
    out = Path(out)
    if out.resolve() == model.path.resolve():
        raise GanfillError(f"{out} is the checkpoint being exported: write the shipped model elsewhere")
    model.domain = Domain(**(model.domain.to_dict() | (domain or {})))  # validates a replacement
    extra = generator_record(model)
    if "encoder" in model.info:  # an encoder run: the encoder's own record beside its base model's
        extra["encoder"] = _training_record(model.path, model.info) | {"config": model.info["encoder"]}
    return save(out, model, dtype=dtype, extra=extra)


@dataclass
class Described:
    """A model file's metadata, read without loading its tensors."""

    path: Path
    kind: str
    config: object  # the kind's config (``ModelConfig``, ``CEConfig``, ...)
    domain: Domain
    size: int  # bytes
    dtype: str  # of the stored weights, e.g. "F16"
    meta: dict  # every other metadata entry, JSON-decoded (step, images_seen, train, dataset, ...)
    roles: tuple[str, ...] = ()  # the networks the file holds (tensor prefixes)


def describe(spec: str | os.PathLike) -> Described:
    """Kind, config, domain, size and training record of a model (anything ``resolve`` takes)."""
    file = resolve(spec)
    meta, keys, dtype = _header(file)
    cls = _kind_of(file, meta)
    config = _config_of(file, cls, meta[cls.config_key])
    decoded = _decoded(meta)
    decoded.pop(cls.config_key)
    domain = _domain_of(file, decoded.pop("domain")) if "domain" in decoded else Domain()
    roles = tuple(dict.fromkeys(k.split(".", 1)[0] for k in keys))
    return Described(file, cls.kind, config, domain, file.stat().st_size, dtype, decoded, roles)
