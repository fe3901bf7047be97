"""``fastnn bench``: the fused kernels against their NumPy twins, on this machine.

Each case times the same call of ``fastnn.ops`` and of ``fastnn.numpy_ops``
(same arguments, outputs preallocated for both) with timeit, and reports the
best of several repeats: the least disturbed run is the closest to what the
code costs.  The ratio is NumPy's time over fastnn's (above 1: fastnn is
faster).  ``bench/`` holds the fuller pytest-benchmark suite.
"""
import timeit

import numpy as np

__all__ = ["add_parsers", "CASES"]


# Each case: (kernel, shape label, setup(module, rng) -> zero-argument call).
# Shapes are (m rows, n_in -> n_out) for dense layers, (m, k) otherwise.

def _dense_arrays(rng, m, n_in, n_out):
    f = np.float32
    return (rng.standard_normal((m, n_in)).astype(f),
            (rng.standard_normal((n_in, n_out)) * np.sqrt(2 / n_in)).astype(f),
            np.zeros(n_out, f))


def _dense_forward(m, n_in, n_out):
    def setup(mod, rng):
        A, W, b = _dense_arrays(rng, m, n_in, n_out)
        out = (np.empty((m, n_out), A.dtype), np.empty((m, n_out), A.dtype))
        return lambda: mod.dense_forward(A, W, b, "relu", out=out)
    return "dense_forward relu", f"{m} x {n_in}->{n_out}", setup


def _dense_backward(m, n_in, n_out):
    def setup(mod, rng):
        A, W, b = _dense_arrays(rng, m, n_in, n_out)
        Z = rng.standard_normal((m, n_out)).astype(A.dtype)
        dA = rng.standard_normal((m, n_out)).astype(A.dtype)
        out = (np.empty_like(A), np.empty_like(W), np.empty_like(b))
        return lambda: mod.dense_backward(dA, Z, A, W, "relu", out=out)
    return "dense_backward relu", f"{m} x {n_in}->{n_out}", setup


def _softmax_cross_entropy(m, k):
    def setup(mod, rng):
        Z = rng.standard_normal((m, k)).astype(np.float32)
        y = rng.integers(0, k, m)
        out = np.empty_like(Z)
        return lambda: mod.softmax_cross_entropy(Z, y, out=out)
    return "softmax_cross_entropy", f"{m} x {k}", setup


def _adam_step(n):
    def setup(mod, rng):
        w, g = (rng.standard_normal(n).astype(np.float32) for _ in range(2))
        v, s = np.zeros_like(w), np.zeros_like(w)
        return lambda: mod.adam_step(w, g, v, s, 1, 1e-3)
    return "adam_step", f"{n:,} params", setup


def _batchnorm(m, n):
    def setup(mod, rng):
        Z = rng.standard_normal((m, n)).astype(np.float32)
        gamma, beta = np.ones(n, np.float32), np.zeros(n, np.float32)
        dZt = rng.standard_normal((m, n)).astype(np.float32)

        def step():
            _, cache = mod.batchnorm_forward(Z, gamma, beta)
            mod.batchnorm_backward(dZt, cache)
        return step
    return "batchnorm fwd+bwd", f"{m} x {n}", setup


CASES = [_dense_forward(64, 64, 128), _dense_forward(256, 784, 256),
         _dense_forward(1024, 1024, 1024),
         _dense_backward(64, 64, 128), _dense_backward(256, 784, 256),
         _dense_backward(1024, 1024, 1024),
         _softmax_cross_entropy(256, 10), _softmax_cross_entropy(1024, 1000),
         _adam_step(100_000), _adam_step(1_000_000),
         _batchnorm(256, 256), _batchnorm(1024, 1024)]
# --quick: one shape of each kernel, the mid-sized one
QUICK = [CASES[i] for i in (1, 4, 6, 8, 10)]


def add_parsers(add):
    p = add("bench", "time the fused kernels against their NumPy twins on this machine",
            "Time fastnn's C kernels against plain NumPy doing the same work (fastnn.numpy_ops)\n"
            "for dense forward/backward, softmax cross-entropy, the Adam step and batchnorm\n"
            "forward+backward, in float32.  Prints what fastnn runs on (threads, thread\n"
            "pool, GEMM provider: fastnn.show_config()), then the best time per call of each\n"
            "and the ratio numpy / fastnn (above 1: the kernel is faster).  --quick runs one\n"
            "shape per kernel in a few seconds.\n\n"
            "examples:\n  fastnn bench --quick\n  fastnn bench --threads 1")
    p.add_argument("--quick", action="store_true", help="one shape per kernel, short timings")
    p.add_argument("--threads", type=int, help="threads of fastnn's kernels and GEMMs "
                   "(default: fastnn.get_num_threads())")
    p.add_argument("--repeat", type=int, help="timing repeats per case, the best is kept "
                   "(default: 5, --quick: 3)")
    p.set_defaults(run=run)


def _best_time(call, repeat, budget):
    """Best seconds per call over ``repeat`` runs of about ``budget`` seconds each."""
    timer = timeit.Timer(call)
    call()                                          # warm up: first-touch, caches
    number = 1
    while True:                                     # as many calls as fit the budget
        if timer.timeit(number) >= budget / 2 or number >= 1 << 20:
            break
        number *= 2
    return min(timer.repeat(repeat=repeat, number=number)) / number


def run(args):
    import fastnn
    from fastnn import numpy_ops, ops

    if args.threads is not None:
        fastnn.set_num_threads(args.threads)
    repeat = args.repeat or (3 if args.quick else 5)
    if repeat < 1:
        raise ValueError(f"--repeat must be at least 1; got {repeat}")
    budget = 0.05 if args.quick else 0.1
    print(f"fastnn {fastnn.__version__} kernels vs NumPy {np.__version__}, float32, "
          f"{fastnn.get_num_threads()} thread(s), best of {repeat}")
    fastnn.show_config()
    print()
    header = f"{'kernel':<22} {'shape':<18} {'fastnn':>11} {'numpy':>11} {'ratio':>7}"
    print(header)
    print("-" * len(header))
    for kernel, shape, setup in QUICK if args.quick else CASES:
        times = [_best_time(setup(mod, np.random.default_rng(0)), repeat, budget)
                 for mod in (ops, numpy_ops)]
        print(f"{kernel:<22} {shape:<18} {_duration(times[0]):>11} {_duration(times[1]):>11} "
              f"{times[1] / times[0]:>6.2f}x", flush=True)
    return 0


def _duration(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    return f"{seconds * 1e3:.2f} ms"
