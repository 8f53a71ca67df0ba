"""The C++ optimizers against descend.reference over many steps, state, threads and bad input."""

import numpy as np
import pytest

from descend import optim, reference
from conftest import assert_close

DTYPES = [np.float64, np.float32]

CONFIGS = [
    ("SGD", dict(lr=0.05)),
    ("SGD", dict(lr=0.05, weight_decay=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01)),
    ("AdamW", dict(lr=0.01, weight_decay=0.3, amsgrad=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.001, alpha=0.9, weight_decay=0.05)),
    ("RMSprop", dict(lr=0.001, momentum=0.8)),
    ("RMSprop", dict(lr=0.001, centered=True)),
    ("RMSprop", dict(lr=0.001, centered=True, momentum=0.5, weight_decay=0.01)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'defaults'}" for name, kw in CONFIGS]

# Shapes: several arrays in one optimizer, one of them spanning several parallel chunks.
SHAPES = [(5, 3), (1,), (), (140_003,), (7, 1, 2)]


def run_both(rng, name, kw, dtype, steps, shapes=SHAPES, n_threads=None, change_lr_at=None):
    params = [rng.standard_normal(s).astype(dtype) for s in shapes]
    ref_params = [p.copy() for p in params]
    opt = getattr(optim, name)(params, n_threads=n_threads, **kw)
    ref = getattr(reference, name)(ref_params, **kw)
    for t in range(steps):
        if t == change_lr_at:
            opt.lr = ref.lr = opt.lr / 2
        # gradient of a quadratic bowl plus noise, so the trajectory depends on the updates
        grads = [(0.5 * p + rng.standard_normal(p.shape)).astype(dtype) for p in ref_params]
        if t == 3:
            grads[0][...] = 0  # zero gradients
        opt.step([g.copy() for g in grads])
        ref.step(grads)
    return params, ref_params, opt


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_matches_reference_over_many_steps(rng, name, kw, dtype):
    params, ref_params, opt = run_both(rng, name, kw, dtype, steps=60, change_lr_at=30)
    assert opt.steps == 60
    for p, r in zip(params, ref_params):
        assert p.dtype == np.dtype(dtype)
        assert_close(p, r, dtype, scale=max(1.0, float(np.max(np.abs(r)))))


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_bitwise_identical_for_any_thread_count(name, kw):
    runs = [run_both(np.random.default_rng(7), name, kw, np.float32, steps=5, n_threads=t)[0]
            for t in (1, 2, 3, -1)]
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            assert np.array_equal(a, b)


def test_first_adam_step_moves_each_weight_by_lr(rng):
    p = rng.standard_normal(1000)
    g = rng.standard_normal(1000)
    before = p.copy()
    optim.Adam([p], lr=0.01).step([g])
    np.testing.assert_allclose(before - p, 0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12)  # ~ lr sign(g)


def test_sgd_momentum_buffer_starts_at_first_gradient():
    p = np.zeros(3)
    opt = optim.SGD([p], lr=1.0, momentum=0.5)
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(p, -1.0)  # buf = g, not (1 - dampening) g + mu * 0
    opt.step([np.ones(3)])
    np.testing.assert_array_equal(p, -2.5)  # buf = 0.5 * 1 + 1
    assert np.array_equal(opt.state_dict()["state"][0]["momentum_buffer"], np.full(3, 1.5))


@pytest.mark.parametrize("name,kw", CONFIGS, ids=IDS)
def test_state_dict_round_trip_resumes_exactly(rng, name, kw):
    shapes = [(4, 3), (2,)]
    params = [rng.standard_normal(s) for s in shapes]
    grads = [[rng.standard_normal(s) for s in shapes] for _ in range(8)]
    opt = getattr(optim, name)(params, **kw)
    for g in grads[:4]:
        opt.step(g)
    saved, saved_params = opt.state_dict(), [p.copy() for p in params]
    for g in grads[4:]:
        opt.step(g)
    resumed = getattr(optim, name)(saved_params, **{**kw, "lr": 123.0})
    resumed.load_state_dict(saved)
    assert resumed.lr == opt.lr and resumed.steps == 4
    for g in grads[4:]:
        resumed.step(g)
    for a, b in zip(params, saved_params):
        assert np.array_equal(a, b)
    # the saved state is a copy, untouched by later steps
    assert saved["state"][0] is not opt.state_dict()["state"][0]


def test_load_state_dict_rejects_mismatched_state(rng):
    opt = optim.Adam([np.zeros(3)])
    opt.step([np.ones(3)])
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = np.zeros(4)
    with pytest.raises(ValueError, match=r"exp_avg.*shape \(4,\), expected \(3,\)"):
        optim.Adam([np.zeros(3)]).load_state_dict(sd)
    with pytest.raises(ValueError, match="one parameter group of 2 arrays"):
        optim.Adam([np.zeros(3), np.zeros(1)]).load_state_dict(opt.state_dict())
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        optim.Adam([np.zeros(3)]).load_state_dict({"foo": 1})


def test_lr_is_settable_between_steps():
    p = np.zeros(2)
    opt = optim.SGD([p], lr=1.0)
    opt.step([np.ones(2)])
    opt.lr = 0.25
    opt.step([np.ones(2)])
    np.testing.assert_array_equal(p, -1.25)
    opt.param_groups[0]["lr"] = 0.5  # as PyTorch schedulers do
    opt.step([np.ones(2)])
    np.testing.assert_array_equal(p, -1.75)
    with pytest.raises(ValueError, match="lr must be >= 0"):
        opt.lr = -1.0


def test_clip_grad_norm_matches_reference(rng):
    for dtype in DTYPES:
        grads = [rng.standard_normal(s).astype(dtype) for s in [(3, 4), (200_000,), ()]]
        ref = [g.copy() for g in grads]
        norm = optim.clip_grad_norm(grads, 1.5)
        ref_norm = reference.clip_grad_norm(ref, 1.5)
        assert norm == pytest.approx(ref_norm, rel=1e-12)
        for g, r in zip(grads, ref):
            assert_close(g, r, dtype)
        total = np.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads))
        assert total == pytest.approx(1.5, rel=1e-5)


