"""dropout_forward / dropout_backward of fastnn.ops and their NumPy twins
against the references of tests/reference.py (section 7; masks compared
exactly, values at the tolerances of tests/conftest.py)."""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from fastnn import numpy_ops, ops

import reference as ref
from conftest import Tol

# odd element counts (a 64-bit word serves two elements), and sizes above
# FNN_PARALLEL_MIN = 32768 so the kernel runs on several threads
SHAPES = [(1, 1), (1, 3), (2, 1), (7, 5), (33, 65), (301, 129)]


def data(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


def test_reference_generator_is_splitmix64():
    # published first outputs of SplitMix64 started at state 0; mix64(0) == 0,
    # so seed 0 uses exactly this stream
    assert ref.splitmix64(0, 3) == [0xE220A8397B1DCDAF, 0x6E789E6AA1B965F4, 0x06C45D188009454F]
    assert ref.mix64(0) == 0
    u = ref.dropout_uniforms(0, 3)
    assert u[0] * 2 ** 32 == 0x7B1DCDAF and u[1] * 2 ** 32 == 0xE220A839
    assert u[2] * 2 ** 32 == 0xA1B965F4


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("keep_prob", [0.5, 0.8, 1.0])
def test_forward_matches_reference(impl, dtype, shape, keep_prob, assert_close):
    A = data(shape, dtype)
    A_in = A.copy()
    seed = 12345
    A_out, mask = impl.dropout_forward(A, keep_prob, seed)
    want_mask = ref.dropout_mask(seed, shape, keep_prob)
    assert mask.dtype == np.uint8 and mask.shape == shape
    np.testing.assert_array_equal(mask, want_mask)
    assert A_out.dtype == dtype
    assert_close(A_out, ref.dropout_forward(A, want_mask, keep_prob), dtype)
    np.testing.assert_array_equal(A, A_in)


@pytest.mark.parametrize("seed", [0, 1, 2 ** 63, 2 ** 64 - 1])
def test_twins_agree_exactly(dtype, seed):
    A = data((301, 129), dtype)
    out1, mask1 = ops.dropout_forward(A, 0.7, seed)
    out2, mask2 = numpy_ops.dropout_forward(A, 0.7, seed)
    np.testing.assert_array_equal(mask1, mask2)
    np.testing.assert_array_equal(out1, out2)
    dA = data((301, 129), dtype, seed=1)
    np.testing.assert_array_equal(ops.dropout_backward(dA, mask1, 0.7),
                                  numpy_ops.dropout_backward(dA, mask1, 0.7))


def test_keep_prob_one_is_identity(impl, dtype):
    A = data((33, 65), dtype)
    A_out, mask = impl.dropout_forward(A, 1.0, 3)
    np.testing.assert_array_equal(mask, 1)
    np.testing.assert_array_equal(A_out, A)
    np.testing.assert_array_equal(impl.dropout_backward(A, mask, 1.0), A)


def test_tiny_keep_prob_drops_almost_everything(impl):
    A = np.ones((301, 129))
    A_out, mask = impl.dropout_forward(A, 1e-300, 0)
    assert mask.sum() == 0
    np.testing.assert_array_equal(A_out, 0)


@pytest.mark.parametrize("keep_prob", [0.1, 0.5, 0.8, 0.95])
def test_mask_mean_and_expectation(impl, keep_prob, rng):
    shape = (1000, 1000)
    A = rng.uniform(0.5, 1.5, shape).astype(np.float32)
    A_out, mask = impl.dropout_forward(A, keep_prob, 99)
    sigma = np.sqrt(keep_prob * (1 - keep_prob) / mask.size)
    assert abs(mask.mean() - keep_prob) < 5 * sigma
    # inverted dropout preserves the expectation of every unit
    assert abs(A_out.astype(np.float64).mean() - A.astype(np.float64).mean()) < 0.01
    # the two elements sharing a 64-bit word are independent
    even, odd = mask.ravel()[0::2].astype(bool), mask.ravel()[1::2].astype(bool)
    both = np.mean(even & odd)
    assert abs(both - keep_prob ** 2) < 5 * np.sqrt(keep_prob ** 2 * (1 - keep_prob ** 2) / even.size)
    # and neighbouring rows are not copies of each other
    assert abs(np.mean(mask[1:] == mask[:-1]) - (keep_prob ** 2 + (1 - keep_prob) ** 2)) < 0.005


def test_same_mask_for_any_thread_count(threads, dtype):
    A = data((301, 129), dtype)       # 38829 elements: parallel with 2 threads
    results = []
    for n in (1, 2, 3):
        threads(n)
        A_out, mask = ops.dropout_forward(A, 0.6, 2024)
        results.append((A_out, mask, ops.dropout_backward(A, mask, 0.6)))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_seeds(impl):
    A = np.ones((100, 100))
    _, m0 = impl.dropout_forward(A, 0.5, 7)
    _, m0_again = impl.dropout_forward(A, 0.5, 7)
    np.testing.assert_array_equal(m0, m0_again)
    for other_seed in (8, 7 + 2 ** 32, 0x9E3779B97F4A7C15 + 7):
        _, m1 = impl.dropout_forward(A, 0.5, other_seed)
        assert 0.45 < np.mean(m0 == m1) < 0.55     # unrelated, not merely different
    _, m_np = impl.dropout_forward(A, 0.5, np.uint64(7))
    np.testing.assert_array_equal(m0, m_np)


def test_mask_depends_on_position_only(impl):
    # the mask of a (2, 6) array is the first 12 elements of a (3, 8) one
    _, small = impl.dropout_forward(np.ones((2, 6)), 0.5, 11)
    _, big = impl.dropout_forward(np.ones((3, 8)), 0.5, 11)
    np.testing.assert_array_equal(small.ravel(), big.ravel()[:12])


def test_in_place_and_out_buffers(impl, dtype):
    A = data((301, 129), dtype)
    want_out, want_mask = impl.dropout_forward(A, 0.8, 5)
    B = A.copy()
    mask_buf = np.empty(A.shape, np.uint8)
    A_out, mask = impl.dropout_forward(B, 0.8, 5, out=(B, mask_buf))
    assert A_out is B and mask is mask_buf
    np.testing.assert_array_equal(A_out, want_out)
    np.testing.assert_array_equal(mask, want_mask)
    dA = data(A.shape, dtype, seed=3)
    want = impl.dropout_backward(dA, mask, 0.8)
    got = impl.dropout_backward(dA, mask, 0.8, out=dA)
    assert got is dA
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_reference(impl, dtype, shape, assert_close):
    dA = data(shape, dtype, seed=4)
    mask = ref.dropout_mask(77, shape, 0.75).astype(np.uint8)
    got = impl.dropout_backward(dA, mask, 0.75)
    assert_close(got, ref.dropout_backward(dA, mask, 0.75), dtype)
    np.testing.assert_array_equal(impl.dropout_backward(dA, mask.astype(bool), 0.75), got)


def test_nan_in_a_dropped_unit_shows(impl):
    # A * mask / keep_prob: inf * 0 is NaN, and the kernels do not hide it
    A = np.full((4, 4), np.inf)
    with np.errstate(invalid="ignore"):      # NumPy's own inf * 0 warning
        A_out, mask = impl.dropout_forward(A, 0.5, 1)
    assert 0 < mask.sum() < 16
    assert np.all(np.isnan(A_out[mask == 0])) and np.all(np.isinf(A_out[mask == 1]))


@pytest.mark.parametrize("shape", [(1, 1), (3, 4)])
def test_backward_by_finite_differences(impl, shape, rng, assert_close):
    # the mask depends on the seed and the positions only, so it is the same
    # for the perturbed inputs: J(A) = sum(W * dropout(A)) is linear
    A, W = rng.standard_normal(shape), rng.standard_normal(shape)
    _, mask = impl.dropout_forward(A, 0.6, 31)
    grad = impl.dropout_backward(W, mask, 0.6)
    numeric = ref.numerical_gradient(lambda: np.sum(W * impl.dropout_forward(A, 0.6, 31)[0]), A)
    # J is linear: no truncation error, only rounding ~1e-16 |J| / eps, well below
    # FD_TOL; held at an absolute 1e-9 and rtol 1e-7 (measured error <= 1e-10)
    assert_close(grad, numeric, tol=Tol(rtol=1e-7, atol=1e-9), scale=1.0)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 50), st.integers(1, 50), st.sampled_from([np.float32, np.float64]),
       st.floats(1e-6, 1.0, exclude_min=False), st.integers(0, 2 ** 64 - 1))
