"""The plan's refusals say what is wrong: a Courant number just above a limit shows enough digits to be above it."""

import numpy as np
import pytest

from learned_advection import transport as sim
from learned_advection.data.netcdf import Problem
from learned_advection.errors import UserError
from learned_advection.numerics.grids import Grid


@pytest.mark.parametrize(
    ("scheme", "factor", "shown"), [("learned", 1.000001, "1.000001 > 1"), ("ppm", 4.5, "4.5 > 4")]
)
def test_a_courant_number_just_above_the_limit_is_shown_above_it(scheme, factor, shown):
    problem = Problem(Grid((8,), (1.0,)), np.linspace(0, 1, 8), (np.full(8, 1.0),), False)
    with pytest.raises(UserError, match=f"Courant number {shown} with dt"):
        sim.plan(problem, 2, dt=factor / 8, scheme=scheme)
