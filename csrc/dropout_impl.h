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

static int FNN_NAME(fnn_dropout_forward)(const REAL *A, REAL *A_out,
                                         uint8_t *mask, ptrdiff_t size,
                                         double keep_prob, uint64_t seed,
                                         int n_threads)
{
    if (!(keep_prob > 0.0 && keep_prob <= 1.0))
        return FNN_EINVAL;
    const int nb = fnn_threads_for(size, n_threads);
    const ptrdiff_t n_words = (size + 1) / 2;
    const uint32_t umax = fnn_dropout_umax(keep_prob);
    const REAL scale = (REAL)(1.0 / keep_prob);
    const uint64_t key = fnn_mix64(seed);

    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        uint32_t u[2 * FNN_DROPOUT_CHUNK];
        fnn_block_rows(n_words, nb, blk, &lo, &hi);
        for (ptrdiff_t w0 = lo; w0 < hi; w0 += FNN_DROPOUT_CHUNK) {
            const ptrdiff_t w1 = hi - w0 < FNN_DROPOUT_CHUNK ? hi : w0 + FNN_DROPOUT_CHUNK;
            /* Scalar 64-bit hashing into a small buffer, then a vectorisable
             * pass over the elements. */
            uint64_t state = key + (uint64_t)(w0 + 1) * FNN_GOLDEN_GAMMA;
            for (ptrdiff_t w = 0; w < w1 - w0; ++w, state += FNN_GOLDEN_GAMMA) {
                const uint64_t h = fnn_mix64(state);
                u[2 * w] = (uint32_t)h;
                u[2 * w + 1] = (uint32_t)(h >> 32);
            }
            const ptrdiff_t e0 = 2 * w0;
            const ptrdiff_t e1 = 2 * w1 < size ? 2 * w1 : size;
            FNN_NAME(dropout_apply_any)(A_out + e0, A + e0, u, umax, NULL,
                                        mask + e0, scale, e1 - e0);
        }
    }
    return FNN_OK;
}

static int FNN_NAME(fnn_dropout_backward)(const REAL *dA, const uint8_t *mask,
                                          REAL *dA_prev, ptrdiff_t size,
                                          double keep_prob, int n_threads)
{
    if (!(keep_prob > 0.0 && keep_prob <= 1.0))
        return FNN_EINVAL;
    const int nb = fnn_threads_for(size, n_threads);
    const REAL scale = (REAL)(1.0 / keep_prob);

    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        fnn_block_rows(size, nb, blk, &lo, &hi);
        FNN_NAME(dropout_apply_any)(dA_prev + lo, dA + lo, NULL, 0, mask + lo,
                                    NULL, scale, hi - lo);
    }
    return FNN_OK;
}

