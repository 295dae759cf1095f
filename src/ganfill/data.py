"""The data layer: read any image, bring it into a model's domain, store datasets as uint8 shards.

Three parts, top to bottom:

1. Images. ``load_image`` decodes any file Pillow reads into uint8 RGB (H, W, 3), whatever
   its mode (greyscale, alpha, palette, 16-bit, CMYK) and EXIF orientation.
   ``to_domain`` is the one function that turns such an array into a model's input square:
   a crop policy (``parse_crop``: ``center:N``, ``pad`` or ``none``) then a resize.
   ``domain_box`` tells callers which source box that was, so results can be mapped back.

2. Datasets on disk. ``prepare`` turns a folder of images into a dataset folder::

       manifest.json          what is inside, how it was made, where each image came from
       images-00000.npy       uint8 (n, R, R, 3), np.save format, memory-mapped by readers
       images-00001.npy       ...

   ``open_dataset`` reads one back as an ``ImageDataset`` (random access by global index).
   Outputs are built in a hidden temporary sibling folder and renamed into place, so a
   dataset folder is either complete or absent.

3. Glyphs. ``render_glyphs`` renders the 62 characters 0-9, A-Z, a-z from every usable font
   on the machine (the Chars74K "Fnt" kind of data) into two datasets, ``train`` and ``val``,
   split by font family.

Resizing uses Pillow's BICUBIC filter (antialiased when shrinking: the kernel is widened by
the scale factor) with ``reducing_gap=3.0``: very large sources are first box-reduced by an
integer factor while staying at least 3x the target size, which is much faster and visually
identical. BICUBIC matches how the team's reference CelebA 64x64 set was made.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import shutil
import string
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Literal

import numpy as np
from PIL import Image, ImageCms, ImageColor, ImageDraw, ImageFont, ImageOps
from tqdm import tqdm

from ganfill import __version__
from ganfill.errors import GanfillError
from ganfill.files import remove_stale_temps, temp_name, writing

PathLike = str | os.PathLike
Color = tuple[int, int, int]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")  # what Pillow's FreeType loader opens
RESOLUTIONS = (32, 64, 128)  # the DCGAN presets
RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0
WHITE: Color = (255, 255, 255)
MAX_PIXELS = 40_000_000  # the most pixels an image may have, read from its header before decoding

MANIFEST = "manifest.json"
FORMAT = "ganfill-dataset"
VERSION = 1
SHARD_SIZE = 8192  # images per shard file (a writer holds one shard in memory)

GLYPH_CHARS = string.digits + string.ascii_uppercase + string.ascii_lowercase
GLYPH_FILL = 0.8  # the larger side of a glyph's ink box spans this fraction of the image
GLYPH_OVERSAMPLE = 4  # render at 4x the target resolution, then downsample
GLYPH_MAX_DUPLICATES = 4  # a font may draw at most this many characters like another one


# -----------------------------------------------------------------------------
# Images


def parse_color(color: str | Sequence[int]) -> Color:
    """An RGB triple from ``(r, g, b)`` or any colour string Pillow knows ("white", "#fff")."""
    if isinstance(color, str):
        try:
            rgb = ImageColor.getrgb(color)
        except ValueError:
            raise GanfillError(f"unknown colour {color!r}; use a name like 'white' or a hex code like '#ffffff'") from None
        return (rgb[0], rgb[1], rgb[2])
    values = tuple(color)
    if len(values) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in values):
        raise GanfillError(f"background colour must be three integers 0-255 (r, g, b), got {color!r}")
    return (int(values[0]), int(values[1]), int(values[2]))


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale a 16-bit or 32-bit single-channel image to mode "L" without clipping.

    I;16 variants hold 0..65535 and are scaled by 255/65535 (65535 -> 255, 32768 -> 128).
    Mode I (32-bit int) is treated the same way when its values fit in 0..65535 (this is
    how 16-bit PNGs and TIFFs often arrive), otherwise its min..max range is stretched.
    Mode F (float) is taken as 0..1 when it fits there, otherwise min..max is stretched.
    """
    a = np.asarray(image)
    if image.mode.startswith("I;16"):
        lo, hi = 0.0, 65535.0
    else:
        finite = a[np.isfinite(a)] if a.dtype.kind == "f" else a
        amin = float(finite.min()) if finite.size else 0.0
        amax = float(finite.max()) if finite.size else 0.0
        if image.mode == "F" and amin >= 0.0 and amax <= 1.0:
            lo, hi = 0.0, 1.0
        elif image.mode == "I" and amin >= 0 and amax <= 65535:
            lo, hi = 0.0, 65535.0
        else:
            lo, hi = amin, max(amax, amin + 1e-12)
    scaled = (np.nan_to_num(a.astype(np.float64), nan=lo) - lo) * (255.0 / (hi - lo))
    return Image.fromarray(np.clip(np.rint(scaled), 0, 255).astype(np.uint8), "L")


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """CMYK -> RGB through the embedded ICC profile when there is one, else Pillow's formula."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted
        except (ImageCms.PyCMSError, OSError, ValueError):
            pass  # a broken profile: fall back to the naive conversion
    return image.convert("RGB")


def _label(source: PathLike | IO[bytes]) -> str:
    """How messages name an image source: its path, a file object's name, or ``<stream>``."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    return str(getattr(source, "name", None) or "<stream>")


