"""batchnorm_forward / batchnorm_backward of fastnn.ops and their NumPy twins
against the float64 references of tests/reference.py (section 6), at the
tolerances of tests/conftest.py."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastnn import numpy_ops, ops

import reference as ref
from conftest import TOLERANCES, Tol

# (2, 1): smallest training batch; odd sizes; the last two cross
# FNN_PARALLEL_MIN = 32768 elements, so the kernels run on several threads.
SHAPES = [(2, 1), (2, 7), (3, 1), (13, 17), (64, 3), (300, 129), (1029, 37)]
EPS = 1e-5


def dZ_scale(dZ_ref):
    """The magnitude atol is relative to for dZ: max(1, max|dZ|).  dZ cancels
    to ~0 for m = 2 (z_norm is +-1 whatever Z), so max|dZ| is no measure of
    its error; its terms dZ_tilde * gamma * inv_std are O(1) here (the
    property test's cond^2 covers a large inv_std)."""
    return max(1.0, float(np.max(np.abs(dZ_ref))))


def data(shape, dtype, seed=0, loc=1.5, scale=3.0):
    rng = np.random.default_rng(seed)
    m, n = shape
    Z = (loc + scale * rng.standard_normal(shape)).astype(dtype)
    gamma = rng.uniform(0.5, 2.0, n).astype(dtype)
    beta = rng.standard_normal(n).astype(dtype)
    dZt = rng.standard_normal(shape).astype(dtype)
    return Z, gamma, beta, dZt


# ---------------------------------------------------------------- forward

@pytest.mark.parametrize("shape", SHAPES)
def test_forward_training_matches_reference(impl, dtype, shape, assert_close):
    Z, gamma, beta, _ = data(shape, dtype)
    Z_in = Z.copy()
    Zt, cache = impl.batchnorm_forward(Z, gamma, beta, eps=EPS)
    zt_ref, zn_ref, mu_ref, var_ref = ref.batchnorm_forward(Z, gamma, beta, EPS)
    assert Zt.dtype == dtype and Zt.shape == shape
    assert_close(Zt, zt_ref, dtype, err_msg="Z_tilde")
    assert_close(cache.z_norm, zn_ref, dtype, err_msg="z_norm")
    assert_close(cache.mu, mu_ref, dtype, err_msg="mu")
    assert_close(cache.inv_std, 1 / np.sqrt(var_ref + EPS), dtype, err_msg="inv_std")
    assert cache.gamma is gamma and cache.Z is Z
    np.testing.assert_array_equal(Z, Z_in)


@pytest.mark.parametrize("shape", [(1, 5), (2, 1), (13, 17), (300, 129)])
def test_forward_inference_matches_reference(impl, dtype, shape, rng, assert_close):
    Z, gamma, beta, _ = data(shape, dtype)
    rm = rng.standard_normal(shape[1]).astype(dtype)
    rv = rng.uniform(0.1, 4.0, shape[1]).astype(dtype)
    rm0, rv0 = rm.copy(), rv.copy()
    Zt, cache = impl.batchnorm_forward(Z, gamma, beta, eps=EPS, training=False,
                                       running_mean=rm, running_var=rv)
    assert cache is None
    assert_close(Zt, ref.batchnorm_inference(Z, gamma, beta, rm, rv, EPS), dtype)
    np.testing.assert_array_equal(rm, rm0)      # inference leaves them alone
    np.testing.assert_array_equal(rv, rv0)


def test_constant_column_normalises_to_zero(impl, dtype, assert_close):
    Z = np.full((6, 3), 7.25, dtype=dtype)
    Z[:, 1] = np.arange(6)
    gamma = np.ones(3, dtype)
    beta = np.array([0.5, 0.0, -1.0], dtype)
    Zt, cache = impl.batchnorm_forward(Z, gamma, beta)
    np.testing.assert_array_equal(cache.z_norm[:, 0], 0)
    np.testing.assert_array_equal(Zt[:, 0], 0.5)
    assert_close(cache.inv_std[0], 1 / np.sqrt(EPS), dtype)


def test_large_offset_keeps_float64_accuracy(impl, rng, assert_close):
    # mean far from zero relative to the spread: a naive E[z^2] - E[z]^2
    # would lose all digits here
    Z = 1e8 + rng.standard_normal((500, 4))
    gamma, beta = np.ones(4), np.zeros(4)
    _, cache = impl.batchnorm_forward(Z, gamma, beta)
    _, zn_ref, mu_ref, _ = ref.batchnorm_forward(Z, gamma, beta, EPS)
    # Z - mu cancels terms of 1e8, of which the table would allow 1e-13, i.e. 1e-5:
    # held at an absolute 1e-6 (measured 9.3e-8)
    assert_close(cache.z_norm, zn_ref, tol=Tol(rtol=1e-6, atol=1e-6), scale=1.0, err_msg="z_norm")
    # the mean of the 1e8's itself: rtol 1e-14, 100x stricter than the table (measured 9e-16)
    assert_close(cache.mu, mu_ref, tol=Tol(rtol=1e-14, atol=0.0), err_msg="mu")


def test_forward_out_buffers_and_inference_in_place(impl, dtype):
    shape = (300, 129)
    Z, gamma, beta, dZt = data(shape, dtype)
    expected, cache = impl.batchnorm_forward(Z, gamma, beta)
    assert cache.Z is Z
    grads = impl.batchnorm_backward(dZt, cache)
    # a second call reusing the first call's arrays
    buf = np.empty_like(Z)
    mu, inv_std = cache.mu, cache.inv_std
    Zt, cache2 = impl.batchnorm_forward(Z, gamma, beta, out=(buf, cache))
    assert Zt is buf and cache2.mu is mu and cache2.inv_std is inv_std
    np.testing.assert_array_equal(Zt, expected)
    for got, want in zip(impl.batchnorm_backward(dZt, cache2), grads):
        np.testing.assert_array_equal(got, want)
    # inference may write over Z
    rm, rv = cache.mu.copy(), (1 / cache.inv_std.astype(np.float64) ** 2).astype(dtype)
    want, _ = impl.batchnorm_forward(Z, gamma, beta, training=False, running_mean=rm,
                                     running_var=rv)
    Z2 = Z.copy()
    got, _ = impl.batchnorm_forward(Z2, gamma, beta, training=False, running_mean=rm,
                                    running_var=rv, out=Z2)
    assert got is Z2
    np.testing.assert_array_equal(got, want)


def test_training_output_may_not_overwrite_z(impl):
    Z, gamma, beta, _ = data((4, 3), np.float64)
    with pytest.raises(ValueError, match=re.escape(
            "batchnorm_forward: output Z_tilde must not overlap Z when training "
            "(batchnorm_backward recomputes z_norm from Z)")):
        impl.batchnorm_forward(Z, gamma, beta, out=Z)


# ---------------------------------------------------------------- backward

@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_reference(impl, dtype, shape, assert_close):
    Z, gamma, beta, dZt = data(shape, dtype)
    _, cache = impl.batchnorm_forward(Z, gamma, beta, eps=EPS)
    dZt_in = dZt.copy()
    dZ, dgamma, dbeta = impl.batchnorm_backward(dZt, cache)
    dZ_ref, dgamma_ref, dbeta_ref = ref.batchnorm_backward(dZt, Z, gamma, EPS)
    assert dZ.dtype == dgamma.dtype == dbeta.dtype == dtype
    assert_close(dZ, dZ_ref, dtype, scale=dZ_scale(dZ_ref), err_msg="dZ")
    assert_close(dgamma, dgamma_ref, dtype, err_msg="dgamma")
    assert_close(dbeta, dbeta_ref, dtype, err_msg="dbeta")
    np.testing.assert_array_equal(dZt, dZt_in)


def test_backward_in_place_and_out_buffers(impl, dtype):
    Z, gamma, beta, dZt = data((300, 129), dtype)
    _, cache = impl.batchnorm_forward(Z, gamma, beta)
    want = impl.batchnorm_backward(dZt, cache)
    bufs = (dZt.copy(), np.empty(129, dtype), np.empty(129, dtype))
    got = impl.batchnorm_backward(bufs[0], cache, out=bufs)   # dZ over dZ_tilde
    for g, b, w in zip(got, bufs, want):
        assert g is b
        np.testing.assert_array_equal(g, w)


def test_caches_are_interchangeable(dtype, assert_close):
    Z, gamma, beta, dZt = data((13, 17), dtype)
    _, c_ops = ops.batchnorm_forward(Z, gamma, beta)
    _, c_np = numpy_ops.batchnorm_forward(Z, gamma, beta)
    assert type(c_ops) is type(c_np) is ops.BatchNormCache
    want = ref.batchnorm_backward(dZt, Z, gamma, EPS)
    for got in (numpy_ops.batchnorm_backward(dZt, c_ops), ops.batchnorm_backward(dZt, c_np)):
        for g, w, name in zip(got, want, ("dZ", "dgamma", "dbeta")):
            assert_close(g, w, dtype, err_msg=name)


@pytest.mark.parametrize("shape", [(2, 1), (2, 3), (5, 4), (9, 2)])
def test_backward_by_finite_differences(impl, shape, assert_close, fd_tol):
    Z, gamma, beta, W = data(shape, np.float64, seed=7, loc=0.3, scale=1.0)
    _, cache = impl.batchnorm_forward(Z, gamma, beta, eps=1e-3)
    grads = impl.batchnorm_backward(W, cache)

    def J():
        """sum(W * Z_tilde), so dJ/dZ_tilde = W."""
        return np.sum(W * numpy_ops.batchnorm_forward(Z, gamma, beta, eps=1e-3)[0])

    for name, x, grad in zip(("dZ", "dgamma", "dbeta"), (Z, gamma, beta), grads):
        # absolute 1e-8, stricter than FD_TOL's 1e-7 of max|grad| (up to 5.7
        # here); measured error <= 3.7e-9
        assert_close(grad, ref.numerical_gradient(J, x), tol=fd_tol._replace(atol=1e-8),
                     scale=1.0, err_msg=name)


# ---------------------------------------------------------------- running averages

def test_running_averages_by_hand_over_three_batches(impl, dtype, assert_close):
    batches = [np.array([[1.0, 2.0], [3.0, 6.0]]),
               np.array([[0.0, -1.0], [2.0, 1.0], [4.0, 3.0]]),
               np.array([[5.0, 0.0], [5.0, 0.0], [8.0, 4.0], [2.0, 4.0]])]
    # means (2, 4), (2, 1), (5, 2); unbiased variances (2, 8), (4, 4), (6, 16/3)
    momentum = 0.9
    rm_hand, rv_hand = np.zeros(2), np.ones(2)
    for mean, var in (((2, 4), (2, 8)), ((2, 1), (4, 4)), ((5, 2), (6, 16 / 3))):
        rm_hand = momentum * rm_hand + (1 - momentum) * np.array(mean, float)
        rv_hand = momentum * rv_hand + (1 - momentum) * np.array(var, float)
    # on paper: mean 0 -> 0.2 -> 0.38 -> 0.842 and 0 -> 0.4 -> 0.46 -> 0.614;
    # variance 1 -> 1.1 -> 1.39 -> 1.851 and 1 -> 1.7 -> 1.93 -> 1.737 + 1.6/3
    np.testing.assert_allclose(rm_hand, [0.842, 0.614])
    np.testing.assert_allclose(rv_hand, [1.851, 1.737 + 1.6 / 3])

    rm, rv = np.zeros(2, dtype), np.ones(2, dtype)
    gamma, beta = np.ones(2, dtype), np.zeros(2, dtype)
    for Z in batches:
        impl.batchnorm_forward(Z.astype(dtype), gamma, beta, running_mean=rm, running_var=rv,
                               momentum=momentum)
    assert_close(rm, rm_hand, dtype, err_msg="running_mean")
    assert_close(rv, rv_hand, dtype, err_msg="running_var")

    Zt, _ = impl.batchnorm_forward(batches[0].astype(dtype), gamma, beta, training=False,
                                   running_mean=rm, running_var=rv)
    assert_close(Zt, (batches[0] - rm_hand) / np.sqrt(rv_hand + EPS), dtype)


def test_momentum_extremes(impl, dtype, assert_close):
    Z, gamma, beta, _ = data((300, 129), dtype)
    rm, rv = np.full(129, 0.25, dtype), np.full(129, 2.0, dtype)
    impl.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv, momentum=1.0)
    np.testing.assert_array_equal(rm, 0.25)        # all weight on the old average
    np.testing.assert_array_equal(rv, 2.0)
    rm_ref, rv_ref = ref.batchnorm_running_update(rm, rv, Z, momentum=0.0)   # the batch alone
    impl.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv, momentum=0.0)
    assert_close(rm, rm_ref, dtype, err_msg="running_mean")
    assert_close(rv, rv_ref, dtype, err_msg="running_var")


