"""mkdocs hook: fill docs/cli.md with the ``--help`` text of every command, taken from click itself.

The page holds the marker ``<!-- cli-reference -->``; this hook replaces it with one section per command
(groups first, then their sub-commands), so the reference cannot drift from the options the code accepts.
"""

from __future__ import annotations

from collections.abc import Iterator

import click
from mkdocs.exceptions import PluginError

MARKER = "<!-- cli-reference -->"
WIDTH = 100


def _sections(command: click.Command, ctx: click.Context) -> Iterator[str]:
    yield f"## `{ctx.command_path}`\n\n```text\n{command.get_help(ctx)}\n```\n"
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _sections(sub, click.Context(sub, info_name=name, parent=ctx))


def on_page_markdown(markdown: str, page, **kwargs) -> str:
    if page.file.src_uri != "cli.md":
        return markdown
    if MARKER not in markdown:
        raise PluginError(f"docs/cli.md lost its {MARKER} marker")
    from learned_advection.cli import cli

    root = click.Context(
        cli, info_name="learned-advection", terminal_width=WIDTH, max_content_width=WIDTH, **cli.context_settings
    )
    return markdown.replace(MARKER, "\n".join(_sections(cli, root)))
