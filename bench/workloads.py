"""What bench/ times, every implementation by name: imported only by
bench/worker.py, in a fresh process per implementation, so that no other
implementation's libraries (PyTorch's OpenMP runtime and MKL, NumPy's
OpenBLAS threads) are in the process that runs it.

``setup(workload, impl, **params)`` builds the data, checks the
implementation's result once against a float64 reference where there is
one, and returns a zero-argument callable: one call is what one round
times (a kernel call, or an epoch).  It raises ``Skip`` when the
implementation cannot run here (torch not installed, no MNIST file).

Thread counts: the worker's ``FASTNN_BENCH_THREADS`` is given to whatever
the implementation runs on: fastnn.set_num_threads, NumPy's BLAS
(threadpoolctl), torch.set_num_threads, the floors' OpenMP threads.

Workloads and implementations:
  dense_forward, dense_backward (m, n_in, n_out), float32 relu:
      gemm     the bare GEMM(s) of fastnn's BLAS provider with its own
               threads, called from C (floors.c): the floor
      fastnn   fastnn.ops.dense_forward/backward into preallocated buffers
      numpy    fastnn.numpy_ops (the NumPy twin), same call
      torch    torch.relu(torch.addmm(...)) / the same expressions in torch
  batchnorm (m, n): forward (training, running statistics) + backward:
      fastnn, numpy (the twin), torch (BatchNorm1d, autograd backward)
  loss (m, k): softmax cross-entropy of (m, k) float32 logits against int64
      labels, loss and dZ into a preallocated buffer: fastnn, numpy (the
      twin), and both with sample weights (fastnn_weighted, numpy_weighted:
      uniform [0, 2) weights)
  adam (n): one step: fastnn (fused), numpy (the course's code), twin,
      torch (torch.optim.Adam(fused=True).step()), floor (floors.c stream)
  epoch: one epoch of 784-256-128-10 on MNIST (epoch.py has the details):
      fastnn, fastnn_fit1 (a whole fit(epochs=1) call), torch, numpy,
      gemm (its GEMMs on the provider's threads), gemm_split (the same cut
      into row blocks on OpenMP threads, the BLAS on one each)
  wide (width, batch): one epoch over 20,000 rows of 784 -> width -> width
      -> 10: fastnn, torch
  inference (rows, net): predicted probabilities of MNIST-shaped networks
      (bench/inference.py): fastnn (predict_proba), ort (ONNX Runtime on
      fastnn.onnx's file, BatchNorm folded), ort_node (BatchNormalization
      nodes), torch (eager, inference_mode)
  scale: sample weights, partial_fit and a memory-mapped file of 1.57 GB
      against a plain fit's epoch (see scale())
  gemm_epoch (provider): the epoch's GEMMs on one BLAS: openblas (NumPy's),
      scipy (SciPy's OpenBLAS), mkl, blis, torch; their own threads, or
      provider:split for row blocks on OpenMP threads (the BLAS on one each)
"""
import ctypes
import ctypes.util
import glob
import os
import sys

import numpy as np

import epoch as ep
import inference as inf

HERE = os.path.dirname(os.path.abspath(__file__))
THREADS = int(os.environ.get("FASTNN_BENCH_THREADS", "1"))
L2 = 0.1
KEEP_PROB = 0.8
LR, BETA1, BETA2, EPS = 1e-3, 0.9, 0.999, 1e-8


class Skip(Exception):
    """This implementation cannot run in this environment (the reason)."""


def setup(workload, impl, **params):
    try:
        make = WORKLOADS[workload]
    except KeyError:
        raise ValueError(f"unknown workload {workload!r}") from None
    return make(impl, **params)


# ---------------------------------------------------------------- libraries

def _fastnn():
    import fastnn
    import fastnn.numpy_ops  # noqa: F401  (the twins, not imported by fastnn itself)
    fastnn.set_num_threads(THREADS)
    # NumPy's BLAS too: fastnn holds it to one thread in its own calls, but the
    # twins and FASTNN_BLAS=numpy call it through numpy.matmul
    _numpy_blas()
    return fastnn


def _numpy_blas():
    from threadpoolctl import threadpool_limits
    threadpool_limits(THREADS, user_api="blas")


def _torch():
    try:
        import torch
    except ImportError:
        raise Skip("torch is not installed (pip install 'fastnn[torch]')") from None
    torch.set_num_threads(THREADS)
    return torch


