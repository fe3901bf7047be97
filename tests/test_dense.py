"""dense_forward / dense_backward of fastnn.ops and fastnn.numpy_ops against
tests/reference.py, finite differences, and the output-buffer contract.

Every test takes the ``impl`` fixture, so it runs on both implementations.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import reference as ref

ACTIVATIONS = ref.ACTIVATIONS

# (m, n_in, n_out): one row, one input column, one output column, the smallest
# layer, odd sizes, and one large enough (1501 * 257 > 32768 elements) for the
# parallel paths of the C kernels to run; 1501 rows (and 1501 * 257 elements) do
# not split evenly into thread blocks, so the block edges are exercised.
SHAPES = [(1, 13, 5), (7, 1, 5), (7, 13, 1), (1, 1, 1), (7, 13, 5), (1501, 300, 257)]
SHAPE_IDS = ["x".join(map(str, s)) for s in SHAPES]
LARGE = SHAPES[-1]


def make_layer(rng, m, n_in, n_out, dtype, bias=True):
    """A_prev ~ N(0, 1), W ~ N(0, 1/n_in) so that Z is O(1), b ~ N(0, 1/4)."""
    A_prev = rng.standard_normal((m, n_in)).astype(dtype)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    b = (0.5 * rng.standard_normal(n_out)).astype(dtype) if bias else None
    return A_prev, W, b


def make_backward_inputs(rng, m, n_in, n_out, dtype, activation):
    """(dA, Z, A_prev, W): Z a genuine forward result, dA of a mean cost (~1/m)."""
    A_prev, W, b = make_layer(rng, m, n_in, n_out, dtype)
    Z, _ = ref.dense_forward(A_prev, W, b, activation)
    dA = rng.standard_normal((m, n_out)) / m
    return dA.astype(dtype), Z.astype(dtype), A_prev, W


# ----------------------------------------------------------------------------
# Against the reference
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False], ids=["b", "no_b"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_forward_matches_reference(impl, dtype, shape, activation, bias, rng, assert_close):
    A_prev, W, b = make_layer(rng, *shape, dtype, bias=bias)
    Z, A = impl.dense_forward(A_prev, W, b, activation)
    Z_ref, A_ref = ref.dense_forward(A_prev, W, b, activation)
    assert Z.dtype == dtype and A.dtype == dtype
    assert_close(Z, Z_ref, dtype, err_msg="Z")
    assert_close(A, A_ref, dtype, err_msg="A")


# the large shape once, with the L2 term (its l2=0 path is the small shapes')
BACKWARD_CASES = [pytest.param(s, l2, id=f"{i}-l2={l2}") for s, i in zip(SHAPES, SHAPE_IDS)
                  for l2 in ((0.0, 0.7) if s != LARGE else (0.7,))]


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape,l2", BACKWARD_CASES)
def test_backward_matches_reference(impl, dtype, shape, activation, l2, rng, assert_close):
    dA, Z, A_prev, W = make_backward_inputs(rng, *shape, dtype, activation)
    dA_prev, dW, db = impl.dense_backward(dA, Z, A_prev, W, activation, l2=l2)
    r_dA_prev, r_dW, r_db = ref.dense_backward(dA, Z, A_prev, W, activation, l2=l2)
    for name, got in (("dA_prev", dA_prev), ("dW", dW), ("db", db)):
        assert got.dtype == dtype, name
    assert_close(dW, r_dW, dtype, err_msg="dW")
    assert_close(db, r_db, dtype, err_msg="db")
    assert_close(dA_prev, r_dA_prev, dtype, err_msg="dA_prev")


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
def test_negative_slope(impl, dtype, slope, rng, assert_close):
    activation = "leaky_relu"
    A_prev, W, b = make_layer(rng, 9, 6, 5, dtype)
    Z, A = impl.dense_forward(A_prev, W, b, activation, negative_slope=slope)
    Z_ref, A_ref = ref.dense_forward(A_prev, W, b, activation, negative_slope=slope)
    assert_close(A, A_ref, dtype)
    dA = rng.standard_normal(Z.shape).astype(dtype)
    got = impl.dense_backward(dA, Z, A_prev, W, activation, negative_slope=slope)
    want = ref.dense_backward(dA, Z, A_prev, W, activation, negative_slope=slope)
    for g, w, name in zip(got, want, ("dA_prev", "dW", "db")):
        assert_close(g, w, dtype, err_msg=name)


def test_derivatives_at_zero(impl, dtype):
    """relu'(0) = 0 and leaky_relu'(0) = slope (the slope applies for z <= 0),
    exactly; with one row and A_prev = 1, db and dW are dZ itself."""
    Z = np.array([[-2.0, 0.0, 3.0]], dtype=dtype)
    dA = np.ones((1, 3), dtype=dtype)
    A_prev = np.ones((1, 1), dtype=dtype)
    W = np.ones((1, 3), dtype=dtype)
    expected = {
        "relu": [0.0, 0.0, 1.0],
        "leaky_relu": [0.25, 0.25, 1.0],
        "linear": [1.0, 1.0, 1.0],
    }
    for activation, dZ in expected.items():
        _, dW, db = impl.dense_backward(dA, Z, A_prev, W, activation, negative_slope=0.25)
        np.testing.assert_array_equal(db, np.array(dZ, dtype=dtype), err_msg=activation)
        np.testing.assert_array_equal(dW[0], np.array(dZ, dtype=dtype), err_msg=activation)
    # forward at the kinks: relu(0) = 0, leaky(-2) = -2 * slope
    _, A = impl.dense_forward(Z, np.eye(3, dtype=dtype), None, "relu")
    np.testing.assert_array_equal(A, np.array([[0.0, 0.0, 3.0]], dtype=dtype))
    _, A = impl.dense_forward(Z, np.eye(3, dtype=dtype), None, "leaky_relu", negative_slope=0.25)
    np.testing.assert_array_equal(A, np.array([[-0.5, 0.0, 3.0]], dtype=dtype))


@pytest.mark.parametrize("activation", ["tanh", "sigmoid"])
def test_saturated_derivatives_keep_relative_precision(impl, dtype, activation, assert_close):
    """dZ = dA * g'(Z) is an elementwise product, no sum, so each element is
    held to the table's rtol alone (scale=0).  For saturated units g' must not
    come from a difference that cancels (1 - tanh(z)^2, s (1 - s)): that loses
    the relative precision as |z| grows (float32, z = 6: 8e-4 for tanh) and
    gives exactly 0 once tanh(z) or s rounds to 1 (float32 tanh |z| > ~9,
    sigmoid z > ~17; float64 tanh |z| > ~19), where sech(12)^2 = 1.5e-10 and
    sigmoid'(20) = 2.1e-9 are ordinary normal numbers."""
    Z = np.array([[-20.0, -12.0, -6.0, -3.0, 0.5, 3.0, 6.0, 12.0, 20.0]], dtype=dtype)
    dA = np.ones_like(Z)
    A_prev = np.ones((1, 1), dtype=dtype)
    W = np.ones((1, Z.shape[1]), dtype=dtype)
    _, _, db = impl.dense_backward(dA, Z, A_prev, W, activation)   # db = dZ here
    expected = ref.activation_backward(dA, Z, activation)[0]
    assert_close(db, expected, dtype, scale=0.0, err_msg=f"{activation}'(z) at z = {Z[0]}")


