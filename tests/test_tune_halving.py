"""Successive halving and Hyperband: rungs, promotions (synchronous and as
ASHA), checkpoints that continue a trial, resuming after SIGKILL, workers, Dask."""
import json
import math
import os
import signal
import sqlite3
import subprocess
import sys

import numpy as np
import pytest

import fastnn as fn
from fastnn import tune
from fastnn.datasets import make_blobs
from fastnn.tune.spaces import sample_params
from fastnn.tune.strategies import trial_rng
from tune_helpers import epoch_builder, sigkill_when

TESTS = os.path.dirname(os.path.abspath(__file__))
FASTNN_HOME = os.path.dirname(os.path.dirname(os.path.abspath(fn.__file__)))

X_SPACE = {"x": tune.Uniform(0, 1)}
X_VALUES = [sample_params(X_SPACE, trial_rng(0, 0, i))["x"] for i in range(9)]

# A hand-made case: dev_error of trial t<i> after 1, 3 and 9 epochs.
TABLE = {1: [0.50, 0.42, 0.90, 0.30, 0.80, 0.35, 0.70, 0.60, 0.38],
         3: [0.9, 0.15, 0.9, 0.25, 0.9, 0.20, 0.9, 0.9, 0.10],
         9: [0.9, 0.12, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.05]}


def table_objective(calls):
    def objective(params, epochs):
        i = X_VALUES.index(params["x"])
        calls.append((f"t{i}", epochs))
        return {"dev_error": TABLE[epochs][i], "epochs": epochs}
    return objective


def rungs_reached(result):
    return {t.id: t.rung for t in result.trials}


# -- the schedule ----------------------------------------------------------------------

def test_synchronous_rungs_and_promotions_match_the_hand_computation(tmp_path):
    calls = []
    search = tune.SuccessiveHalving(X_SPACE, table_objective(calls), n_trials=9, min_epochs=1, max_epochs=9,
                                    eta=3, seed=0, storage=tmp_path / "s.db")
    result = search.run()
    # Rung 0: all 9 at 1 epoch; the best 9 // 3 = 3 (t3 0.30, t5 0.35, t8 0.38) go on to 3 epochs;
    # of those the best 1 (t8 0.10) goes on to 9 epochs.
    assert calls == [(f"t{i}", 1) for i in range(9)] + [("t3", 3), ("t5", 3), ("t8", 3), ("t8", 9)]
    assert rungs_reached(result) == {"t0": 0, "t1": 0, "t2": 0, "t3": 1, "t4": 0, "t5": 1, "t6": 0, "t7": 0,
                                     "t8": 2}
    assert result.best.id == "t8" and result.best.epochs == 9 and result.best.metrics["dev_error"] == 0.05
    # A function objective trains each rung from the start: 9 * 1 + 3 * 3 + 1 * 9 epochs.
    assert result.total_epochs == 27
    assert result.trials[8].rungs[1]["metrics"] == {"dev_error": 0.10}
    with sqlite3.connect(tmp_path / "s.db") as db:
        promotions = db.execute("SELECT id, rung FROM promotions ORDER BY rowid").fetchall()
    assert promotions == [("t3", 0), ("t5", 0), ("t8", 0), ("t8", 1)]
    # Run again: everything is in the store.
    again = tune.SuccessiveHalving(X_SPACE, table_objective(calls), n_trials=9, max_epochs=9, seed=0,
                                   storage=tmp_path / "s.db").run()
    assert len(calls) == 13 and [t.metrics for t in again.trials] == [t.metrics for t in result.trials]


