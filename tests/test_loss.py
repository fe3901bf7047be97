"""Loss kernels (softmax / sigmoid cross-entropy, MSE) and the softmax and
sigmoid activations of fastnn.ops and fastnn.numpy_ops, against
tests/reference.py: values, gradients, finite differences, numerical
stability and the forms the targets may take.

Every test takes the ``impl`` fixture, so it runs on both implementations.
"""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref

# (m, k): one row, one column, both, odd sizes, and 1501 * 257 > 32768 elements
# so that the parallel paths (and their block-wise loss reduction) run, with
# blocks of unequal sizes (1501 rows, 1501 * 257 elements, are odd).
SHAPES = [(1, 1), (1, 5), (7, 1), (7, 5), (13, 10), (1501, 257)]
LARGE = SHAPES[-1]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]
LOSSES = ["softmax_cross_entropy", "sigmoid_cross_entropy", "mean_squared_error"]


def logits(rng, m, k, dtype, scale=3.0):
    return (scale * rng.standard_normal((m, k))).astype(dtype)


def targets(rng, loss, kind, m, k, dtype):
    """Targets of `loss` of the given kind:
    softmax: "labels" (m,) int64, "one_hot" (m, k), "probs" (m, k) rows of
    uniform [0, 1] values (not normalised: the row sum enters the gradient);
    sigmoid: "binary" {0, 1}, "soft" in [0, 1];  mse: "real"."""
    if kind == "labels":
        return rng.integers(0, k, size=m)
    if kind == "one_hot":
        return ref.one_hot(rng.integers(0, k, size=m), k).astype(dtype)
    if kind == "probs" or kind == "soft":
        return rng.uniform(0, 1, size=(m, k)).astype(dtype)
    if kind == "binary":
        return rng.integers(0, 2, size=(m, k)).astype(dtype)
    if kind == "real":
        return rng.standard_normal((m, k)).astype(dtype)
    raise ValueError(kind)


def dz_scale(loss, Z, y):
    """Magnitude of the terms dZ is the difference of (they cancel where the
    prediction is right, e.g. everywhere when k = 1 for a softmax):
    softmax * rowsum(Y) and Y over m; sigmoid(Z) and Y over m; 2 P and 2 Y
    over m k."""
    m, k = Z.shape
    if loss == "softmax_cross_entropy":
        y = np.asarray(y, dtype=np.float64)
        return max(1.0, y.sum(axis=1).max() if y.ndim == 2 else 1.0) / m
    if loss == "sigmoid_cross_entropy":
        return 1.0 / m
    return 2.0 * max(np.abs(Z).max(), np.abs(np.asarray(y, dtype=np.float64)).max()) / (m * k)


TARGET_KINDS = {
    "softmax_cross_entropy": ["labels", "one_hot", "probs"],
    "sigmoid_cross_entropy": ["binary", "soft"],
    "mean_squared_error": ["real"],
}
LOSS_CASES = [pytest.param(loss, kind, id=f"{loss}-{kind}")
              for loss in LOSSES for kind in TARGET_KINDS[loss]]


# ----------------------------------------------------------------------------
# Against the reference
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_loss_matches_reference(impl, dtype, shape, loss, kind, rng, assert_close):
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    value, dZ = getattr(impl, loss)(Z, y)
    r_value, r_dZ = getattr(ref, loss)(Z, y)
    assert type(value) is float
    assert dZ.dtype == dtype
    assert_close(value, r_value, dtype, err_msg="loss")
    assert_close(dZ, r_dZ, dtype, scale=dz_scale(loss, Z, y), err_msg="dZ")


