"""fastnn.set_num_threads / get_num_threads, the BLAS pool, and results under
1 and 2 threads: correct (against tests/reference.py) and bit-reproducible
for a given thread count.

The inputs are large (1501 x 257 outputs > the 32768-element threshold of
csrc/common.h), so the OpenMP paths and their block-wise reductions run; 1501
is odd, so the thread blocks are of unequal sizes.
Every test restores the thread count it found.
"""
import pathlib
import re
import shlex
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest

import fastnn
import fastnn.numpy_ops
import fastnn.ops
import reference as ref

threadpoolctl = pytest.importorskip("threadpoolctl")

M, N_IN, N_OUT = 1501, 300, 257
ACTIVATIONS = ref.ACTIVATIONS


@pytest.fixture(autouse=True)
def restore_threads():
    original = fastnn.get_num_threads()
    yield original
    fastnn.set_num_threads(original)
    assert fastnn.get_num_threads() == original


def expected_threads(n):
    """What get_num_threads reports after set_num_threads(n): n, or 1 in a
    build without OpenMP (whose kernels are serial)."""
    return n if fastnn.openmp_enabled() else 1


def blas_threads():
    return [p["num_threads"] for p in threadpoolctl.threadpool_info() if p["user_api"] == "blas"]


@pytest.fixture(scope="module")
def data():
    """One large layer in both dtypes: forward inputs, backward inputs, logits."""
    rng = np.random.default_rng(7)
    out = {}
    for dtype in (np.float32, np.float64):
        A_prev = rng.standard_normal((M, N_IN)).astype(dtype)
        W = (rng.standard_normal((N_IN, N_OUT)) / np.sqrt(N_IN)).astype(dtype)
        b = (0.5 * rng.standard_normal(N_OUT)).astype(dtype)
        dA = (rng.standard_normal((M, N_OUT)) / M).astype(dtype)
        labels = rng.integers(0, N_OUT, size=M)
        Y = rng.uniform(0, 1, size=(M, N_OUT)).astype(dtype)
        out[np.dtype(dtype)] = dict(A_prev=A_prev, W=W, b=b, dA=dA, labels=labels, Y=Y)
    return out


# ----------------------------------------------------------------------------
# The API
# ----------------------------------------------------------------------------

def test_openmp_enabled_is_bool():
    assert type(fastnn.openmp_enabled()) is bool


def test_default_is_a_positive_int():
    n = fastnn.get_num_threads()
    assert type(n) is int and n >= 1


# ----------------------------------------------------------------------------
# The serial build (what get_num_threads() == 1 without OpenMP relies on)
# ----------------------------------------------------------------------------

def test_kernels_compile_without_openmp():
    """setup.py promises a serial build where the compiler lacks OpenMP (or
    with FASTNN_NO_OPENMP=1): then FASTNN_OPENMP is undefined, and every
    csrc/*.c must still compile."""
    csrc = pathlib.Path(__file__).resolve().parent.parent / "csrc"
    sources = sorted(csrc.glob("*.c"))
    if not sources:
        pytest.skip(f"no C sources in {csrc} (tests run outside the checkout)")
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if shutil.which(cc[0]) is None:
        pytest.skip(f"no C compiler {cc[0]!r} to compile csrc/ with")
    for src in sources:
        result = subprocess.run(cc + ["-std=c99", "-fsyntax-only", "-I", str(csrc), str(src)],
                                capture_output=True, text=True)
        assert result.returncode == 0, (
            f"{src.name} does not compile without OpenMP:\n{result.stderr}")


# ----------------------------------------------------------------------------
# set_num_threads / get_num_threads and the BLAS pool
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 1])
def test_round_trip(n):
    fastnn.set_num_threads(n)
    assert fastnn.get_num_threads() == expected_threads(n)
    assert type(fastnn.get_num_threads()) is int


def test_accepts_integer_likes():
    fastnn.set_num_threads(np.int64(2))
    assert fastnn.get_num_threads() == expected_threads(2)
    assert type(fastnn.get_num_threads()) is int


@pytest.mark.parametrize("bad,exc,match", [
    (0, ValueError, "set_num_threads: n must be an integer >= 1; got 0"),
    (-1, ValueError, "set_num_threads: n must be an integer >= 1; got -1"),
    (2 ** 31, ValueError, "set_num_threads: n must be at most 65536 threads; got 2147483648"),
    (1.5, TypeError, "set_num_threads: n must be an integer >= 1; got 1.5"),
    (2.0, TypeError, "set_num_threads: n must be an integer >= 1; got 2.0"),
    (True, TypeError, "set_num_threads: n must be an integer >= 1; got True"),
    ("2", TypeError, "set_num_threads: n must be an integer >= 1; got '2'"),
    (None, TypeError, "set_num_threads: n must be an integer >= 1; got None"),
])
def test_bad_values(bad, exc, match, restore_threads):
    with pytest.raises(exc, match=re.escape(match)):
        fastnn.set_num_threads(bad)
    # and the count did not change
    assert fastnn.get_num_threads() == restore_threads


@pytest.mark.parametrize("n", [1, 2, 1])
def test_blas_follows(n):
    """The BLAS pool gets the same number of threads (no oversubscription when
    GEMMs and OpenMP passes alternate)."""
    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library in this process")
    fastnn.set_num_threads(n)
    assert blas_threads() == [n] * len(blas_threads())


