"""Minimize a function with descend's optimizers, keeping the whole path of small problems.

A small, SciPy-like driver for experiments and plots: every step is one call of a
:mod:`descend.optim` optimizer (the C++ update), and the result holds every iterate (unless
that would take more than ``MAX_PATH_BYTES``; see ``keep_path``)::

    from descend import landscapes
    from descend import minimize

    res = minimize(landscapes.rosenbrock, (-1.2, 1.0), optimizer="adam", lr=0.05, max_iter=5000)
    res.x, res.nit, res.path.shape
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from . import optim
from ._validation import check_scalar
from .exceptions import DivergenceError

__all__ = ["minimize", "MinimizeResult"]

DEFAULT_LR = 0.01
"""Learning rate used for an optimizer given by name when ``lr`` is not passed."""

EXPLOSION_FACTOR = 1e12
"""A run diverges once ``f(x)`` rises more than this times ``max(1, |f(x0)|)`` above ``f(x0)``
(or falls as far below it while the gradient norm grows this many times its size at ``x0``)."""

MAX_PATH_BYTES = 100_000_000
"""With ``keep_path='auto'``, the path is kept when it can take at most this many bytes."""

# name -> (optimizer class, settings the name implies; the caller may override them)
_OPTIMIZERS = {
    "sgd": (optim.SGD, {}),
    "momentum": (optim.SGD, {"momentum": 0.9}),
    "nesterov": (optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adam": (optim.Adam, {}),
    "adamw": (optim.AdamW, {}),
    "rmsprop": (optim.RMSprop, {}),
}

_CONVERGED, _MAX_ITER, _DIVERGED, _CALLBACK = 0, 1, 2, 3


class MinimizeResult(dict):
    """The outcome of :func:`minimize`: a dict whose keys are also attributes.

    Attributes
    ----------
    x : ndarray
        The final iterate, of the shape of ``x0`` (after a divergence: the iterate before the step
        that diverged).
    fun : float
        The value at ``x``.
    jac : ndarray
        The gradient at ``x``.
    nit : int
        Optimizer steps taken to reach ``x``.
    nfev : int
        Calls of ``fun``, including one at a point found to diverge.
    success : bool
        Whether the gradient norm reached ``tol``.
    status : int
        0 converged, 1 ``max_iter`` reached, 2 diverged, 3 stopped by the callback.
    message : str
        The reason for stopping, in words.
    path : ndarray of shape (nit + 1, *x.shape) or None
        Every iterate, ``x0`` first and ``x`` last; None when not kept (see ``keep_path`` of
        :func:`minimize`).
    values : ndarray of shape (nit + 1,)
        The value at each iterate, ``f(x0)`` first and ``fun`` last; always kept.
    optimizer : str
        A short label such as ``"adam lr=0.01"``, for plot legends.

    Notes
    -----
    The attribute ``values`` is the field, which hides the method ``dict.values``; call
    ``dict.values(result)`` for that.
    """

    _ORDER = ("message", "success", "status", "fun", "x", "nit", "nfev", "jac", "optimizer", "path", "values")

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def values(self):
        try:
            return self["values"]
        except KeyError:
            raise AttributeError("values") from None

    def __setattr__(self, name, value):
        self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(self.keys()))

    def __repr__(self):
        if not self:
            return f"{type(self).__name__}()"
        keys = [k for k in self._ORDER if k in self] + [k for k in self if k not in self._ORDER]
        width = max(len(str(k)) for k in keys)
        lines = []
        for k in keys:
            v = self[k]
            if isinstance(v, np.ndarray) and v.size > 12:
                text = f"<ndarray of shape {v.shape}, {v.dtype}>"
            else:
                text = repr(v).replace("\n", "\n" + " " * (width + 2))
            lines.append(f"{str(k):>{width}}: {text}")
        return "\n".join(lines)


def _check_x0(x0) -> np.ndarray:
    try:
        arr = np.asarray(x0)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"x0 must be an array of real numbers: {exc}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"x0 must be an array of real numbers, got dtype {arr.dtype}")
    if arr.size == 0:
        raise ValueError(f"x0 is empty (shape {arr.shape}); give at least one variable")
    arr = np.array(arr, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"x0 must be finite, got {arr}")
    return arr


def _option_text(value) -> str:
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return f"{value:g}"
    return repr(value)


def _make_optimizer(optimizer, x, options, n_threads):
    """The optimizer instance over ``[x]`` and its label."""
    if isinstance(optimizer, str):
        if optimizer not in _OPTIMIZERS:
            raise ValueError(f"unknown optimizer {optimizer!r}; choose one of "
                             f"{', '.join(map(repr, _OPTIMIZERS))} or pass a descend.optim.Optimizer subclass")
        cls, implied = _OPTIMIZERS[optimizer]
        kwargs = {"lr": DEFAULT_LR, **implied, **options}
        name = optimizer
    elif isinstance(optimizer, type) and issubclass(optimizer, optim.Optimizer):
        cls, kwargs, name = optimizer, dict(options), optimizer.__name__
    elif isinstance(optimizer, optim.Optimizer):
        raise TypeError(f"optimizer must be a name or an Optimizer class, got an instance ({optimizer!r}): "
                        f"pass {type(optimizer).__name__} and its settings as keywords")
    else:
        raise TypeError(f"optimizer must be a name ({', '.join(map(repr, _OPTIMIZERS))}) or a "
                        f"descend.optim.Optimizer subclass, got {optimizer!r}")

    signature = inspect.signature(cls)
    params = signature.parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [k for k, p in params.items() if k not in ("params", "n_threads")
                    and p.kind in (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)]
        unknown = [k for k in options if k not in accepted]
        if unknown:
            raise TypeError(f"unknown option {unknown[0]!r} for optimizer {name!r} ({cls.__name__}); "
                            f"its options are {', '.join(accepted)}")
    if n_threads is not None:
        kwargs["n_threads"] = n_threads
    try:
        opt = cls([x], **kwargs)
    except TypeError as exc:
        if "unexpected keyword" in str(exc):
            raise TypeError(f"optimizer {name!r} ({cls.__name__}) rejected an option: {exc}") from None
        raise
    label = f"{name} lr={_option_text(opt.lr)}"
    label += "".join(f" {k}={_option_text(v)}" for k, v in options.items() if k != "lr")
    return opt, label


def _check_value(value) -> float:
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise TypeError(f"fun must return a real number as its value, got {value!r}") from None
    if arr.ndim != 0:
        raise ValueError(f"fun must return a scalar value, got an array of shape {arr.shape}")
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"fun must return a real number as its value, got {value!r} (dtype {arr.dtype})")
    return float(arr)


def _check_gradient(grad, shape) -> np.ndarray:
    try:
        arr = np.asarray(grad)
    except (TypeError, ValueError):
        raise TypeError(f"the gradient must be an array of real numbers, got {grad!r}") from None
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"the gradient must be an array of real numbers, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"the gradient has shape {arr.shape}, expected {shape} (the shape of x0)")
    return np.array(arr, dtype=np.float64).reshape(-1)


def _norm(grad) -> float:
    """L2 norm without overflow (scaled by the largest entry, as math.hypot does)."""
    scale = float(np.max(np.abs(grad))) if grad.size else 0.0
    if scale == 0.0 or not np.isfinite(scale):
        return scale
    return scale * float(np.linalg.norm(grad / scale))


def _check_keep_path(keep_path, max_iter, size) -> bool:
    """Whether ``minimize`` keeps the path: ``'auto'`` does when it can take at most ``MAX_PATH_BYTES``."""
    if isinstance(keep_path, str) and keep_path == "auto":
        return 8 * (max_iter + 1) * size <= MAX_PATH_BYTES
    if isinstance(keep_path, (bool, np.bool_)):
        return bool(keep_path)
    raise ValueError(f"keep_path must be True, False or 'auto', got {keep_path!r}")


def _suggested_lr(opt, x_prev, grad, x, new_grad) -> float:
    """A rate to try after a diverging step from x_prev (gradient grad) to x (gradient new_grad,
    None if not evaluated): a tenth of the rate, and with SGD (momentum mu, weight decay wd) at
    most (1 - mu) / (L + wd), L the curvature along the step, |new_grad - grad| / |x - x_prev|.
    Gradient descent diverges above 2 / L, and a run that diverged has its largest curvature in
    the steps' direction (on a quadratic, its largest eigenvalue); with momentum the steps add
    up to 1 / (1 - mu) times as much."""
    suggested = opt.lr / 10
    if isinstance(opt, optim.SGD) and new_grad is not None and np.all(np.isfinite(new_grad)):
        group = opt.param_groups[0]
        with np.errstate(all="ignore"):
            L = _norm(new_grad - grad) / _norm(x - x_prev) + float(group["weight_decay"])
        mu = float(group["momentum"])
        if math.isfinite(L) and L > 0 and mu < 1:
            suggested = min(suggested, (1.0 - mu) / L)
    return suggested


def minimize(fun, x0, optimizer="adam", max_iter=1000, tol=1e-6, callback=None, *, jac=None,
             on_divergence="raise", keep_path="auto", n_threads=None, **options) -> MinimizeResult:
    """Minimize ``fun`` from ``x0`` by gradient descent with a :mod:`descend.optim` optimizer.

    Each iteration evaluates the value and gradient at ``x``, stops if the gradient's L2 norm is
    at most ``tol``, and otherwise takes one optimizer step (one C++ call, on a float64 copy of
    ``x0``).

    Parameters
    ----------
    fun : callable
        ``fun(x) -> (value, gradient)``, ``x`` of the shape of ``x0``; with a callable ``jac``,
        ``fun(x) -> value`` and ``jac(x) -> gradient`` (SciPy's convention). A
        :class:`descend.landscapes.Landscape` works as is.
    x0 : array_like
        Starting point, real and finite, of any shape (a scalar gives scalar iterates).
    optimizer : str or descend.optim.Optimizer subclass, default="adam"
        ``'sgd'`` (plain gradient descent), ``'momentum'`` (SGD, heavy ball, momentum 0.9),
        ``'nesterov'`` (SGD, Nesterov momentum 0.9), ``'adam'``, ``'adamw'`` (its default
        ``weight_decay=0.01`` shifts the minimum) or ``'rmsprop'``; a name uses ``lr=0.01`` unless
        ``lr`` is given. A class (``descend.optim.SGD``, ...) uses its own defaults.
    max_iter : int, default=1000
        Maximum number of optimizer steps.
    tol : float, default=1e-6
        Stop, successfully, once ``||gradient||_2 <= tol``.
    callback : callable, optional
        ``callback(xk)`` after each step, with a copy of the new iterate. Returning True (or
        raising StopIteration) stops the run with status 3; any other value, truthy or not
        (a logger's), does not.
    jac : callable or bool, optional
        The gradient as a separate function; None or True means ``fun`` returns both.
    on_divergence : {'raise', 'return'}, default='raise'
        What to do when the run diverges: raise :class:`descend.DivergenceError`, or return the
        iterate before the step that diverged with ``success=False`` and status 2. A run diverges when the value,
        the gradient or ``x`` becomes non-finite, when the value rises more than
        ``1e12 * max(1, |f(x0)|)`` above ``f(x0)`` (an overshooting step), or when it falls as far
        below ``f(x0)`` while the gradient norm grows over 1e12 times its size at ``x0`` (a
        function unbounded below, such as ``-x**2``). A falling value alone is descent, however
        far it falls; an unbounded function whose gradient does not grow, such as a linear one,
        runs to ``max_iter``, and ``message`` then asks whether it is unbounded below.
    keep_path : bool or 'auto', default='auto'
        Whether the result holds every iterate in ``path``, at ``8 * x0.size`` bytes an iterate:
        up to ``8 * (max_iter + 1) * x0.size`` bytes, 8 GB for a million variables and
        ``max_iter=1000``. ``'auto'`` keeps it when that bound is at most 100 MB
        (``MAX_PATH_BYTES``; about 12,500 variables at ``max_iter=1000``), so small problems can be
        drawn by :func:`descend.plot.trajectory`, and otherwise sets ``path`` to None, as does
        False. ``values`` (8 bytes an iterate) is always kept.
    n_threads : int, optional
        Threads of the optimizer update (see :mod:`descend.optim`).
    **options
        Hyper-parameters of the optimizer: ``lr``, ``momentum``, ``betas``, ``weight_decay``, ...

    Returns
    -------
    MinimizeResult
        ``x``, ``fun``, ``jac``, ``nit``, ``nfev``, ``success``, ``status``, ``message``,
        ``path`` (every iterate, ``x0`` first, or None; see ``keep_path``), ``values`` and
        ``optimizer`` (a label).

    Raises
    ------
    DivergenceError
        With ``on_divergence='raise'``, naming the iteration, value and learning rate
        (``epoch`` is None, ``step`` the iteration) and suggesting a rate ten times smaller
        (for a value falling without bound, asking first whether ``fun`` is unbounded below).
    """
    x0 = _check_x0(x0)
    shape = x0.shape
    if not callable(fun):
        raise TypeError(f"fun must be callable, got {fun!r}")
    if jac is None or jac is True:
        jac = None
    elif not callable(jac):
        raise ValueError(f"jac must be None, True or a callable returning the gradient, got {jac!r} "
                         f"(numerical gradients are not supported)")
    if isinstance(max_iter, bool) or not isinstance(max_iter, numbers.Integral) or max_iter < 1:
        raise ValueError(f"max_iter must be a positive int, got {max_iter!r}")
    max_iter = int(max_iter)
    tol = check_scalar(tol, "tol", low=0.0)
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}")
    if on_divergence not in ("raise", "return"):
        raise ValueError(f"on_divergence must be 'raise' or 'return', got {on_divergence!r}")
    keep = _check_keep_path(keep_path, max_iter, x0.size)

    x = x0.reshape(-1).copy()
    opt, label = _make_optimizer(optimizer, x, options, n_threads)
    nfev = 0

    def evaluate():
        nonlocal nfev
        nfev += 1
        xk = x.reshape(shape).copy()
        if jac is None:
            out = fun(xk)
            try:
                value, grad = out
            except (TypeError, ValueError):
                raise TypeError("fun must return a pair (value, gradient); for a function returning only "
                                "the value pass the gradient as jac=") from None
        else:
            value, grad = fun(xk), jac(x.reshape(shape).copy())
        return _check_value(value), _check_gradient(grad, shape)

    value, grad = evaluate()
    if not (np.isfinite(value) and np.all(np.isfinite(grad))):
        raise ValueError(f"fun is not finite at x0: value {value}, gradient {grad.reshape(shape)}")
    f0, gnorm0 = value, _norm(grad)
    # How far the value may move from f(x0); the floor of 1 keeps a limit when f(x0) == 0.
    limit = EXPLOSION_FACTOR * max(1.0, abs(f0))
    gnorm, nit = gnorm0, 0
    path, values = ([x.copy()] if keep else None), [value]
    x_prev = np.empty_like(x)  # the iterate before the step, returned if the step diverges

    while True:
        if gnorm <= tol:
            status, message = _CONVERGED, "gradient norm below tol"
            break
        if nit >= max_iter:
            status = _MAX_ITER
            message = f"max_iter={max_iter} reached with gradient norm {gnorm:.3g} > tol={tol:g}"
            if value < f0 and gnorm >= gnorm0:
                message += (f"; the value fell from {f0:.4g} to {value:.4g} while the gradient norm did not "
                            f"shrink (from {gnorm0:.3g}): is fun unbounded below?")
            break
        np.copyto(x_prev, x)
        opt.step([grad])
        it = nit + 1
        new_value, new_grad, new_gnorm, reason, unbounded = float("nan"), None, None, None, False
        if not np.all(np.isfinite(x)):
            reason = "x became non-finite"
        else:
            new_value, new_grad = evaluate()
            new_gnorm = _norm(new_grad)
            if not np.isfinite(new_value):
                reason, unbounded = f"the value became {new_value}", new_value < 0
            elif new_value - f0 > limit:
                reason = (f"the value rose to {new_value:.4g}, more than {EXPLOSION_FACTOR:g} * max(1, |f(x0)|) "
                          f"above f(x0) = {f0:.4g}")
            elif not np.all(np.isfinite(new_grad)):
                reason = f"the gradient became non-finite (value {new_value:.4g})"
            elif f0 - new_value > limit and new_gnorm > EXPLOSION_FACTOR * gnorm0:
                reason = (f"the value fell to {new_value:.4g} while the gradient norm grew to {new_gnorm:.3g}, "
                          f"over {EXPLOSION_FACTOR:g} times its size at x0")
                unbounded = True
        if reason is not None:
            lr = opt.lr
            suggested = _suggested_lr(opt, x_prev, grad, x, new_grad)
            rate = f"a smaller learning rate, e.g. lr={suggested:.2g}"
            text = f"diverged at iteration {it} ({label}): " + (
                f"{reason}: is fun unbounded below? If it is bounded, try {rate}" if unbounded
                else f"{reason}. Try {rate}")
            if on_divergence == "raise":
                raise DivergenceError(f"minimize {text}.", epoch=None, step=it, loss=new_value,
                                      learning_rate=lr, suggested_learning_rate=suggested)
            status = _DIVERGED
            message = f"{text}; x is the iterate of iteration {it - 1}, before the step that diverged"
            np.copyto(x, x_prev)
            break
        value, grad, gnorm, nit = new_value, new_grad, new_gnorm, it
        if keep:
            path.append(x.copy())
        values.append(value)
        if callback is not None:
            try:
                stop = callback(x.reshape(shape).copy())
            except StopIteration:
                stop = True
            if isinstance(stop, (bool, np.bool_)) and stop:  # True stops, as the estimators' callback
                status, message = _CALLBACK, "stopped by callback"
                break

    return MinimizeResult(
        x=x.reshape(shape).copy(), fun=values[-1], jac=grad.reshape(shape).copy(), nit=nit, nfev=nfev,
        success=status == _CONVERGED, status=status, message=message,
        path=None if path is None else np.array(path).reshape((nit + 1,) + shape), values=np.array(values),
        optimizer=label)
