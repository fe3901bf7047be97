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

static int FNN_NAME(fnn_dense_activation_forward)(REAL *Z, const REAL *b, REAL *A,
                                           ptrdiff_t m, ptrdiff_t n,
                                           int activation, double slope,
                                           int n_threads)
{
    const int nb = fnn_threads_for(m * n, n_threads);
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;

    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        fnn_block_rows(m, nb, blk, &lo, &hi);
        /* block-local: read through the parallel region's shared data, the
         * slope could alias the stores and keep the loops scalar */
        const REAL a = (REAL)slope;
        for (ptrdiff_t i = lo; i < hi; ++i) {
            REAL *zr = Z + i * n;
            REAL *ar = A + i * n;
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
    return FNN_OK;
}
#undef FNN_FORWARD_ROW

static int FNN_NAME(fnn_dense_activation_backward)(const REAL *dA, const REAL *Z,
                                            REAL *dZ, REAL *db,
                                            ptrdiff_t m, ptrdiff_t n,
                                            int activation, double slope,
                                            int n_threads)
{
    const int nb = fnn_threads_for(m * n, n_threads);
    double *partial = NULL;
    if (activation < FNN_LINEAR || activation > FNN_SOFTMAX)
        return FNN_EINVAL;
    if (db) {
        partial = (double *)calloc((size_t)nb * (size_t)n, sizeof(double));
        if (!partial)
            return FNN_ENOMEM;
    }

    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        fnn_block_rows(m, nb, blk, &lo, &hi);
        double *acc = partial ? partial + (size_t)blk * (size_t)n : NULL;
        const REAL a = (REAL)slope;     /* block-local, as in the forward */
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

    if (db) {
        for (ptrdiff_t j = 0; j < n; ++j) {
            double s = 0.0;
            for (int blk = 0; blk < nb; ++blk)
                s += partial[(size_t)blk * (size_t)n + j];
            db[j] = (REAL)s;
        }
        free(partial);
    }
    return FNN_OK;
}

static int FNN_NAME(fnn_add_scaled)(REAL *y, const REAL *x, double alpha, ptrdiff_t n,
                             int n_threads)
{
    const int nb = fnn_threads_for(n, n_threads);
    const REAL al = (REAL)alpha;
    FNN_PRAGMA(omp parallel for schedule(static) num_threads(nb) if(nb > 1))
    for (int blk = 0; blk < nb; ++blk) {
        ptrdiff_t lo, hi;
        fnn_block_rows(n, nb, blk, &lo, &hi);
        for (ptrdiff_t i = lo; i < hi; ++i)
            y[i] += al * x[i];
    }
    return FNN_OK;
}

