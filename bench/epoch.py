#!/usr/bin/env python
"""One epoch of mini-batch logistic regression: descend against the memory floor, NumPy,
scikit-learn and PyTorch, and the time each takes to get within 1% of the optimum.

    python bench/epoch.py                  # X 1,000,000 x 100 (about two minutes on two cores)
    python bench/epoch.py --quick          # X 200,000 x 100 (well under a minute)
    python bench/epoch.py --json out.json  # also save every measurement

Everything is measured in one process, in one run, on dense synthetic data in float64 and in
float32 (the same numbers, cast), with batches of 256 rows, Adam (lr 1e-3) and an L2 penalty
alpha = 1e-4 in descend's mean-loss convention: objective = mean log-loss + alpha/2 |w|^2.

1. One epoch (`epoch_times`):

   - floor: the time to read X once with all threads (``descend._core.bandwidth_read`` on
     ``X.ravel()``, the min of several reads). An epoch reads every row of X at least once.
   - descend with all threads and with one, shuffle=True and shuffle=False: fit(max_iter=4,
     schedule="constant", tol=None) and take the median of ``history_["time"]`` (the seconds of
     each C++ epoch call) over the epochs after the first.
   - a plain NumPy loop: shuffle the row ids with NumPy, then per batch gather X[idx], z = Xb w + b,
     sigmoid, gradient, Adam update (the same equations as torch.optim.Adam) in X's dtype.
   - scikit-learn SGDClassifier(loss="log_loss", alpha=1e-4, max_iter=1, tol=None, shuffle=True,
     learning_rate="optimal"): the whole fit() call (which includes its input validation).
   - PyTorch eager (when importable): nn.Linear(d, 1), BCEWithLogitsLoss, torch.optim.Adam
     (lr 1e-3, weight_decay alpha on the weights only, which is the same L2 term), batches from a
     torch.randperm index into torch.from_numpy(X), torch.set_num_threads = descend's threads.
     If an epoch takes longer than a time budget, the rest is extrapolated from the batches done,
     and the output says so.

   The contenders take turns over a few rounds (3; 2 with --quick), so that a slow or fast spell
   of the machine is shared by all of them; each figure is the median over all the rounds (the
   floor: the minimum).

2. Time to target (`target_section`): the optimum f* of the objective comes from scikit-learn's
   LogisticRegression (lbfgs, C = 1/(n alpha), tol 1e-10), evaluated with descend.losses.logistic
   (its gradient norm there is printed); each contender trains from scratch until the full
   objective (on the float64 data) is within 1% of f*, for at most 5 epochs (10 with --quick,
   whose smaller problem takes more epochs). The clock runs while it trains, including its own
   input checks, and stops while the full objective is evaluated: after every epoch for descend
   (fit with a callback) and scikit-learn (partial_fit), which train an epoch per call; after every
   tenth of an epoch for the NumPy and PyTorch loops, which favours them.

The machine is shared with other processes, and a 2-thread OpenMP loop slows down many times
over when another process takes one of the two cores. So: before measuring, the script waits (at
most --max-wait seconds) for the 1-minute load average to fall below 0.6; before each round, for
the other processes' CPU use (busy time from /proc/stat less this process's own) to drop; and a
measurement during which other processes used more than 0.3 CPUs is redone (at most twice). The
load and the other processes' CPU use during each measurement are printed.
"""

from __future__ import annotations

import argparse
import datetime
import gc
import io
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings

import numpy as np

from _machine import cpu_model  # bench/ is on sys.path (the script's folder, or conftest's)
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression
from sklearn.linear_model import SGDClassifier

import descend
from descend import _core
from descend.benchmarks import ALPHA, BATCH, LEARNING_RATE, NumpyLoop, TorchLoop  # the settings of descend's peers
from descend.benchmarks import loop_epoch
from descend._validation import resolve_n_threads

try:
    import torch
except ImportError:  # the PyTorch contender is skipped
    torch = None

