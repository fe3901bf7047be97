# The C kernels of csrc/, declared once for every wrapper module.
from libc.stdint cimport int64_t, uint8_t, uint64_t

cdef extern from "common.h" nogil:
    enum:
        FNN_OK
        FNN_ENOMEM
        FNN_EINVAL
        FNN_FLOAT32
        FNN_FLOAT64
        FNN_LINEAR
        FNN_RELU
        FNN_LEAKY_RELU
        FNN_TANH
        FNN_SIGMOID
        FNN_SOFTMAX
        FNN_PARALLEL_MIN
        FNN_MAX_BLOCKS
    ctypedef void (*fnn_block_fn)(void *ctx, int block, int n_blocks) noexcept nogil
    ctypedef struct fnn_blas:
        int kind
        void *sgemm
        void *dgemm
        int sequential
        long column_cut_bytes
    ctypedef struct fnn_exec:
        int n_threads
        void (*run)(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx) noexcept nogil
        const fnn_blas *blas

cdef extern from "pool.h" nogil:
    void fnn_pool_run(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx)
    int fastnn_get_num_threads()
    void fastnn_set_num_threads(int n)
    void fnn_pool_set_spin(long long nanoseconds)
    long long fnn_pool_spin()
    void fnn_pool_set_thread_init(void (*init)() noexcept nogil)
    int fnn_pool_workers()
    int fnn_pool_threaded()

cdef extern from "blas.h" nogil:
    enum:
        FNN_BLAS_NONE
    void fnn_blas_configure(int kind, void *sgemm, void *dgemm, void *get_threads,
                            void *set_threads, void *set_threads_local, int sequential,
                            long column_cut_bytes)
    const fnn_blas *fnn_blas_provider()
    int fnn_blas_begin()
    void fnn_blas_end(int token)
    void fnn_blas_thread_init()

cdef extern from "dense.h" nogil:
    int fnn_dense_forward(const fnn_exec *ex, int dtype, const void *A_prev, const void *W,
                          const void *b, void *Z, void *A, Py_ssize_t m, Py_ssize_t k,
                          Py_ssize_t n, int activation, double slope)
    int fnn_dense_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                           const void *A_prev, const void *W, void *dZ, void *dA_prev,
                           void *dW, void *db, Py_ssize_t m, Py_ssize_t k, Py_ssize_t n,
                           int activation, double slope, double l2_scale)
    int fnn_activation_forward(const fnn_exec *ex, int dtype, void *Z, void *A, Py_ssize_t m,
                               Py_ssize_t n, int activation, double slope)
    int fnn_activation_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                                void *dZ, Py_ssize_t m, Py_ssize_t n, int activation,
                                double slope)

cdef extern from "loss.h" nogil:
    int fnn_softmax_xent_labels(const fnn_exec *ex, int dtype, const void *Z,
                                const int64_t *labels, const void *w, void *dZ,
                                Py_ssize_t m, Py_ssize_t k, double *loss)
    int fnn_softmax_xent_probs(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                               const void *w, void *dZ, Py_ssize_t m, Py_ssize_t k,
                               double *loss)
    int fnn_sigmoid_xent(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                         const void *w, void *dZ, Py_ssize_t m, Py_ssize_t k, double *loss)
    int fnn_mse(const fnn_exec *ex, int dtype, const void *P, const void *Y, const void *w,
                void *dP, Py_ssize_t m, Py_ssize_t k, double *loss)
    int fnn_sum_squares(const fnn_exec *ex, int dtype, const void *x, Py_ssize_t n,
                        double *result)

cdef extern from "batchnorm.h" nogil:
    int fnn_batchnorm_forward_train(const fnn_exec *ex, int dtype, const void *Z,
                                    const void *gamma, const void *beta, void *Zt, void *mu,
                                    void *inv_std, void *running_mean, void *running_var,
                                    Py_ssize_t m, Py_ssize_t n, double eps, double momentum)
    int fnn_batchnorm_forward_eval(const fnn_exec *ex, int dtype, const void *Z,
                                   const void *gamma, const void *beta,
                                   const void *running_mean, const void *running_var,
                                   void *Zt, Py_ssize_t m, Py_ssize_t n, double eps)
    int fnn_batchnorm_backward(const fnn_exec *ex, int dtype, const void *dZt, const void *Z,
                               const void *gamma, const void *mu, const void *inv_std,
                               void *dZ, void *dgamma, void *dbeta, Py_ssize_t m,
                               Py_ssize_t n)

cdef extern from "dropout.h" nogil:
    int fnn_dropout_forward(const fnn_exec *ex, int dtype, const void *A, void *A_out,
                            uint8_t *mask, Py_ssize_t size, double keep_prob, uint64_t seed)
    int fnn_dropout_backward(const fnn_exec *ex, int dtype, const void *dA,
                             const uint8_t *mask, void *dA_prev, Py_ssize_t size,
                             double keep_prob)

cdef extern from "optim.h" nogil:
    enum:
        FNN_OPTIM_PARALLEL_MIN
        FNN_OPTIM_SQRT_PARALLEL_MIN
    int fnn_sgd_step(const fnn_exec *ex, int dtype, void *w, const void *g, double lr,
                     double decay, Py_ssize_t n)
    int fnn_momentum_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v,
                          double lr, double beta, int average, int nesterov, Py_ssize_t n)
    int fnn_rmsprop_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *s,
                         double lr, double beta, double eps, Py_ssize_t n)
    int fnn_adam_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v,
                      void *s, int64_t t, double lr, double beta1, double beta2, double eps,
                      double weight_decay, Py_ssize_t n)

cdef extern from "gather.h" nogil:
    int fnn_gather_rows(const fnn_exec *ex, const void *src, Py_ssize_t n_src,
                        Py_ssize_t row_bytes, const int64_t *idx, Py_ssize_t m, void *dst)
