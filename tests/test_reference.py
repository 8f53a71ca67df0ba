"""Tests of the pure-NumPy reference implementations themselves.

The losses are checked against finite differences and exact identities, the
optimizers against ``torch.optim`` (when torch is installed) and hand-computed steps.
"""

import math
import warnings

import numpy as np
import pytest

from descend.reference import (
    SGD,
    Adam,
    AdamW,
    RMSprop,
    clip_grad_norm,
    logistic,
    softmax_cross_entropy,
    squared_error,
)

LOSSES = {
    "squared_error": squared_error,
    "logistic": logistic,
    "softmax_cross_entropy": softmax_cross_entropy,
}
PENALTIES = [(0.0, 0.0), (0.7, 0.0), (0.7, 0.3), (0.7, 1.0)]


def _away_from_zero(rng, shape):
    """Entries with |x| in [0.5, 1.5], so the L1 term is differentiable near them."""
    return rng.choice([-1.0, 1.0], size=shape) * rng.uniform(0.5, 1.5, size=shape)


def _problem(name, rng, n=9, d=4, K=3):
    """A random (X, y, w, b) for the named loss."""
    X = rng.standard_normal((n, d))
    if name == "softmax_cross_entropy":
        y = rng.integers(0, K, size=n)
        return X, y, _away_from_zero(rng, (d, K)), rng.standard_normal(K)
    if name == "logistic":
        y = rng.uniform(0.0, 1.0, size=n)  # soft labels; hard ones are a special case
    else:
        y = rng.standard_normal(n)
    return X, y, _away_from_zero(rng, d), float(rng.standard_normal())


