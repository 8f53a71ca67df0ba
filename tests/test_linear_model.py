"""LinearRegression and LogisticRegression: scikit-learn's checks, real data, the engine's behaviour."""

import contextlib
import io
import os
import pickle
import signal
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, make_classification
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.linear_model import LogisticRegression as SkLogistic
from sklearn.linear_model import Lasso, Ridge
from sklearn.metrics import balanced_accuracy_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.estimator_checks import parametrize_with_checks

import descend
from descend import LinearRegression, LogisticRegression, _core, losses, reference, schedules

# Checks that cannot pass, with the reason (as scikit-learn's own SGD estimators list them).
# (LogisticRegression passes the sample-weight check: its few epochs on separable data end in
# the same model either way.)
_BATCHES = ("mini-batch SGD: repeating a row changes the batches and the number of steps, so a weight of 2 is "
            "equivalent to a repeated row in expectation only")
_HELD_OUT = "early stopping holds out other rows when a row is repeated than when it weighs 2"
EXPECTED_FAILED = {
    ("LinearRegression", False): {"check_sample_weight_equivalence_on_dense_data": _BATCHES},
    ("LogisticRegression", False): {},
    ("LinearRegression", True): {"check_sample_weight_equivalence_on_dense_data": _HELD_OUT},
    ("LogisticRegression", True): {"check_sample_weight_equivalence_on_dense_data": _HELD_OUT},
}


@parametrize_with_checks([LinearRegression(), LogisticRegression(), LinearRegression(early_stopping=True),
                          LogisticRegression(early_stopping=True)],
                         expected_failed_checks=lambda est: EXPECTED_FAILED[type(est).__name__, est.early_stopping])
def test_scikit_learn_estimator_checks(estimator, check):
    with warnings.catch_warnings():
        if estimator.early_stopping:  # the checks' small random sets train on past max_iter, and say so
            warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def standardized(loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return (np.ascontiguousarray(scaler.transform(X_train)), np.ascontiguousarray(scaler.transform(X_test)),
            y_train, y_test)


def test_default_logistic_fit_reaches_the_optimum_on_breast_cancer():
    X, X_test, y, y_test = standardized(load_breast_cancer)
    model = LogisticRegression(random_state=0).fit(X, y)
    n = X.shape[0]
    alpha = 1.0 / n  # alpha="auto" is scikit-learn's C=1
    exact = SkLogistic(C=1.0, tol=1e-12, max_iter=100_000).fit(X, y)

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=alpha)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert ours >= best * (1 - 1e-9)
    assert ours <= best * (1 + 1e-3)
    assert abs(model.score(X_test, y_test) - exact.score(X_test, y_test)) <= 0.01


def test_default_linear_fit_reaches_the_optimum_on_diabetes():
    X, X_test, y, y_test = standardized(load_diabetes)
    model = LinearRegression(random_state=0).fit(X, y)
    n = X.shape[0]
    exact = Ridge(alpha=1.0).fit(X, y)  # alpha="auto" = 1/n: Ridge's alpha of n * (1/n) = 1

    def objective(coef, intercept):
        return losses.squared_error(X, y, coef, intercept, alpha=1.0 / n)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)
    assert abs(model.score(X_test, y_test) - exact.score(X_test, y_test)) <= 0.01


def test_multinomial_logistic_regression():
    rng = np.random.default_rng(0)
    centers = rng.standard_normal((4, 5)) * 3
    labels = rng.integers(0, 4, 2000)
    X = centers[labels] + rng.standard_normal((2000, 5))
    names = np.array(["ant", "bee", "cat", "dog"])[labels]
    model = LogisticRegression(random_state=0).fit(X, names)
    assert list(model.classes_) == ["ant", "bee", "cat", "dog"]
    assert model.coef_.shape == (4, 5) and model.intercept_.shape == (4,)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.log(proba), model.predict_log_proba(X), atol=1e-9)
    assert model.score(X, names) > 0.9
    exact = SkLogistic(C=1.0, tol=1e-12, max_iter=10_000).fit(X, labels)
    np.testing.assert_allclose(model.predict_proba(X), exact.predict_proba(X), atol=0.02)


def test_history_records_every_epoch():
    X, _, y, _ = standardized(load_breast_cancer)
    model = LogisticRegression(max_iter=7, random_state=0).fit(X, y)
    assert model.n_iter_ == 7
    assert set(model.history_) == {"loss", "val_loss", "learning_rate", "grad_norm", "time"}
    for values in model.history_.values():
        assert len(values) == 7
    assert model.history_["loss"][-1] < model.history_["loss"][0]
    lr = model.history_["learning_rate"]
    assert lr == sorted(lr, reverse=True) and lr[0] < 0.03  # cosine annealing from learning_rate
    assert all(v is None for v in model.history_["val_loss"])
    assert all(t > 0 for t in model.history_["time"])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"])
def test_every_optimizer_learns(optimizer):
    X, X_test, y, y_test = standardized(load_breast_cancer)
    lr = {"sgd": 0.1, "momentum": 0.05, "nesterov": 0.05, "rmsprop": 0.003}.get(optimizer, 0.03)
    model = LogisticRegression(optimizer=optimizer, learning_rate=lr, max_iter=30, random_state=0).fit(X, y)
    assert model.score(X_test, y_test) > 0.93


@pytest.mark.parametrize("schedule", ["constant", "step", "exponential", "cosine", "invscaling", "plateau",
                                      descend.schedules.Step(step_size=2, gamma=0.5),
                                      descend.schedules.Cosine(min_lr=1e-3)])
def test_every_schedule_learns(schedule):
    X, X_test, y, y_test = standardized(load_diabetes)
    model = LinearRegression(schedule=schedule, warmup=1.0, max_iter=40, random_state=0).fit(X, y)
    assert model.score(X_test, y_test) > 0.3
    lr = model.history_["learning_rate"]
    assert lr[0] <= 0.03 + 1e-12


def test_step_schedule_halves_the_rate_every_two_epochs():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(schedule=descend.schedules.Step(step_size=2, gamma=0.5), batch_size=None,
                             max_iter=6, learning_rate=0.01).fit(X, y)
    np.testing.assert_allclose(model.history_["learning_rate"], [0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])


def test_early_stopping_restores_the_best_weights():
    X, _, y, _ = standardized(load_diabetes)
    seen = []
    model = LinearRegression(early_stopping=True, n_iter_no_change=3, schedule="constant", learning_rate=0.3,
                             max_iter=300, random_state=0,
                             callback=lambda est, rec: seen.append(est.coef_.copy()) and False)
    model.fit(X, y)
    val = model.history_["val_loss"]
    assert model.n_iter_ < 300 and all(v is not None for v in val)
    best = int(np.argmin(val))
    assert model.n_iter_ == best + 1 + 3  # stopped n_iter_no_change epochs after the best
    np.testing.assert_allclose(model.coef_, seen[best], rtol=1e-12)
    assert model.best_epoch_ == best + 1  # said, as Keras' restore_best_weights says it
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.set_params(callback=None, verbose=1).fit(X, y)
    assert f"early stopping: the weights of epoch {best + 1} (val_loss" in out.getvalue()
    assert model.best_epoch_ == best + 1
    model.partial_fit(X, y)  # the model moved on
    assert model.best_epoch_ is None
    assert LinearRegression(max_iter=2).fit(X, y).best_epoch_ is None


def test_tol_stops_when_the_training_loss_stalls():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(tol=1e-3, schedule="constant", max_iter=500, random_state=0).fit(X, y)
    assert model.n_iter_ < 500


def test_partial_fit_keeps_the_optimizer_state():
    X, _, y, _ = standardized(load_breast_cancer)
    model = LogisticRegression(batch_size=50, random_state=0)
    model.partial_fit(X, y, classes=[0, 1])
    steps = model.t_
    assert steps == -(-X.shape[0] // 50) and model.n_iter_ == 1
    model.partial_fit(X, y)
    assert model.t_ == 2 * steps and model.n_iter_ == 2 and len(model.history_["loss"]) == 2
    with pytest.raises(ValueError, match="classes must be given"):
        LogisticRegression().partial_fit(X, y)


@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression])
def test_later_partial_fit_calls_with_plain_arrays_check_as_validate_data_does(cls):
    # later calls with C-ordered float arrays skip scikit-learn's validate_data: the model and
    # every error and warning must be what the full checks give
    X, _, y, _ = standardized(load_breast_cancer)
    y = y.astype(np.float64)
    first = dict(classes=[0.0, 1.0]) if cls is LogisticRegression else {}
    plain, checked = cls(batch_size=64, random_state=0), cls(batch_size=64, random_state=0)
    plain.partial_fit(X, y, **first)
    checked.partial_fit(X, y, **first)
    for _ in range(3):
        plain.partial_fit(X, y)
        checked.partial_fit(X.tolist(), list(y))  # lists: the full checks
    np.testing.assert_array_equal(plain.coef_, checked.coef_)
    np.testing.assert_array_equal(plain.intercept_, checked.intercept_)
    with pytest.raises(ValueError, match="X has 29 features, but .* is expecting 30 features"):
        plain.partial_fit(np.ascontiguousarray(X[:, 1:]), y)
    bad = y.copy()
    bad[3] = np.nan
    with pytest.raises(ValueError, match="Input y contains NaN"):
        plain.partial_fit(X, bad)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        plain.partial_fit(X, y[:-1])
    with pytest.warns(UserWarning, match="A column-vector y was passed when a 1d array was expected"):
        plain.partial_fit(X, y[:, None])
    n_iter = plain.n_iter_
    plain.partial_fit(np.asfortranarray(X), y)  # converted once, as before
    assert plain.n_iter_ == n_iter + 1
    pd = pytest.importorskip("pandas")
    named = cls(batch_size=64, random_state=0).partial_fit(pd.DataFrame(X, columns=[f"f{j}" for j in range(30)]), y,
                                                           **first)
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        named.partial_fit(X, y)