def test_softmax_rows_sum_to_one(impl, dtype, rng, assert_close):
    A_prev, W, b = make_layer(rng, *LARGE, dtype)
    _, A = impl.dense_forward(A_prev, W, b, "softmax")
    assert np.all(A >= 0)
    assert_close(A.astype(np.float64).sum(axis=1), np.ones(A.shape[0]), dtype)


# ----------------------------------------------------------------------------
# Property tests over random shapes (hypothesis)
# ----------------------------------------------------------------------------

dims = st.integers(min_value=1, max_value=40)


@settings(max_examples=25, deadline=None)
@given(m=dims, n_in=dims, n_out=dims, activation=st.sampled_from(ACTIVATIONS),
       bias=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_forward_property(impl, dtype, assert_close, m, n_in, n_out, activation, bias, seed):
    rng = np.random.default_rng(seed)
    A_prev, W, b = make_layer(rng, m, n_in, n_out, dtype, bias=bias)
    Z, A = impl.dense_forward(A_prev, W, b, activation)
    Z_ref, A_ref = ref.dense_forward(A_prev, W, b, activation)
    assert Z.dtype == dtype and A.dtype == dtype
    assert_close(Z, Z_ref, dtype, err_msg="Z")
    assert_close(A, A_ref, dtype, err_msg="A")
    _, A_inf = impl.dense_forward(A_prev, W, b, activation, keep_z=False)
    np.testing.assert_array_equal(A_inf, A)


@st.composite
def backward_case(draw, dtype):
    """Z drawn element by element (hypothesis favours 0 and the extremes, so the
    kinks of relu / leaky_relu are hit), the rest from a drawn seed."""
    m, n_in, n_out = draw(dims), draw(dims), draw(dims)
    width = 32 if dtype == np.float32 else 64
    Z = draw(hnp.arrays(dtype, (m, n_out),
                        elements=st.floats(-6, 6, width=width, allow_subnormal=False)))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    A_prev = rng.standard_normal((m, n_in)).astype(dtype)
    W = (rng.standard_normal((n_in, n_out)) / np.sqrt(n_in)).astype(dtype)
    dA = (rng.standard_normal((m, n_out)) / m).astype(dtype)
    return dA, Z, A_prev, W


@settings(max_examples=25, deadline=None)
@given(data=st.data(), activation=st.sampled_from(ACTIVATIONS),
       l2=st.sampled_from([0.0, 1e-3, 0.5, 3.0]))
def test_backward_property(impl, dtype, assert_close, data, activation, l2):
    dA, Z, A_prev, W = data.draw(backward_case(dtype))
    dA_prev, dW, db = impl.dense_backward(dA, Z, A_prev, W, activation, l2=l2)
    r_dA_prev, r_dW, r_db = ref.dense_backward(dA, Z, A_prev, W, activation, l2=l2)
    assert dA_prev.dtype == dtype and dW.dtype == dtype and db.dtype == dtype
    # dW and db are sums over the rows whose terms may cancel: their rounding
    # is relative to the terms' size (|g'| <= 1 for every activation), not to
    # the sum's; a wrong term is still off by that size
    terms = np.abs(dA.astype(np.float64))
    assert_close(dW, r_dW, dtype, err_msg="dW",
                 scale=max(float((np.abs(A_prev.astype(np.float64)).T @ terms).max()),
                           float(np.abs(r_dW).max())))
    assert_close(db, r_db, dtype, err_msg="db", scale=float(terms.sum(axis=0).max()))
    assert_close(dA_prev, r_dA_prev, dtype, err_msg="dA_prev")


# ----------------------------------------------------------------------------
# keep_z, b=None, out=, workspace=, need_dA_prev
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape,bias", [pytest.param((7, 13, 5), True, id="7x13x5-b"),
                                        pytest.param((7, 13, 5), False, id="7x13x5-no_b"),
                                        pytest.param(LARGE, True, id="large-b")])
