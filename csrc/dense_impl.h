/* Body of dense.c, instantiated once per REAL (float, double) with suffix SFX.
 * Not a header to include anywhere else. */

static inline REAL FNN_NAME(sigmoid)(REAL z)
{
    /* exp of a non-positive number never overflows; both halves of the
     * logistic function come from it, joined by a select, not a branch (a
     * branch on the sign of random data is mispredicted half the time). */
    const REAL e = exp(-fabs(z));
    const REAL s = (REAL)1 / ((REAL)1 + e);
    return z >= 0 ? s : e * s;
}

/* Row softmax of z (length n) into out (may alias z); returns nothing. */
static inline void FNN_NAME(softmax_row)(const REAL *z, REAL *out, ptrdiff_t n)
{
    REAL mx = z[0];
    for (ptrdiff_t j = 1; j < n; ++j)
        mx = z[j] > mx ? z[j] : mx;
    double s = 0.0;
    for (ptrdiff_t j = 0; j < n; ++j) {
        REAL e = exp(z[j] - mx);
        out[j] = e;
        s += e;
    }
    REAL inv = (REAL)(1.0 / s);
    for (ptrdiff_t j = 0; j < n; ++j)
        out[j] *= inv;
}

/* z = Z + b is stored back into Z (a no-op store when A is Z) and A = g(z). */
#define FNN_FORWARD_ROW(G)                                                \
    do {                                                                  \
        if (b) {                                                          \
            for (ptrdiff_t j = 0; j < n; ++j) {                           \
                REAL z = zr[j] + b[j];                                    \
                zr[j] = z;                                                \
                ar[j] = (G);                                              \
            }                                                             \
        } else {                                                          \
            for (ptrdiff_t j = 0; j < n; ++j) {                           \
                REAL z = zr[j];                                           \
                ar[j] = (G);                                              \
            }                                                             \
        }                                                                 \
    } while (0)

/* Rows [lo, hi) of the columns [c0, c0 + n) of (?, ld) matrices: z = Z + b
 * is stored back into Z (a no-op store when A is Z) and A = g(z).  Softmax
 * takes whole rows (c0 = 0, n = ld). */
static void FNN_NAME(forward_rows)(REAL *Z, const REAL *bias, REAL *A, ptrdiff_t lo,
                                   ptrdiff_t hi, ptrdiff_t ld, ptrdiff_t c0, ptrdiff_t n,
                                   int activation, REAL a)
{
    const REAL *b = bias ? bias + c0 : NULL;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        REAL *zr = Z + i * ld + c0;
        REAL *ar = A + i * ld + c0;
        switch (activation) {
        case FNN_LINEAR:
            FNN_FORWARD_ROW(z);
            break;
        case FNN_RELU:
            FNN_FORWARD_ROW(z < 0 ? (REAL)0 : z);   /* NaN passes through */
            break;
        case FNN_LEAKY_RELU:
            /* max(z, 0) + a min(z, 0): two min/max selects, no branch on
             * the sign (z < 0 ? a z : z compiled to a mispredicted branch) */
            FNN_FORWARD_ROW((z < 0 ? (REAL)0 : z) + a * (z < 0 ? z : (REAL)0));   /* NaN passes */
            break;
        case FNN_TANH:
            FNN_FORWARD_ROW(tanh(z));
            break;
        case FNN_SIGMOID:
            FNN_FORWARD_ROW(FNN_NAME(sigmoid)(z));
            break;
        case FNN_SOFTMAX:
            if (b)
                for (ptrdiff_t j = 0; j < n; ++j)
                    zr[j] += b[j];
            FNN_NAME(softmax_row)(zr, ar, n);
            break;
        }
    }
}

/* Which dimension of a GEMM's output C = A B (rows x cols) the pool's blocks
 * cut.  Each block reads all of the operand along the other dimension:
 * cutting C's rows makes every thread read (and pack) all of B, cutting its
 * columns all of A.  So a product with fewer rows than columns is cut by
 * columns once B is large enough for that to matter to the BLAS: from
 * bl->column_cut_bytes (256 KiB for OpenBLAS, which packs B whatever its
 * size; 2 MiB for MKL, which multiplies small blocks without packing).
 * Measured on 2 threads (bench/README.md): 64 x 1024 -> 1024 with MKL,
 * rows 1.32x the BLAS's own threaded GEMM, columns 1.13x; 64 x 256 -> 128,
 * rows 0.82x, columns 1.4x. */
static inline int FNN_NAME(cut_columns)(const fnn_blas *bl, ptrdiff_t rows, ptrdiff_t cols,
                                        double b_elements)
{
    return rows < cols && b_elements * sizeof(REAL) >= (double)bl->column_cut_bytes;
}

