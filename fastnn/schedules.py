"""Learning-rate schedules: the learning rate as a function of the epoch.

Each schedule is an object called with the epoch number, ``lr = schedule(epoch)``,
and saved with its optimizer through ``get_config()`` / ``from_config()``
(a JSON-ready dict holding the class name and the constructor arguments).

Epochs count from 0: the first epoch of training is epoch 0 and runs at the
initial rate ``learning_rate`` (alpha0) for every schedule except
``InverseSqrtDecay``, which runs at ``k * alpha0`` there (see its docstring).
The course's formulas, with alpha0 = ``learning_rate``:

===================  ==============================================
Constant             alpha0
InverseTimeDecay     alpha0 / (1 + decay_rate * floor(epoch / time_interval))
ExponentialDecay     alpha0 * base ** epoch           (e.g. base = 0.95)
InverseSqrtDecay     k / sqrt(epoch + 1) * alpha0
StepDecay            alpha0 * factor ** (number of steps passed): a staircase
                     every ``step_size`` epochs, or at given ``milestones``
===================  ==============================================

An optimizer evaluates its schedule at its own ``epoch`` counter (see
fastnn.optim); a user babysitting a run can also set the rate by hand with
``optimizer.learning_rate = x`` between epochs.
"""
import math

from fastnn import checks

__all__ = [
    "Schedule",
    "Constant",
    "InverseTimeDecay",
    "ExponentialDecay",
    "InverseSqrtDecay",
    "StepDecay",
    "from_config",
    "get",
]


_SCHEDULES = {}   # class name -> class, for from_config; subclasses register


