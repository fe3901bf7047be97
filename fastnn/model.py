"""Sequential: a stack of layers trained with mini-batch gradient descent.

    model = fn.Sequential([fn.Dense(64, "relu"), fn.Dense(10, "softmax", init="xavier")],
                          input_dim=784, dtype="float32", seed=0)
    history = model.fit(X, y, optimizer=fn.Adam(1e-3), epochs=20, batch_size=128,
                        validation_data=(X_dev, y_dev))

Design: all trainable parameters live in one ParameterBuffer, so an
optimizer step is one kernel call over the whole model.  The output
activation is fused with the loss (softmax with categorical cross-entropy,
sigmoid with binary cross-entropy), so the training forward pass stops at the
logits and the loss kernel returns dZ of the output layer directly.  A
training step reuses per-batch-size workspaces and allocates no new arrays.

Randomness comes from one seed: weight initialization, the shuffling of
every epoch and every dropout mask are derived from it, so the same seed and
thread count give the same weights.
"""

import functools
import secrets

import numpy as np

from fastnn import checks, data, labels, losses, ops, serialization, training
from fastnn.callbacks import History
from fastnn.layers import BatchNorm, Dense, Dropout, layer_from_config, model_layer_names
from fastnn.parameters import ParameterBuffer
from fastnn._validation import all_finite

__all__ = ["Sequential", "History", "load_model"]

MAX_LAYERS = 10_000

_EVAL_CHUNK = 8192          # rows per inference pass: bounds the memory of predict
_MASK64 = (1 << 64) - 1