@pytest.mark.parametrize("schedule", ["cosine", "constant", "plateau"])
def test_warm_start_fit_is_a_new_fit_from_the_current_model(schedule):
    # as scikit-learn's SGD estimators: the coefficients carry over; the optimizer's state, the
    # schedule (a cosine that ended at 0 starts again), n_iter_ and history_ start anew
    X, _, y, _ = standardized(load_diabetes)
    cold = LinearRegression(max_iter=3, random_state=0, schedule=schedule).fit(X, y)
    warm = LinearRegression(max_iter=3, random_state=0, schedule=schedule, warm_start=True).fit(X, y)
    np.testing.assert_array_equal(warm.coef_, cold.coef_)
    warm.fit(X, y)
    assert warm.n_iter_ == 3 and warm.t_ == cold.t_ and len(warm.history_["loss"]) == 3
    assert warm.history_["learning_rate"] == cold.history_["learning_rate"]
    assert warm.history_["loss"][0] < cold.history_["loss"][0]  # it went on from the trained model
    # a new target: the refit follows it (a cosine schedule kept from the first fit would be at 0)
    X = np.random.default_rng(0).standard_normal((500, 4))
    w = np.array([1.0, 2.0, 3.0, 4.0])
    moved = LinearRegression(max_iter=20, random_state=0, schedule=schedule, penalty=None, warm_start=True)
    moved.fit(X, X @ -w)
    moved.fit(X, X @ w + 5.0)
    np.testing.assert_allclose(moved.coef_, w, atol=0.05)
    # no model to start from that fits the data: a clear error, the estimator unchanged
    with pytest.raises(ValueError, match=r"warm_start=True: .*needs 3 coefficients \(X has 3 features\)"):
        moved.fit(X[:, 1:], X[:, 1:] @ w[1:])
    np.testing.assert_allclose(moved.coef_, w, atol=0.05)


def test_warm_start_classifier_keeps_its_coefficients_and_checks_the_classes():
    X, _, y, _ = standardized(load_breast_cancer)
    model = LogisticRegression(max_iter=5, random_state=0, warm_start=True).fit(X, y)
    coef = model.coef_.copy()
    model.set_params(max_iter=1, learning_rate=1e-12).fit(X, y)  # a step too small to change anything
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-9)
    with pytest.raises(ValueError, match=r"warm_start=True: .*y 3 classes"):
        model.fit(X, np.arange(len(y)) % 3)


@pytest.mark.parametrize("kind", ["linear", "binary", "multinomial"])
def test_partial_fit_with_X_in_the_other_float_type_carries_the_model_over(kind):
    X, _, y, _ = standardized(load_breast_cancer)
    if kind == "multinomial":
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = (LinearRegression if kind == "linear" else LogisticRegression)(random_state=0, schedule="constant")
    extra = {} if kind == "linear" else dict(classes=np.unique(y))
    for _ in range(20):
        model.partial_fit(X, y, **extra)
        extra = {}
    before, n_iter = model.score(X, y), model.n_iter_
    model.partial_fit(X[:32].astype(np.float32), y[:32])
    assert model.n_iter_ == n_iter + 1 and model.coef_.dtype == np.float32
    assert model.score(X, y) > before - 0.02  # one more small epoch, not a model started anew
    model.partial_fit(X, y)  # and back
    assert model.coef_.dtype == np.float64 and model.score(X, y) > before - 0.02


def test_same_seed_same_model_whatever_the_thread_count():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((5000, 20))
    y = X @ rng.standard_normal(20) + 0.1 * rng.standard_normal(5000)
    models = [LinearRegression(max_iter=3, batch_size=512, random_state=42, n_threads=t).fit(X, y)
              for t in (1, 2, 3)]
    for other in models[1:]:
        assert np.array_equal(other.coef_, models[0].coef_)
        assert other.intercept_ == models[0].intercept_
        assert other.history_["loss"] == models[0].history_["loss"]
    different = LinearRegression(max_iter=3, batch_size=512, random_state=43).fit(X, y)
    assert not np.array_equal(different.coef_, models[0].coef_)


def test_divergence_is_explained_and_the_model_stays_finite():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(optimizer="sgd", learning_rate=50.0, schedule="constant", random_state=0)
    with pytest.raises(descend.DivergenceError) as info:
        model.fit(X, y)
    err = info.value
    message = str(err)
    assert "diverged at epoch" in message and "learning rate 50" in message
    # a concrete rate from the curvature (a tenth of 50 diverges too), and lr_find
    assert f"learning_rate={err.suggested_learning_rate:.2g} (1 / the curvature" in message
    assert "descend.lr_find(model, X, y)" in message
    assert err.suggested_learning_rate < 5.0 and err.step >= 1
    assert np.all(np.isfinite(model.coef_)) and np.isfinite(model.intercept_)
    assert np.all(np.isfinite(model.predict(X)))
    fitted = LinearRegression(optimizer="sgd", learning_rate=err.suggested_learning_rate, schedule="constant",
                              random_state=0).fit(X, y)
    assert fitted.score(X, y) > 0.45


def test_the_suggested_learning_rate_heeds_a_heavy_row():
    # a batch divides its weighted loss sum by its rows times the mean weight: a row of weight
    # 1e4 adds its own curvature to its batch's, and the rate from the mean curvature diverged
    X, _, y, _ = standardized(load_diabetes)
    w = np.ones(len(y))
    w[7] = 1e4
    params = dict(optimizer="sgd", schedule="constant", max_iter=20, alpha=1e-3, random_state=0)
    with pytest.raises(descend.DivergenceError) as info:
        LinearRegression(learning_rate=1.0, **params).fit(X, y, sample_weight=w)
    LinearRegression(learning_rate=info.value.suggested_learning_rate, **params).fit(X, y, sample_weight=w)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "rmsprop"])
@pytest.mark.parametrize("data", ["diabetes", "breast_cancer", "digits"])
@pytest.mark.parametrize("rate", [1e3, 1e6])
def test_the_suggested_learning_rate_trains(optimizer, data, rate):
    # a tenth of the rate that diverged diverged again in 22 of 24 such cases; the suggestion
    # comes from the data (the curvature for SGD, the rows' |x|_1 for Adam and RMSprop)
    from sklearn.datasets import load_digits

    cls, loader = {"diabetes": (LinearRegression, load_diabetes), "breast_cancer": (LogisticRegression,
                   load_breast_cancer), "digits": (LogisticRegression, load_digits)}[data]
    X, y = loader(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    params = dict(optimizer=optimizer, max_iter=30, schedule="constant", random_state=0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            cls(learning_rate=rate, **params).fit(X, y)
        return  # large but bounded steps: no divergence to explain (a ConvergenceWarning said so)
    except descend.DivergenceError as err:
        suggested = err.suggested_learning_rate
    assert 0 < suggested <= rate / 10
    model = cls(learning_rate=suggested, **params).fit(X, y)  # no DivergenceError, no warning
    assert model.score(X, y) > {"diabetes": 0.3, "breast_cancer": 0.95, "digits": 0.95}[data]


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression])
def test_a_blow_up_in_the_first_epoch_is_divergence(optimizer, cls):
    # Adam's and RMSprop's steps are bounded by the rate: a huge rate makes the loss huge but
    # finite; the first epoch is held to a limit too (a loss 1e8 times the starting model's)
    X, _, y, _ = standardized(load_breast_cancer)
    model = cls(optimizer=optimizer, learning_rate=1e8, max_iter=20, random_state=0)
    with pytest.raises(descend.DivergenceError, match="diverged at epoch 1,") as info:
        model.fit(X, y)
    assert info.value.epoch == 1
    assert np.all(np.isfinite(model.coef_))


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "rmsprop"])
@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression])
def test_a_gradient_whose_squares_overflow_is_divergence(optimizer, cls):
    # features of 1e160 make gradients whose squares overflow Adam's and RMSprop's average of
    # them: every step after was m / sqrt(inf) = 0, and the fit returned zeros in silence
    X, _, y, _ = standardized(load_breast_cancer)
    huge = X * 1e160
    model = cls(optimizer=optimizer, max_iter=3, random_state=0)
    with pytest.raises(descend.DivergenceError, match="squares overflow .* Standardize X, or set clip_norm") as info:
        model.fit(huge, y)
    assert info.value.suggested_learning_rate is None and info.value.epoch == 1
    assert np.all(model.coef_ == 0)  # the model the epoch started from
    with pytest.raises(descend.DivergenceError, match="squares overflow"):
        reference.fit(cls(optimizer=optimizer, max_iter=3, random_state=0), huge, y)
    # with clipping the squares stay finite, and the rate is what is too large for such rows: the
    # suggestion scales with 1 / |x|_1
    with pytest.raises(descend.DivergenceError, match="Try a smaller learning rate") as info:
        cls(optimizer=optimizer, max_iter=3, clip_norm=1.0, random_state=0).fit(huge, y)
    assert info.value.suggested_learning_rate < 1e-160


def test_an_error_before_the_first_epoch_leaves_the_estimator_as_it_was():
    # n_threads beyond a C int reached the engine as a raw TypeError and left classes_ and
    # n_features_in_ of the new data beside the old coef_; it is now taken as "all CPUs"
    X, _, y, _ = standardized(load_breast_cancer)
    model = LogisticRegression(max_iter=2, random_state=0).fit(X, y)
    refit = LogisticRegression(max_iter=2, random_state=0, n_threads=2**31).fit(X, y)
    np.testing.assert_array_equal(refit.coef_, model.coef_)
    before = pickle.dumps(model)

    def boom(*args, **kwargs):
        raise RuntimeError("engine unavailable")

    model._engine = boom
    with pytest.raises(RuntimeError, match="engine unavailable"):
        model.fit(X[:, :5], np.where(y > 0, "a", "b"))
    del model._engine
    assert pickle.dumps(model) == before


def test_multiclass_predictions_hold_one_n_by_k_array():
    # decision_function added the intercept into a second n x K array, predict_log_proba took
    # exp into another: the peak was twice the scores'
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 5))
    y = rng.integers(0, 100, 2000)
    model = LogisticRegression(max_iter=1, random_state=0).fit(X, y)
    X_big = rng.standard_normal((20000, 5))
    scores_bytes = 20000 * 100 * 8
    for method in ("decision_function", "predict_proba", "predict_log_proba", "predict"):
        tracemalloc.start()
        getattr(model, method)(X_big)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 1.2 * scores_bytes, method


def test_a_first_partial_fit_of_zero_loss_sets_no_divergence_trap():
    # the limit is set by each call's starting loss (at least 1), not by the first call's loss
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(random_state=0)
    model.partial_fit(X[:1], y[:1])  # one row: its loss is 0 after standardizing y
    model.partial_fit(X, y)
    assert np.isfinite(model.history_["loss"][-1])


