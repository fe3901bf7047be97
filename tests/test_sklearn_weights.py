"""fastnn.sklearn with per-sample weights (scikit-learn >= 1.7's MLP: the
weights' sum of every mini-batch in place of its row count, in the data loss
and the penalty; a weighted early-stopping score) and MLPClassifier's
class_weight (fastnn's extra: the class weights multiply the sample weights)."""
import inspect
import warnings

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="scikit-learn (optional) is not installed")

import sklearn.neural_network as skl  # noqa: E402
from sklearn.utils.class_weight import compute_class_weight, compute_sample_weight  # noqa: E402

import fastnn.training  # noqa: E402
from fastnn import sklearn as fsk  # noqa: E402
from fastnn.sklearn import MLPClassifier, MLPRegressor  # noqa: E402
from test_sklearn import (EXACT, X_BIN, X_IRIS, X_ML, X_MULTI, X_REG, Y_BIN, Y_IRIS,  # noqa: E402
                          Y_ML, Y_MULTI, Y_REG, quiet)

weighted_sklearn = pytest.mark.skipif(
    "sample_weight" not in inspect.signature(skl.MLPClassifier.fit).parameters,
    reason="scikit-learn's MLP takes sample_weight from 1.7 on")


def weights(n, seed=0, low=0.0, high=3.0):
    return np.random.default_rng(seed).uniform(low, high, n)


def assert_same_fit(ours, theirs, X):
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)
    if theirs.validation_scores_ is not None:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_,
                                   rtol=1e-9)
        assert ours.best_validation_score_ == pytest.approx(theirs.best_validation_score_,
                                                            rel=1e-9)
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    if isinstance(ours, MLPClassifier):
        np.testing.assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-7,
                                   atol=1e-10)
    else:
        np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-7, atol=1e-10)


# the unweighted cases of test_sklearn that weights change, then weighted-only ones
_SHARED = ("sgd nesterov binary", "sgd invscaling", "sgd adaptive", "early stopping",
           "multilabel")
WEIGHTED = [("adam multiclass", MLPClassifier, X_MULTI, Y_MULTI, {"alpha": 0.01})] + [
    case for case in EXACT if case[0] in _SHARED] + [
    ("regression adam 3 targets", MLPRegressor, X_REG, Y_REG, {"alpha": 0.1, "batch_size": 48}),
    ("regression sgd 3 targets", MLPRegressor, X_REG, Y_REG,
     {"solver": "sgd", "learning_rate_init": 0.01, "alpha": 0.3, "learning_rate": "invscaling",
      "power_t": 0.1, "batch_size": 64}),
    ("regression 1 target early stopping", MLPRegressor, X_REG, Y_REG[:, 0],
     {"solver": "sgd", "learning_rate_init": 0.01, "early_stopping": True, "alpha": 0.2,
      "batch_size": 40}),
    ("regression 3 targets early stopping", MLPRegressor, X_REG, Y_REG,
     {"early_stopping": True, "alpha": 0.3, "batch_size": 32}),
]


@weighted_sklearn
@quiet
@pytest.mark.parametrize("name, cls, X, y, params", WEIGHTED, ids=[w[0] for w in WEIGHTED])
@pytest.mark.parametrize("kind", ["float", "integer"])
def test_weighted_steps_are_scikit_learns(name, cls, X, y, params, kind):
    sw = weights(len(X)) if kind == "float" else np.random.default_rng(1).integers(0, 4, len(X))
    params = dict(hidden_layer_sizes=(16, 8), random_state=3, shuffle=False, max_iter=30,
                  **params)
    ours = cls(**params).fit(X, y, sample_weight=sw)
    theirs = getattr(skl, cls.__name__)(**params).fit(X, y, sample_weight=sw)
    assert_same_fit(ours, theirs, X)


@weighted_sklearn
@quiet
@pytest.mark.parametrize("cls, X, y", [(MLPClassifier, X_MULTI, Y_MULTI),
                                       (MLPRegressor, X_REG, Y_REG)],
                         ids=["classifier", "regressor"])
def test_weighted_partial_fit_is_scikit_learns(cls, X, y):
    params = dict(hidden_layer_sizes=(16,), random_state=0, shuffle=False, solver="sgd",
                  learning_rate_init=0.05, alpha=0.1, batch_size=50)
    ours, theirs = cls(**params), getattr(skl, cls.__name__)(**params)
    extra = {"classes": np.unique(y)} if cls is MLPClassifier else {}
    for chunk in range(6):
        part = slice(chunk % 2 * 100, chunk % 2 * 100 + 100)
        sw = weights(100, seed=chunk)
        for est in (ours, theirs):
            est.partial_fit(X[part], y[part], sample_weight=sw, **extra)
    np.testing.assert_allclose(ours.loss_curve_, theirs.loss_curve_, rtol=1e-9)
    for a, b in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


