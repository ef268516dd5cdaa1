"""``learned-advection report DIR``: rebuild ``report.md`` of a finished run from its ``metrics.json``.

Each experiment writes ``metrics.json`` (the ``cost`` command: ``cost.json``) with an ``"experiment"``
key naming it in :data:`REPORTS`; the report text is a pure function of those metrics, the experiment
module's ``report(metrics)`` (the figures already sit in ``DIR/figures``), so a report can be rebuilt
after editing the template, or on another machine, without re-running anything.  The demo folder
holds one sub-folder per experiment and a top-level report that links them.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.files import write_text_atomic


# metrics["experiment"] -> the module of learned_advection.experiments whose ``report(metrics)`` writes the
# report (imported only when a report of that experiment is rebuilt)
REPORTS = {
    "advection-1d": "advection_1d",
    "turbulence-2d": "turbulence_2d",
    "deformation-2d": "deformation_2d",
    "ablation-2d": "ablation_2d",
    "sweep-2d": "sweep_2d",
    "accuracy-cost": "accuracy_cost",
    "demo": "demo",
}
# the saved metrics of an output folder: metrics.json, or cost.json for the ``cost`` command
METRICS_FILES = ("metrics.json", "cost.json")


def _metrics_path(folder: Path) -> Path:
    for name in METRICS_FILES:
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder} has no metrics.json (not the output folder of a learned-advection run)")


def _read_metrics(path: Path) -> dict:
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path}: {' '.join(str(e).split())[:200]}") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path} is not a metrics object")
    return metrics


def report_text(metrics: dict, path: Path | str = "metrics.json") -> str:
    """The markdown report of one run, from its metrics (``path``: where they were read, for messages)."""
    experiment = metrics.get("experiment")
    if experiment not in REPORTS:
        raise UserError(f"{path}: unknown experiment {experiment!r}")
    module = importlib.import_module(f"learned_advection.experiments.{REPORTS[experiment]}")
    try:
        return module.report(metrics)
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as e:
        raise UserError(f"{path} lacks what the {experiment} report needs ({type(e).__name__}: {e})") from None


def rebuild(folder) -> Path:
    """Rewrite ``folder/report.md`` (atomically) from the saved metrics (``metrics.json``, or the
    ``cost`` command's ``cost.json``); returns its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    path = _metrics_path(folder)
    text = report_text(_read_metrics(path), path)
    write_text_atomic(folder / "report.md", text)
    return folder / "report.md"
