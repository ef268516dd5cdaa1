"""The methods compared: reference trajectories at the coarse grid, method labels, the classical
baselines at several resolutions and step multiples, and rollouts of learned models.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data import turbulence as td
from learned_advection.data.reference import Trajectories
from learned_advection.experiments.turbulence_2d.presets import Preset, grid
from learned_advection.numerics import schemes, symmetry
from learned_advection.numerics.rollout import batched_rollout


def load_trajectories(
    preset: Preset, data_dir, split: str, seeds, n_steps: int, progress=True, d4: bool = False, k: int = 1
):
    """Reference trajectories at the coarse grid (generating missing samples), plus the stored psi.

    ``n_steps`` coarse steps; ``k > 1``: as seen with ``k`` times the coarse step (:meth:`Trajectories.every`).

    Parameters
    ----------
    preset : Preset
        Supplies the data configuration.
    data_dir : str or os.PathLike
        Root of the data cache.
    split : str
        Data split, e.g. ``"train"``, ``"validation"`` or ``"test"``.
    seeds : iterable of int
        Sample seeds.
    n_steps : int
        Coarse steps per sample; a multiple of ``k``.
    progress : bool, default True
        Show a progress bar while generating samples.
    d4 : bool, default False
        Add the 8 D4 images of every trajectory (8 times the samples, image-major).
    k : int, default 1
        Coarse steps per step of the returned trajectories.

    Returns
    -------
    tuple
        ``(trajectories, psi)``: :class:`Trajectories` with states ``(S, n_steps / k + 1, y, x)`` and one
        velocity per step, and the stored corner streamfunction ``(len(seeds), n_steps, y_corner, x_corner)``.
    """
    cfg = preset.data
    paths = td.ensure_samples(cfg, data_dir, split, list(seeds), n_steps, progress)
    raw = td.load_samples(paths, n_steps)
    states = raw["concentration"]
    vel = tuple(np.asarray(u) for u in td.velocity_for(jnp.asarray(raw["psi"]), cfg.coarse_n))
    if d4:
        images = [symmetry.d4_element(k, jnp.asarray(states), tuple(jnp.asarray(u) for u in vel)) for k in range(8)]
        states = np.concatenate([np.asarray(i[0]) for i in images])
        vel = tuple(np.concatenate([np.asarray(i[1][a]) for i in images]) for a in range(2))
    return Trajectories(states, vel, cfg.coarse_dt, grid(preset)).every(k), raw["psi"]


BASE_COURANT = 0.5  # Courant number of every classical solver at k = 1 (the data's design, see data.turbulence)


def method_label(name: str, n: int, k: int = 1) -> str:
    """``vanleer-64`` at today's step, ``vanleer-64-k8`` at 8 times it.

    Parameters
    ----------
    name : str
        Scheme name.
    n : int
        Grid size it runs on.
    k : int, default 1
        Multiple of the Courant-0.5 step.
    """
    return f"{name}-{n}" if k == 1 else f"{name}-{n}-k{k}"


def method_spec(entry) -> tuple[str, int, int, bool]:
    """``(name, n)``, ``(name, n, k)`` or ``(name, n, k, bounded)`` -> ``(name, n, k, bounded)`` (k 1, bounded).

    Parameters
    ----------
    entry : tuple
        A method: scheme name, grid size, optionally step multiple ``k`` (default 1) and ``bounded`` (default True).
    """
    name, n, *rest = entry
    return name, n, rest[0] if rest else 1, rest[1] if len(rest) > 1 else True


def classical_stepper(name: str, k: int = 1, bounded: bool = True):
    """The classical scheme ``name`` at ``k`` times its Courant-0.5 step:
    :func:`~learned_advection.numerics.schemes.scheme` at Courant number ``k / 2`` (itself up to Courant 1,
    above it flux-form semi-Lagrangian inside FCT, or without FCT for ``bounded=False``: faster, undershoots
    the initial minimum).

    Parameters
    ----------
    name : str
        Scheme name (see :data:`~learned_advection.numerics.schemes.SCHEMES`).
    k : int, default 1
        Multiple of the Courant-0.5 step; the Courant number is ``k / 2``.
    bounded : bool, default True
        Keep the FCT limiter above Courant 1.

    Returns
    -------
    Stepper
        The stepper for that Courant number.
    """
    return schemes.scheme(name, BASE_COURANT * k, bounded)


def baseline_trajectories(preset: Preset, seeds, psi, methods, n_steps: int) -> dict[str, np.ndarray]:
    """Classical solvers at several resolutions (and step multiples ``k``), coarse-grained to the coarse grid.

    ``methods``: ``(name, n)``, ``(name, n, k)`` or ``(name, n, k, bounded)``.  Returns ``{label: (S, T / s + 1, n, n)}``, the states
    every ``s = stride`` coarse steps (``s = 1`` unless the step is longer than a coarse step).

    Parameters
    ----------
    preset : Preset
        Supplies the data configuration.
    seeds : sequence of int
        Sample seeds (their initial states are rebuilt on each grid).
    psi : array
        Stored corner streamfunction, ``(S, T, y_corner, x_corner)``.
    methods : iterable of tuple
        Methods as above (see :func:`method_spec`).
    n_steps : int
        Coarse steps ``T`` to run.

    Returns
    -------
    dict of str to numpy.ndarray
        :func:`method_label` -> states coarse-grained to ``coarse_n``.
    """
    cfg = preset.data
    out = {}
    for name, n, k, bounded in map(method_spec, methods):
        c0 = jnp.asarray(np.stack([td.initial_on(cfg, s, n) for s in seeds]), jnp.float32)
        stepper = classical_stepper(name, k, bounded)
        run = jax.jit(jax.vmap(lambda c, p: td.solve_on(stepper, c, p, n, cfg, n_steps, k)))
        out[method_label(name, n, k)] = np.asarray(run(c0, jnp.asarray(psi)))
    return out


def model_step_multiple(model, coarse_dt: float) -> int:
    """A learned model's step in coarse steps (1 for a model that does not record its step).  Wrapped
    models (``{suffix: model}`` variants) are the same model: the innermost one's ``trained_dt`` counts.

    Parameters
    ----------
    model : LearnedModel or stepper
        A model; its ``trained_dt`` attribute, if any, is its step.
    coarse_dt : float
        The data's coarse step.

    Returns
    -------
    int
        ``round(trained_dt / coarse_dt)``, at least 1.
    """
    dt = getattr(model, "trained_dt", None)
    return 1 if dt is None else max(1, round(dt / coarse_dt))


def learned_trajectories(model, data: Trajectories, n_steps: int) -> np.ndarray:
    """Rollouts of ``model`` from the first state of every sample of ``data``, in its velocities.

    Parameters
    ----------
    model : LearnedModel or stepper
        The model to run, at the step ``data.dt``.
    data : Trajectories
        Initial states, time-dependent velocities, step and grid.
    n_steps : int
        Steps to run; at most ``data.n_steps``.

    Returns
    -------
    numpy.ndarray
        States ``(sample, n_steps + 1, y, x)``, initial state first.
    """
    vel = tuple(jnp.asarray(u[:, :n_steps]) for u in data.velocity)
    run = jax.jit(lambda m, c, v: batched_rollout(m, c, v, data.dt, tuple(data.grid.spacing), n_steps))
    return np.asarray(run(model, jnp.asarray(data.states[:, 0]), vel))


def baseline_methods(coarse_n: int) -> list[tuple[str, int]]:
    """The classical baselines of an evaluation: Van Leer at 1, 2 and 4 times, PPM and WENO5-Z at 1 and 2 times ``coarse_n``.

    Parameters
    ----------
    coarse_n : int
        The coarse grid size.

    Returns
    -------
    list of tuple
        ``(scheme name, grid size)`` pairs.
    """
    return [
        ("vanleer", coarse_n),
        ("vanleer", 2 * coarse_n),
        ("vanleer", 4 * coarse_n),
        ("ppm", coarse_n),
        ("ppm", 2 * coarse_n),
        ("weno5z", coarse_n),
        ("weno5z", 2 * coarse_n),
    ]
