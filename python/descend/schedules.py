"""Learning-rate schedules for the estimators (evaluated in C++ at every step).

Each is a small description: the rate at global step t (1-based; epoch e = (t - 1) // steps per
epoch) is ``learning_rate * f(t)``, times a linear warm-up ``min(1, t / warmup_steps)`` when the
estimator has ``warmup``. Each epoch's first step is counted as e * steps per epoch + 1, so an
epoch (a partial_fit call) is one epoch of the schedule whatever its number of batches. Strings
name them with their defaults: ``"constant"``, ``"step"``, ``"exponential"``, ``"cosine"``,
``"invscaling"``, ``"plateau"``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._validation import check_scalar

__all__ = ["Constant", "Step", "Exponential", "Cosine", "InvScaling", "Plateau", "get"]


@dataclass(frozen=True)
class Constant:
    """f = 1."""

    kind = 0


@dataclass(frozen=True)
class Step:
    """f = gamma ** floor(e / step_size): decay by gamma every step_size epochs (torch StepLR)."""

    step_size: float = 10
    gamma: float = 0.1
    kind = 1


@dataclass(frozen=True)
class Exponential:
    """f = gamma ** e (torch ExponentialLR)."""

    gamma: float = 0.95
    kind = 2


@dataclass(frozen=True)
class Cosine:
    """Cosine annealing over all max_iter epochs, from learning_rate down to a floor:
    lr = min_lr + (learning_rate - min_lr) (1 + cos(pi (t - 1) / T)) / 2."""

    min_lr: float = 0.0
    kind = 3


@dataclass(frozen=True)
class InvScaling:
    """f = 1 / t ** power_t (scikit-learn's 'invscaling', t the steps taken: in partial_fit calls of any
    size too, so that the rate only falls)."""

    power_t: float = 0.25
    kind = 4


@dataclass(frozen=True)
class Plateau:
    """Reduce on plateau (scikit-learn's 'adaptive'): when the monitored loss has not improved by
    ``tol`` for ``n_iter_no_change`` epochs, multiply the rate by ``factor``; training has
    converged once the rate would fall below ``min_ratio`` x learning_rate."""

    factor: float = 0.2
    min_ratio: float = 1e-4
    kind = 0  # constant between reductions


_NAMES = {"constant": Constant, "step": Step, "exponential": Exponential, "cosine": Cosine,
          "invscaling": InvScaling, "plateau": Plateau}


def get(schedule):
    """The schedule object for a name or an instance; a clear error otherwise."""
    if isinstance(schedule, str):
        if schedule not in _NAMES:
            raise ValueError(f"schedule must be one of {sorted(_NAMES)} or a descend.schedules object, "
                             f"got {schedule!r}")
        return _NAMES[schedule]()
    if isinstance(schedule, tuple(_NAMES.values())):
        if isinstance(schedule, Step):
            check_scalar(schedule.step_size, "schedule.step_size", low=0, low_inclusive=False)
            check_scalar(schedule.gamma, "schedule.gamma", low=0.0, high=1.0)
        if isinstance(schedule, Exponential):
            check_scalar(schedule.gamma, "schedule.gamma", low=0.0, high=1.0)
        if isinstance(schedule, Cosine):
            check_scalar(schedule.min_lr, "schedule.min_lr", low=0.0)
        if isinstance(schedule, InvScaling):
            check_scalar(schedule.power_t, "schedule.power_t", low=0.0)
        if isinstance(schedule, Plateau):
            check_scalar(schedule.factor, "schedule.factor", low=0.0, high=1.0, low_inclusive=False,
                         high_inclusive=False)
            check_scalar(schedule.min_ratio, "schedule.min_ratio", low=0.0, high=1.0)
        return schedule
    raise TypeError(f"schedule must be a name or a descend.schedules object, got {schedule!r}")
