"""Benchmarks of descend's C++ kernels that double as tests against the NumPy reference.

Run ``pytest bench`` (timings) or ``pytest bench --benchmark-disable`` (each body once: a smoke
test). Each benchmark computes the reference answer with :mod:`descend.reference` first and
asserts that the benchmarked call reproduces it: float64 to rtol 1e-10, float32 to rtol 1e-5, with
an atol scaled to the magnitude of the result. The data come from the fixtures of conftest.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import descend
from descend import reference

# Relative tolerance of a result against the float64 NumPy reference, by the result's dtype.
RTOL = {np.dtype(np.float64): 1e-10, np.dtype(np.float32): 1e-5}


def assert_close(actual, expected, dtype, *, what=""):
    """``actual == expected`` to the dtype's rtol, with an atol of rtol * max|expected| so that
    entries near zero (where relative error means nothing) are held to the array's scale."""
    rtol = RTOL[np.dtype(dtype)]
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale, err_msg=what)


def assert_loss_close(result, expected, dtype):
    """(loss, grad_w, grad_b) of descend against the reference's."""
    loss, grad, grad_b = result
    ref_loss, ref_grad, ref_grad_b = expected
    assert np.asarray(grad).dtype == np.dtype(dtype), "gradient not in X's dtype"
    assert_close(loss, ref_loss, dtype, what="loss")
    assert_close(grad, ref_grad, dtype, what="gradient of the weights")
    assert_close(grad_b, ref_grad_b, dtype, what="gradient of the intercept")


def assert_step_close(after, ref_after, before, dtype, *, what="params"):
    """Parameters after optimizer steps against the reference's, compared as the change from
    ``before`` (the update itself, which is small next to the parameters: comparing the
    parameters at rtol would hide a wrong update). The tolerance is rtol on the update plus
    two ulps of the parameters' magnitude (the final rounding of p - update in p's dtype)."""
    dtype = np.dtype(dtype)
    before = np.asarray(before, dtype=np.float64)
    delta = np.asarray(after, dtype=np.float64) - before
    ref_delta = np.asarray(ref_after, dtype=np.float64) - before
    rtol = RTOL[dtype]
    ulp = float(np.spacing(dtype.type(np.max(np.abs(before)))))
    atol = rtol * float(np.max(np.abs(ref_delta))) + 2 * ulp
    np.testing.assert_allclose(delta, ref_delta, rtol=rtol, atol=atol, err_msg=f"{what} (change in one step)")


# ---------------------------------------------------------------------------------------------
# Losses: loss and gradient of a linear model, one pass over X
# ---------------------------------------------------------------------------------------------

LINEAR_LOSSES = {
    # name: (target in the problem, keyword arguments)
    "squared_error": ("y_regression", {"alpha": 1e-2, "l1_ratio": 0.5}),  # with an elastic-net penalty
    "logistic": ("y_binary", {}),
}


@pytest.mark.parametrize("name", list(LINEAR_LOSSES))
def test_linear_loss(benchmark, linear_problem, dtype, name):
    p = linear_problem
    target, kwargs = LINEAR_LOSSES[name]
    X, y, w, b = p["X"], p[target], p["w"], p["b"]
    expected = getattr(reference, name)(X, y, w, b, **kwargs)

    benchmark.group = f"loss {name}"
    benchmark.extra_info["bytes_of_X"] = X.nbytes
    result = benchmark(getattr(descend.losses, name), X, y, w, b, **kwargs)

    assert_loss_close(result, expected, dtype)


def test_softmax_cross_entropy(benchmark, linear_problem, dtype):
    p = linear_problem
    X, y, W, b = p["X"], p["y_class"], p["W"], p["b_class"]
    expected = reference.softmax_cross_entropy(X, y, W, b)

    benchmark.group = "loss softmax_cross_entropy"
    benchmark.extra_info["bytes_of_X"] = X.nbytes
    result = benchmark(descend.losses.softmax_cross_entropy, X, y, W, b)

    assert_loss_close(result, expected, dtype)
    assert result[2].dtype == dtype


@pytest.mark.parametrize("n_threads", [1, -1], ids=["1-thread", "all-threads"])
def test_logistic_threads(benchmark, linear_problem, dtype, n_threads):
    """One thread against all of them: the same answer (to the bit, as documented), and the
    speed-up in the timings."""
    p = linear_problem
    X, y, w, b = p["X"], p["y_binary"], p["w"], p["b"]
    expected = reference.logistic(X, y, w, b)

    benchmark.group = f"logistic threads {dtype.name}"
    benchmark.extra_info["n_threads"] = n_threads
    result = benchmark(descend.losses.logistic, X, y, w, b, n_threads=n_threads)

    assert_loss_close(result, expected, dtype)
    default = descend.losses.logistic(X, y, w, b)
    assert result[0] == default[0] and result[2] == default[2]
    np.testing.assert_array_equal(result[1], default[1])