def test_asynchronous_promotions_follow_the_rule_by_hand():
    calls = []
    result = tune.SuccessiveHalving(X_SPACE, table_objective(calls), n_trials=9, max_epochs=9, eta=3, seed=0,
                                    asynchronous=True).run()
    # After each result at a rung, the top c // 3 of its c results so far are promoted:
    # rung 0: c=3 -> t1 (0.42 beats 0.50, 0.90); c=4 -> t3 (0.30); c=6 -> t3, t5; c=9 -> t3, t5, t8.
    # rung 1: c=3 (t1 0.15, t3 0.25, t5 0.20) -> t1; c=4 -> t8 (0.10).
    # A promotion runs before the next new trial.
    assert calls == [("t0", 1), ("t1", 1), ("t2", 1), ("t1", 3), ("t3", 1), ("t3", 3), ("t4", 1), ("t5", 1),
                     ("t5", 3), ("t1", 9), ("t6", 1), ("t7", 1), ("t8", 1), ("t8", 3), ("t8", 9)]
    assert rungs_reached(result) == {"t0": 0, "t1": 2, "t2": 0, "t3": 1, "t4": 0, "t5": 1, "t6": 0, "t7": 0,
                                     "t8": 2}
    assert result.best.id == "t8"
    assert result.total_epochs == 9 * 1 + 4 * 3 + 2 * 9


