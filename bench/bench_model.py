"""One MNIST-shaped training epoch: fastnn against torch and the course's NumPy.

The network of issue 5's target: 60,000 x 784 float32 inputs, 784-256-128-10,
ReLU hidden layers, softmax with cross-entropy, Adam(lr=1e-3, 0.9, 0.999,
1e-8), mini-batches of 128 drawn by a fresh random permutation every epoch
(469 steps, the last one of 96 rows).  One round is one epoch.

  fastnn  Sequential.fit(X, y, epochs=1, batch_size=128) on one model whose
          workspaces and Adam state carry over between rounds (steady state);
          the time includes fit's checks of X and y, once per epoch.
  torch   the usual loop: torch.randperm, X[idx] slicing (no DataLoader),
          nn.Sequential of Linear/ReLU, F.cross_entropy, zero_grad, backward,
          torch.optim.Adam.step, loss.item(); eager, no torch.compile;
          torch.set_num_threads(fastnn.get_num_threads()).
  numpy   the course's implementation in float32: (n_x, m) arrays, W of shape
          (n_out, n_in), forward/backward functions passing caches, the
          course's random_mini_batches (X[:, permutation]) and Adam with bias
          correction, all in plain NumPy.

Data: the 60,000 MNIST training images scaled to [0, 1] and their labels
(``../shared/data/mnist.npz``), or, when that file is absent, uniform random
inputs and labels of the same shape (the table says which).  The values
matter: wherever a gradient stays exactly 0 (pixels that are 0 in every
image, dead ReLUs), momentum decays into subnormal numbers, which cost a
microcode assist per operation in plain IEEE arithmetic (fastnn's optimizer
steps flush them, csrc/common.h; the NumPy code and torch do not), so the
epochs of one run get slower after the first two.  Besides the best epoch
(the figure compared) the table shows the mean over the timed epochs.
Before timing, the NumPy implementation is checked against
fastnn in float64 (three Adam steps from the same weights), so both compute
the same network; tests/test_torch_match.py does the same for torch.

Run (from the top of the checkout, fastnn built in place):

    PYTHONPATH=. python -m pytest bench/bench_model.py --benchmark-only
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE PYTHONPATH=. python -m pytest bench/bench_model.py --benchmark-only

FASTNN_BENCH_ROUNDS=n sets the rounds (default 5, plus one warm-up epoch);
FASTNN_BENCH_THREADS=n the thread count of fastnn, its BLAS and torch.
Targets (issue 5, best-of times of one run): fastnn/torch <= 0.75 and
numpy/fastnn >= 5.  A table of the ratios is printed at the end, with the
load average before and after (the machine is shared: compare ratios of one
run, not absolute times across runs).
"""
import os
import pathlib

import numpy as np
import pytest

import fastnn

M, N_IN, HIDDEN, N_OUT = 60_000, 784, (256, 128), 10
BATCH, LR = 128, 1e-3
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
ROUNDS = int(os.environ.get("FASTNN_BENCH_ROUNDS", "5"))
TORCH_RATIO_MAX, NUMPY_RATIO_MIN = 0.75, 5.0
SUITE, KIND = "model", "epoch"

_threads = os.environ.get("FASTNN_BENCH_THREADS")
fastnn.set_num_threads(int(_threads) if _threads else fastnn.get_num_threads())
N_THREADS = fastnn.get_num_threads()

MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"

_best = {}
_mean = {}
_load = {}
_data_source = []


@pytest.fixture(scope="module", autouse=True)
def ratio_table(request):
    _load["before"] = os.getloadavg()
    yield
    _load["after"] = os.getloadavg()
    if not _best:
        return
    plugins = request.config.pluginmanager
    write = plugins.get_plugin("terminalreporter").write_line
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        for line in _table():
            write(line)


