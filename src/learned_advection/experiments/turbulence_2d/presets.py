"""The turbulence experiment's recipes: :class:`Preset`, the named :data:`PRESETS` and the coarse :func:`grid`."""

from __future__ import annotations

import dataclasses

from learned_advection.data import turbulence as td
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig
from learned_advection.numerics.grids import Grid

EXPERIMENT = "turbulence-2d"


@dataclasses.dataclass(frozen=True)
class Preset:
    """One recipe of the turbulence experiment: data seeds and lengths, model, training and evaluation settings.

    Parameters
    ----------
    name : str
        Preset name (a key of :data:`PRESETS`).
    train_seeds : tuple of int
        Seeds of the training samples.
    validation_seeds : tuple of int
        Seeds of the validation samples.
    test_seeds : tuple of int
        Seeds of the test samples, never used in training.
    model : ModelConfig
        The learned model to train.
    train : TrainConfig
        Training settings.
    train_steps : int, default 128
        Coarse steps per training sample.
    test_steps : int, default 256
        Coarse steps of the evaluation rollouts.
    long_steps : int, default 1024
        Coarse steps of the long blow-up / checkerboard check; 0 skips it.
    augment : bool, default True
        Train on all 8 D4 images of every training trajectory.
    data : TurbulenceData, default TurbulenceData()
        Resolutions, time step and flow of the reference data.
    needs_init : bool, default False
        Whether training must start from a trained model (a fine-tuning stage).
    k : int, default 1
        The learned model's step in coarse steps (Courant number up to about ``k / 2``).
    """

    name: str
    train_seeds: tuple[int, ...]
    validation_seeds: tuple[int, ...]
    test_seeds: tuple[int, ...]
    model: ModelConfig
    train: TrainConfig
    train_steps: int = 128  # coarse steps per training sample
    test_steps: int = 256
    long_steps: int = 1024  # blow-up check (0: skip)
    augment: bool = True
    data: td.TurbulenceData = td.TurbulenceData()
    needs_init: bool = False  # a fine-tuning stage: training starts from a trained model (--init-from)
    k: int = 1  # the learned model's step: k coarse steps (k x dt_c, Courant number up to ~k / 2)


def _model(layers, filters, stencil=(4, 5), velocity_input="courant"):
    return ModelConfig(ndim=2, layers=layers, filters=filters, stencil=stencil, velocity_input=velocity_input)


PRESETS: dict[str, Preset] = {
    # tiny end-to-end check for the test suite (64^2 reference coarse-grained to 16^2, few steps)
    "smoke": Preset(
        "smoke",
        (0, 1),
        (500,),
        (1000,),
        _model(2, 8, (2, 3)),
        TrainConfig(steps=6, batch_size=2, unroll=2, eval_every=3, checkpoint_every=3, validation_steps=8),
        train_steps=8,
        test_steps=8,
        long_steps=16,
        augment=True,
        data=td.TurbulenceData(
            fine_n=64, coarse_n=16, store_n=64, coarse_dt=0.048, flow=td.turbulence.TurbulenceConfig(n=64, spinup=0.5)
        ),
    ),
    "quick": Preset(
        "quick",
        tuple(range(8)),
        (500,),
        (1000, 1001, 1002, 1003),
        _model(4, 32),
        TrainConfig(
            steps=1200,
            batch_size=8,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=5e-5,
            eval_every=100,
            checkpoint_every=100,
            validation_steps=128,
        ),
        long_steps=0,
    ),
    "cpu": Preset(
        "cpu",
        tuple(range(20)),
        (500, 501),
        tuple(range(1000, 1020)),
        _model(4, 32),
        TrainConfig(
            steps=4500,
            batch_size=8,
            unroll=10,
            long_unroll=20,
            long_unroll_from=0.7,
            learning_rate=1e-3,
            final_learning_rate=2e-5,
            eval_every=250,
            checkpoint_every=250,
            validation_steps=256,
        ),
    ),
    "paper": Preset(
        "paper",
        tuple(range(20)),
        (500, 501),
        tuple(range(1000, 1020)),
        _model(10, 128, (2, 3), "raw"),
        TrainConfig(
            steps=20000,
            batch_size=16,
            unroll=10,
            learning_rate=1e-3,
            final_learning_rate=1e-5,
            eval_every=500,
            checkpoint_every=500,
            validation_steps=256,
        ),
        augment=False,
    ),
}

