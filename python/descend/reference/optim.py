"""Reference optimizers following PyTorch's ``torch.optim`` update equations and defaults.

Each optimizer holds a list of NumPy arrays ``params`` and updates them IN PLACE, in each
array's own dtype, when ``step(grads)`` is called with one gradient per parameter.  The
state (moment estimates, momentum buffers) is kept as arrays of the parameter's dtype.
``lr`` is a plain attribute that may be changed between steps.

These mirror torch's single-tensor code paths (no foreach / fused variants, no
``maximize``, no complex parameters); within a dtype they agree with torch up to
floating-point rounding.
"""

import math

import numpy as np

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "clip_grad_norm"]


class _Optimizer:
    """Holds the parameter list and ``lr``; checks gradients against the parameters."""

    def __init__(self, params, lr):
        self.params = list(params)
        for p in self.params:
            if not isinstance(p, np.ndarray):
                raise TypeError(f"params must be NumPy arrays (updated in place), got {type(p).__name__}")
        self.lr = lr

    def _gradients(self, grads):
        """The gradients as arrays of their parameter's dtype (never modified)."""
        grads = list(grads)
        if len(grads) != len(self.params):
            raise ValueError(f"expected {len(self.params)} gradients, got {len(grads)}")
        out = []
        for p, g in zip(self.params, grads):
            g = np.asarray(g, dtype=p.dtype)
            if g.shape != p.shape:
                raise ValueError(f"gradient shape {g.shape} does not match parameter shape {p.shape}")
            out.append(g)
        return out


class SGD(_Optimizer):
    """Stochastic gradient descent with optional (Nesterov) momentum, as ``torch.optim.SGD``.

    d = g + weight_decay * p
    with momentum mu:  buf = d at the first step, then buf = mu * buf + (1 - dampening) * d;
                       d = d + mu * buf (nesterov) or d = buf
    p = p - lr * d
    """

    def __init__(self, params, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
        super().__init__(params, lr)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        self.weight_decay = weight_decay
        self.momentum_buffers = [None] * len(self.params)

    def step(self, grads):
        lr, mu = float(self.lr), self.momentum
        for i, (p, g) in enumerate(zip(self.params, self._gradients(grads))):
            d = g
            if self.weight_decay != 0:
                d = d + self.weight_decay * p
            if mu != 0:
                buf = self.momentum_buffers[i]
                if buf is None:
                    buf = self.momentum_buffers[i] = np.array(d, dtype=p.dtype)  # a copy, 0-d stays an array
                else:
                    buf[...] = mu * buf + (1 - self.dampening) * d
                d = (d + mu * buf) if self.nesterov else buf
            p -= lr * d


class Adam(_Optimizer):
    """Adam (Kingma & Ba), as ``torch.optim.Adam``; weight decay is an L2 term added to g.

    g = g + weight_decay * p
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g^2                (amsgrad: v_max = max(v_max, v), used for v)
    p = p - lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps),   t = 1, 2, ...
    """

    decoupled_weight_decay = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__(params, lr)
        self.betas = betas
        self.eps = eps
        self.weight_decay = weight_decay
        self.amsgrad = amsgrad
        self.t = 0
        self.exp_avg = [np.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [np.zeros_like(p) for p in self.params]
        self.max_exp_avg_sq = [np.zeros_like(p) for p in self.params] if amsgrad else None

    def step(self, grads):
        grads = self._gradients(grads)
        lr, (b1, b2), wd = float(self.lr), self.betas, self.weight_decay
        self.t += 1
        # Python floats (not NumPy scalars) so that float32 parameters stay float32.
        bias_correction1 = 1 - b1**self.t
        bias_correction2_sqrt = math.sqrt(1 - b2**self.t)
        for i, (p, g) in enumerate(zip(self.params, grads)):
            if wd != 0:
                if self.decoupled_weight_decay:
                    p *= 1 - lr * wd
                else:
                    g = g + wd * p
            m, v = self.exp_avg[i], self.exp_avg_sq[i]
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g * g
            if self.amsgrad:
                v_max = self.max_exp_avg_sq[i]
                v_max[...] = np.maximum(v_max, v)
                v = v_max
            denom = np.sqrt(v) / bias_correction2_sqrt + self.eps
            p -= (lr / bias_correction1) * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    p = p * (1 - lr * weight_decay), then the Adam update with no L2 term in g.
    """

    decoupled_weight_decay = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)


class RMSprop(_Optimizer):
    """RMSprop, as ``torch.optim.RMSprop``.

    g = g + weight_decay * p
    sq = alpha * sq + (1 - alpha) * g^2
    centered:  ga = alpha * ga + (1 - alpha) * g;  avg = sqrt(sq - ga^2) + eps
    otherwise: avg = sqrt(sq) + eps
    momentum mu > 0: buf = mu * buf + g / avg;  p = p - lr * buf
    otherwise:       p = p - lr * g / avg
    All buffers start at zero.
    """

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
        super().__init__(params, lr)
        self.alpha = alpha
        self.eps = eps
        self.weight_decay = weight_decay
        self.momentum = momentum
        self.centered = centered
        self.square_avg = [np.zeros_like(p) for p in self.params]
        self.grad_avg = [np.zeros_like(p) for p in self.params] if centered else None
        self.momentum_buffer = [np.zeros_like(p) for p in self.params] if momentum > 0 else None

    def step(self, grads):
        lr, a, mu = float(self.lr), self.alpha, self.momentum
        for i, (p, g) in enumerate(zip(self.params, self._gradients(grads))):
            if self.weight_decay != 0:
                g = g + self.weight_decay * p
            sq = self.square_avg[i]
            sq[...] = a * sq + (1 - a) * g * g
            if self.centered:
                ga = self.grad_avg[i]
                ga[...] = a * ga + (1 - a) * g
                avg = np.sqrt(sq - ga * ga) + self.eps
            else:
                avg = np.sqrt(sq) + self.eps
            if mu > 0:
                buf = self.momentum_buffer[i]
                buf[...] = mu * buf + g / avg
                p -= lr * buf
            else:
                p -= lr * g / avg


def global_norm(arrays):
    """sqrt(sum over all entries of all arrays of a^2), in float64; when that sum overflows,
    top * sqrt(sum (a / top)^2) with top the largest |a|."""
    with np.errstate(over="ignore"):
        total = math.sqrt(sum(float(np.sum(np.square(a, dtype=np.float64))) for a in arrays))
    if math.isinf(total):
        top = max(float(np.max(np.abs(a.astype(np.float64)))) for a in arrays)
        if 0 < top < math.inf:
            total = top * math.sqrt(sum(float(np.sum((a.astype(np.float64) / top) ** 2)) for a in arrays))
    return total


def clip_grad_norm(grads, max_norm):
    """Rescale gradients in place so their joint L2 norm is at most ~max_norm.

    total = global_norm(grads); coef = max_norm / (total + 1e-6); if coef < 1 every grad is
    multiplied by coef (``torch.nn.utils.clip_grad_norm_``).  Returns ``total`` (before
    clipping) as a float.
    """
    grads = list(grads)
    for g in grads:
        if not isinstance(g, np.ndarray):
            raise TypeError(f"grads must be NumPy arrays (scaled in place), got {type(g).__name__}")
    total_norm = global_norm(grads)
    coef = max_norm / (total_norm + 1e-6)
    if coef < 1:
        for g in grads:
            g *= coef
    return total_norm
