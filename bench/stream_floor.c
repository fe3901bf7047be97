/* The bandwidth floor of an optimizer step, for bench/bench_optim.py.
 *
 * Moves the same bytes as a fused step, with one add per array, on the same
 * number of threads and the same contiguous split as csrc/optim.c:
 *   v and s given (Adam):      reads g, w, v, s; writes w, v, s
 *   only v given (momentum,
 *   RMSprop):                  reads g, w, v;    writes w, v
 * Compiled by the benchmark with -O3 -march=native: no step can be faster.
 */
#include <stddef.h>

void fnn_bench_stream(float *w, const float *g, float *v, float *s,
                      ptrdiff_t n, int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
#pragma omp parallel for schedule(static) num_threads(n_threads)
    for (int blk = 0; blk < n_threads; ++blk) {
        ptrdiff_t base = n / n_threads, extra = n % n_threads;
        ptrdiff_t lo = blk * base + (blk < extra ? blk : extra);
        ptrdiff_t hi = lo + base + (blk < extra ? 1 : 0);
        float *restrict w_ = w;
        const float *restrict g_ = g;
        float *restrict v_ = v;
        float *restrict s_ = s;
        if (s_) {
            for (ptrdiff_t i = lo; i < hi; ++i) {
                const float gi = g_[i];
                w_[i] += gi;
                v_[i] += gi;
                s_[i] += gi;
            }
        } else {
            for (ptrdiff_t i = lo; i < hi; ++i) {
                const float gi = g_[i];
                w_[i] += gi;
                v_[i] += gi;
            }
        }
    }
}
