"""Training a learned model on random flows (:func:`train_model`), with the classical schemes' validation errors."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from learned_advection.experiments.deformation_2d.presets import EXPERIMENT, Preset
from learned_advection.experiments.deformation_2d.training_data import data_description, make_training_data
from learned_advection.numerics import schemes


def train_model(
    preset: Preset,
    out_dir: Path | None,
    progress: bool = True,
    train_seed: int | None = None,
    log=None,
    resume: bool = False,
):
    """Train on random flows only (D4-augmented if set); validation on held-out random flows.

    Parameters
    ----------
    preset : Preset
        Data, model and training settings.
    out_dir : pathlib.Path or None
        Folder of the ``best/`` and ``last/`` checkpoints; ``None`` writes nothing.
    progress : bool, default True
        Show a progress bar.
    train_seed : int, optional
        Seed of the training data and of the training; ``None`` (default): data seed 0 and the preset's training seed.
    log : Callable, optional
        Receives a message about the training data.
    resume : bool, default False
        Continue the run in ``out_dir/last``.

    Returns
    -------
    tuple
        ``(result, config, data_seconds, baselines)``: the :class:`~learned_advection.learned.training.TrainResult`,
        the training settings used, the seconds spent making the data, and the validation error of Van Leer,
        PPM and WENO5-Z on the same validation set.
    """
    from learned_advection.learned.training import train, validation_error

    seed = 0 if train_seed is None else int(train_seed)
    t0 = time.perf_counter()
    train_data = make_training_data(preset, "train", preset.train_samples, seed, d4=preset.augment)
    val_data = make_training_data(preset, "validation", preset.validation_samples, 0)
    data_seconds = time.perf_counter() - t0
    if log:
        log(
            f"training data: {train_data.n_samples} trajectories x {train_data.n_steps} steps at "
            f"{preset.train_n}^2 ({data_seconds:.0f} s)"
        )
    config = preset.train if train_seed is None else dataclasses.replace(preset.train, seed=seed)
    extra = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        "training_flows": "random sinusoidal, never deformational",
        "data": data_description(preset, seed),
    }
    result = train(
        preset.model,
        train_data,
        val_data,
        config,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        extra=extra,
        description=f"train {EXPERIMENT} ({preset.name})",
    )
    baselines = {
        f"{name}-{preset.train_n}": validation_error(schemes.scheme(name), val_data, config.validation_steps)
        for name in ("vanleer", "ppm", "weno5z")
    }
    return result, config, data_seconds, baselines
