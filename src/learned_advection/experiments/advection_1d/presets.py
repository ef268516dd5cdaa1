"""The 1-D experiment's presets (``Preset``, ``PRESETS``) and its datasets (square waves, Gaussians)."""

from __future__ import annotations

import dataclasses
import functools

from learned_advection.data.netcdf import read_reference
from learned_advection.data.reference import Setup1D, Trajectories, make_dataset_1d, rng_for
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig

NAME = "advection-1d"


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the 1-D experiment: data sizes, model, training settings and test seeds.

    Parameters
    ----------
    n_train : int
        Training initial conditions per shape (square waves, and as many Gaussians for the mixed model).
    n_validation : int
        Held-out validation samples per shape.
    trajectory_steps : int
        Coarse steps per training and validation trajectory.
    eval_steps : int
        Coarse steps evaluated on the test set.
    model : ModelConfig
        The learned model (1-D).
    training : TrainConfig
        Training settings (its seed is replaced by the run's training seed).
    default_test_seeds : tuple of int
        Inclusive ``(first, last)`` range of test seeds.
    """

    n_train: int  # square-wave training initial conditions (the paper: 30)
    n_validation: int  # held-out validation samples (per shape)
    trajectory_steps: int  # coarse steps per training/validation trajectory
    eval_steps: int  # coarse steps evaluated on the test set
    model: ModelConfig
    training: TrainConfig
    default_test_seeds: tuple[int, int]  # inclusive range

    def to_dict(self) -> dict:
        """The fields as a plain ``dict``, model and training settings as their own dicts."""
        d = dataclasses.asdict(self)
        d["model"] = self.model.to_dict()
        d["training"] = self.training.to_dict()
        return d


PRESETS: dict[str, Preset] = {
    # The test suite's end-to-end check: tiny network, few iterations (numbers are not meaningful).
    "smoke": Preset(
        n_train=4,
        n_validation=2,
        trajectory_steps=32,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=2, filters=8),
        training=TrainConfig(steps=20, batch_size=8, unroll=4, eval_every=10, checkpoint_every=10, validation_steps=32),
        default_test_seeds=(1000, 1007),
    ),
    # The demo's 1-D part: the cpu model and data, 1000 iterations.
    "demo": Preset(
        n_train=30,
        n_validation=8,
        trajectory_steps=256,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=4, filters=32, stencil=(4,)),
        training=TrainConfig(
            steps=1000,
            batch_size=32,
            unroll=8,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=100,
            checkpoint_every=500,
            validation_steps=256,
        ),
        default_test_seeds=(1000, 1015),
    ),
    # The paper's setting sized for a CPU (30 squares, 4 x 32 CNN, unroll 8, batch 32) except the stencil:
    # 4 cells across the face instead of the paper's 2 (the comparison: docs/what-we-tried.md).
    "cpu": Preset(
        n_train=30,
        n_validation=16,
        trajectory_steps=256,
        eval_steps=256,
        model=ModelConfig(ndim=1, layers=4, filters=32, stencil=(4,)),
        training=TrainConfig(
            steps=4000,
            batch_size=32,
            unroll=8,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=100,
            checkpoint_every=500,
            validation_steps=256,
        ),
        default_test_seeds=(1000, 1031),
    ),
}


BUILTIN = "builtin-1d"  # the `train` / `evaluate` data source that is this experiment's data


def datasets(purpose: str, seed: int, n_samples: int, n_steps: int, shapes=("square",), setup: Setup1D = Setup1D()):
    """One set of ``n_samples`` reference trajectories per initial shape, drawn in turn from the
    ``(seed, purpose)`` random stream (purpose: train, validation).

    Parameters
    ----------
    purpose : {"train", "validation", "test"}
        Which random stream.
    seed : int
        Seed of the stream.
    n_samples : int
        Trajectories per shape.
    n_steps : int
        Coarse steps per trajectory.
    shapes : sequence of {"square", "gaussian"}, default ("square",)
        Initial shapes, one set each.
    setup : Setup1D, default Setup1D()
        The 1-D problem.

    Returns
    -------
    list of Trajectories
        One set per shape, in the order of ``shapes``.
    """
    rng = rng_for(seed, purpose)
    return [make_dataset_1d(rng, setup, n_samples, n_steps, (shape,)) for shape in shapes]


def training_data(source: str = BUILTIN, seed: int = 0, gaussians: bool = False, log=print):
    """``(training, validation, max_speed)`` for ``learned-advection train --data SOURCE``.

    ``"builtin-1d"``: 30 square waves (validation: 8) of 256 steps from the seed's streams, with
    ``gaussians`` as many Gaussians more.  Otherwise a reference netCDF file
    (:func:`~learned_advection.data.netcdf.read_reference`) whose last ~20% of samples are held out
    (a single trajectory serves for both, with a note to ``log``).

    Parameters
    ----------
    source : str, default "builtin-1d"
        ``"builtin-1d"`` or the path of a reference netCDF file.
    seed : int, default 0
        Seed of the built-in data's training and validation streams.
    gaussians : bool, default False
        Add Gaussians to the built-in data.
    log : Callable, default print
        Receives notes.

    Returns
    -------
    tuple
        ``(training, validation, max_speed)``: two :class:`Trajectories` and the largest speed in the data.
    """
    if source == BUILTIN:
        shapes = ("square", "gaussian") if gaussians else ("square",)
        train_data, val_data = (
            functools.reduce(Trajectories.concat, datasets(purpose, seed, n, 256, shapes))
            for purpose, n in (("train", 30), ("validation", 8))
        )
        return train_data, val_data, 1.0
    data = read_reference(source)
    if data.n_samples < 2:
        log("note: one trajectory only; the validation rollout reuses it")
    return *data.split_validation(), float(max(abs(u).max() for u in data.velocity))
