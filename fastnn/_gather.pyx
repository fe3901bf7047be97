# distutils: sources = csrc/gather.c
"""Row gathers for mini-batches (csrc/gather.c).

Design: ``gather_rows(X, indices)`` is ``np.take(X, indices, axis=0)`` done by
fastnn's pool with the rows requested from memory ahead of their copy: 128
shuffled MNIST rows in 45 us on one thread, 24 us on two, where np.take
takes 64 (csrc/gather.c).  Any element type; the training loop gathers
inputs and targets with it.
"""
cimport numpy as cnp
from libc.stdint cimport int64_t

from fastnn._csrc cimport fnn_exec, fnn_gather_rows, FNN_EINVAL
from fastnn._validation cimport gather_rows_args, bad_index_error, raise_for_status
from fastnn._runtime cimport exec_context

cnp.import_array()


def gather_rows(X, indices, *, out=None):
    """The rows ``X[indices]`` (``np.take(X, indices, axis=0)``).

    X : 1-D or 2-D C-contiguous numeric array.
    indices : 1-D integers in [0, len(X)) (IndexError otherwise).
    out : None, or a C-contiguous buffer of shape (len(indices),) + X.shape[1:]
        and X's dtype, not overlapping X.
    """
    cdef cnp.ndarray x, idx, o
    x, idx, o = gather_rows_args(X, indices, out)
    cdef fnn_exec ex = exec_context()
    cdef const void *src = cnp.PyArray_DATA(x)
    cdef const int64_t *pi = <const int64_t *>cnp.PyArray_DATA(idx)
    cdef void *dst = cnp.PyArray_DATA(o)
    cdef Py_ssize_t n = x.shape[0], m = idx.shape[0]
    # not x.strides[0]: NumPy calls a view C-contiguous whatever the stride of
    # an axis of length 1 (or of an empty row), so that stride may be anything
    cdef Py_ssize_t row_bytes = x.itemsize * (x.shape[1] if x.ndim == 2 else 1)
    cdef int status
    with nogil:
        status = fnn_gather_rows(&ex, src, n, row_bytes, pi, m, dst)
    if status == FNN_EINVAL:
        raise bad_index_error(idx, n, "gather_rows")
    raise_for_status(status, "gather_rows")
    return o
