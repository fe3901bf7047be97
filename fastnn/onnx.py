"""ONNX export: a trained model leaves Python as one ``.onnx`` file that ONNX
Runtime (or any ONNX serving stack) runs to the numbers fastnn predicts.

    import fastnn as fn
    fn.onnx.export(model, "model.onnx")    # a Sequential
    fn.onnx.export(clf, "clf.onnx")        # a fitted fastnn.sklearn MLPClassifier / MLPRegressor

    import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx")
    P = sess.run(["probabilities"], {"X": X.astype("float32")})[0]

The ``onnx`` package is an optional extra (``pip install 'fastnn[onnx]'``),
imported on the first call of ``to_onnx`` or ``export`` only.

The graph (inference mode: BatchNorm's running averages, Dropout removed):

- input ``X``: (N, n_features) in the model's dtype (float32 or float64; N
  free), raw features: an attached ``Normalizer`` is inside the graph
  (``(X - mean) / scale``, Sub and Div).
- Sequential: output ``probabilities`` (softmax or sigmoid output) or
  ``values`` (linear output), (N, k), what ``predict_proba`` (``predict``)
  returns; ``label=True`` adds ``label``, what ``predict`` returns (the
  model's ``classes_`` when it has some, else int64 class indices; a 0/1
  int64 matrix for a sigmoid layer of several units).
- MLPClassifier: outputs ``label`` (N,) in the type of ``classes_`` (int64,
  string, float64, bool; an (N, k) int64 indicator matrix for multi-label y)
  and ``probabilities`` (N, n_classes), as skl2onnx names them;
  MLPRegressor: ``values``, (N,) for one target, (N, n_targets) otherwise,
  as ``predict``.
- Dense: Gemm (MatMul-free: one node with its bias), then its activation:
  Relu, LeakyRelu (float64: Where(z < 0, a z, z), ONNX Runtime has no double
  LeakyRelu), Tanh, Sigmoid, Softmax(axis=1).  A sigmoid *output* is
  fastnn's own formula in float64 (Exp of -|z|, Div, Where; a float32
  model's logits cast to float64 and back): ONNX Runtime's Sigmoid loses
  the relative precision of small probabilities (float: an error of 500% at
  1e-8; double: 3e-12 at 1e-5, 100% at 4e-18).  The extra work is N x k
  elements; hidden sigmoids, whose absolute error is what counts, use
  Sigmoid.
- BatchNorm: ``batchnorm="fold"`` (default) folds it into the Gemm before it
  (``W' = W * s``, ``b' = beta - mean * s`` with ``s = gamma / sqrt(var +
  eps)``, computed in float64 and rounded once): one node fewer per layer,
  and faster in ONNX Runtime (the ort and ort_node columns of
  bench/bench_inference.py; figures in bench/README.md).
  ``batchnorm="node"`` keeps an ONNX BatchNormalization node with the
  running statistics, for tools that want to see or retrain them.
- Metadata (``metadata_props``): ``fastnn.version``, ``fastnn.kind`` (the
  exported class), ``fastnn.config`` (the model's JSON config: layers,
  input_dim, dtype, seed), ``fastnn.batchnorm``, ``fastnn.outputs``,
  ``fastnn.classes`` (JSON list, classifiers with classes) and, for an
  estimator, ``fastnn.estimator_params`` (its ``get_params()``); the graph's
  doc string says what the inputs and outputs are.

Opset 19 (``OPSET``) in the default ONNX domain only, IR version 9: the
newest opset of onnx 1.14 (the oldest onnx the extra allows) and of ONNX
Runtime 1.15 and later, so the files load in any ONNX Runtime released since
May 2023.  ``opset=13`` .. 19 writes an older opset for older runtimes (every
op used has kept its semantics since 13); the IR version follows it.

Numbers: in float64 ONNX Runtime answers what fastnn does to ~1e-15
relative; in float32 to ~1e-6 (GEMMs summed in another order, ONNX
Runtime's own exp and tanh).  Folding BatchNorm rounds ``W * s`` once in the
model's dtype: ~6e-8 relative per weight in float32, far below that.
"""
import json
import math
import sys

import numpy as np

from fastnn import checks, serialization
from fastnn.layers import BatchNorm, Dense, Dropout
from fastnn.model import Sequential
from fastnn.preprocessing import Normalizer

__all__ = ["export", "to_onnx", "OPSET", "MIN_OPSET", "BATCHNORM_MODES"]

