"""descend.minimize: the lessons of gradient descent on exact figures, the NumPy reference, the API."""

import math

import numpy as np
import pytest

from descend import DivergenceError, landscapes, optim, reference
from descend import MinimizeResult, minimize

DOUBLE_WELLS = [landscapes.double_well_1d, landscapes.double_well_2d]
WELL_IDS = ["1d", "2d"]


def bowl(x):
    return float(np.sum(x * x)), 2 * x


# -- the lessons ----------------------------------------------------------------------------------

@pytest.mark.parametrize("land", DOUBLE_WELLS, ids=WELL_IDS)
@pytest.mark.parametrize("optimizer,lr", [("sgd", 0.003), ("sgd", 0.01), ("sgd", 0.03), ("adam", 0.01)])
def test_double_well_plain_descent_stops_in_the_local_minimum(land, optimizer, lr):
    res = minimize(land, land.start, optimizer=optimizer, lr=lr, max_iter=5000, tol=1e-8)
    assert res.success and res.status == 0
    np.testing.assert_allclose(res.x, land.local_minima[0], rtol=0, atol=1e-6)
    assert res.fun > land(land.minima[0])[0] + 1.9


@pytest.mark.parametrize("land", DOUBLE_WELLS, ids=WELL_IDS)
@pytest.mark.parametrize("optimizer,lr", [("momentum", 0.01), ("nesterov", 0.01), ("adam", 0.2)])
def test_double_well_momentum_reaches_the_global_minimum(land, optimizer, lr):
    res = minimize(land, land.start, optimizer=optimizer, lr=lr, max_iter=5000, tol=1e-8)
    assert res.success
    np.testing.assert_allclose(res.x, land.minima[0], rtol=0, atol=1e-6)
    # it went past the local minimum on its way
    assert np.any(res.path[:, 0] < land.local_minima[0][0])


def closed_form_sgd(q, lr, k):
    """Plain gradient descent on 1/2 sum h x^2: x_k = (1 - lr h)^k x_0, componentwise."""
    return (1.0 - lr * q.h) ** np.asarray(k)[..., None] * q.start


def test_quadratic_sgd_below_2_over_L_converges_at_the_exact_rate():
    q = landscapes.quadratic(condition=10.0)
    lr = 1.9 / q.L
    res = minimize(q, q.start, optimizer="sgd", lr=lr, max_iter=1000)
    assert res.success and res.status == 0
    np.testing.assert_allclose(res.x, 0.0, atol=1e-6)
    k = np.arange(res.nit + 1)
    np.testing.assert_allclose(res.path, closed_form_sgd(q, lr, k), rtol=1e-12, atol=1e-15)
    # the first k whose gradient norm |h x_k| falls to tol, from the closed form
    gnorm = np.linalg.norm(q.h * closed_form_sgd(q, lr, np.arange(1000)), axis=1)
    assert res.nit == np.argmax(gnorm <= 1e-6)


def test_quadratic_sgd_above_2_over_L_diverges():
    q = landscapes.quadratic(condition=10.0)
    lr = 2.1 / q.L
    f0 = q(q.start)[0]
    values = 0.5 * np.sum(q.h * closed_form_sgd(q, lr, np.arange(1000)) ** 2, axis=1)
    first = int(np.argmax(values - f0 > 1e12 * max(1.0, f0)))  # |1 - lr L| = 1.1 > 1: growth 1.21^k
    assert first == 150
    with pytest.raises(DivergenceError, match=f"iteration {first} .*lr={lr / 10:.2g}") as info:
        minimize(q, q.start, optimizer="sgd", lr=lr, max_iter=1000)
    err = info.value
    assert (err.epoch, err.step) == (None, first)
    assert err.loss == pytest.approx(values[first], rel=1e-10)
    assert err.learning_rate == lr and err.suggested_learning_rate == pytest.approx(lr / 10)

    res = minimize(q, q.start, optimizer="sgd", lr=lr, max_iter=1000, on_divergence="return")
    assert not res.success and res.status == 2
    assert "diverged at iteration 150" in res.message
    assert res.nit == first - 1 and res.nfev == first + 1
    assert np.all(np.isfinite(res.x)) and np.all(np.isfinite(res.path))
    np.testing.assert_allclose(res.x, closed_form_sgd(q, lr, first - 1), rtol=1e-12)
    assert res.fun == res.values[-1] == q(res.x)[0]


