"""Learning-rate schedules (fastnn.schedules): the course's formulas, configs, errors."""
import json
import math

import pytest

import fastnn as fn
from fastnn import schedules


def test_constant():
    s = schedules.Constant(0.01)
    assert [s(e) for e in range(3)] == [0.01, 0.01, 0.01]


def test_inverse_time_decay_is_the_course_formula():
    # alpha = alpha0 / (1 + decay_rate * epoch): the lecture's alpha0 = 0.2,
    # decay_rate = 1 gives 0.2, 0.1, 0.067, 0.05, 0.04.
    s = schedules.InverseTimeDecay(0.2, decay_rate=1.0)
    assert [s(e) for e in range(5)] == pytest.approx([0.2, 0.1, 0.2 / 3, 0.05, 0.04])


def test_inverse_time_decay_with_a_time_interval_is_a_staircase():
    # The course's fixed-interval scheduling: decay only every time_interval epochs.
    s = schedules.InverseTimeDecay(0.5, decay_rate=0.3, time_interval=10)
    assert [s(e) for e in (0, 9, 10, 19, 20)] == pytest.approx(
        [0.5, 0.5, 0.5 / 1.3, 0.5 / 1.3, 0.5 / 1.6])


def test_exponential_decay():
    s = schedules.ExponentialDecay(0.1, base=0.95)
    assert [s(e) for e in range(4)] == pytest.approx([0.1 * 0.95 ** e for e in range(4)])
    assert schedules.ExponentialDecay(1.0, base=0.5)(3) == 0.125


def test_inverse_sqrt_decay_counts_the_first_epoch_as_one():
    # k / sqrt(epoch_num) * alpha0 with epoch_num = epoch + 1, so epoch 0 is defined.
    s = schedules.InverseSqrtDecay(0.1, k=2.0)
    assert s(0) == pytest.approx(0.2)
    assert s(3) == pytest.approx(0.1)
    assert s(99) == pytest.approx(0.02)


def test_step_decay_every_step_size_epochs():
    s = schedules.StepDecay(1.0, 3, factor=0.5)
    assert [s(e) for e in range(8)] == [1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25]


def test_step_decay_at_milestones():
    s = schedules.StepDecay(1.0, milestones=[2, 5], factor=0.1)
    assert [s(e) for e in range(7)] == pytest.approx([1, 1, 0.1, 0.1, 0.1, 0.01, 0.01])


ALL = [
    schedules.Constant(0.3),
    schedules.InverseTimeDecay(0.2, 0.5, time_interval=2),
    schedules.ExponentialDecay(0.1, 0.95),
    schedules.InverseSqrtDecay(0.1, k=3.0),
    schedules.StepDecay(0.1, 4, factor=0.25),
    schedules.StepDecay(0.1, milestones=[3, 7], factor=0.5),
]


@pytest.mark.parametrize("schedule", ALL, ids=repr)
def test_config_round_trip_through_json(schedule):
    config = json.loads(json.dumps(schedule.get_config()))
    assert config["class"] == type(schedule).__name__
    for rebuilt in (schedules.from_config(config), type(schedule).from_config(config),
                    schedules.Schedule.from_config(config), schedules.get(config)):
        assert rebuilt == schedule
        assert [rebuilt(e) for e in range(12)] == [schedule(e) for e in range(12)]


def test_user_schedules_are_saved_like_the_built_in_ones():
    class Warmup(schedules.Schedule):
        _config_keys = ("learning_rate", "epochs")

        def __init__(self, learning_rate, epochs=3):
            self.learning_rate, self.epochs = learning_rate, epochs

        def rate(self, epoch):
            return self.learning_rate * min(1.0, (epoch + 1) / self.epochs)

    opt = fn.Adam(Warmup(0.3))
    opt.next_epoch()
    restored = fn.optim.from_state_dict(opt.state_dict())
    assert restored.learning_rate == pytest.approx(0.2)


def test_get():
    assert schedules.get(0.1) == schedules.Constant(0.1)
    s = schedules.ExponentialDecay(0.1)
    assert schedules.get(s) is s


@pytest.mark.parametrize("make, exc, msg", [
    (lambda: schedules.Constant(0), ValueError, r"Constant: learning_rate must be a finite number > 0; got 0"),
    (lambda: schedules.InverseTimeDecay(0.1, -1.0), ValueError, r"InverseTimeDecay: decay_rate must be a finite number >= 0; got -1.0"),
    (lambda: schedules.InverseTimeDecay(0.1, 1.0, time_interval=0), ValueError, r"InverseTimeDecay: time_interval must be an integer >= 1; got 0"),
    (lambda: schedules.ExponentialDecay(0.1, base=0), ValueError, r"ExponentialDecay: base must be a finite number > 0; got 0"),
    (lambda: schedules.ExponentialDecay(0.1, base=1.05), ValueError, r"ExponentialDecay: base must be in \(0, 1\] \(a decay\); got 1.05"),
    (lambda: schedules.InverseSqrtDecay(0.1, k=-2), ValueError, r"InverseSqrtDecay: k must be a finite number > 0; got -2"),
    (lambda: schedules.StepDecay(0.1), ValueError, r"StepDecay: give exactly one of step_size .* and milestones"),
    (lambda: schedules.StepDecay(0.1, 2, milestones=[3]), ValueError, r"StepDecay: give exactly one of"),
    (lambda: schedules.StepDecay(0.1, milestones=[5, 3]), ValueError, r"StepDecay: milestones must be a non-empty increasing list"),
    (lambda: schedules.StepDecay(0.1, 2, factor=1.0), ValueError, r"StepDecay: factor must be a finite number in \[0, 1\); got 1.0"),
    (lambda: schedules.Constant(0.1)(-1), ValueError, r"Constant: epoch must be an integer >= 0 \(epochs count from 0\); got -1"),
    (lambda: schedules.Constant(0.1)(1.5), TypeError, r"Constant: epoch must be an integer >= 0"),
    (lambda: schedules.from_config({"class": "Cosine", "learning_rate": 0.1}), ValueError, r"unknown schedule 'Cosine'"),
    (lambda: schedules.from_config({"class": "Constant", "learning_rate": 0.1, "x": 1}), ValueError, r"unknown keys \['x'\]"),
    (lambda: schedules.from_config(0.1), ValueError, r"expected a dict with a 'class' key"),
])
def test_bad_parameters(make, exc, msg):
    with pytest.raises(exc, match=msg):
        make()


def test_every_rate_is_positive_and_non_increasing():
    for s in ALL:
        rates = [s(e) for e in range(200)]
        assert all(r > 0 and math.isfinite(r) for r in rates)
        assert all(b <= a for a, b in zip(rates, rates[1:]))
