"""Grids and initial states: the test and training grids, the random streams and the training initial
conditions (blob ensembles and binarised Fourier series).
"""

from __future__ import annotations

import numpy as np

from learned_advection.experiments.deformation_2d.presets import PURPOSES, Preset
from learned_advection.numerics.grids import Grid


def test_grid(preset: Preset, factor: int = 1) -> Grid:
    """The test grid on ``[0, 1]^2``, refined ``factor`` times.

    Parameters
    ----------
    preset : Preset
        Supplies ``test_n``.
    factor : int, default 1
        Refinement factor.
    """
    return Grid.square(preset.test_n * factor, 1.0)


def train_grid(preset: Preset, factor: int = 1) -> Grid:
    """The periodic training box, refined ``factor`` times.

    Parameters
    ----------
    preset : Preset
        Supplies ``train_n`` and ``train_length``.
    factor : int, default 1
        Refinement factor.
    """
    return Grid.square(preset.train_n * factor, preset.train_length)


def rng_for(seed: int, purpose: str) -> np.random.Generator:
    """An independent random stream of this experiment for ``(seed, purpose)``.

    Parameters
    ----------
    seed : int
        Integer seed.
    purpose : {"train", "validation"}
        Which stream.
    """
    return np.random.default_rng([int(seed), PURPOSES[purpose], 20200502])


def _periodic_distance(grid: Grid, centre) -> np.ndarray:
    Y, X = grid.mesh()
    ly, lx = grid.length
    dy = (Y - centre[0] + ly / 2) % ly - ly / 2
    dx = (X - centre[1] + lx / 2) % lx - lx / 2
    return np.hypot(dy, dx)


def blob_ensemble(rng: np.random.Generator, fine: Grid, dx_coarse: float) -> np.ndarray:
    """1-5 Gaussian or cosine-bell blobs (widths 1-5 / radii 3-12 coarse cells), heights U[0.3, 1].

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    fine : Grid
        2-D grid the field is sampled on (cell centres, periodic distances).
    dx_coarse : float
        Coarse cell width, the unit of the blob sizes.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``fine.shape``.
    """
    c = np.zeros(fine.shape)
    for _ in range(int(rng.integers(1, 6))):
        centre = (rng.uniform(0, fine.length[0]), rng.uniform(0, fine.length[1]))
        r = _periodic_distance(fine, centre)
        h = rng.uniform(0.3, 1.0)
        if rng.random() < 0.5:
            s = rng.uniform(1.0, 5.0) * dx_coarse
            c += h * np.exp(-0.5 * (r / s) ** 2)
        else:
            rad = rng.uniform(3.0, 12.0) * dx_coarse
            c += h * 0.5 * (1.0 + np.cos(np.pi * np.minimum(1.0, r / rad)))
    return c


def binary_fourier(rng: np.random.Generator, fine: Grid) -> np.ndarray:
    """A random Fourier series (``|k| <= K``, ``K`` in 2..5) thresholded at a random quantile: sharp 0/h patches.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    fine : Grid
        2-D grid the field is sampled on.

    Returns
    -------
    numpy.ndarray
        Shape ``(y, x)`` = ``fine.shape``; values 0 and ``h ~ U[0.3, 1]``.
    """
    kmax = int(rng.integers(2, 6))
    Y, X = fine.mesh()
    ly, lx = fine.length
    f = np.zeros(fine.shape)
    for ky in range(-kmax, kmax + 1):
        for kx in range(0, kmax + 1):
            if (kx == 0 and ky <= 0) or kx * kx + ky * ky > kmax * kmax:
                continue
            f += rng.normal() * np.cos(2 * np.pi * (ky * Y / ly + kx * X / lx) + rng.uniform(0, 2 * np.pi))
    level = np.quantile(f, rng.uniform(0.5, 0.85))
    return rng.uniform(0.3, 1.0) * (f > level).astype(float)


def training_initial_condition(rng: np.random.Generator, kind: str, fine: Grid, dx_coarse: float) -> np.ndarray:
    """A :func:`blob_ensemble` for ``kind == "blobs"``, else a :func:`binary_fourier` field.

    Parameters
    ----------
    rng : numpy.random.Generator
        Random stream.
    kind : {"blobs", "binary"}
        Which family.
    fine : Grid
        2-D grid the field is sampled on.
    dx_coarse : float
        Coarse cell width (blob sizes).
    """
    return blob_ensemble(rng, fine, dx_coarse) if kind == "blobs" else binary_fourier(rng, fine)
