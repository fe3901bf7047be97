/* Row gathers: the rows of a mini-batch copied out of the training set in
 * the order of a shuffle.
 *
 * Rows are `row_bytes` bytes each (any element type: inputs, labels, one-hot
 * targets); src holds n_src rows, C-contiguous.
 */
#ifndef FASTNN_GATHER_H
#define FASTNN_GATHER_H

#include <stdint.h>
#include "common.h"

/* IN src (n_src rows), idx (m,); OUT dst (m rows): dst[i] = src[idx[i]].
 * FNN_EINVAL, with nothing read out of bounds and dst untouched, when an
 * index is not in [0, n_src) (every index is checked before any copy). */
int fnn_gather_rows(const fnn_exec *ex, const void *src, ptrdiff_t n_src,
                    ptrdiff_t row_bytes, const int64_t *idx, ptrdiff_t m, void *dst);

#endif
