"""How a model trained on periodic data behaves next to a boundary: the error in the cells next to each side
against the interior, measured.

The problem: a channel of [0, 2 pi]^2 on 32^2 cells (the shipped models' grid), a patchy inflow that changes
in time on the low ``x`` side, an outflow on the high ``x`` side and walls along ``y``; the flow a steady random
smooth divergence-free one (a mean flow along ``x`` plus eddies, a streamfunction on the cell corners that is
constant along each wall); the initial tracer a smooth random field in [0, 1].  The reference is PPM at 4x
the resolution (128^2, a quarter of the coarse time step) with the same boundaries, coarse-grained
(:func:`~learned_advection.numerics.grids.coarsen_concentration`): the coarse flow is the fine one's
streamfunction subsampled, the coarse inflow the fine one's block means.

Every method runs at its native setting: the shipped paper model (in FCT) and the classical schemes at the
paper model's time step, the shipped hybrid (in Safeguard) and PPM's large step at the hybrid's (8x longer).
:func:`band_table` gives, per method, the mean absolute error against the reference over every saved time
in four bands of :data:`BAND` cells -- next to the inflow side, the outflow side and the two walls (the
wall bands without the inflow and outflow columns) -- and in the interior (the cells farther than
:data:`BAND` from every side).  ``python -m learned_advection.evaluation.boundary_band`` prints it;
``--methods learned,learned-extrapolated`` compares the shipped models' outflow ghost cells (the edge cell
repeated) with the classical schemes' (:func:`outflow_ghosts`).
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from learned_advection.learned.checkpoint import load_model
from learned_advection.numerics.boundaries import Open, Wall, boundaries
from learned_advection.numerics.grids import coarsen_concentration
from learned_advection.numerics.regional import Regional
from learned_advection.numerics.rollout import rollout
from learned_advection.numerics.schemes import scheme

N = 32
"""Coarse cells per axis (the shipped models' grid)."""
LENGTH = 2 * np.pi
FACTOR = 4
"""The reference's refinement per axis (and in time)."""
BAND = 4
"""Cells next to a side that make its band."""
MAX_SPEED = 4.0
"""The flow's largest face speed on the reference grid (the coarse faces' means are at most it): Courant number
up to 0.49 at the paper model's time step, 3.9 at the hybrid's."""
MEAN_SPEED = 2.0
"""The mean flow along ``x`` (a transit of the channel takes ``2 pi / 2`` ~ 3.1)."""
END_TIME = 6.144
"""Two transits; a multiple of both shipped time steps (0.024 and 0.192)."""
SAVE_EVERY_TIME = 0.192
PAPER_DT, HYBRID_DT = 0.024, 0.192
HYBRID = "pretrained:turbulence-2d-k8-hybrid"
METHODS = (
    "learned",
    "hybrid",
    "upwind",
    "vanleer",
    "ppm",
    "weno5z",
    "ppm-large",
    "ppm-large+fct",
    "learned-extrapolated",
    "hybrid-extrapolated",
)
DEFAULT_METHODS = METHODS[:8]
REGIONS = ("inflow", "outflow", "walls", "interior")
SEEDS = (0, 1, 2)


# --------------------------------------------------------------------------- the problem
def corner_streamfunction(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y, eddies)`` on the ``(n + 1, n + 1)`` cell corners of [0, 2 pi]^2: the streamfunction of the mean flow
    along ``x`` per unit speed, and random eddies of wavenumbers up to 3 (before scaling), zero on both ``y``
    walls."""
    rng = np.random.default_rng(seed)
    corners = np.arange(n + 1) * (LENGTH / n)
    y, x = np.meshgrid(corners, corners, indexing="ij")
    eddies = np.zeros_like(x)
    for kx in range(0, 4):
        for ky in range(1, 4):
            a, p = rng.normal() / (kx**2 + ky**2), rng.uniform(0, 2 * np.pi)
            eddies += a * np.cos(kx * x + p) * np.sin(ky * y / 2)  # zero on y = 0 and y = 2 pi
    return y, eddies


def face_velocity(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(y faces (n + 1, n), x faces (n, n + 1))`` of the flow on ``n^2`` cells (float64, divergence-free to
    round-off, zero on the walls); the same scaling at every resolution."""
    h = LENGTH / n
    fine = 4 * N
    y_fine, eddies_fine = corner_streamfunction(fine, seed)
    psi_fine = _scaled(y_fine, eddies_fine, fine)
    step = fine // n
    psi = psi_fine[::step, ::step]
    u = (psi[1:, :] - psi[:-1, :]) / h
    v = -(psi[:, 1:] - psi[:, :-1]) / h
    v[[0, -1], :] = 0.0  # exactly: psi is constant along the walls
    return v, u


def _scaled(y, eddies, n):
    """``MEAN_SPEED * y + s * eddies`` with ``s`` such that the largest face speed on ``n^2`` is :data:`MAX_SPEED`."""
    h = LENGTH / n

    def top(s):
        psi = MEAN_SPEED * y + s * eddies
        return max(np.abs(np.diff(psi, axis=0) / h).max(), np.abs(np.diff(psi, axis=1) / h).max())

    lo, hi = 0.0, 1.0
    while top(hi) < MAX_SPEED:
        hi *= 2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if top(mid) < MAX_SPEED else (lo, mid)
    return MEAN_SPEED * y + lo * eddies


def cell_means(function, n: int, samples: int = 4) -> np.ndarray:
    """Cell means on ``n^2`` cells of ``function(y, x)``: block means of the midpoint rule on the reference grid
    (``samples^2`` points per fine cell), so that a coarse field is the fine one coarse-grained exactly."""
    fine = FACTOR * N
    h = LENGTH / fine
    offsets = (np.arange(samples) + 0.5) / samples
    centres = (np.arange(fine)[:, None] + offsets[None, :]).ravel() * h
    y, x = np.meshgrid(centres, centres, indexing="ij")
    means = function(y, x).reshape(fine, samples, fine, samples).mean(axis=(1, 3))
    block = fine // n
    return means.reshape(n, block, n, block).mean(axis=(1, 3))


def initial_tracer(n: int, seed: int) -> np.ndarray:
    """A smooth random field in [0, 1] on ``n^2`` cells (the coarse one is the fine one coarse-grained)."""
    rng = np.random.default_rng(1000 + seed)
    terms = [(rng.integers(1, 4), rng.integers(1, 4), rng.uniform(0, 2 * np.pi), rng.normal()) for _ in range(6)]

    def field(y, x):
        total = sum(a * np.sin(kx * x + p) * np.cos(ky * y / 2 + p) for kx, ky, p, a in terms)
        return 0.5 + 0.5 * np.tanh(2 * total)

    return cell_means(field, n)


def inflow_values(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``(times, profiles)``: the inflow's cell means along the side (``n`` cells; block means of the reference
    grid's) every 0.048, patches moving along it and changing in time (linear in between)."""
    rng = np.random.default_rng(2000 + seed)
    times = np.arange(0.0, END_TIME + 0.049, 0.048)
    k, w, p = rng.integers(1, 4, size=2), rng.uniform(0.5, 1.5, size=2), rng.uniform(0, 2 * np.pi, size=2)
    fine, samples = FACTOR * N, 8
    h = LENGTH / fine
    y = ((np.arange(fine)[:, None] + (np.arange(samples) + 0.5)[None, :] / samples) * h).ravel()
    profiles = []
    for t in times:
        wave = np.sin(k[0] * y / 2 + w[0] * t + p[0]) * np.cos(k[1] * y / 2 - w[1] * t + p[1])
        profiles.append((0.5 + 0.5 * np.tanh(3 * wave)).reshape(n, (fine // n) * samples).mean(axis=1))
    return times, np.asarray(profiles)


def problem(n: int, seed: int, dtype=np.float32):
    """``(bounds, c0, velocity)`` on ``n^2`` cells."""
    times, profiles = inflow_values(n, seed)
    bounds = boundaries(x=(Open((times.astype(dtype), profiles.astype(dtype))), Open()), y=Wall())
    v, u = face_velocity(n, seed)
    velocity = (jnp.asarray(v, dtype), jnp.asarray(u, dtype))
    return bounds, jnp.asarray(initial_tracer(n, seed), dtype), velocity


@eqx.filter_jit
def _rollout(regional, state, velocity, dt, spacing, n_steps, save_every):
    return rollout(regional, state, velocity, dt, spacing, n_steps, save_every)


def run(stepper, n: int, seed: int, dt: float) -> np.ndarray:
    """The concentration of ``stepper`` on the problem at ``n^2`` every :data:`SAVE_EVERY_TIME` (the initial
    state first), ``(saves, n, n)``."""
    bounds, c0, velocity = problem(n, seed)
    regional = Regional(stepper, bounds)
    steps = int(round(END_TIME / dt))
    every = int(round(SAVE_EVERY_TIME / dt))
    h = LENGTH / n
    out = _rollout(regional, regional.initial(c0), velocity, jnp.float32(dt), (h, h), steps, every)
    return np.asarray(out.c, np.float64)


def reference(seed: int) -> np.ndarray:
    """PPM at :data:`FACTOR` times the resolution and a :data:`FACTOR` times shorter step, coarse-grained."""
    fine = run(scheme("ppm"), FACTOR * N, seed, PAPER_DT / FACTOR)
    return np.asarray(coarsen_concentration(jnp.asarray(fine), FACTOR, 2), np.float64)


# --------------------------------------------------------------------------- the bands
def region_masks(n: int = N, band: int = BAND) -> dict[str, np.ndarray]:
    """Boolean ``(n, n)`` masks of :data:`REGIONS` (``y`` rows, ``x`` columns; inflow at low ``x``)."""
    index = np.arange(n)
    x = np.broadcast_to(index[None, :], (n, n))
    y = np.broadcast_to(index[:, None], (n, n))
    inflow, outflow = x < band, x >= n - band
    walls = ((y < band) | (y >= n - band)) & ~inflow & ~outflow
    return {"inflow": inflow, "outflow": outflow, "walls": walls, "interior": ~(inflow | outflow | walls)}


def band_errors(solution: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Mean absolute error of ``solution`` against ``truth`` (``(saves, n, n)``, the initial state first and left
    out) over each region."""
    error = np.abs(solution[1:] - truth[1:])
    return {name: float(error[:, mask].mean()) for name, mask in region_masks(truth.shape[-1]).items()}


def outflow_ghosts(model, outflow: str):
    """A learned model whose network and stencils read the ghost cells ``outflow`` beyond an outflow side
    (``"edge"``, the shipped form, or ``"extrapolated"``, the classical schemes' ghost cells)."""
    part = model.interpolation
    return eqx.tree_at(lambda m: m.interpolation, model, replace=dataclasses.replace(part, outflow=outflow))


def methods(names: Sequence[str] | None = None) -> dict[str, tuple]:
    """``{label: (stepper, dt)}`` (:data:`METHODS`): the shipped models at their native settings (``-extrapolated``:
    with the classical schemes' outflow ghost cells, :func:`outflow_ghosts`) and the classical schemes."""
    out = {}
    wanted = set(names) if names else None

    def want(label):
        return wanted is None or label in wanted

    for label, name, dt in (("learned", "pretrained", PAPER_DT), ("hybrid", HYBRID, HYBRID_DT)):
        if want(label) or want(f"{label}-extrapolated"):
            model = load_model(name)[0]
            if want(label):
                out[label] = (model, dt)
            if want(f"{label}-extrapolated"):
                out[f"{label}-extrapolated"] = (outflow_ghosts(model, "extrapolated"), dt)
    for name in ("upwind", "vanleer", "ppm", "weno5z"):
        if want(name):
            out[name] = (scheme(name), PAPER_DT)
    if want("ppm-large"):
        out["ppm-large"] = (scheme("ppm", 4.0, bounded=False), HYBRID_DT)
    if want("ppm-large+fct"):
        out["ppm-large+fct"] = (scheme("ppm", 4.0, bounded=True), HYBRID_DT)
    return out


def band_table(names: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS) -> list[dict]:
    """One row per method: its MAE per region (:func:`band_errors`, the mean over ``seeds``) and the ratio of
    each boundary band's error to the interior's."""
    chosen = methods(names or DEFAULT_METHODS)
    totals = {label: {r: 0.0 for r in REGIONS} for label in chosen}
    for seed in seeds:
        truth = reference(seed)
        for label, (stepper, dt) in chosen.items():
            for region, value in band_errors(run(stepper, N, seed, dt), truth).items():
                totals[label][region] += value / len(seeds)
    rows = []
    for label, (_, dt) in chosen.items():
        row = {"method": label, "dt": dt, **totals[label]}
        for region in REGIONS[:-1]:
            row[f"{region}/interior"] = totals[label][region] / totals[label]["interior"]
        rows.append(row)
    return rows


def format_table(rows: list[dict]) -> str:
    """The table as text."""
    width = max([6] + [len(row["method"]) for row in rows])
    head = (
        [f"{'method':<{width}}", f"{'dt':>6}"] + [f"{r:>9}" for r in REGIONS] + [f"{r[:3]}/int" for r in REGIONS[:-1]]
    )
    lines = ["  ".join(head)]
    for row in rows:
        cells = [f"{row['method']:<{width}}", f"{row['dt']:>6.3f}"]
        cells += [f"{row[r]:>9.5f}" for r in REGIONS]
        cells += [f"{row[f'{r}/interior']:>7.2f}" for r in REGIONS[:-1]]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--methods",
        default=None,
        help=f"comma-separated, of {', '.join(METHODS)} (default: the first {len(DEFAULT_METHODS)})",
    )
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="flows to average over")
    args = parser.parse_args(argv)
    names = args.methods.split(",") if args.methods else None
    unknown = sorted(set(names or ()) - set(METHODS))
    if unknown:
        parser.error(f"unknown method(s) {', '.join(unknown)}; choose from {', '.join(METHODS)}")
    if args.seeds < 1:
        parser.error(f"--seeds must be at least 1, got {args.seeds}")
    start = time.perf_counter()
    rows = band_table(names, tuple(range(args.seeds)))
    print(
        f"MAE against PPM at {FACTOR * N}^2 coarse-grained, channel {N}^2, inflow low x, outflow high x, walls in y, "
        f"bands of {BAND} cells, t in (0, {END_TIME:g}], {args.seeds} flow(s)"
    )
    print(format_table(rows))
    print(f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
