"""Weight initializers for a Dense layer's W of shape (n_in, n_out).

The scales are the course's: He ``sqrt(2 / n_in)`` for ReLU layers, Xavier
``sqrt(1 / n_in)`` for tanh, Glorot ``sqrt(2 / (n_in + n_out))``.  Each comes
as a normal and a uniform variant with the same standard deviation (the
uniform limit is ``sqrt(3)`` times it).  Pass an initializer by name
(``init="he"``) or as an object; any callable ``(shape, rng, dtype) -> array``
works too.
"""
import math

import numpy as np

__all__ = ["Initializer", "Zeros", "RandomNormal", "RandomUniform", "He", "HeUniform",
           "Xavier", "XavierUniform", "Glorot", "GlorotUniform", "get"]


class Initializer:
    """Base class: ``std(n_in, n_out)`` gives the standard deviation, ``uniform``
    picks the distribution; subclasses only say how the scale depends on size."""

    uniform = False

    def std(self, n_in, n_out):
        raise NotImplementedError

    def __call__(self, shape, rng, dtype=np.float64):
        n_in, n_out = (shape[0], shape[1]) if len(shape) == 2 else (shape[0], shape[0])
        std = self.std(n_in, n_out)
        if self.uniform:
            limit = math.sqrt(3.0) * std
            values = rng.uniform(-limit, limit, size=shape)
        else:
            values = rng.standard_normal(shape) * std
        return np.ascontiguousarray(values, dtype=dtype)

    def get_config(self):
        return {"name": _NAME_OF[type(self)], **self.__dict__}

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"{type(self).__name__}({args})"


class Zeros(Initializer):
    """All zeros (fine for biases; for W it leaves every unit identical)."""

    def __call__(self, shape, rng, dtype=np.float64):
        return np.zeros(shape, dtype=dtype)


class RandomNormal(Initializer):
    """Normal with a fixed standard deviation (the course's ``* 0.01``)."""

    def __init__(self, scale=0.01):
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"RandomNormal: scale must be a finite number > 0; got {scale!r}")
        self.scale = float(scale)

    def std(self, n_in, n_out):
        return self.scale


class RandomUniform(RandomNormal):
    """Uniform with standard deviation ``scale``."""

    uniform = True


class He(Initializer):
    """std = sqrt(2 / n_in): keeps the variance of ReLU activations constant."""

    def std(self, n_in, n_out):
        return math.sqrt(2.0 / n_in)


class HeUniform(He):
    uniform = True


class Xavier(Initializer):
    """std = sqrt(1 / n_in): the course's choice for tanh layers."""

    def std(self, n_in, n_out):
        return math.sqrt(1.0 / n_in)


class XavierUniform(Xavier):
    uniform = True


class Glorot(Initializer):
    """std = sqrt(2 / (n_in + n_out)): balances forward and backward variance."""

    def std(self, n_in, n_out):
        return math.sqrt(2.0 / (n_in + n_out))


class GlorotUniform(Glorot):
    uniform = True


_BY_NAME = {
    "zeros": Zeros, "random_normal": RandomNormal, "random_uniform": RandomUniform,
    "he": He, "he_normal": He, "he_uniform": HeUniform,
    "xavier": Xavier, "xavier_normal": Xavier, "xavier_uniform": XavierUniform,
    "glorot": Glorot, "glorot_normal": Glorot, "glorot_uniform": GlorotUniform,
}
NAMES = tuple(_BY_NAME)      # every name get() takes

_NAME_OF = {Zeros: "zeros", RandomNormal: "random_normal", RandomUniform: "random_uniform",
            He: "he", HeUniform: "he_uniform", Xavier: "xavier", XavierUniform: "xavier_uniform",
            Glorot: "glorot", GlorotUniform: "glorot_uniform"}


def get(init):
    """An initializer from a name, a config dict, an Initializer or a callable."""
    if isinstance(init, Initializer) or (callable(init) and not isinstance(init, type)):
        return init
    if isinstance(init, dict):
        config = dict(init)
        name = config.pop("name", None)
        return _from_name(name)(**config)
    return _from_name(init)()


def _from_name(name):
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(f"unknown initializer {name!r}; expected one of {sorted(_BY_NAME)} "
                         f"or an Initializer object") from None
