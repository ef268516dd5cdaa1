"""The library side of ``simulate``: chunked rollouts equal one rollout, resources are estimated and
checked before a run, and the trajectory is streamed to the file chunk by chunk; many tracers in one
batched run, and velocities interpolated in time to each step's midpoint."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection import files
from learned_advection import transport as sim
from learned_advection.data import netcdf as io
from learned_advection.data.netcdf import Problem
from learned_advection.errors import UserError
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid, max_courant
from learned_advection.numerics.rollout import rollout
from learned_advection.transport import resources, streaming
from learned_advection.transport.schemes import COURANT_SLACK


def _problem(ndim: int, series: bool, n_time: int = 40) -> Problem:
    rng = np.random.default_rng(ndim + 2 * series)
    grid = Grid((16,), (1.0,)) if ndim == 1 else Grid((8, 6), (1.0, 0.75))
    lead = (n_time,) if series else ()
    velocity = tuple(rng.uniform(-0.5, 0.5, lead + grid.shape) for _ in range(ndim))
    return Problem(grid, rng.uniform(0, 1, grid.shape), velocity, series)


def _reference(problem: Problem, run: sim.Plan) -> np.ndarray:
    velocity = tuple(jnp.asarray(u, jnp.float32) for u in sim.used_velocity(problem, run.n_steps))
    return np.asarray(
        rollout(
            schemes.scheme("vanleer"),
            jnp.asarray(problem.concentration, jnp.float32),
            velocity,
            run.dt,
            problem.grid.spacing,
            run.n_steps,
            run.save_every,
            time_series=problem.time_dependent,
        )
    )


def _collect(problem: Problem, run: sim.Plan, **options) -> tuple[np.ndarray, list[sim.Chunk]]:
    states = np.full((run.n_frames,) + problem.grid.shape, np.nan, np.float32)
    states[0] = problem.concentration
    chunks = list(sim.stream(problem, schemes.scheme("vanleer"), run, **options))
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
    monkeypatch.setattr(resources, "CHUNK_BYTES", 5 * 16 * 4)  # five 16-cell float32 states
    run = sim.plan(problem, 400, dt=0.05, save_every=2)
    states, chunks = _collect(problem, run, chunk_seconds=10.0)
    assert max(len(c.frames) for c in chunks) == 5 and len(chunks) >= 40
    np.testing.assert_allclose(states, _reference(problem, run), rtol=0, atol=2e-6)


def test_time_dependent_velocity_is_read_one_chunk_at_a_time(monkeypatch):
    """A velocity series is sliced per chunk (never converted whole): every slice has at most the
    per-chunk step cap of fields."""
    problem = _problem(2, True, n_time=60)
    state_bytes = 8 * 6 * 4
    monkeypatch.setattr(resources, "CHUNK_BYTES", 2 * 5 * state_bytes)  # five steps of two velocity components
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
    first = next(iter(sim.stream(problem, schemes.scheme("vanleer"), run)))
    assert first.steps == streaming.FIRST_CHUNK_CELL_STEPS // 16 and len(first.frames) == 0
    with pytest.raises(UserError, match=r"--steps must be at most 2\^53"):
        sim.plan(problem, 2**53 + 2, dt=0.05, save_every=2)


def test_resources_refused_in_one_line(tmp_path, monkeypatch):
    problem = _problem(1, False)
    run = sim.plan(problem, 10**9, dt=0.05)
    need = sim.estimate_resources(problem, run, np.float32)
    assert need.disk_bytes >= (10**9 + 1) * 16 * 4
    monkeypatch.setattr(files, "free_bytes", lambda folder: 10 * 2**30)
    with pytest.raises(
        UserError,
        match=r"the output \(1000000001 saved states of 16 float32 cells.*needs 67\.1 GiB of disk "
        r"but 10\.0 GiB is free",
    ):
        sim.check_resources(problem, run, tmp_path, np.float32)
    small = sim.plan(problem, 100, dt=0.05)
    assert sim.check_resources(problem, small, tmp_path, np.float32).frames_per_chunk == 100
    monkeypatch.setattr(resources, "available_memory", lambda: 1000)
    with pytest.raises(UserError, match=r"the run needs about .* of memory .* but 1000 B is available"):
        sim.check_resources(problem, small, tmp_path, np.float32)


def test_simulate_to_file_streams_and_leaves_nothing_on_interrupt(tmp_path, monkeypatch):
    problem = _problem(2, True)
    run = sim.plan(problem, 40, dt=0.05, save_every=4)
    step = schemes.scheme("vanleer")
    monkeypatch.setattr(resources, "CHUNK_BYTES", 2 * 8 * 6 * 4)  # at most 2 saved states per chunk
    appended = []
    original = io.TrajectoryWriter.append
    monkeypatch.setattr(
        io.TrajectoryWriter, "append", lambda self, s, t: appended.append(len(s)) or original(self, s, t)
    )
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

    monkeypatch.setattr(streaming, "stream", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sim.simulate_to_file(problem, step, run, tmp_path / "old.nc", scheme="vanleer", overwrite=True, progress=False)
    assert (tmp_path / "old.nc").read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.nc", "out.nc"]  # no temporary file left


def test_a_run_that_blows_up_stops_and_writes_nothing(tmp_path):
    """A saved state with NaN or Inf is never written with success: one-line refusal naming the step, no file."""
    from learned_advection.numerics.steppers import Stepper

    class BlowsUpAfter(Stepper):
        """Van Leer, except that one value turns to NaN once the state has moved far enough (a stand-in blow-up)."""

        name: str = "blows-up"

        def __call__(self, c, velocity, dt, spacing):
            nxt = schemes.scheme("vanleer")(c, velocity, dt, spacing)
            return jnp.where(jnp.abs(nxt - c).sum() > 0, nxt.at[3].set(jnp.nan), nxt)

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
    got = sim.simulate(tiny, schemes.scheme("ppm"), run).states
    want = sim.simulate(unit, schemes.scheme("ppm"), run).states
    np.testing.assert_array_equal(got, want.astype(np.float32) * np.float32(scale))
    assert np.isfinite(got).all() and float(np.abs(got).max()) > 0


# --------------------------------------------------------------------------- many tracers
def _tracers(problem: Problem, n: int, seed: int = 7) -> np.ndarray:
    """``n`` tracers on the problem's grid, at magnitudes from 1e-3 to 1e5 (each run scales its own)."""
    rng = np.random.default_rng(seed)
    shape = (n,) + problem.grid.shape
    return rng.uniform(0, 1, shape) * np.logspace(-3, 5, n).reshape((n,) + (1,) * problem.grid.ndim)


