"""Sample weights of the loss kernels (``sample_weight=``) of fastnn.ops and
fastnn.numpy_ops: against tests/reference.py (scikit-learn's MLP definition,
loss = sum_i s_i loss_i / sum(s), dZ_i = s_i / sum(s) * (m times the
unweighted dZ_i)), the identities weights must satisfy (repeated rows,
dropped rows, all ones, scaling), finite differences, determinism over
threads, and the errors bad weights give.

Every test takes the ``impl`` fixture, so it runs on both implementations.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reference as ref
from test_loss import LARGE, LOSS_CASES, LOSSES, SHAPE_IDS, SHAPES, TARGET_KINDS, dz_scale, \
    logits, targets


def weights(rng, m, dtype, kind="uniform"):
    """(m,) weights of `kind`: "uniform" in [0, 3) with about a fifth exactly 0,
    "integer" in {0, 1, 2, 3}; at least one weight is positive."""
    if kind == "uniform":
        w = rng.uniform(0, 3, size=m) * (rng.uniform(size=m) > 0.2)
    else:
        w = rng.integers(0, 4, size=m).astype(np.float64)
    w[rng.integers(0, m)] = 1.0 + (kind == "uniform") * rng.uniform()
    return w.astype(dtype)


def wdz_scale(loss, Z, y, w):
    """dz_scale of the unweighted gradient (whose 1/m becomes s_i / sum(s))."""
    w = np.asarray(w, dtype=np.float64)
    return dz_scale(loss, Z, y) * Z.shape[0] * float(w.max()) / float(w.sum())


def loss_scale(loss, Z, r_value):
    """Magnitude of the terms of the loss: the cross-entropies are differences
    of terms of the logits' size (a well-fitted row cancels to ~0 and carries
    their rounding, conftest's scale rule); MSE sums squares (no cancellation)."""
    if loss == "mean_squared_error":
        return abs(r_value)
    return max(abs(r_value), float(np.abs(Z).max()))



def check_repeated_rows(impl, loss, Z, y, w, counts, dtype, assert_close):
    """Weights ``w`` (= integer ``counts``) against rows repeated that many
    times: the same loss, and each row's dZ the sum over its copies'."""
    m, k = Z.shape
    rows = np.repeat(np.arange(m), counts)
    value, dZ = getattr(impl, loss)(Z, y, sample_weight=w)
    value_rep, dZ_rep = getattr(impl, loss)(np.ascontiguousarray(Z[rows]),
                                            np.ascontiguousarray(np.asarray(y)[rows]))
    summed = np.zeros((m, k))
    np.add.at(summed, rows, dZ_rep.astype(np.float64))
    assert_close(value, value_rep, dtype, scale=loss_scale(loss, Z, value_rep), err_msg="loss")
    assert_close(dZ, summed, dtype, scale=wdz_scale(loss, Z, y, w), err_msg="dZ")
    return dZ

def check_against_reference(impl, loss, Z, y, w, dtype, assert_close, what=""):
    value, dZ = getattr(impl, loss)(Z, y, sample_weight=w)
    r_value, r_dZ = getattr(ref, loss)(Z, y, sample_weight=w)
    assert type(value) is float
    assert dZ.dtype == dtype
    assert_close(value, r_value, dtype, scale=loss_scale(loss, Z, r_value),
                 err_msg=f"loss {what}")
    assert_close(dZ, r_dZ, dtype, scale=wdz_scale(loss, Z, y, w), err_msg=f"dZ {what}")
    return value, dZ


# ----------------------------------------------------------------------------
# Against the reference
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("wkind", ["uniform", "integer"])
@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_weighted_loss_matches_reference(impl, dtype, shape, loss, kind, wkind, rng,
                                         assert_close):
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    w = weights(rng, m, dtype, wkind)
    w0 = w.copy()
    check_against_reference(impl, loss, Z, y, w, dtype, assert_close)
    np.testing.assert_array_equal(w, w0, err_msg="sample_weight was modified")


