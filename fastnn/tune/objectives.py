"""What a trial runs: the user's objective, and how its outcome becomes a Trial.

An objective is either

- a function ``params -> dict of metrics`` (``{"dev_error": 0.08, "train_error": 0.02}``;
  optionally ``"epochs"`` and a per-epoch ``"history"``), or
- a ``Builder``: a function ``params -> (model, fit_kwargs)`` whose model is
  trained on the given train set and scored on the dev set.

``evaluate`` runs one trial wherever it is sent (in the coordinating process,
a local worker process, a Dask worker) and never raises for the objective's
errors: a failure is an outcome, recorded with its text, so one bad
configuration cannot stop a search.  That includes an objective that ends
its own run with ``sys.exit`` or by raising KeyboardInterrupt: where it runs,
that would end the search (in this process) or a worker (taking the trials
running beside it).  The user's Ctrl-C is also a KeyboardInterrupt; telling
the two apart is the runner's business (``runners.InProcess``).
"""
import math
import numbers
import os
import tempfile
import time
import traceback
from collections.abc import Mapping

from fastnn.tune.results import Trial

__all__ = ["Builder", "evaluate", "history_dict", "check_pair"]

# Keys of an objective's dict that describe the run rather than score it.
_RUN_KEYS = ("epochs", "history")


def evaluate(objective, trial_id, params, metric, budget=None):
    """Run ``objective(params)`` and return its Trial: ok, failed or diverged.

    ``budget`` (successive halving's rungs): None, or a dict ``{"rung": k,
    "epochs": total epochs at the end of the rung, "start": epochs already
    trained, "checkpoint": the model file's bytes at "start" or None}``.  A
    Builder then continues from the checkpoint (``Builder.train_rung``) and
    the Trial carries the new one; a function is called as
    ``objective(params, epochs)`` and must train that many epochs.
    """
    start = time.perf_counter()
    checkpoint = None
    try:
        if budget is None:
            out = objective(dict(params))
        elif isinstance(objective, Builder):
            out, checkpoint = objective.train_rung(params, budget["start"], budget["epochs"],
                                                   budget["checkpoint"])
        else:
            out = objective(dict(params), budget["epochs"])
        metrics, epochs, history = _outcome(out, metric)
        if budget is not None:
            epochs = _check_budget(epochs, budget["epochs"])
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        return Trial(id=trial_id, params=dict(params), status="failed",
                     seconds=time.perf_counter() - start,
                     error=_reason(exc), traceback=traceback.format_exc(),
                     rung=None if budget is None else budget["rung"])
    # A NaN or Inf anywhere means the run blew up, whatever the search metric says.
    diverged = not all(math.isfinite(v) for v in metrics.values())
    trial = Trial(id=trial_id, params=dict(params), status="diverged" if diverged else "ok",
                  metrics=metrics, epochs=epochs, history=history,
                  seconds=time.perf_counter() - start)
    if budget is not None:
        trial.rung, trial.checkpoint = budget["rung"], checkpoint
        trial.epochs_trained = epochs - budget["start"]
    return trial


def _check_budget(epochs, asked):
    """The epochs a budgeted objective trained: the ``asked`` ones, or an error."""
    if epochs is not None and epochs != asked:
        raise ValueError(f"the objective was asked for {asked} epochs (objective(params, epochs={asked})) "
                         f"but reported epochs = {epochs}: successive halving compares trials at equal "
                         f"budgets, so the objective must train the epochs it is given")
    return asked


def _reason(exc):
    """The text of a failed trial's error."""
    if isinstance(exc, SystemExit):
        return f"the objective called sys.exit({'' if exc.code is None else repr(exc.code)})"
    if isinstance(exc, KeyboardInterrupt):
        return "the objective raised KeyboardInterrupt" + (f": {exc}" if str(exc) else "")
    return f"{type(exc).__name__}: {exc}"


def _outcome(out, metric):
    """Split an objective's return value into (metrics, epochs, history), checking it."""
    if isinstance(out, numbers.Real) and not isinstance(out, bool):
        out = {metric: out}
    if not isinstance(out, Mapping):
        raise TypeError(f"the objective must return a dict of metrics such as {{{metric!r}: 0.1}}; "
                        f"it returned {type(out).__name__}")
    metrics = {}
    for key, value in out.items():
        if key in _RUN_KEYS:
            continue
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"the objective returned metric {key!r} = {value!r}; metrics must be numbers")
        metrics[str(key)] = float(value)
    if metric not in metrics:
        raise ValueError(f"the objective returned no {metric!r} metric (it returned "
                         f"{sorted(metrics) or 'none'}); return it, or name another with metric=")
    epochs = out.get("epochs")
    if epochs is not None:
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
            raise TypeError(f"the objective returned epochs = {epochs!r}; it must be an integer")
        epochs = int(epochs)
    history = history_dict(out["history"]) if out.get("history") is not None else None
    return metrics, epochs, history


def history_dict(history):
    """Per-epoch lists ``{"loss": [...], "val_loss": [...], ...}`` from what ``fit`` returned.

    Accepts a dict of lists or an object with such a dict in ``.history``
    (the Keras convention); entries that are not lists of numbers are dropped
    so the result can be stored as JSON.
    """
    if history is None:
        return {}
    if not isinstance(history, Mapping):
        history = getattr(history, "history", None)
        if not isinstance(history, Mapping):
            raise TypeError("model.fit must return its history: a dict of per-epoch lists, "
                            "or an object with such a dict in .history")
    out = {}
    for key, values in history.items():
        try:
            out[str(key)] = [float(v) for v in values]
        except (TypeError, ValueError):
            continue
    return out


