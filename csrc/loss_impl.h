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
    double inv_m;       /* 1 / m, or 1 / sum(w) with weights (MSE: 1 / (m k), 1 / (k sum(w))) */
    const REAL *w;      /* sample weights (m,), or NULL: every weight 1 */
} FNN_NAME(loss_job);

/* The sum of m sample weights into *sum, in in double in a fixed
 * order (eight running sums, element i to sum i mod 8, then added in lane
 * order: the same bits whatever the thread count); FNN_EINVAL when a weight
 * is negative or NaN (!(w >= 0)) or the sum is not a positive finite number
 * (an infinite weight, all weights 0).  The wrapper checks this first: here
 * it is the last line of defence, as the label range is. */
#define FNN_WSUM_LANES 8
FNN_CLONES
static int FNN_NAME(weights_sum)(const REAL *FNN_RESTRICT w, ptrdiff_t m, double *sum)
{
    double acc[FNN_WSUM_LANES] = {0};
    int ok = 1;
    ptrdiff_t i = 0;
    for (; i + FNN_WSUM_LANES <= m; i += FNN_WSUM_LANES)
        for (int l = 0; l < FNN_WSUM_LANES; ++l) {
            ok &= w[i + l] >= 0;
            acc[l] += (double)w[i + l];
        }
    for (; i < m; ++i) {
        ok &= w[i] >= 0;
        acc[0] += (double)w[i];
    }
    double total = 0.0;
    for (int l = 0; l < FNN_WSUM_LANES; ++l)
        total += acc[l];
    if (!ok || !(total > 0.0) || !isfinite(total))
        return FNN_EINVAL;
    *sum = total;
    return FNN_OK;
}
#undef FNN_WSUM_LANES

/* The range functions below are written once for both cases and called
 * with w = NULL (a constant: the compiler drops every weight operation, so
 * the unweighted loop is the one before weights existed) or w = j->w.
 * With weights, row i's loss is multiplied by w_i and its gradient scaled
 * by w_i / sum(w) in place of 1 / m; with every w_i = 1, sum(w) = m exactly
 * and each product by 1.0 is exact, so the results are bit-identical to the
 * unweighted ones. */
static inline double FNN_NAME(softmax_xent_rows)(const FNN_NAME(loss_job) *j, const REAL *w,
                                                 ptrdiff_t lo, ptrdiff_t hi)
{
    const ptrdiff_t k = j->k;
    double acc = 0.0;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const double wi = w ? (double)w[i] : 1.0;
        const double row = FNN_NAME(softmax_xent_row)(
            j->Z + i * k, j->labels ? j->labels[i] : -1, j->Y ? j->Y + i * k : NULL,
            j->dZ ? j->dZ + i * k : NULL, k, w ? wi * j->inv_m : j->inv_m);
        acc += w ? wi * row : row;
    }
    return acc;
}

static double FNN_NAME(softmax_xent_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    return FNN_NAME(softmax_xent_rows)((const FNN_NAME(loss_job) *)job_, NULL, lo, hi);
}

static double FNN_NAME(softmax_xent_weighted_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    return FNN_NAME(softmax_xent_rows)(j, j->w, lo, hi);
}

static int FNN_NAME(softmax_xent)(const fnn_exec *ex, const REAL *Z, const int64_t *labels,
                                  const REAL *Y, const REAL *w, REAL *dZ, ptrdiff_t m,
                                  ptrdiff_t k, double *loss)
{
    FNN_NAME(loss_job) j = {.Z = Z, .Y = Y, .labels = labels, .w = w, .dZ = dZ, .k = k,
                            .inv_m = 1.0 / (double)m};
    if (labels)
        for (ptrdiff_t i = 0; i < m; ++i)
            if (labels[i] < 0 || labels[i] >= k)
                return FNN_EINVAL;
    if (w) {
        double total;
        if (FNN_NAME(weights_sum)(w, m, &total) != FNN_OK)
            return FNN_EINVAL;
        j.inv_m = 1.0 / total;
    }
    *loss = fnn_blocked_sum(ex, m * k, m, w ? FNN_NAME(softmax_xent_weighted_range)
                                            : FNN_NAME(softmax_xent_range), &j) * j.inv_m;
    return FNN_OK;
}

static int FNN_NAME(fnn_softmax_xent_labels)(const fnn_exec *ex, const REAL *Z,
                                             const int64_t *labels, const REAL *w, REAL *dZ,
                                             ptrdiff_t m, ptrdiff_t k, double *loss)
{
    return FNN_NAME(softmax_xent)(ex, Z, labels, NULL, w, dZ, m, k, loss);
}

static int FNN_NAME(fnn_softmax_xent_probs)(const fnn_exec *ex, const REAL *Z, const REAL *Y,
                                            const REAL *w, REAL *dZ, ptrdiff_t m, ptrdiff_t k,
                                            double *loss)
{
    return FNN_NAME(softmax_xent)(ex, Z, NULL, Y, w, dZ, m, k, loss);
}

/* The elementwise losses cut their m k elements into blocks that may start
 * and end inside a row (the blocks of the unweighted loss, so that weights
 * of 1 sum the same terms in the same order).  Their loop is written once
 * (*_seg, `weighted` a constant in each caller); with weights, a block is
 * walked row segment by row segment, each with its row's weight (this
 * function: the end of the segment starting at element i, and its weight);
 * without, the block is one segment, and the loop is the one before weights
 * existed. */
