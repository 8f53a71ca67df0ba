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


def sgd_state_without_step(buf, **hyper):
    """What torch.optim.SGD saves: a momentum buffer and no step count."""
    group = {**dict(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0, params=[0]), **hyper}
    return {"state": {0: {"momentum_buffer": buf}}, "param_groups": [group]}


def test_state_without_step_keeps_its_buffer_through_save_and_load(rng):
    start, buf = rng.standard_normal(3), rng.standard_normal(3)
    grads = [rng.standard_normal(3) for _ in range(4)]
    p = start.copy()
    opt = optim.SGD([p], lr=0.5, momentum=0.5)
    opt.load_state_dict(sgd_state_without_step(buf.copy()))
    assert opt.steps == 0  # nothing counted: torch's SGD saves no step
    saved = opt.state_dict()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], buf)
    assert "step" not in saved["state"][0]
    for g in grads[:2]:
        opt.step(g)
    assert opt.steps == 2
    # a descend round trip and a fresh optimizer continue as the uninterrupted run
    q = start.copy()
    resumed = optim.SGD([q], lr=0.5, momentum=0.5)
    resumed.load_state_dict(saved)
    for g in grads[:2]:
        resumed.step(g)
    again = optim.SGD([q], lr=0.5, momentum=0.5)
    again.load_state_dict(resumed.state_dict())
    assert again.steps == 2
    for g in grads[2:]:
        opt.step(g)
        again.step(g)
    np.testing.assert_array_equal(q, p)
    np.testing.assert_array_equal(again.state[0]["momentum_buffer"], opt.state[0]["momentum_buffer"])


@pytest.mark.parametrize("key,value,match", [
    ("maximize", True, r"\['maximize'\] is True: descend's SGD does not implement maximize=True"),
    ("momentum", -5.0, r"state_dict\['param_groups'\]\[0\]\['momentum'\] must be >= 0.0, got -5.0"),
    ("lr", float("nan"), r"\['lr'\] must be finite"),
    ("nesterov", "yes", r"\['nesterov'\] must be True or False, got 'yes'"),
    ("dampening", 0.5, r"nesterov=True requires momentum > 0 and dampening = 0"),
])
def test_load_state_dict_checks_hyper_parameters_and_changes_nothing(key, value, match):
    p = np.zeros(3)
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    opt.step([np.ones(3)])
    before = opt.state_dict()
    sd = sgd_state_without_step(np.ones(3), **{"nesterov": True, key: value})
    with pytest.raises((ValueError, TypeError), match=match):
        opt.load_state_dict(sd)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"] and opt.steps == 1
    np.testing.assert_array_equal(after["state"][0]["momentum_buffer"], before["state"][0]["momentum_buffer"])


def test_load_state_dict_ignores_options_that_do_not_change_the_update():
    sd = sgd_state_without_step(np.ones(3), maximize=False, foreach=True, fused=None, differentiable=True,
                                initial_lr=0.1)
    opt = optim.SGD([np.zeros(3)], lr=1.0)
    opt.load_state_dict(sd)
    assert opt.param_groups[0] == dict(lr=0.1, momentum=0.9, dampening=0.0, nesterov=False, weight_decay=0.0,
                                       params=[0])


def test_missing_nesterov_takes_torchs_default_and_other_keys_are_required():
    opt = optim.SGD([np.zeros(3)], lr=0.1, momentum=0.9, nesterov=True)
    sd = sgd_state_without_step(np.ones(3))
    del sd["param_groups"][0]["nesterov"]  # torch fills in False for its older checkpoints
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["nesterov"] is False
    del sd["param_groups"][0]["lr"]
    with pytest.raises(ValueError, match=r"\[0\] has no 'lr': SGD needs 'lr', 'momentum'"):
        opt.load_state_dict(sd)


@pytest.mark.parametrize("src,dst,missing", [
    ("Adam", "SGD", "'momentum', 'dampening'"),
    ("Adam", "RMSprop", "'alpha'"),
    ("SGD", "Adam", "'betas', 'eps'"),
    ("RMSprop", "SGD", "'dampening'"),
    ("SGD", "RMSprop", "'alpha', 'eps'"),
])
def test_state_of_another_optimizer_is_refused_by_name(src, dst, missing):
    opt = getattr(optim, src)([np.zeros(3)], momentum=0.5) if src != "Adam" else optim.Adam([np.zeros(3)])
    opt.step([np.ones(3)])
    with pytest.raises(ValueError, match=rf"has no {missing}: {dst} needs .*another optimizer"):
        getattr(optim, dst)([np.zeros(3)]).load_state_dict(opt.state_dict())


@pytest.mark.parametrize("src,dst", [("AdamW", "Adam"), ("Adam", "AdamW")])
def test_adam_and_adamw_states_are_not_interchangeable(src, dst):
    opt = getattr(optim, src)([np.zeros(3)], weight_decay=0.1)
    opt.step([np.ones(3)])
    with pytest.raises(ValueError, match=rf"decoupled_weight_decay.*load this state into descend.optim.{src}"):
        getattr(optim, dst)([np.zeros(3)]).load_state_dict(opt.state_dict())