try:
    from threadpoolctl import threadpool_info
except ImportError:
    threadpool_info = None


# The problem and the training settings shared by every contender (Adam's learning rate, betas
# and eps and the L2 penalty ALPHA are descend.benchmarks', which the loops use).
SIGNAL = 8.0         # |w*|: z = X w* has standard deviation 8, a well-separated problem
TARGET = 0.01        # time to reach f <= (1 + TARGET) f*
DISTURBED = 0.3      # CPUs used by other processes during a measurement above which it is redone
SEED = 20261123

DESCEND_VARIANTS = [  # (key, all threads?, shuffle)
    ("descend", True, True),
    ("descend in order", True, False),
    ("descend 1 thread", False, True),
    ("descend 1 thread in order", False, False),
]
PEERS = ["numpy", "sklearn", "torch"]
LABELS = {"numpy": "NumPy", "sklearn": "scikit-learn", "torch": "PyTorch"}


# ---------------------------------------------------------------------------------------------
# Machine, load and formatting
# ---------------------------------------------------------------------------------------------



def machine_info(n_threads: int) -> dict:
    config = descend.show_config(file=io.StringIO())
    info = {
        "cpu": cpu_model(),
        "cpus": config["cpu_count"],
        "simd_runtime": config["simd_runtime"],
        "descend": config["version"],
        "compiler": config["compiler"],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "sklearn": sklearn.__version__,
        "torch": torch.__version__ if torch is not None else None,
        "n_threads": n_threads,
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    if threadpool_info is not None:
        info["blas"] = ", ".join(sorted({f"{p.get('internal_api')} {p.get('num_threads')} threads"
                                         for p in threadpool_info() if p.get("user_api") == "blas"})) or None
    return info


class CpuUse:
    """CPUs used by other processes (and the hypervisor's steal time) between two snapshots:
    busy time of the whole machine from /proc/stat less this process's own CPU time."""

    def __init__(self):
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.available = self._machine_busy() is not None

    def _machine_busy(self):
        try:
            with open("/proc/stat") as f:
                parts = f.readline().split()
        except OSError:
            return None
        if not parts or parts[0] != "cpu":
            return None
        v = [int(x) for x in parts[1:9]] + [0] * 8
        # user nice system idle iowait irq softirq steal (guest time is included in user)
        return (sum(v[:8]) - v[3] - v[4]) / self.tick

    def snapshot(self):
        return time.perf_counter(), self._machine_busy(), time.process_time()

    def others(self, a, b):
        """Average number of CPUs other processes used from snapshot a to snapshot b."""
        if a[1] is None or b[1] is None or b[0] - a[0] < 0.2:  # /proc/stat counts in 10 ms ticks
            return None
        return max(0.0, (b[1] - a[1]) - (b[2] - a[2])) / (b[0] - a[0])


CPU = CpuUse()


def wait_for_load(threshold: float, max_wait: float, log, poll: float = 5.0) -> dict:
    """Wait until the 1-minute load average is below `threshold` (at most max_wait seconds)."""
    start = time.monotonic()
    load = os.getloadavg()[0]
    announced = False
    while load >= threshold and time.monotonic() - start < max_wait:
        if not announced:
            log(f"waiting for the 1-minute load average ({load:.2f}) to fall below {threshold} "
                f"(at most {max_wait:.0f} s) ...")
            announced = True
        time.sleep(poll)
        load = os.getloadavg()[0]
    waited = time.monotonic() - start
    ok = load < threshold
    if not ok:
        log(f"WARNING: the load average is still {load:.2f} after {waited:.0f} s: measuring anyway, "
            f"the figures may be slower than on an idle machine")
    elif announced:
        log(f"load average {load:.2f} after waiting {waited:.0f} s")
    return {"load": load, "waited_s": waited, "below_threshold": ok, "threshold": threshold}


def wait_quiet(max_wait: float, limit: float = 0.2, window: float = 0.5):
    """Wait (at most max_wait seconds) until other processes use less than `limit` CPUs over a
    `window`; returns their use in the last window (None without /proc/stat)."""
    if not CPU.available or max_wait <= 0:
        return None
    start = time.monotonic()
    while True:
        a = CPU.snapshot()
        time.sleep(window)
        used = CPU.others(a, CPU.snapshot())
        if used is None or used < limit or time.monotonic() - start >= max_wait:
            return used


def fmt_time(s) -> str:
    if s is None:
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1.0:
        return f"{s * 1e3:.1f} ms" if s < 0.1 else f"{s * 1e3:.0f} ms"
    return f"{s:.2f} s"


def fmt_ratio(x) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


def fmt_cpu(x) -> str:
    return "?" if x is None else f"{x:.2f}"


def settle():
    """Let the OpenMP workers of the previous contender (descend's and torch's runtimes are
    separate) stop spinning before the next one starts."""
    time.sleep(0.05)


# ---------------------------------------------------------------------------------------------
# The problem
# ---------------------------------------------------------------------------------------------

def make_problem(n_rows: int, n_features: int, seed: int = SEED) -> dict:
    """X standard normal (float64, and the same numbers in float32), y ~ Bernoulli(sigmoid(X w*))
    with |w*| = SIGNAL."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, n_features))
    w_true = rng.standard_normal(n_features)
    w_true *= SIGNAL / np.linalg.norm(w_true)
    z = X @ w_true + 0.5
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    return {"float64": (X, y), "float32": (X.astype(np.float32), y.astype(np.float32)), "w_true": w_true}


def objective(X64, y64, w, b, n_threads) -> float:
    """The full objective (mean log-loss + alpha/2 |w|^2) on the float64 problem."""
    w = np.ascontiguousarray(np.ravel(w), dtype=np.float64)
    return float(descend.losses.logistic(X64, y64, w, float(np.ravel(b)[0]), alpha=ALPHA, n_threads=n_threads)[0])


def optimum(X64, y64, n_threads) -> dict:
    """f* from scikit-learn's lbfgs on the same objective (C = 1 / (n alpha))."""
    n = X64.shape[0]
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = SklearnLogisticRegression(C=1.0 / (n * ALPHA), tol=1e-10, max_iter=1000).fit(X64, y64)
    seconds = time.perf_counter() - start
    loss, grad_w, grad_b = descend.losses.logistic(X64, y64, model.coef_.ravel(), float(model.intercept_[0]),
                                                   alpha=ALPHA, n_threads=n_threads)
    grad_norm = float(np.sqrt(np.sum(grad_w ** 2) + grad_b ** 2))
    return {"loss": float(loss), "grad_norm": grad_norm, "iterations": int(np.max(model.n_iter_)),
            "seconds": seconds, "solver": "scikit-learn LogisticRegression(lbfgs)"}


# ---------------------------------------------------------------------------------------------
# The contenders
# ---------------------------------------------------------------------------------------------

def descend_model(n_threads: int, shuffle: bool, max_iter: int, random_state: int = 0, **kwargs):
    return descend.LogisticRegression(optimizer="adam", learning_rate=LEARNING_RATE, batch_size=BATCH,
                                      max_iter=max_iter, schedule="constant", tol=None, alpha=ALPHA,
                                      shuffle=shuffle, random_state=random_state, n_threads=n_threads, **kwargs)


def sgd_classifier(random_state: int = 0) -> SGDClassifier:
    return SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=1, tol=None, shuffle=True,
                         random_state=random_state)


