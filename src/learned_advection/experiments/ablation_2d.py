"""The paper's ablations (Sec. II E) and our stability options on the 2-D turbulence test, one table.

Every learned term (``KINDS``: interpolation, diffusion, next-state, derivative) is trained with the
same turbulence preset (data, network size, unroll, iterations, validation-selected checkpoint) and evaluated on the same
test seeds; the interpolation model is also evaluated with bounded fluxes (FCT) and with D4 symmetry
averaging of the same weights.  The table: MAE and R^2 at the test step, blow-up fraction and
checkerboard indicator after the long rollout, the largest overshoot above the initial maximum over
the whole rollout, the mass error, and milliseconds per coarse step per sample.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.evaluation.timing import ms_per_step
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.learned.config import KINDS
from learned_advection.learned.models import with_options

EXPERIMENT = "ablation-2d"
OUTPUTS = ("models", "metrics.json", "report.md", "figures")
INFERENCE_VARIANTS = {
    "interpolation-fct": {"limiter": "fct"},
    "interpolation-d4-fct": {"limiter": "fct", "symmetry": "d4"},
}


def parse_kinds(text: str | None) -> tuple[str, ...]:
    """``"interpolation,diffusion"`` -> the learned terms to train (``None``: all of ``KINDS``).

    Parameters
    ----------
    text : str or None
        Comma-separated names from ``KINDS``, or ``None`` for all.

    Returns
    -------
    tuple of str
        The chosen kinds, in the order given.

    Raises
    ------
    UserError
        If a name is unknown or none is given.
    """
    chosen = KINDS if text is None else tuple(k.strip() for k in text.split(",") if k.strip())
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise UserError(f"--kinds: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(KINDS)}")
    return chosen


def run(
    preset_name: str,
    out,
    data_dir,
    kinds=KINDS,
    overwrite: bool = False,
    resume: bool = False,
    quiet: bool = False,
    command: str = "",
    log=print,
    iterations: int | None = None,
    long_steps: int | None = None,
) -> dict:
    """Train every kind with the preset (``iterations`` and ``long_steps`` override it), evaluate, write the table.

    A preset without a long rollout gets 1024 steps here: the blow-up column is the point of the table.

    A kind whose training fails is reported in the table and left out of the evaluation.

    Parameters
    ----------
    preset_name : str
        A key of the turbulence presets (:data:`~learned_advection.experiments.turbulence_2d.PRESETS`).
    out : str or os.PathLike
        Output folder (``models/``, ``metrics.json``, ``report.md``, ``figures/``).
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    kinds : sequence of str, default KINDS
        Learned terms to train (see :func:`parse_kinds`).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    resume : bool, default False
        Continue the trainings that have a ``last/`` checkpoint in ``out/models/<kind>``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    log : Callable, default print
        Receives the progress messages.
    iterations : int, optional
        Training iterations per kind; ``None`` (default) uses the preset's.
    long_steps : int, optional
        Coarse steps of the long rollout; ``None`` (default) uses the preset's, or 1024 when it has none.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: the evaluation, provenance, ``training`` per kind and
        ``ms_per_step`` per learned method.

    Raises
    ------
    UserError
        If the preset is unknown or the output folder is refused.
    """
    if preset_name not in t.PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(t.PRESETS)}")
    preset = t.PRESETS[preset_name]
    if iterations is not None:
        preset = dataclasses.replace(preset, train=dataclasses.replace(preset.train, steps=iterations))
    long_steps = (preset.long_steps or 1024) if long_steps is None else long_steps
    preset = dataclasses.replace(preset, long_steps=long_steps)
    out = Path(out)
    prepare_output(out, overwrite, OUTPUTS, resume)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    models, training = {}, {}
    for kind in kinds:
        p = dataclasses.replace(preset, model=dataclasses.replace(preset.model, kind=kind))
        folder = out / "models" / kind
        say(f"[ablation] training '{kind}' ({p.train.steps} iterations) ...")
        try:
            r = t.train_model(p, data_dir, folder, resume=resume and (folder / "last").exists(), progress=not quiet)
        except UserError as e:  # e.g. a variant whose training diverges: reported, not fatal
            training[kind] = {"failed": str(e)}
            say(f"[ablation]   '{kind}' failed: {e}")
            continue
        models[kind] = r.model
        training[kind] = {"best_step": r.best_step, "best_validation": r.best_validation, "seconds": r.seconds}
    if "interpolation" in models:
        for name, options in INFERENCE_VARIANTS.items():
            models[name] = with_options(models["interpolation"], **options)
    suffixes = {f"-{k}": m for k, m in models.items()}
    say(f"[ablation] evaluating {len(models)} variants and the classical baselines ...")
    evaluation = t.evaluate(suffixes, preset, data_dir, progress=not quiet)
    data, _ = t.load_trajectories(preset, data_dir, "test", preset.test_seeds[:1], 32, progress=False)
    cost = {f"learned-{preset.data.coarse_n}-{k}": ms_per_step(m, data) for k, m in models.items()}
    metrics = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        **provenance(command),
        **t.public_metrics(evaluation),
        "iterations": preset.train.steps,
        "long_steps": preset.long_steps,
        "training": training,
        "ms_per_step": cost,
        "seconds_total": time.perf_counter() - t0,
    }
    from learned_advection.files import write_json_atomic, write_text_atomic

    write_json_atomic(out / "metrics.json", metrics)
    write_text_atomic(out / "report.md", report(metrics))
    return metrics


def report(metrics: dict) -> str:
    """``report.md`` (the ablation table) from the saved metrics.

    Parameters
    ----------
    metrics : dict
        The metrics :func:`run` returns.

    Returns
    -------
    str
        The report in Markdown.
    """
    methods = metrics["methods"]
    first = next(iter(methods.values()))
    n = len(first["step"]) - 1
    long = first.get("long", {}).get("steps")
    lines = [
        f"# Ablations on 2-D turbulence ({metrics.get('preset')} preset)",
        "",
        f"Command: `{metrics.get('command', '')}`  ",
        f"Package {metrics.get('version', '')}; machine: {metrics.get('machine', '')}; date {metrics.get('date', '')}; "
        f"total {metrics.get('seconds_total', float('nan')):.0f} s.",
        "",
        f"Test seeds {metrics['test_seeds'][0]}-{metrics['test_seeds'][-1]} ({len(metrics['test_seeds'])} samples). "
        "Variants: the learned term (interpolation = the paper's method; diffusion = Eq. 7; next-state and "
        "derivative = the paper's unstable alternatives) and inference options of the interpolation weights.",
        "",
        f"| method | MAE @{n} | R² @{n} | blow-up @{long} | checkerboard @{long} | max overshoot | mass error | ms/step |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in methods.items():
        lg = m.get("long", {})
        over = lg.get("max_overshoot", m["max_overshoot"])
        ms = metrics.get("ms_per_step", {}).get(name)
        lines.append(
            f"| {name} | {m['mae'][n]:.4f} | {m['r2'][n]:.3f} | {lg.get('blowup_fraction', float('nan')):.2f} | "
            f"{lg.get('checkerboard', float('nan')):.2e} | {over:.2e} | {m['mass_error']:.1e} | "
            f"{'' if ms is None else f'{ms:.2f}'} |"
        )
    failed = {k: v["failed"] for k, v in metrics.get("training", {}).items() if "failed" in v}
    for k, why in failed.items():
        lines.append(f"\n'{k}': training failed ({why}).")
    lines.append("")
    return "\n".join(lines)
