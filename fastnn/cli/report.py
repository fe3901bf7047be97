"""How the commands print models, metrics and diagnoses (one place, one style)."""

__all__ = ["format_metrics", "print_diagnosis", "describe_optimizer"]


def format_metrics(metrics):
    """"loss 0.1234, accuracy 96.50%" from ``model.evaluate``'s dict."""
    parts = [f"loss {metrics['loss']:.4f}"]
    if "accuracy" in metrics:
        parts.append(f"accuracy {metrics['accuracy']:.2%}")
    return ", ".join(parts)


def print_diagnosis(diagnosis):
    print(f"diagnosis: {diagnosis.verdict} (train error {diagnosis.train_error:.2%}, dev error "
          f"{diagnosis.dev_error:.2%}: avoidable bias {diagnosis.avoidable_bias:.2%}, variance "
          f"{diagnosis.variance:.2%})")
    for advice in diagnosis.advice:
        print(f"  - {advice}")


def describe_optimizer(optimizer):
    """"Adam(beta1=0.9, ...), learning rate Constant(learning_rate=0.001)"."""
    args = ", ".join(f"{k}={getattr(optimizer, k)!r}" for k in optimizer.hyperparameters)
    return f"{type(optimizer).__name__}({args}), learning rate {optimizer.schedule!r}"
