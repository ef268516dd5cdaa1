"""``learned-advection bench``: time the schemes (thin wrapper around :mod:`learned_advection.benchmarks`)."""

from __future__ import annotations

import json

import click


@click.command("bench")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--quick", is_flag=True, help="Fewer sizes, steps and repeats (a few seconds).")
@click.option("--x64", is_flag=True, help="Time float64 instead of float32.")
def bench(as_json: bool, quick: bool, x64: bool) -> None:
    """Microseconds per step and million cell updates per second for each scheme (median of jitted runs)."""
    from ..precision import use_x64

    if x64:
        use_x64()  # before any array is created
    from .. import benchmarks

    progress = None
    if not as_json:
        def progress(r):
            click.echo(f"  {r.implementation} {r.scheme} {r.ndim}-D n={r.n}: {r.us_per_step:.1f} us/step", err=True)
    report = benchmarks.run(quick=quick, progress=progress)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(benchmarks.format_table(report))


COMMANDS = [bench]
