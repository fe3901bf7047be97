/* Inverted-dropout kernels over a C-contiguous array of `size` elements of
 * element type `dtype` (enum fnn_dtype); the mask is uint8, 1 = kept.
 *
 * The mask is a pure function of (seed, element index, keep_prob): element e
 * is kept when u_e < keep_prob, where u_e is 32 bits of the SplitMix64 stream
 * of the seed (see dropout.c) read as a number in [0, 1).  It is therefore
 * the same for every thread count, and fastnn.numpy_ops reproduces it.
 */
#ifndef FASTNN_DROPOUT_H
#define FASTNN_DROPOUT_H

#include <stdint.h>
#include "common.h"

/* IN A (size); OUT A_out (size), may be A; OUT mask (size).
 * keep_prob in (0, 1] (else FNN_EINVAL):
 * mask_e = [u_e < keep_prob], A_out = A * mask / keep_prob. */
int fnn_dropout_forward(const fnn_exec *ex, int dtype, const void *A, void *A_out,
                        uint8_t *mask, ptrdiff_t size, double keep_prob, uint64_t seed);

/* IN dA (size), mask (size, non-zero = kept); OUT dA_prev (size), may be dA.
 * dA_prev = dA * mask / keep_prob, keep_prob in (0, 1] (else FNN_EINVAL). */
int fnn_dropout_backward(const fnn_exec *ex, int dtype, const void *dA, const uint8_t *mask,
                         void *dA_prev, ptrdiff_t size, double keep_prob);

#endif
