"""One training epoch of a fully-connected network, in each implementation
bench/ compares (imported by bench/workloads.py in a worker process).

The network of the issue's MNIST target: 60,000 x 784 float32 inputs
(``../shared/data/mnist.npz`` scaled to [0, 1]; random data of that shape
when the file is absent, said in the report), 784-256-128-10, ReLU hidden
layers, softmax with cross-entropy, Adam(lr=1e-3, 0.9, 0.999, 1e-8),
mini-batches of 128 drawn by a fresh random permutation every epoch (469
steps, the last one of 96 rows).  One call of what these functions return
is one epoch.

  fastnn  epochs of one ``Sequential.fit`` on the main thread (as a user
          trains: many epochs per call), each timed from its on_epoch_begin to
          its on_epoch_end; the first call runs the warm-up epoch and the
          rounds, the calls hand out their times.
          ``whole_fit``: a ``fit(epochs=1)`` call per epoch instead, which
          adds fit's checks of X and y (NaN/Inf, labels) every time.
  torch   the usual eager loop: torch.randperm, X[idx] slicing, nn.Sequential
          of Linear/ReLU, F.cross_entropy, zero_grad, backward,
          torch.optim.Adam(fused=True).step, loss.item().
  numpy   the course's implementation in float32: (n_x, m) arrays, W of shape
          (n_out, n_in), forward/backward functions passing caches, the
          course's random_mini_batches and Adam with bias correction.
"""
import contextlib
import pathlib
import time

import numpy as np

M, N_IN, HIDDEN, N_OUT = 60_000, 784, (256, 128), 10
BATCH, LR = 128, 1e-3
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8
MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"


class Timed(float):
    """The duration a call measured itself (seconds); the worker reports it
    instead of timing the call from outside."""


def load_mnist():
    """(X, y, source): MNIST's training set, or random data of its shape."""
    if MNIST.exists():
        with np.load(MNIST, allow_pickle=False) as f:
            X = np.ascontiguousarray(f["x_train"].reshape(M, N_IN), dtype=np.float32) / 255
            y = f["y_train"].astype(np.int64)
        return X, y, f"MNIST training set ({MNIST})"
    X, y = random_data(M, N_IN, N_OUT)
    return X, y, f"uniform random inputs and labels ({MNIST} is absent)"


def random_data(m, n_in, n_out, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((m, n_in), dtype=np.float32), rng.integers(0, n_out, m)


# ---- fastnn -----------------------------------------------------------------

def fastnn_model(fastnn, hidden=HIDDEN, n_in=N_IN, n_out=N_OUT, dtype="float32", seed=0):
    layers = [fastnn.Dense(h, "relu", init="he") for h in hidden]
    layers.append(fastnn.Dense(n_out, "softmax", init="he"))
    return fastnn.Sequential(layers, input_dim=n_in, dtype=dtype, seed=seed)


def fastnn_epochs(fastnn, X, y, rounds, hidden=HIDDEN, batch=BATCH, whole_fit=False,
                  fit_kwargs=None, during=None):
    """``fit_kwargs``: more arguments of fit (sample_weight); ``during``: a
    context manager around the fit (a memory sampler), whose ``extra`` dict
    each Timed epoch carries."""
    fit_kwargs = fit_kwargs or {}
    model = fastnn_model(fastnn, hidden, X.shape[1], int(y.max()) + 1)
    opt = fastnn.Adam(learning_rate=LR, beta1=BETA1, beta2=BETA2, eps=EPS)
    if whole_fit:
        def call():
            start = time.perf_counter()
            model.fit(X, y, optimizer=opt, epochs=1, batch_size=batch, verbose=0)
            return Timed(time.perf_counter() - start)
        return call

    times = []

    class EpochTimes(fastnn.Callback):
        def on_epoch_begin(self, epoch, logs):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs):
            times.append(time.perf_counter() - self.start)

    def call():
        # fit runs on this (the main) thread, as a user's does: which thread
        # calls matters to OpenMP runtimes, whose thread teams are per
        # calling thread.  The warm-up epoch and the rounds of the benchmark
        # are epochs of one fit, timed by the callback and handed out one by one.
        if not times:
            with during or contextlib.nullcontext():
                model.fit(X, y, optimizer=opt, epochs=rounds + 1, batch_size=batch, verbose=0,
                          callbacks=[EpochTimes()], **fit_kwargs)
        timed = Timed(times.pop(0))
        timed.extra = dict(getattr(during, "extra", {}))
        return timed
    return call