@quiet
@pytest.mark.filterwarnings("ignore:Got `batch_size` larger")
@pytest.mark.parametrize("sparse", [False, True])
def test_integer_weights_are_repeated_rows_and_zero_weights_dropped_rows(sparse):
    # one batch per epoch: the order of the rows does not matter
    import scipy.sparse as sp
    sw = np.random.default_rng(2).integers(0, 4, 150)
    X = sp.csr_matrix(X_IRIS) if sparse else X_IRIS
    for cls in (MLPClassifier, MLPRegressor):
        params = dict(hidden_layer_sizes=(8,), random_state=0, max_iter=30, batch_size=400)
        weighted = cls(**params).fit(X, Y_IRIS, sample_weight=sw)
        repeated = cls(**params).fit(np.repeat(X_IRIS, sw, axis=0), np.repeat(Y_IRIS, sw))
        np.testing.assert_allclose(weighted.loss_curve_, repeated.loss_curve_, rtol=1e-10)
        for a, b in zip(weighted.coefs_, repeated.coefs_):
            np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


@quiet
def test_shuffled_weighted_loss_is_the_rows_average_of_the_batches(monkeypatch):
    # shuffled, 3 targets, alpha > 0: the epoch loss needs each batch's
    # weights' sum in the order fastnn's loop drew; record what it used
    used, drawn = [], []
    epoch_weights = fastnn.training.Fit._epoch_weights

    def recording(self, order):
        w, masses = epoch_weights(self, order)
        drawn.extend(float(np.sum(w[lo:hi], dtype=np.float64)) for lo, hi in self.bounds)
        return w, masses

    on_epoch_begin = fsk._Epochs.on_epoch_begin

    def remembering(self, epoch, logs):
        on_epoch_begin(self, epoch, logs)
        used.extend(self.masses)

    monkeypatch.setattr(fastnn.training.Fit, "_epoch_weights", recording)
    monkeypatch.setattr(fsk._Epochs, "on_epoch_begin", remembering)
    sw = weights(200)
    reg = MLPRegressor(hidden_layer_sizes=(8,), random_state=0, max_iter=4, alpha=1.0,
                       batch_size=30).fit(X_REG, Y_REG, sample_weight=sw)
    assert len(drawn) == 4 * 7 and np.allclose(used, drawn, rtol=1e-12)
    # the loss is scikit-learn's kind: half the squared error plus the penalty
    assert 0 < reg.loss_curve_[-1] < reg.loss_curve_[0]


# ------------------------------------------------------------ class_weight
@weighted_sklearn
@quiet
@pytest.mark.parametrize("class_weight", ["balanced", {0: 3.0, 2: 0.5}])
@pytest.mark.parametrize("with_sample_weight", [False, True])
@pytest.mark.parametrize("X, y, params", [
    (X_MULTI[:150], Y_MULTI[:150], {}),
    (X_BIN, np.where(Y_BIN == 1, "pos", "neg"), {"solver": "sgd", "learning_rate_init": 0.1}),
    (X_MULTI, Y_MULTI, {"early_stopping": True, "solver": "sgd", "learning_rate_init": 0.05,
                        "batch_size": 32}),
], ids=["multiclass", "binary text", "early stopping"])
def test_class_weight_multiplies_the_sample_weights(X, y, params, class_weight,
                                                    with_sample_weight):
    if isinstance(class_weight, dict) and y.dtype.kind == "U":
        class_weight = {"neg": 3.0}
    sw = weights(len(X), low=0.5) if with_sample_weight else None
    params = dict(hidden_layer_sizes=(12,), random_state=1, shuffle=False, max_iter=25,
                  alpha=0.01, **params)
    ours = MLPClassifier(class_weight=class_weight, **params).fit(X, y, sample_weight=sw)
    effective = compute_sample_weight(class_weight, y) * (1.0 if sw is None else sw)
    theirs = skl.MLPClassifier(**params).fit(X, y, sample_weight=effective)
    assert_same_fit(ours, theirs, X)