def numpy_loop(X, y, seed: int, shuffle: bool = True):
    """The plain NumPy mini-batch Adam loop (descend.benchmarks.NumpyLoop, shared with `descend
    bench`), started where descend starts: w = 0, b = the prior log-odds."""
    return NumpyLoop("logistic", X, y, seed=seed, shuffle=shuffle)


def torch_loop(X, y, seed: int, shuffle: bool = True):
    """The usual PyTorch eager loop (descend.benchmarks.TorchLoop): nn.Linear, BCEWithLogitsLoss,
    torch.optim.Adam; the caller sets torch's threads."""
    return TorchLoop("logistic", X, y, torch.get_num_threads(), seed=seed, shuffle=shuffle)


# ---------------------------------------------------------------------------------------------
# 1. One epoch
# ---------------------------------------------------------------------------------------------

def measured(fn, *, retries: int, quiet_wait: float, min_window: float = 0.3) -> tuple:
    """(fn(), others' CPU use during it, retries made): fn is run again (at most `retries` times,
    after waiting for quiet) when other processes used more than DISTURBED CPUs meanwhile. The
    others' use is taken over at least `min_window` seconds (sleeping after fn if it was quicker),
    as /proc/stat counts in 10 ms ticks."""
    for attempt in range(retries + 1):
        if attempt:
            wait_quiet(quiet_wait)
        if min_window > 0:
            settle()
        a = CPU.snapshot()
        value = fn()
        left = min_window - (time.perf_counter() - a[0])
        if left > 0:
            time.sleep(left)
        used = CPU.others(a, CPU.snapshot())
        if used is None or used <= DISTURBED:
            break
    return value, used, attempt


