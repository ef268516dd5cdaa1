"""The ablation variants: each learned term's step properties, and the smoke ablation end to end."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from learned_advection.flows import velocity as vel_mod
from learned_advection.learned.config import KINDS, ModelConfig
from learned_advection.learned.models import build_model
from learned_advection.numerics.grids import Grid


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("ndim", [1, 2])
def test_every_kind_steps_and_the_conservative_ones_keep_mass(x64_mode, kind, ndim):
    x64_mode(True)
    n = 16
    grid = Grid((n,) * ndim, (1.0,) * ndim)
    if ndim == 1:
        velocity = (jnp.full((n,), 0.7),)
        c = jnp.asarray(np.exp(-(((np.arange(n) - 6.0) / 2) ** 2)))
    else:
        velocity = tuple(jnp.asarray(u) for u in vel_mod.random_sinusoidal(grid, seed=1))
        y, x = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        c = jnp.asarray(np.exp(-((x - 6.0) ** 2 + (y - 9.0) ** 2) / 6))
    cfg = ModelConfig(
        ndim=ndim, layers=2, filters=4, stencil=(2,) if ndim == 1 else (2, 3), kind=kind, final_init_scale=1.0
    )
    model = build_model(cfg, jax.random.PRNGKey(0))
    dt = 0.4 / n
    out = model(c, velocity, dt, grid.spacing)
    assert out.shape == c.shape and np.all(np.isfinite(np.asarray(out)))
    assert not np.allclose(out, c)
    if kind in ("interpolation", "diffusion"):  # flux form
        np.testing.assert_allclose(float(out.sum()), float(c.sum()), rtol=1e-12)


def test_limiter_needs_interpolation():
    with pytest.raises(ValueError, match="interpolation"):
        ModelConfig(ndim=1, kind="diffusion", limiter="fct")
    with pytest.raises(ValueError, match="kind"):
        ModelConfig(ndim=1, kind="magic")


@pytest.mark.slow  # four trainings + a D4 evaluation: ~3 minutes on 2 cores
def test_smoke_ablation_end_to_end(tmp_path, cli):
    out = tmp_path / "out"
    code, stdout, err = cli(
        "reproduce", "ablation-2d", "--preset", "smoke", "--out", out, "--data-dir", tmp_path / "d", "--quiet"
    )
    assert code == 0, err
    m = json.loads((out / "metrics.json").read_text())
    assert m["experiment"] == "ablation-2d"
    names = set(m["methods"])
    for kind in ("interpolation", "diffusion", "interpolation-fct", "interpolation-d4-fct"):
        assert f"learned-16-{kind}" in names, kind
    assert set(m["training"]) == set(KINDS)
    for kind in ("interpolation-fct", "interpolation-d4-fct"):
        assert m["methods"][f"learned-16-{kind}"]["long"]["max_overshoot"] <= 1e-5
    assert set(m["ms_per_step"]) == {n for n in names if n.startswith("learned-16-")}  # every learned variant timed
    assert np.isfinite(list(m["ms_per_step"].values())).all()
    text = (out / "report.md").read_text()
    assert "learned-16-diffusion" in text and "ms/step" in text
    (out / "report.md").unlink()
    assert cli("report", out, "--quiet")[0] == 0 and (out / "report.md").read_text() == text