class Sequential:
    """A feed-forward network: ``layers`` applied in order.

    layers : list of Dense, BatchNorm and Dropout layers; the last one must be
        a Dense (its activation picks the default loss).  A BatchNorm right
        after a Dense normalizes that Dense's Z before its activation.
    input_dim : number of input features; None builds the model on the
        first ``fit`` from the data.
    dtype : "float32" (default, fastest) or "float64".
    seed : int; None draws one (``model.seed`` tells which).
    """

    max_layers = MAX_LAYERS

    def __init__(self, layers, input_dim=None, dtype="float32", seed=None):
        func = "Sequential"
        names = model_layer_names(layers, func, MAX_LAYERS)
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{func}: dtype must be 'float32' or 'float64'; got {dtype!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.seed = checks.check_int(seed, "seed", func, 0)
        self.layers = list(layers)
        given = [layer.name for layer in self.layers]
        for layer, name in zip(self.layers, names):
            layer.name = name
        self.input_dim = None
        self.params = None           # the ParameterBuffer, once built
        self.optimizer = None
        self.loss = None             # name of the loss of the last fit
        self.normalizer = None       # an input transform saved with the model
        self.training = False
        self.stop_training = False
        self.epoch = 0               # epochs trained so far
        self.step = 0                # optimizer steps taken so far
        self.shuffle_rng = self.augment_rng = None
        self.history = None          # the History of the last fit (callbacks set stop_reason)
        self.classes_ = None         # the text labels predict answers in (fastnn.labels)
        self._calls = 0              # training-mode __call__s: fresh dropout masks each
        if input_dim is not None:
            try:
                self.build(input_dim)
            except BaseException:
                for layer, name in zip(self.layers, given):   # the layers stay reusable
                    layer.name = name
                raise
        for layer in self.layers:
            layer.in_model = True

    # ------------------------------------------------------------ building
    def build(self, input_dim, initialize=True):
        """Fix the input width, wire BatchNorm into the Dense before it, and
        create all parameters in one flat buffer, initialized from the seed
        (``initialize=False``: left at zero, for weights about to be loaded)."""
        func = "Sequential.build"
        input_dim = checks.check_int(input_dim, "input_dim", func, 1)
        if self.params is not None:
            if input_dim != self.input_dim:
                raise ValueError(f"{func}: the model is built for {self.input_dim} input features; "
                                 f"got {input_dim}")
            return
        self.layout(input_dim, func)
        shapes = [shape for layer in self.layers for _, shape in layer.param_shapes()]
        buffer = ParameterBuffer(ParameterBuffer.size_of(shapes), self.dtype)
        init_seq, shuffle_seq, dropout_seq, augment_seq = np.random.SeedSequence(self.seed).spawn(4)
        init_rng = np.random.default_rng(init_seq) if initialize else None
        for layer in self.layers:
            layer.bind(buffer, init_rng)
        self.shuffle_rng = np.random.default_rng(shuffle_seq)
        self.augment_rng = np.random.default_rng(augment_seq)
        self._dropout_base = int(dropout_seq.generate_state(1, np.uint64)[0])
        self.input_dim = input_dim
        self.params = buffer

    def layout(self, input_dim, func="Sequential.build"):
        """Everything ``build`` does short of allocating: check the layer order,
        wire BatchNorm into the Dense before it, fix every layer's widths (so
        ``param_shapes`` and ``state_shapes`` answer).  Safe to repeat."""
        input_dim = checks.check_int(input_dim, "input_dim", func, 1)
        for i, layer in enumerate(self.layers):       # check all before changing any
            if isinstance(layer, BatchNorm):
                prev = self.layers[i - 1] if i else None
                if not isinstance(prev, Dense) or i == len(self.layers) - 1:
                    raise ValueError(f"{func}: {layer.name} must come right after a hidden Dense "
                                     f"layer (it normalizes that layer's Z before its activation)")
        for i, layer in enumerate(self.layers):
            if isinstance(layer, BatchNorm):
                prev = self.layers[i - 1]
                # the course's Z -> BN -> g: BN's beta replaces the bias
                prev.use_bias = False
                layer.activation = prev.activation
                layer.train_activation = layer.eval_activation = prev.activation
                layer.negative_slope = prev.negative_slope
                prev.train_activation = prev.eval_activation = "linear"
        # the training forward stops at the output logits: the loss applies
        # the output activation (fused), and __call__ in training mode too
        self.output_layer.train_activation = "linear"
        dim = input_dim
        for layer in self.layers:
            dim = layer.build(dim)

    def _require_built(self, func):
        if self.params is None:
            raise ValueError(f"{func}: the model is not built yet: give input_dim or call fit first")

    @property
    def output_layer(self):
        return self.layers[-1]

    @property
    def output_dim(self):
        return self.output_layer.units

    # ------------------------------------------------------------ modes
    def train(self):
        """Training mode: BatchNorm uses batch statistics, Dropout drops."""
        self.training = True
        return self

    def eval(self):
        """Inference mode: BatchNorm uses running averages, Dropout is the identity."""
        self.training = False
        return self

    # ------------------------------------------------------------ data checks
    def check_inputs(self, X, func):
        """X as the model computes on it: checked (numeric, 2-D or images, the
        model's width, finite), C-contiguous in the model's dtype, through the
        attached normalizer.  ``func`` names the caller in errors."""
        return data.check_X(X, func, self.input_dim, self.dtype, self.normalizer)

    # ------------------------------------------------------------ training
    def fit(self, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=64, l2=0.0, l1=0.0,
            validation_data=None, callbacks=None, verbose=1, shuffle=True,
            record_batch_loss=False, record_grad_norms=False, augment=None, image_shape=None,
            sample_weight=None, class_weight=None):
        """Train on (X, y) with mini-batch gradient descent; return a History.

        loss : "categorical_crossentropy" (softmax output; y integer labels
            or one-hot), "binary_crossentropy" (sigmoid output; y in {0, 1}),
            "mse" (linear output); None picks it from the output activation.
        optimizer : a fastnn optimizer or its name ("sgd", "momentum", "rmsprop",
            "adam": default settings); None keeps the model's current one
            (Adam(1e-3) on the first fit).  Its state carries over between
            fit calls, so fit(epochs=1) twice equals fit(epochs=2).
        epochs : number of epochs to run now (counting on from ``model.epoch``).
        batch_size : rows per mini-batch; None is batch gradient descent (the
            whole set), 1 stochastic gradient descent.  The last batch holds
            the remainder; with BatchNorm a last batch of one row is skipped.
        l2, l1 : regularization strengths lambda (cost (l2/2m)||W||^2 and
            (l1/m)|W|, gradients (l2/m) W and (l1/m) sign(W)); Dense weights only.
        validation_data : (X_dev, y_dev), evaluated after every epoch.
        callbacks : a Callback or a list of them; a TerminateOnNaN is always
            active (a non-finite cost, or non-finite weights, statistics or
            optimizer state at the end of an epoch, roll that epoch back).
        verbose : 0 silent, 1 progress bar, 2 one line per epoch.
        record_batch_loss : keep the cost of every mini-batch in
            ``history.batch_loss``.
        record_grad_norms : keep, per epoch, the mean norm of each Dense
            layer's dW in ``history.grad_norms`` (vanishing/exploding gradients).
        sample_weight : a weight per example (>= 0): the cost becomes
            sum(s_i loss_i) / sum(s) + (l2 / 2 sum(s)) ||W||^2, scikit-learn's
            MLP objective; integer weights train as repeated rows, 0 as a
            dropped row.  History's loss and accuracy are weighted too.
        class_weight : {label: weight} or "balanced" (n_samples / (n_classes
            * count of the class)): multiplies each example's weight.
        validation_data may carry its own weights: (X_dev, y_dev, w_dev).
        shuffle : True (a new random order of the rows every epoch), False,
            or "blocks": shuffled blocks of 1,024 consecutive rows, mixed 16
            blocks at a time, for a memory-mapped X on storage whose random
            access is slow (a cold disk, a network file system).  X may be a
            map (``np.load(path, mmap_mode="r")``): mini-batches are read
            from it, it is never copied whole.
        augment : a fastnn.augment transform applied to every training
            mini-batch (never to validation data); X must then be images
            (m, H, W[, C]) or rows with ``image_shape=(H, W[, C])``.
        """
        return training.Fit(
            self, X, y, loss=loss, optimizer=optimizer, epochs=epochs, batch_size=batch_size,
            l2=l2, l1=l1, validation_data=validation_data, callbacks=callbacks, verbose=verbose,
            shuffle=shuffle, record_batch_loss=record_batch_loss,
            record_grad_norms=record_grad_norms, augment=augment, image_shape=image_shape,
            sample_weight=sample_weight, class_weight=class_weight).run()

    def partial_fit(self, X, y, classes=None, *, loss=None, optimizer=None, batch_size=64,
                    l2=0.0, l1=0.0, shuffle=True, sample_weight=None, class_weight=None):
        """Train on one chunk of the data: one pass over (X, y) in mini-batches,
        for data that arrives in parts or does not fit in memory at once.

        classes : every label the model will see; required on the first call
            of a classifier (a chunk may lack some), as in scikit-learn.
            Text labels become ``classes_``; integer classes must be the class
            indices 0..k-1.  Labels outside them are refused.
        The optimizer's state and the counters carry over between calls: each
        call counts as one epoch (for learning-rate schedules).  There are no
        callbacks: early stopping is the caller's, between calls.  Returns the
        History of the pass."""
        return training.Fit(self, X, y, loss=loss, optimizer=optimizer, epochs=1,
                            batch_size=batch_size, l2=l2, l1=l1, verbose=0, shuffle=shuffle,
                            func="partial_fit", classes=classes, sample_weight=sample_weight,
                            class_weight=class_weight).run()

    def seed_dropout(self, count, stream=0):
        """Give every Dropout layer a distinct 64-bit seed for this ``count``
        (training step, or training-mode call in stream 1), from the model
        seed: the masks of a run depend on the seed and the step only."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.seed = (self._dropout_base + count * 0x9E3779B97F4A7C15
                              + i * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB) & _MASK64

    # ------------------------------------------------------------ inference
    def _forward_eval(self, X, logits):
        """Inference forward in chunks; the output layer's logits or activations."""
        # an example or two: no folds to plan (a call costs about 12 us)
        steps = None if X.shape[0] < 4 else self._eval_steps(X.shape[0], logits)
        if X.shape[0] <= _EVAL_CHUNK and type(X) is np.ndarray:
            # one chunk: the output layer's array is the answer (no copy)
            return self._eval_chunk(X, steps, logits)
        out = np.empty((X.shape[0], self.output_dim), self.dtype)
        # chunks of equal size (10,000 rows: 2 x 5,000, not 8,192 + 1,808):
        # every chunk's GEMMs split evenly over the threads
        chunks = -(-X.shape[0] // _EVAL_CHUNK)
        size = -(-X.shape[0] // chunks)
        for lo in range(0, X.shape[0], size):
            A = self._eval_chunk(X[lo:lo + size], steps, logits)
            out[lo:lo + A.shape[0]] = A
        return out

    def _eval_chunk(self, A, steps, logits):
        if steps is not None:
            for step in steps:
                A = step(A)
            return A
        last = len(self.layers) - 1
        for i, layer in enumerate(self.layers):
            A = layer.logits(A) if (i == last and logits) else layer.forward(A, False)
        return A

    def _eval_steps(self, rows, logits):
        """The inference forward as a list of functions of A, or None when it
        is the layers one by one.  A Dense and the BatchNorm after it become
        one Dense with the BatchNorm folded into its W and b from 4 rows per
        input of the Dense: folding passes once over W (on one thread),
        BatchNorm twice over the rows' outputs, so fewer rows keep the layers
        as they are (measured: 10,000 MNIST rows through 784-256-BN-128-BN-10
        6% faster on one thread)."""
        layers, last = self.layers, len(self.layers) - 1
        steps, folded, i = [], False, 0
        while i <= last:
            layer = layers[i]
            if (i < last and isinstance(layer, Dense) and isinstance(layers[i + 1], BatchNorm)
                    and rows >= 4 * layer.input_dim):
                bn = layers[i + 1]
                W, b = bn.folded_into(layer)
                steps.append(lambda A, W=W, b=b, act=bn.eval_activation, slope=bn.negative_slope:
                             ops.dense_forward(A, W, b, act, keep_z=False,
                                               negative_slope=slope)[1])
                folded, i = True, i + 2
                continue
            steps.append(layer.logits if (i == last and logits)
                         else functools.partial(layer.forward, training=False))
            i += 1
        return steps if folded else None

    def __call__(self, X):
        """The output activations of X in the current mode (see train/eval)."""
        self._require_built("Sequential.__call__")
        X = self.check_inputs(X, "Sequential.__call__")
        if not self.training:
            return self._forward_eval(X, logits=False)
        # a new mask every call (Monte-Carlo dropout), from a stream of seeds
        # apart from the training steps'
        self._calls += 1
        self.seed_dropout(self._calls, stream=1)
        A = np.asarray(X)                # a memory-mapped X (data.MappedRows) whole
        for layer in self.layers:
            A = layer.forward(A, True)
        # in training mode the output layer stops at its logits (fused with the loss)
        out = self.output_layer
        return losses.activate(A, out.activation, out.negative_slope)

    def predict_proba(self, X):
        """Class probabilities: softmax rows (m, k) or sigmoid outputs (m, k)."""
        self._require_built("predict_proba")
        if self.output_layer.activation not in ("softmax", "sigmoid"):
            raise ValueError(f"predict_proba: the output layer is {self.output_layer.activation!r}; "
                             f"probabilities need a softmax or sigmoid output")
        return self._forward_eval(self.check_inputs(X, "predict_proba"), logits=False)

    def decision_function(self, X):
        """The output layer's values before its activation (m, k): the logits
        softmax or sigmoid turn into probabilities; a linear output's values."""
        self._require_built("decision_function")
        return self._forward_eval(self.check_inputs(X, "decision_function"), logits=True)

    def predict(self, X):
        """Class labels (softmax: argmax; sigmoid: output > 0.5, shape (m,) for
        one output unit) or, for a linear output, the predicted values.  A
        model trained on text labels answers in them (``classes_``)."""
        self._require_built("predict")
        X = self.check_inputs(X, "predict")
        act = self.output_layer.activation
        if act == "softmax":
            index = self._forward_eval(X, logits=True).argmax(axis=1)
        elif act == "sigmoid":
            index = (self._forward_eval(X, logits=True) > 0).astype(np.int64)
            index = index[:, 0] if index.shape[1] == 1 else index
        else:
            return self._forward_eval(X, logits=False)
        return index if self.classes_ is None or index.ndim != 1 else self.classes_[index]

    def test_step(self, X, targets, loss_obj, sample_weight=None):
        """{"loss", "accuracy"} of checked X and targets, in inference mode
        (weighted means with ``sample_weight``)."""
        Z = self._forward_eval(X, logits=True)
        data_loss, _ = loss_obj(Z, targets, compute_grad=False, sample_weight=sample_weight)
        result = {"loss": data_loss}
        if loss_obj.classification:
            total = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
            result["accuracy"] = loss_obj.correct(Z, targets, sample_weight) / total
        return result

    def evaluate(self, X, y, loss=None, sample_weight=None):
        """{"loss": mean data loss, "accuracy": fraction correct (classification)}
        in inference mode, weighted means with ``sample_weight``.  The loss is
        the one of the last fit by default."""
        self._require_built("evaluate")
        X_arr = data.as_rows(X)
        X = self.check_inputs(X_arr, "evaluate")
        loss_obj = losses.get(loss if loss is not None else self.loss,
                              self.output_layer.activation, "evaluate")
        y, _ = labels.encode(y, X.shape[0], self.classes_, loss_obj.name, self.output_dim,
                             "evaluate", n_features=X_arr.shape[-1] if X_arr.ndim == 2 else None)
        targets = loss_obj.targets(y, X.shape[0], self.output_dim, self.dtype, "evaluate")
        weights = labels.example_weights(sample_weight, None, targets, self.classes_,
                                         loss_obj.name, self.dtype, "evaluate")
        return self.test_step(X, targets, loss_obj, sample_weight=weights)

    def diagnose(self, train_data, dev_data, bayes_error=0.0, tolerance=0.02):
        """Bias/variance diagnosis (fastnn.diagnose) from the classification
        errors (1 - accuracy) on ``train_data`` and ``dev_data``, (X, y) pairs."""
        from fastnn.diagnosis import diagnose
        errors = []
        for name, pair in (("train_data", train_data), ("dev_data", dev_data)):
            if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                raise ValueError(f"diagnose: {name} must be a pair (X, y)")
            result = self.evaluate(*pair)
            if "accuracy" not in result:
                raise ValueError("diagnose: needs a classification model (softmax or sigmoid "
                                 "output) to count errors")
            errors.append(1.0 - result["accuracy"])
        return diagnose(errors[0], errors[1], bayes_error=bayes_error, tolerance=tolerance)

    # ------------------------------------------------------------ weights
    def get_weights(self):
        """Copies of the trainable parameters in layer order: W, b of each
        Dense (no b when a BatchNorm follows it), gamma, beta of each BatchNorm."""
        self._require_built("get_weights")
        return [np.array(p, copy=True) for p in self.params.params()]

    def set_weights(self, weights):
        """Set the trainable parameters from a list like ``get_weights()``'s."""
        func = "set_weights"
        self._require_built(func)
        names = self.params.names
        if not isinstance(weights, (list, tuple)) or len(weights) != len(names):
            raise ValueError(f"{func}: expected a list of {len(names)} arrays ({names}); "
                             f"got {len(weights) if isinstance(weights, (list, tuple)) else weights!r}")
        checked = []
        for name, w in zip(names, weights):
            w = np.asarray(w)
            target = self.params[name]
            if w.shape != target.shape:
                hint = (" (the course's W is (n_out, n_in): use W.T)"
                        if w.ndim == 2 and w.shape == target.shape[::-1] else "")
                raise ValueError(f"{func}: {name} must have shape {target.shape}; got "
                                 f"{w.shape}{hint}")
            if w.dtype.kind not in "biuf":
                raise ValueError(f"{func}: {name} must hold finite numbers; got dtype {w.dtype}")
            with np.errstate(over="ignore"):
                w = w.astype(self.dtype)     # finite in float64 may not be in float32
            if not all_finite(w):
                raise ValueError(f"{func}: {name} must hold finite numbers (in the model's "
                                 f"{self.dtype.name})")
            checked.append(w)
        for name, w in zip(names, checked):
            self.params[name][...] = w

    def snapshot(self, training_state=False):
        """A copy of all weights and running statistics, for ``restore``
        (EarlyStopping keeps the best epoch's this way); with
        ``training_state`` also what training changes besides them
        (optimizer state, epoch and step counters, RNG states), so that
        restoring undoes an epoch as if it never ran."""
        state = {}
        for layer in self.layers:
            for name, arr in layer.state_arrays().items():
                state[f"{layer.name}.{name}"] = np.array(arr, copy=True)
        training = None
        if training_state:
            training = self.training_counters()
            training["optimizer"] = (None if self.optimizer is None
                                     else self.optimizer.state_dict())
        return np.array(self.params.flat(), copy=True), state, training

    def restore(self, snapshot):
        """Put back what ``snapshot()`` copied."""
        flat, state, training = snapshot
        self.params.flat()[...] = flat
        for layer in self.layers:
            for name, arr in layer.state_arrays().items():
                arr[...] = state[f"{layer.name}.{name}"]
        if training is not None:
            if training["optimizer"] is not None:
                self.optimizer.load_state_dict(training["optimizer"])
                self.optimizer.owner = self.params.uid     # still this model's state
            self.set_training_counters(training)

    def training_counters(self):
        """What training advances besides the arrays, JSON-ready: the epoch and
        step counters and the RNG states (saved in the model file's header)."""
        return {"epoch": self.epoch, "step": self.step,
                "shuffle_rng": self.shuffle_rng.bit_generator.state,
                "augment_rng": self.augment_rng.bit_generator.state}

    def set_training_counters(self, counters):
        self.epoch, self.step = counters["epoch"], counters["step"]
        self.shuffle_rng.bit_generator.state = counters["shuffle_rng"]
        self.augment_rng.bit_generator.state = counters["augment_rng"]

    # ------------------------------------------------------------ saving
    def get_config(self):
        return {"layers": [layer.get_config() for layer in self.layers],
                "input_dim": self.input_dim, "dtype": self.dtype.name, "seed": self.seed}

    def save(self, path):
        """Write the model (architecture, weights, running statistics,
        optimizer state, normalizer, RNG state) to ``path`` atomically.
        See fastnn.serialization for the format."""
        self._require_built("save")
        serialization.save_model(self, path)

    def summary(self):
        """A table of layers, output widths and parameter counts."""
        lines = [f"{'layer':<16}{'output':>8}{'params':>10}"]
        total = 0
        for layer in self.layers:
            n = sum(int(np.prod(s)) for _, s in layer.param_shapes()) if self.params else 0
            total += n
            # what the layer applies: a Dense before a BatchNorm hands its activation over
            act = getattr(layer, "eval_activation", "") if self.params else getattr(
                layer, "activation", "")
            lines.append(f"{layer.name + (' ' + act if act else ''):<16}"
                         f"{layer.output_dim if layer.output_dim else '?':>8}{n:>10}")
        lines.append(f"{'total':<16}{'':>8}{total:>10}")
        return "\n".join(lines)

    def __setstate__(self, state):
        # pickle and deepcopy copy each layer's W, b, ... as an array of its
        # own: make them views of the one parameter buffer again, or training
        # would step the buffer while predict reads the copies
        self.__dict__.update(state)
        if self.params is not None:
            for layer in self.layers:
                layer.rebind(self.params)
            # a copy is another model: its buffer gets an id of its own, and its
            # optimizer (copied with it) follows; the original's refuses it
            old, self.params.uid = self.params.uid, secrets.randbits(64)
            if self.optimizer is not None and self.optimizer.owner == old:
                self.optimizer.owner = self.params.uid

    def __repr__(self):
        return f"Sequential({self.layers!r}, input_dim={self.input_dim}, dtype={self.dtype.name!r})"


def load_model(path):
    """Read a model written by ``Sequential.save`` (no pickle is involved)."""
    return serialization.load_model(path, Sequential, layer_from_config)
