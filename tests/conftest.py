import subprocess
from pathlib import Path

import jax
import pytest

from learned_advection.cli import main


@pytest.fixture
def x64_mode():
    """Switch float64 on or off for one test; restores the previous setting afterwards."""
    previous = jax.config.jax_enable_x64

    def set_mode(enable: bool) -> None:
        jax.config.update("jax_enable_x64", bool(enable))

    yield set_mode
    jax.config.update("jax_enable_x64", previous)


@pytest.fixture
def cli(capsys):
    """Run the CLI in-process: returns ``(exit code, stdout, stderr)``; restores the float64 setting."""

    def run(*args):
        previous = jax.config.jax_enable_x64
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        finally:
            jax.config.update("jax_enable_x64", previous)
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def run_checked():
    """Run a command from the repository root; fail the test with its output unless it exits 0."""

    def run(args, what: str, timeout: int = 300) -> subprocess.CompletedProcess:
        root = Path(__file__).resolve().parents[1]
        result = subprocess.run([str(a) for a in args], cwd=root, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            pytest.fail(f"{what} failed:\n{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    return run
