"""Drop-in replacements for scikit-learn's MLPClassifier and MLPRegressor,
trained by fastnn (optional extra: scikit-learn).

    # from sklearn.neural_network import MLPClassifier
    from fastnn.sklearn import MLPClassifier
    clf = make_pipeline(StandardScaler(), MLPClassifier(max_iter=300, random_state=0))

Same parameters (names, meanings, defaults, order), same fitted attributes
(``coefs_``, ``intercepts_``, ``loss_curve_``, ``n_iter_``, ``t_``,
``best_loss_``, ``validation_scores_``, ...), same warnings
(ConvergenceWarning) as scikit-learn's, for the solvers fastnn has ("adam",
"sgd").  "lbfgs" and the Poisson loss are refused with an error that says
what is available.  The network is a ``fastnn.Sequential`` (``model_`` after
fit); predictions run on it.

How scikit-learn's semantics are met on fastnn's training loop:

- The costs are the same.  Classification: mean cross-entropy (softmax for
  more than two classes, one logistic unit per label for binary and
  multi-label problems), plus ``(alpha / 2m) sum ||W||^2`` per mini-batch of
  m rows: fastnn's ``l2`` is ``alpha``.  Regression: scikit-learn's half
  squared error, whose gradient is ``(P - y) / m``; fastnn's mean squared
  error over the m x k outputs has the gradient ``2 (P - y) / (m k)``, so
  the whole gradient is ``c = 2 / k`` times scikit-learn's: fastnn trains
  with ``l2 = c alpha``, an SGD rate divided by c and an Adam epsilon
  multiplied by c, which makes every step the same, and reports the loss in
  scikit-learn's units.
- Weights start as scikit-learn's (Glorot uniform with its bounds, biases
  too, drawn in its order from ``random_state``); the early-stopping split
  is ``train_test_split`` with the same random state and stratification.
  The mini-batch shuffling is fastnn's own (seeded from ``random_state``).
- SGD: momentum as scikit-learn's (``v = momentum v - lr g``, Nesterov's
  variant) through ``fastnn.Momentum(average=False)``; when the rate changes
  ("invscaling" after every epoch, "adaptive" when it divides by 5) the
  velocity is rescaled so that it keeps its size in parameter units, as
  scikit-learn's does.
- Adam: fastnn adds epsilon to the bias-corrected ``sqrt(v_hat)`` (the
  Adam paper's algorithm), scikit-learn to ``sqrt(v)`` (the paper's
  "efficient" form); before every step t fastnn's epsilon is set to
  ``epsilon / sqrt(1 - beta_2^t)`` (times c), which makes the steps equal.
- Sample weights (``fit``/``partial_fit``'s ``sample_weight``) as in
  scikit-learn >= 1.7: every mini-batch's cost is sum(s_i loss_i) / sum(s)
  + (alpha / 2 sum(s)) ||W||^2 over the batch (fastnn's weighted losses), the
  early-stopping split carries the weights along and the validation score
  is weighted; ``loss_curve_`` averages the batches' costs by their rows, as
  scikit-learn's does.  One weight w for all samples trains unweighted with
  the penalty divided by w.  Differences: weights must be >= 0 (scikit-learn
  takes negative ones), and a mini-batch whose weights are all 0 takes no
  step (scikit-learn's divides by 0 there and ends with non-finite weights).
- With ``shuffle=False`` the result is therefore scikit-learn's to rounding
  (the tests compare loss curves and weights to 1e-9, with weights too).
- Convergence, early stopping, ``n_iter_no_change``, ``tol``, the adaptive
  rate and ConvergenceWarning follow scikit-learn's rules epoch by epoch
  (a fastnn Callback).
- Divergence: fastnn stops at the epoch whose cost becomes NaN or Inf and
  puts that epoch back; without early stopping ``fit`` then raises
  ValueError, as scikit-learn does when its weights end non-finite.

fastnn's own extras, as keyword parameters: ``batch_norm`` (a BatchNorm after
every hidden Dense), ``keep_prob`` (dropout after every hidden layer; 1 keeps
all), ``dtype`` (None follows the data: float32 trains in float32, anything
else in float64), a ``fastnn.schedules.Schedule`` as ``learning_rate``, and
the activation "leaky_relu" (with "sigmoid"/"linear" as fastnn's names of
"logistic"/"identity"); MLPClassifier's ``class_weight`` ({label: weight} or
"balanced", multiplying the sample weights as scikit-learn's other
classifiers do).
"""
import copy
import math
import numbers
import warnings

import numpy as np

try:
    import scipy.sparse as sp
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import LabelBinarizer
    from sklearn.utils import check_random_state, column_or_1d
    from sklearn.utils.multiclass import check_classification_targets, type_of_target, unique_labels
    from sklearn.utils.class_weight import compute_class_weight
    from sklearn.utils.validation import check_array, check_is_fitted, validate_data
