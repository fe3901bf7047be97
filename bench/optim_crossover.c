/* Where does a second thread start paying for the optimizer kernels?
 *
 * Times each kernel of csrc/optim.c on n float32 parameters with 1 thread
 * and with T threads of fastnn's pool (csrc/pool.c, its workers polling
 * between calls as in a training loop), forcing the parallel path at every
 * size (the kernels are compiled with both thresholds at 1), warm caches,
 * best of 15.  The thresholds in csrc/optim.h come from this table.
 *
 *   gcc -O3 -std=c99 -fno-math-errno -pthread \
 *       -DFNN_OPTIM_PARALLEL_MIN=1 -DFNN_OPTIM_SQRT_PARALLEL_MIN=1 -Icsrc \
 *       bench/optim_crossover.c csrc/optim.c csrc/pool.c \
 *       -lm -o /tmp/optim_crossover && /tmp/optim_crossover [T]
 */
#define _POSIX_C_SOURCE 199309L   /* clock_gettime under -std=c99 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "optim.h"
#include "pool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

enum { SGD, MOMENTUM, RMSPROP, ADAM, N_KERNELS };
static const char *NAMES[N_KERNELS] = {"sgd", "momentum", "rmsprop", "adam"};

static void run(int kernel, float *w, float *g, float *v, float *s,
                ptrdiff_t n, int threads, int64_t t)
{
    const fnn_exec ex = {threads, fnn_pool_run, NULL};
    switch (kernel) {
    case SGD:
        fnn_sgd_step(&ex, FNN_FLOAT32, w, g, 1e-3, 0.0, n);
        break;
    case MOMENTUM:
        fnn_momentum_step(&ex, FNN_FLOAT32, w, g, v, 1e-3, 0.9, 1, 0, n);
        break;
    case RMSPROP:
        fnn_rmsprop_step(&ex, FNN_FLOAT32, w, g, s, 1e-3, 0.9, 1e-8, n);
        break;
    case ADAM:
        fnn_adam_step(&ex, FNN_FLOAT32, w, g, v, s, t, 1e-3, 0.9, 0.999, 1e-8, 0.0, n);
        break;
    }
}

/* Best time per call (seconds) over `reps` batches of calls. */
static double best_time(int kernel, float *w, float *g, float *v, float *s,
                        ptrdiff_t n, int threads)
{
    const int reps = 15;
    const long calls = n < 100000 ? 2000000 / (n + 100) + 10 : 20;
    double best = 1e30;
    for (int r = 0; r < reps; ++r) {
        double t0 = now();
        for (long c = 0; c < calls; ++c)
            run(kernel, w, g, v, s, n, threads, (int64_t)(c + 1));
        double dt = (now() - t0) / (double)calls;
        best = dt < best ? dt : best;
    }
    return best;
}

int main(int argc, char **argv)
{
    const int T = argc > 1 ? atoi(argv[1]) : 2;
    const ptrdiff_t sizes[] = {256, 1024, 2048, 4096, 8192, 16384, 32768,
                               65536, 262144, 1048576, 4194304};
    const int n_sizes = (int)(sizeof sizes / sizeof sizes[0]);
    const ptrdiff_t nmax = sizes[n_sizes - 1];
    float *w = malloc(nmax * sizeof(float)), *g = malloc(nmax * sizeof(float));
    float *v = malloc(nmax * sizeof(float)), *s = malloc(nmax * sizeof(float));
    if (!w || !g || !v || !s) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (ptrdiff_t i = 0; i < nmax; ++i) {
        w[i] = 1.0f;
        g[i] = (float)((i % 17) - 8) * 1e-3f;
        v[i] = 0.0f;
        s[i] = 0.0f;
    }
    printf("float32, time per step in us (1 thread | %d threads | speed-up)\n", T);
    printf("%10s", "n");
    for (int k = 0; k < N_KERNELS; ++k)
        printf(" | %26s", NAMES[k]);
    printf("\n");
    for (int i = 0; i < n_sizes; ++i) {
        ptrdiff_t n = sizes[i];
        printf("%10td", n);
        for (int k = 0; k < N_KERNELS; ++k) {
            double t1 = best_time(k, w, g, v, s, n, 1);
            double tT = best_time(k, w, g, v, s, n, T);
            printf(" | %8.2f %8.2f %7.2fx", 1e6 * t1, 1e6 * tT, t1 / tT);
        }
        printf("\n");
    }
    free(w);
    free(g);
    free(v);
    free(s);
    return 0;
}
