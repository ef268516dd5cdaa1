"""Learned models are ordinary compositions of steppers: the wrappers take them like any classical scheme."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import learned_advection as la
from learned_advection.learned.ablation import LearnedDerivative, LearnedDiffusion, NextState
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.interpolation import NetworkCorrection, NetworkInterpolation, SweptNetworkInterpolation
from learned_advection.learned.models import LearnedModel, build_model, compose, with_options
from learned_advection.numerics.corrected import Corrected
from learned_advection.numerics.time_stepping import FFSL, LinRood, Unsplit

GRID = la.Grid.square(32, 2 * np.pi)
SHIPPED = {"paper": "pretrained", "hybrid": "pretrained:turbulence-2d-k8-hybrid"}


@pytest.fixture(scope="module")
def problem():
    vel = tuple(jnp.asarray(u, jnp.float32) for u in la.random_sinusoidal(GRID, seed=0, max_speed=3.0))
    x, y = np.meshgrid(*(GRID.centres(a) for a in (1, 0)))
    c0 = jnp.asarray(np.where((x - np.pi) ** 2 + (y - np.pi) ** 2 < 1.5, 1.0, 0.0), jnp.float32)  # sharp: overshoots
    return c0, vel


def _run(step, c0, vel, dt, n=12):
    return np.asarray(jax.jit(lambda c: la.rollout(step, c, vel, dt, GRID.spacing, n))(c0))


@pytest.mark.parametrize("which", list(SHIPPED))
def test_fct_of_a_shipped_model_keeps_the_range_and_is_the_fct_option(which, problem):
    c0, vel = problem
    model = with_options(la.load_stepper(SHIPPED[which], GRID), limiter="none")  # as trained, no limiter
    assert isinstance(model, LearnedModel) and model.reach is None
    # a 2-D ordinary step's FCT option takes the low-order flux in two half steps (bounded up to Courant 1)
    bounded = la.FCT(model, substeps=2 if model.config.max_courant == 1 else None)
    assert bounded.name == "learned+fct" and bounded.max_courant == model.config.max_courant
    states = _run(bounded, c0, vel, model.trained_dt)
    assert states.min() >= -1e-6 and states.max() <= 1 + 1e-6
    np.testing.assert_allclose(states.sum(axis=(1, 2)), float(c0.sum()), rtol=1e-5)
    np.testing.assert_array_equal(states, _run(with_options(model, limiter="fct"), c0, vel, model.trained_dt))
    with pytest.raises(la.UserError, match="trained with dt"):
        bounded(c0, vel, 0.5 * model.trained_dt, GRID.spacing)


@pytest.mark.parametrize("which", list(SHIPPED))
def test_d4_average_of_a_shipped_model_is_the_symmetry_option_and_equivariant(which, problem):
    c0, vel = problem
    model = la.load_stepper(SHIPPED[which], GRID)
    sym = la.D4Average(model)
    dt = model.trained_dt
    step = jax.jit(lambda c, v: sym(c, v, dt, GRID.spacing))
    option = with_options(model, symmetry="d4")
    np.testing.assert_array_equal(
        np.asarray(step(c0, vel)), np.asarray(jax.jit(lambda c, v: option(c, v, dt, GRID.spacing))(c0, vel))
    )
    gc, gv = _element(5, c0, vel)
    np.testing.assert_allclose(
        np.asarray(step(gc, gv)), np.asarray(_element(5, step(c0, vel), vel)[0]), rtol=0, atol=3e-6
    )


def _element(k, c, vel):
    from learned_advection.numerics.symmetry import d4_element

    return d4_element(k, c, vel)


def test_the_configuration_picks_the_composition():
    key = jax.random.PRNGKey(0)
    small = dict(ndim=2, layers=2, filters=4, stencil=(2, 3))
    paper = build_model(ModelConfig(**small), key)
    assert isinstance(paper.stepper, Unsplit) and type(paper.interpolation) is NetworkInterpolation
    ffsl = build_model(ModelConfig(**small, large_step="ffsl", max_courant=3), key)
    assert isinstance(ffsl.interpolation, SweptNetworkInterpolation) and ffsl.max_courant == 3
    hybrid = build_model(ModelConfig(**small, base_scheme="ppm", max_courant=4), key)
    assert isinstance(hybrid.stepper, Corrected) and isinstance(hybrid.stepper.base, FFSL)
    assert isinstance(hybrid.interpolation, NetworkCorrection) and hybrid.max_courant == 4
    small_hybrid = build_model(ModelConfig(**small, base_scheme="vanleer"), key)
    assert isinstance(small_hybrid.stepper.base, LinRood) and small_hybrid.stepper.base == la.VANLEER
    bounded_sym = build_model(ModelConfig(**small, limiter="fct", symmetry="d4"), key)
    assert isinstance(bounded_sym.stepper, la.D4Average) and isinstance(bounded_sym.stepper.stepper, la.FCT)
    for kind, cls in (("diffusion", LearnedDiffusion), ("next-state", NextState), ("derivative", LearnedDerivative)):
        model = build_model(ModelConfig(**small, kind=kind), key)
        assert isinstance(model.stepper, cls) and model.stepper.name == kind and model.reach is None
        c = jnp.ones((8, 8))
        with pytest.raises(TypeError, match="not flux form"):
            la.FCT(model)(c, (c, c), 0.1, (1.0, 1.0))
    # the weights are the network's, in the checkpoint's order, whatever the composition
    leaves = jax.tree_util.tree_leaves(bounded_sym)
    assert len(leaves) == 4 and all(a is b for a, b in zip(leaves, jax.tree_util.tree_leaves(bounded_sym.network)))


def test_a_model_from_a_network_is_the_composition_of_its_own_config():
    cfg = ModelConfig(ndim=2, layers=2, filters=4, stencil=(2, 3))
    model = build_model(cfg, jax.random.PRNGKey(1))
    again = LearnedModel(compose(model.network.config, model.network), trained_dt=0.1, source="x")
    assert again.trained_dt == 0.1 and again.source == "x" and again.config == cfg
    leaves = zip(jax.tree_util.tree_leaves(again), jax.tree_util.tree_leaves(model), strict=True)
    assert all(np.array_equal(a, b) for a, b in leaves)