except ImportError as exc:     # pragma: no cover - exercised without scikit-learn only
    raise ImportError("fastnn.sklearn needs scikit-learn (>= 1.6): pip install scikit-learn") from exc

from fastnn import optim, schedules
from fastnn.callbacks import Callback
from fastnn.checks import ParameterError
from fastnn.layers import BatchNorm, Dense, Dropout, layer_from_config
from fastnn.model import Sequential

__all__ = ["MLPClassifier", "MLPRegressor"]

# scikit-learn's hidden activations -> fastnn's (plus fastnn's own names)
_ACTIVATIONS = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid", "identity": "linear",
                "leaky_relu": "leaky_relu", "sigmoid": "sigmoid", "linear": "linear"}
# out_activation_ -> the output Dense's activation
_OUTPUTS = {"softmax": "softmax", "logistic": "sigmoid", "identity": "linear"}
_SOLVERS = ("adam", "sgd")
_RATE_SCHEDULES = ("constant", "invscaling", "adaptive")
_SMALLEST_ADAPTIVE_RATE = 1e-6      # "adaptive" stops instead of dividing below this


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


class _Epochs(Callback):
    """scikit-learn's per-epoch bookkeeping on fastnn's loop: the loss in
    scikit-learn's units, ``loss_curve_``, ``n_iter_``, ``t_``, the
    no-improvement count (training loss, or validation score with early
    stopping), the learning-rate schedule, and the stop."""

    def __init__(self, est, n_train, validation, weights=None, batch=None, l2=0.0,
                 shuffle=False):
        self.est = est
        self.n_train = n_train
        self.validation = validation          # (X_val, y_val, sample_weight_val) or None
        self.converged = False
        self.diverged = False
        # per-sample weights: fastnn averages an epoch's batch costs by their
        # weights' sums, scikit-learn by their rows; the epoch's loss is then
        # put together here from the batches' costs
        self.weights = weights
        self.model_shuffles = shuffle
        if weights is not None:
            self.bounds = [(lo, min(lo + batch, n_train)) for lo in range(0, n_train, batch)]
            a, b = est._loss_factors()
            self.factors = (a, b)
            # the penalty of each batch is needed apart when scikit-learn's
            # units convert the data loss and the penalty differently
            self.l2 = l2 if (l2 and a != b) else 0.0

    def on_epoch_begin(self, epoch, logs):
        est = self.est
        if isinstance(est.learning_rate, schedules.Schedule):
            est._rate = float(est.learning_rate(self.model.optimizer.epoch))
        est._apply_rate(self.model.optimizer)
        est._adam_epsilon(self.model.optimizer)
        if self.weights is not None:
            self.total, self.rows = 0.0, 0
            if self.l2:
                w = self.weights
                if self.model_shuffles:
                    # the order fastnn's loop draws next (its generator, copied)
                    w = w[copy.deepcopy(self.model.shuffle_rng).permutation(self.n_train)]
                self.masses = [float(np.sum(w[lo:hi], dtype=np.float64))
                               for lo, hi in self.bounds]
                self.squares = self._squares()

    def _squares(self):
        return sum(float(np.dot(layer.W.ravel(), layer.W.ravel()))
                   for layer in self.model.layers if isinstance(layer, Dense))

    def on_batch_end(self, batch, logs):
        self.est._adam_epsilon(self.model.optimizer)
        if self.weights is not None:
            a, b = self.factors
            loss = a * logs["loss"]
            if self.l2:
                # the penalty this batch's step was taken with (the weights before it)
                loss += (b - a) * self.l2 / (2.0 * self.masses[batch]) * self.squares
                self.squares = self._squares()
            lo, hi = self.bounds[batch]
            self.total += loss * (hi - lo)
            self.rows += hi - lo

    def on_epoch_end(self, epoch, logs):
        est = self.est
        if self.weights is not None:
            # scikit-learn's: the batches' losses averaged by their rows
            loss = self.total / self.rows
        else:
            loss = est._sklearn_loss(logs["data_loss"], logs["reg_loss"])
        est.n_iter_ += 1
        est.t_ += self.n_train
        est.loss_ = loss
        est.loss_curve_.append(loss)
        if est.verbose:
            print(f"Iteration {est.n_iter_}, loss = {loss:.8f}")
        if self.validation is not None:
            score = est._validation_score(*self.validation)
            est.validation_scores_.append(score)
            if est.verbose:
                print(f"Validation score: {score:f}")
            if score < est.best_validation_score_ + est.tol:   # scikit-learn's rule
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            if score > est.best_validation_score_:
                est.best_validation_score_ = score
                est._best_state = self.model.snapshot()
        else:
            if loss > est.best_loss_ - est.tol:
                est._no_improvement_count += 1
            else:
                est._no_improvement_count = 0
            est.best_loss_ = min(est.best_loss_, loss)
        if est.solver == "sgd" and est.learning_rate == "invscaling":
            est._rate = est.learning_rate_init / (est.t_ + 1) ** est.power_t
        if est._no_improvement_count > est.n_iter_no_change:
            what = ("validation score did not improve" if self.validation is not None
                    else "training loss did not improve")
            msg = (f"{what} by more than tol={est.tol:g} for {est.n_iter_no_change} "
                   f"consecutive epochs.")
            if (est.solver == "sgd" and est.learning_rate == "adaptive"
                    and est._rate > _SMALLEST_ADAPTIVE_RATE):
                est._rate /= 5.0
                est._no_improvement_count = 0
                if est.verbose:
                    print(f"{msg[0].upper()}{msg[1:]} Setting learning rate to {est._rate:f}")
            else:
                self.converged = True
                self.model.stop_training = True
                self.model.history.stop_reason = f"converged: {msg}"
                if est.verbose:
                    print(f"{msg[0].upper()}{msg[1:]} Stopping.")
        est._apply_rate(self.model.optimizer)

    def on_train_end(self, logs):
        self.diverged = bool(logs.get("diverged"))


