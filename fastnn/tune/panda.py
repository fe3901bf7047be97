"""panda: babysit one model, epoch by epoch.

When there is compute for one model only, watch it train: one epoch at a
time, live metrics, the learning rate (or another optimizer value) changed
between epochs, a checkpoint after each epoch, and a resume from it after a
crash or a bad change.

Design: Panda drives the model through a small protocol, so any model that
follows it can be babysat:

- ``model.fit(X, y, epochs=1, validation_data=(X_dev, y_dev), **fit_kwargs)``
  trains one more epoch, continuing where the previous call stopped
  (weights, optimizer state, shuffling), and returns its history: a dict of
  per-epoch lists (``"loss"``, ``"val_loss"``, ``"val_accuracy"``, ...) or an
  object with that dict in ``.history``;
- the optimizer, ``fit_kwargs["optimizer"]`` or else ``model.optimizer``, has a
  settable ``learning_rate``;
- ``model.save(path)`` writes the model with its optimizer state, and the
  ``load(path)`` function given to ``Panda.resume`` reads it back.
"""
import json
import math
import os
import time

from fastnn import checks
from fastnn.tune.objectives import check_pair, history_dict

__all__ = ["Panda"]


class Panda:
    """Train ``model`` epoch by epoch on ``train=(X, y)``, scored on ``dev``.

    fit_kwargs: passed to every ``fit`` call (optimizer, batch_size, ...);
        its ``"epochs"``, if any, is the planned total that ``train()`` runs to.
    checkpoint: path to save the model (and Panda's state next to it, in
        ``<path>.panda.json``) every ``checkpoint_every`` epochs.
    verbose: print each epoch's metrics as it ends.

    >>> panda = Panda(model, (X, y), (X_dev, y_dev), fit_kwargs={"optimizer": opt}, checkpoint="m.fnn")
    >>> for record in panda.epochs(10):
    ...     if record["val_loss"] > panda.history[-2]["val_loss"]:   # getting worse
    ...         panda.learning_rate /= 3
    >>> panda = Panda.resume("m.fnn", fastnn.load_model, (X, y), (X_dev, y_dev))   # later
    """

    def __init__(self, model, train, dev=None, *, fit_kwargs=None, checkpoint=None, checkpoint_every=1,
                 verbose=True):
        if not callable(getattr(model, "fit", None)):
            raise TypeError(f"Panda: the model must have a .fit method; {type(model).__name__} has none")
        self.model = model
        self.train_data = check_pair("Panda", "train", train)
        self.dev_data = None if dev is None else check_pair("Panda", "dev", dev)
        self.fit_kwargs = dict(fit_kwargs or {})
        if "validation_data" in self.fit_kwargs:
            raise ValueError("Panda: give the dev set as dev=(X_dev, y_dev), not in fit_kwargs")
        self.planned_epochs = self.fit_kwargs.pop("epochs", None)
        if checkpoint is not None and not callable(getattr(model, "save", None)):
            raise TypeError(f"Panda: checkpoint= needs a model with .save(path); {type(model).__name__} has none")
        self.checkpoint_path = None if checkpoint is None else os.fspath(checkpoint)
        self.checkpoint_every = checks.check_int(checkpoint_every, "checkpoint_every", "Panda", 1)
        self.verbose = verbose
        self.epoch = 0
        self.history = []  # one dict per epoch: epoch, the fit metrics, learning_rate, seconds

    @classmethod
    def from_builder(cls, builder, params, **kwargs):
        """Babysit the model a ``tune.Builder`` makes for ``params`` (e.g. ``result.best.params``)."""
        model, fit_kwargs = builder.build_model(params)
        return cls(model, builder.train, builder.dev, fit_kwargs=fit_kwargs, **kwargs)

    # -- the optimizer's values ---------------------------------------------------
    @property
    def optimizer(self):
        """The optimizer being used: ``fit_kwargs["optimizer"]``, else ``model.optimizer``."""
        for candidate in (self.fit_kwargs.get("optimizer"), getattr(self.model, "optimizer", None)):
            if hasattr(candidate, "learning_rate"):
                return candidate
        raise AttributeError("Panda: no optimizer with a learning_rate: pass one as "
                             "fit_kwargs={'optimizer': ...}, or use a model with .optimizer")

    @property
    def learning_rate(self):
        return self.optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self.set_optimizer(learning_rate=value)

    def set_optimizer(self, **values):
        """Change optimizer values before the next epoch: ``set_optimizer(learning_rate=1e-4, beta1=0.95)``."""
        optimizer = self.optimizer
        for name, value in values.items():
            if not hasattr(optimizer, name):
                raise AttributeError(f"Panda.set_optimizer: {type(optimizer).__name__} has no {name!r}")
            if name == "learning_rate" and not (isinstance(value, (int, float)) and math.isfinite(value)
                                                and value > 0):
                raise ValueError(f"Panda: learning_rate must be a finite number > 0; got {value!r}")
            setattr(optimizer, name, value)

    # -- training -------------------------------------------------------------------
    def step(self):
        """Train one epoch; return its record (and append it to ``history``)."""
        start = time.perf_counter()
        kwargs = dict(self.fit_kwargs)
        if self.dev_data is not None:
            kwargs["validation_data"] = self.dev_data
        history = history_dict(self.model.fit(*self.train_data, epochs=1, **kwargs))
        self.epoch += 1
        record = {"epoch": self.epoch}
        record.update({name: values[-1] for name, values in history.items() if values})
        record["learning_rate"] = self._current_learning_rate()
        record["seconds"] = time.perf_counter() - start
        self.history.append(record)
        if self.verbose:
            print(self._line(record), flush=True)
        # A diverged state is not worth resuming from: keep the last good checkpoint.
        if self.checkpoint_path and self.epoch % self.checkpoint_every == 0 and not _diverged(record):
            self.save(self.checkpoint_path)
        return record

    def epochs(self, n):
        """Train ``n`` epochs, yielding each record: change values between them."""
        for _ in range(n):
            yield self.step()

    def train(self, epochs=None):
        """Train ``epochs`` epochs (default: up to the planned total); stops early if
        the run diverges.  Returns the records of the epochs run."""
        if epochs is None:
            if self.planned_epochs is None:
                raise ValueError("Panda.train: give epochs=, or an 'epochs' total in fit_kwargs")
            epochs = max(0, self.planned_epochs - self.epoch)
        records = []
        for record in self.epochs(epochs):
            records.append(record)
            if _diverged(record):
                if self.verbose:
                    print(f"diverged at epoch {self.epoch}: lower the learning rate"
                          + (f" and resume from {self.checkpoint_path}" if self.checkpoint_path else ""),
                          flush=True)
                break
        return records

    @property
    def diverged(self):
        """Whether the last epoch has a NaN or Inf metric."""
        return bool(self.history) and _diverged(self.history[-1])

    def _current_learning_rate(self):
        try:
            return float(self.learning_rate)
        except (AttributeError, TypeError, ValueError):
            return None

    def _line(self, record):
        total = f"/{self.planned_epochs}" if self.planned_epochs else ""
        parts = [f"epoch {record['epoch']}{total}"]
        parts += [f"{k} {v:.4g}" for k, v in record.items()
                  if k not in ("epoch", "seconds") and isinstance(v, float)]
        return "  ".join(parts) + f"  ({record['seconds']:.1f}s)"

    # -- checkpoint and resume -------------------------------------------------------
    def save(self, path):
        """Save the model to ``path`` and Panda's state to ``<path>.panda.json``."""
        path = os.fspath(path)
        self.model.save(path)
        state = {"epoch": self.epoch, "history": self.history, "planned_epochs": self.planned_epochs,
                 "learning_rate": self._current_learning_rate()}
        # Written whole or not at all: a kill mid-write leaves the previous state.
        tmp = f"{path}.panda.json.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(state, f)
        os.replace(tmp, f"{path}.panda.json")

    @classmethod
    def resume(cls, path, load, train, dev=None, **kwargs):
        """A Panda continuing from the checkpoint at ``path``; ``load(path)`` reads the model.

        The model file carries the optimizer state, so leave the optimizer out
        of ``fit_kwargs`` unless replacing it; the learning rate in effect at
        the checkpoint is restored.
        """
        path = os.fspath(path)
        try:
            with open(f"{path}.panda.json", encoding="utf-8") as f:
                state = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"Panda.resume: no Panda state {path}.panda.json next to the "
                                    f"model; was it saved by Panda.save?") from None
        panda = cls(load(path), train, dev, **kwargs)
        panda.epoch, panda.history = state["epoch"], state["history"]
        if panda.planned_epochs is None:
            panda.planned_epochs = state.get("planned_epochs")
        if state.get("learning_rate") is not None:
            try:
                panda.learning_rate = state["learning_rate"]
            except AttributeError:
                pass  # no optimizer reachable yet: the model file's own state applies
        return panda


def _diverged(record):
    return any(isinstance(v, float) and not math.isfinite(v) for v in record.values())
