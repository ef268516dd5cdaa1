"""A grid split over devices against one device (``bench --shard``): time per step and the largest
difference of the results, by halo exchange and by SPMD placement alone."""

from __future__ import annotations

import statistics

import jax
import numpy as np

from learned_advection.evaluation.machine import environment
from learned_advection.evaluation.scheme_bench import bench_problem
from learned_advection.evaluation.timing import time_calls
from learned_advection.numerics import schemes


def bench_sharded(n: int = 1024, n_steps: int = 20, repeats: int = 3, scheme: str = "vanleer") -> dict:
    """A 2-D run on a grid split over all ``jax.devices()`` against the same run on one device.

    Time per step (median of ``repeats`` jitted rollouts, velocity a runtime input) and the largest
    difference of the final state, for the halo exchange
    (:func:`~learned_advection.numerics.sharding.sharded`) and for SPMD placement alone (the inputs
    placed on the mesh, the plain stepper; XLA makes the halos).  On a CPU,
    ``learned-advection bench --shard --cpu-devices 4`` splits the host into 4 devices.

    Parameters
    ----------
    n : int, default 1024
        Cells per axis.
    n_steps : int, default 20
        Steps per run.
    repeats : int, default 3
        Timed runs per case.
    scheme : str, default "vanleer"
        A scheme's name.

    Returns
    -------
    dict
        The report (JSON-ready).
    """
    from learned_advection.numerics.rollout import rollout
    from learned_advection.numerics.sharding import grid_mesh, shard_fields, sharded

    grid, c0, velocity, dt = bench_problem(2, n)
    stepper = schemes.scheme(scheme)
    mesh = grid_mesh(grid.shape)
    cases = [
        ("one device", stepper, jax.device_put((c0, tuple(velocity)), jax.devices()[0])),
        ("halo exchange", sharded(stepper, mesh), shard_fields((c0, tuple(velocity)), mesh)),
        ("SPMD placement", stepper, shard_fields((c0, tuple(velocity)), mesh)),
    ]
    records, reference = [], None
    for name, step, (c, vel) in cases:
        run = jax.jit(lambda c, *v, s=step: rollout(s, c, v, dt, grid.spacing, n_steps, save_every=n_steps)[-1])
        final = np.asarray(run(c, *vel))
        if reference is None:
            reference = final
        times = time_calls(run, (c, *vel), repeats)
        records.append(
            {
                "case": name,
                "devices": 1 if name == "one device" else mesh.size,
                "halo": getattr(step, "halo", None),
                "ms_per_step": 1e3 * statistics.median(times) / n_steps,
                "max_abs_diff": float(np.max(np.abs(final - reference))),
            }
        )
    return {
        "environment": environment(),
        "scheme": scheme,
        "n": n,
        "n_steps": n_steps,
        "repeats": repeats,
        "mesh": dict(mesh.shape),
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
    rows = [
        f"{report['scheme']} {report['n']}^2, {report['n_steps']} steps, {report['environment']['backend']}, "
        f"mesh {mesh} of {len(report['environment']['devices'])} devices (max |C| {report['max_abs_state']:.3g}):"
    ]
    for r in report["records"]:
        rows.append(
            f"  {r['case']:<15} {r['devices']} device(s): {r['ms_per_step']:9.3f} ms/step, "
            f"max |difference| from one device {r['max_abs_diff']:.3g}"
        )
    return "\n".join(rows)
