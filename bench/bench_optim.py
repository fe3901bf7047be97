"""One Adam step on 1M float32 parameters, each implementation in its own
process:

  fastnn  fastnn.ops.adam_step (one fused pass)
  twin    fastnn.numpy_ops.adam_step (in-place NumPy)
  numpy   the course's update_parameters_with_adam (a new array per formula)
  torch   torch.optim.Adam(fused=True).step()
  floor   a C pass moving the same bytes with one add per array, same
          threads and split (bench/floors.c): no step can be faster

The arrays (16 MB) stay in the last-level cache between rounds, as a
model's state does between steps.  Target (bench/report.py): 2 threads
never slower than 1.

    pytest bench/bench_optim.py --benchmark-only
"""
import pytest

IMPLS = ("fastnn", "twin", "numpy", "torch", "floor")


@pytest.mark.parametrize("impl", IMPLS)
def bench_adam(measure, threads, impl):
    measure("adam", impl, dict(n=1_000_000), group=f"adam 1M, {threads} thread(s)",
            threads=threads)
