"""Generalisation of turbulence-trained models to flows and tracer shapes they were not trained on.

The turbulence models were trained on tracers stirred by decaying 2-D turbulence (pyqg flows from
McWilliams (1984) spectra, tracers from the same flows).  Here the same 32^2 grid on the ``2 pi`` square
and each model's own step carry other tracers in other divergence-free flows (all from a corner
streamfunction, so the discrete divergence is zero on every grid):

* ``cells`` -- steady cellular vortices ``psi = U sin x sin y``;
* ``sinusoidal`` -- a steady random multi-mode flow (wavenumbers up to 4, seed 7);
* ``deformation`` -- LeVeque's swirling deformation on the periodic square,
  ``psi ~ sin^2(x / 2) sin^2(y / 2) cos(pi t / T)``, reversing at ``T / 2`` (``T`` the run's length);

and the tracers ``bell`` (a smooth cosine bell) and ``block`` (a square of ones: sharp fronts).  Every flow
has the same largest speed ``U`` (default 2: Courant number ~0.25 at the coarse step, ~1 at four coarse
steps, the range of the turbulence data).  The reference is PPM at 8x the resolution (256^2, eight
sub-steps per coarse step) coarse-grained to 32^2; every method's error is the MAE against it after
``n_steps`` coarse steps.  Classical schemes run at 32^2 at each model's step (on the flux-form
semi-Lagrangian path, unbounded, where the Courant number exceeds 1, as on the accuracy-cost front)
and at the Courant-0.5 step, plus Van Leer at 64^2.
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import check_output_folder, prepare_output, provenance
from learned_advection.flows.tracers import cosine_bell
from learned_advection.flows.velocity import corner_mesh, faces_from_streamfunction, random_sinusoidal_streamfunction
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid, coarsen_concentration
from learned_advection.numerics.rollout import coarse_grained_rollout, rollout

FLOWS = ("cells", "sinusoidal", "deformation")
TRACERS = ("bell", "block")
FACTOR = 8  # reference resolution / 32
MAX_SPEED = 2.0
OUTPUTS = ("transfer.json", "report.md")


def _pattern(flow: str):
    """``(Y, X) -> psi`` of ``flow`` at its largest (t = 0), unscaled (numpy float64)."""
    if flow == "cells":
        return lambda Y, X: np.sin(X) * np.sin(Y)
    if flow == "deformation":
        return lambda Y, X: np.sin(X / 2) ** 2 * np.sin(Y / 2) ** 2
    if flow == "sinusoidal":
        return random_sinusoidal_streamfunction(t.grid(t.PRESETS["cpu"]), seed=7)
    raise ValueError(f"unknown flow {flow!r}; choose one of {', '.join(FLOWS)}")


def streamfunction(flow: str, grid: Grid, duration: float, max_speed: float = MAX_SPEED):
    """``t -> psi`` on the corners of ``grid`` (numpy float64), scaled so that the largest face speed on the
    reference grid (32 * FACTOR cells a side) is ``max_speed`` -- the same field on every grid.

    Parameters
    ----------
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow.
    grid : Grid
        2-D grid on the ``2 pi`` square.
    duration : float
        Length of the run; the deformation flow reverses at ``duration / 2``.
    max_speed : float, default MAX_SPEED
        Largest face speed on the reference grid.

    Returns
    -------
    Callable
        ``time -> psi``, corner values ``(y, x)`` = ``grid.shape``.

    Raises
    ------
    ValueError
        If ``flow`` is unknown.
    """
    pattern = _pattern(flow)
    reference = t.grid(t.PRESETS["cpu"]).refine(FACTOR)
    psi_ref = jnp.asarray(pattern(*corner_mesh(reference)))
    speed = max(float(jnp.max(jnp.abs(u))) for u in faces_from_streamfunction(psi_ref, reference.spacing))
    psi = (max_speed / speed) * pattern(*corner_mesh(grid))
    if flow == "deformation":  # reverses at duration / 2
        return lambda time: psi * np.cos(np.pi * time / duration)
    return lambda time: psi


def velocity(flow: str, grid: Grid, duration: float):
    """Face velocities on ``grid``: an array pair for a steady flow, a function of time otherwise.

    Parameters
    ----------
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow (largest speed :data:`MAX_SPEED`).
    grid : Grid
        2-D grid on the ``2 pi`` square.
    duration : float
        Length of the run (the deformation flow's period).

    Returns
    -------
    tuple of jax.Array or Callable
        ``(y_velocity, x_velocity)``, each ``(y, x)``, or ``time -> (y_velocity, x_velocity)``.
    """
    psi = streamfunction(flow, grid, duration)
    dtype = jnp.result_type(float)
    if flow == "deformation":
        shape = jnp.asarray(psi(0.0), dtype)

        def at(time):
            return faces_from_streamfunction(shape * jnp.cos(jnp.pi * time / duration).astype(dtype), grid.spacing)

        return at
    return tuple(jnp.asarray(u, dtype) for u in faces_from_streamfunction(jnp.asarray(psi(0.0)), grid.spacing))


def tracer(shape: str, grid: Grid) -> np.ndarray:
    """The initial tracer on ``grid`` (cell means from 4 x 4 sub-cell points).

    Parameters
    ----------
    shape : {"bell", "block"}
        A cosine bell of radius ``0.2 L`` or a square of side ``L / 4`` (``L`` the domain length).
    grid : Grid
        2-D square grid.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``grid.shape``, values in ``[0, 1]``.

    Raises
    ------
    ValueError
        If ``shape`` is unknown.
    """
    length = grid.length[0]
    if shape == "bell":
        return cosine_bell(grid, (0.5 * length, 0.3 * length), 0.2 * length, sub=4)
    if shape == "block":  # a square of side length / 4 centred at (0.6, 0.35) length
        sub = 4
        off = (np.arange(sub) + 0.5) / sub
        y, x = (
            grid.origin[a] + grid.spacing[a] * (np.arange(n)[:, None] + off[None, :]).ravel()
            for a, n in enumerate(grid.shape)
        )
        inside = (np.abs(y[:, None] - 0.6 * length) < length / 8) & (np.abs(x[None, :] - 0.35 * length) < length / 8)
        return inside.astype(float).reshape(grid.shape[0], sub, grid.shape[1], sub).mean(axis=(1, 3))
    raise ValueError(f"unknown tracer {shape!r}; choose one of {', '.join(TRACERS)}")


def _max_courant(vel, grid: Grid, dt: float) -> float:
    """Largest face Courant number of ``vel`` (:func:`velocity`; a time-dependent flow at its largest, t = 0)."""
    vel = vel(0.0) if callable(vel) else vel
    return max(float(jnp.max(jnp.abs(u))) * dt / h for u, h in zip(vel, grid.spacing))


def classical_step(name: str, vel, grid: Grid, dt: float):
    """``name`` at step ``dt`` on ``grid`` in the flow ``vel``: the flux-form semi-Lagrangian path (unbounded)
    above Courant 1; and that Courant number.

    Parameters
    ----------
    name : str
        Scheme name.
    vel : tuple of array or Callable
        Face velocities (:func:`velocity`); a time-dependent flow is taken at ``t = 0``.
    grid : Grid
        The grid.
    dt : float
        Time step.

    Returns
    -------
    tuple
        ``(stepper, courant)``.
    """
    courant = _max_courant(vel, grid, dt)
    # 1e-9: a Courant number at an integer up to round-off takes that integer's large step
    return schemes.scheme(name, courant - 1e-9, bounded=False), courant


def run_case(models: dict, flow: str, shape: str, n_steps: int, coarse_dt: float, coarse: Grid) -> dict:
    """MAE after ``n_steps`` coarse steps of every model and classical baseline on one flow and tracer.

    Parameters
    ----------
    models : dict of str to LearnedModel
        Learned models by method name, each at its own step.
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow.
    shape : {"bell", "block"}
        Which tracer.
    n_steps : int
        Coarse steps; a multiple of every model's step.
    coarse_dt : float
        Coarse time step.
    coarse : Grid
        The coarse (32^2) grid.

    Returns
    -------
    dict
        Method label -> ``mae``, ``k``, ``courant``, ``finite``, ``min`` and ``max`` of the final state.
    """
    duration = n_steps * coarse_dt
    fine = coarse.refine(FACTOR)
    fine_c0 = jnp.asarray(tracer(shape, fine), jnp.result_type(float))
    reference = coarse_grained_rollout(
        schemes.scheme("ppm"),
        fine_c0,
        velocity(flow, fine, duration),
        coarse_dt,
        fine.spacing,
        n_steps,
        FACTOR,
        save_every=n_steps,
    )[-1]
    c0 = coarsen_concentration(fine_c0, FACTOR, 2)
    coarse_vel = velocity(flow, coarse, duration)  # built once: every 32^2 run uses it
    results = {}

    def record(name, final, k, courant):
        final = np.asarray(final)
        results[name] = {
            "mae": float(np.mean(np.abs(final - np.asarray(reference)))),
            "k": k,
            "courant": round(courant, 3),
            "finite": bool(np.all(np.isfinite(final))),
            "min": float(np.min(final)),
            "max": float(np.max(final)),
        }

    ks = sorted({1} | {t.model_step_multiple(m, coarse_dt) for m in models.values()})
    for name, model in models.items():
        k = t.model_step_multiple(model, coarse_dt)
        final = rollout(model, c0, coarse_vel, k * coarse_dt, coarse.spacing, n_steps // k, save_every=n_steps // k)[-1]
        record(name, final, k, _max_courant(coarse_vel, coarse, k * coarse_dt))
    for scheme in ("vanleer", "ppm"):
        for k in ks:
            if n_steps % k:
                continue
            step, courant = classical_step(scheme, coarse_vel, coarse, k * coarse_dt)
            final = rollout(step, c0, coarse_vel, k * coarse_dt, coarse.spacing, n_steps // k, save_every=n_steps // k)[
                -1
            ]
            record(t.method_label(scheme, coarse.shape[0], k), final, k, courant)
    fine64 = coarse.refine(2)
    vel64 = velocity(flow, fine64, duration)
    step, courant = classical_step("vanleer", vel64, fine64, 0.5 * coarse_dt)
    final = coarse_grained_rollout(
        step,
        coarsen_concentration(fine_c0, FACTOR // 2, 2),
        vel64,
        coarse_dt,
        fine64.spacing,
        n_steps,
        2,
        save_every=n_steps,
    )[-1]
    record(t.method_label("vanleer", 64), final, 1, courant)
    return results


def run(
    models: dict,
    out,
    n_steps: int = 256,
    flows=FLOWS,
    tracers=TRACERS,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
) -> dict:
    """Every model and baseline on every flow and tracer; writes ``transfer.json`` and ``report.md`` to ``out``.

    Parameters
    ----------
    models : dict of str to LearnedModel
        Learned 32^2 turbulence models by method name.
    out : str or os.PathLike
        Output folder.
    n_steps : int, default 256
        Coarse steps per case; a multiple of every model's step.
    flows : sequence of str, default FLOWS
        Flows to run.
    tracers : sequence of str, default TRACERS
        Tracers to run.
    overwrite : bool, default False
        Replace the outputs in a non-empty ``out``.
    progress : bool, default True
        Print a line per case.
    command : str, default ""
        The command line, recorded in the results.

    Returns
    -------
    dict
        What is written to ``transfer.json``: provenance, ``steps``, ``coarse_dt``, ``max_speed``,
        ``reference`` and ``cases`` (``"flow/tracer"`` -> :func:`run_case`).

    Raises
    ------
    UserError
        If ``n_steps`` is not a multiple of a model's step, or the output folder is refused.
    """
    from learned_advection.files import write_json_atomic, write_text_atomic

    out = Path(out)
    preset = t.PRESETS["cpu"]
    coarse, coarse_dt = t.grid(preset), preset.data.coarse_dt
    for name, model in models.items():
        k = t.model_step_multiple(model, coarse_dt)
        if n_steps % k:
            raise UserError(f"--steps {n_steps} is not a multiple of model {name}'s step ({k} coarse steps)")
    check_output_folder(out, overwrite, OUTPUTS)  # created only once the results are in
    cases = {}
    for flow in flows:
        for shape in tracers:
            if progress:
                print(f"transfer: {flow} flow, {shape} tracer ...", flush=True)
            cases[f"{flow}/{shape}"] = run_case(models, flow, shape, n_steps, coarse_dt, coarse)
    result = {
        "experiment": "transfer",
        **provenance(command),
        "steps": n_steps,
        "coarse_dt": coarse_dt,
        "max_speed": MAX_SPEED,
        "reference": f"ppm at {coarse.shape[0] * FACTOR}^2",
        "cases": cases,
    }
    prepare_output(out, overwrite, OUTPUTS)
    write_json_atomic(out / "transfer.json", result)
    write_text_atomic(out / "report.md", report(result))
    return result


def report(result: dict) -> str:
    """Markdown: MAE per method (rows) and case (columns), each learned model's ratio to Van Leer at its step.

    Parameters
    ----------
    result : dict
        The results :func:`run` returns.
    """
    cases = result["cases"]
    names = list(next(iter(cases.values())))
    lines = [
        f"# Generalisation: flows and tracers not in the training data ({result['steps']} coarse steps)",
        "",
        f"MAE against {result['reference']} (coarse-grained to 32^2); max speed {result['max_speed']:g}; "
        f"`{result.get('command', '')}` on {result.get('machine', '')}.",
        "",
        "| method | " + " | ".join(cases) + " |",
        "|---" * (len(cases) + 1) + "|",
    ]
    for name in names:
        cells = []
        for case in cases.values():
            r = case[name]
            cells.append(f"{r['mae']:.4f}" + ("" if r["finite"] else " (not finite)"))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    learned = [n for n in names if n.startswith("learned")]
    if learned:
        lines += [
            "",
            "Learned MAE / Van Leer MAE at the same grid and step (below 1: the learned model is better):",
            "",
            "| model | " + " | ".join(cases) + " |",
            "|---" * (len(cases) + 1) + "|",
        ]
        for name in learned:
            cells = []
            for case in cases.values():
                vl = case[t.method_label("vanleer", 32, case[name]["k"])]["mae"]
                cells.append(f"{case[name]['mae'] / vl:.2f}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Smallest / largest value at the end (the initial tracer lies in [0, 1]):",
            "",
            "| model | " + " | ".join(cases) + " |",
            "|---" * (len(cases) + 1) + "|",
        ]
        for name in learned:
            cells = [f"{case[name]['min']:.3f} / {case[name]['max']:.3f}" for case in cases.values()]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