def test_partial_fit_leaves_early_stopping_to_fit():
    # as scikit-learn's: a stream's calls see different data, whose losses do not compare
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2000, 4))
    y1, y2 = X @ [1.0, 2.0, 3.0, 4.0], X @ [-4.0, 1.0, 0.0, 2.0] + rng.standard_normal(2000)
    model = LinearRegression(early_stopping=True, schedule="constant", random_state=0)
    for _ in range(10):
        model.partial_fit(X, y1)
    for _ in range(30):
        model.partial_fit(X, y2)
    assert model.score(X, y2) > 0.9 and model.history_["val_loss"][-1] is None


@pytest.mark.parametrize("first", ["one row", "a constant", "two close rows"])
def test_a_stream_whose_first_chunk_shows_no_spread_of_y_still_learns(first):
    # y's unit comes from the first call; a first chunk of one row (no spread: unit 1), of a
    # constant y, or of two rows 1e-3 apart (unit 5e-4) left the default rate crawling (R^2 -0.04
    # after 4,000 rows) or diverging. Later calls that spread y wider move the training to a
    # larger unit, the model unchanged.
    rng = np.random.default_rng(0)
    w = rng.standard_normal(5) * 300
    X = rng.standard_normal((4000, 5))
    y = X @ w + 1000 + 10 * rng.standard_normal(4000)
    X_test = rng.standard_normal((500, 5))
    start = {"one row": (X[:1], y[:1]), "a constant": (X[:50], np.full(50, 7.0)),
             "two close rows": (X[:2], np.array([y[0], y[0] + 1e-3]))}[first]
    model = LinearRegression(alpha=1e-4, schedule="constant", random_state=0).partial_fit(*start)
    assert model._y_scale < 2.0
    chunks = np.array_split(np.arange(50, 4000), 40)
    # a call that would move the unit but diverges changes nothing, the unit and its counts too
    kept = pickle.dumps(model)
    with pytest.raises(descend.DivergenceError):
        model.set_params(learning_rate=1e6).partial_fit(X[chunks[0]], y[chunks[0]])
    assert pickle.dumps(model.set_params(learning_rate=0.03)) == kept
    before = model.predict(X_test)
    # the first call that spreads y: re-expressed, the model predicts as it did (a negligible rate)
    model.set_params(learning_rate=1e-300).partial_fit(X[chunks[0]], y[chunks[0]])
    assert model._y_scale > 100
    np.testing.assert_allclose(model.predict(X_test), before, rtol=1e-12, atol=1e-9)
    model.set_params(learning_rate=0.03)
    for rows in chunks[1:]:
        model.partial_fit(X[rows], y[rows])
    assert model.score(X_test, X_test @ w + 1000) > 0.999


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_moving_a_stream_to_a_larger_unit_changes_nothing_sgd_sees(optimizer, monkeypatch):
    # SGD's steps scale with the gradient: in any unit of y it takes the same steps (L2 penalty),
    # so a stream moved to a larger unit, its coefficients and momentum re-expressed, trains the
    # same models as one left in its first unit
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 3))
    y = X @ [3.0, -2.0, 1.0] + rng.standard_normal(600)
    params = dict(optimizer=optimizer, learning_rate=1e-3, schedule="constant", batch_size=16, shuffle=False,
                  alpha=1e-3)

    def stream():
        model = LinearRegression(**params).partial_fit(X[:2], y[0] + np.array([0.0, 1e-3]))  # unit 5e-4
        for rows in (slice(2, 300), slice(300, 450), slice(450, 600)):
            model.partial_fit(X[rows], y[rows])
        return model

    moved = stream()
    assert moved._y_scale > 1.0
    monkeypatch.setattr(LinearRegression, "_follow_y_scale", lambda self, y, first: None)
    kept = stream()
    assert kept._y_scale < 1e-3
    np.testing.assert_allclose(moved.coef_, kept.coef_, rtol=1e-9)
    assert moved.intercept_ == pytest.approx(kept.intercept_, rel=1e-9)


def test_a_logistic_stream_starts_its_intercept_at_zero():
    # the first chunk's classes need not be the stream's: one class alone started the intercept
    # at logit(1 - 1e-6) = 13.8, which Adam took hundreds of chunks to undo
    X, _, y, _ = standardized(load_breast_cancer)
    order = np.argsort(y, kind="stable")  # a stream sorted by label: its first chunk is one class
    model = LogisticRegression(schedule="constant", random_state=0)
    model.partial_fit(X[order[:50]], y[order[:50]], classes=[0, 1])
    assert abs(model.intercept_[0]) < 1.0
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = rng.choice(len(y), 50, replace=False)
        model.partial_fit(X[rows], y[rows])
    assert model.score(X, y) > 0.95
    fitted = LogisticRegression(max_iter=1, random_state=0).fit(X, y)  # fit: from the class prior
    assert fitted.intercept_[0] > 0.3
    again = LogisticRegression().partial_fit(X[:5], y[:5], classes=[0, 1, 1])
    again.partial_fit(X[5:10], y[5:10], classes=[1, 0, 0])  # the same classes, repeated as the first call's


def test_each_partial_fit_call_is_one_epoch_of_the_schedule_whatever_its_size():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(schedule=descend.schedules.Step(step_size=1, gamma=0.5), learning_rate=0.01,
                             batch_size=8, random_state=0)
    for rows in (200, 16, 331, 9, 64):  # 25, 2, 42, 2 and 8 batches
        model.partial_fit(X[:rows], y[:rows])
    np.testing.assert_allclose(model.history_["learning_rate"], 0.01 * 0.5 ** np.arange(5))
    # the same with fit's epochs: every epoch's last rate, reference and C++ alike
    fitted = LinearRegression(schedule="cosine", max_iter=4, batch_size=100, random_state=0).fit(X, y)
    replayed = reference.fit(fitted, X, y)
    np.testing.assert_allclose(fitted.history_["learning_rate"], replayed.history_["learning_rate"], rtol=1e-12)


def test_invscaling_only_falls_across_partial_fit_calls_of_any_size():
    # invscaling counts the steps taken (scikit-learn's counts the rows seen): placed at
    # epoch x steps_per_epoch, a call of 10 rows after one of 1,000 took the rate 2x back up
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(schedule="invscaling", learning_rate=0.1, batch_size=8, random_state=0)
    steps = 0
    for rows in (320, 10, 300, 10, len(y)):
        model.partial_fit(X[:rows], y[:rows])
        steps += -(-rows // 8)
        assert model.history_["learning_rate"][-1] == pytest.approx(0.1 / steps ** 0.25, rel=1e-12)
    assert np.all(np.diff(model.history_["learning_rate"]) < 0)


def test_partial_fit_past_the_end_of_a_cosine_says_the_rate_is_zero():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(max_iter=3, random_state=0)
    for _ in range(3):
        model.partial_fit(X, y)
    with pytest.warns(UserWarning, match="annealed the learning rate to 0 over max_iter=3"):
        model.partial_fit(X, y)
    model.partial_fit(X, y)  # said once
    assert model.history_["learning_rate"][-1] == 0.0


def test_plateau_stops_once_its_rate_is_at_the_floor():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(schedule="plateau", max_iter=2000, random_state=0).fit(X, y)
    floor = descend.schedules.Plateau().min_ratio
    assert model.n_iter_ < 2000
    assert model.history_["learning_rate"][-1] < model.learning_rate * floor / descend.schedules.Plateau().factor


@pytest.mark.parametrize("name, value", [("fit_intercept", "no"), ("early_stopping", 1), ("warm_start", None),
                                         ("verbose", "x"), ("verbose", -1)])
def test_flags_are_checked(name, value):
    X, _, y, _ = standardized(load_diabetes)
    with pytest.raises(ValueError, match=f"^{name} must be"):
        LinearRegression(**{name: value}).fit(X, y)


def test_partial_fit_classes_must_not_change_and_must_hold_the_labels():
    X, _, y, _ = standardized(load_breast_cancer)
    with pytest.raises(ValueError, match=r"y holds labels not in classes: \[1\]"):
        LogisticRegression().partial_fit(X, y, classes=[0, 2])
    model = LogisticRegression().partial_fit(X, y, classes=[0, 1])
    model.partial_fit(X, y, classes=[1, 0])  # the same labels
    with pytest.raises(ValueError, match="is not the same as on the first call"):
        model.partial_fit(X, y, classes=[0, 1, 2])


@pytest.mark.parametrize("multinomial", [False, True])
def test_probabilities_are_in_the_models_float_type(multinomial):
    X, _, y, _ = standardized(load_breast_cancer)
    if multinomial:
        y = np.digitize(X[:, 0], [-0.5, 0.5])
    model = LogisticRegression(max_iter=2, random_state=0).fit(X.astype(np.float32), y)
    assert model.predict_proba(X.astype(np.float32)).dtype == np.float32


def test_targets_of_any_finite_size():
    X, _, y, _ = standardized(load_diabetes)
    base = LinearRegression(max_iter=20, random_state=0).fit(X, y)
    large = LinearRegression(max_iter=20, random_state=0).fit(X, y * 1e152)  # np.std(y) alone overflows
    np.testing.assert_allclose(large.coef_ / 1e152, base.coef_, rtol=1e-6)
    with pytest.raises(ValueError, match="too large: the squared error overflows float64"):
        LinearRegression().fit(X, y * 1e200)
    with pytest.raises(ValueError, match="too large for a float32 model"):
        LinearRegression().fit(X.astype(np.float32), y * 1e40)


@pytest.mark.parametrize("dtype, scale", [(np.float64, 1e-320), (np.float64, 1e300), (np.float32, 1e-40),
                                          (np.float32, 1e36)])
def test_sample_weights_of_any_finite_scale_weigh_alike(dtype, scale):
    # the loss is a weighted mean: weights scaled alike give the same model at a given alpha (sums
    # of tiny or huge weights would underflow or overflow; they are brought near 1 first)
    X, _, y, _ = standardized(load_diabetes)
    X = X.astype(dtype)
    w = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(dtype)
    base = LinearRegression(alpha=1e-3, max_iter=5, random_state=0).fit(X, y, sample_weight=w)
    with np.errstate(under="ignore"):
        scaled = w * dtype(scale)
    model = LinearRegression(alpha=1e-3, max_iter=5, random_state=0).fit(X, y, sample_weight=scaled)
    np.testing.assert_allclose(model.coef_, base.coef_, rtol=1e-4 if dtype == np.float32 else 1e-9)


@pytest.mark.parametrize("scale", [1e-50, 1e40, 1e300])
def test_float64_weights_beyond_float32_weigh_alike_in_a_float32_model(scale):
    # the weights are checked and brought near 1 in float64, then cast: float32 X with float64
    # weights of 1e-50 was refused ("at least one non-zero"), of 1e40 as too large for float32
    X, _, y, _ = standardized(load_diabetes)
    X = X.astype(np.float32)
    w = np.random.default_rng(0).integers(1, 4, size=len(y)).astype(np.float64)
    base = LinearRegression(alpha=1e-3, max_iter=5, random_state=0).fit(X, y, sample_weight=w)
    model = LinearRegression(alpha=1e-3, max_iter=5, random_state=0).fit(X, y, sample_weight=w * scale)
    np.testing.assert_allclose(model.coef_, base.coef_, rtol=1e-4)


@pytest.mark.parametrize("cls", [LinearRegression, LogisticRegression])
def test_auto_alpha_with_weights_is_scikit_learns_C_1(cls):
    # scikit-learn's C=1 (Ridge(alpha=1)) puts 1 / the weights' sum before the penalty of the
    # mean loss: integer weights are rows repeated, whole-batch gradient descent reaches the same
    # model either way, and the weighted optimum is scikit-learn's
    X, _, y, _ = standardized(load_breast_cancer if cls is LogisticRegression else load_diabetes)
    X, y = X[:120, :4], y[:120]
    w = np.random.default_rng(1).integers(0, 4, size=len(y))
    params = dict(optimizer="sgd", learning_rate=0.5 if cls is LogisticRegression else 0.1, batch_size=None,
                  schedule="constant", max_iter=4000, tol=None, random_state=0)
    weighted = cls(**params).fit(X, y, sample_weight=w.astype(float))
    repeated = cls(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6, atol=1e-8)
    exact = (SkLogistic(C=1.0, tol=1e-12, max_iter=10_000) if cls is LogisticRegression
             else Ridge(alpha=1.0)).fit(X, y, sample_weight=w.astype(float))
    np.testing.assert_allclose(weighted.coef_, exact.coef_, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="alpha='auto'.*infinite; pass a number as alpha"):
        cls(**params).fit(X, y, sample_weight=w * 1e-320)


def test_l1_fits_set_weights_to_exactly_zero():
    # The L1 term steps by its proximal map (soft thresholding): weights the optimum has at 0
    # reach exactly 0, as scikit-learn's saga and Lasso leave them (in mini-batches, most of
    # them: a batch's noise keeps some near 0).
    X, _, y, _ = standardized(load_breast_cancer)
    alpha = 0.02
    model = LogisticRegression(penalty="l1", alpha=alpha, max_iter=1000, random_state=0).fit(X, y)
    exact = SkLogistic(l1_ratio=1.0, C=1.0 / (alpha * len(y)), solver="saga", tol=1e-10, max_iter=100_000).fit(X, y)

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=alpha, l1_ratio=1.0)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-4)
    zeros, exact_zeros = model.coef_ == 0, exact.coef_ == 0
    assert exact_zeros.sum() == 22 and zeros.sum() >= 10 and np.all(exact_zeros[zeros])  # 13 here

    X, _, y, _ = standardized(load_diabetes)
    for alpha in (0.5, 5.0):
        lasso = Lasso(alpha=alpha, tol=1e-12, max_iter=100_000).fit(X, y)  # its objective is descend's
        model = LinearRegression(penalty="l1", alpha=alpha, batch_size=None, learning_rate=0.1, max_iter=2000,
                                 random_state=0).fit(X, y)
        np.testing.assert_array_equal(model.coef_ == 0, lasso.coef_ == 0)
        assert np.any(lasso.coef_ == 0)
        np.testing.assert_allclose(model.coef_, lasso.coef_, rtol=1e-7, atol=1e-7 * np.abs(lasso.coef_).max())


