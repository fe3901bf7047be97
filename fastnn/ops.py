"""fastnn's compiled kernels, usable without any model.

Arrays hold one example per row: ``A_prev`` is (m, n_in), ``W`` is
(n_in, n_out), ``b`` is (n_out,), ``Z`` and ``A`` are (m, n_out).  (The
course writes (n_x, m); transpose such arrays.)  Every array of one call has
one dtype, float32 or float64, and is C-contiguous; nothing is cast
silently.  Each kernel accepts preallocated outputs (``out=``) so a training
loop runs without allocating.

``fastnn.numpy_ops`` has a plain-NumPy twin of every function here, same
signature and same argument checks.
"""
from fastnn._batchnorm import batchnorm_backward, batchnorm_forward
from fastnn._dense import (activation_backward, activation_forward, dense_backward,
                           dense_forward)
from fastnn._dropout import dropout_backward, dropout_forward
from fastnn._loss import (mean_squared_error, sigmoid, sigmoid_cross_entropy, softmax,
                          softmax_cross_entropy)
from fastnn._validation import BatchNormCache

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
]
