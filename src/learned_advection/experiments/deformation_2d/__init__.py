"""2-D deformational flow (paper Section III B, Figs. 5-6): a learned 64^2 solver that never saw this flow.

Pipeline
--------
* **Training data** (random flows only): periodic, exactly divergence-free random sinusoidal flows
  (:func:`learned_advection.flows.velocity.random_sinusoidal_family`, ``|k| <= 4``, amplitude ``(|k|+1)^-3``),
  one amplitude per sample ``max|u| ~ U[0.25, 1]`` (the deformational flow slows to 0 near ``T/2``);
  concentration initial conditions built on the fine grid, half of them ensembles of Gaussian /
  cosine-bell blobs (smooth) and half binarised random Fourier series (sharp edges); reference = Van
  Leer at 4x resolution with 4 sub-steps per coarse step, coarse-grained by block means.  All eight
  exact D4 images of every trajectory (:func:`learned_advection.numerics.symmetry.d4_element`) are added.
* **Grid spacing and time step are the test's**: ``dx = 1/64`` and one fixed coarse
  ``dt = 0.5 * dx / 1`` (max Courant number 0.5 at ``max|u| = 1``).  The ``cpu`` preset trains on a
  periodic ``[0, 1/2]^2`` box of 32^2 cells (4x cheaper per sample than 64^2 on ``[0, 1]^2``; the
  model's inputs -- rescaled concentration and Courant numbers -- and its outputs are the same
  functions of the local state on either box); ``paper`` trains on ``[0, 1]^2`` at 64^2.
* **Model**: :class:`learned_advection.learned.models.LearnedModel` -- one CNN predicting constrained
  (sum-to-one) stencil coefficients for both x- and y-faces, stepped *unsplit* (both directions from
  the same state, forward Euler), as in the paper's code: the network absorbs splitting and
  time-stepping error, so no Lin-Rood combination is needed.
* **Test**: LeVeque's deformational flow on ``[0, 1]^2``, period ``T = 5``, cosine bell at (1/4, 1/4)
  with radius 1/4, for several periods.  Each coarse step uses the (analytic, C-grid face-averaged)
  velocity at its midpoint; finer solvers take 2 or 4 sub-steps at their own sub-step midpoints.
  Compared: upwind / Van Leer / PPM / WENO5-Z (with SSP-RK3) at 64^2, the learned model at 64^2, and
  Van Leer at 128^2 and 256^2 coarse-grained to 64^2.  Since the exact solution at ``t = nT`` is the
  initial condition, the error at the end of every period is measured against the initial 64^2 state.
"""

from __future__ import annotations

from learned_advection.experiments.deformation_2d.evaluation import (
    entropy_after_half_period,
    evaluate,
    method_metrics,
    methods_to_run,
    run_deformation,
)
from learned_advection.experiments.deformation_2d.grids import (
    binary_fourier,
    blob_ensemble,
    rng_for,
    test_grid,
    train_grid,
    training_initial_condition,
)
from learned_advection.experiments.deformation_2d.pipeline import run
from learned_advection.experiments.deformation_2d.presets import (
    CENTRE,
    EXPERIMENT,
    PERIOD,
    PRESETS,
    PURPOSES,
    RADIUS,
    Preset,
)
from learned_advection.experiments.deformation_2d.reporting import learned_over_vanleer, report, write_outputs
from learned_advection.experiments.deformation_2d.training import train_model
from learned_advection.experiments.deformation_2d.training_data import data_description, make_training_data