def _table():
    env = " ".join(f"{k}={os.environ[k]}" for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
                   if k in os.environ) or "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset"
    lines = ["", f"one epoch, 60000x784 float32, 784-256-128-10 relu/softmax, Adam, batch {BATCH}; "
                 f"{N_THREADS} threads; {env}",
             f"data: {_data_source[0] if _data_source else '-'}",
             "load average (1/5/15 min) before %.2f %.2f %.2f, after %.2f %.2f %.2f"
             % (_load["before"] + _load.get("after", (float("nan"),) * 3))]
    for impl in ("fastnn", "torch", "numpy", "gemm", "gemm+adam"):
        if impl in _best:
            lines.append(f"  {impl:<9} best of {ROUNDS}: {_best[impl]:7.3f} s   "
                         f"mean {_mean[impl]:7.3f} s")
    f, t, n = _best.get("fastnn"), _best.get("torch"), _best.get("numpy")
    if f and t:
        lines.append(f"  fastnn/torch {f / t:6.2f}   (target <= {TORCH_RATIO_MAX}: "
                     f"{'PASS' if f / t <= TORCH_RATIO_MAX else 'FAIL'})")
    if f and n:
        lines.append(f"  numpy/fastnn {n / f:6.2f}   (target >= {NUMPY_RATIO_MIN}: "
                     f"{'PASS' if n / f >= NUMPY_RATIO_MIN else 'FAIL'})")
    g = _best.get("gemm")
    if g and f:
        lines.append(f"  fastnn/gemm  {f / g:6.2f}   (the epoch against its GEMMs alone)")
    if g and n:
        lines.append(f"  numpy/gemm   {n / g:6.2f}   (the most numpy/fastnn any implementation "
                     f"calling the same BLAS can reach)")
    ga = _best.get("gemm+adam")
    if ga and n:
        lines.append(f"  numpy/(gemm+adam) {n / ga:6.2f}   (the same, for one that also takes "
                     f"the Adam steps)")
    return lines


def _run(benchmark, epoch, impl):
    benchmark.group = f"epoch 60000x784 784-256-128-10 batch {BATCH}"
    # m, n_in, n_out as bench/report.py's rows expect; it tabulates suite "dense" only
    benchmark.extra_info.update(
        suite=SUITE, kind=KIND, impl=impl, m=M, n_in=N_IN, n_out=N_OUT, hidden=list(HIDDEN),
        batch_size=BATCH, dtype="float32", activation="relu", threads=N_THREADS,
        loadavg_before=os.getloadavg())
    # an epoch takes seconds: a fixed number of rounds, after one warm-up epoch
    benchmark.pedantic(epoch, rounds=ROUNDS, iterations=1, warmup_rounds=1)
    _best[impl] = benchmark.stats.stats.min
    _mean[impl] = benchmark.stats.stats.mean


@pytest.fixture(scope="module")
def data():
    if MNIST.exists():
        with np.load(MNIST, allow_pickle=False) as f:
            X = np.ascontiguousarray(f["x_train"].reshape(M, N_IN), dtype=np.float32) / 255
            y = f["y_train"].astype(np.int64)
        _data_source.append(f"MNIST training set ({MNIST})")
        return X, y
    rng = np.random.default_rng(0)
    _data_source.append(f"uniform random inputs and labels ({MNIST} is absent)")
    return rng.random((M, N_IN), dtype=np.float32), rng.integers(0, N_OUT, M)


def _fastnn_model(dtype="float32", seed=0):
    return fastnn.Sequential([fastnn.Dense(HIDDEN[0], "relu", init="he"),
                              fastnn.Dense(HIDDEN[1], "relu", init="he"),
                              fastnn.Dense(N_OUT, "softmax", init="he")],
                             input_dim=N_IN, dtype=dtype, seed=seed)


def _adam():
    return fastnn.Adam(learning_rate=LR, beta1=BETA1, beta2=BETA2, eps=EPS)


# ---- the course's implementation, in NumPy ----------------------------------
# Written as the course writes it: (n_x, m) arrays, parameters and Adam state
# in dicts keyed "W1", "db1", ..., a cache per layer.  float32 throughout:
# the arrays are float32 and Python scalars do not promote them.

