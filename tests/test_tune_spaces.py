"""Search spaces: the distributions, their reproducibility and their checks."""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastnn import tune
from fastnn.tune.spaces import space_from_spec, space_spec
from tune_helpers import SPACE

N = 20_000


def test_log_uniform_puts_a_quarter_of_the_samples_in_each_decade():
    x = tune.LogUniform(1e-4, 1).sample(np.random.default_rng(0), size=N)
    assert x.min() >= 1e-4 and x.max() <= 1
    counts = np.histogram(np.log10(x), bins=[-4, -3, -2, -1, 0])[0] / N
    np.testing.assert_allclose(counts, 0.25, atol=0.015)


def test_one_minus_log_uniform_is_dense_near_one():
    beta = tune.OneMinusLogUniform(0.9, 0.999).sample(np.random.default_rng(0), size=N)
    assert beta.min() >= 0.9 and beta.max() <= 0.999
    one_minus = 1 - beta
    # r = log10(1 - beta) is uniform in [-3, -1]: half of it in [-3, -2].
    assert abs(np.mean((one_minus >= 1e-3) & (one_minus <= 1e-2)) - 0.5) < 0.015
    # ... where a uniform draw of beta would put only 10%.
    assert abs(np.mean(beta >= 0.99) - 0.5) < 0.015


def test_uniform_int_uniform_and_choice_are_uniform():
    rng = np.random.default_rng(1)
    x = tune.Uniform(-2, 6).sample(rng, size=N)
    assert -2 <= x.min() and x.max() <= 6 and abs(x.mean() - 2) < 0.05
    k = tune.IntUniform(50, 53).sample(rng, size=N)
    assert k.dtype.kind == "i"
    np.testing.assert_allclose(np.bincount(k - 50) / N, 0.25, atol=0.015)  # both ends included
    c = tune.Choice([64, 128, "x", None]).sample(rng, size=N)
    for option in (64, 128, "x", None):
        assert abs(sum(v == option for v in c) / N - 0.25) < 0.015


def test_single_samples_are_plain_python_values():
    rng = np.random.default_rng(0)
    assert type(tune.LogUniform(1e-3, 1).sample(rng)) is float
    assert type(tune.OneMinusLogUniform(0.9, 0.99).sample(rng)) is float
    assert type(tune.IntUniform(1, 9).sample(rng)) is int
    assert tune.Choice([np.int64(3)]).sample(rng) == 3 and type(tune.Choice([np.int64(3)]).sample(rng)) is int


@pytest.mark.parametrize("dist", [tune.Uniform(0, 1), tune.IntUniform(0, 1000), tune.LogUniform(1e-5, 10),
                                  tune.OneMinusLogUniform(0.5, 0.9999), tune.Choice(list("abcdef"))])
def test_the_same_seed_gives_the_same_samples(dist):
    a = [dist.sample(np.random.default_rng(42)) for _ in range(3)]
    assert a == [dist.sample(42) for _ in range(3)]  # a seed works as well as a Generator
    rng1, rng2 = np.random.default_rng(7), np.random.default_rng(7)
    assert [dist.sample(rng1) for _ in range(50)] == [dist.sample(rng2) for _ in range(50)]
    assert [dist.sample(np.random.default_rng(s)) for s in range(20)] != [dist.sample(np.random.default_rng(0))] * 20


@settings(max_examples=60, deadline=None)
@given(st.floats(-6, 3), st.floats(0, 5), st.integers(0, 2**32 - 1))
def test_log_uniform_samples_stay_inside_the_bounds(log_a, width, seed):
    a, b = 10.0 ** log_a, 10.0 ** (log_a + width)
    x = tune.LogUniform(a, b).sample(seed, size=64)
    assert (x >= a).all() and (x <= b).all()


def test_grid_is_evenly_spaced_in_the_own_scale():
    np.testing.assert_allclose(tune.LogUniform(1e-4, 1).grid(5), [1e-4, 1e-3, 1e-2, 1e-1, 1])
    np.testing.assert_allclose(tune.OneMinusLogUniform(0.9, 0.999).grid(3), [0.9, 0.99, 0.999])
    assert tune.IntUniform(1, 3).grid(10) == [1, 2, 3]
    assert tune.Choice(["a", "b"]).grid() == ["a", "b"]


def test_around_narrows_in_the_own_scale():
    # Kept learning rates 1e-3 and 1e-2, padded by 10% of 4 decades = 0.4 decade.
    narrowed = tune.LogUniform(1e-4, 1).around([1e-3, 1e-2], pad=0.1)
    assert isinstance(narrowed, tune.LogUniform)
    np.testing.assert_allclose(np.log10([narrowed.a, narrowed.b]), [-3.4, -1.6])
    # 1 - beta in [1e-3, 1e-2] with no pad: beta in [0.99, 0.999].
    narrowed = tune.OneMinusLogUniform(0.9, 0.999).around([0.99, 0.999], pad=0.0)
    np.testing.assert_allclose([narrowed.a, narrowed.b], [0.99, 0.999])
    # Never beyond the current range; integers rounded outward.
    assert tune.Uniform(0, 1).around([0.0, 0.1], pad=0.5) == tune.Uniform(0.0, 0.6)
    assert tune.IntUniform(50, 100).around([60, 61], pad=0.01) == tune.IntUniform(59, 62)
    assert tune.Choice([64, 128, 256]).around([256, 64]) == tune.Choice([64, 256])


def test_specs_round_trip():
    assert space_from_spec(space_spec(SPACE)) == SPACE


@pytest.mark.parametrize("make, error, message", [
    (lambda: tune.Uniform(2, 1), ValueError, r"Uniform\(a, b\): needs a <= b; got a=2.0, b=1.0"),
    (lambda: tune.IntUniform(100, 50), ValueError, r"IntUniform\(a, b\): needs a <= b"),
    (lambda: tune.IntUniform(1.5, 3), TypeError, r"IntUniform\(a, b\): a must be an integer; got 1.5"),
    (lambda: tune.LogUniform(0, 1), ValueError, r"LogUniform\(a, b\): needs 0 < a .* got a=0.0.*Use Uniform"),
    (lambda: tune.LogUniform(-1, 1), ValueError, r"needs 0 < a"),
    (lambda: tune.LogUniform(1, 1e-4), ValueError, r"needs a <= b"),
    (lambda: tune.OneMinusLogUniform(0.9, 1.0), ValueError, r"needs 0 < a <= b < 1 .* b=1.0"),
    (lambda: tune.OneMinusLogUniform(0, 0.9), ValueError, r"needs 0 < a <= b < 1"),
    (lambda: tune.OneMinusLogUniform(0.999, 0.9), ValueError, r"needs a <= b"),
    (lambda: tune.Uniform(0, math.inf), ValueError, r"b must be finite"),
    (lambda: tune.Uniform("0", 1), TypeError, r"a must be a real number"),
    (lambda: tune.Choice([]), ValueError, r"Choice\(options\): options is empty"),
    (lambda: tune.Choice("abc"), TypeError, r"options must be a list"),
    (lambda: tune.Choice([1, (2, 3)]), TypeError, r"option 1 is \(2, 3\)"),
    (lambda: tune.LogUniform(1e-4, 1).grid(0), ValueError, r"grid\(n\): n must be an integer >= 1"),
])
def test_bad_spaces_are_clear_errors(make, error, message):
    with pytest.raises(error, match=message):
        make()