@pytest.mark.parametrize("n", [65, 97, 1025])
def test_a_short_batch_does_not_bias_the_fit(n):
    # one row left over by whole batches of 32: the short batch steps by its share of a batch.
    # At its full weight (Adam's step does not shrink with the gradient), a batch of one row
    # weighed as much as 32, and these default fits settled up to 1.8e-2 above the optimum.
    X, y = make_classification(n, 20, n_informative=5, n_redundant=0, random_state=1)
    X = StandardScaler().fit_transform(X)
    model = LogisticRegression(random_state=0).fit(X, y)
    exact = SkLogistic(C=1.0, tol=1e-12, max_iter=10_000).fit(X, y)

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=1.0 / n)[0]

    best = objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= objective(model.coef_, model.intercept_) <= best * (1 + 1e-3)
    target = X[:, :5] @ np.arange(1.0, 6.0) + np.random.default_rng(0).standard_normal(n)
    model = LinearRegression(random_state=0).fit(X, target)
    ridge = Ridge(alpha=1.0).fit(X, target)  # alpha="auto" = 1/n

    def objective(coef, intercept):
        return losses.squared_error(X, target, coef, intercept, alpha=1.0 / n)[0]

    best = objective(ridge.coef_, ridge.intercept_)
    assert best * (1 - 1e-9) <= objective(model.coef_, model.intercept_) <= best * (1 + 1e-3)


def imbalanced(n=2000, seed=0):
    X, y = make_classification(n_samples=n, n_features=10, weights=[0.95, 0.05], random_state=seed)
    return np.ascontiguousarray((X - X.mean(0)) / X.std(0)), y


def test_weighted_fits_reach_the_weighted_optimum():
    # Each batch divides its weighted loss sum by its rows times the mean weight, an unbiased
    # estimate of the weighted mean's gradient; divided by the batch's own weight sum, these
    # default fits settled 1.1% (logistic) above the optimum.
    X, y = imbalanced()
    sw = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]  # 0.53 and 9.3
    model = LogisticRegression(random_state=0).fit(X, y, sample_weight=sw)
    exact = SkLogistic(C=1.0, tol=1e-12, max_iter=100_000).fit(X, y, sample_weight=sw)

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=1.0 / len(y),
                               sample_weight=sw)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)

    X, _, y, _ = standardized(load_diabetes)
    sw = np.random.default_rng(0).choice([0.5, 10.0], size=len(y), p=[0.9, 0.1])
    model = LinearRegression(random_state=0).fit(X, y, sample_weight=sw)
    exact = Ridge(alpha=float(np.mean(sw))).fit(X, y, sample_weight=sw)  # alpha="auto" = 1/n, in Ridge's units

    def objective(coef, intercept):
        return losses.squared_error(X, y, coef, intercept, alpha=1.0 / len(y), sample_weight=sw)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)


def test_balanced_class_weight_is_scikit_learns_objective_and_helps_the_rare_class():
    X, y = imbalanced()
    model = LogisticRegression(class_weight="balanced", random_state=0).fit(X, y)
    exact = SkLogistic(class_weight="balanced", C=1.0, tol=1e-12, max_iter=100_000).fit(X, y)
    sw = compute_class_weight("balanced", classes=np.unique(y), y=y)[y]

    def objective(coef, intercept):
        return losses.logistic(X, y.astype(float), coef.ravel(), float(intercept[0]), alpha=1.0 / len(y),
                               sample_weight=sw)[0]

    ours, best = objective(model.coef_, model.intercept_), objective(exact.coef_, exact.intercept_)
    assert best * (1 - 1e-9) <= ours <= best * (1 + 1e-3)
    plain = LogisticRegression(random_state=0).fit(X, y)
    assert recall_score(y, model.predict(X)) > recall_score(y, plain.predict(X))
    assert balanced_accuracy_score(y, model.predict(X)) > balanced_accuracy_score(y, plain.predict(X))


@pytest.mark.parametrize("labels", ["binary", "strings"])
def test_class_weight_is_a_weight_per_row(labels):
    X, y = imbalanced(400)
    if labels == "strings":
        y = np.array(["low", "mid", "top"])[np.digitize(X[:, 0], [-0.5, 1.0])]
    classes = np.unique(y)
    codes = np.searchsorted(classes, y)
    options = dict(max_iter=5, random_state=0)
    extra = np.random.default_rng(1).uniform(0.5, 2.0, len(y))

    balanced = compute_class_weight("balanced", classes=classes, y=y, sample_weight=extra)
    model = LogisticRegression(class_weight="balanced", **options).fit(X, y, sample_weight=extra)
    twin = LogisticRegression(**options).fit(X, y, sample_weight=balanced[codes] * extra)
    np.testing.assert_array_equal(model.coef_, twin.coef_)

    given = {classes[-1]: 4.0}  # the classes left out weigh 1
    per_class = np.where(classes == classes[-1], 4.0, 1.0)
    model = LogisticRegression(class_weight=given, **options).fit(X, y)
    twin = LogisticRegression(**options).fit(X, y, sample_weight=per_class[codes])
    np.testing.assert_array_equal(model.coef_, twin.coef_)
    assert model.get_params()["class_weight"] == given

    stream = LogisticRegression(class_weight=given, **options)
    twin = LogisticRegression(**options)
    for chunk in np.array_split(np.arange(len(y)), 3):
        stream.partial_fit(X[chunk], y[chunk], classes=classes)
        twin.partial_fit(X[chunk], y[chunk], classes=classes, sample_weight=per_class[codes[chunk]])
    np.testing.assert_array_equal(stream.coef_, twin.coef_)