def test_quadratic_sgd_far_too_small_a_rate_crawls():
    q = landscapes.quadratic(condition=10.0)
    lr, k = 1e-3 / q.L, 1000
    res = minimize(q, q.start, optimizer="sgd", lr=lr, max_iter=k)
    assert not res.success and res.status == 1 and res.nit == k
    assert "max_iter=1000 reached" in res.message
    distance = np.linalg.norm(res.x)
    expected = np.linalg.norm(closed_form_sgd(q, lr, k))
    assert distance == pytest.approx(expected, rel=1e-10)
    # the flat direction has shrunk by only (1 - lr mu)^k = 0.905
    assert res.x[0] == pytest.approx(q.start[0] * (1 - lr * q.mu) ** k, rel=1e-10)
    assert distance > 3.6


def test_rosenbrock_adam_reaches_the_minimum_and_sgd_does_not():
    r = landscapes.rosenbrock
    res = minimize(r, r.start, optimizer="adam", lr=0.05, max_iter=5000)
    assert res.success and res.nit < 5000
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-3)
    # 2e-3 is about the largest stable rate at the minimum (2 / the Hessian's top eigenvalue, 1001.6)
    slow = minimize(r, r.start, optimizer="sgd", lr=1e-3, max_iter=5000)
    assert not slow.success and slow.status == 1
    assert np.linalg.norm(slow.x - 1.0) > 0.1


def test_himmelblau_the_optimizer_picks_the_minimum():
    h = landscapes.himmelblau
    plain = minimize(h, h.start, optimizer="sgd", lr=0.01)
    heavy = minimize(h, h.start, optimizer="momentum", lr=0.01)
    assert plain.success and heavy.success
    np.testing.assert_allclose(plain.x, h.minima[0], atol=1e-6)
    np.testing.assert_allclose(heavy.x, h.minima[3], atol=1e-6)


def test_saddle_is_left_slowly_and_can_pass_for_a_minimum():
    s = landscapes.saddle
    res = minimize(s, s.start, optimizer="sgd", lr=0.1)
    assert res.success
    np.testing.assert_allclose(res.x, s.minima[0], atol=1e-6)
    # near the saddle y grows by 1 + 2 lr per step: 3 more decades cost 3 ln 10 / ln 1.2 = 37.9 steps
    closer = minimize(s, (1.0, 1e-6), optimizer="sgd", lr=0.1)
    assert abs((closer.nit - res.nit) - 3 * math.log(10) / math.log(1.2)) <= 1
    # from y = 0 the gradient vanishes at the saddle: "converged", yet not a minimum
    stuck = minimize(s, (1.0, 0.0), optimizer="sgd", lr=0.1)
    assert stuck.success
    np.testing.assert_allclose(stuck.x, s.saddle_point, atol=1e-6)
    assert stuck.fun > s(s.minima[0])[0] + 0.99


REFERENCE = {
    "sgd": (reference.SGD, {}, 1e-3),
    "momentum": (reference.SGD, dict(momentum=0.9), 1e-3),
    "nesterov": (reference.SGD, dict(momentum=0.9, nesterov=True), 1e-3),
    "adam": (reference.Adam, {}, 0.01),
    "adamw": (reference.AdamW, {}, 0.01),
    "rmsprop": (reference.RMSprop, {}, 0.01),
}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_path_matches_the_numpy_reference(name):
    cls, implied, lr = REFERENCE[name]
    r = landscapes.rosenbrock
    res = minimize(r, r.start, optimizer=name, lr=lr, max_iter=300, tol=0.0)
    x = np.array(r.start)
    ref = cls([x], lr=lr, **implied)
    path, values = [x.copy()], [r(x)[0]]
    for _ in range(300):
        ref.step([r(x)[1]])
        path.append(x.copy())
        values.append(r(x)[0])
    assert res.nit == 300 and res.optimizer == f"{name} lr={lr:g}"
    np.testing.assert_allclose(res.path, path, rtol=0, atol=1e-12)
    np.testing.assert_allclose(res.values, values, rtol=1e-12)


