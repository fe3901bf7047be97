"""What a newcomer meets: text labels, the course's layout, unnormalized
inputs, conversions, model files from another version, silent endings,
Keras' and PyTorch's spellings.  Each test names the rough edge it fixes."""
import json
import re
import warnings

import numpy as np
import pytest

import fastnn as fn
import hostile_files as hostile


def text_data(m=90, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, 4)).astype(np.float32)
    names = np.array(["benign", "malignant", "unknown"])
    return X, names[np.argmax(X[:, :3], axis=1)]


def small(units=3, activation="softmax", seed=0):
    return fn.Sequential([fn.Dense(8, "tanh"), fn.Dense(units, activation)], seed=seed)


# -- text labels -----------------------------------------------------------------

def test_text_labels_train_predict_evaluate_and_survive_a_save(tmp_path):
    # before: "fit: y must be numeric; got dtype <U9"
    X, y = text_data()
    model = small()
    model.fit(X, y, optimizer=fn.Adam(0.05), epochs=30, verbose=0)
    assert list(model.classes_) == ["benign", "malignant", "unknown"]
    predicted = model.predict(X)
    assert predicted.dtype.kind == "U" and set(predicted) <= set(model.classes_)
    assert np.mean(predicted == y) > 0.9
    assert model.evaluate(X, y)["accuracy"] > 0.9
    assert model.predict_proba(X).shape == (90, 3)        # columns in classes_ order
    model.save(tmp_path / "m.fnn")
    loaded = fn.load_model(tmp_path / "m.fnn")
    assert list(loaded.classes_) == list(model.classes_)
    np.testing.assert_array_equal(loaded.predict(X), predicted)


def test_text_labels_of_a_pandas_like_object_column_and_a_binary_sigmoid():
    X, y = text_data()
    two = np.where(y == "benign", "benign", "malignant").astype(object)   # a DataFrame column
    model = small(1, "sigmoid")
    model.fit(X, two, optimizer=fn.Adam(0.05), epochs=20, verbose=0)
    assert list(model.classes_) == ["benign", "malignant"]
    assert set(model.predict(X)) <= {"benign", "malignant"}


def test_text_label_mistakes_are_clear():
    X, y = text_data()
    model = small(2)
    with pytest.raises(ValueError, match=r"y has 3 classes \(\['benign', 'malignant', "
                                         r"'unknown'\]\) but the output layer has 2 units"):
        model.fit(X, y, verbose=0)
    # more units than classes: predict could answer with an untrained unit
    with pytest.raises(ValueError, match=r"y has 3 classes .* the output layer has 5 units, one "
                                         r"per class: give the output layer 3 softmax units"):
        small(5).fit(X, y, verbose=0)
    with pytest.raises(ValueError, match=r"y has 1 classes .* one sigmoid unit tells 2 classes "
                                         r"apart.*a second class is needed"):
        small(1, "sigmoid").fit(X, np.full(90, "yes"), verbose=0)
    model = small()
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"y holds labels the model does not know: \['cat'\]"):
        model.evaluate(X[:2], ["cat", "benign"])
    with pytest.raises(ValueError, match="this model answers in the labels"):
        model.evaluate(X[:2], [0, 1])
    with pytest.raises(TypeError, match="regression targets must be numbers"):
        small(1, "linear").fit(X, y, verbose=0)


# -- the course's layout -----------------------------------------------------------

def test_the_course_layout_gets_a_hint():
    # before: "X must have 4 features (columns); got 90" and "X has 4 rows but y has 90"
    X, y = text_data()
    model = small()
    with pytest.raises(ValueError, match=r"X has 4 rows but y has 90 \(did you pass X as "
                                         r"\(n_features, m\)\? use X.T"):
        model.fit(X.T, y, verbose=0)
    model.fit(X, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"X must have 4 features \(columns\); got 90 \(did you "
                                         r"pass \(n_features, m\), the course's layout\? use X.T"):
        model.predict(X.T)
    with pytest.raises(ValueError, match=r"the course's row of labels \(1, m\)\? use y.ravel\(\)"):
        small().fit(X, np.zeros((1, 90), int), verbose=0)


def test_a_label_column_m_by_1_is_labels_not_one_hot():
    # before: "one-hot y must have shape (90, 3); got (90, 1)"
    X, y = text_data()
    index = np.searchsorted(["benign", "malignant", "unknown"], y).reshape(-1, 1)
    a, b = small(seed=3), small(seed=3)
    a.fit(X, index, epochs=2, verbose=0)
    b.fit(X, index.ravel(), epochs=2, verbose=0)
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


