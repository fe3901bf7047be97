"""Sequential: training, inference, modes, determinism and input checks."""
import numpy as np
import pytest

import fastnn as fn


def blobs(m=300, n=5, k=3, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    centers = rng.standard_normal((k, n)) * 3
    y = rng.integers(0, k, m)
    X = centers[y] + rng.standard_normal((m, n))
    return X.astype(dtype), y


def small_model(dtype="float32", seed=0, bn=False, keep_prob=None, k=3, n=5):
    layers = [fn.Dense(16, "relu")]
    if bn:
        layers.append(fn.BatchNorm())
    if keep_prob is not None:
        layers.append(fn.Dropout(keep_prob))
    layers.append(fn.Dense(k, "softmax", init="xavier"))
    return fn.Sequential(layers, input_dim=n, dtype=dtype, seed=seed)


@pytest.mark.parametrize("bn", [False, True])
@pytest.mark.parametrize("keep_prob", [None, 0.8])
def test_fit_learns_separable_blobs(bn, keep_prob):
    X, y = blobs()
    model = small_model(bn=bn, keep_prob=keep_prob)
    history = model.fit(X, y, optimizer=fn.Adam(learning_rate=0.01), epochs=30, batch_size=32,
                        verbose=0)
    assert history["loss"][-1] < history["loss"][0] / 3
    assert model.evaluate(X, y)["accuracy"] > 0.95
    assert model.predict(X).shape == (300,)
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)


def test_history_entries_and_validation():
    X, y = blobs()
    model = small_model()
    h = model.fit(X[:200], y[:200], epochs=3, batch_size=50, l2=0.1, verbose=0,
                  validation_data=(X[200:], y[200:]), record_batch_loss=True)
    for key in ("loss", "data_loss", "reg_loss", "accuracy", "val_loss", "val_accuracy",
                "learning_rate", "time"):
        assert len(h[key]) == 3, key
    np.testing.assert_allclose(np.add(h["data_loss"], h["reg_loss"]), h["loss"], rtol=1e-12)
    assert all(r > 0 for r in h["reg_loss"])
    assert len(h.batch_loss) == 3 * 4
    assert model.epoch == 3


def test_same_seed_same_weights_and_fit_twice_equals_fit_once():
    X, y = blobs()
    a, b, c = (small_model(bn=True, keep_prob=0.7, seed=3) for _ in range(3))
    a.fit(X, y, epochs=2, batch_size=64, verbose=0)
    b.fit(X, y, epochs=2, batch_size=64, verbose=0)
    c.fit(X, y, epochs=1, batch_size=64, verbose=0)
    c.fit(X, y, epochs=1, batch_size=64, verbose=0)
    for wa, wb, wc in zip(a.get_weights(), b.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wa, wb)
        np.testing.assert_array_equal(wa, wc)
    d = small_model(bn=True, keep_prob=0.7, seed=4)
    d.fit(X, y, epochs=2, batch_size=64, verbose=0)
    assert not np.array_equal(a.get_weights()[0], d.get_weights()[0])


def test_batch_gd_and_sgd():
    X, y = blobs(m=40)
    model = small_model()
    model.fit(X, y, batch_size=None, epochs=2, verbose=0)
    assert model.step == 2
    model.fit(X, y, batch_size=1, epochs=1, verbose=0)
    assert model.step == 2 + 40


def test_batchnorm_drops_a_last_batch_of_one_row():
    X, y = blobs(m=65)
    model = small_model(bn=True)
    model.fit(X, y, batch_size=32, epochs=1, verbose=0)
    assert model.step == 2          # 32 + 32, the single last row skipped
    with pytest.raises(ValueError, match="at least 2 rows"):
        small_model(bn=True).fit(X, y, batch_size=1, verbose=0)


def test_batchnorm_takes_over_the_dense_activation_and_bias():
    model = small_model(bn=True)
    dense, bn = model.layers[0], model.layers[1]
    assert dense.b is None and "dense_1.b" not in model.params
    assert bn.activation == "relu" and dense.train_activation == "linear"
    names = model.params.names
    assert names == ["dense_1.W", "batchnorm_1.gamma", "batchnorm_1.beta", "dense_2.W", "dense_2.b"]