@pytest.mark.parametrize("name", ["softmax", "sigmoid"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_activation_matches_reference(impl, dtype, shape, name, rng, assert_close):
    Z = logits(rng, *shape, dtype)
    Z0 = Z.copy()
    A = getattr(impl, name)(Z)
    assert A.dtype == dtype
    assert_close(A, getattr(ref, name)(Z), dtype)
    np.testing.assert_array_equal(Z, Z0, err_msg="Z was modified")


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_compute_grad_false(impl, dtype, loss, kind, rng):
    Z = logits(rng, 13, 10, dtype)
    y = targets(rng, loss, kind, 13, 10, dtype)
    value, dZ = getattr(impl, loss)(Z, y)
    value2, none = getattr(impl, loss)(Z, y, compute_grad=False)
    assert none is None
    assert value2 == value


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(13, 10), LARGE], ids=["13x10", "large"])
def test_loss_out_buffer(impl, dtype, shape, loss, kind, rng):
    """out= is used (the returned dZ IS the buffer, prefilled with NaN), and may
    be Z itself (in place); the numbers are those of an allocating call."""
    Z = logits(rng, *shape, dtype)
    y = targets(rng, loss, kind, *shape, dtype)
    Z0, y0 = Z.copy(), np.copy(y)
    value0, dZ0 = getattr(impl, loss)(Z, y)
    np.testing.assert_array_equal(Z, Z0, err_msg="Z was modified")
    np.testing.assert_array_equal(y, y0, err_msg="y was modified")

    buf = np.full(shape, np.nan, dtype=dtype)
    value, dZ = getattr(impl, loss)(Z, y, out=buf)
    assert dZ is buf
    assert value == value0
    np.testing.assert_array_equal(dZ, dZ0)

    Zin = Z.copy()
    value, dZ = getattr(impl, loss)(Zin, y, out=Zin)
    assert dZ is Zin
    assert value == value0
    np.testing.assert_array_equal(dZ, dZ0)


@pytest.mark.parametrize("name", ["softmax", "sigmoid"])
@pytest.mark.parametrize("shape", [(7, 5), LARGE], ids=["7x5", "large"])
def test_activation_out_buffer(impl, dtype, shape, name, rng):
    Z = logits(rng, *shape, dtype)
    A0 = getattr(impl, name)(Z)
    buf = np.full(shape, np.nan, dtype=dtype)
    A = getattr(impl, name)(Z, out=buf)
    assert A is buf
    np.testing.assert_array_equal(A, A0)
    Zin = Z.copy()
    A = getattr(impl, name)(Zin, out=Zin)
    assert A is Zin
    np.testing.assert_array_equal(A, A0)


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_loss_on_contiguous_view_with_offset(impl, dtype, loss, kind, rng, assert_close):
    """Z a row slice of a larger array (C-contiguous, not at its buffer's
    start): the kernel must read from the view's own data pointer."""
    m, k = 7, 5
    Z = logits(rng, m + 5, k, dtype)[3:3 + m]
    assert Z.flags.c_contiguous and not Z.flags.owndata
    y = targets(rng, loss, kind, m, k, dtype)
    value, dZ = getattr(impl, loss)(Z, y)
    r_value, r_dZ = getattr(ref, loss)(Z, y)
    assert_close(value, r_value, dtype, err_msg="loss")
    assert_close(dZ, r_dZ, dtype, scale=dz_scale(loss, Z, y), err_msg="dZ")


# ----------------------------------------------------------------------------
# Property tests over random shapes (hypothesis)
# ----------------------------------------------------------------------------

@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 50), k=st.integers(1, 30),
       case=st.sampled_from([(loss, kind) for loss in LOSSES for kind in TARGET_KINDS[loss]]),
       scale=st.sampled_from([0.1, 3.0, 30.0]), seed=st.integers(0, 2**32 - 1))
def test_loss_property(impl, dtype, assert_close, m, k, case, scale, seed):
    loss, kind = case
    rng = np.random.default_rng(seed)
    Z = logits(rng, m, k, dtype, scale)
    y = targets(rng, loss, kind, m, k, dtype)
    value, dZ = getattr(impl, loss)(Z, y)
    r_value, r_dZ = getattr(ref, loss)(Z, y)
    assert dZ.dtype == dtype
    # The cross-entropies are differences of terms of the logits' size
    # (log-sum-exp(z) - z_y, max(z, 0) - z y + ...): a well-fitted row cancels
    # to ~1e-4 and carries the rounding of its terms (conftest's scale rule).
    terms = max(abs(float(r_value)), float(np.abs(Z).max()))
    assert_close(value, r_value, dtype, scale=terms, err_msg="loss")
    assert_close(dZ, r_dZ, dtype, scale=dz_scale(loss, Z, y), err_msg="dZ")


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 50), k=st.integers(1, 30), scale=st.sampled_from([0.1, 3.0, 100.0]),
       seed=st.integers(0, 2**32 - 1))
