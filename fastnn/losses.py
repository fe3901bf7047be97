"""Costs of a model: a data loss fused with the output activation, plus
L2 / L1 regularization of the Dense weights.

    J = (1/m) sum_i L(y_hat_i, y_i)  +  (l2 / 2m) sum_l ||W_l||_F^2  +  (l1 / m) sum_l |W_l|_1

Biases, gamma and beta are not regularized.  The data loss and the
regularization loss are reported separately.
"""
import numpy as np

from fastnn import ops
from fastnn._loss import sum_squares
from fastnn._validation import all_finite

__all__ = ["Loss", "get", "LOSSES"]


class Loss:
    """A data loss: its fused kernel, the output activation it belongs to,
    and how targets are checked and accuracy counted."""

    def __init__(self, name, kernel, activation, classification):
        self.name = name
        self.kernel = kernel
        self.activation = activation
        self.classification = classification

    def __call__(self, Z, y, compute_grad=True, out=None, sample_weight=None):
        """(mean loss, dZ) from the output layer's pre-activation Z; with
        ``sample_weight``, the weighted mean sum(s_i loss_i) / sum(s)."""
        if sample_weight is None:
            return self.kernel(Z, y, compute_grad=compute_grad, out=out)
        return self.kernel(Z, y, compute_grad=compute_grad, out=out, sample_weight=sample_weight)

    def targets(self, y, m, n_out, dtype, func="fit"):
        """Targets of m rows in the form the kernel takes, checked once per fit.

        categorical: (m,) int64 labels in [0, n_out) or (m, n_out) probability
        rows; binary: (m, n_out) values in [0, 1]; mse: (m, n_out) reals.
        """
        y = np.asarray(y)
        if y.dtype.kind not in "biuf":
            raise TypeError(f"{func}: y must be numeric; got dtype {y.dtype}")
        if y.shape[:1] != (m,):
            raise ValueError(f"{func}: X has {m} rows but y has {y.shape[0] if y.ndim else 0}")
        if not all_finite(y):
            raise ValueError(f"{func}: y contains NaN or Inf")

        def in_model_dtype(y):
            # the one cast to the model's dtype; finite in float64 may overflow it
            with np.errstate(over="ignore"):
                cast = np.ascontiguousarray(y, dtype=dtype)
            if not all_finite(cast):
                raise ValueError(f"{func}: y holds values beyond the range of the model's "
                                 f"{np.dtype(dtype).name} (largest magnitude "
                                 f"{np.abs(y).max():g})")
            return cast

        if self.name == "categorical_crossentropy":
            if y.ndim == 1:
                labels = y
                if y.dtype.kind == "f" and not np.all(y == np.floor(y)):
                    raise ValueError(f"{func}: class labels y must be whole numbers")
                if y.min() < 0 or y.max() >= n_out:
                    raise ValueError(f"{func}: class labels y must be in [0, {n_out}) for an output "
                                     f"layer of {n_out} units; got values from {y.min()} to {y.max()}")
                return np.ascontiguousarray(labels, dtype=np.int64)
            if y.shape != (m, n_out):
                raise ValueError(f"{func}: one-hot y must have shape {(m, n_out)}; got {y.shape}")
            if y.min() < 0 or y.max() > 1:
                raise ValueError(f"{func}: one-hot y must hold values in [0, 1]")
            return in_model_dtype(y)
        if y.ndim == 1 and n_out == 1:
            y = y.reshape(m, 1)
        if y.shape != (m, n_out):
            raise ValueError(f"{func}: y must have shape {(m, n_out)} for an output layer of "
                             f"{n_out} units; got {y.shape}")
        if self.name == "binary_crossentropy" and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{func}: binary targets y must be in [0, 1]; got values from "
                             f"{y.min()} to {y.max()}")
        return in_model_dtype(y)

    def correct(self, Z, y, sample_weight=None):
        """Number of correct predictions from the logits Z (classification);
        with ``sample_weight``, the sum of the weights of the correct ones."""
        if self.name == "categorical_crossentropy":
            pred = Z.argmax(axis=1)
            truth = y if y.ndim == 1 else y.argmax(axis=1)
            hits = pred == truth
            if sample_weight is None:
                return int(np.count_nonzero(hits))
            return float(np.dot(hits, sample_weight))
        # sigmoid(z) > 0.5 exactly when z > 0; each output counts once
        hits = (Z > 0) == (y > 0.5)
        if sample_weight is None:
            return float(np.count_nonzero(hits)) / Z.shape[1]
        return float(np.dot(hits.mean(axis=1), sample_weight))


LOSSES = {
    "categorical_crossentropy": Loss("categorical_crossentropy", ops.softmax_cross_entropy,
                                     "softmax", True),
    "binary_crossentropy": Loss("binary_crossentropy", ops.sigmoid_cross_entropy, "sigmoid", True),
    "mse": Loss("mse", ops.mean_squared_error, "linear", False),
}
_ALIASES = {"mean_squared_error": "mse", "crossentropy": "categorical_crossentropy",
            "sparse_categorical_crossentropy": "categorical_crossentropy"}
_BY_ACTIVATION = {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy",
                  "linear": "mse"}


def get(name, output_activation, func="fit"):
    """The Loss named ``name`` (None: the one matching the output activation),
    checked against the output layer's activation."""
    if name is None:
        if output_activation not in _BY_ACTIVATION:
            raise ValueError(f"{func}: no loss matches an output activation "
                             f"{output_activation!r}; use softmax, sigmoid or linear on the "
                             f"last Dense")
        name = _BY_ACTIVATION[output_activation]
    if not isinstance(name, str):
        raise TypeError(f"{func}: loss must be a name (one of {sorted(LOSSES)}) or None; "
                        f"got {name!r}")
    key = _ALIASES.get(name, name)
    if key not in LOSSES:
        raise ValueError(f"{func}: loss must be one of {sorted(LOSSES) + sorted(_ALIASES)}; "
                         f"got {name!r}")
    loss = LOSSES[key]
    if loss.activation != output_activation:
        raise ValueError(f"{func}: loss {name!r} needs a {loss.activation} output layer; the "
                         f"last Dense has activation {output_activation!r}")
    return loss


def activate(Z, activation, negative_slope=0.01):
    """The output activation applied to logits Z (a new array)."""
    return ops.activation_forward(Z, activation, negative_slope=negative_slope)


def regularization(weights, m, l2, l1):
    """(l2 / 2m) sum ||W||^2 + (l1 / m) sum |W| over the given weight arrays."""
    total = 0.0
    for W in weights:
        if l2:
            total += l2 / (2.0 * m) * sum_squares(W)
        if l1:
            total += l1 / m * float(np.abs(W).sum())
    return total