OPSET = 19               # the default: onnx >= 1.14, onnxruntime >= 1.15
MIN_OPSET = 13           # Softmax over one axis, Gemm without C, Squeeze-free graph
BATCHNORM_MODES = ("fold", "node")
# IR version of each opset (onnx's table): the oldest that holds it, so that
# older runtimes load the file
_IR_VERSION = {13: 7, 14: 7, 15: 8, 16: 8, 17: 8, 18: 8, 19: 9}
# the activations _activation writes: all of fastnn.layers.ACTIVATIONS (a new
# one is refused by name until it is written here; tests/test_onnx.py runs them all)
_SUPPORTED_ACTIVATIONS = ("linear", "relu", "leaky_relu", "tanh", "sigmoid", "softmax")


def _import_onnx(func):
    try:
        import onnx
    except ImportError as exc:
        raise ImportError(f"{func}: ONNX export needs the onnx package: "
                          f"pip install 'fastnn[onnx]' (or pip install onnx)") from exc
    return onnx


def _estimator_kind(model):
    """"classifier", "regressor" or None: a fastnn.sklearn estimator?  Without
    importing fastnn.sklearn (and scikit-learn): an estimator exists only
    once that module is loaded."""
    module = sys.modules.get("fastnn.sklearn")
    if module is None:
        return None
    if isinstance(model, module.MLPClassifier):
        return "classifier"
    if isinstance(model, module.MLPRegressor):
        return "regressor"
    return None


class _Graph:
    """Nodes, initializers and unique names of the graph being written."""

    def __init__(self, onnx, dtype):
        self.onnx = onnx
        self.helper = onnx.helper
        self.dtype = np.dtype(dtype)
        self.elem = onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.initializers = [], []
        self._count = 0

    def name(self, stem):
        self._count += 1
        return f"{stem}_{self._count}"

    def const(self, stem, value, dtype=None):
        """An initializer of ``value`` (in the model's dtype unless said)."""
        arr = np.asarray(value, dtype=self.dtype if dtype is None else dtype)
        name = self.name(stem)
        if arr.dtype.kind in "OUS":
            tensor = self.helper.make_tensor(name, self.onnx.TensorProto.STRING, arr.shape,
                                             [str(s).encode("utf-8") for s in arr.ravel()])
        else:
            tensor = self.onnx.numpy_helper.from_array(np.ascontiguousarray(arr), name)
        self.initializers.append(tensor)
        return name

    def node(self, op, inputs, output=None, stem=None, **attrs):
        out = output or self.name(stem or op.lower())
        self.nodes.append(self.helper.make_node(op, list(inputs), [out], name=self.name(op),
                                                **attrs))
        return out


def _check_model(model, func):
    """The Sequential to export and the estimator kind (None for a Sequential)."""
    kind = _estimator_kind(model)
    if kind is not None:
        net = getattr(model, "model_", None)
        if not isinstance(net, Sequential):
            raise ValueError(f"{func}: this {type(model).__name__} is not fitted yet: call fit "
                             f"first")
        return net, kind
    if not isinstance(model, Sequential):
        raise TypeError(f"{func}: model must be a fastnn Sequential or a fitted "
                        f"fastnn.sklearn MLPClassifier / MLPRegressor; got "
                        f"{type(model).__module__}.{type(model).__name__}")
    if model.params is None:
        raise ValueError(f"{func}: the model is not built yet: give input_dim or call fit "
                         f"first")
    return model, None


def _check_layers(net, func):
    for layer in net.layers:
        if type(layer) not in (Dense, BatchNorm, Dropout):
            raise ValueError(f"{func}: layer {layer.name!r} ({type(layer).__name__}) has no ONNX "
                             f"equivalent here: fastnn.onnx writes Dense, BatchNorm and Dropout "
                             f"layers")
        act = getattr(layer, "eval_activation", None)
        if act is not None and act not in _SUPPORTED_ACTIVATIONS:
            raise ValueError(f"{func}: layer {layer.name!r} has the activation {act!r}, which "
                             f"fastnn.onnx cannot write; it writes {list(_SUPPORTED_ACTIVATIONS)}")
    if net.normalizer is not None and (type(net.normalizer) is not Normalizer
                                       or net.normalizer.mean is None):
        raise ValueError(f"{func}: the model's input transform ({net.normalizer!r}) has no ONNX "
                         f"equivalent here: fastnn.onnx writes a fitted fastnn Normalizer")


