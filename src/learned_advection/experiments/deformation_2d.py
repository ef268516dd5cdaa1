"""2-D deformational flow (paper Section III B, Figs. 5-6): a learned 64^2 solver that never saw this flow.

Pipeline
--------
* **Training data** (random flows only): periodic, exactly divergence-free random sinusoidal flows
  (:func:`learned_advection.flows.velocity.random_sinusoidal_family`, ``|k| <= 4``, amplitude ``(|k|+1)^-3``),
  one amplitude per sample ``max|u| ~ U[0.25, 1]`` (the deformational flow slows to 0 near ``T/2``);
  concentration initial conditions built on the fine grid, half of them ensembles of Gaussian /
  cosine-bell blobs (smooth) and half binarised random Fourier series (sharp edges); reference = Van
  Leer at 4x resolution with 4 sub-steps per coarse step, coarse-grained by block means.  All eight
  exact D4 images of every trajectory (:func:`learned_advection.numerics.symmetry.d4_element`) are added.
* **Grid spacing and time step are the test's**: ``dx = 1/64`` and one fixed coarse
  ``dt = 0.5 * dx / 1`` (max Courant number 0.5 at ``max|u| = 1``).  The ``cpu`` preset trains on a
  periodic ``[0, 1/2]^2`` box of 32^2 cells (4x cheaper per sample than 64^2 on ``[0, 1]^2``; the
  model's inputs -- rescaled concentration and Courant numbers -- and its outputs are the same
  functions of the local state on either box); ``paper`` trains on ``[0, 1]^2`` at 64^2.
* **Model**: :class:`learned_advection.learned.models.LearnedModel` -- one CNN predicting constrained
  (sum-to-one) stencil coefficients for both x- and y-faces, stepped *unsplit* (both directions from
  the same state, forward Euler), as in the paper's code: the network absorbs splitting and
  time-stepping error, so no Lin-Rood combination is needed.
* **Test**: LeVeque's deformational flow on ``[0, 1]^2``, period ``T = 5``, cosine bell at (1/4, 1/4)
  with radius 1/4, for several periods.  Each coarse step uses the (analytic, C-grid face-averaged)
  velocity at its midpoint; finer solvers take 2 or 4 sub-steps at their own sub-step midpoints.
  Compared: upwind / Van Leer / PPM / WENO5-Z (with SSP-RK3) at 64^2, the learned model at 64^2, and
  Van Leer at 128^2 and 256^2 coarse-grained to 64^2.  Since the exact solution at ``t = nT`` is the
  initial condition, the error at the end of every period is measured against the initial 64^2 state.
"""

from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data.reference import Trajectories
from learned_advection.evaluation.metrics import entropy, mae_per_sample, mass_change, relative_l1
from learned_advection.flows import velocity as vel_mod
from learned_advection.flows.tracers import cosine_bell
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig
from learned_advection.numerics import schemes, symmetry
from learned_advection.numerics.grids import Grid, coarsen_concentration
from learned_advection.numerics.rollout import coarse_grained_rollout

