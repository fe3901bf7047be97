"""The training loop: one ``Fit`` object per call of ``Sequential.fit``.

Design:
- ``Fit(model, X, y, ...)`` checks every argument before anything changes, so
  a call that raises leaves the model as it was; ``run()`` then trains and
  returns the History.  ``Sequential.fit`` only hands over.
- The loop talks to the model through its public methods (``train_step``,
  ``test_step``, ``snapshot``/``restore``, the RNG streams) and to callbacks
  through one ``CallbackList``; the History and the progress display are
  callbacks like a user's own.
- Divergence is the loop's business, not a callback's: a non-finite cost (or
  non-finite weights, running statistics or optimizer state at the end of
  an epoch) rolls the model back to the start of that epoch, stops, and says
  why in ``history.stop_reason``.  The epoch is not counted.
- Mini-batches are gathered into workspaces made once per fit, so a step
  allocates nothing.
"""
import copy
import math
import time
import warnings

import numpy as np

from fastnn import callbacks as callbacks_mod
from fastnn import checks, data, labels, losses, ops
from fastnn.layers import BatchNorm, Dense
from fastnn import optim
from fastnn.optim import Adam
from fastnn._validation import all_finite

__all__ = ["Fit", "train_step", "forward_backward"]


class Fit:
    """One call of ``model.fit``: its data, batches, workspaces and callbacks.
    The arguments are those of ``Sequential.fit``."""

    def __init__(self, model, X, y, *, loss=None, optimizer=None, epochs=1, batch_size=64,
                 l2=0.0, l1=0.0, validation_data=None, callbacks=None, verbose=1,
                 shuffle=True, record_batch_loss=False, record_grad_norms=False, augment=None,
                 image_shape=None, func="fit", classes=None, sample_weight=None,
                 class_weight=None):
        # func "partial_fit": one pass over a chunk, ``classes`` its labels'
        # universe (required on the first call of a classifier)
        self.func = func
        self.model = model
        self.epochs = checks.check_int(epochs, "epochs", func, 1)
        if batch_size is not None:
            batch_size = checks.check_int(batch_size, "batch_size", func, 1)
        self.l2 = checks.check_number(l2, "l2", func, 0)
        self.l1 = checks.check_number(l1, "l1", func, 0)
        if verbose not in (0, 1, 2):
            raise ValueError(f"{func}: verbose must be 0, 1 or 2; got {verbose!r}")
        # a name ("adam") is a new optimizer with its defaults, as in Keras
        self.optimizer = None if optimizer is None else optim.get(optimizer, func)
        if isinstance(callbacks, callbacks_mod.Callback):
            callbacks = [callbacks]
        callbacks = list(callbacks or [])
        for cb in callbacks:
            if not isinstance(cb, callbacks_mod.Callback):
                raise TypeError(f"{func}: callbacks must be fastnn Callback objects; "
                                f"got {type(cb).__name__}")
        X_arr = data.as_rows(X)             # a map stays a map: never read whole here
        self.loss = losses.get(loss, model.output_layer.activation, func)
        self.X = model.check_inputs(X_arr, func)    # before the first fit builds: any width
        self.input_dim = model.input_dim if model.params is not None else self.X.shape[1]
        if model.normalizer is None:
            _warn_if_unnormalized(self.X, func)
        self.augment = self._check_augment(augment, image_shape, X_arr, func)
        known = model.classes_
        if func == "partial_fit":
            known = labels.declared_classes(classes, model, self.loss, func)
        y, self.classes = labels.encode(y, self.X.shape[0], known, self.loss.name,
                                        model.output_dim, func,
                                        X_arr.shape[-1] if X_arr.ndim == 2 else None)
        self.targets = self.loss.targets(y, self.X.shape[0], model.output_dim, model.dtype, func)
        self.weights = labels.example_weights(sample_weight, class_weight, self.targets,
                                              self.classes, self.loss.name, model.dtype, func)
        self.val = self._check_validation(validation_data, func)
        self.bounds = self._batches(self.X.shape[0], batch_size)
        self._check_optimizer(func)
        logged = {"loss", "data_loss", "reg_loss", "learning_rate", "time"}
        if self.loss.classification:
            logged.add("accuracy")
        if self.val is not None:
            logged |= {"val_" + key for key in ("loss", "accuracy") if key in logged}
        for cb in callbacks:
            cb.check_fit(logged, func)
        if shuffle not in (True, False, "blocks"):
            raise ValueError(f"{func}: shuffle must be True, False or \"blocks\" (shuffled "
                             f"blocks of rows, for memory-mapped X on slow storage); "
                             f"got {shuffle!r}")
        self.shuffle = shuffle
        self.record_batch_loss = record_batch_loss
        self.record_grad_norms = record_grad_norms
        self.verbose = verbose
        self.history = callbacks_mod.History()
        self.callbacks = callbacks_mod.CallbackList(
            callbacks, history=self.history,
            progress=callbacks_mod.ProgressDisplay(verbose, self.epochs) if verbose else None)
        self._workspaces = {}

    # ------------------------------------------------------------ checks
    def _check_augment(self, augment, image_shape, X_arr, func):
        if augment is None:
            return None
        if not callable(augment):
            raise TypeError(f"{func}: augment must be a fastnn.augment transform (callable); "
                            f"got {type(augment).__name__}")
        if image_shape is None:
            if X_arr.ndim < 3:
                raise ValueError(f"{func}: augment needs images: X of shape (m, H, W[, C]) or "
                                 f"image_shape=(H, W[, C]) for rows of flattened images")
            image_shape = X_arr.shape[1:]
        image_shape = tuple(int(d) for d in image_shape)
        if len(image_shape) not in (2, 3) or int(np.prod(image_shape)) != self.input_dim:
            raise ValueError(f"{func}: image_shape {image_shape} does not hold the "
                             f"{self.input_dim} input features")
        return augment, image_shape

    def _check_validation(self, validation_data, func):
        if validation_data is None:
            return None
        vfunc = func + " (validation_data)"
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError(f"{func}: validation_data must be (X_dev, y_dev) or (X_dev, y_dev, "
                             f"sample_weight_dev)")
        X_dev = self.model.check_inputs(validation_data[0], vfunc)
        if X_dev.shape[1] != self.input_dim:
            raise ValueError(f"{vfunc}: X must have {self.input_dim} features (columns), as the "
                             f"training X; got {X_dev.shape[1]}")
        y_dev, _ = labels.encode(validation_data[1], X_dev.shape[0], self.classes, self.loss.name,
                                 self.model.output_dim, vfunc)
        t_dev = self.loss.targets(y_dev, X_dev.shape[0], self.model.output_dim,
                                  self.model.dtype, vfunc)
        w_dev = None if len(validation_data) == 2 else labels.example_weights(
            validation_data[2], None, t_dev, self.classes, self.loss.name, self.model.dtype, vfunc)
        return X_dev, t_dev, w_dev

    def _batches(self, m, batch_size):
        size = m if batch_size is None else min(batch_size, m)
        bounds = [(lo, min(lo + size, m)) for lo in range(0, m, size)]
        has_bn = any(isinstance(layer, BatchNorm) for layer in self.model.layers)
        if has_bn and bounds[0][1] - bounds[0][0] == 1:
            raise ValueError(f"{self.func}: BatchNorm needs mini-batches of at least 2 rows; "
                             f"got batch_size={batch_size} with {m} examples")
        if has_bn and len(bounds) > 1 and bounds[-1][1] - bounds[-1][0] == 1:
            bounds.pop()      # one row has no batch variance
            warnings.warn(f"{self.func}: {m} rows in mini-batches of {size} leave a last batch of one "
                          f"row, which has no batch variance for BatchNorm; that row (a different "
                          f"one each epoch when shuffling) is left out of every epoch", UserWarning,
                          stacklevel=4)
        return bounds

    def _check_optimizer(self, func):
        # the optimizer this fit steps: its state must be this model's, or
        # loaded arrays of this model's layout (checked on a probe build
        # when the model is not built yet)
        model = self.model
        opt = self.optimizer if self.optimizer is not None else model.optimizer
        if opt is None:
            return
        params = model.params
        if params is None and opt.owner is None and any(v is not None for v in opt.state.values()):
            probe = copy.deepcopy(model)
            probe.build(self.input_dim)
            params = probe.params
        opt.check_buffer(params, func)

    # ------------------------------------------------------------ training
    def run(self):
        """Train; return the History.  From here on the model changes."""
        model = self.model
        if model.params is None:
            model.build(self.input_dim)
        if self.optimizer is not None:
            model.optimizer = self.optimizer
        elif model.optimizer is None:
            model.optimizer = Adam(learning_rate=1e-3)
        model.loss = self.loss.name
        model.classes_ = self.classes
        model.history = self.history
        self.callbacks.set_model(model)
        self.callbacks.set_params({"verbose": self.verbose, "epochs": self.epochs,
                                   "steps": len(self.bounds)})
        model.stop_training = False
        model.train()
        # on_train_end's logs say how the run ended: "diverged" (rolled back
        # to the start of an epoch) or "interrupted" (an exception)
        end_logs = {"diverged": False, "interrupted": True}
        try:
            self.callbacks.on_train_begin({})
            end_logs["diverged"] = self._epochs()
            end_logs["interrupted"] = False
        finally:
            model.eval()
            self.callbacks.on_train_end(end_logs)
        return self.history

    def _epochs(self):
        """The epochs of this fit; True when training diverged (and was rolled back)."""
        model, history = self.model, self.history
        m = self.X.shape[0]
        dense = [layer for layer in model.layers if isinstance(layer, Dense)]
        for _ in range(self.epochs):
            epoch = model.epoch
            logs = {"epoch": epoch}
            self.callbacks.on_epoch_begin(epoch, logs)
            # after the callbacks' epoch begin: a learning rate they set is kept
            rollback = model.snapshot(training_state=True)
            start = time.perf_counter()
            if self.shuffle == "blocks":
                order = data.block_order(m, model.shuffle_rng)
            else:
                order = model.shuffle_rng.permutation(m) if self.shuffle else None
            weights, masses = self._epoch_weights(order)
            sums = np.zeros(3)        # data loss, reg loss, correct (weighted by rows)
            norm_sums = np.zeros(len(dense))
            rows = 0
            diverged = None
            batches_before = len(history.batch_loss)
            for batch, (lo, hi) in enumerate(self.bounds):
                Xb, yb = self._gather(order, lo, hi)
                wb = None if weights is None else weights[lo:hi]
                k = hi - lo if wb is None else masses[batch]
                if k == 0:
                    continue              # a batch of weight 0 counts for nothing: no step
                if self.augment is not None:
                    Xb = self._augmented(Xb)
                data_loss, reg_loss, correct = train_step(model, Xb, yb, self.loss, self.l2,
                                                          self.l1, self._dZ(Xb.shape[0]), wb,
                                                          mass=k)
                cost = data_loss + reg_loss
                if self.record_batch_loss:
                    history.batch_loss.append(cost)
                self.callbacks.on_batch_end(batch, {"loss": cost, "epoch": epoch})
                if not math.isfinite(cost):
                    diverged = f"the cost became {cost}"
                    break
                if self.record_grad_norms:
                    norm_sums += [np.linalg.norm(layer.dW) for layer in dense]
                sums += (data_loss * k, reg_loss * k, correct)
                rows += k
                if model.stop_training:
                    break
            if diverged is None:
                # a step overflowed what no later forward pass of the epoch saw
                # (its last step, running statistics, optimizer state)
                bad = _non_finite_state(model)
                if bad:
                    diverged = f"{bad} overflowed"
            if diverged is not None:
                self._roll_back(rollback, epoch, batch, diverged)
                del history.batch_loss[batches_before:]
                return True       # a rolled-back epoch is not counted
            if not rows:
                break
            logs["loss"] = (sums[0] + sums[1]) / rows
            logs["data_loss"] = sums[0] / rows
            logs["reg_loss"] = sums[1] / rows
            if self.loss.classification:
                logs["accuracy"] = sums[2] / rows
            if self.val is not None:
                for key, value in model.test_step(*self.val[:2], self.loss,
                                                  sample_weight=self.val[2]).items():
                    logs["val_" + key] = value
            logs["learning_rate"] = model.optimizer.learning_rate
            logs["time"] = time.perf_counter() - start
            model.epoch += 1
            model.optimizer.next_epoch()
            if self.record_grad_norms:
                for layer, total in zip(dense, norm_sums):
                    history.grad_norms.setdefault(layer.name, []).append(total / (batch + 1))
            self.callbacks.on_epoch_end(epoch, logs)
            if model.stop_training:
                break
        return False

    def _roll_back(self, snapshot, epoch, batch, what):
        """Put the model back as it was at the start of ``epoch`` and stop."""
        self.model.restore(snapshot)
        self.model.stop_training = True
        self.history.stop_reason = (
            f"training diverged: {what} at epoch {epoch + 1}, batch {batch + 1}; stopped and "
            f"restored the model (weights, optimizer state, counters) to the start of epoch "
            f"{epoch + 1}.  "
            f"Try a smaller learning rate.")
        warnings.warn(self.history.stop_reason, RuntimeWarning, stacklevel=5)

    def _dZ(self, k):
        dZ = self._workspaces.get(("dZ", k))
        if dZ is None:
            dZ = self._workspaces[("dZ", k)] = np.empty((k, self.model.output_dim), self.model.dtype)
        return dZ

    def _epoch_weights(self, order):
        """(the weights in the epoch's order, each mini-batch's weight sum),
        or (None, None): gathered and summed once an epoch, not per step."""
        if self.weights is None:
            return None, None
        weights = self.weights
        if order is not None:
            weights = self._workspaces.get("weights")
            if weights is None:
                weights = self._workspaces["weights"] = np.empty_like(self.weights)
            ops.gather_rows(self.weights, order, out=weights)
        starts = [lo for lo, _ in self.bounds]
        masses = np.add.reduceat(weights[:self.bounds[-1][1]], starts, dtype=np.float64)
        return weights, masses.tolist()

    def _gather(self, order, lo, hi):
        X, targets = self.X, self.targets
        if order is None:
            return X[lo:hi], targets[lo:hi]
        k = hi - lo
        ws = self._workspaces.get(("gather", k))
        if ws is None:
            ws = self._workspaces[("gather", k)] = (
                np.empty((k, X.shape[1]), X.dtype), np.empty((k,) + targets.shape[1:], targets.dtype))
        idx = order[lo:hi]
        if isinstance(X, data.MappedRows):
            X.take(idx, out=ws[0])             # read from the map, converted
        else:
            ops.gather_rows(X, idx, out=ws[0])
        ops.gather_rows(targets, idx, out=ws[1])
        return ws

    def _augmented(self, Xb):
        transform, image_shape = self.augment
        k = Xb.shape[0]
        images = transform(Xb.reshape((k,) + image_shape), self.model.augment_rng)
        buf = self._workspaces.get(("augment", k))
        if buf is None:
            buf = self._workspaces[("augment", k)] = np.empty_like(Xb)
        buf[...] = np.reshape(images, (k, -1))     # never into Xb: it may be a view of X
        return buf


