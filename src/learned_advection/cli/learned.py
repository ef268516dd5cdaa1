"""``reproduce advection-1d``, ``train`` and ``evaluate``: thin wrappers around the learned-model pieces."""

from __future__ import annotations

from pathlib import Path

import click

from learned_advection.cli._common import (
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
TEST_SEEDS_LIMIT = "at most 10000 seeds, each below 2^32"


@reproduce.command("advection-1d", short_help="1-D advection of square waves (paper Sec. III A, Figs. 2-4).")
@click.option(
    "--preset", type=click.Choice(["smoke", "demo", "cpu"]), default="cpu", show_default=True, help="Size of the run."
)
@click.option("--out", "out", type=click.Path(path_type=Path), default=Path("runs/advection-1d"), help="Output folder.")
@click.option(
    "--test-seeds",
    default=None,
    help=f"Inclusive range A-B of test seeds (one sample each; {TEST_SEEDS_LIMIT}) [preset's default].",
)
@click.option(
    "--train-seed",
    "--seed",
    "train_seed",
    type=SEED,
    default=0,
    help="Seed of the training data, initialisation and batch order.",
)
@click.option(
    "--resume",
    is_flag=True,
    help="Continue an interrupted run in OUT: its trainings continue from OUT/model/last and "
    "OUT/model-gaussians/last (same result as an uninterrupted run).",
)
@click.option("--overwrite", is_flag=True, help="Replace the results in a non-empty output folder.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def advection_1d(preset, out, test_seeds, train_seed, resume, overwrite, quiet) -> None:
    """1-D constant-velocity advection of square waves (paper Sec. III A, Figs. 2-4)."""
    from learned_advection.experiments import advection_1d as exp

    m = exp.run(
        preset,
        out,
        seeds(test_seeds),
        train_seed,
        overwrite,
        quiet,
        reproducible_command_line(),
        log=log,
        resume=resume,
    )
    s = m["summary"]
    key = next(k for k in s if k.startswith("mean_mae_steps"))
    for name, v in s[key].items():
        click.echo(f"{name:<12} mean MAE {v:.3e}")
    click.echo(f"vanleer-32 / learned-32: {s['ratio_vanleer_over_learned']:.2f}")
    click.echo(
        f"Gaussians, vanleer-32 / learned-32 (squares+gaussians model): "
        f"{m['gaussian_test']['summary']['ratio_vanleer_over_learned']:.2f}"
    )


@click.command("train")
@click.option(
    "--data",
    "data_path",
    default="builtin-1d",
    help="Reference trajectories: a netCDF file (concentration(time, x) or (sample, time, x), x_velocity, "
    "coords x, time) or 'builtin-1d' (30 square waves, VL-256 -> 32).",
)
@click.option(
    "--out", "out", type=click.Path(path_type=Path), required=True, help="Checkpoint folder (best/ and last/)."
)
@click.option("--steps", type=int, default=3000, help="Training iterations.")
@click.option("--resume", is_flag=True, help="Continue from OUT/last (same result as an uninterrupted run).")
@click.option("--seed", type=SEED, default=0, help="Seed of initialisation, batch order (and built-in data).")
@click.option("--unroll", type=int, default=8, help="Steps unrolled in the loss.")
@click.option("--batch-size", type=int, default=32)
@click.option("--lr", type=float, default=1e-3, help="Initial learning rate (cosine decay to 1e-5).")
@click.option("--loss", type=click.Choice(["mae", "mse"]), default="mae")
@click.option("--layers", type=int, default=4)
@click.option("--filters", type=int, default=32)
@click.option("--gaussians", is_flag=True, help="builtin-1d: add 30 Gaussian initial conditions.")
@click.option(
    "--data-parallel",
    is_flag=True,
    help="Split every batch over all JAX devices (batch size a multiple of their number).",
)
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_cmd(
    data_path, out, steps, resume, seed, unroll, batch_size, lr, loss, layers, filters, gaussians, data_parallel, quiet
) -> None:
    """Train a learned-interpolation model on reference trajectories; the best checkpoint is OUT/best."""
    from learned_advection.experiments.advection_1d import training_data
    from learned_advection.learned.config import ModelConfig
    from learned_advection.learned.training import TrainConfig, train

    if out.exists() and (out / "last").exists() and not resume:
        raise UserError(f"{out} already holds a training run; pass --resume to continue it or choose another --out")
    try:  # the options, before any data is read or generated (a NaN learning rate passes "<= 0")
        TrainConfig(steps=steps, batch_size=batch_size, unroll=unroll, learning_rate=lr, loss=loss, seed=seed)
    except ValueError as e:
        raise UserError(str(e)) from None
    train_data, val_data, max_speed = training_data(data_path, seed, gaussians, log=log)
    try:
        mc = ModelConfig(
            ndim=train_data.grid.ndim,
            layers=layers,
            filters=filters,
            stencil=(2,) if train_data.grid.ndim == 1 else (2, 3),
        )
        tc = TrainConfig(
            steps=steps,
            batch_size=batch_size,
            unroll=unroll,
            learning_rate=lr,
            loss=loss,
            seed=seed,
            validation_steps=min(256, val_data.n_steps),
        )
    except ValueError as e:
        raise UserError(str(e)) from None
    res = train(
        mc,
        train_data,
        val_data,
        tc,
        out,
        resume=resume,
        progress=not quiet,
        extra={"data": str(data_path), "max_speed": max_speed},
        data_parallel=data_parallel,
    )
    click.echo(
        f"best step {res.best_step}: validation MAE {res.best_validation:.4e} ({res.seconds:.0f} s); model in {out / 'best'}"
    )


@click.command("evaluate")
@click.option(
    "--model",
    "model_path",
    required=True,
    help="Checkpoint folder, or 'pretrained' for the turbulence model shipped with the package.",
)
@click.option(
    "--data", "data_path", default="builtin-1d", help="A netCDF reference file or 'builtin-1d' (square-wave test set)."
)
@click.option(
    "--test-seeds",
    default=None,
    help=f"Inclusive seed range A-B, one sample each ({TEST_SEEDS_LIMIT}) "
    "[builtin-1d: 1000-1031; turbulence-2d: 1000-1003].",
)
@click.option("--steps", type=int, default=256, help="Steps to evaluate (at most the reference length).")
@click.option("--shape", type=click.Choice(["square", "gaussian"]), default="square", help="builtin-1d: initial shape.")
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="turbulence-2d: also write metrics.json, figures and report.md here.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="turbulence-2d: cache folder of the reference samples [user cache folder].",
)
@click.option("--overwrite", is_flag=True, help="turbulence-2d: replace results in a non-empty --out folder.")
@click.option(
    "--long-steps",
    type=int,
    default=0,
    show_default=True,
    help="turbulence-2d: also roll out this many steps and report blow-ups / checkerboarding (0: skip).",
)
@click.option(
    "--variants",
    default="plain",
    show_default=True,
    help="turbulence-2d: inference variants of the same weights, comma-separated from "
    "plain (the model as saved, with the limiter it ships with), unguarded (no limiter), safeguard (a hybrid's "
    "correction limited against its base step), fct (bounded fluxes), d4 (symmetry average), d4+fct, bf16 "
    "(network in bfloat16).",
)
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.argument("experiment", required=False, type=click.Choice(["turbulence-2d"]))
def evaluate_cmd(
    model_path, data_path, test_seeds, steps, shape, out, data_dir, overwrite, long_steps, variants, quiet, experiment
) -> None:
    """Print MAE vs the reference for the model and classical schemes.

    Without EXPERIMENT: on --data (a netCDF reference or the built-in 1-D test set).  With
    EXPERIMENT = turbulence-2d: on fresh pyqg-jax turbulence test seeds against Van Leer / PPM at 32-128.
    """
    if steps < 1:
        raise UserError(f"--steps must be a positive integer, got {steps}")
    if experiment == "turbulence-2d":
        from learned_advection.experiments import turbulence_2d as exp

        if long_steps < 0:
            raise UserError(f"--long-steps must be 0 or positive, got {long_steps}")
        metrics = exp.evaluate_checkpoint(
            model_path,
            seeds(test_seeds),
            steps,
            data_dir_or_default(data_dir),
            out=out,
            overwrite=overwrite,
            progress=not quiet,
            command=reproducible_command_line(skip_defaults=("data_path", "shape")),
            long_steps=long_steps,
            variants=exp.parse_variants(variants),
        )
        print_table(metrics, steps)
        if out is not None:
            click.echo(f"results in {out}/ (report.md, metrics.json, figures/)")
        return
    if long_steps or variants != "plain":
        raise UserError("--long-steps and --variants apply to `evaluate turbulence-2d` only")
    from learned_advection.evaluation.metrics import mean_over_steps
    from learned_advection.experiments.advection_1d import evaluate_checkpoint

    result = evaluate_checkpoint(model_path, data_path, seeds(test_seeds), steps, shape)
    steps = result["steps"]
    marks = [s for s in (1, 16, 64, 128, 256, 512, 1024) if s <= steps]
    click.echo(f"{'method':<14}" + "".join(f"{'step ' + str(s):>12}" for s in marks) + f"{'mean 1-' + str(steps):>14}")
    for name, curve in result["methods"].items():
        mae = curve["mae"]
        click.echo(f"{name:<14}" + "".join(f"{mae[s]:>12.3e}" for s in marks) + f"{mean_over_steps(mae, 1):>14.3e}")


COMMANDS = [reproduce, train_cmd, evaluate_cmd]
