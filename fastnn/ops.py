"""fastnn's compiled kernels, usable without any model.

Arrays hold one example per row: ``A_prev`` is (m, n_in), ``W`` is
(n_in, n_out), ``b`` is (n_out,), ``Z`` and ``A`` are (m, n_out).  (The
course writes (n_x, m); transpose such arrays.)  Every array of one call has
one dtype, float32 or float64, and is C-contiguous; nothing is cast
silently.  Each kernel accepts preallocated outputs (``out=``) so a training
loop runs without allocating.

The optimizer steps (``sgd_step``, ``momentum_step``, ``rmsprop_step``,
``adam_step``) update parameters and state in place, on arrays of any shape.

``fastnn.numpy_ops`` has a plain-NumPy twin of every function here, same
signature and same argument checks.
"""
from fastnn._dense import dense_backward, dense_forward
from fastnn._loss import (mean_squared_error, sigmoid, sigmoid_cross_entropy, softmax,
                          softmax_cross_entropy)
from fastnn._optim import adam_step, momentum_step, rmsprop_step, sgd_step

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