def epoch_times(X, y, *, n_threads, rounds, epochs, warmup, torch_budget, quiet_wait, retries=2,
                min_window=0.5) -> dict:
    """Every contender's epoch time on (X, y): `rounds` rounds of all the contenders in turn."""
    names = ["floor"] + [v[0] for v in DESCEND_VARIANTS] + ["numpy", "sklearn"] + (["torch"] if torch else [])
    records = {name: {"samples": [], "others_cpu": [], "retries": 0} for name in names}
    models = {}
    flat = X.ravel()

    def floor():
        _core.bandwidth_read(flat, n_threads)  # warm-up
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            _core.bandwidth_read(flat, n_threads)
            times.append(time.perf_counter() - t0)
        return times

    def fit(key, threads, shuffle, r):
        model = descend_model(threads, shuffle, warmup + epochs, random_state=r)
        model.fit(X, y)
        models[key] = model
        return model.history_["time"][warmup:]

    def numpy_epoch(r):
        return [loop_epoch(numpy_loop(X, y, seed=r), budget=math.inf)[0]]

    def sklearn_epoch(r):
        model = sgd_classifier(random_state=r)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # max_iter=1: one epoch, on purpose
            t0 = time.perf_counter()
            model.fit(X, y)
            return [time.perf_counter() - t0]

    fractions = {}  # of the batches of the last torch epoch run (the one kept)

    def torch_epoch(r):
        seconds, fractions["torch"] = loop_epoch(torch_loop(X, y, seed=r), budget=torch_budget)
        return [seconds]

    gc.collect()
    gc_was = gc.isenabled()
    gc.disable()
    try:
        for r in range(rounds):
            wait_quiet(quiet_wait)
            tasks = [("floor", floor)]
            tasks += [(key, lambda key=key, a=a, s=s: fit(key, n_threads if a else 1, s, r))
                      for key, a, s in DESCEND_VARIANTS]
            tasks += [("numpy", lambda: numpy_epoch(r)), ("sklearn", lambda: sklearn_epoch(r))]
            if torch is not None:
                tasks.append(("torch", lambda: torch_epoch(r)))
            for name, fn in tasks:
                times, used, retried = measured(fn, retries=retries, quiet_wait=quiet_wait, min_window=min_window)
                rec = records[name]
                rec["samples"] += list(times)
                rec["others_cpu"].append(used)
                rec["retries"] += retried
                if name == "torch" and fractions["torch"] < 1:
                    rec["extrapolated_from"] = min(fractions["torch"], rec.get("extrapolated_from", 1.0))
    finally:
        if gc_was:
            gc.enable()

    for name, rec in records.items():
        t = rec["samples"]
        rec["seconds"] = min(t) if name == "floor" else statistics.median(t)
        used = [u for u in rec["others_cpu"] if u is not None]
        rec["others_cpu_max"] = max(used) if used else None
    records["_models"] = models
    return records


