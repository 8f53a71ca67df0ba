"""Small test functions with exact gradients and known minima, to watch optimizers at work.

Every landscape is a frozen :class:`Landscape`: call it on a point to get ``(value, gradient)``
(the form :func:`descend.minimize` takes), or evaluate :meth:`Landscape.value` on a grid
for contour plots::

    from descend import landscapes
    from descend import minimize

    well = landscapes.double_well_1d
    minimize(well, well.start, optimizer="sgd", lr=0.01).x        # the shallow local minimum
    minimize(well, well.start, optimizer="momentum", lr=0.01).x   # the global one

- ``quadratic``: ``1/2 sum_i h_i x_i^2`` with curvatures from 1 to L; plain gradient descent
  converges iff ``lr < 2 / L``, at rate ``1 - lr mu``.
- ``rosenbrock``: ``(1 - x)^2 + 100 (y - x^2)^2``, a curved valley, easy to find, slow to follow.
- ``himmelblau``: ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2``, four global minima; the start and the
  optimizer pick one.
- ``saddle``: ``x^2 - y^2 + y^4 / 4``, a saddle that gradient descent leaves in ``log(1 / y0)``
  steps.
- ``double_well_1d``: ``(x^2 - 1)^2 + x``, a shallow local minimum where plain descent stops and
  momentum does not.
- ``double_well_2d``: ``(x^2 - 1)^2 + x + y^2``, the same in 2-D.

``ALL`` maps each name to a default instance and :func:`get` looks one up by name;
:func:`quadratic` builds bowls of other conditioning and dimension.
"""

from __future__ import annotations

import numbers

import numpy as np

__all__ = ["Landscape", "Quadratic", "Rosenbrock", "Himmelblau", "Saddle", "DoubleWell1D", "DoubleWell2D",
           "quadratic", "rosenbrock", "himmelblau", "saddle", "double_well_1d", "double_well_2d", "ALL", "get"]


def _frozen_array(values) -> np.ndarray:
    arr = np.array(values, dtype=np.float64)
    arr.setflags(write=False)
    return arr


def _newton(gradient, hessian, x, max_steps=50) -> np.ndarray:
    """Polish a stationary point of a smooth function to machine precision."""
    x = np.array(x, dtype=np.float64)
    for _ in range(max_steps):
        dx = np.linalg.solve(np.atleast_2d(hessian(x)), np.atleast_1d(gradient(x))).reshape(x.shape)
        x = x - dx
        if np.max(np.abs(dx)) <= 4 * np.finfo(float).eps * max(1.0, float(np.max(np.abs(x)))):
            break
    return x


