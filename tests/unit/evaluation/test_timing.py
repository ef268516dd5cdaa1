"""The one timing loop (evaluation.timing) and what is derived from it, on a fake clock: each blocking
run advances the clock by a set time, so the answers are exact and no test depends on the machine's speed."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.data.reference import Trajectories
from learned_advection.evaluation import scheme_bench, timing
from learned_advection.flows import velocity as vel_mod
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics.grids import Grid


@pytest.fixture
def fake_clock(monkeypatch):
    """``set(durations)``: the runs waited for take these seconds in turn (the first is the warm-up)."""
    clock = {"now": 0.0, "durations": iter(())}

    def block(x):
        clock["now"] += next(clock["durations"])
        return x

    monkeypatch.setattr(timing.time, "perf_counter", lambda: clock["now"])
    monkeypatch.setattr(timing.jax, "block_until_ready", block)

    def set_durations(*durations):
        clock["durations"] = iter(durations)

    return set_durations


def test_calls_are_timed_after_an_untimed_warm_up(fake_clock):
    fake_clock(100.0, 5.0, 1.0, 3.0)
    assert timing.time_calls(lambda x: x, (0,), repeats=3) == [5.0, 1.0, 3.0]
    fake_clock(100.0, 5.0, 1.0, 3.0)
    assert timing.median_seconds(lambda x: x, (0,), repeats=3) == 3.0  # the median, not the mean or the minimum


def test_bench_scan_is_timed_per_step(fake_clock):
    fake_clock(100.0, 8.0, 2.0, 4.0)
    assert scheme_bench.time_scan(lambda c: c + 1.0, jnp.zeros(3), n_steps=4, repeats=3) == [2.0, 0.5, 1.0]


def test_ms_per_step_is_the_median_run_per_step_in_milliseconds(fake_clock):
    grid = Grid((8, 8), (1.0, 1.0))
    velocity = tuple(
        np.broadcast_to(np.asarray(u, np.float32), (1, 4, 8, 8)) for u in vel_mod.random_sinusoidal(grid, seed=0)
    )
    data = Trajectories(np.zeros((1, 5, 8, 8), np.float32), velocity, 0.05, grid)
    model = build_model(ModelConfig(ndim=2, layers=1, filters=2, stencil=(2, 3)), jax.random.PRNGKey(0))
    fake_clock(100.0, 0.8, 0.2, 0.4)
    assert timing.ms_per_step(model, data, n_steps=4, repeats=3) == pytest.approx(1e3 * 0.4 / 4)
