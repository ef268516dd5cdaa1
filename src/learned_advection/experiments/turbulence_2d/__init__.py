"""2-D decaying turbulence (paper Section III C): learned 32^2 solver against Van Leer / PPM at 32-128.

Pipeline: reference samples (:mod:`learned_advection.data.turbulence`, cached per seed in a data
folder) -> training windows at 32^2 (optionally all 8 D4 images of every trajectory) -> unrolled
training with a validation-selected best checkpoint -> evaluation on test seeds never used in
training: MAE, R^2, NRMSE, entropy per step; blow-up fraction and checkerboard indicator at the last
step; correlation time; scalar-variance spectra.
"""

from __future__ import annotations

from learned_advection.experiments.turbulence_2d.checkpoints import (
    EVALUATION_TEST_SEEDS,
    VARIANTS,
    evaluate_checkpoint,
    parse_variants,
    variant_models,
)
from learned_advection.experiments.turbulence_2d.evaluation import evaluate, long_run_metrics, method_metrics
from learned_advection.experiments.turbulence_2d.methods import (
    BASE_COURANT,
    baseline_methods,
    baseline_trajectories,
    classical_stepper,
    learned_trajectories,
    load_trajectories,
    method_label,
    method_spec,
    model_step_multiple,
)
from learned_advection.experiments.turbulence_2d.pipeline import run
from learned_advection.experiments.turbulence_2d.presets import (
    EXPERIMENT,
    MAIN_PRESETS,
    PRESETS,
    RESEARCH_PRESETS,
    Preset,
    grid,
)
from learned_advection.experiments.turbulence_2d.reporting import (
    OUTPUTS,
    public_metrics,
    report,
    report_preset,
    summary,
    write_outputs,
)
from learned_advection.experiments.turbulence_2d.training import train_model
