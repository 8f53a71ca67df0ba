"""The ``descend`` command (also ``python -m descend``)."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np


DEMO_RUNS = (  # label, optimizer, learning rate: each the best of a coarse sweep on this problem
    ("sgd", "sgd", 0.1),
    ("momentum", "momentum", 0.1),
    ("adam", "adam", 0.03),
)
DEMO_CHECKPOINTS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)


class _Progress:
    """One progress bar on stderr for all the runs, redrawn each epoch."""

    def __init__(self, total: int, enabled: bool, width: int = 30):
        self.total, self.done, self.width = total, 0, width
        self.enabled = enabled

    def update(self, label: str, epoch: int, gap: float):
        self.done += 1
        if not self.enabled:
            return
        filled = self.width * self.done // self.total
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {self.done}/{self.total} epochs  "
                         f"{label:<9} epoch {epoch:>4}  loss - optimum {gap:.2e} ")
        sys.stderr.flush()

    def close(self):
        if self.enabled:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _demo(args) -> int:
    """LogisticRegression on breast_cancer with SGD, momentum and Adam side by side."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression as ExactLogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from . import LogisticRegression, losses

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train = np.ascontiguousarray(scaler.transform(X_train))
    X_test = scaler.transform(X_test)
    y01 = y_train.astype(np.float64)
    n, d = X_train.shape
    alpha = 1.0 / n  # descend's alpha="auto": the objective of scikit-learn's C=1

    exact = ExactLogisticRegression(C=1.0, tol=1e-12, max_iter=10_000).fit(X_train, y_train)
    w_star, b_star = exact.coef_.ravel(), float(exact.intercept_[0])

    def objective(w, b):
        return float(losses.logistic(X_train, y01, np.ravel(w), float(np.ravel(b)[0]), alpha=alpha)[0])

    f_star = objective(w_star, b_star)
    epochs = args.epochs
    print(f"descend demo: logistic regression on breast_cancer ({n} train x {d} features, standardized), "
          f"mini-batches of {args.batch_size}, {epochs} epochs, cosine-annealed learning rate")
    print(f"objective: mean log-loss + alpha/2 |w|^2 with alpha = 1/n (scikit-learn's C=1); "
          f"exact optimum from scikit-learn's lbfgs: {f_star:.6f}\n")

    progress = _Progress(len(DEMO_RUNS) * epochs, enabled=not args.no_progress and sys.stderr.isatty())
    models, gaps, seconds, watching = {}, {}, {}, {}
    for label, optimizer, lr in DEMO_RUNS:
        gaps[label] = []
        watching[label] = 0.0

        def record(est, rec, label=label):
            start = time.perf_counter()
            gap = objective(est.coef_, est.intercept_) - f_star
            gaps[label].append(gap)
            progress.update(label, rec["epoch"], gap)
            watching[label] += time.perf_counter() - start

        model = LogisticRegression(optimizer=optimizer, learning_rate=lr, batch_size=args.batch_size,
                                   max_iter=epochs, random_state=0, callback=record)
        start = time.perf_counter()
        models[label] = model.fit(X_train, y_train)
        seconds[label] = time.perf_counter() - start - watching[label]  # without the gap measurements
    progress.close()

    names = [f"{label} lr={lr:g}" for label, _, lr in DEMO_RUNS]
    checkpoints = [e for e in DEMO_CHECKPOINTS if e <= epochs] + ([epochs] if epochs not in DEMO_CHECKPOINTS else [])
    print("loss - optimum after each epoch (the whole training set's objective):")
    print(f"{'epoch':>6}" + "".join(f"{name:>20}" for name in names))
    for e in checkpoints:
        print(f"{e:>6}" + "".join(f"{gaps[label][e - 1]:>20.3e}" for label, _, _ in DEMO_RUNS))
    print(f"\n{'optimizer':<20}{'loss - optimum':>16}{'|w - w*|':>12}{'test acc':>10}{'fit time':>10}")
    for name, (label, _, _) in zip(names, DEMO_RUNS):
        m = models[label]
        dist = float(np.sqrt(np.sum((m.coef_.ravel() - w_star) ** 2) + (m.intercept_[0] - b_star) ** 2))
        print(f"{name:<20}{gaps[label][-1]:>16.3e}{dist:>12.2e}{m.score(X_test, y_test):>10.3f}"
              f"{seconds[label] * 1e3:>8.1f}ms")
    print(f"{'scikit-learn lbfgs':<20}{0.0:>16.3e}{0.0:>12.2e}{exact.score(X_test, y_test):>10.3f}")
    print("\nPlain SGD crawls along the flat directions of the loss; momentum rolls through them and Adam "
          "rescales each\ndirection, so both end far closer to the optimum in the same number of epochs.")
    if args.plot != "":
        if importlib.util.find_spec("matplotlib") is None:
            print("(pip install 'descend[plot]' to get the learning curves as a PNG)")
        else:
            from . import plot

            plot.learning_curve({name: models[label] for name, (label, _, _) in zip(names, DEMO_RUNS)},
                                file=args.plot, title="descend demo: logistic regression on breast_cancer")
            print(f"learning curves: {args.plot}")
    return 0