def test_running_stats_not_required_in_training(assert_close):
    Z, gamma, beta, _ = data((5, 3), np.float64)
    Zt, cache = ops.batchnorm_forward(Z, gamma, beta)
    assert_close(Zt, ref.batchnorm_forward(Z, gamma, beta, EPS)[0])


# ---------------------------------------------------------------- threads

def test_deterministic_for_a_thread_count(threads, dtype, assert_close):
    Z, gamma, beta, dZt = data((1029, 37), dtype)
    results = {}
    for n in (1, 2, 1, 2):
        threads(n)
        rm, rv = np.zeros(37, dtype), np.ones(37, dtype)
        Zt, cache = ops.batchnorm_forward(Z, gamma, beta, running_mean=rm, running_var=rv)
        out = (Zt, cache.mu, cache.inv_std, rm, rv) + ops.batchnorm_backward(dZt, cache)
        if n in results:
            for a, b in zip(out, results[n]):
                np.testing.assert_array_equal(a, b)
        results[n] = out
    names = ("Z_tilde", "mu", "inv_std", "running_mean", "running_var", "dZ", "dgamma", "dbeta")
    for a, b, name in zip(results[1], results[2], names):
        assert_close(a, b, dtype, err_msg=name)


# ---------------------------------------------------------------- properties

