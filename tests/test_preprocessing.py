import numpy as np
import pytest

import fastnn as fn


def test_normalizer_learns_on_train_and_applies_the_same_transform():
    rng = np.random.default_rng(0)
    train = rng.normal(5.0, 3.0, (500, 4))
    dev = rng.normal(5.0, 3.0, (100, 4))
    norm = fn.Normalizer().fit(train)
    t = norm.transform(train)
    np.testing.assert_allclose(t.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(t.std(axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(norm.transform(dev), (dev - train.mean(0)) / train.std(0), rtol=1e-6)
    np.testing.assert_allclose(norm.inverse_transform(norm.transform(dev)), dev)


def test_zero_variance_feature_gives_no_nan():
    X = np.ones((10, 3))
    X[:, 1] = np.arange(10)
    out = fn.Normalizer().fit_transform(X)
    assert np.all(np.isfinite(out)) and np.all(out[:, 0] == 0)


def test_normalizer_errors():
    with pytest.raises(ValueError, match="fit"):
        fn.Normalizer().transform(np.ones((2, 2)))
    norm = fn.Normalizer().fit(np.ones((4, 3)))
    with pytest.raises(ValueError, match="3 features"):
        norm.transform(np.ones((4, 2)))
    with pytest.raises(ValueError, match="NaN"):
        fn.Normalizer().fit(np.array([[np.nan, 1.0]]))
    assert norm.transform(np.ones((2, 3), np.float32)).dtype == np.float32
