"""``learned-advection report DIR``: rebuild ``report.md`` of a finished run from its ``metrics.json``.

Each experiment writes ``metrics.json`` with an ``"experiment"`` key; the report text is a pure
function of those metrics (the figures already sit in ``DIR/figures``), so a report can be rebuilt
after editing the template, or on another machine, without re-running anything.  The demo folder
holds one sub-folder per experiment and a top-level report that links them.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

from learned_advection.errors import UserError


def _read_metrics(folder: Path) -> dict:
    path = folder / "metrics.json"
    if not path.is_file():
        raise UserError(f"{folder} has no metrics.json (not the output folder of a learned-advection run)")
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UserError(f"cannot read {path}: {' '.join(str(e).split())[:200]}") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path} is not a metrics object")
    return metrics


def report_text(metrics: dict, folder: Path) -> str:
    """The markdown report of one run, from its metrics."""
    experiment = metrics.get("experiment")
    try:
        if experiment == "advection-1d":
            from learned_advection.experiments import advection_1d

            return advection_1d.report(metrics)
        if experiment == "turbulence-2d":
            from learned_advection.experiments import turbulence_2d as t

            name = metrics.get("preset", "cpu")
            preset = t.PRESETS.get(name, t.PRESETS["cpu"])
            first = next(iter(metrics["methods"].values()))
            long = first.get("long", {}).get("steps", 0)
            preset = dataclasses.replace(preset, test_steps=len(first["step"]) - 1, long_steps=long)
            return t.report(metrics, preset)
        if experiment == "deformation-2d":
            from learned_advection.experiments import deformation_2d as d

            return d.report(metrics, d.PRESETS[metrics.get("preset", "cpu")])
        if experiment == "ablation-2d":
            from learned_advection.experiments import ablation_2d

            return ablation_2d.report(metrics)
        if experiment == "sweep-2d":
            from learned_advection.experiments import sweep_2d

            return sweep_2d.report(metrics)
        if experiment == "demo":
            from learned_advection.experiments import demo

            return demo.report(metrics, folder)
    except (KeyError, TypeError, ValueError, IndexError, StopIteration) as e:
        raise UserError(f"{folder / 'metrics.json'} lacks what the {experiment} report needs ({type(e).__name__}: {e})") from None
    raise UserError(f"{folder / 'metrics.json'}: unknown experiment {experiment!r}")


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None
    finally:
        if tmp.exists():
            tmp.unlink()


def rebuild(folder) -> Path:
    """Rewrite ``folder/report.md`` (atomically) from ``folder/metrics.json``; returns its path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    text = report_text(_read_metrics(folder), folder)
    write_text_atomic(folder / "report.md", text)
    return folder / "report.md"