@pytest.mark.parametrize("n_threads", [1, 2, 3])
@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_weighted_large_on_threads(impl, dtype, loss, kind, n_threads, threads, rng,
                                   assert_close):
    """The parallel paths (1501 * 257 elements, blocks of unequal sizes that
    start inside rows for the elementwise losses) on 1, 2 and 3 threads;
    a second call gives the same bits (fixed blocks)."""
    threads(n_threads)
    m, k = LARGE
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    w = weights(rng, m, dtype)
    value, dZ = check_against_reference(impl, loss, Z, y, w, dtype, assert_close)
    value2, dZ2 = getattr(impl, loss)(Z, y, sample_weight=w)
    assert value2 == value
    np.testing.assert_array_equal(dZ2, dZ)


@pytest.mark.parametrize("shape", [(7, 5), LARGE], ids=["7x5", "large"])
def test_weighted_labels_and_one_hot_agree(impl, dtype, shape, rng, assert_close):
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = rng.integers(0, k, size=m)
    w = weights(rng, m, dtype)
    loss_l, dZ_l = impl.softmax_cross_entropy(Z, y, sample_weight=w)
    loss_h, dZ_h = impl.softmax_cross_entropy(Z, ref.one_hot(y, k).astype(dtype),
                                              sample_weight=w)
    assert_close(loss_l, loss_h, dtype, err_msg="loss")
    assert_close(dZ_l, dZ_h.astype(np.float64), dtype, err_msg="dZ")


# ----------------------------------------------------------------------------
# Identities
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("n_threads", [1, 3])
@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_all_ones_weights_are_bit_identical(impl, dtype, shape, loss, kind, n_threads, threads,
                                            rng):
    """Weights all 1 give exactly the unweighted loss and dZ (same bits), also
    with compute_grad=False and into an out= buffer."""
    threads(n_threads)
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    fn = getattr(impl, loss)
    value0, dZ0 = fn(Z, y)
    ones = np.ones(m, dtype=dtype)
    value, dZ = fn(Z, y, sample_weight=ones)
    assert value == value0
    np.testing.assert_array_equal(dZ, dZ0)
    assert fn(Z, y, compute_grad=False, sample_weight=ones) == (value0, None)
    buf = np.full(shape, np.nan, dtype=dtype)
    value, dZ = fn(Z, y, out=buf, sample_weight=ones)
    assert dZ is buf and value == value0
    np.testing.assert_array_equal(dZ, dZ0)


@pytest.mark.parametrize("factor", [0.25, 4.0, 2.0 ** 20])
@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(7, 5), LARGE], ids=["7x5", "large"])
def test_weights_scaled_by_power_of_two_are_bit_identical(impl, dtype, shape, loss, kind,
                                                          factor, rng):
    """Only the ratios s_i / sum(s) matter; multiplying every weight by a power
    of two scales every product and sum exactly, so the bits do not move."""
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    w = weights(rng, m, dtype)
    value0, dZ0 = getattr(impl, loss)(Z, y, sample_weight=w)
    value, dZ = getattr(impl, loss)(Z, y, sample_weight=(w * dtype.type(factor)))
    assert value == value0
    np.testing.assert_array_equal(dZ, dZ0)


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (7, 1), (13, 10), (301, 7)],
                         ids=["1x1", "1x5", "7x1", "13x10", "301x7"])