def test_keep_z_false(impl, dtype, shape, activation, bias, rng):
    A_prev, W, b = make_layer(rng, *shape, dtype, bias=bias)
    _, A_train = impl.dense_forward(A_prev, W, b, activation, keep_z=True)
    Z, A = impl.dense_forward(A_prev, W, b, activation, keep_z=False)
    assert Z is None
    assert A.dtype == dtype
    np.testing.assert_array_equal(A, A_train)


def _nan_like(shape, dtype):
    return np.full(shape, np.nan, dtype=dtype)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(7, 13, 5), LARGE], ids=["7x13x5", "large"])
def test_forward_out_buffers(impl, dtype, shape, activation, rng):
    """The returned arrays ARE the buffers passed (filled with NaN beforehand,
    so a kernel that reads them, or leaves part unwritten, shows), with the
    numbers of an allocating call."""
    A_prev, W, b = make_layer(rng, *shape, dtype)
    Z0, A0 = impl.dense_forward(A_prev, W, b, activation)
    m, n_out = Z0.shape
    Zb, Ab = _nan_like((m, n_out), dtype), _nan_like((m, n_out), dtype)
    Z, A = impl.dense_forward(A_prev, W, b, activation, out=(Zb, Ab))
    assert Z is Zb and A is Ab
    np.testing.assert_array_equal(Z, Z0)
    np.testing.assert_array_equal(A, A0)
    # only A given, Z allocated
    Ab = _nan_like((m, n_out), dtype)
    Z, A = impl.dense_forward(A_prev, W, b, activation, out=(None, Ab))
    assert A is Ab
    np.testing.assert_array_equal(Z, Z0)
    np.testing.assert_array_equal(A, A0)
    # inference into a buffer
    Ab = _nan_like((m, n_out), dtype)
    Z, A = impl.dense_forward(A_prev, W, b, activation, keep_z=False, out=(None, Ab))
    assert Z is None and A is Ab
    np.testing.assert_array_equal(A, A0)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape,l2", [pytest.param((7, 13, 5), 0.0, id="7x13x5-l2=0"),
                                      pytest.param((7, 13, 5), 0.7, id="7x13x5-l2=0.7"),
                                      pytest.param(LARGE, 0.7, id="large-l2=0.7")])
