"""Helpers every command module shares (a leaf: it imports no other module of ``cli``).

The ``reproduce`` group (its sub-commands live in the experiments' command modules), the provenance
command lines, the ``--data-dir`` option, seed ranges and the turbulence results table.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click


@click.group()
def reproduce() -> None:
    """Reproduce an experiment of the paper end to end (data, training, evaluation, figures, report)."""


def command_line() -> str:
    """The command line of the running CLI invocation as typed (for provenance), shell-quoted."""
    ctx = click.get_current_context(silent=True)
    obj = ctx.find_root().obj if ctx is not None else None
    argv = obj["argv"] if isinstance(obj, dict) and "argv" in obj else sys.argv[1:]
    return "learned-advection " + " ".join(shlex.quote(a) for a in argv)


def reproducible_command_line(skip_defaults: tuple[str, ...] = ()) -> str:
    """The running command with its arguments and every option spelled out (from click's parsed parameters).

    Options named in ``skip_defaults`` are left out when they were not given (they do not apply).
    """
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return "learned-advection " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    words = ["learned-advection"] + ctx.command_path.split()[1:]
    words += [
        shlex.quote(str(ctx.params[p.name]))
        for p in ctx.command.params
        if isinstance(p, click.Argument) and ctx.params.get(p.name) is not None
    ]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None or value is False:
            continue
        if param.name in skip_defaults and ctx.get_parameter_source(param.name) == click.core.ParameterSource.DEFAULT:
            continue
        if value is True:
            words.append(param.opts[0])
        else:  # an option given several times (multiple=True) is spelled once per value
            values = value if param.multiple else (value,)
            words += [f"{param.opts[0]} {shlex.quote(str(v))}" for v in values]
    return " ".join(words)


def log(text: str) -> None:
    """Progress messages of a library call, on stderr."""
    click.echo(text, err=True)


def seeds(text: str | None) -> list[int] | None:
    """The seeds of a ``--test-seeds A-B`` option (``None`` when not given: the library's default)."""
    from learned_advection.experiments.common import parse_seed_range

    return None if text is None else parse_seed_range(text)


def default_data_dir() -> Path:
    """The user cache folder of the reference samples (e.g. ``~/.cache/learned-advection``)."""
    import platformdirs

    return Path(platformdirs.user_cache_dir("learned-advection"))


def data_dir_or_default(path: Path | None) -> Path:
    """The ``--data-dir`` option's folder, or the default one."""
    return default_data_dir() if path is None else path


data_dir_option = click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of the cached reference samples (netCDF, one per seed; generated when missing) "
    "[default: the user cache folder, e.g. ~/.cache/learned-advection].",
)


def print_table(metrics: dict, step: int) -> None:
    """The turbulence results table: MAE, R², blow-up fraction and overshoot of each method at ``step``."""
    from learned_advection.experiments import turbulence_2d as exp

    rows = exp.summary(metrics, step)
    long = next((r["long_steps"] for r in rows if "long_steps" in r), None)
    blow_head = "blow-up" if long is None else f"blow@{long}"
    click.echo(f"{'method':<19}{'MAE@' + str(step):>10}{'R2@' + str(step):>9}{blow_head:>10}{'overshoot':>11}")
    for r in rows:
        blow = r.get("blowup_fraction")
        click.echo(
            f"{r['method']:<19}{r['mae']:>10.4f}{r['r2']:>9.3f}{'-' if blow is None else f'{blow:.2f}':>10}"
            f"{r['max_overshoot']:>11.2e}"
        )
