"""How the commands print models, metrics and diagnoses (one place, one style)."""

__all__ = ["format_metrics", "print_diagnosis", "describe_optimizer", "print_per_class",
           "print_gradcheck_table"]


def format_metrics(metrics):
    """"loss 0.1234, accuracy 96.50%" from ``model.evaluate``'s dict."""
    parts = [f"loss {metrics['loss']:.4f}"]
    if "accuracy" in metrics:
        parts.append(f"accuracy {metrics['accuracy']:.2%}")
    return ", ".join(parts)


def print_diagnosis(diagnosis, first=None):
    print(f"diagnosis: {diagnosis.verdict} (train error {diagnosis.train_error:.2%}, dev error "
          f"{diagnosis.dev_error:.2%}: {diagnosis.gaps()})")
    for advice in ([first] if first else []) + diagnosis.advice:
        print(f"  - {advice}")


def describe_optimizer(optimizer):
    """"Adam(beta1=0.9, ...), learning rate Constant(learning_rate=0.001)"."""
    args = ", ".join(f"{k}={getattr(optimizer, k)!r}" for k in optimizer.hyperparameters)
    return f"{type(optimizer).__name__}({args}), learning rate {optimizer.schedule!r}"


def print_per_class(names, true, predicted, limit=50):
    """A table of each class (by name): its examples, recall and precision.
    ``true`` and ``predicted`` are class indices into ``names``."""
    import numpy as np

    k = len(names)
    if k > limit:
        print(f"per class: {k} classes, too many for a table (at most {limit})")
        return
    labels = [str(n) for n in names]
    width = max(len("class"), *(len(n) for n in labels))
    examples = np.bincount(true, minlength=k)
    chosen = np.bincount(predicted, minlength=k)
    hits = np.bincount(true[true == predicted], minlength=k)
    print(f"{'class':<{width}}  examples   recall  precision")
    for c in range(k):
        recall = f"{hits[c] / examples[c]:.2%}" if examples[c] else "-"
        precision = f"{hits[c] / chosen[c]:.2%}" if chosen[c] else "-"
        print(f"{labels[c]:<{width}}  {examples[c]:>8}  {recall:>7}  {precision:>9}")


def print_gradcheck_table(result):
    """One row per parameter array: coordinates checked, its relative
    difference and its own verdict against the threshold."""
    names = list(result.per_parameter)
    width = max([len("parameter")] + [len(name) for name in names])
    print(f"{'parameter':<{width}}  {'checked':>13}  difference  verdict")
    for name in names:
        checked, size = result.coordinates.get(name, (None, None))
        count = f"{checked:,}/{size:,}" if checked is not None else "-"
        verdict = ("ok" if result.parameter_passed(name) else
                   f"FAILED (not below {result.threshold:g})")
        print(f"{name:<{width}}  {count:>13}  {result.per_parameter[name]:.3e}   {verdict}")
