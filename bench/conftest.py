"""Shared set-up of the benchmarks in bench/ (pytest-benchmark).

Design: every benchmark is timed through the ``measure`` fixture, which
records what it measures in ``benchmark.extra_info`` (suite, kind, impl, m,
n_in, n_out, dtype, activation, pass) and groups it per (kind, shape), so
pytest-benchmark's own table shows each implementation against the fastest
one of its shape, and ``bench/report.py`` rebuilds the ratio table from the
JSON without parsing test names.  The same table is printed at the end of
the run.

Noise: the machine is shared.  Each benchmark keeps its best round, and the
suite runs in ``--bench-passes`` (default 3) whole passes, one after the
other; report.py keeps the best pass of each benchmark, so a burst of other
work that spoils every round of one benchmark in one pass does not reach the
table.  The implementations of one shape run back to back within a pass.

Threads: fastnn's OpenMP kernels and the BLAS pool use
``fastnn.get_num_threads()`` threads (``FASTNN_BENCH_THREADS=n`` overrides it
for a run); torch, when it is benchmarked, gets the same count.  Benchmarks
that import torch run after all others, so torch's thread pool never runs
beside the other measurements.
"""
import importlib.util
import os
import pathlib
import platform

import numpy as np
import pytest

import fastnn

HERE = pathlib.Path(__file__).resolve().parent

BATCH_SIZES = (64, 256, 1024)
LAYERS = ((784, 256), (256, 128), (1024, 1024))
SHAPES = [(m, n_in, n_out) for m in BATCH_SIZES for (n_in, n_out) in LAYERS]
DTYPE = np.float32
ACTIVATION = "relu"
L2 = 0.1
SEED = 0

_threads = os.environ.get("FASTNN_BENCH_THREADS")
# Also puts the BLAS pool at the kernels' count (fastnn does it via threadpoolctl).
fastnn.set_num_threads(int(_threads) if _threads else fastnn.get_num_threads())
N_THREADS = fastnn.get_num_threads()
# glibc's malloc starts with a 128 KiB mmap threshold and raises it (and its trim
# threshold) the first time a large block is freed.  Until then every NumPy
# temporary of >= 128 KiB is fresh memory that page-faults, which made the NumPy
# expression at (64, 256->128) 2.4x slower when that shape ran alone (-k) than
# inside the whole suite.  Freeing one 16 MiB array first puts the allocator in
# the state of any process that has used large arrays, whatever runs first.
np.ones(1 << 22, dtype=np.float32)

# Other work on the machine disturbs timings: the report shows the load around the run.
LOAD_AT_START = os.getloadavg() if hasattr(os, "getloadavg") else None

# Environment variables that change which BLAS code runs; recorded in the JSON.
BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
            "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
            "FASTNN_BENCH_THREADS")


def shape_id(shape):
    m, n_in, n_out = shape
    return f"m{m}-{n_in}x{n_out}"


def group_name(kind, shape):
    m, n_in, n_out = shape
    return f"{kind} m={m} {n_in}->{n_out}"


def pytest_addoption(parser):
    parser.addoption("--bench-passes", type=int, default=3,
                     help="run every benchmark this many times, in separate passes over the "
                          "whole suite; report.py keeps the best pass (default 3)")


def pytest_generate_tests(metafunc):
    if "bench_pass" in metafunc.fixturenames:
        n = max(1, metafunc.config.getoption("--bench-passes"))
        metafunc.parametrize("bench_pass", range(n), ids=[f"pass{p}" for p in range(n)])


@pytest.fixture
def measure(benchmark, bench_pass):
    """measure(fn, suite=, kind=, impl=, shape=): time fn() under pytest-benchmark,
    grouped per (kind, shape), with what it measures in extra_info."""
    def _measure(fn, *, suite, kind, impl, shape):
        m, n_in, n_out = shape
        benchmark.group = group_name(kind, shape)
        benchmark.extra_info.update(
            suite=suite, kind=kind, impl=impl, m=m, n_in=n_in, n_out=n_out,
            dtype=np.dtype(DTYPE).name, activation=ACTIVATION, threads=N_THREADS,
            bench_pass=bench_pass)
        return benchmark(fn)
    return _measure


