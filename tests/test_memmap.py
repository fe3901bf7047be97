"""Data larger than memory: fit, evaluate and predict read a memory-mapped X a
block at a time, without copying it whole, and give the results of the same
data in memory."""
import numpy as np
import pytest

import fastnn as fn
from fastnn.data import MappedRows
from fastnn.datasets import load_digits


@pytest.fixture
def mapped(tmp_path):
    X, y = load_digits()
    path = tmp_path / "X.npy"
    np.save(path, X.astype(np.float64))               # float64 on disk, a float32 model
    return np.load(path, mmap_mode="r"), X.astype(np.float64), y


def model():
    return fn.Sequential([fn.Dense(16), fn.Dense(10, "softmax")], seed=0)


@pytest.mark.parametrize("normalize", [False, True])
def test_a_mapped_X_trains_as_the_same_rows_in_memory(mapped, normalize):
    X_map, X, y = mapped
    a, b = model(), model()
    if normalize:
        a.normalizer = fn.Normalizer().fit(X)
        b.normalizer = fn.Normalizer().fit(X)
    assert isinstance(a.check_inputs(X_map, "fit"), MappedRows)     # not copied whole
    a.fit(X_map, y, epochs=2, batch_size=64, verbose=0, validation_data=(X_map[:200], y[:200]))
    b.fit(X, y, epochs=2, batch_size=64, verbose=0, validation_data=(X[:200], y[:200]))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    np.testing.assert_array_equal(a.predict_proba(X_map), b.predict_proba(X))
    assert a.evaluate(X_map, y) == b.evaluate(X, y)
    a.train()
    assert a(X_map[:3]).shape == (3, 10)


def test_a_mapped_X_of_the_model_dtype_is_read_in_place(tmp_path):
    X, y = load_digits()
    np.save(tmp_path / "X32.npy", X)
    X_map = np.load(tmp_path / "X32.npy", mmap_mode="r")
    checked = model().check_inputs(X_map, "fit")
    assert np.shares_memory(checked, X_map)


def test_a_mapped_X_is_checked_block_by_block(tmp_path):
    X, y = load_digits()
    bad = X.astype(np.float64)
    bad[1500, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="X contains NaN or Inf"):
        model().fit(np.load(tmp_path / "bad.npy", mmap_mode="r"), y, verbose=0)
    big = X.astype(np.float64)
    big[7, 0] = 1e300
    np.save(tmp_path / "big.npy", big)
    built = fn.Sequential([fn.Dense(16), fn.Dense(10, "softmax")], input_dim=64, seed=0)
    with pytest.raises(ValueError, match="beyond the range of the model's float32"):
        built.predict(np.load(tmp_path / "big.npy", mmap_mode="r"))
