"""Figures of training runs: learning curves, learning-rate range tests, optimizer trajectories.

Needs matplotlib (``pip install 'descend[plot]'``). Every function builds a
:class:`matplotlib.figure.Figure` directly, without pyplot or any global state, returns it, and
saves it when ``file`` is given (at 120 dpi; the format follows the file's suffix, PNG by
default).
"""

from __future__ import annotations

import numbers
import os
from collections.abc import Mapping

import numpy as np

__all__ = ["learning_curve", "lr_find", "trajectory"]

_DPI = 120
_HISTORY_KEYS = ("loss", "val_loss", "learning_rate", "grad_norm", "time")


def _figure(figsize):
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("descend.plot needs matplotlib: pip install 'descend[plot]'") from exc
    return Figure(figsize=figsize, layout="constrained")


def _save(fig, file):
    if file is not None:
        fig.savefig(os.fspath(file), dpi=_DPI)
    return fig


def _color(i):
    return f"C{i % 10}"


def _log_scale_fits(*arrays):
    """Log scale when every finite value is positive and they span more than one decade."""
    values = np.concatenate([np.ravel(np.asarray(a, dtype=np.float64)) for a in arrays])
    values = values[np.isfinite(values)]
    return values.size > 0 and values.min() > 0 and values.max() > 10 * values.min()


# ---- learning curves ----------------------------------------------------------------------------

def _is_run(obj):
    return hasattr(obj, "history_") or isinstance(obj, Mapping)


def _as_history(run, name):
    if hasattr(run, "history_"):
        run = run.history_
    elif not isinstance(run, Mapping):
        raise TypeError(f"{name} must be a fitted estimator (with history_) or a history dict, "
                        f"got {type(run).__name__}")
    if "loss" not in run:
        raise ValueError(f"{name} has no 'loss': a history dict holds per-epoch lists under the keys "
                         f"{', '.join(map(repr, _HISTORY_KEYS))}")
    loss = np.asarray(run["loss"], dtype=np.float64).ravel()
    if loss.size == 0:
        raise ValueError(f"{name} holds no epochs: its 'loss' is empty")
    out = {"loss": loss}
    for key in ("val_loss", "learning_rate"):
        values = run.get(key)
        if values is None or len(values) == 0:
            continue
        if len(values) != loss.size:
            raise ValueError(f"{name}: '{key}' has {len(values)} entries but 'loss' has {loss.size}")
        arr = np.array([np.nan if v is None else float(v) for v in values])
        if np.any(np.isfinite(arr)):
            out[key] = arr
    return out


def _runs(history, labels):
    """[(label, history)] for an estimator, a history dict, or a dict / sequence of them."""
    if isinstance(history, Mapping) and history and all(_is_run(v) for v in history.values()):
        runs = [(str(k), v) for k, v in history.items()]
    elif hasattr(history, "history_") or isinstance(history, Mapping):
        runs = [(None, history)]
    elif isinstance(history, (list, tuple)):
        if not history:
            raise ValueError("history is an empty list: nothing to plot")
        names = [getattr(run, "optimizer", None) for run in history]
        distinct = all(isinstance(n, str) for n in names) and len(set(names)) == len(names)
        runs = [(names[i] if distinct else f"run {i + 1}", run) for i, run in enumerate(history)]
    else:
        raise TypeError("history must be a fitted estimator, a history dict, or a dict or list of them, "
                        f"got {type(history).__name__}")
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(runs):
            raise ValueError(f"labels has {len(labels)} entries for {len(runs)} runs")
        runs = [(str(label), run) for label, (_, run) in zip(labels, runs)]
    single = len(runs) == 1 and runs[0][0] is None
    return [(label, _as_history(run, "history" if single else f"run {label!r}")) for label, run in runs]


