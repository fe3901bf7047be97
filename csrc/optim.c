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
 * AVX2 at 1M parameters).  So with GCC or clang on ELF platforms each range
 * function is also compiled for AVX2 and AVX-512 (target_clones) and the
 * loader picks the best one for the CPU once.  The results are identical in
 * every version: sqrt, division, + and * are correctly rounded and -std=c99
 * keeps floating-point contraction (FMA) off.  -DFNN_NO_CLONES disables it.
 * The bodies are written once in optim_impl.h and instantiated for float and
 * double below.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "optim.h"

#if !defined(FNN_NO_CLONES) && defined(__ELF__) && defined(__x86_64__) \
    && defined(__has_attribute)
#if __has_attribute(target_clones)
#define FNN_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#endif
#ifndef FNN_CLONES
#define FNN_CLONES
#endif

/* C99 restrict; MSVC's C compiler spells it __restrict. */
#if defined(_MSC_VER)
#define FNN_RESTRICT __restrict
#else
#define FNN_RESTRICT restrict
#endif

static inline int fnn_optim_threads(ptrdiff_t n, int n_threads, ptrdiff_t min)
{
    if (n_threads < 1 || n < min)
        return 1;
    return n_threads > FNN_MAX_BLOCKS ? FNN_MAX_BLOCKS : n_threads;
}

/* Runs CALL, which may use `lo` and `hi`, for contiguous ranges [lo, hi)
 * covering [0, n): one range per thread, or [0, n) on one thread when n is
 * below `min`.  Each thread flushes subnormals to zero while it runs CALL
 * (common.h: the state decays geometrically into them). */
#define FNN_OPTIM_RANGES(n, n_threads, min, CALL)                            \
    do {                                                                     \
        const int nb_ = fnn_optim_threads((n), (n_threads), (min));          \
        FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb_) if(nb_ > 1)) \
        for (int blk_ = 0; blk_ < nb_; ++blk_) {                             \
            ptrdiff_t lo, hi;                                                \
            fnn_block_rows((n), nb_, blk_, &lo, &hi);                        \
            const fnn_fpmode mode_ = fnn_flush_subnormals_begin();           \
            CALL;                                                            \
            fnn_flush_subnormals_end(mode_);                                 \
        }                                                                    \
    } while (0)

#define FNN_IMPL "optim_impl.h"
#include "instantiate.h"

int fnn_sgd_step(int dtype, void *w, const void *g, double lr, double decay,
                 ptrdiff_t n, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_sgd_step, w, g, lr, decay, n, n_threads);
}

int fnn_momentum_step(int dtype, void *w, const void *g, void *v, double lr,
                      double beta, int average, int nesterov, ptrdiff_t n,
                      int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_momentum_step, w, g, v, lr, beta, average,
                        nesterov, n, n_threads);
}

int fnn_rmsprop_step(int dtype, void *w, const void *g, void *s, double lr,
                     double beta, double eps, ptrdiff_t n, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_rmsprop_step, w, g, s, lr, beta, eps, n,
                        n_threads);
}

int fnn_adam_step(int dtype, void *w, const void *g, void *v, void *s,
                  int64_t t, double lr, double beta1, double beta2, double eps,
                  double weight_decay, ptrdiff_t n, int n_threads)
{
    return FNN_DISPATCH(dtype, fnn_adam_step, w, g, v, s, t, lr, beta1, beta2,
                        eps, weight_decay, n, n_threads);
}
