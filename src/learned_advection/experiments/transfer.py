"""Generalisation of turbulence-trained models to flows and tracer shapes they were not trained on.

The turbulence models were trained on tracers stirred by decaying 2-D turbulence (pyqg flows from
McWilliams (1984) spectra, tracers from the same flows).  Here the same 32^2 grid on the ``2 pi`` square
and each model's own step carry other tracers in other divergence-free flows (all from a corner
streamfunction, so the discrete divergence is zero on every grid):

* ``cells`` -- steady cellular vortices ``psi = U sin x sin y``;
* ``sinusoidal`` -- a steady random multi-mode flow (wavenumbers up to 4, seed 7);
* ``deformation`` -- LeVeque's swirling deformation on the periodic square,
  ``psi ~ sin^2(x / 2) sin^2(y / 2) cos(pi t / T)``, reversing at ``T / 2`` (``T`` the run's length);

and the tracers ``bell`` (a smooth cosine bell) and ``block`` (a square of ones: sharp fronts).

Every flow runs at two strengths (:data:`STRENGTHS`):

* ``default`` -- the same largest speed ``U`` for every flow and model (:data:`MAX_SPEED`, 2: Courant
  number ~0.24 at the coarse step, ~1 at four coarse steps, the range of the turbulence data);
* ``limits`` -- for each model, each flow scaled to the model's declared limits at its own step
  (:func:`declared_speed`): the largest Courant number is the model's ``max_courant``, unless that would
  put the deformation number above its ``max_deformation`` (then :data:`DEFORMATION_MARGIN` of it).  Models
  whose limits give the same flows share one run.

The reference is PPM at 8x the resolution (256^2, eight sub-steps per coarse step, more where that keeps
its Courant number at most :data:`REFERENCE_COURANT`) coarse-grained to 32^2; every method's error is the
MAE against it after ``n_steps`` coarse steps.  The classical schemes, named as on the accuracy-cost plane,
run at 32^2 at the Courant-0.5 step and at each model's step ``k``: ``ppm-32-k8`` at 8 coarse steps,
above Courant number 1 its flux-form semi-Lagrangian large step inside FCT (bounded), and
``ppm-32-k8-unbounded`` the same large step without FCT; at Courant number 1 or below a scheme takes its own
step and has the one name.  Van Leer at 64^2 (``vanleer-64``, half the coarse step) runs too.  Each
learned model is compared with the bounded and the unbounded step of its base scheme (a hybrid's
``base_scheme``, PPM otherwise) and with Van Leer's, all at its own grid and step.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path

import jax.numpy as jnp
import numpy as np

from learned_advection.errors import UserError
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import check_output_folder, prepare_output, provenance
from learned_advection.flows.tracers import cosine_bell
from learned_advection.flows.velocity import corner_mesh, faces_from_streamfunction, random_sinusoidal_streamfunction
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid, coarsen_concentration, deformation_number, max_courant
from learned_advection.numerics.rollout import coarse_grained_rollout, rollout
from learned_advection.transport.guard import RANGE_MARGIN

FLOWS = ("cells", "sinusoidal", "deformation")
TRACERS = ("bell", "block")
STRENGTHS = ("default", "limits")
FACTOR = 8  # reference resolution / 32
MAX_SPEED = 2.0
DEFORMATION_MARGIN = 0.999
"""A flow scaled to a model's deformation limit reaches this fraction of it (round-off stays inside)."""
REFERENCE_COURANT = 0.5
"""The reference's largest Courant number per sub-step is at most this (more sub-steps where needed)."""
LARGE = 1 + 1e-9  # a Courant number above this takes a scheme's large step; at 1 up to round-off, its own
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


@functools.cache
def _unscaled(flow: str):
    """``flow``'s :func:`_pattern` and its largest face speed on the reference grid (computed once per flow)."""
    pattern = _pattern(flow)
    reference = t.grid(t.PRESETS["cpu"]).refine(FACTOR)
    psi_ref = jnp.asarray(pattern(*corner_mesh(reference)))
    return pattern, max(float(jnp.max(jnp.abs(u))) for u in faces_from_streamfunction(psi_ref, reference.spacing))


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
    pattern, speed = _unscaled(flow)
    psi = (max_speed / speed) * pattern(*corner_mesh(grid))
    if flow == "deformation":  # reverses at duration / 2
        return lambda time: psi * np.cos(np.pi * time / duration)
    return lambda time: psi