def test_backward_out_and_workspace(impl, dtype, shape, activation, l2, rng):
    dA, Z, A_prev, W = make_backward_inputs(rng, *shape, dtype, activation)
    inputs = [x.copy() for x in (dA, Z, A_prev, W)]
    g0 = impl.dense_backward(dA, Z, A_prev, W, activation, l2=l2)
    # no input is modified when no workspace is given
    for before, after, name in zip(inputs, (dA, Z, A_prev, W), ("dA", "Z", "A_prev", "W")):
        np.testing.assert_array_equal(after, before, err_msg=f"{name} was modified")

    bufs = (_nan_like(A_prev.shape, dtype), _nan_like(W.shape, dtype),
            _nan_like((W.shape[1],), dtype))
    g = impl.dense_backward(dA, Z, A_prev, W, activation, l2=l2, out=bufs)
    for got, buf, want, name in zip(g, bufs, g0, ("dA_prev", "dW", "db")):
        assert got is buf, name
        np.testing.assert_array_equal(got, want, err_msg=name)

    # a separate workspace for dZ, prefilled with NaN
    ws = _nan_like(dA.shape, dtype)
    g = impl.dense_backward(dA, Z, A_prev, W, activation, l2=l2, workspace=ws)
    for got, want, name in zip(g, g0, ("dA_prev", "dW", "db")):
        np.testing.assert_array_equal(got, want, err_msg=f"workspace: {name}")

    # workspace=dA: dA is overwritten by dZ, the gradients are the same
    dA_owned = dA.copy()
    g = impl.dense_backward(dA_owned, Z, A_prev, W, activation, l2=l2, workspace=dA_owned)
    for got, want, name in zip(g, g0, ("dA_prev", "dW", "db")):
        np.testing.assert_array_equal(got, want, err_msg=f"workspace=dA: {name}")

    # everything at once, into the same buffers again (stale values inside)
    dA_owned = dA.copy()
    g = impl.dense_backward(dA_owned, Z, A_prev, W, activation, l2=l2, out=bufs,
                            workspace=dA_owned)
    for got, buf, want, name in zip(g, bufs, g0, ("dA_prev", "dW", "db")):
        assert got is buf, name
        np.testing.assert_array_equal(got, want, err_msg=f"reused buffers: {name}")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_need_dA_prev_false(impl, dtype, activation, rng):
    dA, Z, A_prev, W = make_backward_inputs(rng, 7, 13, 5, dtype, activation)
    _, dW0, db0 = impl.dense_backward(dA, Z, A_prev, W, activation, l2=0.3)
    dA_prev, dW, db = impl.dense_backward(dA, Z, A_prev, W, activation, l2=0.3,
                                          need_dA_prev=False)
    assert dA_prev is None
    np.testing.assert_array_equal(dW, dW0)
    np.testing.assert_array_equal(db, db0)
    # an out slot for dA_prev is ignored rather than written
    buf = _nan_like(A_prev.shape, dtype)
    dA_prev, dW, db = impl.dense_backward(dA, Z, A_prev, W, activation, l2=0.3,
                                          need_dA_prev=False, out=(buf, None, None))
    assert dA_prev is None
    np.testing.assert_array_equal(dW, dW0)


