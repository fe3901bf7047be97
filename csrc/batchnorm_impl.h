/* Body of batchnorm.c, instantiated once per REAL (float, double) with suffix
 * SFX.  Not a header to include anywhere else. */

/* Column sums over rows [lo, hi), per column j, of
 *   FNN_BN_SUM:   x                       into s1,
 *   FNN_BN_SQDEV: (x - c_j)^2             into s1,
 *   FNN_BN_GRAD:  y and y * (x - c_j)     into s1 and s2 (y = dZt, x = Z).
 * Rows go four at a time: their terms are added in REAL (vector-wide for
 * float) and the four-row total into the double accumulator, so double work
 * and accumulator traffic happen once per four rows.  A short last group is
 * padded with rows whose terms are zero: x = c (or 0 for FNN_BN_SUM), y = 0.
 * Called with a constant kind, so each call site compiles to one loop. */
static inline void FNN_NAME(bn_column_sums)(int kind, const REAL *X,
                                            const REAL *Y,
                                            const REAL *restrict c,
                                            const REAL *restrict zero,
                                            ptrdiff_t lo, ptrdiff_t hi,
                                            ptrdiff_t n, double *restrict s1,
                                            double *restrict s2)
{
    const REAL *xpad = kind == FNN_BN_SUM ? zero : c;
    for (ptrdiff_t j = 0; j < n; ++j) {
        s1[j] = 0.0;
        if (s2)
            s2[j] = 0.0;
    }
    for (ptrdiff_t i = lo; i < hi; i += 4) {
        const REAL *x0 = X + i * n;
        const REAL *x1 = i + 1 < hi ? x0 + n : xpad;
        const REAL *x2 = i + 2 < hi ? x0 + 2 * n : xpad;
        const REAL *x3 = i + 3 < hi ? x0 + 3 * n : xpad;
        if (kind == FNN_BN_SUM) {
            for (ptrdiff_t j = 0; j < n; ++j)
                s1[j] += (double)((x0[j] + x1[j]) + (x2[j] + x3[j]));
        } else if (kind == FNN_BN_SQDEV) {
            for (ptrdiff_t j = 0; j < n; ++j) {
                const REAL d0 = x0[j] - c[j], d1 = x1[j] - c[j];
                const REAL d2 = x2[j] - c[j], d3 = x3[j] - c[j];
                s1[j] += (double)((d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3));
            }
        } else {
            const REAL *y0 = Y + i * n;
            const REAL *y1 = i + 1 < hi ? y0 + n : zero;
            const REAL *y2 = i + 2 < hi ? y0 + 2 * n : zero;
            const REAL *y3 = i + 3 < hi ? y0 + 3 * n : zero;
            for (ptrdiff_t j = 0; j < n; ++j) {
                s1[j] += (double)((y0[j] + y1[j]) + (y2[j] + y3[j]));
                s2[j] += (double)((y0[j] * (x0[j] - c[j]) + y1[j] * (x1[j] - c[j]))
                                  + (y2[j] * (x2[j] - c[j]) + y3[j] * (x3[j] - c[j])));
            }
        }
    }
}

/* Sum of column j's block partials, in block order. */
static inline double FNN_NAME(bn_combine)(const double *part, int nb,
                                          ptrdiff_t stride, ptrdiff_t j)
{
    double s = 0.0;
    for (int blk = 0; blk < nb; ++blk)
        s += part[(size_t)blk * (size_t)stride + j];
    return s;
}

/* Per-column coefficients of the output sweeps:
 *   out = (x - mu) * s + c  [+ a * y]. */
typedef struct {
    const REAL *mu, *s, *c, *a;
} FNN_NAME(bn_coef);

/* The sweep over four rows at once, so each coefficient is loaded once per
 * four rows; outputs are restrict, hence never one of the inputs. */