class _BaseMLP(BaseEstimator):
    """What MLPClassifier and MLPRegressor share: parameters, checks, the
    network, the fit loop and the fitted attributes."""

    _out_activations = ()      # the output activations a subclass may use

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 batch_norm=False, keep_prob=1.0, dtype=None):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.batch_norm = batch_norm
        self.keep_prob = keep_prob
        self.dtype = dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True          # accepted, densified for fastnn
        return tags

    # ------------------------------------------------------------ parameters
    def _bad(self, name, expected):
        return ParameterError(f"{type(self).__name__}: the {name!r} parameter must be "
                              f"{expected}; got {getattr(self, name)!r}")

    def _number(self, name, low, high=None, low_open=False, high_open=False):
        value = getattr(self, name)
        ok = isinstance(value, numbers.Real) and not _is_bool(value) and not math.isnan(value)
        if ok:
            ok = (value > low if low_open else value >= low)
            if high is not None:
                ok = ok and (value < high if high_open else value <= high)
        if not ok:
            span = (f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
                    if high is not None else f"{'>' if low_open else '>='} {low}")
            raise self._bad(name, f"a number {span}")
        return float(value)

    def _integer(self, name, low, allow_inf=False):
        value = getattr(self, name)
        if allow_inf and isinstance(value, numbers.Real) and value == np.inf:
            return value
        if _is_bool(value) or not isinstance(value, numbers.Integral) or value < low:
            raise self._bad(name, f"an integer >= {low}" + (" or np.inf" if allow_inf else ""))
        return int(value)

    def _flag(self, name):
        if not _is_bool(getattr(self, name)):
            raise self._bad(name, "True or False")

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not _is_bool(sizes):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise self._bad("hidden_layer_sizes", "an int or a sequence of ints") from None
        if any(_is_bool(s) or not isinstance(s, numbers.Integral) for s in sizes):
            raise self._bad("hidden_layer_sizes", "an int or a sequence of ints")
        if any(s <= 0 for s in sizes):
            raise ParameterError(f"hidden_layer_sizes must be > 0, got {sizes}.")
        return [int(s) for s in sizes]

    def _check_params(self):
        """Every parameter checked (scikit-learn's constraints where it has the
        parameter), at fit time as scikit-learn's conventions want."""
        name = type(self).__name__
        self._hidden_sizes()
        if self.activation not in _ACTIVATIONS:
            raise self._bad("activation", "'identity', 'logistic', 'tanh' or 'relu' "
                                          "(fastnn also: 'leaky_relu')")
        if self.solver == "lbfgs":
            raise ParameterError(
                f"{name}: solver='lbfgs' is not available in fastnn, which trains by "
                f"mini-batch gradient descent: use solver='adam' (the default) or 'sgd'")
        if self.solver not in _SOLVERS:
            raise self._bad("solver", "'adam' or 'sgd' (fastnn has no 'lbfgs')")
        self._number("alpha", 0)
        if isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise self._bad("batch_size", "'auto' or an integer >= 1")
        else:
            self._integer("batch_size", 1)
        if not (isinstance(self.learning_rate, schedules.Schedule)
                or (isinstance(self.learning_rate, str)
                    and self.learning_rate in _RATE_SCHEDULES)):
            hint = (" (the initial rate is learning_rate_init)"
                    if isinstance(self.learning_rate, numbers.Real) else "")
            raise self._bad("learning_rate", "'constant', 'invscaling', 'adaptive' or a "
                                             "fastnn.schedules.Schedule" + hint)
        self._number("learning_rate_init", 0, low_open=True)
        self._number("power_t", 0)
        self._integer("max_iter", 1)
        self._flag("shuffle")
        rs = self.random_state
        if not (rs is None or isinstance(rs, np.random.RandomState)
                or (isinstance(rs, numbers.Integral) and not _is_bool(rs))):
            raise self._bad("random_state", "None, an int or a numpy RandomState")
        self._number("tol", 0)
        if not (_is_bool(self.verbose) or isinstance(self.verbose, numbers.Integral)):
            raise self._bad("verbose", "a bool or an int")
        self._flag("warm_start")
        if self._number("momentum", 0, 1) == 1.0:
            raise ParameterError(f"{name}: momentum=1 is not available in fastnn (its "
                                 f"momentum must be in [0, 1)); got {self.momentum!r}")
        self._flag("nesterovs_momentum")
        self._flag("early_stopping")
        self._number("validation_fraction", 0, 1, high_open=True)
        self._number("beta_1", 0, 1, high_open=True)
        self._number("beta_2", 0, 1, high_open=True)
        self._number("epsilon", 0, low_open=True)
        self._integer("n_iter_no_change", 1, allow_inf=True)
        self._integer("max_fun", 1)          # lbfgs only: accepted, not used
        self._flag("batch_norm")
        self._number("keep_prob", 0, 1, low_open=True)
        if self.dtype is not None:
            try:
                dtype = np.dtype(self.dtype)
            except TypeError:
                dtype = None
            if dtype not in (np.float32, np.float64):
                raise self._bad("dtype", "None (follow the data), 'float32' or 'float64'")

    # ------------------------------------------------------------ pickling
    def __getstate__(self):
        # a Sequential's layers hold views into its parameter buffer, which
        # pickle would copy apart: the network travels as its config and a
        # snapshot (weights, running statistics, optimizer state, counters)
        state = dict(super().__getstate__())
        model = state.get("model_")
        if isinstance(model, Sequential):
            state["model_"] = {
                "fastnn_config": model.get_config(),
                "optimizer": None if model.optimizer is None else model.optimizer.get_config(),
                "snapshot": model.snapshot(training_state=True)}
        history = state.get("history_")
        if history is not None and history.model is not None:
            history = copy.copy(history)
            history.model = None
            state["history_"] = history
        return state

    def __setstate__(self, state):
        model = state.get("model_")
        if isinstance(model, dict) and "fastnn_config" in model:
            config = model["fastnn_config"]
            net = Sequential([layer_from_config(c) for c in config["layers"]],
                             input_dim=config["input_dim"], dtype=config["dtype"],
                             seed=config["seed"])
            if model["optimizer"] is not None:
                net.optimizer = optim.from_config(model["optimizer"])
            net.restore(model["snapshot"])
            state = dict(state, model_=net)
        super().__setstate__(state)

    # ------------------------------------------------------------ the network
    def _architecture(self):
        return (tuple(self._hidden_sizes()), _ACTIVATIONS[self.activation], self.batch_norm,
                float(self.keep_prob))

    def _build(self, n_features, rs):
        """The network, its weights drawn as scikit-learn draws them."""
        sizes, act, batch_norm, keep_prob = self._architecture()
        units = [n_features, *sizes, self.n_outputs_]
        # Glorot uniform, scikit-learn's bounds (a smaller one for logistic
        # units), weights then biases layer by layer from random_state
        factor = 2.0 if act == "sigmoid" else 6.0
        draws = []
        for fan_in, fan_out in zip(units[:-1], units[1:]):
            bound = math.sqrt(factor / (fan_in + fan_out))
            draws.append((rs.uniform(-bound, bound, (fan_in, fan_out)),
                          rs.uniform(-bound, bound, fan_out)))
        layers = []
        for n in sizes:
            layers.append(Dense(n, act, init="glorot"))
            if batch_norm:
                layers.append(BatchNorm())
            if keep_prob < 1.0:
                layers.append(Dropout(keep_prob))
        layers.append(Dense(self.n_outputs_, _OUTPUTS[self.out_activation_], init="glorot"))
        return layers, draws

    def _make_model(self, layers, draws, n_features, dtype, seed):
        model = Sequential(layers, input_dim=n_features, dtype=dtype, seed=seed)
        dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        for layer, (W, b) in zip(dense, draws):
            layer.W[...] = W
            if layer.use_bias:        # a Dense before a BatchNorm has none: beta starts at 0
                layer.b[...] = b
        return model

    def _read_weights(self):
        """coefs_ and intercepts_ as scikit-learn's: (n_in, n_out) and (n_out,)
        arrays.  A BatchNorm is folded into the Dense before it (its
        inference transform is affine), so the arrays compute what the
        network predicts."""
        coefs, intercepts = [], []
        layers = self.model_.layers
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                continue
            W = np.array(layer.W, copy=True)
            b = np.array(layer.b, copy=True) if layer.use_bias else np.zeros(layer.units, W.dtype)
            bn = layers[i + 1] if i + 1 < len(layers) else None
            if isinstance(bn, BatchNorm):
                scale = bn.gamma / np.sqrt(bn.running_var + bn.eps)
                W *= scale
                b = (bn.beta - scale * bn.running_mean + scale * b).astype(W.dtype)
            coefs.append(W)
            intercepts.append(b)
        self.coefs_, self.intercepts_ = coefs, intercepts

    # ------------------------------------------------------------ units
    def _gradient_scale(self):
        """c: fastnn's gradient of this problem's cost is c times scikit-learn's."""
        return 1.0

    def _loss_factors(self):
        """(a, b): scikit-learn's loss is a * fastnn's data loss + b * its penalty."""
        return 1.0, 1.0

    def _sklearn_loss(self, data_loss, reg_loss):
        a, b = self._loss_factors()
        return a * data_loss + b * reg_loss

    def _make_optimizer(self):
        c = self._gradient_scale()
        if self.solver == "adam":
            return optim.Adam(self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2,
                              eps=self.epsilon * c)
        if self.momentum > 0:
            return optim.Momentum(self.learning_rate_init / c, beta=self.momentum,
                                  nesterov=self.nesterovs_momentum, average=False)
        return optim.SGD(self.learning_rate_init / c)

    def _adam_epsilon(self, opt):
        """Adam's epsilon for the next step, in fastnn's form: scikit-learn
        adds epsilon to sqrt(v), fastnn to sqrt(v_hat) = sqrt(v / (1 - beta_2^t)),
        so the same step needs epsilon / sqrt(1 - beta_2^t) (times c)."""
        if isinstance(opt, optim.Adam):
            t = opt.t + 1
            opt.eps = self.epsilon * self._gradient_scale() / math.sqrt(1.0 - self.beta_2 ** t)

    def _apply_rate(self, opt):
        """Give the optimizer the current rate (scikit-learn's units in
        ``_rate``); a momentum velocity is rescaled to keep its step size,
        as scikit-learn's velocity (in parameter units) does."""
        rate = self._rate / (self._gradient_scale() if self.solver == "sgd" else 1.0)
        old = opt.learning_rate
        if rate == old:
            return
        if isinstance(opt, optim.Momentum) and opt.state["v"] is not None:
            for v in opt.state["v"]:
                v *= old / rate
        opt.learning_rate = rate

    # ------------------------------------------------------------ data
    @staticmethod
    def _dense(X):
        return X.toarray() if sp.issparse(X) else X

    def _sample_weights(self, sample_weight, X, Y, incremental):
        """The weight of every sample (float64), or None: ``sample_weight``
        checked as scikit-learn checks it (a number gives all samples that
        weight), times the class weights of a classifier."""
        if sample_weight is None:
            return None
        n = X.shape[0]
        if isinstance(sample_weight, numbers.Number):
            sw = np.full(n, sample_weight, dtype=np.float64)
        else:
            sw = check_array(sample_weight, accept_sparse=False, ensure_2d=False,
                             dtype=np.float64, order="C", input_name="sample_weight")
            if sw.ndim != 1:
                raise ValueError(f"Sample weights must be 1D array or scalar, got "
                                 f"{sw.ndim}D array. Expected either a scalar value or a 1D "
                                 f"array of length {n}.")
            if sw.shape != (n,):
                raise ValueError(f"sample_weight.shape == {sw.shape}, expected {(n,)}!")
        if not np.all(np.isfinite(sw)):
            raise ValueError("Input sample_weight contains NaN or infinity.")
        if np.any(sw < 0):
            raise ValueError(f"{type(self).__name__}: fastnn's weighted losses need "
                             f"sample_weight >= 0; got {sw.min():g} at index "
                             f"{int(np.argmin(sw))}")
        if not np.any(sw):
            raise ValueError("Sample weights must contain at least one non-zero number.")
        return sw

    # ------------------------------------------------------------ fit
    def _fit(self, X, y, sample_weight=None, incremental=False):
        self._check_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first_pass = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        X, Y = self._validate_input(X, y, incremental, reset=first_pass)
        X = self._dense(X)
        sw = self._sample_weights(sample_weight, X, Y, incremental)
        rs = check_random_state(self.random_state)
        if first_pass:
            self.n_outputs_ = Y.shape[1]
            self.n_layers_ = len(self._hidden_sizes()) + 2
            self.out_activation_ = self._output_activation()
            layers, draws = self._build(X.shape[1], rs)
        else:
            if Y.shape[1] != self.n_outputs_:
                raise ValueError(f"{type(self).__name__}: y has {Y.shape[1]} outputs; the "
                                 f"network was fitted with {self.n_outputs_}")
            if self._architecture() != self._built_as:
                raise ValueError(f"{type(self).__name__}: hidden_layer_sizes, activation, "
                                 f"batch_norm or keep_prob changed since the network was "
                                 f"built; fit with warm_start=False to build it anew")

        validation = None
        X_train, Y_train, sw_train = X, Y, sw
        if self.early_stopping:
            # scikit-learn's split: stratified for one output of a classifier
            stratify = Y if (isinstance(self, ClassifierMixin) and self.n_outputs_ == 1) else None
            train, val = train_test_split(np.arange(X.shape[0]), random_state=rs,
                                          test_size=self.validation_fraction, stratify=stratify)
            if val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            X_train, Y_train = X[train], Y[train]
            sw_train = None if sw is None else sw[train]
            validation = (X[val], self._validation_target(Y[val]),
                          None if sw is None else sw[val])

        if first_pass:
            dtype = np.dtype(self.dtype) if self.dtype is not None else (
                np.float32 if X.dtype == np.float32 else np.float64)
            seed = int(rs.randint(np.iinfo(np.int32).max))
            self.model_ = self._make_model(layers, draws, X.shape[1], dtype, seed)
            self._built_as = self._architecture()
            self.n_iter_ = 0
            self.t_ = 0
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self._best_state = None
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = np.inf
        if self.early_stopping:
            if self.validation_scores_ is None:
                self.validation_scores_ = []
                self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        elif self.best_loss_ is None:
            self.best_loss_ = min(self.loss_curve_, default=np.inf)

        n_train = X_train.shape[0]
        if self.batch_size == "auto":
            batch = min(200, n_train)
        else:
            if self.batch_size > n_train:
                warnings.warn("Got `batch_size` larger than the number of training samples "
                              f"({n_train}); it is clipped to {n_train}", UserWarning,
                              stacklevel=3)
            batch = min(int(self.batch_size), n_train)

        model = self.model_
        if incremental and model.optimizer is not None and hasattr(self, "_rate"):
            optimizer = None                  # partial_fit goes on with the same state
        else:
            optimizer = self._make_optimizer()
            self._rate = float(self.learning_rate_init)
        self.n_iter_ = 0
        l2 = self.alpha * self._gradient_scale()
        weights = None
        if sw_train is not None:
            if np.all(sw_train == sw_train[0]):
                # one weight w for every sample: the data loss is unweighted
                # and the penalty divided by w, as in scikit-learn
                l2 /= sw_train[0]
            else:
                weights = sw_train
        epochs = _Epochs(self, n_train, validation, weights=weights, batch=batch, l2=l2,
                         shuffle=bool(self.shuffle))
        interrupted = False
        try:
            with warnings.catch_warnings():
                # fastnn's advice to attach a Normalizer: scikit-learn's users
                # scale in the pipeline, and scikit-learn does not warn
                warnings.filterwarnings("ignore", message=r".*input features are not normalized",
                                        category=UserWarning)
                self.history_ = model.fit(X_train, self._fit_target(Y_train),
                                          optimizer=optimizer,
                                          epochs=1 if incremental else int(self.max_iter),
                                          batch_size=batch, l2=l2, callbacks=[epochs], verbose=0,
                                          shuffle=bool(self.shuffle), sample_weight=weights)
        except KeyboardInterrupt:
            interrupted = True
            self.history_ = model.history
            warnings.warn("Training interrupted by user.", stacklevel=3)
        if self.early_stopping and self._best_state is not None:
            model.restore(self._best_state)
        elif epochs.diverged:
            raise ValueError(f"Solver produced non-finite parameter weights. The input data may "
                             f"contain large values and need to be preprocessed. (fastnn: "
                             f"{self.history_.stop_reason})")
        self._read_weights()
        if (not incremental and not interrupted and not epochs.converged
                and not epochs.diverged and self.n_iter_ == self.max_iter):
            warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) reached "
                          f"and the optimization hasn't converged yet.", ConvergenceWarning,
                          stacklevel=3)
        return self

    def fit(self, X, y, sample_weight=None):
        """Fit the network to X (n_samples, n_features; dense or sparse) and y.

        sample_weight : None, a number, or one weight (>= 0) per sample, as in
            scikit-learn >= 1.7: every mini-batch's cost is the weighted mean
            of its losses plus ``(alpha / 2 sum(s)) ||W||^2`` (the batch's
            weights' sum in place of its row count), and the early-stopping
            validation score is weighted.
        """
        return self._fit(X, y, sample_weight=sample_weight, incremental=False)

    def _validation_score(self, X_val, y_val, sw_val=None):
        P = self._raw_output(X_val)
        if not np.all(np.isfinite(P)):
            return float("nan")
        return float(self._score_function(y_val, self._from_output(P), sample_weight=sw_val))

    def _check_fitted(self, X):
        check_is_fitted(self, "model_")
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False,
                          dtype=[np.float64, np.float32])
        return self._dense(X)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier trained by fastnn: scikit-learn's
    ``sklearn.neural_network.MLPClassifier`` with the same parameters,
    attributes and behaviour for solver "adam" and "sgd" (see the module
    docstring for how, and for fastnn's extras ``batch_norm``, ``keep_prob``
    and ``dtype``).

    Outputs: softmax over ``classes_`` for more than two classes, one
    logistic unit for two (``predict_proba`` still gives both columns), one
    logistic unit per label for multi-label y (a 0/1 indicator matrix).

    class_weight : None, {label: weight} or "balanced" (fastnn's extra:
        scikit-learn's MLP has none).  As in scikit-learn's other
        classifiers, every sample's weight is multiplied by its class's:
        fitting with ``class_weight=cw`` is fitting with
        ``sample_weight=sample_weight * compute_sample_weight(cw, y)``
        (loss, penalty and early-stopping score alike).  "balanced" is
        ``n_samples / (n_classes * np.bincount(y))`` over the y given to fit;
        partial_fit refuses it, as SGDClassifier does (one chunk's counts are
        not the data's): pass ``compute_class_weight("balanced", classes=...,
        y=...)`` as a dict.  One label per sample only (not multi-label y).
    """

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 batch_norm=False, keep_prob=1.0, dtype=None, class_weight=None):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, batch_norm=batch_norm, keep_prob=keep_prob, dtype=dtype)
        self.class_weight = class_weight

    def _check_params(self):
        cw = self.class_weight
        if not (cw is None or isinstance(cw, dict) or (isinstance(cw, str) and cw == "balanced")):
            raise self._bad("class_weight", "None, a dict {label: weight} or 'balanced'")
        super()._check_params()

    def _sample_weights(self, sample_weight, X, Y, incremental):
        sw = super()._sample_weights(sample_weight, X, Y, incremental)
        if self.class_weight is None:
            return sw
        if self._label_binarizer.y_type_.startswith("multilabel"):
            raise ValueError(f"{type(self).__name__}: class_weight needs one label per sample; "
                             f"y is multi-label (use sample_weight)")
        if incremental and isinstance(self.class_weight, str):
            raise ValueError("class_weight 'balanced' is not supported for partial_fit. In order "
                             "to use 'balanced' weights, use compute_class_weight('balanced', "
                             "classes=classes, y=y). In place of y you can use a large enough "
                             "sample of the full training set target to properly estimate the "
                             "class frequency distributions. Pass the resulting weights as the "
                             "class_weight parameter.")
        index = Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.intp)
        if isinstance(self.class_weight, str):
            # the classes of y ("balanced" needs each of them in y)
            present = np.unique(index)
            per_class = np.ones(len(self.classes_))
            per_class[present] = compute_class_weight(
                "balanced", classes=self.classes_[present], y=self.classes_[index])
        else:
            per_class = compute_class_weight(self.class_weight, classes=self.classes_,
                                             y=self.classes_[index])
        cw = per_class[index]
        weights = cw if sw is None else sw * cw
        if not np.any(weights):
            raise ValueError("Sample weights must contain at least one non-zero number "
                             "(after the class weights).")
        return weights

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _output_activation(self):
        return "softmax" if self._label_binarizer.y_type_ == "multiclass" else "logistic"

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        if not hasattr(self, "classes_") or (not self.warm_start and not incremental):
            self._label_binarizer = LabelBinarizer().fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start:
                if set(classes) != set(self.classes_):
                    raise ValueError(f"warm_start can only be used where `y` has the same "
                                     f"classes as in the previous call to fit. Previously got "
                                     f"{self.classes_}, `y` has {classes}")
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(f"`y` has classes not in `self.classes_`. `self.classes_` "
                                 f"has {self.classes_}. 'y' has {classes}.")
        return X, self._label_binarizer.transform(y).astype(bool)

    def _fit_target(self, Y):
        if self.out_activation_ == "softmax":
            return Y.argmax(axis=1)           # class indices (softmax cross-entropy)
        return Y.astype(np.float64)           # 0/1 per logistic unit

    def _validation_target(self, Y):
        return self._label_binarizer.inverse_transform(Y)

    _score_function = staticmethod(accuracy_score)

    def _raw_output(self, X):
        return self.model_.predict_proba(X)

    def _from_output(self, P):
        return self._label_binarizer.inverse_transform(P[:, 0] if P.shape[1] == 1 else P)

    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y), going on from the current network and
        optimizer state.  ``classes`` (all the labels y will ever hold) is
        required on the first call."""
        first = not hasattr(self, "classes_")
        if first and classes is None:
            raise ValueError("classes must be passed on the first call to partial_fit.")
        if classes is not None:
            classes = unique_labels(classes)
            if not first and not np.array_equal(classes, self.classes_):
                raise ValueError(f"`classes={classes!r}` is not the same as on the first "
                                 f"call to partial_fit, was: {self.classes_!r}")
        if first:
            self._label_binarizer = LabelBinarizer()
            target = np.asarray(y) if type_of_target(y).startswith("multilabel") else classes
            self._label_binarizer.fit(target)
            self.classes_ = self._label_binarizer.classes_
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict_proba(self, X):
        """Class probabilities, columns in the order of ``classes_`` ((n, 2)
        for two classes; one column per label for multi-label y)."""
        P = self._raw_output(self._check_fitted(X))
        if P.shape[1] == 1:
            return np.column_stack([1 - P[:, 0], P[:, 0]])
        return P

    def decision_function(self, X):
        """The network's output before the softmax or logistic function:
        (n, n_classes) logits, (n,) log-odds of ``classes_[1]`` for two classes,
        (n, n_labels) for multi-label y (larger means more likely, as
        predict_proba)."""
        X = self._check_fitted(X)
        Z = self.model_.decision_function(X)
        return Z[:, 0] if Z.shape[1] == 1 and len(self.classes_) == 2 and \
            self._label_binarizer.y_type_ == "binary" else Z

    def predict_log_proba(self, X):
        """``log(predict_proba(X))``."""
        return np.log(self.predict_proba(X))

    def predict(self, X):
        """Class labels (an indicator matrix for multi-label y)."""
        return self._from_output(self._raw_output(self._check_fitted(X)))


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor trained by fastnn: scikit-learn's
    ``sklearn.neural_network.MLPRegressor`` with the same parameters,
    attributes and behaviour for solver "adam" and "sgd" and
    loss="squared_error" (see the module docstring).  Identity output,
    one unit per target; y may be (n,) or (n, n_targets).
    """

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 batch_norm=False, keep_prob=1.0, dtype=None):
        self.loss = loss
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes, activation=activation, solver=solver,
            alpha=alpha, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, power_t=power_t, max_iter=max_iter,
            shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
            warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping, validation_fraction=validation_fraction,
            beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change,
            max_fun=max_fun, batch_norm=batch_norm, keep_prob=keep_prob, dtype=dtype)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True     # y may be (n, k)
        return tags

    def _check_params(self):
        if self.loss == "poisson":
            raise ParameterError(f"{type(self).__name__}: loss='poisson' needs an exponential "
                                 f"output unit, which fastnn does not have: use "
                                 f"loss='squared_error'")
        if self.loss != "squared_error":
            raise self._bad("loss", "'squared_error' (fastnn has no 'poisson')")
        super()._check_params()

    def _output_activation(self):
        return "identity"

    def _gradient_scale(self):
        # fastnn's MSE is the mean over n x k outputs, gradient 2 (P - y) / (n k);
        # scikit-learn's half squared error has the gradient (P - y) / n
        return 2.0 / self.n_outputs_

    def _loss_factors(self):
        # half the mean squared error; fastnn's penalty used l2 = c alpha
        return 0.5, 1.0 / self._gradient_scale()

    def _validate_input(self, X, y, incremental, reset):
        X, y = validate_data(self, X, y, accept_sparse=["csr", "csc"], multi_output=True,
                             y_numeric=True, dtype=(np.float64, np.float32), reset=reset)
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        return X, (y.reshape(-1, 1) if y.ndim == 1 else y)

    def _fit_target(self, Y):
        return Y

    def _validation_target(self, Y):
        return Y[:, 0] if Y.shape[1] == 1 else Y

    _score_function = staticmethod(r2_score)

    def _raw_output(self, X):
        return self.model_.predict(X)

    def _from_output(self, P):
        return P[:, 0] if P.shape[1] == 1 else P

    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y), going on from the current network and
        optimizer state."""
        return self._fit(X, y, sample_weight=sample_weight, incremental=True)

    def predict(self, X):
        """Predicted values: (n,) for one target, (n, n_targets) otherwise."""
        return self._from_output(self._raw_output(self._check_fitted(X)))
