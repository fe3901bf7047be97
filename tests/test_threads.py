"""fastnn's runtime: the thread count and its defaults, the one thread pool
(csrc/pool.c) and the BLAS it holds to one thread (csrc/blas.c), results
under 1, 2 and 3 threads (correct against tests/reference.py and
bit-reproducible for a given thread count), and the promise of the design:
the same numbers and no warning whatever other library brought its thread
pools into the process first, a warning when the process cannot give fastnn
its speed.

The inputs of the result tests are large (1501 x 257 outputs > the
32768-element threshold of csrc/common.h), so the parallel paths and their
block-wise reductions run; 1501 is odd, so the blocks are of unequal sizes.
Every test restores the thread count it found.
"""
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import threading
import warnings

import numpy as np
import pytest

import fastnn
import fastnn._runtime
import fastnn.numpy_ops
import fastnn.ops
import reference as ref

threadpoolctl = pytest.importorskip("threadpoolctl")

M, N_IN, N_OUT = 1501, 300, 257
ACTIVATIONS = ref.ACTIVATIONS
HERE = pathlib.Path(__file__).resolve().parent
CPUS = fastnn._runtime.usable_cpus()
THREADED = fastnn._runtime.pool_threaded()
needs_threads = pytest.mark.skipif(not THREADED, reason="fastnn was built without threads")


@pytest.fixture(autouse=True)
def restore_threads():
    original = fastnn.get_num_threads()
    yield original
    fastnn.set_num_threads(original)
    assert fastnn.get_num_threads() == original


