"""Reference data for 2-D turbulent advection: Van Leer at 256^2, coarse-grained to 32^2.

Time sampling (the same velocity history for every resolution): the coarse (32^2) step ``k`` covers
``[t0 + k dt_c, t0 + (k+1) dt_c]``; the velocity for it is pyqg's streamfunction at the step's midpoint
``t0 + (k + 1/2) dt_c``, held constant over the step.  A solver at ``f``x resolution takes ``f`` sub-steps
of ``dt_c / f`` with that same field, coarse-grained exactly from the 256^2 corner streamfunction.  So the
fine reference and every coarse solver see identical (coarse-grained) velocities.

``dt_c = 0.024`` (24 pyqg steps): with the fine step ``0.003`` the Courant number at 256^2 is 0.5 for
``max|u| = 4.1``, the largest speed of these runs over the whole time window (measured over t in
[4, 28.6]: 3.2-3.9 for seeds 0-3; each generated sample records its own maximum Courant number and
generation refuses one above 1).

Each sample is one netCDF file: ``concentration(time, y, x)`` at 32^2 (the coarse-grained reference,
initial state first) and the corner streamfunction ``psi(step, y, x)`` on the 128^2 grid, from which
face velocities on 128, 64 and 32 follow exactly (:func:`velocity_for`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr

from learned_advection._version import __version__
from learned_advection.data.netcdf import open_netcdf, write_dataset_atomic
from learned_advection.errors import UserError
from learned_advection.files import available_memory
from learned_advection.flows import turbulence
from learned_advection.numerics import schemes
from learned_advection.numerics.grids import Grid, coarsen_concentration, max_courant
from learned_advection.numerics.rollout import coarse_grained_rollout


@dataclasses.dataclass(frozen=True)
class TurbulenceData:
    """Resolutions, time step, initial blobs and pyqg run of the 2-D turbulence reference data.

    Parameters
    ----------
    fine_n : int, default 256
        Grid size of the fine reference solver (``fine_n`` by ``fine_n``).
    coarse_n : int, default 32
        Grid size of the stored coarse-grained concentration; divides ``fine_n``.
    store_n : int, default 128
        Grid size of the stored corner streamfunction; divides ``fine_n``.
    coarse_dt : float, default 0.024
        Coarse time step; the velocity is held constant over each coarse step.
    n_blobs : int, default 10
        Number of Gaussian blobs in the initial concentration.
    blob_width : float, default 0.5
        Standard deviation of each blob.
    flow : TurbulenceConfig, default TurbulenceConfig()
        The pyqg run that provides the velocity.
    """

    fine_n: int = 256
    coarse_n: int = 32
    store_n: int = 128  # grid of the stored corner streamfunction
    coarse_dt: float = 0.024
    n_blobs: int = 10
    blob_width: float = 0.5
    flow: turbulence.TurbulenceConfig = turbulence.TurbulenceConfig()

    @property
    def factor(self) -> int:
        """``fine_n // coarse_n``: fine cells per coarse cell along each axis, and fine steps per coarse step."""
        return self.fine_n // self.coarse_n

    def grid(self, n: int) -> Grid:
        """The square ``n`` by ``n`` grid on the turbulence domain ``[0, 2 pi]^2``.

        Parameters
        ----------
        n : int
            Cells per axis.
        """
        return Grid.square(n, turbulence.DOMAIN)


def gaussian_blobs(grid: Grid, seed: int, n_blobs: int = 10, width: float = 0.5) -> np.ndarray:
    """Sum of ``n_blobs`` periodic Gaussians ``exp(-r^2 / (2 width^2))`` at random places, scaled to max 1.

    Parameters
    ----------
    grid : Grid
        2-D grid; the field holds the values at its cell centres.
    seed : int
        Seed of the blob positions.
    n_blobs : int, default 10
        Number of blobs.
    width : float, default 0.5
        Standard deviation of each blob.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``grid.shape``, float64.
    """
    rng = np.random.default_rng([seed, 7919])
    Y, X = grid.mesh()
    field = np.zeros(grid.shape)
    for y0, x0 in rng.uniform(0, 1, (n_blobs, 2)) * np.asarray(grid.length):
        dy = (Y - y0 + grid.length[0] / 2) % grid.length[0] - grid.length[0] / 2
        dx = (X - x0 + grid.length[1] / 2) % grid.length[1] - grid.length[1] / 2
        field += np.exp(-(dx**2 + dy**2) / (2 * width**2))
    return field / field.max()


