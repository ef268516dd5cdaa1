"""``reproduce turbulence-2d``: :func:`run`, data to report in one output folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.experiments.turbulence_2d.evaluation import evaluate
from learned_advection.experiments.turbulence_2d.presets import EXPERIMENT, PRESETS, grid
from learned_advection.experiments.turbulence_2d.reporting import OUTPUTS, public_metrics, write_outputs
from learned_advection.experiments.turbulence_2d.training import train_model


def run(
    preset_name: str,
    out,
    data_dir,
    overwrite: bool = False,
    resume: bool = False,
    quiet: bool = False,
    command: str = "",
    test_seeds=None,
    train_seed: int | None = None,
    log=print,
    init_from: str | None = None,
) -> dict:
    """``reproduce turbulence-2d``: data, training, evaluation, figures and report in ``out``.

    ``init_from`` (a checkpoint folder or ``"pretrained"``) starts training from that model; the
    fine-tuning presets require it.

    Parameters
    ----------
    preset_name : str
        A key of :data:`PRESETS`.
    out : str or os.PathLike
        Output folder (``model/``, ``metrics.json``, ``report.md``, ``figures/``).
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    overwrite : bool, default False
        Replace the experiment's outputs in a non-empty ``out``.
    resume : bool, default False
        Continue the training in ``out/model/last``.
    quiet : bool, default False
        No progress bars and no messages.
    command : str, default ""
        The command line, recorded in the metrics.
    test_seeds : sequence of int, optional
        Test sample seeds; ``None`` (default) uses the preset's.
    train_seed : int, optional
        Replaces the preset's training seed when given.
    log : Callable, default print
        Receives the progress messages.
    init_from : str, optional
        Checkpoint folder or ``"pretrained"`` to start training from.

    Returns
    -------
    dict
        The metrics written to ``metrics.json``: the evaluation (see :func:`evaluate`), provenance and
        ``training`` (iterations, time, best step and validation error, history, settings).

    Raises
    ------
    UserError
        If the preset is unknown, there is nothing to resume, ``init_from`` is missing for a fine-tuning
        preset or does not match it, or the output folder is refused.
    """
    import time

    if preset_name not in PRESETS:
        raise UserError(f"unknown preset {preset_name!r}; choose one of {', '.join(PRESETS)}")
    preset = PRESETS[preset_name]
    out = Path(out)
    if resume and not any((out / "model" / name).exists() for name in ("last", "last.old")):
        raise UserError(f"nothing to resume: {out / 'model'} has no last/ checkpoint")
    init = None
    if preset.needs_init and init_from is None:
        raise UserError(f"--preset {preset.name} fine-tunes a trained model: give --init-from DIR|pretrained")
    if init_from is not None:
        from learned_advection.learned.checkpoint import check_grid, load_model

        init_from = str(init_from)
        init, init_config = load_model(init_from)
        check_grid(init_config, grid(preset), init_from)
        if dataclasses.replace(init.config, max_courant=preset.model.max_courant) != preset.model:
            raise UserError(f"--init-from {init_from}: its model settings differ from the {preset.name} preset's")
        if init.config != preset.model:  # a curriculum in k: the same network, trained on at a longer step
            from learned_advection.learned.models import with_options

            init = with_options(init, max_courant=preset.model.max_courant)
    prepare_output(out, overwrite, OUTPUTS, resume)
    say = (lambda *a: None) if quiet else log
    t0 = time.perf_counter()
    result = train_model(
        preset,
        data_dir,
        out / "model",
        resume=resume,
        progress=not quiet,
        train_seed=train_seed,
        init=init,
        init_from=init_from,
    )
    say(
        f"trained {preset.train.steps} iterations in {result.seconds:.0f} s "
        f"(best validation MAE {result.best_validation:.4f} at iteration {result.best_step})"
    )
    evaluation = evaluate(result.model, preset, data_dir, test_seeds, progress=not quiet)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        **provenance(command),
        **public_metrics(evaluation),
        "training": {
            "iterations": preset.train.steps,
            "seconds": result.seconds,
            "best_step": result.best_step,
            "best_validation": result.best_validation,
            "history": result.history,
            "model": preset.model.to_dict(),
            "config": preset.train.to_dict(),
            "d4_augmentation": preset.augment,
            "init_from": init_from,
        },
        "seconds_total": time.perf_counter() - t0,
    }
    write_outputs(out, metrics, evaluation, preset, result.model)
    return metrics
