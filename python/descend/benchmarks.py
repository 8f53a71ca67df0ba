"""descend against NumPy, scikit-learn, PyTorch and the memory-bandwidth floor, in one run.

``descend bench`` (or ``python bench/compare.py``) calls :func:`run`; ``--quick`` finishes in
under a minute on two cores. Everything is measured in one process:

1. **The floor.** The memory bandwidth with all threads and with one (a parallel read of a large
   array, and an in-place update ``x = a x + b`` counted as one read and one write), measured in
   C++. A data set's floor is the time to read its X once at that bandwidth; an optimizer
   step's floor is the bytes it must move (Adam: read p, g, m, v, write p, m, v) at the update
   bandwidth. A shuffled epoch visits X's rows in a random order, which memory serves more
   slowly than a stream (each row is a new page and a new DRAM row), so each epoch workload also
   gets a *shuffled floor*: its rows read once in a random order, each fetched 64 rows ahead of
   its use (the fastest distance measured; the engine's kernels fetch 16 ahead).
2. **Optimizer steps** on 1M and 10M float32 parameters: descend (all threads and one), the NumPy
   reference, and ``torch.optim`` (fused and default) when torch is installed.
3. **Epochs** of mini-batch Adam (batch 256, lr 1e-3, L2 alpha 1e-4, rows shuffled every
   epoch) on dense synthetic linear and logistic data (float32 and float64) and on
   breast_cancer and diabetes: descend (all threads and one, shuffling runs of 32 rows with
   ``shuffle=32``, and in order with ``shuffle=False``), a plain NumPy loop (the reference's equations), scikit-learn's
   SGDClassifier / SGDRegressor (one ``fit`` with ``max_iter=1``) and a PyTorch eager loop
   (``nn.Linear``, the same loss, batch and optimizer). The contenders take turns, epoch by
   epoch, so that a slow spell of a shared machine is shared by all; each figure is the median.
   The final objective and the peak memory (traced NumPy/Python allocations, one extra epoch) of
   each are reported too.
4. **Time to 1% above the optimum** on the largest synthetic logistic problem, the optimum from
   scikit-learn's lbfgs on the same objective.

Results print as tables while they are measured (progress on stderr), and can be written as
JSON, as Markdown and as a PNG plot of epoch time against data size (needs matplotlib).
"""

from __future__ import annotations

import datetime
import gc
import json
import math
import os
import platform
import statistics
import sys
import time
import tracemalloc
import warnings

import numpy as np

from . import _core
from .reference.train import batch_bounds

__all__ = ["run", "main"]

BATCH = 256
LEARNING_RATE = 1e-3
ALPHA = 1e-4
BETAS = (0.9, 0.999)
EPS = 1e-8
N_FEATURES = 100
TARGET = 0.01
RUN = 32  # descend's shuffle of runs of consecutive rows: shuffle=RUN
SEED = 20261123
PEERS = ("numpy", "sklearn", "torch")
LABELS = {"descend": "descend", "descend 1t": "descend, 1 thread", "descend in order": "descend, shuffle=False",
          "descend runs": f"descend, shuffle={RUN}",
          "numpy": "NumPy loop",
          "sklearn": "scikit-learn SGD", "torch": "PyTorch eager", "reference": "descend.reference (NumPy)",
          "torch fused": "torch.optim fused", "torch default": "torch.optim default"}


# ---------------------------------------------------------------------------------------------
# Machine, progress, formatting
# ---------------------------------------------------------------------------------------------

def cpu_model() -> str:
    """The CPU's model name, with its family and model numbers when /proc/cpuinfo has them."""
    fields = {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if key in ("model name", "cpu family", "model") and key not in fields:
                    fields[key] = value.strip()
                if not line.strip() and fields:
                    break
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or platform.machine()
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def fmt_time(s) -> str:
    if s is None or not math.isfinite(s):
        return "n/a"
    if s < 1e-3:
        return f"{s * 1e6:.0f} us"
    if s < 1.0:
        return f"{s * 1e3:.3g} ms"
    return f"{s:.3g} s"


def fmt_ratio(x) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x" if x < 100 else f"{x:.0f}x"


class _Output:
    """Tables on `out` as they are measured; a progress line on stderr between them."""

    def __init__(self, out, progress: bool):
        self.out = out
        self.progress = progress and sys.stderr.isatty()
        self._dirty = False

    def status(self, text: str):
        if self.progress:
            sys.stderr.write("\r\033[K" + text[:110])
            sys.stderr.flush()
            self._dirty = True

    def print(self, text: str = ""):
        if self._dirty:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._dirty = False
        print(text, file=self.out, flush=True)


def _table(rows, header) -> list[str]:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  " + "  ".join(str(h).ljust(w) if i == 0 else str(h).rjust(w) for i, (h, w) in
                              enumerate(zip(header, widths)))]
    for r in rows:
        lines.append("  " + "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in
                                      enumerate(zip(r, widths))))
    return lines


def timed_calls(fn, more) -> list:
    """Wall times of repeated fn() calls (time.perf_counter, garbage collector off), while
    more(count, seconds_so_far) says to go on."""
    times = []
    enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        while more(len(times), time.perf_counter() - start):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    finally:
        if enabled:
            gc.enable()
    return times


def _median_time(fn, repeats: int, budget: float) -> float:
    """Median of fn()'s wall time over `repeats` calls (fewer once `budget` seconds are spent),
    after one warm-up call, with the garbage collector off."""
    fn()
    return statistics.median(timed_calls(fn, lambda k, spent: k < repeats and (k < 3 or spent < budget)))


