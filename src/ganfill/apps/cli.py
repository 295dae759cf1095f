"""Command line: translates arguments and files to the library's pure functions, nothing more.

Every user error surfaces as one line on stderr (``ganfill: error: ...``) and exit code 2, and so
does every operating-system error (permissions, a full disk, a file where a folder should be):
``main`` is the one place that turns them into that line.
"""

from __future__ import annotations

import sys
import warnings
from dataclasses import fields
from pathlib import Path

import click

from ganfill.apps.config import IMAGES_MODEL, SIZED, DemoConfig
from ganfill.core.checks import kind_of
from ganfill.core.constants import (
    BLENDS,
    DEVICES,
    DTYPE_NAMES,
    MAX_BATCH,
    MAX_IMAGES,
    MAX_PIXELS,
    MAX_SAMPLES,
    PORTS,
    PRECISIONS,
    SEEDS,
)
from ganfill.core.errors import GanfillError, GanfillWarning, os_error_message
from ganfill.core.files import atomic_path, check_out_folder
from ganfill.inpainting.config import START_DEFAULTS, CompleteConfig
from ganfill.models.config import CE_WIDTH, LIMITS
from ganfill.training.config import CETrainConfig, EncoderConfig, TrainConfig

PATH = click.Path(path_type=Path)
SHOW_WARNING = warnings.showwarning  # Python's own, for warnings that are not ganfill's
INPAINT_DEFAULTS = {"record_every": 50}  # the CLI keeps progress frames for its GIF


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """``warnings.showwarning`` for the command line: a GanfillWarning as one line, others as Python shows them."""
    if issubclass(category, GanfillWarning):
        _warn(str(message))
    else:
        SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the command; any user error becomes one line on stderr and exit code 2;
    a batch that skipped inputs ends with exit code 3 (``PARTIAL``)."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            code = cli.main(args=argv, prog_name="ganfill", standalone_mode=False)
        if code:
            sys.exit(code)
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
    except OSError as e:  # reading or writing files: permissions, a full disk, a file for a folder
        click.echo(f"ganfill: error: {os_error_message(e)}", err=True)
        sys.exit(2)
    except (KeyboardInterrupt, click.Abort):
        click.echo("ganfill: interrupted", err=True)
        sys.exit(130)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="ganfill")
def cli():
    """ganfill: semantic image inpainting with a DCGAN prior (Yeh et al., CVPR 2017).

    Typical flow: prepare (or glyphs) -> train -> export -> sample / inpaint / evaluate.
    `ganfill models` lists the models that ship with ganfill and yours; `ganfill demo` shows them at work.
    Exit codes: 0 done, 2 bad input (one line on stderr, nothing written), 3 a batch finished
    but skipped inputs it could not read or match (each named on stderr), 130 interrupted.
    """


PARTIAL = 3  # the exit code of a batch that finished but skipped inputs it could not read or match
WARNINGS_SHOWN = 20  # per-file warnings printed of a long list; the rest are counted


def _warn(message: str) -> None:
    click.echo(f"ganfill: warning: {message}", err=True)


def _warn_each(lines: list[str], *, more: str) -> None:
    """One warning per line, the first WARNINGS_SHOWN of them; the rest counted, pointing at ``more``."""
    for line in lines[:WARNINGS_SHOWN]:
        _warn(line)
    if len(lines) > WARNINGS_SHOWN:
        _warn(f"... and {len(lines) - WARNINGS_SHOWN} more, all listed in {more}")


def _quiet_option(f):
    return click.option("--quiet", is_flag=True, help="no progress bars or start-up lines (warnings and errors still show)")(f)


def _seed_option(help: str):
    return click.option("--seed", type=click.IntRange(*SEEDS), default=0, show_default=True, help=help)


def _port_option(f):
    return click.option("--port", type=click.IntRange(*PORTS), default=7860, show_default=True, help="TCP port to serve on")(f)


def _colour(value: str) -> tuple[int, int, int]:
    from PIL import ImageColor

    try:
        return ImageColor.getrgb(value)[:3]
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a colour: use a name (white) or #rrggbb") from None


@cli.command()
@click.argument("src_dir", type=PATH)
@click.argument("out", type=PATH)
@click.option(
    "--resolution", type=click.Choice(["32", "64", "128"]), default="64", show_default=True, help="side of the square images"
)
@click.option(
    "--crop",
    default="center:108",
    show_default=True,
    help="center:N (centre NxN crop, CelebA convention), pad (square on --background) or none",
)
@click.option("--background", default="white", show_default=True, help="colour for padding and transparency")
@click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
@_quiet_option
def prepare(src_dir, out, resolution, crop, background, overwrite, quiet):
    """Turn a folder of images into a training dataset (uint8 shards + manifest).

    Reads every image file under SRC_DIR (jpg, png, webp, bmp, gif, tiff; GIF and TIFF: the
    first frame); every file left out (unreadable, or not an image) is named with the reason,
    here and in OUT/manifest.json.
    """
    from ganfill.data.datasets import prepare as run

    m = run(
        src_dir,
        out,
        resolution=int(resolution),
        crop=crop,
        background=_colour(background),
        overwrite=overwrite,
        progress=not quiet,
    )
    _warn_each([f"skipped {s['file']}: {s['reason']}" for s in m["skipped"]], more=f"{out}/manifest.json")
    click.echo(
        f"{m['count']} images at {m['resolution']}x{m['resolution']} written to {out}"
        + (f"; {len(m['skipped'])} skipped (listed in {out}/manifest.json)" if m["skipped"] else "")
    )


