"""Layers of a Sequential model: Dense, BatchNorm, Dropout.

Design: a layer owns no arrays of its own.  Its trainable parameters are
views of the model's ParameterBuffer (so one optimizer call updates them
all) and its backward pass writes gradients straight into the buffer's
gradient views.  Training-time intermediates (Z, A, dA_prev, masks) live in
workspaces kept per mini-batch size, so a steady-state training step
allocates no new arrays.

Order of operations follows the course: a BatchNorm placed after a Dense
normalizes that layer's Z *before* its activation (Z -> BN -> g), so the
Dense drops its bias (BatchNorm's beta replaces it) and hands its activation
to the BatchNorm.
"""
import inspect
import math

import numpy as np

from fastnn import checks, initializers, ops
from fastnn._validation import ACTIVATIONS as KERNEL_ACTIVATIONS

__all__ = ["Layer", "Dense", "BatchNorm", "Dropout", "layer_from_config"]

# the activation names, once: the kernels' table (fastnn._validation, the C enum)
ACTIVATIONS = tuple(KERNEL_ACTIVATIONS)
_KINKED = ("relu", "leaky_relu")      # activations whose derivative jumps at 0
_MAX_WORKSPACES = 4   # batch sizes kept (full batch, last partial batch, ...)


class Layer:
    """Base class.  Subclasses set ``kind`` and implement the hooks below.

    The model calls, in order: ``build(input_dim)`` (returns the output
    width), ``param_shapes()`` (to size the buffer), ``bind(buffer, rng)``
    (to create and initialize the parameter views), then ``forward`` and
    ``backward`` for every mini-batch.
    """

    kind = "layer"

    def __init__(self, name=None):
        if name is not None and (not isinstance(name, str) or not name):
            raise TypeError(f"{type(self).__name__}: name must be a non-empty string; got {name!r}")
        self.name = name
        self.input_dim = None
        self.output_dim = None
        self._workspaces = {}
        # set by the Sequential that takes the layer: its parameters become
        # views of that model's buffer, so a layer serves one model only
        self.in_model = False

    # --- building
    def build(self, input_dim):
        self.input_dim = self.output_dim = input_dim
        return input_dim

    def param_shapes(self):
        """[(parameter suffix, shape)] of the trainable parameters."""
        return []

    def bind(self, buffer, rng):
        """Add this layer's parameters to the model's buffer, initialized from
        ``rng`` (None: left at zero, for weights about to be loaded)."""

    def rebind(self, buffer):
        """Point this layer's parameters (``W``, ``b``, ...) and gradients
        (``dW``, ``db``, ...) at their slots of ``buffer`` again: after a
        copy or an unpickling, which copy views as separate arrays."""
        for suffix, _ in self.param_shapes():
            key = f"{self.name}.{suffix}"
            setattr(self, suffix, buffer[key])
            setattr(self, "d" + suffix, buffer.grad(key))
        self._workspaces = {}        # they may hold views too (Dense's db)

    def state_arrays(self):
        """{suffix: array} of non-trainable state saved with the model."""
        return {}

    def state_shapes(self):
        """{suffix: shape} of ``state_arrays()``, known once built."""
        return {}

    # --- computing
    def forward(self, A_prev, training):
        raise NotImplementedError

    def backward(self, dA, need_dA_prev):
        raise NotImplementedError

    # the workspace entry of a training forward's pre-activation (None: no activation)
    _PRE_ACTIVATION = None

    def kink_signs(self):
        """Where the last training forward's pre-activations lie against 0,
        for a layer whose activation has a kink there (relu, leaky_relu): a
        new boolean array; None for smooth or no activation."""
        ws = getattr(self, "_ws", None)
        if self._PRE_ACTIVATION is None or ws is None or self.train_activation not in _KINKED:
            return None
        return ws[self._PRE_ACTIVATION] > 0

    def get_config(self):
        return {"kind": self.kind, "name": self.name}

    def _workspace(self, m, make):
        """Buffers for a mini-batch of m rows, made once by ``make(m)``."""
        ws = self._workspaces.get(m)
        if ws is None:
            if len(self._workspaces) >= _MAX_WORKSPACES:
                self._workspaces.pop(next(iter(self._workspaces)))
            ws = self._workspaces[m] = make(m)
        return ws

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "kind")
        return f"{type(self).__name__}({args})"


