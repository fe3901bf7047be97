"""fastnn.sklearn: drop-in replacements for scikit-learn's MLPClassifier and
MLPRegressor, checked against scikit-learn's own estimators, its estimator
checks and what its MLP test module checks."""
import inspect
import io
import pickle
import re
import warnings
from contextlib import redirect_stdout

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn (optional) is not installed")

import scipy.sparse as sp  # noqa: E402
import sklearn.neural_network as skl  # noqa: E402
from sklearn.base import clone  # noqa: E402
from sklearn.datasets import (load_digits, load_iris, make_multilabel_classification,  # noqa: E402
                              make_regression)
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import MinMaxScaler, StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from fastnn import schedules  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402

PAIRS = [(MLPClassifier, skl.MLPClassifier), (MLPRegressor, skl.MLPRegressor)]

# scikit-learn's MLP test data: 3 and 2 digit classes, scaled to [0, 1]
_X3, _y3 = load_digits(n_class=3, return_X_y=True)
X_MULTI, Y_MULTI = MinMaxScaler().fit_transform(_X3[:200]), _y3[:200]
_X2, _y2 = load_digits(n_class=2, return_X_y=True)
X_BIN, Y_BIN = MinMaxScaler().fit_transform(_X2[:200]), _y2[:200]
X_IRIS, Y_IRIS = load_iris(return_X_y=True)
X_REG, Y_REG = make_regression(n_samples=200, n_features=10, n_targets=3, noise=5.0,
                               random_state=7)
Y_REG = Y_REG / Y_REG.std(axis=0)
X_ML, Y_ML = make_multilabel_classification(n_samples=150, n_features=12, n_classes=4,
                                            random_state=0)
X_ML = StandardScaler().fit_transform(X_ML)

quiet = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

# ------------------------------------------------------------ conventions
_CHECK_ESTIMATOR = """
import json, warnings
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import check_estimator
from fastnn.sklearn import {name}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    results = check_estimator({name}(), on_fail=None)
print(json.dumps([{{"check_name": r["check_name"], "status": r["status"],
                   "exception": str(r["exception"])}} for r in results]))
"""


@pytest.mark.parametrize("name", ["MLPClassifier", "MLPRegressor"])
def test_check_estimator(name, tmp_path):
    # every check runs and passes, the sample-weight ones included (weighted =
    # repeated or dropped rows, weights not overwritten, one class left by the
    # weights) and the array API one: SciPy reads SCIPY_ARRAY_API when it is
    # first imported, so the checks run in a process of their own
    import json
    import os
    import subprocess
    import sys
    env = dict(os.environ, SCIPY_ARRAY_API="1")
    out = subprocess.run([sys.executable, "-c", _CHECK_ESTIMATOR.format(name=name)], env=env,
                         cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.strip().splitlines()[-1])
    failed = [(r["check_name"], r["exception"]) for r in results if r["status"] == "failed"]
    assert not failed
    names = {r["check_name"] for r in results if r["status"] == "passed"}
    assert {"check_sample_weights_not_overwritten",
            "check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data", "check_array_api_input"} <= names
    if name == "MLPClassifier":
        assert {"check_classifiers_one_label_sample_weights",
                "check_classifiers_multilabel_output_format_decision_function"} <= names
    skipped = [(r["check_name"], r["exception"]) for r in results if r["status"] == "skipped"]
    try:
        import pandas  # noqa: F401   (in the test extra through dask-ml)
    except ImportError:
        skipped = [s for s in skipped if "pandas is not installed" not in s[1]]
    assert not skipped