def _activation(g, Z, act, negative_slope, output=None, exact_sigmoid=False):
    """The node(s) of ``act`` applied to Z; returns the output name."""
    if act == "linear":
        return g.node("Identity", [Z], output) if output else Z
    if act == "relu":
        return g.node("Relu", [Z], output)
    if act == "tanh":
        return g.node("Tanh", [Z], output)
    if act == "softmax":
        return g.node("Softmax", [Z], output, axis=1)
    if act == "sigmoid":
        if exact_sigmoid:
            return _output_sigmoid(g, Z, output)
        return g.node("Sigmoid", [Z], output)
    if act == "leaky_relu":
        if g.dtype == np.float32:
            return g.node("LeakyRelu", [Z], output, alpha=float(np.float32(negative_slope)))
        # ONNX Runtime has no double LeakyRelu: z < 0 ? a z : z, fastnn's values exactly
        negative = g.node("Less", [Z, g.const("zero", 0.0)])
        scaled = g.node("Mul", [Z, g.const("negative_slope", negative_slope)])
        return g.node("Where", [negative, scaled, Z], output)
    raise AssertionError(act)       # _check_layers refused it


def _output_sigmoid(g, Z, output):
    """fastnn's logistic function, in float64: e = exp(-|z|), s = 1 / (1 + e),
    z >= 0 ? s : e s.  Both halves keep their relative precision, down to
    the smallest probabilities; ONNX Runtime's Sigmoid loses it for z < 0
    (float: a relative error of 5 at 1e-8, double: 3e-12 at 1e-5 and 1 at
    4e-18).  In a float32 model the (N, k) logits are cast to float64 and
    the result back."""
    double = g.onnx.TensorProto.DOUBLE
    z = g.node("Cast", [Z], to=double) if g.dtype == np.float32 else Z
    one = g.const("one", 1.0, np.float64)
    e = g.node("Exp", [g.node("Neg", [g.node("Abs", [z])])])
    s = g.node("Div", [one, g.node("Add", [one, e])])
    positive = g.node("GreaterOrEqual", [z, g.const("zero", 0.0, np.float64)])
    if g.dtype == np.float32:
        p = g.node("Where", [positive, s, g.node("Mul", [e, s])])
        return g.node("Cast", [p], output, to=g.elem)
    return g.node("Where", [positive, s, g.node("Mul", [e, s])], output)


def _network(g, net, X, batchnorm):
    """The nodes of ``net`` in inference mode from the input X.  Returns
    (output activations' name, output logits' name or None)."""
    if net.normalizer is not None:
        norm = net.normalizer
        X = g.node("Sub", [X, g.const("normalizer_mean", norm.mean)])
        X = g.node("Div", [X, g.const("normalizer_scale", norm.scale)])
    layers = [layer for layer in net.layers if not isinstance(layer, Dropout)]
    A, logits = X, None
    i = 0
    while i < len(layers):
        layer = layers[i]
        bn = layers[i + 1] if i + 1 < len(layers) and isinstance(layers[i + 1], BatchNorm) else None
        W = np.asarray(layer.W)
        b = np.asarray(layer.b) if layer.use_bias else None
        last = i == len(layers) - 1
        if bn is not None and batchnorm == "fold":
            scale = (np.asarray(bn.gamma, np.float64)
                     / np.sqrt(np.asarray(bn.running_var, np.float64) + bn.eps))
            W = W.astype(np.float64) * scale
            shift = np.asarray(bn.beta, np.float64) - np.asarray(bn.running_mean, np.float64) * scale
            b = shift if b is None else shift + np.asarray(b, np.float64) * scale
        inputs = [A, g.const(f"{layer.name}.W", W)]
        if b is not None:
            inputs.append(g.const(f"{layer.name}.b", b))
        Z = g.node("Gemm", inputs, stem=f"{layer.name}.z")
        act, slope = layer.eval_activation, layer.negative_slope
        if bn is not None:
            if batchnorm == "node":
                Z = g.node("BatchNormalization",
                           [Z, g.const(f"{bn.name}.gamma", bn.gamma),
                            g.const(f"{bn.name}.beta", bn.beta),
                            g.const(f"{bn.name}.running_mean", bn.running_mean),
                            # the attribute epsilon is a float32: the variance
                            # carries the rest of eps, so var + eps is fastnn's
                            g.const(f"{bn.name}.running_var",
                                    np.asarray(bn.running_var, np.float64) + bn.eps
                                    - float(np.float32(bn.eps)))],
                           stem=f"{bn.name}.z", epsilon=float(bn.eps))
            act, slope = bn.eval_activation, bn.negative_slope
            i += 1
        if last:
            logits = Z
            A = _activation(g, Z, act, slope, exact_sigmoid=True)
        else:
            A = _activation(g, Z, act, slope)
        i += 1
    return A, logits


