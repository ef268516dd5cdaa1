"""Figures shared by the CLI commands (matplotlib, Agg backend; no display needed).

Each figure is its own function that takes plain numpy arrays and a path, and writes the file
atomically (temporary file, then rename).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from learned_advection.files import atomic_path  # noqa: E402


def save_figure(fig, path, dpi: int = 110) -> Path:
    """Save and close ``fig`` atomically (the format follows the suffix of ``path``).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure; it is closed even when saving fails.
    path : str or os.PathLike
        Output file, e.g. ``.png`` or ``.pdf``.
    dpi : int, default 110
        Resolution of raster formats.

    Returns
    -------
    pathlib.Path
        ``path`` as a ``Path``.
    """
    path = Path(path)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(fig)
    return path


def snapshot_grid_2d(
    snapshots: Mapping[str, np.ndarray],
    times: Sequence[float],
    path,
    extent: Sequence[float] = (0.0, 1.0, 0.0, 1.0),
    title: str | None = None,
    vmin: float | None = None,
    vmax: float | None = None,
) -> Path:
    """One row per scheme, one column per time: 2-D fields ``(n_times, ny, nx)`` on a shared colour scale
    (by default from min(0, smallest value) to the largest value over all panels).

    Parameters
    ----------
    snapshots : Mapping of str to numpy.ndarray
        Row label -> fields ``(n_times, y, x)``, one per column.
    times : sequence of float
        Time of each column, for its title.
    path : str or os.PathLike
        Output file.
    extent : sequence of float, default (0.0, 1.0, 0.0, 1.0)
        ``(x_min, x_max, y_min, y_max)`` of every panel.
    title : str, optional
        Figure title.
    vmin, vmax : float, optional
        Colour scale limits; ``None`` (default) takes them from the data as above.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    names = list(snapshots)
    n_times = len(times)
    if vmin is None:
        vmin = min(0.0, min(float(np.min(s)) for s in snapshots.values()))
    if vmax is None:
        vmax = max(float(np.max(s)) for s in snapshots.values())
    fig, axes = plt.subplots(
        len(names), n_times, figsize=(2.6 * n_times + 0.8, 2.5 * len(names)), squeeze=False, constrained_layout=True
    )
    image = None
    for row, name in enumerate(names):
        for col in range(n_times):
            ax = axes[row, col]
            image = ax.imshow(
                np.asarray(snapshots[name][col]),
                origin="lower",
                extent=tuple(extent),
                cmap="viridis",
                vmin=vmin,
                vmax=vmax,
                interpolation="nearest",
            )
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(f"t = {times[col]:g}", fontsize=10)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.colorbar(image, ax=axes, shrink=0.8, label="concentration")
    if title:
        fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)