def velocity(flow: str, grid: Grid, duration: float, max_speed: float = MAX_SPEED):
    """Face velocities on ``grid``: an array pair for a steady flow, a function of time otherwise.

    Parameters
    ----------
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow.
    grid : Grid
        2-D grid on the ``2 pi`` square.
    duration : float
        Length of the run (the deformation flow's period).
    max_speed : float, default MAX_SPEED
        Largest face speed on the reference grid (:func:`streamfunction`).

    Returns
    -------
    tuple of jax.Array or Callable
        ``(y_velocity, x_velocity)``, each ``(y, x)``, or ``time -> (y_velocity, x_velocity)``.
    """
    psi = streamfunction(flow, grid, duration, max_speed)
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


def _at_start(vel):
    """The face velocities of :func:`velocity` at ``t = 0`` (where a time-dependent flow is largest)."""
    return vel(0.0) if callable(vel) else vel


def flow_numbers(vel, grid: Grid, dt: float) -> tuple[float, float]:
    """Largest face Courant number and deformation number of ``vel`` (:func:`velocity`) at step ``dt``.

    Parameters
    ----------
    vel : tuple of array or Callable
        Face velocities; a time-dependent flow is taken at ``t = 0``, where it is largest.
    grid : Grid
        The grid they are on.
    dt : float
        Time step.

    Returns
    -------
    tuple of float
        ``(courant, deformation)``: :func:`~learned_advection.numerics.grids.max_courant` and
        :func:`~learned_advection.numerics.grids.deformation_number`.
    """
    vel = _at_start(vel)
    return max_courant(vel, dt, grid.spacing), deformation_number(vel, dt, grid.spacing)


def declared_speed(flow: str, stepper, grid: Grid, dt: float, duration: float) -> float:
    """The largest speed (:func:`streamfunction`'s ``max_speed``) at which ``flow`` on ``grid`` at step ``dt``
    reaches ``stepper``'s declared limits and stays inside them.

    The largest Courant number is ``stepper.max_courant`` (to float32 round-off, and not above it); where
    ``stepper.max_deformation`` is not ``None`` and that flow would deform faster, the flow is slowed until
    its deformation number is :data:`DEFORMATION_MARGIN` times the limit.

    Parameters
    ----------
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow.
    stepper : Stepper
        The model; its ``max_courant`` and ``max_deformation`` are read.
    grid : Grid
        The grid it runs on.
    dt : float
        Its step.
    duration : float
        Length of the run (the deformation flow's period).

    Returns
    -------
    float
        Largest face speed on the reference grid.
    """
    most = float(stepper.max_courant)
    courant, deformation = flow_numbers(velocity(flow, grid, duration), grid, dt)
    speed = MAX_SPEED * most / courant
    limit = stepper.max_deformation
    if limit is not None and deformation * speed / MAX_SPEED > DEFORMATION_MARGIN * limit:
        return MAX_SPEED * DEFORMATION_MARGIN * limit / deformation
    # the face velocities are float32 differences of the streamfunction, a few 1e-7 off proportional to the
    # speed: of speeds within 1e-6 of this one, the one whose Courant number comes closest to max_courant
    # without passing it
    best, best_courant = 0.0, -1.0
    for j in range(-50, 11):
        trial = speed * (1 + 2e-8 * j)
        courant = flow_numbers(velocity(flow, grid, duration, trial), grid, dt)[0]
        if best_courant < courant <= most:
            best, best_courant = trial, courant
    return best if best_courant > 0 else speed * (1 - 1e-5)  # (1e-5: far beyond float32 round-off)


def base_scheme(model) -> str:
    """The classical scheme a learned model is judged against first: a hybrid's ``base_scheme``, else PPM.

    Parameters
    ----------
    model : LearnedModel or stepper
        A model; its ``config.base_scheme``, if any, is read.
    """
    base = getattr(getattr(model, "config", None), "base_scheme", "none")
    return base if base in schemes.SCHEMES else "ppm"


