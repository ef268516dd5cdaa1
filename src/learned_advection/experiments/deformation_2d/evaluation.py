"""The deformational test: every method at its resolutions, its metrics, and :func:`evaluate`."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.evaluation.metrics import entropy, mae_per_sample, mass_change, relative_l1
from learned_advection.experiments.deformation_2d.grids import test_grid
from learned_advection.experiments.deformation_2d.presets import CENTRE, PERIOD, RADIUS, Preset
from learned_advection.flows import velocity as vel_mod
from learned_advection.flows.tracers import cosine_bell
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import coarsen_concentration
from learned_advection.numerics.rollout import coarse_grained_rollout


def run_deformation(step, c0, preset: Preset, factor: int, n_coarse: int) -> np.ndarray:
    """Solve the deformational flow with ``step`` at ``factor`` x the test resolution.

    ``factor`` sub-steps of ``dt / factor`` per coarse step, each with the velocity at its own midpoint
    (:func:`~learned_advection.numerics.rollout.coarse_grained_rollout`; times from integer step counts).  Returns the states
    coarse-grained to the test grid every ``save_every`` coarse steps: ``(n_coarse / save_every + 1, n, n)``.

    Parameters
    ----------
    step : Stepper
        A classical scheme or a learned model.
    c0 : array
        Initial state on the refined grid, ``(test_n * factor, test_n * factor)``.
    preset : Preset
        Test grid, step and ``save_every``.
    factor : int
        Resolution factor of the solver (and sub-steps per coarse step).
    n_coarse : int
        Coarse steps to run; a multiple of ``save_every``.
    """
    grid = test_grid(preset, factor)
    velocity = vel_mod.deformational(grid, PERIOD)
    solve = jax.jit(
        lambda c: coarse_grained_rollout(
            step, c, velocity, preset.dt, grid.spacing, n_coarse, factor, preset.save_every
        )
    )
    return np.asarray(solve(jnp.asarray(c0, jnp.result_type(float))))


def methods_to_run(preset: Preset) -> list[tuple[str, str, int]]:
    """The methods of the test: upwind, Van Leer, PPM, WENO5-Z and the learned model at ``test_n``, Van Leer at 2x and 4x.

    Parameters
    ----------
    preset : Preset
        Supplies ``test_n``.

    Returns
    -------
    list of tuple
        ``(label, scheme, factor)``; the scheme ``"learned"`` stands for the trained model.
    """
    n = preset.test_n
    return [
        (f"upwind-{n}", "upwind", 1),
        (f"vanleer-{n}", "vanleer", 1),
        (f"ppm-{n}", "ppm", 1),
        (f"weno5z-{n}", "weno5z", 1),
        (f"learned-{n}", "learned", 1),
        (f"vanleer-{2 * n}", "vanleer", 2),
        (f"vanleer-{4 * n}", "vanleer", 4),
    ]


def method_metrics(traj: np.ndarray, initial: np.ndarray, preset: Preset) -> dict:
    """Errors against the initial state (= exact solution at t = nT), entropy, mass, extrema.

    Parameters
    ----------
    traj : numpy.ndarray
        Saved states of one method, ``(time, y, x)``, every ``save_every`` coarse steps.
    initial : numpy.ndarray
        Initial state on the test grid, ``(y, x)``.
    preset : Preset
        Step, ``save_every``, period length and number of periods.

    Returns
    -------
    dict
        ``step``, ``time``, ``entropy`` (per saved state); ``l1_error_vs_initial`` and ``mae_vs_initial`` (each
        ``T`` and ``periods``: the value at the end of every period); ``mass_error``, ``min``, ``max``, ``finite``.
    """
    traj = np.asarray(traj, np.float64)
    initial = np.asarray(initial, np.float64)
    steps = [k * preset.save_every for k in range(traj.shape[0])]
    per_period = preset.steps_per_period // preset.save_every
    finite = bool(np.all(np.isfinite(traj)))
    l1 = relative_l1(traj, initial)  # normalised l1 error, sum |C - C0| / sum |C0|, per saved state
    mae = mae_per_sample(traj, initial)
    ends = [p * per_period for p in range(1, preset.periods + 1)]
    return {
        "step": steps,
        "time": [s * preset.dt for s in steps],
        "l1_error_vs_initial": {"T": float(l1[per_period]), "periods": [float(l1[k]) for k in ends]},
        "mae_vs_initial": {"T": float(mae[per_period]), "periods": [float(mae[k]) for k in ends]},
        "entropy": [float(s) for s in entropy(np.nan_to_num(traj), initial)],
        "mass_error": float(np.max(np.abs(mass_change(traj, initial)))),
        "min": float(np.nanmin(traj)),
        "max": float(np.nanmax(traj)),
        "finite": finite,
    }


def evaluate(model, preset: Preset, progress: bool = True, log=None) -> dict:
    """Every method on the deformational flow for ``preset.periods`` periods; metrics and trajectories.

    Parameters
    ----------
    model : LearnedModel or None
        The learned model at ``test_n``; ``None`` runs only the classical methods.
    preset : Preset
        Test settings.
    progress : bool, default True
        Together with ``log``: report each method's time.
    log : Callable, optional
        Receives one line per method.

    Returns
    -------
    dict
        ``methods`` (label -> :func:`method_metrics` plus ``seconds``), and the private ``_trajectories``
        (label -> ``(time, y, x)``) and ``_initial`` entries.
    """
    n_coarse = preset.periods * preset.steps_per_period
    finest = max(f for _, _, f in methods_to_run(preset))
    c_fine = cosine_bell(test_grid(preset, finest), CENTRE, RADIUS, sub=4)  # cell averages
    initial = np.asarray(coarsen_concentration(jnp.asarray(c_fine), finest, 2)) if finest > 1 else c_fine
    trajs, seconds = {}, {}
    for name, scheme, factor in methods_to_run(preset):
        if scheme == "learned":
            if model is None:
                continue
            step = model
        else:
            step = schemes.scheme(scheme)
        c0 = np.asarray(coarsen_concentration(jnp.asarray(c_fine), finest // factor, 2)) if finest > factor else c_fine
        t0 = time.perf_counter()
        trajs[name] = run_deformation(step, c0, preset, factor, n_coarse)
        seconds[name] = time.perf_counter() - t0
        if log and progress:
            log(f"  {name}: {seconds[name]:.1f} s")
    methods = {name: {**method_metrics(t, initial, preset), "seconds": seconds[name]} for name, t in trajs.items()}
    return {"methods": methods, "_trajectories": trajs, "_initial": initial}


def entropy_after_half_period(m: dict, preset: Preset) -> dict:
    """Entropy at T/2 and T (first period) and whether it falls in between (the paper's Fig. 6 signature).

    Parameters
    ----------
    m : dict
        One method's metrics (:func:`method_metrics`).
    preset : Preset
        Period length and ``save_every``.

    Returns
    -------
    dict
        ``at_half_period``, ``at_T``, ``max`` and ``falls_after_half_period``.
    """
    ent = m["entropy"]
    half, full = preset.steps_per_period // 2 // preset.save_every, preset.steps_per_period // preset.save_every
    return {
        "at_half_period": ent[half],
        "at_T": ent[full],
        "max": max(ent),
        "falls_after_half_period": ent[full] < ent[half],
    }