class Layer:
    """Inputs and preallocated outputs of one dense layer of a given shape."""

    def __init__(self, shape, dtype=DTYPE, seed=SEED):
        m, n_in, n_out = shape
        rng = np.random.default_rng([seed, m, n_in, n_out])
        self.shape, self.m, self.n_in, self.n_out = shape, m, n_in, n_out
        self.A_prev = rng.standard_normal((m, n_in), dtype=dtype)
        self.W = (rng.standard_normal((n_in, n_out)) * np.sqrt(2.0 / n_in)).astype(dtype)
        self.b = (0.1 * rng.standard_normal(n_out)).astype(dtype)
        # forward results (about half the units active) and a gradient of the mean cost
        self.Z = self.A_prev @ self.W + self.b
        self.A = np.maximum(self.Z, 0)
        self.dA = (rng.standard_normal((m, n_out)) / m).astype(dtype)
        self.dZ = self.dA * (self.Z > 0)
        # preallocated outputs, as a training loop holds them
        self.Z_out = np.empty_like(self.Z)
        self.A_out = np.empty_like(self.A)
        self.dA_prev_out = np.empty_like(self.A_prev)
        self.dW_out = np.empty_like(self.W)
        self.db_out = np.empty_like(self.b)
        self.dZ_work = np.empty_like(self.Z)

    # float64 references, to check each implementation once before timing it
    def forward_reference(self):
        Z = self.A_prev.astype(np.float64) @ self.W.astype(np.float64) + self.b
        return Z, np.maximum(Z, 0)

    def backward_reference(self, l2=L2):
        A_prev, W = self.A_prev.astype(np.float64), self.W.astype(np.float64)
        dZ = self.dA.astype(np.float64) * (self.Z > 0)
        return dZ @ W.T, A_prev.T @ dZ + (l2 / self.m) * W, dZ.sum(axis=0)


_layers = {}


@pytest.fixture(params=SHAPES, ids=shape_id)
def layer(request):
    """One Layer per shape for the whole session (inputs are never modified)."""
    if request.param not in _layers:
        _layers[request.param] = Layer(request.param)
    return _layers[request.param]


def assert_close(got, want, what, rtol=2e-4):
    """float32 result vs a float64 reference, relative to the reference's scale."""
    got = np.asarray(got, dtype=np.float64)
    scale = max(np.abs(want).max(), 1e-30)
    err = np.abs(got - want).max() / scale
    assert err <= rtol, f"{what}: max error {err:.2e} of the largest value > {rtol:.0e}"


def load_report():
    """bench/report.py as a module (bench/ is not a package)."""
    spec = importlib.util.spec_from_file_location("fastnn_bench_report", HERE / "report.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def pytest_collection_modifyitems(config, items):
    # Whole passes one after the other, so a burst of other work on the machine
    # spoils at most one pass of a benchmark; torch (which brings its own OpenMP
    # and MKL pools) after everything else.
    order = {id(item): i for i, item in enumerate(items)}

    def key(item):
        params = getattr(getattr(item, "callspec", None), "params", {})
        return ("torch" in item.name, params.get("bench_pass", 0), order[id(item)])
    items.sort(key=key)


def _library_info():
    info = {"numpy": np.__version__, "fastnn_threads": N_THREADS,
            "fastnn_openmp": fastnn.openmp_enabled(),
            "env": {k: os.environ.get(k) for k in BLAS_ENV},
            "python": platform.python_version(), "cpu_count": os.cpu_count(),
            "loadavg_start": LOAD_AT_START,
            "loadavg_end": os.getloadavg() if hasattr(os, "getloadavg") else None}
    try:
        from threadpoolctl import threadpool_info
        info["threadpools"] = [
            {k: p.get(k) for k in ("user_api", "internal_api", "prefix", "version",
                                   "architecture", "num_threads", "threading_layer",
                                   "filepath")}
            for p in threadpool_info()]
    except ImportError:
        info["threadpools"] = []
    import sys
    for name in ("scipy", "torch"):
        if name in sys.modules:
            info[name] = getattr(sys.modules[name], "__version__", "?")
    return info


def pytest_benchmark_update_machine_info(config, machine_info):
    machine_info["fastnn_bench"] = _library_info()


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter, config):
    bs = getattr(config, "_benchmarksession", None)
    if bs is None or not bs.benchmarks:
        return
    try:
        rows = [b.as_dict(include_data=False) for b in bs.benchmarks if not b.has_error]
        text = load_report().format_report({"benchmarks": rows,
                                            "machine_info": {"fastnn_bench": _library_info()}})
    except Exception as exc:  # the table is a convenience; never fail the run for it
        terminalreporter.write_line(f"fastnn bench: could not build the ratio table: {exc!r}")
        return
    terminalreporter.write_sep("-", "fastnn ratios (min times; same table as bench/report.py)")
    terminalreporter.write(text)
