"""``reproduce deformation-2d``: thin wrapper around experiments.deformation_2d."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.cli._common import log, reproduce, reproducible_command_line


@reproduce.command("deformation-2d", short_help="2-D deformational flow (paper Sec. III B, Figs. 5-6).")
@click.option("--preset", type=click.Choice(["smoke", "cpu", "paper"]), default="cpu", help="Size of the run.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/deformation-2d"), help="Output folder.")
@click.option(
    "--train-seed",
    "--seed",
    "train_seed",
    type=int,
    default=None,
    help="Seed of the training data, initialisation and batch order [0].",
)
@click.option("--resume", is_flag=True, help="Continue training from OUT/model/last.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def deformation_2d(preset, out, train_seed, resume, overwrite, quiet) -> None:
    """2-D deformational flow (paper Sec. III B, Figs. 5-6); the model is trained on random flows only."""
    from learned_advection.experiments import deformation_2d as exp

    m = exp.run(
        preset,
        out,
        overwrite=overwrite,
        quiet=quiet,
        command=reproducible_command_line(),
        train_seed=train_seed,
        log=log,
        resume=resume,
    )
    click.echo(f"{'method':<14}{'l1 @T':>10}{'l1 per period':>28}{'mass err':>10}{'min':>8}{'max':>8}")
    for name, r in m["methods"].items():
        per = " ".join(f"{v:.4f}" for v in r["l1_error_vs_initial"]["periods"])
        click.echo(
            f"{name:<14}{r['l1_error_vs_initial']['T']:>10.4f}{per:>28}{r['mass_error']:>10.1e}"
            f"{r['min']:>8.3f}{r['max']:>8.3f}"
        )
    ratio = exp.learned_over_vanleer(m)
    if ratio is not None:
        click.echo(f"learned-{m['n']} / vanleer-{m['n']} l1 at T: {ratio:.2f}")
    click.echo(f"results in {out}")


COMMANDS: list = []  # the ``reproduce`` group is registered by cli/learned.py
