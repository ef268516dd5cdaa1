"""The outputs of a run or an evaluation: summary rows, ``metrics.json``, figures and ``report.md``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from learned_advection.experiments.turbulence_2d.presets import PRESETS, Preset, grid


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
