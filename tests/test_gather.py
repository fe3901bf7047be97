"""gather_rows (the mini-batch gather of the training loop) and sum_squares
(the L2 cost and the finiteness checks of fastnn._validation) against
tests/reference.py, section 10: on awkward shapes, every element type the
training loop gathers, 1 to 3 threads, and bad input.

gather_rows copies, so results are compared exactly; sum_squares adds in
double, compared at the float64 tolerance of its terms.
"""
import re

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastnn
from fastnn import numpy_ops, ops
from fastnn._loss import sum_squares
from fastnn._validation import all_finite

import reference as ref

# 1 row, 1 column, odd sizes, and enough bytes (> FNN_PARALLEL_MIN words) for
# several threads
SHAPES = [(1, 1), (1, 7), (5, 1), (33, 65), (3001, 129), (7,), (40001,)]
DTYPES = [np.float32, np.float64, np.int64, np.uint8]


def source(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal(shape) * 100).astype(dtype)


@pytest.fixture(params=[ops, numpy_ops], ids=["c", "numpy"])
def gather(request):
    return request.param.gather_rows


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_matches_reference(gather, shape, dtype):
    X = source(shape, dtype)
    rng = np.random.default_rng(1)
    for size in (1, shape[0], 3 * shape[0] + 1):
        idx = rng.integers(0, shape[0], size)
        got = gather(X, idx)
        assert got.dtype == X.dtype and got.shape == (size,) + shape[1:]
        np.testing.assert_array_equal(got, ref.gather_rows(X, idx))


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_any_thread_count(n_threads, threads):
    threads(n_threads)
    X = source((6000, 257), np.float32)
    idx = np.random.default_rng(2).permutation(6000)[:4001]
    out = np.empty((4001, 257), np.float32)
    assert ops.gather_rows(X, idx, out=out) is out
    np.testing.assert_array_equal(out, X[idx])


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 50), cols=st.integers(1, 20), data=st.data())
def test_property_equals_fancy_indexing(rows, cols, data):
    X = source((rows, cols), np.float64, seed=rows * 31 + cols)
    idx = np.array(data.draw(st.lists(st.integers(0, rows - 1), min_size=1, max_size=60)))
    np.testing.assert_array_equal(ops.gather_rows(X, idx), X[idx])
    np.testing.assert_array_equal(numpy_ops.gather_rows(X, idx), X[idx])


def test_index_types():
    X = source((10, 3), np.float32)
    for idx in ([1, 2, 9], np.array([1, 2, 9], np.int32), np.array([1, 2, 9], np.uint16)):
        np.testing.assert_array_equal(ops.gather_rows(X, idx), X[[1, 2, 9]])


@pytest.mark.parametrize("idx,pos,value", [([0, 10], 1, 10), ([-1, 2], 0, -1),
                                           ([3, 4, 2 ** 40], 2, 2 ** 40)])
def test_index_out_of_range(gather, idx, pos, value):
    X = source((10, 3), np.float32)
    with pytest.raises(IndexError, match=re.escape(
            f"gather_rows: indices must be in [0, 10); got {value} at position {pos}")):
        gather(X, np.array(idx))


@pytest.mark.parametrize("X,idx,out,exc,message", [
    ([[1.0]], [0], None, TypeError, "gather_rows: X must be a numpy.ndarray; got list"),
    (np.zeros((2, 2, 2)), [0], None, ValueError, "gather_rows: X must be 1-D or 2-D; got 3-D"),
    (np.zeros((4, 4))[:, ::2], [0], None, ValueError, "gather_rows: X must be C-contiguous"),
    (np.zeros((0, 3)), [0], None, ValueError, "gather_rows: X has no rows"),
    (np.array(["a", "b"]), [0], None, TypeError, "gather_rows: X must hold numbers; got dtype <U1"),
    (np.zeros((4, 3)), [], None, ValueError, "gather_rows: indices is empty"),
    (np.zeros((4, 3)), [0.5], None, TypeError, "gather_rows: indices must be a 1-D array of integers"),
    (np.zeros((4, 3)), [[0]], None, TypeError, "gather_rows: indices must be a 1-D array of integers"),
    (np.zeros((4, 3)), [0, 1], np.zeros((3, 3)), ValueError, "gather_rows: output out must have shape (2, 3)"),
    (np.zeros((4, 3)), [0, 1], np.zeros((2, 3), np.float32), TypeError,
     "gather_rows: output out must have dtype float64"),
])
def test_bad_input(gather, X, idx, out, exc, message):
    with pytest.raises(exc, match=re.escape(message)):
        gather(X if not isinstance(X, list) else X, idx, out=out)


@pytest.mark.parametrize("view", [
    np.arange(20.0).reshape(4, 5)[::3][:1],       # C-contiguous by NumPy, row stride 120 bytes
    np.arange(30.0).reshape(10, 3)[:, :0],        # empty rows, row stride 24 bytes
    np.arange(12.0).reshape(1, 12)[:, ::1],
])
def test_contiguous_views_with_odd_strides(gather, view):
    """NumPy calls these views C-contiguous whatever the stride of an axis of
    length 1 or of an empty row: the rows are copied by their size, not by
    that stride."""
    assert view.flags.c_contiguous
    idx = np.zeros(5, np.int64)
    np.testing.assert_array_equal(gather(view, idx), view[idx])


def test_out_must_not_overlap_X(gather):
    X = np.zeros((6, 3))
    with pytest.raises(ValueError, match="gather_rows: out must not overlap X"):
        gather(X, [0, 1], out=X[2:4])


# ----------------------------------------------------------------------------
# sum_squares and all_finite
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 15, 16, 17, 1001, 200003])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sum_squares_matches_reference(size, dtype, assert_close):
    x = source((size,), dtype) / 100
    # the terms are x_i^2 >= 0: no cancellation, float64 rounding of the sum
    assert_close(sum_squares(x), ref.sum_squares(x), np.float64)


@pytest.mark.parametrize("n_threads", [1, 2, 3])
def test_sum_squares_same_bits_for_a_thread_count(n_threads, threads):
    threads(n_threads)
    x = source((300001,), np.float32)
    assert sum_squares(x) == sum_squares(x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_all_finite_finds_one_bad_element(bad, dtype):
    x = np.ones(100003, dtype)
    assert all_finite(x)
    x[77778] = bad                                       # an even index: in x[::2] too
    assert not all_finite(x)
    assert not all_finite(x.reshape(-1, 1)[::2])       # not contiguous: NumPy's sum


def test_all_finite_huge_values_are_finite():
    # squares overflow float64 sums; every element is finite all the same
    assert all_finite(np.full(10, 1e300))
    assert all_finite(np.full(10, np.finfo(np.float32).max, np.float32))
