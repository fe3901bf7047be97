"""fastnn.onnx: what ONNX Runtime computes from an exported file is what fastnn
predicts, on real data (the 8x8 digits, scikit-learn's breast cancer table,
MNIST rows): every activation, BatchNorm (folded and as a node), Dropout, an
attached Normalizer, softmax / sigmoid / linear outputs, float32 (1e-5
relative) and float64 (1e-12), the scikit-learn estimators' labels exactly;
the ONNX checker passes; the command line; and the errors."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fn
from fastnn.datasets import load_digits
from fastnn.layers import ACTIVATIONS, Layer

from cli_helpers import assert_error, run

RTOL = {"float32": 1e-5, "float64": 1e-12}


@pytest.fixture(scope="module")
def onnx():
    return pytest.importorskip("onnx", reason="fastnn.onnx needs the onnx package "
                                              "(pip install 'fastnn[onnx]')")


@pytest.fixture(scope="module")
def ort(onnx):
    return pytest.importorskip("onnxruntime", reason="these tests run the exported files in "
                                                     "ONNX Runtime (pip install onnxruntime)")


def session(ort, path):
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def outputs(ort, path, X):
    """{output name: array} of ONNX Runtime on X."""
    sess = session(ort, path)
    names = [o.name for o in sess.get_outputs()]
    return dict(zip(names, sess.run(None, {"X": X})))


def exported_outputs(ort, model, path, X):
    """{output name: array} of ONNX Runtime on X, ``model`` exported to ``path``."""
    fn.onnx.export(model, path)
    return outputs(ort, path, X)


def assert_close(got, want, dtype):
    """Elementwise relative difference below RTOL[dtype] (no absolute slack)."""
    assert got.dtype == want.dtype and got.shape == want.shape, (got.dtype, got.shape,
                                                                want.dtype, want.shape)
    np.testing.assert_allclose(got, want, rtol=RTOL[dtype], atol=0)


def assert_values_close(got, want, dtype):
    """Predicted values: the difference below RTOL[dtype] times each output's
    scale (its largest magnitude).  Elementwise relative differences mean
    nothing for a value that crosses 0: there the last bits of the sums that
    cancel to it differ between any two GEMMs."""
    assert got.dtype == want.dtype and got.shape == want.shape
    scale = np.abs(want).max(axis=0)
    assert np.all(np.abs(got - want) <= RTOL[dtype] * scale), np.max(np.abs(got - want) / scale)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(np.float64)
    return X, y


@pytest.fixture(scope="module")
def cancer(shared_data):
    """scikit-learn's breast cancer table: 30 features on scales from 1e-3 to 1e3."""
    table = np.loadtxt(shared_data("breast_cancer.csv"), delimiter=",", skiprows=1)
    return table[:, :30], table[:, 30].astype(np.int64)


# ------------------------------------------------------------- import, errors

def test_import_fastnn_does_not_import_onnx():
    code = ("import sys, fastnn; assert 'onnx' not in sys.modules, 'onnx imported'; "
            "assert callable(fastnn.onnx.export)")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(__file__))


def test_without_onnx_the_error_says_what_to_install(monkeypatch, tmp_path, digits):
    model = fn.Sequential([fn.Dense(10, "softmax")], input_dim=64, seed=0)
    monkeypatch.setitem(sys.modules, "onnx", None)      # import onnx raises ImportError
    with pytest.raises(ImportError, match=r"pip install 'fastnn\[onnx\]'"):
        fn.onnx.export(model, tmp_path / "m.onnx")
    assert not list(tmp_path.iterdir())


def test_an_unbuilt_model_is_refused(onnx, tmp_path):
    model = fn.Sequential([fn.Dense(8), fn.Dense(3, "softmax")])
    with pytest.raises(ValueError, match="fastnn.onnx.export: the model is not built yet: "
                                         "give input_dim or call fit first"):
        fn.onnx.export(model, tmp_path / "m.onnx")


