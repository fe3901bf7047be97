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


def test_fit_on_a_map_to_convert_never_holds_it_whole(tmp_path):
    import tracemalloc
    rng = np.random.default_rng(0)
    X = rng.integers(0, 256, (120_000, 100), dtype=np.uint8)   # 12 MB; 48 MB as float32
    y = rng.integers(0, 10, 120_000)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    m = fn.Sequential([fn.Dense(8), fn.Dense(10, "softmax")], seed=0)
    m.normalizer = fn.Normalizer().fit(X_map)
    tracemalloc.start()
    m.fit(X_map, y, epochs=1, batch_size=256, verbose=0)
    m.evaluate(X_map, y)
    m.predict(X_map)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # predict's (m, 10) output and blocks of rows in float64: not half a whole copy
    assert peak < 24_000_000, peak


def test_a_split_of_a_map_is_views_of_its_rows(tmp_path):
    X = np.arange(3000, dtype=np.float64).reshape(1000, 3) / 3000   # rows in order
    y = np.arange(1000)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    (Xt, yt), (Xd, yd), (Xs, ys) = fn.data.train_dev_test_split(X_map, y, dev=0.2, test=0.1,
                                                                seed=3)
    (_, yt2), (_, yd2), (_, ys2) = fn.data.train_dev_test_split(X, y, dev=0.2, test=0.1, seed=3)
    for part, labels, same_seed in ((Xt, yt, yt2), (Xd, yd, yd2), (Xs, ys, ys2)):
        assert isinstance(part, MappedRows)
        np.testing.assert_array_equal(labels, np.sort(same_seed))   # the same rows, map order
        np.testing.assert_array_equal(part[:], X[labels])
        np.testing.assert_array_equal(part[np.array([5, 0, 2])], X[labels[[5, 0, 2]]])
    a, b = model(), model()
    a.fit(Xt, yt % 10, epochs=2, verbose=0, validation_data=(Xd, yd % 10))
    b.fit(X[yt], yt % 10, epochs=2, verbose=0, validation_data=(X[yd], yd % 10))
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_a_normalizer_fitted_on_a_map_equals_one_fitted_in_memory(tmp_path, dtype):
    rng = np.random.default_rng(1)
    X = (rng.normal(100.0, 30.0, (20001, 7)).clip(0, 255)).astype(dtype)
    np.save(tmp_path / "X.npy", X)
    X_map = np.load(tmp_path / "X.npy", mmap_mode="r")
    mapped, memory = fn.Normalizer().fit(X_map), fn.Normalizer().fit(X)
    np.testing.assert_allclose(mapped.mean, memory.mean, rtol=1e-12)
    np.testing.assert_allclose(mapped.scale, memory.scale, rtol=1e-11)
    part = fn.data.train_dev_test_split(X_map, dev=0.25, test=0, seed=0)[0]
    np.testing.assert_allclose(fn.Normalizer().fit(part).mean,
                               fn.Normalizer().fit(part[:]).mean, rtol=1e-12)
    X[5, 2] = np.nan if dtype == np.float32 else 0
    if dtype == np.float32:
        np.save(tmp_path / "bad.npy", X)
        with pytest.raises(ValueError, match="NaN or Inf"):
            fn.Normalizer().fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))


def test_block_order_is_a_permutation_read_in_runs():
    rng = np.random.default_rng(0)
    order = fn.data.block_order(10_000, rng, block_rows=100, window=4)
    np.testing.assert_array_equal(np.sort(order), np.arange(10_000))
    for lo in range(0, 10_000, 400):                 # each window: 4 whole blocks
        blocks = np.unique(order[lo:lo + 400] // 100)
        assert len(blocks) == 4
    again = fn.data.block_order(10_000, np.random.default_rng(0), block_rows=100, window=4)
    np.testing.assert_array_equal(order, again)
    assert len(fn.data.block_order(5, rng)) == 5


def test_shuffle_by_blocks_trains_and_is_checked(mapped):
    X_map, X, y = mapped
    m = model()
    history = m.fit(X_map, y, epochs=3, shuffle="blocks", verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    with pytest.raises(ValueError, match='shuffle must be True, False or "blocks"'):
        model().fit(X, y, shuffle="rows", verbose=0)
