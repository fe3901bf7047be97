# distutils: sources = csrc/pool.c csrc/blas.c
"""fastnn's runtime: the one thread pool every kernel and every GEMM runs on,
the BLAS those GEMMs go to, and the thread count.

Design: a training step alternates GEMMs and elementwise passes many times
a millisecond.  Two thread pools taking turns (a BLAS's and an OpenMP
runtime's) each wait for the other's threads to wake or stop spinning, and
which OpenMP runtime and wait policy a process has depends on what it
imported first (csrc/pool.c has the measurements).  So one pool, fastnn's
own, runs everything: a dense layer's GEMM is cut into blocks of rows or
columns, each block's GEMM made by a BLAS held to one thread (csrc/blas.h)
and its bias and activation applied while it is in cache (csrc/dense.c).  The
speed is then the same whatever else the process has loaded.

This module is the only home of the pool and the BLAS configuration (one
copy per process); the kernel modules reach them through ``exec_context``.
Thread count: ``OMP_NUM_THREADS`` when set, else the CPUs this process may
use (affinity mask and cgroup quota); ``set_num_threads`` and threadpoolctl
(``threadpool_limits(n)`` or ``threadpool_limits(n, user_api="fastnn")``)
change it; it never changes the BLAS's own thread count outside fastnn's
calls.
"""
import math
import os
import sys
import warnings

from fastnn._csrc cimport (fnn_exec, fnn_pool_run, fastnn_get_num_threads,
                           fastnn_set_num_threads, fnn_pool_set_spin, fnn_pool_spin,
                           fnn_pool_set_thread_init, fnn_pool_workers, fnn_pool_threaded,
                           fnn_blas_configure, fnn_blas_provider, fnn_blas_begin, fnn_blas_end,
                           fnn_blas_thread_init, FNN_MAX_BLOCKS, FNN_BLAS_NONE)

from fastnn import _blas

__all__ = ["get_num_threads", "set_num_threads", "usable_cpus", "runtime_info",
           "show_config", "MAX_THREADS"]

#: The most threads fastnn's kernels use (their reductions keep one partial
#: result per block on the stack).
MAX_THREADS = FNN_MAX_BLOCKS

cdef object _provider = None
cdef bint _gemm_c = False       # GEMMs through the BLAS pointers, not numpy.matmul
_warned = set()


cdef fnn_exec exec_context() noexcept nogil:
    cdef fnn_exec ex
    # through numpy.matmul the BLAS owns the threads: every pass runs on the
    # calling thread, so no second pool runs against it
    ex.n_threads = fastnn_get_num_threads() if _gemm_c else 1
    ex.run = fnn_pool_run
    ex.blas = fnn_blas_provider()
    return ex


cdef int blas_begin() noexcept nogil:
    return fnn_blas_begin()


cdef void blas_end(int token) noexcept nogil:
    fnn_blas_end(token)


cdef bint gemm_in_c() noexcept:
    return _gemm_c


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, RuntimeWarning, stacklevel=3)


# ---------------------------------------------------------------------- CPUs

def _cgroup_cpu_limit(proc_cgroup="/proc/self/cgroup", root="/sys/fs/cgroup"):
    """The CPU quota of this process's cgroup (v2 ``cpu.max`` or v1
    ``cpu.cfs_quota_us``), in CPUs, or None when there is none."""
    paths = []
    try:
        with open(proc_cgroup) as f:
            for line in f:
                parts = line.strip().split(":", 2)
                if len(parts) == 3 and parts[0] == "0":
                    paths.append(os.path.join(root, parts[2].lstrip("/"), "cpu.max"))
    except OSError:
        return None
    paths.append(os.path.join(root, "cpu.max"))
    for path in paths:
        try:
            with open(path) as f:
                quota, period = f.read().split()[:2]
        except (OSError, ValueError):
            continue
        if quota != "max" and int(period) > 0:
            return int(quota) / int(period)
        return None
    for base in (os.path.join(root, "cpu"), os.path.join(root, "cpu,cpuacct")):
        try:
            with open(os.path.join(base, "cpu.cfs_quota_us")) as f:
                quota = int(f.read())
            with open(os.path.join(base, "cpu.cfs_period_us")) as f:
                period = int(f.read())
        except (OSError, ValueError):
            continue
        if quota > 0 and period > 0:
            return quota / period
        return None
    return None