@cli.command()
@click.argument("out", type=PATH)
@click.option(
    "--fonts",
    "font_dirs",
    multiple=True,
    type=PATH,
    help="font folder to search (repeatable); default: matplotlib's fonts and the system's",
)
@click.option(
    "--resolution", type=click.Choice(["32", "64", "128"]), default="64", show_default=True, help="side of the square images"
)
@click.option(
    "--holdout",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.1,
    show_default=True,
    help="fraction of font families held out in OUT/val",
)
@_seed_option("seeds the split of font families")
@click.option("--overwrite", is_flag=True, help="replace OUT if it exists")
@_quiet_option
def glyphs(out, font_dirs, resolution, holdout, seed, overwrite, quiet):
    """Render the built-in characters dataset (0-9, A-Z, a-z from every font; Chars74K Fnt style)."""
    from ganfill.data.glyphs import render_glyphs

    m = render_glyphs(
        out,
        font_dirs=list(font_dirs) or None,
        resolution=int(resolution),
        holdout=holdout,
        seed=seed,
        overwrite=overwrite,
        progress=not quiet,
    )
    click.echo(f"glyphs written to {out}/train ({m['train']['count']} images) and {out}/val ({m['val']['count']} images)")


# what a default of None means, where it is not "off"
AUTO_DEFAULTS = {
    key: f"{START_DEFAULTS['prior'][key]} from a random z, {START_DEFAULTS['encoder'][key]} from the model's encoder"
    for key in START_DEFAULTS["prior"]
}
AUTO_DEFAULTS["steps"] = (
    f"the model's: {START_DEFAULTS['prior']['num_steps']} from a random z, "
    f"{START_DEFAULTS['encoder']['num_steps']} from its encoder"
)


def _click_type(field):
    """The click type of a config field declared with ``core.checks.option``: its choices, or its
    span as an IntRange / FloatRange (checked at parse time and shown in --help)."""
    meta, kind = field.metadata, kind_of(field)
    if meta.get("choices") is not None:
        return click.Choice(list(meta["choices"]))
    span = meta.get("span")
    if kind == "int":
        return click.IntRange(span.lo, span.hi) if span is not None else int
    if kind == "float":
        if span is None:
            return float
        return click.FloatRange(span.lo, span.hi, min_open=span.lo_open, max_open=span.hi_open)
    return str


def _config_options(cls, *, defaults: dict | None = None):
    """One CLI option per field of a config dataclass, so defaults, ranges, choices and help
    texts are documented in one place (the fields, ``core.checks.option``).

    Options default to None (= the dataclass default); bools become --x/--no-x flags.
    """

    def decorate(f):
        for field in reversed(fields(cls)):
            default = (defaults or {}).get(field.name, field.default)
            if default is None and field.name in AUTO_DEFAULTS:
                default = AUTO_DEFAULTS[field.name]
            name = "--" + field.name.replace("_", "-")
            kind = kind_of(field)
            shown = " ".join(map(str, default)) if kind == "tuple" else ("none" if default == "" else default)
            words = field.metadata.get("help")
            help = f"{words} (default: {shown})" if words else f"default: {shown}"
            if kind == "bool":
                f = click.option(f"{name}/--no-{name[2:]}", field.name, default=None, help=help)(f)
            elif kind == "tuple":
                f = click.option(name, field.name, type=float, nargs=2, default=None, help=help)(f)
            else:
                f = click.option(name, field.name, type=_click_type(field), default=None, help=help)(f)
        return f

    return decorate


def _resumed(config_class, overrides: dict):
    """The options of a --resume: the run's own (None), or with --steps, the only one that may be
    given (to extend it), replaced."""
    extra = set(overrides) - {"steps"}
    if extra:
        raise GanfillError(f"--resume takes its options from the run; only --steps may be given (not {', '.join(sorted(extra))})")
    return config_class(**overrides) if overrides else None


def _given(options: dict) -> dict:
    return {k: v for k, v in options.items() if v is not None}


def _auto_choice(name: str, choices: tuple[str, ...], help: str):
    """An option whose value is one of ``choices``, ``auto`` by default."""
    return click.option(name, type=click.Choice(list(choices)), default="auto", show_default=True, help=help)


def _device_option(f):
    return _auto_choice("--device", DEVICES, "auto: CUDA when present, else the CPU")(f)


