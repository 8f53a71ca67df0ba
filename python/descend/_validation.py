"""Argument checking shared by the public functions: clear errors, no hidden copies of X."""

from __future__ import annotations

import numbers
import os
import sys
import warnings

import numpy as np

from . import _core

FLOAT_DTYPES = (np.dtype(np.float64), np.dtype(np.float32))


class CopyWarning(UserWarning):
    """An input array had to be copied (wrong dtype or memory layout) before use."""


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """warnings.warn pointing at the first caller outside descend (Python 3.12's
    skip_file_prefixes): the line of the user's that led to it, whatever the calls between."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def resolve_n_threads(n_threads) -> int:
    """scikit-learn's semantics: None -> OpenMP's default (OMP_NUM_THREADS, threadpoolctl),
    n > 0 -> n, n < 0 -> cpu_count + 1 + n (so -1 is all CPUs), 0 -> error."""
    if n_threads is None:
        return int(_core.max_threads())
    if isinstance(n_threads, bool) or not isinstance(n_threads, numbers.Integral):
        raise TypeError(f"n_threads must be None or an int, got {n_threads!r}")
    n_threads = int(n_threads)
    if n_threads == 0:
        raise ValueError("n_threads must be None, a positive int, or a negative int counting back from "
                         "the number of CPUs (-1 = all); got 0")
    if n_threads < 0:
        return max(1, cpu_count() + 1 + n_threads)
    # more threads than CPUs run as many as there are CPUs (the kernels cap them so); beyond a
    # C int (2**31) the value could not even be passed on
    return min(n_threads, 2**31 - 1)


def _is_sparse(x) -> bool:
    return hasattr(x, "tocsr") and hasattr(x, "nnz")


def check_X(X, name: str = "X") -> np.ndarray:
    """X as a 2-D C-contiguous float64 or float32 array, used in place when it already is one.

    Any other ndarray is converted once, with a CopyWarning saying how large the copy is;
    other array-likes (lists) are converted to float64.
    """
    if _is_sparse(X):
        raise TypeError(f"{name} is a sparse matrix; sparse input is not supported yet, "
                        f"pass a dense array ({name}.toarray())")
    if isinstance(X, np.ndarray):
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-dimensional (n_samples, n_features), got shape {X.shape}")
        if X.dtype in FLOAT_DTYPES and X.flags.c_contiguous:
            arr = X
        else:
            if X.dtype.kind not in "biuf":
                raise TypeError(f"{name} must be a numeric array, got dtype {X.dtype}")
            dtype = X.dtype if X.dtype in FLOAT_DTYPES else np.dtype(np.float64)
            arr = np.ascontiguousarray(X, dtype=dtype)
            warn(f"{name} ({X.dtype}, {'C' if X.flags.c_contiguous else 'non-C'}-contiguous) was copied to a "
                 f"C-contiguous {dtype} array of {arr.nbytes / 2**20:.1f} MiB; pass "
                 f"np.ascontiguousarray({name}, dtype=np.{dtype}) once to avoid a copy per call", CopyWarning)
    else:
        try:
            arr = np.ascontiguousarray(X, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{name} must be a 2-D array of numbers: {exc}") from None
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-dimensional (n_samples, n_features), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} must have at least one row and one column, got shape {arr.shape}")
    return arr


def check_vector(v, size: int, dtype, name: str, what: str) -> np.ndarray:
    """A small 1-D array of `size` values of `dtype` (converted freely: it is O(n) or O(d))."""
    if _is_sparse(v):
        raise TypeError(f"{name} must be dense")
    try:
        arr = np.ascontiguousarray(v, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers: {exc}") from None
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.ndim != 1 or arr.shape[0] != size:
        raise ValueError(f"{name} must have shape ({size},) ({what}), got shape {np.shape(v)}")
    return arr


def check_sample_weight(sample_weight, n: int, dtype) -> np.ndarray | None:
    if sample_weight is None:
        return None
    sw = check_vector(sample_weight, n, dtype, "sample_weight", "one weight per row of X")
    if not np.all(np.isfinite(sw)) or np.any(sw < 0):
        raise ValueError("sample_weight must be finite and non-negative")
    if not np.any(sw > 0):  # a positive sum, without summing (huge weights would overflow)
        raise ValueError("sample_weight must have a positive sum")
    return sw


def check_scalar(x, name: str, *, low=None, high=None, low_inclusive=True, high_inclusive=True) -> float:
    """A real number in the given interval, as a float."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {x!r}")
    x = float(x)
    if not np.isfinite(x):
        raise ValueError(f"{name} must be finite, got {x}")
    if low is not None and (x < low or (x == low and not low_inclusive)):
        raise ValueError(f"{name} must be {'>=' if low_inclusive else '>'} {low}, got {x}")
    if high is not None and (x > high or (x == high and not high_inclusive)):
        raise ValueError(f"{name} must be {'<=' if high_inclusive else '<'} {high}, got {x}")
    return x


def check_penalty(alpha, l1_ratio) -> tuple[float, float]:
    return (check_scalar(alpha, "alpha", low=0.0),
            check_scalar(l1_ratio, "l1_ratio", low=0.0, high=1.0))
