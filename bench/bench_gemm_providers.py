"""The GEMM provider: the 3,752 GEMMs of one MNIST epoch (469 mini-batches
of 784-256-128-10; bench/floors.c) on each BLAS this machine has, each in
its own process:

  openblas  NumPy's bundled OpenBLAS (what `pip install .` gets)
  scipy     SciPy's bundled OpenBLAS (a second build of the same library)
  mkl       Intel MKL (`pip install 'fastnn[mkl]'`)
  blis      BLIS (the `blis` package)
  torch     torch.mm into preallocated tensors (PyTorch's MKL; from Python)

with the BLAS's own threads, and (":split") cut into row blocks on OpenMP
threads with the BLAS on one thread each, the way fastnn runs them.
bench/README.md has the table this chose the provider by.

    pytest bench/bench_gemm_providers.py --benchmark-only
"""
import pytest

PROVIDERS = ("openblas", "scipy", "mkl", "blis", "torch",
             "openblas:split", "scipy:split", "mkl:split", "blis:split")


@pytest.mark.parametrize("provider", PROVIDERS)
def bench_gemm_epoch(measure, threads, provider):
    if provider.endswith(":split") and threads == 1:
        pytest.skip("one thread: the split is the BLAS's own call")
    measure("gemm_epoch", provider, {}, group=f"epoch GEMMs, {threads} thread(s)",
            threads=threads, epochs=True)
