"""The time-stepping schemes, one small type each: how a step combines the directions.

* :class:`LinRood` -- the symmetric Lin & Rood (1996) splitting of a stencil reconstruction (the classical
  schemes), on one padded copy of the field;
* :class:`FFSL` -- the same splitting with flux-form semi-Lagrangian operators: Courant numbers above 1
  (the large step);
* :class:`Unsplit` -- forward Euler with every direction from the same state, over any
  :class:`~learned_advection.numerics.interpolation.Interpolation` (the learned model's update, as in the
  paper's code; the scheme class of jax-cfd's ``advect_van_leer``);
* :class:`SSPRK3` -- three unsplit stages combined as the third-order SSP Runge-Kutta method, for
  method-of-lines reconstructions (WENO5-Z).

In 1-D the three first are the same step.  Each is a :class:`~learned_advection.numerics.steppers.FluxForm`
stepper (its :meth:`~learned_advection.numerics.steppers.FluxForm.fluxes` are what
:class:`~learned_advection.numerics.limiters.FCT` limits) and declares its ``reach`` and ``max_courant``.
"""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx

from learned_advection.numerics.ffsl import MAX_DEFORMATION
from learned_advection.numerics.fluxform import (
    check_shape,
    courant_numbers,
    lin_rood_fluxes_halo,
    lin_rood_fluxes_regional,
    lin_rood_halo_courant,
    lin_rood_step_halo,
    lin_rood_step_prepared,
    net_outflow,
    ssp_rk3_fluxes,
    ssp_rk3_fluxes_regional,
)
from learned_advection.numerics.interpolation import Interpolation, Reconstruction
from learned_advection.numerics.steppers import FluxForm


def _check_stable_courant(value: float) -> None:
    if not 0 < value <= 1:
        raise ValueError(f"stable_courant must be in (0, 1], got {value!r}")


class LinRood(FluxForm):
    """Symmetric Lin & Rood (1996) steps of a stencil reconstruction: ``c + T_y(c + A_x c / 2) + T_x(c + A_y c / 2)``.

    Outer operators in flux form (mass exact), inner half-steps in advective form (a constant field stays
    constant), all on one periodically padded copy (XLA fuses the step into a few loops); a steady flow's
    face Courant numbers are prepared once (:meth:`prepare`).

    Attributes
    ----------
    name
        Short name (command line, tables).
    interpolation
        The stencil reconstruction.
    order
        Formal order of accuracy, when known.
    description
        One line for listings.
    stable_courant
        The largest per-axis Courant number at which the step is stable, when below 1.
    """

    name: str = eqx.field(static=True)
    interpolation: Reconstruction
    order: int | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    stable_courant: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _check_stable_courant(self.stable_courant)

    @property
    def reach(self) -> int:
        return self.interpolation.halo

    def fluxes(self, c, velocity, dt, spacing):
        rec = self.interpolation
        return lin_rood_fluxes_halo(rec.faces, rec.halo, c, courant_numbers(velocity, dt, spacing))

    def __call__(self, c, velocity, dt, spacing):
        rec = self.interpolation
        return lin_rood_step_halo(rec.faces, rec.halo, c, courant_numbers(velocity, dt, spacing))

    def regional_fluxes(self, c, velocity, dt, spacing, conditions):
        rec = self.interpolation
        return lin_rood_fluxes_regional(rec.faces, rec.halo, c, courant_numbers(velocity, dt, spacing), conditions)

    def prepare(self, velocity, dt, spacing):
        """The face Courant numbers on the padded copy and the inner operators' factors
        (:func:`~learned_advection.numerics.fluxform.lin_rood_halo_courant`)."""
        return lin_rood_halo_courant(courant_numbers(velocity, dt, spacing), self.interpolation.halo)

    def advance(self, c, prepared, velocity, dt, spacing):
        return lin_rood_step_prepared(self.interpolation.faces, self.interpolation.halo, c, prepared)