def test_activation_property(impl, dtype, assert_close, m, k, scale, seed):
    Z = logits(np.random.default_rng(seed), m, k, dtype, scale)
    for name in ("softmax", "sigmoid"):
        A = getattr(impl, name)(Z)
        assert A.dtype == dtype
        assert_close(A, getattr(ref, name)(Z), dtype, err_msg=name)


# ----------------------------------------------------------------------------
# Finite differences (float64)
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(1, 4), (5, 1), (6, 4)], ids=["1x4", "5x1", "6x4"])
def test_loss_gradient_finite_differences(impl, shape, loss, kind, rng, assert_close, fd_tol):
    Z = logits(rng, *shape, np.float64, scale=2.0)
    y = targets(rng, loss, kind, *shape, np.float64)
    fn = getattr(impl, loss)
    _, dZ = fn(Z, y)
    numeric = ref.numerical_gradient(lambda: fn(Z, y, compute_grad=False)[0], Z)
    assert_close(dZ, numeric, tol=fd_tol)


# ----------------------------------------------------------------------------
# Numerical stability
# ----------------------------------------------------------------------------

def test_softmax_cross_entropy_huge_logits(impl, dtype, assert_close):
    """Logits of +-1e4: exp would overflow, log-sum-exp must not.  Row losses,
    analytically: logsumexp - z_y = 2e4, 0, 2e4 + log 2 (e^-1e4 terms vanish)."""
    Z = np.array([[1e4, -1e4, 0.0],
                  [0.0, 1e4, -1e4],
                  [1e4, 1e4, -1e4]], dtype=dtype)
    y = np.array([1, 1, 2])
    expected_loss = (2e4 + 0.0 + 2e4 + np.log(2.0)) / 3
    expected_dZ = np.array([[1.0, -1.0, 0.0],
                            [0.0, 0.0, 0.0],
                            [0.5, 0.5, -1.0]]) / 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        for targets_ in (y, ref.one_hot(y, 3).astype(dtype)):
            loss, dZ = impl.softmax_cross_entropy(Z, targets_)
            assert np.isfinite(loss) and np.all(np.isfinite(dZ))
            assert_close(loss, expected_loss, dtype, err_msg="loss")
            assert_close(dZ, expected_dZ, dtype, err_msg="dZ")
            r_loss, r_dZ = ref.softmax_cross_entropy(Z, targets_)
            assert_close(loss, r_loss, dtype, err_msg="loss vs reference")
        A = impl.softmax(Z)
    assert_close(A, [[1, 0, 0], [0, 1, 0], [0.5, 0.5, 0]], dtype, err_msg="softmax")


def test_sigmoid_cross_entropy_huge_logits(impl, dtype, assert_close):
    """Logits of +-1e4.  Per element y softplus(-z) + (1 - y) softplus(z):
    1e4 when the sign is wrong, 0 when right, so the rows cost 2e4 and 0."""
    Z = np.array([[1e4, -1e4], [1e4, -1e4]], dtype=dtype)
    Y = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        loss, dZ = impl.sigmoid_cross_entropy(Z, Y)
        A = impl.sigmoid(Z)
    assert np.isfinite(loss) and np.all(np.isfinite(dZ))
    assert_close(loss, (2e4 + 0.0) / 2, dtype, err_msg="loss")
    assert_close(dZ, np.array([[1.0, -1.0], [0.0, 0.0]]) / 2, dtype, err_msg="dZ")
    assert_close(A, [[1, 0], [1, 0]], dtype, err_msg="sigmoid")
    # half targets: softplus(1e4)/2 + softplus(-1e4)/2 = 5e3 per element
    loss, _ = impl.sigmoid_cross_entropy(Z, np.full_like(Z, 0.5))
    assert_close(loss, 2 * 5e3 * 2 / 2, dtype, err_msg="y = 0.5")


