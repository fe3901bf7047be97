/* Batch-normalisation kernels over a mini-batch Z of m rows (examples) and n
 * columns (features), statistics per column.
 *
 * All arrays are C-contiguous, row-major, of element type `dtype` (enum
 * fnn_dtype): matrices (m, n), per-column vectors (n,).
 *
 * Conventions (the ones torch.nn.BatchNorm1d uses, stated once here):
 * - the batch variance that normalises is the biased one (divide by m);
 * - the running variance averages the unbiased one (times m / (m - 1));
 * - momentum is the weight of the OLD average (the course's beta):
 *   running = momentum * running + (1 - momentum) * batch_statistic,
 *   so torch's momentum=0.1 is momentum=0.9 here.
 */
#ifndef FASTNN_BATCHNORM_H
#define FASTNN_BATCHNORM_H

#include "common.h"

/* Training forward.
 * IN Z (m, n), m >= 2 (else FNN_EINVAL); IN gamma, beta (n,);
 * OUT Zt (m, n) = gamma * (Z - mu) * inv_std + beta, not overlapping Z;
 * OUT mu (n,) batch mean; OUT inv_std (n,) = 1 / sqrt(var + eps), var biased;
 * IN/OUT running_mean, running_var (n,): both NULL, or both updated in place.
 * FNN_ENOMEM if the workspace cannot be allocated. */
int fnn_batchnorm_forward_train(const fnn_exec *ex, int dtype, const void *Z,
                                const void *gamma, const void *beta, void *Zt, void *mu,
                                void *inv_std, void *running_mean, void *running_var,
                                ptrdiff_t m, ptrdiff_t n, double eps, double momentum);

/* Inference forward with the running statistics.
 * IN Z (m, n); IN gamma, beta, running_mean, running_var (n,);
 * OUT Zt (m, n), may be Z:
 * Zt = gamma * (Z - running_mean) / sqrt(running_var + eps) + beta.
 * FNN_ENOMEM if the workspace cannot be allocated. */
int fnn_batchnorm_forward_eval(const fnn_exec *ex, int dtype, const void *Z,
                               const void *gamma, const void *beta,
                               const void *running_mean, const void *running_var, void *Zt,
                               ptrdiff_t m, ptrdiff_t n, double eps);

/* Backward of the training forward.
 * IN dZt (m, n); IN Z (m, n), gamma, mu, inv_std (n,) as the forward had
 * them; with z_norm = (Z - mu) * inv_std:
 * OUT dbeta (n,) = sum_rows dZt, OUT dgamma (n,) = sum_rows dZt * z_norm,
 * OUT dZ (m, n) = (gamma * inv_std / m) * (m * dZt - dbeta - z_norm * dgamma);
 * dZ may be dZt, and overlaps neither dZt (otherwise) nor Z.
 * FNN_ENOMEM if the workspace cannot be allocated. */
int fnn_batchnorm_backward(const fnn_exec *ex, int dtype, const void *dZt, const void *Z,
                           const void *gamma, const void *mu, const void *inv_std, void *dZ,
                           void *dgamma, void *dbeta, ptrdiff_t m, ptrdiff_t n);

#endif
