"""The command line on hostile input: a model file, a settings file or a data
file built to exhaust memory or recursion ends in one line on stderr and exit
code 2, as every other input error does (README, "Command line")."""
import numpy as np
import pytest

from fastnn.cli import main

import hostile_files as hostile


def one_line_error(capsys, *argv):
    code = main([str(a) for a in argv])
    _, err = capsys.readouterr()
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"fastnn {argv[0]}: error: "), lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path):
    model = tmp_path / "m.fnn"
    hostile.small_model_file(model)
    data = tmp_path / "data.csv"
    rng = np.random.default_rng(0)
    np.savetxt(data, np.c_[rng.standard_normal((20, 6)), rng.integers(0, 4, 20)],
               delimiter=",", fmt="%.5g")
    return tmp_path, model, data


@pytest.mark.parametrize("make", ["huge_declared_shape", "deep_header", "oversized_header"])
def test_evaluate_with_a_hostile_model_file(files, capsys, make):
    # before: MemoryError / RecursionError tracebacks (~30 lines, exit 1)
    folder, model, data = files
    bad = folder / "bad.fnn"
    getattr(hostile, make)(model, bad)
    assert "bad.fnn" in one_line_error(capsys, "evaluate", bad, data)


def test_a_settings_file_nested_5000_deep(files, capsys):
    # before: RecursionError from the TOML parser
    folder, _, data = files
    toml = folder / "deep.toml"
    toml.write_text("layers = " + "[" * 5000 + "]" * 5000 + "\n")
    line = one_line_error(capsys, "train", data, "--config", toml, "--quiet")
    assert "deep.toml" in line and "nested too deeply" in line


def test_a_csv_field_over_csv_s_size_limit(files, capsys):
    # before: _csv.Error: field larger than field limit (131072)
    folder, _, _ = files
    wide = folder / "wide.csv"
    wide.write_text("a,b,label\n1,2,0\n\"" + "x" * 200_000 + "\",2,1\n")
    line = one_line_error(capsys, "train", wide, "--quiet")
    assert "wide.csv line 3" in line and "field larger than field limit" in line


def test_a_flag_typo_is_named_by_its_command_with_what_it_looks_like(files, capsys):
    # before: "fastnn: error: unrecognized arguments: --normalise (see fastnn --help)",
    # and --epoch was silently taken for --epochs
    _, _, data = files
    line = one_line_error(capsys, "train", data, "--normalise")
    assert line == ("fastnn train: error: unrecognized arguments: --normalise (did you mean "
                    "--normalize?) (see fastnn train --help)")
    line = one_line_error(capsys, "train", data, "--epoch", "3")
    assert "--epoch (did you mean --epochs?)" in line


def test_predict_ignores_a_label_column_it_does_not_know(tmp_path, capsys):
    # before: "new.csv has labels the model m.fnn does not know: rose", although
    # predict --help says a label column is ignored
    rng = np.random.default_rng(0)
    X = rng.standard_normal((60, 3))
    names = np.array(["iris", "lily"])[(X[:, 0] > 0).astype(int)]
    train_csv, new_csv = tmp_path / "train.csv", tmp_path / "new.csv"
    train_csv.write_text("".join(f"{a:.4f},{b:.4f},{c:.4f},{n}\n" for (a, b, c), n in zip(X, names)))
    new_csv.write_text("".join(f"{a:.4f},{b:.4f},{c:.4f},rose\n" for a, b, c in X[:5]))
    assert main(["train", str(train_csv), "--epochs", "2", "--quiet", "-o", str(tmp_path / "m.fnn")]) == 0
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "m.fnn"), str(new_csv)]) == 0
    out = capsys.readouterr().out.split()
    assert out[0] == "label" and set(out[1:]) <= {"iris", "lily"} and len(out) == 6


def test_course_layout_in_an_npz_gets_a_hint(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((40, 5)), rng.integers(0, 2, 40)
    np.savez(tmp_path / "course.npz", X=X.T, y=y)
    line = one_line_error(capsys, "train", tmp_path / "course.npz", "--quiet")
    assert "course.npz has 5 examples but 40 labels (is X saved as (n_features, m), the " \
           "course's layout? save X.T" in line


def test_a_bad_learning_rate_is_said_in_the_flag_s_words(files, capsys):
    # before: "Constant: learning_rate must be a finite number > 0; got -1.0"
    _, _, data = files
    line = one_line_error(capsys, "train", data, "--learning-rate", "-1", "--quiet")
    assert line == "fastnn train: error: learning_rate must be a finite number > 0; got -1.0"
