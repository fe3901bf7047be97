/* Design: each loss is fused with the activation it belongs to, so that the
 * numerically dangerous parts cancel analytically instead of in floating point.
 *
 * - softmax + cross-entropy: loss_i = logsumexp(z_i) - z_i[y_i], computed with
 *   the row maximum subtracted; the gradient is (softmax(z_i) - y_i) / m and
 *   never forms log(softmax).  One read of the row for the maximum, one pass
 *   that writes exp(z - max) into dZ, one pass that scales it.
 * - sigmoid + binary cross-entropy: loss = max(z, 0) - z*y + log1p(exp(-|z|)),
 *   finite for every finite z; gradient (sigmoid(z) - y) / m.
 * - MSE: mean over all elements (as torch.nn.MSELoss and Keras define it).
 * - sum of squares: the L2 cost ||W||^2 and the finiteness check of
 *   fastnn._validation.all_finite, on the pool (NumPy's dot would wake the
 *   BLAS's own threads, which then spin against fastnn's for ~0.1 s).
 * - sample weights (optional, NULL when absent): row i's loss is multiplied
 *   by w_i and its gradient by w_i / sum(w) in place of 1 / m, in the same
 *   passes and the same blocks (so weights of 1 give the unweighted bits);
 *   sum(w) is taken first, serially in fixed lanes (the same for any thread
 *   count), while checking every weight.  No allocation: the weights are
 *   read where the rows are.  The unweighted loops are the same functions
 *   instantiated with w = NULL, so they pay nothing for the option.
 * Sums are taken per row block in double and combined in block order (see
 * common.h), so the loss is reproducible for a given thread count.
 */
#include <stdlib.h>
#include <tgmath.h>
#include "loss.h"

#define FNN_IMPL "loss_impl.h"
#include "instantiate.h"

int fnn_softmax_xent_labels(const fnn_exec *ex, int dtype, const void *Z,
                            const int64_t *labels, const void *w, void *dZ, ptrdiff_t m,
                            ptrdiff_t k, double *loss)
{
    return FNN_DISPATCH(dtype, fnn_softmax_xent_labels, ex, Z, labels, w, dZ, m, k, loss);
}

int fnn_softmax_xent_probs(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                           const void *w, void *dZ, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    return FNN_DISPATCH(dtype, fnn_softmax_xent_probs, ex, Z, Y, w, dZ, m, k, loss);
}

int fnn_sigmoid_xent(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                     const void *w, void *dZ, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    return FNN_DISPATCH(dtype, fnn_sigmoid_xent, ex, Z, Y, w, dZ, m, k, loss);
}

int fnn_mse(const fnn_exec *ex, int dtype, const void *P, const void *Y, const void *w,
            void *dP, ptrdiff_t m, ptrdiff_t k, double *loss)
{
    return FNN_DISPATCH(dtype, fnn_mse, ex, P, Y, w, dP, m, k, loss);
}

int fnn_sum_squares(const fnn_exec *ex, int dtype, const void *x, ptrdiff_t n,
                    double *result)
{
    return FNN_DISPATCH(dtype, fnn_sum_squares, ex, x, n, result);
}