@pytest.mark.parametrize("activation", ["relu", "softmax"])
def test_contiguous_views_with_offset(impl, dtype, activation, rng, assert_close):
    """C-contiguous views that do not start at their buffer's first element
    (row slices), as inputs and as out= buffers: the kernels must use each
    view's own data pointer and leave the rest of the buffer alone."""
    m, n_in, n_out = 7, 13, 5
    big_A = rng.standard_normal((m + 6, n_in)).astype(dtype)
    big_W = (rng.standard_normal((n_in + 4, n_out)) / np.sqrt(n_in)).astype(dtype)
    big_b = rng.standard_normal(n_out + 3).astype(dtype)
    A_prev, W, b = big_A[4:4 + m], big_W[3:3 + n_in], big_b[2:2 + n_out]
    assert A_prev.flags.c_contiguous and not A_prev.flags.owndata
    Z_ref, A_ref = ref.dense_forward(A_prev, W, b, activation)

    big_out = np.full((2, m + 3, n_out), 9.0, dtype=dtype)
    Z, A = impl.dense_forward(A_prev, W, b, activation, out=(big_out[0, 2:2 + m], big_out[1, 1:1 + m]))
    assert_close(Z, Z_ref, dtype)
    assert_close(A, A_ref, dtype)
    assert np.all(big_out[0, :2] == 9) and np.all(big_out[0, 2 + m:] == 9)
    assert np.all(big_out[1, :1] == 9) and np.all(big_out[1, 1 + m:] == 9)

    big_dA = (rng.standard_normal((m + 2, n_out)) / m).astype(dtype)
    dA = big_dA[1:1 + m]
    Zv = np.concatenate([np.zeros((3, n_out), dtype), Z.astype(dtype)])[3:]
    want = ref.dense_backward(dA, Zv, A_prev, W, activation, l2=0.4)
    got = impl.dense_backward(dA, Zv, A_prev, W, activation, l2=0.4)
    for g, w, name in zip(got, want, ("dA_prev", "dW", "db")):
        assert_close(g, w, dtype, err_msg=name)


def test_forward_does_not_modify_inputs(impl, dtype, rng):
    A_prev, W, b = make_layer(rng, 7, 13, 5, dtype)
    copies = [x.copy() for x in (A_prev, W, b)]
    for activation in ACTIVATIONS:
        impl.dense_forward(A_prev, W, b, activation)
        impl.dense_forward(A_prev, W, b, activation, keep_z=False)
    for before, after in zip(copies, (A_prev, W, b)):
        np.testing.assert_array_equal(after, before)


# ----------------------------------------------------------------------------
# Finite differences (float64)
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("l2", [0.0, 0.5])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_backward_finite_differences(impl, activation, l2, rng, assert_close, fd_tol):
    """J = mean over rows of sum_j R_ij A_ij + (l2 / 2m) ||W||^2 for a fixed R,
    so dJ/dA = R / m; dense_backward's dW, db, dA_prev must be dJ/dW, dJ/db,
    dJ/dA_prev, with J evaluated through the implementation's own forward."""
    m, n_in, n_out = 5, 4, 3
    A_prev, W, b = make_layer(rng, m, n_in, n_out, np.float64)
    R = rng.standard_normal((m, n_out))
    slope = 0.1

    def J():
        _, A = impl.dense_forward(A_prev, W, b, activation, negative_slope=slope)
        return (R * A).sum() / m + l2 / (2 * m) * (W ** 2).sum()

    Z, _ = impl.dense_forward(A_prev, W, b, activation, negative_slope=slope)
    assert np.abs(Z).min() > 1e-3, "a kink of relu within eps would spoil the check"
    dA_prev, dW, db = impl.dense_backward(R / m, Z, A_prev, W, activation, l2=l2,
                                          negative_slope=slope)
    assert_close(dW, ref.numerical_gradient(J, W), tol=fd_tol, err_msg="dW")
    assert_close(db, ref.numerical_gradient(J, b), tol=fd_tol, err_msg="db")
    assert_close(dA_prev, ref.numerical_gradient(J, A_prev), tol=fd_tol,
                 err_msg="dA_prev")