def open_image(source: PathLike | IO[bytes], *, max_pixels: int | None = MAX_PIXELS,
               name: str | None = None) -> Image.Image:
    """Open an image lazily (only its header is read) and refuse one of more than ``max_pixels``
    pixels before anything decodes it: a small file can claim 30000x30000 pixels and take
    gigabytes to decode. ``max_pixels=None``: no limit of ganfill's (Pillow's own refusal of
    decompression bombs, about 179 megapixels, still holds). Pillow's DecompressionBombWarning
    never reaches stderr: the size is checked here instead. ``name``: the file as messages name
    it (default: its path). Too many pixels is a GanfillError; Pillow's own errors pass through.
    """
    label = name or _label(source)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            image = Image.open(source)
        except Image.DecompressionBombError:
            limit = f"the limit is {max_pixels / 1e6:.3g} megapixels" if max_pixels else "the limit is Pillow's"
            raise GanfillError(f"{label} has too many pixels, more than Pillow opens at all ({limit}): "
                               "scale it down first") from None
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise GanfillError(f"{label} is {width}x{height} = {width * height / 1e6:.3g} megapixels: "
                           f"the limit is {max_pixels / 1e6:.3g} megapixels; scale it down first")
    return image


def _decode(source: PathLike | IO[bytes], background: Color, *, max_pixels: int | None = MAX_PIXELS,
            name: str | None = None) -> np.ndarray:
    """Decode one image to uint8 RGB (``open_image``'s pixel limit first); lets Pillow's own exceptions through."""
    with open_image(source, max_pixels=max_pixels, name=name) as image:
        image.load()  # decode now, so truncated or corrupt data fails here
        try:
            image = ImageOps.exif_transpose(image)
        except Exception:  # noqa: BLE001 - corrupt EXIF must not make a good image unreadable
            pass
        if image.mode in ("I", "F") or image.mode.startswith("I;16"):
            image = _to_8bit(image)  # (a transparency key on 16-bit data is dropped)
        if image.mode == "CMYK":
            image = _cmyk_to_rgb(image)
        if "A" in image.getbands() or "a" in image.getbands() or "transparency" in image.info:
            rgba = image.convert("RGBA")  # applies palette and colour-key transparency too
            canvas = Image.new("RGBA", rgba.size, (*background, 255))
            image = Image.alpha_composite(canvas, rgba)
        return np.asarray(image.convert("RGB"), dtype=np.uint8).copy()


def load_image(source: PathLike | IO[bytes], *, background: str | Sequence[int] = WHITE,
               max_pixels: int | None = MAX_PIXELS, name: str | None = None) -> np.ndarray:
    """Read an image file (jpg, png, webp, bmp, anything Pillow opens) as uint8 RGB (H, W, 3).

    EXIF orientation is applied. Transparent pixels (alpha channels, palette or colour-key
    transparency) are composited onto ``background``. 16-bit and float images are scaled
    to 8 bits (see ``_to_8bit``). CMYK goes through its embedded ICC profile when present.
    Other embedded colour profiles are ignored (pixels are taken as sRGB).
    ``source`` may be a path or a binary file object. Raises GanfillError if unreadable, or if
    it has more than ``max_pixels`` pixels (see ``open_image``). ``name``: how messages name the
    file (default: its path; the web page gives the bare file name, never a server path).
    """
    background = parse_color(background)
    name = name or _label(source)
    try:
        return _decode(source, background, max_pixels=max_pixels, name=name)
    except GanfillError:
        raise
    except FileNotFoundError:
        raise GanfillError(f"image file {name} does not exist; check the path") from None
    except Exception as e:  # noqa: BLE001 - Pillow raises many types for bad data
        raise GanfillError(f"cannot read image {name}: {_reason(e)}; use a jpg, png, webp or bmp file") from None


