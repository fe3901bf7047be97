/* Body of optim.c, instantiated once per REAL (float, double) with suffix SFX.
 * Not a header to include anywhere else.
 *
 * Each kernel is a *_range function holding the formula for elements
 * [lo, hi), with restrict pointers so the compiler vectorizes it without
 * alias checks (and compiled per instruction set, FNN_CLONES in optim.c),
 * and a driver that hands one contiguous range to each thread
 * (FNN_OPTIM_RANGES, optim.c).  Hyperparameters are converted to REAL once
 * per call; everything per element is REAL arithmetic. */

/* w -= lr * (g + decay * w) */
FNN_CLONES
static void FNN_NAME(sgd_range)(REAL *FNN_RESTRICT w, const REAL *FNN_RESTRICT g,
                                REAL lr, REAL decay, ptrdiff_t lo, ptrdiff_t hi)
{
    for (ptrdiff_t i = lo; i < hi; ++i)
        w[i] -= lr * (g[i] + decay * w[i]);
}

static int FNN_NAME(fnn_sgd_step)(REAL *w, const REAL *g, double lr,
                                  double decay, ptrdiff_t n, int n_threads)
{
    const REAL a = (REAL)lr, d = (REAL)decay;
    if (n < 0)
        return FNN_EINVAL;
    FNN_OPTIM_RANGES(n, n_threads, FNN_OPTIM_PARALLEL_MIN,
                     FNN_NAME(sgd_range)(w, g, a, d, lo, hi));
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

static int FNN_NAME(fnn_momentum_step)(REAL *w, const REAL *g, REAL *v,
                                       double lr, double beta, int average,
                                       int nesterov, ptrdiff_t n, int n_threads)
{
    const REAL a = (REAL)lr, b = (REAL)beta;
    const REAL c = average ? (REAL)(1.0 - beta) : (REAL)1;
    if (n < 0)
        return FNN_EINVAL;
    FNN_OPTIM_RANGES(n, n_threads, FNN_OPTIM_PARALLEL_MIN,
                     FNN_NAME(momentum_range)(w, g, v, a, b, c, nesterov, lo, hi));
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

static int FNN_NAME(fnn_rmsprop_step)(REAL *w, const REAL *g, REAL *s,
                                      double lr, double beta, double eps,
                                      ptrdiff_t n, int n_threads)
{
    const REAL a = (REAL)lr, b = (REAL)beta, omb = (REAL)(1.0 - beta);
    const REAL e = (REAL)eps;
    if (n < 0)
        return FNN_EINVAL;
    FNN_OPTIM_RANGES(n, n_threads, FNN_OPTIM_SQRT_PARALLEL_MIN,
                     FNN_NAME(rmsprop_range)(w, g, s, a, b, omb, e, lo, hi));
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

static int FNN_NAME(fnn_adam_step)(REAL *w, const REAL *g, REAL *v, REAL *s,
                                   int64_t t, double lr, double beta1,
                                   double beta2, double eps,
                                   double weight_decay, ptrdiff_t n,
                                   int n_threads)
{
    if (n < 0 || t < 1)
        return FNN_EINVAL;
    /* Bias corrections in double, once per call (pow of a double). */
    const double bc1 = 1.0 - pow(beta1, (double)t);
    const double bc2 = 1.0 - pow(beta2, (double)t);
    const REAL b1 = (REAL)beta1, omb1 = (REAL)(1.0 - beta1);
    const REAL b2 = (REAL)beta2, omb2 = (REAL)(1.0 - beta2);
    const REAL step = (REAL)(lr / bc1), inv_bc2 = (REAL)(1.0 / bc2);
    const REAL e = (REAL)eps, lr_wd = (REAL)(lr * weight_decay);
    FNN_OPTIM_RANGES(n, n_threads, FNN_OPTIM_SQRT_PARALLEL_MIN,
                     FNN_NAME(adam_range)(w, g, v, s, b1, omb1, b2, omb2, step,
                                          inv_bc2, e, lr_wd, lo, hi));
    return FNN_OK;
}

