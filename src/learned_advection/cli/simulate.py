"""``learned-advection simulate``: read a problem, run a scheme, write the trajectory (thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

# numerics.schemes.SCHEMES and "learned", written out so that --help does not import jax (a test compares them)
SCHEME_CHOICES = ["upwind", "vanleer", "ppm", "weno5z", "learned"]


@click.command("simulate")
@click.argument("input_path", metavar="INPUT.nc", type=click.Path(path_type=Path))
@click.argument("output_path", metavar="OUTPUT.nc", type=click.Path(path_type=Path))
@click.option("--scheme", type=click.Choice(SCHEME_CHOICES), required=True, help="Advection scheme.")
@click.option("--steps", "n_steps", type=int, required=True, help="Number of time steps (at most 2^53).")
@click.option(
    "--dt",
    type=float,
    default=None,
    help="Time step. Its Courant number (max |u| dt / dx over the run) may be up to 4 for upwind, vanleer and ppm "
    "(above 1 they take the flux-form semi-Lagrangian large step), 0.7 for weno5z, and a learned model's own "
    "max_courant; beyond them a run is refused, or sub-stepped under --limits substep.",
)
@click.option(
    "--cfl",
    type=float,
    default=None,
    help="Courant number, within the limits of --dt; dt = cfl * dx / max|u| over the run.",
)
@click.option(
    "--limits",
    type=click.Choice(["refuse", "substep"]),
    default="refuse",
    show_default=True,
    help="A step beyond the scheme's limits (its Courant number, and for an unbounded large step its "
    "deformation number max |du| dt / dx): refuse runs what was asked exactly or not at all; substep takes "
    "each step of a classical scheme as the fewest equal sub-steps within the limits (the saved times do not "
    "change; any --cfl or --dt). A learned model takes no sub-steps.",
)
@click.option("--save-every", type=int, default=1, help="Save every K-th state (STEPS must be a multiple of K).")
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Checkpoint folder for --scheme learned, or 'pretrained' (the shipped 32² turbulence model).",
)
@click.option("--x64", is_flag=True, help="Compute in float64.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUTPUT.nc.")
@click.option(
    "--quiet",
    is_flag=True,
    help="Print nothing on success but the note of a --shard run on fewer devices than JAX has.",
)
@click.option(
    "--shard",
    is_flag=True,
    help="Split the grid over all JAX devices (a mesh over y and x; over x in 1-D); the same results as on one "
    "device, to round-off. A grid the devices do not divide, or blocks narrower than the halo a step reads, "
    "runs on the largest mesh that fits (fewer devices, one axis, or one device) with a one-line note on "
    "stderr, kept under --quiet since the run then uses fewer devices than asked.",
)
def simulate(
    input_path, output_path, scheme, n_steps, dt, cfl, limits, save_every, model, x64, overwrite, quiet, shard
) -> None:
    """Advect the tracers in INPUT.nc and write the trajectory to OUTPUT.nc.

    INPUT.nc holds the tracers: `concentration` and every other variable with dims (x) or (y, x), or
    with a leading `tracer` dim, all advected by the same flow in one batched run, each written under
    its own name with its attributes; `x_velocity` (and `y_velocity`) on + faces, constant, or with
    a leading `time` dim (one field per step), or with a leading `velocity_time` dim and coordinate
    (fields at those times, interpolated linearly to each step's midpoint; the run starts at t = 0
    and must lie within them); and cell-centre coordinates.
    The saved states are written as they are computed (a progress bar shows the steps); Ctrl-C stops
    within about a second and leaves no output.  A run whose output would not fit on the disk, or
    that would not fit in memory, is refused before it starts.  The summary gives the mass change of
    each tracer.

    A regional domain (global attributes `x_boundary`, `y_boundary`: `wall`, `open` or `LOW HIGH`):
    along a non-periodic axis the velocity of that axis has the dim `x_face` (`y_face`) of n + 1
    faces, zero on walls; every tracer needs its value at each open side
    (`<tracer>_<axis>_<low|high>`, constant, a profile along the side, or at `boundary_time`s), and
    may have an emission rate `<tracer>_source` (these are not tracers).  The output and the summary
    then give each tracer's mass budget (inflow, outflow, emitted, change).  See docs/netcdf.md.
    """
    from learned_advection.numerics.precision import use_x64

    if x64:
        use_x64()  # before any array is created
    from learned_advection import transport
    from learned_advection.cli._common import command_line
    from learned_advection.data import netcdf as io
    from learned_advection.evaluation.metrics import mass_change
    from learned_advection.files import check_output_path

    check_output_path(output_path, overwrite, inputs=[input_path])
    dtype = np.float64 if x64 else np.float32  # the run's dtype: inputs are validated in it
    problem = io.read_problem(input_path, dtype=dtype)
    learned = transport.get_stepper(scheme, problem, model) if scheme == "learned" else None
    supported = None if learned is None else float(learned.config.max_courant)  # a large-step model's reach
    run = transport.plan(
        problem,
        n_steps,
        dt=dt,
        cfl=cfl,
        save_every=save_every,
        scheme=scheme,
        dtype=dtype,
        supported=supported,
        limits=limits,
        stepper=learned,
    )
    # a classical scheme for the Courant number of one sub-step (the run's own without sub-steps)
    step = learned if learned is not None else transport.get_stepper(scheme, problem, model, run.courant / run.substeps)
    if shard:
        step = _shard(step, problem.grid.shape, f"{scheme} at Courant {run.courant / run.substeps:.3g}", quiet)
    done = transport.simulate_to_file(
        problem,
        step,
        run,
        output_path,  # checked again: still valid after loading
        scheme=scheme,
        overwrite=overwrite,
        units=problem.units,
        attrs={"input_file": str(input_path), **({"model": str(model)} if model is not None else {})},
        command=command_line(),
        inputs=[input_path],
        progress=not quiet,
    )
    final = done.final
    if not quiet:
        change = mass_change(np.asarray(final, np.float64), np.asarray(done.initial, np.float64), problem.grid.ndim)
        cells = "x".join(map(str, problem.grid.shape))
        if problem.batched:
            where = f"{problem.n_tracers} tracers of {cells} cells"
            masses = ", ".join(f"{name} {float(m):.2e}" for name, m in zip(problem.tracer_names, np.ravel(change)))
            mass = f"mass change per tracer (relative to its sum |C0|): {masses}"
        else:
            where, mass = f"{cells} cells", f"mass change {float(change):.2e} (relative to sum |C0|)"
        if done.budget is not None:  # a regional run: the mass changes by what crossed the sides or was emitted
            mass = _budget_text(problem, done.budget)
        each = f", {done.substeps} sub-steps each" if done.substeps > 1 else ""
        click.echo(
            f"{scheme}: {run.n_steps} steps of dt = {run.dt:.6g} (Courant {run.courant:.3g}{each}) on "
            f"{where} in {done.seconds:.2f} s; "
            f"t = {done.final_time:.6g}{' ' + problem.time_unit if problem.time_unit else ''}, "
            f"min {final.min():.4g}, max {final.max():.4g}, "
            f"{mass}; wrote {output_path}"
        )


def _budget_text(problem, budget) -> str:
    """The mass budget of a regional run for the summary: per tracer, what entered, left and was emitted, and
    the residual ``change - (emitted + inflow - outflow)``."""
    parts = []
    for i, name in enumerate(problem.tracer_names):
        who = f"{name}: " if problem.batched else ""
        parts.append(
            f"{who}change {budget['change'][i]:.6g}, inflow {budget['inflow'][i]:.6g}, outflow "
            f"{budget['outflow'][i]:.6g}, emitted {budget['emitted'][i]:.6g}, residual {budget['residual'][i]:.2e}"
        )
    return "mass (sum(c) * cell volume) " + "; ".join(parts) + " (residual: change - (emitted + inflow - outflow))"


def _shard(step, shape, who: str, quiet: bool):
    """``step`` on the largest mesh of JAX's devices the grid can use (the plain step on one device), with a
    note on stderr when that is fewer devices than JAX has (also under ``quiet``) or JAX has only one (not
    under ``quiet``: the run is then what was asked)."""
    import jax

    from learned_advection.numerics.sharding import sharded, usable_mesh

    devices = jax.devices()
    mesh, reason = usable_mesh(shape, step.reach, devices, who)
    if reason is not None:
        click.echo(f"--shard: {reason}", err=True)
    elif len(devices) == 1 and not quiet:
        click.echo(f"--shard: JAX has only 1 device ({devices[0].platform}); running unsharded", err=True)
    return step if mesh.size == 1 else sharded(step, mesh)


COMMANDS = [simulate]
