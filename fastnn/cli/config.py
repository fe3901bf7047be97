"""Training hyperparameters: one table for the flags of ``train``, the TOML
files of ``train --config`` and ``tune``, and the model they build.

Design: every hyperparameter is a ``Key`` (name, value type, default, help,
and for optimizer- or schedule-specific ones which of them it belongs to).
The flags are generated from the table and every value, from a flag or a
TOML file, goes through the same ``Key.check``, so the two sources can never
disagree about names or types.  A configuration is a plain dict holding
only the keys the user set; defaults are applied when building, so
"set by the user" stays visible (a ``beta1`` given with ``optimizer = "sgd"``
is a mistake worth reporting, a default is not).

Range checks (learning_rate > 0, keep_prob in (0, 1], ...) are the
library's: its messages already name the argument and the valid range.
"""
import argparse
import difflib
import inspect
import numbers
import os
import sys
from dataclasses import dataclass

import numpy as np

from fastnn import optim, schedules
from fastnn.cli.errors import CLIError

__all__ = ["KEYS", "Key", "get", "add_flags", "flag_settings", "load_toml", "read_toml",
           "check_settings", "check_value", "unknown_key", "build_model", "fit_kwargs",
           "prepare_targets", "TrialBuilder", "AnyValue", "Text", "IntValue", "FloatValue",
           "BoolValue", "OneOf", "IntList"]


# ---------------------------------------------------------------- value types

class AnyValue:
    """How values of one kind are read from text (flags) and checked: ``check``
    returns the canonical value or raises TypeError (the caller names the key)."""

    expected = "a value"
    metavar = None

    def parse(self, text):
        return text

    def check(self, value):
        return value


class Text(AnyValue):
    expected = "text"

    def check(self, value):
        if not isinstance(value, str):
            raise TypeError
        return value


class IntValue(AnyValue):
    expected = "an integer"
    metavar = "N"

    def parse(self, text):
        try:
            return int(text)
        except ValueError:
            raise TypeError from None

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError
        return int(value)


class FloatValue(AnyValue):
    expected = "a number"
    metavar = "X"

    def parse(self, text):
        try:
            return float(text)
        except ValueError:
            raise TypeError from None

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError
        return float(value)


class BoolValue(AnyValue):
    expected = "true or false"

    def check(self, value):
        if not isinstance(value, bool):
            raise TypeError
        return value


class OneOf(AnyValue):
    def __init__(self, *options):
        self.options = options
        self.expected = "one of " + ", ".join(options)
        self.metavar = "{" + ",".join(options) + "}"

    def check(self, value):
        if not isinstance(value, str) or value not in self.options:
            raise TypeError
        return value


class IntList(AnyValue):
    """Integers: a TOML list ``[256, 128]``, one integer, or text "256,128"
    ("" for none)."""

    expected = "a list of integers such as [256, 128] (or the text \"256,128\")"
    metavar = "N,N,..."

    def check(self, value):
        if isinstance(value, str):
            parts = [p.strip() for p in value.split(",") if p.strip()]
            try:
                return [int(p) for p in parts]
            except ValueError:
                raise TypeError from None
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            return [int(value)]
        if isinstance(value, (list, tuple)):
            return [IntValue().check(v) for v in value]
        raise TypeError


# ---------------------------------------------------------------- the table

@dataclass(frozen=True)
class Key:
    name: str
    type: AnyValue
    default: object
    help: str
    # the optimizers or schedules this key belongs to (empty: every model)
    of: tuple = ()
    # False for settings fixed before a search starts (the data split, the task)
    searchable: bool = True

    @property
    def flag(self):
        return "--" + self.name.replace("_", "-")

    def check(self, value, where):
        """The value in its canonical form, or a CLIError naming the key."""
        return check_value(self.type, self.name, value, where)


def check_value(kind, name, value, where):
    """``kind.check(value)``, or a CLIError saying what ``name`` must be."""
    try:
        return kind.check(value)
    except TypeError:
        raise CLIError(f"{where}{name} must be {kind.expected}; got {_show(value)}") from None


