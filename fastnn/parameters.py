"""Flat parameter storage: all of a model's parameters in one contiguous buffer.

Design: a ``ParameterBuffer`` owns one 1-D array of one dtype; each named
parameter ("dense_1.W", "dense_1.b", "batchnorm_2.gamma", ...) is a view of a
slice of it, in the order added.  A second buffer of the same layout holds
the gradients, and optimizers ask for further ones for their state (Adam's v
and s), allocated on first use.  An optimizer step is then one kernel call
over three or four flat arrays, whatever the number of layers.

The capacity (total number of scalars) is fixed when the buffer is made, so
the storage never moves and the views handed out stay valid for the
buffer's life: layers keep their W and dW views and the backward pass writes
straight into the gradient buffer.  A model computes the capacity from its
layers' shapes first (``ParameterBuffer.size_of``), or builds the buffer
from existing arrays (``ParameterBuffer.from_arrays``).

One buffer holds one dtype; a model mixing dtypes would hold one per dtype.

    buf = ParameterBuffer(ParameterBuffer.size_of([(784, 64), (64,)]), "float32")
    W = buf.add("dense_1.W", init=rng.standard_normal((784, 64)) * 0.05)
    b = buf.add("dense_1.b", (64,))              # zeros
    dW, db = buf.grad("dense_1.W"), buf.grad("dense_1.b")
    ...                                          # backward writes into dW, db
    optimizer.step(buf)                          # one kernel call
"""
import secrets
from math import prod

import numpy as np

from fastnn import checks

__all__ = ["ParameterBuffer"]

_ALIGN = 64   # bytes: the start of every flat buffer is cache-line aligned


def _aligned_zeros(n, dtype):
    """A zeroed 1-D array of n elements whose data starts on a 64-byte boundary."""
    itemsize = dtype.itemsize
    raw = np.zeros(n * itemsize + _ALIGN, dtype=np.uint8)
    start = (-raw.ctypes.data) % _ALIGN
    return raw[start:start + n * itemsize].view(dtype)


def _realigned(a):
    """A copy of the 1-D array ``a`` whose data starts on a 64-byte boundary."""
    out = _aligned_zeros(a.shape[0], a.dtype)
    out[...] = a
    return out