def test_decision_function_is_what_predict_proba_activates():
    for X, y in ((X_MULTI, Y_MULTI), (X_BIN, Y_BIN), (X_ML, Y_ML)):
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(X, y)
        Z, P = clf.decision_function(X), clf.predict_proba(X)
        if y is Y_MULTI:
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            np.testing.assert_allclose(E / E.sum(axis=1, keepdims=True), P, rtol=1e-5, atol=1e-7)
            np.testing.assert_array_equal(clf.classes_[Z.argmax(axis=1)], clf.predict(X))
        elif y is Y_BIN:
            assert Z.shape == (len(X),)
            np.testing.assert_allclose(1 / (1 + np.exp(-Z)), P[:, 1], rtol=1e-5, atol=1e-7)
            np.testing.assert_array_equal(clf.classes_[(Z > 0).astype(int)], clf.predict(X))
        else:
            assert Z.shape == Y_ML.shape
            np.testing.assert_allclose(1 / (1 + np.exp(-Z)), P, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("ours, theirs", PAIRS, ids=["classifier", "regressor"])
def test_same_parameters_and_defaults_as_scikit_learn(ours, theirs):
    mine = inspect.signature(ours.__init__).parameters
    sklearns = inspect.signature(theirs.__init__).parameters
    assert [name for name in mine if name in sklearns] == list(sklearns)   # same order
    for name, param in sklearns.items():
        assert mine[name].default == param.default, name
        assert mine[name].kind == param.kind, name
    # MLPRegressor's loss came with scikit-learn 1.7 (first, positional)
    older = {"loss"} if ours is MLPRegressor and "loss" not in sklearns else set()
    extras = {"batch_norm", "keep_prob", "dtype"} | (
        {"class_weight"} if ours is MLPClassifier else set())
    assert set(mine) - set(sklearns) == extras | older
    assert ours().get_params().keys() == set(mine) - {"self"}


def test_clone_get_set_params_keep_what_was_given():
    schedule = schedules.ExponentialDecay(0.1, base=0.9)
    clf = MLPClassifier(hidden_layer_sizes=[7, 5], learning_rate=schedule, alpha=0.5)
    twin = clone(clf)
    assert twin.get_params()["hidden_layer_sizes"] == [7, 5]
    assert twin.learning_rate == schedule
    assert twin.set_params(alpha=2.0).alpha == 2.0 and clf.alpha == 0.5


@pytest.mark.parametrize("params, match", [
    ({"hidden_layer_sizes": -1}, "hidden_layer_sizes must be > 0"),
    ({"hidden_layer_sizes": (5, 0)}, "hidden_layer_sizes must be > 0"),
    ({"hidden_layer_sizes": "big"}, "hidden_layer_sizes"),
    ({"activation": "cloak"}, "activation"),
    ({"solver": "lbfgs"}, "solver='lbfgs' is not available.*'adam'.*'sgd'"),
    ({"solver": "newton"}, "solver"),
    ({"alpha": -1}, "alpha"),
    ({"batch_size": 0}, "batch_size"),
    ({"batch_size": "big"}, "batch_size"),
    ({"learning_rate": "fast"}, "learning_rate"),
    ({"learning_rate_init": 0}, "learning_rate_init"),
    ({"power_t": -0.5}, "power_t"),
    ({"max_iter": 0}, "max_iter"),
    ({"max_iter": 2.5}, "max_iter"),
    ({"shuffle": 1}, "shuffle"),
    ({"random_state": "seed"}, "random_state"),
    ({"tol": -1}, "tol"),
    ({"momentum": 2}, "momentum"),
    ({"momentum": 1.0}, "momentum=1 is not available"),
    ({"momentum": -0.5}, "momentum"),
    ({"nesterovs_momentum": "yes"}, "nesterovs_momentum"),
    ({"early_stopping": None}, "early_stopping"),
    ({"validation_fraction": 1}, "validation_fraction"),
    ({"beta_1": 1}, "beta_1"),
    ({"beta_2": -0.5}, "beta_2"),
    ({"epsilon": -0.5}, "epsilon"),
    ({"n_iter_no_change": -1}, "n_iter_no_change"),
    ({"max_fun": -1}, "max_fun"),
    ({"keep_prob": 0.0}, "keep_prob"),
    ({"dtype": "int8"}, "dtype"),
])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_bad_parameters_are_refused_at_fit(cls, params, match):
    est = cls(**params)                     # __init__ only stores
    with pytest.raises(ValueError, match=match):
        est.fit(X_BIN[:20], Y_BIN[:20])


def test_regressor_refuses_the_poisson_loss():
    with pytest.raises(ValueError, match="loss='poisson'.*'squared_error'"):
        MLPRegressor(loss="poisson").fit(X_BIN[:20], Y_BIN[:20])
    with pytest.raises(ValueError, match="loss"):
        MLPRegressor(loss="absolute_error").fit(X_BIN[:20], Y_BIN[:20])


# ------------------------------------------------------------ scikit-learn's numbers
# Without shuffling nothing is random after the initial weights, which come
# from random_state as scikit-learn's do: every step is then scikit-learn's.
EXACT = [
    ("adam", MLPClassifier, X_MULTI, Y_MULTI, {}),
    ("sgd nesterov binary", MLPClassifier, X_BIN, Y_BIN,
     {"solver": "sgd", "learning_rate_init": 0.1, "activation": "tanh"}),
    ("sgd plain", MLPClassifier, X_MULTI, Y_MULTI,
     {"solver": "sgd", "momentum": 0.0, "learning_rate_init": 0.2, "activation": "logistic"}),
    ("sgd invscaling", MLPClassifier, X_MULTI, Y_MULTI,
     {"solver": "sgd", "learning_rate": "invscaling", "learning_rate_init": 0.5,
      "power_t": 0.25, "nesterovs_momentum": False}),
    ("sgd adaptive", MLPClassifier, X_MULTI, Y_MULTI,
     {"solver": "sgd", "learning_rate": "adaptive", "learning_rate_init": 0.2, "tol": 0.02,
      "n_iter_no_change": 2}),
    ("early stopping", MLPClassifier, X_MULTI, Y_MULTI,
     {"early_stopping": True, "solver": "sgd", "learning_rate_init": 0.05, "batch_size": 32}),
    ("multilabel", MLPClassifier, X_ML, Y_ML,
     {"solver": "sgd", "learning_rate_init": 0.1, "alpha": 0.01, "activation": "identity"}),
    ("regression adam", MLPRegressor, X_REG, Y_REG, {"alpha": 0.1}),
    ("regression sgd", MLPRegressor, X_REG, Y_REG,
     {"solver": "sgd", "learning_rate_init": 0.01, "alpha": 0.1, "learning_rate": "invscaling",
      "power_t": 0.1}),
    ("regression 1 target", MLPRegressor, X_REG, Y_REG[:, 0],
     {"solver": "sgd", "learning_rate_init": 0.01, "early_stopping": True}),
]


@quiet
@pytest.mark.parametrize("name, cls, X, y, params", EXACT, ids=[e[0] for e in EXACT])
def test_the_steps_are_scikit_learns(name, cls, X, y, params):
    params = dict(hidden_layer_sizes=(16, 8), random_state=3, shuffle=False, max_iter=40,
                  **params)
    ours = cls(**params).fit(X, y)
    theirs = getattr(skl, cls.__name__)(**params).fit(X, y)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_)
        assert ours.best_loss_ is theirs.best_loss_ is None
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X) if cls is MLPRegressor else ours.predict_proba(X),
                               theirs.predict(X) if cls is MLPRegressor
                               else theirs.predict_proba(X), rtol=1e-7, atol=1e-10)


