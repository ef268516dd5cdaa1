"""Floating-point precision switch (float32 by default; float64 on request)."""

import contextlib

import jax


def use_x64(enable: bool = True) -> None:
    """Enable (or disable) float64 for all subsequently created JAX arrays.

    Call it before creating arrays; equivalent to the CLI flag ``--x64``.

    Parameters
    ----------
    enable : bool, default True
        ``True`` turns float64 on, ``False`` goes back to float32.
    """
    jax.config.update("jax_enable_x64", bool(enable))


@contextlib.contextmanager
def float64():
    """Compute in float64 inside the ``with`` block; the previous setting is restored after it."""
    previous = jax.config.jax_enable_x64
    use_x64(True)
    try:
        yield
    finally:
        use_x64(previous)
