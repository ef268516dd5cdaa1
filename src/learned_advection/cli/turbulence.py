"""``reproduce turbulence-2d``, the body of ``evaluate turbulence-2d`` and ``cost turbulence-2d`` (thin wrappers)."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.errors import UserError
from learned_advection.cli.learned import _command_line, reproduce


def default_data_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("learned-advection"))


data_dir_option = click.option(
    "--data-dir", type=click.Path(path_type=Path), default=None,
    help="Folder of the cached reference samples (netCDF, one per seed; generated when missing) "
         "[default: the user cache folder, e.g. ~/.cache/learned-advection].",
)


def print_table(metrics: dict, step: int) -> None:
    from learned_advection.experiments import turbulence_2d as exp

    rows = exp.summary(metrics, step)
    long = next((r["long_steps"] for r in rows if "long_steps" in r), None)
    blow_head = "blow-up" if long is None else f"blow@{long}"
    click.echo(f"{'method':<19}{'MAE@' + str(step):>10}{'R2@' + str(step):>9}{blow_head:>10}{'overshoot':>11}")
    for r in rows:
        blow = r.get("blowup_fraction")
        click.echo(f"{r['method']:<19}{r['mae']:>10.4f}{r['r2']:>9.3f}{'-' if blow is None else f'{blow:.2f}':>10}"
                   f"{r['max_overshoot']:>11.2e}")


@reproduce.command("turbulence-2d")
@click.option("--preset", type=click.Choice(["smoke", "quick", "cpu", "cpu-finetune", "paper"]), default="quick",
              show_default=True, help="Size of the run (cpu-finetune: the shipped model's second stage, needs --init-from).")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/turbulence-2d"), show_default=True, help="Output folder.")
@click.option("--init-from", default=None, help="Start training from this checkpoint folder (or 'pretrained') instead of a fresh initialisation.")
@data_dir_option
@click.option("--test-seeds", default=None, help="Inclusive range A-B of test seeds [preset's default].")
@click.option("--train-seed", "--seed", "train_seed", type=int, default=None, help="Seed of initialisation and batch order [preset's].")
@click.option("--resume", is_flag=True, help="Continue training from OUT/model/last.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def turbulence_2d(preset, out, init_from, data_dir, test_seeds, train_seed, resume, overwrite, quiet) -> None:
    """2-D decaying turbulence from pyqg-jax: learned 32^2 vs Van Leer / PPM (paper Sec. III C, Figs. 7-10)."""
    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.experiments.common import parse_seed_range

    seeds = None if test_seeds is None else parse_seed_range(test_seeds)
    data_dir = default_data_dir() if data_dir is None else data_dir
    m = exp.run(preset, out, data_dir, overwrite=overwrite, resume=resume, quiet=quiet, command=_command_line(),
                test_seeds=seeds, train_seed=train_seed, log=lambda s: click.echo(s, err=True), init_from=init_from)
    print_table(m, exp.PRESETS[preset].test_steps)
    click.echo(f"results in {out}/ (report.md, metrics.json, figures/, model/)")


def evaluate_turbulence(model_path, test_seeds, steps, out, data_dir, overwrite, quiet, command, long_steps=0,
                        variants="plain") -> None:
    """``evaluate turbulence-2d``: a checkpoint on fresh test seeds (the body of the evaluate command)."""
    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.experiments.common import parse_seed_range

    seeds = parse_seed_range("1000-1003" if test_seeds is None else test_seeds)
    data_dir = default_data_dir() if data_dir is None else data_dir
    metrics = exp.evaluate_checkpoint(model_path, seeds, steps, data_dir, out=out, overwrite=overwrite,
                                      progress=not quiet, command=command, long_steps=long_steps,
                                      variants=exp.parse_variants(variants))
    print_table(metrics, steps)
    if out is not None:
        click.echo(f"results in {out}/ (report.md, metrics.json, figures/)")


@reproduce.command("ablation-2d")
@click.option("--preset", type=click.Choice(["smoke", "quick", "cpu", "paper"]), default="quick", show_default=True,
              help="Size of every run.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/ablation-2d"), show_default=True, help="Output folder.")
@data_dir_option
@click.option("--kinds", default=None,
              help="Learned terms to train, comma-separated [all: interpolation, diffusion, next-state, derivative].")
@click.option("--iterations", type=int, default=None, help="Training iterations per variant [the preset's].")
@click.option("--long-steps", type=int, default=None,
              help="Rollout length for the blow-up / checkerboard columns [the preset's; 1024 if it has none].")
@click.option("--resume", is_flag=True, help="Continue the trainings from OUT/models/KIND/last.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def ablation_2d(preset, out, data_dir, kinds, iterations, long_steps, resume, overwrite, quiet) -> None:
    """The paper's ablations (Sec. II E) + bounded fluxes / D4 symmetry on 2-D turbulence: one table in report.md."""
    from learned_advection.experiments import ablation_2d as exp
    from learned_advection.learned.models import KINDS

    chosen = KINDS if kinds is None else tuple(k.strip() for k in kinds.split(",") if k.strip())
    unknown = [k for k in chosen if k not in KINDS]
    if unknown or not chosen:
        raise UserError(f"--kinds: unknown {', '.join(unknown) or '(empty)'}; choose from {', '.join(KINDS)}")
    if iterations is not None and iterations < 1:
        raise UserError(f"--iterations must be a positive integer, got {iterations}")
    if long_steps is not None and long_steps < 0:
        raise UserError(f"--long-steps must be 0 or positive, got {long_steps}")
    data_dir = default_data_dir() if data_dir is None else data_dir
    m = exp.run(preset, out, data_dir, kinds=chosen, overwrite=overwrite, resume=resume, quiet=quiet,
                command=_command_line(), log=lambda s: click.echo(s, err=True), iterations=iterations,
                long_steps=long_steps)
    if not quiet:
        click.echo(exp.report(m))


