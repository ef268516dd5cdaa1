"""One stepper type for every scheme: classical, learned, wrapped or loaded from a checkpoint.

A :class:`Stepper` is an equinox Module called as ``stepper(c, velocity, dt, spacing) -> c_next``:
``c`` is ``(x,)`` or ``(y, x)``; ``velocity[a]`` is the + face velocity along array axis ``a`` (same
shape as ``c``); ``spacing[a]`` the cell size along axis ``a``.  Steppers are unbatched (batch with
``jax.vmap``), pure, and jit-able; nothing here calls ``jax.jit``.  Each one declares its ``name`` and
whatever else it knows about itself (``order`` for classical schemes; the trained ``dt`` and grid for a
loaded model, see :class:`learned_advection.learned.models.LearnedInterpolation`).

A :class:`FluxFormStepper` is the one flux-form machinery: an :class:`Interpolation` (the face values)
plus a way to combine directions (``"lin-rood"``, ``"unsplit"`` or ``"ssp-rk3"``, see
:mod:`learned_advection.numerics.fluxform`).  Classical schemes are flux-form steppers over a
:class:`Reconstruction`; the learned model is one over a network's interpolation.  Wrappers compose:
:class:`learned_advection.numerics.limiters.FCT` bounds any flux-form stepper,
:class:`learned_advection.numerics.symmetry.D4Average` symmetrises any 2-D stepper and
:class:`learned_advection.numerics.rollout.Repeated` sub-steps any stepper.
"""


import abc
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
from equinox import AbstractVar
from jaxtyping import Array, Float

from learned_advection.numerics import reconstructions as rec
from learned_advection.numerics.fluxform import (
    check_shape,
    courant_numbers,
    face_divergence,
    lin_rood_fluxes,
    lin_rood_fluxes_halo,
    lin_rood_halo_courant,
    lin_rood_step,
    lin_rood_step_halo,
    lin_rood_step_prepared,
    net_outflow,
    ssp_rk3_fluxes,
    unsplit_step,
    unsplit_step_halo,
    with_previous_face,
)

SPLITTINGS = ("lin-rood", "unsplit", "ssp-rk3")


