"""2-D decaying turbulence (paper Section III C): learned 32^2 solver against Van Leer / PPM at 32-128.

Pipeline: reference samples (:mod:`learned_advection.data.turbulence`, cached per seed in a data
folder) -> training windows at 32^2 (optionally all 8 D4 images of every trajectory) -> unrolled
training with a validation-selected best checkpoint -> evaluation on test seeds never used in
training: MAE, R^2, NRMSE, entropy per step; blow-up fraction and checkerboard indicator at the last
step; correlation time; scalar-variance spectra.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.data import turbulence as td
from learned_advection.data.reference import Trajectories
from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import (
    blown_up,
    checkerboard,
    correlation,
    correlation_time,
    entropy,
    mae_per_sample,
    mass_change,
    nrmse,
    r2,
    variance_spectrum,
)
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig
from learned_advection.numerics import schemes, symmetry
from learned_advection.numerics.grids import Grid
from learned_advection.numerics.rollout import batched_rollout
from learned_advection.progress import progress_bar

EXPERIMENT = "turbulence-2d"


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the turbulence experiment: data seeds and lengths, model, training and evaluation settings.

    Parameters
    ----------
    name : str
        Preset name (a key of :data:`PRESETS`).
    train_seeds : tuple of int
        Seeds of the training samples.
    validation_seeds : tuple of int
        Seeds of the validation samples.
    test_seeds : tuple of int
        Seeds of the test samples, never used in training.
    model : ModelConfig
        The learned model to train.
    train : TrainConfig
        Training settings.
    train_steps : int, default 128
        Coarse steps per training sample.
    test_steps : int, default 256
        Coarse steps of the evaluation rollouts.
    long_steps : int, default 1024
        Coarse steps of the long blow-up / checkerboard check; 0 skips it.
    augment : bool, default True
        Train on all 8 D4 images of every training trajectory.
    data : TurbulenceData, default TurbulenceData()
        Resolutions, time step and flow of the reference data.
    needs_init : bool, default False
        Whether training must start from a trained model (a fine-tuning stage).
    k : int, default 1
        The learned model's step in coarse steps (Courant number up to about ``k / 2``).
    """

    name: str
    train_seeds: tuple[int, ...]
    validation_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    model: ModelConfig
    train: TrainConfig
    train_steps: int = 128  # coarse steps per training sample
    test_steps: int = 256
    long_steps: int = 1024  # blow-up check (0: skip)
    augment: bool = True
    data: td.TurbulenceData = td.TurbulenceData()
    needs_init: bool = False  # a fine-tuning stage: training starts from a trained model (--init-from)
    k: int = 1  # the learned model's step: k coarse steps (k x dt_c, Courant number up to ~k / 2)


def _model(layers, filters, stencil=(4, 5), velocity_input="courant"):
    return ModelConfig(ndim=2, layers=layers, filters=filters, stencil=stencil, velocity_input=velocity_input)


PRESETS: dict[str, Preset] = {
    # tiny end-to-end check for the test suite (64^2 reference coarse-grained to 16^2, few steps)
    "smoke": Preset(
        "smoke",
        (0, 1),
        (500,),
        (1000,),
        _model(2, 8, (2, 3)),
        TrainConfig(steps=6, batch_size=2, unroll=2, eval_every=3, checkpoint_every=3, validation_steps=8),
        train_steps=8,
        test_steps=8,
        long_steps=16,
        augment=True,
        data=td.TurbulenceData(
            fine_n=64, coarse_n=16, store_n=64, coarse_dt=0.048, flow=td.turbulence.TurbulenceConfig(n=64, spinup=0.5)
        ),
    ),
    "quick": Preset(
        "quick",
        tuple(range(8)),
        (500,),
        (1000, 1001, 1002, 1003),
        _model(4, 32),
        TrainConfig(
            steps=1200,
            batch_size=8,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=5e-5,
            eval_every=100,
            checkpoint_every=100,
            validation_steps=128,
        ),
        long_steps=0,
    ),
    "cpu": Preset(
        "cpu",
        tuple(range(20)),
        (500, 501),
        tuple(range(1000, 1020)),
        _model(4, 32),
        TrainConfig(
            steps=4500,
            batch_size=8,
            unroll=10,
            long_unroll=20,
            long_unroll_from=0.7,
            learning_rate=1e-3,
            final_learning_rate=2e-5,
            eval_every=250,
            checkpoint_every=250,
            validation_steps=256,
        ),
    ),
    "paper": Preset(
        "paper",
        tuple(range(20)),
        (500, 501),
        tuple(range(1000, 1020)),
        _model(10, 128, (2, 3), "raw"),
        TrainConfig(
            steps=20000,
            batch_size=16,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=500,
            checkpoint_every=500,
            validation_steps=256,
        ),
        augment=False,
    ),
}

