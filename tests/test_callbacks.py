"""Callbacks: early stopping, learning-rate schedules, checkpoints, NaN guard."""
import numpy as np
import pytest

import fastnn as fn


def data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((200, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0).astype(int)
    return X[:150], y[:150], X[150:], y[150:]


def make():
    return fn.Sequential([fn.Dense(32, "relu"), fn.Dense(3, "softmax")], input_dim=4, seed=0)


def _fit_with_early_stopping(patience, epochs):
    """Adam at a large rate overfits quickly, so val_loss turns up; the model
    ends with the best epoch's weights whether or not the patience ran out."""
    X, y, Xd, yd = data()
    model = make()
    stop = fn.EarlyStopping(monitor="val_loss", patience=patience, restore_best=True)
    h = model.fit(X, y, optimizer=fn.Adam(0.05), epochs=epochs, batch_size=16, verbose=0,
                  validation_data=(Xd, yd), callbacks=[stop])
    assert model.evaluate(Xd, yd)["loss"] == pytest.approx(min(h["val_loss"]), rel=1e-6)
    return model, stop, h


def test_early_stopping_restores_the_best_epoch():
    model, stop, h = _fit_with_early_stopping(patience=2, epochs=200)
    assert stop.stopped_epoch is not None and model.epoch < 200
    assert stop.stopped_epoch - stop.best_epoch == 2       # patience epochs, as Keras counts
    assert "early stopping" in h.stop_reason


def test_early_stopping_restores_the_best_epoch_when_the_epochs_run_out_first():
    model, stop, h = _fit_with_early_stopping(patience=1000, epochs=40)
    assert stop.stopped_epoch is None and model.epoch == 40
    assert stop.best_epoch < 39                  # val_loss turned up before the end
    assert h.stop_reason is None


def test_early_stopping_needs_the_metric():
    X, y, _, _ = data()
    model = make()
    with pytest.raises(ValueError, match="val_loss.*not logged"):
        model.fit(X, y, epochs=2, verbose=0, callbacks=[fn.EarlyStopping()])
    assert model.epoch == 0 and model.optimizer is None      # raised before any work


def test_learning_rate_scheduler_sets_the_rate_each_epoch():
    X, y, _, _ = data()
    model = make()
    h = model.fit(X, y, optimizer=fn.SGD(0.1), epochs=4, verbose=0,
                  callbacks=[fn.LearningRateScheduler(lambda e: 0.1 / (1 + e))])
    np.testing.assert_allclose(h["learning_rate"], [0.1, 0.05, 0.1 / 3, 0.025])


def test_model_checkpoint_best_only(tmp_path):
    X, y, Xd, yd = data()
    path = tmp_path / "best.fnn"
    model = make()
    h = model.fit(X, y, optimizer=fn.Adam(0.05), epochs=15, batch_size=16, verbose=0,
                  validation_data=(Xd, yd),
                  callbacks=[fn.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)])
    best = fn.load_model(path)
    assert best.evaluate(Xd, yd)["loss"] == pytest.approx(min(h["val_loss"]), rel=1e-6)


def test_custom_callback_protocol_and_stop():
    X, y, _, _ = data()
    seen = []

    class Stopper(fn.Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append((epoch, round(logs["loss"], 9)))
            if epoch == 2:
                self.model.stop_training = True

    model = make()
    model.fit(X, y, epochs=10, verbose=0, callbacks=[Stopper()])
    assert [e for e, _ in seen] == [0, 1, 2] and model.epoch == 3
