"""Accuracy-cost plane on the turbulence test (paper Fig. 11): MAE at step N vs seconds per simulated time unit.

Every method's error is measured on the same test seeds (coarse-grained to 32^2) against two references --
Van Leer at 256^2 (the data's reference) and PPM at 256^2 (more accurate, so that no scheme wins by sharing
Van Leer's diffusion) -- and its cost on the same device in the same run: a jitted scan over
``timing_steps`` coarse steps (median of ``repeats`` runs after a warm-up), at every batch size of
``batches`` (the same batch for every method; the cost is per sample), divided by the simulated time.

Classical solvers at n^2 and step multiple ``k`` take ``k`` times their Courant-0.5 step (the Courant number
is about ``k / 2``; above 1 on the flux-form semi-Lagrangian path inside FCT, or without it for the
``-unbounded`` points), their face velocities from the stored streamfunction (averaged over a step longer
than a coarse step).  Learned models run at 32^2 at their own step (a checkpoint records it).  Every method
is timed the same way (:func:`~learned_advection.evaluation.timing.ms_per_step`: a jitted rollout with the
velocity of every step as a runtime input, computed beforehand; batch 1 without a batch axis).
Van Leer at 256^2 anchors the cost axis; the cached samples keep the streamfunction at 128^2, so 256^2 is
timed on that field repeated to 256^2 (the values do not change the cost).
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from learned_advection.data import turbulence as td
from learned_advection.data.reference import Trajectories
from learned_advection.evaluation.metrics import mae_per_sample
from learned_advection.evaluation.timing import ms_per_step
from learned_advection.experiments import turbulence_2d as t
from learned_advection.experiments.common import check_output_folder, prepare_output, provenance

# (scheme, grid, k[, bounded]): Courant 0.5 and large steps; the unbounded large steps are the fastest
# classical points (they undershoot the initial minimum), so the learned models are judged against them too
CLASSICAL = (
    *((s, n, k) for s in ("vanleer", "ppm") for n in (32, 64, 128) for k in (1, 2, 4, 8)),
    *((s, n, k, False) for s in ("vanleer", "ppm") for n in (32, 64, 128) for k in (4, 8)),
    ("weno5z", 32, 1),
    ("weno5z", 64, 1),
    ("vanleer", 256, 1),
)
SECOND_REFERENCE = "ppm"  # at the reference grid (256^2)
BATCHES = (1, 16)
OUTPUTS = ("cost.json", "report.md", "figures")


def load_models(paths, variants=("plain",)) -> dict:
    """``{name: stepper}`` of learned 32^2 checkpoints (``learned-32 LAYERSxFILTERS``, ``-kK`` for a model at K
    coarse steps, ``-ffsl`` / ``-ppm+`` for a large-step or hybrid model, ``-oK`` for an output layer with a
    K x K kernel, ``-sAxB`` a hybrid's correction stencil, the variant's suffix (``-fct`` ...), the path added to repeats); ``variants`` as in
    ``evaluate turbulence-2d --variants``.

    Parameters
    ----------
    paths : iterable of str or os.PathLike
        Checkpoint folders (or ``"pretrained"`` names) of 2-D models on the 32^2 turbulence grid.
    variants : sequence of str, default ("plain",)
        Inference variants (keys of :data:`~learned_advection.experiments.turbulence_2d.VARIANTS`).

    Returns
    -------
    dict of str to LearnedModel
        Method name -> stepper, one per checkpoint and variant.

    Raises
    ------
    UserError
        If a checkpoint is missing, corrupt or for another grid.
    """
    from learned_advection.learned.checkpoint import load_stepper

    models = {}
    coarse_dt = t.PRESETS["cpu"].data.coarse_dt
    for path in paths:
        stepper = load_stepper(path, t.grid(t.PRESETS["cpu"]))
        k = t.model_step_multiple(stepper, coarse_dt)
        cfg = stepper.config
        hybrid = cfg.base_scheme != "none"
        base = f"learned-32 {cfg.layers}x{cfg.filters}" + ("" if k == 1 else f"-k{k}")
        base += ("" if cfg.large_step == "none" else f"-{cfg.large_step}") + (f"-{cfg.base_scheme}+" if hybrid else "")
        base += "" if cfg.kernel_sizes[-1] == cfg.kernel_size else f"-o{cfg.kernel_sizes[-1]}"
        base += ("-s" + "x".join(str(s) for s in cfg.stencil)) if hybrid else ""
        for suffix, model in t.variant_models(stepper, variants).items():
            name = base + suffix
            models[name if name not in models else f"{name} ({path})"] = model
    return models


def _timing_data(cfg, seed: int, psi, n: int, k: int, max_steps: int) -> Trajectories:
    """One sample on ``n``^2 as its solver at step multiple ``k`` sees it, for :func:`ms_per_step`: the face
    velocity of every solver step (from the coarse steps' streamfunction ``psi``, averaged over a step that
    spans several coarse steps, repeated over the sub-steps of one) and the step.  Every point of the plane,
    classical or learned, is timed by the same :func:`ms_per_step` on precomputed velocities, so no method
    pays for work the others skip (deriving velocities, coarse-graining, a batch axis at batch 1).  At most
    ``max_steps`` solver steps (the cost is per step, so fewer steps on the fine grids bound the memory)."""
    every, sub = td.stride(cfg, n, k), max(1, (n // cfg.coarse_n) // k)
    psi = np.asarray(psi)
    psi = psi[: psi.shape[0] // every * every].reshape(-1, every, *psi.shape[1:]).mean(axis=1)
    if n > psi.shape[-1]:  # the stored streamfunction is coarser: any field of the right size times the same
        f = n // psi.shape[-1]
        psi = np.repeat(np.repeat(psi, f, axis=-1), f, axis=-2)
    vel = tuple(
        np.repeat(np.asarray(u, np.float32), sub, axis=0)[None, :max_steps]
        for u in td.velocity_for(jnp.asarray(psi), n)
    )
    c0 = np.asarray(td.initial_on(cfg, seed, n), np.float32)
    return Trajectories(
        np.broadcast_to(c0, (1, vel[0].shape[1] + 1, n, n)), vel, cfg.coarse_dt * every / sub, cfg.grid(n)
    )


def pareto_front(points: dict[str, tuple[float, float]]) -> list[str]:
    """Names of the points (cost, error) that no other point beats in both (lower is better).

    Parameters
    ----------
    points : dict of str to tuple of float
        Name -> ``(cost, error)``.

    Returns
    -------
    list of str
        The names on the front, cheapest first.
    """
    front = []
    for name, (c, e) in points.items():
        if not any((c2 <= c and e2 <= e) and (c2 < c or e2 < e) for n2, (c2, e2) in points.items() if n2 != name):
            front.append(name)
    return sorted(front, key=lambda n: points[n][0])


def run(
    models: dict,
    out,
    data_dir,
    test_seeds=t.EVALUATION_TEST_SEEDS,
    n_steps: int = 256,
    timing_steps: int = 64,
    repeats: int = 3,
    classical=CLASSICAL,
    batches=BATCHES,
    second_reference=SECOND_REFERENCE,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
) -> dict:
    """``models``: ``{name: model}`` learned 32^2 models; returns (and writes) the table and the figure.

    ``classical``: ``(scheme, n)``, ``(scheme, n, k)`` or ``(scheme, n, k, bounded)`` entries; ``batches``:
    the batch sizes every method is timed at; ``second_reference``: the scheme of the second reference, at the
    reference's grid (``None``: none).

    Parameters
    ----------
    models : dict of str to LearnedModel
        Learned 32^2 models by method name (e.g. from :func:`load_models`); may be empty.
    out : str or os.PathLike
        Output folder (``cost.json``, ``report.md``, ``figures/``).
    data_dir : str or os.PathLike
        Root of the data cache (missing samples and second references are generated).
    test_seeds : sequence of int, default EVALUATION_TEST_SEEDS
        Test sample seeds.
    n_steps : int, default 256
        Coarse step at which the error is taken; a multiple of every method's stride.
    timing_steps : int, default 64
        Coarse steps of each timed run (at most ``n_steps``; rounded down to a multiple of the longest stride,
        at least one).
    repeats : int, default 3
        Timed runs per point; the median counts.
    classical : sequence of tuple, default CLASSICAL
        Classical points as above.
    batches : sequence of int, default BATCHES
        Batch sizes; the first one is the main cost axis.
    second_reference : str or None, default "ppm"
        Scheme of the second reference.
    overwrite : bool, default False
        Replace the outputs in a non-empty ``out``.
    progress : bool, default True
        Show progress bars.
    command : str, default ""
        The command line, recorded in the results.

    Returns
    -------
    dict
        What is written to ``cost.json``: provenance, ``test_seeds``, ``step``, ``timing_steps``, ``batches``,
        ``references``, ``points`` (label -> MAE, cost per batch, Courant number, Pareto membership, ...),
        ``pareto_front`` and ``pareto_front_by_batch``.

    Raises
    ------
    UserError
        If ``n_steps`` is not a multiple of every method's stride, or the output folder is refused.
    """
    from learned_advection.errors import UserError
    from learned_advection.files import write_json_atomic, write_text_atomic
    from learned_advection.plots import common as plots
    from learned_advection.progress import progress_bar

    preset = t.PRESETS["cpu"]
    cfg = preset.data
    specs = [t.method_spec(e) for e in classical]
    strides = {t.method_label(name, n, k): td.stride(cfg, n, k) for name, n, k, _ in specs}
    strides.update({name: t.model_step_multiple(m, cfg.coarse_dt) for name, m in models.items()})
    misfit = sorted(name for name, s in strides.items() if n_steps % s)
    if misfit:
        every = max(strides.values())
        raise UserError(
            f"--steps {n_steps} is not a whole number of steps of {', '.join(misfit)}: use a multiple of {every}"
        )
    longest = max(strides.values())  # n_steps is a multiple of it: the data holds at least that many steps
    timing_steps = longest * max(1, min(timing_steps, n_steps) // longest)
    out = Path(out)
    check_output_folder(out, overwrite, OUTPUTS)  # created only once the results are in
    data, psi = t.load_trajectories(preset, data_dir, "test", test_seeds, n_steps, progress)
    refs = {"vanleer-256": data.states}  # (named for the cpu preset's grid)
    if second_reference is not None:
        refs[f"{second_reference}-{cfg.fine_n}"] = td.second_references(
            cfg, data_dir, "test", test_seeds, n_steps, second_reference, progress
        )
    points = {}
    jobs = [("classical", spec) for spec in specs] + [("learned", (name, m)) for name, m in models.items()]
    bar = progress_bar(jobs, desc="accuracy-cost points", unit="point", enabled=progress)
    for kind, what in bar:
        if kind == "classical":
            scheme, n, k, bounded = what
            label = t.method_label(scheme, n, k) + ("" if bounded else "-unbounded")
            bar.set_postfix_str(label)
            every = td.stride(cfg, n, k)
            if n == cfg.fine_n and scheme == "vanleer" and k == 1:
                pred = refs["vanleer-256"]
            else:
                pred = t.baseline_trajectories(preset, test_seeds, psi, [(scheme, n, k, bounded)], n_steps)[
                    t.method_label(scheme, n, k)
                ]
            stepper = t.classical_stepper(scheme, k, bounded)
            timing = _timing_data(cfg, test_seeds[0], psi[0, :timing_steps], n, k, timing_steps)
            costs = {
                b: 1e-3 * ms_per_step(stepper, timing, timing.n_steps, repeats, b) / b / timing.dt for b in batches
            }
            record = {"kind": "classical", "scheme": scheme, "grid": n, "k": k, "bounded": bounded}
        else:
            label, model = what
            bar.set_postfix_str(label)
            k = t.model_step_multiple(model, cfg.coarse_dt)
            every = k
            at_k = data.every(k)
            pred = t.learned_trajectories(model, at_k, n_steps // k)
            costs = {
                b: 1e-3 * ms_per_step(model, at_k, max(1, timing_steps // k), repeats, b) / b / (k * cfg.coarse_dt)
                for b in batches
            }
            n = cfg.coarse_n
            record = {"kind": "learned", "grid": n, "k": k, "config": model.config.to_dict()}
        record["courant"] = t.BASE_COURANT * k  # the design Courant number (0.5 at k = 1 on every grid)
        record["mae"] = float(
            mae_per_sample(pred[:, : n_steps // every + 1], refs["vanleer-256"][:, ::every]).mean(axis=0)[
                n_steps // every
            ]
        )
        for ref_name, ref in refs.items():
            if ref_name != "vanleer-256":
                record[f"mae_vs_{ref_name}"] = float(
                    mae_per_sample(pred[:, : n_steps // every + 1], ref[:, ::every]).mean(axis=0)[n_steps // every]
                )
        record["seconds_per_time_unit"] = costs[batches[0]]
        record["seconds_per_time_unit_by_batch"] = {str(b): c for b, c in costs.items()}
        points[label] = record
    fronts = {
        str(b): pareto_front({k: (v["seconds_per_time_unit_by_batch"][str(b)], v["mae"]) for k, v in points.items()})
        for b in batches
    }
    front = fronts[str(batches[0])]
    for k, v in points.items():
        v["pareto"] = k in front
        v["pareto_by_batch"] = {b: k in f for b, f in fronts.items()}
    result = {
        "experiment": "accuracy-cost",
        **provenance(command),
        "test_seeds": list(test_seeds),
        "step": n_steps,
        "timing_steps": timing_steps,
        "batches": list(batches),
        "references": list(refs),
        "points": points,
        "pareto_front": front,
        "pareto_front_by_batch": fronts,
    }
    prepare_output(out, overwrite, OUTPUTS)
    write_json_atomic(out / "cost.json", result)
    for b in batches:
        _figure(
            points,
            n_steps,
            str(b),
            out / "figures" / f"fig11_accuracy_cost{'' if b == batches[0] else f'_batch{b}'}.png",
            plots,
        )
    write_text_atomic(out / "report.md", report(result))
    return result


def _figure(points: dict, n_steps: int, batch: str, path, plots):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5))
    colours = {"vanleer": "tab:blue", "ppm": "tab:green", "weno5z": "tab:purple", "upwind": "tab:gray"}
    lines: dict = {}
    for name, p in points.items():
        x = p.get("seconds_per_time_unit_by_batch", {}).get(batch, p["seconds_per_time_unit"])
        y = max(p["mae"], 1e-4)  # the reference itself (error 0) drawn at the bottom
        learned = p["kind"] == "learned"
        bounded = p.get("bounded", True)
        colour = "tab:red" if learned else colours.get(p.get("scheme", ""), "k")
        marker = "*" if learned else ("o" if bounded else "^")
        on_front = p.get("pareto_by_batch", {}).get(batch, p["pareto"])
        ax.scatter(
            x,
            y,
            marker=marker,
            s=140 if learned else 40,
            c=colour,
            edgecolors="k" if on_front else "none",
            linewidths=1.2,
            zorder=3,
        )
        if not learned:
            lines.setdefault((p.get("scheme"), p["grid"], bounded), []).append((p.get("k", 1), x, y))
        if learned or p.get("k", 1) in (1, 8) or on_front:
            ax.annotate(name, (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
    for (scheme, _, bounded), pts in lines.items():
        pts.sort()
        ax.plot(
            [q[1] for q in pts],
            [q[2] for q in pts],
            "-" if bounded else ":",
            c=colours.get(scheme, "k"),
            lw=0.8,
            alpha=0.6,
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"wall-clock seconds per simulated time unit per sample (batch {batch})")
    ax.set_ylabel(f"MAE at step {n_steps} (32² grid, against Van Leer 256²)")
    ax.set_title("accuracy vs cost: lines join one scheme and grid over k (outlined: Pareto front)")
    return plots.save_figure(fig, path)


def report(result: dict) -> str:
    """``report.md`` (the accuracy-cost table) from the saved results.

    Parameters
    ----------
    result : dict
        The contents of ``cost.json`` (as :func:`run` returns).

    Returns
    -------
    str
        The report in Markdown.
    """
    batches = [str(b) for b in result.get("batches", [1])]
    refs = result.get("references", ["vanleer-256"])
    second = [r for r in refs if r != "vanleer-256"]
    lines = [
        "# Accuracy-cost plane (2-D turbulence)",
        "",
        f"Command: `{result.get('command', '')}`  ",
        f"Package {result.get('version', '')}; machine: {result.get('machine', '')}; date {result.get('date', '')}.",
        "",
        f"MAE at step {result['step']} on test seeds {result['test_seeds'][0]}-{result['test_seeds'][-1]} against Van Leer 256² "
        + (f"(and against {', '.join(second)}) " if second else "")
        + f"; cost = seconds per unit of simulated time per sample, median of jitted {result['timing_steps']}-step scans, "
        f"at batch {' and '.join(batches)} (the same batch for every method). k: the step in multiples of the scheme's "
        "Courant-0.5 step (learned: of the 32² coarse step); Courant: the design Courant number. "
        "`-unbounded`: the large step without FCT (undershoots the initial minimum).",
        "",
        "| method | grid | k | Courant | MAE | "
        + "".join(f"MAE vs {r} | " for r in second)
        + "".join(f"s / time unit (batch {b}) | " for b in batches)
        + "".join(f"Pareto front (batch {b}) | " for b in batches),
        "|---|---|---|---|---|" + "---|" * (len(second) + 2 * len(batches)),
    ]

    def cost(p, b):
        return p.get("seconds_per_time_unit_by_batch", {}).get(b, p["seconds_per_time_unit"])

    for name, p in sorted(result["points"].items(), key=lambda kv: cost(kv[1], batches[0])):
        row = f"| {name} | {p['grid']}² | {p.get('k', 1)} | {p.get('courant', 0.5):.2g} | {p['mae']:.4f} | "
        row += "".join(f"{p.get(f'mae_vs_{r}', float('nan')):.4f} | " for r in second)
        row += "".join(f"{cost(p, b):.5f} | " for b in batches)
        row += "".join(("yes" if p.get("pareto_by_batch", {}).get(b, p["pareto"]) else "") + " | " for b in batches)
        lines.append(row)
    learned = [n for n, p in result["points"].items() if p.get("kind") != "classical"]
    if learned:
        lines += [
            "",
            "Each learned point against the classical points alone (is it on their front; if not, the cheapest "
            "classical point that is both more accurate and cheaper):",
            "",
            "| method | MAE | " + "".join(f"batch {b} | " for b in batches),
            "|---|---|" + "---|" * len(batches),
        ]
        for name in learned:
            row = f"| {name} | {result['points'][name]['mae']:.4f} | "
            for b in batches:
                beaten = classical_dominators(result["points"], name, b)
                row += ("on the front" if not beaten else f"beaten by {beaten[0]}") + " | "
            lines.append(row)
    lines += ["", "![accuracy-cost](figures/fig11_accuracy_cost.png)", ""]
    return "\n".join(lines)


def classical_dominators(points: dict, name: str, batch: str) -> list[str]:
    """The classical points of ``points`` (``cost.json``'s) at least as accurate and as cheap as ``name`` at batch
    ``batch`` and better in one, cheapest first: empty when ``name`` is on the classical points' front."""

    def cost(p):
        return p.get("seconds_per_time_unit_by_batch", {}).get(str(batch), p["seconds_per_time_unit"])

    c, e = cost(points[name]), points[name]["mae"]
    better = [
        n
        for n, p in points.items()
        if n != name
        and p.get("kind") == "classical"
        and cost(p) <= c
        and p["mae"] <= e
        and (cost(p) < c or p["mae"] < e)
    ]
    return sorted(better, key=lambda n: cost(points[n]))


def limiter_overhead(data_dir, seed: int = 1000, rounds: int = 5, batches=BATCHES) -> list[dict]:
    """What bounding costs, timed as the plane times (:func:`ms_per_step` on one test seed's per-step velocities)
    but interleaved and repeated: PPM's and Van Leer's large step at k = 8 inside FCT against the same step
    without it, at 32² and 64², and the shipped hybrid safeguarded and inside FCT against it without a limiter.

    Parameters
    ----------
    data_dir : str or os.PathLike
        Folder of the cached reference samples (generated when missing).
    seed : int, default 1000
        The test seed whose velocities are timed.
    rounds : int, default 5
        Interleaved rounds (each times every stepper once, a median of 3 runs); the fastest round is kept.
    batches : sequence of int
        Batch sizes.

    Returns
    -------
    list of dict
        ``what``, ``grid``, ``batch``, ``bounded`` and ``plain`` (ms per step per sample), ``ratio``.
    """
    from learned_advection.learned.checkpoint import load_stepper
    from learned_advection.learned.models import with_options

    preset = t.PRESETS["cpu"]
    cfg = preset.data
    steps = 64
    _, psi = t.load_trajectories(preset, data_dir, "test", [seed], steps, False)
    pairs = []
    for n in (cfg.coarse_n, 2 * cfg.coarse_n):
        timing = _timing_data(cfg, seed, psi[0, :steps], n, 8, steps)
        for scheme in ("ppm", "vanleer"):
            label = t.method_label(scheme, n, 8)
            pairs.append(
                (
                    f"{label} / {label}-unbounded",
                    n,
                    timing,
                    t.classical_stepper(scheme, 8, True),
                    t.classical_stepper(scheme, 8, False),
                )
            )
    model = load_stepper("pretrained:turbulence-2d-k8-hybrid", t.grid(preset))
    k = t.model_step_multiple(model, cfg.coarse_dt)
    at_k = _timing_data(cfg, seed, psi[0, :steps], cfg.coarse_n, k, steps)
    unguarded = with_options(model, limiter="none")
    pairs.append(
        ("hybrid safeguarded / unguarded", cfg.coarse_n, at_k, with_options(model, limiter="safeguard"), unguarded)
    )
    pairs.append(("hybrid in FCT / unguarded", cfg.coarse_n, at_k, with_options(model, limiter="fct"), unguarded))
    rows = []
    for what, n, timing, bounded, plain in pairs:
        for b in batches:
            best = {"bounded": float("inf"), "plain": float("inf")}
            for _ in range(rounds):
                for key, stepper in (("bounded", bounded), ("plain", plain)):
                    best[key] = min(best[key], ms_per_step(stepper, timing, timing.n_steps, 3, b) / b)
            rows.append({"what": what, "grid": n, "batch": b, **best, "ratio": best["bounded"] / best["plain"]})
    return rows


if (
    __name__ == "__main__"
):  # python -m learned_advection.experiments.accuracy_cost DATA_DIR (e.g. ~/.cache/learned-advection)
    import sys

    print("what bounding costs (ms per step per sample, the fastest of 5 interleaved rounds; turbulence seed 1000)")
    print("| bounded / plain | grid | batch | bounded | plain | ratio |\n|---|---|---|---|---|---|")
    for r in limiter_overhead(sys.argv[1]):
        print(
            f"| {r['what']} | {r['grid']}² | {r['batch']} | {r['bounded']:.4f} | {r['plain']:.4f} | {r['ratio']:.2f} |"
        )
