"""``fastnn train DATA``: train a network on a .npz or .csv file and save it.

Settings come from the defaults, then ``--config FILE.toml``, then flags
(each later source overrides the earlier ones); see fastnn.cli.config.
"""
import os

from fastnn.cli import build, config
from fastnn.cli.datafiles import check_output, read_data
from fastnn.cli.report import describe_optimizer, format_metrics, print_diagnosis

__all__ = ["add_parsers", "add_data_flags", "load_training_data", "split_dev"]

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
    p = add("train", "train a network on a .npz or .csv file and save it",
            "Train a fully-connected network on DATA and save it (atomically) to --output.\n\n"
            "DATA is a .npz archive with entries X and y (or the Keras layout x_train,\n"
            "y_train[, x_test, y_test]: the training pair is used), or a CSV file of numbers,\n"
            "one example per line, the label in the last column (see --label-column); a first\n"
            "line that is not all numbers is a header.  A dev set (--dev-fraction) is held out\n"
            "for validation, early stopping and the bias/variance diagnosis.  Pixel values\n"
            "in 0..255 train much better with --normalize.\n\n"
            "Hyperparameters come from flags or a TOML file (--config); flags override it:\n"
            f"{_EXAMPLE_TOML}\n\n"
            "examples:\n"
            "  fastnn train digits.csv --layers 128 --epochs 30 --output digits.fnn\n"
            "  fastnn train mnist.npz --config train.toml --learning-rate 0.001 --normalize")
    p.add_argument("data", metavar="DATA", help="training data: .npz or .csv")
    p.add_argument("--config", metavar="FILE.toml", help="hyperparameters from a TOML file")
    p.add_argument("--output", "-o", metavar="PATH", default="model.fnn",
                   help="where to save the model (default: model.fnn)")
    add_data_flags(p)
    p.add_argument("--threads", type=int, help="threads of the kernels and BLAS "
                   "(default: all cores)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch lines")
    config.add_flags(p.add_argument_group("hyperparameters (also settable in --config)"))
    p.set_defaults(run=run)


def add_data_flags(parser):
    parser.add_argument("--label-column", metavar="COLUMN",
                        help="CSV column of the labels: a 0-based index (negative counts from "
                             "the end) or a header name (default: the last column)")


def load_training_data(path, label_column, task):
    """(X, y, n_outputs) of a training file, labels ready for fit."""
    X, y = read_data(path, label_column=label_column)
    y, n_outputs = build.prepare_targets(y, task, path)
    return X, y, n_outputs


def split_dev(X, y, settings):
    """((X_train, y_train), (X_dev, y_dev) or None), seeded by the settings' seed."""
    from fastnn.data import train_dev_test_split

    fraction = config.get(settings, "dev_fraction")
    if not fraction:
        return (X, y), None
    return train_dev_test_split(X, y, dev=fraction, test=0, seed=config.get(settings, "seed"))


def run(args):
    import fastnn as fn

    check_output(args.output)
    settings = config.read_toml(args.config) if args.config else {}
    settings.update(config.flag_settings(args))
    if args.threads is not None:
        fn.set_num_threads(args.threads)
    get = lambda name: config.get(settings, name)  # noqa: E731

    X, y, n_outputs = load_training_data(args.data, args.label_column, get("task"))
    train, dev = split_dev(X, y, settings)
    model = build.build_model(settings, X.shape[1], n_outputs)
    if get("normalize"):
        model.normalizer = fn.Normalizer().fit(train[0])
    kwargs = build.fit_kwargs(settings, has_dev=dev is not None, verbose=0 if args.quiet else 2)

    classes = f", {n_outputs} classes" if get("task") == "classification" else ""
    print(f"data: {args.data}: {len(X)} examples, {X.shape[1]} features{classes}; "
          f"{len(train[0])} train / {len(dev[0]) if dev else 0} dev")
    print(model.summary())
    print(f"optimizer: {describe_optimizer(kwargs['optimizer'])}")
    history = model.fit(*train, validation_data=dev, **kwargs)
    if history.stop_reason:
        print(history.stop_reason)

    for name, part in (("train", train), ("dev", dev)):
        if part is not None:
            print(f"{name:>5}: {format_metrics(model.evaluate(*part))}")
    if dev is not None and model.output_layer.activation == "softmax":
        print_diagnosis(model.diagnose(train, dev))
    model.save(args.output)
    print(f"model saved to {os.path.abspath(args.output)}")
    return 0
