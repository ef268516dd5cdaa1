"""``evaluate turbulence-2d``: a saved model and its inference :data:`VARIANTS` on the test seeds
(:func:`evaluate_checkpoint`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from learned_advection.errors import UserError
from learned_advection.experiments.common import prepare_output, provenance
from learned_advection.experiments.turbulence_2d.evaluation import evaluate
from learned_advection.experiments.turbulence_2d.presets import EXPERIMENT, PRESETS, grid
from learned_advection.experiments.turbulence_2d.reporting import public_metrics, write_outputs
from learned_advection.learned.models import VARIANTS, parse_variants, variant_models  # noqa: F401 (re-exported)

EVALUATION_TEST_SEEDS = (1000, 1001, 1002, 1003)  # `evaluate turbulence-2d` and `cost` by default


def evaluate_checkpoint(
    model_path,
    test_seeds,
    n_steps: int,
    data_dir,
    out=None,
    overwrite: bool = False,
    progress: bool = True,
    command: str = "",
    long_steps: int = 0,
    variants=("plain",),
    keep_trajectories: bool = False,
) -> dict:
    """Evaluate a saved model on turbulence test seeds (``evaluate turbulence-2d``; ``None``:
    :data:`EVALUATION_TEST_SEEDS`).

    ``long_steps > 0`` adds the blow-up / checkerboard check after that many steps; ``variants`` are
    inference options applied to the same weights (:data:`VARIANTS`).  ``keep_trajectories`` also
    returns the private ``_trajectories``, ``_reference`` and ``_times`` entries.

    The data are those of the ``cpu`` preset (32^2, Van Leer at 256^2 as reference); the learned model is
    compared with the classical baselines (:func:`baseline_methods`).

    Parameters
    ----------
    model_path : str or os.PathLike
        Checkpoint folder (or its parent holding ``best/``), or ``"pretrained"`` / ``"pretrained:NAME"``.
    test_seeds : sequence of int or None
        Test sample seeds; ``None`` uses :data:`EVALUATION_TEST_SEEDS`.
    n_steps : int
        Coarse steps of the metrics; a multiple of the model's step in coarse steps.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    out : str or os.PathLike, optional
        Folder for ``metrics.json``, ``report.md`` and ``figures/``; ``None`` (default) writes nothing.
    overwrite : bool, default False
        Replace those outputs in a non-empty ``out``.
    progress : bool, default True
        Show progress bars.
    command : str, default ""
        The command line, recorded in the metrics.
    long_steps : int, default 0
        Coarse steps of the long-rollout check; 0 skips it, else at least ``n_steps`` and a multiple of the
        model's step.
    variants : sequence of str, default ("plain",)
        Keys of :data:`VARIANTS`; each is evaluated as method ``learned-32<suffix>``.
    keep_trajectories : bool, default False
        Also return the private trajectory entries.

    Returns
    -------
    dict
        ``experiment``, ``preset`` (``"evaluate"``), ``model``, ``model_step``, ``variants``, ``model_config``,
        provenance (``version``, ``command``, ``machine``, ``date``), ``test_seeds`` and ``methods`` (method
        label -> metrics per step, see :func:`method_metrics`).

    Raises
    ------
    UserError
        If the checkpoint is missing, corrupt or for another grid, its time step is not a whole number of
        coarse steps, the step counts do not fit it, or the output folder is refused.
    """
    from learned_advection.learned.checkpoint import load_stepper, read_config

    if long_steps and long_steps < n_steps:
        raise UserError(f"--long-steps ({long_steps}) must be at least --steps ({n_steps})")
    preset = dataclasses.replace(PRESETS["cpu"], test_steps=n_steps, long_steps=long_steps)
    stepper = load_stepper(model_path, grid(preset))
    config = read_config(model_path)[1]
    k = float(config["dt"]) / preset.data.coarse_dt
    if abs(k - round(k)) > 1e-6 or round(k) < 1:
        raise UserError(
            f"model {model_path} was trained with dt = {config['dt']:g}, not a whole number of "
            f"the turbulence test data's steps (dt = {preset.data.coarse_dt:g})"
        )
    if n_steps % round(k) or long_steps % round(k):
        raise UserError(
            f"model {model_path} steps {round(k)} coarse steps at a time: --steps and --long-steps "
            f"must be multiples of {round(k)}"
        )
    if out is not None:
        prepare_output(Path(out), overwrite, ("metrics.json", "report.md", "figures"))
    models = variant_models(stepper, variants)
    test_seeds = EVALUATION_TEST_SEEDS if test_seeds is None else test_seeds
    result = evaluate(models, preset, data_dir, test_seeds, n_steps, long_steps, progress)
    metrics = {
        "experiment": EXPERIMENT,
        "preset": "evaluate",
        "model": str(model_path),
        "model_step": config.get("step"),
        "variants": list(variants),
        "model_config": config["model"],
        **provenance(command),
        **public_metrics(result),
    }
    if out is not None:
        write_outputs(Path(out), metrics, result, preset, stepper)
    if keep_trajectories:  # the demo animates them
        return {**metrics, **{k: v for k, v in result.items() if k.startswith("_")}}
    return metrics