def baseline_label(scheme: str, n: int, k: int = 1, bounded: bool = True) -> str:
    """The accuracy-cost plane's name of a classical run: ``ppm-32-k8`` (a large step: inside FCT),
    ``ppm-32-k8-unbounded`` (the large step without FCT).

    Parameters
    ----------
    scheme : str
        Scheme name.
    n : int
        Grid size.
    k : int, default 1
        Step in coarse steps.
    bounded : bool, default True
        False: the large step without FCT.
    """
    return t.method_label(scheme, n, k) + ("" if bounded else "-unbounded")


def classical_step(name: str, vel, grid: Grid, dt: float, bounded: bool = True):
    """``name`` at step ``dt`` on ``grid`` in the flow ``vel``: its own step up to Courant number 1, above it
    the flux-form semi-Lagrangian large step, inside FCT when ``bounded``; and that Courant number.

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
    bounded : bool, default True
        Above Courant number 1, wrap the large step in FCT.

    Returns
    -------
    tuple
        ``(stepper, courant)``.
    """
    courant = flow_numbers(vel, grid, dt)[0]
    # LARGE: a Courant number at an integer up to round-off takes that integer's step
    return schemes.scheme(name, courant - (LARGE - 1), bounded=bounded), courant


def reference_substeps(flow: str, coarse: Grid, coarse_dt: float, duration: float, max_speed: float) -> int:
    """Sub-steps per coarse step of the 256^2 reference: :data:`FACTOR`, or a multiple of it that keeps the
    reference's Courant number at most :data:`REFERENCE_COURANT`.

    Parameters
    ----------
    flow : {"cells", "sinusoidal", "deformation"}
        Which flow.
    coarse : Grid
        The coarse (32^2) grid.
    coarse_dt : float
        Coarse time step.
    duration : float
        Length of the run.
    max_speed : float
        The flow's largest speed (:func:`velocity`).
    """
    fine = coarse.refine(FACTOR)
    courant = flow_numbers(velocity(flow, fine, duration, max_speed), fine, coarse_dt / FACTOR)[0]
    return FACTOR * max(1, math.ceil(courant / REFERENCE_COURANT - 1e-9))


def _reference(flow, fine_c0, n_steps, coarse_dt, fine: Grid, max_speed, substeps):
    """PPM on ``fine`` with ``substeps`` steps per coarse step, coarse-grained by :data:`FACTOR` (final state)."""
    vel = velocity(flow, fine, n_steps * coarse_dt, max_speed)
    ppm = schemes.scheme("ppm")
    if not callable(vel):
        return coarse_grained_rollout(
            ppm, fine_c0, vel, coarse_dt, fine.spacing, n_steps, FACTOR, save_every=n_steps, sub_steps=substeps
        )[-1]
    # a velocity function of time, evaluated at every sub-step's midpoint
    return rollout(
        ppm,
        fine_c0,
        vel,
        coarse_dt / substeps,
        fine.spacing,
        n_steps * substeps,
        save_every=n_steps * substeps,
        post=lambda c: coarsen_concentration(c, FACTOR, 2),
    )[-1]