def test_train_and_eval_modes_differ_with_dropout():
    X, y = blobs()
    model = small_model(keep_prob=0.5)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.training is False
    np.testing.assert_array_equal(model(X), model.predict_proba(X))
    model.train()
    assert not np.allclose(model(X), model.predict_proba(X))
    model.eval()


def test_binary_and_regression():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    clf = fn.Sequential([fn.Dense(8, "tanh", init="xavier"), fn.Dense(1, "sigmoid", init="xavier")],
                        input_dim=2, seed=0)
    clf.fit(X, y, optimizer=fn.Adam(0.05), epochs=40, batch_size=32, verbose=0)
    assert clf.evaluate(X, y)["accuracy"] > 0.95
    assert set(np.unique(clf.predict(X))) <= {0, 1}
    t = X @ np.array([1.5, -2.0]) + 0.5
    reg = fn.Sequential([fn.Dense(8, "relu"), fn.Dense(1, "linear", init="xavier")],
                        input_dim=2, seed=0, dtype="float64")
    reg.fit(X, t, loss="mse", optimizer=fn.Adam(0.02), epochs=80, batch_size=32, verbose=0)
    assert reg.evaluate(X, t)["loss"] < 0.05
    assert "accuracy" not in reg.evaluate(X, t)


def test_two_class_softmax_agrees_with_logistic_cost():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 3))
    y = rng.integers(0, 2, 50)
    soft = fn.Sequential([fn.Dense(2, "softmax", init="xavier")], input_dim=3, dtype="float64")
    W, b = soft.get_weights()
    logit = fn.Sequential([fn.Dense(1, "sigmoid")], input_dim=3, dtype="float64")
    logit.set_weights([W[:, 1:] - W[:, :1], b[1:] - b[:1]])
    assert soft.evaluate(X, y, loss="categorical_crossentropy")["loss"] == pytest.approx(
        logit.evaluate(X, y, loss="binary_crossentropy")["loss"], rel=1e-12)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_divergence_stops_and_keeps_finite_weights():
    X, y = blobs()
    X = X * 1e3
    model = small_model(dtype="float32")
    with pytest.warns(RuntimeWarning, match="diverged"):
        h = model.fit(X, y, optimizer=fn.SGD(learning_rate=1e6), epochs=20, batch_size=16,
                      verbose=0)
    assert "diverged" in h.stop_reason
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    assert model.epoch < 20


@pytest.mark.parametrize("kwargs, error, match", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"l2": -1.0}, ValueError, "l2"),
    ({"l2": float("nan")}, ValueError, "l2"),
    ({"loss": "binary_crossentropy"}, ValueError, "sigmoid output"),
    ({"loss": "hinge"}, ValueError, "loss must be one of"),
    ({"optimizer": "adamw"}, TypeError, "optimizer"),   # "adam" is Adam()
    ({"verbose": 5}, ValueError, "verbose"),
])
def test_fit_rejects_bad_arguments(kwargs, error, match):
    X, y = blobs(m=20)
    with pytest.raises(error, match=match):
        small_model().fit(X, y, **{"verbose": 0, **kwargs})


def test_fit_rejects_bad_data():
    X, y = blobs(m=20)
    model = small_model()
    with pytest.raises(ValueError, match="rows but y has"):
        model.fit(X, y[:-1], verbose=0)
    with pytest.raises(ValueError, match="5 features"):
        model.fit(X[:, :4], y, verbose=0)
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(bad, y, verbose=0)
    with pytest.raises(ValueError, match="NaN or Inf"):
        model.fit(X, np.where(y == 0, np.inf, y), verbose=0)
    with pytest.raises(ValueError, match=r"in \[0, 3\)"):
        model.fit(X, y + 1, verbose=0)
    with pytest.raises(ValueError, match="2-D"):
        model.fit(X[0], y, verbose=0)
    with pytest.raises(TypeError, match="numeric"):
        model.fit(X.astype(str), y, verbose=0)
    with pytest.raises(ValueError, match="empty"):
        model.predict(X[:0])


