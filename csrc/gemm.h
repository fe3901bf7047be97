/* GEMM through the BLAS library fastnn chose at import (fastnn/_blas.py):
 * a CBLAS sgemm/dgemm found in a loaded library, called through pointers.
 *
 * Every matrix is row-major; C = alpha op(A) op(B) + beta C with op(X) = X
 * or X^T, as cblas_?gemm(CblasRowMajor, ...).  When fastnn can hold the BLAS
 * to one thread (fnn_blas.sequential; blas.c holds it for the duration of a
 * fastnn call), its kernels cut a GEMM into row or column blocks run by the
 * pool; otherwise a GEMM stays whole, on the calling thread and the BLAS's
 * own threads.
 */
#ifndef FASTNN_GEMM_H
#define FASTNN_GEMM_H

#include <limits.h>
#include <stdint.h>
#include "common.h"

/* How the pointers are called: the integer width of the CBLAS interface. */
enum fnn_blas_kind {
    FNN_BLAS_NONE = 0,          /* no GEMM: the kernels that need one refuse */
    FNN_BLAS_CBLAS_LP64 = 1,    /* int arguments (32-bit) */
    FNN_BLAS_CBLAS_ILP64 = 2    /* int64_t arguments (NumPy's OpenBLAS) */
};

typedef struct fnn_blas {
    int kind;
    void *sgemm, *dgemm;        /* cblas_sgemm and cblas_dgemm, or NULL */
    int sequential;             /* 1: fastnn holds it to one thread (blas.h),
                                   so GEMMs may run in several pool threads */
    long column_cut_bytes;      /* size of B from which a product with fewer
                                   rows than columns is cut by columns
                                   (dense_impl.h, cut_columns) */
} fnn_blas;

/* fnn_gemm_blocks' thresholds (dense.h has the measurement). */
#define FNN_GEMM_PARALLEL_MIN (1 << 18)
#define FNN_GEMM_MIN_ROWS 8

enum { FNN_CBLAS_ROW_MAJOR = 101, FNN_CBLAS_NO_TRANS = 111, FNN_CBLAS_TRANS = 112 };

/* fnn_gemm_f32 and fnn_gemm_f64.  Return FNN_OK, or FNN_EINVAL when there is
 * no GEMM or a dimension does not fit the interface's int (an LP64 BLAS
 * takes at most 2^31 - 1 per dimension).  More rows than that are done in
 * slices, which changes nothing in a row-major product; with op(A) = A^T
 * that many rows means a leading dimension as large, refused before. */
#define FNN_DEFINE_GEMM(REAL_, SFX_, FIELD_)                                          \
    typedef void (*fnn_gemm32_##SFX_)(int, int, int, int, int, int, REAL_, const REAL_ *, \
                                      int, const REAL_ *, int, REAL_, REAL_ *, int);  \
    typedef void (*fnn_gemm64_##SFX_)(int, int, int, int64_t, int64_t, int64_t, REAL_,  \
                                      const REAL_ *, int64_t, const REAL_ *, int64_t, \
                                      REAL_, REAL_ *, int64_t);                       \
    static inline int fnn_gemm_##SFX_(const fnn_blas *bl, int ta, int tb, ptrdiff_t m, \
                                      ptrdiff_t n, ptrdiff_t k, REAL_ alpha,          \
                                      const REAL_ *A, ptrdiff_t lda, const REAL_ *B,  \
                                      ptrdiff_t ldb, REAL_ beta, REAL_ *C,            \
                                      ptrdiff_t ldc)                                  \
    {                                                                                 \
        const int oa = ta ? FNN_CBLAS_TRANS : FNN_CBLAS_NO_TRANS;                     \
        const int ob = tb ? FNN_CBLAS_TRANS : FNN_CBLAS_NO_TRANS;                     \
        if (m <= 0 || n <= 0)                                                         \
            return FNN_OK;                                                            \
        if (!bl || !bl->FIELD_)                                                       \
            return FNN_EINVAL;                                                        \
        if (bl->kind == FNN_BLAS_CBLAS_ILP64) {                                       \
            ((fnn_gemm64_##SFX_)bl->FIELD_)(FNN_CBLAS_ROW_MAJOR, oa, ob, m, n, k,     \
                                            alpha, A, lda, B, ldb, beta, C, ldc);     \
            return FNN_OK;                                                            \
        }                                                                             \
        if (bl->kind != FNN_BLAS_CBLAS_LP64 || n > INT_MAX || k > INT_MAX            \
            || lda > INT_MAX || ldb > INT_MAX || ldc > INT_MAX)                       \
            return FNN_EINVAL;                                                        \
        for (ptrdiff_t r = 0; r < m; r += INT_MAX) {                                  \
            const ptrdiff_t rows = m - r < INT_MAX ? m - r : INT_MAX;                 \
            ((fnn_gemm32_##SFX_)bl->FIELD_)(FNN_CBLAS_ROW_MAJOR, oa, ob, (int)rows,   \
                                            (int)n, (int)k, alpha,                    \
                                            ta ? A + r : A + r * lda, (int)lda, B,    \
                                            (int)ldb, beta, C + r * ldc, (int)ldc);   \
        }                                                                             \
        return FNN_OK;                                                                \
    }

FNN_DEFINE_GEMM(float, f32, sgemm)
FNN_DEFINE_GEMM(double, f64, dgemm)
#undef FNN_DEFINE_GEMM

/* FNN_OK when every GEMM of element type `dtype` whose column counts and
 * leading dimensions are at most `cols` can be made (checked before any
 * work, so the blocks of a kernel need not). */
static inline int fnn_gemm_check(const fnn_blas *bl, int dtype, ptrdiff_t cols)
{
    if (!bl || !(dtype == FNN_FLOAT64 ? bl->dgemm : bl->sgemm))
        return FNN_EINVAL;
    if (bl->kind == FNN_BLAS_CBLAS_ILP64)
        return FNN_OK;
    return bl->kind == FNN_BLAS_CBLAS_LP64 && cols <= INT_MAX ? FNN_OK : FNN_EINVAL;
}

/* Blocks a GEMM-bearing pass is cut into: one per thread when the product
 * has at least FNN_GEMM_PARALLEL_MIN multiply-adds and the BLAS can be held
 * to one thread, with at least FNN_GEMM_MIN_ROWS rows (of the dimension
 * cut) per block; otherwise 1 (the caller's thread, and a BLAS that cannot
 * be held to one thread may use its own).  The threshold: see dense.h. */
static inline int fnn_gemm_blocks(const fnn_exec *ex, ptrdiff_t rows, double macs)
{
    if (ex->n_threads < 2 || !ex->blas || !ex->blas->sequential
        || macs < (double)FNN_GEMM_PARALLEL_MIN || rows < 2 * FNN_GEMM_MIN_ROWS)
        return 1;
    ptrdiff_t nb = rows / FNN_GEMM_MIN_ROWS;
    if (nb > ex->n_threads)
        nb = ex->n_threads;
    return nb > FNN_MAX_BLOCKS ? FNN_MAX_BLOCKS : (int)nb;
}

#endif