def test_same_weights_as_scikit_learn_before_any_step():
    # the initial draw (scikit-learn's Glorot bounds, logistic's smaller one)
    for activation in ("relu", "logistic"):
        params = dict(hidden_layer_sizes=(9,), activation=activation, random_state=5,
                      solver="sgd", learning_rate_init=1e-12, momentum=0.0, max_iter=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            ours = MLPClassifier(**params).fit(X_MULTI, Y_MULTI)
            theirs = skl.MLPClassifier(**params).fit(X_MULTI, Y_MULTI)
        for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
            np.testing.assert_allclose(a, b, rtol=1e-9)


# ------------------------------------------------------------ fitted attributes
@quiet
@pytest.mark.parametrize("cls, X, y, n_out, out_activation", [
    (MLPClassifier, X_MULTI, Y_MULTI, 3, "softmax"),
    (MLPClassifier, X_BIN, Y_BIN, 1, "logistic"),
    (MLPClassifier, X_ML, Y_ML, 4, "logistic"),
    (MLPRegressor, X_REG, Y_REG, 3, "identity"),
    (MLPRegressor, X_REG, Y_REG[:, 0], 1, "identity"),
], ids=["multiclass", "binary", "multilabel", "multioutput", "regression"])
def test_fitted_attributes(cls, X, y, n_out, out_activation):
    est = cls(hidden_layer_sizes=(11, 7), max_iter=15, random_state=0).fit(X, y)
    assert est.n_features_in_ == X.shape[1]
    assert est.n_layers_ == 4 and est.n_outputs_ == n_out
    assert est.out_activation_ == out_activation
    assert [c.shape for c in est.coefs_] == [(X.shape[1], 11), (11, 7), (7, n_out)]
    assert [b.shape for b in est.intercepts_] == [(11,), (7,), (n_out,)]
    assert all(a.dtype == np.float64 for a in est.coefs_ + est.intercepts_)
    assert est.n_iter_ == len(est.loss_curve_) == 15
    assert est.t_ == 15 * X.shape[0]
    assert est.loss_ == est.loss_curve_[-1] and est.best_loss_ == min(est.loss_curve_)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert not hasattr(est, "feature_names_in_")
    assert est.predict(X).shape == np.shape(y)
    if cls is MLPClassifier:
        assert est.predict_proba(X).shape == (X.shape[0], max(2, n_out))


@quiet
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_data_dtype_is_the_networks(cls, dtype):
    est = cls(hidden_layer_sizes=(5, 3), max_iter=20, random_state=1)
    est.fit(X_MULTI.astype(dtype), Y_MULTI)
    assert all(a.dtype == dtype for a in est.coefs_ + est.intercepts_)
    out = est.predict(X_MULTI.astype(dtype)) if cls is MLPRegressor else \
        est.predict_proba(X_MULTI.astype(dtype))
    assert out.dtype == dtype
    forced = clone(est).set_params(dtype="float32").fit(X_MULTI, Y_MULTI)
    assert forced.coefs_[0].dtype == np.float32


@quiet
def test_coefs_reproduce_the_predictions_batchnorm_folded_in():
    for extras in ({}, {"batch_norm": True, "keep_prob": 0.7}):
        clf = MLPClassifier(hidden_layer_sizes=(12, 6), max_iter=30, random_state=0,
                            **extras).fit(X_MULTI, Y_MULTI)
        A = X_MULTI
        for i, (W, b) in enumerate(zip(clf.coefs_, clf.intercepts_)):
            A = A @ W + b
            if i < len(clf.coefs_) - 1:
                A = np.maximum(A, 0)
        P = np.exp(A - A.max(axis=1, keepdims=True))
        np.testing.assert_allclose(P / P.sum(axis=1, keepdims=True), clf.predict_proba(X_MULTI),
                                   rtol=1e-9, atol=1e-12)


# ------------------------------------------------------------ predictions
@quiet
def test_predict_proba_binary_multiclass_multilabel():
    clf = MLPClassifier(hidden_layer_sizes=5, activation="logistic", random_state=1)
    clf.fit(X_BIN[:50], Y_BIN[:50])
    proba = clf.predict_proba(X_BIN[:50])
    assert proba.shape == (50, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X_BIN[:50]), np.log(proba))
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X_BIN[:50]))

    clf = MLPClassifier(hidden_layer_sizes=5, random_state=1).fit(X_MULTI[:30], Y_MULTI[:30])
    proba = clf.predict_proba(X_MULTI[:30])
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)

    clf = MLPClassifier(hidden_layer_sizes=50, learning_rate_init=0.01, max_iter=400,
                        random_state=0).fit(X_ML, Y_ML)
    proba = clf.predict_proba(X_ML)
    assert proba.shape == Y_ML.shape
    assert np.abs(proba.sum(axis=1) - 1).max() > 0.1       # labels independently
    np.testing.assert_array_equal(clf.predict(X_ML), (proba > 0.5).astype(int))
    assert clf.score(X_ML, Y_ML) > 0.9                      # subset accuracy


