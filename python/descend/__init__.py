"""descend: gradient-descent training, fast.

Losses of linear models and their gradients (:mod:`descend.losses`) and optimizer updates
(:mod:`descend.optim`) run in OpenMP C++; :mod:`descend.reference` holds the same formulas in
plain NumPy, the ground truth the tests compare against.
"""

from . import losses, optim, reference, schedules
from ._lr_find import LRFindResult, lr_find
from ._config import show_config
from ._core import build_info as _build_info
from .exceptions import CopyWarning, DivergenceError
from .linear_model import LinearRegression, LogisticRegression

__version__ = _build_info()["version"]

__all__ = ["LinearRegression", "LogisticRegression", "lr_find", "LRFindResult", "losses", "optim", "reference",
           "schedules", "show_config", "CopyWarning", "DivergenceError", "__version__"]