def initialize_parameters_he(layer_dims, dtype=np.float32, seed=3):
    rng = np.random.default_rng(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        parameters["W" + str(l)] = (rng.standard_normal((layer_dims[l], layer_dims[l - 1]))
                                    * np.sqrt(2.0 / layer_dims[l - 1])).astype(dtype)
        parameters["b" + str(l)] = np.zeros((layer_dims[l], 1), dtype)
    return parameters


def linear_forward(A, W, b):
    Z = np.dot(W, A) + b
    return Z, (A, W, b)


def relu(Z):
    return np.maximum(0, Z), Z


def softmax(Z):
    e = np.exp(Z - np.max(Z, axis=0, keepdims=True))
    return e / np.sum(e, axis=0, keepdims=True), Z


def linear_activation_forward(A_prev, W, b, activation):
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = relu(Z) if activation == "relu" else softmax(Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(A, parameters["W" + str(l)],
                                             parameters["b" + str(l)], "relu")
        caches.append(cache)
    AL, cache = linear_activation_forward(A, parameters["W" + str(L)],
                                          parameters["b" + str(L)], "softmax")
    caches.append(cache)
    return AL, caches


def compute_cost(AL, Y):
    m = Y.shape[1]
    return float(-np.sum(Y * np.log(AL)) / m)


def linear_backward(dZ, cache):
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1.0 / m * np.dot(dZ, A_prev.T)
    db = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def relu_backward(dA, activation_cache):
    Z = activation_cache
    dZ = np.array(dA, copy=True)
    dZ[Z <= 0] = 0
    return dZ


def L_model_backward(AL, Y, caches):
    grads = {}
    L = len(caches)
    dZ = AL - Y                     # softmax with cross-entropy
    linear_cache, _ = caches[L - 1]
    grads["dA" + str(L - 1)], grads["dW" + str(L)], grads["db" + str(L)] = \
        linear_backward(dZ, linear_cache)
    for l in reversed(range(L - 1)):
        linear_cache, activation_cache = caches[l]
        dZ = relu_backward(grads["dA" + str(l + 1)], activation_cache)
        grads["dA" + str(l)], grads["dW" + str(l + 1)], grads["db" + str(l + 1)] = \
            linear_backward(dZ, linear_cache)
    return grads


def initialize_adam(parameters):
    L = len(parameters) // 2
    v, s = {}, {}
    for l in range(1, L + 1):
        for p in ("W", "b"):
            v["d" + p + str(l)] = np.zeros_like(parameters[p + str(l)])
            s["d" + p + str(l)] = np.zeros_like(parameters[p + str(l)])
    return v, s


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01,
                                beta1=0.9, beta2=0.999, epsilon=1e-8):
    L = len(parameters) // 2
    for l in range(1, L + 1):
        for p in ("W", "b"):
            key = "d" + p + str(l)
            v[key] = beta1 * v[key] + (1 - beta1) * grads[key]
            v_corrected = v[key] / (1 - beta1 ** t)
            s[key] = beta2 * s[key] + (1 - beta2) * np.square(grads[key])
            s_corrected = s[key] / (1 - beta2 ** t)
            parameters[p + str(l)] = parameters[p + str(l)] - learning_rate * v_corrected / (
                np.sqrt(s_corrected) + epsilon)
    return parameters, v, s


def random_mini_batches(X, Y, mini_batch_size=64, rng=None):
    m = X.shape[1]
    mini_batches = []
    if rng is not None:
        permutation = list(rng.permutation(m))
        shuffled_X = X[:, permutation]
        shuffled_Y = Y[:, permutation]
    else:
        shuffled_X, shuffled_Y = X, Y
    for k in range(0, m, mini_batch_size):
        mini_batches.append((shuffled_X[:, k:k + mini_batch_size],
                             shuffled_Y[:, k:k + mini_batch_size]))
    return mini_batches


class CourseModel:
    """The course's training loop, one ``epoch()`` at a time (Adam's t and
    state carry over, as in its ``model(...)`` over num_epochs)."""

    def __init__(self, parameters, seed=0):
        self.parameters = parameters
        self.v, self.s = initialize_adam(parameters)
        self.t = 0
        self.rng = np.random.default_rng(seed)

    def epoch(self, X, Y, shuffle=True):
        cost_total = 0.0
        for minibatch_X, minibatch_Y in random_mini_batches(
                X, Y, BATCH, self.rng if shuffle else None):
            AL, caches = L_model_forward(minibatch_X, self.parameters)
            cost_total += compute_cost(AL, minibatch_Y) * minibatch_X.shape[1]
            grads = L_model_backward(AL, minibatch_Y, caches)
            self.t += 1
            self.parameters, self.v, self.s = update_parameters_with_adam(
                self.parameters, grads, self.v, self.s, self.t, LR, BETA1, BETA2, EPS)
        return cost_total / X.shape[1]


def _course_data(X, y, dtype=np.float32):
    """(n_x, m) inputs and one-hot (10, m) labels, as the course holds them."""
    Y = np.zeros((N_OUT, y.shape[0]), dtype)
    Y[y, np.arange(y.shape[0])] = 1
    return np.ascontiguousarray(X.T, dtype=dtype), Y


def _check_course_matches_fastnn(X, y):
    """Three Adam steps from the same weights, float64, fixed batch order."""
    m = 3 * BATCH
    X, y = X[:m].astype(np.float64), y[:m]
    model = _fastnn_model("float64", seed=1)
    weights = model.get_weights()
    parameters = {}
    for l in range(1, len(weights) // 2 + 1):
        parameters["W" + str(l)] = weights[2 * l - 2].T.copy()
        parameters["b" + str(l)] = weights[2 * l - 1].reshape(-1, 1).copy()
    course = CourseModel(parameters)
    cost = course.epoch(*_course_data(X, y, np.float64), shuffle=False)
    history = model.fit(X, y, optimizer=_adam(), epochs=1, batch_size=BATCH, shuffle=False,
                        verbose=0)
    np.testing.assert_allclose(cost, history["loss"][0], rtol=1e-10)
    for l, (W, b) in enumerate(zip(model.get_weights()[::2], model.get_weights()[1::2]), 1):
        np.testing.assert_allclose(course.parameters["W" + str(l)], W.T, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(course.parameters["b" + str(l)][:, 0], b, rtol=1e-7,
                                   atol=1e-10)


# ---- the benchmarks (torch last: it brings its own thread pools) ------------

def _gemm_epoch(with_adam):
    """An epoch's GEMMs alone, the same calls on the same BLAS as fastnn
    makes (per step 3 forward, 3 dW and 2 dA_prev products; none for the
    input layer's dA), into preallocated buffers; with_adam, also one fused
    Adam step per mini-batch over the network's 235,146 parameters (at its
    memory floor, bench_optim.py)."""
    rng = np.random.default_rng(0)
    dims = (N_IN,) + HIDDEN + (N_OUT,)
    Ws = [rng.standard_normal((a, b), dtype=np.float32) for a, b in zip(dims, dims[1:])]
    sizes = [BATCH] * (M // BATCH) + ([M % BATCH] if M % BATCH else [])
    buffers = {}
    for k in set(sizes):
        # values of a network's size: an uninitialized buffer may hold
        # subnormal garbage, and BLAS is slow on subnormals too
        acts = [rng.random((k, d), dtype=np.float32) / np.float32(d) for d in dims]
        buffers[k] = acts, [rng.random((k, d), dtype=np.float32) / np.float32(k) for d in dims]
    dWs = [np.empty_like(W) for W in Ws]
    n_params = sum(W.size + W.shape[1] for W in Ws)
    w = rng.standard_normal(n_params, dtype=np.float32)
    g = rng.standard_normal(n_params, dtype=np.float32) * np.float32(1e-3)
    v, s = np.zeros_like(w), np.zeros_like(w)
    t = [0]

    def epoch():
        for k in sizes:
            acts, grads = buffers[k]
            for l, W in enumerate(Ws):
                np.matmul(acts[l], W, out=acts[l + 1])
            for l in range(len(Ws) - 1, -1, -1):
                np.matmul(acts[l].T, grads[l + 1], out=dWs[l])
                if l:
                    np.matmul(grads[l + 1], Ws[l].T, out=grads[l])
            if with_adam:
                t[0] += 1
                fastnn.ops.adam_step(w, g, v, s, t[0], LR, BETA1, BETA2, EPS)
    return epoch


def bench_epoch_gemm(benchmark):
    """The floor of any implementation on this BLAS: the course's NumPy code
    makes the same products (transposed), so numpy/gemm bounds numpy/fastnn."""
    _run(benchmark, _gemm_epoch(False), "gemm")


def bench_epoch_gemm_adam(benchmark):
    """The floor of any implementation on this BLAS that takes the Adam steps
    of this benchmark (the update itself, fused, at memory speed)."""
    _run(benchmark, _gemm_epoch(True), "gemm+adam")


def bench_epoch_fastnn(benchmark, data):
    X, y = data
    model, opt = _fastnn_model(), _adam()

    def epoch():
        return model.fit(X, y, optimizer=opt, epochs=1, batch_size=BATCH, verbose=0)
    _run(benchmark, epoch, "fastnn")
    assert np.isfinite(model.evaluate(X[:1000], y[:1000])["loss"])


def bench_epoch_numpy(benchmark, data):
    X, y = data
    _check_course_matches_fastnn(X, y)
    Xc, Yc = _course_data(X, y)
    course = CourseModel(initialize_parameters_he((N_IN,) + HIDDEN + (N_OUT,)))
    _run(benchmark, lambda: course.epoch(Xc, Yc), "numpy")
    assert all(p.dtype == np.float32 for p in course.parameters.values())


def bench_epoch_torch(benchmark, data):
    torch = pytest.importorskip("torch")
    torch.set_num_threads(N_THREADS)
    X, y = data
    nn = torch.nn
    net = nn.Sequential(nn.Linear(N_IN, HIDDEN[0]), nn.ReLU(), nn.Linear(HIDDEN[0], HIDDEN[1]),
                        nn.ReLU(), nn.Linear(HIDDEN[1], N_OUT))
    with torch.no_grad():           # fastnn's initial weights, for the same network
        linears = [mod for mod in net if isinstance(mod, nn.Linear)]
        weights = _fastnn_model().get_weights()
        for lin, W, b in zip(linears, weights[::2], weights[1::2]):
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    cross_entropy = nn.functional.cross_entropy

    def epoch():
        net.train()
        perm = torch.randperm(M, generator=gen)
        total = 0.0
        for lo in range(0, M, BATCH):
            idx = perm[lo:lo + BATCH]
            xb, yb = Xt[idx], yt[idx]
            opt.zero_grad()
            loss = cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        return total / M
    _run(benchmark, epoch, "torch")
