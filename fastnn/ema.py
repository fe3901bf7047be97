"""Exponentially weighted (moving) averages, with the course's bias correction.

    v_0 = 0,   v_t = beta * v_{t-1} + (1 - beta) * theta_t
    corrected: v_t / (1 - beta^t)

v_t averages roughly the last 1 / (1 - beta) values (beta = 0.9: about 10).
Because v_0 = 0, the first averages are too small: with beta = 0.98,
v_2 = 0.0196 theta_1 + 0.02 theta_2, and dividing by 1 - 0.98^2 = 0.0396
makes the weights sum to 1.  The same averages drive momentum, RMSprop and
Adam (fastnn.optim) and batch norm's running statistics.
"""

import numpy as np

from fastnn import checks

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage:
    """Average of a stream of numbers or equally shaped arrays.

    >>> ema = ExponentialMovingAverage(0.98)
    >>> ema.update(1.0)     # v_1 = 0.02, corrected 0.02 / 0.02
    1.0

    beta : float in [0, 1), the weight of the old average.
    bias_correction : return v_t / (1 - beta^t) (default) rather than v_t.
    """

    def __init__(self, beta, bias_correction=True):
        self.beta = checks.check_number(beta, "beta", "ExponentialMovingAverage", 0, 1,
                                        high_open=True)
        self.bias_correction = bool(bias_correction)
        self.reset()

    def reset(self):
        """Forget every value seen (t = 0, v = 0)."""
        self.t = 0
        self._v = None   # float, or an ndarray of floats

    def update(self, x):
        """Add one value; return the current (corrected) average: a float for
        numbers, a new array for arrays."""
        if np.ndim(x) == 0 and not isinstance(x, np.ndarray):
            x = float(x)
        else:
            x = np.asarray(x)
            if x.dtype.kind != "f":
                x = x.astype(np.float64)
            if self._v is not None and np.shape(self._v) != x.shape:
                raise ValueError(f"ExponentialMovingAverage.update: x must have the shape "
                                 f"{np.shape(self._v)} of the values before it; got {x.shape}")
        v = 0.0 if self._v is None else self._v
        self._v = self.beta * v + (1.0 - self.beta) * x      # v_t = beta v_{t-1} + (1-beta) x
        self.t += 1
        return self.value

    @property
    def value(self):
        """The current average (None before the first update)."""
        if self._v is None:
            return None
        v = self._v
        if self.bias_correction:
            v = v / (1.0 - self.beta ** self.t)               # v_t / (1 - beta^t)
        return v.copy() if isinstance(v, np.ndarray) and v is self._v else v

    @property
    def uncorrected(self):
        """v_t without the bias correction (None before the first update)."""
        v = self._v
        return v.copy() if isinstance(v, np.ndarray) else v

    def __repr__(self):
        return (f"ExponentialMovingAverage(beta={self.beta!r}, "
                f"bias_correction={self.bias_correction!r}, t={self.t})")
