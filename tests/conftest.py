import jax
import pytest


@pytest.fixture
def x64_mode():
    """Switch float64 on or off for one test; restores the previous setting afterwards."""
    previous = jax.config.jax_enable_x64

    def set_mode(enable: bool) -> None:
        jax.config.update("jax_enable_x64", bool(enable))

    yield set_mode
    jax.config.update("jax_enable_x64", previous)
