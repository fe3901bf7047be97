"""Class labels as users have them: text labels, a label column, the course's
row of labels.

A classifier's targets are class indices (0..k-1), one-hot rows or, for a
sigmoid output, 0/1 values.  Labels that are text ("malignant", "benign")
are mapped to indices through ``classes`` (their sorted unique values, as
scikit-learn's ``classes_``); the model keeps ``classes_`` (saved in its
file) and ``predict`` answers in those labels.  Integer labels stay class
indices, as Keras takes them.

Design: ``encode`` only reshapes and maps labels; the loss checks what it
gets (range, shape, finiteness) as for any numeric targets.
"""
import numpy as np

__all__ = ["encode", "is_text", "text_classes", "declared_classes", "example_weights"]


def is_text(y):
    """Whether the labels ``y`` (an array) are text: strings, or objects that
    are all strings (a pandas column of text)."""
    if y.dtype.kind in "US":
        return True
    return y.dtype.kind == "O" and y.size > 0 and all(isinstance(v, str) for v in y.ravel())


def text_classes(y):
    """The sorted unique labels of text ``y``, as a NumPy string array."""
    return np.unique(np.asarray(y, dtype=str))


def encode(y, m, classes, loss_name, n_out, func, n_features=None):
    """``(targets, classes)``: ``y`` ready for the loss's own checks, and the
    classes a model trained on it answers in (None: labels are indices).

    y : the user's labels; m : the number of rows of X; classes : the
    model's ``classes_`` (None if it has none yet); n_features : the width
    of X, to recognize the course's (n_features, m) layout in mistakes.
    """
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[0] == 1 and y.shape[1] == m and m > 1:
        raise ValueError(f"{func}: y has shape {y.shape}: the course's row of labels (1, m)? "
                         f"use y.ravel() (one label per row of X)")
    if y.ndim >= 1 and y.shape[0] != m:
        hint = ""
        if n_features is not None and y.shape[0] == n_features:
            hint = " (did you pass X as (n_features, m)? use X.T: one example per row)"
        raise ValueError(f"{func}: X has {m} rows but y has {y.shape[0]}{hint}")
    if y.ndim == 2 and y.shape[1] == 1 and loss_name == "categorical_crossentropy" and n_out > 1:
        y = y[:, 0]          # a label column (m, 1), not one-hot rows
    if not is_text(y):
        if classes is not None and y.dtype.kind in "biuf":
            raise ValueError(f"{func}: this model answers in the labels {list(classes)}; give y "
                             f"in those labels, not as numbers")
        return y, classes
    if loss_name == "mse":
        raise TypeError(f"{func}: y holds text ({y.dtype}); regression targets must be numbers")
    y = np.asarray(y, dtype=str)
    if y.ndim != 1:
        raise ValueError(f"{func}: text labels must be one label per row, shape (m,); got {y.shape}")
    found = text_classes(y)
    if classes is None:
        classes = found
        # one output per class (two classes for one sigmoid unit): every
        # prediction is then one of them, never an untrained unit's
        binary = loss_name == "binary_crossentropy"
        if binary and n_out != 1:
            raise ValueError(f"{func}: text labels name one class per example; a sigmoid output "
                             f"of {n_out} units takes 0/1 columns (multi-label), not text")
        needed = 2 if binary else n_out
        if len(classes) != needed:
            layer = ("one sigmoid unit tells 2 classes apart" if binary else
                     f"the output layer has {n_out} units, one per class")
            raise ValueError(f"{func}: y has {len(classes)} classes ({_show(classes)}) but "
                             f"{layer}: give the output layer {len(classes)} softmax units"
                             + (" (a second class is needed)" if len(classes) < 2 else ""))
    else:
        unknown = np.setdiff1d(found, classes)
        if unknown.size:
            raise ValueError(f"{func}: y holds labels the model does not know: "
                             f"{_show(unknown)}; its classes are {_show(classes)}")
    index = np.searchsorted(classes, y)
    if loss_name == "binary_crossentropy" and n_out == 1:
        # one sigmoid unit: the second class is the positive one, as in scikit-learn
        return (index == 1).astype(np.float64), classes
    return index.astype(np.int64), classes


def _show(values, most=10):
    values = [str(v) for v in values]
    more = f", ... ({len(values)} in all)" if len(values) > most else ""
    return "[" + ", ".join(repr(v) for v in values[:most]) + more + "]"