@pytest.mark.filterwarnings("ignore:.*max_iter=.* epochs ran before:sklearn.exceptions.ConvergenceWarning")
def test_early_stopping_holds_out_each_class_in_proportion(monkeypatch):
    X, y = imbalanced(1000)  # 946 and 54 rows
    held_out = []
    hold_out = LogisticRegression._validation_rows
    monkeypatch.setattr(LogisticRegression, "_validation_rows",
                        lambda *args: held_out.append(hold_out(*args)) or held_out[-1])
    LogisticRegression(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    assert np.bincount(y[held_out[0]]).tolist() == [95, 5]  # a random draw: 5.4 +- 2.2 rare rows
    assert len(np.unique(held_out[0])) == 100
    LogisticRegression(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    np.testing.assert_array_equal(held_out[1], held_out[0])  # same seed, same rows
    y[900:999] = 2
    y[999] = 3  # a class of one row cannot be on both sides: it stays in training, the others are stratified
    LogisticRegression(early_stopping=True, max_iter=3, random_state=0).fit(X, y)
    assert len(np.unique(held_out[2])) == 100 and 999 not in held_out[2]
    assert abs(np.count_nonzero(y[held_out[2]] == 2) - 9.9) <= 1


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")  # two short epochs at a constant rate
def test_a_fitted_model_keeps_no_per_row_state():
    X, y = imbalanced(20_000)
    for model in (LogisticRegression(max_iter=2, early_stopping=True, schedule="constant"),
                  LinearRegression(max_iter=2, schedule="constant")):
        model.fit(X, y)
        assert len(pickle.dumps(model)) < 20_000  # the rows' order (160 KB here) is dropped after each call
        model.partial_fit(X, y)
        assert len(pickle.dumps(model)) < 20_000


@pytest.mark.parametrize("by", ["sample_weight", "class_weight"])
def test_partial_fit_weights_count_alike_across_calls(by):
    # A training's first call fixes the mean row weight the batches divide by: a later call's
    # weights three times as large take three times the step (plain SGD, one batch a call).
    # Each call's own mean would have made them count only against the rows of the same call.
    X, y = imbalanced(300)
    first, second = slice(0, 150), slice(150, 300)
    options = dict(optimizer="sgd", schedule="constant", learning_rate=0.1, batch_size=None, alpha=0.0,
                   random_state=0)
    steps = []
    for factor in (1.0, 3.0):
        if by == "sample_weight":
            model = LogisticRegression(**options)
            model.partial_fit(X[first], y[first], classes=[0, 1], sample_weight=np.ones(150))
            start = model.coef_.copy()
            model.partial_fit(X[second], y[second], sample_weight=np.full(150, factor))
        else:  # chunks of one class each, the second's class weighing factor
            ones, zeros = np.flatnonzero(y == 1)[:20], np.flatnonzero(y == 0)[:20]
            model = LogisticRegression(class_weight={0: 1.0, 1: factor}, **options)
            model.partial_fit(X[zeros], y[zeros], classes=[0, 1])
            start = model.coef_.copy()
            model.partial_fit(X[ones], y[ones])
        steps.append((model.coef_ - start, model.history_["loss"][-1]))
    np.testing.assert_allclose(steps[1][0], 3.0 * steps[0][0], rtol=1e-12)
    # the call's loss is its rows' weighted mean (one batch: taken before its step), whatever their scale
    assert steps[1][1] == pytest.approx(steps[0][1], rel=1e-12)


def test_partial_fit_rows_without_weights_weigh_one_in_the_first_calls_units():
    X, y = imbalanced(300)
    options = dict(optimizer="sgd", schedule="constant", batch_size=None, random_state=0)
    models = []
    for later in (None, np.ones(150)):
        model = LogisticRegression(**options)
        model.partial_fit(X[:150], y[:150], classes=[0, 1], sample_weight=np.full(150, 1e120))  # divided by 1e120
        model.partial_fit(X[150:], y[150:], sample_weight=later)
        models.append(model)
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)


def test_a_partial_fit_chunk_of_zero_weight_changes_nothing():
    X, y = imbalanced(300)
    zeros = np.flatnonzero(y == 0)
    model = LogisticRegression(class_weight={0: 0.0}, schedule="constant", random_state=0)
    model.partial_fit(X[zeros], y[zeros], classes=[0, 1])  # a first call: the model is set up, untrained
    assert model.n_iter_ == 0 and model.history_["loss"] == [] and np.all(model.coef_ == 0)
    assert np.all(model.intercept_ == 0)  # not even the prior of rows that weigh nothing
    bad = X[zeros].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match=r"Input X contains NaN or infinity \(row 3\)"):
        model.partial_fit(bad, y[zeros])
    model.partial_fit(X, y)
    before = (model.coef_.copy(), model.intercept_.copy(), model.n_iter_, len(model.history_["loss"]))
    model.partial_fit(X[zeros], y[zeros])  # as scikit-learn's partial_fit: nothing to learn from
    after = (model.coef_, model.intercept_, model.n_iter_, len(model.history_["loss"]))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="gives every row a weight of 0"):  # fit has nothing to train on
        LogisticRegression(class_weight={0: 0.0, 1: 0.0}).fit(X, y)


def test_weight_problems_are_named():
    X, y = imbalanced(300)
    w = np.ones(300)
    w[_held_out(300, 30)] = 0.0
    with pytest.raises(ValueError, match="early_stopping: the 30 rows held out for validation all weigh 0"):
        LinearRegression(early_stopping=True, validation_fraction=0.1, random_state=0).fit(X, y.astype(float),
                                                                                          sample_weight=w)
    with pytest.raises(ValueError, match="class_weight times sample_weight overflows float64"):
        LogisticRegression(class_weight={1: 10.0}).fit(X, y, sample_weight=np.full(300, 1e308))
    with pytest.raises(ValueError, match="class_weight times sample_weight overflows float64"):
        LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=np.full(300, 1e308))


def _held_out(n, n_val, random_state=0):
    """The rows LinearRegression(early_stopping=True, random_state=...) holds out of n."""
    from sklearn.utils import check_random_state
    return check_random_state(random_state).permutation(n)[:n_val]


def test_calls_that_fail_their_checks_leave_the_training_as_it_was():
    X, y = imbalanced(300)
    model = LinearRegression(max_iter=3, random_state=0).fit(X, y.astype(float))
    coef = model.coef_.copy()
    w = np.zeros(300)
    w[_held_out(300, 30)] = 1.0  # only the held-out rows weigh
    with pytest.raises(ValueError, match="every training row has zero sample_weight"):
        model.set_params(early_stopping=True).fit(X[:, :4], y.astype(float), sample_weight=w)
    assert model.n_features_in_ == 10 and np.array_equal(model.coef_, coef) and len(model.history_["loss"]) == 3
    stream = LogisticRegression(schedule="constant", random_state=0).partial_fit(X, y, classes=[0, 1])
    bad = X.astype(np.float32)
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match=r"row 7"):
        stream.partial_fit(bad, y)  # would have carried the model over to float32 first
    assert stream._training.dtype == np.float64 and stream._training.coef.dtype == np.float64


def test_a_refit_that_fails_its_checks_leaves_the_model_as_it_was():
    X, y = imbalanced(300)
    model = LogisticRegression(max_iter=3, random_state=0).fit(X, y)
    before = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in vars(model).items()}
    with pytest.raises(ValueError, match="class_weight has labels that are not classes"):
        model.set_params(class_weight={"zz": 1.0}).fit(X[:, :3], np.where(X[:, 0] > 0, "a", "b"))
    assert set(vars(model)) == set(before)
    for key in ("coef_", "intercept_", "classes_", "n_features_in_", "n_iter_"):
        np.testing.assert_array_equal(getattr(model, key), before[key])
    assert model.history_ == before["history_"] and model._training is before["_training"]
    model.predict(X)


def test_class_weight_is_checked():
    X, y = imbalanced(200)
    # labels that are not classes are ignored when every class has its weight (scikit-learn's rule:
    # a cross-validation fold may miss a class)
    LogisticRegression(class_weight={0: 1.0, 1: 2.0, 3: 5.0}, max_iter=1).fit(X, y)
    for bad, message in [("balance", "class_weight must be None, 'balanced' or a dict"),
                         ([1.0, 2.0], "class_weight must be None, 'balanced' or a dict"),
                         ({3: 1.0}, r"class_weight has labels that are not classes \(\[0 1\]\): \[3\], and no "
                                    r"weight for classes \[0, 1\]"),
                         ({1: -1.0}, r"class_weight\[1\] must be >= 0"),
                         ({1: np.nan}, r"class_weight\[1\] must be finite"),
                         ({0: 0.0, 1: 0.0}, "gives every row a weight of 0")]:
        with pytest.raises(ValueError, match=message):
            LogisticRegression(class_weight=bad, max_iter=1).fit(X, y)
    with pytest.raises(ValueError, match="class_weight='balanced' is not supported by partial_fit"):
        LogisticRegression(class_weight="balanced").partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match=r"class_weight='balanced': classes \[1\] have no sample_weight"):
        LogisticRegression(class_weight="balanced").fit(X, y, sample_weight=(y == 0).astype(float))


def seconds_to_stop_after_ctrl_c(model, X, y, after):
    """Fits model, sends SIGINT to the process after `after` seconds, checks that the fit raised
    KeyboardInterrupt, and returns how long it took to stop after the signal. Python's own
    handler is installed for it, as in an interactive session: a process started as a background
    job of a non-interactive shell (`cmd &` in a script) ignores SIGINT from its start, and
    Python then leaves it ignored. A fit that misses the signal gets a second one 10 s later: the
    test then fails on the time, not by hanging."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = threading.Timer(after, lambda: os.kill(os.getpid(), signal.SIGINT))
    again = threading.Timer(after + 10.0, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.perf_counter()
    timer.start()
    again.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            model.fit(X, y)
    finally:
        stopped = time.perf_counter() - start
        again.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)
    return stopped - after


@pytest.mark.parametrize("batch_size", [64, 512])  # 512 rows: the epoch's threads work as a team
def test_ctrl_c_stops_a_long_fit_promptly_and_leaves_a_usable_model(batch_size):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400_000, 50))
    y = X @ rng.standard_normal(50)
    model = LinearRegression(max_iter=10_000, batch_size=batch_size, random_state=0, n_threads=2)
    late = seconds_to_stop_after_ctrl_c(model, X, y, after=1.0)
    assert late < 0.5, f"took {late:.2f} s to stop after Ctrl-C"
    assert model.n_iter_ >= 1
    assert len(model.history_["loss"]) == model.n_iter_
    assert np.all(np.isfinite(model.predict(X[:10])))


def test_ctrl_c_between_the_small_epochs_of_one_engine_call():
    """Small epochs go to the engine several at a time; Ctrl-C stops the call between two of
    them and the model is that of the last epoch done, with its history."""
    X, y = load_breast_cancer(return_X_y=True)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    model = LogisticRegression(max_iter=10**7, random_state=0)
    late = seconds_to_stop_after_ctrl_c(model, X, y, after=0.5)
    assert late < 0.5, f"took {late:.2f} s to stop after Ctrl-C"
    assert 10 < model.n_iter_ < 10**7
    assert len(model.history_["loss"]) == model.n_iter_
    assert np.all(np.isfinite(model.coef_)) and model.score(X, y) > 0.9


@pytest.mark.parametrize("make", [
    lambda: LogisticRegression(max_iter=30, random_state=1),
    lambda: LogisticRegression(max_iter=30, random_state=1, optimizer="sgd", schedule="step"),
    lambda: LinearRegression(max_iter=30, random_state=2, penalty="elasticnet"),
])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("classes", [2, 3])
def test_epochs_run_together_give_the_model_of_epochs_run_one_by_one(make, dtype, classes):
    """A callback makes the estimator run one epoch per engine call; without one, small epochs
    run several per call. The models, histories (but for times) and step counts are the same."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 7)).astype(dtype)
    y = rng.integers(0, classes, 300) if isinstance(make(), LogisticRegression) else X @ rng.standard_normal(7)
    together, one_by_one = make().fit(X, y), make().set_params(callback=lambda est, record: False).fit(X, y)
    assert together.n_iter_ == one_by_one.n_iter_ == 30 and together.t_ == one_by_one.t_
    np.testing.assert_array_equal(together.coef_, one_by_one.coef_)
    np.testing.assert_array_equal(together.intercept_, one_by_one.intercept_)
    for key in ("loss", "learning_rate", "grad_norm"):
        assert together.history_[key] == one_by_one.history_[key], key