def test_property_twins_and_reference_agree(assert_close, m, n, dtype, keep_prob, seed):
    A = data((m, n), dtype, seed=m * 100 + n)
    out1, mask1 = ops.dropout_forward(A, keep_prob, seed)
    out2, mask2 = numpy_ops.dropout_forward(A, keep_prob, seed)
    np.testing.assert_array_equal(mask1, ref.dropout_mask(seed, (m, n), keep_prob))
    np.testing.assert_array_equal(mask1, mask2)
    np.testing.assert_array_equal(out1, out2)
    np.testing.assert_array_equal(out1[mask1 == 0], 0)
    assert_close(out1, ref.dropout_forward(A, mask1, keep_prob), dtype)


# ---------------------------------------------------------------- bad inputs

def test_forward_rejects_bad_inputs(impl):
    A = data((4, 3), np.float64)
    cases = [
        ((A, 0.0, 1), ValueError, "keep_prob must be a finite number in (0, 1]; got 0.0"),
        ((A, 1.5, 1), ValueError, "keep_prob must be a finite number in (0, 1]; got 1.5"),
        ((A, -0.5, 1), ValueError, "keep_prob must be a finite number in (0, 1]"),
        ((A, float("nan"), 1), ValueError, "keep_prob must be a finite number in (0, 1]; got nan"),
        ((A, "0.5", 1), TypeError, "keep_prob must be a real number; got '0.5'"),
        ((A, 0.5, -1), ValueError, "seed must be an integer in [0, 2**64); got -1"),
        ((A, 0.5, 2 ** 64), ValueError, "seed must be an integer in [0, 2**64)"),
        ((A, 0.5, 1.0), TypeError, "seed must be an integer in [0, 2**64); got 1.0"),
        ((A, 0.5, True), TypeError, "seed must be an integer"),
        ((np.asfortranarray(A), 0.5, 1), ValueError, "A must be C-contiguous"),
        ((A.astype(np.int32), 0.5, 1), TypeError, "A must be float32 or float64; got int32"),
        ((np.empty((0, 3)), 0.5, 1), ValueError, "A must not be empty"),
        ((A[0].copy(), 0.5, 1), ValueError, "A must be 2-D; got 1-D"),
        ((list(A), 0.5, 1), TypeError, "A must be a numpy.ndarray; got list"),
    ]
    for args, exc, message in cases:
        with pytest.raises(exc, match="^dropout_forward: " + re.escape(message)):
            impl.dropout_forward(*args)
    for out, exc, message in [
        (np.empty((4, 3), np.float32), TypeError, "output A_out must have dtype float64"),
        ((None, np.empty((4, 3), np.float64)), TypeError, "output mask must have dtype uint8"),
        ((None, np.empty((3, 3), np.uint8)), ValueError, "output mask must have shape (4, 3)"),
        ("buffer", TypeError, "out must be None, an array, or a tuple (A_out, mask)"),
    ]:
        with pytest.raises(exc, match="^dropout_forward: " + re.escape(message)):
            impl.dropout_forward(A, 0.5, 1, out=out)
    buf = data((5, 3), np.float64)
    with pytest.raises(ValueError, match="output A_out must be A itself or not overlap it"):
        impl.dropout_forward(buf[:4], 0.5, 1, out=buf[1:])