def test_other_objects_are_refused(onnx, tmp_path):
    with pytest.raises(TypeError, match="model must be a fastnn Sequential or a fitted "
                                        "fastnn.sklearn MLPClassifier / MLPRegressor; got "
                                        "builtins.dict"):
        fn.onnx.export({"W": 1}, tmp_path / "m.onnx")


def test_a_layer_without_onnx_equivalent_is_refused(onnx, tmp_path):
    class Scale(Layer):
        kind = "scale"

        def forward(self, A, training):
            return 2 * A

    model = fn.Sequential([fn.Dense(8), Scale(), fn.Dense(3, "softmax")], input_dim=4, seed=0)
    with pytest.raises(ValueError, match=r"layer 'scale_1' \(Scale\) has no ONNX equivalent"):
        fn.onnx.export(model, tmp_path / "m.onnx")


def test_an_input_transform_without_onnx_equivalent_is_refused(onnx, tmp_path):
    class Log:
        def transform(self, X):
            return np.log1p(X)

    model = fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0)
    model.normalizer = Log()
    with pytest.raises(ValueError, match="input transform .* has no ONNX equivalent"):
        fn.onnx.export(model, tmp_path / "m.onnx")


@pytest.mark.parametrize("kwargs, message", [
    ({"batchnorm": "merge"}, r"batchnorm must be one of \['fold', 'node'\]; got 'merge'"),
    ({"opset": 12}, r"opset must be an integer in \[13, 19\]"),
    ({"opset": 25}, r"opset must be an integer in \[13, 19\]"),
    ({"label": "yes"}, "label must be True or False"),
])
def test_options_out_of_range_are_refused(onnx, tmp_path, kwargs, message):
    model = fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0)
    with pytest.raises(ValueError, match="fastnn.onnx.export: " + message):
        fn.onnx.export(model, tmp_path / "m.onnx", **kwargs)


def test_a_label_needs_a_classifier(onnx, tmp_path):
    model = fn.Sequential([fn.Dense(2, "linear")], input_dim=4, seed=0)
    with pytest.raises(ValueError, match="label=True needs a classifier"):
        fn.onnx.export(model, tmp_path / "m.onnx", label=True)


def test_unwritable_paths_are_refused_before_any_work(onnx, tmp_path):
    model = fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0)
    with pytest.raises(FileNotFoundError, match="fastnn.onnx.export: cannot write .*: the folder "
                                                ".* does not exist"):
        fn.onnx.export(model, tmp_path / "missing" / "m.onnx")
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        fn.onnx.export(model, tmp_path)


