"""Smoke test of ``bench/epoch.py``: its whole machinery, in-process, on a tiny problem.

The benchmark doubles as a test: every contender must have produced a time, descend's models
must be exactly the ones the NumPy reference (``descend.reference.fit``) trains, and the NumPy and
PyTorch loops the benchmark races against must, run without shuffling, follow descend's
trajectory (so the race is between implementations of one algorithm). A few seconds; torch is
optional (only the torch checks are skipped without it).
"""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest

import descend

_PATH = pathlib.Path(__file__).with_name("epoch.py")


def _load_epoch():
    spec = importlib.util.spec_from_file_location("bench_epoch", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


epoch = _load_epoch()

N_ROWS, N_FEATURES = 20_000, 20
DTYPES = ["float64", "float32"]
# descend against its NumPy reference (same trajectory, same arithmetic order up to the
# blocking of sums); the benchmark's loops against descend (different summation, and torch
# accumulates float32 batches in float32)
RTOL_REFERENCE = {"float64": 1e-8, "float32": 1e-5}
RTOL_LOOPS = {"float64": 1e-10, "float32": 1e-4}


@pytest.fixture(scope="module")
def results():
    """One run of the benchmark: one round, one epoch per descend fit (no warm-up epoch), at most
    two epochs to the target; no waiting for a quiet machine."""
    lines = []
    res = epoch.run(N_ROWS, N_FEATURES, rounds=1, epochs=1, warmup=0, target_epochs=2, checks_per_epoch=2,
                    torch_budget=0.5, target_budget=0.5, monitor=False, log=lines.append)
    res["_lines"] = lines
    return res


def expected_contenders(with_torch: bool):
    names = ["floor"] + [key for key, _, _ in epoch.DESCEND_VARIANTS] + ["numpy", "sklearn"]
    return names + (["torch"] if with_torch else [])


def assert_close(actual, expected, rtol, what):
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    atol = rtol * float(np.max(np.abs(expected)))  # entries near zero are held to the array's scale
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_every_contender_is_timed(results, dtype_name):
    res = results[dtype_name]
    names = expected_contenders(epoch.torch is not None)
    for name in names:
        assert res["epoch"][name]["seconds"] > 0, name
        assert all(t > 0 for t in res["epoch"][name]["samples"]), name
    target = res["target"]
    assert target["f_star"] > 0 and target["target"] > target["f_star"]
    for name in ["descend", "numpy", "sklearn"] + (["torch"] if epoch.torch is not None else []):
        trajectory = target[name]["trajectory"]
        assert trajectory, name
        assert all(t > 0 and f >= target["f_star"] * (1 - 1e-9) for _, t, f in trajectory), name
    # the report was printed, summary included, and the JSON is serializable
    assert any(line.startswith("Summary") for line in results["_lines"])
    text = epoch.json.dumps(epoch.to_json(results))
    assert "_models" not in text and "_problem" not in text


@pytest.mark.parametrize("dtype_name", DTYPES)
@pytest.mark.parametrize("variant", [key for key, _, _ in epoch.DESCEND_VARIANTS])
def test_descend_models_match_the_reference(results, dtype_name, variant):
    """The benchmark's descend fits (one epoch each) are what descend.reference.fit trains."""
    X, y = results["_problem"][dtype_name]
    model = results[dtype_name]["epoch"]["_models"][variant]
    assert model.n_iter_ == 1 and len(model.history_["time"]) == 1
    assert model.coef_.dtype == np.dtype(dtype_name)
    ref = descend.reference.fit(model, X, y)
    rtol = RTOL_REFERENCE[dtype_name]
    assert_close(model.coef_, ref.coef_, rtol, "coef_")
    assert_close(model.intercept_, ref.intercept_, rtol, "intercept_")
    np.testing.assert_allclose(model.history_["loss"], ref.history_["loss"], rtol=rtol)


def _first_rows(results, dtype_name, n=5_000):
    X, y = results["_problem"][dtype_name]
    return X[:n], y[:n]


def _descend_in_order(X, y):
    return epoch.descend_model(1, False, 1).fit(X, y)


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_numpy_loop_follows_descend(results, dtype_name):
    """Without shuffling, one epoch of the NumPy loop is one epoch of descend (same batches,
    same Adam, same start), so the timings compare implementations of the same training."""
    X, y = _first_rows(results, dtype_name)
    model = _descend_in_order(X, y)
    loop = epoch.numpy_loop(X, y, seed=0, shuffle=False)
    loop.start_epoch()
    loop.run(0, loop.n_batches)
    assert loop.theta.dtype == np.dtype(dtype_name)
    w, b = loop.params()
    assert_close(w, model.coef_.ravel(), RTOL_LOOPS[dtype_name], "NumPy loop weights")
    assert_close(b, model.intercept_[0], RTOL_LOOPS[dtype_name], "NumPy loop intercept")


@pytest.mark.parametrize("dtype_name", DTYPES)
def test_torch_loop_follows_descend(results, dtype_name):
    if epoch.torch is None:
        pytest.skip("torch is not installed: the benchmark skips its PyTorch contender")
    res = results[dtype_name]
    assert res["epoch"]["torch"]["seconds"] > 0
    assert res["target"]["torch"]["trajectory"]
    X, y = _first_rows(results, dtype_name)
    model = _descend_in_order(X, y)
    loop = epoch.torch_loop(X, y, seed=0, shuffle=False)
    loop.start_epoch()
    loop.run(0, loop.n_batches)
    w, b = loop.params()
    assert_close(w, model.coef_.ravel(), RTOL_LOOPS[dtype_name], "PyTorch loop weights")
    assert_close(b, model.intercept_[0], RTOL_LOOPS[dtype_name], "PyTorch loop intercept")
