"""The files people have, through the command line: scikit-learn's CSV files
(first line ``n_samples,n_features,class names``), CSV with and without a
header, text labels, compressed files, .npy tables; class names kept from
train to predict and evaluate; line-numbered errors; the --normalize hint.
And, when ../shared/data/ is there, the real files end to end."""
import bz2
import gzip
import lzma
import re
import zipfile

import numpy as np
import pytest


from cli_helpers import assert_error, run
from fastnn.datasets import make_blobs
from fastnn.model import load_model

NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture(scope="module")
def blobs():
    """Three well-separated classes, 4 features."""
    return make_blobs(90, centers=3, n_features=4, seed=3)


def write_rows(path, X, labels, header=None):
    with open(path, "w") as f:
        if header is not None:
            f.write(header + "\n")
        for row, label in zip(X, labels):
            f.write(",".join(f"{v:.5g}" for v in row) + f",{label}\n")
    return path


@pytest.fixture
def text_csv(tmp_path, blobs):
    """No header, text labels: every line is an example."""
    X, y = blobs
    return write_rows(tmp_path / "flowers.csv", X, NAMES[y])


@pytest.fixture
def sklearn_csv(tmp_path, blobs):
    """scikit-learn's layout: "90,4,setosa,versicolor,virginica", then integer labels."""
    X, y = blobs
    return write_rows(tmp_path / "sk.csv", X, y, header=f"{len(X)},4,{','.join(NAMES)}")


def train(capsys, data, tmp_path, *flags, name="m.fnn"):
    model = tmp_path / name
    code, out, err = run(capsys, "train", data, "--epochs", 15, "--layers", 8, "--learning-rate",
                         0.02, "--quiet", "-o", model, *flags)
    assert code == 0, err
    return model, out, err


# ---------------------------------------------------------------- first lines

def test_text_labels_without_a_header_keep_every_row(tmp_path, capsys, text_csv, blobs):
    # before: the first example was taken for a header, then line 2 failed on 'setosa'
    model, out, _ = train(capsys, text_csv, tmp_path)
    assert "90 examples, 4 features, 3 classes (setosa, versicolor, virginica)" in out
    assert "read as a header" not in out
    assert "it answers in the class names setosa, versicolor, virginica" in out
    assert list(load_model(model).classes_) == list(NAMES)

    code, out, _ = run(capsys, "predict", model, text_csv)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "label" and len(lines) == 91
    assert np.mean(np.array(lines[1:]) == NAMES[blobs[1]]) > 0.9

    code, out, _ = run(capsys, "evaluate", model, text_csv)
    assert code == 0 and "(90 examples)" in out
    table = out.splitlines()[1:]
    assert table[0].split() == ["class", "examples", "recall", "precision"]
    assert [row.split()[0] for row in table[1:]] == list(NAMES)
    assert [int(row.split()[1]) for row in table[1:]] == list(np.bincount(blobs[1]))


def test_scikit_learn_first_line_names_the_classes(tmp_path, capsys, sklearn_csv, blobs):
    # before: "the header names 5 columns but the rows have 5"-style refusals (4 vs 31)
    model, out, _ = train(capsys, sklearn_csv, tmp_path)
    assert "90 examples, 4 features, 3 classes (setosa, versicolor, virginica)" in out
    assert ("line 1 read as a scikit-learn header: 90 examples, 4 features; labels 0 = setosa, "
            "1 = versicolor, 2 = virginica") in out
    code, out, _ = run(capsys, "predict", model, sklearn_csv, "--proba")
    assert code == 0 and out.splitlines()[0] == "p_setosa,p_versicolor,p_virginica"
    # --skip-rows 1 reads the same file with its numbered labels
    code, out, _ = run(capsys, "train", sklearn_csv, "--skip-rows", 1, "--epochs", 1, "--quiet",
                       "-o", tmp_path / "n.fnn")
    assert code == 0 and "90 examples, 4 features, 3 classes;" in out
    # a label the first line does not name
    X, y = blobs
    bad = write_rows(tmp_path / "bad.csv", X[:5], [0, 1, 2, 3, 1], header="5,4,a,b,c")
    assert_error(capsys, ["train", bad], "bad.csv line 5: the label 3 is not one of the 3 "
                 "classes its first line names (a, b, c: labels 0 to 2)")


