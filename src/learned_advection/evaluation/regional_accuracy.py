"""How well every classical scheme handles open boundaries: ``python -m learned_advection.evaluation.regional_accuracy``.

Three measurements on ``[0, 1]`` at unit speed with inflow at ``x = 0`` and outflow at ``x = 1`` (float64 for
the orders, float32 for the rest):

* **order of accuracy with a time-dependent inflow**: the inflow value ``sin(2 pi t)`` enters an initial state
  that is the exact solution ``sin(2 pi (t - x))``; L1 error at ``t = 1.3`` (the whole domain has come in through
  the boundary) on cells at least 0.1 from an extremum (where the monotone limiters clip, as in the periodic
  order tests), between two grids; WENO5-Z with ``dt ~ dx^(5/3)`` so that SSP-RK3's third order in time does
  not mask its fifth in space;
* **constant inflow**: ``max |c - value|`` after four transit times from an empty domain;
* **a pulse leaving**: the largest value left after three transit times, relative to the pulse's peak.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from learned_advection.numerics import schemes
from learned_advection.numerics.boundaries import Open, boundaries
from learned_advection.numerics.precision import float64
from learned_advection.numerics.regional import Regional
from learned_advection.numerics.rollout import rollout

# (scheme, Courant number, dt ~ dx^refine, the two grids): above Courant 1 the large step, "+fct" bounded
ORDER_RUNS = (
    ("vanleer", 0.5, 1.0, (128, 256)),
    ("ppm", 0.5, 1.0, (128, 256)),
    ("weno5z", 0.5, 5 / 3, (32, 64)),
    ("vanleer", 2.5, 1.0, (128, 256)),
    ("ppm", 2.5, 1.0, (128, 256)),
    ("ppm+fct", 2.5, 1.0, (128, 256)),
)
STEPS = ("upwind", 0.5), ("vanleer", 0.5), ("ppm", 0.5), ("weno5z", 0.5), ("ppm", 2.5), ("ppm+fct", 2.5)


def stepper(name: str, courant: float):
    """The scheme ``name`` (``"+fct"``: the bounded large step) for Courant numbers up to ``courant``."""
    return schemes.scheme(name.removesuffix("+fct"), courant, bounded=name.endswith("+fct"))


@eqx.filter_jit
def _compiled(regional, state, velocity, dt, spacing, n_steps):
    return rollout(regional, state, velocity, dt, spacing, n_steps, n_steps)


def run_1d(step, bounds, c0, speed: float, dt: float, n_steps: int):
    """The final state (and budget) of ``step`` on ``len(c0)`` cells of ``[0, 1]`` at the uniform ``speed``."""
    c0 = jnp.asarray(c0)
    n = c0.shape[0]
    regional = Regional(step, bounds)
    velocity = (jnp.full(n + 1, speed, c0.dtype),)
    out = _compiled(regional, regional.initial(c0), velocity, jnp.asarray(dt, c0.dtype), (1.0 / n,), n_steps)
    return jax.tree_util.tree_map(lambda x: x[-1], out)


def sine_inflow_error(name: str, courant: float, n: int, refine: float = 1.0) -> float:
    """L1 error (cells >= 0.1 from the extrema) at ``t = 1.3`` of a sine entering through the inflow side."""
    k = 2 * np.pi

    def exact(t):  # exact cell means of sin(k (t - x))
        left = np.arange(n) / n
        return (np.cos(k * (t - left - 1 / n)) - np.cos(k * (t - left))) * n / k

    t_end = 1.3
    steps = int(np.ceil(t_end / (courant / n * (16 / n) ** (refine - 1))))
    bounds = boundaries(x=(Open(lambda t: jnp.sin(k * t)), Open()))
    final = run_1d(stepper(name, courant), bounds, exact(0.0), 1.0, t_end / steps, steps)
    error = np.abs(np.asarray(final.c) - exact(t_end))
    phase = (k * (t_end - (np.arange(n) + 0.5) / n) - np.pi / 2) % np.pi
    return float(error[np.minimum(phase, np.pi - phase) / k > 0.1].mean())


def measured_order(name: str, courant: float, refine: float, sizes) -> tuple[float, float, float]:
    """``(order, coarse error, fine error)`` of :func:`sine_inflow_error` between the two grids, in float64."""
    with float64():
        coarse, fine = (sine_inflow_error(name, courant, n, refine) for n in sizes)
    return float(np.log2(coarse / fine)), coarse, fine


def constant_inflow_error(name: str, courant: float, n: int = 32, value: float = 0.75) -> float:
    """``max |c - value|`` after four transit times of a constant inflow into an empty domain (float32)."""
    dt = courant / n
    final = run_1d(
        stepper(name, courant), boundaries(x=(Open(value), Open())), np.zeros(n, np.float32), 1.0, dt, int(4 / dt)
    )
    return float(np.max(np.abs(np.asarray(final.c, np.float64) - value)))


def pulse_left_behind(name: str, courant: float, n: int = 32, speed: float = 1.0) -> float:
    """The largest ``|c|`` left after three transit times of a Gaussian pulse, over its peak (float32)."""
    x = (np.arange(n) + 0.5) / n
    c0 = np.exp(-(((x - 0.5) / 0.08) ** 2)).astype(np.float32)
    dt = courant / n
    final = run_1d(stepper(name, courant), boundaries(x="open"), c0, speed, dt, int(3 / dt))
    return float(np.max(np.abs(np.asarray(final.c)))) / float(c0.max())


def main() -> None:
    print("order of accuracy, time-dependent inflow (L1 away from extrema, float64):")
    print(f"  {'scheme':<12}{'Courant':>8}{'grids':>10}{'errors':>22}{'order':>7}")
    for name, courant, refine, sizes in ORDER_RUNS:
        order, coarse, fine = measured_order(name, courant, refine, sizes)
        grids = f"{sizes[0]}/{sizes[1]}"
        print(f"  {name:<12}{courant:>8.1f}{grids:>10}{coarse:>11.2e}{fine:>11.2e}{order:>7.2f}")
    print("constant inflow 0.75 after 4 transits, max |c - 0.75| (float32, 32 cells);")
    print("a pulse after 3 transits, largest value left / peak (float32, 32 cells, both directions):")
    print(f"  {'scheme':<12}{'Courant':>8}{'inflow error':>14}{'left behind':>13}")
    for name, courant in STEPS:
        left = max(pulse_left_behind(name, courant, speed=s) for s in (1.0, -1.0))
        print(f"  {name:<12}{courant:>8.1f}{constant_inflow_error(name, courant):>14.1e}{left:>13.1e}")


if __name__ == "__main__":
    main()
