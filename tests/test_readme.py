"""The README's Python examples run as written (the quickstart in full; the
tuning example with a smaller budget)."""
import pathlib
import re

import pytest

README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def _blocks():
    if not README.exists():
        pytest.skip("README.md is not next to the tests (installed without the source tree)")
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_quickstart_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code = _blocks()[0].replace("verbose=1", "verbose=0")
    namespace = {}
    exec(compile(code, "README quickstart", "exec"), namespace)
    assert namespace["model"].evaluate(*namespace["test"])["accuracy"] > 0.9
    assert (tmp_path / "digits.fnn").exists()


def test_tuning_example_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    tuning = next(b for b in blocks if "tune.RandomSearch" in b)
    tuning = tuning.replace("n_trials=50", "n_trials=3").replace('"epochs": 10', '"epochs": 1')
    tuning = tuning.replace("n_jobs=2", "n_jobs=1")
    import fastnn as fn
    from fastnn.datasets import load_digits
    X, y = load_digits()
    namespace = {"fn": fn, "train": (X[:300], y[:300]), "dev": (X[300:400], y[300:400])}
    exec(compile(tuning, "README tune", "exec"), namespace)
    assert len(namespace["result"].trials) == 3