@pytest.fixture
def strict_fp():
    """Floating-point trouble raises, whether or not pytest turns warnings into errors."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


# --------------------------------------------------------------------------- losses


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("alpha, l1_ratio", PENALTIES)
@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradient_matches_finite_differences(name, alpha, l1_ratio, weighted):
    rng = np.random.default_rng(0)
    X, y, w, b = _problem(name, rng)
    sw = rng.uniform(0.1, 3.0, size=X.shape[0]) if weighted else None
    loss_fn = LOSSES[name]
    kwargs = dict(alpha=alpha, l1_ratio=l1_ratio, sample_weight=sw)

    w_shape, b_shape = np.shape(w), np.shape(b)

    def f(theta):
        w_, b_ = theta[: w.size].reshape(w_shape), theta[w.size :].reshape(b_shape)
        return loss_fn(X, y, w_, b_ if b_shape else float(b_), **kwargs)[0]

    theta = np.concatenate([np.ravel(w), np.ravel(b)])
    h = 1e-6
    numeric = np.empty_like(theta)
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = h
        numeric[j] = (f(theta + e) - f(theta - e)) / (2 * h)

    loss, grad_w, grad_b = loss_fn(X, y, w, b, **kwargs)
    assert isinstance(loss, float)
    assert loss == f(theta)
    analytic = np.concatenate([np.ravel(grad_w), np.ravel(grad_b)])
    np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", LOSSES)
def test_output_types_and_float32(name):
    rng = np.random.default_rng(1)
    X, y, w, b = _problem(name, rng)
    X32 = X.astype(np.float32)
    out64 = LOSSES[name](X32.astype(np.float64), y, w, b, alpha=0.1, l1_ratio=0.5)
    out32 = LOSSES[name](X32, y, w, b, alpha=0.1, l1_ratio=0.5)

    assert isinstance(out32[0], float)
    assert out32[1].dtype == np.float32 and out32[1].shape == np.shape(w)
    assert out64[1].dtype == np.float64
    if name == "softmax_cross_entropy":
        assert out32[2].dtype == np.float32 and out32[2].shape == np.shape(b)
    else:
        assert isinstance(out32[2], float)
    # The computation itself is float64: float32 input only changes the output dtype.
    assert out32[0] == out64[0]
    np.testing.assert_array_equal(out32[1], out64[1].astype(np.float32))
    if name == "softmax_cross_entropy":
        np.testing.assert_array_equal(out32[2], out64[2].astype(np.float32))
    else:
        assert out32[2] == out64[2]


@pytest.mark.parametrize("name", LOSSES)
def test_accepts_array_likes(name):
    rng = np.random.default_rng(2)
    X, y, w, b = _problem(name, rng)
    expected = LOSSES[name](X, y, w, b, sample_weight=np.ones(len(y)))
    got = LOSSES[name](X.tolist(), y.tolist(), w.tolist(), np.asarray(b).tolist(), sample_weight=[1.0] * len(y))
    assert got[0] == expected[0]
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[2], expected[2])


def test_squared_error_by_hand():
    X = [[1.0, 2.0], [3.0, 4.0]]
    # z = [-0.5, -0.5], residual = z - y = [-0.5, -1.5]
    loss, grad_w, grad_b = squared_error(X, [0.0, 1.0], [1.0, -1.0], 0.5)
    assert loss == pytest.approx(0.5 * (0.25 + 2.25) / 2, rel=1e-15)
    np.testing.assert_allclose(grad_w, [(-0.5 - 4.5) / 2, (-1.0 - 6.0) / 2], rtol=1e-15)
    assert grad_b == pytest.approx(-1.0, rel=1e-15)


def test_logistic_at_zero_logit():
    loss, grad_w, grad_b = logistic([[2.0], [2.0]], [1.0, 0.0], [0.0], 0.0)
    assert loss == pytest.approx(math.log(2), rel=1e-15)
    # dl/dz = sigma(0) - y = [-0.5, 0.5], which cancel
    assert grad_b == 0.0
    np.testing.assert_array_equal(grad_w, [0.0])


@pytest.mark.parametrize("y", [0.0, 1.0, 0.25])
@pytest.mark.parametrize("z", [-1e300, -1e4, -800.0, -40.0, 0.0, 40.0, 800.0, 1e4, 1e300])
def test_logistic_extreme_logits_are_exact_and_silent(strict_fp, z, y):
    loss, grad_w, grad_b = logistic([[z]], [y], [1.0], 0.0)
    # For |z| >= 40, sigma(z) is 0 or 1 to double precision and softplus(z) = max(z, 0).
    sigma = 1.0 / (1.0 + math.exp(-z)) if abs(z) < 40 else float(z > 0)
    expected_loss = max(z, 0.0) + (math.log1p(math.exp(-abs(z))) if abs(z) < 40 else 0.0) - y * z
    assert np.isfinite(loss) and np.isfinite(grad_b) and np.all(np.isfinite(grad_w))
    assert loss == pytest.approx(expected_loss, rel=1e-15, abs=1e-15)
    assert grad_b == pytest.approx(sigma - y, rel=1e-15, abs=1e-15)
    assert grad_w[0] == pytest.approx(z * (sigma - y), rel=1e-15, abs=1e-15)


def test_logistic_matches_naive_formula_at_moderate_logits(strict_fp):
    rng = np.random.default_rng(3)
    z = np.linspace(-5, 5, 41)
    y = rng.uniform(size=z.size)
    X = np.column_stack([z, rng.standard_normal(z.size)])
    w = np.array([1.0, 0.0])
    sigma = 1 / (1 + np.exp(-z))
    naive_loss = np.mean(-y * np.log(sigma) - (1 - y) * np.log(1 - sigma))
    loss, grad_w, grad_b = logistic(X, y, w, 0.0)
    assert loss == pytest.approx(naive_loss, rel=1e-12)
    np.testing.assert_allclose(grad_w, X.T @ (sigma - y) / z.size, rtol=1e-12)
    assert grad_b == pytest.approx(np.mean(sigma - y), rel=1e-12)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_softmax_with_two_classes_is_logistic_on_the_logit_difference(weighted):
    rng = np.random.default_rng(4)
    n, d = 11, 3
    X = rng.standard_normal((n, d))
    y = rng.integers(0, 2, size=n)
    W = rng.standard_normal((d, 2))
    b = rng.standard_normal(2)
    sw = rng.uniform(0.1, 2.0, size=n) if weighted else None

    loss, grad_W, grad_b = softmax_cross_entropy(X, y, W, b, sample_weight=sw)
    loss_l, grad_w_l, grad_b_l = logistic(X, y.astype(float), W[:, 1] - W[:, 0], b[1] - b[0], sample_weight=sw)

    assert loss == pytest.approx(loss_l, rel=1e-13)
    np.testing.assert_allclose(grad_W, np.column_stack([-grad_w_l, grad_w_l]), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(grad_b, [-grad_b_l, grad_b_l], rtol=1e-12, atol=1e-15)


def test_softmax_equal_logits():
    K = 5
    X = np.ones((4, 2))
    y = np.array([0, 1, 4, 4])
    loss, grad_W, grad_b = softmax_cross_entropy(X, y, np.zeros((2, K)), np.zeros(K))
    assert loss == pytest.approx(math.log(K), rel=1e-15)
    expected_dZ = np.full((4, K), 1 / K) - np.eye(K)[y]
    np.testing.assert_allclose(grad_b, expected_dZ.mean(axis=0), atol=1e-16)
    np.testing.assert_allclose(grad_W, X.T @ expected_dZ / 4, atol=1e-16)


def test_softmax_huge_logits(strict_fp):
    X = np.eye(3) * 1e4
    W = np.array([[1.0, -1.0, 0.0], [0.0, 1.0, -1.0], [-1.0, 0.0, 1.0]])
    y = np.array([1, 1, 1])
    # Row logits: [1e4, -1e4, 0], [0, 1e4, -1e4], [-1e4, 0, 1e4]: logsumexp = 1e4 in each row.
    loss, grad_W, grad_b = softmax_cross_entropy(X, y, W, np.zeros(3))
    assert loss == pytest.approx((2e4 + 0.0 + 1e4) / 3, rel=1e-15)
    # softmax is one-hot at each row's maximum.
    dZ = np.eye(3) - np.eye(3)[y]
    np.testing.assert_allclose(grad_b, dZ.mean(axis=0), rtol=1e-15)
    np.testing.assert_allclose(grad_W, X.T @ dZ / 3, rtol=1e-15)


def test_softmax_rejects_bad_labels():
    X, W, b = np.ones((2, 1)), np.zeros((1, 3)), np.zeros(3)
    with pytest.raises(TypeError):
        softmax_cross_entropy(X, [0.0, 1.0], W, b)
    with pytest.raises(ValueError):
        softmax_cross_entropy(X, [0, 3], W, b)


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        squared_error(np.ones((3, 2)), np.ones((3, 1)), np.ones(2), 0.0)
    with pytest.raises(ValueError):
        logistic(np.ones((3, 2)), np.ones(3), np.ones(2), 0.0, sample_weight=np.ones(2))


@pytest.mark.parametrize("name", LOSSES)
def test_integer_sample_weight_equals_repeated_rows(name):
    rng = np.random.default_rng(5)
    X, y, w, b = _problem(name, rng, n=10)
    counts = rng.integers(0, 4, size=10)
    counts[0] = 2  # at least one row survives
    kwargs = dict(alpha=0.3, l1_ratio=0.4)

    weighted = LOSSES[name](X, y, w, b, sample_weight=counts, **kwargs)
    repeated = LOSSES[name](np.repeat(X, counts, axis=0), np.repeat(y, counts), w, b, **kwargs)
    scaled = LOSSES[name](X, y, w, b, sample_weight=2.5 * counts, **kwargs)

    for other in (repeated, scaled):
        assert weighted[0] == pytest.approx(other[0], rel=1e-13)
        np.testing.assert_allclose(weighted[1], other[1], rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(weighted[2], other[2], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("alpha, l1_ratio", PENALTIES[1:])
@pytest.mark.parametrize("name", LOSSES)
def test_penalty_is_elastic_net_on_weights_only(name, alpha, l1_ratio):
    rng = np.random.default_rng(6)
    X, y, w, b = _problem(name, rng)
    w = w.copy()
    w.flat[::3] = 0.0  # sign(0) = 0: no L1 subgradient at exact zeros
    sw = rng.uniform(0.5, 2.0, size=len(y))

    loss0, grad_w0, grad_b0 = LOSSES[name](X, y, w, b, sample_weight=sw)
    loss, grad_w, grad_b = LOSSES[name](X, y, w, b, alpha=alpha, l1_ratio=l1_ratio, sample_weight=sw)

    penalty = alpha * (l1_ratio * np.abs(w).sum() + 0.5 * (1 - l1_ratio) * (w**2).sum())
    penalty_grad = alpha * (l1_ratio * np.sign(w) + (1 - l1_ratio) * w)
    assert loss - loss0 == pytest.approx(penalty, rel=1e-12)
    np.testing.assert_allclose(grad_w - grad_w0, penalty_grad, rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(grad_b, grad_b0)
    np.testing.assert_array_equal((grad_w - grad_w0).flat[::3], 0.0 * w.flat[::3])


# ----------------------------------------------------------- optimizers, by hand


def _params(rng, dtype=np.float64):
    return [rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal(4).astype(dtype)]


def _grads_away_from_zero(rng, params):
    return [_away_from_zero(rng, p.shape).astype(p.dtype) for p in params]


def test_sgd_by_hand():
    rng = np.random.default_rng(7)
    p0 = _params(rng)
    g1, g2 = _grads_away_from_zero(rng, p0), _grads_away_from_zero(rng, p0)
    lr, mu, damp, wd = 0.1, 0.9, 0.3, 0.05

    params = [p.copy() for p in p0]
    SGD(params, lr=lr).step(g1)
    for p, q, g in zip(params, p0, g1):
        np.testing.assert_allclose(p, q - lr * g, rtol=1e-15)

    params = [p.copy() for p in p0]
    opt = SGD(params, lr=lr, momentum=mu, dampening=damp, weight_decay=wd)
    opt.step(g1)  # the buffer starts as d1 = g1 + wd * p0 (no dampening)
    p1 = [q - lr * (g + wd * q) for q, g in zip(p0, g1)]
    np.testing.assert_allclose(params[0], p1[0], rtol=1e-15)
    opt.step(g2)
    for p, a, b_, c, q in zip(params, p0, g1, g2, p1):
        buf = mu * (b_ + wd * a) + (1 - damp) * (c + wd * q)
        np.testing.assert_allclose(p, q - lr * buf, rtol=1e-14)

    params = [p.copy() for p in p0]
    SGD(params, lr=lr, momentum=mu, nesterov=True).step(g1)
    for p, q, g in zip(params, p0, g1):
        np.testing.assert_allclose(p, q - lr * (1 + mu) * g, rtol=1e-15)


@pytest.mark.parametrize("kwargs", [dict(nesterov=True), dict(nesterov=True, momentum=0.9, dampening=0.1)])
def test_sgd_nesterov_requires_momentum_and_no_dampening(kwargs):
    with pytest.raises(ValueError):
        SGD([np.zeros(2)], lr=0.1, **kwargs)


@pytest.mark.parametrize("amsgrad", [False, True])
def test_adam_steps_are_lr_times_sign_for_constant_gradient(amsgrad):
    # With bias correction, m_hat = g and v_hat = g^2 at every step when g is constant.
    rng = np.random.default_rng(8)
    p0 = _params(rng)
    g = _grads_away_from_zero(rng, p0)
    params = [p.copy() for p in p0]
    opt = Adam(params, lr=0.01, amsgrad=amsgrad)
    for t in range(1, 11):
        opt.step(g)
        for p, q, gi in zip(params, p0, g):
            np.testing.assert_allclose(p, q - t * 0.01 * np.sign(gi), rtol=1e-7, atol=1e-9)


def test_adam_weight_decay_is_coupled_and_adamw_is_decoupled():
    rng = np.random.default_rng(9)
    p0 = _params(rng)
    g = _grads_away_from_zero(rng, p0)
    lr, wd = 0.01, 0.5

    params = [p.copy() for p in p0]
    AdamW(params, lr=lr, weight_decay=wd).step(g)
    for p, q, gi in zip(params, p0, g):
        np.testing.assert_allclose(p, q * (1 - lr * wd) - lr * np.sign(gi), rtol=1e-7, atol=1e-9)

    # Adam folds wd * p into the gradient: the first step is lr * sign(g + wd * p).
    params = [p.copy() for p in p0]
    Adam(params, lr=lr, weight_decay=wd).step(g)
    for p, q, gi in zip(params, p0, g):
        np.testing.assert_allclose(p, q - lr * np.sign(gi + wd * q), rtol=1e-6, atol=1e-9)

    assert AdamW([np.zeros(1)]).weight_decay == 1e-2
    assert Adam([np.zeros(1)]).weight_decay == 0.0


@pytest.mark.parametrize("centered", [False, True])
def test_rmsprop_first_step_by_hand(centered):
    rng = np.random.default_rng(10)
    p0 = _params(rng)
    g = _grads_away_from_zero(rng, p0)
    lr, a, eps = 0.01, 0.99, 1e-8
    params = [p.copy() for p in p0]
    RMSprop(params, lr=lr, centered=centered).step(g)
    # sq = (1 - a) g^2, ga = (1 - a) g, so sq - ga^2 = a (1 - a) g^2.
    scale = math.sqrt(a * (1 - a)) if centered else math.sqrt(1 - a)
    for p, q, gi in zip(params, p0, g):
        np.testing.assert_allclose(p, q - lr * gi / (scale * np.abs(gi) + eps), rtol=1e-14)


def _make_optimizers(params):
    return [
        SGD(params, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
        Adam(params, amsgrad=True, weight_decay=0.1),
        AdamW(params, amsgrad=True),
        RMSprop(params, centered=True, momentum=0.9, weight_decay=0.1),
    ]


@pytest.mark.parametrize("index", range(4), ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizers_update_in_place_in_the_param_dtype(index):
    rng = np.random.default_rng(11)
    params = _params(rng, np.float32)
    originals = [p.copy() for p in params]
    ids = [id(p) for p in params]
    opt = _make_optimizers(params)[index]
    for _ in range(3):
        opt.step(_grads_away_from_zero(rng, params))
    assert [id(p) for p in opt.params] == ids
    for p, q in zip(params, originals):
        assert p.dtype == np.float32
        assert not np.array_equal(p, q)
    for value in vars(opt).values():
        if isinstance(value, list) and value is not opt.params:
            assert all(s is None or s.dtype == np.float32 for s in value)


@pytest.mark.parametrize("index", range(4), ids=["SGD", "Adam", "AdamW", "RMSprop"])
def test_optimizers_validate_inputs_and_honour_lr(index):
    rng = np.random.default_rng(12)
    params = _params(rng)
    opt = _make_optimizers(params)[index]
    grads = _grads_away_from_zero(rng, params)
    with pytest.raises(ValueError):
        opt.step(grads[:1])
    with pytest.raises(ValueError):
        opt.step([grads[0], grads[1][:2]])
    with pytest.raises(TypeError):
        type(opt)([[1.0, 2.0]], lr=0.1)

    opt.step(grads)
    opt.lr = 0.0  # every update, AdamW's decay p *= 1 - lr * wd included, is proportional to lr
    before = [p.copy() for p in params]
    opt.step(grads)
    for p, q in zip(params, before):
        np.testing.assert_array_equal(p, q)


def test_clip_grad_norm_by_hand():
    grads = [np.array([3.0]), np.array([[4.0, 0.0]])]
    total = clip_grad_norm(grads, max_norm=1.0)
    assert isinstance(total, float) and total == 5.0
    np.testing.assert_allclose(grads[0], [3.0 / (5.0 + 1e-6)], rtol=1e-15)
    np.testing.assert_allclose(grads[1], [[4.0 / (5.0 + 1e-6), 0.0]], rtol=1e-15)

    grads = [np.array([3.0]), np.array([[4.0, 0.0]])]
    assert clip_grad_norm(grads, max_norm=10.0) == 5.0
    np.testing.assert_array_equal(grads[0], [3.0])
    np.testing.assert_array_equal(grads[1], [[4.0, 0.0]])


def test_clip_grad_norm_computes_the_norm_in_float64():
    # 1e30**2 overflows float32 but not float64.
    grads = [np.full(4, 1e30, dtype=np.float32)]
    total = clip_grad_norm(grads, max_norm=1.0)
    assert total == pytest.approx(2e30, rel=1e-7)
    assert grads[0].dtype == np.float32
    np.testing.assert_allclose(grads[0], 0.5, rtol=1e-6)


# ------------------------------------------------------------ optimizers vs torch

SGD_OPTIONS = [
    dict(lr=0.05),
    dict(lr=0.05, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9),
    dict(lr=0.05, momentum=0.9, dampening=0.3),
    dict(lr=0.05, momentum=0.5, dampening=0.5, weight_decay=0.1),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
]
ADAM_OPTIONS = [
    dict(),
    dict(lr=0.01, weight_decay=0.0),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, amsgrad=True),
    dict(lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1, amsgrad=True),
]
RMSPROP_OPTIONS = [
    dict(),
    dict(lr=0.01, weight_decay=0.1),
    dict(lr=0.01, centered=True),
    dict(lr=0.01, momentum=0.9),
    dict(lr=0.01, centered=True, momentum=0.9),
    dict(lr=0.005, alpha=0.9, eps=1e-6, weight_decay=0.1, centered=True, momentum=0.5),
]
TORCH_CASES = (
    [("SGD", kw) for kw in SGD_OPTIONS]
    + [("Adam", kw) for kw in ADAM_OPTIONS]
    + [("AdamW", kw) for kw in ADAM_OPTIONS]
    + [("RMSprop", kw) for kw in RMSPROP_OPTIONS]
)
REFERENCE_CLASSES = {"SGD": SGD, "Adam": Adam, "AdamW": AdamW, "RMSprop": RMSprop}
TOLERANCES = {np.float64: dict(rtol=1e-12, atol=1e-13), np.float32: dict(rtol=1e-5, atol=1e-6)}
APPROX = {np.float64: dict(rel=1e-12), np.float32: dict(rel=1e-5)}


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@pytest.mark.parametrize(
    "name, kwargs", TORCH_CASES, ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for n, kw in TORCH_CASES]
)
def test_optimizer_matches_torch(name, kwargs, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    params = _params(rng, dtype)
    torch_params = [torch.tensor(p, requires_grad=True) for p in params]  # copies
    ours = REFERENCE_CLASSES[name](params, **kwargs)
    theirs = getattr(torch.optim, name)(torch_params, foreach=False, **kwargs)

    steps = 50
    for step in range(steps):
        if step == steps // 2:  # lr is a plain, settable attribute
            ours.lr = theirs.param_groups[0]["lr"] = 0.5 * theirs.param_groups[0]["lr"]
        # Gradient magnitudes vary between steps, so amsgrad's running maximum matters.
        grads = [(rng.standard_normal(p.shape) * math.exp(rng.standard_normal())).astype(dtype) for p in params]
        for tp, g in zip(torch_params, grads):
            tp.grad = torch.tensor(g)
        theirs.step()
        ours.step(grads)

    for p, tp in zip(params, torch_params):
        assert p.dtype == dtype
        np.testing.assert_allclose(p, tp.detach().numpy(), **TOLERANCES[dtype])


@pytest.mark.parametrize("max_norm", [0.5, 3.0, 100.0])
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_clip_grad_norm_matches_torch(max_norm, dtype):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(14)
    grads = [rng.standard_normal((5, 3)).astype(dtype), rng.standard_normal(4).astype(dtype)]
    torch_params = [torch.zeros(g.shape, dtype=torch.from_numpy(g).dtype, requires_grad=True) for g in grads]
    for tp, g in zip(torch_params, grads):
        tp.grad = torch.tensor(g)

    total = clip_grad_norm(grads, max_norm)
    torch_total = torch.nn.utils.clip_grad_norm_(torch_params, max_norm, foreach=False)

    assert total == pytest.approx(float(torch_total), **APPROX[dtype])
    for g, tp in zip(grads, torch_params):
        assert g.dtype == dtype
        np.testing.assert_allclose(g, tp.grad.numpy(), **TOLERANCES[dtype])
