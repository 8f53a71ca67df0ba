"""The learning-rate range test: a short run with the rate raised geometrically every mini-batch.

Leslie Smith's range test, as popularized by fastai's ``lr_find``: train from the estimator's
initial state while the rate grows from ``lr_min`` to ``lr_max``, record the loss of every
mini-batch, and stop once the loss blows up. The rate at which the loss falls fastest is a good
learning rate for a full fit. Every step is one call of the same C++ engine (same optimizer,
penalty, batch size, clipping and threads) that ``fit`` runs, so the rate transfers to ``fit``.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._validation import resolve_n_threads, warn
from .linear_model import _LOSS_KIND, LinearRegression, LogisticRegression, _weight_mean

__all__ = ["lr_find", "LRFindResult"]


@dataclass
class LRFindResult:
    """The outcome of :func:`lr_find`.

    Attributes
    ----------
    learning_rates : ndarray of shape (k,)
        The rate of each mini-batch step, geometric from ``lr_min``.
    losses : ndarray of shape (k,)
        The loss of each mini-batch (mean over its rows, plus the penalty) in the user's units,
        evaluated before the step taken with the rate of the same index.
    smoothed : ndarray of shape (k,)
        Exponential moving average of ``losses`` with bias correction.
    suggestion : float
        The rate at which the smoothed loss falls fastest against log(rate); see the notes of
        :func:`lr_find`.
    best_lr : float
        The rate at the minimum of the smoothed loss past the noisy start that the suggestion
        also skips (usually too large to train with).
    stopped_early : bool
        True when the sweep stopped before ``steps`` batches because the smoothed loss rose past
        ``stop_factor`` times its minimum or the loss diverged.
    """

    learning_rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    best_lr: float
    stopped_early: bool

    def plot(self, file=None):
        """Smoothed loss against the learning rate; see :func:`descend.plot.lr_find`.

        Parameters
        ----------
        file : str or path-like, optional
            Save the figure as a PNG there.

        Returns
        -------
        matplotlib.figure.Figure
        """
        from . import plot

        return plot.lr_find(self, file=file)


def _check_args(estimator, lr_min, lr_max, steps, smoothing, stop_factor):
    if not isinstance(estimator, (LinearRegression, LogisticRegression)):
        raise TypeError("estimator must be a descend.LinearRegression or descend.LogisticRegression, "
                        f"got {type(estimator).__name__}")
    for name, value in (("lr_min", lr_min), ("lr_max", lr_max)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
            raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    if not lr_min < lr_max:
        raise ValueError(f"lr_min must be smaller than lr_max, got lr_min={lr_min!r} and lr_max={lr_max!r}")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 2:
        raise ValueError(f"steps must be an int >= 2, got {steps!r}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, numbers.Real) or not 0 <= smoothing < 1:
        raise ValueError(f"smoothing must be a number in [0, 1), got {smoothing!r}")
    if isinstance(stop_factor, bool) or not isinstance(stop_factor, numbers.Real) \
            or not (math.isfinite(stop_factor) and stop_factor > 1):
        raise ValueError(f"stop_factor must be a finite number > 1, got {stop_factor!r}")


def _engine_config(est, batch):
    """The engine's config dict, as ``fit`` builds it, for mini-batches of ``batch`` rows in order."""
    alpha, l1_ratio = est._penalty_for_engine()
    return dict(loss=_LOSS_KIND[est._loss_kind], fit_intercept=bool(est.fit_intercept), alpha=alpha,
                l1_ratio=l1_ratio, batch_size=int(batch), shuffle=False, clip_norm=float(est.clip_norm or 0.0),
                loss_limit=np.inf, n_threads=resolve_n_threads(est.n_threads))


def _constant_schedule(lr):
    """The engine's schedule dict for a constant rate ``lr`` (no warm-up)."""
    return dict(kind=0, lr=float(lr), scale=1.0, gamma=0.1, step_size=1.0, power_t=0.25, min_lr=0.0,
                steps_per_epoch=1, total_steps=1, warmup_steps=0)