def two_layer_network(rng, m=6, n0=5, n1=4, k=3):
    """(X, W1, b1, W2, b2) of a float64 network n0 -> n1 -> k on m examples."""
    X = rng.standard_normal((m, n0))
    W1 = rng.standard_normal((n0, n1)) / np.sqrt(n0)
    b1 = 0.5 * rng.standard_normal(n1)
    W2 = rng.standard_normal((n1, k)) / np.sqrt(n1)
    b2 = 0.5 * rng.standard_normal(k)
    return X, W1, b1, W2, b2


@pytest.mark.parametrize("l2", [0.0, 0.3])
def test_two_layer_network_finite_differences(impl, l2, rng, assert_close, fd_tol):
    """dense relu -> dense linear -> softmax_cross_entropy, gradients chained
    through the kernels (loss dZ feeds dense_backward, whose dA_prev feeds the
    next) against finite differences of the regularised mean loss: the test
    that the gradient convention composes."""
    X, W1, b1, W2, b2 = two_layer_network(rng)
    (m, _), (_, k) = X.shape, W2.shape
    y = rng.integers(0, k, size=m)

    def cost():
        _, A1 = impl.dense_forward(X, W1, b1, "relu")
        _, Z2 = impl.dense_forward(A1, W2, b2, "linear")
        loss, _ = impl.softmax_cross_entropy(Z2, y, compute_grad=False)
        return loss + l2 / (2 * m) * ((W1 ** 2).sum() + (W2 ** 2).sum())

    Z1, A1 = impl.dense_forward(X, W1, b1, "relu")
    Z2, _ = impl.dense_forward(A1, W2, b2, "linear")
    assert np.abs(Z1).min() > 1e-3
    loss, dZ2 = impl.softmax_cross_entropy(Z2, y)
    dA1, dW2, db2 = impl.dense_backward(dZ2, Z2, A1, W2, "linear", l2=l2)
    dX, dW1, db1 = impl.dense_backward(dA1, Z1, X, W1, "relu", l2=l2)

    for got, param, name in ((dW1, W1, "dW1"), (db1, b1, "db1"), (dW2, W2, "dW2"),
                             (db2, b2, "db2"), (dX, X, "dX")):
        assert_close(got, ref.numerical_gradient(cost, param), tol=fd_tol, err_msg=name)
    # and the cost value is the reference's
    r_loss, _ = ref.softmax_cross_entropy(ref.dense_forward(
        ref.dense_forward(X, W1, b1, "relu")[1], W2, b2, "linear")[1], y)
    assert_close(loss, r_loss, np.float64)


@pytest.mark.parametrize("loss_name,out_act", [("sigmoid_cross_entropy", "linear"),
                                               ("mean_squared_error", "linear"),
                                               ("mean_squared_error", "sigmoid"),
                                               ("mean_squared_error", "softmax")])
def test_two_layer_network_other_losses(impl, loss_name, out_act, rng, assert_close, fd_tol):
    """The same chain with the other losses, and with a non-linear output
    activation whose backward (incl. the softmax Jacobian) sits in the chain."""
    X, W1, b1, W2, b2 = two_layer_network(rng)
    (m, _), (_, k) = X.shape, W2.shape
    Y = rng.uniform(0, 1, size=(m, k))
    loss_fn = getattr(impl, loss_name)
    l2 = 0.2

    def cost():
        _, A1 = impl.dense_forward(X, W1, b1, "tanh")
        _, A2 = impl.dense_forward(A1, W2, b2, out_act)
        return loss_fn(A2, Y)[0] + l2 / (2 * m) * ((W1 ** 2).sum() + (W2 ** 2).sum())

    Z1, A1 = impl.dense_forward(X, W1, b1, "tanh")
    Z2, A2 = impl.dense_forward(A1, W2, b2, out_act)
    _, dA2 = loss_fn(A2, Y)
    dA1, dW2, db2 = impl.dense_backward(dA2, Z2, A1, W2, out_act, l2=l2)
    _, dW1, db1 = impl.dense_backward(dA1, Z1, X, W1, "tanh", l2=l2, need_dA_prev=False)
    for got, param, name in ((dW1, W1, "dW1"), (db1, b1, "db1"), (dW2, W2, "dW2"),
                             (db2, b2, "db2")):
        assert_close(got, ref.numerical_gradient(cost, param), tol=fd_tol, err_msg=name)