def test_layer_and_model_construction_errors():
    with pytest.raises(ValueError, match="keep_prob"):
        fn.Dropout(0.0)
    with pytest.raises(ValueError, match="keep_prob"):
        fn.Dropout(1.5)
    with pytest.raises(ValueError, match="units"):
        fn.Dense(0)
    with pytest.raises(ValueError, match="activation"):
        fn.Dense(3, "swish")
    with pytest.raises(ValueError, match="initializer"):
        fn.Dense(3, init="lecun")
    with pytest.raises(ValueError, match="momentum"):
        fn.BatchNorm(momentum=1.5)
    with pytest.raises(ValueError, match="last layer must be a Dense"):
        fn.Sequential([fn.Dense(3), fn.Dropout(0.5)])
    with pytest.raises(ValueError, match="right after a hidden Dense"):
        fn.Sequential([fn.BatchNorm(), fn.Dense(3)], input_dim=4)
    with pytest.raises(TypeError, match="dtype"):
        fn.Sequential([fn.Dense(3)], dtype="int32")
    with pytest.raises(TypeError, match="layers\\[0\\]"):
        fn.Sequential(["dense"])


def test_get_set_weights_round_trip_and_errors():
    model = small_model(bn=True)
    ws = model.get_weights()
    assert [w.shape for w in ws] == [(5, 16), (16,), (16,), (16, 3), (3,)]
    ws[0][...] = 1.0
    model.set_weights(ws)
    np.testing.assert_array_equal(model.get_weights()[0], 1.0)
    with pytest.raises(ValueError, match="list of 5 arrays"):
        model.set_weights(ws[:-1])
    ws[1] = np.zeros(3)
    with pytest.raises(ValueError, match="shape"):
        model.set_weights(ws)


def test_l1_regularization_shrinks_weights():
    X, y = blobs()
    plain, sparse = small_model(seed=1), small_model(seed=1)
    plain.fit(X, y, optimizer=fn.SGD(0.05), epochs=20, verbose=0)
    sparse.fit(X, y, optimizer=fn.SGD(0.05), epochs=20, l1=5.0, verbose=0)
    assert np.abs(sparse.get_weights()[0]).sum() < 0.7 * np.abs(plain.get_weights()[0]).sum()
    assert sparse.evaluate(X, y)["accuracy"] > 0.9


@pytest.mark.parametrize("how", ["pickle", "deepcopy"])
def test_a_copied_model_trains_the_weights_it_predicts_with(how):
    # before: the copy's layers held copies of their views, so fit stepped the
    # parameter buffer while predict read the stale copies
    import copy
    import pickle
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = fn.Sequential([fn.Dense(8), fn.BatchNorm(), fn.Dense(2, "softmax")], seed=0)
    model.fit(X, y, epochs=2, verbose=0)
    twin = pickle.loads(pickle.dumps(model)) if how == "pickle" else copy.deepcopy(model)
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))
    twin.fit(X, y, epochs=2, verbose=0)
    model.fit(X, y, epochs=2, verbose=0)
    for layer in twin.layers:
        for suffix, _ in layer.param_shapes():
            assert np.shares_memory(getattr(layer, suffix), twin.params.flat())
    np.testing.assert_array_equal(twin.predict_proba(X), model.predict_proba(X))


@pytest.mark.parametrize("dtype, rtol", [("float32", 2e-5), ("float64", 1e-12)])
def test_batchnorm_folded_for_many_rows_predicts_as_layer_by_layer(dtype, rtol):
    # from 4 rows per input of a Dense, inference folds each
    # BatchNorm into the Dense before it: the same numbers as one row at a time
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 20))
    y = rng.integers(0, 3, 300)
    model = fn.Sequential([fn.Dense(16, "relu"), fn.BatchNorm(), fn.Dense(8, "tanh"),
                           fn.BatchNorm(), fn.Dense(3, "softmax")], input_dim=20, dtype=dtype,
                          seed=0)
    model.fit(X, y, epochs=3, batch_size=32, verbose=0)       # running statistics, gamma, beta
    many = model.predict_proba(X)
    few = np.concatenate([model.predict_proba(X[i:i + 1]) for i in range(0, 300, 7)])
    np.testing.assert_allclose(many[::7], few, rtol=rtol, atol=rtol * 1e-2)
    np.testing.assert_allclose(model.decision_function(X)[::7],
                               np.concatenate([model.decision_function(X[i:i + 1])
                                               for i in range(0, 300, 7)]), rtol=rtol, atol=rtol)
    for layer in model.layers:          # nothing of the model changed by folding
        if isinstance(layer, fn.BatchNorm):
            assert layer.gamma.dtype == np.dtype(dtype)