def _reason(error: BaseException) -> str:
    """A short one-line description of why a file could not be read."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, Image.UnidentifiedImageError):
        text = "not an image Pillow can identify"
    return text[:200]


# -----------------------------------------------------------------------------
# Crop policies and the model's domain


@dataclass(frozen=True)
class CropPolicy:
    """How a source image becomes a square: ``center:N``, ``pad`` or ``none``."""

    kind: Literal["center", "pad", "none"]
    size: int | None = None  # N for center:N

    def __str__(self) -> str:
        return f"center:{self.size}" if self.kind == "center" else self.kind


def parse_crop(spec: str | CropPolicy) -> CropPolicy:
    """Parse a crop policy.

    - ``center:N``: the centred N x N square (CelebA convention: ``center:108`` on the
      178x218 aligned faces). If the image is smaller than N in either dimension, the
      largest centred square that fits is used instead.
    - ``pad``: pad the shorter side with the background colour to a centred square
      (sprites on white, e.g. Pokemon).
    - ``none``: use the whole image, squashed to a square (aspect ratio is not kept).
    """
    if isinstance(spec, CropPolicy):
        return spec
    text = str(spec).strip().lower()
    if text in ("pad", "none"):
        return CropPolicy(text)  # type: ignore[arg-type]
    kind, _, size = text.partition(":")
    if kind in ("center", "centre") and size.strip().isdigit() and int(size) > 0:
        return CropPolicy("center", int(size))
    hint = " (glyph datasets are rendered, not cropped; use 'pad' for character images)" if text == "glyph" else ""
    raise GanfillError(f"unknown crop policy {spec!r}{hint}; use 'center:N' (e.g. center:108), 'pad' or 'none'")


def domain_box(width: int, height: int, *, crop: str | CropPolicy) -> tuple[int, int, int, int]:
    """The (left, top, right, bottom) source box that ``to_domain`` resizes to the model square.

    For ``pad`` the box is the padded square and extends outside the image (negative or
    too-large coordinates) on the shorter side; the image sits at ``(-left, -top)`` in it.
    For ``none`` it is the whole image (not square).
    """
    policy = parse_crop(crop)
    if policy.kind == "none":
        return (0, 0, width, height)
    side = max(width, height) if policy.kind == "pad" else min(policy.size or 0, width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return (left, top, left + side, top + side)


def to_domain(
    image: np.ndarray,
    *,
    resolution: int,
    crop: str | CropPolicy,
    background: str | Sequence[int] = WHITE,
) -> np.ndarray:
    """Bring a uint8 RGB (H, W, 3) image (or greyscale (H, W)) into a model's domain.

    Crops (or pads) the box ``domain_box`` describes, then resizes it to
    ``resolution`` x ``resolution`` with Pillow's BICUBIC filter (antialiased, see the module
    docstring). Returns uint8 (resolution, resolution, 3).
    """
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or not (
        image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)
    ):
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise GanfillError(f"expected a uint8 (H, W, 3) RGB image, got {dtype} {shape}; read files with load_image")
    if not isinstance(resolution, (int, np.integer)) or resolution < 1:
        raise GanfillError(f"resolution must be a positive integer, got {resolution!r}")
    policy = parse_crop(crop)
    pil = Image.fromarray(image).convert("RGB")
    left, top, right, bottom = domain_box(pil.width, pil.height, crop=policy)
    if policy.kind == "pad":
        square = Image.new("RGB", (right - left, bottom - top), parse_color(background))
        square.paste(pil, (-left, -top))
        pil = square
    elif policy.kind == "center":
        pil = pil.crop((left, top, right, bottom))
    out = pil.resize((int(resolution), int(resolution)), RESAMPLE, reducing_gap=REDUCING_GAP)
    return np.asarray(out, dtype=np.uint8).copy()


@dataclass(frozen=True)
class Domain:
    """How a model's training images were brought into its square, so user images get the same.

    crop: a crop policy (``center:N``, ``pad`` or ``none``; see ``parse_crop``), stored in its
    canonical spelling.  background: the RGB colour of padding and transparency.
    Saved with every model (checkpoint metadata); models saved without one get ``Domain()``.
    """

    crop: str = "none"
    background: Color = WHITE

    def __post_init__(self):
        object.__setattr__(self, "crop", str(parse_crop(self.crop)))
        object.__setattr__(self, "background", parse_color(self.background))

    @classmethod
    def from_dict(cls, d) -> "Domain":
        """From a checkpoint's JSON record; rendered glyph datasets (crop ``glyph``) map to ``pad``."""
        if not isinstance(d, dict):
            raise GanfillError(f"a domain must be a JSON object, got {type(d).__name__}: give its 'crop' and 'background'")
        crop = d.get("crop", "none")
        return cls("pad" if crop == "glyph" else crop, tuple(d.get("background", WHITE)))

    def to_dict(self) -> dict:
        return {"crop": self.crop, "background": list(self.background)}

    def text(self) -> str:
        """``center:108``, ``none``, or ``pad on #ffffff``."""
        return "pad on #{:02x}{:02x}{:02x}".format(*self.background) if self.crop == "pad" else self.crop

    def square(self, image: np.ndarray, resolution: int) -> np.ndarray:
        """``to_domain`` with this domain's crop and background: uint8 (resolution, resolution, 3)."""
        return to_domain(image, resolution=resolution, crop=self.crop, background=self.background)


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
            raise GanfillError(f"{out_dir} is not empty and not a ganfill dataset; refusing to overwrite it, choose another folder")


