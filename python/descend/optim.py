"""Optimizers that update NumPy arrays in place, in C++, with PyTorch's defaults and equations.

Each optimizer holds a list of parameter arrays (C-contiguous, writable, one float dtype) and
updates all of them in one call per step::

    w, b = np.zeros(10), np.zeros(1)
    opt = descend.optim.Adam([w, b], lr=1e-2)
    for _ in range(100):
        loss, gw, gb = descend.losses.logistic(X, y, w, b[0])
        opt.step([gw, np.array([gb])])

The update of each element is independent of the others, so results do not depend on the
number of threads. Arithmetic is done in the parameters' dtype, as PyTorch's fused CPU kernels
do. ``state_dict()`` has PyTorch's layout (``{"state": {i: {...}}, "param_groups": [{...}]}``)
and ``load_state_dict`` also accepts one saved from ``torch.optim`` (tensors are converted);
``torch.optim`` loads ours once its arrays are made tensors (``torch.from_numpy``).
"""

from __future__ import annotations

import copy
import math
import numbers

import numpy as np

from . import _core
from ._validation import FLOAT_DTYPES, check_scalar, resolve_n_threads

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm"]


def _name(where: str, key: str, index=None) -> str:
    """A hyper-parameter as errors name it: ``momentum`` in a constructor, else ``<where>['momentum']``."""
    name = f"{where}[{key!r}]" if where else key
    return name if index is None else f"{name}[{index}]"


def _real(x, where: str, key: str, index=None, *, low=None, high=None, high_inclusive=True) -> float:
    """check_scalar, naming the hyper-parameter as errors do (_name)."""
    return check_scalar(x, _name(where, key, index), low=low, high=high, high_inclusive=high_inclusive)


def _flag(x, where: str, key: str) -> bool:
    if x is True or x is False:
        return x
    if isinstance(x, np.bool_) or (isinstance(x, numbers.Integral) and x in (0, 1)):
        return bool(x)
    raise TypeError(f"{_name(where, key)} must be True or False, got {x!r}")


def _plain(value):
    """A loaded hyper-parameter as a Python value (torch may save lr or betas as 0-d tensors)."""
    if isinstance(value, (tuple, list)):
        return tuple(_plain(v) for v in value)
    if hasattr(value, "detach") and value.numel() == 1:
        return value.detach().cpu().item()
    if isinstance(value, np.ndarray) and value.ndim == 0:
        return value.item()
    return value


def _check_params(params) -> list[np.ndarray]:
    if isinstance(params, np.ndarray):
        raise TypeError("params must be a list of numpy arrays, got a single array: pass [array]")
    try:
        params = list(params)
    except TypeError:
        raise TypeError(f"params must be a list of numpy arrays, got {type(params).__name__}") from None
    if not params:
        raise ValueError("params is empty: the optimizer needs at least one array")
    for i, p in enumerate(params):
        if not isinstance(p, np.ndarray):
            raise TypeError(f"params[{i}] must be a numpy array, got {type(p).__name__}")
        if p.dtype not in FLOAT_DTYPES:
            raise TypeError(f"params[{i}] must have dtype float64 or float32, got {p.dtype}")
        if not p.flags.c_contiguous:
            raise ValueError(f"params[{i}] must be C-contiguous (updated in place, so it cannot be copied)")
        if not p.flags.writeable:
            raise ValueError(f"params[{i}] is read-only; the optimizer updates it in place")
        if p.dtype != params[0].dtype:
            raise TypeError(f"all params must share one dtype: params[0] is {params[0].dtype}, "
                            f"params[{i}] is {p.dtype}")
    for i in range(len(params)):
        for j in range(i):
            if np.shares_memory(params[i], params[j]):
                raise ValueError(f"params[{i}] and params[{j}] share memory; each array may appear once")
    return params