def fastnn_partial_fit_passes(fastnn, X, y, chunks=10, batch=BATCH):
    """One call: a pass of ``chunks`` partial_fit calls over X, as chunked
    data arrives (each call checks its chunk, as fit checks X)."""
    model = fastnn_model(fastnn, HIDDEN, X.shape[1], int(y.max()) + 1)
    opt = fastnn.Adam(learning_rate=LR, beta1=BETA1, beta2=BETA2, eps=EPS)
    bounds = np.linspace(0, X.shape[0], chunks + 1).astype(int)
    classes = np.arange(int(y.max()) + 1)

    def call():
        start = time.perf_counter()
        for lo, hi in zip(bounds, bounds[1:]):
            model.partial_fit(X[lo:hi], y[lo:hi], classes=classes, optimizer=opt,
                              batch_size=batch)
        return Timed(time.perf_counter() - start)
    return call


# ---- torch ------------------------------------------------------------------

def torch_epoch(torch, X, y, hidden=HIDDEN, batch=BATCH):
    nn = torch.nn
    dims = (X.shape[1],) + tuple(hidden)
    layers = []
    for a, b in zip(dims, dims[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    layers.append(nn.Linear(dims[-1], int(y.max()) + 1))
    net = nn.Sequential(*layers)
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS, fused=True)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    gen = torch.Generator().manual_seed(0)
    cross_entropy = nn.functional.cross_entropy
    m = X.shape[0]

    def call():
        net.train()
        perm = torch.randperm(m, generator=gen)
        total = 0.0
        for lo in range(0, m, batch):
            idx = perm[lo:lo + batch]
            xb, yb = Xt[idx], yt[idx]
            opt.zero_grad()
            loss = cross_entropy(net(xb), yb)
            loss.backward()
            opt.step()
            total += loss.item() * xb.shape[0]
        return total / m
    return call


def torch_gemm_epoch(torch, rows):
    """The epoch's GEMMs through torch.mm into preallocated tensors (from
    Python: a few microseconds of call per product are included)."""
    dims = (N_IN,) + HIDDEN + (N_OUT,)
    gen = torch.Generator().manual_seed(0)
    Ws = [torch.rand(a, b, generator=gen) / a for a, b in zip(dims, dims[1:])]
    dWs = [torch.empty_like(W) for W in Ws]
    sizes = [BATCH] * (rows // BATCH) + ([rows % BATCH] if rows % BATCH else [])
    bufs = {k: ([torch.rand(k, d, generator=gen) / d for d in dims],
                [torch.rand(k, d, generator=gen) / k for d in dims]) for k in set(sizes)}

    def call():
        for k in sizes:
            acts, grads = bufs[k]
            for l, W in enumerate(Ws):
                torch.mm(acts[l], W, out=acts[l + 1])
            for l in range(len(Ws) - 1, -1, -1):
                torch.mm(acts[l].t(), grads[l + 1], out=dWs[l])
                if l:
                    torch.mm(grads[l + 1], Ws[l].t(), out=grads[l])
    return call


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


def course_data(X, y, dtype=np.float32):
    """(n_x, m) inputs and one-hot (10, m) labels, as the course holds them."""
    Y = np.zeros((N_OUT, y.shape[0]), dtype)
    Y[y, np.arange(y.shape[0])] = 1
    return np.ascontiguousarray(X.T, dtype=dtype), Y


def check_course_matches_fastnn(fastnn, X, y):
    """Three Adam steps from the same weights, float64, fixed batch order: the
    course's code and fastnn compute the same network."""
    m = 3 * BATCH
    X, y = X[:m].astype(np.float64), y[:m]
    model = fastnn_model(fastnn, dtype="float64", seed=1)
    weights = model.get_weights()
    parameters = {}
    for l in range(1, len(weights) // 2 + 1):
        parameters["W" + str(l)] = weights[2 * l - 2].T.copy()
        parameters["b" + str(l)] = weights[2 * l - 1].reshape(-1, 1).copy()
    course = CourseModel(parameters)
    cost = course.epoch(*course_data(X, y, np.float64), shuffle=False)
    opt = fastnn.Adam(learning_rate=LR, beta1=BETA1, beta2=BETA2, eps=EPS)
    history = model.fit(X, y, optimizer=opt, epochs=1, batch_size=BATCH, shuffle=False,
                        verbose=0)
    np.testing.assert_allclose(cost, history["loss"][0], rtol=1e-10)
    for l, (W, b) in enumerate(zip(model.get_weights()[::2], model.get_weights()[1::2]), 1):
        np.testing.assert_allclose(course.parameters["W" + str(l)], W.T, rtol=1e-7, atol=1e-10)
        np.testing.assert_allclose(course.parameters["b" + str(l)][:, 0], b, rtol=1e-7,
                                   atol=1e-10)


def course_epoch(X, y):
    Xc, Yc = course_data(X, y)
    course = CourseModel(initialize_parameters_he((N_IN,) + HIDDEN + (N_OUT,)))
    return lambda: course.epoch(Xc, Yc)
