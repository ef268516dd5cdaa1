"""Reference data for 2-D turbulent advection: Van Leer at 256^2, coarse-grained to 32^2.

Time sampling (the same velocity history for every resolution): the coarse (32^2) step ``k`` covers
``[t0 + k dt_c, t0 + (k+1) dt_c]``; the velocity for it is pyqg's streamfunction at the step's midpoint
``t0 + (k + 1/2) dt_c``, held constant over the step.  A solver at ``f``x resolution takes ``f`` sub-steps
of ``dt_c / f`` with that same field, coarse-grained exactly from the 256^2 corner streamfunction.  So the
fine reference and every coarse solver see identical (coarse-grained) velocities.

``dt_c = 0.024`` (24 pyqg steps): with the fine step ``0.003`` the Courant number at 256^2 is 0.5 for
``max|u| = 4.1``, the largest speed of these runs over the whole time window (measured over t in
[4, 28.6]: 3.2-3.9 for seeds 0-3; each generated sample records its own maximum Courant number and
generation refuses one above 1).

Each sample is one netCDF file: ``concentration(time, y, x)`` at 32^2 (the coarse-grained reference,
initial state first) and the corner streamfunction ``psi(step, y, x)`` on the 128^2 grid, from which
face velocities on 128, 64 and 32 follow exactly (:func:`velocity_for`).
"""

from __future__ import annotations

from learned_advection.data.turbulence.cache import ensure_samples, load_samples, sample_path
from learned_advection.data.turbulence.flow import (
    TurbulenceData,
    gaussian_blobs,
    initial_on,
    midpoint_times,
    stride,
    velocity_for,
)
from learned_advection.data.turbulence.generation import fine_solution, generate_sample, solve_on
from learned_advection.data.turbulence.references import second_reference_path, second_references
from learned_advection.flows import turbulence