EXPERIMENT = "deformation-2d"
PERIOD = 5.0
CENTRE = (0.25, 0.25)
RADIUS = 0.25
PURPOSES = {"train": 0, "validation": 1}


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the deformational-flow experiment: training data, model, training and test settings.

    Parameters
    ----------
    name : str
        Preset name (a key of :data:`PRESETS`).
    model : ModelConfig
        The learned model (2-D).
    train : TrainConfig
        Training settings.
    test_n : int, default 64
        Test grid size on ``[0, 1]^2``.
    train_n : int, default 32
        Training grid size.
    train_length : float, default 0.5
        Side of the periodic training box; ``train_length / train_n`` must equal ``1 / test_n``.
    factor : int, default 4
        Reference resolution factor and sub-steps per coarse step.
    train_samples : int, default 32
        Training trajectories before D4 augmentation.
    validation_samples : int, default 4
        Validation trajectories.
    train_steps : int, default 64
        Coarse steps per training trajectory.
    periods : int, default 2
        Flow periods of the test.
    save_every : int, default 8
        Coarse steps between saved test states; must divide half a period.
    amplitude : tuple of float, default (0.25, 1.0)
        Range of the uniform ``max|u|`` of each training flow.
    kmax : int, default 4
        Largest wavenumber of the training flows.
    cfl : float, default 0.5
        Courant number at ``max|u| = 1``; sets ``dt``.
    augment : bool, default True
        Add the 8 D4 images of every training trajectory.

    Raises
    ------
    ValueError
        If the training and test grid spacings differ or ``save_every`` does not divide half a period.
    """

    name: str
    model: ModelConfig
    train: TrainConfig
    test_n: int = 64  # coarse test grid on [0, 1]^2
    train_n: int = 32  # coarse training grid (cells per side) ...
    train_length: float = 0.5  # ... on a periodic box of this side; its dx must equal the test's
    factor: int = 4  # reference resolution (and sub-steps per coarse step)
    train_samples: int = 32  # before D4 augmentation
    validation_samples: int = 4
    train_steps: int = 64  # coarse steps per training trajectory
    periods: int = 2
    save_every: int = 8  # coarse steps between saved states of the deformational runs
    amplitude: tuple[float, float] = (0.25, 1.0)  # max|u| of a training flow ~ U[a, b]
    kmax: int = 4
    cfl: float = 0.5
    augment: bool = True

    def __post_init__(self):
        if not math.isclose(self.train_length / self.train_n, 1.0 / self.test_n, rel_tol=1e-12):
            raise ValueError("training and test grids must share the grid spacing")
        if self.steps_per_period % 2 or (self.steps_per_period // 2) % self.save_every:
            raise ValueError("save_every must divide half a period of coarse steps")

    @property
    def dx(self) -> float:
        """Cell width of the test (and training) grid, ``1 / test_n``."""
        return 1.0 / self.test_n

    @property
    def dt(self) -> float:
        """Coarse time step, ``cfl * dx`` (``max|u| = 1``)."""
        return self.cfl * self.dx / 1.0  # max|u| = 1 on both the training flows and the deformational flow

    @property
    def steps_per_period(self) -> int:
        """Coarse steps per flow period ``T / dt``; ``ValueError`` if that is not a whole number."""
        n = PERIOD / self.dt
        if abs(n - round(n)) > 1e-9:
            raise ValueError(f"T / dt = {n} is not an integer")
        return int(round(n))


def _model(layers, filters, stencil=(4, 5), velocity_input="courant"):
    return ModelConfig(ndim=2, layers=layers, filters=filters, stencil=stencil, velocity_input=velocity_input)


PRESETS: dict[str, Preset] = {
    # tiny end-to-end check for the test suite: 16^2 test grid, training on 16^2 / 64^2 fine
    "smoke": Preset(
        "smoke",
        _model(2, 8, (2, 3)),
        TrainConfig(steps=4, batch_size=2, unroll=2, eval_every=2, checkpoint_every=4, validation_steps=8),
        test_n=16,
        train_n=16,
        train_length=1.0,
        train_samples=2,
        validation_samples=1,
        train_steps=8,
        periods=2,
        save_every=4,
        augment=True,
    ),
    # sized for 2 CPU cores: training box [0, 1/2]^2 at 32^2 (same dx and dt as the 64^2 test)
    "cpu": Preset(
        "cpu",
        _model(4, 32, (4, 5)),
        TrainConfig(
            steps=1000,
            batch_size=4,
            unroll=4,
            long_unroll=10,
            long_unroll_from=0.25,
            learning_rate=1e-3,
            final_learning_rate=2e-5,
            eval_every=50,
            checkpoint_every=100,
            validation_steps=64,
        ),
        test_n=64,
        train_n=32,
        train_length=0.5,
        train_samples=32,
        validation_samples=4,
        train_steps=64,
    ),
    # the paper's network (10 x 128), trained on [0, 1]^2 at 64^2 from 256^2: for a GPU
    "paper": Preset(
        "paper",
        _model(10, 128, (4, 5), "raw"),
        TrainConfig(
            steps=20000,
            batch_size=16,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=500,
            checkpoint_every=500,
            validation_steps=128,
        ),
        test_n=64,
        train_n=64,
        train_length=1.0,
        train_samples=64,
        validation_samples=8,
        train_steps=128,
        periods=3,
    ),
}


# --------------------------------------------------------------------------- grids and initial states
def test_grid(preset: Preset, factor: int = 1) -> Grid:
    """The test grid on ``[0, 1]^2``, refined ``factor`` times.

    Parameters
    ----------
    preset : Preset
        Supplies ``test_n``.
    factor : int, default 1
        Refinement factor.
    """
    return Grid.square(preset.test_n * factor, 1.0)


def train_grid(preset: Preset, factor: int = 1) -> Grid:
    """The periodic training box, refined ``factor`` times.

    Parameters
    ----------
    preset : Preset
        Supplies ``train_n`` and ``train_length``.
    factor : int, default 1
        Refinement factor.
    """
    return Grid.square(preset.train_n * factor, preset.train_length)


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream of this experiment for ``(seed, purpose)``.

    Parameters
    ----------
    seed : int
        Integer seed.
    purpose : {"train", "validation"}
        Which stream.
    """
    return np.random.default_rng([int(seed), PURPOSES[purpose], 20200502])


