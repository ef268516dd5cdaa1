"""A regional worked case: a plume from a point source in a meandering channel (``reproduce plume``, the demo).

The channel ``[0, 1]^2`` has walls at ``y = 0`` and ``y = 1``, inflow at ``x = 0`` and outflow at ``x = 1``.
The flow is the streamfunction ``psi = U (y + a (1 - cos(pi y)) / pi) + A sin(pi y)^2 sin(2 pi (x - c t) / L)``
on the cell corners: a sheared jet (faster in the middle) with a meander travelling downstream, discretely
divergence-free with no flow through the walls.  A Gaussian source (rate ``Q`` in total) near the inflow side
emits the plume; the air that comes in carries a background whose level rises and falls in time.

Every classical scheme runs at Courant number 0.5 on the coarse grids and, for the Lin & Rood schemes, at
``k`` times the step (the flux-form semi-Lagrangian large step, bounded by FCT as ``simulate`` runs it); the
reference is PPM on a grid ``refine`` times finer than the finest coarse grid, coarse-grained.  Reported per
run: MAE against the reference at the end, the range, the mass budget (inflow, outflow, emitted and the
residual of ``mass change - (emitted + inflow - outflow)``), and the wall time.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.numerics import schemes
from learned_advection.numerics.boundaries import Open, Wall, boundaries
from learned_advection.numerics.grids import coarsen_concentration
from learned_advection.numerics.regional import Regional, Source
from learned_advection.numerics.rollout import rollout

OUTPUTS = ("report.md", "metrics.json", "figures")


@dataclasses.dataclass(frozen=True)
class PlumeConfig:
    """The worked case's settings.

    Parameters
    ----------
    grids : tuple of int
        Coarse grids (cells per side).
    reference : int
        Cells per side of the reference (a multiple of every coarse grid).
    schemes : tuple of str
        Schemes at Courant number 0.5.
    large_step : int
        ``k``: the large steps take ``k`` times the coarse step (schemes with a large step only).
    large_schemes : tuple of str
        Schemes also run at the large step.
    duration : float
        Simulated time (about two transits of the jet).
    speed, shear : float
        ``U`` and ``a`` of the jet: ``u(y) = U (1 + a sin(pi y))``.
    meander, wavelength, celerity : float
        ``A``, ``L`` and ``c`` of the meander.
    source_at, source_width, source_rate : tuple of float, float, float
        Centre ``(y, x)``, Gaussian width and total rate ``Q`` of the emission.
    background : float
        Mean of the inflow background; it varies by half of it with period 1.
    saves : int
        Snapshots kept per run (besides the initial state).
    """

    grids: tuple[int, ...] = (32, 64)
    reference: int = 256
    schemes: tuple[str, ...] = ("upwind", "vanleer", "ppm", "weno5z")
    large_step: int = 4
    large_schemes: tuple[str, ...] = ("vanleer", "ppm")
    duration: float = 2.0
    speed: float = 1.0
    shear: float = 0.5
    meander: float = 0.04
    wavelength: float = 0.5
    celerity: float = 0.4
    source_at: tuple[float, float] = (0.5, 0.15)
    source_width: float = 0.03
    source_rate: float = 0.05
    background: float = 0.2
    saves: int = 3


QUICK = PlumeConfig(grids=(32,), reference=128, schemes=("upwind", "ppm"), large_schemes=("ppm",))


def streamfunction(config: PlumeConfig, n: int, t) -> jnp.ndarray:
    """``psi`` on the ``(n + 1, n + 1)`` cell corners of the ``n`` by ``n`` channel at time ``t``."""
    corners = jnp.arange(n + 1) / n
    y, x = corners[:, None], corners[None, :]
    jet = config.speed * (y + config.shear * (1 - jnp.cos(jnp.pi * y)) / jnp.pi)
    wave = (
        config.meander * jnp.sin(jnp.pi * y) ** 2 * jnp.sin(2 * jnp.pi * (x - config.celerity * t) / config.wavelength)
    )
    wave = wave.at[0, :].set(0.0).at[-1, :].set(0.0)  # exactly zero on the walls
    return jet + wave


def velocity(config: PlumeConfig, n: int, dtype):
    """The face velocities as a function of time: ``t -> (v on y faces (n + 1, n), u on x faces (n, n + 1))``."""
    h = 1.0 / n

    def at(t):
        psi = streamfunction(config, n, t)
        u = (psi[1:, :] - psi[:-1, :]) / h
        v = -(psi[:, 1:] - psi[:, :-1]) / h
        v = v.at[0, :].set(0.0).at[-1, :].set(0.0)  # no flow through the walls
        return v.astype(dtype), u.astype(dtype)

    return at


def largest_speed(config: PlumeConfig) -> float:
    """An upper bound of ``max |u|, |v|`` over the run (the jet's peak plus the meander's)."""
    return (
        config.speed * (1 + config.shear) + 2 * math.pi * config.meander / config.wavelength + math.pi * config.meander
    )


def source_rate(config: PlumeConfig, n: int) -> np.ndarray:
    """The emission rate on the ``n`` by ``n`` grid: exact cell means of a Gaussian of total ``Q``."""
    edges = np.arange(n + 1) / n
    y0, x0 = config.source_at
    w = config.source_width

    def means(centre):
        cdf = 0.5 * (1 + np.vectorize(math.erf)((edges - centre) / (w * math.sqrt(2))))
        return np.diff(cdf) * n  # mean of the unit Gaussian over each cell, per unit length

    return config.source_rate * means(y0)[:, None] * means(x0)[None, :]


def domain(config: PlumeConfig):
    """Walls in ``y``; inflow of the background at ``x = 0`` (rising and falling with period 1), outflow at ``x = 1``."""
    b = config.background

    def inflow(t):
        return b * (1 + 0.5 * jnp.sin(2 * jnp.pi * t))

    return boundaries(x=(Open(inflow), Open()), y=Wall())


def _run(config: PlumeConfig, stepper, n: int, k: int) -> dict:
    """One run on the ``n`` by ``n`` grid with ``k`` times the base step."""
    dtype = jnp.result_type(float)
    h = 1.0 / n
    base = 0.5 * h / largest_speed(config)
    n_steps = math.ceil(config.duration / (k * base))
    n_steps += (-n_steps) % config.saves
    dt = config.duration / n_steps
    regional = Regional(stepper, domain(config), Source(jnp.asarray(source_rate(config, n), dtype)))
    state = regional.initial(jnp.zeros((n, n), dtype))
    flow = velocity(config, n, dtype)
    run = jax.jit(lambda s: rollout(regional, s, flow, dt, (h, h), n_steps, n_steps // config.saves))
    start = time.perf_counter()
    out = jax.block_until_ready(run(state))
    seconds = time.perf_counter() - start
    states = np.asarray(out.c, np.float64)
    mass = states.sum(axis=(1, 2)) * h * h
    b = out.budget
    inflow, outflow, emitted = (float(np.sum(np.asarray(x[-1], np.float64))) for x in (b.inflow, b.outflow, b.emitted))
    change = float(mass[-1] - mass[0])
    turnover = max(abs(mass).max(), inflow, outflow, emitted)
    return {
        "states": states,
        "dt": dt,
        "n_steps": n_steps,
        "courant": largest_speed(config) * dt / h,
        "seconds": seconds,
        "inflow": inflow,
        "outflow": outflow,
        "emitted": emitted,
        "mass_change": change,
        "budget_residual": abs(change - (emitted + inflow - outflow)) / turnover,
    }


def run(config: PlumeConfig = PlumeConfig(), progress=None) -> dict:
    """Every scheme of ``config`` on every coarse grid, and the reference.

    Returns a dict: ``reference`` (its run), ``runs`` (label -> run with ``mae``, ``min``, ``max``), ``times``.
    ``progress(label, run)`` is called as each run finishes.
    """
    for n in config.grids:
        if config.reference % n:
            raise ValueError(f"the reference grid {config.reference} must be a multiple of every grid, not of {n}")
    reference = _run(config, schemes.PPM, config.reference, 1)
    if progress is not None:
        progress(f"ppm-{config.reference} (reference)", reference)
    runs = {}
    for n in config.grids:
        truth = np.asarray(coarsen_concentration(jnp.asarray(reference["states"]), config.reference // n, 2))
        jobs = [(name, 1) for name in config.schemes] + [(name, config.large_step) for name in config.large_schemes]
        for name, k in jobs:
            stepper = schemes.scheme(name) if k == 1 else schemes.scheme(name, 2 * 0.5 * k)
            label = f"{name}-{n}" if k == 1 else f"{name}-{n}-k{k}"
            r = _run(config, stepper, n, k)
            r["mae"] = float(np.mean(np.abs(r["states"][-1] - truth[-1])))
            r["min"], r["max"] = float(r["states"].min()), float(r["states"].max())
            r["truth"] = truth
            runs[label] = r
            if progress is not None:
                progress(label, r)
    times = np.linspace(0.0, config.duration, config.saves + 1)
    return {"reference": reference, "runs": runs, "times": times}


def table(runs: dict) -> str:
    """The runs (label -> MAE, range, budget, time, as in ``metrics.json``) as a plain-text table."""
    head = (
        f"{'run':<16}{'Courant':>8}{'MAE':>10}{'min':>10}{'max':>8}{'inflow':>9}{'outflow':>9}{'emitted':>9}"
        f"{'residual':>10}{'time':>8}"
    )
    rows = [head, "-" * len(head)]
    for label, r in runs.items():
        rows.append(
            f"{label:<16}{r['courant']:8.2f}{r['mae']:10.2e}{r['min']:10.2e}{r['max']:8.3f}{r['inflow']:9.4f}"
            f"{r['outflow']:9.4f}{r['emitted']:9.4f}{r['budget_residual']:10.1e}{r['seconds']:7.2f}s"
        )
    return "\n".join(rows)


def metrics(result: dict, config: PlumeConfig, command: str = "") -> dict:
    """What ``metrics.json`` holds (no arrays): the settings, provenance, the reference and every run."""
    from learned_advection.experiments.common import provenance

    keep = ("dt", "n_steps", "courant", "seconds", "inflow", "outflow", "emitted", "mass_change", "budget_residual")
    return {
        "experiment": "plume",
        **provenance(command),
        "config": dataclasses.asdict(config),
        "reference": {k: result["reference"][k] for k in keep},
        "runs": {label: {k: r[k] for k in keep + ("mae", "min", "max")} for label, r in result["runs"].items()},
    }


def figure(result: dict, config: PlumeConfig, path: Path) -> Path:
    """The reference and every run on the finest coarse grid, at the saved times after the start."""
    from learned_advection.plots import common as plots

    n = config.grids[-1]
    runs = {label: r for label, r in result["runs"].items() if label.split("-")[1] == str(n)}
    panels = {f"reference ({config.reference}² → {n}²)": next(iter(runs.values()))["truth"][1:]}
    panels.update({label: r["states"][1:] for label, r in runs.items()})
    return plots.snapshot_grid_2d(
        panels,
        result["times"][1:],
        path,
        title=f"plume in a meandering channel: inflow left, outflow right, walls top and bottom ({n}²)",
    )


def report(metrics: dict) -> str:
    """``report.md`` of the case, from its saved metrics alone."""
    config = metrics["config"]
    return "\n".join(
        [
            "# Plume in a meandering channel (regional domain)",
            "",
            f"Command: `{metrics.get('command', '')}`  ",
            f"Package {metrics.get('version', '')}; machine: {metrics.get('machine', '')}; date {metrics.get('date', '')}.",
            "",
            "Walls at y = 0 and 1, inflow of a background that rises and falls at x = 0, outflow at x = 1, a Gaussian "
            f"source of total rate {config['source_rate']:g} at (y, x) = {tuple(config['source_at'])}; "
            f"t = {config['duration']:g}. MAE against PPM at {config['reference']}² coarse-grained; residual = "
            "|mass change - (emitted + inflow - outflow)| / the largest of mass, inflow, outflow and emitted; time "
            "includes compilation.",
            "",
            "```",
            table(metrics["runs"]),
            "```",
            "",
            "![snapshots](figures/plume.png)",
            "",
        ]
    )


def reproduce(out: Path, config: PlumeConfig = PlumeConfig(), command: str = "", progress=None) -> dict:
    """Run the case and write ``report.md``, ``metrics.json`` and ``figures/plume.png`` in ``out``."""
    from learned_advection.files import write_json_atomic, write_text_atomic

    result = run(config, progress)
    out = Path(out)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    figure(result, config, out / "figures" / "plume.png")
    m = metrics(result, config, command)
    write_json_atomic(out / "metrics.json", m)
    write_text_atomic(out / "report.md", report(m))
    return m
