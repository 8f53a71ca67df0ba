"""show_config, thread-count semantics and the package surface."""

import io

import numpy as np
import pytest

import descend
from descend import _validation


def test_show_config_prints_and_returns(capsys):
    config = descend.show_config()
    out = capsys.readouterr().out
    assert out.startswith(f"descend {descend.__version__}")
    for key in ("version", "compiler", "build_type", "openmp", "openmp_version", "default_threads",
                "cpu_count", "simd_baseline", "simd_dispatch", "simd_runtime", "native"):
        assert key in config
        if key != "version":
            assert key in out
    assert config["openmp"] is True, "the extension was built without OpenMP"
    assert config["openmp_version"]
    assert config["default_threads"] >= 1
    assert config["build_type"] == "Release"
    assert config["native"] is False  # portable by default


def test_version_matches_metadata():
    from importlib.metadata import version

    assert descend.__version__ == version("descend")


def test_n_threads_semantics(monkeypatch):
    monkeypatch.setattr(_validation, "cpu_count", lambda: 8)
    assert _validation.resolve_n_threads(3) == 3
    assert _validation.resolve_n_threads(-1) == 8
    assert _validation.resolve_n_threads(-2) == 7
    assert _validation.resolve_n_threads(-100) == 1
    with pytest.raises(ValueError, match="got 0"):
        _validation.resolve_n_threads(0)
    with pytest.raises(TypeError):
        _validation.resolve_n_threads(True)


def test_n_threads_none_follows_threadpoolctl():
    threadpoolctl = pytest.importorskip("threadpoolctl")
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert _validation.resolve_n_threads(None) == 1
        assert descend.show_config(file=io.StringIO())["default_threads"] == 1


def test_copy_warning_is_a_user_warning():
    assert issubclass(descend.CopyWarning, UserWarning)


def test_public_surface():
    for name in ("squared_error", "logistic", "softmax_cross_entropy"):
        assert callable(getattr(descend.losses, name)) and callable(getattr(descend.reference, name))
    for name in ("SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm"):
        assert hasattr(descend.optim, name) and hasattr(descend.reference, name)


def test_private_kernels_refuse_converted_arrays():
    # The compiled functions never convert: a wrong dtype cannot update a temporary copy.
    from descend import _core

    with pytest.raises(TypeError):
        _core.logistic(np.ones((2, 2), np.float32), np.ones(2), np.ones(2), 0.0, None, 0.0, 0.0, 1)
    with pytest.raises(TypeError, match=r"params\[0\] must be a numpy array of dtype float64 or float32"):
        _core.sgd_step([np.ones(2, np.int32)], [np.ones(2)], None, 0.1, 0.0, 0.0, 0.0, False, False, 1)
    with pytest.raises(TypeError, match=r"grads\[0\] must be a numpy array of dtype float64"):
        _core.sgd_step([np.ones(2)], [np.ones(2, np.float32)], None, 0.1, 0.0, 0.0, 0.0, False, False, 1)
