"""The optimizer kernels (fastnn.ops and their twins in fastnn.numpy_ops)
against the NumPy references of the course formulas (tests/reference.py,
section 8), at conftest's OPTIMIZER_TOLERANCES."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import fastnn
import fastnn._runtime
from fastnn import numpy_ops, ops
from fastnn._optim import PARALLEL_MIN

import reference as ref
from conftest import OPTIMIZER_TOLERANCES, _assert_close

# Above every kernel's threading threshold, odd so the per-thread ranges differ.
BIG = 2 * max(PARALLEL_MIN.values()) + 3
SHAPES = [(), (1,), (7,), (3, 5), (2, 3, 5), (BIG,)]
N_STEPS = 50


def _close(actual, expected, dtype, what):
    """An updated array against the reference's, at OPTIMIZER_TOLERANCES with
    an absolute atol (scale=1): the updates are elementwise, of O(1) inputs."""
    _assert_close(actual, expected, dtype, tol=OPTIMIZER_TOLERANCES[np.dtype(dtype)],
                  scale=1.0, err_msg=what)


def _start(shape, dtype, seed, n_states):
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(shape).astype(dtype)
    grads = [rng.standard_normal(shape).astype(dtype) for _ in range(N_STEPS)]
    states = [np.zeros(shape, dtype) for _ in range(n_states)]
    return w, grads, states


# ------------------------------------------------------------ trajectories, t = 1..50

@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("hp", [dict(), dict(l2=0.7, m=10)], ids=["plain", "l2"])
def test_sgd_trajectory(impl, dtype, shape, hp):
    w, grads, _ = _start(shape, dtype, 0, 0)
    w_ref = w.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        assert impl.sgd_step(w, g, 0.05, **hp) is None
        w_ref = ref.sgd_step(w_ref, g, 0.05, **hp)
        assert w.dtype == dtype and w.shape == shape
        _close(w, w_ref, dtype, f"w at t={t}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("nesterov", [False, True], ids=["classic", "nesterov"])
@pytest.mark.parametrize("average", [True, False], ids=["average", "sum"])
def test_momentum_trajectory(impl, dtype, shape, nesterov, average):
    w, grads, (v,) = _start(shape, dtype, 1, 1)
    w_ref, v_ref = w.astype(np.float64), v.astype(np.float64)
    lr = 0.05 if average else 0.005
    for t, g in enumerate(grads, start=1):
        impl.momentum_step(w, g, v, lr, 0.9, nesterov=nesterov, average=average)
        w_ref, v_ref = ref.momentum_step(w_ref, g, v_ref, lr, 0.9, nesterov, average)
        _close(v, v_ref, dtype, f"v at t={t}")
        _close(w, w_ref, dtype, f"w at t={t}")


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("beta", [0.9, 0.999, 0.0])
def test_rmsprop_trajectory(impl, dtype, shape, beta):
    w, grads, (s,) = _start(shape, dtype, 2, 1)
    w_ref, s_ref = w.astype(np.float64), s.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        impl.rmsprop_step(w, g, s, 0.01, beta, 1e-8)
        w_ref, s_ref = ref.rmsprop_step(w_ref, g, s_ref, 0.01, beta, 1e-8)
        _close(s, s_ref, dtype, f"s at t={t}")
        _close(w, w_ref, dtype, f"w at t={t}")


ADAM_SETTINGS = [
    dict(),                                            # the course's defaults
    dict(beta1=0.5, beta2=0.9, eps=1e-6),
    dict(beta1=0.0, beta2=0.0),                        # no averaging: sign-like steps
    dict(weight_decay=0.1),                            # AdamW
]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("hp", ADAM_SETTINGS, ids=["default", "betas", "beta0", "adamw"])
def test_adam_trajectory(impl, dtype, shape, hp):
    w, grads, (v, s) = _start(shape, dtype, 3, 2)
    w_ref, v_ref, s_ref = (a.astype(np.float64) for a in (w, v, s))
    kw = dict(hp)
    wd = kw.pop("weight_decay", 0.0)
    for t, g in enumerate(grads, start=1):
        impl.adam_step(w, g, v, s, t, 0.01, **kw, weight_decay=wd)
        w_ref, v_ref, s_ref = ref.adam_step(w_ref, g, v_ref, s_ref, t, 0.01, **hp)
        _close(v, v_ref, dtype, f"v at t={t}")
        _close(s, s_ref, dtype, f"s at t={t}")
        _close(w, w_ref, dtype, f"w at t={t}")


def test_adam_large_t_bias_correction_vanishes(impl, assert_close):
    # 1 - beta^t rounds to 1 for large t: the step is then plain v / (sqrt(s) + eps).
    w, g = np.zeros(3), np.array([1.0, -2.0, 0.5])
    v, s = np.full(3, 0.1), np.full(3, 0.04)
    w_ref, _, _ = ref.adam_step(w, g, v, s, 10**9, 0.01)
    impl.adam_step(w, g, v, s, 10**9, 0.01)
    assert_close(w, w_ref, scale=0)     # one step from w = 0, no cancellation: rtol alone


# ------------------------------------------------------------ threads

@pytest.mark.skipif(not fastnn._runtime.pool_threaded(), reason="built without threads")
def test_result_does_not_depend_on_thread_count(dtype, threads):
    results = []
    for n_threads in (1, 2, 3):
        threads(n_threads)
        w, grads, (v, s) = _start((BIG,), dtype, 4, 2)
        m = v.copy()
        for t, g in enumerate(grads[:5], start=1):
            ops.adam_step(w, g, v, s, t, 0.01, weight_decay=0.01)
            ops.momentum_step(w, g, m, 0.01, nesterov=True)
            ops.rmsprop_step(w, g, s, 0.01)
            ops.sgd_step(w, g, 0.01, l2=0.5, m=3)
        results.append(w)
    for w in results[1:]:
        np.testing.assert_array_equal(w, results[0])


# ------------------------------------------------------------ subnormal numbers
# Momentum and Adam's v decay geometrically wherever a gradient stays 0 (an
# input pixel that is 0 in every image, a dead ReLU) and reach the subnormal
# range, where each x86 operation costs ~100 cycles.  The compiled steps
# flush subnormal inputs and results to zero, on every thread, and leave the
# caller's floating-point mode as it was (csrc/common.h).

def _decayed_state(dtype):
    """w, g = 0 and a state whose elements are subnormal: v or s after
    thousands of steps without a gradient."""
    tiny = np.finfo(dtype).tiny
    state = np.full(BIG, tiny, dtype) * np.linspace(0.01, 0.99, BIG).astype(dtype)
    assert np.all((state > 0) & (state < tiny))
    rng = np.random.default_rng(7)
    return rng.standard_normal(BIG).astype(dtype), np.zeros(BIG, dtype), state


_DECAY_STEPS = {
    "momentum": lambda impl, w, g, st: impl.momentum_step(w, g, st, 0.1, 0.9),
    "rmsprop": lambda impl, w, g, st: impl.rmsprop_step(w, g, st, 0.1, 0.9),
    "adam": lambda impl, w, g, st: impl.adam_step(w, g, st, np.full_like(w, 1e-4), 500, 0.1),
}


@pytest.mark.parametrize("kernel", sorted(_DECAY_STEPS))
@pytest.mark.parametrize("n_threads", [1, 2])
def test_subnormal_state_is_flushed_to_zero(kernel, n_threads, dtype, threads):
    threads(n_threads)
    w, g, state = _decayed_state(dtype)
    w0 = w.copy()
    _DECAY_STEPS[kernel](ops, w, g, state)
    np.testing.assert_array_equal(state, 0)     # beta * subnormal, flushed
    np.testing.assert_array_equal(w, w0)        # a zero gradient moves nothing


@pytest.mark.parametrize("kernel", sorted(_DECAY_STEPS))
def test_flushing_keeps_the_twins_within_tolerance(kernel, dtype, threads):
    # The NumPy twin keeps IEEE subnormals; what differs is below the
    # smallest normal number, which every comparison tolerates.
    threads(2)
    results = []
    for impl in (ops, numpy_ops):
        w, g, state = _decayed_state(dtype)
        g[::3] = 1e-3                 # some gradients are not zero
        _DECAY_STEPS[kernel](impl, w, g, state)
        results.append((w, state))
    (w_c, st_c), (w_np, st_np) = results
    _close(w_c, w_np, dtype, "w")
    _close(st_c, st_np, dtype, kernel + " state")


@pytest.mark.parametrize("kernel", sorted(_DECAY_STEPS))
@pytest.mark.parametrize("n_threads", [1, 2])
def test_the_callers_subnormals_are_left_alone(kernel, n_threads, dtype, threads):
    threads(n_threads)
    w, g, state = _decayed_state(dtype)
    _DECAY_STEPS[kernel](ops, w, g, state)
    tiny = np.finfo(dtype).tiny
    # this thread: NumPy arithmetic still produces and reads subnormals
    half = np.multiply(dtype.type(tiny), dtype.type(0.5))
    assert 0 < half < tiny
    assert np.add(half, dtype.type(0)) == half
    # the kernels' worker threads too: a parallel dense pass adds a
    # subnormal bias to an exact zero product
    m, n = 64, 1024                   # above the dense pass's threading threshold
    b = np.full(n, half, dtype)
    _, A = ops.dense_forward(np.zeros((m, 3), dtype), np.ones((3, n), dtype), b, "linear")
    np.testing.assert_array_equal(A, np.broadcast_to(b, (m, n)))


# ------------------------------------------------------------ properties

def _finite_arrays(dtype, shape):
    # Values 0 or of magnitude >= 1e-3: tinier gradients square to float32
    # subnormals or zero, where a float32 step legitimately departs from float64.
    magnitude = st.floats(0.0010000000474974513, 10.0, width=32)   # 1e-3 in float32
    element = st.one_of(st.just(0.0), magnitude, magnitude.map(lambda x: -x))
    return hnp.arrays(dtype, shape, elements=element)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=6)
dtypes = st.sampled_from([np.float32, np.float64])
betas = st.floats(0.0, 0.999)
learning_rates = st.floats(1e-4, 1.0)


@st.composite
def problems(draw, n_states):
    """(dtype, w, g, states), the states non-negative as s is."""
    dtype, shape = draw(dtypes), draw(shapes)
    arrays = [draw(_finite_arrays(dtype, shape)) for _ in range(2 + n_states)]
    return dtype, arrays[0], arrays[1], [np.array(np.abs(a)) for a in arrays[2:]]


@settings(max_examples=60, deadline=None)
@given(problems(2), st.integers(1, 1000), learning_rates, betas, betas,
       st.floats(1e-8, 1e-2), st.sampled_from([0.0, 0.01]))
def test_adam_one_step_matches_reference(problem, t, lr, beta1, beta2, eps, wd):
    dtype, w, g, (v, s) = problem
    expected = ref.adam_step(w, g, v, s, t, lr, beta1, beta2, eps, wd)
    for impl in (ops, numpy_ops):
        w1, v1, s1 = w.copy(), v.copy(), s.copy()
        impl.adam_step(w1, g, v1, s1, t, lr, beta1, beta2, eps, weight_decay=wd)
        for got, want, name in zip((w1, v1, s1), expected, "wvs"):
            _close(got, want, dtype, f"{impl.__name__}: {name}")


@settings(max_examples=60, deadline=None)
@given(problems(1), learning_rates, betas, st.booleans(), st.booleans())
def test_momentum_one_step_matches_reference(problem, lr, beta, nesterov, average):
    dtype, w, g, (v,) = problem
    expected = ref.momentum_step(w, g, v, lr, beta, nesterov, average)
    for impl in (ops, numpy_ops):
        w1, v1 = w.copy(), v.copy()
        impl.momentum_step(w1, g, v1, lr, beta, nesterov=nesterov, average=average)
        _close(w1, expected[0], dtype, f"{impl.__name__}: w")
        _close(v1, expected[1], dtype, f"{impl.__name__}: v")


@settings(max_examples=60, deadline=None)
@given(problems(1), learning_rates, betas, st.floats(1e-8, 1e-2))
def test_rmsprop_one_step_matches_reference(problem, lr, beta, eps):
    dtype, w, g, (s,) = problem
    expected = ref.rmsprop_step(w, g, s, lr, beta, eps)
    for impl in (ops, numpy_ops):
        w1, s1 = w.copy(), s.copy()
        impl.rmsprop_step(w1, g, s1, lr, beta, eps)
        _close(w1, expected[0], dtype, f"{impl.__name__}: w")
        _close(s1, expected[1], dtype, f"{impl.__name__}: s")


@settings(max_examples=60, deadline=None)
@given(problems(0), learning_rates)
def test_sgd_without_l2_is_exactly_w_minus_lr_g(problem, lr):
    dtype, w, g, _ = problem
    for impl in (ops, numpy_ops):
        w1 = w.copy()
        impl.sgd_step(w1, g, lr)
        np.testing.assert_array_equal(w1, w - dtype(lr) * g)


@settings(max_examples=60, deadline=None)
@given(problems(0), learning_rates)
def test_adam_first_step_is_bounded_by_the_learning_rate(problem, lr):
    # t = 1: v_hat = g and s_hat = g^2, so each step is lr * g / (|g| + eps).
    dtype, w, g, _ = problem
    for impl in (ops, numpy_ops):
        w1, v, s = w.copy(), np.zeros_like(w), np.zeros_like(w)
        impl.adam_step(w1, g, v, s, 1, lr)
        step = (w - w1).astype(np.float64)
        slack = 1e-5 * lr + 4 * np.spacing(np.abs(w).astype(dtype)).astype(np.float64)
        assert np.all(np.abs(step) <= lr + slack)
        assert np.all(step * g >= 0)        # downhill (or lost to rounding in w)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 60), betas, dtypes)
def test_momentum_average_of_a_constant_gradient(k, beta, dtype):
    # The course's v is an average: k steps of the same g give v = (1 - beta^k) g.
    g = np.array([1.5, -2.0], dtype)
    for impl in (ops, numpy_ops):
        w, v = np.zeros(2, dtype), np.zeros(2, dtype)
        for _ in range(k):
            impl.momentum_step(w, g, v, 0.1, beta)
        np.testing.assert_allclose(v, (1 - beta ** k) * g.astype(np.float64),
                                   rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-7)


# ------------------------------------------------------------ bad inputs

def _arrays(n=6, dtype=np.float32):
    return [np.zeros(n, dtype) for _ in range(4)]


def _call(impl, kernel, **change):
    """Call `kernel` with valid arguments, some replaced by `change`."""
    w, g, v, s = _arrays()
    args = {
        "sgd_step": dict(w=w, g=g, learning_rate=0.1),
        "momentum_step": dict(w=w, g=g, v=v, learning_rate=0.1),
        "rmsprop_step": dict(w=w, g=g, s=s, learning_rate=0.1),
        "adam_step": dict(w=w, g=g, v=v, s=s, t=1, learning_rate=0.1),
    }[kernel]
    for key, value in change.items():
        args[key] = value(args) if callable(value) else value
    return getattr(impl, kernel)(**args)


ALL = ["sgd_step", "momentum_step", "rmsprop_step", "adam_step"]
BAD = [
    # (kernels, change, exception, message)
    (ALL, dict(learning_rate=0.0), ValueError, r"learning_rate must be a finite number > 0; got 0.0"),
    (ALL, dict(learning_rate=-1), ValueError, r"learning_rate must be a finite number > 0; got -1"),
    (ALL, dict(learning_rate=float("nan")), ValueError, r"learning_rate must be a finite number > 0; got nan"),
    (ALL, dict(learning_rate="0.1"), TypeError, r"learning_rate must be a real number > 0; got '0.1'"),
    (["momentum_step", "rmsprop_step"], dict(beta=1.0), ValueError,
     r"beta must be a finite number in \[0, 1\); got 1.0"),
    (["momentum_step", "rmsprop_step"], dict(beta=-0.1), ValueError,
     r"beta must be a finite number in \[0, 1\); got -0.1"),
    (["adam_step"], dict(beta1=1.0), ValueError, r"beta1 must be a finite number in \[0, 1\); got 1.0"),
    (["adam_step"], dict(beta2=1.5), ValueError, r"beta2 must be a finite number in \[0, 1\); got 1.5"),
    (["rmsprop_step", "adam_step"], dict(eps=0.0), ValueError, r"eps must be a finite number > 0; got 0.0"),
    (["rmsprop_step", "adam_step"], dict(eps=-1e-8), ValueError, r"eps must be a finite number > 0; got -1e-08"),
    (["adam_step"], dict(t=0), ValueError, r"t must be an integer >= 1 \(the number of this step.*got 0"),
    (["adam_step"], dict(t=1.0), TypeError, r"t must be an integer >= 1 .*got 1.0"),
    (["adam_step"], dict(t=True), TypeError, r"t must be an integer >= 1 .*got True"),
    (["adam_step"], dict(weight_decay=-0.1), ValueError, r"weight_decay must be a finite number >= 0; got -0.1"),
    (["sgd_step"], dict(l2=-1.0), ValueError, r"l2 must be a finite number >= 0; got -1.0"),
    (["sgd_step"], dict(m=0), ValueError, r"m must be an integer >= 1 \(the number of examples.*got 0"),
    (["momentum_step"], dict(nesterov="yes"), TypeError, r"nesterov must be True or False; got 'yes'"),
    (["momentum_step"], dict(average=1), TypeError, r"average must be True or False; got 1"),
    (ALL, dict(g=np.zeros(5, np.float32)), ValueError, r"g must have the shape \(6,\) of w; got \(5,\)"),
    (ALL, dict(g=np.zeros((2, 3), np.float32)), ValueError, r"g must have the shape \(6,\) of w; got \(2, 3\)"),
    (ALL, dict(g=np.zeros(6, np.float64)), TypeError,
     r"g must have dtype float32 like the other arrays of this call \(no silent casts\); got float64"),
    (["momentum_step", "adam_step"], dict(v=np.zeros(7, np.float32)), ValueError,
     r"v must have the shape \(6,\) of w; got \(7,\)"),
    (["rmsprop_step", "adam_step"], dict(s=np.zeros(6, np.float64)), TypeError,
     r"s must have dtype float32 .*got float64"),
    (ALL, dict(w=np.zeros(6, np.int64)), TypeError, r"w must be float32 or float64; got int64"),
    (ALL, dict(w=[0.0] * 6), TypeError, r"w must be a numpy.ndarray; got list"),
    (ALL, dict(w=np.zeros(12, np.float32)[::2]), ValueError, r"w must be C-contiguous"),
    (ALL, dict(g=np.zeros(12, np.float32)[::2]), ValueError, r"g must be C-contiguous"),
    (ALL, dict(w=np.zeros((3, 2), np.float32).T, g=np.zeros((2, 3), np.float32)), ValueError,
     r"w must be C-contiguous"),
    (ALL, dict(w=np.zeros(0, np.float32), g=np.zeros(0, np.float32)), ValueError, r"w must not be empty"),
    (ALL, dict(g=lambda a: a["w"]), ValueError, r"w and g must be separate arrays; they overlap in memory"),
    (["momentum_step", "adam_step"], dict(v=lambda a: a["w"]), ValueError,
     r"w and v must be separate arrays; they overlap"),
    (["adam_step"], dict(s=lambda a: a["v"]), ValueError, r"v and s must be separate arrays; they overlap"),
]


def _readonly(n=6):
    a = np.zeros(n, np.float32)
    a.flags.writeable = False
    return a


BAD += [
    (ALL, dict(w=_readonly()), ValueError,
     r"w must be writeable \(it is updated in place\); got a read-only array"),
    (["momentum_step", "adam_step"], dict(v=_readonly()), ValueError, r"v must be writeable"),
    (["rmsprop_step", "adam_step"], dict(s=_readonly()), ValueError, r"s must be writeable"),
    (ALL, dict(g=_readonly()), None, None),   # g is only read
]
CASES = [pytest.param(k, change, exc, msg, id=f"{k}-{i}")
         for i, (kernels, change, exc, msg) in enumerate(BAD) for k in kernels]


@pytest.mark.parametrize("kernel, change, exc, msg", CASES)
def test_bad_arguments_raise_naming_the_argument(impl, kernel, change, exc, msg):
    if exc is None:
        _call(impl, kernel, **change)
        return
    with pytest.raises(exc, match=f"^{kernel}: {msg}"):
        _call(impl, kernel, **change)


def test_partial_overlap_is_caught(impl):
    buf = np.zeros(10, np.float32)
    w, g = buf[:6], buf[4:]
    with pytest.raises(ValueError, match="w and g must be separate arrays"):
        impl.sgd_step(w, g, 0.1)
    # adjacent, non-overlapping slices of one buffer are fine
    impl.sgd_step(buf[:5], buf[5:], 0.1)


def test_rejected_call_changes_nothing(impl):
    w, g, v, s = (np.full(6, x, np.float32) for x in (1.0, 2.0, 3.0, 4.0))
    before = [a.copy() for a in (w, g, v, s)]
    with pytest.raises(ValueError):
        impl.adam_step(w, g, v, s, 1, 0.1, beta2=1.0)
    for a, b in zip((w, g, v, s), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kernel", ["adam_step", "rmsprop_step"])
def test_a_subnormal_eps_is_refused(impl, kernel, dtype):
    # flushed to 0 in the compiled step, it would turn 0 / 0 into NaN where g = s = 0
    tiny = np.finfo(dtype).tiny
    w, g, v, s = (np.zeros(4, dtype) for _ in range(4))
    args = (w, g, v, s, 1, 0.1) if kernel == "adam_step" else (w, g, s, 0.1)
    with pytest.raises(ValueError, match="eps must be at least the smallest normal"):
        getattr(impl, kernel)(*args, eps=tiny / 4)
    getattr(impl, kernel)(*args, eps=tiny)
    assert np.all(np.isfinite(w))