/* One dense forward: for each block, the GEMM of its rows (or columns) and
 * then the bias and activation of the same elements, still in cache. */
typedef struct {
    const fnn_blas *bl;
    const REAL *A_prev, *W, *b;
    REAL *Z, *A;
    ptrdiff_t m, k, n;
    int activation, by_columns;
    REAL slope;
} FNN_NAME(forward_job);

static void FNN_NAME(forward_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(forward_job) *j = (const FNN_NAME(forward_job) *)job_;
    REAL *T = j->Z ? j->Z : j->A;      /* where the GEMM writes */
    ptrdiff_t lo, hi, c0, c1;
    fnn_block_cut(j->m, j->n, j->by_columns, nb, blk, &lo, &hi, &c0, &c1);
    if (j->A_prev)
        FNN_CAT(fnn_gemm, SFX)(j->bl, 0, 0, hi - lo, c1 - c0, j->k, (REAL)1,
                               j->A_prev + lo * j->k, j->k, j->W + c0, j->n, (REAL)0,
                               T + lo * j->n + c0, j->n);
    FNN_NAME(forward_rows)(T, j->b, j->A, lo, hi, j->n, c0, c1 - c0, j->activation,
                           j->slope);
}

static int FNN_NAME(fnn_dense_forward)(const fnn_exec *ex, const REAL *A_prev,
                                       const REAL *W, const REAL *b, REAL *Z, REAL *A,
                                       ptrdiff_t m, ptrdiff_t k, ptrdiff_t n,
                                       int activation, double slope)
{
    FNN_NAME(forward_job) j = {.bl = ex->blas, .A_prev = A_prev, .W = W, .b = b, .Z = Z,
                               .A = A, .m = m, .k = k, .n = n, .activation = activation,
                               .slope = (REAL)slope};
    int nb;
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;
    if (A_prev) {
        if (fnn_gemm_check(ex->blas, SFX_DTYPE, k > n ? k : n) != FNN_OK)
            return FNN_EINVAL;
        /* softmax needs whole rows */
        j.by_columns = activation != FNN_SOFTMAX && FNN_NAME(cut_columns)(ex->blas, m, n, (double)k * n);
        nb = fnn_gemm_blocks(ex, j.by_columns ? n : m, (double)m * (double)k * (double)n);
    } else {
        nb = fnn_threads_for(m * n, ex->n_threads);
    }
    fnn_parallel(ex, nb, FNN_NAME(forward_block), &j);
    return FNN_OK;
}

/* The activation alone, elementwise over blocks of rows. */
static void FNN_NAME(activation_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(forward_job) *j = (const FNN_NAME(forward_job) *)job_;
    ptrdiff_t lo, hi;
    fnn_block_rows(j->m, nb, blk, &lo, &hi);
    FNN_NAME(forward_rows)(j->Z, j->b, j->A, lo, hi, j->n, 0, j->n, j->activation, j->slope);
}

static int FNN_NAME(fnn_activation_forward)(const fnn_exec *ex, REAL *Z, REAL *A,
                                            ptrdiff_t m, ptrdiff_t n, int activation,
                                            double slope)
{
    FNN_NAME(forward_job) j = {.bl = ex->blas, .Z = Z, .A = A, .m = m, .n = n,
                               .activation = activation, .slope = (REAL)slope};
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;
    fnn_parallel(ex, fnn_threads_for(m * n, ex->n_threads), FNN_NAME(activation_block), &j);
    return FNN_OK;
}
#undef FNN_FORWARD_ROW

/* Rows [lo, hi): dZ = dA * g'(Z) (softmax: its Jacobian applied to each
 * row); when acc is not NULL, the column sums of these dZ rows are added
 * to acc (n doubles). */
