"""Plain-NumPy references of fastnn's kernels, written straight from the formulas.

Every test compares ``fastnn.ops`` (compiled) and ``fastnn.numpy_ops`` (the
NumPy twins) with the functions here, at the per-dtype tolerances of
``tests/conftest.py``.  Rules for this file, so that it stays trustworthy:

- Everything is computed in float64: inputs are cast up first (``_f64``), so a
  float32 kernel is compared with the exact-as-possible value of its own
  float32 inputs.  Functions return float64 arrays and Python floats.
- Each function is the textbook formula, written for clarity, not speed, and
  not copied from ``fastnn.numpy_ops`` (which is one of the things under test).
  Where a formula needs care for large inputs (log-sum-exp, softplus) the
  stable form is still an identity written out in the docstring.
- Layout is the library's: one example per row, ``A_prev`` (m, n_in),
  ``W`` (n_in, n_out), ``b`` (n_out,), ``Z`` and ``A`` (m, n_out).
- Gradient convention (DEVELOPERS.md): the cost is the MEAN over the m rows;
  a loss returns ``dZ`` of that mean (the 1/m is inside), and
  ``dense_backward`` receives ``dA`` of the mean cost and returns the exact
  gradients of ``J + (l2 / 2m) ||W||^2``.

Sections (append new kernel families at the end, each under its own header):
  1. Helpers
  2. Activations and their derivatives
  3. Dense layer (forward, backward)
  4. Losses (softmax / sigmoid cross-entropy, mean squared error)
  5. Finite differences
"""
import numpy as np

__all__ = [
    "ACTIVATIONS",
    "activation",
    "activation_backward",
    "dense_forward",
    "dense_backward",
    "softmax",
    "sigmoid",
    "one_hot",
    "softmax_cross_entropy",
    "sigmoid_cross_entropy",
    "mean_squared_error",
    "numerical_gradient",
]

DEFAULT_NEGATIVE_SLOPE = 0.01


# ============================================================================
# 1. Helpers
# ============================================================================

def _f64(x):
    """A float64 copy of x (arrays, lists or None)."""
    return None if x is None else np.array(x, dtype=np.float64)


def _logsumexp_rows(Z):
    """log(sum_j exp(Z_ij)) per row, as a (m, 1) column.

    Identity: log sum exp(z_j) = c + log sum exp(z_j - c) for any c; c = max_j z_j
    makes every exponent <= 0, so nothing overflows.
    """
    c = Z.max(axis=1, keepdims=True)
    return c + np.log(np.exp(Z - c).sum(axis=1, keepdims=True))


# ============================================================================
# 2. Activations and their derivatives
# ============================================================================

ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax")


def sigmoid(Z):
    """1 / (1 + exp(-z)) elementwise.

    Written as exp(-softplus(-z)) with softplus(x) = log(1 + exp(x)) =
    logaddexp(0, x): the same number, without overflow for very negative z.
    """
    Z = _f64(Z)
    return np.exp(-np.logaddexp(0.0, -Z))


def softmax(Z):
    """Row-wise softmax: exp(z_ij) / sum_k exp(z_ik) = exp(z_ij - logsumexp_i)."""
    Z = _f64(Z)
    return np.exp(Z - _logsumexp_rows(Z))