@contextmanager
def _atomic_dir(out_dir: Path, overwrite: bool) -> Iterator[Path]:
    """Yield an empty hidden sibling folder; on success it replaces ``out_dir``, on error it goes.

    The old ``out_dir`` (empty, or a ganfill output with overwrite=True) is moved aside
    first and deleted only after the new folder is in place.
    """
    _check_out_dir(out_dir, overwrite)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temps(out_dir.parent, of=out_dir.name)  # what a killed run left
    tmp = temp_name(out_dir)
    try:
        with writing(out_dir, tmp):
            tmp.mkdir()
            yield tmp
            _check_out_dir(out_dir, overwrite)  # again: the folder may have changed meanwhile
            old = None
            if out_dir.exists():
                old = out_dir.parent / f".{out_dir.name}.old-{secrets.token_hex(4)}"
                os.replace(out_dir, old)
            try:
                os.replace(tmp, out_dir)
            except BaseException:
                if old is not None:
                    os.replace(old, out_dir)
                raise
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _list_images(src_dir: Path) -> list[Path]:
    """Image files under src_dir (recursive, hidden files and folders skipped), sorted."""
    found = []
    for root, dirs, files in os.walk(src_dir):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        found += [Path(root, f) for f in files if not f.startswith(".") and f.lower().endswith(IMAGE_SUFFIXES)]
    return sorted(found, key=lambda p: p.relative_to(src_dir).as_posix())


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

    Every *.jpg, *.jpeg, *.png, *.webp and *.bmp under ``src_dir`` (recursive, any case,
    hidden files and folders skipped) is read with ``load_image`` and brought into the
    domain with ``to_domain``, in sorted relative-path order. Files that cannot be read are
    listed in the manifest's ``skipped`` with the reason; other files are ignored.
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
    files = _list_images(src)
    if not files:
        raise GanfillError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) found under {src}; check the folder")

    sources: list[dict[str, str]] = []
    skipped: list[dict[str, str]] = []
    with _atomic_dir(out, overwrite) as tmp:
        writer = _ShardWriter(tmp, resolution, min(shard_size, len(files)))
        for path in tqdm(files, desc="prepare", unit="img", disable=not progress):
            rel = path.relative_to(src).as_posix()
            try:
                raw = path.read_bytes()
                image = to_domain(_decode(io.BytesIO(raw), background, name=rel), resolution=resolution, crop=policy,
                                  background=background)
            except Exception as e:  # noqa: BLE001 - a bad file is skipped, never fatal
                skipped.append({"file": rel, "reason": _reason(e)})
                continue
            writer.add(image)  # outside the try: a failure to write is fatal
            sources.append({"file": rel, "sha256": hashlib.sha256(raw).hexdigest()})
        writer.flush()
        if not sources:
            first = "; ".join(f"{s['file']}: {s['reason']}" for s in skipped[:3])
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
            "skipped": skipped,
            "created_by": f"ganfill {__version__}",
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
                f"shard {file} holds {shard.dtype} {shard.shape}, the manifest says uint8 ({entry['count']}, {r}, {r}, 3); prepare the dataset again"
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
        raise GanfillError(f"{folder} is a version {manifest.get('version')} dataset, this ganfill reads version {VERSION}; prepare it again")
    try:
        dataset = ImageDataset(folder, manifest)
    except (KeyError, TypeError, ValueError) as e:
        raise GanfillError(f"{folder / MANIFEST} is malformed ({_reason(e)}); prepare the dataset again") from None
    if len(dataset) != manifest.get("count"):
        raise GanfillError(f"{folder} shards hold {len(dataset)} images, the manifest says {manifest.get('count')}; prepare it again")
    return dataset


