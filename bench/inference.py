"""Inference of one trained network in each implementation bench/ compares
(imported by bench/workloads.py in a worker process).

Networks (``NETS``), MNIST-shaped, float32, the same weights everywhere
(drawn from a fixed seed: He-scaled W, small b; BatchNorm with gamma, beta
and running statistics away from 1 and 0, so that nothing folds trivially):

  mlp     784 -> 256 ReLU -> 128 ReLU -> 10 softmax
  mlp_bn  784 -> 256 -> BatchNorm -> ReLU -> 128 -> BatchNorm -> ReLU -> 10 softmax

Inputs: the first rows of MNIST's test set scaled to [0, 1]
(``../shared/data/mnist.npz``), or uniform random pixels when it is absent.
One call is one prediction of the class probabilities of ``rows`` rows, as
a user's serving code makes it:

  fastnn    ``model.predict_proba(X)`` (the checks of X included)
  ort       ``session.run(["probabilities"], {"X": X})`` on the file
            ``fastnn.onnx.export`` wrote (BatchNorm folded, the default);
            ``intra_op_num_threads`` = the thread count, ``inter_op`` 1,
            every graph optimization on (ONNX Runtime's default)
  ort_node  the same with ``batchnorm="node"`` (BatchNormalization nodes)
  torch     ``torch.softmax(net(torch.from_numpy(X)), 1).numpy()`` under
            ``torch.inference_mode()``, net an ``nn.Sequential`` of Linear,
            BatchNorm1d (eval) and ReLU holding the same weights

The ONNX file is written by a separate ``python bench/inference.py export
NET PATH`` process, so the ONNX Runtime worker holds only onnxruntime and
NumPy, as a serving process does.
"""
import os
import pathlib
import subprocess
import sys
import tempfile

import numpy as np

N_IN, N_OUT = 784, 10
NETS = {"mlp": ((256, 128), False), "mlp_bn": ((256, 128), True)}
ROWS = (1, 32, 256, 10_000)
MNIST = pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist.npz"
HERE = pathlib.Path(__file__).resolve().parent


def inputs(rows):
    """(X (rows, 784) float32 C-contiguous, source)."""
    if MNIST.exists():
        with np.load(MNIST, allow_pickle=False) as f:
            X = f["x_test"][:rows].reshape(-1, N_IN).astype(np.float32) / 255
        return np.ascontiguousarray(X), f"MNIST test images ({MNIST})"
    rng = np.random.default_rng(1)
    return rng.random((rows, N_IN), dtype=np.float32), f"uniform random pixels ({MNIST} is absent)"


def weights(net, seed=0):
    """[(W, b or None, bn or None)] per Dense, float32; bn = (gamma, beta, mean, var)."""
    hidden, batch_norm = NETS[net]
    rng = np.random.default_rng(seed)
    dims = (N_IN,) + hidden + (N_OUT,)
    layers = []
    for i, (a, b) in enumerate(zip(dims, dims[1:])):
        W = (rng.standard_normal((a, b)) * np.sqrt(2.0 / a)).astype(np.float32)
        hidden_layer = i < len(hidden)
        if batch_norm and hidden_layer:
            bn = (rng.uniform(0.5, 1.5, b), rng.normal(0, 0.1, b), rng.normal(0, 0.5, b),
                  rng.uniform(0.5, 2.0, b))
            layers.append((W, None, tuple(v.astype(np.float32) for v in bn)))
        else:
            layers.append((W, (0.1 * rng.standard_normal(b)).astype(np.float32), None))
    return layers


def reference(net, X, eps=1e-5):
    """The probabilities in float64."""
    A = X.astype(np.float64)
    layers = weights(net)
    for i, (W, b, bn) in enumerate(layers):
        Z = A @ W.astype(np.float64) + (0 if b is None else b)
        if bn is not None:
            gamma, beta, mean, var = (v.astype(np.float64) for v in bn)
            Z = gamma * (Z - mean) / np.sqrt(var + eps) + beta
        if i < len(layers) - 1:
            A = np.maximum(Z, 0)
        else:
            E = np.exp(Z - Z.max(axis=1, keepdims=True))
            A = E / E.sum(axis=1, keepdims=True)
    return A


# ---- fastnn -----------------------------------------------------------------

def fastnn_model(fastnn, net):
    hidden, batch_norm = NETS[net]
    layers = []
    for h in hidden:
        layers.append(fastnn.Dense(h, "relu"))
        if batch_norm:
            layers.append(fastnn.BatchNorm())
    layers.append(fastnn.Dense(N_OUT, "softmax"))
    model = fastnn.Sequential(layers, input_dim=N_IN, dtype="float32", seed=0)
    values, stats = [], []
    for W, b, bn in weights(net):
        values.append(W)
        if b is not None:
            values.append(b)
        if bn is not None:
            values += [bn[0], bn[1]]
            stats.append(bn[2:])
    model.set_weights(values)
    for layer, (mean, var) in zip([l for l in model.layers if isinstance(l, fastnn.BatchNorm)],
                                  stats):
        layer.running_mean[...] = mean
        layer.running_var[...] = var
    return model


def fastnn_predict(fastnn, net):
    return fastnn_model(fastnn, net).predict_proba


# ---- ONNX Runtime -------------------------------------------------------------

def export(net, path, batchnorm="fold"):
    """Write the ONNX file of ``net`` from a process of its own."""
    subprocess.run([sys.executable, str(HERE / "inference.py"), "export", net, str(path),
                    batchnorm], check=True)


def ort_predict(net, threads, batchnorm="fold", folder=None):
    import onnxruntime as ort
    folder = folder or tempfile.mkdtemp(prefix="fastnn-bench-onnx-")
    path = os.path.join(folder, f"{net}-{batchnorm}.onnx")
    if not os.path.exists(path):
        export(net, path, batchnorm)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    names = ["probabilities"]

    def call(X):
        return session.run(names, {"X": X})[0]
    return call


# ---- torch ------------------------------------------------------------------

def torch_predict(torch, net):
    nn = torch.nn
    modules = []
    layers = weights(net)
    for i, (W, b, bn) in enumerate(layers):
        linear = nn.Linear(W.shape[0], W.shape[1], bias=b is not None)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(W.T.copy()))
            if b is not None:
                linear.bias.copy_(torch.from_numpy(b))
        modules.append(linear)
        if bn is not None:
            norm = nn.BatchNorm1d(W.shape[1], eps=1e-5)
            with torch.no_grad():
                norm.weight.copy_(torch.from_numpy(bn[0]))
                norm.bias.copy_(torch.from_numpy(bn[1]))
                norm.running_mean.copy_(torch.from_numpy(bn[2]))
                norm.running_var.copy_(torch.from_numpy(bn[3]))
            modules.append(norm)
        if i < len(layers) - 1:
            modules.append(nn.ReLU())
    model = nn.Sequential(*modules).eval()

    def call(X):
        with torch.inference_mode():
            return torch.softmax(model(torch.from_numpy(X)), dim=1).numpy()
    return call


if __name__ == "__main__":
    # python bench/inference.py export NET PATH [fold|node]
    if len(sys.argv) < 4 or sys.argv[1] != "export":
        raise SystemExit("usage: python bench/inference.py export NET PATH [fold|node]")
    import fastnn
    fastnn.onnx.export(fastnn_model(fastnn, sys.argv[2]), sys.argv[3],
                       batchnorm=sys.argv[4] if len(sys.argv) > 4 else "fold")
