"""descend.landscapes: gradients against finite differences, the minima, the vectorized values."""

import numpy as np
import pytest

from descend import landscapes

EXTRA = [landscapes.quadratic(condition=100.0, dim=5), landscapes.Rosenbrock(a=2.0, b=10.0),
         landscapes.DoubleWell1D(tilt=0.5), landscapes.DoubleWell2D(tilt=1.5)]
LANDSCAPES = list(landscapes.ALL.values()) + EXTRA
IDS = [repr(land) for land in LANDSCAPES]


def random_points(land, rng, n):
    lo, hi = np.array(land.bounds).T
    return lo + (hi - lo) * rng.random((n, land.dim))


def test_registry():
    assert set(landscapes.ALL) == {"quadratic", "rosenbrock", "himmelblau", "saddle", "double_well_1d",
                                   "double_well_2d"}
    for name, land in landscapes.ALL.items():
        assert land.name == name
        assert landscapes.get(name) is land
    with pytest.raises(ValueError, match="unknown landscape 'nope'.*'rosenbrock'.*'double_well_2d'"):
        landscapes.get("nope")


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_interface(land):
    assert land.dim in (1, 2) or land.name == "quadratic"
    assert len(land.bounds) == land.dim and all(lo < hi for lo, hi in land.bounds)
    assert land.start.shape == (land.dim,)
    for lo_hi, s in zip(land.bounds, land.start):
        assert lo_hi[0] <= s <= lo_hi[1]
    for m in land.minima + land.local_minima:
        assert m.shape == (land.dim,)
    value, grad = land(land.start)
    assert isinstance(value, float) and grad.shape == (land.dim,) and grad.dtype == np.float64


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_gradient_matches_central_differences(land, rng):
    for x in random_points(land, rng, 5):
        _, grad = land(x)
        fd = np.empty(land.dim)
        for i in range(land.dim):
            h = 1e-6 * max(1.0, abs(x[i]))
            e = np.zeros(land.dim)
            e[i] = h
            fd[i] = (land(x + e)[0] - land(x - e)[0]) / (2 * h)
        np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-6 * max(1.0, np.max(np.abs(grad))))


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_minima_are_stationary_and_lowest(land, rng):
    for m in land.minima + land.local_minima:
        assert np.max(np.abs(land(m)[1])) <= 1e-10
        # a strict minimum: every nearby point is higher
        dirs = rng.standard_normal((50, land.dim))
        dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
        assert np.all(land.value(m + 1e-3 * dirs) > land(m)[0])
    best = [land(m)[0] for m in land.minima]
    np.testing.assert_allclose(best, best[0], rtol=0, atol=1e-12)
    for m in land.local_minima:
        assert land(m)[0] > best[0] + 1e-3
    n = int(round(2000 ** (1 / land.dim)))
    grid = np.stack(np.meshgrid(*[np.linspace(lo, hi, n) for lo, hi in land.bounds], indexing="ij"), axis=-1)
    assert land.value(grid).min() >= best[0] - 1e-12
    assert land.value(random_points(land, rng, 2000)).min() >= best[0] - 1e-12


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_value_is_call_elementwise(land):
    axes = [np.linspace(lo, hi, (7 if land.dim <= 2 else 3) + i) for i, (lo, hi) in enumerate(land.bounds)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1)
    values = land.value(grid)
    assert values.shape == grid.shape[:-1]
    expected = np.array([land(p)[0] for p in grid.reshape(-1, land.dim)]).reshape(values.shape)
    np.testing.assert_allclose(values, expected, rtol=1e-14, atol=0)
    grads = land.gradient(grid)
    expected = np.array([land(p)[1] for p in grid.reshape(-1, land.dim)]).reshape(grads.shape)
    np.testing.assert_allclose(grads, expected, rtol=1e-14, atol=0)


def test_quadratic():
    q = landscapes.quadratic(condition=25.0, dim=4)
    assert (q.L, q.mu, q.dim) == (25.0, 1.0, 4)
    np.testing.assert_array_equal(q.h, [1.0, 9.0, 17.0, 25.0])
    x = np.array([1.0, -2.0, 0.5, 3.0])
    value, grad = q(x)
    assert value == 0.5 * (1 + 9 * 4 + 17 * 0.25 + 25 * 9)
    np.testing.assert_array_equal(grad, [1.0, -18.0, 8.5, 75.0])
    default = landscapes.get("quadratic")
    assert (default.L, default.mu, default.dim) == (10.0, 1.0, 2)
    np.testing.assert_array_equal(default.start, [-4.0, 1.0])
    assert landscapes.quadratic(dim=1, condition=1).L == 1.0
    with pytest.raises(ValueError, match="condition"):
        landscapes.quadratic(condition=0.5)
    with pytest.raises(ValueError, match="condition must be 1"):
        landscapes.quadratic(dim=1)
    with pytest.raises(ValueError, match="dim"):
        landscapes.quadratic(dim=0)