class Dense(Layer):
    """Fully-connected layer: ``A = g(A_prev @ W + b)``.

    units : int >= 1, the number of output units n_out.
    activation : "linear", "relu", "leaky_relu", "tanh", "sigmoid" or "softmax".
    init : initializer name or object for W ("he" for ReLU layers, "xavier"
        for tanh ones, "glorot", ...); biases start at zero.
    use_bias : bool; a Dense followed by BatchNorm never has one.
    negative_slope : slope of leaky_relu for z < 0.
    """

    kind = "dense"

    _PRE_ACTIVATION = "Z"

    def __init__(self, units, activation="relu", init="he", *, use_bias=True,
                 negative_slope=0.01, name=None):
        super().__init__(name)
        units = checks.check_int(units, "units", "Dense", 1)
        if activation not in ACTIVATIONS:
            raise ValueError(f"Dense: activation must be one of {list(ACTIVATIONS)}; "
                             f"got {activation!r}")
        if not (isinstance(negative_slope, (int, float)) and math.isfinite(negative_slope)):
            raise ValueError(f"Dense: negative_slope must be a finite number; got {negative_slope!r}")
        self.units = int(units)
        self.activation = activation
        self.init = initializers.get(init)
        self.use_bias = bool(use_bias)
        self.negative_slope = float(negative_slope)
        # set by the model: the activation actually applied here (linear when a
        # BatchNorm takes it over, or when the loss fuses the output activation)
        self.train_activation = activation
        self.eval_activation = activation
        self.l2 = 0.0
        self.W = self.dW = self.b = self.db = None
        self._A_prev = None

    def build(self, input_dim):
        self.input_dim, self.output_dim = input_dim, self.units
        return self.units

    def param_shapes(self):
        shapes = [("W", (self.input_dim, self.units))]
        if self.use_bias:
            shapes.append(("b", (self.units,)))
        return shapes

    def bind(self, buffer, rng):
        key = f"{self.name}.W"
        shape = (self.input_dim, self.units)
        self.W = buffer.add(key, shape, None if rng is None else self.init(shape, rng, buffer.dtype))
        self.dW = buffer.grad(key)
        if self.use_bias:
            self.b = buffer.add(f"{self.name}.b", (self.units,))
            self.db = buffer.grad(f"{self.name}.b")

    def _make_workspace(self, m):
        dtype = self.W.dtype
        return {
            "Z": np.empty((m, self.units), dtype),
            "A": np.empty((m, self.units), dtype),
            "dA_prev": np.empty((m, self.input_dim), dtype),
            # dense_backward always returns db; a bias-free layer discards it
            "db": self.db if self.use_bias else np.empty(self.units, dtype),
        }

    def forward(self, A_prev, training):
        if not training:
            _, A = ops.dense_forward(A_prev, self.W, self.b, self.eval_activation, keep_z=False,
                                     negative_slope=self.negative_slope)
            return A
        ws = self._workspace(A_prev.shape[0], self._make_workspace)
        self._A_prev = A_prev
        if self.train_activation == "linear":
            # g' is 1: backward needs no Z, so none is kept
            _, A = ops.dense_forward(A_prev, self.W, self.b, "linear", keep_z=False,
                                     out=(None, ws["A"]))
        else:
            ops.dense_forward(A_prev, self.W, self.b, self.train_activation,
                              out=(ws["Z"], ws["A"]), negative_slope=self.negative_slope)
        self._ws = ws
        return ws["A"]

    def logits(self, A_prev):
        """Inference pre-activation ``A_prev @ W + b`` (what a fused loss takes)."""
        _, Z = ops.dense_forward(A_prev, self.W, self.b, "linear", keep_z=False)
        return Z

    def backward(self, dA, need_dA_prev):
        ws = self._ws
        Z = ws["A"] if self.train_activation == "linear" else ws["Z"]
        dA_prev, _, _ = ops.dense_backward(
            dA, Z, self._A_prev, self.W, self.train_activation, l2=self.l2,
            need_dA_prev=need_dA_prev, out=(ws["dA_prev"] if need_dA_prev else None, self.dW,
                                            ws["db"]),
            workspace=dA, negative_slope=self.negative_slope)
        return dA_prev

    def get_config(self):
        init = self.init.get_config() if hasattr(self.init, "get_config") else None
        return {"kind": self.kind, "name": self.name, "units": self.units,
                "activation": self.activation, "init": init, "use_bias": self.use_bias,
                "negative_slope": self.negative_slope}