@pytest.mark.parametrize("scheme", ["vanleer", "ppm"])
def test_sixteen_tracers_equal_sixteen_single_runs(scheme):
    """16 tracers in one batched run (one compiled, vmapped step) give the states of 16 runs of one
    tracer each, to round-off, with a velocity per step and saved states in several chunks."""
    base = _problem(2, True)
    c = _tracers(base, 16)
    many = Problem(base.grid, c, base.velocity, True)
    run = sim.plan(many, 24, dt=0.05, save_every=4)
    assert many.n_tracers == 16 and many.tracer_names == [f"concentration[{i}]" for i in range(16)]
    got = sim.simulate(many, schemes.scheme(scheme), run).states
    assert got.shape == (7, 16) + base.grid.shape
    for i in range(16):
        one = sim.simulate(Problem(base.grid, c[i], base.velocity, True), schemes.scheme(scheme), run).states
        np.testing.assert_allclose(got[:, i], one, rtol=0, atol=2e-6 * float(np.abs(c[i]).max()))
    mass = got.astype(np.float64).sum(axis=(2, 3))  # conserved per tracer, to float32 round-off
    np.testing.assert_allclose(mass, mass[:1].repeat(len(mass), 0), rtol=2e-6)


def test_tracers_are_validated_and_named_one_by_one(tmp_path):
    """The bound on the scheme's arithmetic is checked tracer by tracer and names the one that exceeds it."""
    base = _problem(1, False)
    c = np.stack([base.concentration, base.concentration * 1e37])
    tracers = (io.TracerVariable("co2"), io.TracerVariable("soot"))
    problem = Problem(base.grid, c, base.velocity, False, tracers=tracers)
    with pytest.raises(UserError, match=r"^the tracer 'soot' reaches 9\.\d+e\+36, more than .* in float32"):
        sim.plan(problem, 4, dt=0.05, scheme="ppm", dtype=np.float32)
    single = Problem(base.grid, base.concentration * 1e37, base.velocity, False)
    with pytest.raises(UserError, match=r"^the concentration reaches"):
        sim.plan(single, 4, dt=0.05, scheme="ppm", dtype=np.float32)


