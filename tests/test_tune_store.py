"""The SQLite trial store: resuming, a search killed with SIGKILL, mismatches."""
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

import fastnn
from fastnn import tune
from tune_helpers import SPACE, bowl, bowl_with_failures, sigkill_when

TESTS = os.path.dirname(os.path.abspath(__file__))
FASTNN_HOME = os.path.dirname(os.path.dirname(os.path.abspath(fastnn.__file__)))

SEARCH_SCRIPT = """
import sys
from fastnn import tune
from tune_helpers import SPACE, logged_slow_objective
search = tune.RandomSearch(SPACE, logged_slow_objective, n_trials=int(sys.argv[3]), seed=3,
                           storage=sys.argv[1], n_jobs=int(sys.argv[2]))
if __name__ == "__main__":
    search.run()
"""


def stored(path):
    """{trial id: (params json, metrics json)} read with plain sqlite3, as any client would."""
    db = sqlite3.connect(path)
    try:
        return {row[0]: row[1:] for row in db.execute("SELECT id, params, metrics FROM trials")}
    except sqlite3.OperationalError:  # the search has created the file, not yet its tables
        return {}
    finally:
        db.close()


def search_process(tmp_path, n_jobs, n_trials, log):
    script = tmp_path / "search.py"
    script.write_text(SEARCH_SCRIPT)
    # The subprocess imports the very fastnn this test runs (in-tree or installed).
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([FASTNN_HOME, TESTS]), TUNE_CALL_LOG=str(log))
    return subprocess.Popen([sys.executable, str(script), str(tmp_path / "search.db"), str(n_jobs),
                             str(n_trials)], env=env)


