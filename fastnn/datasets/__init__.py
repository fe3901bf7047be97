"""Data sets: the embedded digits, the course's toy problems, MNIST loaders.

- ``load_digits``: the 8x8 handwritten digits shipped inside the package
  (1,797 images, UCI, CC BY 4.0; see fastnn/datasets/data/digits.LICENSE.txt).
- ``make_moons``, ``make_circles``, ``make_flower`` (the course's planar
  data set), ``make_blobs``: seeded 2-D (or n-D) toy problems.
- ``load_mnist``, ``load_fashion_mnist``: the Keras-layout ``.npz`` archives
  (``x_train`` (60000, 28, 28) uint8, ``y_train``, ``x_test``, ``y_test``)
  from a local path or a URL; downloads are verified by sha256 and cached.

Every loader returns rows as examples: X (m, n_features), y (m,).
"""
import gzip
import importlib.resources
import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request

import numpy as np

from fastnn import checks

__all__ = ["load_digits", "make_moons", "make_circles", "make_flower", "make_blobs",
           "load_mnist", "load_fashion_mnist", "load_npz_dataset"]

# the data files shipped in the package, read as resources (a zipped or
# otherwise packaged install has no folder to join paths to)
_DATA = importlib.resources.files(__name__) / "data"

# where Keras keeps its copy of MNIST (the mnist.npz layout below)
MNIST_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
# sha256 of the archives in their common Keras layout
MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
FASHION_MNIST_SHA256 = "5b6d2c4c694a91887af8ab7d039c04f80af3c29378d731c93a538d2e831aa469"


def load_digits(dtype=np.float32):
    """The 8x8 digits as ``(X, y)``: X (1797, 64) scaled to [0, 1], y (1797,) int64 in 0..9."""
    path = _DATA / "digits.csv.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.float64)
    if table.ndim != 2 or table.shape[1] != 65:
        raise ValueError(f"load_digits: {path} must have 65 columns; got shape {table.shape}")
    X = np.ascontiguousarray(table[:, :64] / 16.0, dtype=dtype)
    y = table[:, 64].astype(np.int64)
    return X, y


# ---------------------------------------------------------------- toy problems

def _check_m(m, func):
    return checks.check_int(m, "m", func, 2, what="number of examples")


def _check_noise(noise, func):
    return checks.check_number(noise, "noise", func, 0)


def make_moons(m=200, noise=0.1, seed=None):
    """Two interleaving half circles: X (m, 2) float64, y (m,) in {0, 1}."""
    m = _check_m(m, "make_moons")
    noise = _check_noise(noise, "make_moons")
    rng = np.random.default_rng(seed)
    m0 = m // 2
    t0 = np.linspace(0, np.pi, m0)
    t1 = np.linspace(0, np.pi, m - m0)
    X = np.r_[np.c_[np.cos(t0), np.sin(t0)], np.c_[1 - np.cos(t1), 0.5 - np.sin(t1)]]
    y = np.r_[np.zeros(m0, np.int64), np.ones(m - m0, np.int64)]
    X = X + rng.normal(0, noise, X.shape)
    order = rng.permutation(m)
    return X[order], y[order]


def make_circles(m=200, noise=0.05, factor=0.5, seed=None):
    """A circle inside a larger one: X (m, 2), y 1 for the inner circle."""
    m = _check_m(m, "make_circles")
    noise = _check_noise(noise, "make_circles")
    if not (isinstance(factor, (int, float)) and 0 < factor < 1):
        raise ValueError(f"make_circles: factor must be in (0, 1); got {factor!r}")
    rng = np.random.default_rng(seed)
    m0 = m // 2
    t0 = np.linspace(0, 2 * np.pi, m0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, m - m0, endpoint=False)
    X = np.r_[np.c_[np.cos(t0), np.sin(t0)], factor * np.c_[np.cos(t1), np.sin(t1)]]
    y = np.r_[np.zeros(m0, np.int64), np.ones(m - m0, np.int64)]
    X = X + rng.normal(0, noise, X.shape)
    order = rng.permutation(m)
    return X[order], y[order]


def make_flower(m=400, petals=4, seed=None):
    """The course's planar "flower": two classes of points on the petals of
    ``r = 4 sin(petals * t)``, alternating colours: X (m, 2), y (m,) in {0, 1}.
    No linear classifier separates it; a small hidden layer does."""
    m = _check_m(m, "make_flower")
    checks.check_int(petals, "petals", "make_flower", 1)
    rng = np.random.default_rng(seed)
    per_class = m // 2
    X = np.zeros((2 * per_class, 2))
    y = np.zeros(2 * per_class, np.int64)
    for j in range(2):
        idx = slice(per_class * j, per_class * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, per_class) + rng.normal(0, 0.2, per_class)
        r = 4.0 * np.sin(petals * t) + rng.normal(0, 0.2, per_class)
        X[idx] = np.c_[r * np.sin(t), r * np.cos(t)]
        y[idx] = j
    if m % 2:
        X, y = np.r_[X, X[:1]], np.r_[y, y[:1]]
    order = rng.permutation(m)
    return X[order], y[order]


