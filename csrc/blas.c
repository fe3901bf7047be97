/* Design: one BLAS for the process, held to one thread inside fastnn's
 * calls (blas.h says how).  Why: fastnn's pool cuts every GEMM into blocks,
 * one per thread; a BLAS that also threaded each block would run a second
 * pool against the first (bench/README.md measures both).
 * The process-wide count is only ever lowered where a lock guards it
 * (POSIX): fastnn/_runtime.pyx configures no count to hold elsewhere.  A
 * fork while another thread is inside a fastnn call leaves the child with
 * the count lowered and nobody to give it back: the child handler does.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stddef.h>
#include "blas.h"

#if defined(__unix__) || defined(__APPLE__)
#define FNN_BLAS_PTHREADS 1
#include <pthread.h>
static pthread_mutex_t fnn_blas_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t fnn_blas_atfork_once = PTHREAD_ONCE_INIT;
#define FNN_LOCK() pthread_mutex_lock(&fnn_blas_lock)
#define FNN_UNLOCK() pthread_mutex_unlock(&fnn_blas_lock)
#else
#define FNN_LOCK() ((void)0)
#define FNN_UNLOCK() ((void)0)
#endif

typedef int (*fnn_get_fn)(void);
typedef void (*fnn_set_fn)(int);
typedef int (*fnn_set_local_fn)(int);

static fnn_blas fnn_provider = {FNN_BLAS_NONE, NULL, NULL, 0, 1L << 18};
static fnn_get_fn fnn_get_threads;
static fnn_set_fn fnn_set_threads;
static fnn_set_local_fn fnn_set_local;
static int fnn_active;          /* fastnn calls between begin and end */
static int fnn_saved;           /* the process-wide count they lowered */

#ifdef FNN_BLAS_PTHREADS
static void fnn_blas_atfork_prepare(void) { FNN_LOCK(); }
static void fnn_blas_atfork_parent(void) { FNN_UNLOCK(); }

/* Only the forking thread lives on, and it was not inside a fastnn call
 * (it held the lock): the calls that were are gone, and so is their hold. */
static void fnn_blas_atfork_child(void)
{
    if (fnn_active > 0 && fnn_saved != 1 && fnn_set_threads)
        fnn_set_threads(fnn_saved);
    fnn_active = 0;
    FNN_UNLOCK();
}

static void fnn_blas_register_atfork(void)
{
    pthread_atfork(fnn_blas_atfork_prepare, fnn_blas_atfork_parent, fnn_blas_atfork_child);
}
#endif

void fnn_blas_configure(int kind, void *sgemm, void *dgemm, void *get_threads,
                        void *set_threads, void *set_threads_local, int sequential,
                        long column_cut_bytes)
{
#ifdef FNN_BLAS_PTHREADS
    pthread_once(&fnn_blas_atfork_once, fnn_blas_register_atfork);
#else
    get_threads = set_threads = NULL;   /* no lock to guard a shared count */
#endif
    FNN_LOCK();
    fnn_provider.column_cut_bytes = column_cut_bytes;
    fnn_provider.kind = kind;
    fnn_provider.sgemm = sgemm;
    fnn_provider.dgemm = dgemm;
    fnn_provider.sequential = sequential;
    fnn_get_threads = get_threads && set_threads ? (fnn_get_fn)get_threads : NULL;
    fnn_set_threads = get_threads && set_threads ? (fnn_set_fn)set_threads : NULL;
    fnn_set_local = (fnn_set_local_fn)set_threads_local;
    FNN_UNLOCK();
}

const fnn_blas *fnn_blas_provider(void) { return &fnn_provider; }

int fnn_blas_begin(void)
{
    int token = fnn_set_local ? fnn_set_local(1) : 0;
    if (fnn_set_threads) {
        FNN_LOCK();
        if (fnn_active++ == 0) {
            fnn_saved = fnn_get_threads();
            if (fnn_saved != 1)
                fnn_set_threads(1);
        }
        FNN_UNLOCK();
    }
    return token;
}

void fnn_blas_end(int token)
{
    if (fnn_set_threads) {
        FNN_LOCK();
        if (--fnn_active == 0 && fnn_saved != 1)
            fnn_set_threads(fnn_saved);
        FNN_UNLOCK();
    }
    if (fnn_set_local)
        fnn_set_local(token);
}

void fnn_blas_thread_init(void)
{
    if (fnn_set_local)
        fnn_set_local(1);
}
