"""scikit-learn-compatible linear models trained by the C++ mini-batch engine.

Each epoch is one call into C++ (shuffle, gather each mini-batch by index, loss and gradient,
clip, optimizer step, learning-rate schedule) with the GIL released; Python only does the
per-epoch bookkeeping: history, validation, early stopping, reduce-on-plateau, callbacks. Small
epochs that need none of those run several per call.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
import warnings
from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import _check_sample_weight, check_is_fitted, validate_data

from . import _core, schedules
from ._validation import check_sample_weight, check_scalar, resolve_n_threads, warn
from .exceptions import DivergenceError

__all__ = ["LinearRegression", "LogisticRegression"]

_LOSS_KIND = {"squared_error": 0, "logistic": 1, "softmax": 2}
# optimizer name -> (engine kind, fixed settings)
_OPTIMIZERS = {
    "sgd": (0, dict(momentum=0.0)),
    "momentum": (0, {}),
    "nesterov": (0, dict(nesterov=True)),
    "adam": (1, {}),
    "adamw": (1, dict(decoupled=True)),
    "rmsprop": (2, dict(momentum=0.0)),
}
# step counts beyond any training's (schedules are told at most this many, which int64 holds)
_MAX_STEPS = 2**62
# state buffers each optimizer needs, by slot (s0, s1, s2)
_STATE_SLOTS = {
    "sgd": (False, False, False), "momentum": (True, False, False), "nesterov": (True, False, False),
    "adam": (True, True, False), "adamw": (True, True, False), "rmsprop": (True, False, False),
}
# how each slot's values scale with the gradient: as it (1), as its square (2), or not (0):
# (momentum buffer), (Adam's m, v, v_max), (RMSprop's mean square, mean gradient, momentum buffer
# of g / sqrt(mean square)), as the kernels keep them (see _Training.rescale)
_STATE_POWERS = {"sgd": (0, 0, 0), "momentum": (1, 0, 0), "nesterov": (1, 0, 0), "adam": (1, 2, 2),
                 "adamw": (1, 2, 2), "rmsprop": (2, 1, 0)}


def _stratified_draw(rng, n_val, codes):
    """n_val positions of codes (class ids, every class of 2 rows or more) drawn from each class
    in proportion, as scikit-learn's StratifiedShuffleSplit draws its test rows: class c takes
    floor(n_val count_c / n) of them, the rest go one each to the classes of the largest
    remainders (ties at random), and every class keeps a row. A few arrays of n ints, where
    StratifiedShuffleSplit builds lists of boxed ids (with 1M rows, 30% of a float32 X of 100
    features, and 0.3 s)."""
    counts = np.bincount(codes)
    exact = counts * (n_val / len(codes))
    cap = np.maximum(counts - 1, 0)  # every class keeps a row in training
    take = np.minimum(np.floor(exact).astype(np.int64), cap)
    left = n_val - int(take.sum())
    by_remainder = np.lexsort((rng.random_sample(len(counts)), -(exact - take)))
    while left > 0:  # ends: the caller leaves at least one row per class in training
        room = by_remainder[take[by_remainder] < cap[by_remainder]][:left]
        take[room] += 1
        left -= len(room)
    perm = rng.permutation(len(codes))
    grouped = perm[np.argsort(codes[perm], kind="stable")]  # by class, each in a random order
    del perm
    starts = np.cumsum(counts) - counts
    return np.concatenate([grouped[a:a + k] for a, k in zip(starts, take) if k])


def _weight_unit(sample_weight, dtype):
    """What row weights (float64) are divided by before they are cast to the model's dtype: their
    largest when it is below 1e-100 or above 1e100 (float32: 1e-20, 1e20), else 1. The weighted
    means the model is trained on are the same, and the weights and their sums neither underflow
    nor overflow. A training's first call fixes it (partial_fit's later calls divide by the same,
    so that their weights compare with the first's)."""
    if sample_weight is None:
        return 1.0
    top = float(sample_weight.max())
    tiny, huge = (1e-20, 1e20) if dtype == np.float32 else (1e-100, 1e100)
    return top if top > 0 and not tiny <= top <= huge else 1.0


def _weight_mean(sample_weight, tr):
    """The mean row weight of the training rows: the engine's batches divide their weighted loss
    sums by their row count times it (a training's first call fixes it: see _Training)."""
    train = sample_weight if tr.val_index is None else sample_weight[tr.order]
    mean = float(np.mean(train, dtype=np.float64))
    if not mean > 0:
        raise ValueError("every training row has zero sample_weight")
    return mean


def _codes(targets, labels):
    """Each row's class index: the labels (multinomial) or the 0/1 targets (binary)."""
    return labels if labels is not None else targets.astype(np.intp)


def _is_sparse(X):
    return hasattr(X, "tocsr") and hasattr(X, "nnz")