def make_blobs(m=300, centers=3, n_features=2, spread=1.0, seed=None):
    """Gaussian blobs around ``centers`` random centres: X (m, n_features), y (m,)."""
    m = _check_m(m, "make_blobs")
    centers = checks.check_int(centers, "centers", "make_blobs", 1)
    n_features = checks.check_int(n_features, "n_features", "make_blobs", 1)
    spread = _check_noise(spread, "make_blobs")
    rng = np.random.default_rng(seed)
    where = rng.uniform(-10, 10, (centers, n_features))
    y = rng.integers(0, centers, m)
    return where[y] + rng.normal(0, spread, (m, n_features)), y


# ---------------------------------------------------------------- MNIST-like archives

def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_dir():
    return os.environ.get("FASTNN_DATA") or os.path.join(os.path.expanduser("~"), ".cache", "fastnn")


def _fetch(url, sha256, name):
    """The cached copy of ``url``, downloaded and verified when missing."""
    folder = _cache_dir()
    os.makedirs(folder, exist_ok=True)
    target = os.path.join(folder, name)
    if os.path.exists(target) and (sha256 is None or _sha256(target) == sha256):
        return target
    fd, tmp = tempfile.mkstemp(prefix=".download-", dir=folder)
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                shutil.copyfileobj(response, out)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            reason = getattr(exc, "reason", exc)
            raise ConnectionError(f"could not download {url} ({reason}).  Without a network, "
                                  f"download {name} elsewhere and give its path, e.g. "
                                  f"load_mnist('{name}'), or put it in {folder}") from None
        got = _sha256(tmp)
        if sha256 is not None and got != sha256:
            raise ValueError(f"{url}: sha256 {got} does not match the expected {sha256}; "
                             f"the download is corrupt or not this data set")
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


def load_npz_dataset(source, sha256=None, *, flatten=True, scale=True, dtype=np.float32,
                     cache_name=None):
    """``((X_train, y_train), (X_test, y_test))`` from a Keras-layout ``.npz``.

    source : a local path, or an http(s)/file URL (downloaded once into
        ``$FASTNN_DATA`` or ~/.cache/fastnn, verified against ``sha256``).
    sha256 : expected digest of the file; a mismatch raises.
    flatten : images (m, 28, 28) -> rows (m, 784).
    scale : divide pixels by 255 into [0, 1].
    """
    func = "load_npz_dataset"
    source = os.fspath(source)
    if "://" in source:
        path = _fetch(source, sha256, cache_name or os.path.basename(source))
    else:
        path = source
        if not os.path.exists(path):
            raise FileNotFoundError(f"{func}: no such file: {path}")
        if sha256 is not None and _sha256(path) != sha256:
            raise ValueError(f"{func}: {path} does not have the expected sha256 {sha256}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            parts = [archive[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except KeyError as exc:
        raise ValueError(f"{func}: {path} lacks the entry {exc} (expected x_train, y_train, "
                         f"x_test, y_test)") from None
    except (OSError, ValueError) as exc:
        raise ValueError(f"{func}: {path} is not a readable .npz archive ({exc})") from None
    out = []
    for X, y in ((parts[0], parts[1]), (parts[2], parts[3])):
        if X.shape[0] != y.shape[0]:
            raise ValueError(f"{func}: {path} has {X.shape[0]} images but {y.shape[0]} labels")
        X = X.reshape(X.shape[0], -1) if flatten else X
        X = X.astype(dtype) / dtype(255) if scale else X.astype(dtype)
        out.append((np.ascontiguousarray(X), y.astype(np.int64)))
    return tuple(out)


def load_mnist(source=None, *, verify=True, **kwargs):
    """MNIST as ``((X_train, y_train), (X_test, y_test))``: downloaded once
    from the Keras copy (``MNIST_URL``) into ``$FASTNN_DATA`` or
    ~/.cache/fastnn and verified by its sha256, or read from ``source`` (a
    path or URL of that ``mnist.npz``).  See load_npz_dataset for the options."""
    return load_npz_dataset(MNIST_URL if source is None else source,
                            MNIST_SHA256 if verify else None, cache_name="mnist.npz", **kwargs)


def load_fashion_mnist(source, *, verify=True, **kwargs):
    """Fashion-MNIST (Zalando, MIT) in the same layout; see load_mnist."""
    return load_npz_dataset(source, FASHION_MNIST_SHA256 if verify else None,
                            cache_name="fashion-mnist.npz", **kwargs)
