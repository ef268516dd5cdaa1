"""A step's declared limits, checked: the Courant number and the deformation number of a run, the sub-steps
that bring a run within them, and the time loops that refuse a concrete run beyond them."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from learned_advection.errors import UserError
from learned_advection.evaluation.deformation_limit import cellular_flow
from learned_advection.numerics.grids import Grid, deformation_number, max_courant
from learned_advection.numerics.limits import (
    COURANT_SLACK,
    check_limits,
    courant_slack,
    fewest_substeps,
    substeps_needed,
)
from learned_advection.numerics.rollout import Repeated, batched_rollout, coarse_grained_rollout, rollout
from learned_advection.numerics.schemes import PPM, scheme

GRID = Grid.square(32, 2 * np.pi)


def _uniform(courant: float, n: int = 16) -> tuple[np.ndarray, ...]:
    """1-D: a uniform flow of Courant number ``courant`` at dt = 1 on cells of 1."""
    return (np.full(n, float(courant)),)


def test_the_courant_limit_with_its_slack_and_the_message():
    check_limits(PPM, _uniform(1.0), 1.0, (1.0,))
    check_limits(PPM, _uniform(1.0 + 0.5 * COURANT_SLACK), 1.0, (1.0,))  # round-off: at the limit
    with pytest.raises(UserError) as refused:
        check_limits(PPM, _uniform(1.01), 1.0, (1.0,))
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("Courant number 1.01 > 1, the limit of ppm's step: use a smaller dt")
    with pytest.raises(UserError, match=r"Courant number 1\.000001 > 1"):  # enough digits to be above
        check_limits(PPM, _uniform(1.000001), 1.0, (1.0,))


def test_the_deformation_limit_of_the_unbounded_large_step_and_none_for_the_bounded_one():
    velocity = cellular_flow(2, 3.5, 1.0, GRID)
    assert deformation_number(velocity, 1.0, GRID.spacing) == pytest.approx(1.34, abs=0.005)
    unbounded, bounded = scheme("ppm", 3.5, bounded=False), scheme("ppm", 3.5)
    assert (unbounded.max_deformation, bounded.max_deformation) == (0.9, None)
    with pytest.raises(UserError) as refused:
        check_limits(unbounded, velocity, 1.0, GRID.spacing, what="in the cells flow")
    assert str(refused.value).startswith(
        "deformation number 1.34 in the cells flow > 0.9, the limit of ppm's large step (its departure regions "
        "fold): use a smaller dt"
    )
    check_limits(bounded, velocity, 1.0, GRID.spacing)  # in range at any deformation
    check_limits(unbounded, velocity, 0.5, GRID.spacing)  # D = 0.67 at half the step
    check_limits(unbounded, (np.full(GRID.shape, 3.5), np.full(GRID.shape, -3.5)), 1.0, (1.0, 1.0))  # D = 0


def test_a_series_is_checked_field_by_field_and_the_first_field_beyond_is_named():
    velocity = cellular_flow(2, 3.5, 1.0, GRID)
    calm = tuple(0.5 * u for u in velocity)  # D = 0.67
    series = tuple(np.stack([c, c, u, c]) for c, u in zip(calm, velocity))
    step = scheme("ppm", 3.5, bounded=False)
    check_limits(step, tuple(u[[0, 1, 3]] for u in series), 1.0, GRID.spacing)
    with pytest.raises(UserError, match=r"^deformation number 1\.34 \(velocity field 2\) > 0\.9"):
        check_limits(step, series, 1.0, GRID.spacing)
    with pytest.raises(UserError, match=r"\(velocity field 12\)"):  # numbered in a longer series
        check_limits(step, series, 1.0, GRID.spacing, field_offset=10)
    batched = tuple(np.stack([u, u]) for u in series)  # (sample, time, y, x): every leading index
    with pytest.raises(UserError, match="deformation number 1.34"):
        check_limits(step, batched, 1.0, GRID.spacing)
    assert substeps_needed(step, series, 1.0, GRID.spacing) == 2


def test_a_flow_scaled_to_the_limit_in_float64_and_cast_to_float32_is_at_the_limit():
    velocity = tuple(jnp.asarray(u, jnp.float32) for u in cellular_flow(1, 4.0, 1.0, GRID))
    assert max_courant(velocity, 1.0, GRID.spacing) > 4 + COURANT_SLACK  # float32 round-off above 4
    assert courant_slack(velocity, 4) > courant_slack(cellular_flow(1, 4.0, 1.0, GRID), 4) == COURANT_SLACK
    check_limits(scheme("ppm", 4.0), velocity, 1.0, GRID.spacing)
    with pytest.raises(UserError, match="Courant number 4.0"):
        check_limits(scheme("ppm", 4.0), velocity, 1.0001, GRID.spacing)


STEPPERS = {
    "ppm": PPM,
    "ppm large step 2": scheme("ppm", 2.0, bounded=False),
    "ppm large step 4": scheme("ppm", 4.0, bounded=False),
    "ppm bounded large step 3": scheme("ppm", 3.0),
}


def _within(step, velocity, dt, spacing) -> bool:
    try:
        check_limits(step, velocity, dt, spacing)
    except UserError:
        return False
    return True


@given(
    name=st.sampled_from(sorted(STEPPERS)),
    shape=st.sampled_from([(6,), (5, 4), (3, 6), (2, 4, 5)]),
    seed=st.integers(0, 2**16),
    scale=st.floats(1e-3, 1e3),
    dt=st.floats(1e-3, 1e2),
)
def test_substeps_needed_is_the_fewest_within_both_limits(name, shape, seed, scale, dt):
    step = STEPPERS[name]
    nd = 2 if len(shape) == 3 else len(shape)  # a 3-D shape is a 2-D series
    spacing = tuple(np.random.default_rng(seed + 1).uniform(0.1, 2.0, nd))
    rng = np.random.default_rng(seed)
    velocity = tuple(scale * rng.standard_normal(shape) for _ in range(nd))
    n = substeps_needed(step, velocity, dt, spacing)
    assert n >= 1
    assert _within(step, velocity, dt / n, spacing)
    assert n == 1 or not _within(step, velocity, dt / (n - 1), spacing)
    assert n == 1 or not _within(step, velocity, dt, spacing)
    courant = max_courant(velocity, dt / n, spacing)
    assert courant <= step.max_courant + 1e-8
    if step.max_deformation is not None:
        assert deformation_number(velocity, dt / n, spacing) <= step.max_deformation * (1 + 1e-12)


def test_substeps_needed_of_a_huge_or_non_finite_step():
    n = substeps_needed(PPM, _uniform(1.0), 1e30, (1.0,))
    assert 1e30 / (1 + 2 * COURANT_SLACK) <= n <= 1e30  # (the slack: a little under)
    with pytest.raises(UserError, match="not a finite number"):
        substeps_needed(PPM, _uniform(np.inf), 1.0, (1.0,))


@given(first=st.integers(1, 10**40), guess=st.integers(-5, 10**6))
def test_fewest_substeps_finds_the_threshold_from_any_guess(first, guess):
    assert fewest_substeps(lambda n: n >= first, guess) == first


# --------------------------------------------------------------------------- the time loops
C0 = jnp.asarray(np.exp(-((np.arange(16) - 8.0) ** 2) / 4), jnp.float32)


def test_a_concrete_rollout_beyond_the_limit_is_refused_before_it_runs():
    fast = (jnp.full(16, 1.5, jnp.float32),)
    with pytest.raises(UserError, match=r"Courant number 1\.5 > 1, the limit of ppm's step"):
        rollout(PPM, C0, fast, 1.0, (1.0,), 4)
    beyond = rollout(PPM, C0, fast, 1.0, (1.0,), 4, check_limits=False)  # on purpose
    assert beyond.shape == (5, 16)
    series = (jnp.stack([jnp.full(16, 0.5, jnp.float32)] * 3 + [fast[0]]),)
    rollout(PPM, C0, series, 1.0, (1.0,), 3)  # the fourth field is not used
    with pytest.raises(UserError, match=r"\(velocity field 3\)"):
        rollout(PPM, C0, series, 1.0, (1.0,), 4)


def test_a_traced_rollout_is_not_checked():
    fast = (jnp.full(16, 1.5, jnp.float32),)
    run = jax.jit(lambda c, v: rollout(PPM, c, v, 1.0, (1.0,), 2))
    assert run(C0, fast).shape == (3, 16)
    assert rollout(PPM, C0, lambda t: fast, 1.0, (1.0,), 2).shape == (3, 16)  # a function of time: not checked


def test_the_batched_and_coarse_grained_rollouts_check_what_they_run():
    fast = (jnp.stack([jnp.full(16, 0.5, jnp.float32), jnp.full(16, 1.5, jnp.float32)]),)
    with pytest.raises(UserError, match="Courant number 1.5"):
        batched_rollout(PPM, jnp.stack([C0, C0]), fast, 1.0, (1.0,), 2)
    assert batched_rollout(PPM, jnp.stack([C0, C0]), fast, 1.0, (1.0,), 2, check_limits=False).shape == (2, 3, 16)
    # 2 sub-steps of Courant 0.75 per coarse step of Courant 1.5: within; 1 sub-step: beyond
    assert coarse_grained_rollout(PPM, C0, (fast[0][1],), 1.0, (1.0,), 2, 2).shape == (3, 8)
    with pytest.raises(UserError, match="Courant number 1.5 > 1, the limit of ppm's step"):
        coarse_grained_rollout(PPM, C0, (fast[0][1],), 1.0, (1.0,), 2, 2, sub_steps=1)
    # a Repeated step declares its sub-steps' limits: checked as one step of dt
    check_limits(Repeated(PPM, 2), (fast[0][1],), 1.0, (1.0,))
