"""Callbacks: code that runs at fixed points of ``Sequential.fit``.

The protocol: subclass ``Callback`` and override any of

    check_fit(logged, func)         (before fit changes anything: raise if
                                     this callback cannot work in this fit)
    on_train_begin(logs)            on_train_end(logs)
    on_epoch_begin(epoch, logs)     on_epoch_end(epoch, logs)
    on_batch_end(batch, logs)

``self.model`` is the model being trained, through its public API only:
weights with ``get_weights``/``set_weights`` or ``snapshot``/``restore``;
setting ``self.model.stop_training = True`` ends training after the current
step, and ``self.model.history.stop_reason`` says why.  ``logs`` of an
epoch hold that epoch's history entries (``loss``, ``accuracy``,
``val_loss``, ``val_accuracy``, ``learning_rate``, ...); those of a batch
hold its ``loss`` (data + regularization).  ``on_train_end``'s logs say
whether training ``diverged`` (and was rolled back) or was ``interrupted``
by an exception.

Design: fit runs its callbacks through one ``CallbackList``: the user's in
their order, then the ``History`` it returns, then the progress display.
The built-in callbacks use nothing a user's own could not.
"""
import math

from fastnn import checks, serialization

__all__ = ["Callback", "CallbackList", "History", "ProgressDisplay", "EarlyStopping",
           "LearningRateScheduler", "ModelCheckpoint", "TerminateOnNaN"]


class Callback:
    model = None
    params = {}      # of the fit: "verbose", "epochs", "steps" (mini-batches an epoch)

    def set_model(self, model):
        self.model = model

    def set_params(self, params):
        self.params = params

    def check_fit(self, logged, func):
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

    def check_fit(self, logged, func):
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
    epochs; with ``restore_best`` the weights of the best epoch are put back.
    ``verbose``: say which epoch was restored (None: when fit is verbose)."""

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, mode="auto",
                 restore_best=True, verbose=None):
        super().__init__(monitor, mode, min_delta)
        patience = checks.check_int(patience, "patience", "EarlyStopping", 0)
        self.patience = patience
        self.restore_best = restore_best
        # None: say what happened when fit is verbose; 0 never; 1 always
        self.verbose = None if verbose is None else checks.check_choice(verbose, "verbose",
                                                                          "EarlyStopping", (0, 1))
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
                self._best_state = self.model.snapshot()
            return
        self.wait += 1
        # patience epochs without improvement, then stop (Keras' count)
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            history = getattr(self.model, "history", None)
            if history is not None:
                history.stop_reason = (
                    f"early stopping at epoch {epoch + 1}: {self.monitor} did not improve for "
                    f"{self.wait} epoch{'s' if self.wait > 1 else ''} (best {self.best:.6g} at epoch "
                    f"{self.best_epoch + 1})")

    def on_train_end(self, logs):
        # also when the epochs ran out before the patience did: "restore the
        # best" means the weights of the best epoch seen.  Not after a
        # divergence (the model was rolled back whole to the start of an
        # epoch, counters and optimizer state included: best weights on top
        # would mix two epochs) nor after an exception.
        if logs.get("diverged") or logs.get("interrupted"):
            return
        if self.restore_best and self._best_state is not None:
            self.model.restore(self._best_state)
            if self.verbose if self.verbose is not None else self.params.get("verbose"):
                # epochs counted from 1, as the progress display counts them
                stopped = (f"stopped at epoch {self.stopped_epoch + 1}" if self.stopped_epoch
                           is not None else "the epochs ran out")
                print(f"EarlyStopping: {stopped}; restored the weights of epoch "
                      f"{self.best_epoch + 1}, the best ({self.monitor} {self.best:.6g})")


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

    def check_fit(self, logged, func):
        super().check_fit(logged, func)
        serialization.check_writable(self.path, f"{func}: ModelCheckpoint")

    def on_epoch_end(self, epoch, logs):
        if self.save_best_only:
            value = self._value(logs)
            if not self._improved(value):
                return
            self.best = value
        self.model.save(self.path)


class TerminateOnNaN(Callback):
    """Kept for code written against Keras' callback of this name: ``fit``
    itself stops as soon as a mini-batch cost is NaN or Inf (or, at the end
    of an epoch, the weights, running statistics or optimizer state are),
    puts the model back as it was at the start of that epoch (weights,
    running statistics, optimizer state, epoch and step counters,
    shuffling) and says so in ``history.stop_reason``, with or without it.
    The epoch is not counted, so after lowering the learning rate the next
    ``fit`` re-runs it."""


class History(Callback):
    """What ``fit`` returns: ``history["loss"]`` and the like, one entry per
    epoch (``loss`` is the cost J = data loss + regularization; ``data_loss``
    and ``reg_loss`` are its parts; ``accuracy`` is the running training
    accuracy of the epoch; ``val_loss``/``val_accuracy`` with validation
    data; ``learning_rate`` and ``time`` in seconds), plus ``batch_loss``
    and ``grad_norms`` when asked for and ``stop_reason`` when training
    stopped early."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.batch_loss = []
        self.grad_norms = {}
        self.stop_reason = None

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            if key != "epoch":
                self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


class ProgressDisplay(Callback):
    """fit's ``verbose``: 1 a progress bar over the epochs (tqdm), 2 one line
    per epoch."""

    SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")

    def __init__(self, verbose, epochs):
        self.verbose, self.epochs = verbose, epochs
        self._bar = None

    def on_train_begin(self, logs):
        if self.verbose == 1:
            from tqdm import tqdm
            self._bar = tqdm(total=self.epochs, unit="epoch", desc="fit", leave=True)

    def on_epoch_end(self, epoch, logs):
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()
                                   if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
        elif self.verbose == 2:
            print(f"epoch {epoch + 1}: " + ", ".join(
                f"{k}={logs[k]:.4g}" for k in self.SHOWN if k in logs))

    def on_train_end(self, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class CallbackList:
    """The callbacks of one fit, called in order: the user's, then the
    History, then the progress display (which shows what the others left;
    at the end of training it closes first)."""

    def __init__(self, callbacks, history=None, progress=None):
        self.callbacks = list(callbacks) + [cb for cb in (history, progress) if cb is not None]
        # at the end the progress bar goes first: what the others say then
        # (EarlyStopping's restore) comes on lines of its own, below it
        self._ending = ([progress] if progress is not None else []) + [
            cb for cb in self.callbacks if cb is not progress]

    def set_model(self, model):
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        for cb in self.callbacks:
            cb.set_params(params)

    def on_train_begin(self, logs):
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs):
        for cb in self._ending:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch, logs):
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch, logs):
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_batch_end(self, batch, logs):
        for cb in self.callbacks:
            cb.on_batch_end(batch, logs)
