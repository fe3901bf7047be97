"""One MNIST training epoch (bench/epoch.py: 784-256-128-10, ReLU, softmax,
Adam 1e-3, batch 128, 60,000 images), each implementation in its own
process, at each thread count:

  fastnn           an epoch of Sequential.fit(epochs=...) in a plain process
  fastnn +torch    the same after PyTorch was imported and used in the process
  fastnn +sklearn  the same after scikit-learn's KMeans ran in the process
  fastnn openblas  with FASTNN_BLAS=openblas (NumPy's OpenBLAS: the default
                   when MKL is not installed)
  fastnn numpy     with FASTNN_BLAS=numpy: GEMMs through numpy.matmul on the
                   BLAS's own threads, passes on the calling thread (the
                   "BLAS owns the threads" design)
  fastnn fit(1)    a whole fit(epochs=1) call per epoch (adds fit's checks)
  torch            PyTorch eager, torch.optim.Adam(fused=True)
  numpy            the course's NumPy code
  gemm, gemm_split the epoch's GEMMs alone on fastnn's BLAS: its own threads,
                   and cut into row blocks on OpenMP threads (the floor is
                   the faster of the two)

Targets (bench/report.py): fastnn at most 0.6x torch and at least 5x faster
than numpy at every thread count; with a peer loaded first, at most 1.15x
the plain process.  FASTNN_BENCH_ROUNDS epochs (default 4) after one warm-up.

    pytest bench/bench_model.py --benchmark-only
"""
import pytest

CASES = [
    ("fastnn", "none", {}),
    ("fastnn", "torch", {}),
    ("fastnn", "sklearn", {}),
    ("fastnn", "none", {"FASTNN_BLAS": "openblas"}),
    ("fastnn", "none", {"FASTNN_BLAS": "numpy"}),
    ("fastnn_fit1", "none", {}),
    ("torch", "none", {}),
    ("numpy", "none", {}),
    ("gemm", "none", {}),
    ("gemm_split", "none", {}),
]


def _id(case):
    impl, peer, env = case
    return "-".join([impl] + ([f"after-{peer}"] if peer != "none" else [])
                    + [f"{k}={v}" for k, v in env.items()])


@pytest.mark.parametrize("impl,peer,env", CASES, ids=[_id(c) for c in CASES])
def bench_epoch(measure, threads, impl, peer, env):
    measure("epoch", impl, {}, group=f"MNIST epoch, {threads} thread(s)",
            threads=threads, peer=peer, env=env, epochs=True)
