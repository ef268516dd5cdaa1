"""Learned models (Zhuang et al. 2020) as ordinary compositions of steppers, and the model a checkpoint holds.

The network is one part among others (:mod:`~learned_advection.learned.interpolation`):

* the paper's model: the network's constrained stencil as the face values of unsplit flux-form steps,
  ``NetworkUnsplit("learned", NetworkInterpolation(network))`` (``large_step="ffsl"``: the learned stencil on the
  flux-form semi-Lagrangian path, :class:`~learned_advection.learned.interpolation.SweptNetworkInterpolation`);
* a hybrid (``base_scheme="vanleer"`` or ``"ppm"``): the classical scheme's own step (Lin & Rood, on its
  large-step path up to ``max_courant``) with a learned correction to its face values,
  ``Corrected(base, NetworkCorrection(network))``: a zero network output is the classical scheme;
* the paper's ablations (``kind``): their own steppers (:mod:`~learned_advection.learned.ablation`).

``limiter="fct"`` wraps the step in :class:`~learned_advection.numerics.limiters.FCT` (``"safeguard"``, for a
hybrid: :class:`~learned_advection.numerics.limiters.Safeguard`, its correction limited against the base step) and ``symmetry="d4"`` in
:class:`~learned_advection.numerics.symmetry.D4Average`, as for any other stepper.  :func:`compose` builds the
composition from a :class:`~learned_advection.learned.config.ModelConfig`; :class:`LearnedModel` carries it
with what a checkpoint knows (the trained time step and cell size, where it came from) and is itself an
ordinary stepper: ``la.FCT(model)``, ``la.D4Average(model)`` and ``la.sharded(model, mesh)`` work as for a
classical scheme.

The face value is a sum of the *raw* concentration's cells, the flux is ``courant * face value`` and the
update is in flux form: mass is conserved for any weights.  The network sees the concentration min-max
rescaled to [0, 1] (a constant field maps to 0), so the scheme is semi-linear: ``H(aC + b) = a H(C) + b``
for ``a > 0`` (in a divergence-free flow).

On a regional domain (:class:`~learned_advection.numerics.regional.Regional`) the paper's model and the hybrid,
bare or inside FCT or Safeguard, run their boundary forms: the network and its stencils read the ghost cells
of the side (inflow values, a wall's mirror image, an outflow side's edge cell repeated), rescaled with the
interior's min-max map (:meth:`~learned_advection.learned.network.Network.regional`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import equinox as eqx
import jax
from jaxtyping import Array, Float, PRNGKeyArray

from learned_advection.errors import UserError, parse_names
from learned_advection.learned.ablation import ABLATIONS
from learned_advection.learned.config import (
    ModelConfig,
)
from learned_advection.learned.interpolation import (
    NetworkCorrection,
    NetworkInterpolation,
    NetworkUnsplit,
    SweptNetworkInterpolation,
)
from learned_advection.learned.network import (
    Network,
)
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.limiters import FCT, Safeguard
from learned_advection.numerics.schemes import scheme
from learned_advection.numerics.steppers import Stepper, Wrapper
from learned_advection.numerics.symmetry import D4Average

NAME = "learned"


def compose(config: ModelConfig, network: Network) -> Stepper:
    """The stepper a model of ``config`` steps with, over ``network``'s weights.

    Parameters
    ----------
    config
        The model settings (``network.config`` for a model as trained; other inference options otherwise).
    network
        The CNN.
    """
    if config.base_scheme != "none":
        base = scheme(config.base_scheme, config.max_courant, bounded=False)
        step: Stepper = Corrected(base, NetworkCorrection(network), NAME)
    elif config.kind == "interpolation":
        interpolation = (
            SweptNetworkInterpolation(network) if config.large_step == "ffsl" else NetworkInterpolation(network)
        )
        step = NetworkUnsplit(NAME, interpolation)
    else:
        step = ABLATIONS[config.kind](network)
    if config.limiter == "fct":  # interpolation kinds only (ModelConfig refuses it for the others)
        # a 2-D ordinary step: the low-order flux in two donor-cell half steps, bounded at every Courant number
        # up to 1 (one step is bounded only while a cell's outgoing Courant numbers sum to at most 1)
        step = FCT(step, substeps=2 if config.ndim == 2 and config.max_courant == 1 else None)
    elif config.limiter == "safeguard":  # a base scheme's correction only (ModelConfig refuses it otherwise)
        step = Safeguard(step)
    return D4Average(step) if config.symmetry == "d4" else step


def _find(tree, kind):
    """The first part of ``tree`` (a composition of modules) of type ``kind``."""
    for part in jax.tree_util.tree_leaves(tree, is_leaf=lambda x: isinstance(x, kind)):
        if isinstance(part, kind):
            return part
    raise TypeError(f"no {kind} in this model")


class LearnedModel(Wrapper):
    """A learned model: a composition of steppers over one network, with what its checkpoint knows.

    A model loaded from a checkpoint declares the time step and cell size it was trained for and refuses a
    concrete ``dt`` that differs (:class:`~learned_advection.errors.UserError`); a traced ``dt`` is not
    checked.  Its ``fluxes`` (what :class:`~learned_advection.numerics.limiters.FCT` limits), ``reach`` and
    ``max_courant`` are those of the composition.

    Attributes
    ----------
    stepper
        The composition (:func:`compose`).
    trained_dt
        The time step it was trained at (``None``: not checked).
    trained_spacing
        The cell size it was trained at.
    source
        Where it came from (a checkpoint folder), for messages.
    """

    stepper: Stepper
    trained_dt: float | None = eqx.field(static=True, default=None, converter=lambda x: None if x is None else float(x))
    trained_spacing: tuple[float, ...] | None = eqx.field(
        static=True, default=None, converter=lambda x: None if x is None else tuple(float(d) for d in x)
    )
    source: str = eqx.field(static=True, default="", converter=str)

    @property
    def name(self) -> str:
        return NAME

    @property
    def network(self) -> Network:
        """The CNN (the model's only weights)."""
        return _find(self.stepper, Network)

    @property
    def config(self) -> ModelConfig:
        return self.network.config

    @property
    def convs(self):
        return self.network.convs

    @property
    def interpolation(self) -> NetworkInterpolation | NetworkCorrection:
        """The network's face values (its corrections to them with a ``base_scheme``)."""
        return _find(self.stepper, (NetworkInterpolation, NetworkCorrection))

    @property
    def reach(self) -> int | None:
        return self.stepper.reach

    # -- pieces (for tests and diagnostics)
    def raw_outputs(self, c, velocity, dt, spacing) -> Float[Array, "m *space"]:
        return self.network(c, velocity, dt, spacing)

    def coefficients(self, c, velocity, dt, spacing) -> tuple[Float[Array, "s *space"], ...]:
        return self.interpolation.coefficients(c, velocity, dt, spacing)

    def face_values(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        return self.interpolation(c, velocity, dt, spacing)

    def _check(self, c, dt) -> None:
        if c.ndim != self.config.ndim:
            raise ValueError(f"this model is {self.config.ndim}-D but the concentration has shape {c.shape}")
        if (
            self.trained_dt is not None
            and isinstance(dt, (int, float))
            and not math.isclose(float(dt), self.trained_dt, rel_tol=1e-6)
        ):
            raise UserError(
                f"model {self.source or 'checkpoint'} was trained with dt = {self.trained_dt:g}; got dt = {float(dt):g}"
            )

    def fluxes(self, c, velocity, dt, spacing) -> tuple[Array, ...]:
        """The step's fluxes (Courant units), when the composition is flux form."""
        self._check(c, dt)
        fluxes = getattr(self.stepper, "fluxes", None)
        if fluxes is None:
            raise TypeError(f"the {self.stepper.name} step of this model is not flux form (no fluxes to limit)")
        return fluxes(c, velocity, dt, spacing)

    def split_fluxes(self, c, velocity, dt, spacing) -> tuple[tuple[Array, ...], tuple[Array, ...]]:
        """A hybrid's base fluxes and correction fluxes
        (:meth:`~learned_advection.numerics.corrected.Corrected.split_fluxes`), what
        :class:`~learned_advection.numerics.limiters.Safeguard` limits."""
        self._check(c, dt)
        split = getattr(self.stepper, "split_fluxes", None)
        if split is None:
            raise TypeError(
                f"the {self.stepper.name} step of this model is not a corrected step (no correction to limit)"
            )
        return split(c, velocity, dt, spacing)

    def __call__(
        self,
        c: Float[Array, "*space"],
        velocity: Sequence[Float[Array, "*space"]],
        dt,
        spacing: Sequence[float],
    ) -> Float[Array, "*space"]:
        self._check(c, dt)
        return self.stepper(c, velocity, dt, spacing)

    def regional_fluxes(self, c, velocity, dt, spacing, conditions) -> tuple[Array, ...]:
        """The composition's fluxes on faces ``-1/2 .. n - 1/2`` of a regional domain
        (:meth:`~learned_advection.numerics.steppers.Stepper.regional_fluxes`)."""
        self._check(c, dt)
        return self.stepper.regional_fluxes(c, velocity, dt, spacing, conditions)

    def regional_step(self, c, velocity, dt, spacing, conditions):
        """The composition's step on a regional domain: ``(c_next, fluxes)``
        (:meth:`~learned_advection.numerics.steppers.Stepper.regional_step`)."""
        self._check(c, dt)
        return self.stepper.regional_step(c, velocity, dt, spacing, conditions)

    def regional_split_fluxes(self, c, velocity, dt, spacing, conditions):
        """A hybrid's base and correction fluxes on a regional domain, what
        :class:`~learned_advection.numerics.limiters.Safeguard` limits there."""
        self._check(c, dt)
        split = getattr(self.stepper, "regional_split_fluxes", None)
        if split is None:
            raise ValueError(f"the {self.stepper.name} step of this model runs on periodic domains only")
        return split(c, velocity, dt, spacing, conditions)


def build_model(config: ModelConfig, key: PRNGKeyArray) -> LearnedModel:
    """A freshly initialised model (deterministic for a key).

    Parameters
    ----------
    config
        The model settings.
    key
        The random key of the initialisation.
    """
    return LearnedModel(compose(config, Network(config, key=key)))


def with_options(model: LearnedModel, **options) -> LearnedModel:
    """The same weights with other settings (inference options: ``limiter``, ``symmetry``, ``precision``,
    ``max_courant``, ...): :func:`compose` of the changed :class:`~learned_advection.learned.config.ModelConfig`.
    ``limiter="fct"`` and ``symmetry="d4"`` are ``FCT(model)`` and ``D4Average(model)`` with the settings recorded.

    Parameters
    ----------
    model
        A learned model.
    **options
        :class:`~learned_advection.learned.config.ModelConfig` fields to change.
    """
    config = dataclasses.replace(model.config, **options)
    network = eqx.tree_at(lambda n: n.convs, Network(config, key=jax.random.PRNGKey(0)), model.network.convs)
    return LearnedModel(compose(config, network), model.trained_dt, model.trained_spacing, model.source)


VARIANTS: dict[str, dict] = {
    "plain": {},
    "unguarded": {"limiter": "none"},
    "safeguard": {"limiter": "safeguard"},
    "fct": {"limiter": "fct"},
    "d4": {"symmetry": "d4"},
    "d4+fct": {"symmetry": "d4", "limiter": "fct"},
    "bf16": {"precision": "bfloat16"},
}
"""A saved model's inference variants by name (``--variants``): ``plain`` is the model as saved (a shipped model
with the limiter it ships with), ``unguarded`` without any limiter, the others :func:`with_options` of
these settings (and no other limiter, symmetry or precision option)."""


def parse_variants(text: str) -> list[str]:
    """``"plain,fct"`` -> ``["plain", "fct"]``: keys of :data:`VARIANTS`.

    Parameters
    ----------
    text : str
        Comma-separated keys of :data:`VARIANTS`.

    Raises
    ------
    UserError
        If a name is unknown or none is given.
    """
    return parse_names(text, VARIANTS, "variant")


def variant_model(model: LearnedModel, name: str) -> tuple[str, LearnedModel]:
    """``(suffix, stepper)`` of the variant ``name`` (a key of :data:`VARIANTS`) of a saved model.

    ``"plain"`` is the model as saved, its suffix that of its limiter (``""`` for none, ``"-safeguard"``,
    ``"-fct"``); the others get ``"-" + name`` (``"d4+fct"``: ``"-d4-fct"``).
    """
    if name == "plain":
        return ("" if model.config.limiter == "none" else f"-{model.config.limiter}"), model
    base = {"limiter": "none", "symmetry": "none", "precision": "float32"}
    return "-" + name.replace("+", "-"), with_options(model, **{**base, **VARIANTS[name]})


def variant_models(model: LearnedModel, names) -> dict:
    """``{method suffix: stepper}`` of the variants ``names`` (keys of :data:`VARIANTS`) of a saved model
    (:func:`variant_model`; a variant with the suffix of one before it is left out: ``plain`` of a model shipped
    with FCT is ``fct``)."""
    out = {}
    for name in names:
        suffix, step = variant_model(model, name)
        out.setdefault(suffix, step)
    return out