def test_integer_weights_equal_repeated_rows(impl, dtype, shape, loss, kind, rng, assert_close):
    """Integer weights s_i are rows repeated s_i times.  The identity: with
    M = sum(s) and X_rep the data with row i repeated s_i times (M rows),
      loss(X, s) = loss(X_rep)                     (unweighted), and
      dZ(X, s)_i = sum over the s_i copies c of row i of dZ(X_rep)_c,
    because each copy's unweighted gradient is g_i / M and the weighted one is
    s_i g_i / M; a row with s_i = 0 has no copy, and its dZ is exactly 0."""
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    w = weights(rng, m, dtype, "integer")
    counts = w.astype(np.int64)
    dZ = check_repeated_rows(impl, loss, Z, y, w, counts, dtype, assert_close)
    assert np.all(dZ[counts == 0] == 0)


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(7, 1), (13, 10), LARGE], ids=["7x1", "13x10", "large"])
def test_zero_weights_equal_dropped_rows(impl, dtype, shape, loss, kind, rng, assert_close):
    """A row of weight 0 is a row that is not there: the loss and the other
    rows' dZ are those of the data without it (weighted by the remaining
    weights, or unweighted when they are all 1), and its own dZ is 0."""
    m, k = shape
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    w = weights(rng, m, dtype)
    keep = w > 0
    assert 0 < keep.sum() < m or m < 10
    fn = getattr(impl, loss)
    Zk, yk = np.ascontiguousarray(Z[keep]), np.ascontiguousarray(np.asarray(y)[keep])
    value, dZ = fn(Z, y, sample_weight=w)
    value_k, dZ_k = fn(Zk, yk, sample_weight=np.ascontiguousarray(w[keep]))
    assert_close(value, value_k, dtype, scale=loss_scale(loss, Z, value_k), err_msg="loss")
    assert_close(dZ[keep], dZ_k.astype(np.float64), dtype, scale=wdz_scale(loss, Z, y, w),
                 err_msg="dZ of the kept rows")
    assert np.all(dZ[~keep] == 0)
    # weights in {0, 1}: the unweighted loss of the kept rows
    w01 = keep.astype(dtype)
    value, dZ = fn(Z, y, sample_weight=w01)
    value_k, dZ_k = fn(Zk, yk)
    assert_close(value, value_k, dtype, scale=loss_scale(loss, Z, value_k), err_msg="0/1 loss")
    assert_close(dZ[keep], dZ_k.astype(np.float64), dtype, err_msg="0/1 dZ",
                 scale=dz_scale(loss, Zk, yk))
    assert np.all(dZ[~keep] == 0)


# ----------------------------------------------------------------------------
# Property tests (hypothesis)
# ----------------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(m=st.integers(1, 50), k=st.integers(1, 30),
       case=st.sampled_from([(loss, kind) for loss in LOSSES for kind in TARGET_KINDS[loss]]),
       scale=st.sampled_from([0.1, 3.0, 30.0]),
       wscale=st.sampled_from([1e-3, 1.0, 1e3]),
       zero_fraction=st.sampled_from([0.0, 0.5, 0.9]),
       seed=st.integers(0, 2**32 - 1))
def test_weighted_loss_property(impl, dtype, assert_close, m, k, case, scale, wscale,
                                zero_fraction, seed):
    loss, kind = case
    rng = np.random.default_rng(seed)
    Z = logits(rng, m, k, dtype, scale)
    y = targets(rng, loss, kind, m, k, dtype)
    w = wscale * rng.uniform(0, 1, size=m) * (rng.uniform(size=m) >= zero_fraction)
    w[rng.integers(0, m)] = wscale
    check_against_reference(impl, loss, Z, y, w.astype(dtype), dtype, assert_close)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 20), k=st.integers(1, 8),
       case=st.sampled_from([(loss, kind) for loss in LOSSES for kind in TARGET_KINDS[loss]]),
       seed=st.integers(0, 2**32 - 1))
def test_integer_weights_property(impl, dtype, assert_close, m, k, case, seed):
    """The repeated-rows identity of test_integer_weights_equal_repeated_rows
    over random shapes and counts 0..5."""
    loss, kind = case
    rng = np.random.default_rng(seed)
    Z = logits(rng, m, k, dtype)
    y = targets(rng, loss, kind, m, k, dtype)
    counts = rng.integers(0, 6, size=m)
    counts[rng.integers(0, m)] = 1 + rng.integers(0, 5)
    w = counts.astype(dtype)
    check_repeated_rows(impl, loss, Z, y, w, counts, dtype, assert_close)


