"""A flux-form step plus a correction to its face values (a learned model's), still in flux form."""

from __future__ import annotations

import equinox as eqx
from jaxtyping import Array

from learned_advection.numerics.fluxform import (
    check_shape,
    close_walls,
    courant_numbers,
    divergence_of_faces,
    extended_courant,
    face_divergence,
    materialize,
    net_outflow,
    with_previous_face,
)
from learned_advection.numerics.interpolation import Interpolation
from learned_advection.numerics.steppers import FluxForm


class Corrected(FluxForm):
    """``base``'s step with its face values corrected: the flux along axis ``a`` gains
    ``courant[a] * correction[a]``, the correction computed from the step's initial state.

    Still flux form (mass is kept), so :class:`~learned_advection.numerics.limiters.FCT` bounds it like any
    other.  The step is ``base``'s fluxes' update minus the correction's divergence, taken from the
    correction on faces ``-1/2 .. n - 1/2`` (:meth:`~learned_advection.numerics.interpolation.Interpolation.extended`:
    one slice each side, no roll, so XLA keeps the base step's fused loops -- rolls there doubled the
    step time of PPM's large step), both computed once (:meth:`split_fluxes`); equal to
    ``c - net_outflow(self.fluxes(...))`` to round-off, and with a zero correction bitwise
    ``c - net_outflow(base.fluxes(...))``.  :class:`~learned_advection.numerics.limiters.Safeguard` limits the
    correction against the base step's result.

    On a regional domain (:meth:`regional_split_fluxes`) the base step's boundary form plus the correction's
    (a ``correction`` with ``regional(c, velocity, dt, spacing, conditions)``: its values on faces
    ``-1/2 .. n - 1/2``); nothing crosses a wall.

    Attributes
    ----------
    base
        The flux-form step corrected (e.g. PPM's large step,
        :class:`~learned_advection.numerics.time_stepping.FFSL`).
    correction
        The corrections to the face values, per axis (an
        :class:`~learned_advection.numerics.interpolation.Interpolation`).
    name
        Short name.
    """

    base: FluxForm
    correction: Interpolation
    name: str = eqx.field(static=True, default="corrected")

    @property
    def reach(self) -> int | None:
        base, extra = self.base.reach, self.correction.reach
        return None if base is None or extra is None else max(base, extra)

    @property
    def max_courant(self) -> int:
        return self.base.max_courant

    @property
    def max_deformation(self) -> float | None:
        return self.base.max_deformation

    def fluxes(self, c, velocity, dt, spacing):
        courant = courant_numbers(velocity, dt, spacing)
        extra = self.correction(c, velocity, dt, spacing)
        return tuple(f + cr * d for f, cr, d in zip(self.base.fluxes(c, velocity, dt, spacing), courant, extra))

    def split_fluxes(self, c, velocity, dt, spacing) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
        """``(base, correction)``: the base step's fluxes (Courant units, + faces) and the correction's fluxes
        ``courant * correction`` on faces ``-1/2 .. n - 1/2`` along each axis (length ``n + 1``), each computed
        once (:func:`~learned_advection.numerics.fluxform.materialize`: every cell reads them at two faces)."""
        check_shape(c)
        courant = courant_numbers(velocity, dt, spacing)
        base = self.base.fluxes(c, velocity, dt, spacing)
        extra = tuple(
            with_previous_face(courant[a], a) * d
            for a, d in enumerate(self.correction.extended(c, velocity, dt, spacing))
        )
        return materialize((base, extra))

    def __call__(self, c, velocity, dt, spacing):
        base, extra = self.split_fluxes(c, velocity, dt, spacing)
        out = c - net_outflow(base)
        for a, f in enumerate(extra):
            out = out - face_divergence(f, a)
        return out

    def regional_split_fluxes(
        self, c, velocity, dt, spacing, conditions
    ) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
        """:meth:`split_fluxes` on a domain with the boundaries ``conditions``: the base step's fluxes
        (:meth:`~learned_advection.numerics.steppers.Stepper.regional_fluxes`) and the correction's, both on
        faces ``-1/2 .. n - 1/2``, zero on walls."""
        check_shape(c)
        regional = getattr(self.correction, "regional", None)
        if regional is None:
            raise ValueError(
                f"the {self.name} step runs on periodic domains only (its correction has no boundary form)"
            )
        courant = extended_courant(courant_numbers(velocity, dt, spacing), conditions)
        base = tuple(self.base.regional_fluxes(c, velocity, dt, spacing, conditions))
        extra = close_walls(
            tuple(cr * d for cr, d in zip(courant, regional(c, velocity, dt, spacing, conditions))), conditions
        )
        return materialize((base, extra))

    def regional_fluxes(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        base, extra = self.regional_split_fluxes(c, velocity, dt, spacing, conditions)
        return tuple(b + e for b, e in zip(base, extra))

    def regional_step(self, c, velocity, dt, spacing, conditions):
        base, extra = self.regional_split_fluxes(c, velocity, dt, spacing, conditions)
        return c - divergence_of_faces(base) - divergence_of_faces(extra), tuple(b + e for b, e in zip(base, extra))
