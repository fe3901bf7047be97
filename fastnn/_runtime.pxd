from fastnn._csrc cimport fnn_exec

# The context every kernel call runs in: fastnn's thread count, its pool and
# the BLAS (csrc/common.h, fnn_exec).
cdef fnn_exec exec_context() noexcept nogil
# Around a kernel call that makes GEMMs (csrc/blas.h): the BLAS stays on one
# thread per fastnn thread in between.
cdef int blas_begin() noexcept nogil
cdef void blas_end(int token) noexcept nogil
# True when GEMMs go through the BLAS pointers (else through numpy.matmul).
cdef bint gemm_in_c() noexcept