finite = dict(allow_nan=False, allow_infinity=False)


@st.composite
def batches(draw, max_rows=40, max_cols=9):
    m = draw(st.integers(2, max_rows))
    n = draw(st.integers(1, max_cols))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    elems = st.floats(-1e3, 1e3, width=32, **finite)
    Z = np.array(draw(st.lists(elems, min_size=m * n, max_size=m * n)), dtype).reshape(m, n)
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    gamma = rng.uniform(-2, 2, n).astype(dtype)
    beta = rng.standard_normal(n).astype(dtype)
    dZt = rng.standard_normal((m, n)).astype(dtype)
    return Z, gamma, beta, dZt


@settings(max_examples=150, deadline=None)
@given(batches(), st.sampled_from([1e-5, 1e-3, 0.5]))
def test_property_both_implementations_match_reference(assert_close, b, eps):
    Z, gamma, beta, dZt = b
    dtype = Z.dtype
    zt_ref, zn_ref, _, _ = ref.batchnorm_forward(Z, gamma, beta, eps)
    grads_ref = ref.batchnorm_backward(dZt, Z, gamma, eps)
    # z_norm's tolerance scales with 1/sqrt(var + eps): data with a spread far
    # below its magnitude is normalised from a few significant bits only
    var = Z.astype(np.float64).var(axis=0)
    mag = np.abs(Z.astype(np.float64)).max(axis=0)
    cond = float(np.max(1 + mag / np.sqrt(var + eps)))
    table = TOLERANCES[dtype]
    tol = Tol(table.rtol * cond, table.atol * cond)
    tol_grads = Tol(tol.rtol * cond, tol.atol * cond)   # through z_norm twice
    for impl in (ops, numpy_ops):
        Zt, cache = impl.batchnorm_forward(Z, gamma, beta, eps=eps)
        assert_close(cache.z_norm, zn_ref, dtype, tol=tol, err_msg="z_norm")
        assert_close(Zt, zt_ref, dtype, tol=tol, err_msg="Z_tilde")
        dZ, dgamma, dbeta = impl.batchnorm_backward(dZt, cache)
        assert_close(dZ, grads_ref[0], dtype, tol=tol_grads, scale=dZ_scale(grads_ref[0]),
                     err_msg="dZ")
        assert_close(dgamma, grads_ref[1], dtype, tol=tol_grads, err_msg="dgamma")
        assert_close(dbeta, grads_ref[2], dtype, tol=tol_grads, err_msg="dbeta")


