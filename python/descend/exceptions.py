"""Exceptions and warnings raised by descend."""

from ._validation import CopyWarning

__all__ = ["CopyWarning", "DivergenceError"]


class DivergenceError(FloatingPointError):
    """Training blew up: the loss or a parameter became non-finite, or the loss exploded.

    An estimator goes back to the model the epoch that diverged started from. Attributes:
    ``epoch``, ``step``, ``loss`` and ``learning_rate`` where it happened, and
    ``suggested_learning_rate`` (None when the rate is not the cause: a gradient so large that
    Adam's or RMSprop's average of its squares overflows). :func:`descend.minimize` raises it
    with ``epoch=None``,
    ``step`` the iteration and ``loss`` the value.
    """

    def __init__(self, message, *, epoch, step, loss, learning_rate, suggested_learning_rate):
        super().__init__(message)
        self.epoch = epoch
        self.step = step
        self.loss = loss
        self.learning_rate = learning_rate
        self.suggested_learning_rate = suggested_learning_rate
