/* Dense-layer kernels: each GEMM of a dense layer fused with the elementwise
 * pass next to it.
 *
 * All matrices are C-contiguous, row-major, of the element type `dtype`
 * (enum fnn_dtype): A_prev (m, k), W (k, n), b (n,), Z, A, dA, dZ (m, n).
 * The GEMMs go to the BLAS of ex->blas (gemm.h), cut into row or column
 * blocks that the pool runs.  The forward finishes a block's elements (bias,
 * activation) while they are still in cache from its GEMM.
 *
 * Threading threshold (gemm.h, FNN_GEMM_PARALLEL_MIN = 2^18 multiply-adds):
 * a block costs the pool ~1 us to hand out (pool.c), and a 2^18
 * multiply-add GEMM takes ~2-4 us on one core, so below it a second thread
 * gains nothing.  All products of bench/ are above it.
 */
#ifndef FASTNN_DENSE_H
#define FASTNN_DENSE_H

#include "common.h"
#include "gemm.h"

/* IN A_prev (m, k), W (k, n), b (n,) or NULL; OUT Z (m, n) or NULL; OUT A
 * (m, n), not overlapping A_prev or W, and equal to Z or overlapping it not.
 * Z = A_prev @ W + b, A = g(Z), g = activation (slope: leaky_relu's);
 * with Z NULL the GEMM writes into A and g runs in place (inference).
 * A_prev NULL: no GEMM, Z (or A) already holds A_prev @ W (numpy.matmul). 
 * FNN_EINVAL for an unknown activation or a BLAS that cannot make the GEMM. */
int fnn_dense_forward(const fnn_exec *ex, int dtype, const void *A_prev, const void *W,
                      const void *b, void *Z, void *A, ptrdiff_t m, ptrdiff_t k,
                      ptrdiff_t n, int activation, double slope);

/* IN dA, Z (m, n), A_prev (m, k), W (k, n); OUT dZ (m, n), may be dA;
 * OUT dA_prev (m, k) or NULL; OUT dW (k, n); OUT db (n,) or NULL:
 *   dZ = dA * g'(Z) (softmax: its Jacobian applied row by row),
 *   dA_prev = dZ @ W.T,  dW = A_prev.T @ dZ + l2_scale * W,  db = sum_rows dZ;
 * A_prev NULL: dW is left alone, L2 term included (the caller makes it with
 * numpy.matmul); dA_prev must then be NULL too.
 * FNN_ENOMEM if db's per-block partial sums cannot be allocated. */
int fnn_dense_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                       const void *A_prev, const void *W, void *dZ, void *dA_prev,
                       void *dW, void *db, ptrdiff_t m, ptrdiff_t k, ptrdiff_t n,
                       int activation, double slope, double l2_scale);

/* IN Z (m, n); OUT A (m, n), may be Z.  A = g(Z). */
int fnn_activation_forward(const fnn_exec *ex, int dtype, void *Z, void *A, ptrdiff_t m,
                           ptrdiff_t n, int activation, double slope);

/* IN dA, Z (m, n); OUT dZ (m, n), may be dA.  dZ = dA * g'(Z). */
int fnn_activation_backward(const fnn_exec *ex, int dtype, const void *dA, const void *Z,
                            void *dZ, ptrdiff_t m, ptrdiff_t n, int activation,
                            double slope);

#endif
