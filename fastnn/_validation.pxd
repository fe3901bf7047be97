cimport numpy as cnp

cpdef bint all_finite(object a)
cpdef cnp.ndarray check_array(object x, str name, str func, int ndim, object dtype=*)
cpdef cnp.ndarray check_out(object out, str name, str func, tuple shape, object dtype)
cpdef int activation_code(object activation, str func) except -1
cpdef int dtype_code(cnp.ndarray x) noexcept
cpdef double check_real(object value, str name, str func, double low=*, double high=*,
                        bint low_open=*, bint high_open=*) except? -1.0
cpdef raise_for_status(int status, str func)
cpdef cnp.ndarray class_targets(object y, Py_ssize_t m, Py_ssize_t k, object dtype, str func,
                                bint check_range=*)
cpdef cnp.ndarray real_targets(object y, tuple shape, object dtype, str func, str what,
                               double low=*, double high=*)
cpdef tuple dense_forward_args(object A_prev, object W, object b, object activation,
                               bint keep_z, object out, object negative_slope)
cpdef tuple dense_backward_args(object dA, object Z, object A_prev, object W,
                                object activation, object l2, bint need_dA_prev,
                                object out, object workspace, object negative_slope)
cpdef tuple loss_args(object Z, object y, int target_kind, bint compute_grad, object out,
                      str func, bint check_range=*)
cpdef cnp.ndarray sample_weight_args(object sample_weight, cnp.ndarray z, object dZ, str func,
                                     bint check_values=*)
cpdef check_weight_values(cnp.ndarray w, str func)
cpdef tuple activation_args(object Z, object dA, object activation, object out,
                            object negative_slope, str func)
cpdef tuple batchnorm_forward_args(object Z, object gamma, object beta, object eps,
                                   object training, object running_mean, object running_var,
                                   object momentum, object out)
cpdef tuple batchnorm_backward_args(object dZ_tilde, object cache, object out)
cpdef tuple dropout_forward_args(object A, object keep_prob, object seed, object out)
cpdef tuple dropout_backward_args(object dA, object mask, object keep_prob, object out)
cdef double check_positive(object value, str name, str func, bint allow_zero=*) except? -1.0
cdef long long check_int(object value, str name, str func, long long low, str what=*) except? -1
cdef bint check_bool(object value, str name, str func) except -1
cdef double check_learning_rate(object value, str func) except? -1.0
cdef double check_beta(object value, str name, str func) except? -1.0
cpdef tuple sgd_step_args(object w, object g, object learning_rate, object l2, object m)
cpdef tuple momentum_step_args(object w, object g, object v, object learning_rate,
                               object beta, object nesterov, object average)
cpdef tuple rmsprop_step_args(object w, object g, object s, object learning_rate,
                              object beta, object eps)
cpdef tuple adam_step_args(object w, object g, object v, object s, object t,
                           object learning_rate, object beta1, object beta2, object eps,
                           object weight_decay)
cpdef tuple gather_rows_args(object X, object indices, object out)
cpdef bad_index_error(cnp.ndarray idx, Py_ssize_t n, str func)