static inline void FNN_NAME(bn_affine4)(REAL *restrict o0, REAL *restrict o1,
                                        REAL *restrict o2, REAL *restrict o3,
                                        const REAL *x0, const REAL *x1,
                                        const REAL *x2, const REAL *x3,
                                        const REAL *y0, const REAL *y1,
                                        const REAL *y2, const REAL *y3,
                                        FNN_NAME(bn_coef) k, ptrdiff_t n)
{
    if (y0) {
        for (ptrdiff_t j = 0; j < n; ++j) {
            const REAL mu = k.mu[j], s = k.s[j], c = k.c[j], a = k.a[j];
            o0[j] = (x0[j] - mu) * s + c + a * y0[j];
            o1[j] = (x1[j] - mu) * s + c + a * y1[j];
            o2[j] = (x2[j] - mu) * s + c + a * y2[j];
            o3[j] = (x3[j] - mu) * s + c + a * y3[j];
        }
    } else {
        for (ptrdiff_t j = 0; j < n; ++j) {
            const REAL mu = k.mu[j], s = k.s[j], c = k.c[j];
            o0[j] = (x0[j] - mu) * s + c;
            o1[j] = (x1[j] - mu) * s + c;
            o2[j] = (x2[j] - mu) * s + c;
            o3[j] = (x3[j] - mu) * s + c;
        }
    }
}

/* One row in place: out is x itself, or y itself (the backward's dZ over
 * dZt); the single pointer lets the compiler see the exact alias. */
static inline void FNN_NAME(bn_affine_inplace)(REAL *o, const REAL *x,
                                               const REAL *y, int over_y,
                                               FNN_NAME(bn_coef) k, ptrdiff_t n)
{
    if (!y)
        for (ptrdiff_t j = 0; j < n; ++j)
            o[j] = (o[j] - k.mu[j]) * k.s[j] + k.c[j];
    else if (over_y)
        for (ptrdiff_t j = 0; j < n; ++j)
            o[j] = (x[j] - k.mu[j]) * k.s[j] + k.c[j] + k.a[j] * o[j];
    else
        for (ptrdiff_t j = 0; j < n; ++j)
            o[j] = (o[j] - k.mu[j]) * k.s[j] + k.c[j] + k.a[j] * y[j];
}

/* The output sweep over rows [lo, hi): out = (x - mu) * s + c [+ a * y].
 * out is x, y, or overlaps neither.  `pad` holds 3 scratch rows written by a
 * short last group (whose inputs then read the first row again). */
static inline void FNN_NAME(bn_affine_rows)(REAL *out, const REAL *x,
                                            const REAL *y, FNN_NAME(bn_coef) k,
                                            REAL *pad, ptrdiff_t lo,
                                            ptrdiff_t hi, ptrdiff_t n)
{
    if (out == x || (y && out == y)) {
        for (ptrdiff_t i = lo; i < hi; ++i)
            FNN_NAME(bn_affine_inplace)(out + i * n, x + i * n,
                                        y ? y + i * n : NULL, out == y, k, n);
        return;
    }
    for (ptrdiff_t i = lo; i < hi; i += 4) {
        const ptrdiff_t r1 = i + 1 < hi ? 1 : 0, r2 = i + 2 < hi ? 2 : 0;
        const ptrdiff_t r3 = i + 3 < hi ? 3 : 0;
        REAL *o = out + i * n;
        const REAL *xr = x + i * n, *yr = y ? y + i * n : NULL;
        FNN_NAME(bn_affine4)(o, r1 ? o + n : pad, r2 ? o + 2 * n : pad + n,
                             r3 ? o + 3 * n : pad + 2 * n, xr, xr + r1 * n,
                             xr + r2 * n, xr + r3 * n, yr,
                             yr ? yr + r1 * n : NULL, yr ? yr + r2 * n : NULL,
                             yr ? yr + r3 * n : NULL, k, n);
    }
}

/* One batch-norm call: its arrays, the per-block partial sums, and what the
 * sweeps of each pass need. */
