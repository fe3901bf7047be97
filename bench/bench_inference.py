"""Inference: the class probabilities of 1, 32, 256 and 10,000 MNIST rows
through a trained 784-256-128-10 network (and the same with BatchNorm),
each implementation in its own process (bench/inference.py has the details):

  fastnn         model.predict_proba in a plain process
  fastnn +torch  the same after PyTorch was imported and used in the process
  ort            ONNX Runtime on the file fastnn.onnx.export wrote (BatchNorm folded)
  ort_node       ONNX Runtime with BatchNormalization nodes (mlp_bn only)
  torch          PyTorch eager under torch.inference_mode(), the same weights

Targets (bench/report.py): fastnn's latency at 1 row at most ONNX Runtime's,
and at 10,000 rows fastnn at least as fast as ONNX Runtime.

    pytest bench/bench_inference.py --benchmark-only
"""
import pytest

ROWS = (1, 32, 256, 10_000)
CASES = [
    ("fastnn", "none", "mlp"), ("fastnn", "torch", "mlp"), ("ort", "none", "mlp"),
    ("torch", "none", "mlp"),
    ("fastnn", "none", "mlp_bn"), ("fastnn", "torch", "mlp_bn"), ("ort", "none", "mlp_bn"),
    ("ort_node", "none", "mlp_bn"), ("torch", "none", "mlp_bn"),
]


def _id(case):
    impl, peer, net = case
    return "-".join([net, impl] + ([f"after-{peer}"] if peer != "none" else []))


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("impl,peer,net", CASES, ids=[_id(c) for c in CASES])
def bench_inference(measure, threads, impl, peer, net, rows):
    measure("inference", impl, {"rows": rows, "net": net},
            group=f"inference {net}, {rows} rows, {threads} thread(s)", threads=threads, peer=peer)
