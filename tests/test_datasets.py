import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fn
from fastnn import datasets

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(ROOT, "..", "shared", "data")


def test_embedded_digits():
    X, y = datasets.load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float32
    assert 0.0 <= X.min() and X.max() <= 1.0
    assert sorted(np.unique(y)) == list(range(10))


@pytest.mark.parametrize("make", [datasets.make_moons, datasets.make_circles,
                                  datasets.make_flower, datasets.make_blobs])
def test_toy_problems_are_seeded(make):
    X1, y1 = make(m=101, seed=3)
    X2, y2 = make(m=101, seed=3)
    X3, _ = make(m=101, seed=4)
    assert X1.shape[0] == 101 and y1.shape == (101,)
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(X1, X3)
    with pytest.raises(ValueError, match="m must be"):
        make(m=1)


def test_flower_needs_a_hidden_layer():
    X, y = datasets.make_flower(400, seed=0)
    linear = fn.Sequential([fn.Dense(1, "sigmoid")], input_dim=2, seed=0)
    linear.fit(X, y, optimizer=fn.Adam(0.05), epochs=60, batch_size=64, verbose=0)
    hidden = fn.Sequential([fn.Dense(8, "tanh", init="xavier"), fn.Dense(1, "sigmoid")],
                           input_dim=2, seed=0)
    hidden.fit(X, y, optimizer=fn.Adam(0.05), epochs=60, batch_size=64, verbose=0)
    assert linear.evaluate(X, y)["accuracy"] < 0.7 < 0.85 < hidden.evaluate(X, y)["accuracy"]


def _write_fake_npz(path, m=12):
    rng = np.random.default_rng(0)
    np.savez(path, x_train=rng.integers(0, 256, (m, 28, 28), dtype=np.uint8),
             y_train=rng.integers(0, 10, m, dtype=np.uint8),
             x_test=rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
             y_test=rng.integers(0, 10, 4, dtype=np.uint8))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_npz_loader_from_path_and_file_url(tmp_path, monkeypatch):
    src = tmp_path / "fake.npz"
    digest = _write_fake_npz(src)
    (Xtr, ytr), (Xte, yte) = datasets.load_npz_dataset(src, digest)
    assert Xtr.shape == (12, 784) and Xtr.dtype == np.float32 and Xtr.max() <= 1.0
    assert ytr.dtype == np.int64 and Xte.shape == (4, 784)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path / "cache"))
    (Xu, _), _ = datasets.load_npz_dataset(src.as_uri(), digest, cache_name="fake.npz")
    np.testing.assert_array_equal(Xu, Xtr)
    assert (tmp_path / "cache" / "fake.npz").exists()
    with pytest.raises(ValueError, match="sha256"):
        datasets.load_npz_dataset(src, "0" * 64)
    with pytest.raises(ValueError, match="sha256"):
        datasets.load_npz_dataset(src.as_uri(), "0" * 64, cache_name="other.npz")
    assert not (tmp_path / "cache" / "other.npz").exists()
    with pytest.raises(FileNotFoundError, match="no such file"):
        datasets.load_npz_dataset(tmp_path / "missing.npz")
    np.savez(tmp_path / "wrong.npz", a=np.zeros(2))
    with pytest.raises(ValueError, match="x_train"):
        datasets.load_npz_dataset(tmp_path / "wrong.npz")


@pytest.mark.parametrize("name, loader", [("mnist.npz", datasets.load_mnist),
                                          ("fashion-mnist.npz", datasets.load_fashion_mnist)])
def test_shared_mnist_archives(name, loader):
    path = os.path.join(SHARED, name)
    if not os.path.exists(path):
        pytest.skip(f"{name} is not in ../shared/data (the shared data folder is absent)")
    (Xtr, ytr), (Xte, yte) = loader(path)
    assert Xtr.shape == (60000, 784) and Xte.shape == (10000, 784)
    assert sorted(np.unique(ytr)) == list(range(10))


def test_load_mnist_reads_its_cached_download_without_a_network(tmp_path, monkeypatch, shared_data):
    mnist = shared_data("mnist.npz")
    (tmp_path / "mnist.npz").symlink_to(mnist)
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))

    def offline(*args, **kwargs):
        raise AssertionError("load_mnist downloaded although its cached copy is there")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    (X, y), (X_test, y_test) = datasets.load_mnist()
    assert X.shape == (60000, 784) and X_test.shape == (10000, 784) and X.max() <= 1.0


def test_load_mnist_without_a_network_says_what_to_do(tmp_path, monkeypatch):
    import urllib.error
    monkeypatch.setenv("FASTNN_DATA", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("Temporary failure in name resolution")
    monkeypatch.setattr("urllib.request.urlopen", offline)
    with pytest.raises(ConnectionError, match=r"could not download https://.*mnist.npz "
                                              r"\(Temporary failure in name resolution\).*give "
                                              r"its path, e.g. load_mnist\('mnist.npz'\)"):
        datasets.load_mnist()
    assert os.listdir(tmp_path) == []          # no half-downloaded file left


def test_the_mnist_example_fails_in_one_line_without_the_file(tmp_path):
    example = os.path.join(ROOT, "examples", "mnist.py")
    home = os.path.dirname(os.path.dirname(os.path.abspath(fn.__file__)))
    proc = subprocess.run([sys.executable, example, str(tmp_path / "missing.npz")],
                          capture_output=True, text=True, cwd=tmp_path, timeout=120,
                          env=dict(os.environ, PYTHONPATH=home))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"mnist.py: load_npz_dataset: no such file: {tmp_path / 'missing.npz'}"]
