"""The fused softmax cross-entropy (loss and dZ into a buffer, int64
labels, float32) at MNIST's shapes: a training batch (128 x 10) and the
whole training set (60000 x 10, as evaluate computes it), each
implementation in its own process:

  fastnn           fastnn.ops.softmax_cross_entropy
  fastnn_weighted  the same with sample_weight= (uniform [0, 2) weights)
  numpy            fastnn.numpy_ops.softmax_cross_entropy (the twin)
  numpy_weighted   the twin with sample_weight=

What a weight costs: fastnn_weighted over fastnn (one serial pass over the
m weights, summing and checking them, and one multiply per row).

    pytest bench/bench_loss.py --benchmark-only
"""
import pytest

IMPLS = ("fastnn", "fastnn_weighted", "numpy", "numpy_weighted")
SHAPES = [(128, 10), (60_000, 10)]


@pytest.mark.parametrize("shape", SHAPES, ids=["128x10", "60000x10"])
@pytest.mark.parametrize("impl", IMPLS)
def bench_loss(measure, threads, impl, shape):
    m, k = shape
    measure("loss", impl, dict(m=m, k=k), group=f"softmax xent {m}x{k}, {threads} thread(s)",
            threads=threads)
