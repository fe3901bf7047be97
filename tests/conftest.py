"""Shared fixtures of fastnn's test suite.

- ``TOLERANCES``: the ONE per-dtype tolerance table every comparison with
  ``tests/reference.py`` uses (through the ``assert_close`` fixture), next to
  the named, measured exceptions ``OPTIMIZER_TOLERANCES`` and ``FD_TOL``.
- ``impl``: every specification test runs on both implementations,
  ``fastnn.ops`` (id "c") and ``fastnn.numpy_ops`` (id "numpy").
- ``dtype``, ``rng``: the float dtypes and a seeded generator.
- ``threads``: ``threads(n)`` sets fastnn's thread count for the test, which
  is restored afterwards.
- ``shared_data``: path of a file in ``../shared/data/`` (relative to the
  repository root), skipping the test with the reason when it is absent.

The parametrized fixtures are session-scoped so that hypothesis ``@given``
tests can use them (hypothesis refuses function-scoped fixtures, which would
not be reset between its examples).
"""
import os
import pathlib
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import settings

# CI (.ci/run sets CI=true) draws the same hypothesis examples every run, so
# a submission is judged on the same inputs as the last run of its tests;
# elsewhere every run explores new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

import fastnn
import fastnn.numpy_ops
import fastnn.ops

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


# ----------------------------------------------------------------------------
# Tolerances
# ----------------------------------------------------------------------------

class Tol(NamedTuple):
    rtol: float
    atol: float


# A kernel's output x is accepted against the float64 reference r when, for
# every element,
#     |x - r| <= atol * scale + rtol * |r| + tiny,
# scale = max(|r|) unless the test names the magnitude of the terms r was
# computed from (when they cancel, e.g. dZ = (softmax - Y) / m with k = 1).
# atol is relative to a magnitude because the rounding error of a sum (GEMM,
# column sums, a difference) scales with its terms, not with its result; an
# element that cancels to ~0 carries the error of the terms.  tiny is the
# smallest normal number of the kernel's dtype: below it a value has no
# relative precision (float32 sigmoid(-125) is 0, not 1e-54).
# Measured (shapes up to 1501x300->257): float32 errors up to 1.8e-6 of
# max|r|, float64 up to 3e-15.  The float32 limits are ~3x above that, the
# float64 ones ~30x; neither may be raised to make a test pass.
TOLERANCES = {
    np.dtype(np.float32): Tol(rtol=1e-5, atol=5e-6),
    np.dtype(np.float64): Tol(rtol=1e-12, atol=1e-13),
}

# Optimizer updates (tests/test_optim_kernels.py: 50-step trajectories and
# random single steps against reference.*_step).  Elementwise, no sums, so
# these tests pass scale=1 (absolute atol: w, g ~ N(0, 1), |x| <= 10 in the
# property tests); a float32 trajectory accumulates the rounding of 50 steps.
# Measured (both implementations, every shape of the tests, seeds 0-3):
# float32 trajectories need atol 1.98e-6 at rtol 1e-5, 1.77e-6 at rtol 2e-5
# (momentum's v in the summing form, |v| up to ~30; every other array <=
# 4.9e-7 at rtol 1e-5); single steps (3000 hypothesis examples per kernel)
# 1.6e-6 (Adam's w); float64 at rtol 1e-12 at most 2.2e-16.  TOLERANCES'
# float32 rule does not fit: relative to max|r|, the v of a scalar parameter
# that cancels to ~0 is off by 1.7e-5 of it, and with scale=1 its atol of 5e-6
# would be looser than this 2e-6.  float64 is the table's.
OPTIMIZER_TOLERANCES = {
    np.dtype(np.float32): Tol(rtol=2e-5, atol=2e-6),
    np.dtype(np.float64): TOLERANCES[np.dtype(np.float64)],
}

# Finite differences (float64, central, reference.numerical_gradient's
# eps=1e-6): truncation O(eps^2 f''') plus rounding O(1e-16 / eps) ~ 1e-10 of
# the function's scale.  Compared with the same rule as above.
FD_TOL = Tol(rtol=1e-6, atol=1e-7)


def _assert_close(actual, expected, dtype=None, tol=None, scale=None, err_msg=""):
    """Compare a kernel result with a float64 reference at the table's tolerance.

    dtype: the dtype of the kernel's inputs (default: actual's dtype); tol
    overrides the table (FD_TOL, OPTIMIZER_TOLERANCES[dtype], or a bound of
    one call, with a comment there saying why); scale: the magnitude atol is
    relative to (default max |expected|).
    """
    actual = np.asarray(actual)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, (
        f"shape {actual.shape} != expected {expected.shape} {err_msg}")
    dtype = np.dtype(dtype if dtype is not None else actual.dtype)
    if tol is None:
        tol = TOLERANCES[dtype]
    if scale is None:
        scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    actual = actual.astype(np.float64, copy=False)
    atol = tol.atol * scale + np.finfo(dtype).tiny
    # numpy's rule, checked quickly first (a test may compare thousands of
    # large arrays); assert_allclose decides the rest (NaN, inf) and reports
    if not np.all(np.abs(actual - expected) <= atol + tol.rtol * np.abs(expected)):
        np.testing.assert_allclose(actual, expected, rtol=tol.rtol, atol=atol, err_msg=err_msg)


@pytest.fixture(scope="session")
def assert_close():
    """``assert_close(actual, expected, dtype=None, tol=None, scale=None, err_msg="")``."""
    return _assert_close


@pytest.fixture(scope="session")
def fd_tol():
    return FD_TOL


# ----------------------------------------------------------------------------
# Implementations, dtypes, random numbers
# ----------------------------------------------------------------------------

@pytest.fixture(scope="session", params=[fastnn.ops, fastnn.numpy_ops], ids=["c", "numpy"])
def impl(request):
    """The module under test: fastnn.ops or its NumPy twin fastnn.numpy_ops."""
    return request.param


@pytest.fixture(scope="session", params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture
def rng():
    return np.random.default_rng(20240531)


@pytest.fixture
def threads():
    """``threads(n)`` -> fastnn.set_num_threads(n); the count found is restored.
    Tests use more threads than this machine's CPUs on purpose (3 unequal
    blocks): the warning that this is slow is not theirs to give
    (tests/test_threads.py checks it)."""
    import warnings
    old = fastnn.get_num_threads()

    def set_threads(n):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "fastnn: .* usable CPU", RuntimeWarning)
            fastnn.set_num_threads(n)
    yield set_threads
    set_threads(old)


# ----------------------------------------------------------------------------
# Shared data
# ----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shared_data():
    """``shared_data("name.csv")`` -> pathlib.Path of ../shared/data/name.csv,
    or skip the test saying which file is missing."""
    def path(name):
        p = SHARED_DATA / name
        if not p.exists():
            pytest.skip(f"shared data file {p} is absent (the tests that need "
                        f"../shared/data/ relative to the repository root skip without it)")
        return p
    return path