typedef struct {
    int kind;                   /* the bn_column_sums kind of the sums pass */
    const REAL *X, *Y, *c;      /* bn_column_sums' inputs */
    const REAL *zero;
    double *part;               /* one stride of partials per block */
    ptrdiff_t stride;
    REAL *out;                  /* the affine sweep: out = (x - mu) s + c [+ a y] */
    FNN_NAME(bn_coef) k;
    REAL *scratch;              /* 3 rows per block */
    ptrdiff_t m, n;
} FNN_NAME(bn_job);

static void FNN_NAME(bn_sums_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(bn_job) *j = (const FNN_NAME(bn_job) *)job_;
    ptrdiff_t lo, hi;
    double *s1 = j->part + (size_t)blk * (size_t)j->stride;
    fnn_block_rows(j->m, nb, blk, &lo, &hi);
    FNN_NAME(bn_column_sums)(j->kind, j->X, j->Y, j->c, j->zero, lo, hi, j->n, s1,
                             j->kind == FNN_BN_GRAD ? s1 + j->n : NULL);
}

static void FNN_NAME(bn_affine_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(bn_job) *j = (const FNN_NAME(bn_job) *)job_;
    ptrdiff_t lo, hi;
    fnn_block_rows(j->m, nb, blk, &lo, &hi);
    FNN_NAME(bn_affine_rows)(j->out, j->X, j->Y, j->k, j->scratch + (size_t)blk * 3 * j->n,
                             lo, hi, j->n);
}

static int FNN_NAME(fnn_batchnorm_forward_train)(
    const fnn_exec *ex, const REAL *Z, const REAL *gamma, const REAL *beta, REAL *Zt,
    REAL *mu, REAL *inv_std, REAL *rmean, REAL *rvar, ptrdiff_t m, ptrdiff_t n,
    double eps, double momentum)
{
    if (m < 2)
        return FNN_EINVAL;
    const int nb = fnn_threads_for(m * n, ex->n_threads);
    /* per-block partial sums (n doubles each), the double means, then REAL
     * rows: zeros, gamma * inv_std, and 3 scratch rows per block */
    double *part = (double *)malloc(((size_t)nb + 1) * (size_t)n * sizeof(double)
                                    + (2 + 3 * (size_t)nb) * (size_t)n * sizeof(REAL));
    if (!part)
        return FNN_ENOMEM;
    double *mean = part + (size_t)nb * (size_t)n;
    REAL *zero = (REAL *)(mean + n);
    REAL *scale = zero + n;
    REAL *scratch = scale + n;
    const double inv_m = 1.0 / (double)m;
    const double unbias = (double)m / (double)(m - 1);
    for (ptrdiff_t j = 0; j < n; ++j)
        zero[j] = 0;
    FNN_NAME(bn_job) job = {.kind = FNN_BN_SUM, .X = Z, .zero = zero, .part = part,
                            .stride = n, .out = Zt, .k = {mu, scale, beta, NULL},
                            .scratch = scratch, .m = m, .n = n};

    /* Three passes over the blocks; the per-column steps between them, O(n
     * nb), run on the caller. */
    fnn_parallel(ex, nb, FNN_NAME(bn_sums_block), &job);
    for (ptrdiff_t j = 0; j < n; ++j) {
        mean[j] = FNN_NAME(bn_combine)(part, nb, n, j) * inv_m;
        mu[j] = (REAL)mean[j];
    }

    /* Squares of the deviations from mu itself (the textbook two-pass
     * variance): no cancellation to lose digits to. */
    job.kind = FNN_BN_SQDEV;
    job.c = mu;
    fnn_parallel(ex, nb, FNN_NAME(bn_sums_block), &job);
    for (ptrdiff_t j = 0; j < n; ++j) {
        /* sum (z - mu)^2 = m var + m (mean - mu)^2: mu is mean rounded */
        const double off = mean[j] - (double)mu[j];
        double var = FNN_NAME(bn_combine)(part, nb, n, j) * inv_m - off * off;
        if (var < 0.0)
            var = 0.0;
        const double is = 1.0 / sqrt(var + eps);
        inv_std[j] = (REAL)is;
        scale[j] = (REAL)((double)gamma[j] * is);
        if (rmean) {
            rmean[j] = (REAL)(momentum * (double)rmean[j] + (1.0 - momentum) * mean[j]);
            rvar[j] = (REAL)(momentum * (double)rvar[j] + (1.0 - momentum) * var * unbias);
        }
    }

    fnn_parallel(ex, nb, FNN_NAME(bn_affine_block), &job);
    free(part);
    return FNN_OK;
}