def test_divergence_inside_epochs_run_together_is_reported_as_one_by_one():
    rng = np.random.default_rng(6)
    X = rng.standard_normal((200, 5))
    y = X @ rng.standard_normal(5)
    errors, models = [], []
    for callback in (None, lambda est, record: False):  # full-batch SGD just above its stable rate
        model = LinearRegression(optimizer="sgd", learning_rate=2.5, schedule="constant", max_iter=500,
                                 batch_size=None, penalty=None, random_state=0, callback=callback)
        with pytest.raises(descend.DivergenceError) as info:
            model.fit(X, y)
        errors.append(info.value)
        models.append(model)
    a, b = errors
    assert (a.epoch, a.step, a.loss, a.learning_rate) == (b.epoch, b.step, b.loss, b.learning_rate)
    assert a.epoch > 1  # inside the second call, which ran the epochs together
    assert models[0].n_iter_ == models[1].n_iter_ and len(models[0].history_["loss"]) == models[0].n_iter_
    np.testing.assert_array_equal(models[0].coef_, models[1].coef_)


def test_plain_arrays_after_a_data_frame_drop_the_feature_names():
    """fit with plain float arrays skips scikit-learn's validate_data but sets what it sets."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(7)
    X = rng.standard_normal((60, 3))
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(max_iter=2).fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    assert list(model.feature_names_in_) == ["a", "b", "c"] and model.n_features_in_ == 3
    model.fit(X[:, :2].copy(), y)
    assert not hasattr(model, "feature_names_in_") and model.n_features_in_ == 2
    with pytest.raises(ValueError, match="features"):
        model.predict(X)
    with pytest.raises(ValueError):  # y with a NaN still goes through the full checks
        LinearRegression(max_iter=1).fit(X, np.where(y > 0, np.nan, 1.0))


def test_fit_does_not_copy_X():
    import tracemalloc

    rng = np.random.default_rng(0)
    X = rng.standard_normal((100_000, 64)).astype(np.float32)  # 25.6 MB
    y = (X[:, 0] > 0).astype(int)
    model = LogisticRegression(max_iter=2, batch_size=256)
    model.fit(X, y)
    tracemalloc.start()
    try:
        model.fit(X, y)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    index_bytes = X.shape[0] * 8
    assert peak - 3 * index_bytes < X.nbytes / 10, f"peak {peak / 2**20:.1f} MiB during fit"
    assert model.coef_.dtype == np.float32


def test_other_layouts_are_converted_once_and_give_the_same_model():
    X, _, y, _ = standardized(load_diabetes)
    a = LinearRegression(max_iter=3, random_state=0).fit(X, y)
    b = LinearRegression(max_iter=3, random_state=0).fit(np.asfortranarray(X), y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)


def test_sparse_input_is_refused():
    sparse = pytest.importorskip("scipy.sparse")
    with pytest.raises(TypeError, match="sparse input is not supported yet"):
        LinearRegression().fit(sparse.csr_matrix(np.eye(5)), np.arange(5.0))


@pytest.mark.parametrize("labels", [(0, 1), (0.0, 1.0), (-1, 1), (False, True), (3, 7), (np.uint8(2), np.uint8(5))])
def test_two_numeric_labels_take_the_fast_path_to_the_same_model(labels):
    X = np.random.default_rng(0).standard_normal((400, 3))
    side = X[:, 0] + 0.5 * np.random.default_rng(1).standard_normal(400) > 0
    y = np.where(side, labels[1], labels[0])
    named = np.where(side, "yes", "no")  # strings: the general path (np.unique), same codes
    fast = LogisticRegression(max_iter=3, random_state=0).fit(X, y)
    general = LogisticRegression(max_iter=3, random_state=0).fit(X, named)
    assert fast.classes_.dtype == np.unique(y).dtype and list(fast.classes_) == sorted(set(y.tolist()))
    assert np.array_equal(fast.coef_, general.coef_) and np.array_equal(fast.intercept_, general.intercept_)
    assert np.array_equal(fast.predict(X) == fast.classes_[1], general.predict(X) == "yes")
    part = LogisticRegression(random_state=0).partial_fit(X, y, classes=np.array(labels))
    part.partial_fit(X[:10], np.full(10, labels[0]))  # one class in a later batch is fine
    with pytest.raises(ValueError, match="not seen"):
        part.partial_fit(X[:3], np.array([labels[0], labels[1], 9]))


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")  # scikit-learn's own cast
def test_continuous_or_single_class_targets_are_still_refused():
    X = np.random.default_rng(0).standard_normal((20, 2))
    for high in (1.5, 2.0**63, 1e19, 1e300):  # not integers, or beyond int64 (type_of_target: continuous)
        with pytest.raises(ValueError, match="Unknown label type"):
            LogisticRegression().fit(X, np.where(X[:, 0] > 0, 0.5 if high == 1.5 else 0.0, high))
    big = LogisticRegression(max_iter=2).fit(X, np.where(X[:, 0] > 0, 0.0, 2.0**62))  # integral, int64-sized
    assert list(big.classes_) == [0.0, 2.0**62]
    with pytest.raises(ValueError, match="at least 2 classes"):
        LogisticRegression().fit(X, np.ones(20))


def _three_class(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    return X, np.argmax(X[:, :3] + 0.3 * rng.standard_normal((n, 3)), axis=1)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["first", "middle", "last"])
@pytest.mark.parametrize("kind", ["linear", "binary", "multinomial"])
@pytest.mark.parametrize("options", [dict(), dict(early_stopping=True, validation_fraction=0.3),
                                     dict(batch_size=None), dict(batch_size=1, max_iter=2),
                                     dict(shuffle=8, early_stopping=True, n_threads=2)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_nonfinite_X_is_refused_by_fit_and_partial_fit(bad, where, kind, options, dtype):
    """Without sample weights the NaN/inf check of X happens in the first epoch (X is read once
    less): whatever the row, the batch size or the validation split, fit and partial_fit raise the
    ValueError naming the row, and partial_fit leaves the model exactly as it was."""
    X, y = _three_class() if kind == "multinomial" else (np.random.default_rng(1).standard_normal((300, 4)), None)
    if kind == "linear":
        y = X @ np.arange(1.0, 5.0)
    elif kind == "binary":
        y = (X[:, 0] > 0).astype(int)
    Model = LinearRegression if kind == "linear" else LogisticRegression
    row = {"first": 0, "middle": 137, "last": 299}[where]
    X = X.astype(dtype)
    bad_X = X.copy()
    bad_X[row, 2] = bad
    fresh = Model(random_state=0, **options)
    with pytest.raises(ValueError, match=f"Input X contains NaN or infinity \\(row {row}\\)"):
        fresh.fit(bad_X, y)
    assert vars(fresh) == vars(Model(random_state=0, **options))  # nothing fitted is left behind
    with pytest.raises(NotFittedError):
        fresh.predict(X)

    extra = {} if kind == "linear" else {"classes": np.unique(y)}
    model = Model(random_state=0, **options).partial_fit(X, y, **extra)
    before = (model.coef_.copy(), np.copy(model.intercept_), model.n_iter_, list(model.history_["loss"]))
    with pytest.raises(ValueError, match=f"row {row}"):
        model.partial_fit(bad_X, y)
    assert np.array_equal(model.coef_, before[0]) and np.array_equal(model.intercept_, before[1])
    assert model.n_iter_ == before[2] and model.history_["loss"] == before[3]
    with pytest.raises(ValueError, match=f"row {row}"):  # a warm-started fit is refused alike
        model.set_params(warm_start=True).fit(bad_X, y)
    model.set_params(warm_start=False)
    assert np.array_equal(model.coef_, before[0]) and model.n_iter_ == before[2]
    # the rejected call changed nothing: the next epoch is the one it would have been
    twin = Model(random_state=0, **options).partial_fit(X, y, **extra)
    model.partial_fit(X, y)
    twin.partial_fit(X, y)
    assert np.array_equal(model.coef_, twin.coef_) and np.array_equal(model.intercept_, twin.intercept_)


def test_nonfinite_X_in_rows_of_zero_weight_is_refused():
    X = np.random.default_rng(0).standard_normal((200, 3))
    y = X[:, 0].copy()
    X[150:, 1] = np.nan
    w = np.ones(200)
    w[128:] = 0.0  # whole batches of zero weight are read too: their loss, NaN times 0, is NaN
    model = LinearRegression(batch_size=64, shuffle=False, random_state=0)
    with pytest.raises(ValueError, match=r"Input X contains NaN or infinity \(row 150\)"):
        model.fit(X, y, sample_weight=w)
    assert vars(model) == vars(LinearRegression(batch_size=64, shuffle=False, random_state=0))


def test_huge_but_finite_X_diverges_rather_than_being_called_nonfinite():
    X = np.random.default_rng(0).standard_normal((200, 3)) * 1e200
    y = np.random.default_rng(1).standard_normal(200)
    with pytest.raises(descend.DivergenceError):
        LinearRegression(optimizer="sgd", learning_rate=1.0, schedule="constant", random_state=0).fit(X, y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_first_nonfinite_row_finds_the_first_one(dtype, threads):
    from descend import _core

    rng = np.random.default_rng(0)
    for n, d in [(1, 1), (7, 1), (1000, 3), (5000, 100), (70_000, 2)]:
        X = rng.standard_normal((n, d)).astype(dtype)
        X[rng.integers(0, n, 3)] *= 1e30  # large but finite (float32 overflows: inf, found below)
        X = np.where(np.isfinite(X), X, 1.0).astype(dtype)
        assert _core.first_nonfinite_row(X, threads) == -1
        for bad in (np.nan, np.inf, -np.inf):
            rows = np.sort(rng.choice(n, size=min(n, 3), replace=False))
            Y = X.copy()
            Y[rows, rng.integers(0, d, rows.size)] = bad
            assert _core.first_nonfinite_row(Y, threads) == rows[0]


@pytest.mark.parametrize("params,match", [
    (dict(optimizer="lbfgs"), "optimizer must be one of"),
    (dict(learning_rate=0.0), "learning_rate must be > 0"),
    (dict(batch_size=0), "batch_size must be a positive int or None"),
    (dict(max_iter=0), "max_iter must be a positive int"),
    (dict(schedule="linear"), "schedule must be one of"),
    (dict(penalty="l3"), "penalty must be"),
    (dict(alpha=-1.0), "alpha must be >= 0"),
    (dict(clip_norm=0.0), "clip_norm must be > 0"),
    (dict(validation_fraction=1.0), "validation_fraction must be < 1"),
    (dict(n_threads=0), "n_threads"),
])
def test_bad_parameters_raise_clear_errors(params, match):
    X, _, y, _ = standardized(load_diabetes)
    with pytest.raises((ValueError, TypeError), match=match):
        LinearRegression(**params).fit(X, y)


def test_verbose_prints_one_line_per_epoch(capsys):
    X, _, y, _ = standardized(load_diabetes)
    LinearRegression(max_iter=3, verbose=1).fit(X, y)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.startswith("-- epoch")]
    assert len(lines) == 3 and "loss" in lines[0] and "lr" in lines[0]


def test_callback_can_stop_training():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(max_iter=50, callback=lambda est, rec: rec["epoch"] == 4).fit(X, y)
    assert model.n_iter_ == 4
    model = LinearRegression(max_iter=50, callback=lambda est, rec: np.float64(rec["epoch"]) >= 3).fit(X, y)
    assert model.n_iter_ == 3
    # only True stops: a logger's return value (here write()'s count of characters) does not
    log = io.StringIO()
    model = LinearRegression(max_iter=10, callback=lambda est, rec: log.write(f"{rec['loss']}\n")).fit(X, y)
    assert model.n_iter_ == 10 and len(log.getvalue().splitlines()) == 10
    assert LinearRegression(max_iter=5, callback=lambda est, rec: np.array([0, 1])).fit(X, y).n_iter_ == 5


@pytest.mark.parametrize("options", [dict(learning_rate=10.0, schedule="constant"),
                                     dict(optimizer="momentum", learning_rate=0.5, schedule="constant")])
def test_a_fit_that_ends_above_its_start_warns(options):
    # Adam's steps are bounded by the rate, so a rate far too large can leave the loss high but
    # below the divergence limit: the fit then says so rather than returning a useless model
    # (R^2 of -9 here) in silence
    X, _, y, _ = standardized(load_diabetes)
    with pytest.warns(ConvergenceWarning, match=r"learning rate is likely too large .* try learning_rate=") as info:
        LinearRegression(max_iter=30, random_state=0, **options).fit(X, y)
    assert info[0].filename == __file__  # pointing at the caller's line
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearRegression(max_iter=30, random_state=0).fit(X, y)  # the defaults: no warning


def test_a_fit_that_runs_out_of_epochs_before_tol_is_met_warns():
    # as scikit-learn's SGD estimators do, when tol (or early stopping) was asked for
    X, _, y, _ = standardized(load_diabetes)
    with pytest.warns(ConvergenceWarning, match=r"max_iter=3 epochs ran before the training loss stopped improving "
                                                r"by tol=1e-09 for n_iter_no_change=5 epochs") as info:
        LinearRegression(max_iter=3, tol=1e-9, random_state=0).fit(X, y)
    assert info[0].filename == __file__
    with pytest.warns(ConvergenceWarning, match="before the validation loss"):
        LinearRegression(max_iter=3, early_stopping=True, random_state=0).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = LinearRegression(max_iter=100, tol=1e-3, random_state=0).fit(X, y)  # met
        assert model.n_iter_ < 100
        LinearRegression(max_iter=3, random_state=0).fit(X, y)  # no tol: the epochs asked for
        LinearRegression(max_iter=3, tol=1e-9, random_state=0).partial_fit(X, y)  # one epoch a call


def test_a_stream_whose_loss_grows_slowly_is_caught():
    # full-batch SGD just above its stable rate: the loss grows less than 1e8 times a call, so a
    # limit taken from each call's start let it reach 3e43 in 100 calls; from the lowest epoch
    # loss so far, the stream stops once it passes 1e8 times that
    X, _, y, _ = standardized(load_diabetes)
    stream = LinearRegression(optimizer="sgd", batch_size=None, learning_rate=0.646, schedule="constant",
                              random_state=0)
    with pytest.raises(descend.DivergenceError) as info:
        for _ in range(100):
            stream.partial_fit(X, y)
    limit = 1e8 * max(np.var(y), min(stream.history_["loss"]))  # y's variance: a loss of 1 at unit scale
    assert info.value.epoch < 100 and info.value.loss > limit >= max(stream.history_["loss"])
    assert np.all(np.isfinite(stream.coef_))


def test_an_interrupted_fit_counts_its_own_epochs():
    # Ctrl-C in a refit's second epoch (an engine that raises as the signal check does): the
    # model, n_iter_, t_ and history_ are those of the one epoch done, not the earlier fit's
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(max_iter=3, random_state=0).fit(X, y)
    calls = []

    def engine(*args):
        calls.append(1)
        if len(calls) > 1:
            raise KeyboardInterrupt
        return _core.train_epoch(*args)

    model._engine = engine
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    assert model.n_iter_ == 1 and len(model.history_["loss"]) == 1 and model.t_ == -(-len(y) // 32)
    calls.append(1)  # a fresh fit stopped in its first epoch has trained no epoch
    fresh = LinearRegression(max_iter=3, random_state=0)
    fresh._engine = engine
    with pytest.raises(KeyboardInterrupt):
        fresh.fit(X, y)
    assert fresh.n_iter_ == 0 and fresh.t_ == 0 and fresh.history_["loss"] == []


def test_y_too_small_for_the_squared_error_or_float32_is_refused():
    X, _, y, _ = standardized(load_diabetes)
    with pytest.raises(ValueError, match="too small: the squared error underflows float64"):
        LinearRegression().fit(X, y * 1e-300)
    with pytest.raises(ValueError, match="too small for a float32 model"):
        LinearRegression().fit(X.astype(np.float32), y * 1e-50)  # its coefficients were 0, silently
    base = LinearRegression(max_iter=5, random_state=0).fit(X, y)
    small = LinearRegression(max_iter=5, random_state=0).fit(X, y * 1e-140)
    np.testing.assert_allclose(small.coef_ / 1e-140, base.coef_, rtol=1e-9)


def test_stratified_validation_rows():
    # each class in proportion, within one row, every class keeping a row in training
    from descend.linear_model import _stratified_draw
    rng = np.random.RandomState(0)
    for _ in range(200):
        counts = rng.randint(2, 40, rng.randint(1, 8))
        counts[rng.randint(len(counts))] *= rng.randint(0, 2)  # a class absent at times
        codes = rng.permutation(np.repeat(np.arange(len(counts)), counts)).astype(np.int32)
        n, room = len(codes), int(np.sum(np.maximum(counts - 1, 0)))
        if room == 0:
            continue
        n_val = rng.randint(1, room + 1)
        rows = _stratified_draw(rng, n_val, codes)
        assert len(rows) == n_val == len(np.unique(rows))
        held = np.bincount(codes[rows], minlength=len(counts))
        assert np.all(held <= np.maximum(counts - 1, 0))
        if n_val <= n - 2 * len(counts):  # far from the cap: proportional
            assert np.all(np.abs(held - counts * n_val / n) < 1 + 1e-9)


def test_a_divergence_counts_the_epochs_completed():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(max_iter=5, random_state=0).fit(X, y)
    model.set_params(optimizer="sgd", learning_rate=1e6, schedule="constant")
    with pytest.raises(descend.DivergenceError, match="diverged at epoch 1,.* the one that epoch started from"):
        model.fit(X, y)
    # the model is the fit's start (zeros, the mean of y), not the blown-up one of its last step
    assert model.n_iter_ == 0 and model.history_["loss"] == [] and model.t_ == 0
    np.testing.assert_array_equal(model.coef_, 0.0)
    assert model.intercept_ == pytest.approx(np.mean(y))
    # a stream whose second call diverges: that call changes nothing, and the stream goes on at a
    # smaller rate (from the blown-up model, every later call diverged at once)
    stream = LinearRegression(optimizer="sgd", schedule="constant", random_state=0).partial_fit(X, y)
    before = pickle.dumps(stream._training)
    coef = stream.coef_.copy()
    stream.set_params(learning_rate=1e6)
    with pytest.raises(descend.DivergenceError, match="diverged at epoch 2,"):
        stream.partial_fit(X, y)
    assert pickle.dumps(stream._training) == before
    np.testing.assert_array_equal(stream.coef_, coef)
    assert stream.n_iter_ == 1 and len(stream.history_["loss"]) == 1
    stream.set_params(learning_rate=0.01).partial_fit(X, y)
    assert stream.n_iter_ == 2 and len(stream.history_["loss"]) == 2 and stream.score(X, y) > 0.4


def test_without_an_intercept_y_is_scaled_by_its_root_mean_square():
    # y = 1000 + noise with a column of ones: the weights must reach 1000, which its standard
    # deviation (7) as the scale left at 627 with the default rate (R^2 of -2448)
    rng = np.random.default_rng(0)
    X = np.c_[rng.standard_normal((1000, 5)), np.ones(1000)]
    y = X[:, :5] @ np.arange(1.0, 6.0) + 1e3 + rng.standard_normal(1000)
    model = LinearRegression(fit_intercept=False, random_state=0).fit(X, y)
    ridge = Ridge(alpha=1.0, fit_intercept=False).fit(X, y)  # alpha="auto" = 1/n

    def objective(coef):
        return losses.squared_error(X, y, coef, 0.0, alpha=1.0 / len(y))[0]

    assert objective(ridge.coef_) * (1 - 1e-9) <= objective(model.coef_) <= objective(ridge.coef_) * (1 + 1e-3)
    assert abs(model.coef_[-1] - ridge.coef_[-1]) < 0.1


def test_partial_fit_keeps_its_optimizer_and_takes_its_new_settings():
    X, _, y, _ = standardized(load_breast_cancer)
    model = LogisticRegression(optimizer="sgd", schedule="constant", learning_rate=0.01, random_state=0)
    model.partial_fit(X, y, classes=[0, 1])
    coef = model.coef_.copy()
    model.set_params(optimizer="adam")  # its state is not SGD's: refused, the model unchanged
    with pytest.raises(ValueError, match="this training began with optimizer='sgd'.*call fit"):
        model.partial_fit(X, y)
    np.testing.assert_array_equal(model.coef_, coef)
    model.set_params(optimizer="sgd").partial_fit(X, y)
    assert model.n_iter_ == 2
    # momentum and AdamW's weight_decay take effect in the next call, as learning_rate does
    a = LogisticRegression(optimizer="momentum", schedule="constant", random_state=0).partial_fit(X, y, classes=[0, 1])
    b = pickle.loads(pickle.dumps(a))
    a.set_params(momentum=0.5).partial_fit(X, y)
    b.partial_fit(X, y)
    assert a._training.optimizer["momentum"] == 0.5 and b._training.optimizer["momentum"] == 0.9
    assert not np.allclose(a.coef_, b.coef_)
    w = LogisticRegression(optimizer="adamw", schedule="constant", random_state=0).partial_fit(X, y, classes=[0, 1])
    w.set_params(weight_decay=0.5).partial_fit(X, y)
    assert w._training.optimizer["weight_decay"] == 0.5


def test_early_stopping_keeps_a_row_of_every_class_in_training():
    # two rows of two classes: holding either out would train on one class (scikit-learn's
    # SGDClassifier refuses too)
    with pytest.raises(ValueError, match="every class keeping a row"):
        LogisticRegression(early_stopping=True, max_iter=5).fit([[0.0], [1.0]], [0, 1])
    labels = np.array([0, 1, 2, 3, 4, 4, 5, 5, 6, 6])  # 2 rows held out, 3 classes to stratify: at random
    for seed in range(20):
        held_out = LogisticRegression()._validation_rows(np.random.RandomState(seed), 2, None, labels)
        assert len(set(held_out)) == 2 and set(np.delete(labels, held_out)) == set(labels)


def test_schedule_settings_that_cannot_work():
    X, _, y, _ = standardized(load_breast_cancer)
    with pytest.raises(ValueError, match="min_lr=0.5 is above learning_rate=0.01"):
        LogisticRegression(schedule=schedules.Cosine(min_lr=0.5), learning_rate=0.01).fit(X, y)
    with pytest.warns(UserWarning, match="warmup=50 epochs is not shorter than max_iter=10") as info:
        LogisticRegression(warmup=50, max_iter=10).fit(X, y)
    assert info[0].filename == __file__


def test_clip_norm_bounds_every_step():
    X, _, y, _ = standardized(load_diabetes)
    model = LinearRegression(optimizer="sgd", learning_rate=0.1, clip_norm=1e-3, schedule="constant",
                             batch_size=None, max_iter=1).fit(X, y)
    step = np.sqrt(np.sum(model.coef_ ** 2) + (model.intercept_ - y.mean()) ** 2) / np.std(y)
    assert step <= 0.1 * 1e-3 * (1 + 1e-6)


# ---- the whole training loop against the NumPy reference ---------------------------------------

TRAJECTORY_CASES = [
    dict(optimizer="sgd", learning_rate=0.05, schedule="invscaling"),
    dict(optimizer="momentum", learning_rate=0.02, schedule="step", warmup=0.5),
    dict(optimizer="nesterov", learning_rate=0.02, schedule="exponential", clip_norm=0.5),
    dict(optimizer="adam", schedule="cosine", penalty="elasticnet", alpha=0.01),
    dict(optimizer="adamw", schedule="constant", early_stopping=True, n_iter_no_change=2),
    dict(optimizer="rmsprop", learning_rate=0.003, schedule="plateau", tol=1e-3, n_iter_no_change=2),
]


@pytest.mark.filterwarnings("ignore:.*max_iter=.* epochs ran before:sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("params", TRAJECTORY_CASES, ids=lambda p: p["optimizer"])
@pytest.mark.parametrize("Model,loader", [(LinearRegression, load_diabetes), (LogisticRegression, load_breast_cancer)],
                         ids=["linear", "logistic"])
def test_engine_and_reference_follow_the_same_trajectory(Model, loader, params):
    X, _, y, _ = standardized(loader)
    X, y = X[:150], y[:150]
    sw = np.random.default_rng(0).random(150) + 0.5
    model = Model(max_iter=8, batch_size=16, random_state=3, **params)
    ours = model.fit(X, y, sample_weight=sw)
    ref = descend.reference.fit(model, X, y, sample_weight=sw)
    assert ours.n_iter_ == ref.n_iter_
    for key in ("loss", "val_loss", "learning_rate", "grad_norm"):
        a, b = ours.history_[key], ref.history_[key]
        if key == "val_loss" and a[0] is None:
            assert all(v is None for v in a + b)
            continue
        np.testing.assert_allclose(a, b, rtol=1e-10, err_msg=key)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.intercept_, ref.intercept_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("Model,loader", [(LinearRegression, load_diabetes), (LogisticRegression, load_breast_cancer)],
                         ids=["linear", "logistic"])
def test_shuffling_runs_of_rows(Model, loader):
    """shuffle=k shuffles runs of k consecutive rows: it follows the reference, is as
    reproducible as shuffle=True whatever the thread count, and still trains well."""
    X, X_test, y, y_test = standardized(loader)
    models = [Model(shuffle=16, max_iter=20, random_state=0, n_threads=t).fit(X, y) for t in (1, 2)]
    assert np.array_equal(models[0].coef_, models[1].coef_)
    ref = descend.reference.fit(Model(shuffle=16, max_iter=20, random_state=0), X, y)
    np.testing.assert_allclose(models[0].history_["loss"], ref.history_["loss"], rtol=1e-10)
    np.testing.assert_allclose(models[0].coef_, ref.coef_, rtol=1e-10, atol=1e-12)
    rows = Model(shuffle=True, max_iter=20, random_state=0).fit(X, y)
    assert not np.array_equal(models[0].coef_, rows.coef_)  # a different visiting order
    assert models[0].score(X_test, y_test) >= rows.score(X_test, y_test) - 0.05
    assert models[0].history_["loss"][-1] <= 1.05 * rows.history_["loss"][-1]


@pytest.mark.parametrize("shuffle", [-1, 2.5, "rows", None])
def test_bad_shuffle_values_are_refused(shuffle):
    with pytest.raises(ValueError, match="shuffle must be True"):
        LinearRegression(shuffle=shuffle).fit(np.eye(4), np.arange(4.0))


def test_shuffle_ints_0_1_and_huge_mean_in_order_rows_and_one_run():
    X, _, y, _ = standardized(load_diabetes)
    fit = lambda shuffle: LinearRegression(shuffle=shuffle, max_iter=3, random_state=0).fit(X, y).coef_  # noqa: E731
    assert np.array_equal(fit(0), fit(False))
    assert np.array_equal(fit(1), fit(True))
    assert np.array_equal(fit(2**70), fit(10**6))  # a run longer than X: one run, the rows in order
    assert np.array_equal(fit(2**70), fit(False))


def test_multinomial_trajectory_matches_the_reference():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 4))
    y = rng.integers(0, 3, 120)
    model = LogisticRegression(max_iter=5, batch_size=10, random_state=0, optimizer="adam")
    ours = model.fit(X, y)
    ref = descend.reference.fit(model, X, y)
    np.testing.assert_allclose(ours.history_["loss"], ref.history_["loss"], rtol=1e-10)
    np.testing.assert_allclose(ours.coef_, ref.coef_, rtol=1e-10, atol=1e-12)


def test_verbose_2_draws_a_progress_bar_on_stderr(capsys):
    X, _, y, _ = standardized(load_diabetes)
    LinearRegression(max_iter=4, verbose=2).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    frames = captured.err.split("\r")[1:]
    assert len(frames) == 4 and captured.err.endswith("\n")
    assert "[" + "#" * 30 + "] epoch 4/4 loss" in frames[-1]
    assert "epoch 1/4" in frames[0] and "lr " in frames[0]


def test_adamw_weight_decay_shrinks_the_weights_and_matches_the_reference():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)[:200]
    y = y[:200]
    params = dict(optimizer="adamw", learning_rate=0.05, max_iter=5, random_state=0, schedule="constant")
    norms = []
    for wd in (0.0, 0.01, 0.5):
        model = LogisticRegression(weight_decay=wd, **params).fit(X, y)
        expected = reference.fit(model, X, y)
        np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(model.intercept_, expected.intercept_, rtol=1e-10, atol=1e-12)
        norms.append(np.linalg.norm(model.coef_))
    assert norms[0] > norms[1] > norms[2]
    # None means torch's AdamW default, 0.01
    default = LogisticRegression(**params).fit(X, y)
    np.testing.assert_array_equal(default.coef_, LogisticRegression(weight_decay=0.01, **params).fit(X, y).coef_)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "rmsprop"])
def test_weight_decay_belongs_to_adamw(optimizer):
    X, y = np.random.default_rng(0).standard_normal((20, 2)), np.arange(20) % 2
    with pytest.raises(ValueError, match="weight_decay is the decoupled weight decay of optimizer='adamw'"):
        LogisticRegression(optimizer=optimizer, weight_decay=0.1).fit(X, y)
    with pytest.raises(ValueError, match="weight_decay"):
        LogisticRegression(optimizer="adamw", weight_decay=-1.0).fit(X, y)