def test_clip_grad_norm_leaves_small_and_non_finite_gradients():
    g = np.array([3.0, 4.0])
    assert optim.clip_grad_norm([g], 10.0) == 5.0
    np.testing.assert_array_equal(g, [3.0, 4.0])
    h = np.array([np.inf, 1.0])
    assert optim.clip_grad_norm(h, 1.0) == np.inf
    np.testing.assert_array_equal(h, [np.inf, 1.0])
    with pytest.raises(ValueError, match="max_norm must be > 0"):
        optim.clip_grad_norm([g], 0.0)


# ---- bad input: clear errors, params untouched ----------------------------------------------

def fresh(rng):
    params = [rng.standard_normal((3, 2)), rng.standard_normal(4)]
    return params, [p.copy() for p in params]


@pytest.mark.parametrize("grads_fn,exc,match", [
    (lambda p: [np.ones((3, 2)), np.ones(5)], ValueError, r"grads\[1\] has shape \(5,\), expected \(4,\)"),
    (lambda p: [np.ones((3, 2)), np.ones(4, np.float32)], TypeError, r"grads\[1\] has dtype float32, expected float64"),
    (lambda p: [np.ones((2, 3)).T, np.ones(4)], ValueError, r"grads\[0\] must be C-contiguous"),
    (lambda p: [np.ones((3, 2))], ValueError, "grads holds 1 arrays, expected 2"),
    (lambda p: [np.ones((3, 2)), [1.0, 2.0, 3.0, 4.0]], TypeError, r"grads\[1\] must be a numpy array"),
])
@pytest.mark.parametrize("name", ["SGD", "Adam", "RMSprop"])
def test_bad_gradients_leave_params_untouched(rng, name, grads_fn, exc, match):
    params, before = fresh(rng)
    opt = getattr(optim, name)(params, lr=0.1, **({"momentum": 0.9} if name == "SGD" else {}))
    with pytest.raises(exc, match=match):
        opt.step(grads_fn(params))
    for p, b in zip(params, before):
        assert np.array_equal(p, b)
    assert opt.steps == 0 and opt.state_dict()["state"] == {}
    opt.step([np.ones((3, 2)), np.ones(4)])  # still usable
    assert opt.steps == 1


