"""Optimizers: gradient descent, momentum, RMSprop and Adam, usable without a model.

Each optimizer updates parameters in place from their gradients::

    opt = fastnn.Adam(learning_rate=1e-3)
    opt.step([W1, b1, W2, b2], [dW1, db1, dW2, db2])   # lists of arrays
    opt.step(buffer)                # a ParameterBuffer: one kernel call in all
    opt.next_epoch()                # advance the learning-rate schedule
    opt.learning_rate = 3e-4        # or set the rate by hand between epochs

The update formulas are the course's; each class states them and calls the
fused kernel of ``fastnn.ops`` that applies them in one pass.  ``g`` is the
gradient of the cost; ``lr`` is ``learning_rate`` at the current epoch.

State is explicit: ``t`` (steps taken; the first step is t = 1), ``epoch``,
the schedule, and ``state``: a dict from the state's name ("v", "s") to a
list of arrays, one per parameter array (one flat array for a
ParameterBuffer, where it lives in the buffer as "<Class>.<name>").
``state_dict()`` returns all of it (arrays copied, everything else plain
JSON-ready values) and ``load_state_dict()`` restores it exactly, so a run
resumed from a checkpoint continues bit-identically.

Differences from PyTorch, and the settings that give the same trajectory:

================================  =============================================
fastnn                            torch.optim
================================  =============================================
SGD(lr, l2=lam, m=m)              SGD(lr, weight_decay=lam / m)
Momentum(lr, beta,                SGD(lr, momentum=beta, nesterov=...)
         average=False)           (v = beta v + g: torch's dampening=0)
Momentum(lr, beta) (default,      SGD(lr * (1 - beta), momentum=beta): the
         average=True)            course's v = beta v + (1-beta) g is (1-beta)
                                  times torch's buffer.  Not dampening=beta:
                                  torch starts its buffer at g, not (1-beta) g.
RMSprop(lr, beta, eps)            RMSprop(lr, alpha=beta, eps=eps); eps outside
                                  the sqrt in both (Keras puts it inside:
                                  sqrt(s + eps)).  torch's default alpha: 0.99.
Adam(lr, beta1, beta2, eps)       Adam(lr, betas=(beta1, beta2), eps=eps)
Adam(..., weight_decay=wd)        AdamW(..., weight_decay=wd): decoupled decay
                                  lr * wd * w.  (torch's Adam(weight_decay=)
                                  is L2 added to g instead.)
================================  =============================================
"""
import functools

import numpy as np

from fastnn import checks, ops, schedules
from fastnn.parameters import ParameterBuffer

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "get", "from_config",
           "from_state_dict", "BY_NAME"]


def _accepts_lr(init):
    """``init`` that also takes ``lr=``, PyTorch's (and old Keras') name of
    ``learning_rate``."""
    @functools.wraps(init)
    def init_with_lr(self, *args, lr=None, **kwargs):
        if lr is not None:
            if args or "learning_rate" in kwargs:
                raise TypeError(f"{type(self).__name__}: give learning_rate or lr (the same "
                                f"thing), not both")
            kwargs["learning_rate"] = lr
        init(self, *args, **kwargs)
    return init_with_lr


def _same_memory(a, b):
    """a and b are views of the same elements (e.g. two slices of a buffer)."""
    return (a.shape == b.shape and a.dtype == b.dtype
            and a.__array_interface__["data"][0] == b.__array_interface__["data"][0])