@settings(max_examples=100, deadline=None)
@given(batches(), st.floats(0.01, 100.0), st.floats(-100.0, 100.0))
def test_property_shift_and_scale_invariance(b, a, c):
    # z_norm(a Z + c; eps a^2) == z_norm(Z; eps) for a > 0
    Z, gamma, beta, dZt = b
    Z = Z.astype(np.float64)
    if np.ptp(Z, axis=0).min() == 0:
        Z[0] += 1.0
    gamma, beta, dZt = gamma.astype(np.float64), beta.astype(np.float64), dZt.astype(np.float64)
    _, c1 = ops.batchnorm_forward(Z, gamma, beta, eps=1e-3)
    _, c2 = ops.batchnorm_forward(a * Z + c, gamma, beta, eps=1e-3 * a * a)
    np.testing.assert_allclose(c2.z_norm, c1.z_norm, rtol=1e-6, atol=1e-6)


@settings(max_examples=100, deadline=None)
@given(batches())
def test_property_gradient_sums_to_zero_per_column(b):
    # Z_tilde does not change when a constant is added to a column, so dZ is
    # orthogonal to constants: its column sums vanish
    Z, gamma, beta, dZt = b
    Z, gamma, beta, dZt = (x.astype(np.float64) for x in (Z, gamma, beta, dZt))
    for impl in (ops, numpy_ops):
        _, cache = impl.batchnorm_forward(Z, gamma, beta)
        dZ, _, _ = impl.batchnorm_backward(dZt, cache)
        scale = np.abs(gamma * cache.inv_std).max() * np.abs(dZt).sum()
        np.testing.assert_allclose(dZ.sum(axis=0), 0, atol=1e-9 * max(scale, 1.0))


