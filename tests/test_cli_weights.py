"""The command line's weight column and memory-mapped .npy tables: a weight
column in a CSV, .npy or .npz file trains as repeated rows would, evaluate
reports weighted metrics, bad weights are one-line errors; a .npy table is
read from its map, never copied whole, dev split and --normalize included."""
import tracemalloc

import numpy as np
import pytest

import fastnn as fn
from cli_helpers import assert_error, run
from fastnn.cli.datafiles import read_data
from fastnn.data import MappedRows
from fastnn.datasets import make_blobs
from fastnn.model import load_model


@pytest.fixture(scope="module")
def blobs():
    X, y = make_blobs(120, centers=3, n_features=4, seed=5)
    w = np.random.default_rng(0).integers(0, 4, len(y)).astype(np.float64)
    return X, y, w


def write_csv(path, columns, header):
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        for row in zip(*columns):
            f.write(",".join(f"{v:.9g}" if not isinstance(v, str) else v for v in row) + "\n")
    return path


# ---------------------------------------------------------------- reading
def test_the_weight_column_of_each_format(tmp_path, blobs):
    X, y, w = blobs
    names = ["a", "b", "c", "d"]
    csv = write_csv(tmp_path / "t.csv", [*X.T, w, y], names + ["weight", "label"])
    for spec in ("weight", "4", "-2"):
        got = read_data(csv, weight_column=spec)
        np.testing.assert_allclose(got.X, X, rtol=1e-8)
        np.testing.assert_array_equal(got.y, y)
        np.testing.assert_array_equal(got.sample_weight, w)
    # the labels default to the last column that is not the weights
    csv2 = write_csv(tmp_path / "t2.csv", [*X.T, y, w], names + ["label", "weight"])
    got = read_data(csv2, weight_column="weight")
    np.testing.assert_array_equal(got.y, y)
    np.testing.assert_array_equal(got.sample_weight, w)

    np.save(tmp_path / "mid.npy", np.c_[X[:, :2], y, X[:, 2:], w])
    got = read_data(tmp_path / "mid.npy", label_column=2, weight_column=-1)
    assert isinstance(got.X, MappedRows)              # columns of the map, read per block
    np.testing.assert_array_equal(got.X[:], X)
    np.testing.assert_array_equal(got.y, y)
    np.testing.assert_array_equal(got.sample_weight, w)

    np.savez(tmp_path / "a.npz", X=X, y=y, w=w)
    got = read_data(tmp_path / "a.npz", weight_column="w")
    np.testing.assert_array_equal(got.sample_weight, w)
    assert read_data(tmp_path / "a.npz").sample_weight is None


def test_a_npy_table_is_read_from_its_map(tmp_path, blobs):
    X, y, _ = blobs
    np.save(tmp_path / "t.npy", np.c_[X, y])
    got = read_data(tmp_path / "t.npy")
    assert isinstance(got.X, np.memmap) and not got.X.flags.owndata
    np.testing.assert_array_equal(got.X, X)
    np.testing.assert_array_equal(got.y, y)


# ---------------------------------------------------------------- training
def train(capsys, data, model, *flags):
    code, out, err = run(capsys, "train", data, "--epochs", 5, "--layers", 8, "--batch-size",
                         100_000, "--dev-fraction", 0, "--quiet", "-o", model, *flags)
    assert code == 0, err
    return out


def test_integer_weights_train_as_repeated_rows(tmp_path, capsys, blobs):
    X, y, w = blobs
    np.save(tmp_path / "weighted.npy", np.c_[X, w, y])
    repeat = np.repeat(np.arange(len(y)), w.astype(int))
    np.save(tmp_path / "repeated.npy", np.c_[X[repeat], y[repeat]])
    out = train(capsys, tmp_path / "weighted.npy", tmp_path / "a.fnn", "--weight-column", -2)
    assert "weighted" in out
    train(capsys, tmp_path / "repeated.npy", tmp_path / "b.fnn")
    a, b = load_model(tmp_path / "a.fnn"), load_model(tmp_path / "b.fnn")
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=2e-4, atol=1e-6)

    code, out, err = run(capsys, "evaluate", tmp_path / "a.fnn", tmp_path / "weighted.npy",
                         "--weight-column", -2)
    assert code == 0, err
    want = a.evaluate(X, y, sample_weight=w)
    assert "weighted" in out and f"accuracy {100 * want['accuracy']:.2f}%" in out


def test_bad_weights_are_one_line_errors(tmp_path, capsys, blobs):
    X, y, w = blobs
    for value, said in ((-1.0, "the weight of example 8 is -1"),
                        (np.nan, "the weight of example 8 is nan")):
        bad = w.copy()
        bad[7] = value
        np.save(tmp_path / "bad.npy", np.c_[X, bad, y])
        assert_error(capsys, ["train", tmp_path / "bad.npy", "--weight-column", -2], said,
                     "finite and >= 0")
    np.save(tmp_path / "zero.npy", np.c_[X, 0 * w, y])
    assert_error(capsys, ["train", tmp_path / "zero.npy", "--weight-column", -2],
                 "every weight is 0")
    csv = write_csv(tmp_path / "t.csv", [*X.T, w, y], ["a", "b", "c", "d", "weight", "label"])
    assert_error(capsys, ["train", csv, "--weight-column", "wieght"],
                 "has no column named 'wieght'", "its columns are a, b, c, d, weight, label")
    assert_error(capsys, ["train", csv, "--weight-column", 9], "--weight-column 9 is out of range")
    assert_error(capsys, ["train", csv, "--weight-column", "label", "--label-column", -1],
                 "column 5 cannot hold both the labels and the weights")
    np.savez(tmp_path / "a.npz", X=X, y=y)
    assert_error(capsys, ["train", tmp_path / "a.npz", "--weight-column", "w"],
                 "has no entry 'w'", "entries are ['X', 'y']")
    model = tmp_path / "m.fnn"
    train(capsys, csv, model, "--weight-column", "weight")
    assert_error(capsys, ["evaluate", model, csv], "has 6 columns; the model takes 4 features and a label column (is one a column of "
                 "weights? name it with --weight-column)")


def test_training_from_a_npy_map_never_copies_it(tmp_path, capsys):
    rng = np.random.default_rng(0)
    m = 120_000
    X = rng.integers(0, 256, (m, 100), dtype=np.uint8)       # 12 MB; 48 MB as float32
    np.save(tmp_path / "big.npy", np.c_[X, rng.integers(0, 3, m).astype(np.uint8)])
    tracemalloc.start()
    code, out, err = run(capsys, "train", tmp_path / "big.npy", "--normalize", "--epochs", 1,
                         "--layers", 4, "--batch-size", 512, "--quiet", "-o", tmp_path / "m.fnn")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert code == 0, err
    assert "96000 train / 24000 dev" in out
    assert peak < 24_000_000, peak              # less than half of one float32 copy
    model = load_model(tmp_path / "m.fnn")
    mean = X[np.sort(fn.data.train_dev_test_split(np.arange(m), dev=0.2, test=0,
                                                  seed=0)[0])].mean(axis=0)
    np.testing.assert_allclose(model.normalizer.mean, mean, rtol=1e-12)
