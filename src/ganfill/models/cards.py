"""Model cards: the Markdown beside a model file, and the skeleton ``ganfill export`` writes to finish by hand."""

from __future__ import annotations

import os
from pathlib import Path

from ganfill.models.files import CARD_SUFFIX, describe
from ganfill.models.registry import kind_class


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
    """A Markdown model card to finish by hand, for a model of any kind: what it is, parameter
    counts, domain, file size, training step, images seen and options (the kind's own rows,
    ``Model.card_rows``); ``data`` lines go under "Training data" (else a TODO)."""
    d = describe(model_file)
    cls = kind_class(d.kind)
    model = cls(d.config, cls.networks(d.config, set(d.roles), d.meta), domain=d.domain, path=d.path, meta=d.meta)
    sizes = {role: sum(p.numel() for p in net.parameters()) for role, net in model.nets.items() if role in cls.roles}
    r = getattr(d.config, "resolution", "?")
    what = f"{cls.title} ({d.config.arch} preset)" if hasattr(d.config, "arch") else cls.title
    train, dataset = d.meta.get("train", {}), d.meta.get("dataset", {})
    lines = [
        f"# {Path(d.path).stem}: {r}x{r} {what}, domain {d.domain.text()}",
        "",
        "<!-- skeleton written by `ganfill export`: finish the TODO parts by hand -->",
        "",
        "TODO: one paragraph on what the model completes, and how well.",
        "",
        "## Model",
        "",
        "| | |",
        "|---|---|",
        *model.card_rows(sizes),
        f"| file | `{d.path.name}`, {d.size / 1e6:.1f} MB, {d.dtype} |",
        "",
        "## Training",
        "",
        "| | |",
        "|---|---|",
    ]
    if "step" in d.meta:
        lines.append(f"| iterations | {d.meta['step']:,} |")
    if "images_seen" in d.meta:
        epochs = f" ({d.meta['images_seen'] / dataset['count']:.1f} epochs)" if isinstance(dataset.get("count"), int) else ""
        lines.append(f"| images seen | {d.meta['images_seen']:,}{epochs} |")
    if dataset:
        count = f"{dataset['count']:,} images, " if isinstance(dataset.get("count"), int) else ""
        lines.append(f"| dataset | {count}{dataset.get('resolution', '?')}px, crop `{dataset.get('crop', '?')}` |")
    if train:
        lines.append(
            f"| optimiser | Adam lr {train.get('lr')}, betas ({train.get('beta1')}, {train.get('beta2')}), "
            f"batch {train.get('batch_size')}, "
            + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in train.items() if k in CARD_OPTIONS)
            + " |"
        )
    encoder = d.meta.get("encoder")
    if isinstance(encoder, dict):
        lines += [
            "",
            "## Encoder of z",
            "",
            "| | |",
            "|---|---|",
            f"| iterations | {encoder.get('step', '?'):,} |" if isinstance(encoder.get("step"), int) else "| iterations | ? |",
            f"| images seen | {encoder['images_seen']:,} |"
            if isinstance(encoder.get("images_seen"), int)
            else "| images seen | ? |",
            "",
            "TODO: its effect, measured (`ganfill evaluate` with and without `--init prior`).",
        ]
    lines += ["", "## Training data", ""] + (list(data) or ["TODO: source, preprocessing, licence."])
    lines += ["", "## Limitations", "", "TODO", ""]
    return "\n".join(lines)


# training options a card shows beside Adam's, in this order, where the run recorded them
CARD_OPTIONS = ("d_steps", "g_steps", "ema_decay", "adv_weight", "masks", "augment")
