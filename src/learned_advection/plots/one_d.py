"""Figures for 1-D experiments (matplotlib, Agg backend): paper Figs. 2, 3 and 4."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from learned_advection.plots.common import save_figure  # noqa: E402

STYLES = {
    "reference": dict(color="black", lw=2.2, ls="-", label="reference (VL-256 → 32)"),
    "upwind-32": dict(color="tab:orange", lw=1.4, ls="--"),
    "vanleer-32": dict(color="tab:blue", lw=1.4, ls="-."),
    "learned-32": dict(color="tab:red", lw=1.6, ls="-"),
}


def _style(name: str, k: int) -> dict:
    if name in STYLES:
        s = dict(STYLES[name])
    else:
        s = dict(color=f"C{(k + 3) % 10}", lw=1.5, ls="-")
    s.setdefault("label", name)
    return s


def _legend_below(fig, ax) -> None:
    """One legend for all panels, under them (so it hides no data)."""
    handles, labels = ax.get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0.08, 1, 0.94))
    fig.legend(handles, labels, loc="lower center", ncol=len(labels), fontsize=8, frameon=False)


def plot_sample(
    x: np.ndarray,
    trajectories: Mapping[str, np.ndarray],
    steps: Sequence[int],
    dt: float,
    path: Path,
    title: str = "",
) -> Path:
    """One sample over time for several methods, one panel per step (paper Fig. 2).

    ``trajectories[name]`` is ``(time, x)``; include ``"reference"`` to draw the reference.

    Parameters
    ----------
    x : numpy.ndarray
        Cell centres, ``(x,)``.
    trajectories : Mapping of str to numpy.ndarray
        Method name -> states ``(time, x)``.
    steps : sequence of int
        Steps to show, one panel each.
    dt : float
        Time step, for the panel titles.
    path : pathlib.Path
        Output file.
    title : str, default ""
        Figure title; empty for none.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, axes = plt.subplots(1, len(steps), figsize=(3.2 * len(steps), 3.0), sharey=True, squeeze=False)
    for ax, n in zip(axes[0], steps):
        for k, (name, traj) in enumerate(trajectories.items()):
            ax.step(x, traj[n], where="mid", **_style(name, k))
        ax.set_title(f"step {n} (t = {n * dt:g})")
        ax.set_xlabel("x")
    axes[0, 0].set_ylabel("concentration")
    _legend_below(fig, axes[0, 0])
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_mae(
    curves: Mapping[str, tuple[Sequence[int], Sequence[float]]], path: Path, even_only: bool = True, title: str = ""
) -> Path:
    """MAE against the reference vs step (paper Fig. 3; even steps only, the error oscillates at CFL 0.5).

    Parameters
    ----------
    curves : Mapping of str to tuple
        Method name -> ``(steps, mae)``, two sequences of equal length; step 0 is left out.
    path : pathlib.Path
        Output file.
    even_only : bool, default True
        Plot only even steps.
    title : str, default ""
        Axes title; empty for none.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for k, (name, (steps, mae)) in enumerate(curves.items()):
        steps, mae = np.asarray(steps), np.asarray(mae)
        keep = (steps % 2 == 0) if even_only else np.ones_like(steps, bool)
        keep &= steps > 0
        ax.plot(steps[keep], mae[keep], **_style(name, k))
    ax.set_yscale("log")
    ax.set_xlabel("time step" + (" (even steps)" if even_only else ""))
    ax.set_ylabel("MAE vs reference")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_out_of_sample(
    x: np.ndarray,
    rows: Mapping[str, Mapping[str, np.ndarray]],
    steps: Sequence[int],
    dt: float,
    path: Path,
    title: str = "",
) -> Path:
    """Gaussian (out-of-sample) test, one row per model (paper Fig. 4): ``rows[row_title][name] = (time, x)``.

    Parameters
    ----------
    x : numpy.ndarray
        Cell centres, ``(x,)``.
    rows : Mapping of str to Mapping of str to numpy.ndarray
        Row title -> method name -> states ``(time, x)``.
    steps : sequence of int
        Steps to show, one column each.
    dt : float
        Time step, for the panel titles.
    path : pathlib.Path
        Output file.
    title : str, default ""
        Figure title; empty for none.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, axes = plt.subplots(
        len(rows), len(steps), figsize=(3.2 * len(steps), 2.8 * len(rows)), sharey=True, squeeze=False
    )
    for r, (row_title, trajectories) in enumerate(rows.items()):
        for ax, n in zip(axes[r], steps):
            for k, (name, traj) in enumerate(trajectories.items()):
                ax.step(x, traj[n], where="mid", **_style(name, k))
            ax.set_title(f"step {n} (t = {n * dt:g})", fontsize=9)
        axes[r, 0].set_ylabel(row_title, fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    _legend_below(fig, axes[0, 0])
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
