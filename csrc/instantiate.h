/* Instantiates the kernel body named by FNN_IMPL (a *_impl.h file, written
 * over REAL with names FNN_NAME(base)) once for float (suffix _f32) and once
 * for double (_f64), with SFX_DTYPE the matching enum fnn_dtype.  Usage, in the family's .c file:
 *
 *     #define FNN_IMPL "dense_impl.h"
 *     #include "instantiate.h"
 *
 * No include guard: it is meant to be included once per family. */
#ifndef FNN_IMPL
#error "define FNN_IMPL as the kernel body to instantiate before including instantiate.h"
#endif

#define REAL float
#define SFX f32
#define SFX_DTYPE FNN_FLOAT32
#include FNN_IMPL
#undef REAL
#undef SFX
#undef SFX_DTYPE

#define REAL double
#define SFX f64
#define SFX_DTYPE FNN_FLOAT64
#include FNN_IMPL
#undef REAL
#undef SFX
#undef SFX_DTYPE

#undef FNN_IMPL