@quiet
def test_string_labels_with_and_without_early_stopping():
    labels = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    y = labels[Y_IRIS]
    X = StandardScaler().fit_transform(X_IRIS)
    clf = MLPClassifier(max_iter=300, random_state=0).fit(X, y)
    assert list(clf.classes_) == list(labels)
    assert clf.score(X, y) > 0.95
    assert set(clf.predict(X)) <= set(labels)
    clf = MLPClassifier(early_stopping=True, max_iter=50, random_state=0).fit(X, y)
    assert len(clf.validation_scores_) == clf.n_iter_
    assert np.isfinite(clf.validation_scores_).all()
    binary = np.array(["no", "yes"])[Y_BIN]
    clf = MLPClassifier(max_iter=50, random_state=0).fit(X_BIN, binary)
    assert clf.out_activation_ == "logistic" and clf.predict_proba(X_BIN).shape == (200, 2)
    assert clf.score(X_BIN, binary) > 0.95


@quiet
def test_sparse_input_equals_dense():
    dense = MLPClassifier(hidden_layer_sizes=15, max_iter=20, random_state=1).fit(X_BIN, Y_BIN)
    sparse = clone(dense).fit(sp.csr_matrix(X_BIN), Y_BIN)
    np.testing.assert_array_equal(dense.predict_proba(X_BIN),
                                  sparse.predict_proba(sp.csc_matrix(X_BIN)))


