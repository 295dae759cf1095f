"""Command line: translates arguments and files to the library's pure functions, nothing more.

Every user error surfaces as one line on stderr (``ganfill: error: ...``) and exit code 2.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

import click

from ganfill.errors import GanfillError


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; any user error becomes one line on stderr and exit code 2."""
    try:
        cli.main(args=argv, prog_name="ganfill", standalone_mode=False)
    except GanfillError as e:
        click.echo(f"ganfill: error: {e}", err=True)
        sys.exit(2)
    except click.UsageError as e:
        hint = f" (see: {e.ctx.command_path} --help)" if e.ctx else ""
        click.echo(f"ganfill: error: {e.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as e:
        click.echo(f"ganfill: error: {e.format_message()}", err=True)
        sys.exit(e.exit_code or 1)
    except (KeyboardInterrupt, click.Abort):
        click.echo("ganfill: interrupted", err=True)
        sys.exit(130)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganfill")
def cli():
    """ganfill: semantic image inpainting with a DCGAN prior (Yeh et al., CVPR 2017).

    Typical flow: prepare (or glyphs) -> train -> sample / inpaint.
    """


def _colour(value: str) -> tuple[int, int, int]:
    from PIL import ImageColor

    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a colour: use a name (white) or #rrggbb") from None


@cli.command()
@click.argument("src_dir", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--resolution", type=click.Choice(["32", "64", "128"]), default="64", show_default=True)
@click.option("--crop", default="center:108", show_default=True,
              help="center:N (centre NxN crop, CelebA convention), pad (square on --background) or none")
@click.option("--background", default="white", show_default=True, help="colour for padding and transparency")
@click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
def prepare(src_dir, out, resolution, crop, background, overwrite):
    """Turn a folder of images into a training dataset (uint8 shards + manifest)."""
    from ganfill.data import prepare as run

    m = run(src_dir, out, resolution=int(resolution), crop=crop, background=_colour(background), overwrite=overwrite)
    click.echo(f"{m['count']} images at {m['resolution']}x{m['resolution']} written to {out}"
               + (f"; {len(m['skipped'])} skipped (listed in {out}/manifest.json)" if m["skipped"] else ""))


@cli.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--fonts", "font_dirs", multiple=True, type=click.Path(path_type=Path),
              help="font folder to search (repeatable); default: matplotlib's fonts and the system's")
@click.option("--resolution", type=click.Choice(["32", "64", "128"]), default="64", show_default=True)
@click.option("--holdout", default=0.1, show_default=True, help="fraction of font families held out in OUT/val")
@click.option("--seed", default=0, show_default=True)
@click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
def glyphs(out, font_dirs, resolution, holdout, seed, overwrite):
    """Render the built-in characters dataset (0-9, A-Z, a-z from every font; Chars74K Fnt style)."""
    from ganfill.data import render_glyphs

    m = render_glyphs(out, font_dirs=list(font_dirs) or None, resolution=int(resolution), holdout=holdout,
                      seed=seed, overwrite=overwrite)
    click.echo(f"glyphs written to {out}/train ({m['train']['count']} images) and {out}/val ({m['val']['count']} images)")


def _train_options(f):
    """Attach one CLI option per TrainConfig field (so defaults are documented in one place)."""
    from ganfill.train import TrainConfig

    for field in reversed(fields(TrainConfig)):
        name = "--" + field.name.replace("_", "-")
        if field.type in ("bool", bool):
            f = click.option(f"{name}/--no-{name[2:]}", field.name, default=None, help=f"default: {field.default}")(f)
        else:
            f = click.option(name, field.name, type=type(field.default), default=None,
                             help=f"default: {field.default}")(f)
    return f


@cli.command()
@click.argument("data", required=False, type=click.Path(path_type=Path))
@click.option("--out", "run_dir", required=True, type=click.Path(path_type=Path), help="run folder")
@click.option("--arch", type=click.Choice(["dcgan", "paper"]), default="dcgan", show_default=True,
              help="architecture preset")
@click.option("--resolution", type=int, default=None, help="32, 64 or 128 (default: the dataset's)")
@click.option("--z-dim", default=100, show_default=True)
@click.option("--g-width", default=64, show_default=True)
@click.option("--d-width", default=64, show_default=True)
@click.option("--resume", is_flag=True, help="continue the run in --out from its last checkpoint")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--quiet", is_flag=True, help="no progress bar")
@_train_options
def train(data, run_dir, arch, resolution, z_dim, g_width, d_width, resume, device, quiet, **overrides):
    """Train a DCGAN on DATA (a folder made by `prepare` or `glyphs`), writing RUN folder --out.

    Resuming needs only --out (and optionally a larger --steps); everything else comes from the run.
    """
    from ganfill.data import open_dataset
    from ganfill.models import ModelConfig
    from ganfill.train import TrainConfig, train as run

    overrides = {k: v for k, v in overrides.items() if v is not None}
    if resume:
        extra = set(overrides) - {"steps"}
        if extra:
            raise GanfillError(f"--resume takes its options from the run; only --steps may be given (not {', '.join(sorted(extra))})")
        config = TrainConfig(**overrides) if overrides else None
        last = run(data, run_dir, config=config, resume=True, device=device, progress=not quiet)
    else:
        if data is None:
            raise GanfillError("missing DATA: give the dataset folder made by `ganfill prepare` or `ganfill glyphs`")
        if resolution is None:
            resolution = open_dataset(data).resolution
        model = ModelConfig(arch=arch, resolution=resolution, z_dim=z_dim, g_width=g_width, d_width=d_width)
        last = run(data, run_dir, model=model, config=TrainConfig(**overrides), device=device, progress=not quiet)
    click.echo(f"checkpoint: {last}")


@cli.command()
@click.argument("ckpt", type=click.Path(path_type=Path))
@click.option("-n", "n", default=64, show_default=True, help="number of samples")
@click.option("--seed", default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="grid image to write (.png)")
def sample(ckpt, n, seed, out):
    """Draw n samples from a checkpoint into one grid image."""
    from ganfill import checkpoint
    from ganfill.images import grid, save_image
    from ganfill.train import sample as draw

    if n < 1:
        raise GanfillError(f"-n must be at least 1, got {n}")
    loaded = checkpoint.load(ckpt)
    save_image(grid(draw(loaded.G, n, seed=seed)), out)
    click.echo(f"{n} samples from {loaded.path} written to {out}")
