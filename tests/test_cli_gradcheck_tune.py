"""``fastnn gradcheck``'s table (every parameter, each row its own verdict)
and what ``fastnn tune`` leaves behind: the best trial's settings as a
train.toml, the ``fastnn train`` line that reproduces it, --save-best."""
import csv
import re
import shlex
import sys

import numpy as np
import pytest

from fastnn.cli import main
from fastnn.datasets import make_blobs
from fastnn.model import load_model

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def text_csv(tmp_path):
    X, y = make_blobs(120, centers=3, n_features=4, seed=1)
    path = tmp_path / "flowers.csv"
    names = np.array(["setosa", "versicolor", "virginica"])
    np.savetxt(path, np.c_[X.astype(object), names[y]], delimiter=",", fmt="%s",
               header="a,b,c,d,species", comments="")
    return path


def table_rows(out):
    """{parameter: (difference, verdict)} of gradcheck's table."""
    rows = {}
    for line in out.splitlines():
        m = re.match(r"(\S+\.\w+) +[\d,]+/[\d,]+ +(\S+) +(.+)$", line)
        if m:
            rows[m.group(1)] = (float(m.group(2)), m.group(3))
    return rows


def test_gradcheck_rows_for_every_parameter_each_with_its_verdict(tmp_path, capsys, text_csv):
    model = tmp_path / "m.fnn"
    assert run(capsys, "train", text_csv, "--layers", 64, "--epochs", 3, "--quiet",
               "-o", model)[0] == 0
    # 20 coordinates of 515: before, the 64 + 3 biases were mostly not in the table
    code, out, _ = run(capsys, "gradcheck", model, text_csv, "--max-coordinates", 20)
    rows = table_rows(out)
    assert code == 0 and set(rows) == {"dense_1.W", "dense_1.b", "dense_2.W", "dense_2.b"}
    assert all(verdict == "ok" for _, verdict in rows.values()) and "PASSED" in out

    # a threshold above the overall difference but below a row's: that row fails, and the check
    overall = float(re.search(r"^difference: (\S+)", out, re.M).group(1))
    worst = max(rows, key=lambda name: rows[name][0])
    assert rows[worst][0] > 1.5 * overall
    threshold = (overall * rows[worst][0]) ** 0.5
    code, out, _ = run(capsys, "gradcheck", model, text_csv, "--max-coordinates", 20,
                       "--threshold", threshold)
    rows = table_rows(out)
    assert code == 1
    assert rows[worst][1] == f"FAILED (not below {threshold:g})"
    assert "PASSED" not in out
    assert re.search(rf"^FAILED: \d+ parameters? \(.*{re.escape(worst)}.*\) not below the "
                     rf"threshold", out, re.M)
    for name, (difference, verdict) in rows.items():
        assert verdict == ("ok" if difference < threshold else f"FAILED (not below {threshold:g})")


def test_tune_writes_the_best_settings_and_the_command_that_reproduces_them(
        tmp_path, capsys, text_csv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    space = tmp_path / "space.toml"
    # sgd trials draw beta1 too: the train.toml must leave it out for them
    space.write_text('[search]\nn_trials = 4\n[fixed]\nepochs = 4\nlayers = [8]\n'
                     'normalize = true\n[space]\nlearning_rate = { log_uniform = [1e-3, 1e-1] }'
                     '\noptimizer = ["sgd", "adam"]\n'
                     'beta1 = { one_minus_log_uniform = [0.8, 0.99] }\n')
    (tmp_path / "runs").mkdir()
    code, out, err = run(capsys, "tune", space, text_csv.name, "--storage", "runs/s.db",
                         "-o", "runs/trials.csv", "--save-best", "best.fnn", "--quiet")
    assert code == 0, err
    best_toml = tmp_path / "runs" / "best.toml"             # beside --storage
    assert f"best settings written to {best_toml}; train that model again with:" in out
    command = re.search(r"^  (fastnn train .*)$", out, re.M).group(1)
    assert command == ("fastnn train flowers.csv --config runs/best.toml --output best.fnn")

    settings = tomllib.loads(best_toml.read_text())
    with open(tmp_path / "runs" / "trials.csv") as f:
        best = next(csv.DictReader(f))
    assert settings["optimizer"] == best["optimizer"]
    assert settings["learning_rate"] == pytest.approx(float(best["learning_rate"]), rel=1e-3)
    assert ("beta1" in settings) == (best["optimizer"] == "adam")
    assert settings["epochs"] == 4 and settings["layers"] == [8] and settings["normalize"]

    # --save-best trained it again: same train error as the trial
    saved = load_model(tmp_path / "best.fnn")
    assert list(saved.classes_) == ["setosa", "versicolor", "virginica"]
    accuracy = float(re.search(r"train: loss [\d.]+, accuracy ([\d.]+)%", out).group(1))
    assert 1 - accuracy / 100 == pytest.approx(float(best["train_error"]), abs=1e-3)

    # and the printed command does the same
    code, out2, err = run(capsys, *shlex.split(command)[1:], "--quiet")
    assert code == 0, err
    assert re.search(r"train: loss [\d.]+, accuracy ([\d.]+)%", out2).group(1) == f"{accuracy:.2f}"


def test_tune_best_config_flag_and_refusals(tmp_path, capsys, text_csv):
    space = tmp_path / "space.toml"
    space.write_text('[search]\nn_trials = 2\n[fixed]\nepochs = 2\nlayers = [4]\n'
                     '[space]\nlearning_rate = [0.01, 0.1]\n')
    best = tmp_path / "mine.toml"
    code, out, _ = run(capsys, "tune", space, text_csv, "-o", tmp_path / "t.csv",
                       "--best-config", best, "--label-column", "species", "--header")
    assert code == 0 and best.exists()
    assert f"--config {best} --label-column species --header --output best.fnn" in out
    code, _, err = run(capsys, "tune", space, text_csv, "-o", tmp_path / "t.csv",
                       "--best-config", tmp_path / "nowhere" / "b.toml")
    assert code == 2 and "cannot write" in err and "nowhere" in err
