"""Shared fixtures of the pytest-benchmark suite (``pytest bench``): the dtype parameter and the
problems, built once per session and dtype (cached) from fixed seeds.

Every benchmark first computes the answer with :mod:`descend.reference` (plain NumPy, the ground
truth) and asserts that the benchmarked call gives the same result, so that the suite doubles as
a test: ``pytest bench --benchmark-disable`` runs each benchmark body once, as a smoke test.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

# Sizes: large enough that the kernels stream from memory (X is 160 MB in float64, 80 MB in
# float32, against a 32 MB L3 on the development machine), small enough that the whole suite
# runs in well under 30 s with --benchmark-disable on two cores.
N_ROWS = 200_000
N_FEATURES = 100
N_CLASSES = 5
N_PARAMS = 1_000_000

DTYPES = [np.dtype(np.float64), np.dtype(np.float32)]


@pytest.fixture(params=DTYPES, ids=lambda d: d.name)
def dtype(request) -> np.dtype:
    return request.param


@functools.lru_cache(maxsize=None)
def _linear_problem(dtype_name: str) -> dict:
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(20261123)
    X = rng.standard_normal((N_ROWS, N_FEATURES), dtype=np.float32 if dtype == np.float32 else np.float64)
    w_true = rng.standard_normal(N_FEATURES) / np.sqrt(N_FEATURES)
    z_true = X.astype(np.float64) @ w_true
    W_true = rng.standard_normal((N_FEATURES, N_CLASSES)) / np.sqrt(N_FEATURES)
    return {
        "X": X,
        # a point near (not at) the optimum, where gradients are small but not zero
        "w": (w_true + 0.1 * rng.standard_normal(N_FEATURES) / np.sqrt(N_FEATURES)).astype(dtype),
        "b": 0.25,
        "y_regression": (z_true + 0.5 * rng.standard_normal(N_ROWS)).astype(dtype),
        "y_binary": (rng.random(N_ROWS) < 1 / (1 + np.exp(-z_true))).astype(dtype),
        "y_class": np.argmax(X.astype(np.float64) @ W_true + rng.gumbel(size=(N_ROWS, N_CLASSES)), axis=1),
        "W": (W_true + 0.1 * rng.standard_normal((N_FEATURES, N_CLASSES)) / np.sqrt(N_FEATURES)).astype(dtype),
        "b_class": (0.1 * rng.standard_normal(N_CLASSES)).astype(dtype),
    }


@pytest.fixture
def linear_problem(dtype) -> dict:
    """X (N_ROWS x N_FEATURES, C-contiguous, the dtype under test), targets for each loss, and
    the point (w, b) / (W, b_class) at which the loss is evaluated. Shared: do not modify."""
    return _linear_problem(dtype.name)


@functools.lru_cache(maxsize=None)
def _optimizer_problem(dtype_name: str) -> dict:
    dtype = np.dtype(dtype_name)
    rng = np.random.default_rng(112326)
    return {
        # of the magnitude of initialised network weights: small next to the updates
        "params": (0.05 * rng.standard_normal(N_PARAMS)).astype(dtype),
        "grads": [rng.standard_normal(N_PARAMS).astype(dtype) for _ in range(2)],
    }


@pytest.fixture
def optimizer_problem(dtype) -> dict:
    """One parameter array of N_PARAMS entries and two gradients for it. Shared: copy first."""
    return _optimizer_problem(dtype.name)