@quiet
def test_class_weight_in_partial_fit_and_its_errors():
    classes = np.unique(Y_IRIS)
    cw = dict(zip(classes, compute_class_weight("balanced", classes=classes, y=Y_IRIS)))
    clf = MLPClassifier(class_weight=cw, random_state=0)
    clf.partial_fit(X_IRIS[:40], Y_IRIS[:40], classes=classes)    # only class 0 in the chunk
    clf.partial_fit(X_IRIS[40:], Y_IRIS[40:])
    assert clf.predict(X_IRIS).shape == (150,)
    with pytest.raises(ValueError, match="'balanced' is not supported for partial_fit"):
        MLPClassifier(class_weight="balanced").partial_fit(X_IRIS, Y_IRIS, classes=classes)
    with pytest.raises(ValueError, match="class_weight"):
        MLPClassifier(class_weight="even").fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="one label per sample"):
        MLPClassifier(class_weight={0: 2.0}).fit(X_ML, Y_ML)
    with pytest.raises(ValueError, match="not in class_weight"):
        MLPClassifier(class_weight={0: 2.0, 7: 1.0}).fit(X_IRIS, Y_IRIS)
    with pytest.raises(ValueError, match="non-zero"):
        MLPClassifier(class_weight={0: 0.0, 1: 0.0, 2: 0.0}).fit(X_IRIS, Y_IRIS)
    # the balanced weights of a balanced y are all 1: the unweighted fit
    a = MLPClassifier(max_iter=5, random_state=0, class_weight="balanced").fit(X_IRIS, Y_IRIS)
    b = MLPClassifier(max_iter=5, random_state=0).fit(X_IRIS, Y_IRIS)
    np.testing.assert_array_equal(a.coefs_[0], b.coefs_[0])


@quiet
def test_balanced_class_weight_raises_the_minority_recall():
    keep = np.r_[np.flatnonzero(Y_BIN == 0)[:12], np.flatnonzero(Y_BIN == 1)]  # 12 zeros
    X, y = X_BIN[keep], Y_BIN[keep]
    recall = {}
    for cw in (None, "balanced"):
        clf = MLPClassifier(hidden_layer_sizes=(4,), max_iter=8, random_state=0,
                            class_weight=cw).fit(X, y)
        recall[cw] = np.mean(clf.predict(X_BIN[Y_BIN == 0]) == 0)
    assert recall["balanced"] > recall[None]


# ------------------------------------------------------------ errors, corner cases
def test_bad_sample_weights_are_refused():
    with pytest.raises(ValueError, match=r"sample_weight.shape == \(3,\), expected \(200,\)"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-zero"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.zeros(200))
    with pytest.raises(ValueError, match=">= 0"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.linspace(-1, 1, 200))
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.full(200, np.nan))
    with pytest.raises(ValueError, match="1D array or scalar"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.ones((200, 1)))
    with pytest.raises(ValueError, match="NaN"):
        MLPRegressor().fit(X_REG, Y_REG, sample_weight=np.inf)


@quiet
def test_a_mini_batch_of_weight_zero_takes_no_step():
    # scikit-learn divides by the batch's weights' sum (0: NaN weights);
    # fastnn leaves such a batch out
    sw = np.ones(200)
    sw[:50] = 0
    params = dict(hidden_layer_sizes=(8,), random_state=0, shuffle=False, max_iter=5,
                  batch_size=50, solver="sgd", momentum=0.0, n_iter_no_change=np.inf)
    a = MLPRegressor(**params).fit(X_REG, Y_REG, sample_weight=sw)
    b = MLPRegressor(**params).fit(X_REG[50:], Y_REG[50:])
    for u, v in zip(a.coefs_, b.coefs_):
        np.testing.assert_allclose(u, v, rtol=1e-10)
    assert np.all(np.isfinite(a.loss_curve_))


def test_sample_weight_is_not_changed():
    sw = weights(150, low=0.1)
    before = sw.copy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        MLPClassifier(max_iter=3, class_weight="balanced").fit(X_IRIS, Y_IRIS, sample_weight=sw)
    np.testing.assert_array_equal(sw, before)


@weighted_sklearn
@quiet
def test_readme_weights_example_runs(capsys):
    import pathlib
    import re
    readme = pathlib.Path(__file__).resolve().parent.parent / "README.md"
    if not readme.exists():
        pytest.skip("README.md is not next to the tests (installed without the source tree)")
    section = readme.read_text().split("## scikit-learn\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    weighted = next(b for b in blocks if "class_weight=" in b)
    namespace = {}
    for code in (blocks[0], weighted):        # it goes on from the first example
        exec(compile(code, "README scikit-learn", "exec"), namespace)
    assert capsys.readouterr().out.rstrip().endswith("True")
    assert len(namespace["ours"].loss_curve_) == 50