# -- unnormalized inputs -----------------------------------------------------------

def test_features_orders_of_magnitude_apart_get_a_warning_naming_the_normalizer():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 5)) * [1, 0.1, 700, 20, 0.01]     # breast-cancer-like
    y = (X[:, 0] > 0).astype(int)
    with pytest.warns(UserWarning, match=r"not normalized: feature 2 has values around .*"
                                         r"fn.Normalizer\(\).fit\(X_train\).*--normalize"):
        small(2).fit(X, y, epochs=1, verbose=0)
    model = small(2)
    model.normalizer = fn.Normalizer().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, epochs=1, verbose=0)                          # normalized: no word
        small(2).fit(rng.random((200, 5)), y, epochs=1, verbose=0)   # [0, 1] pixels: none


def test_a_dev_error_below_the_training_error_is_explained_not_a_negative_variance():
    # before: "variance -4.91%"
    d = fn.diagnose(train_error=0.10, dev_error=0.0509)
    assert "-" not in d.gaps() and "no variance (dev error 4.91% below the train error)" in d.gaps()
    assert any("below the training error" in a and "dropout" in a for a in d.advice)
    assert "variance -" not in repr(d) and "variance -" not in str(d)


# -- conversions -----------------------------------------------------------------

def test_conversions_that_cannot_be_exact_are_said():
    X = np.arange(40).reshape(10, 4)
    y = np.arange(10) % 3
    model = small()
    with pytest.warns(UserWarning, match=r"integers above 2\*\*24, which float32 cannot hold"):
        model.fit(X + 2 ** 25, y, epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"X holds values beyond the range of the model's "
                                         r"float32 \(largest magnitude 1e\+39\)"):
        model.predict(np.full((2, 4), 1e39))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.predict(X.tolist())                 # a list, small integers: exact, no word
        model.predict(X.astype(np.uint8))


# -- model files from another version ------------------------------------------------

@pytest.fixture
def model_file(tmp_path):
    path = tmp_path / "m.fnn"
    hostile.small_model_file(path)
    return path


def rewrite_header(src, dst, change):
    entries = hostile.entries_of(src)
    header = hostile._header(entries)
    change(header)
    hostile.write_entries(dst, hostile.with_header(entries, header))


def test_a_file_from_a_newer_fastnn_says_upgrade(model_file, tmp_path):
    # before: "is format version 2; this fastnn reads version 1"
    rewrite_header(model_file, tmp_path / "new.fnn", lambda h: h.update(version=2))
    with pytest.raises(ValueError, match=r"was written by a newer fastnn \(model file format 2; "
                                         r"this fastnn .* reads format 1\): upgrade fastnn"):
        fn.load_model(tmp_path / "new.fnn")


def test_an_unknown_layer_option_says_upgrade(model_file, tmp_path):
    # before: "damaged or incomplete: Dense.__init__() got an unexpected keyword argument"
    rewrite_header(model_file, tmp_path / "opt.fnn",
                   lambda h: h["model"]["layers"][0].update(groups=4))
    with pytest.raises(ValueError, match=r"the dense layer 'dense_1' has options this fastnn "
                                         r"does not know: \['groups'\] \(a model from a newer "
                                         r"fastnn\? upgrade fastnn\)"):
        fn.load_model(tmp_path / "opt.fnn")


def test_a_truncated_file_says_so(model_file, tmp_path):
    # before: "(File is not a zip file)"
    data = model_file.read_bytes()
    (tmp_path / "cut.fnn").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"cut.fnn is truncated: the file ends before its table "
                                         r"of entries .*copied or downloaded completely"):
        fn.load_model(tmp_path / "cut.fnn")


# -- silent endings ------------------------------------------------------------------

def run_early_stopping(fit_verbose, capsys, **kwargs):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    model = small(2)
    history = model.fit(X, y, epochs=40, verbose=fit_verbose, optimizer=fn.SGD(2.0),
                        validation_data=(X[:30], y[:30]),
                        callbacks=[fn.EarlyStopping(patience=1, **kwargs)])
    return history, capsys.readouterr().out