static int FNN_NAME(fnn_batchnorm_forward_eval)(
    const fnn_exec *ex, const REAL *Z, const REAL *gamma, const REAL *beta,
    const REAL *rmean, const REAL *rvar, REAL *Zt, ptrdiff_t m, ptrdiff_t n, double eps)
{
    const int nb = fnn_threads_for(m * n, ex->n_threads);
    /* gamma / sqrt(running_var + eps), then 3 scratch rows per block */
    REAL *scale = (REAL *)malloc((1 + 3 * (size_t)nb) * (size_t)n * sizeof(REAL));
    if (!scale)
        return FNN_ENOMEM;
    for (ptrdiff_t j = 0; j < n; ++j)
        scale[j] = (REAL)((double)gamma[j] / sqrt((double)rvar[j] + eps));
    FNN_NAME(bn_job) job = {.X = Z, .out = Zt, .k = {rmean, scale, beta, NULL},
                            .scratch = scale + n, .m = m, .n = n};
    fnn_parallel(ex, nb, FNN_NAME(bn_affine_block), &job);
    free(scale);
    return FNN_OK;
}

static int FNN_NAME(fnn_batchnorm_backward)(
    const fnn_exec *ex, const REAL *dZt, const REAL *Z, const REAL *gamma, const REAL *mu,
    const REAL *inv_std, REAL *dZ, REAL *dgamma, REAL *dbeta, ptrdiff_t m, ptrdiff_t n)
{
    const int nb = fnn_threads_for(m * n, ex->n_threads);
    /* per-block partial sums (2 n doubles each), then REAL rows: zeros, the
     * coefficients of dZ = a dZt + (Z - mu) s + c with a = gamma inv_std,
     * s = -a inv_std dgamma / m, c = -a dbeta / m, and 3 scratch rows per
     * block */
    double *part = (double *)malloc((size_t)nb * 2 * (size_t)n * sizeof(double)
                                    + (4 + 3 * (size_t)nb) * (size_t)n * sizeof(REAL));
    if (!part)
        return FNN_ENOMEM;
    REAL *zero = (REAL *)(part + (size_t)nb * 2 * (size_t)n);
    REAL *ca = zero + n, *cs = ca + n, *cc = cs + n, *scratch = cc + n;
    const double inv_m = 1.0 / (double)m;
    for (ptrdiff_t j = 0; j < n; ++j)
        zero[j] = 0;
    FNN_NAME(bn_job) job = {.kind = FNN_BN_GRAD, .X = Z, .Y = dZt, .c = mu, .zero = zero,
                            .part = part, .stride = 2 * n, .out = dZ, .k = {mu, cs, cc, ca},
                            .scratch = scratch, .m = m, .n = n};

    fnn_parallel(ex, nb, FNN_NAME(bn_sums_block), &job);
    for (ptrdiff_t j = 0; j < n; ++j) {
        const double is = (double)inv_std[j];
        const double db = FNN_NAME(bn_combine)(part, nb, 2 * n, j);
        /* sum dZt * z_norm, z_norm = (z - mu) * inv_std */
        const double dg = FNN_NAME(bn_combine)(part + n, nb, 2 * n, j) * is;
        const double a = (double)gamma[j] * is;
        dbeta[j] = (REAL)db;
        dgamma[j] = (REAL)dg;
        ca[j] = (REAL)a;
        cs[j] = (REAL)(-a * is * dg * inv_m);
        cc[j] = (REAL)(-a * db * inv_m);
    }
    fnn_parallel(ex, nb, FNN_NAME(bn_affine_block), &job);
    free(part);
    return FNN_OK;
}
