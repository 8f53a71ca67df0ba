"""The pictures of the README: python docs/make_figures.py (needs matplotlib)

Writes into docs/images/, deterministically (fixed seeds, fixed starts), with descend's public API:

- learning_curves.png: the runs of ``descend demo`` (SGD, momentum, Adam on breast_cancer);
- trajectories.png: plain gradient descent, momentum and Adam on the tilted double well;
- rosenbrock.png: the same three in Rosenbrock's curved valley;
- lr_find.png: the learning-rate range test of LogisticRegression on breast_cancer.
"""

from pathlib import Path

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

import descend
from descend import landscapes, minimize, plot

OUT = Path(__file__).resolve().parent / "images"
DPI = 120  # as descend.plot saves

DEMO_RUNS = (("sgd", 0.1), ("momentum", 0.1), ("adam", 0.03))  # those of `descend demo`


def breast_cancer():
    """The split of `descend demo`: standardized with the training rows' statistics."""
    X, y = load_breast_cancer(return_X_y=True)
    X_train, _, y_train, _ = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    return np.ascontiguousarray(scaler.transform(X_train)), y_train


def learning_curves(X_train, y_train):
    models = {}
    for optimizer, lr in DEMO_RUNS:
        model = descend.LogisticRegression(optimizer=optimizer, learning_rate=lr, batch_size=32, max_iter=100,
                                           random_state=0)
        models[f"{optimizer} lr={lr:g}"] = model.fit(X_train, y_train)
    path = OUT / "learning_curves.png"
    plot.learning_curve(models, title="descend demo: logistic regression on breast_cancer", file=path)
    print(path)
    for label, model in models.items():
        print(f"  {label:<18} final training loss {model.history_['loss'][-1]:.6f}")


def trajectories(landscape, runs, title, name, **options):
    """minimize from the landscape's start with each (optimizer, lr), then plot the paths."""
    results = [minimize(landscape, landscape.start, optimizer, lr=lr, **options) for optimizer, lr in runs]
    path = OUT / name
    plot.trajectory(landscape, *results, title=title, file=path)
    print(path)
    for res in results:
        x = ", ".join(f"{v:.6f}" for v in res.x)
        print(f"  {res.optimizer:<18} x = ({x})  f = {res.fun:.3g}  after {res.nit} steps ({res.message})")


def lr_range_test(X_train, y_train):
    result = descend.lr_find(descend.LogisticRegression(random_state=0), X_train, y_train)
    path = OUT / "lr_find.png"
    result.plot(file=path)
    print(path)
    print(f"  suggestion {result.suggestion:.4g}, best_lr {result.best_lr:.4g}, "
          f"{result.learning_rates.size} rates{' (stopped early)' if result.stopped_early else ''}")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    X_train, y_train = breast_cancer()
    learning_curves(X_train, y_train)
    trajectories(landscapes.double_well_2d, [("sgd", 0.01), ("momentum", 0.01), ("adam", 0.2)],
                 "plain gradient descent stops in the shallow local minimum;\n"
                 "momentum and Adam roll on to the global one",
                 "trajectories.png", tol=1e-8, max_iter=3000)
    trajectories(landscapes.rosenbrock, [("sgd", 1e-3), ("momentum", 1e-3), ("adam", 0.05)],
                 "Rosenbrock: momentum and Adam reach the minimum at (1, 1);\n"
                 "plain gradient descent still crawls along the valley",
                 "rosenbrock.png", max_iter=3000, on_divergence="return")
    lr_range_test(X_train, y_train)


if __name__ == "__main__":
    main()
