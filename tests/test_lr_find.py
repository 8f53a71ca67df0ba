"""descend.lr_find: the learning-rate range test and how its suggestion transfers to fit."""

import math

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import descend
from descend import LinearRegression, LogisticRegression, losses
from descend import LRFindResult, lr_find


def standardized(loader):
    X, y = loader(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0)
    return np.ascontiguousarray(StandardScaler().fit_transform(X_train)), y_train


@pytest.fixture(scope="module")
def cancer():
    return standardized(load_breast_cancer)


@pytest.fixture(scope="module")
def diabetes():
    return standardized(load_diabetes)


@pytest.fixture(scope="module")
def all_diabetes():
    X, y = load_diabetes(return_X_y=True)
    return np.ascontiguousarray(StandardScaler().fit_transform(X)), y


def test_suggestion_trains_logistic_regression_to_the_optimum(cancer):
    X, y = cancer
    found = lr_find(LogisticRegression(random_state=0), X, y)
    model = LogisticRegression(learning_rate=found.suggestion, random_state=0).fit(X, y)
    exact = SkLogistic(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)
    alpha = 1.0 / X.shape[0]  # alpha="auto" is scikit-learn's C=1

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=alpha)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)


def test_suggestion_trains_linear_regression_to_the_optimum(diabetes):
    X, y = diabetes
    found = lr_find(LinearRegression(random_state=0), X, y)
    model = LinearRegression(learning_rate=found.suggestion, random_state=0).fit(X, y)
    exact = Ridge(alpha=1.0).fit(X, y)  # alpha="auto" = 1/n: Ridge's alpha of n * (1/n) = 1

    def objective(coef, intercept):
        return losses.squared_error(X, y, coef, intercept, alpha=1.0 / X.shape[0])[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)


def test_rates_are_geometric_from_lr_min(cancer):
    X, y = cancer
    found = lr_find(LogisticRegression(random_state=0), X, y, lr_min=1e-4, lr_max=1.0, steps=30)
    assert isinstance(found, LRFindResult)
    k = found.learning_rates.shape[0]
    assert k >= 2 and found.losses.shape == found.smoothed.shape == (k,)
    np.testing.assert_allclose(found.learning_rates, np.geomspace(1e-4, 1.0, 30)[:k], rtol=1e-12)


