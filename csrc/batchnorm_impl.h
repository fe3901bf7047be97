/* Body of batchnorm.c, instantiated once per REAL (float, double) with suffix
 * SFX.  Not a header to include anywhere else. */
#define FNN_CAT_(a, b) a##_##b
#define FNN_CAT(a, b) FNN_CAT_(a, b)
#define FNN_NAME(base) FNN_CAT(base, SFX)

/* Rows [lo, hi) of Z into per-column double sums of d = z - k and d^2, k the
 * row 0 of Z.  Four rows per sweep of the columns so each accumulator is
 * loaded and stored once per four elements. */
static void FNN_NAME(bn_shifted_sums)(const REAL *Z, ptrdiff_t lo, ptrdiff_t hi,
                                      ptrdiff_t n, double *restrict s1,
                                      double *restrict s2)
{
    const REAL *k = Z;
    ptrdiff_t i = lo;
    for (ptrdiff_t j = 0; j < n; ++j)
        s1[j] = s2[j] = 0.0;
    for (; i + 4 <= hi; i += 4) {
        const REAL *r0 = Z + i * n, *r1 = r0 + n, *r2 = r1 + n, *r3 = r2 + n;
        for (ptrdiff_t j = 0; j < n; ++j) {
            const double kj = (double)k[j];
            const double d0 = (double)r0[j] - kj, d1 = (double)r1[j] - kj;
            const double d2 = (double)r2[j] - kj, d3 = (double)r3[j] - kj;
            s1[j] += (d0 + d1) + (d2 + d3);
            s2[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
        }
    }
    for (; i < hi; ++i) {
        const REAL *r0 = Z + i * n;
        for (ptrdiff_t j = 0; j < n; ++j) {
            const double d0 = (double)r0[j] - (double)k[j];
            s1[j] += d0;
            s2[j] += d0 * d0;
        }
    }
}

/* Rows [lo, hi) into per-column double sums of g and g * x (backward: g = dZt,
 * x = Zn), four rows per sweep as above. */
static void FNN_NAME(bn_grad_sums)(const REAL *G, const REAL *X, ptrdiff_t lo,
                                   ptrdiff_t hi, ptrdiff_t n,
                                   double *restrict s1, double *restrict s2)
{
    ptrdiff_t i = lo;
    for (ptrdiff_t j = 0; j < n; ++j)
        s1[j] = s2[j] = 0.0;
    for (; i + 4 <= hi; i += 4) {
        const REAL *g0 = G + i * n, *g1 = g0 + n, *g2 = g1 + n, *g3 = g2 + n;
        const REAL *x0 = X + i * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;
        for (ptrdiff_t j = 0; j < n; ++j) {
            const double a0 = (double)g0[j], a1 = (double)g1[j];
            const double a2 = (double)g2[j], a3 = (double)g3[j];
            s1[j] += (a0 + a1) + (a2 + a3);
            s2[j] += (a0 * (double)x0[j] + a1 * (double)x1[j])
                   + (a2 * (double)x2[j] + a3 * (double)x3[j]);
        }
    }
    for (; i < hi; ++i) {
        const REAL *g0 = G + i * n, *x0 = X + i * n;
        for (ptrdiff_t j = 0; j < n; ++j) {
            const double a0 = (double)g0[j];
            s1[j] += a0;
            s2[j] += a0 * (double)x0[j];
        }
    }
}

/* out = a * x + b * y + c per column over one row.  Inlined at two call sites
 * in the callers, one with out == x: there the compiler sees the exact alias
 * and vectorises the in-place case too, instead of failing a run-time overlap
 * check and falling back to scalar code. */
static inline void FNN_NAME(bn_affine_row)(REAL *out, const REAL *x,
                                           const REAL *restrict y,
                                           const REAL *restrict a,
                                           const REAL *restrict b,
                                           const REAL *restrict c, ptrdiff_t n)
{
    if (y)
        for (ptrdiff_t j = 0; j < n; ++j)
            out[j] = a[j] * x[j] + b[j] * y[j] + c[j];
    else
        for (ptrdiff_t j = 0; j < n; ++j)
            out[j] = a[j] * x[j] + c[j];
}

static inline void FNN_NAME(bn_affine_rows)(REAL *out, const REAL *x,
                                            const REAL *y, const REAL *a,
                                            const REAL *b, const REAL *c,
                                            ptrdiff_t lo, ptrdiff_t hi,
                                            ptrdiff_t n)
{
    for (ptrdiff_t i = lo; i < hi; ++i) {
        REAL *o = out + i * n;
        const REAL *yr = y ? y + i * n : NULL;
        if (o == x + i * n)
            FNN_NAME(bn_affine_row)(o, o, yr, a, b, c, n);
        else
            FNN_NAME(bn_affine_row)(o, x + i * n, yr, a, b, c, n);
    }
}

static int FNN_NAME(fnn_batchnorm_forward_train)(
    const REAL *Z, const REAL *gamma, const REAL *beta, REAL *Zt, REAL *Zn,
    REAL *mu, REAL *inv_std, REAL *rmean, REAL *rvar, ptrdiff_t m, ptrdiff_t n,
    double eps, double momentum, int n_threads)
{
    const int nb = fnn_threads_for(m * n, n_threads);
    if (m < 2)
        return FNN_EINVAL;
    /* per-block sums (2 n doubles each), then Zn's affine coefficients
     * scale = inv_std, shift = -mu * inv_std (REAL, n each) */
    double *part = (double *)malloc((size_t)nb * 2 * (size_t)n * sizeof(double)
                                    + 2 * (size_t)n * sizeof(REAL));
    if (!part)
        return FNN_ENOMEM;
    REAL *shift = (REAL *)(part + (size_t)nb * 2 * (size_t)n);
    const double inv_m = 1.0 / (double)m;
    const double unbias = (double)m / (double)(m - 1);

    /* One parallel region, three work-shared loops: the team starts once. */
    FNN_PRAGMA(omp parallel num_threads(nb) if(nb > 1))
    {
        FNN_PRAGMA(omp for schedule(static))
        for (int blk = 0; blk < nb; ++blk) {
            ptrdiff_t lo, hi;
            fnn_block_rows(m, nb, blk, &lo, &hi);
            double *s1 = part + (size_t)blk * 2 * (size_t)n;
            FNN_NAME(bn_shifted_sums)(Z, lo, hi, n, s1, s1 + n);
        }

        FNN_PRAGMA(omp for schedule(static))
        for (ptrdiff_t j = 0; j < n; ++j) {
            double s1 = 0.0, s2 = 0.0;
            for (int blk = 0; blk < nb; ++blk) {
                s1 += part[(size_t)blk * 2 * (size_t)n + j];
                s2 += part[(size_t)blk * 2 * (size_t)n + n + j];
            }
            /* Shifted by a data point k = z_0: (z_0 - mean)^2 <= (m - 1) var,
             * so the cancellation below costs at most log2(m) bits. */
            const double d = s1 * inv_m;
            double var = s2 * inv_m - d * d;
            if (var < 0.0)
                var = 0.0;
            const double mean = (double)Z[j] + d;
            const REAL mu_j = (REAL)mean;
            const REAL is_j = (REAL)(1.0 / sqrt(var + eps));
            mu[j] = mu_j;
            inv_std[j] = is_j;
            shift[j] = -mu_j * is_j;
            if (rmean) {
                rmean[j] = (REAL)(momentum * (double)rmean[j]
                                  + (1.0 - momentum) * mean);
                rvar[j] = (REAL)(momentum * (double)rvar[j]
                                 + (1.0 - momentum) * var * unbias);
            }
        }

        FNN_PRAGMA(omp for schedule(static))
        for (int blk = 0; blk < nb; ++blk) {
            ptrdiff_t lo, hi;
            fnn_block_rows(m, nb, blk, &lo, &hi);
            for (ptrdiff_t i = lo; i < hi; ++i) {
                REAL *zn = Zn + i * n;
                /* Zn first (it never aliases Z), Zt from Zn: Zt may be Z. */
                FNN_NAME(bn_affine_row)(zn, Z + i * n, NULL, inv_std, NULL,
                                        shift, n);
                FNN_NAME(bn_affine_row)(Zt + i * n, zn, NULL, gamma, NULL,
                                        beta, n);
            }
        }
    }
    free(part);
    return FNN_OK;
}

static int FNN_NAME(fnn_batchnorm_forward_eval)(
    const REAL *Z, const REAL *gamma, const REAL *beta, const REAL *rmean,
    const REAL *rvar, REAL *Zt, ptrdiff_t m, ptrdiff_t n, double eps,
    int n_threads)
{
    const int nb = fnn_threads_for(m * n, n_threads);
    /* The whole layer folds into one affine map per column. */
    REAL *scale = (REAL *)malloc(2 * (size_t)n * sizeof(REAL));
    if (!scale)
        return FNN_ENOMEM;
    REAL *shift = scale + n;
    for (ptrdiff_t j = 0; j < n; ++j) {
        const double s = (double)gamma[j] / sqrt((double)rvar[j] + eps);
        scale[j] = (REAL)s;
        shift[j] = (REAL)((double)beta[j] - (double)rmean[j] * s);
    }
    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        fnn_block_rows(m, nb, blk, &lo, &hi);
        FNN_NAME(bn_affine_rows)(Zt, Z, NULL, scale, NULL, shift, lo, hi, n);
    }
    free(scale);
    return FNN_OK;
}