def _label_values(classes, func):
    """classes_ as an array ONNX can hold, and its tensor element type."""
    classes = np.asarray(classes)
    if classes.dtype.kind in "iu":
        return classes.astype(np.int64), np.int64
    if classes.dtype.kind == "b":
        return classes, np.bool_
    if classes.dtype.kind == "f":
        return classes.astype(np.float64), np.float64
    if classes.dtype.kind in "US" or (classes.dtype.kind == "O"
                                      and all(isinstance(c, str) for c in classes)):
        return np.array([str(c) for c in classes], dtype=object), object
    raise ValueError(f"{func}: the class labels {classes!r} have no ONNX type: fastnn.onnx writes "
                     f"integer, string, float and bool labels")


def _labels_from(g, index, classes, func):
    """Gather the labels of int64 ``index`` (N,) from ``classes`` (None: the
    indices themselves)."""
    if classes is None:
        return g.node("Identity", [index], "label")
    values, _ = _label_values(classes, func)
    return g.node("Gather", [g.const("classes", values, dtype=values.dtype), index], "label",
                  axis=0)


def _outputs_info(g, outputs):
    return [g.helper.make_tensor_value_info(name, elem, shape) for name, elem, shape in outputs]


def _elem_of(g, kind):
    tp = g.onnx.TensorProto
    return {np.int64: tp.INT64, np.bool_: tp.BOOL, np.float64: tp.DOUBLE, object: tp.STRING}[kind]


def to_onnx(model, *, batchnorm="fold", label=None, opset=OPSET):
    """The ``onnx.ModelProto`` of ``model`` (see the module docstring), checked
    by the ONNX checker.

    model : a built Sequential, or a fitted fastnn.sklearn MLPClassifier or
        MLPRegressor.
    batchnorm : "fold" (into the Dense before it; default, faster) or "node"
        (an ONNX BatchNormalization node).
    label : Sequential only: True adds the output ``label`` (what ``predict``
        returns) to a softmax or sigmoid model.  Estimators: a classifier
        always has ``label``; None is the default for both.
    opset : the ONNX opset, 13 .. 19 (default 19).
    """
    return _build(model, batchnorm, label, opset, "fastnn.onnx.to_onnx")