# Research variants (listed with their results in docs/presets.md; not shown in `--help`).
# Large steps: the quick recipe with the model's step k coarse steps (Courant number up to ~k/2,
# FCT reach ceil(k/2)); training windows and validation cover the same simulated time as at k = 1
for _k in (2, 4):
    PRESETS[f"quick-k{_k}"] = dataclasses.replace(
        PRESETS["quick"],
        name=f"quick-k{_k}",
        k=_k,
        model=dataclasses.replace(_model(4, 32, (2 + 2 * max(1, -(-_k // 2)), 5)), max_courant=max(1, -(-_k // 2))),
        train=dataclasses.replace(PRESETS["quick"].train, validation_steps=128 // _k),
    )

# The learned flux-form semi-Lagrangian step (whole cells exact, the learned stencil at the departure cell)
for _k in (4, 8):
    PRESETS[f"quick-k{_k}-ffsl"] = dataclasses.replace(
        PRESETS["quick"],
        name=f"quick-k{_k}-ffsl",
        k=_k,
        model=dataclasses.replace(_model(4, 32), max_courant=_k // 2, large_step="ffsl"),
        train=dataclasses.replace(PRESETS["quick"].train, validation_steps=128 // _k),
    )

# A cheaper network at k = 8: the k = 8 FFSL model with a network a tenth the size (2 x 16)
PRESETS["quick-k8-ffsl-small"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl"],
    name="quick-k8-ffsl-small",
    model=dataclasses.replace(_model(2, 16), max_courant=4, large_step="ffsl"),
)

# A network sized to the accuracy-cost front's budget at k = 8 (docs/presets.md): 2 x 16 with
# the paper's 2 x 3 stencil (its output layer a quarter of the 4 x 5 stencil's), 16 training seeds of 256
# coarse steps (32 steps of the model) and a long-unroll curriculum (12 then 24 model steps)
PRESETS["quick-k8-ffsl-lite"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl"],
    name="quick-k8-ffsl-lite",
    train_seeds=tuple(range(16)),
    train_steps=256,
    model=dataclasses.replace(_model(2, 16, (2, 3)), max_courant=4, large_step="ffsl"),
    train=dataclasses.replace(
        PRESETS["quick"].train, steps=1500, unroll=12, long_unroll=24, long_unroll_from=0.6, validation_steps=16
    ),
)

# A hybrid: the classical PPM large step at k = 8 plus a learned correction to its face values
# (ModelConfig.base_scheme; zero-initialised output, so training starts at PPM), trained as quick-k8-ffsl-lite;
# -o1 (the recipe of the shipped `pretrained:turbulence-2d-k8-hybrid`): a 2 x 16 network whose output layer is
# per cell (output_kernel_size 1: a third cheaper than 2 x 8 at 3 x 3)
PRESETS["quick-k8-ppm-hybrid"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl-lite"],
    name="quick-k8-ppm-hybrid",
    model=dataclasses.replace(_model(2, 8, (2, 3)), max_courant=4, base_scheme="ppm", final_init_scale=0.0),
)
PRESETS["quick-k8-ppm-hybrid-o1"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid"],
    name="quick-k8-ppm-hybrid-o1",
    model=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid"].model, filters=16, output_kernel_size=1),
)
# -s43: the same with the 4 x 3 correction stencil (two cells each side of the face, three along it)
PRESETS["quick-k8-ppm-hybrid-s43"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid-o1"],
    name="quick-k8-ppm-hybrid-s43",
    model=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid-o1"].model, stencil=(4, 3)),
)
# -long: twice the iterations (its validation MAE was still falling at the end of 1500)
PRESETS["quick-k8-ppm-hybrid-s43-long"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid-s43"],
    name="quick-k8-ppm-hybrid-s43-long",
    train=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid-s43"].train, steps=3000),
)

# second stage of the shipped model: the cpu preset's model and data, fine-tuned with unroll 20 throughout
# at a lower learning rate (the curriculum's long unroll for longer); starts from --init-from
PRESETS["cpu-finetune"] = dataclasses.replace(
    PRESETS["cpu"],
    name="cpu-finetune",
    needs_init=True,
    train=TrainConfig(
        steps=1200,
        batch_size=8,
        unroll=20,
        learning_rate=3e-4,
        final_learning_rate=1e-5,
        eval_every=100,
        checkpoint_every=100,
        validation_steps=256,
        seed=1,
    ),
)

#: The presets a user needs, shown by ``reproduce turbulence-2d --help``: the test-suite check, the quick
#: recipe, the two stages of the shipped ``pretrained`` model (``cpu`` then ``cpu-finetune``), the paper's
#: recipe, and the recipe of the shipped ``pretrained:turbulence-2d-k8-hybrid`` (``quick-k8-ppm-hybrid-o1``).
MAIN_PRESETS: tuple[str, ...] = ("smoke", "quick", "cpu", "cpu-finetune", "paper", "quick-k8-ppm-hybrid-o1")
#: Research variants whose results the documentation quotes (docs/presets.md): loadable by name, not listed
#: in ``--help``.
RESEARCH_PRESETS: tuple[str, ...] = tuple(name for name in PRESETS if name not in MAIN_PRESETS)


def grid(preset: Preset) -> Grid:
    """The coarse grid of the preset's data (``coarse_n`` by ``coarse_n`` on ``[0, 2 pi]^2``).

    Parameters
    ----------
    preset : Preset
        The preset.
    """
    return preset.data.grid(preset.data.coarse_n)


def load_trajectories(
    preset: Preset, data_dir, split: str, seeds, n_steps: int, progress=True, d4: bool = False, k: int = 1
):
    """Reference trajectories at the coarse grid (generating missing samples), plus the stored psi.

    ``n_steps`` coarse steps; ``k > 1``: as seen with ``k`` times the coarse step (:meth:`Trajectories.every`).

    Parameters
    ----------
    preset : Preset
        Supplies the data configuration.
    data_dir : str or os.PathLike
        Root of the data cache.
    split : str
        Data split, e.g. ``"train"``, ``"validation"`` or ``"test"``.
    seeds : iterable of int
        Sample seeds.
    n_steps : int
        Coarse steps per sample; a multiple of ``k``.
    progress : bool, default True
        Show a progress bar while generating samples.
    d4 : bool, default False
        Add the 8 D4 images of every trajectory (8 times the samples, image-major).
    k : int, default 1
        Coarse steps per step of the returned trajectories.

    Returns
    -------
    tuple
        ``(trajectories, psi)``: :class:`Trajectories` with states ``(S, n_steps / k + 1, y, x)`` and one
        velocity per step, and the stored corner streamfunction ``(len(seeds), n_steps, y_corner, x_corner)``.
    """
    cfg = preset.data
    paths = td.ensure_samples(cfg, data_dir, split, list(seeds), n_steps, progress)
    raw = td.load_samples(paths, n_steps)
    states = raw["concentration"]
    vel = tuple(np.asarray(u) for u in td.velocity_for(jnp.asarray(raw["psi"]), cfg.coarse_n))
    if d4:
        images = [symmetry.d4_element(k, jnp.asarray(states), tuple(jnp.asarray(u) for u in vel)) for k in range(8)]
        states = np.concatenate([np.asarray(i[0]) for i in images])
        vel = tuple(np.concatenate([np.asarray(i[1][a]) for i in images]) for a in range(2))
    return Trajectories(states, vel, cfg.coarse_dt, grid(preset)).every(k), raw["psi"]


BASE_COURANT = 0.5  # Courant number of every classical solver at k = 1 (the data's design, see data.turbulence)


def method_label(name: str, n: int, k: int = 1) -> str:
    """``vanleer-64`` at today's step, ``vanleer-64-k8`` at 8 times it.

    Parameters
    ----------
    name : str
        Scheme name.
    n : int
        Grid size it runs on.
    k : int, default 1
        Multiple of the Courant-0.5 step.
    """
    return f"{name}-{n}" if k == 1 else f"{name}-{n}-k{k}"


def method_spec(entry) -> tuple[str, int, int, bool]:
    """``(name, n)``, ``(name, n, k)`` or ``(name, n, k, bounded)`` -> ``(name, n, k, bounded)`` (k 1, bounded).

    Parameters
    ----------
    entry : tuple
        A method: scheme name, grid size, optionally step multiple ``k`` (default 1) and ``bounded`` (default True).
    """
    name, n, *rest = entry
    return name, n, rest[0] if rest else 1, rest[1] if len(rest) > 1 else True


def classical_stepper(name: str, k: int = 1, bounded: bool = True):
    """The classical scheme ``name`` at ``k`` times its Courant-0.5 step:
    :func:`~learned_advection.numerics.schemes.scheme` at Courant number ``k / 2`` (itself up to Courant 1,
    above it flux-form semi-Lagrangian inside FCT, or without FCT for ``bounded=False``: faster, undershoots
    the initial minimum).

    Parameters
    ----------
    name : str
        Scheme name (see :data:`~learned_advection.numerics.schemes.SCHEMES`).
    k : int, default 1
        Multiple of the Courant-0.5 step; the Courant number is ``k / 2``.
    bounded : bool, default True
        Keep the FCT limiter above Courant 1.

    Returns
    -------
    Stepper
        The stepper for that Courant number.
    """
    return schemes.scheme(name, BASE_COURANT * k, bounded)


def baseline_trajectories(preset: Preset, seeds, psi, methods, n_steps: int) -> dict[str, np.ndarray]:
    """Classical solvers at several resolutions (and step multiples ``k``), coarse-grained to the coarse grid.

    ``methods``: ``(name, n)``, ``(name, n, k)`` or ``(name, n, k, bounded)``.  Returns ``{label: (S, T / s + 1, n, n)}``, the states
    every ``s = stride`` coarse steps (``s = 1`` unless the step is longer than a coarse step).

    Parameters
    ----------
    preset : Preset
        Supplies the data configuration.
    seeds : sequence of int
        Sample seeds (their initial states are rebuilt on each grid).
    psi : array
        Stored corner streamfunction, ``(S, T, y_corner, x_corner)``.
    methods : iterable of tuple
        Methods as above (see :func:`method_spec`).
    n_steps : int
        Coarse steps ``T`` to run.

    Returns
    -------
    dict of str to numpy.ndarray
        :func:`method_label` -> states coarse-grained to ``coarse_n``.
    """
    cfg = preset.data
    out = {}
    for name, n, k, bounded in map(method_spec, methods):
        c0 = jnp.asarray(np.stack([td.initial_on(cfg, s, n) for s in seeds]), jnp.float32)
        stepper = classical_stepper(name, k, bounded)
        run = jax.jit(jax.vmap(lambda c, p: td.solve_on(stepper, c, p, n, cfg, n_steps, k)))
        out[method_label(name, n, k)] = np.asarray(run(c0, jnp.asarray(psi)))
    return out


def model_step_multiple(model, coarse_dt: float) -> int:
    """A learned model's step in coarse steps (1 for a model that does not record its step).  Wrapped
    models (``{suffix: model}`` variants) are the same model: the innermost one's ``trained_dt`` counts.

    Parameters
    ----------
    model : LearnedModel or stepper
        A model; its ``trained_dt`` attribute, if any, is its step.
    coarse_dt : float
        The data's coarse step.

    Returns
    -------
    int
        ``round(trained_dt / coarse_dt)``, at least 1.
    """
    dt = getattr(model, "trained_dt", None)
    return 1 if dt is None else max(1, round(dt / coarse_dt))


def learned_trajectories(model, data: Trajectories, n_steps: int) -> np.ndarray:
    """Rollouts of ``model`` from the first state of every sample of ``data``, in its velocities.

    Parameters
    ----------
    model : LearnedModel or stepper
        The model to run, at the step ``data.dt``.
    data : Trajectories
        Initial states, time-dependent velocities, step and grid.
    n_steps : int
        Steps to run; at most ``data.n_steps``.

    Returns
    -------
    numpy.ndarray
        States ``(sample, n_steps + 1, y, x)``, initial state first.
    """
    vel = tuple(jnp.asarray(u[:, :n_steps]) for u in data.velocity)
    run = jax.jit(lambda m, c, v: batched_rollout(m, c, v, data.dt, tuple(data.grid.spacing), n_steps))
    return np.asarray(run(model, jnp.asarray(data.states[:, 0]), vel))


def baseline_methods(coarse_n: int) -> list[tuple[str, int]]:
    """The classical baselines of an evaluation: Van Leer at 1, 2 and 4 times, PPM and WENO5-Z at 1 and 2 times ``coarse_n``.

    Parameters
    ----------
    coarse_n : int
        The coarse grid size.

    Returns
    -------
    list of tuple
        ``(scheme name, grid size)`` pairs.
    """
    return [
        ("vanleer", coarse_n),
        ("vanleer", 2 * coarse_n),
        ("vanleer", 4 * coarse_n),
        ("ppm", coarse_n),
        ("ppm", 2 * coarse_n),
        ("weno5z", coarse_n),
        ("weno5z", 2 * coarse_n),
    ]


def method_metrics(
    pred: np.ndarray, ref: np.ndarray, times: np.ndarray, spectra_steps=(0, 128, 256), every: int = 1
) -> dict:
    """Per-method metrics (lists over steps are averaged over samples).

    ``every``: the states are every ``every``-th coarse step (a method with a longer step); ``ref`` and
    ``times`` are at the same steps, and ``"step"`` lists the coarse step numbers.

    Parameters
    ----------
    pred : numpy.ndarray
        Method states, ``(sample, time, y, x)``.
    ref : numpy.ndarray
        Reference states at the same steps, same shape.
    times : numpy.ndarray
        Elapsed time of each state, ``(time,)``.
    spectra_steps : sequence of int, default (0, 128, 256)
        Coarse steps at which variance spectra are stored (those that are saved states).
    every : int, default 1
        Coarse steps between consecutive states.

    Returns
    -------
    dict
        Per step: ``step``, ``time``, ``mae``, ``r2``, ``nrmse``, ``entropy`` (lists); scalars
        ``blowup_fraction``, ``checkerboard`` (last state), ``mass_error``, ``max_overshoot``;
        ``correlation_time``; and ``spectrum`` (``wavenumber`` and ``steps``: coarse step -> spectrum).
    """
    initial = ref[:, :1]
    corr = correlation(pred, ref)
    out = {
        "step": list(range(0, every * pred.shape[1], every)),
        "time": [float(t) for t in times],
        "mae": mae_per_sample(pred, ref).mean(axis=0).tolist(),
        "r2": r2(pred, ref).mean(axis=0).tolist(),
        "nrmse": nrmse(pred, ref).mean(axis=0).tolist(),
        "entropy": entropy(pred, initial).mean(axis=0).tolist(),
        "blowup_fraction": float(blown_up(pred, ref).mean()),
        "checkerboard": float(checkerboard(pred[:, -1]).mean()),
        "correlation_time": correlation_time(corr, times),
        "mass_error": float(np.max(np.abs(mass_change(pred, ref[:, :1])))),
        "max_overshoot": float(np.nanmax(pred) - ref[:, 0].max()),
    }
    spectra = {}
    for s in spectra_steps:
        if s % every == 0 and s // every < pred.shape[1]:
            k, e = variance_spectrum(pred[:, s // every])
            spectra[str(s)] = e.mean(axis=0).tolist()
    out["spectrum"] = {"wavenumber": k.tolist(), "steps": spectra}
    return out


def long_run_metrics(pred: np.ndarray, ref: np.ndarray) -> dict:
    """Blow-up fraction and checkerboard indicator at the last step of a long rollout, plus per-sample errors.

    Parameters
    ----------
    pred : numpy.ndarray
        Method states, ``(sample, time, y, x)``.
    ref : numpy.ndarray
        Reference states at the same steps, same shape.

    Returns
    -------
    dict
        ``steps``, ``blowup_fraction``, ``checkerboard``, ``mae`` (last state; NaN counts as infinite),
        ``max_overshoot`` and ``max_undershoot`` (whole rollout, against the initial range) and
        ``max_abs_error_per_sample``.
    """
    err = np.abs(np.nan_to_num(pred[:, -1], nan=np.inf) - ref[:, -1])
    return {
        "steps": int(pred.shape[1] - 1),
        "blowup_fraction": float(blown_up(pred, ref).mean()),
        "checkerboard": float(checkerboard(np.nan_to_num(pred[:, -1])).mean()),
        "mae": float(np.mean(err)),
        "max_overshoot": float(np.nanmax(pred) - ref[:, 0].max()),  # over the whole rollout, vs the initial max
        "max_undershoot": float(ref[:, 0].min() - np.nanmin(pred)),
        "max_abs_error_per_sample": err.max(axis=(-2, -1)).tolist(),
    }


def evaluate(
    model,
    preset: Preset,
    data_dir,
    test_seeds=None,
    n_steps: int | None = None,
    long_steps: int | None = None,
    progress: bool = True,
    split: str = "test",
) -> dict:
    """Metrics of the learned model (if any) and the classical baselines on the test seeds.

    ``model`` may be one model (method ``learned-N``) or a dict ``{suffix: model}`` (``learned-N<suffix>``).

    Parameters
    ----------
    model : LearnedModel, dict of str to LearnedModel, or None
        The learned model(s); ``None`` evaluates only the baselines (:func:`baseline_methods`).
    preset : Preset
        Data configuration and default seeds and lengths.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    test_seeds : sequence of int, optional
        Sample seeds; ``None`` (default) uses ``preset.test_seeds``.
    n_steps : int, optional
        Coarse steps of the metrics; ``None`` (default) uses ``preset.test_steps``.
    long_steps : int, optional
        Coarse steps of the long-rollout check (0: none); ``None`` (default) uses ``preset.long_steps``.
    progress : bool, default True
        Show progress bars.
    split : str, default "test"
        Data split of the samples.

    Returns
    -------
    dict
        ``test_seeds`` and ``methods`` (method label -> :func:`method_metrics`, plus ``long`` with
        :func:`long_run_metrics` when ``long_steps``), and the private ``_trajectories``, ``_reference``,
        ``_times`` and ``_strides`` entries.

    Raises
    ------
    UserError
        If a learned model's step does not divide the step counts.
    """
    seeds = tuple(preset.test_seeds if test_seeds is None else test_seeds)
    n_steps = preset.test_steps if n_steps is None else n_steps
    long_steps = preset.long_steps if long_steps is None else long_steps
    stored = max(n_steps, long_steps)
    data, psi = load_trajectories(preset, data_dir, split, seeds, stored, progress)
    cfg = preset.data
    times = cfg.coarse_dt * np.arange(stored + 1)  # elapsed time since the initial state (pyqg time minus spin-up)
    models = {} if model is None else model if isinstance(model, dict) else {"": model}
    runs = [(f"learned-{cfg.coarse_n}{suffix}", m) for suffix, m in models.items()]
    strides = {label: model_step_multiple(m, cfg.coarse_dt) for label, m in runs}
    runs += [(f"{name}-{n}", (name, n)) for name, n in baseline_methods(cfg.coarse_n)]
    preds = {}
    bar = progress_bar(runs, desc=f"rollouts ({len(seeds)} samples x {stored} steps)", unit="method", enabled=progress)
    for label, what in bar:
        bar.set_postfix_str(label)
        if isinstance(what, tuple):
            preds[label] = baseline_trajectories(preset, seeds, psi, [what], stored)[label]
        else:
            k = strides[label]
            if n_steps % k or stored % k:
                raise UserError(f"{label} steps {k} coarse steps at a time: the step counts must be multiples of {k}")
            preds[label] = learned_trajectories(what, data.every(k), stored // k)
    ref = data.states
    methods = {}
    for name, pred in preds.items():
        k = strides.get(name, 1)
        m = method_metrics(pred[:, : n_steps // k + 1], ref[:, : n_steps + 1 : k], times[: n_steps + 1 : k], every=k)
        if long_steps:
            m["long"] = {
                **long_run_metrics(pred[:, : long_steps // k + 1], ref[:, : long_steps + 1 : k]),
                "steps": long_steps,
            }  # in coarse steps (the model's own steps are long_steps / k)
        methods[name] = m
    return {
        "test_seeds": list(seeds),
        "methods": methods,
        "_trajectories": preds,
        "_reference": ref,
        "_times": times,
        "_strides": {name: strides.get(name, 1) for name in preds},
    }


def train_model(
    preset: Preset,
    data_dir,
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    train_seed: int | None = None,
    init=None,
    init_from: str | None = None,
):
    """Train on the preset's training seeds (D4-augmented if set); validation on its own seeds.

    ``init``: a trained model to start from (``init_from`` names it in the checkpoint's metadata).

    Parameters
    ----------
    preset : Preset
        Seeds, lengths, model and training settings.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    out_dir : pathlib.Path
        Folder of the ``best/`` and ``last/`` checkpoints.
    resume : bool, default False
        Continue the run in ``out_dir/last``.
    progress : bool, default True
        Show progress bars.
    train_seed : int, optional
        Replaces ``preset.train.seed`` when given.
    init : LearnedModel, optional
        Model to start from.
    init_from : str, optional
        Where ``init`` came from, recorded in the checkpoint.

    Returns
    -------
    TrainResult
        See :func:`~learned_advection.learned.training.train`.
    """
    from learned_advection.learned.training import train

    train_data, _ = load_trajectories(
        preset, data_dir, "train", preset.train_seeds, preset.train_steps, progress, d4=preset.augment, k=preset.k
    )
    val_data, _ = load_trajectories(
        preset,
        data_dir,
        "validation",
        preset.validation_seeds,
        preset.train.validation_steps * preset.k,
        progress,
        k=preset.k,
    )
    config = preset.train if train_seed is None else dataclasses.replace(preset.train, seed=train_seed)
    extra = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        "train_seeds": list(preset.train_seeds),
        "validation_seeds": list(preset.validation_seeds),
        "d4_augmentation": preset.augment,
        "step_multiple": preset.k,
        "data": {"fine_n": preset.data.fine_n, "coarse_n": preset.data.coarse_n, "coarse_dt": preset.data.coarse_dt},
    }
    if init_from is not None:
        extra["init_from"] = init_from
    return train(
        preset.model,
        train_data,
        val_data,
        config,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        extra=extra,
        description=f"train {EXPERIMENT} ({preset.name})",
        init=init,
    )


def summary(metrics: dict, at_step: int) -> list[dict]:
    """One row per method of an evaluation: its metrics at ``at_step`` and its long-rollout results.

    Parameters
    ----------
    metrics : dict
        Evaluation metrics with ``methods`` (as :func:`evaluate` returns).
    at_step : int
        Coarse step to report; must be one of each method's ``step`` entries.

    Returns
    -------
    list of dict
        ``method``, ``mae``, ``r2``, ``entropy``, ``correlation_time``, ``max_overshoot``, ``mass_error``, and
        ``long_steps``, ``blowup_fraction``, ``checkerboard`` when the method has a long rollout.
    """
    rows = []
    for name, m in metrics["methods"].items():
        i = m["step"].index(at_step)
        row = {
            "method": name,
            "mae": m["mae"][i],
            "r2": m["r2"][i],
            "entropy": m["entropy"][i],
            "correlation_time": m["correlation_time"]["time"],
            "max_overshoot": m["max_overshoot"],
            "mass_error": m["mass_error"],
        }
        if "long" in m:
            row.update(
                long_steps=m["long"]["steps"],
                blowup_fraction=m["long"]["blowup_fraction"],
                checkerboard=m["long"]["checkerboard"],
            )
        rows.append(row)
    return rows


OUTPUTS = ("model", "metrics.json", "report.md", "figures")


def public_metrics(result: dict) -> dict:
    """``result`` without its private (``_``-prefixed) entries, as written to ``metrics.json``.

    Parameters
    ----------
    result : dict
        An evaluation result (:func:`evaluate`).
    """
    return {k: v for k, v in result.items() if not k.startswith("_")}


def write_outputs(out: Path, metrics: dict, result: dict, preset: Preset, model=None) -> None:
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
        Supplies the test and long-rollout lengths and the grid.
    model : LearnedModel, optional
        The learned model, for the coefficient figure (interpolation models only).
    """
    from learned_advection.files import write_json_atomic, write_text_atomic
    from learned_advection.plots import turbulence as plots_2d

    write_json_atomic(out / "metrics.json", metrics)
    figs = out / "figures"
    ref = result["_reference"]
    # the figures index every trajectory by coarse step (256, the long run's end: multiples of every stride);
    # a method at k coarse steps per step is shown with each state held for its k steps
    strides = result.get("_strides", {})
    trajs = {
        name: t if strides.get(name, 1) == 1 else np.repeat(t, strides[name], axis=1)[:, : ref.shape[1]]
        for name, t in result["_trajectories"].items()
    }
    n = preset.test_steps
    plots_2d.sample_snapshots(ref, trajs, n, figs / "fig7_sample.png")
    plots_2d.error_curves(metrics["methods"], figs / "fig8_errors.png")
    long_steps = [s for s in (n, preset.long_steps) if s and s < ref.shape[1]]
    plots_2d.error_distribution(ref, trajs, long_steps, figs / "fig9_error_distribution.png")
    learned = [k for k in trajs if k.startswith("learned")]
    if learned and preset.long_steps and preset.long_steps < ref.shape[1]:
        plots_2d.long_run_samples(
            trajs[learned[0]], preset.long_steps, figs / "fig9_long_samples.png", title=learned[0]
        )
    plots_2d.spectra(metrics["methods"], figs / "spectra.png")
    if model is not None and model.config.kind == "interpolation":
        plots_2d.coefficient_figure(model, preset.data.coarse_dt, grid(preset).spacing, figs / "fig10_coefficients.png")
    write_text_atomic(out / "report.md", report(metrics))


def report_preset(metrics: dict) -> Preset:
    """The preset a run's metrics describe (``cpu`` for an evaluation), with its test and long-rollout lengths.

    Parameters
    ----------
    metrics : dict
        Saved metrics (``preset`` and ``methods``).
    """
    preset = PRESETS.get(metrics.get("preset", "cpu"), PRESETS["cpu"])
    first = next(iter(metrics["methods"].values()))
    return dataclasses.replace(
        preset, test_steps=len(first["step"]) - 1, long_steps=first.get("long", {}).get("steps", 0)
    )


def report(metrics: dict) -> str:
    """``report.md`` from the saved metrics.

    Parameters
    ----------
    metrics : dict
        Saved metrics (``metrics.json`` of a run or an evaluation).

    Returns
    -------
    str
        The report in Markdown.
    """
    preset = report_preset(metrics)
    n = preset.test_steps
    rows = summary(metrics, n)
    lines = [
        f"# 2-D turbulence: evaluation of model `{metrics.get('model')}` (training step {metrics.get('model_step')})"
        if metrics.get("preset") == "evaluate"
        else f"# 2-D turbulence ({metrics.get('preset', preset.name)} preset)",
        "",
        f"Command: `{metrics.get('command', '')}`  ",
        f"Package {metrics.get('version', '')}; machine: {metrics.get('machine', '')}; date {metrics.get('date', '')}.",
        "",
        f"Test seeds {metrics['test_seeds'][0]}-{metrics['test_seeds'][-1]} ({len(metrics['test_seeds'])} samples, never used in training); "
        f"all solutions coarse-grained to {preset.data.coarse_n}^2 and compared with Van Leer at {preset.data.fine_n}^2.",
        "",
        f"| method | MAE @{n} | R² @{n} | entropy @{n} | corr. time (ρ<0.9) | blow-up @long | checkerboard @long "
        f"| overshoot @{n} | mass error @{n} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ct = "never" if r["correlation_time"] is None else f"{r['correlation_time']:.2f}"
        lines.append(
            f"| {r['method']} | {r['mae']:.4f} | {r['r2']:.3f} | {r['entropy']:.3f} | {ct} | "
            f"{r.get('blowup_fraction', float('nan')):.2f} | {r.get('checkerboard', float('nan')):.2e} | "
            f"{r['max_overshoot']:.2e} | {r['mass_error']:.1e} |"
        )
    if "training" in metrics:
        t = metrics["training"]
        lines += [
            "",
            f"Training: {t['iterations']} iterations in {t['seconds']:.0f} s; best validation MAE "
            f"{t['best_validation']:.4f} at iteration {t['best_step']}; model {t['model']}.",
        ]
    lines += [
        "",
        "![sample](figures/fig7_sample.png)",
        "",
        "![errors](figures/fig8_errors.png)",
        "",
        "![error distribution](figures/fig9_error_distribution.png)",
        "",
        "![spectra](figures/spectra.png)",
        "",
    ]
    if (preset.long_steps or 0) > 0 and any(k.startswith("learned") for k in metrics["methods"]):
        lines += ["![long run](figures/fig9_long_samples.png)", ""]
    if any(k.startswith("learned") for k in metrics["methods"]):
        lines += ["![coefficients](figures/fig10_coefficients.png)", ""]
    return "\n".join(lines)


def run(
    preset_name: str,
    out,
    data_dir,
    overwrite: bool = False,
    resume: bool = False,
    quiet: bool = False,
    command: str = "",
    test_seeds=None,
    train_seed: int | None = None,
    log=print,
    init_from: str | None = None,
) -> dict:
    """``reproduce turbulence-2d``: data, training, evaluation, figures and report in ``out``.

    ``init_from`` (a checkpoint folder or ``"pretrained"``) starts training from that model; the
    fine-tuning presets require it.

    Parameters
    ----------
    preset_name : str
        A key of :data:`PRESETS`.
    out : str or os.PathLike
        Output folder (``model/``, ``metrics.json``, ``report.md``, ``figures/``).
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    resume : bool, default False
        Continue the training in ``out/model/last``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    test_seeds : sequence of int, optional
        Test sample seeds; ``None`` (default) uses the preset's.
    train_seed : int, optional
        Replaces the preset's training seed when given.
    log : Callable, default print
        Receives the progress messages.
    init_from : str, optional
        Checkpoint folder or ``"pretrained"`` to start training from.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: the evaluation (see :func:`evaluate`), provenance and
        ``training`` (iterations, time, best step and validation error, history, settings).

    Raises
    ------
    UserError
        If the preset is unknown, there is nothing to resume, ``init_from`` is missing for a fine-tuning
        preset or does not match it, or the output folder is refused.
    """
    import time

    from learned_advection.errors import UserError

    if preset_name not in PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    out = Path(out)
    if resume and not any((out / "model" / name).exists() for name in ("last", "last.old")):
        raise UserError(f"nothing to resume: {out / 'model'} has no last/ checkpoint")
    init = None
    if preset.needs_init and init_from is None:
        raise UserError(f"--preset {preset.name} fine-tunes a trained model: give --init-from DIR|pretrained")
    if init_from is not None:
        from learned_advection.learned.checkpoint import check_grid, load_model

        init_from = str(init_from)
        init, init_config = load_model(init_from)
        check_grid(init_config, grid(preset), init_from)
        if dataclasses.replace(init.config, max_courant=preset.model.max_courant) != preset.model:
            raise UserError(f"--init-from {init_from}: its model settings differ from the {preset.name} preset's")
        if init.config != preset.model:  # a curriculum in k: the same network, trained on at a longer step
            from learned_advection.learned.models import with_options

            init = with_options(init, max_courant=preset.model.max_courant)
    prepare_output(out, overwrite, OUTPUTS, resume)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    result = train_model(
        preset,
        data_dir,
        out / "model",
        resume=resume,
        progress=not quiet,
        train_seed=train_seed,
        init=init,
        init_from=init_from,
    )
    say(
        f"trained {preset.train.steps} iterations in {result.seconds:.0f} s "
        f"(best validation MAE {result.best_validation:.4f} at iteration {result.best_step})"
    )
    evaluation = evaluate(result.model, preset, data_dir, test_seeds, progress=not quiet)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        **provenance(command),
        **public_metrics(evaluation),
        "training": {
            "iterations": preset.train.steps,
            "seconds": result.seconds,
            "best_step": result.best_step,
            "best_validation": result.best_validation,
            "history": result.history,
            "model": preset.model.to_dict(),
            "config": preset.train.to_dict(),
            "d4_augmentation": preset.augment,
            "init_from": init_from,
        },
        "seconds_total": time.perf_counter() - t0,
    }
    write_outputs(out, metrics, evaluation, preset, result.model)
    return metrics


EVALUATION_TEST_SEEDS = (1000, 1001, 1002, 1003)  # `evaluate turbulence-2d` and `cost` by default
VARIANTS = {
    "plain": {},
    "fct": {"limiter": "fct"},
    "d4": {"symmetry": "d4"},
    "d4+fct": {"symmetry": "d4", "limiter": "fct"},
    "bf16": {"precision": "bfloat16"},
}


def parse_variants(text: str) -> list[str]:
    """``"plain,fct"`` -> ``["plain", "fct"]``; inference options applied to a trained model's weights.

    Parameters
    ----------
    text : str
        Comma-separated keys of :data:`VARIANTS`.

    Raises
    ------
    UserError
        If a name is unknown or none is given.
    """
    from learned_advection.experiments.common import parse_names

    return parse_names(text, VARIANTS, "variant")


def variant_models(model, names) -> dict:
    """``{method suffix: model}``: the saved model ("plain" = as trained) and its inference variants.

    Parameters
    ----------
    model : LearnedModel
        The trained model.
    names : iterable of str
        Keys of :data:`VARIANTS`; ``"plain"`` gets the suffix ``""``, ``"d4+fct"`` the suffix ``"-d4-fct"``.
    """
    from learned_advection.learned.models import with_options

    out = {}
    for name in names:
        options = VARIANTS[name]
        base = {"limiter": "none", "symmetry": "none", "precision": "float32"}
        if name == "plain":
            out[""] = model
        else:
            suffix = "-" + name.replace("+", "-")
            out[suffix] = with_options(model, **{**base, **options})
    return out


def evaluate_checkpoint(
    model_path,
    test_seeds,
    n_steps: int,
    data_dir,
    out=None,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
    long_steps: int = 0,
    variants=("plain",),
    keep_trajectories: bool = False,
) -> dict:
    """Evaluate a saved model on turbulence test seeds (``evaluate turbulence-2d``; ``None``:
    :data:`EVALUATION_TEST_SEEDS`).

    ``long_steps > 0`` adds the blow-up / checkerboard check after that many steps; ``variants`` are
    inference options applied to the same weights (:data:`VARIANTS`).  ``keep_trajectories`` also
    returns the private ``_trajectories``, ``_reference`` and ``_times`` entries.

    The data are those of the ``cpu`` preset (32^2, Van Leer at 256^2 as reference); the learned model is
    compared with the classical baselines (:func:`baseline_methods`).

    Parameters
    ----------
    model_path : str or os.PathLike
        Checkpoint folder (or its parent holding ``best/``), or ``"pretrained"`` / ``"pretrained:NAME"``.
    test_seeds : sequence of int or None
        Test sample seeds; ``None`` uses :data:`EVALUATION_TEST_SEEDS`.
    n_steps : int
        Coarse steps of the metrics; a multiple of the model's step in coarse steps.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    out : str or os.PathLike, optional
        Folder for ``metrics.json``, ``report.md`` and ``figures/``; ``None`` (default) writes nothing.
    overwrite : bool, default False
        Replace those outputs in a non-empty ``out``.
    progress : bool, default True
        Show progress bars.
    command : str, default ""
        The command line, recorded in the metrics.
    long_steps : int, default 0
        Coarse steps of the long-rollout check; 0 skips it, else at least ``n_steps`` and a multiple of the
        model's step.
    variants : sequence of str, default ("plain",)
        Keys of :data:`VARIANTS`; each is evaluated as method ``learned-32<suffix>``.
    keep_trajectories : bool, default False
        Also return the private trajectory entries.

    Returns
    -------
    dict
        ``experiment``, ``preset`` (``"evaluate"``), ``model``, ``model_step``, ``variants``, ``model_config``,
        provenance (``version``, ``command``, ``machine``, ``date``), ``test_seeds`` and ``methods`` (method
        label -> metrics per step, see :func:`method_metrics`).

    Raises
    ------
    UserError
        If the checkpoint is missing, corrupt or for another grid, its time step is not a whole number of
        coarse steps, the step counts do not fit it, or the output folder is refused.
    """
    from learned_advection.errors import UserError
    from learned_advection.learned.checkpoint import load_stepper, read_config

    if long_steps and long_steps < n_steps:
        raise UserError(f"--long-steps ({long_steps}) must be at least --steps ({n_steps})")
    preset = dataclasses.replace(PRESETS["cpu"], test_steps=n_steps, long_steps=long_steps)
    stepper = load_stepper(model_path, grid(preset))
    config = read_config(model_path)[1]
    k = float(config["dt"]) / preset.data.coarse_dt
    if abs(k - round(k)) > 1e-6 or round(k) < 1:
        raise UserError(
            f"model {model_path} was trained with dt = {config['dt']:g}, not a whole number of "
            f"the turbulence test data's steps (dt = {preset.data.coarse_dt:g})"
        )
    if n_steps % round(k) or long_steps % round(k):
        raise UserError(
            f"model {model_path} steps {round(k)} coarse steps at a time: --steps and --long-steps "
            f"must be multiples of {round(k)}"
        )
    if out is not None:
        prepare_output(Path(out), overwrite, ("metrics.json", "report.md", "figures"))
    models = variant_models(stepper, variants)
    test_seeds = EVALUATION_TEST_SEEDS if test_seeds is None else test_seeds
    result = evaluate(models, preset, data_dir, test_seeds, n_steps, long_steps, progress)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": "evaluate",
        "model": str(model_path),
        "model_step": config.get("step"),
        "variants": list(variants),
        "model_config": config["model"],
        **provenance(command),
        **public_metrics(result),
    }
    if out is not None:
        write_outputs(Path(out), metrics, result, preset, stepper)
    if keep_trajectories:  # the demo animates them
        return {**metrics, **{k: v for k, v in result.items() if k.startswith("_")}}
    return metrics