def test_saved_step_counts_are_checked():
    opt = optim.Adam([np.zeros(3), np.zeros(2)])
    opt.step([np.ones(3), np.ones(2)])
    sd = opt.state_dict()
    sd["state"][1]["step"] = 2.0
    with pytest.raises(ValueError, match=r"different step counts \[1, 2\]"):
        optim.Adam([np.zeros(3), np.zeros(2)]).load_state_dict(sd)
    sd["state"][1]["step"] = 1.5
    with pytest.raises(ValueError, match=r"\['state'\]\[1\]\['step'\] must be a whole number >= 0, got 1.5"):
        optim.Adam([np.zeros(3), np.zeros(2)]).load_state_dict(sd)
    del sd["state"][1]["step"]
    with pytest.raises(ValueError, match=r"\['state'\]\[1\] has no 'step' \(Adam's update depends on it\)"):
        optim.Adam([np.zeros(3), np.zeros(2)]).load_state_dict(sd)


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


def test_clip_grad_norm_of_gradients_whose_sum_of_squares_overflows(rng):
    # values of 1e200: the sum of squares is inf, the norm is taken by the largest value and the
    # gradients are clipped (they were left as they were, with a norm of inf)
    grads = [rng.standard_normal(50) * 1e200, np.array([3e200])]
    ref = [g.copy() for g in grads]
    expected = 1e200 * np.sqrt(sum(np.sum((g / 1e200) ** 2) for g in grads))
    assert optim.clip_grad_norm(grads, 2.0) == pytest.approx(expected, rel=1e-12)
    assert reference.clip_grad_norm(ref, 2.0) == pytest.approx(expected, rel=1e-12)
    assert np.sqrt(sum(np.sum(g ** 2) for g in grads)) == pytest.approx(2.0, rel=1e-9)
    for g, r in zip(grads, ref):
        np.testing.assert_allclose(g, r, rtol=1e-12)


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


@pytest.mark.parametrize("name,key,value,exc,match", [
    ("Adam", "betas", (1.0, 0.999), ValueError, r"param_groups\[0\]\['betas'\]\[0\] must be < 1.0, got 1.0"),
    ("Adam", "betas", 0.9, TypeError, r"param_groups\[0\]\['betas'\] must be a pair"),
    ("Adam", "amsgrad", None, TypeError, r"param_groups\[0\]\['amsgrad'\] must be True or False"),
    ("SGD", "momentum", -5, ValueError, r"param_groups\[0\]\['momentum'\] must be >= 0.0, got -5.0"),
    ("SGD", "nesterov", True, ValueError, r"param_groups\[0\]: nesterov=True requires momentum > 0"),
    ("RMSprop", "alpha", 1.5, ValueError, r"param_groups\[0\]\['alpha'\] must be <= 1"),
    ("RMSprop", "eps", float("inf"), ValueError, r"param_groups\[0\]\['eps'\] must be finite"),
    ("RMSprop", "lr", -1.0, ValueError, r"param_groups\[0\]\['lr'\] must be >= 0"),
    ("RMSprop", "centered", KeyError, ValueError, r"param_groups\[0\] has no 'centered'"),
])
def test_step_checks_hyper_parameters_set_through_param_groups(rng, name, key, value, exc, match):
    params, before = fresh(rng)
    opt = getattr(optim, name)(params)
    if value is KeyError:
        del opt.param_groups[0][key]
    else:
        opt.param_groups[0][key] = value
    with pytest.raises(exc, match=match):
        opt.step([np.ones((3, 2)), np.ones(4)])
    for p, b in zip(params, before):
        assert np.array_equal(p, b)
    assert opt.steps == 0 and opt.state_dict()["state"] == {}


def test_hyper_parameters_set_through_param_groups_are_normalized():
    opt = optim.Adam([np.zeros(3)])
    opt.param_groups[0].update(betas=[np.float32(0.5), 0.75], amsgrad=np.True_, eps=0)
    opt.step([np.ones(3)])
    group = opt.param_groups[0]
    assert group["betas"] == (0.5, 0.75) and group["amsgrad"] is True and type(group["eps"]) is float
    assert "max_exp_avg_sq" in opt.state[0]


def test_nan_gradient_is_not_checked_and_spreads_as_in_torch():
    p = np.zeros(3)
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.step([np.array([np.nan, 1.0, 1.0])])
    assert np.isnan(p[0]) and np.isnan(opt.state[0]["momentum_buffer"][0])
    np.testing.assert_array_equal(p[1:], -0.1)


