"""scikit-learn estimators backed by fastnn (optional extra: scikit-learn).

    from fastnn.sklearn import MLPClassifier
    clf = MLPClassifier(hidden_layer_sizes=(64,), epochs=50, random_state=0)
    cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=5)

They follow scikit-learn's conventions (parameters stored as given,
everything learned in attributes ending in ``_``, input checked by
scikit-learn's own validation), so they work in ``Pipeline``,
``cross_val_score`` and ``GridSearchCV``.  The network is a
``fastnn.Sequential``: ``model_`` after fit.

Classifiers use a softmax output over ``classes_`` (two classes included:
softmax with C = 2 is the logistic case); regressors a linear output trained
with MSE on targets standardized for training (predictions are mapped back).
The dtype follows the data: float32 input trains in float32, anything else
in float64, unless ``dtype`` says otherwise.
"""
import numpy as np

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils.multiclass import check_classification_targets
    from sklearn.utils.validation import check_is_fitted, validate_data
except ImportError as exc:     # pragma: no cover - exercised without scikit-learn only
    raise ImportError("fastnn.sklearn needs scikit-learn (>= 1.6): pip install scikit-learn") from exc

from fastnn import optim
from fastnn.callbacks import EarlyStopping
from fastnn.layers import BatchNorm, Dense, Dropout
from fastnn.model import Sequential

__all__ = ["MLPClassifier", "MLPRegressor"]

_OPTIMIZERS = {"sgd": optim.SGD, "momentum": optim.Momentum, "rmsprop": optim.RMSprop,
               "adam": optim.Adam}


class _BaseMLP(BaseEstimator):
    _output_activation = "linear"
    _loss = "mse"

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, batch_norm=False,
                 keep_prob=1.0, l2=0.0, optimizer="adam", learning_rate=1e-3, batch_size=64,
                 epochs=200, early_stopping=False, validation_fraction=0.1, patience=10,
                 dtype=None, random_state=None, verbose=0):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.batch_norm = batch_norm
        self.keep_prob = keep_prob
        self.l2 = l2
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.dtype = dtype
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------ building
    def _seed(self):
        rs = self.random_state
        if rs is None:
            return None
        if isinstance(rs, np.random.RandomState):
            return int(rs.randint(0, 2 ** 31 - 1))
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2 ** 63 - 1))
        return int(rs)

    def _build(self, n_features, n_outputs, dtype):
        sizes = self.hidden_layer_sizes
        sizes = (sizes,) if isinstance(sizes, (int, np.integer)) else tuple(sizes)
        if self.optimizer not in _OPTIMIZERS:
            raise ValueError(f"{type(self).__name__}: optimizer must be one of "
                             f"{sorted(_OPTIMIZERS)}; got {self.optimizer!r}")
        init = "he" if self.activation in ("relu", "leaky_relu") else "xavier"
        layers = []
        for units in sizes:
            layers.append(Dense(units, self.activation, init=init))
            if self.batch_norm:
                layers.append(BatchNorm())
            if self.keep_prob < 1.0:
                layers.append(Dropout(self.keep_prob))
        layers.append(Dense(n_outputs, self._output_activation, init="xavier"))
        return Sequential(layers, input_dim=n_features, dtype=dtype, seed=self._seed())

    def _fit_model(self, X, targets, n_outputs):
        dtype = self.dtype or (np.float32 if X.dtype == np.float32 else np.float64)
        model = self._build(X.shape[1], n_outputs, dtype)
        optimizer = _OPTIMIZERS[self.optimizer](learning_rate=self.learning_rate)
        callbacks, validation = [], None
        if self.early_stopping:
            n_val = max(1, int(round(self.validation_fraction * X.shape[0])))
            if not 0 < self.validation_fraction < 1 or n_val >= X.shape[0]:
                raise ValueError(f"{type(self).__name__}: validation_fraction must leave examples "
                                 f"on both sides; got {self.validation_fraction!r}")
            order = np.random.default_rng(model.seed).permutation(X.shape[0])
            val, train = order[:n_val], order[n_val:]
            validation = (X[val], targets[val])
            X, targets = X[train], targets[train]
            callbacks.append(EarlyStopping("val_loss", patience=self.patience, restore_best=True))
        batch = None if self.batch_size is None else min(int(self.batch_size), X.shape[0])
        self.history_ = model.fit(X, targets, loss=self._loss, optimizer=optimizer,
                                  epochs=self.epochs, batch_size=batch, l2=self.l2,
                                  validation_data=validation, callbacks=callbacks,
                                  verbose=self.verbose)
        self.model_ = model
        self.n_iter_ = model.epoch
        self.loss_ = self.history_["loss"][-1] if "loss" in self.history_ else float("nan")
        return self

    def _validated(self, X):
        check_is_fitted(self, "model_")
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """A fully-connected classifier trained with fastnn.

    Parameters: hidden_layer_sizes, activation ("relu", "leaky_relu", "tanh",
    "sigmoid"), batch_norm, keep_prob (dropout; 1 keeps all), l2,
    optimizer ("adam", "rmsprop", "momentum", "sgd"), learning_rate,
    batch_size (None: batch gradient descent), epochs, early_stopping with
    validation_fraction and patience, dtype, random_state, verbose.
    """

    _output_activation = "softmax"
    _loss = "categorical_crossentropy"

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=False)
        check_classification_targets(y)
        self._encoder = LabelEncoder().fit(y)
        self.classes_ = self._encoder.classes_
        if len(self.classes_) < 2:
            raise ValueError(f"{type(self).__name__} needs examples of at least 2 classes; "
                             f"got 1 class ({self.classes_[0]!r})")
        return self._fit_model(X, self._encoder.transform(y), len(self.classes_))

    def predict_proba(self, X):
        X = self._validated(X)
        return self.model_.predict_proba(X).astype(np.float64, copy=False)

    def predict_log_proba(self, X):
        return np.log(np.clip(self.predict_proba(X), np.finfo(np.float64).tiny, None))

    def predict(self, X):
        X = self._validated(X)
        return self.classes_[self.model_.predict(X)]


class MLPRegressor(RegressorMixin, _BaseMLP):
    """A fully-connected regressor trained with fastnn (MSE, linear output).

    Targets are standardized for training and mapped back in ``predict``, so
    the default learning rate suits targets of any scale.  Same parameters
    as MLPClassifier.
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True     # y may be (m, k)
        return tags

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32], y_numeric=True,
                             multi_output=True)
        y = np.asarray(y, dtype=np.float64)
        self._y_1d = y.ndim == 1
        Y = y.reshape(-1, 1) if self._y_1d else y
        self._y_mean = Y.mean(axis=0)
        std = Y.std(axis=0)
        self._y_scale = np.where(std > 0, std, 1.0)
        return self._fit_model(X, (Y - self._y_mean) / self._y_scale, Y.shape[1])

    def predict(self, X):
        X = self._validated(X)
        P = self.model_.predict(X).astype(np.float64) * self._y_scale + self._y_mean
        return P[:, 0] if self._y_1d else P