def _build(model, batchnorm, label, opset, func):
    net, kind = _check_model(model, func)
    checks.check_choice(batchnorm, "batchnorm", func, BATCHNORM_MODES)
    opset = checks.check_int(opset, "opset", func, MIN_OPSET, OPSET,
                             what="the ONNX opset fastnn.onnx writes")
    if label is not None:
        checks.check_bool(label, "label", func)
    if kind is not None and label is not None:
        raise checks.ParameterError(f"{func}: label is for a Sequential; an MLPClassifier always "
                                    f"has the output 'label', an MLPRegressor none")
    _check_layers(net, func)
    out_act = net.output_layer.activation
    if label and out_act not in ("softmax", "sigmoid"):
        raise checks.ParameterError(f"{func}: label=True needs a classifier (softmax or sigmoid "
                                    f"output); this model's output is {out_act!r}")
    onnx = _import_onnx(func)
    g = _Graph(onnx, net.dtype)
    helper, tp = onnx.helper, onnx.TensorProto
    A, logits = _network(g, net, "X", batchnorm)
    k = net.output_dim
    outputs = []            # (name, element type, shape)
    classes = None
    if kind is None:
        main = "probabilities" if out_act in ("softmax", "sigmoid") else "values"
        g.node("Identity", [A], main)
        outputs.append((main, g.elem, ["N", k]))
        classes = net.classes_
        if label:
            # as predict: the logits decide (argmax; > 0), not the rounded probabilities
            if out_act == "softmax":
                index = g.node("ArgMax", [logits], axis=1, keepdims=0)
            else:
                positive = g.node("Greater", [logits, g.const("zero", 0.0)])
                index = g.node("Cast", [positive], to=tp.INT64)
                if k == 1:
                    index = g.node("Reshape", [index, g.const("shape", [-1], np.int64)])
            if out_act == "softmax" or k == 1:
                _labels_from(g, index, classes, func)
                elem = (tp.INT64 if classes is None
                        else _elem_of(g, _label_values(classes, func)[1]))
                outputs.insert(1, ("label", elem, ["N"]))
            else:
                g.node("Identity", [index], "label")
                outputs.insert(1, ("label", tp.INT64, ["N", k]))
    elif kind == "classifier":
        classes = model.classes_
        P = A
        if model.out_activation_ == "softmax":
            index = g.node("ArgMax", [P], axis=1, keepdims=0)
            g.node("Identity", [P], "probabilities")
            n_cols, label_shape = k, ["N"]
        elif k == 1:          # binary: one logistic unit; predict_proba gives both columns
            negative = g.node("Sub", [g.const("one", 1.0), P])
            g.node("Concat", [negative, P], "probabilities", axis=1)
            above = g.node("Greater", [P, g.const("half", 0.5)])
            index = g.node("Reshape", [g.node("Cast", [above], to=tp.INT64),
                                       g.const("shape", [-1], np.int64)])
            n_cols, label_shape = 2, ["N"]
        else:                 # multi-label: an indicator matrix
            g.node("Identity", [P], "probabilities")
            above = g.node("Greater", [P, g.const("half", 0.5)])
            index = None
            g.node("Cast", [above], "label", to=tp.INT64)
            n_cols, label_shape = k, ["N", k]
        if index is not None:
            values, label_kind = _label_values(classes, func)
            if len(values) == 1:     # a single class: every row is it
                index = g.node("Mul", [index, g.const("zero", 0, np.int64)])
            _labels_from(g, index, values, func)
            label_elem = _elem_of(g, label_kind)
        else:
            label_elem = tp.INT64
        outputs += [("label", label_elem, label_shape), ("probabilities", g.elem, ["N", n_cols])]
    else:                     # regressor: predict's shape
        if k == 1:
            g.node("Reshape", [A, g.const("shape", [-1], np.int64)], "values")
            outputs.append(("values", g.elem, ["N"]))
        else:
            g.node("Identity", [A], "values")
            outputs.append(("values", g.elem, ["N", k]))

    exported = type(model).__name__
    doc = (f"fastnn {_version()} {exported}: input X (N, {net.input_dim}) "
           f"{net.dtype.name}, raw features; outputs "
           + ", ".join(f"{name} {tuple(shape)}" for name, _, shape in outputs)
           + "; inference mode (BatchNorm running averages, no dropout)")
    graph = helper.make_graph(
        g.nodes, f"fastnn_{exported}",
        [helper.make_tensor_value_info("X", g.elem, ["N", net.input_dim])],
        _outputs_info(g, outputs), g.initializers, doc_string=doc)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              ir_version=_IR_VERSION[opset], producer_name="fastnn",
                              producer_version=_version(), doc_string=doc)
    meta = {"fastnn.version": _version(), "fastnn.kind": exported,
            "fastnn.config": json.dumps(net.get_config()),
            "fastnn.batchnorm": batchnorm,
            "fastnn.outputs": json.dumps([name for name, _, _ in outputs])}
    if net.normalizer is not None:
        meta["fastnn.normalizer"] = json.dumps(net.normalizer.to_arrays()[0])
    if classes is not None:
        meta["fastnn.classes"] = json.dumps([_jsonable(c) for c in np.asarray(classes).tolist()])
    if kind is not None:
        meta["fastnn.estimator_params"] = json.dumps(model.get_params(deep=False), default=repr)
    helper.set_model_props(proto, meta)
    if proto.ByteSize() >= 2 ** 31:
        raise ValueError(f"{func}: the model's weights take {proto.ByteSize() / 2 ** 30:.1f} GiB; "
                         f"an ONNX file holds at most 2 GiB without external data, which "
                         f"fastnn.onnx does not write")
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _jsonable(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _version():
    from fastnn import __version__
    return __version__


def export(model, path, *, batchnorm="fold", label=None, opset=OPSET):
    """Write ``model`` to ``path`` as an ONNX file (see ``to_onnx`` for the
    arguments and the module docstring for the graph), atomically as model
    files are written: a temporary file next to ``path``, renamed over it."""
    func = "fastnn.onnx.export"
    serialization.check_writable(path, func)          # before any work
    proto = _build(model, batchnorm, label, opset, func)
    data = proto.SerializeToString()
    serialization.atomic_write(path, lambda f: f.write(data), func)