@pytest.mark.parametrize("offset", [1e4, -1e4, 3e4])
def test_softmax_cross_entropy_large_offset(impl, dtype, offset, rng, assert_close):
    """A common offset leaves softmax unchanged: huge-offset logits with O(1)
    differences give the loss of the differences, not inf or nan.
    (The differences are taken from the offset array itself, so the float32
    rounding of Z does not enter the comparison.)"""
    Z = (offset + rng.standard_normal((9, 4))).astype(dtype)
    y = rng.integers(0, 4, size=9)
    loss, dZ = impl.softmax_cross_entropy(Z, y)
    shifted = Z.astype(np.float64) - offset
    r_loss, r_dZ = ref.softmax_cross_entropy(shifted, y)
    assert np.isfinite(loss)
    assert_close(loss, r_loss, dtype, err_msg="loss")
    assert_close(dZ, r_dZ, dtype, err_msg="dZ")


@pytest.mark.parametrize("z", [40.0, 80.0, 800.0])
def test_sigmoid_cross_entropy_saturated(impl, dtype, z, assert_close):
    """Large |z| with the right sign: loss = softplus(-|z|) ~ exp(-|z|), tiny but
    computed, not log(0); with the wrong sign, exactly |z| + log1p(exp(-|z|))."""
    Z = np.array([[z, -z]], dtype=dtype)
    loss, _ = impl.sigmoid_cross_entropy(Z, np.array([[1.0, 0.0]], dtype=dtype))
    assert loss >= 0 and np.isfinite(loss)
    assert_close(loss, 2 * np.logaddexp(0, -z), dtype)
    loss, _ = impl.sigmoid_cross_entropy(Z, np.array([[0.0, 1.0]], dtype=dtype))
    assert_close(loss, 2 * np.logaddexp(0, z), dtype)


# ----------------------------------------------------------------------------
# Equivalent formulations and target forms
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_softmax_two_classes_equals_sigmoid(impl, dtype, scale, rng, assert_close):
    """softmax over (z0, z1) is sigmoid(z1 - z0): same loss, and dZ[:, 1] of the
    softmax is the sigmoid's dZ (dZ[:, 0] its negative)."""
    m = 11
    Z = (scale * rng.standard_normal((m, 2))).astype(dtype)
    y = rng.integers(0, 2, size=m)
    loss_s, dZ_s = impl.softmax_cross_entropy(Z, y)
    diff = np.ascontiguousarray(Z[:, 1:2] - Z[:, 0:1])
    loss_b, dZ_b = impl.sigmoid_cross_entropy(diff, y.astype(dtype))
    assert_close(loss_s, loss_b, dtype, err_msg="loss")
    assert_close(dZ_s[:, 1:2], dZ_b, dtype, err_msg="dZ[:, 1]")
    assert_close(dZ_s[:, 0:1], -dZ_b.astype(np.float64), dtype, err_msg="dZ[:, 0]")


@pytest.mark.parametrize("shape", [(7, 5), LARGE], ids=["7x5", "large"])
def test_labels_and_one_hot_agree(impl, dtype, shape, rng, assert_close):
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = rng.integers(0, k, size=m)
    loss_l, dZ_l = impl.softmax_cross_entropy(Z, y)
    loss_h, dZ_h = impl.softmax_cross_entropy(Z, ref.one_hot(y, k).astype(dtype))
    assert_close(loss_l, loss_h, dtype, err_msg="loss")
    assert_close(dZ_l, dZ_h.astype(np.float64), dtype, err_msg="dZ")