def alive(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return "\nState:\tZ" not in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_a_search_killed_with_sigkill_resumes_without_rerunning_or_losing_trials(tmp_path, n_jobs):
    n_trials, log = 12, tmp_path / "calls.log"
    db = tmp_path / "search.db"
    process = search_process(tmp_path, n_jobs, n_trials, log)
    sigkill_when(process, lambda: db.exists() and len(stored(db)) >= 4)
    before = stored(db)
    assert 4 <= len(before) < n_trials, "killed mid-run"

    # Worker processes leave with their coordinator, rather than finishing trials nobody stores.
    pids = {int(line.split()[2]) for line in log.read_text().splitlines()} - {process.pid}
    deadline = time.monotonic() + 5
    while any(alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "worker processes outlived their killed coordinator"
        time.sleep(0.05)

    calls_before = len(log.read_text().splitlines())
    process = search_process(tmp_path, n_jobs, n_trials, log)
    assert process.wait(timeout=120) == 0
    after = stored(db)
    assert len(after) == n_trials
    assert {k: after[k] for k in before} == before  # no finished trial lost or rewritten

    started_again = [line.split()[1] for line in log.read_text().splitlines()[calls_before:]
                     if line.startswith("start")]
    assert len(started_again) == n_trials - len(before)  # nothing that finished ran twice
    finished_before = {repr(json.loads(params)["learning_rate"]) for params, _ in before.values()}
    assert not finished_before & set(started_again)


def test_a_restart_runs_only_the_missing_trials(tmp_path):
    calls = []

    def objective(params):
        calls.append(params)
        return bowl(params)

    path = tmp_path / "s.db"
    first = tune.RandomSearch(SPACE, objective, n_trials=5, seed=1, storage=path).run()
    assert len(calls) == 5
    again = tune.RandomSearch(SPACE, objective, n_trials=5, seed=1, storage=path).run()
    assert len(calls) == 5 and [t.metrics for t in again.trials] == [t.metrics for t in first.trials]
    longer = tune.RandomSearch(SPACE, objective, n_trials=8, seed=1, storage=path).run()
    assert len(calls) == 8 and len(longer.trials) == 8
    # Without a seed, a search adopts the stored one: the same trials, none re-run.
    unseeded = tune.RandomSearch(SPACE, objective, n_trials=8, storage=path).run()
    assert len(calls) == 8 and [t.params for t in unseeded.trials] == [t.params for t in longer.trials]


def test_failed_trials_are_kept_unless_retried(tmp_path):
    path = tmp_path / "s.db"
    first = tune.RandomSearch(SPACE, bowl_with_failures, n_trials=20, seed=1, storage=path).run()
    failed = [t.id for t in first.trials if t.status == "failed"]
    assert failed
    calls = []

    def objective(params):
        calls.append(params)
        return bowl_with_failures(params)

    tune.RandomSearch(SPACE, objective, n_trials=20, seed=1, storage=path).run()
    assert calls == []
    retried = tune.RandomSearch(SPACE, objective, n_trials=20, seed=1, storage=path).run(retry_failed=True)
    assert len(calls) == len(failed)
    assert [t.id for t in retried.trials if t.status == "failed"] == failed


def test_timed_out_trials_are_kept_unless_retried(tmp_path):
    path = tmp_path / "s.db"
    tune.GridSearch({"x": [0, 1, 2]}, lambda p: float(p["x"]), storage=path).run()
    with tune.TrialStore(path) as store:
        store.save(tune.Trial("t1", {"x": 1}, "timeout", seconds=5.0, error="stopped after timeout_per_trial = 5 s"))
    calls = []

    def objective(params):
        calls.append(params["x"])
        return float(params["x"])

    kept = tune.GridSearch({"x": [0, 1, 2]}, objective, storage=path).run()
    assert calls == [] and [t.status for t in kept.trials] == ["ok", "timeout", "ok"]
    assert kept.trials[1].error == "stopped after timeout_per_trial = 5 s"
    retried = tune.GridSearch({"x": [0, 1, 2]}, objective, storage=path).run(retry_failed=True)
    assert calls == [1] and [t.status for t in retried.trials] == ["ok"] * 3


def test_coarse_to_fine_resumes_with_the_same_rounds(tmp_path):
    path = tmp_path / "s.db"

    calls = []

    def counted(params):
        calls.append(params)
        return bowl(params)

    def make(rounds):
        return tune.CoarseToFine(SPACE, counted, n_trials_per_round=6, rounds=rounds, keep=2, seed=4,
                                 storage=path)

    short = make(2)
    short.run()
    del calls[:]
    longer = make(3)
    result = longer.run()
    assert len(calls) == 6 and len(result.trials) == 18
    assert longer.round_spaces[:2] == short.round_spaces


def test_result_load_reads_a_store_without_running(tmp_path):
    path = tmp_path / "s.db"
    result = tune.RandomSearch(SPACE, bowl_with_failures, n_trials=10, seed=2, storage=path).run()
    loaded = tune.Result.load(path)
    assert loaded.space == SPACE and loaded.metric == "dev_error"
    assert sorted((t.id, t.status, str(t.metrics)) for t in loaded.trials) == \
        sorted((t.id, t.status, str(t.metrics)) for t in result.trials)
    assert loaded.best.id == result.best.id
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_store_of_another_search_is_refused(tmp_path):
    path = tmp_path / "s.db"
    tune.RandomSearch(SPACE, bowl, n_trials=3, seed=1, storage=path).run()
    with pytest.raises(ValueError, match=r"holds another search \(seed: stored 1, now 2\)"):
        tune.RandomSearch(SPACE, bowl, n_trials=3, seed=2, storage=path).run()
    other_space = dict(SPACE, hidden=tune.IntUniform(10, 20))
    with pytest.raises(ValueError, match=r"holds another search \(space: stored"):
        tune.RandomSearch(other_space, bowl, n_trials=3, seed=1, storage=path).run()
    with pytest.raises(ValueError, match=r"strategy: stored 'RandomSearch', now 'CoarseToFine'"):
        tune.CoarseToFine(SPACE, bowl, n_trials_per_round=3, rounds=1, seed=1, storage=path).run()


def test_a_file_that_is_not_a_store_is_refused(tmp_path):
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match=r"junk.db is not a fastnn.tune trial store"):
        tune.RandomSearch(SPACE, bowl, n_trials=3, seed=1, storage=junk).run()
    with pytest.raises(FileNotFoundError, match="no trial store"):
        tune.Result.load(tmp_path / "missing.db")
