"""Plain-NumPy references of the optimizer formulas, written from the course.

Self-contained (to be merged into tests/reference.py).  Every function works
in float64 on copies and returns the new arrays; nothing is updated in place,
so a test can run the reference next to the in-place kernels.
"""
import numpy as np


def _f64(*arrays):
    return [np.array(a, dtype=np.float64) for a in arrays]


def sgd(w, g, learning_rate, l2=0.0, m=1):
    """w - lr * (g + (lambda / m) w): the gradient of J + (lambda/2m)||w||^2."""
    w, g = _f64(w, g)
    return w - learning_rate * (g + (l2 / m) * w)


def momentum(w, g, v, learning_rate, beta=0.9, nesterov=False, average=True):
    """v = beta v + (1 - beta) g (average) or beta v + g; w - lr v, or with
    Nesterov's look-ahead w - lr (beta v + c g).  Returns (w, v)."""
    w, g, v = _f64(w, g, v)
    c = (1 - beta) if average else 1.0
    v = beta * v + c * g
    step = beta * v + c * g if nesterov else v
    return w - learning_rate * step, v


def rmsprop(w, g, s, learning_rate, beta=0.9, eps=1e-8):
    """s = beta s + (1 - beta) g^2; w - lr g / (sqrt(s) + eps).  Returns (w, s)."""
    w, g, s = _f64(w, g, s)
    s = beta * s + (1 - beta) * g ** 2
    return w - learning_rate * g / (np.sqrt(s) + eps), s


def adam(w, g, v, s, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0):
    """The course's Adam with bias correction; decoupled weight decay (AdamW)
    w - lr (v_hat / (sqrt(s_hat) + eps) + wd w).  Returns (w, v, s)."""
    w, g, v, s = _f64(w, g, v, s)
    v = beta1 * v + (1 - beta1) * g
    s = beta2 * s + (1 - beta2) * g ** 2
    v_corrected = v / (1 - beta1 ** t)
    s_corrected = s / (1 - beta2 ** t)
    w = w - learning_rate * (v_corrected / (np.sqrt(s_corrected) + eps) + weight_decay * w)
    return w, v, s


def ewa(values, beta, bias_correction=True):
    """Exponentially weighted averages v_1..v_T of values (v_0 = 0), each
    divided by 1 - beta^t when corrected."""
    v, out = 0.0, []
    for t, x in enumerate(values, start=1):
        v = beta * v + (1 - beta) * np.asarray(x, dtype=np.float64)
        out.append(v / (1 - beta ** t) if bias_correction else v)
    return out
