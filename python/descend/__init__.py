"""descend: gradient-descent training, fast.

Estimators (:class:`LinearRegression`, :class:`LogisticRegression`) train with a mini-batch loop
that runs whole epochs in C++; :func:`minimize` descends any function given its gradient, and
:mod:`descend.landscapes` holds test functions to watch it on; :func:`lr_find` sweeps the
learning rate; :mod:`descend.plot` draws learning curves, sweeps and trajectories.

Losses of linear models and their gradients (:mod:`descend.losses`) and optimizer updates
(:mod:`descend.optim`) run in OpenMP C++; :mod:`descend.reference` holds the same formulas in
plain NumPy, the ground truth the tests compare against.
"""

from . import landscapes, losses, optim, plot, reference, schedules
from ._lr_find import LRFindResult, lr_find
from ._minimize import MinimizeResult, minimize
from ._config import show_config
from ._core import build_info as _build_info
from .exceptions import CopyWarning, DivergenceError
from .linear_model import LinearRegression, LogisticRegression

__version__ = _build_info()["version"]

__all__ = ["LinearRegression", "LogisticRegression", "minimize", "MinimizeResult", "lr_find", "LRFindResult",
           "landscapes", "losses", "optim", "plot", "reference", "schedules", "show_config", "CopyWarning", "DivergenceError",
           "__version__"]
