"""Symmetries of the shipped models, measured: advection is linear, so ``-c`` must give ``-(result for c)``
and ``a c`` must give ``a (result for c)``; a learned model keeps the second (its inputs are min-max rescaled)
but not the first.  The figures in the model cards come from :func:`symmetry_table`
(``python -m learned_advection.evaluation.model_symmetry``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.learned.checkpoint import load_stepper, shipped_models
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import rollout

# The test problem: a Gaussian blob in a steady random flow of largest speed SPEED on 32² of [0, 2 pi]²
# (Courant 0.24 at the paper model's step, 1.96 at the hybrid's), STEPS model steps.
SEED, STEPS, SPEED = 7, 16, 2.0


def symmetry_table(names=None) -> list[dict]:
    """Per shipped model: the relative L1 distance of the run from ``-c`` to ``-(run from c)``, and of the
    run from ``a c`` to ``a (run from c)`` (``a`` = 3), after ``STEPS`` model steps.

    Parameters
    ----------
    names : sequence of str, optional
        Shipped model names (default: every one, :func:`~learned_advection.learned.checkpoint.shipped_models`).

    Returns
    -------
    list of dict
        ``model``, ``dt``, ``courant``, ``sign`` and ``scale`` (relative L1 distances).
    """
    grid = Grid.square(32, 2 * np.pi)
    y, x = grid.mesh()
    c = jnp.asarray(np.exp(-((x - 2.5) ** 2 + (y - 3.5) ** 2) / 0.6), jnp.float32)
    velocity = tuple(jnp.asarray(u, jnp.float32) for u in random_sinusoidal(grid, SEED, max_speed=SPEED))
    rows = []
    for name in names or shipped_models():
        model = load_stepper(f"pretrained:{name}", grid)

        def run(c0, model=model):
            return np.asarray(rollout(model, c0, velocity, model.trained_dt, grid.spacing, STEPS, STEPS)[-1], float)

        plain = run(c)
        size = np.abs(plain).sum()
        rows.append(
            {
                "model": name,
                "dt": model.trained_dt,
                "courant": SPEED * model.trained_dt / grid.spacing[0],
                "sign": float(np.abs(run(-c) + plain).sum() / size),
                "scale": float(np.abs(run(3 * c) - 3 * plain).sum() / (3 * size)),
            }
        )
    return rows


if __name__ == "__main__":
    for row in symmetry_table():
        print(
            f"{row['model']}: dt {row['dt']:g} (Courant {row['courant']:.2f}), {STEPS} steps: "
            f"|run(-c) + run(c)| / |run(c)| = {row['sign']:.3g}; |run(3c) - 3 run(c)| / |3 run(c)| = {row['scale']:.2g}"
        )
