"""The C++ training engine (descend._core.train_epoch) against descend.reference.train_epoch:
same shuffles, same batches, same trajectory over several epochs, for every loss, optimizer,
schedule and batching option; divergence, threads and bad input."""

import copy
import math

import numpy as np
import pytest

from descend import _core, reference
from descend.reference.train import learning_rate

DTYPES = [np.float64, np.float32]
LOSSES = {"squared_error": 0, "logistic": 1, "softmax": 2}
K_SOFTMAX = 3


# ---- building problems and settings ------------------------------------------------------------


def make_problem(seed, loss, n=50, d=4, dtype=np.float64, weights=None, y_scale=1.0):
    """X, y, labels, sample_weight, coef, intercept for one loss (coef small and random)."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = labels = None
    if loss == "squared_error":
        y = (X @ w_true + 0.3 * rng.standard_normal(n) + 0.5) * y_scale
    elif loss == "logistic":
        y = (X @ w_true + 0.5 * rng.standard_normal(n) > 0).astype(np.float64)
        y[::5] = 0.3  # a few soft labels
    else:
        labels = np.argmax(X @ rng.standard_normal((d, K_SOFTMAX)) + rng.standard_normal((n, K_SOFTMAX)), axis=1)
        labels = labels.astype(np.int64)
    K = K_SOFTMAX if loss == "softmax" else 1
    coef = 0.1 * rng.standard_normal((d, K) if loss == "softmax" else d)
    intercept = 0.1 * rng.standard_normal(K)
    sw = None
    if isinstance(weights, str) and weights == "random":
        sw = rng.uniform(0.0, 2.0, n)
        sw[rng.choice(n, n // 5, replace=False)] = 0.0  # some rows of zero weight
    elif weights is not None:
        sw = np.asarray(weights, dtype=np.float64)
    cast = lambda a: None if a is None else np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    return dict(X=cast(X), y=cast(y), labels=labels, sw=cast(sw), coef=cast(coef), intercept=cast(intercept),
                loss=LOSSES[loss])


def opt_dict(kind="sgd", **kw):
    d = dict(kind={"sgd": 0, "adam": 1, "rmsprop": 2}[kind], momentum=0.0, dampening=0.0, nesterov=False,
             weight_decay=0.0, beta1=0.9, beta2=0.999, eps=1e-8, amsgrad=False, decoupled=False, alpha=0.99,
             centered=False, step=0, fresh=True)
    d.update(kw)
    return d


def sched_dict(kind="constant", **kw):
    d = dict(kind={"constant": 0, "step": 1, "exponential": 2, "cosine": 3, "invscaling": 4}[kind], lr=0.05,
             scale=1.0, gamma=0.5, step_size=1.0, power_t=0.25, min_lr=0.0, steps_per_epoch=1, total_steps=1,
             warmup_steps=0)
    d.update(kw)
    return d


def cfg_dict(loss, **kw):
    d = dict(loss=loss, fit_intercept=True, alpha=0.0, l1_ratio=0.0, batch_size=7, shuffle=True, clip_norm=0.0,
             loss_limit=math.inf, n_threads=1)
    d.update(kw)
    return d


def make_state(opt, coef, intercept, seed=3):
    """The buffers the optimizer needs (others None); Adam / RMSprop start from small positive
    second moments so that the given state, not just zeros, is seen to be used."""
    kind, mom = opt["kind"], opt["momentum"] != 0
    need = [kind != 0 or mom, kind == 1 or (kind == 2 and opt["centered"]),
            (kind == 1 and opt["amsgrad"]) or (kind == 2 and mom)]
    rng = np.random.default_rng(seed)
    state = []
    for p in (coef, intercept):
        bufs = []
        for k in range(3):
            if not need[k]:
                bufs.append(None)
            elif kind == 0:
                bufs.append(np.zeros_like(p))  # SGD: written at the first step (fresh)
            elif kind == 2 and k == 1:
                bufs.append((0.01 * rng.standard_normal(p.shape)).astype(p.dtype))  # grad_avg
            else:
                bufs.append((0.01 * rng.uniform(0.5, 1.0, p.shape)).astype(p.dtype))
        state.append(bufs)
    return state


# ---- comparing -----------------------------------------------------------------------------------


def magnitude(*arrays):
    return max(float(np.max(np.abs(np.asarray(a, dtype=np.float64)))) for a in arrays)


def assert_close(actual, expected, dtype, what="", scale=None):
    """float64: relative 1e-10; float32: relative 1e-5; plus an absolute floor of 1e-12 (float64)
    or 1e-5 (float32) times `scale`, the magnitude of the quantity (default: of `expected`), so
    that a component which happens to cross zero is not held to a relative error."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    if np.dtype(dtype) == np.float64:
        rtol, atol_rel = 1e-10, 1e-12
    else:
        rtol, atol_rel = 1e-5, 1e-5
    if scale is None:
        scale = magnitude(expected) if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol_rel * max(scale, 1e-300), err_msg=what)


def assert_results_match(out, ref, dtype):
    assert set(out) == set(ref)
    for key in ("steps", "status", "fail_step", "step", "fresh"):
        assert out[key] == ref[key], key
    for key in ("loss_sum", "weight_sum", "grad_norm_sum", "fail_loss", "fail_lr", "last_lr"):
        if key == "fail_loss" and not math.isfinite(ref[key]):
            # an overflowed loss: inf or nan depending on where the overflow happened first
            assert not math.isfinite(out[key])
            continue
        assert_close(out[key], ref[key], dtype, key)