def set_threads(n):
    """set_num_threads(n), quietly when n is more than this machine's CPUs
    (test_oversubscription_warns checks that warning)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "fastnn: .* usable CPU", RuntimeWarning)
        fastnn.set_num_threads(n)


def expected_threads(n):
    """What get_num_threads reports after set_num_threads(n): n, or 1 in a
    build without threads (whose kernels are serial)."""
    return n if THREADED else 1


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


def run_fresh(*args, env=None, timeout=300):
    """Run tests/runtime_probe.py (or ``-c code`` when args start with "-c") in
    a fresh interpreter on the fastnn under test; its stdout and stderr."""
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    full_env = dict(os.environ, PYTHONPATH=os.pathsep.join([home, str(HERE)]))
    for key in ("OMP_NUM_THREADS", "FASTNN_BLAS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT"):
        full_env.pop(key, None)
    full_env.update(env or {})
    command = [sys.executable] + (list(args) if args[0] == "-c"
                                  else [str(HERE / "runtime_probe.py"), *args])
    proc = subprocess.run(command, capture_output=True, text=True, env=full_env,
                          timeout=timeout, cwd=HERE.parent.parent)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout, proc.stderr


def probe(peer, threads, env=None):
    out, _ = run_fresh(peer, str(threads), env=env)
    return json.loads(out.strip().splitlines()[-1])


# ----------------------------------------------------------------------------
# The API
# ----------------------------------------------------------------------------

def test_pool_threaded_is_bool():
    assert type(fastnn._runtime.pool_threaded()) is bool


@pytest.mark.skipif(os.name != "posix" or bool(os.environ.get("FASTNN_NO_THREADS")),
                    reason="serial by request (FASTNN_NO_THREADS) or without POSIX threads")
def test_a_posix_build_has_its_thread_pool():
    # a build whose flags quietly turned threading off would pass every other
    # test on the serial path (as an OpenMP probe that ignored LDFLAGS once did)
    assert fastnn._runtime.pool_threaded()


def test_default_is_a_positive_int():
    n = fastnn.get_num_threads()
    assert type(n) is int and n >= 1


def test_usable_cpus_is_at_most_the_affinity_mask():
    n = fastnn._runtime.usable_cpus()
    assert type(n) is int and 1 <= n <= (len(os.sched_getaffinity(0))
                                         if hasattr(os, "sched_getaffinity") else os.cpu_count())


@pytest.mark.parametrize("files,expected", [
    ({"proc": "0::/box\n", "box/cpu.max": "150000 100000\n"}, 1.5),
    ({"proc": "0::/box\n", "box/cpu.max": "max 100000\n"}, None),
    ({"proc": "0::/\n", "cpu.max": "200000 100000\n"}, 2.0),
    ({"proc": "4:cpu,cpuacct:/\n", "cpu/cpu.cfs_quota_us": "50000\n",
      "cpu/cpu.cfs_period_us": "100000\n"}, 0.5),
    ({"proc": "4:cpu,cpuacct:/\n", "cpu/cpu.cfs_quota_us": "-1\n",
      "cpu/cpu.cfs_period_us": "100000\n"}, None),
    ({"proc": "0::/\n"}, None),
])
def test_cgroup_cpu_limit(tmp_path, files, expected):
    """A container's CPU quota (cgroup v2 cpu.max, or v1 cfs_quota/period) caps
    the default thread count; "max" and -1 mean no quota."""
    for name, text in files.items():
        path = tmp_path / ("proc_cgroup" if name == "proc" else f"root/{name}")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert fastnn._runtime._cgroup_cpu_limit(str(tmp_path / "proc_cgroup"),
                                             str(tmp_path / "root")) == expected


@pytest.mark.parametrize("n", [1, 2, 3, 1])
def test_round_trip(n):
    set_threads(n)
    assert fastnn.get_num_threads() == expected_threads(n)
    assert type(fastnn.get_num_threads()) is int


def test_accepts_integer_likes():
    fastnn.set_num_threads(np.int64(1))
    assert fastnn.get_num_threads() == 1
    assert type(fastnn.get_num_threads()) is int


@pytest.mark.parametrize("bad,exc,match", [
    (0, ValueError, "set_num_threads: n must be an integer >= 1; got 0"),
    (-1, ValueError, "set_num_threads: n must be an integer >= 1; got -1"),
    (2 ** 31, ValueError, "set_num_threads: n must be at most 256 threads; got 2147483648"),
    (257, ValueError, "set_num_threads: n must be at most 256 threads; got 257"),
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


@needs_threads
def test_oversubscription_warns_once_naming_the_fix():
    n = CPUS + 1
    fastnn._runtime._warned.discard(("threads", n, CPUS))
    with pytest.warns(RuntimeWarning, match=re.escape(
            f"fastnn: {n} threads (set_num_threads({n})) on {CPUS} usable CPU")) as record:
        fastnn.set_num_threads(n)
    assert f"call fastnn.set_num_threads({CPUS})" in str(record[0].message)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fastnn.set_num_threads(n)            # once: no second warning
    assert fastnn.get_num_threads() == n


def test_show_config(capsys):
    fastnn.show_config()
    out = capsys.readouterr().out
    info = fastnn._runtime.runtime_info()
    for label in ("cpu:", "threads:", "pool:", "gemm:", "openmp:", "env:"):
        assert label in out
    assert f"threads:    {fastnn.get_num_threads()}" in out
    assert info["gemm"]["provider"] in ("mkl", "openblas", "numpy")
    assert info["gemm"]["provider"] in out
    assert "wait policy" in out


# ----------------------------------------------------------------------------
# The BLAS: left as the user set it; threadpoolctl sees and limits fastnn
# ----------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 2, 1])
def test_set_num_threads_leaves_the_blas_alone(n, data):
    """fastnn holds the BLAS to one thread only inside its own calls: neither
    set_num_threads nor a kernel call changes the user's BLAS thread counts."""
    if not blas_threads():
        pytest.skip("threadpoolctl finds no BLAS library in this process")
    before = blas_threads()
    set_threads(n)
    d = data[np.dtype(np.float32)]
    fastnn.ops.dense_forward(d["A_prev"], d["W"], d["b"], "relu")
    fastnn.ops.dense_backward(d["dA"], d["A_prev"] @ d["W"], d["A_prev"], d["W"], "relu")
    assert blas_threads() == before


@pytest.mark.parametrize("n", [1, 2, 1])
def test_blas_limits_leave_fastnn_alone(n):
    set_threads(2)
    with threadpoolctl.threadpool_limits(n, user_api="blas"):
        assert fastnn.get_num_threads() == expected_threads(2)


@needs_threads
def test_threadpoolctl_sees_and_limits_fastnn():
    if not fastnn._runtime.THREADPOOLCTL_REGISTERED:
        pytest.skip("this threadpoolctl has no API for other libraries' controllers")
    set_threads(2)
    pools = [p for p in threadpoolctl.threadpool_info() if p["user_api"] == "fastnn"]
    assert len(pools) == 1 and pools[0]["num_threads"] == 2
    with threadpoolctl.threadpool_limits(1):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 2
    with threadpoolctl.threadpool_limits(1, user_api="fastnn"):
        assert fastnn.get_num_threads() == 1
    assert fastnn.get_num_threads() == 2


# ----------------------------------------------------------------------------
# The serial build
# ----------------------------------------------------------------------------