def learning_curve(history, *, labels=None, file=None, title=None):
    """Training and validation loss per epoch, with the learning rate on a second axis.

    Parameters
    ----------
    history : estimator, dict, or dict or list of them
        A fitted descend estimator (its ``history_`` is used), a history dict (per-epoch lists
        under ``'loss'`` and optionally ``'val_loss'``, whose entries may be None, and
        ``'learning_rate'``), or several runs to compare on one axes: a dict ``label -> run`` or a
        list of runs.
    labels : str or sequence of str, optional
        One legend label per run; by default the dict's keys, or for a list the estimators'
        optimizers when they differ, else "run 1", "run 2", ...
    file : str or path-like, optional
        Save the figure there.
    title : str, optional
        Axes title, "Learning curve" by default.

    Returns
    -------
    matplotlib.figure.Figure
        Solid lines for the training loss, dashed in the same colour for the validation loss.
        The y axis is logarithmic when every loss drawn is positive and they span more than one
        decade (max > 10 min). The learning rate is a thin dotted line on a right-hand axis:
        one grey line when all runs share it, else one per run in its colour.
    """
    runs = _runs(history, labels)
    single = len(runs) == 1 and runs[0][0] is None
    fig = _figure((6.4, 4.2))
    from matplotlib.lines import Line2D

    ax = fig.add_subplot()
    drawn = []
    for i, (label, h) in enumerate(runs):
        epochs = np.arange(1, h["loss"].size + 1)
        ax.plot(epochs, h["loss"], "-", color=_color(i), lw=1.6,
                label="training loss" if single else label)
        drawn.append(h["loss"])
        if "val_loss" in h:
            ax.plot(epochs, h["val_loss"], "--", color=_color(i), lw=1.4,
                    label="validation loss" if single else f"{label} (validation)")
            drawn.append(h["val_loss"])
    if _log_scale_fits(*drawn):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.set_title("Learning curve" if title is None else title)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.grid(True, which="major", alpha=0.3)

    rates = [(i, h["learning_rate"]) for i, (_, h) in enumerate(runs) if "learning_rate" in h]
    handles, names = ax.get_legend_handles_labels()
    if rates:
        ax2 = ax.twinx()
        same = all(r.shape == rates[0][1].shape and np.allclose(r, rates[0][1], equal_nan=True) for _, r in rates)
        for i, r in rates[:1] if same else rates:
            ax2.plot(np.arange(1, r.size + 1), r, ":", lw=1.0, color="0.45" if same else _color(i), alpha=0.9)
        ax2.set_ylabel("learning rate")
        ax2.set_ylim(bottom=0)
        ax2.ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
        handles.append(Line2D([], [], ls=":", lw=1.0, color="0.45" if same else "k"))
        names.append("learning rate (right)" if same else "learning rate (right, each run's colour)")
    ax.legend(handles, names, fontsize="small", loc="best")
    return _save(fig, file)


# ---- learning-rate range test -------------------------------------------------------------------

def lr_find(result, *, file=None):
    """The loss against the learning rate of a :func:`descend.lr_find` sweep.

    Parameters
    ----------
    result : LRFindResult
        The sweep: ``learning_rates``, raw ``losses``, ``smoothed`` losses and the ``suggestion``.
    file : str or path-like, optional
        Save the figure there.

    Returns
    -------
    matplotlib.figure.Figure
        The smoothed loss on a logarithmic rate axis, the raw batch losses faintly behind it, and
        a marker at the suggested rate, whose value the legend gives. The y range follows the
        smoothed loss, so a final explosion of the raw loss does not flatten the curve.
    """
    try:
        rates = np.asarray(result.learning_rates, dtype=np.float64).ravel()
        raw = np.asarray(result.losses, dtype=np.float64).ravel()
        smoothed = np.asarray(result.smoothed, dtype=np.float64).ravel()
        suggestion = float(result.suggestion)
    except AttributeError as exc:
        raise TypeError("result must be the LRFindResult of descend.lr_find (learning_rates, losses, "
                        "smoothed, suggestion)") from exc
    if rates.size == 0 or not (rates.size == raw.size == smoothed.size):
        raise ValueError(f"result needs as many losses and smoothed losses as rates (at least one), got "
                         f"{rates.size} rates, {raw.size} losses, {smoothed.size} smoothed")
    if not np.all(rates > 0):
        raise ValueError("result.learning_rates must be positive")
    fig = _figure((6.4, 4.2))
    ax = fig.add_subplot()
    ax.plot(rates, raw, "-", color="C0", lw=0.8, alpha=0.3, label="batch loss")
    ax.plot(rates, smoothed, "-", color="C0", lw=1.8, label="smoothed loss")
    if suggestion > 0:
        at = int(np.argmin(np.abs(np.log(rates) - np.log(suggestion))))
        ax.plot([suggestion], [smoothed[at]], "o", color="C3", ms=8, zorder=3,
                label=f"suggestion: {suggestion:.3g}")
    ax.set_xscale("log")
    shown = smoothed[np.isfinite(smoothed)]
    if shown.size:
        lo = float(min(shown.min(), np.min(raw, initial=np.inf, where=np.isfinite(raw))))
        hi = float(shown.max())
        pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(lo), 1.0)
        ax.set_ylim(lo - pad, hi + pad)
    ax.set_xlabel("learning rate")
    ax.set_ylabel("loss")
    ax.set_title("Learning-rate range test")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    return _save(fig, file)


# ---- optimizer trajectories ---------------------------------------------------------------------

def _log_levels(d, levels):
    """Log-spaced offsets above the minimum when the values crowd towards it (the largest offset
    exceeds 6 times the median, so even levels would paint most of the plane one colour)."""
    positive = d[np.isfinite(d) & (d > 0)]
    if positive.size < 2:
        return None
    high = positive.max()
    if not high > 6 * np.median(positive):
        return None
    return np.geomspace(np.percentile(positive, 1), high, levels - 1)