def usable_cpus():
    """CPUs this process may use: its affinity mask, capped by its cgroup's
    CPU quota (a container's ``--cpus``), at least 1."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    quota = _cgroup_cpu_limit()
    if quota:
        n = min(n, max(1, math.ceil(quota)))
    return max(1, n)


def _omp_num_threads():
    """The first count of OMP_NUM_THREADS, or None when unset or not a count."""
    value = os.environ.get("OMP_NUM_THREADS", "").split(",")[0].strip()
    return int(value) if value.isdigit() and int(value) >= 1 else None


def _check_oversubscription(n, source):
    cpus = usable_cpus()
    if n > cpus:
        _warn_once(("threads", n, cpus),
                   f"fastnn: {n} threads ({source}) on {cpus} usable CPU"
                   f"{'s' if cpus > 1 else ''}: threads that share a CPU wait for each "
                   f"other at every step, which is slower than {cpus}; call "
                   f"fastnn.set_num_threads({cpus})"
                   + (" or unset OMP_NUM_THREADS" if source.startswith("OMP") else ""))


# ---------------------------------------------------------------- the count

def get_num_threads():
    """Number of threads fastnn's kernels and GEMMs use."""
    return fastnn_get_num_threads()


def set_num_threads(n):
    """Run fastnn's kernels and GEMMs on ``n`` threads (the caller's and n - 1
    pool workers).

    Results are reproducible for a given thread count: reductions are split
    into one fixed block per thread and combined in order.  The BLAS's own
    thread count (NumPy's) is left as it is: fastnn holds the BLAS to one
    thread only for the duration of each of its calls.  More threads than
    the CPUs this process may use (``usable_cpus()``) run slower and warn.
    """
    if isinstance(n, bool) or not hasattr(n, "__index__"):
        raise TypeError(f"set_num_threads: n must be an integer >= 1; got {n!r}")
    n = n.__index__()
    if n < 1:
        raise ValueError(f"set_num_threads: n must be an integer >= 1; got {n}")
    if n > MAX_THREADS:
        raise ValueError(f"set_num_threads: n must be at most {MAX_THREADS} threads; got {n}")
    if not fnn_pool_threaded():
        n = 1
    _check_oversubscription(n, f"set_num_threads({n})")
    fastnn_set_num_threads(n)


def pool_threaded():
    """Whether fastnn has a thread pool (POSIX threads); without one every
    kernel runs on the calling thread and the thread count stays 1."""
    return bool(fnn_pool_threaded())


def _set_spin_us(us):
    """How long idle workers poll before they sleep, in microseconds (default
    200; tests/test_threads.py sets 0 to drive every job through a wake-up)."""
    fnn_pool_set_spin(<long long>(float(us) * 1000))


# ------------------------------------------------------------ introspection

_POLICY_ENV = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME", "OMP_NUM_THREADS",
               "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_CORETYPE")


def _cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def runtime_info():
    """What fastnn runs on, as a dict: threads, pool, GEMM provider, the
    OpenMP runtimes other libraries loaded into this process, the
    environment variables that steer them, the CPU."""
    p = _provider
    others = []
    try:
        from threadpoolctl import threadpool_info
        others = [{k: info.get(k) for k in ("internal_api", "prefix", "filepath",
                                            "num_threads", "version")}
                  for info in threadpool_info() if info.get("user_api") == "openmp"]
    except ImportError:
        pass
    return {
        "threads": get_num_threads(),
        "usable_cpus": usable_cpus(),
        "cpu": _cpu_name(),
        "pool": {"kind": "fastnn (POSIX threads)" if fnn_pool_threaded()
                 else "none: every kernel on the calling thread",
                 "workers_started": fnn_pool_workers(),
                 "spin_us": fnn_pool_spin() / 1000,
                 "wait_policy": f"poll {fnn_pool_spin() / 4000:g} us, then poll yielding the "
                                f"CPU until {fnn_pool_spin() / 1000:g} us, then sleep"},
        "gemm": {"provider": p.name, "version": p.version, "filepath": p.filepath,
                 "detail": p.detail, "integers": {1: "32-bit", 2: "64-bit"}.get(p.kind),
                 "route": ("fastnn's threads, BLAS held to 1 thread per thread"
                           if p.sequential else
                           "the BLAS's own threads (fastnn cannot hold it to one)")
                 if p.kind else "numpy.matmul (the BLAS's own threads), passes serial"},
        "openmp_runtimes_loaded": others,
        "env": {k: os.environ.get(k) for k in _POLICY_ENV},
    }


