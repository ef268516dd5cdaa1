"""Face values: an :class:`Interpolation` gives the value of ``c`` on the + face of every cell, per axis.

A :class:`Reconstruction` is a classical 1-D stencil reconstruction (:mod:`~learned_advection.numerics.reconstructions`):
it knows its stencil width (``halo``, hence its :attr:`~Interpolation.reach`) and evaluates itself on
padded copies, which is what the time-stepping schemes' fast paths use.  A learned interpolation (a
network's constrained stencil) is another :class:`Interpolation`, with an unknown reach.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence

import equinox as eqx
from jaxtyping import Array

from learned_advection.numerics import reconstructions as rec
from learned_advection.numerics.fluxform import unsplit_step, unsplit_step_halo, with_previous_face


class Interpolation(eqx.Module):
    """Face values of ``c`` on the + face of every cell, per axis: ``__call__(c, velocity, dt, spacing)``.

    :meth:`along` gives one axis (by default all axes are evaluated and one is picked);
    :meth:`extended` the faces ``-1/2 .. n - 1/2``; :meth:`unsplit_update` one unsplit forward-Euler step
    with these face values.  :attr:`reach` (cells per side a face value reads; ``None``: unknown) and
    :attr:`max_courant` (the largest Courant number the values are meant for) describe it to the
    steppers built on it.
    """

    @abc.abstractmethod
    def __call__(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
        """Face values along every axis."""

    @property
    def reach(self) -> int | None:
        """Cells per side of a cell that its + and - face values read; ``None``: unknown or global."""
        return None

    @property
    def max_courant(self) -> int:
        """The largest face Courant number the face values are meant for."""
        return 1

    def along(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float], axis: int) -> Array:
        """Face values along ``axis`` only."""
        return self(c, velocity, dt, spacing)[axis]

    def extended(self, c: Array, velocity: Sequence[Array], dt, spacing: Sequence[float]) -> tuple[Array, ...]:
        """Face values along every axis on faces ``-1/2 .. n - 1/2`` (``n + 1`` along the axis: the last face
        first again); an interpolation that can compute them directly from a padded copy overrides this."""
        return tuple(with_previous_face(f, a) for a, f in enumerate(self(c, velocity, dt, spacing)))

    def unsplit_update(
        self, c: Array, courant: Sequence[Array], velocity: Sequence[Array], dt, spacing: Sequence[float]
    ) -> Array:
        """One forward-Euler flux-form step with every axis's face values from ``c`` (``courant``: the face
        Courant numbers); a reconstruction overrides it with its padded-copy form."""
        return unsplit_step(c, courant, self(c, velocity, dt, spacing))


class Reconstruction(Interpolation):
    """A classical 1-D reconstruction from a stencil function (see :mod:`~learned_advection.numerics.reconstructions`).

    Attributes
    ----------
    faces
        The stencil function ``faces(get, courant)``.
    halo
        Cells needed beyond the face's own pair (the stencil of face ``i + 1/2`` is cells
        ``i - halo + 1 .. i + halo``): the reach of its face values.
    """

    faces: rec.StencilFaces = eqx.field(static=True)
    halo: int = eqx.field(static=True)

    @property
    def reach(self) -> int:
        return self.halo

    def along(self, c, velocity, dt, spacing, axis):
        return rec.periodic(self.faces)(c, velocity[axis] * (dt / spacing[axis]), axis)

    def __call__(self, c, velocity, dt, spacing):
        return tuple(self.along(c, velocity, dt, spacing, a) for a in range(c.ndim))

    def padded(self) -> rec.PeriodicFaces:
        """The reconstruction as ``(c, courant, axis) -> face values`` on a padded copy (same numbers, faster)."""
        return rec.padded(self.faces, self.halo)

    def unsplit_update(self, c, courant, velocity, dt, spacing):
        return unsplit_step_halo(self.faces, self.halo, c, courant)
