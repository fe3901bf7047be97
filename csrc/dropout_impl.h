/* Body of dropout.c, instantiated once per REAL (float, double) with suffix
 * SFX.  Not a header to include anywhere else. */

/* out = a * (keep ? scale : 0) with keep = u <= umax (forward: u given,
 * keep written to mask_out) or keep = mask_in != 0 (backward: u NULL).
 * Multiplying by 0 rather than selecting 0 lets a NaN or Inf in `a` show
 * through, as A * mask / keep_prob would.  Inlined at two call sites, one
 * with out == a, so the in-place case vectorises too (see batchnorm_impl.h).
 */
static inline void FNN_NAME(dropout_apply)(REAL *out, const REAL *a,
                                           const uint32_t *restrict u,
                                           uint32_t umax,
                                           const uint8_t *restrict mask_in,
                                           uint8_t *restrict mask_out,
                                           REAL scale, ptrdiff_t len)
{
    if (u) {
        for (ptrdiff_t e = 0; e < len; ++e) {
            const int keep = u[e] <= umax;
            mask_out[e] = (uint8_t)keep;
            out[e] = a[e] * (keep ? scale : (REAL)0);
        }
    } else {
        for (ptrdiff_t e = 0; e < len; ++e)
            out[e] = a[e] * (mask_in[e] ? scale : (REAL)0);
    }
}

static inline void FNN_NAME(dropout_apply_any)(REAL *out, const REAL *a,
                                               const uint32_t *u, uint32_t umax,
                                               const uint8_t *mask_in,
                                               uint8_t *mask_out, REAL scale,
                                               ptrdiff_t len)
{
    if (out == a)
        FNN_NAME(dropout_apply)(out, out, u, umax, mask_in, mask_out, scale, len);
    else
        FNN_NAME(dropout_apply)(out, a, u, umax, mask_in, mask_out, scale, len);
}

typedef struct {
    const REAL *A;
    REAL *A_out;
    uint8_t *mask_out;
    const uint8_t *mask_in;
    ptrdiff_t size;
    uint32_t umax;
    REAL scale;
    uint64_t key;
} FNN_NAME(dropout_job);

/* Forward, block `blk` of the 64-bit words (two elements each). */
static void FNN_NAME(dropout_forward_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(dropout_job) *j = (const FNN_NAME(dropout_job) *)job_;
    const ptrdiff_t n_words = (j->size + 1) / 2;
    ptrdiff_t lo, hi;
    uint32_t u[2 * FNN_DROPOUT_CHUNK];
    fnn_block_rows(n_words, nb, blk, &lo, &hi);
    for (ptrdiff_t w0 = lo; w0 < hi; w0 += FNN_DROPOUT_CHUNK) {
        const ptrdiff_t w1 = hi - w0 < FNN_DROPOUT_CHUNK ? hi : w0 + FNN_DROPOUT_CHUNK;
        /* Scalar 64-bit hashing into a small buffer, then a vectorisable
         * pass over the elements. */
        uint64_t state = j->key + (uint64_t)(w0 + 1) * FNN_GOLDEN_GAMMA;
        for (ptrdiff_t w = 0; w < w1 - w0; ++w, state += FNN_GOLDEN_GAMMA) {
            const uint64_t h = fnn_mix64(state);
            u[2 * w] = (uint32_t)h;
            u[2 * w + 1] = (uint32_t)(h >> 32);
        }
        const ptrdiff_t e0 = 2 * w0;
        const ptrdiff_t e1 = 2 * w1 < j->size ? 2 * w1 : j->size;
        FNN_NAME(dropout_apply_any)(j->A_out + e0, j->A + e0, u, j->umax, NULL,
                                    j->mask_out + e0, j->scale, e1 - e0);
    }
}

static int FNN_NAME(fnn_dropout_forward)(const fnn_exec *ex, const REAL *A, REAL *A_out,
                                         uint8_t *mask, ptrdiff_t size,
                                         double keep_prob, uint64_t seed)
{
    if (!(keep_prob > 0.0 && keep_prob <= 1.0))
        return FNN_EINVAL;
    FNN_NAME(dropout_job) j = {.A = A, .A_out = A_out, .mask_out = mask, .size = size,
                               .umax = fnn_dropout_umax(keep_prob),
                               .scale = (REAL)(1.0 / keep_prob), .key = fnn_mix64(seed)};
    fnn_parallel(ex, fnn_threads_for(size, ex->n_threads), FNN_NAME(dropout_forward_block),
                 &j);
    return FNN_OK;
}

static void FNN_NAME(dropout_backward_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(dropout_job) *j = (const FNN_NAME(dropout_job) *)job_;
    ptrdiff_t lo, hi;
    fnn_block_rows(j->size, nb, blk, &lo, &hi);
    FNN_NAME(dropout_apply_any)(j->A_out + lo, j->A + lo, NULL, 0, j->mask_in + lo, NULL,
                                j->scale, hi - lo);
}

static int FNN_NAME(fnn_dropout_backward)(const fnn_exec *ex, const REAL *dA,
                                          const uint8_t *mask, REAL *dA_prev,
                                          ptrdiff_t size, double keep_prob)
{
    if (!(keep_prob > 0.0 && keep_prob <= 1.0))
        return FNN_EINVAL;
    FNN_NAME(dropout_job) j = {.A = dA, .A_out = dA_prev, .mask_in = mask, .size = size,
                               .scale = (REAL)(1.0 / keep_prob)};
    fnn_parallel(ex, fnn_threads_for(size, ex->n_threads), FNN_NAME(dropout_backward_block),
                 &j);
    return FNN_OK;
}
