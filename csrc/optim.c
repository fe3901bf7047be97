/* Design: an optimizer step is a streaming pass with a few flops per element,
 * so its cost is the bytes it moves.  Each kernel therefore reads w, g and
 * its state once and writes w and the state once (Adam: 4 reads, 3 writes
 * per parameter), where NumPy code of the same formulas makes one pass per
 * operator and allocates a temporary for each.  Combined with the flat
 * parameter buffer (fastnn/parameters.py), one call updates a whole model.
 *
 * Threads: the n elements are cut into one contiguous range per thread
 * (fnn_block_rows); there is no reduction, so the result is the same for
 * every thread count.  Below FNN_OPTIM_PARALLEL_MIN (SGD, momentum) or
 * FNN_OPTIM_SQRT_PARALLEL_MIN (RMSprop, Adam) elements (optim.h, with the
 * measurement) a step runs on one thread.
 * Arithmetic is in the element type; only Adam's bias corrections
 * 1 - beta^t are computed in double, once per call.  Subnormal inputs and
 * results are flushed to zero during a step (common.h says why: momentum
 * and Adam's v decay into them wherever a gradient stays 0, and each
 * operation on one cost ~100 cycles).
 *
 * Instruction sets: the build targets baseline x86-64 (SSE2), where the
 * square root and division of RMSprop and Adam, 4 floats at a time, make
 * them compute-bound whenever the arrays sit in cache (about 2x slower than
 * AVX2 at 1M parameters).  So each range function is also compiled for AVX2
 * and AVX-512 (FNN_CLONES, common.h), with identical results.
 * The bodies are written once in optim_impl.h and instantiated for float and
 * double below.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "optim.h"

/* The steps one job type serves (optim_impl.h, optim_block). */
enum fnn_optim_kind { FNN_OPTIM_SGD, FNN_OPTIM_MOMENTUM, FNN_OPTIM_RMSPROP, FNN_OPTIM_ADAM };

#define FNN_IMPL "optim_impl.h"
#include "instantiate.h"

int fnn_sgd_step(const fnn_exec *ex, int dtype, void *w, const void *g, double lr,
                 double decay, ptrdiff_t n)
{
    return FNN_DISPATCH(dtype, fnn_sgd_step, ex, w, g, lr, decay, n);
}

int fnn_momentum_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v,
                      double lr, double beta, int average, int nesterov, ptrdiff_t n)
{
    return FNN_DISPATCH(dtype, fnn_momentum_step, ex, w, g, v, lr, beta, average, nesterov,
                        n);
}

int fnn_rmsprop_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *s,
                     double lr, double beta, double eps, ptrdiff_t n)
{
    return FNN_DISPATCH(dtype, fnn_rmsprop_step, ex, w, g, s, lr, beta, eps, n);
}

int fnn_adam_step(const fnn_exec *ex, int dtype, void *w, const void *g, void *v, void *s,
                  int64_t t, double lr, double beta1, double beta2, double eps,
                  double weight_decay, ptrdiff_t n)
{
    return FNN_DISPATCH(dtype, fnn_adam_step, ex, w, g, v, s, t, lr, beta1, beta2, eps,
                        weight_decay, n);
}
