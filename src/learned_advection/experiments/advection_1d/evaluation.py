"""Rollouts of every method on test data, their error curves and summaries (``evaluate_checkpoint``)."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from learned_advection.data.netcdf import read_reference
from learned_advection.data.reference import Setup1D, Trajectories, make_test_set_1d
from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import mae_per_step, mean_over_steps
from learned_advection.experiments.advection_1d.presets import BUILTIN, PRESETS
from learned_advection.numerics import schemes
from learned_advection.numerics.rollout import batched_rollout


def rollouts(stepper, data: Trajectories, n_steps: int) -> np.ndarray:
    """``stepper`` rolled out ``n_steps`` steps from every initial state of ``data``: ``(sample, n_steps + 1, *space)``.

    Parameters
    ----------
    stepper : Stepper
        A classical scheme or a learned model.
    data : Trajectories
        Initial states, velocities, step and grid.
    n_steps : int
        Steps to run; at most ``data.n_steps`` for a time-dependent velocity.
    """
    vel = tuple(jnp.asarray(u[:, :n_steps] if data.time_dependent_velocity else u) for u in data.velocity)
    c0 = jnp.asarray(data.states[:, 0])
    return np.asarray(
        eqx.filter_jit(batched_rollout)(stepper, c0, vel, float(data.dt), tuple(data.grid.spacing), n_steps)
    )


def _curves(preds: dict[str, np.ndarray], ref: np.ndarray, ndim: int = 1) -> dict[str, dict]:
    steps = list(range(ref.shape[1]))
    return {name: {"step": steps, "mae": [float(v) for v in mae_per_step(p, ref, ndim)]} for name, p in preds.items()}


def evaluate_checkpoint(
    model_path, source: str = BUILTIN, test_seeds=None, n_steps: int = 256, shape: str = "square"
) -> dict:
    """``learned-advection evaluate`` without an experiment: upwind, Van Leer, WENO5-Z and a checkpoint's model
    against a reference, at the reference's resolution.

    ``source``: ``"builtin-1d"`` (one ``shape`` test sample per seed, default the ``cpu`` preset's test
    seeds) or a reference netCDF file.  At most the reference's length is evaluated.  Returns
    ``{"steps": n, "methods": {name: {"step": [...], "mae": [...]}}}`` (MAE per step over samples and space).

    Parameters
    ----------
    model_path : str or os.PathLike
        Checkpoint folder or ``"pretrained"`` name of a model for the reference's grid and step.
    source : str, default "builtin-1d"
        ``"builtin-1d"`` or the path of a reference netCDF file.
    test_seeds : sequence of int, optional
        Seeds of the built-in test samples; ``None`` (default) uses the ``cpu`` preset's.
    n_steps : int, default 256
        Steps to evaluate (capped at the reference's length).
    shape : {"square", "gaussian"}, default "square"
        Initial shape of the built-in test samples.

    Raises
    ------
    UserError
        If the checkpoint does not fit the reference's grid or step, or the reference has no steps.
    """
    from learned_advection.learned.checkpoint import load_stepper

    if source == BUILTIN:
        first, last = PRESETS["cpu"].default_test_seeds
        seeds = list(range(first, last + 1)) if test_seeds is None else list(test_seeds)
        data = make_test_set_1d(seeds, Setup1D(), n_steps, shape)
    else:
        data = read_reference(source)
    n_steps = min(n_steps, data.n_steps)
    if n_steps < 1:
        raise UserError("the reference has no time steps to evaluate")
    learned = load_stepper(model_path, data.grid)
    learned(
        jnp.asarray(data.states[0, 0]),
        tuple(jnp.asarray(u[0] if u.ndim == data.states.ndim - 1 else u[0, 0]) for u in data.velocity),
        data.dt,
        data.grid.spacing,
    )  # validates dt
    n = data.grid.shape[0]
    methods = {
        f"upwind-{n}": schemes.scheme("upwind"),
        f"vanleer-{n}": schemes.scheme("vanleer"),
        f"weno5z-{n}": schemes.scheme("weno5z"),
        f"learned-{n}": learned,
    }
    preds = {name: rollouts(stepper, data, n_steps) for name, stepper in methods.items()}
    return {"steps": n_steps, "methods": _curves(preds, data.states[:, : n_steps + 1], data.grid.ndim)}


def _summary(curves: dict[str, dict], last: int, learned: str) -> dict:
    means = {name: mean_over_steps(c["mae"], 1, last) for name, c in curves.items()}
    out = {f"mean_mae_steps_1_{last}": means}
    if "vanleer-32" in means and learned in means:
        out["ratio_vanleer_over_learned"] = means["vanleer-32"] / means[learned]
    return out
