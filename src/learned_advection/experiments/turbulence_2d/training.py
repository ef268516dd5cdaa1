"""Training a learned model on the preset's training seeds (:func:`train_model`)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from learned_advection.experiments.turbulence_2d.methods import load_trajectories
from learned_advection.experiments.turbulence_2d.presets import EXPERIMENT, Preset


def train_model(
    preset: Preset,
    data_dir,
    out_dir: Path,
    resume: bool = False,
    progress: bool = True,
    train_seed: int | None = None,
    init=None,
    init_from: str | None = None,
):
    """Train on the preset's training seeds (D4-augmented if set); validation on its own seeds.

    ``init``: a trained model to start from (``init_from`` names it in the checkpoint's metadata).

    Parameters
    ----------
    preset : Preset
        Seeds, lengths, model and training settings.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    out_dir : pathlib.Path
        Folder of the ``best/`` and ``last/`` checkpoints.
    resume : bool, default False
        Continue the run in ``out_dir/last``.
    progress : bool, default True
        Show progress bars.
    train_seed : int, optional
        Replaces ``preset.train.seed`` when given.
    init : LearnedModel, optional
        Model to start from.
    init_from : str, optional
        Where ``init`` came from, recorded in the checkpoint.

    Returns
    -------
    TrainResult
        See :func:`~learned_advection.learned.training.train`.
    """
    from learned_advection.learned.training import train

    train_data, _ = load_trajectories(
        preset, data_dir, "train", preset.train_seeds, preset.train_steps, progress, d4=preset.augment, k=preset.k
    )
    val_data, _ = load_trajectories(
        preset,
        data_dir,
        "validation",
        preset.validation_seeds,
        preset.train.validation_steps * preset.k,
        progress,
        k=preset.k,
    )
    config = preset.train if train_seed is None else dataclasses.replace(preset.train, seed=train_seed)
    extra = {
        "experiment": EXPERIMENT,
        "preset": preset.name,
        "train_seeds": list(preset.train_seeds),
        "validation_seeds": list(preset.validation_seeds),
        "d4_augmentation": preset.augment,
        "step_multiple": preset.k,
        "data": {"fine_n": preset.data.fine_n, "coarse_n": preset.data.coarse_n, "coarse_dt": preset.data.coarse_dt},
    }
    if init_from is not None:
        extra["init_from"] = init_from
    return train(
        preset.model,
        train_data,
        val_data,
        config,
        out_dir=out_dir,
        resume=resume,
        progress=progress,
        extra=extra,
        description=f"train {EXPERIMENT} ({preset.name})",
        init=init,
    )
