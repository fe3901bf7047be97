"""Data sets split the course's way, mini-batches and one-hot labels.

    train, dev, test = fn.data.train_dev_test_split(X, y, dev=0.2, test=0.2, seed=0)
    X_train, y_train = train

Sizes are fractions of the examples (the old 60/20/20, or 98/1/1 when data
is plentiful) or absolute counts (``dev=10_000``).  With ``test=0`` only a
train and a dev set are made: a dev set without a test set is fine when no
unbiased final estimate is needed.
"""
import numbers
import warnings

import numpy as np

from fastnn import checks
from fastnn._validation import all_finite

__all__ = ["train_dev_test_split", "minibatches", "one_hot", "from_one_hot", "check_X",
           "feature_scales", "MappedRows", "is_mapped", "as_rows", "block_order"]


def _converted(X, dtype, func):
    """X in ``dtype``, finite.  The conversion a model makes of its inputs
    (lists, integers, float64 into a float32 model) is said when it cannot
    be exact: integers too large for the dtype's mantissa get a warning,
    values beyond its range an error (never a silent Inf)."""
    dtype = np.dtype(dtype)
    exact = 2 ** (np.finfo(dtype).nmant + 1)
    if X.dtype.kind in "iu" and X.dtype.itemsize > 2 and X.size and np.abs(X).max() > exact:
        warnings.warn(f"{func}: X holds integers above 2**{np.finfo(dtype).nmant + 1}, which "
                      f"{dtype.name} cannot hold exactly: they are rounded", UserWarning,
                      stacklevel=4)
    with np.errstate(over="ignore"):
        out = np.ascontiguousarray(X, dtype=dtype)
    if not all_finite(out):
        if X.dtype.kind == "f" and all_finite(X):
            raise ValueError(f"{func}: X holds values beyond the range of the model's "
                             f"{dtype.name} (largest magnitude {np.abs(X).max():g})")
        raise ValueError(f"{func}: X contains NaN or Inf")
    return out


_BLOCK_ROWS = 8192      # rows converted at a time from a memory-mapped X


class MappedRows:
    """Rows of a memory-mapped array (``np.memmap``, ``np.load(mmap_mode="r")``)
    read a block at a time, never copied whole: the parts
    ``train_dev_test_split`` makes of a map, and what a model makes of a map
    it must convert (another dtype, a normalizer, a strided view).

    rows : the map's row numbers this view holds, ascending (None: all).
    columns : the map's columns it holds, a slice or indices (None: all).
    dtype, normalizer : what each block read is converted to and through.

    Slicing (``X[lo:hi]``, ``X[::k]``) and integer indices (``X[idx]``)
    give converted rows; ``take(idx, out)`` gathers a mini-batch.  Rows are
    read in ascending order, so a pass over the view reads the file forwards.
    A map of the model's dtype, contiguous and not normalized, is read in
    place instead, like any array."""

    def __init__(self, source, dtype=None, normalizer=None, rows=None, columns=None):
        self.source = source
        self.dtype = np.dtype(source.dtype if dtype is None else dtype)
        self.normalizer = normalizer
        self.rows = None if rows is None else np.asarray(rows, dtype=np.intp)
        self.columns = columns
        m = source.shape[0] if rows is None else len(self.rows)
        n = source.shape[1] if columns is None else len(range(source.shape[1])[columns]) \
            if isinstance(columns, slice) else len(columns)
        self.shape = (m, n)
        self.ndim = 2

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"MappedRows(shape={self.shape}, dtype={self.dtype.name})"

    def _raw(self, sel):
        """The source's rows ``sel`` (a slice or ascending indices of this view)."""
        if self.rows is not None:
            sel = self.rows[sel]
        block = self.source[sel]
        if self.columns is not None:
            block = block[:, self.columns]
        return np.asarray(block)

    def _convert(self, rows):
        if self.normalizer is not None:
            rows = self.normalizer.transform(rows)
        with np.errstate(over="ignore"):
            return np.ascontiguousarray(rows, dtype=self.dtype)

    def __getitem__(self, key):
        if isinstance(key, slice):
            return self._convert(self._raw(key))
        idx = np.asarray(key)
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise TypeError("MappedRows: index with a slice of rows or a 1-D array of row "
                            "numbers, or use take()")
        return self.take(idx, np.empty((len(idx), self.shape[1]), self.dtype))

    def take(self, idx, out):
        """Rows ``idx`` (in that order) into ``out``, converted."""
        # the map's pages are read in order: sorted row numbers, then put back
        order = np.argsort(idx, kind="stable")
        out[order] = self._convert(self._raw(idx[order]))
        return out

    def __array__(self, dtype=None, copy=None):
        # every row at once: for the few paths that need one array
        return self[:].astype(dtype or self.dtype, copy=False)

    def blocks(self, rows=None):
        """Yield (lo, raw rows lo..lo+k) of the source, unconverted, in order."""
        rows = rows or _BLOCK_ROWS
        for lo in range(0, self.shape[0], rows):
            yield lo, self._raw(slice(lo, lo + rows))

    def check(self, func):
        """Finite after conversion, block by block (never the whole map at once)."""
        for _, block in self.blocks():
            _converted(block, self.dtype, func)
        return self


