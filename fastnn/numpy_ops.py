"""Plain-NumPy twins of the kernels in ``fastnn.ops``.

Each function has the signature, argument checks and results of its twin in
``fastnn.ops`` and is what one would write with NumPy alone: the reference
behaviour the compiled kernels must match, and the baseline ``bench/``
measures them against.  The test suite runs the same specification tests on
both modules.
"""
import math

import numpy as np

from fastnn._validation import (ACTIVATIONS, BatchNormCache, activation_args, adam_step_args,
                                bad_index_error, batchnorm_backward_args, batchnorm_forward_args,
                                dense_backward_args, dense_forward_args, dropout_backward_args,
                                dropout_forward_args, gather_rows_args, loss_args,
                                momentum_step_args, rmsprop_step_args, sample_weight_args,
                                sgd_step_args)

__all__ = [
    "dense_forward",
    "dense_backward",
    "activation_forward",
    "activation_backward",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "mean_squared_error",
    "softmax",
    "sigmoid",
    "batchnorm_forward",
    "batchnorm_backward",
    "BatchNormCache",
    "dropout_forward",
    "dropout_backward",
    "sgd_step",
    "momentum_step",
    "rmsprop_step",
    "adam_step",
    "gather_rows",
]

# the kernels' activation codes (fastnn._validation.ACTIVATIONS, the C enum's)
_LINEAR, _RELU, _LEAKY_RELU, _TANH, _SIGMOID, _SOFTMAX = (
    ACTIVATIONS[name] for name in ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax"))


def _sigmoid(z):
    # exp(-|z|) never overflows; both branches of the logistic function from it
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def _softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _activation(z, act, slope):
    if act == _LINEAR:
        return z.copy()
    if act == _RELU:
        return np.maximum(z, 0)
    if act == _LEAKY_RELU:
        return np.where(z < 0, z * z.dtype.type(slope), z)
    if act == _TANH:
        return np.tanh(z)
    if act == _SIGMOID:
        return _sigmoid(z)
    return _softmax(z)


def _activation_grad(dA, z, act, slope):
    """dZ = dA * g'(z) (softmax: the Jacobian-vector product of each row)."""
    if act == _LINEAR:
        return dA
    if act == _RELU:
        return dA * (z > 0)
    if act == _LEAKY_RELU:
        return np.where(z > 0, dA, dA * dA.dtype.type(slope))
    # from e = exp(-c|z|): 1 - tanh^2 and s (1 - s) cancel to 0 for saturated units
    if act == _TANH:
        e = np.exp(-2 * np.abs(z))
        return dA * (4 * e / (1 + e) ** 2)
    if act == _SIGMOID:
        e = np.exp(-np.abs(z))
        return dA * (e / (1 + e) ** 2)
    s = _softmax(z)
    return s * (dA - (dA * s).sum(axis=1, keepdims=True))


def dense_forward(A_prev, W, b, activation="relu", *, keep_z=True, out=None,
                  negative_slope=0.01):
    """NumPy twin of fastnn.ops.dense_forward: ``Z = A_prev @ W + b``, ``A = g(Z)``."""
    A_prev, W, b, act, slope, Z_buf, A_buf = dense_forward_args(
        A_prev, W, b, activation, keep_z, out, negative_slope)
    Z = A_prev @ W
    if b is not None:
        Z = Z + b
    A = _activation(Z, act, slope)
    A_buf[...] = A
    if not keep_z:
        return None, A_buf
    Z_buf[...] = Z
    return Z_buf, A_buf


def dense_backward(dA, Z, A_prev, W, activation="relu", *, l2=0.0, need_dA_prev=True,
                   out=None, workspace=None, negative_slope=0.01):
    """NumPy twin of fastnn.ops.dense_backward (gradients of the mean cost)."""
    dA, Z, A_prev, W, act, l2, slope, dA_prev_buf, dW_buf, db_buf, _ = dense_backward_args(
        dA, Z, A_prev, W, activation, l2, need_dA_prev, out, workspace, negative_slope)
    m = A_prev.shape[0]
    dZ = _activation_grad(dA, Z, act, slope)
    dW_buf[...] = A_prev.T @ dZ + (l2 / m) * W
    db_buf[...] = dZ.sum(axis=0)
    if dA_prev_buf is None:
        return None, dW_buf, db_buf
    dA_prev_buf[...] = dZ @ W.T
    return dA_prev_buf, dW_buf, db_buf


def activation_forward(Z, activation="relu", *, out=None, negative_slope=0.01):
    """NumPy twin of fastnn.ops.activation_forward."""
    Z, _, act, slope, A = activation_args(Z, None, activation, out, negative_slope,
                                          "activation_forward")
    A[...] = _activation(Z, act, slope)
    return A


def activation_backward(dA, Z, activation="relu", *, out=None, negative_slope=0.01):
    """NumPy twin of fastnn.ops.activation_backward."""
    Z, dA, act, slope, dZ = activation_args(Z, dA, activation, out, negative_slope,
                                            "activation_backward")
    dZ[...] = _activation_grad(dA, Z, act, slope)
    return dZ


def _one_hot(t, k, dtype):
    if t.ndim == 2:
        return t
    Y = np.zeros((t.shape[0], k), dtype=dtype)
    Y[np.arange(t.shape[0]), t] = 1
    return Y


def _row_weights(w):
    """(w as a column, sum(w)) of checked sample weights, or (None, None).
    The sum is a Python float, so dividing a float32 array by it stays
    float32 (NumPy's weak scalars), as dividing by m does; with every weight
    1 it is m, and each product by 1 is exact: the unweighted bits."""
    if w is None:
        return None, None
    return w[:, None], float(np.add.reduce(w, dtype=np.float64))


def softmax_cross_entropy(Z, y, *, compute_grad=True, out=None, sample_weight=None):
    """NumPy twin of fastnn.ops.softmax_cross_entropy."""
    Z, t, dZ = loss_args(Z, y, 0, compute_grad, out, "softmax_cross_entropy")
    w, total = _row_weights(sample_weight_args(sample_weight, Z, dZ, "softmax_cross_entropy"))
    m, k = Z.shape
    Y = _one_hot(t, k, Z.dtype)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    if w is None:
        loss = float(-(Y * (shifted - log_sum)).sum() / m)
    else:
        loss = float(-(Y * (shifted - log_sum) * w).sum() / total)
    if dZ is not None:
        g = np.exp(shifted - log_sum) * Y.sum(axis=1, keepdims=True) - Y
        dZ[...] = g / m if w is None else g * w / total
    return loss, dZ


def sigmoid_cross_entropy(Z, y, *, compute_grad=True, out=None, sample_weight=None):
    """NumPy twin of fastnn.ops.sigmoid_cross_entropy."""
    Z, Y, dZ = loss_args(Z, y, 1, compute_grad, out, "sigmoid_cross_entropy")
    w, total = _row_weights(sample_weight_args(sample_weight, Z, dZ, "sigmoid_cross_entropy"))
    m = Z.shape[0]
    per_element = np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))
    if w is None:
        loss = float(per_element.sum() / m)
    else:
        loss = float((per_element * w).sum() / total)
    if dZ is not None:
        g = _sigmoid(Z) - Y
        dZ[...] = g / m if w is None else g * w / total
    return loss, dZ