def run_case(
    models: dict,
    flow: str,
    shape: str,
    n_steps: int,
    coarse_dt: float,
    coarse: Grid,
    max_speed: float = MAX_SPEED,
    ks=None,
) -> dict:
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
    max_speed : float, default MAX_SPEED
        The flow's largest speed (:func:`velocity`).
    ks : iterable of int, optional
        Steps (in coarse steps) of the classical runs at 32^2; default 1 and every model's step.

    Returns
    -------
    dict
        Method label -> ``mae``, ``k``, ``courant`` and ``deformation`` (the flow's at the method's grid and
        step), ``finite``, ``min`` and ``max`` of the final state; a classical run adds ``large_step`` (above
        Courant number 1) and ``fct`` (inside FCT), a learned model ``max_courant``, ``max_deformation`` and
        ``base`` (its base scheme).
    """
    duration = n_steps * coarse_dt
    fine = coarse.refine(FACTOR)
    fine_c0 = jnp.asarray(tracer(shape, fine), jnp.result_type(float))
    substeps = reference_substeps(flow, coarse, coarse_dt, duration, max_speed)
    reference = np.asarray(_reference(flow, fine_c0, n_steps, coarse_dt, fine, max_speed, substeps))
    c0 = coarsen_concentration(fine_c0, FACTOR, 2)
    coarse_vel = velocity(flow, coarse, duration, max_speed)  # built once: every 32^2 run uses it
    results = {}

    def record(name, final, k, numbers, **extra):
        final = np.asarray(final)
        results[name] = {
            "mae": float(np.mean(np.abs(final - reference))),
            "k": k,
            "courant": numbers[0],
            "deformation": numbers[1],
            "finite": bool(np.all(np.isfinite(final))),
            "min": float(np.min(final)),
            "max": float(np.max(final)),
            **extra,
        }

    steps = {name: t.model_step_multiple(model, coarse_dt) for name, model in models.items()}
    if ks is None:
        ks = {1, *steps.values()}
    for name, model in models.items():
        k = steps[name]
        final = rollout(model, c0, coarse_vel, k * coarse_dt, coarse.spacing, n_steps // k, save_every=n_steps // k)[-1]
        declared = {"max_courant": model.max_courant, "max_deformation": model.max_deformation}
        record(name, final, k, flow_numbers(coarse_vel, coarse, k * coarse_dt), **declared, base=base_scheme(model))
    names = ["vanleer", "ppm", *sorted({base_scheme(m) for m in models.values()} - {"vanleer", "ppm"})]
    for scheme in names:
        for k in sorted(ks):
            if n_steps % k:
                continue
            numbers = flow_numbers(coarse_vel, coarse, k * coarse_dt)
            large = numbers[0] > LARGE
            for bounded in (True, False) if large else (True,):
                step, _ = classical_step(scheme, coarse_vel, coarse, k * coarse_dt, bounded)
                final = rollout(
                    step, c0, coarse_vel, k * coarse_dt, coarse.spacing, n_steps // k, save_every=n_steps // k
                )[-1]
                label = baseline_label(scheme, coarse.shape[0], k, bounded)
                record(label, final, k, numbers, large_step=large, fct=large and bounded)
    fine64 = coarse.refine(2)
    vel64 = velocity(flow, fine64, duration, max_speed)
    step, _ = classical_step("vanleer", vel64, fine64, 0.5 * coarse_dt)
    numbers = flow_numbers(vel64, fine64, 0.5 * coarse_dt)
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
    large = numbers[0] > LARGE
    record(t.method_label("vanleer", 64), final, 1, numbers, large_step=large, fct=large)
    return results


def _flows(flows, speeds: dict, ks, n_steps: int, coarse_dt: float, coarse: Grid) -> dict:
    """``flow -> {max_speed, reference_substeps, courant, deformation}``: the flow's Courant and deformation
    numbers on ``coarse`` at each step ``k`` (keys ``str(k)``)."""
    duration = n_steps * coarse_dt
    out = {}
    for flow in flows:
        vel = velocity(flow, coarse, duration, speeds[flow])
        numbers = {str(k): flow_numbers(vel, coarse, k * coarse_dt) for k in sorted(ks)}
        out[flow] = {
            "max_speed": speeds[flow],
            "reference_substeps": reference_substeps(flow, coarse, coarse_dt, duration, speeds[flow]),
            "courant": {k: c for k, (c, _) in numbers.items()},
            "deformation": {k: d for k, (_, d) in numbers.items()},
        }
    return out


def run(
    models: dict,
    out,
    n_steps: int = 256,
    flows=FLOWS,
    tracers=TRACERS,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
    strengths=STRENGTHS,
) -> dict:
    """Every model and baseline on every flow and tracer at each strength; writes ``transfer.json`` and
    ``report.md`` to ``out``.

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
    strengths : sequence of str, default STRENGTHS
        ``"default"``: every flow at :data:`MAX_SPEED`; ``"limits"``: every flow at each model's declared
        limits (:func:`declared_speed`).

    Returns
    -------
    dict
        What is written to ``transfer.json``: provenance, ``steps``, ``coarse_dt``, ``max_speed``,
        ``reference``, ``strengths``; at the default strength ``flows`` (:func:`_flows`) and ``cases``
        (``"flow/tracer"`` -> :func:`run_case`; empty without it); and ``limits``, one entry per set of
        models whose limits give the same flows: ``models``, ``declared`` (each one's ``k``,
        ``max_courant`` and ``max_deformation``), ``flows`` and ``cases``.

    Raises
    ------
    UserError
        If ``n_steps`` is not a multiple of a model's step, or the output folder is refused.
    """
    from learned_advection.files import write_json_atomic, write_text_atomic

    out = Path(out)
    preset = t.PRESETS["cpu"]
    coarse, coarse_dt = t.grid(preset), preset.data.coarse_dt
    steps = {name: t.model_step_multiple(model, coarse_dt) for name, model in models.items()}
    for name, k in steps.items():
        if n_steps % k:
            raise UserError(f"--steps {n_steps} is not a multiple of model {name}'s step ({k} coarse steps)")
    check_output_folder(out, overwrite, OUTPUTS)  # created only once the results are in
    duration = n_steps * coarse_dt

    def cases_at(group: dict, speeds: dict, what: str) -> dict:
        cases = {}
        for flow in flows:
            for shape in tracers:
                if progress:
                    print(
                        f"transfer: {flow} flow, {shape} tracer, {what} (largest speed {speeds[flow]:.3g}) ...",
                        flush=True,
                    )
                cases[f"{flow}/{shape}"] = run_case(group, flow, shape, n_steps, coarse_dt, coarse, speeds[flow])
        return cases

    result = {
        "experiment": "transfer",
        **provenance(command),
        "steps": n_steps,
        "coarse_dt": coarse_dt,
        "max_speed": MAX_SPEED,
        "reference": f"ppm at {coarse.shape[0] * FACTOR}^2",
        "strengths": list(strengths),
        "cases": {},
        "limits": [],
    }
    if "default" in strengths:
        speeds = dict.fromkeys(flows, MAX_SPEED)
        result["flows"] = _flows(flows, speeds, {1, *steps.values()}, n_steps, coarse_dt, coarse)
        result["cases"] = cases_at(models, speeds, "default strength")
    if "limits" in strengths:
        groups: dict = {}  # flow speeds -> model names
        known: dict = {}  # the speeds of a step and its limits, computed once
        for name, model in models.items():
            key = (steps[name], model.max_courant, model.max_deformation)
            if key not in known:
                dt = steps[name] * coarse_dt
                known[key] = tuple(declared_speed(flow, model, coarse, dt, duration) for flow in flows)
            groups.setdefault(known[key], []).append(name)
        for key, names in groups.items():
            speeds = dict(zip(flows, key))
            group = {name: models[name] for name in names}
            ks = {1, *(steps[name] for name in names)}
            result["limits"].append(
                {
                    "models": names,
                    "declared": {
                        name: {
                            "k": steps[name],
                            "max_courant": models[name].max_courant,
                            "max_deformation": models[name].max_deformation,
                        }
                        for name in names
                    },
                    "flows": _flows(flows, speeds, ks, n_steps, coarse_dt, coarse),
                    "cases": cases_at(group, speeds, f"at the declared limits of {', '.join(names)}"),
                }
            )
    prepare_output(out, overwrite, OUTPUTS)
    write_json_atomic(out / "transfer.json", result)
    write_text_atomic(out / "report.md", report(result))
    return result


_STEPS = {
    (False, False): "own step",
    (True, True): "large step in FCT: bounded",
    (True, False): "large step without FCT: unbounded",
}


def _step(records) -> str:
    """How the classical runs ``records`` step (:data:`_STEPS`; several joined by `` / ``), ``learned``, or ``""``."""
    if any("base" in r for r in records):
        return "learned"
    kinds = sorted({(r["large_step"], r["fct"]) for r in records if "large_step" in r})
    return " / ".join(_STEPS[k] for k in kinds)


def _span(values, fmt: str) -> str:
    """``"a"`` or ``"a–b"``: the smallest and largest of ``values``."""
    lo, hi = format(min(values), fmt), format(max(values), fmt)
    return lo if lo == hi else f"{lo}–{hi}"


def _methods(cases: dict) -> list[str]:
    """Every method's label, in the order the cases list them (a method missing from a case included)."""
    return list(dict.fromkeys(name for case in cases.values() for name in case))


