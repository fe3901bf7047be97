"""Sequential.partial_fit: training on data that arrives in chunks, with
scikit-learn's semantics (classes on the first call, state carried over)."""
import numpy as np
import pytest

import fastnn as fn
from fastnn.datasets import load_digits


def mlp(units=10, seed=0):
    return fn.Sequential([fn.Dense(32, "relu"), fn.Dense(units, "softmax")], seed=seed)


def test_one_pass_over_the_whole_set_is_one_epoch_of_fit():
    X, y = load_digits()
    a, b = mlp(), mlp()
    a.fit(X, y, epochs=1, shuffle=False, verbose=0)
    b.partial_fit(X, y, classes=np.arange(10), shuffle=False)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert (a.epoch, a.step, a.optimizer.t) == (b.epoch, b.step, b.optimizer.t)


def test_chunks_carry_the_optimizer_state_and_the_counters():
    X, y = load_digits()
    model = mlp()
    for i, chunk in enumerate(np.array_split(np.arange(len(X)), 6)):
        model.partial_fit(X[chunk], y[chunk], classes=np.arange(10) if i == 0 else None)
    assert model.epoch == 6 and model.optimizer.t == model.step == sum(
        -(-len(c) // 64) for c in np.array_split(np.arange(len(X)), 6))


def test_chunked_training_reaches_fit_s_accuracy_on_digits():
    X, y = load_digits()
    order = np.random.default_rng(0).permutation(len(X))
    train, test = order[:1400], order[1400:]
    whole = mlp(seed=1)
    whole.fit(X[train], y[train], optimizer=fn.Adam(0.01), epochs=10, verbose=0)
    chunked = mlp(seed=1)
    chunks = np.array_split(train, 10)
    chunked.optimizer = fn.Adam(0.01)
    for epoch in range(10):
        for i, chunk in enumerate(chunks):
            chunked.partial_fit(X[chunk], y[chunk], classes=np.arange(10))
    a = whole.evaluate(X[test], y[test])["accuracy"]
    b = chunked.evaluate(X[test], y[test])["accuracy"]
    assert b > 0.9 and abs(a - b) < 0.03, (a, b)


def test_text_classes_on_the_first_call_and_chunks_that_lack_some():
    X, y = load_digits()
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    text = names[y]
    model = mlp()
    first = text[:200] != "nine"                       # the first chunk has no "nine"
    model.partial_fit(X[:200][first], text[:200][first], classes=names)
    model.partial_fit(X[200:], text[200:])
    assert sorted(model.classes_) == sorted(names)
    assert set(model.predict(X[:50])) <= set(names)


def test_partial_fit_mistakes_are_clear():
    X, y = load_digits()
    with pytest.raises(ValueError, match="the first call must name every class"):
        mlp().partial_fit(X, y)
    with pytest.raises(ValueError, match=r"integer classes are the output's class indices 0..9"):
        mlp().partial_fit(X, y, classes=[1, 2, 3])
    model = mlp()
    model.partial_fit(X[:100], y[:100], classes=np.arange(10))
    with pytest.raises(ValueError, match=r"class labels y must be in \[0, 10\)"):
        model.partial_fit(X[:5], np.array([0, 1, 2, 3, 12]))
    text = mlp()
    text.partial_fit(X[:100], np.array(list("abcdefghij"))[y[:100]], classes=list("abcdefghij"))
    with pytest.raises(ValueError, match="differ from the first call's"):
        text.partial_fit(X[:5], np.array(list("abcde")), classes=list("abcdefghik"))
    with pytest.raises(ValueError, match=r"y holds labels the model does not know: \['z'\]"):
        text.partial_fit(X[:2], np.array(["a", "z"]))
    regression = fn.Sequential([fn.Dense(4), fn.Dense(1, "linear")])
    with pytest.raises(ValueError, match="classes is for classifiers"):
        regression.partial_fit(X, y.astype(float), classes=[0, 1])


def test_ten_chunks_of_mnist_reach_fit_s_accuracy_within_half_a_point(shared_data):
    with np.load(shared_data("mnist.npz")) as d:
        X = (d["x_train"].reshape(-1, 784) / 255).astype(np.float32)
        y = d["y_train"].astype(np.int64)
        X_test = (d["x_test"].reshape(-1, 784) / 255).astype(np.float32)
        y_test = d["y_test"].astype(np.int64)

    def model():
        return fn.Sequential([fn.Dense(128), fn.Dense(10, "softmax")], input_dim=784, seed=0)
    whole = model()
    whole.fit(X, y, epochs=3, batch_size=128, verbose=0)
    chunked = model()
    for _ in range(3):                      # the same number of passes over the data
        for lo in range(0, 60000, 6000):
            chunked.partial_fit(X[lo:lo + 6000], y[lo:lo + 6000], classes=np.arange(10),
                                batch_size=128)
    a = whole.evaluate(X_test, y_test)["accuracy"]
    b = chunked.evaluate(X_test, y_test)["accuracy"]
    assert abs(a - b) <= 0.005, (a, b)
