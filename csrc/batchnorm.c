/* Design: batch normalisation in two sweeps over memory each way.
 *
 * Forward (training): sweep 1 accumulates, per row block, the column sums of
 * d = z - z_0 and d^2 in double (z_0 = the first row, a data point, which
 * bounds the cancellation of var = E[d^2] - E[d]^2; see the combine step).
 * The blocks' partials are combined in block order, column by column, into
 * mu, inv_std and the running averages.  Sweep 2 writes Zn = (Z - mu) * inv_std
 * and Zt = gamma * Zn + beta.  Zn is stored for the backward pass rather than
 * recomputed from Z: measured (bench/bench_batchnorm.py) the extra stream
 * costs little at the benchmark shapes, and keeping it means the caller may
 * overwrite Z (even with Zt itself) between forward and backward.
 * Backward: sweep 1 sums dZt and dZt * Zn per column (dbeta, dgamma); sweep 2
 * writes dZ = a * dZt + b * Zn + c with per-column coefficients of the
 * compact closed form.
 *
 * Row-major data with per-column statistics: each sweep walks rows, so reads
 * are contiguous, and adds four rows at a time into n double accumulators per
 * block (L1-resident for n up to a few thousand).  The three steps of a pass
 * share one OpenMP parallel region.  Blocks are the fixed row blocks of
 * common.h: results depend on the thread count only.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "batchnorm.h"

#define REAL float
#define SFX f32
#include "batchnorm_impl.h"
#undef REAL
#undef SFX

#define REAL double
#define SFX f64
#include "batchnorm_impl.h"
#undef REAL
#undef SFX

int fnn_batchnorm_forward_train(int dtype, const void *Z, const void *gamma,
                                const void *beta, void *Zt, void *Zn, void *mu,
                                void *inv_std, void *running_mean,
                                void *running_var, ptrdiff_t m, ptrdiff_t n,
                                double eps, double momentum, int n_threads)
{
    if ((running_mean == NULL) != (running_var == NULL))
        return FNN_EINVAL;
    return FNN_DISPATCH(dtype, fnn_batchnorm_forward_train, Z, gamma, beta, Zt,
                        Zn, mu, inv_std, running_mean, running_var, m, n, eps,
                        momentum, n_threads);
}

int fnn_batchnorm_forward_eval(int dtype, const void *Z, const void *gamma,
                               const void *beta, const void *running_mean,
                               const void *running_var, void *Zt, ptrdiff_t m,
                               ptrdiff_t n, double eps, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_batchnorm_forward_eval, Z, gamma, beta,
                        running_mean, running_var, Zt, m, n, eps, n_threads);
}

int fnn_batchnorm_backward(int dtype, const void *dZt, const void *Zn,
                           const void *gamma, const void *inv_std, void *dZ,
                           void *dgamma, void *dbeta, ptrdiff_t m, ptrdiff_t n,
                           int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_batchnorm_backward, dZt, Zn, gamma, inv_std,
                        dZ, dgamma, dbeta, m, n, n_threads);
}
