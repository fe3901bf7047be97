/* Design: fastnn's own thread pool, shared by every kernel and every GEMM.
 *
 * Why not OpenMP: a process has one OpenMP runtime per library name, and
 * whoever loads it first fixes its wait policy for everyone.  Measured on a
 * 2-core KVM guest (bench/README.md): with libgomp's spinning policy (the
 * default when PyTorch loads it first) its idle threads spin for ~3-10 ms
 * after each region and starve any other pool that runs in between (BLAS:
 * a 14x slower epoch); with OMP_WAIT_POLICY=PASSIVE every region costs ~65
 * us and every barrier ~30 us to wake a sleeping thread.  Neither the order
 * of imports nor another library's choice of policy may decide fastnn's
 * speed, so fastnn owns its threads and their wait policy:
 *
 * - a worker that finishes a job polls for the next one for a short spin
 *   budget (default 200 us: it covers the Python between the kernels of a
 *   training step, so a step never waits for a sleeping thread), calling
 *   sched_yield between polls after the first 50 us so that any other
 *   runnable thread on its core (BLAS, another library's pool) gets the
 *   core at once; then it sleeps on a condition variable.  Idle, the pool
 *   costs nothing after 200 us.  Measured on a 2-core KVM guest (a C loop
 *   of jobs of 10 us per thread): ~1 us a job while the workers poll (gaps
 *   up to 150 us between jobs), 35-60 us to wake sleeping ones.
 * - the GEMMs run inside the pool's blocks with the BLAS held to one thread
 *   (blas.c), so no second pool is ever woken by fastnn's own work.
 * - one job at a time: a caller that finds the pool busy (another Python
 *   thread, or a block calling fnn_pool_run) runs all blocks itself.  Blocks
 *   map to threads statically and hold the same work however they are run,
 *   so the result is the same either way.
 * - fork: the child starts with no workers (pthread_atfork) and starts new
 *   ones on first use.
 *
 * Without POSIX threads (MSVC), or built with FNN_NO_THREADS, every job runs
 * on the caller.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include "pool.h"

/* FNN_NO_THREADS (setup.py: FASTNN_NO_THREADS=1) builds the serial pool. */
#if (defined(__unix__) || defined(__APPLE__)) && !defined(FNN_NO_THREADS)
#define FNN_POOL_PTHREADS 1
#endif

#ifdef FNN_POOL_PTHREADS
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

/* Hard upper bound on workers; FNN_MAX_BLOCKS bounds useful ones. */
#define FNN_POOL_MAX_WORKERS (FNN_MAX_BLOCKS - 1)
/* A waiting worker first polls with the CPU's pause hint only, for a quarter
 * of the spin budget (50 us by default): the next job of a training step is
 * then picked up within tens of nanoseconds and without a system call
 * (yielding instead left the caller waiting 2x longer for its workers at
 * the end of each job: 10 ms of a 350 ms MNIST epoch on 2 threads, against
 * 5).  Then it yields between polls for the rest of the budget.  The
 * caller's own wait for its workers polls FNN_POOL_PAUSE_POLLS times before
 * it yields. */
#define FNN_POOL_PAUSE_POLLS 1024

#define LOAD(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static inline void fnn_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield" ::: "memory");
#endif
}

static long long fnn_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (long long)t.tv_sec * 1000000000LL + t.tv_nsec;
}

/* One mailbox per worker, each on its own cache line: a job bumps the
 * mailboxes of the workers it needs only; a polling worker watches only its
 * own line.  (Sleepers share one condition variable: waking the workers of
 * a job rouses every sleeper, and the others go back to sleep.) */
typedef struct {
    unsigned gen;               /* bumped by the caller for each job */
    unsigned start;             /* gen when the worker was started */
    char pad[64 - 2 * sizeof(unsigned)];
} fnn_mailbox;