def test_smoothed_is_the_bias_corrected_moving_average_and_the_suggestion_follows_the_rule(diabetes):
    X, y = diabetes
    beta = 0.9
    found = lr_find(LinearRegression(random_state=0), X, y, smoothing=beta)
    avg, expected = 0.0, []
    for i, loss in enumerate(found.losses):
        avg = beta * avg + (1 - beta) * loss
        expected.append(avg / (1 - beta ** (i + 1)))
    np.testing.assert_allclose(found.smoothed, expected, rtol=1e-10)
    k = found.smoothed.shape[0]
    skip = max(1, min(sum(1 - beta ** (i + 1) < 0.5 for i in range(k)), k // 2))  # before the half-life
    i_min = skip + int(np.argmin(found.smoothed[skip:]))
    slope = np.gradient(found.smoothed, np.log(found.learning_rates))
    assert found.suggestion == found.learning_rates[skip + int(np.argmin(slope[skip:i_min + 1]))]
    assert found.best_lr == found.learning_rates[i_min]


def test_best_lr_skips_the_noisy_start(all_diabetes):
    X, y = all_diabetes
    found = lr_find(LinearRegression(random_state=0), X, y)
    k = found.smoothed.shape[0]
    assert k >= 68
    # a lucky second batch holds the lowest smoothed loss of the sweep, at the second rate
    assert int(np.argmin(found.smoothed)) == 1
    i_min = 34 + int(np.argmin(found.smoothed[34:]))
    assert found.best_lr == found.learning_rates[i_min] > 0.1
    assert found.suggestion < found.best_lr


def test_a_lucky_first_batch_does_not_stop_the_sweep(all_diabetes):
    X, y = all_diabetes
    found = lr_find(LinearRegression(batch_size=1, random_state=4), X, y)
    # one row's loss starts the average 6 times below the next point's: a baseline taken there
    # would have stopped the sweep at its second rate
    assert found.smoothed[1] > 4.0 * found.smoothed[0]
    assert found.learning_rates.shape[0] >= 68 and found.stopped_early
    # it stops at the first point 4 times above the minimum since the skipped start
    after = found.smoothed[34:]
    assert 34 + int(np.argmax(after > 4.0 * np.minimum.accumulate(after))) == found.smoothed.shape[0] - 1


def test_stops_early_when_the_loss_explodes(diabetes):
    X, y = diabetes
    found = lr_find(LinearRegression(optimizer="sgd", random_state=0), X, y, lr_min=1e-4, lr_max=1e6, steps=300)
    assert found.stopped_early
    assert 68 <= found.learning_rates.shape[0] < 300
    assert np.all(np.isfinite(found.losses)) and np.all(np.isfinite(found.smoothed))
    assert found.suggestion < found.learning_rates[-1]
    # ten decades in 100 steps: the loss blows up after 43 rates, of which 34 are the skipped start
    with pytest.warns(UserWarning, match="of the 100 rates: too few .*record at least 68"):
        coarse = lr_find(LinearRegression(optimizer="sgd", random_state=0), X, y, lr_min=1e-4, lr_max=1e6, steps=100)
    assert coarse.stopped_early and 34 < coarse.learning_rates.shape[0] < 68


def test_a_sweep_that_blows_up_at_once_warns(diabetes):
    X, y = diabetes
    with pytest.warns(UserWarning, match=r"blew up at lr=1\.05e\+03, after 2 of the 100 rates: too few .*"
                                         r"lower lr_min or raise steps") as record:
        found = lr_find(LinearRegression(optimizer="sgd", random_state=0), X, y * 1e6, lr_min=1e3, lr_max=1e4)
    assert record[0].filename == __file__
    assert found.stopped_early and found.losses.shape == (2,)
    assert found.losses[1] > 1e3 * found.losses[0]


def test_a_full_sweep_does_not_stop_early(cancer):
    X, y = cancer
    found = lr_find(LogisticRegression(random_state=0), X, y, lr_min=1e-5, lr_max=1e-2, steps=20)
    assert not found.stopped_early and found.learning_rates.shape[0] == 20
    assert found.learning_rates[-1] == pytest.approx(1e-2)


def test_same_seed_same_sweep(cancer):
    X, y = cancer
    a = lr_find(LogisticRegression(random_state=3), X, y, steps=40)
    b = lr_find(LogisticRegression(random_state=3), X, y, steps=40)
    np.testing.assert_array_equal(a.losses, b.losses)
    assert a.suggestion == b.suggestion
    c = lr_find(LogisticRegression(random_state=4), X, y, steps=40)
    assert not np.array_equal(a.losses, c.losses)


def test_the_estimator_is_left_untouched(cancer):
    X, y = cancer
    rng = np.random.RandomState(0)
    state = rng.get_state()[1].copy()
    est = LogisticRegression(random_state=rng, learning_rate=0.5)
    params = est.get_params()
    lr_find(est, X, y, steps=20)
    assert est.get_params() == params
    assert not any(hasattr(est, a) for a in ("coef_", "history_", "classes_", "_training", "n_iter_"))
    np.testing.assert_array_equal(rng.get_state()[1], state)


def test_multiclass_and_full_batch():
    X, y = load_iris(return_X_y=True)
    X = np.ascontiguousarray(StandardScaler().fit_transform(X))
    found = lr_find(LogisticRegression(random_state=0), X, y)
    assert np.all(np.isfinite(found.losses))
    assert found.losses[0] == pytest.approx(math.log(3), rel=0.05)  # starts from the uniform class prior
    assert found.learning_rates[0] <= found.suggestion <= found.learning_rates[-1]
    assert LogisticRegression(learning_rate=found.suggestion, random_state=0).fit(X, y).score(X, y) > 0.9
    full = lr_find(LogisticRegression(batch_size=None, random_state=0), X, y, lr_min=1e-4, lr_max=1.0, steps=30)
    assert full.losses[-1] < full.losses[0]


def test_sample_weight_is_used(cancer):
    X, y = cancer
    w = np.ones(X.shape[0])
    np.testing.assert_array_equal(lr_find(LogisticRegression(random_state=0), X, y, steps=10, sample_weight=w).losses,
                                  lr_find(LogisticRegression(random_state=0), X, y, steps=10).losses)
    w[: X.shape[0] // 2] = 3.0
    weighted = lr_find(LogisticRegression(random_state=0), X, y, steps=10, sample_weight=w)
    assert not np.array_equal(weighted.losses, lr_find(LogisticRegression(random_state=0), X, y, steps=10).losses)
    with pytest.raises(ValueError, match="non-zero"):
        lr_find(LogisticRegression(), X, y, sample_weight=np.zeros(X.shape[0]))
    sparse = np.zeros(X.shape[0])
    sparse[::10] = 1.0  # most batches of 4 weigh 0: they record no loss
    found = lr_find(LogisticRegression(batch_size=4, random_state=0), X, y, steps=30, sample_weight=sparse)
    assert len(found.losses) == 30 and np.all(np.isfinite(found.losses))
    # class_weight: a weight per row of the class, times sample_weight
    by_class = lr_find(LogisticRegression(random_state=0, class_weight={1: 3.0}), X, y, steps=10, sample_weight=w)
    np.testing.assert_array_equal(
        by_class.losses,
        lr_find(LogisticRegression(random_state=0), X, y, steps=10, sample_weight=w * np.where(y == 1, 3.0, 1.0)).losses)


@pytest.mark.parametrize("kwargs, match", [
    (dict(lr_min=0.0), "lr_min"),
    (dict(lr_min=-1e-3), "lr_min"),
    (dict(lr_max=np.inf), "lr_max"),
    (dict(lr_max=float("nan")), "lr_max"),
    (dict(lr_min=1.0, lr_max=0.1), "lr_min must be smaller than lr_max"),
    (dict(steps=1), "steps"),
    (dict(steps=10.0), "steps"),
    (dict(smoothing=1.0), "smoothing"),
    (dict(stop_factor=1.0), "stop_factor"),
])
def test_bad_arguments_raise(cancer, kwargs, match):
    X, y = cancer
    with pytest.raises(ValueError, match=match):
        lr_find(LogisticRegression(), X, y, **kwargs)


def test_bad_estimators_raise(cancer):
    X, y = cancer
    with pytest.raises(TypeError, match="descend.LinearRegression or descend.LogisticRegression"):
        lr_find(SkLogistic(), X, y)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        lr_find(LogisticRegression(optimizer="lbfgs"), X, y)


def test_plot_writes_a_png(cancer, tmp_path):
    pytest.importorskip("matplotlib")
    X, y = cancer
    found = lr_find(LogisticRegression(random_state=0), X, y, steps=30)
    fig = found.plot(file=tmp_path / "lr_find.png")
    assert fig.axes[0].get_xscale() == "log"
    data = (tmp_path / "lr_find.png").read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 1000


def test_a_sweep_whose_loss_never_moves_says_so():
    X = np.random.default_rng(0).standard_normal((64, 3))
    y = np.full(64, 2.5)  # a constant target: the loss is 0 from the start
    with pytest.warns(UserWarning, match="the loss stayed at 0 through the sweep"):
        lr_find(LinearRegression(random_state=0), X, y, steps=20)


def test_batches_follow_the_estimators_shuffle_of_runs():
    from descend._lr_find import _batches

    rows = np.arange(100, 200, dtype=np.int64)
    stream = _batches(rows, 25, True, np.random.default_rng(0), run=10)
    epoch = np.concatenate([next(stream) for _ in range(4)])
    np.testing.assert_array_equal(np.sort(epoch), rows)
    pieces = np.split(epoch, np.flatnonzero(np.diff((epoch - 100) // 10)) + 1)
    assert len(pieces) == 10 and all(np.array_equal(p, np.arange(p[0], p[0] + 10)) for p in pieces)
    assert not np.array_equal(epoch, rows)


def test_the_estimators_schedule_is_ignored(cancer):
    # the sweep is the schedule: a cosine floor above the estimator's rate, which fit refuses,
    # and a warm-up longer than max_iter change nothing
    X, y = cancer
    base = lr_find(LogisticRegression(random_state=0), X, y, steps=40)
    other = lr_find(LogisticRegression(random_state=0, learning_rate=1e-4, schedule=descend.schedules.Cosine(min_lr=0.5),
                                       warmup=50, max_iter=3), X, y, steps=40)
    np.testing.assert_array_equal(other.losses, base.losses)