static int FNN_NAME(fnn_batchnorm_backward)(
    const REAL *dZt, const REAL *Zn, const REAL *gamma, const REAL *inv_std,
    REAL *dZ, REAL *dgamma, REAL *dbeta, ptrdiff_t m, ptrdiff_t n,
    int n_threads)
{
    const int nb = fnn_threads_for(m * n, n_threads);
    /* per-block sums, then dZ = a * dZt + b * Zn + c with per-column
     * a = gamma * inv_std, b = -a * dgamma / m, c = -a * dbeta / m */
    double *part = (double *)malloc((size_t)nb * 2 * (size_t)n * sizeof(double)
                                    + 3 * (size_t)n * sizeof(REAL));
    if (!part)
        return FNN_ENOMEM;
    REAL *ca = (REAL *)(part + (size_t)nb * 2 * (size_t)n);
    REAL *cb = ca + n, *cc = cb + n;
    const double inv_m = 1.0 / (double)m;

    FNN_PRAGMA(omp parallel num_threads(nb) if(nb > 1))
    {
        FNN_PRAGMA(omp for schedule(static))
        for (int blk = 0; blk < nb; ++blk) {
            ptrdiff_t lo, hi;
            fnn_block_rows(m, nb, blk, &lo, &hi);
            double *s1 = part + (size_t)blk * 2 * (size_t)n;
            FNN_NAME(bn_grad_sums)(dZt, Zn, lo, hi, n, s1, s1 + n);
        }

        FNN_PRAGMA(omp for schedule(static))
        for (ptrdiff_t j = 0; j < n; ++j) {
            double db = 0.0, dg = 0.0;
            for (int blk = 0; blk < nb; ++blk) {
                db += part[(size_t)blk * 2 * (size_t)n + j];
                dg += part[(size_t)blk * 2 * (size_t)n + n + j];
            }
            const double a = (double)gamma[j] * (double)inv_std[j];
            dbeta[j] = (REAL)db;
            dgamma[j] = (REAL)dg;
            ca[j] = (REAL)a;
            cb[j] = (REAL)(-a * dg * inv_m);
            cc[j] = (REAL)(-a * db * inv_m);
        }

        FNN_PRAGMA(omp for schedule(static))
        for (int blk = 0; blk < nb; ++blk) {
            ptrdiff_t lo, hi;
            fnn_block_rows(m, nb, blk, &lo, &hi);
            FNN_NAME(bn_affine_rows)(dZ, dZt, Zn, ca, cb, cc, lo, hi, n);
        }
    }
    free(part);
    return FNN_OK;
}

#undef FNN_NAME
#undef FNN_CAT
#undef FNN_CAT_
