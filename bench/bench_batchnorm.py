"""BatchNorm forward+backward and dropout forward: fastnn against the course's
NumPy formulas (fastnn.numpy_ops) and torch (when it imports), float32.

Run:  python -m pytest bench/bench_batchnorm.py --benchmark-only
      (add --benchmark-columns=min,median,mean,rounds for a compact table)

Targets (issue 5): BatchNorm forward+backward at (256, 1024) and (1024, 512)
at least 3x faster than the NumPy formulas and no slower than
torch.nn.BatchNorm1d (forward + backward through autograd, same thread
count).  After the run, a table of median-time ratios is printed.
"""
import numpy as np
import pytest

import fastnn
from fastnn import numpy_ops, ops

try:
    import torch
except ImportError:          # the torch rows are skipped
    torch = None

BN_SHAPES = [(256, 1024), (1024, 512)]
DROPOUT_SHAPES = [(256, 1024), (1024, 512)]
KEEP_PROB = 0.8
WARMUP_CALLS = 20
_medians = {}


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request):
    yield
    if not _medians:
        return
    plugins = request.config.pluginmanager
    write = plugins.get_plugin("terminalreporter").write_line
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        write("")
        write(f"median-time ratios to fastnn (above 1: slower than fastnn), "
              f"{fastnn.get_num_threads()} threads")
        for (kernel, shape), row in sorted(_medians.items()):
            base = row.get("fastnn")
            if base is None:
                continue
            parts = [f"fastnn {base * 1e6:7.1f} us"]
            parts += [f"{name} {t / base:6.2f}" for name, t in sorted(row.items())
                      if name != "fastnn"]
            write(f"  {kernel:<18} {str(shape):<12} " + "   ".join(parts))


def _run(benchmark, step, *args):
    """Time step(*args) after a warm-up, so first-call costs (torch's lazy
    initialisation, OpenMP thread start, page faults) stay out of the rounds."""
    for _ in range(WARMUP_CALLS):
        step(*args)
    benchmark(step, *args)


def _record(benchmark, kernel, shape, impl):
    _medians.setdefault((kernel, shape), {})[impl] = benchmark.stats.stats.median


def _bn_data(shape):
    rng = np.random.default_rng(0)
    m, n = shape
    Z = (1.0 + 2.0 * rng.standard_normal(shape)).astype(np.float32)
    dZt = rng.standard_normal(shape).astype(np.float32)
    gamma = rng.uniform(0.5, 1.5, n).astype(np.float32)
    beta = rng.standard_normal(n).astype(np.float32)
    return Z, dZt, gamma, beta


def _bn_step(module):
    def step(Z, dZt, gamma, beta, rm, rv):
        _, cache = module.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv)
        return module.batchnorm_backward(dZt, cache)
    return step


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
@pytest.mark.parametrize("impl", ["fastnn", "fastnn-out", "numpy"])
def test_batchnorm_forward_backward(benchmark, shape, impl):
    benchmark.group = f"batchnorm fwd+bwd {shape} float32"
    Z, dZt, gamma, beta = _bn_data(shape)
    n = shape[1]
    rm, rv = np.zeros(n, np.float32), np.ones(n, np.float32)
    if impl == "fastnn-out":          # a training loop's steady state: no allocation
        Zt = np.empty_like(Z)
        _, cache = ops.batchnorm_forward(Z, gamma, beta)
        grads = (np.empty_like(Z), np.empty(n, np.float32), np.empty(n, np.float32))

        def step():
            _, c = ops.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv,
                                         out=(Zt, cache))
            return ops.batchnorm_backward(dZt, c, out=grads)
        _run(benchmark, step)
    else:
        _run(benchmark, _bn_step(ops if impl == "fastnn" else numpy_ops), Z, dZt, gamma, beta,
             rm, rv)
    _record(benchmark, "batchnorm fwd+bwd", shape, impl)


@pytest.mark.parametrize("shape", BN_SHAPES, ids=str)
def test_batchnorm_forward_backward_torch(benchmark, shape):
    if torch is None:
        pytest.skip("torch not installed")
    torch.set_num_threads(fastnn.get_num_threads())
    benchmark.group = f"batchnorm fwd+bwd {shape} float32"
    Z, dZt, gamma, beta = _bn_data(shape)
    layer = torch.nn.BatchNorm1d(shape[1], eps=1e-5, momentum=0.1)
    layer.train()
    x = torch.from_numpy(Z).requires_grad_()
    dy = torch.from_numpy(dZt)

    def step():
        x.grad = None
        layer.zero_grad(set_to_none=True)
        layer(x).backward(dy)
        return x.grad
    _run(benchmark, step)
    _record(benchmark, "batchnorm fwd+bwd", shape, "torch")


@pytest.mark.parametrize("shape", DROPOUT_SHAPES, ids=str)
@pytest.mark.parametrize("impl", ["fastnn", "numpy", "torch"])
def test_dropout_forward(benchmark, shape, impl):
    benchmark.group = f"dropout forward {shape} float32"
    A = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    if impl == "fastnn":
        seeds = iter(range(10 ** 9))
        _run(benchmark, lambda: ops.dropout_forward(A, KEEP_PROB, next(seeds)))
    elif impl == "numpy":
        rng = np.random.default_rng(1)

        def step():          # the course's recipe
            mask = rng.random(A.shape) < KEEP_PROB
            return A * mask / np.float32(KEEP_PROB), mask
        _run(benchmark, step)
    else:
        if torch is None:
            pytest.skip("torch not installed")
        torch.set_num_threads(fastnn.get_num_threads())
        a = torch.from_numpy(A)
        _run(benchmark, lambda: torch.nn.functional.dropout(a, 1 - KEEP_PROB, training=True))
    _record(benchmark, "dropout forward", shape, impl)