# ---------------------------------------------------------------- torch

def _torch():
    return pytest.importorskip("torch", reason="torch not installed: comparison skipped")


def test_matches_torch_batchnorm1d(impl, dtype, assert_close):
    torch = _torch()
    n = 19
    momentum = 0.9                       # ours: weight of the old average
    layer = torch.nn.BatchNorm1d(n, eps=EPS, momentum=1 - momentum,   # torch: of the new
                                 dtype=torch.float64 if dtype == np.float64 else torch.float32)
    rng = np.random.default_rng(5)
    gamma = rng.uniform(0.5, 2.0, n).astype(dtype)
    beta = rng.standard_normal(n).astype(dtype)
    with torch.no_grad():
        layer.weight.copy_(torch.from_numpy(gamma))
        layer.bias.copy_(torch.from_numpy(beta))
    rm, rv = np.zeros(n, dtype), np.ones(n, dtype)     # torch's initial values
    layer.train()
    for m in (32, 7, 50):
        Z = (2.0 + 3.0 * rng.standard_normal((m, n))).astype(dtype)
        dZt = rng.standard_normal((m, n)).astype(dtype)
        x = torch.from_numpy(Z.copy()).requires_grad_()
        layer.zero_grad()
        y = layer(x)
        y.backward(torch.from_numpy(dZt))
        Zt, cache = impl.batchnorm_forward(Z, gamma, beta, eps=EPS, running_mean=rm,
                                           running_var=rv, momentum=momentum)
        dZ, dgamma, dbeta = impl.batchnorm_backward(dZt, cache)
        assert_close(Zt, y.detach().numpy(), dtype, err_msg="Z_tilde")
        assert_close(dZ, x.grad.numpy(), dtype, err_msg="dZ")
        assert_close(dgamma, layer.weight.grad.numpy(), dtype, err_msg="dgamma")
        assert_close(dbeta, layer.bias.grad.numpy(), dtype, err_msg="dbeta")
        assert_close(rm, layer.running_mean.numpy(), dtype, err_msg="running_mean")
        assert_close(rv, layer.running_var.numpy(), dtype, err_msg="running_var")
    layer.eval()
    Z = rng.standard_normal((5, n)).astype(dtype)
    with torch.no_grad():
        want = layer(torch.from_numpy(Z)).numpy()
    Zt, _ = impl.batchnorm_forward(Z, gamma, beta, eps=EPS, training=False, running_mean=rm,
                                   running_var=rv)
    assert_close(Zt, want, dtype, err_msg="inference")