# -----------------------------------------------------------------------------
# Glyphs: the 62 characters rendered from every usable font


def matplotlib_font_dir() -> Path:
    """The TrueType fonts bundled with matplotlib (DejaVu, STIX, Computer Modern): on every machine."""
    import matplotlib  # imported here: only glyph rendering needs it

    return Path(matplotlib.get_data_path()) / "fonts" / "ttf"


def _default_font_dirs() -> list[Path]:
    home = Path.home()
    candidates = [
        matplotlib_font_dir(),
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        home / ".local" / "share" / "fonts",
        home / ".fonts",
    ]
    return [d for d in candidates if d.is_dir()]


def find_fonts(font_dirs: Sequence[PathLike] | None = None) -> list[Path]:
    """Every .ttf, .otf and .ttc file under ``font_dirs`` (recursive), in folder order then sorted.

    Default folders: matplotlib's bundled fonts, then those of /usr/share/fonts,
    /usr/local/share/fonts, ~/.local/share/fonts and ~/.fonts that exist. A file reached
    twice (e.g. through a symlink) is listed once.
    """
    if font_dirs is None:
        dirs = _default_font_dirs()
    else:
        dirs = [Path(d).expanduser() for d in font_dirs]
        for d in dirs:
            if not d.is_dir():
                raise GanfillError(f"font folder {d} does not exist; check the path")
    fonts, seen = [], set()
    for d in dirs:
        for path in sorted(p for p in d.rglob("*") if p.suffix.lower() in FONT_SUFFIXES and p.is_file()):
            key = path.resolve()
            if key not in seen:
                seen.add(key)
                fonts.append(path)
    return fonts


@dataclass(frozen=True)
class _Face:
    """One font face: a file, and the face's index inside it (TrueType collections hold several)."""

    path: Path
    index: int
    family: str
    style: str


def _faces(path: Path) -> list[int]:
    """Face indices in a font file: one for .ttf/.otf, several for a .ttc collection."""
    if path.suffix.lower() != ".ttc":
        return [0]
    from fontTools.ttLib import TTCollection

    with TTCollection(path, lazy=True) as collection:
        return list(range(len(collection.fonts)))


def _check_cmap(path: Path, index: int) -> None:
    """Raise ValueError unless the face's character map suits the 62 characters.

    Needs all 62 characters, and at least half of them mapped to glyphs named after that
    character: symbol fonts (cmsy10, cmex10, Last Resort) map the ASCII codes to other shapes.
    Fonts without glyph names pass this test (fontTools derives names from the cmap).
    """
    from fontTools.agl import toUnicode
    from fontTools.ttLib import TTFont

    with TTFont(path, fontNumber=index, lazy=True) as font:
        cmap = font.getBestCmap() or {}
        missing = [c for c in GLYPH_CHARS if ord(c) not in cmap]
        if missing:
            raise ValueError(f"no glyphs for {''.join(missing[:10])}{'...' if len(missing) > 10 else ''}")
        named = sum(toUnicode(cmap[ord(c)]) == c for c in GLYPH_CHARS)
        if named < len(GLYPH_CHARS) / 2:
            raise ValueError(f"a symbol font: only {named} of the 62 characters map to glyphs named after them")