def _binary_codes(y, classes):
    """(classes, y == classes[1]) when numeric y holds two integral labels, and only those (the
    given two classes, or else its minimum and maximum); None otherwise, for the general path,
    which also produces every error message."""
    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0 or y.dtype.kind not in "biuf":
        return None
    if classes is None:
        lo, hi = y.min(), y.max()
        if not lo < hi:  # one class, or NaN
            return None
        classes = np.array([lo, hi], dtype=y.dtype)
    elif len(classes) != 2 or np.asarray(classes).dtype.kind not in "biuf":
        return None
    values = np.asarray(classes)
    if values.dtype.kind == "f":  # integral values only, as type_of_target has them (else "continuous")
        with np.errstate(invalid="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            if not (np.all(np.abs(values) < 2.0**63) and np.array_equal(values, values.astype(np.int64))):
                return None
    high = y == classes[1]
    if np.count_nonzero(high) + np.count_nonzero(y == classes[0]) != y.size:
        return None
    return classes, high


class _Snapshot:
    """The training state before an epoch: O(parameters), to undo an interrupted or rejected one."""

    def __init__(self, tr):
        self.coef, self.intercept = tr.coef.copy(), tr.intercept.copy()
        self.state = [[None if s is None else s.copy() for s in slot] for slot in tr.state]
        self.optimizer, self.rng_state, self.epochs = dict(tr.optimizer), tr.rng_state.copy(), tr.epochs

    def restore(self, tr):
        tr.coef[...], tr.intercept[...] = self.coef, self.intercept
        for slot, saved in zip(tr.state, self.state):
            for s, v in zip(slot, saved):
                if s is not None:
                    s[...] = v
        tr.optimizer.clear()
        tr.optimizer.update(self.optimizer)
        tr.rng_state[...] = self.rng_state
        tr.epochs = self.epochs


def _reject_nonfinite(X, n_threads, tr, snapshot):
    """After a non-finite loss: if X holds a NaN or an infinity, undo the epoch and raise the
    ValueError an upfront check would have raised. (Every training row is read in the first
    epoch of a call, so a non-finite X is always caught there, before any model is published.)"""
    _check_finite(X, n_threads, undo=lambda: snapshot.restore(tr))


def _check_finite(X, n_threads, undo=None):
    """Raises _NonFiniteX (after undo()) naming X's first row with a NaN or an infinity."""
    row = int(_core.first_nonfinite_row(X, n_threads))
    if row >= 0:
        if undo is not None:
            undo()
        raise _NonFiniteX(_nonfinite_message(row))


def _nonfinite_message(row):
    return (f"Input X contains NaN or infinity (row {row}); descend trains on finite values only: drop those rows "
            f"or impute them first (e.g. sklearn.impute.SimpleImputer)")


class _NonFiniteX(ValueError):
    """Raised inside _run; _fit turns it into a plain ValueError once the estimator is restored."""


class _Training:
    """Everything that persists between epochs and partial_fit calls: O(parameters). (A call's
    row order and validation rows, O(n), are dropped when it ends.)"""

    def __init__(self, est, X, K):
        d = X.shape[1]
        self.dtype = X.dtype
        self.coef = np.zeros((d, K) if K > 1 else d, dtype=X.dtype)
        self.intercept = np.zeros(K, dtype=X.dtype)
        slots = _STATE_SLOTS[est.optimizer]
        self.state = [[np.zeros_like(p) if need else None for need in slots] for p in (self.coef, self.intercept)]
        self.optimizer_name = est.optimizer
        self.optimizer = dict(dampening=0.0, nesterov=False, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False,
                              decoupled=False, alpha=0.99, centered=False, step=0, fresh=True)
        self.set_hyperparameters(est)
        self.rng_state = np.array([check_random_state(est.random_state).randint(0, 2**62)], dtype=np.uint64)
        self.epochs = 0
        self.lr_scale = 1.0
        self.best_loss = np.inf
        self.no_improvement = 0
        self.best_params = None
        self.best_epoch = None  # the epoch after which best_params were taken
        # The mean row weight of the training's first call with weight (1 without sample weights):
        # every batch's weighted loss sum is divided by its rows times it, in later partial_fit
        # calls too, so that the calls' weights count alike (each call's own mean would make the
        # weights count only against the other rows of the same call).
        self.weight_mean = None

    def set_hyperparameters(self, est):
        """The optimizer's settings from the estimator's (each partial_fit call takes its
        momentum and weight_decay, as it takes learning_rate; the optimizer stays the training's)."""
        if est.optimizer != getattr(self, "optimizer_name", est.optimizer):  # (older pickles have none)
            raise ValueError(f"optimizer={est.optimizer!r}, but this training began with optimizer="
                             f"{self.optimizer_name!r}, whose state partial_fit continues; call fit to start anew "
                             f"with {est.optimizer!r}, or set optimizer back")
        kind, fixed = _OPTIMIZERS[est.optimizer]
        self.optimizer.update(kind=kind, momentum=float(est.momentum), weight_decay=0.0)
        self.optimizer.update(fixed)
        if est.optimizer == "adamw":
            self.optimizer["weight_decay"] = 0.01 if est.weight_decay is None else float(est.weight_decay)

    def astype(self, dtype):
        """The same training state in another float type (a partial_fit call with X in it)."""
        self.dtype = np.dtype(dtype)
        self.coef, self.intercept = self.coef.astype(dtype), self.intercept.astype(dtype)
        self.state = [[None if s is None else s.astype(dtype) for s in slot] for slot in self.state]
        if self.best_params is not None:
            self.best_params = tuple(p.astype(dtype) for p in self.best_params)

    def rescale(self, r, optimizer):
        """The same training in units r times as large as the model's (LinearRegression's y
        moved to a larger unit): the coefficients times r, the optimizer's state times r to the
        power its values scale with the gradient. New arrays, not in place: a failing call's
        restore puts the old ones back."""
        T = self.dtype.type
        self.coef, self.intercept = self.coef * T(r), self.intercept * T(r)
        powers = _STATE_POWERS[getattr(self, "optimizer_name", optimizer)]  # (older pickles have none)
        self.state = [[s if s is None or not k else s * T(r ** k) for s, k in zip(slot, powers)]
                      for slot in self.state]
        if self.best_params is not None:
            self.best_params = tuple(p * T(r) for p in self.best_params)


def _plain_arrays(X, y):
    """Whether (X, y) already has the form validate_data returns: plain NumPy arrays, X 2-D,
    C-ordered float32/float64 with at least one row and one feature, y one-dimensional of X's
    length, numeric and finite."""
    return (type(X) is np.ndarray and X.ndim == 2 and X.dtype in (np.float64, np.float32)
            and X.flags.c_contiguous and X.shape[0] >= 1 and X.shape[1] >= 1
            and type(y) is np.ndarray and y.shape == (X.shape[0],) and y.dtype.kind in "biuf"
            and (y.dtype.kind != "f" or bool(np.isfinite(y).all())))


class _LinearBase(BaseEstimator):
    """Shared fit machinery; subclasses define the targets, the loss and the predictions."""

    # One epoch, and the loss on the validation rows: descend.reference swaps in NumPy versions.
    _engine = staticmethod(_core.train_epoch)
    _subset_loss = staticmethod(_core.subset_loss)

    def __init__(self, *, optimizer="adam", learning_rate=0.03, batch_size=32, max_iter=200, momentum=0.9,
                 weight_decay=None, schedule="cosine", warmup=0.0, penalty="l2", alpha="auto", l1_ratio=0.15,
                 fit_intercept=True,
                 clip_norm=None, tol=None, early_stopping=False, validation_fraction=0.1, n_iter_no_change=5,
                 shuffle=True, random_state=None, n_threads=None, warm_start=False, verbose=0, callback=None):
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.schedule = schedule
        self.warmup = warmup
        self.penalty = penalty
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.fit_intercept = fit_intercept
        self.clip_norm = clip_norm
        self.tol = tol
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.shuffle = shuffle
        self.random_state = random_state
        self.n_threads = n_threads
        self.warm_start = warm_start
        self.verbose = verbose
        self.callback = callback

    # ---- checks ---------------------------------------------------------------------------------
    def _check_params(self):
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMIZERS)}, got {self.optimizer!r}")
        check_scalar(self.learning_rate, "learning_rate", low=0.0, low_inclusive=False)
        if self.batch_size is not None and (isinstance(self.batch_size, bool) or not isinstance(
                self.batch_size, numbers.Integral) or self.batch_size < 1):
            raise ValueError(f"batch_size must be a positive int or None (full batch), got {self.batch_size!r}")
        if isinstance(self.max_iter, bool) or not isinstance(self.max_iter, numbers.Integral) or self.max_iter < 1:
            raise ValueError(f"max_iter must be a positive int (epochs), got {self.max_iter!r}")
        check_scalar(self.momentum, "momentum", low=0.0, high=1.0, high_inclusive=False)
        if not isinstance(self.shuffle, (bool, np.bool_)) and (
                not isinstance(self.shuffle, numbers.Integral) or self.shuffle < 0):
            raise ValueError(f"shuffle must be True (rows), False, or an int k >= 2 (runs of k consecutive rows; "
                             f"1 is True, 0 is False), got {self.shuffle!r}")
        if self.weight_decay is not None:
            if self.optimizer != "adamw":
                raise ValueError(f"weight_decay is the decoupled weight decay of optimizer='adamw'; with "
                                 f"optimizer={self.optimizer!r} regularize with penalty and alpha instead")
            check_scalar(self.weight_decay, "weight_decay", low=0.0)
        check_scalar(self.warmup, "warmup", low=0.0)
        if self.penalty not in ("l2", "l1", "elasticnet", None):
            raise ValueError(f"penalty must be 'l2', 'l1', 'elasticnet' or None, got {self.penalty!r}")
        if not (isinstance(self.alpha, str) and self.alpha == "auto"):
            check_scalar(self.alpha, "alpha", low=0.0)
        check_scalar(self.l1_ratio, "l1_ratio", low=0.0, high=1.0)
        if self.clip_norm is not None:
            check_scalar(self.clip_norm, "clip_norm", low=0.0, low_inclusive=False)
        if self.tol is not None:
            check_scalar(self.tol, "tol", low=0.0)
        check_scalar(self.validation_fraction, "validation_fraction", low=0.0, high=1.0, low_inclusive=False,
                     high_inclusive=False)
        if isinstance(self.n_iter_no_change, bool) or not isinstance(self.n_iter_no_change, numbers.Integral) \
                or self.n_iter_no_change < 1:
            raise ValueError(f"n_iter_no_change must be a positive int, got {self.n_iter_no_change!r}")
        for name in ("fit_intercept", "early_stopping", "warm_start"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if not isinstance(self.verbose, numbers.Integral) or self.verbose < 0:
            raise ValueError(f"verbose must be an int >= 0 (0: silent, 1: a line per epoch, 2: a progress bar), "
                             f"got {self.verbose!r}")
        resolve_n_threads(self.n_threads)
        if self.callback is not None and not callable(self.callback):
            raise TypeError("callback must be callable(estimator, record) or None")
        schedule = schedules.get(self.schedule)
        if isinstance(schedule, schedules.Cosine) and float(schedule.min_lr) > float(self.learning_rate):
            raise ValueError(f"the cosine schedule anneals learning_rate down to its min_lr, but min_lr="
                             f"{schedule.min_lr!r} is above learning_rate={self.learning_rate!r}")
        return schedule

    def _shuffle_run(self):
        """Rows per shuffled run: 1 shuffles rows (shuffle=True), k >= 2 runs of k rows."""
        return 1 if isinstance(self.shuffle, (bool, np.bool_)) else min(max(1, int(self.shuffle)), 2**62)

    def _penalty(self):
        """(alpha, l1_ratio) of the objective, in the units the engine trains in."""
        alpha = self._n_samples_alpha if isinstance(self.alpha, str) else float(self.alpha)
        alpha = alpha if self.penalty is not None else 0.0
        l1 = {"l2": 0.0, "l1": 1.0, "elasticnet": float(self.l1_ratio), None: 0.0}[self.penalty]
        return alpha, l1

    def _validate(self, X, y, sample_weight, reset, check_finite=True):
        """check_finite=False leaves X's NaN/infinity check to the first epoch, which reads every
        training row anyway (see _run): X is then read once less per fit."""
        if _is_sparse(X):
            raise TypeError("X is a sparse matrix; sparse input is not supported yet, pass a dense array")
        if reset and not check_finite and _plain_arrays(X, y):
            # what validate_data does with such arrays, at a hundredth of its 0.2 ms (most of a
            # small fit's setup): X has no feature names
            self.n_features_in_ = X.shape[1]
            if hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        elif reset or check_finite or not self._already_valid(X, y):
            X, y = validate_data(self, X, y, reset=reset, dtype=[np.float64, np.float32], order="C",
                                 y_numeric=False, multi_output=False, ensure_all_finite=check_finite)
        # float64 whatever X's type: weights beyond float32's range are brought into it (_weights)
        sample_weight = None if sample_weight is None else check_sample_weight(
            _check_sample_weight(sample_weight, X, dtype=np.float64), X.shape[0], np.float64)
        return X, y, sample_weight

    def _already_valid(self, X, y):
        """Whether a later call's (X, y) already has the form validate_data would return (plain
        arrays, see _plain_arrays) with the fitted feature count, the estimator fitted without
        feature names. Streaming partial_fit calls then skip its checks, which cost about 0.3 ms
        a call (five times a 1,000-row epoch)."""
        return (_plain_arrays(X, y) and X.shape[1] == getattr(self, "n_features_in_", -1)
                and not hasattr(self, "feature_names_in_"))

    # ---- training -------------------------------------------------------------------------------
    def _setup(self, X, targets, labels, sample_weight, K, reset, incremental=False):
        """Create (for fit; from the current model with warm_start) or keep (partial_fit) the
        training state. A partial_fit call with X in the other float type carries the model and
        the optimizer state over to it."""
        n = X.shape[0]
        if reset or not hasattr(self, "_training"):
            tr = _Training(self, X, K)
            self._init_params(tr, targets, labels, sample_weight, incremental)
            self._training = tr
        else:  # a later partial_fit call: its settings
            self._training.set_hyperparameters(self)
        tr = self._training
        if tr.dtype != X.dtype:
            tr.astype(X.dtype)
        idx = np.arange(n, dtype=np.int64)
        tr.val_index = None
        if self.early_stopping and not incremental:  # as scikit-learn's: fit only
            rng = check_random_state(self.random_state)
            n_val = max(1, int(math.ceil(self.validation_fraction * n)))
            if n - n_val < 1:
                raise ValueError(f"early_stopping: validation_fraction={self.validation_fraction} leaves no "
                                 f"training rows out of n_samples={n}")
            validation = np.zeros(n, dtype=bool)
            validation[self._validation_rows(rng, n_val, targets, labels)] = True
            if sample_weight is not None and not np.any(sample_weight[validation] > 0):
                raise ValueError(f"early_stopping: the {n_val} rows held out for validation all weigh 0 "
                                 f"(by sample_weight or their class's weight), so their loss cannot tell when to "
                                 f"stop; use a larger validation_fraction, or early_stopping=False")
            tr.val_index = np.flatnonzero(validation).astype(np.int64)
            idx = np.flatnonzero(~validation).astype(np.int64)
        tr.order = idx
        return tr

    def _loss_limit(self, X, targets, labels, sample_weight, tr, loss_kind, alpha, l1_ratio, n_threads):
        """(limit, start): the batch loss (in the engine's units) above which training has
        diverged, 1e8 times the larger of 1 and start: the loss of the model a training starts
        from, on up to 1,000 of its training rows spread over X, in its first call; in a later
        partial_fit call (which costs nothing more) the lowest epoch loss so far, so that a stream
        whose loss grows less than 1e8 times a call is still caught (from the last epoch's, one
        grew to 3e43 in 100 calls). y is standardized for the squared error and a model that
        predicts nothing has a log-loss of at most log(classes): a fresh model's loss is about 1."""
        losses = self.history_["loss"]  # this training's epochs (history_ starts with it)
        start = min(losses) / self._loss_scale() if losses else None
        if start is None:
            start = self._sample_loss(X, targets, labels, sample_weight, tr, loss_kind, alpha, l1_ratio, n_threads)
        return 1e8 * max(1.0, start if math.isfinite(start) else 1.0), start

    def _suggested_rate(self, lr, X, sample_weight, tr, batch, alpha, l1_ratio):
        """(rate, why) to suggest in place of lr, which was too large: a tenth of it, or the safe
        rate (_safe_learning_rate) when that is lower, then with why it is that ("" for lr / 10)."""
        safe, why = self._safe_learning_rate(X, sample_weight, tr, batch, alpha, l1_ratio)
        return (safe, why) if safe is not None and safe <= lr / 10 else (lr / 10, "")

    def _safe_learning_rate(self, X, sample_weight, tr, batch, alpha, l1_ratio):
        """(rate, why): a learning rate this training should not diverge at, from up to 1,000 of
        its rows spread over X (fewer for wide X: at most 4M values), and what it is; (None, None)
        when they tell nothing. A tenth of the rate that diverged diverged again in most cases
        (22 of 24 on three data sets).

        SGD: 1 / C, C the curvature a batch's objective can have: c (lambda_max(E_w x x') +
        max_i (w_i / mean w) |x_i|^2 / B) plus the L2 strength and the weight decay, where x holds
        the intercept's 1, B is the batch size and c bounds the loss's second derivative in the
        prediction (squared error 1, log-loss 1/4, softmax 1/2): the mean curvature, and the most
        one row can add to a batch's (a batch divides its weighted loss sum by B times the mean
        weight: a row of weight 1e4 diverged at a rate from the mean alone). Gradient descent
        diverges above 2 / C; with momentum mu the steps add up to 1 / (1 - mu) times as much, so
        (1 - mu) / C. Adam moves every weight by up to about the rate a step, a row's prediction
        so by up to the rate times |x|_1: 1 / E_w |x|_1 keeps that near 1. RMSprop's first steps
        are 1 / sqrt(1 - 0.99) = 10 times the rate: a tenth of that."""
        rows = self._sample_rows(tr, max(1, min(1000, 4_000_000 // (X.shape[1] + 1))))
        Xs = np.asarray(X[rows], dtype=np.float64)
        one = 1.0 if self.fit_intercept else 0.0  # the intercept's column of ones, left implicit
        w = np.ones(Xs.shape[0]) if sample_weight is None else np.asarray(sample_weight[rows], dtype=np.float64)
        with np.errstate(all="ignore"):
            total = float(w.sum())
            if not (Xs.shape[0] and total > 0 and math.isfinite(total) and np.all(np.isfinite(Xs))):
                return None, None
            w = w / total
            kind = tr.optimizer["kind"]
            if kind != 0:  # Adam (AdamW), RMSprop
                reach = float(w @ np.abs(Xs).sum(axis=1)) + one
                if not (reach > 0 and math.isfinite(reach)):
                    return None, None
                if kind == 1:
                    return 1.0 / reach, "Adam moves each weight by about the rate a step: 1 / the mean |x|_1 moves a " \
                                        "row's prediction by about 1"
                return 0.1 / reach, "RMSprop's first steps move each weight by about 10 times the rate: 0.1 / the " \
                                    "mean |x|_1 moves a row's prediction by about 1"
            v = np.random.default_rng(0).standard_normal(Xs.shape[1] + 1)
            lam = 0.0
            for _ in range(50):  # power iteration: lambda_max of E_w x x', x = (row, one)
                z = w * (Xs @ v[:-1] + one * v[-1])
                u = np.append(Xs.T @ z, one * z.sum())
                lam = float(np.linalg.norm(u))
                if not (lam > 0 and math.isfinite(lam)):
                    break
                v = u / lam
            row = float(np.max(w * Xs.shape[0] * (np.einsum("ij,ij->i", Xs, Xs) + one))) / max(1, batch)
            c = {"squared_error": 1.0, "logistic": 0.25, "softmax": 0.5}[self._loss_kind]
            l2 = alpha * (1.0 - l1_ratio) + float(tr.optimizer.get("weight_decay", 0.0))
            curvature = c * (lam + row) + l2
            mu = float(tr.optimizer.get("momentum", 0.0))
            if not (curvature > 0 and math.isfinite(curvature) and mu < 1):
                return None, None
        why = f"{1 - mu:g} / " if mu else "1 / "
        why += (f"the curvature of a batch's objective, {curvature:.3g} on a sample of rows"
                + (f", most of it from alpha={self.alpha!r}" if l2 > curvature / 2 else ""))
        return (1.0 - mu) / curvature, why

    @staticmethod
    def _sample_rows(tr, limit=1000):
        """Up to `limit` of the training's rows, spread evenly over its order."""
        return tr.order[::max(1, -(-tr.order.shape[0] // limit))]

    def _sample_loss(self, X, targets, labels, sample_weight, tr, loss_kind, alpha, l1_ratio, n_threads):
        """The current model's loss (engine's units) on up to 1,000 training rows spread over X."""
        rows = np.ascontiguousarray(self._sample_rows(tr))
        return self._subset_loss(X, targets, labels, sample_weight, rows, tr.coef, tr.intercept,
                                 _LOSS_KIND[loss_kind], alpha, l1_ratio, n_threads)

    def _run(self, X, targets, labels, sample_weight, tr, schedule, epochs, incremental=False):
        self.best_epoch_ = None  # set when early stopping restores an epoch's weights
        n_train = tr.order.shape[0]
        batch = n_train if self.batch_size is None else min(int(self.batch_size), n_train)
        steps_per_epoch = -(-n_train // batch)
        alpha, l1_ratio = self._penalty_for_engine()
        loss_kind = self._loss_kind
        n_threads = resolve_n_threads(self.n_threads)
        limit, start_loss = self._loss_limit(X, targets, labels, sample_weight, tr, loss_kind, alpha, l1_ratio,
                                             n_threads)
        config = dict(loss=_LOSS_KIND[loss_kind], fit_intercept=bool(self.fit_intercept), alpha=alpha,
                      l1_ratio=l1_ratio, batch_size=0 if self.batch_size is None else batch,
                      shuffle=bool(self.shuffle), shuffle_run=self._shuffle_run(), clip_norm=float(self.clip_norm or 0.0),
                      loss_limit=limit, n_threads=n_threads)
        # the first call's mean row weight; rows without sample weights weigh 1 / the first call's unit
        config["weight_mean"] = tr.weight_mean * (1.0 if sample_weight is not None else self._weight_unit)
        plateau = isinstance(schedule, schedules.Plateau)
        history = self.history_
        scale2 = self._loss_scale()
        if incremental and isinstance(schedule, schedules.Cosine) and tr.epochs == int(self.max_iter) \
                and float(schedule.min_lr) == 0.0:  # said by the first call past the cosine's end
            warn(f"partial_fit: the cosine schedule has annealed the learning rate to 0 over max_iter="
                 f"{self.max_iter} epochs (calls), so this and later calls leave the model as it is; to keep "
                 f"learning from a stream use schedule='constant' or 'invscaling', or a larger max_iter")
        if not incremental and float(self.warmup) >= int(self.max_iter):
            warn(f"warmup={self.warmup!r} epochs is not shorter than max_iter={self.max_iter}: the learning rate "
                 f"never reaches learning_rate={self.learning_rate!r} before the schedule ends")
        # Epochs after a call's first are asked of the engine all at once when nothing runs
        # between them in Python: it runs several in one call when they are small (a small
        # epoch takes about as long as the call and this loop around it), one otherwise.
        batched = (self._engine is _core.train_epoch and self.callback is None and not self.verbose
                   and tr.val_index is None and self.tol is None and not plateau)
        epoch_of_call = 0
        stop = False
        while epoch_of_call < epochs and not stop:
            sched = dict(kind=schedule.kind, lr=float(self.learning_rate), scale=tr.lr_scale,
                         gamma=float(getattr(schedule, "gamma", 0.1)),
                         step_size=float(getattr(schedule, "step_size", 1.0)),
                         power_t=float(getattr(schedule, "power_t", 0.25)),
                         min_lr=float(getattr(schedule, "min_lr", 0.0)), steps_per_epoch=steps_per_epoch,
                         total_steps=min(steps_per_epoch * int(self.max_iter), _MAX_STEPS),
                         warmup_steps=min(math.ceil(float(self.warmup) * steps_per_epoch), _MAX_STEPS),
                         epoch=tr.epochs)  # each epoch at its place in the schedule, whatever its size
            if batched and epoch_of_call > 0:
                config["epochs"] = min(epochs - epoch_of_call, _MAX_STEPS)
            else:
                config.pop("epochs", None)
            snapshot = _Snapshot(tr)
            start = time.perf_counter()
            try:
                res = self._engine(X, targets, labels, sample_weight, tr.order, tr.rng_state, tr.coef,
                                   tr.intercept, tr.state, tr.optimizer, sched, config)
            except KeyboardInterrupt:
                snapshot.restore(tr)
                self._publish(tr)
                self.n_iter_, self.t_ = tr.epochs, tr.optimizer["step"]  # the epochs completed
                raise
            elapsed = time.perf_counter() - start
            tr.optimizer["step"], tr.optimizer["fresh"] = res["step"], res["fresh"]
            if res["status"] == 1 and epoch_of_call == 0:  # later epochs read the same, finite rows
                _reject_nonfinite(X, n_threads, tr, snapshot)
            per_epoch = res.get("epochs") or [(res["loss_sum"], res["weight_sum"], res["grad_norm_sum"],
                                                res["steps"], res["last_lr"], elapsed)]
            for i, (loss_sum, weight_sum, grad_norm_sum, steps, last_lr, seconds) in enumerate(per_epoch):
                epoch_of_call += 1
                tr.epochs += 1
                if res["status"] == 1 and i == len(per_epoch) - 1:
                    # back to the start of the epoch that diverged: the engine's own when it ran
                    # several epochs, else this call's start (a diverging partial_fit changes nothing)
                    failed = tr.epochs
                    if "epochs" in config:
                        tr.epochs -= 1
                    else:
                        snapshot.restore(tr)
                    self._publish(tr)
                    self.n_iter_, self.t_ = tr.epochs, tr.optimizer["step"]
                    lr, loss = res["fail_lr"], res["fail_loss"] * scale2
                    reason = res.get("fail_reason", 0)
                    if reason == 2:  # no rate is the cause
                        suggested = None
                        what = (f"the gradient's norm reached {res['fail_grad_norm']:.3g}, whose squares overflow "
                                f"{self.optimizer}'s average of squared gradients (after which it would take no "
                                f"steps, whatever the learning rate)")
                        advice = "Standardize X, or set clip_norm (e.g. clip_norm=1.0)."
                    else:
                        suggested, why = self._suggested_rate(lr, X, sample_weight, tr, batch, alpha, l1_ratio)
                        why = f" ({why})" if why else ""
                        what = (f"a parameter became non-finite (the batch's loss was {loss:.4g})" if reason == 1
                                else f"the loss became {loss:.4g}") + f" with learning rate {lr:.3g}"
                        advice = (f"Try a smaller learning rate, e.g. learning_rate={suggested:.2g}{why}, or measure "
                                  f"one with descend.lr_find(model, X, y); or set clip_norm=1.0, or standardize X.")
                    raise DivergenceError(
                        f"{type(self).__name__} diverged at epoch {failed}, step {res['fail_step']}: {what}. The "
                        f"model is the one that epoch started from. {advice}",
                        epoch=failed, step=res["fail_step"], loss=loss, learning_rate=lr,
                        suggested_learning_rate=suggested)
                loss = loss_sum / weight_sum * scale2
                val_loss = None
                if tr.val_index is not None:
                    val_loss = self._subset_loss(X, targets, labels, sample_weight, tr.val_index, tr.coef,
                                                 tr.intercept, config["loss"], alpha, l1_ratio, n_threads) * scale2
                    if not math.isfinite(val_loss) and epoch_of_call == 1:
                        _reject_nonfinite(X, n_threads, tr, snapshot)
                record = dict(epoch=tr.epochs, loss=loss, val_loss=val_loss, learning_rate=last_lr,
                              grad_norm=grad_norm_sum / steps, time=seconds)
                for key in ("loss", "val_loss", "learning_rate", "grad_norm", "time"):
                    history[key].append(record[key])
                self.n_iter_ = tr.epochs
                self.t_ = tr.optimizer["step"]
                stop = self._converged(tr, schedule, plateau, scale2, loss, val_loss)
                if len(per_epoch) == 1:  # one epoch a call: the model is published after each
                    self._publish(tr)
                if self.verbose >= 2:
                    self._progress(record)
                elif self.verbose:
                    extra = f", val_loss {val_loss:.6g}" if val_loss is not None else ""
                    print(f"-- epoch {tr.epochs}: loss {loss:.6g}{extra}, lr {last_lr:.3g}, "
                          f"grad norm {record['grad_norm']:.3g}, {seconds * 1e3:.1f} ms")
                if self.callback is not None:
                    answer = self.callback(self, record)  # True stops; anything else, truthy or not, does not
                    if isinstance(answer, (bool, np.bool_)) and answer:
                        stop = True
                if stop:
                    break
            if len(per_epoch) > 1:
                self._publish(tr)
            if res.get("interrupt") is not None:  # Ctrl-C between two of the call's epochs
                raise res["interrupt"]
        if self.verbose >= 2 and history["loss"]:
            sys.stderr.write("\n")
        if not incremental and not stop and (self.tol is not None or tr.val_index is not None):
            watched = "validation loss" if tr.val_index is not None else "training loss"
            warn(f"{type(self).__name__}: max_iter={self.max_iter} epochs ran before the {watched} stopped "
                 f"improving by tol={self.tol or 0.0:g} for n_iter_no_change={self.n_iter_no_change} epochs; "
                 f"increase max_iter to train further", ConvergenceWarning)
        if tr.best_params is not None and tr.val_index is not None:
            # early stopping: the weights of the epoch of lowest validation loss (as Keras'
            # restore_best_weights; scikit-learn's SGD keeps the last)
            tr.coef[...], tr.intercept[...] = tr.best_params
            self._publish(tr)
            self.best_epoch_ = tr.best_epoch
            if self.verbose:
                print(f"-- early stopping: the weights of epoch {tr.best_epoch} (val_loss "
                      f"{history['val_loss'][tr.best_epoch - 1]:.6g}) restored, {tr.epochs} epochs run")
        if not incremental:  # the model against the one it started from, on the same rows
            end = self._sample_loss(X, targets, labels, sample_weight, tr, loss_kind, alpha, l1_ratio, n_threads)
            # (above by 10% and by more than 1e-3: a model that starts at a loss of 1e-6, one class
            # carrying all the weight, may end at 2e-5 and be as good)
            if end > 1.1 * start_loss and end - start_loss > 1e-3:
                lr = float(self.learning_rate)
                suggested, _ = self._suggested_rate(lr, X, sample_weight, tr, batch, alpha, l1_ratio)
                warn(f"{type(self).__name__}: training ended at a loss of {end * scale2:.4g}, above the "
                     f"{start_loss * scale2:.4g} of the model it started from (on a sample of the training rows): "
                     f"the learning rate is likely too large (learning_rate={lr:.3g}); try learning_rate="
                     f"{suggested:.2g}, or descend.lr_find", ConvergenceWarning)

    def _converged(self, tr, schedule, plateau, scale2, loss, val_loss):
        """After an epoch: whether the monitored loss has not improved by tol for n_iter_no_change
        epochs (and reduce-on-plateau's step when it has not)."""
        monitored = val_loss if val_loss is not None else loss
        if not (self.tol is not None or val_loss is not None or plateau):
            return False
        tol = 0.0 if self.tol is None else float(self.tol) * scale2
        if monitored < tr.best_loss - tol:
            tr.no_improvement = 0
        else:
            tr.no_improvement += 1
        if monitored < tr.best_loss:
            tr.best_loss = monitored
            if val_loss is not None:
                tr.best_params, tr.best_epoch = (tr.coef.copy(), tr.intercept.copy()), tr.epochs
        if tr.no_improvement >= self.n_iter_no_change:
            if plateau and tr.lr_scale * schedule.factor >= schedule.min_ratio:
                tr.lr_scale *= schedule.factor
                tr.no_improvement = 0
            else:  # tol or early stopping met, or the plateau's rate at its floor
                return True
        return False

    def _progress(self, record):
        """verbose >= 2: one progress line on stderr, redrawn every epoch."""
        n, width = record["epoch"], 30
        filled = min(width, int(round(width * n / max(int(self.max_iter), 1))))
        extra = f" val {record['val_loss']:.5g}" if record["val_loss"] is not None else ""
        sys.stderr.write(f"\r{type(self).__name__} [{'#' * filled}{'.' * (width - filled)}] epoch {n}/"
                         f"{self.max_iter} loss {record['loss']:.5g}{extra} lr {record['learning_rate']:.3g}")
        sys.stderr.flush()

    def _fit(self, X, y, sample_weight, epochs, reset, classes=None, incremental=False):
        # shallow: this call replaces attributes (of the training state too: a partial_fit call
        # with X in the other float type), and _run undoes its in-place work
        saved = dict(self.__dict__)
        training = self.__dict__.get("_training")
        saved_training = None if training is None else dict(training.__dict__)

        def restore():
            self.__dict__.clear()
            self.__dict__.update(saved)
            if training is not None:
                training.__dict__.clear()
                training.__dict__.update(saved_training)

        try:  # bad input leaves the estimator as it was
            prepared = self._prepare(X, y, sample_weight, reset, classes, incremental)
        except _NonFiniteX as exc:
            restore()
            raise ValueError(str(exc)) from None
        except BaseException:
            restore()
            raise
        if prepared is None:  # nothing to train on (a partial_fit chunk of zero weight)
            return self
        X, targets, labels, sample_weight, tr, schedule = prepared
        epochs_before = tr.epochs
        try:
            self._run(X, targets, labels, sample_weight, tr, schedule, epochs, incremental)
        except _NonFiniteX as exc:  # a NaN or infinity in X: the estimator is left as it was before the call
            restore()
            raise ValueError(str(exc)) from None
        except DivergenceError:
            if incremental:  # a diverging partial_fit call changes nothing (y's unit, moved by it, too)
                restore()
            raise
        except Exception:  # anything else before an epoch completed leaves the estimator as it was
            if tr.epochs == epochs_before:  # (a callback raising after epochs keeps them, as Ctrl-C does)
                restore()
            raise
        finally:  # the rows' order is the call's: the estimator keeps O(parameters) (and pickles so)
            tr.order = tr.val_index = None
        return self

    def _prepare(self, X, y, sample_weight, reset, classes, incremental):
        """Checks the call's input and sets up the training: (X, targets, labels, row weights,
        training state, schedule) for _run, or None when a partial_fit chunk weighs 0."""
        schedule = self._check_params()
        first = reset or not hasattr(self, "_training")
        # Every training row enters a batch of the first epoch, whose loss turns non-finite on a
        # NaN or infinity in X (times any sample weight, 0 too): the check is left to it (see _run).
        X, y, sample_weight = self._validate(X, y, sample_weight, reset=first, check_finite=False)
        targets, labels, K = self._targets(y, first, classes)
        weights = self._weights(y, targets, labels, sample_weight, first, incremental)
        if first or not hasattr(self, "history_"):
            self.history_ = {k: [] for k in ("loss", "val_loss", "learning_rate", "grad_norm", "time")}
        tr = self._setup(X, targets, labels, weights, K, reset=first, incremental=incremental)
        if incremental and weights is not None and not np.any(weights > 0):
            # a chunk whose rows all weigh 0 (by their classes' weight): nothing to learn from, as
            # in scikit-learn's partial_fit (a first call sets the model up untrained); X is
            # still checked
            _check_finite(X, resolve_n_threads(self.n_threads))
            tr.order = tr.val_index = None
            self._publish(tr)
            self.n_iter_, self.t_ = tr.epochs, tr.optimizer["step"]
            return None
        if tr.weight_mean is None:
            tr.weight_mean = 1.0 if weights is None else _weight_mean(weights, tr)
        return X, targets, labels, weights, tr, schedule

    def _weights(self, y, targets, labels, sample_weight, first, incremental):
        """The rows' weights (_row_weights), divided by the training's unit (_weight_unit, which
        its first call fixes), or None."""
        weights = self._row_weights(y, targets, labels, sample_weight, incremental)  # float64
        if first:
            self._weight_unit = _weight_unit(weights, self._X_dtype)
            # alpha="auto": scikit-learn's C=1 / Ridge(alpha=1), whose penalty is 1 / the rows' weight
            # sum in the mean loss (1 / n unweighted: a weight of 2 is a row repeated, as there);
            # partial_fit: its first call's
            with np.errstate(over="ignore"):
                total = float(np.sum(weights)) if weights is not None else float(len(y))
            self._n_samples_alpha = 1.0 / total if total > 0 else 1.0 / len(y)  # (a sum past float64's: 0)
            if self.alpha == "auto" and self.penalty is not None and not math.isfinite(self._n_samples_alpha):
                raise ValueError(f"the row weights (sample_weight times the class weight) sum to {total:.3g}: "
                                 f"alpha='auto' (1 / that sum, scikit-learn's C=1) is infinite; pass a number as "
                                 f"alpha, or scale the weights up")
        if weights is None:
            return None
        if self._weight_unit != 1.0:
            weights = weights / self._weight_unit
        weights = weights.astype(self._X_dtype, copy=False)
        if not np.all(np.isfinite(weights)):  # a later call's weights, far above the first's
            raise ValueError(f"sample_weight is too large for a {self._X_dtype} model against the weights of this "
                             f"training's first call (only their ratios matter): scale them down")
        return weights

    def fit(self, X, y, sample_weight=None):
        """Train for up to max_iter epochs: from scratch, or with warm_start=True from the current
        coef_ and intercept_ (the optimizer's state, the schedule, early stopping, n_iter_ and
        history_ start anew, as in scikit-learn's SGD estimators)."""
        return self._fit(X, y, sample_weight, self.max_iter, reset=True)

    def _row_weights(self, y, targets, labels, sample_weight, incremental):
        """The weight of each row in the objective: sample_weight (LogisticRegression: times the
        weight of the row's class)."""
        return sample_weight

    def _validation_rows(self, rng, n_val, targets, labels):
        """The ids of the n_val rows early stopping holds out: drawn at random (LogisticRegression:
        from each class in proportion, as scikit-learn's SGDClassifier draws them)."""
        n = len(targets if targets is not None else labels)
        return rng.permutation(n)[:n_val]

    def _warm_coef(self, d, K):
        """The current coef_ (K x d) and intercept_ (K) for a warm start, or None for a cold one."""
        if not (self.warm_start and hasattr(self, "coef_")):
            return None
        coef = np.asarray(self.coef_).reshape(-1, d) if np.size(self.coef_) == d * K else None
        if coef is None or np.size(self.intercept_) != K:
            needs = f"{d} coefficients (X has {d} features)" if K == 1 else \
                f"{K} x {d} coefficients (X has {d} features, y {K} classes)"
            raise ValueError(f"warm_start=True: the current model has coef_ of shape {np.shape(self.coef_)}, but this "
                             f"fit needs {needs}; set warm_start=False to start anew")
        return coef, np.asarray(self.intercept_, dtype=np.float64).reshape(K)

    def _publish(self, tr):
        """Expose the model in the user's units (coef_, intercept_)."""
        raise NotImplementedError

    def _penalty_for_engine(self):
        return self._penalty()

    def _loss_scale(self):
        return 1.0


class LinearRegression(RegressorMixin, _LinearBase):
    """Linear least squares trained by mini-batch gradient descent.

    Minimizes ``mean(1/2 (X w + b - y)^2) + alpha * (l1_ratio |w|_1 + (1 - l1_ratio)/2 |w|^2)``
    (``penalty`` picks l1_ratio: 'l2' -> 0, 'l1' -> 1, 'elasticnet' -> ``l1_ratio``, None -> no
    penalty). y is scaled internally (less its mean and divided by its standard deviation; without
    an intercept, divided by its root mean square), the objective the same up to a constant
    factor, so the default learning rate suits any scale of y; X is expected roughly standardized.

    Parameters are described in the README; scikit-learn's names are used where the concept exists.
    """

    _loss_kind = "squared_error"

    def _targets(self, y, first, classes):
        y = np.asarray(y)
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one target per row), got shape {y.shape}")
        what = "standard deviation" if self.fit_intercept else "root mean square"  # of y: its scale
        if first:
            shift = float(np.mean(y)) if self.fit_intercept else 0.0
            top = float(np.max(np.abs(y - shift))) if y.size else 0.0
            # the root mean square of (y - shift) / top, times top (no overflow for |y| up to the
            # float64 maximum): y's standard deviation with an intercept; without one, y's own
            # size (y = 1000 + noise of 7 needs weights of 1000: scaled by 7, the default rate
            # left them at 627)
            scale = float(np.sqrt(np.mean(np.square((y - shift) / top)))) * top if 0.0 < top < np.inf else 0.0
            self._y_shift, self._y_scale = shift, scale if scale > 0 and np.isfinite(scale) else 1.0
            if not math.isfinite(self._y_scale * self._y_scale):
                raise ValueError(f"y's {what} ({self._y_scale:.3g}) is too large: the squared error "
                                 f"overflows float64; rescale y (e.g. divide it by {self._y_scale:.1g})")
            if self._y_scale * self._y_scale < np.finfo(np.float64).tiny:
                raise ValueError(f"y's {what} ({self._y_scale:.3g}) is too small: the squared error "
                                 f"underflows float64; rescale y (e.g. multiply it by {1 / self._y_scale:.1g})")
        self._follow_y_scale(y, first)
        if self._X_dtype == np.float32:  # every call: a later partial_fit call may switch X to float32
            if self._y_scale * 1e4 > float(np.finfo(np.float32).max):
                raise ValueError(f"y's {what} ({self._y_scale:.3g}) is too large for a float32 model: its "
                                 f"coefficients would overflow float32; pass X as float64 (or rescale y)")
            if self._y_scale < float(np.finfo(np.float32).tiny) * 1e4:
                raise ValueError(f"y's {what} ({self._y_scale:.3g}) is too small for a float32 model: its "
                                 f"coefficients would underflow float32; pass X as float64 (or rescale y)")
        dtype = self._X_dtype
        targets = np.ascontiguousarray((y - self._y_shift) / self._y_scale, dtype=dtype)
        return targets, None, 1

    def _follow_y_scale(self, y, first):
        """The training's y in its own units ((y - shift) / scale): count, mean and sum of squared
        deviations over its calls. A later partial_fit call after which they spread over more
        than twice the unit moves the training to the larger unit: a stream's first chunk (one
        row, a constant y, a few rows close together) can set a unit far too small, in which the
        default rate crawls (one row of y near 1000 first: R^2 -0.04 after 4,000 rows) or
        diverges (two rows 1e-3 apart). The model stays the same; its coefficients and the
        optimizer's state are expressed in the new unit, where Adam's and RMSprop's steps, which
        do not depend on the gradient's size, are as large as in a training that began with it."""
        with np.errstate(all="ignore"):
            u = (y - self._y_shift) / self._y_scale
            n, mean = u.size, float(np.mean(u)) if u.size else 0.0
            m2 = float(np.sum(np.square(u - mean)))
        if not math.isfinite(m2):
            raise ValueError(f"y spreads over more than 1e154 times the unit the training's first call set "
                             f"({self._y_scale:.3g}): its squared error overflows float64; rescale y")
        stats = getattr(self, "_y_stats", None)
        if first or stats is None or not n:
            self._y_stats = (n, mean, m2)
            return
        n0, mean0, m20 = stats
        total = n0 + n
        delta = mean - mean0
        mean, m2 = mean0 + delta * n / total, m20 + m2 + delta * delta * (n0 * n / total)
        spread = math.sqrt(m2 / total + (0.0 if self.fit_intercept else mean * mean))
        if not (math.isfinite(spread) and spread > 2.0):
            self._y_stats = (total, mean, m2)
            return
        self._y_stats = (total, mean / spread, m2 / (spread * spread))
        self._y_scale *= spread
        if not math.isfinite(self._y_scale * self._y_scale):
            raise ValueError(f"y's spread ({self._y_scale:.3g}) is too large: the squared error overflows "
                             f"float64; rescale y (e.g. divide it by {self._y_scale:.1g})")
        self._training.rescale(1.0 / spread, self.optimizer)

    def _validate(self, X, y, sample_weight, reset, check_finite=True):
        X, y, sample_weight = super()._validate(X, y, sample_weight, reset, check_finite)
        y = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(y)):
            raise ValueError("y contains NaN or infinity")
        self._X_dtype = X.dtype
        return X, y, sample_weight

    def _init_params(self, tr, targets, labels, sample_weight, incremental=False):
        warm = self._warm_coef(tr.coef.shape[0], 1)
        if warm is not None:
            tr.coef[...] = warm[0].ravel() / self._y_scale
            tr.intercept[...] = (warm[1] - self._y_shift) / self._y_scale

    def _penalty_for_engine(self):
        # In units of the standardized y (w' = w / s) the objective divided by s^2 has
        # L1 strength alpha l1 / s and L2 strength alpha (1 - l1).
        alpha, l1 = self._penalty()
        a1, a2 = alpha * l1 / self._y_scale, alpha * (1.0 - l1)
        total = a1 + a2
        return (total, a1 / total) if total > 0 else (0.0, 0.0)

    def _loss_scale(self):
        return self._y_scale ** 2

    def _publish(self, tr):
        self.coef_ = (tr.coef * self._y_scale).astype(tr.dtype)
        self.intercept_ = float(tr.intercept[0] * self._y_scale + (self._y_shift if self.fit_intercept else 0.0))

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), keeping the model and the optimizer state of earlier calls.
        Early stopping is for fit only (as in scikit-learn); alpha='auto' takes its rows (or
        their weight sum) from the first call; y's unit (shift and scale) too, and a later call
        that spreads y over more than twice that unit moves the training to a larger one
        (_follow_y_scale); a later call may pass X in the other float type (the model is carried
        over)."""
        return self._fit(X, y, sample_weight, 1, reset=not hasattr(self, "_training"), incremental=True)

    def predict(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        predictions = X @ self.coef_
        predictions += self.intercept_
        return predictions


class LogisticRegression(ClassifierMixin, _LinearBase):
    """Logistic regression (binary, or multinomial softmax for more than two classes) trained by
    mini-batch gradient descent on the mean log-loss plus the penalty (see LinearRegression).

    ``class_weight`` weighs each row's loss by its class, as scikit-learn's classifiers do: None
    (all 1), 'balanced' (n_samples / (n_classes * the class's count), counts weighted by
    sample_weight; fit only) or a dict {label: weight} (labels left out weigh 1). It multiplies
    sample_weight. The loss is the weighted mean, so 'balanced' with alpha='auto' is the
    objective of scikit-learn's ``LogisticRegression(class_weight='balanced', C=1)``.
    """

    def __init__(self, *, optimizer="adam", learning_rate=0.03, batch_size=32, max_iter=200, momentum=0.9,
                 weight_decay=None, schedule="cosine", warmup=0.0, penalty="l2", alpha="auto", l1_ratio=0.15,
                 fit_intercept=True,
                 clip_norm=None, tol=None, early_stopping=False, validation_fraction=0.1, n_iter_no_change=5,
                 shuffle=True, random_state=None, n_threads=None, warm_start=False, verbose=0, callback=None,
                 class_weight=None):
        super().__init__(
            optimizer=optimizer, learning_rate=learning_rate, batch_size=batch_size, max_iter=max_iter,
            momentum=momentum, weight_decay=weight_decay, schedule=schedule, warmup=warmup, penalty=penalty,
            alpha=alpha, l1_ratio=l1_ratio, fit_intercept=fit_intercept, clip_norm=clip_norm, tol=tol,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            n_iter_no_change=n_iter_no_change, shuffle=shuffle, random_state=random_state, n_threads=n_threads,
            warm_start=warm_start, verbose=verbose, callback=callback)
        self.class_weight = class_weight

    def _check_params(self):
        cw = self.class_weight
        if not (cw is None or isinstance(cw, Mapping) or (isinstance(cw, str) and cw == "balanced")):
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{label: weight}}, got {cw!r}")
        return super()._check_params()

    def _row_weights(self, y, targets, labels, sample_weight, incremental):
        cw = self.class_weight
        if cw is None:
            return sample_weight
        if isinstance(cw, str):  # 'balanced'
            if incremental:
                raise ValueError(
                    "class_weight='balanced' is not supported by partial_fit: a stream's class frequencies are "
                    "not known from one chunk. Compute the weights on a sample of the labels, with "
                    "sklearn.utils.class_weight.compute_class_weight('balanced', classes=classes, y=y_sample), and "
                    "pass them as class_weight=dict(zip(classes, weights))")
            counts = np.bincount(_codes(targets, labels), weights=sample_weight, minlength=len(self.classes_))
            if not np.all(counts > 0):
                raise ValueError(f"class_weight='balanced': classes {self.classes_[counts <= 0]} have no "
                                 f"sample_weight in y")
            with np.errstate(over="ignore", invalid="ignore"):  # overflowing weights: said below
                per_class = np.sum(counts) / (len(self.classes_) * counts)
        else:
            classes = self.classes_.tolist()
            known = set(classes)
            unknown = [label for label in cw if label not in known]
            unweighted = [c for c in classes if c not in cw]
            if unknown and unweighted:  # scikit-learn's rule: other labels only when every class has its weight
                raise ValueError(f"class_weight has labels that are not classes ({self.classes_}): {unknown}, and "
                                 f"no weight for classes {unweighted}")
            per_class = np.array([check_scalar(cw.get(c, 1.0), f"class_weight[{c!r}]", low=0.0) for c in classes])
        codes = _codes(targets, labels)
        with np.errstate(over="ignore"):
            weights = per_class[codes]  # float64, as sample_weight: cast after _weights' unit
            if sample_weight is not None:
                weights *= sample_weight
        if not np.all(np.isfinite(weights)):
            raise ValueError(f"class_weight times sample_weight overflows {weights.dtype}: scale the weights down "
                             f"(only their ratios matter)")
        if not incremental and not np.any(weights > 0):
            raise ValueError("class_weight (with sample_weight) gives every row a weight of 0")
        return weights

    def _validation_rows(self, rng, n_val, targets, labels):
        # the rows of a class of one row stay in training: it cannot be on both sides
        codes = _codes(targets, labels).astype(np.int32)  # class ids in half the memory
        counts = np.bincount(codes)
        classes = np.count_nonzero(counts >= 2)
        singles = np.count_nonzero(counts == 1)  # their rows stay out of the draw
        if classes == 0 or min(n_val, len(codes) - singles - n_val) < classes:
            # too few rows to stratify: at random, but never a class's last row in training
            order = rng.permutation(len(codes))
            kept = np.unique(codes[order], return_index=True)[1]  # each class's first row in the draw
            candidates = np.delete(order, kept)
            if len(candidates) < n_val:
                raise ValueError(f"early_stopping: validation_fraction={self.validation_fraction} holds out {n_val} "
                                 f"of {len(codes)} rows, but only {len(candidates)} can leave training with every "
                                 f"class keeping a row; use more rows, or early_stopping=False")
            return candidates[:n_val]
        if not singles:
            return _stratified_draw(rng, n_val, codes)
        pool = np.flatnonzero(counts[codes] >= 2)
        return pool[_stratified_draw(rng, n_val, codes[pool])]

    def _targets(self, y, first, classes):
        fast = _binary_codes(y, (np.unique(np.asarray(classes)) if classes is not None else None) if first
                             else self.classes_)
        if fast is not None:  # two integral labels: 4 vector passes instead of a sort
            if first:
                self.classes_ = fast[0]
            self._loss_kind = "logistic"
            return np.ascontiguousarray(fast[1], dtype=self._X_dtype), None, 1
        check_classification_targets(y)
        if first:
            self.classes_ = np.unique(y) if classes is None else np.unique(np.asarray(classes))
            if self.classes_.shape[0] < 2:
                raise ValueError(f"LogisticRegression needs samples of at least 2 classes, got {self.classes_.shape[0]}"
                                 f" class: {self.classes_}")
        codes = np.searchsorted(self.classes_, y)
        codes = np.clip(codes, 0, len(self.classes_) - 1)
        if np.any(self.classes_[codes] != y):
            where = "in classes" if classes is not None else "seen in the first call"
            raise ValueError(f"y holds labels not {where}: {np.setdiff1d(y, self.classes_)}")
        K = len(self.classes_)
        if K == 2:
            self._loss_kind = "logistic"
            return np.ascontiguousarray(codes, dtype=self._X_dtype), None, 1
        self._loss_kind = "softmax"
        return None, np.ascontiguousarray(codes, dtype=np.int64), K

    def _validate(self, X, y, sample_weight, reset, check_finite=True):
        X, y, sample_weight = super()._validate(X, y, sample_weight, reset, check_finite)
        self._X_dtype = X.dtype
        return X, y, sample_weight

    def _init_params(self, tr, targets, labels, sample_weight, incremental=False):
        K = tr.intercept.shape[0]
        warm = self._warm_coef(tr.coef.shape[0], K)
        if warm is not None:
            tr.coef[...] = warm[0].ravel() if K == 1 else warm[0].T
            tr.intercept[...] = warm[1]
            return
        # A stream starts at 0, as scikit-learn's SGDClassifier: its first chunk need not show the
        # classes' frequencies (one class alone started the intercept at 13.8, which Adam took
        # hundreds of chunks to undo; a class missing from it started 14 below the others).
        if not self.fit_intercept or incremental:
            return
        # start from the class prior: the intercept of the model that ignores X
        w = np.ones(len(targets if targets is not None else labels)) if sample_weight is None else sample_weight
        if not np.any(w > 0):  # rows of zero weight only: no prior to start from
            return
        if targets is not None:
            p = float(np.clip(np.average(targets, weights=w), 1e-6, 1 - 1e-6))
            tr.intercept[0] = math.log(p / (1 - p))
        else:
            freq = np.bincount(labels, weights=w, minlength=tr.intercept.shape[0]) / np.sum(w)
            logp = np.log(np.clip(freq, 1e-6, None))
            tr.intercept[...] = logp - logp.mean()

    def _publish(self, tr):
        if len(self.classes_) == 2:
            self.coef_ = tr.coef.reshape(1, -1).copy()
            self.intercept_ = tr.intercept.copy()
        else:
            self.coef_ = np.ascontiguousarray(tr.coef.T)
            self.intercept_ = tr.intercept.copy()

    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """One epoch over (X, y); ``classes`` (all labels) is required on the first call, and
        later calls may repeat it. The intercept starts at 0, not at the first chunk's class prior
        (as fit's does). Otherwise as LinearRegression.partial_fit."""
        first = not hasattr(self, "_training")
        if first and classes is None:
            raise ValueError("classes must be given on the first call to partial_fit")
        if not first and classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"classes={classes!r} is not the same as on the first call to partial_fit: "
                             f"{self.classes_!r}")
        return self._fit(X, y, sample_weight, 1, reset=first, classes=classes, incremental=True)

    def decision_function(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32], order="C")
        scores = X @ self.coef_.T
        scores += self.intercept_  # in place: one n x K array (a second briefly doubled the peak)
        return scores.ravel() if scores.shape[1] == 1 else scores

    def predict_proba(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:
            p = np.empty((scores.shape[0], 2), dtype=scores.dtype)  # as the multinomial's: the model's type
            e = np.exp(-np.abs(scores))
            p[:, 1] = np.where(scores >= 0, 1 / (1 + e), e / (1 + e))
            p[:, 0] = 1 - p[:, 1]
            return p
        scores -= scores.max(axis=1, keepdims=True)  # in place: one n x K array in all
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1, keepdims=True)
        return scores

    def predict_log_proba(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:
            scores = np.stack([np.zeros_like(scores), scores], axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        # log of the rows' sums of exp, a block of rows at a time: no second n x K array
        step = max(1, (1 << 16) // scores.shape[1])
        for start in range(0, scores.shape[0], step):
            block = scores[start:start + step]
            block -= np.log(np.exp(block).sum(axis=1, keepdims=True))
        return scores

    def predict(self, X):
        scores = self.decision_function(X)
        idx = (scores > 0).astype(int) if scores.ndim == 1 else scores.argmax(axis=1)
        return self.classes_[idx]
