"""Figures of the 2-D deformational-flow experiment (paper Figs. 5 and 6, plus errors per period)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from learned_advection.plots.common import save_figure as _save  # noqa: E402
from learned_advection.plots.common import snapshot_grid_2d


def snapshots(trajectories: dict, indices, times, path):
    """Fig. 5: every method (rows) at the saved ``indices`` (columns, labelled with ``times``),
    coloured from 0 to the initial maximum.

    Parameters
    ----------
    trajectories : dict of str to array
        Method name -> saved states ``(time, y, x)``; the first entry's initial state sets the colour maximum.
    indices : sequence of int
        Saved states to show, one per column.
    times : sequence of float
        Time of each column, for its title.
    path : str or os.PathLike
        Output file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    vmax = float(np.nanmax(next(iter(trajectories.values()))[0]))
    fields = {name: np.asarray(traj)[list(indices)] for name, traj in trajectories.items()}
    return snapshot_grid_2d(fields, times, path, vmin=0.0, vmax=vmax)


def entropy_curves(methods: dict, period: float, path):
    """Fig. 6: entropy (Eq. 10, 1 at t = 0) against time; dashed lines at the flow reversals.

    Parameters
    ----------
    methods : dict of str to dict
        Method name -> ``{"time": (T,), "entropy": (T,)}``; names starting with ``learned`` get thicker lines.
    period : float
        Flow period; the reversals are at ``(k + 1/2) period``.
    path : str or os.PathLike
        Output file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    t_end = 0.0
    for name, m in methods.items():
        ax.plot(m["time"], m["entropy"], "-", lw=2.2 if name.startswith("learned") else 1.3, label=name)
        t_end = max(t_end, m["time"][-1])
    k = 0.5
    while k * period < t_end:
        ax.axvline(k * period, color="0.7", ls="--", lw=0.8)
        k += 1
    ax.set_xlabel("time")
    ax.set_ylabel("entropy (normalised)")
    ax.set_title("Entropy under the deformational flow")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)


def period_errors(methods: dict, path):
    """Normalised l1 error against the initial state at the end of each period, per method.

    Parameters
    ----------
    methods : dict of str to dict
        Method name -> metrics with ``["l1_error_vs_initial"]["periods"]``, one error per period (the same
        number for every method).
    path : str or os.PathLike
        Output file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    names = list(methods)
    n_per = len(next(iter(methods.values()))["l1_error_vs_initial"]["periods"])
    width = 0.8 / max(n_per, 1)
    x = np.arange(len(names))
    for p in range(n_per):
        vals = [methods[n]["l1_error_vs_initial"]["periods"][p] for n in names]
        ax.bar(x + (p - (n_per - 1) / 2) * width, vals, width, label=f"t = {p + 1}T")
    ax.set_xticks(x)
    ax.set_xticklabels(names, rotation=20, fontsize=8)
    ax.set_ylabel("l1 error vs initial state")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _save(fig, path)