class Optimizer:
    """Base class: parameters, hyper-parameters (``param_groups[0]``), per-parameter state.

    A subclass checks its hyper-parameters in :meth:`_check_hyper`, which the constructor,
    :meth:`step` and :meth:`load_state_dict` all call.
    """

    _state_keys: tuple[str, ...] = ()
    _torch_defaults: dict = {}  # torch's values for keys its older state dicts may lack
    _needs_step = False  # whether the update depends on the step number (a saved "step" is required)

    def __init__(self, params, defaults: dict, n_threads=None):
        defaults = dict(defaults, **self._check_hyper(defaults))
        self.params = _check_params(params)
        resolve_n_threads(n_threads)  # fail early on a bad value
        self.n_threads = n_threads
        self.defaults = defaults
        self.param_groups = [dict(defaults, params=list(range(len(self.params))))]
        self.state: list[dict] = [{} for _ in self.params]
        self._steps = 0

    def __repr__(self):
        hyper = ", ".join(f"{k}={v!r}" for k, v in self.param_groups[0].items() if k != "params")
        return f"{type(self).__name__}({len(self.params)} arrays, {hyper})"

    @property
    def lr(self) -> float:
        """The learning rate, settable between steps (schedules)."""
        return self.param_groups[0]["lr"]

    @lr.setter
    def lr(self, value):
        self.param_groups[0]["lr"] = check_scalar(value, "lr", low=0.0)

    @property
    def steps(self) -> int:
        """Steps taken, counted on from the ``step`` restored by :meth:`load_state_dict`.

        torch.optim.SGD saves no step count (its update does not depend on one), so after
        loading its state this counts from 0.
        """
        return self._steps

    def _hyper(self, key):
        return self.param_groups[0][key]

    def _check_hyper(self, group: dict, where: str = "") -> dict:
        """The hyper-parameters of `group`, checked (ValueError or TypeError naming the key,
        ``where`` the dict they were read from) and normalized; KeyError if one is missing."""
        return {"lr": _real(group["lr"], where, "lr", low=0.0)}

    def _torch_options(self) -> dict[str, tuple[bool, str]]:
        """torch options that change the update: the only value descend implements, and a hint."""
        return {"maximize": (False, "pass the negated gradients instead")}

    def step(self, grads) -> None:
        """Update every parameter in place from its gradient (a list, one array per parameter,
        same shape and dtype). Nothing is changed when an argument or a hyper-parameter set
        through ``param_groups`` is wrong; a gradient holding NaN or inf is not checked for and
        spreads into the parameters and state, as in PyTorch."""
        grads = self._check_grads(grads)
        group = self.param_groups[0]
        # the hyper-parameters are checked when they are not the objects checked last (the
        # group stores them normalized: floats, tuples, bools; setting one replaces it)
        checked = getattr(self, "_checked", None)  # (the group, a copy of it) after the last check
        if (checked is None or checked[0] is not group or len(group) != len(checked[1])
                or any(group.get(k, checked) is not v for k, v in checked[1].items())):
            try:
                group.update(self._check_hyper(group, "param_groups[0]"))
            except KeyError as exc:
                raise ValueError(f"param_groups[0] has no {exc.args[0]!r}, a hyper-parameter of "
                                 f"{type(self).__name__}") from None
            self._checked = (group, dict(group))
        new = [k for k in self._active_state_keys() if k not in self.state[0]]
        for st, p in zip(self.state, self.params):  # state starts at zero, as in PyTorch
            st.update({k: np.zeros_like(p) for k in new})
        try:
            self._update(grads, self._steps + 1, resolve_n_threads(self.n_threads), new)
        except BaseException:
            for st in self.state:
                for k in new:
                    del st[k]
            raise
        self._steps += 1

    def _active_state_keys(self) -> tuple[str, ...]:
        return self._state_keys

    def _update(self, grads, step, n_threads, new_state):  # pragma: no cover - abstract
        """Apply step number `step`; `new_state` names the state just created (zeros)."""
        raise NotImplementedError

    def _check_grads(self, grads) -> list[np.ndarray]:
        if isinstance(grads, np.ndarray):
            grads = [grads]
        try:
            grads = list(grads)
        except TypeError:
            raise TypeError(f"grads must be a list of numpy arrays, got {type(grads).__name__}") from None
        if len(grads) != len(self.params):
            raise ValueError(f"grads holds {len(grads)} arrays, expected {len(self.params)} (one per parameter)")
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if p.ndim == 0 and isinstance(g, (float, np.floating)):  # 0-d arithmetic gives scalars
                grads[i] = g = np.asarray(g, dtype=p.dtype)
            if not isinstance(g, np.ndarray):
                raise TypeError(f"grads[{i}] must be a numpy array, got {type(g).__name__}")
            if g.shape != p.shape:
                raise ValueError(f"grads[{i}] has shape {g.shape}, expected {p.shape} (the shape of params[{i}])")
            if g.dtype != p.dtype:
                raise TypeError(f"grads[{i}] has dtype {g.dtype}, expected {p.dtype} (the dtype of params[{i}])")
            if not g.flags.c_contiguous:
                raise ValueError(f"grads[{i}] must be C-contiguous")
        return grads

    def _states(self, key):
        return [st[key] for st in self.state]

    # -- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """A copy of the state in PyTorch's layout: ``{"state": {i: {...}}, "param_groups": [...]}``.

        A parameter's entry holds its buffers and, once steps have been counted, ``"step"`` (a
        float); parameters with neither have none. The group also records the torch options
        descend implements (``maximize=False``; Adam's ``decoupled_weight_decay``), so that
        ``torch.optim`` reads the same update from it. torch's ``load_state_dict`` needs tensors:
        convert the arrays first (``torch.from_numpy``).
        """
        state = {}
        for i, st in enumerate(self.state):
            entry = {"step": float(self._steps)} if self._steps else {}
            entry.update((k, v.copy()) for k, v in st.items())
            if entry:
                state[i] = entry
        group = copy.deepcopy(self.param_groups[0])
        group = {**{k: v for k, v in group.items() if k != "params"},
                 **{k: value for k, (value, _) in self._torch_options().items()}, "params": group["params"]}
        return {"state": state, "param_groups": [group]}

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore hyper-parameters and state saved by :meth:`state_dict` or by the same
        torch.optim class (tensors are converted). Nothing is changed when it is refused.

        The hyper-parameters get the constructor's checks. A key torch fills in for its older
        checkpoints (``nesterov``, ``amsgrad``, RMSprop's ``momentum`` and ``centered``) takes
        torch's default; any other missing one is an error (the state of another optimizer).
        A torch option that changes the update (``maximize=True``, Adam's
        ``decoupled_weight_decay=True``) is an error; ``foreach``, ``fused``, ``capturable`` and
        ``differentiable`` are ignored. Per-parameter step counts must agree.
        """
        try:
            groups, saved = state_dict["param_groups"], state_dict["state"]
        except (TypeError, KeyError):
            raise ValueError("state_dict must have keys 'state' and 'param_groups'") from None
        if (not isinstance(groups, (list, tuple)) or len(groups) != 1 or not isinstance(groups[0], dict)
                or len(groups[0].get("params", ())) != len(self.params)):
            raise ValueError(f"state_dict must hold one parameter group of {len(self.params)} arrays")
        if not isinstance(saved, dict):
            raise TypeError(f"state_dict['state'] must be a dict, got {type(saved).__name__}")
        saved_group, where, name = groups[0], "state_dict['param_groups'][0]", type(self).__name__
        for key, (value, hint) in self._torch_options().items():
            got = _plain(saved_group.get(key))
            if got is not None and bool(got) != value:
                raise ValueError(f"{where}[{key!r}] is {got!r}: descend's {name} does not implement "
                                 f"{key}={got!r}; {hint}")
        group = {**self._torch_defaults,
                 **{k: _plain(v) for k, v in saved_group.items() if k in self.defaults}}
        missing = [k for k in self.defaults if k not in group]
        if missing:
            raise ValueError(f"{where} has no {', '.join(map(repr, missing))}: {name} needs "
                             f"{', '.join(map(repr, self.defaults))}; was it saved by another optimizer?")
        group = dict(self.defaults, **group)
        group.update(self._check_hyper(group, where), params=list(range(len(self.params))))
        keys = self._active_state_keys_for(group)
        new_state, counts, present = [], set(), []
        for i, p in enumerate(self.params):
            st = saved.get(i, saved.get(saved_group["params"][i], {}))
            present.append(bool(st))
            entry = {}
            if st:
                if st.get("step") is not None:
                    counts.add(_step_count(st["step"], f"state_dict['state'][{i}]['step']"))
                elif self._needs_step:
                    raise ValueError(f"state_dict['state'][{i}] has no 'step' ({name}'s update depends on it)")
                for key in keys:
                    if key not in st or st[key] is None:
                        raise ValueError(f"state_dict['state'][{i}] has no {key!r}")
                    arr = np.asarray(st[key].detach().cpu() if hasattr(st[key], "detach") else st[key])
                    if arr.shape != p.shape:
                        raise ValueError(f"state_dict['state'][{i}][{key!r}] has shape {arr.shape}, "
                                         f"expected {p.shape}")
                    entry[key] = np.array(arr, dtype=p.dtype, order="C")
            new_state.append(entry)
        if any(present) and not all(present):
            raise ValueError("state_dict holds state for some parameters but not all")
        if len(counts) > 1:
            raise ValueError(f"state_dict['state'] holds different step counts {sorted(counts)}; descend "
                             f"keeps one count for all parameters")
        self.param_groups = [group]
        self.state = new_state
        self._steps = counts.pop() if counts else 0

    def _active_state_keys_for(self, group) -> tuple[str, ...]:
        saved, self.param_groups = self.param_groups, [group]
        try:
            return self._active_state_keys()
        finally:
            self.param_groups = saved


def _step_count(value, name: str) -> int:
    """A saved step count (a float, an int, or torch's 0-d tensor) as an int."""
    try:
        count = float(_plain(value))
    except (TypeError, ValueError):
        count = math.nan
    if not (math.isfinite(count) and count >= 0 and count.is_integer()):
        raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    return int(count)


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum (heavy ball or Nesterov).

    ``d = g + weight_decay * p``; with momentum the buffer starts as ``d`` and then
    ``buf = momentum * buf + (1 - dampening) * d``; the step is ``p -= lr * (d + momentum * buf)``
    with Nesterov, else ``p -= lr * buf`` (``p -= lr * d`` without momentum). As torch.optim.SGD.
    """

    _torch_defaults = {"nesterov": False}

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                 *, n_threads=None):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                                      weight_decay=weight_decay), n_threads)

    def _check_hyper(self, group, where=""):
        hyper = dict(lr=_real(group["lr"], where, "lr", low=0.0),
                     momentum=_real(group["momentum"], where, "momentum", low=0.0),
                     dampening=_real(group["dampening"], where, "dampening"),
                     nesterov=_flag(group["nesterov"], where, "nesterov"),
                     weight_decay=_real(group["weight_decay"], where, "weight_decay", low=0.0))
        if hyper["nesterov"] and (hyper["momentum"] <= 0 or hyper["dampening"] != 0):
            raise ValueError(f"{where + ': ' if where else ''}nesterov=True requires momentum > 0 and dampening = 0")
        return hyper

    def _active_state_keys(self):
        return ("momentum_buffer",) if self._hyper("momentum") != 0 else ()

    def _update(self, grads, step, n_threads, new_state):
        mu = self._hyper("momentum")
        bufs = self._states("momentum_buffer") if mu != 0 else None
        first = "momentum_buffer" in new_state
        _core.sgd_step(self.params, grads, bufs, self.lr, mu, self._hyper("dampening"),
                       self._hyper("weight_decay"), self._hyper("nesterov"), first, n_threads)


def _check_betas(betas, where=""):
    try:
        b1, b2 = betas
    except (TypeError, ValueError):
        raise TypeError(f"{_name(where, 'betas')} must be a pair (beta1, beta2), got {betas!r}") from None
    return (_real(b1, where, "betas", 0, low=0.0, high=1.0, high_inclusive=False),
            _real(b2, where, "betas", 1, low=0.0, high=1.0, high_inclusive=False))


class Adam(Optimizer):
    """Adam: ``m = b1 m + (1 - b1) g``, ``v = b2 v + (1 - b2) g^2``,
    ``p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)``; ``weight_decay`` adds
    ``weight_decay * p`` to g (L2); ``amsgrad`` uses the running maximum of v. As torch.optim.Adam.
    """

    _decoupled = False
    _torch_defaults = {"amsgrad": False}
    _needs_step = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 *, n_threads=None):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
                         n_threads)

    def _check_hyper(self, group, where=""):
        return dict(lr=_real(group["lr"], where, "lr", low=0.0), betas=_check_betas(group["betas"], where),
                    eps=_real(group["eps"], where, "eps", low=0.0),
                    weight_decay=_real(group["weight_decay"], where, "weight_decay", low=0.0),
                    amsgrad=_flag(group["amsgrad"], where, "amsgrad"))

    def _torch_options(self):
        other = "Adam" if self._decoupled else "AdamW"
        return {**super()._torch_options(),
                "decoupled_weight_decay": (self._decoupled, f"load this state into descend.optim.{other}")}

    def _active_state_keys(self):
        keys = ("exp_avg", "exp_avg_sq")
        return keys + ("max_exp_avg_sq",) if self._hyper("amsgrad") else keys

    def _update(self, grads, step, n_threads, new_state):
        b1, b2 = self._hyper("betas")
        amsgrad = self._hyper("amsgrad")
        _core.adam_step(self.params, grads, self._states("exp_avg"), self._states("exp_avg_sq"),
                        self._states("max_exp_avg_sq") if amsgrad else None, self.lr, b1, b2,
                        self._hyper("eps"), self._hyper("weight_decay"), step, self._decoupled, amsgrad,
                        n_threads)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p *= 1 - lr * weight_decay`` first, then the Adam step
    without an L2 term. As torch.optim.AdamW (default ``weight_decay=1e-2``)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False,
                 *, n_threads=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, n_threads=n_threads)


class RMSprop(Optimizer):
    """RMSprop: ``s = alpha s + (1 - alpha) g^2``; ``p -= lr * g / (sqrt(s) + eps)``; ``centered``
    subtracts the squared running mean of g inside the root; ``momentum`` accumulates
    ``buf = momentum * buf + g / (sqrt(s) + eps)`` and steps by ``lr * buf``. As torch.optim.RMSprop.
    """

    _torch_defaults = {"momentum": 0.0, "centered": False}

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 *, n_threads=None):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered), n_threads)

    def _check_hyper(self, group, where=""):
        return dict(lr=_real(group["lr"], where, "lr", low=0.0),
                    alpha=_real(group["alpha"], where, "alpha", low=0.0, high=1.0),
                    eps=_real(group["eps"], where, "eps", low=0.0),
                    weight_decay=_real(group["weight_decay"], where, "weight_decay", low=0.0),
                    momentum=_real(group["momentum"], where, "momentum", low=0.0),
                    centered=_flag(group["centered"], where, "centered"))

    def _active_state_keys(self):
        keys = ("square_avg",)
        if self._hyper("momentum") != 0:
            keys += ("momentum_buffer",)
        if self._hyper("centered"):
            keys += ("grad_avg",)
        return keys

    def _update(self, grads, step, n_threads, new_state):
        centered, mu = self._hyper("centered"), self._hyper("momentum")
        _core.rmsprop_step(self.params, grads, self._states("square_avg"),
                           self._states("grad_avg") if centered else None,
                           self._states("momentum_buffer") if mu != 0 else None,
                           self.lr, self._hyper("alpha"), self._hyper("eps"), self._hyper("weight_decay"), mu,
                           centered, n_threads)


def clip_grad_norm(grads, max_norm, *, n_threads=None) -> float:
    """Scale ``grads`` in place so that their global L2 norm is at most ``max_norm``.

    As ``torch.nn.utils.clip_grad_norm_``: the coefficient is ``max_norm / (norm + 1e-6)``,
    applied only when below 1. Returns the norm before clipping (a float; inf or nan when a
    gradient is not finite, and then the gradients are left as they are). A norm whose sum of
    squares overflows float64 (values above about 1e154) is taken by the largest value.
    """
    max_norm = check_scalar(max_norm, "max_norm", low=0.0, low_inclusive=False)
    if isinstance(grads, np.ndarray):
        grads = [grads]
    grads = list(grads)
    if not grads:
        raise ValueError("grads is empty")
    for i, g in enumerate(grads):
        if not isinstance(g, np.ndarray) or g.dtype not in FLOAT_DTYPES:
            raise TypeError(f"grads[{i}] must be a float64 or float32 numpy array")
        if g.dtype != grads[0].dtype:
            raise TypeError(f"all grads must share one dtype: grads[0] is {grads[0].dtype}, grads[{i}] is {g.dtype}")
        if not g.flags.c_contiguous or not g.flags.writeable:
            raise ValueError(f"grads[{i}] must be C-contiguous and writable (it is scaled in place)")
    return float(_core.clip_grad_norm(grads, max_norm, resolve_n_threads(n_threads)))