static inline ptrdiff_t FNN_NAME(row_segment)(const REAL *w, ptrdiff_t i, ptrdiff_t hi,
                                              ptrdiff_t k, double *wr)
{
    const ptrdiff_t row = i / k, row_end = (row + 1) * k;
    *wr = (double)w[row];
    return row_end < hi ? row_end : hi;
}

/* Elements [lo, hi) of one row segment (or of a whole unweighted block),
 * each element's loss multiplied by wr when weighted, into acc. */
static inline double FNN_NAME(sigmoid_xent_seg)(const FNN_NAME(loss_job) *j, int weighted,
                                                ptrdiff_t lo, ptrdiff_t hi, REAL im, double wr,
                                                double acc)
{
    const REAL *Z = j->Z, *Y = j->Y;
    REAL *dZ = j->dZ;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL z = Z[i], y = Y[i];
        const REAL e = exp(-fabs(z));            /* in (0, 1]: never overflows */
        const double v = (double)((z > 0 ? z : (REAL)0) - z * y + log1p(e));
        acc += weighted ? wr * v : v;
        if (dZ) {
            const REAL s = z >= 0 ? (REAL)1 / ((REAL)1 + e) : e / ((REAL)1 + e);
            dZ[i] = (s - y) * im;
        }
    }
    return acc;
}

static double FNN_NAME(sigmoid_xent_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    return FNN_NAME(sigmoid_xent_seg)(j, 0, lo, hi, (REAL)j->inv_m, 1.0, 0.0);
}

static double FNN_NAME(sigmoid_xent_weighted_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    double acc = 0.0, wr;
    for (ptrdiff_t i = lo, end; i < hi; i = end) {
        end = FNN_NAME(row_segment)(j->w, i, hi, j->k, &wr);
        acc = FNN_NAME(sigmoid_xent_seg)(j, 1, i, end, (REAL)(wr * j->inv_m), wr, acc);
    }
    return acc;
}

static int FNN_NAME(fnn_sigmoid_xent)(const fnn_exec *ex, const REAL *Z, const REAL *Y,
                                      const REAL *w, REAL *dZ, ptrdiff_t m, ptrdiff_t k,
                                      double *loss)
{
    FNN_NAME(loss_job) j = {.Z = Z, .Y = Y, .w = w, .dZ = dZ, .k = k,
                            .inv_m = 1.0 / (double)m};
    if (w) {
        double total;
        if (FNN_NAME(weights_sum)(w, m, &total) != FNN_OK)
            return FNN_EINVAL;
        j.inv_m = 1.0 / total;
    }
    *loss = fnn_blocked_sum(ex, m * k, m * k, w ? FNN_NAME(sigmoid_xent_weighted_range)
                                                : FNN_NAME(sigmoid_xent_range), &j) * j.inv_m;
    return FNN_OK;
}

/* MSE: inv_m holds 1 / (m k), the mean over all elements (with weights
 * 1 / (k sum(w)): the weighted mean over rows of each row's mean) */
static inline double FNN_NAME(mse_seg)(const FNN_NAME(loss_job) *j, int weighted, ptrdiff_t lo,
                                       ptrdiff_t hi, REAL two_inv_n, double wr, double acc)
{
    const REAL *P = j->Z, *Y = j->Y;
    REAL *dP = j->dZ;
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL d = P[i] - Y[i];
        const double sq = (double)d * (double)d;
        acc += weighted ? wr * sq : sq;
        if (dP)
            dP[i] = two_inv_n * d;
    }
    return acc;
}

static double FNN_NAME(mse_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    return FNN_NAME(mse_seg)(j, 0, lo, hi, (REAL)(2.0 * j->inv_m), 1.0, 0.0);
}

static double FNN_NAME(mse_weighted_range)(void *job_, ptrdiff_t lo, ptrdiff_t hi)
{
    const FNN_NAME(loss_job) *j = (const FNN_NAME(loss_job) *)job_;
    double acc = 0.0, wr;
    for (ptrdiff_t i = lo, end; i < hi; i = end) {
        end = FNN_NAME(row_segment)(j->w, i, hi, j->k, &wr);
        acc = FNN_NAME(mse_seg)(j, 1, i, end, (REAL)(2.0 * (wr * j->inv_m)), wr, acc);
    }
    return acc;
}

static int FNN_NAME(fnn_mse)(const fnn_exec *ex, const REAL *P, const REAL *Y, const REAL *w,
                             REAL *dP, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    FNN_NAME(loss_job) j = {.Z = P, .Y = Y, .w = w, .dZ = dP, .k = k,
                            .inv_m = 1.0 / (double)(m * k)};
    if (w) {
        double total;
        if (FNN_NAME(weights_sum)(w, m, &total) != FNN_OK)
            return FNN_EINVAL;
        j.inv_m = 1.0 / (total * (double)k);  /* = 1 / (m k) when every w_i = 1 */
    }
    *loss = fnn_blocked_sum(ex, m * k, m * k, w ? FNN_NAME(mse_weighted_range)
                                                : FNN_NAME(mse_range), &j) * j.inv_m;
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