def _batches(rows, batch, shuffle, rng, run=1):
    """Endless stream of mini-batches of ``batch`` rows: consecutive slices of a fresh permutation
    of ``rows`` per epoch (with ``run`` > 1, of runs of that many consecutive rows, as fit's
    ``shuffle=run``; ``rows`` in order without shuffling); a batch may span two epochs."""
    pending = np.empty(0, dtype=np.int64)
    while True:
        while pending.shape[0] < batch:
            if shuffle and run > 1:
                epoch = np.concatenate([rows[r * run:(r + 1) * run] for r in rng.permutation(-(-len(rows) // run))])
            else:
                epoch = rng.permutation(rows) if shuffle else rows
            pending = np.concatenate([pending, epoch.astype(np.int64)])
        yield np.ascontiguousarray(pending[:batch])
        pending = pending[batch:]


def _skip(k, beta):
    """Points left out at the start of the suggestion's search: those before the half-life of the
    moving average (``1 - beta ** (i + 1) < 1/2``: 34 points for beta=0.98), where it still rests
    on a few batches; at least 1, at most half of the ``k`` points."""
    before_half_life = math.ceil(math.log(0.5) / math.log(beta)) - 1 if beta > 0 else 0
    return max(1, min(before_half_life, k // 2))


def _suggest(learning_rates, smoothed, beta):
    """(suggestion, best_lr): the steepest descent of ``smoothed`` against log(rate) between the
    skipped start and the minimum that follows it, and the rate at that minimum."""
    k = smoothed.shape[0]
    if k < 3:
        best = float(learning_rates[int(np.argmin(smoothed))])
        return best, best
    skip = _skip(k, beta)
    i_min = skip + int(np.argmin(smoothed[skip:]))
    slope = np.gradient(smoothed, np.log(learning_rates))
    return float(learning_rates[skip + int(np.argmin(slope[skip:i_min + 1]))]), float(learning_rates[i_min])


def lr_find(estimator, X, y, lr_min=1e-6, lr_max=10, steps=100, *, sample_weight=None, smoothing=0.98,
            stop_factor=4.0):
    """Learning-rate range test: sweep the rate geometrically over one short run.

    A clone of ``estimator`` starts from the state ``fit`` starts from and takes ``steps``
    mini-batch steps (``batch_size`` rows each, drawn from a permutation seeded by
    ``random_state``; the whole training set when ``batch_size`` is None), the rate of step i being
    ``lr_min * (lr_max / lr_min) ** (i / (steps - 1))``. Each step is one call of the engine that
    ``fit`` runs, with the estimator's optimizer, penalty, clipping and threads; its ``schedule``
    and ``warmup`` are ignored (the sweep is the schedule). The sweep stops early once the smoothed
    loss exceeds ``stop_factor`` times its minimum so far (both taken past the skipped start, see
    the notes), or a batch loss exceeds 1e8 times the first one, or the loss or the parameters
    become non-finite. ``estimator`` itself is never modified.

    Parameters
    ----------
    estimator : descend.LinearRegression or descend.LogisticRegression
        The model to tune; its parameters other than ``learning_rate``, ``schedule``, ``warmup``
        and ``max_iter`` shape the run.
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
    lr_min, lr_max : float, default=1e-6, 10
        First and last rate of the sweep, ``0 < lr_min < lr_max``.
    steps : int, default=100
        Number of mini-batch steps (rates) of the full sweep, at least 2.
    sample_weight : array-like of shape (n_samples,), optional
    smoothing : float, default=0.98
        Factor ``beta`` of the moving average of the loss, in [0, 1); 0 does not smooth.
    stop_factor : float, default=4.0
        Stop once the smoothed loss exceeds this multiple of its minimum so far, past the skipped
        start.

    Returns
    -------
    LRFindResult
        The rates, the raw and smoothed losses, the ``suggestion``, ``best_lr`` and whether the
        sweep ``stopped_early``.

    Warns
    -----
    UserWarning
        When the loss blew up so soon that fewer points were recorded than twice the start a
        full sweep skips (``2 * min(34, steps // 2)`` for ``smoothing=0.98``), or than 4: the
        suggestion then rests on a few points past the noisy start, if any. Lower ``lr_min`` or
        raise ``steps``. Also when the loss never moved.

    Notes
    -----
    The suggestion is the rate where the smoothed loss falls fastest against log(rate): the
    argmin of ``np.gradient(smoothed, log(rates))`` over the points from ``skip`` up to the
    minimum of ``smoothed[skip:]`` (past it the loss rises). ``skip`` leaves out the start, where
    the moving average still rests on a few batches and its slope is mostly noise: the points
    before its half-life, ``1 - smoothing ** (i + 1) < 1/2`` (34 points for ``smoothing=0.98``),
    at most half of those recorded. ``best_lr`` is the rate at that minimum of ``smoothed[skip:]``.
    The stop test ignores the start as well (the first ``skip`` points of a full sweep of
    ``steps``), so that a lucky low batch there cannot end a sound sweep. Start ``lr_min`` a few
    decades below the rates of interest so that the descent comes after the skipped start. The
    steepest descent is a conservative rate for the estimator's own schedule (``best_lr``, where
    the loss is lowest, is usually too large).

    Examples
    --------
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sklearn.preprocessing import StandardScaler
    >>> import descend
    >>> X, y = load_breast_cancer(return_X_y=True)
    >>> X = StandardScaler().fit_transform(X)
    >>> found = descend.lr_find(descend.LogisticRegression(random_state=0), X, y)
    >>> model = descend.LogisticRegression(learning_rate=found.suggestion).fit(X, y)
    """
    _check_args(estimator, lr_min, lr_max, steps, smoothing, stop_factor)
    est = clone(estimator).set_params(schedule="constant", warmup=0.0)  # the sweep is the schedule
    est._check_params()
    X, y, sample_weight = est._validate(X, y, sample_weight, reset=True)
    targets, labels, K = est._targets(y, True, None)
    sample_weight = est._weights(y, targets, labels, sample_weight, True, False)
    tr = est._setup(X, targets, labels, sample_weight, K, reset=True)
    rows = tr.order
    n_train = rows.shape[0]
    batch = n_train if est.batch_size is None else min(int(est.batch_size), n_train)
    config = _engine_config(est, batch)
    if sample_weight is not None:
        config["weight_mean"] = _weight_mean(sample_weight, tr)
    scale2 = est._loss_scale()
    rates = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    stream = _batches(rows, batch, bool(est.shuffle) and batch < n_train, check_random_state(est.random_state),
                      est._shuffle_run())

    recorded, losses, smoothed = [], [], []
    avg, best = 0.0, np.inf
    stopped = False
    # The stop test skips the start as the suggestion does: there the average rests on a few
    # batches, and a lucky low one (likely with small batches) would set a baseline that the
    # settled loss exceeds by stop_factor, ending a sound sweep within a few points. A loss that
    # blows up meanwhile still ends the sweep, by the loss limit or a non-finite value, and a
    # sweep that short is warned about below.
    warm = _skip(steps, smoothing)
    i = 0
    while i < steps:
        res = est._engine(X, targets, labels, sample_weight, next(stream), tr.rng_state, tr.coef, tr.intercept,
                          tr.state, tr.optimizer, _constant_schedule(rates[i]), config)
        tr.optimizer["step"], tr.optimizer["fresh"] = res["step"], res["fresh"]
        if res["status"] == 1:
            stopped, stop_lr = True, rates[i]
            break
        if not res["weight_sum"] > 0:  # a batch of zero weight: its penalty's step taken, no loss to record
            continue
        loss = res["loss_sum"] / res["weight_sum"]
        if config["loss_limit"] == np.inf:
            config["loss_limit"] = 1e8 * max(loss, 1e-8)
        avg = smoothing * avg + (1.0 - smoothing) * loss
        recorded.append(rates[i])
        losses.append(loss)
        smoothed.append(avg / (1.0 - smoothing ** len(losses)))
        i += 1
        if i > warm:
            best = min(best, smoothed[-1])
            if smoothed[-1] > stop_factor * best:
                stopped, stop_lr = i < steps, rates[i - 1]
                break

    if not recorded:
        raise ValueError(f"the loss diverged at the first rate, lr_min={lr_min:g}: choose a smaller lr_min")
    learning_rates = np.asarray(recorded, dtype=np.float64)
    losses = np.asarray(losses, dtype=np.float64) * scale2
    smoothed = np.asarray(smoothed, dtype=np.float64) * scale2
    k = learning_rates.shape[0]
    needed = max(2 * warm, 4)  # points past the skipped start for a suggestion that means something
    if np.ptp(losses) == 0:
        warn(f"the loss stayed at {losses[0]:.6g} through the sweep, so the suggested rate means nothing: "
             "check X and y (a constant target, a loss already at 0?)")
    elif stopped and k < needed:  # fewer points past the skipped start than in it
        warn(f"the loss blew up at lr={stop_lr:.3g}, after {k} of the {steps} rates: too few for the suggestion "
             f"to mean much, as it skips up to {warm} while the moving average settles (record at least "
             f"{needed}): lower lr_min or raise steps")
    suggestion, best_lr = _suggest(learning_rates, smoothed, smoothing)
    return LRFindResult(learning_rates=learning_rates, losses=losses, smoothed=smoothed, suggestion=suggestion,
                        best_lr=best_lr, stopped_early=stopped)