class Optimizer:
    """Base class: learning rate and schedule, step and epoch counters, state
    and its saving.  Subclasses list ``hyperparameters`` and ``state_names``
    and define ``_update(w, g, lr, *state)`` (one kernel call)."""

    hyperparameters = ()   # constructor arguments besides learning_rate
    state_names = ()       # per-parameter state arrays, zeros before step 1

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = _accepts_lr(cls.__init__)

    def __init__(self, learning_rate):
        self.set_learning_rate(learning_rate)
        self.epoch = 0                     # epochs completed: the schedule's argument
        self.t = 0                         # steps taken
        self.state = {name: None for name in self.state_names}
        self.owner = None                  # uid of the ParameterBuffer the state lives in
        self._bound = None                 # what step() last bound (see _bind_state)

    def __getstate__(self):
        # what step() bound are views of a parameter buffer; pickle and
        # deepcopy would copy them apart from it: bind again after a copy
        state = self.__dict__.copy()
        state["_bound"] = None
        return state

    # ------------------------------------------------------------ learning rate
    @property
    def learning_rate(self):
        """The rate of the current epoch: ``schedule(epoch)``."""
        return self.schedule(self.epoch)

    @learning_rate.setter
    def learning_rate(self, value):
        self.set_learning_rate(value)

    def set_learning_rate(self, value):
        """A number (kept constant from now on, replacing any schedule) or a
        schedule from fastnn.schedules (or its config dict)."""
        if isinstance(value, schedules.Schedule):
            self.schedule = value
        elif isinstance(value, dict):
            self.schedule = schedules.from_config(value)
        elif callable(value):
            raise TypeError(f"{type(self).__name__}: learning_rate must be a number or a "
                            f"fastnn.schedules.Schedule (subclass Schedule for your own, so "
                            f"it can be saved); got {value!r}")
        else:
            self.schedule = schedules.Constant(checks.check_number(
                value, "learning_rate", type(self).__name__, 0, low_open=True))

    def next_epoch(self):
        """Count one more epoch; return the learning rate of the next one."""
        self.epoch += 1
        return self.learning_rate

    # ------------------------------------------------------------ the step
    def step(self, params, grads=None):
        """Update ``params`` in place from ``grads``.

        params : a list of arrays (float32/float64, C-contiguous, writeable),
            a single array, or a ParameterBuffer.
        grads : arrays of the same shapes and dtypes, in the same order; for a
            ParameterBuffer, None (its gradient buffer) or a flat array.
        """
        bound = self._bound
        if not (bound is not None and grads is None and params is bound[0]
                and params.size == bound[1]
                and all(self.state[k] is arrays for k, arrays in zip(self.state_names, bound[4]))):
            ws, gs, buffer = self._pairs(params, grads)
            self._bind_state(ws, buffer)
            # a training loop steps the same buffer every time: what was checked
            # and bound here stays valid while the buffer and the state lists
            # are the same objects, and the next step skips straight to the update
            bound = ((buffer, buffer.size, ws, gs, tuple(self.state[k] for k in self.state_names))
                     if buffer is not None and grads is None else None)
            self._bound = bound
        else:
            ws, gs = bound[2], bound[3]
        t = self.t + 1
        lr = self.learning_rate
        for i, (w, g) in enumerate(zip(ws, gs)):
            self._update(w, g, lr, t, *(self.state[k][i] for k in self.state_names))
        self.t = t

    def _update(self, w, g, lr, t, *state):
        raise NotImplementedError

    def _pairs(self, params, grads):
        func = f"{type(self).__name__}.step"
        if isinstance(params, ParameterBuffer):
            if grads is None:
                grads = params.flat_grad()
            return [params.flat()], [grads], params
        if isinstance(params, np.ndarray):
            params, grads = [params], [grads]
        if grads is None:
            raise TypeError(f"{func}: grads are required with a list of parameters "
                            f"(only a ParameterBuffer carries its own)")
        params, grads = list(params), list(grads)
        if len(params) != len(grads):
            raise ValueError(f"{func}: got {len(params)} parameter arrays and {len(grads)} "
                             f"gradients; they must pair up")
        for i, (w, g) in enumerate(zip(params, grads)):
            if isinstance(g, (float, np.floating)):   # 2 * w - 10 of a 0-d w is a scalar
                g = grads[i] = np.asarray(g)
            if not isinstance(w, np.ndarray) or not isinstance(g, np.ndarray):
                raise TypeError(f"{func}: params[{i}] and grads[{i}] must be numpy arrays; "
                                f"got {type(w).__name__} and {type(g).__name__}")
            if g.shape != w.shape or g.dtype != w.dtype:
                raise ValueError(f"{func}: grads[{i}] must have the shape and dtype of "
                                 f"params[{i}], {w.shape} {w.dtype}; got {g.shape} {g.dtype}")
        return params, grads, None

    def _bind_state(self, ws, buffer):
        """The state arrays for these parameters: created as zeros on the first
        step, checked against the parameters afterwards (and after loading)."""
        func = f"{type(self).__name__}.step"
        for key in self.state_names:
            current = self.state[key]
            if buffer is not None:
                flat = buffer.state(f"{type(self).__name__}.{key}")
                if current is None:
                    flat[...] = 0          # the buffer may hold an earlier optimizer's
                elif not _same_memory(current[0], flat):
                    self._check_state(key, current, ws, func)
                    flat[...] = current[0]  # e.g. just loaded from a checkpoint
                self.state[key] = [flat]
                self.owner = buffer.uid
            elif current is None:
                self.state[key] = [np.zeros(w.shape, w.dtype) for w in ws]
            else:
                self._check_state(key, current, ws, func)
        return self.state

    def check_buffer(self, buffer, func):
        """Raise unless a step on ``buffer`` (a ParameterBuffer; None: one not
        made yet) could use the state held now: none yet, this buffer's own,
        or loaded arrays of its layout.  Nothing changes."""
        if self.owner is not None and (buffer is None or self.owner != buffer.uid):
            raise ValueError(f"{func}: this {type(self).__name__} already holds the state of "
                             f"another model ({self.t} steps); give each model its own "
                             f"optimizer, e.g. fn.{type(self).__name__}(...)")
        if self.owner is None and buffer is not None:
            for key in self.state_names:
                if self.state[key] is not None:
                    self._check_state(key, self.state[key], [buffer.flat()], func)

    @staticmethod
    def _check_state(key, arrays, ws, func):
        if (len(arrays) != len(ws)
                or any(a.shape != w.shape or a.dtype != w.dtype for a, w in zip(arrays, ws))):
            have = [(a.shape, str(a.dtype)) for a in arrays]
            got = [(w.shape, str(w.dtype)) for w in ws]
            raise ValueError(f"{func}: the state {key!r} belongs to parameters of shapes and "
                             f"dtypes {have}; got parameters {got}.  Use one optimizer per "
                             f"set of parameters (or a new one).")

    # ------------------------------------------------------------ saving
    def get_config(self):
        """Constructor arguments, JSON-ready: ``from_config`` rebuilds the optimizer."""
        config = {"class": type(self).__name__, "learning_rate": self.schedule.get_config()}
        config.update({k: getattr(self, k) for k in self.hyperparameters})
        return config

    def state_dict(self):
        """Everything a resumed run needs, copied: {"class", "learning_rate"
        (schedule config), hyperparameters..., "epoch", "t", "state": {name:
        list of arrays or None}}.  Only the arrays are not JSON values."""
        sd = self.get_config()
        sd["epoch"] = self.epoch
        sd["t"] = self.t
        sd["state"] = {k: None if v is None else [np.array(a, copy=True) for a in v]
                       for k, v in self.state.items()}
        return sd

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()`` of an optimizer of the same class exactly:
        hyperparameters, schedule, epoch, t and state arrays (copied)."""
        func = f"{type(self).__name__}.load_state_dict"
        sd = dict(state_dict)
        if sd.get("class") != type(self).__name__:
            raise ValueError(f"{func}: the state dict is of a {sd.get('class')!r} optimizer, "
                             f"not {type(self).__name__!r}")
        state = sd.get("state") or {}
        if set(state) != set(self.state_names):
            raise ValueError(f"{func}: state must have the arrays {list(self.state_names)}; "
                             f"got {sorted(state)}")
        fresh = _build(type(self), sd)          # validates the hyperparameters
        fresh.epoch = checks.check_int(sd.get("epoch"), "epoch", func, 0, counter=True)
        fresh.t = checks.check_int(sd.get("t"), "t", func, 0, counter=True)
        for key in self.state_names:
            arrays = state[key]
            if arrays is not None:
                arrays = [np.array(a, copy=True, order="C") for a in arrays]
                if any(a.dtype not in (np.float32, np.float64) for a in arrays):
                    raise TypeError(f"{func}: state {key!r} must hold float32/float64 arrays")
            fresh.state[key] = arrays
        self.__dict__.update(fresh.__dict__)

    def __repr__(self):
        hp = ", ".join(f"{k}={getattr(self, k)!r}" for k in self.hyperparameters)
        return (f"{type(self).__name__}(learning_rate={self.schedule!r}"
                f"{', ' if hp else ''}{hp}; t={self.t}, epoch={self.epoch})")


class SGD(Optimizer):
    """Gradient descent (batch, mini-batch or stochastic, as the batches are)::

        w = w - lr * (g + (l2 / m) * w)

    l2 >= 0 folds an L2 penalty (l2 / 2m) ||w||^2 into the step, i.e. weight
    decay by (1 - lr * l2 / m) per step; leave it 0 when the gradients already
    carry it (dense_backward's l2).  m is the number of examples the cost
    averages over.
    """

    hyperparameters = ("l2", "m")

    def __init__(self, learning_rate=0.01, *, l2=0.0, m=1):
        super().__init__(learning_rate)
        self.l2 = checks.check_number(l2, "l2", "SGD", 0)
        self.m = checks.check_int(m, "m", "SGD", 1,
                                what="the number of examples the cost averages over", counter=True)

    def _update(self, w, g, lr, t):
        ops.sgd_step(w, g, lr, l2=self.l2, m=self.m)


class Momentum(Optimizer):
    """Gradient descent with momentum::

        v = beta * v + (1 - beta) * g      (average=True, default: the course)
        v = beta * v + g                   (average=False: PyTorch, Keras)
        w = w - lr * v
        w = w - lr * (beta * v + c * g)    (nesterov=True; c the factor of g above)

    v starts at 0 (state "v").  beta in [0, 1); 0.9 averages about the last
    10 gradients.  With average=False the steps are 1 / (1 - beta) times
    larger once v has warmed up, so lr must be that much smaller.
    """

    hyperparameters = ("beta", "nesterov", "average")
    state_names = ("v",)

    def __init__(self, learning_rate=0.01, beta=0.9, *, nesterov=False, average=True):
        super().__init__(learning_rate)
        self.beta = checks.check_number(beta, "beta", "Momentum", 0, 1, high_open=True)
        self.nesterov = checks.check_bool(nesterov, "nesterov", "Momentum")
        self.average = checks.check_bool(average, "average", "Momentum")

    def _update(self, w, g, lr, t, v):
        ops.momentum_step(w, g, v, lr, self.beta, nesterov=self.nesterov,
                          average=self.average)


class RMSprop(Optimizer):
    """RMSprop: each parameter's step divided by the root mean square of its
    recent gradients::

        s = beta * s + (1 - beta) * g**2
        w = w - lr * g / (sqrt(s) + eps)

    s starts at 0 (state "s").  beta in [0, 1); eps > 0 keeps the division
    safe and sits outside the square root (as PyTorch; Keras puts it inside).
    """

    hyperparameters = ("beta", "eps")
    state_names = ("s",)

    def __init__(self, learning_rate=0.001, beta=0.9, eps=1e-8):
        super().__init__(learning_rate)
        self.beta = checks.check_number(beta, "beta", "RMSprop", 0, 1, high_open=True)
        self.eps = checks.check_number(eps, "eps", "RMSprop", 0, low_open=True)

    def _update(self, w, g, lr, t, s):
        ops.rmsprop_step(w, g, s, lr, self.beta, self.eps)


class Adam(Optimizer):
    """Adam: momentum and RMSprop with bias correction::

        v = beta1 * v + (1 - beta1) * g
        s = beta2 * s + (1 - beta2) * g**2
        v_hat = v / (1 - beta1**t)
        s_hat = s / (1 - beta2**t)
        w = w - lr * (v_hat / (sqrt(s_hat) + eps) + weight_decay * w)

    t is the step number (1 on the first step), v and s start at 0 (state "v"
    and "s").  The defaults beta1 = 0.9, beta2 = 0.999, eps = 1e-8 are the
    course's (and the Adam paper's); lr usually needs tuning.
    weight_decay > 0 is AdamW's decoupled decay, scaled by lr as in PyTorch.
    """

    hyperparameters = ("beta1", "beta2", "eps", "weight_decay")
    state_names = ("v", "s")

    def __init__(self, learning_rate=0.001, beta1=0.9, beta2=0.999, eps=1e-8, *,
                 weight_decay=0.0):
        super().__init__(learning_rate)
        self.beta1 = checks.check_number(beta1, "beta1", "Adam", 0, 1, high_open=True)
        self.beta2 = checks.check_number(beta2, "beta2", "Adam", 0, 1, high_open=True)
        self.eps = checks.check_number(eps, "eps", "Adam", 0, low_open=True)
        self.weight_decay = checks.check_number(weight_decay, "weight_decay", "Adam", 0)

    def _update(self, w, g, lr, t, v, s):
        ops.adam_step(w, g, v, s, t, lr, self.beta1, self.beta2, self.eps,
                      weight_decay=self.weight_decay)


_OPTIMIZERS = {cls.__name__: cls for cls in (SGD, Momentum, RMSprop, Adam)}
BY_NAME = {cls.__name__.lower(): cls for cls in _OPTIMIZERS.values()}   # "sgd", ..., "adam"


def get(optimizer, func="optimizer"):
    """An optimizer: itself, or a new one with default settings from its name
    ("sgd", "momentum", "rmsprop", "adam"), as Keras takes them."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str) and optimizer.lower() in BY_NAME:
        return BY_NAME[optimizer.lower()]()
    raise TypeError(f"{func}: optimizer must be a fastnn optimizer (SGD, Momentum, RMSprop, "
                    f"Adam) or one of the names {sorted(BY_NAME)}; got {optimizer!r}")


def _build(cls, config):
    args = {k: config[k] for k in cls.hyperparameters if k in config}
    return cls(schedules.get(config["learning_rate"]), **args)


def from_config(config):
    """The optimizer of a ``get_config()`` dict (fresh state)."""
    name = config.get("class") if isinstance(config, dict) else None
    if name not in _OPTIMIZERS:
        raise ValueError(f"optim.from_config: unknown optimizer {name!r}; expected one of "
                         f"{sorted(_OPTIMIZERS)}")
    return _build(_OPTIMIZERS[name], config)


def from_state_dict(state_dict):
    """A new optimizer restored from ``state_dict()``."""
    opt = from_config(state_dict)
    opt.load_state_dict(state_dict)
    return opt