def mean_squared_error(P, y, *, compute_grad=True, out=None, sample_weight=None):
    """NumPy twin of fastnn.ops.mean_squared_error."""
    P, Y, dP = loss_args(P, y, 2, compute_grad, out, "mean_squared_error")
    w, total = _row_weights(sample_weight_args(sample_weight, P, dP, "mean_squared_error"))
    diff = P - Y
    if w is None:
        loss = float(np.mean(diff.astype(np.float64) ** 2))
    else:
        n = total * P.shape[1]
        loss = float(np.sum(diff.astype(np.float64) ** 2 * w) / n)
    if dP is not None:
        dP[...] = 2 * diff / diff.size if w is None else 2 * diff * w / n
    return loss, dP


def softmax(Z, *, out=None):
    """NumPy twin of fastnn.ops.softmax."""
    from fastnn._validation import check_array, check_out
    Z = check_array(Z, "Z", "softmax", 2)
    A = check_out(out, "out", "softmax", Z.shape, Z.dtype)
    A[...] = _softmax(Z)
    return A


def sigmoid(Z, *, out=None):
    """NumPy twin of fastnn.ops.sigmoid."""
    from fastnn._validation import check_array, check_out
    Z = check_array(Z, "Z", "sigmoid", 2)
    A = check_out(out, "out", "sigmoid", Z.shape, Z.dtype)
    A[...] = _sigmoid(Z)
    return A