class Stepper(eqx.Module):
    """Abstract base of every scheme: ``__call__(c, velocity, dt, spacing) -> c_next`` (unbatched).

    ``name`` (a field or a property of each concrete stepper) is its short name, as on the command line
    and in tables.
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

    def prepare(self, velocity: Sequence[Array], dt: float, spacing: Sequence[float]):
        """What the step computes from the flow alone (a pytree), for :meth:`advance`; ``None`` here.

        A steady run (:func:`~learned_advection.numerics.rollout.rollout` with a constant velocity) calls it
        once and every step calls :meth:`advance` with it, instead of recomputing it each step.
        """
        return None

    def advance(self, c: Float[Array, "*space"], prepared, velocity: Sequence[Array], dt: float,
                spacing: Sequence[float]) -> Float[Array, "*space"]:
        """One step with ``prepared = self.prepare(velocity, dt, spacing)``: bitwise equal to ``self(c, velocity, dt, spacing)``."""
        return self(c, velocity, dt, spacing)


class Wrapper(Stepper):
    """A stepper built on another one (``stepper``); its name is the inner name with ``+suffix``."""

    stepper: Stepper
    suffix: ClassVar[str] = ""

    @property
    def name(self) -> str:
        return f"{self.stepper.name}+{self.suffix}"


class Interpolation(eqx.Module):
    """Face values of ``c`` on the + face of every cell, per axis: ``__call__(c, velocity, dt, spacing)``.

    :meth:`along` gives one axis (what a split scheme asks for); by default it evaluates all axes and
    picks one, which a classical reconstruction overrides.
    """

    @abc.abstractmethod
    def __call__(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
        """Face values along every axis."""

    def along(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float], axis: int) -> Array:
        """Face values along ``axis`` only."""
        return self(c, velocity, dt, spacing)[axis]

    def extended(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
        """Face values along every axis on faces ``-1/2 .. n - 1/2`` (``n + 1`` along the axis: the last face
        first again); an interpolation that can compute them directly from a padded copy overrides this."""
        return tuple(with_previous_face(f, a) for a, f in enumerate(self(c, velocity, dt, spacing)))


class Reconstruction(Interpolation):
    """A classical 1-D reconstruction from a stencil function (see :mod:`~learned_advection.numerics.reconstructions`).

    ``halo``: cells needed beyond the face's own pair (the stencil of face ``i + 1/2`` is cells
    ``i - halo + 1 .. i + halo``).
    """

    faces: rec.StencilFaces = eqx.field(static=True)
    halo: int = eqx.field(static=True)

    def along(self, c, velocity, dt, spacing, axis):
        return rec.periodic(self.faces)(c, velocity[axis] * (dt / spacing[axis]), axis)

    def __call__(self, c, velocity, dt, spacing):
        return tuple(self.along(c, velocity, dt, spacing, a) for a in range(c.ndim))


class FluxFormStepper(Stepper):
    """Flux-form finite volumes with the face interpolation as a parameter.

    ``splitting="lin-rood"``: symmetric Lin & Rood (1996) in 2-D (a :class:`Reconstruction` takes the
    fused halo path); ``"unsplit"``: forward Euler with every direction from the same state (a
    :class:`Reconstruction` on padded copies too; the scheme class of jax-cfd's ``advect_van_leer``).  1-D is
    the same for both.  ``"ssp-rk3"``: three unsplit forward-Euler stages combined as the third-order
    SSP Runge-Kutta (:func:`~learned_advection.numerics.fluxform.ssp_rk3_fluxes`), for method-of-lines
    reconstructions such as WENO.  :meth:`fluxes` gives the step as fluxes, which is what
    :class:`~learned_advection.numerics.limiters.FCT` limits.
    """

    name: str = eqx.field(static=True)
    interpolation: Interpolation
    splitting: str = eqx.field(static=True, default="lin-rood")
    order: int | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    max_courant: int = eqx.field(static=True, default=1)
    stable_courant: float = eqx.field(static=True, default=1.0)
    """The largest per-axis Courant number at which the step is stable, when below 1 (WENO5Z: 0.7)."""
    correction: Interpolation | None = None
    """Corrections to the face values (a learned model's): the flux along axis ``a`` gains
    ``courant[a] * correction[a]``, computed from the step's initial state (still flux form: mass is kept)."""

    def __check_init__(self):
        if self.splitting not in SPLITTINGS:
            raise ValueError(f"splitting must be one of {', '.join(SPLITTINGS)}, got {self.splitting!r}")
        if not 0 < self.stable_courant <= 1:
            raise ValueError(f"stable_courant must be in (0, 1], got {self.stable_courant!r}")
        if not isinstance(self.max_courant, int) or self.max_courant < 1:
            raise ValueError(f"max_courant must be an integer >= 1, got {self.max_courant!r}")
        if self.max_courant > 1 and not (isinstance(self.interpolation, Reconstruction) and self.splitting == "lin-rood"):
            raise ValueError("large steps (max_courant > 1) need a stencil reconstruction with the lin-rood splitting")

    @property
    def large_steps(self) -> bool:
        """Whether the step takes the flux-form semi-Lagrangian path (Courant numbers up to ``max_courant``)."""
        return self.max_courant > 1

    def _faces(self, velocity, dt, spacing):
        interp = self.interpolation
        return lambda field, courant, axis: interp.along(field, velocity, dt, spacing, axis)

    def _stage_faces(self, velocity, dt, spacing):
        """The face values of a Runge-Kutta stage: a stencil reconstruction on a padded copy (same numbers, faster)."""
        if isinstance(self.interpolation, Reconstruction):
            return rec.padded(self.interpolation.faces, self.interpolation.halo)
        return self._faces(velocity, dt, spacing)

    def fluxes(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """The step's fluxes in Courant units at the + faces: ``self(c, ...) = c - net_outflow(fluxes)``."""
        base = self._base_fluxes(c, velocity, dt, spacing)
        if self.correction is None:
            return base
        courant = courant_numbers(velocity, dt, spacing)
        extra = self.correction(c, velocity, dt, spacing)
        return tuple(f + cr * d for f, cr, d in zip(base, courant, extra))

    def _base_fluxes(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        courant = courant_numbers(velocity, dt, spacing)
        if self.large_steps:
            return lin_rood_fluxes_halo(self.interpolation.faces, self.interpolation.halo, c, courant, self.max_courant)
        if self.splitting == "ssp-rk3":
            return ssp_rk3_fluxes(self._stage_faces(velocity, dt, spacing), c, courant)
        if self.splitting == "unsplit" or c.ndim == 1:
            check_shape(c)
            faces = self.interpolation(c, velocity, dt, spacing)
            return tuple(cr * f for cr, f in zip(courant, faces))
        return lin_rood_fluxes(self._faces(velocity, dt, spacing), c, courant)

    def prepare(self, velocity, dt, spacing):
        """The Lin & Rood path of a :class:`Reconstruction`: its face Courant numbers (the halo path's padded
        ones and inner-operator factors, :func:`~learned_advection.numerics.fluxform.lin_rood_halo_courant`;
        on the large-step path the Courant numbers); ``None`` for the other splittings and with a correction."""
        if self.splitting != "lin-rood" or not isinstance(self.interpolation, Reconstruction) or self.correction is not None:
            return None
        courant = courant_numbers(velocity, dt, spacing)
        return courant if self.large_steps else lin_rood_halo_courant(courant, self.interpolation.halo)

    def advance(self, c, prepared, velocity, dt, spacing):
        if prepared is None:
            return self(c, velocity, dt, spacing)
        faces, halo = self.interpolation.faces, self.interpolation.halo
        if self.large_steps:
            return lin_rood_step_halo(faces, halo, c, prepared, self.max_courant)
        return lin_rood_step_prepared(faces, halo, c, prepared)

    def __call__(self, c, velocity, dt, spacing):
        if self.correction is not None:
            # the base step as it is, then the correction's divergence from its fluxes on faces -1/2 .. n - 1/2
            # (one slice each side, no roll: XLA then keeps the base step's fused loops; equal to
            # ``c - net_outflow(self.fluxes(...))`` to round-off)
            check_shape(c)
            courant = courant_numbers(velocity, dt, spacing)
            out = c - net_outflow(self._base_fluxes(c, velocity, dt, spacing))
            for a, extra in enumerate(self.correction.extended(c, velocity, dt, spacing)):
                out = out - face_divergence(with_previous_face(courant[a], a) * extra, a)
            return out
        courant = courant_numbers(velocity, dt, spacing)
        if self.splitting == "ssp-rk3":
            return c - net_outflow(ssp_rk3_fluxes(self._stage_faces(velocity, dt, spacing), c, courant))
        if self.splitting == "unsplit":
            if isinstance(self.interpolation, Reconstruction):
                return unsplit_step_halo(self.interpolation.faces, self.interpolation.halo, c, courant)
            check_shape(c)
            return unsplit_step(c, courant, self.interpolation(c, velocity, dt, spacing))
        if isinstance(self.interpolation, Reconstruction):
            max_whole = self.max_courant if self.large_steps else 0
            return lin_rood_step_halo(self.interpolation.faces, self.interpolation.halo, c, courant, max_whole)
        return lin_rood_step(self._faces(velocity, dt, spacing), c, courant)


def classical(name: str, order: int, faces: rec.StencilFaces, halo: int, description: str = "") -> FluxFormStepper:
    """A classical scheme: a stencil reconstruction in the Lin & Rood flux-form stepper."""
    return FluxFormStepper(name, Reconstruction(faces, halo), "lin-rood", order, description)


UPWIND = classical("upwind", 1, rec.upwind, 1, "first-order upwind")
VANLEER = classical("vanleer", 2, rec.vanleer, 2, "Van Leer, Lin et al. (1994) monotonic limiter")
PPM = classical("ppm", 3, rec.ppm, 3, "piecewise-parabolic method, Colella & Woodward (1984) monotone limiter")
# Unsplit, so in 2-D the axes' Courant numbers add up: 0.7 per axis keeps their sum within ~1.4, about
# the linear stability limit of the fifth-order upwind scheme with SSP-RK3 (1-D: stable at 1.4); a rough
# field in a diagonal flow stayed bounded at 0.8 per axis and blew up at 0.9 (test_weno.py checks 0.7 and 0.9).
WENO5Z = FluxFormStepper(
    "weno5z", Reconstruction(rec.weno5z, 3), "ssp-rk3", 5,
    "WENO5-Z, Borges et al. (2008), with SSP-RK3 (Shu & Osher 1988), unsplit; not bounded (use FCT for bounds)",
    stable_courant=0.7,
)

SCHEMES: dict[str, FluxFormStepper] = {s.name: s for s in (UPWIND, VANLEER, PPM, WENO5Z)}


def get_scheme(name: str, max_courant: int = 1) -> FluxFormStepper:
    """The classical scheme called ``name`` (one of :data:`SCHEMES`), for Courant numbers up to ``max_courant``.

    ``max_courant > 1`` gives the same reconstruction on the flux-form semi-Lagrangian path (Lin & Rood 1996:
    whole cells moved exactly, the fraction from the reconstruction at the departure cell); wrap it in
    :class:`~learned_advection.numerics.limiters.FCT` to keep it inside the initial range.
    """
    try:
        scheme = SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; choose one of {', '.join(SCHEMES)}") from None
    return scheme if max_courant == 1 else large_step(scheme, max_courant)


def large_step(scheme: FluxFormStepper, max_courant: int) -> FluxFormStepper:
    """``scheme`` on the flux-form semi-Lagrangian path, for Courant numbers up to ``max_courant`` (an integer)."""
    return FluxFormStepper(scheme.name, scheme.interpolation, scheme.splitting, scheme.order, scheme.description,
                           max_courant=max_courant, stable_courant=scheme.stable_courant)