def _learned(cases: dict) -> list[str]:
    """The learned models' labels (run in every case), in table order."""
    first = next(iter(cases.values()))
    return [n for n in first if "base" in first[n] or n.startswith("learned")]


def _baselines(cases: dict, name: str) -> list[str]:
    """The baselines of learned model ``name`` present in ``cases``: the bounded and the unbounded step of its
    base scheme, then Van Leer's, at its grid and step."""
    first = next(iter(cases.values()))[name]
    k, base = first["k"], first.get("base", "ppm")
    labels = []
    for scheme in dict.fromkeys((base, "vanleer")):
        labels += [baseline_label(scheme, 32, k), baseline_label(scheme, 32, k, bounded=False)]
    return [label for label in labels if any(label in case for case in cases.values())]


def _ratios(cases: dict, name: str, against: str) -> dict:
    """``case -> learned MAE / baseline MAE`` where both ran."""
    return {c: r[name]["mae"] / r[against]["mae"] for c, r in cases.items() if against in r and r[against]["mae"] > 0}


def _blew_up(record: dict) -> bool:
    """The final state is not finite or leaves the tracers' range [0, 1] by more than its width
    (:data:`~learned_advection.transport.guard.RANGE_MARGIN` of it: what stops a ``simulate`` run)."""
    return not record["finite"] or record["min"] < -RANGE_MARGIN or record["max"] > 1 + RANGE_MARGIN


