/* Design: what every kernel family shares.
 *
 * - Status codes: kernels return FNN_OK or an error code; the Cython wrapper
 *   turns a non-zero status into a Python exception.  Inputs are validated in
 *   Python before the call, so FNN_EINVAL is a last line of defence (for
 *   example a label out of range), never the normal path.
 * - Threads: every kernel takes n_threads explicitly.  Work below
 *   FNN_PARALLEL_MIN elements runs on one thread, because starting a parallel
 *   region costs more than the loop itself there.
 * - Reductions are computed in fixed row blocks (one per requested thread)
 *   and combined in block order, so a result depends on the thread count but
 *   never on scheduling: same inputs and thread count, same bits.
 * - Kernels are written once over REAL in a *_impl.h file and instantiated
 *   for float and double by instantiate.h; <tgmath.h> picks the float or
 *   double libm function from the argument type.
 */
#ifndef FASTNN_COMMON_H
#define FASTNN_COMMON_H

#include <stddef.h>

#ifdef FASTNN_OPENMP
#include <omp.h>
#define FNN_PRAGMA(x) _Pragma(#x)
#else
#define FNN_PRAGMA(x)

#endif

enum fnn_status {
    FNN_OK = 0,
    FNN_ENOMEM = 1,   /* a workspace could not be allocated */
    FNN_EINVAL = 2    /* an argument the wrapper should have rejected */
};

/* Element type of every array argument of one call. */
enum fnn_dtype {
    FNN_FLOAT32 = 0,
    FNN_FLOAT64 = 1
};

/* FNN_NAME(base) is base_f32 or base_f64 inside a kernel body instantiated by
 * instantiate.h (SFX is defined there, before each inclusion). */
#define FNN_CAT_(a, b) a##_##b
#define FNN_CAT(a, b) FNN_CAT_(a, b)
#define FNN_NAME(base) FNN_CAT(base, SFX)

/* Calls name_f64 or name_f32 with the same arguments; void* arguments convert
 * to the typed pointers implicitly.  Used by each family's entry points. */
