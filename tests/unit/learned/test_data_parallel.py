"""Data-parallel training over 2 forced CPU host devices gives the loss trajectory of one device."""

import json
import os
import subprocess
import sys

import numpy as np

SCRIPT = r"""
import json, os
os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
import jax
from learned_advection.data.reference import Setup1D, make_dataset_1d, rng_for
from learned_advection.learned.config import ModelConfig
from learned_advection.learned.training import TrainConfig, train
from learned_advection.errors import UserError

assert len(jax.devices()) == 2, jax.devices()
data = make_dataset_1d(rng_for(0, "train"), Setup1D(), 4, 16, ("square",))
config = TrainConfig(steps=6, batch_size=4, unroll=3, eval_every=2, checkpoint_every=100, validation_steps=8)
model = ModelConfig(ndim=1, layers=2, filters=8)
out = {}
for parallel in (False, True):
    result = train(model, data, data, config, progress=False, data_parallel=parallel)
    out[str(parallel)] = {"loss": [h["loss"] for h in result.history], "validation": [h["validation"] for h in result.history]}
try:
    train(model, data, data, TrainConfig(steps=1, batch_size=3, unroll=3), progress=False, data_parallel=True)
    out["odd"] = "accepted"
except UserError as e:
    out["odd"] = str(e)
print(json.dumps(out))
"""


def test_two_host_devices_same_loss_trajectory():
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    run = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    one, two = out["False"], out["True"]
    assert len(one["loss"]) == 3
    np.testing.assert_allclose(two["loss"], one["loss"], rtol=1e-5)
    np.testing.assert_allclose(two["validation"], one["validation"], rtol=1e-5)
    assert "multiple" in out["odd"]
