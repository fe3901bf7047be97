"""Search spaces: where each hyperparameter is drawn from, in its own scale.

Design: every numeric space is a uniform draw on an interval of its *own
scale* coordinate ``u``, mapped back to a value: ``u = x`` (Uniform,
IntUniform), ``u = log10(x)`` (LogUniform), ``u = log10(1 - x)``
(OneMinusLogUniform).  The same coordinate serves sampling, grids, the
narrowing of coarse-to-fine and the axes of plots, so "the right scale" is
decided in one place.  ``Choice`` is the categorical space.

Values are plain Python numbers (or the Choice options themselves): they go
into the trial store as JSON and into the user's objective unchanged.
"""
import math
import numbers

import numpy as np

from fastnn import checks
__all__ = ["Distribution", "Uniform", "IntUniform", "LogUniform", "OneMinusLogUniform",
           "Choice", "check_space", "sample_params", "space_spec", "space_from_spec"]


def _as_rng(rng):
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


def _real(func, name, value):
    """``value`` as a finite float, or a clear error naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{func}: {name} must be a real number; got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{func}: {name} must be finite; got {value}")
    return value


class Distribution:
    """One hyperparameter's space.  ``sample(rng)`` draws a value."""

    #: "linear", "log", "one_minus_log" or "categorical": how values are spread.
    scale = "linear"

    def sample(self, rng=None, size=None):
        """One value (``size=None``) or an array of ``size`` values, drawn with ``rng``.

        ``rng`` is a ``numpy.random.Generator`` or a seed: the same seed gives
        the same values.
        """
        raise NotImplementedError

    def grid(self, n):
        """``n`` values evenly spaced in this space's own scale (for GridSearch)."""
        raise NotImplementedError

    def around(self, values, pad):
        """The part of this space spanned by ``values``, widened on each side by
        ``pad`` times this space's width, in its own scale (coarse-to-fine)."""
        raise NotImplementedError

    def spec(self):
        """A JSON-able description; ``space_from_spec`` rebuilds the space from it."""
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and self.spec() == other.spec()

    def __hash__(self):
        return hash(repr(self))


class _Interval(Distribution):
    """Uniform in the own-scale coordinate ``u = to_scale(x)`` between a and b."""

    def __init__(self, a, b):
        func = f"{type(self).__name__}(a, b)"
        a, b = _real(func, "a", a), _real(func, "b", b)
        if a > b:
            raise ValueError(f"{func}: needs a <= b; got a={a!r}, b={b!r}")
        self._check_domain(func, a, b)
        self.a, self.b = a, b
        self.lo, self.hi = sorted((self.to_scale(a), self.to_scale(b)))

    def _check_domain(self, func, a, b):
        pass

    def to_scale(self, x):
        """The own-scale coordinate of value(s) ``x``."""
        return x

    def from_scale(self, u):
        """The value(s) at own-scale coordinate(s) ``u``."""
        return u

    def _values(self, u, size):
        # The round trip through the scale may step a rounding error outside [a, b].
        x = np.clip(self.from_scale(np.asarray(u, dtype=np.float64)), self.a, self.b)
        return float(x) if size is None else x

    def sample(self, rng=None, size=None):
        return self._values(_as_rng(rng).uniform(self.lo, self.hi, size), size)

    def grid(self, n):
        n = checks.check_int(n, "n", f"{type(self).__name__}.grid(n)", 1)
        # From a to b (the own scale of OneMinusLogUniform runs the other way).
        ends = self.to_scale(self.a), self.to_scale(self.b)
        return list(dict.fromkeys(self._values(u, None) for u in np.linspace(*ends, n)))

    def around(self, values, pad):
        u = self.to_scale(np.asarray(values, dtype=np.float64))
        margin = pad * (self.hi - self.lo)
        return self._between(max(self.lo, u.min() - margin), min(self.hi, u.max() + margin))

    def _between(self, lo, hi):
        """The same kind of space over own-scale coordinates [lo, hi]."""
        return type(self)(*sorted((self._values(lo, None), self._values(hi, None))))

    def spec(self):
        return {"type": type(self).__name__, "a": self.a, "b": self.b}

    def __repr__(self):
        return f"{type(self).__name__}({self.a!r}, {self.b!r})"


class Uniform(_Interval):
    """A real value uniform in [a, b]."""


class IntUniform(_Interval):
    """An integer uniform in {a, ..., b} (both included)."""

    def __init__(self, a, b):
        for name, v in (("a", a), ("b", b)):
            if isinstance(v, bool) or not isinstance(v, numbers.Integral):
                raise TypeError(f"IntUniform(a, b): {name} must be an integer; got {v!r}")
        super().__init__(int(a), int(b))
        self.a, self.b = int(a), int(b)

    def _values(self, u, size):
        x = np.clip(np.rint(np.asarray(u, dtype=np.float64)), self.a, self.b).astype(np.int64)
        return int(x) if size is None else x

    def sample(self, rng=None, size=None):
        x = _as_rng(rng).integers(self.a, self.b, size, endpoint=True)
        return int(x) if size is None else x

    def _between(self, lo, hi):
        # Outward, so that rounding never drops a kept value.
        return IntUniform(math.floor(lo), math.ceil(hi))