#define FNN_DISPATCH(dtype, name, ...) \
    ((dtype) == FNN_FLOAT64 ? name##_f64(__VA_ARGS__) : name##_f32(__VA_ARGS__))

enum fnn_activation {
    FNN_LINEAR = 0,
    FNN_RELU = 1,
    FNN_LEAKY_RELU = 2,
    FNN_TANH = 3,
    FNN_SIGMOID = 4,
    FNN_SOFTMAX = 5
};

/* Below this many elements a pass runs on one thread: starting a parallel
 * region costs a few microseconds, as much as a one-pass loop over ~32K
 * floats.  The same crossover was measured for the bandwidth-bound optimizer
 * steps (csrc/optim.h, bench/optim_crossover.c); the dense and loss passes
 * do more work per element, so it is a conservative choice for them. */
#define FNN_PARALLEL_MIN 32768

/* Upper bound on row blocks of a reduction (partials live on the stack). */
#define FNN_MAX_BLOCKS 256

static inline int fnn_threads_for(ptrdiff_t n_elements, int n_threads)
{
    if (n_threads < 1 || n_elements < FNN_PARALLEL_MIN)
        return 1;
    return n_threads > FNN_MAX_BLOCKS ? FNN_MAX_BLOCKS : n_threads;
}

/* Rows [*lo, *hi) of block `blk` when m rows are cut into n_blocks blocks. */
static inline void fnn_block_rows(ptrdiff_t m, int n_blocks, int blk,
                                  ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t base = m / n_blocks, extra = m % n_blocks;
    *lo = blk * base + (blk < extra ? blk : extra);
    *hi = *lo + base + (blk < extra ? 1 : 0);
}

/* result = the sum over i in [0, n) of what the body (the variadic part, a
 * statement list that may contain commas) adds to the double `acc`.  The
 * iterations run in the fixed blocks of fnn_block_rows, in parallel when
 * `work` elements are enough, and the block sums are added in block order,
 * so the result is the same for a given thread count. */
#define FNN_BLOCKED_SUM(result, work, n, n_threads, i, acc, ...)               \
    do {                                                                        \
        const int fnn_nb_ = fnn_threads_for((work), (n_threads));              \
        double fnn_partial_[FNN_MAX_BLOCKS];                                    \
        FNN_PRAGMA(omp parallel for schedule(static) num_threads(fnn_nb_)      \
                   if(fnn_nb_ > 1))                                             \
        for (int fnn_blk_ = 0; fnn_blk_ < fnn_nb_; ++fnn_blk_) {               \
            ptrdiff_t fnn_lo_, fnn_hi_;                                         \
            double acc = 0.0;                                                   \
            fnn_block_rows((n), fnn_nb_, fnn_blk_, &fnn_lo_, &fnn_hi_);         \
            for (ptrdiff_t i = fnn_lo_; i < fnn_hi_; ++i) {                    \
                __VA_ARGS__                                                     \
            }                                                                   \
            fnn_partial_[fnn_blk_] = acc;                                       \
        }                                                                       \
        double fnn_total_ = 0.0;                                                \
        for (int fnn_blk_ = 0; fnn_blk_ < fnn_nb_; ++fnn_blk_)                 \
            fnn_total_ += fnn_partial_[fnn_blk_];                               \
        (result) = fnn_total_;                                                  \
    } while (0)

/* Subnormal numbers (below 1.2e-38 in float32, 2.2e-308 in float64) cost a
 * microcode assist of ~100 cycles per operation on x86 CPUs.  Geometric
 * decays produce them: a parameter whose gradient is exactly 0 for a while
 * (an input pixel that is 0 in every image, a dead ReLU) has its momentum
 * or Adam v multiplied by beta every step, and v = 0.9^t v_0 is subnormal
 * after ~700 steps.  bench/bench_model.py's 784-256-128-10 network, trained
 * with Adam on MNIST (67 of its 784 pixels are 0 in every training image),
 * has 2.4% of v subnormal after four epochs, and more every epoch; trained
 * on random labels, where most ReLUs die, 59%, and the Adam step from that
 * state took 955 us instead of 166 us (5.8x; bench_optim.py
 * test_trained_state).  A pass that
 * updates such state therefore flushes subnormal inputs and results to zero
 * (x86: MXCSR FTZ and DAZ; AArch64: FPCR.FZ) for its own duration, on each
 * thread that runs it, and restores the caller's mode afterwards.  What
 * changes is below the smallest normal number (the tolerance floor of every
 * comparison), and it is the same on every thread count. */
#if defined(__x86_64__) || defined(_M_X64)
#include <xmmintrin.h>
typedef unsigned int fnn_fpmode;
static inline fnn_fpmode fnn_flush_subnormals_begin(void)
{
    const unsigned int old = _mm_getcsr();
    _mm_setcsr(old | 0x8040u);          /* FTZ (bit 15) | DAZ (bit 6) */
    return old;
}
static inline void fnn_flush_subnormals_end(fnn_fpmode old) { _mm_setcsr(old); }
#elif defined(__aarch64__) && defined(__GNUC__)
typedef unsigned long long fnn_fpmode;
static inline fnn_fpmode fnn_flush_subnormals_begin(void)
{
    unsigned long long old;
    __asm__ __volatile__("mrs %0, fpcr" : "=r"(old));
    __asm__ __volatile__("msr fpcr, %0" : : "r"(old | (1ull << 24)) : "memory");
    return old;
}
static inline void fnn_flush_subnormals_end(fnn_fpmode old)
{
    __asm__ __volatile__("msr fpcr, %0" : : "r"(old) : "memory");
}
#else
typedef int fnn_fpmode;                 /* elsewhere: IEEE subnormals, slower */
static inline fnn_fpmode fnn_flush_subnormals_begin(void) { return 0; }
static inline void fnn_flush_subnormals_end(fnn_fpmode old) { (void)old; }
#endif

/* 1 when the kernels were built with OpenMP. */
static inline int fnn_openmp_enabled(void)
{
#ifdef FASTNN_OPENMP
    return 1;
#else
    return 0;
#endif
}

/* OpenMP's default team size (OMP_NUM_THREADS, else the usable cores); 1 in a
 * serial build. */
static inline int fnn_default_threads(void)
{
#ifdef FASTNN_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

#endif
