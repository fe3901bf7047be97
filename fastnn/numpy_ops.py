"""Plain-NumPy twins of the kernels in ``fastnn.ops``.

Each function has the signature, argument checks and results of its twin in
``fastnn.ops`` and is what one would write with NumPy alone: the reference
behaviour the compiled kernels must match, and the baseline ``bench/``
measures them against.  The test suite runs the same specification tests on
both modules.
"""
import numpy as np

from fastnn._validation import (adam_step_args, dense_backward_args, dense_forward_args,
                                loss_args, momentum_step_args, rmsprop_step_args,
                                sgd_step_args)

__all__ = [
    "dense_forward",
    "dense_backward",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "mean_squared_error",
    "softmax",
    "sigmoid",
    "sgd_step",
    "momentum_step",
    "rmsprop_step",
    "adam_step",
]

# activation codes of fastnn._validation.ACTIVATIONS
_LINEAR, _RELU, _LEAKY_RELU, _TANH, _SIGMOID, _SOFTMAX = range(6)


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
    if act == _TANH:
        return dA * (1 - np.tanh(z) ** 2)
    if act == _SIGMOID:
        s = _sigmoid(z)
        return dA * s * (1 - s)
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


def _one_hot(t, k, dtype):
    if t.ndim == 2:
        return t
    Y = np.zeros((t.shape[0], k), dtype=dtype)
    Y[np.arange(t.shape[0]), t] = 1
    return Y


def softmax_cross_entropy(Z, y, *, compute_grad=True, out=None):
    """NumPy twin of fastnn.ops.softmax_cross_entropy."""
    Z, t, dZ = loss_args(Z, y, 0, compute_grad, out, "softmax_cross_entropy")
    m, k = Z.shape
    Y = _one_hot(t, k, Z.dtype)
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-(Y * (shifted - log_sum)).sum() / m)
    if dZ is not None:
        dZ[...] = (np.exp(shifted - log_sum) * Y.sum(axis=1, keepdims=True) - Y) / m
    return loss, dZ


def sigmoid_cross_entropy(Z, y, *, compute_grad=True, out=None):
    """NumPy twin of fastnn.ops.sigmoid_cross_entropy."""
    Z, Y, dZ = loss_args(Z, y, 1, compute_grad, out, "sigmoid_cross_entropy")
    m = Z.shape[0]
    loss = float((np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z)))).sum() / m)
    if dZ is not None:
        dZ[...] = (_sigmoid(Z) - Y) / m
    return loss, dZ


def mean_squared_error(P, y, *, compute_grad=True, out=None):
    """NumPy twin of fastnn.ops.mean_squared_error."""
    P, Y, dP = loss_args(P, y, 2, compute_grad, out, "mean_squared_error")
    diff = P - Y
    loss = float(np.mean(diff.astype(np.float64) ** 2))
    if dP is not None:
        dP[...] = 2 * diff / diff.size
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
