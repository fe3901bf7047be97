"""Input normalization: learn the mean and variance on the training set only,
then apply the very same transform to dev and test data.

    norm = fn.Normalizer().fit(X_train)
    X_train_n, X_dev_n = norm.transform(X_train), norm.transform(X_dev)
    model.normalizer = norm      # or: saved with the model, applied by predict

``x_norm = (x - mu) / sigma`` with ``sigma = sqrt(var + eps)``; a feature of
zero variance (constant in training) is only centred: its sigma is taken as
1, so it never turns into NaN or Inf.
"""
import math

import numpy as np

from fastnn import data
from fastnn._validation import all_finite

__all__ = ["Normalizer", "normalizer_from_arrays"]


class Normalizer:
    """Zero mean and unit variance per feature, learned by ``fit``."""

    def __init__(self, eps=1e-8):
        if not (isinstance(eps, (int, float)) and math.isfinite(eps) and eps >= 0):
            raise ValueError(f"Normalizer: eps must be a finite number >= 0; got {eps!r}")
        self.eps = float(eps)
        self.mean = None
        self.scale = None

    @staticmethod
    def _check(X, func, n_features=None):
        X = np.asarray(X)
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{func}: X must be numeric; got dtype {X.dtype}")
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"{func}: X must be a non-empty 2-D array (m examples, n features); "
                             f"got shape {X.shape}")
        if n_features is not None and X.shape[1] != n_features:
            raise ValueError(f"{func}: X must have {n_features} features, as the data the "
                             f"normalizer was fitted on; got {X.shape[1]}")
        if not all_finite(X):
            raise ValueError(f"{func}: X contains NaN or Inf")
        return X

    def fit(self, X):
        """Learn per-feature mean and standard deviation from training data X
        (a memory-mapped X is read once, a block at a time)."""
        if data.is_mapped(X):
            self.mean, var = self._moments_by_block(X)
        else:
            X = self._check(X, "Normalizer.fit").astype(np.float64, copy=False)
            self.mean = X.mean(axis=0)
            var = X.var(axis=0)
        scale = np.sqrt(var + self.eps)
        # a constant feature: centre it, do not divide by ~0
        scale[var <= self.eps] = 1.0
        self.scale = scale
        return self

    def _moments_by_block(self, X):
        """Mean and variance of a map's columns, block by block in float64:
        the blocks' moments merged pairwise (Chan, Golub and LeVeque), as
        accurate as two passes."""
        func = "Normalizer.fit"
        if X.ndim != 2 or X.shape[0] == 0 or X.dtype.kind not in "biuf":
            self._check(X[:0] if X.ndim == 2 and X.shape[0] else X, func)   # its message
        rows = X if isinstance(X, data.MappedRows) else data.MappedRows(X)
        n, mean, m2 = 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
        for _, block in rows.blocks():
            if not all_finite(block):
                raise ValueError(f"{func}: X contains NaN or Inf")
            if rows.normalizer is not None:
                block = rows.normalizer.transform(block)
            block = block.astype(np.float64, copy=False)
            k, block_mean = block.shape[0], block.mean(axis=0)
            block_m2 = np.square(block - block_mean).sum(axis=0)
            delta = block_mean - mean
            mean = mean + delta * (k / (n + k))
            m2 += block_m2 + np.square(delta) * (n * k / (n + k))
            n += k
        return mean, m2 / n

    def transform(self, X):
        """(X - mean) / scale, in X's float dtype (float64 for integer X)."""
        if self.mean is None:
            raise ValueError("Normalizer.transform: call fit on the training data first")
        X = self._check(X, "Normalizer.transform", self.mean.shape[0])
        dtype = X.dtype if X.dtype.kind == "f" else np.float64
        return ((X - self.mean) / self.scale).astype(dtype, copy=False)

    def fit_transform(self, X):
        return self.fit(X).transform(X)

    def inverse_transform(self, X):
        if self.mean is None:
            raise ValueError("Normalizer.inverse_transform: call fit first")
        X = self._check(X, "Normalizer.inverse_transform", self.mean.shape[0])
        return X * self.scale + self.mean

    def to_arrays(self):
        """(JSON-ready config, {name: array}) for saving inside a model file."""
        if self.mean is None:
            raise ValueError("Normalizer: an unfitted normalizer cannot be saved")
        return {"kind": "normalizer", "eps": self.eps}, {"mean": self.mean, "scale": self.scale}

    def __repr__(self):
        fitted = f"{self.mean.shape[0]} features" if self.mean is not None else "not fitted"
        return f"Normalizer(eps={self.eps}, {fitted})"


def normalizer_entries(config, n_features):
    """{array name: (shape, dtype)} that ``to_arrays`` gives a Normalizer of
    ``config`` fitted on ``n_features`` features (checked before reading them)."""
    if config.get("kind") != "normalizer":
        raise ValueError(f"unknown input transform {config.get('kind')!r}")
    return {"mean": ((n_features,), np.float64), "scale": ((n_features,), np.float64)}


def normalizer_from_arrays(config, arrays):
    """The Normalizer saved by ``to_arrays``."""
    if config.get("kind") != "normalizer":
        raise ValueError(f"unknown input transform {config.get('kind')!r}")
    norm = Normalizer(eps=config["eps"])
    norm.mean = np.asarray(arrays["mean"], dtype=np.float64)
    norm.scale = np.asarray(arrays["scale"], dtype=np.float64)
    if norm.mean.shape != norm.scale.shape or norm.mean.ndim != 1:
        raise ValueError("normalizer arrays have inconsistent shapes")
    return norm
