"""Dense layer, float32, relu, forward and backward, at 9 shapes (batch m in
{64, 256, 1024} x layers 784->256, 256->128, 1024->1024), each
implementation in its own process (bench/workloads.py says what each does):

  gemm    the bare GEMM(s) of fastnn's BLAS provider, its own threads: the floor
  fastnn  fastnn.ops.dense_forward / dense_backward into preallocated buffers
  numpy   fastnn.numpy_ops, the plain-NumPy twin, same call
  torch   torch.relu(torch.addmm(b, A, W)); backward: the same expressions

Targets (bench/report.py): forward at most 1.15x the bare GEMM at every
shape; 2 threads never slower than 1.

    pytest bench/bench_dense.py --benchmark-only
"""
import pytest

SHAPES = [(m, n_in, n_out) for m in (64, 256, 1024)
          for n_in, n_out in ((784, 256), (256, 128), (1024, 1024))]
IMPLS = ("gemm", "fastnn", "numpy", "torch")
CASES = [(d, shape, impl) for d in ("forward", "backward") for shape in SHAPES for impl in IMPLS]


@pytest.mark.parametrize("direction,shape,impl", CASES,
                         ids=[f"{d}-m{s[0]}-{s[1]}x{s[2]}-{i}" for d, s, i in CASES])
def bench_dense(measure, threads, direction, shape, impl):
    m, n_in, n_out = shape
    measure(f"dense_{direction}", impl, dict(m=m, n_in=n_in, n_out=n_out),
            group=f"dense {direction} m={m} {n_in}->{n_out}, {threads} thread(s)",
            threads=threads)
