"""Commands on a saved model: ``evaluate``, ``predict`` and ``gradcheck``.

With a Keras-layout .npz they use its test pair (x_test, y_test) when it
has one: the training pair is what ``train`` already reported on.
"""
import numpy as np

from fastnn.cli.datafiles import check_features, check_output, read_data, write_table
from fastnn.cli.errors import CHECK_FAILED
from fastnn.cli.report import format_metrics
from fastnn.cli.train import add_data_flags

__all__ = ["add_parsers"]

_DATA_HELP = ".npz (X and y; Keras layout: the test pair) or .csv (label in the last column)"


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
    _model_and_data(p)
    p.add_argument("--output", "-o", metavar="FILE.csv", help="write here (default: stdout)")
    p.add_argument("--proba", action="store_true",
                   help="class probabilities instead of labels (softmax/sigmoid models)")
    p.set_defaults(run=predict)

    p = add("gradcheck", "check a saved model's backpropagation by finite differences",
            "Compare MODEL's backpropagation gradients with centred finite differences on the\n"
            "first rows of DATA, on a float64 copy with dropout turned off.  Prints the\n"
            "relative difference, its reading (about 1e-7 is right, 1e-3 or more is a bug) and\n"
            "a per-parameter table.  Exit code 1 when the difference reaches the threshold.\n\n"
            "example:\n  fastnn gradcheck model.fnn train.csv --rows 16 --max-coordinates 500")
    _model_and_data(p)
    p.add_argument("--rows", type=int, default=32, help="examples used (default: 32)")
    p.add_argument("--max-coordinates", type=int, default=1000, metavar="N",
                   help="check at most N parameters, sampled across every array (default: "
                        "1000; 0 checks all)")
    p.add_argument("--l2", type=float, default=0.0, metavar="LAMBDA",
                   help="include an L2 term of this strength in the cost (default: 0)")
    # A trained model's gradients are small, and the round-off of J(theta +- eps)
    # (about 1e-16 |J| / eps) then dominates at the course's eps = 1e-7: correct
    # 3-layer ReLU models measured 3e-6 there, 3e-8 at 1e-5.
    p.add_argument("--epsilon", type=float, default=1e-5,
                   help="finite-difference step (default: 1e-5; smaller steps drown the "
                        "small gradients of a trained model in round-off)")
    p.add_argument("--threshold", type=float, default=1e-7,
                   help="the check passes below this difference (default: 1e-7)")
    p.add_argument("--seed", type=int, default=0, help="seed of the coordinate sample")
    p.set_defaults(run=gradcheck)


def _model_and_data(parser):
    parser.add_argument("model", metavar="MODEL", help="a model saved by fastnn train")
    parser.add_argument("data", metavar="DATA", help=_DATA_HELP)
    add_data_flags(parser)


def _load(args, labels):
    from fastnn.model import load_model

    model = load_model(args.model)
    X, y = read_data(args.data, label_column=args.label_column, part="test", labels=labels,
                     n_features=model.input_dim)
    check_features(X, model.input_dim, args.data, args.model)
    return model, X, y


def evaluate(args):
    model, X, y = _load(args, labels=True)
    print(f"{args.model} on {args.data} ({len(X)} examples): "
          f"{format_metrics(model.evaluate(X, y))}")
    return 0


def predict(args):
    if args.output is not None:
        check_output(args.output)
    model, X, _ = _load(args, labels=False)
    if args.proba:
        values = model.predict_proba(X)
        header, fmt = [f"p{k}" for k in range(values.shape[1])], "%.6g"
    else:
        values = model.predict(X)
        if np.issubdtype(values.dtype, np.integer):
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
    model, X, y = _load(args, labels=True)
    rows = min(args.rows, len(X))
    result = gradient_check(model, X[:rows], y[:rows], l2=args.l2, epsilon=args.epsilon,
                            threshold=args.threshold, max_coordinates=args.max_coordinates or None,
                            seed=args.seed)
    print(f"gradient check of {args.model} on {rows} rows of {args.data}: "
          f"{result.n_checked:,} of {result.n_total:,} parameters")
    for note in result.notes:
        print(f"note: {note}")
    width = max([len("parameter")] + [len(name) for name in result.per_parameter])
    print(f"{'parameter':<{width}}  difference")
    for name, difference in result.per_parameter.items():
        print(f"{name:<{width}}  {difference:.3e}")
    print(f"difference: {result.difference:.3e} (threshold {result.threshold:g})")
    print(f"verdict: {result.verdict}")
    if result.passed:
        print("PASSED")
    else:
        print(f"FAILED: the difference is not below the threshold {result.threshold:g}")
    return 0 if result.passed else CHECK_FAILED