def test_memory_and_disk_count_every_tracer(tmp_path, monkeypatch):
    base = _problem(2, False)
    many = Problem(base.grid, _tracers(base, 16), base.velocity, False)
    run = sim.plan(many, 100, dt=0.05)
    one, sixteen = sim.estimate_resources(base, run, np.float32), sim.estimate_resources(many, run, np.float32)
    state = 8 * 6 * 4
    assert sixteen.disk_bytes - one.disk_bytes >= 15 * run.n_frames * state
    assert sixteen.memory_bytes - one.memory_bytes >= 15 * resources.WORKSPACE_STATES * state
    monkeypatch.setattr(files, "free_bytes", lambda folder: sixteen.disk_bytes - 1)
    with pytest.raises(UserError, match=r"the output \(101 saved states of 16 tracers x 8x6 float32 cells"):
        sim.check_resources(many, run, tmp_path, np.float32)
    monkeypatch.setattr(files, "free_bytes", lambda folder: 2**40)
    monkeypatch.setattr(resources, "available_memory", lambda: sixteen.memory_bytes - 1)
    with pytest.raises(UserError, match=r"the run needs about .* of memory \(16 tracers of 8x6 cells, their work"):
        sim.check_resources(many, run, tmp_path, np.float32)
    assert sim.check_resources(base, run, tmp_path, np.float32) == one  # one tracer fits


def test_tracers_stream_to_their_own_variables_and_a_blow_up_names_the_tracer(tmp_path):
    from learned_advection.numerics.steppers import Stepper

    base = _problem(2, False)
    c = _tracers(base, 3) * np.array([1, 1, -1]).reshape(3, 1, 1)  # the last one negative
    tracers = (
        io.TracerVariable("co2", None, {"units": "ppm", "long_name": "carbon dioxide"}),
        io.TracerVariable("dust", 2, {"units": "kg m-3"}),
    )
    problem = Problem(
        base.grid,
        c,
        base.velocity,
        False,
        tracers=tracers,
        tracer_coordinate=(np.array(["fine", "coarse"], dtype=object), {"long_name": "size"}),
    )
    run = sim.plan(problem, 12, dt=0.05, save_every=4)
    done = sim.simulate_to_file(
        problem, schemes.scheme("vanleer"), run, tmp_path / "out.nc", scheme="vanleer", progress=False
    )
    ds = io.read_simulation(tmp_path / "out.nc")
    assert list(ds.data_vars) == ["co2", "dust"] and list(ds["tracer"].values) == ["fine", "coarse"]
    assert ds["co2"].dims == ("time", "y", "x") and ds["dust"].dims == ("time", "tracer", "y", "x")
    assert ds["co2"].attrs["units"] == "ppm" and ds["co2"].attrs["long_name"] == "carbon dioxide"
    assert ds["dust"].attrs["units"] == "kg m-3" and ds["dust"].attrs["scheme"] == "vanleer"
    states = sim.simulate(problem, schemes.scheme("vanleer"), run).states
    np.testing.assert_array_equal(ds["co2"].values, states[:, 0])
    np.testing.assert_array_equal(ds["dust"].values, states[:, 1:])
    np.testing.assert_array_equal(done.final, states[-1])

    class BlowsUpInDust(Stepper):
        """Van Leer, except that negative cells turn to NaN (only the second dust tracer has such)."""

        name: str = "blows-up"

        def __call__(self, c, velocity, dt, spacing):
            return jnp.where(c < 0, jnp.nan, schemes.scheme("vanleer")(c, velocity, dt, spacing))

    assert c[2].max() < 0 < c[:2].min()
    with pytest.raises(UserError, match=r"blew up: NaN or Inf by step 4 in tracer 'dust\[1\]'"):
        sim.simulate_to_file(problem, BlowsUpInDust(), run, tmp_path / "bad.nc", scheme="blows-up", progress=False)
    assert not (tmp_path / "bad.nc").exists()