@quiet
def test_column_y_warns_and_is_raveled():
    from sklearn.exceptions import DataConversionWarning
    with pytest.warns(DataConversionWarning):
        reg = MLPRegressor(max_iter=5, random_state=0).fit(X_BIN, Y_BIN[:, None].astype(float))
    assert reg.predict(X_BIN).shape == (200,)


# ------------------------------------------------------------ convergence
def test_convergence_warning_at_max_iter():
    with pytest.warns(ConvergenceWarning, match="Maximum iterations \\(5\\)"):
        MLPClassifier(max_iter=5, random_state=0).fit(X_BIN, Y_BIN)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        clf = MLPClassifier(tol=0.5, max_iter=3000, solver="sgd").fit([[3, 2], [1, 6]], [1, 0])
    assert clf.n_iter_ < clf.max_iter


@pytest.mark.parametrize("n_iter_no_change", [2, 5, 20])
def test_n_iter_no_change(n_iter_no_change):
    clf = MLPClassifier(tol=0.01, max_iter=3000, solver="sgd",
                        n_iter_no_change=n_iter_no_change, random_state=0).fit(X_BIN[:100],
                                                                             Y_BIN[:100])
    assert clf._no_improvement_count == n_iter_no_change + 1
    assert clf.n_iter_ < 3000
    assert "converged" in clf.history_.stop_reason
    # each of the last n_iter_no_change + 1 epochs missed the best loss so far by tol
    curve = clf.loss_curve_
    for i in range(len(curve) - n_iter_no_change - 1, len(curve)):
        assert curve[i] > min(curve[:i]) - 0.01
    assert curve[-n_iter_no_change - 2] <= min(curve[:-n_iter_no_change - 2], default=np.inf) - 0.01


@quiet
def test_n_iter_no_change_inf_runs_to_max_iter():
    clf = MLPClassifier(tol=1e9, max_iter=150, solver="sgd", n_iter_no_change=np.inf,
                        random_state=0).fit(X_BIN[:100], Y_BIN[:100])
    assert clf.n_iter_ == 150
    assert clf._no_improvement_count == clf.n_iter_ - 1


