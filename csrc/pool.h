/* fastnn's thread pool: the one set of threads every parallel kernel and
 * every parallel GEMM of fastnn runs on (pool.c says why it is fastnn's own).
 *
 * Work is cut into blocks whose content depends only on their number
 * (fnn_block_rows), and fnn_pool_run maps blocks to threads statically, so a
 * result depends on the number of blocks, never on which thread ran a block
 * or on how many threads were actually free.
 */
#ifndef FASTNN_POOL_H
#define FASTNN_POOL_H

#include "common.h"

/* Runs fn(ctx, b, n_blocks) for every b in [0, n_blocks) on at most
 * n_threads threads: the caller runs blocks 0, T, 2T, ... and pool worker
 * t-1 runs blocks t, t + T, ... (T = the threads used); returns when every
 * block is done.  Every block runs on the caller instead when n_threads or
 * n_blocks is 1, when the pool is running another caller's job (a second
 * Python thread, or a block that itself calls fnn_pool_run), when no worker
 * can be started, or in a build without threads. */
void fnn_pool_run(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx);

/* fastnn's thread count (1 to FNN_MAX_BLOCKS; always 1 without threads).
 * fastnn.set_num_threads and threadpoolctl set it. */
int fastnn_get_num_threads(void);
void fastnn_set_num_threads(int n);

/* How long an idle worker keeps polling for the next job before it sleeps
 * (nanoseconds; pool.c explains the default).  0: sleep at once. */
void fnn_pool_set_spin(long long nanoseconds);
long long fnn_pool_spin(void);

/* Called once on each worker thread before its first block (fastnn sets the
 * BLAS of that thread to one thread).  Set before the first fnn_pool_run. */
void fnn_pool_set_thread_init(void (*init)(void));

/* Workers started so far (they start on first use; a fork leaves none). */
int fnn_pool_workers(void);

/* 1 when the pool has threads (POSIX threads), 0 when every job runs on the
 * caller (other platforms). */
int fnn_pool_threaded(void);

#endif
