"""The fastnn command line, run in-process through ``fastnn.cli.main`` (and once
as ``python -m fastnn`` in a subprocess): every command end to end on small
generated files, and every input error as one line on stderr with exit code 2."""
import csv
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest

import fastnn

from cli_helpers import assert_error, run
from fastnn.datasets import make_blobs
from fastnn.model import load_model



def accuracy(out, name):
    return float(re.search(rf"{name} accuracy: ([\d.]+)%", out).group(1)) / 100


# ---------------------------------------------------------------- data files

@pytest.fixture(scope="module")
def blobs():
    """Three well-separated classes, 4 features: any network learns them in a few epochs."""
    return make_blobs(150, centers=3, n_features=4, seed=1)


@pytest.fixture
def csv_file(tmp_path, blobs):
    X, y = blobs
    path = tmp_path / "blobs.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", header="f0,f1,f2,f3,label", comments="",
               fmt="%.6g")
    return path


@pytest.fixture
def npz_file(tmp_path, blobs):
    """Keras layout: evaluate and predict use the test pair."""
    X, y = blobs
    path = tmp_path / "blobs.npz"
    np.savez(path, x_train=X[:120], y_train=y[:120], x_test=X[120:], y_test=y[120:])
    return path


@pytest.fixture
def model_file(tmp_path, csv_file, capsys):
    path = tmp_path / "model.fnn"
    assert run(capsys, "train", csv_file, "--epochs", 5, "--layers", 8, "--quiet",
               "-o", path)[0] == 0
    return path


# ---------------------------------------------------------------- demo

def test_demo_runs_and_writes_the_plot(tmp_path, capsys, monkeypatch):
    pytest.importorskip("matplotlib", reason="the plot extra (matplotlib) is not installed")
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "demo", "--epochs", 5, "--quiet")
    assert code == 0
    assert accuracy(out, "test") >= 0.90
    assert "diagnosis: " in out
    assert (tmp_path / "fastnn-demo.png").stat().st_size > 1000
    assert f"learning curves written to {tmp_path / 'fastnn-demo.png'}" in out


def test_demo_default_settings_reach_95_percent(tmp_path, capsys):
    start = time.perf_counter()
    code, out, err = run(capsys, "demo", "--plot", tmp_path / "curves.png")
    assert code == 0
    assert time.perf_counter() - start < 30
    assert accuracy(out, "test") >= 0.95
    assert "60/60" in err          # the progress bar ran to the end


def test_demo_without_matplotlib_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)     # import matplotlib fails
    code, out, _ = run(capsys, "demo", "--epochs", 1, "--quiet")
    assert code == 0
    assert "no plot written: matplotlib is not installed" in out
    assert "pip install 'fastnn[plot]'" in out
    assert not (tmp_path / "fastnn-demo.png").exists()


# ---------------------------------------------------------------- round trips

def test_train_evaluate_predict_gradcheck_csv(tmp_path, csv_file, capsys):
    model_path = tmp_path / "m.fnn"
    code, out, _ = run(capsys, "train", csv_file, "--layers", "16,8", "--epochs", 20,
                       "--learning-rate", 0.01, "--normalize", "-o", model_path)
    assert code == 0
    assert "epoch 20:" in out and "diagnosis: " in out
    assert re.search(r"dev: loss [\d.]+, accuracy 100.00%", out), out
    model = load_model(model_path)
    assert [layer.units for layer in model.layers] == [16, 8, 3]
    assert model.normalizer is not None

    code, out, _ = run(capsys, "evaluate", model_path, csv_file)
    assert code == 0 and "(150 examples)" in out and "accuracy 100.00%" in out

    code, out, _ = run(capsys, "predict", model_path, csv_file)
    lines = out.splitlines()
    assert code == 0 and lines[0] == "label" and len(lines) == 151
    labels = np.loadtxt(csv_file, delimiter=",", skiprows=1)[:, -1]
    assert np.array_equal(np.array(lines[1:], dtype=float), labels)

    # features only, probabilities, to a file
    features = tmp_path / "features.csv"
    np.savetxt(features, np.loadtxt(csv_file, delimiter=",", skiprows=1)[:, :-1], delimiter=",")
    out_csv = tmp_path / "proba.csv"
    code, out, _ = run(capsys, "predict", model_path, features, "--proba", "-o", out_csv)
    assert code == 0 and "150 predictions written" in out
    with open(out_csv) as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["p0", "p1", "p2"]
    assert np.allclose(np.array(rows[1:], dtype=float).sum(axis=1), 1, atol=1e-4)

    code, out, _ = run(capsys, "gradcheck", model_path, csv_file, "--rows", 8, "--l2", 0.1)
    assert code == 0, out
    assert "PASSED" in out and "dense_1.W" in out and "difference: " in out


