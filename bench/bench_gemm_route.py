"""Which route to BLAS for the dense kernels' GEMMs: NumPy's matmul or SciPy's sgemm.

fastnn/_dense.pyx calls ``np.matmul(..., out=buffer)``; the alternative of
issue 3 is SciPy's BLAS (``scipy.linalg.cython_blas`` from Cython, as
scikit-learn does), which also allows folding the bias (beta=1 over a
buffer holding b) or the L2 term (beta=l2/m over a copy of W) into the GEMM.
``scipy.linalg.blas.sgemm`` reaches the same library from Python; its
wrapper costs a few microseconds per call more than a Cython call would, so
at small shapes it is an upper bound for the cython_blas route.

Row-major arrays are passed as their column-major transposes (C = A @ B is
C.T = B.T @ A.T), so sgemm writes straight into the preallocated buffer with
no copy (checked before timing).  Note: NumPy and SciPy each ship their own
OpenBLAS build; threadpoolctl (recorded in the JSON's machine_info) shows the
version and kernel (architecture) of each, and a ratio here compares those
two builds as well as the two call paths.

Groups, per shape (m x n_in -> n_out), float32:
  gemm-route fwd  Z = A_prev @ W:        matmul | sgemm | sgemm_bias_beta1 (Z[:] = b, then beta=1)
  gemm-route dW   dW = A_prev.T @ dZ:    matmul | sgemm | sgemm_l2_beta     (dW[:] = W, beta=l2/m)
  gemm-route dA   dA_prev = dZ @ W.T:    matmul | sgemm
"""
import numpy as np
import pytest

from conftest import L2, assert_close

blas = pytest.importorskip("scipy.linalg.blas", reason="scipy is not installed")

SUITE = "gemm_route"


def _fwd(d):
    A_prev, W, b, Z = d.A_prev, d.W, d.b, d.Z_out
    ref = A_prev.astype(np.float64) @ W.astype(np.float64)
    sgemm, matmul = blas.sgemm, np.matmul
    Wt, At, Zt = W.T, A_prev.T, Z.T
    fns = {
        "matmul": lambda: matmul(A_prev, W, out=Z),
        "sgemm": lambda: sgemm(1.0, Wt, At, beta=0.0, c=Zt, overwrite_c=1),
    }

    def bias_beta1():
        Z[...] = b
        return sgemm(1.0, Wt, At, beta=1.0, c=Zt, overwrite_c=1)
    fns["sgemm_bias_beta1"] = bias_beta1
    refs = {"matmul": ref, "sgemm": ref, "sgemm_bias_beta1": ref + b}
    return fns, refs, Z


def _dw(d):
    A_prev, dZ, W, dW = d.A_prev, d.dZ, d.W, d.dW_out
    ref = A_prev.T.astype(np.float64) @ dZ.astype(np.float64)
    sgemm, matmul = blas.sgemm, np.matmul
    dZt, At, dWt, beta = dZ.T, A_prev.T, dW.T, L2 / d.m
    fns = {
        "matmul": lambda: matmul(A_prev.T, dZ, out=dW),
        "sgemm": lambda: sgemm(1.0, dZt, At, beta=0.0, c=dWt, trans_b=1, overwrite_c=1),
    }

    def l2_beta():
        dW[...] = W
        return sgemm(1.0, dZt, At, beta=beta, c=dWt, trans_b=1, overwrite_c=1)
    fns["sgemm_l2_beta"] = l2_beta
    refs = {"matmul": ref, "sgemm": ref, "sgemm_l2_beta": ref + beta * W}
    return fns, refs, dW


def _da(d):
    dZ, W, dA_prev = d.dZ, d.W, d.dA_prev_out
    ref = dZ.astype(np.float64) @ W.T.astype(np.float64)
    sgemm, matmul = blas.sgemm, np.matmul
    Wt, dZt, dAt = W.T, dZ.T, dA_prev.T
    fns = {
        "matmul": lambda: matmul(dZ, W.T, out=dA_prev),
        "sgemm": lambda: sgemm(1.0, Wt, dZt, beta=0.0, c=dAt, trans_a=1, overwrite_c=1),
    }
    return fns, {"matmul": ref, "sgemm": ref}, dA_prev


ROUTES = {"fwd": _fwd, "dW": _dw, "dA": _da}
CASES = [(op, impl) for op, impls in (("fwd", ("matmul", "sgemm", "sgemm_bias_beta1")),
                                      ("dW", ("matmul", "sgemm", "sgemm_l2_beta")),
                                      ("dA", ("matmul", "sgemm")))
         for impl in impls]


@pytest.mark.parametrize("op,impl", CASES, ids=[f"{o}-{i}" for o, i in CASES])
def bench_gemm_route(measure, layer, op, impl):
    fns, refs, buf = ROUTES[op](layer)
    fn = fns[impl]
    got = fn()
    assert np.shares_memory(got, buf), f"{op} {impl} did not write into the preallocated buffer"
    assert_close(buf, refs[impl], f"gemm-route {op} {impl}")
    measure(fn, suite=SUITE, kind=f"gemm-route {op}", impl=impl, shape=layer.shape)
