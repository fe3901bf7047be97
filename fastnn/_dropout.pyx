# distutils: sources = csrc/dropout.c
"""Inverted-dropout kernels (csrc/dropout.c).

Design: the mask is drawn in C from a counter-based generator (SplitMix64
indexed by element), so it depends only on the seed, keep_prob and the
array's size: the same for every thread count, and reproduced exactly by the
NumPy twin in fastnn.numpy_ops.  The mask is returned as uint8 (1 = kept) for
the backward pass, which applies the same mask and the same 1/keep_prob.
"""
import numpy as np
cimport numpy as cnp
from libc.stdint cimport uint8_t, uint64_t

from fastnn._csrc cimport fnn_exec, fnn_dropout_forward, fnn_dropout_backward
from fastnn._validation cimport (dropout_forward_args, dropout_backward_args, dtype_code,
                                 raise_for_status)
from fastnn._runtime cimport exec_context

cnp.import_array()


def dropout_forward(A, keep_prob, seed, *, out=None):
    """Inverted dropout: ``A_out = A * mask / keep_prob``.

    Parameters
    ----------
    A : ndarray (m, n), float32 or float64, C-contiguous.
    keep_prob : float in (0, 1], probability of keeping a unit; 1 is the
        identity (all kept).
    seed : int in [0, 2**64).  Element e of A (in C order) is kept when
        u_e < keep_prob, u_e in [0, 1) taken from the SplitMix64 stream of
        the seed: the same seed and shape give the same mask, whatever the
        thread count.  Use a new seed for every mini-batch.
    out : None, an (m, n) array for A_out (may be A itself), or a tuple
        (A_out, mask) of buffers (None for any to allocate); mask is uint8.

    Returns
    -------
    (A_out, mask) : mask is uint8, 1 where the unit is kept, 0 where dropped.
    """
    cdef cnp.ndarray a, ao, mask
    a, p, s, ao, mask = dropout_forward_args(A, keep_prob, seed, out)
    cdef int dt = dtype_code(a)
    cdef Py_ssize_t size = a.size
    cdef double c_p = p
    cdef uint64_t c_seed = s
    cdef fnn_exec ex = exec_context()
    cdef const void *pa = cnp.PyArray_DATA(a)
    cdef void *pao = cnp.PyArray_DATA(ao)
    cdef uint8_t *pm = <uint8_t *>cnp.PyArray_DATA(mask)
    cdef int status
    with nogil:
        status = fnn_dropout_forward(&ex, dt, pa, pao, pm, size, c_p, c_seed)
    raise_for_status(status, "dropout_forward")
    return ao, mask


def dropout_backward(dA, mask, keep_prob, *, out=None):
    """Backward of dropout_forward: ``dA_prev = dA * mask / keep_prob``.

    mask : the uint8 (or bool) mask dropout_forward returned, same shape as dA.
    keep_prob : the keep_prob of that forward call.
    out : None or an array for dA_prev (may be dA itself).
    """
    cdef cnp.ndarray da, mk, dap
    da, mk, p, dap = dropout_backward_args(dA, mask, keep_prob, out)
    cdef int dt = dtype_code(da)
    cdef Py_ssize_t size = da.size
    cdef double c_p = p
    cdef fnn_exec ex = exec_context()
    cdef const void *pda = cnp.PyArray_DATA(da)
    cdef const uint8_t *pm = <const uint8_t *>cnp.PyArray_DATA(mk)
    cdef void *pdap = cnp.PyArray_DATA(dap)
    cdef int status
    with nogil:
        status = fnn_dropout_backward(&ex, dt, pda, pm, pdap, size, c_p)
    raise_for_status(status, "dropout_backward")
    return dap