def activation(Z, name, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """A = g(Z) for the activation `name`."""
    Z = _f64(Z)
    if name == "linear":
        return Z.copy()
    if name == "relu":
        return np.where(Z > 0, Z, 0.0)
    if name == "leaky_relu":
        return np.where(Z > 0, Z, negative_slope * Z)
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":
        return sigmoid(Z)
    if name == "softmax":
        return softmax(Z)
    raise ValueError(f"unknown activation {name!r}")


def activation_backward(dA, Z, name, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """dZ = dA * g'(Z) (for softmax: dA times the row Jacobian of softmax).

    Derivatives, with the project's choices at the kinks:
      linear 1;  relu 1 if z > 0 else 0 (so relu'(0) = 0);
      leaky_relu 1 if z > 0 else slope (z <= 0);
      tanh 1 - tanh(z)^2 = sech(z)^2 = 4 e / (1 + e)^2 with e = exp(-2|z|)
           (sech z = 2 / (exp(z) + exp(-z)); the last form keeps its relative
           precision where tanh(z) rounds to +-1, unlike 1 - tanh^2);
      sigmoid s(z) (1 - s(z)) = s(z) s(-z) (same reason: 1 - s(z) cancels);
      softmax: d s_j / d z_i = s_j (delta_ij - s_i), hence
               dZ_i = sum_j dA_j s_j (delta_ij - s_i) = s_i (dA_i - sum_j dA_j s_j).
    """
    dA, Z = _f64(dA), _f64(Z)
    if name == "linear":
        return dA.copy()
    if name == "relu":
        return dA * np.where(Z > 0, 1.0, 0.0)
    if name == "leaky_relu":
        return dA * np.where(Z > 0, 1.0, negative_slope)
    if name == "tanh":
        e = np.exp(-2.0 * np.abs(Z))
        return dA * (4.0 * e / (1.0 + e) ** 2)
    if name == "sigmoid":
        return dA * sigmoid(Z) * sigmoid(-Z)
    if name == "softmax":
        s = softmax(Z)
        return s * (dA - (dA * s).sum(axis=1, keepdims=True))
    raise ValueError(f"unknown activation {name!r}")


# ============================================================================
# 3. Dense layer
# ============================================================================

def dense_forward(A_prev, W, b, name, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """(Z, A) with Z = A_prev @ W + b (no bias when b is None) and A = g(Z)."""
    A_prev, W, b = _f64(A_prev), _f64(W), _f64(b)
    Z = A_prev @ W
    if b is not None:
        Z = Z + b
    return Z, activation(Z, name, negative_slope)


def dense_backward(dA, Z, A_prev, W, name, l2=0.0, negative_slope=DEFAULT_NEGATIVE_SLOPE):
    """(dA_prev, dW, db) of one dense layer, gradients of the mean cost.

    dA is dJ/dA of the mean cost J; the regularised cost is
    J + (l2 / 2m) ||W||^2 with m = rows of A_prev.  Then
      dZ = dA * g'(Z),  dW = A_prev.T @ dZ + (l2 / m) W,
      db = sum over rows of dZ,  dA_prev = dZ @ W.T.
    """
    A_prev, W = _f64(A_prev), _f64(W)
    m = A_prev.shape[0]
    dZ = activation_backward(dA, Z, name, negative_slope)
    dW = A_prev.T @ dZ + (l2 / m) * W
    db = dZ.sum(axis=0)
    dA_prev = dZ @ W.T
    return dA_prev, dW, db


# ============================================================================
# 4. Losses
# ============================================================================

def one_hot(labels, k):
    """(m, k) float64 rows with a 1 at each label."""
    labels = np.asarray(labels).astype(np.int64)
    Y = np.zeros((labels.shape[0], k))
    Y[np.arange(labels.shape[0]), labels] = 1.0
    return Y


def _class_targets(y, k):
    """Integer labels (m,) -> one-hot; (m, k) rows are used as given."""
    y = np.asarray(y)
    return one_hot(y, k) if y.ndim == 1 else _f64(y)


def softmax_cross_entropy(Z, y):
    """(loss, dZ): mean over rows of -sum_j Y_ij log softmax(Z)_ij.

    y: integer labels (m,) or (m, k) one-hot / probability rows.
    log softmax(Z)_ij = z_ij - logsumexp_i, so the row loss is
    sum_j Y_ij (logsumexp_i - z_ij), and its gradient with respect to z_ij,
    divided by m for the mean, is (softmax_ij * sum_j Y_ij - Y_ij) / m.
    """
    Z = _f64(Z)
    m, k = Z.shape
    Y = _class_targets(y, k)
    log_p = Z - _logsumexp_rows(Z)
    loss = float(-(Y * log_p).sum() / m)
    dZ = (softmax(Z) * Y.sum(axis=1, keepdims=True) - Y) / m
    return loss, dZ


def sigmoid_cross_entropy(Z, y):
    """(loss, dZ): binary cross-entropy of sigmoid(Z), summed over the k
    columns of a row and averaged over the m rows.

    Per element: -(y log s + (1 - y) log(1 - s)) with s = sigmoid(z).  Since
    -log s = softplus(-z) and -log(1 - s) = softplus(z), this is
    y softplus(-z) + (1 - y) softplus(z), softplus(x) = logaddexp(0, x).
    dZ = (sigmoid(Z) - Y) / m.
    """
    Z = _f64(Z)
    m = Z.shape[0]
    Y = _f64(y).reshape(Z.shape)
    per_element = Y * np.logaddexp(0.0, -Z) + (1.0 - Y) * np.logaddexp(0.0, Z)
    loss = float(per_element.sum() / m)
    dZ = (sigmoid(Z) - Y) / m
    return loss, dZ


def mean_squared_error(P, y):
    """(loss, dP): mean of (P - Y)^2 over all m*k elements; dP = 2 (P - Y) / (m k)."""
    P = _f64(P)
    m, k = P.shape
    Y = _f64(y).reshape(P.shape)
    loss = float(((P - Y) ** 2).sum() / (m * k))
    dP = 2.0 * (P - Y) / (m * k)
    return loss, dP


# ============================================================================
# 5. Finite differences
# ============================================================================

def numerical_gradient(f, x, eps=1e-6):
    """Central finite-difference gradient of the scalar function f at x.

    x must be a float64 ndarray; it is perturbed in place, one element at a
    time, and restored exactly.  f takes no argument and reads x (close over
    it).  Error O(eps^2) plus rounding O(1e-16 / eps).
    """
    if not (isinstance(x, np.ndarray) and x.dtype == np.float64):
        raise TypeError("numerical_gradient: x must be a float64 ndarray")
    grad = np.empty_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)   # views (x is contiguous)
    if not np.shares_memory(flat, x):
        raise ValueError("numerical_gradient: x must be contiguous")
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        f_plus = float(f())
        flat[i] = orig - eps
        f_minus = float(f())
        flat[i] = orig
        gflat[i] = (f_plus - f_minus) / (2.0 * eps)
    return grad