def _point_set(points, dim, name):
    out = []
    for p in points or ():
        arr = np.asarray(p, dtype=np.float64).ravel()
        if arr.size != dim:
            raise ValueError(f"landscape.{name} must hold points of {dim} coordinates, got {arr.shape}")
        out.append(arr)
    return out


def trajectory(landscape, *paths, labels=None, file=None, levels=30, title=None):
    """Paths of optimizers over a 1-D or 2-D loss landscape.

    Parameters
    ----------
    landscape : object
        A test function (see :mod:`descend.landscapes`): ``name``, ``dim`` (1 or 2),
        ``bounds`` (one ``(low, high)`` per coordinate), ``minima`` and ``local_minima`` (tuples of
        points), ``start`` (a point or None), and ``value(points)``, vectorized over points of
        shape ``(..., dim)``.
    *paths : ndarray or object with ``.path``
        The iterates of each optimizer, of shape ``(k, 2)`` on a 2-D landscape, ``(k,)`` or
        ``(k, 1)`` on a 1-D one; or a result with a ``path`` attribute (and an ``optimizer`` name
        for its label).
    labels : sequence of str, optional
        One legend label per path; by default the results' ``optimizer`` names, else
        "path 1", "path 2", ...
    file : str or path-like, optional
        Save the figure there.
    levels : int, default=30
        Number of filled contour levels (2-D). They are log-spaced above the minimum when the
        values crowd towards it, as in Rosenbrock's valley or Himmelblau's basins (the largest
        value exceeds the minimum by more than 6 times the median excess), else evenly spaced.
    title : str, optional
        The axes title; the landscape's name by default.

    Returns
    -------
    matplotlib.figure.Figure
        2-D: the filled contours with a colour bar, each path as a line with small markers,
        global minima as stars, local minima as hollow circles and the start as a square.
        1-D: the curve f(x) with each path's points (x, f(x)) along it.
    """
    dim = getattr(landscape, "dim", None)
    if not (hasattr(landscape, "value") and hasattr(landscape, "bounds") and isinstance(dim, numbers.Integral)):
        raise TypeError("landscape must have dim, bounds and value(points) (a descend.landscapes object), "
                        f"got {type(landscape).__name__}")
    name = getattr(landscape, "name", type(landscape).__name__)
    if dim not in (1, 2):
        raise ValueError(f"trajectory draws 1-D and 2-D landscapes; {name} has dim={dim}")
    if isinstance(levels, bool) or not isinstance(levels, numbers.Integral) or levels < 2:
        raise ValueError(f"levels must be an int >= 2, got {levels!r}")
    bounds = np.asarray(landscape.bounds, dtype=np.float64).reshape(-1, 2)
    if bounds.shape[0] != dim or not np.all(bounds[:, 0] < bounds[:, 1]):
        raise ValueError(f"landscape.bounds must hold {dim} (low, high) pairs with low < high, "
                         f"got {landscape.bounds!r}")
    if labels is not None:
        labels = [labels] if isinstance(labels, str) else list(labels)
        if len(labels) != len(paths):
            raise ValueError(f"labels has {len(labels)} entries for {len(paths)} paths")
    series = []
    for i, item in enumerate(paths):
        path = getattr(item, "path", item)  # a MinimizeResult's, or an array
        if path is None:
            raise ValueError(f"path {i + 1} was not kept: run minimize with keep_path=True to draw it")
        arr = np.asarray(path, dtype=np.float64)
        if dim == 1 and (arr.ndim == 1 or (arr.ndim == 2 and arr.shape[1] == 1)):
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2 or arr.shape[1] != dim or arr.shape[0] == 0:
            expected = "(k, 2)" if dim == 2 else "(k,) or (k, 1)"
            raise ValueError(f"path {i + 1} must have shape {expected} on the {dim}-D landscape {name}, "
                             f"got {arr.shape}")
        if labels is not None:
            label = str(labels[i])
        else:
            opt = getattr(item, "optimizer", None)
            label = opt if isinstance(opt, str) else f"path {i + 1}"
        series.append((label, arr))
    minima = _point_set(getattr(landscape, "minima", ()), dim, "minima")
    local = _point_set(getattr(landscape, "local_minima", ()), dim, "local_minima")
    start = getattr(landscape, "start", None)
    start = None if start is None else _point_set([start], dim, "start")[0]

    fig = _figure((6.4, 5.2) if dim == 2 else (6.4, 4.2))
    ax = fig.add_subplot()
    if dim == 1:
        _trajectory_1d(ax, landscape, bounds[0], series, minima, local, start)
    else:
        _trajectory_2d(fig, ax, landscape, bounds, series, minima, local, start, int(levels))
    ax.set_title(name if title is None else title)
    ax.legend(fontsize="small", loc="best")
    return _save(fig, file)


