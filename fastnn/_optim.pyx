# distutils: sources = csrc/optim.c
"""Fused optimizer steps (csrc/optim.c): one pass over memory per step.

Design: each function updates ``w`` and the optimizer state in place, reading
and writing each array once, with the GIL released.  The arrays may have any
shape (a layer's W, or the whole flat parameter buffer of
``fastnn.parameters.ParameterBuffer``); they must be C-contiguous, of one
dtype (float32 or float64), of one shape, and must not overlap.  ``g`` is
the gradient of the cost being minimized (for fastnn's losses, the mean over
the mini-batch).  Arguments are checked by fastnn._validation, which the
NumPy twins in fastnn.numpy_ops share.  Results do not depend on the thread
count (no reductions).

Conventions (the course's; how they map to PyTorch is in fastnn/optim.py):
- momentum: ``v = beta v + (1 - beta) g`` by default (``average=True``);
  ``average=False`` gives ``v = beta v + g`` (torch.optim.SGD, Keras).
- RMSprop and Adam: eps is added outside the square root.
- Adam's weight_decay is decoupled (AdamW) and scaled by the learning rate.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t

from fastnn._csrc cimport (fnn_exec, fnn_sgd_step, fnn_momentum_step, fnn_rmsprop_step,
                           fnn_adam_step, FNN_OPTIM_PARALLEL_MIN,
                           FNN_OPTIM_SQRT_PARALLEL_MIN)
from fastnn._validation cimport (sgd_step_args, momentum_step_args, rmsprop_step_args,
                                 adam_step_args, dtype_code, raise_for_status)
from fastnn._runtime cimport exec_context

cnp.import_array()

#: Sizes from which the steps use more than one thread (csrc/optim.h).
PARALLEL_MIN = {"sgd": FNN_OPTIM_PARALLEL_MIN, "momentum": FNN_OPTIM_PARALLEL_MIN,
                "rmsprop": FNN_OPTIM_SQRT_PARALLEL_MIN, "adam": FNN_OPTIM_SQRT_PARALLEL_MIN}


def sgd_step(w, g, learning_rate, *, l2=0.0, m=1):
    """Gradient descent in place: ``w -= learning_rate * (g + (l2 / m) * w)``.

    With l2 > 0 this is the gradient of the cost plus the L2 penalty
    (l2 / 2m) ||w||^2, i.e. weight decay by ``1 - learning_rate * l2 / m``.
    Do not also pass ``l2`` to ``dense_backward`` (its dW already has it).

    w : ndarray, any shape, float32/float64, C-contiguous, writeable.
    g : ndarray of w's shape and dtype.
    learning_rate : float > 0.   l2 : float >= 0.   m : int >= 1.
    """
    cdef cnp.ndarray w_, g_
    cdef double lr, decay
    w_, g_, lr, decay = sgd_step_args(w, g, learning_rate, l2, m)
    cdef int dt = dtype_code(w_)
    cdef void *pw = cnp.PyArray_DATA(w_)
    cdef const void *pg = cnp.PyArray_DATA(g_)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w_)
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        status = fnn_sgd_step(&ex, dt, pw, pg, lr, decay, n)
    raise_for_status(status, "sgd_step")


def momentum_step(w, g, v, learning_rate, beta=0.9, *, nesterov=False, average=True):
    """Gradient descent with momentum, in place on w and v.

    ``v = beta * v + c * g`` with ``c = 1 - beta`` (average=True, default: v is
    the exponentially weighted average of the gradients, as in the course) or
    ``c = 1`` (average=False: torch.optim.SGD(momentum=beta), Keras SGD).
    Then ``w -= learning_rate * v``, or with nesterov=True the look-ahead
    ``w -= learning_rate * (beta * v + c * g)`` (v already updated).

    v : ndarray of w's shape and dtype, zeros before the first step.
    beta : float in [0, 1).
    """
    cdef cnp.ndarray w_, g_, v_
    cdef double lr, b
    cdef bint nest, avg
    w_, g_, v_, lr, b, nest, avg = momentum_step_args(w, g, v, learning_rate, beta,
                                                      nesterov, average)
    cdef int dt = dtype_code(w_)
    cdef void *pw = cnp.PyArray_DATA(w_)
    cdef const void *pg = cnp.PyArray_DATA(g_)
    cdef void *pv = cnp.PyArray_DATA(v_)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w_)
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        status = fnn_momentum_step(&ex, dt, pw, pg, pv, lr, b, avg, nest, n)
    raise_for_status(status, "momentum_step")


def rmsprop_step(w, g, s, learning_rate, beta=0.9, eps=1e-8):
    """RMSprop in place on w and s:
    ``s = beta * s + (1 - beta) * g**2;  w -= learning_rate * g / (sqrt(s) + eps)``.

    s : ndarray of w's shape and dtype, zeros before the first step.
    beta : float in [0, 1).   eps : float > 0, added outside the square root
    (as torch.optim.RMSprop; Keras adds it inside).
    """
    cdef cnp.ndarray w_, g_, s_
    cdef double lr, b, e
    w_, g_, s_, lr, b, e = rmsprop_step_args(w, g, s, learning_rate, beta, eps)
    cdef int dt = dtype_code(w_)
    cdef void *pw = cnp.PyArray_DATA(w_)
    cdef const void *pg = cnp.PyArray_DATA(g_)
    cdef void *ps = cnp.PyArray_DATA(s_)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w_)
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        status = fnn_rmsprop_step(&ex, dt, pw, pg, ps, lr, b, e, n)
    raise_for_status(status, "rmsprop_step")


def adam_step(w, g, v, s, t, learning_rate, beta1=0.9, beta2=0.999, eps=1e-8, *,
              weight_decay=0.0):
    """Adam (AdamW with weight_decay > 0) in place on w, v and s::

        v = beta1 * v + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * g**2
        v_hat = v / (1 - beta1**t);   s_hat = s / (1 - beta2**t)
        w -= learning_rate * (v_hat / (sqrt(s_hat) + eps) + weight_decay * w)

    v, s : ndarrays of w's shape and dtype, zeros before the first step.
    t : int >= 1, the number of this step (1 on the first call).
    weight_decay : float >= 0, decoupled from the gradient statistics and
        scaled by the learning rate, as torch.optim.AdamW.  (It is not L2
        regularization: for that, add (l2/m) w to g, as dense_backward does.)
    """
    cdef cnp.ndarray w_, g_, v_, s_
    cdef long long step
    cdef double lr, b1, b2, e, wd
    w_, g_, v_, s_, step, lr, b1, b2, e, wd = adam_step_args(
        w, g, v, s, t, learning_rate, beta1, beta2, eps, weight_decay)
    cdef int dt = dtype_code(w_)
    cdef void *pw = cnp.PyArray_DATA(w_)
    cdef const void *pg = cnp.PyArray_DATA(g_)
    cdef void *pv = cnp.PyArray_DATA(v_)
    cdef void *ps = cnp.PyArray_DATA(s_)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(w_)
    cdef int64_t tt = step
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        status = fnn_adam_step(&ex, dt, pw, pg, pv, ps, tt, lr, b1, b2, e, wd, n)
    raise_for_status(status, "adam_step")