# ---------------------------------------------------------------- bad inputs

def _good(dtype=np.float64, shape=(4, 3)):
    Z, gamma, beta, dZt = data(shape, dtype)
    return Z, gamma, beta, dZt


def _forward_cases():
    Z, g, b, _ = _good()
    n = Z.shape[1]
    f32 = np.float32
    rm, rv = np.zeros(n), np.ones(n)
    return [
        ("gamma shape", dict(Z=Z, gamma=np.ones(n + 1), beta=b), ValueError,
         "gamma must have shape (3,) to match the 3 columns of Z; got (4,)"),
        ("beta shape", dict(Z=Z, gamma=g, beta=np.ones((n, 1))), ValueError,
         "beta must be 1-D; got 2-D"),
        ("dtype mismatch", dict(Z=Z, gamma=g.astype(f32), beta=b), TypeError,
         "gamma must have dtype float64 like the other arrays"),
        ("integer Z", dict(Z=Z.astype(np.int64), gamma=g, beta=b), TypeError,
         "Z must be float32 or float64; got int64"),
        ("non-contiguous", dict(Z=np.asfortranarray(Z), gamma=g, beta=b), ValueError,
         "Z must be C-contiguous"),
        ("empty", dict(Z=np.empty((0, n)), gamma=g, beta=b), ValueError,
         "Z must not be empty"),
        ("1-D Z", dict(Z=Z[0].copy(), gamma=g, beta=b), ValueError, "Z must be 2-D; got 1-D"),
        ("one row", dict(Z=Z[:1].copy(), gamma=g, beta=b), ValueError,
         "a training mini-batch needs at least 2 rows, since the variance of a single "
         "example is undefined; got Z of shape (1, 3)"),
        ("eps zero", dict(Z=Z, gamma=g, beta=b, eps=0.0), ValueError,
         "eps must be a finite number in (0, inf]; got 0.0"),
        ("eps negative", dict(Z=Z, gamma=g, beta=b, eps=-1e-5), ValueError,
         "eps must be a finite number in (0, inf]"),
        ("eps nan", dict(Z=Z, gamma=g, beta=b, eps=float("nan")), ValueError,
         "eps must be a finite number"),
        ("momentum > 1", dict(Z=Z, gamma=g, beta=b, momentum=1.5), ValueError,
         "momentum (weight of the old running average) must be a finite number in [0, 1]"),
        ("momentum < 0", dict(Z=Z, gamma=g, beta=b, momentum=-0.1), ValueError,
         "momentum (weight of the old running average) must be a finite number in [0, 1]"),
        ("momentum str", dict(Z=Z, gamma=g, beta=b, momentum="0.9"), TypeError,
         "momentum (weight of the old running average) must be a real number"),
        ("inference no stats", dict(Z=Z, gamma=g, beta=b, training=False), ValueError,
         "training=False (inference) normalises with the running statistics; pass "
         "running_mean and running_var"),
        ("only running_mean", dict(Z=Z, gamma=g, beta=b, running_mean=rm), ValueError,
         "pass both running_mean and running_var, or neither; got only running_mean"),
        ("running shape", dict(Z=Z, gamma=g, beta=b, running_mean=rm, running_var=np.ones(2)),
         ValueError, "running_var must have shape (3,)"),
        ("running dtype", dict(Z=Z, gamma=g, beta=b, running_mean=rm.astype(f32),
                               running_var=rv), TypeError, "running_mean must have dtype float64"),
        ("same running array", dict(Z=Z, gamma=g, beta=b, running_mean=rm, running_var=rm),
         ValueError, "running_mean and running_var must be different arrays"),
        ("training not bool", dict(Z=Z, gamma=g, beta=b, training="yes"), TypeError,
         "training must be True or False; got 'yes'"),
        ("out shape", dict(Z=Z, gamma=g, beta=b, out=np.empty((4, 4))), ValueError,
         "output Z_tilde must have shape (4, 3); got (4, 4)"),
        ("out bad", dict(Z=Z, gamma=g, beta=b, out=(None, "cache")), TypeError,
         "the cache in out must be a BatchNormCache to reuse; got str"),
    ]


