"""The library side of ``simulate``: chunked rollouts equal one rollout, resources are estimated and
checked before a run, and the trajectory is streamed to the file chunk by chunk."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection import files
from learned_advection.data import netcdf as io
from learned_advection.data.netcdf import Problem
from learned_advection.errors import UserError
from learned_advection.experiments import simulation as sim
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.steppers import get_scheme


def _problem(ndim: int, series: bool, n_time: int = 40) -> Problem:
    rng = np.random.default_rng(ndim + 2 * series)
    grid = Grid((16,), (1.0,)) if ndim == 1 else Grid((8, 6), (1.0, 0.75))
    lead = (n_time,) if series else ()
    velocity = tuple(rng.uniform(-0.5, 0.5, lead + grid.shape) for _ in range(ndim))
    return Problem(grid, rng.uniform(0, 1, grid.shape), velocity, series)


def _reference(problem: Problem, run: sim.Plan) -> np.ndarray:
    velocity = tuple(jnp.asarray(u, jnp.float32) for u in sim.used_velocity(problem, run.n_steps))
    return np.asarray(rollout(get_scheme("vanleer"), jnp.asarray(problem.concentration, jnp.float32), velocity, run.dt,
                              problem.grid.spacing, run.n_steps, run.save_every, time_series=problem.time_dependent))


def _collect(problem: Problem, run: sim.Plan, **options) -> tuple[np.ndarray, list[sim.Chunk]]:
    states = np.full((run.n_frames,) + problem.grid.shape, np.nan, np.float32)
    states[0] = problem.concentration
    chunks = list(sim.stream(problem, get_scheme("vanleer"), run, **options))
    for chunk in chunks:
        states[chunk.first : chunk.first + len(chunk.frames)] = chunk.frames
    return states, chunks


CHUNKINGS = {  # (ndim, time-dependent velocity, steps, save every, steps of the first chunk, chunk seconds)
    "parts of save intervals, re-chosen shorter": (1, False, 36, 12, 5, 1e-9),
    "parts of save intervals, series, then whole": (2, True, 36, 12, 5, 10.0),
    "whole saved states, a shorter last chunk": (1, True, 40, 4, 12, 10.0),
    "whole saved states, re-chosen longer": (2, False, 40, 1, 3, 10.0),
    "one chunk": (2, True, 35, 35, 100, 10.0),
    "one step per chunk": (1, True, 10, 5, 1, 1e-9),
}


@pytest.mark.parametrize("case", list(CHUNKINGS))
def test_chunked_stream_equals_one_rollout(case):
    """Chunks of whole saved states, parts of the steps between two saved states, re-chosen chunk
    lengths (shorter: ``seconds`` tiny; longer: large) and a shorter last chunk give the states of one
    rollout, each saved state exactly once."""
    ndim, series, n_steps, save_every, first, seconds = CHUNKINGS[case]
    problem = _problem(ndim, series)
    run = sim.plan(problem, n_steps, dt=0.05, save_every=save_every)
    states, chunks = _collect(problem, run, first_chunk_steps=first, chunk_seconds=seconds)
    assert sum(c.steps for c in chunks) == n_steps
    assert sum(len(c.frames) for c in chunks) == run.n_frames - 1
    np.testing.assert_allclose(states, _reference(problem, run), rtol=0, atol=2e-6)


def test_chunks_hold_at_most_the_frame_cap(monkeypatch):
    """However many states are saved, a chunk holds at most CHUNK_BYTES of them (memory bounded)."""
    problem = _problem(1, False)
    monkeypatch.setattr(sim, "CHUNK_BYTES", 5 * 16 * 4)  # five 16-cell float32 states
    run = sim.plan(problem, 400, dt=0.05, save_every=2)
    states, chunks = _collect(problem, run, chunk_seconds=10.0)
    assert max(len(c.frames) for c in chunks) == 5 and len(chunks) >= 40
    np.testing.assert_allclose(states, _reference(problem, run), rtol=0, atol=2e-6)


def test_time_dependent_velocity_is_read_one_chunk_at_a_time(monkeypatch):
    """A velocity series is sliced per chunk (never converted whole): every slice has at most the
    per-chunk step cap of fields."""
    problem = _problem(2, True, n_time=60)
    state_bytes = 8 * 6 * 4
    monkeypatch.setattr(sim, "CHUNK_BYTES", 2 * 5 * state_bytes)  # five steps of two velocity components
    seen = []

    class Recorder(np.ndarray):
        def __getitem__(self, key):
            out = super().__getitem__(key)
            if isinstance(key, slice) and key.start is not None:  # the run's slices (not the [:n_steps] view)
                seen.append(len(out))
            return out

    problem = Problem(problem.grid, problem.concentration, tuple(u.view(Recorder) for u in problem.velocity), True)
    run = sim.plan(problem, 60, dt=0.05, save_every=3)
    states, _ = _collect(problem, run, chunk_seconds=10.0)
    assert seen and max(seen) <= 5
    plain = Problem(problem.grid, problem.concentration, tuple(np.asarray(u) for u in problem.velocity), True)
    np.testing.assert_allclose(states, _reference(plain, run), rtol=0, atol=2e-6)


def test_step_counts_beyond_int32_are_planned_and_chunked():
    """2^31 + 2 steps saved once (an OverflowError before): the first chunk is short and the count exact."""
    problem = _problem(1, False)
    run = sim.plan(problem, 2147483650, dt=0.05, save_every=2147483650)
    assert run.n_frames == 2 and run.frame_times(1, 1)[0] == pytest.approx(0.05 * 2147483650)
    first = next(iter(sim.stream(problem, get_scheme("vanleer"), run)))
    assert first.steps == sim.FIRST_CHUNK_CELL_STEPS // 16 and len(first.frames) == 0
    with pytest.raises(UserError, match=r"--steps must be at most 2\^53"):
        sim.plan(problem, 2**53 + 2, dt=0.05, save_every=2)


def test_resources_refused_in_one_line(tmp_path, monkeypatch):
    problem = _problem(1, False)
    run = sim.plan(problem, 10**9, dt=0.05)
    need = sim.estimate_resources(problem, run, np.float32)
    assert need.disk_bytes >= (10**9 + 1) * 16 * 4
    monkeypatch.setattr(files, "free_bytes", lambda folder: 10 * 2**30)
    with pytest.raises(UserError, match=r"the output \(1000000001 saved states of 16 float32 cells.*needs 67\.1 GiB of disk "
                                        r"but 10\.0 GiB is free"):
        sim.check_resources(problem, run, tmp_path, np.float32)
    small = sim.plan(problem, 100, dt=0.05)
    assert sim.check_resources(problem, small, tmp_path, np.float32).frames_per_chunk == 100
    monkeypatch.setattr(sim, "available_memory", lambda: 1000)
    with pytest.raises(UserError, match=r"the run needs about .* of memory .* but 1000 B is available"):
        sim.check_resources(problem, small, tmp_path, np.float32)


def test_simulate_to_file_streams_and_leaves_nothing_on_interrupt(tmp_path, monkeypatch):
    problem = _problem(2, True)
    run = sim.plan(problem, 40, dt=0.05, save_every=4)
    step = get_scheme("vanleer")
    monkeypatch.setattr(sim, "CHUNK_BYTES", 2 * 8 * 6 * 4)  # at most 2 saved states per chunk
    appended = []
    original = io.TrajectoryWriter.append
    monkeypatch.setattr(io.TrajectoryWriter, "append", lambda self, s, t: appended.append(len(s)) or original(self, s, t))
    done = sim.simulate_to_file(problem, step, run, tmp_path / "out.nc", scheme="vanleer", progress=False)
    ds = io.read_simulation(tmp_path / "out.nc")
    np.testing.assert_allclose(ds["concentration"].values, _reference(problem, run), rtol=0, atol=2e-6)
    np.testing.assert_allclose(ds["time"].values, run.times)
    assert appended[0] == 1 and max(appended[1:]) <= 2 and sum(appended) == run.n_frames
    np.testing.assert_array_equal(done.final, ds["concentration"].values[-1])

    # an interrupt after the first chunk: nothing written, the existing output untouched
    (tmp_path / "old.nc").write_bytes(b"precious")

    real_stream = sim.stream

    def interrupted(*args, **kwargs):
        for chunk in real_stream(*args, **kwargs):
            yield chunk
            raise KeyboardInterrupt  # Ctrl-C after the first chunk

    monkeypatch.setattr(sim, "stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.simulate_to_file(problem, step, run, tmp_path / "old.nc", scheme="vanleer", overwrite=True, progress=False)
    assert (tmp_path / "old.nc").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.nc", "out.nc"]  # no temporary file left


def test_a_run_that_blows_up_stops_and_writes_nothing(tmp_path):
    """A saved state with NaN or Inf is never written with success: one-line refusal naming the step, no file."""
    from learned_advection.numerics.steppers import Stepper

    class BlowsUpAfter(Stepper):
        """Van Leer, except that the state turns to NaN once its mass passes a threshold (a stand-in blow-up)."""

        name: str = "blows-up"

        def __call__(self, c, velocity, dt, spacing):
            nxt = get_scheme("vanleer")(c, velocity, dt, spacing) * 1.5
            return jnp.where(jnp.sum(nxt) > 1e6, jnp.nan, nxt)

    problem = _problem(1, False)
    run = sim.plan(problem, 60, dt=0.05, save_every=4)
    out = tmp_path / "out.nc"
    with pytest.raises(UserError, match=r"blew up: NaN or Inf by step \d+ .*nothing written"):
        sim.simulate_to_file(problem, BlowsUpAfter(), run, out, scheme="blows-up", progress=False)
    assert not out.exists() and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("magnitude", [1e-19, 1e30])
def test_runs_are_exact_at_any_magnitude(magnitude, x64_mode):
    """The run works on the concentration divided by a power of two: a field of 1e-19 (PPM's squared
    differences would underflow in float32) or 1e30 (they would overflow) gives the numbers of the same
    field at magnitude ~1, scaled -- bitwise, as scaling by a power of two is exact."""
    x64_mode(False)
    base = _problem(2, False)
    scale = sim.concentration_scale(base.concentration * magnitude)
    assert scale > 0 and 0.5 <= float(np.max(np.abs(base.concentration * magnitude))) / scale < 1
    tiny = Problem(base.grid, base.concentration * magnitude, base.velocity, False)
    unit = Problem(base.grid, np.asarray(tiny.concentration, np.float64) / scale, base.velocity, False)
    run = sim.plan(unit, 12, dt=0.05, save_every=4)
    got = sim.simulate(tiny, get_scheme("ppm"), run).states
    want = sim.simulate(unit, get_scheme("ppm"), run).states
    np.testing.assert_array_equal(got, want.astype(np.float32) * np.float32(scale))
    assert np.isfinite(got).all() and float(np.abs(got).max()) > 0