@pytest.mark.parametrize("name,kw,key", [("Adam", dict(betas=(0.9, 0.99999)), "exp_avg_sq"),
                                         ("RMSprop", dict(alpha=0.99999), "square_avg"),
                                         ("SGD", dict(momentum=0.9, dampening=0.99999), "momentum_buffer")])
def test_float32_forms_one_minus_a_hyper_parameter_in_float64(rng, name, kw, key):
    # as PyTorch does: 1 - 0.99999 formed after rounding 0.99999 to float32 is 1.4e-3 off, and
    # float32 Adam's second moments were that far from float64's (torch's: 1e-7)
    p64 = rng.standard_normal(1000)
    p32 = p64.astype(np.float32)
    o64, o32 = getattr(optim, name)([p64], lr=0.01, **kw), getattr(optim, name)([p32], lr=0.01, **kw)
    for _ in range(20):
        g = rng.standard_normal(1000)
        o64.step([g])
        o32.step([g.astype(np.float32)])
    a, b = o32.state[0][key], o64.state[0][key]
    assert np.max(np.abs(a - b) / np.abs(b)) < 1e-5


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


def test_torch_sgd_momentum_buffer_survives_save_and_load():
    torch = pytest.importorskip("torch")
    tp = torch.tensor(np.linspace(-1.0, 1.0, 3), requires_grad=True)
    topt = torch.optim.SGD([tp], lr=0.1, momentum=0.9)
    grads = [np.full(3, 0.5) * k for k in range(1, 7)]
    for g in grads[:3]:
        tp.grad = torch.tensor(g)
        topt.step()
    p = tp.detach().numpy().copy()
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    opt.load_state_dict(topt.state_dict())
    assert opt.steps == 0  # torch's SGD counts no steps
    saved = opt.state_dict()
    np.testing.assert_array_equal(saved["state"][0]["momentum_buffer"], topt.state[tp]["momentum_buffer"].numpy())
    q = p.copy()
    resumed = optim.SGD([q], lr=0.1, momentum=0.9)
    resumed.load_state_dict(saved)
    for g in grads[3:]:
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step([g])
        resumed.step([g])
    np.testing.assert_array_equal(q, p)
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("torch_name,kw,name,match", [
    ("Adam", dict(maximize=True), "Adam", r"\['maximize'\] is True: descend's Adam does not implement"),
    ("Adam", dict(decoupled_weight_decay=True), "Adam", r"decoupled_weight_decay=True; .*descend.optim.AdamW"),
    ("AdamW", dict(), "Adam", r"decoupled_weight_decay=True; .*descend.optim.AdamW"),
    ("Adam", dict(weight_decay=0.1), "AdamW", r"decoupled_weight_decay=False; .*descend.optim.Adam\b"),
    ("AdamW", dict(maximize=True), "AdamW", r"maximize=True"),
    ("SGD", dict(maximize=True), "SGD", r"maximize=True; pass the negated gradients"),
    ("RMSprop", dict(maximize=True), "RMSprop", r"maximize=True"),
])
def test_torch_options_that_change_the_update_are_refused(torch_name, kw, name, match):
    torch = pytest.importorskip("torch")
    tp = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    topt = getattr(torch.optim, torch_name)([tp], lr=0.1, **kw)
    tp.grad = torch.ones(3, dtype=torch.float64)
    topt.step()
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([np.zeros(3)]).load_state_dict(topt.state_dict())


def test_torch_state_with_tensor_hyper_parameters_loads():
    torch = pytest.importorskip("torch")
    tp = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    topt = torch.optim.Adam([tp], lr=torch.tensor(0.01), betas=(torch.tensor(0.8), torch.tensor(0.99)), foreach=False)
    tp.grad = torch.ones(3, dtype=torch.float64)
    topt.step()
    opt = optim.Adam([tp.detach().numpy().copy()])
    opt.load_state_dict(topt.state_dict())
    assert opt.lr == pytest.approx(0.01) and opt.param_groups[0]["betas"] == pytest.approx((0.8, 0.99))
    assert opt.steps == 1


@pytest.mark.parametrize("name,kw", TORCH_CONFIGS, ids=IDS)
def test_torch_loads_our_state_once_arrays_are_tensors(rng, name, kw):
    torch = pytest.importorskip("torch")
    grads = [rng.standard_normal((4, 3)) for _ in range(6)]
    p = rng.standard_normal((4, 3))
    opt = getattr(optim, name)([p], **kw)
    for g in grads[:3]:
        opt.step([g])
    sd = opt.state_dict()
    sd["state"] = {i: {k: torch.from_numpy(v) if isinstance(v, np.ndarray) else v for k, v in st.items()}
                   for i, st in sd["state"].items()}
    tp = torch.tensor(p.copy(), requires_grad=True)
    topt = getattr(torch.optim, name)([tp], foreach=False, **kw)
    topt.load_state_dict(sd)
    for g in grads[3:]:
        tp.grad = torch.tensor(g)
        topt.step()
        opt.step([g])
    np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-10, atol=1e-12)
