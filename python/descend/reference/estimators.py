"""The estimators' training loop with the NumPy epoch in place of the C++ engine.

``descend.reference.fit(estimator, X, y)`` trains a clone of a descend estimator with every
epoch run by :func:`descend.reference.train_epoch` (and validation losses by the NumPy losses),
so that its ``history_`` and coefficients can be compared with the C++ engine's.
"""

import numpy as np

from .losses import logistic, softmax_cross_entropy, squared_error

__all__ = ["fit", "subset_loss"]


def subset_loss(X, y, labels, sample_weight, index, coef, intercept, loss, alpha, l1_ratio, n_threads):
    """Loss of the model on the rows ``index`` (the validation rows), as _core.subset_loss."""
    sw = None if sample_weight is None else sample_weight[index]
    if loss == 2:
        return softmax_cross_entropy(X[index], labels[index], coef, intercept, alpha=alpha, l1_ratio=l1_ratio,
                                     sample_weight=sw)[0]
    f = logistic if loss == 1 else squared_error
    return f(X[index], y[index], coef, float(intercept[0]), alpha=alpha, l1_ratio=l1_ratio, sample_weight=sw)[0]


def fit(estimator, X, y, sample_weight=None, **fit_params):
    """A clone of ``estimator`` fitted with the NumPy reference epoch. Returns the clone."""
    from sklearn.base import clone

    from .train import train_epoch

    class Reference(type(estimator)):
        _engine = staticmethod(train_epoch)
        _subset_loss = staticmethod(subset_loss)

    Reference.__name__ = type(estimator).__name__
    model = Reference(**clone(estimator).get_params())
    model.fit(np.asarray(X), y, sample_weight=sample_weight, **fit_params)
    return model
