"""The second limit of a large step, measured: a flux-form semi-Lagrangian step follows the flow only while its
departure regions stay ordered, ``(u[i+1/2] - u[i-1/2]) dt < dx`` along each axis -- a bound on the
*deformation number* ``D = max |du| dt / dx`` as well as on the Courant number.

:func:`deformation_table` runs steppers on steady cellular vortices (the corner streamfunction
``sin(kx) sin(ky)`` on 32² of [0, 2 pi]², a block tracer in [0, 1]) over a grid of wavenumbers ``k`` and
Courant numbers, and reports each run's deformation number and the range of its values
(``python -m learned_advection.evaluation.deformation_limit``).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from learned_advection.flows.velocity import faces_from_streamfunction
from learned_advection.numerics.grids import Grid, deformation_number
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.schemes import scheme

N, STEPS = 32, 200
WAVENUMBERS = (1, 2, 3, 4)
COURANTS = (1.5, 2.0, 2.5, 3.0, 3.5, 4.0)


def cellular_flow(k: int, courant: float, dt: float, grid: Grid) -> tuple[np.ndarray, np.ndarray]:
    """``(y_velocity, x_velocity)`` of the vortices ``sin(kx) sin(ky)`` on ``grid``, scaled to ``courant`` at ``dt``.

    Parameters
    ----------
    k : int
        Wavenumber: ``(2k)²`` vortices of alternating sign on the square.
    courant : float
        The largest Courant number at ``dt``.
    dt : float
        Time step.
    grid : Grid
        A square periodic grid of [0, 2 pi]².

    Returns
    -------
    tuple of numpy.ndarray
        Face velocities, float64 (discretely divergence-free).
    """
    corners = (np.arange(grid.shape[0]) + 1) * grid.spacing[0]  # the upper-right corner of each cell
    psi = np.sin(k * corners)[:, None] * np.sin(k * corners)[None, :]
    v, u = (np.asarray(f, np.float64) for f in faces_from_streamfunction(psi, grid.spacing))
    scale = courant * grid.spacing[0] / dt / max(np.abs(u).max(), np.abs(v).max())
    return scale * v, scale * u


def deformation_table(
    steppers=None, wavenumbers=WAVENUMBERS, courants=COURANTS, steps: int = STEPS, dt: float = 1.0
) -> list[dict]:
    """Each stepper on each cellular flow: deformation number and the range of the values over ``steps`` steps.

    Parameters
    ----------
    steppers : dict of str to callable, optional
        ``{label: courant -> stepper}`` (default: PPM's large step unbounded and bounded).
    wavenumbers : sequence of int
        The flows' wavenumbers.
    courants : sequence of float
        The Courant numbers.
    steps : int
        Steps of each run.
    dt : float, default 1.0
        The time step (the flows are scaled to each Courant number at it; a learned model needs its own).

    Returns
    -------
    list of dict
        ``stepper``, ``k``, ``courant``, ``deformation``, ``min``, ``max`` (NaN or Inf where it blew up).
    """
    if steppers is None:
        steppers = {
            "ppm large step, unbounded": lambda courant: scheme("ppm", courant, bounded=False),
            "ppm large step, bounded": lambda courant: scheme("ppm", courant),
        }
    grid = Grid.square(N, 2 * np.pi)
    c = np.zeros(grid.shape)
    c[8:20, 6:18] = 1.0
    c = jnp.asarray(c, jnp.float32)
    rows = []
    for label, make in steppers.items():
        for k in wavenumbers:
            for courant in courants:
                velocity = cellular_flow(k, courant, dt, grid)
                run = rollout(
                    make(courant),
                    c,
                    tuple(jnp.asarray(u, jnp.float32) for u in velocity),
                    dt,
                    grid.spacing,
                    steps,
                    steps,
                    check_limits=False,  # beyond the limits on purpose: this measures them
                )
                with np.errstate(invalid="ignore"):
                    values = np.asarray(run, np.float64)
                rows.append(
                    {
                        "stepper": label,
                        "k": k,
                        "courant": courant,
                        "deformation": deformation_number(velocity, dt, grid.spacing),
                        "min": float(np.min(values)),
                        "max": float(np.max(values)),
                    }
                )
    return rows


def _shipped_hybrid() -> dict:
    from learned_advection.learned.checkpoint import load_stepper

    model = load_stepper("pretrained:turbulence-2d-k8-hybrid", Grid.square(N, 2 * np.pi))
    return {"hybrid (pretrained:turbulence-2d-k8-hybrid), plain": lambda courant: model}


if __name__ == "__main__":
    print(f"steady cellular vortices sin(kx) sin(ky), {N}² of [0, 2 pi]², block tracer in [0, 1], {STEPS} steps")
    print("| stepper | k | Courant | deformation number | min | max |\n|---|---|---|---|---|---|")
    for r in deformation_table() + deformation_table(_shipped_hybrid(), dt=0.192):
        print(
            f"| {r['stepper']} | {r['k']} | {r['courant']:g} | {r['deformation']:.2f} | {r['min']:.3g} | {r['max']:.3g} |"
        )
