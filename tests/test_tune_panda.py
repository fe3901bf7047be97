"""panda: one model babysat epoch by epoch (against the fake model's protocol)."""
import json
import math

import pytest

from fastnn import tune
from tune_helpers import FakeModel, FakeOptimizer, build_fake, load_fake, regression_data

TRAIN, DEV = regression_data(64, seed=0), regression_data(32, seed=1)


def make_panda(lr=0.05, **kwargs):
    return tune.Panda(FakeModel(), TRAIN, DEV, fit_kwargs={"optimizer": FakeOptimizer(lr), "batch_size": 16},
                      **kwargs)


def test_epochs_one_at_a_time_with_live_metrics(capsys):
    panda = make_panda()
    records = list(panda.epochs(3))
    assert [r["epoch"] for r in records] == [1, 2, 3] and panda.epoch == 3 and panda.history == records
    assert set(records[0]) == {"epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "seconds"}
    assert records[2]["val_loss"] < records[0]["val_loss"]
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[0].startswith("epoch 1  loss ") and "val_loss" in lines[0]
    assert len(panda.model.fit_calls) == 3  # one fit(epochs=1) per epoch


def test_the_learning_rate_changes_between_epochs():
    panda = make_panda(lr=0.05, verbose=False)
    for record in panda.epochs(4):
        if record["epoch"] == 2:
            panda.learning_rate /= 10
    assert panda.model.fit_calls == pytest.approx([0.05, 0.05, 0.005, 0.005])
    assert [r["learning_rate"] for r in panda.history] == pytest.approx([0.05, 0.05, 0.005, 0.005])
    panda.set_optimizer(momentum=0.9)
    assert panda.optimizer.momentum == 0.9
    with pytest.raises(AttributeError, match="FakeOptimizer has no 'beta7'"):
        panda.set_optimizer(beta7=0.9)
    with pytest.raises(ValueError, match="learning_rate must be a finite number > 0; got -1"):
        panda.learning_rate = -1


def test_checkpoint_and_resume_continue_exactly(tmp_path):
    panda = make_panda(verbose=False, checkpoint=tmp_path / "auto.json")
    panda.train(2)
    panda.learning_rate = 0.02
    panda.train(1)
    assert json.loads((tmp_path / "auto.json.panda.json").read_text())["epoch"] == 3  # after every epoch
    panda.save(tmp_path / "epoch3.json")
    panda.train(2)

    resumed = tune.Panda.resume(tmp_path / "epoch3.json", load_fake, TRAIN, DEV, fit_kwargs={"batch_size": 16},
                                verbose=False)
    assert resumed.epoch == 3 and resumed.history == panda.history[:3] and resumed.learning_rate == 0.02
    resumed.train(2)
    assert resumed.model.w == panda.model.w  # as if never interrupted
    assert [r["epoch"] for r in resumed.history] == [1, 2, 3, 4, 5]


def test_train_runs_to_the_planned_total_and_resume_finishes_it(tmp_path):
    path = tmp_path / "m.json"
    panda = tune.Panda(FakeModel(), TRAIN, DEV, fit_kwargs={"optimizer": FakeOptimizer(0.05), "epochs": 5},
                       checkpoint=path, checkpoint_every=2, verbose=False)
    panda.train(3)
    resumed = tune.Panda.resume(path, load_fake, TRAIN, DEV, verbose=False)
    assert resumed.epoch == 2 and resumed.planned_epochs == 5  # checkpoints every 2 epochs
    assert len(resumed.train()) == 3 and resumed.epoch == 5


def test_a_diverging_run_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    path = tmp_path / "m.json"
    panda = make_panda(lr=0.05, checkpoint=path)
    panda.train(2)
    panda.learning_rate = 1e6
    records = panda.train(30)
    assert len(records) < 30 and panda.diverged and not math.isfinite(records[-1]["loss"])
    assert f"diverged at epoch {panda.epoch}: lower the learning rate and resume from {path}" in capsys.readouterr().out
    resumed = tune.Panda.resume(path, load_fake, TRAIN, DEV, verbose=False)
    last_finite = max(r["epoch"] for r in panda.history if math.isfinite(r["loss"]))
    assert resumed.epoch == last_finite < panda.epoch
    assert math.isfinite(resumed.model.w) and not resumed.diverged


def test_babysit_the_best_trial_of_a_builder_search():
    builder = tune.Builder(build_fake, TRAIN, DEV)
    result = tune.RandomSearch({"learning_rate": tune.LogUniform(1e-3, 0.1), "epochs": tune.IntUniform(2, 4)},
                               builder, n_trials=4, seed=0).run()
    panda = tune.Panda.from_builder(builder, result.best.params, verbose=False)
    assert panda.planned_epochs == result.best.params["epochs"]
    assert panda.learning_rate == result.best.params["learning_rate"]
    panda.train()
    assert panda.history[-1]["val_loss"] == pytest.approx(result.best.metrics["dev_loss"])


def test_panda_arguments_are_checked(tmp_path):
    with pytest.raises(TypeError, match="Panda: the model must have a .fit method"):
        tune.Panda(object(), TRAIN)
    with pytest.raises(ValueError, match=r"give the dev set as dev=\(X_dev, y_dev\), not in fit_kwargs"):
        tune.Panda(FakeModel(), TRAIN, fit_kwargs={"validation_data": DEV})
    with pytest.raises(AttributeError, match="no optimizer with a learning_rate"):
        tune.Panda(FakeModel(), TRAIN).learning_rate
    with pytest.raises(ValueError, match="Panda.train: give epochs=, or an 'epochs' total in fit_kwargs"):
        make_panda().train()
    with pytest.raises(FileNotFoundError, match=r"no Panda state .*missing.json.panda.json"):
        tune.Panda.resume(tmp_path / "missing.json", load_fake, TRAIN)