def _check_shape(shape, func):
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise TypeError(f"{func}: shape must be a tuple of integers; got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise ValueError(f"{func}: shape must not have negative dimensions; got {shape}")
    return shape


class ParameterBuffer:
    """Named parameters as views of one flat buffer, with gradients and state.

    capacity : int >= 0, total number of scalars the parameters will take.
    dtype : "float32" (default) or "float64".
    """

    def __init__(self, capacity, dtype="float32"):
        capacity = checks.check_int(capacity, "capacity", "ParameterBuffer", 0,
                                    what="the total number of scalars")
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise TypeError(f"ParameterBuffer: dtype must be float32 or float64; got {self.dtype}")
        self.capacity = int(capacity)
        # tells optimizers whose state they hold (one model's, never two);
        # random, so that it stays unique across processes (pickled models)
        self.uid = secrets.randbits(64)
        self.size = 0                      # scalars used so far
        self._params = _aligned_zeros(self.capacity, self.dtype)
        self._grads = _aligned_zeros(self.capacity, self.dtype)
        self._state = {}                   # key -> flat array of capacity elements
        self._slots = {}                   # name -> (offset, shape), in order added

    # ------------------------------------------------------------ building
    @staticmethod
    def size_of(shapes):
        """Total number of scalars of parameters of these shapes."""
        return sum(prod(_check_shape(s, "ParameterBuffer.size_of")) for s in shapes)

    @classmethod
    def from_arrays(cls, arrays, dtype=None):
        """A full buffer holding copies of ``arrays`` (a dict name -> array, or
        (name, array) pairs), in that order.  dtype defaults to the arrays'
        (float64 if they differ)."""
        items = list(arrays.items()) if isinstance(arrays, dict) else list(arrays)
        if dtype is None:
            dtypes = {np.asarray(a).dtype for _, a in items}
            dtype = dtypes.pop() if len(dtypes) == 1 else np.float64
            if np.dtype(dtype) not in (np.float32, np.float64):
                dtype = np.float64
        buf = cls(cls.size_of(np.shape(a) for _, a in items), dtype)
        for name, a in items:
            buf.add(name, init=a)
        return buf

    @classmethod
    def from_shapes(cls, shapes, dtype="float32"):
        """A full buffer of zero parameters of these shapes (a dict name -> shape,
        or (name, shape) pairs)."""
        items = list(shapes.items()) if isinstance(shapes, dict) else list(shapes)
        buf = cls(cls.size_of(s for _, s in items), dtype)
        for name, shape in items:
            buf.add(name, shape)
        return buf

    def add(self, name, shape=None, init=None):
        """Reserve the next ``prod(shape)`` scalars for parameter ``name``; return
        its view (of ``shape``), valid for the buffer's life.

        init : None (zeros), a number, or an array of ``shape`` (copied in; a
            float64 initializer is rounded to a float32 buffer).  ``shape``
            defaults to the shape of an array ``init``.
        """
        func = "ParameterBuffer.add"
        if not isinstance(name, str) or not name:
            raise TypeError(f"{func}: name must be a non-empty string; got {name!r}")
        if name in self._slots:
            raise ValueError(f"{func}: a parameter named {name!r} is already in the buffer")
        if shape is None:
            if init is None or np.ndim(init) == 0:
                raise ValueError(f"{func}: give the shape of {name!r} (or an init array)")
            shape = np.shape(init)
        shape = _check_shape(shape, func)
        n = prod(shape)
        if self.size + n > self.capacity:
            raise ValueError(f"{func}: {name!r} of shape {shape} needs {n} scalars but only "
                             f"{self.capacity - self.size} of the capacity {self.capacity} are "
                             f"left; size the buffer with ParameterBuffer.size_of(all shapes)")
        if init is not None:
            init_arr = np.asarray(init)
            if init_arr.dtype.kind not in "biuf":
                raise TypeError(f"{func}: init of {name!r} must be numeric; got dtype {init_arr.dtype}")
            if init_arr.ndim and init_arr.shape != shape:
                raise ValueError(f"{func}: init of {name!r} must have shape {shape}; "
                                 f"got {init_arr.shape}")
            if not np.all(np.isfinite(init_arr)):
                raise ValueError(f"{func}: init of {name!r} contains NaN or Inf")
        offset = self.size
        self._slots[name] = (offset, shape)
        self.size += n
        view = self._params[offset:offset + n].reshape(shape)
        if init is not None:
            view[...] = init_arr
        return view

    def __setstate__(self, state):
        # pickle and deepcopy copy the flat arrays without their 64-byte
        # alignment, and a GEMM on unaligned rows may round otherwise: a copy
        # of a model must compute the same bits as the model
        self.__dict__.update(state)
        self._params = _realigned(self._params)
        self._grads = _realigned(self._grads)
        self._state = {key: _realigned(a) for key, a in self._state.items()}

    # ------------------------------------------------------------ access
    def _slot(self, name):
        try:
            return self._slots[name]
        except KeyError:
            raise KeyError(f"ParameterBuffer: no parameter named {name!r}; "
                           f"have {list(self._slots)}") from None

    def _view(self, flat, name):
        offset, shape = self._slot(name)
        return flat[offset:offset + prod(shape)].reshape(shape)

    def __getitem__(self, name):
        """The parameter ``name`` (a view)."""
        return self._view(self._params, name)

    param = __getitem__

    def grad(self, name):
        """The gradient of parameter ``name`` (a view of the gradient buffer)."""
        return self._view(self._grads, name)

    def __contains__(self, name):
        return name in self._slots

    def __iter__(self):
        return iter(self._slots)

    def __len__(self):
        return len(self._slots)

    @property
    def names(self):
        """Parameter names, in the order added (the order of the flat buffer)."""
        return list(self._slots)

    @property
    def layout(self):
        """[(name, offset, shape)] in buffer order: enough to rebuild the views."""
        return [(name, off, shape) for name, (off, shape) in self._slots.items()]

    def items(self):
        """(name, parameter view) pairs in buffer order."""
        return [(name, self[name]) for name in self._slots]

    def params(self):
        """The parameter views, in buffer order."""
        return [self[name] for name in self._slots]

    def grads(self):
        """The gradient views, in buffer order."""
        return [self.grad(name) for name in self._slots]

    def flat(self):
        """All parameters as one 1-D view (the used part of the buffer)."""
        return self._params[:self.size]

    def flat_grad(self):
        """All gradients as one 1-D view, laid out as ``flat()``."""
        return self._grads[:self.size]

    def zero_grad(self):
        """Set every gradient to 0."""
        self._grads[...] = 0

    # ------------------------------------------------------------ optimizer state
    def state(self, key):
        """The flat state buffer ``key`` (e.g. "Adam.v"), laid out as ``flat()``;
        allocated, zeroed, on first use."""
        if key not in self._state:
            self._state[key] = _aligned_zeros(self.capacity, self.dtype)
        return self._state[key][:self.size]

    def state_view(self, key, name):
        """The part of state buffer ``key`` that belongs to parameter ``name``."""
        if key not in self._state:
            raise KeyError(f"ParameterBuffer: no state {key!r}; have {sorted(self._state)}")
        return self._view(self._state[key], name)

    def state_keys(self):
        return sorted(self._state)

    def drop_state(self, key):
        """Free state buffer ``key`` (e.g. after switching optimizers)."""
        self._state.pop(key, None)

    @property
    def nbytes(self):
        """Bytes held: parameters, gradients and state buffers."""
        return (2 + len(self._state)) * self.capacity * self.dtype.itemsize

    def __repr__(self):
        return (f"ParameterBuffer({len(self)} parameters, {self.size}/{self.capacity} "
                f"scalars, {self.dtype})")
