"""The documentation site (mkdocs.yml, docs/) builds with ``--strict``.

Strict mode turns every warning into a failure: a broken link between pages, a page missing from the
navigation, an API page naming a module that no longer exists, a docstring cross-reference to a
renamed object.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from learned_advection.cli import cli

ROOT = Path(__file__).resolve().parents[2]


def test_site_builds_strict(tmp_path, run_checked):
    run_checked(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            ROOT / "mkdocs.yml",
            "--site-dir",
            tmp_path / "site",
        ],
        "mkdocs build --strict",
    )
    cli_page = (tmp_path / "site" / "cli" / "index.html").read_text()
    missing = [path for path in _command_paths(cli, "learned-advection") if f"Usage: {path} " not in cli_page]
    assert not missing, f"docs/cli.md lacks the help of {missing}"


def _command_paths(command: click.Command, path: str) -> list[str]:
    paths = [path]
    if isinstance(command, click.Group):
        for name, sub in sorted(command.commands.items()):
            paths += _command_paths(sub, f"{path} {name}")
    return paths