def _floors():
    path = os.environ.get("FASTNN_BENCH_FLOORS")
    if not path:
        raise Skip("bench/floors.c was not built (no C compiler with OpenMP?)")
    lib = ctypes.CDLL(path)
    lib.fnn_bench_epoch_alloc.restype = ctypes.c_void_p
    lib.fnn_bench_epoch_alloc.argtypes = [ctypes.c_long]
    lib.fnn_bench_epoch.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p,
                                    ctypes.c_long, ctypes.c_long, ctypes.c_int]
    lib.fnn_bench_gemms.argtypes = ([ctypes.c_void_p] + [ctypes.c_int] * 3 + [ctypes.c_long] * 3
                                    + [ctypes.c_void_p, ctypes.c_long] * 3 + [ctypes.c_long])
    fp = ctypes.c_void_p
    lib.fnn_bench_stream.argtypes = [fp, fp, fp, fp, ctypes.c_ssize_t, ctypes.c_int]
    return lib


class Blas:
    """A BLAS library's sgemm (a pointer and its kind, as floors.c takes it)
    and how to set its thread count."""

    def __init__(self, name, sgemm, kind, set_threads, lib):
        self.name, self.sgemm, self.kind, self.lib = name, sgemm, kind, lib
        self._set_threads = set_threads

    def threads(self, n):
        if self._set_threads is not None:
            self._set_threads(n)


def _address(lib, name):
    try:
        return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
    except AttributeError:
        return None


