"""Argument checks at the Python boundary of every kernel.

Design: the C kernels trust their inputs; these checks are what makes that
safe.  Each failure names the function, the argument, what was expected and
what came.  They are compiled (cpdef) because they run on every kernel call,
and the NumPy twins in ``fastnn.numpy_ops`` call the very same functions, so
both implementations reject exactly the same inputs with the same messages.
"""
import math
from collections import namedtuple

import numpy as np
cimport numpy as cnp

from fastnn._csrc cimport (FNN_OK, FNN_ENOMEM, FNN_FLOAT32, FNN_FLOAT64,
                           FNN_LINEAR, FNN_RELU, FNN_LEAKY_RELU, FNN_TANH,
                           FNN_SIGMOID, FNN_SOFTMAX)

cnp.import_array()

ACTIVATIONS = {
    "linear": FNN_LINEAR,
    "relu": FNN_RELU,
    "leaky_relu": FNN_LEAKY_RELU,
    "tanh": FNN_TANH,
    "sigmoid": FNN_SIGMOID,
    "softmax": FNN_SOFTMAX,
}

_ORDINAL = {1: "1-D", 2: "2-D"}
cdef double _FLOAT32_TINY = np.finfo(np.float32).tiny     # smallest normal numbers
# all_finite checks arrays up to this many elements in one serial loop
cdef Py_ssize_t _SMALL_FINITE = 1 << 15
cdef double _FLOAT64_TINY = np.finfo(np.float64).tiny


cpdef bint all_finite(object a):
    """True when no element of the array ``a`` is NaN or +-Inf.

    One pass, no temporary: a sum of squares is finite only if every term
    is (NaN and Inf propagate through it, and squares cannot cancel), which
    holds for almost all data; only when it is not finite (a NaN, an Inf, or
    values whose squares overflow) are the elements tested one by one.  On a
    contiguous float array the sum of squares is fastnn's own kernel
    (fastnn._loss.sum_squares, imported here: _loss itself imports this
    module), on its threads; otherwise NumPy's sum."""
    cdef Py_ssize_t i, n
    cdef const float *f32
    cdef const double *f64
    cdef int finite
    if isinstance(a, cnp.ndarray) and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>a):
        n = cnp.PyArray_SIZE(<cnp.ndarray>a)
        if n <= _SMALL_FINITE:
            # a few rows (predict on one example): x - x is 0 for a finite x, NaN
            # otherwise; one loop here costs less than starting the sum below
            if cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT32:
                f32 = <const float *>cnp.PyArray_DATA(<cnp.ndarray>a)
                finite = 1
                for i in range(n):
                    finite &= (f32[i] - f32[i]) == 0
                return finite
            if cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT64:
                f64 = <const double *>cnp.PyArray_DATA(<cnp.ndarray>a)
                finite = 1
                for i in range(n):
                    finite &= (f64[i] - f64[i]) == 0
                return finite
    from fastnn._loss import sum_squares
    a = np.asarray(a)
    if a.dtype.kind in "biu" or a.size == 0:
        return True
    with np.errstate(over="ignore", invalid="ignore"):     # no warning about the sum
        if a.dtype.kind == "f" and a.flags.c_contiguous and a.dtype.itemsize in (4, 8):
            total = sum_squares(a)
        else:
            total = np.sum(a)
        if np.isfinite(total):
            return True
    return bool(np.isfinite(a).all())


cpdef cnp.ndarray check_array(object x, str name, str func, int ndim, object dtype=None):
    """Return x if it is a non-empty, C-contiguous float32/float64 ndarray of
    `ndim` dimensions (any number when ndim < 0) and of `dtype` when given;
    raise otherwise."""
    cdef cnp.ndarray a
    if not isinstance(x, cnp.ndarray):
        raise TypeError(f"{func}: {name} must be a numpy.ndarray; got {type(x).__name__}")
    a = <cnp.ndarray>x
    if ndim >= 0 and cnp.PyArray_NDIM(a) != ndim:
        raise ValueError(f"{func}: {name} must be {_ORDINAL.get(ndim, f'{ndim}-D')}; "
                         f"got {cnp.PyArray_NDIM(a)}-D array of shape {(<object>a).shape}")
    if not cnp.PyArray_ISNOTSWAPPED(a):
        raise ValueError(f"{func}: {name} must be in the machine's byte order; got {a.dtype} "
                         f"(use {name}.astype({name}.dtype.newbyteorder('=')))")
    cdef int t = cnp.PyArray_TYPE(a)
    if dtype is None:
        if t != cnp.NPY_FLOAT32 and t != cnp.NPY_FLOAT64:
            raise TypeError(f"{func}: {name} must be float32 or float64; got {a.dtype}")
    elif a.dtype != dtype:
        raise TypeError(f"{func}: {name} must have dtype {np.dtype(dtype)} like the other "
                        f"arrays of this call (no silent casts); got {a.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{func}: {name} must be C-contiguous; got a strided array "
                         f"(use numpy.ascontiguousarray({name}))")
    if cnp.PyArray_SIZE(a) == 0:
        raise ValueError(f"{func}: {name} must not be empty; got shape {(<object>a).shape}")
    return a