def _render_glyph(font: ImageFont.FreeTypeFont, char: str, resolution: int) -> tuple[np.ndarray, bytes]:
    """Render one character: uint8 (R, R) black ink on white, ink box centred and fit to 80%.

    ``font`` should be sized about ``GLYPH_OVERSAMPLE * resolution`` pixels: the glyph is
    drawn at that size and downsampled (antialiased BICUBIC) with sub-pixel centring.
    Also returns a fingerprint of the high-resolution ink, to spot fonts that draw
    different characters the same way. Raises ValueError if the glyph has no ink.
    """
    left, top, right, bottom = font.getbbox(char)
    side = max(right - left, bottom - top, 1)
    pad = int(side / GLYPH_FILL) + 8  # enough room for the square box around the ink
    canvas = Image.new("L", (right - left + 2 * pad, bottom - top + 2 * pad), 0)
    ImageDraw.Draw(canvas).text((pad - left, pad - top), char, font=font, fill=255)
    ink = canvas.getbbox()
    if ink is None:
        raise ValueError(f"character {char!r} renders blank")
    x0, y0, x1, y1 = ink
    half = max(x1 - x0, y1 - y0) / GLYPH_FILL / 2
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    box = (cx - half, cy - half, cx + half, cy + half)
    small = canvas.resize((resolution, resolution), RESAMPLE, box=box, reducing_gap=REDUCING_GAP)
    fingerprint = hashlib.sha256(canvas.crop(ink).tobytes() + f"{x1 - x0}x{y1 - y0}".encode()).digest()
    return 255 - np.asarray(small, dtype=np.uint8), fingerprint


def render_chars(font: PathLike, chars: str, *, resolution: int, index: int = 0) -> np.ndarray:
    """Characters of one font as the glyph datasets render them: uint8 (len(chars), R, R, 3),
    black ink on white, ink box centred and fit to 80%. ``GanfillError`` if the font is not
    usable for the glyph datasets (missing characters, a symbol font, a blank rendering)."""
    path = Path(font)
    resolution = _check_resolution(resolution)
    try:
        _check_cmap(path, index)
        face = ImageFont.truetype(str(path), size=GLYPH_OVERSAMPLE * resolution, index=index)
        glyphs = np.stack([_render_glyph(face, char, resolution)[0] for char in chars])
    except Exception as e:  # noqa: BLE001 - Pillow and fontTools raise many types
        raise GanfillError(f"font {path.name} cannot render the glyph characters: {_reason(e)}") from None
    return np.repeat(glyphs[..., None], 3, axis=3)


def _render_face(face: _Face, resolution: int) -> np.ndarray:
    """uint8 (62, R, R) for one face; ValueError if it draws blanks or too many look-alikes."""
    font = ImageFont.truetype(str(face.path), size=GLYPH_OVERSAMPLE * resolution, index=face.index)
    glyphs, prints = [], set()
    for char in GLYPH_CHARS:
        glyph, fingerprint = _render_glyph(font, char, resolution)
        glyphs.append(glyph)
        prints.add(fingerprint)
    duplicates = len(GLYPH_CHARS) - len(prints)
    if duplicates > GLYPH_MAX_DUPLICATES:
        raise ValueError(f"{duplicates} characters render the same as another one")
    return np.stack(glyphs)


def _split_families(families: Sequence[str], holdout: float, seed: int) -> set[str]:
    """The families held out for validation: a seeded shuffle of the sorted names."""
    names = sorted(set(families))
    n_val = min(max(1, round(holdout * len(names))), len(names) - 1)
    order = np.random.default_rng(seed).permutation(len(names))
    return {names[i] for i in order[:n_val]}


def _usable_face(path: Path, index: int, resolution: int, taken: set[tuple[str, str]]) -> tuple[_Face, np.ndarray]:
    """A face and its 62 renders (62, R, R); ValueError (or Pillow's errors) says why not."""
    family, style = ImageFont.truetype(str(path), size=12, index=index).getname()
    face = _Face(path, index, family or path.stem, style or "Regular")
    if (face.family, face.style) in taken:
        raise ValueError(f"same family and style as an earlier font ({face.family} {face.style})")
    _check_cmap(path, index)
    return face, _render_face(face, resolution)


