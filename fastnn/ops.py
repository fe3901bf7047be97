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

Batch normalisation (``batchnorm_forward``/``batchnorm_backward``) follows
torch.nn.BatchNorm1d except for the meaning of momentum:

- the batch variance that normalises is the biased one (divide by m);
- ``running_var`` averages the unbiased one (times m / (m - 1));
- ``momentum`` is the course's beta, the weight of the OLD average:
  ``running = momentum * running + (1 - momentum) * batch_statistic``, so
  torch's ``momentum=0.1`` is ``momentum=0.9`` here (the default);
- a training mini-batch of one row raises ValueError: its variance is
  undefined (a training loop drops such a last batch);
- the training cache refers to Z: leave Z unchanged until the backward pass.

Dropout (``dropout_forward``/``dropout_backward``) is inverted dropout with a
uint8 mask drawn from SplitMix64 indexed by element: the same seed gives the
same mask on any thread count, and the NumPy twin draws it identically.

``gather_rows(X, indices)`` is ``np.take(X, indices, axis=0)`` on fastnn's
threads, with the rows requested from memory ahead of their copy: how the
training loop cuts a shuffled mini-batch out of the training set.
"""
from fastnn._batchnorm import batchnorm_backward, batchnorm_forward
from fastnn._dense import (activation_backward, activation_forward, dense_backward,
                           dense_forward)
from fastnn._dropout import dropout_backward, dropout_forward
from fastnn._gather import gather_rows
from fastnn._loss import (mean_squared_error, sigmoid, sigmoid_cross_entropy, softmax,
                          softmax_cross_entropy)
from fastnn._optim import adam_step, momentum_step, rmsprop_step, sgd_step
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
    "sgd_step",
    "momentum_step",
    "rmsprop_step",
    "adam_step",
    "gather_rows",
]
