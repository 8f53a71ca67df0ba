import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def assert_close(actual, expected, dtype, scale=None):
    """float64: 1e-10 relative; float32: 1e-5 relative, with an absolute floor at 1e-5 of the
    expected array's magnitude (components that cancel to ~0 have no meaningful relative error)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    rtol = 1e-10 if np.dtype(dtype) == np.float64 else 1e-5
    if scale is None:
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * max(scale, 1e-300))