def _fastnn_blas_module():
    """fastnn/_blas.py, loaded from its file: importing it as fastnn._blas would
    run fastnn's __init__, which configures the BLAS for fastnn (and sets MKL
    sequential), not what a bare GEMM on the BLAS's own threads needs."""
    import importlib.util
    spec = importlib.util.find_spec("fastnn")
    path = os.path.join(spec.submodule_search_locations[0], "_blas.py")
    module_spec = importlib.util.spec_from_file_location("fastnn_bench_blas", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def _openblas_in(package):
    """The OpenBLAS the wheel of ``package`` (numpy, scipy) ships, found by its
    folder (``numpy.libs``, ``numpy/.dylibs``): both wheels name theirs
    libscipy_openblas."""
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        folder = os.path.dirname(info["filepath"])
        if info.get("internal_api") != "openblas" or not (
                os.path.basename(folder) == package + ".libs"
                or folder.endswith(os.path.join(package, ".dylibs"))):
            continue
        lib = ctypes.CDLL(info["filepath"])
        found = _fastnn_blas_module().openblas_entry_points(lib)
        if found is not None:
            prefix, suffix, sgemm, _, ilp64 = found
            setter = getattr(lib, f"{prefix}openblas_set_num_threads{suffix}")
            return Blas("openblas", sgemm, 2 if ilp64 else 1, setter, lib)
    return None


def blas(name, sequential=False):
    """The BLAS ``name`` in this process; sequential=True when its GEMMs will
    be called from several threads at once (then it runs on one each)."""
    if name == "openblas":
        b = _openblas_in("numpy")
    elif name == "scipy":
        import scipy.linalg  # noqa: F401  (loads SciPy's OpenBLAS)
        b = _openblas_in("scipy")
        if b is not None:
            b.name = "scipy"
    elif name == "mkl":
        paths = sorted(glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")))
        found = ctypes.util.find_library("mkl_rt")
        if found:
            paths.append(found)
        b = None
        for path in paths:
            try:
                lib = ctypes.CDLL(path)
            except OSError:
                continue
            if sequential:
                lib.MKL_Set_Threading_Layer(1)              # MKL_THREADING_SEQUENTIAL
            # the 64-bit-integer entry point, as fastnn/_blas.py calls it
            sgemm64 = _address(lib, "cblas_sgemm_64")
            b = Blas("mkl", sgemm64 or _address(lib, "cblas_sgemm"), 2 if sgemm64 else 1,
                     lib.MKL_Set_Num_Threads, lib)
            break
    elif name == "blis":
        try:
            import blis.cy
        except ImportError:
            raise Skip("the blis package is not installed (pip install blis)") from None
        lib = ctypes.CDLL(blis.cy.__file__)
        b = Blas("blis", _address(lib, "bli_sgemm"), 3, lib.bli_thread_set_num_threads, lib)
    else:
        raise ValueError(f"unknown BLAS {name!r}")
    if b is None or not b.sgemm:
        raise Skip(f"no {name} library found in this environment")
    b.threads(1 if sequential else THREADS)
    return b


def fastnn_provider():
    """The name of the BLAS fastnn chooses here (FASTNN_BLAS, else MKL when
    installed, else NumPy's OpenBLAS), found without importing fastnn."""
    choice = os.environ.get("FASTNN_BLAS", "auto")
    if choice in ("mkl", "openblas"):
        return choice
    has_mkl = glob.glob(os.path.join(sys.prefix, "lib", "libmkl_rt.so*")) or \
        ctypes.util.find_library("mkl_rt")
    return "mkl" if has_mkl and choice == "auto" else "openblas"


def _ptr(a):
    return a.ctypes.data


def _check(got, want, what, rtol=2e-4):
    """float32 result vs a float64 reference, relative to the reference's scale."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    scale = max(float(np.abs(want).max()), 1e-30)
    err = float(np.abs(got - want).max()) / scale
    if not err <= rtol:
        raise AssertionError(f"{what}: max error {err:.2e} of the largest value > {rtol:.0e}")


# ---------------------------------------------------------------- dense

class _Layer:
    """Inputs and preallocated outputs of one dense layer, float32."""

    def __init__(self, m, n_in, n_out):
        rng = np.random.default_rng([m, n_in, n_out])
        f = np.float32
        self.m, self.n_in, self.n_out = m, n_in, n_out
        self.A_prev = rng.standard_normal((m, n_in), dtype=f)
        self.W = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(f)
        self.b = (0.1 * rng.standard_normal(n_out)).astype(f)
        Z64 = self.A_prev.astype(np.float64) @ self.W + self.b
        self.Z = Z64.astype(f)
        self.dA = (rng.standard_normal((m, n_out)) / m).astype(f)
        self.Z_out, self.A_out = np.empty_like(self.Z), np.empty_like(self.Z)
        self.dA_prev, self.dW, self.db = (np.empty_like(self.A_prev), np.empty_like(self.W),
                                          np.empty_like(self.b))
        self.dZ = np.empty_like(self.Z)
        self.ref_forward = (Z64, np.maximum(Z64, 0))
        dZ = self.dA.astype(np.float64) * (self.Z > 0)
        W64 = self.W.astype(np.float64)
        self.ref_backward = (dZ @ W64.T, self.A_prev.astype(np.float64).T @ dZ + (L2 / m) * W64,
                             dZ.sum(axis=0))


def dense_forward(impl, m, n_in, n_out):
    d = _Layer(m, n_in, n_out)
    if impl == "gemm":
        b = blas(fastnn_provider())
        lib = _floors()
        args = (b.sgemm, b.kind, 0, 0, m, n_out, n_in, _ptr(d.A_prev), n_in, _ptr(d.W), n_out,
                _ptr(d.Z_out), n_out)
        lib.fnn_bench_gemms(*args, 1)
        _check(d.Z_out, d.A_prev.astype(np.float64) @ d.W, "gemm")
        return lambda keep=d: lib.fnn_bench_gemms(*args, 1)   # keep: the arrays args points to
    if impl in ("fastnn", "numpy"):
        fastnn = _fastnn()
        mod = fastnn.ops if impl == "fastnn" else fastnn.numpy_ops
        A_prev, W, bias, out = d.A_prev, d.W, d.b, (d.Z_out, d.A_out)
        call = lambda: mod.dense_forward(A_prev, W, bias, "relu", out=out)   # noqa: E731
        Z, A = call()
        _check(Z, d.ref_forward[0], impl)
        _check(A, d.ref_forward[1], impl)
        return call
    if impl == "torch":
        torch = _torch()
        A_prev, W, bias = (torch.from_numpy(x) for x in (d.A_prev, d.W, d.b))
        call = lambda: torch.relu(torch.addmm(bias, A_prev, W))   # noqa: E731
        _check(call().numpy(), d.ref_forward[1], impl)
        return call
    raise ValueError(impl)


def dense_backward(impl, m, n_in, n_out):
    d = _Layer(m, n_in, n_out)
    if impl == "gemm":
        b = blas(fastnn_provider())
        lib = _floors()
        dZ = d.dA * (d.Z > 0)
        dw = (b.sgemm, b.kind, 1, 0, n_in, n_out, m, _ptr(d.A_prev), n_in, _ptr(dZ), n_out,
              _ptr(d.dW), n_out)
        da = (b.sgemm, b.kind, 0, 1, m, n_in, n_out, _ptr(dZ), n_out, _ptr(d.W), n_out,
              _ptr(d.dA_prev), n_in)

        def call(keep=(d, dZ)):         # keep: the arrays dw and da point to
            lib.fnn_bench_gemms(*dw, 1)
            lib.fnn_bench_gemms(*da, 1)
        call()
        _check(d.dA_prev, d.ref_backward[0], "gemm")
        return call
    if impl in ("fastnn", "numpy"):
        fastnn = _fastnn()
        mod = fastnn.ops if impl == "fastnn" else fastnn.numpy_ops
        dA, Z, A_prev, W = d.dA, d.Z, d.A_prev, d.W
        out, work = (d.dA_prev, d.dW, d.db), d.dZ
        call = lambda: mod.dense_backward(dA, Z, A_prev, W, "relu", l2=L2, out=out,   # noqa
                                          workspace=work)
        for got, want, name in zip(call(), d.ref_backward, ("dA_prev", "dW", "db")):
            _check(got, want, f"{impl} {name}")
        return call
    if impl == "torch":
        torch = _torch()
        dA, Z, A_prev, W = (torch.from_numpy(x) for x in (d.dA, d.Z, d.A_prev, d.W))
        scale = L2 / m

        def call():
            dZ = dA * (Z > 0)
            dW = torch.addmm(W, A_prev.t(), dZ, beta=scale)
            return dZ @ W.t(), dW, dZ.sum(0)
        for got, want, name in zip(call(), d.ref_backward, ("dA_prev", "dW", "db")):
            _check(got.numpy(), want, f"torch {name}")
        return call
    raise ValueError(impl)


# ---------------------------------------------------------------- batch norm

def batchnorm(impl, m, n):
    rng = np.random.default_rng(0)
    Z = (1.0 + 2.0 * rng.standard_normal((m, n))).astype(np.float32)
    dZt = rng.standard_normal((m, n)).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, n).astype(np.float32)
    beta = rng.standard_normal(n).astype(np.float32)
    Z64 = Z.astype(np.float64)
    mu, var = Z64.mean(0), Z64.var(0)
    z_norm = (Z64 - mu) / np.sqrt(var + 1e-5)
    dbeta, dgamma = dZt.sum(0, dtype=np.float64), (dZt * z_norm).sum(0)
    want = (gamma / np.sqrt(var + 1e-5) / m) * (m * dZt - dbeta - z_norm * dgamma)
    if impl in ("fastnn", "numpy"):
        fastnn = _fastnn()
        mod = fastnn.ops if impl == "fastnn" else fastnn.numpy_ops
        rm, rv = np.zeros(n, np.float32), np.ones(n, np.float32)

        def call():
            _, cache = mod.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv)
            return mod.batchnorm_backward(dZt, cache)
        _check(call()[0], want, impl, rtol=1e-3)
        return call
    if impl == "torch":
        torch = _torch()
        layer = torch.nn.BatchNorm1d(n, eps=1e-5, momentum=0.1)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(gamma))
            layer.bias.copy_(torch.from_numpy(beta))
        layer.train()
        x = torch.from_numpy(Z).requires_grad_()
        dy = torch.from_numpy(dZt)

        def call():
            x.grad = None
            layer.zero_grad(set_to_none=True)
            layer(x).backward(dy)
            return x.grad
        _check(call().numpy(), want, impl, rtol=1e-3)
        return call
    raise ValueError(impl)


# ---------------------------------------------------------------- loss

def loss(impl, m, k):
    rng = np.random.default_rng([m, k])
    Z = (3.0 * rng.standard_normal((m, k))).astype(np.float32)
    y = rng.integers(0, k, size=m)
    w = rng.uniform(0, 2, size=m).astype(np.float32)
    dZ = np.empty_like(Z)
    base, _, weighted = impl.partition("_")
    if base not in ("fastnn", "numpy") or weighted not in ("", "weighted"):
        raise ValueError(impl)
    fastnn = _fastnn()
    fn = (fastnn.ops if base == "fastnn" else fastnn.numpy_ops).softmax_cross_entropy
    s = w.astype(np.float64) if weighted else np.ones(m)
    Z64 = Z.astype(np.float64)
    P = np.exp(Z64 - Z64.max(1, keepdims=True))
    P /= P.sum(1, keepdims=True)
    P[np.arange(m), y] -= 1.0
    want = P * (s / s.sum())[:, None]
    if weighted:
        try:
            fn(Z, y, out=dZ, sample_weight=w)
        except TypeError as exc:
            raise Skip(f"no sample weights in this fastnn ({exc})") from None

        def call():
            return fn(Z, y, out=dZ, sample_weight=w)
    else:
        def call():
            return fn(Z, y, out=dZ)
    _check(call()[1], want, impl, rtol=1e-5)
    return call


# ---------------------------------------------------------------- Adam

def course_adam(p):
    """The course's update_parameters_with_adam for one array: a new array
    per formula."""
    p["t"] += 1
    t, g = p["t"], p["g"]
    p["v"] = BETA1 * p["v"] + (1 - BETA1) * g
    p["s"] = BETA2 * p["s"] + (1 - BETA2) * g ** 2
    v_corrected = p["v"] / (1 - BETA1 ** t)
    s_corrected = p["s"] / (1 - BETA2 ** t)
    p["w"] = p["w"] - LR * v_corrected / (np.sqrt(s_corrected) + EPS)


def adam(impl, n):
    rng = np.random.default_rng(0)
    w = rng.standard_normal(n, dtype=np.float32)
    g = rng.standard_normal(n, dtype=np.float32) * np.float32(1e-2)
    v, s = np.zeros_like(w), np.zeros_like(w)
    t = [0]
    if impl in ("fastnn", "twin"):
        fastnn = _fastnn()
        mod = fastnn.ops if impl == "fastnn" else fastnn.numpy_ops

        def call():
            t[0] += 1
            mod.adam_step(w, g, v, s, t[0], LR, BETA1, BETA2, EPS)
        return call
    if impl == "numpy":
        p = {"w": w, "g": g, "v": v, "s": s, "t": 0}
        return lambda: course_adam(p)
    if impl == "torch":
        torch = _torch()
        param = torch.nn.Parameter(torch.from_numpy(w))
        param.grad = torch.from_numpy(g)
        opt = torch.optim.Adam([param], lr=LR, betas=(BETA1, BETA2), eps=EPS, fused=True)
        return opt.step
    if impl == "floor":
        lib = _floors()
        args = (_ptr(w), _ptr(g), _ptr(v), _ptr(s), n, THREADS)
        return lambda keep=(w, g, v, s): lib.fnn_bench_stream(*args)
    raise ValueError(impl)


# ---------------------------------------------------------------- epochs

def epoch(impl, rounds):
    """One round = one epoch of bench/epoch.py's MNIST network."""
    X, y, source = ep.load_mnist()
    if impl in ("fastnn", "fastnn_fit1"):
        fastnn = _fastnn()
        return ep.fastnn_epochs(fastnn, X, y, rounds, whole_fit=impl == "fastnn_fit1")
    if impl == "torch":
        return ep.torch_epoch(_torch(), X, y)
    if impl == "numpy":
        _numpy_blas()
        import fastnn            # one thread, no pool: only to check the course's code
        fastnn.set_num_threads(1)
        ep.check_course_matches_fastnn(fastnn, X, y)
        return ep.course_epoch(X, y)
    if impl in ("gemm", "gemm_split"):
        return gemm_epoch(fastnn_provider() + (":split" if impl == "gemm_split" else ""),
                          rows=X.shape[0])
    raise ValueError(impl)


def scale(impl, rounds):
    """Real data at scale, each a fresh process: one round is one epoch of
    the MNIST network (60,000 rows) ...

      fit          ... of Sequential.fit: the baseline
      weighted     ... with sample_weight (uniform [0, 2) weights)
      partial_fit  ... as 10 partial_fit calls over chunks of 6,000 rows
      in_memory    ... of 500,000 rows (a 1.57 GB float32 file read whole)
      memmap       ... of the same file, memory-mapped (np.load(mmap_mode="r"),
                   the page cache warm): RssAnon, the process's anonymous
                   memory (not the page cache), sampled during the fit
    """
    fastnn = _fastnn()
    if impl in ("in_memory", "memmap"):
        path, y = big_mnist_file()
        X = np.load(path, mmap_mode="r" if impl == "memmap" else None)
        return ep.fastnn_epochs(fastnn, X, y, rounds, during=AnonPeak())
    X, y, _ = ep.load_mnist()
    if impl == "fit":
        return ep.fastnn_epochs(fastnn, X, y, rounds)
    if impl == "weighted":
        w = np.random.default_rng(1).uniform(0, 2, len(y))
        return ep.fastnn_epochs(fastnn, X, y, rounds, fit_kwargs={"sample_weight": w})
    if impl == "partial_fit":
        return ep.fastnn_partial_fit_passes(fastnn, X, y)
    raise ValueError(impl)


BIG_ROWS = 500_000


def big_mnist_file():
    """(path, labels) of a 500,000 x 784 float32 .npy file (1.57 GB): MNIST's
    training images repeated, written once (atomically) to
    $FASTNN_BENCH_BIG_DIR or the temporary directory."""
    import tempfile
    folder = os.environ.get("FASTNN_BENCH_BIG_DIR", tempfile.gettempdir())
    path = os.path.join(folder, f"fastnn-bench-{BIG_ROWS}x{ep.N_IN}.npy")
    X, y, _ = ep.load_mnist()
    reps = -(-BIG_ROWS // len(y))
    labels = np.tile(y, reps)[:BIG_ROWS]
    if not os.path.exists(path):
        tmp = f"{path}.{os.getpid()}.tmp"
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32,
                                        shape=(BIG_ROWS, ep.N_IN))
        for lo in range(0, BIG_ROWS, len(X)):
            n = min(len(X), BIG_ROWS - lo)
            out[lo:lo + n] = X[:n]
        out.flush()
        del out
        os.replace(tmp, path)
    return path, labels


class AnonPeak:
    """Samples the process's RssAnon (/proc/self/status: anonymous memory,
    not file pages of a map) every 2 ms while entered; ``extra`` holds the
    peak growth over the value on entry, in MB."""

    def __init__(self):
        self.extra = {}

    @staticmethod
    def rss_anon_mb():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) / 1024
        raise Skip("no RssAnon in /proc/self/status (Linux only)")

    def __enter__(self):
        import threading
        self.before = self.peak = self.rss_anon_mb()
        self.stop = threading.Event()

        def sample():
            while not self.stop.wait(0.002):
                self.peak = max(self.peak, self.rss_anon_mb())
        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        self.extra = {"rss_anon_growth_mb": round(self.peak - self.before, 1)}


def wide(impl, width, batch, rounds, rows=20_000):
    X, y = ep.random_data(rows, 784, 10, seed=width + batch)
    if impl == "fastnn":
        return ep.fastnn_epochs(_fastnn(), X, y, rounds, hidden=(width, width), batch=batch)
    if impl == "torch":
        return ep.torch_epoch(_torch(), X, y, hidden=(width, width), batch=batch)
    raise ValueError(impl)


def gemm_epoch(impl, rows=60_000, rounds=None):
    """The GEMMs of one MNIST epoch on the BLAS ``impl`` ("name" or
    "name:split")."""
    name, _, split = impl.partition(":")
    if name == "torch":
        torch = _torch()
        return ep.torch_gemm_epoch(torch, rows)
    b = blas(name, sequential=bool(split))
    lib = _floors()
    buffers = lib.fnn_bench_epoch_alloc(ep.BATCH)
    split_threads = THREADS if split else 0
    return lambda: lib.fnn_bench_epoch(b.sgemm, b.kind, buffers, rows, ep.BATCH, split_threads)


# ---------------------------------------------------------------- inference

_PREDICT = {}        # (impl, net) -> the prediction callable, made once per worker


def inference(impl, rows, net="mlp"):
    """One round = the class probabilities of ``rows`` MNIST rows."""
    X, _ = inf.inputs(rows)
    key = (impl, net)
    if key not in _PREDICT:
        if impl == "fastnn":
            _PREDICT[key] = inf.fastnn_predict(_fastnn(), net)
        elif impl in ("ort", "ort_node"):
            try:
                import onnxruntime  # noqa: F401
            except ImportError:
                raise Skip("onnxruntime is not installed (pip install onnxruntime)") from None
            _numpy_blas()
            _PREDICT[key] = inf.ort_predict(net, THREADS, "node" if impl == "ort_node" else "fold")
        elif impl == "torch":
            _PREDICT[key] = inf.torch_predict(_torch(), net)
        else:
            raise ValueError(impl)
    predict = _PREDICT[key]
    _check(predict(X), inf.reference(net, X), f"{impl} {net} inference, {rows} rows")
    return lambda: predict(X)


WORKLOADS = {
    "inference": inference,
    "dense_forward": dense_forward,
    "dense_backward": dense_backward,
    "batchnorm": batchnorm,
    "loss": loss,
    "adam": adam,
    "epoch": epoch,
    "wide": wide,
    "scale": scale,
    "gemm_epoch": gemm_epoch,
}