class BatchNorm(Layer):
    """Batch normalization of the previous layer's Z, then its activation.

    Training: each column is normalized with the mean and the biased variance
    of the mini-batch, ``z_norm = (z - mu) / sqrt(var + eps)``, then
    ``z_tilde = gamma * z_norm + beta`` and ``A = g(z_tilde)`` with g the
    activation of the Dense before it.  Inference uses running averages
    ``running = momentum * running + (1 - momentum) * batch statistic``:
    momentum is the course's beta, the weight of the *old* average (torch's
    ``momentum`` is 1 minus this); the running variance averages the unbiased
    batch variance (m / (m - 1) * var), as torch does.

    A training mini-batch of one row has no variance: fit drops such a last
    batch (with a warning) rather than normalize by zero.
    """

    kind = "batchnorm"

    _PRE_ACTIVATION = "Zt"

    def __init__(self, momentum=0.9, eps=1e-5, *, name=None):
        super().__init__(name)
        checks.check_number(momentum, "momentum", "BatchNorm", 0, 1,
                            what="weight of the old running average")
        checks.check_number(eps, "eps", "BatchNorm", 0, low_open=True)
        self.momentum = float(momentum)
        self.eps = float(eps)
        self.activation = "linear"   # taken over from the Dense before it
        self.train_activation = self.eval_activation = "linear"
        self.negative_slope = 0.01
        self.gamma = self.beta = self.dgamma = self.dbeta = None
        self.running_mean = self.running_var = None
        self._cache = None

    def param_shapes(self):
        return [("gamma", (self.input_dim,)), ("beta", (self.input_dim,))]

    def bind(self, buffer, rng):
        self.gamma = buffer.add(f"{self.name}.gamma", init=np.ones(self.input_dim))
        self.beta = buffer.add(f"{self.name}.beta", (self.input_dim,))
        self.dgamma = buffer.grad(f"{self.name}.gamma")
        self.dbeta = buffer.grad(f"{self.name}.beta")
        self.running_mean = np.zeros(self.input_dim, buffer.dtype)
        self.running_var = np.ones(self.input_dim, buffer.dtype)

    def state_arrays(self):
        return {"running_mean": self.running_mean, "running_var": self.running_var}

    def state_shapes(self):
        return {"running_mean": (self.input_dim,), "running_var": (self.input_dim,)}

    def _make_workspace(self, m):
        dtype = self.gamma.dtype
        return {"Zt": np.empty((m, self.input_dim), dtype), "A": np.empty((m, self.input_dim), dtype),
                "dZ": np.empty((m, self.input_dim), dtype), "cache": None}

    def forward(self, Z, training):
        if not training:
            Zt, _ = ops.batchnorm_forward(Z, self.gamma, self.beta, eps=self.eps, training=False,
                                          running_mean=self.running_mean,
                                          running_var=self.running_var)
            return ops.activation_forward(Zt, self.eval_activation, out=Zt,
                                          negative_slope=self.negative_slope)
        ws = self._workspace(Z.shape[0], self._make_workspace)
        Zt, ws["cache"] = ops.batchnorm_forward(
            Z, self.gamma, self.beta, eps=self.eps, training=True,
            running_mean=self.running_mean, running_var=self.running_var,
            momentum=self.momentum, out=(ws["Zt"], ws["cache"]))
        self._ws = ws
        if self.train_activation == "linear":
            return Zt
        return ops.activation_forward(Zt, self.train_activation, out=ws["A"],
                                      negative_slope=self.negative_slope)

    def backward(self, dA, need_dA_prev):
        ws = self._ws
        if self.train_activation != "linear":
            dA = ops.activation_backward(dA, ws["Zt"], self.train_activation, out=dA,
                                         negative_slope=self.negative_slope)
        dZ, _, _ = ops.batchnorm_backward(dA, ws["cache"], out=(ws["dZ"], self.dgamma, self.dbeta))
        return dZ

    def folded_into(self, dense):
        """(W, b) of one Dense computing ``dense`` then this layer in
        inference mode: W * s and (b - running_mean) * s + beta, s = gamma /
        sqrt(running_var + eps) (s and b in float64; W * s in W's dtype: one
        pass over W)."""
        s = self.gamma.astype(np.float64) / np.sqrt(self.running_var.astype(np.float64) + self.eps)
        b = 0.0 if dense.b is None else dense.b.astype(np.float64)
        W = np.multiply(dense.W, s.astype(dense.W.dtype))
        return W, ((b - self.running_mean) * s + self.beta).astype(dense.W.dtype)

    def get_config(self):
        return {"kind": self.kind, "name": self.name, "momentum": self.momentum, "eps": self.eps}