def test_kernels_compile_without_threads():
    """setup.py promises a serial build where there are no POSIX threads (or
    with FASTNN_NO_THREADS=1): every csrc/*.c must compile then."""
    csrc = HERE.parent / "csrc"
    sources = sorted(csrc.glob("*.c"))
    if not sources:
        pytest.skip(f"no C sources in {csrc} (tests run outside the checkout)")
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    if shutil.which(cc[0]) is None:
        pytest.skip(f"no C compiler {cc[0]!r} to compile csrc/ with")
    for src in sources:
        result = subprocess.run(cc + ["-std=c99", "-fsyntax-only", "-DFNN_NO_THREADS",
                                      "-I", str(csrc), str(src)],
                                capture_output=True, text=True)
        assert result.returncode == 0, (
            f"{src.name} does not compile without threads:\n{result.stderr}")


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
    set_threads(n_threads)
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
    set_threads(n_threads)
    first = run_all(impl, d, activation)
    for _ in range(2):
        _assert_identical(first, run_all(impl, d, activation), f"{n_threads} threads, repeat")
    set_threads(3 - n_threads)
    run_all(impl, d, activation)
    set_threads(n_threads)
    _assert_identical(first, run_all(impl, d, activation), f"{n_threads} threads, after a switch")


@pytest.mark.parametrize("n_threads", [2, 3])
def test_thread_counts_agree(impl, dtype, n_threads, data, assert_close):
    """A thread count may change the rounding of reductions, nothing more
    (3 threads: three unequal blocks, even on a 2-core machine)."""
    d = data[dtype]
    set_threads(1)
    one = run_all(impl, d, "softmax")
    set_threads(n_threads)
    other = run_all(impl, d, "softmax")
    for name in one:
        assert_close(other[name], np.asarray(one[name], dtype=np.float64), dtype,
                     scale=DZ_SCALE.get(name), err_msg=name)


# ----------------------------------------------------------------------------
# One runtime whoever came first: subprocesses, as users start them
# ----------------------------------------------------------------------------

def _peers():
    peers = ["sklearn", "gomp"]
    try:
        import torch  # noqa: F401
        peers.append("torch")
    except ImportError:
        peers.append(pytest.param("torch", marks=pytest.mark.skip(
            reason="torch is not installed (pip install 'fastnn[torch]')")))
    return peers


@pytest.fixture(scope="module")
def alone():
    """The probe's result in a plain process, per thread count."""
    cache = {}

    def get(threads):
        if threads not in cache:
            cache[threads] = probe("none", threads)
        return cache[threads]
    return get


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("peer", _peers())
def test_same_numbers_whoever_loads_first(peer, threads, alone):
    """Another library's OpenMP runtime and BLAS, loaded and used before
    fastnn (scikit-learn's KMeans, PyTorch, a bare libgomp): fastnn runs on
    its own pool and gives the same bits as in a process of its own, with no
    warning, and leaves the BLAS thread counts as it found them."""
    if threads > 1 and not THREADED:
        pytest.skip("fastnn was built without threads")
    own = alone(threads)
    got = probe(peer, threads)
    assert own["warnings"] == [] and got["warnings"] == []
    assert got["threads"] == own["threads"] == threads
    assert got["gemm"] == own["gemm"]
    assert got["digest"] == own["digest"]
    assert got["blas_threads_unchanged"] and own["blas_threads_unchanged"]


@pytest.mark.parametrize("policy", [{"OMP_WAIT_POLICY": "PASSIVE"}, {"OMP_WAIT_POLICY": "ACTIVE"},
                                    {"GOMP_SPINCOUNT": "0"}])
def test_same_numbers_under_any_openmp_wait_policy(policy, alone):
    """The user's OpenMP settings steer the peer's runtime (kept as they are);
    fastnn's results and silence do not depend on them."""
    got = probe("gomp", 2 if THREADED else 1, env=policy)
    assert got["warnings"] == []
    assert got["digest"] == alone(2 if THREADED else 1)["digest"]


@needs_threads
def test_omp_num_threads_sets_the_default():
    out, _ = run_fresh("-c", "import fastnn; print(fastnn.get_num_threads())",
                       env={"OMP_NUM_THREADS": "1"})
    assert out.strip() == "1"


@needs_threads
@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="no CPU affinity on this OS")
def test_the_default_respects_the_affinity_mask():
    code = ("import os; os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]}); "
            "import fastnn; print(fastnn.get_num_threads())")
    out, _ = run_fresh("-c", code)
    assert out.strip() == "1"


@needs_threads
def test_more_threads_than_cpus_warns_and_still_computes(alone):
    """OMP_NUM_THREADS above the usable CPUs: one warning that names the cause
    and the fix; the numbers are those of that many blocks."""
    n = CPUS + 1
    got = probe("none", n, env={"OMP_NUM_THREADS": str(n)})
    assert len(got["warnings"]) == 1
    assert (f"{n} threads (OMP_NUM_THREADS={n}) on {CPUS} usable CPU" in got["warnings"][0]
            and "unset OMP_NUM_THREADS" in got["warnings"][0])
    # set_num_threads(n) again in the probe does not warn twice
    assert got["threads"] == n