def test_adaptive_rate_divides_by_5_until_too_small():
    clf = MLPClassifier(tol=0.5, max_iter=3000, solver="sgd", learning_rate="adaptive",
                        random_state=0).fit([[3, 2], [1, 6]], [1, 0])
    assert clf.n_iter_ < clf.max_iter
    assert clf._rate < 1e-6 and clf.model_.optimizer.learning_rate < 1e-6


@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_early_stopping(cls):
    X, y = X_BIN[:100], Y_BIN[:100]
    est = cls(tol=0.2, max_iter=3000, solver="sgd", early_stopping=True, random_state=0).fit(X, y)
    assert est.n_iter_ < est.max_iter
    assert est.best_loss_ is None
    scores = est.validation_scores_
    assert isinstance(scores, list) and len(scores) == est.n_iter_
    assert max(scores) == est.best_validation_score_
    assert est.best_validation_score_ + 0.2 > scores[-1]
    # the weights are the best epoch's
    val = cls(tol=0.2, max_iter=3000, solver="sgd", early_stopping=True, random_state=0)
    assert val.fit(X, y).score(X, y) == est.score(X, y)
    est = cls(tol=0.2, max_iter=3000, solver="sgd", random_state=0).fit(X, y)
    assert est.validation_scores_ is None and est.best_validation_score_ is None
    assert est.best_loss_ is not None


def test_early_stopping_split_is_stratified_and_big_enough():
    with pytest.raises(ValueError, match="least populated class"):
        MLPClassifier(early_stopping=True).fit([[1, 2], [2, 3], [3, 4], [4, 5]], [0, 0, 0, 1])
    X, y = make_regression(n_samples=2, n_features=5, random_state=0)
    with pytest.raises(ValueError, match="The validation set is too small"):
        MLPRegressor(early_stopping=True, random_state=0).fit(X, y)