def _trajectory_1d(ax, landscape, bounds, series, minima, local, start):
    def f(x):
        return np.asarray(landscape.value(np.asarray(x, dtype=np.float64).reshape(-1, 1)), dtype=np.float64)

    xs = np.linspace(bounds[0], bounds[1], 600)
    ys = f(xs)
    ax.plot(xs, ys, "-", color="0.2", lw=1.5, label="f(x)")
    for i, (label, arr) in enumerate(series):
        x = arr[:, 0]
        ax.plot(x, f(x), "-o", color=_color(i), lw=0.8, ms=3.5, alpha=0.85, label=label)
    if minima:
        x = np.array([m[0] for m in minima])
        ax.plot(x, f(x), "*", ms=15, color="gold", mec="k", ls="none", zorder=4, label="minimum")
    if local:
        x = np.array([m[0] for m in local])
        ax.plot(x, f(x), "o", ms=9, mfc="none", mec="k", mew=1.5, ls="none", zorder=4, label="local minimum")
    if start is not None:
        ax.plot(start, f(start), "s", ms=8, color="k", ls="none", zorder=4, label="start")
    ax.set_xlim(*bounds)
    finite = ys[np.isfinite(ys)]
    if finite.size:
        pad = 0.05 * (finite.max() - finite.min()) or 1.0
        ax.set_ylim(finite.min() - pad, finite.max() + pad)
    ax.set_xlabel("x")
    ax.set_ylabel("f(x)")


def _trajectory_2d(fig, ax, landscape, bounds, series, minima, local, start, levels):
    from matplotlib import colormaps
    from matplotlib.colors import BoundaryNorm

    n = 240
    gx = np.linspace(bounds[0, 0], bounds[0, 1], n)
    gy = np.linspace(bounds[1, 0], bounds[1, 1], n)
    XX, YY = np.meshgrid(gx, gy)
    Z = np.asarray(landscape.value(np.stack([XX, YY], axis=-1)), dtype=np.float64)
    if Z.shape != XX.shape:
        raise ValueError(f"landscape.value must return one value per point: got shape {Z.shape} "
                         f"for points of shape {XX.shape + (2,)}")
    finite = Z[np.isfinite(Z)]
    if finite.size == 0:
        raise ValueError("landscape.value is not finite anywhere inside its bounds")
    zmin, zmax = float(finite.min()), float(finite.max())
    offsets = _log_levels(Z - zmin, levels)
    if offsets is not None:
        bands = np.concatenate([[zmin], zmin + offsets])
        bands[-1] = zmax
    else:
        bands = np.linspace(zmin, zmax if zmax > zmin else zmin + 1.0, levels)
    Z = np.ma.masked_invalid(Z)
    norm = BoundaryNorm(bands, ncolors=colormaps["viridis"].N)
    filled = ax.contourf(XX, YY, Z, levels=bands, cmap="viridis", norm=norm)
    ax.contour(XX, YY, Z, levels=bands, colors="k", linewidths=0.3, alpha=0.25)
    bar = fig.colorbar(filled, ax=ax, shrink=0.9, format="{x:.3g}")
    bar.set_ticks(bands[::max(1, (len(bands) - 1) // 6)])
    bar.set_label("f(x, y)" + (", log-spaced levels" if offsets is not None else ""))
    for i, (label, arr) in enumerate(series):
        # earlier paths wider, underneath; at most ~60 markers a path, so that long runs stay lines
        lw = 1.3 + 1.6 * (len(series) - 1 - i) / max(1, len(series) - 1)
        ax.plot(arr[:, 0], arr[:, 1], "-o", color=_color(i), lw=lw, ms=2.5,
                markevery=max(1, (arr.shape[0] - 1) // 60), label=label)
        ax.plot(arr[-1, 0], arr[-1, 1], "o", color=_color(i), mec="w", ms=7, zorder=4)
    if minima:
        m = np.array(minima)
        ax.plot(m[:, 0], m[:, 1], "*", ms=16, color="gold", mec="k", ls="none", zorder=5, label="minimum")
    if local:
        m = np.array(local)
        ax.plot(m[:, 0], m[:, 1], "o", ms=10, mfc="none", mec="w", mew=1.8, ls="none", zorder=5,
                label="local minimum")
    if start is not None:
        ax.plot([start[0]], [start[1]], "s", ms=8, color="w", mec="k", ls="none", zorder=5, label="start")
    ax.set_xlim(*bounds[0])
    ax.set_ylim(*bounds[1])
    ax.set_xlabel("x")
    ax.set_ylabel("y")