def test_a_failed_export_leaves_the_old_file(onnx, tmp_path):
    """Written atomically: the old file stays whole when the export fails,
    and no temporary file is left."""
    path = tmp_path / "m.onnx"
    fn.onnx.export(fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0), path)
    before = path.read_bytes()
    with pytest.raises(ValueError):
        fn.onnx.export(fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0), path,
                       batchnorm="merge")
    with pytest.raises(TypeError):
        fn.onnx.export(object(), path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.onnx"]


# ------------------------------------------------------------- Sequential

def _trained(dtype, hidden_activation, X, y, normalizer=True, batch_norm=True, seed=0):
    """Dense -> BatchNorm -> Dropout -> Dense -> Dense softmax, trained briefly."""
    layers = [fn.Dense(32, hidden_activation)]
    if batch_norm:
        layers.append(fn.BatchNorm())
    layers += [fn.Dropout(0.8), fn.Dense(16, hidden_activation), fn.Dense(10, "softmax")]
    model = fn.Sequential(layers, input_dim=X.shape[1], dtype=dtype, seed=seed)
    if normalizer:
        model.normalizer = fn.Normalizer().fit(X)
    model.fit(X, y, epochs=3, batch_size=64, verbose=0)
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_every_activation_with_batchnorm_dropout_and_normalizer(ort, tmp_path, digits, dtype,
                                                                activation):
    X, y = digits
    X = X * 16          # raw pixel counts 0..16: the Normalizer in the graph scales them
    model = _trained(dtype, activation, X, y)
    bn = model.layers[1]
    # trained: running statistics away from their starting 0 and 1
    assert np.abs(bn.running_mean).max() > 0.05 and np.abs(bn.running_var - 1).max() > 0.05
    Xd = X.astype(dtype)
    P = model.predict_proba(Xd)
    for mode in ("fold", "node"):
        path = tmp_path / f"{mode}.onnx"
        fn.onnx.export(model, path, batchnorm=mode, label=True)
        got = outputs(ort, path, Xd)
        assert_close(got["probabilities"], P, dtype)
        np.testing.assert_array_equal(got["label"], model.predict(Xd))
        assert got["label"].dtype == np.int64


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sigmoid_outputs_on_breast_cancer(ort, tmp_path, cancer, dtype):
    """One logistic unit (binary) and several (multi-label), features of very
    different scales through the Normalizer."""
    X, y = cancer
    Xd = X.astype(dtype)
    for targets in (y, np.c_[y, X[:, 0] > np.median(X[:, 0]), X[:, 1] > 20].astype(np.float64)):
        k = 1 if targets.ndim == 1 else targets.shape[1]
        model = fn.Sequential([fn.Dense(16, "tanh"), fn.BatchNorm(), fn.Dense(k, "sigmoid")],
                              input_dim=30, dtype=dtype, seed=1)
        model.normalizer = fn.Normalizer().fit(X)
        model.fit(X, targets, optimizer=fn.Adam(learning_rate=0.02), epochs=30, batch_size=32,
                  verbose=0)
        path = tmp_path / "m.onnx"
        fn.onnx.export(model, path, label=True)
        got = outputs(ort, path, Xd)
        P = model.predict_proba(Xd)
        assert P.min() < 1e-4      # small probabilities: relative precision matters there
        assert_close(got["probabilities"], P, dtype)
        np.testing.assert_array_equal(got["label"], model.predict(Xd))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_linear_output_gives_values(ort, tmp_path, cancer, dtype):
    X, _ = cancer
    targets = np.c_[X[:, 0] / 10, X[:, 2] / 100]          # radius and perimeter, rescaled
    features = X[:, 3:]
    model = fn.Sequential([fn.Dense(16, "leaky_relu", negative_slope=0.1), fn.BatchNorm(),
                           fn.Dense(2, "linear")], input_dim=27, dtype=dtype, seed=2)
    model.normalizer = fn.Normalizer().fit(features)
    model.fit(features, targets, epochs=10, verbose=0)
    got = exported_outputs(ort, model, tmp_path / "m.onnx", features.astype(dtype))
    assert list(got) == ["values"]
    assert_values_close(got["values"], model.predict(features.astype(dtype)), dtype)


def test_text_labels_of_a_sequential(ort, tmp_path, digits):
    X, y = digits
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    model = fn.Sequential([fn.Dense(32), fn.Dense(10, "softmax")], input_dim=64, seed=0)
    model.fit(X, names[y], epochs=3, verbose=0)
    path = tmp_path / "m.onnx"
    fn.onnx.export(model, path, label=True)
    got = outputs(ort, path, X.astype(np.float32))
    np.testing.assert_array_equal(got["label"], model.predict(X))
    assert json.loads(_metadata(path)["fastnn.classes"]) == list(names[np.argsort(names)])


def test_mnist_network_in_float32(ort, tmp_path, shared_data):
    """The bench's 784-256-128-10 with BatchNorm on 2,000 MNIST test images."""
    with np.load(shared_data("mnist.npz")) as f:
        X = f["x_test"][:2000].reshape(-1, 784).astype(np.float32) / 255
        y = f["y_test"][:2000].astype(np.int64)
    model = fn.Sequential([fn.Dense(256), fn.BatchNorm(), fn.Dense(128), fn.BatchNorm(),
                           fn.Dropout(0.9), fn.Dense(10, "softmax")], input_dim=784, seed=0)
    model.fit(X, y, epochs=2, batch_size=128, verbose=0)
    P = model.predict_proba(X)
    for mode in ("fold", "node"):
        fn.onnx.export(model, tmp_path / "m.onnx", batchnorm=mode)
        assert_close(outputs(ort, tmp_path / "m.onnx", X)["probabilities"], P, "float32")


# ------------------------------------------------------------- the file itself

def _metadata(path):
    import onnx
    return {p.key: p.value for p in onnx.load(str(path)).metadata_props}


def test_the_file_passes_the_checker_and_says_what_it_is(onnx, ort, tmp_path, digits):
    X, y = digits
    model = _trained("float32", "relu", X, y)
    path = tmp_path / "m.onnx"
    fn.onnx.export(model, path)
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert [(o.domain, o.version) for o in proto.opset_import] == [("", fn.onnx.OPSET)]
    assert fn.onnx.OPSET == 19 and proto.ir_version == 9
    assert proto.producer_name == "fastnn" and proto.producer_version == fn.__version__
    (inp,) = proto.graph.input
    assert inp.name == "X"
    dims = inp.type.tensor_type.shape.dim
    assert dims[0].dim_param == "N" and dims[1].dim_value == 64
    assert [o.name for o in proto.graph.output] == ["probabilities"]
    meta = _metadata(path)
    assert meta["fastnn.version"] == fn.__version__
    assert meta["fastnn.kind"] == "Sequential" and meta["fastnn.batchnorm"] == "fold"
    assert json.loads(meta["fastnn.config"]) == model.get_config()
    assert json.loads(meta["fastnn.normalizer"]) == {"kind": "normalizer", "eps": 1e-8}
    # folded: no BatchNormalization node, no Dropout; Gemm per Dense
    ops = [n.op_type for n in proto.graph.node]
    assert "BatchNormalization" not in ops and "Dropout" not in ops
    assert ops.count("Gemm") == 3
    fn.onnx.export(model, path, batchnorm="node")
    assert [n.op_type for n in onnx.load(str(path)).graph.node].count("BatchNormalization") == 1


def test_an_older_opset_for_older_runtimes(onnx, ort, tmp_path, digits):
    X, y = digits
    model = _trained("float64", "leaky_relu", X, y)
    path = tmp_path / "m.onnx"
    fn.onnx.export(model, path, opset=13, batchnorm="node")
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == 13 and proto.ir_version == 7
    assert_close(outputs(ort, path, X)["probabilities"], model.predict_proba(X), "float64")


def test_to_onnx_returns_the_model_in_memory(onnx, ort, digits):
    X, y = digits
    model = _trained("float32", "tanh", X, y, normalizer=False, batch_norm=False)
    proto = fn.onnx.to_onnx(model)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    Xf = X.astype(np.float32)
    assert_close(sess.run(["probabilities"], {"X": Xf})[0], model.predict_proba(Xf), "float32")


# ------------------------------------------------------------- estimators

@pytest.fixture(scope="module")
def sk():
    return pytest.importorskip("fastnn.sklearn", reason="the estimators need scikit-learn")


def _fit_quietly(est, X, y):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")      # ConvergenceWarning: a few epochs only
        return est.fit(X, y)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kind", ["multiclass int", "multiclass str", "binary int", "binary str",
                                  "multilabel"])
