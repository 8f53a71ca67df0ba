"""Pure-NumPy reference implementations: the ground truth for descend's C++ kernels.

Written for clarity, as the formulas appear in a textbook, not for speed.  Imports
nothing from the rest of descend.

Losses (``(loss, grad_w, grad_b)`` for a batch, weighted mean over rows, elastic-net
penalty on the weights only): :func:`squared_error`, :func:`logistic`,
:func:`softmax_cross_entropy`.

Optimizers (update NumPy arrays in place, matching ``torch.optim``): :class:`SGD`,
:class:`Adam`, :class:`AdamW`, :class:`RMSprop`, and :func:`clip_grad_norm`.

Training: :func:`train_epoch` (one epoch, the engine's contract) and :func:`fit`, which trains
a descend estimator with it in place of the C++ engine.
"""

from .losses import logistic, softmax_cross_entropy, squared_error
from .optim import SGD, Adam, AdamW, RMSprop, clip_grad_norm
from .estimators import fit
from .train import train_epoch

__all__ = [
    "squared_error",
    "logistic",
    "softmax_cross_entropy",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "clip_grad_norm",
    "train_epoch",
    "fit",
]
