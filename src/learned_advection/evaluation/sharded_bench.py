"""A grid split over devices against one device (``bench --shard``): time per step and the largest
difference of the results, by halo exchange and by SPMD placement alone."""

from __future__ import annotations

import math
import statistics

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.evaluation.machine import environment
from learned_advection.evaluation.scheme_bench import bench_problem
from learned_advection.evaluation.timing import time_calls
from learned_advection.numerics import schemes

MAX_SHARD_TRACERS = 16  # bench --shard --tracers: 16 tracers of 1024^2 are 64 MiB a copy, several copies a case


def mesh_grid(n: int, n_devices: int) -> int:
    """The cells per axis nearest ``n`` (at least one cell per device) that the layout of ``n_devices``
    (:func:`~learned_advection.numerics.sharding.mesh_shape`) divides along both axes.

    Parameters
    ----------
    n : int
        The cells per axis wanted.
    n_devices : int
        The devices of the mesh.

    Returns
    -------
    int
        A multiple of the least common multiple of the layout's two sizes.
    """
    from learned_advection.numerics.sharding import mesh_shape

    step = math.lcm(*mesh_shape(n_devices, 2))
    return max(step, step * round(n / step))


def bench_sharded(
    n: int = 1024, n_steps: int = 20, repeats: int = 3, scheme: str = "vanleer", tracers: int | None = None
) -> dict:
    """A 2-D run on a grid split over all ``jax.devices()`` against the same run on one device.

    Time per step (median of ``repeats`` jitted rollouts, velocity a runtime input) and the largest
    difference of the final state, for the halo exchange
    (:func:`~learned_advection.numerics.sharding.sharded`) and for SPMD placement alone (the inputs
    placed on the mesh, the plain stepper; XLA makes the halos).  The grid is the one nearest ``n`` cells
    per axis that the devices' layout divides (:func:`mesh_grid`: 1023^2 on 3 devices), and the mesh the
    largest that grid can use (:func:`~learned_advection.numerics.sharding.usable_mesh`: all the devices,
    unless the blocks would be narrower than the scheme's halo).  On a CPU,
    ``learned-advection bench --shard --cpu-devices 4`` splits the host into 4 devices.

    Parameters
    ----------
    n : int, default 1024
        Cells per axis wanted.
    n_steps : int, default 20
        Steps per run.
    repeats : int, default 3
        Timed runs per case.
    scheme : str, default "vanleer"
        A scheme's name.
    tracers : int, optional
        A batch of this many tracers in one run (``jax.vmap`` over the rollout; the tracer axis whole on every
        device), 1 to :data:`MAX_SHARD_TRACERS`; default a single field.

    Returns
    -------
    dict
        The report (JSON-ready): ``n`` the cells per axis run, ``n_wanted`` those asked for, ``mesh`` and
        ``mesh_note`` (why fewer devices than all, or ``None``).

    Raises
    ------
    UserError
        ``tracers`` out of range.
    """
    from learned_advection.numerics.rollout import rollout
    from learned_advection.numerics.sharding import shard_fields, sharded, usable_mesh

    if tracers is not None and not 1 <= tracers <= MAX_SHARD_TRACERS:
        raise UserError(f"--tracers with --shard must be from 1 to {MAX_SHARD_TRACERS}, got {tracers}")
    devices = jax.devices()
    size = mesh_grid(n, len(devices))
    grid, c0, velocity, dt = bench_problem(2, size)
    if tracers is not None:  # the blob moved along x for each tracer
        c0 = jnp.stack([jnp.roll(c0, k * size // tracers, axis=1) for k in range(tracers)])
    stepper = schemes.scheme(scheme)
    mesh, note = usable_mesh(grid.shape, stepper.reach, devices, scheme)
    velocity = tuple(velocity)
    cases = [
        ("one device", stepper, jax.device_put((c0, velocity), devices[0])),
        ("halo exchange", sharded(stepper, mesh), shard_fields((c0, velocity), mesh)),
        ("SPMD placement", stepper, shard_fields((c0, velocity), mesh)),
    ]
    records, reference = [], None
    for name, step, (c, vel) in cases:

        def final(c, *v, s=step):
            return rollout(s, c, v, dt, grid.spacing, n_steps, save_every=n_steps)[-1]

        run = jax.jit(final if tracers is None else jax.vmap(final, in_axes=(0, *[None] * len(vel))))
        result = np.asarray(run(c, *vel))
        if reference is None:
            reference = result
        times = time_calls(run, (c, *vel), repeats)
        records.append(
            {
                "case": name,
                "devices": 1 if name == "one device" else mesh.size,
                "halo": getattr(step, "halo", None),
                "ms_per_step": 1e3 * statistics.median(times) / n_steps,
                "max_abs_diff": float(np.max(np.abs(result - reference))),
            }
        )
    return {
        "environment": environment(),
        "scheme": scheme,
        "n": size,
        "n_wanted": n,
        "n_steps": n_steps,
        "repeats": repeats,
        "tracers": tracers,
        "mesh": dict(mesh.shape),
        "mesh_note": note,
        "max_abs_state": float(np.max(np.abs(reference))),
        "records": records,
    }


def format_sharded(report: dict) -> str:
    """:func:`bench_sharded`'s report as a few lines of text.

    Parameters
    ----------
    report : dict
        The report.

    Returns
    -------
    str
    """
    mesh = " x ".join(f"{k} ({a})" for a, k in report["mesh"].items())
    tracers = "" if report.get("tracers") is None else f" x {report['tracers']} tracers"
    rows = [
        f"{report['scheme']} {report['n']}^2{tracers}, {report['n_steps']} steps, {report['environment']['backend']}, "
        f"mesh {mesh} of {len(report['environment']['devices'])} devices (max |C| {report['max_abs_state']:.3g}):"
    ]
    for r in report["records"]:
        rows.append(
            f"  {r['case']:<15} {r['devices']} device(s): {r['ms_per_step']:9.3f} ms/step, "
            f"max |difference| from one device {r['max_abs_diff']:.3g}"
        )
    return "\n".join(rows)