def _runtime_options(f):
    """--device and --precision, as `ganfill train` has them, for every command that runs a model."""
    help = "bf16 only where the hardware runs it natively (CUDA, AVX-512 BF16 / AMX CPUs)"
    return _device_option(_auto_choice("--precision", PRECISIONS, help)(f))


def _width_option(name: str, help: str):
    """--g-width or --d-width, up to ``models.config.LIMITS``."""
    return click.option(
        name, type=click.IntRange(1, LIMITS[name[2:].replace("-", "_")]), default=64, show_default=True, help=help
    )


def _init_option(help: str):
    """--init MODEL: where a training run starts from instead of random weights."""
    return click.option("--init", "init", default=None, metavar="MODEL", help=help)


def _mode_options(f):
    """--mode and --cnn, for every command that completes images (the modes are a registry:
    ``inpainting.inpainter.MODES`` checks the name, so plugins' modes work here too)."""
    f = click.option(
        "--cnn",
        type=PATH,
        default=None,
        help="the context encoder of --mode faithful / fast / closest "
        "(default: the one beside the model, e.g. faces64-ce for faces64)",
    )(f)
    return click.option(
        "--mode",
        default="auto",
        show_default=True,
        metavar="MODE",
        help="sharp: the latent search, one realistic completion; faithful: close to what was "
        "there (search + context encoder); fast: the context encoder alone, one pass; closest: the closest "
        "to what was there, the generator adapted to each image (slower, with the context encoder where there is one); "
        "auto: faithful for a GAN with a context encoder beside it (or --cnn), sharp for one without, "
        "fast for a context encoder; or a classical method: telea, navier-stokes, biharmonic, mean",
    )(f)


def _runtime(device: str, precision: str):
    from ganfill.core import runtime

    return runtime.resolve(device, precision)


@cli.command()
@click.argument("data", required=False, type=PATH)
@click.option("--out", "run_dir", required=True, type=PATH, help="run folder")
@click.option(
    "--arch",
    type=click.Choice(["dcgan", "paper", "gan"]),
    default="dcgan",
    show_default=True,
    help="architecture preset: dcgan (Radford et al.), paper (the research paper's), gan (fully connected, "
    "Goodfellow et al. 2014)",
)
@click.option("--resolution", type=click.Choice(["32", "64", "128"]), default=None, help="image side (default: the dataset's)")
@click.option(
    "--z-dim", type=click.IntRange(1, LIMITS["z_dim"]), default=100, show_default=True, help="size of the latent vector z"
)
@_width_option("--g-width", "channels of G's last hidden layer, doubled at each step towards 4x4")
@_width_option("--d-width", "channels of D's first layer, doubled at each step towards 4x4")
@click.option("--resume", is_flag=True, help="continue the run in --out from its last checkpoint")
@_init_option(
    "start a new run from MODEL's weights (a shipped name or .safetensors file): its architecture, "
    "training options and iteration count carry on; options given here replace its options"
)
@_device_option
@_quiet_option
@_config_options(TrainConfig)
def train(data, run_dir, arch, resolution, z_dim, g_width, d_width, resume, init, device, quiet, **overrides):
    """Train a DCGAN on DATA (a folder made by `prepare` or `glyphs`), writing RUN folder --out.

    Resuming needs only --out (and optionally a larger --steps); everything else comes from the run.
    --init MODEL continues a model whose run folder is gone, e.g. `ganfill train DATA --out RUN
    --init faces64 --steps 20000` trains the shipped faces64 on from the iteration it stopped at.
    """
    from ganfill.data.datasets import open_dataset
    from ganfill.models.config import ModelConfig
    from ganfill.training.gan import train as run
    from ganfill.training.loop import init_config

    overrides = _given(overrides)
    check_out_folder(run_dir)
    if resume:
        last = run(
            data, run_dir, config=_resumed(TrainConfig, overrides), resume=True, init=init, device=device, progress=not quiet
        )
    elif init is not None:  # train() says so if DATA is missing
        last = run(data, run_dir, config=init_config(TrainConfig, init, overrides), init=init, device=device, progress=not quiet)
    else:
        if data is None:
            raise GanfillError("missing DATA: give the dataset folder made by `ganfill prepare` or `ganfill glyphs`")
        resolution = open_dataset(data).resolution if resolution is None else int(resolution)
        model = ModelConfig(arch=arch, resolution=resolution, z_dim=z_dim, g_width=g_width, d_width=d_width)
        last = run(data, run_dir, model=model, config=TrainConfig(**overrides), device=device, progress=not quiet)
    click.echo(f"checkpoint: {last}")


