"""``learned-advection bench``: time the schemes (a thin wrapper around the benchmark modules of
:mod:`learned_advection.evaluation`)."""

from __future__ import annotations

import json

import click

# bench --cpu-devices: at most this many host devices (checked before JAX starts); 64 take ~17 s with
# --shard --quick on 2 cores, and the time grows faster than the device count
MAX_CPU_DEVICES = 64


@click.command("bench")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON on stdout.")
@click.option("--quick", is_flag=True, help="Fewer sizes, steps and repeats (a few seconds).")
@click.option("--x64", is_flag=True, help="Time float64 instead of float32.")
@click.option(
    "--paper-vs-vanleer",
    "paper",
    is_flag=True,
    help="Only the paper's speed comparison: its 10x128 model at 32^2 vs Van Leer at 128^2 over the same "
    "simulated time, batches 1/8/64, on JAX's default device (the GPU check; --quick: batches 1/2).",
)
@click.option(
    "--tracers",
    type=int,
    default=None,
    metavar="N",
    help="Only `simulate` with N tracers in one run against N runs of one tracer: Van Leer, 128^2 cells, "
    "300 steps (--quick: 32^2, 40 steps); wall time per tracer, end to end and compiled steps only. "
    "With --shard: the sharded runs over a batch of N tracers (N up to 16).",
)
@click.option(
    "--shard",
    is_flag=True,
    help="Only a grid split over all JAX devices: Van Leer at 1024^2 (--quick: 256^2), 20 steps, by halo "
    "exchange and by SPMD placement, against one device; time per step and largest difference. The grid is "
    "the nearest one the devices' mesh divides (1023^2 on 3 devices; a note on stderr says so).",
)
@click.option(
    "--vs-jax-cfd",
    "versus",
    is_flag=True,
    help="Only 2-D Van Leer against jax-cfd's advect_van_leer at 128^2 and 256^2 (--quick: 64^2): velocity a "
    "runtime input, closed over, and (ours) prepared once as a steady run does.",
)
@click.option(
    "--kernels",
    is_flag=True,
    help="With --vs-jax-cfd: also where the time goes, microseconds per step in each compiled kernel (XLA's "
    "per-kernel trace events, CPU) of ours (steady) and jax-cfd's (velocity closed over), and how many "
    "threads ran them.",
)
@click.option(
    "--learned",
    "learned",
    is_flag=True,
    help="Only the learned stepper at 32^2: networks from 1x8 to the paper's 10x128, and 4x32 with each "
    "inference option and large step (FFSL at 4 and 8 coarse steps, with and without FCT), per sample at "
    "batch 1 and 16, with GFLOP/s and the share of the matmul peak measured in the same run.",
)
@click.option(
    "--cpu-devices",
    type=click.IntRange(1, MAX_CPU_DEVICES),
    default=None,
    metavar="N",
    help=f"Split the CPU into N JAX devices first, N from 1 to {MAX_CPU_DEVICES} (to try --shard on one machine).",
)
def bench(
    as_json: bool,
    quick: bool,
    x64: bool,
    paper: bool,
    tracers: int | None,
    shard: bool,
    versus: bool,
    kernels: bool,
    learned: bool,
    cpu_devices: int | None,
) -> None:
    """Microseconds per step and million cell updates per second for each scheme (median of jitted runs)."""
    from learned_advection.numerics.precision import use_x64

    if kernels and not versus:
        raise click.UsageError("--kernels needs --vs-jax-cfd")
    if x64:
        use_x64()  # before any array is created
    if cpu_devices is not None:
        from learned_advection.numerics.sharding import use_cpu_devices

        use_cpu_devices(cpu_devices)  # before JAX starts
    if shard:
        from learned_advection.evaluation import sharded_bench

        report = sharded_bench.bench_sharded(n=256 if quick else 1024, repeats=2 if quick else 3, tracers=tracers)
        if report["n"] != report["n_wanted"]:
            mesh = " x ".join(f"{k} ({a})" for a, k in report["mesh"].items())
            click.echo(
                f"bench --shard: {report['n']}^2 cells instead of {report['n_wanted']}^2, so that the mesh "
                f"{mesh} divides the grid",
                err=True,
            )
        if report["mesh_note"] is not None:
            click.echo(f"bench --shard: {report['mesh_note']}", err=True)
        click.echo(json.dumps(report, indent=2) if as_json else sharded_bench.format_sharded(report))
        return
    if tracers is not None:
        from learned_advection.evaluation import tracer_bench

        report = tracer_bench.tracer_benchmark(tracers, *((32, 40) if quick else (128, 300)))
        click.echo(json.dumps(report, indent=2) if as_json else tracer_bench.format_tracer_benchmark(report))
        return
    from learned_advection.evaluation import bench_report, learned_bench, scheme_bench, vs_jax_cfd

    if paper:
        from learned_advection.experiments.turbulence_2d import PRESETS

        report = learned_bench.paper_model_vs_vanleer(
            PRESETS["paper"].model,
            batches=(1, 2) if quick else (1, 8, 64),
            repeats=3 if quick else 5,
            coarse_steps=2 if quick else 8,
        )
        click.echo(json.dumps(report, indent=2) if as_json else learned_bench.format_paper_comparison(report))
        return

    progress = None if as_json else (lambda r: click.echo(scheme_bench.format_progress(r), err=True))
    if learned:
        report = learned_bench.learned_only(
            quick=quick,
            progress=None if as_json else (lambda r: click.echo(learned_bench.format_learned_progress(r), err=True)),
        )
    elif versus:
        report = vs_jax_cfd.vanleer_vs_jax_cfd(quick=quick, progress=progress, kernels=kernels)
    else:
        report = bench_report.run(quick=quick, progress=progress)
    if as_json:
        click.echo(json.dumps(report, indent=2))
    else:
        click.echo(bench_report.format_table(report))


COMMANDS = [bench]
