"""Plots (optional extra ``plot``: matplotlib): learning curves, decision
boundaries of 2-D problems, per-layer gradient norms.

Each function returns a matplotlib Figure and, given ``path``, also writes a
PNG there.  Figures are made with the object-oriented API (no pyplot state),
so they render headless and never open a window.
"""
import numpy as np

from fastnn.ema import ExponentialMovingAverage

__all__ = ["plot_learning_curves", "plot_decision_boundary", "plot_gradient_norms"]


def _figure(ncols=1):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError("fastnn.plot needs matplotlib: pip install 'fastnn[plot]'") from None
    fig = Figure(figsize=(5.5 * ncols, 4), layout="constrained")
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _save(fig, path):
    if path is not None:
        from fastnn.serialization import atomic_write
        atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=100))
    return fig


def _history_dict(history):
    if hasattr(history, "history"):
        return history.history, getattr(history, "batch_loss", [])
    if isinstance(history, dict):
        return history, history.get("batch_loss", [])
    raise TypeError(f"expected a fastnn History or a dict of per-epoch lists; got {type(history).__name__}")


def plot_learning_curves(history, path=None, smooth=0.9):
    """Train vs dev cost per epoch (and accuracy when logged); with per-batch
    costs recorded (``fit(record_batch_loss=True)``), a second panel shows them
    with their exponentially weighted average (beta = ``smooth``)."""
    logs, batch_loss = _history_dict(history)
    if "loss" not in logs or not logs["loss"]:
        raise ValueError("plot_learning_curves: the history has no 'loss' entries")
    fig, axes = _figure(2 if len(batch_loss) else 1)
    ax = axes[0]
    epochs = np.arange(1, len(logs["loss"]) + 1)
    ax.plot(epochs, logs["loss"], label="train cost")
    if logs.get("val_loss"):
        ax.plot(epochs, logs["val_loss"], label="dev cost")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cost")
    ax.set_title("learning curves")
    handles = ax.get_lines()
    if logs.get("accuracy"):
        acc = ax.twinx()
        acc.plot(epochs, logs["accuracy"], "--", color="tab:green", label="train accuracy")
        if logs.get("val_accuracy"):
            acc.plot(epochs, logs["val_accuracy"], "--", color="tab:red", label="dev accuracy")
        acc.set_ylabel("accuracy")
        handles = handles + acc.get_lines()
    # one legend for both axes, so entries never sit on top of each other
    ax.legend(handles, [h.get_label() for h in handles], loc="center right", fontsize="small")
    if len(batch_loss):
        ema = ExponentialMovingAverage(smooth)
        smoothed = [ema.update(float(c)) for c in batch_loss]
        ax2 = axes[1]
        ax2.plot(batch_loss, alpha=0.35, label="mini-batch cost")
        ax2.plot(smoothed, label=f"EWA, beta={smooth}")
        ax2.set_xlabel("mini-batch")
        ax2.set_ylabel("cost")
        ax2.set_title("mini-batch cost")
        ax2.legend()
    return _save(fig, path)


def plot_decision_boundary(model, X, y, path=None, resolution=200, margin=0.5):
    """The classes a model predicts over the plane of 2-D data X, with the
    points (X, y) on top."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary: X must be 2-D data of shape (m, 2); got {X.shape}")
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"plot_decision_boundary: X has {X.shape[0]} rows but y has {y.shape[0]}")
    (x0, y0), (x1, y1) = X.min(axis=0) - margin, X.max(axis=0) + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    pred = np.asarray(model.predict(grid)).reshape(gx.shape)
    fig, (ax,) = _figure()
    ax.contourf(gx, gy, pred, alpha=0.3, cmap="coolwarm")
    labels = y if y.ndim == 1 else y.argmax(axis=1)
    ax.scatter(X[:, 0], X[:, 1], c=labels, cmap="coolwarm", s=12, edgecolors="k", linewidths=0.3)
    ax.set_title("decision boundary")
    return _save(fig, path)


def plot_gradient_norms(history, path=None):
    """Per-layer norms ||dW|| over training (``fit(record_grad_norms=True)``),
    on a log scale: vanishing gradients fall towards the input layers,
    exploding ones climb."""
    norms = getattr(history, "grad_norms", None)
    if not norms:
        raise ValueError("plot_gradient_norms: the history has no gradient norms; train with "
                         "fit(..., record_grad_norms=True)")
    fig, (ax,) = _figure()
    for name, values in norms.items():
        ax.plot(np.arange(1, len(values) + 1), values, label=name)
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean ||dW|| per mini-batch")
    ax.set_title("gradient norms per layer")
    ax.legend()
    return _save(fig, path)
