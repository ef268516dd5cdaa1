"""Accuracy-cost plane on the turbulence test (paper Fig. 11): MAE at step N vs seconds per simulated time unit.

Every method's error is measured on the same test seeds (coarse-grained to 32^2, against Van Leer at
256^2) and its cost on the same device in the same run: one sample, a jitted scan over ``timing_steps``
coarse steps (median of ``repeats`` runs after a warm-up), divided by the simulated time.  Classical
solvers at n^2 take n/32 sub-steps per coarse step and compute their face velocities from the stored
streamfunction at every coarse step; the learned models run at 32^2 on velocities sampled to 32^2.
Van Leer at 256^2 *is* the reference (error 0): it anchors the cost axis (the cached samples keep the
streamfunction at 128^2, so it is timed on that field repeated to 256^2; the values do not change the cost).
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp

from learned_advection.evaluation.metrics import mae_per_sample
from learned_advection.evaluation.timing import median_seconds, ms_per_step
from learned_advection.numerics import steppers
from learned_advection.data import turbulence as td
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import prepare_output, provenance

CLASSICAL = (("vanleer", 32), ("vanleer", 64), ("vanleer", 128), ("vanleer", 256), ("ppm", 32), ("ppm", 64), ("ppm", 128))
OUTPUTS = ("cost.json", "report.md", "figures")


def load_models(paths) -> dict:
    """``{name: stepper}`` of learned 32^2 checkpoints (``learned-32 LAYERSxFILTERS``, the path added to repeats)."""
    from learned_advection.learned.checkpoint import load_stepper

    models = {}
    for path in paths:
        stepper = load_stepper(path, t.grid(t.PRESETS["cpu"]))
        name = f"learned-32 {stepper.config.layers}x{stepper.config.filters}"
        models[name if name not in models else f"{name} ({path})"] = stepper
    return models


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points (cost, error) that no other point beats in both (lower is better)."""
    front = []
    for name, (c, e) in points.items():
        if not any((c2 <= c and e2 <= e) and (c2 < c or e2 < e) for n2, (c2, e2) in points.items() if n2 != name):
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])


def run(models: dict, out, data_dir, test_seeds=t.EVALUATION_TEST_SEEDS, n_steps: int = 256, timing_steps: int = 64,
        repeats: int = 3, classical=CLASSICAL, overwrite: bool = False, progress: bool = True, command: str = "") -> dict:
    """``models``: ``{name: model}`` learned 32^2 models; returns (and writes) the table and the figure."""
    from learned_advection.plots import common as plots
    from learned_advection.files import write_json_atomic, write_text_atomic

    out = Path(out)
    prepare_output(out, overwrite, OUTPUTS)
    preset = t.PRESETS["cpu"]
    cfg = preset.data
    data, psi = t.load_trajectories(preset, data_dir, "test", test_seeds, n_steps, progress)
    ref = data.states
    points = {}
    for scheme, n in classical:
        name = f"{scheme}-{n}"
        if n == cfg.fine_n and scheme == "vanleer":
            pred = ref
        else:
            pred = t.baseline_trajectories(preset, test_seeds, psi, [(scheme, n)], n_steps)[name]
        c0 = jnp.asarray(td.initial_on(cfg, test_seeds[0], n), jnp.float32)
        p0 = jnp.asarray(psi[0, :timing_steps])
        if n > p0.shape[-1]:  # the stored streamfunction is coarser: any field of the right size times the same
            f = n // p0.shape[-1]
            p0 = jnp.repeat(jnp.repeat(p0, f, axis=-1), f, axis=-2)
        fn = jax.jit(lambda c, p, s=steppers.get_scheme(scheme), n=n: td.solve_on(s, c, p, n, cfg, timing_steps))
        seconds = median_seconds(fn, (c0, p0), repeats)  # the flow is an argument, as in a real run
        points[name] = {"kind": "classical", "grid": n, "mae": float(mae_per_sample(pred, ref).mean(axis=0)[n_steps]),
                        "seconds_per_time_unit": seconds / (timing_steps * cfg.coarse_dt)}
    for name, model in models.items():
        pred = t.learned_trajectories(model, data, n_steps)
        seconds_per_step = 1e-3 * ms_per_step(model, data, timing_steps, repeats)
        points[name] = {"kind": "learned", "grid": cfg.coarse_n, "config": model.config.to_dict(),
                        "mae": float(mae_per_sample(pred, ref).mean(axis=0)[n_steps]),
                        "seconds_per_time_unit": seconds_per_step / cfg.coarse_dt}
    front = pareto_front({k: (v["seconds_per_time_unit"], v["mae"]) for k, v in points.items()})
    for k, v in points.items():
        v["pareto"] = k in front
    result = {"experiment": "accuracy-cost", **provenance(command), "test_seeds": list(test_seeds), "step": n_steps,
              "timing_steps": timing_steps, "points": points, "pareto_front": front}
    write_json_atomic(out / "cost.json", result)
    _figure(points, n_steps, out / "figures" / "fig11_accuracy_cost.png", plots)
    write_text_atomic(out / "report.md", report(result))
    return result


def _figure(points: dict, n_steps: int, path, plots):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4.2))
    for kind, marker in (("classical", "o"), ("learned", "*")):
        for name, p in points.items():
            if p["kind"] != kind:
                continue
            y = max(p["mae"], 1e-4)  # the reference itself (error 0) drawn at the bottom
            ax.scatter(p["seconds_per_time_unit"], y, marker=marker, s=120 if kind == "learned" else 50,
                       edgecolors="k" if p["pareto"] else "none")
            ax.annotate(name, (p["seconds_per_time_unit"], y), fontsize=8, xytext=(4, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("wall-clock seconds per simulated time unit (one sample)")
    ax.set_ylabel(f"MAE at step {n_steps} (32² grid)")
    ax.set_title("accuracy vs cost (outlined: Pareto front)")
    return plots.save_figure(fig, path)


def report(result: dict) -> str:
    lines = [
        "# Accuracy-cost plane (2-D turbulence)",
        "",
        f"Command: `{result.get('command', '')}`  ",
        f"Package {result.get('version', '')}; machine: {result.get('machine', '')}; date {result.get('date', '')}.",
        "",
        f"MAE at step {result['step']} on test seeds {result['test_seeds'][0]}-{result['test_seeds'][-1]}; cost = one sample, "
        f"median of jitted {result['timing_steps']}-step scans, per unit of simulated time. vanleer-256 is the reference.",
        "",
        "| method | grid | MAE | s per time unit | Pareto |",
        "|---|---|---|---|---|",
    ]
    for name, p in sorted(result["points"].items(), key=lambda kv: kv[1]["seconds_per_time_unit"]):
        lines.append(f"| {name} | {p['grid']}² | {p['mae']:.4f} | {p['seconds_per_time_unit']:.4f} | {'yes' if p['pareto'] else ''} |")
    lines += ["", "![accuracy-cost](figures/fig11_accuracy_cost.png)", ""]
    return "\n".join(lines)