def test_rosenbrock():
    r = landscapes.rosenbrock
    np.testing.assert_array_equal(r.minima[0], [1.0, 1.0])
    np.testing.assert_array_equal(r.start, [-1.2, 1.0])
    value, grad = r(np.array([-1.2, 1.0]))
    assert value == pytest.approx(24.2, rel=1e-14)
    np.testing.assert_allclose(grad, [-215.6, -88.0], rtol=1e-14)


def test_himmelblau_minima():
    h = landscapes.himmelblau
    assert len(h.minima) == 4 and h.local_minima == ()
    published = [(3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186), (3.584428, -1.848126)]
    for m, p in zip(h.minima, published):
        np.testing.assert_allclose(m, p, atol=1e-6)
        value, grad = h(m)
        assert 0.0 <= value <= 1e-20
        assert np.max(np.abs(grad)) <= 1e-12
    assert len({tuple(np.round(m, 3)) for m in h.minima}) == 4


def test_saddle():
    s = landscapes.saddle
    np.testing.assert_array_equal(s.start, [1.0, 1e-3])
    value, grad = s(s.saddle_point)
    assert value == 0.0 and np.all(grad == 0.0)
    # down along y, up along x: a saddle, not a minimum
    assert s(np.array([0.0, 1e-3]))[0] < 0.0 < s(np.array([1e-3, 0.0]))[0]
    for m in s.minima:
        assert s(m)[0] == pytest.approx(-1.0, abs=1e-15)
        assert abs(m[1]) == pytest.approx(np.sqrt(2.0), rel=1e-15)


@pytest.mark.parametrize("tilt", [1.0, 0.3])
def test_double_well_stationary_points(tilt):
    roots = np.sort(np.roots([4.0, 0.0, -4.0, tilt]).real)  # f'(x) = 4x^3 - 4x + tilt
    one, two = landscapes.DoubleWell1D(tilt=tilt), landscapes.DoubleWell2D(tilt=tilt)
    np.testing.assert_allclose(one.minima[0], [roots[0]], rtol=1e-13)
    np.testing.assert_allclose(one.local_minima[0], [roots[2]], rtol=1e-13)
    np.testing.assert_allclose(two.minima[0], [roots[0], 0.0], rtol=1e-13)
    np.testing.assert_allclose(two.local_minima[0], [roots[2], 0.0], rtol=1e-13)
    f = lambda x: (x * x - 1) ** 2 + tilt * x  # noqa: E731
    assert one(one.minima[0])[0] == pytest.approx(f(roots[0]), rel=1e-14)
    if tilt == 1.0:
        # the documented figures: the local well is shallow, 0.20 deep, the global one far lower
        assert f(roots[1]) - f(roots[2]) == pytest.approx(0.2029, abs=1e-4)
        assert f(roots[2]) - f(roots[0]) == pytest.approx(1.9828, abs=1e-4)
        np.testing.assert_array_equal(one.start, [1.8])
        np.testing.assert_array_equal(two.start, [1.8, 1.0])
    with pytest.raises(ValueError, match="tilt"):
        landscapes.DoubleWell1D(tilt=2.0)


def test_scalar_point_for_1d():
    w = landscapes.double_well_1d
    value, grad = w(0.5)
    assert grad.shape == ()
    assert (value, float(grad)) == (w(np.array([0.5]))[0], float(w(np.array([0.5]))[1][0]))
    assert w.value(np.array([[0.5], [1.0]])).shape == (2,)


def test_bad_points():
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        landscapes.rosenbrock(np.zeros(3))
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        landscapes.rosenbrock.value(np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"shape \(1,\)"):
        landscapes.double_well_1d(np.zeros(2))


def test_frozen():
    r = landscapes.rosenbrock
    with pytest.raises(AttributeError, match="immutable"):
        r.start = np.zeros(2)
    with pytest.raises(AttributeError):
        del r.name
    with pytest.raises(ValueError, match="read-only"):
        r.start[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        r.minima[0][0] = 0.0