def _show(value):
    kind = {bool: "boolean", str: "text", int: "integer", float: "number", list: "list",
            dict: "table"}.get(type(value), type(value).__name__)
    return f"{value!r} ({kind})"


OPTIMIZERS = {"sgd": optim.SGD, "momentum": optim.Momentum, "rmsprop": optim.RMSprop,
              "adam": optim.Adam}
SCHEDULES = {"constant": schedules.Constant, "inverse_time": schedules.InverseTimeDecay,
             "exponential": schedules.ExponentialDecay, "inverse_sqrt": schedules.InverseSqrtDecay,
             "step": schedules.StepDecay}
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "linear")
INITS = ("he", "he_uniform", "xavier", "xavier_uniform", "glorot", "glorot_uniform",
         "random_normal")

KEYS = {key.name: key for key in [
    # the network
    Key("layers", IntList(), [128], "units of each hidden layer, e.g. 256,128 (\"\" for none: "
        "softmax/linear regression)"),
    Key("activation", OneOf(*ACTIVATIONS), "relu", "activation of the hidden layers"),
    Key("init", OneOf(*INITS), None, "initializer of the hidden layers' W (default: he for "
        "relu/leaky_relu, xavier otherwise; the output layer uses xavier)"),
    Key("batchnorm", BoolValue(), False, "batch normalization after each hidden layer"),
    Key("keep_prob", FloatValue(), 1.0, "dropout after each hidden layer when < 1: the "
        "probability of keeping a unit"),
    Key("task", OneOf("classification", "regression"), "classification",
        "classification (softmax output, labels 0..k-1) or regression (linear output, MSE)",
        searchable=False),
    Key("dtype", OneOf("float32", "float64"), "float32", "floating-point type of the model"),
    Key("normalize", BoolValue(), False, "attach a fastnn.Normalizer fitted on the training "
        "data, so the saved model takes raw inputs"),
    # the optimizer
    Key("optimizer", OneOf(*OPTIMIZERS), "adam", "the update rule"),
    Key("learning_rate", FloatValue(), None, "initial learning rate alpha0 (default: the "
        "optimizer's own, 0.01 for sgd/momentum, 0.001 for rmsprop/adam)"),
    Key("beta", FloatValue(), None, "averaging coefficient of momentum and rmsprop "
        "(default 0.9)", of=("momentum", "rmsprop")),
    Key("beta1", FloatValue(), None, "Adam's first-moment coefficient (default 0.9)",
        of=("adam",)),
    Key("beta2", FloatValue(), None, "Adam's second-moment coefficient (default 0.999)",
        of=("adam",)),
    Key("eps", FloatValue(), None, "rmsprop/adam's safety term in the division (default 1e-8)",
        of=("rmsprop", "adam")),
    Key("nesterov", BoolValue(), None, "Nesterov momentum (default: off)", of=("momentum",)),
    Key("weight_decay", FloatValue(), None, "AdamW's decoupled weight decay (default 0)",
        of=("adam",)),
    # the learning-rate schedule
    Key("schedule", OneOf(*SCHEDULES), "constant", "how the learning rate decays with the "
        "epoch"),
    Key("decay_rate", FloatValue(), None, "inverse_time: alpha0 / (1 + decay_rate * epoch) "
        "(default 1)", of=("inverse_time",)),
    Key("time_interval", IntValue(), None, "inverse_time: epochs between decays (default 1)",
        of=("inverse_time",)),
    Key("base", FloatValue(), None, "exponential: alpha0 * base ** epoch (default 0.95)",
        of=("exponential",)),
    Key("k", FloatValue(), None, "inverse_sqrt: k / sqrt(epoch + 1) * alpha0 (default 1)",
        of=("inverse_sqrt",)),
    Key("step_size", IntValue(), None, "step: step the rate down every step_size epochs",
        of=("step",)),
    Key("milestones", IntList(), None, "step: the epochs where the rate steps down",
        of=("step",)),
    Key("factor", FloatValue(), None, "step: the factor of each step (default 0.5)",
        of=("step",)),
    # training
    Key("epochs", IntValue(), 20, "passes over the training data"),
    Key("batch_size", IntValue(), 64, "examples per mini-batch"),
    Key("l2", FloatValue(), 0.0, "L2 regularization strength lambda"),
    Key("patience", IntValue(), None, "early stopping: stop when the dev loss has not improved "
        "for this many epochs, and keep the best weights (needs a dev set)"),
    Key("dev_fraction", FloatValue(), 0.2, "share of the examples held out as the dev set, for "
        "validation and the bias/variance diagnosis (0: none)", searchable=False),
    Key("seed", IntValue(), 0, "seed of the split, the initialization, shuffling and dropout"),
]}


