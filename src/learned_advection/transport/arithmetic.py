"""The arithmetic of a run in its dtype: which dtype it computes in, the range of values it accepts,
and the power-of-two scaling that keeps every scheme's arithmetic from overflowing or underflowing."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from learned_advection.data.netcdf.conventions import CONCENTRATION
from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError


def run_dtype():
    """The dtype a run computes in: float32, or float64 under ``--x64`` / ``use_x64()``.

    Returns
    -------
    numpy.dtype
    """
    return np.dtype(jnp.result_type(float))


# Headroom of the schemes' arithmetic in the run's dtype: a concentration up to the dtype's largest
# number / HEADROOM (neighbour differences times Courant numbers, a few of them summed, and an
# overshoot of the 2-D splitting must stay finite).  The run itself works on the concentration
# divided by a power of two (:func:`concentration_scale`), so products of differences (PPM's limiter)
# neither overflow nor underflow at any magnitude.
HEADROOM = 2.0**10


def max_concentration(dtype) -> float:
    """The largest ``|concentration|`` a run in ``dtype`` accepts (:data:`HEADROOM` below the largest number).

    Parameters
    ----------
    dtype : numpy dtype
        The dtype of the run.

    Returns
    -------
    float
    """
    return float(np.finfo(dtype).max) / HEADROOM


def concentration_scale(c) -> float:
    """The power of two ``2**k`` that brings ``max |c|`` into ``[0.5, 1)`` (1 for a zero field).

    Every scheme here is positively homogeneous (``H(a c) = a H(c)`` for ``a > 0``: the classical
    limiters use only sums, differences, min/max and products with Courant numbers; the learned model
    sees ``c`` rescaled to [0, 1] and applies its coefficients to ``c``), and scaling by a power of two
    is exact in floating point.  So a run on ``c / 2**k``, scaled back, gives the same numbers as a run
    on ``c`` wherever that run neither overflows nor underflows -- and stays accurate where it would
    (e.g. PPM on a field of 1e-19 in float32, whose squared differences would be flushed to zero).

    Parameters
    ----------
    c : array_like
        One tracer's field.

    Returns
    -------
    float
    """
    largest = float(np.max(np.abs(c))) if np.size(c) else 0.0
    if not largest > 0 or not math.isfinite(largest):
        return 1.0
    return math.ldexp(1.0, math.frexp(largest)[1])


def tracer_scales(problem: Problem) -> np.ndarray | float:
    """:func:`concentration_scale` of each tracer (shaped to broadcast over the stack), or of the one tracer
    (of a regional problem: of the tracer and its values at the open sides).

    Parameters
    ----------
    problem : Problem
        The problem of the run.

    Returns
    -------
    numpy.ndarray or float
        ``(n_tracers, 1, ...)`` for a problem with a leading tracer axis, else one number.
    """
    if problem.boundary_values:  # the values entering at open sides too
        sides = [np.reshape(v.values, (problem.n_tracers, -1)) for v in problem.boundary_values.values()]
        largest = [
            max([float(np.max(np.abs(c))) if np.size(c) else 0.0] + [float(np.max(np.abs(s[i]))) for s in sides])
            for i, c in enumerate(problem.concentration if problem.batched else [problem.concentration])
        ]
        scales = np.array([concentration_scale(m) for m in largest], np.float64)
        return float(scales[0]) if not problem.batched else scales.reshape((-1,) + (1,) * problem.grid.ndim)
    if not problem.batched:
        return concentration_scale(problem.concentration)
    scales = np.array([concentration_scale(c) for c in problem.concentration], np.float64)
    return scales.reshape((-1,) + (1,) * problem.grid.ndim)


def check_arithmetic(problem: Problem, velocity, dt: float, scheme: str | None = None, dtype=None) -> None:
    """Refuse a run whose arithmetic in ``dtype`` would overflow or underflow (one-line :class:`UserError`).

    ``dt`` and ``dt / dx`` (the factor of every Courant number) must be representable: above the dtype's
    largest number it is Inf (and ``0 * Inf`` NaN), below its smallest normal number it is flushed to zero
    and nothing moves.  The concentration (and, for the learned scheme, whose network sees raw
    velocities, the velocity) must stay within :func:`max_concentration`.

    Parameters
    ----------
    problem : Problem
        The problem of the run.
    velocity : tuple of arrays
        The velocity fields the run uses.
    dt : float
        Time step.
    scheme : str, optional
        The scheme's name (``"learned"``: the velocity is checked too).
    dtype : numpy dtype, optional
        The run's dtype (default: :func:`run_dtype`, the dtype
        :func:`~learned_advection.transport.streaming.simulate` computes in).

    Raises
    ------
    UserError
        A value is out of the dtype's range for the scheme's arithmetic.
    """
    dtype = np.dtype(jnp.result_type(float) if dtype is None else dtype)
    info = np.finfo(dtype)
    biggest, tiny = float(info.max), float(info.tiny)
    hint = "; use --x64 to compute in float64" if dtype == np.float32 else ""
    remedy = "rescale the input or use --x64 (float64)" if dtype == np.float32 else "rescale the input"
    axes = ("x",) if problem.grid.ndim == 1 else ("y", "x")
    if 0 < abs(float(dt)) < tiny and any(np.any(np.asarray(u) != 0) for u in velocity):
        raise UserError(
            f"dt = {float(dt):.3g} is below the {dtype} range (smallest normal {tiny:.3g}): it would be flushed to "
            f"zero in the step's arithmetic and the flow would not move the tracers as asked{hint}"
        )
    for u, d, axis in zip(velocity, problem.grid.spacing, axes):
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            factor = float(np.float64(dt) / np.float64(d))
        if not factor <= biggest:
            raise UserError(f"dt / d{axis} = {factor:.3g} is beyond the {dtype} range (largest {biggest:.3g}){hint}")
        if factor < tiny and np.any(np.asarray(u) != 0):
            raise UserError(
                f"dt / d{axis} = {factor:.3g} is below the {dtype} range (smallest normal {tiny:.3g}): the "
                f"Courant numbers would be flushed to zero and nothing would move{hint}"
            )
    limit = max_concentration(dtype)
    fields = list(_tracer_fields(problem))
    if scheme == "learned":
        fields += [(f"{a} velocity", u) for a, u in zip(axes, velocity)]
    for what, values in fields:
        largest = float(np.max(np.abs(values))) if np.size(values) else 0.0
        if largest > limit:
            name = f" for {scheme}" if scheme else ""
            raise UserError(
                f"the {what} reaches {largest:.3g}, more than {limit:.3g}, the most{name} in {dtype} without "
                f"overflow in the scheme's arithmetic; {remedy}"
            )


def _tracer_fields(problem: Problem):
    """``(description, values)`` of each tracer (``concentration`` alone keeps its old description), and of
    its values at open sides."""
    if not problem.batched:
        name = problem.tracer_names[0]
        yield ("concentration" if name == CONCENTRATION else f"tracer {name!r}"), problem.concentration
    else:
        for name, values in zip(problem.tracer_names, problem.concentration):
            yield f"tracer {name!r}", values
    axes = ("x",) if problem.grid.ndim == 1 else ("y", "x")
    for (a, s), side in problem.boundary_values.items():
        yield f"value at the {('low', 'high')[s]} {axes[a]} side", side.values
