/* Body of optim.c, instantiated once per REAL (float, double) with suffix SFX.
 * Not a header to include anywhere else.
 *
 * Each kernel is a *_range function holding the formula for elements
 * [lo, hi), with restrict pointers so the compiler vectorizes it without
 * alias checks (and compiled per instruction set, FNN_CLONES in optim.c),
 * and a driver that fills an optim_job and hands one contiguous range to
 * each thread (optim_block).  Hyperparameters are converted to REAL once
 * per call; everything per element is REAL arithmetic. */

/* One step's arrays and hyperparameters, for every kind of step. */
typedef struct {
    int kind;                   /* enum fnn_optim_kind (optim.c) */
    REAL *w, *v, *s;
    const REAL *g;
    REAL c[8];                  /* the range function's REAL arguments, in order */
    int flag;                   /* momentum: nesterov */
    ptrdiff_t n;
} FNN_NAME(optim_job);

/* w -= lr * (g + decay * w) */
FNN_CLONES
static void FNN_NAME(sgd_range)(REAL *FNN_RESTRICT w, const REAL *FNN_RESTRICT g,
                                REAL lr, REAL decay, ptrdiff_t lo, ptrdiff_t hi)
{
    for (ptrdiff_t i = lo; i < hi; ++i)
        w[i] -= lr * (g[i] + decay * w[i]);
}

static void FNN_NAME(optim_block)(void *job_, int blk, int nb);

static int FNN_NAME(fnn_sgd_step)(const fnn_exec *ex, REAL *w, const REAL *g, double lr,
                                  double decay, ptrdiff_t n)
{
    FNN_NAME(optim_job) j = {.kind = FNN_OPTIM_SGD, .w = w, .g = g,
                             .c = {(REAL)lr, (REAL)decay}, .n = n};
    if (n < 0)
        return FNN_EINVAL;
    fnn_parallel(ex, fnn_threads_above(n, ex->n_threads, FNN_OPTIM_PARALLEL_MIN),
                 FNN_NAME(optim_block), &j);
    return FNN_OK;
}

/* v = beta * v + c * g;  w -= lr * v  (nesterov: w -= lr * (beta * v + c * g)) */
FNN_CLONES
static void FNN_NAME(momentum_range)(REAL *FNN_RESTRICT w,
                                     const REAL *FNN_RESTRICT g,
                                     REAL *FNN_RESTRICT v, REAL lr, REAL beta,
                                     REAL c, int nesterov, ptrdiff_t lo,
                                     ptrdiff_t hi)
{
    if (nesterov) {
        for (ptrdiff_t i = lo; i < hi; ++i) {
            const REAL vi = beta * v[i] + c * g[i];
            v[i] = vi;
            w[i] -= lr * (beta * vi + c * g[i]);
        }
    } else {
        for (ptrdiff_t i = lo; i < hi; ++i) {
            const REAL vi = beta * v[i] + c * g[i];
            v[i] = vi;
            w[i] -= lr * vi;
        }
    }
}

static int FNN_NAME(fnn_momentum_step)(const fnn_exec *ex, REAL *w, const REAL *g, REAL *v,
                                       double lr, double beta, int average,
                                       int nesterov, ptrdiff_t n)
{
    FNN_NAME(optim_job) j = {.kind = FNN_OPTIM_MOMENTUM, .w = w, .v = v, .g = g,
                             .c = {(REAL)lr, (REAL)beta,
                                   average ? (REAL)(1.0 - beta) : (REAL)1},
                             .flag = nesterov, .n = n};
    if (n < 0)
        return FNN_EINVAL;
    fnn_parallel(ex, fnn_threads_above(n, ex->n_threads, FNN_OPTIM_PARALLEL_MIN),
                 FNN_NAME(optim_block), &j);
    return FNN_OK;
}

/* s = beta * s + (1 - beta) * g^2;  w -= lr * g / (sqrt(s) + eps) */
FNN_CLONES
static void FNN_NAME(rmsprop_range)(REAL *FNN_RESTRICT w,
                                    const REAL *FNN_RESTRICT g,
                                    REAL *FNN_RESTRICT s, REAL lr, REAL beta,
                                    REAL one_minus_beta, REAL eps,
                                    ptrdiff_t lo, ptrdiff_t hi)
{
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL gi = g[i];
        const REAL si = beta * s[i] + one_minus_beta * gi * gi;
        s[i] = si;
        w[i] -= lr * gi / (sqrt(si) + eps);
    }
}

