"""The outputs of a run: ``metrics.json``, figures and ``report.md``."""

from __future__ import annotations

from pathlib import Path

from learned_advection.experiments.deformation_2d.evaluation import entropy_after_half_period
from learned_advection.experiments.deformation_2d.presets import PERIOD, PRESETS, Preset


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
