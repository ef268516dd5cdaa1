"""Hyper-parameter sweep on 2-D turbulence (paper Fig. 12): layers x filters x stencil x training seeds.

Each grid point trains one model with the base preset's data and recipe (only the network changes),
then reads its MAE at the test step on the preset's test seeds, and its cost per step.  Results are
written per point (``points/<name>.json``) as soon as it finishes, so an interrupted sweep resumes
where it stopped (``--resume`` skips finished points and resumes a started training).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.evaluation.timing import ms_per_step
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import prepare_output, provenance

EXPERIMENT = "sweep-2d"
STENCILS = {3: (2, 3), 5: (4, 5)}  # the paper's 3- and 5-point stencils as (across, along)


@dataclasses.dataclass(frozen=True)
class SweepGrid:
    """A sweep: every combination of layers, filters, stencil and training seed, on one turbulence preset.

    Parameters
    ----------
    name : str
        Grid name (a key of :data:`GRIDS`).
    base : str
        Turbulence preset whose data, recipe and test seeds every point uses.
    layers : tuple of int
        Network depths.
    filters : tuple of int
        Network widths.
    stencils : tuple of int
        Stencil sizes, keys of :data:`STENCILS` (3 or 5).
    seeds : tuple of int
        Training seeds.
    steps : int, optional
        Training iterations per point; ``None`` (default) uses the base preset's.
    """

    name: str
    base: str  # turbulence preset whose data, recipe and test seeds every point uses
    layers: tuple[int, ...]
    filters: tuple[int, ...]
    stencils: tuple[int, ...]
    seeds: tuple[int, ...]
    steps: int | None = None  # training iterations (None: the base preset's)


GRIDS = {
    "smoke": SweepGrid("smoke", "smoke", (1, 2), (4,), (3,), (0,)),
    # 8 points (quick-preset data, 600 iterations each); its run time is in docs/results.md
    "cpu": SweepGrid("cpu", "quick", (2, 4), (16, 32), (3, 5), (0,), steps=600),
    "paper": SweepGrid("paper", "cpu", (4, 6, 8, 10), (16, 32, 64, 128), (3, 5), (0, 1, 2)),
}
OUTPUTS = ("points", "models", "metrics.json", "report.md", "figures")


def points(grid: SweepGrid) -> list[dict]:
    """Every point of ``grid``, as dicts with ``layers``, ``filters``, ``stencil`` and ``seed``.

    Parameters
    ----------
    grid : SweepGrid
        The sweep.
    """
    return [
        {"layers": layer, "filters": f, "stencil": s, "seed": seed}
        for layer, f, s, seed in itertools.product(grid.layers, grid.filters, grid.stencils, grid.seeds)
    ]


def point_name(p: dict) -> str:
    """``L<layers>-F<filters>-S<stencil>-seed<seed>``: the file and folder name of a point.

    Parameters
    ----------
    p : dict
        A point (see :func:`points`).
    """
    return f"L{p['layers']}-F{p['filters']}-S{p['stencil']}-seed{p['seed']}"


def run(
    grid_name: str,
    out,
    data_dir,
    overwrite: bool = False,
    resume: bool = False,
    quiet: bool = False,
    command: str = "",
    log=print,
) -> dict:
    """Train and evaluate every point of a sweep grid; write ``metrics.json``, the figure and ``report.md``.

    Parameters
    ----------
    grid_name : str
        A key of :data:`GRIDS`.
    out : str or os.PathLike
        Output folder (``points/``, ``models/``, ``metrics.json``, ``report.md``, ``figures/``).
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    resume : bool, default False
        Skip finished points and continue started trainings.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    log : Callable, default print
        Receives the progress messages.

    Returns
    -------
    dict
        Provenance, ``grid`` and ``points`` (name -> MAE and R^2 at the test step, best validation error,
        ms per step, seconds and the baselines' MAE).

    Raises
    ------
    UserError
        If the grid is unknown or the output folder is refused.
    """
    from learned_advection.files import write_json_atomic, write_text_atomic

    if grid_name not in GRIDS:
        raise UserError(f"unknown sweep grid {grid_name!r}; choose one of {', '.join(GRIDS)}")
    grid = GRIDS[grid_name]
    base = t.PRESETS[grid.base]
    out = Path(out)
    prepare_output(out, overwrite, OUTPUTS, resume)
    say = (lambda *a: None) if quiet else log
    todo = points(grid)
    results = {}
    for k, p in enumerate(todo, 1):
        name = point_name(p)
        done = out / "points" / f"{name}.json"
        if resume and done.is_file():
            results[name] = json.loads(done.read_text())
            continue
        say(f"[sweep {k}/{len(todo)}] {name}")
        model = dataclasses.replace(
            base.model, layers=p["layers"], filters=p["filters"], stencil=STENCILS[p["stencil"]]
        )
        train = (
            base.train
            if grid.steps is None
            else dataclasses.replace(
                base.train,
                steps=grid.steps,
                eval_every=min(base.train.eval_every, grid.steps),
                checkpoint_every=min(base.train.checkpoint_every, grid.steps),
            )
        )
        preset = dataclasses.replace(base, model=model, train=train)
        folder = out / "models" / name
        t0 = time.perf_counter()
        r = t.train_model(
            preset,
            data_dir,
            folder,
            resume=resume and (folder / "last").exists(),
            progress=not quiet,
            train_seed=p["seed"],
        )
        ev = t.evaluate(r.model, preset, data_dir, long_steps=0, progress=False)
        learned = ev["methods"][f"learned-{base.data.coarse_n}"]
        data, _ = t.load_trajectories(preset, data_dir, "test", preset.test_seeds[:1], 32, progress=False)
        n = preset.test_steps
        result = {
            **p,
            "mae": learned["mae"][n],
            "r2": learned["r2"][n],
            "best_validation": r.best_validation,
            "ms_per_step": ms_per_step(r.model, data),
            "seconds": time.perf_counter() - t0,
            "baselines": {k2: v["mae"][n] for k2, v in ev["methods"].items() if not k2.startswith("learned")},
        }
        write_json_atomic(done, result)
        results[name] = result
    summary = {"experiment": EXPERIMENT, "grid": dataclasses.asdict(grid), **provenance(command), "points": results}
    write_json_atomic(out / "metrics.json", summary)
    _figure(summary, out / "figures" / "fig12_sweep.png")
    write_text_atomic(out / "report.md", report(summary))
    return summary


def _figure(summary: dict, path):
    import matplotlib.pyplot as plt

    from learned_advection.plots import common as plots

    fig, ax = plt.subplots(figsize=(6, 4))
    for stencil, marker in ((3, "o"), (5, "s")):
        pts = [p for p in summary["points"].values() if p["stencil"] == stencil]
        for layers in sorted({p["layers"] for p in pts}):
            sel = sorted((p for p in pts if p["layers"] == layers), key=lambda p: p["filters"])
            ax.plot(
                [p["filters"] for p in sel],
                [p["mae"] for p in sel],
                marker=marker,
                label=f"{layers} layers, stencil {stencil}",
            )
    base = next(iter(summary["points"].values()), {}).get("baselines", {})
    for name, v in base.items():
        if name.startswith("vanleer"):
            ax.axhline(v, ls=":", lw=1, color="gray")
            ax.annotate(name, (ax.get_xlim()[0], v), fontsize=7, color="gray")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("filters")
    ax.set_ylabel("MAE at the test step")
    ax.legend(fontsize=7)
    return plots.save_figure(fig, path)


def report(summary: dict) -> str:
    """``report.md`` (one row per point, best first) from the saved metrics.

    Parameters
    ----------
    summary : dict
        The metrics :func:`run` returns.

    Returns
    -------
    str
        The report in Markdown.
    """
    lines = [
        f"# Hyper-parameter sweep ({summary['grid']['name']} grid, base preset {summary['grid']['base']})",
        "",
        f"Command: `{summary.get('command', '')}`  ",
        f"Package {summary.get('version', '')}; machine: {summary.get('machine', '')}; date {summary.get('date', '')}.",
        "",
        "| layers | filters | stencil | seed | MAE | R² | ms/step | train+eval s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for p in sorted(summary["points"].values(), key=lambda p: p["mae"]):
        lines.append(
            f"| {p['layers']} | {p['filters']} | {p['stencil']} | {p['seed']} | {p['mae']:.4f} | {p['r2']:.3f} | "
            f"{p['ms_per_step']:.2f} | {p['seconds']:.0f} |"
        )
    base = next(iter(summary["points"].values()), {}).get("baselines", {})
    if base:
        lines += [
            "",
            "Baselines (same test seeds and step): " + ", ".join(f"{k} {v:.4f}" for k, v in base.items()) + ".",
        ]
    lines += ["", "![sweep](figures/fig12_sweep.png)", ""]
    return "\n".join(lines)
