/* Dense-layer elementwise kernels: the one fused pass around each GEMM.
 *
 * The GEMMs (Z = A_prev @ W, dW = A_prev.T @ dZ, dA_prev = dZ @ W.T) go to
 * BLAS from the Cython wrapper.  All arrays are C-contiguous, row-major
 * (m, n), of the element type `dtype` (enum fnn_dtype).
 */
#ifndef FASTNN_DENSE_H
#define FASTNN_DENSE_H

#include "common.h"

/* IN/OUT Z: GEMM output (m, n); IN b: (n,) or NULL; OUT A: (m, n), may be Z.
 * z = Z + b is stored back into Z and A = g(z), g = activation. */
int fnn_dense_activation_forward(int dtype, void *Z, const void *b, void *A,
                                 ptrdiff_t m, ptrdiff_t n, int activation,
                                 double slope, int n_threads);

/* IN dA, Z: (m, n); OUT dZ: (m, n), may be dA; OUT db: (n,) or NULL.
 * dZ = dA * g'(Z) (softmax: its Jacobian applied row by row) and
 * db = column sums of dZ, in one pass.  FNN_ENOMEM if the per-thread
 * partial sums cannot be allocated. */
int fnn_dense_activation_backward(int dtype, const void *dA, const void *Z,
                                  void *dZ, void *db, ptrdiff_t m, ptrdiff_t n,
                                  int activation, double slope, int n_threads);

/* IN/OUT y: (n,); IN x: (n,).  y += alpha * x (the L2 term of dW). */
int fnn_add_scaled(int dtype, void *y, const void *x, double alpha,
                   ptrdiff_t n, int n_threads);

#endif
