"""Results: best trial, ranked table, CSV, importance ranking, plot."""
import csv
import math
import sys

import numpy as np
import pytest

from fastnn import tune
from tune_helpers import SPACE, bowl, bowl_with_failures


@pytest.fixture(scope="module")
def result():
    return tune.RandomSearch(SPACE, bowl_with_failures, n_trials=40, seed=1).run()


def test_table_is_sorted_by_the_dev_metric(result):
    lines = result.table().splitlines()
    header = lines[0].split()
    assert header[:5] == ["rank", "id", "status", "dev_error", "train_error"]
    assert header[5:9] == list(SPACE)
    rows = [line.split() for line in lines[1:]]
    assert len(rows) == 40 and rows[0][1] == result.best.id
    ok = [float(r[3]) for r in rows if r[2] == "ok"]
    assert ok == sorted(ok)
    statuses = [r[2] for r in rows]
    assert statuses == sorted(statuses, key=["ok", "diverged", "failed"].index)
    assert "RuntimeError: out of memory" in lines[-1]
    assert len(result.table(top=5).splitlines()) == 6
    assert "best dev_error=" in repr(result)


def test_csv_export(result, tmp_path):
    path = tmp_path / "trials.csv"
    result.to_csv(path)
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 40
    assert list(rows[0])[:3] == ["rank", "id", "status"] and set(SPACE) <= set(rows[0])
    assert rows[0]["id"] == result.best.id and float(rows[0]["dev_error"]) == result.best.metrics["dev_error"]
    assert float(rows[0]["learning_rate"]) == result.best.params["learning_rate"]  # full precision
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and all(r["error"].startswith("RuntimeError") and r["dev_error"] == "" for r in failed)


def test_importance_ranks_the_hyperparameter_that_matters_first():
    space = dict(SPACE, noise=tune.Uniform(0, 1), act=tune.Choice(["relu", "tanh"]))
    result = tune.RandomSearch(space, bowl, n_trials=60, seed=3).run()
    ranking = result.importance()
    assert [i.param for i in ranking][0] == "learning_rate" and ranking[0].score > 0.8
    scores = {i.param: i.score for i in ranking}
    # A bowl has no trend: a rank correlation alone would miss it; the score does not.
    assert scores["learning_rate"] > 2 * max(scores["noise"], scores["hidden"], scores["act"])
    assert all(0 <= i.score <= 1 for i in ranking)
    assert math.isnan(next(i for i in ranking if i.param == "act").correlation)
    assert -1 <= next(i for i in ranking if i.param == "learning_rate").correlation <= 1


def test_importance_needs_ok_trials():
    result = tune.RandomSearch({"x": tune.Uniform(0, 1)}, lambda p: math.nan, n_trials=3, seed=0).run()
    with pytest.raises(ValueError, match="importance needs at least 3 ok trials; this result has 0"):
        result.importance()


def test_plot_uses_log_axes_for_log_scaled_hyperparameters(result, tmp_path):
    pytest.importorskip("matplotlib")
    fig = result.plot(tmp_path / "search.png")
    assert (tmp_path / "search.png").stat().st_size > 0
    axes = {ax.get_xlabel(): ax for ax in fig.axes if ax.get_visible()}
    assert set(axes) == {"learning_rate", "1 - beta", "hidden", "batch_size"}
    assert axes["learning_rate"].get_xscale() == "log" and axes["1 - beta"].get_xscale() == "log"
    assert axes["hidden"].get_xscale() == "linear"
    assert [t.get_text() for t in axes["batch_size"].get_xticklabels()] == ["64", "128", "256", "512"]
    # 1 - beta is plotted: every point lies in [1e-3, 1e-1].
    x = np.concatenate([c.get_offsets()[:, 0] for c in axes["1 - beta"].collections])
    assert (x >= 1e-3 - 1e-12).all() and (x <= 0.1 + 1e-12).all()


def test_plot_without_matplotlib_is_a_clear_error(result, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"Result.plot needs matplotlib.*pip install 'fastnn\[plot\]'"):
        result.plot()


def test_timed_out_trials_rank_after_diverged_and_before_failed(tmp_path):
    trials = [tune.Trial("t0", {"x": 0.1}, "failed", error="RuntimeError: boom"),
              tune.Trial("t1", {"x": 0.2}, "timeout", seconds=3.0, error="stopped after timeout_per_trial = 3 s"),
              tune.Trial("t2", {"x": 0.3}, "diverged", metrics={"dev_error": math.nan}),
              tune.Trial("t3", {"x": 0.4}, "ok", metrics={"dev_error": 0.5}),
              tune.Trial("t4", {"x": 0.5}, "ok", metrics={"dev_error": 0.2})]
    result = tune.Result(trials, {"x": tune.Uniform(0, 1)})
    assert [t.id for t in result.ranked()] == ["t4", "t3", "t2", "t1", "t0"]
    assert result.counts() == {"failed": 1, "timeout": 1, "diverged": 1, "ok": 2}
    assert result.best.id == "t4"
    assert "stopped after timeout_per_trial = 3 s" in result.table()
    assert [row["status"] for row in result.rows()] == ["ok", "ok", "diverged", "timeout", "failed"]
    with pytest.raises(ValueError, match=r"no trial finished ok \({'timeout': 1}\); first error: stopped after"):
        tune.Result(trials[1:2]).best
    pytest.importorskip("matplotlib")
    title = result.plot()._suptitle.get_text()
    assert title == "dev_error of 2 ok trials (1 diverged, 1 timeout, 1 failed not shown)"


def test_import_fastnn_does_not_import_the_optional_extras():
    import subprocess
    code = ("import sys, fastnn; from fastnn import tune; "
            "print(sorted(m for m in ('dask', 'distributed', 'joblib', 'matplotlib') if m in sys.modules))")
    import os

    import fastnn
    home = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env=dict(os.environ, PYTHONPATH=home), cwd=os.path.dirname(home) or "/")
    assert out.stdout.strip() == "[]"