def batchnorm_forward(Z, gamma, beta, *, eps=1e-5, training=True, running_mean=None,
                      running_var=None, momentum=0.9, out=None):
    """NumPy twin of fastnn.ops.batchnorm_forward (the course's formulas)."""
    (Z, gamma, beta, eps, training, momentum, running_mean, running_var,
     Z_tilde, mu_buf, inv_std_buf) = batchnorm_forward_args(
        Z, gamma, beta, eps, training, running_mean, running_var, momentum, out)
    if not training:
        Z_tilde[...] = gamma * (Z - running_mean) / np.sqrt(running_var + eps) + beta
        return Z_tilde, None
    m = Z.shape[0]
    mu = Z.mean(axis=0)
    var = Z.var(axis=0)                       # biased: divides by m
    inv_std = 1 / np.sqrt(var + eps)
    z_norm = (Z - mu) * inv_std
    Z_tilde[...] = gamma * z_norm + beta
    mu_buf[...] = mu
    inv_std_buf[...] = inv_std
    if running_mean is not None:
        running_mean *= momentum
        running_mean += (1 - momentum) * mu
        running_var *= momentum
        running_var += (1 - momentum) * (var * (m / (m - 1)))   # unbiased, as torch
    return Z_tilde, BatchNormCache(Z, gamma, mu_buf, inv_std_buf)


def batchnorm_backward(dZ_tilde, cache, *, out=None):
    """NumPy twin of fastnn.ops.batchnorm_backward (the compact closed form)."""
    dZ_tilde, Z, gamma, mu, inv_std, dZ, dgamma, dbeta = batchnorm_backward_args(
        dZ_tilde, cache, out)
    m = Z.shape[0]
    z_norm = (Z - mu) * inv_std
    db = dZ_tilde.sum(axis=0)
    dg = (dZ_tilde * z_norm).sum(axis=0)
    dZ[...] = (gamma * inv_std / m) * (m * dZ_tilde - db - z_norm * dg)
    dgamma[...] = dg
    dbeta[...] = db
    return dZ, dgamma, dbeta


# SplitMix64, as in csrc/dropout.c, in wrapping uint64 array arithmetic.
_GOLDEN_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_S27, _S30, _S31, _S32 = (np.uint64(s) for s in (27, 30, 31, 32))


def _mix64(z):
    z = (z ^ (z >> _S30)) * _MIX1
    z = (z ^ (z >> _S27)) * _MIX2
    return z ^ (z >> _S31)


