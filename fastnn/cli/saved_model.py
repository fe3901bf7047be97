"""Commands on a saved model: ``evaluate``, ``predict`` and ``gradcheck``.

With a Keras-layout .npz they use its test pair (x_test, y_test) when it
has one: the training pair is what ``train`` already reported on.
"""
import numpy as np

from fastnn.cli.datafiles import DATA_FORMATS, check_features, check_output, listing, write_table
from fastnn.cli.errors import CHECK_FAILED, CLIError
from fastnn.cli.report import format_metrics, print_gradcheck_table, print_per_class
from fastnn.cli.train import add_data_flags, read_args_data

__all__ = ["add_parsers"]

_DATA_HELP = (f"{DATA_FORMATS}; a Keras-layout .npz gives its test pair; a CSV's label is in "
              f"the last column (see --label-column)")
_PREDICT_DATA_HELP = (f"{DATA_FORMATS}; a Keras-layout .npz gives its test inputs; a CSV may "
                      f"hold only the feature columns, or also a label column, which is ignored")


def add_parsers(add):
    p = add("evaluate", "loss and accuracy of a saved model on a data file",
            "Report the loss and (for a classifier) the accuracy of MODEL on DATA, in inference\n"
            "mode (dropout off, BatchNorm's running averages).\n\n"
            "example:\n  fastnn evaluate model.fnn test.csv")
    _model_and_data(p)
    p.set_defaults(run=evaluate)

    p = add("predict", "predictions of a saved model, as CSV",
            "Write MODEL's predictions for DATA as CSV with a header line: class labels (or the\n"
            "values of a regression model), or with --proba the probability of each class.\n"
            "A CSV may hold only the feature columns, or also a label column (then ignored).\n\n"
            "examples:\n  fastnn predict model.fnn new.csv\n"
            "  fastnn predict model.fnn new.csv --proba --output probabilities.csv")
    _model_and_data(p, _PREDICT_DATA_HELP)
    p.add_argument("--output", "-o", metavar="FILE.csv", help="write here (default: stdout)")
    p.add_argument("--proba", action="store_true",
                   help="class probabilities instead of labels (softmax/sigmoid models)")
    p.set_defaults(run=predict)

    p = add("gradcheck", "check a saved model's backpropagation by finite differences",
            "Compare MODEL's backpropagation gradients with centred finite differences on the\n"
            "first rows of DATA, on a float64 copy with dropout turned off.  Prints the\n"
            "relative difference, its reading (about 1e-7 is right, 1e-3 or more is a bug) and\n"
            "a table of every parameter (W and b of each Dense, gamma and beta of each\n"
            "BatchNorm), each with its own verdict.  Exit code 1 when the difference, or any\n"
            "parameter's, reaches the threshold.\n\n"
            "example:\n  fastnn gradcheck model.fnn train.csv --rows 16 --max-coordinates 500")
    _model_and_data(p)
    p.add_argument("--rows", type=int, default=32, help="examples used (default: 32)")
    p.add_argument("--max-coordinates", type=int, default=1000, metavar="N",
                   help="check N parameters, sampled from every array (at least one of "
                        "each; default: 1000; 0 checks all)")
    p.add_argument("--l2", type=float, default=0.0, metavar="LAMBDA",
                   help="include an L2 term of this strength in the cost (default: 0)")
    # A trained model's gradients are small, and the round-off of J(theta +- eps)
    # (about 1e-16 |J| / eps) then dominates at the course's eps = 1e-7: correct
    # 3-layer ReLU models measured 3e-6 there, 3e-8 at 1e-5.
    p.add_argument("--epsilon", type=float, default=1e-5,
                   help="finite-difference step (default: 1e-5; smaller steps drown the "
                        "small gradients of a trained model in round-off)")
    p.add_argument("--threshold", type=float, default=1e-7,
                   help="the check passes when the difference and every parameter's are "
                        "below this (default: 1e-7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the coordinate sample")
    p.set_defaults(run=gradcheck)


def _model_and_data(parser, data_help=_DATA_HELP):
    parser.add_argument("model", metavar="MODEL", help="a model saved by fastnn train")
    parser.add_argument("data", metavar="DATA", help=data_help)
    add_data_flags(parser, weights=True)