static int FNN_NAME(fnn_rmsprop_step)(const fnn_exec *ex, REAL *w, const REAL *g, REAL *s,
                                      double lr, double beta, double eps, ptrdiff_t n)
{
    FNN_NAME(optim_job) j = {.kind = FNN_OPTIM_RMSPROP, .w = w, .s = s, .g = g,
                             .c = {(REAL)lr, (REAL)beta, (REAL)(1.0 - beta), (REAL)eps},
                             .n = n};
    if (n < 0)
        return FNN_EINVAL;
    fnn_parallel(ex, fnn_threads_above(n, ex->n_threads, FNN_OPTIM_SQRT_PARALLEL_MIN),
                 FNN_NAME(optim_block), &j);
    return FNN_OK;
}

/* v = beta1 v + (1 - beta1) g;  s = beta2 s + (1 - beta2) g^2;
 * w -= step * v / (sqrt(s * inv_bc2) + eps) + lr_wd * w
 * with step = lr / (1 - beta1^t), inv_bc2 = 1 / (1 - beta2^t), lr_wd = lr * wd:
 * the same as lr * (v_hat / (sqrt(s_hat) + eps) + wd * w). */
FNN_CLONES
static void FNN_NAME(adam_range)(REAL *FNN_RESTRICT w, const REAL *FNN_RESTRICT g,
                                 REAL *FNN_RESTRICT v, REAL *FNN_RESTRICT s,
                                 REAL beta1, REAL omb1, REAL beta2, REAL omb2,
                                 REAL step, REAL inv_bc2, REAL eps, REAL lr_wd,
                                 ptrdiff_t lo, ptrdiff_t hi)
{
    for (ptrdiff_t i = lo; i < hi; ++i) {
        const REAL gi = g[i];
        const REAL vi = beta1 * v[i] + omb1 * gi;
        const REAL si = beta2 * s[i] + omb2 * gi * gi;
        const REAL wi = w[i];
        v[i] = vi;
        s[i] = si;
        w[i] = wi - step * vi / (sqrt(si * inv_bc2) + eps) - lr_wd * wi;
    }
}

static int FNN_NAME(fnn_adam_step)(const fnn_exec *ex, REAL *w, const REAL *g, REAL *v,
                                   REAL *s, int64_t t, double lr, double beta1,
                                   double beta2, double eps, double weight_decay,
                                   ptrdiff_t n)
{
    if (n < 0 || t < 1)
        return FNN_EINVAL;
    /* Bias corrections in double, once per call (pow of a double). */
    const double bc1 = 1.0 - pow(beta1, (double)t);
    const double bc2 = 1.0 - pow(beta2, (double)t);
    FNN_NAME(optim_job) j = {.kind = FNN_OPTIM_ADAM, .w = w, .v = v, .s = s, .g = g,
                             .c = {(REAL)beta1, (REAL)(1.0 - beta1), (REAL)beta2,
                                   (REAL)(1.0 - beta2), (REAL)(lr / bc1), (REAL)(1.0 / bc2),
                                   (REAL)eps, (REAL)(lr * weight_decay)},
                             .n = n};
    fnn_parallel(ex, fnn_threads_above(n, ex->n_threads, FNN_OPTIM_SQRT_PARALLEL_MIN),
                 FNN_NAME(optim_block), &j);
    return FNN_OK;
}

/* One thread's contiguous range of a step, with subnormals flushed to zero
 * while it runs (common.h: the state decays geometrically into them). */
static void FNN_NAME(optim_block)(void *job_, int blk, int nb)
{
    const FNN_NAME(optim_job) *j = (const FNN_NAME(optim_job) *)job_;
    const REAL *c = j->c;
    ptrdiff_t lo, hi;
    fnn_block_rows(j->n, nb, blk, &lo, &hi);
    const fnn_fpmode mode = fnn_flush_subnormals_begin();
    switch (j->kind) {
    case FNN_OPTIM_SGD:
        FNN_NAME(sgd_range)(j->w, j->g, c[0], c[1], lo, hi);
        break;
    case FNN_OPTIM_MOMENTUM:
        FNN_NAME(momentum_range)(j->w, j->g, j->v, c[0], c[1], c[2], j->flag, lo, hi);
        break;
    case FNN_OPTIM_RMSPROP:
        FNN_NAME(rmsprop_range)(j->w, j->g, j->s, c[0], c[1], c[2], c[3], lo, hi);
        break;
    case FNN_OPTIM_ADAM:
        FNN_NAME(adam_range)(j->w, j->g, j->v, j->s, c[0], c[1], c[2], c[3], c[4], c[5],
                             c[6], c[7], lo, hi);
        break;
    }
    fnn_flush_subnormals_end(mode);
}