def run_epochs(p, opt, sched, cfg, epochs=3, seed=12345, state=None):
    """Runs `epochs` epochs with both engines, each epoch from identical copies of everything
    (carrying forward the reference's arrays and step/fresh), comparing after each.
    Returns the list of (C++ result, reference result, reference arrays) per epoch."""
    n = p["X"].shape[0]
    cur = dict(order=np.arange(n, dtype=np.int64), rng=np.array([seed], dtype=np.uint64), coef=p["coef"].copy(),
               intercept=p["intercept"].copy(),
               state=make_state(opt, p["coef"], p["intercept"]) if state is None else state)
    dtype = p["coef"].dtype
    history = []
    for _ in range(epochs):
        sides = []
        for fn in (_core.train_epoch, reference.train_epoch):
            a = copy.deepcopy(cur)
            dicts = (copy.deepcopy(opt), copy.deepcopy(sched), copy.deepcopy(cfg))
            out = fn(p["X"], p["y"], p["labels"], p["sw"], a["order"], a["rng"], a["coef"], a["intercept"],
                     a["state"], *dicts)
            assert dicts == (opt, sched, cfg)  # the dicts are read, never written
            sides.append((a, out))
        (a, out), (r, ref) = sides
        np.testing.assert_array_equal(a["rng"], r["rng"])
        np.testing.assert_array_equal(a["order"], r["order"])
        assert a["coef"].dtype == dtype and a["coef"].shape == p["coef"].shape
        # scales: the whole model's magnitude for coef and intercept, and for each kind of
        # state buffer the magnitude over both of its arrays
        model = magnitude(r["coef"], r["intercept"])
        assert_close(a["coef"], r["coef"], dtype, "coef", scale=model)
        assert_close(a["intercept"], r["intercept"], dtype, "intercept", scale=model)
        for k in range(3):
            bufs = [r["state"][s][k] for s in range(2) if r["state"][s][k] is not None]
            for s in range(2):
                if r["state"][s][k] is None:
                    assert a["state"][s][k] is None
                else:
                    assert_close(a["state"][s][k], r["state"][s][k], dtype, f"state[{s}][{k}]",
                                 scale=magnitude(*bufs))
        assert_results_match(out, ref, dtype)
        history.append((out, ref, r))
        cur = r
        opt = dict(opt, step=ref["step"], fresh=ref["fresh"])
    return history


# ---- losses x optimizers -------------------------------------------------------------------------

OPTIMIZERS = {
    "sgd": opt_dict("sgd"),
    "sgd-momentum": opt_dict("sgd", momentum=0.9),
    "sgd-momentum-dampening": opt_dict("sgd", momentum=0.8, dampening=0.3),
    "sgd-nesterov": opt_dict("sgd", momentum=0.9, nesterov=True, dampening=0.0),
    "sgd-weight_decay": opt_dict("sgd", weight_decay=0.1),
    "sgd-nesterov-weight_decay": opt_dict("sgd", momentum=0.7, nesterov=True, weight_decay=0.05),
    "adam": opt_dict("adam"),
    "adam-l2": opt_dict("adam", beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.1),
    "adamw": opt_dict("adam", decoupled=True, weight_decay=0.2),
    "adam-amsgrad": opt_dict("adam", amsgrad=True),
    "adamw-amsgrad": opt_dict("adam", decoupled=True, weight_decay=0.1, amsgrad=True),
    "rmsprop": opt_dict("rmsprop"),
    "rmsprop-weight_decay": opt_dict("rmsprop", alpha=0.9, weight_decay=0.05),
    "rmsprop-momentum": opt_dict("rmsprop", momentum=0.8),
    "rmsprop-centered": opt_dict("rmsprop", centered=True),
    "rmsprop-centered-momentum": opt_dict("rmsprop", centered=True, momentum=0.5, weight_decay=0.01),
}
LRS = {0: 0.05, 1: 0.01, 2: 0.003}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", list(OPTIMIZERS))
@pytest.mark.parametrize("loss", list(LOSSES))
def test_losses_and_optimizers(loss, opt_name, dtype):
    opt = OPTIMIZERS[opt_name]
    p = make_problem(1, loss, n=53, d=4, dtype=dtype)
    sched = sched_dict(lr=LRS[opt["kind"]])
    cfg = cfg_dict(p["loss"], alpha=0.01, l1_ratio=0.3)
    history = run_epochs(p, opt, sched, cfg, epochs=3)
    for e, (out, ref, arrays) in enumerate(history):
        assert out["status"] == 0
        assert out["steps"] == 8  # ceil(53 / 7)
        assert out["step"] == 8 * (e + 1)
        assert out["fresh"] == (opt["kind"] != 0 and opt["fresh"])
        assert out["weight_sum"] == 53
    # the model moved and learned: the mean loss went down
    assert not np.array_equal(history[-1][2]["coef"], p["coef"])
    assert history[-1][0]["loss_sum"] < history[0][0]["loss_sum"]


@pytest.mark.parametrize("fetch", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 4, 7, 8, 9, 12, 17, 31, 32, 33, 100])
@pytest.mark.parametrize("loss", ["squared_error", "logistic"])
def test_gathered_rows_of_any_width_follow_the_reference(loss, d, dtype, fetch):
    """Shuffled batches gather rows eight at a time, a vector (one cache line, then half of one)
    of each at a time, fetching later rows as they go (for a large X: forced here): feature
    counts below, at and around the vector widths."""
    p = make_problem(31, loss, n=300, d=d, dtype=dtype)
    cfg = cfg_dict(p["loss"], batch_size=37, alpha=0.01, fetch=fetch)
    history = run_epochs(p, opt_dict("adam"), sched_dict(lr=0.01), cfg, epochs=2)
    assert all(out["status"] == 0 and out["steps"] == 9 for out, _, _ in history)


# ---- schedules -------------------------------------------------------------------------------------