def _load(args, labels):
    """(model, X, y or None, weights or None): y as the model takes it (its
    class names, when it answers in names; else numbers)."""
    from fastnn.model import load_model

    model = load_model(args.model)
    X, y, _, w = read_args_data(args, part="test", labels=labels, n_features=model.input_dim)
    check_features(X, model.input_dim, args.data, args.model)
    if y is not None and labels:          # predict ignores a label column
        y = _labels_for(model, args, y)
    return model, X, y, w


def _labels_for(model, args, y):
    """The data's labels checked against the model's classes, in one line."""
    classes = getattr(model, "classes_", None)
    text = y.dtype.kind in "US"
    if classes is not None:
        if not text:
            raise CLIError(f"the model {args.model} answers in the class names "
                           f"{listing([str(c) for c in classes], 10)} but the labels of "
                           f"{args.data} are numbers; give the labels as those names")
        unknown = np.setdiff1d(y, classes)
        if unknown.size:
            raise CLIError(f"{args.data} has labels the model {args.model} does not know: "
                           f"{listing([str(u) for u in unknown], 10)} (its classes: "
                           f"{listing([str(c) for c in classes], 10)})")
    elif text:
        raise CLIError(f"the labels of {args.data} are text ({listing(list(np.unique(y)), 5)}) "
                       f"but the model {args.model} was trained on numbered classes")
    return y


def evaluate(args):
    model, X, y, w = _load(args, labels=True)
    weighted = "" if w is None else ", weighted"
    print(f"{args.model} on {args.data} ({len(X)} examples{weighted}): "
          f"{format_metrics(model.evaluate(X, y, sample_weight=w))}")
    if model.output_layer.activation == "softmax" and y.ndim == 1:
        classes = getattr(model, "classes_", None)
        index = y if classes is None else np.searchsorted(classes, y)
        names = (classes if classes is not None else np.arange(model.output_dim))
        print_per_class(names, index.astype(np.int64),
                        model.predict_proba(X).argmax(axis=1))
    return 0


def predict(args):
    if args.output is not None:
        check_output(args.output)
    model, X, _, _ = _load(args, labels=False)
    classes = getattr(model, "classes_", None)
    if args.proba:
        values = model.predict_proba(X)
        header = ([f"p_{c}" for c in classes] if classes is not None and
                  len(classes) == values.shape[1] else [f"p{k}" for k in range(values.shape[1])])
        fmt = "%.6g"
    else:
        values = model.predict(X)
        if values.dtype.kind in "USO":
            header, fmt = ["label"], "%s"
        elif np.issubdtype(values.dtype, np.integer):
            header, fmt = ["label"], "%d"
        else:
            header, fmt = ["prediction"] if values.shape[1] == 1 else [
                f"y{k}" for k in range(values.shape[1])], "%.6g"
    write_table(args.output, values, header, fmt)
    if args.output is not None:
        print(f"{len(X)} predictions written to {args.output}")
    return 0


def gradcheck(args):
    from fastnn.gradcheck import gradient_check

    if args.rows < 1:
        raise ValueError(f"--rows must be at least 1; got {args.rows}")
    model, X, y, w = _load(args, labels=True)
    rows = min(args.rows, len(X))
    weights = {} if w is None else {"sample_weight": w[:rows]}
    result = gradient_check(model, X[:rows], y[:rows], **weights, l2=args.l2, epsilon=args.epsilon,
                            threshold=args.threshold, max_coordinates=args.max_coordinates or None,
                            seed=args.seed)
    print(f"gradient check of {args.model} on {rows} rows of {args.data}: "
          f"{result.n_checked:,} of {result.n_total:,} parameters")
    for note in result.notes:
        print(f"note: {note}")
    print_gradcheck_table(result)
    print(f"difference: {result.difference:.3e} (threshold {result.threshold:g})")
    print(f"verdict: {result.verdict}")
    if result.passed:
        print("PASSED")
    elif not result.difference < result.threshold:
        print(f"FAILED: the difference is not below the threshold {result.threshold:g}")
    else:
        failed = result.failed_parameters
        print(f"FAILED: {len(failed)} parameter{'s' if len(failed) > 1 else ''} "
              f"({', '.join(failed)}) not below the threshold {result.threshold:g}")
    return 0 if result.passed else CHECK_FAILED
