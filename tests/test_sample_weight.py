"""Sample and class weights in fit and evaluate: scikit-learn's MLP
objective, sum(s_i loss_i) / sum(s) + (l2 / 2 sum(s)) ||W||^2."""
import numpy as np
import pytest

import fastnn as fn


def data(m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 5))
    y = np.argmax(X[:, :3] + 0.3 * rng.standard_normal((m, 3)), axis=1)
    return X, y


def model(dtype="float64", out=3, activation="softmax"):
    return fn.Sequential([fn.Dense(7, "tanh"), fn.Dense(out, activation)], dtype=dtype, seed=0)


@pytest.mark.parametrize("activation", ["softmax", "sigmoid", "linear"])
def test_integer_weights_train_as_repeated_rows(activation):
    X, y = data()
    if activation == "sigmoid":
        y, out = (y == 0).astype(float), 1
    elif activation == "linear":
        y, out = X[:, :2] @ [1.0, -2.0], 1
    else:
        out = 3
    w = np.random.default_rng(1).integers(0, 4, len(X))
    a, b = model(out=out, activation=activation), model(out=out, activation=activation)
    kw = dict(epochs=5, batch_size=None, shuffle=False, l2=0.3, verbose=0,
              optimizer=fn.SGD(0.1))
    ha = a.fit(X, y, sample_weight=w, **kw)
    hb = b.fit(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0), **kw)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-10)
    assert a.evaluate(X, y, sample_weight=w)["loss"] == pytest.approx(
        b.evaluate(np.repeat(X, w, axis=0), np.repeat(y, w, axis=0))["loss"], rel=1e-10)


def test_zero_weights_are_dropped_rows():
    X, y = data()
    w = np.ones(len(X))
    w[::3] = 0
    a, b = model(), model()
    kw = dict(epochs=4, batch_size=None, shuffle=False, verbose=0)
    a.fit(X, y, sample_weight=w, optimizer=fn.Adam(0.01), **kw)
    b.fit(X[w > 0], y[w > 0], optimizer=fn.Adam(0.01), **kw)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-10, atol=1e-12)
    ea = a.evaluate(X, y, sample_weight=w)
    eb = b.evaluate(X[w > 0], y[w > 0])
    assert ea["accuracy"] == pytest.approx(eb["accuracy"]) and ea["loss"] == pytest.approx(
        eb["loss"], rel=1e-10)


def test_all_ones_is_the_unweighted_fit_bit_for_bit():
    X, y = data()
    a, b = model("float32"), model("float32")
    a.fit(X, y, epochs=3, verbose=0, sample_weight=np.ones(len(X)))
    b.fit(X, y, epochs=3, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6, atol=1e-7)


def test_balanced_class_weights_raise_the_minority_recall(shared_data):
    table = np.loadtxt(shared_data("breast_cancer.csv"), delimiter=",", skiprows=1)
    X, y = table[:, :-1], table[:, -1].astype(int)          # 0 = malignant (the minority)
    rng = np.random.default_rng(0)
    malignant, benign = np.flatnonzero(y == 0), np.flatnonzero(y == 1)
    rng.shuffle(malignant), rng.shuffle(benign)
    train = np.concatenate([malignant[:25], benign[:250]])  # 1 malignant for 10 benign
    test = np.concatenate([malignant[25:], benign[250:]])
    norm = fn.Normalizer().fit(X[train])
    recalls = {}
    for weights in (None, "balanced"):
        m = fn.Sequential([fn.Dense(16), fn.Dense(2, "softmax")], seed=0)
        m.normalizer = norm
        m.fit(X[train], y[train], epochs=15, verbose=0, class_weight=weights)
        pred = m.predict(X[test])
        recalls[weights] = np.mean(pred[y[test] == 0] == 0)
    assert recalls["balanced"] > recalls[None] + 0.05, recalls


def test_class_weight_dicts_and_text_labels():
    X, y = data()
    names = np.array(["a", "b", "c"])[y]
    a, b = model(), model()
    kw = dict(epochs=3, batch_size=None, shuffle=False, verbose=0)
    a.fit(X, names, class_weight={"a": 2.0, "c": 0.5}, **kw)
    b.fit(X, y, sample_weight=np.array([2.0, 1.0, 0.5])[y], **kw)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-12)
    with pytest.raises(ValueError, match=r"class_weight names 'z', which is not one of the classes"):
        model().fit(X, names, class_weight={"z": 1.0}, verbose=0)


def test_weighted_history_and_validation_weights():
    X, y = data()
    w = np.where(y == 0, 3.0, 1.0)
    m = model()
    h = m.fit(X, y, epochs=2, verbose=0, sample_weight=w, validation_data=(X, y, w))
    assert h["val_loss"][-1] == pytest.approx(m.evaluate(X, y, sample_weight=w)["loss"])


@pytest.mark.parametrize("weights, error, message", [
    (-np.ones(60), ValueError, r"sample_weight must be >= 0; got -1 at index 0"),
    (np.full(60, np.nan), ValueError, "sample_weight contains NaN or Inf"),
    (np.ones(59), ValueError, r"one weight per example, shape \(60,\); got \(59,\)"),
    (np.zeros(60), ValueError, "the example weights sum to 0"),
    (np.array(["x"] * 60), TypeError, "sample_weight must hold numbers"),
])
def test_bad_weights_are_clear_errors_before_any_work(weights, error, message):
    X, y = data()
    m = model()
    with pytest.raises(error, match=message):
        m.fit(X, y, sample_weight=weights, verbose=0)
    assert m.params is None                                   # nothing changed
    with pytest.raises(ValueError, match="class_weight must be a dict"):
        m.fit(X, y, class_weight="even", verbose=0)


def test_the_weighted_backward_pass_passes_the_gradient_check():
    X, y = data(m=12)
    w = np.random.default_rng(2).random(12) * 3
    for out, activation, target in ((3, "softmax", y), (1, "sigmoid", (y == 1).astype(float)),
                                     (1, "linear", X[:, 0])):
        m = fn.Sequential([fn.Dense(4, "tanh"), fn.BatchNorm(), fn.Dense(out, activation)],
                          input_dim=5, dtype="float64", seed=0)
        result = fn.gradient_check(m, X, target, l2=0.5, l1=0.1, sample_weight=w)
        assert result.passed, (activation, result.difference)
