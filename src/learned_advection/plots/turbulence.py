"""Figures of the 2-D turbulence experiment (paper Figs. 7-10 and the variance spectrum)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from learned_advection.files import atomic_path  # noqa: E402
from learned_advection.plots.common import save_figure as _save  # noqa: E402


def sample_snapshots(reference, trajectories: dict, step: int, path, sample: int = 0):
    """Fig. 7: initial state, reference and every method at ``step`` for one test sample.

    Parameters
    ----------
    reference : numpy.ndarray
        Reference states, ``(sample, time, y, x)``; its initial state sets the colour maximum.
    trajectories : dict of str to numpy.ndarray
        Method name -> states ``(sample, time, y, x)``.
    step : int
        Step to show.
    path : str or os.PathLike
        Output file.
    sample : int, default 0
        Which sample.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    panels = [("initial", reference[sample, 0]), (f"reference (step {step})", reference[sample, step])]
    panels += [(name, traj[sample, step]) for name, traj in trajectories.items()]
    cols = 4
    rows = int(np.ceil(len(panels) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 3.0 * rows), squeeze=False)
    vmax = float(reference[sample, 0].max())
    for ax, (title, field) in zip(axes.flat, panels):
        ax.imshow(np.asarray(field), origin="lower", cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    return _save(fig, path)


def error_curves(methods: dict, path, every: int = 1):
    """Fig. 8: MAE, R^2 and entropy against the step for every method.

    Parameters
    ----------
    methods : dict of str to dict
        Method name -> ``{"step", "mae", "r2", "entropy"}``, sequences of equal length; names starting
        with ``learned`` get thicker lines.
    path : str or os.PathLike
        Output file.
    every : int, default 1
        Plot every ``every``-th entry.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
    for name, m in methods.items():
        steps = np.asarray(m["step"])[::every]
        style = dict(lw=2.2) if name.startswith("learned") else dict(lw=1.2)
        for ax, key in zip(axes, ("mae", "r2", "entropy")):
            ax.plot(steps, np.asarray(m[key])[::every], label=name, **style)
    for ax, label in zip(axes, ("mean absolute error", "R$^2$", "entropy (Eq. 10)")):
        ax.set_xlabel("coarse time step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    return _save(fig, path)


def error_distribution(reference, trajectories: dict, steps, path):
    """Fig. 9b: empirical distribution of the absolute error over samples and cells at the given steps.

    Non-finite values count as an error of about 1000; a method whose trajectory is shorter than a step is
    left out of that panel.

    Parameters
    ----------
    reference : numpy.ndarray
        Reference states, ``(sample, time, y, x)``.
    trajectories : dict of str to numpy.ndarray
        Method name -> states ``(sample, time, y, x)``.
    steps : sequence of int
        Steps to show, one panel each.
    path : str or os.PathLike
        Output file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    fig, axes = plt.subplots(1, len(steps), figsize=(5 * len(steps), 3.8), squeeze=False)
    for ax, step in zip(axes[0], steps):
        for name, traj in trajectories.items():
            if traj.shape[1] <= step:
                continue
            err = np.abs(np.nan_to_num(traj[:, step], nan=1e3, posinf=1e3, neginf=1e3) - reference[:, step]).ravel()
            err = np.sort(np.maximum(err, 1e-8))
            ax.plot(err, np.arange(1, err.size + 1) / err.size, label=name)
        ax.axvline(1.0, color="k", ls=":", lw=1)
        ax.set_xscale("log")
        ax.set_xlim(1e-6, 10)
        ax.set_title(f"step {step}")
        ax.set_xlabel("absolute error")
        ax.set_ylabel("cumulative fraction")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return _save(fig, path)


def long_run_samples(trajectory, step: int, path, n: int = 10, title: str = "learned"):
    """Fig. 9a: up to ``n`` samples of one method after ``step`` steps.

    Parameters
    ----------
    trajectory : numpy.ndarray
        States of one method, ``(sample, time, y, x)``.
    step : int
        Step to show.
    path : str or os.PathLike
        Output file.
    n : int, default 10
        Most samples to show (five per row).
    title : str, default "learned"
        Method name for the figure title.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    n = min(n, trajectory.shape[0])
    cols = min(n, 5)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.6 * rows), squeeze=False)
    for k, ax in enumerate(axes.flat):
        ax.set_xticks([])
        ax.set_yticks([])
        if k < n:
            ax.imshow(
                np.nan_to_num(np.asarray(trajectory[k, step])), origin="lower", cmap="viridis", interpolation="nearest"
            )
    fig.suptitle(f"{title} after {step} steps")
    return _save(fig, path)


def spectra(methods: dict, path):
    """Scalar-variance spectra at the stored steps, one panel per step.

    Parameters
    ----------
    methods : dict of str to dict
        Method name -> metrics with ``["spectrum"]["wavenumber"]`` ``(K,)`` and ``["spectrum"]["steps"]``,
        a mapping step -> spectrum ``(K,)``.
    path : str or os.PathLike
        Output file.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    steps = sorted({s for m in methods.values() for s in m["spectrum"]["steps"]}, key=int)
    fig, axes = plt.subplots(1, len(steps), figsize=(4.5 * len(steps), 3.6), squeeze=False)
    for ax, s in zip(axes[0], steps):
        for name, m in methods.items():
            if s in m["spectrum"]["steps"]:
                k = np.asarray(m["spectrum"]["wavenumber"])
                e = np.asarray(m["spectrum"]["steps"][s])
                ax.loglog(k[1:], np.maximum(e[1:], 1e-16), label=name)
        ax.set_title(f"step {s}")
        ax.set_xlabel("wavenumber")
        ax.set_ylabel("variance spectrum")
        ax.grid(alpha=0.3)
    axes[0, 0].legend(fontsize=8)
    return _save(fig, path)


def coefficient_figure(model, dt: float, spacing, path, n: int = 32):
    """Fig. 10: learned x-face coefficients for concentration patterns (columns) x velocity directions (rows).

    The target face is the + x face of the centre cell; every panel shows its stencil coefficients
    (across x, along y), so an upwind-like choice shows up as weight on the upwind column.

    Parameters
    ----------
    model : LearnedModel
        A trained 2-D model (its ``config.stencil`` and ``coefficients``).
    dt : float
        Time step passed to the model.
    spacing : tuple of float
        Cell width ``(dy, dx)`` passed to the model.
    path : str or os.PathLike
        Output file.
    n : int, default 32
        Size of the square probe fields.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    import jax.numpy as jnp

    j, i = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    c0 = n // 2
    patterns = {
        "edge, high left": (i <= c0).astype(float),
        "edge, high right": (i > c0).astype(float),
        "edge, high below": (j <= c0).astype(float),
        "diagonal edge": (i + j <= 2 * c0).astype(float),
        "blob": np.exp(-((i - c0) ** 2 + (j - c0) ** 2) / 8.0),
    }
    directions = {"u = +1": (0.0, 1.0), "u = -1": (0.0, -1.0), "v = +1": (1.0, 0.0), "v = -1": (-1.0, 0.0)}
    across, along = model.config.stencil
    fig, axes = plt.subplots(
        len(directions) + 1, len(patterns), figsize=(2.3 * len(patterns), 2.2 * (len(directions) + 1))
    )
    for col, (pname, field) in enumerate(patterns.items()):
        ax = axes[0, col]
        ax.imshow(field[c0 - 4 : c0 + 5, c0 - 4 : c0 + 5], origin="lower", cmap="viridis", vmin=0, vmax=1)
        ax.plot([4.5, 4.5], [3.5, 4.5], color="r", lw=3)  # the target face
        ax.set_title(pname, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        for row, (dname, (vy, vx)) in enumerate(directions.items(), start=1):
            vel = (jnp.full((n, n), vy, jnp.float32), jnp.full((n, n), vx, jnp.float32))
            coeffs = model.coefficients(jnp.asarray(field, jnp.float32), vel, dt, spacing)[1]  # x faces
            w = np.asarray(coeffs[:, c0, c0]).reshape(across, along)
            ax = axes[row, col]
            ax.imshow(w.T, origin="lower", cmap="RdBu_r", vmin=-1, vmax=1)
            for (a, b), v in np.ndenumerate(w):
                ax.text(a, b, f"{v:.2f}", ha="center", va="center", fontsize=6)
            ax.set_xticks(range(across), [str(k) for k in range(1 - across // 2, across // 2 + 1)], fontsize=6)
            ax.set_yticks([])
            if col == 0:
                ax.set_ylabel(dname, fontsize=8)
    fig.suptitle(
        "learned x-face coefficients (columns: cell offset across the face; rows within a panel: along it)", fontsize=9
    )
    return _save(fig, path)


def animation(
    reference, trajectories: dict, path, sample: int = 0, every: int = 4, dt: float | None = None, fps: int = 12
):
    """GIF of one sample: the reference and each method side by side, every ``every`` steps (atomic write).

    Parameters
    ----------
    reference : numpy.ndarray
        Reference states, ``(sample, time, y, x)``; its initial state sets the colour maximum.
    trajectories : dict of str to numpy.ndarray
        Method name -> states ``(sample, time, y, x)``, as long as ``reference``.
    path : str or os.PathLike
        Output file (``.gif``).
    sample : int, default 0
        Which sample.
    every : int, default 4
        Steps between frames.
    dt : float, optional
        Time step; when given, frame labels show the time too.
    fps : int, default 12
        Frames per second.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from matplotlib.animation import FuncAnimation, PillowWriter

    path = Path(path)
    panels = [("reference", np.asarray(reference[sample]))] + [
        (k, np.asarray(v[sample])) for k, v in trajectories.items()
    ]
    frames = list(range(0, panels[0][1].shape[0], every))
    vmax = float(panels[0][1][0].max())
    fig, axes = plt.subplots(1, len(panels), figsize=(2.6 * len(panels), 2.9), squeeze=False)
    images = []
    for ax, (title, traj) in zip(axes.flat, panels):
        images.append(ax.imshow(traj[0], origin="lower", cmap="viridis", vmin=0, vmax=vmax, interpolation="nearest"))
        ax.set_title(title, fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    label = fig.suptitle("step 0", fontsize=10)

    def draw(step):
        for image, (_, traj) in zip(images, panels):
            image.set_data(traj[step])
        label.set_text(f"step {step}" + ("" if dt is None else f", t = {step * dt:.2f}"))
        return images

    anim = FuncAnimation(fig, draw, frames=frames, blit=False)
    try:
        with atomic_path(path, suffix=path.suffix) as tmp:
            anim.save(tmp, writer=PillowWriter(fps=fps), dpi=72)
    finally:
        plt.close(fig)
    return path
