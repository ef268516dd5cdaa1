"""Regional domains: any stepper with a boundary form, run between walls and open sides, with emissions.

:class:`Regional` is a stepper whose state is a :class:`RegionalState` (the concentration, the time and the
mass budget so far) rather than a bare array, so :func:`~learned_advection.numerics.rollout.rollout` runs it
like any other stepper::

    bounds = boundaries(x=(Open(1.0), Open()), y=Wall())
    regional = Regional(schemes.get("ppm"), bounds, source=Source(rate))
    states = rollout(regional, regional.initial(c0), velocity, dt, spacing, n_steps)
    states.c            # (n_saved, ny, nx)
    states.budget       # the mass budget at every saved step (cumulative)

A step is ``c - sum_a (F[a][i + 1/2] - F[a][i - 1/2]) + dt * S(t + dt / 2)`` with the stepper's fluxes on
faces ``-1/2 .. n - 1/2`` (:meth:`~learned_advection.numerics.steppers.Stepper.regional_step`) and the
emission rate ``S``, so the mass (``sum(c) * cell volume``) changes by exactly the emitted mass plus what
crossed the boundary faces: :class:`Budget` keeps both, per side, with compensated sums.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array

from learned_advection.numerics.boundaries import Boundaries, check_values, check_velocity
from learned_advection.numerics.steppers import Wrapper


class Source(eqx.Module):
    """An emission rate (concentration per unit time in every cell): ``rate`` constant (a field, or a number),
    or ``rate[i]`` at ``times[i]`` interpolated linearly (held beyond the ends), or ``function(t) -> field``."""

    rate: Array | None = None
    times: Array | None = None
    function: Callable[[Array], Array] | None = eqx.field(static=True, default=None)

    def __call__(self, t: Array, shape: Sequence[int], dtype) -> Array:
        """The rate at time ``t`` on cells ``shape``."""
        if self.function is not None:
            return jnp.broadcast_to(jnp.asarray(self.function(t), dtype=dtype), tuple(shape))
        rate = jnp.asarray(0.0 if self.rate is None else self.rate, dtype=dtype)
        if self.times is None:
            return jnp.broadcast_to(rate, tuple(shape))
        times = jnp.asarray(self.times, dtype=dtype)
        t = jnp.asarray(t, dtype=dtype)
        i = jnp.clip(jnp.searchsorted(times, t, side="right") - 1, 0, times.shape[0] - 2)
        w = jnp.clip((t - times[i]) / (times[i + 1] - times[i]), 0.0, 1.0)
        return jnp.broadcast_to(rate[i] + w * (rate[i + 1] - rate[i]), tuple(shape))


class Budget(NamedTuple):
    """Mass (``sum(c) * cell volume``) crossing each side and emitted, accumulated since the start.

    ``inflow[a, s]`` and ``outflow[a, s]``: what entered and left through side ``s`` (0 low, 1 high) of array
    axis ``a`` (zero on a periodic axis); ``emitted``: the sources' total.  The ``*_error`` arrays are the
    compensation terms of the sums (Kahan), so that a long run keeps them to round-off.
    """

    inflow: Array
    outflow: Array
    emitted: Array
    inflow_error: Array
    outflow_error: Array
    emitted_error: Array

    @classmethod
    def zero(cls, ndim: int, dtype) -> Budget:
        z2, z = jnp.zeros((ndim, 2), dtype), jnp.zeros((), dtype)
        return cls(z2, z2, z, z2, z2, z)

    def net(self) -> Array:
        """``emitted + inflow - outflow``: the mass change the budget accounts for."""
        return self.emitted + jnp.sum(self.inflow, axis=(-2, -1)) - jnp.sum(self.outflow, axis=(-2, -1))


def _kahan(total: Array, error: Array, value: Array) -> tuple[Array, Array]:
    y = value - error
    t = total + y
    return t, (t - total) - y


class RegionalState(NamedTuple):
    """A regional run's state: the concentration ``c``, the steps taken ``n`` (the time is ``t0 + n * dt``) and
    the mass :class:`Budget` so far."""

    c: Array
    t0: Array
    n: Array
    budget: Budget


class Regional(Wrapper):
    """``stepper`` on a domain with the boundaries ``bounds`` and an optional emission ``source``.

    Its state is a :class:`RegionalState` (:meth:`initial`); ``velocity`` has ``n + 1`` faces along every
    non-periodic axis, zero on walls.  Any stepper with a boundary form
    (:meth:`~learned_advection.numerics.steppers.Stepper.regional_fluxes`) runs in it; others refuse.
    """

    bounds: Boundaries
    source: Source | None = None

    @property
    def name(self) -> str:
        return self.stepper.name  # the same scheme, on another domain

    @property
    def reach(self) -> int | None:
        return self.stepper.reach

    @property
    def domain(self) -> Boundaries:
        return self.bounds

    def initial(self, c0: Array, t0: float = 0.0) -> RegionalState:
        """The state at time ``t0``, with nothing crossed or emitted yet."""
        c0 = jnp.asarray(c0)
        if c0.ndim != self.bounds.ndim:
            raise ValueError(
                f"a {self.bounds.ndim}-D domain needs a {self.bounds.ndim}-D concentration, got {c0.shape}"
            )
        check_values(self.bounds, c0.shape)
        if self.source is not None and self.source.function is None and self.source.rate is not None:
            rate = tuple(np.shape(self.source.rate))[0 if self.source.times is None else 1 :]
            if rate not in ((), tuple(c0.shape)):
                raise ValueError(f"the source rate has shape {rate}, need () or the cells' {tuple(c0.shape)}")
        return RegionalState(c0, jnp.asarray(t0, c0.dtype), jnp.asarray(0, jnp.int32), Budget.zero(c0.ndim, c0.dtype))

    def __call__(self, state: RegionalState, velocity, dt, spacing) -> RegionalState:
        c = state.c
        check_velocity(self.bounds, c.shape, velocity)
        t = state.t0 + state.n.astype(c.dtype) * dt
        c_next, fluxes = self.stepper.regional_step(c, velocity, dt, spacing, self.bounds.at(t, dt))
        c_next = c_next.astype(c.dtype)
        fluxes = tuple(f.astype(c.dtype) for f in fluxes)
        volume = math.prod(float(d) for d in spacing)
        inflow, outflow = [], []
        for a, flux in enumerate(fluxes):
            n = flux.shape[a]
            low, high = jnp.take(flux, 0, axis=a), -jnp.take(flux, n - 1, axis=a)  # into the domain: + on both
            if self.bounds.axes[a] is None:
                low = high = jnp.zeros((), c.dtype)
            inflow.append(jnp.stack([jnp.sum(jnp.maximum(x, 0)) for x in (low, high)]) * volume)
            outflow.append(jnp.stack([jnp.sum(jnp.maximum(-x, 0)) for x in (low, high)]) * volume)
        b = state.budget
        inflow_total, inflow_error = _kahan(b.inflow, b.inflow_error, jnp.stack(inflow))
        outflow_total, outflow_error = _kahan(b.outflow, b.outflow_error, jnp.stack(outflow))
        emitted_total, emitted_error = b.emitted, b.emitted_error
        if self.source is not None:
            rate = self.source(t + 0.5 * dt, c.shape, c.dtype)
            c_next = (c_next + dt * rate).astype(c.dtype)
            emitted = (dt * jnp.sum(rate) * volume).astype(c.dtype)
            emitted_total, emitted_error = _kahan(b.emitted, b.emitted_error, emitted)
        budget = Budget(inflow_total, outflow_total, emitted_total, inflow_error, outflow_error, emitted_error)
        return RegionalState(c_next, state.t0, state.n + 1, budget)
