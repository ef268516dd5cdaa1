"""Griffe extension: turn the Sphinx roles of the docstrings into mkdocstrings cross-references.

``:class:`~a.b.C``` becomes ``[`C`][a.b.C]`` and ``:func:`f``` becomes ``[`f`][f]`` (resolved in the
docstring's own scope, ``scoped_crossrefs`` in mkdocs.yml), so every reference is a link and one to a
name that no longer exists fails ``mkdocs build --strict``.
"""

from __future__ import annotations

import re

import griffe

# a role, and the reST escaped space that may glue a suffix to it (":class:`UserError`\\ s")
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc):`(~?)([\w.]+)`(?:\\ )?")


def _crossref(match: re.Match) -> str:
    short, target = match.group(1), match.group(2)
    title = target.rsplit(".", 1)[-1] if short else target
    return f"[`{title}`][{target}]"


class SphinxRoles(griffe.Extension):
    """Rewrite the roles of every docstring as it is loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(_crossref, obj.docstring.value)