@cli.command("train-encoder")
@click.argument("model", required=False)
@click.argument("data", required=False, type=PATH)
@click.option("--out", "run_dir", required=True, type=PATH, help="run folder")
@click.option("--resume", is_flag=True, help="continue the run in --out from its last checkpoint")
@_init_option(
    "start from MODEL's encoder (e.g. the one shipped for an earlier G of the same architecture) instead of random weights"
)
@_device_option
@_quiet_option
@_config_options(EncoderConfig)
def train_encoder(model, data, run_dir, resume, init, device, quiet, **overrides):
    """Train an encoder of z for MODEL's generator on the real images DATA (a `prepare` folder).

    MODEL: a shipped model's name, a run folder, a checkpoint folder or a .safetensors file. The
    run's checkpoints hold G, D and the encoder: use --out RUN as a model anywhere, or ship it
    with `ganfill export RUN NAME`. With an encoder, the search starts from the z it predicts
    (`--init auto`), so a few steps reach what 100 steps from a random z do.
    """
    from ganfill.training.encoder import train_encoder as run

    overrides = _given(overrides)
    if resume:
        config = _resumed(EncoderConfig, overrides)
        last = run(None, data, run_dir, config=config, resume=True, device=device, progress=not quiet)
    else:
        last = run(model, data, run_dir, config=EncoderConfig(**overrides), init=init, device=device, progress=not quiet)
    click.echo(f"checkpoint: {last}")


@cli.command("train-ce")
@click.argument("data", required=False, type=PATH)
@click.option("--out", "run_dir", required=True, type=PATH, help="run folder")
@click.option("--width", type=click.IntRange(1, CE_WIDTH), help="encoder / decoder width (default 64: 64-128-256-512)")
@click.option("--bottleneck", type=click.IntRange(1, CE_WIDTH), help="size of the code between encoder and decoder (default 256)")
@click.option("--adv-width", type=click.IntRange(1, CE_WIDTH), help="width of the adversarial loss's discriminator (default 32)")
@click.option("--resume", is_flag=True, help="continue the run in --out from its last checkpoint")
@_init_option(
    "start a new run from context encoder MODEL's weights (a shipped name or .safetensors file): its "
    "architecture, training options and iteration count carry on; options given here replace its options"
)
@_device_option
@_quiet_option
@_config_options(CETrainConfig)
def train_ce(data, run_dir, width, bottleneck, adv_width, resume, init, device, quiet, **overrides):
    """Train a context encoder (Pathak et al. 2016: the CNN of the paper's comparison) on DATA.

    DATA: a folder made by `prepare`. One pass of the network repairs a hole; with --masks mix
    (default) it learns every mask kind. Its checkpoints complete images by themselves
    (`ganfill inpaint --model RUN`), and `ganfill export RUN NAME-ce` ships it beside the GAN
    NAME, whose `--mode faithful` then uses it.
    """
    from ganfill.models.config import CEConfig
    from ganfill.training.context_encoder import train_context_encoder as run
    from ganfill.training.loop import init_config

    overrides = _given(overrides)
    check_out_folder(run_dir)
    if resume:
        last = run(data, run_dir, config=_resumed(CETrainConfig, overrides), resume=True, device=device, progress=not quiet)
    elif init is not None:
        if data is None:
            raise GanfillError("missing DATA: give the dataset folder made by `ganfill prepare`")
        config = init_config(CETrainConfig, init, overrides)
        last = run(data, run_dir, config=config, init=init, device=device, progress=not quiet)
    else:
        if data is None:
            raise GanfillError("missing DATA: give the dataset folder made by `ganfill prepare`")
        from ganfill.data.datasets import open_dataset

        shape = _given({"width": width, "bottleneck": bottleneck, "adv_width": adv_width})
        model = CEConfig(resolution=open_dataset(data).resolution, **shape)
        last = run(data, run_dir, model=model, config=CETrainConfig(**overrides), device=device, progress=not quiet)
    click.echo(f"checkpoint: {last}")


@cli.command()
@click.argument("ckpt", type=PATH)
@click.option("-n", "n", type=click.IntRange(1, MAX_SAMPLES), default=64, show_default=True, help="number of samples")
@_seed_option("seeds the latents drawn")
@click.option("--out", required=True, type=PATH, help="grid image to write (.png)")
@_runtime_options
def sample(ckpt, n, seed, out, device, precision):
    """Draw n samples from a model into one grid image.

    CKPT: a shipped model's name (see `ganfill models`), a run folder, a checkpoint folder or a
    .safetensors model file.
    """
    from ganfill.core.images import grid, save_image
    from ganfill.models import files as checkpoint
    from ganfill.training.gan import sample as draw

    if out.is_dir():
        raise GanfillError(f"--out {out} is a folder: give the grid image's file name, e.g. {out / 'samples.png'}")
    loaded = checkpoint.load(ckpt, kind="gan")
    save_image(grid(draw(loaded.G, n, seed=seed, runtime=_runtime(device, precision))), out)
    click.echo(f"{n} samples from {loaded.path} written to {out}")


