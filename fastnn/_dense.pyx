# distutils: sources = csrc/dense.c
"""Dense-layer kernels: each BLAS GEMM fused with its elementwise pass
(csrc/dense.c).

Design: one C call per layer and direction, with the GIL released: the GEMMs
are cut into row or column blocks that fastnn's pool runs
(fastnn/_runtime.pyx), each block's GEMM on a BLAS held to one thread; the
forward applies the bias and activation of a block while it is in cache,
the backward computes dZ and the bias-gradient column sums in one pass
before its two GEMMs.  When no CBLAS was found (or
``FASTNN_BLAS=numpy``), the GEMMs go through ``numpy.matmul`` and the passes
run on the calling thread, the BLAS owning the threads.  Arguments are
checked by fastnn._validation, which the NumPy twins in fastnn.numpy_ops
share.

Gradient convention: ``dA`` is the gradient of the mean cost J with respect
to A, as the loss kernels return it (they already carry the 1/m).  The
returned gradients are then exactly those of J + (l2 / 2m) ||W||^2:
    dZ = dA * g'(Z),  dW = A_prev.T @ dZ + (l2 / m) * W,
    db = column sums of dZ,  dA_prev = dZ @ W.T.
This is the course's dW = (1/m) dZ A^T with dZ = A - Y, in row layout.
"""
import numpy as np
cimport numpy as cnp

from fastnn._csrc cimport (fnn_exec, fnn_dense_forward, fnn_dense_backward,
                           fnn_activation_forward, fnn_activation_backward)
from fastnn._validation cimport (dense_forward_args, dense_backward_args, dtype_code,
                                 raise_for_status, activation_args)
from fastnn._runtime cimport exec_context, blas_begin, blas_end, gemm_in_c

cnp.import_array()

cdef object _matmul = np.matmul


def dense_forward(A_prev, W, b, activation="relu", *, keep_z=True, out=None,
                  negative_slope=0.01):
    """Z = A_prev @ W + b and A = g(Z) for one dense layer.

    Parameters
    ----------
    A_prev : ndarray (m, n_in), float32 or float64, C-contiguous
        Activations of the previous layer, one example per row.
    W : ndarray (n_in, n_out), same dtype.
    b : ndarray (n_out,) or None (no bias, e.g. before a batch-norm layer).
    activation : {"linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax"}
    keep_z : bool
        Return Z as well (training needs it for the backward pass).  With
        False, Z is never materialised: the GEMM writes into A and the
        activation runs in place (inference).
    out : (Z, A) tuple of preallocated buffers, either None to allocate.
    negative_slope : float, slope of leaky_relu for z < 0.

    Returns
    -------
    (Z, A) : Z is None when keep_z is False.
    """
    cdef cnp.ndarray a_prev, w, bias, Z, A
    a_prev, w, bias, act, slope, Z, A = dense_forward_args(
        A_prev, W, b, activation, keep_z, out, negative_slope)
    cdef fnn_exec ex = exec_context()
    cdef int dt = dtype_code(A)
    cdef void *pz = cnp.PyArray_DATA(Z) if keep_z else NULL
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef const void *pb = cnp.PyArray_DATA(bias) if bias is not None else NULL
    cdef const void *pw = cnp.PyArray_DATA(w)
    cdef const void *pin = cnp.PyArray_DATA(a_prev)
    cdef Py_ssize_t m = A.shape[0], k = w.shape[0], n = A.shape[1]
    cdef int code = act
    cdef double s = slope
    cdef int status, token
    if not gemm_in_c():
        # the BLAS owns the threads; the pass runs on this one (exec_context)
        _matmul(a_prev, w, out=Z if keep_z else A)
        pin = NULL
    with nogil:
        token = blas_begin()
        status = fnn_dense_forward(&ex, dt, pin, pw, pb, pz, pa, m, k, n, code, s)
        blas_end(token)
    raise_for_status(status, "dense_forward")
    return Z, A


