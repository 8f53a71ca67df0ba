#!/usr/bin/env python
"""How close descend's kernels come to the memory floor, and how they compare with NumPy and PyTorch.

    python bench/kernels.py                 # full run (about two minutes on two cores)
    python bench/kernels.py --quick         # smaller problems, fewer repeats (well under a minute)
    python bench/kernels.py --json out.json # also save every measurement

Everything is measured in one run, on one machine, and printed as one table:

1. Memory bandwidth: the read bandwidth (``descend._core.bandwidth_read``, a parallel sum over a
   large array) and the in-place update bandwidth (``bandwidth_update``, x = a x + b, counted as
   2 x nbytes: one read, one write), with all threads and with one; torch's sum and in-place
   multiply with all threads, and NumPy's (single-threaded) sum, as cross-checks.
2. Losses (logistic, squared error) with their gradient on n x 100 in float64 and float32:
   descend's time against the floor (the time to read X once: the faster of bandwidth_read(X)
   and torch.sum(X)), against the NumPy reference and against the same computation in PyTorch
   (hand-written forward + backward, or autograd: whichever is faster), and descend with one
   thread against all of them.
3. Optimizer steps on float32 parameters: descend against the NumPy reference, torch.optim with
   its defaults (a per-tensor loop on CPU), foreach=True and fused=True, and against the floor =
   bytes the step must move (Adam: read p, g, m, v and write p, m, v = 28 bytes per parameter)
   at the update bandwidth (the faster of bandwidth_update and torch's mul_).

A floor is a lower bound on the time, so the fastest probe defines it. The machine this was
written on is shared and its memory bandwidth changes from one second to the next, so the floor
of each comparison is measured together with it: the contenders of a comparison (probes
included) take turns, round robin over a fixed number of cycles, each one's calls spread evenly
over all cycles, so that all of them sample the same slow and fast spells.
Timings are medians (at least a few repeats, more for fast operations, within a time budget),
with a warm-up call, time.perf_counter and the garbage collector off. descend and torch use the
same number of threads (torch.set_num_threads), and so does the BLAS under NumPy (threadpoolctl).
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
from contextlib import redirect_stdout, nullcontext

import numpy as np

from _machine import cpu_model  # bench/ is on sys.path (the script's folder, or conftest's)

import descend
from descend import _core, reference
from descend.benchmarks import timed_calls

try:
    import torch
    import torch.nn.functional as F
except ImportError:  # the torch columns are skipped
    torch = None

try:
    from threadpoolctl import threadpool_limits
except ImportError:
    threadpool_limits = None


# ---------------------------------------------------------------------------------------------
# Machine and timing
# ---------------------------------------------------------------------------------------------



def l3_bytes() -> int | None:
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as f:
            text = f.read().strip()
    except OSError:
        return None
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)


class CpuShare:
    """CPU time used by other processes while this one runs, from /proc/stat and os.times():
    on a shared machine, the figure that says whether the run can be trusted (a multi-threaded
    kernel waits for its slowest thread, and so for any CPU someone else is using)."""

    def __init__(self):
        self.start = (self._busy(), self._own(), time.perf_counter())

    @staticmethod
    def _busy():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _own():
        t = os.times()
        return t.user + t.system

    def others(self) -> float | None:
        """CPUs used on average by other processes since construction (e.g. 0.3 = 30% of one CPU)."""
        busy0, own0, wall0 = self.start
        busy1 = self._busy()
        if busy0 is None or busy1 is None:
            return None
        return max(0.0, (busy1 - busy0) - (self._own() - own0)) / (time.perf_counter() - wall0)


class Stat:
    """Times of the repeats of one measurement."""

    def __init__(self, times):
        self.times = list(times)
        self.median = statistics.median(self.times)
        self.min = min(self.times)
        self.repeats = len(self.times)

    def as_dict(self):
        q = statistics.quantiles(self.times, n=4) if self.repeats > 1 else [self.median] * 3
        return {"median_s": self.median, "min_s": self.min, "q1_s": q[0], "q3_s": q[2], "repeats": self.repeats}


class Timer:
    """Medians that hold up on a shared machine whose speed changes from one second to the next:
    the contenders of one comparison take turns, round robin over a fixed number of cycles, and
    each one's calls are spread evenly over all cycles, so that all of them sample the same slow
    and fast spells in the same proportions."""

    def __init__(self, quick: bool):
        self.scale = 0.25 if quick else 1.0
        self.cycles = 4 if quick else 8

    def run(self, fn, *, budget, min_repeats, warmup) -> list:
        """Times of fn() after `warmup` calls: repeats until both min_repeats and the time budget
        (seconds) are reached; time.perf_counter, garbage collector off."""
        for _ in range(warmup):
            fn()
        return timed_calls(fn, lambda k, spent: k < min_repeats or spent < budget)

    def compare(self, contenders: dict) -> dict:
        """{name: (fn, budget_s, min_repeats)} -> {name: Stat}. In cycle c of C, each contender
        runs until its timed calls reach (c + 1) / C of its budget (scaled down by --quick) and
        of its minimum count: a fast one gets a slice of every cycle, a slow one (a NumPy call
        of 0.5 s) one call every few cycles. A turn starts with a warm-up call (after another
        contender, caches are cold and the OpenMP workers asleep), except for calls slower than
        5 ms after their first turn, for which neither matters."""
        times = {name: [] for name in contenders}
        gc.collect()  # once: a full collection takes ~0.1 s with torch imported
        C = self.cycles
        for c in range(C):
            for name, (fn, budget, min_repeats) in contenders.items():
                done = times[name]
                target_time = budget * self.scale * (c + 1) / C
                target_count = math.ceil(min_repeats * (c + 1) / C)
                spent = sum(done)
                if len(done) >= target_count and spent >= target_time:
                    continue
                cheap = not done or statistics.median(done) < 5e-3
                done += self.run(fn, budget=target_time - spent, min_repeats=max(1, target_count - len(done)),
                                 warmup=1 if cheap else 0)
        return {name: Stat(t) for name, t in times.items()}


def fmt_time(s: float) -> str:
    if s < 1e-3:
        return f"{s * 1e6:7.1f} us"
    if s < 1.0:
        return f"{s * 1e3:7.2f} ms"
    return f"{s:7.3f} s "


def fmt_bytes(n: float) -> str:
    return f"{n / 1e9:.2f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


class Report:
    """Prints the table as it is measured and keeps every record for --json."""

    def __init__(self):
        self.records = []

    def print(self, text=""):
        print(text, flush=True)

    def row(self, label, stat: Stat | None, note="", **record):
        time_text = fmt_time(stat.median) if stat is not None else "       n/a"
        self.print(f"  {label:<38} {time_text}   {note}".rstrip())
        if stat is not None:
            self.records.append({"label": label, **record, **stat.as_dict()})


def ratio(x: float) -> str:
    return f"{x:.2f}x" if x < 10 else f"{x:.1f}x"


# ---------------------------------------------------------------------------------------------
# 1. Memory floor
# ---------------------------------------------------------------------------------------------

def read_probes(x, nt) -> dict:
    """Ways to read x once with nt threads: descend's probe, and torch's sum as a cross-check."""
    probes = {"bandwidth_read": lambda: _core.bandwidth_read(x, nt)}
    if torch is not None:
        tx = torch.from_numpy(x)
        probes["torch.sum"] = lambda: tx.sum()
    return probes


def update_probes(x, nt) -> dict:
    """Ways to update x in place once (one read and one write) with nt threads."""
    probes = {"bandwidth_update": lambda: _core.bandwidth_update(x, 1.0, 0.0, nt)}
    if torch is not None:
        tx = torch.from_numpy(x)
        probes["torch mul_"] = lambda: tx.mul_(1.0)
    return probes


def memory_floor(rep: Report, timer: Timer, nt: int, nbytes: int) -> dict:
    """The bandwidths of this machine, in bytes/s: the best probe with all threads, over both
    dtypes (memory does not care about the dtype). For the record and the JSON: each comparison
    below measures its own floor alongside its contenders."""
    rep.print(f"1. Memory bandwidth: {nbytes / 2**20:.0f} MiB arrays (the L3 holds "
              f"{(l3_bytes() or 0) / 2**20:.0f} MiB)")
    contenders, moved = {}, {}
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        x = np.full(nbytes // np.dtype(dtype).itemsize, 1.0, dtype=dtype)  # pages touched now
        for threads in sorted({nt, 1}, reverse=True):
            for label, fn in read_probes(x, threads).items():
                if threads == nt or label == "bandwidth_read":
                    contenders[("read", label, name, threads)] = (fn, 1.2, 12)
                    moved[("read", label, name, threads)] = x.nbytes
            if threads == 1:  # NumPy's sum is single-threaded: a cross-check of the 1-thread probe
                contenders[("read", "numpy sum", name, 1)] = (lambda x=x: np.add.reduce(x), 1.2, 12)
                moved[("read", "numpy sum", name, 1)] = x.nbytes
            for label, fn in update_probes(x, threads).items():
                if threads == nt or label == "bandwidth_update":
                    contenders[("update", label, name, threads)] = (fn, 1.2, 12)
                    moved[("update", label, name, threads)] = 2 * x.nbytes
    stats = timer.compare(contenders)
    best = {"read": (0.0, ""), "update": (0.0, "")}
    for key, s in sorted(stats.items(), key=lambda kv: (kv[0][0] != "read", kv[0][2], -kv[0][3])):
        kind, label, name, threads = key
        bw = moved[key] / s.median
        notes = (["counted as 2 x nbytes"] if kind == "update" else []) + \
            (["cross-check"] if label.startswith(("torch", "numpy")) else [])
        note = f" ({', '.join(notes)})" if notes else ""
        rep.row(f"{kind:<6} {label:<16} {name} {threads}t", s, f"{bw / 1e9:6.1f} GB/s{note}",
                section="memory", probe=label, dtype=name, threads=threads, gbps=bw / 1e9)
        if threads == nt and bw > best[kind][0]:
            best[kind] = (bw, f"{label}, {name}")
    rep.print(f"  best with {nt} threads: read {best['read'][0] / 1e9:.1f} GB/s ({best['read'][1]}), "
              f"update {best['update'][0] / 1e9:.1f} GB/s ({best['update'][1]})")
    rep.print()
    return {"read": best["read"][0], "update": best["update"][0],
            "read_probe": best["read"][1], "update_probe": best["update"][1]}


def best_probe(stats: dict, names) -> tuple:
    """(name, Stat) of the fastest of the probes `names` measured in one comparison."""
    return min(((name, stats[name]) for name in names), key=lambda kv: kv[1].median)


# ---------------------------------------------------------------------------------------------
# 2. Losses
# ---------------------------------------------------------------------------------------------

def torch_losses():
    """Hand-written forward + backward, and autograd, of the two losses in torch (mean over rows)."""

    def logistic_manual(Xt, yt, wt, b):
        z = torch.mv(Xt, wt) + b
        loss = (F.softplus(z) - yt * z).mean()
        dz = (torch.sigmoid(z) - yt) / Xt.shape[0]
        return loss.item(), torch.mv(Xt.t(), dz), dz.sum().item()

    def squared_manual(Xt, yt, wt, b):
        r = torch.mv(Xt, wt) + (b - yt)
        loss = 0.5 * torch.dot(r, r).item() / Xt.shape[0]
        dz = r / Xt.shape[0]
        return loss, torch.mv(Xt.t(), dz), dz.sum().item()

    def autograd(objective):
        def run(Xt, yt, wt, b):
            w = wt.detach().requires_grad_()
            bt = torch.tensor(b, dtype=wt.dtype, requires_grad=True)
            loss = objective(torch.mv(Xt, w) + bt, yt)
            loss.backward()
            return loss.item(), w.grad, bt.grad.item()
        return run

    return {
        "logistic": (logistic_manual, autograd(F.binary_cross_entropy_with_logits)),
        "squared_error": (squared_manual, autograd(lambda z, y: 0.5 * F.mse_loss(z, y))),
    }


TORCH_LOSS_VARIANTS = ("hand-written fwd+bwd", "autograd")


def losses(rep: Report, timer: Timer, nt: int, n_rows: int, summary: dict):
    d = 100
    rep.print(f"2. Loss + gradient of a linear model, X {n_rows:,} x {d}; floor = reading X once, "
              f"measured in the same comparison")
    tl = torch_losses() if torch is not None else None
    if tl is None:
        rep.print("  (torch is not importable: the torch rows are skipped)")
    rng = np.random.default_rng(0)
    for dtype in (np.float64, np.float32):
        name = np.dtype(dtype).name
        X = rng.standard_normal((n_rows, d), dtype=dtype)
        w_true = rng.standard_normal(d) / np.sqrt(d)
        z = X @ w_true.astype(dtype)
        targets = {"logistic": (rng.random(n_rows) < 1 / (1 + np.exp(-z))).astype(dtype),
                   "squared_error": (z + 0.5 * rng.standard_normal(n_rows)).astype(dtype)}
        w = (w_true + 0.1 * rng.standard_normal(d) / np.sqrt(d)).astype(dtype)
        b = 0.25
        Xt = torch.from_numpy(X) if torch is not None else None
        for loss_name in ("logistic", "squared_error"):
            y = targets[loss_name]
            ours, ref_fn = getattr(descend.losses, loss_name), getattr(reference, loss_name)

            # the results agree (the benchmark suite checks this more strictly)
            expected = ref_fn(X, y, w, b)
            tol = 1e-9 if dtype == np.float64 else 1e-5
            got = ours(X, y, w, b, n_threads=nt)
            np.testing.assert_allclose(got[0], expected[0], rtol=tol)
            np.testing.assert_allclose(got[1], expected[1], rtol=tol, atol=tol * np.abs(expected[1]).max())

            contenders = {f"read X: {k}": (fn, 0.6, 6) for k, fn in read_probes(X, nt).items()}
            contenders["descend"] = (lambda: ours(X, y, w, b, n_threads=nt), 1.5, 12)
            if nt > 1:
                contenders["descend 1t"] = (lambda: ours(X, y, w, b, n_threads=1), 1.0, 6)
            contenders["numpy"] = (lambda: ref_fn(X, y, w, b), 1.0, 3)
            if tl is not None:
                yt, wt = torch.from_numpy(y), torch.from_numpy(w)
                t_tol = 1e-9 if dtype == np.float64 else 1e-4
                for variant, fn in zip(TORCH_LOSS_VARIANTS, tl[loss_name]):
                    t_loss, t_grad, _ = fn(Xt, yt, wt, b)
                    np.testing.assert_allclose(t_loss, expected[0], rtol=t_tol)
                    np.testing.assert_allclose(t_grad.numpy(), expected[1], rtol=t_tol,
                                               atol=t_tol * np.abs(expected[1]).max())
                    contenders[f"torch {variant}"] = (lambda fn=fn: fn(Xt, yt, wt, b), 1.0, 4)
            stats = timer.compare(contenders)

            rec = dict(section="loss", loss=loss_name, dtype=name, n_rows=n_rows, n_features=d)
            rep.print(f" {loss_name}, {name}, X {n_rows:,} x {d} ({fmt_bytes(X.nbytes)})")
            probe, s_floor = best_probe(stats, [k for k in stats if k.startswith("read X")])
            floor = s_floor.median
            rep.row(f"floor: read X once ({probe.split(': ')[1]})", s_floor,
                    f"{X.nbytes / floor / 1e9:.1f} GB/s", impl="floor", probe=probe, **rec)
            s_all = stats["descend"]
            rep.row(f"descend, {nt} thread{'s' if nt > 1 else ''}", s_all,
                    f"descend / floor = {ratio(s_all.median / floor)}   ({X.nbytes / s_all.median / 1e9:.1f} GB/s)",
                    impl="descend", threads=nt, **rec)
            s_one = stats.get("descend 1t", s_all)
            if nt > 1:
                rep.row("descend, 1 thread", s_one, f"{nt} threads vs 1 = {ratio(s_one.median / s_all.median)} faster",
                        impl="descend", threads=1, **rec)
            s_ref = stats["numpy"]
            rep.row("NumPy (descend.reference)", s_ref, f"speed-up vs NumPy = {ratio(s_ref.median / s_all.median)}",
                    impl="numpy", **rec)
            key = f"{loss_name} {name}"
            summary[key] = {"descend_s": s_all.median, "floor_s": floor, "one_thread_s": s_one.median,
                            "numpy_s": s_ref.median}
            if tl is not None:
                variant = min(TORCH_LOSS_VARIANTS, key=lambda v: stats[f"torch {v}"].median)
                for v in TORCH_LOSS_VARIANTS:
                    s = stats[f"torch {v}"]
                    note = (f"speed-up vs torch = {ratio(s.median / s_all.median)}" if v == variant
                            else "(the slower torch variant)")
                    rep.row(f"torch, {v}", s, note, impl=f"torch {v}", threads=nt, **rec)
                summary[key].update(torch_s=stats[f"torch {variant}"].median, torch_variant=variant)
        del X, Xt
    rep.print()


# ---------------------------------------------------------------------------------------------
# 3. Optimizer steps
# ---------------------------------------------------------------------------------------------

OPTIMIZERS = {
    # name: (descend/reference class, hyper-parameters, torch class, bytes moved per parameter
    #        in float32, state arrays, fused available in torch)
    "Adam": ("Adam", {"lr": 1e-3}, "Adam", 7 * 4, 2, True),           # read p g m v, write p m v
    "AdamW": ("AdamW", {"lr": 1e-3, "weight_decay": 1e-2}, "AdamW", 7 * 4, 2, True),
    "SGD momentum": ("SGD", {"lr": 1e-2, "momentum": 0.9}, "SGD", 5 * 4, 1, True),  # read p g buf, write p buf
    "RMSprop": ("RMSprop", {"lr": 1e-2}, "RMSprop", 5 * 4, 1, False),  # read p g sq, write p sq
}


def torch_variants(fused: bool):
    variants = [("default", {}), ("foreach=True", {"foreach": True})]
    return variants + ([("fused=True", {"fused": True})] if fused else [])


def check_optimizers(nt: int):
    """One step from identical copies: descend, the reference and every torch variant agree."""
    rng = np.random.default_rng(1)
    p0 = (0.05 * rng.standard_normal(100_000)).astype(np.float32)
    g = rng.standard_normal(100_000).astype(np.float32)
    for cls, hyper, tcls, _, _, fused in OPTIMIZERS.values():
        ours, theirs = p0.copy(), p0.copy()
        getattr(descend.optim, cls)([ours], **hyper, n_threads=nt).step([g])
        getattr(reference, cls)([theirs], **hyper).step([g])
        np.testing.assert_allclose(ours - p0, theirs - p0, rtol=1e-4, atol=1e-6)
        if torch is not None:
            for _, kw in torch_variants(fused):
                tp = torch.from_numpy(p0.copy()).requires_grad_()
                tp.grad = torch.from_numpy(g.copy())
                getattr(torch.optim, tcls)([tp], **hyper, **kw).step()
                np.testing.assert_allclose(tp.detach().numpy() - p0, theirs - p0, rtol=1e-4, atol=1e-6)


def optimizers(rep: Report, timer: Timer, nt: int, sizes, probe_bytes: int, summary: dict):
    l3 = l3_bytes()
    rep.print("3. Optimizer steps, float32 parameters in one array; floor = bytes the step must move at the "
              "update bandwidth measured in the same comparison")
    check_optimizers(nt)
    rep.print("  (one step of descend, of torch (each variant) and of the NumPy reference checked equal first)")
    probe_array = np.full(probe_bytes // 4, 1.0, dtype=np.float32)
    probes = {f"update: {k}": fn for k, fn in update_probes(probe_array, nt).items()}
    rng = np.random.default_rng(2)
    for n in sizes:
        p0 = (0.05 * rng.standard_normal(n)).astype(np.float32)
        g = rng.standard_normal(n).astype(np.float32)
        grads = [g]
        for opt_name, (cls, hyper, tcls, per_param, n_state, fused) in OPTIMIZERS.items():
            moved = per_param * n
            budget = 0.8 if n <= 2_000_000 else 1.5
            contenders = {k: (fn, 0.4, 6) for k, fn in probes.items()}
            opt = getattr(descend.optim, cls)([p0.copy()], **hyper, n_threads=nt)
            contenders["descend"] = (lambda opt=opt: opt.step(grads), budget, 30)
            ref = getattr(reference, cls)([p0.copy()], **hyper)
            contenders["numpy"] = (lambda ref=ref: ref.step(grads), budget, 3)
            if torch is not None:
                for label, kw in torch_variants(fused):
                    tp = torch.from_numpy(p0.copy()).requires_grad_()
                    tp.grad = torch.from_numpy(g)
                    contenders[f"torch {label}"] = (getattr(torch.optim, tcls)([tp], **hyper, **kw).step, budget, 10)
            stats = timer.compare(contenders)
            del contenders, opt, ref

            working_set = (2 + n_state) * 4 * n
            cache_note = (f"  [p, g and state: {fmt_bytes(working_set)}, fit in the L3: "
                          f"the DRAM floor is not a bound]" if l3 and working_set < l3 else "")
            rep.print(f" {opt_name}, {n / 1e6:g}M params ({per_param} bytes/param){cache_note}")
            rec = dict(section="optim", optimizer=opt_name, n_params=n, dtype="float32")
            probe, s_probe = best_probe(stats, list(probes))
            bw = 2 * probe_array.nbytes / s_probe.median
            floor = moved / bw
            rep.row(f"floor: {fmt_bytes(moved)} at {bw / 1e9:.1f} GB/s", Stat([floor]),
                    f"(update bandwidth: {probe.split(': ')[1]})", impl="floor", probe=probe, gbps=bw / 1e9,
                    probe_median_s=s_probe.median, **rec)
            s_ours = stats["descend"]
            rep.row(f"descend, {nt} thread{'s' if nt > 1 else ''}", s_ours,
                    f"descend / floor = {ratio(s_ours.median / floor)}   ({moved / s_ours.median / 1e9:.1f} GB/s)",
                    impl="descend", threads=nt, **rec)
            s_ref = stats["numpy"]
            rep.row("NumPy (descend.reference)", s_ref, f"speed-up vs NumPy = {ratio(s_ref.median / s_ours.median)}",
                    impl="numpy", **rec)
            key = f"{opt_name} {n / 1e6:g}M"
            summary[key] = {"descend_s": s_ours.median, "floor_s": floor, "numpy_s": s_ref.median}
            if torch is None:
                continue
            for label, _ in torch_variants(fused):
                s = stats[f"torch {label}"]
                rep.row(f"torch.optim.{tcls} {label}", s, f"speed-up vs torch {label} = {ratio(s.median / s_ours.median)}",
                        impl=f"torch {label}", threads=nt, **rec)
                summary[key][f"torch_{label}_s"] = s.median
            if not fused:
                rep.row(f"torch.optim.{tcls} fused=True", None, "(torch has no fused RMSprop)")
    rep.print()


# ---------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller problems and fewer repeats")
    parser.add_argument("--json", metavar="PATH", help="also write every measurement to PATH")
    parser.add_argument("--threads", type=int, default=None,
                        help="threads for descend, torch and BLAS (default: descend's default)")
    args = parser.parse_args(argv)

    buf = io.StringIO()
    with redirect_stdout(buf):
        config = descend.show_config()
    nt = args.threads or config["default_threads"]
    if torch is not None:
        torch.set_num_threads(nt)
    blas = threadpool_limits(limits=nt, user_api="blas") if threadpool_limits else nullcontext()

    quick = args.quick
    n_rows = 250_000 if quick else 1_000_000
    sizes = [1_000_000] if quick else [1_000_000, 10_000_000]
    floor_bytes = (128 if quick else 512) * 2**20
    timer = Timer(quick)
    rep = Report()
    summary = {}
    started = time.perf_counter()
    now = datetime.datetime.now()

    rep.print(f"descend kernel benchmarks{' (--quick)' if quick else ''}, {now:%Y-%m-%d %H:%M}")
    rep.print(f"machine: {cpu_model()}, {os.cpu_count()} logical CPUs ({len(os.sched_getaffinity(0))} usable), "
              f"L3 {(l3_bytes() or 0) / 2**20:.0f} MiB, SIMD in use: {config['simd_runtime']}")
    rep.print(f"software: descend {config['version']} ({config['compiler']}, {config['build_type']}, "
              f"OpenMP {config['openmp_version']}), Python {config['python']}, NumPy {config['numpy']}, "
              + (f"torch {torch.__version__}" if torch is not None else "torch not importable"))
    rep.print(f"threads: descend n_threads={nt}; "
              + (f"torch.set_num_threads({nt}) (torch.get_num_threads() = {torch.get_num_threads()}); "
                 if torch is not None else "")
              + (f"NumPy's BLAS limited to {nt}" if threadpool_limits else "NumPy's BLAS at its default"))
    load_start = os.getloadavg()[0]
    rep.print(f"load average before the run: {load_start:.2f} (a 1-minute average; what other processes used "
              f"during the run is printed at the end)")
    share = CpuShare()
    rep.print(f"timing: median of repeats, time.perf_counter, gc off; the contenders of each comparison "
              f"(probes included) take turns over {timer.cycles} cycles, each turn after a warm-up call")
    rep.print("ratios: descend / floor (1.00x = at the memory floor), speed-up = other's time / descend's time")
    rep.print()

    with blas:
        sections = {}
        t0 = time.perf_counter()
        floors = memory_floor(rep, timer, nt, floor_bytes)
        sections["memory"], t0 = time.perf_counter() - t0, time.perf_counter()
        losses(rep, timer, nt, n_rows, summary)
        sections["losses"], t0 = time.perf_counter() - t0, time.perf_counter()
        optimizers(rep, timer, nt, sizes, floor_bytes, summary)
        sections["optimizers"] = time.perf_counter() - t0

    rep.print("Summary")
    for key, v in summary.items():
        parts = [f"descend / floor = {ratio(v['descend_s'] / v['floor_s'])}",
                 f"speed-up vs NumPy = {ratio(v['numpy_s'] / v['descend_s'])}"]
        if "torch_s" in v:
            parts.append(f"vs torch = {ratio(v['torch_s'] / v['descend_s'])}")
        if "torch_fused=True_s" in v:
            parts.append(f"vs torch fused = {ratio(v['torch_fused=True_s'] / v['descend_s'])}")
        if "one_thread_s" in v and nt > 1:
            parts.append(f"{nt} threads vs 1 = {ratio(v['one_thread_s'] / v['descend_s'])}")
        rep.print(f"  {key:<22} {fmt_time(v['descend_s'])}   " + ", ".join(parts))
    elapsed = time.perf_counter() - started
    others = share.others()
    if others is not None:
        rep.print(f"CPU used by other processes during the run: {others:.2f} CPUs on average"
                  + ("  WARNING: the timings are disturbed" if others > 0.1 else " (a quiet run)"))
    rep.print(f"(total {elapsed:.0f} s: " + ", ".join(f"{k} {v:.0f} s" for k, v in sections.items()) + ")")

    if args.json:
        out = {
            "date": now.isoformat(timespec="seconds"),
            "quick": quick,
            "machine": {"cpu": cpu_model(), "logical_cpus": os.cpu_count(),
                        "usable_cpus": len(os.sched_getaffinity(0)), "l3_bytes": l3_bytes(),
                        "platform": platform.platform()},
            "descend_config": config,
            "torch": torch.__version__ if torch is not None else None,
            "threads": nt,
            "load_average_before": load_start,
            "other_processes_cpus": others,
            "floors_bytes_per_s": floors,
            "summary": summary,
            "records": rep.records,
            "elapsed_s": elapsed,
        }
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1, default=str)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    sys.exit(main())