class LogUniform(_Interval):
    """10**r with r uniform in [log10 a, log10 b]: each decade equally likely.

    The scale for rates and regularization strengths: LogUniform(1e-4, 1)
    puts a quarter of the samples in each of [1e-4, 1e-3], ..., [0.1, 1].
    """

    scale = "log"

    def _check_domain(self, func, a, b):
        if a <= 0:
            raise ValueError(f"{func}: needs 0 < a (a log scale cannot reach zero or negative "
                             f"values); got a={a!r}.  Use Uniform for ranges that include 0")

    def to_scale(self, x):
        return np.log10(x)

    def from_scale(self, u):
        return 10.0 ** u


class OneMinusLogUniform(_Interval):
    """beta with 1 - beta = 10**r, r uniform in [log10(1 - b), log10(1 - a)].

    The scale for averaging coefficients (momentum, Adam's betas): beta = 0.9
    averages over about 10 values, 0.999 over about 1000, and the region near 1
    matters most.  OneMinusLogUniform(0.9, 0.999) puts half of the samples in
    [0.99, 0.999].
    """

    scale = "one_minus_log"

    def _check_domain(self, func, a, b):
        if not (0 < a and b < 1):
            raise ValueError(f"{func}: needs 0 < a <= b < 1 (1 - beta is drawn on a log scale); "
                             f"got a={a!r}, b={b!r}")

    def to_scale(self, x):
        return np.log10(1.0 - np.asarray(x, dtype=np.float64))

    def from_scale(self, u):
        return 1.0 - 10.0 ** u


_JSON_SCALARS = (str, int, float, bool, type(None))


class Choice(Distribution):
    """One of ``options``, each equally likely (numbers, strings, booleans or None)."""

    scale = "categorical"

    def __init__(self, options):
        if isinstance(options, (str, bytes)) or not hasattr(options, "__iter__"):
            raise TypeError(f"Choice(options): options must be a list; got {options!r}")
        options = [o.item() if isinstance(o, np.generic) else o for o in options]
        if not options:
            raise ValueError("Choice(options): options is empty; give at least one option")
        for i, o in enumerate(options):
            if not isinstance(o, _JSON_SCALARS) or (isinstance(o, float) and not math.isfinite(o)):
                raise TypeError(f"Choice(options): options must be finite numbers, strings, "
                                f"booleans or None (trials are stored as JSON); option {i} is {o!r}")
        self.options = options

    def sample(self, rng=None, size=None):
        i = _as_rng(rng).integers(len(self.options), size=size)
        return self.options[int(i)] if size is None else [self.options[k] for k in i]

    def grid(self, n=None):
        """All the options (``n`` is accepted for symmetry and ignored)."""
        return list(self.options)

    def around(self, values, pad=None):
        kept = [o for o in self.options if any(o == v and type(o) is type(v) for v in values)]
        return Choice(kept or self.options)

    def spec(self):
        return {"type": "Choice", "options": list(self.options)}

    def __repr__(self):
        return f"Choice({self.options!r})"


_TYPES = {cls.__name__: cls for cls in (Uniform, IntUniform, LogUniform, OneMinusLogUniform, Choice)}


def check_space(func, space):
    """``space`` as a dict of name -> Distribution, or a clear error."""
    if not hasattr(space, "items"):
        raise TypeError(f"{func}: space must be a dict of name -> distribution; got {type(space).__name__}")
    if not space:
        raise ValueError(f"{func}: the search space is empty; give at least one hyperparameter, "
                         f"e.g. {{'learning_rate': tune.LogUniform(1e-4, 1)}}")
    for name, dist in space.items():
        if not isinstance(name, str):
            raise TypeError(f"{func}: hyperparameter names must be strings; got {name!r}")
        if not isinstance(dist, Distribution):
            raise TypeError(f"{func}: space[{name!r}] must be a tune distribution (Uniform, IntUniform, "
                            f"LogUniform, OneMinusLogUniform, Choice); got {dist!r}.  "
                            f"For a fixed value use Choice([value])")
    return dict(space)


def sample_params(space, rng):
    """One value per hyperparameter, drawn in the space's order from ``rng``."""
    return {name: dist.sample(rng) for name, dist in space.items()}


def space_spec(space):
    return {name: dist.spec() for name, dist in space.items()}


def space_from_spec(spec):
    """Rebuild ``{name: Distribution}`` from ``space_spec``'s output."""
    space = {}
    for name, d in spec.items():
        d = dict(d)
        cls = _TYPES.get(d.pop("type", None))
        if cls is None:
            raise ValueError(f"space_from_spec: {name!r} has an unknown space type in {spec[name]!r}")
        space[name] = cls(**d)
    return space