# ----------------------------------------------------------------------------
# Finite differences (float64)
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(1, 4), (5, 1), (6, 4)], ids=["1x4", "5x1", "6x4"])
def test_weighted_gradient_finite_differences(impl, shape, loss, kind, rng, assert_close,
                                              fd_tol):
    Z = logits(rng, *shape, np.float64, scale=2.0)
    y = targets(rng, loss, kind, *shape, np.float64)
    w = weights(rng, shape[0], np.float64)
    fn = getattr(impl, loss)
    _, dZ = fn(Z, y, sample_weight=w)
    numeric = ref.numerical_gradient(
        lambda: fn(Z, y, compute_grad=False, sample_weight=w)[0], Z)
    assert_close(dZ, numeric, tol=fd_tol)


# ----------------------------------------------------------------------------
# Buffers
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("loss,kind", LOSS_CASES)
@pytest.mark.parametrize("shape", [(13, 10), LARGE], ids=["13x10", "large"])
def test_weighted_out_buffer_and_in_place(impl, dtype, shape, loss, kind, rng):
    """out= is used, may be Z itself, and compute_grad=False gives the same
    loss; Z, y and the weights are not modified."""
    Z = logits(rng, *shape, dtype)
    y = targets(rng, loss, kind, *shape, dtype)
    w = weights(rng, shape[0], dtype)
    Z0, y0, w0 = Z.copy(), np.copy(y), w.copy()
    fn = getattr(impl, loss)
    value0, dZ0 = fn(Z, y, sample_weight=w)
    buf = np.full(shape, np.nan, dtype=dtype)
    value, dZ = fn(Z, y, out=buf, sample_weight=w)
    assert dZ is buf and value == value0
    np.testing.assert_array_equal(dZ, dZ0)
    assert fn(Z, y, compute_grad=False, sample_weight=w) == (value0, None)
    np.testing.assert_array_equal(Z, Z0)
    np.testing.assert_array_equal(y, y0)
    np.testing.assert_array_equal(w, w0)
    Zin = Z.copy()
    value, dZ = fn(Zin, y, out=Zin, sample_weight=w)
    assert dZ is Zin and value == value0
    np.testing.assert_array_equal(dZ, dZ0)


# ----------------------------------------------------------------------------
# Bad weights
# ----------------------------------------------------------------------------

M, K = 9, 4


def _bad(dtype):
    """name -> (weights, exception type, message pattern after "func: ")."""
    other = np.float64 if dtype == np.float32 else np.float32
    at3 = lambda v: np.array([1, 2, 0, v, 1, 1, 1, 1, 1], dtype=dtype)  # noqa: E731
    cases = {
        "negative": (at3(-1.0), ValueError, r"sample_weight must be >= 0; got -1\.0 at index 3"),
        "nan": (at3(np.nan), ValueError, r"sample_weight must be finite; got nan at index 3"),
        "inf": (at3(np.inf), ValueError, r"sample_weight must be finite; got inf at index 3"),
        "-inf": (at3(-np.inf), ValueError, r"sample_weight must be finite; got -inf at index 3"),
        "all zero": (np.zeros(M, dtype), ValueError,
                     r"sample_weight must have a positive sum \(some weight > 0\); "
                     r"got all 9 weights 0"),
        "too short": (np.ones(M - 1, dtype), ValueError,
                      r"sample_weight must have one weight per row of [ZP], shape \(9,\); "
                      r"got shape \(8,\)"),
        "too long": (np.ones(M + 1, dtype), ValueError,
                     r"sample_weight must have one weight per row of [ZP], shape \(9,\); "
                     r"got shape \(10,\)"),
        "2-D": (np.ones((M, 1), dtype), ValueError,
                r"sample_weight must be 1-D; got 2-D array of shape \(9, 1\)"),
        "other float dtype": (np.ones(M, other), TypeError,
                              rf"sample_weight must have dtype {np.dtype(dtype)} like the other "
                              rf"arrays of this call \(no silent casts\); got {np.dtype(other)}"),
        "int dtype": (np.ones(M, np.int64), TypeError,
                      rf"sample_weight must have dtype {np.dtype(dtype)} .*; got int64"),
        "non-contiguous": (np.ones(2 * M, dtype)[::2], ValueError,
                           r"sample_weight must be C-contiguous; got a strided array"),
        "list": ([1.0] * M, TypeError, r"sample_weight must be a numpy.ndarray; got list"),
        "empty": (np.ones(0, dtype), ValueError, r"sample_weight must not be empty"),
    }
    if dtype == np.float64:
        cases["sum overflows"] = (np.full(M, 1e308), ValueError,
                                  r"sample_weight must have a finite sum; got inf "
                                  r"\(the largest weight is 1e\+308\)")
    return cases


