"""Bias and variance, read off training and dev errors as the course does.

    avoidable bias = train error - Bayes error   (human-level error as a proxy)
    variance       = dev error - train error

A part is high when it reaches ``tolerance`` (default 2 percentage points).
A training error below the Bayes estimate (e.g. human-level error, which
models can beat) gives a negative avoidable bias: no bias problem.
The advice is the course's basic recipe: for high bias a bigger network,
longer training, a better optimizer or another architecture; for high
variance more data, regularization or another architecture.
"""

from fastnn import checks

__all__ = ["Diagnosis", "diagnose"]

_ADVICE_BIAS = ["train a bigger network (more hidden units or layers)",
                "train longer or use a better optimizer (momentum, RMSprop, Adam)",
                "try another architecture / hyperparameters"]
_ADVICE_VARIANCE = ["get more training data (or augment it)",
                    "add regularization (L2, dropout, early stopping)",
                    "try another architecture / hyperparameters"]


class Diagnosis:
    """``verdict`` ("high bias", "high variance", "high bias and high variance",
    "good fit"), ``avoidable_bias``, ``variance``, the errors, and ``advice``."""

    def __init__(self, train_error, dev_error, bayes_error, tolerance):
        self.train_error, self.dev_error, self.bayes_error = train_error, dev_error, bayes_error
        self.tolerance = tolerance
        self.avoidable_bias = train_error - bayes_error
        self.variance = dev_error - train_error
        high_bias = self.avoidable_bias >= tolerance
        high_variance = self.variance >= tolerance
        if high_bias and high_variance:
            self.verdict = "high bias and high variance"
        elif high_bias:
            self.verdict = "high bias"
        elif high_variance:
            self.verdict = "high variance"
        else:
            self.verdict = "good fit"
        advice = []
        # the larger gap first: that is where the next gain is
        parts = [(self.avoidable_bias, high_bias, _ADVICE_BIAS),
                 (self.variance, high_variance, _ADVICE_VARIANCE)]
        for _, high, items in sorted(parts, key=lambda p: -p[0]):
            if high:
                advice += [a for a in items if a not in advice]
        if not advice:
            advice = ["the model fits well: check the test set, or lower the error further "
                      "with the larger of the two gaps"]
        if self.variance < 0:
            # not a negative variance: a sign to read, not a number to act on
            advice.append(f"the dev error is {-self.variance:.2%} below the training error: "
                          f"normal when dropout, augmentation or L2 make the training error "
                          f"(measured while training) harder than the dev error; otherwise the "
                          f"dev set may be too small to be precise, or easier than (drawn from "
                          f"another distribution than) the training set")
        self.advice = advice
        self.focus = ("bias" if self.avoidable_bias >= self.variance else "variance")

    def gaps(self):
        """"avoidable bias 3.10%, variance 1.20%"; a gap below zero is said as
        none, with by how much the error is below (never a negative variance)."""
        bias = (f"avoidable bias {self.avoidable_bias:.2%}" if self.avoidable_bias >= 0 else
                f"no avoidable bias (train error {-self.avoidable_bias:.2%} below the Bayes "
                f"estimate)")
        variance = (f"variance {self.variance:.2%}" if self.variance >= 0 else
                    f"no variance (dev error {-self.variance:.2%} below the train error)")
        return f"{bias}, {variance}"

    def __repr__(self):
        return (f"Diagnosis({self.verdict!r}: train error {self.train_error:.2%}, dev error "
                f"{self.dev_error:.2%}, Bayes error {self.bayes_error:.2%}; {self.gaps()})")

    def __str__(self):
        lines = [repr(self), "next steps:"] + [f"  - {a}" for a in self.advice]
        return "\n".join(lines)


def _fraction(value, name):
    return checks.check_number(value, name, "diagnose", 0, 1, what="an error rate: 0.01 is 1%")


def diagnose(train_error, dev_error, bayes_error=0.0, tolerance=0.02):
    """Diagnose bias and variance from error rates (fractions: 0.11 is 11%)."""
    train_error = _fraction(train_error, "train_error")
    dev_error = _fraction(dev_error, "dev_error")
    bayes_error = _fraction(bayes_error, "bayes_error")
    tolerance = _fraction(tolerance, "tolerance")
    return Diagnosis(train_error, dev_error, bayes_error, tolerance)