# -- the API --------------------------------------------------------------------------------------

def test_result_fields():
    x0 = np.array([1.0, -2.0, 0.5])
    res = minimize(bowl, x0, optimizer="sgd", lr=0.1)
    assert isinstance(res, MinimizeResult) and isinstance(res, dict)
    assert set(res) == {"x", "fun", "jac", "nit", "nfev", "success", "status", "message", "path", "values",
                        "optimizer"}
    assert res.success and res.status == 0 and res.message == "gradient norm below tol"
    # x_k = 0.8^k x0: the gradient norm 2 |x_k| first reaches tol = 1e-6 at step 69
    assert math.ceil(math.log(2 * np.linalg.norm(x0) / 1e-6) / math.log(1 / 0.8)) == 69
    assert res.nit == 69 and res.nfev == 70
    assert res.path.shape == (70, 3) and res.values.shape == (70,)
    np.testing.assert_array_equal(res.path[0], x0)
    assert res.values[0] == bowl(x0)[0]
    np.testing.assert_array_equal(res.x, res.path[-1])
    assert res.fun == res.values[-1]
    np.testing.assert_array_equal(res.jac, bowl(res.x)[1])
    assert np.linalg.norm(res.jac) <= 1e-6 < np.linalg.norm(bowl(res.path[-2])[1])
    assert res["x"] is res.x and res.optimizer == "sgd lr=0.1"
    with pytest.raises(AttributeError):
        res.nope
    text = repr(res)
    assert "message: 'gradient norm below tol'" in text and "<ndarray of shape (70, 3), float64>" in text
    np.testing.assert_array_equal(x0, [1.0, -2.0, 0.5])  # not modified


def test_shapes_of_x0_are_kept():
    res = minimize(bowl, 3.0, optimizer="sgd", lr=0.1)
    assert res.x.shape == () and res.jac.shape == () and res.path.shape == (res.nit + 1,)
    x0 = np.arange(6.0).reshape(2, 3)
    seen = []
    res = minimize(lambda x: (seen.append(x.shape) or bowl(x)), x0, optimizer="sgd", lr=0.1)
    assert res.x.shape == (2, 3) and res.path.shape == (res.nit + 1, 2, 3)
    assert set(seen) == {(2, 3)}
    res = minimize(bowl, [1, 2], optimizer="sgd", lr=0.1, max_iter=3)
    assert res.x.dtype == np.float64 and res.nit == 3


def test_default_optimizer_and_labels():
    assert minimize(bowl, [1.0], max_iter=2).optimizer == "adam lr=0.01"
    res = minimize(bowl, [1.0], optimizer="sgd", lr=0.1, momentum=0.5, max_iter=2)
    assert res.optimizer == "sgd lr=0.1 momentum=0.5"
    assert minimize(bowl, [1.0], optimizer="momentum", max_iter=2).optimizer == "momentum lr=0.01"


def test_separate_jac():
    r = landscapes.rosenbrock
    both = minimize(r, r.start, optimizer="adam", lr=0.01, max_iter=50)
    calls = []
    res = minimize(lambda x: r(x)[0], r.start, optimizer="adam", lr=0.01, max_iter=50,
                   jac=lambda x: calls.append(1) or r(x)[1])
    np.testing.assert_array_equal(res.path, both.path)
    assert len(calls) == res.nfev == 51
    np.testing.assert_array_equal(minimize(r, r.start, max_iter=50, jac=True).path, both.path)


def test_optimizer_given_as_a_class():
    r = landscapes.rosenbrock
    by_name = minimize(r, r.start, optimizer="nesterov", lr=1e-3, max_iter=100)
    by_class = minimize(r, r.start, optimizer=optim.SGD, lr=1e-3, momentum=0.9, nesterov=True, max_iter=100)
    np.testing.assert_array_equal(by_class.path, by_name.path)
    assert by_class.optimizer == "SGD lr=0.001 momentum=0.9 nesterov=True"
    assert minimize(bowl, [1.0], optimizer=optim.RMSprop, max_iter=1).optimizer == "RMSprop lr=0.01"

    class Halving(optim.SGD):
        """SGD whose rate halves every step."""

        def step(self, grads):
            super().step(grads)
            self.lr = self.lr / 2

    res = minimize(bowl, [1.0], optimizer=Halving, lr=0.25, max_iter=3, tol=0.0)
    # x_k = x_{k-1} (1 - 2 lr_k), lr_k = 0.25, 0.125, 0.0625
    np.testing.assert_allclose(res.path[:, 0], [1.0, 0.5, 0.375, 0.328125], rtol=1e-15)