def _periodic_distance(grid: Grid, centre) -> np.ndarray:
    Y, X = grid.mesh()
    ly, lx = grid.length
    dy = (Y - centre[0] + ly / 2) % ly - ly / 2
    dx = (X - centre[1] + lx / 2) % lx - lx / 2
    return np.hypot(dy, dx)


def blob_ensemble(rng: np.random.Generator, fine: Grid, dx_coarse: float) -> np.ndarray:
    """1-5 Gaussian or cosine-bell blobs (widths 1-5 / radii 3-12 coarse cells), heights U[0.3, 1].

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    fine : Grid
        2-D grid the field is sampled on (cell centres, periodic distances).
    dx_coarse : float
        Coarse cell width, the unit of the blob sizes.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``fine.shape``.
    """
    c = np.zeros(fine.shape)
    for _ in range(int(rng.integers(1, 6))):
        centre = (rng.uniform(0, fine.length[0]), rng.uniform(0, fine.length[1]))
        r = _periodic_distance(fine, centre)
        h = rng.uniform(0.3, 1.0)
        if rng.random() < 0.5:
            s = rng.uniform(1.0, 5.0) * dx_coarse
            c += h * np.exp(-0.5 * (r / s) ** 2)
        else:
            rad = rng.uniform(3.0, 12.0) * dx_coarse
            c += h * 0.5 * (1.0 + np.cos(np.pi * np.minimum(1.0, r / rad)))
    return c


def binary_fourier(rng: np.random.Generator, fine: Grid) -> np.ndarray:
    """A random Fourier series (``|k| <= K``, ``K`` in 2..5) thresholded at a random quantile: sharp 0/h patches.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    fine : Grid
        2-D grid the field is sampled on.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``fine.shape``; values 0 and ``h ~ U[0.3, 1]``.
    """
    kmax = int(rng.integers(2, 6))
    Y, X = fine.mesh()
    ly, lx = fine.length
    f = np.zeros(fine.shape)
    for ky in range(-kmax, kmax + 1):
        for kx in range(0, kmax + 1):
            if (kx == 0 and ky <= 0) or kx * kx + ky * ky > kmax * kmax:
                continue
            f += rng.normal() * np.cos(2 * np.pi * (ky * Y / ly + kx * X / lx) + rng.uniform(0, 2 * np.pi))
    level = np.quantile(f, rng.uniform(0.5, 0.85))
    return rng.uniform(0.3, 1.0) * (f > level).astype(float)


def training_initial_condition(rng: np.random.Generator, kind: str, fine: Grid, dx_coarse: float) -> np.ndarray:
    """A :func:`blob_ensemble` for ``kind == "blobs"``, else a :func:`binary_fourier` field.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    kind : {"blobs", "binary"}
        Which family.
    fine : Grid
        2-D grid the field is sampled on.
    dx_coarse : float
        Coarse cell width (blob sizes).
    """
    return blob_ensemble(rng, fine, dx_coarse) if kind == "blobs" else binary_fourier(rng, fine)


