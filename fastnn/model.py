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
import copy
import math
import time
import warnings

import numpy as np

from fastnn import callbacks as callbacks_mod
from fastnn import losses, ops, serialization
from fastnn.layers import BatchNorm, Dense, Dropout, Layer, layer_from_config
from fastnn.optim import Adam, Optimizer
from fastnn.parameters import ParameterBuffer
from fastnn._validation import all_finite

__all__ = ["Sequential", "History", "load_model"]

_SHOWN = ("loss", "accuracy", "val_loss", "val_accuracy", "learning_rate")   # verbose=2
_EVAL_CHUNK = 8192          # rows per inference pass: bounds the memory of predict
_MASK64 = (1 << 64) - 1


class History:
    """What ``fit`` returns: ``history["loss"]`` and the like, one entry per
    epoch (``loss`` is the cost J = data loss + regularization; ``data_loss``
    and ``reg_loss`` are its parts; ``accuracy`` is the running training
    accuracy of the epoch; ``val_loss``/``val_accuracy`` with validation
    data; ``learning_rate`` and ``time`` in seconds), plus ``batch_loss``
    and ``grad_norms`` when asked for and ``stop_reason`` when training
    stopped early."""

    def __init__(self):
        self.history = {}
        self.epoch = []
        self.batch_loss = []
        self.grad_norms = {}
        self.stop_reason = None

    def _append(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            if key != "epoch":
                self.history.setdefault(key, []).append(value)

    def __getitem__(self, key):
        return self.history[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return self.history.keys()

    def __repr__(self):
        return f"History(epochs={len(self.epoch)}, keys={list(self.history)})"


def _check_int(value, name, low, func):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{func}: {name} must be an integer >= {low}; got {value!r}")
    return int(value)


def _check_nonnegative(value, name, func):
    if (isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating))
            or not math.isfinite(value) or value < 0):
        raise ValueError(f"{func}: {name} must be a finite number >= 0; got {value!r}")
    return float(value)


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

    def __init__(self, layers, input_dim=None, dtype="float32", seed=None):
        func = "Sequential"
        if not isinstance(layers, (list, tuple)) or not layers:
            raise ValueError(f"{func}: layers must be a non-empty list of layers; got {layers!r}")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"{func}: layers[{i}] must be a fastnn layer (Dense, BatchNorm, "
                                f"Dropout); got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError(f"{func}: the same layer object appears twice; make one per position")
        for i, layer in enumerate(layers):
            if layer._in_model:
                raise ValueError(f"{func}: layers[{i}] ({layer.name}) already belongs to another "
                                 f"model; its weights live in that model, so layers cannot be "
                                 f"shared: make a new one (e.g. fn.{type(layer).__name__}(...))")
        if not isinstance(layers[-1], Dense):
            raise ValueError(f"{func}: the last layer must be a Dense (the output layer); "
                             f"got {type(layers[-1]).__name__}")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"{func}: dtype must be 'float32' or 'float64'; got {dtype!r}")
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % (1 << 63))
        self.seed = _check_int(seed, "seed", 0, func)
        counts = {}
        names = []
        for layer in layers:
            name = layer.name
            if name is None:
                counts[layer.kind] = counts.get(layer.kind, 0) + 1
                name = f"{layer.kind}_{counts[layer.kind]}"
            if name in names:
                raise ValueError(f"{func}: two layers are named {name!r}")
            names.append(name)
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
        self._shuffle_rng = self._augment_rng = None
        self._workspaces = {}
        self._calls = 0              # training-mode __call__s: fresh dropout masks each
        if input_dim is not None:
            try:
                self.build(input_dim)
            except BaseException:
                for layer, name in zip(self.layers, given):   # the layers stay reusable
                    layer.name = name
                raise
        for layer in self.layers:
            layer._in_model = True

    # ------------------------------------------------------------ building
    def build(self, input_dim):
        """Fix the input width, wire BatchNorm into the Dense before it, and
        create and initialize all parameters in one flat buffer."""
        func = "Sequential.build"
        input_dim = _check_int(input_dim, "input_dim", 1, func)
        if self.params is not None:
            if input_dim != self.input_dim:
                raise ValueError(f"{func}: the model is built for {self.input_dim} input features; "
                                 f"got {input_dim}")
            return
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
        shapes = [shape for layer in self.layers for _, shape in layer.param_shapes()]
        buffer = ParameterBuffer(ParameterBuffer.size_of(shapes), self.dtype)
        init_seq, shuffle_seq, dropout_seq, augment_seq = np.random.SeedSequence(self.seed).spawn(4)
        init_rng = np.random.default_rng(init_seq)
        for layer in self.layers:
            layer.bind(buffer, init_rng)
        self._shuffle_rng = np.random.default_rng(shuffle_seq)
        self._augment_rng = np.random.default_rng(augment_seq)
        self._dropout_base = int(dropout_seq.generate_state(1, np.uint64)[0])
        self.input_dim = input_dim
        self.params = buffer

    def _require_built(self, func):
        if self.params is None:
            raise ValueError(f"{func}: the model is not built yet: give input_dim or call fit first")

    @property
    def output_layer(self):
        return self.layers[-1]

    @property
    def output_dim(self):
        return self.output_layer.units

    def _dense_weights(self):
        return [layer.W for layer in self.layers if isinstance(layer, Dense)]

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
    def _check_X(self, X, func):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{func}: X must be numeric; got dtype {X.dtype}")
        if X.ndim > 2:
            X = X.reshape(X.shape[0], -1)      # images (m, H, W[, C]): one row per image
        if X.ndim != 2:
            raise ValueError(f"{func}: X must be 2-D (m examples, n features: rows are examples; "
                             f"transpose the course's (n_x, m) arrays) or images (m, H, W[, C]); "
                             f"got shape {X.shape}")
        if X.shape[0] == 0:
            raise ValueError(f"{func}: X is empty (shape {X.shape})")
        if self.input_dim is not None and X.shape[1] != self.input_dim:
            raise ValueError(f"{func}: X must have {self.input_dim} features (columns); "
                             f"got {X.shape[1]}")
        X = np.ascontiguousarray(X, dtype=self.dtype)
        if not all_finite(X):
            raise ValueError(f"{func}: X contains NaN or Inf")
        if self.normalizer is not None:
            X = np.ascontiguousarray(self.normalizer.transform(X), dtype=self.dtype)
        return X

    # ------------------------------------------------------------ training
    def fit(self, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=64, l2=0.0, l1=0.0,
            validation_data=None, callbacks=None, verbose=1, shuffle=True,
            record_batch_loss=False, record_grad_norms=False, augment=None, image_shape=None):
        """Train on (X, y) with mini-batch gradient descent; return a History.

        loss : "categorical_crossentropy" (softmax output; y integer labels
            or one-hot), "binary_crossentropy" (sigmoid output; y in {0, 1}),
            "mse" (linear output); None picks it from the output activation.
        optimizer : a fastnn optimizer; None keeps the model's current one
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
        augment : a fastnn.augment transform applied to every training
            mini-batch (never to validation data); X must then be images
            (m, H, W[, C]) or rows with ``image_shape=(H, W[, C])``.
        """
        func = "fit"
        # Every check comes first: a call that raises leaves the model as it was.
        epochs = _check_int(epochs, "epochs", 1, func)
        if batch_size is not None:
            batch_size = _check_int(batch_size, "batch_size", 1, func)
        l2 = _check_nonnegative(l2, "l2", func)
        l1 = _check_nonnegative(l1, "l1", func)
        if verbose not in (0, 1, 2):
            raise ValueError(f"{func}: verbose must be 0, 1 or 2; got {verbose!r}")
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"{func}: optimizer must be a fastnn optimizer (SGD, Momentum, "
                            f"RMSprop, Adam); got {type(optimizer).__name__}")
        if isinstance(callbacks, callbacks_mod.Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, callbacks_mod.Callback):
                raise TypeError(f"{func}: callbacks must be fastnn Callback objects; "
                                f"got {type(cb).__name__}")
        X_arr = np.asarray(X)
        loss_obj = losses.get(loss, self.output_layer.activation, func)
        X = self._check_X(X_arr, func)       # before the first fit builds: any width
        input_dim = self.input_dim if self.params is not None else X.shape[1]
        if augment is not None:
            if not callable(augment):
                raise TypeError(f"{func}: augment must be a fastnn.augment transform (callable); "
                                f"got {type(augment).__name__}")
            if image_shape is None:
                if X_arr.ndim < 3:
                    raise ValueError(f"{func}: augment needs images: X of shape (m, H, W[, C]) or "
                                     f"image_shape=(H, W[, C]) for rows of flattened images")
                image_shape = X_arr.shape[1:]
            image_shape = tuple(int(d) for d in image_shape)
            if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != input_dim:
                raise ValueError(f"{func}: image_shape {image_shape} does not hold the "
                                 f"{input_dim} input features")
        targets = loss_obj.targets(y, X.shape[0], self.output_dim, self.dtype, func)
        val = None
        if validation_data is not None:
            vfunc = func + " (validation_data)"
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise ValueError(f"{func}: validation_data must be a pair (X_dev, y_dev)")
            X_dev = self._check_X(validation_data[0], vfunc)
            if X_dev.shape[1] != input_dim:
                raise ValueError(f"{vfunc}: X must have {input_dim} features (columns), as the "
                                 f"training X; got {X_dev.shape[1]}")
            val = (X_dev, loss_obj.targets(validation_data[1], X_dev.shape[0], self.output_dim,
                                           self.dtype, vfunc))
        bounds = self._batches(X.shape[0], batch_size)
        # the optimizer this fit steps: its state must be this model's, or
        # loaded arrays of this model's layout (checked on a probe build
        # when the model is not built yet)
        opt = optimizer if optimizer is not None else self.optimizer
        if opt is not None:
            params = self.params
            if params is None and opt.owner is None and any(
                    v is not None for v in opt.state.values()):
                probe = copy.deepcopy(self)
                probe.build(input_dim)
                params = probe.params
            opt.check_buffer(params, func)
        logged = {"loss", "data_loss", "reg_loss", "learning_rate", "time"}
        if loss_obj.classification:
            logged.add("accuracy")
        if val is not None:
            logged |= {"val_" + key for key in ("loss", "accuracy") if key in logged}
        for cb in callbacks:
            cb._check_fit(logged, func)

        # The checks passed: from here on the model changes.
        if self.params is None:
            self.build(input_dim)
        if optimizer is not None:
            self.optimizer = optimizer
        elif self.optimizer is None:
            self.optimizer = Adam(learning_rate=1e-3)
        if not any(isinstance(cb, callbacks_mod.TerminateOnNaN) for cb in callbacks):
            callbacks.append(callbacks_mod.TerminateOnNaN())

        self._prepare_training(l2)
        self.loss = loss_obj.name
        history = History()
        for cb in callbacks:
            cb.set_model(self)
        self.stop_training = False
        self.train()
        # on_train_end's logs say how the run ended: "diverged" (rolled back
        # to the start of an epoch) or "interrupted" (an exception)
        end_logs = {"diverged": False, "interrupted": True}
        try:
            for cb in callbacks:
                cb.on_train_begin({})
            augmenter = None if augment is None else (augment, image_shape)
            end_logs["diverged"] = self._run_epochs(
                X, targets, val, loss_obj, epochs, bounds, l2, l1, callbacks, history, verbose,
                shuffle, record_batch_loss, record_grad_norms, augmenter)
            end_logs["interrupted"] = False
        finally:
            self.eval()
            for cb in callbacks:
                cb.on_train_end(end_logs)
        for cb in callbacks:
            if isinstance(cb, callbacks_mod.TerminateOnNaN) and cb.message:
                history.stop_reason = cb.message
            elif isinstance(cb, callbacks_mod.EarlyStopping) and cb.stopped_epoch is not None:
                history.stop_reason = (f"early stopping at epoch {cb.stopped_epoch}: "
                                       f"{cb.monitor} did not improve for {cb.patience + 1} epochs"
                                       f" (best {cb.best:.6g} at epoch {cb.best_epoch})")
        return history

    def _prepare_training(self, l2):
        # the loss kernels take the output layer's logits; L2 is folded into dW
        self.output_layer.train_activation = "linear"
        for layer in self.layers:
            if isinstance(layer, Dense):
                layer.l2 = l2

    def _batches(self, m, batch_size):
        size = m if batch_size is None else min(batch_size, m)
        bounds = [(lo, min(lo + size, m)) for lo in range(0, m, size)]
        has_bn = any(isinstance(layer, BatchNorm) for layer in self.layers)
        if has_bn and bounds[0][1] - bounds[0][0] == 1:
            raise ValueError("fit: BatchNorm needs mini-batches of at least 2 rows; "
                             f"got batch_size={batch_size} with {m} examples")
        if has_bn and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds.pop()      # one row has no batch variance
            warnings.warn(f"fit: {m} rows in mini-batches of {size} leave a last batch of one "
                          f"row, which has no batch variance for BatchNorm; that row (a different "
                          f"one each epoch when shuffling) is left out of every epoch", UserWarning,
                          stacklevel=3)
        return bounds

    def _run_epochs(self, X, targets, val, loss_obj, epochs, bounds, l2, l1, callbacks,
                    history, verbose, shuffle, record_batch_loss, record_grad_norms, augmenter):
        """The epochs of one fit; True when training diverged (and was rolled back)."""
        m = X.shape[0]
        guard = next(cb for cb in callbacks if isinstance(cb, callbacks_mod.TerminateOnNaN))
        bar = None
        if verbose == 1:
            from tqdm import tqdm
            bar = tqdm(total=epochs, unit="epoch", desc="fit", leave=True)
        try:
            for _ in range(epochs):
                epoch = self.epoch
                logs = {"epoch": epoch}
                for cb in callbacks:
                    cb.on_epoch_begin(epoch, logs)
                start = time.perf_counter()
                order = self._shuffle_rng.permutation(m) if shuffle else None
                sums = np.zeros(3)        # data loss, reg loss, correct (weighted by rows)
                dense = [layer for layer in self.layers if isinstance(layer, Dense)]
                norm_sums = np.zeros(len(dense))
                rows = 0
                diverged = False
                batches_before = len(history.batch_loss)
                for batch, (lo, hi) in enumerate(bounds):
                    Xb, yb = self._gather(X, targets, order, lo, hi)
                    if augmenter is not None:
                        Xb = self._augment(Xb, *augmenter)
                    data_loss, reg_loss, correct = self._train_step(Xb, yb, loss_obj, l2, l1)
                    cost = data_loss + reg_loss
                    if record_batch_loss:
                        history.batch_loss.append(cost)
                    batch_logs = {"loss": cost, "epoch": epoch}
                    for cb in callbacks:
                        cb.on_batch_end(batch, batch_logs)
                    if not math.isfinite(cost):
                        diverged = True       # TerminateOnNaN has rolled the epoch back
                        break
                    if record_grad_norms:
                        norm_sums += [np.linalg.norm(layer.dW) for layer in dense]
                    k = hi - lo
                    sums += (data_loss * k, reg_loss * k, correct)
                    rows += k
                    if self.stop_training:
                        break
                if not diverged:
                    bad = self._non_finite_state()
                    if bad:
                        # a step overflowed what no later forward pass of the
                        # epoch saw (its last step, running statistics,
                        # optimizer state): roll back as for a non-finite cost
                        guard.diverged(epoch, batch, f"{bad} overflowed")
                        diverged = True
                if diverged:
                    del history.batch_loss[batches_before:]
                    return True       # a rolled-back epoch is not counted
                if not rows:
                    break
                logs["loss"] = (sums[0] + sums[1]) / rows
                logs["data_loss"] = sums[0] / rows
                logs["reg_loss"] = sums[1] / rows
                if loss_obj.classification:
                    logs["accuracy"] = sums[2] / rows
                if val is not None:
                    for key, value in self._evaluate(val[0], val[1], loss_obj).items():
                        logs["val_" + key] = value
                logs["learning_rate"] = self.optimizer.learning_rate
                logs["time"] = time.perf_counter() - start
                self.epoch += 1
                self.optimizer.next_epoch()
                for cb in callbacks:
                    cb.on_epoch_end(epoch, logs)
                history._append(epoch, logs)
                if record_grad_norms:
                    for layer, total in zip(dense, norm_sums):
                        history.grad_norms.setdefault(layer.name, []).append(
                            total / (batch + 1))
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()
                                     if k in ("loss", "accuracy", "val_loss", "val_accuracy")})
                elif verbose == 2:
                    print(f"epoch {epoch + 1}: " + ", ".join(
                        f"{k}={logs[k]:.4g}" for k in _SHOWN if k in logs))
                if self.stop_training:
                    break
        finally:
            if bar is not None:
                bar.close()
        return False

    def _gather(self, X, targets, order, lo, hi):
        if order is None:
            return X[lo:hi], targets[lo:hi]
        k = hi - lo
        # labels (k,) int64 or one-hot (k, n) rows: one fit may use either
        key = ("gather", k, targets.shape[1:], targets.dtype)
        ws = self._workspaces.get(key)
        if ws is None:
            ws = self._workspaces[key] = (
                np.empty((k, X.shape[1]), X.dtype), np.empty((k,) + targets.shape[1:], targets.dtype))
        idx = order[lo:hi]
        ops.gather_rows(X, idx, out=ws[0])
        ops.gather_rows(targets, idx, out=ws[1])
        return ws

    def _augment(self, Xb, augment, image_shape):
        k = Xb.shape[0]
        images = augment(Xb.reshape((k,) + image_shape), self._augment_rng)
        buf = self._workspaces.get(("augment", k))
        if buf is None:
            buf = self._workspaces[("augment", k)] = np.empty_like(Xb)
        buf[...] = np.reshape(images, (k, -1))     # never into Xb: it may be a view of X
        return buf

    def _seed_dropout(self, count, stream=0):
        """Give every Dropout layer a distinct 64-bit seed for this ``count``
        (training step, or training-mode call in stream 1), from the model seed."""
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                layer.seed = (self._dropout_base + count * 0x9E3779B97F4A7C15
                              + i * 0xBF58476D1CE4E5B9 + stream * 0x94D049BB133111EB) & _MASK64

    def _train_step(self, Xb, yb, loss_obj, l2, l1):
        """One forward, backward and update on a mini-batch; returns
        (data loss, regularization loss, number correct).  A non-finite cost
        returns before the update.  (Gradients that overflow while the cost
        stays finite make the weights non-finite: the next cost, or the check
        at the end of the epoch, sees it, and the epoch is rolled back.)"""
        self.step += 1
        self._seed_dropout(self.step)
        data_loss, reg_loss, correct = self._forward_backward(Xb, yb, loss_obj, l2, l1)
        if math.isfinite(data_loss + reg_loss):
            self.optimizer.step(self.params)
        return data_loss, reg_loss, correct

    def _non_finite_state(self):
        """What of the state training writes holds NaN or Inf ("the weights",
        ...), or None.  Checked once per epoch."""
        if not all_finite(self.params.flat()):
            return "the weights"
        for layer in self.layers:
            for name, arr in layer.state_arrays().items():
                if not all_finite(arr):
                    return f"{layer.name}.{name}"
        for key, arrays in self.optimizer.state.items():
            if arrays is not None and not all(all_finite(a) for a in arrays):
                return f"the optimizer's {key}"
        return None

    def _forward_backward(self, Xb, yb, loss_obj, l2, l1, backward=True):
        """Training-mode forward pass and, when the cost is finite and
        ``backward``, the gradients of the cost into ``self.params``' gradient
        buffer.  Returns (data loss, regularization loss, number correct)."""
        A = Xb
        for layer in self.layers:
            A = layer.forward(A, True)
        m = Xb.shape[0]
        dZ = self._workspaces.get(("dZ", m))
        if dZ is None:
            dZ = self._workspaces[("dZ", m)] = np.empty_like(A)
        correct = loss_obj.correct(A, yb) if loss_obj.classification else 0
        data_loss, dZ = loss_obj(A, yb, out=dZ)
        reg_loss = losses.regularization(self._dense_weights(), m, l2, l1) if (l2 or l1) else 0.0
        if not backward or not math.isfinite(data_loss + reg_loss):
            return data_loss, reg_loss, correct
        dA = dZ
        for i in range(len(self.layers) - 1, -1, -1):
            dA = self.layers[i].backward(dA, i > 0)
        if l1:
            for layer in self.layers:
                if isinstance(layer, Dense):
                    layer.dW += (l1 / m) * np.sign(layer.W)
        return data_loss, reg_loss, correct

    # ------------------------------------------------------------ inference
    def _forward_eval(self, X, logits):
        """Inference forward in chunks; the output layer's logits or activations."""
        out = np.empty((X.shape[0], self.output_dim), self.dtype)
        last = len(self.layers) - 1
        for lo in range(0, X.shape[0], _EVAL_CHUNK):
            A = X[lo:lo + _EVAL_CHUNK]
            for i, layer in enumerate(self.layers):
                A = layer.logits(A) if (i == last and logits) else layer.forward(A, False)
            out[lo:lo + A.shape[0]] = A
        return out

    def __call__(self, X):
        """The output activations of X in the current mode (see train/eval)."""
        self._require_built("Sequential.__call__")
        X = self._check_X(X, "Sequential.__call__")
        if not self.training:
            return self._forward_eval(X, logits=False)
        # a new mask every call (Monte-Carlo dropout), from a stream of seeds
        # apart from the training steps'
        self._calls += 1
        self._seed_dropout(self._calls, stream=1)
        A = X
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
        return self._forward_eval(self._check_X(X, "predict_proba"), logits=False)

    def predict(self, X):
        """Class labels (softmax: argmax; sigmoid: output > 0.5, shape (m,) for
        one output unit) or, for a linear output, the predicted values."""
        self._require_built("predict")
        X = self._check_X(X, "predict")
        act = self.output_layer.activation
        if act == "softmax":
            return self._forward_eval(X, logits=True).argmax(axis=1)
        if act == "sigmoid":
            labels = (self._forward_eval(X, logits=True) > 0).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return self._forward_eval(X, logits=False)

    def _evaluate(self, X, targets, loss_obj):
        Z = self._forward_eval(X, logits=True)
        data_loss, _ = loss_obj(Z, targets, compute_grad=False)
        result = {"loss": data_loss}
        if loss_obj.classification:
            result["accuracy"] = loss_obj.correct(Z, targets) / X.shape[0]
        return result

    def evaluate(self, X, y, loss=None):
        """{"loss": mean data loss, "accuracy": fraction correct (classification)}
        in inference mode.  The loss is the one of the last fit by default."""
        self._require_built("evaluate")
        X = self._check_X(X, "evaluate")
        loss_obj = losses.get(loss if loss is not None else self.loss,
                              self.output_layer.activation, "evaluate")
        targets = loss_obj.targets(y, X.shape[0], self.output_dim, self.dtype, "evaluate")
        return self._evaluate(X, targets, loss_obj)

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
                raise ValueError(f"{func}: {name} must have shape {target.shape}; got {w.shape}")
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

    def _snapshot(self, training_state=False):
        """All weights and running statistics (for callbacks that restore);
        with ``training_state`` also what training changes besides them
        (optimizer state, epoch and step counters, RNG states), so that
        restoring undoes an epoch as if it never ran."""
        state = {}
        for layer in self.layers:
            for name, arr in layer.state_arrays().items():
                state[f"{layer.name}.{name}"] = np.array(arr, copy=True)
        training = None
        if training_state:
            training = self._training_counters()
            training["optimizer"] = (None if self.optimizer is None
                                     else self.optimizer.state_dict())
        return np.array(self.params.flat(), copy=True), state, training

    def _restore(self, snapshot):
        flat, state, training = snapshot
        self.params.flat()[...] = flat
        for layer in self.layers:
            for name, arr in layer.state_arrays().items():
                arr[...] = state[f"{layer.name}.{name}"]
        if training is not None:
            if training["optimizer"] is not None:
                self.optimizer.load_state_dict(training["optimizer"])
                self.optimizer.owner = self.params.uid     # still this model's state
            self._set_training_counters(training)

    def _training_counters(self):
        """What training advances besides the arrays, JSON-ready: the epoch and
        step counters and the RNG states (saved in the model file's header)."""
        return {"epoch": self.epoch, "step": self.step,
                "shuffle_rng": self._shuffle_rng.bit_generator.state,
                "augment_rng": self._augment_rng.bit_generator.state}

    def _set_training_counters(self, counters):
        self.epoch, self.step = counters["epoch"], counters["step"]
        self._shuffle_rng.bit_generator.state = counters["shuffle_rng"]
        self._augment_rng.bit_generator.state = counters["augment_rng"]

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
            act = getattr(layer, "activation", "")
            lines.append(f"{layer.name + (' ' + act if act else ''):<16}"
                         f"{layer.output_dim if layer.output_dim else '?':>8}{n:>10}")
        lines.append(f"{'total':<16}{'':>8}{total:>10}")
        return "\n".join(lines)

    def __repr__(self):
        return f"Sequential({self.layers!r}, input_dim={self.input_dim}, dtype={self.dtype.name!r})"


def load_model(path):
    """Read a model written by ``Sequential.save`` (no pickle is involved)."""
    return serialization.load_model(path, Sequential, layer_from_config)
