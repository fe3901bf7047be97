"""Real data at scale, each implementation in its own process, at each
thread count (bench/workloads.py: scale):

  fit          an epoch of Sequential.fit on MNIST (784-256-128-10, Adam,
               batch 128): the baseline
  weighted     the same with sample_weight
  partial_fit  the same rows as 10 partial_fit calls of 6,000 rows
  in_memory    an epoch over 500,000 MNIST-shaped rows read into memory
  memmap       the same rows memory-mapped from a 1.57 GB .npy file

Each also runs after PyTorch was imported and used in the process.

Targets (bench/report.py): weighted at most 1.03x fit, partial_fit at most
1.1x fit, memmap at most 1.3x in_memory with its anonymous memory (RssAnon,
not the page cache) growing by less than 200 MB during the fit.  The big
file is written once to $FASTNN_BENCH_BIG_DIR (default: the temporary
directory).  The big epochs run FASTNN_BENCH_SCALE_ROUNDS (default 2)
rounds after a warm-up epoch.

    pytest bench/bench_scale.py --benchmark-only
"""
import os

import pytest

BIG_ROUNDS = int(os.environ.get("FASTNN_BENCH_SCALE_ROUNDS", "2"))


@pytest.mark.parametrize("peer", ["none", "torch"])
@pytest.mark.parametrize("impl", ["fit", "weighted", "partial_fit", "in_memory", "memmap"])
def bench_scale(measure, threads, impl, peer):
    # with PyTorch imported and used first too (its OpenMP runtime in the process)
    big = impl in ("in_memory", "memmap")
    measure("scale", impl, {}, group=f"scale, {threads} thread(s), peer {peer}", threads=threads,
            peer=peer, epochs=True, rounds=BIG_ROUNDS if big else None)