# --------------------------------------------------------------------------- velocity interpolated in time
def _flows(grid: Grid, n: int, scale: float = 0.3) -> tuple[np.ndarray, ...]:
    """``n`` discretely divergence-free face velocities (random sinusoidal flows), stacked per component."""
    from learned_advection.flows.velocity import random_sinusoidal

    frames = [random_sinusoidal(grid, seed, max_speed=scale) for seed in range(n)]
    return tuple(np.stack([np.asarray(f[a], np.float64) for f in frames]) for a in range(grid.ndim))


def _by_hand(times, frames, n_steps: int, dt: float) -> tuple[np.ndarray, ...]:
    """The velocity of every step at its midpoint, interpolated linearly in float64 (not via the library)."""
    out = []
    for u in frames:
        fields = []
        for n in range(n_steps):
            t = (n + 0.5) * dt
            k = min(max(int(np.searchsorted(times, t, side="right")) - 1, 0), len(times) - 2)
            w = (t - times[k]) / (times[k + 1] - times[k])
            fields.append((1 - w) * u[k] + w * u[k + 1])
        out.append(np.stack(fields))
    return tuple(out)


WIND_CASES = {  # (velocity times in steps, steps, save every, field cap in fields, first chunk steps, tracers)
    "every 6 steps": (np.arange(0, 49, 6.0), 48, 4, None, None, 1),
    "every 6 steps, 3 fields per chunk": (np.arange(0, 49, 6.0), 48, 12, 3, 5, 1),
    "every 6 steps, 2 fields per chunk, 4 tracers": (np.arange(0, 49, 6.0), 48, 48, 2, 100, 4),
    "uneven, starting before 0, ending after": (np.array([-1.0, 2.5, 3.0, 11.0, 20.0, 33.0]), 30, 5, 3, 7, 2),
    "finer than the step": (np.arange(0, 13, 0.4), 12, 3, 4, None, 1),
}


@pytest.mark.parametrize("case", list(WIND_CASES))
def test_winds_at_their_own_times_equal_the_midpoint_winds_by_hand(case, monkeypatch):
    """A velocity given every few steps (or unevenly, or finer than a step) is interpolated linearly to
    each step's midpoint inside the compiled chunks: the run equals a run given, one field per step,
    the midpoint velocities computed by hand, to round-off -- also when the fields one chunk may hold
    (the cap) shorten the chunks."""
    steps_times, n_steps, save_every, cap, first, n_tracers = WIND_CASES[case]
    grid, dt = Grid((8, 8), (1.0, 1.0)), 0.05
    times = steps_times * dt
    frames = _flows(grid, len(times))
    c0 = _tracers(Problem(grid, np.zeros(grid.shape), frames, True), n_tracers)
    c0 = c0[0] if n_tracers == 1 else c0
    winds = Problem(grid, c0, frames, True, velocity_times=times)
    by_hand = Problem(grid, c0, _by_hand(times, frames, n_steps, dt), True)
    if cap is not None:
        monkeypatch.setattr(resources, "CHUNK_BYTES", cap * 2 * 8 * 8 * 4)
    run = sim.plan(winds, n_steps, dt=dt, save_every=save_every)
    assert (
        run == sim.plan(by_hand, n_steps, dt=dt, save_every=save_every)
        or run.courant <= sim.plan(by_hand, n_steps, dt=dt, save_every=save_every).courant + 0.3
    )  # the fields around the run bound it
    chunks = list(sim.stream(winds, schemes.scheme("vanleer"), run, first_chunk_steps=first, chunk_seconds=10.0))
    got = np.concatenate([np.asarray(c0, np.float32)[None]] + [c.frames for c in chunks if len(c.frames)])
    want = sim.simulate(by_hand, schemes.scheme("vanleer"), run).states
    assert sum(c.steps for c in chunks) == n_steps
    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * float(np.abs(c0).max()))
    if cap is not None:
        assert len(chunks) > 1 and sim.estimate_resources(winds, run, np.float32).velocity_fields_per_chunk == cap


