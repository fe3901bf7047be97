/* Design: the GEMMs of a dense layer and its elementwise passes, by blocks.
 *
 * Forward: each block makes its part of A_prev @ W with the BLAS (a block of
 * rows, or of columns when the product has fewer rows than columns and a
 * large W: dense_impl.h, cut_columns), then adds the bias, keeps z
 * (training) and writes g(z) while those elements are in cache.  Backward:
 * one pass by blocks of rows computes dZ = dA * g'(Z) and its column sums
 * (db, combined in block order); a second pass makes dW = A_prev.T @ dZ with
 * its L2 term and dA_prev = dZ @ W.T, each cut the same way.  The blocks are
 * the pool's (pool.h), and the BLAS runs single-threaded in each (blas.h):
 * one set of threads for the GEMMs and the passes, measured faster than a
 * threaded BLAS around serial passes (bench/README.md).
 * The body is written once in dense_impl.h and instantiated for float and
 * double below.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "dense.h"

#define FNN_IMPL "dense_impl.h"
#include "instantiate.h"

int fnn_dense_forward(const fnn_exec *ex, int dtype, const void *A_prev, const void *W,
                      const void *b, void *Z, void *A, ptrdiff_t m, ptrdiff_t k,
                      ptrdiff_t n, int activation, double slope)
{
    return FNN_DISPATCH(dtype, fnn_dense_forward, ex, A_prev, W, b, Z, A, m, k, n,
                        activation, slope);
}

int fnn_dense_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                       const void *A_prev, const void *W, void *dZ, void *dA_prev,
                       void *dW, void *db, ptrdiff_t m, ptrdiff_t k, ptrdiff_t n,
                       int activation, double slope, double l2_scale)
{
    return FNN_DISPATCH(dtype, fnn_dense_backward, ex, dA, Z, A_prev, W, dZ, dA_prev, dW,
                        db, m, k, n, activation, slope, l2_scale);
}

int fnn_activation_forward(const fnn_exec *ex, int dtype, void *Z, void *A, ptrdiff_t m,
                           ptrdiff_t n, int activation, double slope)
{
    return FNN_DISPATCH(dtype, fnn_activation_forward, ex, Z, A, m, n, activation, slope);
}

int fnn_activation_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                            void *dZ, ptrdiff_t m, ptrdiff_t n, int activation,
                            double slope)
{
    return FNN_DISPATCH(dtype, fnn_activation_backward, ex, dA, Z, dZ, m, n, activation,
                        slope);
}