def _dropout_bits(seed, size):
    """u_e of csrc/dropout.c for e < size: 32 bits of word e // 2 of the
    SplitMix64 stream whose state starts at mix64(seed), low half for even e."""
    key = _mix64(np.array([seed], dtype=np.uint64))
    k = np.arange(1, (size + 1) // 2 + 1, dtype=np.uint64)
    words = _mix64(key + k * _GOLDEN_GAMMA)
    u = np.empty(2 * words.size, dtype=np.uint32)
    u[0::2] = words & np.uint64(0xFFFFFFFF)
    u[1::2] = words >> _S32
    return u[:size]


def _keep_factor(keep, keep_prob, dtype):
    # 0 or 1/keep_prob rounded once to dtype, as the C kernel multiplies by
    return np.where(keep, dtype.type(1.0 / keep_prob), dtype.type(0))


def dropout_forward(A, keep_prob, seed, *, out=None):
    """NumPy twin of fastnn.ops.dropout_forward: the same mask for the same seed."""
    A, keep_prob, seed, A_out, mask = dropout_forward_args(A, keep_prob, seed, out)
    # u / 2**32 < keep_prob, exactly: keep_prob * 2**32 is exact in float64
    keep = _dropout_bits(seed, A.size).reshape(A.shape) <= math.ceil(keep_prob * 2.0 ** 32) - 1
    mask[...] = keep
    A_out[...] = A * _keep_factor(keep, keep_prob, A.dtype)
    return A_out, mask


def dropout_backward(dA, mask, keep_prob, *, out=None):
    """NumPy twin of fastnn.ops.dropout_backward."""
    dA, mask, keep_prob, dA_prev = dropout_backward_args(dA, mask, keep_prob, out)
    dA_prev[...] = dA * _keep_factor(mask != 0, keep_prob, dA.dtype)
    return dA_prev
# Optimizer steps: in place, one NumPy statement per formula.  Python floats
# combine with float32 arrays without promoting them (NEP 50), so every
# operation runs in the arrays' dtype, as the C kernels do.

def sgd_step(w, g, learning_rate, *, l2=0.0, m=1):
    """NumPy twin of fastnn.ops.sgd_step: ``w -= lr * (g + (l2 / m) * w)``."""
    w, g, lr, decay = sgd_step_args(w, g, learning_rate, l2, m)
    w -= lr * (g + decay * w)


def momentum_step(w, g, v, learning_rate, beta=0.9, *, nesterov=False, average=True):
    """NumPy twin of fastnn.ops.momentum_step."""
    w, g, v, lr, beta, nesterov, average = momentum_step_args(
        w, g, v, learning_rate, beta, nesterov, average)
    c = 1.0 - beta if average else 1.0
    v *= beta
    v += c * g                                  # v = beta v + c g
    if nesterov:
        w -= lr * (beta * v + c * g)
    else:
        w -= lr * v


def rmsprop_step(w, g, s, learning_rate, beta=0.9, eps=1e-8):
    """NumPy twin of fastnn.ops.rmsprop_step."""
    w, g, s, lr, beta, eps = rmsprop_step_args(w, g, s, learning_rate, beta, eps)
    s *= beta
    s += (1.0 - beta) * np.square(g)            # s = beta s + (1 - beta) g^2
    w -= lr * g / (np.sqrt(s) + eps)


def adam_step(w, g, v, s, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, *,
              weight_decay=0.0):
    """NumPy twin of fastnn.ops.adam_step."""
    w, g, v, s, t, lr, beta1, beta2, eps, weight_decay = adam_step_args(
        w, g, v, s, t, learning_rate, beta1, beta2, eps, weight_decay)
    v *= beta1
    v += (1.0 - beta1) * g                      # v = beta1 v + (1 - beta1) g
    s *= beta2
    s += (1.0 - beta2) * np.square(g)           # s = beta2 s + (1 - beta2) g^2
    v_hat = v / (1.0 - beta1 ** t)
    s_hat = s / (1.0 - beta2 ** t)
    update = v_hat / (np.sqrt(s_hat) + eps)
    if weight_decay:
        update += weight_decay * w
    w -= lr * update


def gather_rows(X, indices, *, out=None):
    """NumPy twin of fastnn.ops.gather_rows: ``np.take(X, indices, axis=0)``."""
    x, idx, o = gather_rows_args(X, indices, out)
    n = x.shape[0]
    if idx.min() < 0 or idx.max() >= n:
        raise bad_index_error(idx, n, "gather_rows")
    np.take(x, idx, axis=0, out=o)
    return o
