"""The course's bias/variance table."""
import pytest

import fastnn as fn


@pytest.mark.parametrize("train, dev, verdict", [
    (0.01, 0.11, "high variance"),
    (0.15, 0.16, "high bias"),
    (0.15, 0.30, "high bias and high variance"),
    (0.005, 0.01, "good fit"),
])
def test_course_table(train, dev, verdict):
    d = fn.diagnose(train, dev, bayes_error=0.0)
    assert d.verdict == verdict
    assert d.avoidable_bias == pytest.approx(train)
    assert d.variance == pytest.approx(dev - train)


def test_high_bayes_error_changes_the_verdict():
    # blurry images: even people get 15% wrong, so 15%/16% is no bias problem
    assert fn.diagnose(0.15, 0.16, bayes_error=0.0).verdict == "high bias"
    assert fn.diagnose(0.15, 0.16, bayes_error=0.15).verdict == "good fit"
    assert fn.diagnose(0.15, 0.30, bayes_error=0.15).verdict == "high variance"


def test_advice_follows_the_basic_recipe():
    bias = fn.diagnose(0.15, 0.16)
    assert any("bigger network" in a for a in bias.advice)
    assert not any("more training data" in a for a in bias.advice)
    var = fn.diagnose(0.01, 0.11)
    assert any("more training data" in a for a in var.advice)
    assert any("regularization" in a for a in var.advice)
    both = fn.diagnose(0.08, 0.30, bayes_error=0.0)
    assert both.advice[0].startswith("get more training data")   # the larger gap first
    assert "high variance" in repr(var) and "next steps" in str(var)


@pytest.mark.parametrize("args", [(1.5, 0.1), (0.1, -0.1), (float("nan"), 0.1), ("1%", 0.1)])
def test_errors_must_be_rates(args):
    with pytest.raises(ValueError, match="error rate"):
        fn.diagnose(*args)