def midpoint_times(config: TurbulenceData, n_steps: int) -> np.ndarray:
    """Midpoint time of each coarse step, ``spinup + (k + 1/2) coarse_dt`` for ``k < n_steps``.

    Parameters
    ----------
    config : TurbulenceData
        Coarse step and pyqg spin-up.
    n_steps : int
        Number of coarse steps.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_steps,)``.
    """
    return config.flow.spinup + config.coarse_dt * (np.arange(n_steps) + 0.5)


def velocity_for(psi_store, n: int):
    """Face velocities on ``n``^2 from stored corner streamfunction(s) (any leading axes).

    Parameters
    ----------
    psi_store : array
        Corner streamfunction, ``(..., N, N)`` with ``N`` divisible by ``n``.
    n : int
        Target grid size.

    Returns
    -------
    tuple of array
        ``(y_velocity, x_velocity)``, each ``(..., n, n)``.
    """
    return turbulence.face_velocities(psi_store, n)


def stride(config: TurbulenceData, n: int, k: int = 1) -> int:
    """Coarse steps per solver step on ``n``^2 at ``k`` times its Courant-0.5 step ``dt_c * coarse_n / n``.

    1 while that step is at most one coarse step (``k`` must divide ``n / coarse_n``); otherwise
    ``k / (n / coarse_n)`` (which must be a whole number).

    Parameters
    ----------
    config : TurbulenceData
        Coarse grid size.
    n : int
        Solver grid size, a multiple of ``coarse_n``.
    k : int, default 1
        Multiple of the Courant-0.5 step.

    Raises
    ------
    ValueError
        If ``k`` does not fit as described.
    """
    f = n // config.coarse_n
    if k < 1 or (k <= f and f % k) or (k > f and k % f):
        raise ValueError(f"step multiple k={k} does not fit {n}^2 (sub-steps per coarse step: {f})")
    return max(1, k // f)


def solve_on(scheme, c0, psi_corner, n: int, config: TurbulenceData, n_steps: int | None = None, k: int = 1):
    """Solve on ``n``^2 with the per-coarse-step velocities; return the trajectory coarse-grained to 32^2.

    ``psi_corner``: ``(steps, N, N)`` corner streamfunction on any grid ``N`` divisible by ``n``;
    ``c0``: the initial state on ``n``^2.  ``k``: the time step is ``k`` times today's Courant-0.5 step at
    ``n``^2 (so the Courant number is about ``k / 2``).  Returns ``(steps / s + 1, 32, 32)``: the states
    every ``s = stride(config, n, k)`` coarse steps.  A step longer than one coarse step uses the average
    of the velocities of the coarse steps it spans (still discretely divergence-free).

    Parameters
    ----------
    scheme : Stepper
        The stepper to run.
    c0 : array
        Initial state on the solver grid, ``(n, n)``.
    psi_corner : array
        Corner streamfunction per coarse step, ``(steps, N, N)``.
    n : int
        Solver grid size, a multiple of ``coarse_n``.
    config : TurbulenceData
        Coarse grid and coarse step.
    n_steps : int, optional
        Coarse steps to run; ``None`` (default) runs all of ``psi_corner``.  A multiple of the stride.
    k : int, default 1
        Multiple of the Courant-0.5 step (see :func:`stride`).

    Returns
    -------
    array
        ``(n_steps / s + 1, coarse_n, coarse_n)``, initial state first.
    """
    steps = psi_corner.shape[0] if n_steps is None else n_steps
    every = stride(config, n, k)
    spacing = config.grid(n).spacing
    if every == 1:
        return coarse_grained_rollout(
            scheme,
            c0,
            psi_corner,
            config.coarse_dt,
            spacing,
            steps,
            n // config.coarse_n,
            velocity_map=lambda psi: velocity_for(psi, n),
            sub_steps=n // config.coarse_n // k,
        )
    if steps % every:
        raise ValueError(f"{steps} coarse steps are not a whole number of steps of {every} coarse steps")
    psi = psi_corner[:steps]
    psi = psi.reshape(steps // every, every, *psi.shape[1:]).mean(axis=1)
    return coarse_grained_rollout(
        scheme,
        c0,
        psi,
        config.coarse_dt * every,
        spacing,
        steps // every,
        n // config.coarse_n,
        velocity_map=lambda p: velocity_for(p, n),
        sub_steps=1,
    )


def _fine_problem(config: TurbulenceData, seed: int, n_steps: int):
    """``(times, psi, c0, courant)`` of one sample on the fine grid: every coarse step's midpoint, pyqg's
    streamfunction at those times, the initial blobs, and the largest Courant number of the fine solver
    (refused above 1)."""
    times = midpoint_times(config, n_steps)
    psi = turbulence.streamfunction_history(config.flow, seed, times)  # (steps, 256, 256), our sign
    fine = config.grid(config.fine_n)
    courant = max_courant(velocity_for(psi, config.fine_n), config.coarse_dt / config.factor, fine.spacing)
    if courant > 1:
        raise RuntimeError(f"seed {seed}: Courant number {courant:.2f} > 1 at {config.fine_n}^2; reduce coarse_dt")
    c0 = jnp.asarray(gaussian_blobs(fine, seed, config.n_blobs, config.blob_width), psi.dtype)
    return times, psi, c0, courant


def _solve_fine(config: TurbulenceData, scheme, c0, psi) -> np.ndarray:
    """``scheme`` (a stepper) at ``fine_n``^2 from ``c0`` in the flow ``psi``, coarse-grained to ``coarse_n``."""
    return np.asarray(jax.jit(lambda c, p: solve_on(scheme, c, p, config.fine_n, config))(c0, psi))


def fine_solution(config: TurbulenceData, seed: int, n_steps: int, scheme: str = "vanleer") -> np.ndarray:
    """``scheme`` at ``fine_n``^2 (Courant 0.5) on one sample, coarse-grained: ``(n_steps + 1, coarse, coarse)``.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    seed : int
        Sample seed (flow and initial blobs).
    n_steps : int
        Number of coarse steps.
    scheme : str, default "vanleer"
        Name of the fine-grid scheme.

    Raises
    ------
    RuntimeError
        If the fine Courant number exceeds 1.
    """
    _, psi, c0, _ = _fine_problem(config, seed, n_steps)
    return _solve_fine(config, schemes.scheme(scheme), c0, psi)


def second_reference_path(
    config: TurbulenceData, data_dir: Path, split: str, seed: int, n_steps: int, scheme: str
) -> Path:
    """Cache location of one sample's solution by another fine-grid scheme (beside the sample).

    Parameters
    ----------
    config : TurbulenceData
        The data configuration (names the cache folder).
    data_dir : pathlib.Path
        Root of the data cache.
    split : str
        Data split, e.g. ``"train"`` or ``"test"``.
    seed : int
        Sample seed.
    n_steps : int
        Number of coarse steps.
    scheme : str
        Name of the fine-grid scheme.
    """
    return sample_path(config, data_dir, split, seed, n_steps).with_name(f"seed{seed:04d}-steps{n_steps}-{scheme}.nc")


def second_references(
    config: TurbulenceData, data_dir, split: str, seeds, n_steps: int, scheme: str = "ppm", progress: bool = True
) -> np.ndarray:
    """``scheme`` at ``fine_n``^2 on the samples ``seeds`` (generated and cached when missing), coarse-grained:
    ``(S, n_steps + 1, coarse, coarse)`` -- a second, independent reference (the samples' own is Van Leer).

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    data_dir : str or os.PathLike
        Root of the data cache.
    split : str
        Data split, e.g. ``"test"``.
    seeds : sequence of int
        Sample seeds, ``S`` of them.
    n_steps : int
        Number of coarse steps.
    scheme : str, default "ppm"
        Name of the fine-grid scheme.
    progress : bool, default True
        Show a progress bar while generating.

    Raises
    ------
    UserError
        If the result would not fit in memory or a cached file has the wrong shape.
    """
    from learned_advection.progress import progress_bar

    _check_fits(len(seeds), 4 * (n_steps + 1) * config.coarse_n**2, n_steps)
    paths = [second_reference_path(config, data_dir, split, s, n_steps, scheme) for s in seeds]
    todo = [(s, p) for s, p in zip(seeds, paths) if not p.exists()]
    for seed, path in progress_bar(
        todo, desc=f"{scheme} {config.fine_n}^2 reference", unit="seed", enabled=progress and bool(todo)
    ):
        path.parent.mkdir(parents=True, exist_ok=True)
        ds = xr.Dataset(
            {"concentration": (("time", "y", "x"), fine_solution(config, seed, n_steps, scheme).astype(np.float32))},
            attrs={
                "seed": seed,
                "reference": f"{scheme} at {config.fine_n}^2, coarse-grained",
                "learned_advection_version": __version__,
            },
        )
        write_dataset_atomic(ds, path, overwrite=True)
    out = []
    for path in paths:
        values = open_netcdf(path, "second reference")["concentration"].values
        if values.shape != (n_steps + 1, config.coarse_n, config.coarse_n):
            raise UserError(f"cached second reference {path} has shape {values.shape}; {_REGENERATE}")
        out.append(values)
    return np.stack(out)


def generate_sample(config: TurbulenceData, seed: int, n_steps: int) -> xr.Dataset:
    """One reference sample: pyqg velocity history + Van Leer at ``fine_n`` coarse-grained to ``coarse_n``.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    seed : int
        Sample seed (flow and initial blobs).
    n_steps : int
        Number of coarse steps.

    Returns
    -------
    xarray.Dataset
        ``concentration (time, y, x)`` = ``(n_steps + 1, coarse_n, coarse_n)`` and
        ``psi (step, y_corner, x_corner)`` = ``(n_steps, store_n, store_n)``, both float32.

    Raises
    ------
    RuntimeError
        If the fine Courant number exceeds 1.
    """
    times, psi, c0, courant = _fine_problem(config, seed, n_steps)
    ref = _solve_fine(config, schemes.VANLEER, c0, psi)
    f = config.fine_n // config.store_n
    psi_store = np.asarray(psi[:, f - 1 :: f, f - 1 :: f], dtype=np.float32)
    g = config.grid(config.coarse_n)
    gs = config.grid(config.store_n)
    return xr.Dataset(
        {
            "concentration": (
                ("time", "y", "x"),
                ref.astype(np.float32),
                {"long_name": "coarse-grained reference concentration"},
            ),
            "psi": (
                ("step", "y_corner", "x_corner"),
                psi_store,
                {"long_name": "streamfunction at cell corners (u = dpsi/dy, v = -dpsi/dx), held over each coarse step"},
            ),
        },
        coords={
            "time": ("time", config.flow.spinup + config.coarse_dt * np.arange(n_steps + 1)),
            "x": ("x", g.centres(1)),
            "y": ("y", g.centres(0)),
            "x_corner": ("x_corner", gs.faces(1)),
            "y_corner": ("y_corner", gs.faces(0)),
            "step_time": ("step", times),
        },
        attrs={
            "seed": seed,
            "reference": f"vanleer at {config.fine_n}^2, {config.factor} sub-steps per coarse step, block-mean coarse-grained",
            "coarse_dt": config.coarse_dt,
            "max_courant_fine": courant,
            "blobs": f"{config.n_blobs} Gaussian blobs of width {config.blob_width}",
            "velocity": "pyqg-jax BTModel 256^2, McWilliams-84 initial condition, beta=0, rek=0, rd=None",
            "learned_advection_version": __version__,
        },
    )


def sample_path(config: TurbulenceData, data_dir: Path, split: str, seed: int, n_steps: int) -> Path:
    """Cache location of one sample; the folder names the resolutions, so presets never mix.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration (fine and coarse grid, coarse step).
    data_dir : pathlib.Path
        Root of the data cache.
    split : str
        Data split, e.g. ``"train"`` or ``"test"``.
    seed : int
        Sample seed.
    n_steps : int
        Number of coarse steps.

    Returns
    -------
    pathlib.Path
        ``data_dir/turbulence/<fine>to<coarse>-dt<dt>/<split>/seed<seed>-steps<n_steps>.nc``.
    """
    tag = f"{config.fine_n}to{config.coarse_n}-dt{config.coarse_dt:g}"
    return Path(data_dir) / "turbulence" / tag / split / f"seed{seed:04d}-steps{n_steps}.nc"


def _existing_sample(config: TurbulenceData, data_dir, split: str, seed: int, n_steps: int) -> Path:
    """The cached sample of at least ``n_steps`` steps (the shortest such), else the path to generate."""
    exact = sample_path(config, data_dir, split, seed, n_steps)
    if exact.exists():
        return exact
    longer = []
    for p in exact.parent.glob(f"seed{seed:04d}-steps*.nc"):
        try:
            steps = int(p.stem.split("-steps")[1])
        except (IndexError, ValueError):
            continue
        if steps >= n_steps:
            longer.append((steps, p))
    return min(longer)[1] if longer else exact


def ensure_samples(
    config: TurbulenceData, data_dir, split: str, seeds, n_steps: int, progress: bool = True
) -> list[Path]:
    """Generate the missing samples (resumable: finished files are kept); return all their paths.

    A cached sample with at least ``n_steps`` steps is used instead of generating one.

    Parameters
    ----------
    config : TurbulenceData
        The data configuration.
    data_dir : str or os.PathLike
        Root of the data cache.
    split : str
        Data split, e.g. ``"train"`` or ``"test"``.
    seeds : sequence of int
        Sample seeds.
    n_steps : int
        Number of coarse steps.
    progress : bool, default True
        Show a progress bar while generating.

    Returns
    -------
    list of pathlib.Path
        One path per seed, in the order of ``seeds``.

    Raises
    ------
    UserError
        If the samples would not fit in memory, a cached file is not a usable sample, or the cache folder
        cannot be created.
    """
    from learned_advection.progress import progress_bar

    # the samples are stacked in memory afterwards (load_samples): refuse before generating hours of data
    per_sample = 4 * ((n_steps + 1) * config.coarse_n**2 + n_steps * config.store_n**2)  # float32
    _check_fits(len(seeds), per_sample, n_steps)
    paths = [_existing_sample(config, data_dir, split, s, n_steps) for s in seeds]
    for seed, path in zip(seeds, paths):  # a cached file that is not a sample of this config: one line naming it
        if path.exists():
            _sample_arrays(path, n_steps, config, seed)
    todo = [(s, p) for s, p in zip(seeds, paths) if not p.exists()]
    for seed, path in progress_bar(todo, desc=f"turbulence {split} data", unit="seed", enabled=progress and bool(todo)):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot create the reference cache folder {path.parent}: {e.strerror or e}") from None
        write_dataset_atomic(generate_sample(config, seed, n_steps), path, overwrite=True)
    return paths


_REGENERATE = "delete it and it is generated again"


def _check_fits(n_samples: int, per_sample: int, n_steps: int) -> None:
    """Refuse (one line) to stack ``n_samples`` samples of ``per_sample`` bytes that would not fit in memory
    (twice: the samples as read and the stacked copy)."""
    need = 2 * n_samples * per_sample
    available = available_memory()
    if available is not None and need > available:
        raise UserError(
            f"{n_samples} reference samples of {n_steps} steps need {need / 2**30:.1f} GiB of memory, "
            f"{available / 2**30:.1f} GiB are available: use fewer test seeds or steps"
        )


def _sample_arrays(
    path: Path, n_steps: int | None, config: TurbulenceData | None = None, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(concentration, psi)`` of a cached sample file, cut to ``n_steps``, after checking it is one
    (variables, dims, shapes, finite values; with ``config`` and ``seed`` also the grids and its seed).

    A file that is not (a foreign or corrupt file in the cache folder) is refused in one line naming
    it, rather than replaced: it may not be ours to delete.
    """
    try:
        ds = open_netcdf(path, "cached reference sample")
    except UserError as e:
        raise UserError(f"{e} ({_REGENERATE})") from None

    def refuse(reason: str):
        return UserError(f"cached reference sample {path} is not usable: {reason} ({_REGENERATE})")

    missing = [name for name in ("concentration", "psi") if name not in ds.data_vars]
    if missing:
        raise refuse(f"no variable {' or '.join(repr(m) for m in missing)}")
    c, psi = ds["concentration"].values, ds["psi"].values
    for name, values in (("concentration", c), ("psi", psi)):
        if values.ndim != 3 or not np.issubdtype(values.dtype, np.floating):
            raise refuse(
                f"{name!r} must be real numbers of dims (time, y, x), got dtype {values.dtype} and shape {values.shape}"
            )
    if c.shape[0] != psi.shape[0] + 1 or c.shape[1] != c.shape[2] or psi.shape[1] != psi.shape[2] or psi.shape[0] < 1:
        raise refuse(
            f"'concentration' {c.shape} and 'psi' {psi.shape} are not T+1 square states and T square streamfunctions"
        )
    if psi.shape[1] % c.shape[1]:
        raise refuse(f"the streamfunction grid {psi.shape[1]} is not a multiple of the concentration grid {c.shape[1]}")
    if n_steps is not None and psi.shape[0] < n_steps:
        raise refuse(f"it has {psi.shape[0]} steps, fewer than the {n_steps} needed")
    if config is not None and (c.shape[1] != config.coarse_n or psi.shape[1] != config.store_n):
        raise refuse(
            f"its grids are {c.shape[1]}^2 and {psi.shape[1]}^2, expected {config.coarse_n}^2 and {config.store_n}^2"
        )
    saved_seed = ds.attrs.get("seed")
    if seed is not None and saved_seed is not None and not (np.ndim(saved_seed) == 0 and saved_seed == seed):
        raise refuse(f"it holds seed {' '.join(str(saved_seed).split())[:40]}, not {seed}")
    if n_steps is not None:
        c, psi = c[: n_steps + 1], psi[:n_steps]
    if not (np.all(np.isfinite(c)) and np.all(np.isfinite(psi))):
        raise refuse("it contains NaN or Inf")
    return c, psi


def load_samples(paths, n_steps: int | None = None) -> dict[str, np.ndarray]:
    """Stack samples: ``concentration (S, T+1, 32, 32)`` and ``psi (S, T, 128, 128)``.

    Each file is checked first (variables, dims, shapes, finite values): a foreign or corrupt one is a one-line
    :class:`UserError` naming it.

    Parameters
    ----------
    paths : sequence of path
        Sample files (e.g. from :func:`ensure_samples`), all of the same shapes.
    n_steps : int, optional
        Steps to keep from each; ``None`` (default) keeps all.

    Returns
    -------
    dict of str to numpy.ndarray
        ``"concentration"`` ``(S, T + 1, y, x)`` and ``"psi"`` ``(S, T, y_corner, x_corner)``.
    """
    cs, ps = [], []
    for p in paths:
        c, psi = _sample_arrays(Path(p), n_steps)
        if not cs:
            _check_fits(len(paths), c.nbytes + psi.nbytes, psi.shape[0])
        if cs and (c.shape != cs[0].shape or psi.shape != ps[0].shape):
            raise UserError(
                f"cached reference sample {p} has shapes {c.shape} and {psi.shape}, unlike "
                f"{paths[0]} ({cs[0].shape} and {ps[0].shape}) ({_REGENERATE})"
            )
        cs.append(c)
        ps.append(psi)
    return {"concentration": np.stack(cs), "psi": np.stack(ps)}


def initial_on(config: TurbulenceData, seed: int, n: int) -> np.ndarray:
    """The sample's initial concentration on ``n``^2 (exact block mean of the fine initial field).

    Parameters
    ----------
    config : TurbulenceData
        The data configuration (fine grid and blobs).
    seed : int
        Sample seed.
    n : int
        Target grid size, a divisor of ``fine_n``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n, n)``.
    """
    fine = gaussian_blobs(config.grid(config.fine_n), seed, config.n_blobs, config.blob_width)
    return np.asarray(coarsen_concentration(jnp.asarray(fine), config.fine_n // n, 2))
