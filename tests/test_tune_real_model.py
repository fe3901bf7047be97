"""fastnn.tune against the real model (the other tune tests use a fake)."""
import numpy as np

import fastnn as fn
from fastnn import tune
from fastnn.datasets import make_blobs


def data():
    X, y = make_blobs(240, centers=3, n_features=4, seed=0)
    X = X.astype(np.float32)
    return (X[:180], y[:180]), (X[180:], y[180:])


def build(params):
    model = fn.Sequential([fn.Dense(params["hidden"], "relu"), fn.Dense(3, "softmax")],
                          input_dim=4, seed=0)
    return model, {"optimizer": fn.Adam(params["learning_rate"]), "epochs": 3, "verbose": 0}


def test_builder_search_on_sequential(tmp_path):
    train, dev = data()
    space = {"learning_rate": tune.LogUniform(1e-3, 1e-1), "hidden": tune.IntUniform(4, 16)}
    result = tune.RandomSearch(space, tune.Builder(build, train, dev), n_trials=3, seed=0,
                               storage=str(tmp_path / "s.db")).run()
    assert [t.status for t in result.trials] == ["ok"] * 3
    best = result.best
    assert 0.0 <= best.metrics["dev_error"] <= 1.0 and best.epochs == 3


def test_panda_babysits_a_sequential_and_resumes(tmp_path):
    train, dev = data()
    model, fit_kwargs = build({"hidden": 8, "learning_rate": 0.01})
    fit_kwargs.pop("epochs")
    path = tmp_path / "panda.fnn"
    panda = tune.Panda(model, train, dev, fit_kwargs=fit_kwargs, checkpoint=path, verbose=False)
    for record in panda.epochs(2):
        panda.learning_rate = 0.005          # babysitting: nudge the rate between epochs
    assert model.epoch == 2 and model.optimizer.learning_rate == 0.005
    resumed = tune.Panda.resume(path, fn.load_model, train, dev, verbose=False)
    straight = panda
    next(resumed.epochs(1))
    next(straight.epochs(1))
    for a, b in zip(resumed.model.get_weights(), straight.model.get_weights()):
        np.testing.assert_array_equal(a, b)
