"""fastnn.sklearn estimators under scikit-learn's own checks and tools."""
import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn (optional) is not installed")

from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sklearn.utils.estimator_checks import check_estimator  # noqa: E402

from fastnn.datasets import load_digits, make_moons  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402


@pytest.mark.parametrize("estimator", [MLPClassifier(), MLPRegressor()],
                         ids=["classifier", "regressor"])
def test_check_estimator(estimator):
    failed = [(r["check_name"], r["exception"]) for r in check_estimator(estimator, on_fail=None)
              if r["status"] == "failed"]
    assert not failed


def test_pipeline_cross_val_and_grid_search():
    X, y = load_digits()
    X, y = X[:600], y[:600]
    clf = make_pipeline(StandardScaler(),
                        MLPClassifier(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=30,
                                      random_state=0))
    scores = cross_val_score(clf, X, y, cv=3)
    assert scores.mean() > 0.8          # scikit-learn's own MLPClassifier: 0.87 here
    grid = GridSearchCV(MLPClassifier(learning_rate=0.01, epochs=20, random_state=0),
                        {"hidden_layer_sizes": [(8,), (32,)], "l2": [0.0, 1.0]}, cv=2)
    grid.fit(X, y)
    assert grid.best_params_["hidden_layer_sizes"] == (32,)
    assert grid.best_estimator_.predict(X[:5]).shape == (5,)


def test_string_labels_probabilities_and_regression():
    X, y = make_moons(200, noise=0.1, seed=0)
    names = np.array(["left", "right"])[y]
    clf = MLPClassifier(hidden_layer_sizes=(16,), learning_rate=0.02, epochs=200,
                        random_state=0).fit(X, names)
    assert set(clf.classes_) == {"left", "right"}
    assert clf.score(X, names) > 0.97
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    reg = MLPRegressor(hidden_layer_sizes=(32,), learning_rate=0.01, epochs=150,
                       random_state=0).fit(X, 100 * X[:, 0] ** 2 + 7)
    assert reg.score(X, 100 * X[:, 0] ** 2 + 7) > 0.95


def test_early_stopping_and_bad_parameters():
    X, y = make_moons(300, noise=0.2, seed=1)
    clf = MLPClassifier(epochs=500, early_stopping=True, patience=3, learning_rate=0.05,
                        random_state=0).fit(X, y)
    assert clf.n_iter_ < 500
    with pytest.raises(ValueError, match="optimizer"):
        MLPClassifier(optimizer="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="keep_prob"):
        MLPClassifier(keep_prob=0.0).fit(X, y)
