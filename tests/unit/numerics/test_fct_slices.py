"""FCT's limiter (antidiffusive fluxes on faces ``-1/2 .. n - 1/2``, bounds by ``reduce_window``, its inputs
computed once) is the textbook form with periodic shifts (``jnp.roll``): to float32 round-off of the fluxes, for
any grid, reach and fluxes (hypothesis), operation by operation and compiled."""

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from learned_advection.numerics.fluxform import net_outflow
from learned_advection.numerics.limiters import limit, upwind_fluxes


def _bound_rolled(x, op, reach):
    if reach == 1:
        out = x
        for a in range(x.ndim):
            out = op(out, op(jnp.roll(x, 1, axis=a), jnp.roll(x, -1, axis=a)))
        return out
    for a in range(x.ndim):
        out = x
        for k in range(1, reach + 1):
            out = op(out, op(jnp.roll(x, k, axis=a), jnp.roll(x, -k, axis=a)))
        x = out
    return x


def limit_rolled(c, courant, high, reach):
    """Zalesak's limiter written with periodic shifts (the form before the slices)."""
    low = upwind_fluxes(c, courant, 1 if reach == 1 else reach * c.ndim)
    c_td = c - net_outflow(low)
    anti = tuple(h - lo for h, lo in zip(high, low))
    upper = _bound_rolled(jnp.maximum(c, c_td), jnp.maximum, reach)
    lower = _bound_rolled(jnp.minimum(c, c_td), jnp.minimum, reach)
    p_in = sum(jnp.maximum(jnp.roll(f, 1, axis=a), 0) - jnp.minimum(f, 0) for a, f in enumerate(anti))
    p_out = sum(jnp.maximum(f, 0) - jnp.minimum(jnp.roll(f, 1, axis=a), 0) for a, f in enumerate(anti))
    room_up = jnp.maximum(upper - c_td, 0)
    room_down = jnp.maximum(c_td - lower, 0)
    r_in = jnp.where(p_in > room_up, room_up / jnp.where(p_in > 0, p_in, 1), 1)
    r_out = jnp.where(p_out > room_down, room_down / jnp.where(p_out > 0, p_out, 1), 1)
    out = []
    for a, f in enumerate(anti):
        r_in_next, r_out_next = jnp.roll(r_in, -1, axis=a), jnp.roll(r_out, -1, axis=a)
        scale = jnp.where(f >= 0, jnp.minimum(r_in_next, r_out), jnp.minimum(r_in, r_out_next))
        out.append(low[a] + scale * f)
    return tuple(out)


@settings(max_examples=12, deadline=None)
@given(
    shape=st.one_of(st.tuples(st.integers(2, 12)), st.tuples(st.integers(2, 9), st.integers(2, 9))),
    reach=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_limit_is_the_rolled_form_to_round_off(shape, reach, seed):
    rng = np.random.default_rng(seed)
    c = jnp.asarray(rng.random(shape), jnp.float32)
    courant = tuple(jnp.asarray(rng.uniform(-0.9, 0.9, shape) * reach / len(shape), jnp.float32) for _ in shape)
    high = tuple(jnp.asarray(rng.normal(0.0, 0.3, shape), jnp.float32) for _ in shape)
    got, want = limit(c, courant, high, reach), limit_rolled(c, courant, high, reach)
    for g, w in zip(got, want):  # a few float32 ulp of the fluxes' size (each up to ~reach)
        np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=0, atol=4 * np.finfo(np.float32).eps * reach)


def test_compiled_limit_agrees_with_the_rolled_form_to_round_off():
    rng = np.random.default_rng(7)
    for shape in ((16,), (16, 16), (32, 32)):
        for reach in (1, 2, 4):
            c = jnp.asarray(rng.random(shape), jnp.float32)
            courant = tuple(jnp.asarray(rng.uniform(-0.9, 0.9, shape) * reach / len(shape), jnp.float32) for _ in shape)
            high = tuple(jnp.asarray(rng.normal(0.0, 0.3, shape), jnp.float32) for _ in shape)
            got = jax.jit(limit, static_argnums=3)(c, courant, high, reach)
            want = jax.jit(limit_rolled, static_argnums=3)(c, courant, high, reach)
            for g, w in zip(got, want):  # a few float32 ulp of the fluxes' size (each up to ~reach)
                np.testing.assert_allclose(
                    np.asarray(g), np.asarray(w), rtol=0, atol=4 * np.finfo(np.float32).eps * reach
                )