def test_early_stopping_says_which_epoch_it_restored_when_verbose(capsys):
    history, out = run_early_stopping(2, capsys)
    said = re.search(r"EarlyStopping: stopped at epoch (\d+); restored the weights of epoch "
                     r"(\d+), the best \(val_loss ([\d.e-]+)\)", out)
    assert said, out
    best = int(said.group(2))
    assert history["val_loss"][best - 1] == min(history["val_loss"])   # counted from 1
    assert f"epoch {said.group(1)}:" in out          # as the epoch lines count
    assert f"(best {float(said.group(3)):.6g} at epoch {best})" in history.stop_reason
    _, quiet = run_early_stopping(0, capsys)
    assert quiet == ""
    _, asked = run_early_stopping(0, capsys, verbose=1)
    assert "EarlyStopping: stopped at epoch" in asked


def test_summary_labels_what_each_layer_applies():
    # before: both the Dense and its BatchNorm were labelled "relu"
    model = fn.Sequential([fn.Dense(8, "relu"), fn.BatchNorm(), fn.Dense(2, "softmax")],
                          input_dim=3)
    lines = model.summary().splitlines()
    assert lines[1].split()[:2] == ["dense_1", "linear"]
    assert lines[2].split()[:2] == ["batchnorm_1", "relu"]


# -- Keras' and PyTorch's spellings ----------------------------------------------------

def test_optimizer_names_and_lr():
    X, y = text_data()
    model = small()
    model.fit(X, y, optimizer="adam", epochs=1, verbose=0)
    assert isinstance(model.optimizer, fn.Adam) and model.optimizer.learning_rate == 1e-3
    for name, cls in (("SGD", fn.SGD), ("momentum", fn.Momentum), ("rmsprop", fn.RMSprop)):
        small().fit(X, y, optimizer=name, epochs=1, verbose=0)
        assert type(fn.optim.get(name)) is cls
    with pytest.raises(TypeError, match=r"optimizer must be a fastnn optimizer .* or one of the "
                                        r"names \['adam', 'momentum', 'rmsprop', 'sgd'\]; got 'adamw'"):
        small().fit(X, y, optimizer="adamw", verbose=0)
    assert fn.Adam(lr=0.01).learning_rate == 0.01 and fn.SGD(lr=0.5).learning_rate == 0.5
    with pytest.raises(TypeError, match="give learning_rate or lr"):
        fn.Adam(0.1, lr=0.2)
    assert json.dumps(fn.Adam(lr=0.01).get_config())


def test_importing_the_unbuilt_source_folder_says_what_to_do(tmp_path):
    # before: "ModuleNotFoundError: No module named 'fastnn._runtime'" when Python
    # runs in a fresh clone's folder (as README's first command leaves a user)
    import os
    import shutil
    import subprocess
    import sys
    (tmp_path / "fastnn").mkdir()
    shutil.copy(os.path.join(os.path.dirname(fn.__file__), "__init__.py"), tmp_path / "fastnn")
    # -S: no site hooks (an editable install's finder would win over the folder)
    proc = subprocess.run([sys.executable, "-S", "-c", "import fastnn"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].startswith(
        f"ImportError: fastnn was imported from its source folder ({tmp_path / 'fastnn'}), "
        f"whose kernels are not built")


def test_the_course_weight_layout_gets_a_hint():
    model = fn.Sequential([fn.Dense(8), fn.Dense(2, "softmax")], input_dim=3)
    weights = model.get_weights()
    weights[0] = weights[0].T
    with pytest.raises(ValueError, match=r"dense_1.W must have shape \(3, 8\); got \(8, 3\) "
                                         r"\(the course's W is \(n_out, n_in\): use W.T\)"):
        model.set_weights(weights)


def test_a_copy_is_another_model_for_the_optimizer_ownership_check():
    import copy
    X, y = text_data()
    a = small()
    a.fit(X, y, epochs=1, verbose=0)
    c = copy.deepcopy(a)
    assert c.params.uid != a.params.uid and c.optimizer.owner == c.params.uid
    c.fit(X, y, epochs=1, verbose=0)                       # its own optimizer copy: fine
    with pytest.raises(ValueError, match="already holds the state of another model"):
        c.fit(X, y, optimizer=a.optimizer, verbose=0)


def test_a_huge_integer_is_a_parameter_error_not_an_overflow():
    with pytest.raises(fn.checks.ParameterError, match="learning_rate must be a finite number"):
        fn.Adam(10 ** 400)