# --------------------------------------------------------------------------- training data
def make_training_data(
    preset: Preset, split: str, n_samples: int, seed: int = 0, d4: bool = False, chunk: int = 8
) -> Trajectories:
    """Random-flow trajectories: Van Leer at ``factor``x resolution coarse-grained to the training grid.

    Parameters
    ----------
    preset : Preset
        Grid, step, trajectory length and flow settings.
    split : {"train", "validation"}
        Random stream of the flows and initial conditions.
    n_samples : int
        Trajectories (initial conditions alternate blobs and binary fields).
    seed : int, default 0
        Seed of the random stream.
    d4 : bool, default False
        Add the 8 D4 images of every trajectory (8 times the samples, image-major).
    chunk : int, default 8
        Samples solved per compiled call.

    Returns
    -------
    Trajectories
        States ``(sample, train_steps + 1, train_n, train_n)`` and constant coarse face velocities.
    """
    rng = rng_for(seed, split)
    fine, coarse, f = train_grid(preset, preset.factor), train_grid(preset), preset.factor
    dt, steps = preset.dt, preset.train_steps
    c0s, vel_fine, vel_coarse = [], [], []
    for k in range(n_samples):
        amp = rng.uniform(*preset.amplitude)
        flow_seed = int(rng.integers(2**31 - 1))
        vf, vc = vel_mod.random_sinusoidal_family(fine, flow_seed, [1, f], kmax=preset.kmax, max_speed=amp)
        c0s.append(training_initial_condition(rng, ("blobs", "binary")[k % 2], fine, preset.dx))
        vel_fine.append(vf)
        vel_coarse.append(vc)
    vl = schemes.scheme("vanleer")
    spacing = tuple(fine.spacing)

    @jax.jit
    def solve(c0, v):
        return jax.vmap(lambda c, vel: coarse_grained_rollout(vl, c, vel, dt, spacing, steps, f))(c0, v)

    dtype = jnp.result_type(float)
    states = []
    for lo in range(0, n_samples, chunk):
        c0 = jnp.asarray(np.stack(c0s[lo : lo + chunk]), dtype)
        v = tuple(jnp.stack([u[a] for u in vel_fine[lo : lo + chunk]]).astype(dtype) for a in range(2))
        states.append(np.asarray(solve(c0, v)))
    states = np.concatenate(states)
    velocity = tuple(np.stack([np.asarray(u[a]) for u in vel_coarse]).astype(states.dtype) for a in range(2))
    if d4:
        images = [
            symmetry.d4_element(k, jnp.asarray(states), tuple(jnp.asarray(u) for u in velocity)) for k in range(8)
        ]
        states = np.concatenate([np.asarray(i[0]) for i in images])
        velocity = tuple(np.concatenate([np.asarray(i[1][a]) for i in images]) for a in range(2))
    return Trajectories(states, velocity, dt, coarse)


def train_model(
    preset: Preset,
    out_dir: Path | None,
    progress: bool = True,
    train_seed: int | None = None,
    log=None,
    resume: bool = False,
):
    """Train on random flows only (D4-augmented if set); validation on held-out random flows.

    Parameters
    ----------
    preset : Preset
        Data, model and training settings.
    out_dir : pathlib.Path or None
        Folder of the ``best/`` and ``last/`` checkpoints; ``None`` writes nothing.
    progress : bool, default True
        Show a progress bar.
    train_seed : int, optional
        Seed of the training data and of the training; ``None`` (default): data seed 0 and the preset's training seed.
    log : Callable, optional
        Receives a message about the training data.
    resume : bool, default False
        Continue the run in ``out_dir/last``.

    Returns
    -------
    tuple
        ``(result, config, data_seconds, baselines)``: the :class:`~learned_advection.learned.training.TrainResult`,
        the training settings used, the seconds spent making the data, and the validation error of Van Leer,
        PPM and WENO5-Z on the same validation set.
    """
    from learned_advection.learned.training import train, validation_error

    seed = 0 if train_seed is None else int(train_seed)
    t0 = time.perf_counter()
    train_data = make_training_data(preset, "train", preset.train_samples, seed, d4=preset.augment)
    val_data = make_training_data(preset, "validation", preset.validation_samples, 0)
    data_seconds = time.perf_counter() - t0
    if log:
        log(
            f"training data: {train_data.n_samples} trajectories x {train_data.n_steps} steps at "
            f"{preset.train_n}^2 ({data_seconds:.0f} s)"
        )
    config = preset.train if train_seed is None else dataclasses.replace(preset.train, seed=seed)
    extra = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        "training_flows": "random sinusoidal, never deformational",
        "data": data_description(preset, seed),
    }
    result = train(
        preset.model,
        train_data,
        val_data,
        config,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        extra=extra,
        description=f"train {EXPERIMENT} ({preset.name})",
    )
    baselines = {
        f"{name}-{preset.train_n}": validation_error(schemes.scheme(name), val_data, config.validation_steps)
        for name in ("vanleer", "ppm", "weno5z")
    }
    return result, config, data_seconds, baselines


