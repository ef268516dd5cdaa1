"""Experiment ``advection-1d``: 1-D constant-velocity advection (Zhuang et al. 2020, Sec. III A, Figs. 2-4).

Pipeline: generate square-wave (and Gaussian) reference trajectories (VL-256 coarse-grained to 32),
train a squares-only model and a squares+Gaussians model, evaluate upwind-32, vanleer-32, weno5z-32
(WENO5-Z with SSP-RK3, the fifth-order baseline) and learned-32 against the reference on test seeds
never used in training, write ``metrics.json``, ``model/`` (squares-only checkpoint),
``model-gaussians/``, figures and ``report.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from learned_advection._version import __version__
from learned_advection.data.netcdf import read_reference
from learned_advection.data.reference import SHAPES, Setup1D, Trajectories, make_dataset_1d, make_test_set_1d, rng_for
from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import mae_per_step, mean_over_steps
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.files import write_json_atomic, write_text_atomic
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig, train
from learned_advection.numerics import schemes
from learned_advection.numerics.rollout import batched_rollout

NAME = "advection-1d"


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the 1-D experiment: data sizes, model, training settings and test seeds.

    Parameters
    ----------
    n_train : int
        Training initial conditions per shape (square waves, and as many Gaussians for the mixed model).
    n_validation : int
        Held-out validation samples per shape.
    trajectory_steps : int
        Coarse steps per training and validation trajectory.
    eval_steps : int
        Coarse steps evaluated on the test set.
    model : ModelConfig
        The learned model (1-D).
    training : TrainConfig
        Training settings (its seed is replaced by the run's training seed).
    default_test_seeds : tuple of int
        Inclusive ``(first, last)`` range of test seeds.
    """

    n_train: int  # square-wave training initial conditions (the paper: 30)
    n_validation: int  # held-out validation samples (per shape)
    trajectory_steps: int  # coarse steps per training/validation trajectory
    eval_steps: int  # coarse steps evaluated on the test set
    model: ModelConfig
    training: TrainConfig
    default_test_seeds: tuple[int, int]  # inclusive range

    def to_dict(self) -> dict:
        """The fields as a plain ``dict``, model and training settings as their own dicts."""
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        d["training"] = self.training.to_dict()
        return d


PRESETS: dict[str, Preset] = {
    # The test suite's end-to-end check: tiny network, few iterations (numbers are not meaningful).
    "smoke": Preset(
        n_train=4,
        n_validation=2,
        trajectory_steps=32,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=2, filters=8),
        training=TrainConfig(steps=20, batch_size=8, unroll=4, eval_every=10, checkpoint_every=10, validation_steps=32),
        default_test_seeds=(1000, 1007),
    ),
    # The demo's 1-D part: the cpu model and data, 1000 iterations.
    "demo": Preset(
        n_train=30,
        n_validation=8,
        trajectory_steps=256,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=4, filters=32, stencil=(4,)),
        training=TrainConfig(
            steps=1000,
            batch_size=32,
            unroll=8,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=100,
            checkpoint_every=500,
            validation_steps=256,
        ),
        default_test_seeds=(1000, 1015),
    ),
    # The paper's setting sized for a CPU (30 squares, 4 x 32 CNN, unroll 8, batch 32) except the stencil:
    # 4 cells across the face instead of the paper's 2 (the comparison: docs/what-we-tried.md).
    "cpu": Preset(
        n_train=30,
        n_validation=16,
        trajectory_steps=256,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=4, filters=32, stencil=(4,)),
        training=TrainConfig(
            steps=4000,
            batch_size=32,
            unroll=8,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=100,
            checkpoint_every=500,
            validation_steps=256,
        ),
        default_test_seeds=(1000, 1031),
    ),
}


BUILTIN = "builtin-1d"  # the `train` / `evaluate` data source that is this experiment's data


def datasets(purpose: str, seed: int, n_samples: int, n_steps: int, shapes=("square",), setup: Setup1D = Setup1D()):
    """One set of ``n_samples`` reference trajectories per initial shape, drawn in turn from the
    ``(seed, purpose)`` random stream (purpose: train, validation).

    Parameters
    ----------
    purpose : {"train", "validation", "test"}
        Which random stream.
    seed : int
        Seed of the stream.
    n_samples : int
        Trajectories per shape.
    n_steps : int
        Coarse steps per trajectory.
    shapes : sequence of {"square", "gaussian"}, default ("square",)
        Initial shapes, one set each.
    setup : Setup1D, default Setup1D()
        The 1-D problem.

    Returns
    -------
    list of Trajectories
        One set per shape, in the order of ``shapes``.
    """
    rng = rng_for(seed, purpose)
    return [make_dataset_1d(rng, setup, n_samples, n_steps, (shape,)) for shape in shapes]


