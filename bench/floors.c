/* The floors bench/ measures fastnn against, called through ctypes from a
 * worker process (bench/workloads.py), built by the benchmark with
 * -O3 -march=native -fopenmp:
 *
 *   fnn_bench_gemms   `reps` calls of a BLAS's sgemm, with that BLAS's own
 *                     threads: the bare GEMM of a dense pass (no Python
 *                     between the calls)
 *   fnn_bench_epoch   the GEMMs of one MNIST-shaped training epoch, either
 *                     on the BLAS's own threads or cut into row blocks over
 *                     OpenMP threads with the BLAS on one thread each (how
 *                     fastnn runs them)
 *   fnn_bench_stream  the bytes of a fused optimizer step with one add per
 *                     array: no step can move them faster
 *
 * A BLAS is given as a function pointer and a kind: 1 CBLAS with int
 * arguments, 2 CBLAS with int64 arguments (NumPy's OpenBLAS), 3 BLIS's
 * typed API (bli_sgemm, strides instead of transposes).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#ifdef _OPENMP
#include <omp.h>
#endif

typedef void (*cblas32_t)(int, int, int, int, int, int, float, const float *, int,
                          const float *, int, float, float *, int);
typedef void (*cblas64_t)(int, int, int, int64_t, int64_t, int64_t, float, const float *,
                          int64_t, const float *, int64_t, float, float *, int64_t);
typedef void (*blis_t)(int, int, int64_t, int64_t, int64_t, const float *, const float *,
                       int64_t, int64_t, const float *, int64_t, int64_t, const float *,
                       float *, int64_t, int64_t);

/* row-major C = op(A) op(B) */
static void gemm(void *fn, int kind, int ta, int tb, long m, long n, long k,
                 const float *A, long lda, const float *B, long ldb, float *C, long ldc)
{
    const float one = 1.0f, zero = 0.0f;
    if (kind == 2)
        ((cblas64_t)fn)(101, ta ? 112 : 111, tb ? 112 : 111, m, n, k, one, A, lda, B, ldb,
                        zero, C, ldc);
    else if (kind == 1)
        ((cblas32_t)fn)(101, ta ? 112 : 111, tb ? 112 : 111, (int)m, (int)n, (int)k, one, A,
                        (int)lda, B, (int)ldb, zero, C, (int)ldc);
    else
        ((blis_t)fn)(0, 0, m, n, k, &one, A, ta ? 1 : lda, ta ? lda : 1, B, tb ? 1 : ldb,
                     tb ? ldb : 1, &zero, C, ldc, 1);
}

void fnn_bench_gemms(void *fn, int kind, int ta, int tb, long m, long n, long k,
                     const float *A, long lda, const float *B, long ldb, float *C, long ldc,
                     long reps)
{
    for (long r = 0; r < reps; ++r)
        gemm(fn, kind, ta, tb, m, n, k, A, lda, B, ldb, C, ldc);
}

/* One epoch of the 784-256-128-10 network's GEMMs: per mini-batch 3
 * forward, 3 dW and 2 dA_prev products (none for the input layer), batches
 * of `batch` rows and one last batch of the rest.  With split_threads > 1,
 * each product is cut into that many blocks of rows (of C) on OpenMP
 * threads, the BLAS called single-threaded in each (the caller has set it
 * so); split_threads 0 calls the BLAS once per product, its own threads. */
typedef struct {
    float *W[3], *dW[3], *act[4], *grad[4];
} fnn_epoch_buffers;

static const long DIMS[4] = {784, 256, 128, 10};

void *fnn_bench_epoch_alloc(long batch)
{
    fnn_epoch_buffers *b = calloc(1, sizeof *b);
    unsigned s = 1;
    if (!b)
        return NULL;
    for (int l = 0; l < 3; ++l) {
        long size = DIMS[l] * DIMS[l + 1];
        b->W[l] = malloc(4 * size);
        b->dW[l] = malloc(4 * size);
        for (long i = 0; i < size; ++i) {
            s = s * 1103515245u + 12345u;
            b->W[l][i] = ((float)(s >> 8) / 16777216.0f - 0.5f) * 0.1f;
        }
    }
    for (int l = 0; l < 4; ++l) {
        b->act[l] = malloc(4 * batch * DIMS[l]);
        b->grad[l] = malloc(4 * batch * DIMS[l]);
        for (long i = 0; i < batch * DIMS[l]; ++i) {
            s = s * 1103515245u + 12345u;
            /* values of a network's size, never subnormal garbage */
            b->act[l][i] = (float)(s >> 8) / 16777216.0f / (float)DIMS[l];
            b->grad[l][i] = (float)(s >> 9) / 16777216.0f / (float)batch;
        }
    }
    return b;
}

static void blocks(long total, int nb, int blk, long *lo, long *hi)
{
    long base = total / nb, extra = total % nb;
    *lo = blk * base + (blk < extra ? blk : extra);
    *hi = *lo + base + (blk < extra ? 1 : 0);
}

static void epoch_step(void *fn, int kind, fnn_epoch_buffers *b, long m, int blk, int nb)
{
    long lo, hi;
    for (int l = 0; l < 3; ++l) {
        blocks(m, nb, blk, &lo, &hi);
        gemm(fn, kind, 0, 0, hi - lo, DIMS[l + 1], DIMS[l], b->act[l] + lo * DIMS[l], DIMS[l],
             b->W[l], DIMS[l + 1], b->act[l + 1] + lo * DIMS[l + 1], DIMS[l + 1]);
#pragma omp barrier
    }
    for (int l = 2; l >= 0; --l) {
        blocks(DIMS[l], nb, blk, &lo, &hi);
        gemm(fn, kind, 1, 0, hi - lo, DIMS[l + 1], m, b->act[l] + lo, DIMS[l],
             b->grad[l + 1], DIMS[l + 1], b->dW[l] + lo * DIMS[l + 1], DIMS[l + 1]);
        if (l) {
            blocks(m, nb, blk, &lo, &hi);
            gemm(fn, kind, 0, 1, hi - lo, DIMS[l], DIMS[l + 1], b->grad[l + 1] + lo * DIMS[l + 1],
                 DIMS[l + 1], b->W[l], DIMS[l + 1], b->grad[l] + lo * DIMS[l], DIMS[l]);
        }
#pragma omp barrier
    }
}

void fnn_bench_epoch(void *fn, int kind, void *buffers, long rows, long batch,
                     int split_threads)
{
    fnn_epoch_buffers *b = (fnn_epoch_buffers *)buffers;
    for (long start = 0; start < rows; start += batch) {
        const long m = rows - start < batch ? rows - start : batch;
        if (split_threads > 1) {
#ifdef _OPENMP
#pragma omp parallel num_threads(split_threads)
            epoch_step(fn, kind, b, m, omp_get_thread_num(), split_threads);
#endif
        } else {
            epoch_step(fn, kind, b, m, 0, 1);
        }
    }
}

/* Moves the bytes of a fused optimizer step, with one add per array, on the
 * same number of threads and the same contiguous split as csrc/optim.c:
 *   v and s given (Adam):      reads g, w, v, s; writes w, v, s
 *   only v given (momentum,
 *   RMSprop):                  reads g, w, v;    writes w, v */
void fnn_bench_stream(float *w, const float *g, float *v, float *s, ptrdiff_t n,
                      int n_threads)
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