def data_description(preset: Preset, seed: int = 0) -> dict:
    """The training data's settings, for the checkpoint and ``metrics.json``.

    Parameters
    ----------
    preset : Preset
        The preset.
    seed : int, default 0
        Seed of the training data.
    """
    return {
        "train_grid": {"n": preset.train_n, "length": preset.train_length},
        "fine_n": preset.train_n * preset.factor,
        "reference": f"vanleer at {preset.factor}x, {preset.factor} sub-steps",
        "dt": preset.dt,
        "dx": preset.dx,
        "cfl_at_max_speed_1": preset.cfl,
        "train_samples": preset.train_samples,
        "d4_augmentation": preset.augment,
        "train_trajectories": preset.train_samples * (8 if preset.augment else 1),
        "validation_samples": preset.validation_samples,
        "steps_per_trajectory": preset.train_steps,
        "amplitude_range": list(preset.amplitude),
        "kmax": preset.kmax,
        "initial_conditions": "alternating blob ensembles (Gaussian / cosine bell) and binarised random Fourier series",
        "seed": seed,
    }


# --------------------------------------------------------------------------- the deformational test
def run_deformation(step, c0, preset: Preset, factor: int, n_coarse: int) -> np.ndarray:
    """Solve the deformational flow with ``step`` at ``factor`` x the test resolution.

    ``factor`` sub-steps of ``dt / factor`` per coarse step, each with the velocity at its own midpoint
    (:func:`~learned_advection.numerics.rollout.coarse_grained_rollout`; times from integer step counts).  Returns the states
    coarse-grained to the test grid every ``save_every`` coarse steps: ``(n_coarse / save_every + 1, n, n)``.

    Parameters
    ----------
    step : Stepper
        A classical scheme or a learned model.
    c0 : array
        Initial state on the refined grid, ``(test_n * factor, test_n * factor)``.
    preset : Preset
        Test grid, step and ``save_every``.
    factor : int
        Resolution factor of the solver (and sub-steps per coarse step).
    n_coarse : int
        Coarse steps to run; a multiple of ``save_every``.
    """
    grid = test_grid(preset, factor)
    velocity = vel_mod.deformational(grid, PERIOD)
    solve = jax.jit(
        lambda c: coarse_grained_rollout(
            step, c, velocity, preset.dt, grid.spacing, n_coarse, factor, preset.save_every
        )
    )
    return np.asarray(solve(jnp.asarray(c0, jnp.result_type(float))))


def methods_to_run(preset: Preset) -> list[tuple[str, str, int]]:
    """The methods of the test: upwind, Van Leer, PPM, WENO5-Z and the learned model at ``test_n``, Van Leer at 2x and 4x.

    Parameters
    ----------
    preset : Preset
        Supplies ``test_n``.

    Returns
    -------
    list of tuple
        ``(label, scheme, factor)``; the scheme ``"learned"`` stands for the trained model.
    """
    n = preset.test_n
    return [
        (f"upwind-{n}", "upwind", 1),
        (f"vanleer-{n}", "vanleer", 1),
        (f"ppm-{n}", "ppm", 1),
        (f"weno5z-{n}", "weno5z", 1),
        (f"learned-{n}", "learned", 1),
        (f"vanleer-{2 * n}", "vanleer", 2),
        (f"vanleer-{4 * n}", "vanleer", 4),
    ]


