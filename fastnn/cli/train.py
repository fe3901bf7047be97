"""``fastnn train DATA``: train a network on a data file and save it.

Settings come from the defaults, then ``--config FILE.toml``, then flags
(each later source overrides the earlier ones); see fastnn.cli.config.
"""
import argparse
import contextlib
import os
import sys
import warnings
from typing import NamedTuple, Optional

import numpy as np

from fastnn.cli import build, config
from fastnn.cli.datafiles import listing, check_output, read_data
from fastnn.cli.report import describe_optimizer, format_metrics, print_diagnosis
from fastnn.data import feature_scales

__all__ = ["add_parsers", "add_data_flags", "read_args_data", "load_training_data", "split_dev",
           "train_and_save", "TrainingData"]

_EXAMPLE_TOML = """\
  # train.toml: flat "key = value" lines, the flags' names with underscores
  layers = [256, 128]
  optimizer = "adam"
  learning_rate = 0.003
  schedule = "exponential"
  base = 0.95
  epochs = 40
  keep_prob = 0.8
  normalize = true"""


def add_parsers(add):
    p = add("train", "train a network on a .npz, .npy or CSV file and save it",
            "Train a fully-connected network on DATA and save it (atomically) to --output.\n\n"
            "DATA is a .npz archive with entries X and y (or the Keras layout x_train,\n"
            "y_train[, x_test, y_test]: the training pair is used), a .npy table, or a CSV\n"
            "file (.tsv: tab-separated; also compressed: .gz, .bz2, .xz, or a .zip holding\n"
            "one), one example per line, the label in the last column (see --label-column).\n"
            "Labels are class numbers 0..k-1 or text (\"malignant\"): a model trained on\n"
            "text labels keeps the class names, and predict answers in them.  The first line\n"
            "is a header when it has text where the rows have numbers (--header/--no-header\n"
            "decide instead); scikit-learn's first line (examples, features, class names)\n"
            "names the classes.  A dev set (--dev-fraction) is held out for validation,\n"
            "early stopping and the bias/variance diagnosis.  Features of very different\n"
            "scales (or pixel values in 0..255) train much better with --normalize.\n\n"
            "Hyperparameters come from flags or a TOML file (--config); flags override it:\n"
            f"{_EXAMPLE_TOML}\n\n"
            "examples:\n"
            "  fastnn train digits.csv.gz --layers 128 --epochs 30 --output digits.fnn\n"
            "  fastnn train breast_cancer.csv --normalize --output cancer.fnn\n"
            "  fastnn train mnist.npz --config train.toml --learning-rate 0.001 --normalize")
    p.add_argument("data", metavar="DATA", help="training data: .npz, .npy or CSV (also .gz, "
                   ".bz2, .xz, .zip)")
    p.add_argument("--config", metavar="FILE.toml", help="hyperparameters from a TOML file")
    p.add_argument("--output", "-o", metavar="PATH", default="model.fnn",
                   help="where to save the model (default: model.fnn)")
    add_data_flags(p, weights=True)
    p.add_argument("--threads", type=int, help="threads of the kernels and BLAS "
                   "(default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    config.add_flags(p.add_argument_group("hyperparameters (also settable in --config)"))
    p.set_defaults(run=run)


def add_data_flags(parser, weights=False):
    parser.add_argument("--label-column", metavar="COLUMN",
                        help="column of the labels in a CSV or .npy table: a 0-based index "
                             "(negative counts from the end) or a header name (default: the "
                             "last column)")
    if weights:
        parser.add_argument("--weight-column", metavar="COLUMN",
                            help="column of the examples' weights (numbers >= 0) in a CSV or "
                                 ".npy table, as --label-column; in an .npz archive, the name "
                                 "of its entry of weights.  The cost and the reported loss and "
                                 "accuracy become weighted means; a weight of 2 counts an "
                                 "example twice, 0 leaves it out")
    parser.add_argument("--header", action=argparse.BooleanOptionalAction, default=None,
                        help="the CSV's first line is a header (--header) or data "
                             "(--no-header); default: a header when it has text where the rows "
                             "below have numbers; a scikit-learn first line (examples, features, "
                             "class names) is always recognized")
    parser.add_argument("--skip-rows", type=int, default=0, metavar="N",
                        help="skip the first N lines of a CSV file (default: 0)")


def read_args_data(args, **kwargs):
    """``datafiles.read_data`` of the command's DATA and data flags."""
    return read_data(args.data, label_column=args.label_column, header=args.header,
                     skip_rows=args.skip_rows,
                     weight_column=getattr(args, "weight_column", None), **kwargs)


class TrainingData(NamedTuple):
    X: np.ndarray
    y: np.ndarray            # class indices 0..k-1 (classification), or targets
    n_outputs: int
    classes: Optional[np.ndarray]      # the class names of text labels, or None
    note: Optional[str]                # what the CSV's first line was taken for
    sample_weight: Optional[np.ndarray] = None


def load_training_data(args, task):
    """The training file of ``args`` (DATA and the data flags), labels ready."""
    X, y, note, w = read_args_data(args)
    y, n_outputs, classes = build.prepare_targets(y, task, args.data)
    return TrainingData(X, y, n_outputs, classes, note, w)


def split_dev(X, y, settings, sample_weight=None):
    """((X_train, y_train), (X_dev, y_dev) or None), seeded by the settings'
    seed; with ``sample_weight``, each part is (X, y, weights).  The parts of
    a memory-mapped X are views of its rows (fastnn.data.MappedRows)."""
    from fastnn.data import train_dev_test_split

    fraction = config.get(settings, "dev_fraction")
    if not fraction:
        return ((X, y) if sample_weight is None else (X, y, sample_weight)), None
    if sample_weight is None:
        return train_dev_test_split(X, y, dev=fraction, test=0, seed=config.get(settings, "seed"))
    # the rows' numbers split with X: weights and labels follow them
    rows = np.arange(len(y))
    parts = train_dev_test_split(X, rows, dev=fraction, test=0, seed=config.get(settings, "seed"))
    return tuple((part, y[i], sample_weight[i]) for part, i in parts)


def run(args):
    import fastnn as fn

    check_output(args.output)
    settings = config.read_toml(args.config) if args.config else {}
    settings.update(config.flag_settings(args))
    if args.threads is not None:
        fn.set_num_threads(args.threads)
    data = load_training_data(args, config.get(settings, "task"))
    train_and_save(data, args.data, settings, args.output, verbose=0 if args.quiet else 2)
    return 0


def describe_classes(n_outputs, classes, limit=10):
    """"2 classes (benign, malignant)", or "10 classes" for numbered ones."""
    if classes is None:
        return f"{n_outputs} classes"
    return f"{len(classes)} classes ({listing(list(classes), limit)})"


def train_and_save(data, data_name, settings, output, verbose, command="train"):
    """Train the model ``settings`` describe on ``data`` (a TrainingData),
    print what happens, save it to ``output``; returns the model.  ``command``
    names the command in warnings."""
    import fastnn as fn

    get = lambda name: config.get(settings, name)  # noqa: E731
    X, y, classes = data.X, data.y, data.classes
    train, dev = split_dev(X, y, settings, data.sample_weight)
    model = build.build_model(settings, X.shape[1], data.n_outputs)
    if get("normalize"):
        model.normalizer = fn.Normalizer().fit(train[0])
    kwargs = build.fit_kwargs(settings, has_dev=dev is not None, verbose=verbose)

    what = (f", {describe_classes(data.n_outputs, classes)}" if get("task") == "classification"
            else "")
    print(f"data: {data_name}: {len(X)} examples, {X.shape[1]} features{what}; "
          f"{len(train[0])} train / {len(dev[0]) if dev else 0} dev")
    if data.note:
        print(f"      {data.note}")
    print(model.summary())
    print(f"optimizer: {describe_optimizer(kwargs['optimizer'])}")
    if data.sample_weight is not None:
        print("weights: the cost, loss and accuracy are weighted by the examples' weights")
    # the model keeps the class names (classes_) when it is given them as labels
    train = (train[0], build.model_labels(train[1], classes)) + tuple(train[2:])
    dev = None if dev is None else (dev[0], build.model_labels(dev[1], classes)) + tuple(dev[2:])
    weights = {} if data.sample_weight is None else {"sample_weight": train[2]}
    with _normalize_hint(train[0], command) as hint:
        history = model.fit(*train[:2], validation_data=dev, **weights, **kwargs)
    if history.stop_reason:
        print(history.stop_reason)

    for name, part in (("train", train), ("dev", dev)):
        if part is not None:
            w = part[2] if len(part) > 2 else None
            print(f"{name:>5}: {format_metrics(model.evaluate(*part[:2], sample_weight=w))}")
    if dev is not None and model.output_layer.activation == "softmax":
        # the course's first advice comes before a bigger network
        print_diagnosis(model.diagnose(train[:2], dev[:2]),
                        first="normalize the inputs first (--normalize): the rest assumes "
                              "normalized inputs" if hint["warned"] else None)
    model.save(output)
    names = getattr(model, "classes_", None)
    answers = (f"; it answers in the class names {listing([str(c) for c in names], 10)}"
               if names is not None else "")
    print(f"model saved to {os.path.abspath(output)}{answers}")
    return model


@contextlib.contextmanager
def _normalize_hint(X, command):
    """fit warns (fastnn.training) when the inputs are far from normalized,
    naming the Python API; the command line says it with its flag, in one
    line.  Other warnings pass on (main prints them in one line)."""
    shown = warnings.showwarning
    hint = {"warned": False}

    def show(message, category, *rest, **kwargs):
        if issubclass(category, UserWarning) and "normaliz" in str(message).lower():
            hint["warned"] = True
            rms = feature_scales(X)
            rms = rms[rms > 0]
            sizes = (f" (their typical sizes range from {rms.min():.3g} to {rms.max():.3g})"
                     if rms.size else "")
            print(f"fastnn {command}: warning: the input features are not normalized{sizes}: "
                  f"training is slow and unstable on them; pass --normalize to standardize "
                  f"them (the saved model then takes raw inputs)", file=sys.stderr)
        else:
            shown(message, category, *rest, **kwargs)

    with warnings.catch_warnings():
        warnings.simplefilter("always", UserWarning)
        warnings.showwarning = show
        yield hint