# ----------------------------------------------------------------------------
# Results under 1 and 2 threads
# ----------------------------------------------------------------------------

def run_all(impl, d, activation):
    """Every kernel once on the large inputs; a dict of results."""
    Z, A = impl.dense_forward(d["A_prev"], d["W"], d["b"], activation)
    _, A_inf = impl.dense_forward(d["A_prev"], d["W"], d["b"], activation, keep_z=False)
    dA_prev, dW, db = impl.dense_backward(d["dA"], Z, d["A_prev"], d["W"], activation, l2=0.3)
    out = dict(Z=Z, A=A, A_inf=A_inf, dA_prev=dA_prev, dW=dW, db=db)
    for name, y in (("softmax_labels", d["labels"]), ("softmax_probs", d["Y"])):
        out[name], out[name + "_dZ"] = impl.softmax_cross_entropy(Z, y)
    out["sigmoid"], out["sigmoid_dZ"] = impl.sigmoid_cross_entropy(Z, d["Y"])
    out["mse"], out["mse_dZ"] = impl.mean_squared_error(Z, d["Y"])
    out["softmax_act"] = impl.softmax(Z)
    out["sigmoid_act"] = impl.sigmoid(Z)
    return out


def reference_all(d, activation, Z):
    """The reference of run_all (losses from the kernel's own Z, so that the
    float32 rounding of Z is not counted twice)."""
    Z_ref, A_ref = ref.dense_forward(d["A_prev"], d["W"], d["b"], activation)
    dA_prev, dW, db = ref.dense_backward(d["dA"], Z, d["A_prev"], d["W"], activation, l2=0.3)
    out = dict(Z=Z_ref, A=A_ref, A_inf=A_ref, dA_prev=dA_prev, dW=dW, db=db)
    for name, y in (("softmax_labels", d["labels"]), ("softmax_probs", d["Y"])):
        out[name], out[name + "_dZ"] = ref.softmax_cross_entropy(Z, y)
    out["sigmoid"], out["sigmoid_dZ"] = ref.sigmoid_cross_entropy(Z, d["Y"])
    out["mse"], out["mse_dZ"] = ref.mean_squared_error(Z, d["Y"])
    out["softmax_act"] = ref.softmax(Z)
    out["sigmoid_act"] = ref.sigmoid(Z)
    return out


DZ_SCALE = {"softmax_labels_dZ": 1.0 / M, "softmax_probs_dZ": N_OUT / M, "sigmoid_dZ": 1.0 / M}


# every activation under 2 threads (the parallel paths); under 1 thread the
# large input takes the serial path the small shapes of test_dense also take
THREAD_CASES = ([pytest.param(1, a, id=f"1-{a}") for a in ("relu", "softmax")]
                + [pytest.param(2, a, id=f"2-{a}") for a in ACTIVATIONS])


@pytest.mark.parametrize("n_threads,activation", THREAD_CASES)
def test_results_match_reference(impl, dtype, n_threads, activation, data, assert_close):
    fastnn.set_num_threads(n_threads)
    d = data[dtype]
    got = run_all(impl, d, activation)
    want = reference_all(d, activation, got["Z"])
    for name, value in got.items():
        if isinstance(value, np.ndarray):
            assert value.dtype == dtype, name
        assert_close(value, want[name], dtype, scale=DZ_SCALE.get(name), err_msg=name)


def _assert_identical(a, b, label):
    for name in a:
        if isinstance(a[name], np.ndarray):
            assert a[name].tobytes() == b[name].tobytes(), f"{label}: {name} differs"
        else:
            assert a[name] == b[name], f"{label}: {name} = {a[name]!r} vs {b[name]!r}"


@pytest.mark.parametrize("n_threads", [1, 2])
def test_deterministic_for_a_thread_count(impl, dtype, n_threads, data):
    """Same inputs and thread count -> the same bits, call after call: the loss
    values and db (block-wise reductions) included, also after running with
    another thread count in between."""
    d = data[dtype]
    activation = "relu"
    fastnn.set_num_threads(n_threads)
    first = run_all(impl, d, activation)
    for _ in range(2):
        _assert_identical(first, run_all(impl, d, activation), f"{n_threads} threads, repeat")
    fastnn.set_num_threads(3 - n_threads)
    run_all(impl, d, activation)
    fastnn.set_num_threads(n_threads)
    _assert_identical(first, run_all(impl, d, activation), f"{n_threads} threads, after a switch")


@pytest.mark.parametrize("n_threads", [2, 3])
def test_thread_counts_agree(impl, dtype, n_threads, data, assert_close):
    """A thread count may change the rounding of reductions, nothing more
    (3 threads: three unequal blocks, even on a 2-core machine)."""
    d = data[dtype]
    fastnn.set_num_threads(1)
    one = run_all(impl, d, "softmax")
    fastnn.set_num_threads(n_threads)
    other = run_all(impl, d, "softmax")
    for name in one:
        assert_close(other[name], np.asarray(one[name], dtype=np.float64), dtype,
                     scale=DZ_SCALE.get(name), err_msg=name)
