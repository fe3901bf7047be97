"""Every layer's backward pass, checked by finite differences (float64)."""
import numpy as np
import pytest

import fastnn as fn


def data(m=12, n=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, n)), rng.integers(0, k, m)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh", "sigmoid", "linear"])
def test_dense_stack(activation):
    X, y = data()
    model = fn.Sequential([fn.Dense(6, activation, init="xavier"), fn.Dense(5, activation),
                           fn.Dense(3, "softmax")], input_dim=4, dtype="float64", seed=1)
    result = fn.gradient_check(model, X, y, l2=0.3)
    assert result.passed, result
    assert set(result.per_parameter) == {"dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b",
                                         "dense_3.W", "dense_3.b"}


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_batchnorm_and_dropout(activation):
    X, y = data(m=16)
    model = fn.Sequential([fn.Dense(6, activation), fn.BatchNorm(), fn.Dropout(0.5),
                           fn.Dense(3, "softmax")], input_dim=4, dtype="float64", seed=2)
    result = fn.gradient_check(model, X, y, l2=0.1)
    assert result.passed, result
    assert any("dropout" in note for note in result.notes)
    assert "batchnorm_1.gamma" in result.per_parameter


def test_sigmoid_and_mse_outputs_with_l1():
    X, _ = data()
    rng = np.random.default_rng(3)
    yb = rng.integers(0, 2, (12, 2))
    model = fn.Sequential([fn.Dense(5, "tanh"), fn.Dense(2, "sigmoid")], input_dim=4,
                          dtype="float64", seed=0)
    assert fn.gradient_check(model, X, yb).passed
    reg = fn.Sequential([fn.Dense(5, "tanh"), fn.Dense(2, "linear")], input_dim=4,
                        dtype="float64", seed=0)
    assert fn.gradient_check(reg, X, rng.standard_normal((12, 2)), loss="mse", l1=0.05).passed


def test_float32_model_is_checked_in_float64_and_left_untouched():
    X, y = data()
    model = fn.Sequential([fn.Dense(5, "relu"), fn.Dense(3, "softmax")], input_dim=4, seed=0)
    before = model.get_weights()
    result = fn.gradient_check(model, X, y)
    assert result.passed and any("float64" in note for note in result.notes)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_catches_a_wrong_gradient(monkeypatch):
    """A backward pass that forgets the L2 term must fail the check."""
    X, y = data()
    model = fn.Sequential([fn.Dense(5, "tanh"), fn.Dense(3, "softmax")], input_dim=4,
                          dtype="float64", seed=0)
    good = fn.gradient_check(model, X, y, l2=1.0)
    assert good.passed and good.difference < 1e-7
    original = fn.Dense.backward

    def forget_l2(self, dA, need_dA_prev):
        l2, self.l2 = self.l2, 0.0      # cost keeps its L2 term, gradients lose it
        try:
            return original(self, dA, need_dA_prev)
        finally:
            self.l2 = l2
    monkeypatch.setattr(fn.Dense, "backward", forget_l2)
    bad = fn.gradient_check(model, X, y, l2=1.0)
    assert not bad.passed and bad.difference > 1e-3
    assert "bug" in bad.verdict
    assert max(bad.per_parameter, key=bad.per_parameter.get).endswith(".W")


def test_sampled_coordinates_and_errors():
    X, y = data()
    model = fn.Sequential([fn.Dense(30, "tanh"), fn.Dense(3, "softmax")], input_dim=4,
                          dtype="float64")
    result = fn.gradient_check(model, X, y, max_coordinates=40)
    assert result.n_checked == 40 and result.n_total == 4 * 30 + 30 + 30 * 3 + 3
    assert result.passed
    with pytest.raises(ValueError, match="epsilon"):
        fn.gradient_check(model, X, y, epsilon=0)
    with pytest.raises(ValueError, match="max_coordinates"):
        fn.gradient_check(model, X, y, max_coordinates=0)