def test_train_evaluate_predict_npz_keras_layout(tmp_path, npz_file, capsys):
    model_path = tmp_path / "m.fnn"
    code, out, _ = run(capsys, "train", npz_file, "--epochs", 5, "--quiet", "-o", model_path)
    assert code == 0 and "120 examples" in out
    code, out, _ = run(capsys, "evaluate", model_path, npz_file)
    assert code == 0 and "(30 examples)" in out            # the test pair
    code, out, _ = run(capsys, "predict", model_path, npz_file)
    assert code == 0 and len(out.splitlines()) == 31


def test_train_regression(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    data = tmp_path / "reg.npz"
    np.savez(data, X=X, y=X @ [1.0, -2.0, 0.5])
    model_path = tmp_path / "r.fnn"
    code, out, _ = run(capsys, "train", data, "--task", "regression", "--epochs", 30,
                       "--learning-rate", 0.01, "--quiet", "-o", model_path)
    assert code == 0 and "accuracy" not in out and "diagnosis" not in out
    code, out, _ = run(capsys, "predict", model_path, data)
    assert code == 0 and out.splitlines()[0] == "prediction"


def test_label_column_by_name_and_index(tmp_path, blobs, capsys):
    X, y = blobs
    path = tmp_path / "first.csv"
    np.savetxt(path, np.c_[y, X], delimiter=",", header="digit,a,b,c,d", comments="")
    for spec in ("digit", "0"):
        code, out, _ = run(capsys, "train", path, "--label-column", spec, "--epochs", 1,
                           "--quiet", "-o", tmp_path / "m.fnn")
        assert code == 0 and "4 features, 3 classes" in out


def test_toml_config_with_flags_overriding(tmp_path, csv_file, capsys):
    config = tmp_path / "train.toml"
    config.write_text('layers = [12, 6]\nepochs = 7\noptimizer = "momentum"\nbeta = 0.8\n'
                      'schedule = "step"\nstep_size = 2\nfactor = 0.5\nlearning_rate = 0.05\n')
    model_path = tmp_path / "m.fnn"
    code, out, _ = run(capsys, "train", csv_file, "--config", config, "--epochs", 3,
                       "--layers", 10, "-o", model_path)
    assert code == 0
    assert "epoch 3:" in out and "epoch 4:" not in out          # the flag won
    assert "learning_rate=0.025" in out                         # step schedule from the file
    model = load_model(model_path)
    assert [layer.units for layer in model.layers] == [10, 3]
    assert type(model.optimizer).__name__ == "Momentum" and model.optimizer.beta == 0.8


def test_early_stopping_and_dropout_batchnorm(tmp_path, csv_file, capsys):
    code, out, _ = run(capsys, "train", csv_file, "--epochs", 200, "--patience", 0,
                       "--batchnorm", "--keep-prob", 0.9, "--learning-rate", 0.05,
                       "-o", tmp_path / "m.fnn")
    assert code == 0
    assert "early stopping at epoch" in out
    kinds = [layer.kind for layer in load_model(tmp_path / "m.fnn").layers]
    assert kinds == ["dense", "batchnorm", "dropout", "dense"]


def test_tune_tiny_space(tmp_path, csv_file, capsys):
    space = tmp_path / "space.toml"
    space.write_text('[search]\nn_trials = 3\n\n[fixed]\nepochs = 3\nlayers = [8]\n\n'
                     '[space]\nlearning_rate = { log_uniform = [1e-3, 1e-1] }\n'
                     'beta1 = { one_minus_log_uniform = [0.8, 0.99] }\nbatch_size = [16, 32]\n')
    trials = tmp_path / "trials.csv"
    code, out, _ = run(capsys, "tune", space, csv_file, "--seed", 1, "-o", trials)
    assert code == 0, out
    assert out.count("] t") == 3                      # one line per trial
    assert "best trial t" in out and "learning_rate = " in out
    with open(trials) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 and rows[0]["rank"] == "1"
    assert {"learning_rate", "beta1", "batch_size", "dev_error", "train_error"} <= set(rows[0])


def test_tune_grid_with_storage_resumes(tmp_path, csv_file, capsys):
    space = tmp_path / "grid.toml"
    space.write_text('[search]\nstrategy = "grid"\n[fixed]\nepochs = 2\nlayers = 4\n'
                     '[space]\nl2 = { log_uniform = [0.001, 0.1], points = 2 }\n'
                     'activation = ["relu", "tanh"]\n')
    args = ["tune", space, csv_file, "--storage", tmp_path / "s.db", "-o", tmp_path / "t.csv"]
    code, out, _ = run(capsys, *args)
    assert code == 0 and out.count("] t") == 4
    code, out, _ = run(capsys, *args)                 # everything is in the store
    assert code == 0 and out.count("] t") == 0 and "4 trials (4 ok)" in out


def test_tune_timeout_per_trial_from_the_file_or_the_flag(tmp_path, csv_file, capsys, monkeypatch):
    from fastnn.tune import strategies
    seen = []
    original = strategies.Search.run

    def run_and_note(self, *args, **kwargs):
        seen.append(self.timeout_per_trial)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(strategies.Search, "run", run_and_note)
    space = tmp_path / "space.toml"
    space.write_text('[search]\nn_trials = 2\ntimeout_per_trial = 60\n[fixed]\nepochs = 2\nlayers = 4\n'
                     '[space]\nlearning_rate = { log_uniform = [1e-3, 1e-1] }\n')
    code, out, _ = run(capsys, "tune", space, csv_file, "-o", tmp_path / "t.csv")
    assert code == 0 and "2 trials (2 ok)" in out and seen == [60.0]
    code, out, _ = run(capsys, "tune", space, csv_file, "-o", tmp_path / "t.csv", "--timeout-per-trial", 30)
    assert code == 0 and seen == [60.0, 30.0]
    assert_error(capsys, ["tune", space, csv_file, "--timeout-per-trial", 0],
                 "timeout_per_trial must be a finite number > 0 (seconds", "got 0.0")
    space.write_text(space.read_text().replace("timeout_per_trial = 60", 'timeout_per_trial = "ten"'))
    assert_error(capsys, ["tune", space, csv_file], "[search] timeout_per_trial must be a number; got 'ten' (text)")


def test_bench_quick(capsys):
    code, out, _ = run(capsys, "bench", "--quick", "--repeat", 1)
    assert code == 0
    rows = [line for line in out.splitlines() if line.endswith("x")]
    kernels = {row.split()[0] for row in rows}
    assert kernels == {"dense_forward", "dense_backward", "softmax_cross_entropy", "adam_step",
                       "batchnorm"}
    assert all(float(row.split()[-1][:-1]) > 0 for row in rows)


@pytest.mark.parametrize("command", ["demo", "train", "evaluate", "predict", "gradcheck",
                                     "tune", "bench"])
def test_help_of_every_command(command, capsys):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: fastnn {command}") and "example" in out


# ---------------------------------------------------------------- errors

def test_gradcheck_failure_exits_1(model_file, csv_file, capsys):
    code, out, _ = run(capsys, "gradcheck", model_file, csv_file, "--threshold", 1e-30,
                       "--max-coordinates", 20)
    assert code == 1 and "FAILED" in out


def test_missing_files(tmp_path, model_file, csv_file, capsys):
    assert_error(capsys, ["train", tmp_path / "nope.csv"], "no such file", "nope.csv")
    assert_error(capsys, ["evaluate", tmp_path / "nope.fnn", csv_file], "no such file")
    assert_error(capsys, ["predict", model_file, tmp_path / "nope.npz"], "no such file")
    assert_error(capsys, ["train", csv_file, "--config", tmp_path / "nope.toml"],
                 "no such file", "nope.toml")


def test_csv_with_a_bad_row(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("x,y,label\n1,2,0\n3,4,1\n\n5,oops,0\n")
    assert_error(capsys, ["train", path], "line 5", "'oops'", "column 2", "not a number")
    path.write_text("1,2,0\n3,4,1\n5,6\n")
    assert_error(capsys, ["train", path], "line 3", "2 values", "have 3")


def test_toml_with_an_unknown_key(tmp_path, csv_file, capsys):
    config = tmp_path / "train.toml"
    config.write_text("epochs = 2\nlearning_rat = 0.1\n")
    line = assert_error(capsys, ["train", csv_file, "--config", config],
                        "unknown key 'learning_rat'", "did you mean 'learning_rate'")
    assert "valid keys: activation, " in line and "weight_decay" in line
    space = tmp_path / "space.toml"
    space.write_text("[space]\nbeta3 = [0.9]\n")
    assert_error(capsys, ["tune", space, csv_file], "[space] unknown key 'beta3'", "beta1")


def test_toml_with_a_wrong_type(tmp_path, csv_file, capsys):
    config = tmp_path / "train.toml"
    config.write_text('epochs = "ten"\n')
    assert_error(capsys, ["train", csv_file, "--config", config],
                 "epochs must be an integer; got 'ten' (text)")
    config.write_text("normalize = 1\n")
    assert_error(capsys, ["train", csv_file, "--config", config], "normalize must be true or false")
    config.write_text("epochs = \n")
    assert_error(capsys, ["train", csv_file, "--config", config], "not valid TOML", "line 1")


def test_data_that_does_not_fit_the_model(tmp_path, model_file, capsys):
    narrow = tmp_path / "narrow.csv"
    np.savetxt(narrow, np.ones((5, 3)), delimiter=",")
    assert_error(capsys, ["evaluate", model_file, narrow], "3 columns", "takes 4 features")
    wide = tmp_path / "wide.npz"
    np.savez(wide, X=np.ones((5, 7)), y=np.zeros(5))
    assert_error(capsys, ["predict", model_file, wide], "7 features", "takes 4")


@pytest.mark.parametrize("flags, fragment", [
    (["--learning-rate", "-1"], "learning_rate must be a finite number > 0"),
    (["--keep-prob", "1.5"], "keep_prob must be a finite number in (0, 1]"),
    (["--batch-size", "0"], "batch_size must be an integer >= 1"),
    (["--optimizer", "sgd", "--beta1", "0.9"], "beta1 is a setting of adam"),
    (["--schedule", "step"], "give exactly one of step_size"),
    (["--epochs", "ten"], "argument --epochs: must be an integer"),
    (["--optimizer", "adamw"], "argument --optimizer"),
    (["--label-column", "nope"], "no column named 'nope'"),
])
def test_nonsense_hyperparameters(csv_file, capsys, flags, fragment):
    assert_error(capsys, ["train", csv_file, "--quiet", *flags], fragment)


def test_error_from_a_subprocess(tmp_path):
    """As a user sees it: exit code 2, one line on stderr, no traceback."""
    # the fastnn under test (in-tree build or installed), run from elsewhere so
    # that a source checkout in the working folder cannot shadow it
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    env = dict(os.environ, PYTHONPATH=home)
    proc = subprocess.run([sys.executable, "-m", "fastnn", "train", str(tmp_path / "x.csv")],
                          capture_output=True, text=True, env=env, timeout=120, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == f"fastnn train: error: no such file: {tmp_path / 'x.csv'}\n"
    assert proc.stdout == ""
