"""Losses of linear models and their gradients, computed in C++ with OpenMP.

Each function returns ``(loss, grad_w, grad_b)`` for a batch of rows: the mean loss over the
rows (the weighted mean ``sum(s_i l_i) / sum(s_i)`` with ``sample_weight``) plus the elastic-net
penalty ``alpha * (l1_ratio * ||w||_1 + (1 - l1_ratio) / 2 * ||w||^2)`` on the weights (never on
the intercept), and its gradient with respect to ``w`` and ``b``.

``X`` is used in place when it is a C-contiguous float64 or float32 array; the computation
accumulates in float64 and the gradients come back in X's dtype. Any other ``X`` is converted
once per call (with a :class:`descend.CopyWarning`): convert it yourself, once, for repeated
calls. ``X`` is not checked for NaN or inf (that would read it twice); non-finite data give a
non-finite loss.

The row blocks whose partial sums are combined are fixed by the number of rows, so the result
is bitwise identical for any ``n_threads``. ``n_threads`` follows scikit-learn: ``None`` uses
OpenMP's default (``OMP_NUM_THREADS``, threadpoolctl), ``-1`` all CPUs, ``-2`` all but one.
"""

from __future__ import annotations

import numpy as np

from . import _core
from ._validation import (check_penalty, check_sample_weight, check_vector, check_X,
                          resolve_n_threads)

__all__ = ["squared_error", "logistic", "softmax_cross_entropy"]


def _linear(kernel, X, y, w, b, alpha, l1_ratio, sample_weight, n_threads, check_y=None):
    X = check_X(X)
    n, d = X.shape
    y = check_vector(y, n, X.dtype, "y", "one target per row of X")
    if check_y is not None:
        check_y(y)
    w = check_vector(w, d, X.dtype, "w", "one weight per column of X")
    b = _check_intercept(b)
    alpha, l1_ratio = check_penalty(alpha, l1_ratio)
    sw = check_sample_weight(sample_weight, n, X.dtype)
    return kernel(X, y, w, b, sw, alpha, l1_ratio, resolve_n_threads(n_threads))


def _check_intercept(b) -> float:
    """The intercept as a float; None is 0 (as softmax_cross_entropy's b=None is zeros)."""
    if b is None:
        return 0.0
    try:
        arr = np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"b must be a number (the intercept), got {b!r}") from None
    if arr.size != 1:
        raise ValueError(f"b must be a scalar intercept, got shape {arr.shape}")
    return float(arr.reshape(()))


def squared_error(X, y, w, b=0.0, *, alpha=0.0, l1_ratio=0.0, sample_weight=None, n_threads=None):
    """Squared error ``mean(1/2 (Xw + b - y)^2)`` + penalty, and its gradient.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : array of shape (n_samples,)
    w : array of shape (n_features,)
    b : float or None, default=0.0
    alpha, l1_ratio : float
        Penalty strength and its L1 share (0 = ridge, 1 = lasso).
    sample_weight : array of shape (n_samples,), optional
    n_threads : int, optional

    Returns
    -------
    loss : float
    grad_w : ndarray of shape (n_features,), X's dtype
    grad_b : float
    """
    return _linear(_core.squared_error, X, y, w, b, alpha, l1_ratio, sample_weight, n_threads)


def _check_probabilities(y):
    if not (np.all(y >= 0) and np.all(y <= 1)):
        raise ValueError("y must hold labels 0 or 1 (or probabilities in [0, 1]) for the logistic loss")


def logistic(X, y, w, b=0.0, *, alpha=0.0, l1_ratio=0.0, sample_weight=None, n_threads=None):
    """Binary log-loss of ``z = Xw + b`` + penalty, and its gradient.

    Per row ``log(1 + exp(z)) - y z``, computed as a stable softplus, so the loss and gradient
    stay finite for any finite z; the gradient with respect to z is ``sigmoid(z) - y``. y holds
    0/1 labels (or probabilities in [0, 1]). Parameters and returns as :func:`squared_error`.
    """
    return _linear(_core.logistic, X, y, w, b, alpha, l1_ratio, sample_weight, n_threads,
                   check_y=_check_probabilities)


def softmax_cross_entropy(X, y, W, b=None, *, alpha=0.0, l1_ratio=0.0, sample_weight=None,
                          n_threads=None):
    """Multinomial cross-entropy ``logsumexp(z) - z_y`` of ``z = XW + b`` + penalty, and its gradient.

    Parameters
    ----------
    X : array of shape (n_samples, n_features)
    y : int array of shape (n_samples,), class ids in ``[0, n_classes)``
    W : array of shape (n_features, n_classes)
    b : array of shape (n_classes,), default zeros
    alpha, l1_ratio, sample_weight, n_threads : as :func:`squared_error`

    Returns
    -------
    loss : float
    grad_W : ndarray of shape (n_features, n_classes), X's dtype
    grad_b : ndarray of shape (n_classes,), X's dtype
    """
    X = check_X(X)
    n, d = X.shape
    W_arr = np.ascontiguousarray(W, dtype=X.dtype)
    if W_arr.ndim != 2 or W_arr.shape[0] != d or W_arr.shape[1] < 1:
        raise ValueError(f"W must have shape (n_features, n_classes) = ({d}, K), got {np.shape(W)}")
    K = W_arr.shape[1]
    b = np.zeros(K, dtype=X.dtype) if b is None else check_vector(b, K, X.dtype, "b", "one per class")
    y_arr = np.asarray(y)
    if y_arr.dtype.kind not in "iub" and not (
            y_arr.dtype.kind == "f" and np.all(np.isfinite(y_arr)) and np.all(y_arr == np.round(y_arr))):
        raise TypeError(f"y must hold integer class ids, got dtype {y_arr.dtype}")
    if y_arr.ndim == 1 and y_arr.size and (y_arr.min() < 0 or y_arr.max() >= K):  # before a cast wraps them
        raise ValueError(f"y must hold class ids in [0, {K}) (W has {K} columns), "
                         f"got values from {y_arr.min()} to {y_arr.max()}")
    y_arr = check_vector(y_arr, n, np.int64, "y", "one class id per row of X")
    alpha, l1_ratio = check_penalty(alpha, l1_ratio)
    sw = check_sample_weight(sample_weight, n, X.dtype)
    return _core.softmax_cross_entropy(X, y_arr, W_arr, b, sw, alpha, l1_ratio,
                                       resolve_n_threads(n_threads))