static void FNN_NAME(backward_rows)(const REAL *dA, const REAL *Z, REAL *dZ,
                                    double *acc, ptrdiff_t lo, ptrdiff_t hi,
                                    ptrdiff_t n, int activation, REAL a)
{
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL *gr = dA + i * n;
        const REAL *zr = Z + i * n;
        REAL *dr = dZ + i * n;
        switch (activation) {
        case FNN_LINEAR:
            if (dr != gr)
                for (ptrdiff_t j = 0; j < n; ++j) dr[j] = gr[j];
            break;
        /* dA is loaded before the test, unconditionally: a load inside
         * `z > 0 ? dA : 0` may not be hoisted, so the compiler emits a
         * branch (mispredicted half the time, 35x slower measured) instead
         * of a vector select. */
        case FNN_RELU:
            for (ptrdiff_t j = 0; j < n; ++j) {
                const REAL g = gr[j];
                dr[j] = zr[j] > 0 ? g : (REAL)0;
            }
            break;
        case FNN_LEAKY_RELU:
            for (ptrdiff_t j = 0; j < n; ++j) {
                const REAL g = gr[j];
                dr[j] = (zr[j] > 0 ? g : (REAL)0) + a * (zr[j] > 0 ? (REAL)0 : g);
            }
            break;
        /* g' from e = exp(-c|z|) rather than 1 - tanh^2 or s (1 - s): those
         * cancel to 0 once tanh(z) or s rounds to 1, losing the small
         * but nonzero derivative of a saturated unit. */
        case FNN_TANH:
            for (ptrdiff_t j = 0; j < n; ++j) {
                REAL e = exp((REAL)-2 * fabs(zr[j]));
                REAL d = (REAL)1 + e;
                dr[j] = gr[j] * ((REAL)4 * e / (d * d));
            }
            break;
        case FNN_SIGMOID:
            for (ptrdiff_t j = 0; j < n; ++j) {
                REAL e = exp(-fabs(zr[j]));
                REAL d = (REAL)1 + e;
                dr[j] = gr[j] * (e / (d * d));
            }
            break;
        case FNN_SOFTMAX: {
            /* dZ_j = s_j * (dA_j - sum_k dA_k s_k), s recomputed from z so
             * that dZ may overwrite dA only after the row is read. */
            REAL mx = zr[0];
            for (ptrdiff_t j = 1; j < n; ++j)
                mx = zr[j] > mx ? zr[j] : mx;
            double s = 0.0, dot = 0.0;
            for (ptrdiff_t j = 0; j < n; ++j) {
                double e = (double)exp(zr[j] - mx);
                s += e;
                dot += e * (double)gr[j];
            }
            dot /= s;
            const double inv = 1.0 / s;
            for (ptrdiff_t j = 0; j < n; ++j) {
                double p = (double)exp(zr[j] - mx) * inv;
                dr[j] = (REAL)(p * ((double)gr[j] - dot));
            }
            break;
        }
        }
        if (acc)
            for (ptrdiff_t j = 0; j < n; ++j)
                acc[j] += (double)dr[j];
    }
}

/* One dense backward in two passes over the pool.  Pass 1, by blocks of the
 * m rows: dZ of the rows and their column sums (db's partials).  Pass 2,
 * the two GEMMs, each cut along its cheaper side (cut_columns):
 * dW = A_prev.T @ dZ with its L2 term, and dA_prev = dZ @ W.T; block 0
 * also adds db's partials in block order. */
typedef struct {
    const fnn_blas *bl;
    const REAL *dA, *Z, *A_prev, *W;
    REAL *dZ, *dA_prev, *dW, *db;
    double *partial;                    /* nb1 x n, or NULL without db */
    ptrdiff_t m, k, n;
    int activation, nb1;
    int nb_w, w_by_columns;             /* pass 2: dW's blocks and cut */
    int nb_a, a_by_columns;             /* dA_prev's (nb_a 0: none) */
    REAL slope, l2s;
} FNN_NAME(backward_job);

static void FNN_NAME(backward_rows_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(backward_job) *j = (const FNN_NAME(backward_job) *)job_;
    ptrdiff_t lo, hi;
    double *acc = j->partial ? j->partial + (size_t)blk * (size_t)j->n : NULL;
    fnn_block_rows(j->m, nb, blk, &lo, &hi);
    FNN_NAME(backward_rows)(j->dA, j->Z, j->dZ, acc, lo, hi, j->n, j->activation,
                            j->slope);
}

static void FNN_NAME(backward_gemms_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(backward_job) *j = (const FNN_NAME(backward_job) *)job_;
    const ptrdiff_t m = j->m, k = j->k, n = j->n;
    (void)nb;
    if (blk < j->nb_w) {
        /* dW (k, n): rows [r0, r1) and columns [c0, c1) */
        ptrdiff_t r0, r1, c0, c1;
        fnn_block_cut(k, n, j->w_by_columns, j->nb_w, blk, &r0, &r1, &c0, &c1);
        if (j->A_prev)
            FNN_CAT(fnn_gemm, SFX)(j->bl, 1, 0, r1 - r0, c1 - c0, m, (REAL)1, j->A_prev + r0,
                                   k, j->dZ + c0, n, (REAL)0, j->dW + r0 * n + c0, n);
        if (j->A_prev && j->l2s != 0) {
            const REAL c = j->l2s;
            for (ptrdiff_t r = r0; r < r1; ++r) {
                REAL *dw = j->dW + r * n;
                const REAL *w = j->W + r * n;
                for (ptrdiff_t i = c0; i < c1; ++i)
                    dw[i] += c * w[i];
            }
        }
    }
    if (blk < j->nb_a) {
        /* dA_prev (m, k): rows [r0, r1) and columns [c0, c1) */
        ptrdiff_t r0, r1, c0, c1;
        fnn_block_cut(m, k, j->a_by_columns, j->nb_a, blk, &r0, &r1, &c0, &c1);
        FNN_CAT(fnn_gemm, SFX)(j->bl, 0, 1, r1 - r0, c1 - c0, n, (REAL)1, j->dZ + r0 * n, n,
                               j->W + c0 * n, n, (REAL)0, j->dA_prev + r0 * k + c0, k);
    }
    if (blk == 0 && j->partial)
        for (ptrdiff_t c = 0; c < n; ++c) {
            double s = 0.0;
            for (int b = 0; b < j->nb1; ++b)
                s += j->partial[(size_t)b * (size_t)n + c];
            j->db[c] = (REAL)s;
        }
}

