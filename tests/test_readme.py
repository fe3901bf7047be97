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


def test_tuning_example_runs(tmp_path, monkeypatch, shared_data):
    """The MNIST tuning example, with a budget of 3 one-epoch trials in-process."""
    mnist = shared_data("mnist.npz")
    cache = tmp_path / "cache"          # load_mnist() finds it there: no download
    cache.mkdir()
    (cache / "mnist.npz").symlink_to(mnist)
    monkeypatch.setenv("FASTNN_DATA", str(cache))
    monkeypatch.chdir(tmp_path)
    tuning = next(b for b in _blocks() if "tune.RandomSearch" in b)
    for old, new in (("n_trials=30", "n_trials=3"),
                     ('"epochs": 5', '"epochs": 1'), ("n_jobs=2", "n_jobs=1")):
        assert old in tuning, old
        tuning = tuning.replace(old, new)
    namespace = {"__name__": "__main__"}
    exec(compile(tuning, "README tune", "exec"), namespace)
    assert len(namespace["result"].trials) == 3
    assert (tmp_path / "tune_mnist.db").exists()


def test_hyperband_example_runs(tmp_path, monkeypatch):
    """The Hyperband example on the embedded digits, in this process."""
    monkeypatch.chdir(tmp_path)
    example = next(b for b in _blocks() if "tune.Hyperband" in b)
    assert "n_jobs=2" in example
    example = example.replace("n_jobs=2", "n_jobs=1")
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        example = "\n".join(line for line in example.splitlines() if "plot_curves" not in line)
    namespace = {"__name__": "__main__"}
    exec(compile(example, "README hyperband", "exec"), namespace)
    result = namespace["result"]
    # Rungs of 27/9/3/1, 12/4/1, 6/2 and 4 trials, each promoted trial continuing.
    assert len(result.trials) == 27 + 12 + 6 + 4
    assert result.total_epochs == (27 + 9 * 2 + 3 * 6 + 18) + (12 * 3 + 4 * 6 + 18) + (6 * 9 + 2 * 18) + 4 * 27
    assert (tmp_path / "hyperband.db").exists()


def test_onnx_example_runs(tmp_path, monkeypatch):
    """The deployment example: export, then ONNX Runtime answers as predict does."""
    pytest.importorskip("onnx", reason="the example exports with the onnx package "
                                       "(pip install 'fastnn[onnx]')")
    pytest.importorskip("onnxruntime", reason="the example runs the file in ONNX Runtime")
    monkeypatch.chdir(tmp_path)
    block = next(b for b in _blocks() if "fn.onnx.export" in b)
    namespace = {}
    exec(compile(block, "README onnx", "exec"), namespace)
    assert (tmp_path / "digits.onnx").exists()