def test_a_header_is_only_text_over_numbers(tmp_path, capsys, blobs):
    X, y = blobs
    named = write_rows(tmp_path / "named.csv", X, NAMES[y], header="a,b,c,d,species")
    for spec in ("species", "-1", "4"):
        code, out, err = run(capsys, "train", named, "--label-column", spec, "--epochs", 1,
                             "--quiet", "-o", tmp_path / "m.fnn")
        assert code == 0, err
        assert "line 1 read as a header: a, b, c, d, species" in out and "90 examples" in out
    # the label first, by name
    first = tmp_path / "first.csv"
    first.write_text("species,a,b\n" + "".join(f"{NAMES[k]},{r[0]:.4g},{r[1]:.4g}\n"
                                               for r, k in zip(X, y)))
    code, out, _ = run(capsys, "train", first, "--label-column", "species", "--epochs", 1,
                       "--quiet", "-o", tmp_path / "m.fnn")
    assert code == 0 and "2 features, 3 classes (setosa" in out
    # --header and --no-header decide
    numbers = write_rows(tmp_path / "numbers.csv", X, y, header="1,2,3,4,5")
    code, out, _ = run(capsys, "train", numbers, "--epochs", 1, "--quiet", "-o",
                       tmp_path / "m.fnn")
    assert code == 0 and "91 examples" in out          # all numbers: a row of data
    code, out, _ = run(capsys, "train", numbers, "--header", "--epochs", 1, "--quiet", "-o",
                       tmp_path / "m.fnn")
    assert code == 0 and "90 examples" in out and "read as a header: 1, 2, 3, 4, 5" in out
    assert_error(capsys, ["train", named, "--no-header"],
                 "named.csv line 1: 'a' in column 1 is not a number")


def test_text_in_a_feature_column_and_other_line_numbered_errors(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("# made by hand\nx,y,label\n1,2,cat\n3,4,dog\n\n5,oops,cat\n")
    assert_error(capsys, ["train", path], "bad.csv line 6: 'oops' in column 2 is not a number")
    path.write_text("x,y,label\n1,2,0\n3,,1\n")
    assert_error(capsys, ["train", path], "bad.csv line 3: column 2 is empty (a missing value)")
    path.write_text("1,2,cat\n3,4,\n")
    assert_error(capsys, ["train", path], "bad.csv line 2: the label (column 3) is empty")
    path.write_text("1,2,cat\n3,4,dog\n5,6,7,cat\n")
    assert_error(capsys, ["train", path], "bad.csv line 3: 4 values; the rows before have 3")
    path.write_text("my data set\n1,2,0\n3,4,1\n")
    assert_error(capsys, ["train", path], "the header (line 1) names 1 column but the rows have "
                 "3; pass --no-header if line 1 is data, or --skip-rows 1 to skip it")
    path.write_text("a,b,label\n")
    assert_error(capsys, ["train", path], "bad.csv has no data rows")
    path.write_text("1,2,0\n3,4,1\n")
    assert_error(capsys, ["train", path, "--label-column", 3], "--label-column 3 is out of "
                 "range for", "which has 3 columns (0 to 2, or -1 for the last)")
    assert_error(capsys, ["train", path, "--label-column", "kind"],
                 "has no column named 'kind' (it has no header line)")
    assert_error(capsys, ["train", path, "--skip-rows", 5], "bad.csv is empty after the 5 "
                 "skipped lines")
    assert_error(capsys, ["train", path, "--skip-rows", -1], "--skip-rows must be 0 or more")
    path.write_text("1,2,cat\n3,4,dog\n")
    assert_error(capsys, ["train", path, "--task", "regression"],
                 "the labels are text ('cat', 'dog'); regression needs numbers")


# ---------------------------------------------------------------- formats

def test_compressed_and_zipped_csv(tmp_path, capsys, text_csv):
    text = text_csv.read_bytes()
    model, _, _ = train(capsys, text_csv, tmp_path)
    files = {"f.csv.gz": gzip.compress(text), "f.csv.bz2": bz2.compress(text),
             "f.csv.xz": lzma.compress(text)}
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
    with zipfile.ZipFile(tmp_path / "f.zip", "w") as archive:
        archive.writestr("flowers.csv", text)
    for name in [*files, "f.zip"]:
        code, out, err = run(capsys, "evaluate", model, tmp_path / name)
        assert code == 0 and "(90 examples)" in out, (name, err)
        code, out, err = run(capsys, "train", tmp_path / name, "--epochs", 1, "--quiet", "-o",
                             tmp_path / "z.fnn")
        assert code == 0 and "3 classes (setosa, versicolor, virginica)" in out, (name, err)

    with zipfile.ZipFile(tmp_path / "two.zip", "w") as archive:
        archive.writestr("a.csv", text)
        archive.writestr("b.csv", text)
    assert_error(capsys, ["train", tmp_path / "two.zip"],
                 "two.zip holds 2 files (a.csv, b.csv); fastnn reads a .zip that holds one CSV")
    (tmp_path / "broken.csv.gz").write_bytes(b"not gzip at all")
    assert_error(capsys, ["train", tmp_path / "broken.csv.gz"],
                 "broken.csv.gz is not a readable gzip file")
    (tmp_path / "cut.csv.gz").write_bytes(gzip.compress(text)[:200])
    assert_error(capsys, ["train", tmp_path / "cut.csv.gz"], "cut.csv.gz is not a readable gzip")
    (tmp_path / "data.parquet").write_bytes(b"PAR1")
    assert_error(capsys, ["train", tmp_path / "data.parquet"], "unknown data format '.parquet'",
                 ".csv/.tsv (also .gz, .bz2, .xz, or a .zip of one CSV)")


def test_npy_table_and_tsv(tmp_path, capsys, blobs):
    X, y = blobs
    np.save(tmp_path / "t.npy", np.c_[y, X])
    code, out, _ = run(capsys, "train", tmp_path / "t.npy", "--label-column", 0, "--epochs", 1,
                       "--quiet", "-o", tmp_path / "m.fnn")
    assert code == 0 and "90 examples, 4 features, 3 classes" in out
    np.save(tmp_path / "img.npy", np.zeros((3, 2, 2)))
    assert_error(capsys, ["train", tmp_path / "img.npy"], "holds an array of shape (3, 2, 2)")
    assert_error(capsys, ["train", tmp_path / "t.npy", "--skip-rows", 1],
                 "--skip-rows applies to CSV files")
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\tc\td\tkind\n" + "".join(
        "\t".join(f"{v:.4g}" for v in row) + f"\t{NAMES[k]}\n" for row, k in zip(X, y)))
    code, out, _ = run(capsys, "train", tsv, "--epochs", 1, "--quiet", "-o", tmp_path / "m.fnn")
    assert code == 0 and "3 classes (setosa, versicolor, virginica)" in out


