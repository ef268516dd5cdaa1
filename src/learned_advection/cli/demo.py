"""``learned-advection demo``: the main job on embedded defaults (thin wrapper over experiments.demo)."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.cli._common import data_dir_option, data_dir_or_default, log, reproducible_command_line


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("learned-advection-demo"),
    show_default=True,
    help="Output folder.",
)
@data_dir_option
@click.option(
    "--quick",
    is_flag=True,
    help="Pipeline check in well under a minute after the data are cached (smoke-sized 1-D part, 8 turbulence "
    "steps on one seed); the numbers mean nothing.",
)
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier demo in the output folder.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
def demo(out: Path, data_dir, quick: bool, overwrite: bool, quiet: bool) -> None:
    """1-D experiment end to end, the shipped 2-D turbulence model vs Van Leer 32/64/128, and the deformational flow.

    Writes report.md (with figures and a GIF) and metrics.json into OUT and prints a results table.
    """
    from learned_advection.experiments import demo as experiment

    settings = experiment.QUICK if quick else experiment.DemoSettings()
    metrics = experiment.run(
        out,
        data_dir_or_default(data_dir),
        settings,
        overwrite=overwrite,
        quiet=quiet,
        command=reproducible_command_line(),
        log=log,
    )
    if not quiet:
        click.echo(experiment.table(metrics))
        click.echo(f"wrote {out / 'report.md'} ({metrics['seconds_total']:.0f} s)")


COMMANDS = [demo]