def test_interpolated_velocity_stays_divergence_free(x64_mode):
    """Blending two discretely divergence-free C-grid fields at any weight keeps the discrete divergence
    zero to round-off (the flux-form scheme then keeps a constant tracer constant)."""
    x64_mode(True)
    from learned_advection.numerics.grids import divergence

    grid = Grid((32, 32), (1.0, 1.0))
    frames = _flows(grid, 3, scale=1.0)
    spacing = grid.spacing
    scale = max(float(np.abs(u).max()) for u in frames) / min(spacing)
    for k in range(3):
        assert float(jnp.max(jnp.abs(divergence(tuple(jnp.asarray(u[k]) for u in frames), spacing)))) < 1e-12 * scale
    _, w = sim.interpolation_weights([0.0, 1.0, 3.0], np.linspace(0, 3, 13))
    for index, weight in zip([0, 0, 1, 1], [0.0, 0.3, 0.5, 1.0]):
        v = sim.blend(tuple(jnp.asarray(u) for u in frames), index, weight)
        assert float(jnp.max(jnp.abs(divergence(v, spacing)))) < 1e-12 * scale
        expected = (1 - weight) * frames[1][index] + weight * frames[1][index + 1]
        np.testing.assert_allclose(np.asarray(v[1]), expected, rtol=0, atol=1e-15)
    assert w.min() == 0 and w.max() == 1
    # and a constant tracer stays constant through a run with interpolated winds
    x64_mode(False)
    problem = Problem(grid, np.ones(grid.shape), frames, True, velocity_times=np.array([0.0, 0.3, 0.9]))
    run = sim.plan(problem, 60, dt=0.01)  # midpoints up to 0.595: all three fields
    np.testing.assert_allclose(sim.simulate(problem, schemes.scheme("vanleer"), run).states, 1.0, rtol=0, atol=1e-6)


def test_a_span_the_winds_do_not_cover_is_refused():
    grid = Grid((8, 8), (1.0, 1.0))
    frames = _flows(grid, 3)
    problem = Problem(grid, np.ones(grid.shape), frames, True, velocity_times=np.array([0.0, 0.3, 0.6]))
    assert sim.plan(problem, 12, dt=0.05).n_steps == 12  # midpoints 0.025 ... 0.575
    with pytest.raises(
        UserError,
        match=r"^the velocity is given from velocity_time 0 to 0\.6 but the run needs it "
        r"from 0\.025 to 0\.625 \(the midpoints of its 13 steps of dt = 0\.05",
    ):
        sim.plan(problem, 13, dt=0.05)
    late = Problem(grid, np.ones(grid.shape), frames, True, velocity_times=np.array([0.03, 0.3, 0.6]))
    with pytest.raises(UserError, match=r"velocity_time 0\.03 to 0\.6 but the run needs it from 0\.025"):
        sim.plan(late, 4, dt=0.05)
    with pytest.raises(UserError, match="the run needs it from"):  # --cfl: dt from every field, then the span
        sim.plan(problem, 1000, cfl=0.5)


