"""The stepper of a run: a classical scheme by name (bounded on its large-step path above Courant
number 1) or a learned model from a checkpoint, and the largest Courant number each takes."""

from __future__ import annotations

from learned_advection.data.netcdf.problem import Problem
from learned_advection.errors import UserError
from learned_advection.numerics import schemes
from learned_advection.numerics.limits import COURANT_SLACK
from learned_advection.numerics.schemes import SCHEMES
from learned_advection.numerics.steppers import Stepper, Wrapper
from learned_advection.numerics.time_stepping import LinRood

# The largest Courant number of a run: the classical reconstructions take any step up to it on the
# flux-form semi-Lagrangian path (above 1: inside FCT against a large-step upwind flux, so no value
# leaves the initial range); see docs/results.md for their accuracy against the step.
LARGE_COURANT = 4
# COURANT_SLACK (defined in numerics.limits, used here as before): a Courant number within it of a limit
# is at the limit (round-off in dt = cfl * dx / max|u|): a run at 1 + 1e-12 takes the ordinary step, as
# the plan accepts it for the schemes limited to 1.


def supported_courant(scheme: str | None) -> float:
    """The largest Courant number ``scheme`` runs at.

    Parameters
    ----------
    scheme : str or None
        A scheme's name, ``"learned"`` or ``None``.

    Returns
    -------
    float
        :data:`LARGE_COURANT` for the classical Lin & Rood schemes (they take the flux-form
        semi-Lagrangian large step, see :func:`~learned_advection.numerics.schemes.scheme`), 1 for the
        learned models and for no scheme given, a scheme's own stable limit otherwise.
    """
    if scheme is None or scheme == "learned" or scheme not in SCHEMES:
        return 1.0
    s = SCHEMES[scheme]
    if isinstance(s, LinRood):
        return float(LARGE_COURANT)
    return float(s.stable_courant)


def is_learned(step) -> bool:
    """Whether ``step`` is a learned model (:class:`~learned_advection.learned.models.LearnedModel`), maybe
    inside wrappers (e.g. sharded): a model trained at one time step.

    Parameters
    ----------
    step : Stepper

    Returns
    -------
    bool
    """
    try:
        from learned_advection.learned.models import LearnedModel
    except ImportError:  # no learned models in this installation
        return False
    while True:
        if isinstance(step, LearnedModel):
            return True
        if not isinstance(step, Wrapper):
            return False
        step = step.stepper


def get_stepper(scheme: str, problem: Problem, model=None, courant: float = 1.0) -> Stepper:
    """The stepper of a classical scheme by name, or ``"learned"`` from the checkpoint ``model``.

    Parameters
    ----------
    scheme : str
        A name of :data:`SCHEMES`, or ``"learned"``.
    problem : Problem
        The problem of the run (a learned model is loaded for its grid).
    model : path or str, optional
        Checkpoint folder, or ``"pretrained"``: only with ``scheme="learned"``, which needs it.
    courant : float, default 1.0
        The run's largest Courant number; a classical scheme above 1 (beyond round-off,
        :data:`COURANT_SLACK`) takes the bounded large-step path (:func:`~learned_advection.numerics.schemes.scheme`).

    Returns
    -------
    Stepper

    Raises
    ------
    UserError
        An unknown scheme, a model with a classical scheme or none with the learned one.
    """
    if scheme == "learned":
        if model is None:
            raise UserError("--scheme learned needs --model PATH (a checkpoint)")
        try:
            from learned_advection.learned.checkpoint import load_stepper
        except ImportError as e:
            raise UserError(f"the learned scheme is not available in this installation ({e})") from None
        return load_stepper(model, problem.grid)
    if model is not None:
        raise UserError(f"--model is only used with --scheme learned, not {scheme}")
    if scheme not in SCHEMES:
        raise UserError(f"unknown scheme {scheme!r}; choose one of {', '.join([*SCHEMES, 'learned'])}")
    try:
        return schemes.scheme(scheme, courant if courant > 1 + COURANT_SLACK else 1.0)
    except ValueError as e:  # a large step of a scheme that has none
        raise UserError(str(e)) from None
