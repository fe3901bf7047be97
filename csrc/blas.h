/* The BLAS fastnn uses, and how it is kept to one thread per caller.
 *
 * fastnn/_blas.py finds a CBLAS in the process (NumPy's OpenBLAS, or MKL
 * when installed) and hands its addresses to fnn_blas_configure once, at
 * import.  Every fastnn call that makes GEMMs runs between fnn_blas_begin
 * and fnn_blas_end on the calling thread; pool workers call
 * fnn_blas_thread_init once.  Between them the BLAS runs sequentially on
 * whichever fastnn thread calls it:
 *
 * - a thread-local limit (MKL_Set_Num_Threads_Local) is set to 1 on each
 *   worker for good, and on the caller for the call only;
 * - a process-wide limit (openblas_set_num_threads: NumPy's OpenBLAS has no
 *   other) is lowered to 1 by the first of overlapping fastnn calls and
 *   given back by the last, so it stays the user's outside fastnn's calls.
 *   Another thread's BLAS calls made meanwhile run on one thread, and a
 *   count another thread sets meanwhile (threadpoolctl) is overwritten when
 *   the last fastnn call ends: limits are for one thread at a time.
 */
#ifndef FASTNN_BLAS_H
#define FASTNN_BLAS_H

#include "gemm.h"

/* IN kind (enum fnn_blas_kind), sgemm, dgemm: the CBLAS entry points;
 * IN get_threads, set_threads: the process-wide thread count (int (void),
 * void (int)), or NULL; IN set_threads_local: int (int) returning the
 * previous thread-local count, or NULL; IN sequential: 1 when these (or a
 * BLAS without threads) make every GEMM of a fastnn call single-threaded;
 * IN column_cut_bytes: see fnn_blas in gemm.h. */
void fnn_blas_configure(int kind, void *sgemm, void *dgemm, void *get_threads,
                        void *set_threads, void *set_threads_local, int sequential,
                        long column_cut_bytes);

/* The provider (kind FNN_BLAS_NONE before fnn_blas_configure). */
const fnn_blas *fnn_blas_provider(void);

/* Around a fastnn call that makes GEMMs; pass begin's result to end. */
int fnn_blas_begin(void);
void fnn_blas_end(int token);

/* On each pool worker, before its first block. */
void fnn_blas_thread_init(void);

#endif