def _info(args) -> int:
    from . import show_config

    show_config()
    return 0


def _ints_at_least(minimum: int):
    """argparse type: comma-separated whole numbers >= minimum (1e6 is accepted)."""

    def parse(text: str) -> list[int]:
        try:
            floats = [float(v) for v in text.split(",")]
            values = [int(f) for f in floats if f.is_integer()]
        except (ValueError, OverflowError):
            floats, values = [], []
        if not values or len(values) != len(floats) or min(values) < minimum:
            raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers >= {minimum}, got {text!r}")
        return values

    return parse


def _sections(text: str) -> list[str]:
    names = [v.strip() for v in text.split(",") if v.strip()]
    allowed = ("floor", "steps", "epochs", "target")
    bad = [v for v in names if v not in allowed]
    if bad or not names:
        raise argparse.ArgumentTypeError(f"sections are among {', '.join(allowed)}; got {text!r}")
    return names


def _bench(args) -> int:
    from . import benchmarks

    benchmarks.run(quick=args.quick, n_threads=args.threads, rows=args.rows, params=args.params,
                   sections=args.sections, json_file=args.json, markdown_file=args.markdown, plot_file=args.plot,
                   progress=not args.no_progress)
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="descend", description="Gradient-descent training, fast: OpenMP C++ kernels under a NumPy API.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo", help="train logistic regression on breast_cancer with SGD, momentum and Adam",
        description="Train descend.LogisticRegression on scikit-learn's embedded breast_cancer data with SGD, "
                    "momentum and Adam side by side, and compare each with the exact optimum.")
    demo.add_argument("--epochs", type=int, default=100, help="epochs per optimizer (default 100)")
    demo.add_argument("--batch-size", type=int, default=32, help="rows per mini-batch (default 32)")
    demo.add_argument("--plot", default="descend-demo.png", metavar="FILE.png",
                      help="where to write the learning curves (default descend-demo.png; '' for none; "
                           "needs matplotlib)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="show how descend was built (show_config)")
    info.set_defaults(func=_info)
    bench = sub.add_parser(
        "bench", help="compare descend with NumPy, scikit-learn, PyTorch and the memory floor",
        description="Measure, in one run: the memory bandwidth, optimizer steps, training epochs on synthetic and "
                    "embedded data, and the time to reach 1% above the optimum; descend against a NumPy loop, "
                    "scikit-learn's SGD and a PyTorch eager loop (when torch is installed).")
    bench.add_argument("--quick", action="store_true", help="smaller problems, fewer repeats (under a minute)")
    bench.add_argument("--threads", type=int, default=None, metavar="N",
                       help="threads for descend and torch (default: all; negative counts back from the CPUs)")
    bench.add_argument("--rows", type=_ints_at_least(2), default=None, metavar="N,N",
                       help="rows of the synthetic epoch workloads (default 10000,100000,1000000; "
                            "10000,100000 with --quick)")
    bench.add_argument("--params", type=_ints_at_least(1), default=None, metavar="N,N",
                       help="parameters of the optimizer-step workloads (default 1000000,10000000)")
    bench.add_argument("--sections", type=_sections, default=["floor", "steps", "epochs", "target"], metavar="S,S",
                       help="what to measure, among floor,steps,epochs,target (default: all)")
    bench.add_argument("--json", metavar="FILE", help="write every measurement as JSON")
    bench.add_argument("--markdown", metavar="FILE", help="write the tables as Markdown")
    bench.add_argument("--plot", metavar="FILE.png", help="plot epoch time against data size (needs matplotlib)")
    bench.add_argument("--no-progress", action="store_true", help="no progress line on stderr")
    bench.set_defaults(func=_bench)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    for option in ("epochs", "batch_size"):
        if getattr(args, option, 1) < 1:
            parser.error(f"--{option.replace('_', '-')} must be at least 1")
    if args.command == "bench" and args.plot and "epochs" not in args.sections:
        parser.error("--plot draws the epochs: add 'epochs' to --sections")
    for option in ("plot", "json", "markdown"):  # a file that cannot be written: said before the work, not after
        path = getattr(args, option, None)
        if path:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder) or not os.access(folder, os.W_OK):
                parser.error(f"--{option} {path}: cannot write there (no such folder, or not writable: {folder})")
    if getattr(args, "threads", None) == 0:
        parser.error("--threads must not be 0 (None/omitted = all, negative counts back from the CPUs)")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
