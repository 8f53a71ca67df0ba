"""Reference losses for linear models, written as the textbook formulas.

Every loss takes a batch ``X`` of shape (n, d) and returns ``(loss, grad_w, grad_b)``
for the objective

    L(w, b) = sum_i s_i * l(z_i, y_i) / sum_i s_i  +  alpha * R(w),
    z_i = x_i . w + b,
    R(w) = l1_ratio * ||w||_1 + 1/2 * (1 - l1_ratio) * ||w||_2^2,

where ``s`` is ``sample_weight`` (all ones by default, giving the plain mean) and the
intercept ``b`` is never penalised.  The subgradient of R uses sign(0) = 0.

All arithmetic is done in float64.  ``loss`` is a Python float; ``grad_w`` is cast to
the dtype of ``X`` when ``X`` is float32 (float64 otherwise); ``grad_b`` is a Python
float for the scalar-output losses and an array in that same dtype for softmax.
"""

import numpy as np

__all__ = ["squared_error", "logistic", "softmax_cross_entropy"]


def _prepare(X, y, sample_weight, y_dtype=np.float64):
    """Upcast to float64, check shapes; return (X, y, sw, output dtype)."""
    X = np.asarray(X)
    out_dtype = np.float32 if X.dtype == np.float32 else np.float64
    X = X.astype(np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D, got shape {X.shape}")
    n = X.shape[0]
    y = np.asarray(y) if y_dtype is None else np.asarray(y, dtype=y_dtype)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},), got {y.shape}")
    if sample_weight is None:
        sw = np.ones(n)
    else:
        sw = np.asarray(sample_weight, dtype=np.float64)
        if sw.shape != (n,):
            raise ValueError(f"sample_weight must have shape ({n},), got {sw.shape}")
    return X, y, sw, out_dtype


def _weighted_mean(values, sw):
    """sum_i s_i v_i / sum_i s_i (over the first axis)."""
    return np.sum(sw * values) / np.sum(sw)


def _penalty(w, alpha, l1_ratio):
    """R = alpha (l1_ratio ||w||_1 + 1/2 (1 - l1_ratio) ||w||^2) and its subgradient."""
    value = alpha * (l1_ratio * np.sum(np.abs(w)) + 0.5 * (1 - l1_ratio) * np.sum(w * w))
    grad = alpha * (l1_ratio * np.sign(w) + (1 - l1_ratio) * w)
    return value, grad


def _sigmoid(z):
    """sigma(z) = 1 / (1 + e^-z), evaluated through e^-|z| <= 1 so nothing overflows."""
    with np.errstate(under="ignore"):
        e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _softplus(z):
    """log(1 + e^z) = max(z, 0) + log1p(e^-|z|)."""
    with np.errstate(under="ignore"):
        return np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z)))


def squared_error(X, y, w, b, *, alpha=0.0, l1_ratio=0.0, sample_weight=None):
    """Least squares: l(z, y) = 1/2 (z - y)^2, dl/dz = z - y."""
    X, y, sw, out_dtype = _prepare(X, y, sample_weight)
    w = np.asarray(w, dtype=np.float64)
    z = X @ w + float(b)

    residual = z - y
    loss = _weighted_mean(0.5 * residual**2, sw)
    dz = sw * residual / np.sum(sw)  # d(mean loss)/dz_i
    grad_w = X.T @ dz
    grad_b = np.sum(dz)

    penalty, penalty_grad = _penalty(w, alpha, l1_ratio)
    return float(loss + penalty), (grad_w + penalty_grad).astype(out_dtype), float(grad_b)


def logistic(X, y, w, b, *, alpha=0.0, l1_ratio=0.0, sample_weight=None):
    """Binary log-loss, y in [0, 1] (soft labels allowed).

    l(z, y) = -y log sigma(z) - (1 - y) log(1 - sigma(z)) = softplus(z) - y z,
    dl/dz = sigma(z) - y.
    """
    X, y, sw, out_dtype = _prepare(X, y, sample_weight)
    w = np.asarray(w, dtype=np.float64)
    z = X @ w + float(b)

    loss = _weighted_mean(_softplus(z) - y * z, sw)
    dz = sw * (_sigmoid(z) - y) / np.sum(sw)
    grad_w = X.T @ dz
    grad_b = np.sum(dz)

    penalty, penalty_grad = _penalty(w, alpha, l1_ratio)
    return float(loss + penalty), (grad_w + penalty_grad).astype(out_dtype), float(grad_b)


def softmax_cross_entropy(X, y, W, b, *, alpha=0.0, l1_ratio=0.0, sample_weight=None):
    """Multinomial log-loss; y integer class ids in [0, K), W of shape (d, K), b of shape (K,).

    Z = X W + b,
    l(Z_i, y_i) = logsumexp(Z_i) - Z_i[y_i],   logsumexp(z) = m + log sum_k e^(z_k - m), m = max_k z_k,
    dl/dZ_i = softmax(Z_i) - onehot(y_i).
    The penalty is entrywise on W (L1 and squared Frobenius norms).
    """
    X, y, sw, out_dtype = _prepare(X, y, sample_weight, y_dtype=None)
    W = np.asarray(W, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, K = X.shape[0], W.shape[1]
    if y.dtype.kind not in "iu":
        raise TypeError(f"y must hold integer class ids, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() >= K):
        raise ValueError(f"class ids must lie in [0, {K})")
    Z = X @ W + b

    Z_max = np.max(Z, axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        E = np.exp(Z - Z_max)
    logsumexp = Z_max[:, 0] + np.log(np.sum(E, axis=1))
    softmax = E / np.sum(E, axis=1, keepdims=True)
    onehot = np.eye(K)[y]

    loss = _weighted_mean(logsumexp - Z[np.arange(n), y], sw)
    dZ = sw[:, None] * (softmax - onehot) / np.sum(sw)
    grad_W = X.T @ dZ
    grad_b = np.sum(dZ, axis=0)

    penalty, penalty_grad = _penalty(W, alpha, l1_ratio)
    return float(loss + penalty), (grad_W + penalty_grad).astype(out_dtype), grad_b.astype(out_dtype)