static struct {
    pthread_mutex_t lock;       /* worker start-up and sleeping */
    pthread_cond_t wake;
    int busy;                   /* a caller owns the pool (try-lock) */
    int pending;                /* workers still running the current job */
    int sleepers;               /* workers waiting on `wake` */
    int n_workers;
    int start_failed;           /* pthread_create failed: do not try again */
    long long spin_ns;
    void (*thread_init)(void);
    /* the current job, written before the mailboxes are bumped */
    fnn_block_fn fn;
    void *ctx;
    int n_blocks, n_used;
    fnn_mailbox box[FNN_POOL_MAX_WORKERS + 1];
} P = {.lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
       .spin_ns = 200000};

static pthread_once_t fnn_atfork_once = PTHREAD_ONCE_INIT;

static int fnn_try_own(void)
{
    int expected = 0;
    return __atomic_compare_exchange_n(&P.busy, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

static void fnn_release(void) { STORE(&P.busy, 0); }

/* Waits until mailbox *gen differs from `seen`; returns the new value. */
static unsigned fnn_wait_job(unsigned *gen, unsigned seen)
{
    unsigned g;
    const long long budget = LOAD(&P.spin_ns);
    const long long start = fnn_now_ns();
    long long now = start;
    while (now - start < budget / 4) {
        for (int i = 0; i < 64; ++i) {
            if ((g = LOAD(gen)) != seen)
                return g;
            fnn_cpu_relax();
        }
        now = fnn_now_ns();
    }
    while (now - start < budget) {
        if ((g = LOAD(gen)) != seen)
            return g;
        sched_yield();
        now = fnn_now_ns();
    }
    pthread_mutex_lock(&P.lock);
    __atomic_add_fetch(&P.sleepers, 1, __ATOMIC_SEQ_CST);
    /* seq_cst pairs with the caller's bump of the mailbox then read of
     * sleepers: either we see the new gen here, or the caller sees us asleep */
    while ((g = __atomic_load_n(gen, __ATOMIC_SEQ_CST)) == seen)
        pthread_cond_wait(&P.wake, &P.lock);
    __atomic_sub_fetch(&P.sleepers, 1, __ATOMIC_SEQ_CST);
    pthread_mutex_unlock(&P.lock);
    return g;
}

/* Worker t (thread index t >= 1) runs blocks t, t + T, ... of each job its
 * mailbox announces; the job stays in place until it has reported done. */
static void *fnn_worker(void *arg)
{
    const int t = (int)(intptr_t)arg;
    unsigned *gen = &P.box[t].gen;
    unsigned seen = P.box[t].start; /* a job may be announced before we run */
    if (P.thread_init)
        P.thread_init();
    for (;;) {
        seen = fnn_wait_job(gen, seen);
        const int T = P.n_used, nb = P.n_blocks;
        for (int b = t; b < nb; b += T)
            P.fn(P.ctx, b, nb);
        __atomic_sub_fetch(&P.pending, 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

/* Before fork: no job in flight, lock held, so the child copies a quiet pool. */
static void fnn_atfork_prepare(void)
{
    while (!fnn_try_own())
        sched_yield();
    pthread_mutex_lock(&P.lock);
}

static void fnn_atfork_parent(void)
{
    pthread_mutex_unlock(&P.lock);
    fnn_release();
}

static void fnn_atfork_child(void)
{
    /* the workers did not survive the fork; this thread holds the lock */
    pthread_cond_init(&P.wake, NULL);
    STORE(&P.n_workers, 0);
    P.start_failed = 0;
    P.sleepers = 0;
    P.pending = 0;
    pthread_mutex_unlock(&P.lock);
    fnn_release();
}

static void fnn_register_atfork(void)
{
    pthread_atfork(fnn_atfork_prepare, fnn_atfork_parent, fnn_atfork_child);
}

/* Starts workers until there are `want` (or as many as can be started);
 * called with the pool owned.  Workers block every signal: they belong to
 * the thread that runs Python's handlers. */
static void fnn_start_workers(int want)
{
    if (want > FNN_POOL_MAX_WORKERS)
        want = FNN_POOL_MAX_WORKERS;
    if (P.n_workers >= want || P.start_failed)
        return;
    pthread_once(&fnn_atfork_once, fnn_register_atfork);
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    while (P.n_workers < want) {
        pthread_t tid;
        P.box[P.n_workers + 1].start = P.box[P.n_workers + 1].gen;
        if (pthread_create(&tid, &attr, fnn_worker, (void *)(intptr_t)(P.n_workers + 1)) != 0) {
            P.start_failed = 1;     /* run with the workers there are */
            break;
        }
        STORE(&P.n_workers, P.n_workers + 1);
    }
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
}

void fnn_pool_run(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx)
{
    int T = n_threads < n_blocks ? n_threads : n_blocks;
    if (T > 1 && fnn_try_own()) {
        fnn_start_workers(T - 1);
        if (T > P.n_workers + 1)
            T = P.n_workers + 1;
        if (T > 1) {
            P.fn = fn;
            P.ctx = ctx;
            P.n_blocks = n_blocks;
            P.n_used = T;
            __atomic_store_n(&P.pending, T - 1, __ATOMIC_RELAXED);
            for (int t = 1; t < T; ++t)
                __atomic_add_fetch(&P.box[t].gen, 1, __ATOMIC_SEQ_CST);
            if (__atomic_load_n(&P.sleepers, __ATOMIC_SEQ_CST) > 0) {
                pthread_mutex_lock(&P.lock);
                pthread_cond_broadcast(&P.wake);
                pthread_mutex_unlock(&P.lock);
            }
            for (int b = 0; b < n_blocks; b += T)
                fn(ctx, b, n_blocks);
            /* the workers are running: spin, and yield once it takes long
             * (a worker may have lost its core to another thread) */
            for (int i = 0; LOAD(&P.pending) > 0; ++i) {
                if (i < FNN_POOL_PAUSE_POLLS)
                    fnn_cpu_relax();
                else
                    sched_yield();
            }
            fnn_release();
            return;
        }
        fnn_release();
    }
    for (int b = 0; b < n_blocks; ++b)
        fn(ctx, b, n_blocks);
}

/* fastnn's thread count: the blocks a parallel pass is cut into.  Exported
 * under fastnn_* names so that threadpoolctl (fastnn/_runtime.pyx registers
 * a controller) can read and limit it like an OpenMP or BLAS pool. */
static int fnn_threads = 1;

int fastnn_get_num_threads(void) { return LOAD(&fnn_threads); }

void fastnn_set_num_threads(int n)
{
    STORE(&fnn_threads, n < 1 ? 1 : (n > FNN_MAX_BLOCKS ? FNN_MAX_BLOCKS : n));
}

void fnn_pool_set_spin(long long nanoseconds)
{
    STORE(&P.spin_ns, nanoseconds < 0 ? 0 : nanoseconds);
}

long long fnn_pool_spin(void) { return LOAD(&P.spin_ns); }

void fnn_pool_set_thread_init(void (*init)(void)) { P.thread_init = init; }

int fnn_pool_workers(void) { return LOAD(&P.n_workers); }

int fnn_pool_threaded(void) { return 1; }

#else   /* no POSIX threads: every job on the caller */

int fastnn_get_num_threads(void) { return 1; }
void fastnn_set_num_threads(int n) { (void)n; }

void fnn_pool_run(int n_threads, int n_blocks, fnn_block_fn fn, void *ctx)
{
    (void)n_threads;
    for (int b = 0; b < n_blocks; ++b)
        fn(ctx, b, n_blocks);
}

void fnn_pool_set_spin(long long nanoseconds) { (void)nanoseconds; }
long long fnn_pool_spin(void) { return 0; }
void fnn_pool_set_thread_init(void (*init)(void)) { (void)init; }
int fnn_pool_workers(void) { return 0; }
int fnn_pool_threaded(void) { return 0; }

#endif