def dense_backward(dA, Z, A_prev, W, activation="relu", *, l2=0.0, need_dA_prev=True,
                   out=None, workspace=None, negative_slope=0.01):
    """Gradients of one dense layer from dA, the gradient of the mean cost.

    Returns (dA_prev, dW, db): dZ = dA * g'(Z), dW = A_prev.T @ dZ + (l2/m) W,
    db = column sums of dZ, dA_prev = dZ @ W.T (None when need_dA_prev is
    False: the first layer does not need it).

    out : (dA_prev, dW, db) tuple of preallocated buffers, None to allocate.
    workspace : (m, n_out) buffer for dZ; may be dA itself, which is then
        overwritten (a training loop owns dA and saves the copy).
    """
    cdef cnp.ndarray da, z, a_prev, w, dA_prev, dW, db, dZ
    da, z, a_prev, w, act, lam, slope, dA_prev, dW, db, dZ = dense_backward_args(
        dA, Z, A_prev, W, activation, l2, need_dA_prev, out, workspace, negative_slope)
    cdef fnn_exec ex = exec_context()
    cdef int dt = dtype_code(dW)
    cdef Py_ssize_t m = dZ.shape[0], k = w.shape[0], n = dZ.shape[1]
    cdef const void *pda = cnp.PyArray_DATA(da)
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pin = cnp.PyArray_DATA(a_prev)
    cdef const void *pw = cnp.PyArray_DATA(w)
    cdef void *pdz = cnp.PyArray_DATA(dZ)
    cdef void *pdap = cnp.PyArray_DATA(dA_prev) if dA_prev is not None else NULL
    cdef void *pdw = cnp.PyArray_DATA(dW)
    cdef void *pdb = cnp.PyArray_DATA(db)
    cdef int code = act
    cdef double s = slope, scale = <double>lam / m
    cdef int status, token
    cdef bint in_c = gemm_in_c()
    if not in_c:
        pin = NULL      # the pass computes dZ and db only; numpy.matmul the rest
        pdap = NULL
    with nogil:
        token = blas_begin()
        status = fnn_dense_backward(&ex, dt, pda, pz, pin, pw, pdz, pdap, pdw, pdb, m, k, n,
                                    code, s, scale if in_c else 0.0)
        blas_end(token)
    raise_for_status(status, "dense_backward")
    if not in_c:
        _matmul(a_prev.T, dZ, out=dW)
        if scale != 0.0:
            dW += scale * w
        if dA_prev is not None:
            _matmul(dZ, w.T, out=dA_prev)
    return dA_prev, dW, db


def activation_forward(Z, activation="relu", *, out=None, negative_slope=0.01):
    """A = g(Z) elementwise (row-wise for softmax).  ``out`` may be Z itself."""
    cdef cnp.ndarray z, A
    z, _, act, slope, A = activation_args(Z, None, activation, out, negative_slope,
                                          "activation_forward")
    cdef fnn_exec ex = exec_context()
    cdef int dt = dtype_code(z), code = act
    cdef double s = slope
    cdef void *pz = cnp.PyArray_DATA(z)
    cdef void *pa = cnp.PyArray_DATA(A)
    cdef Py_ssize_t m = A.shape[0], n = A.shape[1]
    cdef int status
    with nogil:
        # Z is only read, so A may be Z
        status = fnn_activation_forward(&ex, dt, pz, pa, m, n, code, s)
    raise_for_status(status, "activation_forward")
    return A


def activation_backward(dA, Z, activation="relu", *, out=None, negative_slope=0.01):
    """dZ = dA * g'(Z) (softmax: its Jacobian applied to each row).  ``out`` may be dA."""
    cdef cnp.ndarray z, da, dZ
    z, da, act, slope, dZ = activation_args(Z, dA, activation, out, negative_slope,
                                            "activation_backward")
    cdef fnn_exec ex = exec_context()
    cdef int dt = dtype_code(z), code = act
    cdef double s = slope
    cdef const void *pz = cnp.PyArray_DATA(z)
    cdef const void *pda = cnp.PyArray_DATA(da)
    cdef void *pdz = cnp.PyArray_DATA(dZ)
    cdef Py_ssize_t m = dZ.shape[0], n = dZ.shape[1]
    cdef int status
    with nogil:
        status = fnn_activation_backward(&ex, dt, pda, pz, pdz, m, n, code, s)
    raise_for_status(status, "activation_backward")
    return dZ


def _dispatch_status(int dtype):
    """The status of an empty activation pass with dtype code ``dtype``
    (tests: FNN_DISPATCH refuses codes other than float32 and float64)."""
    cdef fnn_exec ex = exec_context()
    cdef int status
    with nogil:
        status = fnn_activation_forward(&ex, dtype, NULL, NULL, 0, 0, 0, 0.0)
    return status
