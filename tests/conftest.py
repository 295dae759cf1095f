"""Shared fixtures: tiny seeded models and a tiny prepared dataset, so tests are fast and exact."""

from __future__ import annotations

import importlib
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganfill.data.domain import Domain
from ganfill.models.config import ModelConfig
from ganfill.models.dcgan import GANModel, build

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared(name: str) -> Path:
    """A folder of ../shared/data, or skip the test with the reason when it is absent."""
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"{path} is absent (development data lives in ../shared/data; a user's clone has none)")
    return path


TINY = ModelConfig(resolution=32, z_dim=8, g_width=8, d_width=8)  # the tiny DCGAN of the test suite
# `ganfill train` options for TINY, a small batch and no progress bar
TINY_TRAIN_ARGS = ["--z-dim", 8, "--g-width", 8, "--d-width", 8, "--batch-size", 8, "--n-samples", 4, "--quiet"]


def tiny_gan(*, seed: int = 0, calibrate: int = 0, domain: Domain = Domain(), **config) -> GANModel:
    """The test suite's tiny DCGAN (``TINY``, fields replaced by ``config``), built under
    ``torch.manual_seed(seed)``, eval mode.  Freshly initialised, G(z) is ~1e-4 everywhere
    because batch norm's initial statistics (mean 0, var 1) shrink the signal at every layer;
    ``calibrate`` > 0 passes that many latents through G and D in train mode with cumulative
    statistics first, so that G's outputs have a realistic size and depend on z."""
    torch.manual_seed(seed)
    G, D = build(ModelConfig(**(TINY.to_dict() | config)))
    if calibrate:
        for m in [*G.modules(), *D.modules()]:
            if isinstance(m, torch.nn.BatchNorm2d):
                m.momentum = None
                m.reset_running_stats()
        G.train(), D.train()
        with torch.no_grad():
            D(G(torch.randn(calibrate, G.config.z_dim, generator=torch.Generator().manual_seed(123))))
    return GANModel.from_nets(G=G.eval(), D=D.eval(), domain=domain)


def train_tiny(data: Path, run: Path, *, steps: int, model: ModelConfig = TINY) -> Path:
    """A tiny GAN run of ``steps`` iterations (batch 16, fp32, one checkpoint at the end) in ``run``."""
    from ganfill.training.config import TrainConfig
    from ganfill.training.gan import train

    config = TrainConfig(steps=steps, batch_size=16, checkpoint_every=steps, n_samples=4, precision="fp32")
    train(data, run, model=model, config=config, progress=False)
    return run


def tiny_pair(folder: Path, name: str = "tiny") -> Path:
    """A tiny GAN model file ``folder/NAME.safetensors`` (``tiny_gan(calibrate=256)``) with a tiny
    seeded context encoder beside it (``NAME-ce.safetensors``, what the faithful, fast and
    closest modes find); returns the GAN's path."""
    from ganfill.models import files as checkpoint
    from ganfill.models.config import CEConfig
    from ganfill.models.context_encoder import ContextEncoder, ContextEncoderModel

    gan = checkpoint.save(folder / f"{name}.safetensors", tiny_gan(calibrate=256))
    torch.manual_seed(2)
    ce = ContextEncoder(CEConfig(resolution=TINY.resolution, width=8, bottleneck=16, adv_width=8)).eval()
    checkpoint.save(folder / f"{name}-ce.safetensors", ContextEncoderModel.from_nets(ce))
    return gan


@pytest.fixture
def tiny_config() -> ModelConfig:
    return TINY


@pytest.fixture
def tiny_models():
    model = tiny_gan()
    return model.G, model.D


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


def cli(*args, **kw) -> subprocess.CompletedProcess:
    """``python -m ganfill ARGS`` in a subprocess: its exit code, stdout and stderr as text."""
    return subprocess.run([sys.executable, "-m", "ganfill", *map(str, args)], capture_output=True, text=True, **kw)


def one_line_error(proc: subprocess.CompletedProcess, *words) -> None:
    """Exit code 2 and exactly one line on stderr, `ganfill: error: ...`, holding every word."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert proc.stderr.startswith("ganfill: error:") and proc.stderr.count("\n") == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    for word in words:
        assert str(word) in proc.stderr, (word, proc.stderr)


@pytest.fixture
def photo(tmp_path) -> Path:
    """A 40x40 blob image, ``TMP/in/photo.png``."""
    path = tmp_path / "in" / "photo.png"
    path.parent.mkdir()
    Image.fromarray(blob_images(1, 40, seed=4)[0]).save(path)
    return path


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
def _ganfill_home(tmp_path_factory, monkeypatch):
    """Every test (and every command it runs) keeps the user's models in a folder of its own,
    never in the real ~/.local/share/ganfill."""
    monkeypatch.setenv("GANFILL_HOME", str(tmp_path_factory.mktemp("ganfill-home")))


@pytest.fixture(autouse=True)
def _quiet_threads():
    # Tests run on 2 cores; keep torch from oversubscribing when xdist or subprocesses run.
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    yield


PLUGINS = ("linear_prior", "nearest_sample_mode", "mirror_baseline", "hole_mse_metric", "hole_stats_judge")


@pytest.fixture
def plugins():
    """Every plugin of tests/plugins/ (one file and one registration each: a prior, a mode, a
    baseline, a metric, a realism judge) registered for one test; the registries as they were afterwards."""
    from ganfill.evaluation import judges, metrics
    from ganfill.inpainting import baselines, inpainter
    from ganfill.models import registry

    live = inpainter.MODES, baselines.BASELINES, metrics.METRICS, registry._KINDS, judges.JUDGES
    saved = [dict(d) for d in live]
    mods = [
        importlib.reload(importlib.import_module(f"plugins.{name}"))
        if f"plugins.{name}" in sys.modules
        else importlib.import_module(f"plugins.{name}")
        for name in PLUGINS
    ]
    yield dict(zip(PLUGINS, mods))
    for d, old in zip(live, saved):
        d.clear()
        d.update(old)