def _warn_if_unnormalized(X, func):
    """Warn when X's features are far from the scale gradient descent likes:
    values in the hundreds, or scales orders of magnitude apart (the course's
    first advice is to normalize the inputs).  Judged on a sample of rows."""
    scales = data.feature_scales(X)
    big = int(np.argmax(scales))
    nonzero = scales[scales > 0]
    # the middle value, not np.median: its first call imports numpy.ma (16 ms)
    typical = float(np.sort(nonzero)[nonzero.size // 2]) if nonzero.size else 0.0
    if scales[big] > 100 or (scales[big] > 1 and scales[big] > 1000 * typical):
        warnings.warn(f"{func}: the input features are not normalized: feature {big} has values "
                      f"around {scales[big]:.3g}, the median feature around {typical:.3g}.  "
                      f"Gradient descent is slow on such inputs (the cost starts high, and "
                      f"needs a tiny learning rate): normalize them, e.g. model.normalizer = "
                      f"fn.Normalizer().fit(X_train) (the command line: --normalize)",
                      UserWarning, stacklevel=4)


# -- one step ----------------------------------------------------------------------
# X and targets are already checked (``model.check_inputs``, ``loss.targets``).

def train_step(model, Xb, yb, loss, l2=0.0, l1=0.0, dZ=None, sample_weight=None, mass=None):
    """One forward, backward and update of ``model`` on a mini-batch; returns
    (data loss, regularization loss, number correct).  A non-finite cost
    returns before the update.  (Gradients that overflow while the cost
    stays finite make the weights non-finite: the next cost, or the check at
    the end of the epoch, sees it, and the epoch is rolled back.)"""
    model.step += 1
    model.seed_dropout(model.step)
    data_loss, reg_loss, correct = forward_backward(model, Xb, yb, loss, l2, l1, dZ=dZ,
                                                    sample_weight=sample_weight, mass=mass)
    if math.isfinite(data_loss + reg_loss):
        model.optimizer.step(model.params)
    return data_loss, reg_loss, correct


def forward_backward(model, Xb, yb, loss, l2=0.0, l1=0.0, backward=True, dZ=None,
                     sample_weight=None, mass=None):
    """Training-mode forward pass and, when the cost is finite and
    ``backward``, the gradients of the cost into ``model.params``' gradient
    buffer.  Returns (data loss, regularization loss, number correct).
    ``dZ``: a workspace for the output layer's gradient (made when None).

    With ``sample_weight`` s (scikit-learn's objective): the data loss is
    sum(s_i loss_i) / sum(s) and the penalty (l2 / 2 sum(s)) ||W||^2 + (l1 /
    sum(s)) |W|: the weights' sum takes the place of the number of rows, and
    "correct" sums the weights of the correct rows.  ``mass``: sum(s), when
    the caller has it."""
    m = Xb.shape[0]
    if sample_weight is None:
        mass = m
    elif mass is None:
        mass = float(np.sum(sample_weight, dtype=np.float64))
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    for layer in dense:
        # folded into dW by the dense backward kernel as (l2 / m) W
        layer.l2 = l2 if sample_weight is None else l2 * m / mass
    A = Xb
    for layer in model.layers:
        A = layer.forward(A, True)
    correct = loss.correct(A, yb, sample_weight) if loss.classification else 0
    data_loss, dZ = loss(A, yb, out=np.empty_like(A) if dZ is None else dZ,
                         sample_weight=sample_weight)
    reg_loss = (losses.regularization([layer.W for layer in dense], mass, l2, l1)
                if (l2 or l1) else 0.0)
    if not backward or not math.isfinite(data_loss + reg_loss):
        return data_loss, reg_loss, correct
    dA = dZ
    for i in range(len(model.layers) - 1, -1, -1):
        dA = model.layers[i].backward(dA, i > 0)
    if l1:
        for layer in dense:
            layer.dW += (l1 / mass) * np.sign(layer.W)
    return data_loss, reg_loss, correct


def _non_finite_state(model):
    """What of the state training writes holds NaN or Inf ("the weights",
    ...), or None.  Checked once per epoch."""
    if not all_finite(model.params.flat()):
        return "the weights"
    for layer in model.layers:
        for name, arr in layer.state_arrays().items():
            if not all_finite(arr):
                return f"{layer.name}.{name}"
    for key, arrays in model.optimizer.state.items():
        if arrays is not None and not all(all_finite(a) for a in arrays):
            return f"the optimizer's {key}"
    return None