def test_unknown_blas_choice_warns():
    out, err = run_fresh("-c", "import warnings; warnings.simplefilter('always'); "
                               "import fastnn; print(fastnn._runtime.runtime_info()['gemm']"
                               "['provider'])", env={"FASTNN_BLAS": "atlas"})
    assert "FASTNN_BLAS='atlas' is not one of auto, mkl, openblas, numpy" in err
    assert out.strip() in ("mkl", "openblas", "numpy")


def test_numpy_route_matches_the_reference(tmp_path):
    """FASTNN_BLAS=numpy: numpy.matmul and serial passes, the same results."""
    code = """
import numpy as np, fastnn, json
import reference as ref
rng = np.random.default_rng(1)
A = rng.standard_normal((301, 77)); W = rng.standard_normal((77, 65)) / 9; b = rng.standard_normal(65)
dA = rng.standard_normal((301, 65)) / 301
errs = {}
for act in ("relu", "softmax", "tanh"):
    Z, out = fastnn.ops.dense_forward(A, W, b, act)
    Zr, outr = ref.dense_forward(A, W, b, act)
    g = fastnn.ops.dense_backward(dA, Z, A, W, act, l2=0.2)
    gr = ref.dense_backward(dA, Z, A, W, act, l2=0.2)
    errs[act] = max(float(np.max(np.abs(x - y)) / max(np.max(np.abs(y)), 1e-300))
                    for x, y in zip((Z, out) + g, (Zr, outr) + gr))
print(json.dumps({"gemm": fastnn._runtime.runtime_info()["gemm"], "errs": errs}))
"""
    out, _ = run_fresh("-c", code, env={"FASTNN_BLAS": "numpy"})
    result = json.loads(out.strip().splitlines()[-1])
    assert result["gemm"]["provider"] == "numpy"
    assert result["gemm"]["route"].startswith("numpy.matmul")
    assert max(result["errs"].values()) < 1e-12


def test_providers_agree():
    """Every GEMM provider this machine has computes the same training run to
    float32 rounding (not the same bits: their kernels add in other orders)."""
    providers = {}
    for choice in ("openblas", "mkl", "numpy"):
        got = probe("none", 1, env={"FASTNN_BLAS": choice})
        providers[got["gemm"]] = got
    assert "openblas" in providers or "mkl" in providers
    code = """
import json, numpy as np, fastnn
rng = np.random.default_rng(0)
X = rng.standard_normal((512, 60)).astype(np.float32); y = rng.integers(0, 5, 512)
m = fastnn.Sequential([fastnn.Dense(40, "relu"), fastnn.Dense(5, "softmax")], input_dim=60, seed=0)
m.fit(X, y, epochs=3, batch_size=64, verbose=0)
print(json.dumps([w.tolist() for w in m.get_weights()]))
"""
    weights = {}
    for choice in ("openblas", "mkl", "numpy"):
        out, _ = run_fresh("-c", code, env={"FASTNN_BLAS": choice})
        weights[choice] = [np.array(w) for w in json.loads(out.strip().splitlines()[-1])]
    for choice, ws in weights.items():
        for w, w0 in zip(ws, weights["numpy"]):
            np.testing.assert_allclose(w, w0, rtol=1e-4, atol=1e-5, err_msg=choice)


# ----------------------------------------------------------------------------
# The pool: fork, concurrent callers
# ----------------------------------------------------------------------------

def _digest(d):
    Z, A = fastnn.ops.dense_forward(d["A_prev"], d["W"], d["b"], "relu")
    grads = fastnn.ops.dense_backward(d["dA"], Z, d["A_prev"], d["W"], "relu", l2=0.1)
    loss, _ = fastnn.ops.softmax_cross_entropy(Z, d["labels"])
    return b"".join(x.tobytes() for x in (Z, A) + grads) + np.float64(loss).tobytes()


@needs_threads
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this OS")
def test_a_forked_child_runs_parallel_kernels(data):
    """The pool's workers do not survive a fork: the child starts new ones
    (a child that waited for the parent's would hang) and computes the same."""
    set_threads(2)
    d = data[np.dtype(np.float32)]
    parent = _digest(d)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:                         # the child: report and leave at once
        try:
            os.write(write, b"same" if _digest(d) == parent else b"diff")
        finally:
            os._exit(0)
    os.close(write)
    try:
        import select
        ready, _, _ = select.select([read], [], [], 120)
        assert ready, "the forked child did not finish its kernels in 120 s"
        assert os.read(read, 4) == b"same"
    finally:
        os.close(read)
        os.waitpid(pid, 0)