def test_hyperband_brackets_are_the_papers():
    # Li et al. (2018), Table 1: R = 81, eta = 3; (n_i, r_i) of each rung of each bracket s.
    table = {4: [(81, 1), (27, 3), (9, 9), (3, 27), (1, 81)], 3: [(34, 3), (11, 9), (3, 27), (1, 81)],
             2: [(15, 9), (5, 27), (1, 81)], 1: [(8, 27), (2, 81)], 0: [(5, 81)]}
    brackets = tune.hyperband_brackets(1, 81, 3)
    assert [s for s, _, _ in brackets] == [4, 3, 2, 1, 0]
    for s, n, budgets in brackets:
        assert [(n // 3 ** i, r) for i, r in enumerate(budgets)] == table[s]


def test_hyperband_runs_its_brackets_with_the_rung_sizes():
    calls = []

    def objective(params, epochs):
        calls.append(epochs)
        return {"dev_error": (math.log10(params["lr"]) + 2) ** 2 + 1 / epochs}

    result = tune.Hyperband({"lr": tune.LogUniform(1e-4, 1)}, objective, max_epochs=9, eta=3, seed=0).run()
    # s=2: 9 trials at 1, 3 at 3, 1 at 9; s=1: 5 at 3, 1 at 9; s=0: 3 at 9.
    assert sorted(calls) == sorted([1] * 9 + [3] * 3 + [9] + [3] * 5 + [9] + [9] * 3)
    assert len(result.trials) == 17 and result.total_epochs == sum(calls)
    assert {t.id.split("-")[0] for t in result.trials} == {"b2", "b1", "b0"}
    assert result.best.epochs == 9
    two = tune.Hyperband({"lr": tune.LogUniform(1e-4, 1)}, objective, max_epochs=9, eta=3, seed=0,
                         brackets=2).run()
    assert len(two.trials) == 14
    # Same seed, same trials and decisions.
    assert [(t.id, t.rung, t.metrics) for t in two.trials] == [(t.id, t.rung, t.metrics) for t in result.trials
                                                                if not t.id.startswith("b0-")]


# -- checkpoints -------------------------------------------------------------------------

def blobs():
    X, y = make_blobs(300, centers=3, n_features=5, seed=0)
    X = X.astype(np.float32)
    return (X[:200], y[:200]), (X[200:], y[200:])


def build_sequential(params):
    model = fn.Sequential([fn.Dense(params["hidden"], "relu"), fn.Dropout(0.8), fn.Dense(3, "softmax")],
                          input_dim=5, seed=3)
    return model, {"optimizer": fn.Adam(params["learning_rate"], beta1=params["beta1"]),
                   "batch_size": params["batch_size"], "verbose": 0}


SEQ_SPACE = {"learning_rate": tune.LogUniform(1e-3, 1e-1), "beta1": tune.OneMinusLogUniform(0.8, 0.99),
             "hidden": tune.IntUniform(4, 12), "batch_size": tune.Choice([16, 32])}


def test_a_continued_trial_equals_one_trained_straight_through(tmp_path):
    train, dev = blobs()
    db = tmp_path / "s.db"
    result = tune.SuccessiveHalving(SEQ_SPACE, build_sequential, n_trials=4, min_epochs=2, max_epochs=8, eta=2,
                                    seed=0, storage=db, train=train, dev=dev).run()
    # Rungs at 2, 4, 8 epochs (eta=2 keeps the best half: 4, 2, 1); each trial continues.
    assert sorted(t.rung for t in result.trials) == [0, 0, 1, 2]
    assert result.total_epochs == 4 * 2 + 2 * 2 + 1 * 4
    best = result.best
    assert best.epochs == best.epochs_trained == 8 and len(best.history["loss"]) == 8
    continued = fn.load_model(f"{db}.checkpoints/{best.id}-epoch8.fastnn")
    model, fit_kwargs = build_sequential(best.params)
    history = model.fit(*train, epochs=8, validation_data=dev, **fit_kwargs)
    assert continued.epoch == model.epoch == 8 and continued.step == model.step
    for a, b in zip(continued.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for key, values in best.history.items():
        if key != "time":  # seconds per epoch
            assert values == history.history[key], key
    assert best.metrics["dev_loss"] == model.evaluate(*dev)["loss"]
    # Only each trial's last checkpoint is kept.
    assert sorted(os.listdir(f"{db}.checkpoints")) == sorted(
        f"{t.id}-epoch{t.epochs}.fastnn" for t in result.trials)


def test_checkpoints_of_a_search_without_storage_stay_in_memory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    train, dev = blobs()
    result = tune.SuccessiveHalving(SEQ_SPACE, build_sequential, n_trials=3, max_epochs=3, eta=3, seed=1,
                                    train=train, dev=dev).run()
    assert sorted(t.epochs for t in result.trials) == [1, 1, 3] and result.total_epochs == 5
    assert os.listdir(tmp_path) == []


# -- resuming after SIGKILL --------------------------------------------------------------

SEARCH_SCRIPT = """
import sys
from fastnn import tune
from tune_helpers import epoch_builder
search = tune.SuccessiveHalving({"learning_rate": tune.LogUniform(1e-3, 0.3)}, epoch_builder(), n_trials=9,
                                max_epochs=9, eta=3, seed=0, storage=sys.argv[1], n_jobs=int(sys.argv[2]))
if __name__ == "__main__":
    search.run()
"""


def stored_epochs(db):
    """{learning rate: epochs of its last stored rung}, read with plain sqlite3."""
    try:
        with sqlite3.connect(db) as con:
            rows = con.execute("SELECT params, epochs, status FROM trials").fetchall()
    except sqlite3.OperationalError:  # the search has created the file, not yet its tables
        return {}
    return {repr(json.loads(params)["learning_rate"]): epochs for params, epochs, status in rows if status == "ok"}


def search_process(tmp_path, n_jobs, log):
    script = tmp_path / "search.py"
    script.write_text(SEARCH_SCRIPT)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([FASTNN_HOME, TESTS]), TUNE_EPOCH_LOG=str(log),
               TUNE_EPOCH_PAUSE="0.08")
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "s.db"), str(n_jobs)], env=env)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_search_killed_with_sigkill_resumes_without_training_a_finished_epoch_again(tmp_path, n_jobs):
    db, log = tmp_path / "s.db", tmp_path / "epochs.log"
    process = search_process(tmp_path, n_jobs, log)
    # killed once rung 0 is finished and a rung-1 trial is stored
    sigkill_when(process, lambda: any(epochs == 3 for epochs in stored_epochs(db).values()))
    before = stored_epochs(db)
    assert max(before.values()) < 9, "killed mid-run"
    lines_before = len(log.read_text().splitlines())

    process = search_process(tmp_path, n_jobs, log)
    assert process.wait(timeout=120) == 0
    trained = [line.split() for line in log.read_text().splitlines()]
    for lr, epoch in trained[lines_before:]:
        assert int(epoch) >= before.get(lr, 0), f"trial {lr} trained epoch {epoch} again (stored at {before[lr]})"
    result = tune.Result.load(db)
    assert all(t.rung == {1: 0, 3: 1, 9: 2}[t.epochs] for t in result.trials)
    assert max(t.epochs for t in result.trials) == 9
    # Every stored epoch was trained once; only the epochs of rungs running at the kill, again.
    counts = {}
    for lr, epoch in trained:
        counts[lr, epoch] = counts.get((lr, epoch), 0) + 1
    repeated = {key for key, n in counts.items() if n > 1}
    assert all(int(epoch) >= before.get(lr, 0) for lr, epoch in repeated)
    assert result.total_epochs == sum(t.epochs for t in result.trials)
    if n_jobs == 1:  # synchronous: the same decisions as a search never stopped
        straight = tune.SuccessiveHalving({"learning_rate": tune.LogUniform(1e-3, 0.3)}, epoch_builder(),
                                          n_trials=9, max_epochs=9, eta=3, seed=0).run()
        assert sorted((t.id, t.rung, t.metrics["dev_error"]) for t in result.trials) == [
            (t.id, t.rung, t.metrics["dev_error"]) for t in straight.trials]