def test_label_forms(impl, dtype, rng):
    """Labels as a Python list, integral floats (array or list), int32, uint8
    and a one-hot of any numeric dtype give exactly the int64 labels' result."""
    m, k = 6, 4
    Z = logits(rng, m, k, dtype)
    y = np.array([0, 3, 1, 1, 2, 3])
    loss0, dZ0 = impl.softmax_cross_entropy(Z, y)
    forms = {
        "list": y.tolist(),
        "float array": y.astype(np.float64),
        "float32 array": y.astype(np.float32),
        "float list": [float(v) for v in y],
        "int32": y.astype(np.int32),
        "uint8": y.astype(np.uint8),
    }
    for name, form in forms.items():
        loss, dZ = impl.softmax_cross_entropy(Z, form)
        assert loss == loss0, name
        np.testing.assert_array_equal(dZ, dZ0, err_msg=name)
    loss_h, dZ_h = impl.softmax_cross_entropy(Z, ref.one_hot(y, k).astype(dtype))
    for name, form in {"int one-hot": ref.one_hot(y, k).astype(np.int64),
                       "list one-hot": ref.one_hot(y, k).tolist(),
                       "bool one-hot": ref.one_hot(y, k).astype(bool)}.items():
        loss, dZ = impl.softmax_cross_entropy(Z, form)
        assert loss == loss_h, name
        np.testing.assert_array_equal(dZ, dZ_h, err_msg=name)


@pytest.mark.parametrize("loss", ["sigmoid_cross_entropy", "mean_squared_error"])
def test_real_target_forms(impl, dtype, loss, rng, assert_close):
    """(m,) targets for a (m, 1) output, Python lists, ints and bools give the
    result of the (m, k) float array."""
    fn = getattr(impl, loss)
    m = 8
    Z = logits(rng, m, 1, dtype)
    y = rng.integers(0, 2, size=m)
    value0, dZ0 = fn(Z, y.astype(dtype).reshape(m, 1))
    r_value, r_dZ = getattr(ref, loss)(Z, y.reshape(m, 1))
    assert_close(value0, r_value, dtype)
    assert_close(dZ0, r_dZ, dtype)
    for name, form in {"(m,) float": y.astype(dtype), "(m,) int": y, "(m,) bool": y.astype(bool),
                       "(m,) list": y.tolist(), "(m, 1) list": y.reshape(m, 1).tolist(),
                       "(m, 1) int": y.reshape(m, 1)}.items():
        value, dZ = fn(Z, form)
        assert value == value0, name
        np.testing.assert_array_equal(dZ, dZ0, err_msg=name)


def test_softmax_single_class(impl, dtype):
    """k = 1: softmax is 1, the loss 0 and its gradient 0, with labels or one-hot."""
    Z = np.array([[3.0], [-7.0], [0.0]], dtype=dtype)
    for y in (np.zeros(3, dtype=np.int64), np.ones((3, 1), dtype=dtype)):
        loss, dZ = impl.softmax_cross_entropy(Z, y)
        assert loss == 0.0
        np.testing.assert_array_equal(dZ, np.zeros_like(Z))
    np.testing.assert_array_equal(impl.softmax(Z), np.ones_like(Z))


def test_perfect_and_uniform_predictions(impl, dtype, assert_close):
    """Known values: equal logits over k classes cost log k; MSE of P = Y is 0."""
    k = 7
    Z = np.zeros((5, k), dtype=dtype)
    loss, dZ = impl.softmax_cross_entropy(Z, np.arange(5) % k)
    assert_close(loss, np.log(k), dtype)
    loss, dZ = impl.sigmoid_cross_entropy(Z, np.zeros_like(Z))
    assert_close(loss, k * np.log(2.0), dtype)
    P = np.linspace(-2, 2, 15, dtype=dtype).reshape(5, 3)
    loss, dP = impl.mean_squared_error(P, P.copy())
    assert loss == 0.0
    np.testing.assert_array_equal(dP, np.zeros_like(P))
    loss, dP = impl.mean_squared_error(P, P + dtype.type(1))
    assert_close(loss, 1.0, dtype)
    assert_close(dP, np.full(P.shape, -2.0 / P.size), dtype)