def method_metrics(traj: np.ndarray, initial: np.ndarray, preset: Preset) -> dict:
    """Errors against the initial state (= exact solution at t = nT), entropy, mass, extrema.

    Parameters
    ----------
    traj : numpy.ndarray
        Saved states of one method, ``(time, y, x)``, every ``save_every`` coarse steps.
    initial : numpy.ndarray
        Initial state on the test grid, ``(y, x)``.
    preset : Preset
        Step, ``save_every``, period length and number of periods.

    Returns
    -------
    dict
        ``step``, ``time``, ``entropy`` (per saved state); ``l1_error_vs_initial`` and ``mae_vs_initial`` (each
        ``T`` and ``periods``: the value at the end of every period); ``mass_error``, ``min``, ``max``, ``finite``.
    """
    traj = np.asarray(traj, np.float64)
    initial = np.asarray(initial, np.float64)
    steps = [k * preset.save_every for k in range(traj.shape[0])]
    per_period = preset.steps_per_period // preset.save_every
    finite = bool(np.all(np.isfinite(traj)))
    l1 = relative_l1(traj, initial)  # normalised l1 error, sum |C - C0| / sum |C0|, per saved state
    mae = mae_per_sample(traj, initial)
    ends = [p * per_period for p in range(1, preset.periods + 1)]
    return {
        "step": steps,
        "time": [s * preset.dt for s in steps],
        "l1_error_vs_initial": {"T": float(l1[per_period]), "periods": [float(l1[k]) for k in ends]},
        "mae_vs_initial": {"T": float(mae[per_period]), "periods": [float(mae[k]) for k in ends]},
        "entropy": [float(s) for s in entropy(np.nan_to_num(traj), initial)],
        "mass_error": float(np.max(np.abs(mass_change(traj, initial)))),
        "min": float(np.nanmin(traj)),
        "max": float(np.nanmax(traj)),
        "finite": finite,
    }


