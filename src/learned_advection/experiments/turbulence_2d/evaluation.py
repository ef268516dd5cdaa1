"""Metrics of one method (per step and after a long rollout) and :func:`evaluate`: every method on the test seeds."""

from __future__ import annotations

import numpy as np

from learned_advection.errors import UserError
from learned_advection.evaluation.metrics import (
    blown_up,
    checkerboard,
    correlation,
    correlation_time,
    entropy,
    mae_per_sample,
    mass_change,
    nrmse,
    r2,
    variance_spectrum,
)
from learned_advection.experiments.turbulence_2d.methods import (
    baseline_methods,
    baseline_trajectories,
    learned_trajectories,
    load_trajectories,
    model_step_multiple,
)
from learned_advection.experiments.turbulence_2d.presets import Preset
from learned_advection.progress import progress_bar


def method_metrics(
    pred: np.ndarray, ref: np.ndarray, times: np.ndarray, spectra_steps=(0, 128, 256), every: int = 1
) -> dict:
    """Per-method metrics (lists over steps are averaged over samples).

    ``every``: the states are every ``every``-th coarse step (a method with a longer step); ``ref`` and
    ``times`` are at the same steps, and ``"step"`` lists the coarse step numbers.

    Parameters
    ----------
    pred : numpy.ndarray
        Method states, ``(sample, time, y, x)``.
    ref : numpy.ndarray
        Reference states at the same steps, same shape.
    times : numpy.ndarray
        Elapsed time of each state, ``(time,)``.
    spectra_steps : sequence of int, default (0, 128, 256)
        Coarse steps at which variance spectra are stored (those that are saved states).
    every : int, default 1
        Coarse steps between consecutive states.

    Returns
    -------
    dict
        Per step: ``step``, ``time``, ``mae``, ``r2``, ``nrmse``, ``entropy`` (lists); scalars
        ``blowup_fraction``, ``checkerboard`` (last state), ``mass_error``, ``max_overshoot``;
        ``correlation_time``; and ``spectrum`` (``wavenumber`` and ``steps``: coarse step -> spectrum).
    """
    initial = ref[:, :1]
    corr = correlation(pred, ref)
    out = {
        "step": list(range(0, every * pred.shape[1], every)),
        "time": [float(t) for t in times],
        "mae": mae_per_sample(pred, ref).mean(axis=0).tolist(),
        "r2": r2(pred, ref).mean(axis=0).tolist(),
        "nrmse": nrmse(pred, ref).mean(axis=0).tolist(),
        "entropy": entropy(pred, initial).mean(axis=0).tolist(),
        "blowup_fraction": float(blown_up(pred, ref).mean()),
        "checkerboard": float(checkerboard(pred[:, -1]).mean()),
        "correlation_time": correlation_time(corr, times),
        "mass_error": float(np.max(np.abs(mass_change(pred, ref[:, :1])))),
        "max_overshoot": float(np.nanmax(pred) - ref[:, 0].max()),
    }
    spectra = {}
    for s in spectra_steps:
        if s % every == 0 and s // every < pred.shape[1]:
            k, e = variance_spectrum(pred[:, s // every])
            spectra[str(s)] = e.mean(axis=0).tolist()
    out["spectrum"] = {"wavenumber": k.tolist(), "steps": spectra}
    return out


def long_run_metrics(pred: np.ndarray, ref: np.ndarray) -> dict:
    """Blow-up fraction and checkerboard indicator at the last step of a long rollout, plus per-sample errors.

    Parameters
    ----------
    pred : numpy.ndarray
        Method states, ``(sample, time, y, x)``.
    ref : numpy.ndarray
        Reference states at the same steps, same shape.

    Returns
    -------
    dict
        ``steps``, ``blowup_fraction``, ``checkerboard``, ``mae`` (last state; NaN counts as infinite),
        ``max_overshoot`` and ``max_undershoot`` (whole rollout, against the initial range) and
        ``max_abs_error_per_sample``.
    """
    err = np.abs(np.nan_to_num(pred[:, -1], nan=np.inf) - ref[:, -1])
    return {
        "steps": int(pred.shape[1] - 1),
        "blowup_fraction": float(blown_up(pred, ref).mean()),
        "checkerboard": float(checkerboard(np.nan_to_num(pred[:, -1])).mean()),
        "mae": float(np.mean(err)),
        "max_overshoot": float(np.nanmax(pred) - ref[:, 0].max()),  # over the whole rollout, vs the initial max
        "max_undershoot": float(ref[:, 0].min() - np.nanmin(pred)),
        "max_abs_error_per_sample": err.max(axis=(-2, -1)).tolist(),
    }


def evaluate(
    model,
    preset: Preset,
    data_dir,
    test_seeds=None,
    n_steps: int | None = None,
    long_steps: int | None = None,
    progress: bool = True,
    split: str = "test",
) -> dict:
    """Metrics of the learned model (if any) and the classical baselines on the test seeds.

    ``model`` may be one model (method ``learned-N``) or a dict ``{suffix: model}`` (``learned-N<suffix>``).

    Parameters
    ----------
    model : LearnedModel, dict of str to LearnedModel, or None
        The learned model(s); ``None`` evaluates only the baselines (:func:`baseline_methods`).
    preset : Preset
        Data configuration and default seeds and lengths.
    data_dir : str or os.PathLike
        Root of the data cache (missing samples are generated).
    test_seeds : sequence of int, optional
        Sample seeds; ``None`` (default) uses ``preset.test_seeds``.
    n_steps : int, optional
        Coarse steps of the metrics; ``None`` (default) uses ``preset.test_steps``.
    long_steps : int, optional
        Coarse steps of the long-rollout check (0: none); ``None`` (default) uses ``preset.long_steps``.
    progress : bool, default True
        Show progress bars.
    split : str, default "test"
        Data split of the samples.

    Returns
    -------
    dict
        ``test_seeds`` and ``methods`` (method label -> :func:`method_metrics`, plus ``long`` with
        :func:`long_run_metrics` when ``long_steps``), and the private ``_trajectories``, ``_reference``,
        ``_times`` and ``_strides`` entries.

    Raises
    ------
    UserError
        If a learned model's step does not divide the step counts.
    """
    seeds = tuple(preset.test_seeds if test_seeds is None else test_seeds)
    n_steps = preset.test_steps if n_steps is None else n_steps
    long_steps = preset.long_steps if long_steps is None else long_steps
    stored = max(n_steps, long_steps)
    data, psi = load_trajectories(preset, data_dir, split, seeds, stored, progress)
    cfg = preset.data
    times = cfg.coarse_dt * np.arange(stored + 1)  # elapsed time since the initial state (pyqg time minus spin-up)
    models = {} if model is None else model if isinstance(model, dict) else {"": model}
    runs = [(f"learned-{cfg.coarse_n}{suffix}", m) for suffix, m in models.items()]
    strides = {label: model_step_multiple(m, cfg.coarse_dt) for label, m in runs}
    runs += [(f"{name}-{n}", (name, n)) for name, n in baseline_methods(cfg.coarse_n)]
    preds = {}
    bar = progress_bar(runs, desc=f"rollouts ({len(seeds)} samples x {stored} steps)", unit="method", enabled=progress)
    for label, what in bar:
        bar.set_postfix_str(label)
        if isinstance(what, tuple):
            preds[label] = baseline_trajectories(preset, seeds, psi, [what], stored)[label]
        else:
            k = strides[label]
            if n_steps % k or stored % k:
                raise UserError(f"{label} steps {k} coarse steps at a time: the step counts must be multiples of {k}")
            preds[label] = learned_trajectories(what, data.every(k), stored // k)
    ref = data.states
    methods = {}
    for name, pred in preds.items():
        k = strides.get(name, 1)
        m = method_metrics(pred[:, : n_steps // k + 1], ref[:, : n_steps + 1 : k], times[: n_steps + 1 : k], every=k)
        if long_steps:
            m["long"] = {
                **long_run_metrics(pred[:, : long_steps // k + 1], ref[:, : long_steps + 1 : k]),
                "steps": long_steps,
            }  # in coarse steps (the model's own steps are long_steps / k)
        methods[name] = m
    return {
        "test_seeds": list(seeds),
        "methods": methods,
        "_trajectories": preds,
        "_reference": ref,
        "_times": times,
        "_strides": {name: strides.get(name, 1) for name in preds},
    }
