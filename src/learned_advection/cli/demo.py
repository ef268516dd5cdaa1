"""``learned-advection demo``: classical schemes on the deformational flow (thin wrapper).

A placeholder until the learned model is part of the demo: runs upwind, Van Leer and PPM, prints a
table and writes a figure and ``report.md`` into the output folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from ..errors import UserError

FILES = ("report.md", "snapshots.png", "metrics.json")


def _prepare_folder(out: Path, overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise UserError(f"output path exists and is not a folder: {out}")
    existing = [name for name in FILES if (out / name).exists()]
    if existing and not overwrite:
        raise UserError(f"{out} already holds {', '.join(existing)} (use --overwrite to replace)")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create output folder {out}: {e.strerror or e}") from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"output folder is not writable: {out}")


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


@click.command("demo")
@click.option("--out", type=click.Path(path_type=Path), default=Path("learned-advection-demo"), help="Output folder.")
@click.option("--overwrite", is_flag=True, help="Replace the files of an earlier demo in the output folder.")
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def demo(out: Path, overwrite: bool, quiet: bool) -> None:
    """Upwind, Van Leer and PPM on the LeVeque deformational flow (64², T = 5); table, figure, report."""
    from .. import __version__, plots
    from ..experiments import deformation_demo as experiment

    _prepare_folder(out, overwrite)
    config = experiment.DemoConfig()
    if not quiet:
        click.echo(f"deformational flow, {config.n}x{config.n} cells, T = {config.period:g}, cosine bell; running "
                   f"{', '.join(config.schemes)} ...")
    result = experiment.run(config)
    figure = plots.snapshot_grid_2d(
        {r.scheme: r.snapshots for r in result.results},
        result.times,
        out / "snapshots.png",
        title=f"deformational flow, {config.n}² cells, dt = {result.dt:.4g}",
    )
    _write_text(out / "report.md", experiment.report_markdown(result, figure.name, __version__))
    metrics = {
        "grid": list(result.grid.shape), "dt": result.dt, "n_steps": result.n_steps, "period": config.period,
        "schemes": {r.scheme: {"l1_error": r.l1_error, "relative_l1_error": r.relative_l1_error,
                               "mass_change": r.mass_change, "min": r.minimum, "max": r.maximum,
                               "seconds": r.seconds} for r in result.results},
    }
    _write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    if not quiet:
        click.echo(f"dt = {result.dt:.6g}, {result.n_steps} steps; error at t = T against the initial condition:")
        click.echo(experiment.table(result))
        click.echo(f"wrote {out / 'report.md'}, {figure}, {out / 'metrics.json'}")


COMMANDS = [demo]
