"""``learned-advection report DIR``: rebuild a run's report.md from its saved metrics.json."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--quiet", is_flag=True, help="Print nothing on success.")
def report(folder: Path, quiet: bool) -> None:
    """Rewrite FOLDER/report.md from FOLDER/metrics.json (any experiment's output folder, or the demo's)."""
    from learned_advection.experiments.reports import rebuild

    path = rebuild(folder)
    if not quiet:
        click.echo(f"wrote {path}")


COMMANDS = [report]