def test_callback_each_step_and_stop():
    seen = []
    res = minimize(bowl, [1.0, 2.0], optimizer="sgd", lr=0.1, callback=seen.append)
    assert res.success and len(seen) == res.nit
    np.testing.assert_array_equal(seen, res.path[1:])
    seen[0][0] = 99.0  # a copy
    assert res.path[1, 0] != 99.0

    calls = []
    res = minimize(bowl, [1.0, 2.0], optimizer="sgd", lr=0.1, callback=lambda xk: calls.append(xk) or len(calls) == 6)
    assert not res.success and res.status == 3 and res.message == "stopped by callback"
    assert res.nit == 6 and res.path.shape == (7, 2)

    def stop_at_half(xk):
        if xk[0] < 0.5:
            raise StopIteration

    res = minimize(bowl, [1.0], optimizer="sgd", lr=0.1, callback=stop_at_half)
    assert res.status == 3 and res.nit == 4 and res.x[0] == pytest.approx(0.8 ** 4)
    # only True stops: a logger's truthy return value does not
    res = minimize(bowl, [1.0], optimizer="sgd", lr=0.1, max_iter=20, callback=lambda xk: len(str(xk)))
    assert res.nit == 20 and res.status != 3


def test_max_iter_message():
    res = minimize(bowl, [1.0], optimizer="sgd", lr=0.01, max_iter=5)
    assert res.status == 1 and not res.success and res.nit == 5 and res.nfev == 6
    assert res.message == f"max_iter=5 reached with gradient norm {2 * 0.98 ** 5:.3g} > tol=1e-06"


def test_divergence_of_x_and_unbounded_functions():
    def steep(x):
        return float(x @ x), np.full_like(x, 1e308)

    with pytest.raises(DivergenceError, match="iteration 1 .*x became non-finite.*lr=1") as info:
        minimize(steep, [1.0, 2.0], optimizer="sgd", lr=10.0)
    assert math.isnan(info.value.loss)
    res = minimize(steep, [1.0, 2.0], optimizer="sgd", lr=10.0, on_divergence="return")
    assert res.status == 2 and res.nit == 0 and res.nfev == 1
    np.testing.assert_array_equal(res.x, [1.0, 2.0])

    def nan_beyond_one(x):
        return (float(x @ x) if abs(x[0]) < 1 else float("nan")), 2 * x

    res = minimize(nan_beyond_one, [-0.5], optimizer="sgd", lr=2.0, on_divergence="return")
    assert res.status == 2 and "the value became nan" in res.message and np.isfinite(res.x).all()
    with pytest.raises(DivergenceError, match="unbounded below"):
        minimize(lambda x: (-float(x @ x), -2 * x), [1.0], optimizer="sgd", lr=0.1)
    with pytest.raises(DivergenceError, match="the value became -inf: is fun unbounded below"):
        minimize(lambda x: (-float(x[0]) if x[0] < 5 else -np.inf, -np.ones(1)), [0.0], optimizer="sgd", lr=1.0)
    with pytest.raises(DivergenceError, match="gradient became non-finite"):
        minimize(lambda x: (float(x @ x), 2 * x if x[0] > 0.5 else np.array([np.inf])), [1.0],
                 optimizer="sgd", lr=0.1)


def test_a_value_far_below_a_small_f_x0_is_descent_not_divergence():
    # 1/2 x^2 - c x from f(x0) = 0: the minimum, -c^2 / 2 = -2e12, lies beyond 1e12 * max(1, |f(x0)|)
    c = 2e6
    res = minimize(lambda x: (float(0.5 * x @ x - c * x.sum()), x - c), [0.0], optimizer="sgd", lr=0.5)
    assert res.success
    np.testing.assert_allclose(res.x, [c], rtol=1e-12)
    assert res.fun == pytest.approx(-c * c / 2, rel=1e-12) and res.values[0] == 0.0


