"""The stepper abstraction: every scheme is a :class:`Stepper`, and steppers compose.

A :class:`Stepper` is an equinox Module called as ``stepper(c, velocity, dt, spacing) -> c_next``:
``c`` is ``(x,)`` or ``(y, x)``; ``velocity[a]`` is the + face velocity along array axis ``a`` (same
shape as ``c``); ``spacing[a]`` the cell size along axis ``a``.  Steppers are unbatched (batch with
``jax.vmap``), pure, and jit-able; nothing here calls ``jax.jit``.

Every stepper declares what the wrappers around it need to know, so that no wrapper inspects another
type's fields:

* ``name``: its short name, as on the command line and in tables;
* ``reach``: the cells per side (along every axis) that one step reads to update a cell, or ``None``
  when unknown or global (a network's receptive field, a min-max rescaling): what
  :func:`~learned_advection.numerics.sharding.sharded` exchanges between blocks;
* ``max_courant``: the largest face Courant number the step is meant for (an integer; 1 for the
  ordinary steps), which bounds :class:`~learned_advection.numerics.limiters.FCT`'s low-order flux;
* ``max_deformation``: the largest deformation number (:func:`~learned_advection.numerics.grids.deformation_number`)
  the step is declared sound for, or ``None`` where the Courant limit is the only one (the ordinary steps,
  and the bounded large steps, which stay in range at any deformation).

A :class:`FluxForm` stepper also gives its step as fluxes (:meth:`FluxForm.fluxes`), which is what
:class:`~learned_advection.numerics.limiters.FCT` limits.  The time-stepping schemes are small types of
their own (:mod:`~learned_advection.numerics.time_stepping`: Lin & Rood, its flux-form semi-Lagrangian
large step, unsplit forward Euler, SSP-RK3), a learned correction composes with one
(:class:`~learned_advection.numerics.corrected.Corrected`), and the wrappers
(:class:`~learned_advection.numerics.limiters.FCT`, :class:`~learned_advection.numerics.symmetry.D4Average`,
:class:`~learned_advection.numerics.rollout.Repeated`, :class:`~learned_advection.numerics.sharding.Sharded`)
take any stepper.  The classical schemes by name: :mod:`~learned_advection.numerics.schemes`.
"""

import abc
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
from equinox import AbstractVar
from jaxtyping import Array, Float

from learned_advection.numerics.fluxform import divergence_of_faces, net_outflow


class Stepper(eqx.Module):
    """Abstract base of every scheme: ``__call__(c, velocity, dt, spacing) -> c_next`` (unbatched).

    ``name`` (a field or a property of each concrete stepper) is its short name, as on the command line
    and in tables; :attr:`reach` and :attr:`max_courant` describe the step for the wrappers.
    """

    name: AbstractVar[str]

    @abc.abstractmethod
    def __call__(
        self,
        c: Float[Array, "*space"],
        velocity: Sequence[Float[Array, "*space"]],
        dt: float,
        spacing: Sequence[float],
    ) -> Float[Array, "*space"]:
        """Advance ``c`` by one step of ``dt``."""

    @property
    def reach(self) -> int | None:
        """Cells per side (along every axis) that one step reads to update a cell; ``None``: unknown or global."""
        return None

    @property
    def max_courant(self) -> int:
        """The largest face Courant number the step is meant for (1: the ordinary step)."""
        return 1

    @property
    def domain(self):
        """The boundaries of the domain the step runs on (:class:`~learned_advection.numerics.boundaries.Boundaries`),
        or ``None``: periodic along every axis (every stepper but a regional one)."""
        return None

    @property
    def max_deformation(self) -> float | None:
        """The largest deformation number ``max_a max |u_a[i+1/2] - u_a[i-1/2]| dt / dx_a`` the step is declared
        sound for (a large step's departure regions stay ordered below it); ``None``: no limit but the Courant one."""
        return None

    def prepare(self, velocity: Sequence[Array], dt: float, spacing: Sequence[float]):
        """What the step computes from the flow alone (a pytree), for :meth:`advance`; ``None`` here.

        A steady run (:func:`~learned_advection.numerics.rollout.rollout` with a constant velocity) calls it
        once and every step calls :meth:`advance` with it, instead of recomputing it each step.
        """
        return None

    def advance(
        self, c: Float[Array, "*space"], prepared, velocity: Sequence[Array], dt: float, spacing: Sequence[float]
    ) -> Float[Array, "*space"]:
        """One step with ``prepared = self.prepare(velocity, dt, spacing)``: bitwise equal to ``self(c, velocity, dt, spacing)``."""
        return self(c, velocity, dt, spacing)

    def regional_fluxes(
        self, c: Float[Array, "*space"], velocity: Sequence[Array], dt: float, spacing: Sequence[float], conditions
    ) -> tuple[Array, ...]:
        """The step's fluxes (Courant units) on faces ``-1/2 .. n - 1/2`` of every axis of a domain with the
        boundaries ``conditions`` (:class:`~learned_advection.numerics.boundaries.BoundaryConditions`; ``velocity``
        with ``n + 1`` faces along a non-periodic axis): the step is ``c`` minus their divergence, and the first
        and last faces are what crosses the boundaries.  A stepper that has no such form refuses."""
        raise ValueError(f"the {self.name} step runs on periodic domains only (it has no boundary form)")

    def regional_step(
        self, c: Float[Array, "*space"], velocity: Sequence[Array], dt: float, spacing: Sequence[float], conditions
    ) -> tuple[Float[Array, "*space"], tuple[Array, ...]]:
        """One step on a domain with the boundaries ``conditions``: ``(c_next, fluxes)``, the fluxes as in
        :meth:`regional_fluxes` (the boundary faces are the mass that crossed).  By default ``c`` minus their
        divergence; a step that also clips its round-off (:class:`~learned_advection.numerics.limiters.FCT`) or
        takes sub-steps overrides it."""
        fluxes = self.regional_fluxes(c, velocity, dt, spacing, conditions)
        return c - divergence_of_faces(fluxes), fluxes


class Wrapper(Stepper):
    """A stepper built on another one (``stepper``); its name is the inner name with ``+suffix``.

    By default it is meant for the inner stepper's Courant numbers and its reach is unknown; a wrapper
    that knows how far it reads overrides :attr:`~learned_advection.numerics.steppers.Stepper.reach`.
    """

    stepper: Stepper
    suffix: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return f"{self.stepper.name}+{self.suffix}"

    @property
    def max_courant(self) -> int:
        return self.stepper.max_courant

    @property
    def max_deformation(self) -> float | None:
        return self.stepper.max_deformation


class FluxForm(Stepper):
    """A flux-form stepper: the step is ``c - net_outflow(fluxes(c, velocity, dt, spacing))``.

    The fluxes are in Courant units at the + face of every cell along every axis (see
    :mod:`~learned_advection.numerics.fluxform`); mass is conserved for any fluxes, and
    :class:`~learned_advection.numerics.limiters.FCT` can bound them.  A subclass may override
    ``__call__`` with a faster form of the same step (equal to round-off).
    """

    @abc.abstractmethod
    def fluxes(
        self, c: Float[Array, "*space"], velocity: Sequence[Array], dt: float, spacing: Sequence[float]
    ) -> tuple[Array, ...]:
        """The step's fluxes in Courant units at the + faces, one array per axis."""

    def __call__(self, c, velocity, dt, spacing):
        return c - net_outflow(self.fluxes(c, velocity, dt, spacing))
