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
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.interpolation import Interpolation, Reconstruction
from learned_advection.numerics.limiters import FCT
from learned_advection.numerics.steppers import FluxForm, Stepper
from learned_advection.numerics.time_stepping import FFSL, SSPRK3, LinRood, Unsplit


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


def large_step(scheme: LinRood, max_courant: int) -> FFSL:
    """``scheme`` (a Lin & Rood scheme) on the flux-form semi-Lagrangian path, for Courant numbers up to
    ``max_courant`` (an integer).

    Parameters
    ----------
    scheme
        A :class:`~learned_advection.numerics.time_stepping.LinRood` scheme.
    max_courant
        The largest face Courant number.
    """
    if not isinstance(scheme, LinRood):
        raise ValueError(f"large steps (max_courant > 1) need a Lin & Rood scheme, not {scheme.name!r}")
    return FFSL(scheme.name, scheme.interpolation, max_courant, scheme.order, scheme.description)


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
    step = large_step(base, math.ceil(courant))
    return FCT(step) if bounded else step


# --------------------------------------------------------------------------- compatibility shims
# The flag-driven names before the time-stepping types; to be removed once callers use scheme(), LinRood,
# FFSL, Unsplit, SSPRK3 and Corrected.
SPLITTINGS = ("lin-rood", "unsplit", "ssp-rk3")


def get_scheme(name: str, max_courant: int = 1) -> FluxForm:
    """``scheme(name, max_courant, bounded=False)``: the scheme, or its large step for ``max_courant > 1``."""
    return scheme(name, max_courant, bounded=False)


def FluxFormStepper(
    name: str,
    interpolation: Interpolation,
    splitting: str = "lin-rood",
    order: int | None = None,  # noqa: N802
    description: str = "",
    max_courant: int = 1,
    stable_courant: float = 1.0,
    correction: Interpolation | None = None,
) -> FluxForm:
    """The time-stepping type that ``splitting`` (and ``max_courant``, ``correction``) named."""
    if splitting not in SPLITTINGS:
        raise ValueError(f"splitting must be one of {', '.join(SPLITTINGS)}, got {splitting!r}")
    if splitting == "ssp-rk3":
        step = SSPRK3(name, interpolation, order, description, stable_courant)
    elif splitting == "unsplit":
        step = Unsplit(name, interpolation, order, description, stable_courant)
    elif max_courant > 1:
        step = FFSL(name, interpolation, max_courant, order, description)
    else:
        step = LinRood(name, interpolation, order, description, stable_courant)
    return step if correction is None else Corrected(step, correction, name)
