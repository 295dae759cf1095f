"""The characters dataset: 0-9, A-Z, a-z rendered from every usable font (the Chars74K "Fnt" kind), split by font family."""

from __future__ import annotations

import hashlib
import string
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

from ganfill.core.constants import GANFILL_VERSION
from ganfill.core.errors import GanfillError
from ganfill.data.datasets import (
    FORMAT,
    SHARD_SIZE,
    VERSION,
    _atomic_dir,
    _check_out_dir,
    _check_resolution,
    _sha256_file,
    _ShardWriter,
    _write_manifest,
)
from ganfill.data.reading import REDUCING_GAP, RESAMPLE, WHITE, PathLike, _reason

GLYPH_CHARS = string.digits + string.ascii_uppercase + string.ascii_lowercase
GLYPH_FILL = 0.8  # the larger side of a glyph's ink box spans this fraction of the image
GLYPH_OVERSAMPLE = 4  # render at 4x the target resolution, then downsample
GLYPH_MAX_DUPLICATES = 4  # a font may draw at most this many characters like another one
FONT_SUFFIXES = (".ttf", ".otf", ".ttc")  # what Pillow's FreeType loader opens


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
                "created_by": f"ganfill {GANFILL_VERSION}",
            }
            _write_manifest(folder, manifests[split])
        del renders
        scratch.unlink()
    return manifests
