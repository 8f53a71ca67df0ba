"""Reference training loop: one epoch of mini-batch gradient descent on a linear model.

:func:`train_epoch` has the signature, argument conventions and return value of the C++
engine ``descend._core.train_epoch`` and follows the same trajectory step by step, written as
a textbook loop over batches:

    shuffle the row ids (splitmix64 + Fisher-Yates; or, with shuffle_run k > 1, the ids of runs
    of k consecutive row ids, visited run by run), then for each batch of row ids:
        loss, gradient = reference loss on the batch          (float64, gradient cast to the params' dtype;
                         its weighted loss sum is divided by the batch's row count times
                         config["weight_mean"] (default: the sample weights' mean over the epoch's
                         rows, 1 without them), not by its own weight sum: an unbiased estimate of
                         the whole weighted mean)
        t = step + 1;  lr = learning_rate(schedule, t)
        stop (diverged) if the loss is not finite or above loss_limit
        scale the gradient by the batch's share of a batch (the first batch holds the rows the
        others leave over: share = its rows / B), then clip it to a global L2 norm of clip_norm
        optimizer update of coef (and intercept), step = t     (SGD and Adam: the L1 penalty's value is
                                                                in the loss, its subgradient not in the
                                                                gradient; the L1 term steps by its
                                                                proximal map, soft thresholding of coef;
                                                                weight decay and L1 step times share)
        stop (diverged, params restored) if a parameter is no longer finite, or if Adam's or
        RMSprop's average of squared gradients overflowed

Like the C++ engine, the optimizer arithmetic is done in the parameters' dtype, with every
hyperparameter first rounded to that dtype; ``1 - beta`` (and ``1 - alpha``, ``1 - dampening``),
learning rates, bias corrections and the clipping factor are computed in float64 first, as
PyTorch does (``1 - beta2`` formed in float32 is 1.3e-5 off for beta2 = 0.999).
"""

import math

import numpy as np

from .losses import _penalty, logistic, softmax_cross_entropy, squared_error
from .optim import global_norm

__all__ = ["train_epoch", "learning_rate", "splitmix64", "shuffle", "shuffle_runs"]

_MASK64 = (1 << 64) - 1

SQUARED_ERROR, LOGISTIC, SOFTMAX = 0, 1, 2
SGD, ADAM, RMSPROP = 0, 1, 2
CONSTANT, STEP, EXPONENTIAL, COSINE, INVSCALING = 0, 1, 2, 3, 4


# ---- random numbers ---------------------------------------------------------------------------


def splitmix64(state):
    """One step of splitmix64 on a Python int state; returns (new state, output), both uint64.

    state += 0x9E3779B97F4A7C15
    z = (state ^ (state >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ^ (z >> 27)) * 0x94D049BB133111EB
    output = z ^ (z >> 31)                       (all modulo 2^64)
    """
    state = (state + 0x9E3779B97F4A7C15) & _MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return state, z ^ (z >> 31)


def shuffle(order, rng_state):
    """Fisher-Yates in place, from the last element down: j = next() * (i + 1) >> 64, swap i and j.

    ``rng_state`` is a one-element uint64 array, advanced in place.
    """
    state = int(rng_state[0])
    for i in range(len(order) - 1, 0, -1):
        state, r = splitmix64(state)
        j = (r * (i + 1)) >> 64
        order[i], order[j] = order[j], order[i]
    rng_state[0] = state


