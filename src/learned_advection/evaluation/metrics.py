"""Error metrics and diagnostics of trajectories against a reference (pure numpy functions).

Computed in float64 unless stated.  Fields are ``(sample, time, y, x)`` unless stated; per-step
results are ``(time,)`` averages over samples.  (The training losses are in
:mod:`learned_advection.learned.losses`.)
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Array, Float


def mae_per_step(
    prediction: Float[Array, "sample time *space"], reference: Float[Array, "sample time *space"], ndim: int
) -> np.ndarray:
    """MAE at each time step, averaged over samples and space: ``(time,)``.

    Parameters
    ----------
    prediction
        Trajectories ``(sample, time, *space)``.
    reference
        Reference trajectories of the same shape.
    ndim
        Number of space axes (1 or 2).
    """
    err = np.abs(np.asarray(prediction, dtype=np.float64) - np.asarray(reference, dtype=np.float64))
    axes = (0,) + tuple(range(err.ndim - ndim, err.ndim))
    return err.mean(axis=axes)


def mean_over_steps(per_step, first: int = 1, last: int | None = None) -> float:
    """Mean of a per-step curve over steps ``first..last`` (inclusive; default: to the end).

    Parameters
    ----------
    per_step
        A curve ``(time,)``, e.g. from :func:`mae_per_step`.
    first
        First step included (1 skips the initial state).
    last
        Last step included; ``None``: the last point.
    """
    per_step = np.asarray(per_step, dtype=np.float64)
    stop = len(per_step) if last is None else last + 1
    if not 0 <= first < stop <= len(per_step):
        raise ValueError(f"steps {first}..{last} are outside a curve of {len(per_step)} points")
    return float(per_step[first:stop].mean())


def _f64(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def mae_per_sample(pred, ref) -> np.ndarray:
    """Mean absolute error over space (the last two axes), per sample and step: ``(sample, time)``.

    Parameters
    ----------
    pred
        Prediction, ``(..., y, x)``.
    ref
        Reference of the same shape.
    """
    return np.abs(_f64(pred) - _f64(ref)).mean(axis=(-2, -1))


def relative_l1(pred, ref) -> np.ndarray:
    """Normalised l1 error over space (the last two axes): ``sum |pred - ref| / sum |ref|``.

    Parameters
    ----------
    pred
        Prediction, ``(..., y, x)``.
    ref
        Reference of the same shape.
    """
    pred, ref = _f64(pred), _f64(ref)
    return np.abs(pred - ref).sum(axis=(-2, -1)) / np.abs(ref).sum(axis=(-2, -1))


def mass_change(c, initial, ndim: int = 2) -> np.ndarray:
    """Change of the total mass (sum over the last ``ndim`` axes) relative to ``sum |initial|``.

    ``(sum c - sum initial) / sum |initial|`` (``sum |initial| = 0``: the plain change), in the
    arrays' own precision; ``initial`` broadcasts against ``c`` once summed.

    Parameters
    ----------
    c
        Fields ``(..., *space)``.
    initial
        The initial fields.
    ndim
        Number of space axes summed over.
    """
    c, initial = np.asarray(c), np.asarray(initial)
    axes = tuple(range(-ndim, 0))
    scale = np.abs(initial).sum(axis=axes)
    return (c.sum(axis=axes) - initial.sum(axis=axes)) / np.where(scale > 0, scale, 1)


def r2(pred, ref) -> np.ndarray:
    """Coefficient of determination per sample and step: ``1 - SS_res / SS_tot`` over space.

    Parameters
    ----------
    pred
        Prediction, ``(..., y, x)``.
    ref
        Reference of the same shape.
    """
    pred, ref = _f64(pred), _f64(ref)
    ss_res = ((pred - ref) ** 2).sum(axis=(-2, -1))
    ss_tot = ((ref - ref.mean(axis=(-2, -1), keepdims=True)) ** 2).sum(axis=(-2, -1))
    return 1.0 - ss_res / np.where(ss_tot > 0, ss_tot, np.inf)


def nrmse(pred, ref) -> np.ndarray:
    """Root-mean-square error normalised by the reference's RMS, per sample and step.

    Parameters
    ----------
    pred
        Prediction, ``(..., y, x)``.
    ref
        Reference of the same shape.
    """
    pred, ref = _f64(pred), _f64(ref)
    rms = np.sqrt((ref**2).mean(axis=(-2, -1)))
    return np.sqrt(((pred - ref) ** 2).mean(axis=(-2, -1))) / np.where(rms > 0, rms, np.inf)


def correlation(pred, ref) -> np.ndarray:
    """Pearson correlation over space, per sample and step (1 for two constant fields).

    Parameters
    ----------
    pred
        Prediction, ``(..., y, x)``.
    ref
        Reference of the same shape.
    """
    pred, ref = _f64(pred), _f64(ref)
    p = pred - pred.mean(axis=(-2, -1), keepdims=True)
    r = ref - ref.mean(axis=(-2, -1), keepdims=True)
    num = (p * r).sum(axis=(-2, -1))
    den = np.sqrt((p**2).sum(axis=(-2, -1)) * (r**2).sum(axis=(-2, -1)))
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)


def entropy(c, initial) -> np.ndarray:
    """Paper Eq. 10: ``S = -beta sum C log C`` with negatives set to 0, ``0 log 0 = 0``.

    ``c``: ``(..., y, x)``; ``initial``: the matching initial fields ``(..., y, x)`` (broadcastable)
    that set both the scaling of C to [0, 1] (divide by the initial maximum) and beta (S = 1 initially).

    Parameters
    ----------
    c
        Fields ``(..., y, x)``.
    initial
        The matching initial fields (broadcastable).
    """
    c, initial = _f64(c), _f64(initial)
    scale = initial.max(axis=(-2, -1), keepdims=True)
    scale = np.where(scale > 0, scale, 1.0)

    def s(field):
        field = np.clip(field / scale, 0.0, None)
        return -(np.where(field > 0, field * np.log(np.where(field > 0, field, 1.0)), 0.0)).sum(axis=(-2, -1))

    s0 = s(initial)
    return s(c) / np.where(s0 != 0, s0, 1.0)


def blown_up(pred, ref, threshold: float = 1.0) -> np.ndarray:
    """``(sample,)``: non-finite anywhere, or absolute error above ``threshold`` anywhere (paper Fig. 9).

    Checks the last step of each sample's trajectory.

    Parameters
    ----------
    pred
        Trajectories ``(sample, time, y, x)``.
    ref
        Reference trajectories of the same shape.
    threshold
        Largest absolute error at the last step that is not a blow-up.
    """
    pred, ref = _f64(pred), _f64(ref)
    last_p, last_r = pred[:, -1], ref[:, -1]
    bad = ~np.isfinite(last_p).all(axis=(-2, -1))
    err = np.abs(np.nan_to_num(last_p, nan=np.inf) - last_r).max(axis=(-2, -1))
    return bad | (err > threshold)


def checkerboard(c) -> np.ndarray:
    """Share of the (mean-removed) variance in the grid-scale modes: (-1)^(i+j), (-1)^i and (-1)^j.

    Smooth fields give ~0, a pure checkerboard gives 1.

    Parameters
    ----------
    c
        Fields ``(..., y, x)``.
    """
    c = _f64(c)
    c = c - c.mean(axis=(-2, -1), keepdims=True)
    ny, nx = c.shape[-2:]
    sy = (-1.0) ** np.arange(ny)[:, None]
    sx = (-1.0) ** np.arange(nx)[None, :]
    var = (c**2).sum(axis=(-2, -1))
    power = 0.0
    for mode in (sy * sx, sy * np.ones((1, nx)), np.ones((ny, 1)) * sx):
        amp = (c * mode).sum(axis=(-2, -1)) / mode.size
        power = power + amp**2 * mode.size
    return np.where(var > 0, power / np.where(var > 0, var, 1.0), 0.0)


def variance_spectrum(c) -> tuple[np.ndarray, np.ndarray]:
    """Isotropic scalar-variance spectrum of ``(..., n, n)``: ``(wavenumbers, E(k))`` with sum E = variance.

    Parameters
    ----------
    c
        Square fields ``(..., n, n)``.
    """
    c = _f64(c)
    n = c.shape[-1]
    c = c - c.mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fft2(c)) ** 2 / n**4
    ky = np.fft.fftfreq(n, 1.0 / n)[:, None]
    kx = np.fft.fftfreq(n, 1.0 / n)[None, :]
    shell = np.rint(np.hypot(ky, kx)).astype(int)
    k = np.arange(shell.max() + 1)
    spectrum = np.stack([power[..., shell == kk].sum(axis=-1) for kk in k], axis=-1)
    return k, spectrum


def correlation_time(corr, times, threshold: float = 0.9, n_boot: int = 1000, seed: int = 0) -> dict:
    """First time the sample-mean Pearson correlation drops below ``threshold``, with a bootstrap 95% interval.

    Returns ``{"time", "low", "high"}`` (``None`` where it never drops).

    Parameters
    ----------
    corr
        Correlations ``(sample, time)``, e.g. from :func:`correlation`.
    times
        The time of each step.
    threshold
        The correlation level.
    n_boot
        Bootstrap resamples of the samples.
    seed
        Seed of the bootstrap.
    """
    corr, times = _f64(corr), _f64(times)

    def first_below(mean_curve):
        idx = np.nonzero(mean_curve < threshold)[0]
        return float(times[idx[0]]) if idx.size else float("inf")

    estimate = first_below(corr.mean(axis=0))
    rng = np.random.default_rng(seed)
    boots = np.array([first_below(corr[rng.integers(0, len(corr), len(corr))].mean(axis=0)) for _ in range(n_boot)])
    lo, hi = np.percentile(boots, [2.5, 97.5], method="nearest")  # no interpolation with inf

    def clean(v):
        return None if not np.isfinite(v) else float(v)

    return {"time": clean(estimate), "low": clean(lo), "high": clean(hi), "threshold": threshold}