# -- in parallel -------------------------------------------------------------------------

def check_asha(result, n_trials, eta, budgets):
    """What asynchronous promotion guarantees whatever the order of results."""
    reached = [sum(1 for t in result.trials if t.rung >= k) for k in range(len(budgets))]
    assert reached[0] == n_trials
    for k in range(1, len(budgets)):
        # At least the synchronous count goes on (the rule promotes the top c // eta as c grows).
        assert n_trials // eta ** k <= reached[k] <= reached[k - 1]
    for t in result.trials:
        assert t.epochs == budgets[t.rung] and t.epochs_trained == t.epochs      # continued, never restarted
        assert [r["epochs"] for r in t.rungs] == budgets[:t.rung + 1]
    assert result.best.epochs == budgets[-1]
    assert result.total_epochs == sum(t.epochs for t in result.trials)


def test_two_worker_processes_promote_asynchronously(tmp_path):
    result = tune.SuccessiveHalving({"learning_rate": tune.LogUniform(1e-3, 0.3)}, epoch_builder(), n_trials=9,
                                    max_epochs=9, eta=3, seed=0, n_jobs=2, storage=tmp_path / "s.db").run()
    check_asha(result, 9, 3, [1, 3, 9])
    again = tune.Result.load(tmp_path / "s.db")
    assert sorted((t.id, t.rung) for t in again.trials) == sorted((t.id, t.rung) for t in result.trials)


def test_hyperband_on_a_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, distributed.Client(cluster) as client:
        hb = tune.Hyperband({"learning_rate": tune.LogUniform(1e-3, 0.3)}, epoch_builder(), max_epochs=9, eta=3,
                            seed=0, storage=tmp_path / "s.db")
        result = hb.run(client=client)
    assert len(result.trials) == 9 + 5 + 3
    bracket = [t for t in result.trials if t.id.startswith("b2-")]
    check_asha(tune.Result(bracket), 9, 3, [1, 3, 9])
    assert all(t.epochs == 9 for t in result.trials if t.id.startswith("b0-"))
    assert os.path.isdir(f"{tmp_path / 's.db'}.checkpoints")


# -- errors --------------------------------------------------------------------------------

def f(params, epochs):
    return {"dev_error": params["x"]}


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(n_trials=9, max_epochs=9, eta=1), ValueError, "SuccessiveHalving: eta must be"),
    (dict(n_trials=9, min_epochs=10, max_epochs=9), ValueError,
     r"SuccessiveHalving: min_epochs \(10\) cannot exceed max_epochs \(9\)"),
    (dict(n_trials=9, max_epochs=10, eta=3), ValueError,
     r"max_epochs \(10\) must be min_epochs \* eta\*\*k, the rungs being at 1, 3, 9, 27 epochs "
     r"\(min_epochs=1, eta=3\); use max_epochs=9 or 27"),
    (dict(n_trials=8, max_epochs=27, eta=3), ValueError,
     r"n_trials \(8\) is too small for 4 rungs with eta=3: .* n_trials must be at least 27"),
    (dict(n_trials=9), TypeError, "max_epochs is required"),
    (dict(n_trials=9, max_epochs=9, asynchronous="yes"), TypeError, "asynchronous must be None"),
])
def test_bad_settings_are_clear_errors(kwargs, error, message):
    with pytest.raises(error, match=message):
        tune.SuccessiveHalving(X_SPACE, f, **kwargs)


