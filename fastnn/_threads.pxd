cdef int kernel_threads() noexcept nogil