# ---------------------------------------------------------------------------------------------
# Optimizer steps on conftest.N_PARAMS parameters
# ---------------------------------------------------------------------------------------------

OPTIMIZERS = {
    # id: (class name, hyper-parameters)
    "sgd": ("SGD", {"lr": 1e-2}),
    "sgd_momentum": ("SGD", {"lr": 1e-2, "momentum": 0.9, "weight_decay": 1e-4}),
    "sgd_nesterov": ("SGD", {"lr": 1e-2, "momentum": 0.9, "nesterov": True}),
    "adam": ("Adam", {"lr": 1e-3}),
    "adamw": ("AdamW", {"lr": 1e-3, "weight_decay": 1e-2}),
    "adam_amsgrad": ("Adam", {"lr": 1e-3, "amsgrad": True, "weight_decay": 1e-2}),
    "rmsprop": ("RMSprop", {"lr": 1e-2}),
    "rmsprop_centered_momentum": ("RMSprop", {"lr": 1e-2, "centered": True, "momentum": 0.9}),
}

# descend's state key -> the reference optimizer's attribute holding the same buffers
_REFERENCE_STATE = {
    "exp_avg": "exp_avg",
    "exp_avg_sq": "exp_avg_sq",
    "max_exp_avg_sq": "max_exp_avg_sq",
    "square_avg": "square_avg",
    "grad_avg": "grad_avg",
}


def _reference_state(ref_opt, key):
    if key == "momentum_buffer":
        return getattr(ref_opt, "momentum_buffers", None) or ref_opt.momentum_buffer
    return getattr(ref_opt, _REFERENCE_STATE[key])


def _check_against_reference(cls_name, hyper, problem, dtype):
    """Two steps (the first one, which starts the state, and a later one) of descend and of the
    reference, from identical copies: parameters and every state buffer must agree."""
    p0 = problem["params"]
    ours, theirs = [p0.copy()], [p0.copy()]
    opt = getattr(descend.optim, cls_name)(ours, **hyper)
    ref = getattr(reference, cls_name)(theirs, **hyper)
    before = p0
    for i, g in enumerate(problem["grads"]):
        opt.step([g.copy()])
        ref.step([g.copy()])
        assert_step_close(ours[0], theirs[0], before, dtype, what=f"params after step {i + 1}")
        for key, value in opt.state[0].items():
            assert_close(value, _reference_state(ref, key)[0], dtype, what=f"state {key!r} after step {i + 1}")
        before = theirs[0].copy()
        ours[0][...] = theirs[0]  # the next step starts from the same point
    assert ours[0].dtype == dtype


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_step(benchmark, optimizer_problem, dtype, name):
    cls_name, hyper = OPTIMIZERS[name]
    # The benchmark runs step() many times, so the check is made on fresh copies beforehand.
    _check_against_reference(cls_name, hyper, optimizer_problem, dtype)

    params = [optimizer_problem["params"].copy()]
    grads = [optimizer_problem["grads"][1]]
    opt = getattr(descend.optim, cls_name)(params, **hyper)
    opt.step([optimizer_problem["grads"][0]])  # allocate the state outside the timings

    n_params = params[0].size
    benchmark.group = f"optimizer step {n_params:,} params"
    benchmark.extra_info["n_params"] = n_params
    benchmark(opt.step, grads)

    assert np.all(np.isfinite(params[0]))


def test_clip_grad_norm(benchmark, optimizer_problem, dtype):
    """The norm of several arrays, then their scaling in place (the norm is far above max_norm).
    Each round gets fresh copies from an untimed setup, so that every timed call does scale."""
    g = optimizer_problem["grads"][0]
    pieces = [g[: g.size // 2], g[g.size // 2 : -1000], g[-1000:]]
    max_norm = 1.0
    expected = [x.copy() for x in pieces]
    expected_norm = reference.clip_grad_norm(expected, max_norm)

    last = {}

    def setup():
        last["grads"] = [x.copy() for x in pieces]
        return (last["grads"], max_norm), {}

    benchmark.group = f"clip_grad_norm {g.size:,} entries"
    norm = benchmark.pedantic(descend.optim.clip_grad_norm, setup=setup, rounds=50, warmup_rounds=1)

    assert_close(norm, expected_norm, dtype, what="norm")
    for ours, theirs in zip(last["grads"], expected):
        assert_close(ours, theirs, dtype, what="clipped gradient")
    assert np.sqrt(sum(float(np.sum(np.square(x, dtype=np.float64))) for x in last["grads"])) <= 1.0001 * max_norm
