"""``fastnn export MODEL OUT.onnx``: a saved model as an ONNX file (fastnn.onnx)."""
from fastnn.cli.datafiles import check_output

__all__ = ["add_parsers"]


def add_parsers(add):
    p = add("export", "write a saved model as an ONNX file (for ONNX Runtime and serving stacks)",
            "Write MODEL (saved by fastnn train or model.save) as an ONNX file: input X (N,\n"
            "n_features) in the model's dtype, raw features (a --normalize model's normalizer\n"
            "is inside the graph); output 'probabilities' (softmax/sigmoid) or 'values'\n"
            "(linear), and with --label also 'label', what `fastnn predict` answers (class\n"
            "names for a model trained on text labels).  Inference mode: BatchNorm's running\n"
            "averages, no dropout.  Needs the onnx package: pip install 'fastnn[onnx]'.\n\n"
            "examples:\n  fastnn export digits.fnn digits.onnx\n"
            "  fastnn export cancer.fnn cancer.onnx --label --batchnorm node --opset 17")
    p.add_argument("model", metavar="MODEL", help="a model saved by fastnn train (.fnn)")
    p.add_argument("output", metavar="OUT.onnx", help="the ONNX file to write (atomically)")
    p.add_argument("--label", action="store_true",
                   help="add the output 'label' (what predict answers) to a classifier")
    p.add_argument("--batchnorm", choices=("fold", "node"), default="fold",
                   help="fold BatchNorm into the Dense before it (default, faster), or keep an "
                        "ONNX BatchNormalization node")
    p.add_argument("--opset", type=int, default=None,
                   help="ONNX opset, 13 to 19 (default: 19, which onnxruntime >= 1.15 runs)")
    p.set_defaults(run=export)


def export(args):
    from fastnn import onnx
    from fastnn.model import load_model

    check_output(args.output)
    model = load_model(args.model)
    opset = onnx.OPSET if args.opset is None else args.opset
    onnx.export(model, args.output, batchnorm=args.batchnorm, label=args.label or None,
                opset=opset)
    outputs = ["probabilities" if model.output_layer.activation in ("softmax", "sigmoid")
               else "values"] + (["label"] if args.label else [])
    print(f"{args.model} written to {args.output} (ONNX opset {opset}; input X "
          f"(N, {model.input_dim}) {model.dtype.name}; outputs {', '.join(outputs)})")
    return 0
