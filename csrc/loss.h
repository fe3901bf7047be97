/* Loss kernels fused with their output activation.
 *
 * Each writes the mean loss over the m rows to *loss and, when dZ is not NULL,
 * the gradient of that mean with respect to the pre-activation Z (for MSE:
 * the prediction P), so the 1/m of the cost is already inside dZ.  dZ may
 * alias Z.  Arrays are C-contiguous, row-major (m, k), of element type dtype.
 */
#ifndef FASTNN_LOSS_H
#define FASTNN_LOSS_H

#include <stdint.h>
#include "common.h"

/* Sample weights (every loss): IN w (m,) of element type dtype, or NULL.
 * With w, row i's loss counts w_i times and the mean becomes the weighted
 * mean (scikit-learn's MLP definition): loss = sum_i w_i loss_i / sum(w),
 * and dZ_i = w_i / sum(w) * (m times the unweighted dZ_i).  FNN_EINVAL when
 * a weight is negative or NaN or sum(w) is not positive and finite (the
 * wrapper checks first and says which).  w = NULL is the unweighted kernel,
 * unchanged; weights all 1 give the same bits. */

/* IN Z (m, k), labels (m,) in [0, k), w (m,) or NULL; OUT dZ (m, k) or NULL;
 * OUT loss.  FNN_EINVAL, and nothing read out of bounds, if a label is out
 * of range. */
int fnn_softmax_xent_labels(const fnn_exec *ex, int dtype, const void *Z,
                            const int64_t *labels, const void *w, void *dZ, ptrdiff_t m,
                            ptrdiff_t k, double *loss);

/* IN Z, Y (m, k), rows of Y one-hot or probabilities, w (m,) or NULL; OUT
 * dZ or NULL, loss.  With row sums s_i of Y: dZ = (softmax(Z) * s_i - Y) / m. */
int fnn_softmax_xent_probs(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                           const void *w, void *dZ, ptrdiff_t m, ptrdiff_t k, double *loss);

/* IN Z, Y (m, k), Y in [0, 1], w (m,) or NULL; OUT dZ or NULL, loss summed
 * over the k outputs of a row and averaged over the m rows. */
int fnn_sigmoid_xent(const fnn_exec *ex, int dtype, const void *Z, const void *Y,
                     const void *w, void *dZ, ptrdiff_t m, ptrdiff_t k, double *loss);

/* IN P, Y (m, k), w (m,) or NULL; OUT dP or NULL; loss = mean of (P - Y)^2
 * over all m*k (with w: the w-weighted mean over rows of each row's mean). */
int fnn_mse(const fnn_exec *ex, int dtype, const void *P, const void *Y, const void *w,
            void *dP, ptrdiff_t m, ptrdiff_t k, double *loss);

/* IN x (n); OUT result = sum of x_i^2 in double (Inf or NaN when an element
 * is, or when the sum overflows double). */
int fnn_sum_squares(const fnn_exec *ex, int dtype, const void *x, ptrdiff_t n,
                    double *result);

#endif
