"""Command-line interface: thin wrappers that parse options, call the library and print.

Exit status: 0 success, 1 unexpected internal error, 2 bad input or options (one-line message on
stderr), 130 interrupted (Ctrl-C).  Each sub-command lives in its own module of this package.
"""

from __future__ import annotations

import sys

import click

from ..errors import UserError
from .. import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="learned-advection")
def cli() -> None:
    """Learned finite-volume advection (Zhuang et al. 2020) and classical baselines, in JAX."""


def _register() -> None:
    import importlib

    for name in ("simulate", "bench", "demo", "learned", "deformation", "turbulence"):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:  # a sub-command module not written yet
            if e.name != f"{__name__}.{name}":
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point with the project's exit-status conventions."""
    try:
        cli.main(args=argv, prog_name="learned-advection", standalone_mode=False)
    except UserError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
