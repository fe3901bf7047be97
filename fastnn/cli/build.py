"""The model, optimizer and fit arguments that checked settings describe
(read by ``fastnn.cli.config``), for ``train`` and each trial of ``tune``."""
import inspect

import numpy as np

from fastnn import checks

from fastnn.cli.config import KEYS, OPTIMIZERS, SCHEDULES, check_settings, get
from fastnn.cli.errors import CLIError

__all__ = ["build_optimizer", "build_model", "fit_kwargs", "prepare_targets", "model_labels",
           "effective_settings", "TrialBuilder"]


def _belongs(settings, choice_key, registry, strict):
    """The keys of ``settings`` that belong to the chosen optimizer/schedule.

    strict (train): a key of another optimizer/schedule is an error.  Not
    strict (tune): it is left out, since a search over optimizers sets
    beta1 for the sgd trials too."""
    chosen = get(settings, choice_key)
    mine = {}
    for name, value in settings.items():
        key = KEYS[name]
        if not key.of or key.of[0] not in registry:
            continue           # a general key, or one of the other registry
        if chosen in key.of:
            mine[name] = value
        elif strict:
            takes = ["learning_rate"] + [k.name for k in KEYS.values() if chosen in k.of]
            raise CLIError(f"{name} is a setting of {' and '.join(key.of)}, not of "
                           f"{choice_key} {chosen!r} (which takes {', '.join(takes)})")
    return mine


def build_optimizer(settings, strict=True):
    """The optimizer, its learning rate wrapped in the schedule."""
    cls = OPTIMIZERS[get(settings, "optimizer")]
    rate = settings.get("learning_rate")
    if rate is None:
        rate = inspect.signature(cls).parameters["learning_rate"].default
    schedule_name = get(settings, "schedule")
    schedule_args = _belongs(settings, "schedule", SCHEDULES, strict)
    try:
        rate = SCHEDULES[schedule_name](rate, **schedule_args)
        return cls(rate, **_belongs(settings, "optimizer", OPTIMIZERS, strict))
    except checks.ParameterError as exc:
        # "Constant: learning_rate must be ...": the user set learning_rate, not Constant
        raise CLIError(str(exc).split(": ", 1)[-1]) from None


def build_model(settings, n_features, n_outputs):
    """The Sequential the settings describe, for n_features inputs."""
    from fastnn.layers import BatchNorm, Dense, Dropout
    from fastnn.model import Sequential

    activation = get(settings, "activation")
    init = get(settings, "init") or ("he" if activation in ("relu", "leaky_relu") else "xavier")
    keep_prob = get(settings, "keep_prob")
    layers = []
    for units in get(settings, "layers"):
        layers.append(Dense(units, activation, init=init))
        if get(settings, "batchnorm"):
            layers.append(BatchNorm())
        if keep_prob != 1.0:
            layers.append(Dropout(keep_prob))
    output = "softmax" if get(settings, "task") == "classification" else "linear"
    layers.append(Dense(n_outputs, output, init="xavier"))
    return Sequential(layers, input_dim=n_features, dtype=get(settings, "dtype"),
                      seed=get(settings, "seed"))


def fit_kwargs(settings, has_dev, verbose, strict=True):
    """The keyword arguments of ``model.fit`` (without the data)."""
    from fastnn.callbacks import EarlyStopping

    callbacks = []
    patience = get(settings, "patience")
    if patience is not None:
        if not has_dev:
            raise CLIError("patience (early stopping) watches the dev loss: it needs a dev set "
                           "(dev_fraction > 0)")
        callbacks.append(EarlyStopping("val_loss", patience=patience, restore_best=True))
    return {"optimizer": build_optimizer(settings, strict), "epochs": get(settings, "epochs"),
            "batch_size": get(settings, "batch_size"), "l2": get(settings, "l2"),
            "callbacks": callbacks, "verbose": verbose}


def prepare_targets(y, task, where):
    """(labels in the form fit takes, width of the output layer, class names or None).

    Text labels ("malignant") are classes: their sorted unique values are the
    class names and the labels come back as indices into them, 0..k-1, as
    ``Sequential.classes_`` orders them.  Numbers are used as they are."""
    y = np.asarray(y)
    if y.dtype.kind in "US":
        if task == "regression":
            raise CLIError(f"{where}: the labels are text ({_examples(y)}); regression needs "
                           f"numbers (text labels are classes: leave out --task regression)")
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise CLIError(f"{where}: the labels hold a single class ({str(classes[0])!r}); "
                           f"classification needs at least two")
        return codes.reshape(-1).astype(np.int64), len(classes), classes
    if y.dtype.kind not in "biuf":
        raise CLIError(f"{where}: the labels must be numbers or text; got dtype {y.dtype}")
    if task == "regression":
        return y, 1 if y.ndim == 1 else int(np.prod(y.shape[1:])), None
    if y.ndim == 2 and y.shape[1] > 1:
        return y, y.shape[1], None             # one-hot rows
    y = y.reshape(-1)
    if not np.all(np.isfinite(y)) or np.any(y != np.floor(y)) or np.any(y < 0):
        raise CLIError(f"{where}: classification labels must be whole numbers 0, 1, ..., k-1 "
                       f"or text (class names); use --task regression for real-valued targets")
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise CLIError(f"{where}: the labels hold a single class ({int(y.max())}); "
                       f"classification needs at least two")
    return y.astype(np.int64), n_classes, None


def _examples(y, limit=3):
    values = list(dict.fromkeys(y[:1000].tolist()))[:limit]
    return ", ".join(repr(v) for v in values) + (", ..." if len(values) == limit else "")


def model_labels(y, classes):
    """The labels to hand a model (fit, validation data, evaluate): the class
    names when there are some (the model keeps them as ``classes_`` and
    ``predict`` answers in them), else the numbers as they are."""
    return y if classes is None else np.asarray(classes)[y]


def effective_settings(settings):
    """``settings`` without the keys that do not belong to the chosen optimizer
    or schedule (a search over optimizers sets beta1 for its sgd trials too):
    what ``train --config`` takes."""
    keep = {name: value for name, value in settings.items()
            if not KEYS[name].of or KEYS[name].of[0] not in (*OPTIMIZERS, *SCHEDULES)}
    keep.update(_belongs(settings, "optimizer", OPTIMIZERS, strict=False))
    keep.update(_belongs(settings, "schedule", SCHEDULES, strict=False))
    return {name: settings[name] for name in settings if name in keep}


class TrialBuilder:
    """The model of one tune trial: the fixed settings overridden by the
    trial's params (a ``tune.Builder`` build function; picklable, so it
    travels to worker processes).

    normalizer : fitted once on the training data by the coordinator, and
    attached to the trials whose settings ask for normalization."""

    def __init__(self, fixed, n_features, n_outputs, normalizer=None):
        self.fixed, self.n_features, self.n_outputs = fixed, n_features, n_outputs
        self.normalizer = normalizer

    def __call__(self, params):
        settings = {**self.fixed, **check_settings(params, "")}
        model = build_model(settings, self.n_features, self.n_outputs)
        if get(settings, "normalize"):
            model.normalizer = self.normalizer
        return model, fit_kwargs(settings, has_dev=True, verbose=0, strict=False)