def epoch_section(dtype_name, X, y, n_threads, args, log) -> dict:
    log(f"1. One epoch, {dtype_name} (X {X.nbytes / 1e6:,.0f} MB, {-(-X.shape[0] // BATCH):,} batches of {BATCH})")
    res = epoch_times(X, y, n_threads=n_threads, rounds=args["rounds"], epochs=args["epochs"],
                      warmup=args["warmup"], torch_budget=args["torch_budget"], quiet_wait=args["quiet_wait"],
                      retries=args["retries"], min_window=args["min_window"])
    floor = res["floor"]["seconds"]
    main = res["descend"]["seconds"]
    rows = [
        ("floor", f"floor: read X once ({n_threads} threads)", "min of reads; "
         f"{X.nbytes / floor / 1e9:.1f} GB/s"),
        ("descend", f"descend, {n_threads} threads, shuffled", f"median of epochs {args['warmup'] + 1}-"
         f"{args['warmup'] + args['epochs']} of each fit"),
        ("descend in order", f"descend, {n_threads} threads, in order", "shuffle=False"),
        ("descend 1 thread", "descend, 1 thread, shuffled", ""),
        ("descend 1 thread in order", "descend, 1 thread, in order", "shuffle=False"),
        ("numpy", "NumPy loop, shuffled", "NumPy Adam, X[idx] gather"),
        ("sklearn", "scikit-learn SGDClassifier", "whole fit(): includes input validation"),
        ("torch", f"PyTorch eager loop ({n_threads} threads)", "nn.Linear + Adam"),
    ]
    log(f"  {'contender':<36} {'epoch':>9} {'/ floor':>8} {'/ descend':>9} {'others CPU':>10}   note")
    for key, label, note in rows:
        if key not in res:
            log(f"  {label:<36} skipped: torch is not installed")
            continue
        rec = res[key]
        t = rec["seconds"]
        if key == "torch" and "extrapolated_from" in rec:
            note += f"; extrapolated from the first {rec['extrapolated_from']:.0%} of the batches"
        rec["vs_floor"] = t / floor
        if key != "floor":
            rec["vs_descend"] = t / main
        if rec["retries"]:
            note += f"{'; ' if note else ''}{rec['retries']} measurement(s) redone: other processes were busy"
        log(f"  {label:<36} {fmt_time(t):>9} {fmt_ratio(t / floor):>8} "
            f"{fmt_ratio(t / main) if key != 'floor' else '':>9} {fmt_cpu(rec['others_cpu_max']):>10}   "
            f"{note}".rstrip())
    res["summary"] = summary_line(dtype_name, res)
    log("")
    return res


def summary_line(dtype_name, res) -> str:
    floor, main = res["floor"]["seconds"], res["descend"]["seconds"]
    peers = ", ".join(f"{LABELS[p]} {fmt_ratio(res[p]['seconds'] / main)}" for p in PEERS if p in res)
    return (f"descend adam epoch ({dtype_name}): {fmt_time(main)} = {fmt_ratio(main / floor)} the read-once "
            f"floor ({fmt_time(floor)}); faster than {peers}")


# ---------------------------------------------------------------------------------------------
# 2. Time to target
# ---------------------------------------------------------------------------------------------

