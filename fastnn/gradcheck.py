"""Gradient checking: compare backpropagation with centred finite differences.

    result = fn.gradient_check(model, X, y, loss="categorical_crossentropy", l2=0.01)
    result.difference, result.passed, result.verdict, result.per_parameter

All parameters are flattened into one vector theta; for each coordinate i
(or a random sample of them, for large models)

    d_approx[i] = (J(theta + eps e_i) - J(theta - eps e_i)) / (2 eps)

and the relative difference ``||d_approx - d|| / (||d_approx|| + ||d||)`` is
compared with the course's scale: about 1e-7 is right, 1e-5 deserves a
closer look, 1e-3 or more is almost certainly a bug.  J includes the L2 (and
L1) term.  The check runs on a float64 copy of the model, so the model
itself is untouched; dropout is turned off in that copy (its random masks
would make J a different function at every evaluation), and BatchNorm uses
the batch statistics of X, as in training.
"""
import math

import numpy as np

from fastnn import checks, labels, losses, training
from fastnn.layers import Dropout, layer_from_config

__all__ = ["gradient_check", "GradientCheckResult", "verdict_for"]


def verdict_for(difference):
    """The course's reading of a relative difference."""
    if not math.isfinite(difference):
        return "the gradients are not finite: a bug, or a cost that overflows"
    if difference < 1e-7:
        return "correct: backpropagation agrees with the numerical gradient (< 1e-7)"
    if difference < 1e-5:
        return ("probably correct, but look closer: the difference is above 1e-7; check the "
                "parameters with the largest per-parameter differences")
    if difference < 1e-3:
        return ("suspicious: a difference of this size (1e-5 to 1e-3) often hides a bug; check "
                "the parameters with the largest per-parameter differences")
    return "almost certainly a bug: the difference is 1e-3 or more"


def _relative(approx, exact):
    denom = np.linalg.norm(approx) + np.linalg.norm(exact)
    return 0.0 if denom == 0 else float(np.linalg.norm(approx - exact) / denom)


class GradientCheckResult:
    """``difference`` overall; ``per_parameter`` {"dense_1.W": difference, ...}
    for every parameter array (W and b of each Dense, gamma and beta of each
    BatchNorm), each judged on its own: ``failed_parameters`` lists those at
    or above the threshold; ``coordinates`` {"dense_1.W": (checked, size)};
    ``passed`` (the overall difference and every parameter's below the
    threshold: a wrong db hides in the overall difference, W being far
    larger); ``verdict`` text; ``notes`` about what the check changed
    (dropout off); ``n_checked`` of ``n_total`` coordinates."""

    def __init__(self, difference, per_parameter, threshold, n_checked, n_total, notes,
                 coordinates=None):
        self.difference = difference
        self.per_parameter = per_parameter
        self.threshold = threshold
        self.failed_parameters = [name for name, d in per_parameter.items()
                                  if not d < threshold]
        self.passed = bool(difference < threshold) and not self.failed_parameters
        self.verdict = verdict_for(difference)
        if difference < threshold and self.failed_parameters:
            self.verdict = (f"{', '.join(self.failed_parameters)} above the threshold "
                            f"{threshold:g} although the overall difference is below it: "
                            f"look at the backward pass of {self.failed_parameters[0]}")
        self.n_checked = n_checked
        self.n_total = n_total
        self.notes = notes
        self.coordinates = coordinates or {}

    def parameter_passed(self, name):
        """Whether parameter ``name``'s own difference is below the threshold."""
        return name not in self.failed_parameters

    def __repr__(self):
        worst = max(self.per_parameter.items(), key=lambda kv: kv[1], default=("-", 0.0))
        return (f"GradientCheckResult(difference={self.difference:.3g}, passed={self.passed}, "
                f"checked {self.n_checked}/{self.n_total} coordinates, worst {worst[0]} "
                f"{worst[1]:.3g}: {self.verdict})")


