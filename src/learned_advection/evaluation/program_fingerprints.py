"""Fingerprints of the compiled programs of every periodic classical run: ``python -m
learned_advection.evaluation.program_fingerprints``.

One line per scheme, dimension and step (Courant 0.5; the large step at 2.5, bounded and not): the MD5 of the
jaxpr of a short :func:`~learned_advection.numerics.rollout.rollout`.  Two versions of the package that print the
same lines run the same program on a periodic domain (the same numbers, bitwise, at the same speed) -- how a
change elsewhere (regional domains) is shown to leave the periodic runs alone: run it in a checkout of each
version (``PYTHONPATH=CHECKOUT/src``) and compare.
"""

from __future__ import annotations

import hashlib

import jax
import jax.numpy as jnp

from learned_advection.numerics import schemes
from learned_advection.numerics.rollout import rollout

RUNS = ((0.5, True), (2.5, True), (2.5, False))


def fingerprints() -> dict[str, str]:
    """``label -> MD5`` of the jaxpr of 4 steps of every classical scheme on a 32-cell (32²) periodic grid."""
    out = {}
    for ndim in (1, 2):
        shape = (32,) * ndim
        c = jnp.ones(shape)
        velocity = tuple(jnp.ones(shape) for _ in range(ndim))
        spacing = (1 / 32,) * ndim
        for name in schemes.SCHEMES:
            for courant, bounded in RUNS:
                if courant > 1 and name == "weno5z":  # no large step
                    continue
                step = schemes.scheme(name, courant, bounded)
                program = jax.make_jaxpr(lambda c, step=step: rollout(step, c, velocity, 0.01, spacing, 4, 2))(c)
                label = f"{step.name} {ndim}-D Courant {courant}{'' if bounded or courant <= 1 else ' unbounded'}"
                out[label] = hashlib.md5(str(program).encode()).hexdigest()
    return out


def main() -> None:
    for label, digest in fingerprints().items():
        print(f"{label:<34} {digest}")


if __name__ == "__main__":
    main()