class FFSL(FluxForm):
    """Lin & Rood steps with flux-form semi-Lagrangian operators: face Courant numbers up to ``max_courant``.

    Whole cells are moved exactly, the fraction from the reconstruction at the departure cell
    (:mod:`~learned_advection.numerics.ffsl`); below Courant 1 it is the :class:`LinRood` step.  Not bounded:
    wrap it in :class:`~learned_advection.numerics.limiters.FCT` to keep it inside the initial range.

    Attributes
    ----------
    name
        Short name (that of the scheme it takes large steps of).
    interpolation
        The stencil reconstruction.
    max_courant
        The largest face Courant number (an integer >= 1; a face beyond it moves ``max_courant`` whole cells).
    order
        Formal order of accuracy, when known.
    description
        One line for listings.
    """

    name: str = eqx.field(static=True)
    interpolation: Reconstruction
    max_courant: int = eqx.field(static=True, default=2)
    order: int | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    stable_courant: ClassVar[float] = 1.0

    def __check_init__(self):
        if isinstance(self.max_courant, bool) or not isinstance(self.max_courant, int) or self.max_courant < 1:
            raise ValueError(f"max_courant must be an integer >= 1, got {self.max_courant!r}")

    @property
    def reach(self) -> int:
        return self.interpolation.halo + self.max_courant

    @property
    def max_deformation(self) -> float | None:
        """:data:`~learned_advection.numerics.ffsl.MAX_DEFORMATION` above Courant number 1; ``None`` at 1 (the
        :class:`LinRood` step)."""
        return MAX_DEFORMATION if self.max_courant > 1 else None

    def fluxes(self, c, velocity, dt, spacing):
        rec = self.interpolation
        return lin_rood_fluxes_halo(rec.faces, rec.halo, c, courant_numbers(velocity, dt, spacing), self.max_courant)

    def __call__(self, c, velocity, dt, spacing):
        check_shape(c)
        return c - net_outflow(self.fluxes(c, velocity, dt, spacing))

    def regional_fluxes(self, c, velocity, dt, spacing, conditions):
        rec = self.interpolation
        courant = courant_numbers(velocity, dt, spacing)
        return lin_rood_fluxes_regional(rec.faces, rec.halo, c, courant, conditions, self.max_courant)

    def prepare(self, velocity, dt, spacing):
        """The face Courant numbers."""
        return courant_numbers(velocity, dt, spacing)

    def advance(self, c, prepared, velocity, dt, spacing):
        rec = self.interpolation
        return lin_rood_step_halo(rec.faces, rec.halo, c, prepared, self.max_courant)


class Unsplit(FluxForm):
    """Forward Euler in flux form with every direction's face values from the same state, any interpolation.

    Attributes
    ----------
    name
        Short name.
    interpolation
        The face values (a reconstruction takes its padded-copy form, bitwise the rolls form).
    order
        Formal order of accuracy, when known.
    description
        One line for listings.
    stable_courant
        The largest per-axis Courant number at which the step is stable, when below 1.
    """

    name: str = eqx.field(static=True)
    interpolation: Interpolation
    order: int | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    stable_courant: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _check_stable_courant(self.stable_courant)

    @property
    def reach(self) -> int | None:
        return self.interpolation.reach

    @property
    def max_courant(self) -> int:
        return self.interpolation.max_courant

    @property
    def max_deformation(self) -> float | None:
        """:data:`~learned_advection.numerics.ffsl.MAX_DEFORMATION` when the face values take large steps."""
        return MAX_DEFORMATION if self.max_courant > 1 else None

    def fluxes(self, c, velocity, dt, spacing):
        check_shape(c)
        courant = courant_numbers(velocity, dt, spacing)
        return tuple(cr * f for cr, f in zip(courant, self.interpolation(c, velocity, dt, spacing)))

    def __call__(self, c, velocity, dt, spacing):
        check_shape(c)
        return self.interpolation.unsplit_update(c, courant_numbers(velocity, dt, spacing), velocity, dt, spacing)


class SSPRK3(FluxForm):
    """Third-order SSP Runge-Kutta (Shu & Osher 1988) of unsplit forward-Euler stages, for a method-of-lines
    stencil reconstruction (:func:`~learned_advection.numerics.fluxform.ssp_rk3_fluxes`, on padded copies).

    Attributes
    ----------
    name
        Short name.
    interpolation
        The stencil reconstruction.
    order
        Formal order of accuracy, when known.
    description
        One line for listings.
    stable_courant
        The largest per-axis Courant number at which the step is stable (WENO5-Z in 2-D: 0.7).
    """

    name: str = eqx.field(static=True)
    interpolation: Reconstruction
    order: int | None = eqx.field(static=True, default=None)
    description: str = eqx.field(static=True, default="")
    stable_courant: float = eqx.field(static=True, default=1.0)

    def __check_init__(self):
        _check_stable_courant(self.stable_courant)

    @property
    def reach(self) -> int:
        return 3 * self.interpolation.halo  # three stages

    def fluxes(self, c, velocity, dt, spacing):
        return ssp_rk3_fluxes(self.interpolation.padded(), c, courant_numbers(velocity, dt, spacing))

    def regional_fluxes(self, c, velocity, dt, spacing, conditions):
        rec = self.interpolation
        return ssp_rk3_fluxes_regional(rec.faces, rec.halo, c, courant_numbers(velocity, dt, spacing), conditions)