@needs_threads
def test_concurrent_callers_get_their_own_results(data):
    """Python threads calling kernels at once share the one pool: a caller that
    finds it busy runs its blocks itself, with the same blocks, so every
    result is the bits of a call made alone."""
    set_threads(2)
    d = data[np.dtype(np.float32)]
    alone = _digest(d)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append(_digest(d))
        except Exception as exc:            # pragma: no cover - reported below
            errors.append(exc)
    workers = [threading.Thread(target=work) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert not errors and len(results) == 20
    assert all(r == alone for r in results)


@pytest.mark.parametrize("choice", ["openblas", "mkl", "numpy"])
def test_dense_kernels_on_every_provider(choice, tmp_path):
    """The dense kernels' specification (tests/test_dense.py) under every GEMM
    provider this machine has, each in a fresh process (the suite itself runs
    on the default one)."""
    if choice == fastnn._runtime.runtime_info()["gemm"]["provider"]:
        pytest.skip(f"{choice} is this process's provider: the whole suite runs on it")
    out, _ = run_fresh("-c", "import fastnn; print(fastnn._runtime.runtime_info()['gemm']"
                             "['provider'])", env={"FASTNN_BLAS": choice})
    if out.strip() != choice:
        pytest.skip(f"no {choice} library on this machine")
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env = dict(os.environ, FASTNN_BLAS=choice, PYTHONPATH=home)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                           str(HERE / "test_dense.py")], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_import_leaves_the_openmp_environment_alone():
    """fastnn sets no OMP_* variable: the user's (or their absence) reach every
    OpenMP runtime the process loads later, as they would without fastnn."""
    code = ("import os; before = {k: v for k, v in os.environ.items() if k.startswith(('OMP_', "
            "'GOMP_', 'KMP_', 'OPENBLAS_', 'MKL_'))}; import fastnn; fastnn.ops.dense_forward("
            "*[__import__('numpy').ones(s, 'f') for s in ((300, 300), (300, 300), (300,))]); "
            "after = {k: v for k, v in os.environ.items() if k.startswith(('OMP_', 'GOMP_', "
            "'KMP_', 'OPENBLAS_', 'MKL_'))}; print(before == after)")
    for env in ({}, {"OMP_WAIT_POLICY": "ACTIVE", "GOMP_SPINCOUNT": "1000"}):
        out, _ = run_fresh("-c", code, env=env)
        assert out.strip() == "True"


@needs_threads
def test_sleeping_workers_are_woken_for_every_job(data):
    """With no polling at all every job wakes its workers from their sleep:
    the condition-variable path gives the same bits, and no job is lost."""
    set_threads(2)
    d = data[np.dtype(np.float32)]
    polling = _digest(d)
    fastnn._runtime._set_spin_us(0)
    try:
        for _ in range(20):
            assert _digest(d) == polling
    finally:
        fastnn._runtime._set_spin_us(200)


@needs_threads
@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this OS")
def test_fork_during_a_call_gives_the_child_its_blas_threads_back():
    """NumPy's OpenBLAS has one thread count for the process, which fastnn
    lowers to 1 during its calls.  A fork while another thread is inside a
    call must not leave the child at 1 thread for good."""
    code = """
import os, sys, threading, numpy as np, fastnn
from threadpoolctl import threadpool_info, threadpool_limits
if fastnn._runtime.runtime_info()["gemm"]["provider"] != "openblas":
    print("no-openblas"); sys.exit()
threadpool_limits(2, user_api="blas")
fastnn.set_num_threads(2)
A = np.ones((512, 512), np.float32) / 512
W = A.copy()
stop = False
def busy():
    while not stop:
        fastnn.ops.dense_forward(A, W, None, "linear")
t = threading.Thread(target=busy); t.start()
bad = 0
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        try:
            counts = [p["num_threads"] for p in threadpool_info()
                      if p["internal_api"] == "openblas" and "numpy" in p["filepath"]]
            fastnn.ops.dense_forward(A, W, None, "linear")
            os._exit(0 if counts == [2] else 1)
        finally:
            os._exit(2)
    bad += os.waitpid(pid, 0)[1] != 0
stop = True; t.join()
print("bad", bad)
"""
    out, _ = run_fresh("-c", code, env={"FASTNN_BLAS": "openblas"})
    if out.strip() == "no-openblas":
        pytest.skip("no OpenBLAS for fastnn here")
    assert out.strip() == "bad 0"