@cli.command()
@click.argument("args", metavar="[CKPT] INPUTS...", nargs=-1, required=True, type=PATH)
@click.option(
    "--model",
    "model_spec",
    help="the model, instead of CKPT: a shipped model's name (see `ganfill models`), "
    "a run folder, a checkpoint folder or a .safetensors file",
)
@click.option("--out", "out_dir", required=True, type=PATH, help="output folder")
@click.option(
    "--mask",
    default="center",
    show_default=True,
    help="center, pattern, random80, half, grid, strokes, a mask image (white = hole) "
    "or a folder of masks named after the images",
)
@click.option(
    "--mask-level",
    type=click.IntRange(0, 254),
    default=0,
    show_default=True,
    help="mask images: a pixel above this grey level is a hole (raise it for noisy JPEG masks)",
)
@click.option(
    "--framing",
    type=click.Choice(["auto", "domain", "face", "fit"]),
    default="auto",
    show_default=True,
    help="where the model's square goes: face (on each face the hole touches, by its landmarks), fit (a box around "
    "the hole), domain (the whole image, cropped like the training images); auto: face for a face model and a drawn "
    "mask, else domain. With face and fit the result is the whole photo at its size",
)
@click.option("--frame", metavar="X,Y,SIZE", help="the model's square given by hand: its top-left corner and side, in pixels")
@click.option("--batch-size", type=click.IntRange(1, MAX_BATCH), default=64, show_default=True, help="images completed together")
@_seed_option("seeds z (by each image's known pixels) and random masks (by file name)")
@click.option(
    "--max-pixels",
    type=click.IntRange(1, None),
    default=MAX_PIXELS,
    show_default=True,
    help="larger input and mask images are refused before they are decoded (the web page's limit)",
)
@click.option("--overwrite", is_flag=True, help="redo images whose results already exist (default: skip them)")
@click.option(
    "--blend",
    type=click.Choice(list(BLENDS)),
    default="poisson",
    show_default=True,
    help="poisson: seamless (Yeh et al.); paste: G(z) pasted into the hole (the research paper's LC)",
)
@_mode_options
@_quiet_option
@_runtime_options
@_config_options(CompleteConfig, defaults=INPAINT_DEFAULTS)
def inpaint(
    args,
    model_spec,
    out_dir,
    mask,
    mask_level,
    framing,
    frame,
    batch_size,
    seed,
    max_pixels,
    overwrite,
    blend,
    mode,
    cnn,
    quiet,
    device,
    precision,
    **options,
):
    """Repair images with a trained model: `ganfill inpaint CKPT INPUTS...` or
    `ganfill inpaint --model NAME INPUTS...`. CKPT / NAME: a shipped model's name (faces64, ...),
    a run folder, a checkpoint folder or a .safetensors model file; `faces` is faces64 or
    faces128 for each photo, by the size of its face (faces128 where its square spans 128 photo
    pixels or more).

    The latent search minimises the paper's loss (importance-weighted contextual loss + 0.003 x
    perceptual loss, Poisson blending) from the z of the model's encoder (10 cosine-decayed Adam
    steps at lr 0.05) or, without one, from 2 random z (100 steps at lr 0.1, the better kept),
    which measured as good as or better than the paper's 1500 steps at lr 0.01 in 1/6 of the
    time or less (--init prior --restarts 1 --num-steps 1500 --lr 0.01 --schedule constant is
    the paper's). Frames for the progress GIF are
    kept every --record-every steps (50 here). Under torchrun, each process takes its share of
    the inputs; a rerun skips images already done. One run at a time writes into --out.
    A batch finishes: an input that cannot be read or matched (no mask of its name, a damaged
    file) is skipped with a warning that names it, the rest are completed, and the exit code is 3.

    --mode sharp (a GAN's default) is that search: one realistic completion. --mode faithful
    adds the coarse structure of the model's context encoder (faces64-ce for faces64, or
    --cnn): close to what was there. --mode closest then adapts the generator to each image:
    the closest to what was there, a few tenths of a second more per image. --mode fast is the
    context encoder alone (one pass; the default when the model given is a context encoder).
    """
    import os

    from ganfill.apps import fill
    from ganfill.data.framing import parse_frame

    ckpt, inputs = (model_spec, args) if model_spec is not None else (args[0], args[1:])
    if not inputs:
        raise GanfillError("no INPUTS: give the model (CKPT or --model NAME) and then the images to repair")
    check_out_folder(out_dir)
    config = CompleteConfig(**(INPAINT_DEFAULTS | _given(options)))
    runtime = _runtime(device, precision)
    inpainter, *larger = fill.load_sized(ckpt, mode, cnn=cnn, config=config, runtime=runtime, blends=(blend,))
    rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1:
        import torch

        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get("LOCAL_WORLD_SIZE", world))))
    counts = fill.run(
        inpainter,
        list(inputs),
        out_dir,
        mask=mask,
        mask_level=mask_level,
        framing=framing,
        frames=None if frame is None else [parse_frame(frame, inpainter.resolution)],
        batch_size=batch_size,
        seed=seed,
        overwrite=overwrite,
        rank=rank,
        world=world,
        progress=not quiet,
        max_pixels=max_pixels,
        notify=_warn,
        larger=tuple(larger),
    )
    extra = [f"{counts['unchanged']} unchanged (no hole)"] if counts["unchanged"] else []
    extra += [f"{counts['skipped']} already done"] if counts["skipped"] else []
    extra += [f"{len(counts['failed'])} skipped, each named above"] if counts["failed"] else []
    click.echo(f"{counts['done']} image(s) completed in {out_dir}" + (f" ({', '.join(extra)})" if extra else ""))
    if counts["failed"]:
        raise click.exceptions.Exit(PARTIAL)


