/* Design: batch normalisation as a few sweeps of one fused loop each.
 *
 * Forward (training): sweep 1 sums each column, per fixed row block, into
 * double accumulators; the blocks' partials are combined in block order.
 * Sweep 2 sums the squares of the deviations from the rounded mean (the
 * textbook two-pass variance: nothing cancels, unlike E[z^2] - E[z]^2).
 * Sweep 3 writes Zt = (Z - mu) * (gamma * inv_std) + beta.
 * Backward: sweep 1 sums dZt and dZt * (Z - mu) per column (dbeta, and dgamma
 * after a factor inv_std); sweep 2 writes the compact closed form
 *   dZ = a dZt + (Z - mu) s + c,  a = gamma inv_std,
 *   s = -a inv_std dgamma / m,  c = -a dbeta / m.
 *
 * z_norm is recomputed from Z in the backward pass, not stored: measured
 * with a C harness (float32 (256, 1024), one thread), the forward sweep that
 * writes both z_norm and Zt cost 68 us against 31 us for Zt alone, while
 * recomputing z_norm adds one subtraction per element to the backward sweeps
 * (a few us); it also saves an (m, n) array per layer.
 * The price: Z must be unchanged between forward and backward (the wrappers
 * refuse Zt written over Z in training).
 *
 * The kernels are bound by instruction throughput, not memory (the time per
 * element is the same for arrays in L1 and in L3 at this build's SSE2), so
 * the loops are shaped for fewer instructions per element: four rows per
 * sweep of the columns, so per-column values are loaded once per four rows
 * and double accumulators touched once per four rows; sums of four terms in
 * REAL, then in double.  Each sweep is one job of the pool; the per-column
 * steps between sweeps (O(n)) run on the caller.  Rows are cut into the fixed blocks of common.h: results depend on
 * the thread count only.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "batchnorm.h"

/* What bn_column_sums adds up (see batchnorm_impl.h). */
enum { FNN_BN_SUM, FNN_BN_SQDEV, FNN_BN_GRAD };

#define FNN_IMPL "batchnorm_impl.h"
#include "instantiate.h"

int fnn_batchnorm_forward_train(const fnn_exec *ex, int dtype, const void *Z,
                                const void *gamma, const void *beta, void *Zt, void *mu,
                                void *inv_std, void *running_mean, void *running_var,
                                ptrdiff_t m, ptrdiff_t n, double eps, double momentum)
{
    if ((running_mean == NULL) != (running_var == NULL))
        return FNN_EINVAL;
    return FNN_DISPATCH(dtype, fnn_batchnorm_forward_train, ex, Z, gamma, beta, Zt, mu,
                        inv_std, running_mean, running_var, m, n, eps, momentum);
}

int fnn_batchnorm_forward_eval(const fnn_exec *ex, int dtype, const void *Z,
                               const void *gamma, const void *beta,
                               const void *running_mean, const void *running_var, void *Zt,
                               ptrdiff_t m, ptrdiff_t n, double eps)
{
    return FNN_DISPATCH(dtype, fnn_batchnorm_forward_eval, ex, Z, gamma, beta, running_mean,
                        running_var, Zt, m, n, eps);
}

int fnn_batchnorm_backward(const fnn_exec *ex, int dtype, const void *dZt, const void *Z,
                           const void *gamma, const void *mu, const void *inv_std, void *dZ,
                           void *dgamma, void *dbeta, ptrdiff_t m, ptrdiff_t n)
{
    return FNN_DISPATCH(dtype, fnn_batchnorm_backward, ex, dZt, Z, gamma, mu, inv_std, dZ,
                        dgamma, dbeta, m, n);
}