def _number(value: float, fmt: str) -> str:
    """``value`` in ``fmt``, or in two significant digits from 1000 up (a blown-up run's values)."""
    return format(value, fmt) if not abs(value) >= 1000 else f"{value:.2g}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"] + ["| " + " | ".join(r) + " |" for r in rows]


def _section(flows: dict | None, cases: dict) -> list[str]:
    """Flows, MAE, ratio and range tables of one strength."""
    lines = []
    if flows:
        ks = list(next(iter(flows.values()))["courant"])
        header = ["flow", "largest speed"]
        for k in ks:
            header += [f"Courant number (k = {k})", f"deformation number (k = {k})"]
        rows = []
        for flow, f in flows.items():
            row = [flow, f"{f['max_speed']:.4g}"]
            for k in ks:
                row += [f"{f['courant'][k]:.3f}", f"{f['deformation'][k]:.3f}"]
            rows.append(row)
        lines += ["Each flow's largest face Courant number and deformation number at 32² and step k:", ""]
        lines += _table(header, rows) + [""]
    rows = []
    for name in _methods(cases):
        records = [case[name] for case in cases.values() if name in case]
        cells = [
            _number(case[name]["mae"], ".4f") + (" (blew up)" if _blew_up(case[name]) else "") if name in case else "–"
            for case in cases.values()
        ]
        rows.append([name, str(records[0]["k"]), _span([r["courant"] for r in records], ".2f"), _step(records), *cells])
    lines += ["MAE (k: the step in coarse steps; Courant: the flow's largest Courant number at it):", ""]
    lines += _table(["method", "k", "Courant", "step", *cases], rows)
    learned = _learned(cases)
    if learned:
        rows = []
        for name in learned:
            for against in _baselines(cases, name):
                ratios = _ratios(cases, name, against)
                step = _step([case[against] for case in cases.values() if against in case])
                cells = (
                    "blew up" if _blew_up(r[name]) else _number(ratios[c], ".2f") if c in ratios else "–"
                    for c, r in cases.items()
                )
                rows.append([name, against, step, *cells])
        lines += [
            "",
            "Learned MAE / baseline MAE at the same grid and step (below 1: the learned model is better); the "
            "baselines are the bounded and the unbounded step of the model's base scheme, then Van Leer's; "
            "blew up: the model's final state is not finite or leaves [0, 1] by more than its width:",
            "",
        ]
        lines += _table(["model", "against", "its step", *cases], rows)
        rows = [
            [
                name,
                *(
                    f"{_number(case[name]['min'], '.3f')} / {_number(case[name]['max'], '.3f')}"
                    for case in cases.values()
                ),
            ]
            for name in learned
        ]
        lines += ["", "Smallest / largest value at the end (the initial tracer lies in [0, 1]):", ""]
        lines += _table(["model", *cases], rows)
    return lines