def evaluate(model, preset: Preset, progress: bool = True, log=None) -> dict:
    """Every method on the deformational flow for ``preset.periods`` periods; metrics and trajectories.

    Parameters
    ----------
    model : LearnedModel or None
        The learned model at ``test_n``; ``None`` runs only the classical methods.
    preset : Preset
        Test settings.
    progress : bool, default True
        Together with ``log``: report each method's time.
    log : Callable, optional
        Receives one line per method.

    Returns
    -------
    dict
        ``methods`` (label -> :func:`method_metrics` plus ``seconds``), and the private ``_trajectories``
        (label -> ``(time, y, x)``) and ``_initial`` entries.
    """
    n_coarse = preset.periods * preset.steps_per_period
    finest = max(f for _, _, f in methods_to_run(preset))
    c_fine = cosine_bell(test_grid(preset, finest), CENTRE, RADIUS, sub=4)  # cell averages
    initial = np.asarray(coarsen_concentration(jnp.asarray(c_fine), finest, 2)) if finest > 1 else c_fine
    trajs, seconds = {}, {}
    for name, scheme, factor in methods_to_run(preset):
        if scheme == "learned":
            if model is None:
                continue
            step = model
        else:
            step = schemes.scheme(scheme)
        c0 = np.asarray(coarsen_concentration(jnp.asarray(c_fine), finest // factor, 2)) if finest > factor else c_fine
        t0 = time.perf_counter()
        trajs[name] = run_deformation(step, c0, preset, factor, n_coarse)
        seconds[name] = time.perf_counter() - t0
        if log and progress:
            log(f"  {name}: {seconds[name]:.1f} s")
    methods = {name: {**method_metrics(t, initial, preset), "seconds": seconds[name]} for name, t in trajs.items()}
    return {"methods": methods, "_trajectories": trajs, "_initial": initial}


def entropy_after_half_period(m: dict, preset: Preset) -> dict:
    """Entropy at T/2 and T (first period) and whether it falls in between (the paper's Fig. 6 signature).

    Parameters
    ----------
    m : dict
        One method's metrics (:func:`method_metrics`).
    preset : Preset
        Period length and ``save_every``.

    Returns
    -------
    dict
        ``at_half_period``, ``at_T``, ``max`` and ``falls_after_half_period``.
    """
    ent = m["entropy"]
    half, full = preset.steps_per_period // 2 // preset.save_every, preset.steps_per_period // preset.save_every
    return {
        "at_half_period": ent[half],
        "at_T": ent[full],
        "max": max(ent),
        "falls_after_half_period": ent[full] < ent[half],
    }


# --------------------------------------------------------------------------- outputs
def write_outputs(out: Path, metrics: dict, result: dict, preset: Preset) -> None:
    """metrics.json, figures and report.md for an evaluation result.

    Parameters
    ----------
    out : pathlib.Path
        Output folder; ``figures/`` in it must exist.
    metrics : dict
        What is written to ``metrics.json`` (with ``methods``).
    result : dict
        The evaluation result with its private trajectories (:func:`evaluate`).
    preset : Preset
        Period length, ``save_every`` and number of periods.
    """
    from learned_advection.files import write_json_atomic, write_text_atomic
    from learned_advection.plots import deformation as plots

    write_json_atomic(out / "metrics.json", metrics)
    figs = out / "figures"
    trajs = result["_trajectories"]
    p = preset.steps_per_period // preset.save_every
    plots.snapshots(trajs, [0, p // 2, p], [0.0, PERIOD / 2, PERIOD], figs / "fig5_snapshots.png")
    if preset.periods > 1:
        last = preset.periods * p
        plots.snapshots(
            trajs,
            [last - p // 2, last],
            [(preset.periods - 0.5) * PERIOD, preset.periods * PERIOD],
            figs / "snapshots_last_period.png",
        )
    plots.entropy_curves(metrics["methods"], PERIOD, figs / "fig6_entropy.png")
    plots.period_errors(metrics["methods"], figs / "period_errors.png")
    write_text_atomic(out / "report.md", report(metrics))


def learned_over_vanleer(metrics: dict) -> float | None:
    """The learned model's l1 error at t = T over Van Leer's on the same grid (``None`` without a learned model).

    Parameters
    ----------
    metrics : dict
        Saved metrics (``n`` and ``methods``).
    """
    n, methods = metrics["n"], metrics["methods"]
    if f"learned-{n}" not in methods:
        return None
    return methods[f"learned-{n}"]["l1_error_vs_initial"]["T"] / methods[f"vanleer-{n}"]["l1_error_vs_initial"]["T"]


def report(metrics: dict) -> str:
    """``report.md`` from the saved metrics.

    Parameters
    ----------
    metrics : dict
        The metrics :func:`run` returns.

    Returns
    -------
    str
        The report in Markdown.
    """
    preset = PRESETS[metrics.get("preset", "cpu")]
    n = preset.test_n
    lines = [
        f"# 2-D deformational flow ({metrics.get('preset', preset.name)} preset)",
        "",
        f"Command: `{metrics.get('command', '')}`  ",
        f"Package {metrics.get('version', '')}; machine: {metrics.get('machine', '')}; date {metrics.get('date', '')}; "
        f"total {metrics.get('seconds_total', float('nan')):.0f} s.",
        "",
        f"LeVeque's deformational flow on [0, 1]^2, T = {PERIOD:g}, cosine bell at (1/4, 1/4), radius 1/4; "
        f"{n}^2 cells, dt = {preset.dt:.6g} (max Courant 0.5; {preset.steps_per_period} steps per period), "
        f"{preset.periods} periods. Finer Van Leer runs take 2 or 4 sub-steps per coarse step and are "
        f"coarse-grained to {n}^2. The exact solution at every t = nT is the initial state, so errors are "
        "measured against it: normalised l1 = sum|C - C0| / sum|C0|.",
        "",
        "The learned model was trained **only on random divergence-free sinusoidal flows** (never on this flow): "
        f"{preset.train_samples} trajectories"
        + (" x 8 exact D4 images" if preset.augment else "")
        + f" on a periodic {preset.train_length:g}-box at {preset.train_n}^2 (the test's dx and dt), Van Leer at "
        f"{preset.factor}x coarse-grained. It uses one CNN for x- and y-face coefficients and steps **unsplit** "
        "(forward Euler, both directions from the same state) as the paper's code does: the network is trained "
        "against the reference over unrolled steps, so it absorbs the splitting and time-stepping error that "
        "classical schemes remove with a Lin-Rood/Strang combination.",
        "",
        "| method | l1 @ T | l1 at end of each period | entropy max | entropy @T/2 | entropy @T | rel. mass error | min | max |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, m in metrics["methods"].items():
        e = entropy_after_half_period(m, preset)
        per = ", ".join(f"{v:.4f}" for v in m["l1_error_vs_initial"]["periods"])
        lines.append(
            f"| {name} | {m['l1_error_vs_initial']['T']:.4f} | {per} | {e['max']:.3f} | {e['at_half_period']:.3f} | "
            f"{e['at_T']:.3f} | {m['mass_error']:.1e} | {m['min']:.3f} | {m['max']:.3f} |"
        )
    ratio = learned_over_vanleer(metrics)
    if ratio is not None:
        ml = metrics["methods"][f"learned-{n}"]
        e = entropy_after_half_period(ml, preset)
        lines += [
            "",
            f"learned-{n} / vanleer-{n} l1 error at t = T: **{ratio:.2f}** (target <= 0.5). "
            f"Entropy of the learned solution {'falls' if e['falls_after_half_period'] else 'does not fall'} "
            f"after T/2 ({e['at_half_period']:.3f} -> {e['at_T']:.3f}); maximum {e['max']:.3f}. "
            f"Relative mass error {ml['mass_error']:.1e}.",
        ]
    if "training" in metrics:
        t = metrics["training"]
        lines += [
            "",
            f"Training: {t['iterations']} iterations in {t['seconds']:.0f} s (data {t['data_seconds']:.0f} s); "
            f"best validation MAE {t['best_validation']:.4g} at iteration {t['best_step']} (held-out random flows; classical "
            + ", ".join(f"{k} {v:.4g}" for k, v in t.get("validation_classical", {}).items())
            + "); "
            f"model {t['model']}; batch {t['config']['batch_size']}, unroll {t['config']['unroll']}"
            + (
                f" then {t['config']['long_unroll']} from {t['config']['long_unroll_from']:.0%}"
                if t["config"]["long_unroll"]
                else ""
            )
            + f", Adam {t['config']['learning_rate']:g} -> {t['config']['final_learning_rate']:g} ({t['config']['schedule']}).",
        ]
    lines += [
        "",
        "![snapshots (Fig. 5)](figures/fig5_snapshots.png)",
        "",
        "![entropy (Fig. 6)](figures/fig6_entropy.png)",
        "",
        "![errors per period](figures/period_errors.png)",
        "",
    ]
    if preset.periods > 1:
        lines += ["![last period](figures/snapshots_last_period.png)", ""]
    return "\n".join(lines)


def run(
    preset_name: str,
    out,
    overwrite: bool = False,
    quiet: bool = False,
    command: str = "",
    train_seed: int | None = None,
    log=print,
    resume: bool = False,
) -> dict:
    """``reproduce deformation-2d``: training data, training, evaluation, figures and report in ``out``.

    Parameters
    ----------
    preset_name : str
        A key of :data:`PRESETS`.
    out : str or os.PathLike
        Output folder (``model/``, ``metrics.json``, ``report.md``, ``figures/``).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    train_seed : int, optional
        Seed of the training data and of the training (see :func:`train_model`).
    log : Callable, default print
        Receives the progress messages.
    resume : bool, default False
        Continue the training in ``out/model/last``.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: the evaluation per method, the test settings and ``training``.

    Raises
    ------
    UserError
        If the preset is unknown or the output folder is refused.
    """
    from learned_advection.errors import UserError
    from learned_advection.experiments.common import prepare_output, provenance

    if preset_name not in PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    out = Path(out)
    prepare_output(out, overwrite, ("model", "metrics.json", "report.md", "figures"), resume)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    result, config, data_seconds, val_baselines = train_model(
        preset, out / "model", progress=not quiet, train_seed=train_seed, log=say, resume=resume
    )
    say(
        f"trained {config.steps} iterations (best validation MAE {result.best_validation:.4g} at {result.best_step}) "
        f"in {result.seconds:.0f} s"
    )
    evaluation = evaluate(result.model, preset, progress=not quiet, log=say)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        **provenance(command),
        "period": PERIOD,
        "periods": preset.periods,
        "n": preset.test_n,
        "dt": preset.dt,
        "steps_per_period": preset.steps_per_period,
        "methods": evaluation["methods"],
        "training": {
            "iterations": config.steps,
            "seconds": result.seconds,
            "data_seconds": data_seconds,
            "best_step": result.best_step,
            "best_validation": result.best_validation,
            "validation_classical": val_baselines,
            "history": result.history,
            "model": preset.model.to_dict(),
            "config": config.to_dict(),
            "data": data_description(preset, 0 if train_seed is None else train_seed),
        },
        "seconds_total": time.perf_counter() - t0,
    }
    write_outputs(out, metrics, evaluation, preset)
    return metrics