@cli.command()
@click.option(
    "--out", "out_dir", default="ganfill-demo", show_default=True, type=PATH, help="folder for the report and everything it shows"
)
@click.option("--images", type=PATH, help="complete your own images (a folder or a file) instead of the built-in ones")
@click.option(
    "--model",
    help="only this model: a shipped model's name, or with --images any checkpoint "
    f"(default: glyphs32, faces64 and faces128; with --images: {IMAGES_MODEL})",
)
@click.option(
    "--mask",
    default="center",
    show_default=True,
    help="as for `ganfill inpaint`: center, pattern, random80, half, grid, strokes, a mask image or folder",
)
@_quiet_option
@_runtime_options
@_config_options(DemoConfig)
def demo(out_dir, images, model, mask, quiet, device, precision, **options):
    """Complete images with the shipped models next to OpenCV's Telea; write an HTML report.

    With no options (well under a minute on 2 CPU cores, no training): glyphs32 on characters from
    fonts it never saw, and faces64 and faces128 on NASA's portrait of Eileen Collins, center mask.
    """
    from ganfill.apps import demo as run_demo

    check_out_folder(out_dir)
    page = run_demo.run(
        out_dir,
        config=DemoConfig(**_given(options)),
        model=model,
        images=images,
        mask=mask,
        runtime=_runtime(device, precision),
        progress=not quiet,
        echo=click.echo,
    )
    click.echo(f"report: {page.resolve()}")


@cli.command()
@click.argument("ckpt", type=PATH)
@click.argument("name_or_path")
@click.option("--dtype", type=click.Choice(list(DTYPE_NAMES)), default="fp16", show_default=True, help="weights as stored")
@click.option(
    "--crop",
    help="replace the domain's crop policy (center:N, pad, none), e.g. center:108 for a model "
    "trained on already-cropped CelebA faces",
)
@click.option("--background", help="replace the domain's background colour (pad policy)")
@click.option("--faces", help="a face model: the landmark template its faces are aligned to (celeba), for photos")
@click.option("--card-data", multiple=True, help="a line for the skeleton card's 'Training data' section (repeatable)")
def export(ckpt, name_or_path, dtype, crop, background, faces, card_data):
    """Write a model file (EMA generator + discriminator, or a context encoder) from a checkpoint.

    NAME_OR_PATH: a name (mine64) writes NAME.safetensors into your models folder,
    $GANFILL_HOME/models (default ~/.local/share/ganfill/models; outside the installed package,
    so it survives upgrades and `pip uninstall`), where every command finds it by that name and
    `ganfill models` lists it; a path ending in .safetensors writes there. A skeleton model card
    NAME.md (config, parameter counts, training steps and images, file size) is written beside
    it unless one exists.
    """
    from ganfill.models import cards
    from ganfill.models import files as checkpoint

    given = (("crop", crop), ("background", background and list(_colour(background))), ("faces", faces))
    domain = {k: v for k, v in given if v}
    out = checkpoint.export(ckpt, checkpoint.export_path(name_or_path), dtype=checkpoint.DTYPES[dtype], domain=domain)
    d = checkpoint.describe(out)
    click.echo(
        f"{out} ({d.size / 1e6:.1f} MB, {d.dtype}, {d.config.resolution}x{d.config.resolution}, "
        f"domain {d.domain.text()}, step {d.meta.get('step', '?')})"
    )
    card = cards.card_path(out)
    if card.exists():
        click.echo(f"model card {card} kept as it is")
    else:
        with atomic_path(card) as tmp:
            tmp.write_text(cards.card_skeleton(out, data=card_data), encoding="utf-8")
        click.echo(f"model card skeleton written to {card}: finish it by hand")


