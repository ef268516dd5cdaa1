"""Time integration with ``jax.lax.scan`` for any :class:`~learned_advection.numerics.steppers.Stepper`.

Velocity may be

* constant: a tuple of face-velocity arrays (one per axis); what the step computes from the velocity
  alone (:meth:`~learned_advection.numerics.steppers.Stepper.prepare`) is then computed once, not every
  step (bitwise the same states);
* a time series: a tuple of arrays with a leading time axis of length ``n_steps``
  (``velocity[a][n]`` is used for step ``n``, i.e. for the update from ``t_n`` to ``t_{n+1}``);
* a function ``t -> tuple`` (jax-traceable), evaluated at the midpoint ``t0 + (n + 1/2) dt`` of every
  step ``n`` (times from integer step counts, so no round-off accumulates).

The combinators (as jax-cfd's ``repeated``/``trajectory`` and exponax's ``RepeatedStepper``):

* :func:`rollout` -- the trajectory of a stepper, every ``save_every`` steps, optionally post-processed;
* :class:`Repeated` -- a stepper that takes ``n`` sub-steps of ``dt / n`` with the same velocity;
* :func:`coarse_grained_rollout` -- solve on a grid ``factor`` times finer with ``factor`` sub-steps per
  coarse step and return the states coarse-grained to the coarse grid (how every reference is made);
* :func:`batched_rollout` -- :func:`rollout` vmapped over samples (one velocity per sample).

Nothing here is jitted: wrap the call in ``jax.jit``/``eqx.filter_jit`` (with the counts static).

Limits: called with concrete arrays (not under ``jax.jit``, ``jax.vmap`` or a trace), the time loops check
once, before running, that the run is within the stepper's declared Courant and deformation limits
(:func:`~learned_advection.numerics.limits.check_limits`: a steady velocity once, a series field by
field) and refuse it with a :class:`~learned_advection.errors.UserError` otherwise.  Traced velocities or
time steps, velocity functions of time and ``velocity_map`` inputs are not checked (their values are not
known before the loop runs); ``check_limits=False`` runs beyond the limits on purpose (measuring a
blow-up).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from learned_advection.numerics.grids import coarsen_concentration
from learned_advection.numerics.limits import check_limits as check_run_limits
from learned_advection.numerics.steppers import Stepper, Wrapper


def _check_counts(n_steps: int, save_every: int) -> int:
    if n_steps < 0 or save_every < 1:
        raise ValueError(f"need n_steps >= 0 and save_every >= 1, got {n_steps} and {save_every}")
    if n_steps % save_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of save_every ({save_every})")
    return n_steps // save_every


def _concrete(*trees) -> bool:
    """Every leaf of ``trees`` is a concrete value (no tracer: not under ``jax.jit``, ``jax.vmap`` or ``grad``)."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(trees))


def _leaf(state) -> Array:
    """The concentration of a state: the array itself, or the first leaf of a state pytree
    (:class:`~learned_advection.numerics.regional.RegionalState`)."""
    return jax.tree_util.tree_leaves(state)[0]


def _check(step, velocity, dt, spacing) -> None:
    """:func:`~learned_advection.numerics.limits.check_limits` of a run whose arrays are concrete (else nothing)."""
    if isinstance(step, Stepper) and not callable(velocity) and _concrete(velocity, dt, spacing):
        check_run_limits(step, tuple(velocity), dt, spacing)


