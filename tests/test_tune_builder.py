"""Builder objectives: params -> (model, fit_kwargs), trained on train, scored on dev.

The model layer is not needed: FakeModel (tests/tune_helpers.py) follows the
protocol a Builder relies on.
"""
import math

import pytest

from fastnn import tune
from tune_helpers import FakeModel, FakeOptimizer, build_fake, regression_data

SPACE = {"learning_rate": tune.LogUniform(1e-3, 1), "epochs": tune.IntUniform(2, 6)}


@pytest.fixture(scope="module")
def data():
    return regression_data(64, seed=0), regression_data(32, seed=1)


def test_a_builder_search_records_train_and_dev_metrics_epochs_and_history(data):
    train, dev = data
    result = tune.RandomSearch(SPACE, build_fake, n_trials=6, seed=0, train=train, dev=dev).run()
    for t in result.trials:
        assert t.status == "ok"
        assert set(t.train_metrics) == set(t.dev_metrics) == {"loss", "accuracy", "error"}
        assert t.metrics["dev_error"] == pytest.approx(1 - t.metrics["dev_accuracy"])
        assert t.epochs == t.params["epochs"]
        assert set(t.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
        assert len(t.history["val_loss"]) == t.epochs
        # The dev metrics are the model's after training, on the dev set.
        assert t.metrics["dev_loss"] == pytest.approx(t.history["val_loss"][-1])
    assert result.best.params["learning_rate"] > 0.01  # tiny rates do not fit in a few epochs


def test_a_builder_is_trained_the_same_in_worker_processes(data, tmp_path):
    train, dev = data
    builder = tune.Builder(build_fake, train, dev)
    local = tune.RandomSearch(SPACE, builder, n_trials=4, seed=2).run()
    parallel = tune.RandomSearch(SPACE, builder, n_trials=4, seed=2, n_jobs=2, storage=tmp_path / "s.db").run()
    assert [t.metrics for t in local.trials] == [t.metrics for t in parallel.trials]
    assert [t.history for t in tune.Result.load(tmp_path / "s.db").trials] != [None] * 4


def test_builder_protocol_errors_fail_the_trial_with_a_clear_message(data):
    train, dev = data

    def build(params):
        if params["kind"] == "no model":
            return object(), {}
        if params["kind"] == "validation":
            return FakeModel(), {"optimizer": FakeOptimizer(), "validation_data": dev}
        return FakeModel(optimizer=FakeOptimizer(0.1))  # the model alone: no fit kwargs

    result = tune.GridSearch({"kind": ["no model", "validation", "model only"]}, build, train=train, dev=dev).run()
    errors = {t.params["kind"]: t.error for t in result.trials}
    assert errors["no model"].startswith("TypeError: build(params) must return (model, fit_kwargs) with a model "
                                         "that has .fit and .evaluate; object has no .fit")
    assert "the Builder passes its own dev set" in errors["validation"]
    assert errors["model only"] is None


def test_a_diverging_model_is_recorded_as_diverged(data):
    train, dev = data
    result = tune.GridSearch({"learning_rate": [0.1, 1e6], "epochs": [40]}, build_fake, train=train, dev=dev).run()
    assert [t.status for t in result.trials] == ["ok", "diverged"]
    assert math.isnan(result.trials[1].metrics["dev_error"])


def test_builder_arguments_are_checked():
    with pytest.raises(TypeError, match=r"Builder\(build, train, dev\): build must be callable"):
        tune.Builder(3, ([1], [1]), ([1], [1]))
    with pytest.raises(ValueError, match=r"Builder: train has 3 examples in X but 2 labels in y"):
        tune.Builder(build_fake, ([1, 2, 3], [1, 2]), ([1], [1]))
    with pytest.raises(TypeError, match=r"Builder: dev must be an \(X, y\) pair"):
        tune.Builder(build_fake, ([1], [1]), None)