def get(settings, name):
    """The setting, or its default."""
    return settings[name] if name in settings else KEYS[name].default


# ---------------------------------------------------------------- flags

def add_flags(parser):
    """One flag per key, defaulting to "not given" so flags can override a file."""
    for key in KEYS.values():
        default = "" if key.default is None else f" (default: {_default_text(key)})"
        help_text = key.help + default
        if isinstance(key.type, BoolValue):
            parser.add_argument(key.flag, dest=key.name, action=argparse.BooleanOptionalAction,
                                default=argparse.SUPPRESS, help=help_text)
        else:
            parser.add_argument(key.flag, dest=key.name, type=_flag_parser(key),
                                metavar=key.type.metavar, default=argparse.SUPPRESS,
                                help=help_text)


def _default_text(key):
    if isinstance(key.default, list):
        return ",".join(map(str, key.default))
    return str(key.default).lower() if isinstance(key.default, bool) else str(key.default)


def _flag_parser(key):
    def parse(text):
        try:
            return key.type.check(key.type.parse(text))
        except TypeError:
            raise argparse.ArgumentTypeError(f"must be {key.type.expected}; got {text!r}") from None
    return parse


def flag_settings(args):
    """The settings given as flags (a dict of the keys present)."""
    return {name: getattr(args, name) for name in KEYS if hasattr(args, name)}


# ---------------------------------------------------------------- TOML

def load_toml(path):
    """The parsed TOML file as a dict, or a one-line error."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    path = os.fspath(path)
    if not os.path.exists(path):
        raise CLIError(f"no such file: {path}")
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise CLIError(f"{path} is not valid TOML: {exc}") from None


def unknown_key(where, name, valid):
    """The error for a key that is not one of ``valid``, with a suggestion."""
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return CLIError(f"{where}unknown key {name!r}{hint}; valid keys: {', '.join(sorted(valid))}")


def check_settings(table, where):
    """Check a dict of key -> value (types, names); returns the canonical values."""
    settings = {}
    for name, value in table.items():
        key = KEYS.get(name)
        if key is None:
            raise unknown_key(where, name, KEYS)
        settings[name] = key.check(value, where)
    return settings


def read_toml(path):
    """The training settings of a ``train --config`` file (flat key = value)."""
    return check_settings(load_toml(path), f"{os.fspath(path)}: ")


# ---------------------------------------------------------------- building

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
    rate = SCHEDULES[schedule_name](rate, **schedule_args)
    return cls(rate, **_belongs(settings, "optimizer", OPTIMIZERS, strict))


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
    """Labels in the form fit takes, and the width of the output layer."""
    y = np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise CLIError(f"{where}: the labels must be numbers; got dtype {y.dtype}")
    if task == "regression":
        return y, 1 if y.ndim == 1 else int(np.prod(y.shape[1:]))
    if y.ndim == 2 and y.shape[1] > 1:
        return y, y.shape[1]                   # one-hot rows
    y = y.reshape(-1)
    if not np.all(np.isfinite(y)) or np.any(y != np.floor(y)) or np.any(y < 0):
        raise CLIError(f"{where}: classification labels must be whole numbers 0, 1, ..., k-1; "
                       f"use --task regression for real-valued targets")
    n_classes = int(y.max()) + 1
    if n_classes < 2:
        raise CLIError(f"{where}: the labels hold a single class ({int(y.max())}); "
                       f"classification needs at least two")
    return y.astype(np.int64), n_classes


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