def test_backward_rejects_bad_inputs(impl):
    dA = data((4, 3), np.float64)
    mask = np.ones((4, 3), np.uint8)
    cases = [
        ((dA, mask[:3].copy(), 0.5), ValueError,
         "mask must have the shape (4, 3) of dA; got (3, 3)"),
        ((dA, mask.astype(np.float64), 0.5), TypeError,
         "mask must have dtype uint8 (or bool) as dropout_forward returns it; got float64"),
        ((dA, mask.tolist(), 0.5), TypeError, "mask must be the numpy.ndarray returned by "
                                              "dropout_forward; got list"),
        ((dA, np.ones((3, 4), np.uint8).T, 0.5), ValueError, "mask must be C-contiguous"),
        ((dA, mask, 0.0), ValueError, "keep_prob must be a finite number in (0, 1]"),
        ((dA, mask, 2.0), ValueError, "keep_prob must be a finite number in (0, 1]"),
        ((dA, mask, float("nan")), ValueError, "keep_prob must be a finite number in (0, 1]"),
        ((dA.astype(np.float16), mask, 0.5), TypeError, "dA must be float32 or float64"),
        ((np.asfortranarray(dA), mask, 0.5), ValueError, "dA must be C-contiguous"),
    ]
    for args, exc, message in cases:
        with pytest.raises(exc, match="^dropout_backward: " + re.escape(message)):
            impl.dropout_backward(*args)
    with pytest.raises(TypeError, match=re.escape("output dA_prev must have dtype float64")):
        impl.dropout_backward(dA, mask, 0.5, out=np.empty((4, 3), np.float32))
