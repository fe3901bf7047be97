/* Design: one fused pass around each GEMM of a dense layer.
 *
 * Forward: BLAS writes A_prev @ W into Z; one pass then adds the bias, keeps
 * z (training) and writes g(z), reading and writing each element once.
 * Backward: one pass computes dZ = dA * g'(Z) and accumulates the column sums
 * db in the same sweep, so dZ is not read again for the bias gradient.
 * The body is written once in dense_impl.h and instantiated for float and
 * double below.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "dense.h"

#define FNN_IMPL "dense_impl.h"
#include "instantiate.h"

int fnn_dense_activation_forward(int dtype, void *Z, const void *b, void *A,
                                 ptrdiff_t m, ptrdiff_t n, int activation,
                                 double slope, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_dense_activation_forward, Z, b, A, m, n,
                        activation, slope, n_threads);
}

int fnn_dense_activation_backward(int dtype, const void *dA, const void *Z,
                                  void *dZ, void *db, ptrdiff_t m, ptrdiff_t n,
                                  int activation, double slope, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_dense_activation_backward, dA, Z, dZ, db, m,
                        n, activation, slope, n_threads);
}

int fnn_add_scaled(int dtype, void *y, const void *x, double alpha,
                   ptrdiff_t n, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_add_scaled, y, x, alpha, n, n_threads);
}
