"""The architecture contracts of ``[tool.importlinter]`` in pyproject.toml hold (docs/architecture.md).

The layers contract also rules out import cycles between sub-packages, and ``acyclic_siblings`` cycles
between the modules inside each one, so no separate cycle test is needed.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept(run_checked):
    lint_imports = Path(sys.executable).parent / "lint-imports"
    run_checked(
        [lint_imports, "--no-cache", "--no-logo", ROOT / "pyproject.toml"], "lint-imports (broken contracts)", 120
    )