def declared_classes(classes, model, loss, func):
    """The text classes a ``partial_fit`` call trains on (None: class indices).

    scikit-learn's semantics: a classifier's first call names every class
    it will ever see (a chunk may lack some); later calls may repeat them,
    and must then name the same ones."""
    first = model.step == 0 and model.classes_ is None
    if not loss.classification:
        if classes is not None:
            raise ValueError(f"{func}: classes is for classifiers; this model's output is "
                             f"{model.output_layer.activation}")
        return None
    if classes is None:
        if first:
            raise ValueError(f"{func}: the first call must name every class the model will see, "
                             f"classes=[...] (a chunk may not hold them all)")
        return model.classes_
    given = np.asarray(classes)
    if given.ndim != 1 or given.size == 0 or len(np.unique(given)) != given.size:
        raise ValueError(f"{func}: classes must be a list of distinct labels; got {classes!r:.100}")
    if is_text(given):
        names = text_classes(given)
        if model.classes_ is not None and list(names) != list(model.classes_):
            raise ValueError(f"{func}: classes {_show(names)} differ from the first call's "
                             f"{_show(model.classes_)}")
        binary = loss.name == "binary_crossentropy"
        needed = 2 if binary else model.output_dim
        if len(names) != needed:
            raise ValueError(f"{func}: {len(names)} classes for an output of {model.output_dim} "
                             f"unit{'s' if model.output_dim > 1 else ''}: it needs {needed}")
        return names
    if model.classes_ is not None:
        raise ValueError(f"{func}: this model answers in the labels {_show(model.classes_)}; "
                         f"give classes in those labels")
    n = 2 if loss.name == "binary_crossentropy" else model.output_dim
    if given.dtype.kind not in "iu" or sorted(given.tolist()) != list(range(n)):
        raise ValueError(f"{func}: integer classes are the output's class indices 0..{n - 1}; "
                         f"got {_show(given)} (text labels name classes of their own)")
    return None


def example_weights(sample_weight, class_weight, targets, classes, loss_name, dtype, func):
    """Per-example weights for the loss: ``sample_weight`` times the weight
    of each example's class (``class_weight``: {label: weight} or
    "balanced", scikit-learn's n_samples / (n_classes * bincount(y))), in
    the model's dtype; None when neither is given.

    targets : the encoded targets (class indices, one-hot rows, or one 0/1
    column for a sigmoid unit); classes : the model's text classes or None."""
    m = targets.shape[0]
    weights = None
    if sample_weight is not None:
        w = np.asarray(sample_weight)
        if w.dtype.kind not in "biuf" or w.dtype.kind == "b":
            raise TypeError(f"{func}: sample_weight must hold numbers; got dtype {w.dtype}")
        if w.shape != (m,):
            raise ValueError(f"{func}: sample_weight must have one weight per example, shape "
                             f"({m},); got {w.shape}")
        w = w.astype(np.float64)
        if not np.all(np.isfinite(w)):
            raise ValueError(f"{func}: sample_weight contains NaN or Inf")
        if np.any(w < 0):
            raise ValueError(f"{func}: sample_weight must be >= 0; got {w.min():g} at index "
                             f"{int(np.argmin(w))}")
        weights = w
    if class_weight is not None:
        index = _class_index(targets, loss_name, func)
        per_class = _class_weights(class_weight, index, classes, func)
        cw = per_class[index]
        weights = cw if weights is None else weights * cw
    if weights is None:
        return None
    if not weights.sum() > 0:
        raise ValueError(f"{func}: the example weights sum to 0: no example would count")
    return np.ascontiguousarray(weights, dtype=dtype)


def _class_index(targets, loss_name, func):
    if loss_name == "categorical_crossentropy":
        return targets if targets.ndim == 1 else targets.argmax(axis=1)
    if loss_name == "binary_crossentropy" and targets.shape[1] == 1:
        return (targets[:, 0] > 0.5).astype(np.int64)
    raise ValueError(f"{func}: class_weight needs one class per example (softmax, or one "
                     f"sigmoid unit); this model's targets have {targets.shape[1]} columns"
                     if loss_name == "binary_crossentropy" else
                     f"{func}: class_weight is for classifiers, not {loss_name}")


def _class_weights(class_weight, index, classes, func):
    """The weight of each class index, from a dict or "balanced"."""
    n = int(index.max()) + 1 if classes is None else len(classes)
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"{func}: class_weight must be a dict {{label: weight}} or "
                             f"'balanced'; got {class_weight!r}")
        counts = np.bincount(index, minlength=n).astype(np.float64)
        present = counts > 0
        per_class = np.ones(n)
        per_class[present] = len(index) / (present.sum() * counts[present])
        return per_class
    if not isinstance(class_weight, dict):
        raise TypeError(f"{func}: class_weight must be a dict {{label: weight}} or 'balanced'; "
                        f"got {type(class_weight).__name__}")
    per_class = np.ones(max(n, 1))
    for label, weight in class_weight.items():
        if classes is not None:
            if str(label) not in set(classes.tolist()):
                raise ValueError(f"{func}: class_weight names {label!r}, which is not one of the "
                                 f"classes {_show(classes)}")
            k = int(np.searchsorted(classes, str(label)))
        else:
            if isinstance(label, (bool, np.bool_)) or not isinstance(label, (int, np.integer)):
                raise ValueError(f"{func}: class_weight keys are class indices (integers) for "
                                 f"integer labels; got {label!r}")
            k = int(label)
            if k < 0:
                raise ValueError(f"{func}: class_weight names class {k}, which is not a class "
                                 f"index")
            if k >= len(per_class):
                per_class = np.concatenate([per_class, np.ones(k + 1 - len(per_class))])
        if (isinstance(weight, (bool, np.bool_)) or not isinstance(weight, (int, float, np.number))
                or not np.isfinite(weight) or weight < 0):
            raise ValueError(f"{func}: class_weight[{label!r}] must be a finite number >= 0; "
                             f"got {weight!r}")
        per_class[k] = float(weight)
    return per_class
