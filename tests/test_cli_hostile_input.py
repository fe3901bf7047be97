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
