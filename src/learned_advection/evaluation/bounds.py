"""Where the classical schemes keep every value inside the initial range: the figures of ``docs/bounds.md``.

:func:`bounds_table` runs each classical scheme -- plain, inside :class:`~learned_advection.numerics.limiters.FCT`
and on the large-step path of :func:`~learned_advection.numerics.schemes.scheme` -- on a field of values in
``[0.2, 0.9]`` with a block of exact 1s and one of exact 0s (the initial range is ``[0, 1]``), in three
divergence-free flows, and returns the smallest and largest value over a short run.  A row is bounded when
``min >= 0`` and ``max <= 1`` exactly.

The flows (unit square or interval, 64 cells per axis, periodic):

* ``"1-D uniform"``: ``u = 1``;
* ``"2-D diagonal"``: ``u = v = 1`` (the Courant number is the one of each axis);
* ``"2-D non-uniform"``: a random divergence-free flow (:func:`~learned_advection.flows.velocity.random_sinusoidal`,
  seed 0) normalised to a largest face speed of 1.

Each stepper is compiled once per grid, the time step a runtime input; the run is float32 (the command-line
default) unless ``dtype`` says otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.flows.velocity import random_sinusoidal
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.schemes import SCHEMES, scheme
from learned_advection.numerics.steppers import Stepper

N = 64
FLOWS = ("1-D uniform", "2-D diagonal", "2-D non-uniform")
ORDINARY = (0.5, 0.7, 0.9, 1.0)  # Courant numbers of the ordinary step (WENO5-Z: up to its 0.7)
LARGE = (1.0000001, 2.0, 3.5, 4.0)  # Courant numbers of the large step (``--cfl 1.0000001`` takes it)


class BoundsRow(NamedTuple):
    """One run: the scheme, the stepper as built in Python, the flow, the Courant number, the extremes.

    ``min`` and ``max`` are over every state of the run, the initial one (``[0, 1]``) included.
    """

    scheme: str
    stepper: str
    flow: str
    courant: float
    min: float
    max: float

    @property
    def bounded(self) -> bool:
        """Every value inside the initial range ``[0, 1]``, exactly."""
        return self.min >= 0.0 and self.max <= 1.0


def initial_field(ndim: int, n: int = N) -> np.ndarray:
    """Values in ``[0.2, 0.9]`` (seeded) with a block of exact 1s and one of exact 0s: the initial range is ``[0, 1]``.

    Parameters
    ----------
    ndim
        1 or 2.
    n
        Cells per axis.
    """
    rng = np.random.default_rng(0)
    c = rng.uniform(0.2, 0.9, (n,) * ndim)
    ones, zeros = slice(n // 6, n // 3), slice(n // 2, 2 * n // 3)
    c[(ones,) * ndim] = 1.0
    c[(zeros,) * ndim] = 0.0
    return c


def flow(name: str, n: int = N) -> tuple[Grid, tuple[np.ndarray, ...]]:
    """The grid and the face velocities (largest face speed 1) of the flow ``name`` (one of :data:`FLOWS`)."""
    if name == "1-D uniform":
        grid = Grid((n,), (1.0,))
        return grid, (np.ones(n),)
    grid = Grid((n, n), (1.0, 1.0))
    if name == "2-D diagonal":
        return grid, (np.ones((n, n)), np.ones((n, n)))
    if name == "2-D non-uniform":
        return grid, tuple(np.asarray(u) for u in random_sinusoidal(grid, 0, max_speed=1.0))
    raise ValueError(f"unknown flow {name!r}; choose one of {', '.join(FLOWS)}")


def steppers(name: str) -> list[tuple[str, Stepper, tuple[float, ...], tuple[int, ...]]]:
    """The runs of scheme ``name``: ``(how it is built, stepper, Courant numbers, dimensions)``.

    ``"courant"`` in the first stands for the Courant number of the run.  The large steps share one stepper
    per ``ceil(courant)``, as :func:`~learned_advection.numerics.schemes.scheme` builds them.
    """
    base = SCHEMES[name]
    ordinary = tuple(c for c in ORDINARY if c <= min(1.0, base.stable_courant))
    runs = [
        (f"la.scheme({name!r}, courant)", base, ordinary, (1, 2)),
        (f"la.FCT(la.scheme({name!r}))", FCT(base), ordinary, (1, 2)),
        (f"la.FCT(la.scheme({name!r}), substeps=2)", FCT(base, substeps=2), ordinary, (2,)),
    ]
    if name != "weno5z":  # large steps: the Lin & Rood schemes
        for k in sorted({math.ceil(c) for c in LARGE}):
            courants = tuple(c for c in LARGE if math.ceil(c) == k)
            runs.append((f"la.scheme({name!r}, courant)", scheme(name, float(k)), courants, (1, 2)))
    return runs


def _extremes(step: Stepper, spacing: Sequence[float], n_steps: int):
    """A jitted function of ``(c, velocity, dt)``: the smallest and largest value over ``n_steps`` steps and ``c``."""

    def run(c, velocity, dt):
        def body(carry, _):
            x, lo, hi = carry
            x = step(x, velocity, dt, spacing)
            return (x, jnp.minimum(lo, x.min()), jnp.maximum(hi, x.max())), None

        (_, lo, hi), _ = jax.lax.scan(body, (c, c.min(), c.max()), None, length=n_steps)
        return lo, hi

    return jax.jit(run)


def bounds_table(
    schemes: Sequence[str] = tuple(SCHEMES), n_steps: int = 20, dtype=jnp.float32, flows: Sequence[str] = FLOWS
) -> list[BoundsRow]:
    """The smallest and largest value of a run of every classical scheme, plain and bounded, in every flow.

    Parameters
    ----------
    schemes
        Names of :data:`~learned_advection.numerics.schemes.SCHEMES`.
    n_steps
        Steps of every run (the extremes are over all of them).
    dtype
        The precision of the run (float64 needs ``jax_enable_x64``).
    flows
        Names of :data:`FLOWS`.

    Returns
    -------
    list of BoundsRow
        One row per scheme, stepper, flow and Courant number (the flow's largest face Courant number).
    """
    problems = {}
    for flow_name in flows:
        grid, velocity = flow(flow_name)
        problems[flow_name] = (
            grid,
            jnp.asarray(initial_field(grid.ndim), dtype),
            tuple(jnp.asarray(u, dtype) for u in velocity),
        )
    rows = []
    for name in schemes:
        for label, step, courants, dims in steppers(name):
            runs = {}  # one compilation per grid, shared by its flows and Courant numbers
            for flow_name, (grid, c0, velocity) in problems.items():
                if grid.ndim not in dims:
                    continue
                if grid.shape not in runs:
                    runs[grid.shape] = _extremes(step, grid.spacing, n_steps)
                for courant in courants:  # the largest face speed is 1: dt = courant * dx
                    lo, hi = runs[grid.shape](c0, velocity, jnp.asarray(courant * min(grid.spacing), dtype))
                    rows.append(
                        BoundsRow(
                            name, label.replace("courant", f"{courant:.8g}"), flow_name, courant, float(lo), float(hi)
                        )
                    )
    return rows


def format_table(rows: Sequence[BoundsRow]) -> str:
    """``rows`` as a Markdown table: stepper, flow, Courant number, min, max - 1, bounded."""
    lines = ["| stepper | flow | Courant | min | max - 1 | bounded |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| `{r.stepper}` | {r.flow} | {r.courant:.8g} | {r.min:.2g} | {r.max - 1:.2g} | "
            f"{'yes' if r.bounded else 'no'} |"
        )
    return "\n".join(lines)
