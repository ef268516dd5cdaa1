"""The classical schemes by name, and the one builder for a scheme at a Courant number: :func:`scheme`.

:data:`UPWIND`, :data:`VANLEER` and :data:`PPM` are stencil reconstructions in Lin & Rood steps
(:class:`~learned_advection.numerics.time_stepping.LinRood`); :data:`WENO5Z` is a method-of-lines
reconstruction in SSP-RK3 steps (:class:`~learned_advection.numerics.time_stepping.SSPRK3`).  Above Courant
number 1 a Lin & Rood scheme takes its flux-form semi-Lagrangian large step
(:class:`~learned_advection.numerics.time_stepping.FFSL`), bounded by
:class:`~learned_advection.numerics.limiters.FCT` unless asked otherwise.
"""

from __future__ import annotations

import math

from learned_advection.numerics import reconstructions as rec
from learned_advection.numerics.interpolation import Reconstruction
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.steppers import FluxForm, Stepper
from learned_advection.numerics.time_stepping import FFSL, SSPRK3, LinRood


def classical(name: str, order: int, faces: rec.StencilFaces, halo: int, description: str = "") -> LinRood:
    """A classical scheme: a stencil reconstruction in Lin & Rood steps.

    Parameters
    ----------
    name
        Short name.
    order
        Formal order of accuracy.
    faces
        The stencil function (:mod:`~learned_advection.numerics.reconstructions`).
    halo
        Cells the stencil needs beyond the face's own pair.
    description
        One line for listings.
    """
    return LinRood(name, Reconstruction(faces, halo), order, description)


UPWIND = classical("upwind", 1, rec.upwind, 1, "first-order upwind")
VANLEER = classical("vanleer", 2, rec.vanleer, 2, "Van Leer, Lin et al. (1994) monotonic limiter")
PPM = classical("ppm", 3, rec.ppm, 3, "piecewise-parabolic method, Colella & Woodward (1984) monotone limiter")
# Unsplit, so in 2-D the axes' Courant numbers add up: 0.7 per axis keeps their sum within ~1.4, about
# the linear stability limit of the fifth-order upwind scheme with SSP-RK3 (1-D: stable at 1.4); a rough
# field in a diagonal flow stayed bounded at 0.8 per axis and blew up at 0.9 (test_weno.py checks 0.7 and 0.9).
WENO5Z = SSPRK3(
    "weno5z",
    Reconstruction(rec.weno5z, 3),
    5,
    "WENO5-Z, Borges et al. (2008), with SSP-RK3 (Shu & Osher 1988), unsplit; not bounded (use FCT for bounds)",
    stable_courant=0.7,
)

SCHEMES: dict[str, FluxForm] = {s.name: s for s in (UPWIND, VANLEER, PPM, WENO5Z)}


def scheme(name: str, courant: float = 1.0, bounded: bool = True) -> Stepper:
    """The classical scheme ``name`` (one of :data:`SCHEMES`) for face Courant numbers up to ``courant``.

    Up to 1 the scheme itself.  Above 1 its flux-form semi-Lagrangian large step (Lin & Rood 1996: whole
    cells moved exactly, the fraction from the reconstruction at the departure cell) with
    ``max_courant = ceil(courant)``, inside :class:`~learned_advection.numerics.limiters.FCT` when
    ``bounded`` (against a large-step upwind flux, so no value leaves the initial range; the plain large
    step undershoots).

    Parameters
    ----------
    name
        ``"upwind"``, ``"vanleer"``, ``"ppm"`` or ``"weno5z"`` (large steps: the first three).
    courant
        The largest face Courant number of the run.
    bounded
        Above Courant 1, wrap the large step in FCT.

    Returns
    -------
    Stepper
        The scheme.
    """
    try:
        base = SCHEMES[name]
    except KeyError:
        raise ValueError(f"unknown scheme {name!r}; choose one of {', '.join(SCHEMES)}") from None
    if courant <= 1:
        return base
    if not isinstance(base, LinRood):
        raise ValueError(f"large steps (Courant numbers above 1) need a Lin & Rood scheme, not {name!r}")
    step = FFSL(base.name, base.interpolation, math.ceil(courant), base.order, base.description)
    return FCT(step) if bounded else step
