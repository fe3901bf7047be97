"""Callbacks: code that runs at fixed points of ``Sequential.fit``.

The protocol: subclass ``Callback`` and override any of

    on_train_begin(logs)            on_train_end(logs)
    on_epoch_begin(epoch, logs)     on_epoch_end(epoch, logs)
    on_batch_end(batch, logs)

``self.model`` is the model being trained; setting
``self.model.stop_training = True`` ends training after the current step.
``logs`` of an epoch hold that epoch's history entries (``loss``,
``accuracy``, ``val_loss``, ``val_accuracy``, ``learning_rate``, ...); those of
a batch hold its ``loss`` (data + regularization).
"""
import math
import warnings

import numpy as np

from fastnn import serialization

__all__ = ["Callback", "EarlyStopping", "LearningRateScheduler", "ModelCheckpoint",
           "TerminateOnNaN"]


class Callback:
    model = None

    def set_model(self, model):
        self.model = model

    def _check_fit(self, logged, func):
        """Raise now, before ``fit`` changes anything, if this callback could
        not work in that fit; ``logged`` is the set of metrics its epochs log."""

    def on_train_begin(self, logs):
        pass

    def on_train_end(self, logs):
        pass

    def on_epoch_begin(self, epoch, logs):
        pass

    def on_epoch_end(self, epoch, logs):
        pass

    def on_batch_end(self, batch, logs):
        pass


def _mode_for(monitor, mode):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; got {mode!r}")
    if mode == "auto":
        return "max" if "acc" in monitor else "min"
    return mode


class _Monitor(Callback):
    """Tracks the best value of one logged metric."""

    def __init__(self, monitor, mode, min_delta):
        if not isinstance(monitor, str):
            raise TypeError(f"monitor must be a metric name like 'val_loss'; got {monitor!r}")
        if not (isinstance(min_delta, (int, float)) and min_delta >= 0):
            raise ValueError(f"min_delta must be a number >= 0; got {min_delta!r}")
        self.monitor = monitor
        self.mode = _mode_for(monitor, mode)
        self.min_delta = float(min_delta)
        self.best = None

    def _check_fit(self, logged, func):
        if self._uses_monitor() and self.monitor not in logged:
            raise ValueError(f"{func}: {type(self).__name__} monitors {self.monitor!r}, which is "
                             f"not logged by this fit; it logs {sorted(logged)} "
                             f"(val_* metrics need validation_data)")

    def _uses_monitor(self):
        return True

    def _value(self, logs):
        if self.monitor not in logs:
            raise ValueError(f"{type(self).__name__}: metric {self.monitor!r} is not logged; "
                             f"available: {sorted(k for k in logs if k != 'epoch')} "
                             f"(val_* metrics need validation_data)")
        return logs[self.monitor]

    def _improved(self, value):
        if not math.isfinite(value):
            return False
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(_Monitor):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience``
    epochs; with ``restore_best`` the weights of the best epoch are put back."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="auto",
                 restore_best=True):
        super().__init__(monitor, mode, min_delta)
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"EarlyStopping: patience must be an integer >= 0; got {patience!r}")
        self.patience = patience
        self.restore_best = restore_best
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self._best_state = None

    def on_train_begin(self, logs):
        self.best, self.wait, self.best_epoch, self.stopped_epoch = None, 0, None, None
        self._best_state = None

    def on_epoch_end(self, epoch, logs):
        value = self._value(logs)
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best:
                self._best_state = self.model._snapshot()
            return
        self.wait += 1
        if self.wait > self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs):
        # also when the epochs ran out before the patience did: "restore the
        # best" means the weights of the best epoch seen.  Not after a
        # divergence (the model was rolled back whole to the start of an
        # epoch, counters and optimizer state included: best weights on top
        # would mix two epochs) nor after an exception.
        if logs.get("diverged") or logs.get("interrupted"):
            return
        if self.restore_best and self._best_state is not None:
            self.model._restore(self._best_state)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at the start of each epoch to
    ``schedule(epoch)`` (a fastnn.schedules object or any callable)."""

    def __init__(self, schedule):
        if not callable(schedule):
            raise TypeError(f"LearningRateScheduler: schedule must be callable; got {schedule!r}")
        self.schedule = schedule

    def on_epoch_begin(self, epoch, logs):
        rate = float(self.schedule(epoch))
        if not (math.isfinite(rate) and rate > 0):
            raise ValueError(f"LearningRateScheduler: schedule({epoch}) gave {rate!r}; "
                             f"a learning rate must be a finite number > 0")
        self.model.optimizer.learning_rate = rate


class ModelCheckpoint(_Monitor):
    """Save the model to ``path`` after each epoch (only when ``monitor``
    improved, with ``save_best_only``).  Writes go to a temporary file that
    is renamed over ``path``, so a crash never leaves a half-written file."""

    def __init__(self, path, monitor="val_loss", save_best_only=False, mode="auto"):
        super().__init__(monitor, mode, 0.0)
        self.path = path
        self.save_best_only = save_best_only

    def _uses_monitor(self):
        return self.save_best_only

    def _check_fit(self, logged, func):
        super()._check_fit(logged, func)
        serialization.check_writable(self.path, f"{func}: ModelCheckpoint")

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        self.model.save(self.path)


class TerminateOnNaN(Callback):
    """Stop as soon as a mini-batch cost is NaN or Inf (or, at the end of an
    epoch, the weights, running statistics or optimizer state are), and put
    the model back as it was at the start of that epoch: weights, running
    statistics, optimizer state, epoch and step counters, shuffling.  The
    epoch is not counted, so after lowering the learning rate the next
    ``fit`` re-runs it.

    ``fit`` adds one when the callbacks given do not include it: a diverging
    run never leaves NaN weights behind.
    """

    def __init__(self):
        self.message = None
        self._state = None

    def on_train_begin(self, logs):
        self.message = None

    def on_epoch_begin(self, epoch, logs):
        self._state = self.model._snapshot(training_state=True)

    def on_batch_end(self, batch, logs):
        loss = logs.get("loss")
        if loss is not None and not math.isfinite(loss):
            self.diverged(logs.get("epoch"), batch, f"the cost became {loss}")

    def diverged(self, epoch, batch, what):
        """Roll the model back to the start of ``epoch`` and stop training."""
        self.model._restore(self._state)
        self.model.stop_training = True
        self.message = (f"training diverged: {what} at epoch {epoch}, batch {batch}; stopped "
                        f"and restored the model (weights, optimizer state, counters) to the "
                        f"start of epoch {epoch}.  Try a smaller learning rate.")
        warnings.warn(self.message, RuntimeWarning, stacklevel=3)