def test_overshoot_is_caught_when_f_x0_is_zero():
    def f(x):  # (x - 1)^2 - 1: f(0) = 0
        return float((x - 1) @ (x - 1)) - 1.0, 2 * (x - 1)

    assert minimize(f, [0.0], optimizer="sgd", lr=0.1).success
    # lr = 1.1: x_k - 1 = -(-1.2)^k, f(x_k) = 1.44^k - 1 first rises 1e12 above f(x0) = 0 at k = 76,
    # long before it overflows (k ~ 1900)
    first = math.ceil(math.log(1e12 + 1) / math.log(1.44))
    assert first == 76
    with pytest.raises(DivergenceError, match=f"iteration {first} .*rose to .*above f\\(x0\\) = 0. Try a smaller"):
        minimize(f, [0.0], optimizer="sgd", lr=1.1)


def test_unbounded_below_ends_in_divergence_or_says_so():
    # -x^2 by sgd: x_k = 1.2^k, the gradient norm 2 * 1.2^k passes 1e12 times its 2 at x0 at k = 152
    first = math.ceil(12 * math.log(10) / math.log(1.2))
    with pytest.raises(DivergenceError, match=f"iteration {first} .*fell to .*is fun unbounded below") as info:
        minimize(lambda x: (-float(x @ x), -2 * x), [1.0], optimizer="sgd", lr=0.1)
    assert info.value.step == first
    res = minimize(lambda x: (-float(x @ x), -2 * x), [1.0], optimizer="sgd", lr=0.1, on_divergence="return")
    assert res.status == 2 and not res.success and res.nit == first - 1
    np.testing.assert_allclose(res.x, [1.2 ** (first - 1)], rtol=1e-12)
    # a linear function never overflows within max_iter: success=False, and the message asks
    for optimizer in ("sgd", "adam"):
        res = minimize(lambda x: (-float(x.sum()), -np.ones_like(x)), [0.0, 0.0], optimizer=optimizer, lr=0.1,
                       max_iter=200)
        assert res.status == 1 and not res.success
        assert res.message.startswith("max_iter=200 reached") and res.message.endswith("is fun unbounded below?")
    # a slow but bounded run is not suspected
    assert "unbounded" not in minimize(bowl, [1.0], optimizer="sgd", lr=1e-3, max_iter=10).message


def test_keep_path_false_keeps_the_values_and_the_same_run():
    q = landscapes.quadratic(condition=10.0)
    kept = minimize(q, q.start, optimizer="sgd", lr=1.9 / q.L)
    res = minimize(q, q.start, optimizer="sgd", lr=1.9 / q.L, keep_path=False)
    assert res.path is None and "path: None" in repr(res)
    for key in ("x", "fun", "jac", "nit", "nfev", "status", "message", "values"):
        np.testing.assert_array_equal(res[key], kept[key])
    # after a divergence x is the iterate before the step that diverged
    lr = 2.1 / q.L
    res = minimize(q, q.start, optimizer="sgd", lr=lr, keep_path=False, on_divergence="return")
    assert res.status == 2 and res.path is None and res.values.shape == (res.nit + 1,)
    np.testing.assert_allclose(res.x, closed_form_sgd(q, lr, res.nit), rtol=1e-12)
    assert res.fun == q(res.x)[0]


