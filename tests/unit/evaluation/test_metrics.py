import numpy as np

from learned_advection.evaluation import metrics as D


def _fields(seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(size=(3, 4, 16, 16))


def test_perfect_prediction():
    ref = _fields()
    np.testing.assert_allclose(D.r2(ref, ref), 1.0)
    np.testing.assert_allclose(D.mae_per_sample(ref, ref), 0.0)
    np.testing.assert_allclose(D.nrmse(ref, ref), 0.0)
    np.testing.assert_allclose(D.correlation(ref, ref), 1.0)
    assert not D.blown_up(ref, ref).any()


def test_entropy_normalised_and_increases_under_smoothing():
    c0 = np.zeros((16, 16))
    c0[4:8, 4:8] = 1.0
    smooth = 0.25 * (np.roll(c0, 1, 0) + np.roll(c0, -1, 0) + np.roll(c0, 1, 1) + np.roll(c0, -1, 1))
    c0 = c0 + 0.1
    smooth = smooth + 0.1
    assert D.entropy(c0, c0) == 1.0
    assert D.entropy(smooth, c0) > 1.0
    assert np.isfinite(D.entropy(c0 - 0.5, c0))  # negatives are clipped, 0 log 0 = 0


def test_checkerboard_indicator():
    j, i = np.meshgrid(np.arange(16), np.arange(16), indexing="ij")
    board = (-1.0) ** (i + j)
    smooth = np.sin(2 * np.pi * i / 16) + np.cos(2 * np.pi * j / 16)
    assert D.checkerboard(board) == 1.0
    assert D.checkerboard(smooth) < 1e-12
    assert np.isclose(D.checkerboard(smooth + 0.5 * board), 0.25 / 1.25)  # board variance 0.25, smooth 1


def test_blowup_detection():
    ref = _fields()
    pred = ref.copy()
    pred[0, -1, 3, 3] = np.nan
    pred[2, -1, 0, 0] += 1.5
    np.testing.assert_array_equal(D.blown_up(pred, ref), [True, False, True])


def test_variance_spectrum_sums_to_variance():
    c = _fields()[0, 0]
    k, e = D.variance_spectrum(c)
    assert np.isclose(e.sum(), c.var())
    assert k[0] == 0 and e[0] < 1e-20


def test_correlation_time_with_interval():
    times = np.arange(10.0)
    corr = np.tile(np.linspace(1.0, 0.5, 10), (5, 1)) + np.random.default_rng(0).normal(0, 0.01, (5, 10))
    out = D.correlation_time(corr, times)
    assert out["time"] is not None and out["low"] <= out["time"] <= out["high"]
    assert D.correlation_time(np.ones((3, 10)), times)["time"] is None


def test_relative_l1_and_mass_change():
    c0 = np.zeros((8, 8))
    c0[2:4, 2:4] = 1.0  # mass 4
    assert D.relative_l1(np.roll(c0, 1, axis=1), c0) == 1.0  # half the block moves: 4 cells differ by 1
    assert D.relative_l1(c0, c0) == 0.0
    traj = np.stack([c0, 1.5 * c0, c0 - 0.25])  # masses 4, 6, -12
    np.testing.assert_allclose(D.mass_change(traj, c0), [0.0, 0.5, -4.0])
    signed = np.array([1.0, -1.0, 2.0])  # sum 2, sum of |C| 4: the change is relative to the latter
    assert D.mass_change(signed + 1.0, signed, ndim=1) == 0.75
    assert D.mass_change(np.ones(4), np.zeros(4), ndim=1) == 4.0  # nothing to scale by: the plain change
