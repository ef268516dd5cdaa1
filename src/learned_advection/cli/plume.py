"""``reproduce plume``: thin wrapper around experiments.plume (a regional domain's worked case)."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.cli._common import log, reproduce, reproducible_command_line


@reproduce.command("plume", short_help="A plume in a meandering channel: walls, inflow, outflow, a source.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/plume"), help="Output folder.")
@click.option("--quick", is_flag=True, help="The demo's size: 32² against PPM at 128², three runs.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def plume(out, quick, overwrite, quiet) -> None:
    """Every classical scheme at 32² and 64² (and the large steps of Van Leer and PPM, bounded) on a regional
    domain -- walls at y = 0 and 1, a time-dependent inflow at x = 0, outflow at x = 1, a Gaussian source --
    against PPM at 256² coarse-grained, with each run's mass budget."""
    from learned_advection.experiments import plume as exp
    from learned_advection.experiments.common import prepare_output

    prepare_output(out, overwrite, exp.OUTPUTS)
    config = exp.QUICK if quick else exp.PlumeConfig()
    say = (lambda *a: None) if quiet else log
    m = exp.reproduce(
        out,
        config,
        reproducible_command_line(),
        progress=lambda label, r: say(f"{label}: {r['seconds']:.1f} s"),
    )
    click.echo(exp.table(m["runs"]))
    click.echo(f"results in {out}")


COMMANDS: list = []  # the ``reproduce`` group is registered by cli/learned.py
