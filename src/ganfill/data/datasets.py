"""Dataset folders: ``prepare`` writes uint8 shards and a manifest, ``open_dataset`` reads them back."""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from ganfill.core.constants import GANFILL_VERSION, IMAGE_SUFFIXES, RESOLUTIONS
from ganfill.core.errors import GanfillError
from ganfill.core.files import atomic_folder, remove_stale_temps
from ganfill.data.domain import parse_crop, to_domain
from ganfill.data.reading import WHITE, PathLike, _decode, _reason, parse_color, scan_folder

MANIFEST = "manifest.json"
FORMAT = "ganfill-dataset"
VERSION = 1
SHARD_SIZE = 8192  # images per shard file (a writer holds one shard in memory)
NOT_AN_IMAGE = f"not an image file by its suffix (ganfill reads {', '.join(IMAGE_SUFFIXES)})"


# -----------------------------------------------------------------------------
# Dataset folders: shards, manifest, atomic output


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _ShardWriter:
    """Collects (R, R, 3) images and writes ``images-NNNNN.npy`` shards of ``shard_size``."""

    def __init__(self, folder: Path, resolution: int, shard_size: int):
        self.folder, self.shard_size = folder, shard_size
        self.buffer = np.empty((shard_size, resolution, resolution, 3), np.uint8)
        self.filled = 0
        self.shards: list[dict[str, Any]] = []

    def add(self, image: np.ndarray) -> None:
        self.buffer[self.filled] = image
        self.filled += 1
        if self.filled == self.shard_size:
            self.flush()

    def flush(self) -> None:
        if self.filled:
            name = f"images-{len(self.shards):05d}.npy"
            np.save(self.folder / name, self.buffer[: self.filled])
            self.shards.append({"file": name, "count": self.filled})
            self.filled = 0

    @property
    def count(self) -> int:
        return sum(s["count"] for s in self.shards) + self.filled


def _write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    with open(folder / MANIFEST, "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")


def _read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest if it is a ganfill dataset, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def _is_ganfill_output(folder: Path) -> bool:
    """A dataset (manifest.json) or a glyph output (train/ and val/ datasets)."""
    return _read_manifest(folder) is not None or all(_read_manifest(folder / s) is not None for s in ("train", "val"))


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    """Refuse to replace anything that is not ours to replace."""
    if out_dir.exists() and not out_dir.is_dir():
        raise GanfillError(f"{out_dir} exists and is a file; choose another output folder")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not overwrite:
            raise GanfillError(f"{out_dir} exists; pass --overwrite or choose another folder")
        if not _is_ganfill_output(out_dir):
            raise GanfillError(
                f"{out_dir} is not empty and not a ganfill dataset; refusing to overwrite it, choose another folder"
            )


@contextmanager
def _atomic_dir(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty hidden sibling folder; on success it replaces ``out_dir``, on error it goes
    (``core.files.atomic_folder``). The old ``out_dir`` (empty, or a ganfill output with
    overwrite=True) is checked again just before it is replaced."""
    _check_out_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir.parent, of=out_dir.name)  # what a killed run left
    with atomic_folder(out_dir, before_replace=lambda: _check_out_dir(out_dir, overwrite)) as tmp:
        yield tmp


def _check_resolution(resolution: int) -> int:
    if resolution not in RESOLUTIONS or isinstance(resolution, bool):
        raise GanfillError(f"resolution must be one of {', '.join(map(str, RESOLUTIONS))}, got {resolution!r}")
    return int(resolution)


def prepare(
    src_dir: PathLike,
    out_dir: PathLike,
    *,
    resolution: int = 64,
    crop: str = "center:108",
    background: str | Sequence[int] = WHITE,
    shard_size: int = SHARD_SIZE,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Turn a folder of images into a dataset folder; returns the manifest.

    Every image file under ``src_dir`` (``data.reading.scan_folder``: the suffixes of
    ``IMAGE_SUFFIXES`` in any case, recursive, hidden folders passed over; GIF and TIFF give
    their first frame) is read with ``load_image`` and brought into the domain with
    ``to_domain``, in sorted relative-path order. Every file left out is listed in the
    manifest's ``skipped`` with the reason: image files that cannot be read, and the files
    that are not images by their suffix.
    The output appears atomically; nothing is left behind on error.
    """
    src, out = Path(src_dir).expanduser(), Path(out_dir).expanduser()
    resolution = _check_resolution(resolution)
    policy = parse_crop(crop)
    background = parse_color(background)
    if not isinstance(shard_size, int) or shard_size < 1:
        raise GanfillError(f"shard_size must be a positive integer, got {shard_size!r}")
    if not src.is_dir():
        raise GanfillError(f"source folder {src} does not exist or is not a folder; check the path")
    src_abs, out_abs = src.resolve(), out.resolve()
    if src_abs == out_abs or out_abs in src_abs.parents:
        raise GanfillError(f"output folder {out} contains the source folder {src}; choose another output folder")
    _check_out_dir(out, overwrite)  # fail before the slow part
    files, others = scan_folder(src)
    if not files:
        found = f" (only {len(others)} other file(s))" if others else ""
        raise GanfillError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) found under {src}{found}; check the folder")

    sources: list[dict[str, str]] = []
    skipped = [{"file": p.relative_to(src).as_posix(), "reason": NOT_AN_IMAGE} for p in others]
    with _atomic_dir(out, overwrite) as tmp:
        writer = _ShardWriter(tmp, resolution, min(shard_size, len(files)))
        for path in tqdm(files, desc="prepare", unit="img", disable=not progress):
            rel = path.relative_to(src).as_posix()
            try:
                raw = path.read_bytes()
                image = to_domain(
                    _decode(io.BytesIO(raw), background, name=rel), resolution=resolution, crop=policy, background=background
                )
            except Exception as e:  # noqa: BLE001 - a bad file is skipped, never fatal
                skipped.append({"file": rel, "reason": _reason(e)})
                continue
            writer.add(image)  # outside the try: a failure to write is fatal
            sources.append({"file": rel, "sha256": hashlib.sha256(raw).hexdigest()})
        writer.flush()
        if not sources:
            first = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[len(others) :][:3])
            raise GanfillError(f"none of the {len(files)} image files under {src} could be read ({first}); check the files")
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "count": writer.count,
            "resolution": resolution,
            "crop": str(policy),
            "background": list(background),
            "resample": "bicubic",
            "shards": writer.shards,
            "sources": sources,
            "skipped": sorted(skipped, key=lambda s: s["file"]),
            "created_by": f"ganfill {GANFILL_VERSION}",
        }
        _write_manifest(tmp, manifest)
    return manifest