def training_data(source: str = BUILTIN, seed: int = 0, gaussians: bool = False, log=print):
    """``(training, validation, max_speed)`` for ``learned-advection train --data SOURCE``.

    ``"builtin-1d"``: 30 square waves (validation: 8) of 256 steps from the seed's streams, with
    ``gaussians`` as many Gaussians more.  Otherwise a reference netCDF file
    (:func:`~learned_advection.data.netcdf.read_reference`) whose last ~20% of samples are held out
    (a single trajectory serves for both, with a note to ``log``).

    Parameters
    ----------
    source : str, default "builtin-1d"
        ``"builtin-1d"`` or the path of a reference netCDF file.
    seed : int, default 0
        Seed of the built-in data's training and validation streams.
    gaussians : bool, default False
        Add Gaussians to the built-in data.
    log : Callable, default print
        Receives notes.

    Returns
    -------
    tuple
        ``(training, validation, max_speed)``: two :class:`Trajectories` and the largest speed in the data.
    """
    if source == BUILTIN:
        shapes = ("square", "gaussian") if gaussians else ("square",)
        train_data, val_data = (
            functools.reduce(Trajectories.concat, datasets(purpose, seed, n, 256, shapes))
            for purpose, n in (("train", 30), ("validation", 8))
        )
        return train_data, val_data, 1.0
    data = read_reference(source)
    if data.n_samples < 2:
        log("note: one trajectory only; the validation rollout reuses it")
    return *data.split_validation(), float(max(abs(u).max() for u in data.velocity))


def rollouts(stepper, data: Trajectories, n_steps: int) -> np.ndarray:
    """``stepper`` rolled out ``n_steps`` steps from every initial state of ``data``: ``(sample, n_steps + 1, *space)``.

    Parameters
    ----------
    stepper : Stepper
        A classical scheme or a learned model.
    data : Trajectories
        Initial states, velocities, step and grid.
    n_steps : int
        Steps to run; at most ``data.n_steps`` for a time-dependent velocity.
    """
    vel = tuple(jnp.asarray(u[:, :n_steps] if data.time_dependent_velocity else u) for u in data.velocity)
    c0 = jnp.asarray(data.states[:, 0])
    return np.asarray(
        eqx.filter_jit(batched_rollout)(stepper, c0, vel, float(data.dt), tuple(data.grid.spacing), n_steps)
    )


def _curves(preds: dict[str, np.ndarray], ref: np.ndarray, ndim: int = 1) -> dict[str, dict]:
    steps = list(range(ref.shape[1]))
    return {name: {"step": steps, "mae": [float(v) for v in mae_per_step(p, ref, ndim)]} for name, p in preds.items()}


def evaluate_checkpoint(
    model_path, source: str = BUILTIN, test_seeds=None, n_steps: int = 256, shape: str = "square"
) -> dict:
    """``learned-advection evaluate`` without an experiment: upwind, Van Leer, WENO5-Z and a checkpoint's model
    against a reference, at the reference's resolution.

    ``source``: ``"builtin-1d"`` (one ``shape`` test sample per seed, default the ``cpu`` preset's test
    seeds) or a reference netCDF file.  At most the reference's length is evaluated.  Returns
    ``{"steps": n, "methods": {name: {"step": [...], "mae": [...]}}}`` (MAE per step over samples and space).

    Parameters
    ----------
    model_path : str or os.PathLike
        Checkpoint folder or ``"pretrained"`` name of a model for the reference's grid and step.
    source : str, default "builtin-1d"
        ``"builtin-1d"`` or the path of a reference netCDF file.
    test_seeds : sequence of int, optional
        Seeds of the built-in test samples; ``None`` (default) uses the ``cpu`` preset's.
    n_steps : int, default 256
        Steps to evaluate (capped at the reference's length).
    shape : {"square", "gaussian"}, default "square"
        Initial shape of the built-in test samples.

    Raises
    ------
    UserError
        If the checkpoint does not fit the reference's grid or step, or the reference has no steps.
    """
    from learned_advection.learned.checkpoint import load_stepper

    if source == BUILTIN:
        first, last = PRESETS["cpu"].default_test_seeds
        seeds = list(range(first, last + 1)) if test_seeds is None else list(test_seeds)
        data = make_test_set_1d(seeds, Setup1D(), n_steps, shape)
    else:
        data = read_reference(source)
    n_steps = min(n_steps, data.n_steps)
    if n_steps < 1:
        raise UserError("the reference has no time steps to evaluate")
    learned = load_stepper(model_path, data.grid)
    learned(
        jnp.asarray(data.states[0, 0]),
        tuple(jnp.asarray(u[0] if u.ndim == data.states.ndim - 1 else u[0, 0]) for u in data.velocity),
        data.dt,
        data.grid.spacing,
    )  # validates dt
    n = data.grid.shape[0]
    methods = {
        f"upwind-{n}": schemes.scheme("upwind"),
        f"vanleer-{n}": schemes.scheme("vanleer"),
        f"weno5z-{n}": schemes.scheme("weno5z"),
        f"learned-{n}": learned,
    }
    preds = {name: rollouts(stepper, data, n_steps) for name, stepper in methods.items()}
    return {"steps": n_steps, "methods": _curves(preds, data.states[:, : n_steps + 1], data.grid.ndim)}


def _summary(curves: dict[str, dict], last: int, learned: str) -> dict:
    means = {name: mean_over_steps(c["mae"], 1, last) for name, c in curves.items()}
    out = {f"mean_mae_steps_1_{last}": means}
    if "vanleer-32" in means and learned in means:
        out["ratio_vanleer_over_learned"] = means["vanleer-32"] / means[learned]
    return out


def run(
    preset: str = "cpu",
    out: Path | str = "runs/advection-1d",
    test_seeds: list[int] | None = None,
    train_seed: int = 0,
    overwrite: bool = False,
    quiet: bool = False,
    command: str = "",
    log=print,
    resume: bool = False,
) -> dict:
    """Run the whole experiment; returns the metrics dictionary (also written to ``out/metrics.json``).

    ``resume`` continues an interrupted run in ``out``: each training stage with a ``last/``
    checkpoint (``model/``, ``model-gaussians/``) continues from it (a finished one is reloaded), a
    stage without one starts afresh, and the evaluation runs again: the result is that of an
    uninterrupted run.

    Parameters
    ----------
    preset : str, default "cpu"
        A key of :data:`PRESETS`.
    out : pathlib.Path or str, default "runs/advection-1d"
        Output folder (``model/``, ``model-gaussians/``, ``metrics.json``, ``report.md``, ``figures/``).
    test_seeds : list of int, optional
        Test sample seeds; ``None`` (default) uses the preset's range.
    train_seed : int, default 0
        Seed of the training and validation data and of the training.
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    log : Callable, default print
        Receives the progress messages.
    resume : bool, default False
        Continue an interrupted run as described above.

    Raises
    ------
    UserError
        If the preset is unknown, there is nothing to resume, or the output folder is refused.
    """
    from learned_advection.plots import one_d as plots_1d

    if preset not in PRESETS:
        raise UserError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
    p = PRESETS[preset]
    out = Path(out)
    seeds = (
        list(range(p.default_test_seeds[0], p.default_test_seeds[1] + 1)) if test_seeds is None else list(test_seeds)
    )
    stages = (out / "model", out / "model-gaussians")

    def resumable(folder: Path) -> bool:
        return resume and any((folder / name).exists() for name in ("last", "last.old"))

    if resume and not any(resumable(folder) for folder in stages):
        raise UserError(f"nothing to resume: {out / 'model'} has no last/ checkpoint")
    prepare_output(out, overwrite, ("model", "model-gaussians", "metrics.json", "report.md", "figures"), resume)
    setup = Setup1D()
    say = (lambda *a: None) if quiet else log
    t_start = time.perf_counter()
    tc = dataclasses.replace(p.training, seed=train_seed)

    # ---- data: training/validation streams derive from the training seed, test samples from their own seeds
    say(f"[advection-1d] generating references (VL-{setup.n * setup.factor} -> {setup.n}) ...")
    squares, gaussians = datasets("train", train_seed, p.n_train, p.trajectory_steps, SHAPES, setup)
    val_squares, val_gauss = datasets("validation", train_seed, p.n_validation, p.trajectory_steps, SHAPES, setup)
    test_sq = make_test_set_1d(seeds, setup, p.eval_steps, "square")
    test_ga = make_test_set_1d(seeds, setup, p.eval_steps, "gaussian")

    extra = {"experiment": NAME, "setup": setup.to_dict(), "max_speed": setup.speed, "train_seed": train_seed}
    say(f"[advection-1d] training squares-only model ({tc.steps} steps) ...")
    res_sq = train(
        p.model,
        squares,
        val_squares,
        tc,
        stages[0],
        resume=resumable(stages[0]),
        progress=not quiet,
        extra={**extra, "shapes": ["square"]},
        description="squares",
    )
    say(
        f"[advection-1d]   best step {res_sq.best_step}, validation MAE {res_sq.best_validation:.3e}, {res_sq.seconds:.0f} s"
    )
    say(f"[advection-1d] training squares+Gaussians model ({tc.steps} steps) ...")
    res_mix = train(
        p.model,
        squares.concat(gaussians),
        val_squares.concat(val_gauss),
        tc,
        stages[1],
        resume=resumable(stages[1]),
        progress=not quiet,
        extra={**extra, "shapes": ["square", "gaussian"]},
        description="squares+gaussians",
    )
    say(
        f"[advection-1d]   best step {res_mix.best_step}, validation MAE {res_mix.best_validation:.3e}, {res_mix.seconds:.0f} s"
    )

    # ---- evaluation
    say(f"[advection-1d] evaluating {len(seeds)} test samples over {p.eval_steps} steps ...")
    n = p.eval_steps
    classical = {
        "upwind-32": schemes.scheme("upwind"),
        "vanleer-32": schemes.scheme("vanleer"),
        "weno5z-32": schemes.scheme("weno5z"),
    }
    pred_sq = {name: rollouts(s, test_sq, n) for name, s in classical.items()}
    pred_sq["learned-32"] = rollouts(res_sq.model, test_sq, n)
    pred_sq_mix = rollouts(res_mix.model, test_sq, n)
    pred_ga = {name: rollouts(s, test_ga, n) for name, s in classical.items()}
    pred_ga["learned-32 (squares)"] = rollouts(res_sq.model, test_ga, n)
    pred_ga["learned-32 (squares+gaussians)"] = rollouts(res_mix.model, test_ga, n)

    curves = _curves(pred_sq, test_sq.states)
    curves_ga = _curves(pred_ga, test_ga.states)
    last = n
    summary = _summary(curves, last, "learned-32")
    summary["squares+gaussians model on square tests"] = mean_over_steps(
        mae_per_step(pred_sq_mix, test_sq.states, 1), 1, last
    )
    summary_ga = _summary(curves_ga, last, "learned-32 (squares+gaussians)")
    means_ga = summary_ga[f"mean_mae_steps_1_{last}"]
    summary_ga["ratio_vanleer_over_learned_squares_only"] = means_ga["vanleer-32"] / means_ga["learned-32 (squares)"]

    # ---- figures
    figs = out / "figures"
    x = setup.grid.centres(0)
    show = [s for s in (0, 16, 64, 128, 256, 512) if s <= n][:5]
    sample = 0
    plots_1d.plot_sample(
        x,
        {"reference": test_sq.states[sample], **{k: v[sample] for k, v in pred_sq.items()}},
        show,
        setup.dt,
        figs / "fig2_sample.png",
        f"test seed {seeds[sample]}: square wave, u = 1, CFL 0.5",
    )
    plots_1d.plot_mae(
        {k: (c["step"], c["mae"]) for k, c in curves.items()},
        figs / "fig3_mae.png",
        title=f"square waves, {len(seeds)} test samples",
    )
    rows = {
        "trained on squares": {
            "reference": test_ga.states[sample],
            "vanleer-32": pred_ga["vanleer-32"][sample],
            "learned-32": pred_ga["learned-32 (squares)"][sample],
        },
        "trained on squares+Gaussians": {
            "reference": test_ga.states[sample],
            "vanleer-32": pred_ga["vanleer-32"][sample],
            "learned-32": pred_ga["learned-32 (squares+gaussians)"][sample],
        },
    }
    plots_1d.plot_out_of_sample(
        x, rows, show, setup.dt, figs / "fig4_gaussian.png", f"Gaussian test seed {seeds[sample]}"
    )
    plots_1d.plot_mae(
        {k: (c["step"], c["mae"]) for k, c in curves_ga.items()},
        figs / "fig4b_gaussian_mae.png",
        title=f"Gaussians, {len(seeds)} test samples",
    )

    seconds = time.perf_counter() - t_start
    metrics = {
        "experiment": NAME,
        "preset": preset,
        "methods": curves,
        "summary": summary,
        "gaussian_test": {"methods": curves_ga, "summary": summary_ga},
        "training": {
            name: {
                "best_step": r.best_step,
                "best_validation_mae": r.best_validation,
                "seconds": r.seconds,
                "history": r.history,
            }
            for name, r in (("squares", res_sq), ("squares+gaussians", res_mix))
        },
        "config": {
            "setup": setup.to_dict(),
            "preset": p.to_dict(),
            "train_seed": train_seed,
            "test_seeds": [seeds[0], seeds[-1]],
            "n_test": len(seeds),
            "package_version": __version__,
            "jax_version": jax.__version__,
        },
        **provenance(command),
        "seconds": seconds,
    }
    write_json_atomic(out / "metrics.json", metrics)
    write_text_atomic(out / "report.md", report(metrics, last))
    say(
        f"[advection-1d] vanleer-32 / learned-32 mean MAE (steps 1-{last}) = {summary['ratio_vanleer_over_learned']:.1f}x; "
        f"Gaussians (squares+gaussians model): {summary_ga['ratio_vanleer_over_learned']:.1f}x; {seconds:.0f} s; wrote {out}"
    )
    return metrics


def report(m: dict, last: int | None = None) -> str:
    """``report.md`` from the saved metrics (``last``: the evaluated step count, read from them by default).

    Parameters
    ----------
    m : dict
        The metrics :func:`run` returns.
    last : int, optional
        Evaluated step count; ``None`` (default) reads it from ``m``.

    Returns
    -------
    str
        The report in Markdown.
    """
    last = len(m["methods"]["vanleer-32"]["step"]) - 1 if last is None else last
    s, g = m["summary"], m["gaussian_test"]["summary"]
    key = f"mean_mae_steps_1_{last}"
    lines = [
        "# advection-1d: learned interpolation vs classical schemes (1-D, constant velocity)",
        "",
        f"Preset `{m['preset']}`, training seed {m['config']['train_seed']}, test seeds "
        f"{m['config']['test_seeds'][0]}-{m['config']['test_seeds'][1]} ({m['config']['n_test']} samples, never used in training). "
        f"32 cells, dx = 1, u = 1, dt = 0.5 (CFL 0.5); reference: Van Leer at 256 cells coarse-grained to 32.",
        "",
        f"Command: `{m['command']}`  ",
        f"Package {m.get('version', '')}; machine: {m.get('machine', '')}; date {m.get('date', '')}; total time {m['seconds']:.0f} s.",
        "",
        f"## Square waves (mean MAE over steps 1-{last})",
        "",
        "| method | mean MAE | vanleer-32 / method |",
        "|---|---|---|",
    ]
    for name, v in s[key].items():
        lines.append(f"| {name} | {v:.3e} | {s[key]['vanleer-32'] / v:.2f} |")
    lines += [
        "",
        f"The squares+Gaussians model on the square tests: {s['squares+gaussians model on square tests']:.3e}.",
        "",
        "![one test sample](figures/fig2_sample.png)",
        "",
        "![MAE vs step](figures/fig3_mae.png)",
        "",
        f"## Gaussians (out of sample for the squares-only model; mean MAE over steps 1-{last})",
        "",
        "| method | mean MAE | vanleer-32 / method |",
        "|---|---|---|",
    ]
    for name, v in g[key].items():
        lines.append(f"| {name} | {v:.3e} | {g[key]['vanleer-32'] / v:.2f} |")
    lines += [
        "",
        "![Gaussian test](figures/fig4_gaussian.png)",
        "",
        "![Gaussian MAE](figures/fig4b_gaussian_mae.png)",
        "",
        "## Training",
        "",
        "| model | best step | validation MAE | seconds |",
        "|---|---|---|---|",
    ]
    for name, t in m["training"].items():
        lines.append(f"| {name} | {t['best_step']} | {t['best_validation_mae']:.3e} | {t['seconds']:.0f} |")
    lines.append("")
    return "\n".join(lines)