def _sample(layout, n, max_coordinates, seed):
    """The coordinates to check: all, or ``max_coordinates`` of them drawn so
    that every parameter array has some (a bias of 10 among 100,000 weights
    would otherwise be missed): each array first gets up to
    max_coordinates / (2 * arrays) of its own (at least one), the rest are
    drawn from all the others.  With more arrays than max_coordinates, every
    array still gets one."""
    if max_coordinates is None or max_coordinates >= n:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    share = max(1, max_coordinates // (2 * len(layout)))
    chosen = []
    for _, offset, shape in layout:
        size = int(np.prod(shape))
        chosen.append(offset + rng.choice(size, size=min(size, share), replace=False))
    chosen = np.concatenate(chosen)
    rest = max_coordinates - chosen.size
    if rest > 0:
        free = np.ones(n, dtype=bool)
        free[chosen] = False
        pool = np.flatnonzero(free)
        chosen = np.concatenate([chosen, rng.choice(pool, size=min(rest, pool.size),
                                                    replace=False)])
    return np.sort(chosen)


def _float64_copy(model):
    """The same network in float64 with dropout turned off."""
    configs = []
    dropped = []
    for layer in model.layers:
        config = layer.get_config()
        if isinstance(layer, Dropout) and layer.keep_prob < 1.0:
            dropped.append(layer.name)
            config["keep_prob"] = 1.0
        configs.append(config)
    copy = type(model)([layer_from_config(c) for c in configs], input_dim=model.input_dim,
                       dtype="float64", seed=model.seed)
    for name in copy.params.names:
        copy.params[name][...] = model.params[name]
    for src, dst in zip(model.layers, copy.layers):
        for key, arr in src.state_arrays().items():
            dst.state_arrays()[key][...] = arr
    copy.normalizer = model.normalizer
    return copy, dropped


def gradient_check(model, X, y, loss=None, l2=0.0, l1=0.0, epsilon=1e-7, threshold=1e-7,
                   max_coordinates=None, seed=0, sample_weight=None):
    """Check the model's backpropagation on (X, y) by centred differences.

    loss, l2, l1 : as in ``fit`` (loss None: from the output activation).
    epsilon : the step of the finite differences.
    threshold : ``passed`` means difference < threshold.
    max_coordinates : check this many coordinates, sampled at random (seeded
        by ``seed``) with some of every parameter array (at least one each);
        None checks all.
    """
    func = "gradient_check"
    if getattr(model, "params", None) is None:
        if hasattr(model, "build") and np.ndim(X) == 2:
            model.build(np.shape(X)[1])
        else:
            raise ValueError(f"{func}: model must be a built fastnn Sequential")
    for name, value in (("epsilon", epsilon), ("threshold", threshold)):
        checks.check_number(value, name, func, 0, low_open=True)
    for name, value in (("l2", l2), ("l1", l1)):
        checks.check_number(value, name, func, 0)
    if max_coordinates is not None:
        checks.check_int(max_coordinates, "max_coordinates", func, 1, what="or None")

    net, dropped = _float64_copy(model)
    Xc = np.asarray(net.check_inputs(X, func))     # a few rows: a map's MappedRows read whole
    loss_obj = losses.get(loss if loss is not None else model.loss, net.output_layer.activation)
    y, _ = labels.encode(y, Xc.shape[0], model.classes_, loss_obj.name, net.output_dim, func)
    targets = loss_obj.targets(y, Xc.shape[0], net.output_dim, net.dtype, func)
    weights = labels.example_weights(sample_weight, None, targets, model.classes_, loss_obj.name,
                                     net.dtype, func)
    if any(layer.kind == "batchnorm" for layer in net.layers) and Xc.shape[0] < 2:
        raise ValueError(f"{func}: a model with BatchNorm needs at least 2 rows of X")

    def cost():
        data_loss, reg_loss, _ = training.forward_backward(net, Xc, targets, loss_obj, l2, l1,
                                                           backward=False, sample_weight=weights)
        return data_loss + reg_loss

    def kinks():
        return [s for s in (layer.kink_signs() for layer in net.layers) if s is not None]

    training.forward_backward(net, Xc, targets, loss_obj, l2, l1, sample_weight=weights)
    theta = net.params.flat()
    exact = np.array(net.params.flat_grad(), copy=True)

    n = theta.size
    coords = _sample(net.params.layout, n, max_coordinates, seed)
    approx = np.empty(coords.size)
    # a ReLU unit whose pre-activation changes side between theta - eps and
    # theta + eps makes the difference quotient straddle a kink, where it is
    # not the derivative: such coordinates are left out, and said
    smooth = np.ones(coords.size, dtype=bool)
    for j, i in enumerate(coords):
        original = theta[i]
        theta[i] = original + epsilon
        plus = cost()
        sides = kinks()
        theta[i] = original - epsilon
        minus = cost()
        smooth[j] = all(np.array_equal(a, b) for a, b in zip(sides, kinks()))
        theta[i] = original
        approx[j] = (plus - minus) / (2.0 * epsilon)
    crossed = int(coords.size - smooth.sum())
    if crossed == coords.size:
        raise ValueError(f"{func}: every checked coordinate crossed a ReLU kink at epsilon="
                         f"{epsilon:g}; use a smaller epsilon")
    coords, approx = coords[smooth], approx[smooth]

    per_parameter, coordinates = {}, {}
    for name, offset, shape in net.params.layout:
        size = int(np.prod(shape))
        mask = (coords >= offset) & (coords < offset + size)
        per_parameter[name] = _relative(approx[mask], exact[coords[mask]])
        coordinates[name] = (int(mask.sum()), size)
    notes = []
    if crossed:
        notes.append(f"{crossed} coordinate{'s' if crossed > 1 else ''} left out: a ReLU "
                     f"pre-activation changed sign between theta - eps and theta + eps (a "
                     f"kink, where the difference quotient is not the derivative; a smaller "
                     f"epsilon crosses fewer)")
    if dropped:
        notes.append(f"dropout turned off for the check in {', '.join(dropped)}")
    if model.dtype != np.float64:
        notes.append(f"checked on a float64 copy of the {model.dtype.name} model")
    return GradientCheckResult(_relative(approx, exact[coords]), per_parameter, threshold,
                               int(coords.size), int(n), notes, coordinates)
