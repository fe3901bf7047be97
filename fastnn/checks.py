"""Checks of the scalar arguments of fastnn's public API, in one place.

Every check takes ``(value, name, func, ...)`` and returns the value
converted (an ``int``, a ``float``, a ``bool``), or raises a
``ParameterError`` that reads ``"{func}: {name} must be ...; got {value!r}"``.

Design: a ParameterError is both a ValueError and a TypeError (as
scikit-learn's InvalidParameterError is), so callers catch what they expect
whether the value had the wrong type or the wrong size.  bool is never a
number here (``True`` is not an epoch count), NumPy scalars are.  The
checks of kernel arguments (arrays, shapes, dtypes) stay next to the
kernels in ``fastnn._validation``, shared with their NumPy twins.
"""
import math
import numbers

__all__ = ["ParameterError", "check_int", "check_number", "check_bool", "check_choice"]

_MAX_INT = 2 ** 62


class ParameterError(ValueError, TypeError):
    """A public function got an argument it cannot use."""


def _is_bool(value):
    return isinstance(value, bool) or type(value).__name__ == "bool_"


def _bounds(low, high, low_open, high_open):
    if low is not None and high is not None:
        return f"in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    if low is not None:
        return f"{'>' if low_open else '>='} {low}"
    if high is not None:
        return f"{'<' if high_open else '<='} {high}"
    return ""


def check_int(value, name, func, low=None, high=None, what="", *, counter=False):
    """An integer (Python or NumPy, not bool) in [low, high]; with
    ``counter``, at most 2**62 too (a count the kernels hold in 64 bits)."""
    why = f" ({what})" if what else ""
    bound = _bounds(low, high, False, False)
    if (_is_bool(value) or not isinstance(value, numbers.Integral)
            or (low is not None and value < low) or (high is not None and value > high)):
        raise ParameterError(f"{func}: {name} must be an integer{' ' + bound if bound else ''}"
                             f"{why}; got {value!r}")
    if counter and value > _MAX_INT:
        raise ParameterError(f"{func}: {name} must be at most 2**62; got {value!r}")
    return int(value)


def check_number(value, name, func, low=None, high=None, *, low_open=False, high_open=False,
                 what=""):
    """A finite real number (Python or NumPy, not bool) within the bounds."""
    why = f" ({what})" if what else ""
    bound = _bounds(low, high, low_open, high_open)
    bound = " " + bound if bound else ""
    if _is_bool(value) or not isinstance(value, numbers.Real):
        raise ParameterError(f"{func}: {name} must be a real number{bound}{why}; got {value!r}")
    try:
        v = float(value)
    except OverflowError:           # an int beyond any float
        v = math.inf
    if not (math.isfinite(v)
            and (low is None or (v > low if low_open else v >= low))
            and (high is None or (v < high if high_open else v <= high))):
        raise ParameterError(f"{func}: {name} must be a finite number{bound}{why}; "
                             f"got {value!r:.60}")
    return v


def check_bool(value, name, func):
    """True or False (a NumPy bool too)."""
    if not _is_bool(value):
        raise ParameterError(f"{func}: {name} must be True or False; got {value!r}")
    return bool(value)


def check_choice(value, name, func, choices):
    """One of ``choices`` (compared with ==, so strings and None work)."""
    if not any(value == c and type(value) is type(c) for c in choices):
        raise ParameterError(f"{func}: {name} must be one of {list(choices)}; got {value!r}")
    return value
