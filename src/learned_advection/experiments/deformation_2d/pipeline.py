"""``reproduce deformation-2d``: :func:`run`, training to report in one output folder."""

from __future__ import annotations

import time
from pathlib import Path

from learned_advection.experiments.deformation_2d.evaluation import evaluate
from learned_advection.experiments.deformation_2d.presets import EXPERIMENT, PERIOD, PRESETS
from learned_advection.experiments.deformation_2d.reporting import write_outputs
from learned_advection.experiments.deformation_2d.training import train_model
from learned_advection.experiments.deformation_2d.training_data import data_description


def run(
    preset_name: str,
    out,
    overwrite: bool = False,
    quiet: bool = False,
    command: str = "",
    train_seed: int | None = None,
    log=print,
    resume: bool = False,
) -> dict:
    """``reproduce deformation-2d``: training data, training, evaluation, figures and report in ``out``.

    Parameters
    ----------
    preset_name : str
        A key of :data:`PRESETS`.
    out : str or os.PathLike
        Output folder (``model/``, ``metrics.json``, ``report.md``, ``figures/``).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    train_seed : int, optional
        Seed of the training data and of the training (see :func:`train_model`).
    log : Callable, default print
        Receives the progress messages.
    resume : bool, default False
        Continue the training in ``out/model/last``.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: the evaluation per method, the test settings and ``training``.

    Raises
    ------
    UserError
        If the preset is unknown or the output folder is refused.
    """
    from learned_advection.errors import UserError
    from learned_advection.experiments.common import prepare_output, provenance

    if preset_name not in PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    out = Path(out)
    prepare_output(out, overwrite, ("model", "metrics.json", "report.md", "figures"), resume)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    result, config, data_seconds, val_baselines = train_model(
        preset, out / "model", progress=not quiet, train_seed=train_seed, log=say, resume=resume
    )
    say(
        f"trained {config.steps} iterations (best validation MAE {result.best_validation:.4g} at {result.best_step}) "
        f"in {result.seconds:.0f} s"
    )
    evaluation = evaluate(result.model, preset, progress=not quiet, log=say)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        **provenance(command),
        "period": PERIOD,
        "periods": preset.periods,
        "n": preset.test_n,
        "dt": preset.dt,
        "steps_per_period": preset.steps_per_period,
        "methods": evaluation["methods"],
        "training": {
            "iterations": config.steps,
            "seconds": result.seconds,
            "data_seconds": data_seconds,
            "best_step": result.best_step,
            "best_validation": result.best_validation,
            "validation_classical": val_baselines,
            "history": result.history,
            "model": preset.model.to_dict(),
            "config": config.to_dict(),
            "data": data_description(preset, 0 if train_seed is None else train_seed),
        },
        "seconds_total": time.perf_counter() - t0,
    }
    write_outputs(out, metrics, evaluation, preset)
    return metrics