class Builder:
    """An objective that builds a model from the params and trains it.

    ``build(params)`` returns ``(model, fit_kwargs)`` (or just the model).  A
    trial calls ``model.fit(X, y, validation_data=(X_dev, y_dev), **fit_kwargs)``,
    then ``model.evaluate`` on both sets, and reports ``train_<m>`` and
    ``dev_<m>`` for every metric ``<m>`` that evaluate returns, plus
    ``train_error``/``dev_error`` = 1 - accuracy, the epochs run and the
    per-epoch history.

    ``train`` and ``dev`` are ``(X, y)`` pairs.  The Builder, data included,
    is sent once to each worker process, not once per trial.

    Successive halving and Hyperband train a Builder trial rung by rung
    (``train_rung``): the rung's budget replaces fit_kwargs' ``epochs``, and
    a promoted trial continues from its checkpoint, written with
    ``model.save(path)`` and read with ``load(path)`` (default:
    ``fastnn.load_model``, which keeps the optimizer's state, the counters
    and the shuffling RNG: continuing equals training straight through).
    """

    def __init__(self, build, train, dev, load=None):
        if not callable(build):
            raise TypeError(f"Builder(build, train, dev): build must be callable; got {build!r}")
        if load is not None and not callable(load):
            raise TypeError(f"Builder(build, train, dev, load): load must be callable (path -> model); "
                            f"got {load!r}")
        self.build = build
        self.train = check_pair("Builder", "train", train)
        self.dev = check_pair("Builder", "dev", dev)
        self.load = load

    def build_model(self, params):
        """``(model, fit_kwargs)`` for ``params``, checked against the model protocol."""
        out = self.build(dict(params))
        if isinstance(out, tuple) and len(out) == 2 and isinstance(out[1], Mapping):
            model, fit_kwargs = out[0], dict(out[1])
        else:
            model, fit_kwargs = out, {}
        for method in ("fit", "evaluate"):
            if not callable(getattr(model, method, None)):
                raise TypeError(f"build(params) must return (model, fit_kwargs) with a model that "
                                f"has .fit and .evaluate; {type(model).__name__} has no .{method}")
        if "validation_data" in fit_kwargs:
            raise ValueError("build(params) returned fit_kwargs with validation_data: the Builder "
                             "passes its own dev set; leave it out")
        return model, fit_kwargs

    def __call__(self, params):
        return self._fit_and_score(*self.build_model(params))

    def train_rung(self, params, start, epochs, checkpoint):
        """Train ``params``' model to ``epochs`` epochs in all, continuing
        from ``checkpoint`` (the model file's bytes after ``start`` epochs;
        None when ``start`` is 0).  Returns ``(outcome, the new checkpoint's bytes)``."""
        model, fit_kwargs = self.build_model(params)
        if start:
            if checkpoint is None:
                raise RuntimeError(f"no checkpoint to continue from after {start} epochs")
            model = self._load(checkpoint)
            fit_kwargs.pop("optimizer", None)  # the checkpoint's, with its state
        fit_kwargs["epochs"] = epochs - start
        out = self._fit_and_score(model, fit_kwargs)
        if out["epochs"] != epochs - start:
            raise RuntimeError(f"fit stopped after {out['epochs']} of the {epochs - start} epochs it was "
                               f"given (from epoch {start} to {epochs}): successive halving needs every "
                               f"epoch trained; leave EarlyStopping out of fit_kwargs (a diverging fit "
                               f"also stops early)")
        out["epochs"] = epochs
        return out, self._save(model)

    def _load(self, checkpoint):
        load = self.load
        if load is None:
            from fastnn import load_model as load
        with tempfile.TemporaryDirectory(prefix="fastnn-tune-") as tmp:
            path = os.path.join(tmp, "checkpoint.fastnn")
            with open(path, "wb") as f:
                f.write(checkpoint)
            return load(path)

    def _save(self, model):
        if not callable(getattr(model, "save", None)):
            raise TypeError(f"successive halving continues a Builder trial from a checkpoint: the model "
                            f"needs .save(path) (and the Builder a load(path) function); "
                            f"{type(model).__name__} has no .save")
        with tempfile.TemporaryDirectory(prefix="fastnn-tune-") as tmp:
            path = os.path.join(tmp, "checkpoint.fastnn")
            model.save(path)
            with open(path, "rb") as f:
                return f.read()

    def _fit_and_score(self, model, fit_kwargs):
        history = history_dict(model.fit(*self.train, validation_data=self.dev, **fit_kwargs))
        out = {}
        for split, (X, y) in (("train", self.train), ("dev", self.dev)):
            scores = model.evaluate(X, y)
            if not isinstance(scores, Mapping):
                raise TypeError(f"model.evaluate must return a dict of metrics; got {type(scores).__name__}")
            out.update({f"{split}_{name}": value for name, value in scores.items()})
            if "accuracy" in scores:
                out[f"{split}_error"] = 1.0 - scores["accuracy"]
        per_epoch = history.get("loss") or next(iter(history.values()), None)
        out["epochs"] = len(per_epoch) if per_epoch is not None else fit_kwargs.get("epochs")
        out["history"] = history
        return out


def check_pair(func, name, data):
    """``data`` as an ``(X, y)`` tuple of equal lengths, or a clear error."""
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"{func}: {name} must be an (X, y) pair; got {type(data).__name__}")
    X, y = data
    if len(X) != len(y):
        raise ValueError(f"{func}: {name} has {len(X)} examples in X but {len(y)} labels in y")
    return (X, y)