def test_course_three_layer_network_and_a_planted_bug_in_one_dW(monkeypatch):
    """LINEAR->RELU->LINEAR->RELU->LINEAR->SIGMOID, as in the material."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((3, 4))
    y = np.array([1, 0, 1])
    model = fn.Sequential([fn.Dense(5, "relu"), fn.Dense(3, "relu"), fn.Dense(1, "sigmoid")],
                          input_dim=4, dtype="float64", seed=1)
    good = fn.gradient_check(model, X, y)
    assert good.difference < 2e-7 and good.passed
    second = model.layers[1]
    original = type(second).backward

    def buggy(self, dA, need_dA_prev):
        dA_prev = original(self, dA, need_dA_prev)
        if self.name == second.name:
            self.dW *= 2.0           # the planted bug: dW2 off by a factor
        return dA_prev
    monkeypatch.setattr(type(second), "backward", buggy)
    bad = fn.gradient_check(model, X, y)
    assert bad.difference > 1e-3 and not bad.passed
    worst = max(bad.per_parameter, key=bad.per_parameter.get)
    assert worst == "dense_2.W" and bad.per_parameter["dense_1.W"] < 2e-7


def test_every_parameter_array_gets_sampled_coordinates():
    """A sample of 50 among 2,819 coordinates still checks the biases."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 40)), rng.integers(0, 3, 12)
    model = fn.Sequential([fn.Dense(64, "tanh"), fn.Dense(3, "softmax")], input_dim=40,
                          dtype="float64", seed=0)
    result = fn.gradient_check(model, X, y, max_coordinates=50)
    assert result.n_checked == 50 and result.passed
    assert list(result.per_parameter) == ["dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"]
    assert all(checked >= 1 for checked, _ in result.coordinates.values())
    assert result.coordinates["dense_2.b"][1] == 3
    # more arrays than coordinates: one of each all the same
    few = fn.gradient_check(model, X, y, max_coordinates=2)
    assert few.n_checked == 4 and set(few.coordinates.values()) == {
        (1, 2560), (1, 64), (1, 192), (1, 3)}


def test_a_wrong_bias_gradient_fails_its_own_row(monkeypatch):
    """db off by 0.1%: the biases are a small part of theta, so the overall
    difference is smaller than the bias row's; with a threshold between the
    two, the check fails and names the row."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((12, 40)), rng.integers(0, 3, 12)
    model = fn.Sequential([fn.Dense(64, "tanh"), fn.Dense(3, "softmax")], input_dim=40,
                          dtype="float64", seed=0)
    original = fn.Dense.backward

    def wrong_db(self, dA, need_dA_prev):
        out = original(self, dA, need_dA_prev)
        if self.name == "dense_1":
            self.db *= 1.001
        return out
    monkeypatch.setattr(fn.Dense, "backward", wrong_db)
    bad = fn.gradient_check(model, X, y)
    assert not bad.passed and max(bad.per_parameter, key=bad.per_parameter.get) == "dense_1.b"
    row = bad.per_parameter["dense_1.b"]
    assert bad.difference < row / 2
    between = fn.gradient_check(model, X, y, threshold=(bad.difference * row) ** 0.5)
    assert between.difference < between.threshold            # overall: below
    assert not between.passed and between.failed_parameters == ["dense_1.b"]
    assert not between.parameter_passed("dense_1.b") and between.parameter_passed("dense_1.W")
    assert "dense_1.b above the threshold" in between.verdict


@pytest.mark.parametrize("batchnorm", [False, True])
def test_coordinates_across_a_relu_kink_are_left_out_and_said(batchnorm):
    # a unit whose pre-activation is 3e-6 on one row: a step of 1e-5 on its
    # bias crosses 0, where the difference quotient is not the derivative
    rng = np.random.default_rng(0)
    layers = [fn.Dense(3, "relu")] + ([fn.BatchNorm()] if batchnorm else [])   # Z -> BN -> relu
    model = fn.Sequential(layers + [fn.Dense(2, "softmax")], input_dim=2, dtype="float64", seed=0)
    X = rng.normal(size=(6, 2))
    y = np.array([0, 1, 0, 1, 1, 0])
    W, b = model.layers[0].W, model.layers[0].b
    if batchnorm:
        # the normalized pre-activation of unit 0, row 0, a hair above 0
        bn = model.layers[1]
        z = X @ W[:, 0]                     # the Dense before a BatchNorm has no bias
        zhat = (z - z.mean()) / np.sqrt(z.var() + bn.eps)
        bn.beta[0] = 3e-6 - bn.gamma[0] * zhat[0]
    else:
        b[0] = 3e-6 - X[0] @ W[:, 0]
    result = fn.gradient_check(model, X, y, epsilon=1e-5, threshold=1e-6)
    assert any("left out: a ReLU pre-activation changed sign" in n for n in result.notes), \
        result.notes
    assert result.passed, (result.difference, result.per_parameter)
    assert result.n_checked < result.n_total
    # a step that does not reach the kink checks every coordinate
    small = fn.gradient_check(model, X, y, epsilon=1e-8, threshold=1e-6)
    assert small.n_checked == small.n_total and small.passed