# Research variants (listed with their results in docs/presets.md; not shown in `--help`).
# Large steps: the quick recipe with the model's step k coarse steps (Courant number up to ~k/2,
# FCT reach ceil(k/2)); training windows and validation cover the same simulated time as at k = 1
for _k in (2, 4):
    PRESETS[f"quick-k{_k}"] = dataclasses.replace(
        PRESETS["quick"],
        name=f"quick-k{_k}",
        k=_k,
        model=dataclasses.replace(_model(4, 32, (2 + 2 * max(1, -(-_k // 2)), 5)), max_courant=max(1, -(-_k // 2))),
        train=dataclasses.replace(PRESETS["quick"].train, validation_steps=128 // _k),
    )

# The learned flux-form semi-Lagrangian step (whole cells exact, the learned stencil at the departure cell)
for _k in (4, 8):
    PRESETS[f"quick-k{_k}-ffsl"] = dataclasses.replace(
        PRESETS["quick"],
        name=f"quick-k{_k}-ffsl",
        k=_k,
        model=dataclasses.replace(_model(4, 32), max_courant=_k // 2, large_step="ffsl"),
        train=dataclasses.replace(PRESETS["quick"].train, validation_steps=128 // _k),
    )

# A cheaper network at k = 8: the k = 8 FFSL model with a network a tenth the size (2 x 16)
PRESETS["quick-k8-ffsl-small"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl"],
    name="quick-k8-ffsl-small",
    model=dataclasses.replace(_model(2, 16), max_courant=4, large_step="ffsl"),
)

# A network sized to the accuracy-cost front's budget at k = 8 (docs/presets.md): 2 x 16 with
# the paper's 2 x 3 stencil (its output layer a quarter of the 4 x 5 stencil's), 16 training seeds of 256
# coarse steps (32 steps of the model) and a long-unroll curriculum (12 then 24 model steps)
PRESETS["quick-k8-ffsl-lite"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl"],
    name="quick-k8-ffsl-lite",
    train_seeds=tuple(range(16)),
    train_steps=256,
    model=dataclasses.replace(_model(2, 16, (2, 3)), max_courant=4, large_step="ffsl"),
    train=dataclasses.replace(
        PRESETS["quick"].train, steps=1500, unroll=12, long_unroll=24, long_unroll_from=0.6, validation_steps=16
    ),
)

# A hybrid: the classical PPM large step at k = 8 plus a learned correction to its face values
# (ModelConfig.base_scheme; zero-initialised output, so training starts at PPM), trained as quick-k8-ffsl-lite;
# -o1 (the recipe of the shipped `pretrained:turbulence-2d-k8-hybrid`): a 2 x 16 network whose output layer is
# per cell (output_kernel_size 1: a third cheaper than 2 x 8 at 3 x 3)
PRESETS["quick-k8-ppm-hybrid"] = dataclasses.replace(
    PRESETS["quick-k8-ffsl-lite"],
    name="quick-k8-ppm-hybrid",
    model=dataclasses.replace(_model(2, 8, (2, 3)), max_courant=4, base_scheme="ppm", final_init_scale=0.0),
)
PRESETS["quick-k8-ppm-hybrid-o1"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid"],
    name="quick-k8-ppm-hybrid-o1",
    model=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid"].model, filters=16, output_kernel_size=1),
)
# -s43: the same with the 4 x 3 correction stencil (two cells each side of the face, three along it)
PRESETS["quick-k8-ppm-hybrid-s43"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid-o1"],
    name="quick-k8-ppm-hybrid-s43",
    model=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid-o1"].model, stencil=(4, 3)),
)
# -long: twice the iterations (its validation MAE was still falling at the end of 1500)
PRESETS["quick-k8-ppm-hybrid-s43-long"] = dataclasses.replace(
    PRESETS["quick-k8-ppm-hybrid-s43"],
    name="quick-k8-ppm-hybrid-s43-long",
    train=dataclasses.replace(PRESETS["quick-k8-ppm-hybrid-s43"].train, steps=3000),
)

# second stage of the shipped model: the cpu preset's model and data, fine-tuned with unroll 20 throughout
# at a lower learning rate (the curriculum's long unroll for longer); starts from --init-from
PRESETS["cpu-finetune"] = dataclasses.replace(
    PRESETS["cpu"],
    name="cpu-finetune",
    needs_init=True,
    train=TrainConfig(
        steps=1200,
        batch_size=8,
        unroll=20,
        learning_rate=3e-4,
        final_learning_rate=1e-5,
        eval_every=100,
        checkpoint_every=100,
        validation_steps=256,
        seed=1,
    ),
)

#: The presets a user needs, shown by ``reproduce turbulence-2d --help``: the test-suite check, the quick
#: recipe, the two stages of the shipped ``pretrained`` model (``cpu`` then ``cpu-finetune``), the paper's
#: recipe, and the recipe of the shipped ``pretrained:turbulence-2d-k8-hybrid`` (``quick-k8-ppm-hybrid-o1``).
MAIN_PRESETS: tuple[str, ...] = ("smoke", "quick", "cpu", "cpu-finetune", "paper", "quick-k8-ppm-hybrid-o1")
#: Research variants whose results the documentation quotes (docs/presets.md): loadable by name, not listed
#: in ``--help``.
RESEARCH_PRESETS: tuple[str, ...] = tuple(name for name in PRESETS if name not in MAIN_PRESETS)


def grid(preset: Preset) -> Grid:
    """The coarse grid of the preset's data (``coarse_n`` by ``coarse_n`` on ``[0, 2 pi]^2``).

    Parameters
    ----------
    preset : Preset
        The preset.
    """
    return preset.data.grid(preset.data.coarse_n)