def _summary(cases: dict, where: str) -> list[str]:
    """One line per learned model: in how many cases it blew up, and where it did not, its MAE ratio to each
    baseline and in how many cases it is the smaller."""
    lines = []
    for name in _learned(cases):
        first = next(iter(cases.values()))[name]
        kept = {c: r for c, r in cases.items() if not _blew_up(r[name])}
        parts = [] if len(kept) == len(cases) else [f"blew up in {len(cases) - len(kept)} of {len(cases)}"]
        for against in _baselines(cases, name) if kept else ():
            ratios = _ratios(kept, name, against)
            if ratios:
                step = _step([case[against] for case in cases.values() if against in case])
                better = sum(r < 1 for r in ratios.values())
                parts.append(
                    f"`{against}` ({step}) {_span(ratios.values(), '.2f')}×, better in {better} of {len(ratios)}"
                )
        courant = _span([case[name]["courant"] for case in cases.values()], ".2f")
        lines.append(f"* `{name}` (k = {first['k']}, Courant {courant}), {where}: " + "; ".join(parts) + ".")
    return lines


def _declared(declared: dict) -> str:
    """``name: k = 8, max_courant 4, max_deformation 0.9`` for each model."""
    parts = []
    for name, d in declared.items():
        limit = "no deformation limit" if d["max_deformation"] is None else f"max_deformation {d['max_deformation']:g}"
        parts.append(f"`{name}`: k = {d['k']}, max_courant {d['max_courant']}, {limit}")
    return "; ".join(parts)


def report(result: dict) -> str:
    """Markdown: per strength, the flows' Courant and deformation numbers, MAE per method (rows) and case
    (columns), each learned model's ratio to the bounded and the unbounded step of its base scheme and to Van
    Leer's at its grid and step, and its range at the end; then a summary.

    Parameters
    ----------
    result : dict
        The results :func:`run` returns.
    """
    lines = [
        f"# Generalisation: flows and tracers not in the training data ({result['steps']} coarse steps)",
        "",
        f"MAE against {result['reference']} (coarse-grained to 32^2); "
        f"`{result.get('command', '')}` on {result.get('machine', '')}.",
        "",
        "Classical methods are named as on the accuracy-cost plane: `SCHEME-GRID-kK` runs at K coarse steps; "
        "above Courant number 1 it is the scheme's flux-form semi-Lagrangian large step inside FCT (bounded), "
        "`SCHEME-GRID-kK-unbounded` the same large step without FCT; at Courant number 1 or below the "
        "scheme's own step (one name).",
    ]
    summary = []
    if result.get("cases"):
        where = f"largest speed {result['max_speed']:g}"
        lines += ["", f"## Default strength: {where} on every flow", ""]
        lines += _section(result.get("flows"), result["cases"])
        summary += _summary(result["cases"], where)
    for group in result.get("limits", []):
        names = ", ".join(f"`{n}`" for n in group["models"])
        lines += [
            "",
            f"## At the declared limits of {names}",
            "",
            f"{_declared(group['declared'])}. Each flow is scaled so that its largest Courant number at the "
            f"model's step is max_courant, or, where that deforms faster, its deformation number is "
            f"{DEFORMATION_MARGIN:g} × max_deformation.",
            "",
        ]
        lines += _section(group["flows"], group["cases"])
        summary += _summary(group["cases"], "at its declared limits")
    if summary:
        lines += ["", "## Summary: learned MAE / baseline MAE over the cases", "", *summary]
    return "\n".join(lines) + "\n"