class Landscape:
    """A function of ``dim`` variables with its exact gradient and known minima.

    Attributes
    ----------
    name : str
        The key of the landscape in :data:`ALL`.
    dim : int
        Number of variables.
    bounds : tuple of (float, float)
        One ``(low, high)`` range per variable, a good window for plots.
    start : ndarray of shape (dim,)
        A default starting point that shows what the landscape is about.
    minima : tuple of ndarray
        The global minima (exact, or polished by Newton's method to machine precision).
    local_minima : tuple of ndarray
        The minima that are not global (empty if there are none).

    Instances are immutable; arrays they hold are read-only.
    """

    name: str
    dim: int
    bounds: tuple
    start: np.ndarray
    minima: tuple
    local_minima: tuple

    def __init__(self, *, name, dim, bounds, start, minima, local_minima=()):
        values = dict(name=str(name), dim=int(dim),
                      bounds=tuple((float(lo), float(hi)) for lo, hi in bounds),
                      start=_frozen_array(start),
                      minima=tuple(_frozen_array(m) for m in minima),
                      local_minima=tuple(_frozen_array(m) for m in local_minima))
        for key, value in values.items():
            object.__setattr__(self, key, value)

    def __setattr__(self, key, value):
        raise AttributeError(f"{type(self).__name__} is immutable; build a new landscape instead")

    def __delattr__(self, key):
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __repr__(self):
        return f"<{type(self).__name__} {self.name!r}, dim={self.dim}>"

    def __call__(self, x) -> tuple[float, np.ndarray]:
        """Value and gradient at one point.

        Parameters
        ----------
        x : array_like of shape (dim,)
            The point (for ``dim == 1`` a scalar is accepted too).

        Returns
        -------
        value : float
        gradient : ndarray of the shape of ``x``
        """
        arr = np.asarray(x, dtype=np.float64)
        if arr.shape != (self.dim,) and not (self.dim == 1 and arr.shape == ()):
            raise ValueError(f"{self.name}: x must have shape ({self.dim},), got shape {arr.shape}")
        p = arr.reshape(self.dim)
        with np.errstate(over="ignore", invalid="ignore"):
            return float(self._value(p)), self._gradient(p).reshape(arr.shape)

    def value(self, points) -> np.ndarray:
        """Values at many points at once: ``points`` of shape (..., dim) give shape (...)."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim == 0 or p.shape[-1] != self.dim:
            raise ValueError(f"{self.name}: points must have shape (..., {self.dim}), got shape {p.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            return np.asarray(self._value(p), dtype=np.float64)

    def gradient(self, points) -> np.ndarray:
        """Gradients at many points at once: shape (..., dim) in, shape (..., dim) out."""
        p = np.asarray(points, dtype=np.float64)
        if p.ndim == 0 or p.shape[-1] != self.dim:
            raise ValueError(f"{self.name}: points must have shape (..., {self.dim}), got shape {p.shape}")
        with np.errstate(over="ignore", invalid="ignore"):
            return self._gradient(p)

    # Subclasses implement both on arrays of shape (..., dim).
    def _value(self, p):  # pragma: no cover - abstract
        raise NotImplementedError

    def _gradient(self, p):  # pragma: no cover - abstract
        raise NotImplementedError


class Quadratic(Landscape):
    """An ill-conditioned bowl ``f(x) = 1/2 sum_i h_i x_i^2``, minimum 0 at the origin.

    The curvatures ``h`` are evenly spaced from ``mu = 1`` to ``L = condition``, so ``L`` is the
    Lipschitz constant of the gradient and ``mu`` the strong-convexity constant. Plain gradient
    descent with step ``lr`` multiplies coordinate i by ``1 - lr h_i`` each step: it converges iff
    ``0 < lr < 2 / L``, and the slowest coordinate shrinks by ``|1 - lr mu|`` per step when
    ``lr <= 2 / (L + mu)``. The start, ``(-4, 1, ..., 1)``, lies far out along the flat
    direction and off-axis in the steep ones, so an oversized step zig-zags.

    Parameters
    ----------
    condition : float, default=10.0
        ``L / mu``, at least 1 (exactly 1 when ``dim == 1``).
    dim : int, default=2
        Number of variables.
    """

    def __init__(self, condition=10.0, dim=2):
        if isinstance(dim, bool) or not isinstance(dim, numbers.Integral) or dim < 1:
            raise ValueError(f"dim must be a positive int, got {dim!r}")
        if isinstance(condition, bool) or not isinstance(condition, numbers.Real):
            raise TypeError(f"condition must be a real number, got {condition!r}")
        condition = float(condition)
        if not (np.isfinite(condition) and condition >= 1):
            raise ValueError(f"condition must be a finite number >= 1, got {condition}")
        if dim == 1 and condition != 1:
            raise ValueError(f"a 1-D quadratic has a single curvature: condition must be 1, got {condition}")
        dim = int(dim)
        start = np.ones(dim)
        start[0] = -4.0
        super().__init__(name="quadratic", dim=dim, bounds=((-5.0, 5.0),) * dim, start=start,
                         minima=(np.zeros(dim),))
        object.__setattr__(self, "h", _frozen_array(np.linspace(1.0, condition, dim)))
        object.__setattr__(self, "mu", 1.0)
        object.__setattr__(self, "L", condition)
        object.__setattr__(self, "condition", condition)

    def __repr__(self):
        return f"<Quadratic 'quadratic', dim={self.dim}, condition={self.condition:g}>"

    def _value(self, p):
        return 0.5 * np.sum(self.h * p * p, axis=-1)

    def _gradient(self, p):
        return self.h * p


class Rosenbrock(Landscape):
    """Rosenbrock's valley ``f(x, y) = (a - x)^2 + b (y - x^2)^2``, minimum 0 at ``(a, a^2)``.

    With ``a = 1, b = 100`` (the default) the valley floor is a parabola that is easy to find and
    slow to follow; the classic start is ``(-1.2, 1)``.
    """

    def __init__(self, a=1.0, b=100.0):
        a, b = float(a), float(b)
        if not (np.isfinite(a) and np.isfinite(b) and b > 0):
            raise ValueError(f"Rosenbrock needs finite a and b > 0, got a={a}, b={b}")
        bounds = ((min(-2.0, a - 1.0), max(2.0, a + 1.0)), (-1.0, max(3.0, a * a + 1.0)))
        super().__init__(name="rosenbrock", dim=2, bounds=bounds, start=(-1.2, 1.0),
                         minima=((a, a * a),))
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", b)

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return (self.a - x) ** 2 + self.b * (y - x * x) ** 2

    def _gradient(self, p):
        x, y = p[..., 0], p[..., 1]
        r = y - x * x
        return np.stack([-2.0 * (self.a - x) - 4.0 * self.b * x * r, 2.0 * self.b * r], axis=-1)


class Himmelblau(Landscape):
    """Himmelblau's function ``f(x, y) = (x^2 + y - 11)^2 + (x + y^2 - 7)^2``.

    Four global minima of value 0: ``(3, 2)`` and three irrational ones, here to machine precision
    (Newton's method from their 15-digit values); a local maximum near ``(-0.27, -0.92)`` and four
    saddles between them. The start ``(0, 0)`` is near the middle: which minimum a run ends in
    depends on the optimizer.
    """

    _APPROX_MINIMA = ((3.0, 2.0), (-2.805118086952745, 3.131312518250573),
                      (-3.779310253377747, -3.283185991286170), (3.584428340330492, -1.848126526964404))

    def __init__(self):
        minima = [np.array([3.0, 2.0])] + [_newton(self._gradient, self._hessian, m) for m in self._APPROX_MINIMA[1:]]
        super().__init__(name="himmelblau", dim=2, bounds=((-5.0, 5.0), (-5.0, 5.0)), start=(0.0, 0.0),
                         minima=minima)

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return (x * x + y - 11.0) ** 2 + (x + y * y - 7.0) ** 2

    def _gradient(self, p):
        x, y = p[..., 0], p[..., 1]
        r1, r2 = x * x + y - 11.0, x + y * y - 7.0
        return np.stack([4.0 * x * r1 + 2.0 * r2, 2.0 * r1 + 4.0 * y * r2], axis=-1)

    @staticmethod
    def _hessian(p):
        x, y = p
        return np.array([[12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y)],
                         [4.0 * (x + y), 12.0 * y * y + 4.0 * x - 26.0]])


class Saddle(Landscape):
    """A saddle with a floor: ``f(x, y) = x^2 - y^2 + y^4 / 4``.

    Near the origin this is the classic saddle ``x^2 - y^2``; the quartic term bounds it below,
    with two global minima ``(0, +-sqrt(2))`` of value -1. Plain gradient descent with step
    ``lr`` from ``(x0, y0)`` multiplies x by ``1 - 2 lr`` and, near the saddle, y by ``1 + 2 lr``
    per step: it is drawn into the saddle and needs about ``log(1 / y0) / log(1 + 2 lr)`` steps to
    leave it, with a small gradient all the while. From ``y0 = 0`` exactly it converges to the
    saddle, a stationary point that is not a minimum. The start is ``(1, 1e-3)``;
    ``saddle_point`` is the origin.
    """

    def __init__(self):
        r = np.sqrt(2.0)
        super().__init__(name="saddle", dim=2, bounds=((-1.5, 1.5), (-2.0, 2.0)), start=(1.0, 1e-3),
                         minima=((0.0, r), (0.0, -r)))
        object.__setattr__(self, "saddle_point", _frozen_array((0.0, 0.0)))

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return x * x - y * y + 0.25 * y ** 4

    def _gradient(self, p):
        x, y = p[..., 0], p[..., 1]
        return np.stack([2.0 * x, y * (y * y - 2.0)], axis=-1)


def _tilted_well_points(tilt):
    """Stationary points of ``(x^2 - 1)^2 + tilt x`` (roots of ``4x^3 - 4x + tilt``), ascending."""
    roots = np.roots([4.0, 0.0, -4.0, tilt])
    roots = np.sort(roots[np.abs(roots.imag) < 1e-9].real)
    if roots.size != 3:
        raise ValueError(f"tilt must satisfy |tilt| < 8 / sqrt(27) = {8 / np.sqrt(27):.6f} for two wells, got {tilt}")
    return [_newton(lambda x: 4.0 * x ** 3 - 4.0 * x + tilt, lambda x: 12.0 * x ** 2 - 4.0, r) for r in roots]


def _tilted_well_minima(tilt):
    left, _, right = _tilted_well_points(tilt)
    f = lambda x: (x * x - 1.0) ** 2 + tilt * x  # noqa: E731
    return (left, right) if f(left) <= f(right) else (right, left)


def _check_tilt(tilt):
    if isinstance(tilt, bool) or not isinstance(tilt, numbers.Real) or not np.isfinite(tilt) or tilt <= 0:
        raise ValueError(f"tilt must be a positive finite number, got {tilt!r}")
    return float(tilt)


class DoubleWell1D(Landscape):
    """A tilted double well ``f(x) = (x^2 - 1)^2 + tilt x``.

    With the default ``tilt = 1`` the global minimum is at x = -1.107 (value -1.056) and a shallow
    local minimum at x = 0.838 (value 0.927) sits behind a barrier only 0.20 high, at x = 0.270.
    The start, x = 1.8, is on the shallow side: plain gradient descent rolls into the local
    minimum and stays; momentum (0.9, lr 0.01) carries it over the barrier to the global one.
    The stationary points are the roots of ``4x^3 - 4x + tilt``, polished by Newton's method.
    """

    def __init__(self, tilt=1.0):
        tilt = _check_tilt(tilt)
        glob, loc = _tilted_well_minima(tilt)
        super().__init__(name="double_well_1d", dim=1, bounds=((-2.0, 2.0),), start=(1.8,),
                         minima=(np.array([glob]),), local_minima=(np.array([loc]),))
        object.__setattr__(self, "tilt", tilt)

    def _value(self, p):
        x = p[..., 0]
        return (x * x - 1.0) ** 2 + self.tilt * x

    def _gradient(self, p):
        x = p[..., 0]
        return (4.0 * x * (x * x - 1.0) + self.tilt)[..., None]


class DoubleWell2D(Landscape):
    """The tilted double well in x plus a bowl in y: ``f(x, y) = (x^2 - 1)^2 + tilt x + y^2``.

    One global minimum ``(-1.107, 0)`` and one local minimum ``(0.838, 0)`` (default
    ``tilt = 1``), a saddle between them at ``(0.270, 0)``. The start is ``(1.8, 1)``.
    """

    def __init__(self, tilt=1.0):
        tilt = _check_tilt(tilt)
        glob, loc = _tilted_well_minima(tilt)
        super().__init__(name="double_well_2d", dim=2, bounds=((-2.0, 2.0), (-1.5, 1.5)), start=(1.8, 1.0),
                         minima=(np.array([glob, 0.0]),), local_minima=(np.array([loc, 0.0]),))
        object.__setattr__(self, "tilt", tilt)

    def _value(self, p):
        x, y = p[..., 0], p[..., 1]
        return (x * x - 1.0) ** 2 + self.tilt * x + y * y

    def _gradient(self, p):
        x, y = p[..., 0], p[..., 1]
        return np.stack([4.0 * x * (x * x - 1.0) + self.tilt, 2.0 * y], axis=-1)


def quadratic(condition=10.0, dim=2) -> Quadratic:
    """An ill-conditioned bowl with curvatures from 1 to ``condition``; see :class:`Quadratic`."""
    return Quadratic(condition, dim)


rosenbrock = Rosenbrock()
himmelblau = Himmelblau()
saddle = Saddle()
double_well_1d = DoubleWell1D()
double_well_2d = DoubleWell2D()

ALL = {land.name: land for land in (quadratic(), rosenbrock, himmelblau, saddle, double_well_1d, double_well_2d)}


def get(name) -> Landscape:
    """The default landscape called ``name`` (a key of :data:`ALL`)."""
    try:
        return ALL[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown landscape {name!r}; choose one of {', '.join(map(repr, ALL))}") from None
