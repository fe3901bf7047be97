# distutils: sources = csrc/loss.c csrc/dense.c
"""Loss kernels fused with the output activation (csrc/loss.c).

Design: each function returns the mean loss over the m rows and the gradient
of that mean with respect to the pre-activation Z, ``dZ = (Y_hat - Y) / m``
for softmax and sigmoid cross-entropy, so it feeds ``dense_backward`` of the
output layer with ``activation="linear"`` directly.

Sample weights (``sample_weight``, optional, scikit-learn's MLP definition):
the loss is the weighted mean ``sum_i s_i loss_i / sum(s)`` and row i's
gradient is ``s_i / sum(s)`` times the unweighted gradient without its 1/m;
weights all 1 give the unweighted results bit for bit.  Their values are
checked by the C kernel as it sums them (a bad weight is then named by
fastnn._validation.check_weight_values), so a weighted call costs one pass
over m weights more than an unweighted one.  Targets are checked and
converted once here; the C code then trusts them (and still refuses a label
out of range rather than read out of bounds).
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport int64_t

from fastnn._csrc cimport (fnn_exec, fnn_softmax_xent_labels, fnn_softmax_xent_probs,
                           fnn_sigmoid_xent, fnn_mse, fnn_sum_squares, fnn_activation_forward,
                           FNN_SIGMOID, FNN_SOFTMAX, FNN_EINVAL)
from fastnn._validation cimport (check_array, check_out, dtype_code, raise_for_status, loss_args,
                                 class_targets, sample_weight_args, check_weight_values)
from fastnn._runtime cimport exec_context

cnp.import_array()


def softmax_cross_entropy(Z, y, *, compute_grad=True, out=None, sample_weight=None):
    """Mean categorical cross-entropy of softmax(Z) against y, and its gradient.

    Z : (m, k) float32/float64 logits (pre-activation of the output layer).
    y : (m,) integer labels in [0, k), or (m, k) one-hot / probability rows.
    Returns (loss, dZ) with dZ = (softmax(Z) - Y) / m, or (loss, None) when
    compute_grad is False.  ``out`` may be a (m, k) buffer for dZ, Z itself
    included.  Stable for any finite logits (log-sum-exp).
    sample_weight : None, or (m,) weights s_i >= 0 of Z's dtype with a
    positive sum: loss = sum_i s_i loss_i / sum(s), dZ_i = s_i / sum(s) *
    (softmax(Z_i) - Y_i).
    """
    cdef str func = "softmax_cross_entropy"
    cdef cnp.ndarray z, t, dZ, w
    # the kernel checks every label and weight; on a bad one the checks run
    # again to say which
    z, t, dZ = loss_args(Z, y, 0, compute_grad, out, func, False)
    w = None if sample_weight is None else sample_weight_args(sample_weight, z, dZ, func, False)
    cdef const void *pw = cnp.PyArray_DATA(w) if w is not None else NULL
    cdef Py_ssize_t m = z.shape[0], k = z.shape[1]
    cdef int dt = dtype_code(z)
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pt = cnp.PyArray_DATA(t)
    cdef void *pd = cnp.PyArray_DATA(dZ) if dZ is not None else NULL
    cdef bint labels = t.ndim == 1
    cdef double loss = 0.0
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        if labels:
            status = fnn_softmax_xent_labels(&ex, dt, pz, <const int64_t*>pt, pw, pd, m, k,
                                             &loss)
        else:
            status = fnn_softmax_xent_probs(&ex, dt, pz, pt, pw, pd, m, k, &loss)
    if status == FNN_EINVAL:
        if labels:
            class_targets(y, m, k, z.dtype, func)
        if w is not None:
            check_weight_values(w, func)
    raise_for_status(status, func)
    return loss, dZ


def sigmoid_cross_entropy(Z, y, *, compute_grad=True, out=None, sample_weight=None):
    """Mean binary cross-entropy of sigmoid(Z) against y, and its gradient.

    Z : (m, k) logits; y : (m, k) (or (m,) when k == 1) targets in [0, 1].
    The loss of a row is summed over its k outputs and averaged over rows;
    dZ = (sigmoid(Z) - y) / m.  Uses max(z, 0) - z*y + log1p(exp(-|z|)), finite
    for every finite z.
    sample_weight : None, or (m,) weights s_i >= 0 of Z's dtype with a
    positive sum: loss = sum_i s_i loss_i / sum(s), dZ_i = s_i / sum(s) *
    (sigmoid(Z_i) - y_i).
    """
    return _elementwise_loss(fnn_sigmoid_xent, Z, y, 1, compute_grad, out, sample_weight,
                             "sigmoid_cross_entropy")


def mean_squared_error(P, y, *, compute_grad=True, out=None, sample_weight=None):
    """Mean of (P - y)^2 over all elements, and its gradient 2 (P - y) / (m k).

    P : (m, k) predictions (a linear output layer); y : (m, k), or (m,) when
    k == 1.  Same definition as torch.nn.MSELoss and Keras' MSE.
    sample_weight : None, or (m,) weights s_i >= 0 of P's dtype with a
    positive sum: the weighted mean over rows of each row's mean,
    loss = sum_i s_i mean_j (P_ij - y_ij)^2 / sum(s) (scikit-learn's
    np.average(..., weights=s) per output, averaged over outputs), and
    dP_i = 2 s_i (P_i - y_i) / (k sum(s)).
    """
    return _elementwise_loss(fnn_mse, P, y, 2, compute_grad, out, sample_weight,
                             "mean_squared_error")


ctypedef int (*elementwise_loss_kernel)(const fnn_exec *, int, const void *, const void *,
                                        const void *, void *, Py_ssize_t, Py_ssize_t,
                                        double *) noexcept nogil


cdef tuple _elementwise_loss(elementwise_loss_kernel kernel, object Z, object y, int target_kind,
                             bint compute_grad, object out, object sample_weight, str func):
    """(loss, dZ) of a loss whose C kernel maps (Z, targets) elementwise."""
    cdef cnp.ndarray z, t, dZ, w
    z, t, dZ = loss_args(Z, y, target_kind, compute_grad, out, func)
    w = None if sample_weight is None else sample_weight_args(sample_weight, z, dZ, func, False)
    cdef const void *pw = cnp.PyArray_DATA(w) if w is not None else NULL
    cdef Py_ssize_t m = z.shape[0], k = z.shape[1]
    cdef int dt = dtype_code(z)
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pt = cnp.PyArray_DATA(t)
    cdef void *pd = cnp.PyArray_DATA(dZ) if dZ is not None else NULL
    cdef double loss = 0.0
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        status = kernel(&ex, dt, pz, pt, pw, pd, m, k, &loss)
    if status == FNN_EINVAL and w is not None:
        check_weight_values(w, func)
    raise_for_status(status, func)
    return loss, dZ


cdef cnp.ndarray _activate(object Z, object out, int act, str func):
    cdef cnp.ndarray z = check_array(Z, "Z", func, 2)
    cdef cnp.ndarray A = check_out(out, "out", func, (<object>z).shape, z.dtype)
    cdef int dt = dtype_code(z)
    cdef void *pz = cnp.PyArray_DATA(z)
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef int status
    cdef fnn_exec ex = exec_context()
    with nogil:
        # Z is only read (A may still be Z: in place)
        status = fnn_activation_forward(&ex, dt, pz, pa, z.shape[0], z.shape[1], act, 0.0)
    raise_for_status(status, func)
    return A


def softmax(Z, *, out=None):
    """Row-wise softmax of a (m, k) array (stable: the row maximum is subtracted)."""
    return _activate(Z, out, FNN_SOFTMAX, "softmax")


def sigmoid(Z, *, out=None):
    """Elementwise logistic sigmoid 1 / (1 + exp(-Z)), without overflow."""
    return _activate(Z, out, FNN_SIGMOID, "sigmoid")


def sum_squares(x):
    """The sum of the squares of an array's elements, in double (NaN or Inf
    when an element is, or when the sum overflows), on fastnn's threads: the
    L2 cost and fastnn._validation.all_finite.  (NumPy's ``dot`` would wake
    the BLAS's own threads, which then spin against fastnn's pool for a
    tenth of a second.)"""
    cdef cnp.ndarray a = np.ascontiguousarray(x)
    if a.dtype != np.float32 and a.dtype != np.float64:
        a = a.astype(np.float64)
    cdef fnn_exec ex = exec_context()
    cdef int dt = dtype_code(a)
    cdef const void *p = cnp.PyArray_DATA(a)
    cdef Py_ssize_t n = a.size
    cdef double result = 0.0
    with nogil:
        fnn_sum_squares(&ex, dt, p, n, &result)
    return result