class ImageDataset:
    """A prepared dataset: uint8 (R, R, 3) images in memory-mapped shards, read by global index.

    Safe to pickle (e.g. into DataLoader workers): the shards are reopened, not copied.
    """

    def __init__(self, path: PathLike, manifest: dict[str, Any]):
        self.path = Path(path)
        self.manifest = manifest
        self.resolution = int(manifest["resolution"])
        self._shards = [self._open_shard(s) for s in manifest["shards"]]
        self._offsets = np.cumsum([0] + [len(s) for s in self._shards])

    def _open_shard(self, entry: dict[str, Any]) -> np.ndarray:
        file = self.path / str(entry["file"])
        r = self.resolution
        if not file.is_file():
            raise GanfillError(f"shard {file} is missing; the dataset is incomplete, prepare it again")
        try:
            shard = np.load(file, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError, EOFError) as e:
            raise GanfillError(f"shard {file} is corrupt ({_reason(e)}); prepare the dataset again") from None
        if shard.dtype != np.uint8 or shard.shape != (int(entry["count"]), r, r, 3):
            raise GanfillError(
                f"shard {file} holds {shard.dtype} {shard.shape}, the manifest says uint8 "
                f"({entry['count']}, {r}, {r}, 3); prepare the dataset again"
            )
        return shard

    def __len__(self) -> int:
        return int(self._offsets[-1])

    def __repr__(self) -> str:
        return f"ImageDataset({str(self.path)!r}, count={len(self)}, resolution={self.resolution})"

    def read(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """uint8 (B, R, R, 3) for global indices (any order, repeats allowed, negatives count from the end)."""
        idx = np.atleast_1d(np.asarray(indices)).astype(np.int64, casting="same_kind").ravel()
        n = len(self)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"index out of range for a dataset of {n} images")
        idx = np.where(idx < 0, idx + n, idx)
        shard_of = np.searchsorted(self._offsets, idx, side="right") - 1
        out = np.empty((idx.size, self.resolution, self.resolution, 3), np.uint8)
        for s in np.unique(shard_of):
            rows = np.flatnonzero(shard_of == s)
            local = idx[rows] - self._offsets[s]
            order = np.argsort(local, kind="stable")  # read each shard front to back
            out[rows[order]] = self._shards[s][local[order]]
        return out

    def all(self) -> np.ndarray:
        """The whole dataset as one in-memory uint8 (N, R, R, 3) array."""
        return np.concatenate([np.asarray(s) for s in self._shards])

    def __getstate__(self) -> dict[str, Any]:
        return {"path": self.path, "manifest": self.manifest}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["path"], state["manifest"])  # type: ignore[misc]


def open_dataset(path: PathLike) -> ImageDataset:
    """Open a dataset folder written by ``prepare`` or ``render_glyphs`` (one split of it)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise GanfillError(f"dataset folder {folder} does not exist; run `ganfill prepare` first")
    manifest = _read_manifest(folder)
    if manifest is None:
        splits = [s for s in ("train", "val") if _read_manifest(folder / s) is not None]
        if splits:
            raise GanfillError(f"{folder} holds the datasets {' and '.join(splits)}; open {folder / splits[0]} instead")
        raise GanfillError(f"{folder} is not a ganfill dataset (no valid {MANIFEST}); run `ganfill prepare` on your images first")
    if manifest.get("version") != VERSION:
        raise GanfillError(
            f"{folder} is a version {manifest.get('version')} dataset, this ganfill reads version {VERSION}; prepare it again"
        )
    try:
        dataset = ImageDataset(folder, manifest)
    except (KeyError, TypeError, ValueError) as e:
        raise GanfillError(f"{folder / MANIFEST} is malformed ({_reason(e)}); prepare the dataset again") from None
    if len(dataset) != manifest.get("count"):
        raise GanfillError(
            f"{folder} shards hold {len(dataset)} images, the manifest says {manifest.get('count')}; prepare it again"
        )
    return dataset


def manifest_summary(manifest: dict) -> dict:
    """A dataset manifest without its per-file lists (shards, sources, fonts, skipped): what a
    run's options and a model's metadata keep of it."""
    return {k: v for k, v in manifest.items() if k not in ("shards", "sources", "fonts", "skipped")}
