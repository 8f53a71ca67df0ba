"""The ``descend`` command (also ``python -m descend``)."""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def _demo(args) -> int:
    """Full-batch logistic regression on breast_cancer with three optimizers side by side."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    from . import losses, optim

    X, y = load_breast_cancer(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y.astype(float), test_size=0.25, random_state=0,
                                                        stratify=y)
    scaler = StandardScaler().fit(X_train)
    X_train = np.ascontiguousarray(scaler.transform(X_train))
    X_test = scaler.transform(X_test)
    n, d = X_train.shape
    C = 1.0
    alpha = 1.0 / (C * n)  # scikit-learn's C * sum(loss) + ||w||^2 / 2, divided by C n

    exact = LogisticRegression(C=C, tol=1e-12, max_iter=10_000).fit(X_train, y_train)
    w_star, b_star = exact.coef_.ravel(), float(exact.intercept_[0])
    f_star = losses.logistic(X_train, y_train, w_star, b_star, alpha=alpha)[0]

    runs = {
        "sgd       lr=0.5": lambda p: optim.SGD(p, lr=0.5),
        "momentum  lr=0.5 mu=0.9": lambda p: optim.SGD(p, lr=0.5, momentum=0.9),
        "adam      lr=0.05": lambda p: optim.Adam(p, lr=0.05),
    }
    checkpoints = sorted({1, 5, 10, 25, 50, 100, 200, 400, args.steps} & set(range(1, args.steps + 1)))
    print(f"descend demo: logistic regression on breast_cancer ({n} train x {d} features, standardized),")
    print(f"full-batch gradient descent with the penalty of scikit-learn's C={C:g}; "
          f"exact optimum from scikit-learn's lbfgs: loss {f_star:.6f}\n")
    print("loss - optimum after each number of steps:")
    print(f"{'optimizer':<26}" + "".join(f"{s:>10}" for s in checkpoints))
    results = {}
    for name, make in runs.items():
        w, b = np.zeros(d), np.zeros(1)
        opt = make([w, b])
        gaps = []
        start = time.perf_counter()
        for step in range(1, args.steps + 1):
            loss, gw, gb = losses.logistic(X_train, y_train, w, b[0], alpha=alpha)
            opt.step([gw, np.array([gb])])
            if step in checkpoints:
                gaps.append(losses.logistic(X_train, y_train, w, b[0], alpha=alpha)[0] - f_star)
        elapsed = time.perf_counter() - start
        accuracy = float(np.mean(((X_test @ w + b[0]) > 0) == y_test))
        results[name] = (w.copy(), b[0], accuracy, elapsed)
        print(f"{name:<26}" + "".join(f"{g:>10.2e}" for g in gaps))
    print(f"\n{'optimizer':<26}{'|w - w*|':>10}{'test acc':>10}{'time':>10}")
    for name, (w, b, accuracy, elapsed) in results.items():
        dist = np.sqrt(np.sum((w - w_star) ** 2) + (b - b_star) ** 2)
        print(f"{name:<26}{dist:>10.2e}{accuracy:>10.3f}{elapsed * 1e3:>8.1f}ms")
    print(f"{'scikit-learn lbfgs':<26}{0.0:>10.2e}{exact.score(X_test, y_test):>10.3f}")
    print("\nPlain SGD crawls where the surface is flat; momentum and Adam get there in far fewer steps.")
    return 0


def _info(args) -> int:
    from . import show_config

    show_config()
    return 0


def _positive_ints(text: str) -> list[int]:
    try:
        values = [int(float(v)) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


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
    demo = sub.add_parser("demo", help="train logistic regression on breast_cancer with SGD, momentum and Adam")
    demo.add_argument("--steps", type=int, default=400, help="full-batch steps per optimizer (default 400)")
    demo.set_defaults(func=_demo)
    info = sub.add_parser("info", help="show how descend was built (show_config)")
    info.set_defaults(func=_info)
    bench = sub.add_parser(
        "bench", help="compare descend with NumPy, scikit-learn, PyTorch and the memory floor",
        description="Measure, in one run: the memory bandwidth, optimizer steps, training epochs on synthetic and "
                    "embedded data, and the time to reach 1%% above the optimum; descend against a NumPy loop, "
                    "scikit-learn's SGD and a PyTorch eager loop (when torch is installed).")
    bench.add_argument("--quick", action="store_true", help="smaller problems, fewer repeats (under a minute)")
    bench.add_argument("--threads", type=int, default=None, metavar="N",
                       help="threads for descend and torch (default: all; negative counts back from the CPUs)")
    bench.add_argument("--rows", type=_positive_ints, default=None, metavar="N,N",
                       help="rows of the synthetic epoch workloads (default 10000,100000,1000000; "
                            "10000,100000 with --quick)")
    bench.add_argument("--params", type=_positive_ints, default=None, metavar="N,N",
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
    if getattr(args, "steps", 1) < 1:
        parser.error("--steps must be at least 1")
    if getattr(args, "threads", None) == 0:
        parser.error("--threads must not be 0 (None/omitted = all, negative counts back from the CPUs)")
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