def rollout(
    step: Stepper,
    c0: Float[Array, "*space"],
    velocity,
    dt: float,
    spacing: Sequence[float],
    n_steps: int,
    save_every: int = 1,
    t0: float = 0.0,
    time_series: bool | None = None,
    post: Callable[[Array], Array] | None = None,
    velocity_map: Callable | None = None,
    *,
    check_limits: bool = True,
) -> Float[Array, "n_saved *out"]:
    """Integrate ``n_steps`` steps; return the states at steps ``0, k, 2k, ..., n_steps`` (initial first).

    ``post`` (e.g. coarse-graining) is applied to every saved state, inside the loop, so only its
    result is kept.  ``time_series`` says whether ``velocity`` has a leading time axis (guessed from
    its rank when ``None``).  ``velocity_map``: ``velocity`` is then a series of any per-step inputs
    (a pytree with a leading time axis, e.g. a streamfunction) and step ``n`` uses
    ``velocity_map(velocity[n])`` -- the face velocities are made inside the loop, one step at a time.

    With ``check_limits`` (the default) and concrete face velocities and ``dt``, a run beyond the
    stepper's declared limits is refused before it starts
    (:func:`~learned_advection.numerics.limits.check_limits`: a steady velocity once, a series over the
    fields of its ``n_steps`` steps); under a trace (``jax.jit``, ``jax.vmap``) nothing is checked.

    Raises
    ------
    UserError
        ``check_limits`` and a concrete run beyond the stepper's Courant or deformation limit.
    """
    n_saved = _check_counts(n_steps, save_every)
    spacing = tuple(spacing)
    keep = (lambda c: c) if post is None else post
    if callable(velocity):
        velocity_fn = velocity

        def chunk(c, first):
            def advance(c, n):
                t = t0 + (n.astype(_leaf(c).dtype) + 0.5) * dt
                return step(c, velocity_fn(t), dt, spacing), None

            c, _ = jax.lax.scan(advance, c, first + jnp.arange(save_every))
            return c, keep(c)

        _, saved = jax.lax.scan(chunk, c0, save_every * jnp.arange(n_saved))
    else:
        if velocity_map is None:
            velocity = tuple(velocity)
            if time_series is None:
                time_series = velocity[0].ndim == _leaf(c0).ndim + 1
            if check_limits:
                _check(step, tuple(u[:n_steps] for u in velocity) if time_series else velocity, dt, spacing)
        if time_series or velocity_map is not None:
            to_faces = (lambda v: v) if velocity_map is None else velocity_map
            length = jax.tree_util.tree_leaves(velocity)[0].shape[0]
            if length < n_steps:
                raise ValueError(f"velocity time series has {length} steps, need {n_steps}")
            xs = jax.tree_util.tree_map(lambda u: u[:n_steps].reshape((n_saved, save_every) + u.shape[1:]), velocity)

            def chunk(c, vel_chunk):
                c, _ = jax.lax.scan(lambda c, v: (step(c, to_faces(v), dt, spacing), None), c, vel_chunk)
                return c, keep(c)

            _, saved = jax.lax.scan(chunk, c0, xs)
        else:  # a steady flow: what depends on it alone is computed once (Stepper.prepare)
            if isinstance(step, Stepper):
                prepared = step.prepare(velocity, dt, spacing)
                one = lambda c: step.advance(c, prepared, velocity, dt, spacing)  # noqa: E731
            else:  # a plain function (c, velocity, dt, spacing) -> c
                one = lambda c: step(c, velocity, dt, spacing)  # noqa: E731

            def chunk(c, _):
                c, _ = jax.lax.scan(lambda c, _: (one(c), None), c, None, length=save_every)
                return c, keep(c)

            _, saved = jax.lax.scan(chunk, c0, None, length=n_saved)
    return jax.tree_util.tree_map(lambda first, rest: jnp.concatenate([first[None], rest], axis=0), keep(c0), saved)


