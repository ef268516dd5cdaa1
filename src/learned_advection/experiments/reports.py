"""``learned-advection report DIR``: rebuild ``report.md`` of a finished run from its ``metrics.json``.

Each experiment writes ``metrics.json`` (the ``cost`` command: ``cost.json``; ``transfer``: ``transfer.json``) with an ``"experiment"``
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
    "transfer": "transfer",
    "plume": "plume",
    "demo": "demo",
}
# the saved metrics of an output folder: metrics.json, cost.json for the ``cost`` command, transfer.json for ``transfer``
METRICS_FILES = ("metrics.json", "cost.json", "transfer.json")
MAX_METRICS_BYTES = 256 * 2**20  # a metrics file larger than this is refused unread
# what a report template raises on metrics of the wrong shape (a list where a dict is expected, a
# missing key, a string where a number is formatted, nesting deeper than Python recurses, ...)
MALFORMED = (
    AttributeError,
    LookupError,
    TypeError,
    ValueError,
    ArithmeticError,
    RecursionError,
    StopIteration,
    AssertionError,
    UnicodeError,
)


def _metrics_path(folder: Path) -> Path:
    for name in METRICS_FILES:
        if (folder / name).is_file():
            return folder / name
    raise UserError(f"{folder} has no metrics.json (not the output folder of a learned-advection run)")


def _read_metrics(path: Path) -> dict:
    try:
        size = path.stat().st_size
        if size > MAX_METRICS_BYTES:
            raise UserError(f"cannot read {path}: {size:,} bytes, more than a metrics file's {MAX_METRICS_BYTES:,}")
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as e:  # ValueError: bad JSON, huge integers
        message = " ".join(str(e).split())[:200] or type(e).__name__
        raise UserError(f"cannot read {path}: {message}") from None
    if not isinstance(metrics, dict):
        raise UserError(f"{path} is not a metrics object")
    return metrics


def report_text(metrics: dict, path: Path | str = "metrics.json") -> str:
    """The markdown report of one run, from its metrics (``path``: where they were read, for messages).

    Parameters
    ----------
    metrics : dict
        Saved metrics; ``metrics["experiment"]`` must be a key of :data:`REPORTS`.
    path : pathlib.Path or str, default "metrics.json"
        Where the metrics were read, for error messages.

    Returns
    -------
    str
        The report in Markdown.

    Raises
    ------
    UserError
        If the experiment is unknown or the metrics lack what its report needs.
    """
    experiment = metrics.get("experiment")
    if not isinstance(experiment, str) or experiment not in REPORTS:
        shown = repr(experiment) if len(repr(experiment)) <= 60 else repr(experiment)[:57] + "..."
        raise UserError(f"{path}: unknown experiment {shown}")
    module = importlib.import_module(f"learned_advection.experiments.{REPORTS[experiment]}")
    try:
        text = module.report(metrics)
    except MALFORMED as e:
        detail = " ".join(str(e).split())[:120]
        raise UserError(
            f"{path} lacks what the {experiment} report needs or has it in another form "
            f"({type(e).__name__}{': ' + detail if detail else ''})"
        ) from None
    if not isinstance(text, str):
        raise UserError(f"{path}: the {experiment} report could not be built from these metrics")
    return text


def rebuild(folder) -> Path:
    """Rewrite ``folder/report.md`` (atomically) from the saved metrics (``metrics.json``, or the
    ``cost`` command's ``cost.json``); returns its path.

    Parameters
    ----------
    folder : str or os.PathLike
        Output folder of a run; the first of :data:`METRICS_FILES` found in it is read.

    Returns
    -------
    pathlib.Path
        ``folder/report.md``.

    Raises
    ------
    UserError
        If ``folder`` is not a folder, has no readable metrics, or they do not make a report.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder} is not a folder")
    path = _metrics_path(folder)
    text = report_text(_read_metrics(path), path)
    write_text_atomic(folder / "report.md", text)
    return folder / "report.md"