class Schedule:
    """Base class: subclasses define ``rate(epoch)`` and list their constructor
    arguments in ``_config_keys``; instances compare equal when their configs
    do.  A user's subclass is registered by its class name, so optimizers that
    use it can be saved and loaded like the built-in ones."""

    _config_keys = ("learning_rate",)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _SCHEDULES[cls.__name__] = cls

    def __call__(self, epoch):
        epoch = checks.check_int(epoch, "epoch", type(self).__name__, 0, what="epochs count from 0")
        return float(self.rate(epoch))

    def rate(self, epoch):
        raise NotImplementedError

    def get_config(self):
        """A JSON-ready dict: ``{"class": name, <constructor arguments>}``."""
        config = {"class": type(self).__name__}
        for key in self._config_keys:
            value = getattr(self, key)
            config[key] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config):
        """The schedule a ``get_config()`` dict describes."""
        return from_config(config) if cls is Schedule else _build(cls, config)

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash(repr(self))

    def __repr__(self):
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._config_keys)
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr = learning_rate`` at every epoch."""

    def __init__(self, learning_rate):
        self.learning_rate = checks.check_number(learning_rate, "learning_rate", "Constant", 0,
                                                 low_open=True)

    def rate(self, epoch):
        return self.learning_rate


class InverseTimeDecay(Schedule):
    """``lr = learning_rate / (1 + decay_rate * floor(epoch / time_interval))``.

    time_interval = 1 (default) is the course's
    ``alpha = alpha0 / (1 + decay_rate * epoch_num)``; a larger interval keeps
    the rate for that many epochs between decays (the course's "fixed
    interval scheduling").  decay_rate >= 0, time_interval >= 1.
    """

    _config_keys = ("learning_rate", "decay_rate", "time_interval")

    def __init__(self, learning_rate, decay_rate=1.0, time_interval=1):
        name = "InverseTimeDecay"
        self.learning_rate = checks.check_number(learning_rate, "learning_rate", name, 0,
                                                 low_open=True)
        self.decay_rate = checks.check_number(decay_rate, "decay_rate", name, 0)
        self.time_interval = checks.check_int(time_interval, "time_interval", name, 1)

    def rate(self, epoch):
        return self.learning_rate / (1.0 + self.decay_rate * (epoch // self.time_interval))


class ExponentialDecay(Schedule):
    """``lr = learning_rate * base ** epoch``, base in (0, 1] (the course: 0.95)."""

    _config_keys = ("learning_rate", "base")

    def __init__(self, learning_rate, base=0.95):
        name = "ExponentialDecay"
        self.learning_rate = checks.check_number(learning_rate, "learning_rate", name, 0,
                                                 low_open=True)
        self.base = checks.check_number(base, "base", name, 0, low_open=True)
        if self.base > 1.0:
            raise ValueError(f"{name}: base must be in (0, 1] (a decay); got {base!r}")

    def rate(self, epoch):
        return self.learning_rate * self.base ** epoch


class InverseSqrtDecay(Schedule):
    """``lr = k / sqrt(epoch + 1) * learning_rate``.

    The course writes k / sqrt(epoch_num) * alpha0 with epoch_num counting
    from 1; fastnn's epochs count from 0, hence ``epoch + 1``: the first epoch
    (epoch 0) runs at ``k * learning_rate``, the fourth at half that.  k > 0.
    """

    _config_keys = ("learning_rate", "k")

    def __init__(self, learning_rate, k=1.0):
        name = "InverseSqrtDecay"
        self.learning_rate = checks.check_number(learning_rate, "learning_rate", name, 0,
                                                 low_open=True)
        self.k = checks.check_number(k, "k", name, 0, low_open=True)

    def rate(self, epoch):
        return self.k / math.sqrt(epoch + 1) * self.learning_rate


class StepDecay(Schedule):
    """A staircase: ``lr = learning_rate * factor ** n_steps``.

    Give either ``step_size`` (n_steps = floor(epoch / step_size): a step down
    every step_size epochs, torch's StepLR) or ``milestones`` (n_steps = the
    number of milestones <= epoch: steps at chosen epochs, torch's MultiStepLR).
    factor in [0, 1): e.g. 0.5 halves the rate at each step.
    """

    _config_keys = ("learning_rate", "step_size", "milestones", "factor")

    def __init__(self, learning_rate, step_size=None, *, milestones=None, factor=0.5):
        name = "StepDecay"
        self.learning_rate = checks.check_number(learning_rate, "learning_rate", name, 0,
                                                 low_open=True)
        self.factor = checks.check_number(factor, "factor", name, 0, 1, high_open=True)
        if (step_size is None) == (milestones is None):
            raise ValueError(f"{name}: give exactly one of step_size (a step every "
                             f"step_size epochs) and milestones (a list of epochs); "
                             f"got step_size={step_size!r}, milestones={milestones!r}")
        self.step_size = (None if step_size is None
                          else checks.check_int(step_size, "step_size", name, 1))
        if milestones is None:
            self.milestones = None
        else:
            ms = [checks.check_int(e, "milestones", name, 1) for e in milestones]
            if not ms or any(b <= a for a, b in zip(ms, ms[1:])):
                raise ValueError(f"{name}: milestones must be a non-empty increasing list of "
                                 f"epochs >= 1; got {list(milestones)!r}")
            self.milestones = tuple(ms)

    def rate(self, epoch):
        if self.step_size is not None:
            n_steps = epoch // self.step_size
        else:
            n_steps = sum(1 for e in self.milestones if e <= epoch)
        return self.learning_rate * self.factor ** n_steps


# short names (the command line's TOML and flags)
BY_NAME = {"constant": Constant, "inverse_time": InverseTimeDecay, "exponential": ExponentialDecay,
           "inverse_sqrt": InverseSqrtDecay, "step": StepDecay}


def _build(cls, config):
    args = {k: v for k, v in config.items() if k != "class"}
    unknown = set(args) - set(cls._config_keys)
    if unknown:
        raise ValueError(f"{cls.__name__}.from_config: unknown keys {sorted(unknown)}; "
                         f"expected {list(cls._config_keys)}")
    return cls(**args)


def from_config(config):
    """The schedule of a ``get_config()`` dict (its "class" names a schedule here)."""
    if not isinstance(config, dict) or "class" not in config:
        raise ValueError(f"schedules.from_config: expected a dict with a 'class' key, as "
                         f"Schedule.get_config() returns; got {config!r}")
    name = config["class"]
    if name not in _SCHEDULES:
        raise ValueError(f"schedules.from_config: unknown schedule {name!r}; "
                         f"expected one of {sorted(_SCHEDULES)}")
    return _build(_SCHEDULES[name], config)


def get(learning_rate):
    """A schedule from a number (Constant), a Schedule (itself) or a config dict."""
    if isinstance(learning_rate, Schedule):
        return learning_rate
    if isinstance(learning_rate, dict):
        return from_config(learning_rate)
    return Constant(learning_rate)
