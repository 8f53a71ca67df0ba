"""descend.plot: figures of learning curves, learning-rate sweeps and optimizer trajectories."""

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

pytest.importorskip("matplotlib")

from descend import LogisticRegression, plot  # noqa: E402

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(path):
    data = Path(path).read_bytes()
    assert data[:8] == PNG and len(data) > 1000


def history(n=20, start=1.0, rate=0.7, lr=0.1, val=True):
    loss = list(start * rate ** np.arange(n))
    return dict(loss=loss, val_loss=[v * 1.2 for v in loss] if val else [None] * n,
                learning_rate=[lr] * n, grad_norm=[1.0] * n, time=[0.01] * n)


class Rosenbrock:
    name, dim = "rosenbrock", 2
    bounds = ((-2.0, 2.0), (-1.0, 3.0))
    minima, local_minima = (np.array([1.0, 1.0]),), ()
    start = np.array([-1.5, 2.0])

    def value(self, points):
        p = np.asarray(points, dtype=float)
        return (1 - p[..., 0]) ** 2 + 100 * (p[..., 1] - p[..., 0] ** 2) ** 2


class Bowl:
    name, dim = "bowl", 2
    bounds = ((-2.0, 2.0), (-2.0, 2.0))
    minima, local_minima = (np.zeros(2),), (np.array([1.0, 1.0]),)
    start = np.array([1.5, -1.0])

    def value(self, points):
        p = np.asarray(points, dtype=float)
        return p[..., 0] ** 2 + 3 * p[..., 1] ** 2


class DoubleWell:
    name, dim = "double well", 1
    bounds = ((-2.0, 2.0),)
    minima, local_minima = (np.array([-1.04]),), (np.array([0.96]),)
    start = np.array([1.8])

    def value(self, points):
        x = np.asarray(points, dtype=float)[..., 0]
        return (x ** 2 - 1) ** 2 + 0.3 * x


class Sphere3:
    name, dim = "sphere", 3
    bounds = ((-1.0, 1.0),) * 3
    minima, local_minima, start = (np.zeros(3),), (), np.ones(3)

    def value(self, points):
        return np.sum(np.asarray(points) ** 2, axis=-1)


def legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_learning_curve_of_a_fitted_estimator(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(ConvergenceWarning):  # n_iter_no_change=50: the 8 epochs run out first
        model = LogisticRegression(max_iter=8, early_stopping=True, n_iter_no_change=50, random_state=0).fit(X, y)
    fig = plot.learning_curve(model, file=str(tmp_path / "curve.png"))
    assert len(fig.axes) == 2  # loss and the learning rate's twin axis
    ax, twin = fig.axes
    assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--"]
    assert len(twin.get_lines()) == 1
    assert legend_texts(ax) == ["training loss", "validation loss", "learning rate (right)"]
    assert ax.get_xlabel() == "epoch" and ax.get_title() == "Learning curve"
    assert_png(tmp_path / "curve.png")


def test_learning_curve_of_several_runs(tmp_path):
    runs = {"sgd": history(lr=0.5), "momentum": history(rate=0.6, lr=0.1), "adam": history(rate=0.5, lr=0.03)}
    fig = plot.learning_curve(runs, title="three optimizers", file=tmp_path / "runs.png")
    ax, twin = fig.axes
    lines = ax.get_lines()
    assert len(lines) == 6 and [line.get_linestyle() for line in lines] == ["-", "--"] * 3
    assert lines[0].get_color() == lines[1].get_color() != lines[2].get_color()
    assert len(twin.get_lines()) == 3  # the rates differ: one per run
    assert legend_texts(ax)[:2] == ["sgd", "sgd (validation)"]
    assert ax.get_title() == "three optimizers"
    assert_png(tmp_path / "runs.png")

    same = plot.learning_curve([history(), history(rate=0.5)], labels=["a", "b"])
    assert len(same.axes[1].get_lines()) == 1  # a shared rate is drawn once
    assert "a" in legend_texts(same.axes[0])


def test_log_scale_when_the_loss_spans_decades():
    assert plot.learning_curve(history(rate=0.7)).axes[0].get_yscale() == "log"
    flat = history(start=0.5, rate=0.99)
    assert plot.learning_curve(flat).axes[0].get_yscale() == "linear"
    signed = history()
    signed["loss"] = list(np.linspace(1.0, -1.0, 20))
    assert plot.learning_curve(signed).axes[0].get_yscale() == "linear"


def test_validation_losses_may_be_missing():
    h = history(val=False)
    fig = plot.learning_curve(h)
    assert len(fig.axes[0].get_lines()) == 1
    h["val_loss"][5:] = [0.1] * 15
    line = plot.learning_curve(h).axes[0].get_lines()[1]
    assert np.isnan(line.get_ydata()[:5]).all() and line.get_linestyle() == "--"
    del h["learning_rate"]
    assert len(plot.learning_curve(h).axes) == 1


@pytest.mark.parametrize("bad, error, match", [
    (dict(val_loss=[1.0, 0.5]), ValueError, "'loss'"),
    (dict(loss=[]), ValueError, "no epochs"),
    (dict(loss=[1.0, 0.5], val_loss=[1.0]), ValueError, "'val_loss' has 1 entries"),
    ({"a": dict(val_loss=[1.0])}, ValueError, "run 'a' has no 'loss'"),
    (3, TypeError, "history must be"),
    ([], ValueError, "empty"),
])
def test_learning_curve_bad_input(bad, error, match):
    with pytest.raises(error, match=match):
        plot.learning_curve(bad)


def test_learning_curve_labels_must_match_the_runs():
    with pytest.raises(ValueError, match="labels has 1 entries for 2 runs"):
        plot.learning_curve([history(), history()], labels=["only one"])


def test_lr_find_figure(tmp_path):
    rates = np.geomspace(1e-5, 1.0, 40)
    raw = 1.0 / (1.0 + 30 * rates) + 0.02 * np.sin(np.arange(40))
    result = SimpleNamespace(learning_rates=rates, losses=raw, smoothed=1.0 / (1.0 + 30 * rates),
                             suggestion=float(rates[25]))
    fig = plot.lr_find(result, file=tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and len(ax.get_lines()) == 3
    assert f"suggestion: {rates[25]:.3g}" in legend_texts(ax)
    assert_png(tmp_path / "lr.png")
    with pytest.raises(ValueError, match="as many losses"):
        plot.lr_find(SimpleNamespace(learning_rates=rates, losses=raw[:3], smoothed=raw, suggestion=0.1))
    with pytest.raises(TypeError, match="LRFindResult"):
        plot.lr_find(object())


def test_trajectory_over_a_2d_landscape(tmp_path):
    t = np.linspace(0.0, 1.0, 30)[:, None]
    straight = Rosenbrock.start + t * (np.array([1.0, 1.0]) - Rosenbrock.start)
    result = SimpleNamespace(path=straight[::-1].copy(), optimizer="adam")
    fig = plot.trajectory(Rosenbrock(), straight, result, file=tmp_path / "rosenbrock.png")
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # the landscape and its colour bar
    texts = legend_texts(ax)
    assert texts[:2] == ["path 1", "adam"] and {"minimum", "start"} <= set(texts)
    assert ax.get_title() == "rosenbrock"
    assert_png(tmp_path / "rosenbrock.png")
    levels = np.asarray(ax.collections[0].levels)
    offsets = levels[1:] - levels[0]
    ratios = offsets[1:-1] / offsets[:-2]
    np.testing.assert_allclose(ratios, ratios[0], rtol=1e-6)  # log-spaced: Rosenbrock spans decades
    assert ratios[0] > 1.2

    bowl = plot.trajectory(Bowl(), straight / 2, labels=["sgd"], levels=12)
    bowl_levels = np.asarray(bowl.axes[0].collections[0].levels)
    assert bowl_levels.shape == (12,)
    np.testing.assert_allclose(np.diff(bowl_levels), np.diff(bowl_levels)[0])  # evenly spaced
    assert "local minimum" in legend_texts(bowl.axes[0])


def test_trajectory_over_a_1d_landscape(tmp_path):
    fig = plot.trajectory(DoubleWell(), np.linspace(1.8, 0.96, 12), np.linspace(1.8, -1.0, 8)[:, None],
                          labels=["sgd", "momentum"], file=tmp_path / "well.png")
    ax = fig.axes[0]
    texts = legend_texts(ax)
    assert texts[:3] == ["f(x)", "sgd", "momentum"]
    path = ax.get_lines()[1]
    np.testing.assert_allclose(path.get_ydata(), DoubleWell().value(np.linspace(1.8, 0.96, 12)[:, None]))
    assert_png(tmp_path / "well.png")


def test_trajectory_bad_input():
    with pytest.raises(ValueError, match=r"path 1 must have shape \(k, 2\)"):
        plot.trajectory(Rosenbrock(), np.zeros((5, 3)))
    with pytest.raises(ValueError, match=r"path 2 must have shape \(k,\) or \(k, 1\)"):
        plot.trajectory(DoubleWell(), np.zeros(4), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="dim=3"):
        plot.trajectory(Sphere3(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="labels has 2 entries for 1 paths"):
        plot.trajectory(Bowl(), np.zeros((2, 2)), labels=["a", "b"])
    with pytest.raises(ValueError, match="levels"):
        plot.trajectory(Bowl(), np.zeros((2, 2)), levels=1)
    with pytest.raises(TypeError, match="landscape"):
        plot.trajectory(object(), np.zeros((2, 2)))
    unkept = SimpleNamespace(path=None, optimizer="adam")  # minimize(keep_path=False)
    with pytest.raises(ValueError, match="path 1 was not kept: run minimize with keep_path=True"):
        plot.trajectory(Bowl(), unkept)


def test_missing_matplotlib_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"pip install 'descend\[plot\]'"):
        plot.learning_curve(history())
