/* Body of loss.c, instantiated once per REAL with suffix SFX. */

/* Row i of a softmax cross-entropy: returns the row's loss.  y is the label
 * index (label >= 0) or, when label < 0, the row of target probabilities. */
static inline double FNN_NAME(softmax_xent_row)(const REAL *zr, int64_t label,
                                                const REAL *yr, REAL *dr,
                                                ptrdiff_t k, double inv_m)
{
    REAL mx = zr[0];
    for (ptrdiff_t j = 1; j < k; ++j)
        mx = zr[j] > mx ? zr[j] : mx;
    double zy = 0.0, ysum = 0.0;
    if (label >= 0) {
        zy = (double)zr[label];
        ysum = 1.0;
    } else {
        for (ptrdiff_t j = 0; j < k; ++j) {
            zy += (double)yr[j] * (double)zr[j];
            ysum += (double)yr[j];
        }
    }
    double s = 0.0;
    if (dr) {
        for (ptrdiff_t j = 0; j < k; ++j) {
            REAL e = exp(zr[j] - mx);   /* zr[j] is read before dr[j] is written */
            dr[j] = e;
            s += (double)e;
        }
        const REAL scale = (REAL)(ysum * inv_m / s);
        const REAL im = (REAL)inv_m;
        for (ptrdiff_t j = 0; j < k; ++j)
            dr[j] *= scale;
        if (label >= 0)
            dr[label] -= im;
        else
            for (ptrdiff_t j = 0; j < k; ++j)
                dr[j] -= im * yr[j];
    } else {
        for (ptrdiff_t j = 0; j < k; ++j)
            s += (double)exp(zr[j] - mx);
    }
    return ((double)mx + log(s)) * ysum - zy;
}

static int FNN_NAME(softmax_xent)(const REAL *Z, const int64_t *labels,
                                  const REAL *Y, REAL *dZ, ptrdiff_t m,
                                  ptrdiff_t k, double *loss, int n_threads)
{
    const double inv_m = 1.0 / (double)m;
    double total;
    if (labels)
        for (ptrdiff_t i = 0; i < m; ++i)
            if (labels[i] < 0 || labels[i] >= k)
                return FNN_EINVAL;

    FNN_BLOCKED_SUM(total, m * k, m, n_threads, i, acc,
        acc += FNN_NAME(softmax_xent_row)(Z + i * k, labels ? labels[i] : -1,
                                          Y ? Y + i * k : NULL,
                                          dZ ? dZ + i * k : NULL, k, inv_m);
    );
    *loss = total * inv_m;
    return FNN_OK;
}

static int FNN_NAME(fnn_softmax_xent_labels)(const REAL *Z, const int64_t *labels,
                                      REAL *dZ, ptrdiff_t m, ptrdiff_t k,
                                      double *loss, int n_threads)
{
    return FNN_NAME(softmax_xent)(Z, labels, NULL, dZ, m, k, loss, n_threads);
}

static int FNN_NAME(fnn_softmax_xent_probs)(const REAL *Z, const REAL *Y, REAL *dZ,
                                     ptrdiff_t m, ptrdiff_t k, double *loss,
                                     int n_threads)
{
    return FNN_NAME(softmax_xent)(Z, NULL, Y, dZ, m, k, loss, n_threads);
}

static int FNN_NAME(fnn_sigmoid_xent)(const REAL *Z, const REAL *Y, REAL *dZ,
                               ptrdiff_t m, ptrdiff_t k, double *loss,
                               int n_threads)
{
    const ptrdiff_t total_n = m * k;
    const double inv_m = 1.0 / (double)m;
    const REAL im = (REAL)inv_m;
    double total;

    FNN_BLOCKED_SUM(total, total_n, total_n, n_threads, i, acc,
        const REAL z = Z[i], y = Y[i];
        const REAL e = exp(-fabs(z));            /* in (0, 1]: never overflows */
        acc += (double)((z > 0 ? z : (REAL)0) - z * y + log1p(e));
        if (dZ) {
            const REAL s = z >= 0 ? (REAL)1 / ((REAL)1 + e) : e / ((REAL)1 + e);
            dZ[i] = (s - y) * im;
        }
    );
    *loss = total * inv_m;
    return FNN_OK;
}

static int FNN_NAME(fnn_mse)(const REAL *P, const REAL *Y, REAL *dP, ptrdiff_t m,
                      ptrdiff_t k, double *loss, int n_threads)
{
    const ptrdiff_t total_n = m * k;
    const double inv_n = 1.0 / (double)total_n;
    const REAL two_inv_n = (REAL)(2.0 * inv_n);
    double total;

    FNN_BLOCKED_SUM(total, total_n, total_n, n_threads, i, acc,
        const REAL d = P[i] - Y[i];
        acc += (double)d * (double)d;
        if (dP)
            dP[i] = two_inv_n * d;
    );
    *loss = total * inv_n;
    return FNN_OK;
}

