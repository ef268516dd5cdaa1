"""``reproduce turbulence-2d``, ``reproduce ablation-2d``, ``sweep turbulence-2d``, ``cost turbulence-2d`` and
``transfer turbulence-2d`` (thin wrappers)."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.cli._common import (
    data_dir_option,
    data_dir_or_default,
    log,
    print_table,
    reproduce,
    reproducible_command_line,
    seeds,
)
from learned_advection.errors import UserError

# seeds are 32-bit (experiments.common.MAX_SEED): jax.random.PRNGKey wraps larger ones onto smaller ones
SEED = click.IntRange(0, 2**32 - 1)


# The presets, literal so that --help does not import JAX (a test checks them against experiments.turbulence_2d):
# the ones a user needs are listed in --help; the research variants load by name and are listed in docs/presets.md.
TURBULENCE_PRESETS = ["smoke", "quick", "cpu", "cpu-finetune", "paper", "quick-k8-ppm-hybrid-o1"]
TURBULENCE_RESEARCH_PRESETS = [
    "quick-k2",
    "quick-k4",
    "quick-k4-ffsl",
    "quick-k8-ffsl",
    "quick-k8-ffsl-small",
    "quick-k8-ffsl-lite",
    "quick-k8-ppm-hybrid",
    "quick-k8-ppm-hybrid-s43",
    "quick-k8-ppm-hybrid-s43-long",
]


@reproduce.command("turbulence-2d", short_help="2-D decaying turbulence (paper Sec. III C, Figs. 7-10).")
@click.option(
    "--preset",
    type=click.Choice(TURBULENCE_PRESETS + TURBULENCE_RESEARCH_PRESETS),
    default="quick",
    metavar="[" + "|".join(TURBULENCE_PRESETS) + "]",
    show_default=True,
    help="Recipe of the run (the list below; research variants: see docs/presets.md).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("runs/turbulence-2d"),
    show_default=True,
    help="Output folder.",
)
@click.option(
    "--init-from",
    default=None,
    help="Start training from this checkpoint folder (or 'pretrained') instead of a fresh initialisation.",
)
@data_dir_option
@click.option(
    "--test-seeds",
    default=None,
    help="Inclusive range A-B of test seeds (at most 10000 seeds, each below 2^32) [preset's default].",
)
@click.option(
    "--train-seed",
    "--seed",
    "train_seed",
    type=SEED,
    default=None,
    help="Seed of initialisation and batch order [preset's].",
)
@click.option("--resume", is_flag=True, help="Continue training from OUT/model/last.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def turbulence_2d(preset, out, init_from, data_dir, test_seeds, train_seed, resume, overwrite, quiet) -> None:
    """2-D decaying turbulence from pyqg-jax: learned 32^2 vs Van Leer / PPM (paper Sec. III C, Figs. 7-10).

    \b
    Presets:
      smoke                   the test suite's end-to-end check (16^2, a few steps)
      quick                   4 x 32 network, 8 training seeds, 1200 iterations
      cpu                     stage 1 of the shipped `pretrained` model
      cpu-finetune            stage 2: --init-from the cpu run's model/best
      paper                   the paper's 10 x 128 network (a GPU job)
      quick-k8-ppm-hybrid-o1  the shipped `pretrained:turbulence-2d-k8-hybrid`
                              (PPM's large step plus a learned correction)
    research variants (quick-k2, quick-k4, quick-k4-ffsl, quick-k8-*): see docs/presets.md
    """
    from learned_advection.experiments import turbulence_2d as exp

    m = exp.run(
        preset,
        out,
        data_dir_or_default(data_dir),
        overwrite=overwrite,
        resume=resume,
        quiet=quiet,
        command=reproducible_command_line(),
        test_seeds=seeds(test_seeds),
        train_seed=train_seed,
        log=log,
        init_from=init_from,
    )
    print_table(m, exp.PRESETS[preset].test_steps)
    click.echo(f"results in {out}/ (report.md, metrics.json, figures/, model/)")


@reproduce.command("ablation-2d", short_help="The paper's ablations (Sec. II E) plus bounded fluxes and D4 symmetry.")
@click.option(
    "--preset",
    type=click.Choice(["smoke", "quick", "cpu", "paper"]),
    default="quick",
    show_default=True,
    help="Size of every run.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/ablation-2d"), show_default=True, help="Output folder."
)
@data_dir_option
@click.option(
    "--kinds",
    default=None,
    help="Learned terms to train, comma-separated [all: interpolation, diffusion, next-state, derivative].",
)
@click.option("--iterations", type=int, default=None, help="Training iterations per variant [the preset's].")
@click.option(
    "--long-steps",
    type=int,
    default=None,
    help="Rollout length for the blow-up / checkerboard columns [the preset's; 1024 if it has none].",
)
@click.option("--resume", is_flag=True, help="Continue the trainings from OUT/models/KIND/last.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def ablation_2d(preset, out, data_dir, kinds, iterations, long_steps, resume, overwrite, quiet) -> None:
    """The paper's ablations (Sec. II E) + bounded fluxes / D4 symmetry on 2-D turbulence: one table in report.md."""
    from learned_advection.experiments import ablation_2d as exp

    chosen = exp.parse_kinds(kinds)
    if iterations is not None and iterations < 1:
        raise UserError(f"--iterations must be a positive integer, got {iterations}")
    if long_steps is not None and long_steps < 0:
        raise UserError(f"--long-steps must be 0 or positive, got {long_steps}")
    m = exp.run(
        preset,
        out,
        data_dir_or_default(data_dir),
        kinds=chosen,
        overwrite=overwrite,
        resume=resume,
        quiet=quiet,
        command=reproducible_command_line(),
        log=log,
        iterations=iterations,
        long_steps=long_steps,
    )
    if not quiet:
        click.echo(exp.report(m))


@click.command("sweep", short_help="Hyper-parameter sweep (paper Fig. 12).")
@click.argument("experiment", type=click.Choice(["turbulence-2d"]))
@click.option(
    "--grid",
    "grid_name",
    type=click.Choice(["smoke", "cpu", "paper"]),
    default="cpu",
    show_default=True,
    help="cpu: 2-4 layers x 16-32 filters x stencils 3, 5 (8 points of 600 iterations); paper: the paper's Fig. 12 grid.",
)
@click.option(
    "--out", type=click.Path(path_type=Path), default=Path("runs/sweep-2d"), show_default=True, help="Output folder."
)
@data_dir_option
@click.option("--resume", is_flag=True, help="Skip finished points and continue a started training.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def sweep(experiment, grid_name, out, data_dir, resume, overwrite, quiet) -> None:
    """Hyper-parameter sweep (paper Fig. 12): MAE at step 256 and cost per step for each network; resumable."""
    from learned_advection.experiments import sweep_2d

    summary = sweep_2d.run(
        grid_name,
        out,
        data_dir_or_default(data_dir),
        overwrite=overwrite,
        resume=resume,
        quiet=quiet,
        command=reproducible_command_line(),
        log=log,
    )
    if not quiet:
        click.echo(sweep_2d.report(summary))


@click.command("cost", short_help="Accuracy-cost plane with its Pareto front (paper Fig. 11).")
@click.argument("experiment", type=click.Choice(["turbulence-2d"]))
@click.option(
    "--model",
    "models",
    multiple=True,
    default=("pretrained",),
    show_default=True,
    help="Learned model checkpoint(s) to place on the plane (repeat the option for several).",
)
@click.option(
    "--test-seeds",
    default="1000-1003",
    show_default=True,
    help="Inclusive range A-B of test seeds (at most 10000 seeds, each below 2^32).",
)
@click.option("--steps", type=int, default=256, show_default=True, help="Step at which the MAE is read.")
@click.option(
    "--variants",
    default="plain",
    show_default=True,
    help="Inference variants of every model, comma-separated: plain (as shipped), unguarded, safeguard, fct, d4, "
    "d4+fct, bf16 (as evaluate).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("runs/accuracy-cost"),
    show_default=True,
    help="Output folder (cost.json, report.md, figures/).",
)
@data_dir_option
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def cost(experiment, models, test_seeds, steps, variants, out, data_dir, overwrite, quiet) -> None:
    """Accuracy-cost plane (paper Fig. 11): MAE at --steps vs seconds per simulated time unit, with the Pareto front."""
    from learned_advection.experiments import accuracy_cost
    from learned_advection.experiments.turbulence_2d import parse_variants

    if steps < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    test_seeds = seeds(test_seeds)
    variants = parse_variants(variants)
    result = accuracy_cost.run(
        accuracy_cost.load_models(models, variants),
        out,
        data_dir_or_default(data_dir),
        test_seeds,
        steps,
        overwrite=overwrite,
        progress=not quiet,
        command=reproducible_command_line(),
    )
    if not quiet:
        click.echo(accuracy_cost.report(result))


@click.command("transfer")
@click.argument("experiment", type=click.Choice(["turbulence-2d"]))
@click.option(
    "--model",
    "models",
    multiple=True,
    default=("pretrained",),
    show_default=True,
    help="Learned model checkpoint(s) to test (repeat the option for several).",
)
@click.option(
    "--steps",
    type=int,
    default=256,
    show_default=True,
    help="Coarse steps of every run (a multiple of each model's step); the MAE is read at the end.",
)
@click.option("--flows", default="cells,sinusoidal,deformation", show_default=True, help="Flows, comma-separated.")
@click.option("--tracers", default="bell,block", show_default=True, help="Tracer shapes, comma-separated.")
@click.option(
    "--strengths",
    default="default,limits",
    show_default=True,
    help="Flow strengths, comma-separated: default (largest speed 2 on every flow), limits (each flow scaled to "
    "each model's declared Courant and deformation limits at its step).",
)
@click.option(
    "--variants",
    default="plain",
    show_default=True,
    help="Inference variants of every model, comma-separated: plain (as shipped), unguarded, safeguard, fct, d4, "
    "d4+fct, bf16 (as evaluate).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=Path("runs/transfer"),
    show_default=True,
    help="Output folder (transfer.json, report.md).",
)
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def transfer(experiment, models, steps, flows, tracers, strengths, variants, out, overwrite, quiet) -> None:
    """Generalisation: the models and Van Leer/PPM (bounded and unbounded large steps) on flows and tracer
    shapes not in the training data, at a default strength and at each model's declared limits, against PPM
    at 256^2 (MAE after --steps coarse steps)."""
    from learned_advection.experiments import accuracy_cost
    from learned_advection.experiments import transfer as tr
    from learned_advection.experiments.common import parse_names
    from learned_advection.experiments.turbulence_2d import parse_variants

    if not 1 <= steps <= 4096:
        raise UserError(f"--steps must be an integer from 1 to 4096, got {steps}")
    flows, tracers = parse_names(flows, tr.FLOWS, "flow"), parse_names(tracers, tr.TRACERS, "tracer")
    strengths = parse_names(strengths, tr.STRENGTHS, "strength")
    result = tr.run(
        accuracy_cost.load_models(models, parse_variants(variants)),
        out,
        steps,
        flows,
        tracers,
        overwrite=overwrite,
        progress=not quiet,
        command=reproducible_command_line(),
        strengths=strengths,
    )
    if not quiet:
        click.echo(tr.report(result))


COMMANDS: list = [cost, sweep, transfer]
