"""A flux-form step plus a correction to its face values (a learned model's), still in flux form."""

from __future__ import annotations

import equinox as eqx

from learned_advection.numerics.fluxform import (
    check_shape,
    courant_numbers,
    face_divergence,
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
    step time of PPM's large step); equal to ``c - net_outflow(self.fluxes(...))`` to round-off, and with a
    zero correction bitwise ``c - net_outflow(base.fluxes(...))``.

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

    def __call__(self, c, velocity, dt, spacing):
        check_shape(c)
        courant = courant_numbers(velocity, dt, spacing)
        out = c - net_outflow(self.base.fluxes(c, velocity, dt, spacing))
        for a, extra in enumerate(self.correction.extended(c, velocity, dt, spacing)):
            out = out - face_divergence(with_previous_face(courant[a], a) * extra, a)
        return out
