"""Plain-NumPy references of fastnn's kernels, written straight from the formulas.

Every test compares ``fastnn.ops`` (compiled) and ``fastnn.numpy_ops`` (the
NumPy twins) with the functions here, at the per-dtype tolerances of
``tests/conftest.py``.  Rules for this file, so that it stays trustworthy:

- Everything is computed in float64: inputs are cast up first (``_f64``, which
  copies), so a float32 kernel is compared with the exact-as-possible value of
  its own float32 inputs.  Functions return float64 arrays and Python floats
  (the dropout mask: booleans; SplitMix64: integers), and never modify their
  arguments: the optimizer references return the new arrays where the kernels
  update theirs in place.
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
  4. Losses (softmax / sigmoid cross-entropy, mean squared error; optional
     sample weights)
  5. Finite differences
  6. Batch norm (training forward, backward, inference, running averages)
  7. Dropout (the SplitMix64 mask, forward, backward)
  8. Optimizers (SGD, momentum, RMSprop, Adam)
  9. Exponentially weighted averages
 10. Row gathers and sums of squares
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
    "batchnorm_forward",
    "batchnorm_backward",
    "batchnorm_inference",
    "batchnorm_running_update",
    "mix64",
    "splitmix64",
    "dropout_uniforms",
    "dropout_mask",
    "dropout_forward",
    "dropout_backward",
    "sgd_step",
    "momentum_step",
    "rmsprop_step",
    "adam_step",
    "ewa",
    "gather_rows",
    "sum_squares",
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


def _sample_weights(sample_weight, m):
    """(m,) float64 weights s_i (all 1 when None) and their sum.

    With weights the cost is scikit-learn's MLP definition: the weighted mean
    sum_i s_i loss_i / sum(s) of the row losses, so row i's gradient is
    s_i / sum(s) times the gradient of loss_i (1/m each when all s_i = 1)."""
    s = np.ones(m) if sample_weight is None else _f64(sample_weight).reshape(m)
    return s, float(s.sum())


def softmax_cross_entropy(Z, y, sample_weight=None):
    """(loss, dZ): mean over rows of -sum_j Y_ij log softmax(Z)_ij.

    y: integer labels (m,) or (m, k) one-hot / probability rows.
    log softmax(Z)_ij = z_ij - logsumexp_i, so the row loss is
    sum_j Y_ij (logsumexp_i - z_ij), and its gradient with respect to z_ij,
    divided by m for the mean, is (softmax_ij * sum_j Y_ij - Y_ij) / m.
    sample_weight s: loss = sum_i s_i loss_i / sum(s),
    dZ_i = s_i / sum(s) * (softmax_i * sum_j Y_ij - Y_i).
    """
    Z = _f64(Z)
    m, k = Z.shape
    Y = _class_targets(y, k)
    s, total = _sample_weights(sample_weight, m)
    log_p = Z - _logsumexp_rows(Z)
    row_loss = -(Y * log_p).sum(axis=1)
    loss = float((s * row_loss).sum() / total)
    dZ = (s / total)[:, None] * (softmax(Z) * Y.sum(axis=1, keepdims=True) - Y)
    return loss, dZ


def sigmoid_cross_entropy(Z, y, sample_weight=None):
    """(loss, dZ): binary cross-entropy of sigmoid(Z), summed over the k
    columns of a row and averaged over the m rows.

    Per element: -(y log s + (1 - y) log(1 - s)) with s = sigmoid(z).  Since
    -log s = softplus(-z) and -log(1 - s) = softplus(z), this is
    y softplus(-z) + (1 - y) softplus(z), softplus(x) = logaddexp(0, x).
    dZ = (sigmoid(Z) - Y) / m.  sample_weight s: the row sums are averaged
    with weights s_i / sum(s), and dZ_i = s_i / sum(s) * (sigmoid(Z_i) - Y_i).
    """
    Z = _f64(Z)
    m = Z.shape[0]
    Y = _f64(y).reshape(Z.shape)
    s, total = _sample_weights(sample_weight, m)
    per_element = Y * np.logaddexp(0.0, -Z) + (1.0 - Y) * np.logaddexp(0.0, Z)
    loss = float((s * per_element.sum(axis=1)).sum() / total)
    dZ = (s / total)[:, None] * (sigmoid(Z) - Y)
    return loss, dZ


def mean_squared_error(P, y, sample_weight=None):
    """(loss, dP): mean of (P - Y)^2 over all m*k elements; dP = 2 (P - Y) / (m k).

    sample_weight s: the weighted mean over rows of each row's mean,
    sum_i s_i mean_j (P_ij - Y_ij)^2 / sum(s); dP_i = 2 s_i (P_i - Y_i) / (k sum(s)).
    """
    P = _f64(P)
    m, k = P.shape
    Y = _f64(y).reshape(P.shape)
    s, total = _sample_weights(sample_weight, m)
    row_mean = ((P - Y) ** 2).mean(axis=1)
    loss = float((s * row_mean).sum() / total)
    dP = 2.0 * (s / total)[:, None] * (P - Y) / k
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


# ============================================================================
# 6. Batch norm
# ============================================================================
# Per column of a training batch Z (m, n): mu = mean, var = biased variance,
# z_norm = (Z - mu) / sqrt(var + eps), Z_tilde = gamma z_norm + beta.  The
# backward pass here is the step-by-step chain rule through mu and var, not
# the compact closed form the kernels use, so the two check each other.

def batchnorm_forward(Z, gamma, beta, eps):
    """(Z_tilde, z_norm, mu, var) of a training batch: var is the biased one,
    sum((Z - mu)^2) / m."""
    Z, gamma, beta = _f64(Z), _f64(gamma), _f64(beta)
    m = Z.shape[0]
    mu = Z.sum(axis=0) / m
    var = ((Z - mu) ** 2).sum(axis=0) / m
    z_norm = (Z - mu) / np.sqrt(var + eps)
    return gamma * z_norm + beta, z_norm, mu, var


def batchnorm_backward(dZ_tilde, Z, gamma, eps):
    """(dZ, dgamma, dbeta) by the chain rule through z_norm, var and mu:
      dbeta = sum dZ_tilde,  dgamma = sum dZ_tilde z_norm,  dz_norm = dZ_tilde gamma,
      dvar = sum dz_norm (Z - mu) * -1/2 (var + eps)^(-3/2),
      dmu = -sum dz_norm / std + dvar * mean(-2 (Z - mu)),
      dZ = dz_norm / std + dvar 2 (Z - mu) / m + dmu / m   (sums over the rows).
    """
    dZ_tilde, Z, gamma = _f64(dZ_tilde), _f64(Z), _f64(gamma)
    m = Z.shape[0]
    mu = Z.mean(axis=0)
    xc = Z - mu
    var = (xc ** 2).mean(axis=0)
    std = np.sqrt(var + eps)
    z_norm = xc / std
    dbeta = dZ_tilde.sum(axis=0)
    dgamma = (dZ_tilde * z_norm).sum(axis=0)
    dz_norm = dZ_tilde * gamma
    dvar = (dz_norm * xc).sum(axis=0) * -0.5 * (var + eps) ** -1.5
    dmu = -(dz_norm / std).sum(axis=0) + dvar * (-2.0 * xc).mean(axis=0)
    dZ = dz_norm / std + dvar * 2.0 * xc / m + dmu / m
    return dZ, dgamma, dbeta


def batchnorm_inference(Z, gamma, beta, running_mean, running_var, eps):
    """gamma (Z - running_mean) / sqrt(running_var + eps) + beta."""
    Z, gamma, beta = _f64(Z), _f64(gamma), _f64(beta)
    running_mean, running_var = _f64(running_mean), _f64(running_var)
    return gamma * (Z - running_mean) / np.sqrt(running_var + eps) + beta


def batchnorm_running_update(running_mean, running_var, Z, momentum):
    """(running_mean, running_var) after one exponentially weighted step:
    momentum is the weight of the old average, r = momentum r + (1 - momentum) x,
    and the variance averaged is the unbiased one (ddof=1), as in torch."""
    running_mean, running_var, Z = _f64(running_mean), _f64(running_var), _f64(Z)
    mean = Z.mean(axis=0)
    var_unbiased = Z.var(axis=0, ddof=1)
    return (momentum * running_mean + (1 - momentum) * mean,
            momentum * running_var + (1 - momentum) * var_unbiased)


# ============================================================================
# 7. Dropout
# ============================================================================
# Inverted dropout: A_out = A * mask / keep_prob.  The mask is SplitMix64 in
# pure-Python integers, independent of both the C kernel and the vectorised
# NumPy twin; masks are compared exactly.

_M64 = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix64(z):
    """SplitMix64's output function (a bijection of 64-bit integers)."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def splitmix64(state, n):
    """The first n outputs of SplitMix64 started at `state`:
    state += GOLDEN_GAMMA (mod 2^64), output mix64(state)."""
    out = []
    for _ in range(n):
        state = (state + GOLDEN_GAMMA) & _M64
        out.append(mix64(state))
    return out


