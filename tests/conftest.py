"""Shared fixtures: tiny seeded models and a tiny prepared dataset, so tests are fast and exact."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import build

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared(name: str) -> Path:
    """A folder of ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (development data lives in ../shared/data; a user's clone has none)")
    return path


@pytest.fixture
def tiny_config() -> ModelConfig:
    return ModelConfig(resolution=32, z_dim=8, g_width=8, d_width=8)


@pytest.fixture
def tiny_models(tiny_config):
    torch.manual_seed(0)
    return build(tiny_config)


def blob_images(n: int, size: int, seed: int = 0) -> np.ndarray:
    """n smooth coloured-blob images, uint8 (n, size, size, 3): structured, not noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.15, 0.35)
        inside = ((yy - cy) ** 2 + (xx - cx) ** 2) < r**2
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        out[i] = np.where(inside[..., None], fg, bg)
    return out


def png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width x height (the pixel data is a stub): a decompression
    bomb as far as anything that trusts the header is concerned."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """48 blob images prepared at 32x32 with ganfill's own `prepare`."""
    from ganfill.data.datasets import prepare

    src = tmp_path_factory.mktemp("blobs-src")
    for i, img in enumerate(blob_images(48, 40)):
        Image.fromarray(img).save(src / f"{i:03d}.png")
    out = tmp_path_factory.mktemp("blobs") / "data"
    prepare(src, out, resolution=32, crop="none", progress=False)
    return out


@pytest.fixture(autouse=True)
def _quiet_threads():
    # Tests run on 2 cores; keep torch from oversubscribing when xdist or subprocesses run.
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield
