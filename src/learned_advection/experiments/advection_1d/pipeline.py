"""The whole 1-D experiment (``run``: data, training, evaluation, figures) and its ``report.md``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import jax

from learned_advection._version import __version__
from learned_advection.data.reference import SHAPES, Setup1D, make_test_set_1d
from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import mae_per_step, mean_over_steps
from learned_advection.experiments.advection_1d.evaluation import _curves, _summary, rollouts
from learned_advection.experiments.advection_1d.presets import NAME, PRESETS, datasets
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.files import write_json_atomic, write_text_atomic
from learned_advection.learned.training import train
from learned_advection.numerics import schemes


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