def show_config(file=None):
    """Print what fastnn runs on: threads, thread pool and wait policy, GEMM
    provider and its kernels, the OpenMP runtimes other libraries loaded (fastnn
    uses none of them), and the environment variables that steer them."""
    info = runtime_info()
    out = file if file is not None else sys.stdout
    g, pool = info["gemm"], info["pool"]
    env = ", ".join(f"{k}={v}" for k, v in info["env"].items() if v is not None) or "none set"
    omp = "; ".join(f"{o['prefix']} ({o['filepath']})" for o in info["openmp_runtimes_loaded"])
    lines = [
        f"cpu:        {info['cpu']}, {info['usable_cpus']} usable",
        f"threads:    {info['threads']}",
        f"pool:       {pool['kind']}; wait policy: {pool['wait_policy']}; "
        f"{pool['workers_started']} worker(s) started",
        f"gemm:       {g['provider']} {g['version']}".rstrip() + (f" [{g['detail']}]" if g["detail"] else ""),
        f"            via {g['route']}",
    ]
    if g["filepath"]:
        lines.append(f"            {g['filepath']}")
    lines += [f"openmp:     not used by fastnn; loaded by others: {omp or 'none'}",
              f"env:        {env}"]
    print("\n".join(lines), file=out)


# ----------------------------------------------------------- threadpoolctl

def _register_threadpoolctl():
    """Let threadpoolctl see and limit fastnn's pool (user_api "fastnn")."""
    try:
        import threadpoolctl
        base = threadpoolctl.LibController
    except (ImportError, AttributeError):
        return False

    class FastnnController(base):
        user_api = "fastnn"
        internal_api = "fastnn"
        filename_prefixes = ("_runtime",)
        check_symbols = ("fastnn_get_num_threads", "fastnn_set_num_threads")

        def get_num_threads(self):
            return self.dynlib.fastnn_get_num_threads()

        def set_num_threads(self, num_threads):
            self.dynlib.fastnn_set_num_threads(max(1, int(num_threads)))

        def get_version(self):
            return None

    try:
        threadpoolctl.register(FastnnController)
    except Exception:           # an older threadpoolctl without this API
        return False
    return True


# --------------------------------------------------------------- at import

def _configure():
    global _provider, _gemm_c
    provider, message = _blas.find()
    if message:
        _warn_once(("blas",), f"fastnn: {message}")
    threaded = fnn_pool_threaded()
    if not threaded:
        # no pool: the BLAS keeps its own threads, fastnn holds none of them
        provider = provider._replace(get_threads=0, set_threads=0, set_threads_local=0,
                                     sequential=False)
    fnn_blas_configure(provider.kind, <void *><size_t>provider.sgemm,
                       <void *><size_t>provider.dgemm,
                       <void *><size_t>provider.get_threads,
                       <void *><size_t>provider.set_threads,
                       <void *><size_t>provider.set_threads_local, provider.sequential,
                       provider.column_cut_bytes)
    _provider = provider
    _gemm_c = provider.kind != FNN_BLAS_NONE
    fnn_pool_set_thread_init(fnn_blas_thread_init)
    omp = _omp_num_threads()
    n = min(omp if omp is not None else usable_cpus(), MAX_THREADS) if threaded else 1
    if threaded and omp is not None:
        _check_oversubscription(n, f"OMP_NUM_THREADS={omp}")
    fastnn_set_num_threads(n)
    if n > 1 and message is None and provider.detail == _blas.NO_CBLAS:
        _warn_once(("sequential",),
                   "fastnn: no CBLAS library that fastnn can call was found in this process "
                   "(NumPy's BLAS is not one), so its GEMMs go through numpy.matmul and its "
                   "passes run on one thread, which is slower; install fastnn's MKL extra "
                   "(pip install 'fastnn[mkl]') or NumPy's wheel (pip install --force-reinstall "
                   "numpy)")
    elif n > 1 and message is None and provider.kind and not provider.sequential:
        # the GEMMs then stay whole, on the BLAS's own threads, beside fastnn's
        _warn_once(("sequential",),
                   f"fastnn: {provider.name} [{provider.detail}]: fastnn cannot hold this BLAS "
                   f"to one thread per thread, so its GEMMs run whole on the BLAS's own "
                   f"threads beside fastnn's pool, which is slower; install fastnn's MKL extra "
                   f"(pip install 'fastnn[mkl]') or NumPy's wheel, whose OpenBLAS it can hold "
                   f"(pip install --force-reinstall numpy)")


_configure()
THREADPOOLCTL_REGISTERED = _register_threadpoolctl()