static int FNN_NAME(fnn_dense_backward)(const fnn_exec *ex, const REAL *dA, const REAL *Z,
                                        const REAL *A_prev, const REAL *W, REAL *dZ,
                                        REAL *dA_prev, REAL *dW, REAL *db, ptrdiff_t m,
                                        ptrdiff_t k, ptrdiff_t n, int activation,
                                        double slope, double l2_scale)
{
    /* nb_w is 1 without A_prev too: block 0 still adds db's partials */
    FNN_NAME(backward_job) j = {.bl = ex->blas, .dA = dA, .Z = Z, .A_prev = A_prev, .W = W,
                                .dZ = dZ, .dA_prev = dA_prev, .dW = dW, .db = db,
                                .m = m, .k = k, .n = n, .activation = activation,
                                .nb1 = 1, .nb_w = 1, .nb_a = 0, .slope = (REAL)slope,
                                .l2s = (REAL)l2_scale};
    const double macs = (double)m * (double)k * (double)n;
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;
    /* every dimension but dA_prev's rows is a GEMM's k, n or leading one here
     * (dW's inner dimension is m), and fnn_gemm slices only the rows */
    if ((A_prev || dA_prev)
        && fnn_gemm_check(ex->blas, SFX_DTYPE, m > k ? (m > n ? m : n) : (k > n ? k : n))
               != FNN_OK)
        return FNN_EINVAL;
    j.nb1 = fnn_threads_for(m * n, ex->n_threads);
    if (A_prev) {
        /* dW = A_prev.T (k x m) @ dZ (m x n) */
        j.w_by_columns = FNN_NAME(cut_columns)(ex->blas, k, n, (double)m * n);
        j.nb_w = fnn_gemm_blocks(ex, j.w_by_columns ? n : k, macs);
    }
    if (dA_prev) {
        /* dA_prev = dZ (m x n) @ W.T (n x k) */
        j.a_by_columns = FNN_NAME(cut_columns)(ex->blas, m, k, (double)n * k);
        j.nb_a = fnn_gemm_blocks(ex, j.a_by_columns ? k : m, macs);
    }
    if (db) {
        j.partial = (double *)calloc((size_t)j.nb1 * (size_t)n, sizeof(double));
        if (!j.partial)
            return FNN_ENOMEM;
    }
    fnn_parallel(ex, j.nb1, FNN_NAME(backward_rows_block), &j);
    fnn_parallel(ex, j.nb_w > j.nb_a ? j.nb_w : j.nb_a, FNN_NAME(backward_gemms_block), &j);
    free(j.partial);
    return FNN_OK;
}

/* The activation's derivative alone: dZ = dA * g'(Z) over blocks of rows. */
static void FNN_NAME(activation_backward_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(backward_job) *j = (const FNN_NAME(backward_job) *)job_;
    ptrdiff_t lo, hi;
    fnn_block_rows(j->m, nb, blk, &lo, &hi);
    FNN_NAME(backward_rows)(j->dA, j->Z, j->dZ, NULL, lo, hi, j->n, j->activation,
                            j->slope);
}

static int FNN_NAME(fnn_activation_backward)(const fnn_exec *ex, const REAL *dA,
                                             const REAL *Z, REAL *dZ, ptrdiff_t m,
                                             ptrdiff_t n, int activation, double slope)
{
    FNN_NAME(backward_job) j = {.bl = ex->blas, .dA = dA, .Z = Z, .dZ = dZ, .m = m, .n = n,
                                .activation = activation, .slope = (REAL)slope};
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;
    fnn_parallel(ex, fnn_threads_for(m * n, ex->n_threads),
                 FNN_NAME(activation_backward_block), &j);
    return FNN_OK;
}
