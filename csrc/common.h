/* Design: what every kernel family shares.
 *
 * - Status codes: kernels return FNN_OK or an error code; the Cython wrapper
 *   turns a non-zero status into a Python exception.  Inputs are validated in
 *   Python before the call, so FNN_EINVAL is a last line of defence (for
 *   example a label out of range), never the normal path.
 * - Threads: every kernel takes an execution context (fnn_exec): the thread
 *   count, the pool that runs parallel blocks (pool.h) and the GEMM provider
 *   (gemm.h).  Work below FNN_PARALLEL_MIN elements runs on one thread,
 *   because handing out blocks costs more than the loop itself there.
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
 * to the typed pointers implicitly.  Used by each family's entry points
 * (which return a status): any other dtype code is FNN_EINVAL, never a
 * float32 reading of float64 memory. */
#define FNN_DISPATCH(dtype, name, ...) \
    ((dtype) == FNN_FLOAT64 ? name##_f64(__VA_ARGS__) \
     : (dtype) == FNN_FLOAT32 ? name##_f32(__VA_ARGS__) : FNN_EINVAL)

enum fnn_activation {
    FNN_LINEAR = 0,
    FNN_RELU = 1,
    FNN_LEAKY_RELU = 2,
    FNN_TANH = 3,
    FNN_SIGMOID = 4,
    FNN_SOFTMAX = 5
};

/* One unit of parallel work: block `block` of `n_blocks` (pool.h). */
typedef void (*fnn_block_fn)(void *ctx, int block, int n_blocks);

struct fnn_blas;

/* What a kernel runs on.  The pool and the BLAS live in one extension module
 * (fastnn/_runtime.pyx), which hands this context to every kernel call, so
 * all of fastnn's kernels share one set of threads whatever module they were
 * compiled into. */
typedef struct fnn_exec {
    int n_threads;          /* blocks a parallel pass is cut into, at most */
    /* fnn_pool_run, or NULL: every block on the caller */
    void (*run)(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx);
    const struct fnn_blas *blas;   /* the GEMM provider (gemm.h) */
} fnn_exec;

/* Runs fn on blocks [0, n_blocks), in the pool when there is more than one. */
static inline void fnn_parallel(const fnn_exec *ex, int n_blocks, fnn_block_fn fn,
                                void *ctx)
{
    if (n_blocks > 1 && ex->n_threads > 1 && ex->run) {
        ex->run(ex->n_threads, n_blocks, fn, ctx);
        return;
    }
    for (int b = 0; b < n_blocks; ++b)
        fn(ctx, b, n_blocks);
}

/* Below this many elements a pass runs on one thread: starting a parallel
 * region costs a few microseconds, as much as a one-pass loop over ~32K
 * floats.  The same crossover was measured for the bandwidth-bound optimizer
 * steps (csrc/optim.h, bench/optim_crossover.c); the dense and loss passes
 * do more work per element, so it is a conservative choice for them. */
#define FNN_PARALLEL_MIN 32768

/* Upper bound on row blocks of a reduction (partials live on the stack). */
#define FNN_MAX_BLOCKS 256

/* Blocks of a pass over n_elements: one per thread from `min` elements on. */
static inline int fnn_threads_above(ptrdiff_t n_elements, int n_threads, ptrdiff_t min)
{
    if (n_threads < 1 || n_elements < min)
        return 1;
    return n_threads > FNN_MAX_BLOCKS ? FNN_MAX_BLOCKS : n_threads;
}

static inline int fnn_threads_for(ptrdiff_t n_elements, int n_threads)
{
    return fnn_threads_above(n_elements, n_threads, FNN_PARALLEL_MIN);
}

/* Rows [*lo, *hi) of block `blk` when m rows are cut into n_blocks blocks. */
static inline void fnn_block_rows(ptrdiff_t m, int n_blocks, int blk,
                                  ptrdiff_t *lo, ptrdiff_t *hi)
{
    ptrdiff_t base = m / n_blocks, extra = m % n_blocks;
    *lo = blk * base + (blk < extra ? blk : extra);
    *hi = *lo + base + (blk < extra ? 1 : 0);
}

/* Rows [*r0, *r1) and columns [*c0, *c1) of block `blk` of a rows x cols
 * matrix cut into n_blocks blocks of columns (by_columns) or of rows. */
static inline void fnn_block_cut(ptrdiff_t rows, ptrdiff_t cols, int by_columns, int n_blocks,
                                 int blk, ptrdiff_t *r0, ptrdiff_t *r1, ptrdiff_t *c0,
                                 ptrdiff_t *c1)
{
    *r0 = 0;
    *r1 = rows;
    *c0 = 0;
    *c1 = cols;
    if (by_columns)
        fnn_block_rows(cols, n_blocks, blk, c0, c1);
    else
        fnn_block_rows(rows, n_blocks, blk, r0, r1);
}

/* The sum over [0, n) of fn(ctx, lo, hi), each call summing its range
 * [lo, hi) into a double: the ranges are the fixed blocks of fnn_block_rows,
 * run in parallel when `work` elements are enough, and their sums are added
 * in block order, so the result is the same for a given thread count. */
typedef double (*fnn_range_sum_fn)(void *ctx, ptrdiff_t lo, ptrdiff_t hi);

typedef struct {
    fnn_range_sum_fn fn;
    void *ctx;
    ptrdiff_t n;
    double partial[FNN_MAX_BLOCKS];
} fnn_blocked_sum_job;

static void fnn_blocked_sum_block(void *job_, int blk, int nb)
{
    fnn_blocked_sum_job *job = (fnn_blocked_sum_job *)job_;
    ptrdiff_t lo, hi;
    fnn_block_rows(job->n, nb, blk, &lo, &hi);
    job->partial[blk] = job->fn(job->ctx, lo, hi);
}

static inline double fnn_blocked_sum(const fnn_exec *ex, ptrdiff_t work, ptrdiff_t n,
                                     fnn_range_sum_fn fn, void *ctx)
{
    fnn_blocked_sum_job job;
    const int nb = fnn_threads_for(work, ex->n_threads);
    job.fn = fn;
    job.ctx = ctx;
    job.n = n;
    fnn_parallel(ex, nb, fnn_blocked_sum_block, &job);
    double total = 0.0;
    for (int blk = 0; blk < nb; ++blk)
        total += job.partial[blk];
    return total;
}

/* Streaming loops that the baseline x86-64 build (SSE2) leaves 2-4x short
 * of the memory's speed are also compiled for AVX2 and AVX-512 with GCC or
 * clang on ELF platforms, and the loader picks the best version for the CPU
 * once (target_clones).  The results are identical in every version: +, *,
 * sqrt and division are correctly rounded and -std=c99 keeps floating-point
 * contraction (FMA) off.  -DFNN_NO_CLONES disables it. */
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


#endif
