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
    int fnn_openmp_enabled()
    int fnn_default_threads()

cdef extern from "dense.h" nogil:
    int fnn_dense_activation_forward(int dtype, void *Z, const void *b, void *A,
                                     Py_ssize_t m, Py_ssize_t n, int activation,
                                     double slope, int n_threads)
    int fnn_dense_activation_backward(int dtype, const void *dA, const void *Z,
                                      void *dZ, void *db, Py_ssize_t m, Py_ssize_t n,
                                      int activation, double slope, int n_threads)
    int fnn_add_scaled(int dtype, void *y, const void *x, double alpha,
                       Py_ssize_t n, int n_threads)

cdef extern from "loss.h" nogil:
    int fnn_softmax_xent_labels(int dtype, const void *Z, const int64_t *labels,
                                void *dZ, Py_ssize_t m, Py_ssize_t k, double *loss,
                                int n_threads)
    int fnn_softmax_xent_probs(int dtype, const void *Z, const void *Y, void *dZ,
                               Py_ssize_t m, Py_ssize_t k, double *loss, int n_threads)
    int fnn_sigmoid_xent(int dtype, const void *Z, const void *Y, void *dZ,
                         Py_ssize_t m, Py_ssize_t k, double *loss, int n_threads)
    int fnn_mse(int dtype, const void *P, const void *Y, void *dP, Py_ssize_t m,
                Py_ssize_t k, double *loss, int n_threads)

cdef extern from "batchnorm.h" nogil:
    int fnn_batchnorm_forward_train(int dtype, const void *Z, const void *gamma,
                                    const void *beta, void *Zt, void *mu,
                                    void *inv_std, void *running_mean, void *running_var,
                                    Py_ssize_t m, Py_ssize_t n, double eps, double momentum,
                                    int n_threads)
    int fnn_batchnorm_forward_eval(int dtype, const void *Z, const void *gamma,
                                   const void *beta, const void *running_mean,
                                   const void *running_var, void *Zt, Py_ssize_t m,
                                   Py_ssize_t n, double eps, int n_threads)
    int fnn_batchnorm_backward(int dtype, const void *dZt, const void *Z,
                               const void *gamma, const void *mu, const void *inv_std,
                               void *dZ, void *dgamma, void *dbeta, Py_ssize_t m,
                               Py_ssize_t n, int n_threads)

cdef extern from "dropout.h" nogil:
    int fnn_dropout_forward(int dtype, const void *A, void *A_out, uint8_t *mask,
                            Py_ssize_t size, double keep_prob, uint64_t seed, int n_threads)
    int fnn_dropout_backward(int dtype, const void *dA, const uint8_t *mask, void *dA_prev,
                             Py_ssize_t size, double keep_prob, int n_threads)
cdef extern from "optim.h" nogil:
    enum:
        FNN_OPTIM_PARALLEL_MIN
        FNN_OPTIM_SQRT_PARALLEL_MIN
    int fnn_sgd_step(int dtype, void *w, const void *g, double lr, double decay,
                     Py_ssize_t n, int n_threads)
    int fnn_momentum_step(int dtype, void *w, const void *g, void *v, double lr,
                          double beta, int average, int nesterov, Py_ssize_t n,
                          int n_threads)
    int fnn_rmsprop_step(int dtype, void *w, const void *g, void *s, double lr,
                         double beta, double eps, Py_ssize_t n, int n_threads)
    int fnn_adam_step(int dtype, void *w, const void *g, void *v, void *s,
                      int64_t t, double lr, double beta1, double beta2, double eps,
                      double weight_decay, Py_ssize_t n, int n_threads)