def shuffle_runs(order, run, rng_state):
    """The visiting order of an epoch that shuffles runs: ``order`` cut into runs of ``run``
    consecutive entries (the last may be shorter), the run ids shuffled by :func:`shuffle`, and
    the runs laid out in that order. ``order`` itself is left as it is."""
    if run < 1:
        raise ValueError("shuffle_run must be at least 1")
    n_runs = -(-len(order) // run)
    ids = np.arange(n_runs, dtype=np.int64)
    shuffle(ids, rng_state)
    return np.concatenate([order[r * run:(r + 1) * run] for r in ids]) if n_runs else np.array(order)


# ---- learning-rate schedule -------------------------------------------------------------------


def learning_rate(schedule, t):
    """Learning rate at global step t (1-based), at the schedule's step t + offset (offset: 0
    unless the schedule says; see epoch_offset), written t below.

    base = lr * scale,  epoch = (t - 1) // steps_per_epoch   (steps_per_epoch, total_steps >= 1)

    constant:     base
    step:         base * gamma ** floor(epoch / step_size)
    exponential:  base * gamma ** epoch
    cosine:       min_lr + (base - min_lr) * (1 + cos(pi * p)) / 2,  p = min(1, (t - 1) / total_steps)
    invscaling:   base / t_taken ** power_t   (the steps taken: t before the offset)

    warm-up: for t <= warmup_steps (when warmup_steps > 0) the rate is multiplied by
    t / warmup_steps.
    """
    taken = t
    t = t + int(schedule.get("offset", 0))
    kind = int(schedule["kind"])
    base = float(schedule["lr"]) * float(schedule["scale"])
    steps_per_epoch = max(1, int(schedule["steps_per_epoch"]))
    total_steps = max(1, int(schedule["total_steps"]))
    epoch = float((t - 1) // steps_per_epoch)
    gamma = float(schedule["gamma"])
    if kind == CONSTANT:
        rate = base
    elif kind == STEP:
        rate = base * math.pow(gamma, math.floor(epoch / float(schedule["step_size"])))
    elif kind == EXPONENTIAL:
        rate = base * math.pow(gamma, epoch)
    elif kind == COSINE:
        min_lr = float(schedule["min_lr"])
        p = min(1.0, (t - 1) / total_steps)
        rate = min_lr + (base - min_lr) * 0.5 * (1.0 + math.cos(math.pi * p))
    elif kind == INVSCALING:
        rate = base / math.pow(float(taken), float(schedule["power_t"]))
    else:
        raise ValueError(f"unknown schedule kind {kind}")
    warmup = int(schedule["warmup_steps"])
    if warmup > 0 and t <= warmup:
        rate *= t / warmup
    return rate


def epoch_offset(schedule, step):
    """The schedule's offset for an epoch that starts after ``step`` steps: with
    schedule["epoch"] given (the schedule's epochs before it), its first step is put at
    epoch * steps_per_epoch + 1, however many steps the epochs before it took; else 0."""
    if "epoch" not in schedule:
        return 0
    return int(schedule["epoch"]) * max(1, int(schedule["steps_per_epoch"])) - int(step)


# ---- loss and gradient of one batch -----------------------------------------------------------


def _loss_grad(X, y, labels, sample_weight, batch, coef, intercept, config, divisor, prox):
    """(loss, grad of coef shaped like coef, grad of intercept shaped (K,), penalty, weight): the
    batch's weighted loss sum divided by divisor, plus the penalty; its gradient in the params'
    dtype; the penalty's value; the batch's weight sum (its rows without sample weights).
    prox: the L1 term adds its value to the loss but not its subgradient to the gradient (it
    steps by its proximal map, _shrink_l1)."""
    dtype = coef.dtype
    sw = np.ones(len(batch)) if sample_weight is None else sample_weight[batch].astype(np.float64)
    weight = float(np.sum(sw))
    alpha, l1_ratio = float(config["alpha"]), float(config["l1_ratio"])
    # the rows' weighted mean loss without the penalty, in float64 (a batch of zero weight: any
    # mean, times 0 below)
    kw = dict(sample_weight=sw if weight > 0 else np.ones_like(sw))
    Xb = X[batch].astype(np.float64, copy=False)  # (the gather is already a copy)
    loss_kind = int(config["loss"])
    if loss_kind == SOFTMAX:
        K = intercept.size
        W = coef.reshape(X.shape[1], K)
        loss, gw, gb = softmax_cross_entropy(Xb, labels[batch], W, intercept, **kw)
    else:
        fn = logistic if loss_kind == LOGISTIC else squared_error
        loss, gw, gb = fn(Xb, y[batch], coef.reshape(-1), intercept[0], **kw)
    scale = weight / divisor
    w = np.asarray(coef, dtype=np.float64).reshape(np.shape(gw))
    penalty, penalty_grad = _penalty(w, alpha, l1_ratio)
    if prox:  # the L2 part's gradient only
        penalty_grad = _penalty(w, alpha * (1.0 - l1_ratio), 0.0)[1]
    grad_w = np.asarray(gw * scale + penalty_grad, dtype=dtype).reshape(coef.shape)
    grad_b = np.asarray(np.asarray(gb) * scale, dtype=dtype).reshape(intercept.shape)
    if not config["fit_intercept"]:
        grad_b[...] = 0
    return loss * scale + penalty, grad_w, grad_b, penalty, weight


# ---- optimizer updates (torch.optim equations, in the params' dtype) --------------------------


def _as(a, shape):
    """A state buffer viewed with the parameter's shape (same memory, updated in place)."""
    if a is None:
        return None
    v = a.reshape(shape)
    assert np.shares_memory(v, a)
    return v


def _sgd(p, g, s, opt, lr, first_step):
    """d = g + wd p;  momentum: buf = d (first step) or mu buf + (1 - dampening) d,
    d = d + mu buf (nesterov) or buf;  p -= lr d."""
    T = p.dtype.type
    lr, mu, wd = T(lr), T(opt["momentum"]), T(opt["weight_decay"])
    damp = T(1.0 - float(opt["dampening"]))
    d = g + wd * p
    if mu == 0:
        p -= lr * d
        return
    buf = _as(s[0], p.shape)
    if first_step:
        buf[...] = d
    else:
        buf[...] = mu * buf + damp * d
    p -= lr * ((d + mu * buf) if opt["nesterov"] else buf)


def _adam(p, g, s, opt, lr, t):
    """AdamW: p *= 1 - lr wd; Adam: g += wd p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
    amsgrad: v = vmax = max(vmax, v);  p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)."""
    T = p.dtype.type
    b1, b2, eps, wd = T(opt["beta1"]), T(opt["beta2"]), T(opt["eps"]), T(opt["weight_decay"])
    bias1 = 1.0 - math.pow(float(opt["beta1"]), float(t))
    bias2 = 1.0 - math.pow(float(opt["beta2"]), float(t))
    step_size = T(lr / bias1)
    bias2_sqrt = T(math.sqrt(bias2))
    if opt["decoupled"]:
        p *= T(1.0 - lr * float(opt["weight_decay"]))
    else:
        g = g + wd * p
    m, v, vmax = (_as(a, p.shape) for a in s)
    m[...] = b1 * m + T(1.0 - float(opt["beta1"])) * g
    v[...] = b2 * v + T(1.0 - float(opt["beta2"])) * g * g
    if opt["amsgrad"]:
        vmax[...] = np.maximum(vmax, v)
        v = vmax
    p -= step_size * m / (np.sqrt(v) / bias2_sqrt + eps)


def _rmsprop(p, g, s, opt, lr):
    """g += wd p;  sq = a sq + (1 - a) g^2;  centered: ga = a ga + (1 - a) g, avg = sqrt(sq - ga^2) + eps,
    else avg = sqrt(sq) + eps;  momentum: buf = mu buf + g / avg, p -= lr buf;  else p -= lr g / avg."""
    T = p.dtype.type
    lr, a, eps, wd, mu = T(lr), T(opt["alpha"]), T(opt["eps"]), T(opt["weight_decay"]), T(opt["momentum"])
    c = T(1.0 - float(opt["alpha"]))
    sq, ga, buf = (_as(x, p.shape) for x in s)
    g = g + wd * p
    sq[...] = a * sq + c * g * g
    if opt["centered"]:
        ga[...] = a * ga + c * g
        avg = np.sqrt(sq - ga * ga) + eps
    else:
        avg = np.sqrt(sq) + eps
    if mu != 0:
        buf[...] = mu * buf + g / avg
        p -= lr * buf
    else:
        p -= lr * g / avg


def _shrink_l1(coef, state, opt, lr, t, a1):
    """The proximal step of the L1 term a1 |w|_1 after the optimizer's (SGD and Adam): soft
    thresholding, coef <- sign(coef) max(|coef| - tau, 0), at the
    step size the optimizer gives a steady gradient: tau = lr a1 (SGD; times the momentum
    buffer's steady sum, (1 - dampening) / (1 - momentum), and Nesterov's 1 + momentum times it),
    over Adam's denominator sqrt(v) / sqrt(1 - beta2^t) + eps (v the AMSGrad maximum when kept);
    in the params' dtype."""
    T = coef.dtype.type
    kind, mu = int(opt["kind"]), float(opt["momentum"])
    if not a1 > 0:
        return
    if kind == SGD:
        total = (1.0 - float(opt["dampening"])) / (1.0 - mu) if mu < 1.0 else 1.0
        tau = T(lr * a1 * (1.0 if mu == 0 else 1.0 + mu * total if opt["nesterov"] else total))
    else:
        v = _as(state[2] if opt["amsgrad"] else state[1], coef.shape)
        tau = T(lr * a1) / (np.sqrt(v) / T(math.sqrt(1.0 - float(opt["beta2"]) ** t)) + T(opt["eps"]))
    coef[...] = np.where(coef > tau, coef - tau, np.where(coef < -tau, coef + tau, T(0)))


def _apply(params, grads, states, opt, lr, t, fresh):
    """One optimizer step of the weights and (when fitted) the intercept; weight decay, like the
    penalty, acts on the weights only."""
    kind = int(opt["kind"])
    for i, (p, g, s) in enumerate(zip(params, grads, states)):
        if i > 0:
            opt = dict(opt, weight_decay=0.0)
        s = (list(s) + [None, None, None])[:3]
        if kind == SGD:
            _sgd(p, g, s, opt, lr, first_step=float(opt["momentum"]) != 0 and fresh)
        elif kind == ADAM:
            _adam(p, g, s, opt, lr, t)
        elif kind == RMSPROP:
            _rmsprop(p, g, s, opt, lr)
        else:
            raise ValueError(f"unknown optimizer kind {kind}")


# ---- one epoch --------------------------------------------------------------------------------


def train_epoch(X, y, labels, sample_weight, order, rng_state, coef, intercept, state, optimizer, schedule, config):
    """One epoch over the rows listed in ``order``, as ``descend._core.train_epoch``.

    X (n, d); y (n,) targets (losses 0, 1) or ``labels`` (n,) int64 class ids (loss 2);
    sample_weight (n,) or None; order int64 row ids, shuffled in place when config["shuffle"] (left as
    it is when config.get("shuffle_run", 1) > 1: runs of that many ids are shuffled instead);
    rng_state one-element uint64 array, advanced in place; coef (d,) or (d, K) and intercept (K,)
    updated in place; state = [coef buffers, intercept buffers], each up to three arrays or None,
    updated in place.  ``optimizer``, ``schedule`` and ``config`` are dicts (see the C++ binding);
    ``optimizer`` is not modified: the new global step counter and SGD "fresh" flag are returned.

    Returns a dict: loss_sum, weight_sum, grad_norm_sum, steps, status (0 done, 1 diverged),
    fail_step, fail_loss, fail_lr, fail_reason (0 the loss, 1 a parameter not finite, 2 Adam's or
    RMSprop's average of squared gradients overflowed), fail_grad_norm, last_lr, step, fresh.
    """
    res = dict(loss_sum=0.0, weight_sum=0.0, grad_norm_sum=0.0, steps=0, status=0,
               fail_step=0, fail_loss=0.0, fail_lr=0.0, fail_reason=0, fail_grad_norm=0.0, last_lr=0.0)
    step = int(optimizer["step"])
    fresh = bool(optimizer["fresh"])
    fit_intercept = bool(config["fit_intercept"])
    clip_norm = float(config["clip_norm"])
    loss_limit = float(config["loss_limit"])
    # the mean row weight the batches' loss sums are divided by (with their rows): given, or the
    # mean sample weight of the epoch's rows (1 without sample weights)
    weight_mean = 1.0
    if "weight_mean" in config:
        weight_mean = float(config["weight_mean"])
    elif sample_weight is not None and len(order):
        weight_mean = float(np.sum(sample_weight[order], dtype=np.float64)) / len(order)
    if not (weight_mean > 0 and math.isfinite(weight_mean)):
        raise ValueError("weight_mean (the mean sample weight of the epoch's rows) must be positive and finite")

    def done(status=0, t=0, loss=0.0, lr=0.0):
        if status:
            res.update(status=status, fail_step=t, fail_loss=loss, fail_lr=lr)
        res.update(step=step, fresh=fresh)
        return res

    schedule = dict(schedule, offset=epoch_offset(schedule, step))
    run = int(config.get("shuffle_run", 1))
    if config["shuffle"] and run > 1:  # runs of `run` consecutive entries, in a shuffled order
        order = shuffle_runs(order, run, rng_state)
    elif config["shuffle"]:
        shuffle(order, rng_state)
    n = len(order)
    B = n if int(config["batch_size"]) == 0 else min(int(config["batch_size"]), n)
    params = [coef, intercept] if fit_intercept else [coef]
    states = list(state)[: len(params)]
    kind = int(optimizer["kind"])
    prox = kind != RMSPROP  # the L1 term by its proximal step; RMSprop: by its subgradient
    # Adam's and RMSprop's averages of squared gradients, checked after a gradient this large
    squares = [a for s in states for a in _squares(s, kind, bool(optimizer.get("amsgrad", False)))]
    large = math.sqrt(float(np.finfo(coef.dtype).max))

    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected, not warned about
        bounds = batch_bounds(n, B)
        for start, stop in zip(bounds, bounds[1:]):
            batch = np.array(order[start:stop])
            divisor = len(batch) * weight_mean  # of the batch's weighted loss sum
            loss, grad_w, grad_b, penalty, weight = _loss_grad(X, y, labels, sample_weight, batch, coef, intercept,
                                                               config, divisor, prox)
            # a batch shorter than B steps by its share of a batch (its gradient, L1 step and
            # weight decay scaled, below): every row counts alike
            share = len(batch) / B
            t = step + 1
            lr = learning_rate(schedule, t)
            res["last_lr"] = lr
            if not math.isfinite(loss) or loss > loss_limit:
                return done(1, t, loss, lr)
            # the epoch's loss: the weighted mean of the rows' losses plus the batches' penalty,
            # weighted alike (the batch's weighted loss sum, and the penalty times its weight)
            res["loss_sum"] += (loss - penalty) * divisor + penalty * weight
            res["weight_sum"] += weight

            # global L2 norm of the batch's own gradient (intercept only when it is fitted)
            norm = global_norm([grad_w, grad_b] if fit_intercept else [grad_w])
            res["grad_norm_sum"] += norm
            # the step's gradient: times the share, then clipped (one factor)
            factor = share
            if clip_norm > 0 and math.isfinite(norm):
                factor *= min(1.0, clip_norm / (share * norm + 1e-6))
            if factor < 1.0:
                grad_w = (grad_w.astype(np.float64) * factor).astype(coef.dtype)
                grad_b = (grad_b.astype(np.float64) * factor).astype(coef.dtype)

            backup = [p.copy() for p in (coef, intercept)]
            grads = [grad_w, grad_b] if fit_intercept else [grad_w]
            _apply(params, grads, states, optimizer if share == 1.0 else
                   dict(optimizer, weight_decay=float(optimizer["weight_decay"]) * share), lr, t, fresh)
            if prox:
                _shrink_l1(coef, states[0], optimizer, lr, t, float(config["alpha"]) * float(config["l1_ratio"]) * share)
            if kind == SGD:
                fresh = False
            step = t
            res["steps"] += 1
            # Adam's and RMSprop's average of squared gradients overflows on a gradient of about
            # sqrt(the dtype's largest): the optimizer would then take steps of 0 for good
            overflowed = (kind != SGD and not norm * factor < large
                          and not all(np.all(np.isfinite(a)) for a in squares))
            if overflowed or not (np.all(np.isfinite(coef)) and np.all(np.isfinite(intercept))):
                coef[...] = backup[0]
                intercept[...] = backup[1]
                res.update(fail_reason=2 if overflowed else 1, fail_grad_norm=norm)
                return done(1, t, loss, lr)
    return done()


def batch_bounds(n, B):
    """Where an epoch's batches of n rows start, and n: the first batch holds the rows that
    batches of B leave over (in [1, B]), so that every epoch ends with a whole batch's step."""
    if n == 0:
        return [0]
    first = n - (n - 1) // B * B
    return [0] + list(range(first, n + 1, B))


def _squares(slots, kind, amsgrad):
    """The optimizer's averages of squared gradients among a parameter's state slots: Adam's v
    (and v_max with amsgrad), RMSprop's mean square."""
    slots = (list(slots) + [None, None, None])[:3]
    chosen = [slots[1], slots[2] if amsgrad else None] if kind == ADAM else [slots[0]]
    return [a for a in chosen if a is not None]
