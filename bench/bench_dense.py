"""Dense layer, float32, relu: fastnn's fused kernels against NumPy and BLAS.

Per shape (batch m x n_in -> n_out) and direction, one benchmark group holds:

forward  (Z = A_prev @ W + b, A = relu(Z))
  fused       fastnn.ops.dense_forward into preallocated (Z, A): the training loop's call
  numpy_twin  fastnn.numpy_ops.dense_forward, same call and checks, NumPy inside
  numpy_expr  the course's expression: Z = A_prev @ W + b; A = np.maximum(Z, 0)
  gemm        np.matmul(A_prev, W, out=Z): the bare BLAS GEMM, the floor
  torch       torch.relu(torch.addmm(b, A_prev, W)) (skipped when torch is absent)

backward (dZ = dA * relu'(Z), dW = A_prev.T @ dZ + (l2/m) W, db = sum(dZ),
          dA_prev = dZ @ W.T; dA is the gradient of the mean cost, l2 = 0.1)
  fused       fastnn.ops.dense_backward into preallocated (dA_prev, dW, db) + workspace
  numpy_twin  fastnn.numpy_ops.dense_backward, same call
  numpy_expr  the plain expression above, allocating as NumPy does
  gemm        its two bare GEMMs, np.matmul into preallocated dW and dA_prev: the floor
  torch       the same expression in torch (addmm folds the L2 term)

Each implementation is checked once against a float64 reference before it
is timed.  bench/report.py turns the min times into ratios.
"""
import numpy as np
import pytest

import fastnn.numpy_ops as numpy_ops
import fastnn.ops as ops
from conftest import ACTIVATION, L2, N_THREADS, assert_close

SUITE = "dense"


# ---- forward -------------------------------------------------------------

def _forward_fused(d):
    f, A_prev, W, b, out = ops.dense_forward, d.A_prev, d.W, d.b, (d.Z_out, d.A_out)
    return lambda: f(A_prev, W, b, ACTIVATION, out=out)


def _forward_numpy_twin(d):
    f, A_prev, W, b, out = numpy_ops.dense_forward, d.A_prev, d.W, d.b, (d.Z_out, d.A_out)
    return lambda: f(A_prev, W, b, ACTIVATION, out=out)


def _forward_numpy_expr(d):
    A_prev, W, b = d.A_prev, d.W, d.b

    def course():
        Z = A_prev @ W + b
        A = np.maximum(Z, 0)
        return Z, A
    return course


def _forward_gemm(d):
    matmul, A_prev, W, Z = np.matmul, d.A_prev, d.W, d.Z_out
    return lambda: (matmul(A_prev, W, out=Z), None)


FORWARD = {
    "fused": _forward_fused,
    "numpy_twin": _forward_numpy_twin,
    "numpy_expr": _forward_numpy_expr,
    "gemm": _forward_gemm,
}


def _check_forward(impl, result, d):
    Z_ref, A_ref = d.forward_reference()
    Z, A = result
    if impl == "gemm":
        assert_close(Z, Z_ref - d.b.astype(np.float64), f"forward {impl} Z")
        return
    assert_close(Z, Z_ref, f"forward {impl} Z")
    assert_close(A, A_ref, f"forward {impl} A")


@pytest.mark.parametrize("impl", list(FORWARD))
def bench_forward(measure, layer, impl):
    fn = FORWARD[impl](layer)
    _check_forward(impl, fn(), layer)
    measure(fn, suite=SUITE, kind="forward", impl=impl, shape=layer.shape)


# ---- backward ------------------------------------------------------------

def _backward_fused(d):
    f = ops.dense_backward
    dA, Z, A_prev, W = d.dA, d.Z, d.A_prev, d.W
    out, ws = (d.dA_prev_out, d.dW_out, d.db_out), d.dZ_work
    return lambda: f(dA, Z, A_prev, W, ACTIVATION, l2=L2, out=out, workspace=ws)


def _backward_numpy_twin(d):
    f = numpy_ops.dense_backward
    dA, Z, A_prev, W = d.dA, d.Z, d.A_prev, d.W
    out, ws = (d.dA_prev_out, d.dW_out, d.db_out), d.dZ_work
    return lambda: f(dA, Z, A_prev, W, ACTIVATION, l2=L2, out=out, workspace=ws)


def _backward_numpy_expr(d):
    dA, Z, A_prev, W, m = d.dA, d.Z, d.A_prev, d.W, d.m

    def course():
        dZ = dA * (Z > 0)
        dW = A_prev.T @ dZ + (L2 / m) * W
        db = dZ.sum(axis=0)
        dA_prev = dZ @ W.T
        return dA_prev, dW, db
    return course


def _backward_gemm(d):
    matmul, dZ, A_prev, W = np.matmul, d.dZ, d.A_prev, d.W
    dW, dA_prev = d.dW_out, d.dA_prev_out

    def two_gemms():
        matmul(A_prev.T, dZ, out=dW)
        matmul(dZ, W.T, out=dA_prev)
        return dA_prev, dW, None
    return two_gemms


BACKWARD = {
    "fused": _backward_fused,
    "numpy_twin": _backward_numpy_twin,
    "numpy_expr": _backward_numpy_expr,
    "gemm": _backward_gemm,
}


def _check_backward(impl, result, d, no_l2=False):
    dA_prev_ref, dW_ref, db_ref = d.backward_reference(0.0 if no_l2 else L2)
    dA_prev, dW, db = result
    assert_close(dA_prev, dA_prev_ref, f"backward {impl} dA_prev")
    assert_close(dW, dW_ref, f"backward {impl} dW")
    if db is not None:
        assert_close(db, db_ref, f"backward {impl} db")


@pytest.mark.parametrize("impl", list(BACKWARD))
def bench_backward(measure, layer, impl):
    fn = BACKWARD[impl](layer)
    _check_backward(impl, fn(), layer, no_l2=(impl == "gemm"))
    measure(fn, suite=SUITE, kind="backward", impl=impl, shape=layer.shape)


# ---- torch (run last: see conftest.pytest_collection_modifyitems) --------

@pytest.fixture(scope="module")
def torch():
    torch = pytest.importorskip("torch")
    torch.set_num_threads(N_THREADS)
    return torch


def bench_forward_torch(measure, layer, torch):
    tA, tW, tb = (torch.from_numpy(x) for x in (layer.A_prev, layer.W, layer.b))
    relu, addmm = torch.relu, torch.addmm

    def fn():
        return relu(addmm(tb, tA, tW))
    with torch.inference_mode():
        A = fn()
        assert_close(A.numpy(), layer.forward_reference()[1], "forward torch A")
        measure(fn, suite=SUITE, kind="forward", impl="torch", shape=layer.shape)


def bench_backward_torch(measure, layer, torch):
    tdA, tZ, tA, tW = (torch.from_numpy(x) for x in (layer.dA, layer.Z, layer.A_prev, layer.W))
    beta = L2 / layer.m

    def fn():
        dZ = tdA * (tZ > 0)
        dW = torch.addmm(tW, tA.T, dZ, beta=beta)
        db = dZ.sum(0)
        dA_prev = dZ @ tW.T
        return dA_prev, dW, db
    with torch.inference_mode():
        _check_backward("torch", [t.numpy() for t in fn()], layer)
        measure(fn, suite=SUITE, kind="backward", impl="torch", shape=layer.shape)
