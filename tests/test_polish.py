"""Issue 27, what a user meets: help texts and choices for every option, --quiet wherever progress
is printed, reports that say what they mean, integer progress totals, what `train` says when it
starts, and the licence in the package."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from PIL import Image

from ganfill.apps.cli import cli
from ganfill.models import files as checkpoint

from conftest import REPO, TINY_TRAIN_ARGS, blob_images, tiny_gan

PROGRESS = ("prepare", "glyphs", "train", "train-encoder", "train-ce", "inpaint", "evaluate", "demo")


def _cli(*args, **kw):
    return subprocess.run([sys.executable, "-m", "ganfill", *map(str, args)], capture_output=True, text=True, **kw)


def _options(command: str) -> dict[str, click.Option]:
    return {p.opts[0]: p for p in cli.commands[command].params if isinstance(p, click.Option)}


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_option_has_a_help_text_beyond_its_default(command):
    for name, option in _options(command).items():
        assert option.help and not option.help.startswith("default:"), (command, name)


@pytest.mark.parametrize(
    "command, option, choices",
    [
        ("train", "--precision", {"auto", "fp32", "bf16"}),
        ("train-encoder", "--precision", {"auto", "fp32", "bf16"}),
        ("train-ce", "--precision", {"auto", "fp32", "bf16"}),
        ("train", "--resolution", {"32", "64", "128"}),
        ("inpaint", "--schedule", {"constant", "cosine"}),
        ("inpaint", "--contextual", {"weighted", "l1", "l2"}),
        ("inpaint", "--init", {"auto", "encoder", "prior"}),
        ("evaluate", "--schedule", {"constant", "cosine"}),
        ("demo", "--device", {"auto", "cpu", "cuda"}),
    ],
)
def test_options_with_a_fixed_set_of_values_list_them(command, option, choices):
    kind = _options(command)[option].type
    assert isinstance(kind, click.Choice) and set(kind.choices) == choices
    assert "|".join(kind.choices) in _cli(command, "--help").stdout


@pytest.mark.parametrize("command", PROGRESS)
def test_quiet_on_every_command_that_prints_progress(command):
    assert "--quiet" in _options(command)


def test_demo_help_says_how_long_it_takes_as_measured():
    text = _cli("demo", "--help").stdout
    assert "about a minute" not in text and "well under a minute on 2 CPU cores" in " ".join(text.split())


def test_demo_report_names_the_default_steps_in_words(tmp_path):
    model = checkpoint.save(tmp_path / "tiny.safetensors", tiny_gan(calibrate=16))
    (tmp_path / "in").mkdir()
    Image.fromarray(blob_images(1, 32)[0]).save(tmp_path / "in" / "a.png")
    proc = _cli("demo", "--images", tmp_path / "in", "--model", model, "--out", tmp_path / "out", "--restarts", 1, "--quiet")
    assert proc.returncode == 0, proc.stderr
    page = (tmp_path / "out" / "report.html").read_text()
    assert "steps None" not in page and "None" not in page
    assert "steps the model&#x27;s default" in page or "steps the model's default" in page


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(data, run): 24 blob images and a tiny GAN trained on them for 2 iterations."""
    root = tmp_path_factory.mktemp("polish")
    (root / "src").mkdir()
    for i, image in enumerate(blob_images(24, 32)):
        Image.fromarray(image).save(root / "src" / f"{i:02d}.png")
    assert _cli("prepare", root / "src", root / "data", "--resolution", 32, "--crop", "none", "--quiet").returncode == 0
    proc = _cli("train", root / "data", "--out", root / "run", *TINY_TRAIN_ARGS[:-1], "--steps", 2)
    assert proc.returncode == 0, proc.stderr
    return root / "data", root / "run", proc


def test_train_says_device_precision_and_data_when_it_starts(trained, tmp_path):
    data, run, loud = trained
    first = loud.stdout.splitlines()[0]
    assert re.fullmatch(
        rf"training {re.escape(str(run))} on cpu in (float32|bfloat16): data {re.escape(str(data.resolve()))} "
        r"\(24 images at 32x32\); iterations 1 to 2, batch 8",
        first,
    ), first
    quiet = _cli("train", data, "--out", tmp_path / "run", *TINY_TRAIN_ARGS, "--steps", 1)
    assert quiet.returncode == 0 and quiet.stdout.splitlines()[0].startswith("checkpoint:") and quiet.stderr == ""


def test_evaluate_report_says_n_a_without_a_percent_and_never_calls_training_images_held_out(trained, tmp_path):
    data, run, _ = trained
    proc = _cli("evaluate", run, data, "--out", tmp_path / "ev", "-n", 4, "--masks", "center", "--methods", "mean", "--quiet")
    assert proc.returncode == 0, proc.stderr
    report = (tmp_path / "ev" / "results.md").read_text()
    assert "n/a%" not in report and "n/a" in report  # 4 images are too few for the detectability reference
    assert "held-out" not in report.split("## What the numbers mean")[0]
    assert "the model's own training images, not held out" in report


def test_progress_totals_are_whole_numbers(tmp_path):
    model = checkpoint.save(tmp_path / "tiny.safetensors", tiny_gan(calibrate=16))
    Image.fromarray(blob_images(1, 32)[0]).save(tmp_path / "a.png")
    proc = _cli("inpaint", model, tmp_path / "a.png", "--out", tmp_path / "out", "--num-steps", 3, "--record-every", 0)
    assert proc.returncode == 0, proc.stderr
    totals = re.findall(r"(\S+)/(\S+) \[", proc.stderr)
    assert totals and all(re.fullmatch(r"\d+", n) and re.fullmatch(r"\d+", t) for n, t in totals), totals


def test_the_package_declares_its_licence_and_ships_it():
    tomllib = pytest.importorskip("tomllib", reason="Python 3.11+ reads TOML")
    meta = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert meta["classifiers"] and meta["urls"]
    text = (REPO / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text
    assert "MIT" in Path(REPO / "README.md").read_text().split("## Licences")[1]
