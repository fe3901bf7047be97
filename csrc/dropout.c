/* Design: inverted dropout with a counter-based mask.
 *
 * Random bits: SplitMix64 (Steele, Lea and Flood 2014), whose k-th output is
 * a pure function of (state, k), mix64(state + (k + 1) * gamma): any element
 * can be drawn without drawing the ones before it, so the mask is the same for
 * every thread count and block split, and a vectorised NumPy twin can compute
 * it exactly.  The initial state is mix64(seed), so nearby seeds (0, 1, 2...)
 * give unrelated streams.  Each 64-bit output serves two elements, 32 bits
 * each: element e reads the low half of word e / 2 when e is even, the high
 * half when odd, as an integer u_e in [0, 2^32).
 *
 * Keep rule: element e is kept when u_e / 2^32 < keep_prob, evaluated exactly
 * as u_e <= ceil(keep_prob * 2^32) - 1 (keep_prob * 2^32 is exact in double).
 * keep_prob = 1 keeps everything.  The mask is uint8 (0 dropped, 1 kept): a
 * quarter of float32 storage, and backward only needs to know kept or not.
 * Outputs are A * (mask ? 1/keep_prob : 0), so A_out of the kept elements is
 * A * (REAL)(1 / keep_prob), and backward uses the same factor.
 */
#include <stdlib.h>
#include <math.h>
#include "dropout.h"

#define FNN_GOLDEN_GAMMA 0x9E3779B97F4A7C15ull
/* Words hashed per buffer fill: 2 KiB of uint32 on the stack. */
#define FNN_DROPOUT_CHUNK 256

/* SplitMix64's output function (variant 13 of Stafford's Mix). */
static inline uint64_t fnn_mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Largest u kept: ceil(keep_prob * 2^32) - 1, for keep_prob in (0, 1]. */
static inline uint32_t fnn_dropout_umax(double keep_prob)
{
    const double t = ceil(keep_prob * 4294967296.0);
    return (uint32_t)((uint64_t)t - 1u);
}

#define FNN_IMPL "dropout_impl.h"
#include "instantiate.h"

int fnn_dropout_forward(const fnn_exec *ex, int dtype, const void *A, void *A_out,
                        uint8_t *mask, ptrdiff_t size, double keep_prob, uint64_t seed)
{
    return FNN_DISPATCH(dtype, fnn_dropout_forward, ex, A, A_out, mask, size, keep_prob,
                        seed);
}

int fnn_dropout_backward(const fnn_exec *ex, int dtype, const void *dA, const uint8_t *mask,
                         void *dA_prev, ptrdiff_t size, double keep_prob)
{
    return FNN_DISPATCH(dtype, fnn_dropout_backward, ex, dA, mask, dA_prev, size,
                        keep_prob);
}