def render_glyphs(
    out_dir: PathLike,
    *,
    font_dirs: Sequence[PathLike] | None = None,
    resolution: int = 64,
    holdout: float = 0.1,
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
) -> dict[str, Any]:
    """Render the 62 characters from every usable font into ``out_dir/train`` and ``out_dir/val``.

    A face is usable if Pillow loads it, its cmap covers all 62 characters with properly
    named glyphs (``_check_cmap``) and its renderings are neither blank nor mostly alike.
    Faces with the same (family, style) are kept once (the first found). Families are
    split with a seeded shuffle: ``holdout`` of them (at least one, never all) go to val,
    so no family is in both. Image order: font by font, each with the 62 characters of
    ``GLYPH_CHARS``; image i of a split is character ``GLYPH_CHARS[i % 62]`` of font
    ``manifest["fonts"][i // 62]``. Returns {"train": manifest, "val": manifest}.
    """
    out = Path(out_dir).expanduser()
    resolution = _check_resolution(resolution)
    if not 0.0 < holdout < 1.0:
        raise GanfillError(f"holdout must be a fraction between 0 and 1 (e.g. 0.1), got {holdout!r}")
    _check_out_dir(out, overwrite)
    searched = [Path(d).expanduser() for d in font_dirs] if font_dirs is not None else _default_font_dirs()
    files = find_fonts(searched)

    with _atomic_dir(out, overwrite) as tmp:
        # Pass 1: check and render every face, streaming the renders to a scratch file
        # (usability is only known after rendering; the split needs all families).
        scratch = tmp / ".renders.u8"
        faces: list[_Face] = []
        skipped: list[dict[str, str]] = []
        with open(scratch, "wb") as f:
            for path in tqdm(files, desc="glyphs", unit="font", disable=not progress):
                try:
                    indices = _faces(path)
                except Exception as e:  # noqa: BLE001 - a broken font file is skipped
                    skipped.append({"file": str(path), "reason": _reason(e)})
                    continue
                for index in indices:
                    try:
                        face, glyphs = _usable_face(path, index, resolution, {(a.family, a.style) for a in faces})
                    except Exception as e:  # noqa: BLE001 - Pillow and fontTools raise many types
                        label = str(path) if len(indices) == 1 else f"{path}#{index}"
                        skipped.append({"file": label, "reason": _reason(e)})
                        continue
                    f.write(glyphs.tobytes())
                    faces.append(face)

        families = sorted({face.family for face in faces})
        if len(families) < 2:
            where = ", ".join(map(str, searched)) or "no font folders found"
            raise GanfillError(
                f"found {len(families)} usable font famil{'y' if len(families) == 1 else 'ies'} (need at least 2) in {where}; "
                "install more fonts, e.g. `apt-get install fonts-dejavu-core fonts-liberation`, or pass font folders"
            )
        val_families = _split_families(families, holdout, seed)
        renders = np.memmap(scratch, np.uint8, mode="r", shape=(len(faces), len(GLYPH_CHARS), resolution, resolution))

        # Pass 2: write the two splits in the same dataset format as prepare.
        manifests: dict[str, dict[str, Any]] = {}
        for split in ("train", "val"):
            members = [i for i, face in enumerate(faces) if (face.family in val_families) == (split == "val")]
            folder = tmp / split
            folder.mkdir()
            writer = _ShardWriter(folder, resolution, SHARD_SIZE)
            for i in members:
                for glyph in renders[i]:
                    writer.add(glyph[:, :, None])  # grey, broadcast to 3 channels
            writer.flush()
            manifests[split] = {
                "format": FORMAT,
                "version": VERSION,
                "count": writer.count,
                "resolution": resolution,
                "crop": "glyph",
                "background": list(WHITE),
                "resample": "bicubic",
                "shards": writer.shards,
                "split": split,
                "chars": GLYPH_CHARS,
                "fonts": [
                    {
                        "path": str(faces[i].path),
                        "index": faces[i].index,
                        "family": faces[i].family,
                        "style": faces[i].style,
                        "sha256": _sha256_file(faces[i].path),
                    }
                    for i in members
                ],
                "holdout": holdout,
                "seed": seed,
                "skipped": skipped,
                "created_by": f"ganfill {__version__}",
            }
            _write_manifest(folder, manifests[split])
        del renders
        scratch.unlink()
    return manifests