@quiet
def test_divergence_raises_as_non_finite_weights_do():
    rng = np.random.RandomState(0)
    X = np.finfo(np.float64).max * rng.uniform(size=(10, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(ValueError, match="non-finite parameter weights"):
            MLPRegressor().fit(X, rng.standard_normal(10))


def test_verbose_prints_iterations():
    out = io.StringIO()
    with redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(solver="sgd", max_iter=2, verbose=10, hidden_layer_sizes=2)
        clf.fit([[3, 2], [1, 6]], [1, 0])
        clf.partial_fit([[3, 2], [1, 6]], [1, 0])
    assert out.getvalue().count("Iteration") == 3


# ------------------------------------------------------------ warm start, partial_fit
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_warm_start_goes_on_and_runs_max_iter(cls):
    est = cls(hidden_layer_sizes=2, solver="sgd", warm_start=True, max_iter=3,
              n_iter_no_change=np.inf, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(X_IRIS, Y_IRIS)
    first = est.coefs_[0].copy()
    assert est.n_iter_ == 3
    est.set_params(max_iter=5)
    with pytest.warns(ConvergenceWarning):
        est.fit(X_IRIS, Y_IRIS)
    assert est.n_iter_ == 5 and len(est.loss_curve_) == 8 and est.t_ == 8 * 150
    assert not np.array_equal(first, est.coefs_[0])
    est = cls(max_iter=10, random_state=0, warm_start=True, early_stopping=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        n = len(est.fit(X_IRIS, Y_IRIS).validation_scores_)
        assert len(est.set_params(max_iter=20).fit(X_IRIS, Y_IRIS).validation_scores_) > n


@quiet
def test_warm_start_keeps_classes_and_the_invscaling_clock():
    clf = MLPClassifier(hidden_layer_sizes=2, warm_start=True, max_iter=5,
                        random_state=0).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match=re.escape("warm_start can only be used where `y` has "
                                                   "the same classes")):
        clf.fit(X_IRIS, np.minimum(Y_IRIS, 1))
    # invscaling: learning_rate_init / (t + 1) ** power_t, t = samples seen
    clf = MLPClassifier(solver="sgd", hidden_layer_sizes=4, learning_rate="invscaling",
                        max_iter=1, power_t=0.25, warm_start=True)
    X, y = [[3, 2], [1, 6], [5, 6], [-2, -4]], [1, 1, 1, 0]
    clf.fit(X, y)
    clf.fit(X, y)
    assert clf.model_.optimizer.learning_rate == pytest.approx(0.001 / 9 ** 0.25)
    with pytest.raises(ValueError, match="warm_start=False"):
        clf.set_params(hidden_layer_sizes=5).fit(X, y)


@quiet
@pytest.mark.parametrize("X, y", [(X_MULTI, Y_MULTI), (X_BIN, Y_BIN)], ids=["multi", "binary"])
def test_partial_fit_is_fit_one_epoch_at_a_time(X, y):
    params = dict(solver="sgd", random_state=1, alpha=1e-5, learning_rate_init=0.2)
    fitted = MLPClassifier(max_iter=30, tol=0, **params).fit(X, y)
    partial = MLPClassifier(**params)
    for _ in range(30):
        partial.partial_fit(X, y, classes=np.unique(y))
    assert partial.n_iter_ == 1 and partial.t_ == fitted.t_
    np.testing.assert_array_equal(partial.loss_curve_, fitted.loss_curve_)
    for a, b in zip(partial.coefs_, fitted.coefs_):
        np.testing.assert_array_equal(a, b)
    assert partial.score(X, y) > 0.95


def test_partial_fit_regression_multilabel_and_errors():
    reg = MLPRegressor(solver="sgd", learning_rate_init=0.01, random_state=1, batch_size=200)
    for _ in range(100):
        reg.partial_fit(X_REG, Y_REG)
    assert reg.score(X_REG, Y_REG) > 0.65
    clf = MLPClassifier(solver="sgd", hidden_layer_sizes=50, random_state=0, alpha=1e-5,
                        learning_rate_init=0.2)
    for _ in range(60):
        clf.partial_fit(X_ML, Y_ML, classes=[0, 1, 2, 3])
    assert clf.score(X_ML, Y_ML) > 0.5
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier().partial_fit([[3, 2]], [0])
    clf = MLPClassifier(solver="sgd").partial_fit([[3, 2]], [0], classes=[0, 1])
    with pytest.raises(ValueError):
        clf.partial_fit([[3, 2]], [0], classes=[1, 2])
    with pytest.raises(ValueError, match="not in `self.classes_`"):
        clf.partial_fit([[3, 2]], [2])
    unseen = MLPClassifier(random_state=0)
    unseen.partial_fit([[1], [2], [3]], ["a", "b", "c"], classes=["a", "b", "c", "d"])
    unseen.partial_fit([[4]], ["d"])
    assert unseen.predict_proba([[4]]).shape == (1, 4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stopping = MLPRegressor(early_stopping=True, max_iter=5, random_state=0)
        stopping.fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="partial_fit does not support early_stopping=True"):
        stopping.partial_fit(X_IRIS, Y_IRIS)


@quiet
def test_pickled_estimator_trains_on():
    reg = MLPRegressor(hidden_layer_sizes=(42,), random_state=42, learning_rate_init=0.01)
    reg.fit([[2]], [4])
    copy = pickle.loads(pickle.dumps(reg))
    for est in (reg, copy):
        for _ in range(200):
            est.partial_fit([[2]], [1])
    np.testing.assert_allclose(copy.predict([[2]]), [1], rtol=1e-4)
    np.testing.assert_array_equal(copy.predict([[2]]), reg.predict([[2]]))


# ------------------------------------------------------------ sample weights
# (per-sample and class weights: tests/test_sklearn_weights.py)
@quiet
def test_uniform_sample_weights():
    params = dict(hidden_layer_sizes=10, max_iter=20, random_state=0, alpha=0.5)
    base = MLPRegressor(**params).fit(X_REG, Y_REG)
    ones = MLPRegressor(**params).fit(X_REG, Y_REG, sample_weight=np.ones(200))
    np.testing.assert_array_equal(base.predict(X_REG), ones.predict(X_REG))
    # one weight w for all: scikit-learn divides the penalty by w
    twos = MLPRegressor(**params).fit(X_REG, Y_REG, sample_weight=np.full(200, 2.0))
    assert not np.array_equal(twos.predict(X_REG), base.predict(X_REG))
    assert np.array_equal(MLPRegressor(**params).fit(X_REG, Y_REG, sample_weight=2.0)
                          .predict(X_REG), twos.predict(X_REG))
    if "sample_weight" in inspect.signature(skl.MLPRegressor.fit).parameters:   # >= 1.7
        ours = MLPRegressor(**params, shuffle=False)
        theirs = skl.MLPRegressor(**params, shuffle=False)
        for est in (ours, theirs):
            est.fit(X_REG, Y_REG, sample_weight=np.full(200, 2.0))
        np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)


# ------------------------------------------------------------ extras
@quiet
def test_fastnn_schedule_as_learning_rate():
    schedule = schedules.ExponentialDecay(0.1, base=0.9)
    clf = MLPClassifier(solver="sgd", learning_rate=schedule, max_iter=5,
                        random_state=0).fit(X_MULTI, Y_MULTI)
    assert clf.model_.optimizer.learning_rate == pytest.approx(0.1 * 0.9 ** 4)
    # regression: the schedule is in scikit-learn's units (fastnn's rate is c = 2/k times smaller)
    reg = MLPRegressor(solver="sgd", learning_rate=schedule, max_iter=3,
                       random_state=0).fit(X_REG, Y_REG)
    assert reg.model_.optimizer.learning_rate == pytest.approx(0.1 * 0.9 ** 2 * 3 / 2)


@quiet
def test_batch_norm_and_dropout_extras():
    clf = MLPClassifier(hidden_layer_sizes=(32,), batch_norm=True, keep_prob=0.9,
                        max_iter=60, random_state=0).fit(X_MULTI, Y_MULTI)
    kinds = [layer.kind for layer in clf.model_.layers]
    assert kinds == ["dense", "batchnorm", "dropout", "dense"]
    assert clf.score(X_MULTI, Y_MULTI) > 0.95


# ------------------------------------------------------------ scikit-learn's tools
@quiet
def test_pipeline_cross_val_and_grid_search_with_sklearn_parameters():
    X, y = load_digits(return_X_y=True)
    X, y = X[:600], y[:600]
    pipe = make_pipeline(StandardScaler(), MLPClassifier(hidden_layer_sizes=(32,), random_state=0))
    assert cross_val_score(pipe, X, y, cv=3).mean() > 0.84     # scikit-learn's MLP: 0.865
    grid = GridSearchCV(pipe, {"mlpclassifier__hidden_layer_sizes": [(4,), (32,)],
                               "mlpclassifier__alpha": [1e-4, 1.0]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["mlpclassifier__hidden_layer_sizes"] == (32,)
    assert grid.best_estimator_.predict(X[:5]).shape == (5,)


def test_feature_names_are_kept():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(np.random.RandomState(0).randn(20, 2), columns=["a", "b"])
    y = pd.Series(np.arange(20) % 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf = MLPClassifier(early_stopping=True, validation_fraction=0.2).fit(X, y)
        clf.predict(X)
    assert list(clf.feature_names_in_) == ["a", "b"]


def test_readme_example_runs(capsys):
    import pathlib
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to the tests (installed without the source tree)")
    section = readme.read_text().split("## scikit-learn\n", 1)[1].split("\n## ", 1)[0]
    code = re.findall(r"```python\n(.*?)```", section, re.S)[0]
    assert "from fastnn.sklearn import MLPClassifier" in code
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        namespace = {}
        exec(compile(code, "README scikit-learn", "exec"), namespace)
    assert namespace["clf"].score(namespace["X_test"], namespace["y_test"]) > 0.96
    assert "[(64, 100), (100, 10)]" in capsys.readouterr().out