def dropout_uniforms(seed, size):
    """u_e in [0, 1) of element e: 32 bits of word e // 2 of SplitMix64 started
    at mix64(seed), the low half for even e, the high half for odd e, / 2^32."""
    words = splitmix64(mix64(seed), (size + 1) // 2)
    bits = [half for w in words for half in (w & 0xFFFFFFFF, w >> 32)][:size]
    return np.array(bits, dtype=np.float64) / 2.0 ** 32


def dropout_mask(seed, shape, keep_prob):
    """The boolean keep-mask of an array of `shape` (C order): u_e < keep_prob."""
    return (dropout_uniforms(seed, int(np.prod(shape))) < keep_prob).reshape(shape)


def dropout_forward(A, mask, keep_prob):
    """A * mask / keep_prob (inverted dropout keeps the expectation of A)."""
    return _f64(A) * mask / keep_prob


def dropout_backward(dA, mask, keep_prob):
    """dA * mask / keep_prob: the forward map is linear in A."""
    return _f64(dA) * mask / keep_prob


# ============================================================================
# 8. Optimizers
# ============================================================================
# The course's update rules, one step each; they return the new arrays (w and
# the states), where the kernels of the same names update theirs in place.

def sgd_step(w, g, learning_rate, l2=0.0, m=1):
    """w - lr * (g + (lambda / m) w): the gradient of J + (lambda/2m)||w||^2."""
    w, g = _f64(w), _f64(g)
    return w - learning_rate * (g + (l2 / m) * w)


def momentum_step(w, g, v, learning_rate, beta=0.9, nesterov=False, average=True):
    """v = beta v + (1 - beta) g (average) or beta v + g; w - lr v, or with
    Nesterov's look-ahead w - lr (beta v + c g), c the weight of g.  Returns (w, v)."""
    w, g, v = _f64(w), _f64(g), _f64(v)
    c = (1 - beta) if average else 1.0
    v = beta * v + c * g
    step = beta * v + c * g if nesterov else v
    return w - learning_rate * step, v


def rmsprop_step(w, g, s, learning_rate, beta=0.9, eps=1e-8):
    """s = beta s + (1 - beta) g^2; w - lr g / (sqrt(s) + eps).  Returns (w, s)."""
    w, g, s = _f64(w), _f64(g), _f64(s)
    s = beta * s + (1 - beta) * g ** 2
    return w - learning_rate * g / (np.sqrt(s) + eps), s


def adam_step(w, g, v, s, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8,
              weight_decay=0.0):
    """The course's Adam at step t (from 1): v = beta1 v + (1 - beta1) g,
    s = beta2 s + (1 - beta2) g^2, v_hat = v / (1 - beta1^t), s_hat = s / (1 - beta2^t),
    with decoupled weight decay (AdamW): w - lr (v_hat / (sqrt(s_hat) + eps) + wd w).
    Returns (w, v, s)."""
    w, g, v, s = _f64(w), _f64(g), _f64(v), _f64(s)
    v = beta1 * v + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g ** 2
    v_corrected = v / (1 - beta1 ** t)
    s_corrected = s / (1 - beta2 ** t)
    w = w - learning_rate * (v_corrected / (np.sqrt(s_corrected) + eps) + weight_decay * w)
    return w, v, s


# ============================================================================
# 9. Exponentially weighted averages
# ============================================================================

def ewa(values, beta, bias_correction=True):
    """Exponentially weighted averages v_1..v_T of values: v_0 = 0,
    v_t = beta v_(t-1) + (1 - beta) x_t, each divided by 1 - beta^t when
    corrected.  A list of float64 values (arrays for array values)."""
    v, out = 0.0, []
    for t, x in enumerate(values, start=1):
        v = beta * v + (1 - beta) * _f64(x)
        out.append(v / (1 - beta ** t) if bias_correction else v)
    return out


# ============================================================================
# 10. Row gathers and sums of squares
# ============================================================================

def gather_rows(X, indices):
    """Row i of the result is row indices[i] of X (X 1-D: element), in X's
    dtype: a copy, not a computation, so compared exactly."""
    return np.array([X[i] for i in indices], dtype=X.dtype).reshape(
        (len(indices),) + X.shape[1:])


def sum_squares(x):
    """sum_i x_i^2 in float64."""
    x = _f64(x).ravel()
    return float(np.sum(x * x))