@pytest.mark.parametrize("case", _forward_cases(), ids=lambda c: c[0] if isinstance(c, tuple) else None)
def test_forward_rejects_bad_inputs(impl, case):
    _, kwargs, exc, message = case
    kwargs = dict(kwargs)
    args = [kwargs.pop(k) for k in ("Z", "gamma", "beta")]
    with pytest.raises(exc, match="^batchnorm_forward: " + re.escape(message)):
        impl.batchnorm_forward(*args, **kwargs)


def test_forward_rejects_partially_overlapping_output(impl, rng):
    buf = rng.standard_normal((5, 3))
    Z, out = buf[:4], buf[1:]
    g, b = np.ones(3), np.zeros(3)
    with pytest.raises(ValueError, match="output Z_tilde must be Z itself or not overlap it"):
        impl.batchnorm_forward(Z, g, b, out=out, training=False, running_mean=g, running_var=g)
    with pytest.raises(ValueError, match="output Z_tilde must not overlap Z when training"):
        impl.batchnorm_forward(Z, g, b, out=out)


def test_readonly_running_stats_rejected_in_training_only(impl):
    Z, g, b, _ = _good()
    rm, rv = np.zeros(3), np.ones(3)
    rm.flags.writeable = False
    with pytest.raises(ValueError, match="running_mean must be writeable"):
        impl.batchnorm_forward(Z, g, b, running_mean=rm, running_var=rv)
    impl.batchnorm_forward(Z, g, b, training=False, running_mean=rm, running_var=rv)


def test_backward_rejects_bad_inputs(impl):
    Z, g, b, dZt = _good()
    _, cache = impl.batchnorm_forward(Z, g, b)
    cases = [
        ((dZt, None), TypeError, "cache must be the BatchNormCache returned by "
         "batchnorm_forward(..., training=True); got NoneType (inference returns no cache)"),
        ((dZt, (1, 2)), TypeError, "cache must be the BatchNormCache"),
        ((dZt[:3].copy(), cache), ValueError,
         "dZ_tilde must have the shape (4, 3) of the forward batch; got (3, 3)"),
        ((dZt.astype(np.float32), cache), TypeError, "dZ_tilde must have dtype float64"),
        ((np.asfortranarray(dZt), cache), ValueError, "dZ_tilde must be C-contiguous"),
        ((dZt, cache._replace(gamma=np.ones(2))), ValueError, "cache.gamma must have shape (3,)"),
    ]
    for args, exc, message in cases:
        with pytest.raises(exc, match="^batchnorm_backward: " + re.escape(message)):
            impl.batchnorm_backward(*args)
    with pytest.raises(ValueError, match=re.escape("output dgamma must have shape (3,)")):
        impl.batchnorm_backward(dZt, cache, out=(None, np.empty(4), None))
    with pytest.raises(ValueError, match="output dZ must be dZ_tilde itself or overlap neither"):
        impl.batchnorm_backward(dZt, cache, out=cache.Z)
    with pytest.raises(TypeError, match=re.escape("out must be None, an array, or a tuple "
                                                  "(dZ, dgamma, dbeta)")):
        impl.batchnorm_backward(dZt, cache, out=(None, None))
