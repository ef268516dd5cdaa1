"""The deformational-flow experiment's constants and recipes: :class:`Preset` and the named :data:`PRESETS`."""

from __future__ import annotations

import dataclasses
import math

from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig

EXPERIMENT = "deformation-2d"
PERIOD = 5.0
CENTRE = (0.25, 0.25)
RADIUS = 0.25
PURPOSES = {"train": 0, "validation": 1}


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the deformational-flow experiment: training data, model, training and test settings.

    Parameters
    ----------
    name : str
        Preset name (a key of :data:`PRESETS`).
    model : ModelConfig
        The learned model (2-D).
    train : TrainConfig
        Training settings.
    test_n : int, default 64
        Test grid size on ``[0, 1]^2``.
    train_n : int, default 32
        Training grid size.
    train_length : float, default 0.5
        Side of the periodic training box; ``train_length / train_n`` must equal ``1 / test_n``.
    factor : int, default 4
        Reference resolution factor and sub-steps per coarse step.
    train_samples : int, default 32
        Training trajectories before D4 augmentation.
    validation_samples : int, default 4
        Validation trajectories.
    train_steps : int, default 64
        Coarse steps per training trajectory.
    periods : int, default 2
        Flow periods of the test.
    save_every : int, default 8
        Coarse steps between saved test states; must divide half a period.
    amplitude : tuple of float, default (0.25, 1.0)
        Range of the uniform ``max|u|`` of each training flow.
    kmax : int, default 4
        Largest wavenumber of the training flows.
    cfl : float, default 0.5
        Courant number at ``max|u| = 1``; sets ``dt``.
    augment : bool, default True
        Add the 8 D4 images of every training trajectory.

    Raises
    ------
    ValueError
        If the training and test grid spacings differ or ``save_every`` does not divide half a period.
    """

    name: str
    model: ModelConfig
    train: TrainConfig
    test_n: int = 64  # coarse test grid on [0, 1]^2
    train_n: int = 32  # coarse training grid (cells per side) ...
    train_length: float = 0.5  # ... on a periodic box of this side; its dx must equal the test's
    factor: int = 4  # reference resolution (and sub-steps per coarse step)
    train_samples: int = 32  # before D4 augmentation
    validation_samples: int = 4
    train_steps: int = 64  # coarse steps per training trajectory
    periods: int = 2
    save_every: int = 8  # coarse steps between saved states of the deformational runs
    amplitude: tuple[float, float] = (0.25, 1.0)  # max|u| of a training flow ~ U[a, b]
    kmax: int = 4
    cfl: float = 0.5
    augment: bool = True

    def __post_init__(self):
        if not math.isclose(self.train_length / self.train_n, 1.0 / self.test_n, rel_tol=1e-12):
            raise ValueError("training and test grids must share the grid spacing")
        if self.steps_per_period % 2 or (self.steps_per_period // 2) % self.save_every:
            raise ValueError("save_every must divide half a period of coarse steps")

    @property
    def dx(self) -> float:
        """Cell width of the test (and training) grid, ``1 / test_n``."""
        return 1.0 / self.test_n

    @property
    def dt(self) -> float:
        """Coarse time step, ``cfl * dx`` (``max|u| = 1``)."""
        return self.cfl * self.dx / 1.0  # max|u| = 1 on both the training flows and the deformational flow

    @property
    def steps_per_period(self) -> int:
        """Coarse steps per flow period ``T / dt``; ``ValueError`` if that is not a whole number."""
        n = PERIOD / self.dt
        if abs(n - round(n)) > 1e-9:
            raise ValueError(f"T / dt = {n} is not an integer")
        return int(round(n))


def _model(layers, filters, stencil=(4, 5), velocity_input="courant"):
    return ModelConfig(ndim=2, layers=layers, filters=filters, stencil=stencil, velocity_input=velocity_input)


PRESETS: dict[str, Preset] = {
    # tiny end-to-end check for the test suite: 16^2 test grid, training on 16^2 / 64^2 fine
    "smoke": Preset(
        "smoke",
        _model(2, 8, (2, 3)),
        TrainConfig(steps=4, batch_size=2, unroll=2, eval_every=2, checkpoint_every=4, validation_steps=8),
        test_n=16,
        train_n=16,
        train_length=1.0,
        train_samples=2,
        validation_samples=1,
        train_steps=8,
        periods=2,
        save_every=4,
        augment=True,
    ),
    # sized for 2 CPU cores: training box [0, 1/2]^2 at 32^2 (same dx and dt as the 64^2 test)
    "cpu": Preset(
        "cpu",
        _model(4, 32, (4, 5)),
        TrainConfig(
            steps=1000,
            batch_size=4,
            unroll=4,
            long_unroll=10,
            long_unroll_from=0.25,
            learning_rate=1e-3,
            final_learning_rate=2e-5,
            eval_every=50,
            checkpoint_every=100,
            validation_steps=64,
        ),
        test_n=64,
        train_n=32,
        train_length=0.5,
        train_samples=32,
        validation_samples=4,
        train_steps=64,
    ),
    # the paper's network (10 x 128), trained on [0, 1]^2 at 64^2 from 256^2: for a GPU
    "paper": Preset(
        "paper",
        _model(10, 128, (4, 5), "raw"),
        TrainConfig(
            steps=20000,
            batch_size=16,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=500,
            checkpoint_every=500,
            validation_steps=128,
        ),
        test_n=64,
        train_n=64,
        train_length=1.0,
        train_samples=64,
        validation_samples=8,
        train_steps=128,
        periods=3,
    ),
}
