"""The guide's Python examples on regional domains run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_regional_domain_example_runs_and_closes_its_budget():
    text = (DOCS / "usage.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if "la.Regional(" in b]
    assert len(blocks) == 1
    scope: dict = {}
    exec(compile(blocks[0], "docs/usage.md", "exec"), scope)
    states = scope["states"]
    assert states.c.shape == (5, 64, 64)
    mass = states.c.sum(axis=(1, 2)) / 64**2
    assert abs(float(mass[-1] - mass[0]) - float(states.budget.net()[-1])) <= 1e-6 * float(mass[-1])