def test_keep_path_auto_bounds_the_memory(monkeypatch):
    import tracemalloc

    from descend import _minimize

    assert minimize(bowl, [1.0, 2.0], max_iter=5).path.shape == (6, 2)
    monkeypatch.setattr(_minimize, "MAX_PATH_BYTES", 8 * 6 * 2)
    assert minimize(bowl, [1.0, 2.0], max_iter=5).path.shape == (6, 2)
    assert minimize(bowl, [1.0, 2.0], max_iter=6).path is None
    assert minimize(bowl, [1.0, 2.0], max_iter=6, keep_path=True).path.shape == (7, 2)
    monkeypatch.undo()

    x0 = np.ones(200_000)  # a path of up to 101 iterates: 162 MB
    tracemalloc.start()
    try:
        res = minimize(bowl, x0, optimizer="sgd", lr=0.1, max_iter=100, n_threads=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert res.success and res.path is None and res.values.shape == (res.nit + 1,) and res.nit > 60
    assert peak < 12 * x0.nbytes


def test_the_default_path_draws_a_trajectory():
    pytest.importorskip("matplotlib")
    from descend import plot

    well = landscapes.double_well_2d
    res = minimize(well, well.start, optimizer="momentum", lr=0.01, max_iter=200)
    fig = plot.trajectory(well, res)
    line = fig.axes[0].get_lines()[0]
    np.testing.assert_array_equal(line.get_xdata(), res.path[:, 0])


def test_bad_optimizer():
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'.*'sgd'.*'momentum'.*'rmsprop'"):
        minimize(bowl, [1.0], optimizer="lbfgs")
    with pytest.raises(TypeError, match="unknown option 'momentum' for optimizer 'adam'.*betas"):
        minimize(bowl, [1.0], optimizer="adam", momentum=0.9)
    with pytest.raises(TypeError, match="unknown option 'foo' for optimizer 'SGD'"):
        minimize(bowl, [1.0], optimizer=optim.SGD, foo=1)
    with pytest.raises(TypeError, match="got an instance"):
        minimize(bowl, [1.0], optimizer=optim.SGD([np.zeros(1)]))
    with pytest.raises(TypeError, match="optimizer must be"):
        minimize(bowl, [1.0], optimizer=3)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        minimize(bowl, [1.0], optimizer="sgd", lr=-1.0)
    with pytest.raises(ValueError, match="n_threads"):
        minimize(bowl, [1.0], n_threads=0)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(x0=[1.0, np.nan]), ValueError, "x0 must be finite"),
    (dict(x0=["a", "b"]), TypeError, "x0 must be an array of real numbers"),
    (dict(x0=[]), ValueError, "x0 is empty"),
    (dict(max_iter=0), ValueError, "max_iter must be a positive int"),
    (dict(max_iter=2.5), ValueError, "max_iter must be a positive int"),
    (dict(tol=-1.0), ValueError, "tol must be >= 0"),
    (dict(on_divergence="x"), ValueError, "on_divergence must be 'raise' or 'return'"),
    (dict(jac=False), ValueError, "jac must be None, True or a callable"),
    (dict(callback=3), TypeError, "callback must be callable"),
    (dict(keep_path="yes"), ValueError, "keep_path must be True, False or 'auto', got 'yes'"),
    (dict(keep_path=None), ValueError, "keep_path must be True, False or 'auto'"),
    (dict(fun=3), TypeError, "fun must be callable"),
    (dict(fun=lambda x: (1.0, np.zeros(3))), ValueError, r"gradient has shape \(3,\), expected \(2,\)"),
    (dict(fun=lambda x: (x, 2 * x)), ValueError, r"scalar value, got an array of shape \(2,\)"),
    (dict(fun=lambda x: (1j, 2 * x)), TypeError, "real number"),
    (dict(fun=lambda x: (1.0, np.array(["a", "b"]))), TypeError, "gradient must be an array of real numbers"),
    (dict(fun=lambda x: 1.0), TypeError, r"pair \(value, gradient\)"),
    (dict(fun=lambda x: (np.inf, 2 * x)), ValueError, "not finite at x0"),
])
def test_bad_input(kwargs, error, match):
    args = dict(fun=bowl, x0=[1.0, 2.0])
    args.update(kwargs)
    with pytest.raises(error, match=match):
        minimize(args.pop("fun"), args.pop("x0"), **args)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_the_suggested_rate_after_divergence_converges(optimizer):
    # a tenth of lr = 1 is 0.1, five times the 2 / L = 0.02 at which this quadratic diverges; the
    # suggestion is (1 - momentum) / the curvature along the steps that diverged
    q = landscapes.quadratic(condition=100.0)
    with pytest.raises(DivergenceError) as info:
        minimize(q, q.start, optimizer=optimizer, lr=1.0, max_iter=500)
    err = info.value
    assert err.suggested_learning_rate <= 1.0 / q.L * (1 + 1e-9)
    assert f"lr={err.suggested_learning_rate:.2g}" in str(err)
    res = minimize(q, q.start, optimizer=optimizer, lr=err.suggested_learning_rate, max_iter=5000)
    assert res.success and res.fun < 1e-10