def test_hyperband_bad_brackets():
    with pytest.raises(ValueError, match=r"brackets \(4\) cannot exceed log_3\(max_epochs / min_epochs\) \+ 1"):
        tune.Hyperband(X_SPACE, f, max_epochs=9, brackets=4)


def test_a_function_objective_that_ignores_its_budget_fails_its_trials():
    def ignores(params, epochs):
        return {"dev_error": params["x"], "epochs": 5}

    result = tune.SuccessiveHalving(X_SPACE, ignores, n_trials=3, max_epochs=3, seed=0).run()
    assert [t.status for t in result.trials] == ["failed"] * 3
    assert result.trials[0].error == (
        "ValueError: the objective was asked for 1 epochs (objective(params, epochs=1)) but reported epochs = 5: "
        "successive halving compares trials at equal budgets, so the objective must train the epochs it is given")
    assert all(t.rung == 0 for t in result.trials)


def test_a_store_of_another_search_is_refused(tmp_path):
    tune.RandomSearch(X_SPACE, lambda p: {"dev_error": p["x"]}, n_trials=2, seed=0,
                      storage=tmp_path / "s.db").run()
    with pytest.raises(ValueError, match="holds another search"):
        tune.SuccessiveHalving(X_SPACE, f, n_trials=3, max_epochs=3, seed=0, storage=tmp_path / "s.db").run()


def test_plot_curves_shows_pruned_trials(tmp_path):
    pytest.importorskip("matplotlib")
    train, dev = blobs()
    result = tune.SuccessiveHalving(SEQ_SPACE, build_sequential, n_trials=4, min_epochs=1, max_epochs=4, eta=2,
                                    seed=0, train=train, dev=dev).run()
    fig = result.plot_curves(tmp_path / "curves.png")
    assert (tmp_path / "curves.png").stat().st_size > 0
    lines = fig.axes[0].get_lines()
    assert len(lines) >= 4   # one curve per trial, the pruned ones too


# -- the command line ----------------------------------------------------------------------

@pytest.fixture
def blobs_csv(tmp_path):
    X, y = make_blobs(150, centers=3, n_features=4, seed=1)
    path = tmp_path / "blobs.csv"
    np.savetxt(path, np.c_[X, y], delimiter=",", fmt="%.6g")
    return path


@pytest.mark.parametrize("strategy, search, n_trials", [
    ("successive_halving", "n_trials = 4\nmax_epochs = 4\neta = 2", 4),
    ("hyperband", "max_epochs = 4\neta = 2\nbrackets = 2", 4 + 3),
])
def test_cli_tune_with_a_halving_strategy(tmp_path, capsys, blobs_csv, strategy, search, n_trials):
    from cli_helpers import run
    space = tmp_path / "space.toml"
    space.write_text(f'[search]\nstrategy = "{strategy}"\n{search}\n[fixed]\nlayers = [8]\n'
                     '[space]\nlearning_rate = { log_uniform = [1e-3, 1e-1] }\nbatch_size = [16, 32]\n')
    db = tmp_path / "s.db"
    code, out, _ = run(capsys, "tune", space, blobs_csv, "--storage", db, "-o", tmp_path / "t.csv")
    assert code == 0, out
    assert " rung 0 (1 epoch) ok" in out and "rung 2 (4 epochs) ok" in out
    result = tune.Result.load(db)
    assert len(result.trials) == n_trials and result.best.epochs == 4
    assert "epochs = 4" in (tmp_path / "best.toml").read_text()
    code, out, _ = run(capsys, "tune", space, blobs_csv, "--storage", db, "-o", tmp_path / "t.csv")
    assert code == 0 and ") ok: " not in out   # every rung is in the store