def measure_floor(n_threads: int, nbytes: int, repeats: int) -> dict:
    """Read and update bandwidths in bytes/s, all threads and one: the best of `repeats` calls
    (a floor is a lower bound on time, so the fastest probe defines it)."""
    x = np.ones(nbytes // 8)
    result = {}
    for threads in sorted({n_threads, 1}, reverse=True):
        _core.bandwidth_read(x, threads)
        best_read = min(_timed(lambda: _core.bandwidth_read(x, threads)) for _ in range(repeats))
        _core.bandwidth_update(x, 1.0, 0.0, threads)
        best_update = min(_timed(lambda: _core.bandwidth_update(x, 1.0, 0.0, threads)) for _ in range(repeats))
        result[threads] = {"read": x.nbytes / best_read, "update": 2 * x.nbytes / best_update}
    return {"read": result[n_threads]["read"], "update": result[n_threads]["update"],
            "read_1t": result[1]["read"], "update_1t": result[1]["update"], "array_bytes": x.nbytes}


def gather_floor(X, n_threads: int, repeats: int) -> float:
    """Seconds to read X's rows once in a random order (a fresh permutation each time), each row
    fetched well ahead of its use, in C++: the floor of a shuffled epoch. The best of `repeats`."""
    rng = np.random.default_rng(SEED)
    best = math.inf
    for _ in range(repeats):
        order = rng.permutation(X.shape[0])
        best = min(best, _timed(lambda: _core.bandwidth_gather(X, order, n_threads)))
    return best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# 2. Optimizer steps
# ---------------------------------------------------------------------------------------------

_STEP_BYTES = {"Adam": 28, "AdamW": 28, "SGD momentum": 20, "RMSprop": 20}  # float32: bytes per parameter


def _step_contenders(name, n_params, n_threads, torch):
    from . import optim, reference

    rng = np.random.default_rng(SEED)
    p0 = (0.05 * rng.standard_normal(n_params)).astype(np.float32)
    g = rng.standard_normal(n_params).astype(np.float32)
    make = {"Adam": (optim.Adam, reference.Adam, dict(lr=1e-3)),
            "AdamW": (optim.AdamW, reference.AdamW, dict(lr=1e-3)),
            "SGD momentum": (optim.SGD, reference.SGD, dict(lr=1e-3, momentum=0.9)),
            "RMSprop": (optim.RMSprop, reference.RMSprop, dict(lr=1e-3))}[name]
    ours_cls, ref_cls, kw = make
    contenders = {}
    for key, threads in (("descend", n_threads), ("descend 1t", 1)):
        p = p0.copy()
        opt = ours_cls([p], n_threads=threads, **kw)
        contenders[key] = (lambda opt=opt: opt.step([g]))
    p_ref = p0.copy()
    ref = ref_cls([p_ref], **kw)
    contenders["reference"] = lambda: ref.step([g])
    # one step of each from the same start must agree before anything is timed
    p_check = p0.copy()
    ours_cls([p_check], n_threads=n_threads, **kw).step([g])
    p_expect = p0.copy()
    ref_cls([p_expect], **kw).step([g])
    if not np.allclose(p_check, p_expect, rtol=1e-5, atol=1e-7):
        raise AssertionError(f"{name}: descend's step differs from the reference")
    if torch is not None:
        tcls = {"Adam": torch.optim.Adam, "AdamW": torch.optim.AdamW, "SGD momentum": torch.optim.SGD,
                "RMSprop": torch.optim.RMSprop}[name]
        fused_ok = name != "RMSprop"
        for key, opts in (("torch fused", dict(fused=True)), ("torch default", {})):
            if key == "torch fused" and not fused_ok:
                continue
            tp = torch.nn.Parameter(torch.from_numpy(p0.copy()))
            tp.grad = torch.from_numpy(g)
            topt = tcls([tp], **kw, **opts)
            contenders[key] = topt.step
    return contenders


def measure_steps(out: _Output, n_threads: int, sizes, floor: dict, repeats: int, torch) -> list[dict]:
    records = []
    for n_params in sizes:
        for name, per_param in _STEP_BYTES.items():
            out.status(f"optimizer steps: {name}, {n_params:,} params")
            contenders = _step_contenders(name, n_params, n_threads, torch)
            floor_s = per_param * n_params / floor["update"]
            rec = {"optimizer": name, "params": n_params, "bytes": per_param * n_params, "floor_s": floor_s,
                   "times": {}}
            for key, fn in contenders.items():
                budget = 0.5 if key == "reference" else 1.0
                rec["times"][key] = _median_time(fn, repeats if key != "reference" else max(3, repeats // 4), budget)
            records.append(rec)
    return records


def _print_steps(out: _Output, records):
    out.print(f"2. Optimizer steps, float32 parameters (median time per step; floor = bytes moved at the "
              f"update bandwidth)")
    header = ("step", "descend", "/ floor", "1 thread", "vs NumPy", "vs torch fused", "vs torch default")
    rows = []
    for r in records:
        t = r["times"]
        d = t["descend"]
        rows.append((f"{r['optimizer']} {r['params'] / 1e6:g}M", fmt_time(d), fmt_ratio(d / r["floor_s"]),
                     fmt_time(t["descend 1t"]), fmt_ratio(t["reference"] / d),
                     fmt_ratio(t["torch fused"] / d) if "torch fused" in t else "n/a",
                     fmt_ratio(t["torch default"] / d) if "torch default" in t else "n/a"))
    for line in _table(rows, header):
        out.print(line)
    out.print("  (vs X = the peer's time / descend's: above 1x descend is faster; torch has no fused RMSprop)")
    out.print()


# ---------------------------------------------------------------------------------------------
# 3. Epochs
# ---------------------------------------------------------------------------------------------

def _synthetic(n_rows: int, seed: int = SEED) -> dict:
    """X standard normal; logistic labels from a well-separated linear model; linear targets with
    noise (standard deviation about 1)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_rows, N_FEATURES))
    w = rng.standard_normal(N_FEATURES)
    z = X @ (w * (4.0 / np.linalg.norm(w))) + 0.5
    y_log = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    y_lin = X @ (w / np.linalg.norm(w)) + 0.5 * rng.standard_normal(n_rows) + 0.25
    return {"X": X, "logistic": y_log, "linear": y_lin}


def _embedded(name: str):
    from sklearn import datasets
    from sklearn.preprocessing import StandardScaler

    X, y = (datasets.load_breast_cancer if name == "breast_cancer" else datasets.load_diabetes)(return_X_y=True)
    X = np.ascontiguousarray(StandardScaler().fit_transform(X))
    y = y.astype(np.float64)
    if name == "diabetes":
        y = (y - y.mean()) / y.std()  # every contender sees the same, unit-scale target
    return X, y


def _objective(kind, X64, y64, w, b) -> float:
    from . import losses

    f = losses.logistic if kind == "logistic" else losses.squared_error
    w = np.ascontiguousarray(np.ravel(w), dtype=np.float64)
    with np.errstate(all="ignore"):
        return float(f(X64, y64, w, float(np.ravel(b)[0]), alpha=ALPHA)[0])


class _DescendContender:
    def __init__(self, kind, X, y, n_threads, shuffle=True):
        from . import LinearRegression, LogisticRegression

        cls = LogisticRegression if kind == "logistic" else LinearRegression
        self.model = cls(optimizer="adam", learning_rate=LEARNING_RATE, batch_size=BATCH, schedule="constant",
                         alpha=ALPHA, max_iter=1, tol=None, shuffle=shuffle, random_state=0, n_threads=n_threads)
        self.kind, self.X, self.y = kind, X, y
        self.classes = np.unique(y) if kind == "logistic" else None

    def epoch(self) -> float:
        """Seconds of the C++ epoch call (partial_fit's input checks are not counted)."""
        if self.kind == "logistic":
            self.model.partial_fit(self.X, self.y, classes=self.classes)
        else:
            self.model.partial_fit(self.X, self.y)
        return self.model.history_["time"][-1]

    def params(self):
        return np.ravel(self.model.coef_), np.ravel(self.model.intercept_)[0]


class _SklearnContender:
    """SGDClassifier / SGDRegressor: one epoch = fit(max_iter=1) (input checks included), or
    partial_fit when racing to the target."""

    def __init__(self, kind, X, y):
        from sklearn.linear_model import SGDClassifier, SGDRegressor

        if kind == "logistic":
            self.model = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=1, tol=None, random_state=0)
        else:
            self.model = SGDRegressor(alpha=ALPHA, max_iter=1, tol=None, random_state=0)
        self.kind, self.X, self.y = kind, X, y
        self.fitted = False

    def epoch(self) -> float:
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t0 = time.perf_counter()
            if self.fitted:  # later epochs continue training, as the others do
                self.model.partial_fit(self.X, self.y)
            else:
                self.model.fit(self.X, self.y)
                self.fitted = True
            return time.perf_counter() - t0

    def params(self):
        return np.ravel(self.model.coef_), np.ravel(self.model.intercept_)[0]


def adam_update(theta, m, v, g, t, lr=LEARNING_RATE, betas=BETAS, eps=EPS):
    """One Adam step in place, in NumPy (torch.optim.Adam's equations): the NumPy loops' update."""
    b1, b2 = betas
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * (g * g)
    denom = np.sqrt(v)
    denom /= math.sqrt(1 - b2 ** t)
    denom += eps
    theta -= (lr / (1 - b1 ** t)) * m / denom


def _batches(n):
    """(start, stop, share) of each batch of an epoch over n rows, as descend batches them
    (descend.reference.train.batch_bounds, batches of B = min(BATCH, n) rows): a short first batch
    steps by share = its rows / B of a batch (its gradient, penalty included, scaled by it)."""
    B = min(BATCH, n)
    bounds = batch_bounds(n, B)
    return [(a, b, (b - a) / B) for a, b in zip(bounds, bounds[1:])]


def start_intercept(kind, y) -> float:
    """Where descend starts the intercept, so that the loops start there too: the log-odds of
    the class prior for logistic regression; 0 for linear (descend standardizes y inside, which
    the loops do not imitate)."""
    if kind != "logistic":
        return 0.0
    p = float(np.clip(np.mean(y, dtype=np.float64), 1e-6, 1 - 1e-6))
    return math.log(p / (1 - p))


class NumpyLoop:
    """Mini-batch Adam in plain NumPy, in X's dtype: the equations of descend.reference, with the
    rows shuffled by NumPy (seeded; in order with shuffle=False) and each batch gathered with
    X[idx]. One parameter vector theta = (w, b), w = 0 and b = start_intercept."""

    def __init__(self, kind, X, y, *, seed: int = 0, shuffle: bool = True):
        n, d = X.shape
        self.kind, self.X, self.y, self.n, self.d = kind, X, y.astype(X.dtype, copy=False), n, d
        self.shuffle_rows = shuffle
        dt = X.dtype
        self.theta = np.zeros(d + 1, dtype=dt)
        self.theta[d] = start_intercept(kind, y)
        self.m = np.zeros(d + 1, dtype=dt)
        self.v = np.zeros(d + 1, dtype=dt)
        self.g = np.empty(d + 1, dtype=dt)
        self.t = 0
        self.rng = np.random.default_rng(seed)
        self.batches = _batches(n)
        self.n_batches = len(self.batches)
        self.order = np.arange(n)

    def start_epoch(self):
        if self.shuffle_rows:
            self.order = self.rng.permutation(self.n)

    def run(self, k0: int, k1: int):
        """Batches k0 .. k1 - 1 of the current epoch."""
        X, y, order, d = self.X, self.y, self.order, self.d
        theta, m, v, g = self.theta, self.m, self.v, self.g
        w, gw = theta[:d], g[:d]
        with np.errstate(over="ignore"):  # exp(-z) = inf for z << 0 gives p = 0, as it should
            for k in range(k0, k1):
                start, stop, share = self.batches[k]
                rows = order[start:stop]
                Xb = X[rows]
                z = Xb @ w
                z += theta[d]
                if self.kind == "logistic":
                    r = 1.0 / (1.0 + np.exp(-z))
                    r -= y[rows]
                else:
                    r = z - y[rows]
                r *= share / len(rows)  # the batch's mean, times its share of a batch
                np.matmul(r, Xb, out=gw)
                gw += (ALPHA * share) * w
                g[d] = r.sum()
                self.t += 1
                adam_update(theta, m, v, g, self.t)

    def epoch(self) -> float:
        return loop_epoch(self)[0]

    def params(self):
        return self.theta[:self.d].astype(np.float64), float(self.theta[self.d])


class TorchLoop:
    """The usual PyTorch eager loop: nn.Linear, BCEWithLogitsLoss / MSELoss, torch.optim.Adam with
    weight decay on the weights only (the same L2 term), batches from torch.randperm (seeded; in
    order with shuffle=False) indexing torch.from_numpy(X), started as NumpyLoop. epoch()
    extrapolates an epoch longer than `budget` seconds from the batches done (self.fraction)."""

    budget = 4.0

    def __init__(self, kind, X, y, n_threads, *, seed: int = 0, shuffle: bool = True):
        torch = _torch()
        self.torch = torch
        n, d = X.shape
        self.n, self.d, self.kind, self.shuffle_rows = n, d, kind, shuffle
        self.batches = _batches(n)
        self.n_batches = len(self.batches)
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y.astype(X.dtype, copy=False))
        self.model = torch.nn.Linear(d, 1, dtype=self.X.dtype)
        with torch.no_grad():
            self.model.weight.zero_()
            self.model.bias.fill_(start_intercept(kind, y))
        self.optimizer = torch.optim.Adam([{"params": [self.model.weight], "weight_decay": ALPHA},
                                           {"params": [self.model.bias], "weight_decay": 0.0}],
                                          lr=LEARNING_RATE, betas=BETAS, eps=EPS)
        # MSELoss is mean (z - y)^2: half of it is the objective's squared error
        self.loss_fn = torch.nn.BCEWithLogitsLoss() if kind == "logistic" else torch.nn.MSELoss()
        self.half = kind != "logistic"
        self.generator = torch.Generator().manual_seed(seed)
        self.order = torch.arange(n)
        self.fraction = 1.0
        self.threads = n_threads

    def start_epoch(self):
        if self.shuffle_rows:
            self.order = self.torch.randperm(self.n, generator=self.generator)

    def run(self, k0: int, k1: int):
        """Batches k0 .. k1 - 1 of the current epoch."""
        X, y, order, model, opt, loss_fn = self.X, self.y, self.order, self.model, self.optimizer, self.loss_fn
        for k in range(k0, k1):
            start, stop, share = self.batches[k]
            rows = order[start:stop]
            opt.zero_grad()
            loss = loss_fn(model(X[rows]).squeeze(1), y[rows])
            if self.half:
                loss = 0.5 * loss
            if share < 1:  # the short batch's step counts share of a batch, its penalty included
                loss = loss * share
                opt.param_groups[0]["weight_decay"] = ALPHA * share
            loss.backward()
            opt.step()
            if share < 1:
                opt.param_groups[0]["weight_decay"] = ALPHA

    def epoch(self) -> float:
        self.torch.set_num_threads(self.threads)
        seconds, self.fraction = loop_epoch(self, self.budget)
        return seconds

    def params(self):
        with self.torch.no_grad():
            return (self.model.weight.detach().numpy().ravel().astype(np.float64),
                    float(self.model.bias.detach().numpy()[0]))


def loop_epoch(loop, budget: float = math.inf) -> tuple:
    """(seconds of one epoch of a NumpyLoop or TorchLoop, fraction of its batches run): the batches
    run in chunks of a twentieth of the epoch, and after `budget` seconds the rest of the epoch is
    extrapolated from those done (the shuffle counted once)."""
    chunk = max(1, loop.n_batches // 20)
    start = time.perf_counter()
    loop.start_epoch()
    shuffled = time.perf_counter()
    done = 0
    while done < loop.n_batches:
        k1 = min(loop.n_batches, done + chunk)
        loop.run(done, k1)
        done = k1
        if time.perf_counter() - start > budget and done < loop.n_batches:
            break
    end = time.perf_counter()
    fraction = done / loop.n_batches
    return (shuffled - start) + (end - shuffled) / fraction, fraction


def _peak_memory(make, epochs=1) -> float:
    """Peak traced allocations (bytes) of building a contender and training it one epoch."""
    gc.collect()
    tracemalloc.start()
    try:
        c = make()
        for _ in range(epochs):
            c.epoch()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def measure_epochs(out: _Output, workloads, n_threads: int, floor: dict, rounds: int, torch) -> list[dict]:
    records = []
    for wl in workloads:
        X, y, kind = wl["X"], wl["y"], wl["kind"]
        makers = {
            "descend": lambda: _DescendContender(kind, X, y, n_threads),
            "descend 1t": lambda: _DescendContender(kind, X, y, 1),
            "descend in order": lambda: _DescendContender(kind, X, y, n_threads, shuffle=False),
            "descend runs": lambda: _DescendContender(kind, X, y, n_threads, shuffle=RUN),
            "numpy": lambda: NumpyLoop(kind, X, y),
            "sklearn": lambda: _SklearnContender(kind, X, y),
        }
        if torch is not None:
            makers["torch"] = lambda: TorchLoop(kind, X, y, n_threads)
        contenders = {key: make() for key, make in makers.items()}
        times = {key: [] for key in contenders}
        for r in range(rounds + 1):  # round 0 warms up (first epoch: page faults, allocations, threads)
            for key, c in contenders.items():
                out.status(f"epochs: {wl['name']}: {LABELS[key]}, round {r}/{rounds}")
                t = c.epoch()
                if r > 0:
                    times[key].append(t)
        X64 = wl["X64"]
        out.status(f"epochs: {wl['name']}: reading X's rows in a random order")
        rec = {"name": wl["name"], "kind": kind, "dtype": X.dtype.name, "rows": X.shape[0], "features": X.shape[1],
               "x_bytes": X.nbytes, "floor_s": X.nbytes / floor["read"], "floor_1t_s": X.nbytes / floor["read_1t"],
               "gather_floor_s": gather_floor(X, n_threads, 2 * rounds + 1),
               "epochs_measured": rounds, "times": {k: statistics.median(v) for k, v in times.items()},
               "objective": {k: _objective(kind, X64, wl["y64"], *c.params()) for k, c in contenders.items()},
               "objective_start": _objective(kind, X64, wl["y64"], np.zeros(X.shape[1]), 0.0),
               "extrapolated": {k: c.fraction for k, c in contenders.items()
                                if getattr(c, "fraction", 1.0) < 1.0},
               "memory": {}}
        for key in ("descend", "numpy", "sklearn"):
            out.status(f"epochs: {wl['name']}: peak memory of {LABELS[key]}")
            rec["memory"][key] = _peak_memory(makers[key])
        records.append(rec)
        del contenders
    return records


def _print_epochs(out: _Output, records, n_threads: int):
    out.print(f"3. One epoch of mini-batch Adam (batch {BATCH}, lr {LEARNING_RATE:g}, alpha {ALPHA:g}); median over "
              f"the rounds")
    header = ("workload", "floor", "shuffled floor", "descend", "/ floor", "/ shuffled floor", f"runs of {RUN}",
              "in order", "/ floor", "1 thread", "scaling", "peak mem / X")
    rows = []
    for r in records:
        t = r["times"]
        d, o = t["descend"], t["descend in order"]
        mem = r["memory"].get("descend")
        rows.append((f"{r['name']} {r['dtype']}", fmt_time(r["floor_s"]), fmt_time(r["gather_floor_s"]), fmt_time(d),
                     fmt_ratio(d / r["floor_s"]), fmt_ratio(d / r["gather_floor_s"]), fmt_time(t["descend runs"]),
                     fmt_time(o), fmt_ratio(o / r["floor_s"]), fmt_time(t["descend 1t"]),
                     fmt_ratio(t["descend 1t"] / d), f"{mem / r['x_bytes']:.3f}" if mem is not None else "n/a"))
    for line in _table(rows, header):
        out.print(line)
    out.print(f"  floor = reading X once in order with {n_threads} threads; shuffled floor = reading its rows once in a "
              f"random order (C++, prefetched)")
    out.print(f"  descend = rows shuffled every epoch (the default); runs of {RUN} = shuffle={RUN} (runs of {RUN} "
              f"consecutive rows in a random order); in order = shuffle=False; scaling = 1 thread / {n_threads} threads")
    out.print("  descend: the C++ epoch call, without partial_fit's input checks; scikit-learn: the whole fit call, "
              "checks included")
    out.print()
    header = ("workload", "descend", "NumPy loop", "scikit-learn", "PyTorch", "vs NumPy", "vs sklearn", "vs torch")
    rows = []
    for r in records:
        t = r["times"]
        d = t["descend"]
        note = " (extrapolated)" if "torch" in r["extrapolated"] else ""
        rows.append((f"{r['name']} {r['dtype']}", fmt_time(d), fmt_time(t["numpy"]), fmt_time(t["sklearn"]),
                     fmt_time(t.get("torch")) + note, fmt_ratio(t["numpy"] / d), fmt_ratio(t["sklearn"] / d),
                     fmt_ratio(t["torch"] / d) if "torch" in t else "n/a"))
    for line in _table(rows, header):
        out.print(line)
    out.print("  all shuffled every epoch; vs X = the peer's epoch / descend's")
    out.print()
    header = ("workload", "obj descend", "obj NumPy", "obj sklearn", "obj torch", "mem descend", "mem NumPy",
              "mem sklearn")
    rows = []
    for r in records:
        o, m = r["objective"], r["memory"]
        rows.append((f"{r['name']} {r['dtype']}", f"{o['descend']:.5g}", f"{o['numpy']:.5g}", f"{o['sklearn']:.5g}",
                     f"{o['torch']:.5g}" if "torch" in o else "n/a", _fmt_mb(m.get("descend")),
                     _fmt_mb(m.get("numpy")), _fmt_mb(m.get("sklearn"))))
    for line in _table(rows, header):
        out.print(line)
    out.print("  objective = mean loss + alpha/2 |w|^2 on the whole data after the epochs; mem = peak traced "
              "allocations of one epoch")
    out.print()


def _fmt_mb(b) -> str:
    return "n/a" if b is None else f"{b / 2**20:.1f} MB"


# ---------------------------------------------------------------------------------------------
# 4. Time to 1% above the optimum
# ---------------------------------------------------------------------------------------------

def _optimum(kind, X64, y64) -> float:
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, Ridge

    n = X64.shape[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if kind == "logistic":
            m = LogisticRegression(C=1.0 / (n * ALPHA), tol=1e-10, max_iter=1000).fit(X64, y64)
        else:
            m = Ridge(alpha=n * ALPHA, tol=1e-12).fit(X64, y64)
    return _objective(kind, X64, y64, m.coef_, m.intercept_)


def measure_target(out: _Output, wl, n_threads: int, max_epochs: int, torch) -> dict:
    """Seconds each contender trains before the full objective is within TARGET of f*; the clock
    stops while the objective is evaluated (after every epoch for descend, by a fit callback, and
    for scikit-learn, by partial_fit; every tenth of an epoch for the loops, which favours them)."""
    X, y, kind, X64, y64 = wl["X"], wl["y"], wl["kind"], wl["X64"], wl["y64"]
    out.status(f"time to target: the optimum ({wl['name']}, scikit-learn lbfgs)")
    f_star = _optimum(kind, X64, y64)
    goal = f_star * (1 + TARGET)
    result = {"name": wl["name"], "dtype": X.dtype.name, "optimum": f_star, "goal": goal, "max_epochs": max_epochs,
              "contenders": {}}
    makers = {"descend": lambda: _DescendContender(kind, X, y, n_threads),
              "numpy": lambda: NumpyLoop(kind, X, y),
              "sklearn": lambda: _SklearnContender(kind, X, y)}
    if torch is not None:
        makers["torch"] = lambda: TorchLoop(kind, X, y, n_threads)
    for key, make in makers.items():
        out.status(f"time to target: {LABELS[key]}")
        c = make()
        spent, epochs, reached, f = 0.0, 0.0, False, math.inf
        loops = key in ("numpy", "torch")
        checks = 10 if loops else 1
        if key == "descend":  # one fit, as users train: X is checked once, the callback stops it
            evaluation = [0.0, math.inf, 0]

            def check(est, record):
                t0 = time.perf_counter()
                evaluation[1] = _objective(kind, X64, y64, np.ravel(est.coef_), np.ravel(est.intercept_)[0])
                evaluation[2] += 1
                evaluation[0] += time.perf_counter() - t0
                return evaluation[1] <= goal

            c.model.set_params(max_iter=max_epochs, callback=check)
            t0 = time.perf_counter()
            c.model.fit(X, y)
            spent = time.perf_counter() - t0 - evaluation[0]
            f, epochs = evaluation[1], float(evaluation[2])
            reached = f <= goal
        for epoch in range(max_epochs):
            if reached or key == "descend":
                break
            if loops:
                if key == "torch":
                    torch.set_num_threads(n_threads)
                t0 = time.perf_counter()
                c.start_epoch()
                spent += time.perf_counter() - t0
                for i in range(checks):
                    k0, k1 = c.n_batches * i // checks, c.n_batches * (i + 1) // checks
                    t0 = time.perf_counter()
                    c.run(k0, k1)
                    spent += time.perf_counter() - t0
                    epochs = epoch + (i + 1) / checks
                    f = _objective(kind, X64, y64, *c.params())
                    if f <= goal:
                        reached = True
                        break
            else:
                t0 = time.perf_counter()
                c.epoch()
                spent += time.perf_counter() - t0  # the whole call, input checks included
                epochs += 1
                f = _objective(kind, X64, y64, *c.params())
                reached = f <= goal
        result["contenders"][key] = {"seconds": spent if reached else None, "spent": spent, "epochs": epochs,
                                     "objective": f, "reached": reached, "checks_per_epoch": checks}
    return result


def _print_target(out: _Output, res):
    out.print(f"4. Time to within {TARGET:.0%} of the optimum: {res['name']} {res['dtype']}, f* = {res['optimum']:.6g} "
              f"(scikit-learn lbfgs), goal f <= {res['goal']:.6g}, at most {res['max_epochs']} epochs")
    d = res["contenders"]["descend"]["seconds"]
    rows = []
    for key, c in res["contenders"].items():
        s = c["seconds"]
        vs = "" if key == "descend" else (fmt_ratio(s / d) if s and d else
                                          (f"> {fmt_ratio(c['spent'] / d)}" if d else "n/a"))
        rows.append((LABELS[key], fmt_time(s) if c["reached"] else "not reached", f"{c['epochs']:.1f}",
                     f"{c['objective']:.6g}", vs))
    for line in _table(rows, ("contender", "time", "epochs", "objective", "vs descend")):
        out.print(line)
    out.print("  (the clock stops while the objective is evaluated: every epoch for descend and scikit-learn, every "
              "tenth of an epoch for the loops)")
    out.print()


# ---------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------

def machine_info(n_threads: int) -> dict:
    import sklearn

    from ._config import show_config
    import io

    config = show_config(file=io.StringIO())
    torch = _torch()
    return {"cpu": cpu_model(), "cpus": config["cpu_count"], "n_threads": n_threads,
            "simd": config["simd_runtime"], "descend": config["version"], "python": platform.python_version(),
            "numpy": np.__version__, "sklearn": sklearn.__version__,
            "torch": None if torch is None else torch.__version__, "load_average": _loadavg(),
            "date": datetime.datetime.now().isoformat(timespec="seconds")}


def _loadavg():
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def run(*, quick: bool = False, n_threads=None, rows=None, params=None, sections=("floor", "steps", "epochs", "target"),
        json_file=None, markdown_file=None, plot_file=None, out=None, progress: bool = True) -> dict:
    """Measure everything and print it; return the results as a dict (also written as JSON,
    Markdown and a PNG plot when the files are given).

    quick : smaller problems and fewer repeats (under a minute on two cores).
    n_threads : descend's (and torch's) threads; None = all (OpenMP's default).
    rows : row counts of the synthetic epoch workloads (default 10k, 100k and, unless quick, 1M).
    params : parameter counts of the optimizer steps (default 1M and 10M).
    sections : any of "floor" (always measured), "steps", "epochs", "target".
    """
    from ._validation import resolve_n_threads

    out = _Output(out or sys.stdout, progress)
    n_threads = resolve_n_threads(n_threads)
    torch = _torch()
    if torch is not None:
        torch.set_num_threads(n_threads)
    unknown = set(sections) - {"floor", "steps", "epochs", "target"}
    if unknown:
        raise ValueError(f"sections must be among floor, steps, epochs, target; got {sorted(unknown)}")
    rows = list(rows) if rows is not None else ([10_000, 100_000] if quick else [10_000, 100_000, 1_000_000])
    params = list(params) if params is not None else [1_000_000, 10_000_000]
    if any(int(r) < 2 for r in rows) or any(int(p) < 1 for p in params):
        raise ValueError("rows must be at least 2 and params at least 1")
    start = time.perf_counter()
    info = machine_info(n_threads)
    results = {"machine": info, "quick": quick, "settings": {"batch": BATCH, "learning_rate": LEARNING_RATE,
                                                             "alpha": ALPHA, "features": N_FEATURES}}
    out.print(f"descend {info['descend']} benchmark on {info['cpu']} ({info['cpus']} CPUs, {n_threads} threads, "
              f"{info['simd']}); numpy {info['numpy']}, scikit-learn {info['sklearn']}, "
              f"torch {info['torch'] or 'not installed (its columns are n/a)'}; load average {info['load_average']}")
    out.print()

    out.status("measuring the memory bandwidth")
    floor = measure_floor(n_threads, (256 if quick else 1024) * 2**20, 5 if quick else 10)
    results["floor"] = floor
    out.print(f"1. Memory bandwidth ({floor['array_bytes'] / 2**20:.0f} MiB arrays): read {floor['read'] / 1e9:.1f} GB/s "
              f"with {n_threads} threads, {floor['read_1t'] / 1e9:.1f} GB/s with 1; in-place update "
              f"{floor['update'] / 1e9:.1f} GB/s, {floor['update_1t'] / 1e9:.1f} GB/s with 1")
    out.print()

    if "steps" in sections:
        results["steps"] = measure_steps(out, n_threads, params, floor, 20 if quick else 60, torch)
        _print_steps(out, results["steps"])

    data = {}

    def synthetic(n):
        if n not in data:
            data[n] = _synthetic(n)
        return data[n]

    workloads = []
    for n in rows:
        d = synthetic(int(n))
        for kind in ("logistic", "linear"):
            for dtype in (np.float64, np.float32):
                X = d["X"] if dtype == np.float64 else d["X"].astype(dtype)
                workloads.append({"name": f"{kind} {_rows_label(n)}x{N_FEATURES}", "kind": kind, "X": X,
                                  "y": d[kind].astype(dtype), "X64": d["X"], "y64": d[kind], "rows_n": n})
    for name, kind in (("breast_cancer", "logistic"), ("diabetes", "linear")):
        X, y = _embedded(name)
        workloads.append({"name": name, "kind": kind, "X": X, "y": y, "X64": X, "y64": y, "rows_n": X.shape[0]})

    if "epochs" in sections:
        results["epochs"] = measure_epochs(out, workloads, n_threads, floor, 2 if quick else 3, torch)
        _print_epochs(out, results["epochs"], n_threads)

    if "target" in sections:
        wl = max((w for w in workloads if w["name"].startswith("logistic") and w["X"].dtype == np.float64),
                 key=lambda w: w["rows_n"])
        results["target"] = measure_target(out, wl, n_threads, 10 if quick else 5, torch)
        _print_target(out, results["target"])

    results["seconds"] = time.perf_counter() - start
    out.print(f"(total {results['seconds']:.0f} s; load average now {_loadavg()})")
    if json_file:
        with open(json_file, "w") as f:
            json.dump(results, f, indent=1, default=float)
        out.print(f"wrote {json_file}")
    if markdown_file:
        with open(markdown_file, "w") as f:
            f.write(to_markdown(results))
        out.print(f"wrote {markdown_file}")
    if plot_file:
        try:
            plot(results, plot_file)
            out.print(f"wrote {plot_file}")
        except (ImportError, ValueError) as exc:
            out.print(f"no plot: {exc}")
    return results


def _rows_label(n: int) -> str:
    n = int(n)
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


def to_markdown(results: dict) -> str:
    """The results as Markdown tables."""
    m, f = results["machine"], results["floor"]
    lines = [f"Machine: {m['cpu']}, {m['cpus']} CPUs, {m['n_threads']} threads, {m['simd']}; descend {m['descend']}, "
             f"numpy {m['numpy']}, scikit-learn {m['sklearn']}, torch {m['torch']}; {m['date']}.", "",
             f"Memory bandwidth: read {f['read'] / 1e9:.1f} GB/s ({f['read_1t'] / 1e9:.1f} with 1 thread), "
             f"in-place update {f['update'] / 1e9:.1f} GB/s ({f['update_1t'] / 1e9:.1f} with 1 thread).", ""]
    if "steps" in results:
        lines += ["| optimizer step (float32) | descend | / floor | 1 thread | vs NumPy | vs torch fused | "
                  "vs torch default |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in results["steps"]:
            t, d = r["times"], r["times"]["descend"]
            lines.append(f"| {r['optimizer']} {r['params'] / 1e6:g}M | {fmt_time(d)} | {fmt_ratio(d / r['floor_s'])} | "
                         f"{fmt_time(t['descend 1t'])} | {fmt_ratio(t['reference'] / d)} | "
                         f"{fmt_ratio(t['torch fused'] / d) if 'torch fused' in t else 'n/a'} | "
                         f"{fmt_ratio(t['torch default'] / d) if 'torch default' in t else 'n/a'} |")
        lines.append("")
    if "epochs" in results:
        lines += ["| epoch, Adam, batch 256 | floor | shuffled floor | descend | / floor | / shuffled floor | "
                  f"runs of {RUN} | in order | / floor | 1 thread | NumPy loop | scikit-learn | PyTorch | vs NumPy | "
                  "vs sklearn | vs torch |", "|---|" + "---:|" * 15]
        for r in results["epochs"]:
            t, d = r["times"], r["times"]["descend"]
            tt, o = t.get("torch"), t["descend in order"]
            lines.append(f"| {r['name']} {r['dtype']} | {fmt_time(r['floor_s'])} | {fmt_time(r['gather_floor_s'])} | "
                         f"{fmt_time(d)} | {fmt_ratio(d / r['floor_s'])} | {fmt_ratio(d / r['gather_floor_s'])} | "
                         f"{fmt_time(t['descend runs'])} | {fmt_time(o)} | {fmt_ratio(o / r['floor_s'])} | {fmt_time(t['descend 1t'])} | "
                         f"{fmt_time(t['numpy'])} | {fmt_time(t['sklearn'])} | {fmt_time(tt)} | "
                         f"{fmt_ratio(t['numpy'] / d)} | {fmt_ratio(t['sklearn'] / d)} | "
                         f"{fmt_ratio(tt / d) if tt else 'n/a'} |")
        lines += ["", "floor: X read once in order; shuffled floor: its rows read once in a random order; descend "
                  f"shuffles rows every epoch, as the peers do; runs of {RUN}: descend with shuffle={RUN} (runs of "
                  f"{RUN} consecutive rows in a random order); in order: descend with shuffle=False.", ""]
    if "target" in results:
        res = results["target"]
        lines += [f"Time to within {TARGET:.0%} of the optimum, {res['name']} {res['dtype']} (f* = {res['optimum']:.6g}):",
                  "", "| contender | time | epochs | objective |", "|---|---:|---:|---:|"]
        for key, c in res["contenders"].items():
            lines.append(f"| {LABELS[key]} | {fmt_time(c['seconds']) if c['reached'] else 'not reached'} | "
                         f"{c['epochs']:.1f} | {c['objective']:.6g} |")
        lines.append("")
    return "\n".join(lines)


def plot(results: dict, file) -> None:
    """Epoch time against the number of rows per contender (synthetic logistic, float64), log-log."""
    try:
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("the plot needs matplotlib: pip install 'descend[plot]'") from exc
    recs = [r for r in results.get("epochs", []) if r["name"].startswith("logistic") and r["dtype"] == "float64"]
    if not recs:
        raise ValueError("no logistic float64 epochs to plot")
    recs.sort(key=lambda r: r["rows"])
    fig = Figure(figsize=(6.4, 4.4), layout="constrained")
    ax = fig.add_subplot()
    rows = [r["rows"] for r in recs]
    ax.plot(rows, [r["floor_s"] for r in recs], "k--", label="floor: read X once")
    ax.plot(rows, [r["gather_floor_s"] for r in recs], "k:", label="floor: read X's rows in a random order")
    for key in ("descend", "descend runs", "descend in order", "descend 1t", "numpy", "sklearn", "torch"):
        if all(key in r["times"] for r in recs):
            ax.plot(rows, [r["times"][key] for r in recs], "o-", label=LABELS[key])
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(f"rows (x {N_FEATURES} features, float64)")
    ax.set_ylabel("seconds per epoch")
    ax.set_title(f"One epoch of mini-batch Adam, logistic regression\n{results['machine']['cpu']}, "
                 f"{results['machine']['n_threads']} threads", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.savefig(file, dpi=120)


def main(argv=None) -> int:
    """``python bench/compare.py`` / ``descend bench``."""
    from .cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])