def test_courant_number_of_interpolated_winds_is_over_the_fields_the_run_uses():
    """A strong field after the run's end does not count (the run never sees it); one inside does."""
    grid = Grid((8, 8), (1.0, 1.0))
    frames = _flows(grid, 4)
    strong = tuple(u.copy() for u in frames)
    for u in strong:
        u[3] *= 10
    problem = Problem(grid, np.ones(grid.shape), strong, True, velocity_times=np.array([0.0, 0.3, 0.6, 0.9]))
    short = sim.plan(problem, 6, dt=0.05)  # midpoints up to 0.275: fields 0 and 1
    assert short.courant == pytest.approx(max_courant(tuple(u[:2] for u in frames), 0.05, grid.spacing))
    long = sim.plan(problem, 14, dt=0.01)  # up to 0.135: fields 0, 1 only as well
    assert long.courant < 0.3 * 10 * 0.01 / 0.125
    with pytest.raises(UserError, match="Courant number"):
        sim.plan(problem, 17, dt=0.05)  # midpoints reach 0.825: the strong field is used


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    n_tracers=st.integers(1, 5),
    spacing=st.sampled_from([1.0, 2.0, 3.0, 6.0, 2.5, 0.7]),
    n_steps=st.integers(1, 20),
    cap=st.sampled_from([None, 2, 3]),
    first=st.sampled_from([None, 1, 4]),
)
def test_property_tracers_and_wind_spacings(n_tracers, spacing, n_steps, cap, first):
    """Any number of tracers, any wind spacing (in steps), any chunking: the batched run with winds
    interpolated in time equals each tracer run alone with the midpoint winds computed by hand."""
    grid, dt = Grid((16,), (1.0,)), 0.02
    rng = np.random.default_rng(n_tracers * 100 + n_steps)
    times = np.arange(0.0, n_steps + spacing + 1e-9, spacing) * dt
    frames = (rng.uniform(-1.0, 1.0, (len(times),) + grid.shape),)  # 1-D: any field is a velocity
    c0 = rng.uniform(0, 1, (n_tracers,) + grid.shape)
    problem = Problem(grid, c0, frames, True, velocity_times=times)
    old = resources.CHUNK_BYTES
    try:
        resources.CHUNK_BYTES = old if cap is None else cap * 16 * 4
        run = sim.plan(problem, n_steps, dt=dt)
        got = np.concatenate(
            [np.asarray(c0, np.float32)[None]]
            + [
                c.frames
                for c in sim.stream(
                    problem, schemes.scheme("vanleer"), run, first_chunk_steps=first, chunk_seconds=10.0
                )
            ]
        )
    finally:
        resources.CHUNK_BYTES = old
    by_hand = _by_hand(times, frames, n_steps, dt)
    for i in range(n_tracers):
        want = sim.simulate(Problem(grid, c0[i], by_hand, True), schemes.scheme("vanleer"), run).states
        np.testing.assert_allclose(got[:, i], want, rtol=0, atol=2e-6)


def test_readme_many_tracers_example_runs_and_equals_one_tracer_at_a_time():
    """README's example of the Python API (jax.vmap over tracers; winds blended in the loop) runs, and
    its batched results equal rollouts of one tracer at a time with the midpoint velocities by hand."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = text[text.index("**Many tracers, winds in time.**") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    namespace = {}
    exec(
        compile(
            "import jax, jax.numpy as jnp, numpy as np\nimport learned_advection as la\n" + code,
            "README.md many tracers",
            "exec",
        ),
        namespace,
    )
    tracers, frames, dt, grid = (namespace[k] for k in ("tracers", "frames", "dt", "grid"))
    states = np.asarray(namespace["states"])
    assert states.shape == (3, 3, 32, 32)
    by_hand = _by_hand(np.array([0.0, 100 * dt]), tuple(np.asarray(f, np.float64) for f in frames), 100, dt)
    for i in range(3):
        want = rollout(
            schemes.scheme("vanleer"),
            tracers[i],
            tuple(jnp.asarray(u, jnp.float32) for u in by_hand),
            dt,
            grid.spacing,
            100,
            50,
            time_series=True,
        )
        np.testing.assert_allclose(states[i], np.asarray(want), rtol=0, atol=2e-6)


@pytest.mark.parametrize("scheme", ["upwind", "vanleer", "ppm"])
def test_a_courant_number_at_one_to_round_off_takes_the_ordinary_step(scheme):
    """--cfl 1.000000000001 is Courant 1 to round-off: the ordinary step, as the plan accepts it for the
    schemes limited to 1 (the bounded large step would clip a compressive 1-D flow); above the slack, the
    large step."""
    problem = _problem(1, False)
    assert sim.get_stepper(scheme, problem, courant=1 + 1e-12) == schemes.SCHEMES[scheme]
    assert sim.get_stepper(scheme, problem, courant=1 + 2 * COURANT_SLACK) == schemes.scheme(scheme, 1.5)