BAD_NAMES = list(_bad(np.float64))


@pytest.mark.parametrize("bad", BAD_NAMES)
@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_bad_sample_weight(impl, dtype, loss, kind, bad, rng):
    cases = _bad(dtype)
    if bad not in cases:
        pytest.skip(f"{bad}: float64 only")
    w, exc, pattern = cases[bad]
    Z = logits(rng, M, K, dtype)
    y = targets(rng, loss, kind, M, K, dtype)
    for compute_grad in (True, False):
        with pytest.raises(exc, match=f"^{loss}: {pattern}"):
            getattr(impl, loss)(Z, y, compute_grad=compute_grad, sample_weight=w)


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_bad_sample_weight_same_message_in_both(dtype, loss, kind, rng):
    """fastnn.ops (whose C kernel checks the values, then the shared check
    names the culprit) and numpy_ops say exactly the same thing."""
    import fastnn.numpy_ops
    import fastnn.ops
    Z = logits(rng, M, K, dtype)
    y = targets(rng, loss, kind, M, K, dtype)
    for name, (w, exc, _) in _bad(dtype).items():
        messages = []
        for mod in (fastnn.ops, fastnn.numpy_ops):
            with pytest.raises(exc) as info:
                getattr(mod, loss)(Z, y, sample_weight=w)
            messages.append(str(info.value))
        assert messages[0] == messages[1], name


def test_bad_weight_in_a_large_array(impl, dtype, rng):
    """The first bad weight is named wherever it is."""
    m, k = LARGE
    Z = logits(rng, m, k, dtype)
    y = rng.integers(0, k, size=m)
    w = np.ones(m, dtype)
    w[1000] = -0.5
    w[1400] = np.nan
    with pytest.raises(ValueError, match=r"must be finite; got nan at index 1400"):
        impl.softmax_cross_entropy(Z, y, sample_weight=w)
    w[1400] = 2.0
    with pytest.raises(ValueError, match=r"must be >= 0; got -0\.5 at index 1000"):
        impl.softmax_cross_entropy(Z, y, sample_weight=w)


@pytest.mark.parametrize("loss,kind", LOSS_CASES)
def test_sample_weight_overlapping_out(impl, dtype, loss, kind, rng):
    """The weights may not live in the output buffer (the kernel would read
    weights it has overwritten)."""
    Z = logits(rng, M, K, dtype)
    y = targets(rng, loss, kind, M, K, dtype)
    buf = np.ones((M, K), dtype)
    w = buf[0:3].reshape(-1)[:M]
    with pytest.raises(ValueError, match=r"sample_weight and output d[ZP] must be separate"):
        getattr(impl, loss)(Z, y, out=buf, sample_weight=w)


def test_negative_zero_weight_is_zero(impl, dtype, rng):
    """-0.0 >= 0: a weight of -0.0 is a weight of 0."""
    Z = logits(rng, 5, 3, dtype)
    y = rng.integers(0, 3, size=5)
    w = np.array([1, -0.0, 2, 1, 0.5], dtype=dtype)
    a = impl.softmax_cross_entropy(Z, y, sample_weight=w)
    b = impl.softmax_cross_entropy(Z, y, sample_weight=np.abs(w))
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


def test_bad_labels_are_reported_before_weights(impl, dtype, rng):
    Z = logits(rng, M, K, dtype)
    y = np.arange(M) % K
    y[2] = K
    with pytest.raises(ValueError, match=r"labels y must be in \[0, 4\) .* got 4 at index 2"):
        impl.softmax_cross_entropy(Z, y, sample_weight=-np.ones(M, dtype))
