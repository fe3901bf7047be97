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

/* The arguments of one loss call; each range function below sums the loss
 * of its rows (softmax) or elements (the elementwise losses) [lo, hi). */
typedef struct {
    const REAL *Z, *Y;
    const int64_t *labels;
    REAL *dZ;
    ptrdiff_t k;
    double inv_m;
} FNN_NAME(loss_job);

static double FNN_NAME(softmax_xent_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    const ptrdiff_t k = j->k;
    double acc = 0.0;
    for (ptrdiff_t i = lo; i < hi; ++i)
        acc += FNN_NAME(softmax_xent_row)(j->Z + i * k, j->labels ? j->labels[i] : -1,
                                          j->Y ? j->Y + i * k : NULL,
                                          j->dZ ? j->dZ + i * k : NULL, k, j->inv_m);
    return acc;
}

static int FNN_NAME(softmax_xent)(const fnn_exec *ex, const REAL *Z, const int64_t *labels,
                                  const REAL *Y, REAL *dZ, ptrdiff_t m, ptrdiff_t k,
                                  double *loss)
{
    FNN_NAME(loss_job) j = {.Z = Z, .Y = Y, .labels = labels, .dZ = dZ, .k = k,
                            .inv_m = 1.0 / (double)m};
    if (labels)
        for (ptrdiff_t i = 0; i < m; ++i)
            if (labels[i] < 0 || labels[i] >= k)
                return FNN_EINVAL;
    *loss = fnn_blocked_sum(ex, m * k, m, FNN_NAME(softmax_xent_range), &j) * j.inv_m;
    return FNN_OK;
}

static int FNN_NAME(fnn_softmax_xent_labels)(const fnn_exec *ex, const REAL *Z,
                                             const int64_t *labels, REAL *dZ, ptrdiff_t m,
                                             ptrdiff_t k, double *loss)
{
    return FNN_NAME(softmax_xent)(ex, Z, labels, NULL, dZ, m, k, loss);
}

static int FNN_NAME(fnn_softmax_xent_probs)(const fnn_exec *ex, const REAL *Z, const REAL *Y,
                                            REAL *dZ, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    return FNN_NAME(softmax_xent)(ex, Z, NULL, Y, dZ, m, k, loss);
}

static double FNN_NAME(sigmoid_xent_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    const REAL *Z = j->Z, *Y = j->Y;
    REAL *dZ = j->dZ;
    const REAL im = (REAL)j->inv_m;
    double acc = 0.0;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL z = Z[i], y = Y[i];
        const REAL e = exp(-fabs(z));            /* in (0, 1]: never overflows */
        acc += (double)((z > 0 ? z : (REAL)0) - z * y + log1p(e));
        if (dZ) {
            const REAL s = z >= 0 ? (REAL)1 / ((REAL)1 + e) : e / ((REAL)1 + e);
            dZ[i] = (s - y) * im;
        }
    }
    return acc;
}

static int FNN_NAME(fnn_sigmoid_xent)(const fnn_exec *ex, const REAL *Z, const REAL *Y,
                                      REAL *dZ, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    FNN_NAME(loss_job) j = {.Z = Z, .Y = Y, .dZ = dZ, .k = k, .inv_m = 1.0 / (double)m};
    *loss = fnn_blocked_sum(ex, m * k, m * k, FNN_NAME(sigmoid_xent_range), &j) * j.inv_m;
    return FNN_OK;
}

/* MSE: inv_m holds 1 / (m k), the mean over all elements */
static double FNN_NAME(mse_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    const REAL *P = j->Z, *Y = j->Y;
    REAL *dP = j->dZ;
    const REAL two_inv_n = (REAL)(2.0 * j->inv_m);
    double acc = 0.0;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL d = P[i] - Y[i];
        acc += (double)d * (double)d;
        if (dP)
            dP[i] = two_inv_n * d;
    }
    return acc;
}

static int FNN_NAME(fnn_mse)(const fnn_exec *ex, const REAL *P, const REAL *Y, REAL *dP,
                             ptrdiff_t m, ptrdiff_t k, double *loss)
{
    FNN_NAME(loss_job) j = {.Z = P, .Y = Y, .dZ = dP, .k = k,
                            .inv_m = 1.0 / (double)(m * k)};
    *loss = fnn_blocked_sum(ex, m * k, m * k, FNN_NAME(mse_range), &j) * j.inv_m;
    return FNN_OK;
}

/* Sum of squares of n elements, in double, by the fixed blocks.  Sixteen
 * running sums (element i goes to sum i mod 16): independent chains the
 * compiler turns into vector adds, where one sum would wait for each add
 * to finish (measured 4.5x faster on MNIST's 47M pixels). */
#define FNN_SUMSQ_LANES 16
FNN_CLONES
static double FNN_NAME(sum_squares_of)(const REAL *FNN_RESTRICT x, ptrdiff_t lo, ptrdiff_t hi)
{
    double acc[FNN_SUMSQ_LANES] = {0};
    ptrdiff_t i = lo;
    for (; i + FNN_SUMSQ_LANES <= hi; i += FNN_SUMSQ_LANES)
        for (int l = 0; l < FNN_SUMSQ_LANES; ++l)
            acc[l] += (double)x[i + l] * (double)x[i + l];
    for (; i < hi; ++i)
        acc[0] += (double)x[i] * (double)x[i];
    double total = 0.0;
    for (int l = 0; l < FNN_SUMSQ_LANES; ++l)
        total += acc[l];
    return total;
}
#undef FNN_SUMSQ_LANES

static double FNN_NAME(sum_squares_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    return FNN_NAME(sum_squares_of)(((const FNN_NAME(loss_job) *)job_)->Z, lo, hi);
}

static int FNN_NAME(fnn_sum_squares)(const fnn_exec *ex, const REAL *x, ptrdiff_t n,
                                     double *result)
{
    FNN_NAME(loss_job) j = {.Z = x};
    *result = fnn_blocked_sum(ex, n, n, FNN_NAME(sum_squares_range), &j);
    return FNN_OK;
}
