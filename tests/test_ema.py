"""Exponentially weighted averages (fastnn.ExponentialMovingAverage)."""
import numpy as np
import pytest

import fastnn as fn

import reference as ref


def test_course_weights_at_t2_with_bias_correction():
    # beta = 0.98: v_2 = 0.0196 theta_1 + 0.02 theta_2; corrected, divided by 0.0396.
    theta_1, theta_2 = 40.0, 49.0
    ema = fn.ExponentialMovingAverage(0.98)
    assert ema.update(theta_1) == pytest.approx(theta_1)         # 0.02 theta_1 / 0.02
    corrected = ema.update(theta_2)
    assert corrected == pytest.approx((0.0196 * theta_1 + 0.02 * theta_2) / 0.0396)
    assert ema.uncorrected == pytest.approx(0.0196 * theta_1 + 0.02 * theta_2)
    assert 1 - 0.98 ** 2 == pytest.approx(0.0396)


def test_course_weights_one_value_at_a_time():
    # The weights themselves: a 1 at one time and 0 at the other.
    first = fn.ExponentialMovingAverage(0.98)
    first.update(1.0)
    assert first.update(0.0) == pytest.approx(0.0196 / 0.0396)
    second = fn.ExponentialMovingAverage(0.98)
    second.update(0.0)
    assert second.update(1.0) == pytest.approx(0.02 / 0.0396)


def test_without_bias_correction_the_start_is_biased_towards_zero():
    ema = fn.ExponentialMovingAverage(0.98, bias_correction=False)
    assert ema.update(40.0) == pytest.approx(0.8)                # 0.02 * 40
    assert ema.update(49.0) == pytest.approx(0.0196 * 40 + 0.02 * 49)


def test_matches_the_reference_on_a_sequence(rng, assert_close):
    temps = rng.normal(20, 5, size=100)
    for beta in (0.0, 0.5, 0.9, 0.98):
        for corrected in (True, False):
            ema = fn.ExponentialMovingAverage(beta, bias_correction=corrected)
            got = [ema.update(x) for x in temps]
            # float64 averages of values ~20, no cancellation: rtol alone (scale=0)
            assert_close(got, ref.ewa(temps, beta, corrected), np.float64, scale=0,
                         err_msg=f"beta={beta}, bias_correction={corrected}")
            assert ema.t == 100


def test_corrected_average_of_a_constant_is_the_constant():
    ema = fn.ExponentialMovingAverage(0.9)
    for _ in range(30):
        assert ema.update(3.0) == pytest.approx(3.0, rel=1e-12)


def test_arrays():
    ema = fn.ExponentialMovingAverage(0.9)
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    out1 = ema.update(a)
    np.testing.assert_allclose(out1, a)
    out2 = ema.update(b)
    np.testing.assert_allclose(out2, (0.09 * a + 0.1 * b) / 0.19)
    assert isinstance(out2, np.ndarray) and out2.dtype == np.float64
    out2[...] = 0                                               # a copy: the state is safe
    np.testing.assert_allclose(ema.value, (0.09 * a + 0.1 * b) / 0.19)
    f32 = fn.ExponentialMovingAverage(0.5)
    assert f32.update(np.ones(3, np.float32)).dtype == np.float32
    ints = fn.ExponentialMovingAverage(0.5)
    assert ints.update(np.array([1, 2])).dtype == np.float64
    with pytest.raises(ValueError, match=r"x must have the shape \(2,\) of the values before it; got \(3,\)"):
        ema.update(np.zeros(3))


def test_reset_and_value():
    ema = fn.ExponentialMovingAverage(0.5)
    assert ema.value is None and ema.uncorrected is None
    ema.update(2.0)
    ema.reset()
    assert ema.t == 0 and ema.value is None
    assert ema.update(4.0) == 4.0


@pytest.mark.parametrize("beta", [1.0, -0.1, 1.5, float("nan")])
def test_beta_outside_0_1_is_refused(beta):
    with pytest.raises(ValueError, match=r"ExponentialMovingAverage: beta must be a finite number in \[0, 1\)"):
        fn.ExponentialMovingAverage(beta)
