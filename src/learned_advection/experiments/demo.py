"""``learned-advection demo``: the main job on embedded defaults, no downloads (run times: docs/results.md).

1. **advection-1d** (paper Figs. 2-4) end to end: references, training of two small models (squares;
   squares + Gaussians), evaluation on fresh test seeds (the ``demo`` preset of
   :mod:`advection_1d`).
2. **turbulence-2d** (paper Figs. 7-10): the pretrained 32^2 model shipped in the package against Van
   Leer at 32/64/128 and PPM at 32/64 on test seeds never used in training (pyqg-jax turbulence,
   reference Van Leer 256^2 coarse-grained to 32^2, generated and cached on first use), and a GIF of
   one sample.
3. **deformation** (classical schemes only): upwind / Van Leer / PPM on LeVeque's deformational flow.
4. **accuracy-cost** (paper Fig. 11, with large time steps): the same test seeds placed on the accuracy-cost plane --
   the pretrained model and the shipped hybrid (``pretrained:turbulence-2d-k8-hybrid``: PPM's step at 8x the
   coarse step plus a learned correction) against Van Leer / PPM at Courant 0.5 and at large steps (k = 8: Courant 4, the
   flux-form semi-Lagrangian path with FCT) and WENO5-Z; a few points, one timing repeat (the full plane is
   ``learned-advection cost turbulence-2d``).
5. **plume** (a regional domain): a plume from a source in a meandering channel with walls, inflow and
   outflow, upwind / PPM and PPM's large step at 32^2 against PPM at 128^2, with the mass budget
   (:mod:`~learned_advection.experiments.plume`; the full case is ``reproduce plume``).

Each part writes its own folder with ``metrics.json``, figures and ``report.md``; the top-level
``report.md`` holds the results table and links them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.experiments.common import prepare_output, provenance

PARTS = ("advection-1d", "turbulence-2d", "deformation", "accuracy-cost", "plume")
# the demo's few points of the plane: (scheme, grid, k[, bounded]); the unbounded large steps are the front
DEMO_CLASSICAL = (
    ("vanleer", 32, 1),
    ("vanleer", 64, 1),
    ("vanleer", 128, 1),
    ("vanleer", 32, 8),
    ("vanleer", 64, 8),
    ("ppm", 64, 8),
    ("vanleer", 32, 8, False),
    ("vanleer", 64, 8, False),
    ("ppm", 64, 8, False),
    ("ppm", 32, 8, False),
    ("weno5z", 32, 1),
)
# the learned points: the paper's model (the default "pretrained") and the hybrid on the front (PPM's large step
# at k = 8 plus a learned correction)
DEMO_MODELS = ("pretrained", "pretrained:turbulence-2d-k8-hybrid")
OUTPUTS = ("report.md", "metrics.json", "figures", *PARTS)


@dataclasses.dataclass(frozen=True)
class DemoSettings:
    """What the ``demo`` command runs.

    Parameters
    ----------
    one_d_preset : str, default "demo"
        Preset of the 1-D part (a key of :data:`~learned_advection.experiments.advection_1d.PRESETS`).
    turbulence_seeds : tuple of int, default (1000, 1001)
        Test seeds of the turbulence and accuracy-cost parts.
    turbulence_steps : int, default 256
        Coarse steps of the turbulence evaluation.
    gif_every : int, default 4
        Coarse steps between animation frames.
    parts : tuple of str, default PARTS
        Parts to run, from :data:`PARTS`.
    """

    one_d_preset: str = "demo"
    turbulence_seeds: tuple[int, ...] = (1000, 1001)
    turbulence_steps: int = 256
    gif_every: int = 4  # animation frame every this many coarse steps
    parts: tuple[str, ...] = PARTS


QUICK = DemoSettings(one_d_preset="smoke", turbulence_seeds=(1000,), turbulence_steps=8, gif_every=2)


def _one_d(out: Path, settings: DemoSettings, quiet: bool, command: str, log) -> dict:
    from learned_advection.experiments import advection_1d

    m = advection_1d.run(settings.one_d_preset, out, overwrite=True, quiet=quiet, command=command, log=log)
    key = next(k for k in m["summary"] if k.startswith("mean_mae_steps"))
    return {
        "preset": settings.one_d_preset,
        "mean_mae_squares": m["summary"][key],
        "mean_mae_gaussians": m["gaussian_test"]["summary"][key],
        "vanleer_over_learned_squares": m["summary"]["ratio_vanleer_over_learned"],
        "vanleer_over_learned_gaussians": m["gaussian_test"]["summary"]["ratio_vanleer_over_learned"],
        "steps": len(m["methods"]["vanleer-32"]["step"]) - 1,
    }


def _turbulence(out: Path, gif: Path, settings: DemoSettings, data_dir, quiet: bool, command: str) -> dict:
    from learned_advection.experiments import turbulence_2d as t
    from learned_advection.plots import turbulence as plots_2d

    n = settings.turbulence_steps
    m = t.evaluate_checkpoint(
        "pretrained",
        list(settings.turbulence_seeds),
        n,
        data_dir,
        out=out,
        overwrite=True,
        progress=not quiet,
        command=command,
        keep_trajectories=True,
    )
    coarse = t.PRESETS["cpu"].data.coarse_n
    learned = next(k for k in m["_trajectories"] if k.startswith(f"learned-{coarse}"))  # as shipped (its limiter)
    shown = [learned, f"vanleer-{coarse}", f"vanleer-{2 * coarse}", f"vanleer-{4 * coarse}"]
    plots_2d.animation(
        m["_reference"][:, : n + 1],
        {k: m["_trajectories"][k][:, : n + 1] for k in shown},
        gif,
        every=settings.gif_every,
        dt=t.PRESETS["cpu"].data.coarse_dt,
    )
    return {
        "steps": n,
        "test_seeds": list(settings.turbulence_seeds),
        "methods": {
            name: {
                "mae": v["mae"][n],
                "r2": v["r2"][n],
                "mass_error": v["mass_error"],
                "max_overshoot": v["max_overshoot"],
            }
            for name, v in m["methods"].items()
        },
    }


def _accuracy_cost(out: Path, settings: DemoSettings, data_dir, quiet: bool, command: str) -> dict:
    from learned_advection.experiments import accuracy_cost

    models = accuracy_cost.load_models(list(DEMO_MODELS))
    steps = settings.turbulence_steps
    classical = [c for c in DEMO_CLASSICAL if steps % max(1, c[2] * 32 // c[1]) == 0]  # whole long steps only
    result = accuracy_cost.run(
        models,
        out,
        data_dir,
        settings.turbulence_seeds,
        steps,
        timing_steps=min(32, steps),
        repeats=1,
        classical=classical,
        batches=(1,),
        second_reference=None,
        overwrite=True,
        progress=not quiet,
        command=command,
    )
    return {
        "step": steps,
        "pareto_front": result["pareto_front"],
        "points": {
            k: {"mae": p["mae"], "seconds_per_time_unit": p["seconds_per_time_unit"], "k": p["k"]}
            for k, p in result["points"].items()
        },
    }


def _deformation(out: Path) -> dict:
    from learned_advection._version import __version__
    from learned_advection.experiments import deformation_demo as d
    from learned_advection.files import write_text_atomic
    from learned_advection.plots import common as plots

    (out / "figures").mkdir(parents=True, exist_ok=True)
    config = d.DemoConfig()
    result = d.run(config)
    figure = plots.snapshot_grid_2d(
        {r.scheme: r.snapshots for r in result.results},
        result.times,
        out / "figures" / "snapshots.png",
        title=f"deformational flow, {config.n}² cells, dt = {result.dt:.4g}",
    )
    write_text_atomic(out / "report.md", d.report_markdown(result, f"figures/{figure.name}", __version__))
    return {
        "grid": config.n,
        "period": config.period,
        "n_steps": result.n_steps,
        "dt": result.dt,
        "schemes": {
            r.scheme: {
                "l1_error": r.l1_error,
                "relative_l1_error": r.relative_l1_error,
                "mass_change": r.mass_change,
                "min": r.minimum,
                "max": r.maximum,
            }
            for r in result.results
        },
    }


def _plume(out: Path, command: str) -> dict:
    from learned_advection.experiments import plume

    m = plume.reproduce(out, plume.QUICK, command)
    keep = ("courant", "mae", "min", "max", "inflow", "outflow", "emitted", "budget_residual")
    return {"reference": m["config"]["reference"], "runs": {k: {x: r[x] for x in keep} for k, r in m["runs"].items()}}


def run(
    out,
    data_dir,
    settings: DemoSettings = DemoSettings(),
    overwrite: bool = False,
    quiet: bool = False,
    command: str = "",
    log=print,
) -> dict:
    """Run the demo parts into ``out``; returns the top-level metrics (also ``out/metrics.json``).

    Parameters
    ----------
    out : str or os.PathLike
        Output folder (one sub-folder per part, ``figures/``, ``metrics.json``, ``report.md``).
    data_dir : str or os.PathLike
        Root of the turbulence data cache (missing samples are generated).
    settings : DemoSettings, default DemoSettings()
        What to run.
    overwrite : bool, default False
        Replace the demo's outputs in a non-empty ``out``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    log : Callable, default print
        Receives the progress messages.

    Returns
    -------
    dict
        Provenance, ``settings``, ``parts`` (a summary per part), ``seconds`` per part and ``seconds_total``.

    Raises
    ------
    UserError
        If a part is unknown, a shipped model is missing, or the output folder is refused.
    """
    from learned_advection.files import write_json_atomic, write_text_atomic
    from learned_advection.learned.checkpoint import pretrained_path, resolve

    unknown = [p for p in settings.parts if p not in PARTS]
    if unknown:
        raise UserError(f"unknown demo part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}")
    if "turbulence-2d" in settings.parts:
        pretrained_path()  # fail before any work if the package lacks its weights
    if "accuracy-cost" in settings.parts:
        for name in DEMO_MODELS:
            resolve(name)
    out = Path(out)
    prepare_output(out, overwrite, OUTPUTS)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    parts, seconds = {}, {}
    if "advection-1d" in settings.parts:
        say("[demo 1/5] advection-1d: training two 1-D models and evaluating them on fresh test seeds ...")
        t = time.perf_counter()
        parts["advection-1d"] = _one_d(out / "advection-1d", settings, quiet, command, log)
        seconds["advection-1d"] = time.perf_counter() - t
    if "turbulence-2d" in settings.parts:
        say(
            f"[demo 2/5] turbulence-2d: pretrained model vs Van Leer / PPM on seeds "
            f"{settings.turbulence_seeds[0]}-{settings.turbulence_seeds[-1]}, {settings.turbulence_steps} steps ..."
        )
        t = time.perf_counter()
        parts["turbulence-2d"] = _turbulence(
            out / "turbulence-2d", out / "figures" / "turbulence.gif", settings, data_dir, quiet, command
        )
        seconds["turbulence-2d"] = time.perf_counter() - t
    if "deformation" in settings.parts:
        say("[demo 3/5] deformation: classical schemes on the deformational flow ...")
        t = time.perf_counter()
        parts["deformation"] = _deformation(out / "deformation")
        seconds["deformation"] = time.perf_counter() - t
    if "accuracy-cost" in settings.parts:
        say(
            "[demo 4/5] accuracy-cost: the same seeds on the accuracy-cost plane (classical schemes at large steps too) ..."
        )
        t = time.perf_counter()
        parts["accuracy-cost"] = _accuracy_cost(out / "accuracy-cost", settings, data_dir, quiet, command)
        seconds["accuracy-cost"] = time.perf_counter() - t
    if "plume" in settings.parts:
        say("[demo 5/5] plume: a source in a meandering channel with walls, inflow and outflow (regional domain) ...")
        t = time.perf_counter()
        parts["plume"] = _plume(out / "plume", command)
        seconds["plume"] = time.perf_counter() - t
    metrics = {
        "experiment": "demo",
        **provenance(command),
        "settings": dataclasses.asdict(settings),
        "parts": parts,
        "seconds": seconds,
        "seconds_total": time.perf_counter() - t0,
    }
    write_json_atomic(out / "metrics.json", metrics)
    write_text_atomic(out / "report.md", report(metrics))
    return metrics


def table(metrics: dict) -> str:
    """The compact plain-text results table printed at the end of the demo.

    Parameters
    ----------
    metrics : dict
        The metrics :func:`run` returns.
    """
    lines = []
    parts = metrics["parts"]
    if "advection-1d" in parts:
        p = parts["advection-1d"]
        lines += [
            f"advection-1d (mean MAE over steps 1-{p['steps']}, fresh test seeds):",
            f"  {'method':<32}{'squares':>10}{'gaussians':>11}",
        ]
        for name, v in p["mean_mae_squares"].items():
            ga = p["mean_mae_gaussians"].get(name)
            lines.append(f"  {name:<32}{v:>10.2e}{'' if ga is None else f'{ga:.2e}':>11}")
        for name, v in p["mean_mae_gaussians"].items():
            if name not in p["mean_mae_squares"]:
                lines.append(f"  {name:<32}{'':>10}{v:>11.2e}")
        lines.append(
            f"  vanleer-32 / learned-32: {p['vanleer_over_learned_squares']:.1f}x (squares), "
            f"{p['vanleer_over_learned_gaussians']:.1f}x (Gaussians, squares+Gaussians model)"
        )
    if "turbulence-2d" in parts:
        p = parts["turbulence-2d"]
        lines += [
            f"turbulence-2d (pretrained model; {len(p['test_seeds'])} test seeds; all on 32x32; step {p['steps']}):",
            f"  {'method':<16}{'MAE':>9}{'R2':>8}{'overshoot':>11}",
        ]
        for name, v in p["methods"].items():
            lines.append(f"  {name:<16}{v['mae']:>9.4f}{v['r2']:>8.3f}{v['max_overshoot']:>11.2e}")
    if "deformation" in parts:
        p = parts["deformation"]
        lines += [
            f"deformation ({p['grid']}x{p['grid']}, one period; error against the exact solution):",
            f"  {'scheme':<16}{'L1 error':>10}{'mass change':>13}{'min':>11}{'max':>8}",
        ]
        for name, v in p["schemes"].items():
            lines.append(
                f"  {name:<16}{v['l1_error']:>10.2e}{v['mass_change']:>13.1e}{v['min']:>11.2e}{v['max']:>8.4f}"
            )
    if "accuracy-cost" in parts:
        p = parts["accuracy-cost"]
        lines += [
            f"accuracy-cost (MAE at step {p['step']} on 32x32 vs seconds per simulated time unit, one sample; "
            "k: step / Courant-0.5 step):",
            f"  {'method':<34}{'MAE':>9}{'s / time unit':>15}{'front':>7}",
        ]
        for name, v in sorted(p["points"].items(), key=lambda kv: kv[1]["seconds_per_time_unit"]):
            lines.append(
                f"  {name:<34}{v['mae']:>9.4f}{v['seconds_per_time_unit']:>15.5f}{'yes' if name in p['pareto_front'] else '':>7}"
            )
    if "plume" in parts:
        p = parts["plume"]
        lines += [
            f"plume (regional: walls, inflow, outflow, a source; MAE vs PPM {p['reference']}x{p['reference']}; "
            "budget residual relative):",
            f"  {'run':<16}{'Courant':>8}{'MAE':>10}{'min':>9}{'max':>8}{'residual':>10}",
        ]
        for name, v in p["runs"].items():
            lines.append(
                f"  {name:<16}{v['courant']:>8.2f}{v['mae']:>10.2e}{v['min']:>9.2e}{v['max']:>8.3f}"
                f"{v['budget_residual']:>10.1e}"
            )
    return "\n".join(lines)


def report(metrics: dict) -> str:
    """The top-level ``report.md`` from the saved metrics.

    Parameters
    ----------
    metrics : dict
        The metrics :func:`run` returns.

    Returns
    -------
    str
        The report in Markdown.
    """
    lines = [
        "# learned-advection demo",
        "",
        f"Command: `{metrics.get('command', '')}`  ",
        f"Package {metrics.get('version', '')}; machine: {metrics.get('machine', '')}; date {metrics.get('date', '')}; "
        f"total {metrics.get('seconds_total', float('nan')):.0f} s "
        f"({', '.join(f'{k} {v:.0f} s' for k, v in metrics.get('seconds', {}).items())}).",
        "",
        "```",
        table(metrics),
        "```",
        "",
    ]
    parts = metrics["parts"]
    if "advection-1d" in parts:
        lines += [
            "## 1-D advection (paper Figs. 2-4)",
            "",
            "Full report: [advection-1d/report.md](advection-1d/report.md)",
            "",
            "![1-D sample](advection-1d/figures/fig2_sample.png)",
            "",
            "![1-D MAE](advection-1d/figures/fig3_mae.png)",
            "",
        ]
    if "turbulence-2d" in parts:
        lines += [
            "## 2-D turbulence, pretrained model (paper Figs. 7-10)",
            "",
            "Full report: [turbulence-2d/report.md](turbulence-2d/report.md)",
            "",
            "![animation](figures/turbulence.gif)",
            "",
            "![sample](turbulence-2d/figures/fig7_sample.png)",
            "",
            "![errors](turbulence-2d/figures/fig8_errors.png)",
            "",
        ]
    if "deformation" in parts:
        lines += [
            "## Deformational flow, classical schemes",
            "",
            "Full report: [deformation/report.md](deformation/report.md)",
            "",
            "![deformation](deformation/figures/snapshots.png)",
            "",
        ]
    if "accuracy-cost" in parts:
        lines += [
            "## Accuracy against cost (paper Fig. 11)",
            "",
            "Full report: [accuracy-cost/report.md](accuracy-cost/report.md)",
            "",
            "![accuracy-cost](accuracy-cost/figures/fig11_accuracy_cost.png)",
            "",
        ]
    if "plume" in parts:
        lines += [
            "## A plume on a regional domain (walls, inflow, outflow, a source)",
            "",
            "Full report: [plume/report.md](plume/report.md)",
            "",
            "![plume](plume/figures/plume.png)",
            "",
        ]
    return "\n".join(lines)