def is_mapped(X):
    """X is a memory-mapped array, or rows of one: read it a block at a time."""
    return isinstance(X, (np.memmap, MappedRows))


def as_rows(X):
    """X as an array to inspect (shape, ndim) without reading it: arrays and
    maps as they are (np.asarray would drop a map's type), anything else
    (lists, DataFrames) through np.asarray."""
    return X if isinstance(X, (np.ndarray, MappedRows)) else np.asarray(X)


def feature_scales(X, rows=512):
    """The root mean square of each feature (column) of X, judged on about
    ``rows`` rows spread over X: enough to tell scales 1000x apart, < 1 ms."""
    sample = X[::max(1, X.shape[0] // rows)][:rows]
    return np.sqrt(np.einsum("ij,ij->j", sample, sample, dtype=np.float64) / sample.shape[0])


def check_X(X, func, n_features=None, dtype=np.float32, normalizer=None):
    """X as a model computes on it: numeric, 2-D (m examples, n features) or
    images (m, H, W[, C]) flattened to rows, not empty, ``n_features`` wide
    (when given), finite, C-contiguous in ``dtype``, through ``normalizer``
    (when given).  ``func`` names the caller in errors.  A memory-mapped X
    that needs converting comes back as ``MappedRows``, read block by block."""
    if (type(X) is np.ndarray and X.dtype == dtype and X.ndim == 2 and normalizer is None
            and X.flags.c_contiguous and X.shape[0] and X.shape[1] == (n_features or X.shape[1])):
        # what predict mostly gets (the model's dtype, its width): only the
        # finiteness check, without the conversion's Python around it
        if not all_finite(X):
            raise ValueError(f"{func}: X contains NaN or Inf")
        return X
    if isinstance(X, MappedRows):
        if n_features is not None and X.shape[1] != n_features:
            raise ValueError(f"{func}: X must have {n_features} features (columns); "
                             f"got {X.shape[1]}")
        if X.shape[0] == 0:
            raise ValueError(f"{func}: X is empty (shape {X.shape})")
        if X.normalizer is not None:
            X = MappedRows(X)     # its own normalizer first, then the model's
        return MappedRows(X.source, dtype, normalizer, X.rows, X.columns).check(func)
    mapped = isinstance(X, np.memmap)
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
    if n_features is not None and X.shape[1] != n_features:
        hint = (" (did you pass (n_features, m), the course's layout? use X.T: one example "
                "per row)" if X.shape[0] == n_features else "")
        raise ValueError(f"{func}: X must have {n_features} features (columns); "
                         f"got {X.shape[1]}{hint}")
    if mapped and (X.dtype != dtype or normalizer is not None or not X.flags.c_contiguous):
        # converting, normalizing or gathering a strided view would copy the
        # whole map into memory
        return MappedRows(X, dtype, normalizer).check(func)
    X = _converted(X, dtype, func)
    if normalizer is not None:
        X = np.ascontiguousarray(normalizer.transform(X), dtype=dtype)
    return X


def _count(size, m, name):
    if isinstance(size, bool) or size is None:
        raise TypeError(f"train_dev_test_split: {name} must be a fraction in [0, 1) or a count; "
                        f"got {size!r}")
    if isinstance(size, numbers.Integral):
        if not 0 <= size < m:
            raise ValueError(f"train_dev_test_split: {name}={size} examples must be in [0, {m})")
        return int(size)
    if isinstance(size, numbers.Real) and 0.0 <= size < 1.0:
        return int(round(size * m))
    raise ValueError(f"train_dev_test_split: {name} must be a fraction in [0, 1) or a count of "
                     f"examples; got {size!r}")


def _check_rows(X, y, func):
    X = as_rows(X)
    if X.ndim < 1 or X.shape[0] == 0:
        raise ValueError(f"{func}: X must have at least one example (row); got shape {X.shape}")
    if y is not None:
        y = np.asarray(y)
        if y.ndim < 1 or y.shape[0] != X.shape[0]:
            raise ValueError(f"{func}: X has {X.shape[0]} rows but y has "
                             f"{y.shape[0] if y.ndim else 'no'} rows")
    return X, y


def train_dev_test_split(X, y=None, dev=0.2, test=0.2, shuffle=True, seed=None, stratify=None):
    """Split rows into train, dev and (unless test is 0) test sets.

    Returns ``((X_train, y_train), (X_dev, y_dev), (X_test, y_test))``, or
    without y ``(X_train, X_dev, X_test)``; the test part is left out when
    ``test == 0``.  stratify : labels (or True for y) whose class proportions
    each part keeps.  Requires shuffle when stratifying.

    A memory-mapped X is not copied: each part is a ``MappedRows`` view of
    its rows of the map, in the map's order (y's parts in the same order).
    """
    func = "train_dev_test_split"
    X, y = _check_rows(X, y, func)
    if X.ndim > 2 and is_mapped(X):
        X = X.reshape(X.shape[0], -1)      # images of a map: one row per image, a view
    m = X.shape[0]
    n_dev, n_test = _count(dev, m, "dev"), _count(test, m, "test")
    if n_dev + n_test >= m:
        raise ValueError(f"{func}: dev ({n_dev}) and test ({n_test}) leave no training examples "
                         f"out of {m}")
    rng = np.random.default_rng(seed)
    if stratify is not None:
        if not shuffle:
            raise ValueError(f"{func}: stratify needs shuffle=True")
        labels = y if stratify is True else np.asarray(stratify)
        if labels is None or labels.shape[:1] != (m,):
            raise ValueError(f"{func}: stratify must be labels with one entry per row (or True "
                             f"to use y)")
        if labels.ndim > 1:
            labels = labels.argmax(axis=1)
        parts = [[], [], []]
        classes = np.unique(labels)
        # largest remainders keep the totals exact while each class keeps its share
        for c in classes:
            idx = rng.permutation(np.flatnonzero(labels == c))
            k_test = int(np.floor(len(idx) * n_test / m))
            k_dev = int(np.floor(len(idx) * n_dev / m))
            parts[2].append(idx[:k_test])
            parts[1].append(idx[k_test:k_test + k_dev])
            parts[0].append(idx[k_test + k_dev:])
        test_idx, dev_idx, train_idx = (np.concatenate(p) for p in (parts[2], parts[1], parts[0]))
        for target, size in ((1, n_dev), (2, n_test)):
            current = dev_idx if target == 1 else test_idx
            missing = size - len(current)
            if missing > 0:
                moved, train_idx = train_idx[:missing], train_idx[missing:]
                current = np.concatenate([current, moved])
            if target == 1:
                dev_idx = current
            else:
                test_idx = current
        train_idx, dev_idx, test_idx = (rng.permutation(i) for i in (train_idx, dev_idx, test_idx))
    else:
        order = rng.permutation(m) if shuffle else np.arange(m)
        test_idx, dev_idx, train_idx = (order[:n_test], order[n_test:n_test + n_dev],
                                        order[n_test + n_dev:])
    pieces = [train_idx, dev_idx] + ([test_idx] if n_test else [])
    if is_mapped(X):
        # rows read forwards through the file; training shuffles them anyway
        pieces = [np.sort(i) for i in pieces]
        parts = [MappedRows(X, rows=i) for i in pieces]
        return tuple(parts) if y is None else tuple((p, y[i]) for p, i in zip(parts, pieces))
    if y is None:
        return tuple(X[i] for i in pieces)
    return tuple((X[i], y[i]) for i in pieces)


def block_order(m, rng, block_rows=1024, window=16):
    """A shuffled order of ``m`` rows that reads a file in long runs: blocks of
    ``block_rows`` consecutive rows in a random order, and the rows of every
    ``window`` consecutive blocks of that order shuffled among themselves.
    A mini-batch then mixes rows from up to ``window`` places of the data,
    while the file is read ``block_rows`` rows at a time.  For maps whose
    random access is slow (a cold disk, a network file system); in memory or
    in the page cache, plain shuffling costs nothing more."""
    starts = rng.permutation(np.arange(0, m, block_rows))
    runs = [np.arange(lo, min(lo + block_rows, m)) for lo in starts]
    order = []
    for k in range(0, len(runs), window):
        order.append(rng.permutation(np.concatenate(runs[k:k + window])))
    return np.concatenate(order) if order else np.arange(0)


def minibatches(X, y=None, batch_size=64, shuffle=True, seed=None):
    """Yield (X_batch, y_batch) (or X_batch) of ``batch_size`` rows, the last one
    holding the remainder; shuffled with ``seed`` when asked."""
    X, y = _check_rows(X, y, "minibatches")
    batch_size = checks.check_int(batch_size, "batch_size", "minibatches", 1)
    m = X.shape[0]
    order = np.random.default_rng(seed).permutation(m) if shuffle else None
    for lo in range(0, m, batch_size):
        idx = slice(lo, lo + batch_size) if order is None else order[lo:lo + batch_size]
        yield X[idx] if y is None else (X[idx], y[idx])


def one_hot(y, n_classes=None, dtype=np.float32):
    """(m,) integer labels -> (m, n_classes) one-hot rows."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"one_hot: labels must be 1-D; got shape {y.shape}")
    if y.size and (y.dtype.kind not in "iu" and not np.all(y == np.floor(y))):
        raise ValueError("one_hot: labels must be whole numbers")
    y = y.astype(np.int64)
    if n_classes is None:
        n_classes = int(y.max()) + 1 if y.size else 0
    if y.size and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"one_hot: labels must be in [0, {n_classes}); got values from "
                         f"{y.min()} to {y.max()}")
    Y = np.zeros((y.shape[0], n_classes), dtype=dtype)
    Y[np.arange(y.shape[0]), y] = 1
    return Y


def from_one_hot(Y):
    """(m, k) one-hot (or probability) rows -> (m,) labels of the largest entry."""
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError(f"from_one_hot: expected 2-D rows; got shape {Y.shape}")
    return Y.argmax(axis=1)