class Dropout(Layer):
    """Inverted dropout: while training, ``A = A * mask / keep_prob`` with a
    fresh mask for every mini-batch; at inference the identity (the division
    by keep_prob during training keeps the expected activation unchanged).

    keep_prob : float in (0, 1], the probability of keeping each unit.
    Not allowed as the last layer.
    """

    kind = "dropout"

    def __init__(self, keep_prob=0.8, *, name=None):
        super().__init__(name)
        checks.check_number(keep_prob, "keep_prob", "Dropout", 0, 1, low_open=True)
        self.keep_prob = float(keep_prob)
        self.seed = 0          # the model sets a new seed before every training step
        self._mask = None

    def _make_workspace(self, m):
        return {"A": np.empty((m, self.input_dim), self._dtype),
                "mask": np.empty((m, self.input_dim), np.uint8)}

    def forward(self, A_prev, training):
        if not training or self.keep_prob == 1.0:
            self._mask = None
            return A_prev
        self._dtype = A_prev.dtype
        ws = self._workspace(A_prev.shape[0], self._make_workspace)
        A, self._mask = ops.dropout_forward(A_prev, self.keep_prob, self.seed,
                                            out=(ws["A"], ws["mask"]))
        return A

    def backward(self, dA, need_dA_prev):
        if self._mask is None:
            return dA
        return ops.dropout_backward(dA, self._mask, self.keep_prob, out=dA)

    def get_config(self):
        return {"kind": self.kind, "name": self.name, "keep_prob": self.keep_prob}


_KINDS = {cls.kind: cls for cls in (Dense, BatchNorm, Dropout)}


def layer_from_config(config):
    """Rebuild a layer from its ``get_config()`` dict."""
    config = dict(config)
    kind = config.pop("kind", None)
    if kind not in _KINDS:
        raise ValueError(f"unknown layer kind {kind!r}; this fastnn has {sorted(_KINDS)} (a "
                         f"model from a newer fastnn? upgrade fastnn)")
    if kind == "dense" and config.get("init") is None:
        config.pop("init", None)
    cls = _KINDS[kind]
    unknown = sorted(set(config) - set(inspect.signature(cls).parameters))
    if unknown:
        raise ValueError(f"the {kind} layer {config.get('name')!r} has options this fastnn does "
                         f"not know: {unknown} (a model from a newer fastnn? upgrade fastnn)")
    return cls(**config)


def model_layer_names(layers, func, max_layers):
    """Check the layers of a new model (fastnn layers, each object once, none
    already in a model, at most ``max_layers``, a Dense last) and return the
    names the model gives them: their own, else ``<kind>_<i>``."""
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ValueError(f"{func}: layers must be a non-empty list of layers; got {layers!r}")
    if len(layers) > max_layers:
        # a bound on the work a model file's header can ask of load_model
        raise ValueError(f"{func}: a model has at most {max_layers} layers; got {len(layers)}")
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(f"{func}: layers[{i}] must be a fastnn layer (Dense, BatchNorm, "
                            f"Dropout); got {type(layer).__name__}")
    if len({id(layer) for layer in layers}) != len(layers):
        raise ValueError(f"{func}: the same layer object appears twice; make one per position")
    for i, layer in enumerate(layers):
        if layer.in_model:
            raise ValueError(f"{func}: layers[{i}] ({layer.name}) already belongs to another "
                             f"model; its weights live in that model, so layers cannot be "
                             f"shared: make a new one (e.g. fn.{type(layer).__name__}(...))")
    if not isinstance(layers[-1], Dense):
        raise ValueError(f"{func}: the last layer must be a Dense (the output layer); "
                         f"got {type(layers[-1]).__name__}")
    counts, names, seen = {}, [], set()
    for layer in layers:
        name = layer.name
        if name is None:
            counts[layer.kind] = counts.get(layer.kind, 0) + 1
            name = f"{layer.kind}_{counts[layer.kind]}"
        if name in seen:
            raise ValueError(f"{func}: two layers are named {name!r}")
        names.append(name)
        seen.add(name)
    return names
