"""Read any image file into uint8 RGB (H, W, 3): every mode, EXIF orientation, a pixel limit read before decoding."""

from __future__ import annotations

import io
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
from PIL import Image, ImageCms, ImageColor, ImageOps

from ganfill.core.constants import IMAGE_SUFFIXES, MAX_PIXELS
from ganfill.core.errors import GanfillError
from ganfill.core.files import output_name

PathLike = str | os.PathLike
Color = tuple[int, int, int]


RESAMPLE = Image.Resampling.BICUBIC
REDUCING_GAP = 3.0
WHITE: Color = (255, 255, 255)


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


def open_image(source: PathLike | IO[bytes], *, max_pixels: int | None = MAX_PIXELS, name: str | None = None) -> Image.Image:
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
            raise GanfillError(
                f"{label} has too many pixels, more than Pillow opens at all ({limit}): scale it down first"
            ) from None
    width, height = image.size
    if max_pixels is not None and width * height > max_pixels:
        image.close()
        raise GanfillError(
            f"{label} is {width}x{height} = {width * height / 1e6:.3g} megapixels: "
            f"the limit is {max_pixels / 1e6:.3g} megapixels; scale it down first"
        )
    return image


def _decode(
    source: PathLike | IO[bytes], background: Color, *, max_pixels: int | None = MAX_PIXELS, name: str | None = None
) -> np.ndarray:
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


def load_image(
    source: PathLike | IO[bytes],
    *,
    background: str | Sequence[int] = WHITE,
    max_pixels: int | None = MAX_PIXELS,
    name: str | None = None,
) -> np.ndarray:
    """Read an image file (jpg, png, webp, bmp, gif, tiff, anything Pillow opens) as uint8 RGB
    (H, W, 3); of an animated GIF or a multi-page TIFF, the first frame.

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
        raise GanfillError(f"cannot read image {name}: {_reason(e)}; use a jpg, png, webp, bmp, gif or tiff file") from None


def _reason(error: BaseException) -> str:
    """A short one-line description of why a file could not be read."""
    text = " ".join(str(error).split()) or type(error).__name__
    if isinstance(error, Image.UnidentifiedImageError):
        text = "not an image Pillow can identify"
    return text[:200]


# ---- folders of images -----------------------------------------------------------------


def scan_folder(folder: Path, *, exclude: str | os.PathLike | None = None) -> tuple[list[Path], list[Path]]:
    """(image files, other files) under ``folder``, recursive, each sorted by its path inside it.
    Image files are those of ``IMAGE_SUFFIXES`` (any case), whatever their name (``..png`` and
    ``.photo.jpg`` too); hidden folders (``.git``, a run's temporary folders) and everything
    under ``exclude`` (the output folder) are passed over."""
    skip = _parts_inside(folder, exclude)
    images, others = [], []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            (images if f.lower().endswith(IMAGE_SUFFIXES) else others).append(Path(root, f))
    if skip is not None:
        images, others = ([p for p in found if p.relative_to(folder).parts[: len(skip)] != skip] for found in (images, others))
    key = lambda p: p.relative_to(folder).as_posix()  # noqa: E731
    return sorted(images, key=key), sorted(others, key=key)


def image_files(folder: Path, *, exclude: str | os.PathLike | None = None) -> list[Path]:
    """The image files under ``folder`` (``scan_folder``'s first list)."""
    return scan_folder(folder, exclude=exclude)[0]


def not_images_note(folder: Path, others: list[Path]) -> str:
    """One line on the files of ``folder`` left out because they are not images by their suffix."""
    names = ", ".join(p.relative_to(folder).as_posix() for p in others[:3]) + (", ..." if len(others) > 3 else "")
    return f"left out {len(others)} file(s) of {folder} that are not images ({names}): ganfill reads {', '.join(IMAGE_SUFFIXES)}"


def list_images(inputs: list[str | os.PathLike], *, exclude: str | os.PathLike | None = None, notify=None) -> list[Path]:
    """Files as given, folders expanded to their image files (sorted); two inputs whose results
    would share a folder (``core.files.output_name``) are an error. Files in folders under ``exclude``
    (the output folder) are left out: a rerun must not repair its own results. ``notify(line)``
    hears of the files of a folder left out because they are not images (``not_images_note``)."""
    files: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found, others = scan_folder(item, exclude=exclude)
            if not found:
                raise GanfillError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in folder {item}")
            if others and notify is not None:
                notify(not_images_note(item, others))
            files += found
        elif item.is_file():
            files.append(item)
        else:
            raise GanfillError(f"input {item} does not exist: give image files or folders of images")
    names: dict[str, Path] = {}
    for f in files:
        name = output_name(f.stem)
        if name in names and names[name] != f:
            raise GanfillError(
                f"two inputs would write their results to {name}/ ({names[name]} and {f}): outputs go by file name, rename one"
            )
        names[name] = f
    return list(dict.fromkeys(files))


def _parts_inside(folder: Path, other: str | os.PathLike | None) -> tuple[str, ...] | None:
    """The path of ``other`` relative to ``folder`` as parts, when it lies inside it; else None."""
    if other is None:
        return None
    try:
        return Path(other).resolve().relative_to(folder.resolve()).parts
    except ValueError:
        return None
