"""Thread counts of the two pools fastnn uses: its OpenMP kernels and BLAS.

Design: every C kernel takes its thread count as an argument; this module is
the one place that count lives.  ``set_num_threads`` sets it and limits the
BLAS pool (through threadpoolctl) to the same number, so a training step,
which alternates BLAS GEMMs and OpenMP passes, never has more busy threads
than the count asked for.
"""
from fastnn._csrc cimport fnn_openmp_enabled, fnn_default_threads

cdef int _n_threads = fnn_default_threads()


cdef int kernel_threads() noexcept nogil:
    return _n_threads


def openmp_enabled():
    """Whether the kernels were compiled with OpenMP (else they run serially)."""
    return bool(fnn_openmp_enabled())


def get_num_threads():
    """Number of threads the fastnn kernels use."""
    return _n_threads


def set_num_threads(n):
    """Use ``n`` threads in fastnn's OpenMP kernels and in the BLAS library.

    Results are reproducible for a given thread count: reductions are split
    into one fixed block per thread and combined in order.
    """
    global _n_threads
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an integer >= 1; got {n!r}")
    n = n.__index__()
    if n < 1:
        raise ValueError(f"set_num_threads: n must be an integer >= 1; got {n}")
    if n > 65536:
        raise ValueError(f"set_num_threads: n must be at most 65536 threads; got {n}")
    from threadpoolctl import threadpool_limits
    threadpool_limits(limits=n, user_api="blas")
    _n_threads = n if fnn_openmp_enabled() else 1
