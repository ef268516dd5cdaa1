"""``learned-advection stress TARGET``: a stepper on flows and tracers at its declared limits (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import click

# evaluation.stress.FLOWS and TRACERS, written out so that --help does not import jax (a test compares them)
FLOWS = "random,cellular,shear,vortex,deformation,unsteady"
TRACERS = "smooth,blobs,block,filaments"


@click.command("stress", short_help="Blow-up check of a step at its declared limits.")
@click.argument("target")
@click.option(
    "--variants",
    default=None,
    help="Learned models only: comma-separated variants, as evaluate: plain (the model as shipped, with its "
    "limiter), unguarded (no limiter), safeguard, fct, d4, d4+fct, bf16. [default: plain]",
)
@click.option("--steps", type=int, default=4096, show_default=True, help="Steps of every run.")
@click.option("--flows", default=FLOWS, show_default=True, help="Flows, comma-separated.")
@click.option("--tracers", default=TRACERS, show_default=True, help="Tracers, comma-separated.")
@click.option(
    "--courant-fraction",
    type=float,
    default=1.0,
    show_default=True,
    help="Run at this fraction, in (0, 1], of each stepper's Courant limit (the deformation cap stays).",
)
@click.option(
    "--factor",
    type=int,
    default=2,
    show_default=True,
    help="Resolution of the reference (PPM) over the run's grid, 2 to 8.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write stress.json, stress.csv and stress.md to this folder (created; refused when not empty).",
)
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty --out folder.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def stress(target, variants, steps, flows, tracers, courant_fraction, factor, out, overwrite, quiet) -> None:
    """Run TARGET on every flow and tracer of the stress suite, each flow scaled to TARGET's declared Courant and
    deformation limits, and check that 1.5 times those limits is refused.

    TARGET is a learned model (pretrained, pretrained:NAME or a checkpoint folder) or a classical step spelled as
    in `cost turbulence-2d`, NAME[-N][-kK][-unbounded]: K times the Courant-0.5 step on N² cells (ppm-k8: PPM's
    bounded large step at Courant 4; ppm-k8-unbounded: without FCT). Prints a table and a summary line; a
    blow-up is reported, not an error (exit 0).
    """
    from learned_advection.errors import parse_names
    from learned_advection.evaluation import stress as st
    from learned_advection.experiments.common import check_output_folder

    flows = parse_names(flows, st.FLOWS, "flow")
    tracers = parse_names(tracers, st.TRACERS, "tracer")
    run = st.load_target(target, variants)
    if out is not None:
        check_output_folder(out, overwrite, st.OUTPUTS)  # written only once the results are in
    result = st.stress_suite(
        run.steppers,
        run.grid,
        run.dt,
        flows=flows,
        tracers=tracers,
        n_steps=steps,
        factor=factor,
        courant_fraction=courant_fraction,
        progress=not quiet,
    )
    result["target"] = run.description
    click.echo(f"{run.description}\n")
    click.echo(st.format_table(result), nl=False)
    if out is not None:
        st.write_outputs(out, result)
        click.echo(f"wrote {Path(out) / 'stress.md'}, stress.json, stress.csv")


COMMANDS = [stress]
