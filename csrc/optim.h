/* Fused optimizer steps: each updates n parameters in place in one pass.
 *
 * Arrays are C-contiguous of n elements of the element type `dtype` (enum
 * fnn_dtype), any shape flattened; they must not overlap (the wrapper checks).
 * Notation: w parameters, g gradient of the cost, v first moment (velocity),
 * s second moment, lr learning rate.  Each kernel reads every array once and
 * writes every IN/OUT array once.  No reduction, so the result does not
 * depend on n_threads.  Status: FNN_OK, or FNN_EINVAL for an argument the
 * wrapper should have rejected (n < 0, t < 1).
 */
#ifndef FASTNN_OPTIM_H
#define FASTNN_OPTIM_H

#include <stdint.h>
#include "common.h"

/* Below these many parameters a step runs on one thread.
 *
 * Measured with bench/optim_crossover.c (2-core Intel Xeon KVM guest with
 * AVX-512, gcc 12 -O3, float32, warm caches, parallel path forced, 1 vs 2
 * threads of fastnn's pool, its worker polling between calls as in a
 * training loop; best of 15).  Handing a block to the pool costs ~1 us.
 * Speed-up of 2 threads over 1:
 *
 *   n      SGD    momentum  RMSprop  Adam
 *   4096   0.39   0.50      1.08     1.12
 *   8192   0.91   1.14      1.41     1.47
 *   16384  1.36   1.36      1.67     1.68
 *   32768  1.55   1.60      1.81     1.83
 *   65536  1.72   1.78      1.91     1.92
 *
 * The square root and division of RMSprop and Adam make a second thread pay
 * from half the size of the cheap updates.  Each threshold is the first size
 * where 2 threads win by more than 1.3x: the margin covers a pool that has
 * gone to sleep (waking it costs ~60 us on a KVM guest, csrc/pool.c).
 * (FNN_PARALLEL_MIN of the other kernels is 32768.) */
#ifndef FNN_OPTIM_PARALLEL_MIN
#define FNN_OPTIM_PARALLEL_MIN 16384        /* SGD, momentum */
#endif
#ifndef FNN_OPTIM_SQRT_PARALLEL_MIN
#define FNN_OPTIM_SQRT_PARALLEL_MIN 8192    /* RMSprop, Adam */
#endif

/* IN/OUT w; IN g.  Plain gradient descent with the L2 penalty folded in:
 *   w -= lr * (g + decay * w),   decay = lambda / m (0 for none),
 * i.e. weight decay by (1 - lr * lambda / m) then a gradient step. */
int fnn_sgd_step(const fnn_exec *ex, int dtype, void *w, const void *g, double lr,
                 double decay, ptrdiff_t n);

/* IN/OUT w, v; IN g.  Momentum:
 *   v = beta * v + c * g        c = 1 - beta when `average` (the course's
 *                               exponentially weighted average, default in
 *                               Python), c = 1 otherwise (PyTorch/Keras SGD);
 *   w -= lr * v                 or, with nesterov,
 *   w -= lr * (beta * v + c * g)  (the look-ahead, v already updated). */
int fnn_momentum_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v,
                      double lr, double beta, int average, int nesterov, ptrdiff_t n);

/* IN/OUT w, s; IN g.  RMSprop, eps outside the square root:
 *   s = beta * s + (1 - beta) * g^2;   w -= lr * g / (sqrt(s) + eps). */
int fnn_rmsprop_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *s,
                     double lr, double beta, double eps, ptrdiff_t n);

/* IN/OUT w, v, s; IN g; t >= 1 the number of this step.  Adam (AdamW when
 * weight_decay > 0: decoupled, scaled by lr as in torch.optim.AdamW):
 *   v = beta1 * v + (1 - beta1) * g;   s = beta2 * s + (1 - beta2) * g^2
 *   v_hat = v / (1 - beta1^t);         s_hat = s / (1 - beta2^t)
 *   w -= lr * (v_hat / (sqrt(s_hat) + eps) + weight_decay * w).
 * The bias corrections are computed once per call in double. */
int fnn_adam_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v, void *s,
                  int64_t t, double lr, double beta1, double beta2, double eps,
                  double weight_decay, ptrdiff_t n);

#endif
