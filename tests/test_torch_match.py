"""A short training run of the same network in fastnn and torch (float64):
the weights, the per-batch costs, the BatchNorm running statistics and the
inference outputs agree after several steps.

The two networks start from the same weights (fastnn's W is (n_in, n_out),
torch's Linear.weight is W.T) and see the same mini-batches in the same
order (shuffle=False; 100 rows in batches of 32, so the last batch holds 4).
The translation of fastnn's conventions into torch, written out explicitly:

- L2: fastnn's cost is the batch's mean loss + (l2 / 2m) sum ||W||^2 with m
  the rows of that mini-batch, biases and BatchNorm's gamma/beta excluded;
  the torch loss adds exactly that term.
- BatchNorm after a Dense: Z -> BN -> ReLU with the Dense's bias removed, i.e.
  Linear(bias=False) -> BatchNorm1d -> ReLU; fastnn's momentum is the weight
  of the old running average, torch's is that of the new batch statistic.
- The output layer is softmax fused with cross-entropy: torch's
  cross_entropy on the logits.
"""
import numpy as np
import pytest

import fastnn as fn

torch = pytest.importorskip("torch", reason="torch is not installed: the torch comparisons skip")

M, N_IN, HIDDEN, N_OUT = 100, 40, (24, 16), 10
BATCH, EPOCHS = 32, 2                  # 4 mini-batches per epoch, 8 steps in all
LR = {"sgd": 0.1, "adam": 0.01}
L2 = 0.7
BN_MOMENTUM, BN_EPS = 0.9, 1e-5
# float64 after 8 steps: measured differences up to 7e-14 of an array's
# largest value (Adam's W); the bound leaves a margin for other BLAS builds
# and thread counts, whose sums round differently.
RTOL, ATOL = 1e-9, 1e-10


def _data():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((M, N_IN))
    y = rng.integers(0, N_OUT, M)
    return X, y


def _fastnn_model(bn):
    layers = []
    for units in HIDDEN:
        layers.append(fn.Dense(units, "relu", init="he"))
        if bn:
            layers.append(fn.BatchNorm(momentum=BN_MOMENTUM, eps=BN_EPS))
    layers.append(fn.Dense(N_OUT, "softmax", init="xavier"))
    model = fn.Sequential(layers, input_dim=N_IN, dtype="float64", seed=11)
    if not bn:
        # non-zero biases, so that a mixed-up bias would show
        rng = np.random.default_rng(1)
        model.set_weights([w if w.ndim == 2 else 0.1 * rng.standard_normal(w.shape)
                           for w in model.get_weights()])
    return model


def _torch_model(model):
    """The torch twin of ``model``, with its weights copied in."""
    ws = iter(model.get_weights())
    modules, linears, bns = [], [], []
    layers = model.layers
    for i, layer in enumerate(layers):
        if isinstance(layer, fn.Dense):
            lin = torch.nn.Linear(layer.input_dim, layer.units, bias=layer.use_bias,
                                  dtype=torch.float64)
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(next(ws).T.copy()))
                if layer.use_bias:
                    lin.bias.copy_(torch.from_numpy(next(ws)))
            modules.append(lin)
            linears.append(lin)
            followed_by_bn = i + 1 < len(layers) and isinstance(layers[i + 1], fn.BatchNorm)
            if layer is not layers[-1] and not followed_by_bn:
                modules.append(torch.nn.ReLU())
        elif isinstance(layer, fn.BatchNorm):
            bn = torch.nn.BatchNorm1d(layer.input_dim, eps=layer.eps, momentum=1 - layer.momentum,
                                      dtype=torch.float64)
            with torch.no_grad():
                bn.weight.copy_(torch.from_numpy(next(ws)))
                bn.bias.copy_(torch.from_numpy(next(ws)))
            modules += [bn, torch.nn.ReLU()]
            bns.append(bn)
    return torch.nn.Sequential(*modules), linears, bns


def _torch_params_in_fastnn_order(net):
    """Torch's parameters as fastnn lays them out (W transposed)."""
    out = []
    for mod in net:
        if isinstance(mod, torch.nn.Linear):
            out.append(mod.weight.detach().numpy().T)
            if mod.bias is not None:
                out.append(mod.bias.detach().numpy())
        elif isinstance(mod, torch.nn.BatchNorm1d):
            out += [mod.weight.detach().numpy(), mod.bias.detach().numpy()]
    return out


def _train_torch(net, linears, opt_name, l2, X, y, batch_size):
    opt = (torch.optim.SGD(net.parameters(), lr=LR["sgd"]) if opt_name == "sgd"
           else torch.optim.Adam(net.parameters(), lr=LR["adam"], betas=(0.9, 0.999), eps=1e-8))
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    size = M if batch_size is None else batch_size
    costs = []
    net.train()
    for _ in range(EPOCHS):
        for lo in range(0, M, size):
            xb, yb = Xt[lo:lo + size], yt[lo:lo + size]
            m = xb.shape[0]
            cost = torch.nn.functional.cross_entropy(net(xb), yb)
            if l2:
                cost = cost + l2 / (2 * m) * sum((lin.weight ** 2).sum() for lin in linears)
            opt.zero_grad()
            cost.backward()
            opt.step()
            costs.append(cost.item())
    return costs


def _assert_close(actual, expected, what):
    expected = np.asarray(expected)
    scale = max(float(np.max(np.abs(expected))), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL * scale, err_msg=what)


@pytest.mark.parametrize("bn", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("l2", [0.0, L2], ids=["no-l2", "l2"])
@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
@pytest.mark.parametrize("batch_size", [BATCH, None], ids=["minibatch", "fullbatch"])
def test_training_run_matches_torch(opt_name, l2, bn, batch_size):
    torch.manual_seed(0)
    X, y = _data()
    model = _fastnn_model(bn)
    net, linears, bns = _torch_model(model)
    for got, want in zip(model.get_weights(), _torch_params_in_fastnn_order(net)):
        np.testing.assert_array_equal(got, want)      # the same starting point

    optimizer = (fn.SGD(learning_rate=LR["sgd"]) if opt_name == "sgd"
                 else fn.Adam(learning_rate=LR["adam"], beta1=0.9, beta2=0.999, eps=1e-8))
    history = model.fit(X, y, loss="categorical_crossentropy", optimizer=optimizer,
                        epochs=EPOCHS, batch_size=batch_size, l2=l2, shuffle=False, verbose=0,
                        record_batch_loss=True)
    costs = _train_torch(net, linears, opt_name, l2, X, y, batch_size)

    n_steps = EPOCHS * -(-M // (batch_size or M))
    assert model.step == n_steps and len(costs) == n_steps
    _assert_close(history.batch_loss, costs, "per-batch cost")
    names = model.params.names
    for name, got, want in zip(names, model.get_weights(), _torch_params_in_fastnn_order(net)):
        _assert_close(got, want, f"{name} after {n_steps} steps")
    bn_layers = [layer for layer in model.layers if isinstance(layer, fn.BatchNorm)]
    assert len(bn_layers) == len(bns)
    for layer, tbn in zip(bn_layers, bns):
        _assert_close(layer.running_mean, tbn.running_mean.numpy(), f"{layer.name} running_mean")
        _assert_close(layer.running_var, tbn.running_var.numpy(), f"{layer.name} running_var")
    # inference uses the running statistics in both
    net.eval()
    with torch.no_grad():
        proba = torch.softmax(net(torch.from_numpy(X)), dim=1).numpy()
    _assert_close(model.predict_proba(X), proba, "predict_proba")