class Clock:
    """Training time, with the evaluations of the objective left out."""

    def __init__(self):
        self.start = time.perf_counter()
        self.paused = 0.0

    def now(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def evaluate(self, fn):
        t0 = time.perf_counter()
        value = fn()
        self.paused += time.perf_counter() - t0
        return value


def target_descend(X, y, evaluate, target, max_epochs, n_threads) -> dict:
    trajectory = []

    def callback(model, record):
        t = clock.now()
        f = clock.evaluate(lambda: evaluate(model.coef_, model.intercept_))
        trajectory.append((float(record["epoch"]), t, f))
        return f <= target

    model = descend_model(n_threads, True, max_epochs, random_state=0, callback=callback)
    clock = Clock()
    model.fit(X, y)
    return {"trajectory": trajectory, "checks": "every epoch"}


def target_sklearn(X, y, evaluate, target, max_epochs) -> dict:
    trajectory = []
    model = sgd_classifier(random_state=0)
    classes = np.array([0, 1], dtype=y.dtype)
    clock = Clock()
    for epoch in range(1, max_epochs + 1):
        model.partial_fit(X, y, classes=classes)  # one epoch per call
        t = clock.now()
        f = clock.evaluate(lambda: evaluate(model.coef_, model.intercept_))
        trajectory.append((float(epoch), t, f))
        if f <= target:
            break
    return {"trajectory": trajectory, "checks": "every epoch (partial_fit)"}


def target_loop(loop, evaluate, target, max_epochs, checks_per_epoch, budget) -> dict:
    trajectory = []
    k = max(1, -(-loop.n_batches // checks_per_epoch))
    clock = Clock()
    reached = False
    for epoch in range(max_epochs):
        loop.start_epoch()
        for k0 in range(0, loop.n_batches, k):
            k1 = min(loop.n_batches, k0 + k)
            loop.run(k0, k1)
            t = clock.now()
            f = clock.evaluate(lambda: evaluate(*loop.params()))
            trajectory.append((epoch + k1 / loop.n_batches, t, f))
            if f <= target:
                reached = True
                break
            if t > budget:
                break
        if reached or clock.now() > budget:
            break
    return {"trajectory": trajectory, "checks": f"every {k} batches (1/{checks_per_epoch} epoch)"}


def target_section(dtype_name, X, y, X64, y64, opt, n_threads, args, log) -> dict:
    f_star = opt["loss"]
    target = (1 + TARGET) * f_star
    max_epochs = args["target_epochs"]

    def evaluate(w, b):
        return objective(X64, y64, w, b, n_threads)

    log(f"2. Time to within {TARGET:.0%} of the optimum, {dtype_name}: f <= {target:.6f} "
        f"(at most {max_epochs} epochs; the clock stops while the full objective is evaluated)")
    contenders = {"descend": lambda: target_descend(X, y, evaluate, target, max_epochs, n_threads),
                  "numpy": lambda: target_loop(numpy_loop(X, y, seed=0), evaluate, target, max_epochs,
                                               args["checks_per_epoch"], args["target_budget"]),
                  "sklearn": lambda: target_sklearn(X, y, evaluate, target, max_epochs)}
    if torch is not None:
        contenders["torch"] = lambda: target_loop(torch_loop(X, y, seed=0), evaluate, target, max_epochs,
                                                  args["checks_per_epoch"], args["target_budget"])
    labels = {"descend": f"descend ({n_threads} threads)", "numpy": "NumPy loop", "sklearn": "scikit-learn SGD",
              "torch": f"PyTorch loop ({n_threads} threads)"}
    out = {"f_star": f_star, "target": target}
    gc.collect()
    log(f"  {'contender':<30} {'time':>11} {'epochs':>7} {'objective':>10} {'/ descend':>9} "
        f"{'others CPU':>10}   objective checked")
    for name, fn in contenders.items():
        wait_quiet(args["quiet_wait"])
        gc_was = gc.isenabled()
        gc.disable()
        try:
            rec, used, retried = measured(fn, retries=min(1, args["retries"]), quiet_wait=args["quiet_wait"],
                                          min_window=args["min_window"])
        finally:
            if gc_was:
                gc.enable()
        rec["others_cpu"], rec["retries"] = used, retried
        hit = next((p for p in rec["trajectory"] if p[2] <= target), None)
        rec["reached"] = hit is not None
        rec["seconds"] = hit[1] if hit else None
        rec["epochs"] = hit[0] if hit else rec["trajectory"][-1][0]
        rec["objective"] = hit[2] if hit else min(p[2] for p in rec["trajectory"])
        out[name] = rec
    main = out["descend"]["seconds"]
    for name in contenders:
        rec = out[name]
        if rec["reached"]:
            time_text, epochs_text = fmt_time(rec["seconds"]), f"{rec['epochs']:.1f}"
            faster = fmt_ratio(rec["seconds"] / main) if main and name != "descend" else ""
            if name != "descend" and main:
                rec["descend_speedup"] = rec["seconds"] / main
        else:
            time_text, epochs_text = "not reached", f"> {rec['epochs']:.1f}"
            spent = rec["trajectory"][-1][1]
            faster = f"> {fmt_ratio(spent / main)}" if main else ""
        redone = "; redone once: other processes were busy" if rec["retries"] else ""
        log(f"  {labels[name]:<30} {time_text:>11} {epochs_text:>7} {rec['objective']:>10.6f} {faster:>9} "
            f"{fmt_cpu(rec['others_cpu']):>10}   {rec['checks']}{redone}")
    log("")
    return out


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def run(n_rows=1_000_000, n_features=100, *, dtypes=("float64", "float32"), n_threads=None, rounds=3, epochs=3,
        warmup=1, target_epochs=5, checks_per_epoch=10, torch_budget=6.0, target_budget=40.0, max_wait=180.0,
        quiet_wait=15.0, monitor=True, seed=SEED, log=print) -> dict:
    """The whole benchmark; returns every measurement (keys starting with '_' hold the problem and
    the fitted descend models, left out of the JSON). monitor=False skips the waits for a quiet
    machine and the re-measurements (for the smoke test)."""
    if not monitor:
        max_wait = quiet_wait = 0.0
    n_threads = resolve_n_threads(n_threads)
    if torch is not None:
        torch.set_num_threads(n_threads)
    args = dict(rounds=rounds, epochs=epochs, warmup=warmup, target_epochs=target_epochs,
                checks_per_epoch=checks_per_epoch, torch_budget=torch_budget, target_budget=target_budget,
                quiet_wait=quiet_wait, retries=2 if monitor else 0, min_window=0.3 if monitor else 0.0)
    info = machine_info(n_threads)
    log(f"descend {info['descend']}: one epoch of logistic regression by mini-batch Adam "
        f"({info['date']})")
    log(f"machine   {info['cpu']}, {info['cpus']} CPUs; descend runs its {info['simd_runtime']} kernels")
    log(f"software  Python {info['python']}, NumPy {info['numpy']}, scikit-learn {info['sklearn']}, "
        f"torch {info['torch'] or 'not installed'}; descend built by {info['compiler']}")
    log(f"threads   descend {n_threads} (and 1), torch {n_threads if torch else '-'} (set_num_threads), NumPy's BLAS "
        f"{info.get('blas') or '(unknown)'}; scikit-learn's SGD runs on one thread")
    log(f"problem   X {n_rows:,} x {n_features} standard normal, y ~ Bernoulli(sigmoid(X w* + 0.5)), "
        f"|w*| = {SIGNAL:g}; batch {BATCH}, Adam lr {LEARNING_RATE:g}, shuffled; objective mean log-loss "
        f"+ alpha/2 |w|^2, alpha = {ALPHA:g}")
    t0 = time.perf_counter()
    problem = make_problem(n_rows, n_features, seed)
    log(f"          (data made in {time.perf_counter() - t0:.1f} s)")
    results = {"machine": info, "settings": dict(n_rows=n_rows, n_features=n_features, batch=BATCH,
                                                 learning_rate=LEARNING_RATE, alpha=ALPHA, signal=SIGNAL,
                                                 target=TARGET, **args),
               "_problem": problem}
    load = wait_for_load(0.6, max_wait, log)
    results["load_start"] = load
    log(f"load      1-minute load average {load['load']:.2f} at the start; 'others CPU' below = CPUs used "
        f"by other processes during each measurement (max over rounds)")
    log(f"timing    {rounds} rounds, the contenders in turn; descend: the median of {epochs} epochs per fit "
        f"after {warmup} warm-up epoch(s); NumPy, scikit-learn, PyTorch: the median of one epoch per round")
    log("")

    for name in dtypes:
        X, y = problem[name]
        results[name] = {"epoch": epoch_section(name, X, y, n_threads, args, log)}
    if "float64" in results and "float32" in results:
        log("float32 against float64 (epoch time of float64 / float32):")
        ratios = {}
        for key in ["floor"] + [v[0] for v in DESCEND_VARIANTS] + PEERS:
            if key in results["float64"]["epoch"] and key in results["float32"]["epoch"]:
                ratios[key] = results["float64"]["epoch"][key]["seconds"] / results["float32"]["epoch"][key]["seconds"]
        results["float32_speedup"] = ratios
        log("  " + ", ".join(f"{k} {fmt_ratio(v)}" for k, v in ratios.items()))
        log("")

    X64, y64 = problem["float64"]
    opt = optimum(X64, y64, n_threads)
    results["optimum"] = opt
    log(f"optimum   f* = {opt['loss']:.8f} ({opt['solver']}, {opt['iterations']} iterations, "
        f"{opt['seconds']:.1f} s; |grad f| = {opt['grad_norm']:.1e} there)")
    log("")
    for name in dtypes:
        X, y = problem[name]
        results[name]["target"] = target_section(name, X, y, X64, y64, opt, n_threads, args, log)

    log("Summary")
    for name in dtypes:
        log("  " + results[name]["epoch"]["summary"])
        tt = results[name]["target"]
        d = tt["descend"]
        if d["reached"]:
            parts = []
            for p in PEERS:
                if p in tt:
                    rec = tt[p]
                    parts.append(f"{LABELS[p]} {fmt_ratio(rec['seconds'] / d['seconds'])}" if rec["reached"]
                                 else f"{LABELS[p]} not within {rec['epochs']:.0f} epochs")
            log(f"  descend to within {TARGET:.0%} of f* ({name}): {fmt_time(d['seconds'])} "
                f"({d['epochs']:.0f} epoch{'s' if d['epochs'] != 1 else ''}); faster than " + ", ".join(parts))
        else:
            log(f"  descend did not reach {TARGET:.0%} of f* in {d['epochs']:.0f} epochs ({name})")
    results["load_end"] = os.getloadavg()[0]
    log(f"  load average at the end: {results['load_end']:.2f} (this benchmark itself adds up to {n_threads})")
    return results


def to_json(obj):
    if isinstance(obj, dict):
        return {k: to_json(v) for k, v in obj.items() if not str(k).startswith("_")}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, (np.floating, np.integer)):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="200,000 rows, 2 rounds (well under a minute)")
    parser.add_argument("--json", metavar="PATH", help="also save every measurement as JSON")
    parser.add_argument("--rows", type=int, help="rows of X (default 1,000,000; 200,000 with --quick)")
    parser.add_argument("--threads", type=int, default=None, help="descend's n_threads (default: all)")
    parser.add_argument("--max-wait", type=float, default=None,
                        help="seconds to wait for the load average to fall below 0.6 (default 180; 15 with --quick)")
    args = parser.parse_args(argv)
    quick = args.quick
    kwargs = dict(n_rows=args.rows or (200_000 if quick else 1_000_000), n_threads=args.threads,
                  rounds=2 if quick else 3, torch_budget=2.0 if quick else 6.0, target_epochs=10 if quick else 5,
                  target_budget=10.0 if quick else 40.0,
                  max_wait=args.max_wait if args.max_wait is not None else (15.0 if quick else 180.0),
                  quiet_wait=5.0 if quick else 15.0)
    start = time.perf_counter()
    results = run(**kwargs)
    results["total_seconds"] = time.perf_counter() - start
    print(f"  total {results['total_seconds']:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(to_json(results), f, indent=1)
        print(f"saved {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
