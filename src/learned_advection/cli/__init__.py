"""Command-line interface: thin wrappers that parse options, call the library and print.

Exit status: 0 success, 1 unexpected internal error, 2 bad input or options (one-line message on
stderr, no traceback), 130 interrupted (Ctrl-C).  Each sub-command lives in its own module of this
package and exports ``COMMANDS``.
"""

from __future__ import annotations

import sys

import click

from learned_advection._version import __version__
from learned_advection.errors import UserError


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(__version__, prog_name="learned-advection")
def cli() -> None:
    """Learned finite-volume advection (Zhuang et al. 2020) and classical baselines, in JAX."""


def _register() -> None:
    import importlib

    for name in ("simulate", "bench", "demo", "learned", "deformation", "turbulence", "report", "stress", "plume"):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:  # a sub-command module not written yet
            if e.name != f"{__name__}.{name}":
                raise
            continue
        for command in module.COMMANDS:
            cli.add_command(command)


_register()


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point with the project's exit-status conventions.

    Returns normally on success; otherwise exits (``SystemExit``) with the status above.
    """
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        # ``obj`` carries the command line, for the ``history`` attribute of output files.
        code = cli.main(args=argv, prog_name="learned-advection", standalone_mode=False, obj={"argv": argv})
    except UserError as e:
        click.echo(f"error: {_one_line(e)}", err=True)
        sys.exit(e.exit_code)
    except click.UsageError as e:  # bad option, missing argument, invalid choice: one line, exit 2
        command = f"{e.ctx.command_path}: " if e.ctx is not None and e.ctx.command_path else ""
        hint = f" (see '{e.ctx.command_path} --help')" if e.ctx is not None else ""
        click.echo(f"error: {command}{_one_line(e.format_message())}{hint}", err=True)
        sys.exit(2)
    except (click.exceptions.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except click.ClickException as e:  # e.g. file errors raised by click types
        click.echo(f"error: {_one_line(e.format_message())}", err=True)
        sys.exit(e.exit_code if e.exit_code else 1)
    except click.exceptions.Exit as e:
        if e.exit_code:
            sys.exit(e.exit_code)
        return
    # standalone_mode=False returns what the command returned; --help / --version return 0.
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)