def test_classifier_labels_and_probabilities(sk, ort, tmp_path, digits, dtype, kind):
    X, y = digits
    Xd = X.astype(dtype)
    names = np.array(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight",
                      "nine"])
    target = {"multiclass int": y, "multiclass str": names[y], "binary int": 3 + 4 * (y > 4),
              "binary str": np.where(y % 2, "odd", "even"),
              "multilabel": np.c_[y % 2, y > 4, y == 3].astype(np.int64)}[kind]
    clf = _fit_quietly(sk.MLPClassifier((24,), max_iter=4, random_state=0, batch_norm=True,
                                        keep_prob=0.9), Xd, target)
    got = exported_outputs(ort, clf, tmp_path / "clf.onnx", Xd)
    assert list(got) == ["label", "probabilities"]
    want = clf.predict(Xd)
    np.testing.assert_array_equal(got["label"], want)
    assert got["label"].shape == want.shape
    assert (got["label"].dtype == object) == (want.dtype.kind == "U")
    assert_close(got["probabilities"], clf.predict_proba(Xd), dtype)
    meta = _metadata(tmp_path / "clf.onnx")
    assert meta["fastnn.kind"] == "MLPClassifier"
    assert json.loads(meta["fastnn.estimator_params"])["hidden_layer_sizes"] == [24]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_regressor_values_as_predict(sk, ort, tmp_path, cancer, dtype, n_targets):
    X, _ = cancer
    # standardized, as a StandardScaler before the estimator gives them
    features = fn.Normalizer().fit_transform(X[:, 3:])
    targets = np.c_[X[:, 0], X[:, 2] / 10][:, :n_targets]
    if n_targets == 1:
        targets = targets[:, 0]
    reg = _fit_quietly(sk.MLPRegressor(hidden_layer_sizes=(16,), max_iter=20, random_state=0),
                       features.astype(dtype), targets)
    got = exported_outputs(ort, reg, tmp_path / "reg.onnx", features.astype(dtype))
    assert list(got) == ["values"]
    assert_values_close(got["values"], reg.predict(features.astype(dtype)), dtype)