@pytest.mark.parametrize("search, fixed, message", [
    ('strategy = "hyperband"', "", "[search] strategy = 'hyperband' needs max_epochs"),
    ('strategy = "random"\neta = 3', "", "[search] eta applies to strategy = 'successive_halving' or "
                                         "'hyperband' only; the strategy is 'random'"),
    ('strategy = "successive_halving"\nmax_epochs = 9\nbrackets = 2', "",
     "[search] brackets applies to strategy = 'hyperband' only"),
    ('strategy = "hyperband"\nmax_epochs = 9', "epochs = 5\n", "epochs cannot be set with strategy = 'hyperband'"),
    ('strategy = "hyperband"\nmax_epochs = 9', "patience = 2\n", "patience (early stopping) cannot be used"),
    ('strategy = "hyperbnd"', "", "hyperband"),
    ('strategy = "hyperband"\nmax_epoch = 9', "", "did you mean 'max_epochs'"),
    ('strategy = "hyperband"\nmax_epochs = 10', "", "max_epochs (10) must be min_epochs * eta**k"),
])
def test_cli_halving_settings_are_checked(tmp_path, capsys, blobs_csv, search, fixed, message):
    from cli_helpers import assert_error
    space = tmp_path / "space.toml"
    space.write_text(f'[search]\n{search}\n[fixed]\n{fixed}layers = [8]\n'
                     '[space]\nlearning_rate = { log_uniform = [1e-3, 1e-1] }\n')
    assert_error(capsys, ["tune", space, blobs_csv, "-o", tmp_path / "t.csv"], message)


# -- an older store ------------------------------------------------------------------------

def test_a_store_written_before_rungs_opens_and_gains_their_columns(tmp_path):
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as con:
        con.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE trials (id TEXT PRIMARY KEY, params TEXT NOT NULL, status TEXT NOT NULL,
                metrics TEXT NOT NULL, epochs INTEGER, seconds REAL, error TEXT, traceback TEXT,
                history TEXT, finished_at REAL);""")
        con.execute("INSERT INTO meta VALUES ('format', ?)", (json.dumps("fastnn.tune trial store 1"),))
    con.close()
    objective = lambda p: {"dev_error": p["x"]}  # noqa: E731
    first = tune.RandomSearch(X_SPACE, objective, n_trials=3, seed=0, storage=db).run()
    loaded = tune.Result.load(db)
    assert [t.metrics for t in loaded.trials] == [t.metrics for t in first.trials]
    assert all(t.rung is None and t.rungs is None for t in loaded.trials)
    assert loaded.total_epochs == 0


def test_importance_compares_trials_at_equal_budgets():
    calls = []
    result = tune.SuccessiveHalving(X_SPACE, table_objective(calls), n_trials=9, max_epochs=9, seed=0).run()
    ranking = result.importance()
    assert [i.param for i in ranking] == ["x"]
    # At 1 epoch all 9 trials (the first rung); at 3 epochs only 3: too few.
    with pytest.raises(ValueError, match="at least 3 ok trials; this result has 1 at 9 epochs"):
        result.importance(epochs=9)


def test_a_failed_rung_is_retried_from_its_checkpoint(tmp_path):
    from tune_helpers import build_epoch_model, load_epoch_model, regression_data
    db = tmp_path / "s.db"
    broken = {"on": True}

    def load(path):
        if broken["on"]:
            raise OSError("the disk is gone, this time")
        return load_epoch_model(path)

    space = {"learning_rate": tune.LogUniform(1e-3, 0.3)}
    builder = tune.Builder(build_epoch_model, regression_data(64, seed=0), regression_data(32, seed=1), load=load)
    first = tune.SuccessiveHalving(space, builder, n_trials=3, max_epochs=3, seed=0, storage=db).run()
    promoted = [t for t in first.trials if t.rung == 1]
    assert [t.status for t in promoted] == ["failed"] and "the disk is gone" in promoted[0].error
    assert first.total_epochs == 3
    broken["on"] = False
    again = tune.SuccessiveHalving(space, builder, n_trials=3, max_epochs=3, seed=0,
                                   storage=db).run(retry_failed=True)
    assert again.counts() == {"ok": 3}
    assert again.total_epochs == 3 + 2       # continued from its checkpoint after 1 epoch
    assert [t.id for t in again.trials if t.rung == 1] == [promoted[0].id]