SCHEDULES = {
    "constant": sched_dict("constant"),
    "step": sched_dict("step", gamma=0.5, step_size=2.0),
    "exponential": sched_dict("exponential", gamma=0.7),
    "cosine": sched_dict("cosine", min_lr=0.005),
    "invscaling": sched_dict("invscaling", power_t=0.5),
    "constant-warmup": sched_dict("constant", warmup_steps=11),
    "cosine-warmup-scale": sched_dict("cosine", warmup_steps=5, scale=0.3, min_lr=0.001),
    "step-scale": sched_dict("step", gamma=0.3, step_size=1.5, scale=0.5),
    "invscaling-warmup": sched_dict("invscaling", power_t=0.25, warmup_steps=20),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedules(name, dtype):
    p = make_problem(2, "squared_error", n=40, d=3, dtype=dtype)
    steps_per_epoch = 4  # ceil(40 / 11)
    sched = dict(SCHEDULES[name], steps_per_epoch=steps_per_epoch, total_steps=4 * steps_per_epoch)
    # five epochs: the last runs past total_steps (cosine stays at min_lr)
    history = run_epochs(p, opt_dict("sgd", momentum=0.5), sched, cfg_dict(0, batch_size=11), epochs=5)
    for e, (out, _, _) in enumerate(history):
        assert out["steps"] == steps_per_epoch
        # exact: the same double-precision formula on both sides
        assert out["last_lr"] == learning_rate(sched, steps_per_epoch * (e + 1))


def test_learning_rate_formulas():
    s = sched_dict("constant", lr=0.1, scale=0.5, steps_per_epoch=10, total_steps=100)
    assert learning_rate(s, 1) == pytest.approx(0.05)
    assert learning_rate(dict(s, kind=1, gamma=0.1, step_size=2.0), 41) == pytest.approx(0.05 * 0.01)
    assert learning_rate(dict(s, kind=1, gamma=0.1, step_size=2.0), 40) == pytest.approx(0.05 * 0.1)
    assert learning_rate(dict(s, kind=2, gamma=0.5), 31) == pytest.approx(0.05 / 8)
    assert learning_rate(dict(s, kind=3, min_lr=0.01), 51) == pytest.approx(0.01 + 0.04 * 0.5)
    assert learning_rate(dict(s, kind=3, min_lr=0.01), 500) == pytest.approx(0.01)
    assert learning_rate(dict(s, kind=4, power_t=0.5), 16) == pytest.approx(0.05 / 4)
    assert learning_rate(dict(s, warmup_steps=4), 1) == pytest.approx(0.05 / 4)
    assert learning_rate(dict(s, warmup_steps=4), 5) == pytest.approx(0.05)
    assert learning_rate(dict(s, steps_per_epoch=0, total_steps=0, kind=2, gamma=0.5), 3) == pytest.approx(0.05 / 4)


# ---- batching, shuffling, sample weights, intercept, clipping -------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [None, "random"])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("batch_size", [1, 7, 0, 13, 1000])
def test_batching(batch_size, shuffle, weights, dtype):
    n = 60
    p = make_problem(3, "logistic", n=n, d=5, dtype=dtype, weights=weights)
    cfg = cfg_dict(1, batch_size=batch_size, shuffle=shuffle, alpha=0.001)
    history = run_epochs(p, opt_dict("adam"), sched_dict(lr=0.01), cfg, epochs=3 if batch_size != 1 else 2)
    B = n if batch_size in (0, 1000) else batch_size
    for out, _, arrays in history:
        assert out["steps"] == -(-n // B)  # batches of zero weight too (a fifth of the rows weigh 0)
        if weights is None:
            assert out["weight_sum"] == n
        else:  # the batches' rows times the rows' mean weight
            assert out["weight_sum"] == pytest.approx(float(np.sum(p["sw"], dtype=np.float64)), rel=1e-12)
    if not shuffle:
        np.testing.assert_array_equal(history[-1][2]["order"], np.arange(n))
        assert history[-1][2]["rng"][0] == 12345


@pytest.mark.parametrize("alpha, l1_ratio, weight_decay, clip", [(0.0, 0.0, 0.0, 0.0), (0.3, 0.0, 0.0, 0.0),
                                                                (1.5, 1.0, 0.0, 0.0), (0.0, 0.0, 0.5, 0.0),
                                                                (0.0, 0.0, 0.0, 0.02)])
def test_a_short_batch_comes_first_and_steps_by_its_share(alpha, l1_ratio, weight_decay, clip):
    """33 rows in batches of 32: the first batch is the row left over, and its gradient (loss and
    penalty), L1 step and weight decay count 1/32 of a batch's, so that every row of the epoch
    counts alike; the epoch ends with the whole batch. Clipping bounds the scaled gradient; the
    history's norm is the batch's own gradient's. Plain SGD, rows in order: the steps written out."""
    p = make_problem(4, "squared_error", n=33, d=3)
    cfg = cfg_dict(0, batch_size=32, shuffle=False, alpha=alpha, l1_ratio=l1_ratio, clip_norm=clip)
    out, _, arrays = run_epochs(p, opt_dict("sgd", weight_decay=weight_decay), sched_dict("constant", lr=0.1), cfg,
                                epochs=1)[0]
    assert out["steps"] == 2
    w, b = p["coef"].copy(), float(p["intercept"][0])
    norms = []
    for rows, share in ((slice(0, 1), 1 / 32), (slice(1, 33), 1.0)):
        _, gw, gb = reference.squared_error(p["X"][rows], p["y"][rows], w, b, alpha=alpha * (1 - l1_ratio))
        norms.append(np.sqrt(np.sum(gw ** 2) + gb ** 2))
        factor = share * (min(1.0, clip / (share * norms[-1] + 1e-6)) if clip else 1.0)
        w, b = w - 0.1 * (factor * gw + share * weight_decay * w), b - 0.1 * factor * gb
        w = np.sign(w) * np.maximum(np.abs(w) - 0.1 * share * alpha * l1_ratio, 0.0)  # the L1 step
    assert out["grad_norm_sum"] == pytest.approx(sum(norms), rel=1e-12)
    if clip:
        assert 0.02 < norms[0] / 32 and 0.02 < norms[1]  # both steps clipped
    if l1_ratio:
        assert 0 < np.count_nonzero(w == 0) < len(w)  # the L1 step is seen to act
    np.testing.assert_allclose(arrays["coef"], w, rtol=1e-12)
    np.testing.assert_allclose(arrays["intercept"], [b], rtol=1e-12)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_gradient_whose_sum_of_squares_overflows_is_still_clipped(fit_intercept):
    """Rows of 1e160: the gradient's sum of squares overflows float64, so its norm is taken by its
    largest value; clipping then bounds the step (it was skipped for an infinite norm)."""
    p = make_problem(6, "squared_error", n=40, d=3)
    p["X"] = p["X"] * 1e160
    p["coef"][...] = 0.0
    cfg = cfg_dict(0, batch_size=8, clip_norm=1.0, fit_intercept=fit_intercept)
    for out, _, arrays in run_epochs(p, opt_dict("adam"), sched_dict("constant", lr=1e-162), cfg, epochs=2):
        assert 1e159 < out["grad_norm_sum"] < math.inf and out["status"] == 0
        assert np.all(np.isfinite(arrays["state"][0][1]))  # Adam's second moments: of clipped gradients


@pytest.mark.parametrize("dtype", DTYPES)
def test_segments_end_where_batches_do(dtype):
    """An epoch of two segments (softmax of 64 classes over 200 features, batches of 32: 2,592
    rows a segment, the interrupt check between them) whose first batch is short (3,000 =
    24 + 93 x 32): the segments end at the batches' ends, and the trajectory is the reference's."""
    rng = np.random.default_rng(5)
    n, d, K = 3000, 200, 64
    cast = lambda a: np.ascontiguousarray(a, dtype=dtype)  # noqa: E731
    p = dict(X=cast(rng.standard_normal((n, d))), y=None, labels=rng.integers(0, K, n).astype(np.int64), sw=None,
             coef=cast(0.01 * rng.standard_normal((d, K))), intercept=cast(np.zeros(K)), loss=LOSSES["softmax"])
    cfg = cfg_dict(LOSSES["softmax"], batch_size=32, alpha=0.01, l1_ratio=0.5)
    out, _, _ = run_epochs(p, opt_dict("adam"), sched_dict(lr=0.01), cfg, epochs=1)[0]
    assert out["steps"] == 94


@pytest.mark.parametrize("n", [1, 2, 3, 15, 16, 17, 18, 33, 4099])
def test_shuffled_order_and_generator_state_follow_the_reference(n):
    """The C++ shuffle draws ahead of its swaps; the permutation and the generator's state after
    it must still be the reference's Fisher-Yates exactly, for sizes around the look-ahead."""
    p = make_problem(2, "squared_error", n=n, d=3)
    cfg = cfg_dict(0, batch_size=0, shuffle=True)
    history = run_epochs(p, opt_dict("sgd"), sched_dict(lr=0.01), cfg, epochs=3, seed=98765)
    orders = [arrays["order"] for _, _, arrays in history]
    for order in orders:
        np.testing.assert_array_equal(np.sort(order), np.arange(n))
    if n >= 16:
        assert not np.array_equal(orders[0], orders[1])  # a new permutation every epoch


def test_shuffle_draws_every_permutation_equally_often():
    """j = next() (i + 1) >> 64: the 24 orders of 4 ids, 24,000 shuffles in a row, are equally
    likely (chi-square, 23 degrees of freedom, below its 1e-6 tail at 70.5); and each of 9
    ids lands in each place equally often."""
    rng = np.array([2024], dtype=np.uint64)
    counts = {}
    for _ in range(24_000):
        order = np.arange(4)
        reference.train.shuffle(order, rng)
        counts[tuple(order)] = counts.get(tuple(order), 0) + 1
    assert len(counts) == 24
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 70.5
    places = np.zeros((9, 9))
    for _ in range(9_000):
        order = np.arange(9)
        reference.train.shuffle(order, rng)
        places[order, np.arange(9)] += 1
    assert ((places - 1000) ** 2 / 1000).sum() < 132.8  # (9 - 1)^2 degrees of freedom: the 1e-6 tail


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", [0, 1, 2])
@pytest.mark.parametrize("run,batch_size", [(2, 7), (5, 7), (16, 0), (7, 1), (61, 7), (1000, 13)])
def test_shuffled_runs_follow_the_reference(run, batch_size, loss, dtype):
    """shuffle_run k: the runs of k consecutive ids are visited in a shuffled order; the order
    array is left as it is, and C++ and the reference take the same batches and steps."""
    n = 60
    p = make_problem(5, ["squared_error", "logistic", "softmax"][loss], n=n, d=4, dtype=dtype)
    cfg = cfg_dict(loss, batch_size=batch_size, shuffle_run=run, alpha=0.001)
    history = run_epochs(p, opt_dict("adam"), sched_dict(lr=0.01), cfg, epochs=3 if batch_size != 1 else 2)
    for out, _, arrays in history:
        np.testing.assert_array_equal(arrays["order"], np.arange(n))  # not permuted in place
        assert out["weight_sum"] == n


def test_shuffle_runs_lays_out_whole_runs_in_a_shuffled_order():
    base = np.arange(100, 203, dtype=np.int64)  # 103 ids: runs of 10, the last of 3
    seen = set()
    for seed in range(20):
        rng = np.array([seed], dtype=np.uint64)
        visit = reference.train.shuffle_runs(base, 10, rng)
        np.testing.assert_array_equal(np.sort(visit), base)
        ids = (visit - 100) // 10  # the run each entry belongs to
        runs = np.split(visit, np.flatnonzero(np.diff(ids)) + 1)
        assert len(runs) == 11  # each run in one piece, whole and in its own order
        for r in runs:
            k = (r[0] - 100) // 10
            np.testing.assert_array_equal(r, base[10 * k:10 * (k + 1)])
        seen.add(tuple(r[0] for r in runs))
        assert rng[0] != seed
    assert len(seen) == 20  # a different order of runs for every seed


def test_shuffle_run_must_be_positive():
    p = make_problem(6, "squared_error", n=20, d=2)
    opt = opt_dict()
    with pytest.raises(ValueError, match="shuffle_run"):
        reference.train.shuffle_runs(np.arange(20), 0, np.array([1], dtype=np.uint64))
    with pytest.raises(ValueError, match="shuffle_run"):
        _core.train_epoch(p["X"], p["y"], None, None, np.arange(20, dtype=np.int64), np.array([1], dtype=np.uint64),
                          p["coef"].copy(), p["intercept"].copy(), make_state(opt, p["coef"], p["intercept"]), opt,
                          sched_dict(), cfg_dict(0, shuffle_run=0))


def test_several_epochs_in_one_call_are_the_epochs_one_by_one():
    p = make_problem(16, "logistic", n=90, d=5, weights="random")
    opt = opt_dict("adam")
    runs = []
    for calls, per_call in ((4, 1), (1, 4)):
        cur = dict(order=np.arange(90, dtype=np.int64), rng=np.array([3], dtype=np.uint64), coef=p["coef"].copy(),
                   intercept=p["intercept"].copy(), state=make_state(opt, p["coef"], p["intercept"]))
        o, epochs = dict(opt), []
        for _ in range(calls):
            out = _core.train_epoch(p["X"], p["y"], None, p["sw"], cur["order"], cur["rng"], cur["coef"],
                                    cur["intercept"], cur["state"], o, sched_dict(lr=0.05),
                                    cfg_dict(p["loss"], batch_size=16, epochs=per_call))
            o = dict(o, step=out["step"], fresh=out["fresh"])
            assert out["interrupt"] is None and len(out["epochs"]) == per_call
            epochs += [e[:5] for e in out["epochs"]]  # all but the time
        runs.append((epochs, cur, o["step"]))
    (ea, ca, sa), (eb, cb, sb) = runs
    assert ea == eb and sa == sb == 4 * 6
    for key in ("order", "rng", "coef", "intercept"):
        assert np.array_equal(ca[key], cb[key]), key
    with pytest.raises(ValueError, match="epochs"):
        _core.train_epoch(p["X"], p["y"], None, None, np.arange(90, dtype=np.int64), np.array([1], dtype=np.uint64),
                          p["coef"].copy(), p["intercept"].copy(), make_state(opt, p["coef"], p["intercept"]), opt,
                          sched_dict(), cfg_dict(p["loss"], epochs=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_batch_of_zero_weight_takes_the_penalty_step(dtype):
    # Batches divide their weighted loss sums by their rows times the mean weight: a batch of
    # zero weight has no loss gradient, and steps by the penalty's alone, as every batch does.
    n = 30
    sw = np.ones(n)
    sw[7:14] = 0.0  # exactly the second batch of 7
    sw[20] = 0.0
    p = make_problem(4, "squared_error", n=n, d=2, dtype=dtype, weights=sw)
    for opt in (opt_dict("sgd", momentum=0.9), opt_dict("rmsprop", centered=True)):
        history = run_epochs(p, opt, sched_dict(lr=0.01), cfg_dict(0, batch_size=7, shuffle=False), epochs=2)
        for e, (out, _, _) in enumerate(history):
            assert out["steps"] == 5
            assert out["step"] == 5 * (e + 1)
            assert out["weight_sum"] == pytest.approx(n - 8, rel=1e-12)
    lr = 0.01
    for alpha in (0.0, 0.1):
        after = []
        for rows in (7, 14):  # the first batch, then also the second, of zero weight
            coef, intercept = p["coef"].copy(), p["intercept"].copy()
            _core.train_epoch(p["X"], p["y"], None, p["sw"], np.arange(rows, dtype=np.int64),
                              np.array([1], dtype=np.uint64), coef, intercept, [[None] * 3, [None] * 3],
                              opt_dict("sgd"), sched_dict(lr=lr),
                              cfg_dict(0, batch_size=7, shuffle=False, alpha=alpha, weight_mean=1.0))
            after.append((coef, intercept))
        (coef1, b1), (coef2, b2) = after
        np.testing.assert_array_equal(b2, b1)  # the intercept has no penalty
        np.testing.assert_allclose(coef2, coef1 * (1 - lr * alpha), rtol=1e-6 if dtype == np.float32 else 1e-14)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("opt_name", ["sgd-nesterov", "adam-amsgrad", "rmsprop-centered-momentum"])
def test_no_intercept(loss, opt_name, dtype):
    p = make_problem(5, loss, n=45, d=3, dtype=dtype)
    opt = OPTIMIZERS[opt_name]
    state = make_state(opt, p["coef"], p["intercept"])
    before = copy.deepcopy(state[1])
    history = run_epochs(p, opt, sched_dict(lr=LRS[opt["kind"]]), cfg_dict(p["loss"], fit_intercept=False),
                         epochs=2, state=state)
    final = history[-1][2]
    np.testing.assert_array_equal(final["intercept"], p["intercept"])  # not trained
    for b0, b1 in zip(before, final["state"][1]):  # its optimizer state untouched
        if b0 is not None:
            np.testing.assert_array_equal(b0, b1)
    assert not np.array_equal(final["coef"], p["coef"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_clipping(loss, fit_intercept, dtype):
    p = make_problem(6, loss, n=50, d=6, dtype=dtype, y_scale=5.0)
    clip = 0.05
    cfg = cfg_dict(p["loss"], batch_size=5, clip_norm=clip, fit_intercept=fit_intercept)
    history = run_epochs(p, opt_dict("sgd", momentum=0.9), sched_dict(lr=0.05), cfg, epochs=3)
    out = history[0][0]
    assert out["grad_norm_sum"] / out["steps"] > 2 * clip  # clipping did act
    # with the same start, a run without clipping ends elsewhere
    free = run_epochs(p, opt_dict("sgd", momentum=0.9), sched_dict(lr=0.05), dict(cfg, clip_norm=0.0), epochs=1)
    assert not np.allclose(free[0][2]["coef"], history[0][2]["coef"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["squared_error", "logistic"])
def test_one_output_coef_as_column(loss, dtype):
    """coef of shape (d, 1) for a one-output loss: the same d values, the same trajectory."""
    p = make_problem(15, loss, n=41, d=3, dtype=dtype)
    column = dict(p, coef=p["coef"].reshape(3, 1).copy())
    flat = run_epochs(p, OPTIMIZERS["adam-amsgrad"], sched_dict(lr=0.01), cfg_dict(p["loss"]), epochs=2)
    col = run_epochs(column, OPTIMIZERS["adam-amsgrad"], sched_dict(lr=0.01), cfg_dict(p["loss"]), epochs=2)
    assert col[-1][2]["coef"].shape == (3, 1)
    np.testing.assert_array_equal(col[-1][2]["coef"].ravel(), flat[-1][2]["coef"])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt_name", ["sgd", "sgd-momentum-dampening", "sgd-nesterov", "adam", "adam-amsgrad",
                                      "rmsprop"])
def test_l1_steps_by_its_proximal_map(opt_name, dtype):
    # Soft thresholding after the optimizer's step leaves weights at exactly 0 where the L1 term
    # outweighs their gradient (RMSprop keeps the subgradient, which never does); the reference
    # does the same.
    p = make_problem(9, "logistic", n=60, d=8, dtype=dtype)
    opt = OPTIMIZERS[opt_name]
    cfg = cfg_dict(1, alpha=0.2, l1_ratio=0.9, batch_size=20)
    coef = run_epochs(p, opt, sched_dict(lr=LRS[opt["kind"]] * 4), cfg, epochs=6)[-1][2]["coef"]
    zeros = np.count_nonzero(coef == 0)
    assert zeros == 0 if opt["kind"] == 2 else zeros >= 4


@pytest.mark.parametrize("dtype", DTYPES)
def test_many_epochs_small_batches(dtype):
    """A longer run with every option at once: softmax, weights, AdamW, cosine with warm-up, clipping."""
    p = make_problem(7, "softmax", n=37, d=6, dtype=dtype, weights="random")
    sched = sched_dict("cosine", lr=0.02, warmup_steps=9, steps_per_epoch=10, total_steps=60, min_lr=1e-3)
    cfg = cfg_dict(2, batch_size=4, clip_norm=0.5, alpha=0.01, l1_ratio=0.5)
    run_epochs(p, opt_dict("adam", decoupled=True, weight_decay=0.05, amsgrad=True), sched, cfg, epochs=6)


# ---- divergence ------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opt", [opt_dict("sgd"), opt_dict("sgd", momentum=0.9)], ids=["sgd", "momentum"])
def test_divergence(opt, dtype):
    # unscaled targets and a huge learning rate: every step multiplies the weights by ~lr |x|^2
    p = make_problem(8, "squared_error", n=200, d=3, dtype=dtype, y_scale=1e3)
    sched = sched_dict("invscaling", lr=1e4, power_t=0.1, warmup_steps=3)
    cfg = cfg_dict(0, batch_size=2)
    history = run_epochs(p, opt, sched, cfg, epochs=1)
    out, ref, arrays = history[0]
    assert out["status"] == 1
    assert 1 <= out["fail_step"] < 100
    assert out["fail_lr"] == learning_rate(sched, out["fail_step"])
    assert out["last_lr"] == out["fail_lr"]
    assert np.all(np.isfinite(arrays["coef"])) and np.all(np.isfinite(arrays["intercept"]))
    if dtype == np.float64:
        # the loss overflows first: the engine stops before the step, the counter is not advanced
        assert not math.isfinite(out["fail_loss"])
        assert out["step"] == out["fail_step"] - 1 == out["steps"]
    else:
        # float32 parameters overflow first: the step is taken, counted, and the params restored
        assert math.isfinite(out["fail_loss"])
        assert out["step"] == out["fail_step"] == out["steps"]


@pytest.mark.parametrize("dtype", DTYPES)
def test_loss_limit(dtype):
    p = make_problem(9, "logistic", n=60, d=3, dtype=dtype)
    opt = opt_dict("sgd", momentum=0.9, step=17, fresh=False)
    sched = sched_dict(lr=0.1)
    # below the first batch's loss: stops before any step, nothing changed (the counter neither)
    cfg = cfg_dict(1, batch_size=10, shuffle=False, loss_limit=1e-3)
    history = run_epochs(p, opt, sched, cfg, epochs=1)
    out, ref, arrays = history[0]
    assert out["status"] == 1 and out["steps"] == 0 and out["step"] == 17 and out["fail_step"] == 18
    assert out["fail_loss"] > 1e-3 and out["fail_lr"] == 0.1
    assert out["loss_sum"] == 0 and out["weight_sum"] == 0
    np.testing.assert_array_equal(arrays["coef"], p["coef"])
    np.testing.assert_array_equal(arrays["intercept"], p["intercept"])
    # a limit that only the fourth batch exceeds (its labels are flipped): stops there
    p = dict(p, coef=np.array([3.0, -2.0, 1.0], dtype=dtype), intercept=np.zeros(1, dtype=dtype))
    y = (p["X"].astype(np.float64) @ np.array([3.0, -2.0, 1.0]) > 0).astype(np.float64)
    y[30:40] = 1 - y[30:40]
    p["y"] = y.astype(dtype)
    history = run_epochs(p, dict(opt, fresh=True), dict(sched, lr=0.001), dict(cfg, loss_limit=1.0), epochs=1)
    out = history[0][0]
    assert out["status"] == 1 and out["steps"] == 3 and out["fail_step"] == 17 + 4
    assert out["fail_loss"] > 1.0
    assert out["weight_sum"] == 30 and out["loss_sum"] < 1.0 * 30  # the three batches below the limit
    assert out["step"] == 17 + 3 and out["fresh"] is False


# ---- shuffling, threads -----------------------------------------------------------------------------


def test_order_is_a_permutation():
    p = make_problem(10, "squared_error", n=300, d=2)
    order = np.arange(300, dtype=np.int64)[::-1].copy()  # any order of ids, also a subset
    sub = order[:250].copy()
    for ids in (order, sub):
        given = ids.copy()
        rng = np.array([2**64 - 5], dtype=np.uint64)  # wraps around 2^64 at once
        opt = opt_dict()
        state = make_state(opt, p["coef"], p["intercept"])
        _core.train_epoch(p["X"], p["y"], None, None, ids, rng, p["coef"].copy(), p["intercept"].copy(), state,
                          opt, sched_dict(lr=0.001), cfg_dict(0, batch_size=32))
        assert not np.array_equal(ids, given)
        np.testing.assert_array_equal(np.sort(ids), np.sort(given))
        assert rng[0] != 2**64 - 5
        # the reference's shuffle: the same permutation and generator state
        ref_ids, ref_rng = given.copy(), np.array([2**64 - 5], dtype=np.uint64)
        reference.train.shuffle(ref_ids, ref_rng)
        np.testing.assert_array_equal(ids, ref_ids)
        np.testing.assert_array_equal(rng, ref_rng)


def test_several_epochs_in_one_call_only_when_an_epoch_is_one_segment():
    """An epoch of more than one segment (about 32M multiply-adds, Ctrl-C checked between them)
    runs alone even when more are asked for: Ctrl-C must never stop one of several midway."""
    rng = np.random.default_rng(17)
    n, d, K = 3000, 1200, 10  # 12,000 multiply-adds a row, 32 rows a batch: 2,784 rows a segment
    X = rng.standard_normal((n, d))
    labels = rng.integers(0, K, n)
    state = [[None] * 3, [None] * 3]
    out = _core.train_epoch(X, None, labels, None, np.arange(n, dtype=np.int64), np.array([1], dtype=np.uint64),
                            np.zeros((d, K)), np.zeros(K), state, opt_dict(), sched_dict(lr=0.01),
                            cfg_dict(LOSSES["softmax"], batch_size=32, epochs=3))
    assert len(out["epochs"]) == 1 and out["steps"] == -(-n // 32)
    small = X[:2000].copy()  # 2,000 rows: one segment, so the three epochs run
    out = _core.train_epoch(small, None, labels[:2000].copy(), None, np.arange(2000, dtype=np.int64),
                            np.array([1], dtype=np.uint64), np.zeros((d, K)), np.zeros(K), state, opt_dict(),
                            sched_dict(lr=0.01), cfg_dict(LOSSES["softmax"], batch_size=32, epochs=3))
    assert len(out["epochs"]) == 3


def test_a_large_shuffle_follows_the_reference():
    """Ids beyond half a core's L2 cache are shuffled with the draws made ahead: still the
    reference's permutation."""
    n = 600_000
    ids, rng = np.arange(n, dtype=np.int64), np.array([7], dtype=np.uint64)
    X, y = np.zeros((n, 1)), np.zeros(n)
    state = [[None] * 3, [None] * 3]
    _core.train_epoch(X, y, None, None, ids, rng, np.zeros(1), np.zeros(1), state, opt_dict(), sched_dict(lr=0.0),
                      cfg_dict(0, batch_size=0))
    ref_ids, ref_rng = np.arange(n, dtype=np.int64), np.array([7], dtype=np.uint64)
    reference.train.shuffle(ref_ids, ref_rng)
    np.testing.assert_array_equal(ids, ref_ids)
    np.testing.assert_array_equal(rng, ref_rng)


def test_splitmix64_known_values():
    # the first outputs of splitmix64 from state 0 (the published test vector)
    state, out = 0, []
    for _ in range(3):
        state, r = reference.train.splitmix64(state)
        out.append(r)
    assert out == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]


def run_threads(p, opt, sched, cfg, n_threads, epochs=2):
    """C++ epochs with n_threads: the arrays and the per-epoch results."""
    cur = dict(order=np.arange(p["X"].shape[0], dtype=np.int64), rng=np.array([5], dtype=np.uint64),
               coef=p["coef"].copy(), intercept=p["intercept"].copy(), state=make_state(opt, p["coef"], p["intercept"]))
    o, outs = dict(opt), []
    for _ in range(epochs):
        out = _core.train_epoch(p["X"], p["y"], p["labels"], p["sw"], cur["order"], cur["rng"], cur["coef"],
                                cur["intercept"], cur["state"], o, sched, dict(cfg, n_threads=n_threads))
        o = dict(o, step=out["step"], fresh=out["fresh"])
        outs.append(out)
    return cur, outs


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights", [None, "random"])
@pytest.mark.parametrize("loss", list(LOSSES))
def test_epochs_of_a_team_follow_the_reference(loss, weights, dtype):
    """Batches big enough for two threads: the epoch runs in one parallel region whose helpers
    take each batch's row blocks. The trajectory is the reference's; 1, 2 and more threads than
    cores give the same bits. 1380 rows = 5 x 256 + 100: the last batch is one thread's."""
    p = make_problem(21, loss, n=1380, d=40, dtype=dtype, weights=weights)
    opt, sched = opt_dict("adam"), sched_dict(lr=0.01)
    cfg = cfg_dict(p["loss"], batch_size=256, n_threads=2, alpha=0.001, clip_norm=1.0)
    run_epochs(p, opt, sched, cfg, epochs=2)
    (a, outs_a), (b, outs_b), (c, outs_c) = (run_threads(p, opt, sched, cfg, k) for k in (1, 2, 64))
    assert outs_a == outs_b == outs_c
    for key in ("order", "rng", "coef", "intercept"):
        assert np.array_equal(a[key], b[key]) and np.array_equal(a[key], c[key]), key


@pytest.mark.parametrize("dtype", DTYPES)
def test_divergence_inside_a_team(dtype):
    """Divergence stops the epoch from inside its parallel region: the same failure and restored
    parameters as the reference, and the helpers released (the next call runs normally)."""
    p = make_problem(8, "squared_error", n=2000, d=40, dtype=dtype, y_scale=1e3)
    sched = sched_dict("constant", lr=1e2)
    cfg = cfg_dict(0, batch_size=256, n_threads=2, loss_limit=1e20)  # a loss above it: diverged
    out, _, arrays = run_epochs(p, opt_dict("sgd"), sched, cfg, epochs=1)[0]
    assert out["status"] == 1 and 1 <= out["steps"] < 7
    assert np.all(np.isfinite(arrays["coef"]))
    p2 = make_problem(9, "logistic", n=2000, d=40, dtype=dtype)
    run_epochs(p2, opt_dict("adam"), sched_dict(lr=0.01), cfg_dict(1, batch_size=512, n_threads=2), epochs=1)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("variant", ["plain", "weighted float32 runs"])
def test_threads_bitwise(loss, variant):
    # big enough batches for the loss kernels to split their rows over two threads, whose
    # members fetch their next rows (and those rows' labels and weights) while they wait
    plain = variant == "plain"
    p = make_problem(11, loss, n=4000, d=8, dtype=np.float64 if plain else np.float32,
                     weights=None if plain else "random")
    opt = opt_dict("adam", amsgrad=True)
    results = []
    for n_threads in (1, 2):
        cur = dict(order=np.arange(4000, dtype=np.int64), rng=np.array([7], dtype=np.uint64),
                   coef=p["coef"].copy(), intercept=p["intercept"].copy(),
                   state=make_state(opt, p["coef"], p["intercept"]))
        o = dict(opt)
        # rows fetched ahead as for a large X (a small one is left to the caches)
        cfg = cfg_dict(p["loss"], batch_size=2000, n_threads=n_threads, alpha=0.01, clip_norm=0.1, fetch=True)
        if not plain:
            cfg.update(shuffle_run=3)
        outs = []
        for _ in range(2):
            out = _core.train_epoch(p["X"], p["y"], p["labels"], p["sw"], cur["order"], cur["rng"], cur["coef"],
                                    cur["intercept"], cur["state"], o, sched_dict(lr=0.01), cfg)
            o = dict(o, step=out["step"], fresh=out["fresh"])
            outs.append(out)
        results.append((cur, outs))
    (a, oa), (b, ob) = results
    assert oa == ob
    for key in ("order", "rng", "coef", "intercept"):
        assert np.array_equal(a[key], b[key]), key
    for s in range(2):
        for x, y in zip(a["state"][s], b["state"][s]):
            assert (x is None and y is None) or np.array_equal(x, y)


@pytest.mark.parametrize("loss", list(LOSSES))
@pytest.mark.parametrize("dtype", DTYPES)
def test_fetching_rows_ahead_does_not_change_the_result(loss, dtype):
    """Rows are fetched ahead of their use for a large X only; either way the epoch is the same."""
    p = make_problem(13, loss, n=3000, d=9, dtype=dtype, weights="random")
    opt = opt_dict("adam")
    outs = []
    for fetch, n_threads in [(False, 1), (True, 1), (True, 2), (False, 2)]:
        cur = dict(order=np.arange(3000, dtype=np.int64), rng=np.array([5], dtype=np.uint64),
                   coef=p["coef"].copy(), intercept=p["intercept"].copy(), state=make_state(opt, p["coef"], p["intercept"]))
        cfg = cfg_dict(p["loss"], batch_size=1000, n_threads=n_threads, alpha=0.01, fetch=fetch)
        out = _core.train_epoch(p["X"], p["y"], p["labels"], p["sw"], cur["order"], cur["rng"], cur["coef"],
                                cur["intercept"], cur["state"], dict(opt), sched_dict(lr=0.01), cfg)
        outs.append((out, cur))
    (o0, c0), rest = outs[0], outs[1:]
    for o, c in rest:
        assert o == o0
        for key in ("order", "coef", "intercept"):
            assert np.array_equal(c[key], c0[key]), key


# ---- bad input -------------------------------------------------------------------------------------


def call_core(p, **over):
    args = dict(X=p["X"], y=p["y"], labels=p["labels"], sample_weight=p["sw"],
                order=np.arange(p["X"].shape[0], dtype=np.int64), rng_state=np.array([1], dtype=np.uint64),
                coef=p["coef"].copy(), intercept=p["intercept"].copy(), state=[[None] * 3, [None] * 3],
                optimizer=opt_dict(), schedule=sched_dict(), config=cfg_dict(p["loss"]))
    args.update(over)
    return _core.train_epoch(**args), args


@pytest.mark.parametrize("bad", [-1, 50])
def test_order_outside_X(bad):
    p = make_problem(12, "squared_error", n=50, d=2)
    order = np.arange(50, dtype=np.int64)
    order[17] = bad
    given, rng = order.copy(), np.array([1], dtype=np.uint64)
    coef = p["coef"].copy()
    with pytest.raises(ValueError, match="outside X"):
        call_core(p, order=order, rng_state=rng, coef=coef)
    np.testing.assert_array_equal(order, given)  # nothing shuffled or trained
    assert rng[0] == 1
    np.testing.assert_array_equal(coef, p["coef"])


def test_dtype_mismatch_names_coef():
    p = make_problem(13, "squared_error", n=20, d=2)
    with pytest.raises(TypeError, match="coef"):
        call_core(p, coef=p["coef"].astype(np.float32))


def test_other_bad_input():
    p = make_problem(14, "softmax", n=20, d=2)
    labels = p["labels"].copy()
    labels[3] = K_SOFTMAX
    with pytest.raises(ValueError, match="labels"):
        call_core(p, labels=labels)
    with pytest.raises(ValueError, match="state buffers"):
        call_core(p, optimizer=opt_dict("adam"))
    with pytest.raises(TypeError, match="order"):
        call_core(p, order=np.arange(20, dtype=np.int32))
    with pytest.raises(TypeError, match="rng_state"):
        call_core(p, rng_state=np.array([1, 2], dtype=np.uint64))
    for name, settings in (("clip_norm", "config"), ("beta2", "optimizer"), ("warmup_steps", "schedule")):
        d = {"config": cfg_dict(2), "optimizer": opt_dict(), "schedule": sched_dict()}[settings]
        del d[name]
        with pytest.raises(KeyError, match=f"missing setting '{name}'"):
            call_core(p, **{settings: d})
    with pytest.raises(ValueError, match="shuffle_run must be at least 1"):
        call_core(p, config=cfg_dict(2, shuffle_run=0))


def test_subset_loss_and_labels_are_checked():
    X = np.ones((4, 5))
    idx = np.arange(4, dtype=np.int64)
    coef, b = np.zeros((5, 3)), np.zeros(3)
    with pytest.raises(TypeError, match="labels must be an int64"):
        _core.subset_loss(X, None, None, None, idx, coef, b, 2, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, K\)"):
        _core.subset_loss(X, None, np.array([0, 1, 2, 7]), None, idx, coef, b, 2, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="one class id per row"):
        _core.subset_loss(X, None, np.array([0, 1]), None, idx, coef, b, 2, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="labels must be C-contiguous"):
        _core.subset_loss(X, None, np.zeros(8, np.int64)[::2], None, idx, coef, b, 2, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="coef must have"):
        _core.subset_loss(X, np.zeros(4), None, None, idx, np.zeros(2), np.zeros(1), 0, 0.0, 0.0, 1)
    with pytest.raises(ValueError, match="X must be 2-dimensional"):
        _core.subset_loss(np.ones(4), np.zeros(4), None, None, idx, np.zeros(1), np.zeros(1), 0, 0.0, 0.0, 1)


@pytest.mark.parametrize("opt", [opt_dict("sgd", weight_decay=0.5), opt_dict("adam", decoupled=True, weight_decay=0.5),
                                 opt_dict("adam", weight_decay=0.5), opt_dict("rmsprop", weight_decay=0.5)],
                         ids=["sgd", "adamw", "adam-l2", "rmsprop"])
def test_weight_decay_spares_the_intercept(opt):
    # X = 0 and y = b: the loss gradient is zero everywhere, so only weight decay can move
    # anything; it shrinks the weights and leaves the intercept exactly where it is
    n, d, b = 16, 3, 0.75
    X = np.zeros((n, d))
    y = np.full(n, b)
    coef, intercept = np.ones(d), np.array([b])
    state = [[None if s is None else np.zeros_like(s) for s in slot] for slot in make_state(opt, coef, intercept)]
    out = _core.train_epoch(X, y, None, None, np.arange(n, dtype=np.int64), np.array([1], dtype=np.uint64), coef,
                            intercept, state, opt, sched_dict(lr=0.1), cfg_dict(0, batch_size=4, shuffle=False))
    assert out["status"] == 0 and out["steps"] == 4
    assert intercept[0] == b
    assert np.all(np.abs(coef) < 1.0)
    if opt["decoupled"]:
        np.testing.assert_allclose(coef, (1 - 0.1 * 0.5) ** 4, rtol=1e-12)  # pure decay: the Adam step is 0