def test_estimator_errors(sk, onnx, tmp_path):
    with pytest.raises(ValueError, match="fastnn.onnx.export: this MLPClassifier is not fitted "
                                         "yet: call fit first"):
        fn.onnx.export(sk.MLPClassifier(), tmp_path / "m.onnx")
    X, y = load_digits()
    clf = _fit_quietly(sk.MLPClassifier((8,), max_iter=1, random_state=0), X, y)
    with pytest.raises(ValueError, match="label is for a Sequential"):
        fn.onnx.export(clf, tmp_path / "m.onnx", label=True)


# ------------------------------------------------------------- command line

def test_cli_export(ort, tmp_path, capsys, cancer):
    X, y = cancer
    data = tmp_path / "cancer.csv"
    labels = np.where(y == 1, "benign", "malignant")
    with open(data, "w") as f:
        f.write(",".join(f"f{i}" for i in range(30)) + ",diagnosis\n")
        for row, label in zip(X, labels):
            f.write(",".join(f"{v:.6g}" for v in row) + f",{label}\n")
    model_path = tmp_path / "cancer.fnn"
    code, out, err = run(capsys, "train", data, "--normalize", "--batchnorm", "--layers", "16",
                         "--epochs", "5", "--output", model_path)
    assert code == 0, err
    onnx_path = tmp_path / "cancer.onnx"
    code, out, err = run(capsys, "export", model_path, onnx_path, "--label")
    assert code == 0, err
    assert f"written to {onnx_path}" in out and "outputs probabilities, label" in out
    model = fn.load_model(model_path)
    Xf = np.loadtxt(data, delimiter=",", skiprows=1, usecols=range(30)).astype(np.float32)
    got = outputs(ort, onnx_path, Xf)
    assert_close(got["probabilities"], model.predict_proba(Xf), "float32")
    np.testing.assert_array_equal(got["label"], model.predict(Xf))
    assert set(got["label"]) <= {"benign", "malignant"}


def test_cli_export_errors(onnx, tmp_path, capsys):
    model_path = tmp_path / "m.fnn"
    fn.Sequential([fn.Dense(3, "softmax")], input_dim=4, seed=0).save(model_path)
    assert_error(capsys, ["export", tmp_path / "none.fnn", tmp_path / "m.onnx"], "no such file")
    assert_error(capsys, ["export", model_path, tmp_path / "no" / "m.onnx"], "cannot write")
    assert_error(capsys, ["export", model_path, tmp_path / "m.onnx", "--opset", "9"],
                 "opset must be an integer in [13, 19]")
    assert_error(capsys, ["export", model_path, tmp_path / "m.onnx", "--batchnorm", "x"],
                 "invalid choice")
    assert not (tmp_path / "m.onnx").exists()
