"""Data sets that ship with fastnn.

``load_digits`` is the embedded 8x8 handwritten-digits set (1,797 images,
UCI, CC BY 4.0; see fastnn/data/digits.LICENSE.txt): small enough to ship,
real enough to train on.
"""
import gzip
import os

import numpy as np

_DATA_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data")


def load_digits(dtype=np.float32):
    """The 8x8 digits as ``(X, y)``: X (1797, 64) scaled to [0, 1], y (1797,) int64 in 0..9."""
    path = os.path.join(_DATA_DIR, "digits.csv.gz")
    with gzip.open(path, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"load_digits: {path} must have 65 columns; got shape {table.shape}")
    X = np.ascontiguousarray(table[:, :64] / 16.0, dtype=dtype)
    y = table[:, 64].astype(np.int64)
    return X, y