def test_param_made_read_only_later_is_an_error_and_nothing_changes(rng):
    params, before = fresh(rng)
    opt = optim.Adam(params)
    opt.step([np.ones((3, 2)), np.ones(4)])
    after_one = [p.copy() for p in params]
    state = opt.state_dict()
    params[1].flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[1\] must be writable"):
        opt.step([np.ones((3, 2)), np.ones(4)])
    for p, a in zip(params, after_one):
        assert np.array_equal(p, a)
    assert opt.steps == 1
    np.testing.assert_array_equal(opt.state_dict()["state"][0]["exp_avg"], state["state"][0]["exp_avg"])


@pytest.mark.parametrize("params,exc,match", [
    (np.zeros(3), TypeError, "got a single array"),
    ([], ValueError, "params is empty"),
    ([np.zeros((4, 4))[:, 0]], ValueError, r"params\[0\] must be C-contiguous"),
    ([np.zeros(3, dtype=np.int64)], TypeError, r"params\[0\] must have dtype float64 or float32"),
    ([np.zeros(3), np.zeros(2, np.float32)], TypeError, "all params must share one dtype"),
    ([[1.0, 2.0]], TypeError, r"params\[0\] must be a numpy array"),
])
def test_bad_params_are_refused(params, exc, match):
    with pytest.raises(exc, match=match):
        optim.Adam(params)


def test_read_only_and_aliased_params_are_refused():
    p = np.zeros(3)
    p.flags.writeable = False
    with pytest.raises(ValueError, match=r"params\[0\] is read-only"):
        optim.SGD([p], lr=0.1)
    q = np.zeros(6)
    with pytest.raises(ValueError, match="share memory"):
        optim.SGD([q[:3], q[2:]], lr=0.1)


@pytest.mark.parametrize("ctor,match", [
    (lambda p: optim.SGD(p, lr=-0.1), "lr must be >= 0"),
    (lambda p: optim.SGD(p, lr=0.1, nesterov=True), "nesterov=True requires momentum > 0"),
    (lambda p: optim.SGD(p, lr=0.1, momentum=-1), "momentum must be >= 0"),
    (lambda p: optim.Adam(p, betas=(1.0, 0.9)), r"betas\[0\] must be < 1"),
    (lambda p: optim.Adam(p, eps=-1e-8), "eps must be >= 0"),
    (lambda p: optim.AdamW(p, weight_decay=-0.1), "weight_decay must be >= 0"),
    (lambda p: optim.RMSprop(p, alpha=1.5), "alpha must be <= 1"),
    (lambda p: optim.Adam(p, n_threads=0), "n_threads"),
])
def test_bad_hyper_parameters(ctor, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ctor([np.zeros(3)])


def test_repr_names_the_hyper_parameters():
    r = repr(optim.AdamW([np.zeros(2)], lr=0.5))
    assert r.startswith("AdamW(1 arrays") and "lr=0.5" in r and "weight_decay=0.01" in r


# ---- PyTorch as a peer (optional) -------------------------------------------------------------

TORCH_CONFIGS = [c for c in CONFIGS if c[0] in ("SGD", "Adam", "AdamW", "RMSprop")]


@pytest.mark.parametrize("name,kw", TORCH_CONFIGS, ids=IDS)
def test_matches_torch_and_loads_its_state(rng, name, kw):
    torch = pytest.importorskip("torch")
    start = rng.standard_normal((6, 5))
    grads = [rng.standard_normal((6, 5)) for _ in range(20)]
    tp = torch.tensor(start.copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], foreach=False, **kw)
    p = start.copy()
    opt = getattr(optim, name)([p], **kw)
    for g in grads[:10]:
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step([g])
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
    # continue from torch's own state dict
    p2 = tp.detach().numpy().copy()
    opt2 = getattr(optim, name)([p2], **kw)
    opt2.load_state_dict(topt.state_dict())
    for g in grads[10:]:
        tp.grad = torch.tensor(g)
        topt.step()
        opt2.step([g])
    np.testing.assert_allclose(p2, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
