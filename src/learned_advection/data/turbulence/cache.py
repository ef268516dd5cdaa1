"""The per-seed netCDF cache of reference samples: where they lie, generating the missing ones, loading them."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from learned_advection.data.netcdf import open_netcdf, write_dataset_atomic
from learned_advection.data.turbulence.flow import TurbulenceData
from learned_advection.data.turbulence.generation import generate_sample
from learned_advection.errors import UserError
from learned_advection.files import available_memory


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
