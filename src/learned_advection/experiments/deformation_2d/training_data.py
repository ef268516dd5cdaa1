"""Training data: random divergence-free flows, Van Leer references coarse-grained to the training grid
(:func:`make_training_data`), and their description for the checkpoint and ``metrics.json``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.reference import Trajectories
from learned_advection.experiments.deformation_2d.grids import rng_for, train_grid, training_initial_condition
from learned_advection.experiments.deformation_2d.presets import Preset
from learned_advection.flows import velocity as vel_mod
from learned_advection.numerics import schemes, symmetry
from learned_advection.numerics.rollout import coarse_grained_rollout


def make_training_data(
    preset: Preset, split: str, n_samples: int, seed: int = 0, d4: bool = False, chunk: int = 8
) -> Trajectories:
    """Random-flow trajectories: Van Leer at ``factor``x resolution coarse-grained to the training grid.

    Parameters
    ----------
    preset : Preset
        Grid, step, trajectory length and flow settings.
    split : {"train", "validation"}
        Random stream of the flows and initial conditions.
    n_samples : int
        Trajectories (initial conditions alternate blobs and binary fields).
    seed : int, default 0
        Seed of the random stream.
    d4 : bool, default False
        Add the 8 D4 images of every trajectory (8 times the samples, image-major).
    chunk : int, default 8
        Samples solved per compiled call.

    Returns
    -------
    Trajectories
        States ``(sample, train_steps + 1, train_n, train_n)`` and constant coarse face velocities.
    """
    rng = rng_for(seed, split)
    fine, coarse, f = train_grid(preset, preset.factor), train_grid(preset), preset.factor
    dt, steps = preset.dt, preset.train_steps
    c0s, vel_fine, vel_coarse = [], [], []
    for k in range(n_samples):
        amp = rng.uniform(*preset.amplitude)
        flow_seed = int(rng.integers(2**31 - 1))
        vf, vc = vel_mod.random_sinusoidal_family(fine, flow_seed, [1, f], kmax=preset.kmax, max_speed=amp)
        c0s.append(training_initial_condition(rng, ("blobs", "binary")[k % 2], fine, preset.dx))
        vel_fine.append(vf)
        vel_coarse.append(vc)
    vl = schemes.scheme("vanleer")
    spacing = tuple(fine.spacing)

    @jax.jit
    def solve(c0, v):
        return jax.vmap(lambda c, vel: coarse_grained_rollout(vl, c, vel, dt, spacing, steps, f))(c0, v)

    dtype = jnp.result_type(float)
    states = []
    for lo in range(0, n_samples, chunk):
        c0 = jnp.asarray(np.stack(c0s[lo : lo + chunk]), dtype)
        v = tuple(jnp.stack([u[a] for u in vel_fine[lo : lo + chunk]]).astype(dtype) for a in range(2))
        states.append(np.asarray(solve(c0, v)))
    states = np.concatenate(states)
    velocity = tuple(np.stack([np.asarray(u[a]) for u in vel_coarse]).astype(states.dtype) for a in range(2))
    if d4:
        images = [
            symmetry.d4_element(k, jnp.asarray(states), tuple(jnp.asarray(u) for u in velocity)) for k in range(8)
        ]
        states = np.concatenate([np.asarray(i[0]) for i in images])
        velocity = tuple(np.concatenate([np.asarray(i[1][a]) for i in images]) for a in range(2))
    return Trajectories(states, velocity, dt, coarse)


def data_description(preset: Preset, seed: int = 0) -> dict:
    """The training data's settings, for the checkpoint and ``metrics.json``.

    Parameters
    ----------
    preset : Preset
        The preset.
    seed : int, default 0
        Seed of the training data.
    """
    return {
        "train_grid": {"n": preset.train_n, "length": preset.train_length},
        "fine_n": preset.train_n * preset.factor,
        "reference": f"vanleer at {preset.factor}x, {preset.factor} sub-steps",
        "dt": preset.dt,
        "dx": preset.dx,
        "cfl_at_max_speed_1": preset.cfl,
        "train_samples": preset.train_samples,
        "d4_augmentation": preset.augment,
        "train_trajectories": preset.train_samples * (8 if preset.augment else 1),
        "validation_samples": preset.validation_samples,
        "steps_per_trajectory": preset.train_steps,
        "amplitude_range": list(preset.amplitude),
        "kmax": preset.kmax,
        "initial_conditions": "alternating blob ensembles (Gaussian / cosine bell) and binarised random Fourier series",
        "seed": seed,
    }
