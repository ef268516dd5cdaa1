"""The curated public API: every exported name resolves, the import is cheap, README's quick-start runs."""

import re
import subprocess
import sys
from pathlib import Path

import learned_advection as la

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_exported_name_resolves():
    missing = [name for name in la.__all__ if getattr(la, name, None) is None]
    assert not missing
    assert isinstance(la.VANLEER, la.Stepper) and isinstance(la.FCT(la.PPM), la.Stepper)
    assert isinstance(la.VANLEER, la.LinRood) and isinstance(la.WENO5Z, la.SSPRK3) and isinstance(la.PPM, la.FluxForm)
    assert isinstance(la.scheme("ppm", 3.5), la.FCT) and isinstance(la.scheme("ppm", 3.5, bounded=False), la.FFSL)
    assert set(la.__all__) <= set(dir(la))


def test_import_is_cheap():
    """``import learned_advection`` (which the CLI does) loads no JAX until a name is used."""
    code = "import sys, learned_advection; print('jax' in sys.modules); learned_advection.Grid; print('jax' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "True"]


def test_readme_quick_start_runs(capsys):
    text = README.read_text()
    section = text[text.index("## Python quick-start") :]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "import learned_advection as la" in code
    exec(compile(code, "README.md quick-start", "exec"), {})
    printed = capsys.readouterr().out.split()
    assert len(printed) == 1 and 0.0 < float(printed[0]) < 1.0  # an error between two schemes: finite, not zero
