"""Experiment ``advection-1d``: 1-D constant-velocity advection (Zhuang et al. 2020, Sec. III A, Figs. 2-4).

Pipeline: generate square-wave (and Gaussian) reference trajectories (VL-256 coarse-grained to 32),
train a squares-only model and a squares+Gaussians model, evaluate upwind-32, vanleer-32, weno5z-32
(WENO5-Z with SSP-RK3, the fifth-order baseline) and learned-32 against the reference on test seeds
never used in training, write ``metrics.json``, ``model/`` (squares-only checkpoint),
``model-gaussians/``, figures and ``report.md``.
"""

from __future__ import annotations

from learned_advection.experiments.advection_1d.evaluation import evaluate_checkpoint, rollouts
from learned_advection.experiments.advection_1d.pipeline import report, run
from learned_advection.experiments.advection_1d.presets import BUILTIN, NAME, PRESETS, Preset, datasets, training_data