class Repeated(Wrapper):
    """``stepper`` applied ``n_sub`` times with ``dt / n_sub`` and the same velocity (one step of ``dt``)."""

    n_sub: int = eqx.field(static=True)

    @property
    def name(self) -> str:
        return self.stepper.name if self.n_sub == 1 else f"{self.stepper.name}x{self.n_sub}"

    @property
    def reach(self) -> int | None:
        inner = self.stepper.reach if isinstance(self.stepper, Stepper) else None
        return None if inner is None else inner * self.n_sub

    @property
    def max_courant(self) -> int:
        return (self.stepper.max_courant if isinstance(self.stepper, Stepper) else 1) * self.n_sub

    @property
    def max_deformation(self) -> float | None:
        inner = self.stepper.max_deformation if isinstance(self.stepper, Stepper) else None
        return None if inner is None else inner * self.n_sub

    def __call__(self, c, velocity, dt, spacing):
        sub = dt / self.n_sub
        return jax.lax.fori_loop(0, self.n_sub, lambda _, c: self.stepper(c, velocity, sub, spacing), c)

    def prepare(self, velocity, dt, spacing):
        return self.stepper.prepare(velocity, dt / self.n_sub, spacing) if isinstance(self.stepper, Stepper) else None

    def regional_step(self, c, velocity, dt, spacing, conditions):
        """``n_sub`` regional steps, each with the boundaries at its own time; the fluxes summed."""
        sub = dt / self.n_sub

        def one(m, c):
            return self.stepper.regional_step(
                c, velocity, sub, spacing, conditions._replace(t=conditions.t + m * sub, dt=sub)
            )

        c, fluxes = one(0, c)

        def body(m, carry):
            c, total = carry
            c, f = one(m, c)
            return c, tuple(t + x for t, x in zip(total, f))

        return jax.lax.fori_loop(1, self.n_sub, body, (c, fluxes))

    def regional_fluxes(self, c, velocity, dt, spacing, conditions):
        return self.regional_step(c, velocity, dt, spacing, conditions)[1]

    def advance(self, c, prepared, velocity, dt, spacing):
        if not isinstance(self.stepper, Stepper):
            return self(c, velocity, dt, spacing)
        sub = dt / self.n_sub
        return jax.lax.fori_loop(
            0, self.n_sub, lambda _, c: self.stepper.advance(c, prepared, velocity, sub, spacing), c
        )


def coarse_grained_rollout(
    step: Stepper,
    c0: Float[Array, "*fine"],
    velocity,
    dt: float,
    spacing: Sequence[float],
    n_steps: int,
    factor: int,
    save_every: int = 1,
    t0: float = 0.0,
    time_series: bool | None = None,
    velocity_map: Callable | None = None,
    sub_steps: int | None = None,
    *,
    check_limits: bool = True,
) -> Float[Array, "n_saved *coarse"]:
    """Solve on the fine grid of ``c0`` with ``factor`` sub-steps of ``dt / factor`` per coarse step.

    ``sub_steps`` (default ``factor``) overrides the number of sub-steps per coarse step, for array
    velocities (a scheme at a larger Courant number takes fewer).

    ``dt`` and ``n_steps`` are the coarse step and count; ``spacing`` is the fine grid's.  Returns the
    states at coarse steps ``0, save_every, ..., n_steps`` block-averaged by ``factor`` (conservative
    coarse-graining).  Array velocities (constant or one per coarse step, or a per-step series with
    ``velocity_map`` as in :func:`rollout`) are held for the ``factor`` sub-steps; a velocity function
    of time is evaluated at every sub-step's own midpoint.  ``check_limits``: as in :func:`rollout`
    (the sub-steps' limits, for concrete array velocities).
    """
    ndim = c0.ndim

    def post(c):
        return coarsen_concentration(c, factor, ndim)

    if callable(velocity):
        if sub_steps not in (None, factor):
            raise ValueError("sub_steps applies to array velocities only")
        return rollout(step, c0, velocity, dt / factor, spacing, n_steps * factor, save_every * factor, t0, post=post)
    sub_steps = factor if sub_steps is None else sub_steps
    stepper = step if sub_steps == 1 else Repeated(step, sub_steps)
    return rollout(
        stepper,
        c0,
        velocity,
        dt,
        spacing,
        n_steps,
        save_every,
        t0,
        time_series,
        post,
        velocity_map,
        check_limits=check_limits,
    )


def batched_rollout(
    step: Stepper,
    c0: Float[Array, "sample *space"],
    velocity: tuple[Array, ...],
    dt: float,
    spacing: Sequence[float],
    n_steps: int,
    *,
    check_limits: bool = True,
) -> Float[Array, "sample n_steps+1 *space"]:
    """:func:`rollout` of every sample ``(sample, n_steps + 1, *space)``, one velocity (series) per sample.

    ``check_limits``: as in :func:`rollout`, every sample's velocity checked once before the samples are mapped.
    """
    time_series = velocity[0].ndim == c0.ndim + 1
    if check_limits:
        _check(step, tuple(u[:, :n_steps] for u in velocity) if time_series else velocity, dt, spacing)

    def one(c, vel):
        return rollout(step, c, vel, dt, spacing, n_steps, time_series=time_series, check_limits=False)

    return jax.vmap(one)(c0, velocity)