@click.command("sweep")
@click.argument("experiment", type=click.Choice(["turbulence-2d"]))
@click.option("--grid", "grid_name", type=click.Choice(["smoke", "cpu", "paper"]), default="cpu", show_default=True,
              help="cpu: 2-4 layers x 16-32 filters x stencils 3, 5 (~2 h on 2 cores); paper: the paper's Fig. 12 grid.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/sweep-2d"), show_default=True, help="Output folder.")
@data_dir_option
@click.option("--resume", is_flag=True, help="Skip finished points and continue a started training.")
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def sweep(experiment, grid_name, out, data_dir, resume, overwrite, quiet) -> None:
    """Hyper-parameter sweep (paper Fig. 12): MAE at step 256 and cost per step for each network; resumable."""
    from learned_advection.experiments import sweep_2d

    data_dir = default_data_dir() if data_dir is None else data_dir
    summary = sweep_2d.run(grid_name, out, data_dir, overwrite=overwrite, resume=resume, quiet=quiet,
                           command=_command_line(), log=lambda s: click.echo(s, err=True))
    if not quiet:
        click.echo(sweep_2d.report(summary))


@click.command("cost")
@click.argument("experiment", type=click.Choice(["turbulence-2d"]))
@click.option("--model", "models", multiple=True, default=("pretrained",), show_default=True,
              help="Learned model checkpoint(s) to place on the plane (repeat the option for several).")
@click.option("--test-seeds", default="1000-1003", show_default=True, help="Inclusive range A-B of test seeds.")
@click.option("--steps", type=int, default=256, show_default=True, help="Step at which the MAE is read.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("runs/accuracy-cost"), show_default=True,
              help="Output folder (cost.json, report.md, figures/).")
@data_dir_option
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def cost(experiment, models, test_seeds, steps, out, data_dir, overwrite, quiet) -> None:
    """Accuracy-cost plane (paper Fig. 11): MAE at --steps vs seconds per simulated time unit, with the Pareto front."""
    from learned_advection.learned.checkpoint import load_stepper
    from learned_advection.experiments import accuracy_cost
    from learned_advection.experiments import turbulence_2d as exp
    from learned_advection.experiments.common import parse_seed_range

    if steps < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    seeds = parse_seed_range(test_seeds)
    loaded = {}
    for path in models:
        stepper = load_stepper(path, exp.grid(exp.PRESETS["cpu"]))
        mc = stepper.model.config
        name = f"learned-32 {mc.layers}x{mc.filters}"
        loaded[name if name not in loaded else f"{name} ({path})"] = stepper.model
    data_dir = default_data_dir() if data_dir is None else data_dir
    result = accuracy_cost.run(loaded, out, data_dir, seeds, steps, overwrite=overwrite, progress=not quiet,
                               command=_command_line())
    if not quiet:
        click.echo(accuracy_cost.report(result))


COMMANDS: list = [cost, sweep]
