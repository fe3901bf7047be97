"""BatchNorm forward (training, running statistics) + backward, float32, at
(256, 1024) and (1024, 512), each implementation in its own process:

  fastnn  fastnn.ops.batchnorm_forward + batchnorm_backward
  numpy   fastnn.numpy_ops, the plain-NumPy twin (the course's formulas)
  torch   torch.nn.BatchNorm1d forward + autograd backward

Targets (bench/report.py): at least 3x NumPy, faster than torch, 2 threads
never slower than 1.

    pytest bench/bench_batchnorm.py --benchmark-only
"""
import pytest

SHAPES = [(256, 1024), (1024, 512)]
CASES = [(shape, impl) for shape in SHAPES for impl in ("fastnn", "numpy", "torch")]


@pytest.mark.parametrize("shape,impl", CASES, ids=[f"{s[0]}x{s[1]}-{i}" for s, i in CASES])
def bench_batchnorm(measure, threads, shape, impl):
    m, n = shape
    measure("batchnorm", impl, dict(m=m, n=n),
            group=f"batchnorm fwd+bwd {m}x{n}, {threads} thread(s)", threads=threads)
