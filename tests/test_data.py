import numpy as np
import pytest

from fastnn import data


def test_fractions_counts_and_dev_only():
    X = np.arange(1000).reshape(500, 2)
    y = np.arange(500) % 5
    (Xtr, ytr), (Xd, yd), (Xte, yte) = data.train_dev_test_split(X, y, dev=0.2, test=0.2, seed=0)
    assert (len(Xtr), len(Xd), len(Xte)) == (300, 100, 100)
    assert np.array_equal(np.sort(np.concatenate([Xtr[:, 0], Xd[:, 0], Xte[:, 0]])), X[:, 0])
    np.testing.assert_array_equal(Xtr[:, 0] // 2 % 5, ytr)          # rows stay with labels
    big = data.train_dev_test_split(X, y, dev=0.01, test=0.01, seed=0)
    assert [len(p[0]) for p in big] == [490, 5, 5]
    counts = data.train_dev_test_split(X, y, dev=50, test=25, seed=0)
    assert [len(p[0]) for p in counts] == [425, 50, 25]
    two = data.train_dev_test_split(X, y, dev=0.1, test=0, seed=0)
    assert len(two) == 2 and len(two[1][0]) == 50
    only_x = data.train_dev_test_split(X, dev=0.2, test=0.2, shuffle=False)
    np.testing.assert_array_equal(only_x[1], X[100:200])


def test_same_seed_same_split_and_stratify():
    X = np.arange(300)[:, None]
    y = np.r_[np.zeros(240), np.ones(60)].astype(int)
    a = data.train_dev_test_split(X, y, seed=3)
    b = data.train_dev_test_split(X, y, seed=3)
    np.testing.assert_array_equal(a[0][0], b[0][0])
    strat = data.train_dev_test_split(X, y, dev=0.2, test=0.2, seed=1, stratify=True)
    for _, part_y in strat:
        assert part_y.mean() == pytest.approx(0.2, abs=0.02)
    assert [len(p[1]) for p in strat] == [180, 60, 60]


@pytest.mark.parametrize("kwargs, match", [
    ({"dev": 0.6, "test": 0.5}, "no training examples"),
    ({"dev": -0.1}, "fraction"),
    ({"dev": 1000}, "examples must be in"),
    ({"dev": None}, "fraction"),
])
def test_split_errors(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        data.train_dev_test_split(np.zeros((10, 2)), np.zeros(10), **kwargs)


def test_split_rejects_mismatched_rows():
    with pytest.raises(ValueError, match="rows"):
        data.train_dev_test_split(np.zeros((10, 2)), np.zeros(9))


def test_minibatches_cover_everything_once():
    X = np.arange(103)[:, None]
    y = np.arange(103)
    batches = list(data.minibatches(X, y, batch_size=10, seed=0))
    assert [len(b[0]) for b in batches] == [10] * 10 + [3]
    seen = np.concatenate([b[1] for b in batches])
    assert sorted(seen) == list(range(103)) and not np.array_equal(seen, np.arange(103))
    with pytest.raises(ValueError, match="batch_size"):
        list(data.minibatches(X, y, batch_size=0))


def test_one_hot_round_trip():
    y = np.array([2, 0, 1, 2])
    Y = data.one_hot(y, 4)
    assert Y.shape == (4, 4) and Y.dtype == np.float32 and Y.sum() == 4
    np.testing.assert_array_equal(data.from_one_hot(Y), y)
    with pytest.raises(ValueError, match=r"in \[0, 2\)"):
        data.one_hot(y, 2)
