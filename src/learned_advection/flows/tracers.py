"""Initial tracer fields (concentration shapes) on a grid, as numpy arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from jaxtyping import Float

from learned_advection.numerics.grids import Grid


def cosine_bell(grid: Grid, centre: Sequence[float], radius: float, sub: int = 1) -> Float[np.ndarray, "y x"]:
    """LeVeque's cosine bell ``C = (1 + cos(pi r)) / 2``, ``r = min(1, dist / radius)``, on a 2-D grid.

    ``centre`` is ``(y, x)``; the distance is not periodic.  ``sub = 1``: the values at the cell
    centres; ``sub > 1``: cell averages estimated from ``sub x sub`` points per cell (the sub-cell centres).

    Parameters
    ----------
    grid
        A 2-D grid.
    centre
        The bell's centre ``(y, x)``.
    radius
        The bell's radius.
    sub
        Sample points per cell along each axis.
    """
    ny, nx = grid.shape
    off = (np.arange(sub) + 0.5) / sub
    y, x = (
        grid.origin[a] + grid.spacing[a] * (np.arange(n)[:, None] + off[None, :]).ravel()
        for a, n in enumerate(grid.shape)
    )
    r = np.minimum(1.0, np.hypot(y[:, None] - centre[0], x[None, :] - centre[1]) / radius)
    c = 0.5 * (1.0 + np.cos(np.pi * r))
    return c.reshape(ny, sub, nx, sub).mean(axis=(1, 3))