@cli.command()
def models():
    """List the models a name finds: those that ship with ganfill and yours (`ganfill export RUN
    NAME` writes them into $GANFILL_HOME/models): name, resolution, domain, size, where, card title."""
    from ganfill.models import cards
    from ganfill.models import files as checkpoint

    shipped, yours = checkpoint.shipped_models(), checkpoint.user_models()
    named = checkpoint.named_models()
    if not named:
        click.echo(f"no models in {checkpoint.SHIPPED_DIR} or {checkpoint.user_models_dir()}")
        return
    rows = [("name", "resolution", "domain", "size", "from", "card")]
    for name, path in named.items():
        d = checkpoint.describe(path)
        rows.append(
            (
                name,
                f"{d.config.resolution}x{d.config.resolution}",
                d.domain.text(),
                f"{d.size / 1e6:.1f} MB",
                "shipped" if name in shipped else "yours",
                cards.card_title(path) or "(no model card)",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        click.echo("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1])
    for name, sized in SIZED.items():
        if all(n in named for n in sized):
            click.echo(f"{name}: {' or '.join(sized)} for each photo, by the size of its face (`ganfill inpaint {name}`)")
    if yours:
        click.echo(f"yours are in {checkpoint.user_models_dir()} (GANFILL_HOME)")


@cli.command()
@click.argument("ckpt", type=PATH)
@click.argument("data", type=PATH)
@click.option("--out", "out_dir", required=True, type=PATH, help="run folder: results.md, results.json, figure.png, options.json")
@click.option(
    "--masks",
    default="center,pattern,random80,half",
    show_default=True,
    help="comma-separated mask types (center, pattern, random80, half, grid, strokes)",
)
@click.option(
    "--methods",
    default="all",
    show_default=True,
    help="comma-separated: ganfill, ganfill-paste, ganfill-random (a random start; models with an encoder), "
    "ganfill-faithful, context-encoder, context-encoder-paste (with a context encoder), closest (the generator "
    "adapted to each image), telea, navier-stokes, biharmonic, mean (or all: every one the model can run); "
    "METHOD@setting=value runs a mode with another setting, e.g. ganfill-faithful@detail=1.6",
)
@click.option(
    "--cnn",
    type=PATH,
    default=None,
    help="the context encoder of the faithful and context-encoder methods (default: the one beside "
    "the model, e.g. faces64-ce for faces64)",
)
@click.option(
    "-n",
    "--num-images",
    type=click.IntRange(1, MAX_IMAGES),
    default=100,
    show_default=True,
    help="images to score (the first n in a seeded random order); hold them out of training for a fair score",
)
@_seed_option("seeds the image order, the masks and z")
@click.option(
    "--batch-size", type=click.IntRange(1, MAX_BATCH), default=64, show_default=True, help="images searched together by ganfill"
)
@click.option(
    "--face-detector/--no-face-detector",
    default=None,
    help="face-detection rates (faces only); default: on when a face is found in half the originals",
)
@click.option(
    "--judges",
    default="all",
    show_default=True,
    help="comma-separated realism judges: texture (logistic regression on texture statistics), cnn (a small CNN)",
)
@click.option(
    "--judge-seeds",
    type=click.IntRange(1, 100),
    default=1,
    show_default=True,
    help="run each judge with this many seeds (--seed, --seed + 1, ...) and report their mean: less of a judge's own noise",
)
@click.option("--figure-rows", type=click.IntRange(1, 100), default=4, show_default=True, help="images per mask in figure.png")
@_quiet_option
@_runtime_options
@_config_options(CompleteConfig)
def evaluate(
    ckpt,
    data,
    out_dir,
    masks,
    methods,
    cnn,
    num_images,
    seed,
    batch_size,
    face_detector,
    judges,
    judge_seeds,
    figure_rows,
    quiet,
    device,
    precision,
    **options,
):
    """Score ganfill against classical inpainting on images DATA (a dataset or image folder; images
    held out of the model's training, for a fair score: the report says when DATA is its training data).

    CKPT: a shipped model's name (see `ganfill models`), a run folder, a checkpoint folder or a
    .safetensors model file.

    Every mask type hides the same seeded holes for every method; each completion is scored by
    PSNR over the hole and over the whole image, SSIM, L1 over the hole, seconds per image,
    the rate at which a face detector still finds a face, and how well a small classifier
    tells it from the originals (50% = indistinguishable). The latent search has
    `ganfill inpaint`'s defaults; `ganfill` blends with Poisson, `ganfill-paste` pastes the same G(z^).
    """
    import shlex

    from ganfill.evaluation import evaluate as ev
    from ganfill.models import files as checkpoint

    check_out_folder(out_dir)
    given = _given(options)
    runtime = _runtime(device, precision)
    split = [s.strip() for s in methods.split(",") if s.strip()]
    if cnn is not None and checkpoint.describe(cnn).kind != "context-encoder":
        raise GanfillError(f"--cnn {cnn} is a {checkpoint.describe(cnn).kind} model, not a context encoder (`ganfill train-ce`)")
    model = checkpoint.load(ckpt)
    cnn_path = cnn if cnn is not None else checkpoint.context_encoder_for(model.path)
    every = [m for m in ev.method_names() if getattr(model, "E", None) is not None or m != ev.RANDOM_START]
    every = [m for m in every if cnn_path is not None or m not in ev.NEEDS_CNN]  # all: every one the model can run
    method_list = list(dict.fromkeys(m for s in split for m in (every if s == "all" else [s])))
    needs_cnn = bool(ev.needs_cnn(method_list))
    if needs_cnn and cnn_path is None:
        raise GanfillError(
            f"{', '.join(ev.needs_cnn(method_list))} need a context encoder and "
            f"{model.path.name} has none beside it: give one with --cnn, or leave those methods out"
        )
    mask_list = [s.strip() for s in masks.split(",") if s.strip()]
    config = CompleteConfig(**given)
    # the command as it reproduces this run (every option spelled out), for the report
    words = [
        "ganfill",
        "evaluate",
        str(ckpt),
        str(data),
        "--out",
        str(out_dir),
        "--masks",
        ",".join(mask_list),
        "--methods",
        methods,
        *(["--cnn", str(cnn)] if cnn is not None else []),
        "-n",
        str(num_images),
        "--seed",
        str(seed),
        "--batch-size",
        str(batch_size),
        "--device",
        device,
        "--precision",
        precision,
    ]
    words += [] if face_detector is None else ["--face-detector" if face_detector else "--no-face-detector"]
    words += [] if judges == "all" else ["--judges", judges]
    words += [] if judge_seeds == 1 else ["--judge-seeds", str(judge_seeds)]
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        else:
            words += [flag, *map(str, value if isinstance(value, tuple) else (value,))]
    _, paths = ev.run(
        model,
        data,
        out_dir,
        num_images=num_images,
        masks=mask_list,
        methods=method_list,
        config=config,
        batch_size=batch_size,
        seed=seed,
        face_detector=face_detector,
        judges=None if judges == "all" else [s.strip() for s in judges.split(",") if s.strip()],
        judge_seeds=judge_seeds,
        figure_rows=figure_rows,
        runtime=runtime,
        progress=not quiet,
        command=shlex.join(words),
        cnn=cnn_path if needs_cnn else None,
    )
    click.echo(f"results: {paths['md']} (table), {paths['json']}, {paths['figure']}, {paths['tradeoff']}")


def _web():
    """ganfill.apps.web, or a clear error when Gradio (the `web` extra) is not installed."""
    import os

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before Gradio is imported
    try:
        from ganfill.apps import web
    except ModuleNotFoundError as e:
        if e.name and e.name.split(".")[0] == "gradio":
            raise GanfillError("the web app needs Gradio 6: pip install 'ganfill[web]'") from None
        raise
    return web


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (0.0.0.0: every interface)")
@_port_option
@click.option(
    "--models",
    "model_specs",
    multiple=True,
    help="a checkpoint to offer: NAME=PATH or PATH (run folder, checkpoint folder or .safetensors) "
    "or a shipped model's name; repeatable; shipped models are always offered, after these",
)
@click.option("--results", "results_dir", type=PATH, help="also show the Study tab over this output folder of `ganfill inpaint`")
@click.option("--db", type=PATH, help="the study's answers (default: RESULTS/study.sqlite3)")
@click.option("--originals", type=PATH, help="study: folder to find input files by name if they moved")
@click.option("--subject", default="face", show_default=True, help="what the study asks about: 'a real ...?'")
@click.option(
    "--concurrency", type=click.IntRange(1, 64), default=1, show_default=True, help="latent searches run at once; others queue"
)
@_runtime_options
def serve(host, port, model_specs, results_dir, db, originals, subject, concurrency, device, precision):
    """Serve the repair page in the browser (Gradio): upload, paint the hole, watch it fill."""
    web = _web()
    from ganfill.models import files as checkpoint

    given = {name: checkpoint.resolve(path) for name, path in web.parse_models(model_specs).items()}
    models = given | {name: path for name, path in web.shipped_models().items() if name not in given}  # given first
    if not models:
        raise GanfillError("no model to serve: give one with --models PATH (a run folder, checkpoint folder or .safetensors)")
    app = web.build_app(
        models,
        results_dir=results_dir,
        db=db,
        originals=originals,
        subject=subject,
        concurrency=concurrency,
        runtime=_runtime(device, precision),
    )
    web.launch(app, host=host, port=port, block=False, quiet=True)
    click.echo(f"serving {len(models)} model(s) on http://{host}:{port} (Ctrl+C to stop)")
    app.block_thread()


@cli.command()
@click.argument("results_dir", type=PATH)
@click.option("--host", default="127.0.0.1", show_default=True, help="address to bind (0.0.0.0: every interface)")
@_port_option
@click.option("--db", type=PATH, help="where answers are kept (default: RESULTS_DIR/study.sqlite3)")
@click.option("--originals", type=PATH, help="folder to find input files by name if they moved")
@click.option("--subject", default="face", show_default=True, help="what raters are asked about: 'a real ...?'")
def study(results_dir, host, port, db, originals, subject):
    """Rate repairs blind, as the paper's Table 2: originals and repairs of RESULTS_DIR, one at a time.

    Each rater sees every image once, either repaired or original (half each, at random); the
    answers are kept in SQLite and the running table is on the page.
    """
    from ganfill.apps import study as studies

    web = _web()
    pairs, skipped = studies.find_pairs(results_dir, originals=originals)
    for reason in skipped:
        click.echo(f"ganfill: warning: left out {reason}", err=True)
    app = web.build_app({}, results_dir=results_dir, db=db, originals=originals, subject=subject)
    web.launch(app, host=host, port=port, block=False, quiet=True)
    click.echo(f"study of {len(pairs)} image(s) on http://{host}:{port} (Ctrl+C to stop)")
    app.block_thread()