def test_labels_the_model_does_not_know(tmp_path, capsys, text_csv, blobs):
    model, _, _ = train(capsys, text_csv, tmp_path)
    X, y = blobs
    other = write_rows(tmp_path / "other.csv", X, np.where(y == 2, "rose", NAMES[y]))
    assert_error(capsys, ["evaluate", model, other], "other.csv has labels the model",
                 "does not know: rose (its classes: setosa, versicolor, virginica)")
    numbered = write_rows(tmp_path / "numbered.csv", X, y)
    assert_error(capsys, ["evaluate", model, numbered], "answers in the class names setosa, "
                 "versicolor, virginica but the labels of", "are numbers")
    model2, _, _ = train(capsys, numbered, tmp_path, name="n.fnn")
    assert_error(capsys, ["evaluate", model2, text_csv], "are text (setosa, versicolor, "
                 "virginica) but the model", "was trained on numbered classes")


# ---------------------------------------------------------------- --normalize

def test_features_of_different_scales_ask_for_normalize(tmp_path, capsys, blobs):
    X, y = blobs
    scaled = write_rows(tmp_path / "scaled.csv", X * [1000.0, 1.0, 0.001, 1.0], y)
    _, _, err = train(capsys, scaled, tmp_path)
    lines = [line for line in err.splitlines() if "warning" in line]
    assert len(lines) == 1, err
    assert lines[0].startswith("fastnn train: warning: the input features are not normalized")
    assert "pass --normalize" in lines[0] and "Normalizer" not in lines[0]
    # the diagnosis, whatever its verdict, puts the course's first advice first
    _, out, _ = train(capsys, scaled, tmp_path, "--dev-fraction", "0.3")
    advice = out.split("diagnosis:", 1)[1].splitlines()[1]
    assert advice == "  - normalize the inputs first (--normalize): the rest assumes normalized inputs"
    _, _, err = train(capsys, scaled, tmp_path, "--normalize")
    assert "warning" not in err
    _, _, err = train(capsys, write_rows(tmp_path / "plain.csv", X, y), tmp_path)
    assert "warning" not in err


# ---------------------------------------------------------------- the shared data sets

def test_breast_cancer_as_scikit_learn_ships_it(tmp_path, capsys, shared_data):
    data = shared_data("breast_cancer.csv")
    model, out, err = train(capsys, data, tmp_path, "--normalize")
    assert "569 examples, 30 features, 2 classes (benign, malignant)" in out
    assert "labels 0 = malignant, 1 = benign" in out and "warning" not in err
    assert float(re.search(r"dev: loss [\d.]+, accuracy ([\d.]+)%", out).group(1)) > 90
    code, out, _ = run(capsys, "predict", model, data)
    assert code == 0 and set(out.splitlines()[1:]) == {"benign", "malignant"}
    code, out, _ = run(capsys, "evaluate", model, data)
    assert code == 0 and "(569 examples)" in out
    assert re.search(r"^benign +357 ", out, re.M) and re.search(r"^malignant +212 ", out, re.M)


def test_digits_csv_gz(tmp_path, capsys, shared_data):
    data = shared_data("digits.csv.gz")
    model, out, _ = train(capsys, data, tmp_path)
    assert "1797 examples, 64 features, 10 classes" in out
    code, out, _ = run(capsys, "evaluate", model, data)
    assert code == 0 and "(1797 examples)" in out
    code, out, _ = run(capsys, "predict", model, data)
    assert code == 0 and len(out.splitlines()) == 1798


def test_mnist_npz_one_epoch(tmp_path, capsys, shared_data):
    data = shared_data("mnist.npz")
    model = tmp_path / "mnist.fnn"
    code, out, err = run(capsys, "train", data, "--epochs", 1, "--layers", 32, "--batch-size",
                         256, "--normalize", "--quiet", "-o", model)
    assert code == 0, err
    assert "60000 examples, 784 features, 10 classes" in out
    code, out, _ = run(capsys, "evaluate", model, data)
    assert code == 0 and "(10000 examples)" in out         # the test pair
    assert float(re.search(r"accuracy ([\d.]+)%", out).group(1)) > 85
