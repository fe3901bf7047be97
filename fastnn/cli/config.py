"""Training hyperparameters: one table for the flags of ``train`` and the TOML
files of ``train --config`` and ``tune``, and how they are read and checked
(``fastnn.cli.build`` makes the model and optimizer from them).

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
import numbers
import os
import sys
from dataclasses import dataclass


from fastnn import initializers, layers, optim, schedules
from fastnn.cli.errors import CLIError

__all__ = ["KEYS", "Key", "get", "add_flags", "flag_settings", "load_toml", "read_toml",
           "check_settings", "check_value", "unknown_key", "AnyValue", "Text", "IntValue", "FloatValue",
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


OPTIMIZERS = optim.BY_NAME
SCHEDULES = schedules.BY_NAME
# hidden layers: every activation but softmax (the output's, chosen by the task)
ACTIVATIONS = tuple(a for a in layers.ACTIVATIONS if a != "softmax")
INITS = initializers.NAMES

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
    except RecursionError:
        raise CLIError(f"{path} is not a settings file fastnn reads: it is nested too deeply") from None


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
