"""Second, independent references: the samples solved by another fine-grid scheme, cached beside them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from learned_advection._version import __version__
from learned_advection.data.netcdf import open_netcdf, write_dataset_atomic
from learned_advection.data.turbulence.cache import _REGENERATE, _check_fits, sample_path
from learned_advection.data.turbulence.flow import TurbulenceData
from learned_advection.data.turbulence.generation import fine_solution
from learned_advection.errors import UserError


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