cpdef cnp.ndarray check_out(object out, str name, str func, tuple shape, object dtype):
    """Return a caller-provided output buffer after checking it, or a new one."""
    if out is None:
        return np.empty(shape, dtype=dtype)
    if not isinstance(out, cnp.ndarray):
        raise TypeError(f"{func}: output {name} must be a numpy.ndarray; got {type(out).__name__}")
    cdef cnp.ndarray a = <cnp.ndarray>out
    if (<object>a).shape != shape:
        raise ValueError(f"{func}: output {name} must have shape {shape}; got {(<object>a).shape}")
    if a.dtype != dtype:
        raise TypeError(f"{func}: output {name} must have dtype {np.dtype(dtype)}; got {a.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"{func}: output {name} must be C-contiguous")
    if not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{func}: output {name} must be writeable")
    return a


cpdef int activation_code(object activation, str func) except -1:
    """The C enum value of an activation name."""
    try:
        return ACTIVATIONS[activation]
    except (KeyError, TypeError):
        raise ValueError(f"{func}: activation must be one of {sorted(ACTIVATIONS)}; "
                         f"got {activation!r}") from None


cpdef int dtype_code(cnp.ndarray x) noexcept:
    return FNN_FLOAT64 if cnp.PyArray_TYPE(x) == cnp.NPY_FLOAT64 else FNN_FLOAT32


cpdef double check_real(object value, str name, str func, double low=-math.inf,
                        double high=math.inf, bint low_open=False,
                        bint high_open=False) except? -1.0:
    """A finite real number within [low, high] (ends open when asked)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a real number; got {value!r}")
    cdef double v = float(value)
    cdef str lo = "(" if low_open else "["
    cdef str hi = ")" if high_open else "]"
    if (not math.isfinite(v) or v < low or v > high
            or (low_open and v == low) or (high_open and v == high)):
        raise ValueError(f"{func}: {name} must be a finite number in {lo}{low:g}, {high:g}{hi}; "
                         f"got {value!r}")
    return v


cpdef raise_for_status(int status, str func):
    if status == FNN_OK:
        return
    if status == FNN_ENOMEM:
        raise MemoryError(f"{func}: could not allocate a kernel workspace")
    raise ValueError(f"{func}: the kernel rejected its arguments (status {status})")


cpdef cnp.ndarray class_targets(object y, Py_ssize_t m, Py_ssize_t k, object dtype, str func,
                                bint check_range=True):
    """Targets of a softmax over k classes for m rows, in kernel form.

    1-D: integer labels in [0, k) -> int64 array.  2-D (m, k): one-hot rows or
    class probabilities -> array of `dtype`.  Anything else raises.
    check_range=False leaves the range of integer labels to the C kernel,
    which checks every label anyway (its caller then calls this again to
    raise the error): a training step saves two reductions.
    """
    cdef cnp.ndarray a = np.asarray(y)
    if a.ndim == 1:
        if a.shape[0] != m:
            raise ValueError(f"{func}: y has {a.shape[0]} labels for {m} rows of Z")
        if a.dtype.kind == "f":
            if not all_finite(a) or not np.all(a == np.floor(a)):
                raise ValueError(f"{func}: float labels y must be whole numbers in [0, {k}); "
                                 f"got non-integral or non-finite values")
        elif a.dtype.kind not in "iu":
            raise TypeError(f"{func}: labels y must be integers in [0, {k}); got dtype {a.dtype}")
        if not check_range and a.dtype == np.int64:
            return np.ascontiguousarray(a)
        lo, hi = a.min(), a.max()
        if lo < 0 or hi >= k:
            bad = int(np.flatnonzero((a < 0) | (a >= k))[0])
            raise ValueError(f"{func}: labels y must be in [0, {k}) for {k} classes; "
                             f"got {a[bad].item()!r} at index {bad}")
        return np.ascontiguousarray(a, dtype=np.int64)
    if a.ndim == 2:
        if (<object>a).shape != (m, k):
            raise ValueError(f"{func}: one-hot y must have shape {(m, k)} like Z; got {(<object>a).shape}")
        return real_targets(a, (m, k), dtype, func, "one-hot or probability rows", 0.0, 1.0)
    raise ValueError(f"{func}: y must be 1-D integer labels ({m},) or 2-D one-hot {(m, k)}; "
                     f"got shape {(<object>a).shape}")


cpdef cnp.ndarray real_targets(object y, tuple shape, object dtype, str func, str what,
                               double low=-math.inf, double high=math.inf):
    """Real-valued targets of `shape` (a (m,) vector accepted for (m, 1)), finite,
    within [low, high], as a C-contiguous array of `dtype`."""
    cdef cnp.ndarray a = np.asarray(y)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{func}: y must be numeric ({what}); got dtype {a.dtype}")
    if (<object>a).shape != shape:
        if a.ndim == 1 and len(shape) == 2 and shape[1] == 1 and a.shape[0] == shape[0]:
            a = a.reshape(shape)
        else:
            raise ValueError(f"{func}: y must have shape {shape} ({what}); got {(<object>a).shape}")
    a = np.ascontiguousarray(a, dtype=dtype)
    if not all_finite(a):
        raise ValueError(f"{func}: y contains NaN or Inf")
    if low > -math.inf or high < math.inf:
        lo, hi = a.min(), a.max()
        if lo < low or hi > high:
            raise ValueError(f"{func}: y must be {what} in [{low:g}, {high:g}]; "
                             f"got values from {lo.item()!r} to {hi.item()!r}")
    return a


cdef _check_disjoint(tuple arrays, tuple names, str func):
    """No two arrays share memory.  For C-contiguous arrays the byte range
    [data, data + nbytes) is exactly the memory used, so comparing ranges is
    exact, and costs nothing next to numpy.shares_memory."""
    cdef Py_ssize_t i, j
    cdef char *lo_i
    cdef char *lo_j
    cdef cnp.ndarray a, b
    for i in range(len(arrays)):
        a = <cnp.ndarray>arrays[i]
        lo_i = <char *>cnp.PyArray_DATA(a)
        for j in range(i + 1, len(arrays)):
            b = <cnp.ndarray>arrays[j]
            lo_j = <char *>cnp.PyArray_DATA(b)
            if lo_i < lo_j + cnp.PyArray_NBYTES(b) and lo_j < lo_i + cnp.PyArray_NBYTES(a):
                raise ValueError(f"{func}: {names[i]} and {names[j]} must be separate arrays; "
                                 f"they overlap in memory")


cdef tuple _unpack(object out, int n, str func):
    if out is None:
        return (None,) * n
    if not isinstance(out, (tuple, list)) or len(out) != n:
        raise TypeError(f"{func}: out must be a tuple of {n} arrays (None for any to allocate); "
                        f"got {type(out).__name__}")
    return tuple(out)


cdef cnp.ndarray _check_chain(object A_prev, object W, str func):
    """A_prev (m, n_in) and W (n_in, n_out) of one float dtype; returns A_prev."""
    cdef cnp.ndarray a = check_array(A_prev, "A_prev", func, 2)
    cdef cnp.ndarray w = check_array(W, "W", func, 2, a.dtype)
    if w.shape[0] != a.shape[1]:
        raise ValueError(f"{func}: W must have shape ({a.shape[1]}, n_out) to chain with "
                         f"A_prev of shape {(<object>a).shape}; got {(<object>w).shape}")
    return a


cpdef tuple dense_forward_args(object A_prev, object W, object b, object activation,
                               bint keep_z, object out, object negative_slope):
    """Checked arguments of dense_forward:
    (A_prev, W, b or None, activation code, slope, Z buffer, A buffer)."""
    cdef str func = "dense_forward"
    cdef cnp.ndarray a_prev = _check_chain(A_prev, W, func)
    cdef object dtype = a_prev.dtype
    cdef Py_ssize_t n_out = (<cnp.ndarray>W).shape[1]
    cdef cnp.ndarray bias = None
    cdef int act = activation_code(activation, func)
    cdef double slope = check_real(negative_slope, "negative_slope", func)
    if b is not None:
        bias = check_array(b, "b", func, 1, dtype)
        if bias.shape[0] != n_out:
            raise ValueError(f"{func}: b must have shape ({n_out},) to match W of shape "
                             f"{W.shape}; got {(<object>bias).shape}")
    z_out, a_out = _unpack(out, 2, func)
    cdef tuple shape = (a_prev.shape[0], n_out)
    cdef cnp.ndarray A = check_out(a_out, "A", func, shape, dtype)
    cdef cnp.ndarray Z = None
    if keep_z:
        Z = check_out(z_out, "Z", func, shape, dtype)
        if Z is A:
            raise ValueError(f"{func}: out Z and out A must be different arrays when keep_z=True")
        _check_disjoint((Z, A, a_prev, W) + ((bias,) if bias is not None else ()),
                        ("out Z", "out A", "A_prev", "W", "b"), func)
    else:
        _check_disjoint((A, a_prev, W) + ((bias,) if bias is not None else ()),
                        ("out A", "A_prev", "W", "b"), func)
    return a_prev, W, bias, act, slope, Z, A


cpdef tuple dense_backward_args(object dA, object Z, object A_prev, object W,
                                object activation, object l2, bint need_dA_prev,
                                object out, object workspace, object negative_slope):
    """Checked arguments of dense_backward:
    (dA, Z, A_prev, W, activation code, l2, slope, dA_prev or None, dW, db, dZ buffer)."""
    cdef str func = "dense_backward"
    cdef cnp.ndarray a_prev = _check_chain(A_prev, W, func)
    cdef object dtype = a_prev.dtype
    cdef cnp.ndarray w = <cnp.ndarray>W
    cdef tuple shape = (a_prev.shape[0], w.shape[1])
    cdef cnp.ndarray da = check_array(dA, "dA", func, 2, dtype)
    cdef cnp.ndarray z = check_array(Z, "Z", func, 2, dtype)
    if (<object>da).shape != shape:
        raise ValueError(f"{func}: dA must have shape {shape} (rows of A_prev, columns of W); "
                         f"got {(<object>da).shape}")
    if (<object>z).shape != shape:
        raise ValueError(f"{func}: Z must have shape {shape} (rows of A_prev, columns of W); "
                         f"got {(<object>z).shape}")
    cdef int act = activation_code(activation, func)
    cdef double lam = check_real(l2, "l2", func, 0.0)
    cdef double slope = check_real(negative_slope, "negative_slope", func)
    da_prev_out, dw_out, db_out = _unpack(out, 3, func)
    cdef cnp.ndarray dW = check_out(dw_out, "dW", func, (w.shape[0], w.shape[1]), dtype)
    cdef cnp.ndarray db = check_out(db_out, "db", func, (w.shape[1],), dtype)
    cdef cnp.ndarray dA_prev = None
    if need_dA_prev:
        dA_prev = check_out(da_prev_out, "dA_prev", func, (<object>a_prev).shape, dtype)
    cdef cnp.ndarray dZ = da
    if workspace is not None or act != FNN_LINEAR:
        dZ = check_out(workspace, "workspace", func, shape, dtype)
    if act == FNN_LINEAR:
        dZ = da        # g' = 1: dZ is dA itself, nothing to write
    # outputs apart from each other and from the inputs; dZ may be dA itself
    cdef tuple outs = (dW, db) + ((dA_prev,) if dA_prev is not None else ())
    cdef tuple out_names = ("out dW", "out db", "out dA_prev")
    _check_disjoint(outs + (w, a_prev, z), out_names[:len(outs)] + ("W", "A_prev", "Z"), func)
    _check_disjoint(outs + (da,), out_names[:len(outs)] + ("dA",), func)
    if dZ is not da:
        _check_disjoint(outs + (dZ, w, a_prev, z, da),
                        out_names[:len(outs)] + ("workspace", "W", "A_prev", "Z", "dA"), func)
    return da, z, a_prev, w, act, lam, slope, dA_prev, dW, db, dZ


cpdef tuple loss_args(object Z, object y, int target_kind, bint compute_grad, object out,
                      str func, bint check_range=True):
    """Checked (Z, targets, dZ buffer or None) of a loss.  target_kind: 0 class
    labels or one-hot rows, 1 binary targets in [0, 1], 2 real targets;
    check_range: see class_targets."""
    cdef str zname = "P" if target_kind == 2 else "Z"
    cdef cnp.ndarray z = check_array(Z, zname, func, 2)
    cdef cnp.ndarray t
    if target_kind == 0:
        t = class_targets(y, z.shape[0], z.shape[1], z.dtype, func, check_range)
    elif target_kind == 1:
        t = real_targets(y, (<object>z).shape, z.dtype, func, "binary targets", 0.0, 1.0)
    else:
        t = real_targets(y, (<object>z).shape, z.dtype, func, "regression targets")
    cdef cnp.ndarray dZ = check_out(out, "d" + zname, func, (<object>z).shape, z.dtype) if compute_grad else None
    return z, t, dZ


cpdef cnp.ndarray sample_weight_args(object sample_weight, cnp.ndarray z, object dZ, str func,
                                     bint check_values=True):
    """Checked sample weights of a loss over the rows of z, or None (no weights).

    A 1-D C-contiguous array of z's dtype with one weight per row, apart from
    the output dZ; with check_values, every weight finite and >= 0 and their
    sum positive and finite.  check_values=False leaves the values to the C
    kernel, which checks them while it sums them (one pass instead of three
    here; its caller then calls this again to say which weight is wrong).
    """
    if sample_weight is None:
        return None
    cdef str zname = "P" if func == "mean_squared_error" else "Z"
    cdef cnp.ndarray w = check_array(sample_weight, "sample_weight", func, 1, z.dtype)
    cdef Py_ssize_t m = z.shape[0]
    if w.shape[0] != m:
        raise ValueError(f"{func}: sample_weight must have one weight per row of {zname}, "
                         f"shape ({m},); got shape {(<object>w).shape}")
    if dZ is not None:
        _check_disjoint((w, dZ), ("sample_weight", "output d" + zname), func)
    if check_values:
        check_weight_values(w, func)
    return w


cpdef check_weight_values(cnp.ndarray w, str func):
    """Raise unless every weight of w is finite and >= 0 and their sum positive
    and finite, naming the first weight that is not."""
    cdef object total
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(w, dtype=np.float64)
        if math.isfinite(total) and total > 0 and w.min() >= 0:
            return
        finite = np.isfinite(w)
    cdef Py_ssize_t bad
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise ValueError(f"{func}: sample_weight must be finite; got {w[bad].item()!r} "
                         f"at index {bad}")
    if w.min() < 0:
        bad = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"{func}: sample_weight must be >= 0; got {w[bad].item()!r} "
                         f"at index {bad}")
    if not total > 0:
        raise ValueError(f"{func}: sample_weight must have a positive sum (some weight > 0); "
                         f"got all {w.shape[0]} weights 0")
    raise ValueError(f"{func}: sample_weight must have a finite sum; got {float(total)!r} "
                     f"(the largest weight is {w.max().item()!r})")


cpdef tuple activation_args(object Z, object dA, object activation, object out,
                            object negative_slope, str func):
    """Checked (Z, dA or None, activation code, slope, output buffer) of an
    activation kernel; dA, when given, must match Z."""
    cdef cnp.ndarray z = check_array(Z, "Z", func, 2)
    cdef cnp.ndarray da = None
    if dA is not None:
        da = check_array(dA, "dA", func, 2, z.dtype)
        if (<object>da).shape != (<object>z).shape:
            raise ValueError(f"{func}: dA must have the shape of Z {(<object>z).shape}; "
                             f"got {(<object>da).shape}")
    cdef int act = activation_code(activation, func)
    cdef double slope = check_real(negative_slope, "negative_slope", func)
    cdef cnp.ndarray buf = check_out(out, "out", func, (<object>z).shape, z.dtype)
    return z, da, act, slope, buf


class BatchNormCache(namedtuple("BatchNormCache", ["Z", "gamma", "mu", "inv_std"])):
    """What batchnorm_backward needs from a training batchnorm_forward.

    Z : (m, n) the forward's input, held by reference: batchnorm_backward
        recomputes z_norm from it, so it must not change in between.
    gamma : (n,) the scale used, held by reference.
    mu : (n,) the batch mean.
    inv_std : (n,) 1 / sqrt(var + eps), var the biased batch variance.

    Shared by fastnn.ops and fastnn.numpy_ops, so either backward accepts a
    cache from either forward.  Passing a cache back as
    ``out=(Z_tilde, cache)`` makes batchnorm_forward reuse (overwrite) its mu
    and inv_std arrays.
    """
    __slots__ = ()

    @property
    def z_norm(self):
        """The normalised batch (Z - mu) * inv_std, computed on each access."""
        return (self.Z - self.mu) * self.inv_std


cdef object _may_share_memory = np.may_share_memory


cdef bint _same_or_disjoint(cnp.ndarray a, cnp.ndarray b):
    """True when a and b are the same memory (an in-place call) or do not
    overlap; a partial overlap would make an elementwise kernel read what it
    has already written."""
    if cnp.PyArray_DATA(a) == cnp.PyArray_DATA(b) and (<object>a).shape == (<object>b).shape:
        return True
    return not _may_share_memory(a, b)


cdef cnp.ndarray _check_vector(object x, str name, str func, Py_ssize_t n, object dtype,
                               str what, bint writeable):
    """A (n,) array of dtype (the per-column vectors of a batch-norm layer)."""
    cdef cnp.ndarray v = check_array(x, name, func, 1, dtype)
    if v.shape[0] != n:
        raise ValueError(f"{func}: {name} must have shape ({n},) to match {what}; "
                         f"got {(<object>v).shape}")
    if writeable and not cnp.PyArray_ISWRITEABLE(v):
        raise ValueError(f"{func}: {name} must be writeable (it is updated in place)")
    return v


cdef tuple _outputs(object out, int n, str func, str names):
    """out as an n-tuple: None, a single array (the first output), or a tuple."""
    if out is None:
        return (None,) * n
    if isinstance(out, cnp.ndarray):
        return (out,) + (None,) * (n - 1)
    if isinstance(out, (tuple, list)) and len(out) == n:
        return tuple(out)
    raise TypeError(f"{func}: out must be None, an array, or a tuple {names} "
                    f"(None for any to allocate); got {type(out).__name__}")


cdef bint _check_flag(object value, str name, str func) except -1:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be True or False; got {value!r}")
    return bool(value)


cpdef tuple batchnorm_forward_args(object Z, object gamma, object beta, object eps,
                                   object training, object running_mean, object running_var,
                                   object momentum, object out):
    """Checked arguments of batchnorm_forward: (Z, gamma, beta, eps, training,
    momentum, running_mean or None, running_var or None, Z_tilde buffer, and
    for training the mu and inv_std buffers, else None, None)."""
    cdef str func = "batchnorm_forward"
    cdef cnp.ndarray z = check_array(Z, "Z", func, 2)
    cdef object dtype = z.dtype
    cdef Py_ssize_t m = z.shape[0], n = z.shape[1]
    cdef str what = f"the {n} columns of Z"
    cdef cnp.ndarray g = _check_vector(gamma, "gamma", func, n, dtype, what, False)
    cdef cnp.ndarray b = _check_vector(beta, "beta", func, n, dtype, what, False)
    cdef double e = check_real(eps, "eps", func, 0.0, low_open=True)
    cdef bint train = _check_flag(training, "training", func)
    cdef double mom = check_real(momentum, "momentum (weight of the old running average)",
                                 func, 0.0, 1.0)
    cdef cnp.ndarray rm = None, rv = None
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{func}: pass both running_mean and running_var, or neither; "
                         f"got only {'running_mean' if running_var is None else 'running_var'}")
    if running_mean is not None:
        rm = _check_vector(running_mean, "running_mean", func, n, dtype, what, train)
        rv = _check_vector(running_var, "running_var", func, n, dtype, what, train)
        if train and _may_share_memory(rm, rv):
            raise ValueError(f"{func}: running_mean and running_var must be different arrays")
    elif not train:
        raise ValueError(f"{func}: training=False (inference) normalises with the running "
                         f"statistics; pass running_mean and running_var")
    if train and m < 2:
        raise ValueError(f"{func}: a training mini-batch needs at least 2 rows, since the "
                         f"variance of a single example is undefined; got Z of shape "
                         f"{(<object>z).shape} (drop such a last batch, or use training=False)")
    zt_out, cache_out = _outputs(out, 2, func, "(Z_tilde, cache)")
    cdef cnp.ndarray zt = check_out(zt_out, "Z_tilde", func, (m, n), dtype)
    if not train:
        if not _same_or_disjoint(zt, z):
            raise ValueError(f"{func}: output Z_tilde must be Z itself or not overlap it")
        return z, g, b, e, train, mom, rm, rv, zt, None, None
    if _may_share_memory(zt, z):
        raise ValueError(f"{func}: output Z_tilde must not overlap Z when training "
                         f"(batchnorm_backward recomputes z_norm from Z)")
    cdef cnp.ndarray mu, istd
    if cache_out is None:
        mu = np.empty(n, dtype=dtype)
        istd = np.empty(n, dtype=dtype)
    else:
        if not isinstance(cache_out, BatchNormCache):
            raise TypeError(f"{func}: the cache in out must be a BatchNormCache to reuse; "
                            f"got {type(cache_out).__name__}")
        mu = check_out(cache_out.mu, "cache.mu", func, (n,), dtype)
        istd = check_out(cache_out.inv_std, "cache.inv_std", func, (n,), dtype)
        if _may_share_memory(mu, istd):
            raise ValueError(f"{func}: cache.mu and cache.inv_std must be different arrays")
    return z, g, b, e, train, mom, rm, rv, zt, mu, istd


cpdef tuple batchnorm_backward_args(object dZ_tilde, object cache, object out):
    """Checked arguments of batchnorm_backward:
    (dZ_tilde, Z, gamma, mu, inv_std, dZ buffer, dgamma buffer, dbeta buffer)."""
    cdef str func = "batchnorm_backward"
    if not isinstance(cache, BatchNormCache):
        raise TypeError(f"{func}: cache must be the BatchNormCache returned by "
                        f"batchnorm_forward(..., training=True); got {type(cache).__name__}"
                        + (" (inference returns no cache)" if cache is None else ""))
    cdef cnp.ndarray z = check_array(cache.Z, "cache.Z", func, 2)
    cdef object dtype = z.dtype
    cdef Py_ssize_t m = z.shape[0], n = z.shape[1]
    cdef cnp.ndarray dzt = check_array(dZ_tilde, "dZ_tilde", func, 2, dtype)
    if (<object>dzt).shape != (<object>z).shape:
        raise ValueError(f"{func}: dZ_tilde must have the shape {(m, n)} of the forward "
                         f"batch; got {(<object>dzt).shape}")
    cdef str what = f"the {n} columns of the batch"
    cdef cnp.ndarray g = _check_vector(cache.gamma, "cache.gamma", func, n, dtype, what, False)
    cdef cnp.ndarray mu = _check_vector(cache.mu, "cache.mu", func, n, dtype, what, False)
    cdef cnp.ndarray istd = _check_vector(cache.inv_std, "cache.inv_std", func, n, dtype,
                                          what, False)
    dz_out, dg_out, db_out = _outputs(out, 3, func, "(dZ, dgamma, dbeta)")
    cdef cnp.ndarray dz = check_out(dz_out, "dZ", func, (m, n), dtype)
    if not _same_or_disjoint(dz, dzt) or _may_share_memory(dz, z):
        raise ValueError(f"{func}: output dZ must be dZ_tilde itself or overlap neither "
                         f"it nor cache.Z")
    cdef cnp.ndarray dg = check_out(dg_out, "dgamma", func, (n,), dtype)
    cdef cnp.ndarray db = check_out(db_out, "dbeta", func, (n,), dtype)
    return dzt, z, g, mu, istd, dz, dg, db


cdef object _check_seed(object seed, str func):
    if isinstance(seed, (bool, np.bool_)) or not hasattr(seed, "__index__"):
        raise TypeError(f"{func}: seed must be an integer in [0, 2**64); got {seed!r}")
    s = seed.__index__()
    if s < 0 or s >= 2 ** 64:
        raise ValueError(f"{func}: seed must be an integer in [0, 2**64); got {s}")
    return s


cpdef tuple dropout_forward_args(object A, object keep_prob, object seed, object out):
    """Checked arguments of dropout_forward: (A, keep_prob, seed, A_out buffer,
    mask buffer)."""
    cdef str func = "dropout_forward"
    cdef cnp.ndarray a = check_array(A, "A", func, 2)
    cdef double p = check_real(keep_prob, "keep_prob", func, 0.0, 1.0, low_open=True)
    s = _check_seed(seed, func)
    a_out, mask_out = _outputs(out, 2, func, "(A_out, mask)")
    cdef tuple shape = (<object>a).shape
    cdef cnp.ndarray ao = check_out(a_out, "A_out", func, shape, a.dtype)
    if not _same_or_disjoint(ao, a):
        raise ValueError(f"{func}: output A_out must be A itself or not overlap it")
    cdef cnp.ndarray mask = check_out(mask_out, "mask", func, shape, np.uint8)
    return a, p, s, ao, mask


cpdef tuple dropout_backward_args(object dA, object mask, object keep_prob, object out):
    """Checked arguments of dropout_backward: (dA, mask as uint8, keep_prob,
    dA_prev buffer)."""
    cdef str func = "dropout_backward"
    cdef cnp.ndarray da = check_array(dA, "dA", func, 2)
    cdef tuple shape = (<object>da).shape
    if not isinstance(mask, cnp.ndarray):
        raise TypeError(f"{func}: mask must be the numpy.ndarray returned by dropout_forward; "
                        f"got {type(mask).__name__}")
    cdef cnp.ndarray mk = <cnp.ndarray>mask
    if mk.dtype != np.uint8 and mk.dtype != np.bool_:
        raise TypeError(f"{func}: mask must have dtype uint8 (or bool) as dropout_forward "
                        f"returns it; got {mk.dtype}")
    if (<object>mk).shape != shape:
        raise ValueError(f"{func}: mask must have the shape {shape} of dA; "
                         f"got {(<object>mk).shape}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(mk):
        raise ValueError(f"{func}: mask must be C-contiguous")
    if mk.dtype == np.bool_:
        mk = mk.view(np.uint8)
    cdef double p = check_real(keep_prob, "keep_prob", func, 0.0, 1.0, low_open=True)
    cdef cnp.ndarray dap = check_out(out, "dA_prev", func, shape, da.dtype)
    if not _same_or_disjoint(dap, da):
        raise ValueError(f"{func}: output dA_prev must be dA itself or not overlap it")
    return da, mk, p, dap


# ---------------------------------------------------------------- optimizers

cdef double check_positive(object value, str name, str func,
                            bint allow_zero=False) except? -1.0:
    """A finite real number > 0 (>= 0 with allow_zero)."""
    cdef str bound = ">= 0" if allow_zero else "> 0"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{func}: {name} must be a real number {bound}; got {value!r}")
    cdef double v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{func}: {name} must be a finite number {bound}; got {value!r}")
    return v


cdef long long check_int(object value, str name, str func, long long low,
                          str what="") except? -1:
    """An integer >= low (Python int or NumPy integer, not bool or float)."""
    cdef str why = f" ({what})" if what else ""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{func}: {name} must be an integer >= {low}{why}; got {value!r}")
    if value < low:
        raise ValueError(f"{func}: {name} must be an integer >= {low}{why}; got {value!r}")
    if value > 2**62:
        raise ValueError(f"{func}: {name} must be at most 2**62; got {value!r}")
    return int(value)


cdef bint check_bool(object value, str name, str func) except -1:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{func}: {name} must be True or False; got {value!r}")
    return bool(value)


cdef double check_learning_rate(object value, str func) except? -1.0:
    return check_positive(value, "learning_rate", func)


cdef double check_beta(object value, str name, str func) except? -1.0:
    """A decay rate of an exponentially weighted average: in [0, 1)."""
    return check_real(value, name, func, 0.0, 1.0, False, True)


cdef cnp.ndarray _param_array(object x, str name, str func, cnp.ndarray w, bint writeable):
    """x checked as an optimizer array: C-contiguous float32/float64 of any
    shape, of w's dtype and shape (x is w itself when w is None), writeable
    when it is updated in place."""
    cdef cnp.ndarray a
    if w is None:
        a = check_array(x, name, func, -1)
    else:
        a = check_array(x, name, func, -1, w.dtype)
        if (<object>a).shape != (<object>w).shape:
            raise ValueError(f"{func}: {name} must have the shape {(<object>w).shape} of w; "
                             f"got {(<object>a).shape}")
    if writeable and not cnp.PyArray_ISWRITEABLE(a):
        raise ValueError(f"{func}: {name} must be writeable (it is updated in place); "
                         f"got a read-only array")
    return a


cpdef tuple sgd_step_args(object w, object g, object learning_rate, object l2, object m):
    """Checked (w, g, learning_rate, decay = l2 / m) of sgd_step."""
    cdef str func = "sgd_step"
    cdef cnp.ndarray w_ = _param_array(w, "w", func, None, True)
    cdef cnp.ndarray g_ = _param_array(g, "g", func, w_, False)
    _check_disjoint((w_, g_), ("w", "g"), func)
    cdef double lr = check_learning_rate(learning_rate, func)
    cdef double lam = check_positive(l2, "l2", func, True)
    cdef long long m_ = check_int(m, "m", func, 1, "the number of examples the cost averages over")
    return w_, g_, lr, lam / m_


cpdef tuple momentum_step_args(object w, object g, object v, object learning_rate,
                               object beta, object nesterov, object average):
    """Checked (w, g, v, learning_rate, beta, nesterov, average) of momentum_step."""
    cdef str func = "momentum_step"
    cdef cnp.ndarray w_ = _param_array(w, "w", func, None, True)
    cdef cnp.ndarray g_ = _param_array(g, "g", func, w_, False)
    cdef cnp.ndarray v_ = _param_array(v, "v", func, w_, True)
    _check_disjoint((w_, g_, v_), ("w", "g", "v"), func)
    return (w_, g_, v_, check_learning_rate(learning_rate, func),
            check_beta(beta, "beta", func), check_bool(nesterov, "nesterov", func),
            check_bool(average, "average", func))


cdef double _check_eps(object eps, cnp.ndarray w, str func) except? -1.0:
    # The compiled steps flush subnormals to zero (csrc/common.h): a
    # subnormal eps would become 0 there and 0 / 0 a NaN where g = s = 0.
    cdef double e = check_positive(eps, "eps", func)
    cdef double tiny = _FLOAT32_TINY if w.itemsize == 4 else _FLOAT64_TINY
    if e < tiny:
        raise ValueError(f"{func}: eps must be at least the smallest normal {w.dtype} number "
                         f"({tiny:.4g}); got {eps!r}")
    return e


cpdef tuple rmsprop_step_args(object w, object g, object s, object learning_rate,
                              object beta, object eps):
    """Checked (w, g, s, learning_rate, beta, eps) of rmsprop_step."""
    cdef str func = "rmsprop_step"
    cdef cnp.ndarray w_ = _param_array(w, "w", func, None, True)
    cdef cnp.ndarray g_ = _param_array(g, "g", func, w_, False)
    cdef cnp.ndarray s_ = _param_array(s, "s", func, w_, True)
    _check_disjoint((w_, g_, s_), ("w", "g", "s"), func)
    return (w_, g_, s_, check_learning_rate(learning_rate, func),
            check_beta(beta, "beta", func), _check_eps(eps, w_, func))


cpdef tuple adam_step_args(object w, object g, object v, object s, object t,
                           object learning_rate, object beta1, object beta2, object eps,
                           object weight_decay):
    """Checked (w, g, v, s, t, learning_rate, beta1, beta2, eps, weight_decay)
    of adam_step."""
    cdef str func = "adam_step"
    cdef cnp.ndarray w_ = _param_array(w, "w", func, None, True)
    cdef cnp.ndarray g_ = _param_array(g, "g", func, w_, False)
    cdef cnp.ndarray v_ = _param_array(v, "v", func, w_, True)
    cdef cnp.ndarray s_ = _param_array(s, "s", func, w_, True)
    _check_disjoint((w_, g_, v_, s_), ("w", "g", "v", "s"), func)
    return (w_, g_, v_, s_,
            check_int(t, "t", func, 1, "the number of this step, counting from 1"),
            check_learning_rate(learning_rate, func),
            check_beta(beta1, "beta1", func), check_beta(beta2, "beta2", func),
            _check_eps(eps, w_, func),
            check_positive(weight_decay, "weight_decay", func, True))


cpdef tuple gather_rows_args(object X, object indices, object out):
    """(X, indices as int64, out) for gather_rows: X a C-contiguous 1-D or 2-D
    numeric array, indices a non-empty 1-D integer array (ranges are checked by
    the kernel), out None or a buffer of shape (len(indices),) + X.shape[1:]
    and X's dtype, apart from X."""
    cdef str func = "gather_rows"
    if not isinstance(X, cnp.ndarray):
        raise TypeError(f"{func}: X must be a numpy.ndarray; got {type(X).__name__}")
    cdef cnp.ndarray x = <cnp.ndarray>X
    if x.ndim not in (1, 2):
        raise ValueError(f"{func}: X must be 1-D or 2-D; got {x.ndim}-D array of shape "
                         f"{(<object>x).shape}")
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{func}: X must hold numbers; got dtype {x.dtype}")
    if not cnp.PyArray_IS_C_CONTIGUOUS(x):
        raise ValueError(f"{func}: X must be C-contiguous (use np.ascontiguousarray)")
    if x.shape[0] == 0:
        raise ValueError(f"{func}: X has no rows")
    cdef cnp.ndarray idx = np.asarray(indices)
    if idx.size == 0:
        raise ValueError(f"{func}: indices is empty")
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"{func}: indices must be a 1-D array of integers; got "
                        f"{idx.dtype} of shape {(<object>idx).shape}")
    if idx.dtype.kind == "u" and idx.max() > np.iinfo(np.int64).max:
        raise IndexError(f"{func}: indices must be in [0, {x.shape[0]}); got {idx.max()}")
    idx = np.ascontiguousarray(idx, dtype=np.int64)
    cdef cnp.ndarray o = check_out(out, "out", func, (idx.shape[0],) + (<object>x).shape[1:],
                                   x.dtype)
    if out is not None and _may_share_memory(o, x):
        raise ValueError(f"{func}: out must not overlap X")
    return x, idx, o


cpdef bad_index_error(cnp.ndarray idx, Py_ssize_t n, str func):
    """The IndexError for the first entry of idx outside [0, n)."""
    bad = int(np.flatnonzero((idx < 0) | (idx >= n))[0])
    return IndexError(f"{func}: indices must be in [0, {n}); got {idx[bad]} at position {bad}")
